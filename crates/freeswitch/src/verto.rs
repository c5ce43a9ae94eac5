//! mod_verto (`verto.conf` → `<profiles>/<profile>`): each `bind-local`
//! is a WebSocket listener, TLS when it has `secure="true"`.

use crate::discover::{Discovery, Found};
use crate::inventory::{Address, Kind, PortRange, Transport};
use crate::setting::{host_address, is_true, split_host_port};
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
    }
}
