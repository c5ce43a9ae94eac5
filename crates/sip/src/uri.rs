//! URIs: `sip:`/`sips:` (RFC 3261 §19.1) and `tel:` (RFC 3966) read into
//! their parts; any other scheme is kept as an opaque absolute URI.

use crate::grammar::{ascii, Invalid};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    scheme: Scheme<'a>,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<Host<'a>>,
    port: Option<u16>,
    params: &'a str,
    headers: Option<&'a str>,
}

impl<'a> Uri<'a> {
    /// The whole URI as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }
    /// The scheme.
    pub fn scheme(&self) -> Scheme<'a> {
        self.scheme
    }
    /// The user part (still %-escaped), or for `tel:` the number.
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }
    /// The password of the userinfo, if any (SIP discourages it).
    pub fn password(&self) -> Option<&'a str> {
        self.password
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
        self.params
    }
    /// One URI parameter by name (case-insensitive); `Some("")` when it has no value.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.split(';').skip(1).find_map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }
    /// The `?headers` part, without the `?`.
    pub fn headers(&self) -> Option<&'a str> {
        self.headers
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

/// Checks that every `%` starts a two-hex-digit escape.
fn check_escapes(s: &[u8], base: usize) -> Result<(), Invalid> {
    for i in memchr::memchr_iter(b'%', s) {
        if !(s.get(i + 1).is_some_and(|&b| is_hex(b)) && s.get(i + 2).is_some_and(|&b| is_hex(b))) {
            return Err(Invalid::new("bad %-escape", base + i));
        }
    }
    Ok(())
}

fn parse(s: &[u8]) -> Result<Uri<'_>, Invalid> {
    let raw = ascii(s).ok_or(Invalid::new("URI is not ASCII", 0))?;
    let colon = memchr::memchr(b':', s).ok_or(Invalid::new("URI has no scheme", 0))?;
    let scheme_s = &raw[..colon];
    if scheme_s.is_empty()
        || !scheme_s.as_bytes()[0].is_ascii_alphabetic()
        || !scheme_s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return Err(Invalid::new("invalid URI scheme", 0));
    }
    let scheme = if scheme_s.eq_ignore_ascii_case("sip") {
        Scheme::Sip
    } else if scheme_s.eq_ignore_ascii_case("sips") {
        Scheme::Sips
    } else if scheme_s.eq_ignore_ascii_case("tel") {
        Scheme::Tel
    } else {
        Scheme::Other(scheme_s)
    };
    let body = colon + 1;
    if !matches!(scheme, Scheme::Sip | Scheme::Sips) {
        // The sip grammar below rejects these through its character classes.
        if let Some(i) = s
            .iter()
            .position(|&b| b <= b' ' || matches!(b, b'<' | b'>' | b'"' | 0x7f))
        {
            return Err(Invalid::new("white space or delimiter inside URI", i));
        }
    }
    let mut uri = Uri {
        raw,
        scheme,
        user: None,
        password: None,
        host: None,
        port: None,
        params: "",
        headers: None,
    };
    match scheme {
        Scheme::Sip | Scheme::Sips => {}
        Scheme::Tel => {
            let rest = &raw[body..];
            let end = rest.find(';').unwrap_or(rest.len());
            let number = &rest[..end];
            if number.is_empty()
                || !number.bytes().all(|b| {
                    b.is_ascii_hexdigit()
                        || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                })
            {
                return Err(Invalid::new("invalid telephone number", body));
            }
            uri.user = Some(number);
            uri.params = &rest[end..];
            return Ok(uri);
        }
        Scheme::Other(_) => {
            if body == s.len() {
                return Err(Invalid::new("empty URI", body));
            }
            return Ok(uri);
        }
    }
    let mut pos = body;
    // The userinfo cannot hold an unescaped `@`, and neither can what
    // follows the host, so the first `@` ends the userinfo.
    if let Some(at) = memchr::memchr(b'@', &s[body..]) {
        let userinfo = &s[body..body + at];
        if let Some(i) = userinfo.iter().position(|&b| !is_user_char(b)) {
            return Err(Invalid::new("invalid character in user part", body + i));
        }
        check_escapes(userinfo, body)?;
        let ui = &raw[body..body + at];
        let (user, password) = match ui.find(':') {
            Some(c) => (&ui[..c], Some(&ui[c + 1..])),
            None => (ui, None),
        };
        if user.is_empty() {
            return Err(Invalid::new("empty user part", body));
        }
        uri.user = Some(user);
        uri.password = password;
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
    let q = memchr::memchr(b'?', rest).unwrap_or(rest.len());
    let params = &raw[pos..pos + q];
    if !params.is_empty() && !params.starts_with(';') {
        return Err(Invalid::new("invalid character after host", pos));
    }
    let pb = params.as_bytes();
    if memchr::memchr_iter(b';', pb).any(|i| matches!(pb.get(i + 1), None | Some(b';' | b'='))) {
        return Err(Invalid::new("empty URI parameter", pos));
    }
    uri.params = params;
    if q < rest.len() {
        uri.headers = Some(&raw[pos + q + 1..]);
    }
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
