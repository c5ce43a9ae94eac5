//! [`Ruleset`] -> `iptables-restore` / `ip6tables-restore` files, for hosts
//! that still run the legacy tools. Same semantics as the nft target:
//! helpers in `raw` (`CT --helper`), DSCP in `mangle`, the rest in
//! `filter`. What iptables cannot express (nft sets: bans, pinholes) is
//! left out with a comment, or refused when the policy depends on it.
//!
//! The first line ([`Hook::Flood`]) is a user chain jumped to first from
//! `INPUT`, where an accept becomes `RETURN` (go on to `INPUT`'s rules),
//! and the meter is `hashlimit` per source address. hashlimit has no way
//! to ban: a source over the rate loses the packets above it, not all of
//! them for [`crate::compile::FLOOD_BAN`].

use crate::error::CompileError;
use crate::ir::*;
use crate::text::{escape, escape_arg};
use ipnet::IpNet;
use sipwall_policy::{PortRange, Protocol, RateUnit};
use std::fmt::Write;

/// The user chain of the first line.
pub const FLOOD_CHAIN: &str = "sipwall-flood";

/// Renders the restore file for one family. A restore of it replaces the
/// `raw`, `mangle` and `filter` tables of that family, as the classic
/// recipe's `iptables-restore` does.
pub fn render(rs: &Ruleset, family: Family) -> Result<String, CompileError> {
    if rs
        .sets
        .iter()
        .any(|s| matches!(s.key, SetKey::Port | SetKey::Ipv4Port | SetKey::Ipv6Port))
    {
        return Err(CompileError::Unsupported(
            "media = \"pinhole\" needs nftables sets; use --target nft, or media = \"helper\" or \"range\" with iptables".into(),
        ));
    }
    let tool = match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# sipwall ruleset for {tool}-restore, compiled from {}",
        escape(&rs.source, LINE_MAX)
    );
    let _ = writeln!(
        out,
        "# bans and pinholes live in nftables sets: `sipwall run` needs the nft target"
    );
    let tables: [(&str, &[&str], &[Hook]); 3] = [
        (
            "raw",
            &["PREROUTING", "OUTPUT"],
            &[Hook::HelpersIn, Hook::HelpersOut],
        ),
        (
            "mangle",
            &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
            &[Hook::Mark],
        ),
        (
            "filter",
            &["INPUT", "FORWARD", "OUTPUT"],
            &[Hook::Flood, Hook::Input, Hook::Forward],
        ),
    ];
    for (table, builtin_chains, hooks) in tables {
        let _ = writeln!(out, "*{table}");
        for chain in builtin_chains {
            let policy = match (table, *chain) {
                ("filter", "INPUT") => "DROP",
                ("filter", "FORWARD") => {
                    if rs.chain(Hook::Forward).is_some_and(|c| c.policy_accept) {
                        "ACCEPT"
                    } else {
                        "DROP"
                    }
                }
                _ => "ACCEPT",
            };
            let _ = writeln!(out, ":{chain} {policy} [0:0]");
        }
        if table == "filter" && rs.chain(Hook::Flood).is_some() {
            let _ = writeln!(out, ":{FLOOD_CHAIN} - [0:0]");
            let _ = writeln!(
                out,
                "-A INPUT -m comment --comment \"first line: per-source rate limits\" -j {FLOOD_CHAIN}"
            );
        }
        for hook in hooks {
            let Some(chain) = rs.chain(*hook) else {
                continue;
            };
            let name = match hook {
                Hook::HelpersIn => "PREROUTING",
                Hook::HelpersOut | Hook::Mark => "OUTPUT",
                Hook::Input => "INPUT",
                Hook::Forward => "FORWARD",
                Hook::Flood => FLOOD_CHAIN,
            };
            for r in &chain.rules {
                for line in rule_lines(rs, r, family, name) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        let _ = writeln!(out, "COMMIT");
    }
    Ok(out)
}

fn ports(p: Protocol, dir: &str, ranges: &[PortRange]) -> String {
    let text = |r: &PortRange| {
        if r.first() == r.last() {
            r.first().to_string()
        } else {
            format!("{}:{}", r.first(), r.last())
        }
    };
    match ranges {
        [one] => format!("-p {p} -m {p} --{dir}port {}", text(one)),
        many => format!(
            "-p {p} -m multiport --{dir}ports {}",
            many.iter().map(text).collect::<Vec<_>>().join(",")
        ),
    }
}

fn nets(nets: &[IpNet]) -> String {
    nets.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The longest text after a `#`.
const LINE_MAX: usize = 512;

/// The comment match keeps at most 256 bytes, its final NUL included.
pub const COMMENT_MAX: usize = 255;

/// The LOG target's prefix limit (29 characters and the NUL).
pub const LOG_PREFIX_MAX: usize = 29;

/// The string match's pattern limit (XT_STRING_MAX_PATTERN_SIZE).
const STRING_MAX: usize = 128;

/// `s` as one quoted argument: nothing in it can end the quotes or the line.
fn quote(s: &str, max: usize) -> String {
    format!("\"{}\"", escape_arg(s, max))
}

/// Where each IR chain goes: table, built-in chain, hooks.
pub(crate) const CHAINS: [(&str, &str, &[Hook]); 5] = [
    ("raw", "PREROUTING", &[Hook::HelpersIn]),
    ("raw", "OUTPUT", &[Hook::HelpersOut]),
    ("mangle", "OUTPUT", &[Hook::Mark]),
    ("filter", "INPUT", &[Hook::Flood, Hook::Input]),
    ("filter", "FORWARD", &[Hook::Forward]),
];

/// How many restore rules (`-A` lines) the IR rule becomes.
pub(crate) fn rule_count(rs: &Ruleset, r: &Rule, family: Family) -> usize {
    rule_lines(rs, r, family, "X")
        .iter()
        .filter(|l| l.starts_with("-A "))
        .count()
}

/// The rule as restore lines (one per alternative, e.g. per ICMP type), or
/// a comment when the rule is of the other family or needs nft sets.
fn rule_lines(rs: &Ruleset, r: &Rule, family: Family, chain: &str) -> Vec<String> {
    let mut alternatives = vec![String::new()];
    let push_all = |alts: &mut Vec<String>, s: &str| {
        alts.iter_mut().for_each(|a| {
            a.push(' ');
            a.push_str(s);
        })
    };
    for m in &r.matches {
        match m {
            Match::LoopbackIn => push_all(&mut alternatives, "-i lo"),
            Match::NotLoopbackIn => push_all(&mut alternatives, "! -i lo"),
            Match::Daddr(n) | Match::Saddr(n) => {
                if n.first().map(Family::of) != Some(family) {
                    return vec![];
                }
                let flag = if matches!(m, Match::Daddr(_)) {
                    "-d"
                } else {
                    "-s"
                };
                push_all(&mut alternatives, &format!("{flag} {}", nets(n)));
            }
            Match::SaddrInSet(..) | Match::UdpDportInSet(_) | Match::SaddrUdpDportInSet(..) => {
                return vec![format!(
                    "# needs nftables sets, left out: {}",
                    escape(&r.comment, LINE_MAX)
                )];
            }
            Match::Ct(states) => {
                let names: Vec<&str> = states
                    .iter()
                    .map(|s| match s {
                        CtState::Established => "ESTABLISHED",
                        CtState::Related => "RELATED",
                        CtState::Invalid => "INVALID",
                    })
                    .collect();
                push_all(
                    &mut alternatives,
                    &format!("-m conntrack --ctstate {}", names.join(",")),
                );
            }
            Match::Dport(p, rg) => push_all(&mut alternatives, &ports(*p, "d", rg)),
            Match::Sport(p, rg) => push_all(&mut alternatives, &ports(*p, "s", rg)),
            Match::IcmpType(types) | Match::Icmpv6Type(types) => {
                let v6 = matches!(m, Match::Icmpv6Type(_));
                if v6 != (family == Family::V6) {
                    return vec![];
                }
                let base = std::mem::take(&mut alternatives);
                for t in types {
                    for a in &base {
                        alternatives.push(if v6 {
                            format!("{a} -p ipv6-icmp -m icmp6 --icmpv6-type {t}")
                        } else {
                            format!("{a} -p icmp -m icmp --icmp-type {t}")
                        });
                    }
                }
            }
            Match::Limit(rate) => {
                let unit = match rate.per {
                    RateUnit::Second => "sec",
                    RateUnit::Minute => "min",
                    RateUnit::Hour => "hour",
                    RateUnit::Day => "day",
                };
                push_all(
                    &mut alternatives,
                    &format!(
                        "-m limit --limit {}/{unit} --limit-burst {}",
                        rate.count,
                        rate.count.max(1)
                    ),
                );
            }
            Match::OverRate {
                meter,
                family: f,
                per_second,
                burst,
            } => {
                if *f != family {
                    return vec![];
                }
                let (size, expire_ms) = rs
                    .set(meter)
                    .map_or((65_536, 60_000), |s| (s.size, s.timeout.as_millis()));
                push_all(
                    &mut alternatives,
                    &format!(
                        "-m hashlimit --hashlimit-above {per_second}/sec --hashlimit-burst {burst} \
                         --hashlimit-mode srcip --hashlimit-name {meter} \
                         --hashlimit-htable-max {size} --hashlimit-htable-expire {expire_ms}"
                    ),
                );
            }
            Match::Contains(s) => push_all(
                &mut alternatives,
                &format!("-m string --string {} --algo bm", quote(s, STRING_MAX)),
            ),
        }
    }
    let target = match &r.action {
        // In the first line's user chain, accept means "not judged here".
        Action::Accept if chain == FLOOD_CHAIN => "-j RETURN".to_owned(),
        Action::Accept => "-j ACCEPT".to_owned(),
        Action::Drop | Action::BanSource { .. } => "-j DROP".to_owned(),
        Action::Reject => "-j REJECT".to_owned(),
        Action::Counter => String::new(),
        Action::Log { prefix, level } => format!(
            "-j LOG --log-prefix {} --log-level {}",
            quote(prefix, LOG_PREFIX_MAX),
            syslog_level(level)
        ),
        Action::SetDscp(c) => format!("-j DSCP --set-dscp-class {}", c.name()),
        Action::SetHelper(object) => {
            let kind = rs
                .helpers
                .iter()
                .find(|h| &h.name == object)
                .map_or("sip", |h| h.kind);
            format!("-j CT --helper {kind}")
        }
    };
    let comment = format!("-m comment --comment {}", quote(&r.comment, COMMENT_MAX));
    alternatives
        .into_iter()
        .map(|m| {
            format!("-A {chain}{m} {comment} {target}")
                .trim_end()
                .to_owned()
        })
        .collect()
}

fn syslog_level(name: &str) -> u8 {
    match name {
        "emerg" => 0,
        "alert" => 1,
        "crit" => 2,
        "err" => 3,
        "warn" => 4,
        "notice" => 5,
        "info" => 6,
        _ => 7,
    }
}
