//! URIs: `sip:`/`sips:` (RFC 3261 §19.1) and `tel:` (RFC 3966) read into
//! their parts; any other scheme is kept as an opaque absolute URI.

use crate::byte_scan::{eq_name, find};
use crate::grammar::{ascii_text, cls, skip, Invalid, CLASSES};
use crate::host::{parse_hostport, Host};

/// The scheme of a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'a> {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:`
    Tel,
    /// Any other scheme, as written (the URI is then opaque).
    Other(&'a str),
}

/// A URI read from the message; every part is a slice of it.
///
/// The parts are kept as offsets into the URI rather than as slices, so a
/// `Uri` (and every From, To and Contact holding one) stays small to move.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The URI's bytes, proved ASCII by the grammar.
    raw: &'a [u8],
    host: Option<Host<'a>>,
    port: Option<u16>,
    kind: Kind,
    /// The scheme's end (the colon).
    scheme_end: u16,
    user: Option<Span>,
    password: Option<Span>,
    params: Span,
    /// Where the headers start (after the `?`).
    headers: Option<u16>,
}

/// The scheme, without the text of an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sip,
    Sips,
    Tel,
    Other,
}

/// A part of the URI, as offsets into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u16,
    end: u16,
}

impl Span {
    /// `start..end` of a URI that [`parse`] bounded to `u16` offsets.
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u16,
            end: end as u16,
        }
    }
}

impl std::fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uri")
            .field("raw", &self.as_str())
            .field("scheme", &self.scheme())
            .field("user", &self.user())
            .field("password", &self.password())
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params())
            .field("headers", &self.headers())
            .finish()
    }
}

impl<'a> Uri<'a> {
    fn part(&self, span: Span) -> &'a str {
        ascii_text(
            self.raw
                .get(usize::from(span.start)..usize::from(span.end))
                .unwrap_or_default(),
        )
    }
    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        ascii_text(self.raw)
    }
    /// The scheme.
    pub fn scheme(&self) -> Scheme<'a> {
        match self.kind {
            Kind::Sip => Scheme::Sip,
            Kind::Sips => Scheme::Sips,
            Kind::Tel => Scheme::Tel,
            Kind::Other => Scheme::Other(self.part(Span::new(0, self.scheme_end.into()))),
        }
    }
    /// The user part (still %-escaped), or for `tel:` the number.
    pub fn user(&self) -> Option<&'a str> {
        self.user.map(|s| self.part(s))
    }
    /// The password of the userinfo, if any (SIP discourages it).
    pub fn password(&self) -> Option<&'a str> {
        self.password.map(|s| self.part(s))
    }
    /// The host of a `sip:`/`sips:` URI.
    pub fn host(&self) -> Option<Host<'a>> {
        self.host
    }
    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// The URI parameters from the first `;` (`;transport=tcp;lr`).
    pub fn params(&self) -> &'a str {
        self.part(self.params)
    }
    /// One URI parameter by name (case-insensitive); `Some("")` when it has no value.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params().split(';').skip(1).find_map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }
    /// The `?headers` part, without the `?`.
    pub fn headers(&self) -> Option<&'a str> {
        self.headers
            .map(|h| ascii_text(self.raw.get(usize::from(h)..).unwrap_or_default()))
    }

    /// Parses a URI that was already delimited by the caller.
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>, UriError> {
        parse(s).map_err(|i| UriError {
            reason: i.reason,
            offset: i.at,
        })
    }
}

