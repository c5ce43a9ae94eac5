//! The checks, one function per finding id, each asking the ruleset about
//! probe packets: a NEW connection from a documentation address
//! (203.0.113.9, 2001:db8:ffff::9) to the host, on a non-loopback interface.

use crate::finding::{Finding, Id, Severity};
use crate::sshd::SshPorts;
use sipwall_freeswitch::{Address, Inventory, Kind, Provenance};
use sipwall_policy::Protocol;
use sipwall_ruleset::eval::{Packet, L4};
use sipwall_ruleset::ir::{Action, Family, Match};
use sipwall_ruleset::read::{Cond, Existing, ExistingRule, HookPoint, Reach, Step};
use std::net::IpAddr;
use std::path::Path;

/// What the audit judges.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The ruleset, as read.
    pub ruleset: &'a Existing,
    /// What FreeSWITCH listens on; without it the configuration checks are skipped.
    pub inventory: Option<&'a Inventory>,
    /// The SSH session the audit runs from (client address, server port), if any.
    pub ssh_session: Option<(IpAddr, u16)>,
    /// Where sshd listens (its configuration or its socket); without it
    /// SSH is port 22 and any rule whose comment says SSH.
    pub ssh: Option<&'a SshPorts>,
}

/// FreeSWITCH's default RTP range, RTCP included, when no configuration is given.
const DEFAULT_RTP: (u16, u16) = sipwall_policy::DEFAULT_MEDIA_PORTS;
/// The event socket's default port.
const ESL_PORT: u16 = sipwall_freeswitch::event_socket::DEFAULT_PORT;
/// Narrower prefixes than these count as an admin zone for ESL.
const ADMIN_PREFIX_V4: u8 = 16;
const ADMIN_PREFIX_V6: u8 = 48;

/// All findings, most severe first.
pub fn audit(input: &Input<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let esl = esl(input, &mut out);
    esl_default_password(input, esl, &mut out);
    esl_weak_password(input, esl, &mut out);
    default_deny(input, &mut out);
    sip_helper_unassigned(input, &mut out);
    rtp_range_mismatch(input, &mut out);
    profile_port_closed(input, &mut out);
    port_open_unused(input, &mut out);
    log_unlimited(input, &mut out);
    scanner_string_match(input, &mut out);
    ssh_lockout_risk(input, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn public(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::from([203, 0, 113, 9]),
        Family::V6 => "2001:db8:ffff::9"
            .parse()
            .unwrap_or(IpAddr::from([0u16; 8])),
    }
}

fn packet(saddr: IpAddr, proto: Protocol, port: u16) -> Packet<'static> {
    let daddr = match saddr {
        IpAddr::V4(_) => IpAddr::from([192, 0, 2, 1]),
        IpAddr::V6(_) => "2001:db8::1".parse().unwrap_or(IpAddr::from([0u16; 8])),
    };
    let (sport, dport) = (40000, port);
    Packet {
        loopback_in: false,
        saddr,
        daddr,
        l4: match proto {
            Protocol::Udp => L4::Udp { sport, dport },
            Protocol::Tcp => L4::Tcp { sport, dport },
        },
        ct: None,
        payload: b"",
    }
}

/// What happens to a NEW connection from `from` to `port`.
fn probe(
    rs: &Existing,
    from: IpAddr,
    proto: Protocol,
    port: u16,
) -> (Reach, Option<&ExistingRule>) {
    let a = rs.reach(&HookPoint::Input, &packet(from, proto, port));
    (a.reach, a.by)
}

fn families(rs: &Existing) -> Vec<Family> {
    [Family::V4, Family::V6]
        .into_iter()
        .filter(|f| rs.covers.has(*f))
        .collect()
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

fn proto_name(p: Protocol) -> &'static str {
    p.as_str()
}

fn finding(id: Id, severity: Severity, message: String, location: Option<String>) -> Finding {
    Finding {
        id,
        severity,
        message,
        location,
    }
}

/// `conf_dir/file:line` of the setting that decided a value.
fn config_location(inv: &Inventory, prov: &[Provenance], prefer: &[&str]) -> Option<String> {
    let p = prov
        .iter()
        .find(|p| prefer.iter().any(|k| p.setting.contains(k)))
        .or(prov.last())?;
    Some(format!(
        "{}:{}",
        Path::new(&inv.conf_dir).join(&p.at.file).display(),
        p.at.line
    ))
}

