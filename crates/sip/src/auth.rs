//! Credentials and challenges: Authorization, Proxy-Authorization,
//! WWW-Authenticate and Proxy-Authenticate (RFC 3261 §25.1). They share one
//! grammar: a scheme, then comma-separated `name=value` parameters.

use crate::byte_scan::eq_name;
use crate::grammar::{ascii_text, cls, is, quoted_end, skip, Invalid, Mark, Param};

/// One credentials or challenge value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    scheme: &'a str,
    params: &'a [u8],
    /// The `username` and `realm` parameters, found while checking.
    username: Mark,
    realm: Mark,
}

impl<'a> Auth<'a> {
    /// The scheme (`Digest`, or any other token).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }
    /// True for the Digest scheme (any case).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("digest")
    }
    /// The parameters in order: name and value (quotes removed, escapes kept).
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            s: self.params,
            pos: 0,
        }
    }
    /// One parameter by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
    /// The `username` parameter.
    pub fn username(&self) -> Option<&'a [u8]> {
        self.username.get_in(self.params).flatten()
    }
    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.realm.get_in(self.params).flatten()
    }
}

/// Iterator over the parameters of an [`Auth`].
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // Validated when the Auth was built; a surprise ends the iteration.
        match param_general(self.s, self.pos) {
            Ok(Some((p, next))) => {
                self.pos = next;
                p.value.map(|v| (p.name, v))
            }
            _ => {
                self.pos = self.s.len();
                None
            }
        }
    }
}

/// A `name=value` pair and the offset after it (and its comma).
type Pair<'a> = (Param<'a>, usize);

/// Reads the `name=value` at `pos` (white space before it allowed), and
/// the comma that separates it from the next.
#[inline]
fn param_general(s: &[u8], pos: usize) -> Result<Option<Pair<'_>>, Invalid> {
    let i = skip(s, pos, cls::LWS);
    if i >= s.len() {
        return Ok(None);
    }
    let name_end = skip(s, i, cls::TOKEN);
    if name_end == i {
        return Err(Invalid::new("invalid parameter name", i));
    }
    let eq = skip(s, name_end, cls::LWS);
    if s.get(eq) != Some(&b'=') {
        return Err(Invalid::new(
            "expected = after the parameter name",
            name_end,
        ));
    }
    let v = skip(s, eq + 1, cls::LWS);
    let (value_at, value_end, end) = if s.get(v) == Some(&b'"') {
        let end = quoted_end(s, v)?;
        (v + 1, end - 1, end)
    } else {
        let end = skip(s, v, cls::AUTH_VALUE);
        if end == v {
            return Err(Invalid::new("empty parameter value", v));
        }
        (v, end, end)
    };
    let mut next = skip(s, end, cls::LWS);
    match s.get(next) {
        None => {}
        Some(b',') => {
            next = skip(s, next + 1, cls::LWS);
            if next >= s.len() {
                return Err(Invalid::new("trailing comma", next));
            }
        }
        Some(_) => return Err(Invalid::new("expected , between parameters", next)),
    }
    Ok(Some((
        Param {
            name: &s[i..name_end],
            value: Some(&s[value_at..value_end]),
            value_at,
        },
        next,
    )))
}

/// The parameters credentials are read for, found while checking.
#[derive(Default)]
struct Marks {
    username: Mark,
    realm: Mark,
}

impl Marks {
    #[inline]
    fn note(&mut self, p: &Param<'_>) {
        match p.name.len() {
            8 if eq_name(p.name, b"username") => self.username.note(p),
            5 if eq_name(p.name, b"realm") => self.realm.note(p),
            _ => {}
        }
    }
}

