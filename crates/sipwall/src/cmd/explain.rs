//! `sipwall bans explain ADDR`: why an address is or was banned, or would
//! have been. The daemon answers when it runs (its ledger, its engine's
//! latest evidence, whether the kernel holds the address now); when none
//! answers, the ledger file is read here, read-only, and the answer says
//! what is missing.
//!
//! Every string shown came through the network at some point (accounts,
//! Request-URIs, User-Agents in reasons): each is escaped for the
//! terminal here, in text and in JSON alike.

use super::text::compact;
use super::Format;
use crate::control::{
    call, BanEvidence, Decision, Explanation, Request, SocketArgs, Standing, MAX_DECISIONS,
};
use crate::exit::{Failure, Outcome, Success};
use clap::Args;
use sipwall_engine::remote_text::printable;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

/// The most bytes of one field shown.
const FIELD_BYTES: usize = 1024;

/// Arguments of `sipwall bans explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The address.
    addr: std::net::IpAddr,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// The ledger to read when no daemon answers.
    #[arg(
        long,
        env = "SIPWALL_LEDGER",
        default_value = "/var/lib/sipwall/ledger.sqlite",
        value_name = "FILE"
    )]
    ledger: PathBuf,
    #[command(flatten)]
    socket: SocketArgs,
}

/// Runs `sipwall bans explain`.
pub fn explain(a: ExplainArgs) -> Outcome {
    let req = Request::Explain {
        addr: a.addr.to_string(),
    };
    let e = match call(&a.socket.path, &req) {
        Ok(r) if r.ok => serde_json::from_value::<Explanation>(r.data)
            .map_err(|e| Failure::failed(anyhow::anyhow!("unreadable explanation: {e}")))?,
        Ok(r) => {
            return Err(Failure::failed(anyhow::anyhow!(
                "{}",
                printable(r.error.unwrap_or_default().as_bytes(), FIELD_BYTES)
            )))
        }
        Err(why) => from_file(&a, &why)?,
    };
    let e = escaped(e);
    if a.json || a.format == Format::Json {
        let v = serde_json::to_string(&e)
            .map_err(|e| Failure::failed(anyhow::anyhow!("explanation: {e}")))?;
        outln!("{v}");
    } else {
        out!("{}", text(&e, crate::control::unix_now()));
    }
    Ok(Success::Clean)
}

/// The explanation the ledger file alone gives, when no daemon answered.
fn from_file(a: &ExplainArgs, why: &anyhow::Error) -> Result<Explanation, Failure> {
    let db = crate::ledger::open_read_only(&a.ledger).map_err(|e| {
        Failure::failed(anyhow::anyhow!(
            "no daemon answered ({why:#}) and the ledger cannot be read: {e}"
        ))
    })?;
    let rows = crate::ledger::history_of(&db, a.addr, MAX_DECISIONS).map_err(|e| {
        Failure::failed(anyhow::anyhow!(
            "ledger {}: {e}",
            printable(a.ledger.display().to_string().as_bytes(), FIELD_BYTES)
        ))
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let mut e = crate::explain::from_ledger(a.addr, &rows, now);
    e.notes.push(format!(
        "no daemon answered ({why:#}): read from the ledger file {}; the live part (whether the kernel holds it now, the engine's latest evidence, the external lists) is missing",
        a.ledger.display()
    ));
    Ok(e)
}

fn esc(s: &str) -> String {
    printable(s.as_bytes(), FIELD_BYTES)
}

fn escaped_detail(mut d: BanEvidence) -> BanEvidence {
    d.detector = esc(&d.detector);
    d.rule = esc(&d.rule);
    d.shield = d.shield.map(|s| esc(&s));
    d.prefix = d.prefix.map(|p| esc(&p));
    for c in &mut d.counted {
        c.method = esc(&c.method);
        c.account = c.account.as_deref().map(esc);
    }
    d
}

/// Every string of `e` escaped (JSON escapes control characters, not
/// bidi overrides; the daemon escaped them already, and escaping twice
/// changes nothing).
fn escaped(mut e: Explanation) -> Explanation {
    e.addr = esc(&e.addr);
    e.guard_mode = e.guard_mode.map(|m| esc(&m));
    for d in &mut e.decisions {
        d.target = esc(&d.target);
        d.kind = esc(&d.kind);
        d.reason = esc(&d.reason);
        d.evidence = esc(&d.evidence);
        d.ended_by = d.ended_by.as_deref().map(esc);
        d.detail = d.detail.take().map(escaped_detail);
    }
    e.engine = e.engine.map(escaped_detail);
    for l in &mut e.lists {
        l.list = esc(&l.list);
        l.net = esc(&l.net);
        l.detail = esc(&l.detail);
    }
    e.notes = e.notes.iter().map(|n| esc(n)).collect();
    e
}

fn when(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn when_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn standing(d: &Decision) -> &'static str {
    match d.standing {
        Standing::Banned => "BANNED",
        Standing::Ended => "ban ended",
        Standing::WouldBanObserved => "WOULD HAVE BANNED (observe mode: never in the kernel)",
        Standing::WouldBanShielded => "WOULD HAVE BANNED (a shield stopped it)",
    }
}

fn detail_text(out: &mut String, d: &BanEvidence) {
    let _ = writeln!(out, "  detector   {}: {}", d.detector, d.rule);
    let window = if d.window_ms == 0 {
        "one request".to_owned()
    } else {
        format!("within {}", compact(Duration::from_millis(d.window_ms)))
    };
    let _ = writeln!(out, "  threshold  {} {window}", d.threshold);
    let step = match d.offence {
        0 | 1 => "first offence".to_owned(),
        n => format!("offence {n} (repeat offender: banned longer)"),
    };
    let _ = writeln!(
        out,
        "  step       {step}, {}",
        compact(Duration::from_secs(d.length_secs))
    );
    if let Some(p) = &d.prefix {
        let _ = writeln!(
            out,
            "  prefix     this ban got {p} banned whole (source rotation)"
        );
    }
    if let Some(s) = &d.shield {
        let _ = writeln!(out, "  shield     {s}: no ban was made");
    }
    if d.counted.is_empty() {
        let _ = writeln!(out, "  counted    (none kept)");
    }
    for (i, c) in d.counted.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}  {}  {}  {}  {}",
            if i == 0 { "counted  " } else { "         " },
            when_ms(c.at_ms),
            c.method,
            c.account.as_deref().unwrap_or("-"),
            c.answer.map_or("-".to_owned(), |a| a.to_string())
        );
    }
}

