//! Set elements through netlink: bans and pinholes at the rate the kernel
//! can take them (hundreds of thousands per second in batches), instead of
//! one `nft` process per element (under 200 per second).
//!
//! Additions share batches (`add` of an existing element refreshes its
//! timeout). Deletions never do: a delete of an element that already
//! expired fails with ENOENT and would roll back its whole batch, so each
//! goes alone and ENOENT counts as done.
//!
//! One element the kernel refuses (a timeout past its range, say) rolls
//! back its whole batch; [`SetWriter::add_each`] then retries the batch
//! element by element, so a restore puts back everything the kernel takes
//! and names what it does not. Answers are matched to requests by sequence
//! number, so the acks of a batch abandoned at its first error can never be
//! taken for the next batch's.

use crate::error::NetfilterError;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST};
use netlink_packet_netfilter::nftables::{
    DataAttribute, ListAttribute, NfTablesMessage, SetElementAttribute, SetElementFlags,
    SetElementList, SetElementMessage,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use std::net::IpAddr;
use std::time::Duration;

/// nftables' netlink subsystem id (for batch begin/end).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// Elements per message: large enough for throughput, small enough for a socket buffer.
const PER_MESSAGE: usize = 256;
const ENOENT: i32 = 2;

/// The key of a set element, in the set's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `ipv4_addr` or `ipv6_addr`.
    Addr(IpAddr),
    /// `inet_service`.
    Port(u16),
    /// `ipv4_addr . inet_service` or `ipv6_addr . inet_service`.
    AddrPort(IpAddr, u16),
}

impl Key {
    /// The key as the kernel stores it: fields in network order, each
    /// padded to 4 bytes (nftables registers are 32 bits wide).
    fn bytes(self) -> Vec<u8> {
        let addr = |a: IpAddr| match a {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        match self {
            Key::Addr(a) => addr(a),
            Key::Port(p) => p.to_be_bytes().to_vec(),
            Key::AddrPort(a, p) => {
                let mut v = addr(a);
                v.extend_from_slice(&p.to_be_bytes());
                v.extend_from_slice(&[0, 0]);
                v
            }
        }
    }
}

/// An element to add: the set, its key, its timeout (zero: the set's own).
pub type Addition<'a> = (&'a str, Key, Duration);

/// Why a batch did not go in.
enum Failed {
    /// The kernel refused it (errno); the socket is fine.
    Refused(i32),
    /// The conversation with the kernel failed.
    Socket(NetfilterError),
}

impl From<Failed> for NetfilterError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Refused(errno) => NetfilterError::Netlink(format!(
                "the kernel refused a set update: {}",
                std::io::Error::from_raw_os_error(errno)
            )),
            Failed::Socket(e) => e,
        }
    }
}

/// Writes elements into the sets of one `inet` table.
pub struct SetWriter {
    socket: Socket,
    table: String,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetWriter")
            .field("table", &self.table)
            .finish()
    }
}

fn io(what: &str) -> impl Fn(std::io::Error) -> NetfilterError + '_ {
    move |e| NetfilterError::Netlink(format!("{what}: {e}"))
}

