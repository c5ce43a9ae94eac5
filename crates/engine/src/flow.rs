//! Conntrack-lite: the connections the engine has accepted, with the
//! kernel's states (new, established, related) and timeouts, and the
//! expectations a SIP helper sets up for media.
//!
//! TCP follows the kernel (`nf_conntrack_proto_tcp.c`, `tcp_loose` on, its
//! default) where it decides whether a connection exists at all: only a
//! SYN, or a bare ACK picked up mid-stream, creates one; any other segment
//! of a connection conntrack does not know (a SYN/ACK, FIN or RST) is
//! `invalid` and creates nothing; a connection whose first answer is a RST
//! is forgotten at once. So a SYN the ruleset dropped or rejected leaves no
//! trace, and the next segment of that 5-tuple is new (or invalid), not
//! established. Sequence and window checks are not modelled.
//!
//! Memory and time are bounded: at most `capacity` flows and expectations.
//! When the table is full, expired entries are swept, at most once a second
//! (a flood of distinct sources must not turn every packet into a walk of
//! the table); while it stays full, a new connection is judged but not
//! tracked (as the kernel does when its table is full and nothing can be
//! dropped early). Expectations are indexed by where the media goes, so a
//! packet's lookup costs the same however many calls are set up.

use crate::keyed::Map;
use crate::packet::{Direction, Packet, Transport};
use crate::time::Timestamp;
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

/// A connection a helper expects (media of a call, an H.245 channel),
/// one-shot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Its IP protocol: 17 (UDP: media) or 6 (TCP: H.245).
    pub proto: u8,
    /// Where the connection goes.
    pub dst: IpAddr,
    /// Its destination port.
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
    flows: Map<FlowKey, Flow>,
    /// Expectations by where they go.
    expectations: Map<ExpKey, Vec<Expectation>>,
    /// Each call's expectations, oldest first.
    by_call: Map<u64, std::collections::VecDeque<ExpKey>>,
    expected_count: usize,
    capacity: usize,
    last_full_sweep: Option<Timestamp>,
    full_sweeps: u64,
}

/// Where an expected connection goes: (IP protocol, destination, port).
type ExpKey = (u8, IpAddr, u16);

/// The expectation key a packet would match, for UDP and TCP.
fn exp_key(p: &Packet<'_>) -> Option<ExpKey> {
    match p.transport {
        Transport::Udp { dport, .. } | Transport::Tcp { dport, .. } => {
            Some((p.proto(), p.dst, dport))
        }
        _ => None,
    }
}

/// How often a full table may be swept.
const FULL_SWEEP_EVERY: Duration = Duration::from_secs(1);

