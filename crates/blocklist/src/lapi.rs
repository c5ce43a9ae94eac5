//! CrowdSec's local API (LAPI), as a bouncer and as a watcher sees it.
//!
//! The bouncer side decodes `GET /v1/decisions/stream` answers
//! ([`Stream::decode`]); the watcher side encodes the login and alert
//! bodies ([`Login`], [`Alert`]) and decodes their answers. Only the
//! shapes are here: the daemon does the HTTP.
//!
//! What the bouncer keeps, and why:
//! - `type` `ban` only (case-insensitive): `captcha` and custom types ask
//!   for a remediation a packet filter cannot give, so they are skipped,
//!   not refused.
//! - scope `Ip` (a bare address) and `Range` (a CIDR; host bits are
//!   cleared) only: `Country`, `AS` and custom scopes name no address a
//!   firewall can match, so they are skipped too.
//! - A decision of kept type and scope whose value or duration does not
//!   parse refuses the WHOLE answer ([`LapiError::Decision`]): LAPI itself
//!   never writes one, so the answer is broken or forged, and applying
//!   the rest would make an answer half-trusted. The caller keeps its
//!   sets as they were and asks again at the next pull (with `startup`
//!   again, so nothing of the refused answer is lost).
//! - A new decision whose duration is zero or negative has already ended
//!   and is skipped; deleted decisions keep any duration (LAPI lists
//!   expired ones with a negative one).
//! - The answer is refused before decoding when over [`MAX_STREAM_BYTES`].

use crate::Entry;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// The largest stream answer decoded: 100,000 decisions at LAPI's usual
/// ~170 bytes each is 17 MB; twice that leaves room for long scenario
/// names, and bounds what a hostile LAPI can make the daemon hold.
pub const MAX_STREAM_BYTES: usize = 32 << 20;

/// The largest login or alert answer decoded (a token, a list of ids).
pub const MAX_SMALL_BYTES: usize = 64 << 10;

/// The longest remaining duration kept (Go's `time.Duration` tops out at
/// ~292 years; nft's set timeouts at ~49 days in some kernels, and a
/// decision that long is a permanent one in all but name).
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Why a LAPI answer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LapiError {
    /// The answer is larger than the bound for its kind.
    #[error("LAPI answer of {size} bytes is over the {limit}-byte bound")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// The answer is not the JSON shape LAPI sends.
    #[error("LAPI answer is not valid: {0}")]
    Json(String),
    /// One decision in the answer has a value or duration that does not
    /// parse; the whole answer is refused.
    #[error("LAPI decision {list}[{index}]: {what}")]
    Decision {
        /// `new` or `deleted`.
        list: &'static str,
        /// Its position in that list.
        index: usize,
        /// What is wrong with it.
        what: String,
    },
}

/// A ban decided by CrowdSec, as the stream lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// LAPI's id for it.
    pub id: u64,
    /// The address (as a /32 or /128) or range it bans.
    pub net: IpNet,
    /// Time left, as LAPI counted it when it answered (zero when it
    /// already ended; capped at [`MAX_TTL`]).
    pub ttl: Duration,
    /// Who decided: `crowdsec`, `cscli`, `CAPI`, `lists`, or a watcher's
    /// own origin (ours is [`ORIGIN`]).
    pub origin: String,
    /// The scenario that led to it.
    pub scenario: String,
}

impl Decision {
    /// The kernel set entry this decision asks for.
    pub fn entry(&self) -> Entry {
        Entry {
            net: self.net,
            ttl: Some(self.ttl),
        }
    }

    /// A short provenance text: `crowdsec: <origin> <scenario>`.
    pub fn provenance(&self) -> String {
        format!("crowdsec: {} {}", self.origin, self.scenario)
    }
}

/// What one stream answer changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    /// Decisions to add (only live bans of an address or range).
    pub new: Vec<Decision>,
    /// Decisions that ended or were deleted.
    pub deleted: Vec<Decision>,
    /// Decisions left out because their type or scope is not one a
    /// packet filter enforces, or (new ones) because they already ended.
    pub skipped: usize,
}

// Strings borrow from the body where they can (no escapes): 100,000
// decisions make 600,000 strings otherwise.
#[derive(Deserialize)]
struct RawStream<'a> {
    #[serde(default, borrow)]
    new: Option<Vec<RawDecision<'a>>>,
    #[serde(default, borrow)]
    deleted: Option<Vec<RawDecision<'a>>>,
}

