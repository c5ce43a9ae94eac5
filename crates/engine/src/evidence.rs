//! Why a source was banned (or would have been), as data: the detector,
//! the threshold and window it applied, the requests that counted, and
//! the escalation step. `sipwall bans explain` shows it; the ledger keeps
//! it beside the evidence line.
//!
//! Cost: only what counts towards a detector is recorded, never every
//! packet. The scanner and the flood detector record the one request that
//! tipped them (a flood's messages are a token bucket's, not a list), and
//! only when they ban; brute force, enumeration and malformed SIP keep the
//! last [`MAX_COUNTED`] requests that counted per source in [`Trails`],
//! at most [`MAX_TRAILS`] sources (least recently counted out). Each
//! [`Counted`] holds at most [`MAX_METHOD`] + [`MAX_ACCOUNT`] bytes of
//! text, so the trails hold at most about 4,096 × 16 × 200 B ≈ 13 MB,
//! and the explanations of the last [`MAX_EXPLAINED`] bans (or would-be
//! bans) about as much.

use crate::action::Shield;
use crate::remote_text::printable;
use crate::time::Timestamp;
use lru::LruCache;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// The most requests one explanation lists (the last ones).
pub const MAX_COUNTED: usize = 16;
/// Sources whose counted requests are kept.
pub const MAX_TRAILS: usize = 4096;
/// Sources whose last explanation is kept.
pub const MAX_EXPLAINED: usize = 4096;
/// The longest method kept, in bytes.
pub const MAX_METHOD: usize = 24;
/// The longest account kept, in bytes.
pub const MAX_ACCOUNT: usize = 128;

/// One request that counted towards a detector. What came from the
/// network is kept raw (bounded) and escaped when shown: escaping costs
/// about a thousand instructions a field, and a flood of distinct
/// scanners bans on every packet, while explanations are rarely read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// When it was seen (the answer's time for an answered request).
    pub at: Timestamp,
    /// Its method (`REGISTER`), or for a malformed message the fault
    /// (`malformed: header`); an extension method escaped.
    pub method: Cow<'static, str>,
    /// The account (`user@host`) or Request-URI it names, raw, at most
    /// [`MAX_ACCOUNT`] bytes: see [`Counted::account`].
    account: Option<Box<[u8]>>,
    /// The host's answer (401, 403, 404), when one counted; `None` for a
    /// request judged on its own, or a failure FreeSWITCH reported.
    pub answer: Option<u16>,
}

/// A method's name: a static one for the methods sipwall knows (no
/// allocation), else the sender's escaped.
fn method_name(method: &[u8]) -> Cow<'static, str> {
    const KNOWN: [&str; 14] = [
        "REGISTER",
        "INVITE",
        "OPTIONS",
        "MESSAGE",
        "SUBSCRIBE",
        "NOTIFY",
        "INFO",
        "REFER",
        "PUBLISH",
        "UPDATE",
        "PRACK",
        "BYE",
        "ACK",
        "CANCEL",
    ];
    match KNOWN.iter().find(|k| k.as_bytes() == method) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(printable(method, MAX_METHOD)),
    }
}

impl Counted {
    /// A counted request; the account is kept raw, cut at [`MAX_ACCOUNT`] bytes.
    pub fn new(at: Timestamp, method: &[u8], account: Option<&[u8]>, answer: Option<u16>) -> Self {
        Counted {
            at,
            method: method_name(method),
            account: account.map(|a| a[..a.len().min(MAX_ACCOUNT)].into()),
            answer,
        }
    }

    /// A malformed message, counted by its fault (`start-line`, `header`).
    pub fn malformed(at: Timestamp, fault: &'static str) -> Self {
        Counted {
            at,
            method: Cow::Owned(format!("malformed: {fault}")),
            account: None,
            answer: None,
        }
    }

    /// The account or Request-URI, escaped for people (at most
    /// [`MAX_ACCOUNT`] bytes).
    pub fn account(&self) -> Option<String> {
        self.account.as_deref().map(|a| printable(a, MAX_ACCOUNT))
    }
}

/// The request that tipped a detector, borrowed from the packet: made a
/// [`Counted`] (allocated) only when a ban or an announced would-be ban
/// needs it, not for every packet of a flood a shield stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trigger<'a> {
    /// Its method (or the first word of a response).
    pub method: &'a [u8],
    /// The account or Request-URI it names.
    pub account: Option<&'a [u8]>,
}

impl Trigger<'_> {
    /// The trigger as a counted request seen at `at`.
    pub fn counted(&self, at: Timestamp) -> Counted {
        Counted::new(at, self.method, self.account, None)
    }
}

/// Where the ban stands in the source's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Which offence this is (1: the first; more: a repeat offender,
    /// banned longer).
    pub offence: u32,
    /// How long the ban lasts (or would have).
    pub length: Duration,
    /// When it ends; `None` for a would-be ban a shield stopped.
    pub until: Option<Timestamp>,
    /// Why no ban was made, for a would-be ban.
    pub shield: Option<Shield>,
    /// The prefix this ban got banned whole (enough bans inside it within
    /// the ban time: source rotation), when it did.
    pub prefix: Option<ipnet::IpNet>,
}

/// Why a detector banned (or would have banned) a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The detector (`scanner`, `flood`, `brute-force`, `enumeration`,
    /// `malformed`): the ban reason's kind.
    pub detector: &'static str,
    /// How many it takes (1 for a scanner: one request is enough; the
    /// burst for a flood).
    pub threshold: u64,
    /// Within how long (zero for a scanner; for a flood, the time the
    /// sustained rate takes to refill the burst).
    pub window: Duration,
    /// The rule in words (`10 failures from one source or 20 against one
    /// account within 60s`).
    pub rule: String,
    /// When the detector decided.
    pub at: Timestamp,
    /// The requests that counted, oldest first, the last [`MAX_COUNTED`].
    pub counted: Vec<Counted>,
    /// The escalation step.
    pub step: Step,
}

