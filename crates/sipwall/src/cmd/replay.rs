//! `sipwall replay`: the guard engine over captures, packet by packet, with
//! the capture's timestamps as the engine's time.
//!
//! Packets to a protected host (`--host`, or inferred) are judged as input,
//! packets from it pass as output (the engine still reads their SIP: the
//! host's answers are what reveal brute force and open pinholes); the rest
//! is counted and left aside. Exit 0 when every capture was read to its
//! end, 2 when one could not be opened or stopped early (everything read
//! before that is still judged and reported). Bans are findings of the
//! capture, not failures of the command: they are in the summary. The JSON
//! shape is documented in docs/replay.md.

use super::policy::PolicyArgs;
use super::Format;
use crate::capture::{self, Capture};
use crate::exit::{Failure, Outcome, Success};
use anyhow::anyhow;
use clap::Args;
use serde_json::{json, Value};
use sipwall_engine::{
    Action, CloseReason, DecidedBy, Direction, Engine, Packet, Timestamp, Transport, Verdict,
};
use sipwall_policy::{Kind, Policy, Protocol};
use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Captures larger than this (in total) get a progress bar on a terminal.
const PROGRESS_FROM_BYTES: u64 = 4 << 20;
/// Output is handed to stdout in chunks of about this size.
const CHUNK: usize = 64 << 10;

/// Arguments of `sipwall replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// pcap or pcapng files, replayed in order through one engine.
    #[arg(required = true, value_name = "CAPTURE")]
    captures: Vec<PathBuf>,
    /// The protected host (repeatable): packets to it are input, from it
    /// output, the rest is not judged. Without it: the destination of the
    /// first request sent to a SIP port of the policy.
    #[arg(long = "host", value_name = "ADDR")]
    hosts: Vec<IpAddr>,
    /// Print only the summary, not a line per packet.
    #[arg(long)]
    summary_only: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write a self-contained HTML page of the replay to FILE
    /// (docs/replay.md, "The HTML report").
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// The SIP ports of a policy, per transport.
struct SipPorts {
    udp: Vec<sipwall_policy::PortRange>,
    tcp: Vec<sipwall_policy::PortRange>,
}

impl SipPorts {
    fn of(policy: &Policy) -> SipPorts {
        SipPorts {
            udp: policy.ports_of(Kind::Sip, Protocol::Udp),
            tcp: policy.ports_of(Kind::Sip, Protocol::Tcp),
        }
    }

    /// The packet is a request (not an answer) to one of these ports.
    fn is_request_to(&self, p: &Packet<'_>) -> bool {
        let (ranges, dport) = match p.transport {
            Transport::Udp { dport, .. } => (&self.udp, dport),
            Transport::Tcp { dport, .. } => (&self.tcp, dport),
            _ => return false,
        };
        ranges.iter().any(|r| r.contains(dport))
            && !p.payload.is_empty()
            && !p.payload.starts_with(b"SIP/2.0")
    }
}

/// What a capture that ends early is told as: how far it was read, and
/// where its records stop being whole.
fn damage_note(path: &std::path::Path, frames: u64, why: &str) -> String {
    let at = match capture::cut(path) {
        Some(c) => format!(
            ", cut inside a record: the last whole record ends at byte {} of {}",
            c.intact, c.len
        ),
        None => String::new(),
    };
    format!(
        "{}: reading stopped after frame {frames}{at}: {why}",
        path.display()
    )
}

/// What replay does not model of `nf_conntrack_h323`. When the ruleset
/// assigns the Q.931 or RAS helper, the kernel reads H.225/H.245 on those
/// connections and expects the H.245 and media connections they announce,
/// which then arrive `related` and pass `ct state established,related`;
/// the engine models the H.245 address of a Setup or Connect and the
/// media of an OpenLogicalChannelAck (`sipwall_engine::h323`), and judges
/// the rest as new. An expectation can only
/// turn a refusal into an acceptance, so the packets replay cannot judge
/// faithfully are the ones it refused that come from a peer of an accepted
/// Q.931 or RAS exchange (the expectations name the call's endpoints): each
/// is marked, and counted. Once a peer, always: media that started
/// `related` stays established in the kernel after the call signalling ends.
struct H323Blind {
    q931: Vec<sipwall_policy::PortRange>,
    ras: Vec<sipwall_policy::PortRange>,
    peers: std::collections::HashSet<IpAddr>,
}

