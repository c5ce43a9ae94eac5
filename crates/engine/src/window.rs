//! Sliding-window counters per key (a source, an account), bounded in
//! keys (least recently seen out) and in events per key. One structure
//! counts both "malformed messages within a minute" ([`Windows::count`]:
//! every event counts) and "distinct users within a minute"
//! ([`Windows::distinct`]: events carry a tag; equal tags count once).
//! One instance is used one way.

use crate::time::Timestamp;
use lru::LruCache;
use std::collections::VecDeque;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::Duration;

/// Counters of recent events per key.
#[derive(Debug)]
pub struct Windows<K: Hash + Eq> {
    window: Duration,
    keep: usize,
    /// Per key, its events in time order, with their tags (`None`: counted).
    keys: LruCache<K, VecDeque<(Timestamp, Option<u64>)>>,
}

impl<K: Hash + Eq> Windows<K> {
    /// Events within `window`, at most `keep` remembered per key, `max_keys` keys.
    pub fn new(window: Duration, keep: usize, max_keys: usize) -> Self {
        Windows {
            window,
            keep: keep.max(1),
            keys: LruCache::new(NonZeroUsize::new(max_keys.max(1)).expect("non-zero")),
        }
    }

    /// Records an event for `key`; returns the number of events for `key`
    /// within the window (at most `keep`).
    pub fn count(&mut self, now: Timestamp, key: K) -> usize {
        self.record(now, key, None)
    }

    /// Records an event tagged `tag` for `key`; returns the number of
    /// distinct tags for `key` within the window (at most `keep`).
    pub fn distinct(&mut self, now: Timestamp, key: K, tag: u64) -> usize {
        self.record(now, key, Some(tag))
    }

    fn record(&mut self, now: Timestamp, key: K, tag: Option<u64>) -> usize {
        let window = self.window;
        let keep = self.keep;
        let events = self.keys.get_or_insert_mut(key, VecDeque::new);
        while events.front().is_some_and(|(t, _)| now.since(*t) > window) {
            events.pop_front();
        }
        if tag.is_some() {
            if let Some(i) = events.iter().position(|(_, g)| *g == tag) {
                events.remove(i);
            }
        }
        events.push_back((now, tag));
        while events.len() > keep {
            events.pop_front();
        }
        events.len()
    }

    /// Forgets `key` (e.g. once it is banned).
    pub fn forget(&mut self, key: &K) {
        self.keys.pop(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_tags_within_the_window() {
        let mut w: Windows<u8> = Windows::new(Duration::from_secs(60), 100, 10);
        let t = Timestamp::from_secs(1000);
        assert_eq!(w.distinct(t, 1, 10), 1);
        assert_eq!(w.distinct(t, 1, 11), 2);
        assert_eq!(w.distinct(t, 1, 10), 2, "the same tag counts once");
        assert_eq!(w.distinct(t, 2, 10), 1, "keys are apart");
        let later = t + Duration::from_secs(61);
        assert_eq!(w.distinct(later, 1, 12), 1, "old events left the window");
    }

    #[test]
    fn counts_every_event_within_the_window() {
        let mut w: Windows<u8> = Windows::new(Duration::from_secs(60), 100, 10);
        let t = Timestamp::from_secs(1000);
        assert_eq!(w.count(t, 1), 1);
        assert_eq!(w.count(t, 1), 2, "events in one instant all count");
        assert_eq!(w.count(t + Duration::from_secs(30), 1), 3);
        assert_eq!(w.count(t, 2), 1, "keys are apart");
        let later = t + Duration::from_secs(61);
        assert_eq!(w.count(later, 1), 2, "the first two left the window");
    }

    #[test]
    fn keys_and_events_are_bounded() {
        let mut w: Windows<u32> = Windows::new(Duration::from_secs(60), 3, 2);
        let t = Timestamp::from_secs(1);
        for tag in 0..10 {
            assert!(w.distinct(t, 7, tag) <= 3);
            assert!(w.count(t, 6) <= 3);
        }
        w.count(t, 8);
        w.count(t, 9);
        assert_eq!(w.distinct(t, 7, 99), 1, "key 7 was evicted");
    }
}
