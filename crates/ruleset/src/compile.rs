//! Policy -> [`Ruleset`]. The order of the input chain is the design's data
//! path: loopback, spoofed loopback, bans, established/related, ICMP,
//! invalid, pinholes, services, media, log, reject.
//!
//! Before it, the first line ([`Hook::Flood`], priority filter - 10): a
//! per-source packet rate on the SIP ports, metered in the kernel. The
//! daemon inspects ~10^5 packets a second on one core and, inline, fails
//! open past that; a flood from many sources must be dropped before any
//! chain hands it to user space. A source over `guard.flood` (rate and
//! burst, counted in packets) goes to a short kernel ban
//! ([`FLOOD_BAN`]); `guard.allow` and loopback are never metered. The
//! meter and its ban sets hold `guard.flood.max_sources` sources; past
//! that, new sources pass unmetered (the kernel cannot add to a full set)
//! and the daemon's own detector still sees them.
//!
//! A source the engine verified (return-routable within
//! `guard.verified_for`; the daemon fills `verified_v4/v6`) is metered
//! too, but what it sends over the rate is only dropped, never put in the
//! kernel's ban sets: a blind spoofer who forges a flood with a verified
//! peer's address costs that peer the packets over the rate (its real
//! ones among them, the meter cannot tell them apart), not all of them
//! for [`FLOOD_BAN`].
//!
//! In observe mode (`guard.mode = "observe"`) there is no first line: its
//! kernel bans are bans the admin asked not to make yet, and a meter that
//! only dropped the excess would still cut a busy trunk the thresholds
//! misjudge, the very mistake observe mode is there to show. The daemon's
//! own flood detector, with the same rate and burst, reports the sources
//! the first line would have banned ("would ban", reason flood).

use crate::ir::*;
use ipnet::IpNet;
use sipwall_policy::{GuardMode, Kind, MediaMode, Policy, PortRange, Protocol, Service};
use std::time::Duration;

/// Names of sipwall's sets: the daemon fills the bans and pinholes, the
/// kernel the first line's meters and bans.
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
    /// Banned IPv4 prefixes (one element bans a /24, say).
    pub const BAN_NET_V4: &str = "ban_net_v4";
    /// Banned IPv6 prefixes (one element bans a /64, say).
    pub const BAN_NET_V6: &str = "ban_net_v6";
    /// Per-source packet meters of the first line (IPv4), kernel-filled.
    pub const FLOOD_V4: &str = "flood_v4";
    /// Per-source packet meters of the first line (IPv6), kernel-filled.
    pub const FLOOD_V6: &str = "flood_v6";
    /// IPv4 sources the first line banned, kernel-filled.
    pub const FLOOD_BAN_V4: &str = "flood_ban_v4";
    /// IPv6 sources the first line banned, kernel-filled.
    pub const FLOOD_BAN_V6: &str = "flood_ban_v6";
    /// IPv4 sources that proved return-routable: the first line never bans them.
    pub const VERIFIED_V4: &str = "verified_v4";
    /// IPv6 sources that proved return-routable: the first line never bans them.
    pub const VERIFIED_V6: &str = "verified_v6";
    /// IPv4 addresses CrowdSec's decisions ban (`Ip` decisions).
    pub const CROWDSEC_V4: &str = "crowdsec_v4";
    /// IPv6 addresses CrowdSec's decisions ban.
    pub const CROWDSEC_V6: &str = "crowdsec_v6";
    /// IPv4 networks CrowdSec's decisions ban (`Range` decisions).
    pub const CROWDSEC_NET_V4: &str = "crowdsec_net_v4";
    /// IPv6 networks CrowdSec's decisions ban.
    pub const CROWDSEC_NET_V6: &str = "crowdsec_net_v6";

    /// The sets of a list banned elsewhere: its single addresses in hash
    /// sets (fast to fill: 100,000 at a daemon's start), its networks in
    /// interval sets, each pair IPv4 then IPv6.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ListSets {
        /// `<list>_v4`, `<list>_v6`: addresses.
        pub addrs: [String; 2],
        /// `<list>_net_v4`, `<list>_net_v6`: networks.
        pub nets: [String; 2],
    }

    impl ListSets {
        /// CrowdSec's.
        pub fn crowdsec() -> ListSets {
            ListSets::named("crowdsec")
        }

        /// A feed's: `feed_<name>_v4`, `feed_<name>_net_v4`, ... (the
        /// policy allows only `[a-z0-9_]` in a feed's name).
        pub fn feed(name: &str) -> ListSets {
            ListSets::named(&format!("feed_{name}"))
        }

        fn named(base: &str) -> ListSets {
            ListSets {
                addrs: [format!("{base}_v4"), format!("{base}_v6")],
                nets: [format!("{base}_net_v4"), format!("{base}_net_v6")],
            }
        }
    }
}

