//! Captures the replay tests write, and the lab's recorded ones: IP
//! packets built with etherparse, framed for each link type, in pcap or
//! pcapng files.

#![allow(dead_code)] // each test binary uses a different part

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, TsResolution};
use std::path::Path;
use std::time::Duration;

/// An IPv4 UDP packet.
pub fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// An IPv6 UDP packet.
pub fn udp6(src: [u8; 16], sport: u16, dst: [u8; 16], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(src, dst, 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A TCP segment; `flags` holds `S`yn, `A`ck, `F`in, `R`st.
pub fn tcp4(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 1000, 64000);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(1);
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// The link-layer header of `link` in front of an IP packet.
pub fn frame(link: DataLink, ip: &[u8]) -> Vec<u8> {
    let v6 = ip[0] >> 4 == 6;
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let mut f = Vec::new();
    match link {
        DataLink::ETHERNET => {
            f.extend([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
            f.extend(ethertype);
        }
        DataLink::LINUX_SLL => {
            f.extend([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0]);
            f.extend(ethertype);
        }
        DataLink::LINUX_SLL2 => {
            f.extend(ethertype);
            f.extend([0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0]);
        }
        DataLink::NULL => f.extend(if v6 { 10u32 } else { 2u32 }.to_le_bytes()),
        DataLink::LOOP => f.extend(if v6 { 24u32 } else { 2u32 }.to_be_bytes()),
        DataLink::RAW => {}
        other => panic!("no framing for {other:?}"),
    }
    f.extend_from_slice(ip);
    f
}

/// A pcap of `frames` (microseconds since the epoch, frame) on `link`.
pub fn write_pcap(path: &Path, link: DataLink, frames: &[(u64, Vec<u8>)]) {
    let header = PcapHeader {
        datalink: link,
        ts_resolution: TsResolution::MicroSecond,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(std::fs::File::create(path).unwrap(), header).unwrap();
    for (t, f) in frames {
        w.write_packet(&PcapPacket::new(
            Duration::from_micros(*t),
            f.len() as u32,
            f,
        ))
        .unwrap();
    }
}

/// A pcapng file with nanosecond timestamps (if_tsresol = 9).
pub fn write_pcapng(path: &Path, link: DataLink, frames: &[(u64, Vec<u8>)]) {
    let mut w = PcapNgWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: link,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    })
    .unwrap();
    for (t, f) in frames {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            // pcap-file writes the Duration's nanoseconds as the tick count.
            timestamp: Duration::from_nanos(t * 1000),
            original_len: f.len() as u32,
            data: f.as_slice().into(),
            options: vec![],
        })
        .unwrap();
    }
}

/// A lab capture of `tests/captures/`.
pub fn lab_capture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/captures")
        .join(name)
        .display()
        .to_string()
}

/// A pcap of raw IP packets, one a second from 2023-11-14.
pub fn write_raw_pcap(path: &Path, packets: &[Vec<u8>]) {
    let frames: Vec<(u64, Vec<u8>)> = packets
        .iter()
        .enumerate()
        .map(|(i, ip)| ((1_700_000_000 + i as u64) * 1_000_000, ip.clone()))
        .collect();
    write_pcap(path, DataLink::RAW, &frames);
}
