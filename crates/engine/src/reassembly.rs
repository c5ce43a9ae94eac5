//! TCP reassembly buffers: the unframed tail of each direction of each SIP
//! connection, until the rest of the message arrives.
//!
//! Bounded three ways, none of which can blind the guard to a new
//! connection: at most `MAX_BUFFER` bytes per buffer (more is malformed
//! SIP), at most [`MAX_STREAMS`] buffers and at most a byte budget (default
//! [`DEFAULT_BUDGET`], 64 MiB) in all, the least recently fed buffer
//! dropped first to make room. A buffer also ends with its connection: on
//! FIN or RST, and when the flow table forgets the flow (swept by the
//! caller through `Streams::retain`). Bytes are counted as allocated
//! (`Vec` capacity), not as used.

use crate::flow::FlowKey;
use lru::LruCache;
use std::net::IpAddr;

/// One direction of one connection: the flow and the sender's address and port.
pub(crate) type StreamKey = (FlowKey, IpAddr, u16);

/// The most bytes one buffer holds before its stream is judged malformed.
pub(crate) const MAX_BUFFER: usize = 64 * 1024;
/// The most buffers held.
pub const MAX_STREAMS: usize = 65_536;
/// The default budget of all buffers together, in bytes.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;

/// The reassembly buffers.
#[derive(Debug)]
pub struct Streams {
    bufs: LruCache<StreamKey, Vec<u8>>,
    bytes: usize,
    budget: usize,
    evicted: u64,
}

impl Streams {
    /// Buffers holding at most `budget` bytes in all.
    pub(crate) fn new(budget: usize) -> Self {
        Streams {
            bufs: LruCache::unbounded(),
            bytes: 0,
            budget,
            evicted: 0,
        }
    }

    /// Takes the buffer of `key` out (empty if there was none).
    pub(crate) fn take(&mut self, key: &StreamKey) -> Vec<u8> {
        match self.bufs.pop(key) {
            Some(b) => {
                self.bytes -= b.capacity();
                b
            }
            None => Vec::new(),
        }
    }

    /// Puts back what is left of `key`'s buffer, making room by dropping
    /// the least recently fed buffers.
    pub(crate) fn put(&mut self, key: StreamKey, mut buf: Vec<u8>) {
        if buf.is_empty() {
            return;
        }
        if buf.capacity() > 2 * buf.len() {
            buf.shrink_to_fit();
        }
        let cost = buf.capacity();
        if cost > self.budget {
            self.evicted += 1;
            return;
        }
        while self.bufs.len() >= MAX_STREAMS || self.bytes + cost > self.budget {
            let Some((_, old)) = self.bufs.pop_lru() else {
                break;
            };
            self.bytes -= old.capacity();
            self.evicted += 1;
        }
        self.bytes += cost;
        self.bufs.put(key, buf);
    }

    /// Drops both directions' buffers of connection `flow` (FIN or RST).
    pub(crate) fn end(&mut self, flow: FlowKey, a: (IpAddr, u16), b: (IpAddr, u16)) {
        for (addr, port) in [a, b] {
            self.take(&(flow, addr, port));
        }
    }

    /// Keeps only the buffers whose connection `alive` says still exists.
    pub(crate) fn retain(&mut self, mut alive: impl FnMut(&FlowKey) -> bool) {
        let dead: Vec<StreamKey> = self
            .bufs
            .iter()
            .filter(|(k, _)| !alive(&k.0))
            .map(|(k, _)| *k)
            .collect();
        for k in dead {
            self.take(&k);
        }
    }

    /// Buffers held.
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Bytes allocated by the buffers held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Buffers dropped to make room, so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}
