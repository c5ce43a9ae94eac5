//! `sipwall replay --report FILE.html`: the replay as one self-contained
//! HTML page, for people who read a capture with their eyes.
//!
//! The page is built from the records replay already makes (each judged
//! packet's verdict and deciding rule, the engine's actions, the summary
//! JSON), so the page and `--format json` cannot disagree. Every text in
//! it may come from the capture (a User-Agent, a From tag in a ban's
//! evidence, a guard reason naming either), so each goes through
//! [`escape`]; the page also carries a Content-Security-Policy that runs
//! no script at all, so a slip of escaping still executes nothing. It is
//! bounded whatever the capture's size: at most [`DRAWN_PER_SOURCE`]
//! packets drawn per source (the rest as a density strip), at most
//! [`LISTED_SOURCES`] sources listed (the rest summed), at most
//! [`TRACKED_SOURCES`] sources counted apart; the page says what it
//! aggregated.

use serde_json::Value;
use sipwall_engine::{Action, Timestamp, Verdict};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Packets drawn one by one per source; later ones only fill its density strip.
pub const DRAWN_PER_SOURCE: usize = 200;
/// Sources given a row; the others are summed in one line.
pub const LISTED_SOURCES: usize = 100;
/// Sources counted one by one; packets of further sources are only summed.
/// With [`DRAWN_PER_SOURCE`] this bounds the packets kept to draw (about
/// 32 bytes each: 26 MB at most).
pub const TRACKED_SOURCES: usize = 4_096;
/// Distinct deciding-rule texts kept for the drawn packets' tooltips: a
/// guard decision can name a User-Agent, so a capture can make each one
/// differ.
const RULE_TEXTS: usize = 4_096;
/// Ban and pinhole markers kept; further ones are counted.
const MARKERS: usize = 5_000;
/// Rows of the rules table; the others are summed.
const LISTED_RULES: usize = 100;
/// Bins of a source's density strip.
const BINS: usize = 64;
/// Width of a timeline, in SVG user units.
const WIDTH: f64 = 1000.0;

/// HTML-escapes `s` for text and for double- or single-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a packet of a source was: the verdict on input, or output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Accept,
    Drop,
    Reject,
    Out,
}

impl Mark {
    const ALL: [Mark; 4] = [Mark::Accept, Mark::Drop, Mark::Reject, Mark::Out];

