//! The watcher: sipwall's own bans told to LAPI as alerts
//! (`POST /v1/watchers/login`, then `POST /v1/alerts` with the token), so
//! that every bouncer of the same LAPI drops the source too.
//!
//! The loop makes the alert when the ban is made ([`alert`]), keeps it in
//! the ledger's outbox and hands it to this thread; the thread pushes
//! what waits, in batches, and tells the loop which rows LAPI took
//! ([`Input::CrowdsecPushed`]), which deletes them. LAPI down, slow or
//! refusing: the alerts stay, and are tried again with backoff (1 s
//! doubling to a minute); a restarted daemon hands the outbox over again.
//! The decision's duration is what is left of the ban when it is pushed;
//! a ban that ended before it could be pushed is dropped from the outbox.

use super::{credentials, Health, Settings};
use crate::daemon::inbox::Input;
use crate::http::Http;
use sipwall_blocklist::lapi;
use sipwall_engine::{Action, BanReason};
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::outbox::{Row, MAX_ROWS};

/// Alerts sent in one request.
const BATCH: usize = 100;
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The scenarios sipwall raises (the watcher declares them at login).
const SCENARIOS: [&str; 6] = [
    "scanner",
    "flood",
    "brute-force",
    "enumeration",
    "malformed",
    "manual",
];

/// The alert for one of the engine's bans, with when the ban ends; `None`
/// for every other action.
pub fn alert(action: &Action, at: SystemTime) -> Option<(u64, lapi::Alert)> {
    let (net, until, reason, evidence) = match action {
        Action::Ban {
            addr,
            until,
            reason,
            evidence,
        } => (ipnet::IpNet::from(*addr), until, reason, evidence),
        Action::BanPrefix {
            prefix,
            until,
            reason,
            evidence,
        } => (*prefix, until, reason, evidence),
        _ => return None,
    };
    let at_us = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let duration = Duration::from_micros(until.micros().saturating_sub(at_us));
    let ban = lapi::Ban {
        net,
        detector: reason.kind().to_owned(),
        duration,
        at,
        since: at,
        events: 1,
        threshold: 0,
        window: Duration::ZERO,
        meta: context(reason, evidence),
    };
    Some((until.micros(), lapi::Alert::of(&ban)))
}

/// The SIP context of a ban, from its reason and evidence: the method and
/// User-Agent of a scanner's request (`OPTIONS sip:100@h (User-Agent: x)`),
/// the account of a brute force, and the reason and evidence themselves.
fn context(reason: &BanReason, evidence: &str) -> Vec<(String, String)> {
    let mut meta = Vec::new();
    let first = evidence.split(' ').next().unwrap_or("");
    if !first.is_empty() && first.len() <= 16 && first.bytes().all(|b| b.is_ascii_uppercase()) {
        meta.push(("method".to_owned(), first.to_owned()));
    }
    if let BanReason::BruteForce { account } = reason {
        meta.push(("account".to_owned(), account.clone()));
    }
    let ua = match reason {
        BanReason::ScannerUserAgent(ua) => Some(ua.clone()),
        _ => evidence
            .rsplit_once("(User-Agent: ")
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .map(str::to_owned),
    };
    if let Some(ua) = ua {
        meta.push(("user_agent".to_owned(), ua));
    }
    meta.push(("reason".to_owned(), reason.to_string()));
    meta.push(("evidence".to_owned(), evidence.to_owned()));
    meta
}

/// Starts the pushing thread: rows come from the loop on `rows`.
pub fn spawn(settings: Settings, rows: Receiver<Row>, to_loop: SyncSender<Input>, health: Health) {
    std::thread::Builder::new()
        .name("crowdsec-watcher".into())
        .spawn(move || Pusher::new(settings, to_loop, health).run(rows))
        .expect("a thread for the CrowdSec watcher");
}

struct Pusher {
    settings: Settings,
    http: Http,
    to_loop: SyncSender<Input>,
    health: Health,
    waiting: VecDeque<Row>,
    token: Option<String>,
}

/// Why a push did not happen.
enum Failed {
    /// Told to the admin as an error (bad credentials, a refusal).
    Refused(String),
    /// LAPI unreachable or broken: a warning, it will come back.
    Down(String),
}

impl Pusher {
    fn new(settings: Settings, to_loop: SyncSender<Input>, health: Health) -> Pusher {
        Pusher {
            http: Http::new(settings.timeout),
            settings,
            to_loop,
            health,
            waiting: VecDeque::new(),
            token: None,
        }
    }

