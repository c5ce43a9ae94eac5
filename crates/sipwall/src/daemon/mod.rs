//! `sipwall run`: the guard daemon. It feeds the engine with copies of
//! the SIP signalling the kernel accepted (the tap: NFLOG groups), and
//! carries the engine's actions out: set elements through netlink, rows in
//! the ledger, log lines.
//!
//! ```text
//!   kernel ─(log group / queue N, N+1)─► readers ─► inbox ─► Daemon::run ─► Engine ─► actions
//!   control socket ─────────────────────────────────┘ (first)        │           ├─► KernelSets (one batch a pass)
//!   ledger ─(unexpired bans at start: restore)───────────────────────┘           └─► Ledger, logs
//! ```
//!
//! [`Daemon::start`] binds everything in an order where nothing finds
//! nobody listening; [`Daemon::run`] is the loop, one pass at a time:
//! take what is waiting (control first), hand it to the engine, drive its
//! time, carry the actions out, then the periodic jobs; [`Daemon::shutdown`]
//! takes the intake and the control socket away (bans stay).
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

mod actions;
mod blocklists;
mod control;
mod crosscheck;
mod crowdsec;
mod esl;
mod feeds;
mod heal;
mod held;
mod hep;
mod inbox;
mod intake;
mod kernel;
mod log_limit;
mod metrics;
mod readers;
mod restore;

use crate::cmd::policy::{Loaded, PolicyArgs};
use crate::exit::{Failure, Outcome, Success};
use crate::ledger::Ledger;
use anyhow::{anyhow, Context as _};
use clap::Args;
use inbox::{Call, Inbox, Input, Next};
use sipwall_engine::{Action, Direction, Engine, Timestamp};
use sipwall_netfilter::SetWriter;
use sipwall_policy::GuardMode;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Where each blocklist feed's last good copy is kept (docs/feeds.md).
    #[arg(
        long,
        env = "SIPWALL_FEEDS_DIR",
        default_value = crate::last_good::DEFAULT_DIR,
        value_name = "DIR"
    )]
    feeds_dir: PathBuf,
    /// How log lines look (stderr, the journal under systemd).
    #[arg(long, value_enum, default_value_t = crate::logfmt::LogFormat::Logfmt)]
    log_format: crate::logfmt::LogFormat,
    /// How SIP reaches the daemon: copies (tap) or held for a verdict (inline).
    #[arg(long, value_enum, default_value_t = IntakeMode::Tap)]
    mode: IntakeMode,
    /// Inline: drop SIP while no daemon reads the queue (default: let it pass).
    #[arg(long)]
    fail_closed: bool,
    /// Shadow mode: log, count and record every ban, put none in the kernel
    /// (wins over the policy's `guard.mode`).
    #[arg(long)]
    observe: bool,
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

/// Now, as engine time: microseconds since the Unix epoch (so that the
/// ledger's times and the engine's agree across restarts).
fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_micros(d.as_micros() as u64)
}

