//! `sipwall replay` end to end: captures written by the test in every
//! supported link type and format, the shared sipvicious capture, and the
//! lab captures of `tests/captures/` (recorded with real tools, see
//! `tests/captures/README.md`).

mod capture;
use capture::{frame, lab_capture, tcp4, udp4, udp6, write_pcap, write_pcapng};

use pcap_file::DataLink;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const HOST: [u8; 4] = [192, 0, 2, 1];
const PEER: [u8; 4] = [203, 0, 113, 9];
const HOST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const PEER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];

/// The sipvicious capture, or `None` (the reason printed) where `../shared` is absent.
fn shared_scan() -> Option<String> {
    sipwall_testdata::shared("testdata/pcap/svmap-svwar-svcrack.pcap")
        .map(|p| p.display().to_string())
}

const SIP_ONLY: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n";
const PINHOLE: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\npinhole_timeout = \"30s\"\n";

fn sipwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .output()
        .expect("run sipwall")
}

/// Replays with `policy` and returns the JSON document (exit code checked).
fn replay_json(dir: &tempfile::TempDir, policy: &str, extra: &[&str], code: i32) -> Value {
    let p = dir.path().join("policy.toml");
    std::fs::write(&p, policy).unwrap();
    let mut args = vec!["replay", "-c", p.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    let out = sipwall(&args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "sipwall {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn packets(v: &Value) -> &Vec<Value> {
    v["packets"].as_array().expect("packets")
}

fn sip(start: &str, cseq: &str, sdp: Option<(&str, u16)>) -> Vec<u8> {
    let body = sdp.map_or(String::new(), |(addr, port)| {
        let fam = if addr.contains(':') { "IP6" } else { "IP4" };
        format!("v=0\r\no=- 1 1 IN {fam} {addr}\r\ns=-\r\nc=IN {fam} {addr}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n")
    });
    let ct = if sdp.is_some() {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK-{}\r\nFrom: <sip:100@example.com>;tag=a1\r\n\
         To: <sip:200@example.com>\r\nCall-ID: replay-test-1\r\nCSeq: {cseq}\r\nMax-Forwards: 70\r\n\
         User-Agent: test-phone\r\nContact: <sip:100@203.0.113.9>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        cseq.replace(' ', "-"),
        body.len()
    )
    .into_bytes()
}

const T0: u64 = 1_700_000_000_000_000;

/// A call with pinhole media, and a few packets for the other rules:
/// (capture time in microseconds, IP packet).
fn call() -> Vec<(u64, Vec<u8>)> {
    let ms = |m: u64| T0 + m * 1000;
    let mut v = vec![
        (
            ms(0),
            udp4(
                PEER,
                5060,
                HOST,
                5060,
                &sip(
                    "INVITE sip:200@192.0.2.1 SIP/2.0",
                    "1 INVITE",
                    Some(("203.0.113.9", 40000)),
                ),
            ),
        ),
        (
            ms(10),
            udp4(
                HOST,
                5060,
                PEER,
                5060,
                &sip("SIP/2.0 200 OK", "1 INVITE", Some(("192.0.2.1", 20000))),
            ),
        ),
        (
            ms(20),
            udp4(
                PEER,
                5060,
                HOST,
                5060,
                &sip("ACK sip:200@192.0.2.1 SIP/2.0", "1 ACK", None),
            ),
        ),
    ];
    v.push((ms(100), udp4(PEER, 40000, HOST, 20000, &[0x80; 172])));
    // The host's RTP back: from now on conntrack sees the flow as
    // established (a UDP flow seen one way only stays NEW).
    v.push((ms(101), udp4(HOST, 20000, PEER, 40000, &[0x80; 172])));
    for i in 1..5 {
        v.push((
            ms(100 + 20 * i),
            udp4(PEER, 40000, HOST, 20000, &[0x80; 172]),
        ));
    }
    v.push((
        ms(2000),
        udp4(
            PEER,
            5060,
            HOST,
            5060,
            &sip("BYE sip:200@192.0.2.1 SIP/2.0", "2 BYE", None),
        ),
    ));
    // After BYE: the same RTP flow rides on conntrack, a new one is refused.
    v.push((ms(2100), udp4(PEER, 40000, HOST, 20000, &[0x80; 172])));
    v.push((ms(2120), udp4(PEER, 40002, HOST, 20000, &[0x80; 172])));
    v.push((
        ms(2200),
        udp6(
            PEER6,
            5060,
            HOST6,
            5060,
            &sip("OPTIONS sip:200@[2001:db8::1] SIP/2.0", "3 OPTIONS", None),
        ),
    ));
    v.push((ms(2300), udp4(PEER, 3333, HOST, 9999, b"probe")));
    v.push((ms(2400), tcp4(PEER, 45000, HOST, 5060, "S", &[])));
    v
}

fn verdicts(v: &Value) -> Vec<(String, String)> {
    packets(v)
        .iter()
        .map(|p| {
            (
                p["verdict"].as_str().unwrap().to_owned(),
                p["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_call_opens_and_closes_a_pinhole_and_every_link_type_replays_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let call = call();
    let mut runs = Vec::new();
    for link in [
        DataLink::ETHERNET,
        DataLink::LINUX_SLL,
        DataLink::LINUX_SLL2,
        DataLink::RAW,
        DataLink::NULL,
        DataLink::LOOP,
    ] {
        let frames: Vec<_> = call.iter().map(|(t, ip)| (*t, frame(link, ip))).collect();
        let path = dir.path().join(format!("{link:?}.pcap"));
        write_pcap(&path, link, &frames);
        if link == DataLink::ETHERNET {
            let ng = dir.path().join("ethernet.pcapng");
            write_pcapng(&ng, link, &frames);
            runs.push(("pcapng", ng));
        }
        runs.push(("pcap", path));
    }
    let mut first: Option<Value> = None;
    for (kind, path) in &runs {
        let v = replay_json(
            &dir,
            PINHOLE,
            &[
                path.to_str().unwrap(),
                "--host",
                "192.0.2.1",
                "--host",
                "2001:db8::1",
            ],
            0,
        );
        match &first {
            None => first = Some(v),
            Some(f) => assert_eq!(
                packets(f),
                packets(&v),
                "{kind} {} replays like the first capture",
                path.display()
            ),
        }
    }
    let v = first.unwrap();
    let got = verdicts(&v);
    let rule = |i: usize| got[i].1.as_str();
    assert_eq!(got.len(), call.len());
    assert_eq!(got[0].0, "accept", "INVITE: {got:?}");
    assert!(rule(0).starts_with("services.sip"), "{got:?}");
    assert_eq!(rule(1), "output (not filtered)");
    // The 200 OK's SDP opened the pinhole: the first RTP packet is accepted by it.
    let opened = &packets(&v)[1]["actions"][0];
    assert_eq!(opened["kind"], "open-pinhole", "{opened}");
    assert_eq!(opened["port"], 20000);
    assert_eq!(
        got[3],
        ("accept".into(), "media pinholes (sipwall run)".into())
    );
    assert_eq!(rule(4), "output (not filtered)");
    assert!(
        got[5..9]
            .iter()
            .all(|(v, r)| v == "accept" && r == "established, related"),
        "{got:?}"
    );
    let bye = &packets(&v)[9]["actions"];
    assert!(
        bye.as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "close-pinhole" && a["reason"] == "call-ended"),
        "BYE closes the pinhole: {bye}"
    );
    assert_eq!(got[10].1, "established, related", "{got:?}");
    assert_eq!(
        got[11],
        ("reject".into(), "default deny".into()),
        "a new RTP flow after BYE"
    );
    assert_eq!(got[12].0, "accept", "SIP over IPv6: {got:?}");
    assert_eq!(packets(&v)[12]["src"], "[2001:db8::9]:5060");
    assert_eq!(got[13], ("reject".into(), "default deny".into()));
    assert_eq!(packets(&v)[14]["proto"], "tcp");
    assert!(got[14].1.starts_with("services.sip"), "{got:?}");
    // Capture time is the engine's time, to the microsecond.
    assert_eq!(
        packets(&v)[9]["time"].as_f64().unwrap(),
        (T0 + 2_000_000) as f64 / 1e6
    );
    let s = &v["summary"];
    // RTP and RTCP (20000 and 20001).
    assert_eq!(s["pinholes"]["opened"], 2);
    assert_eq!(s["pinholes"]["closed"], 2);
    assert_eq!(s["bans"].as_array().unwrap().len(), 0);
    assert_eq!(s["verdicts"]["reject"], 2);
    assert_eq!(s["packets"]["in"], 13);
    assert_eq!(s["packets"]["out"], 2);
}

#[test]
fn a_pinhole_runs_out_on_the_captures_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames: Vec<_> = call().into_iter().take(4).collect();
    // 40 s of silence, more than the policy's 30 s pinhole timeout, then a
    // new RTP flow: the pinhole expired on a timer, not at this packet.
    frames.push((
        T0 + 40_000_000,
        udp4(PEER, 40004, HOST, 20000, &[0x80; 172]),
    ));
    let path = dir.path().join("gap.pcap");
    let framed: Vec<_> = frames
        .iter()
        .map(|(t, ip)| (*t, frame(DataLink::RAW, ip)))
        .collect();
    write_pcap(&path, DataLink::RAW, &framed);
    let v = replay_json(&dir, PINHOLE, &[path.to_str().unwrap()], 0);
    let timers = v["timers"].as_array().unwrap();
    let expiry = timers
        .iter()
        .find(|t| {
            t["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["reason"] == "expired")
        })
        .unwrap_or_else(|| panic!("an expiry timer: {timers:?}"));
    let at = expiry["time"].as_f64().unwrap();
    assert!(
        at < (T0 + 40_000_000) as f64 / 1e6 && at >= (T0 + 30_000_000) as f64 / 1e6,
        "expired at its deadline, {at}"
    );
    assert_eq!(packets(&v).last().unwrap()["verdict"], "reject");
}

#[test]
fn the_shared_sipvicious_capture_bans_the_scanner_at_its_first_packet() {
    let Some(shared_scan) = shared_scan() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let v = replay_json(&dir, SIP_ONLY, &[&shared_scan], 0);
    // The server of that capture is .2: inferred from the first request.
    assert_eq!(v["hosts"], serde_json::json!(["192.0.2.2"]));
    let p = packets(&v);
    assert_eq!(p[0]["src"], "192.0.2.1:5060");
    assert_eq!(p[0]["verdict"], "drop");
    assert_eq!(p[0]["by"], "guard");
    let ban = &p[0]["actions"][0];
    assert_eq!(ban["kind"], "ban");
    assert_eq!(ban["reason_kind"], "scanner");
    let rest: Vec<_> = p[1..].iter().filter(|x| x["dir"] == "in").collect();
    assert!(rest.len() > 10, "svwar and svcrack follow: {}", rest.len());
    for x in rest {
        assert_eq!(
            (x["verdict"].as_str(), x["rule"].as_str()),
            (Some("drop"), Some("bans (sipwall run)")),
            "{x}"
        );
    }
    let bans = v["summary"]["bans"].as_array().unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0]["addr"], "192.0.2.1");
    assert_eq!(bans[0]["n"], 1);
}

#[test]
fn text_output_has_a_line_per_packet_and_the_summary() {
    let Some(shared_scan) = shared_scan() else {
        return;
    };
    let p = Path::new(&shared_scan);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, SIP_ONLY).unwrap();
    let out = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(
            "#1 +0.000000 192.0.2.1:5060 -> 192.0.2.2:5060 udp in drop (guard: scanner"
        ) && first.contains("[ban 192.0.2.1 until +3600.000000"),
        "{first}"
    );
    assert!(
        text.contains("\nbans: 1\n  192.0.2.1 +0.000000 at packet #1"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("protected host 192.0.2.2"), "{stderr}");
    let quiet = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        "--summary-only",
        p.to_str().unwrap(),
    ]);
    let quiet = String::from_utf8_lossy(&quiet.stdout);
    assert!(quiet.starts_with("summary: 28 frames"), "{quiet}");
}

