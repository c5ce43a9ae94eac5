//! The compiled IR judged packet by packet: what the built-in policy lets
//! in, what bans and pinholes change, and that renderers say the same.

use crate::eval::{evaluate, EmptySets, Packet, SetLookup, Verdict, L4};
use crate::ir::{CtState, Hook};
use crate::{compile, sets, Family};
use std::net::IpAddr;

fn builtin() -> crate::Ruleset {
    compile(&sipwall_policy::builtin(), "<built-in>")
}

fn new_packet(saddr: &str, l4: L4) -> Packet<'static> {
    let saddr: IpAddr = saddr.parse().unwrap();
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
        payload: &[],
    }
}

fn verdict(rs: &crate::Ruleset, p: &Packet<'_>, sets: &dyn SetLookup) -> (Verdict, String) {
    let d = evaluate(rs.chain(Hook::Input).unwrap(), p, sets);
    (
        d.action,
        d.rule.map(|r| r.comment.clone()).unwrap_or_default(),
    )
}

#[test]
fn builtin_accepts_sip_rtp_and_ssh_from_anywhere() {
    let rs = builtin();
    for (addr, l4) in [
        (
            "203.0.113.9",
            L4::Udp {
                sport: 5060,
                dport: 5060,
            },
        ),
        (
            "203.0.113.9",
            L4::Tcp {
                sport: 40000,
                dport: 5080,
            },
        ),
        (
            "2001:db8::9",
            L4::Udp {
                sport: 5060,
                dport: 5080,
            },
        ),
        (
            "203.0.113.9",
            L4::Udp {
                sport: 4000,
                dport: 32769,
            },
        ),
        (
            "203.0.113.9",
            L4::Tcp {
                sport: 40000,
                dport: 8082,
            },
        ),
        (
            "203.0.113.9",
            L4::Tcp {
                sport: 40000,
                dport: 22,
            },
        ),
    ] {
        let (v, why) = verdict(&rs, &new_packet(addr, l4), &EmptySets);
        assert_eq!(v, Verdict::Accept, "{addr} {l4:?} ({why})");
    }
}

#[test]
fn builtin_rejects_esl_unused_ports_and_the_port_above_rtcp() {
    let rs = builtin();
    for l4 in [
        L4::Tcp {
            sport: 40000,
            dport: 8021,
        },
        L4::Tcp {
            sport: 40000,
            dport: 5002,
        },
        L4::Udp {
            sport: 4000,
            dport: 5003,
        },
        L4::Udp {
            sport: 4000,
            dport: 5070,
        },
        L4::Udp {
            sport: 4000,
            dport: 32770,
        },
    ] {
        let (v, why) = verdict(&rs, &new_packet("203.0.113.9", l4), &EmptySets);
        assert_eq!(
            (v, why.as_str()),
            (Verdict::Reject, "default deny"),
            "{l4:?}"
        );
    }
}

#[test]
fn esl_over_loopback_is_accepted_and_spoofed_loopback_is_not() {
    let rs = builtin();
    let mut p = new_packet(
        "127.0.0.1",
        L4::Tcp {
            sport: 40000,
            dport: 8021,
        },
    );
    p.daddr = "127.0.0.1".parse().unwrap();
    p.loopback_in = true;
    assert_eq!(verdict(&rs, &p, &EmptySets).0, Verdict::Accept);
    p.loopback_in = false;
    let (v, why) = verdict(&rs, &p, &EmptySets);
    assert_eq!(
        (v, why.as_str()),
        (Verdict::Reject, "loopback address from outside")
    );
}

struct Banned(IpAddr);
impl SetLookup for Banned {
    fn has_addr(&self, set: &str, a: IpAddr) -> bool {
        (set == sets::BAN_V4 || set == sets::BAN_V6) && a == self.0
    }
    fn has_port(&self, _: &str, _: u16) -> bool {
        false
    }
    fn has_addr_port(&self, _: &str, _: IpAddr, _: u16) -> bool {
        false
    }
}

#[test]
fn a_ban_drops_even_established_traffic_of_either_family() {
    let rs = builtin();
    for addr in ["203.0.113.66", "2001:db8::66"] {
        let mut p = new_packet(
            addr,
            L4::Udp {
                sport: 5060,
                dport: 5060,
            },
        );
        p.ct = Some(CtState::Established);
        let banned = Banned(addr.parse().unwrap());
        assert_eq!(verdict(&rs, &p, &banned).0, Verdict::Drop, "{addr}");
        assert_eq!(verdict(&rs, &p, &EmptySets).0, Verdict::Accept, "{addr}");
    }
}

