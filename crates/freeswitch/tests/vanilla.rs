//! Discovery on the vanilla FreeSWITCH configuration, read in place, and on
//! variants the tests derive from it in a temporary folder.

use sipwall_freeswitch::{
    discover, Address, Disk, Error, Family, Inventory, Kind, Options, Protocol, Service, SetBy,
    Transport, Unknown, WarningKind,
};
use std::fs;
use std::path::{Path, PathBuf};

/// The vanilla tree, or `None` (the reason printed) where `../shared` is absent.
fn vanilla() -> Option<PathBuf> {
    sipwall_testdata::shared("testdata/freeswitch/vanilla")
}

fn read(dir: &Path) -> Inventory {
    discover(&Disk, dir, &Options::default()).unwrap()
}

/// `name kind transport address ports`, one line per service, for compact comparisons.
fn summary(inv: &Inventory) -> Vec<String> {
    inv.services
        .iter()
        .map(|s| {
            let ports = s.ports.map_or("?".to_string(), |p| p.to_string());
            format!(
                "{} {:?} {:?} {} {ports}",
                s.name, s.kind, s.transport, s.address
            )
        })
        .collect()
}

fn find<'a>(inv: &'a Inventory, name: &str, kind: Kind) -> Option<&'a Service> {
    inv.services
        .iter()
        .find(|s| s.name == name && s.kind == kind)
}

/// A copy of the vanilla tree to edit.
struct Variant {
    dir: tempfile::TempDir,
}

