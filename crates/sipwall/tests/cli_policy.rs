//! `sipwall check` and `sipwall compile` as a user runs them: exit codes,
//! messages with their `file:line:col`, and what the built-in policy opens.

mod lab;

use std::process::{Command, Output};

fn sipwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .env_remove("SSH_CONNECTION")
        .output()
        .expect("run sipwall")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn policy(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sipwall.toml");
    std::fs::write(&path, text).unwrap();
    let p = path.display().to_string();
    (dir, p)
}

#[test]
fn compile_without_a_policy_prints_the_vanilla_freeswitch_ruleset() {
    let out = sipwall(&["compile"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with("# sipwall ruleset, compiled from <built-in>"),
        "{text}"
    );
    for rule in [
        "udp dport 5060 accept",
        "tcp dport 5060 accept",
        "udp dport 5080 accept",
        "tcp dport 5080 accept",
        "tcp dport 5066 accept",
        "tcp dport 7443 accept",
        "tcp dport 8081-8082 accept",
        "tcp dport 22 accept",
        "udp dport 16384-32769 accept",
        "ip saddr @ban_v4 counter drop",
        "ct state established,related accept",
        "limit rate 5/minute",
        "counter reject comment \"default deny\"",
    ] {
        assert!(text.contains(rule), "missing {rule:?}:\n{text}");
    }
    assert!(
        !text.contains("dport 8021"),
        "ESL must stay on loopback:\n{text}"
    );
    // Every rule names where it comes from.
    let rules = text
        .lines()
        .filter(|l| l.contains(" accept") || l.contains(" drop") || l.contains(" reject"));
    for r in rules.filter(|l| !l.contains("policy")) {
        assert!(r.contains("comment \""), "rule without provenance: {r}");
    }
}

#[test]
fn bans_come_before_established_so_a_ban_cuts_existing_flows() {
    let text = stdout(&sipwall(&["compile"]));
    let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(pos("@ban_v4 counter drop") < pos("ct state established,related accept"));
    assert!(pos("ct state established,related accept") < pos("udp dport 5060 accept"));
}

#[test]
fn check_reports_every_problem_with_its_place_and_exits_2() {
    let (_d, p) = policy("[services.esl]\nkind = \"esl\"\nallow = [\"admin\"]\n[services.x]\nkind = \"sipp\"\nallow = [\"any\"]\n");
    let out = sipwall(&["check", "-c", &p]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{p}:3:10: unknown zone \"admin\"")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{p}:5:8: unknown service kind \"sipp\"")),
        "{err}"
    );
}

