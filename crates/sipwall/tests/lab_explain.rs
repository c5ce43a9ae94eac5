//! Issue 17's `sipwall bans explain ADDR` in the real kernel: svmap and a
//! brute force from the lab's attacker, an allowlisted scanner and an
//! observing daemon, each explained in text and JSON by the running
//! daemon (the detector, its threshold, the requests that counted, the
//! step), and from the ledger file alone once the daemon is gone; and an
//! address a feed lists, or a CrowdSec decision (Debian's crowdsec in the
//! lab) holds, explained by the list's entry.

#[path = "lab/crowdsec.rs"]
mod crowdsec;
mod lab;

use lab::{Background, Lab};
use std::path::PathBuf;
use std::time::Duration;

const SIP_ONLY: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n";
const ATTACKER: &str = "192.0.2.66";

/// The SIPp responder of the lab captures (OPTIONS 200, REGISTER 401, a
/// REGISTER with credentials 403, else 404).
fn responder(lab: &Lab) -> Background {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/captures/responder.xml");
    lab.spawn(
        "fw",
        &[
            "sipp",
            "-sf",
            scenario,
            "-i",
            "192.0.2.1",
            "-p",
            "5060",
            "-nostdin",
        ],
    )
}

/// `sipwall bans explain ATTACKER --json` in the lab.
fn explain_json(lab: &Lab) -> serde_json::Value {
    let out = lab.sipwall("fw", &["bans", "explain", ATTACKER, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// `sipwall bans explain ATTACKER` (text) in the lab.
fn explain_text(lab: &Lab) -> String {
    let out = lab.sipwall("fw", &["bans", "explain", ATTACKER]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A lab with the responder and a daemon under `policy`.
fn guarded(test: &str, policy: &str, tools: &[&str]) -> Option<(Lab, Background, Background)> {
    let lab = Lab::up(test, tools)?;
    let path: PathBuf = lab.apply_policy(policy);
    let server = responder(&lab);
    let log = lab.state.path().join("daemon.log");
    let daemon = lab.start_daemon(&log, &["-c", path.to_str().unwrap()]);
    Some((lab, server, daemon))
}

/// Waits until the explanation's newest decision stands as `standing`.
fn wait_decision(lab: &Lab, standing: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let seen = lab.wait_for(Duration::from_secs(15), || {
        last = explain_json(lab);
        last["decisions"][0]["standing"] == standing
    });
    assert!(seen, "no {standing} decision: {last:#}");
    last
}

#[test]
fn svmap_is_explained_by_the_daemon_and_from_the_ledger_once_it_is_gone() {
    let Some((lab, _server, daemon)) =
        guarded("explain_svmap", SIP_ONLY, &["sipp", "sipvicious_svmap"])
    else {
        return;
    };
    lab.run(
        "attacker",
        &["timeout", "60", "sipvicious_svmap", "192.0.2.1"],
    );
    let e = wait_decision(&lab, "banned");
    assert_eq!(e["live"], true, "{e:#}");
    assert_eq!(e["banned_now"], true, "{e:#}");
    let d = &e["decisions"][0];
    assert_eq!(d["kind"], "scanner", "{e:#}");
    assert!(d["until"].as_u64() > d["since"].as_u64(), "{e:#}");
    let x = &d["detail"];
    assert_eq!(x["detector"], "scanner", "{e:#}");
    assert_eq!(x["threshold"], 1, "{e:#}");
    assert_eq!(x["offence"], 1, "{e:#}");
    assert_eq!(x["length_secs"], 3600, "the policy's first ban time: {e:#}");
    let counted = x["counted"].as_array().expect("counted requests");
    assert_eq!(counted.len(), 1, "{e:#}");
    assert_eq!(counted[0]["method"], "OPTIONS", "{e:#}");
    assert!(
        counted[0]["account"]
            .as_str()
            .is_some_and(|a| a.contains("192.0.2.1")),
        "the Request-URI svmap probed: {e:#}"
    );
    assert_eq!(e["lists_checked"], true, "{e:#}");
    assert_eq!(e["lists"], serde_json::json!([]), "{e:#}");
    let text = explain_text(&lab);
    for part in [
        "192.0.2.66: banned now",
        "BANNED: scanner: User-Agent \"friendly-scanner\"",
        "threshold  1 one request",
        "first offence, 1h",
        "OPTIONS",
        "ends ",
        "external lists: in none",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    // No daemon: the ledger file alone, read-only, and the answer says so.
    drop(daemon);
    let e = explain_json(&lab);
    assert_eq!(e["live"], false, "{e:#}");
    assert!(e["banned_now"].is_null(), "{e:#}");
    assert_eq!(e["lists_checked"], false, "{e:#}");
    assert_eq!(e["decisions"][0]["detail"]["detector"], "scanner", "{e:#}");
    assert!(
        e["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("no daemon answered")),
        "{e:#}"
    );
    let text = explain_text(&lab);
    assert!(text.contains("banned (per the ledger)"), "{text}");
    assert!(text.contains("the live part"), "{text}");
}

/// REGISTERs with credentials (no scanner's User-Agent or From tag), each
/// answered 403 by the responder: a brute force only its answers reveal.
fn brute_force(lab: &Lab, attempts: u32) {
    let script = [
        "import socket, sys",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "s.settimeout(1.0)",
        "s.bind(('192.0.2.66', 5070))",
        "auth = 'Authorization: Digest username=\"100\", realm=\"192.0.2.1\", nonce=\"x\", uri=\"sip:192.0.2.1\", response=\"0123456789abcdef0123456789abcdef\"\\r\\n'",
        "for i in range(int(sys.argv[1])):",
        "    m = ('REGISTER sip:192.0.2.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 192.0.2.66:5070;branch=z9hG4bK-bf%d\\r\\nFrom: <sip:100@192.0.2.1>;tag=bf%d\\r\\nTo: <sip:100@192.0.2.1>\\r\\nCall-ID: bf%d@192.0.2.66\\r\\nCSeq: 1 REGISTER\\r\\nMax-Forwards: 70\\r\\nUser-Agent: Zoiper\\r\\n' % (i, i, i) + auth + 'Content-Length: 0\\r\\n\\r\\n').encode()",
        "    s.sendto(m, ('192.0.2.1', 5060))",
        "    try:",
        "        print(s.recv(4096).split(b'\\r\\n')[0].decode())",
        "    except socket.timeout:",
        "        print('no answer')",
    ]
    .join("\n");
    let out = lab.run(
        "attacker",
        &["python3", "-c", &script, &attempts.to_string()],
    );
    eprintln!(
        "brute force: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_brute_force_is_explained_by_its_failed_registrations_with_account_and_answer() {
    let Some((lab, _server, _daemon)) = guarded("explain_brute", SIP_ONLY, &["sipp", "python3"])
    else {
        return;
    };
    brute_force(&lab, 6);
    let e = wait_decision(&lab, "banned");
    let d = &e["decisions"][0];
    assert_eq!(d["kind"], "brute-force", "{e:#}");
    let x = &d["detail"];
    assert_eq!(x["threshold"], 5, "{e:#}");
    assert_eq!(x["window_ms"], 60_000, "{e:#}");
    assert!(x["rule"]
        .as_str()
        .unwrap()
        .contains("failed authentications"));
    let counted = x["counted"].as_array().expect("counted requests");
    assert!(counted.len() >= 5, "{e:#}");
    for c in counted {
        assert_eq!(c["method"], "REGISTER", "{e:#}");
        assert_eq!(c["account"], "100@192.0.2.1", "{e:#}");
        assert_eq!(c["answer"], 403, "{e:#}");
    }
    let text = explain_text(&lab);
    assert!(
        text.contains("BANNED: brute force (100@192.0.2.1)"),
        "{text}"
    );
    assert!(text.contains("threshold  5 within 1m"), "{text}");
    assert!(text.contains("REGISTER  100@192.0.2.1  403"), "{text}");
}

#[test]
fn an_allowlisted_scanner_is_explained_as_would_have_banned() {
    let policy =
        format!("[zones]\ntesters = [\"{ATTACKER}\"]\n[guard]\nallow = [\"testers\"]\n{SIP_ONLY}");
    let Some((lab, _server, _daemon)) =
        guarded("explain_allowed", &policy, &["sipp", "sipvicious_svmap"])
    else {
        return;
    };
    lab.run(
        "attacker",
        &["timeout", "60", "sipvicious_svmap", "192.0.2.1"],
    );
    let e = wait_decision(&lab, "would-ban-shielded");
    assert_eq!(e["banned_now"], false, "{e:#}");
    let d = &e["decisions"][0];
    assert_eq!(d["kind"], "scanner", "{e:#}");
    assert_eq!(d["ended_by"], "not banned: allowlisted", "{e:#}");
    assert_eq!(d["detail"]["shield"], "allowlisted", "{e:#}");
    assert_eq!(
        d["detail"]["length_secs"], 3600,
        "the ban it would have got"
    );
    assert!(!lab.banned("fw", ATTACKER));
    let text = explain_text(&lab);
    assert!(text.contains("not banned now"), "{text}");
    assert!(
        text.contains("WOULD HAVE BANNED (a shield stopped it)"),
        "{text}"
    );
    assert!(text.contains("shield     allowlisted"), "{text}");
}

#[test]
fn an_observing_daemons_would_be_ban_is_explained() {
    let policy = format!("[guard]\nmode = \"observe\"\n{SIP_ONLY}");
    let Some((lab, _server, _daemon)) =
        guarded("explain_observe", &policy, &["sipp", "sipvicious_svmap"])
    else {
        return;
    };
    lab.run(
        "attacker",
        &["timeout", "60", "sipvicious_svmap", "192.0.2.1"],
    );
    let e = wait_decision(&lab, "would-ban-observed");
    assert_eq!(e["guard_mode"], "observe", "{e:#}");
    assert_eq!(e["banned_now"], false, "never in the kernel: {e:#}");
    let d = &e["decisions"][0];
    assert_eq!(d["detail"]["detector"], "scanner", "{e:#}");
    assert_eq!(d["detail"]["counted"][0]["method"], "OPTIONS", "{e:#}");
    assert!(lab.set_elements("fw", "ban_v4").is_empty());
    let text = explain_text(&lab);
    assert!(
        text.contains("WOULD HAVE BANNED (observe mode: never in the kernel)"),
        "{text}"
    );
}

#[test]
fn an_address_a_feed_lists_is_explained_by_the_feed_and_its_entry() {
    let Some(lab) = Lab::up("explain_feed", &[]) else {
        return;
    };
    let list = lab.state.path().join("voipbl.txt");
    std::fs::write(&list, "# VoIPBL\n192.0.2.0/24\n").unwrap();
    let policy = format!(
        "[zones]\ntrunk = [\"192.0.2.2\"]\n[guard]\nallow = [\"trunk\"]\n{SIP_ONLY}\
         [[feeds]]\nname = \"voipbl\"\nkind = \"list\"\nfile = \"{}\"\n",
        list.display()
    );
    let path = lab.apply_policy(&policy);
    let feeds_dir = lab.state.path().join("feeds");
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(
        &log,
        &[
            "-c",
            path.to_str().unwrap(),
            "--feeds-dir",
            feeds_dir.to_str().unwrap(),
        ],
    );
    let mut e = serde_json::Value::Null;
    let listed = lab.wait_for(Duration::from_secs(15), || {
        e = explain_json(&lab);
        e["lists"].as_array().is_some_and(|l| !l.is_empty())
    });
    assert!(listed, "{e:#}");
    assert_eq!(e["lists_checked"], true, "{e:#}");
    assert_eq!(e["lists"][0]["list"], "feed voipbl", "{e:#}");
    assert_eq!(e["lists"][0]["net"], "192.0.2.0/24", "{e:#}");
    assert!(
        e["decisions"].as_array().unwrap().is_empty(),
        "no ban of its own: {e:#}"
    );
    let text = explain_text(&lab);
    assert!(
        text.contains("external list feed voipbl: 192.0.2.0/24"),
        "{text}"
    );
    // The allowlisted trunk is in the listed /24 but in no set: said so.
    let out = lab.sipwall("fw", &["bans", "explain", "192.0.2.2", "--json"]);
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["lists"][0]["net"], "192.0.2.0/24", "{t:#}");
    assert!(
        t["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("allowlisted")),
        "{t:#}"
    );
}

#[test]
fn an_address_a_crowdsec_decision_holds_is_explained_by_the_decision() {
    let test = "an_address_a_crowdsec_decision_holds_is_explained_by_the_decision";
    if !crowdsec::require(test) {
        return;
    }
    let Some(lab) = Lab::up("explain_crowdsec", &[]) else {
        return;
    };
    let lapi = crowdsec::Lapi::start(&lab);
    let key = lab.state.path().join("crowdsec.key");
    std::fs::write(&key, format!("{}\n", lapi.add_bouncer("sipwall-explain"))).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let policy = format!(
        "{SIP_ONLY}[crowdsec]\nlapi = \"{}\"\nkey_file = \"{}\"\nmachine_file = \"{}\"\npull_interval = \"1s\"\npush = false\n",
        crowdsec::URL,
        key.display(),
        lab.state.path().join("none.yaml").display()
    );
    let path = lab.apply_policy(&policy);
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["-c", path.to_str().unwrap()]);
    lapi.add_decision(ATTACKER, "1h");
    let mut e = serde_json::Value::Null;
    let listed = lab.wait_for(Duration::from_secs(15), || {
        e = explain_json(&lab);
        e["lists"].as_array().is_some_and(|l| !l.is_empty())
    });
    assert!(
        listed,
        "{e:#}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let m = &e["lists"][0];
    assert_eq!(m["list"], "crowdsec", "{e:#}");
    assert_eq!(m["net"], "192.0.2.66/32", "{e:#}");
    assert!(
        m["detail"].as_str().is_some_and(|d| d.contains("cscli")),
        "the decision's origin: {e:#}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let until = m["until"].as_u64().expect("a decision ends");
    assert!(
        until > now + 3500 && until <= now + 3600,
        "{until} vs {now}"
    );
    let text = explain_text(&lab);
    assert!(
        text.contains("external list crowdsec: 192.0.2.66/32 (crowdsec: cscli lab, until "),
        "{text}"
    );
    assert!(
        text.contains("not banned by the guard now; an external list holds it"),
        "{text}"
    );
}