#[test]
fn frames_not_ip_or_not_for_the_host_are_counted_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let mut arp = vec![0xff; 6];
    arp.extend([2, 0, 0, 0, 0, 9, 0x08, 0x06]);
    arp.extend([0; 28]);
    let other = frame(
        DataLink::ETHERNET,
        &udp4(PEER, 5060, [198, 51, 100, 7], 5060, b"OPTIONS x"),
    );
    let mut cut = frame(DataLink::ETHERNET, &udp4(PEER, 1, HOST, 2, &[0; 100]));
    cut.truncate(40);
    let path = dir.path().join("mixed.pcap");
    write_pcap(
        &path,
        DataLink::ETHERNET,
        &[(T0, arp), (T0 + 1, other), (T0 + 2, cut)],
    );
    let v = replay_json(
        &dir,
        SIP_ONLY,
        &[path.to_str().unwrap(), "--host", "192.0.2.1"],
        0,
    );
    assert!(packets(&v).is_empty(), "{v}");
    let s = &v["summary"]["packets"];
    assert_eq!(
        (s["not_ip"].as_u64(), s["elsewhere"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(s["unreadable"], 1, "{s}");
}

#[test]
fn without_host_and_without_a_sip_request_it_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rtp.pcap");
    write_pcap(
        &path,
        DataLink::RAW,
        &[(T0, udp4(PEER, 40000, HOST, 20000, &[0x80; 20]))],
    );
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, SIP_ONLY).unwrap();
    let out = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--host"));
}

