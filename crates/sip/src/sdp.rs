//! SDP (RFC 4566/8866) as a firewall reads it: session and media
//! connection addresses (`IN IP4` / `IN IP6`), `m=` lines, `a=rtcp`,
//! `a=rtcp-mux`, crypto/fingerprint presence and the direction attributes.
//!
//! [`Sdp::parse`] checks every line it will later read, so the accessors
//! re-read the body lazily (no allocation) and cannot fail.

use std::net::IpAddr;

/// Why an SDP body was refused, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (SDP line {line}, byte {offset})")]
pub struct SdpError {
    /// What is wrong.
    pub reason: &'static str,
    /// 1-based line inside the SDP body.
    pub line: u32,
    /// Byte offset inside the SDP body.
    pub offset: usize,
}

/// Media direction (RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    fn from_attr(a: &[u8]) -> Option<Direction> {
        match a {
            b"sendrecv" => Some(Direction::SendRecv),
            b"sendonly" => Some(Direction::SendOnly),
            b"recvonly" => Some(Direction::RecvOnly),
            b"inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// The address of a `c=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionAddress<'a> {
    /// An IP literal.
    Ip(IpAddr),
    /// A domain name (RFC 4566 allows one); `ipv6` tells the address type.
    Fqdn {
        /// True for `IN IP6`.
        ipv6: bool,
        /// The name as written.
        name: &'a str,
    },
}

/// A `c=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    /// The address.
    pub address: ConnectionAddress<'a>,
    /// Multicast TTL (IPv4 only).
    pub ttl: Option<u8>,
    /// Number of consecutive multicast addresses.
    pub count: Option<u32>,
}

/// An `a=rtcp:` attribute (RFC 3605).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtcp {
    /// The RTCP port.
    pub port: u16,
    /// The RTCP address, when given.
    pub address: Option<IpAddr>,
}

/// One media description: the `m=` line and what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media<'a> {
    /// Media type (`audio`, `video`, ...).
    pub kind: &'a str,
    /// Transport port (0 means the stream is disabled).
    pub port: u16,
    /// The `/count` after the port, if any.
    pub port_count: Option<u16>,
    /// Transport protocol (`RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, ...).
    pub proto: &'a str,
    /// The format list as written (`0 8 101`).
    pub formats: &'a str,
    /// The media-level `c=`, else the session's.
    pub connection: Option<Connection<'a>>,
    /// `a=rtcp:` if present.
    pub rtcp: Option<Rtcp>,
    /// `a=rtcp-mux` present.
    pub rtcp_mux: bool,
    /// `a=crypto:` present (SDES-SRTP), here or at session level.
    pub crypto: bool,
    /// `a=fingerprint:` present (DTLS-SRTP), here or at session level.
    pub fingerprint: bool,
    /// The direction (media level, else session level, else sendrecv).
    pub direction: Direction,
}

/// A checked SDP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdp<'a> {
    body: &'a [u8],
    /// Offset of the first `m=` line (the end of the session section).
    media_at: usize,
    /// What the session section says, read while checking it.
    session: Session<'a>,
    /// The first media description, read while checking it: most bodies
    /// have one, and then [`Sdp::media`] does not walk the body again.
    first: Option<Media<'a>>,
    /// Offset of the second `m=` line (the body's end if none).
    second_at: usize,
}

/// Lines with their offsets; a trailing CR is removed.
fn lines(body: &[u8]) -> Lines<'_> {
    Lines {
        body,
        pos: 0,
        newlines: crate::byte_scan::LineEnds::<false>::new(body),
    }
}

/// Iterator of [`lines`]: one SIMD pass finds every line end.
struct Lines<'a> {
    body: &'a [u8],
    pos: usize,
    /// SDP does not refuse a lone CR: it only ends no line.
    newlines: crate::byte_scan::LineEnds<'a, false>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);
    #[inline(always)]
    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.body.len() {
            return None;
        }
        let start = self.pos;
        let end = self.newlines.next().unwrap_or(self.body.len());
        self.pos = end + 1;
        let line = &self.body[start..end];
        Some((start, line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

/// One non-empty SDP line, checked to be `<letter>=<value>`.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// 1-based line number.
    n: u32,
    /// Offset of the line in the body.
    off: usize,
    /// The type letter.
    kind: u8,
    /// What follows `=`.
    value: &'a [u8],
}

impl Line<'_> {
    fn err(&self, reason: &'static str) -> SdpError {
        SdpError {
            reason,
            line: self.n,
            offset: self.off,
        }
    }
}

