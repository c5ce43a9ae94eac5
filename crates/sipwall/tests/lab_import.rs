//! `sipwall import fail2ban`: the active bans of a real fail2ban 1.0.2
//! (Debian's, banning by hand with `fail2ban-client set JAIL banip`), read
//! from its own database into sipwall's ledger (daemon down) and through
//! the daemon into the kernel (daemon up).

#[path = "lab/fail2ban.rs"]
mod fail2ban;
mod lab;

use lab::Lab;
use std::time::Duration;

fn banned(lab: &Lab, addr: &str) -> bool {
    lab.banned("fw", addr)
}

#[test]
fn import_fail2ban_takes_its_active_bans_with_reason_and_expiry() {
    let test = "import_fail2ban_takes_its_active_bans_with_reason_and_expiry";
    if !fail2ban::require(test) {
        return;
    }
    let Some(lab) = Lab::up("import_f2b", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("freeswitch.log");
    std::fs::write(&log, "").unwrap();
    // fail2ban guards the attacker's namespace here: its nft actions stay
    // out of the way of sipwall's table in `fw`.
    let f2b = fail2ban::Fail2ban::start(
        &lab,
        "attacker",
        &fail2ban::Jail {
            logpath: &log,
            maxretry: 5,
            fix_cpu_field: false,
        },
    );
    for addr in ["203.0.113.7", "198.51.100.9"] {
        let out = f2b.client(&["set", "freeswitch", "banip", addr]);
        assert!(out.is_some(), "banip {addr}:\n{}", f2b.log());
    }
    let db = f2b.db();
    assert!(lab.wait_for(Duration::from_secs(10), || {
        std::fs::metadata(&db).is_ok_and(|m| m.len() > 0)
    }));
    let db = db.to_str().unwrap().to_owned();

    // Daemon down: the ledger.
    assert!(lab.sipwall("fw", &["apply"]).status.success());
    let out = lab.sipwall("fw", &["import", "fail2ban", &db]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("imported 2 of 2") && text.contains("into the ledger"),
        "{text}"
    );
    let ledger = rusqlite::Connection::open(lab.state.path().join("ledger.sqlite")).unwrap();
    let reasons: Vec<(String, String)> = ledger
        .prepare("SELECT addr, reason FROM bans WHERE ended_at IS NULL ORDER BY addr")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|(_, r)| r.starts_with("fail2ban jail freeswitch")),
        "{reasons:?}"
    );
    drop(ledger);

    // The daemon puts the ledger's bans in the kernel when it starts.
    let daemon_log = lab.state.path().join("daemon.log");
    let daemon = lab
        .cmd("fw", lab::sipwall())
        .args(["run", "--metrics", "off"])
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(&daemon_log).unwrap())
        .spawn()
        .unwrap();
    let _daemon = lab::Background(daemon);
    assert!(
        lab.wait_for(Duration::from_secs(15), || banned(&lab, "203.0.113.7")
            && banned(&lab, "198.51.100.9")),
        "{}",
        std::fs::read_to_string(&daemon_log).unwrap_or_default()
    );

    // Daemon up: through it (kernel, then ledger); the two already there
    // are said to be, and a new fail2ban ban comes over.
    let out = f2b.client(&["set", "freeswitch", "banip", "203.0.113.8"]);
    assert!(out.is_some());
    let out = lab.sipwall("fw", &["import", "fail2ban", &db]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("imported 1 of 3") && text.contains("through the daemon"),
        "{text}"
    );
    assert!(text.contains("already banned"), "{text}");
    assert!(banned(&lab, "203.0.113.8"));
    let list = String::from_utf8_lossy(&lab.sipwall("fw", &["bans", "list"]).stdout).into_owned();
    assert!(
        list.lines()
            .any(|l| l.starts_with("203.0.113.8") && l.contains("fail2ban jail freeswitch")),
        "{list}"
    );
}
