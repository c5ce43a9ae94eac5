//! sipwall against fail2ban on the real FreeSWITCH, side by side in one
//! run (issue 14 item 7). Root, the lab FreeSWITCH and fail2ban (both from
//! `.ci/setup`); skipped with a message where one is missing.
//!
//! Each guard gets a lab of its own with the same FreeSWITCH: vanilla
//! with `log-auth-failures=true` on the internal profile, writing its real
//! log. `sipvicious_svcrack -u1000` guesses passwords from the attacker
//! node. Measured from a capture on the firewall's wire (before any
//! filter) and the kernel's own commit events (`nft monitor`):
//!
//! - first failure -> ban: from FreeSWITCH's first 403 to the ban's set
//!   element committed in the kernel, and to the first attacker packet
//!   FreeSWITCH never answered (the kernel dropped it);
//! - guesses answered: the 403s FreeSWITCH sent the attacker (each one a
//!   password tried), and every REGISTER it answered;
//! - CPU: the guard's process (its threads' `schedstat`, plus its reaped
//!   children: fail2ban's actions run `nft`), and FreeSWITCH's,
//!   from the attack's start to 2 s after the ban (or the window's end).
//!
//! The guards: `sipwall run --esl` with its policy derived from the tree
//! (as shipped: the scanner detector bans svcrack's first packet), the
//! same with the scanner detector off (only FreeSWITCH's 403s can ban),
//! fail2ban 1.0.2's stock `freeswitch` jail (nftables-multiport, pyinotify,
//! maxretry 5 as sipwall's brute-force default) with the stock filter and
//! with the filter's prefix let through mod_logfile's CPU field.
//!
//! Run: `cargo bench -p sipwall --bench fail2ban` (`ROUNDS=N`, default 3).

#[path = "../tests/lab/fail2ban.rs"]
mod fail2ban;
#[path = "../tests/lab/freeswitch.rs"]
mod freeswitch;
#[path = "../tests/lab/mod.rs"]
mod lab;

use freeswitch::{FreeSwitch, Tree};
use lab::{Background, Lab};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const VANILLA_PROFILES: [&str; 4] = ["internal", "external", "internal-ipv6", "external-ipv6"];
const ATTACKER: &str = "192.0.2.66";
/// How long an attack may run without a ban.
const WINDOW: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq)]
enum Guard {
    Sipwall,
    SipwallBruteForceOnly,
    Fail2banStock,
    Fail2banCpuFieldFixed,
}

impl Guard {
    fn name(self) -> &'static str {
        match self {
            Guard::Sipwall => "sipwall run --esl (derived policy)",
            Guard::SipwallBruteForceOnly => "sipwall run --esl, scanner detector off",
            Guard::Fail2banStock => "fail2ban 1.0.2, stock freeswitch filter",
            Guard::Fail2banCpuFieldFixed => "fail2ban 1.0.2, filter with the CPU field let through",
        }
    }
}

/// One attack against one guard.
struct Round {
    /// First 403 -> ban element committed in the kernel.
    to_ban: Option<Duration>,
    /// First 403 -> first attacker packet FreeSWITCH never answered.
    to_drop: Option<Duration>,
    /// 403s FreeSWITCH sent the attacker.
    guesses: usize,
    /// REGISTERs FreeSWITCH answered.
    answered: usize,
    /// CPU the guard spent.
    guard_cpu: Duration,
    /// CPU FreeSWITCH spent.
    freeswitch_cpu: Duration,
}

/// The kernel's commit events in the firewall, stamped on arrival.
struct Monitor {
    child: std::process::Child,
    lines: Receiver<(SystemTime, String)>,
}

