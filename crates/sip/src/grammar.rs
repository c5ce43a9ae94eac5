//! The basic rules of RFC 3261 §25 that every header grammar shares:
//! tokens, linear white space, quoted strings and `;name=value` parameters.
//!
//! Header values are kept as slices of the message, folds included, so a
//! CR or LF met inside a value is always part of a fold (the header splitter
//! guarantees it) and counts as white space here.

/// Why a value does not match its grammar, and where (relative to the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong, in a few words.
    pub reason: &'static str,
    /// Byte offset inside the value that was being read.
    pub at: usize,
}

impl Invalid {
    pub(crate) fn new(reason: &'static str, at: usize) -> Self {
        Invalid { reason, at }
    }
    /// Shifts the position when the value was a sub-slice of a larger one.
    pub(crate) fn shifted(self, by: usize) -> Self {
        Invalid {
            reason: self.reason,
            at: self.at + by,
        }
    }
}

/// Character classes of the SIP grammars, one bit each, so that any class
/// test is one load from [`CLASSES`] and a mask.
pub(crate) mod cls {
    /// `token`: alphanumerics and `-.!%*_+`'~`.
    pub const TOKEN: u32 = 1 << 0;
    /// Linear white space inside a value: SP, HTAB, and the CR and LF of
    /// folds.
    pub const LWS: u32 = 1 << 1;
    /// The user part of a SIP URI: unreserved, escaped, `&=+$,;?/` and the
    /// password's `:`.
    pub const USER: u32 = 1 << 2;
    /// URI parameters and headers: unreserved, escaped, `[]/:&+$` and the
    /// `;=?&` separators.
    pub const PARAM: u32 = 1 << 3;
    /// Host names: alphanumerics, `-`, `.` and `_` (outside RFC 1123 but
    /// common in the field).
    pub const DOMAIN: u32 = 1 << 4;
    /// `DIGIT`.
    pub const DIGIT: u32 = 1 << 5;
    /// A generic parameter value besides quoted strings: tokens and the
    /// IPv6 reference characters `:[]`.
    pub const GEN_VALUE: u32 = 1 << 6;
    /// A URI scheme after its first letter: alphanumerics and `+-.`.
    pub const SCHEME: u32 = 1 << 7;
    /// A Call-ID `word`.
    pub const WORD: u32 = 1 << 8;
    /// An unquoted auth-param value: tokens and `/:=`.
    pub const AUTH_VALUE: u32 = 1 << 9;
    /// `%`: an escape to check inside a URI.
    pub const PERCENT: u32 = 1 << 10;
    /// `:`: a password inside a userinfo.
    pub const COLON: u32 = 1 << 11;
    /// Bytes with a meaning of their own after a URI's host: `;`, `?`
    /// and `%`.
    pub const URI_SPECIAL: u32 = 1 << 12;
    /// Digits and `.`: what a dotted quad is made of.
    pub const DOTTED: u32 = 1 << 13;
    /// What ends an address without angle brackets, and a Via sent-by:
    /// `;`, `,` and white space.
    pub const ADDR_STOP: u32 = 1 << 14;
    /// An SDP transport protocol: tokens and `/`.
    pub const PROTO: u32 = 1 << 15;
}

/// Sets `bit` in `t` for the alphanumerics (if asked) and `extra`.
const fn with(mut t: [u32; 256], bit: u32, alnum: bool, extra: &[u8]) -> [u32; 256] {
    let mut i = 0;
    while i < 256 {
        if alnum && (i as u8).is_ascii_alphanumeric() {
            t[i] |= bit;
        }
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] |= bit;
        j += 1;
    }
    t
}

const TOKEN_EXTRA: &[u8] = b"-.!%*_+`'~";

