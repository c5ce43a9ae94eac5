//! One failed authentication, two witnesses: FreeSWITCH answers a wrong
//! password with 403 (read on the wire) and fires
//! `sofia::register_failure` for the same request (read from the event
//! socket). Where the daemon hears both, each failure must count once, or
//! a phone that mistypes three times looks like five failures.
//!
//! The two reports share no identifier (the event has no Call-ID), and
//! the accounts may be spelt differently (the wire names the
//! Authorization username, the event the To user), so reports are paired
//! by source: a report takes the tag of the oldest unpaired report of the
//! other witness about the same source within [`PAIRING`], and the
//! failure windows count a tag once. Failures only one witness sees (TLS,
//! or an event socket that is down) have no twin and count alone.
//! Bounded: [`MAX_UNPAIRED`] reports per source and [`MAX_SOURCES`]
//! sources, least recent out (about 4 MB at most). Pairing state lost to
//! the bound only makes a failure count twice again: stricter, never laxer.

use crate::time::Timestamp;
use lru::LruCache;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Two reports this close are the same failure (the event socket's
/// delay behind the wire, with room for a loaded host).
pub const PAIRING: Duration = Duration::from_secs(5);

/// Unpaired reports kept per source.
pub const MAX_UNPAIRED: usize = 16;

/// Sources with unpaired reports kept.
pub const MAX_SOURCES: usize = 10_000;

/// Who reported a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Witness {
    /// A 401/403/407 on the wire to a request with credentials.
    Wire,
    /// FreeSWITCH's `sofia::register_failure`.
    Event,
}

/// Unpaired reports per source.
#[derive(Debug)]
pub struct Witnesses {
    unpaired: LruCache<IpAddr, VecDeque<(Timestamp, Witness, u64)>>,
}

impl Witnesses {
    /// Tracks at most `max_sources` sources.
    pub fn new(max_sources: usize) -> Self {
        Witnesses {
            unpaired: LruCache::new(NonZeroUsize::new(max_sources.max(1)).expect("non-zero")),
        }
    }

    /// The tag to count a failure from `src` reported by `by` under: the
    /// tag of the other witness's report of it, or `fresh` if none is
    /// waiting (then this report waits for its twin).
    pub fn tag(&mut self, now: Timestamp, src: IpAddr, by: Witness, fresh: u64) -> u64 {
        let reports = self.unpaired.get_or_insert_mut(src, VecDeque::new);
        while reports
            .front()
            .is_some_and(|(t, _, _)| now.since(*t) > PAIRING)
        {
            reports.pop_front();
        }
        if let Some(i) = reports.iter().position(|(_, w, _)| *w != by) {
            let (_, _, tag) = reports.remove(i).expect("found");
            return tag;
        }
        if reports.len() >= MAX_UNPAIRED {
            reports.pop_front();
        }
        reports.push_back((now, by, fresh));
        fresh
    }

    /// Sources with unpaired reports.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.unpaired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_takes_its_twins_tag_once_and_same_witness_reports_stay_apart() {
        let mut w = Witnesses::new(10);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let t = Timestamp::from_secs(1000);
        assert_eq!(w.tag(t, a, Witness::Wire, 1), 1);
        assert_eq!(w.tag(t, a, Witness::Wire, 2), 2, "two failures on the wire");
        assert_eq!(w.tag(t, a, Witness::Event, 3), 1, "the oldest twin");
        assert_eq!(w.tag(t, a, Witness::Event, 4), 2);
        assert_eq!(w.tag(t, a, Witness::Event, 5), 5, "no twin left");
        let later = t + PAIRING + Duration::from_secs(1);
        assert_eq!(
            w.tag(later, a, Witness::Wire, 6),
            6,
            "too late to be its twin"
        );
    }

    #[test]
    fn unpaired_reports_are_bounded_per_source_and_in_sources() {
        let mut w = Witnesses::new(3);
        let t = Timestamp::from_secs(1000);
        for i in 0..10u8 {
            for n in 0..(MAX_UNPAIRED as u64 * 2) {
                w.tag(t, IpAddr::from([203, 0, 113, i]), Witness::Wire, n);
            }
        }
        assert_eq!(w.len(), 3);
        let a = IpAddr::from([203, 0, 113, 9]);
        let kept = w.unpaired.peek(&a).unwrap();
        assert_eq!(kept.len(), MAX_UNPAIRED);
        assert_eq!(kept.front().unwrap().2, MAX_UNPAIRED as u64, "oldest out");
    }
}
