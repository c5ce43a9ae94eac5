//! Issue 17's blocklist feeds in the real kernel: a daemon in `fw` fetches
//! a VoIPBL-style list from the feed test server listening in `peer`, the
//! list fills `feed_<name>_v4`, a listed source's SIP is dropped by the
//! feed's own rule (its counter moves in `nft list`), an allowlisted
//! address inside a listed network still gets through, and a daemon
//! restarted with the server gone fills the set again from the last good
//! copy on disk.

mod feed_server;
mod lab;

use feed_server::FeedServer;
use lab::Lab;
use std::time::Duration;

/// The feed lists networks: they go to its interval set (its single
/// addresses would go to `feed_voipbl_v4`).
const SET: &str = "feed_voipbl_net_v4";

/// An OPTIONS from `from` (a lab address) to the firewall, with a
/// User-Agent no detector bans on: a drop can only be the feed's.
fn options(lab: &Lab, node: &str, from: &str, n: u32) {
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for i in range({n}):\n\
         \x20   msg = ('OPTIONS sip:100@192.0.2.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP {from}:5060;branch=z9hG4bK-%d\\r\\n'\n\
         \x20          'From: <sip:a@{from}>;tag=1\\r\\nTo: <sip:100@192.0.2.1>\\r\\nCall-ID: feed-%d\\r\\nCSeq: 1 OPTIONS\\r\\n'\n\
         \x20          'User-Agent: Linphone/5.2\\r\\nContent-Length: 0\\r\\n\\r\\n') % (i, i)\n\
         \x20   s.sendto(msg.encode(), ('192.0.2.1', 5060))\n"
    );
    lab.ok(node, &["python3", "-c", &script]);
}

/// The packets counted by the feed's drop rule for IPv4.
fn feed_drops(lab: &Lab) -> u64 {
    let table = lab.ok("fw", &["nft", "list", "table", "inet", "sipwall"]);
    let line = table
        .lines()
        .find(|l| l.contains(&format!("@{SET}")) && l.contains("drop"))
        .unwrap_or_else(|| panic!("no drop rule for {SET}:\n{table}"));
    lab::packet_counts(line)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no counter on {line}"))
}

/// Whether `addr` is in the feed's set (the kernel's own lookup, which
/// sees inside intervals).
fn listed(lab: &Lab, addr: &str) -> bool {
    lab.run(
        "fw",
        &[
            "nft",
            "get",
            "element",
            "inet",
            "sipwall",
            SET,
            &format!("{{ {addr} }}"),
        ],
    )
    .status
    .success()
}