impl SetWriter {
    /// Opens a netlink socket in the current network namespace for `table`.
    pub fn open(table: &str) -> Result<Self, NetfilterError> {
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(io("netlink socket"))?;
        socket.bind_auto().map_err(io("netlink bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("netlink connect"))?;
        Ok(SetWriter {
            socket,
            table: table.to_owned(),
            seq: 1,
            buf: vec![0; 1 << 16],
        })
    }

    fn message(
        &mut self,
        family: NetfilterProtoFamily,
        res_id: u16,
        inner: impl Into<netlink_packet_netfilter::NetfilterMessageInner>,
        flags: u16,
    ) -> Vec<u8> {
        let mut m = NetlinkMessage::from(NetfilterMessage::new(
            NetfilterHeader::new(family, 0, res_id),
            inner,
        ));
        m.header.flags = NLM_F_REQUEST | flags;
        m.header.sequence_number = self.seq;
        self.seq = self.seq.wrapping_add(1);
        m.finalize();
        let mut out = vec![0; m.buffer_len()];
        m.serialize(&mut out);
        out
    }

    /// Adds (or refreshes) elements of `set`, each with its timeout, in as
    /// few transactions as possible. Returns when the kernel has them all;
    /// an element it refuses fails its whole batch.
    pub fn add(&mut self, set: &str, elements: &[(Key, Duration)]) -> Result<(), NetfilterError> {
        for chunk in elements.chunks(PER_MESSAGE * 16) {
            let chunk: Vec<Addition<'_>> = chunk.iter().map(|(k, t)| (set, *k, *t)).collect();
            self.add_batch(&chunk)?;
        }
        Ok(())
    }

    /// Adds elements like [`SetWriter::add`], but a batch the kernel refuses
    /// is retried element by element: everything the kernel takes goes in,
    /// and the refused elements come back with the kernel's reason. An
    /// error is only a failed conversation with the kernel.
    pub fn add_each(
        &mut self,
        set: &str,
        elements: &[(Key, Duration)],
    ) -> Result<Vec<(Key, NetfilterError)>, NetfilterError> {
        let all: Vec<Addition<'_>> = elements.iter().map(|(k, t)| (set, *k, *t)).collect();
        Ok(self
            .add_each_of(&all)?
            .into_iter()
            .map(|(i, why)| (all[i].1, why))
            .collect())
    }

    /// Adds elements of any sets of the table, in as few transactions as
    /// possible (one up to 4096 elements: a daemon's loop pass), retried
    /// element by element when the kernel refuses a batch, like
    /// [`SetWriter::add_each`]. Returns the positions in `elements` of those
    /// refused, with the kernel's reason.
    pub fn add_each_of(
        &mut self,
        elements: &[Addition<'_>],
    ) -> Result<Vec<(usize, NetfilterError)>, NetfilterError> {
        let mut refused = Vec::new();
        for (n, chunk) in elements.chunks(PER_MESSAGE * 16).enumerate() {
            match self.add_batch(chunk) {
                Ok(()) => {}
                Err(Failed::Socket(e)) => return Err(e),
                Err(Failed::Refused(_)) => {
                    for (i, one) in chunk.iter().enumerate() {
                        match self.add_batch(std::slice::from_ref(one)) {
                            Ok(()) => {}
                            Err(Failed::Socket(e)) => return Err(e),
                            Err(refusal) => {
                                refused.push((n * PER_MESSAGE * 16 + i, refusal.into()))
                            }
                        }
                    }
                }
            }
        }
        Ok(refused)
    }

    /// One transaction adding `chunk`: a message per run of one set (at
    /// most [`PER_MESSAGE`] elements each).
    fn add_batch(&mut self, chunk: &[Addition<'_>]) -> Result<(), Failed> {
        let first = self.seq;
        let mut batch = self.message(
            NetfilterProtoFamily::Unspec,
            NFNL_SUBSYS_NFTABLES,
            ControlMessage::BatchBegin,
            0,
        );
        let mut acks = Vec::new();
        for run in chunk.chunk_by(|a, b| a.0 == b.0) {
            for part in run.chunks(PER_MESSAGE) {
                let list = part.iter().map(|(_, k, t)| element(*k, *t)).collect();
                let msg = SetElementMessage {
                    attributes: vec![
                        SetElementList::Table(self.table.clone()),
                        SetElementList::Set(part[0].0.to_owned()),
                        SetElementList::Elements(list),
                    ],
                };
                acks.push(self.seq);
                batch.extend(self.message(
                    NetfilterProtoFamily::Inet,
                    0,
                    NfTablesMessage::NewSetElement(msg),
                    NLM_F_CREATE | NLM_F_ACK,
                ));
            }
        }
        batch.extend(self.message(
            NetfilterProtoFamily::Unspec,
            NFNL_SUBSYS_NFTABLES,
            ControlMessage::BatchEnd,
            0,
        ));
        self.socket
            .send(&batch, 0)
            .map_err(|e| Failed::Socket(io("netlink send")(e)))?;
        self.await_acks(first, acks, false)
    }

    /// Makes `elements` the whole content of `set`: its flush and the
    /// first additions go in one transaction (a set that fits in it is
    /// never seen empty), the rest in transactions of up to 4,096.
    pub fn replace_keys(
        &mut self,
        set: &str,
        elements: &[(Key, Duration)],
    ) -> Result<(), NetfilterError> {
        let additions = elements
            .chunks(PER_MESSAGE)
            .map(|part| self.keys_message(set, part))
            .collect();
        self.replace_with(set, additions)
    }

    /// Deletes `deletes` then adds `adds` in `set`, in one transaction
    /// when they fit in one; when the kernel refuses it (a deleted element
    /// had expired already) or it is larger, deletions go one by one (one
    /// already gone is not an error), then the additions.
    pub fn update_keys(
        &mut self,
        set: &str,
        deletes: &[Key],
        adds: &[(Key, Duration)],
    ) -> Result<(), NetfilterError> {
        if deletes.len() + adds.len() <= PER_MESSAGE * 16 {
            let mut batch = Vec::new();
            for part in deletes.chunks(PER_MESSAGE) {
                batch.push((self.keys_delete(set, part), NLM_F_ACK));
            }
            for part in adds.chunks(PER_MESSAGE) {
                batch.push(self.keys_message(set, part));
            }
            match self.send_batch(batch, false) {
                Ok(()) => return Ok(()),
                Err(Failed::Socket(e)) => return Err(e),
                Err(Failed::Refused(_)) => {}
            }
        }
        for &k in deletes {
            self.delete(set, k)?;
        }
        self.add(set, adds)
    }

    /// One message deleting `keys` from `set`.
    fn keys_delete(&self, set: &str, keys: &[Key]) -> NfTablesMessage {
        let list = keys
            .iter()
            .map(|k| {
                ListAttribute::Element(vec![SetElementAttribute::Key(DataAttribute::Value(
                    k.bytes(),
                ))])
            })
            .collect();
        NfTablesMessage::DeleteSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(self.table.clone()),
                SetElementList::Set(set.to_owned()),
                SetElementList::Elements(list),
            ],
        })
    }

    /// Flushes `set` and sends `additions` (messages for it): the flush
    /// and the first [`MESSAGES_PER_BATCH`] in one transaction, so a set
    /// that fits in it is never seen empty, the rest in transactions of
    /// as many. Keys and prefixes are replaced alike.
    fn replace_with(
        &mut self,
        set: &str,
        additions: Vec<(NfTablesMessage, u16)>,
    ) -> Result<(), NetfilterError> {
        let flush = NfTablesMessage::DeleteSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(self.table.clone()),
                SetElementList::Set(set.to_owned()),
            ],
        });
        let mut rest = additions.into_iter();
        let first = std::iter::once((flush, NLM_F_ACK))
            .chain(rest.by_ref().take(MESSAGES_PER_BATCH))
            .collect();
        self.send_batch(first, false)?;
        loop {
            let batch: Vec<_> = rest.by_ref().take(MESSAGES_PER_BATCH).collect();
            if batch.is_empty() {
                return Ok(());
            }
            self.send_batch(batch, false)?;
        }
    }

    /// One message adding `part` to `set`.
    fn keys_message(&self, set: &str, part: &[(Key, Duration)]) -> (NfTablesMessage, u16) {
        let msg = SetElementMessage {
            attributes: vec![
                SetElementList::Table(self.table.clone()),
                SetElementList::Set(set.to_owned()),
                SetElementList::Elements(part.iter().map(|(k, t)| element(*k, *t)).collect()),
            ],
        };
        (
            NfTablesMessage::NewSetElement(msg),
            NLM_F_CREATE | NLM_F_ACK,
        )
    }

    /// Deletes one element; an element that is already gone is not an error.
    pub fn delete(&mut self, set: &str, key: Key) -> Result<(), NetfilterError> {
        let msg = self.keys_delete(set, &[key]);
        Ok(self.send_one(msg, NLM_F_ACK, true)?)
    }

    /// Sends `msg` alone in a batch and waits for its answer; with
    /// `enoent_ok`, an element that is not there is not an error.
    fn send_one(
        &mut self,
        msg: NfTablesMessage,
        flags: u16,
        enoent_ok: bool,
    ) -> Result<(), Failed> {
        self.send_batch(vec![(msg, flags)], enoent_ok)
    }

    /// Sends `msgs` (each with its flags) as one transaction and waits for
    /// their answers; with `enoent_ok`, an element that is not there is not
    /// an error.
    fn send_batch(
        &mut self,
        msgs: Vec<(NfTablesMessage, u16)>,
        enoent_ok: bool,
    ) -> Result<(), Failed> {
        let first = self.seq;
        let mut batch = self.message(
            NetfilterProtoFamily::Unspec,
            NFNL_SUBSYS_NFTABLES,
            ControlMessage::BatchBegin,
            0,
        );
        let mut acks = Vec::with_capacity(msgs.len());
        for (msg, flags) in msgs {
            acks.push(self.seq);
            batch.extend(self.message(NetfilterProtoFamily::Inet, 0, msg, flags));
        }
        batch.extend(self.message(
            NetfilterProtoFamily::Unspec,
            NFNL_SUBSYS_NFTABLES,
            ControlMessage::BatchEnd,
            0,
        ));
        self.socket
            .send(&batch, 0)
            .map_err(|e| Failed::Socket(io("netlink send")(e)))?;
        self.await_acks(first, acks, enoent_ok)
    }

    /// Waits for the answers to the messages numbered `wanted` of the batch
    /// whose numbers start at `first`; answers to earlier, abandoned
    /// batches are skipped.
    fn await_acks(
        &mut self,
        first: u32,
        mut wanted: Vec<u32>,
        enoent_ok: bool,
    ) -> Result<(), Failed> {
        let ours = |seq: u32| seq.wrapping_sub(first) < self.seq.wrapping_sub(first);
        while !wanted.is_empty() {
            let n = self
                .socket
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| Failed::Socket(io("netlink recv")(e)))?;
            let mut at = 0;
            while at < n {
                let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&self.buf[at..n])
                    .map_err(|e| {
                        Failed::Socket(NetfilterError::Netlink(format!("netlink answer: {e}")))
                    })?;
                let len = msg.header.length as usize;
                if let NetlinkPayload::Error(e) = &msg.payload {
                    let seq = msg.header.sequence_number;
                    let acked = wanted.iter().position(|w| *w == seq);
                    if let Some(i) = acked {
                        wanted.swap_remove(i);
                    }
                    // A refused batch begin or end is acked too.
                    if acked.is_some() || (ours(seq) && e.code.is_some()) {
                        if let Some(code) = e.code {
                            let errno = -code.get();
                            if !(enoent_ok && errno == ENOENT) {
                                // The batch is rolled back; its other answers
                                // (if the kernel sends them) are skipped later.
                                return Err(Failed::Refused(errno));
                            }
                        }
                    }
                }
                if len == 0 {
                    break;
                }
                at += (len + 3) & !3;
            }
        }
        Ok(())
    }
}

