//! The SQLite schema, its version, the connection settings, and the text form of states.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::{Error, Result};
use super::{ItemState, MessageState};

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const VERSION: i64 = 6;

/// Tables and indexes. Times are Unix milliseconds; ids are `AUTOINCREMENT`, so never reused.
const SCHEMA: &str = concat!(
    "
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
CREATE INDEX IF NOT EXISTS queue_active ON queue (destination, id) WHERE ",
    queued!("state"),
    ";
CREATE INDEX IF NOT EXISTS queue_leases
    ON queue (lease_until) WHERE state IN ('leased', 'sent');
CREATE INDEX IF NOT EXISTS queue_errors ON queue (destination, id) WHERE state = 'error';
CREATE INDEX IF NOT EXISTS queue_message ON queue (message_id);
CREATE INDEX IF NOT EXISTS queue_reprocess_of ON queue (reprocess_of)
    WHERE reprocess_of IS NOT NULL;

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
"
);

/// The write connection's page cache, in KiB (SQLite's convention: negative means KiB).
const CACHE_KIB: i64 = -16_384;

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
    // The applier's transactions touch thousands of index pages: with SQLite's default cache
    // (2 MiB) they spilled dirty pages to the WAL mid-transaction and read index pages back
    // from the file, a quarter of their time. Not larger: while the database is under 1 GiB,
    // SQLite ends every write transaction with a walk over all the cached pages (a b-tree
    // rebalance parks a page at the pending-byte page number, which its cache then takes for
    // a page past the end), and with 64 MiB that walk was the engine's largest function
    // under load (4.5 % of its CPU end to end).
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;

    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    conn.execute_batch(SCHEMA)?;
    if found < 2 {
        migrate(conn, 2, V2)?;
    }
    if found < 3 {
        migrate(conn, 3, V3)?;
    }
    if found < 4 {
        migrate(conn, 4, V4)?;
    }
    if found < 5 {
        migrate(conn, 5, V5)?;
    }
    if found < 6 {
        migrate(conn, 6, V6)?;
    }
    if found < VERSION {
        conn.pragma_update(None, "user_version", VERSION)?;
    }
    Ok(())
}

/// Version 2, for the admin endpoint's message browser and audit log:
///
/// - `msg_code` and `msg_event`: MSH-9.1 and MSH-9.2, computed from `msg_type` (split at `^`),
///   indexed for the browser's type and event filters; indexes on the sending application and
///   the state too. Each index has one column, so within a value it keeps the row id in
///   order: a filter walks newest first and stops at a page.
/// - `edited_from`: a message an operator ingested as an edited copy of another.
/// - `messages_text`: a contentless FTS5 index of the raw messages (words, no positions), so
///   free-text search never scans the messages. It is filled off the ingest path, in batches
///   ([`Store::index_text`](super::Store::index_text)), up to the message id in
///   `text_indexed`; a trigger removes deleted messages from it.
/// - `audit` and `audit_messages`: who did what to which messages, and when.
const V2: &str = "
ALTER TABLE messages ADD COLUMN edited_from INTEGER;
ALTER TABLE messages ADD COLUMN msg_code TEXT GENERATED ALWAYS AS (
    CASE WHEN instr(msg_type, '^') > 0 THEN substr(msg_type, 1, instr(msg_type, '^') - 1)
         ELSE msg_type END) VIRTUAL;
ALTER TABLE messages ADD COLUMN msg_event TEXT GENERATED ALWAYS AS (
    CASE WHEN instr(msg_type, '^') = 0 THEN ''
         WHEN instr(substr(msg_type, instr(msg_type, '^') + 1), '^') > 0
             THEN substr(substr(msg_type, instr(msg_type, '^') + 1), 1,
                         instr(substr(msg_type, instr(msg_type, '^') + 1), '^') - 1)
         ELSE substr(msg_type, instr(msg_type, '^') + 1) END) VIRTUAL;
