//! Cutting messages out of a stream (TCP, TLS, WebSocket payloads):
//! RFC 3261 §18.3 frames by the empty line and Content-Length, which is
//! mandatory on streams; RFC 5626 §3.5.1 keep-alives are CRLF runs.

use crate::error::{Bound, Defect, Error};
use crate::grammar;
use crate::head::split_head_general;
use crate::header::HeaderName;
use crate::message::Limits;

/// What the start of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes; parse `&buf[..len]`.
    Complete(usize),
    /// A keep-alive (`CRLF` pong or `CRLFCRLF` ping) of this many bytes.
    KeepAlive(usize),
    /// Not enough bytes yet.
    Incomplete,
    /// The stream cannot be framed; the connection should be closed.
    Malformed(Error),
}

/// Frames the first message of `buf` with the default [`Limits`].
pub fn frame(buf: &[u8]) -> Frame {
    frame_with(buf, &Limits::default())
}

/// Frames the first message of `buf`.
pub fn frame_with(buf: &[u8], limits: &Limits) -> Frame {
    let ka = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if ka > 0 {
        if ka == buf.len() && buf[ka - 1] == b'\r' {
            // The LF of this CRLF has not arrived yet.
            return if ka > 1 {
                Frame::KeepAlive(ka - 1)
            } else {
                Frame::Incomplete
            };
        }
        return Frame::KeepAlive(ka);
    }
    let head = match split_head_general(buf, limits, false) {
        Ok(h) => h,
        Err(Error::Incomplete) => return Frame::Incomplete,
        Err(e) => return Frame::Malformed(e),
    };
    let mut length: Option<u32> = None;
    for h in head
        .headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentLength)
    {
        let bad = |reason| {
            Frame::Malformed(Error::Malformed {
                defect: Defect::Header {
                    header: HeaderName::ContentLength,
                    reason,
                },
                line: h.line,
                offset: h.offset,
            })
        };
        let Some(n) = grammar::parse_u32(h.value) else {
            return bad("not a number");
        };
        if length.is_some_and(|l| l != n) {
            return bad("several different values");
        }
        length = Some(n);
    }
    let Some(length) = length else {
        return Frame::Malformed(Error::Malformed {
            defect: Defect::Body("Content-Length is mandatory on a stream"),
            line: head.body_line,
            offset: head.body_start as u32,
        });
    };
    let total = head.body_start.saturating_add(length as usize);
    if total > limits.max_message {
        return Frame::Malformed(Error::Limit {
            bound: Bound::MessageSize,
            line: head.body_line,
            offset: head.body_start as u32,
        });
    }
    if buf.len() < total {
        Frame::Incomplete
    } else {
        Frame::Complete(total)
    }
}

/// Splits a buffer into frames until it runs out or a frame is
/// incomplete or malformed (that last frame is yielded too).
pub fn frames(buf: &[u8]) -> Frames<'_> {
    Frames {
        buf,
        pos: 0,
        done: false,
    }
}

/// Iterator of [`frames`]: each frame with its starting offset.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl Frames<'_> {
    /// Bytes consumed by the complete frames and keep-alives seen so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }
}

impl Iterator for Frames<'_> {
    type Item = (usize, Frame);
    fn next(&mut self) -> Option<(usize, Frame)> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let f = frame(&self.buf[at..]);
        match f {
            Frame::Complete(n) | Frame::KeepAlive(n) => self.pos += n,
            Frame::Incomplete | Frame::Malformed(_) => self.done = true,
        }
        Some((at, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhello";

    #[test]
    fn complete_incomplete_and_several() {
        assert_eq!(frame(MSG), Frame::Complete(MSG.len()));
        for cut in 0..MSG.len() {
            let f = frame(&MSG[..cut]);
            assert!(f == Frame::Incomplete || cut == 0, "cut {cut}: {f:?}");
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(b"\r\n\r\n");
        two.extend_from_slice(MSG);
        let fs: Vec<_> = frames(&two).collect();
        assert_eq!(
            fs,
            vec![
                (0, Frame::Complete(MSG.len())),
                (MSG.len(), Frame::KeepAlive(4)),
                (MSG.len() + 4, Frame::Complete(MSG.len()))
            ]
        );
    }

    #[test]
    fn keep_alives() {
        assert_eq!(frame(b"\r\n\r\n"), Frame::KeepAlive(4));
        assert_eq!(frame(b"\r\n"), Frame::KeepAlive(2));
        assert_eq!(frame(b"\r"), Frame::Incomplete);
        assert_eq!(frame(b"\r\n\r"), Frame::KeepAlive(2));
    }

    #[test]
    fn malformed_streams() {
        let no_cl = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert!(matches!(
            frame(no_cl),
            Frame::Malformed(Error::Malformed {
                defect: Defect::Body(_),
                ..
            })
        ));
        let two_cl = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\nContent-Length: 6\r\n\r\nhello!";
        assert!(matches!(
            frame(two_cl),
            Frame::Malformed(Error::Malformed { line: 3, .. })
        ));
        let neg = b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n";
        assert!(matches!(frame(neg), Frame::Malformed(_)));
        let limits = Limits {
            max_message: 64,
            ..Limits::default()
        };
        let endless = [b'a'; 100];
        assert!(matches!(
            frame_with(&endless, &limits),
            Frame::Malformed(Error::Limit { .. })
        ));
        let huge = b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999\r\n\r\n";
        assert!(matches!(
            frame_with(huge, &limits),
            Frame::Malformed(Error::Limit {
                bound: Bound::MessageSize,
                ..
            })
        ));
    }
}
