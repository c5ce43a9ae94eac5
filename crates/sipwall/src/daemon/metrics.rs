//! Prometheus metrics on a loopback port: the engine's counters, rendered
//! by the main loop at most once a second into a shared page that a small
//! listener thread serves to `GET /metrics`.

use sipwall_engine::Engine;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counters the daemon keeps beside the engine's.
#[derive(Debug, Default, Clone)]
pub struct DaemonCounters {
    /// Bans that ran out.
    pub bans_expired: u64,
    /// Kernel updates that failed.
    pub kernel_errors: u64,
    /// Packets lost between the kernel and the daemon (netlink overruns).
    pub queue_drops: u64,
    /// Whether the event socket is connected.
    pub esl_connected: bool,
    /// The budget of per-event log lines.
    pub lines: super::log_limit::LogLimit,
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
        "esl_connected",
        "gauge",
        "1 when the FreeSWITCH event socket is connected.",
        &[("", u64::from(d.esl_connected))],
    );
    out
}

/// Serves `page` on `addr` (loopback by default) from a thread of its own.
pub fn serve(addr: SocketAddr, page: Page) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut req = [0u8; 1024];
            let n = conn.read(&mut req).unwrap_or(0);
            let head = String::from_utf8_lossy(&req[..n]);
            let (status, body) = if head.starts_with("GET /metrics") {
                ("200 OK", page.lock().map(|p| p.clone()).unwrap_or_default())
            } else {
                ("404 Not Found", "try /metrics\n".to_owned())
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(())
}
