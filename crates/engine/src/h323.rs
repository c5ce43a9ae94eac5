//! The part of `nf_conntrack_h323` the engine models:
//!
//! - the H.245 address a Q.931 Setup or Connect announces (TPKT, Q.931,
//!   then the H.225 User-user element in aligned PER), from which the
//!   kernel's Q.931 helper expects the H.245 connection (`related`, TCP,
//!   from the other end);
//! - on that H.245 connection, the media and media control addresses of an
//!   OpenLogicalChannelAck (its forwardMultiplexAckParameters), from which
//!   the H.245 helper expects RTP and RTCP (UDP, from the other end).
//!
//! These carry the address where it can be read without the rest of the
//! grammar. Not modelled, so reported by replay as such: the address in
//! Call Proceeding, Alerting, Progress and Facility (it follows an
//! EndpointType), fastStart, H.245 tunnelled in Q.931, OpenLogicalChannel
//! (it follows a DataType), T.120, RAS.
//!
//! Bounds: a segment is read once, at most [`MAX_TPKTS`] TPKTs of it; every
//! offset is checked, nothing is allocated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TPKTs read from one segment at most (the kernel reads all; a segment
/// holds a handful).
pub const MAX_TPKTS: usize = 16;

/// The H.245 addresses announced in `payload`, a Q.931 connection's TCP
/// segment (whole TPKTs; a TPKT split across segments is not read).
pub fn h245_addresses(payload: &[u8]) -> impl Iterator<Item = (IpAddr, u16)> + '_ {
    tpkts(payload).filter_map(q931_h245)
}

/// The media addresses (RTP and RTCP, as announced) of the
/// OpenLogicalChannelAcks in `payload`, an H.245 connection's TCP segment.
pub fn media_addresses(payload: &[u8]) -> impl Iterator<Item = (IpAddr, u16)> + '_ {
    tpkts(payload).flat_map(|m| olc_ack_media(m).into_iter().flatten().flatten())
}

/// The bodies of the whole TPKTs of a segment, at most [`MAX_TPKTS`].
fn tpkts(payload: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut rest = payload;
    std::iter::from_fn(move || {
        // TPKT: version 3, reserved, length including its 4 octets.
        let [3, _, hi, lo, ..] = *rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let body = rest.get(4..len)?;
        rest = &rest[len..];
        Some(body)
    })
    .take(MAX_TPKTS)
}

/// The mediaChannel and mediaControlChannel of an OpenLogicalChannelAck
/// (MultimediaSystemControlMessage in aligned PER). Bit by bit: the
/// message CHOICE (extension bit, 2-bit index of 4: 1 response), the
/// ResponseMessage CHOICE (extension bit, 5-bit index of 19: 5
/// openLogicalChannelAck), then OpenLogicalChannelAck's extension bit,
/// its presence bit for reverseLogicalChannelParameters (not read: it must
/// be absent), forwardLogicalChannelNumber (2 aligned octets), the
/// extension additions' bitmap (a 7-bit count less one, then one bit
/// each: forwardMultiplexAckParameters is the second), and the additions
/// before it, each an open type (aligned length octet and contents);
/// inside it, the CHOICE (extension bit, h2250LogicalChannelAckParameters
/// the only alternative) and that sequence: extension bit, presence of
/// nonStandard (must be absent), sessionID (8 bits), mediaChannel,
/// mediaControlChannel and dynamicRTPPayloadType, then the addresses.
fn olc_ack_media(m: &[u8]) -> Option<[Option<(IpAddr, u16)>; 2]> {
    let mut bits = Bits { data: m, at: 0 };
    if bits.take(1)? != 0 || bits.take(2)? != 1 {
        return None;
    }
    if bits.take(1)? != 0 || bits.take(5)? != 5 {
        return None;
    }
    let extended = bits.take(1)? == 1;
    if bits.take(1)? != 0 || !extended {
        return None;
    }
    bits.align();
    bits.skip_octets(2)?; // forwardLogicalChannelNumber
    if bits.take(1)? != 0 {
        return None; // a bitmap of more than 64 additions
    }
    let additions = bits.take(6)? as usize + 1;
    let mut present = Vec::with_capacity(2);
    for _ in 0..additions.min(2) {
        present.push(bits.take(1)? == 1);
    }
    for _ in 2..additions {
        bits.take(1)?;
    }
    if present.get(1) != Some(&true) {
        return None;
    }
    if present[0] {
        bits.align();
        let len = usize::from(bits.octet()?);
        bits.skip_octets(len)?; // separateStack
    }
    bits.align();
    let len = usize::from(bits.octet()?);
    let start = bits.at / 8;
    let mut ack = Bits {
        data: m.get(start..start + len)?,
        at: 0,
    };
    if ack.take(1)? != 0 {
        return None; // the CHOICE's extension bit: an alternative not ours
    }
    ack.take(1)?; // H2250LogicalChannelAckParameters' extension bit
    let (non_standard, session, media, control) =
        (ack.take(1)?, ack.take(1)?, ack.take(1)?, ack.take(1)?);
    ack.take(1)?; // dynamicRTPPayloadType's presence: it comes after
    if non_standard != 0 {
        return None;
    }
    if session == 1 {
        ack.take(8)?;
    }
    let media = if media == 1 {
        Some(ack.h245_address()?)
    } else {
        None
    };
    let control = if control == 1 {
        Some(ack.h245_address()?)
    } else {
        None
    };
    Some([media, control])
}

