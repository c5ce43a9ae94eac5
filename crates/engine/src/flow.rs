//! Conntrack-lite: the connections the engine has accepted, with the
//! kernel's states (new, established, related) and timeouts, and the
//! expectations a SIP helper sets up for media.
//!
//! Memory is bounded: at most `capacity` flows and expectations. When the
//! table is full, expired entries are swept; if it is still full the new
//! connection is judged but not tracked (as the kernel does when its table
//! is full and nothing can be dropped early).

use crate::packet::{Direction, Packet, Transport};
use crate::time::Timestamp;
use rustc_hash::FxHashMap;
use sipwall_ruleset::ir::CtState;
use std::net::IpAddr;
use std::time::Duration;

/// The kernel's default conntrack timeouts (Linux 6.x).
const UDP_UNREPLIED: Duration = Duration::from_secs(30);
const UDP_STREAM: Duration = Duration::from_secs(120);
const TCP_UNREPLIED: Duration = Duration::from_secs(120);
const TCP_ESTABLISHED: Duration = Duration::from_secs(432_000);
const TCP_CLOSING: Duration = Duration::from_secs(10);
const ICMP: Duration = Duration::from_secs(30);
/// nf_conntrack_sip's expectation timeout.
pub const EXPECTATION_TIMEOUT: Duration = Duration::from_secs(180);

/// A connection's identity, the same for both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    proto: u8,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
}

impl FlowKey {
    /// The key of `p`'s connection (endpoints in a fixed order).
    pub fn of(p: &Packet<'_>) -> FlowKey {
        let (sport, dport) = match p.transport {
            Transport::Udp { sport, dport } | Transport::Tcp { sport, dport, .. } => (sport, dport),
            // ICMP echo and the rest: one flow per address pair and type.
            Transport::Icmp { ty } | Transport::Icmpv6 { ty } => (u16::from(ty), 0),
            Transport::Other { .. } => (0, 0),
        };
        let (x, y) = ((p.src, sport), (p.dst, dport));
        let (a, b) = if x <= y { (x, y) } else { (y, x) };
        FlowKey {
            proto: p.proto(),
            a,
            b,
        }
    }
}

#[derive(Debug, Clone)]
struct Flow {
    /// The endpoint that sent the first packet.
    origin: (IpAddr, u16),
    replied: bool,
    expected: bool,
    closing: bool,
    expires: Timestamp,
}

/// A connection a helper expects (media of a call), one-shot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Where the media goes.
    pub dst: IpAddr,
    /// Its UDP port.
    pub dport: u16,
    /// Where it must come from (`None`: anywhere).
    pub src: Option<IpAddr>,
    /// The call it belongs to.
    pub call: u64,
    /// When it lapses.
    pub expires: Timestamp,
}

/// The flow table.
#[derive(Debug)]
pub struct Flows {
    flows: FxHashMap<FlowKey, Flow>,
    expectations: Vec<Expectation>,
    capacity: usize,
}

impl Flows {
    /// A table of at most `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        Flows {
            flows: FxHashMap::default(),
            expectations: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    /// Number of tracked flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The conntrack state of `p` before it is accepted: `None` for a new
    /// connection; expected connections are `Related` on their first packet.
    pub fn state(&self, now: Timestamp, key: &FlowKey, p: &Packet<'_>) -> Option<CtState> {
        match self.flows.get(key) {
            Some(f) if f.expires > now => Some(if f.replied {
                CtState::Established
            } else if f.expected {
                CtState::Related
            } else if (p.src, source_port(p)) == f.origin {
                // A second packet the same way before any answer is still NEW.
                return None;
            } else {
                CtState::Established
            }),
            _ => self.expected(now, p).then_some(CtState::Related),
        }
    }

    fn expected(&self, now: Timestamp, p: &Packet<'_>) -> bool {
        let Transport::Udp { dport, .. } = p.transport else {
            return false;
        };
        self.expectations.iter().any(|e| {
            e.expires > now
                && e.dst == p.dst
                && e.dport == dport
                && e.src.is_none_or(|s| s == p.src)
        })
    }

    /// Records an accepted packet (either direction).
    pub fn accept(&mut self, now: Timestamp, key: FlowKey, p: &Packet<'_>, _dir: Direction) {
        let from = (p.src, source_port(p));
        if let Some(f) = self.flows.get_mut(&key).filter(|f| f.expires > now) {
            if from != f.origin {
                f.replied = true;
            }
            if let Transport::Tcp {
                fin_or_rst: true, ..
            } = p.transport
            {
                f.closing = true;
            }
            f.expires = now + timeout(p, f.replied, f.closing);
            return;
        }
        if self.flows.len() >= self.capacity {
            self.sweep(now);
            if self.flows.len() >= self.capacity {
                return;
            }
        }
        let expected = self.take_expectation(now, p);
        self.flows.insert(
            key,
            Flow {
                origin: from,
                replied: false,
                expected,
                closing: false,
                expires: now + timeout(p, false, false),
            },
        );
    }

    fn take_expectation(&mut self, now: Timestamp, p: &Packet<'_>) -> bool {
        let Transport::Udp { dport, .. } = p.transport else {
            return false;
        };
        let hit = self.expectations.iter().position(|e| {
            e.expires > now
                && e.dst == p.dst
                && e.dport == dport
                && e.src.is_none_or(|s| s == p.src)
        });
        hit.map(|i| self.expectations.swap_remove(i)).is_some()
    }