impl Variant {
    fn new(vanilla: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy(vanilla, dir.path());
        Variant { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Replaces `from` (which must be there) by `to` in one file.
    fn edit(&self, rel: &str, from: &str, to: &str) -> &Self {
        let path = self.path(rel);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} lacks {from:?}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        self
    }

    fn read(&self) -> Inventory {
        read(self.dir.path())
    }
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn vanilla_services() {
    let Some(vanilla) = vanilla() else { return };
    let inv = read(&vanilla);
    let mut got = summary(&inv);
    got.sort();
    let mut want = vec![
        "sofia/internal Sip Udp local_ip_v4 5060",
        "sofia/internal Sip Tcp local_ip_v4 5060",
        "sofia/internal Ws Ws local_ip_v4 5066",
        "sofia/internal Wss Wss local_ip_v4 7443",
        "sofia/internal-ipv6 Sip Udp local_ip_v6 5060",
        "sofia/internal-ipv6 Sip Tcp local_ip_v6 5060",
        "sofia/external Sip Udp local_ip_v4 5080",
        "sofia/external Sip Tcp local_ip_v4 5080",
        "sofia/external-ipv6 Sip Udp local_ip_v6 5080",
        "sofia/external-ipv6 Sip Tcp local_ip_v6 5080",
        "verto/default-v4 Verto Ws local_ip_v4 8081",
        "verto/default-v4 VertoTls Wss local_ip_v4 8082",
        "verto/default-v4 VertoMulticast Udp 0.0.0.0 1337",
        "verto/default-v6 Verto Ws local_ip_v6 8081",
        "verto/default-v6 VertoTls Wss local_ip_v6 8082",
        "event_socket Esl Tcp :: 8021",
        "rtp Rtp Udp * 16384-32769",
    ];
    want.sort();
    assert_eq!(got, want);
    for kind in [
        Kind::SipTls,
        Kind::Msrp,
        Kind::MsrpTls,
        Kind::XmlRpc,
        Kind::H323Q931,
        Kind::H323Ras,
    ] {
        assert!(inv.services.iter().all(|s| s.kind != kind), "{kind:?}");
    }
}

#[test]
fn vanilla_event_socket_and_rtp() {
    let Some(vanilla) = vanilla() else { return };
    let inv = read(&vanilla);
    let esl = inv.event_socket.as_ref().unwrap();
    assert_eq!(
        esl.listen_ip,
        Address::Any {
            family: Some(Family::Ipv6)
        }
    );
    assert_eq!(esl.port, Some(8021));
    assert_eq!(esl.password, "ClueCon");
    assert!(esl.default_password);
    assert!(esl.acl_is_default);
    assert_eq!(esl.apply_inbound_acl, ["loopback.auto"]);
    let rtp = inv.rtp.as_ref().unwrap();
    assert_eq!(
        (rtp.start, rtp.end, rtp.ports.first, rtp.ports.last),
        (16384, 32768, 16384, 32769)
    );
    assert!(rtp
        .provenance
        .iter()
        .all(|p| p.default && p.at.file == "autoload_configs/switch.conf.xml"));
}

#[test]
fn vanilla_provenance_names_file_line_and_variable() {
    let Some(vanilla) = vanilla() else { return };
    let inv = read(&vanilla);
    let sip = find(&inv, "sofia/internal", Kind::Sip).unwrap();
    assert_eq!(sip.provenance[0].setting, "load");
    assert_eq!(
        sip.provenance[0].at.file,
        "autoload_configs/modules.conf.xml"
    );
    let port = sip
        .provenance
        .iter()
        .find(|p| p.setting == "sip-port")
        .unwrap();
    assert_eq!(port.at.to_string(), "sip_profiles/internal.xml:90");
    assert_eq!(port.value.as_deref(), Some("5060"));
    assert_eq!(port.variables.len(), 1);
    let var = &port.variables[0];
    assert_eq!(var.name, "internal_sip_port");
    assert_eq!(var.set_by, Some(SetBy::Set));
    assert_eq!(var.set_at.as_ref().unwrap().to_string(), "vars.xml:407");
    let ip = sip
        .provenance
        .iter()
        .find(|p| p.setting == "sip-ip")
        .unwrap();
    assert_eq!(ip.variables[0].name, "local_ip_v4");
    assert_eq!(ip.variables[0].set_by, Some(SetBy::Builtin));
    assert_eq!(
        sip.address,
        Address::Host {
            family: Family::Ipv4
        }
    );
}

#[test]
fn vanilla_modules_respect_comments() {
    let Some(vanilla) = vanilla() else { return };
    let inv = read(&vanilla);
    let names: Vec<&str> = inv.modules.iter().map(|m| m.name.as_str()).collect();
    for m in ["mod_sofia", "mod_event_socket", "mod_verto", "mod_console"] {
        assert!(names.contains(&m), "{m}");
    }
    for m in [
        "mod_xml_rpc",
        "mod_skinny",
        "mod_rtmp",
        "mod_erlang_event",
        "mod_event_multicast",
        "mod_opal",
    ] {
        assert!(!names.contains(&m), "{m}");
    }
    assert_eq!(inv.profiles.len(), 4);
}

#[test]
fn vanilla_warns_about_stun_and_signalwire() {
    let Some(vanilla) = vanilla() else { return };
    let inv = read(&vanilla);
    let not_run: Vec<String> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::NotExecuted)
        .map(|w| w.at.to_string())
        .collect();
    assert_eq!(not_run, ["vars.xml:286", "vars.xml:299"]);
    assert!(inv.warnings.iter().any(|w| w.kind == WarningKind::Dynamic));
}

#[test]
fn tls_enabled() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        "internal_ssl_enable=false",
        "internal_ssl_enable=true",
    );
    let inv = v.read();
    let tls = find(&inv, "sofia/internal", Kind::SipTls).unwrap();
    assert_eq!(tls.transport, Transport::Tls);
    assert_eq!(tls.ports.unwrap().first, 5061);
    let var = tls
        .provenance
        .iter()
        .flat_map(|p| &p.variables)
        .find(|v| v.name == "internal_tls_port")
        .unwrap();
    assert_eq!(var.set_at.as_ref().unwrap().to_string(), "vars.xml:408");
    // Plain SIP stays, and the IPv6 twin shares the variable.
    assert!(find(&inv, "sofia/internal", Kind::Sip).is_some());
    assert!(find(&inv, "sofia/internal-ipv6", Kind::SipTls).is_some());
    assert!(find(&inv, "sofia/external", Kind::SipTls).is_none());
}

