//! The Via header (RFC 3261 §20.42, RFC 3581 `rport`, RFC 5118 IPv6):
//! transport, sent-by, and the parameters a firewall needs.

use crate::grammar::{before, cls, params_general, Cursor, Invalid, Mark, Param, Params};
use crate::host::{parse_hostport, parse_ip_loose, Host};
use std::net::IpAddr;

/// The transport named in a Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS
    Tls,
    /// SCTP
    Sctp,
    /// WebSocket (RFC 7118)
    Ws,
    /// Secure WebSocket (RFC 7118)
    Wss,
    /// Anything else, as written.
    Other(&'a str),
}

impl Transport<'_> {
    /// The transport's name, upper-case for the known ones.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }
}

/// One Via value (a Via header may hold several, comma-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    transport: Transport<'a>,
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
    marks: Marks,
}

/// The parameters a firewall reads, found while the Via was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Marks {
    branch: Mark,
    received: Mark,
    rport: Mark,
}

impl Marks {
    /// Notes `p` if it is one of the three; says what is wrong with its
    /// value, if anything.
    #[inline]
    fn note(&mut self, p: &Param<'_>) -> Option<&'static str> {
        let is = |n: &[u8]| crate::byte_scan::eq_name(p.name, n);
        let value = p.value;
        match p.name.len() {
            8 if is(b"received") => {
                self.received.note(p);
                value
                    .and_then(parse_ip_loose)
                    .is_none()
                    .then_some("received is not an IP address")
            }
            5 if is(b"rport") => {
                self.rport.note(p);
                value
                    .is_some_and(|v| {
                        crate::grammar::parse_u32(v).is_none_or(|p| p > u32::from(u16::MAX))
                    })
                    .then_some("rport is not a port number")
            }
            6 if is(b"branch") => {
                self.branch.note(p);
                value.is_none().then_some("branch has no value")
            }
            _ => None,
        }
    }
}

/// A Via value holding one Via of the usual shape, read directly:
/// `SIP/2.0/<transport> <sent-by>`, one space, then parameters written
/// without white space or quotes, all well-formed. `None` for anything
/// else, which the general path reads as it would have.
#[inline]
pub(crate) fn parse_single_usual(v: &[u8]) -> Option<Via<'_>> {
    if !crate::byte_scan::eq_name(v.get(..8)?, b"SIP/2.0/") {
        return None;
    }
    let t_end = crate::grammar::skip(v, 8, cls::TOKEN);
    if t_end == 8 || v.get(t_end) != Some(&b' ') {
        return None;
    }
    let at = t_end + 1;
    // A dotted quad holds no delimiter: read in place, it ends where the
    // sent-by does when a delimiter follows it.
    let (host, port, n) = match crate::host::parse_hostport_usual(&v[at..]) {
        Some((addr, port, used))
            if v.get(at + used)
                .is_none_or(|&b| crate::grammar::is(b, cls::ADDR_STOP)) =>
        {
            (Host::Ipv4(addr), port, at + used)
        }
        _ => {
            let n = at + before(&v[at..], cls::ADDR_STOP);
            let (host, port, used) = parse_hostport(&v[at..n]).ok()?;
            if at + used != n {
                return None;
            }
            (host, port, n)
        }
    };
    let mut marks = Marks::default();
    let params = crate::grammar::params_usual(v, n, |p| marks.note(p).is_none())?;
    Some(Via {
        transport: transport(&v[8..t_end]),
        host,
        port,
        params,
        marks,
    })
}

impl<'a> Via<'a> {
    /// The transport.
    pub fn transport(&self) -> Transport<'a> {
        self.transport
    }
    /// The sent-by host.
    pub fn host(&self) -> Host<'a> {
        self.host
    }
    /// The sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// All parameters.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.marks.branch.get(&self.params).flatten()
    }
    /// The `received` parameter (checked to be an address when parsed).
    pub fn received(&self) -> Option<IpAddr> {
        self.marks
            .received
            .get(&self.params)
            .flatten()
            .and_then(parse_ip_loose)
    }
    /// The `rport` parameter: `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.marks.rport.get(&self.params).map(|v| {
            v.and_then(crate::grammar::parse_u32)
                .and_then(|p| u16::try_from(p).ok())
        })
    }
}

/// The transport token of a sent-protocol.
#[inline]
fn transport(t: &[u8]) -> Transport<'_> {
    let is = |name: &[u8]| crate::byte_scan::eq_name(t, name);
    match t.len() {
        3 if is(b"UDP") => Transport::Udp,
        3 if is(b"TCP") => Transport::Tcp,
        3 if is(b"TLS") => Transport::Tls,
        4 if is(b"SCTP") => Transport::Sctp,
        2 if is(b"WS") => Transport::Ws,
        3 if is(b"WSS") => Transport::Wss,
        // Tokens are ASCII.
        _ => Transport::Other(crate::grammar::ascii_text(t)),
    }
}

/// Reads `SIP / 2.0 /` at the cursor, white space allowed around the
/// slashes.
#[cold]
fn sent_protocol_spaced(c: &mut Cursor<'_>) -> Result<(), Invalid> {
    let name = c
        .token()
        .ok_or(Invalid::new("missing protocol name", c.pos()))?;
    if !c.eat_sep(b'/') {
        return Err(Invalid::new("expected / after the protocol name", c.pos()));
    }
    c.skip_lws();
    let version = c
        .token()
        .ok_or(Invalid::new("missing protocol version", c.pos()))?;
    if !name.eq_ignore_ascii_case(b"SIP") || version != b"2.0" {
        return Err(Invalid::new("sent-protocol is not SIP/2.0", 0));
    }
    if !c.eat_sep(b'/') {
        return Err(Invalid::new("expected / before the transport", c.pos()));
    }
    Ok(())
}

