//! The modules with one plain listener each, read alike: MSRP (core),
//! mod_xml_rpc, mod_h323 / mod_opal, mod_skinny, mod_rtmp,
//! mod_erlang_event and mod_event_multicast.

use crate::discover::{Discovery, Found};
use crate::inventory::{Address, Family, Kind, PortRange, Transport};
use crate::provenance::Provenance;
use crate::setting::{address, host_address, port, split_host_port};
use crate::warning::{Warning, WarningKind};
use crate::xml::Node;

/// Adds the services of every loaded module of this family.
pub fn read(d: &mut Discovery) {
    msrp(d);
    let any4 = Address::Any {
        family: Some(Family::Ipv4),
    };
    if d.loaded("mod_xml_rpc").is_some() {
        let settings = settings_of(d, "xml_rpc.conf");
        Listener {
            module: "mod_xml_rpc",
            name: "xml_rpc".to_string(),
            kind: Kind::XmlRpc,
            transport: Transport::Tcp,
            ip: (None, any4.clone()),
            port: ("http-port", Some(8080)),
        }
        .add(d, settings);
    }
    for (module, conf) in [("mod_h323", "h323.conf"), ("mod_opal", "opal.conf")] {
        if d.loaded(module).is_some() {
            h323(d, module, conf);
        }
    }
    if d.loaded("mod_skinny").is_some() {
        for (name, settings) in profiles(d, "skinny.conf") {
            let host = Address::Host {
                family: Family::Ipv4,
            };
            Listener {
                module: "mod_skinny",
                name: format!("skinny/{name}"),
                kind: Kind::Skinny,
                transport: Transport::Tcp,
                ip: (Some("ip"), host),
                port: ("port", Some(2000)),
            }
            .add(d, Some(settings));
        }
    }
    if d.loaded("mod_rtmp").is_some() {
        for (name, settings) in profiles(d, "rtmp.conf") {
            rtmp(d, &name, settings);
        }
    }
    if d.loaded("mod_erlang_event").is_some() {
        let settings = settings_of(d, "erlang_event.conf");
        Listener {
            module: "mod_erlang_event",
            name: "erlang_event".to_string(),
            kind: Kind::ErlangEvent,
            transport: Transport::Tcp,
            ip: (Some("listen-ip"), any4.clone()),
            port: ("listen-port", Some(8031)),
        }
        .add(d, settings);
    }
    if d.loaded("mod_event_multicast").is_some() {
        let settings = settings_of(d, "event_multicast.conf");
        let group = Address::Ip {
            ip: "225.1.1.1".parse().expect("a literal address"),
        };
        Listener {
            module: "mod_event_multicast",
            name: "event_multicast".to_string(),
            kind: Kind::EventMulticast,
            transport: Transport::Udp,
            ip: (Some("address"), group),
            port: ("port", Some(4242)),
        }
        .add(d, settings);
    }
}

/// `<configuration name=CONF>/<settings>`.
fn settings_of<'d, 'a>(d: &Discovery<'d, 'a>, conf: &str) -> Option<Node<'d>> {
    d.doc
        .configuration(conf)?
        .children()
        .find(|n| n.has_tag_name("settings"))
}

/// `<configuration name=CONF>/<profiles>/<profile>`, each with its settings
/// (or the profile itself when params sit directly in it).
fn profiles<'d, 'a>(d: &Discovery<'d, 'a>, conf: &str) -> Vec<(String, Node<'d>)> {
    let Some(conf) = d.doc.configuration(conf) else {
        return Vec::new();
    };
    conf.children()
        .filter(|n| n.has_tag_name("profiles"))
        .flat_map(|n| n.children())
        .filter(|n| n.has_tag_name("profile"))
        .map(|p| {
            let name = p.attribute("name").unwrap_or_default().to_string();
            (
                name,
                p.children()
                    .find(|n| n.has_tag_name("settings"))
                    .unwrap_or(p),
            )
        })
        .collect()
}

/// A listener whose address and port are each one param, or a default.
struct Listener<'s> {
    module: &'s str,
    name: String,
    kind: Kind,
    transport: Transport,
    /// The address setting, if the module has one, and the default.
    ip: (Option<&'s str>, Address),
    /// The port setting and its default.
    port: (&'s str, Option<u16>),
}

impl Listener<'_> {
    fn add(self, d: &mut Discovery, settings: Option<Node>) {
        let doc = d.doc;
        let mut provenance = Vec::new();
        let (ip_setting, default_ip) = self.ip;
        let addr = match ip_setting {
            Some(setting) => {
                let p = settings.and_then(|s| doc.param(s, setting));
                let a = address(p.as_ref(), default_ip, &mut d.warnings);
                provenance.push(p.map_or_else(
                    || d.default_at(settings, self.module, setting),
                    |p| p.provenance,
                ));
                a
            }
            None => default_ip,
        };
        let (port_setting, default_port) = self.port;
        let p = settings.and_then(|s| doc.param(s, port_setting));
        let ports = port(p.as_ref(), default_port, &mut d.warnings).map(PortRange::single);
        provenance.push(p.map_or_else(
            || d.default_at(settings, self.module, port_setting),
            |p| p.provenance,
        ));
        d.add(
            self.module,
            Found {
                name: self.name,
                kind: self.kind,
                transport: self.transport,
                address: addr,
                ports,
                provenance,
            },
        );
    }
}

