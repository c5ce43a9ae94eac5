//! `sipwall`: the command-line front of the sipwall crates.
//!
//! This binary is deliberately thin: every command parses its arguments
//! (`cmd/`), calls into a library crate (`sipwall-policy`,
//! `sipwall-ruleset`, `sipwall-audit`, `sipwall-engine`, `sipwall-netfilter`,
//! `sipwall-sip`, `sipwall-freeswitch`, `sipwall-control`) and maps the
//! outcome onto one exit-code contract (`exit`): 0 ok, 1 findings or a
//! failed operation, 2 bad usage or bad input, 3 `status` with no daemon.
//!
//! What lives here and nowhere else: the daemon (`daemon/`: threads that
//! read the kernel and the event socket, one loop that owns the engine),
//! the ledger of bans (SQLite, degrading to memory), the capture reader for
//! `replay`, and the edges: miette reports, logfmt/JSON logs, metrics. The
//! map of the whole house is `docs/architecture.md`.

/// `print!` for command output: when the reader of stdout has gone
/// (`sipwall compile | head`), the process ends quietly, as `cat` does,
/// where `print!` would panic with a backtrace.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout().lock(), $($t)*) {
            crate::exit::stdout_failed(e)
        }
    }};
}

/// `println!` for command output; see [`out!`].
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($t)*) {
            crate::exit::stdout_failed(e)
        }
    }};
}

mod capture;
mod cmd;
mod control;
mod daemon;
mod discovered_policy;
mod exit;
mod explain;
mod hep;
mod http;
mod last_good;
mod ledger;
mod logfmt;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// A SIP-aware firewall for VoIP servers (FreeSWITCH first).
#[derive(Parser, Debug)]
#[command(name = "sipwall", version, about, long_about = None)]
struct Cli {
    /// The policy file, for every command that reads one (also accepted
    /// after the command name; see `sipwall check --help` for the default).
    // clap hands a global value down to the commands' own `-c`, which is
    // where it is read; this field only makes `sipwall -c FILE CMD` parse.
    #[arg(
        id = "config",
        short = 'c',
        long = "config",
        value_name = "FILE",
        global = true
    )]
    _config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Discover FreeSWITCH, write /etc/sipwall/sipwall.toml and the ESL password file, optionally apply and enable.
    Init(cmd::init::InitArgs),
    /// Validate a policy; errors as `file:line:col: message`.
    Check(cmd::policy::CheckArgs),
    /// Print the ruleset, commented with where each rule comes from.
    Compile(cmd::policy::CompileArgs),
    /// Apply the ruleset atomically, rolled back unless confirmed in time.
    Apply(cmd::apply::ApplyArgs),
    /// Confirm a pending `apply --confirm` from another shell.
    Confirm(cmd::apply::ConfirmArgs),
    /// Remove sipwall's table and nothing else.
    Reset(cmd::apply::ResetArgs),
    /// Internal: the detached watchdog that rolls back an unconfirmed apply.
    #[command(hide = true, name = "__rollback-watchdog")]
    RollbackWatchdog(cmd::apply::WatchdogArgs),
    /// The guard daemon: bans attackers and opens media pinholes in the kernel.
    Run(daemon::RunArgs),
    /// The running daemon's bans.
    #[command(subcommand)]
    Bans(cmd::control::BansCommand),
    /// Bring bans over from another tool.
    #[command(subcommand)]
    Import(cmd::import::ImportCommand),
    /// The running daemon's counters and state.
    Status(cmd::control::StatusArgs),
    /// The running daemon's open media pinholes.
    Calls(cmd::control::ListArgs),
    /// A live terminal view of the running daemon: traffic, bans, pinholes, ESL.
    Top(cmd::top::TopArgs),
    /// SIP tools.
    #[command(subcommand)]
    Sip(cmd::sip::SipCommand),
    /// Read a configuration and list the services that really listen.
    #[command(subcommand)]
    Discover(cmd::discover::DiscoverCommand),
    /// Findings for an existing ruleset and a FreeSWITCH configuration.
    Audit(cmd::audit::AuditArgs),
    /// The guard engine over pcap/pcapng captures, packet by packet.
    Replay(cmd::replay::ReplayArgs),
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions(cmd::manual::CompletionsArgs),
    /// Internal: write the man pages into a folder (for packaging).
    #[command(hide = true, name = "__man-pages")]
    ManPages(cmd::manual::ManPagesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Init(a) => cmd::init::init(a),
        Command::Check(a) => cmd::policy::check(a),
        Command::Compile(a) => cmd::policy::compile(a),
        Command::Apply(a) => cmd::apply::apply(a),
        Command::Confirm(a) => cmd::apply::confirm(a),
        Command::Reset(a) => cmd::apply::reset(a),
        Command::RollbackWatchdog(a) => cmd::apply::watchdog(a),
        Command::Sip(c) => cmd::sip::run(c),
        Command::Run(a) => daemon::run(a),
        Command::Bans(c) => cmd::control::bans(c),
        Command::Import(c) => cmd::import::run(c),
        Command::Status(a) => cmd::control::status(a),
        Command::Calls(a) => cmd::control::calls(a),
        Command::Top(a) => cmd::top::run(a),
        Command::Discover(c) => cmd::discover::run(c),
        Command::Audit(a) => cmd::audit::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Completions(a) => cmd::manual::completions(a, Cli::command()),
        Command::ManPages(a) => cmd::manual::man_pages(a, Cli::command()),
    };
    exit::report(outcome)
}
