//! Hosts as they appear in URIs, Via sent-by and parameters: IPv4, IPv6
//! (bracketed in host position, RFC 5118) or a domain name.

use crate::grammar::{cls, skip, Invalid, CLASSES};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: an address or a domain name (a slice of the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written `[...]` in host position).
    Ipv6(Ipv6Addr),
    /// A domain name, as written.
    Domain(&'a str),
}

impl Host<'_> {
    /// The address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Ipv4(a) => Some(IpAddr::V4(a)),
            Host::Ipv6(a) => Some(IpAddr::V6(a)),
            Host::Domain(_) => None,
        }
    }
}

impl std::fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
            Host::Domain(d) => f.write_str(d),
        }
    }
}

/// Parses an IPv6 address (no brackets).
///
/// RFC 3261's ABNF, taken from RFC 2373, admits three colons before an
/// embedded IPv4 address (`2001:db8:::192.0.2.1`). RFC 5118 §4.10 asks
/// receivers to tolerate that form, so it is read as the two-colon address
/// it was meant to be; three colons anywhere else stay invalid.
pub(crate) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    let text = std::str::from_utf8(s).ok()?;
    if let Ok(a) = text.parse::<Ipv6Addr>() {
        return Some(a);
    }
    let i = text.find(":::")?;
    let tail = &text[i + 3..];
    if tail.contains(':') || tail.parse::<Ipv4Addr>().is_err() || text[..i].contains("::") {
        return None;
    }
    // The repaired text is at most the input's length; IPv6 text is short.
    if text.len() > 64 {
        return None;
    }
    let mut buf = [0u8; 64];
    let head = &text.as_bytes()[..i];
    buf[..head.len()].copy_from_slice(head);
    buf[head.len()..head.len() + 2].copy_from_slice(b"::");
    buf[head.len() + 2..head.len() + 2 + tail.len()].copy_from_slice(tail.as_bytes());
    std::str::from_utf8(&buf[..head.len() + 2 + tail.len()])
        .ok()?
        .parse()
        .ok()
}

/// Parses an IP address written with or without IPv6 brackets (as in the
/// Via `received` parameter, RFC 5118 §4.5 accepts both).
pub(crate) fn parse_ip_loose(s: &[u8]) -> Option<IpAddr> {
    if let Some(inner) = s.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
        return parse_ipv6(inner).map(IpAddr::V6);
    }
    if s.contains(&b':') {
        return parse_ipv6(s).map(IpAddr::V6);
    }
    parse_ipv4(s).map(IpAddr::V4)
}

/// Parses a dotted quad (`1*3DIGIT` four times, each at most 255).
#[inline]
pub(crate) fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let (addr, used) = dotted_quad(s)?;
    (used == s.len()).then_some(addr)
}

/// The dotted quad at the start of `s` and its length.
#[inline(always)]
fn dotted_quad(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let dot = |i: usize| (s.get(i) == Some(&b'.')).then_some(i + 1);
    let (a, i) = octet(s, 0)?;
    let (b, i) = octet(s, dot(i)?)?;
    let (c, i) = octet(s, dot(i)?)?;
    let (d, i) = octet(s, dot(i)?)?;
    Some((Ipv4Addr::from(a << 24 | b << 16 | c << 8 | d), i))
}

/// Reads `host [":" port]` at the start of `s`; returns the host, the port,
/// and how many bytes were used. `s` ends where the caller's grammar says.
#[inline]
pub(crate) fn parse_hostport(s: &[u8]) -> Result<(Host<'_>, Option<u16>, usize), Invalid> {
    parse_hostport_usual(s).map_or_else(
        || parse_hostport_general(s),
        |(addr, port, used)| Ok((Host::Ipv4(addr), port, used)),
    )
}

