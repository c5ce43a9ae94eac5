//! Issue 13, attack 3 in the real kernel: a blind attacker forges scanner
//! packets with a peer's source address (raw sockets in its namespace) to
//! get the peer banned. A peer that completed a call (its ACK echoed the
//! To tag of the host's 2xx: return-routable) is not banned and its next
//! call gets its media; the same forged packets with an address that has
//! no history are banned.

mod lab;

use lab::Lab;
use std::time::Duration;

const PINHOLE: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n";

/// Sends `count` SIP OPTIONS with `User-Agent: friendly-scanner` to
/// 192.0.2.1:5060 from a forged IPv4 source (argv: source, count), through
/// a raw socket that writes the IP header itself.
const FORGE: &str = r#"
import socket, struct, sys
src, count = sys.argv[1], int(sys.argv[2])
dst = "192.0.2.1"
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(count):
    sip = ("OPTIONS sip:100@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK-forged-%d\r\n"
           "From: <sip:100@%s>;tag=f%d\r\nTo: <sip:100@%s>\r\nCall-ID: forged-%d@%s\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n"
           "Content-Length: 0\r\n\r\n") % (dst, src, i, src, i, dst, i, src)
    payload = sip.encode()
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0))
"#;

fn banned(lab: &Lab, addr: &str) -> bool {
    lab.banned("fw", addr)
}

fn sip_messages(lab: &Lab) -> u64 {
    let out = lab.sipwall("fw", &["status", "--format", "json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v["sip_messages"].as_u64())
        .unwrap_or(0)
}

#[test]
fn forged_scanner_packets_with_a_verified_peers_address_do_not_ban_the_peer() {
    let Some(lab) = Lab::up("spoof", &["sipp", "python3"]) else {
        return;
    };
    let policy = lab.apply_policy(PINHOLE);
    lab.counters(
        "fw",
        "input",
        &["ip saddr 192.0.2.2 udp dport 20000 counter"],
    );
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["-c", policy.to_str().unwrap()]);
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // The peer completes a call: its ACK echoes the To tag of the 2xx.
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the first call failed:\n{}",
        daemon_log()
    );
    let first_rtp = lab.counts("fw")[0];
    assert!(first_rtp > 50, "RTP of the first call: {first_rtp}");

    // The attacker forges scanner OPTIONS with the peer's source address.
    let seen = sip_messages(&lab);
    lab.ok("attacker", &["python3", "-c", FORGE, "192.0.2.2", "3"]);
    assert!(
        lab.wait_for(Duration::from_secs(5), || daemon_log()
            .contains("ban suppressed")),
        "the daemon logs the suppressed ban:\n{}",
        daemon_log()
    );
    assert!(sip_messages(&lab) >= seen + 3, "the daemon read them");
    assert!(
        !banned(&lab, "192.0.2.2"),
        "the verified peer is not banned on forged evidence:\n{}",
        daemon_log()
    );

    // Its next call completes with media.
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the next call failed:\n{}",
        daemon_log()
    );
    let second_rtp = lab.counts("fw")[0] - first_rtp;
    assert!(second_rtp > 50, "RTP of the next call: {second_rtp}");
    assert!(!banned(&lab, "192.0.2.2"));

    // The same forged packets with an address that has no history: banned.
    lab.ok("attacker", &["python3", "-c", FORGE, "192.0.2.77", "3"]);
    assert!(
        lab.wait_for(Duration::from_secs(5), || banned(&lab, "192.0.2.77")),
        "an address with no history is banned:\n{}",
        daemon_log()
    );
    assert!(!banned(&lab, "192.0.2.2"));
}
