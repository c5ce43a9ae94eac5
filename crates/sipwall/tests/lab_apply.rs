//! Issue 3 in the real kernel: sipwall's compiled rules applied in a
//! network namespace, real SIPp calls through them, RTP counted by a table
//! of the test's own that sees only what sipwall accepted.

mod lab;

use lab::{write_temp, Lab};
use std::time::Duration;

const SIP_HELPER: &str =
    "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"helper\"\n";

/// Counters on the firewall: RTP accepted to the UAS's media port.
fn count_rtp(lab: &Lab, port: u16) {
    lab.counters("fw", "input", &[&format!("udp dport {port} counter")]);
}

fn apply(lab: &Lab, policy: Option<&std::path::Path>, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["apply"];
    let p;
    if let Some(path) = policy {
        p = path.display().to_string();
        args.extend(["-c", &p]);
    }
    args.extend(extra);
    lab.sipwall("fw", &args)
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "sipwall failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn helper_mode_lets_a_calls_rtp_through_default_deny_and_marks_dscp() {
    let Some(lab) = Lab::up("helper_mode", &["sipp"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&apply(
        &lab,
        Some(&write_temp(&dir, "p.toml", SIP_HELPER)),
        &[],
    ));
    count_rtp(&lab, 20000);
    // What the peer receives from the firewall host: SIP marked CS3, RTP EF.
    lab.counters(
        "peer",
        "input",
        &[
            "ip dscp cs3 udp sport 5060 counter",
            "ip dscp ef udp sport 20000 counter",
        ],
    );
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the call failed"
    );
    let rtp = lab.counts("fw")[0];
    assert!(
        rtp > 50,
        "RTP accepted as RELATED by the SIP helper: {rtp} packets"
    );
    let marks = lab.counts("peer");
    assert!(marks[0] > 0, "SIP from the firewall host is CS3: {marks:?}");
    assert!(marks[1] > 50, "RTP from the firewall host is EF: {marks:?}");
    let ct = lab.ok("fw", &["conntrack", "-L"]);
    assert!(
        ct.contains("helper=sip"),
        "the SIP conntrack has the helper assigned:\n{ct}"
    );
}

