//! Issue 17's HEP export in the lab: the daemon sends what the guard did
//! to a collector on the peer host. With Debian's `sngrep` listening for
//! HEP (`-L`), the scanner's OPTIONS the guard banned on shows up with its
//! Call-ID; with a collector of the test's own, every record is decoded:
//! the dropped OPTIONS as SIP, the ban and a call's pinholes as log
//! records, each filed under its call's Call-ID.

mod lab;

use lab::Lab;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COLLECTOR: &str = "192.0.2.2:9060";

fn policy(media: &str) -> String {
    format!(
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"{media}\"\n\
         [hep]\naddress = \"{COLLECTOR}\"\nid = 2017\n"
    )
}

/// A scanner's OPTIONS from the attacker, with `call_id`; the server
/// (SIPp on the firewall host) would answer it.
fn scan(lab: &Lab, call_id: &str) {
    let probe = [
        "import socket",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        "s.bind(('192.0.2.66', 5099))",
        &format!("m = b'OPTIONS sip:100@192.0.2.1 SIP/2.0\\r\\nVia: SIP/2.0/UDP 192.0.2.66:5099;branch=z9hG4bK-hep\\r\\nFrom: <sip:probe@192.0.2.66>;tag=1\\r\\nTo: <sip:100@192.0.2.1>\\r\\nCall-ID: {call_id}\\r\\nCSeq: 1 OPTIONS\\r\\nMax-Forwards: 70\\r\\nUser-Agent: friendly-scanner\\r\\nContent-Length: 0\\r\\n\\r\\n'"),
        "s.sendto(m, ('192.0.2.1', 5060))",
    ]
    .join("\n");
    lab.ok("attacker", &["python3", "-c", &probe]);
}

