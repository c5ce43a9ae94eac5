//! Header names: the ones a firewall reads, their compact forms (RFC 3261
//! §7.3.3 and later RFCs), matched case-insensitively; and one header line.

/// Declares every known header in one row: its variant, canonical name,
/// compact form, and what RFC 3261 asks of it (`mandatory`: §8.1.1, every
/// request has it; `single`: at most one value). Adding a header is one
/// row here, and, if it is typed, one arm in the message's value check.
macro_rules! header_names {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident $name:literal $(or $compact:literal)? [$($prop:ident)*];
    )*) => {
        /// A header name that sipwall knows; everything else is [`HeaderName::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $($(#[doc = $doc])* $variant,)*
            /// Any other header.
            Other,
        }

        impl HeaderName {
            /// Every name, in declaration order (`ALL[h as usize] == h`).
            pub(crate) const ALL: [HeaderName; [$(stringify!($variant)),*].len() + 1] =
                [$(HeaderName::$variant,)* HeaderName::Other];

            /// The canonical (long) name; `"other"` for [`HeaderName::Other`].
            pub const fn as_str(&self) -> &'static str {
                match self {
                    $(HeaderName::$variant => $name,)*
                    HeaderName::Other => "other",
                }
            }

            /// The name whose compact form is this lower-case letter.
            #[inline]
            const fn compact(letter: u8) -> HeaderName {
                match letter {
                    $($($compact => HeaderName::$variant,)?)*
                    _ => HeaderName::Other,
                }
            }

            /// Every request must have it (RFC 3261 §8.1.1).
            pub(crate) const fn is_mandatory(self) -> bool {
                match self {
                    $(HeaderName::$variant => header_names!(@has mandatory $($prop)*),)*
                    HeaderName::Other => false,
                }
            }

            /// It may appear once only.
            pub(crate) const fn is_single(self) -> bool {
                match self {
                    $(HeaderName::$variant => header_names!(@has single $($prop)*),)*
                    HeaderName::Other => false,
                }
            }
        }
    };
    (@has $want:ident $($prop:ident)*) => { false $(|| header_names!(@is $want $prop))* };
    (@is mandatory mandatory) => { true };
    (@is single single) => { true };
    (@is $want:ident $prop:ident) => { false };
}

header_names! {
    /// `Via` / `v`
    Via "Via" or b'v' [mandatory];
    /// `From` / `f`
    From "From" or b'f' [mandatory single];
    /// `To` / `t`
    To "To" or b't' [mandatory single];
    /// `Call-ID` / `i`
    CallId "Call-ID" or b'i' [mandatory single];
    /// `CSeq`
    CSeq "CSeq" [mandatory single];
    /// `Contact` / `m`
    Contact "Contact" or b'm' [];
    /// `Max-Forwards`
    MaxForwards "Max-Forwards" [single];
    /// `Content-Length` / `l`
    ContentLength "Content-Length" or b'l' [];
    /// `Content-Type` / `c`
    ContentType "Content-Type" or b'c' [single];
    /// `Content-Encoding` / `e`
    ContentEncoding "Content-Encoding" or b'e' [];
    /// `Expires`
    Expires "Expires" [single];
    /// `User-Agent`
    UserAgent "User-Agent" [];
    /// `Server`
    Server "Server" [];
    /// `Authorization`
    Authorization "Authorization" [];
    /// `Proxy-Authorization`
    ProxyAuthorization "Proxy-Authorization" [];
    /// `WWW-Authenticate`
    WwwAuthenticate "WWW-Authenticate" [];
    /// `Proxy-Authenticate`
    ProxyAuthenticate "Proxy-Authenticate" [];
    /// `Route`
    Route "Route" [];
    /// `Record-Route`
    RecordRoute "Record-Route" [];
    /// `Date`
    Date "Date" [];
    /// `Subject` / `s`
    Subject "Subject" or b's' [];
    /// `Supported` / `k`
    Supported "Supported" or b'k' [];
    /// `Event` / `o`
    Event "Event" or b'o' [];
    /// `Refer-To` / `r`
    ReferTo "Refer-To" or b'r' [];
    /// `Referred-By` / `b`
    ReferredBy "Referred-By" or b'b' [];
    /// `Allow-Events` / `u`
    AllowEvents "Allow-Events" or b'u' [];
    /// `Accept-Contact` / `a`
    AcceptContact "Accept-Contact" or b'a' [];
    /// `Reject-Contact` / `j`
    RejectContact "Reject-Contact" or b'j' [];
    /// `Request-Disposition` / `d`
    RequestDisposition "Request-Disposition" or b'd' [];
    /// `Session-Expires` / `x`
    SessionExpires "Session-Expires" or b'x' [];
    /// `Identity` / `y`
    Identity "Identity" or b'y' [];
}