/// H.323 peers remembered; past this every refused packet is marked.
const MAX_H323_PEERS: usize = 65_536;

impl H323Blind {
    /// `None` when the ruleset assigns no H.323 helper: nothing is unseen.
    fn of(policy: &Policy, engine: &Engine) -> Option<H323Blind> {
        let assigned = |kind| engine.ruleset().helpers.iter().any(|h| h.kind == kind);
        let ports = |kind, proto| -> Vec<sipwall_policy::PortRange> {
            policy
                .services_of(kind)
                .filter(|s| s.protocols.contains(&proto))
                .flat_map(|s| s.ports.iter().copied())
                .collect()
        };
        let q931 = if assigned("Q.931") {
            ports(Kind::H323Q931, Protocol::Tcp)
        } else {
            Vec::new()
        };
        let ras = if assigned("RAS") {
            ports(Kind::H323Ras, Protocol::Udp)
        } else {
            Vec::new()
        };
        (!q931.is_empty() || !ras.is_empty()).then(|| H323Blind {
            q931,
            ras,
            peers: Default::default(),
        })
    }

    /// Notes a judged packet; true when its verdict may not be the kernel's.
    fn unseen(&mut self, p: &Packet<'_>, dir: Direction, verdict: Verdict) -> bool {
        let (ranges, sport, dport) = match p.transport {
            Transport::Tcp { sport, dport, .. } => (&self.q931, sport, dport),
            Transport::Udp { sport, dport } => (&self.ras, sport, dport),
            _ => (&self.q931, 0, 0),
        };
        let on = |port| ranges.iter().any(|r| r.contains(port));
        let (signalling, peer) = match dir {
            Direction::In => (on(dport), p.src),
            Direction::Out => (on(sport) || on(dport), p.dst),
        };
        if signalling {
            if verdict == Verdict::Accept && self.peers.len() < MAX_H323_PEERS {
                self.peers.insert(peer);
            }
            return false;
        }
        dir == Direction::In
            && verdict != Verdict::Accept
            && (self.peers.contains(&peer) || self.peers.len() >= MAX_H323_PEERS)
    }
}

/// The host of the first request to a SIP port, with where it was found.
fn infer_host(captures: &[PathBuf], ports: &SipPorts) -> Result<(IpAddr, String), Failure> {
    let mut damaged = Vec::new();
    for path in captures {
        let (mut cap, _) = Capture::open(path).map_err(Failure::bad_input)?;
        let mut n = 0u64;
        while let Some(frame) = cap.next_frame() {
            n += 1;
            let Some(p) = frame.ip.and_then(|ip| Packet::parse(ip).ok()) else {
                continue;
            };
            if ports.is_request_to(&p) {
                let (_, dport) = p.ports().unwrap_or_default();
                return Ok((
                    p.dst,
                    format!(
                        "the destination of packet #{n} of {}, to SIP port {dport}",
                        path.display()
                    ),
                ));
            }
        }
        if let Some(why) = cap.damaged() {
            damaged.push(damage_note(path, n, why));
        }
    }
    // A capture cut short may have lost the request that would have told:
    // say so, or the truncation hides behind "no host".
    let also = damaged.iter().map(|d| format!("\n{d}")).collect::<String>();
    Err(Failure::bad_input(anyhow!(
        "cannot tell the protected host: no request to a SIP port of the policy in the captures; give --host ADDR{also}"
    )))
}

/// What the summary counts.
#[derive(Default)]
struct Tally {
    frames: u64,
    not_ip: u64,
    truncated: u64,
    unreadable: u64,
    elsewhere: u64,
    input: u64,
    output: u64,
    verdicts: BTreeMap<&'static str, u64>,
    rules: BTreeMap<String, u64>,
    bans: Vec<BanRow>,
    allowed: Vec<(IpAddr, Timestamp)>,
    pinholes_opened: u64,
    pinholes_closed: u64,
    /// Malformed SIP messages (either direction), per kind of fault.
    malformed: Vec<(&'static str, u64)>,
    cuts: Vec<CutRow>,
    /// Whether the ruleset assigns an H.323 helper replay does not model.
    h323_assigned: bool,
    /// Packets refused that the H.323 helper may have admitted.
    h323_unseen: u64,
    first: Option<Timestamp>,
    last: Timestamp,
}

/// A capture that ended inside a record.
struct CutRow {
    capture: usize,
    frames: u64,
    at: Option<capture::Cut>,
    why: String,
}

struct BanRow {
    addr: IpAddr,
    at: Timestamp,
    until: Timestamp,
    reason: String,
    kind: &'static str,
    evidence: String,
    packet: Option<(usize, u64)>,
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accept",
        Verdict::Drop => "drop",
        Verdict::Reject => "reject",
    }
}

