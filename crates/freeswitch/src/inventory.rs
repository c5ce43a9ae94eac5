//! What discovery produces: the services that really listen, each with its
//! ports and their provenance. Plain data, serialized as the documented
//! JSON of `docs/discover.md`.

use crate::provenance::{Location, Provenance, Unknown};
use crate::warning::Warning;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// The version of the JSON shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything discovery learned about one FreeSWITCH configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The configuration folder that was read.
    pub conf_dir: String,
    /// Every listening socket (or port range), in configuration order.
    pub services: Vec<Service>,
    /// The media port range, RTCP included.
    pub rtp: Option<Rtp>,
    /// The event socket (ESL), when mod_event_socket is loaded.
    pub event_socket: Option<EventSocket>,
    /// The modules FreeSWITCH loads, in load order.
    pub modules: Vec<Module>,
    /// The sofia (SIP) profiles, in configuration order.
    pub profiles: Vec<Profile>,
    /// What FreeSWITCH would tolerate but a reader should know.
    pub warnings: Vec<Warning>,
}

/// One listening socket, or a range of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// A stable name: `sofia/<profile>`, `verto/<profile>`, `event_socket`, `rtp`, ...
    pub name: String,
    /// What speaks on it.
    pub kind: Kind,
    /// How its messages travel.
    pub transport: Transport,
    /// The layer-4 protocol a firewall matches.
    pub protocol: Protocol,
    /// The module that opens it (`core` for FreeSWITCH itself).
    pub module: String,
    /// The local address it binds.
    pub address: Address,
    /// The ports; `None` when they depend on a value unknown at discovery.
    pub ports: Option<PortRange>,
    /// The settings that decided it, the module's `<load>` line first.
    pub provenance: Vec<Provenance>,
}

impl Service {
    /// Why the ports or the address are unknown, if they are.
    pub fn unknown_because(&self) -> Option<Unknown> {
        if self.ports.is_some() && !matches!(self.address, Address::Unknown { .. }) {
            return None;
        }
        self.provenance.iter().find_map(Provenance::unknown_because)
    }
}

/// The protocol a service speaks; names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// SIP in clear (UDP or TCP).
    Sip,
    /// SIP over TLS.
    SipTls,
    /// SIP over WebSocket.
    Ws,
    /// SIP over secure WebSocket.
    Wss,
    /// Verto (JSON-RPC over WebSocket).
    Verto,
    /// Verto over secure WebSocket.
    VertoTls,
    /// The event socket (ESL).
    Esl,
    /// RTP and RTCP media.
    Rtp,
    /// MSRP in clear.
    Msrp,
    /// MSRP over TLS.
    MsrpTls,
    /// mod_xml_rpc's HTTP server.
    XmlRpc,
    /// H.323 registration, admission and status (gatekeeper).
    H323Ras,
    /// H.323 call signalling (Q.931).
    H323Q931,
    /// Cisco SCCP (mod_skinny).
    Skinny,
    /// RTMP (mod_rtmp).
    Rtmp,
    /// mod_erlang_event's listener.
    ErlangEvent,
    /// mod_event_multicast's group.
    EventMulticast,
    /// mod_verto's multicast group (`mcast-ip`/`mcast-port`), which it
    /// sends to with TTL 0: only for processes on this host.
    VertoMulticast,
}

/// How a service's messages travel, which decides what a firewall can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Plain UDP datagrams.
    Udp,
    /// A plain TCP stream.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket over TCP.
    Ws,
    /// WebSocket over TLS over TCP.
    Wss,
}

impl Transport {
    /// The layer-4 protocol underneath.
    pub fn protocol(self) -> Protocol {
        match self {
            Transport::Udp => Protocol::Udp,
            _ => Protocol::Tcp,
        }
    }
}

/// A layer-4 protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// The local address a service binds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Address {
    /// One literal address.
    Ip {
        /// The address.
        ip: IpAddr,
    },
    /// Every address: `0.0.0.0` (IPv4) or `::` (IPv6, which on Linux also
    /// takes IPv4 unless `net.ipv6.bindv6only` is set); no family: both.
    Any {
        /// The family, if only one.
        #[serde(skip_serializing_if = "Option::is_none")]
        family: Option<Family>,
    },
    /// The host's own address that FreeSWITCH finds at start-up
    /// (`$${local_ip_v4}` / `$${local_ip_v6}`); give it with `--var` to pin it.
    Host {
        /// Which one.
        family: Family,
    },
    /// A name or text that is not an address (resolved by FreeSWITCH at start-up).
    Name {
        /// The text as configured.
        name: String,
    },
    /// A value only known when FreeSWITCH runs.
    Unknown {
        /// Why.
        because: Unknown,
    },
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip { ip } => write!(f, "{ip}"),
            Address::Any {
                family: Some(Family::Ipv4),
            } => f.write_str("0.0.0.0"),
            Address::Any {
                family: Some(Family::Ipv6),
            } => f.write_str("::"),
            Address::Any { family: None } => f.write_str("*"),
            Address::Host {
                family: Family::Ipv4,
            } => f.write_str("local_ip_v4"),
            Address::Host {
                family: Family::Ipv6,
            } => f.write_str("local_ip_v6"),
            Address::Name { name } => f.write_str(name),
            Address::Unknown { because } => write!(f, "unknown ({because:?})"),
        }
    }
}

/// Ports `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRange {
    /// The first port.
    pub first: u16,
    /// The last port, included.
    pub last: u16,
}

impl PortRange {
    /// A single port.
    pub fn single(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The RTP port range as configured, and what a firewall opens for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rtp {
    /// `rtp-start-port`.
    pub start: u16,
    /// `rtp-end-port`.
    pub end: u16,
    /// `start..=end + 1`: RTP takes even ports and RTCP the next one up.
    pub ports: PortRange,
    /// The two settings.
    pub provenance: Vec<Provenance>,
}

/// The event socket's settings, which matter beyond its port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSocket {
    /// `listen-ip`.
    pub listen_ip: Address,
    /// `listen-port`; `None` when unknown.
    pub port: Option<u16>,
    /// `password`.
    pub password: String,
    /// True when the password is FreeSWITCH's well-known default (CVE-2019-19492).
    pub default_password: bool,
    /// `apply-inbound-acl` entries; FreeSWITCH applies `loopback.auto` when there are none.
    pub apply_inbound_acl: Vec<String>,
    /// True when no `apply-inbound-acl` is set and the default applies.
    pub acl_is_default: bool,
    /// The settings.
    pub provenance: Vec<Provenance>,
}

/// A module FreeSWITCH loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    /// Its name, e.g. `mod_sofia`.
    pub name: String,
    /// The `<load>` line.
    #[serde(flatten)]
    pub at: Location,
}

/// A sofia profile, summarised; its sockets are in [`Inventory::services`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// Its `<profile>` element.
    #[serde(flatten)]
    pub at: Location,
    /// `sip-ip`.
    pub sip_ip: Address,
    /// `sip-port`; `None` when it depends on a value unknown at discovery.
    pub sip_port: Option<u16>,
    /// `tls`.
    pub tls: bool,
    /// `tls-only`: the plain SIP port is not bound.
    pub tls_only: bool,
    /// Its gateways (SIP trunks), in configuration order.
    pub gateways: Vec<crate::gateway::Gateway>,
}