/// The H.245 address of one Q.931 message, if it is a Setup or Connect
/// that has one.
fn q931_h245(m: &[u8]) -> Option<(IpAddr, u16)> {
    // Discriminator 8, call reference (length, value), message type.
    if *m.first()? != 0x08 {
        return None;
    }
    let crv = usize::from(*m.get(1)?);
    let kind = *m.get(2 + crv)?;
    let mut at = 3 + crv;
    // As the kernel reads them: one single-octet element (top bit set)
    // right after the message type, then elements with a length octet,
    // except User-user (0x7e), whose length has two.
    if *m.get(at)? & 0x80 != 0 {
        at += 1;
    }
    loop {
        let ie = *m.get(at)?;
        if ie == 0x7e {
            let len = usize::from(u16::from_be_bytes([*m.get(at + 1)?, *m.get(at + 2)?]));
            let uu = m.get(at + 3..at + 3 + len)?;
            // Its first octet is the protocol discriminator (5: X.208/X.209).
            return h225_h245(kind, uu.get(1..)?);
        }
        at += 2 + usize::from(*m.get(at + 1)?);
    }
}

/// Q.931 message types that carry a Setup-UUIE or Connect-UUIE.
const SETUP: u8 = 0x05;
const CONNECT: u8 = 0x07;