/// Prefix bans, for `flags interval` sets: one prefix is two elements, as
/// nft writes them (seen with `nft --debug=mnl` on this kernel): its first
/// address with the timeout, then an INTERVAL_END element, without one, at
/// the first address after the prefix. A start without its end would match
/// every address above it; a prefix that reaches the top of the address
/// space has no end (its interval stays open).
impl SetWriter {
    /// Adds (or refreshes) prefixes `(address, length, timeout)` to the
    /// interval set `set`; host bits of the address are ignored. A length
    /// longer than the family's is refused before anything is sent.
    pub fn add_prefixes(
        &mut self,
        set: &str,
        prefixes: &[(IpAddr, u8, Duration)],
    ) -> Result<(), NetfilterError> {
        let bounds = bounds_of(prefixes)?;
        for chunk in bounds.chunks(PREFIXES_PER_MESSAGE) {
            let msg = self.prefix_message(set, chunk);
            self.send_batch(vec![msg], false)?;
        }
        Ok(())
    }

    /// Makes `prefixes` the whole content of the interval set `set`: its
    /// flush and the first additions go in one transaction, so a set that
    /// fits in it (thousands of prefixes) is never seen empty; the rest
    /// follow in transactions of [`PREFIXES_PER_BATCH`] prefixes each.
    pub fn replace_prefixes(
        &mut self,
        set: &str,
        prefixes: &[(IpAddr, u8, Duration)],
    ) -> Result<(), NetfilterError> {
        let bounds = bounds_of(prefixes)?;
        let additions = bounds
            .chunks(PREFIXES_PER_MESSAGE)
            .map(|chunk| self.prefix_message(set, chunk))
            .collect();
        self.replace_with(set, additions)
    }

