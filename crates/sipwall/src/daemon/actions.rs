//! The engine's actions carried out: kernel first (a ban is real once the
//! kernel has it), then the ledger and the log. Storage faults never stop
//! the guard: an update the kernel refuses is counted and logged at a
//! bounded rate, a failed ledger write likewise.

use super::{kernel, metrics, now};
use crate::ledger::{Ledger, LedgerBan};
use sipwall_engine::remote_text::printable;
use sipwall_engine::{Action, Engine, Timestamp};

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

/// Carries the engine's pending actions out: all of them to the kernel
/// first, in one batch (a ban is real once the kernel has it; one netlink
/// transaction per ban is a quarter of the rate under a flood of distinct
/// scanners), then the ledger and the log. `received` is when the
/// packet that caused them reached the daemon (for the reaction time).
pub(super) fn carry_out(
    engine: &mut Engine,
    ledger: &mut Ledger,
    sets: &mut kernel::KernelSets,
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    received: Timestamp,
) {
    let actions: Vec<Action> = std::iter::from_fn(|| engine.poll_action()).collect();
    if actions.is_empty() {
        return;
    }
    for (i, e) in sets.apply_all(&actions, t) {
        counters.kernel_errors += 1;
        if counters.errors.allow(t) {
            let action = &actions[i];
            tracing::error!(error = %e, action = %printable(format!("{action:?}").as_bytes(), LOG_TEXT_BYTES), "kernel update failed");
        }
    }
    for action in &actions {
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
}
