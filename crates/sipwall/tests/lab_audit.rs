//! `sipwall audit --live` in a lab namespace: what `sipwall apply` loaded
//! audits clean, and a rule added beside it by hand (iptables-nft, the
//! classic way) is found.

mod lab;

use lab::Lab;

/// The vanilla tree, or `None` (the reason printed) where `../shared` is absent.
fn vanilla() -> Option<String> {
    sipwall_testdata::shared("testdata/freeswitch/vanilla").map(|p| p.display().to_string())
}

fn findings(out: &std::process::Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn live_audit_after_apply_is_clean_and_sees_a_hand_made_hole() {
    let Some(vanilla) = vanilla() else { return };
    let Some(lab) = Lab::up("audit_live", &[]) else {
        return;
    };
    let applied = lab.sipwall("fw", &["apply"]);
    assert!(
        applied.status.success(),
        "apply: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let audit = || {
        lab.sipwall(
            "fw",
            &[
                "audit",
                "--live",
                "--freeswitch",
                &vanilla,
                "--format",
                "json",
            ],
        )
    };
    let out = audit();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = findings(&out);
    assert!(
        f.iter().all(|x| x["severity"] == "info"),
        "only information after apply: {f:#?}"
    );
    assert!(f.iter().any(|x| x["id"] == "esl-default-password"));

    // A second input chain that opens ESL to the world, in front of
    // sipwall's: a packet needs both chains' accept, so it is still denied.
    lab.nft(
        "fw",
        "table inet extra {\n chain input {\n  type filter hook input priority filter - 10; policy accept;\n  tcp dport 8021 accept\n  log prefix \"all: \"\n }\n}\n",
    );
    let f = findings(&audit());
    let ids: Vec<&str> = f.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert!(
        !ids.contains(&"esl-exposed"),
        "sipwall's chain still rejects 8021: {f:#?}"
    );
    let log = f
        .iter()
        .find(|x| x["id"] == "log-unlimited")
        .expect("the unlimited log rule");
    assert!(
        log["location"]
            .as_str()
            .unwrap()
            .starts_with("live: inet extra input handle "),
        "{log}"
    );

    // Removing sipwall's table leaves the hand-made chain alone: no default deny.
    let reset = lab.sipwall("fw", &["reset"]);
    assert!(reset.status.success());
    let out = audit();
    assert_eq!(out.status.code(), Some(1));
    let f = findings(&out);
    for id in ["esl-exposed", "no-default-deny"] {
        assert!(
            f.iter().any(|x| x["id"] == id && x["severity"] != "info"),
            "{id}: {f:#?}"
        );
    }
}