/// [`param_general`] for a parameter without white space around it or
/// escapes in it; `None` for any other shape, or for a comma that ends
/// the value.
#[inline]
fn param_usual(s: &[u8], pos: usize) -> Option<Pair<'_>> {
    let name_end = skip(s, pos, cls::TOKEN);
    if name_end == pos || s.get(name_end) != Some(&b'=') {
        return None;
    }
    let v = name_end + 1;
    let (value_at, value_end, end) = if s.get(v) == Some(&b'"') {
        let close = v + 1 + crate::byte_scan::find_either(b'"', b'\\', &s[v + 1..])?;
        if s[close] != b'"' {
            return None;
        }
        (v + 1, close, close + 1)
    } else {
        let end = skip(s, v, cls::AUTH_VALUE);
        if end == v {
            return None;
        }
        (v, end, end)
    };
    let next = match s.get(end) {
        None => end,
        Some(b',') if end + 1 < s.len() => end + 1,
        _ => return None,
    };
    Some((
        Param {
            name: &s[pos..name_end],
            value: Some(&s[value_at..value_end]),
            value_at,
        },
        next,
    ))
}

/// Parses a credentials or challenge value.
pub(crate) fn parse(value: &[u8]) -> Result<Auth<'_>, Invalid> {
    parse_usual(value).map_or_else(|| parse_general(value), Ok)
}

/// [`parse`] for a scheme and then parameters of the usual shape
/// ([`params_usual`]); `None` for any other value.
#[inline]
pub(crate) fn parse_usual(value: &[u8]) -> Option<Auth<'_>> {
    let (start, end) = scheme(value).ok()?;
    let params = &value[end..];
    let marks = params_usual(params)?;
    Some(Auth {
        scheme: ascii_text(&value[start..end]),
        params,
        username: marks.username,
        realm: marks.realm,
    })
}

/// [`parse`] for any value, step by step, naming the defect.
#[cold]
pub(crate) fn parse_general(value: &[u8]) -> Result<Auth<'_>, Invalid> {
    let (start, end) = scheme(value)?;
    let params = &value[end..];
    let mut marks = Marks::default();
    let mut pos = 0;
    while let Some((p, next)) = param_general(params, pos).map_err(|e| e.shifted(end))? {
        marks.note(&p);
        pos = next;
    }
    Ok(Auth {
        scheme: ascii_text(&value[start..end]),
        params,
        username: marks.username,
        realm: marks.realm,
    })
}

/// Where the scheme starts and ends; it must be followed by white space
/// or the end of the value.
#[inline(always)]
fn scheme(value: &[u8]) -> Result<(usize, usize), Invalid> {
    let start = skip(value, 0, cls::LWS);
    let end = skip(value, start, cls::TOKEN);
    if end == start {
        return Err(Invalid::new("missing scheme", start));
    }
    let params = &value[end..];
    if !params.is_empty() && !is(params[0], cls::LWS) {
        return Err(Invalid::new("expected white space after the scheme", end));
    }
    Ok((start, end))
}

/// The parameters of the usual shape: one space after the scheme, no
/// white space and no escapes in the parameters. `None` for any other
/// shape, which [`param_general`] reads as it would have.
#[inline]
fn params_usual(params: &[u8]) -> Option<Marks> {
    if params.first() != Some(&b' ') {
        return None;
    }
    let mut marks = Marks::default();
    let mut pos = 1;
    loop {
        let (p, next) = param_usual(params, pos)?;
        marks.note(&p);
        if next == params.len() {
            return Some(marks);
        }
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let a = parse(br#"Digest username="100",realm="192.0.2.2",nonce="abc",uri="sip:192.0.2.2",nc=00000001,algorithm=MD5,qop=auth,response="f7""#).unwrap();
        assert!(a.is_digest());
        assert_eq!(a.username(), Some(&b"100"[..]));
        assert_eq!(a.realm(), Some(&b"192.0.2.2"[..]));
        assert_eq!(a.param("NC"), Some(&b"00000001"[..]));
        assert_eq!(a.params().count(), 8);
    }

    #[test]
    fn unknown_scheme_and_defects() {
        let a = parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme(), "NoOneKnowsThisScheme");
        assert_eq!(a.username(), None);
        assert!(parse(b"Digest realm=").is_err());
        assert!(parse(b"Digest realm=\"x\" nonce=\"y\"").is_err());
        assert!(parse(b"").is_err());
    }
}