#[test]
fn unreadable_and_damaged_captures_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let out = sipwall(&["replay", "--host", "192.0.2.1", junk.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A capture cut in the middle of its last record: the packets before
    // the cut are still judged and reported.
    let path = dir.path().join("cut.pcap");
    let frames: Vec<_> = call()
        .into_iter()
        .map(|(t, ip)| (t, frame(DataLink::RAW, &ip)))
        .collect();
    write_pcap(&path, DataLink::RAW, &frames);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let v = replay_json(
        &dir,
        PINHOLE,
        &[
            path.to_str().unwrap(),
            "--host",
            "192.0.2.1",
            "--host",
            "2001:db8::1",
        ],
        2,
    );
    assert_eq!(packets(&v).len(), frames.len() - 1);
    let problems = v["summary"]["problems"].as_array().unwrap();
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .contains("stopped after frame"),
        "{problems:?}"
    );
}

/// The bans of a replay: (address, reason kind, reason, packet number).
fn bans_of(v: &Value) -> Vec<(String, String, String, u64)> {
    v["summary"]["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["addr"].as_str().unwrap().to_owned(),
                b["reason_kind"].as_str().unwrap().to_owned(),
                b["reason"].as_str().unwrap().to_owned(),
                b["n"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn lab_sipp_call_opens_a_pinhole_its_rtp_uses_and_bye_closes() {
    let dir = tempfile::tempdir().unwrap();
    let v = replay_json(&dir, PINHOLE, &[&lab_capture("sipp-call.pcap")], 0);
    assert!(bans_of(&v).is_empty(), "{:?}", bans_of(&v));
    let p = packets(&v);
    let opened = p
        .iter()
        .position(|x| {
            x["actions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["kind"] == "open-pinhole")
        })
        .expect("a pinhole opened");
    assert_eq!(p[opened]["dir"], "out", "the server's SDP answer opens it");
    let first_rtp = p
        .iter()
        .find(|x| x["dir"] == "in" && x["dst"] == "192.0.2.1:20000")
        .expect("RTP to the server");
    assert_eq!(first_rtp["verdict"], "accept");
    assert_eq!(first_rtp["rule"], "media pinholes (sipwall run)");
    let rtp_in = p
        .iter()
        .filter(|x| x["dir"] == "in" && x["dst"] == "192.0.2.1:20000");
    assert!(rtp_in.clone().count() > 50, "two seconds of RTP");
    assert!(rtp_in.clone().all(|x| x["verdict"] == "accept"));
    let closed = p
        .iter()
        .flat_map(|x| x["actions"].as_array().unwrap())
        .filter(|a| a["kind"] == "close-pinhole" && a["reason"] == "call-ended")
        .count();
    assert_eq!(closed, 2, "BYE closes RTP and RTCP");
    assert_eq!(v["summary"]["verdicts"]["drop"], 0);
    assert_eq!(v["summary"]["verdicts"]["reject"], 0);
}

#[test]
fn lab_sipvicious_tools_are_each_banned_at_their_first_packet() {
    let dir = tempfile::tempdir().unwrap();
    for (capture, reason) in [
        ("svmap.pcap", "scanner: User-Agent \"friendly-scanner\""),
        ("svmap-compact.pcap", "scanner: SIPVicious From tag"),
        ("svwar.pcap", "scanner: User-Agent \"friendly-scanner\""),
        ("svcrack.pcap", "scanner: User-Agent \"friendly-scanner\""),
    ] {
        let v = replay_json(&dir, SIP_ONLY, &[&lab_capture(capture)], 0);
        assert_eq!(
            bans_of(&v),
            [("192.0.2.66".into(), "scanner".into(), reason.into(), 1)],
            "{capture}"
        );
        let later_in: Vec<_> = packets(&v)[1..]
            .iter()
            .filter(|x| x["dir"] == "in")
            .collect();
        assert!(
            later_in.iter().all(|x| x["rule"] == "bans (sipwall run)"),
            "{capture}: after the ban, the ban drops: {later_in:?}"
        );
        if capture == "svcrack.pcap" {
            assert!(later_in.len() >= 5, "svcrack tried its passwords");
        }
    }
}

#[test]
fn lab_flood_from_one_source_is_banned_for_flood() {
    let dir = tempfile::tempdir().unwrap();
    let v = replay_json(&dir, SIP_ONLY, &[&lab_capture("flood.pcap")], 0);
    let bans = bans_of(&v);
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(
        (bans[0].0.as_str(), bans[0].1.as_str()),
        ("192.0.2.66", "flood")
    );
    // The default bucket: 30 requests of burst pass before the ban.
    let requests_before = packets(&v)
        .iter()
        .filter(|x| x["dir"] == "in" && x["n"].as_u64().unwrap() < bans[0].3)
        .count();
    assert!(requests_before >= 30, "{requests_before}");
    let after: Vec<_> = packets(&v)
        .iter()
        .filter(|x| x["dir"] == "in" && x["n"].as_u64().unwrap() > bans[0].3)
        .collect();
    assert!(!after.is_empty() && after.iter().all(|x| x["verdict"] == "drop"));
}

#[test]
fn lab_a_phone_that_mistypes_its_password_twice_is_not_banned_and_then_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let v = replay_json(&dir, SIP_ONLY, &[&lab_capture("mistyped-password.pcap")], 0);
    assert!(bans_of(&v).is_empty(), "{:?}", bans_of(&v));
    assert!(packets(&v).iter().all(|x| x["verdict"] == "accept"));
    let allowed = v["summary"]["allowed"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    assert_eq!(allowed[0]["addr"], "192.0.2.2");
    // The 200 is the last packet, and the allowance comes with it, after
    // the verification (the credentials echoed the host's nonce).
    let last = packets(&v).last().unwrap();
    let kinds: Vec<&str> = last["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["verified", "allow"], "{last}");
    // The same two failures from a policy that bans at two do ban: the
    // capture really holds two failed authentications.
    let strict = format!("{SIP_ONLY}[guard.brute_force]\nmax_failures = 2\n");
    let v = replay_json(&dir, &strict, &[&lab_capture("mistyped-password.pcap")], 0);
    let bans = bans_of(&v);
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].1, "brute-force");
}

#[test]
fn a_hosts_answer_to_a_refused_syn_does_not_make_the_connection_established() {
    // Regression: a capture taken on a host without the policy has the
    // host's SYN/ACK to a SYN the policy refuses; replay recorded that
    // answer as a connection and accepted the peer's next segments as
    // established. The kernel never made the entry (the SYN died in
    // input, the SYN/ACK is invalid), so they are new and refused too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed-tcp.pcap");
    let frames = [
        tcp4(PEER, 40000, HOST, 5070, "S", b""),
        tcp4(HOST, 5070, PEER, 40000, "SA", b""),
        tcp4(PEER, 40000, HOST, 5070, "A", b""),
        tcp4(PEER, 40000, HOST, 5070, "A", b"hello"),
    ];
    let frames: Vec<_> = frames
        .into_iter()
        .enumerate()
        .map(|(i, ip)| (T0 + i as u64 * 1000, ip))
        .collect();
    write_pcap(&path, DataLink::RAW, &frames);
    let v = replay_json(
        &dir,
        SIP_ONLY,
        &[path.to_str().unwrap(), "--host", "192.0.2.1"],
        0,
    );
    let seen: Vec<_> = packets(&v)
        .iter()
        .map(|p| (p["dir"].as_str().unwrap(), p["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("in", "default deny"),
            ("out", "output (not filtered)"),
            ("in", "default deny"),
            ("in", "default deny"),
        ],
        "{v}"
    );
}

#[test]
fn a_capture_cut_inside_its_first_record_says_so_even_with_no_host_found() {
    // Regression: without --host, a capture cut before its first SIP
    // request reported only that no host was found, hiding the cut.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(lab_capture("svmap.pcap")).unwrap();
    let path = dir.path().join("cut-early.pcap");
    std::fs::write(&path, &bytes[..300]).unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, SIP_ONLY).unwrap();
    let out = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--host"), "{err}");
    assert!(
        err.contains("reading stopped after frame 0, cut inside a record: the last whole record ends at byte 24 of 300"),
        "{err}"
    );
}

#[test]
fn a_capture_cut_inside_a_record_is_judged_up_to_the_cut_and_the_cut_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(lab_capture("svmap.pcap")).unwrap();
    // The file's records: 24 bytes of header, then 16 + its length each.
    let first_len = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    let whole = 24 + 16 + first_len;
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, &bytes[..whole + 30]).unwrap();
    // No --host: the first record's request still tells it.
    let v = replay_json(&dir, SIP_ONLY, &[path.to_str().unwrap()], 2);
    assert_eq!(packets(&v).len(), 1, "the whole record is judged");
    let cut = &v["summary"]["cut"][0];
    assert_eq!(cut["frames_read"], 1, "{cut}");
    assert_eq!(cut["intact_bytes"], whole as u64, "{cut}");
    assert_eq!(cut["file_bytes"], (whole + 30) as u64, "{cut}");
    let policy = dir.path().join("policy.toml");
    let out = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        "--summary-only",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "is cut: 1 frames read, the last whole record ends at byte {whole} of {}",
            whole + 30
        )),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("protected host 192.0.2.1"),
        "the host was still found"
    );
}