/// Input-chain rules that accept NEW packets (or do not look at the state).
fn accepting_rules(rs: &Existing) -> impl Iterator<Item = &ExistingRule> {
    rs.base_rules()
        .filter(|(c, _)| c.base.as_ref().is_some_and(|b| b.hook == HookPoint::Input))
        .map(|(_, r)| r)
        .filter(|r| matches!(r.step, Step::Ir(Action::Accept)))
        .filter(|r| r.conds.iter().all(|c| !matches!(c, Cond::Ct(s) if !s.new)))
}

/// How far the event socket reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EslReach {
    Local,
    AdminZone,
    Anywhere,
}

fn esl(input: &Input<'_>, out: &mut Vec<Finding>) -> EslReach {
    let rs = input.ruleset;
    let es = input.inventory.and_then(|i| i.event_socket.as_ref());
    let port = es.and_then(|e| e.port).unwrap_or(ESL_PORT);
    if let Some(Address::Ip { ip }) = es.map(|e| &e.listen_ip) {
        if ip.is_loopback() {
            return EslReach::Local;
        }
    }
    let mut reach = EslReach::Local;
    for f in families(rs) {
        match probe(rs, public(f), Protocol::Tcp, port) {
            (Reach::Accepted, by) => {
                reach = EslReach::Anywhere;
                out.push(finding(
                    Id::EslExposed,
                    Severity::Critical,
                    format!("the event socket (tcp/{port}) accepts new connections from anywhere over {}: ESL runs any command on the switch; allow it from loopback or an admin zone only", family_name(f)),
                    by.map(|r| r.at.to_string()),
                ));
            }
            (Reach::Maybe, by) => {
                reach = EslReach::Anywhere;
                out.push(finding(
                    Id::EslExposed,
                    Severity::Medium,
                    format!("the event socket (tcp/{port}) may be reachable from anywhere over {} (a rule this audit cannot judge decides)", family_name(f)),
                    by.map(|r| r.at.to_string()),
                ));
            }
            (Reach::Denied, _) => {}
        }
    }
    for r in accepting_rules(rs) {
        let opens = r.ir_matches().any(|m| matches!(m, Match::Dport(Protocol::Tcp, ranges) if ranges.iter().any(|x| x.contains(port))));
        if !opens {
            continue;
        }
        let sources: Vec<_> = r
            .ir_matches()
            .filter_map(|m| match m {
                Match::Saddr(nets) => Some(nets),
                _ => None,
            })
            .flatten()
            .collect();
        let wide: Vec<String> = sources
            .iter()
            .filter(|n| match n {
                ipnet::IpNet::V4(n) => n.prefix_len() < ADMIN_PREFIX_V4,
                ipnet::IpNet::V6(n) => n.prefix_len() < ADMIN_PREFIX_V6,
            })
            .map(|n| n.to_string())
            .collect();
        if !wide.is_empty() && reach != EslReach::Anywhere {
            reach = EslReach::Anywhere;
            out.push(finding(
                Id::EslExposed,
                Severity::High,
                format!("the event socket (tcp/{port}) is open to wide prefixes ({}): keep it to loopback or a few admin hosts", wide.join(", ")),
                Some(r.at.to_string()),
            ));
        } else if !sources.is_empty() && reach == EslReach::Local {
            reach = EslReach::AdminZone;
        }
    }
    reach
}

fn esl_default_password(input: &Input<'_>, reach: EslReach, out: &mut Vec<Finding>) {
    let Some(inv) = input.inventory else { return };
    let Some(es) = &inv.event_socket else { return };
    if !es.default_password {
        return;
    }
    let (severity, why) = match reach {
        EslReach::Local => (
            Severity::Info,
            "only local users can reach it through this ruleset",
        ),
        EslReach::AdminZone => (Severity::Medium, "the ruleset lets an admin zone reach it"),
        EslReach::Anywhere => (Severity::Critical, "and the ruleset lets others reach it"),
    };
    out.push(finding(
        Id::EslDefaultPassword,
        severity,
        format!("the event socket keeps FreeSWITCH's default password ClueCon (CVE-2019-19492); {why}: set another `password` in event_socket.conf.xml"),
        config_location(inv, &es.provenance, &["password"]),
    ));
}

