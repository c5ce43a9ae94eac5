//! Methods and the CSeq header (RFC 3261 §20.16).

use crate::grammar::{before, cls, is_token_str, skip, Invalid};

/// A request method; extension methods are kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method<'a> {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// REGISTER
    Register,
    /// OPTIONS
    Options,
    /// INFO
    Info,
    /// PRACK
    Prack,
    /// UPDATE
    Update,
    /// SUBSCRIBE
    Subscribe,
    /// NOTIFY
    Notify,
    /// REFER
    Refer,
    /// MESSAGE
    Message,
    /// PUBLISH
    Publish,
    /// Any other token.
    Other(&'a str),
}

impl<'a> Method<'a> {
    /// Reads a method token (methods are case-sensitive).
    #[inline]
    pub(crate) fn from_token(t: &'a [u8]) -> Option<Method<'a>> {
        // Known methods are tokens; only others are checked byte by byte.
        Some(match t {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"INFO" => Method::Info,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"REFER" => Method::Refer,
            b"MESSAGE" => Method::Message,
            b"PUBLISH" => Method::Publish,
            _ if is_token_str(t) => Method::Other(crate::grammar::ascii_text(t)),
            _ => return None,
        })
    }

    /// The method as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

/// The CSeq header: sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (RFC 3261 §8.1.1.5: a 32-bit unsigned integer).
    pub number: u32,
    /// The method.
    pub method: Method<'a>,
}

/// Parses a CSeq value.
#[inline]
pub(crate) fn parse(value: &[u8]) -> Result<CSeq<'_>, Invalid> {
    parse_usual(value).map_or_else(|| parse_general(value), Ok)
}

/// [`parse`] for the usual `<number> <METHOD>`, with a number that fits;
/// `None` for any other shape.
#[inline]
pub(crate) fn parse_usual(value: &[u8]) -> Option<CSeq<'_>> {
    let digits = skip(value, 0, cls::DIGIT);
    if value.get(digits) != Some(&b' ') {
        return None;
    }
    Some(CSeq {
        number: crate::grammar::parse_u32(&value[..digits])?,
        method: Method::from_token(&value[digits + 1..])?,
    })
}

/// [`parse`] for any value, step by step, naming the defect.
#[cold]
pub(crate) fn parse_general(value: &[u8]) -> Result<CSeq<'_>, Invalid> {
    let start = skip(value, 0, cls::LWS);
    let digits_end = skip(value, start, cls::DIGIT);
    if digits_end == start {
        return Err(Invalid::new("sequence number is not a number", start));
    }
    let number = crate::grammar::parse_u32(&value[start..digits_end])
        .ok_or(Invalid::new("sequence number exceeds 2^32-1", 0))?;
    let at = skip(value, digits_end, cls::LWS);
    if at == digits_end {
        return Err(Invalid::new(
            "expected white space after the sequence number",
            at,
        ));
    }
    let end = at + before(&value[at..], cls::LWS);
    let method = Method::from_token(&value[at..end]).ok_or(Invalid::new("invalid method", at))?;
    let rest = skip(value, end, cls::LWS);
    if rest != value.len() {
        return Err(Invalid::new("unexpected text after the method", rest));
    }
    Ok(CSeq { number, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_forms() {
        let c = parse(b"0009\r\n  INVITE").unwrap();
        assert_eq!((c.number, c.method), (9, Method::Invite));
        let c = parse(b"8 RE%47IST%45R").unwrap();
        assert_eq!(c.method, Method::Other("RE%47IST%45R"));
        assert_eq!(
            parse(b"36893488147419103232 REGISTER").unwrap_err().reason,
            "sequence number exceeds 2^32-1"
        );
        assert!(parse(b"1 INVITE extra").is_err());
        assert!(parse(b"INVITE").is_err());
    }
}
