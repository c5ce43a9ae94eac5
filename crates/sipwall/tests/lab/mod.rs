//! A throwaway network lab for tests: network namespaces on one bridge,
//! made by the test and removed when the `Lab` is dropped (also when the
//! test fails). Only documentation addresses are used, and nothing touches
//! the root namespace's firewall.
//!
//! ```text
//!   <lab>-fw        192.0.2.1   2001:db8::1    sipwall's rules, the SIP server
//!   <lab>-peer      192.0.2.2   2001:db8::2    a legitimate SIP peer
//!   <lab>-attacker  192.0.2.66  2001:db8::66   an attacker
//! ```

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The lab's hosts with their addresses.
pub const NODES: [(&str, &str, &str); 3] = [
    ("fw", "192.0.2.1", "2001:db8::1"),
    ("peer", "192.0.2.2", "2001:db8::2"),
    ("attacker", "192.0.2.66", "2001:db8::66"),
];

/// Hosts a test adds with [`Lab::add_node`] when it needs them: a second
/// firewall (`fwb`, host B of the CrowdSec tests) and CrowdSec's LAPI.
pub const EXTRA_NODES: [(&str, &str, &str); 2] = [
    ("fwb", "192.0.2.3", "2001:db8::3"),
    ("lapi", "192.0.2.8", "2001:db8::8"),
];

/// The path of the sipwall binary under test: this build's, or the one
/// `SIPWALL_UNDER_TEST` names (CI points it at the installed package's
/// /usr/sbin/sipwall).
pub fn sipwall() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        std::env::var("SIPWALL_UNDER_TEST")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sipwall").to_owned())
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why the lab cannot run here, if it cannot.
fn missing(tools: &[&str]) -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces, nftables)".into());
    }
    for t in ["ip", "nft"].iter().chain(tools) {
        if !have(t) {
            return Some(format!("needs `{t}` (see .ci/run for the packages)"));
        }
    }
    let ok = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| "`ip netns` does not work here".into())
}

/// Whether this machine can run a root test needing `tools`; explains on
/// stderr when it cannot. Under `CI=true` a missing requirement fails the test.
pub fn require(test: &str, tools: &[&str]) -> bool {
    let Some(why) = missing(tools) else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}; under CI=true lab tests must run");
    }
    eprintln!("{test}: skipped: {why}");
    false
}

/// A lab of namespaces; dropped, it removes them and their processes.
pub struct Lab {
    name: String,
    /// A per-lab state directory for `sipwall apply`.
    pub state: tempfile::TempDir,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Lab {
    /// Builds a lab, or explains on stderr why this machine cannot (and
    /// returns `None`). Under `CI=true` a missing requirement fails the test.
    pub fn up(test: &str, tools: &[&str]) -> Option<Lab> {
        if !require(test, tools) {
            return None;
        }
        let name = format!(
            "sw{}{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Lab {
            name,
            state: tempfile::tempdir().expect("tempdir"),
        };
        lab.build();
        Some(lab)
    }

    fn build(&self) {
        let sw = self.ns("sw");
        sh(&["ip", "netns", "add", &sw]);
        sh(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        for (i, (node, v4, v6)) in NODES.iter().enumerate() {
            self.plug(i, node, v4, v6);
        }
    }

    /// Adds one of [`EXTRA_NODES`] to the lab's bridge.
    pub fn add_node(&self, node: &str) {
        let i = EXTRA_NODES
            .iter()
            .position(|n| n.0 == node)
            .unwrap_or_else(|| panic!("{node} is not one of EXTRA_NODES"));
        let (_, v4, v6) = EXTRA_NODES[i];
        self.plug(NODES.len() + i, node, v4, v6);
    }

    fn plug(&self, i: usize, node: &str, v4: &str, v6: &str) {
        let sw = self.ns("sw");
        let ns = self.ns(node);
        let (a, b) = (format!("{}v{i}", self.name), format!("{}b{i}", self.name));
        sh(&["ip", "netns", "add", &ns]);
        sh(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        sh(&["ip", "link", "set", &a, "netns", &ns]);
        sh(&["ip", "link", "set", &b, "netns", &sw]);
        sh(&["ip", "-n", &ns, "link", "set", &a, "name", "eth0"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{v4}/24"),
            "dev",
            "eth0",
        ]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{v6}/64"),
            "dev",
            "eth0",
            "nodad",
        ]);
        sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &sw, "link", "set", &b, "master", "br0", "up"]);
    }

