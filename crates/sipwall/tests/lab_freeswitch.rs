//! Issue 14 against the real FreeSWITCH: `sipwall discover freeswitch`
//! reports exactly the sockets the running process owns, for vanilla and
//! for variants of it made here, both ways (nothing missed, nothing extra).
//! Each test starts FreeSWITCH once (a few seconds).

#[path = "lab/freeswitch.rs"]
mod freeswitch;
mod lab;

use freeswitch::{FreeSwitch, Options, Socket, Tree};
use lab::Lab;
use serde_json::Value;
use std::collections::BTreeSet;

const VANILLA_PROFILES: [&str; 4] = ["internal", "external", "internal-ipv6", "external-ipv6"];

fn lab(test: &str) -> Option<Lab> {
    if !freeswitch::require(test) {
        return None;
    }
    Lab::up(test, &["ss"])
}

/// `sipwall discover freeswitch` on the tree FreeSWITCH runs on.
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

/// An address of the inventory as the socket FreeSWITCH binds for it:
/// `host` is what FreeSWITCH derived at start-up, which it reports itself.
fn concrete(fs: &FreeSwitch, address: &Value) -> String {
    match (address["kind"].as_str(), address["family"].as_str()) {
        (Some("ip"), _) => address["ip"].as_str().unwrap().to_owned(),
        (Some("any"), Some("ipv4")) => "0.0.0.0".to_owned(),
        (Some("any"), Some("ipv6")) => "::".to_owned(),
        (Some("host"), Some("ipv4")) => fs.var("local_ip_v4"),
        (Some("host"), Some("ipv6")) => fs.var("local_ip_v6"),
        _ => panic!("discovery does not know the address {address}"),
    }
}

/// The sockets discovery says FreeSWITCH binds. RTP is left out: its
/// range is where FreeSWITCH picks a port per call, not a listening socket
/// (the range itself is checked against `switch.conf.xml`).
fn discovered_sockets(fs: &FreeSwitch, inv: &Value) -> BTreeSet<Socket> {
    let mut out = BTreeSet::new();
    for s in inv["services"].as_array().unwrap() {
        if s["kind"] == "rtp" {
            continue;
        }
        let ports = &s["ports"];
        assert!(!ports.is_null(), "discovery knows no port for {s}");
        let (first, last) = (
            ports["first"].as_u64().unwrap(),
            ports["last"].as_u64().unwrap(),
        );
        let addr = concrete(fs, &s["address"]);
        for p in first..=last {
            out.insert((
                s["protocol"].as_str().unwrap().to_owned(),
                addr.clone(),
                p as u16,
            ));
        }
    }
    out
}

/// Discovery on FreeSWITCH's tree equals what the process binds, both
/// ways; the inventory and the sockets.
fn assert_discovery_is_what_freeswitch_binds(fs: &FreeSwitch) -> (Value, BTreeSet<Socket>) {
    let inv = discover(fs);
    let claimed = discovered_sockets(fs, &inv);
    let real = fs.listening();
    let missed: Vec<_> = real.difference(&claimed).collect();
    let extra: Vec<_> = claimed.difference(&real).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "discovery is not what FreeSWITCH binds\n  missed (bound, not discovered): {missed:?}\n  \
         extra (discovered, not bound): {extra:?}\n  FreeSWITCH binds: {real:?}\n{}",
        fs.log_tail(30)
    );
    (inv, real)
}

fn has(real: &BTreeSet<Socket>, proto: &str, addr: &str, port: u16) -> bool {
    real.contains(&(proto.to_owned(), addr.to_owned(), port))
}

