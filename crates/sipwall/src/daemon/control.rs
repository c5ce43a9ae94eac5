//! The daemon's end of the control socket: a listener thread that passes
//! each request to the main loop (which owns the engine) and writes the
//! answer back. The socket is root-only (mode 0600 in a 0700 directory).

use super::{now, Input};
use crate::control::{Request, Response};
use crate::ledger::Ledger;
use serde_json::json;
use sipwall_engine::{BanReason, Engine, Timestamp};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc::{channel, SyncSender};
use std::time::Duration;

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
}

/// Binds the socket and serves it on a thread of its own.
pub fn listen(path: &Path, to_loop: SyncSender<Input>) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut line = String::new();
            if BufReader::new(&conn).read_line(&mut line).is_err() {
                continue;
            }
            let answer = match serde_json::from_str::<Request>(&line) {
                Ok(req) => {
                    let (tx, rx) = channel();
                    if to_loop.send(Input::Control(req, tx)).is_err() {
                        return;
                    }
                    rx.recv_timeout(Duration::from_secs(5))
                        .unwrap_or_else(|_| Response::error("the daemon did not answer"))
                }
                Err(e) => Response::error(format!("bad request: {e}")),
            };
            let mut text = serde_json::to_string(&answer).unwrap_or_default();
            text.push('\n');
            let _ = conn.write_all(text.as_bytes());
        }
    });
    Ok(())
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
                    "addr": b.addr.to_string(),
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
        } => {
            let Ok(ip) = addr.parse() else {
                return Response::error(format!("not an address: {addr:?}"));
            };
            let evidence = reason.unwrap_or_else(|| "sipwall bans add".to_owned());
            if engine.ban(
                t,
                ip,
                BanReason::Manual,
                &evidence,
                seconds.map(Duration::from_secs),
            ) {
                Response::ok(json!({ "banned": addr }))
            } else {
                Response::error(format!("{addr} is allowlisted or already banned"))
            }
        }
        Request::Unban {
            addr,
            allow_seconds,
        } => {
            let Ok(ip) = addr.parse() else {
                return Response::error(format!("not an address: {addr:?}"));
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
                "uptime_seconds": now().since(cx.started).as_secs(),
                "packets": { "accepted": st.accepted, "dropped": st.dropped, "rejected": st.rejected },
                "sip_messages": st.sip_messages,
                "malformed": st.malformed,
                "bans_active": engine.bans().len(),
                "bans_made": bans,
                "pinholes_open": engine.pinholes().len(),
                "pinholes_opened": st.pinholes_opened,
                "pinholes_closed": st.pinholes_closed,
                "esl_connected": cx.esl_connected,
                "freeswitch_ports": {
                    "checked": cx.crosscheck.checked,
                    "live_not_in_policy": cx.crosscheck.live_not_in_policy,
                    "policy_not_live": cx.crosscheck.policy_not_live,
                },
            }))
        }
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
