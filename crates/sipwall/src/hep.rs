//! HEPv3 (Homer's encapsulation): what the guard dropped, banned or
//! opened, as records a collector (Homer's heplify-server, `sngrep -L`)
//! shows inside the call flows it already has.
//!
//! A record is a `HEP3` header and chunks, each `vendor (0) · type ·
//! length · value`, all in network order. The chunks go in the order
//! every capture agent sends them (family, protocol, ports, time, payload
//! type, agent id, addresses, payload, then the correlation id), because
//! some collectors (sngrep 1.6) read them at fixed places rather than by
//! type.
//!
//! Sans-IO: [`Record::encode`] makes the bytes, the daemon sends them.

use std::net::{IpAddr, SocketAddr};

/// What a record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// A SIP message, as it was on the wire.
    Sip,
    /// A log line about the call (Homer's type 100): the guard's events.
    Log,
}

impl Payload {
    fn code(self) -> u8 {
        match self {
            Payload::Sip => 1,
            Payload::Log => 100,
        }
    }
}

/// One HEP record.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// Where the packet came from.
    pub src: SocketAddr,
    /// Where it went (both of one family).
    pub dst: SocketAddr,
    /// Whether it went over TCP (else UDP).
    pub tcp: bool,
    /// When, in microseconds since the Unix epoch.
    pub micros: u64,
    /// What the payload is.
    pub kind: Payload,
    /// The capture agent id (`[hep] id`).
    pub agent: u32,
    /// The payload.
    pub payload: &'a [u8],
    /// The Call-ID that ties the record to its call, when known.
    pub correlation: Option<&'a [u8]>,
}

/// Why a record cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HepError {
    /// A HEP record's length is 16 bits: this one would be longer.
    #[error("a HEP record is at most 65535 bytes; this one would be {0}")]
    TooLong(usize),
    /// The two addresses are of different families.
    #[error("source and destination are of different families")]
    MixedFamilies,
}

const VENDOR: u16 = 0;

/// Chunk types (vendor 0).
mod chunk {
    pub const FAMILY: u16 = 0x01;
    pub const PROTOCOL: u16 = 0x02;
    pub const SRC_V4: u16 = 0x03;
    pub const DST_V4: u16 = 0x04;
    pub const SRC_V6: u16 = 0x05;
    pub const DST_V6: u16 = 0x06;
    pub const SRC_PORT: u16 = 0x07;
    pub const DST_PORT: u16 = 0x08;
    pub const SECONDS: u16 = 0x09;
    pub const MICROS: u16 = 0x0a;
    pub const PAYLOAD_TYPE: u16 = 0x0b;
    pub const AGENT: u16 = 0x0c;
    pub const PAYLOAD: u16 = 0x0f;
    pub const CORRELATION: u16 = 0x11;
}

/// `AF_INET` and `AF_INET6` as Linux numbers them (HEP uses these).
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

impl Record<'_> {
    /// The record's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, HepError> {
        let mut out = Vec::with_capacity(128 + self.payload.len());
        out.extend_from_slice(b"HEP3\0\0");
        let (family, src, dst) = match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (
                AF_INET,
                (chunk::SRC_V4, s.octets().to_vec()),
                (chunk::DST_V4, d.octets().to_vec()),
            ),
            (IpAddr::V6(s), IpAddr::V6(d)) => (
                AF_INET6,
                (chunk::SRC_V6, s.octets().to_vec()),
                (chunk::DST_V6, d.octets().to_vec()),
            ),
            _ => return Err(HepError::MixedFamilies),
        };
        put(&mut out, chunk::FAMILY, &[family]);
        put(&mut out, chunk::PROTOCOL, &[if self.tcp { 6 } else { 17 }]);
        put(&mut out, chunk::SRC_PORT, &self.src.port().to_be_bytes());
        put(&mut out, chunk::DST_PORT, &self.dst.port().to_be_bytes());
        let secs = u32::try_from(self.micros / 1_000_000).unwrap_or(u32::MAX);
        put(&mut out, chunk::SECONDS, &secs.to_be_bytes());
        put(
            &mut out,
            chunk::MICROS,
            &((self.micros % 1_000_000) as u32).to_be_bytes(),
        );
        put(&mut out, chunk::PAYLOAD_TYPE, &[self.kind.code()]);
        put(&mut out, chunk::AGENT, &self.agent.to_be_bytes());
        put(&mut out, src.0, &src.1);
        put(&mut out, dst.0, &dst.1);
        // A chunk's length is 16 bits too: check before writing.
        let total =
            out.len() + 6 + self.payload.len() + self.correlation.map_or(0, |c| 6 + c.len());
        if total > usize::from(u16::MAX) {
            return Err(HepError::TooLong(total));
        }
        put(&mut out, chunk::PAYLOAD, self.payload);
        if let Some(c) = self.correlation {
            put(&mut out, chunk::CORRELATION, c);
        }
        let len = u16::try_from(out.len()).map_err(|_| HepError::TooLong(out.len()))?;
        out[4..6].copy_from_slice(&len.to_be_bytes());
        Ok(out)
    }
}