struct Pinhole(u16);
impl SetLookup for Pinhole {
    fn has_addr(&self, _: &str, _: IpAddr) -> bool {
        false
    }
    fn has_port(&self, set: &str, p: u16) -> bool {
        set == sets::PINHOLE_PORT && p == self.0
    }
    fn has_addr_port(&self, _: &str, _: IpAddr, _: u16) -> bool {
        false
    }
}

#[test]
fn pinhole_mode_opens_only_the_ports_in_the_set() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    let rtp = new_packet(
        "203.0.113.9",
        L4::Udp {
            sport: 4000,
            dport: 20000,
        },
    );
    assert_eq!(verdict(&rs, &rtp, &EmptySets).0, Verdict::Reject);
    let (v, why) = verdict(&rs, &rtp, &Pinhole(20000));
    assert_eq!(
        (v, why.as_str()),
        (Verdict::Accept, "media pinholes (sipwall run)")
    );
    assert_eq!(verdict(&rs, &rtp, &Pinhole(20002)).0, Verdict::Reject);
}

#[test]
fn zones_restrict_by_family_and_prefix() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[zones]\nadmin = [\"198.51.100.0/24\", \"2001:db8:100::/48\"]\n[services.esl]\nkind = \"esl\"\nallow = [\"admin\"]\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    let esl = |a| {
        new_packet(
            a,
            L4::Tcp {
                sport: 40000,
                dport: 8021,
            },
        )
    };
    assert_eq!(
        verdict(&rs, &esl("198.51.100.7"), &EmptySets).0,
        Verdict::Accept
    );
    assert_eq!(
        verdict(&rs, &esl("2001:db8:100::7"), &EmptySets).0,
        Verdict::Accept
    );
    assert_eq!(
        verdict(&rs, &esl("203.0.113.7"), &EmptySets).0,
        Verdict::Reject
    );
    assert_eq!(
        verdict(&rs, &esl("2001:db8:200::7"), &EmptySets).0,
        Verdict::Reject
    );
    let v6 = crate::iptables::render(&rs, Family::V6).unwrap();
    assert!(
        v6.contains("-s 2001:db8:100::/48 -p tcp -m tcp --dport 8021"),
        "{v6}"
    );
    assert!(!v6.contains("198.51.100.0/24"), "{v6}");
}

#[test]
fn icmpv6_neighbour_discovery_is_accepted_before_invalid_is_dropped() {
    let rs = builtin();
    let mut ns = new_packet("2001:db8::9", L4::Icmpv6(135));
    ns.ct = Some(CtState::Invalid);
    assert_eq!(verdict(&rs, &ns, &EmptySets).0, Verdict::Accept);
    let mut junk = new_packet(
        "2001:db8::9",
        L4::Udp {
            sport: 1,
            dport: 5060,
        },
    );
    junk.ct = Some(CtState::Invalid);
    assert_eq!(verdict(&rs, &junk, &EmptySets).0, Verdict::Drop);
}

#[test]
fn nft_durations_are_compact() {
    use std::time::Duration;
    assert_eq!(crate::nft::duration(Duration::from_secs(3600)), "1h");
    assert_eq!(crate::nft::duration(Duration::from_secs(90)), "1m30s");
    assert_eq!(
        crate::nft::duration(Duration::from_secs(93_784)),
        "1d2h3m4s"
    );
}

/// Sets as the kernel would hold them during a flood: `flooding` sources
/// are over every meter's rate; `kernel_banned` are in the first line's
/// ban sets; `prefixes` are in the prefix ban sets.
#[derive(Default)]
struct Flood {
    flooding: Vec<IpAddr>,
    kernel_banned: Vec<IpAddr>,
    prefixes: Vec<ipnet::IpNet>,
    verified: Vec<IpAddr>,
}

