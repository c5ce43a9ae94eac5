//! The engine on virtual time: each detector and each pinhole lifecycle,
//! driven packet by packet with timestamps the test chooses.

use sipwall_engine::{
    Action, BanReason, CloseReason, DecidedBy, Direction, Engine, Event, Packet, PinholeKey,
    Shield, Timestamp, Transport, Verdict,
};
use std::net::IpAddr;
use std::time::Duration;

const HOST: &str = "192.0.2.1";
const PEER: &str = "203.0.113.9";
const ATTACKER: &str = "203.0.113.66";

fn engine(policy: &str) -> Engine {
    let p = sipwall_policy::parse("test.toml", policy).expect("valid policy");
    Engine::new(&p, "test.toml")
}

const SIP_PINHOLE: &str =
    "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(ms: u64) -> Timestamp {
    Timestamp::from_micros(1_000_000_000 + ms * 1000)
}

/// Sends a UDP datagram through the engine.
fn udp(
    e: &mut Engine,
    now: Timestamp,
    dir: Direction,
    (src, sport): (&str, u16),
    (dst, dport): (&str, u16),
    payload: &[u8],
) -> (Verdict, String) {
    let p = Packet {
        src: ip(src),
        dst: ip(dst),
        transport: Transport::Udp { sport, dport },
        payload,
    };
    let d = e.handle_packet(now, dir, &p);
    (d.verdict, e.describe(&d.by))
}

fn sip_in(e: &mut Engine, now: Timestamp, src: &str, msg: &str) -> (Verdict, String) {
    udp(
        e,
        now,
        Direction::In,
        (src, 5060),
        (HOST, 5060),
        msg.as_bytes(),
    )
}

fn sip_out(e: &mut Engine, now: Timestamp, dst: &str, msg: &str) -> (Verdict, String) {
    udp(
        e,
        now,
        Direction::Out,
        (HOST, 5060),
        (dst, 5060),
        msg.as_bytes(),
    )
}

fn actions(e: &mut Engine) -> Vec<Action> {
    std::iter::from_fn(|| e.poll_action()).collect()
}

fn bans(actions: &[Action]) -> Vec<(IpAddr, BanReason)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Ban { addr, reason, .. } => Some((*addr, reason.clone())),
            _ => None,
        })
        .collect()
}

struct Msg<'a> {
    start: &'a str,
    call_id: &'a str,
    cseq: &'a str,
    extra: &'a str,
    sdp: Option<String>,
}

impl Msg<'_> {
    fn text(&self) -> String {
        let body = self.sdp.clone().unwrap_or_default();
        let ct = if self.sdp.is_some() {
            "Content-Type: application/sdp\r\n"
        } else {
            ""
        };
        format!(
            "{}\r\nVia: SIP/2.0/UDP {PEER}:5060;branch=z9hG4bK-{}-{}\r\nFrom: <sip:100@example.com>;tag=a1\r\nTo: <sip:200@example.com>\r\n\
             Call-ID: {}\r\nCSeq: {}\r\nMax-Forwards: 70\r\nContact: <sip:100@{PEER}>\r\n{}{ct}Content-Length: {}\r\n\r\n{body}",
            self.start,
            self.call_id,
            self.cseq.replace(' ', "-"),
            self.call_id,
            self.cseq,
            self.extra,
            body.len()
        )
    }
}

fn sdp(addr: &str, port: u16, extra: &str) -> String {
    let family = if addr.contains(':') { "IP6" } else { "IP4" };
    format!("v=0\r\no=- 1 1 IN {family} {addr}\r\ns=-\r\nc=IN {family} {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}")
}

fn req<'a>(
    method: &'a str,
    call_id: &'a str,
    cseq: &'a str,
    extra: &'a str,
    body: Option<String>,
) -> String {
    let start = format!("{method} sip:200@{HOST} SIP/2.0");
    Msg {
        start: &start,
        call_id,
        cseq,
        extra,
        sdp: body,
    }
    .text()
}

fn resp(status: &str, call_id: &str, cseq: &str, extra: &str, body: Option<String>) -> String {
    let start = format!("SIP/2.0 {status}");
    Msg {
        start: &start,
        call_id,
        cseq,
        extra,
        sdp: body,
    }
    .text()
}

const AUTH: &str = "Authorization: Digest username=\"100\", realm=\"example.com\", nonce=\"n\", uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n";

const CHALLENGE: &str =
    "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n\", algorithm=MD5\r\n";

// --- scanners -------------------------------------------------------------

#[test]
fn a_scanner_user_agent_is_banned_and_its_next_packets_dropped() {
    let mut e = engine(SIP_PINHOLE);
    let probe = req(
        "OPTIONS",
        "s1",
        "1 OPTIONS",
        "User-Agent: friendly-scanner\r\n",
        None,
    );
    let (v, why) = sip_in(&mut e, t(0), ATTACKER, &probe);
    assert_eq!(
        (v, why.as_str()),
        (
            Verdict::Drop,
            "guard: scanner: User-Agent \"friendly-scanner\""
        )
    );
    let a = actions(&mut e);
    assert_eq!(
        bans(&a),
        [(
            ip(ATTACKER),
            BanReason::ScannerUserAgent("friendly-scanner".into())
        )]
    );
    let Action::Ban { until, .. } = a[0] else {
        panic!()
    };
    assert_eq!(
        until,
        t(0) + Duration::from_secs(3600),
        "the policy's first ban time"
    );
    let benign = req("OPTIONS", "s2", "1 OPTIONS", "User-Agent: Zoiper\r\n", None);
    let (v, why) = sip_in(&mut e, t(10), ATTACKER, &benign);
    assert_eq!((v, why.as_str()), (Verdict::Drop, "bans (sipwall run)"));
    assert!(actions(&mut e).is_empty(), "no second ban");
}

#[test]
fn sipvicious_is_recognised_by_its_from_tag_without_a_user_agent() {
    let mut e = engine(SIP_PINHOLE);
    let probe = "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.66:5060;branch=z9hG4bK-1;rport\r\n\
        From: \"sipvicious\"<sip:100@1.1.1.1>;tag=63303030303230323133633401383331323337343339\r\nTo: <sip:100@192.0.2.1>\r\n\
        Call-ID: 1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
    assert_eq!(sip_in(&mut e, t(0), ATTACKER, probe).0, Verdict::Drop);
    assert_eq!(
        bans(&actions(&mut e)),
        [(ip(ATTACKER), BanReason::SipviciousTag)]
    );
}

#[test]
fn a_scanner_whose_probe_the_parser_refuses_is_still_banned_as_a_scanner() {
    // The full parse refuses a CSeq without a number; the lenient summary
    // the engine falls back to still reads the scanner's User-Agent.
    let mut e = engine(SIP_PINHOLE);
    let probe = "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.66:5060;branch=z9hG4bK-1\r\n\
        From: <sip:100@192.0.2.1>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: 1\r\nCSeq: x\r\n\
        User-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n";
    assert!(sipwall_sip::Message::parse(probe.as_bytes()).is_err());
    let (v, why) = sip_in(&mut e, t(0), ATTACKER, probe);
    assert_eq!(
        (v, why.as_str()),
        (
            Verdict::Drop,
            "guard: scanner: User-Agent \"friendly-scanner\""
        )
    );
    assert_eq!(
        bans(&actions(&mut e)),
        [(
            ip(ATTACKER),
            BanReason::ScannerUserAgent("friendly-scanner".into())
        )]
    );
}

#[test]
fn an_allowlisted_zone_is_never_banned() {
    let mut e = engine(&format!(
        "[zones]\noffice = [\"{ATTACKER}\"]\n[guard]\nallow = [\"office\"]\n{SIP_PINHOLE}"
    ));
    for i in 0..100 {
        let probe = req(
            "OPTIONS",
            &format!("s{i}"),
            "1 OPTIONS",
            "User-Agent: friendly-scanner\r\n",
            None,
        );
        assert_eq!(sip_in(&mut e, t(i), ATTACKER, &probe).0, Verdict::Accept);
    }
    assert!(bans(&actions(&mut e)).is_empty());
}

// --- flood ----------------------------------------------------------------

#[test]
fn a_flood_is_banned_at_the_first_request_over_the_burst() {
    let mut e = engine(SIP_PINHOLE);
    for i in 0..30 {
        let r = req("INVITE", &format!("f{i}"), "1 INVITE", "", None);
        assert_eq!(
            sip_in(&mut e, t(i), ATTACKER, &r).0,
            Verdict::Accept,
            "request {i}"
        );
    }
    let r = req("INVITE", "f30", "1 INVITE", "", None);
    let (v, why) = sip_in(&mut e, t(30), ATTACKER, &r);
    assert_eq!((v, why.as_str()), (Verdict::Drop, "guard: flood"));
    assert_eq!(bans(&actions(&mut e)), [(ip(ATTACKER), BanReason::Flood)]);
}

