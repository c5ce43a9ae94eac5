//! Header names: the ones a firewall reads, their compact forms (RFC 3261
//! §7.3.3 and later RFCs), matched case-insensitively; and one header line.

/// A header name that sipwall knows; everything else is [`HeaderName::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Via` / `v`
    Via,
    /// `From` / `f`
    From,
    /// `To` / `t`
    To,
    /// `Call-ID` / `i`
    CallId,
    /// `CSeq`
    CSeq,
    /// `Contact` / `m`
    Contact,
    /// `Max-Forwards`
    MaxForwards,
    /// `Content-Length` / `l`
    ContentLength,
    /// `Content-Type` / `c`
    ContentType,
    /// `Content-Encoding` / `e`
    ContentEncoding,
    /// `Expires`
    Expires,
    /// `User-Agent`
    UserAgent,
    /// `Server`
    Server,
    /// `Authorization`
    Authorization,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Route`
    Route,
    /// `Record-Route`
    RecordRoute,
    /// `Date`
    Date,
    /// `Subject` / `s`
    Subject,
    /// `Supported` / `k`
    Supported,
    /// `Event` / `o`
    Event,
    /// `Refer-To` / `r`
    ReferTo,
    /// `Referred-By` / `b`
    ReferredBy,
    /// `Allow-Events` / `u`
    AllowEvents,
    /// `Accept-Contact` / `a`
    AcceptContact,
    /// `Reject-Contact` / `j`
    RejectContact,
    /// `Request-Disposition` / `d`
    RequestDisposition,
    /// `Session-Expires` / `x`
    SessionExpires,
    /// `Identity` / `y`
    Identity,
    /// Any other header.
    Other,
}

impl HeaderName {
    /// Every name, in declaration order (`ALL[h as usize] == h`).
    pub(crate) const ALL: [HeaderName; 32] = {
        use HeaderName::*;
        [
            Via,
            From,
            To,
            CallId,
            CSeq,
            Contact,
            MaxForwards,
            ContentLength,
            ContentType,
            ContentEncoding,
            Expires,
            UserAgent,
            Server,
            Authorization,
            ProxyAuthorization,
            WwwAuthenticate,
            ProxyAuthenticate,
            Route,
            RecordRoute,
            Date,
            Subject,
            Supported,
            Event,
            ReferTo,
            ReferredBy,
            AllowEvents,
            AcceptContact,
            RejectContact,
            RequestDisposition,
            SessionExpires,
            Identity,
            Other,
        ]
    };

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
            return match name[0].to_ascii_lowercase() {
                b'v' => Via,
                b'f' => From,
                b't' => To,
                b'i' => CallId,
                b'm' => Contact,
                b'l' => ContentLength,
                b'c' => ContentType,
                b'e' => ContentEncoding,
                b's' => Subject,
                b'k' => Supported,
                b'o' => Event,
                b'r' => ReferTo,
                b'b' => ReferredBy,
                b'u' => AllowEvents,
                b'a' => AcceptContact,
                b'j' => RejectContact,
                b'd' => RequestDisposition,
                b'x' => SessionExpires,
                b'y' => Identity,
                _ => Other,
            };
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

    /// The canonical (long) name; `"other"` for [`HeaderName::Other`].
    pub const fn as_str(&self) -> &'static str {
        use HeaderName::*;
        match self {
            Via => "Via",
            From => "From",
            To => "To",
            CallId => "Call-ID",
            CSeq => "CSeq",
            Contact => "Contact",
            MaxForwards => "Max-Forwards",
            ContentLength => "Content-Length",
            ContentType => "Content-Type",
            ContentEncoding => "Content-Encoding",
            Expires => "Expires",
            UserAgent => "User-Agent",
            Server => "Server",
            Authorization => "Authorization",
            ProxyAuthorization => "Proxy-Authorization",
            WwwAuthenticate => "WWW-Authenticate",
            ProxyAuthenticate => "Proxy-Authenticate",
            Route => "Route",
            RecordRoute => "Record-Route",
            Date => "Date",
            Subject => "Subject",
            Supported => "Supported",
            Event => "Event",
            ReferTo => "Refer-To",
            ReferredBy => "Referred-By",
            AllowEvents => "Allow-Events",
            AcceptContact => "Accept-Contact",
            RejectContact => "Reject-Contact",
            RequestDisposition => "Request-Disposition",
            SessionExpires => "Session-Expires",
            Identity => "Identity",
            Other => "other",
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
        t[name.len()][(name[0] & 0x1f) as usize] = h;
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
