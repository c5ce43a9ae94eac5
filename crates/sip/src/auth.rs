//! Credentials and challenges: Authorization, Proxy-Authorization,
//! WWW-Authenticate and Proxy-Authenticate (RFC 3261 §25.1). They share one
//! grammar: a scheme, then comma-separated `name=value` parameters.

use crate::grammar::{is_token, Cursor, Invalid};

/// One credentials or challenge value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    scheme: &'a str,
    params: &'a [u8],
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
            c: Cursor::new(self.params),
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
        self.param("username")
    }
    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.param("realm")
    }
}

/// Iterator over the parameters of an [`Auth`].
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    c: Cursor<'a>,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        // Validated when the Auth was built; a surprise ends the iteration.
        read_param(&mut self.c).ok().flatten()
    }
}

/// A `name=value` pair.
type Pair<'a> = (&'a [u8], &'a [u8]);

fn read_param<'a>(c: &mut Cursor<'a>) -> Result<Option<Pair<'a>>, Invalid> {
    c.skip_lws();
    if c.at_end() {
        return Ok(None);
    }
    let name = c
        .token()
        .ok_or(Invalid::new("invalid parameter name", c.pos()))?;
    if !c.eat_sep(b'=') {
        return Err(Invalid::new("expected = after the parameter name", c.pos()));
    }
    c.skip_lws();
    let value = if c.peek() == Some(b'"') {
        c.quoted()?
    } else {
        let v = c.take_while(|b| is_token(b) || b == b'/' || b == b':' || b == b'=');
        if v.is_empty() {
            return Err(Invalid::new("empty parameter value", c.pos()));
        }
        v
    };
    c.skip_lws();
    match c.peek() {
        None => {}
        Some(b',') => {
            c.bump();
            c.skip_lws();
            if c.at_end() {
                return Err(Invalid::new("trailing comma", c.pos()));
            }
        }
        Some(_) => return Err(Invalid::new("expected , between parameters", c.pos())),
    }
    Ok(Some((name, value)))
}

/// Parses a credentials or challenge value.
pub(crate) fn parse(value: &[u8]) -> Result<Auth<'_>, Invalid> {
    let mut c = Cursor::new(value);
    c.skip_lws();
    let scheme = c.token().ok_or(Invalid::new("missing scheme", c.pos()))?;
    let params = c.rest();
    if !c.at_end() && !c.skip_lws() {
        return Err(Invalid::new(
            "expected white space after the scheme",
            c.pos(),
        ));
    }
    let mut check = Cursor::new(params);
    let base = value.len() - params.len();
    while read_param(&mut check)
        .map_err(|e| e.shifted(base))?
        .is_some()
    {}
    Ok(Auth {
        // Token characters are ASCII.
        scheme: std::str::from_utf8(scheme).unwrap_or(""),
        params,
    })
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
