//! Captures on disk: pcap and pcapng files read frame by frame, each frame's
//! link layer stripped down to the IP packet the engine reads.
//!
//! Link types: Ethernet (with 802.1Q/802.1ad tags), Linux cooked capture
//! (SLL and SLL2), raw IP (LINKTYPE_RAW and its IPv4/IPv6 variants),
//! BSD null/loopback and Linux NFLOG. Frames of other link types, and
//! frames that carry no IP (ARP, ...), come out without an IP packet so
//! the caller can count them.

use anyhow::{anyhow, bail, Context as _};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The pcapng Section Header Block type, which is also the file's magic.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// One frame of a capture.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, microseconds since the Unix epoch.
    pub micros: u64,
    /// The IP packet inside, if the frame carries one.
    pub ip: Option<&'a [u8]>,
    /// Bytes were cut off when the frame was captured (snap length).
    pub truncated: bool,
}

/// A pcapng interface: its link type and how long a timestamp tick is.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: DataLink,
    /// Timestamp ticks per second.
    ticks_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

enum Format {
    Pcap(PcapReader<Counted<BufReader<File>>>),
    PcapNg {
        reader: PcapNgReader<Counted<BufReader<File>>>,
        interfaces: Vec<Interface>,
    },
}

/// A capture being read.
pub struct Capture {
    format: Format,
    /// Set once the file ended early or a block could not be read: the
    /// frames before it were delivered, nothing after.
    damaged: Option<String>,
    /// Holds a frame the reader handed over owned rather than borrowed.
    owned: Vec<u8>,
}

/// A reader that counts the bytes read through it, for the progress bar.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// How far a capture has been read, in bytes of the file.
#[derive(Clone)]
pub struct Position(std::rc::Rc<std::cell::Cell<u64>>);

impl Position {
    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.0.get()
    }
}

impl Capture {
    /// Opens a pcap or pcapng file (told apart by its magic number).
    pub fn open(path: &Path) -> anyhow::Result<(Capture, Position)> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let mut buf = BufReader::with_capacity(1 << 16, file);
        let head = buf
            .fill_buf()
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let is_ng = head.starts_with(&PCAPNG_MAGIC);
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = Counted {
            inner: buf,
            read: read.clone(),
        };
        let format = if is_ng {
            Format::PcapNg {
                reader: PcapNgReader::new(counted)
                    .map_err(|e| anyhow!("{}: not a pcapng file: {e}", path.display()))?,
                interfaces: Vec::new(),
            }
        } else {
            Format::Pcap(
                PcapReader::new(counted)
                    .map_err(|e| anyhow!("{}: not a pcap or pcapng file: {e}", path.display()))?,
            )
        };
        if let Format::Pcap(r) = &format {
            supported(r.header().datalink)
                .with_context(|| format!("{}: cannot replay this capture", path.display()))?;
        }
        Ok((
            Capture {
                format,
                damaged: None,
                owned: Vec::new(),
            },
            Position(read),
        ))
    }

    /// Why reading stopped before the end of the file, if it did.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// The next frame, or `None` at the end (or at damage, see [`Capture::damaged`]).
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        let Capture {
            format,
            damaged,
            owned,
        } = self;
        if damaged.is_some() {
            return None;
        }
        match format {
            Format::Pcap(r) => {
                let link = r.header().datalink;
                match r.next_packet()? {
                    Ok(p) => {
                        let micros = u64::try_from(p.timestamp.as_micros()).unwrap_or(u64::MAX);
                        let truncated = (p.data.len() as u64) < u64::from(p.orig_len);
                        let ip = strip(link, bytes(p.data, owned));
                        Some(Frame {
                            micros,
                            ip,
                            truncated,
                        })
                    }
                    Err(e) => {
                        *damaged = Some(e.to_string());
                        None
                    }
                }
            }
            Format::PcapNg { reader, interfaces } => loop {
                let block = match reader.next_block()? {
                    Ok(b) => b,
                    Err(e) => {
                        *damaged = Some(e.to_string());
                        return None;
                    }
                };
                let (iface, raw_ts, data, orig_len) = match block {
                    Block::SectionHeader(_) => {
                        // Interface ids restart with each section.
                        interfaces.clear();
                        continue;
                    }
                    Block::InterfaceDescription(idb) => {
                        interfaces.push(interface(&idb));
                        continue;
                    }
                    Block::EnhancedPacket(epb) => (
                        epb.interface_id as usize,
                        // pcap-file stores the raw tick count in a Duration's nanoseconds.
                        u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX),
                        epb.data,
                        epb.original_len,
                    ),
                    Block::SimplePacket(spb) => (0, 0, spb.data, spb.original_len),
                    _ => continue,
                };
                let Some(i) = interfaces.get(iface).copied() else {
                    *damaged = Some(format!("a packet names interface {iface}, not described"));
                    return None;
                };
                let micros = to_micros(raw_ts, i);
                let truncated = (data.len() as u64) < u64::from(orig_len);
                // Copied out so that the block's borrow of the reader ends
                // in this iteration (the loop skips non-packet blocks).
                owned.clear();
                owned.extend_from_slice(&data);
                drop(data);
                let ip = strip(i.link, owned);
                return Some(Frame {
                    micros,
                    ip,
                    truncated,
                });
            },
        }
    }
}