/// Appends one chunk; the caller has checked the lengths fit.
fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&VENDOR.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&((6 + value.len()) as u16).to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks of a record, by type, checking every length on the way.
    fn chunks(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!(&bytes[..4], b"HEP3");
        assert_eq!(
            usize::from(u16::from_be_bytes([bytes[4], bytes[5]])),
            bytes.len()
        );
        let mut at = 6;
        let mut out = Vec::new();
        while at < bytes.len() {
            assert_eq!(u16::from_be_bytes([bytes[at], bytes[at + 1]]), 0);
            let kind = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]);
            let len = usize::from(u16::from_be_bytes([bytes[at + 4], bytes[at + 5]]));
            out.push((kind, bytes[at + 6..at + len].to_vec()));
            at += len;
        }
        assert_eq!(at, bytes.len());
        out
    }

    fn options() -> Record<'static> {
        Record {
            src: "203.0.113.66:5070".parse().unwrap(),
            dst: "192.0.2.1:5060".parse().unwrap(),
            tcp: false,
            micros: 1_700_000_000_123_456,
            kind: Payload::Sip,
            agent: 2001,
            payload: b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nCall-ID: abc\r\n\r\n",
            correlation: Some(b"abc"),
        }
    }

    #[test]
    fn a_record_has_the_chunks_in_the_order_fixed_place_readers_expect() {
        let bytes = options().encode().unwrap();
        let c = chunks(&bytes);
        let kinds: Vec<u16> = c.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [0x01, 0x02, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x03, 0x04, 0x0f, 0x11]
        );
        assert_eq!(c[0].1, [2]);
        assert_eq!(c[1].1, [17]);
        assert_eq!(c[2].1, 5070u16.to_be_bytes());
        assert_eq!(c[4].1, 1_700_000_000u32.to_be_bytes());
        assert_eq!(c[5].1, 123_456u32.to_be_bytes());
        assert_eq!(c[6].1, [1]);
        assert_eq!(c[7].1, 2001u32.to_be_bytes());
        assert_eq!(c[8].1, [203, 0, 113, 66]);
        assert_eq!(c[9].1, [192, 0, 2, 1]);
        assert!(c[10].1.starts_with(b"OPTIONS sip:"));
        assert_eq!(c[11].1, b"abc");
    }

    #[test]
    fn ipv6_records_carry_sixteen_byte_addresses() {
        let mut r = options();
        r.src = "[2001:db8::66]:5060".parse().unwrap();
        r.dst = "[2001:db8::1]:5060".parse().unwrap();
        r.kind = Payload::Log;
        r.tcp = true;
        let c = chunks(&r.encode().unwrap());
        assert_eq!(c[0].1, [10]);
        assert_eq!(c[1].1, [6]);
        assert_eq!(c[6].1, [100]);
        assert_eq!((c[8].0, c[8].1.len()), (0x05, 16));
        assert_eq!((c[9].0, c[9].1.len()), (0x06, 16));
    }

    #[test]
    fn a_record_too_long_for_hep_is_refused_not_cut() {
        let big = vec![b'x'; 65_500];
        let mut r = options();
        r.payload = &big;
        assert!(matches!(r.encode(), Err(HepError::TooLong(_))));
        r.dst = "[2001:db8::1]:5060".parse().unwrap();
        assert_eq!(r.encode(), Err(HepError::MixedFamilies));
    }
}
