//! The confirm-or-roll-back protocol of `apply --confirm`.
//!
//! State lives in a directory (default `/run/sipwall`), so that `sipwall
//! confirm` in another shell and a detached watchdog can meet:
//!
//! ```text
//!   previous.nft / previous.absent   the ruleset before the apply
//!   pending                          "TOKEN DEADLINE_MS": an apply awaits confirmation
//!   confirmed                        TOKEN: `confirm` won the race
//!   rolled-back                      TOKEN: the watchdog won it and restored previous
//! ```
//!
//! Confirmation and rollback both start by renaming `pending`; a rename is
//! atomic, so exactly one of them wins however close the timing.

use crate::error::NetfilterError;
use crate::firewall::Table;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The protocol's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// What became of a pending apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Still waiting.
    Pending,
    /// Confirmed in time.
    Confirmed,
    /// Rolled back.
    RolledBack,
    /// Neither marker carries this token: another apply took over.
    Superseded,
}

/// A pending apply as the `pending` file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Identifies this apply.
    pub token: String,
    /// Milliseconds since the epoch after which it is rolled back.
    pub deadline_ms: u128,
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

impl StateDir {
    /// Uses `dir`, creating it (mode 0700) when needed.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, NetfilterError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|source| NetfilterError::State {
            path: dir.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        }
        Ok(StateDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn io<T>(&self, name: &str, r: std::io::Result<T>) -> Result<T, NetfilterError> {
        r.map_err(|source| NetfilterError::State {
            path: self.file(name),
            source,
        })
    }

    /// Records the table before an apply (`None`: it was absent).
    pub fn save_previous(&self, previous: Option<&Table>) -> Result<(), NetfilterError> {
        for f in ["previous.absent", "previous.nft", "previous.sets"] {
            let _ = fs::remove_file(self.file(f));
        }
        match previous {
            Some(t) => {
                let sets: String = t
                    .sets
                    .iter()
                    .map(|(n, ty)| format!("{n}\t{ty}\n"))
                    .collect();
                self.io("previous.sets", fs::write(self.file("previous.sets"), sets))?;
                self.io(
                    "previous.nft",
                    fs::write(self.file("previous.nft"), &t.text),
                )
            }
            None => self.io(
                "previous.absent",
                fs::write(self.file("previous.absent"), ""),
            ),
        }
    }

    /// The recorded previous table: `Some(None)` when it was absent, `None`
    /// when nothing was recorded.
    pub fn previous(&self, table: &str) -> Result<Option<Option<Table>>, NetfilterError> {
        if self.file("previous.absent").exists() {
            return Ok(Some(None));
        }
        let text = match fs::read_to_string(self.file("previous.nft")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return self.io("previous.nft", Err(e)),
        };
        let sets = fs::read_to_string(self.file("previous.sets")).unwrap_or_default();
        let sets = sets
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
            .collect();
        Ok(Some(Some(Table {
            name: table.to_owned(),
            text,
            sets,
        })))
    }

    /// The apply awaiting confirmation, if any.
    pub fn pending(&self) -> Result<Option<Pending>, NetfilterError> {
        match fs::read_to_string(self.file("pending")) {
            Ok(t) => {
                let mut parts = t.split_whitespace();
                let token = parts.next().unwrap_or_default().to_owned();
                let deadline_ms = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0);
                Ok(Some(Pending { token, deadline_ms }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => self.io("pending", Err(e)),
        }
    }

    /// Starts waiting for a confirmation within `window`; returns the token.
    pub fn begin(&self, window: Duration) -> Result<Pending, NetfilterError> {
        let token = format!("{}-{}", std::process::id(), now_ms());
        let p = Pending {
            token,
            deadline_ms: now_ms() + window.as_millis(),
        };
        for stale in ["confirmed", "rolled-back"] {
            let _ = fs::remove_file(self.file(stale));
        }
        let tmp = self.file("pending.tmp");
        self.io(
            "pending.tmp",
            fs::write(&tmp, format!("{} {}\n", p.token, p.deadline_ms)),
        )?;
        self.io("pending", fs::rename(&tmp, self.file("pending")))?;
        Ok(p)
    }

    /// Claims the pending apply for `outcome` ("confirmed" or "rolled-back"):
    /// `Some(token)` if this caller won the race.
    fn claim(&self, outcome: &str) -> Result<Option<String>, NetfilterError> {
        let Some(p) = self.pending()? else {
            return Ok(None);
        };
        match fs::rename(self.file("pending"), self.file(outcome)) {
            Ok(()) => {
                self.io(outcome, fs::write(self.file(outcome), &p.token))?;
                Ok(Some(p.token))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => self.io("pending", Err(e)),
        }
    }

    /// Confirms the pending apply: `false` if there was none (or it was
    /// rolled back already).
    pub fn confirm(&self) -> Result<bool, NetfilterError> {
        Ok(self.claim("confirmed")?.is_some())
    }

    /// Claims the pending apply `token` for rollback: `true` if the caller
    /// must now restore the previous ruleset.
    pub fn claim_rollback(&self, token: &str) -> Result<bool, NetfilterError> {
        match self.pending()? {
            Some(p) if p.token == token => Ok(self.claim("rolled-back")?.as_deref() == Some(token)),
            _ => Ok(false),
        }
    }

    /// What became of the apply `token`.
    pub fn settled(&self, token: &str) -> Result<Settled, NetfilterError> {
        let read = |name| fs::read_to_string(self.file(name)).ok();
        if let Some(p) = self.pending()? {
            return Ok(if p.token == token {
                Settled::Pending
            } else {
                Settled::Superseded
            });
        }
        if read("confirmed").as_deref() == Some(token) {
            return Ok(Settled::Confirmed);
        }
        // The claim renames first and writes the token after: a moment
        // where the marker exists but is empty still means ours.
        match read("rolled-back").as_deref() {
            Some(t) if t == token || t.is_empty() => Ok(Settled::RolledBack),
            _ => match read("confirmed").as_deref() {
                Some("") => Ok(Settled::Confirmed),
                _ => Ok(Settled::Superseded),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirm_wins_over_a_later_rollback() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let p = s.begin(Duration::from_secs(30)).unwrap();
        assert_eq!(s.settled(&p.token).unwrap(), Settled::Pending);
        assert!(s.confirm().unwrap());
        assert!(
            !s.claim_rollback(&p.token).unwrap(),
            "rollback after confirm must lose"
        );
        assert_eq!(s.settled(&p.token).unwrap(), Settled::Confirmed);
        assert!(!s.confirm().unwrap(), "nothing left to confirm");
    }

    #[test]
    fn rollback_wins_over_a_later_confirm() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let p = s.begin(Duration::from_secs(30)).unwrap();
        assert!(s.claim_rollback(&p.token).unwrap());
        assert!(!s.confirm().unwrap(), "confirm after rollback must lose");
        assert_eq!(s.settled(&p.token).unwrap(), Settled::RolledBack);
    }

    #[test]
    fn a_stale_watchdog_cannot_roll_back_a_newer_apply() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let old = s.begin(Duration::from_secs(30)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let new = s.begin(Duration::from_secs(30)).unwrap();
        assert_ne!(old.token, new.token);
        assert!(!s.claim_rollback(&old.token).unwrap());
        assert_eq!(s.settled(&old.token).unwrap(), Settled::Superseded);
        assert_eq!(s.settled(&new.token).unwrap(), Settled::Pending);
    }

    #[test]
    fn previous_state_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        assert!(s.previous("sipwall").unwrap().is_none());
        s.save_previous(None).unwrap();
        assert!(matches!(s.previous("sipwall").unwrap(), Some(None)));
        let t = Table {
            name: "sipwall".into(),
            text: "table inet sipwall {}\n".into(),
            sets: vec![("pinhole_v4".into(), "ipv4_addr . inet_service".into())],
        };
        s.save_previous(Some(&t)).unwrap();
        let back = s.previous("sipwall").unwrap().unwrap().unwrap();
        assert_eq!((back.text, back.sets), (t.text, t.sets));
    }
}
