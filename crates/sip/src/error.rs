//! What can be wrong with a message, grouped by whose fault it is: the
//! sender's bytes ([`Error::Malformed`]), something valid we decline
//! ([`Error::Unsupported`]), our own bounds ([`Error::Limit`]), or not yet
//! enough bytes on a stream ([`Error::Incomplete`]). Well-formed messages
//! that a server must still refuse carry [`Flag`]s instead of an error.

use crate::header::HeaderName;

/// A [`Error::Malformed`] at a line and byte offset.
pub(crate) fn malformed(defect: Defect, line: u32, offset: usize) -> Error {
    Error::Malformed {
        defect,
        line,
        offset: offset as u32,
    }
}

/// Why a message could not be read. Every variant says what and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not follow the SIP grammar.
    #[error("malformed: {defect} (line {line}, byte {offset})")]
    Malformed {
        /// What is wrong.
        defect: Defect,
        /// 1-based line of the message.
        line: u32,
        /// Byte offset in the message.
        offset: u32,
    },
    /// Well-formed, but outside what this parser reads.
    #[error("unsupported: {what} (line {line}, byte {offset})")]
    Unsupported {
        /// What is not supported.
        what: Unsupported,
        /// 1-based line of the message.
        line: u32,
        /// Byte offset in the message.
        offset: u32,
    },
    /// A bound of [`crate::Limits`] was exceeded.
    #[error("over the {bound} limit (line {line}, byte {offset})")]
    Limit {
        /// Which bound.
        bound: Bound,
        /// 1-based line of the message.
        line: u32,
        /// Byte offset in the message.
        offset: u32,
    },
    /// The message is not complete yet (stream transports: read more).
    #[error("incomplete: the message needs more bytes")]
    Incomplete,
}

impl Error {
    /// The byte offset the error points at, if any.
    pub fn offset(&self) -> Option<u32> {
        match *self {
            Error::Malformed { offset, .. }
            | Error::Unsupported { offset, .. }
            | Error::Limit { offset, .. } => Some(offset),
            Error::Incomplete => None,
        }
    }
    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<u32> {
        match *self {
            Error::Malformed { line, .. }
            | Error::Unsupported { line, .. }
            | Error::Limit { line, .. } => Some(line),
            Error::Incomplete => None,
        }
    }
    /// A stable one-word class: `malformed`, `unsupported`, `limit`, `incomplete`.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Malformed { .. } => "malformed",
            Error::Unsupported { .. } => "unsupported",
            Error::Limit { .. } => "limit",
            Error::Incomplete => "incomplete",
        }
    }
}

/// A defect in the sender's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Defect {
    /// The request or status line.
    #[error("start line: {0}")]
    StartLine(&'static str),
    /// The Request-URI.
    #[error("Request-URI: {0}")]
    RequestUri(&'static str),
    /// The status code is not three digits from 100 to 699.
    #[error("status code must be three digits, 100 to 699")]
    StatusCode,
    /// A header line (not its value): name, colon, folding, line ending.
    #[error("header line: {0}")]
    HeaderLine(&'static str),
    /// The value of a header that sipwall reads.
    #[error("{header} header: {reason}")]
    Header {
        /// Which header.
        header: HeaderName,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// The message body (framing, multipart structure).
    #[error("body: {0}")]
    Body(&'static str),
    /// The SDP body.
    #[error("SDP: {0}")]
    Sdp(&'static str),
}

/// Something well-formed that this parser declines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// A protocol version other than SIP/2.0 (a server answers 505).
    #[error("SIP version other than SIP/2.0")]
    Version,
}

/// The bounds of [`crate::Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Bound {
    /// Total message size.
    #[error("message size")]
    MessageSize,
    /// Number of header lines.
    #[error("header count")]
    HeaderCount,
    /// Length of one line.
    #[error("line length")]
    LineLength,
}

/// A well-formed message that a server must nevertheless refuse (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flag {
    /// A header RFC 3261 §8.1.1 requires is missing (Via, From, To,
    /// Call-ID, CSeq). Max-Forwards is not required: RFC 2543 peers omit it.
    MissingMandatory(HeaderName),
    /// A single-valued header (From, To, Call-ID, CSeq, Max-Forwards,
    /// Content-Type, Expires) appears more than once.
    MultipleValues(HeaderName),
    /// Content-Length appears more than once: the body cannot be delimited.
    MultipleContentLength,
    /// Content-Length says more bytes than the datagram holds.
    ContentLengthMismatch,
    /// The CSeq method differs from the request method.
    CSeqMethodMismatch,
}

impl Flag {
    /// A stable kebab-case name (used by `sipwall sip parse --format json`).
    pub fn code(&self) -> &'static str {
        match self {
            Flag::MissingMandatory(_) => "missing-mandatory",
            Flag::MultipleValues(_) => "multiple-values",
            Flag::MultipleContentLength => "multiple-content-length",
            Flag::ContentLengthMismatch => "content-length-mismatch",
            Flag::CSeqMethodMismatch => "cseq-method-mismatch",
        }
    }
    /// The header the flag is about, if it is about one.
    pub fn header(&self) -> Option<HeaderName> {
        match *self {
            Flag::MissingMandatory(h) | Flag::MultipleValues(h) => Some(h),
            Flag::MultipleContentLength | Flag::ContentLengthMismatch => {
                Some(HeaderName::ContentLength)
            }
            Flag::CSeqMethodMismatch => Some(HeaderName::CSeq),
        }
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flag::MissingMandatory(h) => write!(f, "missing mandatory header {h}"),
            Flag::MultipleValues(h) => write!(f, "{h} appears more than once"),
            Flag::MultipleContentLength => f.write_str("Content-Length appears more than once"),
            Flag::ContentLengthMismatch => {
                f.write_str("Content-Length is larger than the body received")
            }
            Flag::CSeqMethodMismatch => f.write_str("CSeq method differs from the request method"),
        }
    }
}

