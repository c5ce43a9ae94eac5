//! Issue 13, item 17: without `-c`, a FreeSWITCH configuration that is
//! installed but cannot be read is an error, never a silent fall-back to
//! the built-in policy (which would open vanilla's ports on a host
//! configured otherwise). sipwall gets a private /etc in a mount
//! namespace of its own, so the host's /etc is never touched.

mod lab;

use std::process::Command;

#[test]
fn a_dangling_etc_freeswitch_is_an_error_not_the_builtin_policy() {
    if !lab::require("policy_unreadable", &["unshare", "mount"]) {
        return;
    }
    let script = format!(
        "set -e; mount -t tmpfs sipwall-test /etc; ln -s /nonexistent /etc/freeswitch; exec {} compile",
        lab::sipwall()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "no ruleset is printed");
    assert!(
        err.contains("/etc/freeswitch: FreeSWITCH's configuration is here but cannot be read"),
        "{err}"
    );
}
