//! An explanation of the decisions on one address (`sipwall bans
//! explain`), built from the ledger's rows and the engine's evidence, the
//! same way by the daemon (live) and by the command reading the ledger
//! file when no daemon answers.
//!
//! Times: the daemon's engine runs on Unix microseconds (its clock is the
//! wall clock, as the ledger's), so the engine's timestamps convert to
//! the answer's Unix milliseconds and seconds directly.

use crate::control::{BanEvidence, CountedRequest, Decision, Explanation, Standing};
use crate::ledger::{addr_text, HistoryRow, Mark};
use sipwall_engine::Evidence;

/// The engine's evidence as the control protocol and the ledger carry it.
pub fn detail(ev: &Evidence) -> BanEvidence {
    BanEvidence {
        detector: ev.detector.to_owned(),
        threshold: ev.threshold,
        window_ms: ev.window.as_millis() as u64,
        rule: ev.rule.clone(),
        at_ms: ev.at.micros() / 1000,
        counted: ev
            .counted
            .iter()
            .map(|c| CountedRequest {
                at_ms: c.at.micros() / 1000,
                method: c.method.to_string(),
                account: c.account(),
                answer: c.answer,
            })
            .collect(),
        offence: ev.step.offence,
        length_secs: ev.step.length.as_secs(),
        shield: ev.step.shield.map(|s| s.kind().to_owned()),
        prefix: ev.step.prefix.map(|p| p.to_string()),
    }
}

/// [`detail`] as the ledger's `detail` column holds it.
pub fn detail_json(ev: &Evidence) -> Option<String> {
    serde_json::to_string(&detail(ev)).ok()
}

/// A ledger row as a decision, judged at `now` (Unix microseconds).
pub fn decision(row: &HistoryRow, now: u64) -> Decision {
    let b = &row.ban;
    let standing = match row.mark {
        Mark::Observed => Standing::WouldBanObserved,
        Mark::Suppressed => Standing::WouldBanShielded,
        Mark::Banned if row.ended_at.is_none() && b.until > now => Standing::Banned,
        Mark::Banned => Standing::Ended,
    };
    // A ban whose time ran out while no daemon closed its row ended then.
    let (ended_at, ended_by) = match (row.ended_at, &row.ended_by) {
        (Some(at), by) => (Some(at / 1_000_000), by.clone()),
        (None, _) if b.until <= now => (Some(b.until / 1_000_000), Some("expired".to_owned())),
        (None, _) => (None, None),
    };
    Decision {
        target: addr_text(&b.addr),
        standing,
        kind: b.kind.clone(),
        reason: b.reason.clone(),
        evidence: b.evidence.clone(),
        since: b.banned_at / 1_000_000,
        until: b.until / 1_000_000,
        ended_at,
        ended_by,
        detail: row
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok()),
    }
}

/// An explanation from the ledger's rows alone: what the command says
/// when no daemon answers.
pub fn from_ledger(addr: std::net::IpAddr, rows: &[HistoryRow], now: u64) -> Explanation {
    Explanation {
        addr: addr.to_string(),
        live: false,
        banned_now: None,
        guard_mode: None,
        decisions: rows.iter().map(|r| decision(r, now)).collect(),
        engine: None,
        lists: Vec::new(),
        lists_checked: false,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Ledger, LedgerBan};
    use sipwall_engine::{BanReason, Counted, Step, Timestamp};
    use std::time::Duration;

    fn evidence(at: u64) -> Evidence {
        Evidence {
            detector: "brute-force",
            threshold: 5,
            window: Duration::from_secs(60),
            rule: "5 failed authentications".into(),
            at: Timestamp::from_secs(at),
            counted: vec![Counted::new(
                Timestamp::from_secs(at),
                b"REGISTER",
                Some(b"100@example.com"),
                Some(403),
            )],
            step: Step {
                offence: 2,
                length: Duration::from_secs(14_400),
                until: Some(Timestamp::from_secs(at + 14_400)),
                shield: None,
                prefix: None,
            },
        }
    }

    #[test]
    fn a_ban_its_would_be_twin_and_a_shielded_one_read_back_with_their_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.sqlite"));
        let addr: std::net::IpAddr = "203.0.113.66".parse().unwrap();
        let s = 1_000_000u64;
        let reason = BanReason::BruteForce {
            account: "100@example.com".into(),
        };
        let row = LedgerBan::made(addr.into(), &reason, "5 failed", 100 * s, 14_500 * s);
        let json = detail_json(&evidence(100));
        assert!(l.ban_explained(&row, json.as_deref()).unwrap());
        let mut later = row.clone();
        later.banned_at = 200 * s;
        assert!(l
            .suppressed(&later, "allowlisted", json.as_deref())
            .unwrap());
        later.banned_at = 300 * s;
        assert!(
            !l.suppressed(&later, "allowlisted", None).unwrap(),
            "one an hour per source"
        );
        let rows = l.history(addr, 8).unwrap();
        let e = from_ledger(addr, &rows, 1000 * s);
        assert_eq!(e.decisions.len(), 2);
        assert_eq!(e.decisions[0].standing, Standing::WouldBanShielded);
        assert_eq!(
            e.decisions[0].ended_by.as_deref(),
            Some("not banned: allowlisted")
        );
        let ban = &e.decisions[1];
        assert_eq!(ban.standing, Standing::Banned);
        let d = ban.detail.as_ref().expect("the structured evidence");
        assert_eq!(
            (d.detector.as_str(), d.threshold, d.offence),
            ("brute-force", 5, 2)
        );
        assert_eq!(d.counted[0].answer, Some(403));
        assert_eq!(d.counted[0].at_ms, 100_000);
        assert!(
            l.active(1000 * s).unwrap().len() == 1,
            "the shielded row is no ban"
        );
        let over = from_ledger(addr, &rows, 20_000 * s);
        assert_eq!(over.decisions[1].standing, Standing::Ended);
        assert_eq!(over.decisions[1].ended_by.as_deref(), Some("expired"));
    }
}
