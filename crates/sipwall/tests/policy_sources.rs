//! Where the policy comes from without `-c`: /etc/sipwall/sipwall.toml, else
//! FreeSWITCH's configuration in its usual places, else the built-in. The
//! test gives sipwall a private /etc in a mount namespace of its own, so
//! the host's /etc is never touched.

mod lab;

use std::process::Command;

fn compile_with_private_etc(setup: &str) -> String {
    let script = format!(
        "set -e; mount -t tmpfs sipwall-test /etc; {setup}; exec {} compile",
        lab::sipwall()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn without_c_the_freeswitch_configuration_is_discovered() {
    if !lab::require("policy_sources", &["unshare", "mount"]) {
        return;
    }
    let Some(vanilla) = sipwall_testdata::shared("testdata/freeswitch/vanilla") else {
        return;
    };
    let vanilla = vanilla.to_str().expect("a UTF-8 path");
    // A copy with the internal profile moved, so the result cannot be the built-in by chance.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("conf");
    let cp = Command::new("cp")
        .args(["-r", vanilla, copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(cp.success());
    let vars = copy.join("vars.xml");
    let text = std::fs::read_to_string(&vars).unwrap();
    assert!(text.contains("internal_sip_port=5060"));
    std::fs::write(
        &vars,
        text.replace("internal_sip_port=5060", "internal_sip_port=5070"),
    )
    .unwrap();
    let out = compile_with_private_etc(&format!(
        "mkdir /etc/freeswitch; mount --bind {} /etc/freeswitch",
        copy.display()
    ));
    assert!(
        out.starts_with("# sipwall ruleset, compiled from /etc/freeswitch (discovered)"),
        "{out}"
    );
    assert!(
        out.contains("udp dport 5070 accept comment \"services.sip-internal"),
        "{out}"
    );
    assert!(!out.contains("dport 5060 accept"), "{out}");
}

#[test]
fn without_c_the_system_policy_wins() {
    if !lab::require("policy_sources", &["unshare", "mount"]) {
        return;
    }
    let out = compile_with_private_etc(
        "mkdir -p /etc/sipwall; printf '[services.ssh]\\nkind = \"ssh\"\\nports = [2222]\\nallow = [\"any\"]\\n' > /etc/sipwall/sipwall.toml",
    );
    assert!(
        out.starts_with("# sipwall ruleset, compiled from /etc/sipwall/sipwall.toml"),
        "{out}"
    );
    assert!(out.contains("tcp dport 2222 accept"), "{out}");
}
