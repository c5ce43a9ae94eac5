//! A budget for per-event log lines (bans, pinholes): under attack a
//! million bans must not become a million journal lines. Past the budget
//! lines are counted, and one line a second says how many were left out.

use sipwall_engine::Timestamp;
use std::time::Duration;

/// Lines allowed per second, and what was left out.
#[derive(Debug, Clone)]
pub struct LogLimit {
    per_second: u32,
    window: Timestamp,
    used: u32,
    suppressed: u64,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit {
            per_second: 20,
            window: Timestamp::default(),
            used: 0,
            suppressed: 0,
        }
    }
}

impl LogLimit {
    /// Whether one more line may be written at `now`. At the start of a new
    /// second, the count of lines left out in the last one is logged first.
    pub fn allow(&mut self, now: Timestamp) -> bool {
        if now.since(self.window) >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                tracing::warn!(suppressed = self.suppressed, "more events than the log takes: lines left out (see `sipwall bans list` and the metrics)");
            }
            self.window = now;
            self.used = 0;
            self.suppressed = 0;
        }
        if self.used < self.per_second {
            self.used += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_lines_a_second_then_counted() {
        let mut l = LogLimit::default();
        let t = Timestamp::from_secs(100);
        assert_eq!((0..50).filter(|_| l.allow(t)).count(), 20);
        assert_eq!(l.suppressed, 30);
        assert!(
            l.allow(t + Duration::from_secs(1)),
            "a new second, a new budget"
        );
        assert_eq!(l.suppressed, 0);
    }
}