impl SetLookup for Flood {
    fn has_addr(&self, set: &str, a: IpAddr) -> bool {
        match set {
            sets::FLOOD_BAN_V4 | sets::FLOOD_BAN_V6 => self.kernel_banned.contains(&a),
            sets::BAN_NET_V4 | sets::BAN_NET_V6 => self.prefixes.iter().any(|n| n.contains(&a)),
            sets::VERIFIED_V4 | sets::VERIFIED_V6 => self.verified.contains(&a),
            _ => false,
        }
    }
    fn has_port(&self, _: &str, _: u16) -> bool {
        false
    }
    fn has_addr_port(&self, _: &str, _: IpAddr, _: u16) -> bool {
        false
    }
    fn over_rate(&self, meter: &str, a: IpAddr) -> bool {
        (meter == sets::FLOOD_V4 || meter == sets::FLOOD_V6) && self.flooding.contains(&a)
    }
}

fn arriving(rs: &crate::Ruleset, p: &Packet<'_>, sets: &dyn SetLookup) -> (Verdict, String) {
    let d = crate::eval::arriving(rs, p, sets);
    (
        d.action,
        d.rule.map(|r| r.comment.clone()).unwrap_or_default(),
    )
}

const SIP_UDP: L4 = L4::Udp {
    sport: 5060,
    dport: 5060,
};

#[test]
fn a_sip_flood_from_many_sources_is_dropped_in_the_kernel_before_any_chain_hands_it_to_the_daemon()
{
    let rs = builtin();
    // Everything in the first line runs before the input chain (and the
    // daemon's intake at priority 10, or iptables' NFQUEUE at 0).
    let nft = crate::nft::render(&rs);
    let first = nft.find("chain flood {").expect("a first line");
    assert!(nft[first..].contains("hook input priority filter - 10; policy accept;"));
    let meters = rs.chain(Hook::Flood).unwrap().rules.iter();
    assert_eq!(
        meters
            .filter(|r| matches!(r.action, crate::ir::Action::BanSource { .. })
                && r.matches
                    .iter()
                    .any(|m| matches!(m, crate::ir::Match::OverRate { .. })))
            .count(),
        4,
        "UDP and TCP, IPv4 and IPv6"
    );
    assert!(nft.contains(
        "udp dport { 5060, 5080 } update @flood_v4 { ip saddr limit rate over 15/second burst 30 packets } add @flood_ban_v4 { ip saddr timeout 1m } counter drop"
    ), "{nft}");
    let flooding: Vec<IpAddr> = (0..1000u32)
        .map(|i| {
            if i % 2 == 0 {
                IpAddr::from([198, 51, 100, (i / 2 % 256) as u8])
            } else {
                IpAddr::from([0x2001, 0xdb8, 0xf, 0, 0, 0, 0, i as u16])
            }
        })
        .collect();
    let sets = Flood {
        flooding: flooding.clone(),
        ..Flood::default()
    };
    for a in &flooding {
        let p = new_packet(&a.to_string(), SIP_UDP);
        let (v, why) = arriving(&rs, &p, &sets);
        assert_eq!(v, Verdict::Drop, "{a}: {why}");
        assert!(why.starts_with("guard.flood: over 15/s"), "{why}");
        // The input chain alone would have let it through to the daemon.
        assert_eq!(verdict(&rs, &p, &sets).0, Verdict::Accept);
        // Once banned by the kernel, every packet of it is dropped: RTP too.
        let banned = Flood {
            kernel_banned: vec![*a],
            ..Flood::default()
        };
        let rtp = new_packet(
            &a.to_string(),
            L4::Udp {
                sport: 4000,
                dport: 20000,
            },
        );
        assert_eq!(arriving(&rs, &rtp, &banned).0, Verdict::Drop, "{a}");
    }
    // A source under the rate goes on to the input chain, as before.
    let calm = new_packet("203.0.113.9", SIP_UDP);
    assert_eq!(arriving(&rs, &calm, &sets).0, Verdict::Accept);
    // RTP and SSH are never metered.
    for l4 in [
        L4::Udp {
            sport: 4000,
            dport: 20000,
        },
        L4::Tcp {
            sport: 40000,
            dport: 22,
        },
    ] {
        let p = new_packet("198.51.100.0", l4);
        assert_eq!(arriving(&rs, &p, &sets).0, Verdict::Accept, "{l4:?}");
    }
}

