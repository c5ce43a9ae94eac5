//! Issue 13, attack 6 in the real kernel: an IPv6 scanner rotates through
//! its /64, a new source address for every ban (30,000 /128 bans at 17k/s
//! before). With `bans.ipv6_prefix_after` (8) bans inside one /64 the
//! daemon bans the /64 as ONE interval element of `ban_net_v6`, which
//! drops every other address of it; the ledger and `bans list` show the
//! prefix, a restart restores it, `bans del PREFIX` lifts it.
//!
//! The attacker holds the whole /64 the way a real one does: a local route
//! for it (`ip -6 route add local 2001:db8:66::/64 dev lo`) and sockets
//! bound with IP_FREEBIND, so it can send from any of its 2^64 addresses.

mod lab;

use lab::{Background, Lab};
use std::time::{Duration, Instant};

const PREFIX: &str = "2001:db8:66::/64";

/// Sends one SIP OPTIONS with `User-Agent: friendly-scanner` to
/// [2001:db8::1]:5060 from each of `count` addresses of 2001:db8:66::/64,
/// starting at host number `first` (argv: first, count, pause in seconds).
const ROTATE: &str = r#"
import socket, sys, time
first, count, pause = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for i in range(first, first + count):
    src = "2001:db8:66::%x:%x" % (i >> 16, i & 0xffff)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND
    s.bind((src, 0))
    sip = ("OPTIONS sip:100@[2001:db8::1] SIP/2.0\r\nVia: SIP/2.0/UDP [%s]:5060;branch=z9hG4bK-rot-%d\r\n"
           "From: <sip:100@[%s]>;tag=r%d\r\nTo: <sip:100@[2001:db8::1]>\r\nCall-ID: rot-%d@x\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\n"
           "Content-Length: 0\r\n\r\n") % (src, i, src, i, i)
    s.sendto(sip.encode(), ("2001:db8::1", 5060))
    s.close()
    if pause:
        time.sleep(pause)
"#;

/// The elements of set `name` of table inet sipwall, as nft's JSON lists them.
fn elements(lab: &Lab, name: &str) -> Vec<serde_json::Value> {
    let out = lab.ok("fw", &["nft", "-j", "list", "set", "inet", "sipwall", name]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["set"]["elem"].as_array())
        .flatten()
        .cloned()
        .collect()
}

/// Whether `ban_net_v6` holds exactly the prefix 2001:db8:66::/64.
fn prefix_banned(lab: &Lab) -> bool {
    let e = elements(lab, "ban_net_v6");
    e.len() == 1 && {
        let p = &e[0]["elem"]["val"]["prefix"];
        p["addr"] == "2001:db8:66::" && p["len"] == 64
    }
}

/// Packets the `ip6 saddr @ban_net_v6` rule dropped.
fn prefix_drops(lab: &Lab) -> u64 {
    let t = lab.sipwall_table("fw").unwrap();
    t.lines()
        .filter(|l| l.contains("saddr @ban_net_v6"))
        .map(|l| lab::packet_counts(l).first().copied().unwrap_or(0))
        .sum()
}