#[test]
fn tls_only() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        "external_ssl_enable=false",
        "external_ssl_enable=true",
    )
    .edit(
        "sip_profiles/external.xml",
        r#"<param name="tls-only" value="false"/>"#,
        r#"<param name="tls-only" value="true"/>"#,
    );
    let inv = v.read();
    let ext: Vec<&Service> = inv
        .services
        .iter()
        .filter(|s| s.name == "sofia/external")
        .collect();
    assert_eq!(ext.len(), 1, "{:?}", summary(&inv));
    assert_eq!(ext[0].kind, Kind::SipTls);
    assert_eq!(ext[0].ports.unwrap().first, 5081);
    assert!(ext[0].provenance.iter().any(|p| p.setting == "tls-only"));
    // external-ipv6 did not ask for tls-only.
    assert!(find(&inv, "sofia/external-ipv6", Kind::Sip).is_some());
}

#[test]
fn custom_rtp_range() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "autoload_configs/switch.conf.xml",
        r#"<!-- <param name="rtp-start-port" value="16384"/> -->"#,
        r#"<param name="rtp-start-port" value="20000"/>"#,
    )
    .edit(
        "autoload_configs/switch.conf.xml",
        r#"<!-- <param name="rtp-end-port" value="32768"/> -->"#,
        r#"<param name="rtp-end-port" value="30000"/>"#,
    );
    let inv = v.read();
    let rtp = inv.rtp.unwrap();
    assert_eq!((rtp.ports.first, rtp.ports.last), (20000, 30001));
    assert_eq!(
        rtp.provenance[0].at.to_string(),
        "autoload_configs/switch.conf.xml:153"
    );
    assert!(!rtp.provenance[0].default);
}

#[test]
fn profile_disabled_by_renaming() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    fs::rename(
        v.path("sip_profiles/internal-ipv6.xml"),
        v.path("sip_profiles/internal-ipv6.xml.off"),
    )
    .unwrap();
    let inv = v.read();
    assert!(inv.services.iter().all(|s| s.name != "sofia/internal-ipv6"));
    assert_eq!(inv.profiles.len(), 3);
}

#[test]
fn ports_overridden_in_vars_xml() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        "internal_sip_port=5060",
        "internal_sip_port=5070",
    );
    let inv = v.read();
    assert_eq!(
        find(&inv, "sofia/internal", Kind::Sip)
            .unwrap()
            .ports
            .unwrap()
            .first,
        5070
    );
    assert_eq!(
        find(&inv, "sofia/internal-ipv6", Kind::Sip)
            .unwrap()
            .ports
            .unwrap()
            .first,
        5070
    );
}

#[test]
fn later_set_wins() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        r#"<X-PRE-PROCESS cmd="set" data="external_tls_port=5081"/>"#,
        "<X-PRE-PROCESS cmd=\"set\" data=\"external_tls_port=5081\"/>\n<X-PRE-PROCESS cmd=\"set\" data=\"external_sip_port = 5090\"/>",
    );
    let inv = v.read();
    let sip = find(&inv, "sofia/external", Kind::Sip).unwrap();
    assert_eq!(sip.ports.unwrap().first, 5090);
    let var = &sip
        .provenance
        .iter()
        .find(|p| p.setting == "sip-port")
        .unwrap()
        .variables[0];
    assert_eq!(var.set_at.as_ref().unwrap().to_string(), "vars.xml:415");
}

#[test]
fn command_line_var_overrides() {
    let Some(vanilla) = vanilla() else { return };
    let options = Options {
        vars: vec![
            ("local_ip_v4".into(), "192.0.2.10".into()),
            ("external_sip_port".into(), "5099".into()),
        ],
        ..Options::default()
    };
    let inv = discover(&Disk, &vanilla, &options).unwrap();
    let sip = find(&inv, "sofia/external", Kind::Sip).unwrap();
    assert_eq!(
        sip.address,
        Address::Ip {
            ip: "192.0.2.10".parse().unwrap()
        }
    );
    assert_eq!(sip.ports.unwrap().first, 5099);
    let var = &sip
        .provenance
        .iter()
        .find(|p| p.setting == "sip-port")
        .unwrap()
        .variables[0];
    assert_eq!(var.set_by, Some(SetBy::CommandLine));
    assert!(var.set_at.is_none());
}

