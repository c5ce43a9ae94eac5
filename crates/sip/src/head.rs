//! The head of a message: the start line and the header lines up to the
//! empty line, split without reading any value.
//!
//! Two readers, one head: [`split_head_usual`] reads the shape nearly
//! every head has ([`walk_usual`]: CRLF line ends, no folds, no white
//! space around a name, at most one space before a value and none after
//! it) in one pass that checks little per line, and gives up on any
//! other; [`split_head_general`] reads any head step by step, and is where
//! every defect is named. Where both read a head they read the same
//! lines. [`crate::Message::parse`] tries the first and falls back to the
//! second; framing, which must tell an incomplete head from a bad one,
//! uses the second.

use crate::error::{malformed, Bound, Defect, Error};
use crate::grammar;
use crate::header::{Header, HeaderName};
use crate::message::Limits;

/// The header section: where it ends and what it holds.
pub(crate) struct Head<'a> {
    pub start_line: &'a [u8],
    pub headers: Vec<Header<'a>>,
    /// Offset of the first body byte.
    pub body_start: usize,
    /// Line number of the first body line.
    pub body_line: u32,
}

/// A head of the usual shape ([`walk_usual`]) split into its header
/// lines, `see` shown each as it is read; `None` for any other shape.
#[inline(always)]
pub(crate) fn split_head_usual<'a>(
    buf: &'a [u8],
    limits: &Limits,
    mut see: impl FnMut(&Header<'a>),
) -> Option<Head<'a>> {
    let mut headers = Vec::with_capacity(16);
    let usual = walk_usual(buf, limits, |l| match header(l) {
        Some(h) => {
            see(&h);
            headers.push(h);
            true
        }
        None => false,
    })?;
    Some(Head {
        start_line: usual.start_line,
        headers,
        body_start: usual.body_start,
        body_line: usual.body_line,
    })
}

/// The header a line of a usual head holds; `None` when its name is not
/// a token.
#[inline(always)]
fn header<'a>(l: &Line<'a>) -> Option<Header<'a>> {
    let name = HeaderName::from_line(l.text, l.colon);
    let raw_name = &l.text[..l.colon];
    // A known name is spelled with token characters.
    if name == HeaderName::Other && !grammar::is_token_str(raw_name) {
        return None;
    }
    Some(Header {
        name,
        raw_name,
        value: l.value(),
        line: l.line,
        offset: l.value_offset(),
    })
}

/// What [`walk_usual`] found besides the header lines.
pub(crate) struct UsualHead<'a> {
    /// The start line, without its CRLF.
    pub start_line: &'a [u8],
    /// Offset of the first body byte.
    pub body_start: usize,
    /// Line number of the first body line.
    pub body_line: u32,
}

/// One header line as [`walk_usual`] sees it.
pub(crate) struct Line<'a> {
    /// The line without its CRLF.
    pub text: &'a [u8],
    /// Offset of the colon in `text`; the name is all before it.
    pub colon: usize,
    /// Offset of the value in `text`.
    pub lead: usize,
    /// 1-based line number.
    pub line: u32,
    /// Offset of the line in the message.
    pub start: usize,
}

impl<'a> Line<'a> {
    /// The value (no white space at either end).
    #[inline]
    pub fn value(&self) -> &'a [u8] {
        &self.text[self.lead..]
    }
    /// Offset of the value in the message.
    #[inline]
    pub fn value_offset(&self) -> u32 {
        (self.start + self.lead) as u32
    }
}

/// Walks a head of the shape nearly every head has: CRLF line ends, no
/// folds, a name that starts with a token character and has no white
/// space before its colon, at most one space before a value and none
/// after it, within the bounds. `each` sees every header line and may
/// refuse it. `None` for any other shape (after `each` may have seen some
/// lines), which the general paths read and tell what is wrong with;
/// where both read a head, they read the same lines.
#[inline(always)]
pub(crate) fn walk_usual<'a>(
    buf: &'a [u8],
    limits: &Limits,
    mut each: impl FnMut(&Line<'a>) -> bool,
) -> Option<UsualHead<'a>> {
    let mut newlines = crate::byte_scan::LineEnds::<true>::new(buf);
    let start_end = newlines.next()?;
    if start_end == 0 || buf[start_end - 1] != b'\r' || start_end > limits.max_line {
        return None;
    }
    let mut count = 0;
    let mut line_start = start_end + 1;
    let mut line: u32 = 2;
    let body_start = loop {
        let first = *buf.get(line_start)?;
        if first == b'\r' {
            // The empty line, if its LF follows.
            if newlines.next()? != line_start + 1 {
                return None;
            }
            break line_start + 2;
        }
        if !grammar::is_token(first) {
            return None;
        }
        let lf = newlines.next()?;
        if lf - line_start > limits.max_line
            || count >= limits.max_headers
            || buf[lf - 1] != b'\r'
            || !matches!(buf.get(lf + 1), Some(b) if !matches!(b, b' ' | b'\t'))
        {
            return None;
        }
        let text = &buf[line_start..lf - 1];
        let colon = crate::byte_scan::find(b':', text)?;
        if colon == 0 || matches!(text[colon - 1], b' ' | b'\t') {
            return None;
        }
        let mut lead = colon + 1;
        if text.get(lead) == Some(&b' ') {
            lead += 1;
        }
        if text.get(lead).is_some_and(|&b| grammar::is_lws(b))
            || (text.len() > lead && grammar::is_lws(text[text.len() - 1]))
        {
            return None;
        }
        let l = Line {
            text,
            colon,
            lead,
            line,
            start: line_start,
        };
        if !each(&l) {
            return None;
        }
        count += 1;
        line += 1;
        line_start = lf + 1;
    };
    if newlines.lone_cr_before(body_start).is_some() {
        return None;
    }
    Some(UsualHead {
        start_line: &buf[..start_end - 1],
        body_start,
        body_line: line + 1,
    })
}