CREATE INDEX messages_code ON messages (msg_code);
CREATE INDEX messages_event ON messages (msg_event);
CREATE INDEX messages_sender ON messages (sending_app);
CREATE INDEX messages_state ON messages (state);
CREATE INDEX messages_edited_from ON messages (edited_from) WHERE edited_from IS NOT NULL;

CREATE VIRTUAL TABLE messages_text USING fts5 (
    body, content = '', contentless_delete = 1, detail = none,
    tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE text_indexed (id INTEGER PRIMARY KEY CHECK (id = 1), up_to INTEGER NOT NULL);
INSERT INTO text_indexed (id, up_to) VALUES (1, 0);
CREATE TRIGGER messages_text_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_text WHERE rowid = old.id;
END;

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    user    TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    details TEXT    NOT NULL DEFAULT ''
);
CREATE TABLE audit_messages (
    message_id INTEGER NOT NULL,
    audit_id   INTEGER NOT NULL REFERENCES audit (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, audit_id)
) WITHOUT ROWID;
CREATE INDEX audit_messages_entry ON audit_messages (audit_id);
CREATE INDEX audit_action ON audit (action);
";

/// Version 3: the text index is filled in batches rather than by a trigger on every insert
/// (which doubled the ingest's cost). A file an earlier build of version 2 wrote has that
/// trigger and everything indexed: the trigger goes, the high-water mark is its last message.
const V3: &str = "
CREATE TABLE IF NOT EXISTS text_indexed (
    id INTEGER PRIMARY KEY CHECK (id = 1), up_to INTEGER NOT NULL);
INSERT OR IGNORE INTO text_indexed (id, up_to) SELECT 1, coalesce(max(id), 0) FROM messages;
DROP TRIGGER IF EXISTS messages_text_insert;
";

/// Version 4, two indexes of the queue that every item's insert and update maintain:
///
/// - `queue_reprocess_of` covers only the items where it is set. Almost every item has none,
///   and a full index made every queue insert (three per message in a fan-out) update one
///   more B-tree for nothing; lookups by `reprocess_of = ?` and the foreign key's `SET NULL`
///   use the partial index all the same.
/// - `queue_active` is declared with [`queued!`]'s condition instead of a three-value `IN`,
///   which cost two ephemeral tables per update of an item and one per insert.
///
/// A file of version 3 or older has both under the same names: they are rebuilt.
const V4: &str = concat!(
    "
DROP INDEX IF EXISTS queue_reprocess_of;
CREATE INDEX queue_reprocess_of ON queue (reprocess_of) WHERE reprocess_of IS NOT NULL;
DROP INDEX IF EXISTS queue_active;
CREATE INDEX queue_active ON queue (destination, id) WHERE ",
    queued!("state"),
    ";
"
);

