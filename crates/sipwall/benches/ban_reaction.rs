//! Ban reaction, side by side in one run, each in a network namespace of
//! its own (root; fail2ban from Debian, skipped with a message if missing):
//!
//! - fail2ban 1.0.2 with its stock `freeswitch` filter (pyinotify backend,
//!   nftables action, maxretry 5 like sipwall's brute-force default), fed
//!   the log lines FreeSWITCH writes with `log-auth-failures=true`: from
//!   the last line written to the ban in the kernel;
//! - `sipwall run` (tap): from the offending packet sent to the ban in the
//!   kernel, and the daemon's own figure (packet received to kernel ack).
//!
//! Both kernels are watched the same way: `nft monitor` prints each set
//! element as the kernel commits it, and a thread stamps every line.
//! Run: `cargo bench -p sipwall --bench ban_reaction`

#[path = "netns/mod.rs"]
mod netns;

use netns::{Netns, Reaped};
use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The kernel's commit events of one namespace, stamped on arrival.
struct Monitor {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<(Instant, String)>,
}

impl Monitor {
    fn start(ns: &str) -> Monitor {
        use std::io::BufRead;
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "monitor"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        Monitor { child, lines }
    }

    /// When an element line naming `needle` was committed, within `limit`.
    fn added(&self, needle: &str, limit: Duration) -> Option<Instant> {
        let end = Instant::now() + limit;
        while let Ok((at, line)) = self
            .lines
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            if line.contains("element") && line.contains(needle) {
                return Some(at);
            }
        }
        None
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ruleset_has(ns: &str, needle: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "nft", "list", "ruleset"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(needle))
}

fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "median {:.1?}, min {:.1?}, max {:.1?} ({} bans)",
        v[v.len() / 2],
        v[0],
        v[v.len() - 1],
        v.len()
    )
}

