//! The lab's real FreeSWITCH (`../shared/lab/freeswitch`, unpacked by
//! `.ci/setup` to `/opt/sipwall-lab/freeswitch`) running in a lab's `fw`
//! namespace at 192.0.2.1, on a copy of a configuration tree. Dropped, it
//! is shut down and everything it wrote is removed, also when the test
//! panics. FreeSWITCH is the referee: tests compare what sipwall claims
//! with what this process really does.

#![allow(dead_code)] // each test binary uses a different part

use crate::lab::{self, Lab};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `.ci/setup` unpacks the build; its RUNPATH makes it work only there.
pub const PREFIX: &str = "/opt/sipwall-lab/freeswitch";

/// The event socket's password in vanilla.
pub const ESL_PASSWORD: &str = "ClueCon";

/// The vanilla configuration shipped with the build.
pub fn vanilla() -> PathBuf {
    Path::new(PREFIX).join("etc/freeswitch")
}

fn bin(name: &str) -> String {
    format!("{PREFIX}/bin/{name}")
}

/// Starts `sipwall run -c POLICY` in `fw`, connected to this lab's
/// FreeSWITCH's event socket with vanilla's password (written in `dir`),
/// `extra` arguments after, its log in `log`; returns once it guards.
pub fn start_guard(
    lab: &Lab,
    dir: &tempfile::TempDir,
    policy: &Path,
    log: &Path,
    extra: &[&str],
) -> lab::Background {
    let password = lab::write_temp(dir, "esl.password", &format!("{ESL_PASSWORD}\n"));
    let mut args = vec![
        "-c",
        policy.to_str().expect("a UTF-8 path"),
        "--esl",
        "127.0.0.1:8021",
        "--esl-password-file",
        password.to_str().expect("a UTF-8 path"),
        "--metrics",
        "off",
    ];
    args.extend_from_slice(extra);
    lab.start_daemon(log, &args)
}

/// Waits up to `limit` for the daemon in `fw` to say it is connected to
/// the event socket.
pub fn esl_connected(lab: &Lab, limit: Duration) -> bool {
    lab.wait_for(limit, || {
        let out = lab.sipwall("fw", &["status", "--format", "json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .is_ok_and(|v| v["esl_connected"] == true)
    })
}

/// Whether this machine can run FreeSWITCH in the lab; explains on stderr
/// when it cannot. Under `CI=true` a missing requirement fails the test.
pub fn require(test: &str) -> bool {
    if !lab::require(test, &["ss"]) {
        return false;
    }
    if Path::new(&bin("freeswitch")).exists() && vanilla().join("freeswitch.xml").exists() {
        return true;
    }
    let why = format!("no FreeSWITCH in {PREFIX} (run .ci/setup)");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}; under CI=true lab tests must run");
    }
    eprintln!("{test}: skipped: {why}");
    false
}

/// A configuration tree to edit: a copy of vanilla in a temporary directory.
pub struct Tree(tempfile::TempDir);

impl Tree {
    /// A fresh copy of the vanilla tree.
    pub fn vanilla() -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&vanilla(), dir.path());
        Tree(dir)
    }

    /// The folder holding `freeswitch.xml`.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Replaces `from` by `to` in `file`; fails the test when `from` is
    /// not there, so an edit that no longer applies cannot pass silently.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.0.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    /// Sets a `vars.xml` variable that vanilla already sets.
    pub fn set_var(&self, name: &str, old: &str, new: &str) {
        self.edit(
            "vars.xml",
            &format!("data=\"{name}={old}\""),
            &format!("data=\"{name}={new}\""),
        );
    }

    /// Removes a file or folder of the tree.
    pub fn remove(&self, path: &str) {
        let p = self.0.path().join(path);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .output()
        .expect("cp");
    assert!(
        out.status.success(),
        "cp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A listening socket: protocol (`udp`/`tcp`), local address as `ss`
/// prints it without brackets (`*` as `::`), port.
pub type Socket = (String, String, u16);

/// How to start FreeSWITCH.
pub struct Options<'a> {
    /// The sofia profiles that must be RUNNING before the start is over.
    pub profiles: &'a [&'a str],
    /// Where `fs_cli` finds the event socket.
    pub esl: (&'a str, u16),
    /// Files copied into the `-certs` folder before the start (TLS).
    pub certs: Option<&'a Path>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            profiles: &[],
            esl: ("127.0.0.1", 8021),
            certs: None,
        }
    }
}

/// FreeSWITCH running in the lab's `fw` namespace.
pub struct FreeSwitch<'l> {
    lab: &'l Lab,
    child: Option<Child>,
    dir: tempfile::TempDir,
    netns_etc: PathBuf,
    esl: (String, u16),
}

