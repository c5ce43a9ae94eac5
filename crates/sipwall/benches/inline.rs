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

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Lab(String);

impl Lab {
    fn ns(&self, n: &str) -> String {
        format!("{}-{n}", self.0)
    }
    fn ip(&self, args: &[&str]) {
        assert!(
            Command::new("ip").args(args).status().unwrap().success(),
            "ip {args:?}"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in ["fw", "tx"] {
            if let Ok(o) = Command::new("ip")
                .args(["netns", "pids", &self.ns(n)])
                .output()
            {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(n)])
                .status();
        }
    }
}

fn status_accepted(lab: &Lab, sock: &str) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("fw"),
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
    let lab = Lab(format!("swin{}", std::process::id() % 100_000));
    if !Command::new("ip")
        .args(["netns", "add", &lab.ns("fw")])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("inline: skipped: needs root and `ip netns`");
        return;
    }
    lab.ip(&["netns", "add", &lab.ns("tx")]);
    let (a, b) = (format!("{}a", lab.0), format!("{}b", lab.0));
    lab.ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    lab.ip(&["link", "set", &a, "netns", &lab.ns("fw")]);
    lab.ip(&["link", "set", &b, "netns", &lab.ns("tx")]);
    lab.ip(&[
        "-n",
        &lab.ns("fw"),
        "addr",
        "add",
        "192.0.2.1/24",
        "dev",
        &a,
    ]);
    lab.ip(&[
        "-n",
        &lab.ns("tx"),
        "addr",
        "add",
        "192.0.2.2/24",
        "dev",
        &b,
    ]);
    for (n, dev) in [("fw", &a), ("tx", &b)] {
        lab.ip(&["-n", &lab.ns(n), "link", "set", dev, "up"]);
        lab.ip(&["-n", &lab.ns(n), "link", "set", "lo", "up"]);
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[zones]\nbench = [\"192.0.2.2\"]\n[guard]\nallow = [\"bench\"]\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let sock = dir.path().join("control.sock");
    let sw = |args: &[&str]| {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &lab.ns("fw"),
            env!("CARGO_BIN_EXE_sipwall"),
        ])
        .args(args)
        .env("SIPWALL_STATE_DIR", dir.path())
        .env("SIPWALL_SAVED_RULESET", dir.path().join("saved.nft"))
        .env("SIPWALL_LEDGER", dir.path().join("ledger.sqlite"))
        .env("SIPWALL_CONTROL", &sock);
        c
    };
    assert!(sw(&["apply", "-c", policy.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let mut daemon = sw(&[
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
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));

    let msg = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2:5070;branch=z9hG4bK-bench\r\nFrom: <sip:bench@192.0.2.2>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: bench\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: bench\r\nContent-Length: 0\r\n\r\n";
    let seconds = 5;
    let tx_path = format!("/run/netns/{}", lab.ns("tx"));
    let sent = std::thread::spawn(move || {
        nix::sched::setns(
            std::fs::File::open(&tx_path).unwrap(),
            nix::sched::CloneFlags::CLONE_NEWNET,
        )
        .unwrap();
        let s = UdpSocket::bind("192.0.2.2:5070").unwrap();
        let end = Instant::now() + Duration::from_secs(seconds);
        let mut n = 0u64;
        while Instant::now() < end {
            for _ in 0..64 {
                let _ = s.send_to(msg, "192.0.2.1:5060");
                n += 1;
            }
        }
        n
    });
    let sock_s = sock.to_str().unwrap().to_owned();
    let before = status_accepted(&lab, &sock_s);
    let t = Instant::now();
    let sent = sent.join().unwrap();
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let verdicts = status_accepted(&lab, &sock_s) - before;
    let _ = daemon.kill();
    let _ = daemon.wait();
    println!(
        "| inline (NFQUEUE) | {sent} sent in {took:.2?} | {verdicts} verdicts | {:.0} verdicts/s |",
        verdicts as f64 / took.as_secs_f64()
    );
}
