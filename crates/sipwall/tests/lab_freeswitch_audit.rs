//! Issue 14: `sipwall audit` against what the real tools print and what
//! the real FreeSWITCH listens on. The dumps are made by the real
//! `iptables-restore`, `iptables-save` and `ip6tables-save` in a lab
//! namespace; the live audit runs beside the lab's FreeSWITCH, and every
//! port it calls closed or open is also tried with a real connection.

#[path = "lab/freeswitch.rs"]
mod freeswitch;
mod lab;
mod seed;

use freeswitch::{FreeSwitch, Tree};
use lab::Lab;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const VANILLA_PROFILES: [&str; 4] = ["internal", "external", "internal-ipv6", "external-ipv6"];

/// Loads `rules` with the real iptables-restore in `fw`.
fn iptables_restore(lab: &Lab, rules: &str) {
    let mut child = lab
        .cmd("fw", "iptables-restore")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "iptables-restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn audit(args: &[&str]) -> Output {
    Command::new(lab::sipwall())
        .arg("audit")
        .args(args)
        .args(["--format", "json"])
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap()
}

fn findings(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["findings"].as_array().unwrap().clone()
}

fn of<'a>(f: &'a [Value], id: &str) -> Vec<&'a Value> {
    f.iter().filter(|x| x["id"] == id).collect()
}

