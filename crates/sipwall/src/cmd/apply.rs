//! `sipwall apply`, `confirm`, `reset`.

use crate::exit::{Failure, Outcome};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `sipwall apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The policy file.
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
}
/// Arguments of `sipwall confirm`.
#[derive(Args, Debug)]
pub struct ConfirmArgs {}
/// Arguments of `sipwall reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {}
/// Arguments of the hidden rollback watchdog.
#[derive(Args, Debug)]
pub struct WatchdogArgs {}

/// Applies a policy.
pub fn apply(_a: ApplyArgs) -> Outcome {
    Err(Failure::failed(anyhow::anyhow!("apply: not built yet")))
}
/// Confirms a pending apply.
pub fn confirm(_a: ConfirmArgs) -> Outcome {
    Err(Failure::failed(anyhow::anyhow!("confirm: not built yet")))
}
/// Removes sipwall's table.
pub fn reset(_a: ResetArgs) -> Outcome {
    Err(Failure::failed(anyhow::anyhow!("reset: not built yet")))
}
/// Rolls back an unconfirmed apply.
pub fn watchdog(_a: WatchdogArgs) -> Outcome {
    Err(Failure::failed(anyhow::anyhow!("watchdog: not built yet")))
}