/// Why a URI was refused, and where inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (URI byte {offset})")]
pub struct UriError {
    /// What is wrong.
    pub reason: &'static str,
    /// Byte offset inside the URI.
    pub offset: usize,
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Checks that every `%` starts a two-hex-digit escape.
#[cold]
fn check_escapes(s: &[u8], base: usize) -> Result<(), Invalid> {
    for i in memchr::memchr_iter(b'%', s) {
        if !(s.get(i + 1).is_some_and(|&b| is_hex(b)) && s.get(i + 2).is_some_and(|&b| is_hex(b))) {
            return Err(Invalid::new("bad %-escape", base + i));
        }
    }
    Ok(())
}

/// The scheme and the offset of its colon.
#[inline]
fn scheme(s: &[u8]) -> Result<(Kind, usize), Invalid> {
    // Nearly every URI is `sip:` or `sips:`.
    if s.len() > 4 && eq_name(&s[..4], b"sip:") {
        return Ok((Kind::Sip, 3));
    }
    if s.len() > 5 && eq_name(&s[..5], b"sips:") {
        return Ok((Kind::Sips, 4));
    }
    let colon = find(b':', s).ok_or(Invalid::new("URI has no scheme", 0))?;
    let scheme = &s[..colon];
    if scheme.is_empty()
        || !scheme[0].is_ascii_alphabetic()
        || skip(scheme, 0, cls::SCHEME) != colon
    {
        return Err(Invalid::new("invalid URI scheme", 0));
    }
    let kind = if scheme.eq_ignore_ascii_case(b"sip") {
        Kind::Sip
    } else if scheme.eq_ignore_ascii_case(b"sips") {
        Kind::Sips
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        Kind::Tel
    } else {
        Kind::Other
    };
    Ok((kind, colon))
}

/// [`Uri::parse`] for the grammars that embed a URI: the error is
/// relative to the URI, ready to be shifted by the caller.
#[inline(always)]
pub(crate) fn parse(s: &[u8]) -> Result<Uri<'_>, Invalid> {
    // Offsets are kept as u16; a URI cannot be that long inside a message.
    if s.len() >= usize::from(u16::MAX) {
        return Err(Invalid::new("URI too long", 0));
    }
    let (kind, colon) = scheme(s)?;
    let mut uri = Uri {
        raw: s,
        host: None,
        port: None,
        kind,
        scheme_end: colon as u16,
        user: None,
        password: None,
        params: Span::new(s.len(), s.len()),
        headers: None,
    };
    if matches!(kind, Kind::Sip | Kind::Sips) {
        sip_parts(s, colon + 1, &mut uri)?;
    } else {
        opaque_parts(s, colon + 1, &mut uri)?;
    }
    Ok(uri)
}

/// The parts of a `tel:` URI, or checks an opaque one.
#[cold]
fn opaque_parts<'a>(s: &'a [u8], body: usize, uri: &mut Uri<'a>) -> Result<(), Invalid> {
    // The sip grammar rejects these through its character classes.
    if let Some(i) = s
        .iter()
        .position(|&b| b <= b' ' || matches!(b, b'<' | b'>' | b'"' | 0x7f))
    {
        return Err(Invalid::new("white space or delimiter inside URI", i));
    }
    if uri.kind == Kind::Tel {
        let end = find(b';', &s[body..]).map_or(s.len(), |i| body + i);
        let number = &s[body..end];
        if number.is_empty()
            || !number.iter().all(|&b| {
                b.is_ascii_hexdigit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
            })
        {
            return Err(Invalid::new("invalid telephone number", body));
        }
        uri.user = Some(Span::new(body, end));
        uri.params = Span::new(end, s.len());
    } else if body == s.len() {
        return Err(Invalid::new("empty URI", body));
    }
    if !s.is_ascii() {
        return Err(Invalid::new("URI is not ASCII", 0));
    }
    Ok(())
}