impl HeaderName {
    /// Looks a name up (full or compact form, any case).
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        let cand = Self::candidate(name);
        if cand.is_spelled(name) {
            cand
        } else {
            HeaderName::Other
        }
    }

    /// Looks up the name that takes the first `len` bytes of a header
    /// line (any case, compact forms): with the line's bytes around it,
    /// the name is compared two words at a time, whatever its length.
    #[inline]
    pub(crate) fn from_line(text: &[u8], len: usize) -> HeaderName {
        let cand = Self::candidate(text.get(..len).unwrap_or_default());
        if cand.spells_line(text, len) {
            cand
        } else {
            HeaderName::Other
        }
    }

    /// Whether the first `len` bytes of a header line spell this name,
    /// for which they are the [`HeaderName::candidate`]: two words at a
    /// time, whatever the length, with the line's bytes around the name.
    #[inline]
    pub(crate) fn spells_line(self, text: &[u8], len: usize) -> bool {
        if self == HeaderName::Other {
            return false;
        }
        if len > 16 || text.len() < 16 {
            return self.is_spelled(text.get(..len).unwrap_or_default());
        }
        if len == 1 {
            // A compact form's candidate is exact.
            return true;
        }
        let [word0, word1, case0, case1] = SPELLINGS[self as usize];
        let [keep0, keep1] = KEEP[len];
        let (w0, w1) = (
            crate::byte_scan::word_at(text, 0),
            crate::byte_scan::word_at(text, 8),
        );
        ((w0 ^ word0) & !case0 & keep0) | ((w1 ^ word1) & !case1 & keep1) == 0
    }

    /// Whether `name`, for which this is the [`HeaderName::candidate`],
    /// spells it.
    #[inline]
    pub(crate) fn is_spelled(self, name: &[u8]) -> bool {
        // A compact form's candidate is exact.
        self != HeaderName::Other
            && (name.len() == 1 || crate::byte_scan::eq_name(name, self.as_str().as_bytes()))
    }

    /// The only known name that `name` can be (by compact form, or by
    /// length and first letter), before comparing the rest: callers that
    /// want a few names only compare those.
    #[inline]
    pub(crate) fn candidate(name: &[u8]) -> HeaderName {
        use HeaderName::*;
        if name.len() == 1 {
            return Self::compact(name[0].to_ascii_lowercase());
        }
        // Dispatch on length and first letter through a table: at most
        // one comparison. Call-ID and Contact share a shape; the table
        // holds Contact.
        let (Some(&first), Some(row)) = (name.first(), SHAPES.get(name.len())) else {
            return Other;
        };
        match row[usize::from(first & 0x1f)] {
            Contact if name[1] | 0x20 == b'a' => CallId,
            c => c,
        }
    }
}

/// The longest canonical name, plus one.
const LONGEST: usize = 20;

/// The known name of each length (rows) and first letter (`& 0x1f`,
/// columns), built from [`HeaderName::as_str`]; names are ASCII letters
/// and `-`, so the case of the first letter does not change its column.
static SHAPES: [[HeaderName; 32]; LONGEST] = {
    let mut t = [[HeaderName::Other; 32]; LONGEST];
    let mut i = 0;
    while i < HeaderName::ALL.len() - 1 {
        let h = HeaderName::ALL[i];
        let name = h.as_str().as_bytes();
        let cell = &mut t[name.len()][(name[0] & 0x1f) as usize];
        // `candidate` tells Call-ID from Contact by their second letter;
        // any other two names of one shape would need the same.
        assert!(
            matches!(*cell, HeaderName::Other)
                || matches!((*cell, h), (HeaderName::CallId, HeaderName::Contact)),
            "two header names of one length and first letter"
        );
        *cell = h;
        i += 1;
    }
    t
};