/// The explanation for people, times counted from `now` (Unix seconds).
pub fn text(e: &Explanation, now: u64) -> String {
    let mut out = String::new();
    let state = match (e.banned_now, e.decisions.first()) {
        (Some(true), _) => "banned now",
        (Some(false), _) if !e.lists.is_empty() => {
            "not banned by the guard now; an external list holds it (below)"
        }
        (Some(false), _) => "not banned now",
        (None, Some(d)) if d.standing == Standing::Banned => "banned (per the ledger)",
        (None, _) => "not banned (per the ledger)",
    };
    let mode = e
        .guard_mode
        .as_deref()
        .map(|m| format!(", guard mode {m}"))
        .unwrap_or_default();
    let _ = writeln!(out, "{}: {state}{mode}", e.addr);
    if e.decisions.is_empty() && e.engine.is_none() {
        let _ = writeln!(out, "no ban or would-be ban of it is recorded");
    }
    for d in &e.decisions {
        let _ = writeln!(out);
        let target = if d.target == e.addr {
            String::new()
        } else {
            format!(" of {}", d.target)
        };
        let _ = writeln!(out, "{}{target}: {} ({})", standing(d), d.reason, d.kind);
        let ends = match (&d.ended_at, &d.ended_by) {
            (Some(at), by) => format!(
                "ended {} by {}",
                when(*at),
                by.as_deref().unwrap_or("unknown")
            ),
            (None, _) if d.until > now => format!(
                "ends {} (in {})",
                when(d.until),
                compact(Duration::from_secs(d.until - now))
            ),
            (None, _) => format!("ends {}", when(d.until)),
        };
        let _ = writeln!(out, "  since      {}; {ends}", when(d.since));
        let _ = writeln!(out, "  evidence   {}", d.evidence);
        match &d.detail {
            Some(x) => detail_text(&mut out, x),
            None => {
                let _ = writeln!(out, "  (no structured evidence kept for this one)");
            }
        }
    }
    if let Some(x) = &e.engine {
        let _ = writeln!(
            out,
            "\nthe engine's latest decision, newer than the ledger's rows:"
        );
        detail_text(&mut out, x);
    }
    let _ = writeln!(out);
    if !e.lists_checked {
        let _ = writeln!(out, "external lists: not looked up");
    } else if e.lists.is_empty() {
        let _ = writeln!(out, "external lists: in none");
    }
    for l in &e.lists {
        let until = l
            .until
            .map(|u| format!(", until {}", when(u)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "external list {}: {} ({}{until})",
            l.list, l.net, l.detail
        );
    }
    for n in &e.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::CountedRequest;

    /// An account and a User-Agent chosen by the sender: a terminal
    /// escape and a bidi override, as a forged REGISTER can carry them.
    fn forged() -> Explanation {
        let detail = BanEvidence {
            detector: "brute-force".into(),
            threshold: 5,
            window_ms: 60_000,
            rule: "5 failed authentications".into(),
            at_ms: 1_000,
            counted: vec![CountedRequest {
                at_ms: 1_000,
                method: "REGISTER".into(),
                account: Some("100\u{1b}]0;pwned\u{7}@x".into()),
                answer: Some(403),
            }],
            offence: 1,
            length_secs: 3600,
            shield: None,
            prefix: None,
        };
        Explanation {
            addr: "203.0.113.66".into(),
            live: true,
            banned_now: Some(true),
            guard_mode: Some("enforce".into()),
            decisions: vec![Decision {
                target: "203.0.113.66".into(),
                standing: Standing::Banned,
                kind: "scanner".into(),
                reason: "scanner: User-Agent \"\u{202e}rennacs\u{1b}[2J\"".into(),
                evidence: "OPTIONS \u{1b}[31m".into(),
                since: 1,
                until: 3601,
                ended_at: None,
                ended_by: None,
                detail: Some(detail),
            }],
            engine: None,
            lists: Vec::new(),
            lists_checked: true,
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_forged_account_or_user_agent_cannot_drive_the_terminal_through_bans_explain() {
        let e = escaped(forged());
        let text = text(&e, 2);
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{text:?}"
        );
        assert!(text.contains("100\\x1b]0;pwned\\x07@x"), "{text}");
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains('\u{202e}'), "{json}");
        assert!(!json.contains("\\u001b"), "{json}");
    }

    #[test]
    fn the_text_says_the_detector_threshold_step_and_what_counted() {
        let text = text(&escaped(forged()), 2);
        for part in [
            "203.0.113.66: banned now, guard mode enforce",
            "BANNED: scanner: User-Agent",
            "threshold  5 within 1m",
            "step       first offence, 1h",
            "REGISTER",
            "403",
            "ends 1970-01-01T01:00:01Z (in 59m59s)",
            "external lists: in none",
        ] {
            assert!(text.contains(part), "{part:?} in:\n{text}");
        }
    }
}
