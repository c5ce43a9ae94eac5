//! The kernel as referee: sipwall's compiled policy applied in the lab's
//! firewall namespace (no daemon), live traffic through it, and the same
//! traffic replayed through the engine under the same policy. Per packet
//! to the firewall host: accepted by the kernel <=> replay says accept.
//!
//! What was sent is captured on the firewall's eth0 (packet sockets see a
//! packet before netfilter does); what the kernel accepted is logged by an
//! NFLOG rule in a table of the test's own at input priority 100, after
//! sipwall's filter, and read in the namespace with sipwall's own NFLOG
//! reader until a sentinel packet arrives (NFLOG keeps order, so nothing
//! sent before the sentinel can still be in flight; a capture tool stopped
//! on a timer was seen to lose the last packet). The guard is switched
//! off in the policy: with no daemon its bans are not the kernel's to make,
//! so only the ruleset's verdicts are compared.

mod lab;

use lab::{write_temp, Lab};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NO_GUARD: &str = "[guard.scanner]\nenabled = false\n[guard.flood]\nenabled = false\n\
     [guard.brute_force]\nenabled = false\n[guard.enumeration]\nenabled = false\n";

/// The IPv4 packets of a capture: (frame number, bytes).
fn ipv4_packets(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut r = PcapReader::new(std::fs::File::open(path).expect("capture")).expect("pcap");
    let link = r.header().datalink;
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        let Ok(p) = p else { break };
        n += 1;
        let ip = match link {
            DataLink::ETHERNET if p.data.get(12..14) == Some(&[0x08, 0x00]) => &p.data[14..],
            DataLink::NFLOG => match nflog_payload(&p.data) {
                Some(ip) => ip,
                None => continue,
            },
            _ => continue,
        };
        if ip.first().is_some_and(|b| b >> 4 == 4) {
            out.push((n, ip.to_vec()));
        }
    }
    out
}

/// The packet TLV (type 9) of an NFLOG frame; lengths are little-endian here.
fn nflog_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut rest = frame.get(4..)?;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        if len < 4 || len > rest.len() {
            return None;
        }
        if u16::from_le_bytes([rest[2], rest[3]]) & 0x7fff == 9 {
            return Some(&rest[4..len]);
        }
        rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    None
}

/// The payload that ends the kernel's side of the record.
const SENTINEL: &str = "referee-sentinel";

