//! `sipwall run`: the guard daemon. It feeds the engine with copies of
//! the SIP signalling the kernel accepted (the tap: NFLOG groups), and
//! carries the engine's actions out: set elements through netlink, rows in
//! the ledger, log lines.
//!
//! ```text
//!   kernel ─(log group / queue N, N+1)─► reader thread ─► channel ─► Engine ─► actions
//!                                                              │         ├─► SetWriter (bans, pinholes)
//!   ledger ─(unexpired bans at start)──────────────────────────┘         └─► Ledger, logs
//! ```
//!
//! A crash loses nothing: bans are kernel set elements with their own
//! timeouts and ledger rows; a restarted daemon restores the unexpired
//! ones (re-adding an element only refreshes it, so nothing is duplicated).
//! Bans of addresses allowlisted since (`guard.allow`, loopback) are lifted
//! at restore, with the ledger saying why.
//!
//! Storage faults never stop the guard (systemd would restart it into the
//! same fault): the ledger moves aside or into memory (see
//! [`crate::ledger`]), an element the kernel refuses is logged and skipped,
//! and repeated errors reach the log at a bounded rate.

mod control;
mod crosscheck;
mod esl;
mod heal;
mod intake;
mod kernel;
mod log_limit;
mod metrics;

use crate::cmd::policy::PolicyArgs;
use crate::exit::{Failure, Outcome, Success};
use crate::ledger::{Ledger, LedgerBan};
use anyhow::{anyhow, Context as _};
use clap::Args;
use sipwall_engine::remote_text::printable;
use sipwall_engine::{Action, BanReason, Direction, Engine, Timestamp};
use sipwall_netfilter::{NflogReader, PacketQueue, SetWriter};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Arguments of `sipwall run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    state: crate::cmd::apply::StateArgs,
    /// The ledger of bans (SQLite).
    #[arg(
        long,
        env = "SIPWALL_LEDGER",
        default_value = "/var/lib/sipwall/ledger.sqlite",
        value_name = "FILE"
    )]
    ledger: PathBuf,
    /// How log lines look (stderr, the journal under systemd).
    #[arg(long, value_enum, default_value_t = crate::logfmt::LogFormat::Logfmt)]
    log_format: crate::logfmt::LogFormat,
    /// How SIP reaches the daemon: copies (tap) or held for a verdict (inline).
    #[arg(long, value_enum, default_value_t = IntakeMode::Tap)]
    mode: IntakeMode,
    /// Inline: drop SIP while no daemon reads the queue (default: let it pass).
    #[arg(long)]
    fail_closed: bool,
    /// NFLOG group / NFQUEUE number of arriving SIP; the next one carries
    /// the host's own SIP.
    #[arg(long, default_value_t = 47)]
    group: u16,
    #[command(flatten)]
    control: crate::control::SocketArgs,
    /// FreeSWITCH's event socket (`host:port`), for pinholes of encrypted
    /// calls and registration outcomes; off unless given.
    #[arg(long, value_name = "HOST:PORT")]
    esl: Option<String>,
    /// The file holding the event socket's password (required with --esl).
    #[arg(
        long,
        env = "SIPWALL_ESL_PASSWORD_FILE",
        default_value = "/etc/sipwall/esl.password",
        value_name = "FILE"
    )]
    esl_password_file: PathBuf,
    /// How often FreeSWITCH's listening SIP ports are compared with the
    /// policy over the event socket (`sofia xmlstatus`), e.g. `60s`.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_crosscheck_every)]
    esl_crosscheck_every: Duration,
    /// Where to serve Prometheus metrics (`off` to disable).
    #[arg(long, default_value = "127.0.0.1:9780", value_name = "ADDR:PORT|off")]
    metrics: String,
}

/// `--esl-crosscheck-every`: a duration of at least a second, so that the
/// check cannot turn into a stream of requests to FreeSWITCH.
fn parse_crosscheck_every(s: &str) -> Result<Duration, String> {
    let d = sipwall_control::parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!("{s:?} is less than 1s"));
    }
    Ok(d)
}

/// `--mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntakeMode {
    /// NFLOG copies: the kernel decides alone, bans follow within microseconds.
    Tap,
    /// NFQUEUE: every SIP packet waits for the engine's verdict.
    Inline,
}

/// What wakes the daemon's loop.
enum Input {
    /// A packet copy from the tap.
    Packet(sipwall_netfilter::Logged),
    /// Packets held in a queue (queue number, packet): answer on the verdict
    /// channel, one verdict per packet in order (true: accept).
    Queued(Vec<(u16, Vec<u8>)>),
    /// A request on the control socket, and where to answer.
    Control(
        crate::control::Request,
        std::sync::mpsc::Sender<crate::control::Response>,
    ),
    /// A FreeSWITCH event (decoded headers).
    Event(Vec<(String, String)>),
    /// The event socket connected (true) or went away (false).
    EslState(bool),
    /// What FreeSWITCH says it listens on (`sofia xmlstatus`).
    EslListening(Vec<sipwall_freeswitch::esl::Listening>),
}