/// Whether the applied table has a first line that bans (see
/// `sipwall_ruleset::compile`): the kernel bans floods by itself then.
fn first_line_bans(policy: &sipwall_policy::Policy) -> bool {
    sipwall_ruleset::compile(policy, "")
        .chain(sipwall_ruleset::ir::Hook::Flood)
        .is_some()
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(a: RunArgs) -> Outcome {
    crate::logfmt::init(a.log_format);
    let mut daemon = Daemon::start(a)?;
    daemon.run();
    daemon.shutdown();
    Ok(Success::Clean)
}

/// The longest the loop sleeps, so that stop signals and periodic jobs are
/// seen without an input.
const IDLE: Duration = Duration::from_millis(500);
/// How often ended bans past the ledger's retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the metrics page is rendered again.
const PAGE_EVERY: Duration = Duration::from_secs(1);

/// The intake as installed: how packets reach the daemon, by which groups.
struct Intake {
    mode: intake::Mode,
    group_in: u16,
    group_out: u16,
    installed: intake::Installed,
}

/// When each periodic job last ran.
struct Periodic {
    pruned: Timestamp,
    healed: Timestamp,
    paged: Timestamp,
}

/// A running guard: the engine, what it writes to (kernel sets, ledger),
/// what it reads from (the inbox), and what it serves (control, metrics).
pub struct Daemon {
    loaded: Loaded,
    /// Whether bans reach the kernel: the policy's `guard.mode`, or
    /// observe under `--observe`.
    guard_mode: GuardMode,
    engine: Engine,
    ledger: Ledger,
    sets: kernel::KernelSets,
    /// Lists banned elsewhere (CrowdSec, feeds), in sets of their own.
    blocklists: blocklists::Blocklists,
    /// How each feed's refreshes went (for the metrics page).
    feed_health: feeds::HealthTable,
    /// CrowdSec's bouncer and watcher, with `[crowdsec]`.
    crowdsec: Option<crowdsec::Crowdsec>,
    /// HEP copies of what the guard did, when `[hep]` asks for them.
    hep: Option<hep::Exporter>,
    counters: metrics::DaemonCounters,
    inbox: Inbox,
    intake: Intake,
    control_path: PathBuf,
    stop: Arc<AtomicBool>,
    /// Copies lost between the kernel and the daemon (NFLOG overruns).
    lost: Arc<AtomicU64>,
    page: metrics::Page,
    crosscheck: crosscheck::Crosscheck,
    started: Timestamp,
    /// The table apply last loaded, for putting it back (see [`heal`]).
    applied_text: Option<String>,
    retention: Duration,
    periodic: Periodic,
}

impl Daemon {
    /// Starts guarding: policy, engine, ledger, sets, the control socket,
    /// the restore, the intake's readers then its rules, the event socket,
    /// metrics. Errors here are the daemon's exit status.
    pub fn start(a: RunArgs) -> Result<Daemon, Failure> {
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
        let guard_mode = if a.observe {
            GuardMode::Observe
        } else {
            loaded.policy.guard.mode
        };
        if guard_mode != loaded.policy.guard.mode && first_line_bans(&loaded.policy) {
            // The table was compiled from an enforcing policy: the kernel's
            // own flood meter bans without asking the daemon.
            tracing::warn!(
                "--observe: the first line (the kernel's flood meter, flood_ban_v4/v6) still bans; \
                 set guard.mode = \"observe\" in the policy and apply it to observe that too"
            );
        }
        let mut ledger = Ledger::open(&a.ledger);
        let retention = loaded.policy.ledger.retention;
        let mut counters = metrics::DaemonCounters::default();
        let t = now();
        prune(&mut ledger, retention, t, &mut counters);
        let mut sets = kernel::KernelSets::new(
            SetWriter::open(sipwall_ruleset::TABLE).map_err(Failure::failed)?,
        );

        let (inbox, inputs, calls) = inbox::new(control::MAX_CLIENTS);
        // Listen before the restore: a request waits in the channel until the
        // loop runs, and nobody who sees a restored ban finds no socket.
        control::listen(&a.control.path, calls).map_err(Failure::failed)?;
        if let Err(e) = restore::restore(&mut engine, &mut ledger, &mut sets, &mut counters) {
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
        let lost = Arc::new(AtomicU64::new(0));
        // Bind before the rules exist, so no packet finds nobody listening.
        match mode {
            intake::Mode::Tap => {
                readers::tap(&[group_in, group_out], inputs.clone(), Arc::clone(&lost))
            }
            intake::Mode::Inline { fail_open } => {
                readers::inline(&[group_in, group_out], fail_open, inputs.clone())
            }
        }
        .map_err(Failure::failed)?;
        let installed =
            intake::install(&loaded.policy, mode, group_in, group_out).map_err(Failure::failed)?;
        tracing::info!(policy = %loaded.source, group_in, group_out, mode = ?a.mode, guard = guard_mode.name(), "sipwall run: guarding");

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
                inputs.clone(),
            );
        }
        let feed_health = feeds::HealthTable::default();
        let store = crate::last_good::LastGood::new(&a.feeds_dir);
        for feed in &loaded.policy.feeds {
            feeds::spawn(
                feed.clone(),
                store.clone(),
                inputs.clone(),
                feed_health.clone(),
            );
        }
        let crowdsec =
            loaded.policy.crowdsec.as_ref().map(|cs| {
                crowdsec::Crowdsec::start(cs, &mut ledger, inputs.clone(), now().micros())
            });
        drop(inputs);
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
        let hep = loaded.policy.hep.as_ref().and_then(|h| {
            hep::Exporter::connect(h)
                .inspect_err(|e| {
                    // Guarding matters more than its copies.
                    tracing::error!(collector = %h.address, error = %e, "[hep]: no socket towards the collector: guarding without HEP copies");
                })
                .ok()
        });
        let t = now();
        Ok(Daemon {
            hep,
            applied_text: crate::cmd::apply::applied_table(&a.state),
            blocklists: blocklists::Blocklists::new(&loaded.policy),
            feed_health,
            crowdsec,
            loaded,
            guard_mode,
            engine,
            ledger,
            sets,
            counters,
            inbox,
            intake: Intake {
                mode,
                group_in,
                group_out,
                installed,
            },
            control_path: a.control.path,
            stop,
            lost,
            page,
            crosscheck: crosscheck::Crosscheck::default(),
            started: t,
            retention,
            periodic: Periodic {
                pruned: t,
                healed: t,
                paged: Timestamp::default(),
            },
        })
    }

    /// Guards until SIGTERM or SIGINT (or until every input is gone).
    pub fn run(&mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            if !self.pass() {
                break;
            }
        }
    }

    /// One pass of the loop: wait for an input (at most until the engine's
    /// next deadline), take it and whatever queued up meanwhile, control
    /// first; then drive the engine's time, carry the actions out in one
    /// batch, and run the periodic jobs that are due. False when every
    /// input is gone.
    fn pass(&mut self) -> bool {
        let t = now();
        let wait = self
            .engine
            .poll_timeout()
            .map_or(IDLE, |d| d.since(t))
            .min(IDLE);
        // When this pass's first input reached the daemon (reaction times).
        let mut received = None;
        let Ok(mut next) = self.inbox.next(wait) else {
            return false;
        };
        // Take what queued up meanwhile too, before touching the kernel.
        while let Some(n) = next {
            match n {
                Next::Control(call) => self.answer(call, received),
                Next::Input(input) => self.take(input, &mut received),
            }
            next = self.inbox.try_next().unwrap_or(None);
        }
        let t = now();
        self.run_timers(t);
        self.carry_out(t, received.unwrap_or(t));
        self.periodic(t);
        true
    }

    /// Lets the engine's time pass up to `t`. Before every input too: a ban
    /// that ran out must end before its source's next packet is judged,
    /// or a source banned again right after gets no new ban.
    fn run_timers(&mut self, t: Timestamp) {
        if self.engine.poll_timeout().is_some_and(|d| d <= t) {
            self.engine.handle_timeout(t);
        }
    }

    /// Hands one input to the engine.
    fn take(&mut self, input: Input, received: &mut Option<Timestamp>) {
        let t = now();
        self.run_timers(t);
        let group_in = self.intake.group_in;
        match input {
            Input::Packet(logged) => {
                received.get_or_insert(t);
                let dir = direction(logged.group, group_in);
                judge(&mut self.engine, &mut self.hep, t, dir, &logged.packet);
            }
            Input::Queued(held) => {
                received.get_or_insert(t);
                let (engine, hep) = (&mut self.engine, &mut self.hep);
                let mode = self.guard_mode;
                let verdicts = held.judge(|queue, packet| {
                    let dir = direction(queue, group_in);
                    actions::lets_through(judge(engine, hep, t, dir, packet), mode)
                });
                // Kernel first: an SDP answer leaves only once its pinhole is in.
                self.carry_out(t, t);
                verdicts.release();
            }
            Input::Event(headers) => {
                received.get_or_insert(t);
                self.engine
                    .handle_event(t, &sipwall_engine::Event::new(headers));
            }
            Input::EslState(up) => self.counters.esl_connected = up,
            Input::EslListening(live) => {
                self.crosscheck = crosscheck::compare(&self.loaded.policy, &live);
                let c = &self.crosscheck;
                if !c.agrees() {
                    tracing::warn!(live_not_in_policy = ?c.live_not_in_policy, policy_not_live = ?c.policy_not_live, "FreeSWITCH listens elsewhere than the policy says");
                }
            }
            Input::Blocklist(update) => {
                // A whole list (a startup stream, a feed) can be 100,000
                // entries: how long it took is worth a line.
                let whole = match &update {
                    blocklists::Update::Replace { list, entries } => {
                        Some((list.to_string(), entries.len()))
                    }
                    _ => None,
                };
                let started = std::time::Instant::now();
                if let Err(e) = self.blocklists.apply(update, t, &mut self.sets) {
                    self.counters.kernel_errors += 1;
                    tracing::error!(error = %e, "a list banned elsewhere could not be written to its sets");
                } else if let Some((list, entries)) = whole {
                    tracing::info!(%list, entries, took_ms = started.elapsed().as_millis() as u64, "list written whole");
                }
            }
            Input::CrowdsecPushed(ids) => {
                if let Some(cs) = &mut self.crowdsec {
                    cs.on_pushed(&ids, &mut self.ledger);
                }
            }
            // The inbox answers control first; a marker left over is nothing.
            Input::Wake => {}
        }
    }

    /// Answers one control request, on current state: the actions of the
    /// packets taken before it are carried out first, its own after.
    fn answer(&mut self, (req, reply): Call, received: Option<Timestamp>) {
        let t = now();
        self.carry_out(t, received.unwrap_or(t));
        let ctx = control::Context {
            source: &self.loaded.source,
            started: self.started,
            ledger: &self.ledger,
            esl_connected: self.counters.esl_connected,
            crosscheck: &self.crosscheck,
            guard_mode: self.guard_mode,
            would_ban: &self.counters.would_ban,
            blocklists: &self.blocklists,
            crowdsec: self.crowdsec.as_ref().map(crowdsec::Crowdsec::status),
            hep: self.hep.as_ref().map(|h| h.counts),
        };
        let answer = control::handle(&mut self.engine, &ctx, t, req);
        self.carry_out(t, t);
        let _ = reply.send(answer);
    }

    /// Carries the engine's pending actions out (see [`actions`]).
    fn carry_out(&mut self, t: Timestamp, received: Timestamp) {
        let done = actions::carry_out(
            &mut self.engine,
            &mut self.ledger,
            &mut self.sets,
            &mut self.counters,
            t,
            received,
            self.guard_mode,
        );
        if let Some(h) = &mut self.hep {
            h.actions(t, &done, self.guard_mode);
        }
        // Bans that reached the kernel are told to CrowdSec (an observed
        // one is not a ban).
        if let Some(cs) = &mut self.crowdsec {
            let mode = self.guard_mode;
            let made = done.iter().filter(|a| actions::reaches_kernel(a, mode));
            cs.on_actions(made, &mut self.ledger, std::time::SystemTime::now());
        }
    }

    /// The jobs that run every so often, whatever the inputs.
    fn periodic(&mut self, t: Timestamp) {
        if self.blocklists.poll_timeout().is_some_and(|d| d <= t) {
            if let Err(e) = self.blocklists.expire(t, &mut self.sets) {
                self.counters.kernel_errors += 1;
                tracing::error!(error = %e, "ended entries of a list banned elsewhere: writing its sets failed");
            }
        }
        if t.since(self.periodic.pruned) >= PRUNE_EVERY {
            self.periodic.pruned = t;
            self.prune(t);
        }
        if t.since(self.periodic.healed) >= heal::CHECK_EVERY {
            self.periodic.healed = t;
            self.heal(t);
        }
        if t.since(self.periodic.paged) >= PAGE_EVERY {
            self.periodic.paged = t;
            self.render_page();
        }
    }

    /// Closes and prunes the ledger's old rows (see [`prune`]).
    fn prune(&mut self, t: Timestamp) {
        prune(&mut self.ledger, self.retention, t, &mut self.counters);
    }

    /// Renders the metrics page the listener serves.
    fn render_page(&mut self) {
        let c = &mut self.counters;
        c.ledger_in_memory = self.ledger.in_memory().is_some();
        c.hep = self.hep.as_ref().map(|h| h.counts);
        c.queue_drops = self.lost.load(Ordering::Relaxed)
            + sipwall_netfilter::queue::kernel_drops(&[
                self.intake.group_in,
                self.intake.group_out,
            ]);
        if let Ok(mut p) = self.page.lock() {
            *p = metrics::render(&self.engine, c);
            p.push_str(&feeds::render(&self.feed_health));
        }
    }

    /// Loads sipwall's table and the intake again when another tool wiped
    /// them, then the bans and pinholes (see [`heal`]).
    fn heal(&mut self, t: Timestamp) {
        let Some(text) = &self.applied_text else {
            return;
        };
        let nft = sipwall_netfilter::NftCli::default();
        let Ok(present) = heal::present(&nft, sipwall_ruleset::TABLE, intake::TABLE) else {
            return;
        };
        let intake_gone =
            matches!(self.intake.installed, intake::Installed::Table) && !present.intake;
        if present.ruleset && !intake_gone {
            return;
        }
        let counters = &mut self.counters;
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
        let i = &mut self.intake;
        i.installed.remove();
        match intake::install(&self.loaded.policy, i.mode, i.group_in, i.group_out) {
            Ok(installed) => i.installed = installed,
            Err(e) => {
                counters.kernel_errors += 1;
                tracing::error!(error = %e, "installing the intake again failed");
            }
        }
        if !present.ruleset {
            let (engine, ledger, sets) = (&mut self.engine, &mut self.ledger, &mut self.sets);
            if let Err(e) = restore::restore(engine, ledger, sets, counters) {
                counters.kernel_errors += 1;
                tracing::error!(error = %e, "restoring bans after the reload failed");
            }
            let holes: Vec<Action> = engine
                .pinholes()
                .iter()
                .map(|(key, until)| Action::OpenPinhole { key, until })
                .collect();
            for (_, e) in sets.apply_all(&holes, t) {
                counters.kernel_errors += 1;
                tracing::error!(error = %e, "a pinhole could not be put back");
            }
            tracing::warn!("sipwall's table, intake, bans and pinholes are back");
        }
    }

    /// Stops guarding: the intake's rules and the control socket go; bans
    /// stay in the kernel and the ledger.
    pub fn shutdown(self) {
        self.intake.installed.remove();
        let _ = std::fs::remove_file(&self.control_path);
        tracing::info!("sipwall run: stopped (bans stay in the kernel and the ledger)");
    }
}

/// The engine's verdict on an accepted packet, with HEP told which
/// actions it caused (and sent the packet when it is a drop).
fn judge(
    engine: &mut Engine,
    hep: &mut Option<hep::Exporter>,
    t: Timestamp,
    dir: Direction,
    packet: &[u8],
) -> sipwall_engine::Verdict {
    let Some(h) = hep else {
        return engine.handle_accepted(t, dir, packet);
    };
    h.before(engine.pending_actions());
    let verdict = engine.handle_accepted(t, dir, packet);
    h.after(t, packet, verdict, engine.pending_actions());
    verdict
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
        actions::ledger_error(counters, t, &e);
    }
    match ledger.prune(t.micros(), retention) {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(pruned = n, retention = %humantime::format_duration(retention), "ledger: old rows pruned")
        }
        Err(e) => actions::ledger_error(counters, t, &e),
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
