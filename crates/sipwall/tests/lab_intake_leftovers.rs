//! Issue 13, item 11: the inline intake's iptables fallback across daemons
//! killed with `-9`, in a lab namespace.

mod lab;

use lab::{write_temp, Background, Lab};
use std::time::Duration;

const POLICY: &str = "[services.sip]\nkind = \"sip\"\nprotocols = [\"udp\", \"tcp\"]\nports = [5060]\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n";

fn iptables_rules(lab: &Lab, tool: &str) -> String {
    lab.ok("fw", &[tool, "-w", "-S"])
}

/// Starts an inline daemon on the iptables fallback; returns once its rules are in.
fn daemon(lab: &Lab, policy: &std::path::Path, fail_closed: bool) -> Background {
    let mut c = lab.cmd("fw", lab::sipwall());
    c.args(["run", "--mode", "inline", "--metrics", "off", "-c"])
        .arg(policy)
        .env("SIPWALL_INTAKE_BACKEND", "iptables")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if fail_closed {
        c.arg("--fail-closed");
    }
    // Once the daemon answers, its rules are in (a killed daemon leaves
    // its socket behind, and a new one listens before its intake is in).
    let child = Background(c.spawn().unwrap());
    assert!(
        lab.daemon_ready(Duration::from_secs(15)),
        "the daemon started"
    );
    let rules = iptables_rules(lab, "ip6tables");
    assert!(
        count(&rules, "NFQUEUE") > 0
            && rules
                .lines()
                .filter(|l| l.contains("NFQUEUE"))
                .all(|l| l.contains("--queue-bypass") != fail_closed),
        "the daemon queues SIP as asked (fail-closed: {fail_closed}):\n{rules}"
    );
    child
}

fn count(rules: &str, what: &str) -> usize {
    rules.lines().filter(|l| l.contains(what)).count()
}

#[test]
fn kill_9_cycles_of_an_inline_daemon_leave_one_jump_and_no_fail_closed_leftover() {
    let Some(lab) = Lab::up("intake_left", &["iptables", "ip6tables", "python3"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = write_temp(&dir, "p.toml", POLICY);
    let out = lab.sipwall("fw", &["apply", "-c", policy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for fail_closed in [false, true, true] {
        let mut d = daemon(&lab, &policy, fail_closed);
        d.0.kill().unwrap();
        d.0.wait().unwrap();
    }
    for tool in ["iptables", "ip6tables"] {
        let rules = iptables_rules(&lab, tool);
        assert_eq!(count(&rules, "-A INPUT -j SIPWALL-INTAKE-IN"), 1, "{rules}");
        assert_eq!(
            count(&rules, "-A OUTPUT -j SIPWALL-INTAKE-OUT"),
            1,
            "{rules}"
        );
        // udp and tcp, in and out: one set of rules, the last daemon's (fail-closed).
        assert_eq!(count(&rules, "NFQUEUE"), 4, "{rules}");
        assert_eq!(count(&rules, "--queue-bypass"), 0, "{rules}");
    }

    // A fail-open daemon replaces the fail-closed leftovers and, stopped
    // cleanly, takes everything with it.
    let d = daemon(&lab, &policy, false);
    for tool in ["iptables", "ip6tables"] {
        let rules = iptables_rules(&lab, tool);
        assert_eq!(count(&rules, "NFQUEUE"), 4, "{rules}");
        assert_eq!(
            count(&rules, "--queue-bypass"),
            4,
            "no fail-closed rule left: {rules}"
        );
    }
    lab.ok("fw", &["kill", "-TERM", &d.0.id().to_string()]);
    assert!(
        lab.wait_for(Duration::from_secs(10), || ["iptables", "ip6tables"]
            .iter()
            .all(|t| !iptables_rules(&lab, t).contains("SIPWALL"))),
        "a clean stop removes the chains:\n{}",
        iptables_rules(&lab, "iptables")
    );
    drop(d);
    for tool in ["iptables", "ip6tables"] {
        let rules = iptables_rules(&lab, tool);
        assert!(
            !rules.contains("NFQUEUE") && !rules.contains("SIPWALL"),
            "{rules}"
        );
    }

    // And SIP flows with no daemon at all.
    lab.counters("fw", "input", &["udp dport 5060 counter"]);
    let send = "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'OPTIONS sip:x SIP/2.0\\r\\n\\r\\n', ('192.0.2.1', 5060))";
    lab.ok("peer", &["python3", "-c", send]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        lab.counts("fw")[0],
        5,
        "SIP reaches the host after the daemons are gone"
    );
}