/// Splits the head of a message, any shape, step by step. With
/// `eof_ends_head`, the end of `buf` also ends the header section (a
/// datagram); otherwise it means more bytes are needed
/// ([`Error::Incomplete`]).
#[cold]
pub(crate) fn split_head_general<'a>(
    buf: &'a [u8],
    limits: &Limits,
    eof_ends_head: bool,
) -> Result<Head<'a>, Error> {
    let incomplete = |line: u32, at: usize| {
        if buf.len() >= limits.max_message {
            Error::Limit {
                bound: Bound::MessageSize,
                line,
                offset: at as u32,
            }
        } else {
            Error::Incomplete
        }
    };
    let too_long = |line: u32, start: usize| Error::Limit {
        bound: Bound::LineLength,
        line,
        offset: start as u32,
    };
    // One pass over the line ends; each header consumes its own.
    let mut newlines = crate::byte_scan::LineEnds::<true>::new(buf);

    let (start_end, mut pos) = match newlines.next() {
        Some(i) => (i, i + 1),
        None if eof_ends_head => (buf.len(), buf.len()),
        None => return Err(incomplete(1, 0)),
    };
    if start_end > limits.max_line {
        return Err(too_long(1, 0));
    }
    let start_line = &buf[..start_end];
    let start_line = start_line.strip_suffix(b"\r").unwrap_or(start_line);

    let mut headers = Vec::with_capacity(16);
    let mut line: u32 = 2;
    let (body_start, body_line) = loop {
        let Some(&first) = buf.get(pos) else {
            if eof_ends_head {
                break (buf.len(), line);
            }
            return Err(incomplete(line, pos));
        };
        if !grammar::is_token(first) {
            match first {
                b'\n' => {
                    newlines.next();
                    break (pos + 1, line + 1);
                }
                b'\r' => match buf.get(pos + 1) {
                    Some(b'\n') => {
                        newlines.next();
                        break (pos + 2, line + 1);
                    }
                    None if !eof_ends_head => return Err(incomplete(line, pos)),
                    _ => {
                        return Err(malformed(
                            Defect::HeaderLine("CR not followed by LF"),
                            line,
                            pos,
                        ))
                    }
                },
                b' ' | b'\t' => {
                    return Err(malformed(
                        Defect::HeaderLine("continuation line without a header before it"),
                        line,
                        pos,
                    ))
                }
                _ => {}
            }
        }
        if headers.len() >= limits.max_headers {
            return Err(Error::Limit {
                bound: Bound::HeaderCount,
                line,
                offset: pos as u32,
            });
        }
        let first_line = line;
        let line_start = pos;
        // The end of the logical line, folds included.
        let mut seg = pos;
        let end = loop {
            let end = match newlines.next() {
                Some(i) => i,
                None if eof_ends_head => buf.len(),
                None => return Err(incomplete(line, seg)),
            };
            if end - seg > limits.max_line {
                return Err(too_long(line, seg));
            }
            line += 1;
            match buf.get(end + 1) {
                Some(b' ' | b'\t') => seg = end + 1,
                None if !eof_ends_head => return Err(incomplete(line, end + 1)),
                _ => break end,
            }
        };
        pos = end + 1;
        let value_end = if end > line_start && buf[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let text = &buf[line_start..value_end];
        let Some((name, colon)) = header_name(text) else {
            return Err(header_name_defect(text, first_line, line_start));
        };
        let lead = grammar::skip(text, colon + 1, grammar::cls::LWS);
        let mut trail = text.len();
        while trail > lead && grammar::is_lws(text[trail - 1]) {
            trail -= 1;
        }
        headers.push(Header {
            name: name.0,
            raw_name: name.1,
            value: &text[lead..trail],
            line: first_line,
            offset: (line_start + lead) as u32,
        });
    };
    if let Some(i) = newlines.lone_cr_before(body_start) {
        let line = memchr::memchr_iter(b'\n', &buf[..i]).count() as u32 + 1;
        return Err(malformed(
            Defect::HeaderLine("CR not followed by LF"),
            line,
            i,
        ));
    }
    Ok(Head {
        start_line,
        headers,
        body_start,
        body_line,
    })
}

/// The name of a header line (recognised, and as written) and the offset
/// of its colon; `None` unless the line starts `token *WSP ":"`.
#[inline]
fn header_name(text: &[u8]) -> Option<((HeaderName, &[u8]), usize)> {
    let colon = crate::byte_scan::find(b':', text)?;
    let mut end = colon;
    while end > 0 && matches!(text[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let raw = &text[..end];
    let name = HeaderName::from_bytes(raw);
    // A known name is spelled with token characters; only others are
    // checked byte by byte (token characters exclude the colon, so the
    // first colon is the one after the name).
    (!raw.is_empty() && (name != HeaderName::Other || grammar::is_token_str(raw)))
        .then_some(((name, raw), colon))
}

/// What is wrong with a header line that [`header_name`] refused.
#[cold]
fn header_name_defect(text: &[u8], line: u32, line_start: usize) -> Error {
    let name_len = text
        .iter()
        .position(|&b| !grammar::is_token(b))
        .unwrap_or(text.len());
    if name_len == 0 {
        return malformed(
            Defect::HeaderLine("missing or invalid header name"),
            line,
            line_start,
        );
    }
    let mut at = name_len;
    while matches!(text.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    malformed(
        Defect::HeaderLine("missing colon after the header name"),
        line,
        line_start + at,
    )
}
