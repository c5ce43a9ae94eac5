//! The model of an existing ruleset: chains of rules as the kernel runs
//! them, whatever tool wrote them.

use crate::ir::{Action, Family, Match};
use std::fmt;

/// A whole ruleset as read: every chain, and which IP families the input
/// tells us about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Existing {
    /// Every chain; base chains have their jumps inlined (see [`crate::read::link`]).
    pub chains: Vec<ExistingChain>,
    /// The IP families the input describes completely.
    pub covers: Covers,
    /// Where the input came from (file names, `live`).
    pub sources: Vec<String>,
    /// The named sets (nft), as far as their contents matter.
    pub sets: Vec<SetInfo>,
}

/// A named nft set, as far as probing a rule that uses it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfo {
    /// Its table's family.
    pub family: TableFamily,
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// Filled at run time (`flags timeout` / `dynamic`: bans, pinholes).
    pub dynamic: bool,
    /// No element was listed.
    pub empty: bool,
}

impl Existing {
    /// Adds another dump (e.g. the IPv6 half of an iptables pair).
    pub fn merge(&mut self, other: Existing) {
        self.chains.extend(other.chains);
        self.covers.v4 |= other.covers.v4;
        self.covers.v6 |= other.covers.v6;
        self.sources.extend(other.sources);
        self.sets.extend(other.sets);
    }

    /// The set `name` of the table `chain` lives in.
    pub fn set_of(&self, chain: &ExistingChain, name: &str) -> Option<&SetInfo> {
        self.sets
            .iter()
            .find(|s| s.family == chain.family && s.table == chain.table && s.name == name)
    }

    /// The base chains on `hook` that see packets of `family`, in the
    /// order the kernel runs them (priority, then the order read).
    pub fn base_chains(&self, hook: &HookPoint, family: Family) -> Vec<&ExistingChain> {
        let mut out: Vec<&ExistingChain> = self
            .chains
            .iter()
            .filter(|c| c.family.sees(family))
            .filter(|c| c.base.as_ref().is_some_and(|b| &b.hook == hook))
            .collect();
        out.sort_by_key(|c| c.base.as_ref().map_or(0, |b| b.priority));
        out
    }

    /// Every rule of every base chain, with its chain.
    pub fn base_rules(&self) -> impl Iterator<Item = (&ExistingChain, &ExistingRule)> {
        self.chains
            .iter()
            .filter(|c| c.base.is_some())
            .flat_map(|c| c.rules.iter().map(move |r| (c, r)))
    }
}

/// Which IP families a dump describes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Covers {
    /// IPv4 is described (an `iptables-save` dump, or any nft listing).
    pub v4: bool,
    /// IPv6 is described (an `ip6tables-save` dump, or any nft listing).
    pub v6: bool,
}

impl Covers {
    /// Whether `family` is described.
    pub fn has(self, family: Family) -> bool {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
    }
}

/// The family of the table a chain lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableFamily {
    /// IPv4 only (`ip`, or an iptables dump).
    Ip,
    /// IPv6 only (`ip6`, or an ip6tables dump).
    Ip6,
    /// Both (`inet`).
    Inet,
    /// A family that sees no routed IP packets here (`arp`, `bridge`, `netdev`).
    Other(String),
}

impl TableFamily {
    /// Parses nft's family keyword.
    pub fn from_nft(name: &str) -> TableFamily {
        match name {
            "ip" => TableFamily::Ip,
            "ip6" => TableFamily::Ip6,
            "inet" => TableFamily::Inet,
            other => TableFamily::Other(other.to_owned()),
        }
    }

    /// Whether packets of `family` traverse chains of this table family.
    pub fn sees(&self, family: Family) -> bool {
        matches!(
            (self, family),
            (TableFamily::Inet, _) | (TableFamily::Ip, Family::V4) | (TableFamily::Ip6, Family::V6)
        )
    }
}

impl fmt::Display for TableFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableFamily::Ip => f.write_str("ip"),
            TableFamily::Ip6 => f.write_str("ip6"),
            TableFamily::Inet => f.write_str("inet"),
            TableFamily::Other(s) => f.write_str(s),
        }
    }
}

/// A netfilter hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookPoint {
    /// Before routing.
    Prerouting,
    /// For this host.
    Input,
    /// Routed through.
    Forward,
    /// Sent by this host.
    Output,
    /// After routing.
    Postrouting,
    /// Any other (`ingress`, `egress`).
    Other(String),
}

impl HookPoint {
    /// Parses a hook name (nft's lowercase or iptables' uppercase chain name).
    pub fn parse(name: &str) -> HookPoint {
        match name.to_ascii_lowercase().as_str() {
            "prerouting" => HookPoint::Prerouting,
            "input" => HookPoint::Input,
            "forward" => HookPoint::Forward,
            "output" => HookPoint::Output,
            "postrouting" => HookPoint::Postrouting,
            _ => HookPoint::Other(name.to_owned()),
        }
    }
}

/// How a base chain is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The hook.
    pub hook: HookPoint,
    /// The priority (conntrack runs at -200, `filter` is 0).
    pub priority: i32,
    /// The verdict for packets that no rule decides.
    pub policy_accept: bool,
}

