//! `[hep]`: what the guard did, sent to a HEP collector (Homer, `sngrep
//! -L`) so it shows inside the call flows there.
//!
//! Two kinds of record: the SIP packets the engine judged a drop (a
//! banned source's, or the one a ban was made on), as SIP; and the
//! guard's actions (bans, would-bans, pinholes opened and closed) as log
//! records. Both carry the Call-ID of the packet that caused them, so a
//! collector files them with their call.
//!
//! Which packet caused which action: the loop marks the engine's count
//! of pending actions before and after each packet ([`Exporter::before`],
//! [`Exporter::after`]); the actions carried out next are matched to the
//! marks in order. A pinhole's close, which a timer may cause, finds its
//! call through the open that preceded it (a bounded table).
//!
//! Sending never holds the loop up: the socket does not block, a record
//! the socket cannot take is counted and dropped, and records past
//! [`RATE`] a second (after a burst of [`BURST`]) are counted and
//! dropped too, so an attack the guard bans cannot turn into a flood of
//! the collector.

use crate::hep::{Payload, Record};
use lru::LruCache;
use sipwall_engine::remote_text::printable;
use sipwall_engine::{Action, PinholeKey, Timestamp, Transport, Verdict};
use sipwall_policy::GuardMode;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::num::NonZeroUsize;

/// Records a second, sustained.
pub const RATE: u64 = 1000;
/// Records at once above the rate.
pub const BURST: u64 = 2000;
/// Pinholes whose call is remembered for their close.
const PINHOLE_CALLS: usize = 65_536;
/// The longest Call-ID carried (RFC 3261 sets none; real ones are < 100).
const MAX_CALL_ID: usize = 256;
/// The longest evidence text in a log record.
const MAX_TEXT: usize = 512;

/// The call a record belongs to: its Call-ID and the packet's addresses.
#[derive(Debug, Clone)]
struct Tag {
    call_id: Box<[u8]>,
    src: SocketAddr,
    dst: SocketAddr,
    tcp: bool,
}

/// Counts of records, for status and metrics.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct HepCounts {
    /// Records sent.
    pub sent: u64,
    /// Records dropped over the rate.
    pub over_rate: u64,
    /// Records the socket refused (its buffer full, the collector gone).
    pub send_errors: u64,
}

/// Sends HEP records to one collector.
pub struct Exporter {
    socket: UdpSocket,
    agent: u32,
    /// Marks of this pass: (pending actions at the mark, whose they are).
    marks: Vec<(usize, Option<Tag>)>,
    pinholes: LruCache<PinholeKey, Tag>,
    tokens: u64,
    refilled: Timestamp,
    /// What happened to the records.
    pub counts: HepCounts,
}

