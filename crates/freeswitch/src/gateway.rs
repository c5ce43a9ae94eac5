//! A sofia profile's gateways (`<gateways>/<gateway name=...>`): the SIP
//! trunks FreeSWITCH registers with or sends calls to. Their hosts are the
//! peers a firewall must never ban on forged evidence, so discovery lists
//! each one with where it is set.
//!
//! FreeSWITCH's defaults: `realm` is the gateway's name, `proxy` the realm,
//! `register-proxy` the proxy; `outbound-proxy` is only used when set.
//! A value may be a SIP URI (`sip:host:port;transport=tcp`) or `host:port`.

use crate::inventory::Address;
use crate::provenance::Location;
use crate::setting::{parse_address, split_host_port};
use crate::xml::{Document, Node};
use serde::Serialize;

/// The settings that name a gateway's hosts, in FreeSWITCH's order of defaults.
pub const HOST_SETTINGS: &[&str] = &["realm", "proxy", "register-proxy", "outbound-proxy"];

/// One gateway of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gateway {
    /// Its `name` attribute.
    pub name: String,
    /// Its `<gateway>` element.
    #[serde(flatten)]
    pub at: Location,
    /// The hosts it talks to, each once, in the order of [`HOST_SETTINGS`].
    pub hosts: Vec<GatewayHost>,
}

/// A host a gateway talks to, and the setting that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayHost {
    /// `realm`, `proxy`, `register-proxy` or `outbound-proxy`; `name` when
    /// the host is the gateway's name (no realm, no proxy).
    pub setting: String,
    /// The value as written (after preprocessing).
    pub value: String,
    /// Where it is set (the `<gateway>` element for a default).
    #[serde(flatten)]
    pub at: Location,
    /// The host, without scheme, user, port or URI parameters.
    pub host: Address,
}

/// The gateways under `profile`'s `<gateways>` elements.
pub fn read(doc: &Document, profile: Node) -> Vec<Gateway> {
    profile
        .children()
        .filter(|n| n.has_tag_name("gateways"))
        .flat_map(|n| n.children())
        .filter(|n| n.has_tag_name("gateway"))
        .map(|g| gateway(doc, g))
        .collect()
}

fn gateway(doc: &Document, node: Node) -> Gateway {
    let name = node.attribute("name").unwrap_or_default().to_string();
    let at = doc.location(node);
    let set = |setting: &str| {
        doc.param(node, setting)
            .filter(|p| !p.value.trim().is_empty())
    };
    let mut hosts: Vec<GatewayHost> = Vec::new();
    let mut push = |setting: &str, value: &str, at: Location| {
        let host = parse_address(host_of(value));
        if !hosts.iter().any(|h| h.host == host) {
            hosts.push(GatewayHost {
                setting: setting.to_string(),
                value: value.to_string(),
                at,
                host,
            });
        }
    };
    // realm defaults to the name, proxy to the realm: the first one set is
    // where calls and registrations go when nothing else is said.
    let proxy = set("proxy").or_else(|| set("realm"));
    match &proxy {
        Some(p) => push(&p.provenance.setting, &p.value, p.provenance.at.clone()),
        None if !name.trim().is_empty() => push("name", &name, at.clone()),
        None => {}
    }
    for setting in ["register-proxy", "outbound-proxy"] {
        if let Some(p) = set(setting) {
            push(setting, &p.value, p.provenance.at.clone());
        }
    }
    Gateway { name, at, hosts }
}

/// The host of a proxy value: `sip:user@[2001:db8::1]:5061;transport=tls` -> `[2001:db8::1]`.
pub fn host_of(value: &str) -> &str {
    let v = value.trim();
    let v = ["sip:", "sips:", "SIP:", "SIPS:"]
        .iter()
        .find_map(|s| v.strip_prefix(s))
        .unwrap_or(v);
    let v = v.split([';', '?']).next().unwrap_or(v);
    let v = v.rsplit_once('@').map_or(v, |(_, host)| host);
    split_host_port(v).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Address;

    #[test]
    fn hosts_lose_scheme_user_port_and_parameters() {
        assert_eq!(host_of("192.0.2.5"), "192.0.2.5");
        assert_eq!(host_of("192.0.2.5:5080"), "192.0.2.5");
        assert_eq!(
            host_of("sip:trunk@192.0.2.5:5061;transport=tls"),
            "192.0.2.5"
        );
        assert_eq!(host_of("[2001:db8::5]:5060"), "[2001:db8::5]");
        assert_eq!(host_of("2001:db8::5"), "2001:db8::5");
        assert_eq!(host_of("sip.example.com"), "sip.example.com");
        assert_eq!(
            parse_address(host_of("sips:[2001:db8::5]:5061")),
            Address::Ip {
                ip: "2001:db8::5".parse().unwrap()
            }
        );
    }
}