fn esl_weak_password(input: &Input<'_>, reach: EslReach, out: &mut Vec<Finding>) {
    let Some(inv) = input.inventory else { return };
    let Some(es) = &inv.event_socket else { return };
    if es.default_password {
        return;
    }
    let Some(why) = crate::configuration::weakness(&es.password) else {
        return;
    };
    let (severity, by) = match reach {
        EslReach::Local => (
            Severity::Info,
            "only local users can reach it through this ruleset",
        ),
        EslReach::AdminZone => (Severity::Low, "the ruleset lets an admin zone reach it"),
        EslReach::Anywhere => (Severity::High, "and the ruleset lets others reach it"),
    };
    out.push(finding(
        Id::EslWeakPassword,
        severity,
        format!("the event socket's password {why}; {by}: use a long random one"),
        config_location(inv, &es.provenance, &["password"]),
    ));
}

/// A port no rule names, to ask whether unopened ports are refused.
fn unused_port(rs: &Existing, proto: Protocol) -> u16 {
    let named = |port: u16| {
        rs.base_rules().any(|(_, r)| {
            r.conds.iter().any(|c| match c {
                Cond::Ir(Match::Dport(p, ranges)) | Cond::Not(Match::Dport(p, ranges)) => {
                    *p == proto && ranges.iter().any(|x| x.contains(port))
                }
                _ => false,
            })
        })
    };
    [9, 47, 4, 65001, 1]
        .into_iter()
        .find(|p| !named(*p))
        .unwrap_or(9)
}

fn default_deny(input: &Input<'_>, out: &mut Vec<Finding>) {
    let rs = input.ruleset;
    let open = |f: Family| {
        [Protocol::Tcp, Protocol::Udp].into_iter().find_map(|p| {
            let port = unused_port(rs, p);
            match probe(rs, public(f), p, port) {
                (Reach::Accepted, by) => Some((p, port, by)),
                _ => None,
            }
        })
    };
    let v4 = rs.covers.v4.then(|| open(Family::V4));
    let v6 = rs.covers.v6.then(|| open(Family::V6));
    let say = |f: Family, (p, port, by): (Protocol, u16, Option<&ExistingRule>)| {
        (
            format!("{} accepts a new {} connection to port {port}, which nothing opens: the input chain has no default deny (a final reject or a drop policy)", family_name(f), proto_name(p)),
            by.map(|r| r.at.to_string()),
        )
    };
    match (v4, v6) {
        (Some(Some(a)), v6) => {
            let (m, at) = say(Family::V4, a);
            out.push(finding(Id::NoDefaultDeny, Severity::High, m, at));
            if let Some(Some(b)) = v6 {
                let (m, at) = say(Family::V6, b);
                out.push(finding(Id::NoDefaultDeny, Severity::High, m, at));
            }
        }
        (Some(None), Some(Some(b))) => {
            let (m, at) = say(Family::V6, b);
            out.push(finding(
                Id::Ipv6Unfiltered,
                Severity::High,
                format!("IPv4 is filtered but IPv6 is not: {m}; every IPv6 service is exposed"),
                at,
            ));
        }
        (None, Some(Some(b))) => {
            let (m, at) = say(Family::V6, b);
            out.push(finding(Id::NoDefaultDeny, Severity::High, m, at));
        }
        (Some(_), None) => out.push(finding(
            Id::Ipv6Unknown,
            Severity::Info,
            "the input describes IPv4 only: give the ip6tables-save dump too (--ruleset twice) to judge IPv6".into(),
            None,
        )),
        _ => {}
    }
}

fn rtp_range(input: &Input<'_>) -> (u16, u16, Option<String>) {
    match input.inventory.and_then(|i| i.rtp.as_ref().map(|r| (i, r))) {
        Some((inv, rtp)) => (
            rtp.ports.first,
            rtp.ports.last,
            config_location(inv, &rtp.provenance, &["rtp-end-port"]),
        ),
        None => (DEFAULT_RTP.0, DEFAULT_RTP.1, None),
    }
}

/// Whether the input chains accept RELATED packets.
fn accepts_related(rs: &Existing) -> Option<&ExistingRule> {
    rs.base_rules()
        .filter(|(c, _)| c.base.as_ref().is_some_and(|b| b.hook == HookPoint::Input))
        .map(|(_, r)| r)
        .find(|r| {
            matches!(r.step, Step::Ir(Action::Accept))
                && r.conds
                    .iter()
                    .any(|c| matches!(c, Cond::Ct(s) if s.related))
        })
}

