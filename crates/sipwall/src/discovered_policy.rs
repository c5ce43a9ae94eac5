//! A FreeSWITCH inventory as a policy: least privilege, commented with
//! where FreeSWITCH sets each port. This is what `discover --format toml`
//! prints, and, for the vanilla tree, the text of the built-in policy
//! (a test keeps the two identical).
//!
//! Choices: signalling and media are open to `any` (the admin narrows
//! zones); control interfaces (ESL, XML-RPC, Erlang, multicast events) stay
//! on `loopback`; SSH stays open so applying the result never locks the
//! admin out; a port that discovery cannot know is left closed, with a note.

use crate::cmd::discover::origin;
use sipwall_freeswitch::{
    Inventory, Kind as FsKind, PortRange as FsPorts, Protocol as FsProtocol, Service,
};
use sipwall_policy::Kind;
use std::fmt::Write;

/// The policy kind for a discovered service, and whether it is a control
/// interface (kept on loopback).
fn policy_kind(k: FsKind) -> (Kind, bool) {
    match k {
        FsKind::Sip => (Kind::Sip, false),
        FsKind::SipTls => (Kind::SipTls, false),
        FsKind::Ws => (Kind::Ws, false),
        FsKind::Wss => (Kind::Wss, false),
        FsKind::Verto | FsKind::VertoTls => (Kind::Verto, false),
        FsKind::Esl => (Kind::Esl, true),
        FsKind::Msrp | FsKind::MsrpTls => (Kind::Msrp, false),
        FsKind::XmlRpc => (Kind::XmlRpc, true),
        FsKind::H323Ras => (Kind::H323Ras, false),
        FsKind::H323Q931 => (Kind::H323Q931, false),
        FsKind::ErlangEvent | FsKind::EventMulticast => (Kind::Custom, true),
        FsKind::Skinny | FsKind::Rtmp | FsKind::Rtp => (Kind::Custom, false),
    }
}

/// One `[services.NAME]` entry being assembled.
struct Entry {
    name: String,
    kind: Kind,
    loopback: bool,
    protocols: Vec<&'static str>,
    ports: Vec<(u16, u16)>,
    notes: Vec<String>,
}

fn entry_name(s: &Service, kind: Kind) -> String {
    match (kind, s.name.strip_prefix("sofia/")) {
        (Kind::Sip | Kind::SipTls, Some(profile)) => {
            // The IPv6 twin of a profile shares its entry.
            let base = profile.strip_suffix("-ipv6").unwrap_or(profile);
            format!("{}-{base}", kind.name())
        }
        (Kind::Custom, _) => s.name.replace(['/', '_'], "-"),
        _ => kind.name().to_owned(),
    }
}

fn kind_rank(k: Kind) -> usize {
    sipwall_policy::catalog::KINDS
        .iter()
        .position(|(c, _)| *c == k)
        .unwrap_or(usize::MAX)
}

