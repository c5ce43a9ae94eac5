//! Issue 17, "CrowdSec, both ways": Debian's CrowdSec 1.4.6 runs its
//! local API in the lab (tests/lab/crowdsec.rs) and sipwall speaks to it
//! as a bouncer (decisions pulled into kernel sets of their own) and as a
//! watcher (its own bans pushed as alerts).

#[path = "lab/crowdsec.rs"]
mod crowdsec;
mod lab;

use crowdsec::Lapi;
use lab::Lab;
use sipwall_blocklist::lapi;
use std::time::{Duration, SystemTime};

fn lab(test: &str) -> Option<Lab> {
    if !crowdsec::require(test) {
        return None;
    }
    Lab::up(test, &["curl"])
}

/// `curl ARGS` from `node`; the body, with the status code on the last line.
fn curl(lab: &Lab, node: &str, args: &[&str]) -> (u16, Vec<u8>) {
    let out = lab
        .cmd(node, "curl")
        .args(["-s", "-m", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let mut body = out.stdout;
    let split = body.iter().rposition(|&b| b == b'\n').unwrap_or(0);
    let code = String::from_utf8_lossy(&body[split..])
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(split);
    (code, body)
}

/// What the real LAPI sends is what the decoder reads, and what the
/// encoder writes is what the real LAPI takes: a decision added with
/// cscli comes out of the stream decoded; an alert encoded by
/// `lapi::Alert` is accepted and its decision then shows in the stream
/// with origin `sipwall`; a deletion shows under `deleted`.
#[test]
fn the_real_lapi_speaks_the_shapes_sipwall_decodes_and_encodes() {
    let Some(lab) = lab("the_real_lapi_speaks_the_shapes_sipwall_decodes_and_encodes") else {
        return;
    };
    let lapi = Lapi::start(&lab);
    let key = lapi.add_bouncer("sipwall-a");
    let creds = lab.state.path().join("machine.yaml");
    lapi.add_machine("host-a", "host-a-password-0123456789", &creds);
    lapi.add_decision("203.0.113.9", "1h");
    lapi.add_decision("198.51.100.0/24", "2h");

    let header = format!("X-Api-Key: {key}");
    let stream = format!("{}/v1/decisions/stream?startup=true", crowdsec::URL);
    let (code, body) = curl(&lab, "fw", &["-H", &header, &stream]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let s = lapi::Stream::decode(&body).unwrap();
    let mut nets: Vec<String> = s.new.iter().map(|d| d.net.to_string()).collect();
    nets.sort();
    assert_eq!(nets, ["198.51.100.0/24", "203.0.113.9/32"]);
    assert!(s.new.iter().all(|d| d.origin == "cscli"));
    let ttl = s.new.iter().find(|d| d.net.prefix_len() == 32).unwrap().ttl;
    assert!(
        ttl > Duration::from_secs(3500) && ttl <= Duration::from_secs(3600),
        "{ttl:?}"
    );

    // A bad key is refused with 403, which the daemon reports.
    let (code, _) = curl(&lab, "fw", &["-H", "X-Api-Key: wrong", &stream]);
    assert_eq!(code, 403);

    // The watcher: login, then one alert of ours.
    let login = lapi::Login {
        machine_id: "host-a".into(),
        password: "host-a-password-0123456789".into(),
        scenarios: vec!["sipwall/scanner".into()],
    };
    let login_url = format!("{}/v1/watchers/login", crowdsec::URL);
    let body = serde_json::to_string(&login).unwrap();
    let (code, answer) = curl(
        &lab,
        "fw",
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
            &login_url,
        ],
    );
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&answer));
    let token = lapi::decode_login(&answer).unwrap();
    let wrong = body.replace("0123456789", "nope");
    let (code, _) = curl(
        &lab,
        "fw",
        &[
            "-H",
            "Content-Type: application/json",
            "-d",
            &wrong,
            &login_url,
        ],
    );
    assert_eq!(code, 401, "a refused login is a 401");

    let now = SystemTime::now();
    let ban = lapi::Ban {
        net: "192.0.2.66/32".parse().unwrap(),
        detector: "scanner".into(),
        duration: Duration::from_secs(600),
        at: now,
        since: now - Duration::from_secs(1),
        events: 3,
        threshold: 1,
        window: Duration::from_secs(60),
        meta: vec![
            ("method".into(), "OPTIONS".into()),
            ("user_agent".into(), "friendly-scanner".into()),
            ("reason".into(), "a scanner's User-Agent".into()),
        ],
    };
    let alerts = String::from_utf8(lapi::encode_alerts(&[lapi::Alert::of(&ban)])).unwrap();
    let bearer = format!("Authorization: Bearer {}", token.0);
    let (code, answer) = curl(
        &lab,
        "fw",
        &[
            "-H",
            &bearer,
            "-H",
            "Content-Type: application/json",
            "-d",
            &alerts,
            &format!("{}/v1/alerts", crowdsec::URL),
        ],
    );
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&answer));
    let ids = lapi::decode_alert_ids(&answer).unwrap();
    assert_eq!(ids.len(), 1);

    // Without startup: only what changed since the last pull.
    lapi.delete_decision("203.0.113.9");
    let since = format!("{}/v1/decisions/stream", crowdsec::URL);
    let (code, body) = curl(&lab, "fw", &["-H", &header, &since]);
    assert_eq!(code, 200);
    let s = lapi::Stream::decode(&body).unwrap();
    let new: Vec<(String, String, String)> = s
        .new
        .iter()
        .map(|d| (d.net.to_string(), d.origin.clone(), d.scenario.clone()))
        .collect();
    assert_eq!(
        new,
        [(
            "192.0.2.66/32".to_owned(),
            "sipwall".to_owned(),
            "sipwall/scanner".to_owned()
        )],
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(s.new[0].ttl > Duration::from_secs(590) && s.new[0].ttl <= Duration::from_secs(600));
    let deleted: Vec<String> = s.deleted.iter().map(|d| d.net.to_string()).collect();
    assert_eq!(
        deleted,
        ["203.0.113.9/32"],
        "{}",
        String::from_utf8_lossy(&body)
    );

    // The alert's SIP context is stored with it.
    let stored = lapi.alerts().to_string();
    assert!(stored.contains("friendly-scanner"), "{stored}");
    assert!(stored.contains("sipwall/scanner"), "{stored}");
}

