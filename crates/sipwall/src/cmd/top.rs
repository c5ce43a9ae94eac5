//! `sipwall top`: a live terminal view of the running guard, read from the
//! control socket as `status`, `bans list` and `calls` read it.
//!
//! Two halves. [`Model`] is plain data: each poll's answers go in with the
//! moment they were taken (the caller owns time), rates and per-detector
//! series come out; it is unit-tested without a terminal. The drawing turns
//! a model into ratatui widgets and owns nothing.
//!
//! The daemon is asked from a thread of its own, so a slow or vanished
//! daemon never delays a key press: `q` quits at once, and while the daemon
//! is away the screen says so and the poller keeps trying.
//!
//! Every string shown came from the daemon, and much of it from the network
//! (reasons, evidence): it is escaped with `printable` again here, even if
//! the daemon escaped it already (escaping is idempotent).

use super::text::compact;
use crate::control::{call, parse_duration, Request, SocketArgs};
use crate::exit::{Failure, Outcome, Success};
use clap::Args;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::Frame;
use serde_json::Value;
use sipwall_engine::remote_text::printable;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Arguments of `sipwall top`.
#[derive(Args, Debug)]
pub struct TopArgs {
    /// How often to ask the daemon, e.g. 1s, 500ms, 5s.
    #[arg(long, value_parser = parse_interval, default_value = "1s")]
    interval: Duration,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `--interval`: a duration in sipwall's one syntax, at least 100ms (a
/// faster poll would mostly measure the poller).
fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(100) {
        return Err("the shortest interval is 100ms".to_owned());
    }
    Ok(d)
}

/// Points kept per series: ten minutes at the default interval.
pub const SERIES: usize = 600;
/// Detectors tracked; names past this are counted under the last row's
/// "other" (they come from the daemon, which has a fixed few).
pub const MAX_DETECTORS: usize = 16;
/// Bans kept for the "newest bans" pane.
pub const MAX_BANS: usize = 200;
/// Pinholes kept for the pinholes pane.
pub const MAX_PINHOLES: usize = 200;
/// The most bytes of one string field shown.
const FIELD_BYTES: usize = 256;

/// A string field of the daemon's answer, safe for a terminal.
fn field(v: &Value) -> String {
    printable(v.as_str().unwrap_or("").as_bytes(), FIELD_BYTES)
}

/// The counters that become rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    accepted: u64,
    dropped: u64,
    rejected: u64,
    sip: u64,
}

impl Counters {
    fn of(status: &Value) -> Self {
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        Counters {
            accepted: n(&status["packets"]["accepted"]),
            dropped: n(&status["packets"]["dropped"]),
            rejected: n(&status["packets"]["rejected"]),
            sip: n(&status["sip_messages"]),
        }
    }
    fn packets(&self) -> u64 {
        self.accepted
            .saturating_add(self.dropped)
            .saturating_add(self.rejected)
    }
}

/// Per-second rates between the last two polls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// All packets the guard saw.
    pub packets: f64,
    /// Of those, dropped or rejected.
    pub blocked: f64,
    /// SIP messages inspected.
    pub sip: f64,
}

/// One detector's bans: the total and how many each poll added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detector {
    /// Bans made since the daemon started.
    pub total: u64,
    /// Bans made per poll, oldest first, at most [`SERIES`].
    pub series: VecDeque<u64>,
}

/// One ban, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRow {
    /// Address or prefix.
    pub addr: String,
    /// Which detector (or `manual`).
    pub kind: String,
    /// Why.
    pub reason: String,
    /// When it was made (seconds since the epoch).
    pub since: u64,
    /// When it ends (seconds since the epoch).
    pub until: u64,
}

/// One open pinhole, as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinholeRow {
    /// What it opens.
    pub key: String,
    /// When it closes (seconds since the epoch).
    pub until: u64,
}

