//! Inline mode's packets held by the kernel for a verdict, as the loop sees
//! them: every held packet is answered exactly once, and that is a type,
//! not a rule the loop must remember.
//!
//! The queue's reader thread keeps the kernel's handles and sends the loop
//! a [`Held`] batch (queue number and bytes of each packet). The loop can
//! only [`Held::judge`] it, which consumes it and gives one verdict per
//! packet, in order; the [`Verdicts`] go back to the reader when released
//! (after the kernel updates they need: an SDP answer leaves only once its
//! pinhole is in). A batch or its verdicts dropped on any other path (the
//! loop stopping, a panic) still answers: with the mode's default, accept
//! when failing open, drop when failing closed, as the kernel itself does
//! with nobody reading.

use std::sync::mpsc::Sender;

/// Packets held for a verdict: `(queue, packet)` each.
pub struct Held {
    packets: Vec<(u16, Vec<u8>)>,
    reply: Reply,
}

/// Where the verdicts of one batch go, once.
struct Reply {
    to: Sender<Vec<bool>>,
    fail_open: bool,
    len: usize,
    sent: bool,
}

impl Reply {
    fn send(&mut self, verdicts: Vec<bool>) {
        if !self.sent {
            self.sent = true;
            // The reader is gone only when the daemon stops.
            let _ = self.to.send(verdicts);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let default = vec![self.fail_open; self.len];
        self.send(default);
    }
}

impl Held {
    /// A batch of `packets` whose verdicts go to `reply`; `fail_open` is
    /// the answer if the batch is never judged.
    pub fn new(packets: Vec<(u16, Vec<u8>)>, reply: Sender<Vec<bool>>, fail_open: bool) -> Self {
        let len = packets.len();
        Held {
            packets,
            reply: Reply {
                to: reply,
                fail_open,
                len,
                sent: false,
            },
        }
    }

    /// Judges each packet once, in order (`accept(queue, packet)`: true lets it on).
    pub fn judge(self, mut accept: impl FnMut(u16, &[u8]) -> bool) -> Verdicts {
        let Held { packets, reply } = self;
        let verdicts = packets.iter().map(|(q, p)| accept(*q, p)).collect();
        Verdicts { verdicts, reply }
    }
}

/// A judged batch: its verdicts leave when it is released (or dropped).
pub struct Verdicts {
    verdicts: Vec<bool>,
    reply: Reply,
}

impl Verdicts {
    /// Sends the verdicts to the reader, which hands them to the kernel.
    pub fn release(mut self) {
        let verdicts = std::mem::take(&mut self.verdicts);
        self.reply.send(verdicts);
    }
}

impl Drop for Verdicts {
    fn drop(&mut self) {
        // Judged but not released (the loop stopped between the two): the
        // verdicts are known, so they, not the default, are the answer.
        let verdicts = std::mem::take(&mut self.verdicts);
        if !self.reply.sent && verdicts.len() == self.reply.len {
            self.reply.send(verdicts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn batch(n: usize) -> Vec<(u16, Vec<u8>)> {
        (0..n)
            .map(|i| (47 + (i % 2) as u16, vec![i as u8]))
            .collect()
    }

    #[test]
    fn every_held_packet_gets_one_verdict_in_order() {
        let (tx, rx) = channel();
        let mut seen = Vec::new();
        let v = Held::new(batch(4), tx, true).judge(|q, p| {
            seen.push((q, p[0]));
            p[0] != 2
        });
        assert!(rx.try_recv().is_err(), "nothing leaves before release");
        v.release();
        assert_eq!(rx.try_recv().unwrap(), vec![true, true, false, true]);
        assert_eq!(seen, vec![(47, 0), (48, 1), (47, 2), (48, 3)]);
        assert!(rx.try_recv().is_err(), "one answer only");
    }

    #[test]
    fn a_batch_dropped_unjudged_answers_the_modes_default() {
        let (tx, rx) = channel();
        drop(Held::new(batch(3), tx.clone(), true));
        assert_eq!(rx.try_recv().unwrap(), vec![true; 3]);
        drop(Held::new(batch(2), tx, false));
        assert_eq!(rx.try_recv().unwrap(), vec![false; 2]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn verdicts_dropped_unreleased_still_answer_once_with_the_verdicts() {
        let (tx, rx) = channel();
        drop(Held::new(batch(2), tx, true).judge(|_, p| p[0] == 1));
        assert_eq!(rx.try_recv().unwrap(), vec![false, true]);
        assert!(rx.try_recv().is_err());
    }
}