#[test]
fn directive_inside_a_comment_still_runs() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        r#"<X-PRE-PROCESS cmd="set" data="external_ssl_enable=false"/>"#,
        "<X-PRE-PROCESS cmd=\"set\" data=\"external_ssl_enable=false\"/>\n<!-- <X-PRE-PROCESS cmd=\"set\" data=\"external_sip_port=5090\"/> -->",
    );
    let inv = v.read();
    assert_eq!(
        find(&inv, "sofia/external", Kind::Sip)
            .unwrap()
            .ports
            .unwrap()
            .first,
        5090
    );
}

#[test]
fn misspelled_directive_is_inert() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        r#"<X-PRE-PROCESS cmd="set" data="external_ssl_enable=false"/>"#,
        "<X-PRE-PROCESS cmd=\"set\" data=\"external_ssl_enable=false\"/>\n<XX-PRE-PROCESS cmd=\"set\" data=\"external_sip_port=5090\"/>\n<!--<Z-PRE-PROCESS cmd=\"set\" data=\"external_sip_port=5091\"/>-->",
    );
    let inv = v.read();
    assert_eq!(
        find(&inv, "sofia/external", Kind::Sip)
            .unwrap()
            .ports
            .unwrap()
            .first,
        5080
    );
}

#[test]
fn missing_include_is_a_warning() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "freeswitch.xml",
        r#"<X-PRE-PROCESS cmd="include" data="vars.xml"/>"#,
        "<X-PRE-PROCESS cmd=\"include\" data=\"vars.xml\"/>\n<X-PRE-PROCESS cmd=\"include\" data=\"local/*.xml\"/>",
    );
    let inv = v.read();
    let w = inv
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::MissingInclude)
        .unwrap();
    assert_eq!(w.at.file, "freeswitch.xml");
    assert_eq!(summary(&inv), summary(&read(&vanilla)));
}

#[test]
fn include_loop_is_reported_and_survived() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        r#"<X-PRE-PROCESS cmd="set" data="unroll_loops=true"/>"#,
        "<X-PRE-PROCESS cmd=\"set\" data=\"unroll_loops=true\"/>\n<X-PRE-PROCESS cmd=\"include\" data=\"freeswitch.xml\"/>",
    );
    let inv = v.read();
    let w = inv
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::IncludeLoop)
        .unwrap();
    assert_eq!(w.at.to_string(), "vars.xml:305");
    assert!(
        w.message
            .contains("freeswitch.xml -> vars.xml -> freeswitch.xml"),
        "{}",
        w.message
    );
    assert_eq!(summary(&inv), summary(&read(&vanilla)));
}

#[test]
fn broken_xml_points_at_the_original_file() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "sip_profiles/internal.xml",
        r#"<param name="dialplan" value="XML"/>"#,
        r#"<param name="dialplan" value="XML"/ oops>"#,
    );
    let err = discover(&Disk, v.dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, Error::Xml { .. }));
    let text = err.to_string();
    assert!(text.starts_with("sip_profiles/internal.xml:91:"), "{text}");
}

#[test]
fn exec_set_port_is_unknown_unless_given() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        r#"<X-PRE-PROCESS cmd="set" data="internal_sip_port=5060"/>"#,
        r#"<X-PRE-PROCESS cmd="exec-set" data="internal_sip_port=/usr/local/bin/pick-port"/>"#,
    );
    let inv = v.read();
    let sip = find(&inv, "sofia/internal", Kind::Sip).unwrap();
    assert_eq!(sip.ports, None);
    assert_eq!(sip.unknown_because(), Some(Unknown::ExecSet));
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::UnknownValue
            && w.at.to_string() == "sip_profiles/internal.xml:90"));

    let options = Options {
        vars: vec![("internal_sip_port".into(), "5070".into())],
        ..Options::default()
    };
    let inv = discover(&Disk, v.dir.path(), &options).unwrap();
    assert_eq!(
        find(&inv, "sofia/internal", Kind::Sip)
            .unwrap()
            .ports
            .unwrap()
            .first,
        5070
    );
}