/// The lines of a body, checked: `v=0` first, each `<letter>=<value>`,
/// empty lines only at the end.
struct Checked<'a> {
    lines: Lines<'a>,
    n: u32,
    /// An empty line was read: only empty lines may follow.
    blank: bool,
}

impl<'a> Checked<'a> {
    #[inline(always)]
    fn next(&mut self) -> Result<Option<Line<'a>>, SdpError> {
        loop {
            let Some((off, line)) = self.lines.next() else {
                return Ok(None);
            };
            self.n += 1;
            match line {
                [] => self.blank = true,
                [kind, b'=', value @ ..]
                    if !self.blank
                        && kind.is_ascii_lowercase()
                        && (self.n > 1 || line == b"v=0") =>
                {
                    return Ok(Some(Line {
                        n: self.n,
                        off,
                        kind: *kind,
                        value,
                    }))
                }
                _ => return Err(self.defect(off, line)),
            }
        }
    }

    /// What is wrong with a line that [`Checked::next`] refused.
    #[cold]
    fn defect(&self, off: usize, line: &[u8]) -> SdpError {
        let reason = if self.blank {
            "empty line inside SDP"
        } else if line.len() < 2 || !line[0].is_ascii_lowercase() || line[1] != b'=' {
            "line is not <letter>=<value>"
        } else {
            "SDP must start with v=0"
        };
        SdpError {
            reason,
            line: self.n,
            offset: off,
        }
    }
}

fn ascii(s: &[u8]) -> Option<&str> {
    crate::grammar::ascii(s)
}

/// A domain name as a `c=` address (RFC 4566 allows one).
fn fqdn(ipv6: bool, host: &[u8]) -> Result<ConnectionAddress<'_>, &'static str> {
    let valid = !host.is_empty()
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    match ascii(host) {
        Some(name) if valid => Ok(ConnectionAddress::Fqdn { ipv6, name }),
        _ if host.is_ascii() => Err("invalid c= address"),
        _ => Err("c= address is not ASCII"),
    }
}

/// Reads a c= value.
#[inline]
pub(crate) fn parse_connection(v: &[u8]) -> Result<Connection<'_>, &'static str> {
    parse_connection_usual(v).map_or_else(|| parse_connection_general(v), Ok)
}

/// [`parse_connection`] for the usual `IN IP4 <address>`; `None` for any
/// other shape.
#[inline]
pub(crate) fn parse_connection_usual(v: &[u8]) -> Option<Connection<'_>> {
    let a = v
        .strip_prefix(b"IN IP4 ")
        .and_then(crate::host::parse_ipv4)?;
    Some(Connection {
        address: ConnectionAddress::Ip(IpAddr::V4(a)),
        ttl: None,
        count: None,
    })
}

/// [`parse_connection`] for any value, step by step, naming the defect.
#[cold]
pub(crate) fn parse_connection_general(v: &[u8]) -> Result<Connection<'_>, &'static str> {
    let mut it = v.split(|&b| b == b' ');
    if it.next() != Some(b"IN") {
        return Err("c= network type is not IN");
    }
    let ipv6 = match it.next() {
        Some(b"IP4") => false,
        Some(b"IP6") => true,
        _ => return Err("c= address type is not IP4 or IP6"),
    };
    let addr = it.next().ok_or("c= has no address")?;
    if it.next().is_some() {
        return Err("unexpected text after the c= address");
    }
    let mut parts = addr.split(|&b| b == b'/');
    let host = parts.next().unwrap_or_default();
    let n1 = parts.next();
    let n2 = parts.next();
    if parts.next().is_some() {
        return Err("too many / in the c= address");
    }
    let num = |s: &[u8]| crate::grammar::parse_u32(s).ok_or("c= TTL or count is not a number");
    let (ttl, count) = match (ipv6, n1, n2) {
        (_, None, _) => (None, None),
        (false, Some(t), c) => (
            Some(u8::try_from(num(t)?).map_err(|_| "c= TTL exceeds 255")?),
            c.map(num).transpose()?,
        ),
        (true, Some(c), None) => (None, Some(num(c)?)),
        (true, Some(_), Some(_)) => return Err("IP6 c= takes no TTL"),
    };
    // Addresses are read from the bytes; only a name needs to be text.
    let address = if ipv6 {
        match crate::host::parse_ipv6(host) {
            Some(a) => ConnectionAddress::Ip(IpAddr::V6(a)),
            None if host.contains(&b':') => return Err("invalid IP6 address in c="),
            None => fqdn(ipv6, host)?,
        }
    } else {
        match crate::host::parse_ipv4(host) {
            Some(a) => ConnectionAddress::Ip(IpAddr::V4(a)),
            None if host.iter().all(|&b| b.is_ascii_digit() || b == b'.') => {
                return Err("invalid IP4 address in c=")
            }
            None => fqdn(ipv6, host)?,
        }
    };
    Ok(Connection {
        address,
        ttl,
        count,
    })
}