fn proto_name(t: &Transport) -> String {
    match t {
        Transport::Udp { .. } => "udp".into(),
        Transport::Tcp { .. } => "tcp".into(),
        Transport::Icmp { .. } => "icmp".into(),
        Transport::Icmpv6 { .. } => "icmpv6".into(),
        Transport::Other { proto } => format!("ip-proto-{proto}"),
    }
}

fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    match port {
        Some(p) => SocketAddr::new(addr, p).to_string(),
        None => addr.to_string(),
    }
}

/// Seconds since the epoch, for JSON (microsecond precision).
fn secs(t: Timestamp) -> f64 {
    t.micros() as f64 / 1e6
}

/// Seconds since the first packet, for people.
fn rel(t: Timestamp, first: Option<Timestamp>) -> String {
    let d = t.micros() as i128 - first.map_or(0, |f| f.micros() as i128);
    let sign = if d < 0 { "-" } else { "+" };
    let d = d.unsigned_abs();
    format!("{sign}{}.{:06}", d / 1_000_000, d % 1_000_000)
}

pub(super) fn close_reason(r: CloseReason) -> &'static str {
    match r {
        CloseReason::CallEnded => "call-ended",
        CloseReason::Moved => "moved",
        CloseReason::Expired => "expired",
    }
}

fn action_json(a: &Action) -> Value {
    match a {
        Action::Ban {
            addr,
            until,
            reason,
            evidence,
        } => json!({"kind": "ban", "addr": addr.to_string(), "until": secs(*until),
                    "reason": reason.to_string(), "reason_kind": reason.kind(), "evidence": evidence}),
        Action::BanPrefix {
            prefix,
            until,
            reason,
            evidence,
        } => json!({"kind": "ban-prefix", "prefix": prefix.to_string(), "until": secs(*until),
                    "reason": reason.to_string(), "reason_kind": reason.kind(), "evidence": evidence}),
        Action::BanSuppressed {
            addr,
            reason,
            evidence,
            why,
        } => {
            json!({"kind": "ban-suppressed", "addr": addr.to_string(), "reason": reason.to_string(),
                    "reason_kind": reason.kind(), "evidence": evidence, "why": why.to_string()})
        }
        Action::Verified { addr, until } => {
            json!({"kind": "verified", "addr": addr.to_string(), "until": secs(*until)})
        }
        Action::Unban { addr } => json!({"kind": "unban", "addr": addr.to_string()}),
        Action::UnbanPrefix { prefix } => {
            json!({"kind": "unban-prefix", "prefix": prefix.to_string()})
        }
        Action::BanExpired { addr } => json!({"kind": "ban-expired", "addr": addr.to_string()}),
        Action::Allow { addr, until } => {
            json!({"kind": "allow", "addr": addr.to_string(), "until": secs(*until)})
        }
        Action::OpenPinhole { key, until } => json!({"kind": "open-pinhole", "port": key.port,
                    "remote": key.remote.map(|r| r.to_string()), "until": secs(*until)}),
        Action::ClosePinhole { key, reason } => json!({"kind": "close-pinhole", "port": key.port,
                    "remote": key.remote.map(|r| r.to_string()), "reason": close_reason(*reason)}),
    }
}

fn action_text(a: &Action, first: Option<Timestamp>) -> String {
    match a {
        Action::Ban {
            addr,
            until,
            reason,
            ..
        } => format!("ban {addr} until {} ({reason})", rel(*until, first)),
        Action::BanPrefix {
            prefix,
            until,
            reason,
            ..
        } => format!("ban {prefix} until {} ({reason})", rel(*until, first)),
        Action::BanSuppressed {
            addr, reason, why, ..
        } => format!("no ban of {addr} ({reason}): {why}"),
        Action::Verified { addr, until } => {
            format!("verified {addr} until {}", rel(*until, first))
        }
        Action::Unban { addr } => format!("unban {addr}"),
        Action::UnbanPrefix { prefix } => format!("unban {prefix}"),
        Action::BanExpired { addr } => format!("ban of {addr} expired"),
        Action::Allow { addr, until } => {
            format!("allow {addr} until {} (registered)", rel(*until, first))
        }
        Action::OpenPinhole { key, until } => {
            format!("open pinhole {key} until {}", rel(*until, first))
        }
        Action::ClosePinhole { key, reason } => {
            format!("close pinhole {key} ({})", close_reason(*reason))
        }
    }
}