/// Every class of [`cls`], by byte.
pub(crate) static CLASSES: [u32; 256] = {
    use cls::*;
    let t = [0u32; 256];
    let t = with(t, TOKEN, true, TOKEN_EXTRA);
    let t = with(t, LWS, false, b" \t\r\n");
    let t = with(t, USER, true, b"-_.!~*'()&=+$,;?/:%");
    let t = with(t, PARAM, true, b"-_.!~*'()[]/:&+$%=;?,");
    let t = with(t, DOMAIN, true, b"-._");
    let t = with(t, DIGIT, false, b"0123456789");
    let t = with(t, GEN_VALUE, true, TOKEN_EXTRA);
    let t = with(t, GEN_VALUE, false, b":[]");
    let t = with(t, SCHEME, true, b"+-.");
    let t = with(t, WORD, true, TOKEN_EXTRA);
    let t = with(t, WORD, false, b"()<>:\\\"/[]?{}");
    let t = with(t, AUTH_VALUE, true, TOKEN_EXTRA);
    let t = with(t, AUTH_VALUE, false, b"/:=");
    let t = with(t, PERCENT, false, b"%");
    let t = with(t, COLON, false, b":");
    let t = with(t, URI_SPECIAL, false, b";?%");
    let t = with(t, DOTTED, false, b"0123456789.");
    let t = with(t, ADDR_STOP, false, b";, \t\r\n");
    let t = with(t, PROTO, true, TOKEN_EXTRA);
    with(t, PROTO, false, b"/")
};

/// True when `b` is in any of the classes of `class`.
#[inline(always)]
pub(crate) fn is(b: u8, class: u32) -> bool {
    CLASSES[usize::from(b)] & class != 0
}

/// The first offset at or after `i` whose byte is not in `class`.
///
/// The first two bytes are tested before the loop: most runs of white
/// space are empty or one space.
#[inline(always)]
pub(crate) fn skip(s: &[u8], i: usize, class: u32) -> usize {
    match s.get(i) {
        Some(&b) if CLASSES[usize::from(b)] & class != 0 => match s.get(i + 1) {
            Some(&b) if CLASSES[usize::from(b)] & class != 0 => skip_run(s, i + 2, class),
            _ => i + 1,
        },
        _ => i,
    }
}

/// The length of the longest start of `s` that holds no byte of `class`.
#[inline]
pub(crate) fn before(s: &[u8], class: u32) -> usize {
    s.iter()
        .position(|&b| CLASSES[usize::from(b)] & class != 0)
        .unwrap_or(s.len())
}

#[inline]
fn skip_run(s: &[u8], i: usize, class: u32) -> usize {
    let rest = s.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|&b| CLASSES[usize::from(b)] & class == 0)
        .unwrap_or(rest.len())
}

/// `token` characters: alphanum and `-.!%*_+`'~`.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    is(b, cls::TOKEN)
}

/// White space inside a header value (folds included).
#[inline]
pub(crate) fn is_lws(b: u8) -> bool {
    is(b, cls::LWS)
}

/// Removes linear white space at both ends.
#[inline]
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = skip(s, 0, cls::LWS);
    let mut end = s.len();
    while end > start && is_lws(s[end - 1]) {
        end -= 1;
    }
    &s[start..end]
}

/// True when `s` is a non-empty run of token characters.
#[inline]
pub(crate) fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && skip(s, 0, cls::TOKEN) == s.len()
}

/// ASCII-only view; the grammar of URIs, tokens and numbers is ASCII.
pub(crate) fn ascii(s: &[u8]) -> Option<&str> {
    if s.is_ascii() {
        std::str::from_utf8(s).ok()
    } else {
        None
    }
}

/// Text that a class check has proved ASCII (every class of [`cls`] is);
/// empty if it were not.
#[inline]
pub(crate) fn ascii_text(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or_default()
}

/// Parses `1*DIGIT` into a u32; `None` when empty, not digits, or too large.
#[inline]
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    // Nine digits cannot overflow: only the digits after them need
    // checked steps.
    let (short, long) = s.split_at(s.len().min(9));
    let mut n: u32 = 0;
    for &b in short {
        n = n * 10 + digit(b)?;
    }
    for &b in long {
        n = n.checked_mul(10)?.checked_add(digit(b)?)?;
    }
    Some(n)
}

/// The value of an ASCII digit.
#[inline(always)]
pub(crate) fn digit(b: u8) -> Option<u32> {
    let d = b.wrapping_sub(b'0');
    (d <= 9).then_some(u32::from(d))
}

/// Parses `1*DIGIT`, saturating at u32::MAX (RFC 3261 §20.19 for Expires).
pub(crate) fn parse_u32_saturating(s: &[u8]) -> Option<u32> {
    if s.is_empty() || skip(s, 0, cls::DIGIT) != s.len() {
        return None;
    }
    Some(parse_u32(s).unwrap_or(u32::MAX))
}