/// The pull interval of the lab's daemons.
const PULL: Duration = Duration::from_secs(2);
const ATTACKER: &str = "192.0.2.66";

/// One sipwall host of the lab: `fw` (host A) or `fwb` (host B), with its
/// own state directory (ledger, control socket, saved ruleset).
struct Host<'l> {
    lab: &'l Lab,
    node: &'static str,
    state: std::path::PathBuf,
    daemon: Option<lab::Background>,
    log: std::path::PathBuf,
    policy: std::path::PathBuf,
}

impl<'l> Host<'l> {
    /// Writes the host's credentials (the bouncer key `key`, machine
    /// `name`) and policy, and applies it.
    fn new(lab: &'l Lab, lapi: &Lapi, node: &'static str, key: Option<&str>) -> Host<'l> {
        let state = lab.state.path().join(node);
        std::fs::create_dir_all(&state).unwrap();
        let key_file = state.join("crowdsec.key");
        let key = key.map_or_else(
            || lapi.add_bouncer(&format!("sipwall-{node}")),
            str::to_owned,
        );
        secret(&key_file, &format!("{key}\n"));
        let machine_file = state.join("crowdsec-machine.yaml");
        lapi.add_machine(
            &format!("sipwall-{node}"),
            &format!("{node}-password-0123456789"),
            &machine_file,
        );
        set_mode(&machine_file);
        let policy = state.join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\n[crowdsec]\nlapi = \"{}\"\nkey_file = \"{}\"\nmachine_file = \"{}\"\npull_interval = \"{}s\"\n",
                crowdsec::URL,
                key_file.display(),
                machine_file.display(),
                PULL.as_secs()
            ),
        )
        .unwrap();
        if node != "fw" {
            lab.add_node(node);
        }
        let host = Host {
            lab,
            node,
            log: state.join("daemon.log"),
            state,
            daemon: None,
            policy,
        };
        let out = host.sipwall(&["apply", "-c", host.policy.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "apply on {node}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        host
    }

    fn sipwall(&self, args: &[&str]) -> std::process::Output {
        self.lab
            .cmd_in(self.node, lab::sipwall(), &self.state)
            .args(args)
            .output()
            .expect("sipwall")
    }

    /// Starts `sipwall run` and waits until it answers `status`.
    fn start(&mut self) {
        self.daemon = None;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = self
            .lab
            .cmd_in(self.node, lab::sipwall(), &self.state)
            .args(["run", "-c", self.policy.to_str().unwrap()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sipwall run");
        self.daemon = Some(lab::Background(child));
        let up = self.lab.wait_for(Duration::from_secs(20), || {
            self.sipwall(&["status"]).status.success()
        });
        assert!(
            up,
            "the daemon on {} did not start:\n{}",
            self.node,
            self.log_text()
        );
    }

    /// Stops the daemon with SIGTERM (a clean stop).
    fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &d.0.id().to_string()])
                .status();
            let _ = self.lab.wait_for(Duration::from_secs(10), || {
                d.0.try_wait().ok().flatten().is_some()
            });
        }
    }

    fn status(&self) -> serde_json::Value {
        let out = self.sipwall(&["status", "--format", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The elements of the host's CrowdSec sets of one family: addresses
    /// (`Ip` decisions) and networks (`Range` decisions).
    fn crowdsec_set(&self, v6: bool) -> Vec<String> {
        let (addrs, nets) = if v6 {
            ("crowdsec_v6", "crowdsec_net_v6")
        } else {
            ("crowdsec_v4", "crowdsec_net_v4")
        };
        let mut all = self.lab.set_elements(self.node, addrs);
        all.extend(self.lab.set_elements(self.node, nets));
        all
    }

    /// Whether the CrowdSec sets hold `elem` (`192.0.2.66` or `198.51.100.0/24`).
    fn drops(&self, elem: &str) -> bool {
        self.crowdsec_set(elem.contains(':'))
            .iter()
            .any(|e| e == elem)
    }

    /// Packets CrowdSec's drop rule counted.
    fn crowdsec_drops(&self) -> u64 {
        let t = self.lab.sipwall_table(self.node).unwrap_or_default();
        t.lines()
            .filter(|l| l.contains("@crowdsec_"))
            .flat_map(lab::packet_counts)
            .sum()
    }
}

/// Writes a credentials file as the daemon wants it: root's, mode 0600.
fn secret(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    set_mode(path);
}

fn set_mode(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Sends 5 OPTIONS from the attacker to `to`.
fn probe(lab: &Lab, to: &str) {
    let probe = format!("import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'OPTIONS sip:x@{to} SIP/2.0\\r\\n\\r\\n', ('{to}', 5060))");
    lab.ok("attacker", &["python3", "-c", &probe]);
}

/// tshark on `node`'s wire, for the time of the first SIP packet from the
/// attacker (seconds since the epoch, as tshark prints it).
fn first_packet_clock(lab: &Lab, node: &str) -> lab::Background {
    let out = lab.state.path().join(format!("{node}.first"));
    let file = std::fs::File::create(&out).unwrap();
    let child = lab
        .cmd(node, "tshark")
        .args([
            "-i",
            "eth0",
            "-c",
            "1",
            "-l",
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-f",
        ])
        .arg(format!("udp port 5060 and src host {ATTACKER}"))
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    lab::Background(child)
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn lab_two(test: &str) -> Option<Lab> {
    if !crowdsec::require(test) {
        return None;
    }
    Lab::up(test, &["curl", "sipvicious_svmap", "tshark", "python3"])
}

/// svmap against host A: A bans it, pushes the alert, and host B drops it
/// at its next pull; measured from the first packet at A to the element
/// in B's kernel. A does not add its own alert coming back to its
/// CrowdSec set; B drops the attacker's next packets by CrowdSec's rule.
#[test]
fn svmap_against_host_a_is_dropped_on_host_b_within_one_pull_interval() {
    let test = "svmap_against_host_a_is_dropped_on_host_b_within_one_pull_interval";
    let Some(lab) = lab_two(test) else {
        return;
    };
    let lapi = Lapi::start(&lab);
    let mut a = Host::new(&lab, &lapi, "fw", None);
    let mut b = Host::new(&lab, &lapi, "fwb", None);
    a.start();
    b.start();
    // B has made its first (startup) pull.
    assert!(
        lab.wait_for(Duration::from_secs(10), || b.status()["crowdsec"]["pulls"]
            .as_u64()
            > Some(0)),
        "{}",
        b.status()
    );
    let clock_dir = lab.state.path().join("fw.first");
    let _clock = first_packet_clock(&lab, "fw");
    std::thread::sleep(Duration::from_millis(1000)); // tshark listening
    let _attack = lab.spawn("attacker", &["sipvicious_svmap", "192.0.2.1"]);
    let on_b = lab.wait_for(Duration::from_secs(30), || b.drops(ATTACKER));
    let seen_b = SystemTime::now();
    assert!(
        on_b,
        "not on B; A's log:\n{}\nB's log:\n{}\nLAPI:\n{}",
        a.log_text(),
        b.log_text(),
        lapi.log()
    );
    assert!(lab.banned("fw", ATTACKER), "A banned it itself");
    let first: f64 = std::fs::read_to_string(&clock_dir)
        .unwrap_or_default()
        .trim()
        .parse()
        .expect("tshark saw the first packet");
    let took = epoch(seen_b) - first;
    eprintln!(
        "{test}: first packet at A -> element in B's kernel: {took:.3} s (pull interval {PULL:?})"
    );
    assert!(
        took < PULL.as_secs_f64() + 1.0,
        "{took:.3} s is over one pull interval ({PULL:?}) and a second of slack"
    );
    // The alert carried the SIP context, and A's own alert is not in A's CrowdSec set.
    let alerts = lapi.alerts().to_string();
    assert!(alerts.contains("sipwall/scanner"), "{alerts}");
    assert!(alerts.contains("OPTIONS"), "{alerts}");
    std::thread::sleep(PULL * 2);
    assert!(
        !a.drops(ATTACKER),
        "A's own alert came back into A's CrowdSec set"
    );
    // B drops what the attacker sends it.
    let before = b.crowdsec_drops();
    probe(&lab, "192.0.2.3");
    assert!(
        lab.wait_for(Duration::from_secs(5), || b.crowdsec_drops() >= before + 5),
        "B's CrowdSec rule did not drop the probe"
    );
    assert_eq!(a.status()["crowdsec"]["waiting"], 0, "{}", a.status());
    a.stop();
    b.stop();
}

/// `cscli decisions add` reaches both hosts' kernels within one pull
/// interval (measured), for an address and a range; `decisions delete`
/// lifts both on both.
#[test]
fn a_cscli_decision_reaches_both_hosts_and_its_deletion_lifts_it_on_both() {
    let test = "a_cscli_decision_reaches_both_hosts_and_its_deletion_lifts_it_on_both";
    let Some(lab) = lab_two(test) else {
        return;
    };
    let lapi = Lapi::start(&lab);
    let mut a = Host::new(&lab, &lapi, "fw", None);
    let mut b = Host::new(&lab, &lapi, "fwb", None);
    a.start();
    b.start();
    for h in [&a, &b] {
        assert!(
            lab.wait_for(Duration::from_secs(10), || h.status()["crowdsec"]["pulls"]
                .as_u64()
                > Some(0))
        );
    }
    let added = std::time::Instant::now();
    lapi.add_decision("203.0.113.7", "1h");
    lapi.add_decision("198.51.100.0/24", "1h");
    lapi.add_decision("2001:db8:77::/48", "1h");
    let mut worst = Duration::ZERO;
    for h in [&a, &b] {
        let got = lab.wait_for(Duration::from_secs(10), || {
            h.drops("203.0.113.7") && h.drops("198.51.100.0/24") && h.drops("2001:db8:77::/48")
        });
        assert!(
            got,
            "{}: {:?} {:?}\n{}",
            h.node,
            h.crowdsec_set(false),
            h.crowdsec_set(true),
            h.log_text()
        );
        worst = worst.max(added.elapsed());
    }
    eprintln!("{test}: cscli decisions add -> both kernels: {worst:?} (pull interval {PULL:?})");
    assert!(worst < PULL + Duration::from_secs(1), "{worst:?}");
    // CrowdSec's decisions are never pushed back as sipwall alerts.
    std::thread::sleep(PULL);
    assert!(lapi.decided("sipwall").is_empty(), "{}", lapi.decisions());
    // The remaining duration is the element's timeout.
    let table = lab.ok(
        "fwb",
        &["nft", "list", "set", "inet", "sipwall", "crowdsec_v4"],
    );
    assert!(table.contains("203.0.113.7 timeout"), "{table}");
    lapi.delete_decision("203.0.113.7");
    lapi.delete_decision("198.51.100.0/24");
    for h in [&a, &b] {
        let gone = lab.wait_for(PULL * 3, || {
            !h.drops("203.0.113.7") && !h.drops("198.51.100.0/24")
        });
        assert!(gone, "{}: {:?}", h.node, h.crowdsec_set(false));
        assert!(h.drops("2001:db8:77::/48"), "the other decision stays");
    }
    a.stop();
    b.stop();
}

/// LAPI killed during an attack: A still bans locally, its alert waits in
/// the ledger's outbox, through a restart of A's daemon too; when LAPI is
/// back the alert is pushed and B drops the attacker. A decision B held
/// before the outage stays in B's kernel meanwhile.
#[test]
fn lapi_killed_and_restarted_during_an_attack_loses_no_decision() {
    let test = "lapi_killed_and_restarted_during_an_attack_loses_no_decision";
    let Some(lab) = lab_two(test) else {
        return;
    };
    let mut lapi = Lapi::start(&lab);
    let mut a = Host::new(&lab, &lapi, "fw", None);
    let mut b = Host::new(&lab, &lapi, "fwb", None);
    a.start();
    b.start();
    lapi.add_decision("203.0.113.8", "1h");
    assert!(lab.wait_for(Duration::from_secs(10), || b.drops("203.0.113.8")));
    lapi.kill();
    let _attack = lab.spawn("attacker", &["sipvicious_svmap", "192.0.2.1"]);
    assert!(
        lab.wait_for(Duration::from_secs(15), || lab.banned("fw", ATTACKER)),
        "local guarding goes on without LAPI:\n{}",
        a.log_text()
    );
    assert!(
        lab.wait_for(Duration::from_secs(10), || a.status()["crowdsec"]
            ["waiting"]
            .as_u64()
            >= Some(1)),
        "{}",
        a.status()
    );
    let st = a.status();
    assert!(
        st["crowdsec"]["watcher"]
            .as_str()
            .unwrap_or("")
            .starts_with("unreachable"),
        "{st}"
    );
    // A's daemon restarts while LAPI is still down: the outbox is in the ledger.
    a.stop();
    a.start();
    std::thread::sleep(PULL * 2);
    assert!(
        b.drops("203.0.113.8"),
        "B keeps what it had while LAPI is down"
    );
    assert!(!b.drops(ATTACKER), "no LAPI, no way to B yet");
    lapi.restart();
    let got = lab.wait_for(Duration::from_secs(90), || b.drops(ATTACKER));
    assert!(
        got,
        "the alert kept through the outage did not reach B:\nA: {}\n{}\nB:\n{}",
        a.status(),
        a.log_text(),
        b.log_text()
    );
    assert!(
        lab.wait_for(Duration::from_secs(10), || a.status()["crowdsec"]
            ["waiting"]
            == 0)
    );
    assert!(b.drops("203.0.113.8"));
    a.stop();
    b.stop();
}

/// A bouncer key LAPI does not know and a machine password it refuses are
/// errors in `status` (and the log), naming the file to check; local
/// guarding is not touched.
#[test]
fn a_bad_bouncer_key_and_a_refused_login_show_in_status() {
    let test = "a_bad_bouncer_key_and_a_refused_login_show_in_status";
    let Some(lab) = lab_two(test) else {
        return;
    };
    let lapi = Lapi::start(&lab);
    let mut a = Host::new(&lab, &lapi, "fw", Some("notakeylapiknows0123456789"));
    // The machine exists, the password in the file is wrong.
    let machine = a.state.join("crowdsec-machine.yaml");
    let text = std::fs::read_to_string(&machine).unwrap();
    secret(
        &machine,
        &text.replace("fw-password-0123456789", "wrong-password-0123456789"),
    );
    a.start();
    let bouncer_error = || {
        a.status()["crowdsec"]["bouncer"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        lab.wait_for(Duration::from_secs(10), || bouncer_error()
            .starts_with("error:")),
        "{}",
        a.status()
    );
    let e = bouncer_error();
    assert!(
        e.contains("refused the bouncer key") && e.contains("crowdsec.key"),
        "{e}"
    );
    // The watcher logs in at start: refused, before any ban.
    let watcher = || {
        a.status()["crowdsec"]["watcher"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        lab.wait_for(Duration::from_secs(10), || watcher().starts_with("error:")),
        "{}",
        a.status()
    );
    let w = watcher();
    assert!(
        w.contains("refused the login") && w.contains("crowdsec-machine.yaml"),
        "{w}"
    );
    // A ban to push: still refused; the alert waits, the ban is made.
    let out = a.sipwall(&["bans", "add", "192.0.2.99"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.wait_for(Duration::from_secs(10), || a.status()["crowdsec"]
            ["waiting"]
            == 1),
        "{}",
        a.status()
    );
    assert!(watcher().contains("refused the login"), "{}", watcher());
    let log = a.log_text();
    assert!(log.contains("refused the bouncer key"), "{log}");
    assert!(lab.banned("fw", "192.0.2.99"), "the ban itself was made");
    a.stop();
}

/// A stand-in for LAPI in the `lapi` node: a startup pull gets the file
/// `body` (read at each request), a later one the file `body.changes`
/// when there is one, else no change. The time (seconds since the epoch)
/// each startup request came in is appended to `body.clock`.
fn fake_lapi(lab: &Lab, body: &std::path::Path) -> lab::Background {
    let server = format!(
        r#"
import http.server, os, time
BODY = {body:?}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if 'startup=true' in self.path:
            with open(BODY + '.clock', 'a') as f:
                f.write('%.6f\n' % time.time())
            out = open(BODY, 'rb').read()
        elif os.path.exists(BODY + '.changes'):
            out = open(BODY + '.changes', 'rb').read()
        else:
            out = b'{{"new":null,"deleted":null}}'
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('192.0.2.8', 8080), H).serve_forever()
"#,
        body = body.display().to_string(),
    );
    let server = lab.spawn(crowdsec::NODE, &["python3", "-c", &server]);
    let up = lab.wait_for(Duration::from_secs(10), || {
        lab.run(
            "fw",
            &[
                "curl",
                "-sf",
                "-o",
                "/dev/null",
                "http://192.0.2.8:8080/v1/decisions/stream",
            ],
        )
        .status
        .success()
    });
    assert!(up, "the fake LAPI did not start");
    server
}

/// Applies a bouncer-only policy on `fw` against [`crowdsec::URL`] and
/// starts its daemon; the daemon's log.
fn bouncer_only(lab: &Lab) -> (lab::Background, std::path::PathBuf) {
    let state = lab.state.path().join("fw");
    std::fs::create_dir_all(&state).unwrap();
    let key = state.join("crowdsec.key");
    secret(&key, "0123456789abcdef\n");
    let policy = state.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n\n[crowdsec]\nlapi = \"{}\"\nkey_file = \"{}\"\nmachine_file = \"{}\"\npull_interval = \"{}s\"\npush = false\n",
            crowdsec::URL,
            key.display(),
            state.join("none.yaml").display(),
            PULL.as_secs()
        ),
    )
    .unwrap();
    let out = lab.sipwall("fw", &["apply", "-c", policy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = state.join("daemon.log");
    let daemon = lab.start_daemon(&log, &["-c", policy.to_str().unwrap()]);
    (daemon, log)
}

fn decision(id: u32, scope: &str, value: &str) -> String {
    format!(
        r#"{{"duration":"1h","id":{id},"origin":"cscli","scenario":"lab","scope":"{scope}","type":"ban","value":"{value}"}}"#
    )
}

/// A LAPI answer with one malformed decision among good ones, and one over
/// the size bound, are refused whole: the CrowdSec sets keep exactly what
/// they held, and `status` says why. A good answer after them applies.
#[test]
fn a_malformed_or_oversized_lapi_answer_touches_no_set() {
    let test = "a_malformed_or_oversized_lapi_answer_touches_no_set";
    let Some(lab) = lab_two(test) else {
        return;
    };
    lab.add_node(crowdsec::NODE);
    let body = lab.state.path().join("stream.json");
    let good = format!(
        r#"{{"new":[{},{}],"deleted":null}}"#,
        decision(1, "Ip", "192.0.2.50"),
        decision(2, "Range", "198.51.100.0/24")
    );
    std::fs::write(&body, &good).unwrap();
    let _lapi = fake_lapi(&lab, &body);
    let (_daemon, log) = bouncer_only(&lab);
    let held = || {
        let mut s = lab.set_elements("fw", "crowdsec_v4");
        s.extend(lab.set_elements("fw", "crowdsec_net_v4"));
        s.sort();
        s
    };
    let both = vec!["192.0.2.50".to_owned(), "198.51.100.0/24".to_owned()];
    assert!(
        lab.wait_for(Duration::from_secs(10), || held() == both),
        "{:?}",
        held()
    );
    let bouncer = || {
        let out = lab.sipwall("fw", &["status", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["crowdsec"]["bouncer"].as_str().unwrap_or("").to_owned()
    };
    // One bad value among good ones (and nothing for the others to delete).
    let bad = format!(
        r#"{{"new":[{},{}],"deleted":[{}]}}"#,
        decision(3, "Ip", "192.0.2.51"),
        decision(4, "Ip", "192.0.2.300"),
        decision(1, "Ip", "192.0.2.50")
    );
    std::fs::write(body.with_extension("json.changes"), &bad).unwrap();
    std::fs::write(&body, &bad).unwrap();
    assert!(
        lab.wait_for(PULL * 3, || bouncer().starts_with("bad answer")),
        "{}",
        bouncer()
    );
    std::thread::sleep(PULL * 2);
    assert_eq!(held(), both, "a refused answer touched the set");
    assert!(bouncer().contains("192.0.2.300"), "{}", bouncer());
    // Over the bound: an empty list padded past 32 MiB would empty the set.
    let mut huge = br#"{"new":[],"deleted":null}"#.to_vec();
    huge.resize(33 << 20, b' ');
    std::fs::write(&body, &huge).unwrap();
    std::fs::remove_file(body.with_extension("json.changes")).unwrap();
    assert!(
        lab.wait_for(PULL * 5, || bouncer().contains("over")),
        "{}",
        bouncer()
    );
    assert_eq!(held(), both, "an oversized answer touched the set");
    // A good answer again: the startup pull replaces the list.
    std::fs::write(
        &body,
        format!(
            r#"{{"new":[{}],"deleted":null}}"#,
            decision(5, "Ip", "192.0.2.51")
        ),
    )
    .unwrap();
    assert!(
        lab.wait_for(PULL * 5, || held() == ["192.0.2.51"]),
        "{:?}\n{}",
        held(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(bouncer(), "ok");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("answer refused"), "{text}");
}

/// Issue 17's performance line: 100,000 decisions in the startup answer
/// are in the kernel in under a second (measured from the startup request
/// reaching LAPI to the last element in the kernel: the transfer, decoding,
/// the loop's cover and the netlink batches). The addresses are IPv6
/// (2001:db8::/32: the lab uses documentation addresses only). The bound
/// asserted is generous (the lab's daemon may be a debug build, on a
/// loaded machine); the release figure is in docs/performance.md.
#[test]
fn a_hundred_thousand_decisions_at_startup_reach_the_kernel() {
    let test = "a_hundred_thousand_decisions_at_startup_reach_the_kernel";
    let Some(lab) = lab_two(test) else {
        return;
    };
    lab.add_node(crowdsec::NODE);
    const N: u32 = 100_000;
    let body = lab.state.path().join("stream.json");
    let mut text = String::with_capacity(N as usize * 170);
    text.push_str(r#"{"new":["#);
    for i in 0..N {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"duration":"167h59m58.123456789s","id":{},"origin":"CAPI","scenario":"crowdsecurity/sip-bf","scope":"Ip","type":"ban","value":"2001:db8:{:x}:{:x}::1"}}"#,
            i + 1,
            1 + (i >> 16),
            i & 0xffff
        ));
    }
    text.push_str(r#"],"deleted":null}"#);
    std::fs::write(&body, &text).unwrap();
    let body_len = text.len();
    drop(text);
    let clock = lab.state.path().join("stream.json.clock");
    let _lapi = fake_lapi(&lab, &body);
    let (_daemon, log) = bouncer_only(&lab);
    // The largest address is in the last netlink batch; the smallest in the first.
    let last = format!(
        "2001:db8:{:x}:{:x}::1",
        1 + ((N - 1) >> 16),
        (N - 1) & 0xffff
    );
    let has = |addr: &str| {
        lab.run(
            "fw",
            &[
                "nft",
                "get",
                "element",
                "inet",
                "sipwall",
                "crowdsec_v6",
                &format!("{{ {addr} }}"),
            ],
        )
        .status
        .success()
    };
    // The loop logs when the list is in the kernel; polling the kernel
    // instead would time `nft` reading a set of 100,000.
    let written = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("list written whole"))
            .map(str::to_owned)
    };
    assert!(
        lab.wait_for(Duration::from_secs(60), || written().is_some()),
        "the list was never written:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let line = written().unwrap();
    let done = log_time(&line);
    let asked: f64 = std::fs::read_to_string(&clock)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let took = done - asked;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    for line in text
        .lines()
        .filter(|l| l.contains("startup stream read") || l.contains("list written"))
    {
        eprintln!("{test}: {line}");
    }
    eprintln!(
        "{test}: {N} decisions ({} bytes): startup request at LAPI -> all in the kernel: {took:.3} s",
        body_len
    );
    assert!(has(&last), "the last decision is in the kernel");
    assert!(has("2001:db8:1:0::1"), "the first one is there too");
    assert_eq!(lab.set_elements("fw", "crowdsec_v6").len(), N as usize);
    // A release build (CI's package, or SIPWALL_UNDER_TEST) is held to 3 s
    // (a second, three times over for a loaded machine); a debug build,
    // ten times slower at decoding, to 30 s.
    let release =
        std::env::var_os("SIPWALL_UNDER_TEST").is_some() || lab::sipwall().contains("/release/");
    let bound = if release { 3.0 } else { 30.0 };
    assert!(took < bound, "{took:.3} s (bound {bound} s)");
}

/// The time of a daemon log line (`ts=2026-12-06T21:11:20.287Z`), in
/// seconds since the epoch.
fn log_time(line: &str) -> f64 {
    let ts = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ts="))
        .expect("a ts field");
    let n = |a: usize, b: usize| ts[a..b].parse::<i64>().expect("a number");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs: f64 = ts[17..ts.len() - 1].parse().expect("seconds");
    (days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60) as f64 + secs
}

/// Issue 17's performance line: a decision on LAPI reaches the kernel of
/// every host within one pull interval (and the pull's own time). Five
/// decisions at different points of the hosts' pull cycles, each timed from
/// `cscli decisions add` returning to its element in each host's kernel
/// (polled without pause; one poll is a few ms of `nft`). The worst case
/// is printed; the bound asserted leaves room for a loaded machine.
#[test]
fn a_lapi_decision_reaches_every_kernel_within_one_pull_interval() {
    let test = "a_lapi_decision_reaches_every_kernel_within_one_pull_interval";
    let Some(lab) = lab_two(test) else {
        return;
    };
    let lapi = Lapi::start(&lab);
    let mut a = Host::new(&lab, &lapi, "fw", None);
    let mut b = Host::new(&lab, &lapi, "fwb", None);
    a.start();
    b.start();
    for h in [&a, &b] {
        assert!(
            lab.wait_for(Duration::from_secs(10), || h.status()["crowdsec"]["pulls"]
                .as_u64()
                > Some(0))
        );
    }
    let mut worst = Duration::ZERO;
    let mut all = Vec::new();
    for i in 0..5u32 {
        // Spread over the cycle: the previous decision was just seen, right
        // after a pull; wait 0, 0.4, ... 1.6 s of the 2 s interval.
        std::thread::sleep(PULL * i / 5);
        let addr = format!("203.0.113.{}", 20 + i);
        lapi.add_decision(&addr, "1h");
        let added = std::time::Instant::now();
        let mut seen = [None, None];
        while seen.iter().any(Option::is_none) && added.elapsed() < Duration::from_secs(15) {
            for (k, h) in [&a, &b].iter().enumerate() {
                if seen[k].is_none() && h.drops(&addr) {
                    seen[k] = Some(added.elapsed());
                }
            }
        }
        for (k, s) in seen.iter().enumerate() {
            let took = s.unwrap_or_else(|| panic!("{addr} never reached host {k}"));
            worst = worst.max(took);
            all.push(took.as_millis());
        }
    }
    eprintln!("{test}: decision -> kernel, ms, per decision and host: {all:?}; worst {worst:?} (pull interval {PULL:?})");
    assert!(worst < PULL + Duration::from_secs(1), "{worst:?}");
    a.stop();
    b.stop();
}