impl Tally {
    /// The kinds of the malformed messages counted since the last call
    /// (the engine's running counts, `by`, against the tally's).
    fn malformed_kinds(&mut self, by: &[(&'static str, u64)]) -> Vec<&'static str> {
        let mut new = Vec::new();
        for &(kind, n) in by {
            match self.malformed.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, seen)) => {
                    new.extend(std::iter::repeat_n(kind, (n - *seen) as usize));
                    *seen = n;
                }
                None => {
                    new.extend(std::iter::repeat_n(kind, n as usize));
                    self.malformed.push((kind, n));
                }
            }
        }
        new
    }

    fn note(&mut self, now: Timestamp, a: &Action, packet: Option<(usize, u64)>) {
        match a {
            Action::Ban {
                addr,
                until,
                reason,
                evidence,
            } => self.bans.push(BanRow {
                addr: *addr,
                at: now,
                until: *until,
                reason: reason.to_string(),
                kind: reason.kind(),
                evidence: evidence.clone(),
                packet,
            }),
            Action::Allow { addr, until } => self.allowed.push((*addr, *until)),
            Action::OpenPinhole { .. } => self.pinholes_opened += 1,
            Action::ClosePinhole { .. } => self.pinholes_closed += 1,
            _ => {}
        }
    }
}

/// Where output goes: stdout in chunks, around the progress bar if any.
struct Out {
    buf: Vec<u8>,
    bar: Option<indicatif::ProgressBar>,
    /// With a report to write, a reader that goes away (`| head`) ends
    /// the output, not the replay: the page is still written.
    outlive_reader: bool,
    reader_gone: bool,
}

impl Out {
    fn line(&mut self, s: std::fmt::Arguments<'_>) {
        let _ = self.buf.write_fmt(s);
        self.buf.push(b'\n');
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if self.reader_gone {
            return;
        }
        let write = || {
            let mut so = std::io::stdout().lock();
            so.write_all(&buf).and_then(|()| so.flush())
        };
        let written = match &self.bar {
            Some(b) => b.suspend(write),
            None => write(),
        };
        match written {
            Ok(()) => {}
            Err(e) if self.outlive_reader && e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.reader_gone = true;
            }
            // A reader that went away ends the replay (see `exit::stdout_failed`).
            Err(e) => crate::exit::stdout_failed(e),
        }
    }
}

