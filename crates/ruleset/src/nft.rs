//! [`Ruleset`] -> nft text: one `table inet sipwall`, loadable with
//! `nft -f`. The text alone creates the table; [`replace_script`] wraps it
//! so that loading it replaces sipwall's table, and only that table, in one
//! transaction.

use crate::ir::*;
use crate::text::escape;
use ipnet::IpNet;
use sipwall_policy::PortRange;
use std::fmt::Write;
use std::time::Duration;

/// Renders the ruleset as an nft script that creates `table inet sipwall`.
pub fn render(rs: &Ruleset) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# sipwall ruleset, compiled from {}",
        escape(&rs.source, LINE_MAX)
    );
    let _ = writeln!(out, "table inet {TABLE} {{");
    for set in &rs.sets {
        let _ = writeln!(out, "\t# {}", escape(&set.comment, LINE_MAX));
        let _ = writeln!(out, "\tset {} {{", ident(&set.name));
        let _ = writeln!(out, "\t\ttype {}", set_type(set.key));
        let _ = writeln!(out, "\t\tsize {}", set.size);
        let _ = writeln!(out, "\t\tflags {}", set_flags(set.filled_by));
        // No default timeout: elements without their own stay until deleted.
        if !set.timeout.is_zero() {
            let _ = writeln!(out, "\t\ttimeout {}", duration(set.timeout));
        }
        let _ = writeln!(out, "\t\tgc-interval {}", duration(set.gc_interval));
        let _ = writeln!(out, "\t}}");
    }
    for h in &rs.helpers {
        let _ = writeln!(out, "\tct helper {} {{", ident(&h.name));
        let _ = writeln!(out, "\t\ttype \"{}\" protocol {}", h.kind, h.protocol);
        let _ = writeln!(out, "\t\tl3proto inet");
        let _ = writeln!(out, "\t}}");
    }
    for chain in &rs.chains {
        let (hook, priority) = match chain.hook {
            Hook::HelpersIn => ("prerouting", "filter"),
            Hook::HelpersOut => ("output", "filter"),
            Hook::Input => ("input", "filter"),
            Hook::Forward => ("forward", "filter"),
            Hook::Mark => ("output", "mangle"),
            Hook::Flood => ("input", "filter - 10"),
        };
        let policy = if chain.policy_accept {
            "accept"
        } else {
            "drop"
        };
        let _ = writeln!(out, "\tchain {} {{", ident(chain.name));
        let _ = writeln!(
            out,
            "\t\ttype filter hook {hook} priority {priority}; policy {policy};"
        );
        for r in &chain.rules {
            for line in rule_lines(r) {
                let _ = writeln!(out, "\t\t{line}");
            }
        }
        let _ = writeln!(out, "\t}}");
    }
    out.push_str("}\n");
    out
}

/// Wraps a rendered table so that loading it replaces sipwall's table
/// atomically: create-if-missing, delete, recreate, in one transaction.
/// `extra` (e.g. set elements carried over) is appended inside the same
/// transaction.
pub fn replace_script(table_text: &str, extra: &str) -> String {
    format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\n{table_text}{extra}")
}

/// The type of a set as nft writes it.
pub fn set_type(key: SetKey) -> &'static str {
    match key {
        SetKey::Ipv4 => "ipv4_addr",
        SetKey::Ipv6 => "ipv6_addr",
        SetKey::Port => "inet_service",
        SetKey::Ipv4Port => "ipv4_addr . inet_service",
        SetKey::Ipv6Port => "ipv6_addr . inet_service",
    }
}

/// The flags of a set as nft writes them: every set expires its elements;
/// prefix sets are interval sets; sets the packet path adds to are dynamic
/// (the kernel can add to hash sets only, never to interval ones).
pub fn set_flags(filled_by: FilledBy) -> &'static str {
    match filled_by {
        FilledBy::Daemon => "timeout",
        FilledBy::DaemonPrefixes => "interval,timeout",
        FilledBy::Kernel | FilledBy::Meter => "dynamic,timeout",
    }
}

/// A duration as nft writes it (`1h`, `90s`, `1d2h`).
pub fn duration(d: Duration) -> String {
    let mut s = d.as_secs().max(1);
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            let _ = write!(out, "{}{unit}", s / len);
            s %= len;
        }
    }
    out
}

