//! `sipwall sip ...`: SIP tools over `sipwall-sip`.

use crate::exit::{Failure, Outcome};
use clap::Subcommand;
use std::path::PathBuf;

/// `sipwall sip` subcommands.
#[derive(Subcommand, Debug)]
pub enum SipCommand {
    /// Parse SIP messages (one per file): the message, or a typed error.
    Parse {
        /// Files holding one SIP message each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = super::Format::Text)]
        format: super::Format,
    },
}

/// Runs a `sipwall sip` subcommand.
pub fn run(cmd: SipCommand) -> Outcome {
    match cmd {
        SipCommand::Parse { .. } => Err(Failure::failed(anyhow::anyhow!(
            "sip parse: not built yet (issue 4)"
        ))),
    }
}
