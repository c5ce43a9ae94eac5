//! The threads that read the kernel's packets into the loop's inbox: NFLOG
//! copies (tap), or NFQUEUE packets held for a verdict (inline). Each is
//! bound before the intake's rules exist, so no packet finds nobody
//! listening.

use super::held::Held;
use super::inbox::Input;
use sipwall_netfilter::{NetfilterError, NflogReader, PacketQueue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

/// Packets taken from the queue in one hand-over to the loop.
const BURST: usize = 128;

/// Reads copies of groups `groups` into `to_loop`; an overrun counts in `lost`.
pub fn tap(
    groups: &[u16],
    to_loop: SyncSender<Input>,
    lost: Arc<AtomicU64>,
) -> Result<(), NetfilterError> {
    let mut reader = NflogReader::open(groups)?;
    std::thread::spawn(move || loop {
        match reader.recv() {
            Ok(batch) => {
                if batch
                    .into_iter()
                    .any(|l| to_loop.send(Input::Packet(l)).is_err())
                {
                    return;
                }
            }
            Err(e) => {
                lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "nflog");
            }
        }
    });
    Ok(())
}

/// Reads packets held in queues `queues` into `to_loop` as [`Held`]
/// batches, and hands each batch's verdicts to the kernel.
pub fn inline(
    queues: &[u16],
    fail_open: bool,
    to_loop: SyncSender<Input>,
) -> Result<(), NetfilterError> {
    let mut queue = PacketQueue::open(queues, fail_open)?;
    let (verdict_tx, verdict_rx) = std::sync::mpsc::channel::<Vec<bool>>();
    std::thread::spawn(move || loop {
        let held = match queue.recv_burst(BURST) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "nfqueue");
                continue;
            }
        };
        let batch = held
            .iter()
            .map(|p| (p.queue(), p.packet().to_vec()))
            .collect();
        if to_loop
            .send(Input::Queued(Held::new(
                batch,
                verdict_tx.clone(),
                fail_open,
            )))
            .is_err()
        {
            return;
        }
        // A Held batch answers once, judged or dropped: this cannot hang
        // while the loop lives.
        let verdicts = verdict_rx.recv().unwrap_or_default();
        for (i, p) in held.into_iter().enumerate() {
            let accept = verdicts.get(i).copied().unwrap_or(fail_open);
            if let Err(e) = queue.verdict(p, accept) {
                tracing::warn!(error = %e, "nfqueue verdict");
            }
        }
    });
    Ok(())
}
