//! sipwall-control: the protocol between `sipwall run` and the `bans`,
//! `status` and `calls` commands: one JSON request per line over a
//! root-only Unix socket, one JSON response line back.
//!
//! [`parse_request`] is the daemon's only reading of a request: it bounds
//! the line ([`MAX_REQUEST`]) and the lengths asked for ([`MAX_BAN`]), so
//! that what the engine and the ledger get is already in range. It is a
//! crate of its own so that its fuzz target builds without the daemon.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest request line the daemon reads, newline included.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The longest ban (or allowance) anyone can ask for: a year (humantime's,
/// 365.25 days, so that `--for 1year` is allowed). Longer lengths overflow
/// the kernel's timeouts and the ledger's times. The one bound: the
/// engine's table (`sipwall_engine::bans::MAX_BAN`) is this constant.
pub const MAX_BAN: Duration = Duration::from_secs(31_557_600);

/// Why a request line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// Longer than [`MAX_REQUEST`].
    #[error("request longer than {MAX_REQUEST} bytes")]
    TooLong,
    /// Not a request.
    #[error("bad request: {0}")]
    Malformed(String),
    /// A length past [`MAX_BAN`].
    #[error("{what} of {seconds}s is longer than the maximum, {max} ({max_secs}s)", max = humantime::format_duration(MAX_BAN), max_secs = MAX_BAN.as_secs())]
    TooLongBan {
        /// Which length.
        what: &'static str,
        /// As asked.
        seconds: u64,
    },
}

/// Reads one request line (its newline optional).
pub fn parse_request(line: &[u8]) -> Result<Request, RequestError> {
    if line.len() > MAX_REQUEST {
        return Err(RequestError::TooLong);
    }
    let req: Request =
        serde_json::from_slice(line).map_err(|e| RequestError::Malformed(e.to_string()))?;
    let check = |what, seconds: Option<u64>| match seconds {
        Some(seconds) if seconds > MAX_BAN.as_secs() => {
            Err(RequestError::TooLongBan { what, seconds })
        }
        _ => Ok(()),
    };
    match &req {
        Request::Ban { seconds, .. } => check("a ban", *seconds)?,
        Request::Unban { allow_seconds, .. } => check("an allowance", *allow_seconds)?,
        _ => {}
    }
    Ok(req)
}

/// Parses a duration as every sipwall option takes one: the policy's syntax
/// (`90s`, `5m`, `1h30m`, `30d`), or a bare number of seconds (`30`, as
/// `iptables-apply -t` takes it).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text} seconds is too long"));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("{e} (durations look like 90s, 5m, 1h30m, 30d)"))
}

/// Parses a ban length (`1h`, `30d`) of at most [`MAX_BAN`], for `--for`
/// and `--allow`.
pub fn parse_ban_length(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d > MAX_BAN {
        return Err(format!(
            "{text} is longer than the maximum, {}",
            humantime::format_duration(MAX_BAN)
        ));
    }
    if d < Duration::from_secs(1) {
        return Err("the shortest length is 1s".to_owned());
    }
    Ok(d)
}

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// The bans in force.
    Bans,
    /// Ban an address or a network by hand.
    Ban {
        /// The address, or a prefix (`203.0.113.0/24`).
        addr: String,
        /// For how long (the policy's ban time when absent).
        seconds: Option<u64>,
        /// Why, for the ledger.
        reason: Option<String>,
        /// Ban it even inside an allowlisted zone.
        #[serde(default)]
        force: bool,
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

    #[test]
    fn a_ban_of_a_million_years_is_refused_with_the_maximum() {
        let e = parse_ban_length("1000000years").unwrap_err();
        assert!(e.contains("maximum, 1year"), "{e}");
        assert!(parse_ban_length("200years").is_err());
        assert_eq!(parse_ban_length("1year"), Ok(MAX_BAN));
        assert_eq!(parse_ban_length("10m"), Ok(Duration::from_secs(600)));
        let far = format!(
            r#"{{"cmd":"ban","addr":"192.0.2.66","seconds":{}}}"#,
            u64::MAX
        );
        let e = parse_request(far.as_bytes()).unwrap_err();
        assert!(matches!(e, RequestError::TooLongBan { .. }), "{e}");
        assert!(e.to_string().contains("31557600s"), "{e}");
        let allow = r#"{"cmd":"unban","addr":"192.0.2.66","allow_seconds":31557601}"#;
        assert!(parse_request(allow.as_bytes()).is_err());
    }

    #[test]
    fn a_request_line_past_64_kib_is_refused_unread() {
        let mut line = br#"{"cmd":"status","pad":""#.to_vec();
        line.resize(MAX_REQUEST + 1, b'a');
        assert_eq!(parse_request(&line), Err(RequestError::TooLong));
        assert_eq!(
            parse_request(b"{\"cmd\":\"status\"}\n"),
            Ok(Request::Status)
        );
    }
}
