//! The ledger: every ban and its end, in SQLite (WAL), so that a restarted
//! daemon puts unexpired bans back and an admin can ask why a source was
//! banned. Times are microseconds since the Unix epoch.
//!
//! Storage faults never stop the guard (a daemon that exits on them is
//! restarted by systemd into the same fault, a crash loop with no guard):
//! - a file SQLite cannot read as a database is moved aside, kept under
//!   its name with `.corrupt-<UTC time>` appended, and a new one started;
//! - a ledger that cannot be written (read-only directory, full disk, a
//!   symbolic link planted at its path, which is never followed) is
//!   replaced by one in memory, with the rows it still could read;
//!   [`Ledger::in_memory`] says why, for the log, `status` and the metrics.
//!
//! Rows hold text from the network (evidence); it is escaped when written
//! and again when read (old rows may be raw; escaping is idempotent).
//! Ended bans are kept for the policy's `ledger.retention`, then pruned.
//!
//! A ban is of one address or of a prefix (source rotation, issue 13):
//! the `addr` column holds the bare address for the first, as it always
//! did, and `2001:db8:1:2::/64` for the second, so old ledgers read as
//! before (and an older daemon skips prefix rows it cannot parse).
//!
//! A ban decided in observe mode (`guard.mode = "observe"`) is a row too,
//! with `observed = 1`: the same reason, evidence, start and end as the
//! ban it would have been, so it can be explained later, but never among
//! [`Ledger::active`], so no restart ever puts it in the kernel. The column
//! is added to older files when they are opened.
//!
//! A ban a shield stopped (an allowlisted source, or a verified one on
//! unverified evidence) is a row too, `observed = 2`, ended as it is
//! written (`ended_by` says which shield), at most one an hour per source:
//! `bans explain` says "would have banned", and nothing restores it.
//!
//! The `detail` column (nullable, added to older files when they are
//! opened) holds the detector's structured evidence as JSON
//! ([`sipwall_control::BanEvidence`]: threshold, window, the requests that
//! counted, the escalation step), at most [`DETAIL_BYTES`]; rows without
//! it (older ones, bans by hand, adopted bans) explain by their evidence
//! line alone.

use crate::control::MAX_BAN;
use ipnet::IpNet;
use rusqlite::{params, Connection, ErrorCode, OpenFlags};
use sipwall_engine::remote_text::printable;
use sipwall_engine::BanReason;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The `addr` column's text: a bare address for one address (as rows
/// always were), `net/len` for a prefix.
pub fn addr_text(n: &IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.trunc().to_string()
    }
}

/// Reads the `addr` column: a bare address or a prefix.
fn parse_addr(s: &str) -> Option<IpNet> {
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .or_else(|_| s.parse::<IpNet>().map(|n| n.trunc()))
        .ok()
}

/// The most bytes of reason or evidence a row keeps.
const TEXT_BYTES: usize = 1024;

/// The most bytes of structured evidence (JSON) a row keeps; more is
/// not kept at all (a cut JSON text is no evidence).
pub const DETAIL_BYTES: usize = 16 * 1024;

/// The `observed` column's values.
mod mark {
    /// A ban that reached the kernel (or was meant to).
    pub const BANNED: i64 = 0;
    /// A ban observe mode decided.
    pub const OBSERVED: i64 = 1;
    /// A ban a shield stopped.
    pub const SUPPRESSED: i64 = 2;
}

/// A shielded source gets at most one row per this long.
const SUPPRESSED_EVERY_MICROS: u64 = 3_600_000_000;

/// How a row of the ledger stands, as [`Ledger::history`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A ban (in the kernel, or meant to be).
    Banned,
    /// Decided in observe mode: never in the kernel.
    Observed,
    /// Stopped by a shield: never a ban.
    Suppressed,
}

/// One decision on an address, as `bans explain` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The ban as made.
    pub ban: LedgerBan,
    /// When it ended, if it did.
    pub ended_at: Option<u64>,
    /// How it ended.
    pub ended_by: Option<String>,
    /// Ban, observed or suppressed.
    pub mark: Mark,
    /// The structured evidence (JSON), if kept.
    pub detail: Option<String>,
}

/// A ban as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBan {
    /// The source: one address (a /32 or /128) or a prefix.
    pub addr: IpNet,
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

impl LedgerBan {
    /// The row of a ban the engine made, from `banned_at` to `until`: a
    /// detector's reason and what it saw, or for a ban by hand the admin's
    /// words as the reason and who banned as the evidence.
    pub fn made(
        addr: IpNet,
        reason: &BanReason,
        evidence: &str,
        banned_at: u64,
        until: u64,
    ) -> Self {
        let (words, evidence) = match reason {
            BanReason::Manual => (evidence.to_owned(), "sipwall bans add".to_owned()),
            r => (r.to_string(), evidence.to_owned()),
        };
        LedgerBan {
            addr,
            kind: reason.kind().to_owned(),
            reason: words,
            evidence,
            banned_at,
            until,
        }
    }

    /// The row of a ban the kernel held at start that the ledger did not
    /// know (added by hand with nft, or by a daemon that died between the
    /// two): adopted from `banned_at` to `until`.
    pub fn adopted(addr: IpNet, banned_at: u64, until: u64) -> Self {
        LedgerBan {
            addr,
            kind: "kernel".to_owned(),
            reason: "found in the kernel at start".to_owned(),
            evidence: "not in the ledger".to_owned(),
            banned_at,
            until,
        }
    }
}

