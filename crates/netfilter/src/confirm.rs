//! The confirm-or-roll-back protocol of `apply --confirm`.
//!
//! State lives in a directory (default `/run/sipwall`), so that `sipwall
//! confirm` in another shell and a detached watchdog can meet:
//!
//! ```text
//!   lock                             flock(2)ed by whoever changes the state or the
//!                                    table; holds "PID\tCOMMAND\tSINCE_MS" of the holder
//!   previous.nft / previous.absent   the ruleset before the apply
//!   pending                          "TOKEN DEADLINE_MS": an apply awaits confirmation
//!   boot.target / boot.nft           where and what to save for boot once confirmed
//!   applied-policy                   "IDENTITY\tSOURCE" of the policy applied last
//!   applied.nft                      the text of the table applied last
//!   confirmed                        TOKEN: `confirm` won the race
//!   rolled-back                      TOKEN: the watchdog won it and restored previous
//!   cancelled                        TOKEN: `reset` removed the table meanwhile
//! ```
//!
//! Apply, confirm, rollback and reset each take the lock for as long as
//! they change the table or the state (never while waiting for a human),
//! so they happen one after the other, and an apply that finds a pending
//! one refuses instead of overwriting what its rollback restores.
//! Confirmation and rollback both start by renaming `pending`; a rename is
//! atomic, so exactly one of them wins however close the timing.
//!
//! Trust: the directory must be root's and private ([`crate::trust`]);
//! files are never written through a symbolic link.

