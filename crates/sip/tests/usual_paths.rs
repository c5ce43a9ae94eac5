//! The fast paths read what the general paths read: every message of the
//! shared test data, the fuzz seeds, and messages of the usual shape with
//! every byte in turn replaced by one that matters to some grammar.

use sipwall_sip::testing::usual_paths_agree;

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let Ok(entries) = std::fs::read_dir(format!("{root}{dir}")) else {
        panic!("{dir} is missing");
    };
    entries
        .map(|e| e.expect("readable directory").path())
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("readable file"),
            )
        })
        .collect()
}

/// Messages of the shapes the fast paths take, as the traffic mix has them.
const USUAL: &[&str] = &[
    "INVITE sip:1042@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;rport;branch=z9hG4bK6b8b4567\r\nMax-Forwards: 70\r\nFrom: \"1042\" <sip:1042@192.0.2.2>;tag=1a2b3c4d\r\nTo: <sip:1043@192.0.2.2>\r\nCall-ID: 7f3e2a@198.51.100.7\r\nCSeq: 12 INVITE\r\nContact: <sip:1042@198.51.100.7:5060>\r\nContent-Type: application/sdp\r\nContent-Length: 139\r\n\r\nv=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 16384 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.51.100.9:5060;rport=5060;branch=z9hG4bKab;received=198.51.100.9\r\nFrom: <sip:1001@192.0.2.2>;tag=9\r\nTo: <sip:1002@192.0.2.2>;tag=8\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:1002@192.0.2.2:5060;transport=udp>\r\nServer: FreeSWITCH\r\nContent-Length: 0\r\n\r\n",
    "REGISTER sip:192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.4:5060;branch=z9hG4bK1;rport\r\nFrom: <sip:1042@192.0.2.2>;tag=77\r\nTo: <sip:1042@192.0.2.2>\r\nCall-ID: r1\r\nCSeq: 3 REGISTER\r\nContact: <sip:1042@203.0.113.4:5060>;expires=3600\r\nAuthorization: Digest username=\"1042\",realm=\"192.0.2.2\",nonce=\"ab\",uri=\"sip:192.0.2.2\",response=\"0f\",algorithm=MD5\r\nContent-Length: 0\r\n\r\n",
    "OPTIONS sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1;rport\r\nTo: \"sipvicious\"<sip:100@1.1.1.1>\r\nFrom: \"sipvicious\"<sip:100@1.1.1.1>;tag=633030\r\nUser-Agent: friendly-scanner\r\nCall-ID: 1\r\nContact: sip:100@192.0.2.1:5060\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
];

#[test]
fn the_shared_messages_and_the_seeds() {
    let mut inputs = files("../../../shared/testdata/rfc4475");
    for dir in ["fuzz/seeds/message", "fuzz/seeds/framing", "fuzz/seeds/sdp"] {
        inputs.extend(files(dir));
    }
    assert!(inputs.len() > 40, "{} inputs", inputs.len());
    for (name, data) in &inputs {
        if let Err(e) = usual_paths_agree(data) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn usual_messages_with_any_byte_changed() {
    const BYTES: &[u8] = b" \t\r\n;,\"\\:<>@[]=?%0a/.\x7f\x80";
    for m in USUAL {
        usual_paths_agree(m.as_bytes()).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        let mut b = m.as_bytes().to_vec();
        for at in 0..b.len() {
            let was = b[at];
            for &x in BYTES {
                b[at] = x;
                if let Err(e) = usual_paths_agree(&b) {
                    panic!("{:?}: {e}", String::from_utf8_lossy(&b));
                }
            }
            b[at] = was;
        }
    }
}
