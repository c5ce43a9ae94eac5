//! Sliding-window counters per key (a source, an account), bounded in
//! keys (least recently seen out) and in events per key. One structure
//! counts both "failures within a minute" and "distinct users within a
//! minute" (events carry a tag; equal tags count once).

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
    keys: LruCache<K, VecDeque<(Timestamp, u64)>>,
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

    /// Records an event tagged `tag` for `key`; returns the number of
    /// distinct tags for `key` within the window.
    pub fn record(&mut self, now: Timestamp, key: K, tag: u64) -> usize {
        let window = self.window;
        let keep = self.keep;
        let events = self.keys.get_or_insert_mut(key, VecDeque::new);
        while events.front().is_some_and(|(t, _)| now.since(*t) > window) {
            events.pop_front();
        }
        if let Some(i) = events.iter().position(|(_, g)| *g == tag) {
            events.remove(i);
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
        assert_eq!(w.record(t, 1, 10), 1);
        assert_eq!(w.record(t, 1, 11), 2);
        assert_eq!(w.record(t, 1, 10), 2, "the same tag counts once");
        assert_eq!(w.record(t, 2, 10), 1, "keys are apart");
        let later = t + Duration::from_secs(61);
        assert_eq!(w.record(later, 1, 12), 1, "old events left the window");
    }

    #[test]
    fn keys_and_events_are_bounded() {
        let mut w: Windows<u32> = Windows::new(Duration::from_secs(60), 3, 2);
        let t = Timestamp::from_secs(1);
        for tag in 0..10 {
            assert!(w.record(t, 7, tag) <= 3);
        }
        w.record(t, 8, 0);
        w.record(t, 9, 0);
        assert_eq!(w.record(t, 7, 99), 1, "key 7 was evicted");
    }
}