fn ports(ports: &[PortRange]) -> String {
    match ports {
        [one] => one.to_string(),
        many => format!(
            "{{ {} }}",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn nets(nets: &[IpNet]) -> String {
    let text = |n: &IpNet| {
        if n.prefix_len() == n.max_prefix_len() {
            n.addr().to_string()
        } else {
            n.to_string()
        }
    };
    match nets {
        [one] => text(one),
        many => format!(
            "{{ {} }}",
            many.iter().map(text).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn family_kw(nets: &[IpNet]) -> &'static str {
    family_of(nets.first().map_or(Family::V4, Family::of))
}

const ICMPV6_NAMES: &[(u8, &str)] = &[
    (1, "destination-unreachable"),
    (2, "packet-too-big"),
    (3, "time-exceeded"),
    (4, "parameter-problem"),
    (128, "echo-request"),
    (130, "mld-listener-query"),
    (131, "mld-listener-report"),
    (133, "nd-router-solicit"),
    (134, "nd-router-advert"),
    (135, "nd-neighbor-solicit"),
    (136, "nd-neighbor-advert"),
    (143, "mld2-listener-report"),
];

fn icmp_types(types: &[u8], v6: bool) -> String {
    let name = |t: &u8| {
        let names: &[(u8, &str)] = if v6 {
            ICMPV6_NAMES
        } else {
            &[(8, "echo-request")]
        };
        names
            .iter()
            .find(|(n, _)| n == t)
            .map_or_else(|| t.to_string(), |(_, s)| (*s).to_owned())
    };
    match types {
        [one] => name(one),
        many => format!(
            "{{ {} }}",
            many.iter().map(name).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn family_of(f: Family) -> &'static str {
    match f {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    }
}

/// The statements of one rule's matches, in nft syntax.
fn matches_text(r: &Rule) -> String {
    let mut parts = Vec::new();
    for m in &r.matches {
        parts.push(match m {
            Match::LoopbackIn => "iif lo".to_owned(),
            Match::NotLoopbackIn => "iif != lo".to_owned(),
            Match::Daddr(n) => format!("{} daddr {}", family_kw(n), nets(n)),
            Match::Saddr(n) => format!("{} saddr {}", family_kw(n), nets(n)),
            Match::SaddrInSet(f, s) => format!("{} saddr @{}", family_of(*f), ident(s)),
            Match::Ct(states) => {
                let names: Vec<&str> = states
                    .iter()
                    .map(|s| match s {
                        CtState::Established => "established",
                        CtState::Related => "related",
                        CtState::Invalid => "invalid",
                    })
                    .collect();
                format!("ct state {}", names.join(","))
            }
            Match::Dport(p, r) => format!("{p} dport {}", ports(r)),
            Match::Sport(p, r) => format!("{p} sport {}", ports(r)),
            Match::UdpDportInSet(s) => format!("udp dport @{}", ident(s)),
            Match::SaddrUdpDportInSet(f, s) => {
                format!("{} saddr . udp dport @{}", family_of(*f), ident(s))
            }
            Match::IcmpType(t) => format!("icmp type {}", icmp_types(t, false)),
            Match::Icmpv6Type(t) => format!("icmpv6 type {}", icmp_types(t, true)),
            Match::Limit(rate) => format!(
                "limit rate {}/{} burst {} packets",
                rate.count,
                rate.per.name(),
                rate.count.max(1)
            ),
            // A statement that matches: `update` creates or refreshes the
            // source's element (and its idle timeout), and the limit in it
            // holds only while the source is over the rate.
            Match::OverRate {
                meter,
                family,
                per_second,
                burst,
            } => format!(
                "update @{meter} {{ {} saddr limit rate over {per_second}/second burst {burst} packets }}",
                family_of(*family)
            ),
            // nftables has no substring match; the renderer never gets here
            // for nft because such rules are skipped (see rule_lines).
            Match::Contains(_) => String::new(),
        });
    }
    parts.join(" ")
}

/// nft's log prefix limit (NF_LOG_PREFIXLEN, 128 with the NUL).
pub const LOG_PREFIX_MAX: usize = 127;

/// The longest text after a `#`.
const LINE_MAX: usize = 512;

/// nft keeps at most 128 bytes of a comment, its final NUL included.
pub const COMMENT_MAX: usize = 127;

/// A set, chain or helper object name as nft reads it. The compiler only
/// makes names of the policy name rule; any other character becomes `_`,
/// so that a name can never carry syntax, whoever built the IR.
fn ident(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if sipwall_policy::name::is_name_char(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name
    } else {
        format!("x{name}")
    }
}

fn comment(text: &str) -> String {
    format!("comment \"{}\"", escape(text, COMMENT_MAX))
}

fn rule_lines(r: &Rule) -> Vec<String> {
    if r.matches.iter().any(|m| matches!(m, Match::Contains(_))) {
        return vec![format!(
            "# skipped (nftables has no substring match; the daemon blocks scanners): {}",
            escape(&r.comment, LINE_MAX)
        )];
    }
    let m = matches_text(r);
    let lead = if m.is_empty() {
        String::new()
    } else {
        format!("{m} ")
    };
    let actions: Vec<String> = match &r.action {
        Action::Accept => vec!["accept".into()],
        Action::Drop => vec!["counter drop".into()],
        Action::Reject => vec!["counter reject".into()],
        Action::Counter => vec!["counter".into()],
        Action::Log { prefix, level } => vec![format!(
            "log prefix \"{}\" level {}",
            escape(prefix, LOG_PREFIX_MAX),
            escape(level, LINE_MAX)
        )],
        Action::SetHelper(h) => vec![format!("ct helper set \"{}\"", ident(h))],
        Action::BanSource {
            set,
            family,
            timeout,
        } => vec![format!(
            "add @{} {{ {} saddr timeout {} }} counter drop",
            ident(set),
            family_of(*family),
            duration(*timeout)
        )],
        // One rule per family: `ip dscp set` only applies to IPv4 packets.
        Action::SetDscp(c) => vec![
            format!("ip dscp set {}", c.name()),
            format!("ip6 dscp set {}", c.name()),
        ],
    };
    actions
        .into_iter()
        .map(|a| format!("{lead}{a} {}", comment(&r.comment)))
        .collect()
}