#[test]
fn the_sustained_rate_is_not_a_flood() {
    let mut e = engine(SIP_PINHOLE);
    for i in 0..300u64 {
        let r = req("OPTIONS", &format!("o{i}"), "1 OPTIONS", "", None);
        assert_eq!(
            sip_in(&mut e, t(i * 70), PEER, &r).0,
            Verdict::Accept,
            "request {i}"
        );
    }
    assert!(bans(&actions(&mut e)).is_empty());
}

#[test]
fn a_flood_of_distinct_sources_bans_nobody_and_stays_bounded() {
    let mut e = engine(&format!("[guard.flood]\nmax_sources = 1000\n{SIP_PINHOLE}"));
    let r = req("OPTIONS", "o", "1 OPTIONS", "", None);
    for i in 0..20_000u32 {
        let src = std::net::Ipv4Addr::from(0xCB00_7100u32 + i).to_string();
        sip_in(&mut e, t(u64::from(i) / 10), &src, &r);
    }
    assert!(bans(&actions(&mut e)).is_empty());
}

// --- brute force, enumeration, registration ---------------------------------

fn register_attempt(
    e: &mut Engine,
    now: Timestamp,
    src: &str,
    n: u32,
    auth: bool,
    status: &str,
) -> Vec<Action> {
    let call = format!("r-{src}");
    let cseq = format!("{n} REGISTER");
    sip_in(
        e,
        now,
        src,
        &req("REGISTER", &call, &cseq, if auth { AUTH } else { "" }, None),
    );
    // The host's challenges carry the nonce that AUTH echoes.
    let challenge = if status.starts_with("401") {
        CHALLENGE
    } else {
        ""
    };
    sip_out(
        e,
        now + Duration::from_millis(5),
        src,
        &resp(status, &call, &cseq, challenge, None),
    );
    actions(e)
}

#[test]
fn repeated_failed_authentication_is_banned_challenges_are_not() {
    let mut e = engine(SIP_PINHOLE);
    for n in 1..=20 {
        assert!(
            register_attempt(
                &mut e,
                t(u64::from(n) * 100),
                ATTACKER,
                n,
                false,
                "401 Unauthorized"
            )
            .is_empty(),
            "challenges are normal"
        );
    }
    let mut all = Vec::new();
    for n in 21..=25 {
        all.extend(register_attempt(
            &mut e,
            t(u64::from(n) * 100),
            ATTACKER,
            n,
            true,
            "401 Unauthorized",
        ));
        if n < 25 {
            assert!(bans(&all).is_empty(), "attempt {n}");
        }
    }
    assert_eq!(
        bans(&all),
        [(
            ip(ATTACKER),
            BanReason::BruteForce {
                account: "100@example.com".into()
            }
        )]
    );
}

#[test]
fn a_client_that_mistypes_twice_then_registers_is_allowed_not_banned() {
    let mut e = engine(SIP_PINHOLE);
    let mut all = register_attempt(&mut e, t(0), PEER, 1, false, "401 Unauthorized");
    all.extend(register_attempt(
        &mut e,
        t(1000),
        PEER,
        2,
        true,
        "403 Forbidden",
    ));
    all.extend(register_attempt(
        &mut e,
        t(2000),
        PEER,
        3,
        true,
        "403 Forbidden",
    ));
    all.extend(register_attempt(&mut e, t(3000), PEER, 4, true, "200 OK"));
    assert!(bans(&all).is_empty());
    assert!(
        all.iter()
            .any(|a| matches!(a, Action::Allow { addr, .. } if *addr == ip(PEER))),
        "{all:?}"
    );
    // Allowed: its later mistakes ban nothing for a while.
    for n in 5..15 {
        assert!(bans(&register_attempt(
            &mut e,
            t(4000 + u64::from(n)),
            PEER,
            n,
            true,
            "403 Forbidden"
        ))
        .is_empty());
    }
}

#[test]
fn distributed_brute_force_on_one_account_bans_the_sources_past_the_threshold() {
    let mut e = engine(SIP_PINHOLE);
    let mut all = Vec::new();
    for i in 0..12u64 {
        let src = format!("198.51.100.{}", 10 + i);
        all.extend(register_attempt(
            &mut e,
            t(i * 1000),
            &src,
            1,
            true,
            "403 Forbidden",
        ));
    }
    let banned: Vec<IpAddr> = bans(&all).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        banned,
        [
            ip("198.51.100.19"),
            ip("198.51.100.20"),
            ip("198.51.100.21")
        ],
        "from the 10th failure on"
    );
}

#[test]
fn enumeration_of_unknown_users_is_banned() {
    let mut e = engine(SIP_PINHOLE);
    let mut all = Vec::new();
    for u in 0..10 {
        let call = format!("e{u}");
        let to = format!("To: <sip:{}@example.com>\r\n", 1000 + u);
        let r = req("INVITE", &call, "1 INVITE", "", None)
            .replace("To: <sip:200@example.com>\r\n", &to);
        sip_in(&mut e, t(u * 200), ATTACKER, &r);
        sip_out(
            &mut e,
            t(u * 200 + 5),
            ATTACKER,
            &resp("404 Not Found", &call, "1 INVITE", "", None),
        );
        all.extend(actions(&mut e));
    }
    assert_eq!(bans(&all), [(ip(ATTACKER), BanReason::Enumeration)]);
}

/// FreeSWITCH's external profile (the public context) answers an INVITE
/// for an extension its dialplan does not route with 480, not 404:
/// `svwar -m INVITE -p 5080` walked it unseen by the enumeration detector.
#[test]
fn an_invite_scan_that_freeswitch_answers_with_480_is_enumeration() {
    let mut e = engine(SIP_PINHOLE);
    let mut all = Vec::new();
    for u in 0..10 {
        let call = format!("e{u}");
        let to = format!("To: <sip:{}@example.com>\r\n", 5000 + u);
        let r = req("INVITE", &call, "1 INVITE", "", None)
            .replace("To: <sip:200@example.com>\r\n", &to);
        sip_in(&mut e, t(u * 200), ATTACKER, &r);
        sip_out(
            &mut e,
            t(u * 200 + 5),
            ATTACKER,
            &resp("480 Temporarily Unavailable", &call, "1 INVITE", "", None),
        );
        all.extend(actions(&mut e));
        if u < 9 {
            assert!(bans(&all).is_empty(), "after {} users", u + 1);
        }
    }
    assert_eq!(bans(&all), [(ip(ATTACKER), BanReason::Enumeration)]);
    // A phone whose calls to one absent colleague keep getting 480 is not.
    let mut e = engine(SIP_PINHOLE);
    let mut all = Vec::new();
    for n in 0..20 {
        let call = format!("p{n}");
        sip_in(
            &mut e,
            t(n * 200),
            PEER,
            &req("INVITE", &call, "1 INVITE", "", None),
        );
        sip_out(
            &mut e,
            t(n * 200 + 5),
            PEER,
            &resp("480 Temporarily Unavailable", &call, "1 INVITE", "", None),
        );
        all.extend(actions(&mut e));
    }
    assert!(bans(&all).is_empty(), "{all:?}");
}

#[test]
fn register_failure_events_count_like_answers_on_the_wire() {
    let mut e = engine(SIP_PINHOLE);
    for i in 0..5 {
        let ev = Event::from_pairs(&[
            ("Event-Name", "CUSTOM"),
            ("Event-Subclass", "sofia::register_failure"),
            ("network-ip", ATTACKER),
            ("to-user", "1000"),
            ("to-host", "example.com"),
        ]);
        e.handle_event(t(i * 100), &ev);
    }
    assert_eq!(
        bans(&actions(&mut e)),
        [(
            ip(ATTACKER),
            BanReason::BruteForce {
                account: "1000@example.com".into()
            }
        )]
    );
}

/// Each failure report was tagged `sip_messages ^ now`, so reports in the
/// same microsecond with no SIP message between them shared a tag and the
/// brute-force window counted them once.
#[test]
fn failures_reported_in_one_instant_each_count() {
    let mut e = engine(SIP_PINHOLE);
    let ev = Event::from_pairs(&[
        ("Event-Name", "CUSTOM"),
        ("Event-Subclass", "sofia::register_failure"),
        ("network-ip", ATTACKER),
        ("to-user", "1000"),
        ("to-host", "example.com"),
    ]);
    for _ in 0..5 {
        e.handle_event(t(100), &ev);
    }
    assert_eq!(e.stats().auth_failures, 5);
    assert_eq!(
        bans(&actions(&mut e)),
        [(
            ip(ATTACKER),
            BanReason::BruteForce {
                account: "1000@example.com".into()
            }
        )]
    );
}

