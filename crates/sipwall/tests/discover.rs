//! `sipwall discover freeswitch`: the command's output and exit codes.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The vanilla tree, or `None` (the reason printed) where `../shared` is absent.
fn vanilla() -> Option<String> {
    sipwall_testdata::shared("testdata/freeswitch/vanilla").map(|p| p.display().to_string())
}

fn sipwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_inventory_of_vanilla() {
    let Some(vanilla) = vanilla() else { return };
    let out = sipwall(&["discover", "freeswitch", &vanilla, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv = json(&out);
    let services = inv["services"].as_array().unwrap();
    assert_eq!(services.len(), 17);
    let count = |kind: &str| services.iter().filter(|s| s["kind"] == kind).count();
    assert_eq!((count("sip"), count("ws"), count("wss")), (8, 1, 1));
    assert_eq!(
        (
            count("verto"),
            count("verto-tls"),
            count("esl"),
            count("rtp")
        ),
        (2, 2, 1, 1)
    );
    assert_eq!(count("sip-tls"), 0);
    assert_eq!(count("verto-multicast"), 1);
    assert_eq!(inv["event_socket"]["password"], "ClueCon");
    assert_eq!(
        inv["rtp"]["ports"],
        serde_json::json!({"first": 16384, "last": 32769})
    );
}

#[test]
fn text_summary() {
    let Some(vanilla) = vanilla() else { return };
    let out = sipwall(&["discover", "freeswitch", &vanilla]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sofia/internal"), "{text}");
    assert!(text.contains("vars.xml:407"), "{text}");
    assert!(text.contains("16384-32769"), "{text}");
    assert!(text.contains("the default password ClueCon"), "{text}");
}

#[test]
fn var_pins_a_host_address() {
    let Some(vanilla) = vanilla() else { return };
    let out = sipwall(&[
        "discover",
        "freeswitch",
        &vanilla,
        "--format",
        "json",
        "--var",
        "local_ip_v4=192.0.2.10",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let inv = json(&out);
    let ws = inv["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "ws")
        .unwrap();
    assert_eq!(
        ws["address"],
        serde_json::json!({"kind": "ip", "ip": "192.0.2.10"})
    );
}

#[test]
fn bad_input_exits_2() {
    let Some(vanilla) = vanilla() else { return };
    let out = sipwall(&["discover", "freeswitch", &vanilla, "--var", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let out = sipwall(&["discover", "freeswitch", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("freeswitch.xml"));
}

#[test]
fn broken_xml_is_reported_against_the_original_file() {
    let Some(vanilla) = vanilla() else { return };
    let dir = tempfile::tempdir().unwrap();
    copy(Path::new(&vanilla), dir.path());
    let profile = dir.path().join("sip_profiles/internal.xml");
    let text = fs::read_to_string(&profile).unwrap();
    fs::write(
        &profile,
        text.replacen(r#"value="XML"/>"#, r#"value="XML"/ oops>"#, 1),
    )
    .unwrap();
    let out = sipwall(&["discover", "freeswitch", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("sip_profiles/internal.xml:91:"), "{err}");
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