    /// Deletes `deletes` then adds `adds` in the interval set `set`, in
    /// one transaction when they fit in one (an addition may cover a
    /// prefix being deleted: the kernel refuses overlaps, and nobody sees
    /// the moment between). When the kernel refuses it (a deleted prefix
    /// had expired already), or it is larger, deletions go one by one
    /// (a prefix already gone is not an error), then the additions.
    pub fn update_prefixes(
        &mut self,
        set: &str,
        deletes: &[(IpAddr, u8)],
        adds: &[(IpAddr, u8, Duration)],
    ) -> Result<(), NetfilterError> {
        let bounds = bounds_of(adds)?;
        if deletes.len() + bounds.len() <= PREFIXES_PER_BATCH {
            let mut batch = Vec::with_capacity(deletes.len() + 1);
            for &(addr, len) in deletes {
                batch.push((self.prefix_delete(set, addr, len)?, NLM_F_ACK));
            }
            for chunk in bounds.chunks(PREFIXES_PER_MESSAGE) {
                batch.push(self.prefix_message(set, chunk));
            }
            match self.send_batch(batch, false) {
                Ok(()) => return Ok(()),
                Err(Failed::Socket(e)) => return Err(e),
                Err(Failed::Refused(_)) => {}
            }
        }
        for &(addr, len) in deletes {
            self.delete_prefix(set, addr, len)?;
        }
        self.add_prefixes(set, adds)
    }