/// FreeSWITCH answers a wrong password with 403 and fires
/// `sofia::register_failure` for the same REGISTER: where the daemon reads
/// the wire and the event socket both, each failure was counted twice, and
/// a phone mistyping its password three times was banned as a brute force.
#[test]
fn a_failure_seen_on_the_wire_and_in_freeswitchs_event_counts_once() {
    let mut e = engine(SIP_PINHOLE);
    let event = || {
        Event::from_pairs(&[
            ("Event-Name", "CUSTOM"),
            ("Event-Subclass", "sofia::register_failure"),
            ("network-ip", ATTACKER),
            ("to-user", "100"),
            ("to-host", "example.com"),
        ])
    };
    for n in 1..=5u32 {
        let at = t(u64::from(n) * 1000);
        let mut got = Vec::new();
        // Either witness may speak first: the event socket and the tap race.
        if n % 2 == 0 {
            e.handle_event(at, &event());
            got.extend(actions(&mut e));
        }
        got.extend(register_attempt(
            &mut e,
            at + Duration::from_millis(10),
            ATTACKER,
            n,
            true,
            "403 Forbidden",
        ));
        if n % 2 == 1 {
            e.handle_event(at + Duration::from_millis(40), &event());
            got.extend(actions(&mut e));
        }
        if n < 5 {
            assert!(bans(&got).is_empty(), "banned after {n} failures: {got:?}");
        } else {
            assert_eq!(
                bans(&got),
                [(
                    ip(ATTACKER),
                    BanReason::BruteForce {
                        account: "100@example.com".into()
                    }
                )],
                "the fifth failure bans"
            );
        }
    }
}

#[test]
fn a_failed_authentication_seen_on_the_wire_and_as_freeswitchs_event_counts_once() {
    // The tap and the event socket both on: each mistype is FreeSWITCH's
    // 403 on the wire and its sofia::register_failure, in either order.
    let mut e = engine(SIP_PINHOLE);
    let failure = Event::from_pairs(&[
        ("Event-Name", "CUSTOM"),
        ("Event-Subclass", "sofia::register_failure"),
        ("network-ip", PEER),
        ("to-user", "200"),
        ("to-host", "example.com"),
    ]);
    let mut all = Vec::new();
    for n in 1..=4u32 {
        let at = t(u64::from(n) * 1000);
        if n % 2 == 0 {
            e.handle_event(at, &failure);
        }
        all.extend(register_attempt(&mut e, at, PEER, n, true, "403 Forbidden"));
        if n % 2 == 1 {
            e.handle_event(at + Duration::from_millis(8), &failure);
        }
        all.extend(actions(&mut e));
    }
    assert!(bans(&all).is_empty(), "4 failures, not 8: {all:?}");
    assert_eq!(e.stats().auth_failures, 4);
    // The fifth reaches the policy's 5: counting once still bans.
    all.extend(register_attempt(
        &mut e,
        t(5000),
        PEER,
        5,
        true,
        "403 Forbidden",
    ));
    e.handle_event(t(5010), &failure);
    all.extend(actions(&mut e));
    assert_eq!(bans(&all).len(), 1, "{all:?}");
    // A failure seen only as an event (TLS: no wire copy) counts alone.
    let mut e = engine(SIP_PINHOLE);
    for i in 0..3 {
        e.handle_event(t(i * 5000), &failure);
    }
    assert_eq!(e.stats().auth_failures, 3);
}

/// An OPTIONS from a scanner's User-Agent: banned at once.
fn sipcli_probe() -> String {
    req(
        "OPTIONS",
        "s",
        "1 OPTIONS",
        "User-Agent: sipcli/v1.8\r\n",
        None,
    )
}

#[test]
fn repeat_offenders_get_longer_bans_and_bans_expire_on_time() {
    let mut e = engine(SIP_PINHOLE);
    let probe = sipcli_probe();
    sip_in(&mut e, t(0), ATTACKER, &probe);
    let first = actions(&mut e);
    let Action::Ban { until, .. } = first[0] else {
        panic!("{first:?}")
    };
    assert_eq!(
        e.poll_timeout(),
        Some(until),
        "the ban's end is the next deadline: no table sweep wakes the engine"
    );
    e.handle_timeout(until);
    assert_eq!(actions(&mut e), [Action::BanExpired { addr: ip(ATTACKER) }]);
    sip_in(&mut e, until + Duration::from_secs(1), ATTACKER, &probe);
    let second = actions(&mut e);
    let Action::Ban { until: until2, .. } = second[0] else {
        panic!("{second:?}")
    };
    assert_eq!(
        until2 - (until + Duration::from_secs(1)),
        Duration::from_secs(4 * 3600)
    );
}

#[test]
fn malformed_sip_is_counted_and_banned_only_when_asked() {
    let mut e = engine(SIP_PINHOLE);
    for i in 0..20 {
        assert_eq!(
            sip_in(&mut e, t(i), ATTACKER, "NOT SIP AT ALL\r\n\r\n").0,
            Verdict::Accept
        );
    }
    assert_eq!(e.stats().malformed, 20);
    assert!(bans(&actions(&mut e)).is_empty());
    let mut e = engine(&format!(
        "[guard.malformed]\nban = true\nmax = 3\n{SIP_PINHOLE}"
    ));
    let verdicts: Vec<Verdict> = (0..4)
        .map(|i| sip_in(&mut e, t(i), ATTACKER, "garbage\r\n\r\n").0)
        .collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Accept,
            Verdict::Accept,
            Verdict::Drop,
            Verdict::Drop
        ]
    );
    assert_eq!(
        bans(&actions(&mut e)),
        [(ip(ATTACKER), BanReason::Malformed)]
    );
}

#[test]
fn a_scanner_split_across_tcp_segments_is_reassembled() {
    let mut e = engine(SIP_PINHOLE);
    let probe = req(
        "OPTIONS",
        "tcp1",
        "1 OPTIONS",
        "User-Agent: friendly-scanner\r\n",
        None,
    );
    let (a, b) = probe.as_bytes().split_at(40);
    fn seg(payload: &[u8]) -> Packet<'_> {
        Packet {
            src: ip(ATTACKER),
            dst: ip(HOST),
            transport: Transport::Tcp {
                sport: 40000,
                dport: 5060,
                syn: false,
                ack: true,
                rst: false,
                fin_or_rst: false,
            },
            payload,
        }
    }
    let d1 = e.handle_packet(t(0), Direction::In, &seg(a));
    assert_eq!(
        d1.verdict,
        Verdict::Accept,
        "half a message decides nothing"
    );
    let d2 = e.handle_packet(t(1), Direction::In, &seg(b));
    assert!(
        matches!(d2.by, DecidedBy::Guard(BanReason::ScannerUserAgent(_))),
        "{d2:?}"
    );
}

// --- pinholes -------------------------------------------------------------

fn rtp(e: &mut Engine, now: Timestamp, src: &str, dport: u16) -> (Verdict, String) {
    udp(
        e,
        now,
        Direction::In,
        (src, 4000),
        (HOST, dport),
        &[0x80, 0, 0, 1],
    )
}

fn opened(a: &[Action]) -> Vec<u16> {
    let mut v: Vec<u16> = a
        .iter()
        .filter(|x| matches!(x, Action::OpenPinhole { .. }))
        .map(|x| key(x).port)
        .collect();
    v.sort_unstable();
    v
}

fn closed(a: &[Action], why: CloseReason) -> Vec<u16> {
    let mut v: Vec<u16> = a
        .iter()
        .filter(|x| matches!(x, Action::ClosePinhole { reason, .. } if *reason == why))
        .map(|x| key(x).port)
        .collect();
    v.sort_unstable();
    v
}

fn key(a: &Action) -> PinholeKey {
    match a {
        Action::OpenPinhole { key, .. } | Action::ClosePinhole { key, .. } => *key,
        _ => panic!("{a:?}"),
    }
}

/// INVITE with the peer's offer in, 200 with our answer out, ACK in.
fn call(
    e: &mut Engine,
    now: Timestamp,
    id: &str,
    local_port: u16,
    answer_extra: &str,
) -> Vec<Action> {
    sip_in(
        e,
        now,
        PEER,
        &req("INVITE", id, "1 INVITE", "", Some(sdp(PEER, 4000, ""))),
    );
    sip_out(
        e,
        now + Duration::from_millis(10),
        PEER,
        &to_tag(&resp(
            "200 OK",
            id,
            "1 INVITE",
            "",
            Some(sdp(HOST, local_port, answer_extra)),
        )),
    );
    sip_in(
        e,
        now + Duration::from_millis(20),
        PEER,
        &to_tag(&req("ACK", id, "1 ACK", "", None)),
    );
    actions(e)
}

/// The message with the To tag the host's answer gave the dialog.
fn to_tag(msg: &str) -> String {
    msg.replacen(
        "To: <sip:200@example.com>\r\n",
        "To: <sip:200@example.com>;tag=host-b2\r\n",
        1,
    )
}

#[test]
fn a_call_opens_rtp_and_rtcp_that_accept_media_and_bye_closes_them() {
    let mut e = engine(SIP_PINHOLE);
    assert_eq!(
        rtp(&mut e, t(0), PEER, 20000).0,
        Verdict::Reject,
        "closed before the call"
    );
    let a = call(&mut e, t(0), "c1", 20000, "");
    assert_eq!(opened(&a), [20000, 20001]);
    let (v, why) = rtp(&mut e, t(100), PEER, 20000);
    assert_eq!(
        (v, why.as_str()),
        (Verdict::Accept, "media pinholes (sipwall run)")
    );
    assert_eq!(
        rtp(&mut e, t(100), PEER, 20002).0,
        Verdict::Reject,
        "only the negotiated ports"
    );
    sip_in(&mut e, t(5000), PEER, &req("BYE", "c1", "2 BYE", "", None));
    assert_eq!(
        closed(&actions(&mut e), CloseReason::CallEnded),
        [20000, 20001]
    );
    assert!(e.pinholes().is_empty());
}

