//! SIP packets per second through `sipwall run --mode inline`: every packet
//! held in the kernel's queue until the engine's verdict. A sender in a
//! namespace of its own blasts OPTIONS at a firewall namespace running
//! the daemon (the sender is allowlisted, so the flood limit does not ban
//! it and every packet goes through the full path); the figure is the
//! number of verdicts per second the daemon gave, read from its counters.
//! Past saturation the queue overflows and, fail-open, lets the rest pass
//! without a verdict: those are not counted.
//!
//! Run: `cargo bench -p sipwall --bench inline` (root)

#[path = "netns/mod.rs"]
mod netns;

use netns::{Netns, Reaped};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Verdicts the daemon in `fw` has given so far.
fn verdicts(fw: &Netns, sock: &str) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &fw.0,
            env!("CARGO_BIN_EXE_sipwall"),
            "status",
            "--format",
            "json",
            "--control",
            sock,
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["packets"]["accepted"].as_u64().unwrap_or(0) + v["packets"]["dropped"].as_u64().unwrap_or(0)
}

fn main() {
    let id = std::process::id() % 100_000;
    let Some(fw) = Netns::new(&format!("swin{id}-fw")) else {
        eprintln!("inline: skipped: needs root and `ip netns`");
        return;
    };
    let tx = Netns::new(&format!("swin{id}-tx")).expect("netns");
    netns::link(
        &fw,
        &tx,
        (&format!("swin{id}a"), "192.0.2.1/24"),
        (&format!("swin{id}b"), "192.0.2.2/24"),
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[zones]\nbench = [\"192.0.2.2\"]\n[guard]\nallow = [\"bench\"]\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let sock = dir.path().join("control.sock");
    let sipwall = |args: &[&str]| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &fw.0, env!("CARGO_BIN_EXE_sipwall")])
            .args(args)
            .env("SIPWALL_STATE_DIR", dir.path())
            .env("SIPWALL_SAVED_RULESET", dir.path().join("saved.nft"))
            .env("SIPWALL_LEDGER", dir.path().join("ledger.sqlite"))
            .env("SIPWALL_CONTROL", &sock);
        c
    };
    assert!(sipwall(&["apply", "-c", policy.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let daemon = Reaped(
        sipwall(&[
            "run",
            "-c",
            policy.to_str().unwrap(),
            "--mode",
            "inline",
            "--metrics",
            "off",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(2));

    let msg = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2:5070;branch=z9hG4bK-bench\r\nFrom: <sip:bench@192.0.2.2>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: bench\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: bench\r\nContent-Length: 0\r\n\r\n";
    let sock = sock.to_str().unwrap();
    let before = verdicts(&fw, sock);
    let t = Instant::now();
    let sent = tx.within(|| {
        let s = UdpSocket::bind("192.0.2.2:5070").unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        let mut n = 0u64;
        while Instant::now() < end {
            for _ in 0..64 {
                let _ = s.send_to(msg, "192.0.2.1:5060");
                n += 1;
            }
        }
        n
    });
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let given = verdicts(&fw, sock) - before;
    drop(daemon);
    println!(
        "| inline (NFQUEUE) | {sent} sent in {took:.2?} | {given} verdicts | {:.0} verdicts/s |",
        given as f64 / took.as_secs_f64()
    );
}