/// The parts of a `sip:`/`sips:` URI after the scheme's colon at
/// `body - 1`: every byte is checked against its part's class (all of
/// them ASCII), in one pass over each part.
#[inline(always)]
fn sip_parts<'a>(s: &'a [u8], body: usize, uri: &mut Uri<'a>) -> Result<(), Invalid> {
    // The userinfo cannot hold an unescaped `@`, and neither can what
    // follows the host, so the first `@` ends the userinfo. User
    // characters exclude `@`: a run of them stops at it when there is
    // one and the userinfo is valid.
    let mut acc = 0u32;
    let mut i = body;
    while i < s.len() {
        let c = CLASSES[usize::from(s[i])];
        if c & cls::USER == 0 {
            break;
        }
        acc |= c;
        i += 1;
    }
    let mut pos = body;
    if s.get(i) == Some(&b'@') {
        let userinfo = &s[body..i];
        if acc & cls::PERCENT != 0 {
            check_escapes(userinfo, body)?;
        }
        let user_end = if acc & cls::COLON != 0 {
            find(b':', userinfo).map_or(i, |c| body + c)
        } else {
            i
        };
        if user_end == body {
            return Err(Invalid::new("empty user part", body));
        }
        uri.user = Some(Span::new(body, user_end));
        if user_end < i {
            uri.password = Some(Span::new(user_end + 1, i));
        }
        pos = i + 1;
    } else if i < s.len() && find(b'@', &s[i..]).is_some() {
        return Err(Invalid::new("invalid character in user part", i));
    }
    let (host, port, used) = parse_hostport(&s[pos..]).map_err(|e| e.shifted(pos))?;
    uri.host = Some(host);
    uri.port = port;
    pos += used;
    if pos == s.len() {
        return Ok(());
    }
    // One pass over what follows the host notes the bytes that matter.
    let rest = &s[pos..];
    let (mut bad, mut q, mut empty_param, mut escapes) = (None, rest.len(), false, false);
    for (j, &b) in rest.iter().enumerate() {
        let c = CLASSES[usize::from(b)];
        if c & cls::PARAM == 0 {
            bad = Some(j);
            break;
        }
        if c & cls::URI_SPECIAL != 0 {
            match b {
                b'%' => escapes = true,
                b'?' => q = q.min(j),
                // A `;` before the headers needs a name after it.
                _ if j < q => {
                    empty_param |= matches!(rest.get(j + 1), None | Some(b';' | b'=' | b'?'));
                }
                _ => {}
            }
        }
    }
    if let Some(j) = bad {
        return Err(Invalid::new("invalid character after host", pos + j));
    }
    if escapes {
        check_escapes(rest, pos)?;
    }
    if q > 0 && rest[0] != b';' {
        return Err(Invalid::new("invalid character after host", pos));
    }
    if empty_param {
        return Err(Invalid::new("empty URI parameter", pos));
    }
    uri.params = Span::new(pos, pos + q);
    if q < rest.len() {
        uri.headers = Some((pos + q + 1) as u16);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse(b"sips:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.scheme(), Scheme::Sips);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), Some(Host::Ipv6("2001:db8::1".parse().unwrap())));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.param("TRANSPORT"), Some("tcp"));
        assert_eq!(u.param("lr"), Some(""));
        assert_eq!(u.headers(), Some("subject=x"));
    }

    #[test]
    fn unusual_user_parts_from_rfc4475() {
        let u = Uri::parse(b"sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), Some(Host::Domain("example.com")));
        let u = Uri::parse(
            b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        )
        .unwrap();
        assert_eq!(u.host(), Some(Host::Domain("example.com")));
        assert!(u.password().unwrap().starts_with("&it+has"));
    }

    #[test]
    fn tel_and_opaque() {
        let u = Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(u.scheme(), Scheme::Tel);
        assert_eq!(u.user(), Some("+1-201-555-0123"));
        let u = Uri::parse(b"soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme(), Scheme::Other("soap.beep"));
        assert_eq!(u.host(), None);
    }

    #[test]
    fn refusals_name_the_defect() {
        assert_eq!(
            Uri::parse(b"<sip:a@b>").unwrap_err().reason,
            "invalid URI scheme"
        );
        assert_eq!(
            Uri::parse(b"sip:a b@c").unwrap_err().reason,
            "invalid character in user part"
        );
        assert_eq!(
            Uri::parse(b"x-y:a b").unwrap_err().reason,
            "white space or delimiter inside URI"
        );
        assert_eq!(Uri::parse(b"sip:%zz@c").unwrap_err().reason, "bad %-escape");
        assert_eq!(
            Uri::parse(b"sip:\xc3\xa9@c").unwrap_err().reason,
            "invalid character in user part"
        );
        assert_eq!(
            Uri::parse(b"urn:\xc3\xa9").unwrap_err().reason,
            "URI is not ASCII"
        );
        let long = [b"sip:a@b;x=".as_slice(), &[b'y'; 65_535]].concat();
        assert_eq!(Uri::parse(&long).unwrap_err().reason, "URI too long");
        assert_eq!(
            Uri::parse(b"sip:c;;").unwrap_err().reason,
            "empty URI parameter"
        );
        assert_eq!(
            Uri::parse(b"sip:2001:db8::10").unwrap_err().reason,
            "IPv6 address must be enclosed in brackets"
        );
        assert_eq!(
            Uri::parse(b"sip:user@[2001:db8:::192.0.2.1]")
                .unwrap()
                .host(),
            Some(Host::Ipv6("2001:db8::192.0.2.1".parse().unwrap()))
        );
    }
}
