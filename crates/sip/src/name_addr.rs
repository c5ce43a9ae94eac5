//! `name-addr` / `addr-spec` with header parameters: the shape of From, To,
//! Contact, Route and Record-Route values (RFC 3261 §20.10, §25.1).

use crate::byte_scan::{eq_name, find};
use crate::grammar::{
    before, cls, is_lws, params_general, params_usual, Cursor, Invalid, Mark, Param, Params,
};
use crate::uri::Uri;

/// An address with optional display name and header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<&'a [u8]>,
    uri: Uri<'a>,
    params: Params<'a>,
    /// The `tag` and `expires` parameters, found while checking.
    tag: Mark,
    expires: Mark,
}

impl<'a> NameAddr<'a> {
    /// The display name as written: quoted content (escapes kept) or tokens.
    pub fn display_name(&self) -> Option<&'a [u8]> {
        self.display
    }
    /// The URI.
    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }
    /// The header parameters (after the URI or the `>`).
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.tag.get(&self.params).flatten()
    }
    /// The `expires` parameter of a Contact (saturating, RFC 3261 §20.19).
    pub fn expires(&self) -> Option<u32> {
        self.expires
            .get(&self.params)
            .flatten()
            .and_then(crate::grammar::parse_u32_saturating)
    }
}

/// Reads one name-addr or addr-spec at the cursor, up to a top-level `,`
/// or the end.
#[inline]
pub(crate) fn parse<'a>(c: &mut Cursor<'a>) -> Result<NameAddr<'a>, Invalid> {
    c.skip_lws();
    let start = c.pos();
    let mut display = None;
    match c.peek() {
        Some(b'"') => {
            display = Some(c.quoted()?);
            c.skip_lws();
            if c.peek() != Some(b'<') {
                return Err(Invalid::new(
                    "a quoted display name must be followed by <URI>",
                    c.pos(),
                ));
            }
        }
        Some(b'<') => {}
        _ => {
            // Tokens separated by white space, then `<`, make a display
            // name; otherwise this is an addr-spec.
            let mut probe = c.clone();
            let words = probe.take(cls::TOKEN | cls::LWS);
            if probe.peek() == Some(b'<') {
                display = Some(crate::grammar::trim(words));
                c.set_pos(start + words.len());
            }
        }
    }
    let uri;
    if c.peek() == Some(b'<') {
        c.bump();
        let open = c.pos();
        let rest = c.rest();
        let close = find(b'>', rest).ok_or(Invalid::new("missing >", open))?;
        let inner = &rest[..close];
        if inner.first().is_some_and(|&b| is_lws(b)) || inner.last().is_some_and(|&b| is_lws(b)) {
            return Err(Invalid::new(
                "white space inside <...> around the URI",
                open,
            ));
        }
        uri = crate::uri::parse(inner).map_err(|e| e.shifted(open))?;
        c.set_pos(open + close + 1);
    } else {
        let rest = c.rest();
        let n = before(rest, cls::ADDR_STOP);
        let spec = &rest[..n];
        let at = c.pos();
        if find(b'?', spec).is_some() {
            return Err(Invalid::new(
                "a URI with headers must be enclosed in <...>",
                at,
            ));
        }
        uri = crate::uri::parse(spec).map_err(|e| {
            if find(b'<', rest).is_some() {
                Invalid::new("display name must be a quoted string or tokens", at)
            } else {
                e.shifted(at)
            }
        })?;
        c.set_pos(at + n);
    }
    let (mut tag, mut expires) = (Mark::default(), Mark::default());
    let params = params_general(c, |p| {
        note_param(&p, &mut tag, &mut expires);
        Ok(())
    })?;
    c.skip_lws();
    if !c.at_end() && c.peek() != Some(b',') {
        return Err(Invalid::new("unexpected text after the address", c.pos()));
    }
    Ok(NameAddr {
        display,
        uri,
        params,
        tag,
        expires,
    })
}

/// The header parameters of a name-addr or addr-spec value, found without
/// reading the URI or checking the parameters (the guard's fast path for
/// the From tag). On a value that [`parse_single`] accepts, this reads the
/// same parameters.
pub(crate) fn params_of(value: &[u8]) -> Params<'_> {
    let mut at = 0;
    if value.first() == Some(&b'"') {
        let mut c = Cursor::new(value);
        if c.quoted().is_err() {
            return Params::default();
        }
        at = c.pos();
    }
    let rest = &value[at..];
    let start = match find(b'<', rest) {
        Some(open) => match find(b'>', &rest[open..]) {
            Some(close) => at + open + close + 1,
            None => return Params::default(),
        },
        None => match find(b';', rest) {
            Some(semi) => at + semi,
            None => return Params::default(),
        },
    };
    Params::unchecked(&value[start..])
}

