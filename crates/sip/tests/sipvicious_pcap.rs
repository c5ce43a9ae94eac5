//! The sipvicious capture (svmap, svmap -c, svmap -m INVITE, svwar,
//! svcrack against SIPp): every SIP payload parses, and the fingerprints
//! the guard needs are there, per packet.

use pcap_file::pcapng::{Block, PcapNgReader};
use sipwall_sip::{Message, Scanner};
use std::net::Ipv4Addr;

const SCANNER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// (source address, UDP payload) of every packet, or `None` (the reason
/// printed) where `../shared` is absent.
fn payloads() -> Option<Vec<(Ipv4Addr, Vec<u8>)>> {
    let path = sipwall_testdata::shared("testdata/pcap/svmap-svwar-svcrack.pcap")?;
    let file = std::fs::File::open(path).expect("the capture");
    let mut reader = PcapNgReader::new(file).expect("a pcapng file");
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        let data = match block.expect("a block") {
            Block::EnhancedPacket(p) => p.data.into_owned(),
            Block::SimplePacket(p) => p.data.into_owned(),
            _ => continue,
        };
        let sliced = etherparse::SlicedPacket::from_ethernet(&data).expect("an Ethernet frame");
        let Some(etherparse::NetSlice::Ipv4(ip)) = &sliced.net else {
            panic!("not IPv4");
        };
        let src = ip.header().source_addr();
        let Some(etherparse::TransportSlice::Udp(udp)) = &sliced.transport else {
            panic!("not UDP");
        };
        out.push((src, udp.payload().to_vec()));
    }
    Some(out)
}

#[test]
fn every_packet_parses_and_scanner_requests_are_recognised() {
    let Some(packets) = payloads() else { return };

    assert_eq!(packets.len(), 28);
    let (mut by_tag, mut by_ua, mut without_ua) = (0, 0, 0);
    for (n, (src, payload)) in packets.iter().enumerate() {
        let n = n + 1;
        let m = Message::parse(payload).unwrap_or_else(|e| panic!("packet {n}: {e}"));
        assert!(m.flags().is_empty(), "packet {n}: {:?}", m.flags());
        let fp = m.fingerprint();
        if *src == SCANNER {
            assert!(m.is_request(), "packet {n}");
            assert!(
                fp.is_scanner(),
                "packet {n} from the scanner is not recognised"
            );
            match fp.user_agent {
                Some(ua) => {
                    assert_eq!(ua, b"friendly-scanner", "packet {n}");
                    assert_eq!(fp.scanner, Some(Scanner::SipVicious), "packet {n}");
                    by_ua += 1;
                }
                None => {
                    // svmap -c drops the User-Agent: only the tag tells.
                    assert!(fp.sipvicious_tag.is_some(), "packet {n}");
                    without_ua += 1;
                }
            }
            if let Some(tag) = fp.sipvicious_tag {
                by_tag += 1;
                let label = tag.label();
                match m.method().unwrap().as_str() {
                    // svmap labels the target, 192.0.2.2:5060.
                    "OPTIONS" | "INVITE" => {
                        assert_eq!(
                            tag.target(),
                            Some("192.0.2.2:5060".parse().unwrap()),
                            "packet {n}"
                        )
                    }
                    // svcrack labels the credentials it tries, and says so
                    // in Authorization; svwar the extension it probes.
                    "REGISTER" => match m.authorization() {
                        Some(a) => {
                            let user = a.username().unwrap();
                            assert!(
                                label.starts_with(user) && label[user.len()] == b':',
                                "packet {n}"
                            );
                        }
                        None => assert!(label.iter().all(u8::is_ascii_digit), "packet {n}"),
                    },
                    other => panic!("packet {n}: {other}"),
                }
            } else {
                // svcrack's first, unauthenticated REGISTER of each try
                // carries a plain numeric tag: only the User-Agent tells.
                assert_eq!(m.method().unwrap().as_str(), "REGISTER", "packet {n}");
                assert!(m.authorization().is_none(), "packet {n}");
                assert!(
                    m.from_tag().unwrap().iter().all(u8::is_ascii_digit),
                    "packet {n}"
                );
            }
        } else {
            // SIPp's answers echo the scanner's From tag; they are not scanners.
            assert!(!m.is_request(), "packet {n}");
            assert!(!fp.is_scanner(), "packet {n}: SIPp answer flagged");
            if let Some(server) = fp.user_agent {
                assert!(server.starts_with(b"FreeSWITCH"), "packet {n}");
            }
        }
    }
    assert_eq!((by_tag, by_ua, without_ua), (10, 16, 1));
}

#[test]
fn svcrack_challenges_and_credentials_are_exposed() {
    let Some(packets) = payloads() else { return };

    let mut challenges = 0;
    let mut attempts = 0;
    for (_, payload) in &packets {
        let m = Message::parse(payload).unwrap();
        if let Some(c) = m.www_authenticate() {
            assert!(c.is_digest());
            assert_eq!(c.realm(), Some(&b"192.0.2.2"[..]));
            assert_eq!(m.status(), Some(401));
            challenges += 1;
        }
        if let Some(a) = m.authorization() {
            assert_eq!(a.username(), Some(&b"100"[..]));
            // svcrack puts Authorization after Content-Length.
            let names: Vec<_> = m.headers().iter().map(|h| h.name).collect();
            let auth = names
                .iter()
                .position(|&h| h == sipwall_sip::HeaderName::Authorization);
            let cl = names
                .iter()
                .position(|&h| h == sipwall_sip::HeaderName::ContentLength);
            assert!(auth > cl);
            attempts += 1;
        }
        if m.method().is_some_and(|m| m.as_str() == "REGISTER") {
            assert!(m
                .top_via()
                .unwrap()
                .host()
                .to_string()
                .starts_with("127.0.0.1"));
        }
    }
    assert!(challenges >= 8, "{challenges}");
    assert_eq!(attempts, 6);
}