/// Each name's first sixteen bytes as two little-endian words (zeros past
/// its end), then the bits of each word that only a letter's case sets.
static SPELLINGS: [[u64; 4]; HeaderName::ALL.len()] = {
    let mut t = [[0u64; 4]; HeaderName::ALL.len()];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        let name = HeaderName::ALL[i].as_str().as_bytes();
        let mut j = 0;
        while j < name.len() && j < 16 {
            let b = name[j] as u64;
            let word = j / 8;
            let shift = 8 * (j % 8);
            t[i][word] |= b << shift;
            // Letters have bit 6 set; their case is bit 5.
            t[i][2 + word] |= ((b & 0x40) >> 1) << shift;
            j += 1;
        }
        i += 1;
    }
    t
};

/// For each length up to 16, the bits of two little-endian words that
/// hold a name of that length, and none of the bytes after it.
static KEEP: [[u64; 2]; 17] = {
    let mut t = [[0u64; 2]; 17];
    let mut len = 0;
    while len <= 16 {
        let mut j = 0;
        while j < len {
            t[len][j / 8] |= 0xff << (8 * (j % 8));
            j += 1;
        }
        len += 1;
    }
    t
};

impl std::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header as it appears in the message (folds kept in the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as recognised.
    pub name: HeaderName,
    /// The name as written (any case, maybe compact).
    pub raw_name: &'a [u8],
    /// The value, white space trimmed at both ends; may contain folds.
    pub value: &'a [u8],
    /// 1-based line number of the header's first line.
    pub line: u32,
    /// Byte offset of the value in the message.
    pub offset: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, h) in HeaderName::ALL.iter().enumerate() {
            assert_eq!(*h as usize, i, "{h}");
        }
    }

    #[test]
    fn every_canonical_name_is_found_in_any_case() {
        for h in &HeaderName::ALL[..HeaderName::ALL.len() - 1] {
            let name = h.as_str();
            assert_eq!(HeaderName::from_bytes(name.as_bytes()), *h);
            assert_eq!(HeaderName::from_bytes(name.to_lowercase().as_bytes()), *h);
            assert_eq!(HeaderName::from_bytes(name.to_uppercase().as_bytes()), *h);
        }
        assert_eq!(HeaderName::from_bytes(b"Xall-ID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"\x03all-ID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Contacts"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Other);
    }

    #[test]
    fn a_name_read_from_its_line_is_the_name_alone() {
        for h in &HeaderName::ALL[..HeaderName::ALL.len() - 1] {
            for name in [
                h.as_str().to_string(),
                h.as_str().to_lowercase(),
                h.as_str().to_uppercase(),
            ] {
                for line in [
                    format!("{name}: value long enough to read two words"),
                    format!("{name}:x"),
                ] {
                    assert_eq!(
                        HeaderName::from_line(line.as_bytes(), name.len()),
                        *h,
                        "{line}"
                    );
                }
                // One byte off anywhere in the name makes another name.
                for i in 0..name.len() {
                    let mut bad = name.clone().into_bytes();
                    bad[i] ^= 0x01;
                    let line = [&bad[..], b": and some more bytes after it"].concat();
                    if bad.len() > 1 {
                        assert_eq!(
                            HeaderName::from_line(&line, bad.len()),
                            HeaderName::from_bytes(&bad),
                            "{line:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_table_marks_what_rfc_3261_asks() {
        use HeaderName::*;
        let with = |p: fn(HeaderName) -> bool| {
            HeaderName::ALL
                .into_iter()
                .filter(|&h| p(h))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            with(HeaderName::is_mandatory),
            [Via, From, To, CallId, CSeq]
        );
        assert_eq!(
            with(HeaderName::is_single),
            [From, To, CallId, CSeq, MaxForwards, ContentType, Expires]
        );
        let compact: String = (b'a'..=b'z')
            .filter(|&b| HeaderName::compact(b) != Other)
            .map(char::from)
            .collect();
        assert_eq!(compact, "abcdefijklmorstuvxy");
    }

    #[test]
    fn compact_and_case_insensitive() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"VIA"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"I"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(
            HeaderName::from_bytes(b"www-authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"z"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Call\rID"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Cseq"), HeaderName::CSeq);
        assert_eq!(
            HeaderName::from_bytes(b"Proxy-Authorization"),
            HeaderName::ProxyAuthorization
        );
        assert_eq!(
            HeaderName::from_bytes(b"Proxy-Authenticate"),
            HeaderName::ProxyAuthenticate
        );
    }
}
