//! The exit-code contract (DESIGN.md): 0 ok, 1 findings or a failed
//! operation, 2 bad usage or bad input; `status` alone adds 3, the daemon
//! is not running.

use std::fmt;
use std::process::ExitCode;

/// What a command reports when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// Everything was fine.
    Clean,
    /// The command worked, and what it found deserves exit code 1.
    Findings,
    /// `status`: the report is complete, but the daemon is not running:
    /// exit code 3, as `systemctl status` (LSB "program is not running").
    Inactive,
}

/// Why a command stopped, and so which exit code it gets.
#[derive(Debug)]
pub enum Failure {
    /// The user's input (a policy, a file, an argument) is wrong: exit 2.
    BadInput(anyhow::Error),
    /// The input was fine but the operation failed: exit 1.
    Failed(anyhow::Error),
}

impl Failure {
    /// Wraps an error caused by the user's input.
    pub fn bad_input(e: impl Into<anyhow::Error>) -> Self {
        Failure::BadInput(e.into())
    }
    /// Wraps an error of the operation itself.
    pub fn failed(e: impl Into<anyhow::Error>) -> Self {
        Failure::Failed(e.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput(e) | Failure::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

/// The result every command returns.
pub type Outcome = Result<Success, Failure>;

/// Prints a failure on stderr and turns the outcome into the process exit code.
pub fn report(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(Success::Clean) => ExitCode::SUCCESS,
        Ok(Success::Findings) => ExitCode::from(1),
        Ok(Success::Inactive) => ExitCode::from(3),
        Err(f) => {
            eprintln!("{f}");
            match f {
                Failure::BadInput(_) => ExitCode::from(2),
                Failure::Failed(_) => ExitCode::from(1),
            }
        }
    }
}

/// Command output could not be written: a reader that went away (a
/// closed pipe) ends the process quietly with success, as `cat` does;
/// anything else (a full disk) is said on stderr, exit 1.
pub fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("cannot write the output: {e}");
    std::process::exit(1)
}
