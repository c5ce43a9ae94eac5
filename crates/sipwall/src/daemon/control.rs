//! The daemon's end of the control socket: a listener thread that serves
//! each client on a thread of its own, passes the request to the main loop
//! (which owns the engine) and writes the answer back.
//!
//! The socket is root-only: mode 0600 in a directory owned by root and
//! writable by nobody else. That directory is created 0700 when missing;
//! an existing one is never chmod-ed (`--control /tmp/x.sock` once made
//! /tmp root-only): one that others can write is refused, since whoever
//! can write it can swap the socket for their own.
//!
//! A client gets [`DEADLINE`] for its whole conversation, reads are bounded
//! by [`MAX_REQUEST`], and at most [`MAX_CLIENTS`] are served at once, so
//! neither a dripping client nor a 400 MiB line can hold up `status` or
//! grow the daemon.

use super::inbox::ControlSender;
use super::now;
use crate::control::{parse_request, Request, Response, MAX_REQUEST};
use crate::ledger::Ledger;
use serde_json::json;
use sipwall_engine::bans::Refusal;
use sipwall_engine::{BanReason, Engine, Timestamp};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one client may take, from connecting to reading the answer.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Clients served at once; more are told to retry.
pub const MAX_CLIENTS: usize = 16;

/// What the answers need besides the engine.
pub struct Context<'a> {
    /// The policy's name.
    pub source: &'a str,
    /// When the daemon started.
    pub started: Timestamp,
    /// The ledger.
    pub ledger: &'a Ledger,
    /// Whether the event socket is connected.
    pub esl_connected: bool,
    /// FreeSWITCH's live SIP ports against the policy.
    pub crosscheck: &'a super::crosscheck::Crosscheck,
    /// Whether bans reach the kernel.
    pub guard_mode: sipwall_policy::GuardMode,
    /// Bans decided in observe mode, per detector.
    pub would_ban: &'a std::collections::BTreeMap<&'static str, u64>,
    /// Lists banned elsewhere (CrowdSec, feeds).
    pub blocklists: &'a super::blocklists::Blocklists,
    /// CrowdSec's bouncer and watcher, with `[crowdsec]`.
    pub crowdsec: Option<serde_json::Value>,
    /// HEP records, when `[hep]` is on.
    pub hep: Option<super::hep::HepCounts>,
}