#[test]
fn a_feed_fills_its_own_set_drops_with_its_own_counter_spares_the_allowlist_and_survives_a_restart_without_network(
) {
    let Some(lab) = Lab::up("feeds", &["python3"]) else {
        return;
    };
    let server = FeedServer::start_in(&lab.ns("peer"), "192.0.2.2");
    // The whole lab /24 is listed; the peer (the trunk) is allowlisted.
    server.set_list("/voipbl.txt", "# VoIPBL\n192.0.2.0/24\n203.0.113.0/24\n");
    let policy = format!(
        "[zones]\ntrunk = [\"192.0.2.2\"]\n\n\
         [services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\n\
         [guard]\nallow = [\"trunk\"]\n\n\
         [[feeds]]\nname = \"voipbl\"\nkind = \"list\"\nurl = \"{}\"\n",
        server.url("/voipbl.txt")
    );
    let policy = lab.apply_policy(&policy);
    let feeds_dir = lab.state.path().join("feeds");
    let args = [
        "-c",
        policy.to_str().unwrap(),
        "--metrics",
        "off",
        "--feeds-dir",
        feeds_dir.to_str().unwrap(),
    ];
    let log = lab.state.path().join("daemon.log");
    let daemon = lab.start_daemon(&log, &args);
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        lab.wait_for(Duration::from_secs(15), || listed(&lab, "192.0.2.66")),
        "the feed never reached its set:\n{}",
        daemon_log()
    );
    assert!(listed(&lab, "203.0.113.9"));
    assert!(
        !listed(&lab, "192.0.2.2"),
        "the allowlisted trunk is cut out of the listed /24"
    );
    assert!(lab.sipwall_table("fw").unwrap().contains("feed voipbl"));

    lab.counters(
        "fw",
        "input",
        &[
            "ip saddr 192.0.2.66 udp dport 5060 counter",
            "ip saddr 192.0.2.2 udp dport 5060 counter",
        ],
    );
    let before = feed_drops(&lab);
    options(&lab, "attacker", "192.0.2.66", 5);
    options(&lab, "peer", "192.0.2.2", 3);
    assert!(
        lab.wait_for(Duration::from_secs(5), || feed_drops(&lab) >= before + 5),
        "the feed's counter did not move: {} -> {}",
        before,
        feed_drops(&lab)
    );
    assert!(
        lab.wait_for(Duration::from_secs(5), || lab.counts("fw")[1] >= 3),
        "the allowlisted trunk's SIP got through"
    );
    assert_eq!(
        lab.counts("fw")[0],
        0,
        "nothing from the listed source passed sipwall's filter"
    );
    assert!(
        !lab.banned("fw", "192.0.2.66"),
        "the drop is the feed's, not a ban of the guard"
    );
    let copy = std::fs::read_to_string(feeds_dir.join("voipbl.list")).unwrap();
    assert!(copy.contains("192.0.2.0/24"), "{copy}");
    let status =
        String::from_utf8_lossy(&lab.sipwall("fw", &["status", "--format", "json"]).stdout)
            .into_owned();
    assert!(status.contains("feed voipbl"), "{status}");

    // Reboot without network: the daemon and the server gone, the set
    // emptied (as a fresh boot's table is).
    drop(daemon);
    drop(server);
    lab.ok("fw", &["nft", "flush", "set", "inet", "sipwall", SET]);
    assert!(!listed(&lab, "192.0.2.66"));
    let log2 = lab.state.path().join("daemon2.log");
    let _daemon = lab.start_daemon(&log2, &args);
    assert!(
        lab.wait_for(Duration::from_secs(10), || listed(&lab, "192.0.2.66")),
        "the last good copy did not fill the set:\n{}",
        std::fs::read_to_string(&log2).unwrap_or_default()
    );
    assert!(!listed(&lab, "192.0.2.2"));
    let before = feed_drops(&lab);
    options(&lab, "attacker", "192.0.2.66", 2);
    assert!(lab.wait_for(Duration::from_secs(5), || feed_drops(&lab) >= before + 2));
    let text = std::fs::read_to_string(&log2).unwrap_or_default();
    assert!(text.contains("last good copy"), "{text}");
    assert!(
        lab.wait_for(Duration::from_secs(10), || std::fs::read_to_string(&log2)
            .unwrap_or_default()
            .contains("feed refresh failed")),
        "the failed download is logged"
    );
    assert!(listed(&lab, "192.0.2.66"), "and the set keeps the copy");
}

