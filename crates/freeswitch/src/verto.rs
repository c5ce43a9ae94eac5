//! mod_verto (`verto.conf` → `<profiles>/<profile>`): each `bind-local`
//! is a WebSocket listener, TLS when it has `secure="true"`; a profile
//! with `mcast-ip` also binds a UDP socket on every address at
//! `mcast-port` to receive its multicast group (mod_verto's `mcast.c`:
//! `INADDR_ANY`, or `::` when the group has a colon).

use crate::discover::{Discovery, Found};
use crate::inventory::{Address, Family, Kind, PortRange, Transport};
use crate::setting::{atoi, host_address, is_true, split_host_port};
use crate::warning::{Warning, WarningKind};

/// The module.
pub const MODULE: &str = "mod_verto";

/// Adds every `bind-local` of every profile.
pub fn read(d: &mut Discovery) {
    if d.loaded(MODULE).is_none() {
        return;
    }
    let doc = d.doc;
    let Some(conf) = doc.configuration("verto.conf") else {
        return;
    };
    let profiles = conf
        .children()
        .filter(|n| n.has_tag_name("profiles"))
        .flat_map(|n| n.children())
        .filter(|n| n.has_tag_name("profile"));
    for profile in profiles {
        let name = format!("verto/{}", profile.attribute("name").unwrap_or_default());
        for (node, bind) in doc.params(profile, "bind-local") {
            let secure = node.attribute("secure").is_some_and(is_true);
            let (host, port_text) = split_host_port(&bind.value);
            let ports = match port_text.map(str::trim).map(str::parse::<u16>) {
                Some(Ok(p)) if p > 0 => Some(PortRange::single(p)),
                _ => {
                    d.warnings.push(Warning {
                        kind: WarningKind::BadValue,
                        at: bind.provenance.at.clone(),
                        message: format!("bind-local \"{}\" has no usable port", bind.value),
                    });
                    None
                }
            };
            // mod_verto binds every address when the host part is empty.
            let any = Address::Any { family: None };
            let (kind, transport) = if secure {
                (Kind::VertoTls, Transport::Wss)
            } else {
                (Kind::Verto, Transport::Ws)
            };
            d.add(
                MODULE,
                Found {
                    name: name.clone(),
                    kind,
                    transport,
                    address: host_address(host, &bind.provenance, any),
                    ports,
                    provenance: vec![bind.provenance],
                },
            );
        }
        multicast(d, profile, &name);
    }
}

/// The receiving socket of the profile's multicast group, if it has one.
fn multicast(d: &mut Discovery, profile: crate::xml::Node, name: &str) {
    let doc = d.doc;
    // mod_verto keeps the last of each setting; any value, even empty,
    // makes it create the group's sockets.
    let Some(ip) = doc.params(profile, "mcast-ip").pop().map(|(_, p)| p) else {
        return;
    };
    let port = doc.params(profile, "mcast-port").pop().map(|(_, p)| p);
    let family = if ip.value.contains(':') {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    // `(switch_port_t)atoi(val)`; absent or 0 binds a port the kernel picks.
    let number = port.as_ref().map_or(0, |p| atoi(&p.value) as u16);
    let ports = if number > 0 {
        Some(PortRange::single(number))
    } else {
        d.warnings.push(Warning {
            kind: WarningKind::BadValue,
            at: port
                .as_ref()
                .map_or_else(|| ip.provenance.at.clone(), |p| p.provenance.at.clone()),
            message: format!(
                "{name}: mcast-port is {}: the multicast socket gets a port the kernel picks",
                port.as_ref().map_or("unset", |p| p.value.as_str())
            ),
        });
        None
    };
    let mut provenance = vec![ip.provenance];
    provenance.extend(port.map(|p| p.provenance));
    d.add(
        MODULE,
        Found {
            name: name.to_owned(),
            kind: Kind::VertoMulticast,
            transport: Transport::Udp,
            address: Address::Any {
                family: Some(family),
            },
            ports,
            provenance,
        },
    );
}
