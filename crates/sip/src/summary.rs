//! The lenient reading of a message the full parse refuses: the few
//! things the guard decides on (start line, User-Agent, From tag, Call-ID,
//! the SDP's `c=`/`m=`), read in one pass over the lines, without building
//! the header list or reading URIs.
//!
//! Why a second reader exists: a scanner's probe is still a scanner's,
//! and an INVITE still sets up a call, when something the guard does not
//! read (a CSeq, an SDP line) breaks the grammar. The engine reads a
//! message with [`crate::Message::parse`] and only when that refuses it
//! with [`Summary::read`]; no bytes that parsed are read twice.
//!
//! Contract: [`Summary::read`] applies the same bounds as
//! [`crate::Message::parse`] and refuses what it cannot split into lines
//! (no start line, a header line without a colon, a lone CR), but it does
//! not check header values. Where both read a message they read the same
//! start line, User-Agent, From tag, Call-ID and body.

use crate::cseq::Method;
use crate::error::{malformed, Bound, Defect, Error, Unsupported};
use crate::fingerprint::Fingerprint;
use crate::grammar;
use crate::header::HeaderName;
use crate::message::Limits;
use crate::name_addr;
use crate::sdp::Sdp;

/// The start line, as the summary reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// A request: the method and the Request-URI as written (not read).
    Request {
        /// The method.
        method: Method<'a>,
        /// The Request-URI's bytes.
        uri: &'a [u8],
    },
    /// A response.
    Response {
        /// The status code, 100 to 699.
        code: u16,
    },
}

/// What the guard reads from a message the full parse refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary<'a> {
    /// The start line.
    pub start: Start<'a>,
    /// The first User-Agent value.
    pub user_agent: Option<&'a [u8]>,
    /// The first Server value.
    pub server: Option<&'a [u8]>,
    /// The first From value (folds kept).
    pub from: Option<&'a [u8]>,
    /// The first Call-ID value.
    pub call_id: Option<&'a [u8]>,
    /// The first Content-Type value.
    pub content_type: Option<&'a [u8]>,
    /// The body, bounded by the first Content-Length (or the datagram).
    pub body: &'a [u8],
    /// Number of header lines.
    pub header_count: usize,
}

/// The start line, read without the Request-URI: not
/// `crate::start_line`'s reader, which refuses a URI it cannot read, as
/// this one must not (a probe's Request-URI is often the broken part).
fn read_start(l: &[u8]) -> Result<Start<'_>, Error> {
    if l.len() >= 8 && l[..8].eq_ignore_ascii_case(b"SIP/2.0 ") {
        let code = l.get(8..11).and_then(grammar::parse_u32);
        return match code {
            Some(c @ 100..=699) if matches!(l.get(11), None | Some(b' ')) => {
                Ok(Start::Response { code: c as u16 })
            }
            _ => Err(malformed(Defect::StatusCode, 1, 8)),
        };
    }
    let first = crate::byte_scan::find(b' ', l)
        .ok_or_else(|| malformed(Defect::StartLine("request line has no Request-URI"), 1, 0))?;
    let last = memchr::memrchr(b' ', l).unwrap_or(first);
    let version = &l[last + 1..];
    if last == first || !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(
            if version.len() > 4 && version[..4].eq_ignore_ascii_case(b"SIP/") {
                Error::Unsupported {
                    what: Unsupported::Version,
                    line: 1,
                    offset: (last + 1) as u32,
                }
            } else {
                malformed(Defect::StartLine("invalid SIP version"), 1, last + 1)
            },
        );
    }
    let method = Method::from_token(&l[..first])
        .ok_or_else(|| malformed(Defect::StartLine("invalid method"), 1, 0))?;
    Ok(Start::Request {
        method,
        uri: &l[first + 1..last],
    })
}

/// The tracked headers, each an index into the values read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    UserAgent,
    Server,
    From,
    CallId,
    ContentType,
    ContentLength,
}

