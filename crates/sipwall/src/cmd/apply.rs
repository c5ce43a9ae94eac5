//! `sipwall apply`, `confirm`, `reset`, and the detached watchdog that
//! rolls an unconfirmed apply back.

use super::policy::{Loaded, PolicyArgs};
use crate::exit::{Failure, Outcome, Success};
use anyhow::anyhow;
use clap::Args;
use sipwall_netfilter::confirm::{self, now_ms, Settled, StateLock};
use sipwall_netfilter::{trust, Firewall, NftCli, Nftables, Replaced, StateDir, Table};
use sipwall_ruleset::{Ruleset, TABLE};
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where apply keeps its state.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Directory for the previous ruleset and the confirmation markers.
    #[arg(
        long,
        env = "SIPWALL_STATE_DIR",
        default_value = "/run/sipwall",
        value_name = "DIR"
    )]
    state_dir: PathBuf,
    /// How long to wait for another sipwall command that holds the state
    /// directory's lock (an apply holds it for the seconds nft takes).
    #[arg(
        long,
        env = "SIPWALL_LOCK_WAIT",
        default_value_t = 30,
        value_name = "SECS",
        hide = true
    )]
    lock_wait: u64,
}

impl StateArgs {
    fn open(&self) -> Result<State, Failure> {
        Ok(State {
            dir: StateDir::open(&self.state_dir).map_err(Failure::failed)?,
            wait: Duration::from_secs(self.lock_wait),
        })
    }
}

/// The state directory, and how long to wait for its lock.
struct State {
    dir: StateDir,
    wait: Duration,
}

impl std::ops::Deref for State {
    type Target = StateDir;
    fn deref(&self) -> &StateDir {
        &self.dir
    }
}

/// Messages for people: on stdout, or on stderr when stdout carries JSON.
macro_rules! say {
    ($json:expr, $($t:tt)*) => {
        if $json { eprintln!($($t)*) } else { outln!($($t)*) }
    };
}

/// Arguments of `sipwall apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Roll back unless confirmed within this time (`90s`, `2m`, or seconds;
    /// at most 24h), at the prompt or with `sipwall confirm`.
    #[arg(long, value_name = "DURATION", value_parser = confirm_window)]
    confirm: Option<Duration>,
    /// Apply even if it would cut off the SSH connection this runs from.
    #[arg(long)]
    force: bool,
    /// Change nothing: show what this policy would open and close, by
    /// service, port, family and zone, against the running table.
    #[arg(long, visible_alias = "dry-run")]
    diff: bool,
    /// Output format (json: one object on stdout, messages on stderr).
    #[arg(long, value_enum, default_value_t = super::Format::Text)]
    format: super::Format,
    /// Where the applied ruleset is saved once final (confirmed, or applied
    /// without --confirm), for sipwall-firewall.service to load at boot.
    #[arg(
        long,
        env = "SIPWALL_SAVED_RULESET",
        default_value = "/var/lib/sipwall/ruleset.nft",
        value_name = "FILE"
    )]
    save: PathBuf,
    /// The daemon's ledger: bans apply does not carry over (their address
    /// is allowlisted now) are ended there, with the reason.
    #[arg(
        long,
        env = "SIPWALL_LEDGER",
        default_value = "/var/lib/sipwall/ledger.sqlite",
        value_name = "FILE"
    )]
    ledger: PathBuf,
    #[command(flatten)]
    state: StateArgs,
}

/// Arguments of `sipwall confirm`.
#[derive(Args, Debug)]
pub struct ConfirmArgs {
    #[command(flatten)]
    state: StateArgs,
}

/// Arguments of `sipwall reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Keep the ruleset saved for boot: the next boot loads sipwall's table
    /// again (without this, it is removed and the next boot loads none).
    #[arg(long)]
    keep_boot: bool,
    /// The ruleset `apply` saved for sipwall-firewall.service.
    #[arg(
        long,
        env = "SIPWALL_SAVED_RULESET",
        default_value = "/var/lib/sipwall/ruleset.nft",
        value_name = "FILE"
    )]
    save: PathBuf,
}

