//! What the Debian package ships beside the binary: the example policy, the
//! man pages and the shell completions, all derived from sources a test can
//! hold them to.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sipwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .output()
        .expect("run sipwall")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_packaged_example_policy_is_the_documented_one_and_valid() {
    let doc = std::fs::read_to_string(workspace().join("docs/policy.md")).unwrap();
    let start = doc
        .find("```toml\n")
        .expect("docs/policy.md has a toml example")
        + 8;
    let end = start + doc[start..].find("```\n").unwrap();
    let example_path = workspace().join("dist/sipwall.example.toml");
    let example = std::fs::read_to_string(&example_path).unwrap();
    assert!(
        example.ends_with(&doc[start..end]),
        "dist/sipwall.example.toml and docs/policy.md's example differ"
    );
    let out = sipwall(&["check", "-c", example_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "the example policy does not check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn man_pages_cover_every_visible_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = sipwall(&["__man-pages", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "sipwall.8",
        "sipwall-apply.8",
        "sipwall-bans-add.8",
        "sipwall-run.8",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is not a man page"
        );
        assert!(
            text.contains(".TH sipwall") || text.contains(".TH sipwall\\-"),
            "{page}: {text:.200}"
        );
    }
    let apply = std::fs::read_to_string(dir.path().join("sipwall-apply.8")).unwrap();
    assert!(
        apply.contains("\\-\\-confirm"),
        "apply's page lacks --confirm"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("__")),
        "hidden commands got pages: {names:?}"
    );
}

#[test]
fn completions_name_the_commands_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = sipwall(&["completions", shell]);
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["apply", "discover", "replay", "--confirm"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        assert!(
            !script.contains("__man-pages"),
            "{shell} completes a hidden command"
        );
    }
}
