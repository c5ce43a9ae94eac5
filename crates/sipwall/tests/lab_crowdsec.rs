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