impl Monitor {
    fn start(lab: &Lab) -> Monitor {
        use std::io::BufRead;
        let mut child = lab
            .cmd("fw", "nft")
            .arg("monitor")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send((SystemTime::now(), line)).is_err() {
                    return;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        Monitor { child, lines }
    }

    /// When an element naming the attacker was committed, within `limit`.
    fn ban(&self, limit: Duration) -> Option<SystemTime> {
        let end = Instant::now() + limit;
        while let Ok((at, line)) = self
            .lines
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            if line.contains("element") && line.contains(&format!("{ATTACKER} ")) {
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

/// CPU a process spent so far: its threads' time on a CPU in ns
/// (`/proc/PID/task/*/schedstat`: utime+stime count 10 ms ticks, too
/// coarse for sipwall), plus its reaped children in ticks (fail2ban's
/// actions run `nft` processes).
fn cpu(pid: u32) -> Duration {
    let mut ns: u64 = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            ns += stat
                .split_whitespace()
                .next()
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) in parentheses;
    // cutime and cstime are fields 16 and 17, `rest` starts at field 3.
    let rest = stat.rsplit_once(')').map(|r| r.1).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let child_ticks: u64 = f.get(13..15).map(|s| s.iter().sum()).unwrap_or(0);
    Duration::from_nanos(ns) + Duration::from_millis(child_ticks * 10)
}

/// tshark on the firewall's wire, capturing SIP to a file.
fn capture(lab: &Lab, file: &std::path::Path) -> std::process::Child {
    let log = file.with_extension("log");
    let child = lab
        .cmd("fw", "tshark")
        .args(["-i", "eth0", "-f", "udp port 5060", "-w"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    assert!(
        lab.wait_for(Duration::from_secs(20), || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("Capturing on"))),
        "tshark did not start"
    );
    child
}

/// (time, from the attacker, status, Call-ID and CSeq) of each SIP message.
fn decode(lab: &Lab, file: &std::path::Path) -> Vec<(f64, bool, Option<u16>, String)> {
    let out = lab.ok(
        "fw",
        &[
            "tshark",
            "-r",
            file.to_str().unwrap(),
            "-Y",
            "sip",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=f",
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.CSeq.seq",
        ],
    );
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            Some((
                f.first()?.parse().ok()?,
                *f.get(1)? == ATTACKER,
                f.get(2)?.parse().ok(),
                format!("{} {}", f.get(3)?, f.get(4)?),
            ))
        })
        .collect()
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn after(from: f64, to: f64) -> Option<Duration> {
    (to >= from).then(|| Duration::from_secs_f64(to - from))
}

/// `sipwall run --esl` in front of `fs`, with the policy derived from its tree.
fn start_sipwall(
    lab: &Lab,
    fs: &FreeSwitch<'_>,
    scanner: bool,
    dir: &std::path::Path,
) -> Background {
    let out = Command::new(lab::sipwall())
        .args(["discover", "freeswitch"])
        .arg(fs.conf())
        .args(["--format", "toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut policy = String::from_utf8(out.stdout).unwrap();
    if !scanner {
        policy.push_str("\n[guard.scanner]\nenabled = false\n");
    }
    let policy = lab.apply_policy(&policy);
    let password = dir.join("esl.password");
    std::fs::write(&password, "ClueCon\n").unwrap();
    let daemon = Background(
        lab.cmd("fw", lab::sipwall())
            .args(["run", "-c", policy.to_str().unwrap()])
            .args(["--esl", "127.0.0.1:8021", "--esl-password-file"])
            .arg(&password)
            .args(["--metrics", "off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let connected = || {
        let out = lab.sipwall("fw", &["status", "--format", "json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .is_ok_and(|v| v["esl_connected"] == true)
    };
    assert!(
        lab.daemon_ready(Duration::from_secs(15))
            && lab.wait_for(Duration::from_secs(15), connected),
        "sipwall did not start"
    );
    daemon
}

fn round(guard: Guard) -> Option<Round> {
    let lab = Lab::up("fail2ban bench", &["ss", "tshark", "sipvicious_svcrack"])?;
    let tree = Tree::vanilla();
    tree.edit(
        "sip_profiles/internal.xml",
        r#"<param name="log-auth-failures" value="false"/>"#,
        r#"<param name="log-auth-failures" value="true"/>"#,
    );
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let dir = tempfile::tempdir().unwrap();
    let log = fs.log_file();
    let (_sipwall, _f2b, pid) = match guard {
        Guard::Sipwall | Guard::SipwallBruteForceOnly => {
            let d = start_sipwall(&lab, &fs, guard == Guard::Sipwall, dir.path());
            let pid = d.0.id();
            (Some(d), None, pid)
        }
        Guard::Fail2banStock | Guard::Fail2banCpuFieldFixed => {
            let f = fail2ban::Fail2ban::start(
                &lab,
                "fw",
                &fail2ban::Jail {
                    logpath: &log,
                    maxretry: 5,
                    fix_cpu_field: guard == Guard::Fail2banCpuFieldFixed,
                },
            );
            let pid = f.pid();
            (None, Some(f), pid)
        }
    };
    // Let the guard settle: what it spends idle is not the attack's.
    std::thread::sleep(Duration::from_secs(2));
    let pcap = dir.path().join("attack.pcap");
    let mut tshark = capture(&lab, &pcap);
    let monitor = Monitor::start(&lab);
    let (guard_cpu0, fs_cpu0) = (cpu(pid), cpu(fs.pid()));
    let attack = lab.spawn(
        "attacker",
        &["sipvicious_svcrack", "-u1000", "-r2000-99999", "192.0.2.1"],
    );
    let ban = monitor.ban(WINDOW);
    let end = Instant::now() + Duration::from_secs(2);
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let (guard_cpu, freeswitch_cpu) = (cpu(pid) - guard_cpu0, cpu(fs.pid()) - fs_cpu0);
    drop(attack);
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-INT", &tshark.id().to_string()])
        .status();
    let _ = tshark.wait();
    let sip = decode(&lab, &pcap);

    // Requests from the attacker, answered or not; FreeSWITCH's finals.
    let finals: Vec<_> = sip
        .iter()
        .filter(|m| !m.1 && m.2.is_some_and(|s| s >= 200))
        .collect();
    let guesses = finals.iter().filter(|m| m.2 == Some(403)).count();
    let first_failure = finals.iter().find(|m| m.2 == Some(403)).map(|m| m.0);
    let requests: Vec<_> = sip.iter().filter(|m| m.1 && m.2.is_none()).collect();
    let answered_tx: std::collections::HashSet<&str> =
        finals.iter().map(|m| m.3.as_str()).collect();
    let answered = requests
        .iter()
        .filter(|r| answered_tx.contains(r.3.as_str()))
        .map(|r| r.3.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let last_answered = requests
        .iter()
        .rposition(|r| answered_tx.contains(r.3.as_str()));
    let first_dropped = match last_answered {
        Some(i) => requests.get(i + 1).map(|r| r.0),
        None => requests.first().map(|r| r.0),
    };
    let base = first_failure.or(requests.first().map(|r| r.0))?;
    Some(Round {
        to_ban: ban.and_then(|b| after(base, epoch(b))),
        to_drop: first_dropped.and_then(|d| after(base, d)),
        guesses,
        answered,
        guard_cpu,
        freeswitch_cpu,
    })
}

fn median(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.sort();
    format!(
        "{:.0?} ({:.0?}-{:.0?})",
        v[v.len() / 2],
        v[0],
        v[v.len() - 1]
    )
}

fn median_n(mut v: Vec<usize>) -> String {
    v.sort();
    format!("{} ({}-{})", v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    if !freeswitch::require("fail2ban bench") || !fail2ban::require("fail2ban bench") {
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    println!(
        "svcrack -u1000 against the real FreeSWITCH, {rounds} rounds per guard (median, min-max); \
         an attack not banned runs {WINDOW:?}"
    );
    println!("| guard | first 403 -> ban in the kernel | first 403 -> first packet dropped | guesses answered (403) | REGISTERs answered | guard CPU | FreeSWITCH CPU |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for guard in [
        Guard::Sipwall,
        Guard::SipwallBruteForceOnly,
        Guard::Fail2banCpuFieldFixed,
        Guard::Fail2banStock,
    ] {
        // The stock filter never bans: one round shows it.
        let n = if guard == Guard::Fail2banStock {
            1
        } else {
            rounds
        };
        let runs: Vec<Round> = (0..n).filter_map(|_| round(guard)).collect();
        if runs.is_empty() {
            println!("| {} | no run | | | | | |", guard.name());
            continue;
        }
        let banned = runs.iter().filter(|r| r.to_ban.is_some()).count();
        println!(
            "| {} | {}{} | {} | {} | {} | {} | {} |",
            guard.name(),
            median(runs.iter().filter_map(|r| r.to_ban).collect()),
            if banned < runs.len() {
                format!(
                    ", {} of {} not banned within {WINDOW:?}",
                    runs.len() - banned,
                    runs.len()
                )
            } else {
                String::new()
            },
            median(runs.iter().filter_map(|r| r.to_drop).collect()),
            median_n(runs.iter().map(|r| r.guesses).collect()),
            median_n(runs.iter().map(|r| r.answered).collect()),
            median(runs.iter().map(|r| r.guard_cpu).collect()),
            median(runs.iter().map(|r| r.freeswitch_cpu).collect()),
        );
    }
}
