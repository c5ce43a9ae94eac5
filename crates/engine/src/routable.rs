//! Return-routable evidence: which sources proved that they receive what
//! the host sends them, so that a blind spoofer (who forges a source
//! address but never sees the answers) cannot get them banned.
//!
//! A UDP request can carry any source address. Three things cannot be
//! produced without reading what the host sent to that address:
//! - a TCP stream past its handshake (the engine's flow table saw the
//!   host's SYN-ACK answered; see [`crate::flow`]);
//! - an ACK echoing the To tag of a 2xx the host sent to that address;
//! - a request whose Authorization or Proxy-Authorization echoes the nonce
//!   of a challenge (401/407) the host sent to that address;
//! - a response whose top Via branch echoes a request the host sent to
//!   that address (FreeSWITCH calling out, registering to a provider,
//!   pinging a gateway with OPTIONS).
//!
//! A source that completed a registration or a dialog with such evidence
//! (or answered the host's own INVITE, REGISTER or OPTIONS with a 2xx) is
//! *verified* for `guard.verified_for`; the engine never bans a verified
//! source on unverified evidence. An attacker on the path (who reads the
//! host's answers) can forge all of this; that is outside what a firewall
//! on the host can tell apart.
//!
//! Every table is bounded in entries (least recently used out) and keyed
//! by a keyed hash of the network bytes, never the bytes themselves.

use crate::keyed::digest;
use crate::time::Timestamp;
use lru::LruCache;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;

/// Challenges remembered at most (one per REGISTER or INVITE challenged).
const MAX_NONCES: usize = 65_536;
/// 2xx answers to INVITE remembered at most (one per call set up).
const MAX_ANSWERS: usize = 65_536;
/// Requests the host sent, remembered at most (one per transaction).
const MAX_REQUESTS: usize = 65_536;
/// Verified sources remembered at most.
const MAX_VERIFIED: usize = 100_000;
/// An ACK comes within Timer H (64 T1); a client reuses a nonce for a
/// while (FreeSWITCH's `nonce-ttl` is 60 s by default, re-registrations
/// may reuse it longer): the evidence is accepted within this much.
const ANSWER_LIFETIME: Duration = Duration::from_secs(64);
/// A client transaction lives 64 T1 (Timer B/F).
const REQUEST_LIFETIME: Duration = Duration::from_secs(32);
const NONCE_LIFETIME: Duration = Duration::from_secs(3600);

/// What the host sent, and who proved to have received it.
#[derive(Debug)]
pub struct Routability {
    verified_for: Duration,
    /// Nonce digest -> (to whom it was sent, when).
    nonces: LruCache<u64, (IpAddr, Timestamp)>,
    /// (Call-ID, To tag) digest of a 2xx to INVITE -> (to whom, when).
    answers: LruCache<u64, (IpAddr, Timestamp)>,
    /// Via branch digest of a request the host sent -> (to whom, when).
    requests: LruCache<u64, (IpAddr, Timestamp)>,
    /// Source -> when it last proved return-routable, and until when the
    /// caller was last told it is verified ([`Routability::verify`]).
    verified: LruCache<IpAddr, (Timestamp, Timestamp)>,
}

/// A verification is announced again once less than this part of
/// `verified_for` is left of the last announcement: often enough that the
/// kernel's copy (the first line's `verified_*` sets) lapses at most this
/// part earlier than the engine's, seldom enough that a busy peer costs
/// a set update every few minutes, not one per packet.
const RENEW_WHEN_LEFT: u32 = 4;

impl Routability {
    /// Sources stay verified `verified_for` after their last evidence (zero: never).
    pub fn new(verified_for: Duration) -> Self {
        // Unbounded caches kept under their bounds by `put_bounded`: a
        // bounded LruCache allocates its whole capacity up front (about
        // 20 MB for these four), an idle engine should not.
        Routability {
            verified_for,
            nonces: LruCache::unbounded(),
            answers: LruCache::unbounded(),
            requests: LruCache::unbounded(),
            verified: LruCache::unbounded(),
        }
    }

    /// The host challenged `to` with `nonce`.
    pub fn challenged(&mut self, now: Timestamp, to: IpAddr, nonce: &[u8]) {
        if !nonce.is_empty() {
            put_bounded(
                &mut self.nonces,
                digest(b'n', &[nonce]),
                (to, now),
                MAX_NONCES,
            );
        }
    }

    /// Whether `from` echoes a nonce the host sent to `from`.
    pub fn echoes_nonce(&mut self, now: Timestamp, from: IpAddr, nonce: &[u8]) -> bool {
        self.nonces
            .get(&digest(b'n', &[nonce]))
            .is_some_and(|(to, at)| *to == from && now.since(*at) <= NONCE_LIFETIME)
    }

    /// The host answered an INVITE to `to` with a 2xx carrying `to_tag`.
    pub fn answered(&mut self, now: Timestamp, to: IpAddr, call_id: &[u8], to_tag: &[u8]) {
        let key = digest(b'a', &[call_id, to_tag]);
        put_bounded(&mut self.answers, key, (to, now), MAX_ANSWERS);
    }