/// `sipwall status` in the lab, as JSON.
fn status(lab: &Lab) -> serde_json::Value {
    let out = lab.sipwall("fw", &["status", "--format", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

#[test]
fn sngrep_listening_for_hep_shows_the_banned_scanners_options_with_its_call_id() {
    let Some(lab) = Lab::up("hep-sngrep", &["sipp", "sngrep", "python3"]) else {
        return;
    };
    let path = lab.apply_policy(&policy("range"));
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    let pcap = lab.state.path().join("sngrep.pcap");
    let out = std::fs::File::create(lab.state.path().join("sngrep.out")).unwrap();
    let mut sngrep = lab
        .cmd("peer", "sngrep")
        .args(["-N", "-L", &format!("udp:{COLLECTOR}"), "-O"])
        .arg(&pcap)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("sngrep");
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["-c", path.to_str().unwrap()]);
    // sngrep binds its HEP socket after it starts: wait for it.
    assert!(lab.wait_for(Duration::from_secs(10), || {
        let ss = lab.run("peer", &["ss", "-lun"]);
        String::from_utf8_lossy(&ss.stdout).contains(COLLECTOR)
    }));
    let call_id = "hep-scanner-1@192.0.2.66";
    scan(&lab, call_id);
    assert!(
        lab.wait_for(Duration::from_secs(10), || lab.banned("fw", "192.0.2.66")),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(lab.wait_for(Duration::from_secs(5), || {
        status(&lab)["hep"]["sent"].as_u64().unwrap_or(0) >= 2
    }));
    // The page renders once a second.
    let scrape = "import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:9780/metrics').read().decode())";
    assert!(lab.wait_for(Duration::from_secs(5), || {
        let page = lab.run("fw", &["python3", "-c", scrape]);
        String::from_utf8_lossy(&page.stdout).lines().any(|l| {
            l.starts_with("sipwall_hep_records_total{outcome=\"sent\"} ") && !l.ends_with(" 0")
        })
    }));
    // SIGINT: sngrep writes its capture out as it stops.
    let _ = Command::new("kill")
        .args(["-INT", &sngrep.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sngrep.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = sngrep.kill();
    let _ = sngrep.wait();
    let captured = std::fs::read(&pcap).unwrap_or_default();
    let text = String::from_utf8_lossy(&captured);
    assert!(
        text.contains("OPTIONS sip:100@192.0.2.1 SIP/2.0"),
        "sngrep's capture has no OPTIONS: {text:?}"
    );
    assert!(text.contains(&format!("Call-ID: {call_id}")), "{text:?}");
    let said = std::fs::read_to_string(lab.state.path().join("sngrep.out")).unwrap_or_default();
    assert!(said.contains("Dialog count: 1"), "sngrep: {said:?}");
}

/// One HEP record's chunks, (type, value), with every length checked.
fn chunks(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
    assert_eq!(&bytes[..4], b"HEP3");
    assert_eq!(
        usize::from(u16::from_be_bytes([bytes[4], bytes[5]])),
        bytes.len()
    );
    let mut at = 6;
    let mut out = Vec::new();
    while at + 6 <= bytes.len() {
        let kind = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]);
        let len = usize::from(u16::from_be_bytes([bytes[at + 4], bytes[at + 5]]));
        assert!(len >= 6 && at + len <= bytes.len(), "chunk {kind} overruns");
        out.push((kind, bytes[at + 6..at + len].to_vec()));
        at += len;
    }
    assert_eq!(at, bytes.len());
    out
}

/// A decoded record: payload type, payload, correlation id.
#[derive(Debug)]
struct Got {
    kind: u8,
    payload: String,
    correlation: String,
}

fn decode(bytes: &[u8]) -> Got {
    let c = chunks(bytes);
    let get = |k: u16| c.iter().find(|(t, _)| *t == k).map(|(_, v)| v.clone());
    Got {
        kind: get(0x0b).expect("payload type")[0],
        payload: String::from_utf8_lossy(&get(0x0f).expect("payload")).into_owned(),
        correlation: String::from_utf8_lossy(&get(0x11).unwrap_or_default()).into_owned(),
    }
}

#[test]
fn the_ban_and_a_calls_pinholes_reach_the_collector_filed_under_their_call_ids() {
    let Some(lab) = Lab::up("hep-records", &["sipp", "python3"]) else {
        return;
    };
    let path = lab.apply_policy(&policy("pinhole"));
    let _uas = lab.sipp_uas("192.0.2.1", 20000, "u1");
    // The collector: a socket of the test's own in the peer's namespace.
    let ns = std::fs::File::open(format!("/run/netns/{}", lab.ns("peer"))).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let sock = UdpSocket::bind(COLLECTOR).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        bound_tx.send(()).unwrap();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = sock.recv(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    bound_rx.recv().unwrap();
    let log = lab.state.path().join("daemon.log");
    let _daemon = lab.start_daemon(&log, &["-c", path.to_str().unwrap()]);

    let call_id = "hep-scanner-2@192.0.2.66";
    scan(&lab, call_id);
    assert!(lab.sipp_call("192.0.2.2", "192.0.2.1", "u1"));
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = |got: &[Got]| {
        got.iter().any(|g| g.payload.contains("pinhole closed"))
            && got.iter().any(|g| g.payload.contains("\"ban\""))
    };
    while !done(&got) && Instant::now() < deadline {
        if let Ok(bytes) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(decode(&bytes));
        }
    }
    let sip = got
        .iter()
        .find(|g| g.kind == 1)
        .expect("the dropped OPTIONS as SIP");
    assert!(
        sip.payload.starts_with("OPTIONS sip:100@192.0.2.1"),
        "{sip:?}"
    );
    assert_eq!(sip.correlation, call_id);
    let ban = got
        .iter()
        .find(|g| g.kind == 100 && g.payload.contains("\"ban\""))
        .unwrap_or_else(|| panic!("no ban record: {got:?}"));
    let json: serde_json::Value = serde_json::from_str(&ban.payload).unwrap();
    assert_eq!(json["source"], "192.0.2.66");
    assert_eq!(json["detector"], "scanner");
    assert_eq!(ban.correlation, call_id);
    // The call's pinholes: opened and closed, both filed under SIPp's
    // Call-ID (the same one), not the scanner's.
    let open = got
        .iter()
        .find(|g| g.kind == 100 && g.payload.contains("pinhole open"))
        .unwrap_or_else(|| panic!("no pinhole record: {got:?}"));
    let closed = got
        .iter()
        .find(|g| g.kind == 100 && g.payload.contains("pinhole closed"))
        .unwrap_or_else(|| panic!("no pinhole close: {got:?}"));
    assert!(
        !open.correlation.is_empty() && open.correlation != call_id,
        "{open:?}"
    );
    assert_eq!(closed.correlation, open.correlation);
    // The call's own SIP was accepted: never sent as a drop.
    assert!(
        !got.iter()
            .any(|g| g.kind == 1 && g.correlation == open.correlation),
        "{got:?}"
    );
}
