//! The core's media port range (`switch.conf` → `rtp-start-port`,
//! `rtp-end-port`). RTP takes even ports and RTCP the odd one above, so
//! the last RTCP port is `rtp-end-port + 1`.

use crate::discover::{Discovery, Found};
use crate::inventory::{Address, Kind, PortRange, Rtp, Transport};
use crate::setting::port;
use crate::warning::{Warning, WarningKind};

/// FreeSWITCH's default first RTP port.
pub const DEFAULT_START: u16 = 16384;
/// FreeSWITCH's default last RTP port.
pub const DEFAULT_END: u16 = 32768;

/// Adds the RTP/RTCP range and returns it.
pub fn read(d: &mut Discovery) -> Option<Rtp> {
    let doc = d.doc;
    let settings = doc
        .configuration("switch.conf")
        .and_then(|c| c.children().find(|n| n.has_tag_name("settings")));
    let start_param = settings.and_then(|s| doc.param(s, "rtp-start-port"));
    let end_param = settings.and_then(|s| doc.param(s, "rtp-end-port"));
    let start = port(start_param.as_ref(), Some(DEFAULT_START), &mut d.warnings);
    let end = port(end_param.as_ref(), Some(DEFAULT_END), &mut d.warnings);
    let provenance = vec![
        start_param.map_or_else(
            || d.default_at(settings, "core", "rtp-start-port"),
            |p| p.provenance,
        ),
        end_param.map_or_else(
            || d.default_at(settings, "core", "rtp-end-port"),
            |p| p.provenance,
        ),
    ];
    let (Some(start), Some(end)) = (start, end) else {
        d.add(
            "core",
            Found {
                name: "rtp".into(),
                kind: Kind::Rtp,
                transport: Transport::Udp,
                address: Address::Any { family: None },
                ports: None,
                provenance,
            },
        );
        return None;
    };
    if start > end {
        d.warnings.push(Warning {
            kind: WarningKind::BadValue,
            at: provenance[1].at.clone(),
            message: format!("rtp-end-port {end} is below rtp-start-port {start}"),
        });
    }
    let ports = PortRange {
        first: start.min(end),
        last: end.max(start).saturating_add(1),
    };
    d.add(
        "core",
        Found {
            name: "rtp".into(),
            kind: Kind::Rtp,
            transport: Transport::Udp,
            // Each profile binds media on its own rtp-ip; a firewall opens the range for all.
            address: Address::Any { family: None },
            ports: Some(ports),
            provenance: provenance.clone(),
        },
    );
    Some(Rtp {
        start,
        end,
        ports,
        provenance,
    })
}
