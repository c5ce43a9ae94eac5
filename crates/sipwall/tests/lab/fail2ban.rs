//! Debian's fail2ban 1.0.2 (installed by `.ci/setup`) running in a lab
//! namespace as FreeSWITCH's guard: its own configuration folder (a copy
//! of `/etc/fail2ban` with only the stock `freeswitch` jail enabled, the
//! nftables action), its socket, pid file and log in a temporary folder,
//! its database file. It never sees the root namespace's firewall:
//! the server and the `nft` its actions run live in the lab's namespace.

#![allow(dead_code)] // the test and the bench use different parts

use crate::lab::Lab;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The nft table fail2ban's nftables actions ban in (the stock jail's
/// actions fill one set per protocol, `addr-set-freeswitch-udp` and `-tcp`).
pub const TABLE: &str = "f2b-table";

/// mod_logfile in FreeSWITCH 1.10 and later writes the core's idle CPU
/// after the timestamp (`2026-12-06 14:22:25.004561 16.67% [WARNING] ...`),
/// which the stock filter's prefix does not allow: it matches none of the
/// real log's lines. This override lets that one field through and keeps
/// the stock failure expressions.
pub const CPU_FIELD_FIX: &str = "[Definition]\n_pref_line = ^%(__prefix_line)s(?:(?:\\d+-)?\\d+-\\d+ \\d+:\\d+:\\d+\\.\\d+)?(?: \\d+(?:\\.\\d+)?%%)?\n";

/// Whether fail2ban is installed; explains on stderr when it is not.
/// Under `CI=true` a missing fail2ban fails the test.
pub fn require(test: &str) -> bool {
    let have = Command::new("sh")
        .args([
            "-c",
            "command -v fail2ban-server && test -d /etc/fail2ban/filter.d",
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have {
        return true;
    }
    let why = "no fail2ban (run .ci/setup)";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}; under CI=true lab tests must run");
    }
    eprintln!("{test}: skipped: {why}");
    false
}

/// How the jail is set up.
pub struct Jail<'a> {
    /// The log fail2ban watches.
    pub logpath: &'a Path,
    /// Failures within `findtime` before a ban.
    pub maxretry: u32,
    /// Adds [`CPU_FIELD_FIX`] as `filter.d/freeswitch.local`.
    pub fix_cpu_field: bool,
}

/// fail2ban-server running in a lab node.
pub struct Fail2ban<'l> {
    lab: &'l Lab,
    node: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl<'l> Fail2ban<'l> {
    /// Starts fail2ban-server in `node` with the `freeswitch` jail and
    /// waits until the jail answers `status`.
    pub fn start(lab: &'l Lab, node: &str, jail: &Jail<'_>) -> Fail2ban<'l> {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let conf = d.join("conf");
        let out = Command::new("cp")
            .args(["-r", "/etc/fail2ban"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "cp /etc/fail2ban");
        // Debian enables the sshd jail there; only the freeswitch jail runs.
        let _ = std::fs::remove_dir_all(conf.join("jail.d"));
        std::fs::create_dir(conf.join("jail.d")).unwrap();
        std::fs::write(
            conf.join("fail2ban.local"),
            format!(
                "[Definition]\nsocket = {s}\npidfile = {p}\ndbfile = {db}\nlogtarget = {l}\nloglevel = INFO\n",
                s = d.join("f2b.sock").display(),
                db = d.join("fail2ban.sqlite3").display(),
                p = d.join("f2b.pid").display(),
                l = d.join("f2b.log").display(),
            ),
        )
        .unwrap();
        // The stock jail (ports 5060,5061, tcp and udp actions) with
        // Debian's default backend; only the action and the threshold set.
        std::fs::write(
            conf.join("jail.local"),
            format!(
                "[DEFAULT]\nbanaction = nftables-multiport\nbanaction_allports = nftables-allports\n\n\
                 [freeswitch]\nenabled = true\nlogpath = {}\nmaxretry = {}\n",
                jail.logpath.display(),
                jail.maxretry
            ),
        )
        .unwrap();
        if jail.fix_cpu_field {
            std::fs::write(conf.join("filter.d/freeswitch.local"), CPU_FIELD_FIX).unwrap();
        }
        let child = lab
            .cmd(node, "fail2ban-server")
            .args(["-f", "-x", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(d.join("server.out")).unwrap())
            .stderr(std::fs::File::create(d.join("server.err")).unwrap())
            .spawn()
            .expect("fail2ban-server");
        let f = Fail2ban {
            lab,
            node: node.to_owned(),
            child: Some(child),
            dir,
        };
        let up = lab.wait_for(Duration::from_secs(60), || {
            f.client(&["status", "freeswitch"]).is_some()
        });
        assert!(up, "fail2ban did not start:\n{}", f.log());
        f
    }

    /// fail2ban-server's process id (`ip netns exec` execs it in place).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `fail2ban-client ARGS` against this server; its output if it worked.
    pub fn client(&self, args: &[&str]) -> Option<String> {
        let out = self
            .lab
            .cmd(&self.node, "fail2ban-client")
            .arg("-s")
            .arg(self.dir.path().join("f2b.sock"))
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether `addr` is in one of the jail's kernel sets.
    pub fn banned(&self, addr: &str) -> bool {
        let out = self
            .lab
            .run(&self.node, &["nft", "list", "table", "inet", TABLE]);
        out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip_while(|l| !l.contains("set addr-set-freeswitch"))
                .take_while(|l| !l.contains("chain "))
                .any(|l| l.contains(addr))
    }

    /// The jail's failure count so far (`Total failed` of `status`).
    pub fn failures(&self) -> u64 {
        self.client(&["status", "freeswitch"])
            .and_then(|s| {
                s.lines()
                    .find(|l| l.contains("Total failed"))?
                    .rsplit(':')
                    .next()?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    /// fail2ban's own log and stderr.
    pub fn log(&self) -> String {
        let mut text = String::new();
        for f in ["f2b.log", "server.err"] {
            text.push_str(&format!(
                "--- {f}\n{}\n",
                std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()
            ));
        }
        text
    }

    /// Its database (`dbfile`), as Debian keeps it in /var/lib/fail2ban.
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("fail2ban.sqlite3")
    }

    /// The configuration folder the server runs on.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }
}

impl Drop for Fail2ban<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.client(&["stop"]);
            let _ = self.lab.wait_for(Duration::from_secs(5), || {
                child.try_wait().ok().flatten().is_some()
            });
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
