//! CrowdSec, both ways: the bouncer pulls CrowdSec's decisions into kernel
//! sets of their own ([`bouncer`]), the watcher pushes sipwall's own bans
//! to CrowdSec as alerts ([`watcher`]). Both speak to the local API (LAPI)
//! from threads of their own; neither touches the kernel nor the ledger:
//!
//! ```text
//!   LAPI ─(stream)─► bouncer ─► Input::Blocklist ─► loop ─► crowdsec_[net_]v4/v6
//!   loop ─(engine bans: alert)─► ledger outbox ─► watcher ─(POST /v1/alerts)─► LAPI
//!                         ▲                          │
//!                         └── Input::CrowdsecPushed ─┘ (rows LAPI took)
//! ```
//!
//! Local guarding never waits for LAPI: a LAPI down, slow or refusing
//! leaves the sets as they were and the alerts in the outbox; both are
//! tried again. Credentials come from root's files only ([`credentials`]);
//! a bad key or a refused login is an error in the log and in `status`.

pub mod bouncer;
pub mod credentials;
pub mod outbox;
pub mod watcher;

use crate::ledger::Ledger;
use ipnet::IpNet;
use sipwall_engine::Action;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::inbox::Input;

/// The longest one request to LAPI may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What both threads need to reach LAPI.
#[derive(Debug, Clone)]
pub struct Settings {
    /// LAPI's base URL.
    pub lapi: String,
    /// The bouncer's key file.
    pub key_file: PathBuf,
    /// The watcher's credentials file.
    pub machine_file: PathBuf,
    /// How often the stream is pulled.
    pub pull_interval: Duration,
    /// The longest one request may take.
    pub timeout: Duration,
}

/// How the two threads are doing, for `status` and the metrics.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct State {
    /// The bouncer: `starting`, `ok`, `unreachable: ...`, `error: ...`.
    pub bouncer: String,
    /// The watcher: `off`, `idle`, `ok`, `unreachable: ...`, `error: ...`.
    pub watcher: String,
    /// Good pulls so far.
    pub pulls: u64,
    /// Alerts LAPI took.
    pub pushed: u64,
    /// Alerts waiting in the outbox.
    pub waiting: usize,
    /// Alerts dropped from a full outbox.
    pub dropped: u64,
}

/// The threads' shared [`State`].
pub type Health = Arc<Mutex<State>>;

/// The sources this daemon banned itself, with when each ban ends: a
/// decision of origin `sipwall` for one of them is our own alert.
pub type Ours = Arc<Mutex<HashMap<IpNet, SystemTime>>>;

/// The loop's handle on the CrowdSec threads.
pub struct Crowdsec {
    lapi: String,
    health: Health,
    ours: Ours,
    /// Where alerts go to be pushed (none when `push = false`).
    rows: Option<Sender<outbox::Row>>,
}

fn micros_to_time(us: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(us)
}