impl Slot {
    /// The tracked header a name is (any case, compact forms).
    fn of(name: &[u8]) -> Option<Slot> {
        let cand = HeaderName::candidate(name);
        if !cand.is_spelled(name) {
            return None;
        }
        Some(match cand {
            HeaderName::UserAgent => Slot::UserAgent,
            HeaderName::Server => Slot::Server,
            HeaderName::From => Slot::From,
            HeaderName::CallId => Slot::CallId,
            HeaderName::ContentType => Slot::ContentType,
            HeaderName::ContentLength => Slot::ContentLength,
            _ => return None,
        })
    }
}

/// The first value of each tracked header, by [`Slot`]; `fold` replaces
/// the kept value with its extension. Returns whether the value was kept.
fn keep<'a>(values: &mut [Option<&'a [u8]>; 6], slot: Slot, value: &'a [u8], fold: bool) -> bool {
    let kept = &mut values[slot as usize];
    if kept.is_none() || fold {
        *kept = Some(value);
        true
    } else {
        false
    }
}

impl<'a> Summary<'a> {
    /// Reads the summary of a datagram (or a frame) with default bounds.
    pub fn read(buf: &'a [u8]) -> Result<Summary<'a>, Error> {
        Self::read_with(buf, &Limits::default())
    }

    /// Reads the summary of a datagram (or a frame), step by step.
    ///
    /// Its own walk over the lines, not the message's head reader: a
    /// header name needs only a colon after it here (even an empty or
    /// non-token name is passed over), so a bad line that the guard does
    /// not read cannot hide the ones it does.
    pub fn read_with(buf: &'a [u8], limits: &Limits) -> Result<Summary<'a>, Error> {
        if buf.len() > limits.max_message {
            return Err(Error::Limit {
                bound: Bound::MessageSize,
                line: 1,
                offset: limits.max_message as u32,
            });
        }
        let too_long = |line: u32, at: usize| Error::Limit {
            bound: Bound::LineLength,
            line,
            offset: at as u32,
        };
        let mut newlines = crate::byte_scan::LineEnds::<true>::new(buf);
        let start_end = newlines.next().unwrap_or(buf.len());
        if start_end > limits.max_line {
            return Err(too_long(1, 0));
        }
        let sl = &buf[..start_end];
        let start = read_start(sl.strip_suffix(b"\r").unwrap_or(sl))?;
        // Built at the end, from these, straight into the caller's slot.
        let mut values = [None; 6];
        let mut header_count = 0;
        // The tracked header being read (and whether its value was the one
        // kept), so that a fold extends the kept value.
        let mut current: Option<(Slot, usize, bool)> = None;
        let mut pos = start_end + 1;
        let mut line = 2u32;
        let body_start = loop {
            if pos >= buf.len() {
                break buf.len();
            }
            let end = newlines.next().unwrap_or(buf.len());
            if end - pos > limits.max_line {
                return Err(too_long(line, pos));
            }
            let mut text = &buf[pos..end];
            if let Some(t) = text.strip_suffix(b"\r") {
                text = t;
            }
            if text.is_empty() {
                break end + 1;
            }
            if matches!(text[0], b' ' | b'\t') {
                if let Some((slot, value_start, true)) = current {
                    let value = grammar::trim(&buf[value_start..pos + text.len()]);
                    keep(&mut values, slot, value, true);
                } else if header_count == 0 {
                    return Err(malformed(
                        Defect::HeaderLine("continuation line without a header before it"),
                        line,
                        pos,
                    ));
                }
            } else {
                header_count += 1;
                if header_count > limits.max_headers {
                    return Err(Error::Limit {
                        bound: Bound::HeaderCount,
                        line,
                        offset: pos as u32,
                    });
                }
                let colon = crate::byte_scan::find(b':', text).ok_or_else(|| {
                    malformed(
                        Defect::HeaderLine("missing colon after the header name"),
                        line,
                        pos,
                    )
                })?;
                // A name cannot start with a blank (that is a fold), so only
                // its end needs trimming.
                let mut name_len = colon;
                while name_len > 0 && matches!(text[name_len - 1], b' ' | b'\t') {
                    name_len -= 1;
                }
                current = Slot::of(&text[..name_len]).map(|slot| {
                    let value = grammar::trim(&text[colon + 1..]);
                    (slot, pos + colon + 1, keep(&mut values, slot, value, false))
                });
            }
            pos = end + 1;
            line += 1;
        };
        if let Some(i) = newlines.lone_cr_before(body_start) {
            let line = memchr::memchr_iter(b'\n', &buf[..i]).count() as u32 + 1;
            return Err(malformed(
                Defect::HeaderLine("CR not followed by LF"),
                line,
                i,
            ));
        }
        let body = buf.get(body_start..).unwrap_or_default();
        Ok(Self::build(start, values, body, header_count))
    }

    /// The summary from what the walk kept; `body` runs to the datagram's
    /// end, and the first Content-Length bounds it.
    fn build(
        start: Start<'a>,
        values: [Option<&'a [u8]>; 6],
        body: &'a [u8],
        header_count: usize,
    ) -> Summary<'a> {
        let content_length = values[Slot::ContentLength as usize].and_then(grammar::parse_u32);
        let [user_agent, server, from, call_id, content_type, _] = values;
        Summary {
            start,
            user_agent,
            server,
            from,
            call_id,
            content_type,
            body: match content_length {
                Some(n) if (n as usize) < body.len() => &body[..n as usize],
                _ => body,
            },
            header_count,
        }
    }

    /// The method, for a request.
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    /// The status code, for a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { code } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The From tag (read without the From URI).
    pub fn from_tag(&self) -> Option<&'a [u8]> {
        name_addr::params_of(self.from?).get("tag").flatten()
    }

    /// The SDP, when Content-Type is `application/sdp` and the body is SDP.
    pub fn sdp(&self) -> Option<Sdp<'a>> {
        let ct = self.content_type?;
        let sdp = ct
            .get(..15)
            .is_some_and(|t| crate::byte_scan::eq_name(t, b"application/sdp"))
            && matches!(ct.get(15), None | Some(b';' | b' ' | b'\t' | b'\r' | b'\n'));
        if sdp {
            Sdp::parse(self.body).ok()
        } else {
            None
        }
    }