/// Whether a SIP helper (or an unnamed one, from iptables-nft) is assigned.
fn helper_assigned(rs: &Existing) -> bool {
    rs.base_rules().any(|(_, r)| {
        matches!(&r.step, Step::AssignHelper(k) if k.as_deref().is_none_or(|k| k == "sip"))
    })
}

/// Whether RTP can be opened per call by a set the daemon fills (pinholes).
fn dynamic_udp_accept(rs: &Existing) -> bool {
    accepting_rules(rs).any(|r| {
        r.conds
            .iter()
            .any(|c| matches!(c, Cond::InSet { negated: false, .. }))
    })
}

fn sip_helper_unassigned(input: &Input<'_>, out: &mut Vec<Finding>) {
    let rs = input.ruleset;
    let Some(related) = accepts_related(rs) else {
        return;
    };
    let (first, last, _) = rtp_range(input);
    let Some(f) = families(rs).into_iter().next() else {
        return;
    };
    let closed = [first, first + (last - first) / 2, last]
        .into_iter()
        .all(|p| probe(rs, public(f), Protocol::Udp, p).0 == Reach::Denied);
    if closed && !helper_assigned(rs) && !dynamic_udp_accept(rs) {
        out.push(finding(
            Id::SipHelperUnassigned,
            Severity::High,
            format!("RTP ({first}-{last}) is left to RELATED, but no SIP helper is assigned (CT --helper sip / ct helper set): since Linux 6.0 nf_conntrack_sip makes no expectations by itself, so calls get no audio"),
            Some(related.at.to_string()),
        ));
    }
}

/// Contiguous runs of `ports`, as text (`32769`, `20000-20010`).
fn runs(ports: &[u16]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let start = ports[i];
        while i + 1 < ports.len() && ports[i + 1] == ports[i] + 1 {
            i += 1;
        }
        out.push(if start == ports[i] {
            start.to_string()
        } else {
            format!("{start}-{}", ports[i])
        });
        i += 1;
    }
    out.join(", ")
}

fn rtp_range_mismatch(input: &Input<'_>, out: &mut Vec<Finding>) {
    let rs = input.ruleset;
    let Some(inv) = input.inventory else { return };
    if inv.rtp.is_none() {
        return;
    }
    let (first, last, conf_at) = rtp_range(input);
    let conf = conf_at.map_or_else(String::new, |c| format!(" ({c})"));
    for f in families(rs) {
        let mut closed = Vec::new();
        let mut decided_by = None;
        for port in first..=last {
            let (reach, by) = probe(rs, public(f), Protocol::Udp, port);
            if reach == Reach::Denied {
                closed.push(port);
                decided_by = decided_by.or(by);
            }
        }
        let all = closed.len() == usize::from(last - first) + 1;
        if all && (helper_assigned(rs) || dynamic_udp_accept(rs) || accepts_related(rs).is_some()) {
            // Helper or pinhole mode; sip-helper-unassigned judges RELATED alone.
            continue;
        }
        if !closed.is_empty() {
            let rtcp_only = closed == [last];
            let (severity, why) = if rtcp_only {
                (Severity::Medium, format!(": {last} is the RTCP port of the last RTP port {} (RTP takes even ports, RTCP the next one)", last - 1))
            } else {
                (Severity::High, String::new())
            };
            out.push(finding(
                Id::RtpRangeMismatch,
                severity,
                format!("switch.conf's media ports are {first}-{last}{conf}, but {} rejects udp {}{why}", family_name(f), runs(&closed)),
                decided_by.map(|r| r.at.to_string()),
            ));
        }
    }
    for r in accepting_rules(rs) {
        for m in r.ir_matches() {
            let Match::Dport(Protocol::Udp, ranges) = m else {
                continue;
            };
            for x in ranges {
                let overlaps = x.first() <= last && first <= x.last();
                if overlaps && (x.first() < first || x.last() > last) {
                    out.push(finding(
                        Id::RtpRangeMismatch,
                        Severity::Low,
                        format!("opens udp {}-{}, beyond switch.conf's media ports {first}-{last}{conf}", x.first(), x.last()),
                        Some(r.at.to_string()),
                    ));
                }
            }
        }
    }
}

