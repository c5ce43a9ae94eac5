//! mod_event_socket (`event_socket.conf`): the ESL listener and the
//! settings that decide who may drive FreeSWITCH through it.

use crate::discover::{Discovery, Found};
use crate::inventory::{Address, EventSocket, Kind, PortRange, Transport};
use crate::setting::{address, port};

/// The module.
pub const MODULE: &str = "mod_event_socket";
/// mod_event_socket's defaults.
pub const DEFAULT_IP: &str = "127.0.0.1";
/// The default port.
pub const DEFAULT_PORT: u16 = 8021;
/// The default password, public since forever (CVE-2019-19492).
pub const DEFAULT_PASSWORD: &str = "ClueCon";
/// The ACL applied when none is configured (FreeSWITCH 1.6 and later).
pub const DEFAULT_ACL: &str = "loopback.auto";

/// Adds the ESL listener and returns its settings.
pub fn read(d: &mut Discovery) -> Option<EventSocket> {
    d.loaded(MODULE)?;
    let doc = d.doc;
    let conf = doc.configuration("event_socket.conf");
    let settings = conf.and_then(|c| c.children().find(|n| n.has_tag_name("settings")));
    let get = |name: &str| settings.and_then(|s| doc.param(s, name));
    let anchor = settings.or(conf);
    let ip_param = get("listen-ip");
    let default_ip = Address::Ip {
        ip: DEFAULT_IP.parse().expect("a literal address"),
    };
    let listen_ip = address(ip_param.as_ref(), default_ip, &mut d.warnings);
    let port_param = get("listen-port");
    let listen_port = port(port_param.as_ref(), Some(DEFAULT_PORT), &mut d.warnings);
    let password_param = get("password");
    let password = match &password_param {
        Some(p) if !p.value.is_empty() => p.value.clone(),
        _ => DEFAULT_PASSWORD.to_string(),
    };
    let acls: Vec<_> = settings
        .map(|s| doc.params(s, "apply-inbound-acl"))
        .unwrap_or_default()
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| !p.value.trim().is_empty())
        .collect();

    let mut provenance = vec![
        ip_param.map_or_else(
            || d.default_at(anchor, MODULE, "listen-ip"),
            |p| p.provenance,
        ),
        port_param.map_or_else(
            || d.default_at(anchor, MODULE, "listen-port"),
            |p| p.provenance,
        ),
    ];
    d.add(
        MODULE,
        Found {
            name: "event_socket".into(),
            kind: Kind::Esl,
            transport: Transport::Tcp,
            address: listen_ip.clone(),
            ports: listen_port.map(PortRange::single),
            provenance: provenance.clone(),
        },
    );
    provenance.push(password_param.map_or_else(
        || d.default_at(anchor, MODULE, "password"),
        |p| p.provenance,
    ));
    if acls.is_empty() {
        provenance.push(d.default_at(anchor, MODULE, "apply-inbound-acl"));
    }
    provenance.extend(acls.iter().map(|p| p.provenance.clone()));
    Some(EventSocket {
        listen_ip,
        port: listen_port,
        default_password: password == DEFAULT_PASSWORD,
        password,
        acl_is_default: acls.is_empty(),
        apply_inbound_acl: if acls.is_empty() {
            vec![DEFAULT_ACL.to_string()]
        } else {
            acls.into_iter().map(|p| p.value).collect()
        },
        provenance,
    })
}
