//! The control protocol between `sipwall run` and the `bans`, `status` and
//! `calls` commands: one JSON request per line over a root-only Unix
//! socket, one JSON response line back.

use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon listens by default.
pub const DEFAULT_SOCKET: &str = "/run/sipwall/control.sock";

/// Which socket to talk to.
#[derive(clap::Args, Debug, Clone)]
pub struct SocketArgs {
    /// The daemon's control socket.
    #[arg(long = "control", env = "SIPWALL_CONTROL", default_value = DEFAULT_SOCKET, value_name = "PATH")]
    pub path: PathBuf,
}

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// The bans in force.
    Bans,
    /// Ban an address by hand.
    Ban {
        /// The address.
        addr: String,
        /// For how long (the policy's ban time when absent).
        seconds: Option<u64>,
        /// Why, for the ledger.
        reason: Option<String>,
    },
    /// Lift a ban, and optionally allow the address for a while.
    Unban {
        /// The address.
        addr: String,
        /// Allow it (never ban it) for this long.
        allow_seconds: Option<u64>,
    },
    /// Counters and state.
    Status,
    /// Open media pinholes.
    Calls,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// What was asked for.
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Response {
    /// A success carrying `data`.
    pub fn ok(data: serde_json::Value) -> Self {
        Response {
            ok: true,
            error: None,
            data,
        }
    }
    /// A refusal.
    pub fn error(msg: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(msg.into()),
            data: serde_json::Value::Null,
        }
    }
}

/// Sends one request and reads the answer.
pub fn call(socket: &Path, req: &Request) -> anyhow::Result<Response> {
    use anyhow::Context as _;
    let mut s = UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot reach the daemon at {} (is `sipwall run` running?)",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer)?;
    serde_json::from_str(&answer)
        .with_context(|| format!("unreadable answer from the daemon: {answer:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_json_shape() {
        let r = Request::Unban {
            addr: "192.0.2.66".into(),
            allow_seconds: Some(600),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"cmd":"unban","addr":"192.0.2.66","allow_seconds":600}"#
        );
        let back: Request = serde_json::from_str(r#"{"cmd":"status"}"#).unwrap();
        assert_eq!(back, Request::Status);
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"format-disk"}"#).is_err());
    }
}
