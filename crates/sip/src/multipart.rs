//! Multipart bodies (RFC 2046 §5.1), read far enough to find the parts
//! and their Content-Type (an SDP offer is often next to an ISUP or a
//! resource list).

use crate::grammar::Invalid;
use crate::media_type::{self, MediaType};

/// One part of a multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's header lines, raw.
    pub headers: &'a [u8],
    /// The part's content.
    pub body: &'a [u8],
}

impl<'a> Part<'a> {
    /// The part's Content-Type, if present and well-formed.
    pub fn content_type(&self) -> Option<MediaType<'a>> {
        self.headers
            .split(|&b| b == b'\n')
            .find_map(|l| {
                let colon = memchr::memchr(b':', l)?;
                let name = crate::grammar::trim(&l[..colon]);
                (name.eq_ignore_ascii_case(b"content-type") || name.eq_ignore_ascii_case(b"c"))
                    .then(|| &l[colon + 1..])
            })
            .and_then(|v| media_type::parse(crate::grammar::trim(v)).ok())
    }
}

/// Where the next delimiter line `--boundary` starts at or after `from`
/// (at the start of the body or of a line), and whether it is the closing one.
fn next_delimiter(body: &[u8], boundary: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    while at < body.len() {
        let i = at + memchr::memmem::find(&body[at..], b"--")?;
        let line_start = i == 0 || body[i - 1] == b'\n';
        if line_start && body[i + 2..].starts_with(boundary) {
            let after = i + 2 + boundary.len();
            return Some((i, body[after..].starts_with(b"--")));
        }
        at = i + 1;
    }
    None
}

/// The parts of a multipart body, lazily.
#[derive(Debug, Clone)]
pub struct Parts<'a> {
    body: &'a [u8],
    boundary: &'a [u8],
    pos: Option<usize>,
}

/// Reads the parts of `body` delimited by `boundary`; the structure is
/// checked first (a delimiter, a closing delimiter, headers ended by an
/// empty line in every part).
pub fn parts<'a>(body: &'a [u8], boundary: &'a [u8]) -> Result<Parts<'a>, Invalid> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(Invalid::new("boundary must be 1 to 70 characters", 0));
    }
    let (first, closed) = next_delimiter(body, boundary, 0)
        .ok_or(Invalid::new("no boundary delimiter in the body", 0))?;
    let p = Parts {
        body,
        boundary,
        pos: (!closed).then_some(first),
    };
    let mut count = 0usize;
    let mut check = p.clone();
    while check.next_part()?.is_some() {
        count += 1;
    }
    if count == 0 {
        return Err(Invalid::new("multipart body without parts", first));
    }
    Ok(p)
}

impl<'a> Parts<'a> {
    fn next_part(&mut self) -> Result<Option<Part<'a>>, Invalid> {
        let Some(delim) = self.pos else {
            return Ok(None);
        };
        let body = self.body;
        let line_end = memchr::memchr(b'\n', &body[delim..])
            .map(|i| delim + i + 1)
            .ok_or(Invalid::new("delimiter line not terminated", delim))?;
        let (next, closed) = next_delimiter(body, self.boundary, line_end)
            .ok_or(Invalid::new("missing closing boundary delimiter", delim))?;
        // The CRLF before a delimiter belongs to the delimiter.
        let mut end = next;
        if end > line_end && body[end - 1] == b'\n' {
            end -= 1;
            if end > line_end && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        let content = &body[line_end..end.max(line_end)];
        let (headers, part_body) = if content.starts_with(b"\r\n") {
            (&content[..0], &content[2..])
        } else if content.starts_with(b"\n") {
            (&content[..0], &content[1..])
        } else if let Some(i) = memchr::memmem::find(content, b"\r\n\r\n") {
            (&content[..i], &content[i + 4..])
        } else if let Some(i) = memchr::memmem::find(content, b"\n\n") {
            (&content[..i], &content[i + 2..])
        } else {
            return Err(Invalid::new(
                "part headers not ended by an empty line",
                line_end,
            ));
        };
        self.pos = (!closed).then_some(next);
        Ok(Some(Part {
            headers,
            body: part_body,
        }))
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = Part<'a>;
    fn next(&mut self) -> Option<Part<'a>> {
        self.next_part().ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_parts_and_types() {
        let body = b"preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--b1--\r\n";
        let all: Vec<_> = parts(body, b"b1").unwrap().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].body, b"Hello");
        assert!(all[1].content_type().unwrap().is_sdp());
        assert_eq!(all[1].body, b"v=0\r\n");
    }

    #[test]
    fn structure_is_checked() {
        assert!(parts(b"no delimiter", b"b1").is_err());
        assert!(parts(b"--b1\r\nContent-Type: text/plain\r\n\r\nHello\r\n", b"b1").is_err());
        assert!(parts(b"--b1\r\nno empty line\r\n--b1--", b"b1").is_err());
    }
}
