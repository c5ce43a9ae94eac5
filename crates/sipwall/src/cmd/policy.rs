//! `sipwall check` and `sipwall compile`.

use crate::exit::{Failure, Outcome};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `sipwall check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The policy file (default: /etc/sipwall/sipwall.toml, else built-in).
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
}

/// Arguments of `sipwall compile`.
#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The policy file (default: /etc/sipwall/sipwall.toml, else built-in).
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
}

/// Validates a policy.
pub fn check(_a: CheckArgs) -> Outcome {
    Err(Failure::failed(anyhow::anyhow!("check: not built yet")))
}

/// Prints the compiled ruleset.
pub fn compile(_a: CompileArgs) -> Outcome {
    Err(Failure::failed(anyhow::anyhow!("compile: not built yet")))
}
