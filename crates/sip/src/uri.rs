//! URIs: `sip:`/`sips:` (RFC 3261 §19.1) and `tel:` (RFC 3966) read into
//! their parts; any other scheme is kept as an opaque absolute URI.

use crate::byte_scan::find;
use crate::grammar::Invalid;
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
    raw: &'a str,
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
            .field("raw", &self.raw)
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
        self.raw
            .get(usize::from(span.start)..usize::from(span.end))
            .unwrap_or_default()
    }
    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
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
            .map(|h| self.raw.get(usize::from(h)..).unwrap_or_default())
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

static USER: [bool; 256] = crate::grammar::class(true, b"-_.!~*'()&=+$,;?/:%");
static PARAM: [bool; 256] = crate::grammar::class(true, b"-_.!~*'()[]/:&+$%=;?,");

/// Characters of the user part: unreserved, escaped, and `&=+$,;?/` (and `:`
/// for the password).
fn is_user_char(b: u8) -> bool {
    USER[usize::from(b)]
}

/// Characters of URI parameters and headers: unreserved, escaped, `[]/:&+$`
/// and the `;=?&` separators.
fn is_param_char(b: u8) -> bool {
    PARAM[usize::from(b)]
}

/// The URI as text; after the grammar checks, only a pass to prove it.
fn ascii(s: &[u8]) -> Option<&str> {
    std::str::from_utf8(s).ok().filter(|t| t.is_ascii())
}

/// Checks that every `%` starts a two-hex-digit escape.
fn check_escapes(s: &[u8], base: usize) -> Result<(), Invalid> {
    for i in memchr::memchr_iter(b'%', s) {
        if !(s.get(i + 1).is_some_and(|&b| is_hex(b)) && s.get(i + 2).is_some_and(|&b| is_hex(b))) {
            return Err(Invalid::new("bad %-escape", base + i));
        }
    }
    Ok(())
}

/// [`Uri::parse`] for the grammars that embed a URI: the error is
/// relative to the URI, ready to be shifted by the caller.
pub(crate) fn parse(s: &[u8]) -> Result<Uri<'_>, Invalid> {
    // Offsets are kept as u16; a URI cannot be that long inside a message.
    if s.len() >= usize::from(u16::MAX) {
        return Err(Invalid::new("URI too long", 0));
    }
    let colon = find(b':', s).ok_or(Invalid::new("URI has no scheme", 0))?;
    let scheme = &s[..colon];
    if scheme.is_empty()
        || !scheme[0].is_ascii_alphabetic()
        || !scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
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
    let body = colon + 1;
    if !matches!(kind, Kind::Sip | Kind::Sips) {
        // The sip grammar below rejects these through its character classes.
        if let Some(i) = s
            .iter()
            .position(|&b| b <= b' ' || matches!(b, b'<' | b'>' | b'"' | 0x7f))
        {
            return Err(Invalid::new("white space or delimiter inside URI", i));
        }
    }
    let mut uri = Uri {
        raw: "",
        host: None,
        port: None,
        kind,
        scheme_end: colon as u16,
        user: None,
        password: None,
        params: Span::new(s.len(), s.len()),
        headers: None,
    };
    match kind {
        Kind::Sip | Kind::Sips => {}
        Kind::Tel => {
            let end = find(b';', &s[body..]).map_or(s.len(), |i| body + i);
            let number = &s[body..end];
            if number.is_empty()
                || !number.iter().all(|&b| {
                    b.is_ascii_hexdigit()
                        || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                })
            {
                return Err(Invalid::new("invalid telephone number", body));
            }
            uri.user = Some(Span::new(body, end));
            uri.params = Span::new(end, s.len());
            uri.raw = ascii(s).ok_or(Invalid::new("URI is not ASCII", 0))?;
            return Ok(uri);
        }
        Kind::Other => {
            if body == s.len() {
                return Err(Invalid::new("empty URI", body));
            }
            uri.raw = ascii(s).ok_or(Invalid::new("URI is not ASCII", 0))?;
            return Ok(uri);
        }
    }
    let mut pos = body;
    // The userinfo cannot hold an unescaped `@`, and neither can what
    // follows the host, so the first `@` ends the userinfo.
    if let Some(at) = find(b'@', &s[body..]) {
        let userinfo = &s[body..body + at];
        if let Some(i) = userinfo.iter().position(|&b| !is_user_char(b)) {
            return Err(Invalid::new("invalid character in user part", body + i));
        }
        check_escapes(userinfo, body)?;
        let user_end = find(b':', userinfo).map_or(body + at, |c| body + c);
        if user_end == body {
            return Err(Invalid::new("empty user part", body));
        }
        uri.user = Some(Span::new(body, user_end));
        if user_end < body + at {
            uri.password = Some(Span::new(user_end + 1, body + at));
        }
        pos = body + at + 1;
    }
    let (host, port, used) = parse_hostport(&s[pos..]).map_err(|e| e.shifted(pos))?;
    uri.host = Some(host);
    uri.port = port;
    pos += used;
    let rest = &s[pos..];
    if let Some(i) = rest.iter().position(|&b| !is_param_char(b)) {
        return Err(Invalid::new("invalid character after host", pos + i));
    }
    check_escapes(rest, pos)?;
    let q = find(b'?', rest).unwrap_or(rest.len());
    let params = &rest[..q];
    if !params.is_empty() && params[0] != b';' {
        return Err(Invalid::new("invalid character after host", pos));
    }
    if memchr::memchr_iter(b';', params)
        .any(|i| matches!(params.get(i + 1), None | Some(b';' | b'=')))
    {
        return Err(Invalid::new("empty URI parameter", pos));
    }
    uri.params = Span::new(pos, pos + q);
    if q < rest.len() {
        uri.headers = Some((pos + q + 1) as u16);
    }
    // Every byte passed an ASCII class above (the host's too), so this
    // cannot fail; it is the one pass that makes the URI text.
    uri.raw = std::str::from_utf8(s).map_err(|_| Invalid::new("URI is not ASCII", 0))?;
    Ok(uri)
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