#[inline]
fn parse_one<'a>(c: &mut Cursor<'a>) -> Result<Via<'a>, Invalid> {
    c.skip_lws();
    // Nearly every Via is written `SIP/2.0/` without spaces.
    match c.rest().get(..8) {
        Some(p) if crate::byte_scan::eq_name(p, b"SIP/2.0/") => c.set_pos(c.pos() + 8),
        _ => sent_protocol_spaced(c)?,
    }
    c.skip_lws();
    let t = c
        .token()
        .ok_or(Invalid::new("missing transport", c.pos()))?;
    let transport = transport(t);
    if !c.skip_lws() {
        return Err(Invalid::new("expected white space before sent-by", c.pos()));
    }
    let at = c.pos();
    let rest = c.rest();
    // The sent-by ends at `;`, `,` or white space.
    let n = before(rest, cls::ADDR_STOP);
    let (host, port, used) = parse_hostport(&rest[..n]).map_err(|e| e.shifted(at))?;
    if used != n {
        return Err(Invalid::new("unexpected text after sent-by", at + used));
    }
    c.set_pos(at + n);
    // The grammar of every parameter comes first; then what these three
    // must hold.
    let mut wrong = None;
    let mut marks = Marks::default();
    let params = params_general(c, |p| {
        if let Some(reason) = marks.note(&p) {
            wrong.get_or_insert(reason);
        }
        Ok(())
    })?;
    if let Some(reason) = wrong {
        return Err(Invalid::new(reason, at));
    }
    c.skip_lws();
    if !c.at_end() && c.peek() != Some(b',') {
        return Err(Invalid::new(
            "unexpected text after Via parameters",
            c.pos(),
        ));
    }
    Ok(Via {
        transport,
        host,
        port,
        params,
        marks,
    })
}

/// The Via values of one header, read lazily.
#[derive(Debug, Clone)]
pub struct ViaList<'a> {
    c: Cursor<'a>,
}

impl<'a> ViaList<'a> {
    pub(crate) fn new(value: &'a [u8]) -> Self {
        ViaList {
            c: Cursor::new(value),
        }
    }
}

impl<'a> Iterator for ViaList<'a> {
    type Item = Result<Via<'a>, Invalid>;
    fn next(&mut self) -> Option<Self::Item> {
        self.c.skip_lws();
        if self.c.at_end() {
            return None;
        }
        match parse_one(&mut self.c) {
            Ok(v) => {
                if self.c.eat_sep(b',') {
                    self.c.skip_lws();
                    if self.c.at_end() {
                        let at = self.c.pos();
                        self.c.set_pos(usize::MAX);
                        return Some(Err(Invalid::new("empty Via element", at)));
                    }
                }
                Some(Ok(v))
            }
            Err(e) => {
                self.c.set_pos(usize::MAX);
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Via of a value, read as the message check reads them.
    fn check(value: &[u8]) -> Result<(), Invalid> {
        if crate::grammar::trim(value).is_empty() {
            return Err(Invalid::new("empty value", 0));
        }
        for v in ViaList::new(value) {
            v?;
        }
        Ok(())
    }

    #[test]
    fn folded_via_list_from_wsinv() {
        let v = b"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239";
        let all: Vec<_> = ViaList::new(v).map(Result::unwrap).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].transport(), Transport::Tcp);
        assert_eq!(all[0].branch(), Some(&b"z9hG4bK9ikj8"[..]));
        assert_eq!(
            all[1].host(),
            Host::Ipv4("192.168.255.111".parse().unwrap())
        );
        assert_eq!(all[1].branch(), Some(&b"z9hG4bK30239"[..]));
    }

    #[test]
    fn ipv6_sent_by_received_and_rport() {
        let v = b"SIP/2.0/UDP [2001:db8::9:1]:5070;received=[2001:db8::9:255];rport=5071;branch=z9hG4bKas3";
        let via = ViaList::new(v).next().unwrap().unwrap();
        assert_eq!(via.host(), Host::Ipv6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(via.port(), Some(5070));
        assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
        assert_eq!(via.rport(), Some(Some(5071)));
        let via = ViaList::new(b"SIP/2.0/WSS [::ffff:192.0.2.10];rport;received=2001:db8::9:255")
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(via.transport(), Transport::Wss);
        assert_eq!(via.rport(), Some(None));
        assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
    }

    #[test]
    fn via_defects() {
        assert_eq!(
            check(b"SIP/2.0/UDP 192.0.2.15;;,;,,").unwrap_err().reason,
            "empty or invalid parameter name"
        );
        assert_eq!(
            check(b"SIP/7.0/UDP c.example.com").unwrap_err().reason,
            "sent-protocol is not SIP/2.0"
        );
        assert!(check(b"SIP/2.0/UDP host;received=host.example.com").is_err());
        assert!(check(b"SIP/2.0/UDP 2001:db8::1").is_err());
        assert!(check(b"SIP/2.0/UDP h, ").is_err());
    }
}
