//! What a ruleset lets in, as an admin thinks of it: a port range of a
//! protocol, of an IP family, from a source prefix, for a new connection
//! arriving on any interface but loopback; and what changes between two
//! rulesets (`sipwall apply --diff`).
//!
//! Probes, not text: two tables that say the same thing differently
//! compare equal. The probes are every destination port range either
//! ruleset names on its input chains, from a representative address of
//! every source prefix either names, and from one address outside them
//! all ("anywhere"), per family. Each probe is judged by
//! [`Existing::reach`](super::Existing::reach); an answer that depends on
//! what the reader cannot model stays [`Reach::Maybe`] and is reported as
//! such, never guessed.

use super::existing::{Cond, Existing, HookPoint};
use super::verdict::Reach;
use crate::eval::{Packet, L4};
use crate::ir::{Family, Match};
use ipnet::IpNet;
use sipwall_policy::{PortRange, Protocol};
use std::net::IpAddr;

/// Where a probe comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Some address outside every prefix the rulesets name.
    Anywhere,
    /// Inside this prefix.
    Prefix(IpNet),
}

/// One question: may a new connection to `ports` reach the host?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Probe {
    /// IPv4 or IPv6.
    pub family: Family,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The destination ports (judged by the first; a range that is split
    /// between rules is reported by its first port's fate).
    pub ports: PortRange,
    /// From where.
    pub source: Source,
}

/// A probe whose answer differs between two rulesets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The question.
    pub probe: Probe,
    /// The answer before.
    pub before: Reach,
    /// The answer after.
    pub after: Reach,
}

