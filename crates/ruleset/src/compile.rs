//! Policy -> [`Ruleset`]. The order of the input chain is the design's data
//! path: loopback, spoofed loopback, bans, established/related, ICMP,
//! invalid, pinholes, services, media, log, reject.

use crate::ir::*;
use ipnet::IpNet;
use sipwall_policy::{Kind, MediaMode, Policy, PortRange, Protocol, Service};

/// Names of the sets the daemon fills.
pub mod sets {
    /// Banned IPv4 sources.
    pub const BAN_V4: &str = "ban_v4";
    /// Banned IPv6 sources.
    pub const BAN_V6: &str = "ban_v6";
    /// Local UDP ports open to anyone (a call whose remote is unknown).
    pub const PINHOLE_PORT: &str = "pinhole_port";
    /// (IPv4 source, local UDP port) pairs.
    pub const PINHOLE_V4: &str = "pinhole_v4";
    /// (IPv6 source, local UDP port) pairs.
    pub const PINHOLE_V6: &str = "pinhole_v6";
}

/// Compiles a validated policy into a ruleset.
pub fn compile(policy: &Policy, source: &str) -> Ruleset {
    let mut rs = Ruleset {
        source: source.to_owned(),
        sets: Vec::new(),
        helpers: Vec::new(),
        chains: Vec::new(),
    };
    let set = |name: &str, key, timeout, comment: &str| Set {
        name: name.to_owned(),
        key,
        timeout,
        gc_interval: policy.bans.gc_interval,
        comment: comment.to_owned(),
    };
    rs.sets.push(set(
        sets::BAN_V4,
        SetKey::Ipv4,
        policy.bans.timeout,
        "bans: filled by sipwall run",
    ));
    rs.sets.push(set(
        sets::BAN_V6,
        SetKey::Ipv6,
        policy.bans.timeout,
        "bans: filled by sipwall run",
    ));
    if policy.media.mode == MediaMode::Pinhole {
        let t = policy.media.pinhole_timeout;
        rs.sets.push(set(
            sets::PINHOLE_PORT,
            SetKey::Port,
            t,
            "pinholes by local port: filled by sipwall run",
        ));
        rs.sets.push(set(
            sets::PINHOLE_V4,
            SetKey::Ipv4Port,
            t,
            "pinholes by remote and local port: filled by sipwall run",
        ));
        rs.sets.push(set(
            sets::PINHOLE_V6,
            SetKey::Ipv6Port,
            t,
            "pinholes by remote and local port: filled by sipwall run",
        ));
    }

    let (helpers_in, helpers_out) = helpers(policy, &mut rs.helpers);
    if !helpers_in.is_empty() {
        rs.chains.push(Chain {
            name: "helpers_in",
            hook: Hook::HelpersIn,
            policy_accept: true,
            rules: helpers_in,
        });
        rs.chains.push(Chain {
            name: "helpers_out",
            hook: Hook::HelpersOut,
            policy_accept: true,
            rules: helpers_out,
        });
    }
    rs.chains.push(Chain {
        name: "input",
        hook: Hook::Input,
        policy_accept: false,
        rules: input(policy),
    });
    rs.chains.push(Chain {
        name: "forward",
        hook: Hook::Forward,
        policy_accept: policy.forward_accept,
        rules: vec![Rule {
            matches: vec![],
            action: Action::Counter,
            comment: format!(
                "forward: {}",
                if policy.forward_accept {
                    "accept"
                } else {
                    "drop"
                }
            ),
        }],
    });
    let marks = marks(policy);
    if !marks.is_empty() {
        rs.chains.push(Chain {
            name: "mark_out",
            hook: Hook::Mark,
            policy_accept: true,
            rules: marks,
        });
    }
    rs
}

fn rule(matches: Vec<Match>, action: Action, comment: impl Into<String>) -> Rule {
    Rule {
        matches,
        action,
        comment: comment.into(),
    }
}

/// Ports of `service` for one protocol, or `None` if it does not use it.
fn ports_of(s: &Service, proto: Protocol) -> Option<Vec<PortRange>> {
    s.protocols.contains(&proto).then(|| s.ports.clone())
}

