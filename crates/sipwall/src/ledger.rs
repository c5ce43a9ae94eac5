//! The ledger: every ban and its end, in SQLite (WAL), so that a restarted
//! daemon puts unexpired bans back and an admin can ask why a source was
//! banned. Times are microseconds since the Unix epoch.

use rusqlite::{params, Connection};
use std::net::IpAddr;
use std::path::Path;

/// A ban as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBan {
    /// The source.
    pub addr: IpAddr,
    /// The reason's kind (`scanner`, `flood`, ...).
    pub kind: String,
    /// The reason, for people.
    pub reason: String,
    /// What was seen.
    pub evidence: String,
    /// When it was made.
    pub banned_at: u64,
    /// When it ends.
    pub until: u64,
}

/// The ledger file.
#[derive(Debug)]
pub struct Ledger {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bans (
    id INTEGER PRIMARY KEY,
    addr TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    banned_at INTEGER NOT NULL,
    until INTEGER NOT NULL,
    ended_at INTEGER,
    ended_by TEXT
);
CREATE INDEX IF NOT EXISTS bans_open ON bans(addr) WHERE ended_at IS NULL;
";

impl Ledger {
    /// Opens (or creates) the ledger at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Ledger> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(SCHEMA)?;
        Ok(Ledger { db })
    }

    /// Records a ban, unless one for `addr` is already open (no duplicates
    /// when a restart re-imports what the kernel holds).
    pub fn ban(&self, b: &LedgerBan) -> rusqlite::Result<bool> {
        let open: i64 = self.db.query_row(
            "SELECT COUNT(*) FROM bans WHERE addr = ?1 AND ended_at IS NULL",
            params![b.addr.to_string()],
            |r| r.get(0),
        )?;
        if open > 0 {
            return Ok(false);
        }
        self.db.execute(
            "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![b.addr.to_string(), b.kind, b.reason, b.evidence, b.banned_at as i64, b.until as i64],
        )?;
        Ok(true)
    }

    /// Ends the open ban of `addr` (`by`: "expired", "unbanned", ...).
    pub fn end(&self, addr: IpAddr, at: u64, by: &str) -> rusqlite::Result<bool> {
        let n = self.db.execute(
            "UPDATE bans SET ended_at = ?2, ended_by = ?3 WHERE addr = ?1 AND ended_at IS NULL",
            params![addr.to_string(), at as i64, by],
        )?;
        Ok(n > 0)
    }

    /// Open bans that have not run out at `now`.
    pub fn active(&self, now: u64) -> rusqlite::Result<Vec<LedgerBan>> {
        let mut st = self.db.prepare(
            "SELECT addr, kind, reason, evidence, banned_at, until FROM bans WHERE ended_at IS NULL AND until > ?1 ORDER BY banned_at",
        )?;
        let rows = st.query_map(params![now as i64], |r| {
            let addr: String = r.get(0)?;
            Ok((
                addr,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (addr, kind, reason, evidence, banned_at, until) = row?;
            let Ok(addr) = addr.parse() else { continue };
            out.push(LedgerBan {
                addr,
                kind,
                reason,
                evidence,
                banned_at: banned_at as u64,
                until: until as u64,
            });
        }
        Ok(out)
    }

    /// Closes open bans that ran out before `now` (e.g. while the daemon was down).
    pub fn close_expired(&self, now: u64) -> rusqlite::Result<usize> {
        self.db.execute(
            "UPDATE bans SET ended_at = until, ended_by = 'expired' WHERE ended_at IS NULL AND until <= ?1",
            params![now as i64],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(addr: &str, until: u64) -> LedgerBan {
        LedgerBan {
            addr: addr.parse().unwrap(),
            kind: "scanner".into(),
            reason: "scanner: User-Agent \"friendly-scanner\"".into(),
            evidence: "OPTIONS sip:100@192.0.2.1".into(),
            banned_at: 1,
            until,
        }
    }

    #[test]
    fn bans_survive_a_reopen_without_duplicates_and_end_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let l = Ledger::open(&path).unwrap();
            assert!(l.ban(&ban("192.0.2.66", 100)).unwrap());
            assert!(
                !l.ban(&ban("192.0.2.66", 200)).unwrap(),
                "one open ban per source"
            );
            assert!(l.ban(&ban("2001:db8::66", 50)).unwrap());
        }
        let l = Ledger::open(&path).unwrap();
        let active = l.active(60).unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].addr.to_string(), "192.0.2.66");
        assert_eq!(l.close_expired(60).unwrap(), 1);
        assert!(l
            .end("192.0.2.66".parse().unwrap(), 70, "unbanned")
            .unwrap());
        assert!(!l
            .end("192.0.2.66".parse().unwrap(), 71, "unbanned")
            .unwrap());
        assert!(l.active(0).unwrap().is_empty());
        assert!(
            l.ban(&ban("192.0.2.66", 300)).unwrap(),
            "a new ban after the old one ended"
        );
    }
}