impl<'l> FreeSwitch<'l> {
    /// Starts FreeSWITCH on a copy of `tree` and waits until the sofia
    /// `profiles` run and its sockets settle; the event socket at
    /// 127.0.0.1:8021 as in vanilla.
    pub fn start(lab: &'l Lab, tree: &Path, profiles: &[&str]) -> FreeSwitch<'l> {
        FreeSwitch::start_with(
            lab,
            tree,
            &Options {
                profiles,
                ..Options::default()
            },
        )
    }

    /// As [`FreeSwitch::start`], with [`Options`].
    pub fn start_with(lab: &'l Lab, tree: &Path, opts: &Options<'_>) -> FreeSwitch<'l> {
        let ns = lab.ns("fw");
        // FreeSWITCH takes local_ip_v4/v6 from the route to a public
        // address: without one it would bind loopback. The next hops need
        // not exist. DNS fails at once instead of hanging offline.
        let _ = lab.run(
            "fw",
            &[
                "ip",
                "route",
                "replace",
                "default",
                "via",
                "192.0.2.254",
                "dev",
                "eth0",
            ],
        );
        let _ = lab.run(
            "fw",
            &[
                "ip",
                "-6",
                "route",
                "replace",
                "default",
                "via",
                "2001:db8::fe",
                "dev",
                "eth0",
            ],
        );
        let netns_etc = Path::new("/etc/netns").join(&ns);
        std::fs::create_dir_all(&netns_etc).unwrap();
        std::fs::write(netns_etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();

        let dir = tempfile::tempdir().expect("tempdir");
        let w = dir.path();
        for d in [
            "conf", "log", "db", "run", "certs", "rec", "storage", "cache", "temp", "sounds",
        ] {
            std::fs::create_dir(w.join(d)).unwrap();
        }
        copy_tree(tree, &w.join("conf"));
        if let Some(certs) = opts.certs {
            copy_tree(certs, &w.join("certs"));
        }
        offline(&w.join("conf"));
        let stdout = std::fs::File::create(w.join("stdout.log")).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &ns,
            &bin("freeswitch"),
            "-nonat",
            "-nf",
            "-nc",
        ]);
        for (flag, d) in [
            ("-conf", "conf"),
            ("-log", "log"),
            ("-db", "db"),
            ("-run", "run"),
            ("-certs", "certs"),
            ("-recordings", "rec"),
            ("-storage", "storage"),
            ("-cache", "cache"),
            ("-temp", "temp"),
            ("-sounds", "sounds"),
        ] {
            cmd.arg(flag).arg(w.join(d));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().unwrap())
            .stderr(stdout)
            .spawn()
            .expect("freeswitch");
        let mut fs = FreeSwitch {
            lab,
            child: Some(child),
            dir,
            netns_etc,
            esl: (opts.esl.0.to_owned(), opts.esl.1),
        };
        fs.wait_up(opts.profiles);
        fs
    }

    /// The configuration FreeSWITCH runs on (the copy, offline-ready).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// The folder given as `-certs`.
    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// FreeSWITCH's process id (`ip netns exec` execs it in place).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `fs_cli -x CMD` against this FreeSWITCH's event socket; its output.
    pub fn cli(&self, command: &str) -> String {
        let out = self.lab.run(
            "fw",
            &[
                "timeout",
                "10",
                &bin("fs_cli"),
                "-H",
                &self.esl.0,
                "-P",
                &self.esl.1.to_string(),
                "-p",
                ESL_PASSWORD,
                "-x",
                command,
            ],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A global variable as FreeSWITCH set it (`local_ip_v4`, ...).
    pub fn var(&self, name: &str) -> String {
        self.cli(&format!("global_getvar {name}")).trim().to_owned()
    }

    /// The sockets this process listens on (TCP) or has bound (UDP).
    pub fn listening(&self) -> BTreeSet<Socket> {
        let out = self.lab.ok("fw", &["ss", "-lntupH"]);
        let owner = format!("pid={},", self.pid());
        out.lines()
            .filter(|l| l.contains(&owner))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let (addr, port) = f.get(4)?.rsplit_once(':')?;
                let addr = addr.trim_start_matches('[').trim_end_matches(']');
                // ss prints a dual-stack `::` as `*`; a bound device as `%dev`.
                let addr = addr.split('%').next()?;
                let addr = if addr == "*" { "::" } else { addr };
                Some((f[0].to_owned(), addr.to_owned(), port.parse().ok()?))
            })
            .collect()
    }

    /// FreeSWITCH's own log file (mod_logfile's `freeswitch.log`), which
    /// log watchers such as fail2ban read.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("log/freeswitch.log")
    }

    /// The last `n` lines of FreeSWITCH's console and log file.
    pub fn log_tail(&self, n: usize) -> String {
        let mut text = String::new();
        for f in ["stdout.log", "log/freeswitch.log"] {
            let all = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            let lines: Vec<&str> = all.lines().collect();
            let tail = lines[lines.len().saturating_sub(n)..].join("\n");
            text.push_str(&format!("--- {f} (last {n} lines)\n{tail}\n"));
        }
        text
    }

    fn wait_up(&mut self, profiles: &[&str]) {
        let limit = Duration::from_secs(40);
        let start = Instant::now();
        let mut last = BTreeSet::new();
        let mut why = String::from("the core never said UP");
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "FreeSWITCH exited ({status}) while starting\n{}",
                    self.log_tail(40)
                );
            }
            if start.elapsed() > limit {
                panic!(
                    "FreeSWITCH not up within {limit:?}: {why}\n{}",
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
            if !self.cli("status").contains("UP") {
                continue;
            }
            if !profiles.is_empty() {
                let status = self.cli("sofia status");
                let down: Vec<&&str> = profiles
                    .iter()
                    .filter(|p| {
                        !status.lines().any(|l| {
                            let mut f = l.split_whitespace();
                            f.next() == Some(p) && l.contains("RUNNING")
                        })
                    })
                    .collect();
                if !down.is_empty() {
                    why = format!("profiles {down:?} not RUNNING in:\n{status}");
                    continue;
                }
            }
            // The profiles bind before `sofia status` lists them; other
            // modules bind from their own threads. Settled: two samples
            // half a second apart agree.
            let now = self.listening();
            if !now.is_empty() && now == last {
                return;
            }
            why = format!("its sockets kept changing: {now:?}");
            last = now;
        }
    }
}

