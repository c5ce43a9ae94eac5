//! `sipwall replay --report FILE.html`, loaded in a real headless browser
//! (Chromium, `--dump-dom`: the DOM as the browser built it), on the lab
//! captures of `tests/captures/` (a SIPp call with pinholes, sipvicious
//! banned) and on a capture whose User-Agent carries markup.

mod capture;
use capture::{lab_capture, udp4, write_raw_pcap};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PINHOLE: &str = "[services.sip]\nkind = \"sip\"\nallow = [\"any\"]\n[media]\nmode = \"pinhole\"\npinhole_timeout = \"30s\"\n";

fn sipwall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args(args)
        .output()
        .expect("run sipwall")
}

/// Replays `captures` with `--report` and returns the page as written.
fn report(dir: &tempfile::TempDir, captures: &[&str]) -> (PathBuf, String) {
    report_with(dir, PINHOLE, captures)
}

/// [`report`] under `policy`.
fn report_with(dir: &tempfile::TempDir, policy_text: &str, captures: &[&str]) -> (PathBuf, String) {
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, policy_text).unwrap();
    let page = dir.path().join("out.html");
    let mut args = vec![
        "replay",
        "-c",
        policy.to_str().unwrap(),
        "--summary-only",
        "--report",
        page.to_str().unwrap(),
    ];
    args.extend(captures);
    let out = sipwall(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("the report is written");
    (page, html)
}

/// The browser's DOM of `page`, or `None` (with the reason printed) when
/// there is no Chromium here; under CI=true its absence fails.
fn browser_dom(page: &Path) -> Option<String> {
    let Some(bin) = ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is missing under CI=true (.ci/setup installs it)"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    // A browser that hangs (no display, a missing service) fails the
    // test in two minutes instead of holding CI.
    let out = Command::new("timeout")
        .args([
            "120",
            bin,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &format!("file://{}", page.display()),
        ])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("<body"), "chromium printed no DOM: {dom}");
    Some(dom)
}

/// The element that starts with `open` and everything up to its `close`.
fn element<'a>(dom: &'a str, open: &str, close: &str) -> &'a str {
    let at = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the DOM:\n{dom}"));
    let len = dom[at..].find(close).expect("element closed") + close.len();
    &dom[at..at + len]
}

#[test]
fn the_report_shows_the_banned_scanner_its_detector_the_call_pinholes_and_the_rules_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (page, html) = report(
        &dir,
        &[&lab_capture("sipp-call.pcap"), &lab_capture("svcrack.pcap")],
    );
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src="),
        "self-contained: no external URL"
    );
    let Some(dom) = browser_dom(&page) else {
        return;
    };
    assert!(dom.contains("id=\"timeline\""), "{dom}");
    assert!(dom.contains("id=\"summary\""));
    // The scanner's row, with its ban marker naming the detector.
    let scanner = element(
        &dom,
        "<tr class=\"source\" data-addr=\"192.0.2.66\"",
        "</tr>",
    );
    let ban = element(scanner, "<g class=\"ban\"", "</g>");
    assert!(ban.contains("data-detector=\"scanner\""), "{ban}");
    assert!(ban.contains("friendly-scanner"), "the reason: {ban}");
    assert!(scanner.contains("class=\"pkt drop\""), "{scanner}");
    // The caller's row: accepted, never banned.
    let caller = element(
        &dom,
        "<tr class=\"source\" data-addr=\"192.0.2.2\"",
        "</tr>",
    );
    assert!(caller.contains("class=\"pkt accept\""), "{caller}");
    assert!(!caller.contains("class=\"ban\""), "{caller}");
    // The call's pinholes: RTP and RTCP opened, then closed by the BYE.
    let lane = element(&dom, "<tr class=\"pinholes\"", "</tr>");
    assert!(
        lane.contains("<g class=\"pinhole open\" data-port=\"20000\""),
        "{lane}"
    );
    assert!(
        lane.contains("<g class=\"pinhole close\" data-port=\"20000\""),
        "{lane}"
    );
    assert!(lane.contains("call-ended"), "{lane}");
    // The rules table, with the counts replay's summary gives.
    let rules = element(&dom, "<section id=\"rules\"", "</section>");
    let banned = rules
        .split("<tr class=\"rule\">")
        .find(|r| r.contains("<td class=\"rule-text\">bans (sipwall run)</td>"))
        .unwrap_or_else(|| panic!("the ban's rule: {rules}"));
    let count: u64 = element(banned, "<td class=\"count\">", "</td>")
        ["<td class=\"count\">".len()..]
        .trim_end_matches("</td>")
        .parse()
        .unwrap();
    assert!(
        count >= 5,
        "svcrack's later requests, dropped by the ban: {rules}"
    );
    for rule in [
        "bans (sipwall run)",
        "media pinholes (sipwall run)",
        "guard: scanner: User-Agent",
    ] {
        assert!(rules.contains(rule), "{rule} in {rules}");
    }
    let bans = element(&dom, "<section id=\"bans\"", "</section>");
    assert_eq!(bans.matches("class=\"ban-row\"").count(), 1, "{bans}");
}