#[test]
fn a_flood_forged_in_the_name_of_an_allowlisted_trunk_never_bans_it_in_the_kernel() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[zones]\ntrunks = [\"192.0.2.2\", \"2001:db8::2\"]\n[guard]\nallow = [\"trunks\"]\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    let sets = Flood {
        flooding: vec!["192.0.2.2".parse().unwrap(), "2001:db8::2".parse().unwrap()],
        ..Flood::default()
    };
    for trunk in ["192.0.2.2", "2001:db8::2"] {
        let (v, why) = arriving(&rs, &new_packet(trunk, SIP_UDP), &sets);
        assert_eq!(
            (v, why.as_str()),
            (Verdict::Accept, "services.sip (p.toml:5)"),
            "{trunk}"
        );
    }
    // Loopback is never metered either.
    let mut lo = new_packet("127.0.0.1", SIP_UDP);
    lo.loopback_in = true;
    lo.daddr = "127.0.0.1".parse().unwrap();
    let lo_sets = Flood {
        flooding: vec![lo.saddr],
        ..Flood::default()
    };
    assert_eq!(arriving(&rs, &lo, &lo_sets).0, Verdict::Accept);
    // Nobody to meter when nobody may be banned, or when the detector is off.
    for extra in [
        "[guard]\nallow = [\"any\"]\n",
        "[guard.flood]\nenabled = false\n",
    ] {
        let policy = sipwall_policy::parse(
            "p.toml",
            &format!("{extra}[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n"),
        )
        .unwrap();
        let rs = compile(&policy, "p.toml");
        assert!(rs.chain(Hook::Flood).is_none(), "{extra}");
        assert!(rs.set(sets::FLOOD_V4).is_none(), "{extra}");
        // The daemon still writes its verifications somewhere.
        assert!(rs.set(sets::VERIFIED_V4).is_some(), "{extra}");
    }
}