/// MSRP is part of the core and listens only when a port is configured.
fn msrp(d: &mut Discovery) {
    let Some(settings) = settings_of(d, "msrp.conf") else {
        return;
    };
    let doc = d.doc;
    let ip_param = doc.param(settings, "listen-ip");
    let host = Address::Host {
        family: Family::Ipv4,
    };
    let addr = address(ip_param.as_ref(), host, &mut d.warnings);
    for (setting, kind, transport) in [
        ("listen-port", Kind::Msrp, Transport::Tcp),
        ("listen-ssl-port", Kind::MsrpTls, Transport::Tls),
    ] {
        let Some(p) = doc.param(settings, setting) else {
            continue;
        };
        if p.value.trim() == "0" {
            continue;
        }
        let Some(port) = port(Some(&p), None, &mut d.warnings) else {
            if p.value.trim().is_empty()
                && crate::setting::blocking_unknown(&p.provenance).is_none()
            {
                continue;
            }
            d.add(
                "core",
                unknown_port("msrp", kind, transport, &addr, &ip_param, p.provenance),
            );
            continue;
        };
        let mut provenance: Vec<Provenance> =
            ip_param.iter().map(|p| p.provenance.clone()).collect();
        provenance.push(p.provenance);
        d.add(
            "core",
            Found {
                name: "msrp".into(),
                kind,
                transport,
                address: addr.clone(),
                ports: Some(PortRange::single(port)),
                provenance,
            },
        );
    }
}

fn unknown_port(
    name: &str,
    kind: Kind,
    transport: Transport,
    addr: &Address,
    ip: &Option<crate::xml::Param>,
    port: Provenance,
) -> Found {
    let mut provenance: Vec<Provenance> = ip.iter().map(|p| p.provenance.clone()).collect();
    provenance.push(port);
    Found {
        name: name.into(),
        kind,
        transport,
        address: addr.clone(),
        ports: None,
        provenance,
    }
}

/// H.323 listeners (`<listeners>/<listener>`) for signalling, and the RAS
/// port when a gatekeeper is configured.
fn h323(d: &mut Discovery, module: &str, conf: &str) {
    let doc = d.doc;
    let Some(config) = doc.configuration(conf) else {
        return;
    };
    let listeners: Vec<Node> = config
        .children()
        .filter(|n| n.has_tag_name("listeners"))
        .flat_map(|n| n.children())
        .filter(|n| n.has_tag_name("listener"))
        .collect();
    let any = Address::Any { family: None };
    for listener in listeners {
        let name = format!(
            "{}/{}",
            module.trim_start_matches("mod_"),
            listener.attribute("name").unwrap_or_default()
        );
        Listener {
            module,
            name,
            kind: Kind::H323Q931,
            transport: Transport::Tcp,
            ip: (Some("h323-ip"), any.clone()),
            port: ("h323-port", Some(1720)),
        }
        .add(d, Some(listener));
    }
    let settings = config.children().find(|n| n.has_tag_name("settings"));
    if let Some(gk) = settings.and_then(|s| doc.param(s, "gk-address")) {
        if !gk.value.trim().is_empty() {
            d.add(
                module,
                Found {
                    name: format!("{}/gatekeeper", module.trim_start_matches("mod_")),
                    kind: Kind::H323Ras,
                    transport: Transport::Udp,
                    address: any,
                    ports: Some(PortRange::single(1719)),
                    provenance: vec![gk.provenance],
                },
            );
        }
    }
}

/// mod_rtmp's `bind-address` is `host:port` in one setting.
fn rtmp(d: &mut Discovery, name: &str, settings: Node) {
    let doc = d.doc;
    let param = doc.param(settings, "bind-address");
    let text = param
        .as_ref()
        .map_or("0.0.0.0:1935", |p| p.value.as_str())
        .to_string();
    let (host, port_text) = split_host_port(&text);
    let ports = match port_text.unwrap_or("1935").trim().parse::<u16>() {
        Ok(p) if p > 0 => Some(PortRange::single(p)),
        _ => {
            d.warnings.push(Warning {
                kind: WarningKind::BadValue,
                at: doc.location(settings),
                message: format!("bind-address \"{text}\" has no usable port"),
            });
            None
        }
    };
    let provenance = param.map_or_else(
        || d.default_at(Some(settings), "mod_rtmp", "bind-address"),
        |p| p.provenance,
    );
    let any4 = Address::Any {
        family: Some(Family::Ipv4),
    };
    let address = host_address(host, &provenance, any4);
    d.add(
        "mod_rtmp",
        Found {
            name: format!("rtmp/{name}"),
            kind: Kind::Rtmp,
            transport: Transport::Tcp,
            address,
            ports,
            provenance: vec![provenance],
        },
    );
}
