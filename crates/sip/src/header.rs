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
    pub fn from_bytes(name: &[u8]) -> HeaderName {
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
        // Dispatch on length and first letter: at most one comparison.
        let cand = match (name.len(), name[0].to_ascii_lowercase()) {
            (2, b't') => To,
            (3, b'v') => Via,
            (4, b'f') => From,
            (4, b'c') => CSeq,
            (4, b'd') => Date,
            (5, b'r') => Route,
            (5, b'e') => Event,
            (6, b's') => Server,
            (7, b'c') if name[1].eq_ignore_ascii_case(&b'a') => CallId,
            (7, b'c') => Contact,
            (7, b'e') => Expires,
            (7, b's') => Subject,
            (8, b'r') => ReferTo,
            (8, b'i') => Identity,
            (9, b's') => Supported,
            (10, b'u') => UserAgent,
            (11, b'r') => ReferredBy,
            (12, b'm') => MaxForwards,
            (12, b'c') => ContentType,
            (12, b'r') => RecordRoute,
            (12, b'a') => AllowEvents,
            (13, b'a') => Authorization,
            (14, b'c') => ContentLength,
            (14, b'a') => AcceptContact,
            (14, b'r') => RejectContact,
            (15, b's') => SessionExpires,
            (16, b'w') => WwwAuthenticate,
            (16, b'c') => ContentEncoding,
            (18, b'p') => ProxyAuthenticate,
            (19, b'p') => ProxyAuthorization,
            (19, b'r') => RequestDisposition,
            _ => return Other,
        };
        // Canonical names are letters and `-`: a letter may differ from
        // its spelling only in the case bit, `-` not at all. Folding the
        // differences without branches compiles to a few vector ops.
        let want = cand.as_str().as_bytes();
        let diff = name.iter().zip(want).fold(0u8, |acc, (&a, &b)| {
            let mask = if b == b'-' { 0xff } else { !0x20 };
            acc | ((a ^ b) & mask)
        });
        if name.len() == want.len() && diff == 0 {
            cand
        } else {
            Other
        }
    }

    /// The canonical (long) name; `"other"` for [`HeaderName::Other`].
    pub fn as_str(&self) -> &'static str {
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
