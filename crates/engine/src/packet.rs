//! A read-only view of one IP packet, as the engine needs it.
//!
//! Validation contract: [`Packet::parse`] checks the IP and transport
//! headers (through `etherparse`); afterwards nothing panics. Fragments
//! after the first and unknown protocols are views with
//! [`Transport::Other`]: the ruleset still judges them by address.

use std::net::IpAddr;

/// Which way a packet travels relative to the protected host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// To the host (the input path).
    In,
    /// From the host (the output path).
    Out,
}

/// The transport header, as far as the engine reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// TCP, with the flags conntrack cares about.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// SYN set.
        syn: bool,
        /// ACK set (with SYN: the answer to a SYN).
        ack: bool,
        /// RST set.
        rst: bool,
        /// FIN or RST set: the connection ends.
        fin_or_rst: bool,
    },
    /// ICMP.
    Icmp {
        /// Its type.
        ty: u8,
    },
    /// ICMPv6.
    Icmpv6 {
        /// Its type.
        ty: u8,
    },
    /// Anything else (or a later fragment).
    Other {
        /// The IP protocol number.
        proto: u8,
    },
}

/// One IP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The transport header.
    pub transport: Transport,
    /// The transport payload.
    pub payload: &'a [u8],
}

/// Why bytes are not an IP packet the engine can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// The IP or transport header is cut short or inconsistent.
    #[error("malformed packet: {0}")]
    Malformed(String),
}

impl<'a> Packet<'a> {
    /// Reads an IPv4 or IPv6 packet.
    pub fn parse(ip: &'a [u8]) -> Result<Packet<'a>, PacketError> {
        use etherparse::{NetSlice, SlicedPacket, TransportSlice};
        let sliced =
            SlicedPacket::from_ip(ip).map_err(|e| PacketError::Malformed(e.to_string()))?;
        let (src, dst, proto, ip_payload) = match &sliced.net {
            Some(NetSlice::Ipv4(v4)) => (
                IpAddr::V4(v4.header().source_addr()),
                IpAddr::V4(v4.header().destination_addr()),
                v4.payload().ip_number.0,
                v4.payload().payload,
            ),
            Some(NetSlice::Ipv6(v6)) => (
                IpAddr::V6(v6.header().source_addr()),
                IpAddr::V6(v6.header().destination_addr()),
                v6.payload().ip_number.0,
                v6.payload().payload,
            ),
            None => return Err(PacketError::Malformed("no IP header".into())),
        };
        let (transport, payload) = match &sliced.transport {
            Some(TransportSlice::Udp(u)) => (
                Transport::Udp {
                    sport: u.source_port(),
                    dport: u.destination_port(),
                },
                u.payload(),
            ),
            Some(TransportSlice::Tcp(t)) => (
                Transport::Tcp {
                    sport: t.source_port(),
                    dport: t.destination_port(),
                    syn: t.syn(),
                    ack: t.ack(),
                    rst: t.rst(),
                    fin_or_rst: t.fin() || t.rst(),
                },
                t.payload(),
            ),
            Some(TransportSlice::Icmpv4(i)) => (Transport::Icmp { ty: i.type_u8() }, i.payload()),
            Some(TransportSlice::Icmpv6(i)) => (Transport::Icmpv6 { ty: i.type_u8() }, i.payload()),
            None => (Transport::Other { proto }, ip_payload),
        };
        Ok(Packet {
            src,
            dst,
            transport,
            payload,
        })
    }

    /// Source and destination ports (UDP and TCP).
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            Transport::Udp { sport, dport } | Transport::Tcp { sport, dport, .. } => {
                Some((sport, dport))
            }
            _ => None,
        }
    }

    /// The IP protocol number.
    pub fn proto(&self) -> u8 {
        match self.transport {
            Transport::Udp { .. } => 17,
            Transport::Tcp { .. } => 6,
            Transport::Icmp { .. } => 1,
            Transport::Icmpv6 { .. } => 58,
            Transport::Other { proto } => proto,
        }
    }
}