/// The ledger file (or its stand-in in memory).
#[derive(Debug)]
pub struct Ledger {
    db: Connection,
    path: PathBuf,
    /// Why the ledger lives in memory, when it does.
    in_memory: Option<String>,
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
    ended_by TEXT,
    observed INTEGER NOT NULL DEFAULT 0,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS bans_open ON bans(addr) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS bans_addr ON bans(addr, banned_at);
";

/// What opening the file found.
enum Opened {
    Ok(Connection),
    /// Not a database (or a damaged one): move it aside.
    Corrupt(rusqlite::Error),
    /// It cannot be used where it is.
    Unusable(String),
}

fn db_time(micros: u64) -> i64 {
    i64::try_from(micros).unwrap_or(i64::MAX)
}

fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Whether a write failed because of the storage (then memory takes over),
/// not because of the statement.
fn is_storage_fault(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::ReadOnly
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::NotADatabase
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::PermissionDenied
                | ErrorCode::FileLockingProtocolFailed
        )
    )
}

fn open_file(path: &Path) -> Opened {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Opened::Unusable("it is a symbolic link (never followed)".into())
        }
        Ok(m) if !m.is_file() => return Opened::Unusable("it is not a regular file".into()),
        _ => {}
    }
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            return Opened::Unusable(format!("cannot create {}: {e}", dir.display()));
        }
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let db = match Connection::open_with_flags(path, flags) {
        Ok(db) => db,
        Err(e) if is_corrupt(&e) => return Opened::Corrupt(e),
        Err(e) => return Opened::Unusable(e.to_string()),
    };
    let setup = db
        .pragma_update(None, "journal_mode", "WAL")
        .and_then(|()| db.pragma_update(None, "synchronous", "NORMAL"))
        .and_then(|()| db.execute_batch(SCHEMA))
        .and_then(|()| add_observed(&db))
        .and_then(|()| add_detail(&db))
        // A file SQLite could only open read-only fails here, not later.
        .and_then(|()| db.execute_batch("BEGIN IMMEDIATE; PRAGMA user_version = 3; COMMIT"));
    match setup {
        Ok(()) if db.is_readonly(rusqlite::DatabaseName::Main).unwrap_or(true) => {
            Opened::Unusable("it is read-only".into())
        }
        Ok(()) => Opened::Ok(db),
        Err(e) if is_corrupt(&e) => Opened::Corrupt(e),
        Err(e) => Opened::Unusable(e.to_string()),
    }
}

/// Whether the `bans` table of `db` has the `observed` column (files
/// written before observe mode do not).
fn has_observed(db: &Connection) -> rusqlite::Result<bool> {
    has_column(db, "observed")
}

/// Whether the `bans` table of `db` has the column `name`.
fn has_column(db: &Connection, name: &str) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('bans') WHERE name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Adds the `detail` column to a file written before explanations (its
/// rows have none: NULL).
fn add_detail(db: &Connection) -> rusqlite::Result<()> {
    if has_column(db, "detail")? {
        return Ok(());
    }
    db.execute_batch("ALTER TABLE bans ADD COLUMN detail TEXT")
}

/// Adds the `observed` column to a file written before observe mode (its
/// rows are all real bans: 0).
fn add_observed(db: &Connection) -> rusqlite::Result<()> {
    if has_observed(db)? {
        return Ok(());
    }
    db.execute_batch("ALTER TABLE bans ADD COLUMN observed INTEGER NOT NULL DEFAULT 0")
}

fn memory() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite opens a database in memory");
    db.execute_batch(SCHEMA).expect("the schema is valid");
    db
}

/// A ledger in memory holding the rows the file at `path` still gives
/// (read-only, never through a symbolic link), and how many that was.
fn memory_with_rows(path: &Path) -> (Connection, rusqlite::Result<usize>) {
    let db = memory();
    let ro = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let copied = Connection::open_with_flags(path, ro)
        .and_then(|old| copy_rows(&old, &db))
        .or_else(|e| {
            // On read-only storage SQLite cannot make the WAL index; a file
            // closed cleanly is whole without its WAL, so read it as
            // immutable. SQLite's NOFOLLOW does not cover URIs: check here.
            if std::fs::symlink_metadata(path).map_or(true, |m| !m.is_file()) {
                return Err(e);
            }
            let uri = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
            Connection::open_with_flags(immutable_uri(path), uri)
                .and_then(|old| copy_rows(&old, &db))
        });
    (db, copied)
}

/// Copies every row of `old` into `db` (all or none).
fn copy_rows(old: &Connection, db: &Connection) -> rusqlite::Result<usize> {
    // An observed row copied as a real one would be restored into the kernel.
    let observed = if has_observed(old)? { "observed" } else { "0" };
    let detail = if has_column(old, "detail")? {
        "detail"
    } else {
        "NULL"
    };
    let mut st = old.prepare(&format!(
        "SELECT id, addr, kind, reason, evidence, banned_at, until, ended_at, ended_by, {observed}, {detail} FROM bans"
    ))?;
    let mut rows = st.query([])?;
    db.execute_batch("BEGIN")?;
    let mut n = 0;
    let copy = (|| {
        while let Some(r) = rows.next()? {
            db.execute(
                "INSERT INTO bans (id, addr, kind, reason, evidence, banned_at, until, ended_at, ended_by, observed, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, Option<String>>(10)?
                ],
            )?;
            n += 1;
        }
        Ok(n)
    })();
    db.execute_batch(if copy.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    copy
}

/// The `addr` texts a row deciding on `addr` can have: the address, and
/// each prefix holding it as [`addr_text`] writes it (at most 129).
fn holders(addr: IpAddr) -> Vec<String> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (0..=max)
        .filter_map(|len| IpNet::new(addr, len).ok())
        .map(|n| addr_text(&n))
        .collect()
}