fn helpers(policy: &Policy, objects: &mut Vec<Helper>) -> (Vec<Rule>, Vec<Rule>) {
    let (mut inbound, mut outbound) = (Vec::new(), Vec::new());
    let mut assign = |kind: Kind, helper: &'static str, object_prefix: &str| {
        for proto in [Protocol::Udp, Protocol::Tcp] {
            let services: Vec<&Service> = policy
                .services_of(kind)
                .filter(|s| s.protocols.contains(&proto))
                .collect();
            if services.is_empty() {
                continue;
            }
            let object = format!("{object_prefix}-{proto}");
            objects.push(Helper {
                name: object.clone(),
                kind: helper,
                protocol: proto,
            });
            for s in services {
                let ports = ports_of(s, proto).unwrap_or_default();
                let why = format!("{} helper: {}", helper, s.origin);
                inbound.push(rule(
                    vec![Match::Dport(proto, ports.clone())],
                    Action::SetHelper(object.clone()),
                    why.clone(),
                ));
                // FreeSWITCH sends from its profile port (UDP) or to the peer's
                // SIP port (TCP from an ephemeral port): cover both.
                outbound.push(rule(
                    vec![Match::Sport(proto, ports.clone())],
                    Action::SetHelper(object.clone()),
                    why.clone(),
                ));
                outbound.push(rule(
                    vec![Match::Dport(proto, ports)],
                    Action::SetHelper(object.clone()),
                    why,
                ));
            }
        }
    };
    if policy.helpers.sip_assign {
        assign(Kind::Sip, "sip", "sip");
    }
    assign(Kind::H323Ras, "RAS", "h323-ras");
    assign(Kind::H323Q931, "Q.931", "h323-q931");
    (inbound, outbound)
}

/// Splits prefixes by family, so that each rule matches one family.
fn by_family(nets: &[IpNet]) -> Vec<Vec<IpNet>> {
    let v4: Vec<IpNet> = nets
        .iter()
        .copied()
        .filter(|n| Family::of(n) == Family::V4)
        .collect();
    let v6: Vec<IpNet> = nets
        .iter()
        .copied()
        .filter(|n| Family::of(n) == Family::V6)
        .collect();
    [v4, v6].into_iter().filter(|v| !v.is_empty()).collect()
}

/// Accept rules for `ports` from `zones`: one rule when a zone is `any`,
/// one per family otherwise; loopback-only access is left to the loopback rule.
fn allow_rules(
    policy: &Policy,
    zones: &[String],
    proto: Protocol,
    ports: Vec<PortRange>,
    comment: &str,
) -> Vec<Rule> {
    let zones: Vec<_> = zones.iter().filter_map(|z| policy.zone(z)).collect();
    if zones.iter().any(|z| z.is_any()) {
        return vec![rule(
            vec![Match::Dport(proto, ports)],
            Action::Accept,
            comment,
        )];
    }
    let nets: Vec<IpNet> = zones
        .iter()
        .filter(|z| !z.is_loopback())
        .flat_map(|z| z.prefixes.iter().copied())
        .collect();
    by_family(&nets)
        .into_iter()
        .map(|nets| {
            rule(
                vec![Match::Saddr(nets), Match::Dport(proto, ports.clone())],
                Action::Accept,
                comment,
            )
        })
        .collect()
}