/// Each detector's threshold, window and rule in words, as the policy
/// sets them: made once, with the engine (a ban copies its line rather
/// than format it: a flood of distinct scanners bans on every packet).
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    rules: Vec<(&'static str, u64, Duration, String)>,
}

impl Rules {
    /// The rules of `g`.
    pub fn new(g: &sipwall_policy::Guard) -> Self {
        let (rate, burst) = (g.flood.rate.max(1), g.flood.burst.max(1));
        let bf = &g.brute_force;
        let rules = vec![
            (
                "scanner",
                1,
                Duration::ZERO,
                "one request is enough: a scanner's User-Agent or From tag, or a request for an IP-literal domain".to_owned(),
            ),
            (
                "flood",
                u64::from(burst),
                Duration::from_secs_f64(f64::from(burst) / f64::from(rate)),
                format!("more than {burst} messages at once, or over {rate} per second sustained"),
            ),
            (
                "brute-force",
                u64::from(bf.max_failures),
                bf.window,
                format!(
                    "{} failed authentications from one source within {:?}, or {} against one account within {:?}",
                    bf.max_failures, bf.window, bf.account_max_failures, bf.account_window
                ),
            ),
            (
                "enumeration",
                u64::from(g.enumeration.max_users),
                g.enumeration.window,
                format!(
                    "{} distinct unknown users within {:?}",
                    g.enumeration.max_users, g.enumeration.window
                ),
            ),
            (
                "malformed",
                u64::from(g.malformed.max),
                g.malformed.window,
                format!(
                    "{} malformed SIP messages within {:?}",
                    g.malformed.max, g.malformed.window
                ),
            ),
        ];
        Rules { rules }
    }

    /// The threshold, window and rule of `detector` (none for a ban by hand).
    pub fn of(&self, detector: &str) -> (u64, Duration, &str) {
        self.rules
            .iter()
            .find(|r| r.0 == detector)
            .map_or((0, Duration::ZERO, ""), |r| (r.1, r.2, r.3.as_str()))
    }
}

/// The last requests that counted per (source, detector).
#[derive(Debug)]
pub struct Trails {
    table: LruCache<(IpAddr, &'static str), VecDeque<Counted>>,
}

impl Trails {
    /// At most `sources` (source, detector) pairs.
    pub fn new(sources: usize) -> Self {
        Trails {
            table: LruCache::new(NonZeroUsize::new(sources.max(1)).expect("non-zero")),
        }
    }

    /// Notes that `c` counted towards `detector` for `src` (the oldest of
    /// more than [`MAX_COUNTED`] goes).
    pub fn record(&mut self, src: IpAddr, detector: &'static str, c: Counted) {
        let q = self
            .table
            .get_or_insert_mut((src, detector), || VecDeque::with_capacity(4));
        if q.len() >= MAX_COUNTED {
            q.pop_front();
        }
        q.push_back(c);
    }

    /// The requests of `src` that counted towards `detector` within
    /// `window` before `now`, oldest first.
    pub fn recent(
        &self,
        src: IpAddr,
        detector: &'static str,
        now: Timestamp,
        window: Duration,
    ) -> Vec<Counted> {
        self.table
            .peek(&(src, detector))
            .map(|q| {
                q.iter()
                    .filter(|c| now.since(c.at) <= window)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Forgets `src`'s requests for `detector` (once they made a ban: the
    /// next ban counts afresh, as the detector's window does).
    pub fn forget(&mut self, src: IpAddr, detector: &'static str) {
        self.table.pop(&(src, detector));
    }

    /// Pairs tracked.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none is tracked.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trails_keep_the_last_sixteen_per_source_and_a_bounded_number_of_sources() {
        let mut t = Trails::new(3);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let now = Timestamp::from_secs(100);
        for i in 0..40u64 {
            let c = Counted::new(
                Timestamp::from_secs(i),
                b"REGISTER",
                Some(b"100@x"),
                Some(403),
            );
            t.record(a, "brute-force", c);
        }
        let kept = t.recent(a, "brute-force", now, Duration::from_secs(1000));
        assert_eq!(kept.len(), MAX_COUNTED);
        assert_eq!(kept[0].at, Timestamp::from_secs(24), "the oldest went");
        assert_eq!(
            t.recent(a, "brute-force", now, Duration::from_secs(70))
                .len(),
            10,
            "only those within the window"
        );
        for i in 0..10u8 {
            let c = Counted::new(now, b"OPTIONS", None, None);
            t.record(IpAddr::from([203, 0, 113, 10 + i]), "malformed", c);
        }
        assert_eq!(t.len(), 3);
        assert!(t
            .recent(a, "brute-force", now, Duration::from_secs(1000))
            .is_empty());
    }

    #[test]
    fn remote_text_in_a_counted_request_is_escaped_and_bounded() {
        let c = Counted::new(
            Timestamp::from_secs(1),
            b"REG\x1b[2JISTER",
            Some("\u{202e}a".repeat(500).as_bytes()),
            None,
        );
        assert!(!c.method.chars().any(char::is_control), "{}", c.method);
        let account = c.account().unwrap();
        assert!(account.len() <= MAX_ACCOUNT);
        assert!(!account.contains('\u{202e}'));
        let known = Counted::new(Timestamp::from_secs(1), b"OPTIONS", None, None);
        assert!(
            matches!(known.method, Cow::Borrowed("OPTIONS")),
            "no allocation"
        );
    }
}
