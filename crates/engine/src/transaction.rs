//! Requests waiting for their answer, so that a response can be read for
//! what it means about the requester: a failed authentication, an unknown
//! user, a successful registration. Keyed by Call-ID and CSeq number;
//! bounded (least recent out) since a scanner never waits for answers.
//!
//! Each transaction remembers whether its request was return-routable
//! (see the `routable` module), so that what its answer says is weighed as
//! evidence a blind spoofer could or could not have produced. Accounts are
//! made printable and capped at [`MAX_ACCOUNT`] bytes when noted: 65,536
//! open transactions hold at most about 20 MB of them, whatever the To-user.
//! One source holds at most [`MAX_PER_SOURCE`] open transactions (its
//! oldest go first), so a source that never waits for answers cannot push
//! everyone else's out of the table.

use crate::keyed::digest;
use crate::remote_text::printable;
use crate::time::Timestamp;
use lru::LruCache;
use sipwall_sip::{Message, Method};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Transaction state kept at most this long (SIP's Timer B/F: 64 T1).
const LIFETIME: Duration = Duration::from_secs(32);

/// The most open transactions one source holds.
pub const MAX_PER_SOURCE: usize = 1024;

/// The longest account (`user@host`) kept, in bytes.
pub const MAX_ACCOUNT: usize = 160;

#[derive(Debug, Clone)]
struct Pending {
    src: IpAddr,
    method: Kind,
    /// The method's name, for explanations (`other` for an extension).
    name: &'static str,
    authenticated: bool,
    routable: bool,
    account: String,
    at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Register,
    Invite,
    Other,
}

/// What a response says about the request's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Credentials were given and refused (401/407 to an authenticated
    /// request, or 403).
    AuthFailure {
        /// The requester.
        src: IpAddr,
        /// The request's method.
        method: &'static str,
        /// The answer's status.
        status: u16,
        /// The account tried (`user@domain`).
        account: String,
        /// The request was return-routable.
        routable: bool,
    },
    /// The user does not exist (404; 480 to an INVITE), or was refused
    /// without credentials (403).
    UnknownUser {
        /// The requester.
        src: IpAddr,
        /// The request's method.
        method: &'static str,
        /// The answer's status.
        status: u16,
        /// The user.
        account: String,
        /// The request was return-routable.
        routable: bool,
    },
    /// An authenticated REGISTER succeeded.
    Registered {
        /// The requester.
        src: IpAddr,
        /// Its credentials echoed a nonce the host sent to it (a blind
        /// spoofer's forged registration cannot).
        routable: bool,
    },
}

/// Open transactions.
#[derive(Debug)]
pub struct Transactions {
    open: LruCache<u64, Pending>,
    /// Each source's transaction keys, oldest first (some answered or
    /// evicted already: they are skipped when they come up).
    of_source: LruCache<IpAddr, VecDeque<u64>>,
    /// Keys in `of_source`, kept at most twice the table's capacity.
    queued: usize,
    capacity: usize,
}

fn key(call_id: &[u8], cseq: u32) -> u64 {
    digest(b't', &[call_id, &cseq.to_le_bytes()])
}

