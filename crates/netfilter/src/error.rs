//! Errors of talking to the kernel.

use std::path::PathBuf;

/// Why a kernel operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetfilterError {
    /// The `nft` program could not be started.
    #[error("cannot run {program}: {source} (is the nftables package installed?)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// nft refused a script; the running ruleset is unchanged.
    #[error("nft refused the ruleset (the running ruleset is unchanged):\n{stderr}")]
    Rejected {
        /// What nft said.
        stderr: String,
    },
    /// nft answered something this crate cannot read.
    #[error("unexpected output from nft: {0}")]
    Unreadable(String),
    /// A netlink conversation with the kernel failed.
    #[error("netlink: {0}")]
    Netlink(String),
    /// A file of the state directory could not be used.
    #[error("{path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A path root was asked to write to is not safe to trust.
    #[error("{path}: refusing to use it: {why}")]
    Untrusted {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Another sipwall command holds the state directory's lock.
    #[error(
        "{path} is locked by {holder}; waited {waited_secs} s, giving up (retry when it is done)"
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as it recorded itself.
        holder: String,
        /// How long this command waited.
        waited_secs: u64,
    },
}
