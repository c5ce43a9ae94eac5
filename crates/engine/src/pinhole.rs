//! Per-call media pinholes: which local ports each call's media arrives
//! on, from the SDP the host sends (and, when pinholes are keyed on it, the
//! remote address from the SDP it receives), or from FreeSWITCH's channel
//! events. A pinhole is shared when two owners name the same key (the
//! wire and the event socket describing one call): it opens with the first
//! and closes with the last.
//!
//! The call table is bounded against a caller who invents calls: a dialog's
//! call is made only by an INVITE (never by a response or an in-dialog
//! request the engine has no call for), holds the two addresses that
//! exchanged that INVITE (only they may move or end it), and each remote
//! address holds at most [`MAX_CALLS_PER_SOURCE`] calls. When the table
//! or a source's share is full, the least recently active call *without
//! pinholes* makes room; calls with pinholes are never evicted (they end by
//! BYE, hang-up or their pinholes' timeout).

use crate::action::{Action, CloseReason, PinholeKey};
use crate::deadlines::Deadlines;
use crate::keyed::{digest, Map};
use crate::time::Timestamp;
use lru::LruCache;
use std::net::IpAddr;
use std::time::Duration;

/// The most calls one remote address holds (a busy trunk's concurrent calls).
pub const MAX_CALLS_PER_SOURCE: usize = 10_000;

/// Who holds a pinhole: a dialog (by Call-ID) or a channel (by UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Owner(u64);

impl Owner {
    /// The dialog with this Call-ID.
    pub fn dialog(call_id: &[u8]) -> Owner {
        Owner(hash(b'd', call_id))
    }
    /// The FreeSWITCH channel with this Unique-ID.
    pub fn channel(uuid: &[u8]) -> Owner {
        Owner(hash(b'c', uuid))
    }
    /// A number for helper expectations of the same call.
    pub fn id(self) -> u64 {
        self.0
    }
}

fn hash(ns: u8, bytes: &[u8]) -> u64 {
    digest(ns, &[bytes])
}

/// What the engine knows of one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct Call {
    keys: Vec<PinholeKey>,
    ports: Vec<u16>,
    remote: Option<IpAddr>,
    /// The CSeq of the INVITE that set the call up.
    pub invite_cseq: Option<u32>,
    /// A 2xx answered that INVITE.
    pub confirmed: bool,
    /// The remote and local addresses that exchanged the INVITE (dialogs only).
    endpoints: Option<(IpAddr, IpAddr)>,
    last: Timestamp,
}

impl Call {
    /// Whether `addr` may speak for this call: one of the addresses that
    /// exchanged its INVITE (a channel, known from FreeSWITCH, has none).
    pub fn is_endpoint(&self, addr: IpAddr) -> bool {
        self.endpoints
            .is_none_or(|(remote, local)| addr == remote || addr == local)
    }

    fn source(&self) -> Option<IpAddr> {
        self.endpoints.map(|(remote, _)| remote)
    }
}

#[derive(Debug, Clone)]
struct Hole {
    until: Timestamp,
    owners: Vec<Owner>,
}

/// The pinhole table.
#[derive(Debug)]
pub struct Pinholes {
    match_remote: bool,
    timeout: Duration,
    holes: Map<PinholeKey, Hole>,
    calls: Map<Owner, Call>,
    max_calls: usize,
    /// Calls without pinholes, least recently active first out.
    idle: LruCache<Owner, ()>,
    /// The same per remote address, for its share.
    idle_of: Map<IpAddr, LruCache<Owner, ()>>,
    /// Calls per remote address.
    per_source: Map<IpAddr, usize>,
    ends: Deadlines<PinholeKey>,
}

/// A call without pinholes is forgotten after this long without signalling.
const CALL_IDLE: Duration = Duration::from_secs(4 * 3600);

impl Pinholes {
    /// Pinholes living `timeout`, keyed on the remote address when `match_remote`.
    pub(crate) fn new(timeout: Duration, match_remote: bool, max_calls: usize) -> Self {
        Pinholes {
            match_remote,
            timeout,
            holes: Map::default(),
            calls: Map::default(),
            max_calls: max_calls.max(1),
            idle: LruCache::unbounded(),
            idle_of: Map::default(),
            per_source: Map::default(),
            ends: Deadlines::default(),
        }
    }