    /// What the message tells about the sender's software, as
    /// [`crate::Message::fingerprint`] reads it from a message that parses.
    pub fn fingerprint(&self) -> Fingerprint<'a> {
        Fingerprint::read(
            self.method().is_some(),
            self.user_agent,
            self.server,
            || self.from_tag(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::Scanner;

    const INVITE: &[u8] = b"INVITE sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\nf: \"x\" <sip:a@b>\r\n ;tag=abc\r\nUser-Agent: friendly-scanner\r\ni: 1@h\r\nc: application/sdp\r\nl: 49\r\n\r\nv=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\ntrailing";

    #[test]
    fn reads_what_the_guard_needs() {
        let s = Summary::read(INVITE).unwrap();
        assert_eq!(s.method(), Some(Method::Invite));
        assert_eq!(
            s.start,
            Start::Request {
                method: Method::Invite,
                uri: b"sip:100@192.0.2.2"
            }
        );
        assert_eq!(s.from_tag(), Some(&b"abc"[..]));
        assert_eq!(s.call_id, Some(&b"1@h"[..]));
        assert_eq!(s.fingerprint().scanner, Some(Scanner::SipVicious));
        assert_eq!(s.header_count, 6);
        assert!(s.body.ends_with(b"RTP/AVP 0\r\n"));
        let sdp = s.sdp().unwrap();
        assert_eq!(sdp.media().next().unwrap().port, 4000);
    }

    #[test]
    fn agrees_with_the_full_parse_on_rfc_style_input() {
        let m = crate::Message::parse(INVITE).unwrap();
        let s = Summary::read(INVITE).unwrap();
        assert_eq!(m.from_tag(), s.from_tag());
        assert_eq!(m.body(), s.body);
        assert_eq!(m.user_agent(), s.user_agent);
    }

    #[test]
    fn an_empty_header_name_does_not_reach_a_lookup_that_indexes_its_first_byte() {
        // It once did, and panicked; a scanner's probe can carry one.
        assert!(Summary::read(b"OPTIONS sip:a SIP/2.0\r\n: x\r\n\r\n").is_ok());
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            Summary::read(b"SIP/2.0 4294967301 x\r\n\r\n"),
            Err(Error::Malformed {
                defect: Defect::StatusCode,
                ..
            })
        ));
        assert!(matches!(
            Summary::read(b"OPTIONS sip:a SIP/7.0\r\n\r\n"),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            Summary::read(b"OPTIONS sip:a SIP/2.0\r\nno colon\r\n\r\n"),
            Err(Error::Malformed { line: 2, .. })
        ));
        assert!(matches!(
            Summary::read(b"OPTIONS sip:a SIP/2.0\r\nA: 1\rB: 2\r\n\r\n"),
            Err(Error::Malformed { .. })
        ));
        let limits = Limits {
            max_headers: 1,
            ..Limits::default()
        };
        assert!(matches!(
            Summary::read_with(b"OPTIONS sip:a SIP/2.0\r\nA: 1\r\nB: 2\r\n\r\n", &limits),
            Err(Error::Limit {
                bound: Bound::HeaderCount,
                ..
            })
        ));
    }

