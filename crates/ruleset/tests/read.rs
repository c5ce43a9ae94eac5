//! The readers of existing rulesets, on real dumps taken from the kernel
//! (nft 1.0.6, iptables-nft 1.8.9) and on hand-written text.

use sipwall_ruleset::eval::{Packet, L4};
use sipwall_ruleset::ir::{Action, CtState, Match};
use sipwall_ruleset::read::{self, Cond, Existing, HookPoint, Reach, ReadError, Step};
use std::net::IpAddr;

const PUBLIC_V4: &str = "203.0.113.9";
const PUBLIC_V6: &str = "2001:db8:ffff::9";

fn new_packet(from: &str, l4: L4) -> Packet<'static> {
    let saddr: IpAddr = from.parse().unwrap();
    let daddr: IpAddr = if saddr.is_ipv4() {
        "192.0.2.1".parse().unwrap()
    } else {
        "2001:db8::1".parse().unwrap()
    };
    Packet {
        loopback_in: false,
        saddr,
        daddr,
        l4,
        ct: None,
        payload: b"",
    }
}

fn udp(port: u16) -> L4 {
    L4::Udp {
        sport: 40000,
        dport: port,
    }
}

fn tcp(port: u16) -> L4 {
    L4::Tcp {
        sport: 40000,
        dport: port,
    }
}

fn reach(rs: &Existing, from: &str, l4: L4) -> Reach {
    rs.reach(&HookPoint::Input, &new_packet(from, l4)).reach
}