fn is_proto_char(b: u8) -> bool {
    crate::grammar::is(b, crate::grammar::cls::PROTO)
}

/// `(kind, port, count, proto, formats)` of an m= value.
pub(crate) type MLine<'a> = (&'a str, u16, Option<u16>, &'a str, &'a str);

fn parse_u16(s: &[u8]) -> Option<u16> {
    crate::grammar::parse_u32(s).and_then(|n| u16::try_from(n).ok())
}

/// Reads an m= value: the usual `<media> <port> <proto> <formats>`
/// directly, anything else by [`parse_m_general`].
#[inline]
fn parse_m(v: &[u8]) -> Result<MLine<'_>, &'static str> {
    parse_m_usual(v).map_or_else(|| parse_m_general(v), Ok)
}

/// [`parse_m`] for single spaces and no port count; `None` for any other
/// shape.
#[inline]
pub(crate) fn parse_m_usual(v: &[u8]) -> Option<MLine<'_>> {
    use crate::grammar::{cls, skip};
    let kind_end = skip(v, 0, cls::TOKEN);
    if kind_end == 0 || v.get(kind_end) != Some(&b' ') {
        return None;
    }
    let port_end = skip(v, kind_end + 1, cls::DIGIT);
    let port = parse_u16(&v[kind_end + 1..port_end])?;
    let proto_end = skip(v, port_end + 1, cls::PROTO);
    if v.get(port_end) != Some(&b' ')
        || proto_end == port_end + 1
        || v.get(proto_end) != Some(&b' ')
    {
        return None;
    }
    check_formats(&v[proto_end + 1..]).ok()?;
    Some(m_line(v, kind_end, (port, None), (port_end + 1, proto_end)))
}

/// The format list of an m= line: printable, not only spaces.
#[inline]
fn check_formats(formats: &[u8]) -> Result<(), &'static str> {
    let (mut printable, mut any) = (true, false);
    for &b in formats {
        printable &= (0x20..0x7f).contains(&b);
        any |= b != b' ';
    }
    if !any {
        return Err("m= has no formats");
    }
    if !printable {
        return Err("invalid m= format list");
    }
    Ok(())
}

/// The fields of a checked m= value `v`: the media type ends at
/// `kind_end`, the protocol spans `proto`, the formats follow it.
#[inline]
fn m_line(
    v: &[u8],
    kind_end: usize,
    (port, count): (u16, Option<u16>),
    proto: (usize, usize),
) -> MLine<'_> {
    // Every byte was checked to be ASCII: one conversion serves the three.
    let text = crate::grammar::ascii_text(v);
    let part = |from: usize, to: usize| text.get(from..to).unwrap_or("");
    (
        part(0, kind_end),
        port,
        count,
        part(proto.0, proto.1),
        part(proto.1 + 1, v.len()),
    )
}

