//! Issue 13, item 2 in the real kernel: a policy whose texts carry nft
//! syntax cannot reach another tool's table through `sipwall apply`.
//! Before the fix, a service name or a policy file name ending up in the
//! `# skipped` comment line of the string-match rules closed sipwall's
//! table and ran `delete table ip victim` in the same transaction.

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
