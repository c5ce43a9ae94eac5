//! `sipwall bans list|add|del`, `sipwall status`, `sipwall calls`: talk to
//! a running daemon over its control socket.
//!
//! Everything shown came from the daemon, and much of it from the network
//! (evidence, reasons): each string is escaped for the terminal here, even
//! if the daemon escaped it already (escaping is idempotent).

use super::text::{columns, compact};
use super::Format;
use crate::control::{call, parse_ban_length, Request, SocketArgs};
use crate::exit::{Failure, Outcome, Success};
use clap::{Args, Subcommand};
use sipwall_engine::remote_text::printable;

/// `sipwall bans` subcommands.
#[derive(Subcommand, Debug)]
pub enum BansCommand {
    /// The bans in force, with reason, evidence and expiry.
    List(ListArgs),
    /// Ban an address or a network by hand.
    Add {
        /// The address, or a network (`203.0.113.0/24`, `2001:db8:bad::/48`).
        #[arg(value_parser = parse_target)]
        addr: ipnet::IpNet,
        /// For how long, e.g. 1h, at most 1year (default: the policy's ban time).
        #[arg(long = "for", value_parser = parse_ban_length)]
        duration: Option<std::time::Duration>,
        /// Why: the ban's reason in the ledger and `bans list`.
        #[arg(long)]
        reason: Option<String>,
        /// Ban it even inside an allowlisted zone (until the next apply or
        /// restart lifts it: the policy still says never).
        #[arg(long)]
        force: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// Lift a ban (recorded in the ledger), optionally allowing the address.
    Del {
        /// The address, or the prefix of a prefix ban (`2001:db8:1:2::/64`).
        #[arg(value_parser = parse_target)]
        addr: ipnet::IpNet,
        /// Never ban it for this long, e.g. 1d, at most 1year.
        #[arg(long, value_parser = parse_ban_length)]
        allow: Option<std::time::Duration>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// Why an address is or was banned, or would have been: the detector,
    /// its threshold and window, the requests that counted, the
    /// escalation step, and when it ends (the ledger file when no daemon
    /// answers).
    Explain(super::explain::ExplainArgs),
}

/// `bans add`/`bans del`'s target: an address, or a prefix (host bits set
/// are refused, so a typo cannot ban or lift a different prefix).
pub fn parse_target(s: &str) -> Result<ipnet::IpNet, String> {
    if let Ok(a) = s.parse::<std::net::IpAddr>() {
        return Ok(a.into());
    }
    let n: ipnet::IpNet = s
        .parse()
        .map_err(|_| format!("{s:?} is neither an address nor a prefix"))?;
    if n != n.trunc() {
        return Err(format!(
            "{s:?} has host bits set; the prefix is {}",
            n.trunc()
        ));
    }
    Ok(n)
}

/// Arguments of the listing commands.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    socket: SocketArgs,
}

fn ask(socket: &SocketArgs, req: &Request) -> Result<serde_json::Value, Failure> {
    let r = call(&socket.path, req).map_err(Failure::failed)?;
    if r.ok {
        Ok(r.data)
    } else {
        Err(Failure::failed(anyhow::anyhow!(
            "{}",
            printable(r.error.unwrap_or_default().as_bytes(), FIELD_BYTES)
        )))
    }
}

/// The most bytes of one field a listing shows.
const FIELD_BYTES: usize = 1024;

/// A string field of the daemon's answer, safe for a terminal.
fn field(v: &serde_json::Value) -> String {
    printable(v.as_str().unwrap_or("").as_bytes(), FIELD_BYTES)
}

/// Escapes every string in `v` (JSON output goes to terminals too; JSON
/// escapes control characters but not bidi overrides).
fn escaped(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(printable(s.as_bytes(), FIELD_BYTES)),
        Value::Array(a) => Value::Array(a.iter().map(escaped).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (printable(k.as_bytes(), FIELD_BYTES), escaped(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn show(
    format: Format,
    data: &serde_json::Value,
    text: impl FnOnce(&serde_json::Value) -> String,
) -> Outcome {
    let data = escaped(data);
    match format {
        Format::Json => outln!("{data}"),
        Format::Text => out!("{}", text(&data)),
    }
    Ok(Success::Clean)
}

/// `bans list` as a table with a header, like `cscli decisions list`:
/// remaining time rather than an expiry timestamp.
fn bans_text(d: &serde_json::Value) -> String {
    let now = crate::control::unix_now();
    let mut rows = vec![[
        "ADDRESS".to_owned(),
        "KIND".to_owned(),
        "REMAINING".to_owned(),
        "REASON".to_owned(),
        "EVIDENCE".to_owned(),
    ]];
    for b in d["bans"].as_array().into_iter().flatten() {
        let left = b["until"].as_u64().unwrap_or(0).saturating_sub(now);
        rows.push([
            field(&b["addr"]),
            field(&b["kind"]),
            compact(std::time::Duration::from_secs(left)),
            field(&b["reason"]),
            field(&b["evidence"]),
        ]);
    }
    if rows.len() == 1 {
        return "no bans\n".into();
    }
    columns(&rows)
}

/// Runs a `sipwall bans` subcommand.
pub fn bans(cmd: BansCommand) -> Outcome {
    match cmd {
        BansCommand::List(a) => {
            let data = ask(&a.socket, &Request::Bans)?;
            show(a.format, &data, bans_text)
        }
        BansCommand::Explain(a) => super::explain::explain(a),
        BansCommand::Add {
            addr,
            duration,
            reason,
            force,
            format,
            socket,
        } => {
            let target = crate::ledger::addr_text(&addr);
            let req = Request::Ban {
                addr: target.clone(),
                seconds: duration.map(|d| d.as_secs()),
                reason,
                force,
            };
            let data = ask(&socket, &req)?;
            let now = crate::control::unix_now();
            let left = data["until"].as_u64().unwrap_or(now).saturating_sub(now);
            match format {
                Format::Json => outln!(
                    "{}",
                    serde_json::json!({ "banned": target, "until": data["until"], "seconds_left": left })
                ),
                Format::Text => outln!(
                    "banned {target} for {}",
                    compact(std::time::Duration::from_secs(left))
                ),
            }
            Ok(Success::Clean)
        }
        BansCommand::Del {
            addr,
            allow,
            format,
            socket,
        } => {
            let req = Request::Unban {
                addr: crate::ledger::addr_text(&addr),
                allow_seconds: allow.map(|d| d.as_secs()),
            };
            let data = ask(&socket, &req)?;
            if format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "addr": crate::ledger::addr_text(&addr),
                        "was_banned": data["was_banned"],
                        "allowed_until": data["allowed_until"],
                    })
                );
                return Ok(Success::Clean);
            }
            let was = if data["was_banned"].as_bool() == Some(true) {
                "unbanned"
            } else {
                "was not banned"
            };
            match allow {
                Some(d) => outln!(
                    "{} {was}; allowed for {}",
                    crate::ledger::addr_text(&addr),
                    humantime::format_duration(d)
                ),
                None => outln!("{} {was}", crate::ledger::addr_text(&addr)),
            }
            Ok(Success::Clean)
        }
    }
}

/// Arguments of `sipwall status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    list: ListArgs,
    #[command(flatten)]
    state: crate::cmd::apply::StateArgs,
    /// The ruleset `apply` saves for boot.
    #[arg(
        long,
        env = "SIPWALL_SAVED_RULESET",
        default_value = "/var/lib/sipwall/ruleset.nft",
        value_name = "FILE"
    )]
    save: std::path::PathBuf,
}

