//! The ruleset's intermediate representation: chains of rules, each a list
//! of matches that must all hold and one action, plus the named sets and
//! conntrack helper objects they use. It is what the renderers (nft,
//! iptables) print and what [`crate::eval`] evaluates on a packet, so the
//! text the kernel gets and the decisions sipwall reasons about come from
//! one structure.

use ipnet::IpNet;
use sipwall_policy::{DscpClass, PortRange, Protocol, Rate};
use std::time::Duration;

/// The name of sipwall's nftables table (family `inet`).
pub const TABLE: &str = "sipwall";

/// A compiled ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// Where the policy came from (a file name or `<built-in>`).
    pub source: String,
    /// Named sets the daemon fills (bans, pinholes).
    pub sets: Vec<Set>,
    /// Conntrack helper objects.
    pub helpers: Vec<Helper>,
    /// Chains, in the order they are printed.
    pub chains: Vec<Chain>,
}

impl Ruleset {
    /// The chain attached to `hook`, if any.
    pub fn chain(&self, hook: Hook) -> Option<&Chain> {
        self.chains.iter().find(|c| c.hook == hook)
    }

    /// The set called `name`.
    pub fn set(&self, name: &str) -> Option<&Set> {
        self.sets.iter().find(|s| s.name == name)
    }
}

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of a prefix.
    pub fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }
}

/// What a set's elements are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKey {
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A local UDP port.
    Port,
    /// An IPv4 source and a local UDP port.
    Ipv4Port,
    /// An IPv6 source and a local UDP port.
    Ipv6Port,
}

/// A named set with element timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// Its name in the table.
    pub name: String,
    /// Its element type.
    pub key: SetKey,
    /// Who fills it, which decides its flags.
    pub filled_by: FilledBy,
    /// Elements it holds at most: the kernel refuses more (a daemon add
    /// fails; a packet-path add does nothing), so memory is bounded.
    pub size: u32,
    /// Default element timeout.
    pub timeout: Duration,
    /// How often the kernel sweeps expired elements.
    pub gc_interval: Duration,
    /// Why it exists.
    pub comment: String,
}

/// Who adds a set's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilledBy {
    /// The daemon, one key per element (`flags timeout`).
    Daemon,
    /// The daemon, with prefixes as elements (`flags interval, timeout`):
    /// one element bans a whole /64 or /24. The kernel cannot add to such
    /// a set from the packet path. A writer must send what nft sends (seen
    /// with `nft --debug=netlink` here): the prefix's first address, and an
    /// element flagged INTERVAL_END at the first address after it (none
    /// for a prefix at the top of the address space). A start alone would
    /// match every address above it. `sipwall_netfilter::SetWriter::add_prefixes`
    /// does that.
    DaemonPrefixes,
    /// Rules, from the packet path (`flags dynamic, timeout`): the
    /// kernel's own short bans.
    Kernel,
    /// Rules, from the packet path, with a rate limit in each element: the
    /// first line's meters. Their state is the limit, which no listing
    /// shows, so they never survive a table replacement (a meter re-added
    /// without its limit would never be over the rate again).
    Meter,
}

impl Set {
    /// Whether its elements are carried over when the table is replaced.
    pub fn survives_replacement(&self) -> bool {
        self.filled_by != FilledBy::Meter
    }
}

/// A conntrack helper object (`ct helper NAME { type "sip" protocol udp; }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    /// The object's name in the table.
    pub name: String,
    /// The kernel helper's name (`sip`, `RAS`, `Q.931`).
    pub kind: &'static str,
    /// The L4 protocol it handles.
    pub protocol: Protocol,
}

/// Where a chain is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Helper assignment for arriving packets (prerouting, priority filter:
    /// above conntrack's -200, or the assignment silently does nothing).
    HelpersIn,
    /// Helper assignment for locally sent packets (output, priority filter).
    HelpersOut,
    /// Packets for this host (input, priority filter).
    Input,
    /// Packets routed through this host.
    Forward,
    /// Marks on locally sent packets (output, priority mangle).
    Mark,
    /// The first line for packets to this host (input, priority filter - 10):
    /// per-source rate limits that run before any chain, sipwall's or the
    /// daemon's intake, hands a packet to user space. An accept here only
    /// ends this chain; [`Hook::Input`] still judges the packet.
    Flood,
}

