//! A SIP message as a borrowed view: start line, headers in order (repeats
//! kept, folds kept inside values), and the body bounded by Content-Length.
//!
//! Validation contract: [`Message::parse`] checks the start line, every
//! header line, and the value of every header that has a typed accessor
//! (and the SDP body), so that afterwards a typed accessor returns `None`
//! only when the header is absent. No accessor panics.

use crate::auth::{self, Auth};
use crate::cseq::{self, CSeq, Method};
use crate::error::{malformed, Bound, Defect, Error, Flag, Flags};
use crate::grammar::{self, Invalid};
use crate::head::{split_head_general, split_head_usual};
use crate::header::{Header, HeaderName};
use crate::media_type::{self, MediaType};
use crate::name_addr::{self, NameAddr, NameAddrList};
use crate::sdp::Sdp;
use crate::start_line::{parse_start_line, StartLine};
use crate::uri::Uri;
use crate::via::{self, Via, ViaList};

/// Bounds applied while reading; a message over any of them is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (head and body), in bytes.
    pub max_message: usize,
    /// Most header lines (a folded header counts once).
    pub max_headers: usize,
    /// Longest physical line, in bytes.
    pub max_line: usize,
}

impl Default for Limits {
    /// 64 KiB (a UDP datagram's worth), 128 headers, 8 KiB lines.
    fn default() -> Self {
        Limits {
            max_message: 65_535,
            max_headers: 128,
            max_line: 8_192,
        }
    }
}

/// Typed values that [`Message::parse`] reads while checking, kept so that
/// the accessors do not read them a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Typed<'a> {
    from: Option<NameAddr<'a>>,
    to: Option<NameAddr<'a>>,
    cseq: Option<CSeq<'a>>,
    top_via: Option<Via<'a>>,
    /// The top Via is the message's only Via value.
    only_via: bool,
    /// The Contact address when the message has exactly one (the common
    /// case: a list is read again by the accessor).
    only_contact: Option<NameAddr<'a>>,
    /// The first Authorization value.
    authorization: Option<Auth<'a>>,
    content_type: Option<MediaType<'a>>,
    sdp: Option<Sdp<'a>>,
    /// The first Call-ID, User-Agent and Server values.
    call_id: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    server: Option<&'a [u8]>,
}

/// A parsed SIP message borrowing the bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    bytes: &'a [u8],
    start: StartLine<'a>,
    headers: Vec<Header<'a>>,
    body: &'a [u8],
    body_offset: usize,
    trailing: &'a [u8],
    /// The first Content-Length value, if a number.
    content_length: Option<u32>,
    flags: Flags,
    typed: Typed<'a>,
}

/// Checks an RFC 1123 date in GMT, as RFC 3261 §20.17 requires.
fn check_date(v: &[u8]) -> Result<(), Invalid> {
    const DAYS: [&[u8]; 7] = [
        b"Mon,", b"Tue,", b"Wed,", b"Thu,", b"Fri,", b"Sat,", b"Sun,",
    ];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let digits = |p: &[u8], n: usize| p.len() == n && p.iter().all(u8::is_ascii_digit);
    let mut parts = v.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let mut next = || parts.next().unwrap_or_default();
    let (day, dd, month, year, time, zone) = (next(), next(), next(), next(), next(), next());
    let ok = DAYS.contains(&day)
        && digits(dd, 2)
        && MONTHS.contains(&month)
        && digits(year, 4)
        && time.len() == 8
        && time.iter().enumerate().all(|(i, &b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        })
        && next().is_empty();
    if !ok {
        return Err(Invalid::new("not an RFC 1123 date", 0));
    }
    if zone != b"GMT" {
        return Err(Invalid::new("time zone must be GMT", 0));
    }
    Ok(())
}

/// Checks a Call-ID: `word ["@" word]`.
#[inline]
pub(crate) fn check_call_id(v: &[u8]) -> Result<(), Invalid> {
    check_call_id_usual(v).map_or_else(|| check_call_id_general(v), Ok)
}