    /// One message adding prefixes (as bounds) to `set`.
    fn prefix_message(&self, set: &str, chunk: &[Bounds]) -> (NfTablesMessage, u16) {
        let list = chunk
            .iter()
            .flat_map(|(start, end, timeout)| {
                let mut first = vec![SetElementAttribute::Key(DataAttribute::Value(
                    start.clone(),
                ))];
                if !timeout.is_zero() {
                    first.push(SetElementAttribute::Timeout(
                        timeout.as_millis().min(u128::from(u64::MAX)) as u64,
                    ));
                }
                let last = end.as_ref().map(|end| {
                    ListAttribute::Element(vec![
                        SetElementAttribute::Flags(SetElementFlags::IntervalEnd),
                        SetElementAttribute::Key(DataAttribute::Value(end.clone())),
                    ])
                });
                std::iter::once(ListAttribute::Element(first)).chain(last)
            })
            .collect();
        let msg = SetElementMessage {
            attributes: vec![
                SetElementList::Table(self.table.clone()),
                SetElementList::Set(set.to_owned()),
                SetElementList::Elements(list),
            ],
        };
        (
            NfTablesMessage::NewSetElement(msg),
            NLM_F_CREATE | NLM_F_ACK,
        )
    }
}

/// One element: its key, and its timeout unless zero (the set's own).
fn element(key: Key, timeout: Duration) -> ListAttribute<SetElementAttribute> {
    let mut attrs = vec![SetElementAttribute::Key(DataAttribute::Value(key.bytes()))];
    if !timeout.is_zero() {
        attrs.push(SetElementAttribute::Timeout(
            timeout.as_millis().min(u128::from(u64::MAX)) as u64,
        ));
    }
    ListAttribute::Element(attrs)
}

/// Prefixes per message (two elements each).
const PREFIXES_PER_MESSAGE: usize = PER_MESSAGE / 2;
/// Prefixes per transaction of [`SetWriter::replace_prefixes`]: what the
/// daemon's other batches carry, within a socket buffer.
pub const PREFIXES_PER_BATCH: usize = PREFIXES_PER_MESSAGE * MESSAGES_PER_BATCH;
/// Messages per transaction of a set filled in several.
const MESSAGES_PER_BATCH: usize = 16;

/// A prefix as the kernel stores it: first address, first address after
/// (none at the top), timeout.
type Bounds = (Vec<u8>, Option<Vec<u8>>, Duration);

/// The bounds of each prefix; a length too long for its family is refused
/// before anything is sent.
fn bounds_of(prefixes: &[(IpAddr, u8, Duration)]) -> Result<Vec<Bounds>, NetfilterError> {
    prefixes
        .iter()
        .map(|&(addr, len, timeout)| {
            let (start, end) = prefix_bounds(addr, len)
                .ok_or_else(|| NetfilterError::Netlink(format!("{addr}/{len} is not a prefix")))?;
            Ok((start, end, timeout))
        })
        .collect()
}

