//! The bouncer: CrowdSec's decisions pulled from LAPI's stream into the
//! kernel sets of their own (`crowdsec_v4/v6`, `crowdsec_net_v4/v6`), through the loop.
//!
//! The first pull asks with `startup=true` and gets every live decision:
//! it REPLACES the CrowdSec list (what LAPI no longer holds leaves the
//! sets). Later pulls get what changed since the previous one: new
//! decisions are added, deleted ones removed. LAPI keeps track of each
//! bouncer's last pull, so an answer lost on the way (LAPI down, a
//! timeout, an answer refused as malformed or oversized) would lose the
//! changes it carried: after any failed pull the next asks with
//! `startup=true` again. A refused answer touches no set.
//!
//! Decisions of origin `sipwall` for a source this daemon banned itself
//! are our own alerts coming back: they are not added (the ban is in the
//! ban sets already, and `sipwall bans del` must be able to lift it).

use super::{credentials, Health, Ours, Settings};
use crate::daemon::blocklists::{ListId, Listed, Update};
use crate::daemon::inbox::Input;
use crate::http::{Http, HttpError};
use ipnet::IpNet;
use sipwall_blocklist::lapi;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

/// The longest a startup pull (the whole list) may take.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What one good pull changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// Every live decision (a `startup=true` answer): the list's whole content.
    All(Vec<Listed>),
    /// What changed since the last pull.
    Changes {
        /// New decisions.
        new: Vec<Listed>,
        /// Deleted or expired ones, by network and decision id.
        deleted: Vec<(IpNet, u64)>,
    },
}

/// Why a pull gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullError {
    /// The key is missing, unreadable or refused: the admin must act.
    Key(String),
    /// LAPI is unreachable, or answered with an error status.
    Lapi(String),
    /// LAPI's answer is malformed, oversized or cut short: refused whole.
    Answer(String),
}

impl std::fmt::Display for PullError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullError::Key(why) | PullError::Lapi(why) | PullError::Answer(why) => f.write_str(why),
        }
    }
}

/// Starts the pulling thread.
pub fn spawn(settings: Settings, ours: Ours, to_loop: SyncSender<Input>, health: Health) {
    std::thread::Builder::new()
        .name("crowdsec-bouncer".into())
        .spawn(move || run(settings, ours, to_loop, health))
        .expect("a thread for the CrowdSec bouncer");
}

fn run(settings: Settings, ours: Ours, to_loop: SyncSender<Input>, health: Health) {
    let http = Http::new(settings.timeout);
    // A startup answer is the whole list: LAPI reads 100,000 decisions out
    // of its database and sends megabytes, which a pull's timeout (twice
    // the interval) must not cut off again and again.
    let whole = Http::new(settings.timeout.max(STARTUP_TIMEOUT));
    let mut synced = false;
    let mut last_error: Option<PullError> = None;
    let mut next = Instant::now();
    loop {
        let client = if synced { &http } else { &whole };
        match pull(client, &settings, !synced, &ours) {
            Ok(pulled) => {
                let (added, removed) = match &pulled {
                    Pulled::All(all) => (all.len(), 0),
                    Pulled::Changes { new, deleted } => (new.len(), deleted.len()),
                };
                if !synced || added + removed > 0 {
                    tracing::info!(
                        startup = !synced,
                        added,
                        removed,
                        "crowdsec bouncer: decisions pulled"
                    );
                }
                for update in updates(pulled) {
                    if to_loop.send(Input::Blocklist(update)).is_err() {
                        return;
                    }
                }
                if last_error.take().is_some() {
                    tracing::info!(lapi = %settings.lapi, "crowdsec bouncer: LAPI answers again");
                }
                synced = true;
                if let Ok(mut h) = health.lock() {
                    h.bouncer = "ok".into();
                    h.pulls += 1;
                }
            }
            Err(e) => {
                synced = false;
                // Once per change of fault, not every pull interval.
                if last_error.as_ref() != Some(&e) {
                    match &e {
                        PullError::Key(why) => {
                            tracing::error!(lapi = %settings.lapi, error = %why, "crowdsec bouncer: no decisions")
                        }
                        PullError::Lapi(why) => {
                            tracing::warn!(lapi = %settings.lapi, error = %why, "crowdsec bouncer: no decisions this pull; the sets keep what they had")
                        }
                        PullError::Answer(why) => {
                            tracing::error!(lapi = %settings.lapi, error = %why, "crowdsec bouncer: LAPI's answer refused; the sets keep what they had")
                        }
                    }
                }
                let state = match &e {
                    PullError::Key(why) => format!("error: {why}"),
                    PullError::Lapi(why) => format!("unreachable: {why}"),
                    PullError::Answer(why) => format!("bad answer: {why}"),
                };
                if last_error.as_ref() != Some(&e) {
                    let problem = Update::Health {
                        list: ListId::CrowdSec,
                        problem: Some(state.clone()),
                    };
                    if to_loop.send(Input::Blocklist(problem)).is_err() {
                        return;
                    }
                }
                if let Ok(mut h) = health.lock() {
                    h.bouncer = state;
                }
                last_error = Some(e);
            }
        }
        // A steady cadence: a slow answer does not push the next pull later.
        next += settings.pull_interval;
        let now = Instant::now();
        if next <= now {
            next = now + settings.pull_interval.min(Duration::from_millis(100));
        }
        std::thread::sleep(next - now);
    }
}