/// A base chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Its name in the table.
    pub name: &'static str,
    /// Its hook.
    pub hook: Hook,
    /// Whether packets that match no rule are accepted (else dropped).
    pub policy_accept: bool,
    /// Its rules, in order.
    pub rules: Vec<Rule>,
}

/// A rule: every match must hold, then the action runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The conditions.
    pub matches: Vec<Match>,
    /// What happens.
    pub action: Action,
    /// The policy entry it comes from.
    pub comment: String,
}

/// Connection-tracking states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtState {
    /// Part of a known connection.
    Established,
    /// Expected by a helper, or an ICMP error about a known connection.
    Related,
    /// Not valid for conntrack.
    Invalid,
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Arrived on the loopback interface.
    LoopbackIn,
    /// Arrived on any interface but loopback.
    NotLoopbackIn,
    /// Destination address in one of these prefixes (all of one family).
    Daddr(Vec<IpNet>),
    /// Source address in one of these prefixes (all of one family).
    Saddr(Vec<IpNet>),
    /// Source address (of one family) in a named set.
    SaddrInSet(Family, String),
    /// The conntrack state is one of these.
    Ct(Vec<CtState>),
    /// L4 protocol and destination ports.
    Dport(Protocol, Vec<PortRange>),
    /// L4 protocol and source ports.
    Sport(Protocol, Vec<PortRange>),
    /// Destination UDP port in a named set.
    UdpDportInSet(String),
    /// Source address and destination UDP port, together, in a named set.
    SaddrUdpDportInSet(Family, String),
    /// ICMP (v4) of these types.
    IcmpType(Vec<u8>),
    /// ICMPv6 of these types.
    Icmpv6Type(Vec<u8>),
    /// At most this rate (the match fails above it).
    Limit(Rate),
    /// The packet carries this substring (iptables only: nft has none).
    Contains(String),
    /// The source sends faster than `per_second` packets a second after a
    /// burst of `burst`, metered per source address (of `family`) in the
    /// kernel-filled set `meter`. The meter is state the kernel keeps; see
    /// [`crate::eval::SetLookup::over_rate`] for how the evaluator asks.
    OverRate {
        /// The metering set.
        meter: String,
        /// The family of the source addresses it meters.
        family: Family,
        /// Sustained packets a second.
        per_second: u32,
        /// Packets allowed at once above that.
        burst: u32,
    },
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Let it through.
    Accept,
    /// Drop silently.
    Drop,
    /// Refuse with an ICMP error.
    Reject,
    /// Log it and go on with the next rule.
    Log {
        /// Line prefix.
        prefix: String,
        /// Syslog level name.
        level: String,
    },
    /// Mark the packet's DSCP and go on.
    SetDscp(DscpClass),
    /// Attach a conntrack helper object and go on.
    SetHelper(String),
    /// Count and go on.
    Counter,
    /// Add the source address (of `family`) to the kernel-filled set `set`
    /// for `timeout`, and drop the packet: a ban made at kernel speed.
    BanSource {
        /// The ban set.
        set: String,
        /// The family of the source.
        family: Family,
        /// How long the source stays in it.
        timeout: Duration,
    },
}

impl Action {
    /// Whether the action ends the evaluation of the chain.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Action::Accept | Action::Drop | Action::Reject | Action::BanSource { .. }
        )
    }
}

/// ICMPv6 types a host needs to work at all (RFC 4890, for a host).
pub const ICMPV6_ESSENTIAL: &[u8] = &[1, 2, 3, 4, 130, 131, 133, 134, 135, 136, 143];
/// ICMP echo request.
pub const ICMP_ECHO_REQUEST: u8 = 8;
/// ICMPv6 echo request.
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
