//! Flood detection: a token bucket per source (pike-like defaults: 30
//! requests at once, 15 per second sustained).
//!
//! Memory is bounded by `max_sources`: the least recently seen source is
//! forgotten first. Each tracked source costs one LRU entry (address, bucket
//! and links, about 80 bytes), so the default 100,000 sources take about
//! 8 MB; a flood from more distinct sources than that only evicts idle ones.

use crate::time::Timestamp;
use lru::LruCache;
use std::net::IpAddr;
use std::num::NonZeroUsize;

/// One token, in the bucket's fixed-point unit.
const TOKEN: u64 = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u64,
    at: Timestamp,
}

/// Per-source token buckets.
#[derive(Debug)]
pub struct Flood {
    rate: u64,
    burst: u64,
    buckets: LruCache<IpAddr, Bucket>,
}

impl Flood {
    /// `rate` requests per second sustained, `burst` at once, `max_sources` tracked.
    pub fn new(rate: u32, burst: u32, max_sources: usize) -> Self {
        Flood {
            rate: u64::from(rate.max(1)),
            burst: u64::from(burst.max(1)),
            buckets: LruCache::new(NonZeroUsize::new(max_sources.max(1)).expect("non-zero")),
        }
    }

    /// Counts one request from `src`; true when it is over the limit.
    pub fn over(&mut self, now: Timestamp, src: IpAddr) -> bool {
        let full = self.burst * TOKEN;
        let b = self.buckets.get_or_insert_mut(src, || Bucket {
            tokens: full,
            at: now,
        });
        // tokens/µs = rate / 1e6, and one token is 1e6 units: rate units per µs.
        let refill = now.since(b.at).as_micros().min(u128::from(u64::MAX)) as u64;
        b.tokens = b
            .tokens
            .saturating_add(refill.saturating_mul(self.rate))
            .min(full);
        b.at = now;
        if b.tokens >= TOKEN {
            b.tokens -= TOKEN;
            false
        } else {
            true
        }
    }

    /// Sources tracked now.
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_and_the_next_request_is_over() {
        let mut f = Flood::new(15, 30, 10);
        let a: IpAddr = "203.0.113.66".parse().unwrap();
        let t = Timestamp::from_secs(1);
        assert!((0..30).all(|_| !f.over(t, a)));
        assert!(f.over(t, a));
    }

    #[test]
    fn the_sustained_rate_is_never_over() {
        let mut f = Flood::new(15, 30, 10);
        let a: IpAddr = "203.0.113.66".parse().unwrap();
        let mut t = Timestamp::from_secs(1);
        for _ in 0..10_000 {
            assert!(!f.over(t, a));
            t = t + Duration::from_micros(1_000_000 / 15);
        }
    }

    #[test]
    fn memory_stays_bounded_under_distinct_sources() {
        let mut f = Flood::new(15, 30, 1000);
        let t = Timestamp::from_secs(1);
        for i in 0..100_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0xCB00_7100 + i));
            f.over(t, a);
        }
        assert_eq!(f.tracked(), 1000);
    }
}