impl Exporter {
    /// A socket towards the collector of `[hep]`.
    pub fn connect(hep: &sipwall_policy::Hep) -> std::io::Result<Exporter> {
        let any: SocketAddr = match hep.address {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(any)?;
        socket.connect(hep.address)?;
        socket.set_nonblocking(true)?;
        Ok(Exporter {
            socket,
            agent: hep.id,
            marks: Vec::new(),
            pinholes: LruCache::new(NonZeroUsize::new(PINHOLE_CALLS).expect("not zero")),
            tokens: BURST,
            refilled: Timestamp::default(),
            counts: HepCounts::default(),
        })
    }

    /// Before a packet: the actions pending now are not its own.
    pub fn before(&mut self, pending: usize) {
        self.marks.push((pending, None));
    }

    /// After a packet (its IP bytes) the engine judged `verdict`, with
    /// `pending` actions waiting now: those since [`Exporter::before`] are
    /// its own. A dropped SIP packet is sent as it was.
    pub fn after(&mut self, t: Timestamp, ip: &[u8], verdict: Verdict, pending: usize) {
        let caused = self.marks.last().is_none_or(|(n, _)| *n < pending);
        if verdict == Verdict::Accept && !caused {
            return;
        }
        let Ok(p) = sipwall_engine::Packet::parse(ip) else {
            return;
        };
        let (sport, dport, tcp) = match p.transport {
            Transport::Udp { sport, dport } => (sport, dport, false),
            Transport::Tcp { sport, dport, .. } => (sport, dport, true),
            _ => return,
        };
        // A TCP segment that is not a whole message is not sent.
        let Ok(message) = sipwall_sip::Message::parse(p.payload) else {
            return;
        };
        let call_id = message.call_id().unwrap_or_default();
        let tag = Tag {
            call_id: call_id[..call_id.len().min(MAX_CALL_ID)].into(),
            src: SocketAddr::new(p.src, sport),
            dst: SocketAddr::new(p.dst, dport),
            tcp,
        };
        if verdict != Verdict::Accept {
            self.send(
                t,
                &Record {
                    src: tag.src,
                    dst: tag.dst,
                    tcp,
                    micros: t.micros(),
                    kind: Payload::Sip,
                    agent: self.agent,
                    payload: p.payload,
                    correlation: Some(&tag.call_id),
                },
            );
        }
        self.marks.push((pending, Some(tag)));
    }

    /// Sends a log record for each action carried out (the engine's
    /// queue, drained), with the call of the packet that caused it, and
    /// forgets this pass's marks.
    pub fn actions(&mut self, t: Timestamp, actions: &[Action], mode: GuardMode) {
        let marks = std::mem::take(&mut self.marks);
        for (i, action) in actions.iter().enumerate() {
            // The first mark past this action's place says whose it is.
            let tag = marks
                .iter()
                .find(|(n, _)| *n > i)
                .and_then(|(_, t)| t.clone());
            let Some((event, source, tag)) = self.describe(action, tag, mode) else {
                continue;
            };
            let text = event.to_string();
            let (src, dst, tcp) = match &tag {
                Some(tag) => (tag.src, tag.dst, tag.tcp),
                None => (SocketAddr::new(source, 0), unspecified(source), false),
            };
            let dst = if dst.is_ipv4() == src.is_ipv4() {
                dst
            } else {
                unspecified(src.ip())
            };
            self.send(
                t,
                &Record {
                    src,
                    dst,
                    tcp,
                    micros: t.micros(),
                    kind: Payload::Log,
                    agent: self.agent,
                    payload: text.as_bytes(),
                    correlation: tag.as_ref().map(|t| &*t.call_id),
                },
            );
        }
    }

    /// The log line of an action, its source and its call; `None` for
    /// the actions a call flow has no use for.
    fn describe(
        &mut self,
        action: &Action,
        tag: Option<Tag>,
        mode: GuardMode,
    ) -> Option<(serde_json::Value, IpAddr, Option<Tag>)> {
        let secs = |t: &Timestamp| t.micros() / 1_000_000;
        Some(match action {
            Action::Ban {
                addr,
                until,
                reason,
                evidence,
            } => (
                serde_json::json!({
                    "sipwall": if mode == GuardMode::Observe { "would ban" } else { "ban" },
                    "source": addr.to_string(),
                    "detector": reason.kind(),
                    "reason": printable(reason.to_string().as_bytes(), MAX_TEXT),
                    "evidence": printable(evidence.as_bytes(), MAX_TEXT),
                    "until": secs(until),
                }),
                *addr,
                tag,
            ),
            Action::BanSuppressed {
                addr, reason, why, ..
            } => (
                serde_json::json!({
                    "sipwall": "not banned",
                    "source": addr.to_string(),
                    "detector": reason.kind(),
                    "why": why.to_string(),
                }),
                *addr,
                tag,
            ),
            Action::OpenPinhole { key, until } => {
                if let Some(tag) = &tag {
                    self.pinholes.put(*key, tag.clone());
                }
                let source = key.remote.or(tag.as_ref().map(|t| t.src.ip()))?;
                (
                    serde_json::json!({
                        "sipwall": "pinhole open",
                        "pinhole": key.to_string(),
                        "until": secs(until),
                    }),
                    source,
                    tag,
                )
            }
            Action::ClosePinhole { key, reason } => {
                let tag = tag.or_else(|| self.pinholes.pop(key));
                let source = key.remote.or(tag.as_ref().map(|t| t.src.ip()))?;
                (
                    serde_json::json!({
                        "sipwall": "pinhole closed",
                        "pinhole": key.to_string(),
                        "why": format!("{reason:?}"),
                    }),
                    source,
                    tag,
                )
            }
            _ => return None,
        })
    }

    /// Sends one record, within the rate; never blocks.
    fn send(&mut self, t: Timestamp, record: &Record<'_>) {
        let elapsed = t.micros().saturating_sub(self.refilled.micros());
        let refill = elapsed * RATE / 1_000_000;
        if refill > 0 {
            self.tokens = (self.tokens + refill).min(BURST);
            self.refilled = t;
        }
        if self.tokens == 0 {
            self.counts.over_rate += 1;
            return;
        }
        self.tokens -= 1;
        let Ok(bytes) = record.encode() else {
            self.counts.send_errors += 1;
            return;
        };
        match self.socket.send(&bytes) {
            Ok(_) => self.counts.sent += 1,
            Err(_) => self.counts.send_errors += 1,
        }
    }
}

/// The unspecified address of `addr`'s family, port 0: a log record's
/// other end when no packet gave one.
fn unspecified(addr: IpAddr) -> SocketAddr {
    match addr {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}