/// The pinhole table's deadlines kept a closed call's old end, and
/// `poll_timeout` named it: the caller woke for nothing.
#[test]
fn a_call_ended_by_bye_leaves_no_timer_behind() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c1", 20000, "");
    assert!(e.poll_timeout().is_some(), "its pinholes will end");
    sip_in(&mut e, t(5000), PEER, &req("BYE", "c1", "2 BYE", "", None));
    assert!(e.pinholes().is_empty());
    assert_eq!(e.poll_timeout(), None, "nothing left to end");
}

/// The same for a ban lifted by hand.
#[test]
fn a_ban_lifted_by_hand_leaves_no_timer_behind() {
    let mut e = engine(SIP_PINHOLE);
    let probe = sipcli_probe();
    sip_in(&mut e, t(0), ATTACKER, &probe);
    assert!(e.poll_timeout().is_some(), "the ban will end");
    assert!(e.unban(ip(ATTACKER)));
    assert_eq!(e.poll_timeout(), None, "nothing left to end");
}

#[test]
fn a_reinvite_moves_media() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c2", 20000, "");
    sip_in(
        &mut e,
        t(1000),
        PEER,
        &req("INVITE", "c2", "2 INVITE", "", Some(sdp(PEER, 4010, ""))),
    );
    sip_out(
        &mut e,
        t(1010),
        PEER,
        &resp("200 OK", "c2", "2 INVITE", "", Some(sdp(HOST, 20010, ""))),
    );
    let a = actions(&mut e);
    assert_eq!(closed(&a, CloseReason::Moved), [20000, 20001]);
    assert_eq!(opened(&a), [20010, 20011]);
}

#[test]
fn cancel_and_a_final_error_close_an_early_media_pinhole() {
    for ending in ["CANCEL", "486 Busy Here"] {
        let mut e = engine(SIP_PINHOLE);
        sip_in(
            &mut e,
            t(0),
            PEER,
            &req("INVITE", "c3", "1 INVITE", "", Some(sdp(PEER, 4000, ""))),
        );
        sip_out(
            &mut e,
            t(10),
            PEER,
            &resp(
                "183 Session Progress",
                "c3",
                "1 INVITE",
                "",
                Some(sdp(HOST, 20020, "")),
            ),
        );
        assert_eq!(opened(&actions(&mut e)), [20020, 20021], "early media");
        if ending == "CANCEL" {
            sip_in(
                &mut e,
                t(500),
                PEER,
                &req("CANCEL", "c3", "1 CANCEL", "", None),
            );
        } else {
            sip_out(
                &mut e,
                t(500),
                PEER,
                &resp(ending, "c3", "1 INVITE", "", None),
            );
        }
        assert_eq!(
            closed(&actions(&mut e), CloseReason::CallEnded),
            [20020, 20021],
            "{ending}"
        );
    }
}

#[test]
fn a_late_offer_answered_in_the_ack_sets_the_remote() {
    let mut e = engine(&SIP_PINHOLE.replace(
        "mode = \"pinhole\"",
        "mode = \"pinhole\"\npinhole_match_remote = true",
    ));
    sip_in(
        &mut e,
        t(0),
        PEER,
        &req("INVITE", "c4", "1 INVITE", "", None),
    );
    sip_out(
        &mut e,
        t(10),
        PEER,
        &resp("200 OK", "c4", "1 INVITE", "", Some(sdp(HOST, 20030, ""))),
    );
    let a = actions(&mut e);
    assert_eq!(opened(&a), [20030, 20031]);
    assert!(
        a.iter().all(|x| key(x).remote.is_none()),
        "remote not known yet"
    );
    sip_in(
        &mut e,
        t(20),
        PEER,
        &req("ACK", "c4", "1 ACK", "", Some(sdp(PEER, 4000, ""))),
    );
    let a = actions(&mut e);
    assert_eq!(closed(&a, CloseReason::Moved), [20030, 20031]);
    assert!(
        opened(&a) == [20030, 20031]
            && a.iter()
                .filter(|x| matches!(x, Action::OpenPinhole { .. }))
                .all(|x| key(x).remote == Some(ip(PEER)))
    );
    assert_eq!(rtp(&mut e, t(30), PEER, 20030).0, Verdict::Accept);
    assert_eq!(
        rtp(&mut e, t(30), ATTACKER, 20030).0,
        Verdict::Reject,
        "keyed on the remote"
    );
}

#[test]
fn rtcp_mux_opens_one_port_and_a_rtcp_attribute_is_honoured() {
    let mut e = engine(SIP_PINHOLE);
    assert_eq!(
        opened(&call(&mut e, t(0), "c5", 20040, "a=rtcp-mux\r\n")),
        [20040]
    );
    assert_eq!(
        opened(&call(&mut e, t(0), "c6", 20050, "a=rtcp:20077\r\n")),
        [20050, 20077]
    );
}

#[test]
fn ipv6_media_is_keyed_on_the_remote_ipv6_address() {
    let mut e = engine(&SIP_PINHOLE.replace(
        "mode = \"pinhole\"",
        "mode = \"pinhole\"\npinhole_match_remote = true",
    ));
    let (host6, peer6) = ("2001:db8::1", "2001:db8::9");
    udp(
        &mut e,
        t(0),
        Direction::In,
        (peer6, 5060),
        (host6, 5060),
        req("INVITE", "c7", "1 INVITE", "", Some(sdp(peer6, 4000, ""))).as_bytes(),
    );
    udp(
        &mut e,
        t(10),
        Direction::Out,
        (host6, 5060),
        (peer6, 5060),
        resp("200 OK", "c7", "1 INVITE", "", Some(sdp(host6, 20060, ""))).as_bytes(),
    );
    let a = actions(&mut e);
    assert!(a.iter().any(|x| matches!(x, Action::OpenPinhole { key: PinholeKey { port: 20060, remote: Some(r) }, .. } if *r == ip(peer6))), "{a:?}");
    let (v, why) = udp(
        &mut e,
        t(20),
        Direction::In,
        (peer6, 4000),
        (host6, 20060),
        b"\x80",
    );
    assert_eq!(
        (v, why.as_str()),
        (Verdict::Accept, "media pinholes (sipwall run)")
    );
}

#[test]
fn an_unused_pinhole_times_out_and_media_after_it_is_refused() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c8", 20070, "");
    let until = e.poll_timeout().unwrap();
    assert!(until <= t(20) + Duration::from_secs(90));
    e.handle_timeout(t(0) + Duration::from_secs(91));
    assert_eq!(
        closed(&actions(&mut e), CloseReason::Expired),
        [20070, 20071]
    );
    assert_eq!(
        rtp(&mut e, t(0) + Duration::from_secs(92), PEER, 20070).0,
        Verdict::Reject
    );
}

#[test]
fn media_flowing_before_the_pinhole_expires_stays_up_as_established() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c9", 20080, "");
    assert_eq!(rtp(&mut e, t(100), PEER, 20080).0, Verdict::Accept);
    // the host answers with its own RTP: the flow is established
    udp(
        &mut e,
        t(120),
        Direction::Out,
        (HOST, 20080),
        (PEER, 4000),
        b"\x80",
    );
    e.handle_timeout(t(0) + Duration::from_secs(91));
    let (v, why) = rtp(&mut e, t(0) + Duration::from_secs(92), PEER, 20080);
    assert_eq!((v, why.as_str()), (Verdict::Accept, "established, related"));
}

#[test]
fn freeswitch_channel_events_open_and_close_pinholes_without_any_sdp() {
    let mut e = engine(SIP_PINHOLE);
    let answer = Event::from_pairs(&[
        ("Event-Name", "CHANNEL_ANSWER"),
        ("Unique-ID", "6f2e0c6a-1"),
        ("variable_local_media_port", "21000"),
        ("variable_remote_media_ip", PEER),
        ("variable_rtcp_mux", "false"),
    ]);
    e.handle_event(t(0), &answer);
    assert_eq!(opened(&actions(&mut e)), [21000, 21001]);
    assert_eq!(rtp(&mut e, t(10), PEER, 21000).0, Verdict::Accept);
    let update = Event::from_pairs(&[
        ("Event-Name", "CALL_UPDATE"),
        ("Unique-ID", "6f2e0c6a-1"),
        ("variable_local_media_port", "21010"),
        ("variable_rtcp_mux", "true"),
    ]);
    e.handle_event(t(20), &update);
    let a = actions(&mut e);
    assert_eq!(
        (opened(&a), closed(&a, CloseReason::Moved)),
        (vec![21010], vec![21000, 21001])
    );
    e.handle_event(
        t(30),
        &Event::from_pairs(&[
            ("Event-Name", "CHANNEL_HANGUP_COMPLETE"),
            ("Unique-ID", "6f2e0c6a-1"),
        ]),
    );
    assert_eq!(closed(&actions(&mut e), CloseReason::CallEnded), [21010]);
}