/// Every probe of `rulesets`, in a stable order.
fn probes(rulesets: &[&Existing]) -> Vec<Probe> {
    let mut ports: Vec<(Protocol, PortRange)> = Vec::new();
    let mut prefixes: Vec<IpNet> = Vec::new();
    for rs in rulesets {
        for chain in &rs.chains {
            if !chain
                .base
                .as_ref()
                .is_some_and(|b| b.hook == HookPoint::Input)
            {
                continue;
            }
            for rule in &chain.rules {
                for c in &rule.conds {
                    match c {
                        Cond::Ir(Match::Dport(proto, ranges)) => {
                            ports.extend(ranges.iter().map(|r| (*proto, *r)));
                        }
                        Cond::Ir(Match::Saddr(nets)) => prefixes.extend(nets.iter().copied()),
                        _ => {}
                    }
                }
            }
        }
    }
    ports.sort_by_key(|(p, r)| (*p == Protocol::Tcp, r.first(), r.last()));
    ports.dedup();
    prefixes.iter_mut().for_each(|n| *n = n.trunc());
    prefixes.sort();
    prefixes.dedup();
    let mut out = Vec::new();
    for family in [Family::V4, Family::V6] {
        let mut sources = vec![Source::Anywhere];
        sources.extend(
            prefixes
                .iter()
                .filter(|n| {
                    matches!(
                        (family, n),
                        (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
                    )
                })
                .map(|n| Source::Prefix(*n)),
        );
        for &(protocol, ports) in &ports {
            for &source in &sources {
                out.push(Probe {
                    family,
                    protocol,
                    ports,
                    source,
                });
            }
        }
    }
    out
}

/// An address for `source`: inside the prefix (its first host), or
/// outside all of `prefixes` for [`Source::Anywhere`].
fn address(family: Family, source: Source, prefixes: &[IpNet]) -> Option<IpAddr> {
    match source {
        Source::Prefix(n) => {
            let first = n.hosts().next().unwrap_or(n.network());
            Some(first)
        }
        Source::Anywhere => {
            let candidates: &[&str] = match family {
                // Far from the ranges admins allowlist; any one outside
                // every named prefix will do.
                Family::V4 => &[
                    "203.0.113.254",
                    "198.51.100.254",
                    "192.0.2.254",
                    "100.127.255.254",
                    "9.9.9.254",
                ],
                Family::V6 => &["2001:db8:ffff:ffff::fe", "3fff:ffff::fe", "2a00:ffff::fe"],
            };
            candidates
                .iter()
                .filter_map(|c| c.parse::<IpAddr>().ok())
                .find(|a| !prefixes.iter().any(|n| n.contains(a)))
        }
    }
}

fn judge(rs: &Existing, probe: &Probe, prefixes: &[IpNet]) -> Reach {
    let Some(saddr) = address(probe.family, probe.source, prefixes) else {
        return Reach::Maybe;
    };
    let daddr: IpAddr = match probe.family {
        Family::V4 => "192.0.2.1".parse().expect("an address"),
        Family::V6 => "2001:db8::1".parse().expect("an address"),
    };
    let port = probe.ports.first();
    let l4 = match probe.protocol {
        Protocol::Udp => L4::Udp {
            sport: 40_000,
            dport: port,
        },
        Protocol::Tcp => L4::Tcp {
            sport: 40_000,
            dport: port,
        },
    };
    let pkt = Packet {
        loopback_in: false,
        saddr,
        daddr,
        l4,
        ct: None,
        payload: &[],
    };
    rs.reach(&HookPoint::Input, &pkt).reach
}

fn named_prefixes(rulesets: &[&Existing]) -> Vec<IpNet> {
    probes(rulesets)
        .into_iter()
        .filter_map(|p| match p.source {
            Source::Prefix(n) => Some(n),
            Source::Anywhere => None,
        })
        .collect()
}

/// Whether `probe` from a prefix only repeats what the same question from
/// anywhere says (`same` compares the two answers).
fn implied<T>(all: &[(Probe, T)], probe: &Probe, same: impl Fn(&T) -> bool) -> bool {
    probe.source != Source::Anywhere
        && all.iter().any(|(p, t)| {
            p.source == Source::Anywhere
                && (p.family, p.protocol, p.ports) == (probe.family, probe.protocol, probe.ports)
                && same(t)
        })
}

/// What `rs` lets in: every probe it accepts (or may accept); a prefix is
/// named only where it gets more than anywhere does.
pub fn exposure(rs: &Existing) -> Vec<(Probe, Reach)> {
    let prefixes = named_prefixes(&[rs]);
    let all: Vec<(Probe, Reach)> = probes(&[rs])
        .into_iter()
        .map(|p| (p, judge(rs, &p, &prefixes)))
        .collect();
    all.iter()
        .filter(|(p, r)| *r != Reach::Denied && !implied(&all, p, |a| a == r))
        .copied()
        .collect()
}

/// The probes whose answer differs between `before` and `after`; a prefix
/// is named only where its change differs from anywhere's.
pub fn diff(before: &Existing, after: &Existing) -> Vec<Change> {
    let both = [before, after];
    let prefixes = named_prefixes(&both);
    let all: Vec<(Probe, (Reach, Reach))> = probes(&both)
        .into_iter()
        .map(|p| {
            (
                p,
                (judge(before, &p, &prefixes), judge(after, &p, &prefixes)),
            )
        })
        .collect();
    all.iter()
        .filter(|(p, (b, a))| b != a && !implied(&all, p, |x| *x == (*b, *a)))
        .map(|(probe, (before, after))| Change {
            probe: *probe,
            before: *before,
            after: *after,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::nft_text;

    fn table(rules: &str) -> Existing {
        let text = format!(
            "table inet sipwall {{\n\tchain input {{\n\t\ttype filter hook input priority filter; policy drop;\n{rules}\t}}\n}}\n"
        );
        nft_text::parse("t", &text).expect("parses")
    }

    #[test]
    fn the_same_rules_written_otherwise_change_nothing() {
        let a = table("\t\tudp dport 5060 accept\n\t\ttcp dport 5060 accept\n");
        let b = table("\t\ttcp dport 5060 accept\n\t\tudp dport { 5060 } accept\n");
        assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
    }

    #[test]
    fn a_port_opened_and_one_narrowed_to_a_zone_are_reported_by_family_and_source() {
        let before = table("\t\tudp dport 5060 accept\n\t\ttcp dport 22 accept\n");
        let after = table(
            "\t\tudp dport 5060 accept\n\t\tudp dport 5080 accept\n\t\tip saddr 198.51.100.0/24 tcp dport 22 accept\n",
        );
        let changes = diff(&before, &after);
        let opened: Vec<_> = changes
            .iter()
            .filter(|c| c.after == Reach::Accepted)
            .map(|c| {
                (
                    c.probe.family,
                    c.probe.protocol,
                    c.probe.ports.first(),
                    c.probe.source,
                )
            })
            .collect();
        assert_eq!(
            opened,
            [
                (Family::V4, Protocol::Udp, 5080, Source::Anywhere),
                (Family::V6, Protocol::Udp, 5080, Source::Anywhere)
            ]
        );
        let closed: Vec<_> = changes
            .iter()
            .filter(|c| c.before == Reach::Accepted)
            .map(|c| {
                (
                    c.probe.family,
                    c.probe.protocol,
                    c.probe.ports.first(),
                    c.probe.source,
                )
            })
            .collect();
        // SSH from anywhere but the zone is closed, for both families;
        // from inside the zone it stays open (no change, not listed).
        assert_eq!(
            closed,
            [
                (Family::V4, Protocol::Tcp, 22, Source::Anywhere),
                (Family::V6, Protocol::Tcp, 22, Source::Anywhere)
            ]
        );
    }
}
