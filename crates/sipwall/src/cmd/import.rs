//! `sipwall import fail2ban [DB]`: fail2ban's active bans carried over
//! when sipwall replaces its jail (docs/migrate.md), with their reason and
//! expiry.
//!
//! fail2ban keeps each address's latest ban in the `bips` table of its
//! SQLite database (`ip, jail, timeofban, bantime, bancount, data`; a
//! negative `bantime` is forever; `data` is JSON stored as a BLOB). The database is opened read-only, and
//! its text is as untrusted as the log lines it came from: addresses are
//! parsed, jail names and matched lines escaped and bounded.
//!
//! One path into the kernel, the daemon's: with `sipwall run` up, each ban
//! is a `bans add` (kernel first, then ledger). Without it, the bans go
//! into the ledger alone, and the daemon puts them into the kernel when it
//! starts (its restore).

use crate::control::{call, Request, SocketArgs, MAX_BAN};
use crate::exit::{Failure, Outcome, Success};
use crate::ledger::{Ledger, LedgerBan};
use anyhow::{anyhow, Context as _};
use clap::Subcommand;
use rusqlite::{Connection, OpenFlags};
use sipwall_engine::remote_text::printable;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `sipwall import` subcommands.
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// fail2ban's active bans (from its SQLite database).
    Fail2ban {
        /// fail2ban's database (`dbfile` in fail2ban.conf).
        #[arg(default_value = "/var/lib/fail2ban/fail2ban.sqlite3")]
        db: PathBuf,
        /// Only these jails (default: every jail). Repeatable.
        #[arg(long = "jail", value_name = "NAME")]
        jails: Vec<String>,
        /// The ledger written when the daemon is not running.
        #[arg(
            long,
            env = "SIPWALL_LEDGER",
            default_value = "/var/lib/sipwall/ledger.sqlite",
            value_name = "FILE"
        )]
        ledger: PathBuf,
        #[command(flatten)]
        socket: SocketArgs,
    },
}

/// One active ban of fail2ban's.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail2banBan {
    /// The banned address.
    pub addr: IpAddr,
    /// The jail that banned it (escaped).
    pub jail: String,
    /// When it was banned (Unix seconds).
    pub banned_at: u64,
    /// How long is left (at most [`MAX_BAN`]; forever becomes that).
    pub left: Duration,
    /// The reason, for the ledger: jail, failures, last matched line.
    pub reason: String,
}

/// The most bytes of fail2ban's text one reason keeps.
const REASON_BYTES: usize = 512;

/// The active bans in fail2ban's database `db` at `now` (Unix seconds);
/// rows whose address does not parse are counted in the second value.
pub fn active_bans(
    db: &Path,
    jails: &[String],
    now: u64,
) -> anyhow::Result<(Vec<Fail2banBan>, usize)> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("{}: cannot open fail2ban's database", db.display()))?;
    let mut stmt = conn
        .prepare("SELECT ip, jail, timeofban, bantime, bancount, data FROM bips")
        .with_context(|| {
            format!(
                "{}: no `bips` table: not a fail2ban 0.11+ database",
                db.display()
            )
        })?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            // fail2ban's sqlite adapter stores the JSON as a BLOB.
            match r.get_ref(5)? {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
                _ => None,
            },
        ))
    })?;
    let mut out = Vec::new();
    let mut unreadable = 0;
    for row in rows {
        let (ip, jail, timeofban, bantime, bancount, data) = row?;
        if !jails.is_empty() && !jails.contains(&jail) {
            continue;
        }
        let Ok(addr) = ip.trim().parse::<IpAddr>() else {
            unreadable += 1;
            continue;
        };
        let banned_at = u64::try_from(timeofban).unwrap_or(0);
        let left = if bantime < 0 {
            MAX_BAN
        } else {
            let end = banned_at.saturating_add(bantime as u64);
            if end <= now {
                continue;
            }
            Duration::from_secs(end - now).min(MAX_BAN)
        };
        let jail = printable(jail.as_bytes(), 64);
        out.push(Fail2banBan {
            addr,
            reason: reason(&jail, bancount, data.as_deref()),
            jail,
            banned_at,
            left,
        });
    }
    Ok((out, unreadable))
}

