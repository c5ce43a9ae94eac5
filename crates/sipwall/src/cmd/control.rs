//! `sipwall bans list|add|del`, `sipwall status`, `sipwall calls`: talk to
//! a running daemon over its control socket.
//!
//! Everything shown came from the daemon, and much of it from the network
//! (evidence, reasons): each string is escaped for the terminal here, even
//! if the daemon escaped it already (escaping is idempotent).

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
    /// Ban an address by hand.
    Add {
        /// The address.
        addr: std::net::IpAddr,
        /// For how long, e.g. 1h, at most 1year (default: the policy's ban time).
        #[arg(long = "for", value_parser = parse_ban_length)]
        duration: Option<std::time::Duration>,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
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
        #[command(flatten)]
        socket: SocketArgs,
    },
}

/// `bans del`'s target: an address, or a prefix as banned (host bits set
/// are refused, so a typo cannot lift a different prefix).
fn parse_target(s: &str) -> Result<ipnet::IpNet, String> {
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
        Format::Json => println!("{data}"),
        Format::Text => print!("{}", text(&data)),
    }
    Ok(Success::Clean)
}

/// Runs a `sipwall bans` subcommand.
pub fn bans(cmd: BansCommand) -> Outcome {
    match cmd {
        BansCommand::List(a) => {
            let data = ask(&a.socket, &Request::Bans)?;
            show(a.format, &data, |d| {
                let mut out = String::new();
                for b in d["bans"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "{:<40} {:<12} until {:<12} {} ({})\n",
                        field(&b["addr"]),
                        field(&b["kind"]),
                        b["until"].as_u64().unwrap_or(0),
                        field(&b["reason"]),
                        field(&b["evidence"])
                    ));
                }
                if out.is_empty() {
                    out.push_str("no bans\n");
                }
                out
            })
        }
        BansCommand::Add {
            addr,
            duration,
            reason,
            socket,
        } => {
            let req = Request::Ban {
                addr: addr.to_string(),
                seconds: duration.map(|d| d.as_secs()),
                reason,
            };
            ask(&socket, &req)?;
            println!("banned {addr}");
            Ok(Success::Clean)
        }
        BansCommand::Del {
            addr,
            allow,
            socket,
        } => {
            let req = Request::Unban {
                addr: crate::ledger::addr_text(&addr),
                allow_seconds: allow.map(|d| d.as_secs()),
            };
            let data = ask(&socket, &req)?;
            let was = if data["was_banned"].as_bool() == Some(true) {
                "unbanned"
            } else {
                "was not banned"
            };
            match allow {
                Some(d) => println!(
                    "{} {was}; allowed for {}",
                    crate::ledger::addr_text(&addr),
                    humantime::format_duration(d)
                ),
                None => println!("{} {was}", crate::ledger::addr_text(&addr)),
            }
            Ok(Success::Clean)
        }
    }
}

/// `sipwall status`.
pub fn status(a: ListArgs) -> Outcome {
    let data = ask(&a.socket, &Request::Status)?;
    show(a.format, &data, |d| {
        serde_json::to_string_pretty(d).unwrap_or_default() + "\n"
    })
}

/// `sipwall calls`.
pub fn calls(a: ListArgs) -> Outcome {
    let data = ask(&a.socket, &Request::Calls)?;
    show(a.format, &data, |d| {
        let mut out = String::new();
        for p in d["pinholes"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{} until {}\n",
                field(&p["key"]),
                p["until"].as_u64().unwrap_or(0)
            ));
        }
        if out.is_empty() {
            out.push_str("no open pinholes\n");
        }
        out
    })
}

#[cfg(test)]
mod target_tests {
    use super::parse_target;

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