#[test]
fn helper_mode_lets_rtp_of_a_call_made_by_the_firewalled_host_through() {
    // The output path: the firewalled host calls out; the helper is assigned
    // in the output chain, and the peer's RTP comes back as RELATED.
    let Some(lab) = Lab::up("helper_out", &["sipp"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&apply(
        &lab,
        Some(&write_temp(&dir, "p.toml", SIP_HELPER)),
        &[],
    ));
    // uac_pcap plays its RTP from port 6000 and listens there for the echo.
    count_rtp(&lab, 6000);
    let _uas = lab.sipp_uas_on("peer", "192.0.2.2", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call_from("fw", "192.0.2.1", "192.0.2.2:5060", "u1"),
        "the outgoing call failed"
    );
    let rtp = lab.counts("fw")[0];
    assert!(
        rtp > 50,
        "the peer's echoed RTP accepted as RELATED: {rtp} packets"
    );
}

#[test]
fn rtp_to_a_port_the_policy_does_not_open_is_dropped() {
    // The negative control of the test above: same call, RTP not opened.
    let Some(lab) = Lab::up("rtp_closed", &["sipp"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"range\"\nports = \"30000-30100\"\n";
    assert_ok(&apply(&lab, Some(&write_temp(&dir, "p.toml", policy)), &[]));
    count_rtp(&lab, 20000);
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "signalling still works"
    );
    assert_eq!(lab.counts("fw")[0], 0, "no RTP may pass to a closed port");
    let table = lab.sipwall_table("fw").unwrap();
    let deny = table.lines().find(|l| l.contains("default deny")).unwrap();
    assert!(
        lab::packet_counts(deny)[0] > 0,
        "the default deny counted the RTP: {deny}"
    );
}

#[test]
fn builtin_policy_carries_a_call_over_ipv6() {
    let Some(lab) = Lab::up("range_v6", &["sipp"]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    count_rtp(&lab, 20000);
    let _uas = lab.sipp_uas("2001:db8::1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call("2001:db8::2", "[2001:db8::1]:5060", "u1"),
        "the IPv6 call failed"
    );
    assert!(lab.counts("fw")[0] > 50, "RTP over IPv6 in the open range");
}

#[test]
fn helper_mode_over_tcp() {
    let Some(lab) = Lab::up("helper_tcp", &["sipp"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&apply(
        &lab,
        Some(&write_temp(&dir, "p.toml", SIP_HELPER)),
        &[],
    ));
    count_rtp(&lab, 20000);
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "t1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "t1"),
        "the TCP call failed"
    );
    assert!(
        lab.counts("fw")[0] > 50,
        "RTP opened by the helper on a TCP call"
    );
}

#[test]
fn iptables_target_gives_the_same_call() {
    let Some(lab) = Lab::up(
        "iptables",
        &["sipp", "iptables-restore", "ip6tables-restore"],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = write_temp(&dir, "p.toml", SIP_HELPER);
    for (target, tool) in [
        ("iptables", "iptables-restore"),
        ("ip6tables", "ip6tables-restore"),
    ] {
        let out = lab.sipwall(
            "fw",
            &[
                "compile",
                "-c",
                policy.to_str().unwrap(),
                "--target",
                target,
            ],
        );
        assert_ok(&out);
        let file = write_temp(&dir, target, &String::from_utf8_lossy(&out.stdout));
        lab.ok("fw", &[tool, file.to_str().unwrap()]);
    }
    count_rtp(&lab, 20000);
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "the call failed"
    );
    assert!(
        lab.counts("fw")[0] > 50,
        "RTP accepted through iptables' CT --helper sip"
    );
    let saved = lab.ok("fw", &["iptables-save"]);
    assert!(
        saved.contains("-j CT --helper sip") && saved.contains("services.sip"),
        "{saved}"
    );
}

/// Connects over TCP from `node` to `addr:port`; true if it was accepted.
fn tcp_connects(lab: &Lab, node: &str, host: &str, port: u16) -> bool {
    let code = format!(
        "import socket,sys\ns=socket.create_connection(('{host}',{port}),timeout=2)\ns.close()"
    );
    lab.run(node, &["python3", "-c", &code]).status.success()
}

#[test]
fn esl_is_reachable_only_over_loopback_and_ping_and_ssh_work() {
    let Some(lab) = Lab::up("esl", &["python3", "ping"]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    let listen = "import socket,time\nfor p in (8021, 22):\n  s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n  s.bind(('::',p)); s.listen(16); globals()['k%d'%p]=s\ntime.sleep(60)";
    let _listener = lab.spawn("fw", &["python3", "-c", listen]);
    assert!(
        lab.wait_for(Duration::from_secs(5), || tcp_connects(
            &lab,
            "fw",
            "127.0.0.1",
            8021
        )),
        "ESL over loopback"
    );
    assert!(
        tcp_connects(&lab, "fw", "::1", 8021),
        "ESL over IPv6 loopback"
    );
    assert!(
        !tcp_connects(&lab, "peer", "192.0.2.1", 8021),
        "ESL from outside must be refused"
    );
    assert!(
        !tcp_connects(&lab, "peer", "2001:db8::1", 8021),
        "ESL from outside over IPv6 must be refused"
    );
    assert!(tcp_connects(&lab, "peer", "192.0.2.1", 22), "SSH is open");
    assert!(
        tcp_connects(&lab, "peer", "2001:db8::1", 22),
        "SSH is open over IPv6 (neighbour discovery works)"
    );
    lab.ok("peer", &["ping", "-c", "1", "-W", "2", "192.0.2.1"]);
    lab.ok("peer", &["ping", "-c", "1", "-W", "2", "2001:db8::1"]);
}

#[test]
fn esl_is_reachable_from_its_zone_only_over_both_families() {
    let Some(lab) = Lab::up("esl_zone", &["python3"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = "[zones]\nadmin = [\"192.0.2.2\", \"2001:db8::2\"]\n[services.esl]\nkind = \"esl\"\nallow = [\"loopback\", \"admin\"]\n";
    assert_ok(&apply(&lab, Some(&write_temp(&dir, "p.toml", policy)), &[]));
    let listen = "import socket,time\ns=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\ns.bind(('::',8021)); s.listen(16)\ntime.sleep(60)";
    let _listener = lab.spawn("fw", &["python3", "-c", listen]);
    assert!(lab.wait_for(Duration::from_secs(5), || tcp_connects(
        &lab,
        "fw",
        "127.0.0.1",
        8021
    )));
    assert!(
        tcp_connects(&lab, "peer", "192.0.2.1", 8021),
        "the admin zone reaches ESL"
    );
    assert!(
        tcp_connects(&lab, "peer", "2001:db8::1", 8021),
        "the admin zone reaches ESL over IPv6"
    );
    assert!(
        !tcp_connects(&lab, "attacker", "192.0.2.1", 8021),
        "another address does not"
    );
    assert!(
        !tcp_connects(&lab, "attacker", "2001:db8::1", 8021),
        "nor over IPv6"
    );
}

#[test]
fn the_saved_ruleset_loads_at_boot_with_the_systemd_unit() {
    let Some(lab) = Lab::up("boot", &[]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dist/systemd/sipwall-firewall.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let exec = exec.replace(
        "/var/lib/sipwall/ruleset.nft",
        lab.saved_ruleset().to_str().unwrap(),
    );
    let argv: Vec<&str> = exec.split_whitespace().collect();
    // The attacker's namespace stands in for the same host after a reboot: an empty kernel.
    assert!(lab.sipwall_table("attacker").is_none());
    lab.ok(
        "attacker",
        &[argv[0].rsplit('/').next().unwrap()]
            .iter()
            .copied()
            .chain(argv[1..].iter().copied())
            .collect::<Vec<_>>(),
    );
    let strip = |t: String| {
        t.lines()
            .filter(|l| !l.contains("expires"))
            .map(|l| l.split(" counter").next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(lab.sipwall_table("attacker").unwrap()),
        strip(lab.sipwall_table("fw").unwrap())
    );
    // Loading it again over the running table works too (a restart of the unit).
    lab.ok(
        "attacker",
        &["nft", "-f", lab.saved_ruleset().to_str().unwrap()],
    );
}

/// The boot unit's `key=` lines.
fn unit_lines(key: &str) -> Vec<String> {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dist/systemd/sipwall-firewall.service"
    ))
    .unwrap();
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn debians_nftables_conf_flushing_the_ruleset_is_followed_by_the_boot_unit() {
    let Some(lab) = Lab::up("nftables_conf", &[]) else {
        return;
    };
    let conf = std::path::Path::new("/etc/nftables.conf");
    if !conf.is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Debian's nftables package installs /etc/nftables.conf"
        );
        eprintln!("skipped: no /etc/nftables.conf (Debian's nftables package installs it)");
        return;
    }
    // systemd's side: the unit runs after nftables.service and follows its
    // restarts and reloads, with a reload that loads the table again.
    assert_eq!(unit_lines("After"), ["nftables.service"]);
    assert_eq!(unit_lines("PartOf"), ["nftables.service"]);
    assert_eq!(unit_lines("ReloadPropagatedFrom"), ["nftables.service"]);
    assert_eq!(unit_lines("ExecReload"), unit_lines("ExecStart"));
    assert_eq!(unit_lines("RequiresMountsFor"), ["/var/lib/sipwall"]);

    assert_ok(&apply(&lab, None, &[]));
    let before = lab.sipwall_table("fw").unwrap();
    // What nftables.service runs on start and reload: `flush ruleset` first.
    lab.ok("fw", &["nft", "-f", conf.to_str().unwrap()]);
    assert!(
        lab.sipwall_table("fw").is_none(),
        "the flush wiped sipwall's table"
    );
    // What systemd then runs for this unit (ReloadPropagatedFrom).
    let reload = unit_lines("ExecReload")[0].replace(
        "/var/lib/sipwall/ruleset.nft",
        lab.saved_ruleset().to_str().unwrap(),
    );
    let argv: Vec<&str> = reload.split_whitespace().collect();
    let program = argv[0].rsplit('/').next().unwrap();
    let mut args = vec![program];
    args.extend(&argv[1..]);
    lab.ok("fw", &args);
    let strip = |t: String| {
        t.lines()
            .map(|l| l.split(" counter").next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(lab.sipwall_table("fw").unwrap()), strip(before));
    // And Debian's own table is there beside it.
    assert!(lab
        .ok("fw", &["nft", "list", "tables"])
        .contains("table inet filter"));
}

#[test]
fn a_bad_policy_leaves_the_running_ruleset_alone() {
    let Some(lab) = Lab::up("bad_policy", &[]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    let before = lab.sipwall_table("fw").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = write_temp(
        &dir,
        "bad.toml",
        "[services.esl]\nkind = \"esl\"\nallow = [\"nowhere\"]\n",
    );
    let out = apply(&lab, Some(&bad), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:3:10: unknown zone \"nowhere\""),
        "{err}"
    );
    assert_eq!(lab.sipwall_table("fw").unwrap(), before);
}

#[test]
fn an_unconfirmed_apply_rolls_back_even_when_its_process_is_killed() {
    let Some(lab) = Lab::up("rollback", &[]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    lab.ok(
        "fw",
        &[
            "nft",
            "add",
            "element",
            "inet",
            "sipwall",
            "ban_v4",
            "{ 192.0.2.66 timeout 1h }",
        ],
    );
    lab.ok("fw", &["nft", "add", "table", "inet", "othertool"]);
    let dir = tempfile::tempdir().unwrap();
    let pinhole = write_temp(
        &dir,
        "p.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n",
    );
    let mut applying = lab
        .cmd("fw", lab::sipwall())
        .args(["apply", "-c", pinhole.to_str().unwrap(), "--confirm", "3"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let has_pinholes = || {
        lab.sipwall_table("fw")
            .is_some_and(|t| t.contains("pinhole_port"))
    };
    assert!(
        lab.wait_for(Duration::from_secs(10), has_pinholes),
        "the new ruleset was applied"
    );
    // The terminal is gone: the apply process dies without a word.
    applying.kill().unwrap();
    applying.wait().unwrap();
    assert!(
        lab.wait_for(Duration::from_secs(10), || !has_pinholes()),
        "the watchdog rolled back"
    );
    let t = lab.sipwall_table("fw").unwrap();
    assert!(
        t.contains("192.0.2.66"),
        "the ban survived apply and rollback:\n{t}"
    );
    assert!(
        lab.ok("fw", &["nft", "list", "tables"])
            .contains("othertool"),
        "other tables untouched"
    );
}

#[test]
fn a_confirmed_apply_stays() {
    let Some(lab) = Lab::up("confirm", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pinhole = write_temp(
        &dir,
        "p.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n",
    );
    let applying = lab
        .cmd("fw", lab::sipwall())
        .args(["apply", "-c", pinhole.to_str().unwrap(), "--confirm", "3"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(lab.wait_for(Duration::from_secs(10), || lab
        .sipwall_table("fw")
        .is_some()));
    assert_ok(&lab.sipwall("fw", &["confirm"]));
    let status = applying.wait_with_output().unwrap().status;
    assert!(
        status.success(),
        "apply reports the confirmation: {status:?}"
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        lab.sipwall_table("fw").unwrap().contains("pinhole_port"),
        "still there after the deadline"
    );
    assert_eq!(
        lab.sipwall("fw", &["confirm"]).status.code(),
        Some(1),
        "nothing left to confirm"
    );
}

#[test]
fn answering_no_at_the_confirm_prompt_rolls_back_at_once() {
    let Some(lab) = Lab::up("confirm_no", &[]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    let dir = tempfile::tempdir().unwrap();
    let pinhole = write_temp(
        &dir,
        "p.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n",
    );
    // The prompt only shows on a terminal: `script` gives apply one. The
    // window is a minute, in the same syntax as `bans add --for`.
    let shell = format!(
        "{} apply -c {} --confirm 1m",
        lab::sipwall(),
        pinhole.display()
    );
    let mut applying = lab
        .cmd("fw", "script")
        .args(["-qec", &shell, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let has_pinholes = || {
        lab.sipwall_table("fw")
            .is_some_and(|t| t.contains("pinhole_port"))
    };
    assert!(
        lab.wait_for(Duration::from_secs(10), has_pinholes),
        "the new ruleset was applied"
    );
    let asked = std::time::Instant::now();
    {
        use std::io::Write;
        let stdin = applying.stdin.as_mut().unwrap();
        stdin.write_all(b"no\n").unwrap();
        stdin.flush().unwrap();
    }
    assert!(
        lab.wait_for(Duration::from_secs(10), || !has_pinholes()),
        "answering no rolled back"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(30),
        "rolled back at once, not at the deadline"
    );
    let out = applying.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "apply reports the rollback: {text}"
    );
    assert!(text.contains("rolled back"), "{text}");
    assert!(
        lab.sipwall_table("fw").is_some(),
        "the previous table is back"
    );
}

#[test]
fn apply_refuses_to_cut_off_the_ssh_session_unless_forced() {
    let Some(lab) = Lab::up("ssh_guard", &[]) else {
        return;
    };
    let mut cmd = lab.cmd("fw", lab::sipwall());
    let out = cmd
        .args(["apply"])
        .env("SSH_CONNECTION", "192.0.2.2 40022 192.0.2.1 2222")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to apply") && err.contains("2222"),
        "{err}"
    );
    assert!(lab.sipwall_table("fw").is_none(), "nothing was applied");
    let out = lab
        .cmd("fw", lab::sipwall())
        .args(["apply"])
        .env("SSH_CONNECTION", "192.0.2.2 40022 192.0.2.1 22")
        .output()
        .unwrap();
    assert_ok(&out);
    let out = lab
        .cmd("fw", lab::sipwall())
        .args(["apply", "--force"])
        .env("SSH_CONNECTION", "192.0.2.2 40022 192.0.2.1 2222")
        .output()
        .unwrap();
    assert_ok(&out);
}

#[test]
fn reset_removes_sipwalls_table_and_nothing_else() {
    let Some(lab) = Lab::up("reset", &[]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    lab.ok("fw", &["nft", "add", "table", "ip", "othertool"]);
    assert_ok(&lab.sipwall("fw", &["reset"]));
    assert!(lab.sipwall_table("fw").is_none());
    assert!(lab
        .ok("fw", &["nft", "list", "tables"])
        .contains("table ip othertool"));
    assert_ok(&lab.sipwall("fw", &["reset"]));
}

#[test]
fn reset_removes_the_boot_ruleset_unless_told_to_keep_it() {
    let Some(lab) = Lab::up("reset_boot", &[]) else {
        return;
    };
    assert_ok(&apply(&lab, None, &[]));
    assert!(lab.saved_ruleset().exists(), "apply saved for boot");
    let out = lab.sipwall("fw", &["reset", "--keep-boot"]);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept the boot ruleset"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(lab.saved_ruleset().exists(), "--keep-boot kept it");
    assert_ok(&apply(&lab, None, &[]));
    let out = lab.sipwall("fw", &["reset"]);
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed the boot ruleset"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!lab.saved_ruleset().exists(), "reset removed it");
    assert!(lab.sipwall_table("fw").is_none());
}

#[test]
fn status_reports_the_table_and_the_boot_ruleset_without_the_daemon() {
    let Some(lab) = Lab::up("status_nodaemon", &[]) else {
        return;
    };
    let before = lab.sipwall("fw", &["status"]);
    assert_eq!(before.status.code(), Some(3), "no daemon: exit 3");
    let text = String::from_utf8_lossy(&before.stdout);
    assert!(text.contains("not loaded"), "{text}");
    assert!(
        text.contains("daemon") && text.contains("not running"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let policy = write_temp(
        &dir,
        "office.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    );
    assert_ok(&apply(&lab, Some(&policy), &[]));
    let out = lab.sipwall("fw", &["status"]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line in:\n{text}"))
            .to_owned()
    };
    assert!(line("table").contains("loaded, applied"), "{text}");
    assert!(line("table").contains("office.toml"), "{text}");
    assert!(line("boot").contains("saved"), "{text}");
    // Aligned: every value starts in the same column.
    let col = |l: &str| {
        l.find("  ")
            .map(|i| i + l[i..].len() - l[i..].trim_start().len())
    };
    assert_eq!(col(&line("table")), col(&line("daemon")), "{text}");

    let json: serde_json::Value =
        serde_json::from_slice(&lab.sipwall("fw", &["status", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["table"]["loaded"], true);
    assert_eq!(json["table"]["policy_matches"], true);
    assert_eq!(json["daemon"]["running"], false);
    assert!(json["table"]["boot_ruleset"].is_string());

    // Another tool replaces the table: status no longer names the policy.
    lab.ok("fw", &["nft", "delete", "table", "inet", "sipwall"]);
    lab.ok("fw", &["nft", "add", "table", "inet", "sipwall"]);
    let json: serde_json::Value =
        serde_json::from_slice(&lab.sipwall("fw", &["status", "--format", "json"]).stdout).unwrap();
    assert_eq!(json["table"]["loaded"], true);
    assert!(json["table"]["policy"].is_null(), "{json}");
    assert_eq!(json["table"]["policy_matches"], false, "{json}");
}

#[test]
fn apply_warns_when_another_table_also_filters_input() {
    let Some(lab) = Lab::up("other_filter", &[]) else {
        return;
    };
    // Debian's default /etc/nftables.conf: an empty input chain, policy
    // accept, drops nothing: no warning.
    lab.ok(
        "fw",
        &["nft", "add table inet filter; add chain inet filter input { type filter hook input priority filter; }"],
    );
    let out = apply(&lab, None, &[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("also filters input"), "{err}");
    // iptables-nft's INPUT with a drop policy: a packet must pass both.
    lab.ok("fw", &["iptables", "-P", "INPUT", "DROP"]);
    let out = apply(&lab, None, &[]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("table ip filter also filters input (chain INPUT")
            && err.contains("policy drop"),
        "{err}"
    );
}

#[test]
fn apply_diff_shows_what_opens_and_closes_by_service_port_family_and_zone_and_changes_nothing() {
    let Some(lab) = Lab::up("apply_diff", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = write_temp(
        &dir,
        "a.toml",
        "[services.sip]\nkind = \"sip\"\nports = [5060]\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n",
    );
    let b = write_temp(
        &dir,
        "b.toml",
        "[zones]\noffice = [\"198.51.100.0/24\"]\n[services.sip]\nkind = \"sip\"\nports = [5060]\nallow = [\"any\"]\n[services.sip-external]\nkind = \"sip\"\nports = [5080]\nprotocols = [\"udp\"]\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"office\"]\n",
    );
    // No table yet: the preview lists what the first apply opens.
    let out = apply(&lab, Some(&a), &["--diff"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no sipwall table before"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("opens")
            && l.contains("ssh")
            && l.contains("22/tcp")
            && l.contains("IPv4, IPv6")),
        "{text}"
    );
    assert!(lab.sipwall_table("fw").is_none(), "--diff changed nothing");

    assert_ok(&apply(&lab, Some(&a), &[]));
    let before = lab.sipwall_table("fw").unwrap();
    let out = apply(&lab, Some(&b), &["--dry-run"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |change: &str, what: &str| {
        text.lines()
            .find(|l| l.starts_with(change) && l.contains(what))
            .unwrap_or_else(|| panic!("no `{change} .. {what}` in:\n{text}"))
            .to_owned()
    };
    assert!(line("opens", "5080/udp").contains("sip-external"), "{text}");
    assert!(line("opens", "5080/udp").contains("anywhere"), "{text}");
    assert!(line("closes", "22/tcp").contains("anywhere"), "{text}");
    assert!(!text.contains("5060"), "sip is unchanged: {text}");
    assert_eq!(
        lab.sipwall_table("fw").unwrap(),
        before,
        "--dry-run changed nothing"
    );

    let out = apply(&lab, Some(&b), &["--diff", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = v["preview"]["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["change"] == "closes"
        && l["service"] == "ssh"
        && l["ports"] == "22"
        && l["from"] == "anywhere"
        && l["families"] == serde_json::json!(["IPv4", "IPv6"])));

    // The apply itself ends with the same summary.
    let out = apply(&lab, Some(&b), &[]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("opens") && l.contains("5080/udp")),
        "{text}"
    );
}

#[test]
fn apply_refuses_to_cut_an_ssh_session_it_finds_in_the_socket_table_even_without_ssh_connection() {
    let Some(lab) = Lab::up("ssh_sockets", &["perl"]) else {
        return;
    };
    // A listener whose process is called sshd (perl under that name) on
    // 2222, holding what it accepts: sudo and su - drop SSH_CONNECTION,
    // the kernel's socket table still has the session.
    let dir = tempfile::tempdir().unwrap();
    let sshd = dir.path().join("sshd");
    std::fs::copy("/usr/bin/perl", &sshd).unwrap();
    let _sshd = lab.spawn(
        "fw",
        &[
            sshd.to_str().unwrap(),
            "-MIO::Socket::INET",
            "-e",
            "my $s = IO::Socket::INET->new(LocalPort => 2222, Listen => 5, ReuseAddr => 1) or die; my @c; while (my $c = $s->accept) { push @c, $c }",
        ],
    );
    assert!(lab.wait_for(Duration::from_secs(10), || lab
        .ok("fw", &["ss", "-Hltnp"])
        .contains("\"sshd\"")));
    let _session = lab.spawn(
        "peer",
        &[
            "perl",
            "-MIO::Socket::INET",
            "-e",
            "my $c = IO::Socket::INET->new(PeerAddr => '192.0.2.1:2222') or die; sleep 60",
        ],
    );
    assert!(lab.wait_for(Duration::from_secs(10), || lab
        .ok("fw", &["ss", "-Htn", "state", "established"])
        .contains("192.0.2.2")));
    // No SSH_CONNECTION (lab.cmd removes it); the policy opens 22 only.
    let out = apply(&lab, None, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to apply")
            && err.contains("192.0.2.2 to port 2222")
            && err.contains("the socket table"),
        "{err}"
    );
    assert!(lab.sipwall_table("fw").is_none(), "nothing was applied");
    let out = apply(&lab, None, &["--force"]);
    assert_ok(&out);
}

#[test]
fn check_and_apply_refuse_an_event_socket_open_to_anywhere_unless_forced() {
    let Some(lab) = Lab::up("esl_refused", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let open = write_temp(
        &dir,
        "open.toml",
        "[services.esl]\nkind = \"esl\"\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n",
    );
    let check = lab.sipwall("fw", &["check", "-c", open.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("critical esl-exposed"), "{text}");
    let forced = lab.sipwall("fw", &["check", "-c", open.to_str().unwrap(), "--force"]);
    assert_ok(&forced);
    let out = apply(&lab, Some(&open), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("esl-exposed"));
    assert!(lab.sipwall_table("fw").is_none(), "nothing was applied");
    assert_ok(&apply(&lab, Some(&open), &["--force"]));
}