/// The families a service's address can be reached on; none for loopback.
fn service_families(addr: &Address) -> Vec<Family> {
    match addr {
        Address::Ip { ip } if ip.is_loopback() => vec![],
        Address::Ip { ip: IpAddr::V4(_) } => vec![Family::V4],
        Address::Ip { ip: IpAddr::V6(_) } => vec![Family::V6],
        Address::Any { family: None } => vec![Family::V4, Family::V6],
        Address::Any { family: Some(f) } | Address::Host { family: f } => match f {
            sipwall_freeswitch::inventory::Family::Ipv4 => vec![Family::V4],
            sipwall_freeswitch::inventory::Family::Ipv6 => vec![Family::V6],
        },
        _ => vec![Family::V4, Family::V6],
    }
}

fn profile_port_closed(input: &Input<'_>, out: &mut Vec<Finding>) {
    let rs = input.ruleset;
    let Some(inv) = input.inventory else { return };
    for s in &inv.services {
        if !matches!(
            s.kind,
            Kind::Sip | Kind::SipTls | Kind::Ws | Kind::Wss | Kind::Verto | Kind::VertoTls
        ) {
            continue;
        }
        let Some(ports) = s.ports else { continue };
        let proto = match s.protocol {
            sipwall_freeswitch::Protocol::Udp => Protocol::Udp,
            sipwall_freeswitch::Protocol::Tcp => Protocol::Tcp,
        };
        for f in service_families(&s.address) {
            if !rs.covers.has(f) {
                continue;
            }
            let closed: Vec<u16> = (ports.first..=ports.last)
                .filter(|p| probe(rs, public(f), proto, *p).0 == Reach::Denied)
                .collect();
            if closed.is_empty() {
                continue;
            }
            let kind = serde_kind(s.kind);
            out.push(finding(
                Id::ProfilePortClosed,
                Severity::High,
                format!(
                    "{} ({kind}) listens on {} {} over {}, but the ruleset rejects it",
                    s.name,
                    proto_name(proto),
                    runs(&closed),
                    family_name(f)
                ),
                config_location(inv, &s.provenance, &["port", "bind"]),
            ));
        }
    }
}

fn serde_kind(k: Kind) -> &'static str {
    match k {
        Kind::Sip => "sip",
        Kind::SipTls => "sip-tls",
        Kind::Ws => "ws",
        Kind::Wss => "wss",
        Kind::Verto => "verto",
        Kind::VertoTls => "verto-tls",
        _ => "service",
    }
}

/// sshd's ports: as learnt, or its default.
fn ssh_ports(input: &Input<'_>) -> Vec<u16> {
    input.ssh.map_or_else(|| vec![22], |s| s.ports.clone())
}

/// Whether a rule is about SSH, by sshd's port or by what its author wrote.
fn is_ssh(input: &Input<'_>, r: &ExistingRule, port: u16) -> bool {
    ssh_ports(input).contains(&port)
        || r.comment
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("ssh"))
}

fn port_open_unused(input: &Input<'_>, out: &mut Vec<Finding>) {
    let rs = input.ruleset;
    let Some(inv) = input.inventory else { return };
    let used = |proto: Protocol, port: u16| {
        inv.services.iter().any(|s| {
            let sp = match s.protocol {
                sipwall_freeswitch::Protocol::Udp => Protocol::Udp,
                sipwall_freeswitch::Protocol::Tcp => Protocol::Tcp,
            };
            sp == proto && s.ports.is_some_and(|p| p.contains(port))
        })
    };
    for r in accepting_rules(rs) {
        for m in r.ir_matches() {
            let Match::Dport(proto, ranges) = m else {
                continue;
            };
            let unused: Vec<u16> = ranges
                .iter()
                .flat_map(|x| x.first()..=x.last())
                .filter(|p| !used(*proto, *p) && !is_ssh(input, r, *p))
                .collect();
            if unused.is_empty() {
                continue;
            }
            out.push(finding(
                Id::PortOpenUnused,
                Severity::Low,
                format!("opens {} {}, but nothing in the FreeSWITCH configuration listens there: close it", proto_name(*proto), runs(&unused)),
                Some(r.at.to_string()),
            ));
        }
    }
}

fn log_unlimited(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (_, r) in input.ruleset.base_rules() {
        if !matches!(r.step, Step::Ir(Action::Log { .. })) {
            continue;
        }
        let limited = r.conds.iter().any(|c| match c {
            Cond::Ir(Match::Limit(_)) => true,
            Cond::Opaque(t) => t.contains("limit"),
            _ => false,
        });
        if !limited {
            out.push(finding(
                Id::LogUnlimited,
                Severity::Medium,
                "logs every matching packet: a scan or flood fills the kernel log and disks; add a rate limit (-m limit / limit rate)".into(),
                Some(r.at.to_string()),
            ));
        }
    }
}