/// Runs `sipwall replay`.
pub fn run(a: ReplayArgs) -> Outcome {
    let loaded = a.policy.load()?;
    let ports = SipPorts::of(&loaded.policy);
    let hosts = if a.hosts.is_empty() {
        let (h, how) = infer_host(&a.captures, &ports)?;
        eprintln!("replay: protected host {h} ({how}); --host ADDR to choose");
        vec![h]
    } else {
        a.hosts.clone()
    };
    let mut engine = Engine::new(&loaded.policy, &loaded.source);
    // As `sipwall run` does, so that a replay shows its prefix bans too.
    engine.aggregate_prefixes(sipwall_engine::bans::PrefixPolicy::from(
        &loaded.policy.bans,
    ));
    let total: u64 = a
        .captures
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = (std::io::stdout().is_terminal() && total >= PROGRESS_FROM_BYTES).then(|| {
        let b = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("a valid template"),
        );
        b
    });
    let mut out = Out {
        buf: Vec::with_capacity(CHUNK * 2),
        bar,
        outlive_reader: a.report.is_some(),
        reader_gone: false,
    };
    let json = a.format == Format::Json;
    let per_packet = !a.summary_only;
    let mut tally = Tally::default();
    // Created before the replay: a path that cannot be written should not
    // cost the reading of a large capture first.
    let mut report_file = match &a.report {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| {
            Failure::bad_input(anyhow!("cannot write the report {}: {e}", path.display()))
        })?),
        None => None,
    };
    let mut page = a.report.as_ref().map(|_| super::report::Report::new());
    let mut h323 = H323Blind::of(&loaded.policy, &engine);
    tally.h323_assigned = h323.is_some();
    let mut timers: Vec<Value> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut first_json = true;
    let mut done_bytes = 0u64;
    if json {
        let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        out.line(format_args!(
            "{{\"hosts\":{},\"packets\":[",
            serde_json::to_string(&hosts).expect("strings serialize")
        ));
    }
    for (ci, path) in a.captures.iter().enumerate() {
        let (mut cap, pos) = match Capture::open(path) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("{e:#}"));
                continue;
            }
        };
        if !json && per_packet && a.captures.len() > 1 {
            out.line(format_args!("== {}", path.display()));
        }
        let mut n = 0u64;
        while let Some(frame) = cap.next_frame() {
            n += 1;
            tally.frames += 1;
            if n % 4096 == 0 {
                if let Some(b) = &out.bar {
                    b.set_position(done_bytes + pos.bytes());
                }
            }
            // Time never runs backwards for the engine, even across captures.
            let now = Timestamp::from_micros(frame.micros).max(tally.last);
            tally.last = now;
            let first = *tally.first.get_or_insert(now);
            run_timers(&mut engine, now, &mut tally, |t, acts| {
                if let Some(r) = page.as_mut() {
                    r.actions(t, acts);
                }
                if per_packet && !acts.is_empty() {
                    if json {
                        timers.push(json!({"time": secs(t), "actions": acts.iter().map(action_json).collect::<Vec<_>>()}));
                    } else {
                        let list: Vec<String> =
                            acts.iter().map(|x| action_text(x, Some(first))).collect();
                        out.line(format_args!(
                            "   {} timer [{}]",
                            rel(t, Some(first)),
                            list.join("; ")
                        ));
                    }
                }
            });
            if frame.truncated {
                tally.truncated += 1;
            }
            let Some(ip) = frame.ip else {
                tally.not_ip += 1;
                continue;
            };
            let Ok(p) = Packet::parse(ip) else {
                tally.unreadable += 1;
                continue;
            };
            let dir = if hosts.contains(&p.dst) {
                Direction::In
            } else if hosts.contains(&p.src) {
                Direction::Out
            } else {
                tally.elsewhere += 1;
                continue;
            };
            match dir {
                Direction::In => tally.input += 1,
                Direction::Out => tally.output += 1,
            }
            let malformed_before = engine.stats().malformed;
            let d = engine.handle_packet(now, dir, &p);
            let malformed = engine.stats().malformed - malformed_before;
            let faults = if malformed > 0 {
                tally.malformed_kinds(&engine.stats().malformed_by)
            } else {
                Vec::new()
            };
            let actions: Vec<Action> = std::iter::from_fn(|| engine.poll_action()).collect();
            for x in &actions {
                tally.note(now, x, Some((ci, n)));
            }
            let unseen = h323.as_mut().is_some_and(|h| h.unseen(&p, dir, d.verdict));
            tally.h323_unseen += u64::from(unseen);
            let verdict = verdict_name(d.verdict);
            *tally.verdicts.entry(verdict).or_default() += 1;
            let rule = engine.describe(&d.by);
            if dir == Direction::In {
                match tally.rules.get_mut(&rule) {
                    Some(c) => *c += 1,
                    None => {
                        tally.rules.insert(rule.clone(), 1);
                    }
                }
            }
            if let Some(r) = page.as_mut() {
                let (peer, judged) = match dir {
                    Direction::In => (p.src, Some(d.verdict)),
                    Direction::Out => (p.dst, None),
                };
                r.packet(now, peer, judged, &rule, (ci, n));
                r.actions(now, &actions);
            }
            if !per_packet {
                continue;
            }
            let (sport, dport) = p.ports().unzip();
            let dir_name = match dir {
                Direction::In => "in",
                Direction::Out => "out",
            };
            if json {
                let v = json!({
                    "capture": ci,
                    "n": n,
                    "time": secs(now),
                    "src": endpoint(p.src, sport),
                    "dst": endpoint(p.dst, dport),
                    "proto": proto_name(&p.transport),
                    "dir": dir_name,
                    "verdict": verdict,
                    "by": by_kind(&d.by),
                    "rule": rule,
                    "actions": actions.iter().map(action_json).collect::<Vec<_>>(),
                });
                let mut v = v;
                if malformed > 0 {
                    v["malformed_sip"] = json!(faults);
                }
                if unseen {
                    v["not_modelled"] = json!("h323");
                }
                let sep = if first_json { "" } else { "," };
                first_json = false;
                out.line(format_args!("{sep}{v}"));
            } else {
                let acts = if actions.is_empty() {
                    String::new()
                } else {
                    let list: Vec<String> = actions
                        .iter()
                        .map(|x| action_text(x, Some(first)))
                        .collect();
                    format!(" [{}]", list.join("; "))
                };
                let mut faults = if faults.is_empty() {
                    String::new()
                } else {
                    format!(" {{malformed SIP: {}}}", faults.join(", "))
                };
                if unseen {
                    faults.push_str(" {not modelled: H.323 helper}");
                }
                out.line(format_args!(
                    "#{n} {} {} -> {} {} {dir_name} {verdict} ({rule}){faults}{acts}",
                    rel(now, Some(first)),
                    endpoint(p.src, sport),
                    endpoint(p.dst, dport),
                    proto_name(&p.transport),
                ));
            }
        }
        if let Some(why) = cap.damaged() {
            problems.push(damage_note(path, n, why));
            tally.cuts.push(CutRow {
                capture: ci,
                frames: n,
                at: capture::cut(path),
                why: why.to_owned(),
            });
        }
        done_bytes += pos.bytes();
    }
    // The end of the capture: what ran out by its last packet, nothing later.
    let last = tally.last;
    let first = tally.first;
    run_timers(&mut engine, last, &mut tally, |t, acts| {
        if let Some(r) = page.as_mut() {
            r.actions(t, acts);
        }
        if per_packet && !acts.is_empty() {
            if json {
                timers.push(json!({"time": secs(t), "actions": acts.iter().map(action_json).collect::<Vec<_>>()}));
            } else {
                let list: Vec<String> = acts.iter().map(|x| action_text(x, first)).collect();
                out.line(format_args!(
                    "   {} timer [{}]",
                    rel(t, first),
                    list.join("; ")
                ));
            }
        }
    });
    if let Some(b) = &out.bar {
        b.finish_and_clear();
    }
    out.bar = None;
    if json {
        let summary = summary_json(&tally, &a.captures, &problems);
        out.line(format_args!(
            "],\"timers\":{},\"summary\":{summary}}}",
            Value::Array(timers)
        ));
    } else {
        summary_text(&mut out, &tally, &hosts, &a.captures);
    }
    out.flush();
    if let (Some(path), Some(file), Some(r)) = (&a.report, report_file.as_mut(), &page) {
        let html = r.render(&summary_json(&tally, &a.captures, &problems), &hosts);
        file.write_all(html.as_bytes()).map_err(|e| {
            Failure::failed(anyhow!("cannot write the report {}: {e}", path.display()))
        })?;
    }
    if problems.is_empty() {
        Ok(Success::Clean)
    } else {
        Err(Failure::bad_input(anyhow!("{}", problems.join("\n"))))
    }
}

