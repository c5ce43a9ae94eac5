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

/// A 256-entry character class: alphanumerics (if asked) plus `extra`.
pub(crate) const fn class(alnum: bool, extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        if alnum && (i as u8).is_ascii_alphanumeric() {
            t[i] = true;
        }
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

static TOKEN: [bool; 256] = class(true, b"-.!%*_+`'~");
static LWS: [bool; 256] = class(false, b" \t\r\n");

/// `token` characters: alphanum and `-.!%*_+`'~`.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// White space inside a header value (folds included).
#[inline]
pub(crate) fn is_lws(b: u8) -> bool {
    LWS[usize::from(b)]
}

/// Removes linear white space at both ends.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let (mut start, mut end) = (0, s.len());
    while start < end && is_lws(s[start]) {
        start += 1;
    }
    while end > start && is_lws(s[end - 1]) {
        end -= 1;
    }
    &s[start..end]
}

/// True when `s` is a non-empty run of token characters.
pub(crate) fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

/// ASCII-only view; the grammar of URIs, tokens and numbers is ASCII.
pub(crate) fn ascii(s: &[u8]) -> Option<&str> {
    if s.is_ascii() {
        std::str::from_utf8(s).ok()
    } else {
        None
    }
}

/// Parses `1*DIGIT` into a u32; `None` when empty, not digits, or too large.
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses `1*DIGIT`, saturating at u32::MAX (RFC 3261 §20.19 for Expires).
pub(crate) fn parse_u32_saturating(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(parse_u32(s).unwrap_or(u32::MAX))
}

/// A reading position over one header value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }
    pub(crate) fn buf(&self) -> &'a [u8] {
        self.buf
    }
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub(crate) fn bump(&mut self) {
        if self.pos < self.buf.len() {
            self.pos += 1;
        }
    }
    pub(crate) fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if is_lws(b)) {
            self.pos += 1;
        }
        self.pos > start
    }
    /// Consumes `b` (after optional white space) if it is next.
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            self.pos = save;
            false
        }
    }
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if f(b)) {
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }
    pub(crate) fn token(&mut self) -> Option<&'a [u8]> {
        let t = self.take_while(is_token);
        (!t.is_empty()).then_some(t)
    }
    /// Reads a quoted string at the cursor; returns its content without the
    /// quotes (escapes are left as they are: zero-copy).
    pub(crate) fn quoted(&mut self) -> Result<&'a [u8], Invalid> {
        let open = self.pos;
        if self.peek() != Some(b'"') {
            return Err(Invalid::new("expected a quoted string", open));
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(Invalid::new("unterminated quoted string", open)),
                Some(b'"') => {
                    let s = &self.buf[start..self.pos];
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => {
                    // quoted-pair: any octet but CR and LF may follow.
                    match self.buf.get(self.pos + 1) {
                        Some(b'\r') | Some(b'\n') | None => {
                            return Err(Invalid::new("bad escape in quoted string", self.pos))
                        }
                        Some(_) => self.pos += 2,
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// Characters allowed in a generic parameter value besides tokens: the
/// IPv6 reference and address forms (`received=[2001:db8::1]`).
fn is_gen_value(b: u8) -> bool {
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

/// Reads `*( SEMI generic-param )` and returns the raw span of the
/// parameters (starting at the first `;`), stopping before a `,` or the end.
/// Every parameter must have a name; values are tokens, hosts or quoted.
pub(crate) fn params<'a>(c: &mut Cursor<'a>) -> Result<Params<'a>, Invalid> {
    let start = c.pos();
    let mut end = start;
    loop {
        if !c.eat_sep(b';') {
            break;
        }
        c.skip_lws();
        if c.token().is_none() {
            return Err(Invalid::new("empty or invalid parameter name", c.pos()));
        }
        if c.eat_sep(b'=') {
            c.skip_lws();
            if c.peek() == Some(b'"') {
                c.quoted()?;
            } else if c.take_while(is_gen_value).is_empty() {
                return Err(Invalid::new("empty or invalid parameter value", c.pos()));
            }
        }
        end = c.pos();
    }
    c.set_pos(end);
    Ok(Params {
        raw: &c.buf()[start..end],
    })
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

/// The first offset at or after `i` that is not linear white space.
#[inline]
fn skip_lws(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| is_lws(b)) {
        i += 1;
    }
    i
}

/// The first offset at or after `i` whose byte is not in the class.
#[inline]
fn skip_class(s: &[u8], mut i: usize, class: fn(u8) -> bool) -> usize {
    while s.get(i).is_some_and(|&b| class(b)) {
        i += 1;
    }
    i
}

impl<'a> ParamIter<'a> {
    /// Reads up to the next parameter's name (the span was validated when
    /// built, so any surprise simply ends the iteration).
    #[inline]
    fn next_name(&mut self) -> Option<&'a [u8]> {
        let s = self.raw;
        let mut i = skip_lws(s, self.pos);
        if s.get(i) != Some(&b';') {
            self.pos = s.len();
            return None;
        }
        i = skip_lws(s, i + 1);
        let end = skip_class(s, i, is_token);
        self.pos = end;
        if end == i {
            self.pos = s.len();
            return None;
        }
        Some(&s[i..end])
    }

    /// Reads the value of the parameter whose name was just read.
    #[inline]
    fn value(&mut self) -> Option<&'a [u8]> {
        let s = self.raw;
        let eq = skip_lws(s, self.pos);
        if s.get(eq) != Some(&b'=') {
            return None;
        }
        let v = skip_lws(s, eq + 1);
        if s.get(v) == Some(&b'"') {
            let mut c = Cursor::new(s);
            c.set_pos(v);
            let q = c.quoted();
            self.pos = c.pos();
            // An unterminated quote can only be in an unchecked span.
            if q.is_err() {
                self.pos = s.len();
            }
            q.ok()
        } else {
            let end = skip_class(s, v, is_gen_value);
            self.pos = end;
            Some(&s[v..end])
        }
    }

    /// Passes over the value of the parameter whose name was just read:
    /// outside quotes, a value ends before the next `;`.
    #[inline]
    fn skip_value(&mut self) {
        let s = self.raw;
        let eq = skip_lws(s, self.pos);
        if s.get(eq) != Some(&b'=') {
            return;
        }
        let v = skip_lws(s, eq + 1);
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