/// The statement [`history_of`] runs, for `keys` addresses and prefixes
/// (numbers only are written into it; the keys are parameters).
fn history_sql(db: &Connection, keys: usize, limit: usize) -> rusqlite::Result<String> {
    let observed = if has_observed(db)? { "observed" } else { "0" };
    let detail = if has_column(db, "detail")? {
        "detail"
    } else {
        "NULL"
    };
    let marks = vec!["?"; keys].join(", ");
    Ok(format!(
        "SELECT addr, kind, reason, evidence, banned_at, until, ended_at, ended_by, {observed}, {detail} FROM bans \
         WHERE addr IN ({marks}) ORDER BY banned_at DESC, id DESC LIMIT {limit}"
    ))
}

/// Whether a shielded would-be ban of `?1` was written since `?3`.
const SUPPRESSED_RECENT: &str =
    "SELECT COUNT(*) FROM bans WHERE addr = ?1 AND observed = ?2 AND banned_at > ?3";

/// The decisions on `addr` in `db`, newest first, at most `limit`; reads
/// files of every version (without `observed` or `detail`) as they are.
/// Looked up by the `addr` index (the address and each prefix that can
/// hold it), never by a scan of the table: the daemon answers between
/// packets, and a ledger after a rotation attack holds millions of rows.
pub fn history_of(
    db: &Connection,
    addr: IpAddr,
    limit: usize,
) -> rusqlite::Result<Vec<HistoryRow>> {
    let keys = holders(addr);
    let mut st = db.prepare(&history_sql(db, keys.len(), limit)?)?;
    let rows = st.query_map(rusqlite::params_from_iter(keys.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, i64>(8)?,
            r.get::<_, Option<String>>(9)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (net, kind, reason, evidence, banned_at, until, ended_at, ended_by, observed, detail) =
            row?;
        let Some(net) = parse_addr(&net) else {
            continue;
        };
        let banned_at = u64::try_from(banned_at).unwrap_or(0);
        let longest = banned_at.saturating_add(MAX_BAN.as_micros() as u64);
        out.push(HistoryRow {
            ban: LedgerBan {
                addr: net,
                kind: text(&kind),
                reason: text(&reason),
                evidence: text(&evidence),
                banned_at,
                until: u64::try_from(until).unwrap_or(u64::MAX).min(longest),
            },
            ended_at: ended_at.map(|e| u64::try_from(e).unwrap_or(0)),
            ended_by: ended_by.map(|e| text(&e)),
            mark: match observed {
                mark::OBSERVED => Mark::Observed,
                mark::SUPPRESSED => Mark::Suppressed,
                _ => Mark::Banned,
            },
            detail: detail.filter(|d| d.len() <= DETAIL_BYTES),
        });
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Opens the ledger file at `path` read-only, for a command run while
/// no daemon is (never through a symbolic link, never created, never
/// migrated: [`history_of`] reads every version).
pub fn open_read_only(path: &Path) -> Result<Connection, String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{} is a symbolic link (never followed)",
                path.display()
            ))
        }
        Ok(m) if !m.is_file() => return Err(format!("{} is not a regular file", path.display())),
        Ok(_) => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let ro = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    Connection::open_with_flags(path, ro)
        .and_then(|db| {
            // Reading proves it is a ledger (and that WAL recovery worked).
            has_observed(&db)?;
            Ok(db)
        })
        .or_else(|_| {
            let uri = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
            Connection::open_with_flags(immutable_uri(path), uri)
        })
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `path` as an SQLite URI that opens it immutable (no locks, no WAL).
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' | b'~' => {
                uri.push(char::from(*b))
            }
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// `path` with `.corrupt-<UTC time>` appended.
fn aside(path: &Path) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{stamp}"));
    PathBuf::from(name)
}

/// `path` with `suffix` appended (SQLite's `-wal` and `-shm` files).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn text(s: &str) -> String {
    printable(s.as_bytes(), TEXT_BYTES)
}

use std::os::unix::fs::DirBuilderExt as _;

impl Ledger {
    /// Opens (or creates) the ledger at `path`; never fails (see the
    /// module's doc): a corrupt file is moved aside, an unusable one
    /// replaced by memory. Each is logged loudly.
    pub fn open(path: &Path) -> Ledger {
        let in_memory = match open_file(path) {
            Opened::Ok(db) => {
                return Ledger {
                    db,
                    path: path.to_owned(),
                    in_memory: None,
                }
            }
            Opened::Unusable(why) => why,
            Opened::Corrupt(e) => {
                let kept = aside(path);
                match std::fs::rename(path, &kept) {
                    Ok(()) => {
                        for suffix in ["-wal", "-shm"] {
                            let _ = std::fs::rename(
                                with_suffix(path, suffix),
                                with_suffix(&kept, suffix),
                            );
                        }
                        tracing::error!(ledger = %path.display(), kept = %kept.display(), error = %e, "the ledger is corrupt: moved aside, starting a new one (bans in the kernel are adopted)");
                        match open_file(path) {
                            Opened::Ok(db) => {
                                return Ledger {
                                    db,
                                    path: path.to_owned(),
                                    in_memory: None,
                                }
                            }
                            Opened::Corrupt(e) => e.to_string(),
                            Opened::Unusable(why) => why,
                        }
                    }
                    Err(re) => format!("it is corrupt ({e}) and cannot be moved aside ({re})"),
                }
            }
        };
        let (db, copied) = memory_with_rows(path);
        tracing::error!(ledger = %path.display(), why = %in_memory, copied = ?copied.ok(), "THE LEDGER IS IN MEMORY: bans are kept in the kernel but their history is lost at exit; fix the file and restart");
        Ledger {
            db,
            path: path.to_owned(),
            in_memory: Some(in_memory),
        }
    }