/// Reads, in namespace `ns`, the packets NFLOG group 7 logs until the
/// sentinel (included); the result arrives on the returned channel.
fn read_accepted_until_sentinel(ns: &str) -> std::sync::mpsc::Receiver<Vec<Vec<u8>>> {
    let path = format!("/run/netns/{ns}");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("netns");
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let mut reader = sipwall_netfilter::NflogReader::open(&[7]).expect("nflog group 7");
        ready_tx.send(()).unwrap();
        let mut out = Vec::new();
        loop {
            let Ok(batch) = reader.recv() else { return };
            for l in batch {
                let done = l.packet.ends_with(SENTINEL.as_bytes());
                out.push(l.packet);
                if done {
                    let _ = tx.send(out);
                    return;
                }
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the NFLOG reader started");
    rx
}

fn stop(capture: &mut lab::Background) {
    let _ = Command::new("kill")
        .args(["-INT", &capture.0.id().to_string()])
        .status();
    let _ = capture.0.wait();
}

/// A call with RTP (echoed by the UAS), a probe of a closed port, a scan.
fn call_probe_and_scan(lab: &Lab) {
    let uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the call failed"
    );
    drop(uas);
    lab.run(
        "attacker",
        &[
            "bash",
            "-c",
            "echo probe > /dev/udp/192.0.2.1/5070; echo probe > /dev/udp/192.0.2.1/5060",
        ],
    );
    lab.run(
        "attacker",
        &["timeout", "20", "sipvicious_svmap", "192.0.2.1"],
    );
}

/// A TCP segment from the attacker to the firewall (`S`yn, `A`ck, `R`st,
/// `F`in), checksums right, as bytes of an IPv4 packet.
fn segment(sport: u16, dport: u16, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ipv4([192, 0, 2, 66], [192, 0, 2, 1], 64).tcp(
        sport,
        dport,
        if flags.contains('S') { 1000 } else { 1001 },
        64240,
    );
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('A') {
        b = b.ack(1);
    }
    if flags.contains('R') {
        b = b.rst();
    }
    if flags.contains('F') {
        b = b.fin();
    }
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("a segment");
    out
}

/// Sends raw IPv4 packets from the attacker, in order, a moment apart (so
/// that the firewall's answer to one leaves before the next arrives).
fn send_raw(lab: &Lab, packets: &[Vec<u8>]) {
    let mut args = vec![
        "python3".to_owned(),
        "-c".to_owned(),
        "import socket, sys, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)\n\
         for h in sys.argv[1:]:\n    s.sendto(bytes.fromhex(h), ('192.0.2.1', 0)); time.sleep(0.2)\n"
            .to_owned(),
    ];
    args.extend(
        packets
            .iter()
            .map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab.run("attacker", &args);
    assert!(
        out.status.success(),
        "raw send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// TCP that conntrack sees without the handshake it expects: a SYN to a
/// closed port (the REJECT's RST goes back) followed by an ACK with data
/// on the same 5-tuple; a SYN to the open SIP port, which nothing listens
/// on (the host's own RST goes back), then an ACK on it; a SYN/ACK, a FIN
/// and a RST out of nowhere; a bare ACK picked up mid-stream.
fn tcp_without_handshakes(lab: &Lab) {
    send_raw(
        lab,
        &[
            segment(40001, 5070, "S", b""),
            segment(40001, 5070, "A", b"after the reject"),
            segment(40002, 5060, "S", b""),
            segment(40002, 5060, "A", b""),
            segment(40003, 5060, "SA", b""),
            segment(40004, 5060, "FA", b""),
            segment(40005, 5060, "R", b""),
            segment(40006, 5060, "A", b""),
            segment(40006, 5060, "A", b""),
        ],
    );
}

/// A Q.931 Connect in a TPKT whose H.225 part (aligned PER, by hand)
/// names `h245` as the H.245 address: what makes nf_conntrack_h323 expect
/// the H.245 connection from the other end. Bit by bit: H323-UserInformation
/// (no extension, no user-data), H323-UU-PDU (no extension, no
/// nonStandardData), body CHOICE 2 of 7 (connect), Connect-UUIE (no
/// extension, h245Address present); the protocolIdentifier 0.0.8.2250.0.4;
/// TransportAddress CHOICE 0 (ipAddress), its 4 octets and port;
/// destinationInfo EndpointType (no extension, nothing optional, mc and
/// undefinedNode false); a 16-octet conferenceID.
fn q931_connect(h245: [u8; 4], port: u16) -> Vec<u8> {
    let mut uuie = vec![
        0b0000_0010,
        0b0100_0000,
        6,
        0x00,
        0x08,
        0x91,
        0x4a,
        0x00,
        0x04,
    ];
    uuie.push(0b0000_0000);
    uuie.extend(h245);
    uuie.extend(port.to_be_bytes());
    uuie.extend([0, 0]);
    uuie.extend([0x11; 16]);
    // Q.931: discriminator, a 2-octet call reference (from the answering
    // side), Connect, then the User-user element (discriminator 5: X.208).
    let mut q931 = vec![0x08, 2, 0x80, 0x01, 0x07, 0x7e];
    q931.extend(u16::try_from(uuie.len() + 1).unwrap().to_be_bytes());
    q931.push(0x05);
    q931.extend(uuie);
    let mut tpkt = vec![3, 0];
    tpkt.extend(u16::try_from(q931.len() + 4).unwrap().to_be_bytes());
    tpkt.extend(q931);
    tpkt
}

/// Writes aligned PER, most significant bit first.
#[derive(Default)]
struct Per {
    out: Vec<u8>,
    at: usize,
}

impl Per {
    fn bits(&mut self, v: u32, n: usize) -> &mut Self {
        for i in (0..n).rev() {
            if self.at % 8 == 0 {
                self.out.push(0);
            }
            *self.out.last_mut().unwrap() |= u8::from((v >> i) & 1 == 1) << (7 - self.at % 8);
            self.at += 1;
        }
        self
    }
    fn octets(&mut self, o: &[u8]) -> &mut Self {
        self.at = self.at.next_multiple_of(8);
        self.out.extend(o);
        self.at += o.len() * 8;
        self
    }
}

/// A TPKT'd H.245 OpenLogicalChannelAck (aligned PER) whose
/// forwardMultiplexAckParameters announce RTP at `addr`:`rtp` and RTCP one
/// port up: what makes the kernel's H.245 helper expect both from the
/// other end.
fn olc_ack(addr: [u8; 4], rtp: u16) -> Vec<u8> {
    let mut ack = Per::default();
    // CHOICE h2250LogicalChannelAckParameters, not extended; sessionID,
    // mediaChannel, mediaControlChannel present; sessionID 1.
    ack.bits(0, 2).bits(0b01110, 5).bits(0, 8);
    for port in [rtp, rtp + 1] {
        // unicastAddress, iPAddress, not extended; 4 octets and a port.
        ack.bits(0, 7).octets(&addr).octets(&port.to_be_bytes());
    }
    let mut m = Per::default();
    // response (1 of 4), openLogicalChannelAck (5 of 19), extended, no
    // reverse parameters, channel 1; 4 additions, the second present.
    m.bits(1, 3).bits(5, 6).bits(0b10, 2).octets(&[0, 1]);
    m.bits(3, 7).bits(0b0100, 4);
    m.octets(&[u8::try_from(ack.out.len()).unwrap()])
        .octets(&ack.out);
    let mut t = vec![3, 0];
    t.extend(u16::try_from(m.out.len() + 4).unwrap().to_be_bytes());
    t.extend(&m.out);
    t
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// An H.323 call as far as the kernel's helpers read it: the peer calls
/// the firewall's Q.931 port, the firewall answers Connect with an H.245
/// address of its own (30000); the peer opens H.245 there (expected:
/// `related`), the firewall acknowledges a logical channel with RTP at
/// 12000 (RTCP 12001), and the peer sends to 12000, 12001 and 12002 and
/// tries TCP 30001, which nobody announced; the attacker tries 30000 and
/// 12000 (not expected from it).
fn h323_call(lab: &Lab) {
    let connect = hex(&q931_connect([192, 0, 2, 1], 30000));
    let ack = hex(&olc_ack([192, 0, 2, 1], 12000));
    let server = format!(
        "import socket, threading, time\n\
         def serve(port, message):\n    \
             s = socket.socket()\n    \
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n    \
             s.bind(('0.0.0.0', port)); s.listen(1)\n    \
             c, _ = s.accept()\n    \
             c.sendall(bytes.fromhex(message))\n    \
             time.sleep(5)\n\
         threading.Thread(target=serve, args=(30000, '{ack}'), daemon=True).start()\n\
         serve(1720, '{connect}')\n"
    );
    let _server = lab.spawn("fw", &["python3", "-c", &server]);
    let client = "import socket, time\n\
         for i in range(50):\n    \
             try:\n        c = socket.create_connection(('192.0.2.1', 1720), timeout=2); break\n    \
             except OSError: time.sleep(0.1)\n\
         c.recv(1000)\n\
         time.sleep(0.3)\n\
         h = socket.create_connection(('192.0.2.1', 30000), timeout=2)\n\
         h.recv(1000)\n\
         time.sleep(0.3)\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for port in (12000, 12001, 12002):\n    \
             u.sendto(b'rtp', ('192.0.2.1', port)); time.sleep(0.1)\n\
         try: socket.create_connection(('192.0.2.1', 30001), timeout=2).close()\n\
         except OSError: pass\n\
         h.close(); c.close()\n";
    std::thread::sleep(Duration::from_millis(500));
    let out = lab.run("peer", &["python3", "-c", client]);
    assert!(
        out.status.success(),
        "the H.323 peer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lab.run(
        "attacker",
        &[
            "bash",
            "-c",
            "echo rtp > /dev/udp/192.0.2.1/12000; echo > /dev/tcp/192.0.2.1/30000",
        ],
    );
}

/// What the referee saw of the packets replay marked `not modelled`.
struct Unmodelled {
    /// Packets marked.
    marked: usize,
    /// Of those, accepted by the kernel (replay refused them all).
    accepted_by_kernel: usize,
    /// Replay's JSON document.
    replay: serde_json::Value,
}

fn referee(
    test: &str,
    media: &str,
    services: &str,
    traffic: fn(&Lab),
    at_least: usize,
) -> Option<Unmodelled> {
    let lab = Lab::up(
        test,
        &["sipp", "dumpcap", "sipvicious_svmap", "bash", "python3"],
    )?;
    let dir = tempfile::tempdir().unwrap();
    let policy = write_temp(
        &dir,
        "p.toml",
        &format!(
            "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"{media}\"\nports = \"16384-32769\"\n{NO_GUARD}{services}"
        ),
    );
    let policy = policy.to_str().unwrap();
    let out = lab.sipwall("fw", &["apply", "-c", policy]);
    assert!(
        out.status.success(),
        "apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lab.nft(
        "fw",
        "table inet referee {\n  chain input {\n    type filter hook input priority 100; policy accept;\n    log group 7\n  }\n}\n",
    );
    let sent = dir.path().join("sent.pcap");
    let s = sent.to_str().unwrap();
    let mut cap_sent = lab.spawn(
        "fw",
        &["dumpcap", "-q", "-i", "eth0", "-f", "ip", "-P", "-w", s],
    );
    let accepted_rx = read_accepted_until_sentinel(&lab.ns("fw"));
    std::thread::sleep(Duration::from_millis(1500));

    traffic(&lab);
    // The sentinel closes the kernel's side; the sent side gets a moment more.
    lab.run(
        "peer",
        &[
            "bash",
            "-c",
            &format!("printf {SENTINEL} > /dev/udp/192.0.2.1/5060"),
        ],
    );
    let accepted_packets = accepted_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the sentinel reached the kernel's NFLOG");
    std::thread::sleep(Duration::from_millis(1000));
    stop(&mut cap_sent);

    let out = lab.sipwall(
        "fw",
        &[
            "replay",
            "-c",
            policy,
            "--host",
            "192.0.2.1",
            "--format",
            "json",
            s,
        ],
    );
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("replay JSON");
    let lines: HashMap<u64, &serde_json::Value> = v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["dir"] == "in")
        .map(|p| (p["n"].as_u64().unwrap(), p))
        .collect();
    let replayed: HashMap<u64, String> = lines
        .iter()
        .map(|(n, p)| {
            assert_ne!(p["by"], "guard", "the guard is off: {p}");
            (*n, p["verdict"].as_str().unwrap().to_owned())
        })
        .collect();

    // The kernel's accepted packets as a multiset of their bytes.
    let mut kernel: HashMap<Vec<u8>, usize> = HashMap::new();
    for ip in accepted_packets
        .into_iter()
        .filter(|p| p.first().is_some_and(|b| b >> 4 == 4))
    {
        *kernel.entry(ip).or_default() += 1;
    }
    let host = [192, 0, 2, 1];
    let (mut compared, mut agree, mut accepted_n) = (0, 0, 0);
    let mut disagreements = Vec::new();
    let mut unmodelled = Unmodelled {
        marked: 0,
        accepted_by_kernel: 0,
        replay: serde_json::Value::Null,
    };
    for (n, ip) in ipv4_packets(&sent) {
        if ip.len() < 20 || ip[16..20] != host {
            continue;
        }
        let by_kernel = match kernel.get_mut(&ip) {
            Some(c) if *c > 0 => {
                *c -= 1;
                true
            }
            _ => false,
        };
        let by_replay = replayed.get(&n).map(String::as_str) == Some("accept");
        compared += 1;
        accepted_n += usize::from(by_kernel);
        if lines
            .get(&n)
            .is_some_and(|p| p.get("not_modelled").is_some())
        {
            // Replay says its verdict may not be the kernel's.
            unmodelled.marked += 1;
            unmodelled.accepted_by_kernel += usize::from(by_kernel);
            agree += usize::from(by_kernel == by_replay);
        } else if by_kernel == by_replay {
            agree += 1;
        } else {
            disagreements.push(format!(
                "#{n}: kernel {}, replay {}",
                if by_kernel { "accepted" } else { "refused" },
                lines.get(&n).map_or("-".to_owned(), |p| p.to_string())
            ));
        }
    }
    eprintln!(
        "referee media = {media}: {agree}/{compared} packets to the firewall agree ({accepted_n} accepted by the kernel; {} marked not modelled, {} of them accepted by the kernel)",
        unmodelled.marked, unmodelled.accepted_by_kernel
    );
    assert!(
        compared >= at_least,
        "{at_least} packets or more: {compared}"
    );
    assert!(
        accepted_n < compared,
        "some packets were refused (the probes of 5070)"
    );
    assert!(
        disagreements.is_empty(),
        "replay and the kernel disagree on {} of {compared}:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    unmodelled.replay = v;
    Some(unmodelled)
}

#[test]
fn replay_agrees_with_the_kernel_packet_for_packet_media_range() {
    referee("referee_range", "range", "", call_probe_and_scan, 100);
}

#[test]
fn replay_agrees_with_the_kernel_packet_for_packet_media_helper() {
    referee("referee_helper", "helper", "", call_probe_and_scan, 100);
}

#[test]
fn a_tcp_connection_whose_syn_was_rejected_is_new_to_replay_as_to_the_kernel() {
    // Regression: replay took the REJECT's RST for an answer and judged
    // the next ACK of that 5-tuple established (accepted); the kernel had
    // no entry, saw it as new and rejected it. Also held: segments that
    // cannot open a connection are invalid, a bare ACK is picked up.
    referee("referee_tcp", "range", "", tcp_without_handshakes, 9);
}

#[test]
fn h245_and_media_announced_in_an_h323_call_are_related_to_replay_as_to_the_kernel() {
    // The kernel's Q.931 helper reads the Connect's H.245 address and its
    // H.245 helper the OpenLogicalChannelAck's media addresses, and admits
    // the peer's H.245 connection and RTP/RTCP as related; replay judged
    // them new and refused them. Now the engine reads both; what it does
    // not model (a port announced where it cannot read) stays marked.
    let services = "[services.h323]\nkind = \"h323-q931\"\nallow = [\"any\"]\n";
    let Some(u) = referee("referee_h323", "range", services, h323_call, 10) else {
        return;
    };
    let first_from_peer = |dst: &str| {
        u.replay["packets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["dst"] == dst && p["src"].as_str().unwrap().starts_with("192.0.2.2:"))
            .unwrap_or_else(|| panic!("a packet from the peer to {dst}"))
            .clone()
    };
    for dst in ["192.0.2.1:30000", "192.0.2.1:12000", "192.0.2.1:12001"] {
        let p = first_from_peer(dst);
        assert_eq!(p["verdict"], "accept", "{p}");
        assert_eq!(p["rule"], "established, related", "{p}");
    }
    assert_eq!(first_from_peer("192.0.2.1:12002")["verdict"], "reject");
    assert_eq!(u.accepted_by_kernel, 0, "nothing marked was admitted");
    assert!(u.marked >= 2, "the unannounced ports are marked");
}