    /// The call `owner` if the table has it (marked active at `now`).
    pub(crate) fn get(&mut self, now: Timestamp, owner: Owner) -> Option<&mut Call> {
        let c = self.calls.get_mut(&owner)?;
        c.last = now;
        if c.keys.is_empty() {
            let source = c.source();
            self.idle.promote(&owner);
            if let Some(l) = source.and_then(|s| self.idle_of.get_mut(&s)) {
                l.promote(&owner);
            }
        }
        self.calls.get_mut(&owner)
    }

    /// The call `owner`, made for the INVITE exchanged between `remote`
    /// and `local` if it is new: room is made by evicting the least
    /// recently active call without pinholes (of `remote`'s own when its
    /// share is full); `None` when there is none to evict.
    pub(crate) fn open(
        &mut self,
        now: Timestamp,
        owner: Owner,
        endpoints: Option<(IpAddr, IpAddr)>,
    ) -> Option<&mut Call> {
        if self.calls.contains_key(&owner) {
            return self.get(now, owner);
        }
        let source = endpoints.map(|(remote, _)| remote);
        if let Some(src) = source {
            if self
                .per_source
                .get(&src)
                .is_some_and(|n| *n >= MAX_CALLS_PER_SOURCE)
            {
                let oldest = self
                    .idle_of
                    .get_mut(&src)
                    .and_then(|l| l.peek_lru().map(|(o, _)| *o));
                self.forget(oldest?);
            }
        }
        if self.calls.len() >= self.max_calls {
            let oldest = self.idle.peek_lru().map(|(o, _)| *o);
            self.forget(oldest?);
        }
        if let Some(src) = source {
            *self.per_source.entry(src).or_default() += 1;
        }
        self.calls.insert(
            owner,
            Call {
                endpoints,
                last: now,
                ..Call::default()
            },
        );
        self.sync_idle(owner);
        self.calls.get_mut(&owner)
    }