#[test]
fn markup_in_a_scanners_user_agent_comes_out_as_text_not_as_elements() {
    let dir = tempfile::tempdir().unwrap();
    let ua = "friendly-scanner<script>document.title='pwned'</script><b id=\"pwned\">x</b>&amp;";
    let options = format!(
        "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.66:5060;branch=z9hG4bK-1\r\n\
         From: <sip:100@192.0.2.1>;tag=a1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: hostile-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
    );
    let capture = dir.path().join("hostile.pcap");
    write_raw_pcap(
        &capture,
        &[udp4(
            [203, 0, 113, 66],
            5060,
            [192, 0, 2, 1],
            5060,
            options.as_bytes(),
        )],
    );
    let (page, html) = report(&dir, &[capture.to_str().unwrap()]);
    assert!(
        html.contains("class=\"ban\""),
        "the User-Agent got the scanner banned: {html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<b id"), "{html}");
    assert!(
        html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&amp;amp;"), "an entity stays text: {html}");
    let Some(dom) = browser_dom(&page) else {
        return;
    };
    // In text `<` serializes as `&lt;`: a raw `<b` or `<script` is an element.
    assert!(!dom.contains("<b id="), "markup became an element: {dom}");
    assert!(!dom.contains("<script"), "markup became an element: {dom}");
    assert!(!dom.contains("<title>pwned</title>"), "a script ran: {dom}");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "the User-Agent is text in the page: {dom}"
    );
}

#[test]
fn a_report_path_that_cannot_be_written_is_refused_before_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, PINHOLE).unwrap();
    let page = dir.path().join("no-such-dir/out.html");
    let out = sipwall(&[
        "replay",
        "-c",
        policy.to_str().unwrap(),
        "--report",
        page.to_str().unwrap(),
        &lab_capture("svcrack.pcap"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write the report"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing replayed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_prefix_ban_is_marked_on_the_sources_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("{PINHOLE}[bans]\nipv4_prefix_after = 3\nipv4_prefix = 24\n");
    let packets: Vec<Vec<u8>> = (1..=4u8)
        .map(|h| {
            let options = format!(
                "OPTIONS sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.{h}:5060;branch=z9hG4bK-{h}\r\n\
                 From: <sip:100@192.0.2.1>;tag=a{h}\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: prefix-{h}\r\n\
                 CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nUser-Agent: friendly-scanner\r\nContent-Length: 0\r\n\r\n"
            );
            udp4([198, 51, 100, h], 5060, [192, 0, 2, 1], 5060, options.as_bytes())
        })
        .collect();
    let capture = dir.path().join("prefix.pcap");
    write_raw_pcap(&capture, &packets);
    let (_, html) = report_with(&dir, &policy, &[capture.to_str().unwrap()]);
    assert!(
        html.contains("<tr class=\"ban-row\" data-target=\"198.51.100.0/24\""),
        "the prefix ban in the bans table: {html}"
    );
    for h in 1..=3 {
        let row = element(
            &html,
            &format!("<tr class=\"source\" data-addr=\"198.51.100.{h}\""),
            "</tr>",
        );
        assert!(
            row.contains(&format!("data-target=\"198.51.100.{h}\"")),
            "its own ban: {row}"
        );
        assert!(
            row.contains("data-target=\"198.51.100.0/24\""),
            "the prefix's ban: {row}"
        );
    }
}

#[test]
fn a_reader_that_goes_away_does_not_cost_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, PINHOLE).unwrap();
    let page = dir.path().join("out.html");
    // As `sipwall replay --report out.html CAPTURE | head -0`: stdout is a
    // pipe whose reader is gone before the first line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipwall"))
        .args([
            "replay",
            "-c",
            policy.to_str().unwrap(),
            "--report",
            page.to_str().unwrap(),
            &lab_capture("sipp-call.pcap"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<tr class=\"source\" data-addr=\"192.0.2.2\""),
        "the page is written: {html}"
    );
}
