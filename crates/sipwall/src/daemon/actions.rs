//! The engine's actions carried out: kernel first (a ban is real once the
//! kernel has it), then the ledger and the log. Storage faults never stop
//! the guard: an update the kernel refuses is counted and logged at a
//! bounded rate, a failed ledger write likewise.
//!
//! In observe mode (`guard.mode = "observe"`, `sipwall run --observe`) the
//! engine decides exactly as in enforce mode, and its state counts the
//! source as banned (so live traffic and `sipwall replay` decide alike);
//! what changes is only here: a detector's ban is logged as "would ban",
//! counted, and kept in the ledger marked observed, and never sent to the
//! kernel ([`reaches_kernel`]). Bans by hand are the admin's own decision
//! and are made; pinholes are not bans and still open, or calls lose media.
//! Inline, a packet the engine would drop is let through ([`lets_through`]):
//! that drop is the ban's first packet, or a would-be banned source's next.

use super::{kernel, metrics, now};
use crate::ledger::{Ledger, LedgerBan};
use sipwall_engine::remote_text::printable;
use sipwall_engine::{Action, BanReason, Engine, Timestamp};
use sipwall_policy::GuardMode;

/// The most bytes of network text one log line carries.
const LOG_TEXT_BYTES: usize = 512;

/// Counts a failed ledger write, and logs it within the error budget.
pub(super) fn ledger_error(
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    e: &rusqlite::Error,
) {
    counters.ledger_errors += 1;
    if counters.errors.allow(t) {
        tracing::error!(error = %e, "ledger");
    }
}

/// Whether `action` is sent to the kernel in `mode`: in observe mode a
/// detector's ban (of an address or a prefix) is not.
pub(super) fn reaches_kernel(action: &Action, mode: GuardMode) -> bool {
    mode == GuardMode::Enforce || !observed(action)
}

/// Whether `action`, in observe mode, is a ban only recorded: a detector's
/// (a ban by hand is made whatever the mode).
fn observed(action: &Action) -> bool {
    match action {
        Action::Ban { reason, .. } | Action::BanPrefix { reason, .. } => {
            *reason != BanReason::Manual
        }
        _ => false,
    }
}

/// Whether an inline packet the engine judged `verdict` leaves the queue:
/// in observe mode every one does (the engine's drop is a ban's, see the
/// module's note; what the ruleset refuses never reaches the queue).
pub(super) fn lets_through(verdict: sipwall_engine::Verdict, mode: GuardMode) -> bool {
    mode == GuardMode::Observe || verdict == sipwall_engine::Verdict::Accept
}

/// Carries the engine's pending actions out: all of them to the kernel
/// first, in one batch (a ban is real once the kernel has it; one netlink
/// transaction per ban is a quarter of the rate under a flood of distinct
/// scanners), then the ledger and the log. `received` is when the
/// packet that caused them reached the daemon (for the reaction time).
/// Returns the actions carried out, in order.
pub(super) fn carry_out(
    engine: &mut Engine,
    ledger: &mut Ledger,
    sets: &mut kernel::KernelSets,
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    received: Timestamp,
    mode: GuardMode,
) -> Vec<Action> {
    let actions: Vec<Action> = std::iter::from_fn(|| engine.poll_action()).collect();
    if actions.is_empty() {
        return actions;
    }
    let to_kernel: Vec<Action> = actions
        .iter()
        .filter(|a| reaches_kernel(a, mode))
        .cloned()
        .collect();
    for (i, e) in sets.apply_all(&to_kernel, t) {
        counters.kernel_errors += 1;
        if counters.errors.allow(t) {
            let action = &to_kernel[i];
            tracing::error!(error = %e, action = %printable(format!("{action:?}").as_bytes(), LOG_TEXT_BYTES), "kernel update failed");
        }
    }
    for action in &actions {
        if mode == GuardMode::Observe && observed(action) {
            would_ban(action, ledger, counters, t, received);
            continue;
        }
        match action {
            Action::Ban {
                addr,
                until,
                reason,
                evidence,
            } => {
                let took = now().since(received);
                if counters.lines.allow(t) {
                    let reason = printable(reason.to_string().as_bytes(), LOG_TEXT_BYTES);
                    let evidence = printable(evidence.as_bytes(), LOG_TEXT_BYTES);
                    tracing::warn!(%addr, %reason, %evidence, until_us = until.micros(), reaction_us = took.as_micros() as u64, "banned");
                }
                let row =
                    LedgerBan::made((*addr).into(), reason, evidence, t.micros(), until.micros());
                if let Err(e) = ledger.ban(&row) {
                    ledger_error(counters, t, &e);
                }
            }
            Action::BanPrefix {
                prefix,
                until,
                reason,
                evidence,
            } => {
                tracing::warn!(%prefix, %reason, %evidence, until_us = until.micros(), "prefix banned");
                let row = LedgerBan::made(*prefix, reason, evidence, t.micros(), until.micros());
                if let Err(e) = ledger.ban(&row) {
                    ledger_error(counters, t, &e);
                }
            }
            Action::UnbanPrefix { prefix } => {
                if let Err(e) = ledger.end(*prefix, t.micros(), "unbanned") {
                    ledger_error(counters, t, &e);
                }
                tracing::info!(%prefix, "prefix unbanned");
            }
            Action::BanSuppressed {
                addr,
                reason,
                evidence,
                why,
            } => {
                // The evidence is the network's text: a forged packet
                // chooses it, so it reaches the log escaped and bounded.
                if counters.lines.allow(t) {
                    let reason = printable(reason.to_string().as_bytes(), LOG_TEXT_BYTES);
                    let evidence = printable(evidence.as_bytes(), LOG_TEXT_BYTES);
                    tracing::warn!(%addr, %reason, %evidence, %why, "ban suppressed");
                }
            }
            Action::Verified { addr, until } => {
                counters.verified += 1;
                if counters.lines.allow(t) {
                    tracing::info!(%addr, until_us = until.micros(), "verified: return-routable");
                }
            }
            Action::BanExpired { addr } => {
                counters.bans_expired += 1;
                if let Err(e) = ledger.end(*addr, t.micros(), "expired") {
                    ledger_error(counters, t, &e);
                }
            }
            Action::Unban { addr } => {
                if let Err(e) = ledger.end(*addr, t.micros(), "unbanned") {
                    ledger_error(counters, t, &e);
                }
                tracing::info!(%addr, "unbanned");
            }
            Action::Allow { addr, .. } => {
                if counters.lines.allow(t) {
                    tracing::info!(%addr, "registered: allowed");
                }
            }
            Action::OpenPinhole { key, .. } => {
                if counters.lines.allow(t) {
                    tracing::info!(%key, "pinhole open");
                }
            }
            Action::ClosePinhole { key, reason } => {
                if counters.lines.allow(t) {
                    tracing::info!(%key, ?reason, "pinhole closed")
                }
            }
        }
    }
    actions
}