#[cold]
pub(crate) fn parse_m_general(v: &[u8]) -> Result<MLine<'_>, &'static str> {
    use crate::byte_scan::find;
    // Four fields split at single spaces; the formats are the rest.
    let field_end = |from: usize| find(b' ', &v[from..]).map_or(v.len(), |i| from + i);
    let kind_end = field_end(0);
    let kind = &v[..kind_end];
    if !crate::grammar::is_token_str(kind) {
        return Err("invalid m= media type");
    }
    if kind_end == v.len() {
        return Err("m= has no port");
    }
    let port_end = field_end(kind_end + 1);
    let port_s = &v[kind_end + 1..port_end];
    let (p, c) = match find(b'/', port_s) {
        Some(i) => (&port_s[..i], Some(&port_s[i + 1..])),
        None => (port_s, None),
    };
    let port = parse_u16(p).ok_or("invalid m= port")?;
    let count = match c {
        Some(c) => Some(parse_u16(c).ok_or("invalid m= port count")?),
        None => None,
    };
    let proto_start = (port_end + 1).min(v.len());
    let proto_end = field_end(proto_start);
    let proto = &v[proto_start..proto_end];
    if port_end == v.len() || proto.is_empty() || !proto.iter().all(|&b| is_proto_char(b)) {
        return Err("invalid m= protocol");
    }
    check_formats(v.get(proto_end + 1..).unwrap_or_default())?;
    Ok(m_line(v, kind_end, (port, count), (proto_start, proto_end)))
}

fn parse_rtcp(v: &[u8]) -> Result<Rtcp, &'static str> {
    let s = ascii(v).ok_or("a=rtcp is not ASCII")?;
    let mut it = s.split(' ');
    let port = it
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or("invalid a=rtcp port")?;
    let address = match (it.next(), it.next(), it.next()) {
        (None, ..) => None,
        (Some("IN"), Some("IP4"), Some(a)) => Some(IpAddr::V4(
            crate::host::parse_ipv4(a.as_bytes()).ok_or("invalid a=rtcp address")?,
        )),
        (Some("IN"), Some("IP6"), Some(a)) => Some(IpAddr::V6(
            crate::host::parse_ipv6(a.as_bytes()).ok_or("invalid a=rtcp address")?,
        )),
        _ => return Err("invalid a=rtcp address"),
    };
    Ok(Rtcp { port, address })
}

impl<'a> Sdp<'a> {
    /// Checks an SDP body: `v=` first, every line `<letter>=<value>`, and
    /// the `c=`, `m=` and `a=rtcp` lines well-formed.
    pub fn parse(body: &'a [u8]) -> Result<Sdp<'a>, SdpError> {
        let mut lines = Checked {
            lines: lines(body),
            n: 0,
            blank: false,
        };
        // The session section: every line up to the first m=.
        let mut session = Session::default();
        let mut line = lines.next()?;
        if line.is_none() {
            return Err(SdpError {
                reason: "empty SDP",
                line: 1,
                offset: 0,
            });
        }
        while let Some(l) = line {
            match l.kind {
                b'm' => break,
                b'c' => {
                    let c = parse_connection(l.value).map_err(|e| l.err(e))?;
                    session.connection.get_or_insert(c);
                }
                b'a' => match l.value.strip_prefix(b"rtcp:") {
                    Some(r) => drop(parse_rtcp(r).map_err(|e| l.err(e))?),
                    None => session.attribute(l.value),
                },
                _ => {}
            }
            line = lines.next()?;
        }
        let Some(m) = line else {
            return Ok(Sdp {
                body,
                media_at: body.len(),
                session,
                first: None,
                second_at: body.len(),
            });
        };
        // The first media description, read into its Media.
        let mut media = Media::new(parse_m(m.value).map_err(|e| m.err(e))?, &session);
        let mut second_at = body.len();
        while let Some(l) = lines.next()? {
            match l.kind {
                b'm' => {
                    parse_m(l.value).map_err(|e| l.err(e))?;
                    second_at = l.off;
                    break;
                }
                b'c' => media.connection = Some(parse_connection(l.value).map_err(|e| l.err(e))?),
                b'a' => match l.value.strip_prefix(b"rtcp:") {
                    Some(r) => media.rtcp = Some(parse_rtcp(r).map_err(|e| l.err(e))?),
                    None => media.attribute(l.value),
                },
                _ => {}
            }
        }
        // Later descriptions are only checked here; [`Sdp::media`] reads them.
        while let Some(l) = lines.next()? {
            match l.kind {
                b'm' => drop(parse_m(l.value).map_err(|e| l.err(e))?),
                b'c' => drop(parse_connection(l.value).map_err(|e| l.err(e))?),
                b'a' => {
                    if let Some(r) = l.value.strip_prefix(b"rtcp:") {
                        parse_rtcp(r).map_err(|e| l.err(e))?;
                    }
                }
                _ => {}
            }
        }
        if media.connection.is_none() {
            media.connection = session.connection;
        }
        Ok(Sdp {
            body,
            media_at: m.off,
            session,
            first: Some(media),
            second_at,
        })
    }

    /// The raw body.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.body
    }