/// The end of the quoted string whose opening quote is at `open` (the
/// offset after the closing quote); escapes are passed over, not decoded.
#[inline]
pub(crate) fn quoted_end(s: &[u8], open: usize) -> Result<usize, Invalid> {
    let mut i = open + 1;
    loop {
        let stop = s
            .get(i..)
            .and_then(|rest| crate::byte_scan::find_either(b'"', b'\\', rest));
        let Some(at) = stop else {
            return Err(Invalid::new("unterminated quoted string", open));
        };
        i += at;
        if s[i] == b'"' {
            return Ok(i + 1);
        }
        // quoted-pair: any octet but CR and LF may follow.
        match s.get(i + 1) {
            Some(b'\r' | b'\n') | None => {
                return Err(Invalid::new("bad escape in quoted string", i))
            }
            Some(_) => i += 2,
        }
    }
}

/// A reading position over one header value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    #[inline]
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }
    #[inline]
    pub(crate) fn bump(&mut self) {
        if self.pos < self.buf.len() {
            self.pos += 1;
        }
    }
    #[inline]
    pub(crate) fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        self.pos = skip(self.buf, self.pos, cls::LWS);
        self.pos > start
    }
    /// Consumes `b` (after optional white space) if it is next.
    #[inline]
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let at = skip(self.buf, self.pos, cls::LWS);
        if self.buf.get(at) == Some(&b) {
            self.pos = at + 1;
            true
        } else {
            false
        }
    }
    /// Consumes a run of bytes of `class`.
    #[inline]
    pub(crate) fn take(&mut self, class: u32) -> &'a [u8] {
        let start = self.pos;
        self.pos = skip(self.buf, start, class);
        &self.buf[start..self.pos]
    }
    #[inline]
    pub(crate) fn token(&mut self) -> Option<&'a [u8]> {
        let t = self.take(cls::TOKEN);
        (!t.is_empty()).then_some(t)
    }
    /// Reads a quoted string at the cursor; returns its content without the
    /// quotes (escapes are left as they are: zero-copy).
    #[inline]
    pub(crate) fn quoted(&mut self) -> Result<&'a [u8], Invalid> {
        let open = self.pos;
        if self.peek() != Some(b'"') {
            return Err(Invalid::new("expected a quoted string", open));
        }
        let end = quoted_end(self.buf, open)?;
        self.pos = end;
        Ok(&self.buf[open + 1..end - 1])
    }
}

/// One parameter as [`params_general`] reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param<'a> {
    /// The name as written.
    pub name: &'a [u8],
    /// The value, quotes removed.
    pub value: Option<&'a [u8]>,
    /// Where [`Param::value`] starts, from the first `;` of the run.
    pub value_at: usize,
}

/// The name of the parameter after `i`: past white space, a `;` and white
/// space, a run of token characters, as its start and end (equal when no
/// name is written). `None` when no `;` follows.
#[inline]
fn param_name(s: &[u8], i: usize) -> Option<(usize, usize)> {
    let i = skip(s, i, cls::LWS);
    if s.get(i) != Some(&b';') {
        return None;
    }
    let start = skip(s, i + 1, cls::LWS);
    Some((start, skip(s, start, cls::TOKEN)))
}

/// A parameter value as [`param_value`] finds it: where it starts (after
/// its quote, if quoted), the value (quotes removed; empty when nothing is
/// written), and the offset after it.
type Value<'a> = (usize, &'a [u8], usize);

/// The value of the parameter whose name ends at `i`; `None` without `=`.
#[inline]
fn param_value(s: &[u8], i: usize) -> Result<Option<Value<'_>>, Invalid> {
    let eq = skip(s, i, cls::LWS);
    if s.get(eq) != Some(&b'=') {
        return Ok(None);
    }
    let v = skip(s, eq + 1, cls::LWS);
    if s.get(v) == Some(&b'"') {
        let end = quoted_end(s, v)?;
        return Ok(Some((v + 1, &s[v + 1..end - 1], end)));
    }
    let end = skip(s, v, cls::GEN_VALUE);
    Ok(Some((v, &s[v..end], end)))
}

