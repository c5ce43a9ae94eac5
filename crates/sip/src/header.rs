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
        // Dispatch on length first: one comparison for most lines.
        let cands: &[(&str, HeaderName)] = match name.len() {
            2 => &[("To", To)],
            3 => &[("Via", Via)],
            4 => &[("From", From), ("CSeq", CSeq), ("Date", Date)],
            5 => &[("Route", Route), ("Event", Event)],
            6 => &[("Server", Server)],
            7 => &[
                ("Call-ID", CallId),
                ("Contact", Contact),
                ("Expires", Expires),
                ("Subject", Subject),
            ],
            8 => &[("Refer-To", ReferTo), ("Identity", Identity)],
            9 => &[("Supported", Supported)],
            10 => &[("User-Agent", UserAgent)],
            11 => &[("Referred-By", ReferredBy)],
            12 => &[
                ("Max-Forwards", MaxForwards),
                ("Content-Type", ContentType),
                ("Record-Route", RecordRoute),
                ("Allow-Events", AllowEvents),
            ],
            13 => &[("Authorization", Authorization)],
            14 => &[
                ("Content-Length", ContentLength),
                ("Accept-Contact", AcceptContact),
                ("Reject-Contact", RejectContact),
            ],
            15 => &[("Session-Expires", SessionExpires)],
            16 => &[
                ("WWW-Authenticate", WwwAuthenticate),
                ("Content-Encoding", ContentEncoding),
            ],
            18 => &[("Proxy-Authenticate", ProxyAuthenticate)],
            19 => &[
                ("Proxy-Authorization", ProxyAuthorization),
                ("Request-Disposition", RequestDisposition),
            ],
            _ => &[],
        };
        cands
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .map_or(Other, |&(_, h)| h)
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
    }
}
