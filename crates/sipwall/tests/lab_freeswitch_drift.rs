//! Issue 14, item 5, against the real FreeSWITCH: the daemon's cross-check
//! (`sofia xmlstatus` over the event socket, against the policy's SIP
//! ports) catches a profile moved under it. The internal profile's port is
//! changed in the running tree and the profile restarted; `sipwall status`
//! shows the drift within the cross-check interval.

#[path = "lab/freeswitch.rs"]
mod freeswitch;
mod lab;

use freeswitch::{FreeSwitch, Tree};
use lab::Lab;
use serde_json::Value;
use std::time::{Duration, Instant};

const VANILLA_PROFILES: [&str; 4] = ["internal", "external", "internal-ipv6", "external-ipv6"];

/// Short, so that the test waits seconds, not the default minute.
const EVERY: Duration = Duration::from_secs(2);

#[test]
fn a_profile_moved_and_restarted_shows_as_drift_within_the_cross_check_interval() {
    let test = "a_profile_moved_and_restarted_shows_as_drift_within_the_cross_check_interval";
    if !freeswitch::require(test) {
        return;
    }
    let Some(lab) = Lab::up(test, &["ss"]) else {
        return;
    };
    let tree = Tree::vanilla();
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let out = std::process::Command::new(lab::sipwall())
        .args(["discover", "freeswitch"])
        .arg(fs.conf())
        .args(["--format", "toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let policy = lab.apply_policy(&String::from_utf8(out.stdout).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let every = format!("{}s", EVERY.as_secs());
    let _daemon = freeswitch::start_guard(
        &lab,
        &dir,
        &policy,
        &log,
        &["--esl-crosscheck-every", &every],
    );
    let daemon_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let ports = || -> Value {
        let out = lab.sipwall("fw", &["status", "--format", "json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)["freeswitch_ports"]
            .clone()
    };
    // The baseline: the policy derived from this tree agrees with it.
    assert!(
        lab.wait_for(Duration::from_secs(15), || ports()["checked"] == true),
        "never cross-checked:\n{}",
        daemon_log()
    );
    let before = ports();
    assert_eq!(
        before["live_not_in_policy"],
        serde_json::json!([]),
        "{before}"
    );
    assert_eq!(before["policy_not_live"], serde_json::json!([]), "{before}");

    // Moved in the running tree, the profile restarted on it.
    let vars = fs.conf().join("vars.xml");
    let text = std::fs::read_to_string(&vars).unwrap();
    let from = "data=\"internal_sip_port=5060\"";
    assert!(text.contains(from));
    std::fs::write(&vars, text.replace(from, "data=\"internal_sip_port=5062\"")).unwrap();
    assert!(fs.cli("reloadxml").contains("+OK"));
    // mod_sofia refuses to restart a profile up for less than 10 s.
    let mut restart = String::new();
    let accepted = lab.wait_for(Duration::from_secs(20), || {
        restart = fs.cli("sofia profile internal restart");
        let refused = restart.contains("must be up");
        if refused {
            std::thread::sleep(Duration::from_millis(500));
        }
        !refused
    });
    assert!(accepted, "{restart}");
    let moved = lab.wait_for(Duration::from_secs(30), || {
        let l = fs.listening();
        l.contains(&("udp".into(), "192.0.2.1".into(), 5062))
            && !l.contains(&("udp".into(), "192.0.2.1".into(), 5060))
    });
    assert!(
        moved,
        "internal never moved to 5062: {restart}\n{}\n{:?}\n{}",
        fs.cli("sofia status"),
        fs.listening(),
        fs.log_tail(60)
    );
    let restarted = Instant::now();
    let drift = lab.wait_for(EVERY * 3, || {
        ports()["live_not_in_policy"]
            .as_array()
            .is_some_and(|l| l.iter().any(|p| p == "internal 5062"))
    });
    let took = restarted.elapsed();
    let after = ports();
    assert!(
        drift,
        "no drift in `sipwall status` {took:?} after the restart: {after}\n{}",
        daemon_log()
    );
    // One interval, and the time FreeSWITCH takes to answer, at most.
    assert!(took <= EVERY + Duration::from_secs(2), "{took:?}");
    eprintln!(
        "drift shown {took:?} after the profile listened on its new port (interval {EVERY:?})"
    );
    // 5060 is still internal-ipv6's: no hole to report.
    assert_eq!(after["policy_not_live"], serde_json::json!([]), "{after}");
    assert!(
        daemon_log().contains("FreeSWITCH listens elsewhere than the policy says"),
        "{}",
        daemon_log()
    );
}