/// Adjacent or overlapping ranges become one (8081 and 8082 -> 8081-8082).
fn merge(mut ports: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    ports.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in ports {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn port_list(ports: &[(u16, u16)]) -> String {
    let items: Vec<String> = ports
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("\"{a}-{b}\"")
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// The policy TOML for `inv`.
pub fn policy_toml(inv: &Inventory) -> String {
    let mut entries: Vec<Entry> = Vec::new();
    let mut closed: Vec<String> = Vec::new();
    for s in inv.services.iter().filter(|s| s.kind != FsKind::Rtp) {
        let (kind, control) = policy_kind(s.kind);
        let Some(FsPorts { first, last }) = s.ports else {
            let why = s
                .unknown_because()
                .map_or("unknown".to_owned(), |u| format!("{u:?}").to_lowercase());
            closed.push(format!(
                "# not opened: {} ({}): its port is unknown at discovery ({why}, {}); give it with --var",
                s.name,
                kind.name(),
                origin(s)
            ));
            continue;
        };
        let name = entry_name(s, kind);
        let proto = match s.protocol {
            FsProtocol::Udp => "udp",
            FsProtocol::Tcp => "tcp",
        };
        let note = format!(
            "# {} {}-{} on {}: {}",
            s.name,
            first,
            last,
            s.address,
            origin(s)
        )
        .replace(&format!(" {first}-{first} "), &format!(" {first} "));
        let e = match entries.iter_mut().find(|e| e.name == name) {
            Some(e) => e,
            None => {
                entries.push(Entry {
                    name,
                    kind,
                    loopback: control,
                    protocols: vec![],
                    ports: vec![],
                    notes: vec![],
                });
                entries.last_mut().expect("just pushed")
            }
        };
        if !e.protocols.contains(&proto) {
            e.protocols.push(proto);
        }
        e.ports.push((first, last));
        if !e.notes.contains(&note) {
            e.notes.push(note);
        }
    }
    entries.sort_by_key(|e| (kind_rank(e.kind), e.ports.iter().min().copied()));

    let mut out = String::new();
    out.push_str(
        "# sipwall policy for a FreeSWITCH host, derived by `sipwall discover freeswitch`.\n",
    );
    out.push_str(
        "# Each service notes where FreeSWITCH sets its port. Narrow the zones before applying.\n",
    );
    for e in &entries {
        let _ = writeln!(out, "\n[services.{}]", e.name);
        for n in &e.notes {
            let _ = writeln!(out, "{n}");
        }
        let _ = writeln!(out, "kind = \"{}\"", e.kind.name());
        let protocols: Vec<String> = e.protocols.iter().map(|p| format!("\"{p}\"")).collect();
        let _ = writeln!(out, "protocols = [{}]", protocols.join(", "));
        let _ = writeln!(out, "ports = {}", port_list(&merge(e.ports.clone())));
        let _ = writeln!(
            out,
            "allow = [\"{}\"]",
            if e.loopback { "loopback" } else { "any" }
        );
    }
    out.push_str("\n[services.ssh]\n# not FreeSWITCH's: kept open so that applying this never locks you out; narrow it to an admin zone\n");
    out.push_str("kind = \"ssh\"\nallow = [\"any\"]\n");
    out.push_str("\n[media]\n");
    let (first, last) = match &inv.rtp {
        Some(rtp) => {
            for p in &rtp.provenance {
                let value = p.value.as_deref().unwrap_or("FreeSWITCH's default");
                let _ = writeln!(out, "# {}: {value}, {}", p.setting, p.at);
            }
            (rtp.ports.first, rtp.ports.last)
        }
        None => (16384, 32769),
    };
    out.push_str(
        "# RTP takes even ports and RTCP the next one up: the range ends one above rtp-end-port\n",
    );
    let _ = writeln!(
        out,
        "mode = \"range\"\nports = \"{first}-{last}\"\nallow = [\"any\"]"
    );
    if !closed.is_empty() {
        out.push('\n');
        for c in closed {
            let _ = writeln!(out, "{c}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn vanilla() -> Inventory {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/testdata/freeswitch/vanilla");
        let options = sipwall_freeswitch::Options {
            vars: vec![],
            env: Default::default(),
        };
        sipwall_freeswitch::discover(&sipwall_freeswitch::Disk, &dir, &options)
            .expect("vanilla discovers")
    }

    #[test]
    fn the_builtin_policy_is_what_discovery_derives_from_vanilla() {
        let derived = policy_toml(&vanilla());
        assert!(
            derived == sipwall_policy::builtin::BUILTIN_TOML,
            "the built-in policy is out of step with discovery; regenerate it with\n  \
             cargo run -p sipwall -- discover freeswitch ../shared/testdata/freeswitch/vanilla --format toml > crates/policy/src/default.toml\n\
             derived:\n{derived}"
        );
    }

    #[test]
    fn the_derived_policy_validates_and_opens_what_vanilla_listens_on() {
        let p =
            sipwall_policy::parse("derived.toml", &policy_toml(&vanilla())).expect("valid policy");
        let find = |n: &str| {
            p.services
                .iter()
                .find(|s| s.name == n)
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        let ports = |n: &str| {
            find(n)
                .ports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(ports("sip-internal"), ["5060"]);
        assert_eq!(ports("sip-external"), ["5080"]);
        assert_eq!(ports("ws"), ["5066"]);
        assert_eq!(ports("wss"), ["7443"]);
        assert_eq!(ports("verto"), ["8081-8082"]);
        assert_eq!(ports("esl"), ["8021"]);
        assert_eq!(find("esl").allow, ["loopback"]);
        assert_eq!(find("sip-internal").protocols.len(), 2);
        assert_eq!(p.media.ports.to_string(), "16384-32769");
        assert_eq!(
            p.services.len(),
            7,
            "nothing else is opened: {:?}",
            p.services.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn adjacent_ranges_merge() {
        assert_eq!(
            merge(vec![(8082, 8082), (8081, 8081), (9000, 9001)]),
            [(8081, 8082), (9000, 9001)]
        );
        assert_eq!(
            merge(vec![(65535, 65535), (65534, 65535)]),
            [(65534, 65535)]
        );
    }
}