/// What the screen shows: the daemon's answers folded over time.
#[derive(Debug, Default)]
pub struct Model {
    last: Option<(Duration, Counters)>,
    last_bans_made: BTreeMap<String, u64>,
    /// Rates between the last two polls (zero until there are two).
    pub rates: Rates,
    /// Packets per second, one point per poll, at most [`SERIES`].
    pub packet_series: VecDeque<u64>,
    /// SIP messages per second, one point per poll, at most [`SERIES`].
    pub sip_series: VecDeque<u64>,
    /// Bans per detector, at most [`MAX_DETECTORS`].
    pub detectors: BTreeMap<String, Detector>,
    /// The bans in force, newest first, at most [`MAX_BANS`].
    pub bans: Vec<BanRow>,
    /// Bans in force (all of them, not only those kept).
    pub bans_active: u64,
    /// The open pinholes, soonest to close first, at most [`MAX_PINHOLES`].
    pub pinholes: Vec<PinholeRow>,
    /// Open pinholes (all of them).
    pub pinholes_open: u64,
    /// Whether the daemon's event socket to FreeSWITCH is up.
    pub esl_connected: Option<bool>,
    /// The daemon's policy.
    pub policy: String,
    /// How long the daemon has run.
    pub uptime: Duration,
    /// Failed authentications seen.
    pub auth_failures: u64,
    /// Malformed SIP messages seen.
    pub malformed: u64,
    /// The wall clock of the last answer (seconds since the epoch), for
    /// remaining times.
    pub now_epoch: u64,
    /// Why the daemon did not answer the last poll, if it did not.
    pub unreachable: Option<String>,
    /// When the last answer came (the caller's clock).
    pub answered_at: Option<Duration>,
}

/// Pushes onto a bounded series.
fn push(series: &mut VecDeque<u64>, v: u64) {
    if series.len() == SERIES {
        series.pop_front();
    }
    series.push_back(v);
}

impl Model {
    /// Folds in one poll taken at `at` (any monotonic clock), with the
    /// wall clock `now_epoch`: the answers to `status`, `bans` and `calls`.
    pub fn observe(
        &mut self,
        at: Duration,
        now_epoch: u64,
        status: &Value,
        bans: &Value,
        calls: &Value,
    ) {
        self.unreachable = None;
        self.answered_at = Some(at);
        self.now_epoch = now_epoch;
        let counters = Counters::of(status);
        let made: BTreeMap<String, u64> = status["bans_made"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                (
                    printable(k.as_bytes(), FIELD_BYTES),
                    v.as_u64().unwrap_or(0),
                )
            })
            .collect();
        let baseline = match self.last {
            // A counter that went down is a restarted daemon: that poll
            // starts a new baseline rather than a huge or negative rate.
            Some((then, old)) if at > then => {
                let secs = (at - then).as_secs_f64();
                let per = |new: u64, old: u64| new.saturating_sub(old) as f64 / secs;
                self.rates = Rates {
                    packets: per(counters.packets(), old.packets()),
                    blocked: per(
                        counters.dropped.saturating_add(counters.rejected),
                        old.dropped.saturating_add(old.rejected),
                    ),
                    sip: per(counters.sip, old.sip),
                };
                false
            }
            _ => true,
        };
        // A detector seen for the first time starts with zeros for the
        // polls before it, so that every series lines up in time with the
        // traffic's.
        let past = self.packet_series.len();
        for (name, total) in &made {
            if let Some(d) = self.detectors.get_mut(name) {
                d.total = *total;
            } else if self.detectors.len() < MAX_DETECTORS {
                self.detectors.insert(
                    name.clone(),
                    Detector {
                        total: *total,
                        series: std::iter::repeat_n(0, past).collect(),
                    },
                );
            }
        }
        if !baseline {
            push(&mut self.packet_series, self.rates.packets.round() as u64);
            push(&mut self.sip_series, self.rates.sip.round() as u64);
            self.add_bans(&made);
        }
        self.last = Some((at, counters));
        self.last_bans_made = made;
        self.bans_active = status["bans_active"].as_u64().unwrap_or(0);
        self.pinholes_open = status["pinholes_open"].as_u64().unwrap_or(0);
        self.esl_connected = status["esl_connected"].as_bool();
        self.policy = field(&status["policy"]);
        self.uptime = Duration::from_secs(status["uptime_seconds"].as_u64().unwrap_or(0));
        self.auth_failures = status["auth_failures"].as_u64().unwrap_or(0);
        self.malformed = status["malformed"].as_u64().unwrap_or(0);
        let mut rows: Vec<BanRow> = bans["bans"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| BanRow {
                addr: field(&b["addr"]),
                kind: field(&b["kind"]),
                reason: field(&b["reason"]),
                since: b["since"].as_u64().unwrap_or(0),
                until: b["until"].as_u64().unwrap_or(0),
            })
            .collect();
        rows.sort_by(|a, b| b.since.cmp(&a.since).then_with(|| a.addr.cmp(&b.addr)));
        rows.truncate(MAX_BANS);
        self.bans = rows;
        let mut holes: Vec<PinholeRow> = calls["pinholes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| PinholeRow {
                key: field(&p["key"]),
                until: p["until"].as_u64().unwrap_or(0),
            })
            .collect();
        holes.sort_by(|a, b| a.until.cmp(&b.until).then_with(|| a.key.cmp(&b.key)));
        holes.truncate(MAX_PINHOLES);
        self.pinholes = holes;
    }

    /// Each detector's bans since the last poll, as the next point of its
    /// series (zero for those that made none).
    fn add_bans(&mut self, made: &BTreeMap<String, u64>) {
        for (name, d) in self.detectors.iter_mut() {
            let new = made.get(name).copied().unwrap_or(0);
            let old = self.last_bans_made.get(name).copied().unwrap_or(0);
            push(&mut d.series, new.saturating_sub(old));
        }
    }

    /// How long the daemon has not answered at `now`, when that is well
    /// past the `interval` (a daemon that accepts but does not answer
    /// leaves the screen as it was: this says it is old).
    pub fn silent_for(&self, now: Duration, interval: Duration) -> Option<Duration> {
        let silent = now.checked_sub(self.answered_at?)?;
        (silent > interval * 2 + Duration::from_secs(2)).then_some(silent)
    }

    /// The daemon did not answer: the screen says why; what it showed
    /// stays, and the next answer starts new rates (the gap is no rate).
    pub fn lost(&mut self, why: String) {
        self.unreachable = Some(why);
        self.last = None;
    }
}