/// Elements of each external list's set (CrowdSec's, a feed's): the
/// community lists hold tens of thousands; past this the kernel refuses
/// the daemon's add instead of growing without bound.
pub const LIST_SET_SIZE: u32 = 1_000_000;

/// How long the first line bans a source that went over `guard.flood`:
/// long enough that a flooding source costs the daemon one burst a minute,
/// short enough that an unverified peer whose address was forged into a
/// flood is cut off for a minute, not the hour of a judged ban (a
/// verified one, in `verified_*`, is never put here). The daemon still bans
/// for real on what it sees.
pub const FLOOD_BAN: Duration = Duration::from_secs(60);

/// How long a first-line meter outlives its source's last packet: by then
/// any bucket of a sane `guard.flood` (burst / rate under a minute) is full
/// again, so forgetting it changes nothing.
pub const METER_IDLE: Duration = Duration::from_secs(60);

/// Elements of each daemon-filled ban set (addresses or prefixes). A
/// million bans is ~70 MB of kernel memory; past it, the kernel refuses
/// the daemon's add instead of growing without bound.
pub const BAN_SET_SIZE: u32 = 1_000_000;

/// Calls the engine keeps at most (its call table's cap, `MAX_CALLS` in
/// `sipwall_engine`, which this crate cannot see: keep the two in step).
pub const CALL_CAP: u32 = 100_000;

/// Verified sources the engine remembers at most (`MAX_VERIFIED` in
/// `sipwall_engine`'s routability table, which this crate cannot see:
/// keep the two in step).
pub const VERIFIED_CAP: u32 = 100_000;

/// Pinholes a call holds at most in one set: RTP and RTCP of up to four
/// media lines (the kernel helper stops at three).
pub const PINHOLES_PER_CALL: u32 = 8;