/// Vanilla asks stun.freeswitch.org for its external addresses; offline
/// that fails and mod_sofia refuses to load. Pin both to the local address.
fn offline(conf: &Path) {
    let vars = conf.join("vars.xml");
    let Ok(text) = std::fs::read_to_string(&vars) else {
        return;
    };
    let text = text
        .replace(
            r#"cmd="stun-set" data="external_rtp_ip=stun:stun.freeswitch.org""#,
            r#"cmd="set" data="external_rtp_ip=$${local_ip_v4}""#,
        )
        .replace(
            r#"cmd="stun-set" data="external_sip_ip=stun:stun.freeswitch.org""#,
            r#"cmd="set" data="external_sip_ip=$${local_ip_v4}""#,
        );
    std::fs::write(vars, text).unwrap();
}

impl Drop for FreeSwitch<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = self.cli("shutdown");
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(10) {
                    if child.try_wait().ok().flatten().is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.netns_etc);
    }
}

/// Makes a CA and `agent.pem`/`cafile.pem` for `name` with the build's
/// `gentls_cert`, into `certs`. The script writes to a fixed folder in the
/// install tree, so a copy pointed at `certs` runs instead.
pub fn gentls_cert(certs: &Path, name: &str) {
    let script = std::fs::read_to_string(bin("gentls_cert")).unwrap();
    let fixed = format!("CONFDIR={PREFIX}/etc/freeswitch/tls");
    assert!(script.contains(&fixed), "gentls_cert has no {fixed}");
    let copy = certs.join("gentls_cert");
    std::fs::write(
        &copy,
        script.replace(&fixed, &format!("CONFDIR={}", certs.display())),
    )
    .unwrap();
    for step in ["setup", "create"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "yes | bash {} {step} -cn {name} -alt DNS:{name} -org sipwall-lab",
                copy.display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gentls_cert {step}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_file(copy).unwrap();
    for f in ["agent.pem", "cafile.pem"] {
        assert!(certs.join(f).exists(), "gentls_cert wrote no {f}");
    }
}

/// Runs FreeSWITCH in `fw` on a copy of `tree` that it should refuse to
/// load, until it exits (killed after 30 s if it does not), and returns
/// what it printed: its reason, e.g. `[error near line 9]: missing >`.
pub fn refusal(lab: &Lab, tree: &Path) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = dir.path();
    for d in [
        "conf", "log", "db", "run", "certs", "rec", "storage", "cache", "temp", "sounds",
    ] {
        std::fs::create_dir(w.join(d)).unwrap();
    }
    copy_tree(tree, &w.join("conf"));
    offline(&w.join("conf"));
    let mut cmd = Command::new("timeout");
    cmd.args([
        "30",
        "ip",
        "netns",
        "exec",
        &lab.ns("fw"),
        &bin("freeswitch"),
        "-nonat",
        "-nf",
        "-nc",
    ]);
    for (flag, d) in [
        ("-conf", "conf"),
        ("-log", "log"),
        ("-db", "db"),
        ("-run", "run"),
        ("-certs", "certs"),
        ("-recordings", "rec"),
        ("-storage", "storage"),
        ("-cache", "cache"),
        ("-temp", "temp"),
        ("-sounds", "sounds"),
    ] {
        cmd.arg(flag).arg(w.join(d));
    }
    let out = cmd.stdin(Stdio::null()).output().expect("freeswitch");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
