//! Literal values as rulesets write them: ports and port ranges,
//! addresses and prefixes, rates, ICMP type names. Shared by the readers
//! because iptables and nft spell most of them alike.

use ipnet::IpNet;
use sipwall_policy::{PortRange, Rate, RateUnit};

/// An address or prefix; host bits are cleared as the kernel does.
pub(crate) fn parse_net(s: &str) -> Option<IpNet> {
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n.trunc());
    }
    let addr: std::net::IpAddr = s.parse().ok()?;
    Some(IpNet::from(addr))
}

/// `5060`, `16384:32768`, `5060,5080` (multiport), `:1024`, `1024:`.
pub(crate) fn parse_ports(s: &str) -> Option<Vec<PortRange>> {
    s.split(',')
        .map(|p| {
            let (a, z) = match p.split_once([':', '-']) {
                Some((a, z)) => (a, z),
                None => (p, p),
            };
            let a: u16 = if a.is_empty() {
                0
            } else {
                a.trim().parse().ok()?
            };
            let z: u16 = if z.is_empty() {
                65535
            } else {
                z.trim().parse().ok()?
            };
            // Port 0 is never a destination; the IR's ranges start at 1.
            PortRange::new(a.max(1), z.max(1))
        })
        .collect()
}

/// `5/min`, `5/minute`, `10/s`, `3/hour`, `1/day`, or a bare count per second.
pub(crate) fn parse_rate(s: &str) -> Option<Rate> {
    let (n, unit) = s.split_once('/').unwrap_or((s, "second"));
    let per = match unit {
        "s" | "sec" | "second" => RateUnit::Second,
        "m" | "min" | "minute" => RateUnit::Minute,
        "h" | "hour" => RateUnit::Hour,
        "d" | "day" => RateUnit::Day,
        _ => return None,
    };
    Some(Rate {
        count: n.trim().parse().ok()?,
        per,
    })
}

/// An ICMP type by number or by the names iptables and nft print.
pub(crate) fn icmp_type(s: &str, v6: bool) -> Option<u8> {
    let s = s.split('/').next().unwrap_or(s);
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let v4 = [
        ("echo-reply", 0),
        ("destination-unreachable", 3),
        ("source-quench", 4),
        ("redirect", 5),
        ("echo-request", 8),
        ("time-exceeded", 11),
        ("parameter-problem", 12),
    ];
    let v6n = [
        ("destination-unreachable", 1),
        ("packet-too-big", 2),
        ("time-exceeded", 3),
        ("parameter-problem", 4),
        ("echo-request", 128),
        ("echo-reply", 129),
        ("mld-listener-query", 130),
        ("mld-listener-report", 131),
        ("nd-router-solicit", 133),
        ("router-solicitation", 133),
        ("nd-router-advert", 134),
        ("router-advertisement", 134),
        ("nd-neighbor-solicit", 135),
        ("neighbour-solicitation", 135),
        ("nd-neighbor-advert", 136),
        ("neighbour-advertisement", 136),
        ("mld2-listener-report", 143),
    ];
    let table: &[(&str, u8)] = if v6 { &v6n } else { &v4 };
    table.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
}