/// The last `width` points of `series` as a one-line sparkline: blank for
/// zero, so that any activity shows; scaled to the largest shown.
pub fn sparkline(series: &VecDeque<u64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let shown: Vec<u64> = series
        .iter()
        .skip(series.len().saturating_sub(width))
        .copied()
        .collect();
    let max = shown.iter().copied().max().unwrap_or(0);
    shown
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                // (0, max] onto 0..=7 in eighths: any nonzero shows.
                let i = ((v as u128 * 8 - 1) / max as u128) as usize;
                BARS[i.min(7)]
            }
        })
        .collect()
}

/// A rate as people read it: `0`, `12.5`, `340`, `12.3k`.
pub fn rate(r: f64) -> String {
    if r >= 10_000.0 {
        format!("{:.1}k", r / 1000.0)
    } else if r >= 100.0 || r == r.trunc() {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Remaining time until `until` from `now` (`3h12m`).
fn left(until: u64, now: u64) -> String {
    compact(Duration::from_secs(until.saturating_sub(now)))
}

/// Draws the whole screen.
fn draw(f: &mut Frame, m: &Model, interval: Duration, now: Duration) {
    let [head, traffic, detectors, bans, bottom, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Length((m.detectors.len().max(1) as u16) + 2),
        Constraint::Min(5),
        Constraint::Length(8),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_head(f, head, m, m.silent_for(now, interval));
    draw_traffic(f, traffic, m);
    draw_detectors(f, detectors, m);
    draw_bans(f, bans, m);
    let [holes, guard] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(bottom);
    draw_pinholes(f, holes, m);
    draw_guard(f, guard, m);
    f.render_widget(
        Paragraph::new(format!(
            "q quit · refreshes every {}",
            humantime::format_duration(interval)
        ))
        .style(Style::new().add_modifier(Modifier::DIM)),
        foot,
    );
}

fn draw_head(f: &mut Frame, area: Rect, m: &Model, silent: Option<Duration>) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let line = match &m.unreachable {
        Some(why) => Line::from(vec![
            Span::styled("sipwall top  ", bold),
            Span::styled(
                "daemon not reachable",
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(": {why} (retrying)")),
        ]),
        None => {
            let mut spans = vec![
                Span::styled("sipwall top  ", bold),
                Span::raw(format!("policy {}  up {}", m.policy, compact(m.uptime))),
            ];
            if let Some(d) = silent {
                spans.push(Span::styled(
                    format!("  no answer for {}: shown as it was", compact(d)),
                    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                ));
            }
            Line::from(spans)
        }
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The width of a series' label and number (`packets/s       125  `), the
/// same in every pane so that their sparklines line up in time.
const LABEL: usize = 21;

fn draw_traffic(f: &mut Frame, area: Rect, m: &Model) {
    let block = Block::bordered().title(" Traffic ");
    let width = (block.inner(area).width as usize).saturating_sub(LABEL + 1);
    let lines = vec![
        Line::from(format!(
            "packets/s {:>9}  {}",
            rate(m.rates.packets),
            sparkline(&m.packet_series, width)
        )),
        Line::from(format!("blocked/s {:>9}", rate(m.rates.blocked))),
        Line::from(format!(
            "SIP msg/s {:>9}  {}",
            rate(m.rates.sip),
            sparkline(&m.sip_series, width)
        )),
    ];
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_detectors(f: &mut Frame, area: Rect, m: &Model) {
    let block = Block::bordered().title(" Bans by detector (per refresh, newest right) ");
    let width = (block.inner(area).width as usize).saturating_sub(LABEL + 1);
    let lines: Vec<Line> = if m.detectors.is_empty() {
        vec![Line::from("no bans made since the daemon started")]
    } else {
        m.detectors
            .iter()
            .map(|(name, d)| {
                Line::from(format!(
                    "{:<11} {:>7}  {}",
                    name.chars().take(11).collect::<String>(),
                    d.total,
                    sparkline(&d.series, width)
                ))
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_bans(f: &mut Frame, area: Rect, m: &Model) {
    let title = format!(" Newest bans ({} in force) ", m.bans_active);
    let header = Row::new(["ADDRESS", "DETECTOR", "REMAINING", "REASON"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = m.bans.iter().map(|b| {
        Row::new([
            b.addr.clone(),
            b.kind.clone(),
            left(b.until, m.now_epoch),
            b.reason.clone(),
        ])
    });
    // As wide as the widest shown, up to a whole IPv6 prefix
    // (`ffff:...:ffff/128`, 43): an address cut short would name another.
    let widest = |cells: &mut dyn Iterator<Item = &String>, min: usize, max: usize| {
        cells
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(min, max) as u16
    };
    let addr_w = widest(&mut m.bans.iter().map(|b| &b.addr), 15, 43);
    let kind_w = widest(&mut m.bans.iter().map(|b| &b.kind), 8, 16);
    let table = Table::new(
        rows,
        [
            Constraint::Length(addr_w),
            Constraint::Length(kind_w),
            Constraint::Length(10),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .block(Block::bordered().title(title));
    f.render_widget(table, area);
}

fn draw_pinholes(f: &mut Frame, area: Rect, m: &Model) {
    let title = format!(" Pinholes / calls ({} open) ", m.pinholes_open);
    let header =
        Row::new(["PINHOLE", "REMAINING"]).style(Style::new().add_modifier(Modifier::BOLD));
    let rows = m
        .pinholes
        .iter()
        .map(|p| Row::new([p.key.clone(), left(p.until, m.now_epoch)]));
    let table = Table::new(rows, [Constraint::Fill(1), Constraint::Length(10)])
        .header(header)
        .block(Block::bordered().title(title));
    f.render_widget(table, area);
}

fn draw_guard(f: &mut Frame, area: Rect, m: &Model) {
    let esl = match m.esl_connected {
        Some(true) => Span::styled("connected", Style::new().fg(Color::Green)),
        Some(false) => Span::styled("not connected", Style::new().fg(Color::Yellow)),
        None => Span::raw("-"),
    };
    let lines = vec![
        Line::from(vec![Span::raw("ESL            "), esl]),
        Line::from(format!("bans in force  {}", m.bans_active)),
        Line::from(format!("auth failures  {}", m.auth_failures)),
        Line::from(format!("malformed SIP  {}", m.malformed)),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Guard ")),
        area,
    );
}

/// One poll's answers, or why there are none.
type Poll = (Instant, u64, Result<[Value; 3], String>);

fn ask(socket: &SocketArgs, req: &Request) -> Result<Value, String> {
    match call(&socket.path, req) {
        Ok(r) if r.ok => Ok(r.data),
        Ok(r) => Err(printable(
            r.error.unwrap_or_default().as_bytes(),
            FIELD_BYTES,
        )),
        Err(e) => Err(printable(format!("{e:#}").as_bytes(), FIELD_BYTES)),
    }
}

/// Asks the daemon every `interval` until the receiver goes away.
fn poller(socket: SocketArgs, interval: Duration, to: mpsc::Sender<Poll>) {
    loop {
        let started = Instant::now();
        let answers = (|| {
            Ok([
                ask(&socket, &Request::Status)?,
                ask(&socket, &Request::Bans)?,
                ask(&socket, &Request::Calls)?,
            ])
        })();
        let epoch = crate::control::unix_now();
        if to.send((started, epoch, answers)).is_err() {
            return;
        }
        std::thread::sleep(interval.saturating_sub(started.elapsed()));
    }
}

/// Whether `key` asks to quit: q, Esc, or Ctrl-C (raw mode delivers it as
/// a key, not a signal).
fn quits(key: &event::KeyEvent) -> bool {
    key.kind != KeyEventKind::Release
        && (matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)))
}

/// `sipwall top`.
pub fn run(a: TopArgs) -> Outcome {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return Err(Failure::bad_input(anyhow::anyhow!(
            "sipwall top needs a terminal; for scripts, `sipwall status --format json`"
        )));
    }
    // Raw mode outlives the process unless restored: a `kill` (TERM, INT,
    // HUP) ends the loop like `q` does, so the terminal is given back.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(Failure::failed)?;
    }
    let (tx, rx) = mpsc::channel();
    let socket = a.socket.clone();
    let interval = a.interval;
    std::thread::spawn(move || poller(socket, interval, tx));
    // try_init installs a panic hook that restores the terminal first.
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            return Err(Failure::failed(anyhow::anyhow!(
                "cannot set up the terminal: {e}"
            )));
        }
    };
    let result = main_loop(&mut terminal, &rx, interval, &stop);
    ratatui::restore();
    result.map_err(|e| Failure::failed(anyhow::anyhow!("terminal: {e}")))?;
    Ok(Success::Clean)
}

fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    rx: &mpsc::Receiver<Poll>,
    interval: Duration,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let origin = Instant::now();
    let mut model = Model {
        unreachable: Some("waiting for the first answer".to_owned()),
        ..Model::default()
    };
    while !stop.load(Ordering::Relaxed) {
        while let Ok((at, epoch, answers)) = rx.try_recv() {
            match answers {
                Ok([status, bans, calls]) => {
                    model.observe(at.duration_since(origin), epoch, &status, &bans, &calls)
                }
                Err(why) => model.lost(why),
            }
        }
        let now = origin.elapsed();
        terminal.draw(|f| draw(f, &model, interval, now))?;
        if event::poll(Duration::from_millis(100))? {
            if let Event::Key(key) = event::read()? {
                if quits(&key) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(accepted: u64, dropped: u64, sip: u64, made: Value) -> Value {
        json!({
            "policy": "/etc/sipwall/sipwall.toml",
            "uptime_seconds": 75,
            "packets": { "accepted": accepted, "dropped": dropped, "rejected": 0 },
            "sip_messages": sip,
            "bans_active": 1,
            "bans_made": made,
            "pinholes_open": 0,
            "esl_connected": true,
        })
    }

    fn empty() -> Value {
        json!({})
    }

    #[test]
    fn rates_are_the_counters_deltas_over_the_callers_time() {
        let mut m = Model::default();
        m.observe(
            Duration::from_secs(10),
            0,
            &status(100, 0, 10, json!({})),
            &empty(),
            &empty(),
        );
        assert_eq!(m.rates, Rates::default(), "one poll is no rate yet");
        m.observe(
            Duration::from_secs(12),
            0,
            &status(300, 50, 50, json!({})),
            &empty(),
            &empty(),
        );
        assert_eq!(
            m.rates,
            Rates {
                packets: 125.0,
                blocked: 25.0,
                sip: 20.0
            }
        );
        assert_eq!(m.packet_series, [125]);
        assert_eq!(m.sip_series, [20]);
    }

    #[test]
    fn a_restarted_daemons_lower_counters_are_a_new_baseline_not_a_huge_rate() {
        let mut m = Model::default();
        m.observe(
            Duration::from_secs(1),
            0,
            &status(1000, 0, 500, json!({})),
            &empty(),
            &empty(),
        );
        m.observe(
            Duration::from_secs(2),
            0,
            &status(3, 0, 1, json!({})),
            &empty(),
            &empty(),
        );
        assert_eq!(m.rates, Rates::default());
        m.observe(
            Duration::from_secs(3),
            0,
            &status(13, 0, 2, json!({})),
            &empty(),
            &empty(),
        );
        assert_eq!(m.rates.packets, 10.0);
    }

    #[test]
    fn bans_by_detector_are_a_series_of_bans_made_per_poll() {
        let mut m = Model::default();
        let t = Duration::from_secs;
        m.observe(
            t(1),
            0,
            &status(0, 0, 0, json!({ "scanner": 2 })),
            &empty(),
            &empty(),
        );
        m.observe(
            t(2),
            0,
            &status(0, 0, 0, json!({ "scanner": 5 })),
            &empty(),
            &empty(),
        );
        m.observe(
            t(3),
            0,
            &status(0, 0, 0, json!({ "scanner": 5, "flood": 1 })),
            &empty(),
            &empty(),
        );
        m.observe(
            t(4),
            0,
            &status(0, 0, 0, json!({ "scanner": 6, "flood": 1 })),
            &empty(),
            &empty(),
        );
        assert_eq!(m.detectors["scanner"].total, 6);
        assert_eq!(m.detectors["scanner"].series, [3, 0, 1]);
        // Appeared with its first ban: that poll's point is its count, the
        // polls before it are zeros.
        assert_eq!(m.detectors["flood"].series, [0, 1, 0]);
        assert_eq!(m.detectors["flood"].total, 1);
    }

    #[test]
    fn series_and_detectors_stay_bounded_whatever_the_daemon_sends() {
        let mut m = Model::default();
        let made: serde_json::Map<String, Value> =
            (0..100).map(|i| (format!("d{i}"), json!(i))).collect();
        for i in 0..(SERIES as u64 + 50) {
            m.observe(
                Duration::from_secs(i + 1),
                0,
                &status(i, 0, i, Value::Object(made.clone())),
                &empty(),
                &empty(),
            );
        }
        assert_eq!(m.packet_series.len(), SERIES);
        assert_eq!(m.detectors.len(), MAX_DETECTORS);
        assert!(m.detectors.values().all(|d| d.series.len() <= SERIES));
    }

    #[test]
    fn the_newest_ban_comes_first_with_its_reason_escaped() {
        let mut m = Model::default();
        let bans = json!({ "bans": [
            { "addr": "192.0.2.66", "kind": "scanner", "reason": "old", "since": 100, "until": 4000 },
            { "addr": "192.0.2.77", "kind": "manual", "reason": "seen\u{1b}[2Jin\u{202e}tmux", "since": 200, "until": 3800 },
        ]});
        m.observe(
            Duration::from_secs(1),
            200,
            &status(0, 0, 0, json!({})),
            &bans,
            &empty(),
        );
        assert_eq!(m.bans[0].addr, "192.0.2.77");
        assert!(
            !m.bans[0].reason.contains('\u{1b}'),
            "{:?}",
            m.bans[0].reason
        );
        assert!(
            !m.bans[0].reason.contains('\u{202e}'),
            "{:?}",
            m.bans[0].reason
        );
        assert!(m.bans[0].reason.starts_with("seen"));
        assert_eq!(left(m.bans[0].until, m.now_epoch), "1h");
    }

    #[test]
    fn an_unreachable_daemon_is_said_and_the_next_answer_starts_new_rates() {
        let mut m = Model::default();
        m.observe(
            Duration::from_secs(1),
            0,
            &status(10, 0, 0, json!({})),
            &empty(),
            &empty(),
        );
        m.lost("cannot reach the daemon".into());
        assert!(m.unreachable.is_some());
        m.observe(
            Duration::from_secs(60),
            0,
            &status(70, 0, 0, json!({})),
            &empty(),
            &empty(),
        );
        assert!(m.unreachable.is_none());
        assert_eq!(m.packet_series.len(), 0, "the gap is no rate");
    }

    #[test]
    fn sparklines_show_any_activity_and_scale_to_the_largest() {
        let s: VecDeque<u64> = [0, 1, 4, 8].into_iter().collect();
        assert_eq!(sparkline(&s, 10), " ▁▄█");
        assert_eq!(sparkline(&s, 2), "▄█");
        assert_eq!(sparkline(&VecDeque::new(), 5), "");
    }

    #[test]
    fn rates_read_short() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(2.5), "2.5");
        assert_eq!(rate(340.4), "340");
        assert_eq!(rate(12_345.0), "12.3k");
    }

    /// The screen `m` draws on a 140x40 terminal, as text.
    fn render(m: &Model) -> String {
        let backend = ratatui::backend::TestBackend::new(140, 40);
        let mut t = ratatui::Terminal::new(backend).unwrap();
        t.draw(|f| draw(f, m, Duration::from_secs(1), Duration::from_secs(1)))
            .unwrap();
        t.backend()
            .buffer()
            .content()
            .chunks(140)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect()
    }

    #[test]
    fn the_screen_has_its_panes_and_a_ban_with_its_reason() {
        let mut m = Model::default();
        let bans = json!({ "bans": [
            { "addr": "192.0.2.77", "kind": "manual", "reason": "seen in tmux", "since": 1, "until": 3601 },
        ]});
        m.observe(
            Duration::from_secs(1),
            1,
            &status(0, 0, 0, json!({ "manual": 1 })),
            &bans,
            &empty(),
        );
        let screen = render(&m);
        for pane in [
            "Traffic",
            "Bans by detector",
            "Newest bans",
            "Pinholes",
            "Guard",
            "ESL",
        ] {
            assert!(screen.contains(pane), "no {pane}:\n{screen}");
        }
        let row = screen.lines().find(|l| l.contains("192.0.2.77")).unwrap();
        assert!(row.contains("seen in tmux") && row.contains("1h"), "{row}");
    }

    #[test]
    fn a_long_ipv6_ban_is_shown_whole_not_cut_into_another_address() {
        let mut m = Model::default();
        let addr = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff";
        let bans = json!({ "bans": [
            { "addr": addr, "kind": "bruteforce", "reason": "r", "since": 1, "until": 61 },
        ]});
        m.observe(
            Duration::from_secs(1),
            1,
            &status(0, 0, 0, json!({})),
            &bans,
            &empty(),
        );
        let screen = render(&m);
        assert!(screen.contains(addr), "{screen}");
        assert!(screen.contains("bruteforce"), "{screen}");
    }

    #[test]
    fn a_daemon_that_accepts_but_stops_answering_is_shown_as_silent() {
        let mut m = Model::default();
        let second = Duration::from_secs(1);
        assert_eq!(m.silent_for(Duration::from_secs(100), second), None);
        m.observe(
            Duration::from_secs(10),
            0,
            &status(0, 0, 0, json!({})),
            &empty(),
            &empty(),
        );
        assert_eq!(m.silent_for(Duration::from_secs(13), second), None);
        assert_eq!(
            m.silent_for(Duration::from_secs(30), second),
            Some(Duration::from_secs(20))
        );
    }

    #[test]
    fn pinholes_are_listed_soonest_to_close_first() {
        let mut m = Model::default();
        let calls = json!({ "pinholes": [
            { "key": "udp 192.0.2.1:20002 <- 192.0.2.2", "until": 500 },
            { "key": "udp 192.0.2.1:20000 <- 192.0.2.2", "until": 130 },
        ]});
        let mut st = status(0, 0, 0, json!({}));
        st["pinholes_open"] = json!(2);
        m.observe(Duration::from_secs(1), 100, &st, &empty(), &calls);
        assert_eq!(m.pinholes[0].key, "udp 192.0.2.1:20000 <- 192.0.2.2");
        let screen = render(&m);
        assert!(screen.contains("Pinholes / calls (2 open)"), "{screen}");
        let row = screen.lines().find(|l| l.contains(":20000")).unwrap();
        assert!(row.contains("30s"), "{row}");
    }

    #[test]
    fn q_esc_and_ctrl_c_quit_and_other_keys_do_not() {
        let k = |code, modifiers| event::KeyEvent::new(code, modifiers);
        assert!(quits(&k(KeyCode::Char('q'), KeyModifiers::NONE)));
        assert!(quits(&k(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(quits(&k(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!quits(&k(KeyCode::Char('c'), KeyModifiers::NONE)));
        assert!(!quits(&k(KeyCode::Char('x'), KeyModifiers::NONE)));
    }

    #[test]
    fn intervals_take_the_one_duration_syntax() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_interval("10ms").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
