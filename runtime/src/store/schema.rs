//! The SQLite schema, its version, the connection settings, and the text form of states.

use rusqlite::Connection;

use super::error::{Error, Result};
use super::{ItemState, MessageState};

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const VERSION: i64 = 1;

/// Tables and indexes. Times are Unix milliseconds; ids are `AUTOINCREMENT`, so never reused.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    channel          TEXT    NOT NULL,
    received_at      INTEGER NOT NULL,
    msg_type         TEXT    NOT NULL,
    patient_id       TEXT,
    sending_app      TEXT    NOT NULL,
    sending_facility TEXT    NOT NULL,
    control_id       TEXT    NOT NULL,
    payload_hash     BLOB    NOT NULL,
    raw              BLOB    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'received',
    error            TEXT,
    ack              BLOB
);
CREATE INDEX IF NOT EXISTS messages_dedupe
    ON messages (control_id, sending_app, sending_facility);
CREATE INDEX IF NOT EXISTS messages_received_at ON messages (received_at);
CREATE INDEX IF NOT EXISTS messages_patient ON messages (patient_id);
CREATE INDEX IF NOT EXISTS messages_unrouted ON messages (id) WHERE state = 'received';

CREATE TABLE IF NOT EXISTS queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    destination  TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'ready',
    created_at   INTEGER NOT NULL,
    ready_at     INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    lease_token  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    reprocess_of INTEGER REFERENCES queue (id) ON DELETE SET NULL,
    finished_at  INTEGER
);
CREATE INDEX IF NOT EXISTS queue_active
    ON queue (destination, id) WHERE state IN ('ready', 'leased', 'sent');
CREATE INDEX IF NOT EXISTS queue_leases
    ON queue (lease_until) WHERE state IN ('leased', 'sent');
CREATE INDEX IF NOT EXISTS queue_errors ON queue (destination, id) WHERE state = 'error';
CREATE INDEX IF NOT EXISTS queue_message ON queue (message_id);
CREATE INDEX IF NOT EXISTS queue_reprocess_of ON queue (reprocess_of);

CREATE TABLE IF NOT EXISTS attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id     INTEGER NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    owner       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    finished_at INTEGER,
    outcome     TEXT,
    error       TEXT,
    response    BLOB
);
CREATE INDEX IF NOT EXISTS attempts_item ON attempts (item_id);
";

/// How hard a commit waits for the disk (`PRAGMA synchronous`, always with WAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `FULL`: every commit fsyncs the WAL before it returns, so a committed (and acknowledged)
    /// message survives kill -9 **and** power loss. The default, and the only setting an
    /// engine that acknowledges after storage should run with.
    #[default]
    Full,
    /// `NORMAL`: the WAL is fsynced only at checkpoints. A commit survives kill -9 of the
    /// process (the WAL is in the OS page cache) but the last commits may be lost on power
    /// loss. For tests and caches, not for acknowledged messages.
    Normal,
    /// `OFF`: no fsync at all. Exists so the power-loss test can prove its checker detects
    /// loss (RELIABILITY.md T-CRASH-5); never durable.
    Off,
}

impl Synchronous {
    /// True when a commit survives power loss ([`Synchronous::Full`] only). An engine refuses
    /// to start when it acknowledges after storage and this is false.
    pub fn is_durable(self) -> bool {
        matches!(self, Synchronous::Full)
    }

    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        }
    }
}

/// Sets how hard the next commits wait for the disk.
pub(super) fn set_synchronous(conn: &Connection, sync: Synchronous) -> Result<()> {
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    Ok(())
}

/// Connection settings, then the schema (created or checked).
pub(super) fn prepare(conn: &Connection, sync: Synchronous) -> Result<()> {
    // auto_vacuum must be set before the first table exists; it is a no-op afterwards.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Corrupt {
            column: "journal_mode",
            detail: format!("SQLite refused WAL mode (got {mode})"),
        });
    }
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;

    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    conn.execute_batch(SCHEMA)?;
    if found < VERSION {
        conn.pragma_update(None, "user_version", VERSION)?;
    }
    Ok(())
}

impl MessageState {
    pub(super) fn parse(s: &str) -> Result<MessageState> {
        Ok(match s {
            "received" => MessageState::Received,
            "routed" => MessageState::Routed,
            "error" => MessageState::Error,
            other => return Err(corrupt("messages.state", other)),
        })
    }
}

impl ItemState {
    pub(super) fn parse(s: &str) -> Result<ItemState> {
        Ok(match s {
            "ready" => ItemState::Ready,
            "leased" => ItemState::Leased,
            "sent" => ItemState::Sent,
            "done" => ItemState::Done,
            "error" => ItemState::Error,
            other => return Err(corrupt("queue.state", other)),
        })
    }
}

fn corrupt(column: &'static str, value: &str) -> Error {
    Error::Corrupt {
        column,
        detail: format!("unknown state {value:?}"),
    }
}