use crate::error::NetfilterError;
use crate::firewall::Table;
use crate::trust;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{self, File};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The protocol's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// The state directory's lock, held until dropped. Every method that
/// changes the state asks for it, so it cannot be forgotten.
#[derive(Debug)]
pub struct StateLock {
    _file: Flock<File>,
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
    /// `reset` removed the table and cancelled the rollback.
    Cancelled,
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

impl Pending {
    /// The process id of the apply, from its token.
    pub fn pid(&self) -> Option<u32> {
        self.token.split('-').next()?.parse().ok()
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Leaves the caller's session and process group, so that the end of the
/// login session (a hang-up, a kill of the process group) does not reach
/// the rollback watchdog.
pub fn detach_session() -> Result<(), NetfilterError> {
    nix::unistd::setsid()
        .map(drop)
        .map_err(|e| NetfilterError::Netlink(format!("setsid: {e}")))
}

impl StateDir {
    /// Uses `dir`, creating it (mode 0700) when needed; refuses a directory
    /// root cannot trust (see [`crate::trust`]).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, NetfilterError> {
        let dir = dir.into();
        trust::dir(&dir)?;
        Ok(StateDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<String>, NetfilterError> {
        trust::read(&self.file(name))
    }

    fn write(&self, name: &str, text: &str) -> Result<(), NetfilterError> {
        trust::write(&self.file(name), text.as_bytes(), 0o600)
    }

    fn remove(&self, name: &str) {
        // unlink(2) removes a symbolic link itself, never its target.
        let _ = fs::remove_file(self.file(name));
    }

    /// Takes the lock for `command` (recorded for whoever waits on it),
    /// waiting up to `limit`; `on_wait` is called once, with the holder,
    /// if it has to wait.
    pub fn lock(
        &self,
        command: &str,
        limit: Duration,
        on_wait: impl FnOnce(&str),
    ) -> Result<StateLock, NetfilterError> {
        let path = self.file("lock");
        let started = Instant::now();
        let mut on_wait = Some(on_wait);
        let mut file = trust::open_rw(&path)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(mut locked) => {
                    let me = format!(
                        "{}\t{}\t{}\n",
                        std::process::id(),
                        command.replace(['\t', '\n'], " "),
                        now_ms()
                    );
                    let record = locked
                        .set_len(0)
                        .and_then(|()| locked.rewind())
                        .and_then(|()| locked.write_all(me.as_bytes()));
                    record.map_err(|source| NetfilterError::State {
                        path: path.clone(),
                        source,
                    })?;
                    return Ok(StateLock { _file: locked });
                }
                Err((f, nix::errno::Errno::EWOULDBLOCK)) => file = f,
                Err((_, e)) => {
                    return Err(NetfilterError::State {
                        path,
                        source: e.into(),
                    })
                }
            }
            if let Some(f) = on_wait.take() {
                f(&self.holder());
            }
            if started.elapsed() >= limit {
                return Err(NetfilterError::Busy {
                    path,
                    holder: self.holder(),
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Who holds (or last held) the lock, as it recorded itself.
    pub fn holder(&self) -> String {
        let text = self.read("lock").ok().flatten().unwrap_or_default();
        let mut f = text.trim_end().splitn(3, '\t');
        match (
            f.next(),
            f.next(),
            f.next().and_then(|t| t.parse::<u128>().ok()),
        ) {
            (Some(pid), Some(cmd), Some(since)) => format!(
                "pid {pid} (`sipwall {cmd}`, for {:.1} s)",
                now_ms().saturating_sub(since) as f64 / 1000.0
            ),
            _ => "another sipwall command".to_owned(),
        }
    }

    /// Records the table before an apply (`None`: it was absent).
    pub fn save_previous(
        &self,
        _: &StateLock,
        previous: Option<&Table>,
    ) -> Result<(), NetfilterError> {
        for f in ["previous.absent", "previous.nft", "previous.sets"] {
            self.remove(f);
        }
        match previous {
            Some(t) => {
                let sets: String = t
                    .sets
                    .iter()
                    .map(|(n, ty)| format!("{n}\t{ty}\n"))
                    .collect();
                self.write("previous.sets", &sets)?;
                self.write("previous.nft", &t.text)
            }
            None => self.write("previous.absent", ""),
        }
    }

    /// The recorded previous table: `Some(None)` when it was absent, `None`
    /// when nothing was recorded.
    pub fn previous(&self, table: &str) -> Result<Option<Option<Table>>, NetfilterError> {
        if self.read("previous.absent")?.is_some() {
            return Ok(Some(None));
        }
        let Some(text) = self.read("previous.nft")? else {
            return Ok(None);
        };
        let sets = self.read("previous.sets")?.unwrap_or_default();
        let sets = sets
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
            .collect();
        Ok(Some(Some(Table {
            name: table.to_owned(),
            text,
            sets,
            never_banned: Vec::new(),
        })))
    }

    /// The apply awaiting confirmation, if any.
    pub fn pending(&self) -> Result<Option<Pending>, NetfilterError> {
        Ok(self.read("pending")?.map(|t| {
            let mut parts = t.split_whitespace();
            let token = parts.next().unwrap_or_default().to_owned();
            let deadline_ms = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0);
            Pending { token, deadline_ms }
        }))
    }

    /// Starts waiting for a confirmation within `window`; returns the token.
    pub fn begin(&self, _: &StateLock, window: Duration) -> Result<Pending, NetfilterError> {
        let token = format!("{}-{}", std::process::id(), now_ms());
        let p = Pending {
            token,
            deadline_ms: now_ms() + window.as_millis(),
        };
        for stale in ["confirmed", "rolled-back", "cancelled"] {
            self.remove(stale);
        }
        self.write("pending", &format!("{} {}\n", p.token, p.deadline_ms))?;
        Ok(p)
    }

    /// Records the identity and source of the policy being applied, so
    /// that `run` can name the applied policy when it loads another.
    pub fn set_applied_policy(
        &self,
        _: &StateLock,
        identity: &str,
        source: &str,
    ) -> Result<(), NetfilterError> {
        let source = source.replace(['\t', '\n', '\r'], " ");
        self.write("applied-policy", &format!("{identity}\t{source}\n"))
    }

    /// What [`StateDir::set_applied_policy`] recorded last: identity, source.
    pub fn applied_policy(&self) -> Result<Option<(String, String)>, NetfilterError> {
        Ok(self.read("applied-policy")?.and_then(|t| {
            let (id, source) = t.trim_end().split_once('\t')?;
            Some((id.to_owned(), source.to_owned()))
        }))
    }

    /// When [`StateDir::set_applied_policy`] last recorded a policy.
    pub fn applied_at(&self) -> Option<SystemTime> {
        fs::symlink_metadata(self.file("applied-policy"))
            .ok()?
            .modified()
            .ok()
    }

    /// Records the text of the table just applied (what a later rollback
    /// restores while the live table is still this one).
    pub fn set_applied_table(&self, _: &StateLock, text: &str) -> Result<(), NetfilterError> {
        self.write("applied.nft", text)
    }

    /// What [`StateDir::set_applied_table`] recorded last.
    pub fn applied_table(&self) -> Result<Option<String>, NetfilterError> {
        self.read("applied.nft")
    }

    /// Records where the pending ruleset goes for boot once confirmed (the
    /// boot script), for whichever process confirms it.
    pub fn set_boot(
        &self,
        _: &StateLock,
        target: &Path,
        script: &str,
    ) -> Result<(), NetfilterError> {
        let target = target
            .to_str()
            .filter(|t| !t.contains('\n'))
            .ok_or_else(|| NetfilterError::Untrusted {
                path: target.to_owned(),
                why: "is not a one-line UTF-8 path".into(),
            })?;
        self.write("boot.nft", script)?;
        self.write("boot.target", target)
    }

    /// Takes what [`StateDir::set_boot`] recorded: where to save, and what.
    pub fn take_boot(&self, _: &StateLock) -> Result<Option<(PathBuf, String)>, NetfilterError> {
        let (Some(target), Some(script)) = (self.read("boot.target")?, self.read("boot.nft")?)
        else {
            return Ok(None);
        };
        self.remove("boot.target");
        self.remove("boot.nft");
        Ok(Some((PathBuf::from(target), script)))
    }

    /// Claims the pending apply for `outcome` ("confirmed" or "rolled-back"):
    /// `Some(token)` if this caller won the race. The marker keeps the
    /// pending file's text, whose first word is the token.
    fn claim(&self, outcome: &str) -> Result<Option<String>, NetfilterError> {
        let Some(p) = self.pending()? else {
            return Ok(None);
        };
        match fs::rename(self.file("pending"), self.file(outcome)) {
            Ok(()) => Ok(Some(p.token)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(NetfilterError::State {
                path: self.file("pending"),
                source,
            }),
        }
    }

    /// Confirms the pending apply: `false` if there was none (or it was
    /// rolled back already).
    pub fn confirm(&self, _: &StateLock) -> Result<bool, NetfilterError> {
        Ok(self.claim("confirmed")?.is_some())
    }

    /// Cancels the pending apply's rollback without confirming it (what
    /// `reset` does): `false` if there was none.
    pub fn cancel(&self, _: &StateLock) -> Result<bool, NetfilterError> {
        Ok(self.claim("cancelled")?.is_some())
    }

    /// Claims the pending apply `token` for rollback: `true` if the caller
    /// must now restore the previous ruleset.
    pub fn claim_rollback(&self, _: &StateLock, token: &str) -> Result<bool, NetfilterError> {
        match self.pending()? {
            Some(p) if p.token == token => Ok(self.claim("rolled-back")?.as_deref() == Some(token)),
            _ => Ok(false),
        }
    }

    /// What became of the apply `token`.
    pub fn settled(&self, token: &str) -> Result<Settled, NetfilterError> {
        let first = |name| -> Result<Option<String>, NetfilterError> {
            Ok(self
                .read(name)?
                .map(|t| t.split_whitespace().next().unwrap_or_default().to_owned()))
        };
        if let Some(p) = self.pending()? {
            return Ok(if p.token == token {
                Settled::Pending
            } else {
                Settled::Superseded
            });
        }
        if first("confirmed")?.as_deref() == Some(token) {
            return Ok(Settled::Confirmed);
        }
        if first("rolled-back")?.as_deref() == Some(token) {
            return Ok(Settled::RolledBack);
        }
        if first("cancelled")?.as_deref() == Some(token) {
            return Ok(Settled::Cancelled);
        }
        Ok(Settled::Superseded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(s: &StateDir) -> StateLock {
        s.lock("test", Duration::from_secs(5), |_| {}).unwrap()
    }

    #[test]
    fn confirm_wins_over_a_later_rollback() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let l = lock(&s);
        let p = s.begin(&l, Duration::from_secs(30)).unwrap();
        assert_eq!(s.settled(&p.token).unwrap(), Settled::Pending);
        assert!(s.confirm(&l).unwrap());
        assert!(
            !s.claim_rollback(&l, &p.token).unwrap(),
            "rollback after confirm must lose"
        );
        assert_eq!(s.settled(&p.token).unwrap(), Settled::Confirmed);
        assert!(!s.confirm(&l).unwrap(), "nothing left to confirm");
    }

    #[test]
    fn rollback_wins_over_a_later_confirm() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let l = lock(&s);
        let p = s.begin(&l, Duration::from_secs(30)).unwrap();
        assert!(s.claim_rollback(&l, &p.token).unwrap());
        assert!(!s.confirm(&l).unwrap(), "confirm after rollback must lose");
        assert_eq!(s.settled(&p.token).unwrap(), Settled::RolledBack);
    }

    #[test]
    fn a_stale_watchdog_cannot_roll_back_a_newer_apply() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let l = lock(&s);
        let old = s.begin(&l, Duration::from_secs(30)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let new = s.begin(&l, Duration::from_secs(30)).unwrap();
        assert_ne!(old.token, new.token);
        assert!(!s.claim_rollback(&l, &old.token).unwrap());
        assert_eq!(s.settled(&old.token).unwrap(), Settled::Superseded);
        assert_eq!(s.settled(&new.token).unwrap(), Settled::Pending);
    }

    #[test]
    fn previous_state_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let l = lock(&s);
        assert!(s.previous("sipwall").unwrap().is_none());
        s.save_previous(&l, None).unwrap();
        assert!(matches!(s.previous("sipwall").unwrap(), Some(None)));
        let t = Table {
            name: "sipwall".into(),
            text: "table inet sipwall {}\n".into(),
            sets: vec![("pinhole_v4".into(), "ipv4_addr . inet_service".into())],
            ..Table::default()
        };
        s.save_previous(&l, Some(&t)).unwrap();
        let back = s.previous("sipwall").unwrap().unwrap().unwrap();
        assert_eq!((back.text, back.sets), (t.text, t.sets));
    }

    #[test]
    fn a_second_command_waits_for_the_lock_and_names_its_holder() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let held = s
            .lock("apply --confirm 2", Duration::from_secs(1), |_| {})
            .unwrap();
        let mut told = String::new();
        let e = s
            .lock("apply", Duration::from_millis(200), |h| told = h.to_owned())
            .unwrap_err()
            .to_string();
        let me = format!("pid {} (`sipwall apply --confirm 2`", std::process::id());
        assert!(told.contains(&me), "{told}");
        assert!(e.contains(&me) && e.contains("locked"), "{e}");
        drop(held);
        s.lock("apply", Duration::from_millis(200), |_| {}).unwrap();
    }

    #[test]
    fn symlinks_planted_in_the_state_dir_are_never_written_through() {
        let d = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        let victim = etc.path().join("shadow");
        fs::write(&victim, "root:secret\n").unwrap();
        let s = StateDir::open(d.path()).unwrap();
        // Every name the protocol writes, and the temporary names the old
        // code used, point at the victim.
        for name in [
            "pending.tmp",
            "pending",
            "previous.nft",
            "previous.sets",
            "previous.absent",
            "confirmed",
            "rolled-back",
            "boot.nft",
            "boot.target",
        ] {
            std::os::unix::fs::symlink(&victim, d.path().join(name)).unwrap();
        }
        let l = lock(&s);
        let t = Table {
            name: "sipwall".into(),
            text: "table inet sipwall {}\n".into(),
            ..Table::default()
        };
        s.save_previous(&l, Some(&t)).unwrap();
        let p = s.begin(&l, Duration::from_secs(30)).unwrap();
        s.set_boot(&l, Path::new("/nowhere"), "x").unwrap();
        assert!(s.confirm(&l).unwrap());
        assert_eq!(s.settled(&p.token).unwrap(), Settled::Confirmed);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:secret\n");
    }

    #[test]
    fn a_planted_lock_symlink_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        let victim = etc.path().join("passwd");
        fs::write(&victim, "root:x:0:0\n").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("lock")).unwrap();
        let s = StateDir::open(d.path()).unwrap();
        let e = s
            .lock("apply", Duration::from_secs(1), |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
    }

    #[test]
    fn a_state_dir_owned_by_another_user_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(1000), Some(1000)).unwrap();
        let e = StateDir::open(&dir).unwrap_err().to_string();
        assert!(
            e.contains(&dir.display().to_string()) && e.contains("owned by uid 1000"),
            "{e}"
        );
    }
}