impl SetWriter {
    /// Deletes the prefix `addr/len` from the interval set `set`, both its
    /// elements (as `nft delete element` does); a prefix that is already
    /// gone is not an error.
    pub fn delete_prefix(
        &mut self,
        set: &str,
        addr: IpAddr,
        len: u8,
    ) -> Result<(), NetfilterError> {
        let msg = self.prefix_delete(set, addr, len)?;
        Ok(self.send_one(msg, NLM_F_ACK, true)?)
    }

    /// The message deleting `addr/len` (both its elements) from `set`.
    fn prefix_delete(
        &self,
        set: &str,
        addr: IpAddr,
        len: u8,
    ) -> Result<NfTablesMessage, NetfilterError> {
        let (start, end) = prefix_bounds(addr, len)
            .ok_or_else(|| NetfilterError::Netlink(format!("{addr}/{len} is not a prefix")))?;
        let mut list = vec![ListAttribute::Element(vec![SetElementAttribute::Key(
            DataAttribute::Value(start),
        )])];
        if let Some(end) = end {
            list.push(ListAttribute::Element(vec![
                SetElementAttribute::Flags(SetElementFlags::IntervalEnd),
                SetElementAttribute::Key(DataAttribute::Value(end)),
            ]));
        }
        Ok(NfTablesMessage::DeleteSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(self.table.clone()),
                SetElementList::Set(set.to_owned()),
                SetElementList::Elements(list),
            ],
        }))
    }
}

/// The first address of `addr/len` and the first address after it (`None`
/// at the top of the address space), in network order; `None` if `len` is
/// too long for the family.
fn prefix_bounds(addr: IpAddr, len: u8) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    match addr {
        IpAddr::V4(a) => {
            let host_bits = 32u32.checked_sub(u32::from(len))?;
            let start = if host_bits == 32 {
                0
            } else {
                (u32::from(a) >> host_bits) << host_bits
            };
            let end = u64::from(start) + (1u64 << host_bits);
            Some((
                start.to_be_bytes().to_vec(),
                u32::try_from(end).ok().map(|e| e.to_be_bytes().to_vec()),
            ))
        }
        IpAddr::V6(a) => {
            let host_bits = 128u32.checked_sub(u32::from(len))?;
            let start = if host_bits == 128 {
                0
            } else {
                (u128::from(a) >> host_bits) << host_bits
            };
            let end = if host_bits == 128 {
                None
            } else {
                start.checked_add(1u128 << host_bits)
            };
            Some((
                start.to_be_bytes().to_vec(),
                end.map(|e| e.to_be_bytes().to_vec()),
            ))
        }
    }
}

#[cfg(test)]
mod prefix_tests {
    use super::prefix_bounds;
    use std::net::IpAddr;

    fn bounds(a: &str, len: u8) -> Option<(String, Option<String>)> {
        let text = |b: &[u8]| -> String {
            match b.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap()).to_string(),
                _ => IpAddr::from(<[u8; 16]>::try_from(b).unwrap()).to_string(),
            }
        };
        prefix_bounds(a.parse().unwrap(), len).map(|(s, e)| (text(&s), e.as_deref().map(text)))
    }

    #[test]
    fn a_prefix_is_its_first_address_and_the_first_address_after_it() {
        let some = |s: &str, e: &str| Some((s.to_owned(), Some(e.to_owned())));
        assert_eq!(
            bounds("2001:db8:66::beef", 64),
            some("2001:db8:66::", "2001:db8:66:1::")
        );
        assert_eq!(
            bounds("198.51.100.200", 24),
            some("198.51.100.0", "198.51.101.0")
        );
        assert_eq!(bounds("192.0.2.66", 32), some("192.0.2.66", "192.0.2.67"));
        // The top of the space has no end; nothing is longer than the family.
        assert_eq!(
            bounds("ffff:ffff:ffff:ffff::1", 64),
            Some(("ffff:ffff:ffff:ffff::".to_owned(), None))
        );
        assert_eq!(
            bounds("255.255.255.9", 24),
            Some(("255.255.255.0".to_owned(), None))
        );
        assert_eq!(bounds("10.1.2.3", 0), Some(("0.0.0.0".to_owned(), None)));
        assert_eq!(bounds("::1", 0), Some(("::".to_owned(), None)));
        assert_eq!(bounds("10.1.2.3", 33), None);
        assert_eq!(bounds("::1", 129), None);
    }
}