#[derive(Deserialize)]
struct RawDecision<'a> {
    #[serde(default)]
    id: u64,
    #[serde(borrow)]
    duration: Cow<'a, str>,
    #[serde(default, borrow)]
    origin: Cow<'a, str>,
    #[serde(default, borrow)]
    scenario: Cow<'a, str>,
    #[serde(borrow)]
    scope: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

impl Stream {
    /// Decodes a `/v1/decisions/stream` answer, or refuses it whole.
    pub fn decode(body: &[u8]) -> Result<Stream, LapiError> {
        bounded(body, MAX_STREAM_BYTES)?;
        // serde reads a struct from a JSON list too (`[]` would be an
        // empty answer): LAPI's answer is an object, anything else is not it.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(LapiError::Json("not a JSON object".into()));
        }
        let raw: RawStream =
            serde_json::from_slice(body).map_err(|e| LapiError::Json(e.to_string()))?;
        let mut out = Stream::default();
        for (list, raws, deleted) in [
            ("new", raw.new.unwrap_or_default(), false),
            ("deleted", raw.deleted.unwrap_or_default(), true),
        ] {
            for (index, r) in raws.into_iter().enumerate() {
                let bad = |what: String| LapiError::Decision { list, index, what };
                if !r.kind.eq_ignore_ascii_case("ban") {
                    out.skipped += 1;
                    continue;
                }
                let net = if r.scope.eq_ignore_ascii_case("ip") {
                    let ip: IpAddr = r
                        .value
                        .parse()
                        .map_err(|_| bad(format!("Ip value {:?} is not an address", r.value)))?;
                    IpNet::from(ip.to_canonical())
                } else if r.scope.eq_ignore_ascii_case("range") {
                    let net: IpNet = r
                        .value
                        .parse()
                        .map_err(|_| bad(format!("Range value {:?} is not a CIDR", r.value)))?;
                    canonical_net(net)
                } else {
                    out.skipped += 1;
                    continue;
                };
                let left = go_duration(&r.duration)
                    .map_err(|what| bad(format!("duration {:?}: {what}", r.duration)))?;
                let ttl = match left {
                    Some(d) => d.min(MAX_TTL),
                    None if deleted => Duration::ZERO,
                    None => {
                        out.skipped += 1;
                        continue;
                    }
                };
                let d = Decision {
                    id: r.id,
                    net,
                    ttl,
                    origin: r.origin.into_owned(),
                    scenario: r.scenario.into_owned(),
                };
                if deleted {
                    out.deleted.push(d);
                } else {
                    out.new.push(d);
                }
            }
        }
        Ok(out)
    }
}

/// A v4-mapped v6 range (`::ffff:192.0.2.0/120`) is the v4 range the
/// kernel sees; host bits are cleared (`192.0.2.1/24` is `192.0.2.0/24`).
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net {
        if let (Some(v4), true) = (n.addr().to_ipv4_mapped(), n.prefix_len() >= 96) {
            if let Ok(n4) = ipnet::Ipv4Net::new(v4, n.prefix_len() - 96) {
                return IpNet::V4(n4.trunc());
            }
        }
    }
    net.trunc()
}

fn bounded(body: &[u8], limit: usize) -> Result<(), LapiError> {
    if body.len() > limit {
        return Err(LapiError::TooLarge {
            size: body.len(),
            limit,
        });
    }
    Ok(())
}

/// Parses Go's `time.Duration` text (`59m58.9s`, `1h0m0s`, `-3.5s`,
/// `250ms`, `0s`): `Some` for a positive duration, `None` for zero or
/// negative (it has ended), an error for anything else.
pub fn go_duration(text: &str) -> Result<Option<Duration>, String> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(None);
    }
    if rest.is_empty() {
        return Err("empty".into());
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err("a number is missing".into());
        }
        let unit_len = after
            .char_indices()
            .find(|&(_, c)| c.is_ascii_digit() || c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err("a unit is missing".into()),
            _ => return Err(format!("unknown unit {unit:?}")),
        };
        // Go refuses more than 2^63-1 ns; so do we, before anything overflows.
        const LIMIT: u128 = i64::MAX as u128;
        let int: u128 = if int.is_empty() {
            0
        } else if int.len() > 20 {
            return Err("out of range".into());
        } else {
            int.parse().map_err(|_| "out of range".to_string())?
        };
        let mut part = int.checked_mul(scale).ok_or("out of range")?;
        let mut unit_scale = scale;
        for d in frac.bytes().take(30) {
            unit_scale /= 10;
            part += u128::from(d - b'0') * unit_scale;
        }
        nanos = nanos.checked_add(part).ok_or("out of range")?;
        if nanos > LIMIT {
            return Err("out of range".into());
        }
        rest = after;
    }
    if negative || nanos == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_nanos(nanos as u64)))
}

