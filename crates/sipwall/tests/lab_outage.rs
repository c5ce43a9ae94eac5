//! Issue 13, item 9, in the real kernel: pinhole mode with the daemon
//! killed (`kill -9`). A new plain-SIP call must still get its media (the
//! kernel's SIP helper, assigned to plain SIP as the fallback, makes its
//! RTP RELATED); after a restart, pinholes work again, and the time until
//! they do is printed (it bounds the outage of calls the kernel cannot
//! read, such as TLS).

mod lab;

use lab::{Background, Lab};
use std::path::Path;
use std::time::{Duration, Instant};

const PINHOLE: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.ssh]\nkind = \"ssh\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n";

fn spawn_daemon(lab: &Lab, policy: &Path, log: &Path) -> Background {
    let child = lab
        .cmd("fw", lab::sipwall())
        .args(["run", "-c", policy.to_str().unwrap(), "--metrics", "off"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Background(child)
}

fn intake_up(lab: &Lab) -> bool {
    lab.run("fw", &["nft", "list", "table", "inet", "sipwall_intake"])
        .status
        .success()
}

/// RTP packets (accepted by the firewall, sent by the peer) so far.
fn rtp(lab: &Lab) -> (u64, u64) {
    (lab.counts("fw")[0], lab.counts("peer")[0])
}

/// One short call (SIPp's plain uac: SDP, no RTP) from the peer.
fn short_call(lab: &Lab) -> bool {
    lab.cmd("peer", "timeout")
        .args([
            "10",
            "sipp",
            "-sn",
            "uac",
            "192.0.2.1:5060",
            "-i",
            "192.0.2.2",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "5",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn after_kill_9_a_new_plain_sip_call_still_gets_its_media_and_pinholes_return_after_restart() {
    let Some(lab) = Lab::up("outage", &["sipp"]) else {
        return;
    };
    let policy = lab.apply_policy(PINHOLE);
    lab.counters(
        "fw",
        "input",
        &["ip saddr 192.0.2.2 udp dport 20000 counter"],
    );
    lab.counters("peer", "output", &["udp dport 20000 counter"]);
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    let log = lab.state.path().join("daemon.log");
    let mut daemon = spawn_daemon(&lab, &policy, &log);
    assert!(
        lab.wait_for(Duration::from_secs(10), || intake_up(&lab)),
        "the daemon started: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // With the daemon: a call and its media.
    assert!(
        lab.sipp_call("192.0.2.2", "192.0.2.1:5060", "u1"),
        "a call with the daemon"
    );
    let (got, sent) = rtp(&lab);
    assert!(
        sent > 200 && got == sent,
        "RTP with the daemon: {got}/{sent}"
    );

    // kill -9: nothing cleans up, nothing reads the intake.
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    let killed = Instant::now();
    // Another local media port: the first call's RTP flow is still in
    // conntrack (ESTABLISHED), and a new call must not ride on it.
    assert!(
        lab.sipp_call_with("192.0.2.2", "192.0.2.1:5060", "u1", &["-mp", "7000"]),
        "a new call while the daemon is down"
    );
    let (got2, sent2) = rtp(&lab);
    let (got2, sent2) = (got2 - got, sent2 - sent);
    eprintln!("outage: a new call during the outage: {got2}/{sent2} RTP packets accepted");
    assert!(
        sent2 > 200 && got2 == sent2,
        "the new call's RTP passed with no daemon (RELATED through the SIP helper): {got2}/{sent2}"
    );
    let table = lab.sipwall_table("fw").unwrap();
    assert!(
        !table
            .lines()
            .skip_while(|l| !l.contains("set pinhole_port"))
            .take_while(|l| !l.contains("chain "))
            .any(|l| l.contains("20000")),
        "no pinhole made it (nobody to make one):\n{table}"
    );

    // Restart: how long until a new call gets a pinhole again?
    let log2 = lab.state.path().join("daemon2.log");
    let restarted = Instant::now();
    let _daemon = spawn_daemon(&lab, &policy, &log2);
    let mut calls = 0;
    let pinholes_back = loop {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "no pinhole within 30 s of the restart:\n{}",
            std::fs::read_to_string(&log2).unwrap_or_default()
        );
        short_call(&lab);
        calls += 1;
        if std::fs::read_to_string(&log2)
            .unwrap_or_default()
            .contains("pinhole open")
        {
            break restarted.elapsed();
        }
    };
    let ready = {
        // When the intake was back, for the record (it is by now).
        assert!(intake_up(&lab));
        restarted.elapsed()
    };
    eprintln!(
        "outage: daemon down {:.1?} in this test; after the restart, pinholes worked again within {pinholes_back:.2?} \
         ({calls} short calls tried; intake up, checked at {ready:.2?})",
        restarted - killed,
    );
    // And the media of a full call goes through the restarted daemon's pinholes.
    assert!(lab.sipp_call_with("192.0.2.2", "192.0.2.1:5060", "u1", &["-mp", "8000"]));
    let (got3, sent3) = rtp(&lab);
    assert_eq!(got3, sent3, "RTP after the restart");
}