    /// Adds an expectation, keeping at most `per_call` for its call
    /// (oldest first out) and the table bounded.
    pub fn expect(&mut self, e: Expectation, per_call: usize) {
        self.expectations
            .retain(|x| !(x.call == e.call && x.dst == e.dst && x.dport == e.dport));
        let of_call = self
            .expectations
            .iter()
            .filter(|x| x.call == e.call)
            .count();
        if of_call >= per_call {
            if let Some(i) = self.expectations.iter().position(|x| x.call == e.call) {
                self.expectations.remove(i);
            }
        }
        if self.expectations.len() >= self.capacity {
            self.expectations.remove(0);
        }
        self.expectations.push(e);
    }

    /// Forgets the expectations of a call.
    pub fn unexpect(&mut self, call: u64) {
        self.expectations.retain(|e| e.call != call);
    }

    /// Number of pending expectations.
    pub fn expectations(&self) -> usize {
        self.expectations.len()
    }

    /// Drops expired flows and expectations.
    pub fn sweep(&mut self, now: Timestamp) {
        self.flows.retain(|_, f| f.expires > now);
        self.expectations.retain(|e| e.expires > now);
    }
}

fn source_port(p: &Packet<'_>) -> u16 {
    p.ports().map_or(0, |(s, _)| s)
}

fn timeout(p: &Packet<'_>, replied: bool, closing: bool) -> Duration {
    match p.transport {
        Transport::Udp { .. } if replied => UDP_STREAM,
        Transport::Udp { .. } => UDP_UNREPLIED,
        Transport::Tcp { .. } if closing => TCP_CLOSING,
        Transport::Tcp { .. } if replied => TCP_ESTABLISHED,
        Transport::Tcp { .. } => TCP_UNREPLIED,
        _ => ICMP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp<'a>(src: &str, sport: u16, dst: &str, dport: u16) -> Packet<'a> {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: Transport::Udp { sport, dport },
            payload: &[],
        }
    }

    #[test]
    fn a_reply_makes_a_flow_established_and_it_times_out() {
        let mut f = Flows::new(16);
        let t0 = Timestamp::from_secs(100);
        let q = udp("203.0.113.9", 5060, "192.0.2.1", 5060);
        let k = FlowKey::of(&q);
        assert_eq!(f.state(t0, &k, &q), None);
        f.accept(t0, k, &q, Direction::In);
        assert_eq!(f.state(t0, &k, &q), None, "unreplied: still new");
        let r = udp("192.0.2.1", 5060, "203.0.113.9", 5060);
        assert_eq!(FlowKey::of(&r), k);
        f.accept(t0, k, &r, Direction::Out);
        assert_eq!(f.state(t0, &k, &q), Some(CtState::Established));
        let late = t0 + UDP_STREAM + Duration::from_secs(1);
        assert_eq!(
            f.state(late, &k, &q),
            None,
            "expired after the stream timeout"
        );
    }

    #[test]
    fn an_expectation_makes_the_first_media_packet_related_once() {
        let mut f = Flows::new(16);
        let t0 = Timestamp::from_secs(1);
        let e = Expectation {
            dst: "192.0.2.1".parse().unwrap(),
            dport: 20000,
            src: Some("203.0.113.9".parse().unwrap()),
            call: 7,
            expires: t0 + EXPECTATION_TIMEOUT,
        };
        f.expect(e, 4);
        let rtp = udp("203.0.113.9", 4000, "192.0.2.1", 20000);
        let other = udp("203.0.113.10", 4000, "192.0.2.1", 20000);
        let k = FlowKey::of(&rtp);
        assert_eq!(
            f.state(t0, &FlowKey::of(&other), &other),
            None,
            "wrong source"
        );
        assert_eq!(f.state(t0, &k, &rtp), Some(CtState::Related));
        f.accept(t0, k, &rtp, Direction::In);
        assert_eq!(f.expectations(), 0, "one-shot");
        assert_eq!(
            f.state(t0, &k, &rtp),
            Some(CtState::Related),
            "the flow itself is related"
        );
    }

    #[test]
    fn a_full_table_judges_but_does_not_track() {
        let mut f = Flows::new(2);
        let t0 = Timestamp::from_secs(1);
        for port in 1..=3 {
            let p = udp("203.0.113.9", port, "192.0.2.1", 5060);
            f.accept(t0, FlowKey::of(&p), &p, Direction::In);
        }
        assert_eq!(f.len(), 2);
        let later = t0 + UDP_UNREPLIED + Duration::from_secs(1);
        let p = udp("203.0.113.9", 9, "192.0.2.1", 5060);
        f.accept(later, FlowKey::of(&p), &p, Direction::In);
        assert_eq!(f.len(), 1, "expired flows were swept to make room");
    }

    #[test]
    fn expectations_per_call_are_bounded() {
        let mut f = Flows::new(64);
        for port in 0..10u16 {
            f.expect(
                Expectation {
                    dst: "192.0.2.1".parse().unwrap(),
                    dport: 20000 + port * 2,
                    src: None,
                    call: 1,
                    expires: Timestamp::from_secs(100),
                },
                4,
            );
        }
        assert_eq!(f.expectations(), 4);
        f.unexpect(1);
        assert_eq!(f.expectations(), 0);
    }
}
