//! A FreeSWITCH inventory as a policy: least privilege, commented with
//! where FreeSWITCH sets each port. This is what `discover --format toml`
//! prints, and, for the vanilla tree, the text of the built-in policy
//! (a test keeps the two identical).
//!
//! Choices: signalling and media are open to `any` (the admin narrows
//! zones); control interfaces (ESL, XML-RPC, Erlang, multicast events) stay
//! on `loopback`; SSH stays open so applying the result never locks the
//! admin out; a port that discovery cannot know is left closed, with a note.
//!
//! Trust: the FreeSWITCH configuration is written by someone who may not
//! be root, and whatever it says ends up in a root firewall. So no text
//! from it is ever spliced into the TOML: entry names are built only from
//! names that pass [`sipwall_policy::name`] (a profile whose name does not
//! is left closed, with a note), addresses must be addresses or host
//! names, every value goes through the `toml` serializer, and every
//! comment is one line with control characters escaped.

use crate::cmd::discover::origin;
use sipwall_engine::remote_text::printable;
use sipwall_freeswitch::{
    Address, Inventory, Kind as FsKind, PortRange as FsPorts, Protocol as FsProtocol, Service,
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
        FsKind::ErlangEvent | FsKind::EventMulticast | FsKind::VertoMulticast => {
            (Kind::Custom, true)
        }
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

/// The entry's name, or why the service gets none: the profile (or other
/// configured) name must pass the policy's name rule, so that nothing a
/// config writer chooses can reach TOML or ruleset syntax.
fn entry_name(s: &Service, kind: Kind) -> Result<String, String> {
    let name = match (kind, s.name.strip_prefix("sofia/")) {
        (Kind::Sip | Kind::SipTls, Some(profile)) => {
            // The IPv6 twin of a profile shares its entry.
            let base = profile.strip_suffix("-ipv6").unwrap_or(profile);
            if !sipwall_policy::name::is_valid(base) {
                return Err("its profile name is not a policy name".to_owned());
            }
            format!("{}-{base}", kind.name())
        }
        (Kind::Custom, _) => s.name.replace(['/', '_'], "-"),
        _ => kind.name().to_owned(),
    };
    if sipwall_policy::name::is_valid(&name) {
        Ok(name)
    } else {
        Err(format!(
            "its entry name would not be a policy name (1-{} of A-Z a-z 0-9 _ . -)",
            sipwall_policy::name::MAX_LEN
        ))
    }
}

/// Why the address a service binds cannot be trusted as one, if so. A
/// `Name` is whatever text the config held; only a host name is let through.
fn bad_address(a: &Address) -> Option<&'static str> {
    match a {
        Address::Name { name } if !is_host_name(name) => {
            Some("its address is neither an IP address nor a host name")
        }
        _ => None,
    }
}

/// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The longest comment line, in bytes: enough for any provenance note.
const COMMENT_MAX: usize = 400;

/// `text` as one TOML comment line: control characters escaped, bounded.
fn comment(text: &str) -> String {
    format!("# {}", printable(text.as_bytes(), COMMENT_MAX))
}