impl Crowdsec {
    /// Starts the bouncer and (with `push`) the watcher, which first gets
    /// what the outbox kept from before.
    pub fn start(
        policy: &sipwall_policy::CrowdSec,
        ledger: &mut Ledger,
        inputs: SyncSender<Input>,
        now_us: u64,
    ) -> Crowdsec {
        let settings = Settings {
            lapi: policy.lapi.trim_end_matches('/').to_owned(),
            key_file: policy.key_file.clone(),
            machine_file: policy.machine_file.clone(),
            pull_interval: policy.pull_interval,
            timeout: TIMEOUT.min(policy.pull_interval.max(Duration::from_secs(2)) * 2),
        };
        let health = Health::default();
        let ours = Ours::default();
        if let Ok(active) = ledger.active(now_us) {
            let mut o = ours.lock().expect("not shared yet");
            for b in active {
                o.insert(b.addr, micros_to_time(b.until));
            }
        }
        let rows = if policy.push {
            let (tx, rx) = channel();
            match ledger.with_db(outbox::pending) {
                Ok(kept) => {
                    if !kept.is_empty() {
                        tracing::info!(
                            alerts = kept.len(),
                            "crowdsec watcher: alerts kept from before, to push"
                        );
                    }
                    health.lock().expect("not shared yet").waiting = kept.len();
                    for row in kept {
                        let _ = tx.send(row);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "crowdsec watcher: the outbox cannot be read")
                }
            }
            health.lock().expect("not shared yet").watcher = "idle".into();
            watcher::spawn(settings.clone(), rx, inputs.clone(), Arc::clone(&health));
            Some(tx)
        } else {
            health.lock().expect("not shared yet").watcher = "off".into();
            None
        };
        health.lock().expect("not shared yet").bouncer = "starting".into();
        bouncer::spawn(
            settings.clone(),
            Arc::clone(&ours),
            inputs,
            Arc::clone(&health),
        );
        tracing::info!(lapi = %settings.lapi, pull_interval = ?settings.pull_interval, push = policy.push, "crowdsec: bouncer started");
        Crowdsec {
            lapi: settings.lapi,
            health,
            ours,
            rows,
        }
    }

    /// Makes an alert of each of the engine's bans in `actions` that
    /// reached the kernel, keeps it in the outbox and hands it to the
    /// watcher. `at` is when they were made.
    pub fn on_actions<'a>(
        &mut self,
        actions: impl IntoIterator<Item = &'a Action>,
        ledger: &mut Ledger,
        at: SystemTime,
    ) {
        for action in actions {
            let Some((until, alert)) = watcher::alert(action, at) else {
                continue;
            };
            let net = match action {
                Action::Ban { addr, .. } => IpNet::from(*addr),
                Action::BanPrefix { prefix, .. } => *prefix,
                _ => continue,
            };
            if let Ok(mut o) = self.ours.lock() {
                o.insert(net, micros_to_time(until));
            }
            let Some(rows) = &self.rows else {
                continue;
            };
            let body = serde_json::to_string(&alert).expect("an alert encodes");
            match ledger.with_db(|db| outbox::add(db, until, &body)) {
                Ok((row, dropped)) => {
                    if let Ok(mut h) = self.health.lock() {
                        h.waiting = (h.waiting + 1).saturating_sub(dropped);
                        h.dropped += dropped as u64;
                    }
                    if dropped > 0 {
                        tracing::error!(
                            dropped,
                            max = outbox::MAX_ROWS,
                            "crowdsec watcher: the outbox is full, its oldest alerts are dropped"
                        );
                    }
                    let _ = rows.send(row);
                }
                Err(e) => {
                    tracing::error!(error = %e, %net, "crowdsec watcher: the alert could not be kept in the outbox");
                }
            }
        }
        self.forget_ended(at);
    }

    /// Deletes from the outbox the rows LAPI took (or that ended unpushed).
    pub fn on_pushed(&mut self, ids: &[i64], ledger: &mut Ledger) {
        match ledger.with_db(|db| outbox::done(db, ids)) {
            Ok(_) => {
                if let Ok(n) = ledger.with_db(outbox::count) {
                    if let Ok(mut h) = self.health.lock() {
                        h.waiting = n;
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "crowdsec watcher: pushed alerts stay in the outbox")
            }
        }
    }

    /// Ours past their end are nobody's: keeps the map to live bans.
    fn forget_ended(&mut self, now: SystemTime) {
        if let Ok(mut o) = self.ours.lock() {
            if o.len() > 1024 {
                o.retain(|_, until| *until > now);
            }
        }
    }

    /// What `status` shows.
    pub fn status(&self) -> serde_json::Value {
        let state = self.health.lock().map(|h| h.clone()).unwrap_or_default();
        let mut v = serde_json::to_value(state).unwrap_or_default();
        v["lapi"] = serde_json::Value::String(self.lapi.clone());
        v
    }
}
