//! A network namespace that a bench makes for itself and removes (with its
//! processes) when dropped, and a child process reaped on every path. The
//! benches never touch the root namespace's firewall.

#![allow(dead_code)] // each bench uses a different part

use std::process::{Child, Command};

/// A namespace of the bench's own.
pub struct Netns(pub String);

impl Netns {
    /// Makes `name`, or `None` where root or `ip netns` is missing.
    pub fn new(name: &str) -> Option<Netns> {
        Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .ok()?
            .success()
            .then(|| Netns(name.to_owned()))
    }

    /// Runs `f` on a thread that lives in this namespace.
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let fd = std::fs::File::open(&path).expect("netns");
                nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("thread")
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(o) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A child process killed and reaped when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `ip ARGS`, failing the bench if it fails.
pub fn ip(args: &[&str]) {
    assert!(
        Command::new("ip")
            .args(args)
            .status()
            .expect("ip")
            .success(),
        "ip {args:?}"
    );
}

/// Links namespaces `a` and `b` with a veth pair `name_a`/`name_b`
/// carrying `addr_a`/`addr_b` (prefixes), both up, loopback too.
pub fn link(a: &Netns, b: &Netns, (name_a, addr_a): (&str, &str), (name_b, addr_b): (&str, &str)) {
    ip(&[
        "link", "add", name_a, "type", "veth", "peer", "name", name_b,
    ]);
    ip(&["link", "set", name_a, "netns", &a.0]);
    ip(&["link", "set", name_b, "netns", &b.0]);
    for (ns, dev, addr) in [(a, name_a, addr_a), (b, name_b, addr_b)] {
        ip(&["-n", &ns.0, "addr", "add", addr, "dev", dev]);
        ip(&["-n", &ns.0, "link", "set", dev, "up"]);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
    }
}
