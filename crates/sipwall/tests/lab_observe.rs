//! Issue 17's shadow mode in the real kernel: `sipwall run --observe` and
//! `guard.mode = "observe"`, attacked by the real sipvicious tools. Every
//! detector decides as in enforce mode and the would-be ban is logged,
//! counted and kept in the ledger, but no element reaches a ban set and the
//! scanner keeps getting answers; and the daemon's decisions on live
//! traffic are the ones `sipwall replay` finds in a capture of the same
//! attack recorded in the lab.

mod capture;
mod lab;

use lab::{Background, Lab};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const SIP_ONLY: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n";
const OBSERVING: &str =
    "[guard]\nmode = \"observe\"\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n";

/// The SIPp responder the lab captures were recorded against (OPTIONS
/// 200, REGISTER 401/403, else 404).
fn responder(lab: &Lab) -> Background {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/captures/responder.xml");
    lab.spawn(
        "fw",
        &[
            "sipp",
            "-sf",
            scenario,
            "-i",
            "192.0.2.1",
            "-p",
            "5060",
            "-nostdin",
        ],
    )
}

/// The log's `would ban` lines as (address, reason): the reason as the
/// daemon's logfmt writes it (quoted, inner quotes escaped).
fn would_bans(log: &str) -> BTreeSet<(String, String)> {
    log.lines()
        .filter(|l| l.contains("would ban"))
        .filter_map(|l| Some((field(l, "addr")?, field(l, "reason")?)))
        .collect()
}