/// Compiles a validated policy into a ruleset.
pub fn compile(policy: &Policy, source: &str) -> Ruleset {
    let mut rs = Ruleset {
        source: source.to_owned(),
        sets: Vec::new(),
        helpers: Vec::new(),
        chains: Vec::new(),
    };
    let set = |name: &str, key, filled_by, size: u32, timeout, comment: &str| Set {
        name: name.to_owned(),
        key,
        filled_by,
        size,
        timeout,
        gc_interval: policy.bans.gc_interval,
        comment: comment.to_owned(),
    };
    for (name, key) in [(sets::BAN_V4, SetKey::Ipv4), (sets::BAN_V6, SetKey::Ipv6)] {
        rs.sets.push(set(
            name,
            key,
            FilledBy::Daemon,
            BAN_SET_SIZE,
            policy.bans.timeout,
            "bans: filled by sipwall run",
        ));
    }
    for (name, key) in [
        (sets::BAN_NET_V4, SetKey::Ipv4),
        (sets::BAN_NET_V6, SetKey::Ipv6),
    ] {
        rs.sets.push(set(
            name,
            key,
            FilledBy::DaemonPrefixes,
            BAN_SET_SIZE,
            policy.bans.timeout,
            "bans of whole prefixes: filled by sipwall run",
        ));
    }
    for (lists, comment) in external_lists(policy) {
        let families = [SetKey::Ipv4, SetKey::Ipv6];
        let addrs = lists
            .addrs
            .into_iter()
            .zip(families)
            .map(|(n, k)| (n, k, FilledBy::Daemon));
        let nets = lists
            .nets
            .into_iter()
            .zip(families)
            .map(|(n, k)| (n, k, FilledBy::DaemonPrefixes));
        for (name, key, filled_by) in addrs.chain(nets) {
            // No default timeout: a feed's entries stay until the feed drops
            // them; CrowdSec's carry their decision's remaining time.
            rs.sets.push(set(
                &name,
                key,
                filled_by,
                LIST_SET_SIZE,
                Duration::ZERO,
                &format!("{comment}: filled by sipwall run"),
            ));
        }
    }
    if policy.media.mode == MediaMode::Pinhole {
        let t = policy.media.pinhole_timeout;
        let pairs = CALL_CAP * PINHOLES_PER_CALL;
        for (name, key, size, comment) in [
            (
                sets::PINHOLE_PORT,
                SetKey::Port,
                u32::from(u16::MAX) + 1,
                "pinholes by local port: filled by sipwall run",
            ),
            (
                sets::PINHOLE_V4,
                SetKey::Ipv4Port,
                pairs,
                "pinholes by remote and local port: filled by sipwall run",
            ),
            (
                sets::PINHOLE_V6,
                SetKey::Ipv6Port,
                pairs,
                "pinholes by remote and local port: filled by sipwall run",
            ),
        ] {
            rs.sets
                .push(set(name, key, FilledBy::Daemon, size, t, comment));
        }
    }
    let first_line = flood(policy);
    // Declared whenever the engine verifies sources, first line or not:
    // the daemon writes every verification, and a write to a set that
    // does not exist is a kernel error.
    if !policy.guard.verified_for.is_zero() {
        for (name, key) in [
            (sets::VERIFIED_V4, SetKey::Ipv4),
            (sets::VERIFIED_V6, SetKey::Ipv6),
        ] {
            rs.sets.push(set(
                name,
                key,
                FilledBy::Daemon,
                VERIFIED_CAP,
                policy.guard.verified_for,
                "first line: verified sources, never banned for a flood: filled by sipwall run",
            ));
        }
    }
    if !first_line.is_empty() {
        let sources = u32::try_from(policy.guard.flood.max_sources).unwrap_or(u32::MAX);
        for (name, key, filled_by, timeout, comment) in [
            (
                sets::FLOOD_V4,
                SetKey::Ipv4,
                FilledBy::Meter,
                METER_IDLE,
                "first line: packet meters per source, filled by the kernel",
            ),
            (
                sets::FLOOD_V6,
                SetKey::Ipv6,
                FilledBy::Meter,
                METER_IDLE,
                "first line: packet meters per source, filled by the kernel",
            ),
            (
                sets::FLOOD_BAN_V4,
                SetKey::Ipv4,
                FilledBy::Kernel,
                FLOOD_BAN,
                "first line: sources over guard.flood, filled by the kernel",
            ),
            (
                sets::FLOOD_BAN_V6,
                SetKey::Ipv6,
                FilledBy::Kernel,
                FLOOD_BAN,
                "first line: sources over guard.flood, filled by the kernel",
            ),
        ] {
            rs.sets
                .push(set(name, key, filled_by, sources, timeout, comment));
        }
        rs.chains.push(Chain {
            name: "flood",
            hook: Hook::Flood,
            policy_accept: true,
            rules: first_line,
        });
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

/// The lists banned elsewhere that have sets of their own, with their
/// sets and what to call them: CrowdSec's decisions, then each feed in
/// file order. Each has its own drop rules, so `nft list` counts every
/// list's drops apart. Allowlisted zones win over all of
/// them: the daemon never puts an allowlisted address in these sets.
fn external_lists(policy: &Policy) -> Vec<(sets::ListSets, String)> {
    let crowdsec = policy
        .crowdsec
        .as_ref()
        .map(|_| (sets::ListSets::crowdsec(), "crowdsec decisions".to_owned()));
    let feeds = policy
        .feeds
        .iter()
        .map(|f| (sets::ListSets::feed(&f.name), format!("feed {}", f.name)));
    crowdsec.into_iter().chain(feeds).collect()
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
    for (family, name) in [
        (Family::V4, sets::BAN_V4),
        (Family::V6, sets::BAN_V6),
        (Family::V4, sets::BAN_NET_V4),
        (Family::V6, sets::BAN_NET_V6),
    ] {
        rules.push(rule(
            vec![Match::SaddrInSet(family, name.to_owned())],
            Action::Drop,
            "bans (sipwall run)",
        ));
    }
    for (lists, comment) in external_lists(policy) {
        let names = lists.addrs.into_iter().chain(lists.nets);
        for (name, family) in names.zip([Family::V4, Family::V6, Family::V4, Family::V6]) {
            rules.push(rule(
                vec![Match::SaddrInSet(family, name)],
                Action::Drop,
                format!("{comment} (sipwall run)"),
            ));
        }
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

/// The first line's rules: kernel bans, exemptions, then one meter rule
/// per protocol and family on all SIP ports. Empty when the flood detector
/// is off, when `guard.allow` holds `any` (nobody may be banned), in
/// observe mode (nobody is banned yet), or when no SIP service exists.
fn flood(policy: &Policy) -> Vec<Rule> {
    let f = &policy.guard.flood;
    let allow: Vec<_> = policy
        .guard
        .allow
        .iter()
        .filter_map(|z| policy.zone(z))
        .collect();
    if !f.enabled || policy.guard.mode == GuardMode::Observe || allow.iter().any(|z| z.is_any()) {
        return Vec::new();
    }
    let mut meters = Vec::new();
    let mut verified = Vec::new();
    for proto in [Protocol::Udp, Protocol::Tcp] {
        let ports: Vec<PortRange> = policy
            .services_of(Kind::Sip)
            .filter(|s| s.protocols.contains(&proto))
            .flat_map(|s| s.ports.iter().copied())
            .collect();
        if ports.is_empty() {
            continue;
        }
        for (family, meter, ban, shield) in [
            (
                Family::V4,
                sets::FLOOD_V4,
                sets::FLOOD_BAN_V4,
                sets::VERIFIED_V4,
            ),
            (
                Family::V6,
                sets::FLOOD_V6,
                sets::FLOOD_BAN_V6,
                sets::VERIFIED_V6,
            ),
        ] {
            // The same meter as the ban rule below: a source's bucket is
            // one, whether or not it is verified.
            verified.push(rule(
                vec![
                    Match::SaddrInSet(family, shield.to_owned()),
                    Match::Dport(proto, ports.clone()),
                    Match::OverRate {
                        meter: meter.to_owned(),
                        family,
                        per_second: f.rate,
                        burst: f.burst,
                    },
                ],
                Action::Drop,
                format!(
                    "guard.flood: a verified source over {}/s (burst {}) loses the excess, no ban",
                    f.rate, f.burst
                ),
            ));
            meters.push(rule(
                vec![
                    Match::Dport(proto, ports.clone()),
                    Match::OverRate {
                        meter: meter.to_owned(),
                        family,
                        per_second: f.rate,
                        burst: f.burst,
                    },
                ],
                Action::BanSource {
                    set: ban.to_owned(),
                    family,
                    timeout: FLOOD_BAN,
                },
                format!(
                    "guard.flood: over {}/s (burst {}) from one source",
                    f.rate, f.burst
                ),
            ));
        }
    }
    if meters.is_empty() {
        return meters;
    }
    let mut rules = vec![rule(
        vec![Match::LoopbackIn],
        Action::Accept,
        "first line: loopback is not metered",
    )];
    for (family, name) in [
        (Family::V4, sets::FLOOD_BAN_V4),
        (Family::V6, sets::FLOOD_BAN_V6),
    ] {
        rules.push(rule(
            vec![Match::SaddrInSet(family, name.to_owned())],
            Action::Drop,
            "first line: banned by the kernel for a flood",
        ));
    }
    let nets: Vec<IpNet> = allow
        .iter()
        .filter(|z| !z.is_loopback())
        .flat_map(|z| z.prefixes.iter().copied())
        .collect();
    for nets in by_family(&nets) {
        rules.push(rule(
            vec![Match::Saddr(nets)],
            Action::Accept,
            "first line: guard.allow is not metered",
        ));
    }
    if !policy.guard.verified_for.is_zero() {
        rules.extend(verified);
        for (family, name) in [
            (Family::V4, sets::VERIFIED_V4),
            (Family::V6, sets::VERIFIED_V6),
        ] {
            rules.push(rule(
                vec![Match::SaddrInSet(family, name.to_owned())],
                Action::Accept,
                "first line: a verified source under the rate is not banned",
            ));
        }
    }
    rules.extend(meters);
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