#[test]
fn an_apiban_feed_pages_into_both_families_and_drops_a_listed_ipv6_source() {
    let Some(lab) = Lab::up("feeds_apiban", &["python3"]) else {
        return;
    };
    let server = FeedServer::start_in(&lab.ns("peer"), "192.0.2.2");
    server.set_pages(&[
        &["203.0.113.7", "2001:db8::66"],
        &["198.51.100.9", "2001:db8:5::/48"],
    ]);
    let key = lab.state.path().join("apiban.key");
    std::fs::write(&key, format!("{}\n", feed_server::KEY)).unwrap();
    let policy = format!(
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\n\
         [[feeds]]\nname = \"apiban\"\nkind = \"apiban\"\nurl = \"{}\"\nkey_file = \"{}\"\n",
        server.url("/api/get"),
        key.display()
    );
    let policy = lab.apply_policy(&policy);
    let feeds_dir = lab.state.path().join("feeds");
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(
        &log,
        &[
            "-c",
            policy.to_str().unwrap(),
            "--metrics",
            "127.0.0.1:9780",
            "--feeds-dir",
            feeds_dir.to_str().unwrap(),
        ],
    );
    let has = |set: &str, e: &str| lab.set_elements("fw", set).iter().any(|x| x == e);
    assert!(
        lab.wait_for(Duration::from_secs(15), || has(
            "feed_apiban_net_v6",
            "2001:db8:5::/48"
        )),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(has("feed_apiban_v4", "203.0.113.7"));
    assert!(has("feed_apiban_v4", "198.51.100.9"));
    assert!(has("feed_apiban_v6", "2001:db8::66"));
    let drops = || {
        let table = lab.ok("fw", &["nft", "list", "table", "inet", "sipwall"]);
        table
            .lines()
            .find(|l| l.contains("@feed_apiban_v6") && l.contains("drop"))
            .and_then(|l| lab::packet_counts(l).first().copied())
            .expect("the IPv6 feed rule has a counter")
    };
    let before = drops();
    let script = "import socket\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
        for i in range(3):\n    s.sendto(b'OPTIONS sip:100@[2001:db8::1] SIP/2.0\\r\\n\\r\\n', ('2001:db8::1', 5060))\n";
    lab.ok("attacker", &["python3", "-c", script]);
    assert!(lab.wait_for(Duration::from_secs(5), || drops() >= before + 3));
    let scrape = "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:9780/metrics').read().decode())";
    let metrics =
        || String::from_utf8_lossy(&lab.run("fw", &["python3", "-c", scrape]).stdout).into_owned();
    assert!(
        lab.wait_for(Duration::from_secs(3), || metrics()
            .contains("sipwall_feed_entries{feed=\"apiban\"} 4\n")),
        "{}",
        metrics()
    );
    assert!(metrics().contains("sipwall_feed_refreshes_total{feed=\"apiban\"} 1\n"));
    // Every page was asked for with the key, from APIBAN's start ID.
    let seen = server.seen();
    assert!(seen[0].body.contains("\"id\":\"100\""), "{:?}", seen[0]);
    assert!(seen.len() >= 3, "two pages and the end: {seen:?}");
}

/// The `elements` `sipwall status` reports for `list`.
fn status_elements(lab: &Lab, list: &str) -> Option<u64> {
    let out = lab.sipwall("fw", &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["lists"].as_array()?.iter().find(|l| l["list"] == list)?["elements"].as_u64()
}

#[test]
fn a_voipbl_sized_feed_is_in_the_kernel_within_seconds_from_the_network_and_from_its_copy() {
    let Some(lab) = Lab::up("feeds_big", &[]) else {
        return;
    };
    const N: usize = 60_000;
    let server = FeedServer::start_in(&lab.ns("peer"), "192.0.2.2");
    let mut body = String::from("# a VoIPBL-sized list, documentation addresses only\n");
    for i in 0..N {
        body.push_str(&format!(
            "2001:db8:{:x}::{:x}\n",
            1 + i / 4096,
            i % 4096 + 1
        ));
    }
    server.set_list("/big.txt", &body);
    let policy = format!(
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\n\
         [[feeds]]\nname = \"big\"\nkind = \"list\"\nurl = \"{}\"\n",
        server.url("/big.txt")
    );
    let policy = lab.apply_policy(&policy);
    let feeds_dir = lab.state.path().join("feeds");
    let args = [
        "-c",
        policy.to_str().unwrap(),
        "--metrics",
        "off",
        "--feeds-dir",
        feeds_dir.to_str().unwrap(),
    ];
    let full = || status_elements(&lab, "feed big") == Some(N as u64);
    let mut times = Vec::new();
    for (run, from) in [(1, "the network"), (2, "the last good copy")] {
        if run == 2 {
            lab.ok(
                "fw",
                &["nft", "flush", "set", "inet", "sipwall", "feed_big_v6"],
            );
            server.state().lists.clear();
        }
        let log = lab.state.path().join(format!("daemon{run}.log"));
        let t = std::time::Instant::now();
        let daemon = lab.start_daemon(&log, &args);
        assert!(
            lab.wait_for(Duration::from_secs(30), full),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let took = t.elapsed();
        eprintln!("{N} entries from {from}: in the kernel {took:?} after the daemon started");
        for l in std::fs::read_to_string(&log).unwrap_or_default().lines() {
            if l.contains("feed") || l.contains("guarding") {
                eprintln!("  {l}");
            }
        }
        times.push(took);
        drop(daemon);
    }
    let last = format!(
        "2001:db8:{:x}::{:x}",
        1 + (N - 1) / 4096,
        (N - 1) % 4096 + 1
    );
    assert!(lab
        .run(
            "fw",
            &[
                "nft",
                "get",
                "element",
                "inet",
                "sipwall",
                "feed_big_v6",
                &format!("{{ {last} }}")
            ]
        )
        .status
        .success());
    // Generous bounds for a loaded CI machine; the figures are printed.
    assert!(
        times.iter().all(|t| *t < Duration::from_secs(20)),
        "{times:?}"
    );
}