#[test]
fn malformed_sip_is_counted_per_packet_and_in_the_summary_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malformed.pcap");
    let good = sip("OPTIONS sip:100@192.0.2.1 SIP/2.0", "1 OPTIONS", None);
    let bad_start = b"INVITE\r\nVia: x\r\n\r\n".to_vec();
    let bad_header = String::from_utf8(good.clone())
        .unwrap()
        .replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS")
        .into_bytes();
    let frames: Vec<_> = [good, bad_start.clone(), bad_header, bad_start]
        .iter()
        .enumerate()
        .map(|(i, m)| (T0 + i as u64 * 1000, udp4(PEER, 5060, HOST, 5060, m)))
        .collect();
    write_pcap(&path, DataLink::RAW, &frames);
    let v = replay_json(&dir, SIP_ONLY, &[path.to_str().unwrap()], 0);
    let per_packet: Vec<_> = packets(&v)
        .iter()
        .map(|p| p.get("malformed_sip").cloned())
        .collect();
    assert_eq!(per_packet[0], None, "{v}");
    assert_eq!(
        per_packet[1],
        Some(serde_json::json!(["start-line"])),
        "{v}"
    );
    assert_eq!(per_packet[2], Some(serde_json::json!(["header"])), "{v}");
    let m = &v["summary"]["malformed_sip"];
    assert_eq!(m["total"], 3, "{m}");
    assert_eq!(m["by_kind"]["start-line"], 2, "{m}");
    assert_eq!(m["by_kind"]["header"], 1, "{m}");
    let policy = dir.path().join("policy.toml");
    let out = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("malformed SIP: 3 (2 start-line, 1 header)"),
        "{text}"
    );
    assert!(text.contains("{malformed SIP: start-line}"), "{text}");
}