/// Reads `*( SEMI generic-param )` at the cursor and returns the raw span
/// of the parameters (starting at the first `;`), stopping before a `,`
/// or the end. Every parameter must have a name; values are tokens, hosts
/// or quoted. `each` sees every parameter and may refuse it.
#[inline]
pub(crate) fn params_general<'a>(
    c: &mut Cursor<'a>,
    mut each: impl FnMut(Param<'a>) -> Result<(), Invalid>,
) -> Result<Params<'a>, Invalid> {
    let s = c.buf;
    let start = c.pos;
    let mut end = start;
    while let Some((i, name_end)) = param_name(s, end) {
        if name_end == i {
            return Err(Invalid::new("empty or invalid parameter name", i));
        }
        end = name_end;
        let (mut value, mut value_at) = (None, 0);
        if let Some((at, v, after)) = param_value(s, name_end)? {
            // Unquoted, an empty value ends where it starts.
            if after == at {
                return Err(Invalid::new("empty or invalid parameter value", at));
            }
            (end, value, value_at) = (after, Some(v), at - start);
        }
        each(Param {
            name: &s[i..name_end],
            value,
            value_at,
        })?;
    }
    c.pos = end;
    Ok(Params {
        raw: &s[start..end],
    })
}

/// [`params_general`] for parameters written without white space or quotes,
/// from `v[start]` to the end of `v`; `each` sees every parameter and may
/// decline it. `None` for any other shape (or a declined parameter),
/// which [`params_general`] reads as it would have.
#[inline]
pub(crate) fn params_usual<'a>(
    v: &'a [u8],
    start: usize,
    mut each: impl FnMut(&Param<'a>) -> bool,
) -> Option<Params<'a>> {
    let mut i = start;
    while v.get(i) == Some(&b';') {
        let name_end = skip(v, i + 1, cls::TOKEN);
        let mut p = Param {
            name: &v[i + 1..name_end],
            value: None,
            value_at: 0,
        };
        i = name_end;
        if v.get(name_end) == Some(&b'=') {
            i = skip(v, name_end + 1, cls::GEN_VALUE);
            if i == name_end + 1 {
                return None;
            }
            p.value = Some(&v[name_end + 1..i]);
            p.value_at = name_end + 1 - start;
        }
        if p.name.is_empty() || !each(&p) {
            return None;
        }
    }
    (i == v.len()).then(|| Params { raw: &v[start..] })
}

/// [`params_general`] with no parameter refused.
#[inline]
pub(crate) fn params<'a>(c: &mut Cursor<'a>) -> Result<Params<'a>, Invalid> {
    params_general(c, |_| Ok(()))
}

/// Where the first parameter of one name is inside a [`Params`] span, noted
/// while the span is checked so that its accessor does not search again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    /// Offset of the value in the span; [`Mark::ABSENT`] when there is no
    /// such parameter.
    at: u16,
    /// Length of the value; [`Mark::NO_VALUE`] for a parameter without one.
    len: u16,
}

impl Default for Mark {
    fn default() -> Self {
        Mark {
            at: Self::ABSENT,
            len: 0,
        }
    }
}

impl Mark {
    const ABSENT: u16 = u16::MAX;
    const NO_VALUE: u16 = u16::MAX;

    /// Notes `p` unless a parameter of this name was noted before. Spans
    /// are slices of one message, so their offsets fit 16 bits.
    #[inline]
    pub(crate) fn note(&mut self, p: &Param<'_>) {
        if self.at == Self::ABSENT {
            *self = match p.value {
                Some(v) => Mark {
                    at: p.value_at as u16,
                    len: v.len() as u16,
                },
                None => Mark {
                    at: 0,
                    len: Self::NO_VALUE,
                },
            };
        }
    }

    /// What [`Params::get`] returns for the noted name.
    #[inline]
    pub(crate) fn get<'a>(&self, params: &Params<'a>) -> Option<Option<&'a [u8]>> {
        self.get_in(params.raw)
    }

    /// [`Mark::get`] in the raw span the parameter was noted from.
    #[inline]
    pub(crate) fn get_in<'a>(&self, raw: &'a [u8]) -> Option<Option<&'a [u8]>> {
        if self.at == Self::ABSENT {
            return None;
        }
        if self.len == Self::NO_VALUE {
            return Some(None);
        }
        let at = usize::from(self.at);
        Some(raw.get(at..at + usize::from(self.len)))
    }
}

/// A validated run of `;name[=value]` parameters, read lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a [u8],
}