/// A chain and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingChain {
    /// Its table's family.
    pub family: TableFamily,
    /// Its table (`filter`, `raw`, `sipwall`, ...).
    pub table: String,
    /// Its name.
    pub name: String,
    /// Set for base chains.
    pub base: Option<Base>,
    /// Its rules, in order.
    pub rules: Vec<ExistingRule>,
}

/// One rule: all conditions hold, then the step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRule {
    /// The conditions.
    pub conds: Vec<Cond>,
    /// What it does.
    pub step: Step,
    /// Where it was read.
    pub at: Location,
    /// Its comment (`-m comment`, nft `comment`, or the `#` line above it in a file).
    pub comment: Option<String>,
}

impl ExistingRule {
    /// The IR matches among its conditions.
    pub fn ir_matches(&self) -> impl Iterator<Item = &Match> {
        self.conds.iter().filter_map(|c| match c {
            Cond::Ir(m) => Some(m),
            _ => None,
        })
    }
}

/// A layer-4 protocol as rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmpv6,
    /// Another protocol number.
    Other(u8),
}

impl L4Proto {
    /// Parses a protocol name or number (`tcp`, `17`, `ipv6-icmp`, ...).
    pub fn parse(name: &str) -> Option<L4Proto> {
        Some(match name.to_ascii_lowercase().as_str() {
            "tcp" | "6" => L4Proto::Tcp,
            "udp" | "17" => L4Proto::Udp,
            "icmp" | "1" => L4Proto::Icmp,
            "icmpv6" | "ipv6-icmp" | "icmp6" | "58" => L4Proto::Icmpv6,
            n => L4Proto::Other(n.parse().ok()?),
        })
    }
}

/// Conntrack states a rule tests, `NEW` and `UNTRACKED` included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtSet {
    /// First packet of a connection.
    pub new: bool,
    /// Part of a known connection.
    pub established: bool,
    /// Expected by a helper, or an ICMP error about a connection.
    pub related: bool,
    /// Not valid for conntrack.
    pub invalid: bool,
    /// Exempted from conntrack.
    pub untracked: bool,
}

impl CtSet {
    /// Parses a list of state names; `None` on an unknown name.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<CtSet> {
        let mut s = CtSet::default();
        for n in names {
            match n.trim().to_ascii_lowercase().as_str() {
                "new" => s.new = true,
                "established" => s.established = true,
                "related" => s.related = true,
                "invalid" => s.invalid = true,
                "untracked" => s.untracked = true,
                // Conntrack-only states of `--ctstate` that a probe never has.
                "snat" | "dnat" => {}
                _ => return None,
            }
        }
        Some(s)
    }

    /// The complement (`! --state X`, `ct state != X`).
    pub fn negated(self) -> CtSet {
        CtSet {
            new: !self.new,
            established: !self.established,
            related: !self.related,
            invalid: !self.invalid,
            untracked: !self.untracked,
        }
    }
}

/// One condition of an existing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// What sipwall's IR can say.
    Ir(Match),
    /// The negation of an IR match (`! -s`, `!= `).
    Not(Match),
    /// The conntrack state is one of these.
    Ct(CtSet),
    /// The layer-4 protocol.
    Proto(L4Proto),
    /// An interface name test; `+` / `*` at the end is a prefix wildcard.
    Iface {
        /// The name.
        name: String,
        /// True for the output interface.
        output: bool,
        /// True for `!` / `!=`.
        negated: bool,
    },
    /// Membership in a named set (`@name`) of the rule's table.
    InSet {
        /// The set's name.
        name: String,
        /// True for `!=`.
        negated: bool,
    },
    /// Only packets of this IP family (`meta nfproto`, implied by `ip` / `ip6`).
    Family(Family),
    /// Something this reader does not model; treated as "maybe".
    Opaque(String),
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An action of sipwall's IR (accept, drop, reject, log, counter).
    Ir(Action),
    /// Assign a conntrack helper; the kernel helper's name when known
    /// (`CT --helper sip`, or an nft `ct helper` object's type).
    AssignHelper(Option<String>),
    /// Jump (or `goto`) to a user chain; only before [`crate::read::link`].
    Jump {
        /// The target chain.
        target: String,
        /// `goto`: do not come back.
        goto: bool,
    },
    /// Leave the chain.
    Return,
    /// Something this reader does not model.
    Opaque {
        /// What it was (`xt target NFQUEUE`, `masquerade`, ...).
        what: String,
        /// Whether it may end the evaluation (then its verdict is unknown).
        terminal: bool,
    },
}

/// Where a rule was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, or `live` for the running kernel.
    pub source: String,
    /// The 1-based line in the file, when read from text.
    pub line: Option<u32>,
    /// `family table chain` of the rule.
    pub chain: String,
    /// The nft rule handle, when listed from the kernel.
    pub handle: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.handle) {
            (Some(line), _) => write!(f, "{}:{line}", self.source),
            (None, Some(h)) => write!(f, "{}: {} handle {h}", self.source, self.chain),
            (None, None) => write!(f, "{}: {}", self.source, self.chain),
        }
    }
}