/// Lets the engine's timers run up to `now`, as the daemon's loop does,
/// each at its own deadline so that an expiry is reported when it
/// happened, not at the next packet.
fn run_timers(
    engine: &mut Engine,
    now: Timestamp,
    tally: &mut Tally,
    mut report: impl FnMut(Timestamp, &[Action]),
) {
    while let Some(at) = engine.poll_timeout().filter(|t| *t <= now) {
        engine.handle_timeout(at);
        let actions: Vec<Action> = std::iter::from_fn(|| engine.poll_action()).collect();
        for x in &actions {
            tally.note(at, x, None);
        }
        report(at, &actions);
    }
}

fn by_kind(by: &DecidedBy) -> &'static str {
    match by {
        DecidedBy::Rule(_) => "rule",
        DecidedBy::ChainPolicy => "policy",
        DecidedBy::Output => "output",
        DecidedBy::Guard(_) => "guard",
    }
}

fn summary_json(t: &Tally, captures: &[PathBuf], problems: &[String]) -> Value {
    json!({
        "captures": captures.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "frames": t.frames,
        "packets": {
            "in": t.input,
            "out": t.output,
            "elsewhere": t.elsewhere,
            "not_ip": t.not_ip,
            "unreadable": t.unreadable,
            "truncated": t.truncated,
        },
        "first": t.first.map(secs),
        "last": t.first.map(|_| secs(t.last)),
        "verdicts": {
            "accept": t.verdicts.get("accept").copied().unwrap_or(0),
            "drop": t.verdicts.get("drop").copied().unwrap_or(0),
            "reject": t.verdicts.get("reject").copied().unwrap_or(0),
        },
        "rules": t.rules.iter().map(|(r, n)| json!({"rule": r, "packets": n})).collect::<Vec<_>>(),
        "bans": t.bans.iter().map(|b| json!({
            "addr": b.addr.to_string(),
            "reason": b.reason,
            "reason_kind": b.kind,
            "evidence": b.evidence,
            "at": secs(b.at),
            "until": secs(b.until),
            "capture": b.packet.map(|p| p.0),
            "n": b.packet.map(|p| p.1),
        })).collect::<Vec<_>>(),
        "allowed": t.allowed.iter().map(|(a, u)| json!({"addr": a.to_string(), "until": secs(*u)})).collect::<Vec<_>>(),
        "pinholes": {"opened": t.pinholes_opened, "closed": t.pinholes_closed},
        "malformed_sip": {
            "total": t.malformed.iter().map(|(_, n)| n).sum::<u64>(),
            "by_kind": t.malformed.iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        },
        "cut": t.cuts.iter().map(|c| json!({
            "capture": c.capture,
            "path": captures[c.capture].display().to_string(),
            "frames_read": c.frames,
            "intact_bytes": c.at.map(|a| a.intact),
            "file_bytes": c.at.map(|a| a.len),
            "why": c.why,
        })).collect::<Vec<_>>(),
        "not_modelled": {"h323_helper_assigned": t.h323_assigned, "h323": t.h323_unseen},
        "problems": problems,
    })
}