/// A set of [`Flag`]s, stored in one integer (no allocation): one bit per
/// header for each of the two header flags, then one per other flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u128);

const HEADERS: u32 = HeaderName::ALL.len() as u32;

impl Flags {
    fn bit(flag: Flag) -> u128 {
        let h = |h: HeaderName| h as u32;
        1u128
            << match flag {
                Flag::MissingMandatory(n) => h(n),
                Flag::MultipleValues(n) => HEADERS + h(n),
                Flag::MultipleContentLength => 2 * HEADERS,
                Flag::ContentLengthMismatch => 2 * HEADERS + 1,
                Flag::CSeqMethodMismatch => 2 * HEADERS + 2,
            }
    }
    /// Adds a flag.
    pub fn insert(&mut self, flag: Flag) {
        self.0 |= Self::bit(flag);
    }
    /// True if the flag is set.
    pub fn contains(&self, flag: Flag) -> bool {
        self.0 & Self::bit(flag) != 0
    }
    /// True when no flag is set: nothing obliges a server to refuse.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// The flags, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = Flag> + '_ {
        let bits = self.0;
        (0..2 * HEADERS + 3)
            .filter(move |&b| bits & (1u128 << b) != 0)
            .map(|b| match b {
                b if b < HEADERS => Flag::MissingMandatory(HeaderName::ALL[b as usize]),
                b if b < 2 * HEADERS => {
                    Flag::MultipleValues(HeaderName::ALL[(b - HEADERS) as usize])
                }
                b if b == 2 * HEADERS => Flag::MultipleContentLength,
                b if b == 2 * HEADERS + 1 => Flag::ContentLengthMismatch,
                _ => Flag::CSeqMethodMismatch,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        let mut f = Flags::default();
        assert!(f.is_empty());
        f.insert(Flag::MissingMandatory(HeaderName::CallId));
        f.insert(Flag::MultipleValues(HeaderName::CSeq));
        f.insert(Flag::CSeqMethodMismatch);
        assert!(f.contains(Flag::MissingMandatory(HeaderName::CallId)));
        assert!(!f.contains(Flag::MissingMandatory(HeaderName::To)));
        f.insert(Flag::MultipleValues(HeaderName::Other));
        assert!(!f.contains(Flag::MultipleValues(HeaderName::Via)));
        let all: Vec<_> = f.iter().collect();
        assert_eq!(
            all,
            vec![
                Flag::MissingMandatory(HeaderName::CallId),
                Flag::MultipleValues(HeaderName::CSeq),
                Flag::MultipleValues(HeaderName::Other),
                Flag::CSeqMethodMismatch
            ]
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = Error::Malformed {
            defect: Defect::Header {
                header: HeaderName::Via,
                reason: "empty parameter",
            },
            line: 7,
            offset: 120,
        };
        assert_eq!(
            e.to_string(),
            "malformed: Via header: empty parameter (line 7, byte 120)"
        );
        assert_eq!(
            (e.line(), e.offset(), e.class()),
            (Some(7), Some(120), "malformed")
        );
    }
}
