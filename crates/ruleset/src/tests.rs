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