// --- helper mode ----------------------------------------------------------

#[test]
fn helper_mode_lets_the_negotiated_media_in_as_related() {
    let mut e =
        engine("[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"helper\"\n");
    call(&mut e, t(0), "h1", 20000, "");
    let (v, why) = rtp(&mut e, t(100), PEER, 20000);
    assert_eq!((v, why.as_str()), (Verdict::Accept, "established, related"));
    assert_eq!(
        rtp(&mut e, t(100), ATTACKER, 20001).0,
        Verdict::Reject,
        "direct_media: only from the signalling peer"
    );
    assert_eq!(
        rtp(&mut e, t(100), PEER, 20004).0,
        Verdict::Reject,
        "only the negotiated ports"
    );
    assert!(e.pinholes().is_empty(), "helper mode makes no pinholes");
}

// --- spoofed sources --------------------------------------------------------

fn forged_scanner_options(e: &mut Engine, now: Timestamp, src: &str) -> (Verdict, Vec<Action>) {
    let probe = req(
        "OPTIONS",
        "forged",
        "1 OPTIONS",
        "User-Agent: friendly-scanner\r\n",
        None,
    );
    let (v, _) = sip_in(e, now, src, &probe);
    (v, actions(e))
}

#[test]
fn a_forged_scanner_options_with_a_verified_peers_address_does_not_ban_the_peer() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-verified", 20000, "");
    assert!(e.is_verified(t(100), ip(PEER)), "the ACK echoed our To tag");
    let (v, a) = forged_scanner_options(&mut e, t(1000), PEER);
    assert_eq!(v, Verdict::Accept);
    assert!(bans(&a).is_empty(), "{a:?}");
    assert!(
        a.iter().any(|x| matches!(x,
            Action::BanSuppressed { addr, why: Shield::Verified, reason: BanReason::ScannerUserAgent(_), .. }
                if *addr == ip(PEER))),
        "{a:?}"
    );
    assert_eq!(e.stats().bans_suppressed, 1);
    // Repeats are counted, announced at most once a minute.
    let (_, a) = forged_scanner_options(&mut e, t(2000), PEER);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(e.stats().bans_suppressed, 2);
    assert!(!e.bans().is_banned(t(2000), ip(PEER)));
    // Its calls still work.
    let a = call(&mut e, t(3000), "c-next", 20010, "");
    assert_eq!(opened(&a), [20010, 20011]);
}

fn verified(a: &[Action]) -> Vec<(IpAddr, Timestamp)> {
    a.iter()
        .filter_map(|x| match x {
            Action::Verified { addr, until } => Some((*addr, *until)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_verified_peer_is_announced_for_the_kernels_first_line_once_then_near_its_end() {
    let mut e = engine(SIP_PINHOLE);
    let a = call(&mut e, t(0), "c-1", 20000, "");
    let v = verified(&a);
    assert_eq!(v.len(), 1, "{a:?}");
    assert_eq!(v[0].0, ip(PEER));
    // Until verified_for (1 h) after the ACK that proved it.
    assert!(v[0].1 > t(3_600_000) && v[0].1 < t(3_610_000), "{v:?}");
    // Further calls renew the engine's record but write nothing...
    for (i, at) in [60_000, 600_000, 2_000_000].into_iter().enumerate() {
        let a = call(&mut e, t(at), &format!("c-more-{i}"), 20010, "");
        assert!(verified(&a).is_empty(), "{at}: {a:?}");
    }
    // ...until less than a quarter of the announced hour is left.
    let a = call(&mut e, t(2_800_000), "c-late", 20020, "");
    assert_eq!(verified(&a).len(), 1, "{a:?}");
    // A source with no return-routable evidence is never announced.
    let (_, a) = forged_scanner_options(&mut e, t(2_900_000), "192.0.2.77");
    assert!(verified(&a).is_empty(), "{a:?}");
    // Suppressed bans are counted per detector and shield.
    forged_scanner_options(&mut e, t(2_900_000), PEER);
    assert_eq!(e.stats().bans_suppressed_by, [(("scanner", "verified"), 1)]);
}

#[test]
fn a_forged_scanner_options_from_an_address_with_no_history_bans_it() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-verified", 20000, "");
    let (v, a) = forged_scanner_options(&mut e, t(1000), "192.0.2.77");
    assert_eq!(v, Verdict::Drop);
    assert_eq!(bans(&a).len(), 1, "{a:?}");
    assert!(e.bans().is_banned(t(1000), ip("192.0.2.77")));
}

#[test]
fn a_verified_peer_is_banned_on_forged_evidence_once_its_history_lapses() {
    let mut e = engine(&format!("{SIP_PINHOLE}[guard]\nverified_for = \"10m\"\n"));
    call(&mut e, t(0), "c-verified", 20000, "");
    let (v, _) = forged_scanner_options(&mut e, t(599_000), PEER);
    assert_eq!(v, Verdict::Accept, "within verified_for");
    let (v, a) = forged_scanner_options(&mut e, t(601_000), PEER);
    assert_eq!((v, bans(&a).len()), (Verdict::Drop, 1), "{a:?}");
}

#[test]
fn a_forged_registration_without_an_echoed_nonce_makes_no_history() {
    let mut e = engine(SIP_PINHOLE);
    // Credentials with a nonce the host never sent to PEER, and a 2xx
    // (a registrar that accepts blindly): nothing return-routable.
    sip_in(
        &mut e,
        t(0),
        PEER,
        &req("REGISTER", "r-f", "1 REGISTER", AUTH, None),
    );
    sip_out(
        &mut e,
        t(5),
        PEER,
        &resp("200 OK", "r-f", "1 REGISTER", "", None),
    );
    let a = actions(&mut e);
    assert!(
        !a.iter().any(|x| matches!(x, Action::Allow { .. })),
        "{a:?}"
    );
    assert!(!e.is_verified(t(10), ip(PEER)));
    // The nonce went to someone else: echoing it from PEER proves nothing.
    sip_out(
        &mut e,
        t(20),
        ATTACKER,
        &resp("401 Unauthorized", "r-g", "1 REGISTER", CHALLENGE, None),
    );
    sip_in(
        &mut e,
        t(30),
        PEER,
        &req("REGISTER", "r-g", "2 REGISTER", AUTH, None),
    );
    sip_out(
        &mut e,
        t(35),
        PEER,
        &resp("200 OK", "r-g", "2 REGISTER", "", None),
    );
    assert!(!e.is_verified(t(40), ip(PEER)));
    // Nor does an ACK echoing a To tag that was sent elsewhere.
    sip_in(
        &mut e,
        t(50),
        ATTACKER,
        &req("INVITE", "c-x", "1 INVITE", "", None),
    );
    sip_out(
        &mut e,
        t(60),
        ATTACKER,
        &to_tag(&resp("200 OK", "c-x", "1 INVITE", "", None)),
    );
    sip_in(
        &mut e,
        t(70),
        PEER,
        &to_tag(&req("ACK", "c-x", "1 ACK", "", None)),
    );
    assert!(!e.is_verified(t(80), ip(PEER)));
    let (v, a) = forged_scanner_options(&mut e, t(1000), PEER);
    assert_eq!((v, bans(&a).len()), (Verdict::Drop, 1), "{a:?}");
}

#[test]
fn a_registration_that_echoes_the_hosts_nonce_verifies_its_source() {
    let mut e = engine(SIP_PINHOLE);
    register_attempt(&mut e, t(0), PEER, 1, false, "401 Unauthorized");
    register_attempt(&mut e, t(100), PEER, 2, true, "200 OK");
    assert!(e.is_verified(t(200), ip(PEER)));
    // So does FreeSWITCH's word that it authenticated a source.
    let other = "203.0.113.10";
    e.handle_event(
        t(300),
        &Event::from_pairs(&[
            ("Event-Name", "CUSTOM"),
            ("Event-Subclass", "sofia::register"),
            ("network-ip", other),
        ]),
    );
    assert!(e.is_verified(t(400), ip(other)));
    assert_eq!(
        forged_scanner_options(&mut e, t(500), other).0,
        Verdict::Accept
    );
}

#[test]
fn forged_brute_force_failures_do_not_ban_a_verified_peer() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-verified", 20000, "");
    // Forged REGISTERs with the peer's address: the host's 403s go to
    // the peer, the forger echoes no nonce it was sent.
    let mut all = Vec::new();
    for n in 1..=20 {
        let call_id = format!("bf-{n}");
        sip_in(
            &mut e,
            t(1000 + n),
            PEER,
            &req("REGISTER", &call_id, "1 REGISTER", AUTH, None),
        );
        sip_out(
            &mut e,
            t(1000 + n),
            PEER,
            &resp("403 Forbidden", &call_id, "1 REGISTER", "", None),
        );
        all.extend(actions(&mut e));
    }
    assert!(bans(&all).is_empty(), "{all:?}");
    assert_eq!(e.stats().bans_suppressed, 16);
}

#[test]
fn a_scanner_over_an_established_tcp_stream_is_banned_even_from_a_verified_source() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-verified", 20000, "");
    let tcp = |src: &str, sport, dst: &str, dport, syn, payload: &'static [u8]| Packet {
        src: ip(src),
        dst: ip(dst),
        transport: Transport::Tcp {
            sport,
            dport,
            syn,
            // The SYN alone has no ACK; the SYN/ACK and the rest do.
            ack: !(syn && dport == 5060),
            rst: false,
            fin_or_rst: false,
        },
        payload,
    };
    e.handle_packet(
        t(1000),
        Direction::In,
        &tcp(PEER, 40000, HOST, 5060, true, b""),
    );
    e.handle_packet(
        t(1001),
        Direction::Out,
        &tcp(HOST, 5060, PEER, 40000, true, b""),
    );
    e.handle_packet(
        t(1002),
        Direction::In,
        &tcp(PEER, 40000, HOST, 5060, false, b""),
    );
    let probe: &'static [u8] = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP 203.0.113.9:40000;branch=z9hG4bK-t\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: tcp-scan\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n";
    let d = e.handle_packet(
        t(1003),
        Direction::In,
        &tcp(PEER, 40000, HOST, 5060, false, probe),
    );
    assert_eq!(d.verdict, Verdict::Drop, "the stream is the peer's own");
    assert!(e.bans().is_banned(t(1003), ip(PEER)));
}