/// Checks (or makes) the directory of the socket at `path`: owned by root,
/// writable by nobody else. Never changes an existing directory.
pub fn check_dir(path: &Path) -> anyhow::Result<()> {
    use anyhow::bail;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot create the control socket's directory {}: {e}",
                        dir.display()
                    )
                })?;
            std::fs::metadata(dir)?
        }
        Err(e) => bail!("the control socket's directory {}: {e}", dir.display()),
    };
    if !meta.is_dir() {
        bail!(
            "the control socket's directory {} is not a directory",
            dir.display()
        );
    }
    if meta.uid() != 0 {
        bail!(
            "the control socket's directory {} is owned by uid {}, not root: choose a directory owned by root (e.g. /run/sipwall)",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "the control socket's directory {} is writable by others (mode {:o}); sipwall never changes an existing directory: choose one only root can write (e.g. /run/sipwall)",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(())
}

/// Binds the socket and serves it from a thread of its own.
pub fn listen(path: &Path, to_loop: ControlSender) -> anyhow::Result<()> {
    check_dir(path)?;
    match std::fs::symlink_metadata(path) {
        // A socket someone answers on is another daemon's: taking it over
        // would leave that daemon deaf to `sipwall bans`/`status`. Only a
        // socket nobody answers on (left by a crash) is replaced.
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                anyhow::bail!(
                    "another sipwall daemon is running: it answers on the control socket {} (stop it first, or give this one --control and --group of its own)",
                    path.display()
                );
            }
            std::fs::remove_file(path)?
        }
        Ok(_) => anyhow::bail!(
            "{} exists and is not a socket: not replaced",
            path.display()
        ),
        Err(_) => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CLIENTS {
                busy.fetch_sub(1, Ordering::SeqCst);
                answer(
                    &conn,
                    Instant::now() + Duration::from_millis(100),
                    &Response::error("busy: too many clients, try again"),
                );
                continue;
            }
            let to_loop = to_loop.clone();
            let busy = Arc::clone(&busy);
            std::thread::spawn(move || {
                serve(&conn, &to_loop);
                busy.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(())
}

/// Why no request was read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// The line passed [`MAX_REQUEST`].
    TooLong,
    /// The deadline passed first.
    TimedOut,
    /// The client went away (or the socket failed).
    Gone,
}

/// Reads one line of at most [`MAX_REQUEST`] bytes before `deadline`.
pub fn read_line(
    mut conn: impl Read,
    mut set_timeout: impl FnMut(Duration),
    deadline: Instant,
) -> Result<Vec<u8>, ReadFailure> {
    let mut line = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadFailure::TimedOut);
        }
        set_timeout(left);
        let n = match conn.read(&mut chunk) {
            Ok(0) if line.is_empty() => return Err(ReadFailure::Gone),
            Ok(0) => return Ok(line),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadFailure::TimedOut)
            }
            Err(_) => return Err(ReadFailure::Gone),
        };
        if let Some(end) = chunk[..n].iter().position(|b| *b == b'\n') {
            line.extend_from_slice(&chunk[..end]);
            return if line.len() < MAX_REQUEST {
                Ok(line)
            } else {
                Err(ReadFailure::TooLong)
            };
        }
        line.extend_from_slice(&chunk[..n]);
        if line.len() >= MAX_REQUEST {
            return Err(ReadFailure::TooLong);
        }
    }
}

fn answer(mut conn: &UnixStream, deadline: Instant, response: &Response) {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    let _ = conn.set_write_timeout(Some(left));
    let mut text = serde_json::to_string(response).unwrap_or_default();
    text.push('\n');
    let _ = conn.write_all(text.as_bytes());
}

/// One client: one request, one answer, all before [`DEADLINE`].
fn serve(conn: &UnixStream, to_loop: &ControlSender) {
    let deadline = Instant::now() + DEADLINE;
    let line = read_line(
        conn,
        |left| {
            let _ = conn.set_read_timeout(Some(left));
        },
        deadline,
    );
    let response = match line {
        Ok(line) => match parse_request(&line) {
            Ok(req) => {
                let (tx, rx) = channel();
                if to_loop.send((req, tx)).is_err() {
                    return;
                }
                rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .unwrap_or_else(|_| Response::error("the daemon did not answer in time"))
            }
            Err(e) => Response::error(e.to_string()),
        },
        Err(ReadFailure::TooLong) => {
            Response::error(format!("request longer than {MAX_REQUEST} bytes: not read"))
        }
        Err(ReadFailure::TimedOut) => {
            Response::error(format!("no request within {}s", DEADLINE.as_secs()))
        }
        Err(ReadFailure::Gone) => return,
    };
    answer(conn, deadline, &response);
}

fn secs(t: Timestamp) -> u64 {
    t.micros() / 1_000_000
}