fn messages(f: &[Value], id: &str) -> String {
    of(f, id)
        .iter()
        .map(|x| x["message"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_empty_ip6tables_save_means_ipv6_is_unfiltered_and_sshd_config_names_the_ssh_port() {
    let Some(recipe) = seed::recipe() else { return };
    let Some(vanilla) = sipwall_testdata::shared("testdata/freeswitch/vanilla") else {
        return;
    };
    let vanilla = vanilla.display().to_string();
    const TEST: &str =
        "an_empty_ip6tables_save_means_ipv6_is_unfiltered_and_sshd_config_names_the_ssh_port";
    // sshd's configuration and socket say which port is SSH once
    // iptables-save has dropped the recipe's comment.
    let Some(lab) = Lab::up(
        TEST,
        &["iptables-restore", "iptables-save", "ip6tables-save"],
    ) else {
        return;
    };
    iptables_restore(&lab, &recipe);
    let v4 = lab.ok("fw", &["iptables-save"]);
    let v6 = lab.ok("fw", &["ip6tables-save"]);
    // What the real tools print: the comments are gone, and a host with
    // no IPv6 rules gets nothing at all.
    assert!(v4.contains("--dport 6245"), "{v4}");
    assert!(!v4.contains("SSH"), "iptables-save kept a comment: {v4}");
    assert_eq!(v6, "", "ip6tables-save on a namespace with no IPv6 rules");

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (v4, v6) = (write("v4.save", &v4), write("v6.save", &v6));
    let sshd_6245 = write("sshd_config", "# the recipe's port\nPort 6245\n");
    let sshd_22 = write("sshd_config.default", "PermitRootLogin no\n");

    let run = |sshd: &str| {
        let out = audit(&[
            "--ruleset",
            &v4,
            "--ruleset",
            &v6,
            "--freeswitch",
            &vanilla,
            "--sshd-config",
            sshd,
        ]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        findings(&out)
    };

    // sshd on 6245, as the recipe says to set it up.
    let f = run(&sshd_6245);
    let v6_open = of(&f, "ipv6-unfiltered");
    assert_eq!(v6_open.len(), 1, "{f:#?}");
    assert_eq!(v6_open[0]["severity"], "high");
    assert!(of(&f, "ipv6-unknown").is_empty(), "{f:#?}");
    assert!(
        !messages(&f, "port-open-unused").contains("6245"),
        "sshd's port is not unused: {f:#?}"
    );
    assert!(of(&f, "ssh-lockout-risk").is_empty(), "{f:#?}");

    // sshd left on 22: the recipe locks it out, and 6245 serves nothing.
    let f = run(&sshd_22);
    let ssh = messages(&f, "ssh-lockout-risk");
    assert!(ssh.contains("tcp 22") && ssh.contains(&sshd_22), "{f:#?}");
    assert_eq!(of(&f, "ssh-lockout-risk")[0]["severity"], "high");
    assert!(
        messages(&f, "port-open-unused").contains("tcp 6245"),
        "{f:#?}"
    );

    // With --live, sshd's listening socket says where SSH is: a listener
    // whose process is called sshd (perl under that name) on 2222.
    let sshd = dir.path().join("sshd");
    std::fs::copy("/usr/bin/perl", &sshd).unwrap();
    let _listener = lab.spawn(
        "fw",
        &[
            sshd.to_str().unwrap(),
            "-MIO::Socket::INET",
            "-e",
            "my $s = IO::Socket::INET->new(LocalPort => 2222, Listen => 5, ReuseAddr => 1) or die; sleep 60",
        ],
    );
    assert!(
        lab.wait_for(std::time::Duration::from_secs(10), || lab
            .ok("fw", &["ss", "-Hltnp"])
            .contains("\"sshd\"")),
        "the stand-in sshd does not listen"
    );
    let out = lab.sipwall("fw", &["audit", "--live", "--format", "json"]);
    let f = findings(&out);
    let ssh = messages(&f, "ssh-lockout-risk");
    assert!(ssh.contains("tcp 2222 (the listening sshd)"), "{f:#?}");

    // The empty dump alone: nothing is filtered at all.
    let f = findings(&audit(&["--ruleset", &v6, "--sshd-config", &sshd_22]));
    assert_eq!(of(&f, "no-default-deny").len(), 2, "{f:#?}");
}

/// `sipwall audit --live --freeswitch CONF` beside the running FreeSWITCH:
/// clean under the ruleset sipwall derives from discovery; under the
/// classic recipe, the ports it calls closed are ports FreeSWITCH really
/// listens on and a real connection really fails, the ones it leaves open
/// really connect.
#[test]
fn live_audit_beside_the_real_freeswitch_tells_what_is_really_closed_and_open() {
    let Some(recipe) = seed::recipe() else { return };
    const TEST: &str = "live_audit_beside_the_real_freeswitch_tells_what_is_really_closed_and_open";
    if !freeswitch::require(TEST) {
        return;
    }
    let Some(lab) = Lab::up(TEST, &["ss", "iptables-restore"]) else {
        return;
    };
    let tree = Tree::vanilla();
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let conf = fs.conf();
    let conf = conf.to_str().unwrap();
    let real = fs.listening();
    let live = || {
        let out = lab.sipwall(
            "fw",
            &["audit", "--live", "--freeswitch", conf, "--format", "json"],
        );
        (out.status.code(), findings(&out))
    };

    // sipwall's ruleset, from the policy discovery derives.
    let policy = Command::new(lab::sipwall())
        .args(["discover", "freeswitch", conf, "--format", "toml"])
        .output()
        .unwrap();
    assert!(
        policy.status.success(),
        "{}",
        String::from_utf8_lossy(&policy.stderr)
    );
    lab.apply_policy(&String::from_utf8_lossy(&policy.stdout));
    let (code, f) = live();
    assert!(
        f.iter().all(|x| x["severity"] == "info"),
        "only information under sipwall's ruleset: {f:#?}"
    );
    assert_eq!(code, Some(0), "{f:#?}");

    // The classic recipe instead.
    assert!(lab.sipwall("fw", &["reset"]).status.success());
    iptables_restore(&lab, &recipe);
    let (code, f) = live();
    assert_eq!(code, Some(1), "{f:#?}");
    let closed = messages(&f, "profile-port-closed");
    // The recipe opens 5060 only: external's 5080 and the WebSocket and
    // Verto listeners are shut, each a socket FreeSWITCH holds.
    for (proto, port) in [
        ("udp", 5080),
        ("tcp", 5080),
        ("tcp", 5066),
        ("tcp", 7443),
        ("tcp", 8081),
        ("tcp", 8082),
    ] {
        assert!(
            real.iter().any(|s| s.0 == proto && s.2 == port),
            "FreeSWITCH does not hold {proto}/{port}: {real:?}"
        );
        assert!(
            closed.contains(&format!("{proto} {port} over IPv4")),
            "{proto}/{port} not reported closed:\n{closed}\n{f:#?}"
        );
    }
    assert!(!closed.contains(" 5060 "), "5060 is open:\n{closed}");
    // The recipe filters IPv4 only; FreeSWITCH's IPv6 profiles are bare.
    assert!(real.iter().any(|s| s.1.starts_with("2001:db8")), "{real:?}");
    assert_eq!(of(&f, "ipv6-unfiltered").len(), 1, "{f:#?}");

    // A real connection agrees with each verdict.
    let connects = |port: u16| {
        lab.run(
            "peer",
            &[
                "timeout",
                "3",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/192.0.2.1/{port}"),
            ],
        )
        .status
        .success()
    };
    for port in [5080, 5066, 7443, 8081] {
        assert!(!connects(port), "tcp/{port} connected through the recipe");
    }
    assert!(connects(5060), "tcp/5060 is open in the recipe");
    let connects_v6 = |port: u16| {
        lab.run(
            "peer",
            &[
                "timeout",
                "3",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/2001:db8::1/{port}"),
            ],
        )
        .status
        .success()
    };
    assert!(
        connects_v6(5080),
        "external-ipv6 on 5080 is reachable over IPv6, as ipv6-unfiltered says"
    );
}
