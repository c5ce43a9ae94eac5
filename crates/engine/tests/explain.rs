//! The engine's explanations (`sipwall bans explain`): for each detector,
//! the threshold and window it applied, the requests that counted, and
//! the escalation step; for a shielded source, the ban it would have got.

use sipwall_engine::{
    Action, BanReason, Direction, Engine, Evidence, Packet, Shield, Timestamp, Transport,
};
use std::net::IpAddr;
use std::time::Duration;

const HOST: &str = "192.0.2.1";
const ATTACKER: &str = "203.0.113.66";
const SIP: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n";

fn engine(policy: &str) -> Engine {
    let p = sipwall_policy::parse("test.toml", policy).expect("valid policy");
    Engine::new(&p, "test.toml")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(ms: u64) -> Timestamp {
    Timestamp::from_micros(1_000_000_000 + ms * 1000)
}

fn udp(e: &mut Engine, now: Timestamp, dir: Direction, src: &str, dst: &str, msg: &str) {
    let p = Packet {
        src: ip(src),
        dst: ip(dst),
        transport: Transport::Udp {
            sport: 5060,
            dport: 5060,
        },
        payload: msg.as_bytes(),
    };
    e.handle_packet(now, dir, &p);
}

fn req(method: &str, user: &str, call_id: &str, cseq: u32, extra: &str) -> String {
    format!(
        "{method} sip:{user}@{HOST} SIP/2.0\r\nVia: SIP/2.0/UDP {ATTACKER}:5060;branch=z9hG4bK-{call_id}-{cseq}\r\n\
         From: <sip:100@example.com>;tag=a1\r\nTo: <sip:{user}@example.com>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn resp(status: &str, method: &str, user: &str, call_id: &str, cseq: u32) -> String {
    format!(
        "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP {ATTACKER}:5060;branch=z9hG4bK-{call_id}-{cseq}\r\n\
         From: <sip:100@example.com>;tag=a1\r\nTo: <sip:{user}@example.com>;tag=h\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

const AUTH: &str = "Authorization: Digest username=\"100\", realm=\"example.com\", nonce=\"n\", uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n";

fn actions(e: &mut Engine) -> Vec<Action> {
    std::iter::from_fn(|| e.poll_action()).collect()
}

fn explained(e: &Engine, addr: &str) -> Evidence {
    e.evidence(ip(addr)).cloned().expect("an explanation")
}

#[test]
fn a_scanners_ban_is_explained_by_its_one_request() {
    let mut e = engine(SIP);
    let probe = req(
        "OPTIONS",
        "100",
        "s1",
        1,
        "User-Agent: friendly-scanner\r\n",
    );
    udp(&mut e, t(0), Direction::In, ATTACKER, HOST, &probe);
    assert!(matches!(
        actions(&mut e)[0],
        Action::Ban {
            reason: BanReason::ScannerUserAgent(_),
            ..
        }
    ));
    let ev = explained(&e, ATTACKER);
    assert_eq!((ev.detector, ev.threshold), ("scanner", 1));
    assert!(ev.rule.contains("User-Agent"), "{}", ev.rule);
    assert_eq!(ev.counted.len(), 1);
    assert_eq!(ev.counted[0].method, "OPTIONS");
    assert_eq!(
        ev.counted[0].account().as_deref(),
        Some("sip:100@192.0.2.1"),
        "the Request-URI it probed"
    );
    assert_eq!(ev.step.offence, 1);
    assert_eq!(ev.step.until, Some(t(0) + Duration::from_secs(3600)));
    assert_eq!(ev.step.length, Duration::from_secs(3600));
    assert_eq!(ev.step.shield, None);
}

#[test]
fn a_repeat_offenders_explanation_says_which_offence_and_the_longer_ban() {
    let mut e = engine(SIP);
    let probe = req("OPTIONS", "100", "s1", 1, "User-Agent: sipcli/v1.8\r\n");
    udp(&mut e, t(0), Direction::In, ATTACKER, HOST, &probe);
    let until = explained(&e, ATTACKER).step.until.unwrap();
    e.handle_timeout(until);
    actions(&mut e);
    let later = until + Duration::from_secs(1);
    udp(&mut e, later, Direction::In, ATTACKER, HOST, &probe);
    let ev = explained(&e, ATTACKER);
    assert_eq!(ev.step.offence, 2);
    assert_eq!(ev.step.length, Duration::from_secs(4 * 3600));
}

#[test]
fn a_floods_ban_is_explained_by_its_rate_burst_and_the_request_over_it() {
    let mut e = engine(SIP);
    for i in 0..31 {
        let r = req("INVITE", "200", &format!("f{i}"), 1, "");
        udp(&mut e, t(i), Direction::In, ATTACKER, HOST, &r);
    }
    let ev = explained(&e, ATTACKER);
    assert_eq!((ev.detector, ev.threshold), ("flood", 30));
    assert_eq!(ev.window, Duration::from_secs(2), "30 at 15/s refill in 2s");
    assert!(ev.rule.contains("15 per second"), "{}", ev.rule);
    assert_eq!(ev.counted.len(), 1, "the request over the burst");
    assert_eq!(ev.counted[0].method, "INVITE");
    assert_eq!(ev.counted[0].at, t(30));
}

#[test]
fn a_brute_forces_ban_lists_the_failed_attempts_with_account_and_answer() {
    let mut e = engine(SIP);
    for n in 1..=5u32 {
        let now = t(u64::from(n) * 100);
        let r = req("REGISTER", "100", "r", n, AUTH);
        udp(&mut e, now, Direction::In, ATTACKER, HOST, &r);
        let answer = resp("403 Forbidden", "REGISTER", "100", "r", n);
        let later = now + Duration::from_millis(5);
        udp(&mut e, later, Direction::Out, HOST, ATTACKER, &answer);
    }
    assert!(actions(&mut e).iter().any(|a| matches!(
        a,
        Action::Ban {
            reason: BanReason::BruteForce { .. },
            ..
        }
    )));
    let ev = explained(&e, ATTACKER);
    assert_eq!((ev.detector, ev.threshold), ("brute-force", 5));
    assert_eq!(ev.window, Duration::from_secs(60));
    assert_eq!(ev.counted.len(), 5);
    let c = &ev.counted[4];
    assert_eq!(
        (c.method.as_ref(), c.account().as_deref(), c.answer),
        ("REGISTER", Some("100@example.com"), Some(403))
    );
    assert!(
        ev.counted.windows(2).all(|w| w[0].at <= w[1].at),
        "in order"
    );
}

#[test]
fn an_enumerations_ban_lists_the_unknown_users_tried() {
    let mut e = engine(SIP);
    for u in 0..10u64 {
        let user = format!("{}", 1000 + u);
        let call = format!("e{u}");
        let now = t(u * 200);
        udp(
            &mut e,
            now,
            Direction::In,
            ATTACKER,
            HOST,
            &req("INVITE", &user, &call, 1, ""),
        );
        let answer = resp("404 Not Found", "INVITE", &user, &call, 1);
        let later = now + Duration::from_millis(5);
        udp(&mut e, later, Direction::Out, HOST, ATTACKER, &answer);
    }
    let ev = explained(&e, ATTACKER);
    assert_eq!(ev.detector, "enumeration");
    assert_eq!(ev.counted.len(), 10);
    let users: Vec<_> = ev.counted.iter().filter_map(|c| c.account()).collect();
    assert_eq!(users[0], "1000@example.com");
    assert_eq!(users[9], "1009@example.com");
    assert!(ev
        .counted
        .iter()
        .all(|c| c.answer == Some(404) && c.method == "INVITE"));
}

#[test]
fn a_malformed_ban_lists_the_faults_counted() {
    let mut e = engine(&format!("[guard.malformed]\nban = true\nmax = 3\n{SIP}"));
    for i in 0..3 {
        udp(
            &mut e,
            t(i),
            Direction::In,
            ATTACKER,
            HOST,
            "garbage\r\n\r\n",
        );
    }
    let ev = explained(&e, ATTACKER);
    assert_eq!((ev.detector, ev.threshold), ("malformed", 3));
    assert_eq!(ev.counted.len(), 3);
    assert!(
        ev.counted
            .iter()
            .all(|c| c.method.starts_with("malformed: ")),
        "{:?}",
        ev.counted
    );
}

#[test]
fn an_allowlisted_scanner_is_explained_as_a_would_be_ban() {
    let mut e = engine(&format!(
        "[zones]\noffice = [\"{ATTACKER}\"]\n[guard]\nallow = [\"office\"]\n{SIP}"
    ));
    let probe = req(
        "OPTIONS",
        "100",
        "s1",
        1,
        "User-Agent: friendly-scanner\r\n",
    );
    udp(&mut e, t(0), Direction::In, ATTACKER, HOST, &probe);
    assert!(matches!(actions(&mut e)[0], Action::BanSuppressed { .. }));
    let ev = explained(&e, ATTACKER);
    assert_eq!(ev.detector, "scanner");
    assert_eq!(ev.step.shield, Some(Shield::Allowlisted));
    assert_eq!(ev.step.until, None, "no ban was made");
    assert_eq!(
        ev.step.length,
        Duration::from_secs(3600),
        "the ban it would have got"
    );
    assert!(e.bans().is_empty());
}

#[test]
fn a_shielded_flood_is_explained_once_a_minute_not_per_packet() {
    let mut e = engine(&format!(
        "[zones]\noffice = [\"{ATTACKER}\"]\n[guard]\nallow = [\"office\"]\n{SIP}"
    ));
    for i in 0..200 {
        udp(
            &mut e,
            t(i),
            Direction::In,
            ATTACKER,
            HOST,
            &req("OPTIONS", "1", &format!("o{i}"), 1, ""),
        );
    }
    let first = explained(&e, ATTACKER);
    assert_eq!(first.detector, "flood");
    assert_eq!(
        first.counted[0].at,
        t(30),
        "the first one over, kept for a minute"
    );
    assert!(
        e.stats().bans_suppressed > 150,
        "{}",
        e.stats().bans_suppressed
    );
}

#[test]
fn failures_freeswitch_reported_are_explained_without_an_answer() {
    let mut e = engine(SIP);
    for i in 0..5 {
        let ev = sipwall_engine::Event::from_pairs(&[
            ("Event-Name", "CUSTOM"),
            ("Event-Subclass", "sofia::register_failure"),
            ("network-ip", ATTACKER),
            ("to-user", "1000"),
            ("to-host", "example.com"),
        ]);
        e.handle_event(t(i * 100), &ev);
    }
    let ev = explained(&e, ATTACKER);
    assert_eq!(ev.detector, "brute-force");
    assert_eq!(ev.counted.len(), 5);
    for c in &ev.counted {
        assert_eq!(
            (c.method.as_ref(), c.account().as_deref(), c.answer),
            ("REGISTER", Some("1000@example.com"), None)
        );
    }
}

#[test]
fn the_ban_that_tips_a_prefix_ban_says_so_in_its_step() {
    let mut e = engine(&format!("[bans]\nipv4_prefix_after = 3\n{SIP}"));
    e.aggregate_prefixes(sipwall_engine::bans::PrefixPolicy {
        v6: sipwall_engine::bans::PrefixBans { after: 8, len: 64 },
        v4: sipwall_engine::bans::PrefixBans { after: 3, len: 24 },
    });
    let probe = req(
        "OPTIONS",
        "100",
        "s1",
        1,
        "User-Agent: friendly-scanner\r\n",
    );
    for i in 1..=3 {
        let src = format!("203.0.113.{i}");
        udp(&mut e, t(i), Direction::In, &src, HOST, &probe);
    }
    assert_eq!(explained(&e, "203.0.113.1").step.prefix, None);
    assert_eq!(
        explained(&e, "203.0.113.3").step.prefix,
        Some("203.0.113.0/24".parse().unwrap()),
        "the third ban inside the /24 banned it"
    );
}

#[test]
fn a_source_never_judged_has_no_explanation() {
    let e = engine(SIP);
    assert!(e.evidence(ip(ATTACKER)).is_none());
}
