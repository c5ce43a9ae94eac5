//! sipwall-control: the protocol between `sipwall run` and the `bans` (and `bans explain`),
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
    /// Why an address is (or was) banned, or would have been
    /// (`sipwall bans explain`): answered with an [`Explanation`].
    Explain {
        /// The address.
        addr: String,
    },
}

/// The most decisions an [`Explanation`] lists (the newest).
pub const MAX_DECISIONS: usize = 8;

/// Why an address is or was banned: the answer to [`Request::Explain`],
/// also built by the command itself from the ledger file when no daemon
/// answers (then `live` is false and the engine's and the lists' parts
/// are missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The address asked about.
    pub addr: String,
    /// Whether a running daemon answered (false: read from the ledger file).
    pub live: bool,
    /// Whether it is banned now (by a ban of its own or of a prefix
    /// holding it), as the daemon's engine sees it; `None` when no daemon
    /// answered.
    pub banned_now: Option<bool>,
    /// The daemon's guard mode (`enforce`, `observe`), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_mode: Option<String>,
    /// The ledger's decisions on the address (or a prefix holding it),
    /// newest first, at most [`MAX_DECISIONS`].
    pub decisions: Vec<Decision>,
    /// The engine's latest evidence on the address, when it holds one
    /// that no ledger row carries yet (e.g. a would-be ban announced
    /// before the ledger was written, or the ledger in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<BanEvidence>,
    /// The external lists (a feed, CrowdSec) that hold it.
    pub lists: Vec<ListMatch>,
    /// Whether `lists` was looked up (false: no daemon, or a daemon
    /// without external lists to ask).
    pub lists_checked: bool,
    /// What is missing from this answer, and why, for people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How a decision of the ledger stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// A ban in force.
    Banned,
    /// A ban that ended (`ended_by` says how).
    Ended,
    /// A ban observe mode decided and kept from the kernel.
    WouldBanObserved,
    /// A ban a shield (the allowlist, a verified source) stopped.
    WouldBanShielded,
}

/// One decision of the ledger on an address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The address or the prefix banned (`2001:db8:1:2::/64`).
    pub target: String,
    /// How it stands.
    pub standing: Standing,
    /// The detector (`scanner`, `flood`, ...), `manual`, or `kernel`.
    pub kind: String,
    /// The reason, for people.
    pub reason: String,
    /// The evidence line.
    pub evidence: String,
    /// When it was made (Unix seconds).
    pub since: u64,
    /// When it ends or ended as made (Unix seconds).
    pub until: u64,
    /// When it ended, if it did (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// How it ended (`expired`, `unbanned`, `allowlisted`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// The detector's structured evidence, when the ledger kept it (rows
    /// written before explanations, bans by hand and adopted bans have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<BanEvidence>,
}

/// A detector's structured evidence (the engine's, as kept in the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanEvidence {
    /// The detector.
    pub detector: String,
    /// How many it takes.
    pub threshold: u64,
    /// Within how long, in milliseconds (0: one request is enough).
    pub window_ms: u64,
    /// The rule in words.
    pub rule: String,
    /// When the detector decided (Unix milliseconds).
    pub at_ms: u64,
    /// The requests that counted, oldest first.
    pub counted: Vec<CountedRequest>,
    /// Which offence this was (1: the first; more: a repeat offender).
    pub offence: u32,
    /// How long the ban lasts or would have lasted, in seconds.
    pub length_secs: u64,
    /// Why no ban was made (`allowlisted`, `verified`), for a would-be ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shield: Option<String>,
    /// The prefix this ban got banned whole (source rotation), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// One request that counted towards a detector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedRequest {
    /// When (Unix milliseconds).
    pub at_ms: u64,
    /// The method (or `malformed: <fault>`).
    pub method: String,
    /// The account or Request-URI it named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The host's answer, when one counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<u16>,
}

/// An external list holding an address: a feed or CrowdSec's decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMatch {
    /// The list (`crowdsec`, `feed NAME`).
    pub list: String,
    /// The network of the entry that holds the address.
    pub net: String,
    /// Its provenance (CrowdSec's scenario and origin, the feed's kind).
    pub detail: String,
    /// When the entry ends (Unix seconds), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
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
        let explain: Request =
            serde_json::from_str(r#"{"cmd":"explain","addr":"203.0.113.66"}"#).unwrap();
        assert_eq!(
            explain,
            Request::Explain {
                addr: "203.0.113.66".into()
            }
        );
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