/// Go's text for a duration as LAPI reads it (`3600s`).
pub fn go_duration_text(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// Our decisions' origin (and the alerts' scenario prefix `sipwall/`).
pub const ORIGIN: &str = "sipwall";

/// The body of `POST /v1/watchers/login`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Login {
    /// The machine's login, as cscli wrote it in the credentials file.
    pub machine_id: String,
    /// Its password.
    pub password: String,
    /// The scenarios this watcher may raise alerts for.
    pub scenarios: Vec<String>,
}

/// The token a successful login answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(pub String);

/// Decodes a login answer (`{"code":200,"expire":"...","token":"..."}`).
pub fn decode_login(body: &[u8]) -> Result<Token, LapiError> {
    #[derive(Deserialize)]
    struct Answer {
        token: String,
    }
    bounded(body, MAX_SMALL_BYTES)?;
    let a: Answer = serde_json::from_slice(body).map_err(|e| LapiError::Json(e.to_string()))?;
    // The token goes into an HTTP header: printable ASCII, or nothing.
    if a.token.is_empty() || !a.token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(LapiError::Json(
            "the token is empty or not printable".into(),
        ));
    }
    Ok(Token(a.token))
}

/// Decodes the answer to `POST /v1/alerts`: the ids LAPI gave the alerts
/// (strings in 1.4.6; numbers accepted too).
pub fn decode_alert_ids(body: &[u8]) -> Result<Vec<u64>, LapiError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    bounded(body, MAX_SMALL_BYTES)?;
    let ids: Vec<Id> = serde_json::from_slice(body).map_err(|e| LapiError::Json(e.to_string()))?;
    ids.into_iter()
        .map(|id| match id {
            Id::Number(n) => Ok(n),
            Id::Text(t) => t
                .parse()
                .map_err(|_| LapiError::Json(format!("alert id {t:?} is not a number"))),
        })
        .collect()
}

/// One key of an alert event's meta (`method`, `account`, `user_agent`,
/// `reason`, ...).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Meta {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// One event of an alert.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// When (RFC 3339).
    pub timestamp: String,
    /// What the event says.
    pub meta: Vec<Meta>,
}

/// An alert's source.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Source {
    /// `Ip` or `Range`.
    pub scope: String,
    /// The address or range.
    pub value: String,
    /// The address (for an `Ip` source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The range (for a `Range` source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

/// A decision carried by an alert.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlertDecision {
    /// Always [`ORIGIN`].
    pub origin: String,
    /// `ban`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Ip` or `Range`.
    pub scope: String,
    /// The address or range.
    pub value: String,
    /// How long, as Go reads it (`3600s`).
    pub duration: String,
    /// The scenario (the alert's).
    pub scenario: String,
}

/// One alert of the `POST /v1/alerts` body (a JSON list of them).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alert {
    /// `sipwall/<detector>`.
    pub scenario: String,
    /// A hash of the scenario's definition (LAPI stores it only).
    pub scenario_hash: String,
    /// The scenario's version.
    pub scenario_version: String,
    /// A one-line summary.
    pub message: String,
    /// How many events the detector counted.
    pub events_count: i32,
    /// When the first counted event happened (RFC 3339).
    pub start_at: String,
    /// When the ban was decided (RFC 3339).
    pub stop_at: String,
    /// The detector's threshold.
    pub capacity: i32,
    /// The detector's window, as Go reads it.
    pub leakspeed: String,
    /// Always false: an observing sipwall pushes nothing.
    pub simulated: bool,
    /// Whether the alert carries a remediation (a decision).
    pub remediation: bool,
    /// The events (one, carrying the SIP context).
    pub events: Vec<Event>,
    /// Who.
    pub source: Source,
    /// The ban.
    pub decisions: Vec<AlertDecision>,
}

/// What sipwall knows of one of its own bans, to make an alert of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The banned address or network.
    pub net: IpNet,
    /// The detector that decided it (`scanner`, `register_flood`, ...).
    pub detector: String,
    /// How long the ban lasts.
    pub duration: Duration,
    /// When it was decided.
    pub at: SystemTime,
    /// When its first counted event happened.
    pub since: SystemTime,
    /// How many events counted.
    pub events: u32,
    /// The detector's threshold.
    pub threshold: u32,
    /// The detector's window.
    pub window: Duration,
    /// SIP context: `method`, `account`, `user_agent`, `reason`, ...
    /// (empty values are left out).
    pub meta: Vec<(String, String)>,
}