#[test]
fn a_pcapng_capture_cut_inside_a_block_reports_where_its_whole_blocks_end() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<_> = call()
        .into_iter()
        .map(|(t, ip)| (t, frame(DataLink::ETHERNET, &ip)))
        .collect();
    let shorter = dir.path().join("shorter.pcapng");
    write_pcapng(&shorter, DataLink::ETHERNET, &frames[..frames.len() - 1]);
    let whole = std::fs::metadata(&shorter).unwrap().len();
    let path = dir.path().join("cut.pcapng");
    write_pcapng(&path, DataLink::ETHERNET, &frames);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let v = replay_json(
        &dir,
        PINHOLE,
        &[
            path.to_str().unwrap(),
            "--host",
            "192.0.2.1",
            "--host",
            "2001:db8::1",
        ],
        2,
    );
    let cut = &v["summary"]["cut"][0];
    assert_eq!(cut["frames_read"], frames.len() as u64 - 1, "{cut}");
    assert_eq!(cut["intact_bytes"], whole, "{cut}");
    assert_eq!(cut["file_bytes"], bytes.len() as u64 - 10, "{cut}");
}

#[test]
fn packets_the_h323_helper_may_admit_are_marked_not_modelled() {
    // The kernel's nf_conntrack_h323 reads Q.931/H.245 and expects the
    // H.245 and media connections they announce; replay does not, so what
    // it refuses from a Q.931 peer is marked and counted, not passed off
    // as the kernel's verdict.
    let dir = tempfile::tempdir().unwrap();
    let other = [203, 0, 113, 10];
    let path = dir.path().join("h323.pcap");
    let frames = [
        tcp4(PEER, 40000, HOST, 1720, "S", b""),
        tcp4(HOST, 1720, PEER, 40000, "SA", b""),
        tcp4(PEER, 40000, HOST, 1720, "A", b"\x03\x00\x00\x10setup"),
        // H.245 and RTP (off the media range) announced in the call:
        // related for the kernel.
        tcp4(PEER, 40001, HOST, 30000, "S", b""),
        udp4(PEER, 16000, HOST, 10000, &[0x80; 20]),
        // Not a peer of any Q.931 exchange: replay's refusal stands.
        udp4(other, 16000, HOST, 10000, &[0x80; 20]),
    ];
    let frames: Vec<_> = frames
        .into_iter()
        .enumerate()
        .map(|(i, ip)| (T0 + i as u64 * 1000, ip))
        .collect();
    write_pcap(&path, DataLink::RAW, &frames);
    let h323 = format!("{SIP_ONLY}[services.h323]\nkind = \"h323-q931\"\nallow = [\"any\"]\n");
    let v = replay_json(
        &dir,
        &h323,
        &[path.to_str().unwrap(), "--host", "192.0.2.1"],
        0,
    );
    let marks: Vec<_> = packets(&v)
        .iter()
        .map(|p| {
            (
                p["verdict"].as_str().unwrap(),
                p.get("not_modelled").is_some(),
            )
        })
        .collect();
    assert_eq!(
        marks,
        [
            ("accept", false),
            ("accept", false),
            ("accept", false),
            ("reject", true),
            ("reject", true),
            ("reject", false),
        ],
        "{v}"
    );
    assert_eq!(v["summary"]["not_modelled"]["h323"], 2, "{v}");
    assert_eq!(v["summary"]["not_modelled"]["h323_helper_assigned"], true);
    let policy = dir.path().join("policy.toml");
    let text = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        "--host",
        "192.0.2.1",
        path.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("{not modelled: H.323 helper}"), "{text}");
    assert!(
        text.contains("assigns an H.323 helper; 2 refused packets"),
        "{text}"
    );
    // Without an H.323 service no helper is assigned: nothing is unseen.
    let v = replay_json(
        &dir,
        SIP_ONLY,
        &[path.to_str().unwrap(), "--host", "192.0.2.1"],
        0,
    );
    assert!(
        packets(&v).iter().all(|p| p.get("not_modelled").is_none()),
        "{v}"
    );
    assert_eq!(v["summary"]["not_modelled"]["h323"], 0);
    assert_eq!(v["summary"]["not_modelled"]["h323_helper_assigned"], false);
}