#[test]
fn vanilla_discovery_is_exactly_what_freeswitch_binds() {
    let Some(lab) = lab("vanilla_discovery_is_exactly_what_freeswitch_binds") else {
        return;
    };
    let tree = Tree::vanilla();
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    assert_eq!(fs.var("local_ip_v4"), "192.0.2.1");
    let (_, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    // What the README measured, so the comparison above is not vacuous.
    for (proto, addr, port) in [
        ("udp", "192.0.2.1", 5060),
        ("tcp", "192.0.2.1", 5080),
        ("tcp", "192.0.2.1", 7443),
        ("tcp", "192.0.2.1", 8081),
        ("tcp", "::", 8021),
    ] {
        assert!(
            has(&real, proto, addr, port),
            "{proto} {addr}:{port} in {real:?}"
        );
    }
}

#[test]
fn verto_multicast_socket_is_discovered() {
    let Some(lab) = lab("verto_multicast_socket_is_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    // Another group and port than vanilla's, on one profile only.
    tree.edit(
        "autoload_configs/verto.conf.xml",
        r#"<param name="mcast-port" value="1337"/>"#,
        r#"<param name="mcast-port" value="4321"/>"#,
    );
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let (_, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    assert!(has(&real, "udp", "0.0.0.0", 4321), "{real:?}");
}

#[test]
fn changed_sip_ports_and_rtp_range_are_discovered() {
    let Some(lab) = lab("changed_sip_ports_and_rtp_range_are_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    tree.set_var("internal_sip_port", "5060", "5062");
    tree.set_var("external_sip_port", "5080", "5090");
    tree.edit(
        "autoload_configs/switch.conf.xml",
        r#"<!-- <param name="rtp-start-port" value="16384"/> -->"#,
        r#"<param name="rtp-start-port" value="20000"/>"#,
    );
    tree.edit(
        "autoload_configs/switch.conf.xml",
        r#"<!-- <param name="rtp-end-port" value="32768"/> -->"#,
        r#"<param name="rtp-end-port" value="20999"/>"#,
    );
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let (inv, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    assert!(has(&real, "udp", "192.0.2.1", 5062), "{real:?}");
    assert!(has(&real, "tcp", "192.0.2.1", 5090), "{real:?}");
    assert!(!real.iter().any(|s| s.2 == 5060 || s.2 == 5080), "{real:?}");
    // The RTP range binds nothing until a call: held to the file instead.
    assert_eq!(inv["rtp"]["start"], 20000);
    assert_eq!(inv["rtp"]["end"], 20999);
    assert!(!real.iter().any(|s| (20000..=21000).contains(&s.2)));
}

#[test]
fn a_sip_port_that_is_not_a_number_is_discovered_as_what_sofia_binds() {
    let Some(lab) = lab("a_sip_port_that_is_not_a_number_is_discovered_as_what_sofia_binds") else {
        return;
    };
    let tree = Tree::vanilla();
    tree.set_var("internal_sip_port", "5060", "abc");
    tree.set_var("external_sip_port", "5080", "5090x");
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let (inv, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    // mod_sofia's atoi: "abc" is 0, which means its default; "5090x" is 5090.
    assert!(has(&real, "udp", "192.0.2.1", 5060), "{real:?}");
    assert!(has(&real, "tcp", "192.0.2.1", 5090), "{real:?}");
    let internal = inv["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "internal")
        .unwrap();
    assert_eq!(internal["sip_port"], 5060);
}

#[test]
fn tls_on_is_discovered() {
    let Some(lab) = lab("tls_on_is_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    tree.set_var("internal_ssl_enable", "false", "true");
    let certs = tempfile::tempdir().unwrap();
    freeswitch::gentls_cert(certs.path(), "fw.sipwall.test");
    let fs = FreeSwitch::start_with(
        &lab,
        tree.path(),
        &Options {
            profiles: &VANILLA_PROFILES,
            certs: Some(certs.path()),
            ..Options::default()
        },
    );
    let (inv, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    assert!(has(&real, "tcp", "192.0.2.1", 5061), "{real:?}");
    assert!(
        inv["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "sip-tls" && s["ports"]["first"] == 5061),
        "no sip-tls service on 5061"
    );
}

#[test]
fn removed_external_profile_is_not_discovered() {
    let Some(lab) = lab("removed_external_profile_is_not_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    tree.remove("sip_profiles/external.xml");
    let fs = FreeSwitch::start(
        &lab,
        tree.path(),
        &["internal", "internal-ipv6", "external-ipv6"],
    );
    let (_, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    assert!(!has(&real, "udp", "192.0.2.1", 5080), "{real:?}");
    assert!(has(&real, "udp", &fs.var("local_ip_v6"), 5080), "{real:?}");
}

#[test]
fn unloaded_verto_is_not_discovered() {
    let Some(lab) = lab("unloaded_verto_is_not_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    tree.edit(
        "autoload_configs/modules.conf.xml",
        r#"<load module="mod_verto"/>"#,
        r#"<!-- <load module="mod_verto"/> -->"#,
    );
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    let (_, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    assert!(
        !real.iter().any(|s| [8081, 8082, 1337].contains(&s.2)),
        "{real:?}"
    );
}

#[test]
fn moved_event_socket_is_discovered() {
    let Some(lab) = lab("moved_event_socket_is_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    let conf = "autoload_configs/event_socket.conf.xml";
    tree.edit(
        conf,
        r#"<param name="listen-ip" value="::"/>"#,
        r#"<param name="listen-ip" value="192.0.2.1"/>"#,
    );
    tree.edit(
        conf,
        r#"<param name="listen-port" value="8021"/>"#,
        r#"<param name="listen-port" value="8022"/>"#,
    );
    // Without an ACL mod_event_socket admits loopback.auto only, and fs_cli
    // now comes from 192.0.2.1.
    tree.edit(
        conf,
        r#"<!--<param name="apply-inbound-acl" value="loopback.auto"/>-->"#,
        r#"<param name="apply-inbound-acl" value="localnet.auto"/>"#,
    );
    let fs = FreeSwitch::start_with(
        &lab,
        tree.path(),
        &Options {
            profiles: &VANILLA_PROFILES,
            esl: ("192.0.2.1", 8022),
            ..Options::default()
        },
    );
    let (inv, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    assert!(has(&real, "tcp", "192.0.2.1", 8022), "{real:?}");
    assert!(!real.iter().any(|s| s.2 == 8021), "{real:?}");
    assert_eq!(inv["event_socket"]["port"], 8022);
    assert_eq!(inv["event_socket"]["apply_inbound_acl"][0], "localnet.auto");
}

#[test]
fn profiles_on_local_ip_v6_only_are_discovered() {
    let Some(lab) = lab("profiles_on_local_ip_v6_only_are_discovered") else {
        return;
    };
    let tree = Tree::vanilla();
    tree.remove("sip_profiles/internal.xml");
    tree.remove("sip_profiles/external.xml");
    let fs = FreeSwitch::start(&lab, tree.path(), &["internal-ipv6", "external-ipv6"]);
    // The lab's global address, found through the default route.
    assert_eq!(fs.var("local_ip_v6"), "2001:db8::1");
    let (_, real) = assert_discovery_is_what_freeswitch_binds(&fs);
    let sip: Vec<_> = real
        .iter()
        .filter(|s| [5060, 5080].contains(&s.2))
        .collect();
    assert_eq!(sip.len(), 4, "{real:?}");
    assert!(sip.iter().all(|s| s.1 == "2001:db8::1"), "{real:?}");
}

/// A phone that mistypes its password twice, then gets it right: each
/// attempt is a fresh challenge (FreeSWITCH may answer a wrong digest with
/// 403 or with a new 401).
const MISTYPED_THEN_REGISTERED: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="REGISTER, mistyped twice">
ATTEMPTS
</scenario>
"#;

fn attempt(n: u32, password: &str, last: bool) -> String {
    let register = |cseq: u32, auth: &str| {
        format!(
            r#"  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1000@[remote_ip]>;tag=[pid]SIPpTag[call_number]
      To: <sip:1000@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:1000@[local_ip]:[local_port]>
      {auth}
      Max-Forwards: 70
      Expires: 60
      User-Agent: SIPp
      Content-Length: 0

    ]]>
  </send>
"#
        )
    };
    let mut s = register(2 * n - 1, "");
    s.push_str("  <recv response=\"401\" auth=\"true\"/>\n");
    s.push_str(&register(
        2 * n,
        &format!("[authentication username=1000 password={password}]"),
    ));
    if last {
        s.push_str("  <recv response=\"200\"/>\n");
    } else {
        s.push_str(&format!(
            "  <recv response=\"401\" optional=\"true\" next=\"a{n}\"/>\n  <recv response=\"403\"/>\n  <label id=\"a{n}\"/>\n"
        ));
    }
    s
}

/// The registered phone calls 9196, vanilla's echo test (answered after
/// vanilla's dialplan sleeps 10 s over the default password), with its
/// digest when FreeSWITCH challenges the INVITE (407; a source vanilla
/// trusts by address gets no challenge), plays a G.711 pcap as RTP for its
/// 7 s, then hangs up.
const CALL_ECHO: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call 9196 with RTP">
  <send retrans="500">
    <![CDATA[
      INVITE sip:9196@[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1000@[remote_ip]>;tag=[pid]SIPpTag0[call_number]
      To: <sip:9196@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:1000@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: SIPp
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="407" auth="true" optional="true" next="challenged"/>
  <recv response="200" rtd="true" rrs="true" next="answered"/>
  <label id="challenged"/>
  <send>
    <![CDATA[
      ACK sip:9196@[remote_ip] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      INVITE sip:9196@[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1000@[remote_ip]>;tag=[pid]SIPpTag0[call_number]
      To: <sip:9196@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:1000@[local_ip]:[local_port]>
      [authentication username=1000 password=1234]
      Max-Forwards: 70
      User-Agent: SIPp
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <label id="answered"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1000@[remote_ip]>;tag=[pid]SIPpTag0[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: [last_cseq_number] ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop>
    <action>
      <exec play_pcap_audio="g711a.pcap"/>
    </action>
  </nop>
  <pause milliseconds="7500"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1000@[remote_ip]>;tag=[pid]SIPpTag0[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#;

/// The RTP of a call between the peer's port 6000 and FreeSWITCH's range:
/// packets that passed sipwall into FreeSWITCH, and that came back.
const RTP_COUNTERS: [&str; 1] = ["ip saddr 192.0.2.2 udp sport 6000 udp dport 16384-32768 counter"];
const RTP_BACK: [&str; 1] = ["ip saddr 192.0.2.1 udp sport 16384-32768 udp dport 6000 counter"];

fn banned(lab: &Lab, addr: &str) -> bool {
    lab.banned("fw", addr)
}

/// What the phone's run left: the daemon's log, its final status, and with
/// a call, the RTP packets into FreeSWITCH and echoed back.
struct Phone {
    log: String,
    status: Value,
    echoed: Option<(u64, u64)>,
}

/// A SIPp phone (user 1000) at the peer mistypes its password `mistypes` times,
/// then registers, against the real FreeSWITCH behind sipwall's policy for its
/// tree, with `sipwall run --esl` connected. With `untapped`, the SIP
/// services are declared `custom` so the daemon reads no SIP from the
/// wire: what it learns can only come from the event socket. Returns the
/// daemon's log and its final status. With `call`, the phone then calls
/// 9196 with RTP; the result has the RTP packets that went in through
/// sipwall and came back echoed.
fn phone_mistypes_then_registers(
    test: &str,
    mistypes: u32,
    untapped: bool,
    call: bool,
) -> Option<Phone> {
    let lab = lab(test)?;
    if !lab::require(test, &["sipp"]) {
        return None;
    }
    let tree = Tree::vanilla();
    // Vanilla's example of IP authentication trusts 192.0.2.0/24, the lab's
    // own network, as user brian (who requires SRTP): the phone would call
    // as brian with no digest, and its plain RTP would be refused (488).
    tree.edit(
        "directory/default/brian.xml",
        r#"<user id="brian" cidr="192.0.2.0/24">"#,
        r#"<user id="brian">"#,
    );
    let fs = FreeSwitch::start(&lab, tree.path(), &VANILLA_PROFILES);
    // sipwall's policy for this very tree, applied in front of it.
    let out = std::process::Command::new(lab::sipwall())
        .args(["discover", "freeswitch"])
        .arg(fs.conf())
        .args(["--format", "toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut policy = String::from_utf8(out.stdout).unwrap();
    if untapped {
        assert!(policy.contains("kind = \"sip\""));
        policy = policy.replace("kind = \"sip\"", "kind = \"custom\"");
    }
    let policy = lab.apply_policy(&policy);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("daemon.log");
    let _daemon = freeswitch::start_guard(&lab, &dir, &policy, &log, &[]);
    let status = || -> Value {
        let out = lab.sipwall("fw", &["status", "--format", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    assert!(
        freeswitch::esl_connected(&lab, std::time::Duration::from_secs(15)),
        "the daemon never reached FreeSWITCH's event socket:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let attempts: String = (1..=mistypes + 1)
        .map(|n| {
            let last = n == mistypes + 1;
            let password = if last {
                "1234".to_owned()
            } else {
                format!("123{n}x")
            };
            attempt(n, &password, last)
        })
        .collect();
    let scenario = lab::write_temp(
        &dir,
        "register.xml",
        &MISTYPED_THEN_REGISTERED.replace("ATTEMPTS", &attempts),
    );
    let out = lab
        .cmd("peer", "timeout")
        .args([
            "30",
            "sipp",
            "-nostdin",
            "-timeout",
            "20s",
            "-timeout_error",
            "-sf",
        ])
        .arg(&scenario)
        .args(["-i", "192.0.2.2", "-p", "5070", "-m", "1", "192.0.2.1:5060"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SIPp: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        fs.log_tail(30)
    );
    let regs = fs.cli("sofia status profile internal reg");
    assert!(
        regs.contains("192.0.2.2"),
        "FreeSWITCH registered the phone: {regs}"
    );
    // The engine allows a source it saw register.
    let allowed = lab.wait_for(std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(&log).is_ok_and(|l| {
            l.lines()
                .any(|l| l.contains("registered: allowed") && l.contains("192.0.2.2"))
        })
    });
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(allowed, "no registration seen:\n{log_text}");
    assert!(
        !banned(&lab, "192.0.2.2"),
        "the phone was banned:\n{log_text}"
    );
    let echoed = call.then(|| {
        lab.counters("fw", "input", &RTP_COUNTERS);
        lab.counters("peer", "input", &RTP_BACK);
        let scenario = lab::write_temp(&dir, "call.xml", CALL_ECHO);
        std::fs::copy(
            "/usr/share/sip-tester/g711a.pcap",
            dir.path().join("g711a.pcap"),
        )
        .unwrap();
        let out = lab
            .cmd("peer", "timeout")
            .args([
                "40",
                "sipp",
                "-nostdin",
                "-timeout",
                "30s",
                "-timeout_error",
                "-sf",
            ])
            .arg(&scenario)
            .args(["-i", "192.0.2.2", "-p", "5070", "-mp", "6000", "-m", "1"])
            .args(["-s", "9196", "-trace_err", "-error_file", "call.err"])
            .arg("192.0.2.1:5060")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the call to 9196: {}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(dir.path().join("call.err")).unwrap_or_default(),
            fs.log_tail(40)
        );
        (lab.counts("fw")[0], lab.counts("peer")[0])
    });
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !banned(&lab, "192.0.2.2"),
        "the phone was banned:\n{log_text}"
    );
    let st = status();
    assert_eq!(st["bans_active"], 0, "{log_text}");
    Some(Phone {
        log: log_text,
        status: st,
        echoed,
    })
}

#[test]
fn a_phone_that_mistypes_its_password_twice_is_not_banned_by_the_real_freeswitch() {
    let Some(Phone {
        log,
        status: st,
        echoed,
    }) = phone_mistypes_then_registers(
        "a_phone_that_mistypes_its_password_twice_is_not_banned_by_the_real_freeswitch",
        2,
        false,
        true,
    )
    else {
        return;
    };
    assert!(st["sip_messages"].as_u64().unwrap() >= 8, "{st}");
    // The two mistypes, each seen on the wire and as FreeSWITCH's event,
    // count once each (twice each, a phone would be banned at its third).
    assert_eq!(st["auth_failures"], 2, "{st}\n{log}");
    // 236 packets in the pcap: most reach FreeSWITCH and come back echoed.
    let (to_fs, back) = echoed.unwrap();
    eprintln!("RTP of the call to 9196: {to_fs} packets in, {back} echoed back");
    assert!(to_fs >= 200, "RTP into FreeSWITCH: {to_fs} packets");
    assert!(back >= 150, "RTP echoed by FreeSWITCH: {back} packets");
}

#[test]
fn freeswitchs_sofia_register_event_reaches_the_engine() {
    let Some(Phone {
        log, status: st, ..
    }) = phone_mistypes_then_registers(
        "freeswitchs_sofia_register_event_reaches_the_engine",
        2,
        true,
        false,
    )
    else {
        return;
    };
    // Nothing from the wire: the allowance above came from the event socket.
    assert_eq!(st["sip_messages"], 0, "{st}\n{log}");
    // And so did the two mistypes: FreeSWITCH's sofia::register_failure.
    assert_eq!(st["auth_failures"], 2, "{st}\n{log}");
}

#[test]
fn a_mistype_freeswitch_reports_on_the_wire_and_as_an_event_counts_once() {
    // Three mistypes under the policy's max_failures of 5: counted twice
    // each (FreeSWITCH's 403 on the wire, then its sofia::register_failure),
    // the phone was banned at its third and never registered.
    let Some(Phone {
        log, status: st, ..
    }) = phone_mistypes_then_registers(
        "a_mistype_freeswitch_reports_on_the_wire_and_as_an_event_counts_once",
        3,
        false,
        false,
    )
    else {
        return;
    };
    assert_eq!(st["auth_failures"], 3, "{st}\n{log}");
    assert!(st["sip_messages"].as_u64().unwrap() >= 10, "{st}");
}
