//! The watcher's outbox: alerts not yet taken by LAPI, kept in the ledger
//! (a table of its own beside the bans) so that a LAPI that is down, or a
//! daemon that restarts, loses none. Rows go when LAPI has taken them.
//!
//! Bounded: past [`MAX_ROWS`] the oldest go first (they are the likeliest
//! to be bans that ended already), counted and logged by the caller.

use rusqlite::{params, Connection};

/// The most alerts waiting.
pub const MAX_ROWS: usize = 10_000;

/// One alert waiting to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row's id (what LAPI's acceptance deletes).
    pub id: i64,
    /// When the ban ends (microseconds since the epoch): the decision's
    /// duration is what is left of it when it is pushed.
    pub until: u64,
    /// The alert, as JSON (`lapi::Alert`).
    pub body: String,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS crowdsec_outbox (
    id INTEGER PRIMARY KEY,
    until INTEGER NOT NULL,
    body TEXT NOT NULL
)";

fn db_time(micros: u64) -> i64 {
    i64::try_from(micros).unwrap_or(i64::MAX)
}

/// Adds an alert; returns its row and how many old ones went to make room.
pub fn add(db: &Connection, until: u64, body: &str) -> rusqlite::Result<(Row, usize)> {
    db.execute_batch(SCHEMA)?;
    db.execute(
        "INSERT INTO crowdsec_outbox (until, body) VALUES (?1, ?2)",
        params![db_time(until), body],
    )?;
    let id = db.last_insert_rowid();
    let over = count(db)?.saturating_sub(MAX_ROWS);
    let dropped = if over > 0 {
        db.execute(
            "DELETE FROM crowdsec_outbox WHERE id IN (SELECT id FROM crowdsec_outbox ORDER BY id LIMIT ?1)",
            params![over as i64],
        )?
    } else {
        0
    };
    let row = Row {
        id,
        until,
        body: body.to_owned(),
    };
    Ok((row, dropped))
}

/// The alerts waiting, oldest first.
pub fn pending(db: &Connection) -> rusqlite::Result<Vec<Row>> {
    db.execute_batch(SCHEMA)?;
    let mut st = db.prepare("SELECT id, until, body FROM crowdsec_outbox ORDER BY id LIMIT ?1")?;
    let rows = st.query_map(params![MAX_ROWS as i64], |r| {
        Ok(Row {
            id: r.get(0)?,
            until: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            body: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Deletes the rows LAPI took (or that ended before they could be pushed).
pub fn done(db: &Connection, ids: &[i64]) -> rusqlite::Result<usize> {
    db.execute_batch(SCHEMA)?;
    let mut n = 0;
    db.execute_batch("BEGIN")?;
    let deleted = (|| {
        let mut st = db.prepare_cached("DELETE FROM crowdsec_outbox WHERE id = ?1")?;
        for id in ids {
            n += st.execute(params![id])?;
        }
        Ok(n)
    })();
    db.execute_batch(if deleted.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    })?;
    deleted
}

/// How many alerts wait.
pub fn count(db: &Connection) -> rusqlite::Result<usize> {
    db.execute_batch(SCHEMA)?;
    db.query_row("SELECT COUNT(*) FROM crowdsec_outbox", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_wait_in_the_ledger_across_a_reopen_until_lapi_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let first = {
            let db = Connection::open(&path).unwrap();
            let (a, _) = add(&db, 10, "{\"a\":1}").unwrap();
            let (b, _) = add(&db, 20, "{\"b\":2}").unwrap();
            assert_eq!(done(&db, &[a.id]).unwrap(), 1);
            b
        };
        let db = Connection::open(&path).unwrap();
        assert_eq!(pending(&db).unwrap(), std::slice::from_ref(&first));
        assert_eq!(done(&db, &[first.id, 999]).unwrap(), 1);
        assert_eq!(count(&db).unwrap(), 0);
    }

    #[test]
    fn a_full_outbox_drops_its_oldest_alert() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch("BEGIN").unwrap();
        for i in 0..MAX_ROWS {
            let (_, dropped) = add(&db, i as u64, "x").unwrap();
            assert_eq!(dropped, 0);
        }
        db.execute_batch("COMMIT").unwrap();
        let (newest, dropped) = add(&db, 1, "newest").unwrap();
        assert_eq!(dropped, 1);
        let rows = pending(&db).unwrap();
        assert_eq!(rows.len(), MAX_ROWS);
        assert_eq!(rows[0].until, 1, "the oldest (until 0) went");
        assert_eq!(rows.last().unwrap(), &newest);
    }
}