    /// Removes call `owner` from every index (its pinholes are the caller's business).
    fn forget(&mut self, owner: Owner) -> Option<Call> {
        let c = self.calls.remove(&owner)?;
        self.idle.pop(&owner);
        if let Some(src) = c.source() {
            if let Some(l) = self.idle_of.get_mut(&src) {
                l.pop(&owner);
                if l.is_empty() {
                    self.idle_of.remove(&src);
                }
            }
            if let Some(n) = self.per_source.get_mut(&src) {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&src);
                }
            }
        }
        Some(c)
    }

    /// Files `owner` among the calls without pinholes, or takes it out, to match its keys.
    fn sync_idle(&mut self, owner: Owner) {
        let Some(c) = self.calls.get(&owner) else {
            return;
        };
        let source = c.source();
        if c.keys.is_empty() {
            self.idle.put(owner, ());
            if let Some(src) = source {
                self.idle_of
                    .entry(src)
                    .or_insert_with(LruCache::unbounded)
                    .put(owner, ());
            }
        } else {
            self.idle.pop(&owner);
            if let Some(src) = source {
                if let Some(l) = self.idle_of.get_mut(&src) {
                    l.pop(&owner);
                    if l.is_empty() {
                        self.idle_of.remove(&src);
                    }
                }
            }
        }
    }

    /// Sets the local media ports of `owner` (RTP and RTCP), opening,
    /// refreshing and closing pinholes to match.
    pub(crate) fn set_ports(
        &mut self,
        now: Timestamp,
        owner: Owner,
        ports: &[u16],
        out: &mut Vec<Action>,
    ) {
        let Some(c) = self.open(now, owner, None) else {
            return;
        };
        c.ports = ports.to_vec();
        self.rekey(now, owner, out);
    }

    /// Sets the remote media address of `owner`.
    pub(crate) fn set_remote(
        &mut self,
        now: Timestamp,
        owner: Owner,
        remote: IpAddr,
        out: &mut Vec<Action>,
    ) {
        let match_remote = self.match_remote;
        let Some(c) = self.open(now, owner, None) else {
            return;
        };
        if c.remote == Some(remote) {
            return;
        }
        c.remote = Some(remote);
        if match_remote && !c.ports.is_empty() {
            self.rekey(now, owner, out);
        }
    }

    fn rekey(&mut self, now: Timestamp, owner: Owner, out: &mut Vec<Action>) {
        let Some(c) = self.calls.get_mut(&owner) else {
            return;
        };
        let remote = if self.match_remote { c.remote } else { None };
        let wanted: Vec<PinholeKey> = c
            .ports
            .iter()
            .map(|&port| PinholeKey { port, remote })
            .collect();
        let old = std::mem::replace(&mut c.keys, wanted.clone());
        self.sync_idle(owner);
        for key in old.iter().filter(|k| !wanted.contains(k)) {
            self.release(owner, *key, CloseReason::Moved, out);
        }
        let until = now + self.timeout;
        for key in wanted {
            let hole = self.holes.entry(key).or_insert(Hole {
                until: Timestamp::default(),
                owners: Vec::new(),
            });
            if !hole.owners.contains(&owner) {
                hole.owners.push(owner);
            }
            if until > hole.until {
                if hole.until != Timestamp::default() {
                    // Its earlier end is stale now.
                    self.ends.stale();
                }
                hole.until = until;
                self.ends.push(until, key);
                out.push(Action::OpenPinhole { key, until });
            }
        }
    }

    fn release(
        &mut self,
        owner: Owner,
        key: PinholeKey,
        reason: CloseReason,
        out: &mut Vec<Action>,
    ) {
        if let Some(hole) = self.holes.get_mut(&key) {
            hole.owners.retain(|o| *o != owner);
            if hole.owners.is_empty() {
                self.holes.remove(&key);
                self.ends.stale();
                out.push(Action::ClosePinhole { key, reason });
            }
        }
    }

    /// Ends call `owner`: its pinholes close (unless another owner holds them).
    pub(crate) fn end(&mut self, owner: Owner, out: &mut Vec<Action>) {
        if let Some(c) = self.forget(owner) {
            for key in c.keys {
                self.release(owner, key, CloseReason::CallEnded, out);
            }
        }
    }

    /// Closes pinholes whose time is up.
    pub(crate) fn expire(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        while let Some((at, key)) = self.ends.pop_due(now) {
            if self.holes.get(&key).is_none_or(|h| h.until != at) {
                continue;
            }
            if let Some(hole) = self.holes.remove(&key) {
                for o in hole.owners {
                    if let Some(c) = self.calls.get_mut(&o) {
                        c.keys.retain(|k| *k != key);
                        self.sync_idle(o);
                    }
                }
                out.push(Action::ClosePinhole {
                    key,
                    reason: CloseReason::Expired,
                });
            }
        }
        let holes = &self.holes;
        self.ends.compact(holes.len(), |t, k| {
            holes.get(k).is_some_and(|h| h.until == *t)
        });
    }

    /// Forgets calls without pinholes that have been quiet for hours
    /// (periodic: it walks every call).
    pub(crate) fn forget_idle(&mut self, now: Timestamp) {
        let quiet: Vec<Owner> = self
            .calls
            .iter()
            .filter(|(_, c)| c.keys.is_empty() && now.since(c.last) >= CALL_IDLE)
            .map(|(o, _)| *o)
            .collect();
        for o in quiet {
            self.forget(o);
        }
    }

    /// The earliest expiry of an open pinhole.
    #[inline(always)]
    pub(crate) fn next_expiry(&mut self) -> Option<Timestamp> {
        let holes = &self.holes;
        self.ends
            .next_live(|t, k| holes.get(k).is_some_and(|h| h.until == *t))
    }

    /// Whether `port` is open to any source.
    pub fn has_port(&self, port: u16) -> bool {
        self.holes.contains_key(&PinholeKey { port, remote: None })
    }

    /// Whether `port` is open to `addr`.
    pub fn has_addr_port(&self, addr: IpAddr, port: u16) -> bool {
        self.holes.contains_key(&PinholeKey {
            port,
            remote: Some(addr),
        })
    }

    /// Open pinholes.
    pub fn len(&self) -> usize {
        self.holes.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.holes.is_empty()
    }

    /// Calls tracked.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Calls tracked for the remote address `addr`.
    pub fn calls_of(&self, addr: IpAddr) -> usize {
        self.per_source.get(&addr).copied().unwrap_or(0)
    }

    /// The open pinholes and their expiry.
    pub fn iter(&self) -> impl Iterator<Item = (PinholeKey, Timestamp)> + '_ {
        self.holes.iter().map(|(k, h)| (*k, h.until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn shared_pinholes_open_once_and_close_with_the_last_owner() {
        let mut p = Pinholes::new(Duration::from_secs(90), false, 10);
        let mut out = Vec::new();
        let (wire, esl) = (Owner::dialog(b"call-1"), Owner::channel(b"uuid-1"));
        p.set_ports(t(0), wire, &[20000, 20001], &mut out);
        assert_eq!(out.len(), 2);
        out.clear();
        p.set_ports(t(0), esl, &[20000, 20001], &mut out);
        assert!(out.is_empty(), "same keys, same expiry: nothing new");
        p.end(wire, &mut out);
        assert!(out.is_empty(), "the channel still holds them");
        p.end(esl, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|a| matches!(
            a,
            Action::ClosePinhole {
                reason: CloseReason::CallEnded,
                ..
            }
        )));
        assert!(p.is_empty());
    }

    #[test]
    fn keyed_on_the_remote_when_configured() {
        let mut p = Pinholes::new(Duration::from_secs(90), true, 10);
        let mut out = Vec::new();
        let o = Owner::dialog(b"c");
        p.set_ports(t(0), o, &[20000], &mut out);
        assert!(p.has_port(20000), "remote unknown yet: the port alone");
        let r: IpAddr = "2001:db8::2".parse().unwrap();
        out.clear();
        p.set_remote(t(1), o, r, &mut out);
        assert!(!p.has_port(20000) && p.has_addr_port(r, 20000));
        assert!(matches!(
            out[0],
            Action::ClosePinhole {
                reason: CloseReason::Moved,
                ..
            }
        ));
        assert!(matches!(
            out[1],
            Action::OpenPinhole {
                key: PinholeKey {
                    port: 20000,
                    remote: Some(_)
                },
                ..
            }
        ));
    }

    #[test]
    fn a_full_table_evicts_the_least_recent_call_without_pinholes() {
        let mut p = Pinholes::new(Duration::from_secs(90), false, 2);
        let mut out = Vec::new();
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        let host: IpAddr = "192.0.2.1".parse().unwrap();
        let (a, b, c) = (
            Owner::dialog(b"a"),
            Owner::dialog(b"b"),
            Owner::dialog(b"c"),
        );
        p.open(t(0), a, Some((peer, host)));
        p.set_ports(t(0), a, &[20000], &mut out);
        p.open(t(1), b, Some((peer, host)));
        assert!(p.open(t(2), c, Some((peer, host))).is_some());
        assert_eq!(p.calls(), 2);
        assert!(p.get(t(3), b).is_none(), "b, without pinholes, made room");
        assert!(p.get(t(3), a).is_some(), "a call with pinholes stays");
        p.set_ports(t(4), c, &[20002], &mut out);
        assert!(
            p.open(t(5), Owner::dialog(b"d"), Some((peer, host)))
                .is_none(),
            "nothing to evict: refused"
        );
        assert_eq!(p.calls_of(peer), 2);
        p.end(a, &mut out);
        assert_eq!(p.calls_of(peer), 1);
    }

    #[test]
    fn pinholes_expire_and_the_table_of_calls_is_bounded() {
        let mut p = Pinholes::new(Duration::from_secs(90), false, 1);
        let mut out = Vec::new();
        p.set_ports(t(0), Owner::dialog(b"a"), &[20000], &mut out);
        p.set_ports(t(0), Owner::dialog(b"b"), &[20002], &mut out);
        assert_eq!(p.len(), 1, "no room for a second call");
        out.clear();
        p.expire(t(90), &mut out);
        assert_eq!(
            out,
            [Action::ClosePinhole {
                key: PinholeKey {
                    port: 20000,
                    remote: None
                },
                reason: CloseReason::Expired
            }]
        );
    }
}