/// [`check_call_id`] with each word read in one run; `None` when the
/// value is not `word` or `word@word`.
#[inline]
pub(crate) fn check_call_id_usual(v: &[u8]) -> Option<()> {
    use grammar::cls::WORD;
    let a = grammar::skip(v, 0, WORD);
    let end = match v.get(a) {
        Some(b'@') if a > 0 => grammar::skip(v, a + 1, WORD),
        _ => a,
    };
    (end == v.len() && end > 0 && v[end - 1] != b'@').then_some(())
}

/// [`check_call_id`] for any value, step by step, naming the defect.
#[cold]
pub(crate) fn check_call_id_general(v: &[u8]) -> Result<(), Invalid> {
    let is_word = |b: u8| {
        grammar::is_token(b)
            || matches!(
                b,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
    };
    let mut parts = v.split(|&b| b == b'@');
    let a = parts.next().unwrap_or_default();
    let b = parts.next();
    if parts.next().is_some() {
        return Err(Invalid::new("more than one @", 0));
    }
    if a.is_empty() || b.is_some_and(|b| b.is_empty()) {
        return Err(Invalid::new("empty word", 0));
    }
    if let Some(i) = v.iter().position(|&b| b != b'@' && !is_word(b)) {
        return Err(Invalid::new("invalid character", i));
    }
    Ok(())
}

fn check_digits(v: &[u8], max: u32, reason: &'static str) -> Result<u32, Invalid> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(Invalid::new("not a number", 0));
    }
    grammar::parse_u32(v)
        .filter(|&n| n <= max)
        .ok_or(Invalid::new(reason, 0))
}

/// Bounds checked before anything is read.
#[inline(always)]
fn check_size(buf: &[u8], limits: &Limits) -> Result<(), Error> {
    if buf.len() > limits.max_message {
        return Err(Error::Limit {
            bound: Bound::MessageSize,
            line: 1,
            offset: limits.max_message as u32,
        });
    }
    if buf.is_empty() {
        return Err(malformed(Defect::StartLine("empty message"), 1, 0));
    }
    Ok(())
}

/// The Content-Length values of a head: how many, and the first.
#[derive(Debug, Clone, Copy, Default)]
struct Length {
    count: u32,
    /// The first value, if it is a number.
    first: Option<u32>,
}

impl Length {
    /// Counts the next header if it is a Content-Length.
    #[inline(always)]
    fn see(&mut self, h: &Header<'_>) {
        if h.name == HeaderName::ContentLength {
            self.count += 1;
            if self.count == 1 {
                self.first = grammar::parse_u32(h.value);
            }
        }
    }
}

/// Checks header values one header at a time, in order, and keeps what
/// the accessors read; the first defect stops the checking. [`Checker::see`]
/// is the one place a header's value is read: a typed header is one row
/// of `header_names!` (its name, compact form, and whether it is
/// mandatory or single) and one arm there.
#[derive(Default)]
struct Checker<'a> {
    typed: Typed<'a>,
    /// Occurrences of each header name (by discriminant).
    counts: [u8; HeaderName::ALL.len()],
    vias: usize,
    contacts: usize,
    length: Length,
    error: Option<Error>,
}