    fn session_lines(&self) -> Lines<'a> {
        lines(&self.body[..self.media_at])
    }

    /// The session-level `c=`.
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.session.connection
    }

    /// The `o=` line's value, as written.
    pub fn origin(&self) -> Option<&'a [u8]> {
        self.session_lines()
            .find(|(_, l)| l.starts_with(b"o="))
            .map(|(_, l)| &l[2..])
    }

    /// The `s=` line's value (some scanners give themselves away here).
    pub fn session_name(&self) -> Option<&'a [u8]> {
        self.session_lines()
            .find(|(_, l)| l.starts_with(b"s="))
            .map(|(_, l)| &l[2..])
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.session.direction
    }

    /// The media descriptions in order.
    pub fn media(&self) -> MediaIter<'a> {
        MediaIter {
            body: self.body,
            first: self.first,
            pos: self.second_at,
            session: self.session,
        }
    }
}

/// What media inherit from the session level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Session<'a> {
    connection: Option<Connection<'a>>,
    crypto: bool,
    fingerprint: bool,
    direction: Option<Direction>,
}

impl Session<'_> {
    /// Applies one session-level attribute (the value after `a=`) other
    /// than `rtcp:`.
    fn attribute(&mut self, a: &[u8]) {
        self.crypto |= is_attr_value(a, b"crypto");
        self.fingerprint |= is_attr_value(a, b"fingerprint");
        if self.direction.is_none() {
            self.direction = Direction::from_attr(a);
        }
    }
}

/// Iterator over [`Media`].
#[derive(Debug, Clone)]
pub struct MediaIter<'a> {
    body: &'a [u8],
    /// The first description, read by [`Sdp::parse`], not yet yielded.
    first: Option<Media<'a>>,
    pos: usize,
    session: Session<'a>,
}

impl<'a> Media<'a> {
    /// A description from its `m=` line, with what the session gives it.
    fn new(
        (kind, port, port_count, proto, formats): MLine<'a>,
        session: &Session<'a>,
    ) -> Media<'a> {
        Media {
            kind,
            port,
            port_count,
            proto,
            formats,
            connection: None,
            rtcp: None,
            rtcp_mux: false,
            crypto: session.crypto,
            fingerprint: session.fingerprint,
            direction: session.direction.unwrap_or_default(),
        }
    }

    /// Applies one media-level attribute (the value after `a=`) other
    /// than `rtcp:`.
    fn attribute(&mut self, a: &[u8]) {
        // Dispatch on the first letter: most attributes (rtpmap, fmtp,
        // ptime) match none of these and cost one comparison.
        match a.first() {
            Some(b'r') if a == b"rtcp-mux" => self.rtcp_mux = true,
            Some(b'c') if is_attr_value(a, b"crypto") => self.crypto = true,
            Some(b'f') if is_attr_value(a, b"fingerprint") => self.fingerprint = true,
            Some(b's' | b'r' | b'i') => {
                if let Some(d) = Direction::from_attr(a) {
                    self.direction = d;
                }
            }
            _ => {}
        }
    }
}

/// `name` or `name:value`, for an attribute without its `a=`.
fn is_attr_value(a: &[u8], name: &[u8]) -> bool {
    a.strip_prefix(name)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b':')
}

