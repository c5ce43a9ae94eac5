//! Evaluating a chain of the IR on one packet, as the kernel would: the
//! first terminal rule whose matches all hold decides, else the chain's
//! policy. `apply` uses it to refuse a ruleset that would lock the admin
//! out; the engine uses it to explain each verdict.

use crate::ir::*;
use ipnet::IpNet;
use std::net::IpAddr;

/// The transport header, as far as the rules look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// UDP ports.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// TCP ports.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// ICMP type.
    Icmp(u8),
    /// ICMPv6 type.
    Icmpv6(u8),
    /// Another protocol number.
    Other(u8),
}

/// A packet as the input chain sees it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Arrived on the loopback interface.
    pub loopback_in: bool,
    /// Source address.
    pub saddr: IpAddr,
    /// Destination address.
    pub daddr: IpAddr,
    /// Transport header.
    pub l4: L4,
    /// Conntrack state; `None` for a new connection.
    pub ct: Option<CtState>,
    /// The L4 payload (for substring matches).
    pub payload: &'a [u8],
}

/// Membership in the named sets (bans, pinholes) that the daemon fills.
pub trait SetLookup {
    /// Whether `addr` is in the address set `set`.
    fn has_addr(&self, set: &str, addr: IpAddr) -> bool;
    /// Whether `port` is in the port set `set`.
    fn has_port(&self, set: &str, port: u16) -> bool;
    /// Whether (`addr`, `port`) is in the concatenated set `set`.
    fn has_addr_port(&self, set: &str, addr: IpAddr, port: u16) -> bool;
    /// Whether `addr` is over the rate of the kernel meter `meter` (a
    /// [`Match::OverRate`]) with this packet. The token buckets live in the
    /// kernel; a driver that models them (a test, a simulation of a flood)
    /// answers here. The default says no source is over, as right after an
    /// apply, when every meter is empty.
    fn over_rate(&self, meter: &str, addr: IpAddr) -> bool {
        let _ = (meter, addr);
        false
    }
}

/// Sets that are all empty, as right after an apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptySets;

impl SetLookup for EmptySets {
    fn has_addr(&self, _: &str, _: IpAddr) -> bool {
        false
    }
    fn has_port(&self, _: &str, _: u16) -> bool {
        false
    }
    fn has_addr_port(&self, _: &str, _: IpAddr, _: u16) -> bool {
        false
    }
}

/// What a chain decided, and which rule decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'r> {
    /// The verdict: accept, drop or reject.
    pub action: Verdict,
    /// The deciding rule; `None` when the chain's policy decided.
    pub rule: Option<&'r Rule>,
    /// The deciding rule's position in the chain that decided.
    pub index: Option<usize>,
}

/// A final verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let through.
    Accept,
    /// Dropped silently.
    Drop,
    /// Refused with an ICMP error.
    Reject,
}

/// Runs `pkt` through `chain`.
pub fn evaluate<'r>(chain: &'r Chain, pkt: &Packet<'_>, sets: &dyn SetLookup) -> Decision<'r> {
    for (index, rule) in chain.rules.iter().enumerate() {
        if !rule.action.is_terminal() || !rule.matches.iter().all(|m| holds(m, pkt, sets)) {
            continue;
        }
        let action = match rule.action {
            Action::Accept => Verdict::Accept,
            Action::Drop | Action::BanSource { .. } => Verdict::Drop,
            _ => Verdict::Reject,
        };
        return Decision {
            action,
            rule: Some(rule),
            index: Some(index),
        };
    }
    Decision {
        action: if chain.policy_accept {
            Verdict::Accept
        } else {
            Verdict::Drop
        },
        rule: None,
        index: None,
    }
}

/// Runs `pkt`, arriving for this host, through the chains it meets in hook
/// order: the first line ([`Hook::Flood`]), then [`Hook::Input`]. A drop in
/// the first line decides; its accept only hands the packet on, as an
/// accept in one nft base chain does. A [`Action::BanSource`] that decides
/// is reported, not carried out: the caller's [`SetLookup`] is read-only.
pub fn arriving<'r>(rs: &'r Ruleset, pkt: &Packet<'_>, sets: &dyn SetLookup) -> Decision<'r> {
    if let Some(first) = rs.chain(Hook::Flood) {
        let d = evaluate(first, pkt, sets);
        if d.action != Verdict::Accept {
            return d;
        }
    }
    match rs.chain(Hook::Input) {
        Some(input) => evaluate(input, pkt, sets),
        None => Decision {
            action: Verdict::Accept,
            rule: None,
            index: None,
        },
    }
}

fn in_nets(nets: &[IpNet], addr: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(&addr))
}

fn family_is(f: Family, addr: IpAddr) -> bool {
    matches!(
        (f, addr),
        (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
    )
}

fn ports(l4: L4) -> Option<(sipwall_policy::Protocol, u16, u16)> {
    use sipwall_policy::Protocol;
    match l4 {
        L4::Udp { sport, dport } => Some((Protocol::Udp, sport, dport)),
        L4::Tcp { sport, dport } => Some((Protocol::Tcp, sport, dport)),
        _ => None,
    }
}

fn holds(m: &Match, p: &Packet<'_>, sets: &dyn SetLookup) -> bool {
    match m {
        Match::LoopbackIn => p.loopback_in,
        Match::NotLoopbackIn => !p.loopback_in,
        Match::Daddr(n) => in_nets(n, p.daddr),
        Match::Saddr(n) => in_nets(n, p.saddr),
        Match::SaddrInSet(f, s) => family_is(*f, p.saddr) && sets.has_addr(s, p.saddr),
        Match::Ct(states) => p.ct.is_some_and(|c| states.contains(&c)),
        Match::Dport(proto, r) => {
            ports(p.l4).is_some_and(|(pr, _, d)| pr == *proto && r.iter().any(|r| r.contains(d)))
        }
        Match::Sport(proto, r) => {
            ports(p.l4).is_some_and(|(pr, s, _)| pr == *proto && r.iter().any(|r| r.contains(s)))
        }
        Match::UdpDportInSet(s) => matches!(p.l4, L4::Udp { dport, .. } if sets.has_port(s, dport)),
        Match::SaddrUdpDportInSet(f, s) => {
            family_is(*f, p.saddr)
                && matches!(p.l4, L4::Udp { dport, .. } if sets.has_addr_port(s, p.saddr, dport))
        }
        Match::IcmpType(t) => matches!(p.l4, L4::Icmp(ty) if t.contains(&ty)),
        Match::Icmpv6Type(t) => matches!(p.l4, L4::Icmpv6(ty) if t.contains(&ty)),
        // Rate state belongs to whoever drives the evaluation; a limit only
        // guards non-terminal log rules here.
        Match::Limit(_) => true,
        Match::OverRate { meter, family, .. } => {
            family_is(*family, p.saddr) && sets.over_rate(meter, p.saddr)
        }
        Match::Contains(needle) => {
            let n = needle.as_bytes();
            !n.is_empty() && p.payload.windows(n.len()).any(|w| w == n)
        }
    }
}