impl<'a> Checker<'a> {
    /// Checks the next header's value (unless a defect was found before).
    #[inline(always)]
    fn see(&mut self, h: &Header<'a>) {
        self.length.see(h);
        if self.error.is_some() {
            return;
        }
        let v = h.value;
        let read = match h.name {
            HeaderName::From if self.typed.from.is_none() => {
                name_addr::parse_single(v).map(|n| self.typed.from = Some(n))
            }
            HeaderName::To if self.typed.to.is_none() => {
                name_addr::parse_single(v).map(|n| self.typed.to = Some(n))
            }
            HeaderName::CSeq if self.typed.cseq.is_none() => {
                cseq::parse(v).map(|c| self.typed.cseq = Some(c))
            }
            HeaderName::ContentType if self.typed.content_type.is_none() => {
                media_type::parse(v).map(|c| self.typed.content_type = Some(c))
            }
            HeaderName::Via => {
                if let Some(top) = via::parse_single_usual(v) {
                    self.vias += 1;
                    self.typed.top_via.get_or_insert(top);
                    Ok(())
                } else {
                    let mut list = ViaList::new(v);
                    match list.next() {
                        Some(Ok(top)) => {
                            list.try_for_each(|r| r.map(|_| self.vias += 1)).map(|()| {
                                self.vias += 1;
                                self.typed.top_via.get_or_insert(top);
                            })
                        }
                        Some(Err(e)) => Err(e),
                        None => Err(Invalid::new("empty value", 0)),
                    }
                }
            }
            HeaderName::Contact if v != b"*" => {
                if let Some(c) = name_addr::parse_single_usual(v) {
                    self.contacts += 1;
                    self.typed.only_contact = Some(c);
                    Ok(())
                } else if grammar::trim(v).is_empty() {
                    Err(Invalid::new("empty value", 0))
                } else {
                    NameAddrList::new(v).try_for_each(|r| {
                        r.map(|c| {
                            self.contacts += 1;
                            self.typed.only_contact = Some(c);
                        })
                    })
                }
            }
            HeaderName::Authorization if self.typed.authorization.is_none() => {
                auth::parse(v).map(|a| self.typed.authorization = Some(a))
            }
            HeaderName::CallId => {
                self.typed.call_id.get_or_insert(v);
                check_call_id(v)
            }
            HeaderName::UserAgent => {
                self.typed.user_agent.get_or_insert(v);
                Ok(())
            }
            HeaderName::Server => {
                self.typed.server.get_or_insert(v);
                Ok(())
            }
            // Repeats of the headers kept above, and the headers that are
            // checked but not kept.
            HeaderName::From | HeaderName::To => name_addr::parse_single(v).map(|_| ()),
            HeaderName::Route | HeaderName::RecordRoute => name_addr::check_list(v),
            HeaderName::CSeq => cseq::parse(v).map(|_| ()),
            HeaderName::MaxForwards => check_digits(v, 255, "exceeds 255").map(|_| ()),
            HeaderName::ContentLength => check_digits(v, u32::MAX, "exceeds 2^32-1").map(|_| ()),
            HeaderName::Expires => grammar::parse_u32_saturating(v)
                .map(|_| ())
                .ok_or(Invalid::new("not a number", 0)),
            HeaderName::ContentType => media_type::parse(v).map(|_| ()),
            HeaderName::Authorization
            | HeaderName::ProxyAuthorization
            | HeaderName::WwwAuthenticate
            | HeaderName::ProxyAuthenticate => auth::parse(v).map(|_| ()),
            HeaderName::Date => check_date(v),
            _ => Ok(()),
        };
        if let Err(e) = read {
            self.error = Some(malformed(
                Defect::Header {
                    header: h.name,
                    reason: e.reason,
                },
                h.line,
                h.offset as usize + e.at,
            ));
            return;
        }
        let count = &mut self.counts[h.name as usize];
        *count = count.saturating_add(1);
    }
}

impl<'a> Message<'a> {
    /// Reads one message from a datagram (or a frame cut by
    /// [`crate::framing::frame`]) and checks every header it has an
    /// accessor for, and the SDP body. Bytes after the body that
    /// Content-Length delimits are kept in [`Message::trailing`].
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, Error> {
        Self::parse_with(buf, &Limits::default())
    }