#[test]
fn stun_set_address_is_unknown() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "sip_profiles/external.xml",
        r#"<param name="sip-ip" value="$${local_ip_v4}"/>"#,
        r#"<param name="sip-ip" value="$${external_sip_ip}"/>"#,
    );
    let inv = v.read();
    let sip = find(&inv, "sofia/external", Kind::Sip).unwrap();
    assert_eq!(
        sip.address,
        Address::Unknown {
            because: Unknown::StunSet
        }
    );
    assert_eq!(sip.unknown_because(), Some(Unknown::StunSet));
}

#[test]
fn loading_modules_adds_their_listeners() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "autoload_configs/modules.conf.xml",
        r#"<!-- <load module="mod_xml_rpc"/> -->"#,
        r#"<load module="mod_xml_rpc"/>"#,
    )
    .edit(
        "autoload_configs/modules.conf.xml",
        r#"<!-- <load module="mod_skinny"/> -->"#,
        r#"<load module="mod_skinny"/>"#,
    )
    .edit(
        "autoload_configs/modules.conf.xml",
        r#"<!-- <load module="mod_event_multicast"/> -->"#,
        r#"<load module="mod_event_multicast"/>"#,
    )
    .edit(
        "autoload_configs/modules.conf.xml",
        r#"<!-- <load module="mod_erlang_event"/> -->"#,
        r#"<load module="mod_erlang_event"/>"#,
    )
    .edit(
        "autoload_configs/modules.conf.xml",
        r#"<!-- <load module="mod_rtmp"/>   -->"#,
        r#"<load module="mod_rtmp"/>"#,
    )
    .edit(
        "autoload_configs/modules.conf.xml",
        r#"<load module="mod_event_socket"/>"#,
        r#"<!-- <load module="mod_event_socket"/> -->"#,
    );
    let inv = v.read();
    let got = summary(&inv);
    for want in [
        "xml_rpc XmlRpc Tcp 0.0.0.0 8080",
        "skinny/internal Skinny Tcp local_ip_v4 2000",
        "event_multicast EventMulticast Udp 225.1.1.1 4242",
        "erlang_event ErlangEvent Tcp 0.0.0.0 8031",
        "rtmp/default Rtmp Tcp 0.0.0.0 1935",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} not in {got:#?}");
    }
    assert!(inv.event_socket.is_none());
    assert!(inv.services.iter().all(|s| s.kind != Kind::Esl));
}

#[test]
fn msrp_and_h323_when_configured() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "autoload_configs/msrp.conf.xml",
        r#"<!-- <param name="listen-port" value="2855"/> -->"#,
        r#"<param name="listen-port" value="2855"/>"#,
    )
    .edit(
        "autoload_configs/msrp.conf.xml",
        r#"<!-- <param name="listen-ssl-port" value="2856"/> -->"#,
        r#"<param name="listen-ssl-port" value="2856"/>"#,
    )
    .edit(
        "autoload_configs/modules.conf.xml",
        r#"<load module="mod_sofia"/>"#,
        "<load module=\"mod_sofia\"/>\n<load module=\"mod_opal\"/>",
    )
    .edit(
        "autoload_configs/opal.conf.xml",
        r#"<param name="gk-address" value=""/>"#,
        r#"<param name="gk-address" value="*"/>"#,
    );
    let inv = v.read();
    let got = summary(&inv);
    for want in [
        "msrp Msrp Tcp local_ip_v4 2855",
        "msrp MsrpTls Tls local_ip_v4 2856",
        "opal/default H323Q931 Tcp local_ip_v4 1720",
        "opal/gatekeeper H323Ras Udp * 1719",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} not in {got:#?}");
    }
}