    /// Whether an ACK from `from` echoes the To tag of a 2xx the host sent it.
    pub fn acks_answer(
        &mut self,
        now: Timestamp,
        from: IpAddr,
        call_id: &[u8],
        to_tag: &[u8],
    ) -> bool {
        self.answers
            .get(&digest(b'a', &[call_id, to_tag]))
            .is_some_and(|(to, at)| *to == from && now.since(*at) <= ANSWER_LIFETIME)
    }

    /// The host sent `to` a request with Via branch `branch`.
    pub fn requested(&mut self, now: Timestamp, to: IpAddr, branch: &[u8]) {
        if !branch.is_empty() {
            let key = digest(b'b', &[branch]);
            put_bounded(&mut self.requests, key, (to, now), MAX_REQUESTS);
        }
    }

    /// Whether a response from `from` echoes the branch of a request the host sent it.
    pub fn answers_request(&mut self, now: Timestamp, from: IpAddr, branch: &[u8]) -> bool {
        self.requests
            .get(&digest(b'b', &[branch]))
            .is_some_and(|(to, at)| *to == from && now.since(*at) <= REQUEST_LIFETIME)
    }

    /// `addr` completed a registration or dialog with return-routable
    /// evidence. Returns until when it is verified if the caller should
    /// say so (first verification, or the last announcement runs out
    /// within a quarter of `verified_for`), `None` otherwise.
    pub fn verify(&mut self, now: Timestamp, addr: IpAddr) -> Option<Timestamp> {
        if self.verified_for.is_zero() {
            return None;
        }
        let until = now + self.verified_for;
        let renew = self.verified_for / RENEW_WHEN_LEFT;
        let announced = match self.verified.get(&addr) {
            Some((_, told)) if told.since(now) > renew => Some(*told),
            _ => None,
        };
        put_bounded(
            &mut self.verified,
            addr,
            (now, announced.unwrap_or(until)),
            MAX_VERIFIED,
        );
        announced.is_none().then_some(until)
    }

    /// Whether `addr` proved return-routable within `verified_for`.
    pub fn is_verified(&mut self, now: Timestamp, addr: IpAddr) -> bool {
        let window = self.verified_for;
        self.verified
            .get(&addr)
            .is_some_and(|(at, _)| now.since(*at) < window)
    }

    /// Verified sources remembered (some possibly lapsed).
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.verified.len()
    }
}

/// Puts `k` in `cache`, dropping the least recently used beyond `max`.
fn put_bounded<K: Hash + Eq, V>(cache: &mut LruCache<K, V>, k: K, v: V, max: usize) {
    cache.put(k, v);
    while cache.len() > max {
        cache.pop_lru();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_counts_only_from_the_address_it_was_sent_to() {
        let mut r = Routability::new(Duration::from_secs(3600));
        let (peer, other): (IpAddr, IpAddr) = (
            "203.0.113.9".parse().unwrap(),
            "203.0.113.66".parse().unwrap(),
        );
        let t = Timestamp::from_secs(10);
        r.challenged(t, peer, b"abc");
        assert!(r.echoes_nonce(t, peer, b"abc"));
        assert!(!r.echoes_nonce(t, other, b"abc"));
        assert!(!r.echoes_nonce(t, peer, b"abd"));
        assert!(!r.echoes_nonce(t + NONCE_LIFETIME + Duration::from_secs(1), peer, b"abc"));
    }

    #[test]
    fn every_table_stays_within_its_bound() {
        let mut r = Routability::new(Duration::from_secs(60));
        let t = Timestamp::from_secs(1);
        for i in 0..(MAX_VERIFIED as u32 + 10) {
            let a = IpAddr::from(std::net::Ipv4Addr::from(i));
            r.verify(t, a);
            r.challenged(t, a, &i.to_le_bytes());
        }
        assert_eq!(r.remembered(), MAX_VERIFIED);
        assert_eq!(r.nonces.len(), MAX_NONCES);
    }

    #[test]
    fn verification_lapses_and_zero_turns_it_off() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let t = Timestamp::from_secs(10);
        let mut r = Routability::new(Duration::from_secs(60));
        r.verify(t, peer);
        assert!(r.is_verified(t + Duration::from_secs(59), peer));
        assert!(!r.is_verified(t + Duration::from_secs(60), peer));
        let mut off = Routability::new(Duration::ZERO);
        assert_eq!(off.verify(t, peer), None);
        assert!(!off.is_verified(t, peer));
    }

    #[test]
    fn a_verification_is_announced_once_then_again_near_its_end() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let hour = Duration::from_secs(3600);
        let mut r = Routability::new(hour);
        let t = Timestamp::from_secs(10);
        assert_eq!(r.verify(t, peer), Some(t + hour), "first verification");
        for s in 1..2700 {
            let at = t + Duration::from_secs(s);
            assert_eq!(r.verify(at, peer), None, "renewed {s} s later");
            assert!(r.is_verified(at, peer));
        }
        let late = t + Duration::from_secs(2700);
        assert_eq!(r.verify(late, peer), Some(late + hour), "a quarter left");
        assert_eq!(r.verify(late + Duration::from_secs(1), peer), None);
        // Lapsed altogether: announced again at once.
        let much_later = late + hour * 2;
        assert!(!r.is_verified(much_later, peer));
        assert_eq!(r.verify(much_later, peer), Some(much_later + hour));
    }
}
