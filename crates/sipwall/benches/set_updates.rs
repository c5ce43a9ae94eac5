//! How fast bans reach the kernel, in a network namespace of the bench's
//! own (root needed; it prints why it skips otherwise):
//!
//! - one `nft add element` process per element (what scripts and fail2ban's
//!   nftables action do);
//! - netlink, one element per transaction (the daemon's rate for isolated bans);
//! - netlink batches (`SetWriter::add` with many elements: restores, bulk bans);
//! - a daemon start that restores 100,000 unexpired bans from the ledger.
//!
//! Run: `cargo bench -p sipwall --bench set_updates`

#[path = "netns/mod.rs"]
mod netns;

use netns::Netns;
use sipwall_netfilter::{Key, SetWriter};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn nft(ns: &str, args: &[&str]) {
    let ok = Command::new("ip")
        .args(["netns", "exec", ns, "nft"])
        .args(args)
        .status()
        .unwrap();
    assert!(ok.success(), "nft {args:?}");
}

fn addr(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + i))
}

fn main() {
    let ns = format!("swbench{}", std::process::id());
    if !Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("set_updates: skipped: needs root and `ip netns`");
        return;
    }
    let ns = Netns(ns);
    let table = "table inet sipwall {\n set ban_v4 { type ipv4_addr; flags timeout; gc-interval 1m; }\n set ban_v6 { type ipv6_addr; flags timeout; }\n}\n";
    let load = |text: &str| {
        let mut c = Command::new("ip")
            .args(["netns", "exec", &ns.0, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    };
    let reset = || {
        load(&format!(
            "table inet sipwall {{}}\ndelete table inet sipwall\n{table}"
        ))
    };

    println!("| path | elements | time | rate |\n| --- | --- | --- | --- |");
    reset();
    let n = 200u32;
    let t = Instant::now();
    for i in 0..n {
        nft(
            &ns.0,
            &[
                "add",
                "element",
                "inet",
                "sipwall",
                "ban_v4",
                &format!("{{ {} timeout 1h }}", addr(i)),
            ],
        );
    }
    let e = t.elapsed();
    println!(
        "| one `nft add element` process per element | {n} | {e:.2?} | {:.0} /s |",
        f64::from(n) / e.as_secs_f64()
    );

    reset();
    let n = 20_000u32;
    let e = ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        let t = Instant::now();
        for i in 0..n {
            w.add("ban_v4", &[(Key::Addr(addr(i)), Duration::from_secs(3600))])
                .unwrap();
        }
        t.elapsed()
    });
    println!(
        "| netlink, one element per transaction (acked) | {n} | {e:.2?} | {:.0} /s |",
        f64::from(n) / e.as_secs_f64()
    );

    reset();
    let n = 1_000_000u32;
    let bans: Vec<(Key, Duration)> = (0..n)
        .map(|i| (Key::Addr(addr(i)), Duration::from_secs(3600)))
        .collect();
    let e = ns.within(|| {
        let mut w = SetWriter::open("sipwall").unwrap();
        let t = Instant::now();
        w.add("ban_v4", &bans).unwrap();
        t.elapsed()
    });
    println!(
        "| netlink batches (4,096 elements per transaction) | {n} | {e:.2?} | {:.0} /s |",
        f64::from(n) / e.as_secs_f64()
    );

    // A daemon start restoring 100,000 bans from the ledger.
    reset();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger.sqlite");
    let db = rusqlite::Connection::open(&ledger).unwrap();
    db.execute_batch("CREATE TABLE bans (id INTEGER PRIMARY KEY, addr TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL, banned_at INTEGER NOT NULL, until INTEGER NOT NULL, ended_at INTEGER, ended_by TEXT); BEGIN;").unwrap();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    let restore_n = 100_000u32;
    for i in 0..restore_n {
        db.execute(
            "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) VALUES (?1, 'scanner', 'scanner', 'bench', ?2, ?3)",
            rusqlite::params![addr(i).to_string(), now_us, now_us + 3_600_000_000],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT;").unwrap();
    drop(db);
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let compiled = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(["compile", "-c", policy.to_str().unwrap()])
        .output()
        .unwrap();
    load(&format!(
        "table inet sipwall {{}}\ndelete table inet sipwall\n{}",
        String::from_utf8_lossy(&compiled.stdout)
    ));
    let t = Instant::now();
    let mut daemon = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_sipwall"),
            "run",
            "-c",
            policy.to_str().unwrap(),
            "--metrics",
            "off",
        ])
        .env("SIPWALL_LEDGER", &ledger)
        .env("SIPWALL_CONTROL", dir.path().join("control.sock"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut restored = None;
    for line in BufReader::new(daemon.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("restored=") {
            restored = Some(t.elapsed());
            break;
        }
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let e = restored.expect("the daemon reported its restore");
    println!("| daemon start restoring bans from the ledger (process start included) | {restore_n} | {e:.2?} | {:.0} /s |", f64::from(restore_n) / e.as_secs_f64());
}
