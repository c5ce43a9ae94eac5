//! `sipwall init` as an admin runs it on a FreeSWITCH host: the policy and
//! the event socket's password written from the configuration, what they
//! open shown, an existing policy never replaced by accident.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The vanilla tree, or `None` (the reason printed) where `../shared` is absent.
fn vanilla() -> Option<PathBuf> {
    sipwall_testdata::shared("testdata/freeswitch/vanilla")
}

fn init(dir: &Path, vanilla: &Path, args: &[&str]) -> Output {
    // sshd of this test: on 2222, so the host's own cannot change the result.
    let _ = std::fs::write(dir.join("sshd_config"), "Port 2222\n");
    Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .arg("init")
        .arg("--freeswitch")
        .arg(vanilla)
        .arg("--policy")
        .arg(dir.join("etc/sipwall.toml"))
        .arg("--esl-password-file")
        .arg(dir.join("etc/esl.password"))
        .arg("--sshd-config")
        .arg(dir.join("sshd_config"))
        .args(args)
        .output()
        .expect("run sipwall")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn init_writes_a_policy_that_checks_and_the_esl_password_readable_by_root_alone() {
    let Some(vanilla) = vanilla() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = init(
        dir.path(),
        &vanilla,
        &["--ssh-from", "198.51.100.0/24", "--trunk", "203.0.113.9"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let policy = dir.path().join("etc/sipwall.toml");
    let check = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(["check", "-c", policy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let toml = std::fs::read_to_string(&policy).unwrap();
    assert!(toml.contains("admin = [\"198.51.100.0/24\"]"), "{toml}");
    assert!(toml.contains("trunks = [\"203.0.113.9\"]"), "{toml}");
    let password = dir.path().join("etc/esl.password");
    assert_eq!(std::fs::read_to_string(&password).unwrap(), "ClueCon\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&password).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = text(&out);
    assert!(shown.contains("default password ClueCon"), "{shown}");
    let row = |service: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(&format!("{service} ")))
            .unwrap_or_else(|| panic!("no {service} row in:\n{shown}"))
            .to_owned()
    };
    assert!(
        row("esl").contains("8021") && row("esl").contains("loopback"),
        "{shown}"
    );
    assert!(row("ssh").contains("admin (198.51.100.0/24)"), "{shown}");
    assert!(
        row("ssh").contains("2222"),
        "sshd's port from its configuration: {shown}"
    );
    assert!(toml.contains("ports = [2222]"), "{toml}");
    assert!(row("media").contains("16384-32769"), "{shown}");
}

#[test]
fn init_refuses_to_replace_a_policy_without_force() {
    let Some(vanilla) = vanilla() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    let policy = dir.path().join("etc/sipwall.toml");
    std::fs::write(&policy, "# mine\n").unwrap();
    let out = init(dir.path(), &vanilla, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&policy).unwrap(),
        "# mine\n",
        "kept"
    );
    let out = init(dir.path(), &vanilla, &["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(std::fs::read_to_string(&policy).unwrap(), "# mine\n");
}

#[test]
fn init_refuses_an_ssh_prefix_with_host_bits_before_writing_anything() {
    let Some(vanilla) = vanilla() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = init(dir.path(), &vanilla, &["--ssh-from", "198.51.100.7/24"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("198.51.100.0/24"), "{}", text(&out));
    assert!(!dir.path().join("etc").exists());
}