#[test]
fn a_flood_forged_in_the_name_of_a_verified_peer_is_dropped_but_never_banned_in_the_kernel() {
    let rs = builtin();
    let nft = crate::nft::render(&rs);
    assert!(nft.contains(
        "ip saddr @verified_v4 udp dport { 5060, 5080 } update @flood_v4 { ip saddr limit rate over 15/second burst 30 packets } counter drop"
    ), "{nft}");
    for name in [sets::VERIFIED_V4, sets::VERIFIED_V6] {
        let s = rs.set(name).expect("declared");
        assert_eq!(s.filled_by, crate::ir::FilledBy::Daemon, "{name}");
        assert_eq!(s.size, crate::compile::VERIFIED_CAP, "{name}");
        assert_eq!(s.timeout.as_secs(), 3600, "guard.verified_for");
        // An apply keeps them, as it keeps the bans.
        assert!(s.survives_replacement(), "{name}");
    }
    let peers: Vec<IpAddr> = vec![
        "203.0.113.9".parse().unwrap(),
        "2001:db8::9".parse().unwrap(),
    ];
    let forged = Flood {
        flooding: peers.clone(),
        verified: peers.clone(),
        ..Flood::default()
    };
    for peer in &peers {
        for l4 in [
            SIP_UDP,
            L4::Tcp {
                sport: 40000,
                dport: 5060,
            },
        ] {
            let p = new_packet(&peer.to_string(), l4);
            // Over the rate: the excess is dropped, and the rule that
            // decides is not the one that bans.
            let d = crate::eval::arriving(&rs, &p, &forged);
            assert_eq!(d.action, Verdict::Drop, "{peer} {l4:?}");
            let rule = d.rule.expect("a rule decided");
            assert!(
                !matches!(rule.action, crate::ir::Action::BanSource { .. }),
                "{peer}: {}",
                rule.comment
            );
            assert!(rule.comment.contains("verified source"), "{}", rule.comment);
        }
        // Under the rate, the first line hands it on to the input chain
        // before the banning meters can see it.
        let calm = Flood {
            verified: peers.clone(),
            ..Flood::default()
        };
        let p = new_packet(&peer.to_string(), SIP_UDP);
        let d = crate::eval::evaluate(rs.chain(Hook::Flood).unwrap(), &p, &calm);
        assert_eq!(d.action, Verdict::Accept);
        assert!(d
            .rule
            .is_some_and(|r| r.comment.contains("verified source")));
        assert_eq!(arriving(&rs, &p, &calm).0, Verdict::Accept);
        // The same flood from an address with no history is banned.
        let stranger = if peer.is_ipv4() {
            "198.51.100.7"
        } else {
            "2001:db8::7"
        };
        let unverified = Flood {
            flooding: vec![stranger.parse().unwrap()],
            verified: peers.clone(),
            ..Flood::default()
        };
        let d = crate::eval::arriving(&rs, &new_packet(stranger, SIP_UDP), &unverified);
        assert!(
            matches!(
                d.rule.map(|r| &r.action),
                Some(crate::ir::Action::BanSource { .. })
            ),
            "{stranger}"
        );
    }
    // iptables has no sets: its first line leaves the verified rules out
    // (it has no bans to spare anyone from).
    let v4 = crate::iptables::render(&rs, Family::V4).unwrap();
    assert!(!v4.contains("verified_v4"), "{v4}");
    crate::roundtrip::check_nft(&rs).unwrap();
    crate::roundtrip::check_iptables(&rs, Family::V4).unwrap();
    // verified_for = 0: nobody is verified, nothing to declare.
    let policy = sipwall_policy::parse(
        "p.toml",
        "[guard]\nverified_for = \"0s\"\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    assert!(rs.chain(Hook::Flood).is_some());
    assert!(rs.set(sets::VERIFIED_V4).is_none());
    assert!(!crate::nft::render(&rs).contains("verified"));
}

#[test]
fn the_first_line_is_sized_and_timed_from_guard_flood() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[guard.flood]\nrate = 100\nburst = 200\nmax_sources = 5000\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    for name in [
        sets::FLOOD_V4,
        sets::FLOOD_V6,
        sets::FLOOD_BAN_V4,
        sets::FLOOD_BAN_V6,
    ] {
        let s = rs.set(name).unwrap();
        assert_eq!(s.size, 5000, "{name}");
        // Kernel bans survive an apply; meters (whose limits no listing
        // shows) start afresh.
        assert_eq!(
            s.survives_replacement(),
            name.starts_with("flood_ban"),
            "{name}"
        );
    }
    assert_eq!(
        rs.set(sets::FLOOD_BAN_V4).unwrap().timeout,
        crate::compile::FLOOD_BAN
    );
    let nft = crate::nft::render(&rs);
    assert!(
        nft.contains("limit rate over 100/second burst 200 packets"),
        "{nft}"
    );
    let v4 = crate::iptables::render(&rs, Family::V4).unwrap();
    assert!(v4.starts_with("# sipwall"));
    let jump = v4
        .find(
            "-A INPUT -m comment --comment \"first line: per-source rate limits\" -j sipwall-flood",
        )
        .unwrap();
    let first_input = v4.find("-A INPUT -i lo").unwrap();
    assert!(jump < first_input, "the jump comes first:\n{v4}");
    assert!(v4.contains(
        "-p udp -m udp --dport 5060 -m hashlimit --hashlimit-above 100/sec --hashlimit-burst 200 --hashlimit-mode srcip --hashlimit-name flood_v4 --hashlimit-htable-max 5000 --hashlimit-htable-expire 60000"
    ), "{v4}");
    assert!(v4.contains("-A sipwall-flood -i lo -m comment --comment \"first line: loopback is not metered\" -j RETURN"), "{v4}");
    let v6 = crate::iptables::render(&rs, Family::V6).unwrap();
    assert!(
        v6.contains("--hashlimit-name flood_v6") && !v6.contains("flood_v4 "),
        "{v6}"
    );
}

#[test]
fn every_set_has_a_size_so_a_source_rotation_cannot_grow_kernel_memory_without_bound() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    assert_eq!(rs.sets.len(), 13);
    let nft = crate::nft::render(&rs);
    for s in &rs.sets {
        assert!(s.size > 0, "{}", s.name);
        let block = &nft[nft.find(&format!("set {} {{", s.name)).unwrap()..];
        let block = &block[..block.find('}').unwrap()];
        assert!(block.contains(&format!("\t\tsize {}\n", s.size)), "{block}");
    }
    assert_eq!(
        rs.set(sets::BAN_V6).unwrap().size,
        crate::compile::BAN_SET_SIZE
    );
    assert_eq!(rs.set(sets::PINHOLE_PORT).unwrap().size, 65_536);
    assert_eq!(
        rs.set(sets::PINHOLE_V4).unwrap().size,
        crate::compile::CALL_CAP * crate::compile::PINHOLES_PER_CALL
    );
}