fn scanner_string_match(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (_, r) in input.ruleset.base_rules() {
        if !matches!(r.step, Step::Ir(Action::Drop | Action::Reject)) {
            continue;
        }
        let needle = r.conds.iter().find_map(|c| match c {
            Cond::Ir(Match::Contains(s)) => Some(format!("{s:?}")),
            Cond::Opaque(t) if t.contains("xt match string") || t.contains("-m string") => {
                Some("a substring".to_owned())
            }
            _ => None,
        });
        if let Some(needle) = needle {
            out.push(finding(
                Id::ScannerStringMatch,
                Severity::Low,
                format!("drops packets containing {needle} anywhere: it can hit legitimate SIP (a display name, a URI, an SDP line) and misses TCP, TLS and fragments; block scanners by parsing SIP (sipwall run) instead"),
                Some(r.at.to_string()),
            ));
        }
    }
}

fn ssh_lockout_risk(input: &Input<'_>, out: &mut Vec<Finding>) {
    let rs = input.ruleset;
    if let Some((client, port)) = input.ssh_session {
        let family = if client.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        };
        if !rs.covers.has(family) {
            return;
        }
        match probe(rs, client, Protocol::Tcp, port) {
            (Reach::Denied, by) => out.push(finding(
                Id::SshLockoutRisk,
                Severity::Critical,
                format!("a new SSH connection from {client} (this session) to port {port} is rejected: loading this ruleset locks you out once the session drops"),
                by.map(|r| r.at.to_string()),
            )),
            (Reach::Maybe, by) => out.push(finding(
                Id::SshLockoutRisk,
                Severity::Medium,
                format!("whether a new SSH connection from {client} (this session) to port {port} gets in depends on a rule this audit cannot judge"),
                by.map(|r| r.at.to_string()),
            )),
            (Reach::Accepted, _) => {}
        }
        return;
    }
    let Some(f) = families(rs).into_iter().next() else {
        return;
    };
    let ports = ssh_ports(input);
    let probes: Vec<_> = ports
        .iter()
        .map(|p| probe(rs, public(f), Protocol::Tcp, *p))
        .collect();
    if probes.iter().any(|(reach, _)| *reach != Reach::Denied) {
        return;
    }
    let by = probes.iter().find_map(|(_, by)| *by);
    let others: Vec<String> = accepting_rules(rs)
        .filter(|r| is_ssh(input, r, 0))
        .flat_map(|r| {
            r.ir_matches()
                .filter_map(|m| match m {
                    Match::Dport(Protocol::Tcp, ranges) => {
                        Some(ranges.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                    }
                    _ => None,
                })
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    if let Some(ssh) = input.ssh {
        let listed = runs(&ports);
        let also = if others.is_empty() {
            String::new()
        } else {
            format!(
                "; the rule said to be for SSH opens tcp {} instead",
                others.join(", ")
            )
        };
        out.push(finding(
            Id::SshLockoutRisk,
            Severity::High,
            format!("sshd listens on tcp {listed} ({}), and the ruleset rejects it{also}: loading this ruleset over SSH locks you out", ssh.source),
            by.map(|r| r.at.to_string()),
        ));
        return;
    }
    let at = by.map(|r| r.at.to_string());
    if others.is_empty() {
        out.push(finding(
            Id::SshLockoutRisk,
            Severity::High,
            "no rule lets SSH in (tcp/22 is rejected and no rule says it is for SSH): loading this ruleset over SSH locks you out".into(),
            at,
        ));
    } else {
        out.push(finding(
            Id::SshLockoutRisk,
            Severity::Medium,
            format!("tcp/22 is rejected and SSH is opened on tcp {} only: make sure sshd listens there before loading this ruleset", others.join(", ")),
            at,
        ));
    }
}

#[cfg(test)]
mod one_fact {
    #[test]
    fn the_policys_default_media_range_is_freeswitchs_rtp_range_and_rtcp_above_it() {
        assert_eq!(
            super::DEFAULT_RTP,
            (
                sipwall_freeswitch::rtp::DEFAULT_START,
                sipwall_freeswitch::rtp::DEFAULT_END + 1
            )
        );
    }
}