fn input(policy: &Policy) -> Vec<Rule> {
    let mut rules = Vec::new();
    let loopback_only: Vec<&str> = policy
        .services
        .iter()
        .filter(|s| s.allow.iter().all(|z| z == sipwall_policy::ZONE_LOOPBACK))
        .map(|s| s.name.as_str())
        .collect();
    let lo_comment = if loopback_only.is_empty() {
        "loopback".to_owned()
    } else {
        format!("loopback (the only way to {})", loopback_only.join(", "))
    };
    rules.push(rule(vec![Match::LoopbackIn], Action::Accept, lo_comment));
    for net in ["127.0.0.0/8", "::1/128"] {
        let net: IpNet = net.parse().expect("valid");
        rules.push(rule(
            vec![Match::NotLoopbackIn, Match::Daddr(vec![net])],
            Action::Reject,
            "loopback address from outside",
        ));
    }
    for (family, name) in [(Family::V4, sets::BAN_V4), (Family::V6, sets::BAN_V6)] {
        rules.push(rule(
            vec![Match::SaddrInSet(family, name.to_owned())],
            Action::Drop,
            "bans (sipwall run)",
        ));
    }
    if policy.iptables.scanner_string_match {
        for s in policy.services_of(Kind::Sip) {
            if let Some(ports) = ports_of(s, Protocol::Udp) {
                for needle in &policy.iptables.scanner_strings {
                    rules.push(rule(
                        vec![
                            Match::Dport(Protocol::Udp, ports.clone()),
                            Match::Contains(needle.clone()),
                        ],
                        Action::Drop,
                        format!("iptables.scanner_strings: {}", s.origin),
                    ));
                }
            }
        }
    }
    rules.push(rule(
        vec![Match::Ct(vec![CtState::Established, CtState::Related])],
        Action::Accept,
        "established, related",
    ));
    rules.push(rule(
        vec![Match::Icmpv6Type(ICMPV6_ESSENTIAL.to_vec())],
        Action::Accept,
        "icmpv6: what IPv6 needs",
    ));
    if policy.icmp_echo {
        rules.push(rule(
            vec![Match::IcmpType(vec![ICMP_ECHO_REQUEST])],
            Action::Accept,
            "icmp.echo",
        ));
        rules.push(rule(
            vec![Match::Icmpv6Type(vec![ICMPV6_ECHO_REQUEST])],
            Action::Accept,
            "icmp.echo",
        ));
    }
    rules.push(rule(
        vec![Match::Ct(vec![CtState::Invalid])],
        Action::Drop,
        "conntrack: invalid",
    ));
    let media = &policy.media;
    if media.mode == MediaMode::Pinhole {
        let pinholes = [
            Match::UdpDportInSet(sets::PINHOLE_PORT.into()),
            Match::SaddrUdpDportInSet(Family::V4, sets::PINHOLE_V4.into()),
            Match::SaddrUdpDportInSet(Family::V6, sets::PINHOLE_V6.into()),
        ];
        for m in pinholes {
            rules.push(rule(
                vec![m],
                Action::Accept,
                "media pinholes (sipwall run)",
            ));
        }
    }
    for s in &policy.services {
        for &proto in &s.protocols {
            rules.extend(allow_rules(
                policy,
                &s.allow,
                proto,
                s.ports.clone(),
                &s.origin.to_string(),
            ));
        }
    }
    if media.mode == MediaMode::Range {
        let comment = media.origin.to_string();
        rules.extend(allow_rules(
            policy,
            &media.allow,
            Protocol::Udp,
            vec![media.ports],
            &comment,
        ));
    }
    if let Some(rate) = policy.log.rate {
        rules.push(rule(
            vec![Match::Limit(rate)],
            Action::Log {
                prefix: policy.log.prefix.clone(),
                level: policy.log.level.clone(),
            },
            "log: denied",
        ));
    }
    rules.push(rule(vec![], Action::Reject, "default deny"));
    rules
}

fn marks(policy: &Policy) -> Vec<Rule> {
    let mut rules = Vec::new();
    if let Some(class) = policy.dscp.sip {
        for s in policy.services.iter().filter(|s| s.kind.is_signalling()) {
            for &proto in &s.protocols {
                rules.push(rule(
                    vec![Match::Sport(proto, s.ports.clone())],
                    Action::SetDscp(class),
                    format!("dscp.sip: {}", s.origin),
                ));
            }
        }
    }
    if let Some(class) = policy.dscp.rtp {
        rules.push(rule(
            vec![Match::Sport(Protocol::Udp, vec![policy.media.ports])],
            Action::SetDscp(class),
            "dscp.rtp: media",
        ));
    }
    rules
}