/// The frame's bytes, kept in `owned` when the reader did not lend them.
fn bytes<'a>(data: std::borrow::Cow<'a, [u8]>, owned: &'a mut Vec<u8>) -> &'a [u8] {
    match data {
        std::borrow::Cow::Borrowed(d) => d,
        std::borrow::Cow::Owned(v) => {
            *owned = v;
            owned
        }
    }
}

fn interface(
    idb: &pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock<'_>,
) -> Interface {
    let mut i = Interface {
        link: idb.linktype,
        ticks_per_sec: 1_000_000,
        offset_secs: 0,
    };
    for o in &idb.options {
        match o {
            InterfaceDescriptionOption::IfTsResol(r) => {
                // High bit set: a negative power of 2, else of 10.
                let exp = u32::from(r & 0x7f);
                let base: u64 = if r & 0x80 != 0 { 2 } else { 10 };
                i.ticks_per_sec = base.checked_pow(exp).unwrap_or(u64::MAX);
            }
            InterfaceDescriptionOption::IfTsOffset(s) => i.offset_secs = *s as i64,
            _ => {}
        }
    }
    i
}

fn to_micros(ticks: u64, i: Interface) -> u64 {
    let t = i.ticks_per_sec.max(1);
    let secs = ticks / t;
    let frac = u128::from(ticks % t) * 1_000_000 / u128::from(t);
    let micros = secs.saturating_mul(1_000_000).saturating_add(frac as u64);
    let offset = i.offset_secs.saturating_mul(1_000_000);
    if offset >= 0 {
        micros.saturating_add(offset as u64)
    } else {
        micros.saturating_sub(offset.unsigned_abs())
    }
}