/// One logfmt field's value, unquoted and unescaped.
fn field(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    let Some(quoted) = rest.strip_prefix('"') else {
        return Some(rest.split(' ').next()?.to_owned());
    };
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// `sipwall status --format json` in the lab.
fn status(lab: &Lab) -> serde_json::Value {
    let out = lab.sipwall("fw", &["status", "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// Whether the attacker's OPTIONS is answered by the server (through
/// sipwall's table): a scanner that is only observed is not cut off.
fn answered(lab: &Lab) -> bool {
    // Each line whole: a `\` continuation would eat Python's indentation.
    let probe = [
        "import socket",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "s.settimeout(1.0)",
        "s.bind(('192.0.2.66', 5099))",
        "m = b'OPTIONS sip:100@192.0.2.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 192.0.2.66:5099;branch=z9hG4bK-probe\\r\\nFrom: <sip:probe@192.0.2.66>;tag=1\\r\\nTo: <sip:100@192.0.2.1>\\r\\nCall-ID: probe@192.0.2.66\\r\\nCSeq: 1 OPTIONS\\r\\nMax-Forwards: 70\\r\\nUser-Agent: friendly-scanner\\r\\nContent-Length: 0\\r\\n\\r\\n'",
        "for i in range(3):",
        "    s.sendto(m, ('192.0.2.1', 5060))",
        "    try:",
        "        print(s.recv(4096).split(b'\\r\\n')[0].decode())",
        "        break",
        "    except socket.timeout:",
        "        pass",
    ]
    .join("\n");
    let out = lab.run("attacker", &["python3", "-c", &probe]);
    eprintln!(
        "probe: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).starts_with("SIP/2.0 ")
}

/// svmap against a daemon that observes (by `args` or by the policy):
/// the would-be ban is logged, counted in status and metrics, kept in the
/// ledger, and no ban set holds an element; svmap's address still gets
/// answers. Returns the log.
fn svmap_is_observed_not_banned(test: &str, policy: &str, args: &[&str]) -> String {
    let Some(lab) = Lab::up(test, &["sipp", "sipvicious_svmap", "python3"]) else {
        return String::new();
    };
    let path = lab.apply_policy(policy);
    let _server = responder(&lab);
    let log = lab.state.path().join("daemon.log");
    let mut run = vec!["-c", path.to_str().unwrap()];
    run.extend(args);
    let daemon = lab.start_daemon(&log, &run);
    let st = status(&lab);
    assert_eq!(st["guard_mode"], "observe", "{st}");
    let _attack = lab.spawn("attacker", &["sipvicious_svmap", "192.0.2.1"]);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        lab.wait_for(Duration::from_secs(15), || read().contains("would ban")),
        "no would-be ban logged:\n{}",
        read()
    );
    let text = read();
    assert!(
        text.contains("guard=\"observe\"") || text.contains("guard=observe"),
        "the start line says the mode:\n{text}"
    );
    assert!(
        would_bans(&text).contains(&(
            "192.0.2.66".to_owned(),
            "scanner: User-Agent \"friendly-scanner\"".to_owned()
        )),
        "{:?}\n{text}",
        would_bans(&text)
    );
    assert!(
        !text.lines().any(|l| l.contains("msg=banned")),
        "nothing banned:\n{text}"
    );
    // Counted in the status...
    let st = status(&lab);
    assert!(st["would_ban"]["scanner"].as_u64() >= Some(1), "{st}");
    // ...and the metrics (the page is rendered once a second).
    let scrape = "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:9780/metrics').read().decode())";
    assert!(
        lab.wait_for(Duration::from_secs(3), || {
            String::from_utf8_lossy(&lab.run("fw", &["python3", "-c", scrape]).stdout)
                .contains("sipwall_would_ban_total{detector=\"scanner\"} 1")
        }),
        "metrics"
    );
    // Nothing reached the kernel, and svmap's address is still answered.
    for set in ["ban_v4", "ban_v6", "ban_net_v4", "ban_net_v6"] {
        assert_eq!(lab.set_elements("fw", set), Vec::<String>::new(), "{set}");
    }
    assert!(!lab.banned("fw", "192.0.2.66"));
    assert!(answered(&lab), "the observed scanner gets answers");
    assert!(lab.set_elements("fw", "ban_v4").is_empty());
    // The ledger keeps it, marked observed (read after the daemon stops).
    drop(daemon);
    let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let (n, observed): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(observed), 0) FROM bans WHERE addr = '192.0.2.66' AND kind = 'scanner'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(n >= 1 && observed == n, "{n} rows, {observed} observed");
    text
}

#[test]
fn svmap_against_run_observe_is_logged_counted_and_never_banned() {
    let log = svmap_is_observed_not_banned("observe_flag", SIP_ONLY, &["--observe"]);
    if !log.is_empty() {
        // The table was applied from an enforcing policy: the daemon says
        // the kernel's first line still bans floods.
        assert!(log.contains("first line"), "{log}");
    }
}

#[test]
fn svmap_against_guard_mode_observe_is_logged_counted_and_never_banned() {
    let log = svmap_is_observed_not_banned("observe_policy", OBSERVING, &[]);
    assert!(!log.contains("first line"), "{log}");
}

#[test]
fn an_observing_policy_applies_no_first_line_that_could_ban() {
    let Some(lab) = Lab::up("observe_table", &[]) else {
        return;
    };
    lab.apply_policy(OBSERVING);
    let table = lab.sipwall_table("fw").unwrap();
    assert!(!table.contains("flood_ban"), "{table}");
    assert!(table.contains("set ban_v4"), "{table}");
    lab.apply_policy(SIP_ONLY);
    assert!(lab.sipwall_table("fw").unwrap().contains("flood_ban_v4"));
}

/// (address, reason) of each ban `sipwall replay` finds in `capture`
/// under `policy`.
fn replayed(dir: &Path, policy: &str, capture: &str) -> BTreeSet<(String, String)> {
    let p = dir.join("replay-policy.toml");
    std::fs::write(&p, policy).unwrap();
    let capture = capture::lab_capture(capture);
    let out = std::process::Command::new(lab::sipwall())
        .args([
            "replay",
            "-c",
            p.to_str().unwrap(),
            "--format",
            "json",
            &capture,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["summary"]["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["addr"].as_str().unwrap().to_owned(),
                b["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn replay_and_an_observing_daemon_decide_the_same_bans_for_the_same_attacks_and_floods() {
    for (test, capture, tool) in [
        (
            "observe_same_svmap",
            "svmap.pcap",
            &["sipvicious_svmap", "192.0.2.1"][..],
        ),
        (
            "observe_same_svwar",
            "svwar.pcap",
            &["sipvicious_svwar", "-e100-105", "192.0.2.1"][..],
        ),
        (
            "observe_same_svcrack",
            "svcrack.pcap",
            &["sipvicious_svcrack", "-u100", "-r1000-1004", "192.0.2.1"][..],
        ),
        // 80 OPTIONS at 200/s: with no first line in observe mode, the
        // daemon's flood detector sees them all, as replay does.
        (
            "observe_same_flood",
            "flood.pcap",
            &[
                "sipp",
                "192.0.2.1:5060",
                "-sf",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/captures/options-flood.xml"
                ),
                "-i",
                "192.0.2.66",
                "-p",
                "5060",
                "-r",
                "200",
                "-m",
                "80",
                "-nostdin",
            ][..],
        ),
    ] {
        let Some(lab) = Lab::up(test, &["sipp", tool[0]]) else {
            return;
        };
        let expected = replayed(lab.state.path(), OBSERVING, capture);
        assert!(!expected.is_empty(), "{capture}: replay bans nobody");
        let path = lab.apply_policy(OBSERVING);
        let _server = responder(&lab);
        let log = lab.state.path().join("daemon.log");
        let _daemon = lab.start_daemon(&log, &["-c", path.to_str().unwrap()]);
        let mut bounded = vec!["timeout", "60"];
        bounded.extend(tool);
        let attack = lab.run("attacker", &bounded);
        assert!(attack.status.success(), "{tool:?}");
        let read = || std::fs::read_to_string(&log).unwrap_or_default();
        // The attack has ended; the daemon's log catches up within a moment.
        lab.wait_for(Duration::from_secs(5), || would_bans(&read()) == expected);
        let text = read();
        assert_eq!(would_bans(&text), expected, "{capture}:\n{text}");
        assert!(lab.set_elements("fw", "ban_v4").is_empty(), "{capture}");
    }
}

#[test]
fn svmap_against_an_observing_inline_daemon_reaches_the_server_and_is_only_logged() {
    let Some(lab) = Lab::up(
        "observe_inline",
        &["sipp", "sipvicious_svmap", "iptables", "python3"],
    ) else {
        return;
    };
    let path = lab.apply_policy(OBSERVING);
    lab.counters(
        "fw",
        "input",
        &["ip saddr 192.0.2.66 udp dport 5060 counter"],
    );
    let _server = responder(&lab);
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["--mode", "inline", "-c", path.to_str().unwrap()]);
    let svmap = lab.run(
        "attacker",
        &["timeout", "60", "sipvicious_svmap", "192.0.2.1"],
    );
    assert!(svmap.status.success());
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        lab.wait_for(Duration::from_secs(5), || read().contains("would ban")),
        "{}",
        read()
    );
    // Inline, enforcing, not one scanner packet gets past the queue
    // (lab_guard's inline_no_scanner_packet_reaches_the_uas); observing,
    // svmap's first packet, the one that would have banned it, does.
    let before = lab.counts("fw")[0];
    assert!(before >= 1, "svmap's packets reached the server");
    assert!(answered(&lab), "the observed scanner gets answers");
    assert!(lab.counts("fw")[0] > before);
    assert!(lab.set_elements("fw", "ban_v4").is_empty());
}

#[test]
fn an_observing_daemon_still_opens_pinholes_so_calls_keep_their_media() {
    let Some(lab) = Lab::up("observe_pinhole", &["sipp"]) else {
        return;
    };
    let policy = lab.apply_policy(
        "[guard]\nmode = \"observe\"\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\
         [media]\nmode = \"pinhole\"\n[helpers.sip]\nassign = false\n",
    );
    lab.counters("fw", "input", &["udp dport 20000 counter"]);
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["-c", policy.to_str().unwrap()]);
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    // The UAS listens once SIPp has bound its port; the call retries nothing.
    assert!(lab.wait_for(Duration::from_secs(5), || {
        String::from_utf8_lossy(&lab.run("fw", &["ss", "-uln"]).stdout).contains("192.0.2.1:5060")
    }));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the call failed"
    );
    let rtp = lab.counts("fw")[0];
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(rtp > 50, "RTP through the pinhole: {rtp} packets\n{text}");
    assert!(text.contains("pinhole open"), "{text}");
}

#[test]
fn a_would_be_ban_is_not_put_in_the_kernel_by_a_restart_that_enforces() {
    let Some(lab) = Lab::up("observe_restart", &["sipp", "sipvicious_svmap"]) else {
        return;
    };
    let path = lab.apply_policy(SIP_ONLY);
    let _server = responder(&lab);
    let log = lab.state.path().join("daemon.log");
    let observing = lab.start_daemon(&log, &["-c", path.to_str().unwrap(), "--observe"]);
    lab.run(
        "attacker",
        &["timeout", "60", "sipvicious_svmap", "192.0.2.1"],
    );
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        lab.wait_for(Duration::from_secs(5), || read().contains("would ban")),
        "{}",
        read()
    );
    drop(observing);
    assert!(lab.wait_for(Duration::from_secs(10), || !lab
        .sipwall("fw", &["status"])
        .status
        .success()));
    let log2 = lab.state.path().join("daemon2.log");
    let _enforcing = lab.start_daemon(&log2, &["-c", path.to_str().unwrap()]);
    let text = std::fs::read_to_string(&log2).unwrap_or_default();
    assert!(
        text.contains("observed=1"),
        "the restore counts it:\n{text}"
    );
    assert!(lab.set_elements("fw", "ban_v4").is_empty(), "{text}");
    let bans = lab.sipwall("fw", &["bans", "list", "--format", "json"]);
    let bans: serde_json::Value = serde_json::from_slice(&bans.stdout).unwrap();
    assert_eq!(bans["bans"], serde_json::json!([]), "{bans}");
    // The enforcing daemon bans svmap now.
    lab.run(
        "attacker",
        &["timeout", "60", "sipvicious_svmap", "192.0.2.1"],
    );
    assert!(lab.wait_for(Duration::from_secs(10), || lab.banned("fw", "192.0.2.66")));
}
