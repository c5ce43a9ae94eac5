//! Bans put back at start (and after a reload of a wiped table): the
//! ledger's unexpired bans and those the kernel holds that the ledger does
//! not know go back into the engine and the kernel, except those of
//! addresses allowlisted since, which are lifted with the ledger saying why.
//! Re-adding what the kernel still has only refreshes it, so nothing is
//! duplicated.

use super::actions::ledger_error;
use super::{kernel, metrics, now};
use crate::ledger::{Ledger, LedgerBan};
use sipwall_engine::{BanReason, Engine, Timestamp};
use std::time::Duration;

/// Lifts the ban of `addr`, allowlisted since it was made: out of the
/// kernel, ended in the ledger as "allowlisted".
fn lift_allowlisted(
    ledger: &mut Ledger,
    sets: &mut kernel::KernelSets,
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    addr: std::net::IpAddr,
) {
    if let Err(e) = sets.unban(addr) {
        counters.kernel_errors += 1;
        tracing::error!(%addr, error = %e, "lifting an allowlisted ban failed");
    }
    if let Err(e) = ledger.end(addr, t.micros(), "allowlisted") {
        ledger_error(counters, t, &e);
    }
    tracing::warn!(%addr, "ban lifted at restore: the address is allowlisted now");
}

/// Unexpired bans from the ledger and the kernel go back into the engine
/// and the kernel, except those of addresses allowlisted since.
pub(super) fn restore(
    engine: &mut Engine,
    ledger: &mut Ledger,
    sets: &mut kernel::KernelSets,
    counters: &mut metrics::DaemonCounters,
) -> anyhow::Result<()> {
    use sipwall_netfilter::Nftables as _;
    let t = now();
    let closed = ledger.close_expired(t.micros())?;
    let active = ledger.active(t.micros())?;
    // Bans the kernel holds that the ledger does not know (added by hand
    // with nft, or by a daemon that died between the two): adopt them.
    let json = sipwall_netfilter::NftCli::default()
        .list_table_json(sipwall_ruleset::TABLE)?
        .unwrap_or_default();
    let in_kernel = if json.is_empty() {
        Vec::new()
    } else {
        sipwall_netfilter::elements::parse(&json)?
    };
    let mut lifted = std::collections::HashSet::new();
    let mut adopted = 0;
    for e in in_kernel.iter().filter(|e| {
        e.set == sipwall_ruleset::sets::BAN_V4 || e.set == sipwall_ruleset::sets::BAN_V6
    }) {
        let Ok(addr) = e.key.parse::<std::net::IpAddr>() else {
            continue;
        };
        if engine.bans().is_allowlisted(addr) {
            if lifted.insert(addr) {
                lift_allowlisted(ledger, sets, counters, t, addr);
            }
            continue;
        }
        if active.iter().any(|b| b.addr == addr.into()) {
            continue;
        }
        let length =
            Duration::from_secs(e.expires_secs.unwrap_or(3600)).min(crate::control::MAX_BAN);
        let until = t + length;
        engine.restore_ban(addr, until, BanReason::Manual);
        if ledger.ban(&LedgerBan::adopted(addr.into(), t.micros(), until.micros()))? {
            adopted += 1;
        }
    }
    let prefixes = restore_prefixes(engine, ledger, sets, counters, t, &in_kernel, &active);
    let mut batch = Vec::with_capacity(active.len());
    for b in &active {
        let addr = b.addr.addr();
        if b.addr.prefix_len() != b.addr.max_prefix_len() {
            continue;
        }
        if engine.bans().is_allowlisted(addr) {
            if lifted.insert(addr) {
                lift_allowlisted(ledger, sets, counters, t, addr);
            }
            continue;
        }
        batch.push((addr, Timestamp::from_micros(b.until).since(t)));
    }
    // One batch: re-adding what the kernel still has only refreshes it; an
    // element the kernel refuses is left out, not the whole restore.
    let refused = sets.ban_many(&batch)?;
    for (addr, why) in &refused {
        counters.kernel_errors += 1;
        if counters.errors.allow(t) {
            tracing::error!(%addr, error = %why, "the kernel refused a restored ban: skipped");
        }
        if let Err(e) = ledger.end(*addr, t.micros(), "refused by the kernel") {
            ledger_error(counters, t, &e);
        }
    }
    for (addr, length) in &batch {
        if !refused.iter().any(|(a, _)| a == addr) {
            engine.restore_ban(*addr, t + *length, BanReason::Manual);
        }
    }
    // Bans an observing daemon decided stay in the ledger to be explained;
    // none goes back into the kernel.
    let observed = ledger.observed(t.micros())?.len();
    tracing::info!(
        restored = batch.len() - refused.len(),
        observed,
        prefixes,
        adopted,
        closed,
        lifted = lifted.len(),
        refused = refused.len(),
        "ledger"
    );
    Ok(())
}

/// Prefix bans (source rotation) from the ledger and the kernel go back
/// into the engine and the kernel, except those that overlap an
/// allowlisted zone, which are lifted with the ledger saying why. Returns
/// how many were restored.
fn restore_prefixes(
    engine: &mut Engine,
    ledger: &mut Ledger,
    sets: &mut kernel::KernelSets,
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    in_kernel: &[sipwall_netfilter::elements::Element],
    active: &[LedgerBan],
) -> usize {
    use ipnet::IpNet;
    let mut found: Vec<(IpNet, Duration, bool)> = active
        .iter()
        .filter(|b| b.addr.prefix_len() != b.addr.max_prefix_len())
        .map(|b| (b.addr, Timestamp::from_micros(b.until).since(t), true))
        .collect();
    // Prefix elements the ledger does not know (an older ledger, or `nft
    // add element` by hand): adopted, with what the kernel has left.
    for e in in_kernel.iter().filter(|e| {
        e.set == sipwall_ruleset::sets::BAN_NET_V4 || e.set == sipwall_ruleset::sets::BAN_NET_V6
    }) {
        let Ok(prefix) = e.key.parse::<IpNet>() else {
            continue;
        };
        if !found.iter().any(|(p, _, _)| *p == prefix) {
            let left = Duration::from_secs(e.expires_secs.unwrap_or(3600));
            found.push((prefix, left.min(crate::control::MAX_BAN), false));
        }
    }
    let mut restored = 0;
    for (prefix, left, in_ledger) in found {
        if engine.bans().overlaps_allowlist(prefix) {
            if let Err(e) = sets.unban_prefix(prefix) {
                counters.kernel_errors += 1;
                tracing::error!(%prefix, error = %e, "lifting an allowlisted prefix ban failed");
            }
            if in_ledger {
                if let Err(e) = ledger.end(prefix, t.micros(), "allowlisted") {
                    ledger_error(counters, t, &e);
                }
            }
            tracing::warn!(%prefix, "prefix ban lifted at restore: it holds an allowlisted address now");
            continue;
        }
        if let Err(e) = sets.ban_prefix(prefix, left) {
            counters.kernel_errors += 1;
            if counters.errors.allow(t) {
                tracing::error!(%prefix, error = %e, "the kernel refused a restored prefix ban: skipped");
            }
            if let Err(e) = ledger.end(prefix, t.micros(), "refused by the kernel") {
                ledger_error(counters, t, &e);
            }
            continue;
        }
        if !in_ledger {
            let row = LedgerBan::adopted(prefix, t.micros(), (t + left).micros());
            if let Err(e) = ledger.ban(&row) {
                ledger_error(counters, t, &e);
            }
        }
        engine.restore_prefix_ban(prefix, t + left, BanReason::Manual);
        restored += 1;
    }
    restored
}