#[test]
fn check_json_has_a_stable_shape() {
    let (_d, p) = policy("[media]\nmode = \"pinhole\"\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\nport = 5060\n");
    let out = sipwall(&["check", "-c", &p, "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["line"], 6);
    assert_eq!(v["errors"][0]["col"], 1);
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `port`"));

    let out = sipwall(&["check", "--format", "json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["media"], "range");
}

#[test]
fn a_missing_policy_file_is_bad_input() {
    let out = sipwall(&["check", "-c", "/nonexistent/sipwall.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/sipwall.toml"));
}

#[test]
fn compile_modprobe_writes_the_helper_options() {
    let (_d, p) = policy(
        "[services.sip]\nkind = \"sip\"\nports = [5060, 5080]\nallow = [\"any\"]\n[services.gk]\nkind = \"h323-ras\"\nallow = [\"any\"]\n\
         [media]\nmode = \"helper\"\n[helpers.sip]\ndirect_media = false\n[helpers.h323]\ngkrouted_only = false\n",
    );
    let text = stdout(&sipwall(&["compile", "-c", &p, "--target", "modprobe"]));
    assert!(text.contains("options nf_conntrack_sip ports=5060,5080 sip_direct_media=0 sip_direct_signalling=1 sip_timeout=3600"), "{text}");
    assert!(
        text.contains(
            "options nf_conntrack_h323 default_rrq_ttl=300 gkrouted_only=0 callforward_filter=1"
        ),
        "{text}"
    );
}

#[test]
fn helper_mode_assigns_helpers_above_conntrack_priority_in_both_directions() {
    let (_d, p) =
        policy("[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"helper\"\n");
    let text = stdout(&sipwall(&["compile", "-c", &p]));
    assert!(
        text.contains("ct helper sip-udp {\n\t\ttype \"sip\" protocol udp"),
        "{text}"
    );
    assert!(
        text.contains("type filter hook prerouting priority filter;"),
        "{text}"
    );
    assert!(
        text.contains("type filter hook output priority filter;"),
        "{text}"
    );
    assert!(
        text.contains("udp dport 5060 ct helper set \"sip-udp\""),
        "{text}"
    );
    assert!(
        text.contains("tcp dport 5060 ct helper set \"sip-tcp\""),
        "{text}"
    );
    assert!(
        !text.contains("16384-32769 accept"),
        "helper mode keeps the range closed:\n{text}"
    );
}

#[test]
fn iptables_targets_refuse_pinhole_mode() {
    let (_d, p) =
        policy("[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\n");
    let out = sipwall(&["compile", "-c", &p, "--target", "iptables"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs nftables sets"));
}

#[test]
fn iptables_scanner_drops_are_opt_in_and_precede_established() {
    let base = "[services.sip]\nkind = \"sip\"\nports = [5060, 5080]\nallow = [\"any\"]\n";
    let (_d, p) = policy(base);
    let text = stdout(&sipwall(&["compile", "-c", &p, "--target", "iptables"]));
    assert!(
        !text.contains("-m string"),
        "not without opting in:\n{text}"
    );
    let (_d2, p2) = policy(&format!("{base}[iptables]\nscanner_string_match = true\n"));
    let text = stdout(&sipwall(&["compile", "-c", &p2, "--target", "iptables"]));
    let drop = text
        .find("--string \"friendly-scanner\" --algo bm")
        .expect("scanner drop");
    assert!(
        drop < text.find("--ctstate ESTABLISHED,RELATED").unwrap(),
        "{text}"
    );
    let nft = stdout(&sipwall(&["compile", "-c", &p2]));
    assert!(
        nft.contains("# skipped (nftables has no substring match"),
        "{nft}"
    );
}

#[test]
fn discovered_policy_of_vanilla_checks_and_compiles() {
    let Some(vanilla) = sipwall_testdata::shared("testdata/freeswitch/vanilla") else {
        return;
    };
    let vanilla = vanilla.to_str().expect("a UTF-8 path");
    let out = sipwall(&["discover", "freeswitch", vanilla, "--format", "toml"]);
    assert!(out.status.success());
    let (_d, p) = policy(&stdout(&out));
    assert!(sipwall(&["check", "-c", &p]).status.success());
    let derived = stdout(&sipwall(&["compile", "-c", &p]));
    let builtin = stdout(&sipwall(&["compile"]));
    // Same rules; only the source named in the header and comments differs.
    let strip = |t: &str| {
        t.lines()
            .map(|l| l.split(" comment ").next().unwrap().to_owned())
            .skip(1)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&derived), strip(&builtin));
}

#[test]
fn the_policy_option_is_accepted_before_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n").unwrap();
    let out = sipwall(&["-c", path.to_str().unwrap(), "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("p.toml: ok"));
}

#[test]
fn confirm_takes_durations_in_the_same_syntax_as_ban_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[services.sip]\nkind = \"nope\"\nallow = [\"any\"]\n",
    )
    .unwrap();
    for window in ["1m", "90s", "30"] {
        let out = sipwall(&["apply", "-c", path.to_str().unwrap(), "--confirm", window]);
        let err = String::from_utf8_lossy(&out.stderr);
        // Past argument parsing: the policy is what fails.
        assert!(err.contains("bad.toml"), "--confirm {window}: {err}");
    }
    for window in ["25h", "0s", "soon"] {
        let out = sipwall(&["apply", "-c", path.to_str().unwrap(), "--confirm", window]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--confirm {window}: {err}");
        assert!(err.contains("--confirm"), "--confirm {window}: {err}");
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every problem of this file: a type error, a misspelt kind, a misspelt
/// zone, a type error and an unknown key in a nested table.
const SEVERAL: &str = "[zones]\noffice = [\"198.51.100.0/24\"]\n\n[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\nports = [5060, true]\n\n[services.esl]\nkind = \"esk\"\nallow = [\"ofice\"]\n\n[guard.flood]\nrate = \"fast\"\nbrst = 3\n";

#[test]
fn check_reports_type_errors_and_unknown_keys_of_a_file_all_at_once() {
    let (_d, p) = policy(SEVERAL);
    let out = sipwall(&["check", "-c", &p]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for first_line in [
        format!("{p}:7:9: services.sip.ports: expected a port number"),
        format!("{p}:10:8: unknown service kind \"esk\""),
        format!("{p}:11:10: unknown zone \"ofice\""),
        format!("{p}:14:8: guard.flood.rate: invalid type: string \"fast\", expected an integer"),
        format!("{p}:15:1: unknown field `brst` in [guard.flood]"),
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(&first_line)),
            "{first_line:?} missing:\n{err}"
        );
    }
}

#[test]
fn an_unknown_key_or_zone_near_a_known_one_says_did_you_mean() {
    let (_d, p) = policy(SEVERAL);
    let err = stderr(&sipwall(&["check", "-c", &p]));
    for help in [
        "help: did you mean \"esl\"?",
        "help: did you mean \"office\"?",
        "help: did you mean \"burst\"?",
    ] {
        assert!(err.contains(help), "{help:?} missing:\n{err}");
    }
    // A key far from any gets the list of what its table has.
    let (_d2, p2) = policy("[log]\nverbosity = 3\n");
    let err = stderr(&sipwall(&["check", "-c", &p2]));
    assert!(
        err.contains("help: expected one of: `enabled`, `rate`, `prefix`, `level`"),
        "{err}"
    );
    // JSON carries the help too, null where there is none.
    let out = sipwall(&["check", "-c", &p, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 5, "{v}");
    assert_eq!(errors[0]["help"], serde_json::Value::Null);
    assert_eq!(errors[1]["help"], "did you mean \"esl\"?");
    assert_eq!(errors[2]["help"], "did you mean \"office\"?");
    assert_eq!(errors[4]["help"], "did you mean \"burst\"?");
}

#[test]
fn the_caret_is_under_the_wrong_value_in_its_source_line() {
    let (_d, p) = policy(SEVERAL);
    let err = stderr(&sipwall(&["check", "-c", &p]));
    let lines: Vec<&str> = err.lines().collect();
    for (source, wrong) in [
        ("ports = [5060, true]", "[5060, true]"),
        ("kind = \"esk\"", "\"esk\""),
        ("allow = [\"ofice\"]", "\"ofice\""),
        ("brst = 3", "brst"),
    ] {
        // The line with carets under it, not the same line shown as context.
        let at = (0..lines.len() - 1)
            .find(|&i| lines[i].ends_with(&format!("| {source}")) && lines[i + 1].contains('^'))
            .unwrap_or_else(|| panic!("no snippet of {source:?}:\n{err}"));
        let column = lines[at].find(wrong).unwrap();
        let carets = lines[at + 1];
        assert_eq!(
            carets.find('^'),
            Some(column),
            "caret not under {wrong:?}:\n{}\n{}",
            lines[at],
            carets
        );
        assert_eq!(
            carets.matches('^').count(),
            wrong.len(),
            "carets span {wrong:?}:\n{}\n{}",
            lines[at],
            carets
        );
    }
    // Not on a terminal: no colour codes for a log or a pipe.
    assert!(!err.contains('\x1b'), "{err}");
}

#[test]
fn a_toml_syntax_error_is_one_error_with_its_caret() {
    let (_d, p) = policy("[media]\nmode = range\n");
    let out = sipwall(&["check", "-c", &p]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{p}:2:8: invalid string")),
        "{err}"
    );
    assert_eq!(
        err.matches(&format!("{p}:")).count(),
        2,
        "one problem, its snippet header:\n{err}"
    );
    let at = err
        .lines()
        .position(|l| l.ends_with("| mode = range"))
        .unwrap();
    let line = err.lines().nth(at).unwrap();
    let carets = err.lines().nth(at + 1).unwrap();
    assert_eq!(carets.find('^'), line.find("range"), "{err}");
}

#[test]
fn an_empty_policy_is_a_warning_that_it_opens_nothing_but_media() {
    let (_d, p) = policy("# nothing yet\n");
    let warning = format!(
        "{p}: warning: the policy has no services: it opens nothing but media (udp 16384-32769 from any) and ping"
    );
    let out = sipwall(&["check", "-c", &p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&warning), "{}", stderr(&out));
    let out = sipwall(&["compile", "-c", &p]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains(&warning), "{}", stderr(&out));
    // And what it says is what the ruleset does: media and ping, no service.
    let text = stdout(&out);
    let accepts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("dport") && l.contains(" accept"))
        .collect();
    assert_eq!(accepts.len(), 1, "{accepts:?}");
    assert!(
        accepts[0].contains("udp dport 16384-32769 accept"),
        "{accepts:?}"
    );
    assert!(text.contains("icmp type echo-request accept"), "{text}");
    let out = sipwall(&["check", "-c", &p, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("opens nothing but media"),
        "{v}"
    );
    // A policy with services has nothing to warn about.
    let (_d2, p2) = policy("[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n");
    let out = sipwall(&["check", "-c", &p2]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn the_error_shown_in_docs_policy_md_is_what_check_prints() {
    let doc = include_str!("../../../docs/policy.md");
    let section = &doc[doc.find("## Errors").unwrap()..];
    let block = |after: &str, fence: &str| {
        let from = section.find(after).unwrap();
        let start = from + section[from..].find(fence).unwrap() + fence.len();
        &section[start..start + section[start..].find("```").unwrap()]
    };
    let file = block("For example", "```toml\n");
    let shown = block("gives, with", "```text\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sipwall.toml"), file).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(["check", "-c", "sipwall.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Markdown keeps no trailing blanks; miette leaves one after an empty line.
    let printed: String = stderr(&out)
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    assert_eq!(printed, shown);
}

#[test]
fn apply_of_an_empty_policy_warns_and_applies() {
    let Some(lab) = lab::Lab::up("empty_apply", &[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = lab::write_temp(&dir, "empty.toml", "");
    let out = lab.sipwall("fw", &["apply", "-c", p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: the policy has no services: it opens nothing but media"),
        "{err}"
    );
    assert!(lab.sipwall_table("fw").is_some(), "applied all the same");
}

#[test]
fn a_closed_pipe_ends_compile_quietly_instead_of_panicking() {
    // `sipwall compile | head`, with head already gone: stdout is a pipe
    // whose read end is closed before sipwall writes a byte.
    let script = "import os, subprocess, sys\n\
r, w = os.pipe()\n\
os.close(r)\n\
p = subprocess.run([sys.argv[1], 'compile'], stdout=w, stderr=subprocess.PIPE)\n\
sys.stderr.write(p.stderr.decode())\n\
sys.exit(p.returncode)\n";
    let out = Command::new("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_sipwall")])
        .env_remove("SSH_CONNECTION")
        .output()
        .expect("python3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?} {err}", out.status);
}

#[test]
fn compile_json_carries_the_target_source_and_text() {
    let out = sipwall(&["compile", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"], "nft");
    assert!(
        v["text"].as_str().unwrap().contains("table inet sipwall"),
        "{v}"
    );
    assert!(v["source"].is_string());
}
