//! mod_sofia's SIP profiles (`sofia.conf` → `<profiles>/<profile>`): the
//! plain SIP port on UDP and TCP, TLS, and the WebSocket bindings.

use crate::discover::{Discovery, Found};
use crate::inventory::{Address, Family, Kind, PortRange, Profile, Transport};
use crate::setting::{address, atoi_port, host_address, is_true, split_host_port};
use crate::warning::{Warning, WarningKind};
use crate::xml::{Node, Param};

/// The module.
pub const MODULE: &str = "mod_sofia";
/// mod_sofia's default `sip-port`.
pub const DEFAULT_SIP_PORT: u16 = 5060;
/// mod_sofia's default `tls-sip-port`.
pub const DEFAULT_TLS_PORT: u16 = 5061;

/// Adds every profile's services; returns the profiles.
pub fn read(d: &mut Discovery) -> Vec<Profile> {
    if d.loaded(MODULE).is_none() {
        return Vec::new();
    }
    if let Some(at) = d.loaded("mod_signalwire").map(|m| m.at.clone()) {
        d.warnings.push(Warning {
            kind: WarningKind::Dynamic,
            at,
            message: "mod_signalwire may add a sofia profile at run time whose ports are in no file; `sofia xmlstatus` over ESL lists the real bindings".into(),
        });
    }
    let doc = d.doc;
    let Some(conf) = doc.configuration("sofia.conf") else {
        return Vec::new();
    };
    let profiles: Vec<Node> = conf
        .children()
        .filter(|n| n.has_tag_name("profiles"))
        .flat_map(|n| n.children())
        .filter(|n| n.has_tag_name("profile"))
        .collect();
    profiles.into_iter().map(|p| profile(d, p)).collect()
}

fn profile(d: &mut Discovery, node: Node) -> Profile {
    let doc = d.doc;
    let name = node.attribute("name").unwrap_or_default().to_string();
    let service = format!("sofia/{name}");
    let settings = node.children().find(|n| n.has_tag_name("settings"));
    let get = |setting: &str| settings.and_then(|s| doc.param(s, setting));
    let or_default = |p: &Option<Param>, setting: &str| match p {
        Some(p) => p.provenance.clone(),
        None => doc.default(settings.unwrap_or(node), setting),
    };

    // Without sip-ip mod_sofia binds the address it guessed for the host.
    let ip_param = get("sip-ip");
    let ip = address(
        ip_param.as_ref(),
        Address::Host {
            family: Family::Ipv4,
        },
        &mut d.warnings,
    );
    let ip_prov = or_default(&ip_param, "sip-ip");

    let port_param = get("sip-port");
    // mod_sofia reads it with atoi and binds its default when that gives 0.
    let sip_port = atoi_port(port_param.as_ref(), DEFAULT_SIP_PORT, &mut d.warnings);
    let port_prov = or_default(&port_param, "sip-port");

    let tls_param = get("tls");
    let tls = tls_param.as_ref().is_some_and(|p| is_true(&p.value));
    let tls_only_param = get("tls-only");
    let tls_only = tls && tls_only_param.as_ref().is_some_and(|p| is_true(&p.value));

    if !tls_only {
        let bind = get("bind-params");
        let mut transports = vec![Transport::Udp, Transport::Tcp];
        let mut prov = vec![ip_prov.clone(), port_prov.clone()];
        if let Some(bind) = &bind {
            if let Some(list) = transport_list(&bind.value) {
                transports = list;
            }
            prov.push(bind.provenance.clone());
        }
        for transport in transports {
            d.add(
                MODULE,
                Found {
                    name: service.clone(),
                    kind: Kind::Sip,
                    transport,
                    address: ip.clone(),
                    ports: sip_port.map(PortRange::single),
                    provenance: prov.clone(),
                },
            );
        }
    }

    if tls {
        let tls_port_param = get("tls-sip-port");
        let tls_port = atoi_port(tls_port_param.as_ref(), DEFAULT_TLS_PORT, &mut d.warnings);
        let mut prov = vec![ip_prov.clone()];
        prov.extend(tls_param.as_ref().map(|p| p.provenance.clone()));
        prov.extend(
            tls_only_param
                .as_ref()
                .filter(|_| tls_only)
                .map(|p| p.provenance.clone()),
        );
        prov.push(or_default(&tls_port_param, "tls-sip-port"));
        d.add(
            MODULE,
            Found {
                name: service.clone(),
                kind: Kind::SipTls,
                transport: Transport::Tls,
                address: ip.clone(),
                ports: tls_port.map(PortRange::single),
                provenance: prov,
            },
        );
    }

    for (setting, kind, transport) in [
        ("ws-binding", Kind::Ws, Transport::Ws),
        ("wss-binding", Kind::Wss, Transport::Wss),
    ] {
        let Some(binding) = get(setting) else {
            continue;
        };
        if binding.value.trim().is_empty() {
            continue;
        }
        let (host, port_text) = split_host_port(&binding.value);
        let mut prov = vec![binding.provenance.clone()];
        // An empty host means the profile's sip-ip.
        let addr = if host.is_empty() {
            prov.push(ip_prov.clone());
            ip.clone()
        } else {
            host_address(host, &binding.provenance, ip.clone())
        };
        let ports = match port_text.map(str::trim).map(str::parse::<u16>) {
            Some(Ok(p)) if p > 0 => Some(PortRange::single(p)),
            _ => {
                d.warnings.push(Warning {
                    kind: WarningKind::BadValue,
                    at: binding.provenance.at.clone(),
                    message: format!("{setting} \"{}\" has no usable port", binding.value),
                });
                None
            }
        };
        d.add(
            MODULE,
            Found {
                name: service.clone(),
                kind,
                transport,
                address: addr,
                ports,
                provenance: prov,
            },
        );
    }

    Profile {
        name,
        at: doc.location(node),
        sip_ip: ip,
        sip_port,
        tls,
        tls_only,
        gateways: crate::gateway::read(doc, node),
    }
}

/// The transports named by `transport=` in bind-params, if any.
fn transport_list(bind_params: &str) -> Option<Vec<Transport>> {
    let value = bind_params
        .split(';')
        .find_map(|p| p.trim().strip_prefix("transport="))?;
    let list: Vec<Transport> = value
        .split(',')
        .filter_map(|t| match t.trim().to_ascii_lowercase().as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            _ => None,
        })
        .collect();
    (!list.is_empty()).then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_params_transport() {
        assert_eq!(transport_list("transport=udp"), Some(vec![Transport::Udp]));
        assert_eq!(
            transport_list("maddr=192.0.2.1;transport=udp,tcp"),
            Some(vec![Transport::Udp, Transport::Tcp])
        );
        assert_eq!(transport_list("maddr=192.0.2.1"), None);
    }
}