fn bans_list(lab: &Lab) -> serde_json::Value {
    let out = lab.sipwall("fw", &["bans", "list", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn listed(list: &serde_json::Value, addr: &str) -> bool {
    list["bans"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["addr"] == addr)
}

fn rotate(lab: &Lab, first: u32, count: u32, pause: &str) {
    lab.ok(
        "attacker",
        &[
            "python3",
            "-c",
            ROTATE,
            &first.to_string(),
            &count.to_string(),
            pause,
        ],
    );
}

/// Gives the attacker all of 2001:db8:66::/64, routed from the firewall,
/// and resolves the firewall's link address first (packets from a fresh
/// source would otherwise wait on neighbour discovery, and most be lost).
fn hold_the_64(lab: &Lab) {
    lab.ok(
        "attacker",
        &["ip", "-6", "route", "add", "local", PREFIX, "dev", "lo"],
    );
    lab.ok(
        "fw",
        &["ip", "-6", "route", "add", PREFIX, "via", "2001:db8::66"],
    );
    lab.ok(
        "attacker",
        &["ping", "-6", "-c", "1", "-W", "2", "2001:db8::1"],
    );
}

#[test]
fn a_scanner_rotating_through_its_ipv6_64_ends_as_one_prefix_element_that_survives_a_restart() {
    let Some(lab) = Lab::up("rotation", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    hold_the_64(&lab);
    let log = lab.state.path().join("daemon.log");
    let daemon = lab.start_daemon(&log, &[]);

    // Twelve sources, one after the other (each banned before the next).
    rotate(&lab, 1, 12, "0.05");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        lab.wait_for(Duration::from_secs(10), || prefix_banned(&lab)),
        "no prefix element in ban_net_v6: {:?}\n{}",
        elements(&lab, "ban_net_v6"),
        log_text()
    );
    let singles = elements(&lab, "ban_v6").len();
    assert_eq!(
        singles,
        8,
        "8 /128 bans (ipv6_prefix_after), then the prefix: {:?}",
        elements(&lab, "ban_v6")
    );
    assert!(log_text().contains("prefix banned"), "{}", log_text());

    // A new address of the /64, never seen: dropped by the prefix element,
    // before the daemon sees it (no new /128 ban).
    let before = prefix_drops(&lab);
    rotate(&lab, 0xbeef, 1, "0");
    assert!(
        lab.wait_for(Duration::from_secs(5), || prefix_drops(&lab) > before),
        "the prefix element drops a new address of the /64"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(elements(&lab, "ban_v6").len(), singles);

    // The ledger and `bans list` show the prefix.
    let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let rows: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM bans WHERE addr = ?1 AND ended_at IS NULL",
            [PREFIX],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 1, "one ledger row for the prefix");
    assert!(listed(&bans_list(&lab), PREFIX), "{}", bans_list(&lab));

    // Restart, as if the kernel had lost the element meanwhile: the ledger
    // brings it back.
    let mut daemon = daemon;
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    lab.ok(
        "fw",
        &["nft", "flush", "set", "inet", "sipwall", "ban_net_v6"],
    );
    assert!(elements(&lab, "ban_net_v6").is_empty());
    let log2 = lab.state.path().join("daemon2.log");
    let _daemon2 = lab.start_daemon(&log2, &[]);
    assert!(
        lab.wait_for(Duration::from_secs(5), || prefix_banned(&lab)),
        "the prefix ban is restored: {}",
        std::fs::read_to_string(&log2).unwrap_or_default()
    );
    let before = prefix_drops(&lab);
    rotate(&lab, 0xbeef + 1, 1, "0");
    assert!(
        lab.wait_for(Duration::from_secs(5), || prefix_drops(&lab) > before),
        "the restored element drops"
    );

    // `bans del PREFIX` lifts it, in the kernel and the ledger.
    let out = lab.sipwall("fw", &["bans", "del", PREFIX]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("unbanned"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.wait_for(Duration::from_secs(3), || elements(&lab, "ban_net_v6")
            .is_empty()),
        "the element is gone: {:?}",
        elements(&lab, "ban_net_v6")
    );
    assert!(!listed(&bans_list(&lab), PREFIX));
}

/// The issue's figure: 30,000 sources of one /64 as fast as Python sends.
/// Before, 30,000 /128 elements; now a handful and one prefix.
#[test]
fn thirty_thousand_rotating_sources_make_a_handful_of_kernel_elements() {
    let Some(lab) = Lab::up("rotation30k", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    hold_the_64(&lab);
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &[]);
    let started = Instant::now();
    rotate(&lab, 1, 30_000, "0");
    let sent = started.elapsed();
    assert!(
        lab.wait_for(Duration::from_secs(10), || prefix_banned(&lab)),
        "no prefix element: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Let the daemon drain what it was copied before the prefix landed.
    std::thread::sleep(Duration::from_secs(2));
    let singles = elements(&lab, "ban_v6").len();
    let prefixes = elements(&lab, "ban_net_v6").len();
    eprintln!(
        "30000 rotating sources sent in {sent:?}: {singles} ban_v6 elements, {prefixes} ban_net_v6 element(s), {} dropped by the prefix",
        prefix_drops(&lab)
    );
    assert_eq!(prefixes, 1);
    assert!(
        singles <= 16,
        "a handful of /128 elements, not thousands: {singles}"
    );
}

/// Brief's item: a prefix ban that overlaps a zone allowlisted since (a
/// trunk moved into the attacker's old /64) is lifted at restore, in the
/// kernel and the ledger, like single bans.
#[test]
fn a_prefix_ban_overlapping_a_zone_allowlisted_since_is_lifted_at_restore() {
    let Some(lab) = Lab::up("rotation_allow", &[]) else {
        return;
    };
    const SERVICES: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n";
    let policy = lab.apply_policy(SERVICES);
    hold_the_64(&lab);
    let log = lab.state.path().join("daemon.log");
    let mut daemon = {
        let file = std::fs::File::create(&log).unwrap();
        Background(
            lab.cmd("fw", lab::sipwall())
                .args(["run", "-c", policy.to_str().unwrap()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(file)
                .spawn()
                .unwrap(),
        )
    };
    assert!(lab.daemon_ready(Duration::from_secs(10)));
    rotate(&lab, 1, 12, "0.05");
    assert!(
        lab.wait_for(Duration::from_secs(10), || prefix_banned(&lab)),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();

    // A trunk at 2001:db8:66::100 is allowlisted now.
    let allowed = lab.apply_policy(&format!(
        "[zones]\ntrunks = [\"2001:db8:66::100\"]\n[guard]\nallow = [\"trunks\"]\n{SERVICES}"
    ));
    let log2 = lab.state.path().join("daemon2.log");
    let _daemon2 = {
        let file = std::fs::File::create(&log2).unwrap();
        Background(
            lab.cmd("fw", lab::sipwall())
                .args(["run", "-c", allowed.to_str().unwrap()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(file)
                .spawn()
                .unwrap(),
        )
    };
    assert!(lab.daemon_ready(Duration::from_secs(10)));
    let log2_text = std::fs::read_to_string(&log2).unwrap_or_default();
    assert!(
        elements(&lab, "ban_net_v6").is_empty(),
        "the prefix holding an allowlisted address is lifted: {:?}\n{log2_text}",
        elements(&lab, "ban_net_v6")
    );
    let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let ended: Option<String> = db
        .query_row("SELECT ended_by FROM bans WHERE addr = ?1", [PREFIX], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(ended.as_deref(), Some("allowlisted"), "{log2_text}");
    assert!(!listed(&bans_list(&lab), PREFIX));
}