impl<'a> Iterator for MediaIter<'a> {
    type Item = Media<'a>;
    fn next(&mut self) -> Option<Media<'a>> {
        if let Some(m) = self.first.take() {
            return Some(m);
        }
        let body = self.body;
        if self.pos >= body.len() {
            return None;
        }
        let mut section = lines(&body[self.pos..]);
        let (_, mline) = section.next()?;
        let mut media = Media::new(parse_m(mline.get(2..)?).ok()?, &self.session);
        let mut next = body.len();
        for (off, l) in section {
            if l.starts_with(b"m=") {
                next = self.pos + off;
                break;
            }
            if let Some(c) = l.strip_prefix(b"c=") {
                media.connection = parse_connection(c).ok();
            } else if let Some(a) = l.strip_prefix(b"a=") {
                if let Some(r) = a.strip_prefix(b"rtcp:") {
                    media.rtcp = parse_rtcp(r).ok();
                } else {
                    media.attribute(a);
                }
            }
        }
        if media.connection.is_none() {
            media.connection = self.session.connection;
        }
        self.pos = next;
        Some(media)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\na=sendonly\r\na=fingerprint:sha-256 AB:CD\r\nm=audio 49170 RTP/SAVPF 0 8 101\r\nc=IN IP6 2001:db8::2\r\na=rtcp:49171 IN IP6 2001:db8::3\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\nm=video 5000/2 RTP/AVP 31\r\na=rtcp-mux\r\na=inactive\r\n";

    #[test]
    fn session_and_media() {
        let sdp = Sdp::parse(OFFER).unwrap();
        assert_eq!(
            sdp.connection().unwrap().address,
            ConnectionAddress::Ip("192.0.2.5".parse().unwrap())
        );
        assert_eq!(sdp.direction(), Some(Direction::SendOnly));
        let m: Vec<_> = sdp.media().collect();
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].kind, m[0].port, m[0].proto, m[0].formats),
            ("audio", 49170, "RTP/SAVPF", "0 8 101")
        );
        assert_eq!(
            m[0].connection.unwrap().address,
            ConnectionAddress::Ip("2001:db8::2".parse().unwrap())
        );
        assert_eq!(
            m[0].rtcp,
            Some(Rtcp {
                port: 49171,
                address: Some("2001:db8::3".parse().unwrap())
            })
        );
        assert!(m[0].crypto && m[0].fingerprint && !m[0].rtcp_mux);
        assert_eq!(m[0].direction, Direction::SendOnly);
        assert_eq!((m[1].port, m[1].port_count), (5000, Some(2)));
        assert_eq!(
            m[1].connection.unwrap().address,
            ConnectionAddress::Ip("192.0.2.5".parse().unwrap())
        );
        assert!(m[1].rtcp_mux && !m[1].crypto && m[1].fingerprint);
        assert_eq!(m[1].direction, Direction::Inactive);
    }

    #[test]
    fn multicast_and_names() {
        let c = parse_connection(b"IN IP4 233.252.0.1/127/3").unwrap();
        assert_eq!((c.ttl, c.count), (Some(127), Some(3)));
        let c = parse_connection(b"IN IP6 ::ffff:192.0.2.2").unwrap();
        assert_eq!(
            c.address,
            ConnectionAddress::Ip("::ffff:192.0.2.2".parse().unwrap())
        );
        let c = parse_connection(b"IN IP4 media.example.com").unwrap();
        assert_eq!(
            c.address,
            ConnectionAddress::Fqdn {
                ipv6: false,
                name: "media.example.com"
            }
        );
    }

    #[test]
    fn refusals() {
        let e = |b: &[u8]| Sdp::parse(b).unwrap_err();
        assert_eq!(e(b"v=1\r\n").reason, "SDP must start with v=0");
        assert_eq!(e(b"v=0\r\nm =video 3227 RTP/AVP 31\r\n").line, 2);
        assert_eq!(
            e(b"v=0\r\nc=IN IP4 300.1.1.1\r\n").reason,
            "invalid IP4 address in c="
        );
        assert_eq!(
            e(b"v=0\r\nc=IN IP6 2001:db8::zz\r\n").reason,
            "invalid IP6 address in c="
        );
        assert_eq!(
            e(b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n").reason,
            "invalid m= port"
        );
        assert_eq!(
            e(b"v=0\r\nm=audio 1 RTP/AVP\r\n").reason,
            "m= has no formats"
        );
        assert_eq!(e(b"v=0\r\na=rtcp:x\r\n").reason, "invalid a=rtcp port");
        assert_eq!(e(b"").reason, "empty SDP");
    }
}
