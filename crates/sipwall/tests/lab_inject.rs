//! Issue 13, items 1 and 2, end to end. Item 2 in the real kernel: a
//! policy whose texts carry nft syntax cannot reach another tool's table
//! through `sipwall apply`. Before the fix, a service name or a policy
//! file name ending up in the `# skipped` comment line of the
//! string-match rules closed sipwall's table and ran `delete table ip
//! victim` in the same transaction.

mod lab;

use lab::Lab;

const VICTIM: &str = "table ip victim {\n  chain input {\n    type filter hook input priority 10; policy accept;\n  }\n}\n";
/// Closes sipwall's chain and table, deletes the victim (creating it first,
/// so that the copies in each rule's comment all succeed), reopens
/// sipwall's chain so the rest of the script still parses, and comments out
/// the rest of the line. Checked by hand against the old renderer's output:
/// `nft -f` deleted the victim and loaded sipwall's table.
const INJECTION: &str =
    "\n}\n}\ntable ip victim {}\ndelete table ip victim\ntable inet sipwall {\nchain input {\n#";

fn victim_survives(lab: &Lab) {
    let out = lab.run("fw", &["nft", "list", "table", "ip", "victim"]);
    assert!(
        out.status.success(),
        "another tool's table was deleted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_service_name_cannot_delete_another_tools_table() {
    let Some(lab) = Lab::up("inject_service_name", &[]) else {
        return;
    };
    lab.nft("fw", VICTIM);
    let name = format!("sip{INJECTION}").escape_default().to_string();
    let policy = format!(
        "[services.\"{name}\"]\nkind = \"sip\"\nallow = [\"any\"]\n[iptables]\nscanner_string_match = true\n"
    );
    let path = lab.state.path().join("p.toml");
    std::fs::write(&path, policy).unwrap();
    let out = lab.sipwall("fw", &["apply", "-c", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "the policy is refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("p.toml:1:11: invalid service name"), "{err}");
    victim_survives(&lab);
    assert!(lab.sipwall_table("fw").is_none(), "nothing was applied");
}

#[test]
fn a_policy_file_name_cannot_delete_another_tools_table() {
    let Some(lab) = Lab::up("inject_file_name", &[]) else {
        return;
    };
    lab.nft("fw", VICTIM);
    let policy = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[iptables]\nscanner_string_match = true\n";
    // Linux allows any byte but '/' and NUL in a file name.
    let path = lab.state.path().join(format!("p{INJECTION}.toml"));
    std::fs::write(&path, policy).unwrap();
    let out = lab.sipwall("fw", &["apply", "-c", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    victim_survives(&lab);
    let table = lab.sipwall_table("fw").expect("sipwall's table is loaded");
    assert!(table.contains("udp dport 5060 accept"), "{table}");
    // The name stays inside the comments, escaped.
    assert!(
        table.contains("p%0A%7D%0A%7D%0Atable ip victim %7B%7D%0Adelete table ip victim%0A"),
        "{table}"
    );
}

/// Issue 13, item 1 end to end: `compile` without `-c` derives the policy
/// from /etc/freeswitch (a private /etc in a mount namespace of its own).
/// Before the fix, a `sip-ip` holding a newline and a TOML table opened
/// tcp/4444 to anyone.
#[test]
fn a_sip_ip_with_a_newline_cannot_open_a_port_without_c() {
    if !lab::require("inject_sip_ip", &["unshare", "mount"]) {
        return;
    }
    let q = "&quot;";
    let nl = "&#10;";
    let backdoor = format!(
        "192.0.2.10{nl}kind={q}sip{q}{nl}protocols=[{q}udp{q}]{nl}ports=[5060]{nl}allow=[{q}any{q}]{nl}[services.backdoor]{nl}kind={q}custom{q}{nl}protocols=[{q}tcp{q}]{nl}ports=[4444]{nl}allow=[{q}any{q}]{nl}[services.z]{nl}#"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("freeswitch.xml"),
        format!(
            r#"<document type="freeswitch/xml">
  <section name="configuration">
    <configuration name="modules.conf"><modules><load module="mod_sofia"/></modules></configuration>
    <configuration name="sofia.conf"><profiles>
      <profile name="internal"><settings>
        <param name="sip-ip" value="{backdoor}"/>
      </settings></profile>
    </profiles></configuration>
  </section>
</document>
"#
        ),
    )
    .unwrap();
    let script = format!(
        "set -e; mount -t tmpfs sipwall-test /etc; mkdir /etc/freeswitch; mount --bind {} /etc/freeswitch; exec {} compile",
        dir.path().display(),
        lab::sipwall()
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let nft = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        nft.starts_with("# sipwall ruleset, compiled from /etc/freeswitch (discovered)"),
        "{nft}"
    );
    assert!(!nft.contains("4444"), "the backdoor is open:\n{nft}");
    assert!(
        !nft.contains("dport 5060"),
        "a profile bound to no address is not opened:\n{nft}"
    );
    assert!(nft.contains("tcp dport 22 accept"), "{nft}");
}