/// `sipwall status`: the kernel's table and the apply state (read here),
/// then the daemon's counters if it runs. Exit 3 when it does not.
pub fn status(a: StatusArgs) -> Outcome {
    let table = crate::cmd::apply::table_status(&a.state, &a.save);
    let table = serde_json::to_value(&table).unwrap_or_default();
    let (mut data, running) = match ask(&a.list.socket, &Request::Status) {
        Ok(d) => (d, true),
        Err(e) => (
            serde_json::json!({ "daemon": { "running": false, "error": e.to_string() } }),
            false,
        ),
    };
    if let Some(o) = data.as_object_mut() {
        o.insert("table".into(), table);
        o.entry("daemon")
            .or_insert_with(|| serde_json::json!({ "running": true }));
    }
    show(a.list.format, &data, status_text)?;
    Ok(if running {
        Success::Clean
    } else {
        Success::Inactive
    })
}

/// Seconds since the epoch -> "3m12s ago".
fn ago(epoch: Option<u64>) -> Option<String> {
    let then = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch?);
    let d = std::time::SystemTime::now()
        .duration_since(then)
        .unwrap_or_default();
    Some(format!("{} ago", compact(d)))
}

/// One value of the daemon's answer on one line: objects as `key value`
/// pairs, lists joined.
fn inline(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k} {}", inline(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(inline).collect::<Vec<_>>().join(", "),
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn status_text(d: &serde_json::Value) -> String {
    let t = &d["table"];
    let mut rows: Vec<(String, String)> = Vec::new();
    let table = match t["loaded"].as_bool() {
        Some(true) => {
            let mut s = "loaded".to_owned();
            if let Some(when) = ago(t["applied_at"].as_u64()) {
                s.push_str(&format!(", applied {when}"));
            }
            match (t["policy"].as_str(), t["policy_matches"].as_bool()) {
                (Some(p), _) => s.push_str(&format!(" from {p}")),
                (None, Some(false)) => {
                    s.push_str(" (replaced since sipwall applied it: not the recorded policy)")
                }
                _ => {}
            }
            s
        }
        Some(false) => "not loaded: nothing filtered by sipwall (`sipwall apply`)".into(),
        None => format!("unknown: {}", field(&t["error"])),
    };
    rows.push(("table".into(), table));
    if let Some(left) = t["confirm_pending_seconds"].as_u64() {
        rows.push((
            "confirm".into(),
            format!(
                "pending: rolls back in {} unless `sipwall confirm`",
                compact(std::time::Duration::from_secs(left))
            ),
        ));
    }
    rows.push((
        "boot".into(),
        match t["boot_ruleset"].as_str() {
            Some(path) => format!(
                "{path}, saved {}",
                ago(t["boot_saved_at"].as_u64()).unwrap_or_default()
            ),
            None => "no saved ruleset: the next boot loads no sipwall table".into(),
        },
    ));
    let daemon = &d["daemon"];
    if daemon["running"].as_bool() == Some(true) {
        let up = d["uptime_seconds"]
            .as_u64()
            .map(|s| compact(std::time::Duration::from_secs(s)))
            .unwrap_or_default();
        rows.push(("daemon".into(), format!("running for {up}")));
        if let Some(o) = d.as_object() {
            for (k, v) in o {
                if !matches!(k.as_str(), "table" | "daemon" | "uptime_seconds") {
                    rows.push((k.replace('_', " "), inline(v)));
                }
            }
        }
    } else {
        rows.push((
            "daemon".into(),
            format!("not running ({})", field(&daemon["error"])),
        ));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// `sipwall calls`.
pub fn calls(a: ListArgs) -> Outcome {
    let data = ask(&a.socket, &Request::Calls)?;
    show(a.format, &data, |d| {
        let mut out = String::new();
        let now = crate::control::unix_now();
        let mut rows = vec![["PINHOLE".to_owned(), "REMAINING".to_owned()]];
        for p in d["pinholes"].as_array().into_iter().flatten() {
            let left = p["until"].as_u64().unwrap_or(0).saturating_sub(now);
            rows.push([
                field(&p["key"]),
                compact(std::time::Duration::from_secs(left)),
            ]);
        }
        if rows.len() == 1 {
            out.push_str("no open pinholes\n");
        } else {
            out = columns(&rows);
        }
        out
    })
}

#[cfg(test)]
mod target_tests {
    use super::parse_target;
    use crate::cmd::text::{columns, compact};
    use std::time::Duration;

    #[test]
    fn remaining_times_read_like_cscli() {
        assert_eq!(compact(Duration::from_secs(0)), "0s");
        assert_eq!(compact(Duration::from_secs(42)), "42s");
        assert_eq!(
            compact(Duration::from_secs(3 * 3600 + 12 * 60 + 5)),
            "3h12m"
        );
        assert_eq!(compact(Duration::from_secs(3600 + 7)), "1h");
        assert_eq!(compact(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d4h");
    }

    #[test]
    fn columns_line_up_under_their_header() {
        let rows = [
            ["ADDRESS".to_owned(), "REMAINING".to_owned()],
            ["2001:db8::1".to_owned(), "3h12m".to_owned()],
        ];
        let text = columns(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].find("REMAINING"), lines[1].find("3h12m"));
    }

    #[test]
    fn bans_del_takes_an_address_or_a_prefix_but_not_one_with_host_bits() {
        assert_eq!(
            parse_target("2001:db8:66::7").unwrap().to_string(),
            "2001:db8:66::7/128"
        );
        assert_eq!(
            parse_target("2001:db8:66::/64").unwrap().to_string(),
            "2001:db8:66::/64"
        );
        let e = parse_target("2001:db8:66::7/64").unwrap_err();
        assert!(e.contains("the prefix is 2001:db8:66::/64"), "{e}");
        assert!(parse_target("not-an-address").is_err());
    }
}