fn summary_text(out: &mut Out, t: &Tally, hosts: &[IpAddr], captures: &[PathBuf]) {
    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    out.line(format_args!(
        "summary: {} frames; to or from {}: {} in, {} out; {} elsewhere, {} not IP, {} unreadable, {} truncated",
        t.frames,
        hosts.join(", "),
        t.input,
        t.output,
        t.elsewhere,
        t.not_ip,
        t.unreadable,
        t.truncated
    ));
    let v = |k| t.verdicts.get(k).copied().unwrap_or(0);
    out.line(format_args!(
        "verdicts: {} accept, {} drop, {} reject",
        v("accept"),
        v("drop"),
        v("reject")
    ));
    if !t.rules.is_empty() {
        out.line(format_args!("input decided by:"));
        let mut rules: Vec<_> = t.rules.iter().collect();
        rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (r, n) in rules {
            out.line(format_args!("  {n:>9}  {r}"));
        }
    }
    out.line(format_args!("bans: {}", t.bans.len()));
    for b in &t.bans {
        let at = b
            .packet
            .map_or_else(String::new, |(_, n)| format!(" at packet #{n}"));
        out.line(format_args!(
            "  {} {}{at} until {}: {} ({})",
            b.addr,
            rel(b.at, t.first),
            rel(b.until, t.first),
            b.reason,
            b.evidence
        ));
    }
    for (a, u) in &t.allowed {
        out.line(format_args!(
            "allowed (registered): {a} until {}",
            rel(*u, t.first)
        ));
    }
    out.line(format_args!(
        "pinholes: {} opened, {} closed",
        t.pinholes_opened, t.pinholes_closed
    ));
    let total: u64 = t.malformed.iter().map(|(_, n)| n).sum();
    let mut kinds: Vec<_> = t.malformed.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if kinds.is_empty() {
        out.line(format_args!("malformed SIP: 0"));
    } else {
        out.line(format_args!(
            "malformed SIP: {total} ({})",
            kinds.join(", ")
        ));
    }
    if t.h323_assigned {
        out.line(format_args!(
            "not modelled: the ruleset assigns an H.323 helper; {} refused packets from H.323 peers may have been admitted by its expectations",
            t.h323_unseen
        ));
    }
    for c in &t.cuts {
        let at = c.at.map_or_else(String::new, |a| {
            format!(
                ", the last whole record ends at byte {} of {}",
                a.intact, a.len
            )
        });
        out.line(format_args!(
            "warning: {} is cut: {} frames read{at}; the rest is not judged ({})",
            captures[c.capture].display(),
            c.frames,
            c.why
        ));
    }
}