/// Refuses link types whose frames would all come out without IP.
fn supported(link: DataLink) -> anyhow::Result<()> {
    match link {
        DataLink::ETHERNET
        | DataLink::LINUX_SLL
        | DataLink::LINUX_SLL2
        | DataLink::RAW
        | DataLink::IPV4
        | DataLink::IPV6
        | DataLink::NULL
        | DataLink::LOOP
        | DataLink::NFLOG => Ok(()),
        other => bail!("link type {other:?} is not supported (Ethernet, Linux cooked, raw IP, null/loopback, NFLOG are)"),
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The IP packet of a frame of link type `link`, if there is one.
pub fn strip(link: DataLink, frame: &[u8]) -> Option<&[u8]> {
    let ip = match link {
        DataLink::ETHERNET => {
            let mut at = 12;
            let mut ty = be16(frame, at)?;
            while ty == ETHERTYPE_VLAN || ty == ETHERTYPE_QINQ {
                at += 4;
                ty = be16(frame, at)?;
            }
            ip_ethertype(ty, frame.get(at + 2..)?)?
        }
        DataLink::LINUX_SLL => ip_ethertype(be16(frame, 14)?, frame.get(16..)?)?,
        DataLink::LINUX_SLL2 => ip_ethertype(be16(frame, 0)?, frame.get(20..)?)?,
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => frame,
        // The 4-byte family is in the capturing host's byte order (NULL) or
        // big-endian (LOOP), and its value differs between systems for IPv6:
        // the IP version nibble says it all.
        DataLink::NULL | DataLink::LOOP => frame.get(4..)?,
        DataLink::NFLOG => nflog_payload(frame)?,
        _ => return None,
    };
    matches!(ip.first()? >> 4, 4 | 6).then_some(ip)
}

fn ip_ethertype(ty: u16, rest: &[u8]) -> Option<&[u8]> {
    matches!(ty, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then_some(rest)
}

/// NFULA_PAYLOAD, the TLV of an NFLOG frame holding the packet.
const NFULA_PAYLOAD: u16 = 9;

/// The packet of an NFLOG frame: a 4-byte header, then TLVs whose length and
/// type are in the capturing host's byte order (little-endian on the hosts
/// sipwall runs on), each padded to 4 bytes.
fn nflog_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut rest = frame.get(4..)?;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let ty = u16::from_le_bytes([rest[2], rest[3]]) & 0x7fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if ty == NFULA_PAYLOAD {
            return Some(&rest[4..len]);
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 4] = [0x45, 0, 0, 20];

    #[test]
    fn ethernet_with_a_vlan_tag_is_stripped_to_ip() {
        let mut f = vec![0u8; 12];
        f.extend([0x81, 0x00, 0, 5, 0x08, 0x00]);
        f.extend(IP);
        assert_eq!(strip(DataLink::ETHERNET, &f), Some(&IP[..]));
    }

    #[test]
    fn arp_and_short_frames_carry_no_ip() {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x06, 0, 1]);
        assert_eq!(strip(DataLink::ETHERNET, &f), None);
        assert_eq!(strip(DataLink::ETHERNET, &[0; 13]), None);
        assert_eq!(strip(DataLink::LINUX_SLL2, &[0x08, 0x00, 1]), None);
    }

    #[test]
    fn nflog_payload_tlv_is_found_after_other_tlvs() {
        // header, a prefix TLV of 6 bytes (padded to 8), then the payload.
        let mut f = vec![2, 0, 0, 7];
        f.extend([6, 0, 10, 0, b'a', 0, 0, 0]);
        f.extend([8, 0, 9, 0]);
        f.extend(IP);
        assert_eq!(strip(DataLink::NFLOG, &f), Some(&IP[..]));
    }

    #[test]
    fn pcapng_ticks_follow_the_interface_resolution() {
        let nanos = Interface {
            link: DataLink::RAW,
            ticks_per_sec: 1_000_000_000,
            offset_secs: 0,
        };
        assert_eq!(to_micros(1_500_000_123, nanos), 1_500_000);
        let binary = Interface {
            ticks_per_sec: 1024,
            offset_secs: 10,
            ..nanos
        };
        assert_eq!(to_micros(2048 + 512, binary), 12_500_000);
    }
}

/// Where a capture's last complete record ends, when the file ends inside
/// a record: found by walking the record (pcap) or block (pcapng) lengths
/// from the start, since the readers buffer ahead and cannot say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The byte offset just after the last complete record.
    pub intact: u64,
    /// The file's length.
    pub len: u64,
}

/// Finds where `path` is cut; `None` if its records fill it exactly (or
/// it cannot be read: the reader reports that).
pub fn cut(path: &Path) -> Option<Cut> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut head = [0u8; 12];
    let at = |f: &mut File, pos: u64, buf: &mut [u8]| -> bool {
        f.seek(SeekFrom::Start(pos)).is_ok() && f.read_exact(buf).is_ok()
    };
    if !at(&mut f, 0, &mut head[..4]) {
        return None;
    }
    let u32_of = |b: &[u8], le: bool| {
        let b = [b[0], b[1], b[2], b[3]];
        u64::from(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut pos;
    if head[..4] == PCAPNG_MAGIC {
        pos = 0;
        let mut le = true;
        while pos < len {
            if pos + 12 > len || !at(&mut f, pos, &mut head) {
                return Some(Cut { intact: pos, len });
            }
            if head[..4] == PCAPNG_MAGIC {
                // Each section states its own byte order.
                le = head[8..12] == [0x4d, 0x3c, 0x2b, 0x1a];
            }
            let size = u32_of(&head[4..8], le);
            if size < 12 || pos + size > len {
                return Some(Cut { intact: pos, len });
            }
            pos += size;
        }
    } else {
        let le = match head[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
            _ => return None,
        };
        if len < 24 {
            return Some(Cut { intact: 0, len });
        }
        pos = 24;
        while pos < len {
            if pos + 16 > len || !at(&mut f, pos + 8, &mut head[..4]) {
                return Some(Cut { intact: pos, len });
            }
            let size = 16 + u32_of(&head[..4], le);
            if pos + size > len {
                return Some(Cut { intact: pos, len });
            }
            pos += size;
        }
    }
    None
}
