//! Judging a packet: conntrack-lite ([`crate::flow`]), the ruleset's input
//! chain over the engine's own sets, then SIP inspection of what it accepts.

use super::{DecidedBy, Decision, Engine};
use crate::bans::Bans;
use crate::flow::FlowKey;
use crate::packet::{Direction, Packet, Transport};
use crate::pinhole::Pinholes;
use crate::time::Timestamp;
use sipwall_policy::PortRange;
use sipwall_ruleset::eval::{self, SetLookup, Verdict, L4};
use sipwall_ruleset::ir::CtState;
use sipwall_ruleset::sets;
use std::net::IpAddr;

/// The engine's view of its sets, for the ruleset's evaluation.
struct SetsAt<'e> {
    now: Timestamp,
    bans: &'e Bans,
    pinholes: &'e Pinholes,
}

impl SetLookup for SetsAt<'_> {
    fn has_addr(&self, set: &str, addr: IpAddr) -> bool {
        (set == sets::BAN_V4 || set == sets::BAN_V6) && self.bans.is_banned(self.now, addr)
    }
    fn has_port(&self, set: &str, port: u16) -> bool {
        set == sets::PINHOLE_PORT && self.pinholes.has_port(port)
    }
    fn has_addr_port(&self, set: &str, addr: IpAddr, port: u16) -> bool {
        (set == sets::PINHOLE_V4 || set == sets::PINHOLE_V6)
            && self.pinholes.has_addr_port(addr, port)
    }
}

/// The packet as the ruleset's evaluator reads it. Two types meet here on
/// purpose: [`Packet`] is what the engine parses off the wire (TCP flags
/// for conntrack-lite and reassembly), `eval::Packet` what a rule looks at
/// (conntrack state, loopback), built also by `apply`'s lock-out check
/// from no packet at all. Only replay pays for the conversion: the
/// daemon's packets are not evaluated ([`Engine::handle_accepted`]).
fn rule_view<'a>(p: &Packet<'a>, ct: Option<CtState>) -> eval::Packet<'a> {
    let l4 = match p.transport {
        Transport::Udp { sport, dport } => L4::Udp { sport, dport },
        Transport::Tcp { sport, dport, .. } => L4::Tcp { sport, dport },
        Transport::Icmp { ty } => L4::Icmp(ty),
        Transport::Icmpv6 { ty } => L4::Icmpv6(ty),
        Transport::Other { proto } => L4::Other(proto),
    };
    eval::Packet {
        loopback_in: p.src.is_loopback(),
        saddr: p.src,
        daddr: p.dst,
        l4,
        ct,
        payload: p.payload,
    }
}

pub(super) fn in_ranges(ranges: &[PortRange], port: u16) -> bool {
    ranges.iter().any(|r| r.contains(port))
}

impl Engine {
    /// Inspects one IP packet the kernel already accepted: the daemon's
    /// tap and inline queue both come after the kernel's rules, so the
    /// ruleset is not evaluated again. Drop only for a source the guard
    /// banned (by this packet, or before the kernel's set caught up) and
    /// for bytes that are not an IP packet the engine can read.
    pub fn handle_accepted(&mut self, now: Timestamp, dir: Direction, ip: &[u8]) -> Verdict {
        let Ok(p) = Packet::parse(ip) else {
            self.stats.dropped += 1;
            return Verdict::Drop;
        };
        self.sweep(now);
        if dir == Direction::In && self.bans.is_banned(now, p.src) {
            self.stats.dropped += 1;
            return Verdict::Drop;
        }
        let key = FlowKey::of(&p);
        // The flow table is kept for TCP only, and not for a verdict: a
        // handshake the host answered is the engine's own evidence that a
        // stream's sender is return-routable (the kernel's conntrack would
        // take a blind spoofer's mid-stream segment as established).
        let stream = matches!(p.transport, Transport::Tcp { .. }) && {
            let stream = dir == Direction::In
                && self.flows.state(now, &key, &p) == Some(CtState::Established)
                && self.flows.is_open(now, &key);
            self.flows.accept(now, key, &p, dir);
            stream
        };
        if self.is_sip(&p, dir) && self.inspect(now, dir, &p, key, stream).is_some() {
            self.stats.dropped += 1;
            return Verdict::Drop;
        }
        self.stats.accepted += 1;
        Verdict::Accept
    }

    /// Judges one packet as the kernel would (conntrack-lite, then the
    /// input chain over the engine's own sets), then inspects what it
    /// accepts: `sipwall replay`, which reports each verdict and its rule.
    pub fn handle_packet(&mut self, now: Timestamp, dir: Direction, p: &Packet<'_>) -> Decision {
        self.sweep(now);
        let key = FlowKey::of(p);
        if dir == Direction::Out {
            // Only H.323 needs an outgoing packet's state: an H.245
            // connection the host opens is related too.
            let ct = (!self.q931.is_empty())
                .then(|| self.flows.state(now, &key, p))
                .flatten();
            self.flows.accept(now, key, p, dir);
            self.h323(now, p, key, ct);
            if self.is_sip(p, dir) {
                self.inspect(now, dir, p, key, false);
            }
            self.stats.accepted += 1;
            return Decision {
                verdict: Verdict::Accept,
                by: DecidedBy::Output,
            };
        }
        let ct = self.flows.state(now, &key, p);
        let pkt = rule_view(p, ct);
        let chain = &self.ruleset.chains[self.input];
        let view = SetsAt {
            now,
            bans: &self.bans,
            pinholes: &self.pinholes,
        };
        let d = eval::evaluate(chain, &pkt, &view);
        let by = d.index.map_or(DecidedBy::ChainPolicy, DecidedBy::Rule);
        let mut decision = Decision {
            verdict: d.action,
            by,
        };
        if decision.verdict == Verdict::Accept {
            // A TCP segment on a connection whose handshake the host
            // answered (and that is not closing) comes from whoever got
            // the SYN-ACK: return-routable. Judged before this packet's
            // own FIN or RST is recorded.
            let stream = matches!(p.transport, Transport::Tcp { .. })
                && ct == Some(CtState::Established)
                && self.flows.is_open(now, &key);
            self.flows.accept(now, key, p, dir);
            self.h323(now, p, key, ct);
            if self.is_sip(p, dir) {
                if let Some(reason) = self.inspect(now, dir, p, key, stream) {
                    decision = Decision {
                        verdict: Verdict::Drop,
                        by: DecidedBy::Guard(reason),
                    };
                }
            }
        }
        match decision.verdict {
            Verdict::Accept => self.stats.accepted += 1,
            Verdict::Drop => self.stats.dropped += 1,
            Verdict::Reject => self.stats.rejected += 1,
        }
        decision
    }
}