    fn class(self) -> &'static str {
        match self {
            Mark::Accept => "accept",
            Mark::Drop => "drop",
            Mark::Reject => "reject",
            Mark::Out => "out",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Packet counts by [`Mark`].
#[derive(Default, Clone, Copy)]
struct Counts([u64; 4]);

impl Counts {
    fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// A density over the capture's time that stays [`BINS`] wide: when a
/// packet falls beyond the last bin, neighbouring bins merge and each
/// covers twice the time.
struct Density {
    width_us: u64,
    bins: [[u32; 4]; BINS],
}

impl Density {
    fn new() -> Density {
        Density {
            width_us: 1_000_000,
            bins: [[0; 4]; BINS],
        }
    }

    fn add(&mut self, offset_us: u64, m: Mark) {
        while offset_us / self.width_us >= BINS as u64 {
            for i in 0..BINS / 2 {
                let (a, b) = (self.bins[2 * i], self.bins[2 * i + 1]);
                self.bins[i] = std::array::from_fn(|k| a[k].saturating_add(b[k]));
            }
            self.bins[BINS / 2..].fill([0; 4]);
            self.width_us *= 2;
        }
        let b = &mut self.bins[(offset_us / self.width_us) as usize][m.index()];
        *b = b.saturating_add(1);
    }
}

/// A drawn packet.
struct Drawn {
    at: Timestamp,
    n: u64,
    capture: u32,
    /// Into [`Report::rules`]; `u32::MAX` when that was full.
    rule_index: u32,
    mark: Mark,
}

/// One peer of the protected host.
struct Source {
    counts: Counts,
    first: Timestamp,
    drawn: Vec<Drawn>,
    density: Density,
}

/// A ban seen in the replay.
struct BanMark {
    target: String,
    /// The address, or the prefix a prefix ban covers.
    net: ipnet::IpNet,
    at: Timestamp,
    until: Timestamp,
    detector: &'static str,
    reason: String,
    evidence: String,
}

/// A pinhole opened or closed.
struct PinholeMark {
    at: Timestamp,
    open: bool,
    port: u16,
    text: String,
    why: &'static str,
}

/// The report being collected while replay runs.
pub struct Report {
    first: Option<Timestamp>,
    last: Timestamp,
    sources: HashMap<IpAddr, Source>,
    /// Packets of sources beyond [`TRACKED_SOURCES`].
    untracked: Counts,
    untracked_sources_seen: bool,
    /// Rule texts of drawn packets, interned: a page of many packets
    /// repeats few rules.
    rules: Vec<String>,
    rule_ids: HashMap<String, u32>,
    bans: Vec<BanMark>,
    pinholes: Vec<PinholeMark>,
    markers_dropped: u64,
}

impl Default for Report {
    fn default() -> Self {
        Report::new()
    }
}

impl Report {
    /// An empty report.
    pub fn new() -> Report {
        Report {
            first: None,
            last: Timestamp::from_micros(0),
            sources: HashMap::new(),
            untracked: Counts::default(),
            untracked_sources_seen: false,
            rules: Vec::new(),
            rule_ids: HashMap::new(),
            bans: Vec::new(),
            pinholes: Vec::new(),
            markers_dropped: 0,
        }
    }

    fn time(&mut self, now: Timestamp) -> u64 {
        let first = *self.first.get_or_insert(now);
        self.last = self.last.max(now);
        now.micros().saturating_sub(first.micros())
    }

    /// Notes a judged packet: `peer` is the remote end (the source of
    /// input, the destination of output); `verdict` is `None` for output.
    pub fn packet(
        &mut self,
        now: Timestamp,
        peer: IpAddr,
        verdict: Option<Verdict>,
        rule: &str,
        at: (usize, u64),
    ) {
        let offset = self.time(now);
        let mark = match verdict {
            None => Mark::Out,
            Some(Verdict::Accept) => Mark::Accept,
            Some(Verdict::Drop) => Mark::Drop,
            Some(Verdict::Reject) => Mark::Reject,
        };
        let tracked = self.sources.len() < TRACKED_SOURCES;
        let s = match self.sources.get_mut(&peer) {
            Some(s) => s,
            None if tracked => self.sources.entry(peer).or_insert(Source {
                counts: Counts::default(),
                first: now,
                drawn: Vec::new(),
                density: Density::new(),
            }),
            None => {
                self.untracked.0[mark.index()] += 1;
                self.untracked_sources_seen = true;
                return;
            }
        };
        s.counts.0[mark.index()] += 1;
        s.density.add(offset, mark);
        if s.drawn.len() < DRAWN_PER_SOURCE {
            let rule_index = match self.rule_ids.get(rule) {
                Some(&i) => i,
                None if self.rules.len() < RULE_TEXTS => {
                    self.rules.push(rule.to_owned());
                    let i = (self.rules.len() - 1) as u32;
                    self.rule_ids.insert(rule.to_owned(), i);
                    i
                }
                None => u32::MAX,
            };
            s.drawn.push(Drawn {
                at: now,
                mark,
                capture: u32::try_from(at.0).unwrap_or(u32::MAX),
                n: at.1,
                rule_index,
            });
        }
    }

    /// Notes the engine's actions at `now` (after a packet or a timer).
    pub fn actions(&mut self, now: Timestamp, actions: &[Action]) {
        if actions.is_empty() {
            return;
        }
        self.time(now);
        for a in actions {
            if self.bans.len() + self.pinholes.len() >= MARKERS {
                self.markers_dropped += 1;
                continue;
            }
            match a {
                Action::Ban {
                    addr,
                    until,
                    reason,
                    evidence,
                } => self.bans.push(BanMark {
                    target: addr.to_string(),
                    net: ipnet::IpNet::from(*addr),
                    at: now,
                    until: *until,
                    detector: reason.kind(),
                    reason: reason.to_string(),
                    evidence: evidence.clone(),
                }),
                Action::BanPrefix {
                    prefix,
                    until,
                    reason,
                    evidence,
                } => self.bans.push(BanMark {
                    target: prefix.to_string(),
                    net: *prefix,
                    at: now,
                    until: *until,
                    detector: reason.kind(),
                    reason: reason.to_string(),
                    evidence: evidence.clone(),
                }),
                Action::OpenPinhole { key, .. } => self.pinholes.push(PinholeMark {
                    at: now,
                    open: true,
                    port: key.port,
                    text: key.to_string(),
                    why: "",
                }),
                Action::ClosePinhole { key, reason } => self.pinholes.push(PinholeMark {
                    at: now,
                    open: false,
                    port: key.port,
                    text: key.to_string(),
                    why: super::replay::close_reason(*reason),
                }),
                _ => {}
            }
        }
    }

    fn span_us(&self) -> u64 {
        self.first
            .map_or(0, |f| self.last.micros().saturating_sub(f.micros()))
    }

    /// Time labels under the timeline's heading, where the timelines put
    /// those times (their viewBox starts 4 units left of time zero).
    fn axis(&self) -> String {
        let span = self.span_us();
        let mut a = String::from("<div class=\"axis\">");
        for q in 0..=4u64 {
            let left = 100.0 * (4.0 + WIDTH * q as f64 / 4.0) / (WIDTH + 8.0);
            let _ = write!(
                a,
                "<span class=\"q{q}\" style=\"left:{left:.2}%\">+{}</span>",
                human(span * q / 4)
            );
        }
        a.push_str("</div>");
        a
    }

    /// X of `t` on a timeline.
    fn x(&self, t: Timestamp) -> f64 {
        let Some(first) = self.first else { return 0.0 };
        let span = self.last.micros().saturating_sub(first.micros());
        if span == 0 {
            return 0.0;
        }
        let off = t.micros().saturating_sub(first.micros()).min(span);
        WIDTH * off as f64 / span as f64
    }

    fn rel(&self, t: Timestamp) -> String {
        let off = t
            .micros()
            .saturating_sub(self.first.map_or(0, |f| f.micros()));
        format!("+{}.{:06}s", off / 1_000_000, off % 1_000_000)
    }

    /// The page, from what was collected and replay's summary JSON.
    pub fn render(&self, summary: &Value, hosts: &[IpAddr]) -> String {
        let mut h = String::with_capacity(64 << 10);
        let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        let hosts = escape(&hosts.join(", "));
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
             <title>sipwall replay: {hosts}</title><style>{CSS}</style></head><body>\n\
             <h1>sipwall replay of traffic to {hosts}</h1>\n"
        );
        self.render_summary(&mut h, summary);
        self.render_timeline(&mut h);
        render_bans(&mut h, &self.bans, self);
        render_rules(&mut h, summary);
        h.push_str("</body></html>\n");
        h
    }

    fn render_summary(&self, h: &mut String, s: &Value) {
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let captures: Vec<String> = s["captures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(escape)
            .collect();
        let p = &s["packets"];
        let v = &s["verdicts"];
        let _ = write!(
            h,
            "<section id=\"summary\"><h2>Summary</h2><dl>\
             <dt>captures</dt><dd>{}</dd>\
             <dt>frames</dt><dd data-key=\"frames\">{}</dd>\
             <dt>span</dt><dd>{}</dd>\
             <dt>packets</dt><dd>{} in, {} out; {} elsewhere, {} not IP, {} unreadable, {} truncated</dd>\
             <dt>verdicts</dt><dd><span class=\"accept\">{} accept</span>, <span class=\"drop\">{} drop</span>, <span class=\"reject\">{} reject</span></dd>\
             <dt>bans</dt><dd data-key=\"bans\">{}</dd>\
             <dt>pinholes</dt><dd data-key=\"pinholes\">{} opened, {} closed</dd>\
             <dt>malformed SIP</dt><dd>{}</dd></dl>",
            captures.join("<br>"),
            n(&s["frames"]),
            self.first.map_or_else(|| "no packet judged".into(), |_| self.rel(self.last)),
            n(&p["in"]),
            n(&p["out"]),
            n(&p["elsewhere"]),
            n(&p["not_ip"]),
            n(&p["unreadable"]),
            n(&p["truncated"]),
            n(&v["accept"]),
            n(&v["drop"]),
            n(&v["reject"]),
            s["bans"].as_array().map_or(0, Vec::len),
            n(&s["pinholes"]["opened"]),
            n(&s["pinholes"]["closed"]),
            n(&s["malformed_sip"]["total"]),
        );
        for c in s["cut"].as_array().into_iter().flatten() {
            let _ = write!(
                h,
                "<p class=\"warning\">{} is cut after {} frames: {}; the rest is not judged.</p>",
                escape(c["path"].as_str().unwrap_or("")),
                n(&c["frames_read"]),
                escape(c["why"].as_str().unwrap_or(""))
            );
        }
        for pr in s["problems"].as_array().into_iter().flatten() {
            let _ = write!(
                h,
                "<p class=\"warning\">{}</p>",
                escape(pr.as_str().unwrap_or(""))
            );
        }
        if s["not_modelled"]["h323_helper_assigned"] == true {
            let _ = write!(
                h,
                "<p class=\"warning\">The ruleset assigns an H.323 helper replay does not model: {} refused packets may have been admitted.</p>",
                n(&s["not_modelled"]["h323"])
            );
        }
        h.push_str("</section>\n");
    }

    fn render_timeline(&self, h: &mut String) {
        let mut rows: Vec<(&IpAddr, &Source)> = self.sources.iter().collect();
        let banned = |a: &IpAddr| self.bans.iter().any(|b| b.net.contains(a));
        // Banned sources first (what the page is usually opened for), then
        // the busiest; the address breaks ties so the page is stable.
        rows.sort_by(|a, b| {
            banned(b.0)
                .cmp(&banned(a.0))
                .then(b.1.counts.total().cmp(&a.1.counts.total()))
                .then(a.1.first.cmp(&b.1.first))
                .then(a.0.cmp(b.0))
        });
        let _ = writeln!(
            h,
            "<section id=\"timeline\"><h2>Timeline per source</h2>\
             <p class=\"legend\">From {} to {}, capture time ({}). Packets: \
             <span class=\"accept\">accepted</span>, <span class=\"drop\">dropped</span>, \
             <span class=\"reject\">rejected</span>, <span class=\"out\">sent by the host</span>; \
             <span class=\"ban\">&#9660; ban</span>, <span class=\"pinhole\">&#9679; pinhole</span>. \
             Hover a mark for its details.</p><table>\
             <tr><th>source</th><th>packets</th><th>timeline{}</th></tr>",
            self.first.map_or_else(|| "-".into(), utc),
            self.first.map_or_else(|| "-".into(), |_| utc(self.last)),
            self.first.map_or_else(|| "0s".into(), |_| human(self.span_us())),
            self.axis(),
        );
        self.render_pinhole_lane(h);
        for (addr, s) in rows.iter().take(LISTED_SOURCES) {
            self.render_source(h, addr, s);
        }
        h.push_str("</table>\n");
        let (listed, rest) = rows.split_at(rows.len().min(LISTED_SOURCES));
        let mut summed = self.untracked;
        for (_, s) in rest {
            for m in Mark::ALL {
                summed.0[m.index()] += s.counts.0[m.index()];
            }
        }
        let aggregated_drawing = listed
            .iter()
            .filter(|(_, s)| s.counts.total() > DRAWN_PER_SOURCE as u64)
            .count();
        if aggregated_drawing > 0 {
            let _ = write!(
                h,
                "<p class=\"aggregated\" data-what=\"packets\">{aggregated_drawing} sources have more than {DRAWN_PER_SOURCE} packets: \
                 their first {DRAWN_PER_SOURCE} are drawn one by one, all of them in the shaded density strip.</p>"
            );
        }
        if !rest.is_empty() || self.untracked_sources_seen {
            let more = if self.untracked_sources_seen {
                format!("more than {}", rest.len())
            } else {
                rest.len().to_string()
            };
            let _ = write!(
                h,
                "<p class=\"aggregated\" data-what=\"sources\">{more} more sources not listed (only the first {LISTED_SOURCES}, banned ones first, then the busiest): \
                 {} packets, {} accepted, {} dropped, {} rejected, {} sent to them.</p>",
                summed.total(),
                summed.0[0],
                summed.0[1],
                summed.0[2],
                summed.0[3]
            );
        }
        h.push_str("</section>\n");
    }

    fn render_pinhole_lane(&self, h: &mut String) {
        let _ = write!(
            h,
            "<tr class=\"pinholes\"><td>media pinholes</td><td>{} opened, {} closed</td><td><svg viewBox=\"-4 0 {} 20\" preserveAspectRatio=\"none\">",
            self.pinholes.iter().filter(|p| p.open).count(),
            self.pinholes.iter().filter(|p| !p.open).count(),
            WIDTH + 8.0
        );
        for p in &self.pinholes {
            let (class, y, verb) = if p.open {
                ("pinhole open", 6, "open")
            } else {
                ("pinhole close", 14, "close")
            };
            let why = if p.why.is_empty() {
                String::new()
            } else {
                format!(" ({})", p.why)
            };
            let _ = write!(
                h,
                "<g class=\"{class}\" data-port=\"{}\"><circle cx=\"{:.2}\" cy=\"{y}\" r=\"3\"/><title>{} {verb} pinhole {}{}</title></g>",
                p.port,
                self.x(p.at),
                self.rel(p.at),
                escape(&p.text),
                why
            );
        }
        h.push_str("</svg></td></tr>\n");
    }

    fn render_source(&self, h: &mut String, addr: &IpAddr, s: &Source) {
        let c = &s.counts;
        let _ = write!(
            h,
            "<tr class=\"source\" data-addr=\"{addr}\"><td class=\"addr\">{addr}</td>\
             <td class=\"counts\">{} in: {} accepted, {} dropped, {} rejected; {} out</td>\
             <td><svg viewBox=\"-4 0 {} 28\" preserveAspectRatio=\"none\">",
            c.0[0] + c.0[1] + c.0[2],
            c.0[0],
            c.0[1],
            c.0[2],
            c.0[3],
            WIDTH + 8.0
        );
        if c.total() > s.drawn.len() as u64 {
            self.render_density(h, s);
        }
        for d in &s.drawn {
            let _ = write!(
                h,
                "<rect class=\"pkt {}\" x=\"{:.2}\" {} width=\"1.5\"><title>#{}{} {} {}: {}</title></rect>",
                d.mark.class(),
                self.x(d.at),
                // What the host sent sits below what it received.
                if d.mark == Mark::Out { "y=\"18\" height=\"5\"" } else { "y=\"7\" height=\"10\"" },
                d.n,
                if d.capture > 0 { format!(" of capture {}", d.capture + 1) } else { String::new() },
                self.rel(d.at),
                d.mark.class(),
                self.rules
                    .get(d.rule_index as usize)
                    .map_or_else(|| "(rule not kept: too many distinct rules)".into(), |r| escape(r))
            );
        }
        // A prefix ban is marked on each listed source inside it.
        for b in self.bans.iter().filter(|b| b.net.contains(addr)) {
            let x = self.x(b.at);
            // How long the ban held within the capture.
            let end = self.x(b.until.min(self.last));
            let _ = write!(
                h,
                "<g class=\"ban\" data-addr=\"{addr}\" data-target=\"{}\" data-detector=\"{}\"><path d=\"M{:.2} 6 l-4 -6 h8 z\"/><rect class=\"ban-span\" x=\"{x:.2}\" y=\"0\" width=\"{:.2}\" height=\"1.5\"/><title>{} ban of {} until {}: {} ({})</title></g>",
                escape(&b.target),
                escape(b.detector),
                x,
                (end - x).max(0.0),
                self.rel(b.at),
                escape(&b.target),
                self.rel(b.until),
                escape(&b.reason),
                escape(&b.evidence)
            );
        }
        h.push_str("</svg></td></tr>\n");
    }

    fn render_density(&self, h: &mut String, s: &Source) {
        let Some(first) = self.first else { return };
        let max = s
            .density
            .bins
            .iter()
            .map(|b| b.iter().map(|&n| u64::from(n)).sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1);
        for (i, b) in s.density.bins.iter().enumerate() {
            let total: u64 = b.iter().map(|&n| u64::from(n)).sum();
            if total == 0 {
                continue;
            }
            let start = Timestamp::from_micros(first.micros() + i as u64 * s.density.width_us);
            let end = Timestamp::from_micros(first.micros() + (i as u64 + 1) * s.density.width_us);
            let dominant = Mark::ALL
                .into_iter()
                .max_by_key(|m| b[m.index()])
                .unwrap_or(Mark::Out);
            let (x0, x1) = (self.x(start), self.x(end));
            let _ = write!(
                h,
                "<rect class=\"density {}\" x=\"{x0:.2}\" y=\"24\" width=\"{:.2}\" height=\"4\" opacity=\"{:.2}\"><title>{} to {}: {total} packets ({} accepted, {} dropped, {} rejected, {} out)</title></rect>",
                dominant.class(),
                (x1 - x0).max(1.0),
                0.2 + 0.8 * total as f64 / max as f64,
                self.rel(start),
                self.rel(end),
                b[0],
                b[1],
                b[2],
                b[3]
            );
        }
    }
}

/// A capture time as UTC, to the second.
fn utc(t: Timestamp) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(t.micros());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A duration as people read it on an axis: `45s`, `12m30s`, `3h12m`, `2d4h`.
fn human(us: u64) -> String {
    let s = us / 1_000_000;
    match s {
        0 if us > 0 => format!("{}ms", us / 1000),
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn render_bans(h: &mut String, bans: &[BanMark], r: &Report) {
    let _ = writeln!(
        h,
        "<section id=\"bans\"><h2>Bans</h2><table><tr><th>target</th><th>at</th><th>until</th><th>detector</th><th>reason</th><th>evidence</th></tr>"
    );
    for b in bans {
        let _ = writeln!(
            h,
            "<tr class=\"ban-row\" data-target=\"{}\" data-detector=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"detector\">{}</td><td class=\"reason\">{}</td><td class=\"evidence\">{}</td></tr>",
            escape(&b.target),
            escape(b.detector),
            escape(&b.target),
            r.rel(b.at),
            r.rel(b.until),
            escape(b.detector),
            escape(&b.reason),
            escape(&b.evidence)
        );
    }
    h.push_str("</table>");
    if bans.is_empty() {
        h.push_str("<p>No ban.</p>");
    }
    if r.markers_dropped > 0 {
        let _ = write!(
            h,
            "<p class=\"aggregated\" data-what=\"markers\">{} more bans and pinhole changes not shown (only the first {MARKERS} are).</p>",
            r.markers_dropped
        );
    }
    h.push_str("</section>\n");
}

fn render_rules(h: &mut String, summary: &Value) {
    let mut rules: Vec<(&str, u64)> = summary["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["rule"].as_str().unwrap_or(""),
                r["packets"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    h.push_str(
        "<section id=\"rules\"><h2>Input decided by</h2><table><tr><th>packets</th><th>rule</th></tr>\n",
    );
    for (rule, n) in rules.iter().take(LISTED_RULES) {
        let _ = writeln!(
            h,
            "<tr class=\"rule\"><td class=\"count\">{n}</td><td class=\"rule-text\">{}</td></tr>",
            escape(rule)
        );
    }
    h.push_str("</table>");
    if rules.len() > LISTED_RULES {
        let rest = &rules[LISTED_RULES..];
        let _ = write!(
            h,
            "<p class=\"aggregated\" data-what=\"rules\">{} more rules decided {} packets.</p>",
            rest.len(),
            rest.iter().map(|r| r.1).sum::<u64>()
        );
    }
    h.push_str("</section>\n");
}

const CSS: &str = "body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222}\
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}\
table{border-collapse:collapse;width:100%}td,th{padding:2px 6px;text-align:left;vertical-align:top;border-bottom:1px solid #eee}\
td.addr,td.count{font-family:monospace;white-space:nowrap}td.counts{white-space:nowrap;font-size:.85em}\
svg{width:100%;height:28px;display:block}\
.pkt.accept,.density.accept{fill:#2a9d4b}.pkt.drop,.density.drop{fill:#d62828}.pkt.reject,.density.reject{fill:#f77f00}\
.pkt.out,.density.out{fill:#9aa0a6}.ban path{fill:#6a040f}.pinhole.open circle{fill:#0077b6}.pinhole.close circle{fill:#90e0ef;stroke:#0077b6}\
span.accept{color:#2a9d4b}span.drop{color:#d62828}span.reject{color:#f77f00}span.out{color:#9aa0a6}span.ban{color:#6a040f}span.pinhole{color:#0077b6}\
.warning{color:#b00}.aggregated{font-style:italic}td.evidence{font-family:monospace;font-size:.85em;word-break:break-all}\
.axis{position:relative;height:1.2em;font-weight:normal;font-size:.8em;color:#666}\
.axis span{position:absolute;transform:translateX(-50%);white-space:nowrap}.axis .q0{transform:none}.axis .q4{transform:translateX(-100%)}\
.ban-span{fill:#6a040f;opacity:.5}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dd{margin:0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_the_five_characters_html_gives_meaning() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("friendly-scanner é"), "friendly-scanner é");
        assert_eq!(
            escape("&amp;"),
            "&amp;amp;",
            "escaping twice is visible, not undone"
        );
    }

    #[test]
    fn axis_durations_read_like_the_bans_list() {
        assert_eq!(human(0), "0s");
        assert_eq!(human(2_500), "2ms");
        assert_eq!(human(45_000_000), "45s");
        assert_eq!(human(750_000_000), "12m30s");
        assert_eq!(human(11_520_000_000), "3h12m");
        assert_eq!(human(187_200_000_000), "2d4h");
    }

    #[test]
    fn user_agents_that_make_every_rule_differ_keep_a_bounded_set_of_rule_texts() {
        let mut r = Report::new();
        for i in 0..(RULE_TEXTS as u32 + 500) {
            r.packet(
                Timestamp::from_micros(u64::from(i)),
                IpAddr::from((0xc633_6400u32 + i).to_be_bytes()),
                Some(Verdict::Drop),
                &format!("guard: scanner: User-Agent \"friendly-scanner {i}\""),
                (0, 1),
            );
        }
        assert_eq!(r.rules.len(), RULE_TEXTS);
        assert_eq!(r.rule_ids.len(), RULE_TEXTS);
    }

    #[test]
    fn a_density_keeps_its_bins_and_its_counts_over_any_span() {
        let mut d = Density::new();
        for s in 0..10_000u64 {
            d.add(s * 3_600 * 1_000_000, Mark::Drop);
        }
        let total: u64 = d
            .bins
            .iter()
            .map(|b| u64::from(b[Mark::Drop.index()]))
            .sum();
        assert_eq!(total, 10_000);
        assert!(d.width_us * BINS as u64 > 9_999 * 3_600 * 1_000_000);
    }

    #[test]
    fn a_page_of_many_sources_and_packets_is_bounded() {
        let mut r = Report::new();
        for i in 0..20_000u32 {
            let peer = IpAddr::from((0xcb00_7100u32 + (i % 12_000)).to_be_bytes());
            r.packet(
                Timestamp::from_micros(u64::from(i) * 1000),
                peer,
                Some(Verdict::Drop),
                "policy",
                (0, u64::from(i)),
            );
        }
        for _ in 0..5_000 {
            r.packet(
                Timestamp::from_micros(30_000_000),
                "203.0.113.9".parse().unwrap(),
                Some(Verdict::Accept),
                "rule",
                (0, 1),
            );
        }
        assert_eq!(r.sources.len(), TRACKED_SOURCES);
        let page = r.render(&serde_json::json!({}), &[]);
        assert_eq!(page.matches("class=\"source\"").count(), LISTED_SOURCES);
        assert!(page.matches("<rect class=\"pkt").count() <= LISTED_SOURCES * DRAWN_PER_SOURCE);
        assert!(
            page.contains("data-what=\"sources\""),
            "says what it summed"
        );
        assert!(
            page.contains("data-what=\"packets\""),
            "says what it did not draw"
        );
        assert!(page.len() < 4 << 20, "{} bytes", page.len());
    }
}