/// A TPKT'd Q.931 Connect whose H.225 body (aligned PER) announces `h245`
/// as the sender's H.245 address.
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

#[test]
fn an_h245_connection_a_q931_connect_announced_is_related_not_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h245.pcap");
    let frames = [
        tcp4(PEER, 40000, HOST, 1720, "S", b""),
        tcp4(HOST, 1720, PEER, 40000, "SA", b""),
        tcp4(PEER, 40000, HOST, 1720, "A", b""),
        tcp4(HOST, 1720, PEER, 40000, "A", &q931_connect(HOST, 30000)),
        tcp4(PEER, 40001, HOST, 30000, "S", b""),
        tcp4(PEER, 40002, HOST, 30002, "S", b""),
    ];
    let frames: Vec<_> = frames
        .into_iter()
        .enumerate()
        .map(|(i, ip)| (T0 + i as u64 * 1000, ip))
        .collect();
    write_pcap(&path, DataLink::RAW, &frames);
    let h323 = format!("{SIP_ONLY}[services.h323]\nkind = \"h323-q931\"\nallow = [\"any\"]\n");
    let v = replay_json(
        &dir,
        &h323,
        &[path.to_str().unwrap(), "--host", "192.0.2.1"],
        0,
    );
    let last: Vec<_> = packets(&v)[4..]
        .iter()
        .map(|p| (p["rule"].as_str().unwrap(), p.get("not_modelled").is_some()))
        .collect();
    assert_eq!(
        last,
        [("established, related", false), ("default deny", true)],
        "{v}"
    );
}