/// A TOML string value, quoted and escaped by the serializer.
fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A table key: bare where TOML allows, else quoted by the serializer (a
/// name with a dot would otherwise open a nested table).
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        string(name)
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
                toml::Value::Integer(i64::from(a)).to_string()
            } else {
                string(&format!("{a}-{b}"))
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn string_list(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// The zone discovery proposes for the hosts of the sofia gateways.
pub const TRUNKS: &str = "trunks";

/// What discovery makes of the sofia gateways' hosts: the addresses of
/// the `trunks` zone with a note each, and a warning for each host that
/// is not an address (a firewall allowlists addresses, not names).
pub struct Trunks {
    /// IP literals, each once, in configuration order.
    pub addresses: Vec<String>,
    /// Where each address comes from, one line each (unescaped).
    pub notes: Vec<String>,
    /// What the admin must do by hand, one line each (unescaped).
    pub warnings: Vec<String>,
}

/// The gateways' hosts of `inv`.
pub fn trunks(inv: &Inventory) -> Trunks {
    let mut t = Trunks {
        addresses: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
    };
    for p in &inv.profiles {
        for g in &p.gateways {
            for h in &g.hosts {
                let what = format!(
                    "gateway {} (profile {}): {} {:?}, {}",
                    g.name, p.name, h.setting, h.value, h.at
                );
                match &h.host {
                    Address::Ip { ip } => {
                        let ip = ip.to_string();
                        t.notes.push(what);
                        if !t.addresses.contains(&ip) {
                            t.addresses.push(ip);
                        }
                    }
                    Address::Name { name } if is_host_name(name) => t.warnings.push(format!(
                        "{what}: {name} is a name, and sipwall allowlists addresses; add its addresses to [zones] {TRUNKS} (e.g. `dig +short {name}`) and \"{TRUNKS}\" to [guard] allow, or it can be banned on forged evidence"
                    )),
                    other => t.warnings.push(format!(
                        "{what}: the host {other} is not a peer's address or host name; not allowlisted"
                    )),
                }
            }
        }
    }
    t
}

/// What the admin adds to discovery (`sipwall init`): who may reach SSH,
/// on which port sshd listens, and trunks the configuration does not name.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// Prefixes of the `admin` zone that alone may reach SSH (empty: SSH
    /// stays open to `any`, so applying never locks the admin out).
    pub ssh_from: Vec<ipnet::IpNet>,
    /// sshd's ports (empty: the catalog's 22).
    pub ssh_ports: Vec<u16>,
    /// Where `ssh_ports` was learnt, for the comment.
    pub ssh_ports_source: String,
    /// Trunk addresses given by the admin, added to the `trunks` zone.
    pub trunks: Vec<std::net::IpAddr>,
}

/// The zone `sipwall init --ssh-from` fills.
pub const ADMIN: &str = "admin";

/// The policy TOML for `inv`.
pub fn policy_toml(inv: &Inventory) -> String {
    policy_toml_for(inv, &Site::default())
}

/// The policy TOML for `inv` on a host described by `site`.
pub fn policy_toml_for(inv: &Inventory, site: &Site) -> String {
    let mut entries: Vec<Entry> = Vec::new();
    let mut closed: Vec<String> = Vec::new();
    for s in inv.services.iter().filter(|s| s.kind != FsKind::Rtp) {
        let (kind, control) = policy_kind(s.kind);
        let not_opened = |why: &str| {
            comment(&format!(
                "not opened: {} ({}): {why}, {}",
                s.name,
                kind.name(),
                origin(s)
            ))
        };
        let Some(FsPorts { first, last }) = s.ports else {
            let why = s
                .unknown_because()
                .map_or("unknown".to_owned(), |u| format!("{u:?}").to_lowercase());
            closed.push(not_opened(&format!(
                "its port is unknown at discovery ({why}); give it with --var"
            )));
            continue;
        };
        let name = match entry_name(s, kind) {
            Ok(name) => name,
            Err(why) => {
                closed.push(not_opened(&why));
                continue;
            }
        };
        if let Some(why) = bad_address(&s.address) {
            closed.push(not_opened(why));
            continue;
        }
        let proto = match s.protocol {
            FsProtocol::Udp => "udp",
            FsProtocol::Tcp => "tcp",
        };
        let note = format!(
            "{} {}-{} on {}: {}",
            s.name,
            first,
            last,
            s.address,
            origin(s)
        )
        .replace(&format!(" {first}-{first} "), &format!(" {first} "));
        let note = comment(&note);
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
    let mut trunks = trunks(inv);
    for ip in &site.trunks {
        let ip = ip.to_string();
        if !trunks.addresses.contains(&ip) {
            trunks
                .notes
                .push(format!("{ip}: given with sipwall init --trunk"));
            trunks.addresses.push(ip);
        }
    }
    if !site.ssh_from.is_empty() {
        out.push_str("\n# Who may reach SSH (sipwall init --ssh-from).\n[zones]\n");
        let prefixes: Vec<String> = site
            .ssh_from
            .iter()
            .map(|n| n.trunc().to_string())
            .collect();
        let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{} = {}", key(ADMIN), string_list(&prefixes));
    }
    if !trunks.addresses.is_empty() || !trunks.warnings.is_empty() {
        out.push_str("\n# The SIP trunks of the sofia gateways: [guard] allow keeps them from being banned on forged evidence.\n");
        if !trunks.addresses.is_empty() && site.ssh_from.is_empty() {
            out.push_str("[zones]\n");
        }
        for n in &trunks.notes {
            let _ = writeln!(out, "{}", comment(n));
        }
        for w in &trunks.warnings {
            let _ = writeln!(out, "{}", comment(&format!("warning: {w}")));
        }
        if !trunks.addresses.is_empty() {
            let addresses: Vec<&str> = trunks.addresses.iter().map(String::as_str).collect();
            let _ = writeln!(out, "{} = {}", key(TRUNKS), string_list(&addresses));
        }
    }
    for e in &entries {
        let _ = writeln!(out, "\n[services.{}]", key(&e.name));
        for n in &e.notes {
            let _ = writeln!(out, "{n}");
        }
        let _ = writeln!(out, "kind = {}", string(e.kind.name()));
        let _ = writeln!(out, "protocols = {}", string_list(&e.protocols));
        let _ = writeln!(out, "ports = {}", port_list(&merge(e.ports.clone())));
        let zone = if e.loopback { "loopback" } else { "any" };
        let _ = writeln!(out, "allow = {}", string_list(&[zone]));
    }
    if site.ssh_from.is_empty() {
        out.push_str("\n[services.ssh]\n# not FreeSWITCH's: kept open so that applying this never locks you out; narrow it to an admin zone\n");
    } else {
        out.push_str("\n[services.ssh]\n# not FreeSWITCH's: only from the admin zone\n");
    }
    out.push_str("kind = \"ssh\"\n");
    if !site.ssh_ports.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            comment(&format!("sshd's port: {}", site.ssh_ports_source))
        );
        let ports: Vec<(u16, u16)> = site.ssh_ports.iter().map(|&p| (p, p)).collect();
        let _ = writeln!(out, "ports = {}", port_list(&ports));
    }
    let zone = if site.ssh_from.is_empty() {
        "any"
    } else {
        ADMIN
    };
    let _ = writeln!(out, "allow = {}", string_list(&[zone]));
    out.push_str("\n[media]\n");
    let (first, last) = match &inv.rtp {
        Some(rtp) => {
            for p in &rtp.provenance {
                let value = p.value.as_deref().unwrap_or("FreeSWITCH's default");
                let line = comment(&format!("{}: {value}, {}", p.setting, p.at));
                let _ = writeln!(out, "{line}");
            }
            (rtp.ports.first, rtp.ports.last)
        }
        None => sipwall_policy::DEFAULT_MEDIA_PORTS,
    };
    out.push_str(
        "# RTP takes even ports and RTCP the next one up: the range ends one above rtp-end-port\n",
    );
    let _ = writeln!(
        out,
        "mode = \"range\"\nports = {}\nallow = [\"any\"]",
        string(&format!("{first}-{last}"))
    );
    if !trunks.addresses.is_empty() {
        let _ = writeln!(out, "\n[guard]\nallow = {}", string_list(&[TRUNKS]));
    }
    // The UDP and TCP sockets of one profile would give the same note twice.
    closed.dedup();
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

    /// What vanilla listens on, or `None` (the reason printed) where `../shared` is absent.
    fn vanilla() -> Option<Inventory> {
        let dir = sipwall_testdata::shared("testdata/freeswitch/vanilla")?;
        let options = sipwall_freeswitch::Options {
            vars: vec![],
            env: Default::default(),
        };
        Some(
            sipwall_freeswitch::discover(&sipwall_freeswitch::Disk, &dir, &options)
                .expect("vanilla discovers"),
        )
    }

    #[test]
    fn the_builtin_policy_is_what_discovery_derives_from_vanilla() {
        let Some(vanilla) = vanilla() else { return };
        let derived = policy_toml(&vanilla);
        assert!(
            derived == sipwall_policy::builtin::BUILTIN_TOML,
            "the built-in policy is out of step with discovery; regenerate it with\n  \
             cargo run -p sipwall -- discover freeswitch ../shared/testdata/freeswitch/vanilla --format toml > crates/policy/src/default.toml\n\
             derived:\n{derived}"
        );
    }

    #[test]
    fn the_derived_policy_validates_and_opens_what_vanilla_listens_on() {
        let Some(vanilla) = vanilla() else { return };
        let p =
            sipwall_policy::parse("derived.toml", &policy_toml(&vanilla)).expect("valid policy");
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
        // Verto's multicast group is sent with TTL 0: local processes only.
        assert_eq!(ports("verto-default-v4"), ["1337"]);
        assert_eq!(find("verto-default-v4").allow, ["loopback"]);
        assert_eq!(p.media.ports.to_string(), "16384-32769");
        assert_eq!(
            p.services.len(),
            8,
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

#[cfg(test)]
mod attacks {
    use super::*;

    /// A FreeSWITCH tree in a tempdir with one sofia profile; `name` and
    /// `sip_ip` are written as XML attribute values (already escaped).
    fn discovered(name: &str, sip_ip: &str) -> Inventory {
        with_gateways(name, sip_ip, "")
    }

    /// The same, with `gateways` (XML) in the profile's `<gateways>`.
    fn with_gateways(name: &str, sip_ip: &str, gateways: &str) -> Inventory {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("freeswitch.xml"),
            format!(
                r#"<document type="freeswitch/xml">
  <section name="configuration">
    <configuration name="modules.conf"><modules>
      <load module="mod_sofia"/>
    </modules></configuration>
    <configuration name="sofia.conf"><profiles>
      <profile name="{name}"><gateways>{gateways}</gateways><settings>
        <param name="sip-ip" value="{sip_ip}"/>
        <param name="sip-port" value="5060"/>
      </settings></profile>
    </profiles></configuration>
  </section>
</document>
"#
            ),
        )
        .unwrap();
        sipwall_freeswitch::discover(
            &sipwall_freeswitch::Disk,
            dir.path(),
            &sipwall_freeswitch::Options::default(),
        )
        .expect("the tree discovers")
    }

    /// Closes the comment line it lands in with a complete entry of its
    /// own, opens tcp/4444 to anyone, and gives what the template writes
    /// after it a table to land in: on the old code the result was a valid
    /// policy with a backdoor.
    const BACKDOOR: &str = "&#10;kind=&quot;sip&quot;&#10;protocols=[&quot;udp&quot;]&#10;ports=[5060]&#10;allow=[&quot;any&quot;]&#10;[services.backdoor]&#10;kind=&quot;custom&quot;&#10;protocols=[&quot;tcp&quot;]&#10;ports=[4444]&#10;allow=[&quot;any&quot;]&#10;[services.z]&#10;#";

    fn services(text: &str) -> Vec<String> {
        let p = sipwall_policy::parse("derived.toml", text)
            .unwrap_or_else(|e| panic!("the derived policy is invalid: {e}\n{text}"));
        p.services.into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn a_sip_ip_with_a_newline_cannot_open_a_port() {
        let inv = discovered("internal", &format!("192.0.2.10{BACKDOOR}"));
        let text = policy_toml(&inv);
        assert_eq!(services(&text), ["ssh"], "{text}");
        assert!(!text.contains("\n[services.backdoor]"), "{text}");
    }

    #[test]
    fn a_profile_name_with_a_newline_cannot_open_a_port() {
        let inv = discovered(&format!("internal{BACKDOOR}"), "192.0.2.10");
        let text = policy_toml(&inv);
        assert_eq!(services(&text), ["ssh"], "{text}");
        assert!(
            text.contains("# not opened: sofia/internal\\x0akind=\"sip\"\\x0a"),
            "{text}"
        );
    }

    #[test]
    fn a_profile_name_cannot_close_the_table_header() {
        let inv = discovered("x]\n[services.backdoor", "192.0.2.10");
        let text = policy_toml(&inv);
        assert_eq!(services(&text), ["ssh"], "{text}");
    }

    #[test]
    fn a_clean_profile_is_opened_with_its_address() {
        let inv = discovered("lan.trunk", "192.0.2.10");
        let text = policy_toml(&inv);
        assert_eq!(services(&text), ["sip-lan.trunk", "ssh"], "{text}");
        assert!(text.contains("on 192.0.2.10"), "{text}");
    }

    fn parsed(text: &str) -> sipwall_policy::Policy {
        sipwall_policy::parse("derived.toml", text)
            .unwrap_or_else(|e| panic!("the derived policy is invalid: {e}\n{text}"))
    }

    fn zone(p: &sipwall_policy::Policy, name: &str) -> Option<Vec<String>> {
        p.zones
            .iter()
            .find(|z| z.name == name)
            .map(|z| z.prefixes.iter().map(|n| n.addr().to_string()).collect())
    }

    #[test]
    fn gateways_at_ip_addresses_become_the_trunks_zone_that_guard_allows() {
        let inv = with_gateways(
            "external",
            "192.0.2.10",
            r#"<gateway name="carrier">
                 <param name="proxy" value="sip:192.0.2.50:5080;transport=udp"/>
                 <param name="register-proxy" value="[2001:db8::50]:5060"/>
               </gateway>
               <gateway name="198.51.100.7"/>
               <gateway name="backup"><param name="realm" value="192.0.2.50"/></gateway>"#,
        );
        let text = policy_toml(&inv);
        let p = parsed(&text);
        assert_eq!(
            zone(&p, TRUNKS).unwrap(),
            ["192.0.2.50", "2001:db8::50", "198.51.100.7"],
            "{text}"
        );
        assert_eq!(p.guard.allow, [TRUNKS], "{text}");
        assert!(
            text.contains("# gateway carrier (profile external): proxy \"sip:192.0.2.50:5080;transport=udp\", freeswitch.xml:"),
            "{text}"
        );
        let services: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(services, ["sip-external", "ssh"], "{text}");
    }

    #[test]
    fn a_gateway_by_name_gets_a_warning_and_no_zone() {
        let inv = with_gateways(
            "external",
            "192.0.2.10",
            r#"<gateway name="carrier"><param name="proxy" value="sip.example.com:5060"/></gateway>"#,
        );
        let text = policy_toml(&inv);
        let p = parsed(&text);
        assert_eq!(zone(&p, TRUNKS), None, "{text}");
        assert!(p.guard.allow.is_empty(), "{text}");
        assert!(
            text.contains(
                "# warning: gateway carrier (profile external): proxy \"sip.example.com:5060\""
            ),
            "{text}"
        );
        assert!(text.contains("`dig +short sip.example.com`"), "{text}");
        assert_eq!(trunks(&inv).warnings.len(), 1);
    }

    #[test]
    fn a_gateway_proxy_with_a_newline_cannot_open_a_port() {
        let inv = with_gateways(
            "external",
            "192.0.2.10",
            &format!(
                r#"<gateway name="carrier"><param name="proxy" value="192.0.2.50{BACKDOOR}"/></gateway>"#
            ),
        );
        let text = policy_toml(&inv);
        let p = parsed(&text);
        let services: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(services, ["sip-external", "ssh"], "{text}");
        assert_eq!(zone(&p, TRUNKS), None, "{text}");
        assert!(p.guard.allow.is_empty(), "{text}");
    }

    #[test]
    fn vanilla_has_no_gateway_and_no_trunks() {
        let Some(vanilla) = sipwall_testdata::shared("testdata/freeswitch/vanilla") else {
            return;
        };
        let inv = sipwall_freeswitch::discover(
            &sipwall_freeswitch::Disk,
            &vanilla,
            &sipwall_freeswitch::Options::default(),
        )
        .unwrap();
        let t = trunks(&inv);
        assert!(t.addresses.is_empty() && t.warnings.is_empty());
        assert!(inv.profiles.iter().all(|p| p.gateways.is_empty()));
    }
}