    fn run(mut self, rows: Receiver<Row>) {
        // Log in once at start: bad credentials show at once, not at the
        // first ban.
        match self.login() {
            Ok(_) => self.set_state("ok".into()),
            Err(Failed::Refused(why)) => {
                tracing::error!(lapi = %self.settings.lapi, error = %why, "crowdsec watcher: cannot log in");
                self.set_state(format!("error: {why}"));
            }
            Err(Failed::Down(why)) => {
                tracing::warn!(lapi = %self.settings.lapi, error = %why, "crowdsec watcher: LAPI unreachable at start");
                self.set_state(format!("unreachable: {why}"));
            }
        }
        let mut backoff = Duration::from_secs(1);
        // A deadline, not a wait: new alerts arriving during a backoff do
        // not push it further away.
        let mut next_try = Instant::now();
        loop {
            let now = Instant::now();
            let got = if self.waiting.is_empty() {
                rows.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else if next_try > now {
                rows.recv_timeout(next_try - now)
            } else {
                rows.try_recv().map_err(|e| match e {
                    TryRecvError::Empty => RecvTimeoutError::Timeout,
                    TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            };
            match got {
                Ok(row) => self.keep(row),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(row) = rows.try_recv() {
                self.keep(row);
            }
            if self.waiting.is_empty() || Instant::now() < next_try {
                continue;
            }
            match self.push_some() {
                Ok(()) => {
                    backoff = Duration::from_secs(1);
                    next_try = Instant::now();
                    self.set_state("ok".into());
                }
                Err(failed) => {
                    match &failed {
                        Failed::Refused(why) => {
                            tracing::error!(lapi = %self.settings.lapi, error = %why, waiting = self.waiting.len(), "crowdsec watcher: alerts not pushed");
                            self.set_state(format!("error: {why}"));
                        }
                        Failed::Down(why) => {
                            tracing::warn!(lapi = %self.settings.lapi, error = %why, waiting = self.waiting.len(), retry_in = ?backoff, "crowdsec watcher: LAPI unreachable, alerts kept");
                            self.set_state(format!("unreachable: {why}"));
                        }
                    }
                    next_try = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn keep(&mut self, row: Row) {
        if self.waiting.len() >= MAX_ROWS {
            // The loop dropped the same oldest row from the outbox.
            self.waiting.pop_front();
        }
        self.waiting.push_back(row);
    }

    fn set_state(&self, state: String) {
        if let Ok(mut h) = self.health.lock() {
            h.watcher = state;
        }
    }

    /// Pushes everything waiting, a batch at a time.
    fn push_some(&mut self) -> Result<(), Failed> {
        while !self.waiting.is_empty() {
            let now = SystemTime::now();
            let now_us = now
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros() as u64;
            let mut ended = Vec::new();
            let mut batch = Vec::new();
            let mut ids = Vec::new();
            for row in self.waiting.iter().take(BATCH) {
                match with_duration_left(&row.body, row.until.saturating_sub(now_us)) {
                    Some(alert) => {
                        batch.push(alert);
                        ids.push(row.id);
                    }
                    None => ended.push(row.id),
                }
            }
            let taken = ids.len() + ended.len();
            if !batch.is_empty() {
                self.post(&batch)?;
            }
            self.waiting.drain(..taken);
            if let Ok(mut h) = self.health.lock() {
                h.pushed += ids.len() as u64;
            }
            ids.extend(ended);
            if self.to_loop.send(Input::CrowdsecPushed(ids)).is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    fn post(&mut self, batch: &[serde_json::Value]) -> Result<(), Failed> {
        let body = serde_json::to_vec(batch).expect("JSON values encode");
        for attempt in 0..2 {
            let token = match &self.token {
                Some(t) => t.clone(),
                None => self.login()?,
            };
            let url = format!("{}/v1/alerts", self.settings.lapi);
            let auth = format!("Bearer {token}");
            let reply = self
                .http
                .post_json(
                    &url,
                    &[("Authorization", &auth)],
                    &body,
                    lapi::MAX_SMALL_BYTES,
                )
                .map_err(|e| Failed::Down(e.to_string()))?;
            match reply.status {
                200 | 201 => {
                    let ids = lapi::decode_alert_ids(&reply.body)
                        .map_err(|e| Failed::Down(format!("POST /v1/alerts: {e}")))?;
                    tracing::info!(alerts = batch.len(), lapi_ids = ?ids, "crowdsec watcher: alerts pushed");
                    return Ok(());
                }
                // The token expired: log in again, once.
                401 if attempt == 0 => self.token = None,
                status => {
                    return Err(Failed::Refused(format!(
                        "POST /v1/alerts answered {status}: {}",
                        sipwall_engine::remote_text::printable(&reply.body, 200)
                    )))
                }
            }
        }
        Err(Failed::Refused(
            "POST /v1/alerts: refused after a new login".into(),
        ))
    }

    fn login(&mut self) -> Result<String, Failed> {
        let file = &self.settings.machine_file;
        let m = credentials::machine(file).map_err(|e| Failed::Refused(e.to_string()))?;
        let body = lapi::Login {
            machine_id: m.login.clone(),
            password: m.password,
            scenarios: SCENARIOS
                .iter()
                .map(|s| format!("{}/{s}", lapi::ORIGIN))
                .collect(),
        };
        let url = format!("{}/v1/watchers/login", self.settings.lapi);
        let body = serde_json::to_vec(&body).expect("a login encodes");
        let reply = self
            .http
            .post_json(&url, &[], &body, lapi::MAX_SMALL_BYTES)
            .map_err(|e| Failed::Down(e.to_string()))?;
        match reply.status {
            200 => {
                let token = lapi::decode_login(&reply.body)
                    .map_err(|e| Failed::Down(format!("login: {e}")))?;
                tracing::info!(machine = %m.login, "crowdsec watcher: logged in to LAPI");
                self.token = Some(token.0.clone());
                Ok(token.0)
            }
            401 | 403 => Err(Failed::Refused(format!(
                "LAPI refused the login of machine {:?} ({}): check {} (`cscli machines list`)",
                m.login,
                reply.status,
                file.display()
            ))),
            status => Err(Failed::Down(format!("login answered {status}"))),
        }
    }
}

/// The stored alert with its decision lasting `left` microseconds; `None`
/// when the ban has ended (or the row is not an alert).
fn with_duration_left(body: &str, left_us: u64) -> Option<serde_json::Value> {
    let secs = left_us / 1_000_000;
    if secs == 0 {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_str(body).ok()?;
    let text = lapi::go_duration_text(Duration::from_secs(secs));
    for d in v.get_mut("decisions")?.as_array_mut()? {
        d["duration"] = serde_json::Value::String(text.clone());
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipwall_engine::Timestamp;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_scanner_ban_becomes_an_alert_with_its_sip_context() {
        let action = Action::Ban {
            addr: "192.0.2.66".parse().unwrap(),
            until: Timestamp::from_micros(1_000_600_000_000),
            reason: BanReason::ScannerUserAgent("friendly-scanner".into()),
            evidence: "OPTIONS sip:100@192.0.2.1 (User-Agent: friendly-scanner)".into(),
        };
        let (until, alert) = alert(&action, at(1_000_000)).unwrap();
        assert_eq!(until, 1_000_600_000_000);
        let v = serde_json::to_value(&alert).unwrap();
        assert_eq!(v["scenario"], "sipwall/scanner");
        assert_eq!(v["decisions"][0]["duration"], "600s");
        let meta: Vec<(String, String)> = v["events"][0]["meta"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["key"].as_str().unwrap().into(),
                    m["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(meta[0], ("method".into(), "OPTIONS".into()));
        assert_eq!(meta[1], ("user_agent".into(), "friendly-scanner".into()));
        assert_eq!(meta[2].0, "reason");
        assert!(meta[2].1.contains("friendly-scanner"));
    }

    #[test]
    fn a_brute_force_alert_names_the_account() {
        let action = Action::Ban {
            addr: "2001:db8::66".parse().unwrap(),
            until: Timestamp::from_micros(2_000_000),
            reason: BanReason::BruteForce {
                account: "1000".into(),
            },
            evidence: "5 failed authentications from this source, 5 against 1000".into(),
        };
        let (_, alert) = alert(&action, at(1)).unwrap();
        let v = serde_json::to_value(&alert).unwrap();
        assert_eq!(v["scenario"], "sipwall/brute-force");
        assert_eq!(v["source"]["value"], "2001:db8::66");
        let meta = v["events"][0]["meta"].to_string();
        assert!(
            meta.contains(r#"{"key":"account","value":"1000"}"#),
            "{meta}"
        );
        assert!(!meta.contains("\"method\""), "{meta}");
        let unban = Action::Unban {
            addr: "192.0.2.1".parse().unwrap(),
        };
        assert!(super::alert(&unban, at(1)).is_none());
    }

    #[test]
    fn an_alert_pushed_late_carries_what_is_left_of_its_ban() {
        let body = r#"{"scenario":"sipwall/scanner","decisions":[{"duration":"3600s"}]}"#;
        let v = with_duration_left(body, 1_500_000_000).unwrap();
        assert_eq!(v["decisions"][0]["duration"], "1500s");
        assert!(with_duration_left(body, 999_999).is_none(), "ended");
        assert!(with_duration_left("not json", 5_000_000).is_none());
    }
}