/// Reads a value holding exactly one address (From, To).
#[inline]
pub(crate) fn parse_single(value: &[u8]) -> Result<NameAddr<'_>, Invalid> {
    parse_single_usual(value).map_or_else(|| parse_single_general(value), Ok)
}

/// [`parse_single`] for any value, step by step, naming the defect.
#[cold]
pub(crate) fn parse_single_general(value: &[u8]) -> Result<NameAddr<'_>, Invalid> {
    let mut c = Cursor::new(value);
    let na = parse(&mut c)?;
    if !c.at_end() {
        return Err(Invalid::new("more than one address", c.pos()));
    }
    Ok(na)
}

/// A value holding one address of the usual shape, read directly:
/// `<URI>`, `"name" <URI>` (no escapes) or a `sip:`/`sips:` URI alone,
/// then parameters written without white space or quotes. `None` for
/// anything else, which [`parse`] reads as it would have.
#[inline]
pub(crate) fn parse_single_usual(v: &[u8]) -> Option<NameAddr<'_>> {
    let mut display = None;
    let (uri, end) = match *v.first()? {
        first @ (b'"' | b'<') => {
            let mut open = 0;
            if first == b'"' {
                let close = 1 + crate::byte_scan::find_either(b'"', b'\\', &v[1..])?;
                if v[close] != b'"' {
                    return None;
                }
                display = Some(&v[1..close]);
                open = close + 1;
                if v.get(open) == Some(&b' ') {
                    open += 1;
                }
                if v.get(open) != Some(&b'<') {
                    return None;
                }
            }
            let close = open + 1 + find(b'>', &v[open + 1..])?;
            (crate::uri::parse(&v[open + 1..close]).ok()?, close + 1)
        }
        _ => {
            // An addr-spec: a SIP URI up to the parameters.
            if !v
                .get(..4)
                .is_some_and(|s| eq_name(s, b"sip:") || eq_name(s, b"sips"))
            {
                return None;
            }
            let end = before(v, cls::ADDR_STOP);
            // A `?` anywhere in it needs the angle brackets.
            if find(b'?', &v[..end]).is_some() {
                return None;
            }
            (crate::uri::parse(&v[..end]).ok()?, end)
        }
    };
    let (mut tag, mut expires) = (Mark::default(), Mark::default());
    let params = params_usual(v, end, |p| {
        note_param(p, &mut tag, &mut expires);
        true
    })?;
    Some(NameAddr {
        display,
        uri,
        params,
        tag,
        expires,
    })
}

/// Notes the parameters a name-addr keeps marks of.
#[inline]
fn note_param(p: &Param<'_>, tag: &mut Mark, expires: &mut Mark) {
    match p.name.len() {
        3 if eq_name(p.name, b"tag") => tag.note(p),
        7 if eq_name(p.name, b"expires") => expires.note(p),
        _ => {}
    }
}

/// A list of addresses (Contact, Route, Record-Route), read lazily; built
/// only over values that were validated.
#[derive(Debug, Clone)]
pub struct NameAddrList<'a> {
    c: Cursor<'a>,
}

impl<'a> NameAddrList<'a> {
    pub(crate) fn new(value: &'a [u8]) -> Self {
        NameAddrList {
            c: Cursor::new(value),
        }
    }
}

impl<'a> Iterator for NameAddrList<'a> {
    type Item = Result<NameAddr<'a>, Invalid>;
    fn next(&mut self) -> Option<Self::Item> {
        self.c.skip_lws();
        if self.c.at_end() {
            return None;
        }
        let r = parse(&mut self.c);
        match r {
            Ok(na) => {
                self.c.skip_lws();
                if self.c.peek() == Some(b',') {
                    self.c.bump();
                    self.c.skip_lws();
                    if self.c.at_end() {
                        let at = self.c.pos();
                        self.c.set_pos(usize::MAX);
                        return Some(Err(Invalid::new("empty list element", at)));
                    }
                }
                Some(Ok(na))
            }
            Err(e) => {
                self.c.set_pos(usize::MAX);
                Some(Err(e))
            }
        }
    }
}

