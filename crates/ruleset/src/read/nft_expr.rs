//! nft's match expressions (`selector op value`), as both the text and
//! the JSON listings express them: each reader turns its syntax into a
//! [`Selector`] and [`Elem`]s, and this module turns those into [`Cond`]s.

use super::existing::{Cond, CtSet, L4Proto};
use super::literal::{icmp_type, parse_net};
use crate::ir::{Family, Match};
use sipwall_policy::{PortRange, Protocol};

/// What a match looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// `meta KEY` (and the short forms `iif`, `iifname`, `l4proto`, ...).
    Meta(String),
    /// `PROTOCOL FIELD` (`ip saddr`, `udp dport`, `icmp type`).
    Payload(String, String),
    /// `ct KEY`.
    Ct(String),
    /// Anything else (concatenations, `fib`, `socket`, ...), as text.
    Other(String),
}

/// One value on the right of a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Elem {
    /// A number.
    Num(u64),
    /// A word or quoted string (address, name, keyword).
    Word(String),
    /// `a-b`.
    Range(Box<Elem>, Box<Elem>),
    /// A named set (`@name`): its content is not in the rule.
    SetRef(String),
}

/// The conditions for `sel (== | !=) elems`; anything not modelled is opaque.
pub(crate) fn conds(sel: &Selector, negated: bool, elems: &[Elem]) -> Vec<Cond> {
    let opaque = || vec![Cond::Opaque(describe(sel, negated, elems))];
    if let [Elem::SetRef(name)] = elems {
        let mut out = Vec::new();
        if let Selector::Payload(p, _) = sel {
            match p.as_str() {
                "ip" => out.push(Cond::Family(Family::V4)),
                "ip6" => out.push(Cond::Family(Family::V6)),
                _ => {}
            }
        }
        out.push(Cond::InSet {
            name: name.clone(),
            negated,
        });
        return out;
    }
    if elems.is_empty() || elems.iter().any(|e| matches!(e, Elem::SetRef(_))) {
        return opaque();
    }
    let wrap = |m: Match| if negated { Cond::Not(m) } else { Cond::Ir(m) };
    match sel {
        Selector::Meta(key) => match key.as_str() {
            "iif" | "iifname" | "oif" | "oifname" => {
                let [Elem::Word(name)] = elems else {
                    return opaque();
                };
                let output = key.starts_with('o');
                match (name.as_str(), output) {
                    ("lo", false) if negated => vec![Cond::Ir(Match::NotLoopbackIn)],
                    ("lo", false) => vec![Cond::Ir(Match::LoopbackIn)],
                    _ => vec![Cond::Iface {
                        name: name.clone(),
                        output,
                        negated,
                    }],
                }
            }
            "l4proto" | "protocol" if !negated => match elems {
                [e] => proto(e).map_or_else(opaque, |p| vec![Cond::Proto(p)]),
                _ => opaque(),
            },
            "nfproto" if !negated => match elems {
                [Elem::Word(w)] if w == "ipv4" => vec![Cond::Family(Family::V4)],
                [Elem::Word(w)] if w == "ipv6" => vec![Cond::Family(Family::V6)],
                _ => opaque(),
            },
            _ => opaque(),
        },
        Selector::Payload(p, field) => {
            let family = match p.as_str() {
                "ip" => Some(Family::V4),
                "ip6" => Some(Family::V6),
                _ => None,
            };
            match (p.as_str(), field.as_str()) {
                (_, "saddr" | "daddr") if family.is_some() => {
                    let Some(nets) = elems
                        .iter()
                        .map(|e| match e {
                            Elem::Word(w) => parse_net(w),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()
                    else {
                        return opaque();
                    };
                    let m = if field == "saddr" {
                        Match::Saddr(nets)
                    } else {
                        Match::Daddr(nets)
                    };
                    vec![Cond::Family(family.unwrap_or(Family::V4)), wrap(m)]
                }
                ("ip", "protocol") | ("ip6", "nexthdr") if !negated => match elems {
                    [e] => proto(e).map_or_else(opaque, |pr| {
                        vec![Cond::Family(family.unwrap_or(Family::V4)), Cond::Proto(pr)]
                    }),
                    _ => opaque(),
                },
                ("tcp" | "udp", "dport" | "sport") => {
                    let protocol = if p == "tcp" {
                        Protocol::Tcp
                    } else {
                        Protocol::Udp
                    };
                    let l4 = if p == "tcp" {
                        L4Proto::Tcp
                    } else {
                        L4Proto::Udp
                    };
                    let Some(ranges) = elems.iter().map(port_range).collect::<Option<Vec<_>>>()
                    else {
                        return opaque();
                    };
                    let m = if field == "dport" {
                        Match::Dport(protocol, ranges)
                    } else {
                        Match::Sport(protocol, ranges)
                    };
                    vec![Cond::Proto(l4), wrap(m)]
                }
                ("icmp" | "icmpv6", "type") => {
                    let v6 = p == "icmpv6";
                    let Some(types) = elems
                        .iter()
                        .map(|e| match e {
                            Elem::Num(n) => u8::try_from(*n).ok(),
                            Elem::Word(w) => icmp_type(w, v6),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()
                    else {
                        return opaque();
                    };
                    let (pr, m) = if v6 {
                        (L4Proto::Icmpv6, Match::Icmpv6Type(types))
                    } else {
                        (L4Proto::Icmp, Match::IcmpType(types))
                    };
                    vec![Cond::Proto(pr), wrap(m)]
                }
                _ => opaque(),
            }
        }
        Selector::Ct(key) if key == "state" => {
            let names: Vec<&str> = elems
                .iter()
                .filter_map(|e| match e {
                    Elem::Word(w) => Some(w.as_str()),
                    _ => None,
                })
                .collect();
            if names.len() != elems.len() {
                return opaque();
            }
            match CtSet::parse(names) {
                Some(s) => vec![Cond::Ct(if negated { s.negated() } else { s })],
                None => opaque(),
            }
        }
        Selector::Ct(_) | Selector::Other(_) => opaque(),
    }
}

fn proto(e: &Elem) -> Option<L4Proto> {
    match e {
        Elem::Num(n) => u8::try_from(*n)
            .ok()
            .and_then(|n| L4Proto::parse(&n.to_string())),
        Elem::Word(w) => L4Proto::parse(w),
        _ => None,
    }
}

fn port(e: &Elem) -> Option<u16> {
    match e {
        Elem::Num(n) => u16::try_from(*n).ok(),
        Elem::Word(w) => w.parse().ok().or_else(|| service_port(w)),
        _ => None,
    }
}

fn port_range(e: &Elem) -> Option<PortRange> {
    match e {
        Elem::Range(a, z) => PortRange::new(port(a)?.max(1), port(z)?.max(1)),
        e => PortRange::single(port(e)?.max(1)),
    }
}

/// The service names `nft list` may print instead of numbers (`-S`/`-N` off by default).
fn service_port(name: &str) -> Option<u16> {
    Some(match name {
        "ssh" => 22,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        "sip" => 5060,
        "sip-tls" | "sips" => 5061,
        _ => return None,
    })
}

fn describe(sel: &Selector, negated: bool, elems: &[Elem]) -> String {
    let s = match sel {
        Selector::Meta(k) => format!("meta {k}"),
        Selector::Payload(p, f) => format!("{p} {f}"),
        Selector::Ct(k) => format!("ct {k}"),
        Selector::Other(t) => t.clone(),
    };
    let op = if negated { " != " } else { " " };
    let values: Vec<String> = elems.iter().map(elem_text).collect();
    format!("{s}{op}{}", values.join(","))
}

fn elem_text(e: &Elem) -> String {
    match e {
        Elem::Num(n) => n.to_string(),
        Elem::Word(w) => w.clone(),
        Elem::Range(a, z) => format!("{}-{}", elem_text(a), elem_text(z)),
        Elem::SetRef(s) => format!("@{s}"),
    }
}