/// One pull of the stream, decoded and filtered.
pub fn pull(
    http: &Http,
    settings: &Settings,
    startup: bool,
    ours: &Ours,
) -> Result<Pulled, PullError> {
    let key = credentials::key(&settings.key_file).map_err(|e| PullError::Key(e.to_string()))?;
    let url = format!("{}/v1/decisions/stream?startup={startup}", settings.lapi);
    let asked = Instant::now();
    let reply = http
        .get(&url, &[("X-Api-Key", &key)], lapi::MAX_STREAM_BYTES)
        .map_err(|e| match e {
            HttpError::TooLarge { .. } | HttpError::Truncated { .. } => {
                PullError::Answer(e.to_string())
            }
            e => PullError::Lapi(e.to_string()),
        })?;
    let fetched = asked.elapsed();
    match reply.status {
        200 => {}
        401 | 403 => {
            return Err(PullError::Key(format!(
                "LAPI refused the bouncer key ({}): check {} (`cscli bouncers list`)",
                reply.status,
                settings.key_file.display()
            )))
        }
        s => {
            return Err(PullError::Lapi(format!(
                "GET /v1/decisions/stream answered {s}"
            )))
        }
    }
    let stream = lapi::Stream::decode(&reply.body).map_err(|e| PullError::Answer(e.to_string()))?;
    if startup {
        tracing::info!(
            bytes = reply.body.len(),
            decisions = stream.new.len(),
            skipped = stream.skipped,
            fetch_ms = fetched.as_millis() as u64,
            decode_ms = (asked.elapsed() - fetched).as_millis() as u64,
            "crowdsec bouncer: startup stream read"
        );
    }
    Ok(filter(stream, startup, ours))
}

/// Keeps what this host should enforce: not its own alerts coming back.
pub fn filter(stream: lapi::Stream, startup: bool, ours: &Ours) -> Pulled {
    let now = std::time::SystemTime::now();
    let mine = ours.lock().ok();
    let is_ours = |d: &lapi::Decision| {
        d.origin == lapi::ORIGIN
            && mine
                .as_ref()
                .and_then(|m| m.get(&d.net))
                .is_some_and(|until| *until > now)
    };
    let new: Vec<Listed> = stream
        .new
        .iter()
        .filter(|d| !is_ours(d))
        .map(|d| Listed {
            entry: d.entry(),
            id: d.id,
            detail: d.provenance(),
        })
        .collect();
    if startup {
        return Pulled::All(new);
    }
    Pulled::Changes {
        new,
        deleted: stream.deleted.iter().map(|d| (d.net, d.id)).collect(),
    }
}

/// The loop's updates for one good pull: a startup answer replaces the
/// list, a later one adds and removes.
pub fn updates(pulled: Pulled) -> Vec<Update> {
    let list = ListId::CrowdSec;
    match pulled {
        Pulled::All(entries) => vec![Update::Replace { list, entries }],
        Pulled::Changes { new, deleted } => {
            let mut out = Vec::new();
            if !deleted.is_empty() {
                out.push(Update::Remove {
                    list: list.clone(),
                    gone: deleted,
                });
            }
            if !new.is_empty() {
                out.push(Update::Add { list, entries: new });
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn our_own_alerts_coming_back_are_not_added_but_other_hosts_are() {
        let body = br#"{"new":[
            {"duration":"10m","id":1,"origin":"sipwall","scenario":"sipwall/scanner","scope":"Ip","type":"ban","value":"192.0.2.66"},
            {"duration":"10m","id":2,"origin":"sipwall","scenario":"sipwall/scanner","scope":"Ip","type":"ban","value":"192.0.2.77"},
            {"duration":"10m","id":3,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.88"}
        ],"deleted":[{"duration":"-1s","id":4,"origin":"cscli","scenario":"x","scope":"Range","type":"ban","value":"198.51.100.0/24"}]}"#;
        let ours = Ours::default();
        ours.lock().unwrap().insert(
            "192.0.2.66/32".parse().unwrap(),
            SystemTime::now() + Duration::from_secs(60),
        );
        // An own ban that ended: a decision for it is another host's now.
        ours.lock().unwrap().insert(
            "192.0.2.77/32".parse().unwrap(),
            SystemTime::now() - Duration::from_secs(1),
        );
        let s = lapi::Stream::decode(body).unwrap();
        let Pulled::Changes { new, deleted } = filter(s.clone(), false, &ours) else {
            panic!("not a startup pull");
        };
        let nets: Vec<String> = new.iter().map(|l| l.entry.net.to_string()).collect();
        assert_eq!(nets, ["192.0.2.77/32", "192.0.2.88/32"]);
        assert_eq!(new[1].detail, "crowdsec: cscli x");
        assert_eq!(new[1].id, 3);
        assert_eq!(deleted, [("198.51.100.0/24".parse::<IpNet>().unwrap(), 4)]);
        let u = updates(Pulled::Changes { new, deleted });
        assert!(
            matches!(&u[..], [Update::Remove { .. }, Update::Add { .. }]),
            "{u:?}"
        );
        let Pulled::All(all) = filter(s, true, &ours) else {
            panic!("a startup pull");
        };
        assert_eq!(all.len(), 2);
        let u = updates(Pulled::All(all));
        assert!(matches!(&u[..], [Update::Replace { entries, .. }] if entries.len() == 2));
        // Nothing changed: nothing for the loop.
        assert!(updates(Pulled::Changes {
            new: vec![],
            deleted: vec![]
        })
        .is_empty());
    }
}