/// Validates a list of addresses.
pub(crate) fn check_list(value: &[u8]) -> Result<(), Invalid> {
    if crate::grammar::trim(value).is_empty() {
        return Err(Invalid::new("empty value", 0));
    }
    for r in NameAddrList::new(value) {
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;

    #[test]
    fn forms_of_an_address() {
        let na = parse_single(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(na.display_name(), Some(&b"J Rosenberg \\\\\\\""[..]));
        assert_eq!(na.tag(), Some(&b"98asjd8"[..]));
        let na = parse_single(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(na.display_name(), Some(&b"caller"[..]));
        let na =
            parse_single(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(na.display_name(), None);
        assert_eq!(
            na.uri().host(),
            Some(Host::Domain("chair-dnrc.example.com"))
        );
        assert_eq!(na.tag(), Some(&b"1918181833n"[..]));
    }

    #[test]
    fn defects_from_rfc4475() {
        assert_eq!(
            parse_single(b"\"Mr. J. User <sip:j.user@example.com>")
                .unwrap_err()
                .reason,
            "unterminated quoted string"
        );
        assert_eq!(
            parse_single(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43")
                .unwrap_err()
                .reason,
            "display name must be a quoted string or tokens"
        );
        assert_eq!(
            parse_single(b"\"Watson, Thomas\" < sip:t.watson@example.org >")
                .unwrap_err()
                .reason,
            "white space inside <...> around the URI"
        );
        assert_eq!(
            check_list(b"sip:user@example.com?Route=%3Csip:sip.example.com%3E")
                .unwrap_err()
                .reason,
            "a URI with headers must be enclosed in <...>"
        );
        assert!(check_list(b"\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }

    #[test]
    fn fast_params_agree_with_the_full_parse() {
        for v in [
            &b"\"a<b>;tag=x\" <sip:u@h;tag=no>;tag=yes"[..],
            b"sip:u@h;tag=1",
            b"<sip:u@h>",
            b"caller<sip:caller@example.com>;tag=323",
            b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
        ] {
            let fast: Vec<_> = params_of(v).iter().collect();
            let full: Vec<_> = parse_single(v).unwrap().params().iter().collect();
            assert_eq!(fast, full, "{v:?}");
        }
        assert_eq!(
            params_of(b"\"a<b>;tag=x\" <sip:u@h;tag=no>;tag=yes").get("tag"),
            Some(Some(&b"yes"[..]))
        );
    }

    #[test]
    fn the_usual_shapes_read_as_the_general_path_reads_them() {
        for v in [
            &b"<sip:1042@192.0.2.2>;tag=1a2b"[..],
            b"\"1042\" <sip:1042@192.0.2.2:5060;transport=udp>;tag=x;expires=60",
            b"\"sipvicious\"<sip:100@1.1.1.1>;tag=6330",
            b"sip:100@192.0.2.1:5060",
            b"sips:alice@example.com;lr;tag=t",
            b"<sip:[2001:db8::1]:5062>;expires=0",
        ] {
            let usual =
                parse_single_usual(v).unwrap_or_else(|| panic!("{v:?} has the usual shape"));
            assert_eq!(Ok(usual), parse_single_general(v), "{v:?}");
        }
        // Shapes left to the general path, which accepts or refuses them.
        for v in [
            &b"sip:a?b@example.com"[..],
            b"Bob <sip:bob@example.com>",
            b"\"B\\\"ob\" <sip:bob@example.com>",
            b"<sip:a@b> ;tag=1",
            b"<sip:a@b>;tag=\"q\"",
            b"<sip:a@b>, <sip:c@d>",
            b"<sip:a@b>;tag=",
            b"<sip:a@b>;=x",
        ] {
            assert_eq!(parse_single_usual(v), None, "{v:?}");
        }
    }

    #[test]
    fn contact_list_and_expires() {
        let v = b"<sip:a@[2001:db8::1]>;expires=60, \"B\" <sip:b@192.0.2.1:5062>;q=0.5";
        let all: Vec<_> = NameAddrList::new(v).map(Result::unwrap).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].expires(), Some(60));
        assert_eq!(
            all[0].uri().host(),
            Some(Host::Ipv6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(all[1].uri().port(), Some(5062));
        assert_eq!(all[1].params().get("q"), Some(Some(&b"0.5"[..])));
    }
}
