//! `sipwall sip parse`: output shape and exit codes, over the RFC 4475
//! messages read in place.

use std::process::Command;

/// The RFC 4475 messages, or `None` (the reason printed) where `../shared` is absent.
fn rfc4475() -> Option<std::path::PathBuf> {
    sipwall_testdata::shared("testdata/rfc4475")
}

/// One message's file in `dir`.
fn data(dir: &std::path::Path, name: &str) -> String {
    dir.join(format!("{name}.dat")).display().to_string()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .output()
        .expect("run sipwall");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

#[test]
fn valid_messages_exit_0_with_their_view() {
    let Some(dir) = rfc4475() else { return };
    let (code, out, _) = run(&[
        "sip",
        "parse",
        &data(&dir, "sdp01"),
        &data(&dir, "noreason"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 2);
    let m = &all[0]["message"];
    assert_eq!(all[0]["status"], "ok");
    assert_eq!(m["kind"], "request");
    assert_eq!(m["method"], "INVITE");
    assert_eq!(m["cseq"]["number"], 8);
    assert_eq!(m["via"][0]["transport"], "UDP");
    assert_eq!(m["via"][0]["host"]["address"], "192.0.2.15");
    assert_eq!(m["sdp"]["connection"]["address"], "192.0.2.5");
    assert_eq!(m["sdp"]["media"][0]["port"], 49217);
    assert_eq!(m["sdp"]["media"][1]["type"], "video");
    assert_eq!(all[1]["message"]["status"], 100);
    assert_eq!(all[1]["message"]["reason"], "");
}

#[test]
fn a_malformed_message_exits_1_with_a_typed_error() {
    let Some(dir) = rfc4475() else { return };
    let (code, out, _) = run(&[
        "sip",
        "parse",
        &data(&dir, "sdp01"),
        &data(&dir, "badinv01"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bad = &v[1];
    assert_eq!(bad["status"], "invalid");
    assert_eq!(bad["error"]["class"], "malformed");
    assert_eq!(
        bad["error"]["what"],
        "Via header: empty or invalid parameter name"
    );
    assert_eq!(bad["error"]["line"], 7);
    assert!(bad["message"].is_null());
}

#[test]
fn a_flagged_message_counts_as_invalid() {
    let Some(dir) = rfc4475() else { return };
    let (code, out, _) = run(&["sip", "parse", &data(&dir, "mcl01"), "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["status"], "flagged");
    assert_eq!(v[0]["flags"][0]["code"], "multiple-content-length");
    assert_eq!(v[0]["message"]["method"], "OPTIONS");
}

#[test]
fn text_output_names_the_defect() {
    let Some(dir) = rfc4475() else { return };
    let (code, out, _) = run(&["sip", "parse", &data(&dir, "badvers"), &data(&dir, "insuf")]);
    assert_eq!(code, 1);
    assert!(
        out.contains("badvers.dat: invalid: unsupported: SIP version other than SIP/2.0 (line 1"),
        "{out}"
    );
    assert!(out.contains("insuf.dat: flagged"), "{out}");
    assert!(
        out.contains("flag: missing mandatory header Call-ID"),
        "{out}"
    );
}

#[test]
fn an_unreadable_file_is_bad_usage() {
    let Some(dir) = rfc4475() else { return };
    let (code, out, err) = run(&[
        "sip",
        "parse",
        &data(&dir, "sdp01"),
        "/nonexistent/sipwall-test.dat",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("/nonexistent/sipwall-test.dat"), "{err}");
}

#[test]
fn a_dash_reads_the_message_from_stdin() {
    let Some(dir) = rfc4475() else { return };
    use std::io::Write;
    let bytes = std::fs::read(data(&dir, "sdp01")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(["sip", "parse", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["file"], "<stdin>", "{v}");
    assert_eq!(v[0]["status"], "ok", "{v}");
    let (code, _, err) = run(&["sip", "parse", "-", "-"]);
    assert_eq!(code, 2, "{err}");
}
