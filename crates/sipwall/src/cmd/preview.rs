//! What an apply opens and closes, by service, port, family and zone:
//! `apply --diff` before anything changes, and `apply`'s summary after.
//!
//! The judgement is `sipwall_ruleset::read::exposure` over the running
//! table as the kernel lists it and the new one as it will be loaded (both
//! read by the same reader), so a table written differently but meaning
//! the same shows no change. This module only names what changed: the new
//! policy's service and zone names where they fit, the port otherwise.

use sipwall_policy::{Policy, Protocol};
use sipwall_ruleset::read::exposure::{self, Probe, Source};
use sipwall_ruleset::read::{nft_text, Reach};
use sipwall_ruleset::Family;

/// One line of the preview.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// `opens`, `closes`, or `depends` (the reader cannot tell).
    pub change: &'static str,
    /// The new policy's service for that port, or `port`.
    pub service: String,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// `5060` or `16384-32769`.
    pub ports: String,
    /// `anywhere`, a zone's name, or a prefix.
    pub from: String,
    /// `IPv4`, `IPv6`.
    pub families: Vec<&'static str>,
}

/// What the apply changes: each line, families merged.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Preview {
    /// Whether sipwall's table was loaded before.
    pub table_loaded: bool,
    /// The changes (for a first apply: what it opens).
    pub lines: Vec<Line>,
}

/// The preview of replacing `running` (the kernel's listing of sipwall's
/// table, if loaded) with `new` (the text apply loads), named by `policy`.
pub fn preview(running: Option<&str>, new: &str, policy: &Policy) -> Result<Preview, String> {
    let new = nft_text::parse("new", new).map_err(|e| format!("reading the new table: {e}"))?;
    let mut raw: Vec<(&'static str, Probe)> = Vec::new();
    let table_loaded = running.is_some();
    match running {
        Some(text) => {
            let old = nft_text::parse("running", text)
                .map_err(|e| format!("reading the running table: {e}"))?;
            for c in exposure::diff(&old, &new) {
                let change = match (c.before, c.after) {
                    (_, Reach::Accepted) => "opens",
                    (Reach::Accepted, _) => "closes",
                    _ => "depends",
                };
                raw.push((change, c.probe));
            }
        }
        None => {
            for (p, r) in exposure::exposure(&new) {
                raw.push((
                    if r == Reach::Accepted {
                        "opens"
                    } else {
                        "depends"
                    },
                    p,
                ));
            }
        }
    }
    let mut lines: Vec<Line> = Vec::new();
    for (change, p) in raw {
        let family = match p.family {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        };
        let (service, protocol, ports, from) = names(&p, policy);
        match lines.iter_mut().find(|l| {
            l.change == change
                && l.service == service
                && l.protocol == protocol
                && l.ports == ports
                && l.from == from
        }) {
            Some(l) => l.families.push(family),
            None => lines.push(Line {
                change,
                service,
                protocol,
                ports,
                from,
                families: vec![family],
            }),
        }
    }
    Ok(Preview {
        table_loaded,
        lines,
    })
}

fn names(p: &Probe, policy: &Policy) -> (String, String, String, String) {
    let port = p.ports.first();
    let service = policy
        .services
        .iter()
        .find(|s| {
            s.protocols.contains(&p.protocol)
                && s.ports
                    .iter()
                    .any(|r| r.first() <= port && port <= r.last())
        })
        .map(|s| s.name.clone())
        .or_else(|| {
            let m = policy.media.ports;
            (p.protocol == Protocol::Udp && m.first() <= port && port <= m.last())
                .then(|| "media".to_owned())
        })
        .unwrap_or_else(|| "port".to_owned());
    let from = match p.source {
        Source::Anywhere => "anywhere".to_owned(),
        Source::Prefix(n) => policy
            .zones
            .iter()
            .find(|z| !z.is_any() && z.prefixes.iter().any(|zp| zp.contains(&n)))
            .map_or_else(|| n.to_string(), |z| format!("{} ({n})", z.name)),
    };
    (service, p.protocol.to_string(), p.ports.to_string(), from)
}

impl Preview {
    /// The preview as aligned text.
    pub fn text(&self) -> String {
        if self.lines.is_empty() {
            return "no change to what reaches the host\n".to_owned();
        }
        let mut rows = vec![[
            "CHANGE".to_owned(),
            "SERVICE".to_owned(),
            "PORTS".to_owned(),
            "FROM".to_owned(),
            "FAMILIES".to_owned(),
        ]];
        for l in &self.lines {
            rows.push([
                l.change.to_owned(),
                l.service.clone(),
                format!("{}/{}", l.ports, l.protocol),
                l.from.clone(),
                l.families.join(", "),
            ]);
        }
        let head = if self.table_loaded {
            "against the table before (new connections, from outside the host):\n"
        } else {
            "no sipwall table before: the policy opens (new connections, from outside the host), and closes everything else:\n"
        };
        format!("{head}{}", super::text::columns(&rows))
    }
}
