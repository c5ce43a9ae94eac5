//! Issue 14 item 2: the real sipvicious tools (0.3.8) against the real
//! FreeSWITCH (vanilla tree), first without a guard to record what
//! FreeSWITCH really answers each of them (the detectors read those
//! answers), then behind sipwall's policy for that tree with `sipwall run
//! --esl` connected: each tool is banned in the kernel, and after the ban
//! none of its packets gets past the firewall to FreeSWITCH. And fail2ban
//! (issue 14 item 7), the guard sipwall is measured against, on the same
//! FreeSWITCH's real log: whether it bans svcrack at all.

#[path = "lab/fail2ban.rs"]
mod fail2ban;
#[path = "lab/freeswitch.rs"]
mod freeswitch;
mod lab;

use freeswitch::{FreeSwitch, Tree};
use lab::{Background, Lab};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VANILLA_PROFILES: [&str; 4] = ["internal", "external", "internal-ipv6", "external-ipv6"];
const ATTACKER: &str = "192.0.2.66";

fn lab(test: &str) -> Option<Lab> {
    if !freeswitch::require(test) {
        return None;
    }
    Lab::up(
        test,
        &[
            "ss",
            "tshark",
            "sipvicious_svmap",
            "sipvicious_svwar",
            "sipvicious_svcrack",
        ],
    )
}

/// tshark capturing SIP on the firewall's wire (before netfilter: it sees
/// what was sent, not what was let in).
struct Capture {
    child: Option<std::process::Child>,
    file: PathBuf,
}

