//! `sipwall audit`: the classic recipe's ruleset and sipwall's own, judged
//! against the vanilla FreeSWITCH configuration.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod seed;

/// The vanilla tree, or `None` (the reason printed) where `../shared` is absent.
fn vanilla() -> Option<String> {
    sipwall_testdata::shared("testdata/freeswitch/vanilla").map(|p| p.display().to_string())
}

fn sipwall(args: &[&str], stdin: Option<&str>) -> Output {
    // The audit reads this host's /etc/ssh/sshd_config when there is one;
    // an empty one (sshd on 22, its default) keeps the tests the same on
    // every host. Tests of the recipe give theirs.
    let extra: &[&str] = if args.first() == Some(&"audit") && !args.contains(&"--sshd-config") {
        &["--sshd-config", "/dev/null"]
    } else {
        &[]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .args(extra)
        // The audit judges the SSH session it runs from; tests run from none.
        .env_remove("SSH_CONNECTION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The sshd configuration the recipe asks for: "THE -dport NUMBER IS THE
/// SAME ONE YOU SET UP IN THE SSHD_CONFIG FILE".
fn recipe_sshd(dir: &Path) -> String {
    write(dir, "sshd_config", "Port 6245\n")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn findings(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(v["schema"], 1);
    v["findings"].as_array().unwrap().clone()
}

/// id -> severities, in order.
fn summary(f: &[serde_json::Value]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for x in f {
        m.entry(x["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(x["severity"].as_str().unwrap().to_owned());
    }
    m
}

fn messages_of<'a>(f: &'a [serde_json::Value], id: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|x| x["id"] == id)
        .map(|x| x["message"].as_str().unwrap())
        .collect()
}

#[test]
fn the_seed_ruleset_gets_the_findings_it_deserves() {
    let Some(seed_ruleset) = seed::recipe_with_string_matches() else {
        return;
    };
    let Some(vanilla) = vanilla() else { return };
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_ruleset.clone();
    assert!(seed.contains(
        "-I INPUT -j DROP -p udp --dport 5080 -m string --string \"sipcli\" --algo bm\nCOMMIT"
    ));
    let file = write(dir.path(), "iptables.fs.rules", &seed);
    let out = sipwall(
        &[
            "audit",
            "--ruleset",
            &file,
            "--freeswitch",
            &vanilla,
            "--sshd-config",
            &recipe_sshd(dir.path()),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = findings(&out);
    let s = |sev: &str, n: usize| vec![sev.to_owned(); n];
    let want: BTreeMap<String, Vec<String>> = [
        ("profile-port-closed", s("high", 6)),
        ("rtp-range-mismatch", s("medium", 1)),
        ("port-open-unused", s("low", 6)),
        ("scanner-string-match", s("low", 6)),
        ("esl-default-password", s("info", 1)),
        ("ipv6-unknown", s("info", 1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(summary(&f), want, "{f:#?}");

    let closed = messages_of(&f, "profile-port-closed").join("\n");
    for what in [
        "udp 5080", "tcp 5080", "tcp 5066", "tcp 7443", "tcp 8081", "tcp 8082",
    ] {
        assert!(closed.contains(what), "{what} in\n{closed}");
    }
    let unused = messages_of(&f, "port-open-unused").join("\n");
    for what in [
        "udp 3478", "udp 3479", "tcp 5002", "udp 5003", "tcp 5061", "tcp 8080",
    ] {
        assert!(unused.contains(what), "{what} in\n{unused}");
    }
    assert!(
        !unused.contains("6245"),
        "SSH's port is not unused: {unused}"
    );
    let rtp = messages_of(&f, "rtp-range-mismatch")[0];
    assert!(
        rtp.contains("rejects udp 32769") && rtp.contains("RTCP"),
        "{rtp}"
    );

    // Locations: rules by file:line, configuration by its own file:line.
    let line_of = |needle: &str| seed.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let loc = |id: &str, msg: &str| {
        f.iter()
            .find(|x| x["id"] == id && x["message"].as_str().unwrap().contains(msg))
            .unwrap()["location"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        loc("port-open-unused", "5002"),
        format!("{file}:{}", line_of("--dport 5002"))
    );
    assert_eq!(
        loc("rtp-range-mismatch", "32769"),
        format!("{file}:{}", line_of("-A INPUT -j REJECT"))
    );
    assert!(loc("profile-port-closed", "udp 5080").ends_with("sip_profiles/external.xml:28"));
    assert!(loc("esl-default-password", "").ends_with("autoload_configs/event_socket.conf.xml:6"));
}

#[test]
fn without_the_configuration_only_ruleset_findings_remain() {
    let Some(seed_ruleset) = seed::recipe_with_string_matches() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sshd = recipe_sshd(dir.path());
    let out = sipwall(
        &[
            "audit",
            "--ruleset",
            "-",
            "--sshd-config",
            &sshd,
            "--format",
            "json",
        ],
        Some(&seed_ruleset.clone()),
    );
    let f = findings(&out);
    let ids: Vec<&str> = summary(&f).keys().map(|_| "").collect();
    assert!(!ids.is_empty());
    let s = summary(&f);
    assert_eq!(
        s.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ipv6-unknown", "scanner-string-match"]
    );
    // Nothing at or above high: exit 0 by default, 1 with --fail-on low.
    assert_eq!(out.status.code(), Some(0));
    let out = sipwall(
        &[
            "audit",
            "--ruleset",
            "-",
            "--sshd-config",
            &sshd,
            "--fail-on",
            "low",
        ],
        Some(&seed_ruleset.clone()),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("low [scanner-string-match]"), "{text}");
    assert!(text.contains("configuration checks skipped"), "{text}");
}

#[test]
fn sipwalls_own_compiled_ruleset_audits_clean() {
    let Some(vanilla) = vanilla() else { return };
    let compiled = sipwall(&["compile"], None);
    assert!(compiled.status.success());
    let nft = String::from_utf8(compiled.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sipwall.nft", &nft);
    let out = sipwall(
        &[
            "audit",
            "--ruleset",
            &file,
            "--freeswitch",
            &vanilla,
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let f = findings(&out);
    assert!(
        f.iter().all(|x| x["severity"] == "info"),
        "only information: {f:#?}"
    );
    assert_eq!(
        summary(&f).keys().collect::<Vec<_>>(),
        ["esl-default-password"]
    );
    // `--fail-on info` turns even that into exit 1.
    let out = sipwall(
        &[
            "audit",
            "--ruleset",
            &file,
            "--freeswitch",
            &vanilla,
            "--fail-on",
            "info",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_ipv6_dump_beside_the_ipv4_one_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    let v4 = write(
        dir.path(),
        "v4",
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -m state --state ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    let v6 = write(
        dir.path(),
        "v6",
        "# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -j LOG\nCOMMIT\n",
    );
    let out = sipwall(
        &[
            "audit",
            "--ruleset",
            &v4,
            "--ruleset",
            &v6,
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let f = findings(&out);
    let s = summary(&f);
    assert_eq!(s["ipv6-unfiltered"], ["high"]);
    assert_eq!(s["log-unlimited"], ["medium"]);
    assert_eq!(s["esl-exposed"], ["critical"], "8021 open over IPv6");
    assert!(!s.contains_key("no-default-deny") && !s.contains_key("ipv6-unknown"));
    let log = f.iter().find(|x| x["id"] == "log-unlimited").unwrap();
    assert_eq!(log["location"], format!("{v6}:5"));
}

#[test]
fn helper_mode_without_and_with_the_helper() {
    let related_only = "table inet t {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\tudp dport 5060 accept\n\t\ttcp dport 22 accept\n\t}\n}\n";
    let out = sipwall(
        &["audit", "--ruleset", "-", "--format", "json"],
        Some(related_only),
    );
    let f = findings(&out);
    assert_eq!(summary(&f)["sip-helper-unassigned"], ["high"]);
    assert_eq!(f[0]["location"], "<stdin>:4");
    assert_eq!(out.status.code(), Some(1));
    let with_helper = related_only.replace(
        "\tchain input {",
        "\tct helper sip-udp {\n\t\ttype \"sip\" protocol udp\n\t\tl3proto inet\n\t}\n\tchain pre {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t\tudp dport 5060 ct helper set \"sip-udp\"\n\t}\n\tchain input {",
    );
    let out = sipwall(
        &["audit", "--ruleset", "-", "--format", "json"],
        Some(&with_helper),
    );
    assert_eq!(findings(&out), Vec::<serde_json::Value>::new());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_input_is_exit_2_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad",
        "*filter\n-A INPUT -p tcp --dport x -j ACCEPT\nCOMMIT\n",
    );
    let out = sipwall(&["audit", "--ruleset", &file], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("{file}:2:25: ")), "{err}");
    let out = sipwall(&["audit"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = sipwall(&["audit", "--ruleset", &file, "--fail-on", "severe"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_configuration_alone_is_audited_instead_of_refused() {
    let Some(vanilla) = vanilla() else { return };
    // Vanilla: ESL on every address, but only loopback.auto may connect.
    let out = sipwall(
        &["audit", "--freeswitch", &vanilla, "--format", "json"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = findings(&out);
    let want: BTreeMap<String, Vec<String>> = [
        ("esl-listen-wide", vec!["low".to_owned()]),
        ("esl-default-password", vec!["info".to_owned()]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(summary(&f), want, "{f:#?}");
    let listen = f.iter().find(|x| x["id"] == "esl-listen-wide").unwrap();
    assert!(listen["location"]
        .as_str()
        .unwrap()
        .ends_with("autoload_configs/event_socket.conf.xml:4"));

    // A catch-all ACL and a guessable password: anyone can take the switch.
    let dir = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", vanilla))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copied.success());
    let esl = dir.path().join("autoload_configs/event_socket.conf.xml");
    let text = fs::read_to_string(&esl).unwrap().replace(
        r#"<param name="password" value="ClueCon"/>"#,
        r#"<param name="password" value="cluecon2024"/><param name="apply-inbound-acl" value="wan.auto"/>"#,
    );
    fs::write(&esl, text).unwrap();
    let conf = dir.path().display().to_string();
    let out = sipwall(&["audit", "--freeswitch", &conf, "--format", "json"], None);
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&findings(&out));
    assert_eq!(s["esl-exposed"], ["critical"], "{s:?}");
    assert_eq!(s["esl-weak-password"], ["high"], "{s:?}");
    assert!(!s.contains_key("esl-default-password"));
}
