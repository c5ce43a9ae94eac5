//! SIP and SDP wire format for sipwall: borrowed, zero-copy views over
//! bytes from the network, typed values for what a firewall reads, and
//! bounded, panic-free parsing.
//!
//! # How the pieces fit
//!
//! ```text
//! stream bytes ──framing::frame──► Complete(len) ─┐
//! datagram ───────────────────────────────────────┴─► Message::parse ─► Message
//!   Message: start line (Method + Uri | status) · headers in order · body · flags
//!     typed accessors ─► Via · NameAddr (From/To/Contact/Route) · CSeq · Auth
//!                        MediaType · Uri/Host · Sdp ─► Media / Connection
//!     fingerprint()   ─► Fingerprint (scanner User-Agent, SIPVicious From tag)
//!   refused ─► Summary::read ─► Summary (lenient: start line · User-Agent ·
//!              From tag · Call-ID · body) ─► fingerprint()
//! ```
//!
//! Everyone reads a message with [`Message::parse`]: the guard, `replay`,
//! `audit` and `sipwall sip parse`. Only for a message it refuses does the
//! guard read the lenient [`Summary`], so that a scanner's malformed probe
//! is still told for a scanner's and an INVITE with an SDP the parser
//! refuses still sets up its call.
//!
//! The parse reads in two ways: each reader (the head, the start line,
//! From/To/Contact, Via, host:port, CSeq, Call-ID, credentials, SDP `c=`
//! and `m=`) first tries the shape nearly every message has, in one pass
//! with few checks, and hands any other shape to its general reader,
//! which also names every defect. One naming rule and one shape for all
//! of them: a reader `X` is `X_usual` (the usual shape; `None` for any
//! other), `X_general` (any input, step by step; the defect named) and
//! `X` itself, `X_usual(v).map_or_else(|| X_general(v), Ok)`. The head is
//! the one variation, as the values are checked while `split_head_usual`
//! walks it ([`Message::parse_with`] falls back to the general split and
//! then checks); for a list header (Via, Contact) the usual reader reads
//! a value of one element and the general reader is the list's. Where a
//! usual reader accepts bytes, its general reader reads them to the same
//! value; `testing::usual_paths_agree` holds every pair to it for the
//! tests and fuzzers.
//!
//! ```
//! use sipwall_sip::{Message, Method};
//! let bytes = b"OPTIONS sip:100@192.0.2.2 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1;rport\r\n\
//!     From: \"sipvicious\"<sip:100@1.1.1.1>;tag=63303030303230323133633401383331323337343339\r\n\
//!     To: <sip:100@192.0.2.2>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";
//! let msg = Message::parse(bytes)?;
//! assert_eq!(msg.method(), Some(Method::Options));
//! assert_eq!(msg.top_via().unwrap().port(), Some(5060));
//! assert!(msg.flags().is_empty());
//! assert!(msg.fingerprint().sipvicious_tag.is_some());
//! # Ok::<(), sipwall_sip::Error>(())
//! ```
//!
//! # Trust contract
//!
//! Input is any byte string from any sender. Parsing never panics, never
//! allocates more than one vector of header spans (bounded by
//! [`Limits::max_headers`]), and refuses messages over [`Limits`]
//! (64 KiB, 128 headers, 8 KiB lines by default). The result is one of:
//!
//! - [`Error::Malformed`]: the bytes break the grammar; the [`Defect`]
//!   says what, with the line and byte offset;
//! - [`Error::Unsupported`]: well-formed but declined (a version other
//!   than SIP/2.0);
//! - [`Error::Limit`]: over a bound;
//! - a [`Message`] whose [`Message::flags`] list what makes a server
//!   refuse it although it parses (missing mandatory headers, repeated
//!   single-value headers, several Content-Length values, ...).
//!
//! [`Error::Incomplete`] and [`framing::Frame::Incomplete`] only arise on
//! streams. Values stay slices of the input: strings are `&[u8]` unless
//! the grammar makes them ASCII, and nothing is unescaped or normalised.
//! After [`Message::parse`], typed accessors return `None` only for
//! absent headers; [`Summary::read`] checks lines but not values and
//! reads only what the guard needs (bounded the same way, never panics).

pub mod auth;
mod byte_scan;
pub mod cseq;
pub mod error;
pub mod fingerprint;
pub mod framing;
mod grammar;
mod head;
pub mod header;
pub mod host;
pub mod media_type;
pub mod message;
pub mod multipart;
pub mod name_addr;
pub mod sdp;
mod start_line;
pub mod summary;
#[doc(hidden)]
pub mod testing;
pub mod uri;
pub mod via;

pub use auth::Auth;
pub use cseq::{CSeq, Method};
pub use error::{Bound, Defect, Error, Flag, Flags, Unsupported};
pub use fingerprint::{Fingerprint, Scanner, SipviciousTag};
pub use framing::{frame, Frame};
pub use grammar::{Invalid, ParamIter, Params};
pub use header::{Header, HeaderName};
pub use host::Host;
pub use media_type::MediaType;
pub use message::{Limits, Message};
pub use name_addr::NameAddr;
pub use sdp::{Connection, ConnectionAddress, Direction, Media, Rtcp, Sdp, SdpError};
pub use start_line::{RequestLine, StartLine, StatusLine};
pub use summary::{Start, Summary};
pub use uri::{Scheme, Uri, UriError};
pub use via::{Transport, Via};
