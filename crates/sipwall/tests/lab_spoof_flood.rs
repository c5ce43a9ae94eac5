//! Issue 13, the first line against a blind spoofer: the kernel bans a
//! source that floods the SIP ports (`flood_ban_v4`, 60 s) without asking
//! the daemon, so a forged flood with a peer's source address would cut
//! the peer off for as long as the flood lasts and a minute more. A peer
//! that proved return-routable (a completed call) is in `verified_v4`,
//! which the daemon fills: the kernel still drops what is over the rate
//! but never bans it. The same forged flood from an address with no
//! history is banned by the kernel.

mod lab;

use lab::Lab;
use std::time::Duration;

const PINHOLE: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n";

/// Sends `count` SIP OPTIONS at `rate` a second to 192.0.2.1:5060 from a
/// forged IPv4 source (argv: source, count, rate), through a raw socket
/// that writes the IP header itself. The User-Agent is a scanner's with
/// an escape sequence in it, so the daemon's own detector fires too (and
/// must neither ban the verified peer nor log the escape raw).
const FORGE_FLOOD: &str = r#"
import socket, struct, sys, time
src, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dst = "192.0.2.1"
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
start = time.monotonic()
for i in range(count):
    sip = ("OPTIONS sip:100@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK-flood-%d\r\n"
           "From: <sip:100@%s>;tag=f%d\r\nTo: <sip:100@%s>\r\nCall-ID: flood-%d@%s\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\x1b[31m\r\n"
           "Content-Length: 0\r\n\r\n") % (dst, src, i, src, i, dst, i, src)
    payload = sip.encode()
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s.sendto(ip + udp, (dst, 0))
    ahead = start + (i + 1) / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
"#;

/// Packets the first line dropped for verified sources over the rate.
fn verified_drops(lab: &Lab) -> u64 {
    lab.ok("fw", &["nft", "list", "chain", "inet", "sipwall", "flood"])
        .lines()
        .filter(|l| l.contains("saddr @verified_v4") && l.contains("drop"))
        .map(|l| lab::packet_counts(l).first().copied().unwrap_or(0))
        .sum()
}

fn status(lab: &Lab) -> serde_json::Value {
    let out = lab.sipwall("fw", &["status", "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

const METRICS: &str =
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9780/metrics').read().decode())";

#[test]
fn a_sip_flood_forged_with_a_verified_peers_address_does_not_get_the_peer_banned_in_the_kernel() {
    let Some(lab) = Lab::up("spoofflood", &["sipp", "python3"]) else {
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

    // The peer completes a call: its ACK echoes the To tag of the 2xx,
    // and the daemon tells the kernel.
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the first call failed:\n{}",
        daemon_log()
    );
    let first_rtp = lab.counts("fw")[0];
    assert!(first_rtp > 50, "RTP of the first call: {first_rtp}");
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab
            .set_elements("fw", "verified_v4")
            .contains(&"192.0.2.2".to_owned())),
        "the peer is in verified_v4:\n{}",
        daemon_log()
    );

    // The attacker forges a flood (400 packets a second for 3 s, over
    // guard.flood's 15/s) with the peer's source address.
    lab.ok(
        "attacker",
        &["python3", "-c", FORGE_FLOOD, "192.0.2.2", "1200", "400"],
    );
    let dropped = verified_drops(&lab);
    assert!(
        dropped > 600,
        "the first line dropped the excess: {dropped}"
    );
    assert!(
        !lab.set_elements("fw", "flood_ban_v4")
            .contains(&"192.0.2.2".to_owned()),
        "the verified peer is not banned by the kernel"
    );
    assert!(!lab.banned("fw", "192.0.2.2"));

    // An apply keeps what the daemon verified, as it keeps the bans.
    lab.apply_policy(PINHOLE);
    assert!(
        lab.set_elements("fw", "verified_v4")
            .contains(&"192.0.2.2".to_owned()),
        "verified_v4 survives a re-apply"
    );

    // Its next call, right after the flood (within the minute a kernel
    // ban would last), completes with media.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the next call failed:\n{}",
        daemon_log()
    );
    let second_rtp = lab.counts("fw")[0] - first_rtp;
    assert!(second_rtp > 50, "RTP of the next call: {second_rtp}");

    // The daemon's detector saw the forged scanner packets that passed the
    // meter: suppressed, counted, in status and metrics, logged escaped.
    let st = status(&lab);
    assert!(
        st["bans_suppressed"]["total"].as_u64().unwrap_or(0) > 0,
        "{st}"
    );
    assert!(
        st["bans_suppressed"]["by"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| b["detector"] == "scanner" && b["shield"] == "verified"),
        "{st}"
    );
    let metrics = || lab.ok("fw", &["python3", "-c", METRICS]);
    assert!(
        lab.wait_for(Duration::from_secs(3), || metrics().contains(
            "sipwall_bans_suppressed_total{detector=\"scanner\",shield=\"verified\"}"
        )),
        "{}",
        metrics()
    );
    let text = daemon_log();
    assert!(text.contains("ban suppressed"), "{text}");
    assert!(!text.contains('\u{1b}'), "an escape reached the log raw");

    // The same forged flood from an address with no history: banned by
    // the kernel.
    lab.ok(
        "attacker",
        &["python3", "-c", FORGE_FLOOD, "192.0.2.77", "1200", "400"],
    );
    assert!(
        lab.set_elements("fw", "flood_ban_v4")
            .contains(&"192.0.2.77".to_owned()),
        "an address with no history is banned by the first line"
    );
    assert!(!lab
        .set_elements("fw", "flood_ban_v4")
        .contains(&"192.0.2.2".to_owned()));
}