/// Answers one request.
pub fn handle(engine: &mut Engine, cx: &Context<'_>, t: Timestamp, req: Request) -> Response {
    match req {
        Request::Bans => match cx.ledger.active(t.micros()) {
            Ok(rows) => Response::ok(json!({
                "bans": rows.iter().map(|b| json!({
                    "addr": crate::ledger::addr_text(&b.addr),
                    "kind": b.kind,
                    "reason": b.reason,
                    "evidence": b.evidence,
                    "since": b.banned_at / 1_000_000,
                    "until": b.until / 1_000_000,
                })).collect::<Vec<_>>()
            })),
            Err(e) => Response::error(format!("ledger: {e}")),
        },
        Request::Ban {
            addr,
            seconds,
            reason,
            force,
        } => {
            let target = match addr.parse::<std::net::IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip),
                Err(_) => match addr.parse::<ipnet::IpNet>() {
                    Ok(n) if n == n.trunc() => n,
                    Ok(n) => {
                        return Response::error(format!(
                            "{addr} has host bits set; the prefix is {}",
                            n.trunc()
                        ))
                    }
                    Err(_) => {
                        return Response::error(format!("not an address or a prefix: {addr:?}"))
                    }
                },
            };
            // The admin's words are the ban's reason (the ledger and
            // `bans list` show them); the evidence says who banned.
            let reason = reason.unwrap_or_else(|| "banned by hand".to_owned());
            match engine.ban(
                t,
                target,
                BanReason::Manual,
                &reason,
                seconds.map(Duration::from_secs),
                force,
            ) {
                Ok(until) => Response::ok(json!({ "banned": addr, "until": secs(until) })),
                Err(Refusal::Allowlisted) if target.addr().is_loopback() => {
                    Response::error(format!("{addr}: loopback is never banned"))
                }
                Err(Refusal::Allowlisted) => Response::error(format!(
                    "{addr} is allowlisted (guard.allow, or allowed by hand): not banned; --force bans it anyway, until the next apply or restart lifts it"
                )),
                Err(Refusal::AlreadyBanned) => {
                    Response::error(format!("{addr} is already banned"))
                }
            }
        }
        Request::Unban {
            addr,
            allow_seconds,
        } => {
            let Ok(ip) = addr.parse() else {
                // A prefix ban is lifted by its prefix; it allows nobody.
                return match addr.parse::<ipnet::IpNet>() {
                    Ok(_) if allow_seconds.is_some() => {
                        Response::error("--allow takes an address, not a prefix")
                    }
                    Ok(net) => Response::ok(
                        json!({ "was_banned": engine.unban_prefix(net), "allowed_until": null }),
                    ),
                    Err(_) => Response::error(format!("not an address or a prefix: {addr:?}")),
                };
            };
            let was = engine.unban(ip);
            if let Some(s) = allow_seconds {
                engine.allow(ip, t + Duration::from_secs(s));
            }
            Response::ok(
                json!({ "was_banned": was, "allowed_until": allow_seconds.map(|s| secs(t) + s) }),
            )
        }
        Request::Status => {
            let st = engine.stats();
            let bans: serde_json::Map<String, serde_json::Value> = st
                .bans
                .iter()
                .map(|(k, n)| ((*k).to_owned(), json!(n)))
                .collect();
            Response::ok(json!({
                "policy": cx.source,
                "mode": "tap",
                "guard_mode": cx.guard_mode.name(),
                "would_ban": cx.would_ban,
                "uptime_seconds": now().since(cx.started).as_secs(),
                "packets": { "accepted": st.accepted, "dropped": st.dropped, "rejected": st.rejected },
                "sip_messages": st.sip_messages,
                "malformed": st.malformed,
                "auth_failures": st.auth_failures,
                "bans_active": engine.bans().len(),
                "bans_made": bans,
                "bans_suppressed": {
                    "total": st.bans_suppressed,
                    "by": st.bans_suppressed_by.iter().map(|((detector, shield), n)| json!({
                        "detector": detector, "shield": shield, "count": n,
                    })).collect::<Vec<_>>(),
                },
                "pinholes_open": engine.pinholes().len(),
                "pinholes_opened": st.pinholes_opened,
                "pinholes_closed": st.pinholes_closed,
                "esl_connected": cx.esl_connected,
                "ledger": cx.ledger.describe(),
                "ledger_in_memory": cx.ledger.in_memory().is_some(),
                "lists": cx.blocklists.status(),
                "crowdsec": cx.crowdsec,
                "hep": cx.hep,
                "freeswitch_ports": {
                    "checked": cx.crosscheck.checked,
                    "live_not_in_policy": cx.crosscheck.live_not_in_policy,
                    "policy_not_live": cx.crosscheck.policy_not_live,
                },
            }))
        }
        Request::Explain { addr } => explain(engine, cx, t, &addr),
        Request::Calls => Response::ok(json!({
            "pinholes": engine.pinholes().iter().map(|(k, until)| json!({
                "key": k.to_string(),
                "port": k.port,
                "remote": k.remote.map(|r| r.to_string()),
                "until": secs(until),
            })).collect::<Vec<_>>()
        })),
    }
}

