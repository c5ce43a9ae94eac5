//! The built-in service catalog: what each kind of service listens on by
//! default, so that a policy can say `kind = "esl"` and mean 8021/tcp.
//!
//! The ports are those of the classic FreeSWITCH firewall table (and what
//! the vanilla configuration binds); a policy can override ports and
//! protocols per service.

use crate::port::{PortRange, Protocol};
use std::fmt;

/// A kind of service. The kind decides default ports and what sipwall does
/// beyond opening them (conntrack helpers, DSCP marks, SIP inspection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Plain SIP (UDP and TCP): DSCP CS3, SIP helper, SIP inspection.
    Sip,
    /// SIP over TLS: DSCP CS3, nothing readable.
    SipTls,
    /// SIP over WebSocket.
    Ws,
    /// SIP over secure WebSocket.
    Wss,
    /// mod_verto (WebSocket, plain and secure).
    Verto,
    /// mod_event_socket, the FreeSWITCH control port.
    Esl,
    /// H.323 gatekeeper RAS: the `RAS` conntrack helper.
    H323Ras,
    /// H.323 call signalling (Q.931): the `Q.931` conntrack helper.
    H323Q931,
    /// MSRP (messaging in calls).
    Msrp,
    /// STUN, for hosts that really run a STUN server (FreeSWITCH does not).
    Stun,
    /// The "MLP protocol server" of the classic table (no FreeSWITCH module uses it).
    Mlp,
    /// The "Neighborhood service" of the classic table (no FreeSWITCH module uses it).
    Neighborhood,
    /// mod_xml_rpc's HTTP server.
    XmlRpc,
    /// SSH, so the admin is never locked out.
    Ssh,
    /// Anything else: ports and protocols must be given.
    Custom,
}

/// Every kind with its policy-file name, in catalog order.
pub const KINDS: &[(Kind, &str)] = &[
    (Kind::Sip, "sip"),
    (Kind::SipTls, "sip-tls"),
    (Kind::Ws, "ws"),
    (Kind::Wss, "wss"),
    (Kind::Verto, "verto"),
    (Kind::Esl, "esl"),
    (Kind::H323Ras, "h323-ras"),
    (Kind::H323Q931, "h323-q931"),
    (Kind::Msrp, "msrp"),
    (Kind::Stun, "stun"),
    (Kind::Mlp, "mlp"),
    (Kind::Neighborhood, "neighborhood"),
    (Kind::XmlRpc, "xml-rpc"),
    (Kind::Ssh, "ssh"),
    (Kind::Custom, "custom"),
];

impl Kind {
    /// The kind's name in the policy file.
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .expect("every kind is in KINDS")
    }

    /// Looks a kind up by its policy-file name.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    /// The default ports and protocols; `None` for [`Kind::Custom`].
    pub fn defaults(self) -> Option<(&'static [Protocol], PortRange)> {
        use Protocol::{Tcp, Udp};
        let r = |a, b| PortRange::new(a, b).expect("catalog ranges are valid");
        Some(match self {
            Kind::Sip => (&[Udp, Tcp], r(5060, 5060)),
            Kind::SipTls => (&[Tcp], r(5061, 5061)),
            Kind::Ws => (&[Tcp], r(5066, 5066)),
            Kind::Wss => (&[Tcp], r(7443, 7443)),
            Kind::Verto => (&[Tcp], r(8081, 8082)),
            Kind::Esl => (&[Tcp], r(8021, 8021)),
            Kind::H323Ras => (&[Udp], r(1719, 1719)),
            Kind::H323Q931 => (&[Tcp], r(1720, 1720)),
            Kind::Msrp => (&[Tcp], r(2855, 2856)),
            Kind::Stun => (&[Udp], r(3478, 3479)),
            Kind::Mlp => (&[Tcp], r(5002, 5002)),
            Kind::Neighborhood => (&[Udp], r(5003, 5003)),
            Kind::XmlRpc => (&[Tcp], r(8080, 8080)),
            Kind::Ssh => (&[Tcp], r(22, 22)),
            Kind::Custom => return None,
        })
    }

    /// Whether outgoing traffic of this kind is SIP signalling (DSCP CS3).
    pub fn is_signalling(self) -> bool {
        matches!(self, Kind::Sip | Kind::SipTls | Kind::Ws | Kind::Wss)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (k, n) in KINDS {
            assert_eq!(Kind::from_name(n), Some(*k));
            assert_eq!(k.name(), *n);
        }
        assert_eq!(Kind::from_name("SIP"), None);
    }

    #[test]
    fn catalog_matches_the_classic_table() {
        let d = |k: Kind| {
            let (p, r) = k.defaults().unwrap();
            (p.to_vec(), r.to_string())
        };
        assert_eq!(d(Kind::Esl), (vec![Protocol::Tcp], "8021".into()));
        assert_eq!(d(Kind::Verto), (vec![Protocol::Tcp], "8081-8082".into()));
        assert_eq!(d(Kind::H323Ras), (vec![Protocol::Udp], "1719".into()));
        assert_eq!(d(Kind::Stun), (vec![Protocol::Udp], "3478-3479".into()));
        assert_eq!(
            d(Kind::Sip),
            (vec![Protocol::Udp, Protocol::Tcp], "5060".into())
        );
        assert!(Kind::Custom.defaults().is_none());
    }
}