/// "fail2ban jail freeswitch: 5 failures (ban 2): `<last matched line>`".
fn reason(jail: &str, bancount: i64, data: Option<&str>) -> String {
    let data: serde_json::Value = data
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    let mut text = format!("fail2ban jail {jail}");
    if let Some(f) = data["failures"].as_u64() {
        text.push_str(&format!(": {f} failures"));
    }
    if bancount > 1 {
        text.push_str(&format!(" (ban {bancount})"));
    }
    if let Some(last) = data["matches"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m.as_str())
    {
        text.push_str(": ");
        text.push_str(last);
    }
    printable(text.as_bytes(), REASON_BYTES)
}

/// Runs a `sipwall import` subcommand.
pub fn run(cmd: ImportCommand) -> Outcome {
    let ImportCommand::Fail2ban {
        db,
        jails,
        ledger,
        socket,
    } = cmd;
    let now = crate::control::unix_now();
    let (bans, unreadable) = active_bans(&db, &jails, now).map_err(Failure::bad_input)?;
    if unreadable > 0 {
        eprintln!(
            "warning: {unreadable} row(s) of {} hold no address: skipped",
            db.display()
        );
    }
    if bans.is_empty() {
        outln!("no active bans in {}", db.display());
        return Ok(Success::Clean);
    }
    let daemon_up = call(&socket.path, &Request::Status).is_ok_and(|r| r.ok);
    let (mut done, mut skipped) = (0, 0);
    if daemon_up {
        for b in &bans {
            let req = Request::Ban {
                addr: b.addr.to_string(),
                seconds: Some(b.left.as_secs().max(1)),
                reason: Some(b.reason.clone()),
                force: false,
            };
            match call(&socket.path, &req) {
                Ok(r) if r.ok => done += 1,
                Ok(r) => {
                    skipped += 1;
                    outln!(
                        "{}: not imported: {}",
                        b.addr,
                        printable(r.error.unwrap_or_default().as_bytes(), 256)
                    );
                }
                Err(e) => return Err(Failure::failed(e)),
            }
        }
        outln!(
            "imported {done} of {} fail2ban ban(s) through the daemon (kernel and ledger){}",
            bans.len(),
            if skipped > 0 {
                "; see above for the others"
            } else {
                ""
            }
        );
    } else {
        let mut l = Ledger::open(&ledger);
        if let Some(why) = l.in_memory() {
            return Err(Failure::failed(anyhow!(
                "the ledger {} cannot be written ({why}) and the daemon is not running: nothing imported",
                ledger.display()
            )));
        }
        let micros = |s: u64| s.saturating_mul(1_000_000);
        for b in &bans {
            let row = LedgerBan {
                addr: b.addr.into(),
                kind: "manual".to_owned(),
                reason: b.reason.clone(),
                evidence: format!(
                    "sipwall import fail2ban {}",
                    printable(db.display().to_string().as_bytes(), 256)
                ),
                banned_at: micros(now),
                until: micros(now) + b.left.as_micros() as u64,
            };
            match l.ban(&row) {
                Ok(true) => done += 1,
                Ok(false) => {
                    skipped += 1;
                    outln!("{}: not imported: already banned", b.addr);
                }
                Err(e) => return Err(Failure::failed(anyhow!("ledger {}: {e}", ledger.display()))),
            }
        }
        outln!(
            "imported {done} of {} fail2ban ban(s) into the ledger {}; the daemon is not running: they reach the kernel when it starts",
            bans.len(),
            ledger.display()
        );
        if skipped > 0 {
            outln!("{skipped} already in the ledger: left as they were");
        }
    }
    Ok(Success::Clean)
}