/// [`parse_hostport`] for a dotted quad with an optional port and an
/// ordinary delimiter after it, read in one pass; `None` for anything
/// else, which [`parse_hostport_general`] reads the same way it would have.
#[inline]
pub(crate) fn parse_hostport_usual(s: &[u8]) -> Option<(Ipv4Addr, Option<u16>, usize)> {
    let (addr, i) = dotted_quad(s)?;
    match s.get(i) {
        None => Some((addr, None, i)),
        Some(b':') => {
            let (port, end) = port(s, i)?;
            // What follows a port must not make the host an IPv6 address.
            s.get(end)
                .is_none_or(ends_host)
                .then_some((addr, Some(port), end))
        }
        Some(&b) if crate::grammar::is(b, cls::DOMAIN) => None,
        Some(_) => Some((addr, None, i)),
    }
}

/// One to three digits at `s[i]`, at most 255 and not followed by a
/// fourth: the value and the offset after it.
#[inline(always)]
fn octet(s: &[u8], i: usize) -> Option<(u32, usize)> {
    let digit = |j: usize| s.get(j).copied().and_then(crate::grammar::digit);
    let a = digit(i)?;
    let Some(b) = digit(i + 1) else {
        return Some((a, i + 1));
    };
    let Some(c) = digit(i + 2) else {
        return Some((a * 10 + b, i + 2));
    };
    let v = a * 100 + b * 10 + c;
    (v <= 255 && digit(i + 3).is_none()).then_some((v, i + 3))
}

/// [`parse_hostport`] for any host.
#[inline(never)]
pub(crate) fn parse_hostport_general(s: &[u8]) -> Result<(Host<'_>, Option<u16>, usize), Invalid> {
    let (host, mut used) = if s.first() == Some(&b'[') {
        let close = memchr::memchr(b']', s).ok_or(Invalid::new("unclosed IPv6 reference", 0))?;
        let addr = parse_ipv6(&s[1..close]).ok_or(Invalid::new("invalid IPv6 address", 1))?;
        (Host::Ipv6(addr), close + 1)
    } else {
        // One pass finds the name's end and whether it can be a dotted quad.
        let mut n = 0;
        let mut all = cls::DOTTED;
        while n < s.len() {
            let c = CLASSES[usize::from(s[n])];
            if c & cls::DOMAIN == 0 {
                break;
            }
            all &= c;
            n += 1;
        }
        let name = &s[..n];
        if name.is_empty() {
            return Err(Invalid::new("empty host", 0));
        }
        if s.get(n) == Some(&b':') {
            unbracketed_ipv6(&s[n + 1..])?;
        }
        let host = if all != 0 {
            Host::Ipv4(parse_ipv4(name).ok_or(Invalid::new("invalid IPv4 address", 0))?)
        } else {
            if matches!(name[0], b'.' | b'-') || name == b"_" {
                return Err(Invalid::new("invalid domain name", 0));
            }
            // All bytes are ASCII here.
            Host::Domain(std::str::from_utf8(name).map_err(|_| Invalid::new("invalid host", 0))?)
        };
        (host, n)
    };
    let mut port = None;
    if s.get(used) == Some(&b':') {
        let (p, end) = self::port(s, used).ok_or(Invalid::new("invalid port", used + 1))?;
        port = Some(p);
        used = end;
    }
    Ok((host, port, used))
}

/// The bytes that end what follows a host's colon, wherever a host
/// appears.
#[inline]
fn ends_host(b: &u8) -> bool {
    matches!(b, b';' | b'?' | b'>' | b',' | b' ' | b'\t')
}

/// The port after the colon at `s[colon]`, and the offset after it.
#[inline]
fn port(s: &[u8], colon: usize) -> Option<(u16, usize)> {
    let end = skip(s, colon + 1, cls::DIGIT);
    let port = crate::grammar::parse_u32(&s[colon + 1..end])?;
    Some((u16::try_from(port).ok()?, end))
}