/// Reads H323-UserInformation far enough for the h245Address of a Setup
/// or Connect body. Aligned PER, bit by bit: H323-UserInformation's
/// extension bit and user-data presence bit, H323-UU-PDU's extension bit
/// and nonStandardData presence bit, the body CHOICE (extension bit, 3-bit
/// index of 7), then the UUIE's extension bit and its optional-field
/// bitmap (Setup: 7 fields, h245Address first; Connect: 1), the protocol
/// identifier (octet-aligned length and contents), and the TransportAddress
/// CHOICE (extension bit, 3-bit index: 0 ipAddress, 3 ip6Address), whose
/// address octets are aligned and followed by a 2-octet port.
fn h225_h245(kind: u8, per: &[u8]) -> Option<(IpAddr, u16)> {
    let mut bits = Bits { data: per, at: 0 };
    bits.take(4)?; // two extension bits, two presence bits
    if bits.take(1)? != 0 {
        return None; // a body outside the root: none of ours
    }
    let (index, optionals) = match bits.take(3)? {
        0 => (0, 7),
        2 => (2, 1),
        _ => return None,
    };
    let expected = if index == 0 { SETUP } else { CONNECT };
    if kind != expected {
        return None;
    }
    bits.take(1)?; // the UUIE's extension bit
    let present = bits.take(optionals)? >> (optionals - 1) == 1;
    if !present {
        return None;
    }
    bits.align();
    let oid = usize::from(bits.octet()?);
    bits.skip_octets(oid)?;
    if bits.take(1)? != 0 {
        return None;
    }
    let ip: IpAddr = match bits.take(3)? {
        0 => {
            bits.align();
            let o = bits.octets::<4>()?;
            IpAddr::V4(Ipv4Addr::from(o))
        }
        3 => {
            bits.align();
            let o = bits.octets::<16>()?;
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    let port = u16::from_be_bytes(bits.octets::<2>()?);
    Some((ip, port))
}

/// A bit reader over PER, most significant bit first.
struct Bits<'a> {
    data: &'a [u8],
    /// Position in bits.
    at: usize,
}

impl Bits<'_> {
    /// An H.245 TransportAddress holding a unicast IPv4 or IPv6 address:
    /// the CHOICE (extension bit, 1-bit index: 0 unicastAddress), the
    /// UnicastAddress CHOICE (extension bit, 3-bit index of 5: 0 iPAddress,
    /// 2 iP6Address), the address sequence's extension bit, its aligned
    /// octets and 2-octet port (tsapIdentifier).
    fn h245_address(&mut self) -> Option<(IpAddr, u16)> {
        if self.take(1)? != 0 || self.take(1)? != 0 || self.take(1)? != 0 {
            return None;
        }
        let index = self.take(3)?;
        self.take(1)?;
        self.align();
        let ip = match index {
            0 => IpAddr::V4(Ipv4Addr::from(self.octets::<4>()?)),
            2 => IpAddr::V6(Ipv6Addr::from(self.octets::<16>()?)),
            _ => return None,
        };
        Some((ip, u16::from_be_bytes(self.octets::<2>()?)))
    }

    /// The next `n` (at most 8) bits as a number.
    fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            let byte = *self.data.get(self.at / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.at % 8)) & 1);
            self.at += 1;
        }
        Some(v)
    }

    fn align(&mut self) {
        self.at = self.at.next_multiple_of(8);
    }

    fn octet(&mut self) -> Option<u8> {
        let b = *self.data.get(self.at / 8)?;
        self.at += 8;
        Some(b)
    }

    fn skip_octets(&mut self, n: usize) -> Option<()> {
        let end = self.at / 8 + n;
        (end <= self.data.len()).then(|| self.at = end * 8)
    }

    fn octets<const N: usize>(&mut self) -> Option<[u8; N]> {
        let start = self.at / 8;
        let o = self.data.get(start..start + N)?.try_into().ok()?;
        self.at += N * 8;
        Some(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TPKT'd Q.931 message of `kind` around a PER User-user body.
    fn tpkt(kind: u8, per: &[u8]) -> Vec<u8> {
        let mut q = vec![0x08, 2, 0x80, 0x01, kind, 0xa1, 0x04, 1, 0x88];
        q.push(0x7e);
        q.extend(u16::try_from(per.len() + 1).unwrap().to_be_bytes());
        q.push(0x05);
        q.extend(per);
        let mut t = vec![3, 0];
        t.extend(u16::try_from(q.len() + 4).unwrap().to_be_bytes());
        t.extend(q);
        t
    }

    const OID: [u8; 7] = [6, 0x00, 0x08, 0x91, 0x4a, 0x00, 0x04];

    fn connect(addr: [u8; 4], port: u16) -> Vec<u8> {
        let mut per = vec![0b0000_0010, 0b0100_0000];
        per.extend(OID);
        per.push(0);
        per.extend(addr);
        per.extend(port.to_be_bytes());
        per.extend([0; 18]);
        tpkt(CONNECT, &per)
    }

    #[test]
    fn a_connect_announces_its_h245_address() {
        let m = connect([192, 0, 2, 1], 30000);
        let got: Vec<_> = h245_addresses(&m).collect();
        assert_eq!(got, [("192.0.2.1".parse().unwrap(), 30000)]);
    }

    #[test]
    fn a_setup_announces_its_h245_address_and_ipv6_is_read() {
        // Setup: index 0, then 7 optional bits with h245Address first.
        let mut per = vec![0b0000_0000, 0b0100_0000];
        per.extend(OID);
        per.push(0b0011_0000); // CHOICE index 3: ip6Address
        per.extend("2001:db8::9".parse::<Ipv6Addr>().unwrap().octets());
        per.extend(1720u16.to_be_bytes());
        let got: Vec<_> = h245_addresses(&tpkt(SETUP, &per)).collect();
        assert_eq!(got, [("2001:db8::9".parse().unwrap(), 1720)]);
    }

    #[test]
    fn without_an_h245_address_or_with_another_message_nothing_is_read() {
        let mut per = vec![0b0000_0010, 0b0000_0000];
        per.extend(OID);
        assert_eq!(h245_addresses(&tpkt(CONNECT, &per)).count(), 0);
        // A Connect body under an Alerting message type.
        let m = connect([192, 0, 2, 1], 30000);
        let mut alerting = m.clone();
        alerting[4 + 4] = 0x01;
        assert_eq!(h245_addresses(&alerting).count(), 0);
    }

    #[test]
    fn cut_or_hostile_bytes_read_nothing_and_do_not_panic() {
        let m = connect([192, 0, 2, 1], 30000);
        for end in 0..m.len() {
            assert_eq!(h245_addresses(&m[..end]).count(), 0, "cut at {end}");
        }
        let mut lying = m.clone();
        lying[3] = 0xff; // TPKT longer than the segment
        assert_eq!(h245_addresses(&lying).count(), 0);
        let mut zero = m;
        zero[2] = 0;
        zero[3] = 0; // a TPKT of length 0 must not loop
        assert_eq!(h245_addresses(&zero).count(), 0);
    }

    /// An OpenLogicalChannelAck announcing RTP at `media` and RTCP at
    /// `control`, in a TPKT.
    pub(super) fn olc_ack(media: ([u8; 4], u16), control: ([u8; 4], u16)) -> Vec<u8> {
        let mut w = Writer::default();
        w.bits(0, 1); // MultimediaSystemControlMessage: response
        w.bits(1, 2);
        w.bits(0, 1); // ResponseMessage: openLogicalChannelAck
        w.bits(5, 5);
        w.bits(1, 1); // extended
        w.bits(0, 1); // no reverseLogicalChannelParameters
        w.octets(&1u16.to_be_bytes()); // forwardLogicalChannelNumber 2
        w.bits(0, 1); // 4 additions, the second present
        w.bits(3, 6);
        w.bits(0b0100, 4);
        let mut ack = Writer::default();
        ack.bits(0, 1); // CHOICE: h2250LogicalChannelAckParameters
        ack.bits(0, 1); // not extended
        ack.bits(0b01110, 5); // sessionID, mediaChannel, mediaControlChannel
        ack.bits(0, 8); // sessionID 1
        for (ip, port) in [media, control] {
            ack.bits(0, 1); // TransportAddress: unicastAddress
            ack.bits(0, 1);
            ack.bits(0, 1); // UnicastAddress: iPAddress
            ack.bits(0, 3);
            ack.bits(0, 1); // its extension bit
            ack.octets(&ip);
            ack.octets(&port.to_be_bytes());
        }
        w.octets(&[u8::try_from(ack.out.len()).unwrap()]);
        w.octets(&ack.out);
        let mut t = vec![3, 0];
        t.extend(u16::try_from(w.out.len() + 4).unwrap().to_be_bytes());
        t.extend(w.out);
        t
    }

    /// Writes PER bits, most significant first.
    #[derive(Default)]
    pub(super) struct Writer {
        out: Vec<u8>,
        at: usize,
    }

    impl Writer {
        fn bits(&mut self, v: u32, n: usize) {
            for i in (0..n).rev() {
                if self.at % 8 == 0 {
                    self.out.push(0);
                }
                let bit = u8::from((v >> i) & 1 == 1);
                *self.out.last_mut().unwrap() |= bit << (7 - self.at % 8);
                self.at += 1;
            }
        }
        fn align(&mut self) {
            self.at = self.at.next_multiple_of(8);
        }
        fn octets(&mut self, o: &[u8]) {
            self.align();
            self.out.extend(o);
            self.at += o.len() * 8;
        }
    }

    #[test]
    fn an_open_logical_channel_ack_announces_rtp_and_rtcp() {
        let m = olc_ack(([192, 0, 2, 1], 12000), ([192, 0, 2, 1], 12001));
        let got: Vec<_> = media_addresses(&m).collect();
        let host: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(got, [(host, 12000), (host, 12001)]);
        for end in 0..m.len() {
            assert_eq!(media_addresses(&m[..end]).count(), 0, "cut at {end}");
        }
        assert_eq!(h245_addresses(&m).count(), 0, "not Q.931");
    }

    #[test]
    fn random_bytes_behind_a_tpkt_header_never_panic() {
        // Both readers walk offsets taken from the bytes: any byte string
        // must end in an answer, never a panic or a loop.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20_000 {
            let len = 5 + (next() % 80) as usize;
            let mut m: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            m[0] = 3;
            m[2] = 0;
            m[3] = len as u8;
            if round % 2 == 0 {
                m[4] = 0x08; // a Q.931 discriminator, to get further
            }
            let _ = h245_addresses(&m).count();
            let _ = media_addresses(&m).count();
        }
        // Valid messages with a few bytes changed get deeper.
        let valid = [
            connect([192, 0, 2, 1], 30000),
            olc_ack(([192, 0, 2, 1], 12000), ([192, 0, 2, 1], 12001)),
        ];
        for round in 0..20_000 {
            let mut m = valid[round % 2].clone();
            for _ in 0..1 + next() % 3 {
                let at = 4 + (next() as usize) % (m.len() - 4);
                m[at] = next() as u8;
            }
            let _ = h245_addresses(&m).count();
            let _ = media_addresses(&m).count();
        }
    }

    #[test]
    fn several_tpkts_in_one_segment_are_all_read() {
        let mut two = connect([192, 0, 2, 1], 30000);
        two.extend(connect([192, 0, 2, 1], 30002));
        assert_eq!(h245_addresses(&two).count(), 2);
    }
}