// --- call table -------------------------------------------------------------

const NO_FLOOD: &str = "[guard.flood]\nenabled = false\n";

#[test]
fn stray_200_oks_from_one_source_cannot_fill_the_call_table() {
    // Flood detection off: what is tested is that a response to an INVITE
    // the engine never saw makes no call state at all.
    let mut e = engine(&format!("{SIP_PINHOLE}{NO_FLOOD}"));
    let ok = |n: u32| {
        resp(
            "200 OK",
            &format!("stray-{n}"),
            "1 INVITE",
            "",
            Some(sdp(ATTACKER, 4000, "")),
        )
    };
    for n in 0..100_000u32 {
        sip_in(&mut e, t(u64::from(n / 10)), ATTACKER, &ok(n));
    }
    assert_eq!(e.pinholes().calls(), 0, "no call from a stray response");
    assert!(actions(&mut e).is_empty());
    let a = call(&mut e, t(20_000), "real", 20000, "");
    assert_eq!(opened(&a), [20000, 20001]);
    assert_eq!(rtp(&mut e, t(20_100), PEER, 20000).0, Verdict::Accept);
}

#[test]
fn stray_responses_count_toward_the_flood_limit() {
    let mut e = engine(SIP_PINHOLE);
    let mut all = Vec::new();
    for n in 0..31u32 {
        let ok = resp("200 OK", &format!("stray-{n}"), "1 INVITE", "", None);
        sip_in(&mut e, t(0), ATTACKER, &ok);
        all.extend(actions(&mut e));
    }
    assert_eq!(bans(&all), [(ip(ATTACKER), BanReason::Flood)]);
}

#[test]
fn unanswered_invites_from_one_source_cannot_take_the_call_table() {
    let mut e = engine(&format!("{SIP_PINHOLE}{NO_FLOOD}"));
    for n in 0..25_000u32 {
        let invite = req("INVITE", &format!("junk-{n}"), "1 INVITE", "", None);
        sip_in(&mut e, t(u64::from(n / 10)), ATTACKER, &invite);
    }
    assert_eq!(
        e.pinholes().calls_of(ip(ATTACKER)),
        sipwall_engine::pinhole::MAX_CALLS_PER_SOURCE,
        "one source holds at most its share, its oldest evicted first"
    );
    let a = call(&mut e, t(10_000), "real", 20000, "");
    assert_eq!(opened(&a), [20000, 20001]);
}

#[test]
fn a_bye_or_cancel_from_outside_the_call_does_not_close_its_pinholes() {
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-bye", 20000, "");
    sip_in(
        &mut e,
        t(100),
        ATTACKER,
        &req("BYE", "c-bye", "2 BYE", "", None),
    );
    sip_in(
        &mut e,
        t(110),
        ATTACKER,
        &req("CANCEL", "c-bye", "1 CANCEL", "", None),
    );
    sip_in(
        &mut e,
        t(120),
        ATTACKER,
        &resp("486 Busy Here", "c-bye", "1 INVITE", "", None),
    );
    assert!(
        closed(&actions(&mut e), CloseReason::CallEnded).is_empty(),
        "only the call's endpoints end it"
    );
    assert_eq!(rtp(&mut e, t(200), PEER, 20000).0, Verdict::Accept);
    // A re-INVITE from outside cannot move the media either.
    sip_in(
        &mut e,
        t(300),
        ATTACKER,
        &req(
            "INVITE",
            "c-bye",
            "3 INVITE",
            "",
            Some(sdp(ATTACKER, 4000, "")),
        ),
    );
    sip_out(
        &mut e,
        t(310),
        ATTACKER,
        &resp(
            "200 OK",
            "c-bye",
            "3 INVITE",
            "",
            Some(sdp(HOST, 20010, "")),
        ),
    );
    assert!(opened(&actions(&mut e)).is_empty());
    sip_in(
        &mut e,
        t(400),
        PEER,
        &req("BYE", "c-bye", "2 BYE", "", None),
    );
    assert_eq!(
        closed(&actions(&mut e), CloseReason::CallEnded),
        [20000, 20001]
    );
}

#[test]
fn unanswered_requests_from_one_source_cannot_push_out_anothers_transactions() {
    let mut e = engine(&format!("{SIP_PINHOLE}{NO_FLOOD}"));
    register_attempt(&mut e, t(0), PEER, 1, false, "401 Unauthorized");
    // The peer's authenticated REGISTER waits for its answer...
    sip_in(
        &mut e,
        t(10),
        PEER,
        &req("REGISTER", "r-p", "2 REGISTER", AUTH, None),
    );
    // ...while a source that never waits fills more than the whole table.
    for n in 0..70_000u32 {
        let r = req("REGISTER", &format!("junk-{n}"), "1 REGISTER", "", None);
        sip_in(&mut e, t(20 + u64::from(n / 100)), ATTACKER, &r);
    }
    sip_out(
        &mut e,
        t(800),
        PEER,
        &resp("200 OK", "r-p", "2 REGISTER", "", None),
    );
    assert!(
        e.is_verified(t(900), ip(PEER)),
        "the peer's registration was still known when its answer came"
    );
}

// --- TCP reassembly -----------------------------------------------------------

fn tcp_seg(src: IpAddr, sport: u16, fin_or_rst: bool, payload: &[u8]) -> Packet<'_> {
    Packet {
        src,
        dst: ip(HOST),
        transport: Transport::Tcp {
            sport,
            dport: 5060,
            syn: false,
            ack: true,
            rst: false,
            fin_or_rst,
        },
        payload,
    }
}

#[test]
fn unfinished_tcp_streams_cannot_blind_the_guard_to_a_new_scanner() {
    let mut e = engine(SIP_PINHOLE);
    // 70,000 connections each leave 2 KB of a message unfinished: 140 MB
    // if nothing gave way, and more streams than the old table's 65,536.
    let partial = format!(
        "INVITE sip:200@{HOST} SIP/2.0\r\nX-Pad: {}\r\n",
        "a".repeat(2000)
    );
    for i in 0..70_000u32 {
        let src = IpAddr::from(std::net::Ipv4Addr::from(0x0B00_0000 + i));
        let d = e.handle_packet(
            t(u64::from(i / 100)),
            Direction::In,
            &tcp_seg(src, 40000, false, partial.as_bytes()),
        );
        assert_eq!(d.verdict, Verdict::Accept);
    }
    let s = e.streams();
    assert!(
        s.bytes() <= sipwall_engine::reassembly::DEFAULT_BUDGET,
        "{} bytes buffered",
        s.bytes()
    );
    assert!(s.bytes() <= 64 * 1024 * 1024 && s.len() <= 65_536);
    assert!(s.evicted() > 0, "the least recent gave way");
    // A new scanner over TCP is still read and banned.
    let probe = req(
        "OPTIONS",
        "tcp-new",
        "1 OPTIONS",
        "User-Agent: friendly-scanner\r\n",
        None,
    );
    let d = e.handle_packet(
        t(800),
        Direction::In,
        &tcp_seg(ip(ATTACKER), 40001, false, probe.as_bytes()),
    );
    assert!(
        matches!(d.by, DecidedBy::Guard(BanReason::ScannerUserAgent(_))),
        "{d:?}"
    );
}