impl Alert {
    /// The alert that tells LAPI of `ban`.
    pub fn of(ban: &Ban) -> Alert {
        let scenario = format!("{ORIGIN}/{}", ban.detector);
        let single = ban.net.prefix_len() == ban.net.max_prefix_len();
        let (scope, value) = if single {
            ("Ip", ban.net.addr().to_string())
        } else {
            ("Range", ban.net.to_string())
        };
        let meta: Vec<Meta> = ban
            .meta
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| Meta {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let reason = ban
            .meta
            .iter()
            .find(|(k, _)| k == "reason")
            .map_or("", |(_, v)| v.as_str());
        let message = if reason.is_empty() {
            format!("{value} banned by sipwall ({})", ban.detector)
        } else {
            format!("{value} banned by sipwall ({}): {reason}", ban.detector)
        };
        let stop = rfc3339(ban.at);
        Alert {
            scenario: scenario.clone(),
            scenario_hash: String::new(),
            scenario_version: env!("CARGO_PKG_VERSION").to_owned(),
            message,
            events_count: i32::try_from(ban.events).unwrap_or(i32::MAX),
            start_at: rfc3339(ban.since.min(ban.at)),
            stop_at: stop.clone(),
            capacity: i32::try_from(ban.threshold).unwrap_or(i32::MAX),
            leakspeed: go_duration_text(ban.window),
            simulated: false,
            remediation: true,
            events: vec![Event {
                timestamp: stop,
                meta,
            }],
            source: Source {
                scope: scope.into(),
                value: value.clone(),
                ip: single.then(|| value.clone()),
                range: (!single).then(|| value.clone()),
            },
            decisions: vec![AlertDecision {
                origin: ORIGIN.into(),
                kind: "ban".into(),
                scope: scope.into(),
                value,
                duration: go_duration_text(ban.duration),
                scenario,
            }],
        }
    }
}

/// The body of `POST /v1/alerts`.
pub fn encode_alerts(alerts: &[Alert]) -> Vec<u8> {
    serde_json::to_vec(alerts).expect("alerts are plain strings and numbers")
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(d: &str) -> Result<Option<Duration>, String> {
        go_duration(d)
    }

    #[test]
    fn go_durations_as_lapi_writes_them() {
        assert_eq!(
            one("59m58.9s"),
            Ok(Some(Duration::from_millis(59 * 60_000 + 58_900)))
        );
        assert_eq!(one("1h0m0s"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(
            one("167h59m59.5s").unwrap().unwrap().as_secs(),
            167 * 3600 + 3599
        );
        assert_eq!(one("250ms"), Ok(Some(Duration::from_millis(250))));
        assert_eq!(one("1.5µs"), Ok(Some(Duration::from_nanos(1500))));
        assert_eq!(one(".5s"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(one("0s"), Ok(None));
        assert_eq!(one("0"), Ok(None));
        assert_eq!(one("-3.5s"), Ok(None));
        assert_eq!(one("-1h2m"), Ok(None));
        for bad in [
            "",
            "-",
            "5",
            "s",
            "1x",
            "1h 2m",
            "1.2.3s",
            "99999999999999999999999h",
            "3000000h",
            "1e3s",
            "NaN",
        ] {
            assert!(one(bad).is_err(), "{bad:?} should be refused");
        }
    }

    const STARTUP: &str = r#"{"new":[
        {"duration":"59m58.9s","id":1,"origin":"cscli","scenario":"manual 'ban' from 'x'","scope":"Ip","type":"ban","value":"192.0.2.9"},
        {"duration":"3h59m0s","id":2,"origin":"crowdsec","scenario":"crowdsecurity/ssh-bf","scope":"Range","type":"ban","value":"198.51.100.7/24"},
        {"duration":"10m","id":3,"origin":"cscli","scenario":"x","scope":"Ip","type":"captcha","value":"192.0.2.10"},
        {"duration":"10m","id":4,"origin":"cscli","scenario":"x","scope":"Country","type":"ban","value":"FR"},
        {"duration":"-2s","id":5,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.11"},
        {"duration":"1h","id":6,"origin":"sipwall","scenario":"sipwall/scanner","scope":"ip","type":"Ban","value":"2001:db8::66"},
        {"duration":"1h","id":7,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"::ffff:203.0.113.5"}
    ],"deleted":null}"#;

    #[test]
    fn a_startup_stream_keeps_live_bans_of_addresses_and_ranges() {
        let s = Stream::decode(STARTUP.as_bytes()).unwrap();
        let nets: Vec<String> = s.new.iter().map(|d| d.net.to_string()).collect();
        assert_eq!(
            nets,
            [
                "192.0.2.9/32",
                "198.51.100.0/24",
                "2001:db8::66/128",
                "203.0.113.5/32"
            ]
        );
        assert_eq!(s.skipped, 3, "captcha, Country, and an ended ban");
        assert!(s.deleted.is_empty());
        assert_eq!(s.new[0].ttl, Duration::from_millis(3_598_900));
        assert_eq!(s.new[0].id, 1);
        assert_eq!(s.new[2].origin, "sipwall");
        assert_eq!(
            s.new[1].provenance(),
            "crowdsec: crowdsec crowdsecurity/ssh-bf"
        );
        assert_eq!(s.new[0].entry().ttl, Some(Duration::from_millis(3_598_900)));
    }

    #[test]
    fn deleted_decisions_keep_their_negative_durations() {
        let body = r#"{"new":null,"deleted":[{"duration":"-1m3.2s","id":1,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.9"}]}"#;
        let s = Stream::decode(body.as_bytes()).unwrap();
        assert!(s.new.is_empty());
        assert_eq!(s.deleted.len(), 1);
        assert_eq!(s.deleted[0].ttl, Duration::ZERO);
        assert_eq!(s.deleted[0].net.to_string(), "192.0.2.9/32");
        assert_eq!(
            Stream::decode(br#"{"new":null,"deleted":null}"#).unwrap(),
            Stream::default()
        );
        assert_eq!(Stream::decode(b"{}").unwrap(), Stream::default());
    }

    #[test]
    fn one_malformed_decision_refuses_the_whole_answer() {
        for (value, scope, duration) in [
            ("192.0.2.300", "Ip", "1h"),
            ("192.0.2.0/24", "Ip", "1h"),
            ("192.0.2.9\nflush ruleset", "Ip", "1h"),
            ("192.0.2.0/33", "Range", "1h"),
            ("192.0.2.9", "Range", "1h"),
            ("192.0.2.9", "Ip", "forever"),
            ("192.0.2.9", "Ip", ""),
        ] {
            let body = format!(
                r#"{{"new":[
                {{"duration":"1h","id":1,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.1"}},
                {{"duration":{duration:?},"id":2,"origin":"cscli","scenario":"x","scope":{scope:?},"type":"ban","value":{value:?}}}
                ],"deleted":null}}"#
            );
            let e = Stream::decode(body.as_bytes()).unwrap_err();
            assert!(
                matches!(
                    e,
                    LapiError::Decision {
                        list: "new",
                        index: 1,
                        ..
                    }
                ),
                "{value:?} {scope} {duration:?}: {e}"
            );
        }
    }

    #[test]
    fn a_lapi_answer_that_is_not_its_shape_is_refused() {
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"{\"new\":{}}",
            b"{\"new\":[{\"value\":\"192.0.2.1\"}]}",
            b"{\"new\":[{\"duration\":\"1h\",\"scope\":\"Ip\",\"type\":\"ban\",\"value\":7}]}",
            b"{\"new\":[],\"deleted\":[]",
            b"<html>502 Bad Gateway</html>",
        ] {
            assert!(
                matches!(Stream::decode(body), Err(LapiError::Json(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_oversized_lapi_answer_is_refused_before_decoding() {
        let mut body = br#"{"new":[],"deleted":null} "#.to_vec();
        body.resize(MAX_STREAM_BYTES + 1, b' ');
        assert_eq!(
            Stream::decode(&body),
            Err(LapiError::TooLarge {
                size: MAX_STREAM_BYTES + 1,
                limit: MAX_STREAM_BYTES
            })
        );
    }

    #[test]
    fn a_hundred_thousand_decisions_decode() {
        let mut body = String::from(r#"{"new":["#);
        for i in 0..100_000u32 {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"duration":"3h59m58.123456789s","id":{i},"origin":"CAPI","scenario":"crowdsecurity/ssh-bf","scope":"Ip","type":"ban","value":"10.{}.{}.{}"}}"#,
                i >> 16,
                (i >> 8) & 255,
                i & 255
            ));
        }
        body.push_str(r#"],"deleted":null}"#);
        assert!(body.len() < MAX_STREAM_BYTES);
        let s = Stream::decode(body.as_bytes()).unwrap();
        assert_eq!(s.new.len(), 100_000);
    }

    #[test]
    fn durations_past_the_cap_are_capped() {
        let body = r#"{"new":[{"duration":"2562047h47m16.854775807s","id":1,"origin":"x","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.9"}]}"#;
        assert_eq!(Stream::decode(body.as_bytes()).unwrap().new[0].ttl, MAX_TTL);
    }

    #[test]
    fn login_body_and_answer() {
        let l = Login {
            machine_id: "host-a".into(),
            password: "p\"w".into(),
            scenarios: vec!["sipwall/scanner".into()],
        };
        let v: serde_json::Value = serde_json::to_value(&l).unwrap();
        assert_eq!(v["machine_id"], "host-a");
        assert_eq!(v["password"], "p\"w");
        assert_eq!(v["scenarios"][0], "sipwall/scanner");
        let t =
            decode_login(br#"{"code":200,"expire":"2026-12-06T22:00:00Z","token":"eyJ.a-b_c"}"#);
        assert_eq!(t, Ok(Token("eyJ.a-b_c".into())));
        assert!(decode_login(br#"{"code":200,"token":"a\r\nX-Evil: 1"}"#).is_err());
        assert!(decode_login(br#"{"code":200,"token":""}"#).is_err());
        assert!(
            decode_login(br#"{"code":401,"message":"incorrect Username or Password"}"#).is_err()
        );
    }

    #[test]
    fn alert_ids_are_strings_or_numbers() {
        assert_eq!(decode_alert_ids(br#"["12","13"]"#), Ok(vec![12, 13]));
        assert_eq!(decode_alert_ids(b"[14]"), Ok(vec![14]));
        assert!(decode_alert_ids(br#"["x"]"#).is_err());
        assert!(decode_alert_ids(br#"{"message":"x"}"#).is_err());
    }

    #[test]
    fn an_alert_carries_the_ban_and_its_sip_context() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ban = Ban {
            net: "192.0.2.66/32".parse().unwrap(),
            detector: "scanner".into(),
            duration: Duration::from_secs(3600),
            at,
            since: at - Duration::from_secs(2),
            events: 5,
            threshold: 3,
            window: Duration::from_secs(60),
            meta: vec![
                ("method".into(), "OPTIONS".into()),
                ("account".into(), String::new()),
                ("user_agent".into(), "friendly-scanner".into()),
                ("reason".into(), "scanner User-Agent".into()),
            ],
        };
        let v = serde_json::to_value(Alert::of(&ban)).unwrap();
        assert_eq!(v["scenario"], "sipwall/scanner");
        assert_eq!(v["source"]["scope"], "Ip");
        assert_eq!(v["source"]["value"], "192.0.2.66");
        assert_eq!(v["source"]["ip"], "192.0.2.66");
        assert!(v["source"].get("range").is_none());
        assert_eq!(v["decisions"][0]["origin"], "sipwall");
        assert_eq!(v["decisions"][0]["type"], "ban");
        assert_eq!(v["decisions"][0]["duration"], "3600s");
        assert_eq!(v["decisions"][0]["scenario"], "sipwall/scanner");
        assert_eq!(v["stop_at"], "2027-01-15T08:00:00Z");
        assert_eq!(v["start_at"], "2027-01-15T07:59:58Z");
        assert_eq!(v["events_count"], 5);
        assert_eq!(v["capacity"], 3);
        assert_eq!(v["leakspeed"], "60s");
        let meta = &v["events"][0]["meta"];
        assert_eq!(
            meta.as_array().unwrap().len(),
            3,
            "the empty account is left out"
        );
        assert_eq!(meta[0]["key"], "method");
        assert_eq!(meta[1]["value"], "friendly-scanner");
        let range = Ban {
            net: "2001:db8:66::/48".parse().unwrap(),
            ..ban
        };
        let v = serde_json::to_value(Alert::of(&range)).unwrap();
        assert_eq!(v["source"]["scope"], "Range");
        assert_eq!(v["source"]["range"], "2001:db8:66::/48");
        assert_eq!(v["decisions"][0]["value"], "2001:db8:66::/48");
        let body = encode_alerts(&[Alert::of(&range)]);
        assert!(body.starts_with(b"[{"));
    }
}