/// Arguments of the hidden rollback watchdog.
#[derive(Args, Debug)]
pub struct WatchdogArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The apply it guards.
    #[arg(long)]
    token: String,
}

/// Prefixes of the policy's `guard.allow` zones: never banned, so their
/// bans are not carried into the new table.
fn never_banned(policy: &sipwall_policy::Policy) -> Vec<ipnet::IpNet> {
    policy
        .guard
        .allow
        .iter()
        .filter_map(|z| policy.zone(z))
        .filter(|z| !z.is_any())
        .flat_map(|z| z.prefixes.iter().copied())
        .collect()
}

fn table_of(rs: &Ruleset, never_banned: Vec<ipnet::IpNet>) -> Table {
    Table {
        name: TABLE.to_owned(),
        text: sipwall_ruleset::nft::render(rs),
        sets: rs
            .sets
            .iter()
            .filter(|s| s.survives_replacement())
            .map(|s| {
                (
                    s.name.clone(),
                    sipwall_ruleset::nft::set_type(s.key).to_owned(),
                )
            })
            .collect(),
        never_banned,
    }
}

/// The prefix of the empty chain whose name carries the identity of the
/// policy a table was applied from. A chain, because every apply
/// recreates the chains (a table's comment is not updated in place), and
/// its name, because chain comments need Linux 5.10.
const IDENTITY_CHAIN: &str = "applied_policy_";