/// A method's name with no borrow of the packet (an extension's is `other`).
fn static_name(m: Option<Method<'_>>) -> &'static str {
    match m {
        Some(Method::Register) => "REGISTER",
        Some(Method::Invite) => "INVITE",
        Some(Method::Options) => "OPTIONS",
        Some(Method::Message) => "MESSAGE",
        Some(Method::Subscribe) => "SUBSCRIBE",
        Some(Method::Notify) => "NOTIFY",
        Some(Method::Info) => "INFO",
        Some(Method::Refer) => "REFER",
        Some(Method::Publish) => "PUBLISH",
        Some(Method::Update) => "UPDATE",
        Some(Method::Prack) => "PRACK",
        Some(Method::Bye) => "BYE",
        _ => "other",
    }
}

/// `user@host` of the To URI, and the Authorization username if any.
fn account(m: &Message<'_>) -> String {
    let half = MAX_ACCOUNT / 2 - 1;
    let auth_user = m
        .authorization()
        .or_else(|| m.proxy_authorization())
        .and_then(|a| a.username())
        .map(|u| printable(u, half).trim_matches('"').to_owned());
    let to = m.to();
    let uri = to.as_ref().map(|t| t.uri());
    let user = auth_user
        .or_else(|| {
            uri.and_then(|u| u.user())
                .map(|u| printable(u.as_bytes(), half))
        })
        .unwrap_or_default();
    let host = uri
        .and_then(|u| u.host())
        .map(|h| printable(h.to_string().as_bytes(), half))
        .unwrap_or_default();
    format!("{user}@{host}")
}

impl Transactions {
    /// Keeps at most `capacity` open transactions.
    pub(crate) fn new(capacity: usize) -> Self {
        Transactions {
            open: LruCache::new(NonZeroUsize::new(capacity.max(1)).expect("non-zero")),
            of_source: LruCache::unbounded(),
            queued: 0,
            capacity: capacity.max(1),
        }
    }

    /// Notes a request from `src` (`routable`: return-routable evidence).
    pub(crate) fn request(&mut self, now: Timestamp, src: IpAddr, m: &Message<'_>, routable: bool) {
        let (Some(call_id), Some(cseq)) = (m.call_id(), m.cseq()) else {
            return;
        };
        let method = match m.method() {
            Some(Method::Register) => Kind::Register,
            Some(Method::Invite) => Kind::Invite,
            Some(Method::Ack | Method::Cancel) | None => return,
            Some(_) => Kind::Other,
        };
        let name = static_name(m.method());
        let authenticated = m.authorization().is_some() || m.proxy_authorization().is_some();
        let k = key(call_id, cseq.number);
        let queue = self.of_source.get_or_insert_mut(src, VecDeque::new);
        while queue.len() >= MAX_PER_SOURCE {
            let Some(old) = queue.pop_front() else { break };
            self.queued -= 1;
            if self.open.peek(&old).is_some_and(|p| p.src == src) {
                self.open.pop(&old);
            }
        }
        queue.push_back(k);
        self.queued += 1;
        while self.queued > 2 * self.capacity {
            let Some((_, q)) = self.of_source.pop_lru() else {
                break;
            };
            self.queued -= q.len();
        }
        self.open.put(
            k,
            Pending {
                src,
                method,
                name,
                authenticated,
                routable,
                account: account(m),
                at: now,
            },
        );
    }

    /// Open transactions.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Bytes the open transactions hold: entries and their account text
    /// (a count walked on demand, for tests and metrics).
    pub fn bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, Pending)>();
        self.open
            .iter()
            .map(|(_, p)| entry + p.account.capacity())
            .sum()
    }

    /// Reads a response: what it says about its request's sender.
    pub(crate) fn response(&mut self, now: Timestamp, m: &Message<'_>) -> Option<Outcome> {
        let status = m.status()?;
        let (call_id, cseq) = (m.call_id()?, m.cseq()?);
        if status < 200 {
            return None;
        }
        let k = key(call_id, cseq.number);
        let p = self.open.pop(&k).filter(|p| now.since(p.at) <= LIFETIME)?;
        match status {
            401 | 407 | 403 if p.authenticated => Some(Outcome::AuthFailure {
                src: p.src,
                method: p.name,
                status,
                account: p.account,
                routable: p.routable,
            }),
            403 | 404 => Some(Outcome::UnknownUser {
                src: p.src,
                method: p.name,
                status,
                account: p.account,
                routable: p.routable,
            }),
            // FreeSWITCH's public context answers an INVITE for an
            // extension its dialplan does not route with 480, where others
            // say 404. An existing but absent user gets 480 too, so one
            // caller meets it for a few users; a scanner for many.
            480 if p.method == Kind::Invite => Some(Outcome::UnknownUser {
                src: p.src,
                method: p.name,
                status,
                account: p.account,
                routable: p.routable,
            }),
            200..=299 if p.method == Kind::Register && p.authenticated => {
                Some(Outcome::Registered {
                    src: p.src,
                    routable: p.routable,
                })
            }
            // A challenge (401/407 to a request without credentials) is how
            // digest authentication starts: put it back for the retry's answer.
            401 | 407 => None,
            _ => None,
        }
    }
}
