//! Ids of messages and queue items, given out by the store rather than by SQLite: a message
//! gets its id when it is written to the ingest log, before it is in the database, and
//! everything else that inserts (reprocessing, operators' edits) takes the next id from the
//! same counters, so ids keep growing in the order things were stored, and a queue's order is
//! its items' ids.
//!
//! **Take ids only while holding the ingest log's writer**, and insert them before letting it
//! go (or write them to the log): then no id is in use in two places, and none is lower than
//! an id already applied.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

use super::error::Result;

#[derive(Debug)]
pub(super) struct Ids {
    next_message: AtomicU64,
    next_item: AtomicU64,
}

impl Ids {
    /// Counters that continue after every id in the database (and every id it ever gave out:
    /// `AUTOINCREMENT`'s sequence remembers deleted ones).
    pub(super) fn after(conn: &Connection) -> Result<Ids> {
        let next = |table: &str| -> Result<u64> {
            let highest: i64 = conn.query_row(
                &format!(
                    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0),
                                coalesce((SELECT max(id) FROM {table}), 0))"
                ),
                [],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(highest).unwrap_or(0) + 1)
        };
        Ok(Ids {
            next_message: AtomicU64::new(next("messages")?),
            next_item: AtomicU64::new(next("queue")?),
        })
    }

    /// The next message id.
    pub(super) fn message(&self) -> u64 {
        self.next_message.fetch_add(1, Ordering::Relaxed)
    }

    /// The next queue item id.
    pub(super) fn item(&self) -> u64 {
        self.next_item.fetch_add(1, Ordering::Relaxed)
    }
}
