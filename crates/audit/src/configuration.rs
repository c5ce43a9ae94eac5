//! The configuration judged by itself, when there is no ruleset to judge
//! (`sipwall audit --freeswitch DIR` alone): who can reach the event
//! socket according to FreeSWITCH's own settings, and with what password.
//!
//! mod_event_socket checks a client against every `apply-inbound-acl` in
//! turn and refuses it at the first one that does not list it (all must
//! allow); with none it applies `loopback.auto`. So one `loopback.auto`
//! keeps the socket local whatever the others say, and only FreeSWITCH's
//! catch-all lists (`wan*.auto`, `any_v*.auto`) let anyone in; a named
//! list from acl.conf.xml lets some zone in.

use crate::finding::{Finding, Id, Severity};
use sipwall_freeswitch::event_socket::DEFAULT_PASSWORD;
use sipwall_freeswitch::inventory::EventSocket;
use sipwall_freeswitch::{Address, Inventory, Provenance};
use std::path::Path;

/// FreeSWITCH's built-in lists that hold every address of a family.
const OPEN_ACLS: [&str; 5] = [
    "wan.auto",
    "wan_v4.auto",
    "wan_v6.auto",
    "any_v4.auto",
    "any_v6.auto",
];

/// Passwords shorter than this are weak: ESL has no lockout, a guess costs
/// one connection.
pub const MIN_PASSWORD: usize = 12;

/// Passwords found in FreeSWITCH how-tos and scanners' lists.
const COMMON: [&str; 10] = [
    "password",
    "freeswitch",
    "changeme",
    "secret",
    "admin",
    "cluecon1",
    "cluecon123",
    "clue_con",
    "eventsocket",
    "fs_cli",
];

/// How far FreeSWITCH's own settings let the event socket be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exposure {
    /// Loopback only: bound there, or `loopback.auto` among the ACLs.
    Local,
    /// A zone a named ACL describes.
    Zone,
    /// Anyone who can reach the address: only catch-all ACLs.
    Anywhere,
}

/// The event socket's reach by its `listen-ip` and `apply-inbound-acl`.
pub fn exposure(es: &EventSocket) -> Exposure {
    if let Address::Ip { ip } = &es.listen_ip {
        if ip.is_loopback() {
            return Exposure::Local;
        }
    }
    let acls: Vec<&str> = if es.apply_inbound_acl.is_empty() {
        vec!["loopback.auto"]
    } else {
        es.apply_inbound_acl.iter().map(String::as_str).collect()
    };
    if acls.iter().any(|a| a.eq_ignore_ascii_case("loopback.auto")) {
        Exposure::Local
    } else if acls
        .iter()
        .all(|a| OPEN_ACLS.iter().any(|o| a.eq_ignore_ascii_case(o)))
    {
        Exposure::Anywhere
    } else {
        Exposure::Zone
    }
}

/// Why a password that is not the default is still weak, if it is.
pub fn weakness(password: &str) -> Option<String> {
    if password == DEFAULT_PASSWORD {
        return None;
    }
    let lower = password.to_ascii_lowercase();
    if COMMON.contains(&lower.as_str()) || lower.contains("cluecon") {
        Some("is a well-known one".into())
    } else if password.chars().count() < MIN_PASSWORD {
        Some(format!(
            "has {} characters (fewer than {MIN_PASSWORD})",
            password.chars().count()
        ))
    } else if password.chars().all(|c| c.is_ascii_digit()) {
        Some("is digits only".into())
    } else {
        None
    }
}

/// `conf_dir/file:line` of the provenance entry for `setting`.
fn at(inv: &Inventory, prov: &[Provenance], setting: &str) -> Option<String> {
    let p = prov.iter().find(|p| p.setting == setting)?;
    Some(format!(
        "{}:{}",
        Path::new(&inv.conf_dir).join(&p.at.file).display(),
        p.at.line
    ))
}

/// Findings from the configuration alone, most severe first.
pub fn audit_configuration(inv: &Inventory) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(es) = &inv.event_socket else {
        return out;
    };
    let reach = exposure(es);
    let acls = if es.acl_is_default || es.apply_inbound_acl.is_empty() {
        "no apply-inbound-acl (FreeSWITCH applies loopback.auto)".to_owned()
    } else {
        format!("apply-inbound-acl {}", es.apply_inbound_acl.join(", "))
    };
    let listen = match &es.listen_ip {
        Address::Ip { ip } => ip.to_string(),
        Address::Any { .. } => "every address".to_owned(),
        Address::Host { .. } => "the host's address".to_owned(),
        Address::Name { name } => name.clone(),
        _ => "an address".to_owned(),
    };
    let local = matches!(&es.listen_ip, Address::Ip { ip } if ip.is_loopback());
    if !local {
        let (severity, why) = match reach {
            Exposure::Local => (
                Severity::Low,
                "only loopback may connect, so the socket serves no one else: bind it to 127.0.0.1 or ::1 (listen-ip) and nothing outside can even knock",
            ),
            Exposure::Zone => (
                Severity::Medium,
                "the named ACL is all that keeps others out; keep the firewall closed on this port too",
            ),
            Exposure::Anywhere => (
                Severity::Critical,
                "and its ACL lets any address in: anyone who reaches the port can try passwords and then run any command",
            ),
        };
        out.push(Finding {
            id: if reach == Exposure::Anywhere {
                Id::EslExposed
            } else {
                Id::EslListenWide
            },
            severity,
            message: format!("the event socket listens on {listen} with {acls}: {why}"),
            location: at(inv, &es.provenance, "listen-ip")
                .or_else(|| at(inv, &es.provenance, "apply-inbound-acl")),
        });
    }
    let severity = |local: Severity, zone: Severity, anywhere: Severity| match reach {
        Exposure::Local => local,
        Exposure::Zone => zone,
        Exposure::Anywhere => anywhere,
    };
    let by_reach = match reach {
        Exposure::Local => "only local users can connect (by its settings)",
        Exposure::Zone => "the ACL lets a zone connect",
        Exposure::Anywhere => "and anyone can connect",
    };
    if es.default_password {
        out.push(Finding {
            id: Id::EslDefaultPassword,
            severity: severity(Severity::Info, Severity::High, Severity::Critical),
            message: format!("the event socket keeps FreeSWITCH's default password ClueCon (CVE-2019-19492); {by_reach}: set another `password` in event_socket.conf.xml"),
            location: at(inv, &es.provenance, "password"),
        });
    } else if let Some(why) = weakness(&es.password) {
        out.push(Finding {
            id: Id::EslWeakPassword,
            severity: severity(Severity::Info, Severity::Medium, Severity::High),
            message: format!(
                "the event socket's password {why}; {by_reach}: use a long random one"
            ),
            location: at(inv, &es.provenance, "password"),
        });
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert_eq!(weakness("ClueCon"), None, "the default has its own finding");
        assert!(weakness("cluecon2024").is_some());
        assert!(weakness("short").is_some());
        assert!(weakness("123456789012345").is_some());
        assert_eq!(weakness("k3T9-vq0Lx-2mZp"), None);
    }
}