#[test]
fn json_shape() {
    let Some(vanilla) = vanilla() else { return };
    let inv = read(&vanilla);
    let json = serde_json::to_value(&inv).unwrap();
    assert_eq!(json["schema"], 1);
    let esl = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "esl")
        .unwrap();
    assert_eq!(esl["transport"], "tcp");
    assert_eq!(esl["protocol"], "tcp");
    assert_eq!(
        esl["address"],
        serde_json::json!({"kind": "any", "family": "ipv6"})
    );
    assert_eq!(
        esl["ports"],
        serde_json::json!({"first": 8021, "last": 8021})
    );
    let wss = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "wss")
        .unwrap();
    assert_eq!(
        wss["address"],
        serde_json::json!({"kind": "host", "family": "ipv4"})
    );
    let sip = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "sip")
        .unwrap();
    let port = sip["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["setting"] == "sip-port")
        .unwrap();
    assert!(port["file"].is_string() && port["line"].is_u64());
    assert_eq!(port["variables"][0]["set_at"]["file"], "vars.xml");
    assert_eq!(json["event_socket"]["default_password"], true);
    assert_eq!(json["rtp"]["ports"]["last"], 32769);
}

#[test]
fn verto_bound_to_a_stun_address_is_unknown() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "autoload_configs/verto.conf.xml",
        r#"<param name="bind-local" value="$${local_ip_v4}:8081"/>"#,
        r#"<param name="bind-local" value="$${external_rtp_ip}:8081"/>"#,
    );
    let inv = v.read();
    let verto = find(&inv, "verto/default-v4", Kind::Verto).unwrap();
    assert_eq!(
        verto.address,
        Address::Unknown {
            because: Unknown::StunSet
        }
    );
    assert_eq!(verto.ports.unwrap().first, 8081);
    assert_eq!(verto.unknown_because(), Some(Unknown::StunSet));
}

#[test]
fn verto_multicast_socket_follows_mod_verto() {
    let Some(vanilla) = vanilla() else { return };
    // mod_verto reads the port with atoi and binds the group's family's
    // wildcard address; the lab test holds the vanilla case to the real
    // process (crates/sipwall/tests/lab_freeswitch.rs).
    let v = Variant::new(&vanilla);
    v.edit(
        "autoload_configs/verto.conf.xml",
        r#"<param name="mcast-ip" value="224.1.1.1"/>"#,
        r#"<param name="mcast-ip" value="ff02::1:2"/>"#,
    );
    v.edit(
        "autoload_configs/verto.conf.xml",
        r#"<param name="mcast-port" value="1337"/>"#,
        r#"<param name="mcast-port" value=" 4242x"/>"#,
    );
    let inv = v.read();
    let m = find(&inv, "verto/default-v4", Kind::VertoMulticast).unwrap();
    assert_eq!(
        m.address,
        Address::Any {
            family: Some(Family::Ipv6)
        }
    );
    assert_eq!(m.ports.unwrap().first, 4242);
    assert_eq!(m.protocol, Protocol::Udp);
    assert!(find(&inv, "verto/default-v6", Kind::VertoMulticast).is_none());

    // Without mcast-port the kernel picks the port: unknown, and said so.
    let v = Variant::new(&vanilla);
    v.edit(
        "autoload_configs/verto.conf.xml",
        r#"<param name="mcast-port" value="1337"/>"#,
        "",
    );
    let inv = v.read();
    let m = find(&inv, "verto/default-v4", Kind::VertoMulticast).unwrap();
    assert_eq!(m.ports, None);
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.message.contains("mcast-port is unset")));
}