/// Version 5, the ingest log's mark: the sequence number of the last record of the log
/// (`<database>-ingest/`) that is in the database. It is written in the transaction that
/// applies the record, so after a crash the records past it, and only those, are applied
/// again.
const V5: &str = "
CREATE TABLE IF NOT EXISTS ingest_applied (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO ingest_applied (id, seq) VALUES (1, 0);
";

/// Version 6, `raw_codec`: how `raw` holds the message (see `codec`): 0 verbatim, 1 an LZ4
/// block after its length. Rows written before keep 0.
const V6: &str = "
ALTER TABLE messages ADD COLUMN raw_codec INTEGER NOT NULL DEFAULT 0;
";

/// The last ingest log record in the database.
pub(super) fn applied(conn: &Connection) -> Result<u64> {
    let seq: i64 = conn.query_row("SELECT seq FROM ingest_applied WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    super::sqlite::id_u64(seq, "ingest_applied.seq")
}

/// Records `seq` as the last ingest log record in the database, in the transaction that
/// applied it.
pub(super) fn set_applied(tx: &Transaction<'_>, seq: u64) -> Result<()> {
    tx.prepare_cached("UPDATE ingest_applied SET seq = ?1 WHERE id = 1")?
        .execute([super::sqlite::id_i64(seq)])?;
    Ok(())
}

/// Runs one migration and records its version, in one transaction; a file another process
/// migrated meanwhile is left alone.
fn migrate(conn: &Connection, version: i64, sql: &str) -> Result<()> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found < version {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

impl MessageState {
    pub(super) fn parse(s: &str) -> Result<MessageState> {
        MessageState::from_name(s).ok_or_else(|| corrupt("messages.state", s))
    }

    /// The state's name, as stored and as the admin API writes it: `received`, `routed`,
    /// `error`, `discarded`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Received => "received",
            MessageState::Routed => "routed",
            MessageState::Error => "error",
            MessageState::Discarded => "discarded",
        }
    }

    /// The state named `name` ([`MessageState::as_str`]).
    pub fn from_name(name: &str) -> Option<MessageState> {
        Some(match name {
            "received" => MessageState::Received,
            "routed" => MessageState::Routed,
            "error" => MessageState::Error,
            "discarded" => MessageState::Discarded,
            _ => return None,
        })
    }
}

impl ItemState {
    pub(super) fn parse(s: &str) -> Result<ItemState> {
        ItemState::from_name(s).ok_or_else(|| corrupt("queue.state", s))
    }

    /// The state's name, as stored and as the admin API writes it: `ready`, `leased`,
    /// `sent`, `done`, `error`, `discarded`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Ready => "ready",
            ItemState::Leased => "leased",
            ItemState::Sent => "sent",
            ItemState::Done => "done",
            ItemState::Error => "error",
            ItemState::Discarded => "discarded",
        }
    }

    /// The state named `name` ([`ItemState::as_str`]).
    pub fn from_name(name: &str) -> Option<ItemState> {
        Some(match name {
            "ready" => ItemState::Ready,
            "leased" => ItemState::Leased,
            "sent" => ItemState::Sent,
            "done" => ItemState::Done,
            "error" => ItemState::Error,
            "discarded" => ItemState::Discarded,
            _ => return None,
        })
    }
}

fn corrupt(column: &'static str, value: &str) -> Error {
    Error::Corrupt {
        column,
        detail: format!("unknown state {value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared() -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch(SCHEMA).expect("schema");
        conn.execute_batch(V4).expect("version 4");
        conn
    }

    fn opcodes(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).expect("explain");
        let rows = stmt.query_map([], |r| r.get::<_, String>(1)).expect("rows");
        rows.collect::<rusqlite::Result<_>>().expect("opcodes")
    }

    #[test]
    fn the_queued_condition_finds_the_active_index() {
        let conn = prepared();
        for sql in [
            concat!(
                "SELECT id FROM queue WHERE destination = 'a' AND ",
                queued!("state")
            ),
            concat!(
                "SELECT q.id FROM queue q JOIN messages m ON m.id = q.message_id
                 WHERE q.destination = 'a' AND ",
                queued!("q.state"),
                " ORDER BY q.id LIMIT 5"
            ),
        ] {
            let plan: String = conn
                .query_row(&format!("EXPLAIN QUERY PLAN {sql}"), [], |r| r.get(3))
                .expect("plan");
            assert!(plan.contains("queue_active"), "{sql}: {plan}");
        }
    }

    #[test]
    fn writing_an_item_builds_no_ephemeral_table() {
        let conn = prepared();
        for sql in [
            "INSERT INTO queue (message_id, destination, payload, state, created_at, ready_at)
             VALUES (1, 'a', x'', 'ready', 0, 0)",
            "UPDATE queue SET state = 'leased', lease_until = 5 WHERE id = 1",
            "UPDATE queue SET state = 'done' WHERE id = 1 AND state IN ('leased', 'sent')",
        ] {
            let ops = opcodes(&conn, sql);
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {ops:?}"
            );
        }
    }
}