impl Capture {
    fn start(lab: &Lab, dir: &Path, name: &str) -> Capture {
        let file = dir.join(format!("{name}.pcap"));
        let log = dir.join(format!("{name}.tshark"));
        let child = lab
            .cmd("fw", "tshark")
            .args(["-i", "eth0", "-f", "udp port 5060", "-w"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let capturing = lab.wait_for(Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Capturing on"))
        });
        assert!(capturing, "tshark did not start");
        Capture {
            child: Some(child),
            file,
        }
    }

    /// Stops the capture (SIGINT, so the file is complete) and decodes it.
    fn finish(mut self, lab: &Lab) -> Vec<Sip> {
        let mut child = self.child.take().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let out = lab.ok(
            "fw",
            &[
                "tshark",
                "-r",
                self.file.to_str().unwrap(),
                "-Y",
                "sip",
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-E",
                "occurrence=f",
                "-e",
                "ip.src",
                "-e",
                "sip.Method",
                "-e",
                "sip.Status-Code",
                "-e",
                "sip.Call-ID",
                "-e",
                "sip.CSeq.seq",
                "-e",
                "sip.Authorization",
            ],
        );
        out.lines().filter_map(Sip::parse).collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One SIP message on the wire.
#[derive(Debug, Clone)]
struct Sip {
    src: String,
    method: String,
    status: Option<u16>,
    transaction: String,
    authorization: bool,
}

impl Sip {
    fn parse(line: &str) -> Option<Sip> {
        let f: Vec<&str> = line.split('|').collect();
        Some(Sip {
            src: f.first()?.to_string(),
            method: f.get(1)?.to_string(),
            status: f.get(2)?.parse().ok(),
            transaction: format!("{} {}", f.get(3)?, f.get(4)?),
            authorization: !f.get(5)?.is_empty(),
        })
    }
}

/// FreeSWITCH's final answers to the attacker's requests: (request, status).
fn answers(sip: &[Sip]) -> Vec<(Sip, u16)> {
    sip.iter()
        .filter(|r| r.src == ATTACKER && !r.method.is_empty())
        .filter_map(|req| {
            let status = sip
                .iter()
                .filter(|a| a.src == "192.0.2.1" && a.transaction == req.transaction)
                .filter_map(|a| a.status)
                .find(|s| *s >= 200)?;
            Some((req.clone(), status))
        })
        .collect()
}

/// Runs `tool` from the attacker to completion (at most `limit`).
fn run_tool(lab: &Lab, tool: &[&str], limit: u32) {
    let mut args = vec!["timeout", "-s", "KILL"];
    let limit = limit.to_string();
    args.push(&limit);
    args.extend_from_slice(tool);
    lab.run("attacker", &args);
}

#[test]
fn freeswitch_answers_sipvicious_as_the_detectors_read_it() {
    let test = "freeswitch_answers_sipvicious_as_the_detectors_read_it";
    let Some(lab) = lab(test) else {
        return;
    };
    let tree = Tree::vanilla();
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let dir = tempfile::tempdir().unwrap();
    let record = |name: &str, tool: &[&str]| {
        let cap = Capture::start(&lab, dir.path(), name);
        run_tool(&lab, tool, 30);
        let sip = cap.finish(&lab);
        let a = answers(&sip);
        eprintln!(
            "{test}: {name}: {:?}",
            a.iter()
                .map(|(r, s)| (&r.method, r.authorization, s))
                .collect::<Vec<_>>()
        );
        a
    };

    // svmap: one OPTIONS, answered 200 like any peer's. Nothing in the
    // answer tells a scanner from a phone: only the request's fingerprint
    // (User-Agent, From tag) can ban it.
    let a = record("svmap", &["sipvicious_svmap", "192.0.2.1"]);
    assert!(!a.is_empty(), "svmap got no answer\n{}", fs.log_tail(20));
    assert!(
        a.iter().all(|(r, s)| r.method == "OPTIONS" && *s == 200),
        "{a:?}"
    );

    // svwar (REGISTER, its default): FreeSWITCH challenges every user,
    // existing or not, so svwar's sanity check (a random extension)
    // already gets the 401 that every extension would get, and it stops.
    // No 404 and no 403: the enumeration detector has nothing to count,
    // and the attacker learnt nothing either.
    let a = record("svwar", &["sipvicious_svwar", "-e1000-1010", "192.0.2.1"]);
    assert!(!a.is_empty(), "svwar got no answer");
    assert!(
        a.iter().all(|(r, s)| r.method == "REGISTER" && *s == 401),
        "{a:?}"
    );
    assert!(a.len() <= 2, "svwar walked the range: {a:?}");

    // svcrack: each guess is a REGISTER challenged with 401 (a nonce), then
    // the same REGISTER with credentials, refused with 403, not with a
    // fresh 401; for an existing user and for a missing one alike. The
    // brute-force detector counts 403 to a request with credentials.
    for (name, user) in [("svcrack", "-u1000"), ("svcrack-nouser", "-u100")] {
        let a = record(
            name,
            &["sipvicious_svcrack", user, "-r2000-2004", "192.0.2.1"],
        );
        let with_credentials: Vec<_> = a.iter().filter(|(r, _)| r.authorization).collect();
        let without: Vec<_> = a.iter().filter(|(r, _)| !r.authorization).collect();
        assert!(with_credentials.len() >= 5, "{name}: {a:?}");
        assert!(
            with_credentials.iter().all(|(_, s)| *s == 403),
            "{name}: a wrong password is refused with 403: {a:?}"
        );
        assert!(
            without.iter().all(|(_, s)| *s == 401),
            "{name}: each guess starts with a challenge: {a:?}"
        );
    }
}

/// `sipwall run --esl` in front of FreeSWITCH, with its policy derived
/// from FreeSWITCH's tree (plus `guard`, TOML appended to it), and a
/// counter behind sipwall's filter of what the attacker gets through to
/// FreeSWITCH's SIP port.
struct Guarded<'l> {
    lab: &'l Lab,
    fs: FreeSwitch<'l>,
    log: PathBuf,
    _daemon: Background,
    _dir: tempfile::TempDir,
}

impl<'l> Guarded<'l> {
    fn start(lab: &'l Lab, tree: &Tree, guard: &str) -> Guarded<'l> {
        let fs = FreeSwitch::start(lab, tree.path(), &VANILLA_PROFILES);
        let out = Command::new(lab::sipwall())
            .args(["discover", "freeswitch"])
            .arg(fs.conf())
            .args(["--format", "toml"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let policy = format!("{}\n{guard}", String::from_utf8(out.stdout).unwrap());
        let policy = lab.apply_policy(&policy);
        lab.counters(
            "fw",
            "input",
            &[&format!(
                "ip saddr {ATTACKER} udp dport {{ 5060, 5080 }} counter"
            )],
        );
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        let daemon = freeswitch::start_guard(lab, &dir, &policy, &log, &[]);
        assert!(
            freeswitch::esl_connected(lab, Duration::from_secs(15)),
            "the daemon did not reach FreeSWITCH's event socket:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Guarded {
            lab,
            fs,
            log,
            _daemon: daemon,
            _dir: dir,
        }
    }

    fn daemon_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn banned(&self) -> bool {
        self.lab.banned("fw", ATTACKER)
    }

    /// Packets the ban rule dropped.
    fn dropped(&self) -> u64 {
        let t = self.lab.sipwall_table("fw").unwrap();
        let line = t.lines().find(|l| l.contains("saddr @ban_v4")).unwrap();
        lab::packet_counts(line)[0]
    }

    /// Attacker packets that got past sipwall's filter to the SIP ports.
    fn reached(&self) -> u64 {
        self.lab.counts("fw")[0]
    }

    /// Runs `tool` until its source is banned in the kernel, with `reason`
    /// in the daemon's log; then runs it again, plus a few plain packets,
    /// and checks that the ban dropped them and none reached FreeSWITCH.
    fn attack_is_banned_then_cut_off(&self, tool: &[&str], reason: &str) {
        let started = Instant::now();
        let attack = self.lab.spawn("attacker", tool);
        let got = self.lab.wait_for(Duration::from_secs(30), || self.banned());
        drop(attack);
        let log = self.daemon_log();
        assert!(
            got,
            "{tool:?}: {ATTACKER} not banned in the kernel\n{log}\n{}",
            self.fs.log_tail(20)
        );
        let line = log
            .lines()
            .find(|l| l.contains("banned") && l.contains(ATTACKER))
            .unwrap_or_default();
        eprintln!(
            "{tool:?}: banned {:?} after start: {line}",
            started.elapsed()
        );
        assert!(
            line.contains(&format!("reason=\"{reason}")),
            "{line}\n{log}"
        );

        let (reached, dropped) = (self.reached(), self.dropped());
        assert!(reached > 0, "the attack never reached FreeSWITCH: vacuous");
        run_tool(self.lab, tool, 8);
        let probe = "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'OPTIONS sip:1000@192.0.2.1 SIP/2.0\\r\\n\\r\\n', ('192.0.2.1', 5060))";
        self.lab.ok("attacker", &["python3", "-c", probe]);
        assert!(
            self.lab
                .wait_for(Duration::from_secs(5), || self.dropped() >= dropped + 5),
            "the ban rule did not drop the attacker's next packets"
        );
        assert_eq!(
            self.reached(),
            reached,
            "{tool:?}: attacker packets reached FreeSWITCH after the ban"
        );
    }
}

#[test]
fn svmap_against_the_real_freeswitch_is_banned_and_cut_off() {
    let Some(lab) = lab("svmap_against_the_real_freeswitch_is_banned_and_cut_off") else {
        return;
    };
    let tree = Tree::vanilla();
    let g = Guarded::start(&lab, &tree, "");
    g.attack_is_banned_then_cut_off(&["sipvicious_svmap", "192.0.2.1"], "scanner");
}

#[test]
fn svwar_against_the_real_freeswitch_is_banned_and_cut_off() {
    let Some(lab) = lab("svwar_against_the_real_freeswitch_is_banned_and_cut_off") else {
        return;
    };
    let tree = Tree::vanilla();
    let g = Guarded::start(&lab, &tree, "");
    g.attack_is_banned_then_cut_off(&["sipvicious_svwar", "-e1000-1019", "192.0.2.1"], "scanner");
}

/// With the scanner detector off, only what FreeSWITCH answers can ban
/// svcrack: its 403s to REGISTERs carrying credentials.
#[test]
fn svcrack_against_the_real_freeswitch_is_banned_from_its_403s_and_cut_off() {
    let Some(lab) = lab("svcrack_against_the_real_freeswitch_is_banned_from_its_403s_and_cut_off")
    else {
        return;
    };
    let tree = Tree::vanilla();
    let g = Guarded::start(&lab, &tree, "[guard.scanner]\nenabled = false\n");
    g.attack_is_banned_then_cut_off(
        &["sipvicious_svcrack", "-u1000", "-r2000-2999", "192.0.2.1"],
        "brute force",
    );
}

/// The same for a user FreeSWITCH does not have: it answers 403 too.
#[test]
fn svcrack_on_a_missing_user_is_banned_from_freeswitchs_403s() {
    let Some(lab) = lab("svcrack_on_a_missing_user_is_banned_from_freeswitchs_403s") else {
        return;
    };
    let tree = Tree::vanilla();
    let g = Guarded::start(&lab, &tree, "[guard.scanner]\nenabled = false\n");
    g.attack_is_banned_then_cut_off(
        &["sipvicious_svcrack", "-u100", "-r2000-2999", "192.0.2.1"],
        "brute force",
    );
}

/// svwar walking INVITEs on the external profile (FreeSWITCH's public
/// context, no authentication): FreeSWITCH answers a missing extension
/// with 480, not 404. With the scanner detector off, those 480s ban it.
#[test]
fn svwar_walking_invites_on_the_external_profile_is_banned_from_freeswitchs_480s() {
    let Some(lab) =
        lab("svwar_walking_invites_on_the_external_profile_is_banned_from_freeswitchs_480s")
    else {
        return;
    };
    let tree = Tree::vanilla();
    let g = Guarded::start(&lab, &tree, "[guard.scanner]\nenabled = false\n");
    g.attack_is_banned_then_cut_off(
        &[
            "sipvicious_svwar",
            "-m",
            "INVITE",
            "--force",
            "-p",
            "5080",
            "-e5000-5011",
            "192.0.2.1",
        ],
        "enumeration",
    );
}

/// FreeSWITCH refuses each wrong password twice over: a 403 on the wire
/// and a `sofia::register_failure` event. The daemon hears both; three
/// wrong passwords are three failures, under the threshold of five, not six.
#[test]
fn three_wrong_passwords_heard_on_the_wire_and_the_event_socket_count_three() {
    let Some(lab) = lab("three_wrong_passwords_heard_on_the_wire_and_the_event_socket_count_three")
    else {
        return;
    };
    let tree = logging_tree();
    let g = Guarded::start(&lab, &tree, "[guard.scanner]\nenabled = false\n");
    // svcrack tries the username itself, then the range: three passwords.
    run_tool(
        &lab,
        &["sipvicious_svcrack", "-u1000", "-r2000-2001", "192.0.2.1"],
        20,
    );
    assert!(
        lab.wait_for(Duration::from_secs(5), || logged_failures(&g.fs) == 3),
        "FreeSWITCH refused {} passwords, not 3:\n{}",
        logged_failures(&g.fs),
        g.fs.log_tail(20)
    );
    // Both witnesses had their say (the events trail the wire).
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !g.banned(),
        "banned after three failures:\n{}",
        g.daemon_log()
    );
}

/// Vanilla with `log-auth-failures` on the internal profile: FreeSWITCH
/// writes each failed authentication to its log, which fail2ban reads.
fn logging_tree() -> Tree {
    let tree = Tree::vanilla();
    tree.edit(
        "sip_profiles/internal.xml",
        r#"<param name="log-auth-failures" value="false"/>"#,
        r#"<param name="log-auth-failures" value="true"/>"#,
    );
    tree
}

/// Counts the attacker's SIP packets as they arrive, before any filter
/// (the second counter, of the lab's own table at priority 100, counts
/// those let through).
fn count_on_the_wire_and_let_through(lab: &Lab) {
    lab.nft(
        "fw",
        &format!(
            "table inet labwire {{\n  chain input {{\n    type filter hook input priority -300; policy accept;\n    ip saddr {ATTACKER} udp dport 5060 counter\n  }}\n}}\n"
        ),
    );
    lab.counters(
        "fw",
        "input",
        &[&format!("ip saddr {ATTACKER} udp dport 5060 counter")],
    );
}

fn on_the_wire(lab: &Lab) -> u64 {
    lab::packet_counts(&lab.ok("fw", &["nft", "list", "table", "inet", "labwire"]))[0]
}

/// FreeSWITCH's log lines about the attacker's failed authentications.
fn logged_failures(fs: &FreeSwitch<'_>) -> usize {
    std::fs::read_to_string(fs.log_file())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("SIP auth failure (REGISTER)") && l.contains(ATTACKER))
        .count()
}

#[test]
fn the_stock_fail2ban_freeswitch_filter_matches_nothing_in_the_real_freeswitch_log() {
    let test = "the_stock_fail2ban_freeswitch_filter_matches_nothing_in_the_real_freeswitch_log";
    if !fail2ban::require(test) {
        return;
    }
    let Some(lab) = lab(test) else {
        return;
    };
    let tree = logging_tree();
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let f2b = fail2ban::Fail2ban::start(
        &lab,
        "fw",
        &fail2ban::Jail {
            logpath: &fs.log_file(),
            maxretry: 5,
            fix_cpu_field: false,
        },
    );
    run_tool(
        &lab,
        &["sipvicious_svcrack", "-u1000", "-r2000-2019", "192.0.2.1"],
        30,
    );
    // FreeSWITCH logged every guess; fail2ban had them all to read.
    assert!(
        lab.wait_for(Duration::from_secs(5), || logged_failures(&fs) >= 20),
        "FreeSWITCH did not log the failures:\n{}",
        fs.log_tail(20)
    );
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(f2b.failures(), 0, "{}", f2b.log());
    assert!(!f2b.banned(ATTACKER), "{}", f2b.log());
}

#[test]
fn fail2ban_with_the_cpu_field_let_through_bans_svcrack_against_the_real_freeswitch() {
    let test = "fail2ban_with_the_cpu_field_let_through_bans_svcrack_against_the_real_freeswitch";
    if !fail2ban::require(test) {
        return;
    }
    let Some(lab) = lab(test) else {
        return;
    };
    let tree = logging_tree();
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let f2b = fail2ban::Fail2ban::start(
        &lab,
        "fw",
        &fail2ban::Jail {
            logpath: &fs.log_file(),
            maxretry: 5,
            fix_cpu_field: true,
        },
    );
    count_on_the_wire_and_let_through(&lab);
    let attack = lab.spawn(
        "attacker",
        &["sipvicious_svcrack", "-u1000", "-r2000-9999", "192.0.2.1"],
    );
    let got = lab.wait_for(Duration::from_secs(30), || f2b.banned(ATTACKER));
    drop(attack);
    assert!(
        got,
        "fail2ban did not ban svcrack\n{}\n{}",
        f2b.log(),
        fs.log_tail(20)
    );
    assert!(f2b.failures() >= 5, "{}", f2b.log());
    // After the ban nothing of the attacker's gets through to FreeSWITCH.
    let (wire, reached) = (on_the_wire(&lab), lab.counts("fw")[0]);
    assert!(reached > 0, "the attack never reached FreeSWITCH: vacuous");
    run_tool(
        &lab,
        &["sipvicious_svcrack", "-u1000", "-r3000-3010", "192.0.2.1"],
        8,
    );
    assert!(
        on_the_wire(&lab) > wire,
        "no attacker packet sent after the ban"
    );
    assert_eq!(lab.counts("fw")[0], reached, "{}", f2b.log());
}