impl Flows {
    /// A table of at most `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        Flows {
            flows: Map::default(),
            expectations: Map::default(),
            by_call: Map::default(),
            expected_count: 0,
            capacity: capacity.max(1),
            last_full_sweep: None,
            full_sweeps: 0,
        }
    }

    /// Number of tracked flows.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.flows.len()
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
            _ if !opens_a_connection(p) => Some(CtState::Invalid),
            _ => self.expected(now, p).then_some(CtState::Related),
        }
    }

    /// Whether the connection `key` is tracked and has not timed out.
    pub fn is_tracked(&self, now: Timestamp, key: &FlowKey) -> bool {
        self.flows.get(key).is_some_and(|f| f.expires > now)
    }

    /// Whether the connection `key` is tracked and has seen both ways
    /// (conntrack's established, closing or not).
    pub fn is_answered(&self, now: Timestamp, key: &FlowKey) -> bool {
        self.flows
            .get(key)
            .is_some_and(|f| f.expires > now && f.replied)
    }

    /// Whether the connection `key` was answered by the host and is not
    /// closing (for TCP: past its handshake, before FIN or RST).
    pub fn is_open(&self, now: Timestamp, key: &FlowKey) -> bool {
        self.flows
            .get(key)
            .is_some_and(|f| f.expires > now && f.replied && !f.closing)
    }

    fn expected(&self, now: Timestamp, p: &Packet<'_>) -> bool {
        let Some(key) = exp_key(p) else {
            return false;
        };
        self.expectations.get(&key).is_some_and(|v| {
            v.iter()
                .any(|e| e.expires > now && e.src.is_none_or(|s| s == p.src))
        })
    }

    /// Records an accepted packet (either direction).
    pub fn accept(&mut self, now: Timestamp, key: FlowKey, p: &Packet<'_>, _dir: Direction) {
        let from = (p.src, source_port(p));
        if let Some(f) = self.flows.get_mut(&key).filter(|f| f.expires > now) {
            if !f.replied && matches!(p.transport, Transport::Tcp { rst: true, .. }) {
                // The kernel kills a connection reset before any answer
                // (a refused SYN): nothing of it is left to be established.
                self.flows.remove(&key);
                return;
            }
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
        if !opens_a_connection(p) {
            return;
        }
        if self.flows.len() >= self.capacity {
            let due = self
                .last_full_sweep
                .is_none_or(|t| now.since(t) >= FULL_SWEEP_EVERY);
            if due {
                self.last_full_sweep = Some(now);
                self.full_sweeps += 1;
                self.sweep(now);
            }
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
        let Some(key) = exp_key(p) else {
            return false;
        };
        let Some(list) = self.expectations.get_mut(&key) else {
            return false;
        };
        let Some(i) = list
            .iter()
            .position(|e| e.expires > now && e.src.is_none_or(|s| s == p.src))
        else {
            return false;
        };
        let e = list.swap_remove(i);
        if list.is_empty() {
            self.expectations.remove(&key);
        }
        self.expected_count -= 1;
        if let Some(q) = self.by_call.get_mut(&e.call) {
            q.retain(|k| *k != key);
        }
        true
    }

    fn remove_expectation(&mut self, call: u64, key: ExpKey) {
        if let Some(list) = self.expectations.get_mut(&key) {
            let before = list.len();
            list.retain(|x| x.call != call);
            self.expected_count -= before - list.len();
            if list.is_empty() {
                self.expectations.remove(&key);
            }
        }
    }

    /// Adds an expectation, keeping at most `per_call` for its call
    /// (oldest first out) and the table bounded (new ones refused when full).
    pub fn expect(&mut self, e: Expectation, per_call: usize) {
        let key = (e.proto, e.dst, e.dport);
        self.remove_expectation(e.call, key);
        let mut q = self.by_call.remove(&e.call).unwrap_or_default();
        q.retain(|k| *k != key);
        while q.len() >= per_call.max(1) {
            if let Some(old) = q.pop_front() {
                self.remove_expectation(e.call, old);
            }
        }
        if self.expected_count < self.capacity {
            q.push_back(key);
            self.expectations.entry(key).or_default().push(e.clone());
            self.expected_count += 1;
        }
        if !q.is_empty() {
            self.by_call.insert(e.call, q);
        }
    }

    /// Forgets the expectations of a call.
    pub fn unexpect(&mut self, call: u64) {
        for key in self.by_call.remove(&call).unwrap_or_default() {
            self.remove_expectation(call, key);
        }
    }

    /// How many times a full table was swept to make room.
    #[cfg(test)]
    pub fn full_sweeps(&self) -> u64 {
        self.full_sweeps
    }

    /// Number of pending expectations.
    #[cfg(test)]
    pub fn expectations(&self) -> usize {
        self.expected_count
    }

    /// Drops expired flows and expectations.
    pub fn sweep(&mut self, now: Timestamp) {
        self.flows.retain(|_, f| f.expires > now);
        let mut dropped = 0;
        self.expectations.retain(|_, list| {
            let before = list.len();
            list.retain(|e| e.expires > now);
            dropped += before - list.len();
            !list.is_empty()
        });
        self.expected_count -= dropped;
        let expectations = &self.expectations;
        self.by_call.retain(|call, q| {
            q.retain(|k| {
                expectations
                    .get(k)
                    .is_some_and(|l| l.iter().any(|e| e.call == *call))
            });
            !q.is_empty()
        });
    }
}

/// Whether conntrack creates a connection for `p` when it has none: for
/// TCP a SYN (without ACK or FIN) or a bare ACK (mid-stream pickup);
/// anything else is invalid. Every other protocol opens one.
fn opens_a_connection(p: &Packet<'_>) -> bool {
    match p.transport {
        Transport::Tcp {
            syn,
            ack,
            fin_or_rst,
            ..
        } => !fin_or_rst && (syn != ack),
        _ => true,
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

    /// A TCP segment with these flags (`S`yn, `A`ck, `R`st, `F`in).
    fn tcp<'a>(src: &str, sport: u16, dst: &str, dport: u16, flags: &str) -> Packet<'a> {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport: Transport::Tcp {
                sport,
                dport,
                syn: flags.contains('S'),
                ack: flags.contains('A'),
                rst: flags.contains('R'),
                fin_or_rst: flags.contains('R') || flags.contains('F'),
            },
            payload: &[],
        }
    }

    const PEER: &str = "203.0.113.9";
    const HOST: &str = "192.0.2.1";

    #[test]
    fn a_tcp_connection_whose_syn_was_rejected_is_not_established_later() {
        // Regression: the host's answer to a SYN the ruleset refused (the
        // REJECT's RST, or a SYN/ACK in a capture taken without the
        // ruleset) made a connection, and the peer's next segment was
        // judged established; the kernel has no entry and sees it as new.
        let t0 = Timestamp::from_secs(1);
        for answer in ["R", "RA", "SA"] {
            let mut f = Flows::new(16);
            let syn = tcp(PEER, 40000, HOST, 5070, "S");
            let k = FlowKey::of(&syn);
            assert_eq!(f.state(t0, &k, &syn), None);
            // Refused: not accepted, so not recorded.
            let reply = tcp(HOST, 5070, PEER, 40000, answer);
            f.accept(t0, k, &reply, Direction::Out);
            assert!(!f.is_tracked(t0, &k), "{answer}: the answer made no entry");
            let ack = tcp(PEER, 40000, HOST, 5070, "A");
            assert_eq!(f.state(t0, &k, &ack), None, "{answer}: the next ACK is new");
        }
    }

    #[test]
    fn a_connection_reset_before_any_answer_is_forgotten() {
        let t0 = Timestamp::from_secs(1);
        let mut f = Flows::new(16);
        let syn = tcp(PEER, 40000, HOST, 5060, "S");
        let k = FlowKey::of(&syn);
        f.accept(t0, k, &syn, Direction::In);
        // No listener: the host's stack answers with a RST.
        f.accept(t0, k, &tcp(HOST, 5060, PEER, 40000, "RA"), Direction::Out);
        let ack = tcp(PEER, 40000, HOST, 5060, "A");
        assert_eq!(f.state(t0, &k, &ack), None, "new, not established");
    }

    #[test]
    fn tcp_segments_that_cannot_open_a_connection_are_invalid_without_one() {
        let t0 = Timestamp::from_secs(1);
        let f = Flows::new(16);
        for flags in ["SA", "R", "RA", "F", "FA", "", "SF"] {
            let p = tcp(PEER, 40000, HOST, 5060, flags);
            assert_eq!(
                f.state(t0, &FlowKey::of(&p), &p),
                Some(CtState::Invalid),
                "flags {flags:?}"
            );
        }
        for flags in ["S", "A"] {
            let p = tcp(PEER, 40000, HOST, 5060, flags);
            assert_eq!(f.state(t0, &FlowKey::of(&p), &p), None, "flags {flags:?}");
        }
    }

    #[test]
    fn a_tcp_connection_picked_up_mid_stream_is_new_until_answered() {
        let t0 = Timestamp::from_secs(1);
        let mut f = Flows::new(16);
        let ack = tcp(PEER, 40000, HOST, 5060, "A");
        let k = FlowKey::of(&ack);
        assert_eq!(f.state(t0, &k, &ack), None);
        f.accept(t0, k, &ack, Direction::In);
        assert_eq!(f.state(t0, &k, &ack), None, "unanswered: still new");
        f.accept(t0, k, &tcp(HOST, 5060, PEER, 40000, "A"), Direction::Out);
        assert_eq!(f.state(t0, &k, &ack), Some(CtState::Established));
        // A RST once answered closes, it does not forget.
        f.accept(t0, k, &tcp(HOST, 5060, PEER, 40000, "RA"), Direction::Out);
        assert_eq!(f.state(t0, &k, &ack), Some(CtState::Established));
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
            proto: 17,
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
    fn a_flood_of_distinct_sources_does_not_sweep_a_full_table_per_packet() {
        // Regression: each new connection into a full table swept all of
        // it, so a flood of distinct sources cost O(table) per packet.
        let mut f = Flows::new(1000);
        let t0 = Timestamp::from_secs(1);
        for i in 0..20_000u32 {
            let p = Packet {
                src: IpAddr::from(std::net::Ipv4Addr::from(0x0B00_0000 + i)),
                dst: "192.0.2.1".parse().unwrap(),
                transport: Transport::Udp {
                    sport: 5060,
                    dport: 5060,
                },
                payload: &[],
            };
            // 10k packets per second: two seconds of flood.
            f.accept(
                t0 + Duration::from_micros(u64::from(i) * 100),
                FlowKey::of(&p),
                &p,
                Direction::In,
            );
        }
        assert_eq!(f.len(), 1000);
        assert!(
            f.full_sweeps() <= 2,
            "{} sweeps of a full table",
            f.full_sweeps()
        );
    }

    #[test]
    fn expectations_are_indexed_and_counted_through_their_lifecycle() {
        let mut f = Flows::new(64);
        let e = |call, port, t| Expectation {
            proto: 17,
            dst: "192.0.2.1".parse().unwrap(),
            dport: port,
            src: None,
            call,
            expires: Timestamp::from_secs(t),
        };
        f.expect(e(1, 20000, 100), 4);
        f.expect(e(1, 20000, 100), 4);
        f.expect(e(2, 20000, 100), 4);
        f.expect(e(2, 20002, 10), 4);
        assert_eq!(f.expectations(), 3, "a re-expectation replaces its twin");
        f.sweep(Timestamp::from_secs(50));
        assert_eq!(f.expectations(), 2, "the expired one is gone");
        f.unexpect(1);
        assert_eq!(f.expectations(), 1);
        let rtp = udp("203.0.113.9", 4000, "192.0.2.1", 20000);
        assert_eq!(
            f.state(Timestamp::from_secs(60), &FlowKey::of(&rtp), &rtp),
            Some(CtState::Related)
        );
        f.accept(
            Timestamp::from_secs(60),
            FlowKey::of(&rtp),
            &rtp,
            Direction::In,
        );
        assert_eq!(f.expectations(), 0, "taken");
    }

    #[test]
    fn expectations_per_call_are_bounded() {
        let mut f = Flows::new(64);
        for port in 0..10u16 {
            f.expect(
                Expectation {
                    proto: 17,
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
