//! Issue 13 against the running daemon: storage faults, allowlisting
//! after a ban, the control socket and the metrics endpoint under attack,
//! remote text on its way to terminals, logs and the ledger. Each test is
//! named after the attack or fault it closes.

mod lab;

use lab::Lab;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn banned(lab: &Lab, addr: &str) -> bool {
    lab.banned("fw", addr)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn control_socket(lab: &Lab) -> std::path::PathBuf {
    lab.state.path().join("control.sock")
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_control_socket_in_a_directory_others_can_write_is_refused_and_never_chmod_ed() {
    // Nothing here reaches the kernel: the directory is checked first.
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let sock = shared.join("x.sock");
    let out = std::process::Command::new(lab::sipwall())
        .args(["run", "--metrics", "off", "--control"])
        .arg(&sock)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("writable by others"), "{err}");
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o1777, "an existing directory is never chmod-ed");
    assert!(!sock.exists());
    // Owned by someone else (nobody): refused the same way.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let out = std::process::Command::new(lab::sipwall())
        .args(["run", "--metrics", "off", "--control"])
        .arg(theirs.join("x.sock"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not root"), "{err}");
}

#[test]
fn a_ban_of_a_million_years_is_refused_with_the_maximum() {
    for length in ["1000000years", "200years"] {
        let out = std::process::Command::new(lab::sipwall())
            .args(["bans", "add", "192.0.2.66", "--for", length])
            .env("SIPWALL_CONTROL", "/nonexistent/control.sock")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("maximum, 1year"), "{err}");
    }
}

#[test]
fn a_dripping_client_cannot_block_status() {
    let Some(lab) = Lab::up("daemon_drip", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    // Three clients that send a byte every 300 ms and never finish a line.
    let drips: Vec<_> = (0..3)
        .map(|_| {
            let mut s = UnixStream::connect(control_socket(&lab)).unwrap();
            std::thread::spawn(move || {
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(8) {
                    if s.write_all(b" ").is_err() {
                        return started.elapsed();
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
                started.elapsed()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = json(&lab.sipwall("fw", &["status", "--format", "json"]));
    let took = started.elapsed();
    eprintln!("status answered in {took:?} beside three dripping clients");
    assert!(took < Duration::from_secs(2), "status took {took:?}");
    assert_eq!(status["ledger_in_memory"], false, "{status}");
    // Each dripping client is cut off at its deadline (5 s), not served forever.
    for d in drips {
        let lasted = d.join().unwrap();
        assert!(lasted < Duration::from_secs(7), "a drip lasted {lasted:?}");
    }
}

#[test]
fn a_400_mib_request_line_does_not_grow_the_daemon() {
    let Some(lab) = Lab::up("daemon_huge", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    let pid = daemon.0.id();
    let before = rss_kib(pid);
    let mut s = UnixStream::connect(control_socket(&lab)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0usize;
    while sent < 400 << 20 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    // The answer, if the daemon could still send one, says why.
    let mut answer = String::new();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.read_to_string(&mut answer);
    let after = rss_kib(pid);
    eprintln!(
        "sent {} MiB before the daemon hung up; RSS {before} KiB -> {after} KiB; answer {answer:?}",
        sent >> 20
    );
    assert!(sent < 400 << 20, "the daemon read all 400 MiB");
    assert!(
        after < before + 8 * 1024,
        "the daemon grew by {} KiB",
        after - before
    );
    assert!(lab.sipwall("fw", &["status"]).status.success());
}

#[test]
fn a_slow_metrics_scrape_cannot_stall_others() {
    let Some(lab) = Lab::up("daemon_scrape", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &[]);
    // Five scrapers that connect and never send their request.
    let ready = lab.state.path().join("slow-ready");
    let slow = format!(
        "import socket, time\nss = [socket.create_connection(('127.0.0.1', 9780)) for _ in range(5)]\nopen({:?}, 'w').close()\ntime.sleep(30)",
        ready.to_str().unwrap()
    );
    let _slow = lab.spawn("fw", &["python3", "-c", &slow]);
    assert!(
        lab.wait_for(Duration::from_secs(10), || ready.exists()),
        "the slow scrapers did not connect"
    );
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let scrape = lab.run(
        "fw",
        &["curl", "-sf", "-m", "3", "http://127.0.0.1:9780/metrics"],
    );
    let took = started.elapsed();
    eprintln!("a scrape beside five stalled ones took {took:?}");
    assert!(scrape.status.success(), "the scrape failed after {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let page = String::from_utf8_lossy(&scrape.stdout);
    assert!(page.contains("sipwall_ledger_in_memory 0"), "{page}");
}

#[test]
fn allowlisting_after_a_ban_lifts_it_on_restart() {
    let Some(lab) = Lab::up("daemon_allow", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let mut daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    // The forged-source ban of a trunk: the admin then allowlists it.
    assert!(lab
        .sipwall("fw", &["bans", "add", "192.0.2.2", "--for", "1h"])
        .status
        .success());
    assert!(lab
        .sipwall("fw", &["bans", "add", "192.0.2.66", "--for", "1h"])
        .status
        .success());
    assert!(banned(&lab, "192.0.2.2"));
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    // And a ban of the trunk only the kernel holds (from apply's carry-over, say).
    lab.ok(
        "fw",
        &[
            "nft",
            "add",
            "element",
            "inet",
            "sipwall",
            "ban_v6",
            "{ 2001:db8::2 timeout 10m }",
        ],
    );
    let policy = lab.apply_policy(
        "[zones]\ntrunks = [\"192.0.2.2\", \"2001:db8::2\"]\n[guard]\nallow = [\"trunks\"]\n\
         [services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n",
    );
    let log2 = lab.state.path().join("daemon2.log");
    let _daemon = lab.start_daemon(&log2, &["--metrics", "off", "-c", policy.to_str().unwrap()]);
    let text = std::fs::read_to_string(&log2).unwrap();
    assert!(!banned(&lab, "192.0.2.2"), "lifted in the kernel:\n{text}");
    let table = lab.sipwall_table("fw").unwrap();
    // The set alone: the first line names the allowlisted trunk in a rule.
    let bans_v6 = table
        .split("set ban_v6 {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .unwrap_or_default();
    assert!(
        !bans_v6.contains("2001:db8::2 "),
        "the kernel-only ban is lifted too:\n{table}"
    );
    assert!(banned(&lab, "192.0.2.66"), "other bans stay");
    let list = json(&lab.sipwall("fw", &["bans", "list", "--format", "json"]));
    let addrs: Vec<_> = list["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["addr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(addrs, ["192.0.2.66"], "{list}");
    let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let ended: String = db
        .query_row(
            "SELECT ended_by FROM bans WHERE addr = '192.0.2.2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // apply drops it first (it carries no allowlisted ban), or the
    // restart does: either way the ledger says why.
    assert!(
        ended.starts_with("allowlisted"),
        "the ledger says why: {ended}"
    );
}

#[test]
fn a_garbage_file_as_ledger_does_not_stop_the_daemon() {
    let Some(lab) = Lab::up("daemon_garbage", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let garbage = b"\x00\xffnot a database\n".repeat(1000);
    std::fs::write(lab.state.path().join("ledger.sqlite"), &garbage).unwrap();
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    assert!(lab
        .sipwall("fw", &["bans", "add", "192.0.2.66", "--for", "1h"])
        .status
        .success());
    assert!(banned(&lab, "192.0.2.66"));
    let kept: Vec<_> = std::fs::read_dir(lab.state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("ledger.sqlite.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), garbage, "kept as it was");
    let status = json(&lab.sipwall("fw", &["status", "--format", "json"]));
    assert_eq!(status["ledger_in_memory"], false, "{status}");
    assert_eq!(status["daemon"]["running"], true, "{status}");
    assert_eq!(status["table"]["loaded"], true, "{status}");
    // The text form is text: aligned rows, the daemon's uptime in words,
    // and the ban listed with a header and its remaining time.
    let text = String::from_utf8(lab.sipwall("fw", &["status"]).stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("daemon") && l.contains("running for")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("bans active")), "{text}");
    assert!(!text.trim_start().starts_with('{'), "not JSON: {text}");
    let bans = String::from_utf8(lab.sipwall("fw", &["bans", "list"]).stdout).unwrap();
    let header = bans.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("ADDRESS") && header.contains("REMAINING"),
        "{bans}"
    );
    let row = bans
        .lines()
        .find(|l| l.starts_with("192.0.2.66"))
        .expect("the ban is listed");
    let left = row[header.find("REMAINING").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap();
    assert!(
        left.starts_with("59m") || left == "1h",
        "remaining {left:?} in {bans}"
    );
}

#[test]
fn an_unwritable_ledger_falls_back_to_memory_and_says_so() {
    let Some(lab) = Lab::up("daemon_unwritable", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    // /proc takes no new files, even from root.
    let _daemon = lab.start_daemon(&log, &["--ledger", "/proc/sipwall/ledger.sqlite"]);
    assert!(lab
        .sipwall("fw", &["bans", "add", "192.0.2.66", "--for", "1h"])
        .status
        .success());
    assert!(banned(&lab, "192.0.2.66"), "bans still reach the kernel");
    let status = json(&lab.sipwall("fw", &["status", "--format", "json"]));
    assert_eq!(status["ledger_in_memory"], true, "{status}");
    assert!(
        status["ledger"].as_str().unwrap().contains("IN MEMORY"),
        "{status}"
    );
    let list = json(&lab.sipwall("fw", &["bans", "list", "--format", "json"]));
    assert_eq!(list["bans"][0]["addr"], "192.0.2.66", "{list}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("THE LEDGER IS IN MEMORY"), "{text}");
    let scrape = "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:9780/metrics').read().decode())";
    let has = || {
        String::from_utf8_lossy(&lab.run("fw", &["python3", "-c", scrape]).stdout)
            .contains("sipwall_ledger_in_memory 1")
    };
    assert!(
        lab.wait_for(Duration::from_secs(3), has),
        "the metric says so"
    );
}

#[test]
fn a_user_agent_with_an_escape_sequence_comes_out_escaped_in_bans_list_the_log_and_the_ledger() {
    let Some(lab) = Lab::up("daemon_escape", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    let forge = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        msg = (b'OPTIONS sip:100@192.0.2.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 192.0.2.66:5060;branch=z9hG4bK-1\\r\\n'\n\
        b'From: <sip:a@192.0.2.66>;tag=1\\r\\nTo: <sip:100@192.0.2.1>\\r\\nCall-ID: esc-1\\r\\nCSeq: 1 OPTIONS\\r\\n'\n\
        b'User-Agent: friendly-scanner\\x1b[31m\\x1b]0;owned\\x07\\r\\nContent-Length: 0\\r\\n\\r\\n')\n\
        s.sendto(msg, ('192.0.2.1', 5060))";
    lab.ok("attacker", &["python3", "-c", forge]);
    assert!(
        lab.wait_for(Duration::from_secs(5), || banned(&lab, "192.0.2.66")),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let out = lab.sipwall("fw", &["bans", "list"]);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("friendly-scanner"), "{listing}");
    assert!(
        !out.stdout.contains(&0x1b),
        "raw ESC in `bans list`: {listing:?}"
    );
    assert!(listing.contains("\\x1b[31m"), "{listing}");
    let json_out = lab.sipwall("fw", &["bans", "list", "--format", "json"]);
    assert!(!json_out.stdout.contains(&0x1b));
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read(&log).unwrap();
    assert!(
        String::from_utf8_lossy(&text).contains("friendly-scanner"),
        "the ban is logged"
    );
    assert!(!text.contains(&0x1b), "raw ESC in the log");
    let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let (reason, evidence): (String, String) = db
        .query_row(
            "SELECT reason, evidence FROM bans WHERE addr = '192.0.2.66'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    for t in [&reason, &evidence] {
        assert!(!t.contains('\x1b'), "raw ESC in the ledger: {t:?}");
    }
    assert!(evidence.contains("\\x1b[31m"), "{evidence}");
}

#[test]
fn a_restored_ban_the_kernel_refuses_is_skipped_and_the_daemon_guards_on() {
    let Some(lab) = Lab::up("daemon_refused", &[]) else {
        return;
    };
    // A table whose IPv4 ban set holds one element: the second ban of a
    // restore is refused (ENFILE), which once failed the whole batch and
    // made `run` exit.
    lab.nft(
        "fw",
        "table inet sipwall {\n\
           set ban_v4 { type ipv4_addr; flags timeout; size 1; }\n\
           set ban_v6 { type ipv6_addr; flags timeout; }\n\
           set pinhole_port { type inet_service; flags timeout; }\n\
           set pinhole_v4 { type ipv4_addr . inet_service; flags timeout; }\n\
           set pinhole_v6 { type ipv6_addr . inet_service; flags timeout; }\n\
         }\n",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    {
        let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
        db.execute_batch(
            "CREATE TABLE bans (id INTEGER PRIMARY KEY, addr TEXT NOT NULL, kind TEXT NOT NULL, \
             reason TEXT NOT NULL, evidence TEXT NOT NULL, banned_at INTEGER NOT NULL, \
             until INTEGER NOT NULL, ended_at INTEGER, ended_by TEXT)",
        )
        .unwrap();
        for addr in ["192.0.2.66", "192.0.2.67", "2001:db8::66"] {
            db.execute(
                "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) VALUES (?1, 'manual', 'r', 'e', ?2, ?3)",
                rusqlite::params![addr, now, now + 3_600_000_000],
            )
            .unwrap();
        }
    }
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("the kernel refused a restored ban: skipped"),
        "{text}"
    );
    let table = lab.sipwall_table("fw").unwrap();
    assert!(table.contains("192.0.2.66"), "{table}");
    assert!(
        table.contains("2001:db8::66"),
        "the other family went in: {table}"
    );
    let db = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let ended: String = db
        .query_row(
            "SELECT ended_by FROM bans WHERE addr = '192.0.2.67'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ended, "refused by the kernel");
    let status = json(&lab.sipwall("fw", &["status", "--format", "json"]));
    assert_eq!(status["bans_active"], 2, "{status}");
}

#[test]
fn a_second_daemon_says_another_one_runs_and_leaves_it_its_control_socket() {
    let Some(lab) = Lab::up("daemon_twice", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let _first = lab.start_daemon(&log, &["--metrics", "off"]);
    let second = lab
        .cmd("fw", lab::sipwall())
        .args(["run", "--metrics", "off"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another sipwall daemon is running"), "{err}");
    // The first one still answers.
    assert!(lab.sipwall("fw", &["status"]).status.success());
    // Its own socket given, the second one meets the NFLOG group instead.
    let sock = lab.state.path().join("second.sock");
    let second = lab
        .cmd("fw", lab::sipwall())
        .args([
            "run",
            "--metrics",
            "off",
            "--control",
            sock.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("NFLOG group 47 is held by another process"),
        "{err}"
    );
    assert!(lab.sipwall("fw", &["status"]).status.success());
}

#[test]
fn an_event_socket_error_keeps_its_cause_in_the_log() {
    let Some(lab) = Lab::up("daemon_esl_cause", &[]) else {
        return;
    };
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let password = lab.state.path().join("esl.password");
    std::fs::write(&password, "ClueCon\n").unwrap();
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(
        &log,
        &[
            "--metrics",
            "off",
            "--esl",
            "127.0.0.1:1",
            "--esl-password-file",
            password.to_str().unwrap(),
        ],
    );
    let line = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("msg=\"event socket\""))
            .map(str::to_owned)
    };
    assert!(lab.wait_for(Duration::from_secs(10), || line().is_some()));
    let line = line().unwrap();
    // What failed and why, in one logfmt line.
    assert!(line.contains("connecting to 127.0.0.1:1"), "{line}");
    assert!(line.contains("Connection refused"), "{line}");
    assert!(
        line.starts_with("ts=") && line.contains(" level=warn "),
        "{line}"
    );
}

#[test]
fn a_flush_ruleset_by_debians_nftables_conf_brings_the_table_and_the_bans_back() {
    let Some(lab) = Lab::up("daemon_flushed", &[]) else {
        return;
    };
    let conf = std::path::Path::new("/etc/nftables.conf");
    if !conf.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Debian's nftables package installs /etc/nftables.conf"
        );
        eprintln!("skipped: no /etc/nftables.conf (Debian's nftables package installs it)");
        return;
    }
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["--metrics", "off"]);
    assert!(lab
        .sipwall("fw", &["bans", "add", "192.0.2.66", "--for", "1h"])
        .status
        .success());
    assert!(banned(&lab, "192.0.2.66"));
    // What nftables.service runs on start and reload.
    lab.ok("fw", &["nft", "-f", conf.to_str().unwrap()]);
    assert!(lab.sipwall_table("fw").is_none(), "the flush wiped it");
    let back = || {
        banned(&lab, "192.0.2.66")
            && lab
                .run("fw", &["nft", "list", "table", "inet", "sipwall_intake"])
                .status
                .success()
    };
    assert!(
        lab.wait_for(Duration::from_secs(15), back),
        "table, intake and ban are back:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Debian's own table stays beside it.
    assert!(lab
        .ok("fw", &["nft", "list", "tables"])
        .contains("table inet filter"));
    let json = json(&lab.sipwall("fw", &["status", "--format", "json"]));
    assert_eq!(json["table"]["policy_matches"], true, "{json}");
}