/// A ban decided in observe mode: logged with the fields a ban logs,
/// counted per detector, and kept in the ledger marked observed, with its
/// reason, evidence, start and end (what `bans explain` reads).
fn would_ban(
    action: &Action,
    ledger: &mut Ledger,
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    received: Timestamp,
) {
    let (net, until, reason, evidence) = match action {
        Action::Ban {
            addr,
            until,
            reason,
            evidence,
        } => ((*addr).into(), until, reason, evidence),
        Action::BanPrefix {
            prefix,
            until,
            reason,
            evidence,
        } => (*prefix, until, reason, evidence),
        _ => return,
    };
    *counters.would_ban.entry(reason.kind()).or_default() += 1;
    if counters.lines.allow(t) {
        let took = now().since(received);
        let words = printable(reason.to_string().as_bytes(), LOG_TEXT_BYTES);
        let seen = printable(evidence.as_bytes(), LOG_TEXT_BYTES);
        match action {
            Action::Ban { addr, .. } => {
                tracing::warn!(%addr, reason = %words, evidence = %seen, until_us = until.micros(), reaction_us = took.as_micros() as u64, "would ban")
            }
            _ => {
                tracing::warn!(prefix = %net, reason = %words, evidence = %seen, until_us = until.micros(), "would ban prefix")
            }
        }
    }
    let row = LedgerBan::made(net, reason, evidence, t.micros(), until.micros());
    if let Err(e) = ledger.observe(&row) {
        ledger_error(counters, t, &e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipwall_engine::{CloseReason, PinholeKey};

    #[test]
    fn an_observing_daemon_sends_no_detectors_ban_to_the_kernel_but_bans_by_hand_and_pinholes() {
        let until = Timestamp::from_micros(2_000_000);
        let ban = |reason| Action::Ban {
            addr: "192.0.2.7".parse().unwrap(),
            until,
            reason,
            evidence: "OPTIONS".into(),
        };
        let prefix = Action::BanPrefix {
            prefix: "2001:db8:1:2::/64".parse().unwrap(),
            until,
            reason: BanReason::Flood,
            evidence: String::new(),
        };
        let key = PinholeKey {
            remote: None,
            port: 16400,
        };
        let detectors = [
            ban(BanReason::SipviciousTag),
            ban(BanReason::Flood),
            ban(BanReason::Enumeration),
            ban(BanReason::Malformed),
            prefix,
        ];
        let others = [
            ban(BanReason::Manual),
            Action::OpenPinhole { key, until },
            Action::ClosePinhole {
                key,
                reason: CloseReason::CallEnded,
            },
            Action::Unban {
                addr: "192.0.2.7".parse().unwrap(),
            },
            Action::Verified {
                addr: "192.0.2.8".parse().unwrap(),
                until,
            },
        ];
        for a in &detectors {
            assert!(reaches_kernel(a, GuardMode::Enforce), "{a:?}");
            assert!(!reaches_kernel(a, GuardMode::Observe), "{a:?}");
        }
        for a in &others {
            assert!(reaches_kernel(a, GuardMode::Enforce), "{a:?}");
            assert!(reaches_kernel(a, GuardMode::Observe), "{a:?}");
        }
    }

    #[test]
    fn an_observing_inline_daemon_lets_through_what_the_engine_would_drop() {
        use sipwall_engine::Verdict;
        for v in [Verdict::Accept, Verdict::Drop, Verdict::Reject] {
            assert!(lets_through(v, GuardMode::Observe), "{v:?}");
            assert_eq!(lets_through(v, GuardMode::Enforce), v == Verdict::Accept);
        }
    }

    #[test]
    fn a_would_be_ban_is_counted_and_kept_observed_with_its_reason_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite"));
        let mut counters = metrics::DaemonCounters::default();
        let t = Timestamp::from_micros(1_000_000);
        let until = Timestamp::from_micros(5_000_000);
        let action = Action::Ban {
            addr: "192.0.2.7".parse().unwrap(),
            until,
            reason: BanReason::SipviciousTag,
            evidence: "OPTIONS sip:100@192.0.2.1".into(),
        };
        would_ban(&action, &mut ledger, &mut counters, t, t);
        assert_eq!(counters.would_ban.get("scanner"), Some(&1));
        assert!(ledger.active(t.micros()).unwrap().is_empty());
        let rows = ledger.observed(t.micros()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].reason, BanReason::SipviciousTag.to_string());
        assert_eq!(rows[0].evidence, "OPTIONS sip:100@192.0.2.1");
        assert_eq!((rows[0].banned_at, rows[0].until), (1_000_000, 5_000_000));
    }
}