    /// Where `sipwall apply` in this lab saves the ruleset for boot.
    pub fn saved_ruleset(&self) -> PathBuf {
        self.state.path().join("saved/ruleset.nft")
    }

    /// The namespace name of `node`.
    pub fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    /// A command that runs `program` inside `node`, with this lab's
    /// sipwall state directory.
    pub fn cmd(&self, node: &str, program: &str) -> Command {
        self.cmd_in(node, program, self.state.path())
    }

    /// Like [`Lab::cmd`], with sipwall's state (saved ruleset, control
    /// socket, ledger) in `state`: a second firewall (`fwb`) has its own.
    pub fn cmd_in(&self, node: &str, program: &str, state: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(node), program]);
        c.env("SIPWALL_STATE_DIR", state);
        c.env("SIPWALL_SAVED_RULESET", state.join("saved/ruleset.nft"));
        c.env("SIPWALL_CONTROL", state.join("control.sock"));
        c.env("SIPWALL_LEDGER", state.join("ledger.sqlite"));
        c.env_remove("SSH_CONNECTION");
        c
    }

    /// The elements of sipwall's set `set` in `node`, as nft names them:
    /// `192.0.2.66`, `203.0.113.0/24`, `192.0.2.2 . 20000` (read from
    /// `nft -j`, so timeouts and counters never get in the way).
    pub fn set_elements(&self, node: &str, set: &str) -> Vec<String> {
        fn name(v: &serde_json::Value) -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Object(o) => {
                    if let Some(inner) = o.get("elem") {
                        return name(&inner["val"]);
                    }
                    if let Some(p) = o.get("prefix") {
                        return Some(format!("{}/{}", p["addr"].as_str()?, p["len"]));
                    }
                    if let Some(parts) = o.get("concat").and_then(|c| c.as_array()) {
                        let parts: Option<Vec<String>> = parts.iter().map(name).collect();
                        return Some(parts?.join(" . "));
                    }
                    None
                }
                _ => None,
            }
        }
        let out = self.run(node, &["nft", "-j", "list", "set", "inet", "sipwall", set]);
        if !out.status.success() {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("set"))
            .flat_map(|s| s["elem"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| name(&e))
            .collect()
    }

    /// Whether `addr` is in `node`'s ban set of its family.
    pub fn banned(&self, node: &str, addr: &str) -> bool {
        let set = if addr.contains(':') {
            "ban_v6"
        } else {
            "ban_v4"
        };
        self.set_elements(node, set).iter().any(|e| e == addr)
    }

    /// Runs `args` in `node` and returns what it did.
    pub fn run(&self, node: &str, args: &[&str]) -> Output {
        self.cmd(node, args[0])
            .args(&args[1..])
            .output()
            .expect("spawn")
    }

    /// Runs `args` in `node`, failing the test unless it succeeds; its stdout.
    pub fn ok(&self, node: &str, args: &[&str]) -> String {
        let out = self.run(node, args);
        assert!(
            out.status.success(),
            "{args:?} in {node} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `args` in `node` in the background, until the result is dropped.
    pub fn spawn(&self, node: &str, args: &[&str]) -> Background {
        Background(
            self.cmd(node, args[0])
                .args(&args[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        )
    }

    /// Loads an nft script into `node`'s kernel.
    pub fn nft(&self, node: &str, script: &str) {
        let mut child = self
            .cmd(node, "nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nft");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Adds a counter table of our own, at input priority 100: it sees only
    /// what sipwall's filter accepted. `rules` are nft rule bodies ending in
    /// `counter`, each on its own line.
    pub fn counters(&self, node: &str, hook: &str, rules: &[&str]) {
        let body: String = rules.iter().map(|r| format!("    {r}\n")).collect();
        self.nft(
            node,
            &format!(
                "table inet labcount {{\n  chain {hook} {{\n    type filter hook {hook} priority 100; policy accept;\n{body}  }}\n}}\n"
            ),
        );
    }

    /// The packet counts of the lab's counter table, in rule order.
    pub fn counts(&self, node: &str) -> Vec<u64> {
        packet_counts(&self.ok(node, &["nft", "list", "table", "inet", "labcount"]))
    }

    /// `nft list table inet sipwall` in `node`, or `None` if absent.
    pub fn sipwall_table(&self, node: &str) -> Option<String> {
        let out = self.run(node, &["nft", "list", "table", "inet", "sipwall"]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Writes `policy` into the lab's state directory and applies it on the
    /// firewall, failing the test unless that works; the policy's path.
    pub fn apply_policy(&self, policy: &str) -> PathBuf {
        let path = self.state.path().join("policy.toml");
        std::fs::write(&path, policy).unwrap();
        let out = self.sipwall("fw", &["apply", "-c", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// Runs sipwall in `node`.
    pub fn sipwall(&self, node: &str, args: &[&str]) -> Output {
        self.cmd(node, sipwall())
            .args(args)
            .output()
            .expect("sipwall")
    }

    /// Starts `sipwall run ARGS` in `fw` (ledger and control socket in the
    /// lab's state directory, its log in `log`) and waits until it guards:
    /// the intake is in the kernel (nft's table, or iptables' NFQUEUE rules
    /// where nft has no queue expression) and its loop answers `status`.
    pub fn start_daemon(&self, log: &Path, args: &[&str]) -> Background {
        let file = std::fs::File::create(log).expect("the daemon's log");
        let child = self
            .cmd("fw", sipwall())
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn sipwall run");
        let daemon = Background(child);
        let intake = || {
            self.run("fw", &["nft", "list", "table", "inet", "sipwall_intake"])
                .status
                .success()
                || String::from_utf8_lossy(&self.run("fw", &["iptables", "-S"]).stdout)
                    .contains("NFQUEUE")
        };
        assert!(
            self.wait_for(Duration::from_secs(15), intake)
                && self.daemon_ready(Duration::from_secs(15)),
            "the daemon did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        daemon
    }

    /// Waits up to `limit` for the daemon in `fw` to answer `status`. Its
    /// socket listens before the restore and the intake are in place, and
    /// requests wait until its loop runs: an answer means it is guarding.
    pub fn daemon_ready(&self, limit: Duration) -> bool {
        self.wait_for(limit, || self.sipwall("fw", &["status"]).status.success())
    }

    /// Waits up to `limit` for `cond`.
    pub fn wait_for(&self, limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        cond()
    }

    /// A SIPp UAS on the firewall host, echoing RTP on `media_port`.
    pub fn sipp_uas(&self, addr: &str, media_port: u16, transport: &str) -> Background {
        self.sipp_uas_on("fw", addr, media_port, transport)
    }

    /// A SIPp UAS on `node`.
    pub fn sipp_uas_on(
        &self,
        node: &str,
        addr: &str,
        media_port: u16,
        transport: &str,
    ) -> Background {
        self.spawn(
            node,
            &[
                "sipp",
                "-sn",
                "uas",
                "-i",
                addr,
                "-p",
                "5060",
                "-mp",
                &media_port.to_string(),
                "-rtp_echo",
                "-t",
                transport,
                "-nostdin",
            ],
        )
    }

    /// One SIPp call from the peer playing a G.711 pcap as RTP; its exit status.
    pub fn sipp_call(&self, local: &str, remote: &str, transport: &str) -> bool {
        self.sipp_call_from("peer", local, remote, transport)
    }

    /// One SIPp call from the peer with extra SIPp arguments (e.g. `-d 4000`).
    pub fn sipp_call_with(
        &self,
        local: &str,
        remote: &str,
        transport: &str,
        extra: &[&str],
    ) -> bool {
        self.sipp_call_args("peer", local, remote, transport, extra)
    }

    /// One SIPp call from `node`.
    pub fn sipp_call_from(&self, node: &str, local: &str, remote: &str, transport: &str) -> bool {
        self.sipp_call_args(node, local, remote, transport, &[])
    }

    fn sipp_call_args(
        &self,
        node: &str,
        local: &str,
        remote: &str,
        transport: &str,
        extra: &[&str],
    ) -> bool {
        // uac_pcap reads pcap/g711a.pcap relative to its working directory.
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/usr/share/sip-tester", dir.path().join("pcap")).unwrap();
        let out = self
            .cmd(node, "timeout")
            .args([
                "60", "sipp", "-sn", "uac_pcap", remote, "-i", local, "-m", "1", "-t", transport,
                "-nostdin", "-timeout", "30",
            ])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!("sipp uac: {}", String::from_utf8_lossy(&out.stdout));
        }
        out.status.success()
    }
}

/// A process started in the lab; killed and reaped when dropped.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Packet counts of `counter packets N` in nft text, in order.
pub fn packet_counts(text: &str) -> Vec<u64> {
    text.split("packets ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Lab {
    fn drop(&mut self) {
        let extra = EXTRA_NODES.iter().map(|n| n.0);
        for node in NODES.iter().map(|n| n.0).chain(extra).chain(["sw"]) {
            let ns = self.ns(node);
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A file in a temporary directory, for policies written by tests.
pub fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}
