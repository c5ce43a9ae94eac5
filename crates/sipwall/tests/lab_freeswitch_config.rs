//! Issue 14: the configuration reader reads what the real FreeSWITCH
//! reads. Constructs a conforming XML parser refuses but switch_xml.c
//! accepts (a bare `&` and `<` in a value, a prefixed tag name, attributes
//! with no space between them, a character reference, an internal
//! entity) are loaded by the lab's FreeSWITCH, and `sipwall discover`
//! reads the tree to exactly the sockets the process binds; what it
//! refuses, discover refuses with its reason.

#[path = "lab/freeswitch.rs"]
mod freeswitch;
mod lab;

use freeswitch::{FreeSwitch, Socket, Tree};
use serde_json::Value;
use std::collections::BTreeSet;

const VANILLA_PROFILES: [&str; 4] = ["internal", "external", "internal-ipv6", "external-ipv6"];

fn discover(fs: &FreeSwitch) -> Value {
    let out = std::process::Command::new(lab::sipwall())
        .args(["discover", "freeswitch"])
        .arg(fs.conf())
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "discover: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The sockets the inventory claims, with host-derived addresses as
/// FreeSWITCH derived them (RTP binds nothing until a call).
fn claimed(fs: &FreeSwitch, inv: &Value) -> BTreeSet<Socket> {
    let mut out = BTreeSet::new();
    for s in inv["services"].as_array().unwrap() {
        if s["kind"] == "rtp" {
            continue;
        }
        let a = &s["address"];
        let addr = match (a["kind"].as_str(), a["family"].as_str()) {
            (Some("ip"), _) => a["ip"].as_str().unwrap().to_owned(),
            (Some("any"), Some("ipv4")) => "0.0.0.0".to_owned(),
            (Some("any"), Some("ipv6")) => "::".to_owned(),
            (Some("host"), Some("ipv4")) => fs.var("local_ip_v4"),
            (Some("host"), Some("ipv6")) => fs.var("local_ip_v6"),
            _ => panic!("discovery does not know the address {a}"),
        };
        let p = &s["ports"];
        for port in p["first"].as_u64().unwrap()..=p["last"].as_u64().unwrap() {
            out.insert((
                s["protocol"].as_str().unwrap().to_owned(),
                addr.clone(),
                port as u16,
            ));
        }
    }
    out
}

#[test]
fn a_bare_ampersand_a_prefixed_tag_and_unspaced_attributes_are_read_as_freeswitch_reads_them() {
    const TEST: &str =
        "a_bare_ampersand_a_prefixed_tag_and_unspaced_attributes_are_read_as_freeswitch_reads_them";
    if !freeswitch::require(TEST) {
        return;
    }
    let Some(lab) = lab::Lab::up(TEST, &["ss"]) else {
        return;
    };
    let tree = Tree::vanilla();
    // 5070 written as "50&#55;0", glued to the name attribute, beside an
    // element with a namespace prefix nobody declared and a value holding
    // a bare & and <: roxmltree refused every one of these.
    tree.edit(
        "sip_profiles/internal.xml",
        r#"<param name="sip-port" value="$${internal_sip_port}"/>"#,
        r#"<x:note text="R&D <ops> & more"/><param name="sip-port"value="50&#55;0" note="a&b"/>"#,
    );
    tree.edit(
        "autoload_configs/event_socket.conf.xml",
        "<settings>",
        r#"<settings><ns:comment who="ops & <noc>"/>"#,
    );
    // An internal entity whose value holds a character reference:
    // external's port is "&ext_port;", declared as "50&#57;0" (5090).
    tree.edit(
        "freeswitch.xml",
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE document [ <!ENTITY ext_port \"50&#57;0\"> ]>",
    );
    tree.edit(
        "sip_profiles/external.xml",
        r#"<param name="sip-port" value="$${external_sip_port}"/>"#,
        r#"<param name="sip-port" value="&ext_port;"/>"#,
    );
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let inv = discover(&fs);
    let claimed = claimed(&fs, &inv);
    let real = fs.listening();
    let missed: Vec<_> = real.difference(&claimed).collect();
    let extra: Vec<_> = claimed.difference(&real).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed: {missed:?}\nextra: {extra:?}\nbound: {real:?}\n{}",
        fs.log_tail(30)
    );
    let local = fs.var("local_ip_v4");
    for proto in ["udp", "tcp"] {
        assert!(
            real.contains(&(proto.to_owned(), local.clone(), 5070)),
            "FreeSWITCH did not take 5070 from the edited param: {real:?}"
        );
    }
    assert!(
        !real.iter().any(|s| s.1 == local && s.2 == 5060),
        "{real:?}"
    );
    assert!(
        real.contains(&("udp".to_owned(), local.clone(), 5090)),
        "FreeSWITCH did not expand &ext_port; to 5090: {real:?}"
    );
}

/// What switch_xml.c refuses, the real FreeSWITCH refuses to start on,
/// and `sipwall discover` refuses with the same reason, at the original
/// file:line:col.
#[test]
fn what_freeswitch_refuses_discover_refuses_with_the_same_reason() {
    const TEST: &str = "what_freeswitch_refuses_discover_refuses_with_the_same_reason";
    if !freeswitch::require(TEST) {
        return;
    }
    let Some(lab) = lab::Lab::up(TEST, &["ss"]) else {
        return;
    };
    let param = r#"<param name="sip-port" value="$${internal_sip_port}"/>"#;
    for (to, reason, at) in [
        (
            r#"<param name="sip-port" value="5060"/ >"#,
            "missing >",
            "sip_profiles/internal.xml:90:6",
        ),
        (
            r#"<1param name="sip-port" value="5060"/>"#,
            "unexpected <",
            "sip_profiles/internal.xml:90:6",
        ),
        (
            r#"<param name="sip-port" value="5060"/><!-- a -- b -->"#,
            "unclosed <!--",
            "sip_profiles/internal.xml:90:43",
        ),
        (
            r#"<param name="sip-port" value="5060"></parm>"#,
            "unexpected closing tag </parm>",
            "sip_profiles/internal.xml:90:43",
        ),
    ] {
        let tree = Tree::vanilla();
        tree.edit("sip_profiles/internal.xml", param, to);
        let said = freeswitch::refusal(&lab, tree.path());
        assert!(
            said.contains(&format!("]: {reason}")),
            "FreeSWITCH on {to}: {said}"
        );
        let out = std::process::Command::new(lab::sipwall())
            .args(["discover", "freeswitch"])
            .arg(tree.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{at}: {reason}")),
            "sipwall on {to}: {err}\nFreeSWITCH: {said}"
        );
    }
}