/// The identity of a loaded policy: FNV-1a (64 bits) of its file's text,
/// or of the policy itself where it has no file (built in, discovered).
/// It tells policies apart; it authenticates nothing (whoever can change
/// the kernel's table is root already).
fn policy_identity(loaded: &Loaded) -> String {
    let bytes = match std::fs::read(&loaded.source) {
        Ok(text) => text,
        Err(_) => format!("{:?}", loaded.policy).into_bytes(),
    };
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The table's text with the identity chain added at its end.
fn with_identity(text: &str, identity: &str) -> String {
    match text.rfind('}') {
        Some(end) => format!(
            "{}\tchain {IDENTITY_CHAIN}{identity} {{\n\t}}\n{}",
            &text[..end],
            &text[end..]
        ),
        None => text.to_owned(),
    }
}

/// The identity recorded in a table as nft lists it.
fn identity_in(listing: &str) -> Option<&str> {
    let at =
        listing.find(&format!("chain {IDENTITY_CHAIN}"))? + "chain ".len() + IDENTITY_CHAIN.len();
    let id = &listing[at..];
    let end = id
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(id.len());
    Some(&id[..end])
}

/// What `sipwall status` says about the kernel's table, with or without
/// the daemon.
#[derive(Debug, serde::Serialize)]
pub struct TableStatus {
    /// Whether `table inet sipwall` is loaded; `None` when nft could not
    /// be asked (see `error`).
    pub loaded: Option<bool>,
    /// Why the table could not be read.
    pub error: Option<String>,
    /// The policy the loaded table was applied from, when this state
    /// directory recorded that apply.
    pub policy: Option<String>,
    /// Whether the loaded table still is the one recorded (false: another
    /// tool or state directory replaced it).
    pub policy_matches: Option<bool>,
    /// When it was applied (seconds since the epoch).
    pub applied_at: Option<u64>,
    /// Seconds left before an unconfirmed apply rolls back.
    pub confirm_pending_seconds: Option<u64>,
    /// The ruleset saved for boot, if there is one.
    pub boot_ruleset: Option<String>,
    /// When that was saved (seconds since the epoch).
    pub boot_saved_at: Option<u64>,
}

fn epoch_secs(t: std::time::SystemTime) -> Option<u64> {
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The kernel's table and this host's apply state, read without the daemon.
pub fn table_status(state: &StateArgs, boot: &Path) -> TableStatus {
    let (loaded, error, live_identity) = match NftCli::default().list_table(TABLE) {
        Ok(Some(listing)) => (Some(true), None, identity_in(&listing).map(str::to_owned)),
        Ok(None) => (Some(false), None, None),
        Err(e) => (None, Some(e.to_string()), None),
    };
    let dir = StateDir::open(&state.state_dir).ok();
    let recorded = dir.as_ref().and_then(|d| d.applied_policy().ok().flatten());
    let policy_matches = match (loaded, &recorded) {
        (Some(true), Some((id, _))) => Some(live_identity.as_deref() == Some(id.as_str())),
        _ => None,
    };
    let boot_meta = std::fs::symlink_metadata(boot).ok().filter(|m| m.is_file());
    TableStatus {
        loaded,
        error,
        policy: recorded
            .filter(|_| policy_matches == Some(true))
            .map(|(_, source)| source),
        policy_matches,
        applied_at: dir
            .as_ref()
            .and_then(|d| d.applied_at())
            .and_then(epoch_secs),
        confirm_pending_seconds: dir
            .as_ref()
            .and_then(|d| d.pending().ok().flatten())
            .map(|p| (p.deadline_ms.saturating_sub(now_ms()) / 1000) as u64),
        boot_ruleset: boot_meta.as_ref().map(|_| boot.display().to_string()),
        boot_saved_at: boot_meta
            .and_then(|m| m.modified().ok())
            .and_then(epoch_secs),
    }
}

/// The text of the table `apply` last loaded (from the state directory),
/// for the daemon to load again if another tool wipes it.
pub fn applied_table(state: &StateArgs) -> Option<String> {
    StateDir::open(&state.state_dir)
        .ok()?
        .applied_table()
        .ok()
        .flatten()
}

/// Makes sure the daemon guards with the policy the kernel's table was
/// applied from: a daemon with another policy would ban, pinhole and
/// cross-check by rules the kernel does not have.
pub fn check_applied(state: &StateArgs, loaded: &Loaded) -> Result<(), Failure> {
    let ours = policy_identity(loaded);
    let listing = NftCli::default()
        .list_table(TABLE)
        .map_err(Failure::failed)?
        .unwrap_or_default();
    let Some(applied) = identity_in(&listing) else {
        eprintln!(
            "warning: table inet {TABLE} records no policy identity (applied by an older sipwall); \
             run `sipwall apply` to record it"
        );
        return Ok(());
    };
    if applied == ours {
        return Ok(());
    }
    // The source's name, if the last apply recorded this identity.
    let recorded = StateDir::open(&state.state_dir)
        .ok()
        .and_then(|d| d.applied_policy().ok().flatten())
        .filter(|(id, _)| id == applied)
        .map_or_else(|| "another policy".to_owned(), |(_, source)| source);
    Err(Failure::failed(anyhow!(
        "the ruleset in the kernel was applied from {recorded} (policy {applied}), but this daemon \
         loaded {} (policy {ours}); apply this policy first (`sipwall apply`), or run with the \
         applied one",
        loaded.source
    )))
}

/// The table to roll back to: the text sipwall applied when the live
/// table is still that one (same policy identity), else nft's listing. The
/// applied text declares the daemon's sets as the renderer does and holds
/// no elements, so a rollback keeps the sets in place: nothing the daemon
/// added or removed meanwhile is undone (the listing would re-add every
/// ban it held at apply time, also those lifted since).
fn as_applied(state: &State, live: Table) -> Result<Table, Failure> {
    let Some(text) = state.applied_table().map_err(Failure::failed)? else {
        return Ok(live);
    };
    match (identity_in(&live.text), identity_in(&text)) {
        (Some(a), Some(b)) if a == b => Ok(Table { text, ..live }),
        _ => Ok(live),
    }
}

/// Says what a replacement did with the daemon's set elements, and ends
/// the bans it did not carry in the ledger (if there is one), so that a
/// restarted daemon does not restore them.
/// Warns about other tables whose input chain can drop what sipwall
/// accepts (see `sipwall_netfilter::hooks`).
fn warn_other_filters() {
    let Ok(chains) = sipwall_netfilter::hooks::other_input_chains(&NftCli::default(), TABLE) else {
        return;
    };
    for c in chains.iter().filter(|c| c.can_drop()) {
        eprintln!(
            "warning: table {} {} also filters input (chain {}, priority {}, policy {}, {} rule(s)): a packet sipwall accepts must pass it too{}",
            c.family,
            c.table,
            c.chain,
            c.priority,
            c.policy,
            c.rules,
            if c.family == "ip" || c.family == "ip6" {
                " (iptables-nft rules live there: remove the old recipe, see docs/migrate.md)"
            } else {
                ""
            }
        );
    }
}

fn report(done: &Replaced, ledger: &Path, json: bool) {
    warn_other_filters();
    if !done.dropped.is_empty() {
        let addrs: Vec<&str> = done.dropped.iter().map(|e| e.key.as_str()).collect();
        say!(
            json,
            "not carried over: {} ban(s) of addresses the policy never bans (guard.allow, loopback): {}",
            addrs.len(),
            addrs.join(", ")
        );
        if ledger.is_file() {
            let at = now_ms().saturating_mul(1000) as u64;
            // The ledger falls back to memory rather than fail (the daemon's
            // need); a row written there would be lost, so say so instead.
            let mut l = crate::ledger::Ledger::open(ledger);
            let ended = match l.in_memory() {
                Some(why) => Err(why.to_owned()),
                None => done
                    .dropped
                    .iter()
                    .filter_map(|e| e.key.parse::<IpAddr>().ok())
                    .try_for_each(|addr| {
                        l.end(
                            addr,
                            at,
                            "allowlisted: not carried over by apply (guard.allow)",
                        )
                        .map(drop)
                    })
                    .map_err(|e| e.to_string()),
            };
            if let Err(e) = ended {
                eprintln!(
                    "warning: could not record the dropped bans in the ledger {}: {e}",
                    ledger.display()
                );
            }
        }
    }
    if !done.recreated.is_empty() {
        say!(
            json,
            "sets recreated with new settings, their elements copied from a listing \
             (what the daemon added in that moment is lost): {}",
            done.recreated.join(", ")
        );
    }
}

/// Restores the table recorded before the last apply (under the lock).
fn restore(state: &StateDir, _: &StateLock) -> Result<(), Failure> {
    let fw = Firewall::new(NftCli::default());
    match state.previous(TABLE).map_err(Failure::failed)? {
        Some(Some(table)) => fw.replace(&table).map(drop).map_err(Failure::failed),
        Some(None) => fw.remove(TABLE).map(drop).map_err(Failure::failed),
        None => Err(Failure::failed(anyhow!(
            "no previous ruleset recorded in {}",
            state.path().display()
        ))),
    }
}

/// Takes the state directory's lock for `command`, saying whom it waits for.
fn lock(state: &State, command: &str) -> Result<StateLock, Failure> {
    state
        .lock(command, state.wait, |holder| {
            eprintln!(
                "waiting for {holder} to finish (lock {}/lock)",
                state.path().display()
            );
        })
        .map_err(Failure::failed)
}

/// Deals with an apply that still awaits confirmation before another one
/// may change the table: within its window this one is refused (applying
/// over it would let its watchdog roll this one back); past its deadline
/// nobody rolled it back (its watchdog died, or waits for this lock), so
/// it is rolled back here first, as its watchdog would have.
fn settle_pending(state: &State, lock: &StateLock) -> Result<(), Failure> {
    let Some(p) = state.pending().map_err(Failure::failed)? else {
        return Ok(());
    };
    let now = now_ms();
    if now < p.deadline_ms {
        let pid = p
            .pid()
            .map_or_else(String::new, |pid| format!(" (pid {pid})"));
        return Err(Failure::failed(anyhow!(
            "refusing to apply: the apply {}{pid} awaits confirmation for another {:.1} s, and its \
             rollback would undo this one; run `sipwall confirm` to keep it, or let it roll back, \
             then apply again (nothing was changed)",
            p.token,
            (p.deadline_ms - now) as f64 / 1000.0
        )));
    }
    if state
        .claim_rollback(lock, &p.token)
        .map_err(Failure::failed)?
    {
        restore(state, lock)?;
        outln!(
            "rolled back the unconfirmed apply {} (its deadline had passed) before applying",
            p.token
        );
    }
    Ok(())
}

/// The confirm window: 1 s to 24 h.
fn confirm_window(text: &str) -> Result<Duration, String> {
    let d = sipwall_control::parse_duration(text)?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(86_400) {
        return Err(format!("{text} is outside 1s..24h"));
    }
    Ok(d)
}

/// Applies a policy, optionally awaiting confirmation.
pub fn apply(a: ApplyArgs) -> Outcome {
    let loaded = a.policy.load()?;
    let rs = sipwall_ruleset::compile(&loaded.policy, &loaded.source);
    let mut table = table_of(&rs, never_banned(&loaded.policy));
    let identity = policy_identity(&loaded);
    table.text = with_identity(&table.text, &identity);
    if !a.force && !a.diff {
        let refused = super::safety::refusals(&rs, &table.text, true);
        if !refused.is_empty() {
            return Err(Failure::failed(anyhow!(
                "refusing to apply (--force applies anyway):\n  {}",
                refused.join("\n  ")
            )));
        }
    }
    let json = a.format == super::Format::Json;
    if a.diff {
        let running = NftCli::default()
            .list_table(TABLE)
            .map_err(Failure::failed)?;
        let preview = super::preview::preview(running.as_deref(), &table.text, &loaded.policy)
            .map_err(|e| Failure::failed(anyhow!(e)))?;
        if json {
            outln!(
                "{}",
                serde_json::json!({ "applied": false, "source": loaded.source, "preview": preview })
            );
        } else {
            out!("{}", preview.text());
        }
        return Ok(Success::Clean);
    }
    let state = a.state.open()?;
    // Refused before anything changes, rather than after the apply.
    trust::dir(&trust::parent_of(&a.save))
        .map_err(|e| Failure::failed(anyhow!("cannot save the ruleset for boot: {e}")))?;
    let command = match a.confirm {
        Some(window) => format!("apply --confirm {}", humantime::format_duration(window)),
        None => "apply".to_owned(),
    };
    let held = lock(&state, &command)?;
    settle_pending(&state, &held)?;
    let fw = Firewall::new(NftCli::default());
    fw.check(&table).map_err(Failure::failed)?;
    let previous = fw.current(TABLE).map_err(Failure::failed)?;
    // Judged against what the kernel runs, before anything changes.
    let preview = super::preview::preview(
        previous.as_ref().map(|t| t.text.as_str()),
        &table.text,
        &loaded.policy,
    );
    let previous = previous.map(|live| as_applied(&state, live)).transpose()?;
    state
        .save_previous(&held, previous.as_ref())
        .map_err(Failure::failed)?;
    state
        .set_applied_policy(&held, &identity, &loaded.source)
        .map_err(Failure::failed)?;
    let script = sipwall_ruleset::nft::replace_script(&table.text, "");

    let Some(window) = a.confirm else {
        let done = fw.replace(&table).map_err(Failure::failed)?;
        state
            .set_applied_table(&held, &table.text)
            .map_err(Failure::failed)?;
        save(&a.save, &script)?;
        report(&done, &a.ledger, json);
        say!(
            json,
            "applied {} (table inet {TABLE}); previous state saved in {}; saved for boot in {}",
            loaded.source,
            state.path().display(),
            a.save.display()
        );
        summary(&preview, &loaded.source, &a.save, json);
        return Ok(Success::Clean);
    };

    // The watchdog starts before the new rules do, so that whatever happens
    // to this process afterwards, an unconfirmed apply is rolled back.
    let pending = state.begin(&held, window).map_err(Failure::failed)?;
    state
        .set_boot(&held, &a.save, &script)
        .map_err(Failure::failed)?;
    let watchdog = spawn_watchdog(&state, &pending.token);
    match fw.replace(&table) {
        Ok(done) => {
            state
                .set_applied_table(&held, &table.text)
                .map_err(Failure::failed)?;
            report(&done, &a.ledger, json)
        }
        Err(e) => {
            let _ = state.claim_rollback(&held, &pending.token);
            return Err(Failure::failed(e));
        }
    }
    drop(held);
    match &watchdog {
        Ok(how) => say!(json, "rollback watchdog: {how}"),
        Err(e) => {
            eprintln!("warning: no rollback watchdog ({e}); this process will roll back itself")
        }
    }
    say!(
        json,
        "applied {} (table inet {TABLE}); rolling back in {} unless confirmed",
        loaded.source,
        humantime::format_duration(window)
    );
    // What changed is shown before the question, so it can be answered.
    if !json {
        if let Ok(p) = &preview {
            out!("{}", p.text());
        }
    }
    let outcome = wait_for_confirmation(&state, &pending.token, pending.deadline_ms, json);
    if json {
        let kept = outcome.is_ok();
        outln!(
            "{}",
            serde_json::json!({
                "applied": kept,
                "source": loaded.source,
                "confirmed": kept,
                "preview": preview.as_ref().ok(),
            })
        );
    }
    outcome
}

/// `apply`'s last words: what it opened and closed (text), or the whole
/// outcome as one JSON object.
fn summary(
    preview: &Result<super::preview::Preview, String>,
    source: &str,
    saved: &Path,
    json: bool,
) {
    match (preview, json) {
        (Ok(p), false) => out!("{}", p.text()),
        (Err(e), false) => eprintln!("warning: no summary of the change: {e}"),
        (p, true) => outln!(
            "{}",
            serde_json::json!({
                "applied": true,
                "source": source,
                "saved": saved.display().to_string(),
                "preview": p.as_ref().ok(),
            })
        ),
    }
}

/// Saves the final ruleset (a script that loads it on an empty kernel as
/// well as over an older sipwall table: what the boot unit runs). The
/// directory must be root's; the file is replaced, never written through.
fn save(path: &Path, script: &str) -> Result<(), Failure> {
    let write = || -> Result<(), sipwall_netfilter::NetfilterError> {
        trust::dir(&trust::parent_of(path))?;
        trust::write(path, script.as_bytes(), 0o600)
    };
    write().map_err(|e| {
        Failure::failed(anyhow!(
            "the ruleset is applied but could not be saved for boot in {}: {e}",
            path.display()
        ))
    })
}

/// Confirms the pending apply and saves its ruleset for boot, under the
/// lock: the one process that wins the confirmation saves, so a later
/// apply's saved ruleset is never overwritten by an earlier one's.
fn confirm_and_save(state: &State) -> Result<bool, Failure> {
    let held = lock(state, "confirm")?;
    if !state.confirm(&held).map_err(Failure::failed)? {
        return Ok(false);
    }
    if let Some((target, script)) = state.take_boot(&held).map_err(Failure::failed)? {
        save(&target, &script)?;
        outln!("saved for boot in {}", target.display());
    }
    Ok(true)
}

/// Whether this process shares the network namespace of PID 1 (a
/// systemd unit would run there, not in this one).
fn in_init_netns() -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata("/proc/self/ns/net"),
        std::fs::metadata("/proc/1/ns/net"),
    ) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// The transient unit that runs the watchdog: a service of the system
/// manager, in no user's session, so logind's KillUserProcesses (or the
/// end of the SSH session) does not reach it; collected once it exits.
fn systemd_run(unit: &str, exe: &Path, watchdog: &[&std::ffi::OsStr]) -> std::process::Command {
    let mut c = std::process::Command::new("systemd-run");
    c.args(["--unit", unit, "--collect", "--quiet", "--"])
        .arg(exe)
        .args(watchdog);
    c
}

/// Starts the rollback watchdog outside this login session: a transient
/// systemd unit where systemd runs (logind's KillUserProcesses cannot
/// reach it), else a process in a session of its own. Returns how.
fn spawn_watchdog(state: &State, token: &str) -> std::io::Result<String> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    // The watchdog may run elsewhere than here (a unit runs in /).
    let dir = std::fs::canonicalize(state.path())?;
    let args: [&std::ffi::OsStr; 5] = [
        "__rollback-watchdog".as_ref(),
        "--state-dir".as_ref(),
        dir.as_os_str(),
        "--token".as_ref(),
        token.as_ref(),
    ];
    if Path::new("/run/systemd/system").is_dir() && in_init_netns() {
        let unit = format!("sipwall-rollback-{token}");
        let out = systemd_run(&unit, &exe, &args)
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => return Ok(format!("systemd unit {unit}.service")),
            Ok(o) => eprintln!(
                "warning: systemd-run failed ({}); the watchdog runs in a session of its own instead",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!(
                "warning: cannot run systemd-run ({e}); the watchdog runs in a session of its own instead"
            ),
        }
    }
    let mut child = Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    // It says "ready" once it has left this session: from then on, the
    // end of the session (hang-up, kill of the process group) misses it.
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufReader::new(out).read_line(&mut line)?;
    }
    if line.trim() != "ready" {
        return Err(std::io::Error::other("the watchdog did not start"));
    }
    Ok(format!("pid {}, in a session of its own", child.id()))
}