#[test]
fn a_reassembly_buffer_ends_with_its_connection() {
    let mut e = engine(SIP_PINHOLE);
    let half = b"OPTIONS sip:200@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP x";
    e.handle_packet(t(0), Direction::In, &tcp_seg(ip(PEER), 40000, false, half));
    assert_eq!(e.streams().len(), 1);
    e.handle_packet(t(10), Direction::In, &tcp_seg(ip(PEER), 40000, true, b""));
    assert_eq!(e.streams().len(), 0, "FIN or RST ends it");
    e.handle_packet(t(20), Direction::In, &tcp_seg(ip(PEER), 40002, false, half));
    assert_eq!(e.streams().len(), 1);
    // The flow times out unanswered (conntrack's 120 s): its buffer goes
    // too, at the sweep the next packet brings.
    e.handle_packet(
        t(130_000),
        Direction::In,
        &tcp_seg(ip(PEER), 40004, true, b""),
    );
    assert_eq!(e.streams().len(), 0, "ended with its flow");
    assert_eq!(e.streams().bytes(), 0);
}

// --- bytes ------------------------------------------------------------------

#[test]
fn unanswered_registers_with_an_8kb_to_user_are_held_in_bounded_bytes() {
    let mut e = engine(&format!("{SIP_PINHOLE}{NO_FLOOD}"));
    // As long as a header line may be (8 KiB, the parser's limit).
    let user = |n: u32| format!("{n:05}{}", "u".repeat(8_000));
    for n in 0..16_384u32 {
        // Sixteen sources, so the per-source cap is not what bounds it.
        let src = format!("203.0.113.{}", 100 + n % 16);
        let msg = req("REGISTER", &format!("big-{n}"), "1 REGISTER", "", None)
            .replace("To: <sip:200@", &format!("To: <sip:{}@", user(n)));
        sip_in(&mut e, t(u64::from(n / 10)), &src, &msg);
    }
    let tx = e.transactions();
    assert_eq!(tx.len(), 16_384, "every one is held");
    // Uncapped, the accounts alone were 16,384 x 8 KB = 131 MB.
    assert!(tx.bytes() <= 16_384 * 512, "{} bytes", tx.bytes());
    // Their answers carry capped accounts into evidence.
    let mut all = Vec::new();
    for n in 0..10u32 {
        let call_id = format!("big-{}", n * 16);
        sip_out(
            &mut e,
            t(5000),
            "203.0.113.100",
            &resp("404 Not Found", &call_id, "1 REGISTER", "", None),
        );
        all.extend(actions(&mut e));
    }
    let evidence = all
        .iter()
        .find_map(|a| match a {
            Action::Ban {
                reason: BanReason::Enumeration,
                evidence,
                ..
            } => Some(evidence.clone()),
            _ => None,
        })
        .expect("an enumeration ban");
    assert!(
        evidence.len() <= 300,
        "{} bytes: {evidence}",
        evidence.len()
    );
}

#[test]
fn a_gateway_that_answers_the_hosts_options_ping_is_verified_a_forged_answer_is_not() {
    let mut e = engine(SIP_PINHOLE);
    let ping = |branch: &str| {
        format!(
            "OPTIONS sip:{PEER} SIP/2.0\r\nVia: SIP/2.0/UDP {HOST}:5060;branch={branch}\r\nFrom: <sip:gw@{HOST}>;tag=p1\r\n\
             To: <sip:{PEER}>\r\nCall-ID: ping-{branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let ok = |branch: &str| {
        ping(branch)
            .replacen(&format!("OPTIONS sip:{PEER} SIP/2.0"), "SIP/2.0 200 OK", 1)
            .replace("To: <sip:203.0.113.9>", "To: <sip:203.0.113.9>;tag=gw")
    };
    // A 200 echoing a branch the host never sent, or sent elsewhere: nothing.
    sip_out(&mut e, t(0), ATTACKER, &ping("z9hG4bK-to-attacker"));
    sip_in(&mut e, t(10), PEER, &ok("z9hG4bK-to-attacker"));
    sip_in(&mut e, t(20), PEER, &ok("z9hG4bK-guessed"));
    assert!(!e.is_verified(t(30), ip(PEER)));
    sip_out(&mut e, t(40), PEER, &ping("z9hG4bK-to-peer"));
    sip_in(&mut e, t(50), PEER, &ok("z9hG4bK-to-peer"));
    assert!(
        e.is_verified(t(60), ip(PEER)),
        "the gateway answered our ping"
    );
    assert_eq!(
        forged_scanner_options(&mut e, t(100), PEER).0,
        Verdict::Accept
    );
}

#[test]
fn ipv6_source_rotation_inside_one_64_gets_the_64_banned_not_thousands_of_addresses() {
    let mut e = engine(SIP_PINHOLE);
    e.aggregate_prefixes(sipwall_engine::bans::PrefixPolicy::default());
    let probe = req(
        "OPTIONS",
        "rot",
        "1 OPTIONS",
        "User-Agent: friendly-scanner\r\n",
        None,
    );
    let mut all = Vec::new();
    for i in 1..=1000u32 {
        let src = format!("2001:db8:0:7::{i:x}");
        udp(
            &mut e,
            t(u64::from(i)),
            Direction::In,
            (&src, 5060),
            ("2001:db8::1", 5060),
            probe.as_bytes(),
        );
        all.extend(actions(&mut e));
    }
    assert_eq!(bans(&all).len(), 8, "eight addresses, then the prefix");
    let prefixes: Vec<String> = all
        .iter()
        .filter_map(|a| match a {
            Action::BanPrefix { prefix, .. } => Some(prefix.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(prefixes, ["2001:db8:0:7::/64"]);
    let (v, _) = udp(
        &mut e,
        t(2000),
        Direction::In,
        ("2001:db8:0:7::ffff", 5060),
        ("2001:db8::1", 5060),
        b"OPTIONS sip:x SIP/2.0\r\n\r\n",
    );
    assert_eq!(v, Verdict::Drop, "the whole /64 is banned");
}

#[test]
fn an_invite_with_sdp_the_parser_refuses_still_sets_up_its_call() {
    // SIPp writes `c=IN IP6 [2001:db8::2]`: the INVITE does not parse, but
    // it is still the INVITE that makes the call the answer's SDP opens.
    let mut e = engine(SIP_PINHOLE);
    let bracketed = "v=0\r\no=- 1 1 IN IP6 [2001:db8::2]\r\ns=-\r\nc=IN IP6 [2001:db8::2]\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    sip_in(
        &mut e,
        t(0),
        PEER,
        &req("INVITE", "c-br", "1 INVITE", "", Some(bracketed.into())),
    );
    assert_eq!(e.stats().malformed, 1);
    sip_out(
        &mut e,
        t(10),
        PEER,
        &resp("200 OK", "c-br", "1 INVITE", "", Some(sdp(HOST, 20000, ""))),
    );
    assert_eq!(opened(&actions(&mut e)), [20000, 20001]);
}

// --- H.323 ------------------------------------------------------------------

/// A TPKT'd Q.931 Connect whose H.225 body (aligned PER) announces `h245`.
fn q931_connect(h245: [u8; 4], port: u16) -> Vec<u8> {
    let mut per = vec![
        0b0000_0010,
        0b0100_0000,
        6,
        0x00,
        0x08,
        0x91,
        0x4a,
        0x00,
        0x04,
        0,
    ];
    per.extend(h245);
    per.extend(port.to_be_bytes());
    per.extend([0; 18]);
    let mut q = vec![0x08, 2, 0x80, 0x01, 0x07, 0x7e];
    q.extend(u16::try_from(per.len() + 1).unwrap().to_be_bytes());
    q.push(0x05);
    q.extend(per);
    let mut t = vec![3, 0];
    t.extend(u16::try_from(q.len() + 4).unwrap().to_be_bytes());
    t.extend(q);
    t
}

/// Writes aligned PER, most significant bit first.
#[derive(Default)]
struct Per {
    out: Vec<u8>,
    at: usize,
}

impl Per {
    fn bits(&mut self, v: u32, n: usize) -> &mut Self {
        for i in (0..n).rev() {
            if self.at % 8 == 0 {
                self.out.push(0);
            }
            *self.out.last_mut().unwrap() |= u8::from((v >> i) & 1 == 1) << (7 - self.at % 8);
            self.at += 1;
        }
        self
    }
    fn octets(&mut self, o: &[u8]) -> &mut Self {
        self.at = self.at.next_multiple_of(8);
        self.out.extend(o);
        self.at += o.len() * 8;
        self
    }
}

/// A TPKT'd H.245 OpenLogicalChannelAck announcing RTP at `rtp` (and
/// RTCP one port up) on `addr`.
fn olc_ack(addr: [u8; 4], rtp: u16) -> Vec<u8> {
    let mut ack = Per::default();
    ack.bits(0, 2).bits(0b01110, 5).bits(0, 8);
    for port in [rtp, rtp + 1] {
        ack.bits(0, 7).octets(&addr).octets(&port.to_be_bytes());
    }
    let mut m = Per::default();
    // response / openLogicalChannelAck, extended, channel 1, 4 additions
    // with the second (forwardMultiplexAckParameters) present.
    m.bits(1, 3).bits(5, 6).bits(0b10, 2).octets(&[0, 1]);
    m.bits(3, 7).bits(0b0100, 4);
    m.octets(&[u8::try_from(ack.out.len()).unwrap()])
        .octets(&ack.out);
    let mut t = vec![3, 0];
    t.extend(u16::try_from(m.out.len() + 4).unwrap().to_be_bytes());
    t.extend(&m.out);
    t
}

fn segment<'a>(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: &str,
    payload: &'a [u8],
) -> Packet<'a> {
    Packet {
        src: ip(src),
        dst: ip(dst),
        transport: Transport::Tcp {
            sport,
            dport,
            syn: flags.contains('S'),
            ack: flags.contains('A'),
            rst: false,
            fin_or_rst: false,
        },
        payload,
    }
}

#[test]
fn an_h245_address_announced_in_a_q931_connect_admits_the_peers_h245_connection() {
    // nf_conntrack_h323 expects the H.245 connection a Connect announces;
    // the engine judged it new (refused by default deny) where the kernel
    // had it related.
    let policy = "[services.h323]\nkind = \"h323-q931\"\nallow = [\"any\"]\n";
    let mut e = engine(policy);
    let connect = q931_connect([192, 0, 2, 1], 30000);
    let steps = [
        (Direction::In, segment(PEER, 40000, HOST, 1720, "S", b"")),
        (Direction::Out, segment(HOST, 1720, PEER, 40000, "SA", b"")),
        (Direction::In, segment(PEER, 40000, HOST, 1720, "A", b"")),
        (
            Direction::Out,
            segment(HOST, 1720, PEER, 40000, "A", &connect),
        ),
    ];
    for (i, (dir, p)) in steps.iter().enumerate() {
        let d = e.handle_packet(t(i as u64), *dir, p);
        assert_eq!(d.verdict, Verdict::Accept, "step {i}");
    }
    let judge = |e: &mut Engine, src, dport| {
        let d = e.handle_packet(
            t(10),
            Direction::In,
            &segment(src, 40001, HOST, dport, "S", b""),
        );
        (d.verdict, e.describe(&d.by))
    };
    assert_eq!(
        judge(&mut e, ATTACKER, 30000).0,
        Verdict::Reject,
        "not from the peer"
    );
    assert_eq!(
        judge(&mut e, PEER, 30001).0,
        Verdict::Reject,
        "not announced"
    );
    assert_eq!(
        judge(&mut e, PEER, 30000),
        (Verdict::Accept, "established, related".to_owned())
    );
    // On that H.245 connection the host acknowledges a logical channel:
    // RTP and RTCP to it are expected from the peer.
    let ack = olc_ack([192, 0, 2, 1], 12000);
    e.handle_packet(
        t(11),
        Direction::Out,
        &segment(HOST, 30000, PEER, 40001, "SA", b""),
    );
    e.handle_packet(
        t(12),
        Direction::In,
        &segment(PEER, 40001, HOST, 30000, "A", b""),
    );
    e.handle_packet(
        t(13),
        Direction::Out,
        &segment(HOST, 30000, PEER, 40001, "A", &ack),
    );
    let mut media = |src, dport| {
        let d = e.handle_packet(
            t(14),
            Direction::In,
            &Packet {
                src: ip(src),
                dst: ip(HOST),
                transport: Transport::Udp { sport: 7000, dport },
                payload: &[0x80; 20],
            },
        );
        (d.verdict, e.describe(&d.by))
    };
    assert_eq!(
        media(ATTACKER, 12000).0,
        Verdict::Reject,
        "not from the peer"
    );
    assert_eq!(media(PEER, 12002).0, Verdict::Reject, "not announced");
    for port in [12000, 12001] {
        assert_eq!(
            media(PEER, port),
            (Verdict::Accept, "established, related".to_owned()),
            "port {port}"
        );
    }
    // Without the Q.931 helper (no H.323 service) nothing is expected.
    let mut e = engine("[services.other]\nkind = \"custom\"\nports = [1720]\nprotocols = [\"tcp\"]\nallow = [\"any\"]\n");
    for (i, (dir, p)) in steps.iter().enumerate() {
        e.handle_packet(t(i as u64), *dir, p);
    }
    assert_eq!(judge(&mut e, PEER, 30000).0, Verdict::Reject);
}

// --- packets the kernel accepted (the daemon) -------------------------------

fn udp_bytes(src: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(HOST)) else {
        panic!("IPv4 only")
    };
    let mut out = Vec::new();
    etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
        .udp(sport, dport)
        .write(&mut out, payload)
        .expect("a packet");
    out
}

