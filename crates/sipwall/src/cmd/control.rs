//! `sipwall bans list|add|del`, `sipwall status`, `sipwall calls`: talk to
//! a running daemon over its control socket.

use super::Format;
use crate::control::{call, Request, SocketArgs};
use crate::exit::{Failure, Outcome, Success};
use clap::{Args, Subcommand};

/// `sipwall bans` subcommands.
#[derive(Subcommand, Debug)]
pub enum BansCommand {
    /// The bans in force, with reason, evidence and expiry.
    List(ListArgs),
    /// Ban an address by hand.
    Add {
        /// The address.
        addr: std::net::IpAddr,
        /// For how long, e.g. 1h (default: the policy's ban time).
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Option<std::time::Duration>,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// Lift a ban (recorded in the ledger), optionally allowing the address.
    Del {
        /// The address.
        addr: std::net::IpAddr,
        /// Never ban it for this long, e.g. 1d.
        #[arg(long, value_parser = humantime::parse_duration)]
        allow: Option<std::time::Duration>,
        #[command(flatten)]
        socket: SocketArgs,
    },
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
            r.error.unwrap_or_default()
        )))
    }
}

fn show(
    format: Format,
    data: &serde_json::Value,
    text: impl FnOnce(&serde_json::Value) -> String,
) -> Outcome {
    match format {
        Format::Json => println!("{data}"),
        Format::Text => print!("{}", text(data)),
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
                        b["addr"].as_str().unwrap_or(""),
                        b["kind"].as_str().unwrap_or(""),
                        b["until"].as_u64().unwrap_or(0),
                        b["reason"].as_str().unwrap_or(""),
                        b["evidence"].as_str().unwrap_or("")
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
                addr: addr.to_string(),
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
                    "{addr} {was}; allowed for {}",
                    humantime::format_duration(d)
                ),
                None => println!("{addr} {was}"),
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
                p["key"].as_str().unwrap_or(""),
                p["until"].as_u64().unwrap_or(0)
            ));
        }
        if out.is_empty() {
            out.push_str("no open pinholes\n");
        }
        out
    })
}