fn fail2ban(rounds: u32) -> Option<Vec<Duration>> {
    if Command::new("sh")
        .args(["-c", "command -v fail2ban-server"])
        .stdout(Stdio::null())
        .status()
        .ok()?
        .code()
        != Some(0)
    {
        eprintln!("ban_reaction: fail2ban not installed (apt-get install fail2ban): fail2ban side skipped");
        return None;
    }
    let n = Netns::new(&format!("swf2b{}", std::process::id()))?;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    assert!(Command::new("cp")
        .args(["-r", "/etc/fail2ban", conf.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let log = dir.path().join("freeswitch.log");
    std::fs::write(&log, "").unwrap();
    std::fs::write(
        conf.join("fail2ban.local"),
        format!(
            "[Definition]\nsocket = {d}/f2b.sock\npidfile = {d}/f2b.pid\ndbfile = :memory:\nlogtarget = {d}/f2b.log\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[DEFAULT]\nbanaction = nftables-multiport\nbackend = pyinotify\n[sshd]\nenabled = false\n[freeswitch]\nenabled = true\nlogpath = {}\nmaxretry = 5\nfindtime = 600\nbantime = 3600\n",
            log.display()
        ),
    )
    .unwrap();
    let _server = Reaped(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &n.0,
                "fail2ban-server",
                "-f",
                "-x",
                "-c",
                conf.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    let sock = dir.path().join("f2b.sock");
    let ping = || {
        Command::new("fail2ban-client")
            .args(["-s", sock.to_str().unwrap(), "ping"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    wait_for(Duration::from_secs(30), ping)?;
    std::thread::sleep(Duration::from_secs(1));
    let monitor = Monitor::start(&n.0);
    let mut out = Vec::new();
    for round in 0..rounds {
        let ip = format!("198.51.100.{}", 10 + round);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let mut last_line = Instant::now();
        for _ in 0..5 {
            let ts = Command::new("date")
                .arg("+%Y-%m-%d %H:%M:%S.%6N")
                .output()
                .unwrap();
            let ts = String::from_utf8_lossy(&ts.stdout).trim().to_owned();
            writeln!(f, "{ts} [WARNING] sofia_reg.c:1774 SIP auth failure (REGISTER) on sofia profile 'internal' for [1000@192.0.2.1] from ip {ip}").unwrap();
            f.flush().unwrap();
            last_line = Instant::now();
        }
        if let Some(at) = monitor.added(&ip, Duration::from_secs(10)) {
            out.push(at.saturating_duration_since(last_line));
        }
    }
    drop(monitor);
    Some(out)
}

fn sipwall(rounds: u32, mode: &str) -> Option<(Vec<Duration>, Vec<u64>)> {
    let fw = Netns::new(&format!("swbrf{}", std::process::id()))?;
    let tx = Netns::new(&format!("swbrt{}", std::process::id()))?;
    let b = format!("swbrb{}", std::process::id() % 10000);
    netns::link(
        &fw,
        &tx,
        (
            &format!("swbra{}", std::process::id() % 10000),
            "192.0.2.1/24",
        ),
        (&b, "192.0.2.10/24"),
    );
    let dir = tempfile::tempdir().unwrap();
    let env = |c: &mut Command| {
        c.env("SIPWALL_STATE_DIR", dir.path())
            .env("SIPWALL_SAVED_RULESET", dir.path().join("saved.nft"))
            .env("SIPWALL_LEDGER", dir.path().join("ledger.sqlite"))
            .env("SIPWALL_CONTROL", dir.path().join("control.sock"));
    };
    let mut apply = Command::new("ip");
    apply.args([
        "netns",
        "exec",
        &fw.0,
        env!("CARGO_BIN_EXE_sipwall"),
        "apply",
    ]);
    env(&mut apply);
    assert!(apply.status().unwrap().success());
    let log = dir.path().join("daemon.log");
    let mut run = Command::new("ip");
    run.args([
        "netns",
        "exec",
        &fw.0,
        env!("CARGO_BIN_EXE_sipwall"),
        "run",
        "--mode",
        mode,
        "--metrics",
        "off",
    ]);
    env(&mut run);
    let _daemon = Reaped(
        run.stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The intake is nft's table, or iptables rules (xt compat) where nft has no queue.
    wait_for(Duration::from_secs(10), || {
        ruleset_has(&fw.0, "sipwall_intake") || ruleset_has(&fw.0, "queue num")
    })?;
    let monitor = Monitor::start(&fw.0);
    let mut out = Vec::new();
    for round in 0..rounds {
        let src = format!("192.0.2.{}", 20 + round);
        netns::ip(&["-n", &tx.0, "addr", "add", &format!("{src}/24"), "dev", &b]);
        let s2 = src.clone();
        let sent_at = tx.within(move || {
            let s = UdpSocket::bind(format!("{s2}:5060")).unwrap();
            let msg = format!("OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {s2}:5060;branch=z9hG4bK-{round}\r\nFrom: <sip:100@1.1.1.1>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: r{round}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n");
            let t = Instant::now();
            s.send_to(msg.as_bytes(), "192.0.2.1:5060").unwrap();
            t
        });
        if let Some(at) = monitor.added(&format!("{src} "), Duration::from_secs(5)) {
            out.push(at.saturating_duration_since(sent_at));
        }
    }
    drop(monitor);
    drop(_daemon);
    let own: Vec<u64> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split("reaction_us=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    Some((out, own))
}

fn main() {
    if !Command::new("ip")
        .args(["netns", "list"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("ban_reaction: skipped: needs root and `ip netns`");
        return;
    }
    let rounds = 10;
    for mode in ["tap", "inline"] {
        let Some((sent_to_kernel, own)) = sipwall(rounds, mode) else {
            continue;
        };
        println!(
            "sipwall run ({mode}), offending packet sent -> ban committed in the kernel: {}",
            stats(sent_to_kernel)
        );
        let mut own = own;
        own.sort_unstable();
        if !own.is_empty() {
            println!(
                "sipwall run ({mode}), packet received -> kernel ack (the daemon's own clock): median {} us, max {} us",
                own[own.len() / 2],
                own[own.len() - 1]
            );
        }
    }
    if let Some(f2b) = fail2ban(rounds) {
        if f2b.is_empty() {
            println!("fail2ban: no ban within 10 s");
        } else {
            println!("fail2ban 1.0.2 (freeswitch filter, pyinotify, nftables), last log line -> ban committed in the kernel: {}", stats(f2b));
        }
    }
}