/// The daemon judged again, by its own model of the ruleset and a
/// conntrack that sees only SIP ports, packets the kernel had already let
/// through: where the model and the kernel disagreed, the model won.
#[test]
fn a_packet_the_kernel_accepted_is_not_judged_by_the_rules_again() {
    let mut e = engine(SIP_PINHOLE);
    // RTP to a port no pinhole opened: the rules refuse it...
    let rtp = udp_bytes(PEER, 40000, 20000, &[0x80; 172]);
    let p = Packet::parse(&rtp).expect("a packet");
    assert_ne!(
        e.handle_packet(t(0), Direction::In, &p).verdict,
        Verdict::Accept
    );
    // ...but once the kernel accepted it, that is not the engine's to undo.
    assert_eq!(
        e.handle_accepted(t(1), Direction::In, &rtp),
        Verdict::Accept
    );
    assert_eq!(
        e.handle_accepted(t(2), Direction::In, b"\x45 not an ip packet"),
        Verdict::Drop,
        "unreadable bytes"
    );
}

#[test]
fn a_scanner_is_dropped_inline_until_the_kernels_ban_set_catches_up() {
    let mut e = engine(SIP_PINHOLE);
    let probe = req(
        "OPTIONS",
        "s",
        "1 OPTIONS",
        "User-Agent: friendly-scanner\r\n",
        None,
    );
    let bytes = udp_bytes(ATTACKER, 5060, 5060, probe.as_bytes());
    assert_eq!(
        e.handle_accepted(t(0), Direction::In, &bytes),
        Verdict::Drop
    );
    assert!(
        matches!(bans(&actions(&mut e))[..], [(a, BanReason::ScannerUserAgent(_))] if a == ip(ATTACKER))
    );
    // Queued behind the first, before the kernel's set holds the ban.
    let later = udp_bytes(ATTACKER, 5060, 5060, b"OPTIONS");
    assert_eq!(
        e.handle_accepted(t(1), Direction::In, &later),
        Verdict::Drop
    );
    assert_eq!(e.stats().dropped, 2);
    let calm = udp_bytes(PEER, 5060, 5060, b"\r\n\r\n");
    assert_eq!(
        e.handle_accepted(t(2), Direction::In, &calm),
        Verdict::Accept
    );
}

fn tcp_bytes(
    (src, sport): (&str, u16),
    (dst, dport): (&str, u16),
    syn: bool,
    ack: bool,
    payload: &[u8],
) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(dst)) else {
        panic!("IPv4 only")
    };
    let mut b =
        etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64).tcp(sport, dport, 1, 64_000);
    if syn {
        b = b.syn();
    }
    if ack {
        b = b.ack(1);
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("a packet");
    out
}

/// Without the rules, the daemon still tells a stream whose handshake the
/// host answered (return-routable) from a segment anyone could forge.
#[test]
fn a_scanner_over_a_tcp_stream_the_host_answered_is_banned_inline_even_from_a_verified_source() {
    let probe: &[u8] = b"OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP 203.0.113.9:40000;branch=z9hG4bK-t\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: tcp-scan\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n";
    // A segment with no handshake before it: the peer's verified address
    // shields it from forged evidence.
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-verified", 20000, "");
    let forged = tcp_bytes((PEER, 40000), (HOST, 5060), false, true, probe);
    assert_eq!(
        e.handle_accepted(t(1000), Direction::In, &forged),
        Verdict::Accept
    );
    assert!(!e.bans().is_banned(t(1000), ip(PEER)));
    // After a handshake the host answered, the stream is the peer's own.
    let mut e = engine(SIP_PINHOLE);
    call(&mut e, t(0), "c-verified", 20000, "");
    for (at, dir, bytes) in [
        (
            1000,
            Direction::In,
            tcp_bytes((PEER, 40000), (HOST, 5060), true, false, b""),
        ),
        (
            1001,
            Direction::Out,
            tcp_bytes((HOST, 5060), (PEER, 40000), true, true, b""),
        ),
        (
            1002,
            Direction::In,
            tcp_bytes((PEER, 40000), (HOST, 5060), false, true, b""),
        ),
    ] {
        assert_eq!(e.handle_accepted(t(at), dir, &bytes), Verdict::Accept);
    }
    let probe = tcp_bytes((PEER, 40000), (HOST, 5060), false, true, probe);
    assert_eq!(
        e.handle_accepted(t(1003), Direction::In, &probe),
        Verdict::Drop
    );
    assert!(e.bans().is_banned(t(1003), ip(PEER)));
}