    /// [`Message::parse`] with explicit bounds.
    pub fn parse_with(buf: &'a [u8], limits: &Limits) -> Result<Message<'a>, Error> {
        check_size(buf, limits)?;
        // A head of the usual shape is split and checked in one walk;
        // any other is split first and checked after, as the order of
        // its possible defects requires.
        let mut checker = Checker::default();
        let Some(head) = split_head_usual(buf, limits, |h| checker.see(h)) else {
            return Self::parse_general(buf, limits);
        };
        let start = parse_start_line(head.start_line)?;
        let mut m = Self::frame(buf, start, head.headers, head.body_start, checker.length);
        m.finish(buf, checker)?;
        Ok(m)
    }

    /// [`Message::parse_with`] by the general path only: the head split
    /// step by step, then its values checked.
    pub(crate) fn parse_general(buf: &'a [u8], limits: &Limits) -> Result<Message<'a>, Error> {
        check_size(buf, limits)?;
        let head = split_head_general(buf, limits, true)?;
        let start = parse_start_line(head.start_line)?;
        let mut checker = Checker::default();
        for h in &head.headers {
            checker.see(h);
        }
        let mut m = Self::frame(buf, start, head.headers, head.body_start, checker.length);
        m.finish(buf, checker)?;
        Ok(m)
    }

    /// The message around its head: the body as Content-Length delimits
    /// it, and what follows.
    #[inline(always)]
    fn frame(
        buf: &'a [u8],
        start: StartLine<'a>,
        headers: Vec<Header<'a>>,
        body_start: usize,
        length: Length,
    ) -> Message<'a> {
        let mut flags = Flags::default();
        let avail = buf.len() - body_start;
        let (body_len, trailing_start) = match length.first {
            Some(cl) if length.count == 1 => {
                let cl = cl as usize;
                if cl > avail {
                    flags.insert(Flag::ContentLengthMismatch);
                    (avail, buf.len())
                } else {
                    (cl, body_start + cl)
                }
            }
            // Several Content-Length values: no way to know; keep all.
            _ => (avail, buf.len()),
        };
        if length.count > 1 {
            flags.insert(Flag::MultipleContentLength);
        }
        Message {
            bytes: &buf[..trailing_start],
            start,
            headers,
            body: &buf[body_start..body_start + body_len],
            body_offset: body_start,
            trailing: &buf[trailing_start..],
            content_length: length.first,
            flags,
            typed: Typed::default(),
        }
    }

    fn line_of(buf: &[u8], offset: usize) -> u32 {
        memchr::memchr_iter(b'\n', &buf[..offset.min(buf.len())]).count() as u32 + 1
    }

    /// Takes what checking the header values found (its first defect,
    /// or the typed values and the flags), then checks the body.
    #[inline(always)]
    fn finish(&mut self, buf: &'a [u8], checker: Checker<'a>) -> Result<(), Error> {
        if let Some(e) = checker.error {
            return Err(e);
        }
        for n in HeaderName::ALL {
            let count = checker.counts[n as usize];
            if n.is_mandatory() && count == 0 {
                self.flags.insert(Flag::MissingMandatory(n));
            }
            if n.is_single() && count > 1 {
                self.flags.insert(Flag::MultipleValues(n));
            }
        }
        self.typed = checker.typed;
        let typed = &mut self.typed;
        if let (StartLine::Request(r), Some(c)) = (&self.start, typed.cseq) {
            if c.method != r.method {
                self.flags.insert(Flag::CSeqMethodMismatch);
            }
        }
        typed.only_via = checker.vias == 1;
        if checker.contacts != 1 {
            typed.only_contact = None;
        }
        self.typed.sdp = self.check_body(buf, self.typed.content_type)?;
        Ok(())
    }

    /// Checks the body that Content-Type describes; returns its SDP, if any.
    fn check_body(
        &self,
        buf: &'a [u8],
        content_type: Option<MediaType<'a>>,
    ) -> Result<Option<Sdp<'a>>, Error> {
        let Some(ct) = content_type else {
            return Ok(None);
        };
        let base = self.body_offset;
        let sdp_err = |e: crate::sdp::SdpError, at: usize| {
            malformed(
                Defect::Sdp(e.reason),
                Self::line_of(buf, at + e.offset),
                at + e.offset,
            )
        };
        let mut sdp = None;
        if ct.is_sdp() {
            sdp = Some(Sdp::parse(self.body).map_err(|e| sdp_err(e, base))?);
        } else if ct.is_multipart() {
            let boundary = ct.boundary().ok_or_else(|| {
                malformed(
                    Defect::Body("multipart without a boundary"),
                    Self::line_of(buf, base),
                    base,
                )
            })?;
            let parts = crate::multipart::parts(self.body, boundary).map_err(|e| {
                malformed(
                    Defect::Body(e.reason),
                    Self::line_of(buf, base + e.at),
                    base + e.at,
                )
            })?;
            for p in parts {
                if p.content_type().is_some_and(|t| t.is_sdp()) {
                    let at = p.body.as_ptr() as usize - buf.as_ptr() as usize;
                    let part = Sdp::parse(p.body).map_err(|e| sdp_err(e, at))?;
                    sdp = sdp.or(Some(part));
                }
            }
        }
        Ok(sdp)
    }