impl<'a> Params<'a> {
    /// Parameters that were not checked: reading stops at the first
    /// surprise, so on a checked span this reads the same as [`params`].
    pub(crate) fn unchecked(raw: &'a [u8]) -> Params<'a> {
        Params { raw }
    }
    /// The raw bytes, from the first `;`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    /// The parameters in order: name and optional value (quotes removed).
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            raw: self.raw,
            pos: 0,
        }
    }
    /// The first parameter with this name (case-insensitive): `Some(None)`
    /// when it has no value.
    #[inline]
    pub fn get(&self, name: &str) -> Option<Option<&'a [u8]>> {
        let mut it = self.iter();
        loop {
            let n = it.next_name()?;
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                return Some(it.value());
            }
            // Jump over the value rather than read it.
            it.skip_value();
        }
    }
    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> ParamIter<'a> {
    /// Reads up to the next parameter's name (the span was validated when
    /// built, so any surprise simply ends the iteration).
    #[inline]
    fn next_name(&mut self) -> Option<&'a [u8]> {
        match param_name(self.raw, self.pos) {
            Some((i, end)) if end > i => {
                self.pos = end;
                Some(&self.raw[i..end])
            }
            _ => {
                self.pos = self.raw.len();
                None
            }
        }
    }

    /// Reads the value of the parameter whose name was just read.
    #[inline]
    fn value(&mut self) -> Option<&'a [u8]> {
        match param_value(self.raw, self.pos) {
            Ok(Some((_, v, end))) => {
                self.pos = end;
                Some(v)
            }
            Ok(None) => None,
            // An unterminated quote can only be in an unchecked span.
            Err(_) => {
                self.pos = self.raw.len();
                None
            }
        }
    }

    /// Passes over the value of the parameter whose name was just read:
    /// outside quotes, a value ends before the next `;`.
    #[inline]
    fn skip_value(&mut self) {
        let s = self.raw;
        let eq = skip(s, self.pos, cls::LWS);
        if s.get(eq) != Some(&b'=') {
            return;
        }
        let v = skip(s, eq + 1, cls::LWS);
        if s.get(v) == Some(&b'"') {
            // A quoted value may hold `;`: read it.
            self.value();
        } else {
            self.pos = crate::byte_scan::find(b';', &s[v..]).map_or(s.len(), |i| v + i);
        }
    }
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let name = self.next_name()?;
        Some((name, self.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_back_in_order() {
        let mut c = Cursor::new(b" ;tag = abc ; lr;received=[2001:db8::1], next");
        let p = params(&mut c).unwrap();
        let v: Vec<_> = p.iter().collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], (&b"tag"[..], Some(&b"abc"[..])));
        assert_eq!(v[1], (&b"lr"[..], None));
        assert_eq!(p.get("RECEIVED"), Some(Some(&b"[2001:db8::1]"[..])));
        assert_eq!(c.rest(), b", next");
    }

    #[test]
    fn get_agrees_with_the_iterator() {
        for raw in [
            &b";tag=abc"[..],
            b" ; lr ; tag = \"x;tag=no\" ;tag=second",
            b";branch=z9hG4bK1;rport;received=[2001:db8::1];x=\"a\\\"b\";tag=t",
            b";a;b=;c",
            b"",
        ] {
            let p = Params::unchecked(raw);
            for name in ["tag", "lr", "rport", "received", "x", "a", "b", "c", "none"] {
                let want = p
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                    .map(|(_, v)| v);
                assert_eq!(
                    p.get(name),
                    want,
                    "{name} in {:?}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }

    #[test]
    fn empty_param_is_invalid() {
        let mut c = Cursor::new(b";;");
        assert_eq!(
            params(&mut c).unwrap_err().reason,
            "empty or invalid parameter name"
        );
    }

    #[test]
    fn quoted_string_keeps_escapes_and_detects_end() {
        let mut c = Cursor::new(br#""J \"x\"" rest"#);
        assert_eq!(c.quoted().unwrap(), br#"J \"x\""#);
        let mut c = Cursor::new(b"\"open");
        assert!(c.quoted().is_err());
    }

    #[test]
    fn numbers_overflow_cleanly() {
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(
            parse_u32_saturating(b"99999999999999999999"),
            Some(u32::MAX)
        );
        assert_eq!(parse_u32(b"-1"), None);
    }
}
