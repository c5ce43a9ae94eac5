//! Prometheus metrics on a loopback port: the engine's counters, rendered
//! by the main loop at most once a second into a shared page that a small
//! listener thread serves to `GET /metrics`, each scrape on its own
//! thread under a deadline.

use sipwall_engine::Engine;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters the daemon keeps beside the engine's.
#[derive(Debug, Default, Clone)]
pub struct DaemonCounters {
    /// Bans that ran out.
    pub bans_expired: u64,
    /// Bans decided in observe mode, never sent to the kernel, per detector.
    pub would_ban: std::collections::BTreeMap<&'static str, u64>,
    /// Verifications written to the kernel (first or renewed).
    pub verified: u64,
    /// Kernel updates that failed.
    pub kernel_errors: u64,
    /// Packets lost between the kernel and the daemon (netlink overruns).
    pub queue_drops: u64,
    /// Whether the event socket is connected.
    pub esl_connected: bool,
    /// Ledger writes that failed.
    pub ledger_errors: u64,
    /// Whether the ledger lives in memory (its file unusable).
    pub ledger_in_memory: bool,
    /// The budget of per-event log lines.
    pub lines: super::log_limit::LogLimit,
    /// The budget of error lines (a failing disk fails every write).
    pub errors: super::log_limit::LogLimit,
    /// HEP records, when `[hep]` is on.
    pub hep: Option<super::hep::HepCounts>,
}

/// The page the listener serves.
pub type Page = Arc<Mutex<String>>;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP sipwall_{name} {help}");
    let _ = writeln!(out, "# TYPE sipwall_{name} {kind}");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "sipwall_{name} {v}");
        } else {
            let _ = writeln!(out, "sipwall_{name}{{{labels}}} {v}");
        }
    }
}

/// Renders the exposition text.
pub fn render(engine: &Engine, d: &DaemonCounters) -> String {
    let st = engine.stats();
    let mut out = String::new();
    metric(
        &mut out,
        "packets_total",
        "counter",
        "Packets judged by the engine, per verdict.",
        &[
            ("verdict=\"accept\"", st.accepted),
            ("verdict=\"drop\"", st.dropped),
            ("verdict=\"reject\"", st.rejected),
        ],
    );
    metric(
        &mut out,
        "sip_messages_total",
        "counter",
        "SIP messages inspected.",
        &[("", st.sip_messages)],
    );
    metric(
        &mut out,
        "sip_malformed_total",
        "counter",
        "Malformed SIP messages on the SIP ports.",
        &[("", st.malformed)],
    );
    let reasons: Vec<(String, u64)> = st
        .bans
        .iter()
        .map(|(k, n)| (format!("detector=\"{k}\""), *n))
        .collect();
    let reasons: Vec<(&str, u64)> = reasons.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    metric(
        &mut out,
        "bans_added_total",
        "counter",
        "Bans made, per detector.",
        &reasons,
    );
    let suppressed: Vec<(String, u64)> = st
        .bans_suppressed_by
        .iter()
        .map(|((d, s), n)| (format!("detector=\"{d}\",shield=\"{s}\""), *n))
        .collect();
    let suppressed: Vec<(&str, u64)> = suppressed.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    metric(
        &mut out,
        "bans_suppressed_total",
        "counter",
        "Bans a detector asked for and a shield refused (allowlisted, or a verified source on unverified evidence), per detector and shield.",
        &suppressed,
    );
    metric(
        &mut out,
        "verified_total",
        "counter",
        "Sources written to the kernel as verified (return-routable), first or renewed.",
        &[("", d.verified)],
    );
    let would: Vec<(String, u64)> = d
        .would_ban
        .iter()
        .map(|(k, n)| (format!("detector=\"{k}\""), *n))
        .collect();
    let would: Vec<(&str, u64)> = would.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    metric(
        &mut out,
        "would_ban_total",
        "counter",
        "Bans decided in observe mode and kept out of the kernel, per detector.",
        &would,
    );
    metric(
        &mut out,
        "bans_expired_total",
        "counter",
        "Bans that ran out.",
        &[("", d.bans_expired)],
    );
    metric(
        &mut out,
        "bans_active",
        "gauge",
        "Bans in force.",
        &[("", engine.bans().len() as u64)],
    );
    metric(
        &mut out,
        "pinholes_active",
        "gauge",
        "Open media pinholes.",
        &[("", engine.pinholes().len() as u64)],
    );
    metric(
        &mut out,
        "pinholes_opened_total",
        "counter",
        "Pinholes opened or refreshed.",
        &[("", st.pinholes_opened)],
    );
    metric(
        &mut out,
        "pinholes_closed_total",
        "counter",
        "Pinholes closed.",
        &[("", st.pinholes_closed)],
    );
    metric(
        &mut out,
        "queue_drops_total",
        "counter",
        "Packet copies the daemon could not take.",
        &[("", d.queue_drops)],
    );
    metric(
        &mut out,
        "kernel_errors_total",
        "counter",
        "Set updates the kernel refused.",
        &[("", d.kernel_errors)],
    );
    metric(
        &mut out,
        "ledger_errors_total",
        "counter",
        "Ledger writes that failed.",
        &[("", d.ledger_errors)],
    );
    metric(
        &mut out,
        "ledger_in_memory",
        "gauge",
        "1 when the ledger file is unusable and bans are recorded in memory only.",
        &[("", u64::from(d.ledger_in_memory))],
    );
    metric(
        &mut out,
        "esl_connected",
        "gauge",
        "1 when the FreeSWITCH event socket is connected.",
        &[("", u64::from(d.esl_connected))],
    );
    if let Some(h) = d.hep {
        metric(
            &mut out,
            "hep_records_total",
            "counter",
            "HEP records for the collector, by what became of them.",
            &[
                ("outcome=\"sent\"", h.sent),
                ("outcome=\"over_rate\"", h.over_rate),
                ("outcome=\"send_error\"", h.send_errors),
            ],
        );
    }
    out
}

/// How long one scrape may take, from connecting to the last byte.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(2);
/// Scrapes served at once; more are closed unanswered.
const MAX_SCRAPES: usize = 8;

/// Serves `page` on `addr` (loopback by default) from a thread of its
/// own, each scrape on a thread of its own under [`SCRAPE_DEADLINE`]: a
/// scraper that sends slowly or does not read cannot stall the others.
pub fn serve(addr: SocketAddr, page: Page) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if busy.fetch_add(1, Ordering::SeqCst) >= MAX_SCRAPES {
                busy.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let (page, busy) = (page.clone(), Arc::clone(&busy));
            std::thread::spawn(move || {
                scrape(conn, &page);
                busy.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(())
}

/// Answers one scrape: the request head is read until its blank line (at
/// most 1 KiB), then the page is written, all before the deadline.
fn scrape(mut conn: TcpStream, page: &Page) {
    let deadline = Instant::now() + SCRAPE_DEADLINE;
    let left = || {
        let d = deadline.saturating_duration_since(Instant::now());
        (!d.is_zero()).then_some(d)
    };
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1024 {
        let Some(d) = left() else { return };
        let _ = conn.set_read_timeout(Some(d));
        match conn.read(&mut buf[..1024 - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(_) => return,
        }
    }
    let (status, body) = if head.starts_with(b"GET /metrics") {
        ("200 OK", page.lock().map(|p| p.clone()).unwrap_or_default())
    } else {
        ("404 Not Found", "try /metrics\n".to_owned())
    };
    let Some(d) = left() else { return };
    let _ = conn.set_write_timeout(Some(d));
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