    #[test]
    fn sdp_only_for_application_sdp() {
        let with = |ct: &str| {
            let m = format!("INVITE sip:a SIP/2.0\r\nContent-Type: {ct}\r\n\r\nv=0\r\n");
            Summary::read(m.as_bytes()).unwrap().sdp().is_some()
        };
        assert!(with("application/sdp"));
        assert!(with("Application/SDP;charset=x"));
        assert!(!with("application/sdpx"));
        assert!(!with("application/sd"));
        assert!(!with("text/plain"));
    }

    #[test]
    fn from_tags_read_as_the_parameter_reader_reads_them() {
        for from in [
            "<sip:a@b>;tag=abc",
            "<sip:a@b>;TAG=x;tag=y",
            "<sip:a@b>;tag= spaced",
            "<sip:a@b>;tag=\"quoted\"",
            "<sip:a@b>;tag=",
            "<sip:a@b>;x=1;tag=2",
            "\"n\" <sip:a@b>;tag=z9;lr",
        ] {
            let m = format!("OPTIONS sip:a SIP/2.0\r\nFrom: {from}\r\n\r\n");
            let s = Summary::read(m.as_bytes()).unwrap();
            let want = name_addr::params_of(s.from.unwrap()).get("tag").flatten();
            assert_eq!(s.from_tag(), want, "{from}");
        }
    }

    #[test]
    fn a_probe_the_parse_refuses_still_shows_its_fingerprint() {
        for probe in [
            &b"OPTIONS sip:[::1 SIP/2.0\r\nUser-Agent: friendly-scanner\r\n\r\n"[..],
            b"OPTIONS sip:a SIP/2.0\r\nBad Name: x\r\nUser-Agent: friendly-scanner\r\n\r\n",
            b"OPTIONS sip:a SIP/2.0\r\n: x\r\nUser-Agent: friendly-scanner\r\n\r\n",
        ] {
            assert!(crate::Message::parse(probe).is_err(), "{probe:?}");
            let s = Summary::read(probe).unwrap();
            assert_eq!(s.fingerprint().scanner, Some(Scanner::SipVicious));
        }
    }

    #[test]
    fn answers_are_not_scanners() {
        let ok = b"SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=63303030303230323133633401383331323337343339\r\nUser-Agent: friendly-scanner\r\n\r\n";
        let s = Summary::read(ok).unwrap();
        assert_eq!(s.status(), Some(200));
        assert_eq!(s.fingerprint().scanner, None);
        assert_eq!(s.fingerprint().sipvicious_tag, None);
    }
}