#[test]
fn an_ipv6_source_rotating_inside_one_slash_64_is_dropped_by_one_prefix_element() {
    let rs = builtin();
    let nft = crate::nft::render(&rs);
    for name in [sets::BAN_NET_V4, sets::BAN_NET_V6] {
        let block = &nft[nft.find(&format!("set {name} {{")).unwrap()..];
        assert!(
            block[..block.find('}').unwrap()].contains("flags interval,timeout"),
            "{block}"
        );
    }
    let sets = Flood {
        prefixes: vec![
            "2001:db8:66::/64".parse().unwrap(),
            "198.51.100.0/24".parse().unwrap(),
        ],
        ..Flood::default()
    };
    for (addr, want) in [
        ("2001:db8:66::1", Verdict::Drop),
        ("2001:db8:66::ffff:1234:5678:9abc", Verdict::Drop),
        ("2001:db8:67::1", Verdict::Accept),
        ("198.51.100.200", Verdict::Drop),
        ("198.51.101.1", Verdict::Accept),
    ] {
        let mut p = new_packet(addr, SIP_UDP);
        p.ct = Some(CtState::Established);
        let (v, why) = arriving(&rs, &p, &sets);
        assert_eq!(v, want, "{addr}: {why}");
    }
}

#[test]
fn a_daemon_killed_with_kill_9_leaves_plain_sip_calls_their_media_through_the_kernels_helper() {
    let pinhole = |extra: &str| {
        let policy = sipwall_policy::parse(
            "p.toml",
            &format!(
                "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[services.tls]\nkind = \"sip-tls\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n{extra}"
            ),
        )
        .unwrap();
        compile(&policy, "p.toml")
    };
    let rs = pinhole("");
    // The helper is assigned to plain SIP, in both directions, and to
    // nothing else (TLS is unreadable to it).
    let assigned = |hook| {
        rs.chain(hook)
            .map(|c| {
                c.rules
                    .iter()
                    .filter(|r| matches!(r.action, crate::ir::Action::SetHelper(_)))
                    .flat_map(|r| r.matches.iter().cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let inbound = assigned(Hook::HelpersIn);
    assert!(!inbound.is_empty(), "a helper in pinhole mode");
    for m in inbound.iter().chain(assigned(Hook::HelpersOut).iter()) {
        let (crate::ir::Match::Dport(_, ports) | crate::ir::Match::Sport(_, ports)) = m else {
            panic!("{m:?}");
        };
        assert!(ports.iter().all(|p| p.first() == 5060), "{m:?}");
    }
    assert_eq!(
        rs.helpers.len(),
        2,
        "sip over udp and tcp: {:?}",
        rs.helpers
    );
    // With no daemon (empty pinhole sets), the call's RTP that the helper
    // expected is accepted as RELATED; a stray packet to the same port is not.
    let mut rtp = new_packet(
        "203.0.113.9",
        L4::Udp {
            sport: 4000,
            dport: 20000,
        },
    );
    assert_eq!(arriving(&rs, &rtp, &EmptySets).0, Verdict::Reject);
    rtp.ct = Some(CtState::Related);
    assert_eq!(
        arriving(&rs, &rtp, &EmptySets),
        (Verdict::Accept, "established, related".into())
    );
    // The admin can still say no.
    let off = pinhole("[helpers.sip]\nassign = false\n");
    assert!(off.chain(Hook::HelpersIn).is_none() && off.helpers.is_empty());
}

#[test]
fn the_decision_names_the_deciding_rules_position() {
    let rs = builtin();
    let input = rs.chain(Hook::Input).unwrap();
    let sip = new_packet(
        "203.0.113.9",
        L4::Udp {
            sport: 5060,
            dport: 5060,
        },
    );
    let d = evaluate(input, &sip, &EmptySets);
    let i = d.index.expect("a rule decides SIP");
    assert!(std::ptr::eq(&input.rules[i], d.rule.unwrap()));
    let other = new_packet("203.0.113.9", L4::Other(47));
    let d = evaluate(input, &other, &EmptySets);
    assert_eq!(d.index.is_none(), d.rule.is_none());
}

#[test]
fn an_observing_guard_has_no_first_line_so_a_flooding_source_is_never_banned_in_the_kernel() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[guard]\nmode = \"observe\"\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    assert!(rs.chain(Hook::Flood).is_none());
    assert!(rs.set(sets::FLOOD_BAN_V4).is_none() && rs.set(sets::FLOOD_BAN_V6).is_none());
    let nft = crate::nft::render(&rs);
    assert!(!nft.contains("flood_ban"), "{nft}");
    // The daemon still writes its verifications, and its own bans' sets exist.
    assert!(rs.set(sets::VERIFIED_V4).is_some());
    assert!(rs.set(sets::BAN_V4).is_some());
    let flooding = Flood {
        flooding: vec!["198.51.100.7".parse().unwrap()],
        ..Flood::default()
    };
    let (v, why) = arriving(&rs, &new_packet("198.51.100.7", SIP_UDP), &flooding);
    assert_eq!(
        (v, why.as_str()),
        (Verdict::Accept, "services.sip (p.toml:3)")
    );
    // The same policy enforcing has its first line.
    let enforcing = sipwall_policy::parse(
        "p.toml",
        "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    assert!(compile(&enforcing, "p.toml").chain(Hook::Flood).is_some());
}

/// Sources in one named set.
struct InSet(&'static str, IpAddr);
impl SetLookup for InSet {
    fn has_addr(&self, set: &str, a: IpAddr) -> bool {
        set == self.0 && a == self.1
    }
    fn has_port(&self, _: &str, _: u16) -> bool {
        false
    }
    fn has_addr_port(&self, _: &str, _: IpAddr, _: u16) -> bool {
        false
    }
}

#[test]
fn crowdsec_and_each_feed_drop_from_sets_of_their_own_with_their_own_counter() {
    let policy = sipwall_policy::parse(
        "p.toml",
        "[crowdsec]\nlapi = \"http://192.0.2.1:8080\"\n\n\
         [[feeds]]\nname = \"voipbl\"\nkind = \"list\"\nurl = \"http://198.51.100.7/update/\"\n",
    )
    .unwrap();
    let rs = compile(&policy, "p.toml");
    let names: Vec<&str> = rs.sets.iter().map(|s| s.name.as_str()).collect();
    for set in [
        "crowdsec_v4",
        "crowdsec_v6",
        "crowdsec_net_v4",
        "crowdsec_net_v6",
        "feed_voipbl_v4",
        "feed_voipbl_v6",
        "feed_voipbl_net_v4",
        "feed_voipbl_net_v6",
    ] {
        assert!(names.contains(&set), "{set} in {names:?}");
        let s = rs.sets.iter().find(|s| s.name == set).unwrap();
        assert!(
            s.timeout.is_zero(),
            "{set}: entries stay until their list drops them"
        );
    }
    for (set, addr, comment) in [
        (
            sets::CROWDSEC_V4,
            "203.0.113.66",
            "crowdsec decisions (sipwall run)",
        ),
        (
            sets::CROWDSEC_V6,
            "2001:db8::66",
            "crowdsec decisions (sipwall run)",
        ),
        (
            "feed_voipbl_v4",
            "203.0.113.67",
            "feed voipbl (sipwall run)",
        ),
        (
            "feed_voipbl_v6",
            "2001:db8::67",
            "feed voipbl (sipwall run)",
        ),
        (
            sets::CROWDSEC_NET_V4,
            "203.0.113.68",
            "crowdsec decisions (sipwall run)",
        ),
        (
            "feed_voipbl_net_v6",
            "2001:db8::68",
            "feed voipbl (sipwall run)",
        ),
    ] {
        let p = new_packet(
            addr,
            L4::Udp {
                sport: 5060,
                dport: 5060,
            },
        );
        let listed = InSet(set, addr.parse().unwrap());
        assert_eq!(
            verdict(&rs, &p, &listed),
            (Verdict::Drop, comment.to_owned())
        );
        assert_ne!(verdict(&rs, &p, &EmptySets).1, comment, "{addr}");
    }
    let text = crate::nft::render(&rs);
    assert!(
        text.contains("ip saddr @feed_voipbl_v4 counter drop"),
        "{text}"
    );
    // Addresses in a hash set, networks in an interval set; neither with a
    // default timeout.
    assert!(
        text.contains("set crowdsec_v4 {\n\t\ttype ipv4_addr\n\t\tsize 1000000\n\t\tflags timeout\n\t\tgc-interval"),
        "{text}"
    );
    assert!(
        text.contains("set crowdsec_net_v4 {\n\t\ttype ipv4_addr\n\t\tsize 1000000\n\t\tflags interval,timeout\n\t\tgc-interval"),
        "{text}"
    );
    // Without the sections, none of it.
    let plain = builtin();
    assert!(!plain
        .sets
        .iter()
        .any(|s| s.name.starts_with("crowdsec") || s.name.starts_with("feed_")));
}