fn wait_for_confirmation(state: &State, token: &str, deadline_ms: u128, json: bool) -> Outcome {
    let (tx, rx) = std::sync::mpsc::channel();
    if std::io::stdin().is_terminal() {
        say!(
            json,
            "Keep it? Type \"yes\" and Enter (or run `sipwall confirm` from another shell); \"no\" rolls back now."
        );
        std::thread::spawn(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                let answer = match line.trim() {
                    "yes" | "y" => true,
                    "no" | "n" => false,
                    _ => {
                        line.clear();
                        continue;
                    }
                };
                let _ = tx.send(answer);
                return;
            }
        });
    } else {
        say!(json, "Waiting for `sipwall confirm`.");
    }
    loop {
        match rx.try_recv() {
            Ok(true) => {
                confirm_and_save(state)?;
            }
            Ok(false) => {
                let held = lock(state, "apply (rollback: answered no)")?;
                if state
                    .claim_rollback(&held, token)
                    .map_err(Failure::failed)?
                {
                    restore(state, &held)?;
                    return Err(Failure::failed(anyhow!(
                        "not kept: rolled back to the previous ruleset"
                    )));
                }
                // The watchdog or `sipwall confirm` settled it first: report that below.
            }
            Err(_) => {}
        }
        match state.settled(token).map_err(Failure::failed)? {
            Settled::Confirmed => {
                say!(json, "confirmed: the new ruleset stays");
                return Ok(Success::Clean);
            }
            Settled::RolledBack => {
                // The watchdog restores under the lock: once it is free, it is done.
                drop(lock(state, "apply (awaiting the rollback)")?);
                return Err(Failure::failed(anyhow!(
                    "not confirmed in time: rolled back to the previous ruleset"
                )));
            }
            Settled::Cancelled => {
                return Err(Failure::failed(anyhow!(
                    "`sipwall reset` removed the table meanwhile: nothing to confirm"
                )))
            }
            Settled::Superseded => return Err(Failure::failed(anyhow!("another apply took over"))),
            Settled::Pending => {}
        }
        // Belt and braces: if no watchdog acted shortly after the deadline, roll back here.
        if now_ms() > deadline_ms + 2_000 {
            let held = lock(state, "apply (rollback: no watchdog acted)")?;
            if state
                .claim_rollback(&held, token)
                .map_err(Failure::failed)?
            {
                restore(state, &held)?;
                return Err(Failure::failed(anyhow!(
                    "not confirmed in time: rolled back to the previous ruleset"
                )));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Confirms a pending apply.
pub fn confirm(a: ConfirmArgs) -> Outcome {
    let state = a.state.open()?;
    if confirm_and_save(&state)? {
        outln!("confirmed");
        Ok(Success::Clean)
    } else {
        Err(Failure::failed(anyhow!(
            "nothing to confirm: no apply awaits confirmation"
        )))
    }
}

/// Removes sipwall's table, and cancels a pending rollback (which would
/// otherwise bring it back).
pub fn reset(a: ResetArgs) -> Outcome {
    let state = a.state.open()?;
    let held = lock(&state, "reset")?;
    if state.cancel(&held).map_err(Failure::failed)? {
        // A reset is not a confirmation: nothing is saved for boot.
        let _ = state.take_boot(&held);
        outln!("cancelled the pending apply's rollback");
    }
    let fw = Firewall::new(NftCli::default());
    if fw.remove(TABLE).map_err(Failure::failed)? {
        outln!("removed table inet {TABLE}");
    } else {
        outln!("table inet {TABLE} was not loaded: nothing to remove");
    }
    let boot = a.save.display();
    if a.keep_boot {
        if a.save.exists() {
            outln!("kept the boot ruleset {boot}: the next boot loads sipwall's table again");
        } else {
            outln!("no boot ruleset at {boot}: the next boot loads no sipwall table");
        }
        return Ok(Success::Clean);
    }
    // Removing the name never follows a link, but the folder must be root's:
    // otherwise someone else could have put anything there.
    trust::dir(&trust::parent_of(&a.save))
        .map_err(|e| Failure::failed(anyhow!("cannot remove the boot ruleset: {e}")))?;
    match std::fs::remove_file(&a.save) {
        Ok(()) => outln!("removed the boot ruleset {boot}: the next boot loads no sipwall table"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            outln!("no boot ruleset at {boot}: the next boot loads no sipwall table")
        }
        Err(e) => {
            return Err(Failure::failed(anyhow!(
                "table removed, but the boot ruleset {boot} could not be: {e}"
            )))
        }
    }
    Ok(Success::Clean)
}

/// The detached watchdog: rolls the apply `token` back at its deadline
/// unless it was confirmed (or superseded) first.
pub fn watchdog(a: WatchdogArgs) -> Outcome {
    // Under systemd it already is a session leader's child of its own
    // unit; setsid fails then, harmlessly.
    let _ = confirm::detach_session();
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "ready").and_then(|()| out.flush());
    }
    let state = a.state.open()?;
    loop {
        let Some(p) = state.pending().map_err(Failure::failed)? else {
            return Ok(Success::Clean);
        };
        if p.token != a.token {
            return Ok(Success::Clean);
        }
        let now = now_ms();
        if now >= p.deadline_ms {
            // An apply holds the lock for seconds; the rollback must happen.
            let held = state
                .lock("rollback watchdog", Duration::from_secs(3600), |_| {})
                .map_err(Failure::failed)?;
            if state
                .claim_rollback(&held, &a.token)
                .map_err(Failure::failed)?
            {
                restore(&state, &held)?;
            }
            return Ok(Success::Clean);
        }
        let wait = (p.deadline_ms - now).min(200) as u64;
        std::thread::sleep(Duration::from_millis(wait));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_systemd_the_watchdog_is_a_transient_system_unit() {
        let c = systemd_run(
            "sipwall-rollback-1-2",
            Path::new("/usr/sbin/sipwall"),
            &[
                "__rollback-watchdog".as_ref(),
                "--token".as_ref(),
                "1-2".as_ref(),
            ],
        );
        assert_eq!(c.get_program(), "systemd-run");
        let args: Vec<_> = c.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(
            args,
            [
                "--unit",
                "sipwall-rollback-1-2",
                "--collect",
                "--quiet",
                "--",
                "/usr/sbin/sipwall",
                "__rollback-watchdog",
                "--token",
                "1-2"
            ]
        );
        // Not --user (that manager ends with the user's last session), not
        // --scope (the watchdog would stay in this terminal's session).
        assert!(!args.iter().any(|a| a == "--user" || a == "--scope"));
    }

    #[test]
    fn the_identity_chain_reads_back_from_a_listing() {
        let text = with_identity("table inet sipwall {\n\tchain input {\n\t}\n}\n", "00ff");
        assert!(
            text.ends_with("\tchain applied_policy_00ff {\n\t}\n}\n"),
            "{text}"
        );
        assert_eq!(identity_in(&text), Some("00ff"));
        assert_eq!(identity_in("table inet sipwall {\n}\n"), None);
    }
}
