//! When things end: a min-heap of (deadline, key) with lazy deletion, so
//! that finding the next expiry and taking the due ones cost O(log n)
//! however many bans or pinholes are held. A key's deadline may change
//! (a refresh) or the key may go away (an unban): the owner checks each
//! popped entry against its own table and ignores stale ones.
//!
//! The earliest live deadline is remembered between calls: callers ask for
//! it before every packet, and looking it up again would cost a lookup in
//! the owner's table each time (measured: an eighth of replay's time per
//! packet in pinhole mode). A push can only bring it forward; an owner that
//! removes a key or gives it a later end says so with [`Deadlines::stale`].

use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Deadlines of keys `K`.
#[derive(Debug)]
pub struct Deadlines<K: Ord> {
    heap: BinaryHeap<Reverse<(Timestamp, K)>>,
    /// The earliest live deadline, when known (`Some(None)`: none).
    next: Option<Option<Timestamp>>,
}

impl<K: Ord> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines {
            heap: BinaryHeap::new(),
            next: Some(None),
        }
    }
}

impl<K: Ord + Clone> Deadlines<K> {
    /// Notes that `key` ends at `at` (an earlier note for it becomes stale).
    pub fn push(&mut self, at: Timestamp, key: K) {
        self.heap.push(Reverse((at, key)));
        if let Some(next) = &mut self.next {
            *next = Some(next.map_or(at, |n| n.min(at)));
        }
    }

    /// Notes that an entry may have gone stale (its key removed, or given
    /// a later end): the next [`Deadlines::next_live`] looks again.
    pub fn stale(&mut self) {
        self.next = None;
    }

    /// The earliest deadline still in force (`live` says whether an entry
    /// still holds): stale entries at the front are dropped on the way, so
    /// a caller's timer never fires for a key refreshed or gone.
    #[inline(always)]
    pub fn next_live(&mut self, live: impl Fn(&Timestamp, &K) -> bool) -> Option<Timestamp> {
        match self.next {
            Some(next) => next,
            None => self.find_next_live(live),
        }
    }

    #[cold]
    fn find_next_live(&mut self, live: impl Fn(&Timestamp, &K) -> bool) -> Option<Timestamp> {
        let mut next = None;
        while let Some(Reverse((t, k))) = self.heap.peek() {
            if live(t, k) {
                next = Some(*t);
                break;
            }
            self.heap.pop();
        }
        self.next = Some(next);
        next
    }

    /// Takes the next entry due at `now`.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, K)> {
        if self.heap.peek().is_some_and(|Reverse((t, _))| *t <= now) {
            self.next = None;
            self.heap.pop().map(|Reverse(e)| e)
        } else {
            None
        }
    }

    /// Drops stale entries when they outnumber the live ones (`live`
    /// says whether an entry still holds), so refreshes cannot grow it forever.
    pub fn compact(&mut self, live_count: usize, live: impl Fn(&Timestamp, &K) -> bool) {
        if self.heap.len() > 2 * live_count + 1024 {
            let entries = std::mem::take(&mut self.heap).into_vec();
            self.heap = entries
                .into_iter()
                .filter(|Reverse((t, k))| live(t, k))
                .collect();
        }
    }

    /// Entries held (live and stale).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_come_out_in_order_and_compaction_keeps_the_live() {
        let mut d: Deadlines<u32> = Deadlines::default();
        for (t, k) in [(30, 3), (10, 1), (20, 2)] {
            d.push(Timestamp::from_secs(t), k);
        }
        assert_eq!(d.next_live(|_, _| true), Some(Timestamp::from_secs(10)));
        assert_eq!(d.pop_due(Timestamp::from_secs(25)).map(|e| e.1), Some(1));
        assert_eq!(d.pop_due(Timestamp::from_secs(25)).map(|e| e.1), Some(2));
        assert_eq!(d.pop_due(Timestamp::from_secs(25)), None);
        for i in 0..5000 {
            d.push(Timestamp::from_secs(100 + i), 7);
        }
        d.compact(1, |t, k| *k == 3 || *t == Timestamp::from_secs(5099));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn the_next_deadline_is_remembered_until_an_owner_says_an_entry_went_stale() {
        let mut d: Deadlines<u32> = Deadlines::default();
        d.push(Timestamp::from_secs(30), 3);
        assert_eq!(d.next_live(|_, _| true), Some(Timestamp::from_secs(30)));
        // An earlier push is seen without looking again.
        d.push(Timestamp::from_secs(10), 1);
        assert_eq!(
            d.next_live(|_, _| panic!("not looked up")),
            Some(Timestamp::from_secs(10))
        );
        // Key 1 lifted: until the owner says so, the remembered one stands.
        assert_eq!(d.next_live(|_, k| *k != 1), Some(Timestamp::from_secs(10)));
        d.stale();
        assert_eq!(d.next_live(|_, k| *k != 1), Some(Timestamp::from_secs(30)));
    }

    #[test]
    fn the_next_deadline_skips_stale_entries() {
        let mut d: Deadlines<u32> = Deadlines::default();
        for (t, k) in [(30, 3), (10, 1), (20, 2)] {
            d.push(Timestamp::from_secs(t), k);
        }
        // The owner lifted key 1.
        d.stale();
        assert_eq!(
            d.next_live(|_, k| *k != 1),
            Some(Timestamp::from_secs(20)),
            "key 1 was refreshed or removed"
        );
        assert_eq!(d.len(), 2, "its entry is gone");
        d.stale();
        assert_eq!(d.next_live(|_, _| false), None);
    }
}
