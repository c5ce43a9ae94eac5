//! Content-Type values (`type/subtype;params`), enough to find SDP and
//! the boundary of a multipart body.

use crate::grammar::{ascii_text, params, Cursor, Invalid, Params};

/// A media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    kind: &'a [u8],
    subtype: &'a [u8],
    params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// The top-level type (`application`).
    pub fn kind(&self) -> &'a str {
        ascii_text(self.kind)
    }
    /// The subtype (`sdp`).
    pub fn subtype(&self) -> &'a str {
        ascii_text(self.subtype)
    }
    /// The parameters.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// True for `application/sdp`.
    pub fn is_sdp(&self) -> bool {
        crate::byte_scan::eq_name(self.subtype, b"sdp")
            && crate::byte_scan::eq_name(self.kind, b"application")
    }
    /// True for any `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        crate::byte_scan::eq_name(self.kind, b"multipart")
    }
    /// The multipart `boundary` parameter.
    pub fn boundary(&self) -> Option<&'a [u8]> {
        self.params.get("boundary").flatten()
    }
}

/// Parses a Content-Type value.
pub(crate) fn parse(value: &[u8]) -> Result<MediaType<'_>, Invalid> {
    let mut c = Cursor::new(value);
    c.skip_lws();
    let kind = c
        .token()
        .ok_or(Invalid::new("missing media type", c.pos()))?;
    if !c.eat_sep(b'/') {
        return Err(Invalid::new("expected / in the media type", c.pos()));
    }
    c.skip_lws();
    let subtype = c
        .token()
        .ok_or(Invalid::new("missing media subtype", c.pos()))?;
    let params = params(&mut c)?;
    c.skip_lws();
    if !c.at_end() {
        return Err(Invalid::new(
            "unexpected text after the media type",
            c.pos(),
        ));
    }
    Ok(MediaType {
        kind,
        subtype,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let m = parse(b"multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.is_multipart());
        assert_eq!(m.boundary(), Some(&b"7a9cbec02ceef655"[..]));
        assert!(parse(b"Application/SDP").unwrap().is_sdp());
        assert!(parse(b"text").is_err());
        assert!(parse(b"text/plain junk").is_err());
    }
}