/// sipwall's built-in policy, as `nft list ruleset` and `nft -j` print it.
fn check_builtin(rs: &Existing) {
    assert!(rs.covers.v4 && rs.covers.v6);
    for (from, l4, want) in [
        (PUBLIC_V4, udp(5060), Reach::Accepted),
        (PUBLIC_V6, tcp(5080), Reach::Accepted),
        (PUBLIC_V4, tcp(8082), Reach::Accepted),
        (PUBLIC_V4, udp(32769), Reach::Accepted),
        (PUBLIC_V4, udp(32770), Reach::Denied),
        (PUBLIC_V4, tcp(8021), Reach::Denied),
        (PUBLIC_V6, tcp(8021), Reach::Denied),
        (PUBLIC_V4, tcp(22), Reach::Accepted),
    ] {
        assert_eq!(reach(rs, from, l4), want, "{from} {l4:?}");
    }
    let mut lo = new_packet("127.0.0.1", tcp(8021));
    lo.loopback_in = true;
    assert_eq!(rs.reach(&HookPoint::Input, &lo).reach, Reach::Accepted);
    let mut est = new_packet(PUBLIC_V4, tcp(40000));
    est.ct = Some(CtState::Established);
    assert_eq!(rs.reach(&HookPoint::Input, &est).reach, Reach::Accepted);
    // The log rule is limited, and the deny rule's location is known.
    let input = rs.base_chains(&HookPoint::Input, sipwall_ruleset::Family::V4);
    let names: Vec<&str> = input.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["flood", "input"], "the first line, then the filter");
    let log = input[1]
        .rules
        .iter()
        .find(|r| matches!(r.step, Step::Ir(Action::Log { .. })))
        .unwrap();
    assert!(log
        .conds
        .iter()
        .any(|c| matches!(c, Cond::Ir(Match::Limit(_)))));
    let denied = rs.reach(&HookPoint::Input, &new_packet(PUBLIC_V4, tcp(8021)));
    assert_eq!(denied.by.unwrap().comment.as_deref(), Some("default deny"));
    // The first line's meters read back as the IR's per-source rate match.
    let meters: Vec<&Match> = input[0]
        .rules
        .iter()
        .filter(|r| matches!(r.step, Step::Ir(Action::BanSource { .. })))
        .flat_map(|r| r.conds.iter())
        .filter_map(|c| match c {
            Cond::Ir(m @ Match::OverRate { .. }) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(meters.len(), 4, "UDP and TCP, IPv4 and IPv6");
    assert!(
        meters.contains(&&Match::OverRate {
            meter: "flood_v6".into(),
            family: sipwall_ruleset::Family::V6,
            per_second: 15,
            burst: 30,
        }),
        "{meters:?}"
    );
}

#[test]
fn nft_text_of_the_builtin_policy() {
    let rs = read::read("builtin.nft", include_str!("data/builtin.nft")).unwrap();
    check_builtin(&rs);
    let denied = rs.reach(&HookPoint::Input, &new_packet(PUBLIC_V4, tcp(8021)));
    assert_eq!(denied.by.unwrap().at.to_string(), "builtin.nft:119");
}

#[test]
fn nft_json_of_the_builtin_policy() {
    let rs = read::read("live", include_str!("data/builtin.json")).unwrap();
    check_builtin(&rs);
    let denied = rs.reach(&HookPoint::Input, &new_packet(PUBLIC_V4, tcp(8021)));
    assert!(denied
        .by
        .unwrap()
        .at
        .to_string()
        .starts_with("live: inet sipwall input handle "));
}

fn helper_kinds(rs: &Existing) -> Vec<Option<String>> {
    rs.base_rules()
        .filter_map(|(_, r)| match &r.step {
            Step::AssignHelper(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn helper_objects_resolve_to_the_kernel_helper_in_text_and_json() {
    for (name, text) in [
        ("helper-mode.nft", include_str!("data/helper-mode.nft")),
        ("helper-mode.json", include_str!("data/helper-mode.json")),
    ] {
        let rs = read::read(name, text).unwrap();
        let kinds = helper_kinds(&rs);
        assert_eq!(kinds.len(), 6, "{name}");
        assert!(
            kinds.iter().all(|k| k.as_deref() == Some("sip")),
            "{name}: {kinds:?}"
        );
        // Helper mode keeps the RTP range closed.
        assert_eq!(reach(&rs, PUBLIC_V4, udp(20000)), Reach::Denied, "{name}");
        assert_eq!(reach(&rs, PUBLIC_V4, udp(5060)), Reach::Accepted, "{name}");
    }
}

#[test]
fn iptables_save_from_iptables_nft() {
    let rs = read::read("seed.save", include_str!("data/seed-iptables-nft.save")).unwrap();
    assert!(rs.covers.v4 && !rs.covers.v6);
    assert_eq!(reach(&rs, PUBLIC_V4, tcp(5002)), Reach::Accepted);
    assert_eq!(reach(&rs, PUBLIC_V4, tcp(5080)), Reach::Denied);
    assert_eq!(reach(&rs, PUBLIC_V4, udp(32769)), Reach::Denied);
    // A substring drop in front: without payload the packet is accepted,
    // and whether a payload matches is not known in general.
    assert_eq!(reach(&rs, PUBLIC_V4, udp(5060)), Reach::Maybe);
    // 8080 only from one host.
    assert_eq!(reach(&rs, PUBLIC_V4, tcp(8080)), Reach::Denied);
    assert_eq!(reach(&rs, "192.168.0.122", tcp(8080)), Reach::Accepted);
    // IPv6 is not described by an iptables dump.
    assert_eq!(reach(&rs, PUBLIC_V6, tcp(5002)), Reach::Maybe);
    assert_eq!(helper_kinds(&rs), vec![Some("sip".to_owned())]);
    let strings: Vec<_> = rs
        .base_rules()
        .flat_map(|(_, r)| r.ir_matches())
        .filter_map(|m| match m {
            Match::Contains(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(strings, ["sipcli"]);
}

#[test]
fn json_of_iptables_nft_keeps_xt_opaque_and_answers_maybe() {
    let rs = read::read("live", include_str!("data/seed-iptables-nft.json")).unwrap();
    assert_eq!(reach(&rs, PUBLIC_V4, tcp(5002)), Reach::Accepted);
    // The REJECT is an xt target, the RELATED rule an xt match.
    assert_eq!(reach(&rs, PUBLIC_V4, tcp(5080)), Reach::Maybe);
    // No ip6 table at all: IPv6 is wide open.
    assert_eq!(reach(&rs, PUBLIC_V6, tcp(5080)), Reach::Accepted);
    assert_eq!(helper_kinds(&rs), vec![None]);
}

#[test]
fn iptables_save_user_chains_insert_order_and_ipv6() {
    let text = "\
# Generated by ip6tables-save v1.8.9
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:voip - [0:0]
:admin - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p udp -m multiport --dports 5060,5080,16384:32769 -j voip
-A INPUT -p tcp -j admin
-A voip -s 2001:db8:bad::/48 -j DROP
-A voip -j ACCEPT
-A admin -p tcp -s 2001:db8:100::/48 --dport 8021 -j ACCEPT
-A admin -p tcp ! -s 2001:db8:100::/48 --dport 22 -j RETURN
-A admin -p tcp --dport 22 -j ACCEPT
-I INPUT -p tcp --dport 9999 -m recent --rcheck -j DROP
COMMIT
";
    let rs = read::read("v6.save", text).unwrap();
    assert!(rs.covers.v6 && !rs.covers.v4);
    assert_eq!(reach(&rs, PUBLIC_V6, udp(5080)), Reach::Accepted);
    assert_eq!(reach(&rs, "2001:db8:bad::1", udp(5080)), Reach::Denied);
    assert_eq!(reach(&rs, PUBLIC_V6, udp(5070)), Reach::Denied);
    assert_eq!(reach(&rs, PUBLIC_V6, tcp(8021)), Reach::Denied);
    assert_eq!(reach(&rs, "2001:db8:100::5", tcp(8021)), Reach::Accepted);
    // After a conditional RETURN, what follows is only "maybe".
    assert_eq!(reach(&rs, PUBLIC_V6, tcp(22)), Reach::Maybe);
    // -I puts the rule first; `-m recent` is opaque.
    let input = &rs.base_chains(&HookPoint::Input, sipwall_ruleset::Family::V6)[0];
    assert_eq!(input.rules[0].at.line, Some(17));
    assert!(matches!(&input.rules[0].conds[2], Cond::Opaque(t) if t.contains("recent")));
    assert_eq!(reach(&rs, PUBLIC_V6, tcp(9999)), Reach::Denied);
}

#[test]
fn hand_written_file_keeps_comments_and_a_missing_commit_is_an_error() {
    let text = "*filter\n# Allow SSH connections\n-A INPUT -p tcp --dport 6245 -j ACCEPT\n";
    let err = read::read("x", text).unwrap_err();
    assert_eq!(
        err,
        ReadError::at(1, 1, "*filter is never committed (COMMIT missing)")
    );
    let rs = read::read("x", &format!("{text}COMMIT\n")).unwrap();
    let (_, rule) = rs.base_rules().next().unwrap();
    assert_eq!(rule.comment.as_deref(), Some("Allow SSH connections"));
}

#[test]
fn malformed_input_is_a_typed_error_with_line_and_column() {
    let cases: &[(&str, u32, u32)] = &[
        ("*filter\n-A INPUT -p udp --dport 70000 -j ACCEPT\nCOMMIT\n", 2, 25),
        ("*filter\n-A NOPE -j ACCEPT\nCOMMIT\n", 2, 4),
        ("-A INPUT -j ACCEPT\n", 1, 1),
        ("*filter\n-A INPUT -m comment --comment \"open\nCOMMIT\n", 2, 31),
        ("table inet t {\n\tchain c {\n\t\ttype filter hook input priority bogus; policy drop;\n", 3, 40),
        ("table inet t {\n\tchain c {\n\t\taccept\n", 3, 9),
        ("{\"nftables\": [ {\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"c\", \"expr\": []}} ]}", 1, 1),
        ("{\"nftables\": [", 1, 14),
    ];
    for (text, line, col) in cases {
        match read::read("x", text) {
            Err(ReadError::Syntax {
                line: l, column: c, ..
            }) => {
                assert_eq!((l, c), (*line, *col), "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(read::read("x", "hello"), Err(ReadError::UnknownFormat));
}

#[test]
fn readers_never_panic_on_truncated_or_mangled_dumps() {
    let inputs = [
        include_str!("data/builtin.nft"),
        include_str!("data/builtin.json"),
        include_str!("data/seed-iptables-nft.save"),
        include_str!("data/helper-mode.nft"),
    ];
    for text in inputs {
        let chars: Vec<char> = text.chars().collect();
        for cut in (0..chars.len()).step_by(7) {
            let s: String = chars[..cut].iter().collect();
            let _ = read::read("x", &s);
            let mangled: String = chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i == cut { '{' } else { *c })
                .collect();
            let _ = read::read("x", &mangled);
        }
    }
}

#[test]
fn options_after_the_target_still_count() {
    let text = "*filter\n-A INPUT -j DROP -p udp --dport 5060 -m string --string \"sipcli\" --algo bm\n-A INPUT -j LOG --log-prefix \"x: \" -p tcp --dport 1\nCOMMIT\n";
    let rs = read::read("x", text).unwrap();
    let rules: Vec<_> = rs.base_rules().map(|(_, r)| r).collect();
    assert_eq!(rules[0].step, Step::Ir(Action::Drop));
    assert!(rules[0]
        .ir_matches()
        .any(|m| matches!(m, Match::Contains(s) if s == "sipcli")));
    assert_eq!(reach(&rs, PUBLIC_V4, udp(5080)), Reach::Accepted);
    assert!(matches!(&rules[1].step, Step::Ir(Action::Log { prefix, .. }) if prefix == "x: "));
    assert!(rules[1].ir_matches().any(|m| matches!(m, Match::Dport(..))));
}
