//! `sipwall init --yes` on a host whose FreeSWITCH lives in /etc/freeswitch:
//! from nothing to protected, the way an admin does it. The host is the
//! lab's `fw` namespace with a private mount namespace in which /etc is an
//! overlay (the real /etc stays untouched) holding a copy of the vanilla
//! tree as /etc/freeswitch. CI runs this against the installed package too
//! (`SIPWALL_UNDER_TEST=/usr/sbin/sipwall`).

mod lab;

use lab::Lab;
use std::process::Stdio;
use std::time::Duration;

/// The vanilla tree, or `None` (the reason printed) where `../shared` is absent.
fn vanilla() -> Option<std::path::PathBuf> {
    sipwall_testdata::shared("testdata/freeswitch/vanilla")
}

#[test]
fn init_yes_protects_a_vanilla_freeswitch_host_from_etc_freeswitch() {
    let Some(lab) = Lab::up("init_yes", &["unshare", "mount"]) else {
        return;
    };
    let Some(vanilla) = vanilla() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (upper, work, tree) = (
        dir.path().join("upper"),
        dir.path().join("work"),
        dir.path().join("freeswitch"),
    );
    for d in [&upper, &work] {
        std::fs::create_dir(d).unwrap();
    }
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(&vanilla)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(copied.success());
    // systemd's directory is hidden too: init must not enable units of the
    // machine running the tests.
    let script = format!(
        "set -e\n\
         mount -t overlay overlay -o lowerdir=/etc,upperdir={up},workdir={work} /etc\n\
         mkdir -p /etc/freeswitch\n\
         mount --bind {tree} /etc/freeswitch\n\
         if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd; fi\n\
         exec {sipwall} init --yes --confirm 1m --ssh-from 198.51.100.0/24 --sshd-config /dev/null\n",
        up = upper.display(),
        work = work.display(),
        tree = tree.display(),
        sipwall = lab::sipwall(),
    );
    let init = lab
        .cmd("fw", "unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        lab.wait_for(Duration::from_secs(30), || lab
            .sipwall_table("fw")
            .is_some()),
        "init --yes applied"
    );
    // No terminal: apply waits for `sipwall confirm`, as an admin's second
    // shell would send it.
    let confirmed = lab.sipwall("fw", &["confirm"]);
    assert!(
        confirmed.status.success(),
        "{}",
        String::from_utf8_lossy(&confirmed.stderr)
    );
    let out = init.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("wrote /etc/sipwall/sipwall.toml from /etc/freeswitch"),
        "{text}"
    );
    assert!(text.contains("The policy opens"), "{text}");
    assert!(text.contains("confirmed"), "{text}");
    assert!(text.contains("systemd is not running here"), "{text}");

    // The files, as the overlay kept them: the policy and the password.
    let policy = std::fs::read_to_string(upper.join("sipwall/sipwall.toml")).unwrap();
    assert!(policy.contains("admin = [\"198.51.100.0/24\"]"), "{policy}");
    let password = upper.join("sipwall/esl.password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&password).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&password).unwrap(), "ClueCon\n");

    // What is loaded: vanilla's SIP ports, SSH from the admin zone only,
    // the event socket closed from outside; saved for boot.
    let table = lab.sipwall_table("fw").unwrap();
    assert!(table.contains("5080"), "{table}");
    assert!(table.contains("198.51.100.0/24"), "{table}");
    assert!(lab.saved_ruleset().exists(), "saved for boot");
    let status: serde_json::Value =
        serde_json::from_slice(&lab.sipwall("fw", &["status", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        status["table"]["policy"], "/etc/sipwall/sipwall.toml",
        "{status}"
    );
}