    /// The message's bytes (head and body, without [`Message::trailing`]).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// The start line.
    pub fn start_line(&self) -> &StartLine<'a> {
        &self.start
    }
    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }
    /// The request method.
    pub fn method(&self) -> Option<Method<'a>> {
        match &self.start {
            StartLine::Request(r) => Some(r.method),
            StartLine::Response(_) => None,
        }
    }
    /// The Request-URI.
    pub fn request_uri(&self) -> Option<&Uri<'a>> {
        match &self.start {
            StartLine::Request(r) => Some(&r.uri),
            StartLine::Response(_) => None,
        }
    }
    /// The response status code.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response(s) => Some(s.code),
            StartLine::Request(_) => None,
        }
    }
    /// All headers in order, repeats kept.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }
    /// Values of the headers with this name, in order.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value)
    }
    /// The first value of a header.
    pub fn value(&self, name: HeaderName) -> Option<&'a [u8]> {
        self.values(name).next()
    }
    /// The first value of a header by its written name (case-insensitive;
    /// for headers without a [`HeaderName`]).
    pub fn value_by_name(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.raw_name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value)
    }
    /// The body as delimited by Content-Length (or the datagram's end).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
    /// Bytes of the datagram after the body (RFC 3261 §18.3: ignored).
    pub fn trailing(&self) -> &'a [u8] {
        self.trailing
    }
    /// What obliges a server to refuse this well-formed message.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// Call-ID.
    pub fn call_id(&self) -> Option<&'a [u8]> {
        self.typed.call_id
    }
    /// CSeq.
    pub fn cseq(&self) -> Option<CSeq<'a>> {
        self.typed.cseq
    }
    /// From.
    pub fn from(&self) -> Option<NameAddr<'a>> {
        self.typed.from
    }
    /// To.
    pub fn to(&self) -> Option<NameAddr<'a>> {
        self.typed.to
    }
    /// The From tag.
    pub fn from_tag(&self) -> Option<&'a [u8]> {
        self.typed.from.and_then(|f| f.tag())
    }
    /// Every Via value in order, across headers (top first).
    pub fn vias(&self) -> impl Iterator<Item = Via<'a>> + '_ {
        // A lone Via was kept by the check; a list is read again.
        let kept = self.typed.top_via.filter(|_| self.typed.only_via);
        let reread = if kept.is_some() { 0 } else { usize::MAX };
        kept.into_iter().chain(
            self.values(HeaderName::Via)
                .take(reread)
                .flat_map(|v| ViaList::new(v).map_while(Result::ok)),
        )
    }
    /// The topmost Via.
    pub fn top_via(&self) -> Option<Via<'a>> {
        self.typed.top_via
    }
    fn addresses(&self, name: HeaderName) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        self.values(name)
            .filter(|v| *v != b"*")
            .flat_map(|v| NameAddrList::new(v).map_while(Result::ok))
    }
    /// Contact addresses in order (a `Contact: *` yields none; see
    /// [`Message::is_contact_star`]).
    pub fn contacts(&self) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        // A lone Contact was kept by the check; a list is read again.
        let kept = self.typed.only_contact;
        let reread = if kept.is_some() { 0 } else { usize::MAX };
        kept.into_iter()
            .chain(self.addresses(HeaderName::Contact).take(reread))
    }
    /// True for `Contact: *` (REGISTER removing all bindings).
    pub fn is_contact_star(&self) -> bool {
        self.values(HeaderName::Contact).any(|v| v == b"*")
    }
    /// Route addresses in order.
    pub fn routes(&self) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        self.addresses(HeaderName::Route)
    }
    /// Record-Route addresses in order.
    pub fn record_routes(&self) -> impl Iterator<Item = NameAddr<'a>> + '_ {
        self.addresses(HeaderName::RecordRoute)
    }
    /// Expires, in seconds (saturating at 2^32-1).
    pub fn expires(&self) -> Option<u32> {
        self.value(HeaderName::Expires)
            .and_then(grammar::parse_u32_saturating)
    }
    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<u8> {
        self.value(HeaderName::MaxForwards)
            .and_then(grammar::parse_u32)
            .and_then(|n| u8::try_from(n).ok())
    }
    /// User-Agent, as written.
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.typed.user_agent
    }
    /// Server, as written.
    pub fn server(&self) -> Option<&'a [u8]> {
        self.typed.server
    }
    fn auth(&self, name: HeaderName) -> Option<Auth<'a>> {
        self.value(name).and_then(|v| auth::parse(v).ok())
    }
    /// Authorization (the first one).
    pub fn authorization(&self) -> Option<Auth<'a>> {
        self.typed.authorization
    }
    /// Proxy-Authorization (the first one).
    pub fn proxy_authorization(&self) -> Option<Auth<'a>> {
        self.auth(HeaderName::ProxyAuthorization)
    }
    /// WWW-Authenticate (the first one).
    pub fn www_authenticate(&self) -> Option<Auth<'a>> {
        self.auth(HeaderName::WwwAuthenticate)
    }
    /// Proxy-Authenticate (the first one).
    pub fn proxy_authenticate(&self) -> Option<Auth<'a>> {
        self.auth(HeaderName::ProxyAuthenticate)
    }
    /// Content-Type.
    pub fn content_type(&self) -> Option<MediaType<'a>> {
        self.typed.content_type
    }
    /// Content-Length (the first one).
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }
    /// The SDP: the body if it is `application/sdp`, else the first
    /// `application/sdp` part of a multipart body.
    pub fn sdp(&self) -> Option<Sdp<'a>> {
        self.typed.sdp
    }
    /// What this message tells about the sender's software.
    pub fn fingerprint(&self) -> crate::fingerprint::Fingerprint<'a> {
        crate::fingerprint::Fingerprint::of(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Unsupported;

    const REG: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:100@example.com>;tag=abc\r\nTo: <sip:100@example.com>\r\nCall-ID: x@y\r\nCSeq: 2 REGISTER\r\nContact: <sip:100@[2001:db8::5]:5062>;expires=3600\r\nAuthorization: Digest username=\"100\", realm=\"example.com\", nonce=\"n\", uri=\"sip:example.com\", response=\"r\"\r\nUser-Agent: Ph/1\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn register_accessors() {
        let m = Message::parse(REG).unwrap();
        assert_eq!(m.method(), Some(Method::Register));
        assert!(m.flags().is_empty());
        assert_eq!(m.cseq().unwrap().number, 2);
        assert_eq!(m.from_tag(), Some(&b"abc"[..]));
        assert_eq!(m.contacts().next().unwrap().expires(), Some(3600));
        let a = m.authorization().unwrap();
        assert_eq!(
            (a.username(), a.realm()),
            (Some(&b"100"[..]), Some(&b"example.com"[..]))
        );
        assert_eq!(m.user_agent(), Some(&b"Ph/1"[..]));
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.top_via().unwrap().rport(), Some(None));
        assert_eq!(m.content_length(), Some(0));
        assert_eq!(m.body(), b"");
    }

    #[test]
    fn start_line_defects() {
        let e = |s: &[u8]| Message::parse(s).unwrap_err();
        assert!(matches!(
            e(b"INVITE sip:a@b SIP/3.0\r\n\r\n"),
            Error::Unsupported {
                what: Unsupported::Version,
                line: 1,
                offset: 15
            }
        ));
        assert!(matches!(
            e(b"SIP/2.0 99 Low\r\n\r\n"),
            Error::Malformed {
                defect: Defect::StatusCode,
                ..
            }
        ));
        assert!(matches!(
            e(b"INVITE sip:a@b?x=y SIP/2.0\r\n\r\n"),
            Error::Malformed {
                defect: Defect::RequestUri(_),
                ..
            }
        ));
        assert!(matches!(
            e(b"INV\rITE sip:a@b SIP/2.0\r\n\r\n"),
            Error::Malformed {
                defect: Defect::HeaderLine("CR not followed by LF"),
                offset: 3,
                ..
            }
        ));
    }

    #[test]
    fn header_line_defects_name_line_and_offset() {
        let e =
            Message::parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nBroken line\r\n\r\n")
                .unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert!(matches!(
            e,
            Error::Malformed {
                defect: Defect::HeaderLine(_),
                offset: 52,
                ..
            }
        ));
        let e = Message::parse(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n").unwrap_err();
        assert!(matches!(
            e,
            Error::Malformed {
                defect: Defect::HeaderLine(_),
                line: 2,
                ..
            }
        ));
    }

    #[test]
    fn a_lone_cr_inside_a_header_is_refused_where_it_is() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: a\rVia: SIP/2.0/UDP evil\r\n\r\n";
        match Message::parse(m) {
            Err(Error::Malformed {
                defect: Defect::HeaderLine(r),
                line,
                offset,
            }) => {
                assert_eq!((r, line, offset), ("CR not followed by LF", 2, 35));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bounds() {
        let limits = Limits {
            max_message: 100,
            max_headers: 2,
            max_line: 30,
        };
        let many = b"OPTIONS sip:a@b SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n";
        assert!(matches!(
            Message::parse_with(many, &limits),
            Err(Error::Limit {
                bound: Bound::HeaderCount,
                line: 4,
                ..
            })
        ));
        let long = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        assert!(matches!(
            Message::parse_with(long, &limits),
            Err(Error::Limit {
                bound: Bound::LineLength,
                line: 2,
                ..
            })
        ));
        let big = vec![b'a'; 101];
        assert!(matches!(
            Message::parse_with(&big, &limits),
            Err(Error::Limit {
                bound: Bound::MessageSize,
                ..
            })
        ));
    }

    #[test]
    fn values_are_checked_and_the_summary_reads_what_the_parse_refuses() {
        let bad = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: x\r\nUser-Agent: friendly-scanner\r\n\r\n";
        assert!(Message::parse(bad).is_err());
        let s = crate::Summary::read(bad).unwrap();
        assert_eq!(s.fingerprint().user_agent, Some(&b"friendly-scanner"[..]));
    }

    #[test]
    fn sdp_is_found_inside_a_multipart_body() {
        let body = b"--b7\r\nContent-Type: application/resource-lists+xml\r\n\r\n<list/>\r\n--b7\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nc=IN IP6 2001:db8::7\r\nm=audio 30000 RTP/AVP 0\r\n\r\n--b7--\r\n";
        let head = format!(
            "INVITE sip:conf@example.com SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::7];branch=z9hG4bKm\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:conf@example.com>\r\nCall-ID: mp\r\nCSeq: 1 INVITE\r\nContent-Type: multipart/mixed;boundary=\"b7\"\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        let m = Message::parse(&msg).unwrap();
        let sdp = m.sdp().unwrap();
        let media = sdp.media().next().unwrap();
        assert_eq!(media.port, 30000);
        assert_eq!(
            media.connection.unwrap().address,
            crate::ConnectionAddress::Ip("2001:db8::7".parse().unwrap())
        );
        // A broken SDP part makes the message malformed, at the right line.
        let bad = String::from_utf8(msg)
            .unwrap()
            .replace("m=audio 30000", "m=audio x");
        match Message::parse(bad.as_bytes()) {
            Err(Error::Malformed {
                defect: Defect::Sdp(_),
                line,
                ..
            }) => assert_eq!(line, 19),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates() {
        assert!(check_date(b"Sat, 15 Oct 2005 04:44:56 GMT").is_ok());
        assert_eq!(
            check_date(b"Fri, 01 Jan 2010 16:00:00 EST")
                .unwrap_err()
                .reason,
            "time zone must be GMT"
        );
        assert!(check_date(b"yesterday").is_err());
    }
}