/// Refuses an unbracketed IPv6 address (RFC 5118 §4.2): after a host
/// name's colon, another colon before the next delimiter.
#[inline]
fn unbracketed_ipv6(rest: &[u8]) -> Result<(), Invalid> {
    // Almost always a port number, then a delimiter or the end.
    let digits = skip(rest, 0, cls::DIGIT);
    if rest.get(digits).is_none_or(ends_host) {
        return Ok(());
    }
    let stop = rest.iter().position(ends_host).unwrap_or(rest.len());
    if rest[..stop].contains(&b':') {
        return Err(Invalid::new("IPv6 address must be enclosed in brackets", 0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_colons_before_ipv4_is_tolerated_as_two() {
        let a = parse_ipv6(b"2001:db8:::192.0.2.1").unwrap();
        assert_eq!(a, "2001:db8::192.0.2.1".parse::<Ipv6Addr>().unwrap());
        assert!(parse_ipv6(b"2001:::1").is_none());
        assert!(parse_ipv6(b"2001::db8:::192.0.2.1").is_none());
        assert!(parse_ipv6(b"2001:db8:::192.0.2.1:5").is_none());
    }

    #[test]
    fn hostport_forms() {
        let (h, p, n) = parse_hostport(b"[2001:db8::10]:5070;x").unwrap();
        assert_eq!(h, Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!((p, n), (Some(5070), 19));
        // RFC 5118 §4.3: all of it is the address, there is no port.
        let (h, p, _) = parse_hostport(b"[2001:db8::10:5070]").unwrap();
        assert_eq!(h, Host::Ipv6("2001:db8::10:5070".parse().unwrap()));
        assert_eq!(p, None);
        let (h, p, _) = parse_hostport(b"example.com:5060").unwrap();
        assert_eq!((h, p), (Host::Domain("example.com"), Some(5060)));
        assert_eq!(
            parse_hostport(b"2001:db8::10").unwrap_err().reason,
            "IPv6 address must be enclosed in brackets"
        );
        assert!(parse_hostport(b"1.2.3").is_err());
        assert!(parse_hostport(b"h:70000").is_err());
    }

    #[test]
    fn the_usual_reader_agrees_with_the_general_one() {
        let mut tried = 0;
        for host in [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.256.1.1",
            "1.1.1.256",
            "01.02.003.4",
            "0255.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.",
            ".1.2.3",
            "1.2.3.4x",
            "1.2.3.4-",
            "1.2.3.4_",
            "a1.2.3.4",
        ] {
            for tail in [
                "", ":5060", ":0", ":65535", ":65536", ":", ":5060;x", ":5060?x", ":5060>",
                ":5060,", ":5060 ", ":5060\t", ":5060:1", ":5060a", ":50a", ";x", ">", "]", "@",
            ] {
                let s = format!("{host}{tail}");
                if let Some((addr, port, used)) = parse_hostport_usual(s.as_bytes()) {
                    tried += 1;
                    assert_eq!(
                        parse_hostport_general(s.as_bytes()),
                        Ok((Host::Ipv4(addr), port, used)),
                        "{s}"
                    );
                }
                assert_eq!(
                    parse_ipv4(host.as_bytes()),
                    host.parse::<Ipv4Addr>().ok().or_else(|| {
                        // std refuses leading zeros; the SIP grammar takes them.
                        (host == "01.02.003.4").then(|| Ipv4Addr::new(1, 2, 3, 4))
                    }),
                    "{host}"
                );
            }
        }
        assert!(tried > 40, "{tried}");
    }

    #[test]
    fn dotted_quads() {
        assert_eq!(parse_ipv4(b"192.0.2.1"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(parse_ipv4(b"255.255.255.255"), Some(Ipv4Addr::BROADCAST));
        for bad in [
            &b"256.0.0.1"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"1..2.3",
            b"1.2.3.",
            b".1.2.3",
            b"1234.1.1.1",
            b"",
            b"1.2.3.x",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn received_accepts_both_forms() {
        let want: IpAddr = "2001:db8::9:255".parse().unwrap();
        assert_eq!(parse_ip_loose(b"[2001:db8::9:255]"), Some(want));
        assert_eq!(parse_ip_loose(b"2001:db8::9:255"), Some(want));
        assert_eq!(
            parse_ip_loose(b"192.0.2.1"),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(parse_ip_loose(b"host"), None);
    }
}