/// Why `addr` is or was banned: the ledger's decisions, the engine's
/// latest evidence when no row carries it yet, and whether it is banned
/// now (a detector's ban in observe mode is not: it never reached the
/// kernel).
fn explain(engine: &Engine, cx: &Context<'_>, t: Timestamp, addr: &str) -> Response {
    use crate::control::{Explanation, MAX_DECISIONS};
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return Response::error(format!("not an address: {addr:?}"));
    };
    let rows = match cx.ledger.history(ip, MAX_DECISIONS) {
        Ok(rows) => rows,
        Err(e) => return Response::error(format!("ledger: {e}")),
    };
    let decisions: Vec<_> = rows
        .iter()
        .map(|r| crate::explain::decision(r, t.micros()))
        .collect();
    let live = engine.evidence(ip).map(crate::explain::detail);
    // The engine's evidence is news only when no decision carries it.
    let engine_part = live.filter(|ev| {
        !decisions
            .iter()
            .any(|d| d.detail.as_ref().is_some_and(|x| x.at_ms == ev.at_ms))
    });
    let banned_now = engine.bans().get(t, ip).is_some_and(|b| {
        cx.guard_mode == sipwall_policy::GuardMode::Enforce || b.reason == BanReason::Manual
    });
    let configured = !cx.blocklists.is_empty();
    let (lists, mut notes) = lists_part(cx.blocklists.matches(ip), configured);
    if !lists.is_empty() && engine.bans().is_allowlisted(ip) {
        // The loop cuts the allowlist out of every entry before the kernel.
        notes.push(
            "it is allowlisted (guard.allow): no list's kernel set holds it, whatever the entries above say"
                .to_owned(),
        );
    }
    let e = Explanation {
        addr: ip.to_string(),
        live: true,
        banned_now: Some(banned_now),
        guard_mode: Some(cx.guard_mode.name().to_owned()),
        decisions,
        engine: engine_part,
        lists,
        lists_checked: true,
        notes,
    };
    match serde_json::to_value(&e) {
        Ok(v) => Response::ok(v),
        Err(e) => Response::error(format!("explanation: {e}")),
    }
}

/// The external lists' part of an explanation: the daemon's matches,
/// and a note when the policy has no list (`configured` false) to look in.
fn lists_part(
    lists: Vec<crate::control::ListMatch>,
    configured: bool,
) -> (Vec<crate::control::ListMatch>, Vec<String>) {
    let notes = if configured {
        Vec::new()
    } else {
        vec!["the policy has no external list ([crowdsec], [[feeds]])".to_owned()]
    };
    (lists, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_held_by_a_feed_and_by_crowdsec_is_explained_by_both() {
        let held = |list: &str, net: &str, until| crate::control::ListMatch {
            list: list.to_owned(),
            net: net.to_owned(),
            detail: format!("{list} entry"),
            until,
        };
        let (lists, notes) = lists_part(
            vec![
                held("feed voipbl", "203.0.113.0/24", None),
                held("crowdsec", "203.0.113.66/32", Some(1_800_000_000)),
            ],
            true,
        );
        assert!(notes.is_empty());
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[1].list, "crowdsec");
        assert_eq!(lists[1].until, Some(1_800_000_000));
        assert_eq!(lists[0].net, "203.0.113.0/24");
        let (lists, notes) = lists_part(Vec::new(), false);
        assert!(lists.is_empty());
        assert!(notes[0].contains("no external list"), "{notes:?}");
    }
}