    /// Why the ledger lives in memory, if it does.
    pub fn in_memory(&self) -> Option<&str> {
        self.in_memory.as_deref()
    }

    /// Where the ledger lives, for people.
    pub fn describe(&self) -> String {
        match &self.in_memory {
            None => format!("{}", self.path.display()),
            Some(why) => format!(
                "IN MEMORY, history lost at exit ({} unusable: {why})",
                self.path.display()
            ),
        }
    }

    /// Moves to memory after a write failed on the storage: the rows the
    /// file still gives are copied first.
    fn fall_back(&mut self, e: &rusqlite::Error) {
        let (db, copied) = memory_with_rows(&self.path);
        let why = format!("a write failed: {e}");
        tracing::error!(ledger = %self.path.display(), why = %why, copied = ?copied.ok(), "THE LEDGER IS IN MEMORY from now on: bans are kept in the kernel but their history is lost at exit; fix the storage and restart");
        self.db = db;
        self.in_memory = Some(why);
    }

    /// Runs a write; a storage fault moves the ledger to memory and the
    /// write is made there.
    fn write<T>(&mut self, f: impl Fn(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        match f(&self.db) {
            Err(e) if self.in_memory.is_none() && is_storage_fault(&e) => {
                self.fall_back(&e);
                f(&self.db)
            }
            other => other,
        }
    }

    /// Runs `f` on the ledger's database as a write (a storage fault moves
    /// the ledger to memory, as for the bans): for tables of their own kept
    /// beside the bans (CrowdSec's outbox), which create them if missing.
    pub fn with_db<T>(
        &mut self,
        f: impl Fn(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.write(f)
    }

    /// Records a ban, unless one for `addr` is already open (no duplicates
    /// when a restart re-imports what the kernel holds). The ban's end is
    /// held to [`MAX_BAN`] after its start, the text is escaped.
    pub fn ban(&mut self, b: &LedgerBan) -> rusqlite::Result<bool> {
        self.insert(b, mark::BANNED, None)
    }

    /// [`Ledger::ban`] with the detector's structured evidence (JSON).
    pub fn ban_explained(&mut self, b: &LedgerBan, detail: Option<&str>) -> rusqlite::Result<bool> {
        self.insert(b, mark::BANNED, detail)
    }

    /// Records a ban decided in observe mode, which never reached the
    /// kernel: like [`Ledger::ban`], marked observed (unless an observed
    /// one for `addr` is already open).
    #[cfg(test)]
    pub fn observe(&mut self, b: &LedgerBan) -> rusqlite::Result<bool> {
        self.insert(b, mark::OBSERVED, None)
    }

    /// Records a ban decided in observe mode, which never reached the
    /// kernel, with the detector's structured evidence (JSON): like
    /// [`Ledger::ban_explained`], marked observed (unless an observed one
    /// for `addr` is already open).
    pub fn observe_explained(
        &mut self,
        b: &LedgerBan,
        detail: Option<&str>,
    ) -> rusqlite::Result<bool> {
        self.insert(b, mark::OBSERVED, detail)
    }

    /// Records a ban a shield stopped (`shield`: `allowlisted`,
    /// `verified`): ended as written, never restored; at most one row an
    /// hour per source (false: one was written within the hour).
    pub fn suppressed(
        &mut self,
        b: &LedgerBan,
        shield: &str,
        detail: Option<&str>,
    ) -> rusqlite::Result<bool> {
        let since = db_time(b.banned_at.saturating_sub(SUPPRESSED_EVERY_MICROS));
        let addr = addr_text(&b.addr);
        let recent: i64 = self.db.query_row(
            SUPPRESSED_RECENT,
            params![addr, mark::SUPPRESSED, since],
            |r| r.get(0),
        )?;
        if recent > 0 {
            return Ok(false);
        }
        let (kind, reason, evidence) = (text(&b.kind), text(&b.reason), text(&b.evidence));
        let detail = detail.filter(|d| d.len() <= DETAIL_BYTES);
        let ended_by = format!("not banned: {}", text(shield));
        self.write(|db| {
            db.execute(
                "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until, ended_at, ended_by, observed, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?5, ?7, ?8, ?9)",
                params![addr, kind, reason, evidence, db_time(b.banned_at), db_time(b.until), ended_by, mark::SUPPRESSED, detail],
            )?;
            Ok(true)
        })
    }

    fn insert(
        &mut self,
        b: &LedgerBan,
        observed: i64,
        detail: Option<&str>,
    ) -> rusqlite::Result<bool> {
        let until = b
            .until
            .min(b.banned_at.saturating_add(MAX_BAN.as_micros() as u64));
        let (kind, reason, evidence) = (text(&b.kind), text(&b.reason), text(&b.evidence));
        let detail = detail.filter(|d| d.len() <= DETAIL_BYTES);
        self.write(|db| {
            let open: i64 = db.query_row(
                "SELECT COUNT(*) FROM bans WHERE addr = ?1 AND ended_at IS NULL AND observed = ?2",
                params![addr_text(&b.addr), observed],
                |r| r.get(0),
            )?;
            if open > 0 {
                return Ok(false);
            }
            db.execute(
                "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until, observed, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![addr_text(&b.addr), kind, reason, evidence, db_time(b.banned_at), db_time(until), observed, detail],
            )?;
            Ok(true)
        })
    }

    /// The decisions on `addr` (its own rows and those of prefixes
    /// holding it), newest first, at most `limit`.
    pub fn history(&self, addr: IpAddr, limit: usize) -> rusqlite::Result<Vec<HistoryRow>> {
        history_of(&self.db, addr, limit)
    }

    /// Ends the open ban of `addr`, an address or a prefix (`by`:
    /// "expired", "unbanned", "allowlisted", ...).
    pub fn end(&mut self, addr: impl Into<IpNet>, at: u64, by: &str) -> rusqlite::Result<bool> {
        let addr = addr_text(&addr.into());
        self.write(|db| {
            let n = db.execute(
                "UPDATE bans SET ended_at = ?2, ended_by = ?3 WHERE addr = ?1 AND ended_at IS NULL",
                params![addr, db_time(at), by],
            )?;
            Ok(n > 0)
        })
    }

    /// Open bans that have not run out at `now`, their text escaped and
    /// their end held to [`MAX_BAN`] after their start (rows written
    /// before the bound may say `until = -1`).
    /// Observed bans are not among them (see [`Ledger::observed`]).
    pub fn active(&self, now: u64) -> rusqlite::Result<Vec<LedgerBan>> {
        self.open_rows(now, false)
    }

    /// Open bans decided in observe mode that have not run out at `now`
    /// (read like [`Ledger::active`]); none of them is in the kernel.
    pub fn observed(&self, now: u64) -> rusqlite::Result<Vec<LedgerBan>> {
        self.open_rows(now, true)
    }

    fn open_rows(&self, now: u64, observed: bool) -> rusqlite::Result<Vec<LedgerBan>> {
        let mut st = self.db.prepare(
            "SELECT addr, kind, reason, evidence, banned_at, until FROM bans WHERE ended_at IS NULL AND observed = ?2 AND (until > ?1 OR until < 0) ORDER BY banned_at",
        )?;
        let rows = st.query_map(params![db_time(now), observed], |r| {
            let addr: String = r.get(0)?;
            Ok((
                addr,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (addr, kind, reason, evidence, banned_at, until) = row?;
            let Some(addr) = parse_addr(&addr) else {
                continue;
            };
            let banned_at = u64::try_from(banned_at).unwrap_or(0);
            let longest = banned_at.saturating_add(MAX_BAN.as_micros() as u64);
            let until = u64::try_from(until).unwrap_or(u64::MAX).min(longest);
            if until <= now {
                continue;
            }
            out.push(LedgerBan {
                addr,
                kind: text(&kind),
                reason: text(&reason),
                evidence: text(&evidence),
                banned_at,
                until,
            });
        }
        Ok(out)
    }

    /// Closes open bans that ran out before `now` (e.g. while the daemon was down).
    pub fn close_expired(&mut self, now: u64) -> rusqlite::Result<usize> {
        // The end as `active` reads it: a negative `until` (an overflow
        // of old rows) is no end, and no ban outlasts MAX_BAN.
        let end =
            "min(CASE WHEN until < 0 THEN 9223372036854775807 ELSE until END, banned_at + ?2)";
        let longest = db_time(MAX_BAN.as_micros() as u64);
        self.write(|db| {
            db.execute(
                &format!("UPDATE bans SET ended_at = {end}, ended_by = 'expired' WHERE ended_at IS NULL AND {end} <= ?1"),
                params![db_time(now), longest],
            )
        })
    }

    /// Deletes the rows of bans that ended more than `retention` before
    /// `now`; returns how many.
    pub fn prune(&mut self, now: u64, retention: Duration) -> rusqlite::Result<usize> {
        let before = now.saturating_sub(retention.as_micros() as u64);
        self.write(|db| {
            db.execute(
                "DELETE FROM bans WHERE ended_at IS NOT NULL AND ended_at < ?1",
                params![db_time(before)],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(addr: &str, until: u64) -> LedgerBan {
        LedgerBan {
            addr: parse_addr(addr).unwrap(),
            kind: "scanner".into(),
            reason: "scanner: User-Agent \"friendly-scanner\"".into(),
            evidence: "OPTIONS sip:100@192.0.2.1".into(),
            banned_at: 1,
            until,
        }
    }

    #[test]
    fn a_ban_by_hand_keeps_the_admins_words_as_its_reason_and_a_detectors_its_evidence() {
        let addr = parse_addr("192.0.2.66").unwrap();
        let by_hand = LedgerBan::made(addr, &BanReason::Manual, "noisy", 1, 2);
        assert_eq!(
            (
                by_hand.kind.as_str(),
                by_hand.reason.as_str(),
                by_hand.evidence.as_str()
            ),
            ("manual", "noisy", "sipwall bans add")
        );
        let flood = LedgerBan::made(addr, &BanReason::Flood, "120 requests", 1, 2);
        assert_eq!(flood.kind, BanReason::Flood.kind());
        assert_eq!(flood.reason, BanReason::Flood.to_string());
        assert_eq!(flood.evidence, "120 requests");
        let found = LedgerBan::adopted(addr, 1, 2);
        assert_eq!(
            (found.kind.as_str(), found.banned_at, found.until),
            ("kernel", 1, 2)
        );
    }

    #[test]
    fn bans_survive_a_reopen_without_duplicates_and_end_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let mut l = Ledger::open(&path);
            assert!(l.ban(&ban("192.0.2.66", 100)).unwrap());
            assert!(
                !l.ban(&ban("192.0.2.66", 200)).unwrap(),
                "one open ban per source"
            );
            assert!(l.ban(&ban("2001:db8::66", 50)).unwrap());
        }
        let mut l = Ledger::open(&path);
        let active = l.active(60).unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(addr_text(&active[0].addr), "192.0.2.66");
        assert_eq!(l.close_expired(60).unwrap(), 1);
        assert!(l
            .end("192.0.2.66".parse::<IpAddr>().unwrap(), 70, "unbanned")
            .unwrap());
        assert!(!l
            .end("192.0.2.66".parse::<IpAddr>().unwrap(), 71, "unbanned")
            .unwrap());
        assert!(l.active(0).unwrap().is_empty());
        assert!(
            l.ban(&ban("192.0.2.66", 300)).unwrap(),
            "a new ban after the old one ended"
        );
    }

    #[test]
    fn a_garbage_file_as_ledger_is_moved_aside_and_a_new_one_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let garbage = b"this is not a database, it never was \x00\xff".repeat(200);
        std::fs::write(&path, &garbage).unwrap();
        let mut l = Ledger::open(&path);
        assert_eq!(l.in_memory(), None, "a new file, not memory");
        assert!(l.ban(&ban("192.0.2.66", 100)).unwrap());
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("ledger.sqlite.corrupt-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(std::fs::read(dir.path().join(&kept[0])).unwrap(), garbage);
        drop(l);
        assert_eq!(Ledger::open(&path).active(0).unwrap().len(), 1);
    }

    #[test]
    fn a_ledger_path_that_cannot_be_created_falls_back_to_memory() {
        // /proc refuses new files, even to root.
        let mut l = Ledger::open(Path::new("/proc/sipwall-test/ledger.sqlite"));
        assert!(l.in_memory().is_some());
        assert!(l.describe().contains("IN MEMORY"), "{}", l.describe());
        assert!(l.ban(&ban("192.0.2.66", 100)).unwrap());
        assert_eq!(l.active(0).unwrap().len(), 1, "memory still records");
    }

    #[test]
    fn a_symlink_planted_at_the_ledger_path_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "root's file\n").unwrap();
        let path = dir.path().join("ledger.sqlite");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let mut l = Ledger::open(&path);
        assert!(l.ban(&ban("192.0.2.66", 100)).unwrap());
        assert!(l.in_memory().unwrap().contains("symbolic link"));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's file\n");
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    /// A tmpfs of `size` mounted on a fresh directory, unmounted on drop;
    /// `None` where mounting is not allowed (not root).
    struct Tmpfs(tempfile::TempDir);

    impl Tmpfs {
        fn new(size: &str) -> Option<Tmpfs> {
            let dir = tempfile::tempdir().unwrap();
            let ok = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "needs root to mount a tmpfs"
                );
                eprintln!("skipped: needs root to mount a tmpfs");
                return None;
            }
            Some(Tmpfs(dir))
        }

        fn remount(&self, opts: &str) {
            let ok = std::process::Command::new("mount")
                .args(["-o", &format!("remount,{opts}")])
                .arg(self.0.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }

    impl Drop for Tmpfs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.path())
                .status();
        }
    }

    #[test]
    fn a_read_only_state_dir_puts_the_ledger_in_memory_with_its_rows() {
        let Some(fs) = Tmpfs::new("4m") else { return };
        let path = fs.0.path().join("ledger.sqlite");
        {
            let mut l = Ledger::open(&path);
            assert_eq!(l.in_memory(), None);
            assert!(l.ban(&ban("192.0.2.66", u64::MAX / 2)).unwrap());
        }
        fs.remount("ro");
        let mut l = Ledger::open(&path);
        assert!(l.in_memory().is_some(), "read-only: memory");
        assert_eq!(l.active(10).unwrap().len(), 1, "the file's rows came along");
        assert!(l.ban(&ban("192.0.2.67", u64::MAX / 2)).unwrap());
        assert_eq!(l.active(10).unwrap().len(), 2);
    }

    #[test]
    fn a_full_disk_moves_the_ledger_to_memory_and_loses_no_ban() {
        let Some(fs) = Tmpfs::new("256k") else { return };
        let path = fs.0.path().join("ledger.sqlite");
        let mut l = Ledger::open(&path);
        assert_eq!(l.in_memory(), None);
        let mut b = ban("192.0.2.1", u64::MAX / 2);
        b.evidence = "x".repeat(1000);
        for i in 0..2000u32 {
            b.addr = std::net::IpAddr::from((0xc000_0200u32 + i).to_be_bytes()).into();
            assert!(l.ban(&b).unwrap(), "ban {i}");
        }
        assert!(
            l.in_memory().unwrap().contains("full"),
            "{:?}",
            l.in_memory()
        );
        assert_eq!(l.active(10).unwrap().len(), 2000, "every ban recorded");
    }

    #[test]
    fn a_ban_of_a_million_years_ends_within_a_year_in_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let mut l = Ledger::open(&path);
        let year = MAX_BAN.as_micros() as u64;
        let mut b = ban("192.0.2.66", u64::MAX);
        b.banned_at = 1_000;
        assert!(l.ban(&b).unwrap());
        // A row from before the bound, its end overflowed to -1.
        l.db.execute(
            "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) VALUES ('192.0.2.67', 'manual', 'r', 'e', 1000, -1)",
            [],
        )
        .unwrap();
        let active = l.active(2_000).unwrap();
        assert_eq!(active.len(), 2);
        assert!(active.iter().all(|b| b.until == 1_000 + year), "{active:?}");
        let stored: i64 =
            l.db.query_row(
                "SELECT until FROM bans WHERE addr = '192.0.2.66'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, 1_000 + year as i64);
        assert_eq!(
            l.close_expired(1_000 + year).unwrap(),
            2,
            "both end after a year"
        );
        assert!(l.active(0).unwrap().is_empty());
    }

    #[test]
    fn ended_bans_past_the_retention_are_pruned_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.sqlite"));
        let day = 86_400_000_000u64;
        for (addr, ended) in [
            ("192.0.2.1", Some(1)),
            ("192.0.2.2", Some(25)),
            ("192.0.2.3", None),
        ] {
            assert!(l.ban(&ban(addr, 100 * day)).unwrap());
            if let Some(d) = ended {
                l.end(addr.parse::<IpAddr>().unwrap(), d * day, "expired")
                    .unwrap();
            }
        }
        let thirty = Duration::from_secs(30 * 86_400);
        assert_eq!(l.prune(40 * day, thirty).unwrap(), 1, "ended 39 days ago");
        let left: i64 =
            l.db.query_row("SELECT COUNT(*) FROM bans", [], |r| r.get(0))
                .unwrap();
        assert_eq!(left, 2, "one ended 15 days ago, one open");
        assert_eq!(l.prune(40 * day, thirty).unwrap(), 0);
    }

    #[test]
    fn an_escape_sequence_in_evidence_is_stored_and_shown_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.sqlite"));
        let mut b = ban("192.0.2.66", 100);
        b.evidence = "User-Agent: friendly\x1b[31m-scanner".into();
        assert!(l.ban(&b).unwrap());
        let stored: String =
            l.db.query_row("SELECT evidence FROM bans", [], |r| r.get(0))
                .unwrap();
        assert_eq!(stored, "User-Agent: friendly\\x1b[31m-scanner");
        // A raw row written before escaping existed is escaped when read.
        l.db.execute(
            "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) VALUES ('192.0.2.67', 'scanner', 'r\x1b[2J', 'e\x1b]0;pwned\x07', 1, 100)",
            [],
        )
        .unwrap();
        for b in l.active(0).unwrap() {
            for text in [&b.kind, &b.reason, &b.evidence] {
                assert!(!text.chars().any(char::is_control), "{text:?}");
            }
        }
    }

    #[test]
    fn a_prefix_ban_is_a_row_beside_old_single_bans_and_ends_by_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            // A row as older daemons wrote it: a bare address.
            let l = Ledger::open(&path);
            l.db.execute(
                "INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) VALUES ('2001:db8:66::1', 'scanner', 'r', 'e', 1, 100)",
                [],
            )
            .unwrap();
        }
        let mut l = Ledger::open(&path);
        let mut prefix_ban = ban("2001:db8:66::/64", 100);
        prefix_ban.banned_at = 2;
        assert!(l.ban(&prefix_ban).unwrap());
        let rows: Vec<String> = l
            .active(10)
            .unwrap()
            .iter()
            .map(|b| addr_text(&b.addr))
            .collect();
        assert_eq!(rows, ["2001:db8:66::1", "2001:db8:66::/64"]);
        let prefix: IpNet = "2001:db8:66::/64".parse().unwrap();
        assert!(l.end(prefix, 20, "unbanned").unwrap());
        let rows: Vec<String> = l
            .active(30)
            .unwrap()
            .iter()
            .map(|b| addr_text(&b.addr))
            .collect();
        assert_eq!(rows, ["2001:db8:66::1"], "the single ban stays");
    }

    #[test]
    fn an_observed_ban_is_kept_and_read_but_never_restored_as_a_ban() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let mut l = Ledger::open(&path);
            assert!(l.observe(&ban("192.0.2.66", 100)).unwrap());
            assert!(
                !l.observe(&ban("192.0.2.66", 200)).unwrap(),
                "one open observed ban per source"
            );
            // A ban by hand of the same source is a real one beside it.
            assert!(l.ban(&ban("192.0.2.66", 100)).unwrap());
            assert!(l.observe(&ban("192.0.2.67", 100)).unwrap());
        }
        let mut l = Ledger::open(&path);
        let active: Vec<String> = l
            .active(60)
            .unwrap()
            .iter()
            .map(|b| addr_text(&b.addr))
            .collect();
        assert_eq!(active, vec!["192.0.2.66"]);
        let observed = l.observed(60).unwrap();
        assert_eq!(observed.len(), 2);
        assert_eq!(observed[1].reason, ban("192.0.2.67", 100).reason);
        assert_eq!((observed[1].banned_at, observed[1].until), (1, 100));
        assert!(l
            .end("192.0.2.67".parse::<IpAddr>().unwrap(), 70, "expired")
            .unwrap());
        assert_eq!(l.observed(80).unwrap().len(), 1);
    }

    #[test]
    fn a_ledger_from_before_observe_mode_gains_the_column_and_its_bans_stay_real() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(
                "CREATE TABLE bans (id INTEGER PRIMARY KEY, addr TEXT NOT NULL, kind TEXT NOT NULL, \
                 reason TEXT NOT NULL, evidence TEXT NOT NULL, banned_at INTEGER NOT NULL, \
                 until INTEGER NOT NULL, ended_at INTEGER, ended_by TEXT);
                 INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) \
                 VALUES ('192.0.2.66', 'scanner', 'old', 'old', 1, 100);",
            )
            .unwrap();
        }
        let mut l = Ledger::open(&path);
        assert!(l.in_memory().is_none(), "{}", l.describe());
        assert_eq!(l.active(60).unwrap().len(), 1);
        assert!(l.observed(60).unwrap().is_empty());
        assert!(l.observe(&ban("192.0.2.67", 100)).unwrap());
        assert_eq!(l.observed(60).unwrap().len(), 1);
    }

    /// A file as the daemon of issue 16 wrote it: `observed`, no `detail`.
    fn file_before_explanations(path: &Path) {
        let db = Connection::open(path).unwrap();
        db.execute_batch(
            "CREATE TABLE bans (id INTEGER PRIMARY KEY, addr TEXT NOT NULL, kind TEXT NOT NULL, \
             reason TEXT NOT NULL, evidence TEXT NOT NULL, banned_at INTEGER NOT NULL, \
             until INTEGER NOT NULL, ended_at INTEGER, ended_by TEXT, observed INTEGER NOT NULL DEFAULT 0);
             INSERT INTO bans (addr, kind, reason, evidence, banned_at, until) \
             VALUES ('192.0.2.66', 'scanner', 'old', 'old evidence', 1, 100);
             INSERT INTO bans (addr, kind, reason, evidence, banned_at, until, observed) \
             VALUES ('192.0.2.66', 'flood', 'seen', 'seen', 2, 100, 1);",
        )
        .unwrap();
    }

    #[test]
    fn a_ledger_from_before_explanations_gains_the_detail_column_and_reads_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        file_before_explanations(&path);
        // Read-only first, as `bans explain` reads it with no daemon: no
        // migration, the rows read without detail.
        let ro = open_read_only(&path).unwrap();
        let addr: IpAddr = "192.0.2.66".parse().unwrap();
        let rows = history_of(&ro, addr, 8).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].mark, Mark::Observed, "newest first");
        assert_eq!(rows[1].ban.evidence, "old evidence");
        assert!(rows.iter().all(|r| r.detail.is_none()));
        drop(ro);
        assert!(!has_column(&Connection::open(&path).unwrap(), "detail").unwrap());
        let mut l = Ledger::open(&path);
        assert!(l.in_memory().is_none(), "{}", l.describe());
        assert!(has_column(&l.db, "detail").unwrap());
        assert_eq!(l.active(60).unwrap().len(), 1, "the old ban stays real");
        assert_eq!(l.observed(60).unwrap().len(), 1);
        let mut b = ban("192.0.2.67", 100);
        b.banned_at = 3;
        assert!(l
            .ban_explained(&b, Some(r#"{"detector":"scanner"}"#))
            .unwrap());
        let rows = l.history("192.0.2.67".parse().unwrap(), 8).unwrap();
        assert_eq!(rows[0].detail.as_deref(), Some(r#"{"detector":"scanner"}"#));
    }

    #[test]
    fn a_shielded_would_be_ban_is_never_restored_nor_read_as_observed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let mut l = Ledger::open(&path);
            assert!(l
                .suppressed(&ban("192.0.2.66", 100), "allowlisted", None)
                .unwrap());
        }
        let mut l = Ledger::open(&path);
        assert!(l.active(0).unwrap().is_empty());
        assert!(l.observed(0).unwrap().is_empty());
        assert_eq!(l.close_expired(1000).unwrap(), 0, "ended as written");
        let rows = l.history("192.0.2.66".parse().unwrap(), 8).unwrap();
        assert_eq!(rows[0].mark, Mark::Suppressed);
        assert_eq!(rows[0].ended_at, Some(1));
    }

    #[test]
    fn history_finds_a_prefix_ban_holding_the_address_and_not_its_neighbours_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.sqlite"));
        assert!(l.ban(&ban("2001:db8:66::/64", 100)).unwrap());
        assert!(l.ban(&ban("2001:db8:66::7", 100)).unwrap());
        assert!(l.ban(&ban("2001:db8:77::/64", 100)).unwrap());
        let rows = l.history("2001:db8:66::9".parse().unwrap(), 8).unwrap();
        let nets: Vec<String> = rows.iter().map(|r| addr_text(&r.ban.addr)).collect();
        assert_eq!(nets, ["2001:db8:66::/64"]);
        assert_eq!(
            l.history("2001:db8:66::7".parse().unwrap(), 8)
                .unwrap()
                .len(),
            2
        );
    }

    /// The query plan of `sql`, one line per step.
    fn plan(db: &Connection, sql: &str, keys: &[String]) -> String {
        let mut st = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = st
            .query_map(rusqlite::params_from_iter(keys.iter()), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn explaining_an_address_never_scans_a_ledger_a_rotation_attack_filled() {
        // Regression: the first lookup read every prefix row and the
        // shielded rows' hourly check every row of the address, from the
        // daemon's loop, between packets.
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.sqlite"));
        for i in 0..2000u32 {
            let net = format!("2001:db8:{:x}::/64", i);
            l.ban(&ban(&net, 100)).unwrap();
        }
        assert!(l.ban(&ban("2001:db8:7::66", 100)).unwrap());
        let addr: IpAddr = "2001:db8:7::66".parse().unwrap();
        let keys = holders(addr);
        assert_eq!(keys.len(), 129);
        assert!(keys.contains(&"2001:db8:7::/64".to_owned()));
        assert!(keys.contains(&"2001:db8:7::66".to_owned()));
        let sql = history_sql(&l.db, keys.len(), 8).unwrap();
        let p = plan(&l.db, &sql, &keys);
        assert!(p.contains("USING INDEX bans_addr"), "{p}");
        assert!(!p.contains("SCAN bans"), "{p}");
        let p = plan(
            &l.db,
            SUPPRESSED_RECENT,
            &["x".into(), "2".into(), "0".into()],
        );
        assert!(p.contains("USING INDEX bans_addr"), "{p}");
        let rows = l.history(addr, 8).unwrap();
        assert_eq!(
            rows.len(),
            2,
            "the /64 holding it, and the one written twice? no: one"
        );
    }
}
