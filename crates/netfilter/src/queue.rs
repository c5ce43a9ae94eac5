//! Packets held by the kernel for a verdict (NFQUEUE): the daemon's inline
//! mode. The queues are bound fail-open by default: when the daemon is not
//! reading (dead, or the queue full), the kernel lets packets through
//! instead of dropping them, so calls keep working.

use crate::error::NetfilterError;

/// A packet waiting for its verdict.
pub struct Queued {
    msg: nfq::Message,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("queue", &self.msg.get_queue_num())
            .finish()
    }
}

impl Queued {
    /// The queue it came from (tells the direction).
    pub fn queue(&self) -> u16 {
        self.msg.get_queue_num()
    }
    /// The IP packet.
    pub fn packet(&self) -> &[u8] {
        self.msg.get_payload()
    }
}

/// The NFQUEUE queues the daemon reads.
pub struct PacketQueue {
    q: nfq::Queue,
}

impl std::fmt::Debug for PacketQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PacketQueue")
    }
}

fn err(what: &str) -> impl Fn(std::io::Error) -> NetfilterError + '_ {
    move |e| NetfilterError::Netlink(format!("nfqueue {what}: {e}"))
}

impl PacketQueue {
    /// Binds queues `nums`; `fail_open` lets packets pass when the queue is full.
    pub fn open(nums: &[u16], fail_open: bool) -> Result<Self, NetfilterError> {
        let mut q = nfq::Queue::open().map_err(err("open"))?;
        for &n in nums {
            q.bind(n).map_err(err("bind"))?;
            q.set_copy_range(n, 0xffff).map_err(err("copy range"))?;
            q.set_queue_max_len(n, 4096).map_err(err("queue length"))?;
            q.set_fail_open(n, fail_open).map_err(err("fail-open"))?;
        }
        Ok(PacketQueue { q })
    }

    /// Waits for the next packet.
    pub fn recv(&mut self) -> Result<Queued, NetfilterError> {
        self.q.recv().map(|msg| Queued { msg }).map_err(err("recv"))
    }

    /// Waits for the next packet, then takes up to `max` in all of those
    /// already waiting, so that a burst costs one hand-over, not one each.
    pub fn recv_burst(&mut self, max: usize) -> Result<Vec<Queued>, NetfilterError> {
        let mut out = vec![self.recv()?];
        self.q.set_nonblocking(true);
        while out.len() < max {
            match self.q.recv() {
                Ok(msg) => out.push(Queued { msg }),
                Err(_) => break,
            }
        }
        self.q.set_nonblocking(false);
        Ok(out)
    }

    /// Lets the packet go on (`true`) or drops it.
    pub fn verdict(&mut self, mut p: Queued, accept: bool) -> Result<(), NetfilterError> {
        p.msg.set_verdict(if accept {
            nfq::Verdict::Accept
        } else {
            nfq::Verdict::Drop
        });
        self.q.verdict(p.msg).map_err(err("verdict"))
    }
}

/// Packets the kernel's queues dropped (`queue_dropped` + `user_dropped` of
/// /proc/net/netfilter/nfnetlink_queue) for our queue numbers; 0 in tap mode.
pub fn kernel_drops(queues: &[u16]) -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue") else {
        return 0;
    };
    text.lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let ours = f
                .first()
                .is_some_and(|q| queues.iter().any(|n| u64::from(*n) == *q));
            (ours && f.len() >= 7).then(|| f[5] + f[6])
        })
        .sum()
}