/// Now, as engine time: microseconds since the Unix epoch (so that the
/// ledger's times and the engine's agree across restarts).
fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_micros(d.as_micros() as u64)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(a: RunArgs) -> Outcome {
    crate::logfmt::init(a.log_format);
    // Paths before anything else: a control directory others can write is
    // refused before the daemon touches the kernel.
    control::check_dir(&a.control.path).map_err(Failure::bad_input)?;
    let loaded = a.policy.load()?;
    let mut engine = Engine::new(&loaded.policy, &loaded.source);
    // Source rotation: many bans inside one prefix ban the prefix, one
    // interval element of ban_net_v4/v6 (the sets apply declares).
    engine.aggregate_prefixes(sipwall_engine::bans::PrefixPolicy::from(
        &loaded.policy.bans,
    ));
    let fw = sipwall_netfilter::Firewall::new(sipwall_netfilter::NftCli::default());
    if fw
        .current(sipwall_ruleset::TABLE)
        .map_err(Failure::failed)?
        .is_none()
    {
        return Err(Failure::failed(anyhow!(
            "table inet {} is not loaded: run `sipwall apply` first",
            sipwall_ruleset::TABLE
        )));
    }
    crate::cmd::apply::check_applied(&a.state, &loaded)?;
    let mut ledger = Ledger::open(&a.ledger);
    let retention = loaded.policy.ledger.retention;
    let mut counters = metrics::DaemonCounters::default();
    prune(&mut ledger, retention, now(), &mut counters);
    let mut sets =
        kernel::KernelSets::new(SetWriter::open(sipwall_ruleset::TABLE).map_err(Failure::failed)?);

    let (tx, rx) = std::sync::mpsc::sync_channel(65_536);
    // Listen before the restore: a request waits in the channel until the
    // loop runs, and nobody who sees a restored ban finds no socket.
    control::listen(&a.control.path, tx.clone()).map_err(Failure::failed)?;
    if let Err(e) = restore(&mut engine, &mut ledger, &mut sets, &mut counters) {
        // Guarding without the old bans beats not guarding at all.
        counters.kernel_errors += 1;
        tracing::error!(error = %e, "restoring bans failed: guarding without them");
    }

    let (group_in, group_out) = (a.group, a.group.wrapping_add(1));
    let mode = match a.mode {
        IntakeMode::Tap => intake::Mode::Tap,
        IntakeMode::Inline => intake::Mode::Inline {
            fail_open: !a.fail_closed,
        },
    };
    // Copies lost between the kernel and the daemon (NFLOG overruns).
    let lost = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (verdict_tx, verdict_rx) = std::sync::mpsc::channel::<Vec<bool>>();
    // Bind before the rules exist, so no packet finds nobody listening.
    match mode {
        intake::Mode::Tap => {
            let mut reader = NflogReader::open(&[group_in, group_out]).map_err(Failure::failed)?;
            let packets = tx.clone();
            let lost = Arc::clone(&lost);
            std::thread::spawn(move || loop {
                match reader.recv() {
                    Ok(batch) => {
                        if batch
                            .into_iter()
                            .any(|l| packets.send(Input::Packet(l)).is_err())
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
        }
        intake::Mode::Inline { fail_open } => {
            let mut queue =
                PacketQueue::open(&[group_in, group_out], fail_open).map_err(Failure::failed)?;
            let packets = tx.clone();
            std::thread::spawn(move || loop {
                let held = match queue.recv_burst(128) {
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
                if packets.send(Input::Queued(batch)).is_err() {
                    return;
                }
                // The main loop answers every Queued input exactly once.
                let verdicts = verdict_rx.recv().unwrap_or_default();
                for (i, p) in held.into_iter().enumerate() {
                    if let Err(e) = queue.verdict(p, verdicts.get(i).copied().unwrap_or(true)) {
                        tracing::warn!(error = %e, "nfqueue verdict");
                    }
                }
            });
        }
    }
    let mut installed =
        intake::install(&loaded.policy, mode, group_in, group_out).map_err(Failure::failed)?;
    tracing::info!(policy = %loaded.source, group_in, group_out, mode = ?a.mode, "sipwall run: guarding");

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(Failure::failed)?;
    }
    if let Some(addr) = &a.esl {
        esl::spawn(
            esl::EslConfig {
                addr: addr.clone(),
                password_file: a.esl_password_file.clone(),
                crosscheck_every: a.esl_crosscheck_every,
            },
            tx.clone(),
        );
    }
    drop(tx);
    let started = now();
    let page = metrics::Page::default();
    if a.metrics != "off" {
        let addr = a
            .metrics
            .parse()
            .map_err(|e| Failure::bad_input(anyhow!("--metrics {:?}: {e}", a.metrics)))?;
        metrics::serve(addr, page.clone())
            .with_context(|| format!("serving metrics on {}", a.metrics))
            .map_err(Failure::failed)?;
    }
    let mut crosscheck = crosscheck::Crosscheck::default();
    let mut page_at = Timestamp::default();
    let mut pruned_at = now();
    let mut healed_at = now();
    let applied_text = crate::cmd::apply::applied_table(&a.state);

    while !stop.load(Ordering::Relaxed) {
        let t = now();
        let wait = engine
            .poll_timeout()
            .map_or(Duration::from_millis(500), |d| d.since(t))
            .min(Duration::from_millis(500));
        let mut received = None;
        let mut first = match rx.recv_timeout(wait) {
            Ok(input) => Some(input),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        // Take what queued up meanwhile too, before touching the kernel.
        while let Some(input) = first.take().or_else(|| rx.try_recv().ok()) {
            let t = now();
            match input {
                Input::Packet(logged) => {
                    received.get_or_insert(t);
                    let dir = direction(logged.group, group_in);
                    engine.handle(t, dir, &logged.packet);
                }
                Input::Control(req, reply) => {
                    // Earlier packets' actions first, so that answers are current.
                    carry_out(
                        &mut engine,
                        &mut ledger,
                        &mut sets,
                        &mut counters,
                        t,
                        received.unwrap_or(t),
                    );
                    let ctx = control::Context {
                        source: &loaded.source,
                        started,
                        ledger: &ledger,
                        esl_connected: counters.esl_connected,
                        crosscheck: &crosscheck,
                    };
                    let answer = control::handle(&mut engine, &ctx, t, req);
                    carry_out(&mut engine, &mut ledger, &mut sets, &mut counters, t, t);
                    let _ = reply.send(answer);
                }
                Input::Queued(batch) => {
                    received.get_or_insert(t);
                    let verdicts = batch
                        .iter()
                        .map(|(queue, packet)| {
                            let dir = direction(*queue, group_in);
                            engine.handle(t, dir, packet).verdict == sipwall_engine::Verdict::Accept
                        })
                        .collect();
                    // Kernel first: an SDP answer leaves only once its pinhole is in.
                    carry_out(&mut engine, &mut ledger, &mut sets, &mut counters, t, t);
                    let _ = verdict_tx.send(verdicts);
                }
                Input::Event(headers) => {
                    received.get_or_insert(t);
                    engine.handle_event(t, &sipwall_engine::Event::new(headers));
                }
                Input::EslState(up) => counters.esl_connected = up,
                Input::EslListening(live) => {
                    crosscheck = crosscheck::compare(&loaded.policy, &live);
                    if !crosscheck.agrees() {
                        tracing::warn!(live_not_in_policy = ?crosscheck.live_not_in_policy, policy_not_live = ?crosscheck.policy_not_live, "FreeSWITCH listens elsewhere than the policy says");
                    }
                }
            }
        }
        let t = now();
        if engine.poll_timeout().is_some_and(|d| d <= t) {
            engine.handle_timeout(t);
        }
        carry_out(
            &mut engine,
            &mut ledger,
            &mut sets,
            &mut counters,
            t,
            received.unwrap_or(t),
        );
        if t.since(pruned_at) >= PRUNE_EVERY {
            pruned_at = t;
            prune(&mut ledger, retention, t, &mut counters);
        }
        if t.since(healed_at) >= heal::CHECK_EVERY {
            healed_at = t;
            if let Some(text) = &applied_text {
                heal_tables(
                    text,
                    (&loaded.policy, mode, group_in, group_out),
                    &mut installed,
                    (&mut engine, &mut ledger, &mut sets, &mut counters),
                    t,
                );
            }
        }
        if t.since(page_at) >= Duration::from_secs(1) {
            page_at = t;
            counters.ledger_in_memory = ledger.in_memory().is_some();
            counters.queue_drops = lost.load(Ordering::Relaxed)
                + sipwall_netfilter::queue::kernel_drops(&[group_in, group_out]);
            if let Ok(mut p) = page.lock() {
                *p = metrics::render(&engine, &counters);
            }
        }
    }
    installed.remove();
    let _ = std::fs::remove_file(&a.control.path);
    tracing::info!("sipwall run: stopped (bans stay in the kernel and the ledger)");
    Ok(Success::Clean)
}

/// Which way a packet went, from the NFLOG group or queue it came by: the
/// intake sends arriving SIP to `group_in` and the host's own to the next.
fn direction(group: u16, group_in: u16) -> Direction {
    if group == group_in {
        Direction::In
    } else {
        Direction::Out
    }
}

/// Loads sipwall's table and the intake again when another tool wiped
/// them, then the bans and pinholes (see [`heal`]).
fn heal_tables(
    text: &str,
    (policy, mode, group_in, group_out): (&sipwall_policy::Policy, intake::Mode, u16, u16),
    installed: &mut intake::Installed,
    (engine, ledger, sets, counters): (
        &mut Engine,
        &mut Ledger,
        &mut kernel::KernelSets,
        &mut metrics::DaemonCounters,
    ),
    t: Timestamp,
) {
    let nft = sipwall_netfilter::NftCli::default();
    let Ok(present) = heal::present(&nft, sipwall_ruleset::TABLE, intake::TABLE) else {
        return;
    };
    let intake_gone = matches!(installed, intake::Installed::Table) && !present.intake;
    if present.ruleset && !intake_gone {
        return;
    }
    if !present.ruleset {
        tracing::error!(
            table = sipwall_ruleset::TABLE,
            "sipwall's table was deleted by another tool (a `flush ruleset`?): loading it again"
        );
        if let Err(e) = heal::reload(&nft, text) {
            counters.kernel_errors += 1;
            tracing::error!(error = %e, "loading sipwall's table again failed");
            return;
        }
    }
    installed.remove();
    match intake::install(policy, mode, group_in, group_out) {
        Ok(i) => *installed = i,
        Err(e) => {
            counters.kernel_errors += 1;
            tracing::error!(error = %e, "installing the intake again failed");
        }
    }
    if !present.ruleset {
        if let Err(e) = restore(engine, ledger, sets, counters) {
            counters.kernel_errors += 1;
            tracing::error!(error = %e, "restoring bans after the reload failed");
        }
        let holes: Vec<_> = engine.pinholes().iter().collect();
        for (key, until) in holes {
            if let Err(e) = sets.apply(&Action::OpenPinhole { key, until }, t) {
                counters.kernel_errors += 1;
                tracing::error!(error = %e, "a pinhole could not be put back");
            }
        }
        tracing::warn!("sipwall's table, intake, bans and pinholes are back");
    }
}

/// How often ended bans past the ledger's retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The most bytes of network text one log line carries.
const LOG_TEXT_BYTES: usize = 512;

/// Deletes the ledger rows of bans that ended more than `retention` ago.
fn prune(
    ledger: &mut Ledger,
    retention: Duration,
    t: Timestamp,
    counters: &mut metrics::DaemonCounters,
) {
    // Prefix bans end in the kernel by themselves, with no action: their
    // rows are closed here, then pruned with the rest.
    if let Err(e) = ledger.close_expired(t.micros()) {
        ledger_error(counters, t, &e);
    }
    match ledger.prune(t.micros(), retention) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(pruned = n, retention = %humantime::format_duration(retention), "ledger: old rows pruned")
        }
        Err(e) => ledger_error(counters, t, &e),
    }
}

fn ledger_error(counters: &mut metrics::DaemonCounters, t: Timestamp, e: &rusqlite::Error) {
    counters.ledger_errors += 1;
    if counters.errors.allow(t) {
        tracing::error!(error = %e, "ledger");
    }
}

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
fn restore(
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
    tracing::info!(
        restored = batch.len() - refused.len(),
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

/// Carries the engine's actions out: kernel first (a ban is real once the
/// kernel has it), then the ledger and the log. `received` is when the
/// packet that caused them reached the daemon (for the reaction time).
fn carry_out(
    engine: &mut Engine,
    ledger: &mut Ledger,
    sets: &mut kernel::KernelSets,
    counters: &mut metrics::DaemonCounters,
    t: Timestamp,
    received: Timestamp,
) {
    while let Some(action) = engine.poll_action() {
        if let Err(e) = sets.apply(&action, t) {
            counters.kernel_errors += 1;
            if counters.errors.allow(t) {
                tracing::error!(error = %e, action = %printable(format!("{action:?}").as_bytes(), LOG_TEXT_BYTES), "kernel update failed");
            }
        }
        match &action {
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

#[cfg(test)]
mod tests {
    use super::parse_crosscheck_every;
    use std::time::Duration;

    #[test]
    fn a_crosscheck_interval_under_a_second_is_refused() {
        assert_eq!(parse_crosscheck_every("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_crosscheck_every("1m"), Ok(Duration::from_secs(60)));
        for bad in ["0s", "500ms", "soon"] {
            assert!(parse_crosscheck_every(bad).is_err(), "{bad}");
        }
    }
}
