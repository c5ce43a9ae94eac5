//! The start line of a message: a request line (method, Request-URI,
//! version) or a status line (version, code, reason).
//!
//! Contract: [`parse_start_line`] reads the line without its CRLF; the
//! version must be `SIP/2.0` (another well-formed version is
//! [`Error::Unsupported`]), a status code 100 to 699, and a SIP or SIPS
//! Request-URI carries no headers. It reads in the crate's two ways
//! ([`parse_start_line_usual`], [`parse_start_line_general`]); the general
//! reader reports the first defect in the order the line is written.

use crate::cseq::Method;
use crate::error::{malformed, Defect, Error, Unsupported};
use crate::grammar;
use crate::uri::{Scheme, Uri};

/// The request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// The method.
    pub method: Method<'a>,
    /// The Request-URI.
    pub uri: Uri<'a>,
}

/// The status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// The status code, 100 to 699.
    pub code: u16,
    /// The reason phrase, as written (may be empty, may be UTF-8).
    pub reason: &'a [u8],
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// A request.
    Request(RequestLine<'a>),
    /// A response.
    Response(StatusLine<'a>),
}

fn parse_version(v: &[u8], line: u32, offset: usize) -> Result<(), Error> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let looks_like_version = v.len() > 4
        && v[..4].eq_ignore_ascii_case(b"SIP/")
        && v[4..].iter().all(|&b| b.is_ascii_digit() || b == b'.')
        && v[4..].iter().filter(|&&b| b == b'.').count() == 1;
    if looks_like_version {
        Err(Error::Unsupported {
            what: Unsupported::Version,
            line,
            offset: offset as u32,
        })
    } else {
        Err(malformed(
            Defect::StartLine("invalid SIP version"),
            line,
            offset,
        ))
    }
}

/// Reads the start line.
#[inline]
pub(crate) fn parse_start_line(l: &[u8]) -> Result<StartLine<'_>, Error> {
    parse_start_line_usual(l).map_or_else(|| parse_start_line_general(l), Ok)
}

/// [`parse_start_line`] for the shape nearly every message has
/// (`METHOD uri SIP/2.0`, `SIP/2.0 code reason`); `None` for any other.
#[inline]
pub(crate) fn parse_start_line_usual(l: &[u8]) -> Option<StartLine<'_>> {
    const VERSION: &[u8] = b"SIP/2.0 ";
    if l.len() >= 11 && crate::byte_scan::eq_name(&l[..8], VERSION) {
        let d = |i: usize| l[i].wrapping_sub(b'0');
        let (a, b, c) = (d(8), d(9), d(10));
        if (1..=6).contains(&a) && b <= 9 && c <= 9 && matches!(l.get(11), None | Some(b' ')) {
            let code = u16::from(a) * 100 + u16::from(b) * 10 + u16::from(c);
            let reason = l.get(12..).unwrap_or_default();
            return Some(StartLine::Response(StatusLine { code, reason }));
        }
    } else if let (Some(first), Some(last)) = (
        crate::byte_scan::find(b' ', l),
        l.len().checked_sub(VERSION.len()),
    ) {
        // `last` is the space before the version when the line ends so.
        if first < last
            && l[last] == b' '
            && crate::byte_scan::eq_name(&l[last + 1..], &VERSION[..7])
        {
            if let (Some(method), Ok(uri)) = (
                Method::from_token(&l[..first]),
                Uri::parse(&l[first + 1..last]),
            ) {
                if !(matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) && uri.headers().is_some())
                {
                    return Some(StartLine::Request(RequestLine { method, uri }));
                }
            }
        }
    }
    None
}

/// [`parse_start_line`] for any line, step by step, so that the first
/// defect is the one reported.
#[cold]
pub(crate) fn parse_start_line_general(l: &[u8]) -> Result<StartLine<'_>, Error> {
    if l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"SIP/") {
        let sp = memchr::memchr(b' ', l).ok_or_else(|| {
            malformed(
                Defect::StartLine("status line has no status code"),
                1,
                l.len(),
            )
        })?;
        parse_version(&l[..sp], 1, 0)?;
        let rest = &l[sp + 1..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits != 3 || !matches!(rest.get(3), None | Some(b' ')) {
            return Err(malformed(Defect::StatusCode, 1, sp + 1));
        }
        let code = grammar::parse_u32(&rest[..3]).unwrap_or(0) as u16;
        if !(100..=699).contains(&code) {
            return Err(malformed(Defect::StatusCode, 1, sp + 1));
        }
        let reason = rest.get(4..).unwrap_or_default();
        return Ok(StartLine::Response(StatusLine { code, reason }));
    }
    if l.last().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(malformed(
            Defect::StartLine("white space after the SIP version"),
            1,
            l.len() - 1,
        ));
    }
    let first = memchr::memchr(b' ', l)
        .ok_or_else(|| malformed(Defect::StartLine("request line has no Request-URI"), 1, 0))?;
    let last = memchr::memrchr(b' ', l).unwrap_or(first);
    if last == first {
        return Err(malformed(
            Defect::StartLine("request line has no SIP version"),
            1,
            first,
        ));
    }
    let method = Method::from_token(&l[..first])
        .ok_or_else(|| malformed(Defect::StartLine("invalid method"), 1, 0))?;
    let uri_bytes = &l[first + 1..last];
    if uri_bytes.first() == Some(&b' ') || uri_bytes.last() == Some(&b' ') {
        return Err(malformed(
            Defect::StartLine("more than one space between request-line elements"),
            1,
            first + 1,
        ));
    }
    if let Some(i) = uri_bytes.iter().position(|&b| b == b' ' || b == b'\t') {
        return Err(malformed(
            Defect::RequestUri("white space inside the Request-URI"),
            1,
            first + 1 + i,
        ));
    }
    parse_version(&l[last + 1..], 1, last + 1)?;
    let uri = Uri::parse(uri_bytes)
        .map_err(|e| malformed(Defect::RequestUri(e.reason), 1, first + 1 + e.offset))?;
    if matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) && uri.headers().is_some() {
        return Err(malformed(
            Defect::RequestUri("headers (?...) are not allowed in a Request-URI"),
            1,
            first + 1,
        ));
    }
    Ok(StartLine::Request(RequestLine { method, uri }))
}