#[test]
fn a_sip_port_that_is_not_a_number_binds_mod_sofias_default_not_nothing() {
    let Some(vanilla) = vanilla() else { return };
    // mod_sofia reads sip-port with atoi and binds 5060 when that gives 0;
    // dropping the profile would leave the port FreeSWITCH opens out of the policy.
    let v = Variant::new(&vanilla);
    v.edit(
        "vars.xml",
        "internal_sip_port=5060",
        "internal_sip_port=abc",
    );
    v.edit(
        "vars.xml",
        "internal_tls_port=5061",
        "internal_tls_port=5071x",
    );
    v.edit(
        "vars.xml",
        "internal_ssl_enable=false",
        "internal_ssl_enable=true",
    );
    let inv = v.read();
    for t in [Transport::Udp, Transport::Tcp] {
        let sip = inv
            .services
            .iter()
            .find(|s| s.name == "sofia/internal" && s.kind == Kind::Sip && s.transport == t)
            .unwrap();
        assert_eq!(sip.ports.map(|p| (p.first, p.last)), Some((5060, 5060)));
    }
    let tls = find(&inv, "sofia/internal", Kind::SipTls).unwrap();
    assert_eq!(tls.ports.map(|p| p.first), Some(5071));
    assert_eq!(
        inv.profiles
            .iter()
            .find(|p| p.name == "internal")
            .unwrap()
            .sip_port,
        Some(5060)
    );
    let bad: Vec<&str> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::BadValue)
        .map(|w| w.message.as_str())
        .collect();
    assert!(
        bad.iter()
            .any(|m| m.contains("sip-port \"abc\"") && m.ends_with("reads it as 5060")),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|m| m.contains("tls-sip-port \"5071x\"") && m.ends_with("reads it as 5071")),
        "{bad:?}"
    );
}

#[test]
fn an_empty_freeswitch_xml_is_blamed_on_itself_not_on_nowhere() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    fs::write(v.path("freeswitch.xml"), "").unwrap();
    let err = discover(&Disk, v.dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, Error::Xml { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "freeswitch.xml:1: the document is empty (FreeSWITCH: \"Cannot Open log directory or XML Root!\")"
    );
    fs::write(
        v.path("freeswitch.xml"),
        "<?xml version=\"1.0\"?>\n<!-- nothing -->\n",
    )
    .unwrap();
    let err = discover(&Disk, v.dir.path(), &Options::default()).unwrap_err();
    assert_eq!(err.to_string(), "freeswitch.xml:1: root tag missing");
}

/// What switch_xml.c accepts and a conforming XML parser refuses: the
/// lab's FreeSWITCH loads this same edit and binds 5070
/// (crates/sipwall/tests/lab_freeswitch_config.rs).
#[test]
fn a_bare_ampersand_a_prefixed_tag_and_unspaced_attributes_are_read_as_freeswitch_reads_them() {
    let Some(vanilla) = vanilla() else { return };
    let v = Variant::new(&vanilla);
    v.edit(
        "sip_profiles/internal.xml",
        r#"<param name="sip-port" value="$${internal_sip_port}"/>"#,
        r#"<x:note text="a & b < c"/><param name="sip-port"value="50&#55;0" note="R&D"/>"#,
    );
    let inv = v.read();
    let internal = inv.profiles.iter().find(|p| p.name == "internal").unwrap();
    assert_eq!(internal.sip_port, Some(5070));
    let sip = find(&inv, "sofia/internal", Kind::Sip).unwrap();
    assert_eq!(sip.ports.unwrap().first, 5070);
    assert_eq!(
        sip.provenance.last().unwrap().at.to_string(),
        "sip_profiles/internal.xml:90"
    );
}

/// What switch_xml.c refuses is refused with its words, at the original
/// file, line and column.
#[test]
fn what_freeswitch_refuses_is_refused_in_its_words_at_file_line_and_column() {
    let Some(vanilla) = vanilla() else { return };
    for (to, expected) in [
        (
            r#"<param name="sip-port" value="5060"/ >"#,
            "sip_profiles/internal.xml:90:6: missing >",
        ),
        (
            r#"<param name="sip-port" value="5060"/><!-- a -- b -->"#,
            "sip_profiles/internal.xml:90:43: unclosed <!--",
        ),
        (
            r#"<1param name="sip-port" value="5060"/>"#,
            "sip_profiles/internal.xml:90:6: unexpected <",
        ),
        (
            r#"<param name="sip-port" value="5060"></parm>"#,
            "sip_profiles/internal.xml:90:43: unexpected closing tag </parm>",
        ),
    ] {
        let v = Variant::new(&vanilla);
        v.edit(
            "sip_profiles/internal.xml",
            r#"<param name="sip-port" value="$${internal_sip_port}"/>"#,
            to,
        );
        let err = discover(&Disk, v.dir.path(), &Options::default()).unwrap_err();
        assert_eq!(err.to_string(), expected, "{to}");
    }
}
