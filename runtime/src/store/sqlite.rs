//! [`SqliteStore`]: the embedded backend, one SQLite file in WAL mode.
//!
//! # Durability
//!
//! WAL journal with `synchronous=FULL` by default: each commit appends to the WAL and fsyncs
//! it before returning, so a [`Receipt`] means the message survives kill -9 and power loss
//! (`NORMAL` would survive kill -9 but may lose the last commits on power loss, which would be
//! an acknowledged message lost). The fsync cost is shared by [`Store::ingest_many`] (group
//! commit: one transaction, one fsync for a batch), which is how an engine reaches high ingest
//! rates without weakening the guarantee. WAL also lets readers proceed while a writer
//! commits.
//!
//! Only the commits that an acknowledgment or an operator's action relies on (ingest, routing,
//! reprocessing) run at that level. Queue bookkeeping (claims, delivery reports, recorded
//! ACKs) commits with `synchronous=NORMAL`: losing its last commits to a power cut only makes
//! a delivered item deliverable again (at least once, same bytes), and the next durable
//! commit's fsync of the WAL covers every commit before it anyway.
//!
//! One connection behind a mutex: SQLite admits one writer at a time anyway, and every
//! operation here is a short transaction.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};

use super::error::{Error, Result};
use super::{
    files, schema, Accept, Accepted, AuditEntry, AuditQuery, AuditRecord, ClaimRequest, Claimed,
    Delivery, Discarded, Edited, Finish, InboundMessage, ItemId, MessageDetail, MessageId,
    MessageSummary, Pruned, QueueItem, QueueStats, QueueView, Receipt, Recovery, Reprocessed,
    SearchQuery, Store, StoredFingerprint, StoredMessage, Synchronous,
};
use super::{Written, WrittenBatch};
use crate::ack::{DedupeKey, Durable, Timestamp};

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    synchronous: Synchronous,
}

impl Options {
    /// Durable defaults: WAL, `synchronous=FULL`.
    pub fn new() -> Options {
        Options::default()
    }

    /// Sets how hard a commit waits for the disk; see [`Synchronous`].
    pub fn synchronous(&mut self, synchronous: Synchronous) -> &mut Self {
        self.synchronous = synchronous;
        self
    }
}

/// The embedded store: one SQLite database file (plus its `-wal` and `-shm`), readable only by
/// the engine's user.
#[derive(Debug)]
pub struct SqliteStore {
    /// Shared with the checkpointer, which holds it while the WAL restarts.
    conn: Arc<Mutex<Locked>>,
    path: PathBuf,
    synchronous: Synchronous,
    wal: super::wal_sync::WalSync,
    _checkpointer: super::checkpoint::Checkpointer,
}

/// The connection and the `synchronous` level it is set to now.
#[derive(Debug)]
struct Locked {
    conn: Connection,
    current: Synchronous,
}

/// The locked connection, set to the level its operation needs.
pub(super) struct Conn<'a>(MutexGuard<'a, Locked>);

impl Deref for Conn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0.conn
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0.conn
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` with durable defaults.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open_with(path, &Options::new())
    }

    /// Opens (or creates) the database at `path` with `options`.
    pub fn open_with(path: impl AsRef<Path>, options: &Options) -> Result<SqliteStore> {
        let path = path.as_ref();
        files::prepare(path)?;
        let conn = Connection::open(path)?;
        schema::prepare(&conn, options.synchronous)?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            super::checkpoint::WRITER_THRESHOLD,
        )?;
        let conn = Arc::new(Mutex::new(Locked {
            conn,
            current: options.synchronous,
        }));
        let checkpointer =
            super::checkpoint::Checkpointer::start(path, options.synchronous, Arc::clone(&conn))?;
        Ok(SqliteStore {
            conn,
            path: path.to_owned(),
            synchronous: options.synchronous,
            wal: super::wal_sync::WalSync::new(path),
            _checkpointer: checkpointer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The commit setting in force; an engine refuses to start when it acknowledges after
    /// storage and [`Synchronous::is_durable`] is false.
    pub fn synchronous(&self) -> Synchronous {
        self.synchronous
    }

    /// The connection for queue bookkeeping (see the module documentation).
    pub(super) fn conn(&self) -> Result<Conn<'_>> {
        let level = match self.synchronous {
            Synchronous::Full | Synchronous::Normal => Synchronous::Normal,
            Synchronous::Off => Synchronous::Off,
        };
        self.lock(level)
    }

    /// The connection for commits an acknowledgment relies on, at the configured level.
    pub(super) fn durable(&self) -> Result<Conn<'_>> {
        self.lock(self.synchronous)
    }

    /// A panic elsewhere while holding the lock leaves no open transaction (a dropped
    /// rusqlite transaction rolls back), so a poisoned lock is still usable.
    fn lock(&self, level: Synchronous) -> Result<Conn<'_>> {
        let mut locked = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if locked.current != level {
            schema::set_synchronous(&locked.conn, level)?;
            locked.current = level;
        }
        Ok(Conn(locked))
    }

    fn ingest_all(&self, messages: &[InboundMessage]) -> Result<Vec<Receipt>> {
        let mut conn = self.durable()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(messages.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (channel, received_at, msg_type, patient_id, sending_app,
                     sending_facility, control_id, payload_hash, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for m in messages {
                let key = &m.fingerprint.key;
                insert.execute(params![
                    m.channel,
                    millis(m.received_at),
                    m.msg_type,
                    m.patient_id,
                    key.sending_application,
                    key.sending_facility,
                    key.control_id,
                    &m.fingerprint.hash.as_bytes()[..],
                    m.raw,
                ])?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit()?;
        // The commit has returned: these messages are durable.
        ids.into_iter()
            .map(|id| {
                let id = id_u64(id, "messages.id")?;
                Ok(Receipt {
                    id: MessageId(id),
                    durable: Durable::committed(id),
                })
            })
            .collect()
    }
}

/// Milliseconds for SQLite's signed integers (saturating; year 292 million is far away).
pub(super) fn millis(t: Timestamp) -> i64 {
    i64::try_from(t.unix_millis()).unwrap_or(i64::MAX)
}

/// A time read back from SQLite.
pub(super) fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(u64::try_from(ms).unwrap_or(0))
}

/// An id read back from SQLite (always positive for `AUTOINCREMENT` rows).
pub(super) fn id_u64(id: i64, column: &'static str) -> Result<u64> {
    u64::try_from(id).map_err(|_| Error::Corrupt {
        column,
        detail: format!("negative id {id}"),
    })
}

/// An id for SQLite.
pub(super) fn id_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    fn is_durable(&self) -> bool {
        self.synchronous.is_durable()
    }

    fn ingest(&self, message: &InboundMessage) -> Result<Receipt> {
        let mut receipts = self.ingest_all(std::slice::from_ref(message))?;
        receipts.pop().ok_or(Error::Corrupt {
            column: "messages.id",
            detail: "insert returned no row".to_owned(),
        })
    }

    fn ingest_many(&self, messages: &[InboundMessage]) -> Result<Vec<Receipt>> {
        self.ingest_all(messages)
    }

    fn find_duplicates(&self, key: &DedupeKey) -> Result<Vec<StoredFingerprint>> {
        if !key.is_usable() {
            return Ok(Vec::new());
        }
        super::read::duplicates(&*self.conn()?, key)
    }

    fn store_ack(&self, id: MessageId, ack: &[u8]) -> Result<()> {
        let conn = self.conn()?;
        let n = conn.execute(
            "UPDATE messages SET ack = ?2 WHERE id = ?1",
            params![id_i64(id.0), ack],
        )?;
        if n == 0 {
            return Err(Error::NoSuchMessage(id));
        }
        Ok(())
    }

    fn route(
        &self,
        id: MessageId,
        deliveries: &[Delivery<'_>],
        now: Timestamp,
    ) -> Result<Vec<ItemId>> {
        let mut conn = self.durable()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE messages SET state = 'routed', error = NULL WHERE id = ?1",
            [id_i64(id.0)],
        )?;
        if n == 0 {
            return Err(Error::NoSuchMessage(id));
        }
        let mut items = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            items.push(super::queue::insert_item(
                &tx,
                id_i64(id.0),
                d.destination,
                d.payload,
                None,
                now,
            )?);
        }
        tx.commit()?;
        Ok(items)
    }

    fn message_error(&self, id: MessageId, reason: &str) -> Result<()> {
        let conn = self.durable()?;
        let n = conn.execute(
            "UPDATE messages SET state = 'error', error = ?2 WHERE id = ?1",
            params![id_i64(id.0), reason],
        )?;
        if n == 0 {
            return Err(Error::NoSuchMessage(id));
        }
        Ok(())
    }

    fn unrouted(&self, limit: usize) -> Result<Vec<MessageId>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM messages WHERE state = 'received' ORDER BY id LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ids = stmt
            .query_map([limit], |r| r.get::<_, i64>(0))?
            .map(|id| Ok(MessageId(id_u64(id?, "messages.id")?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(ids)
    }

    fn claim(
        &self,
        destination: &str,
        lease: Duration,
        owner: &str,
        now: Timestamp,
    ) -> Result<Option<Claimed>> {
        let request = ClaimRequest {
            destination,
            max: 1,
            lease,
            owner,
        };
        let mut claims = super::queue::claim_batch(&mut *self.conn()?, &request, now)?;
        Ok(claims.pop())
    }

    fn mark_sent(&self, claim: &Claimed, now: Timestamp) -> Result<()> {
        super::queue::mark_sent(&mut *self.conn()?, claim, now)
    }

    fn complete(&self, claim: &Claimed, response: Option<&[u8]>, now: Timestamp) -> Result<()> {
        super::queue::finish(
            &mut *self.conn()?,
            claim,
            super::queue::Finish::Done,
            response,
            now,
        )
    }

    fn fail(
        &self,
        claim: &Claimed,
        error: &str,
        response: Option<&[u8]>,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        super::queue::finish(
            &mut *self.conn()?,
            claim,
            super::queue::Finish::Retry { error, retry_at },
            response,
            now,
        )
    }

    fn dead_letter(
        &self,
        claim: &Claimed,
        reason: &str,
        response: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<()> {
        super::queue::finish(
            &mut *self.conn()?,
            claim,
            super::queue::Finish::DeadLetter { reason },
            response,
            now,
        )
    }

    fn store_acks(&self, acks: &[(MessageId, &[u8])]) -> Result<()> {
        super::accept::store_acks(&mut *self.conn()?, acks)
    }

    fn accept(&self, batch: &[Accept<'_>], now: Timestamp) -> Result<Vec<Accepted>> {
        super::accept::accept(&mut *self.durable()?, batch, now)
    }

    fn write_batch(&self, batch: &[Accept<'_>], now: Timestamp) -> Result<Written> {
        // At the bookkeeping level: no fsync while the connection is held (see `sync`).
        let written = super::accept::write(&mut *self.conn()?, batch, now)?;
        Ok(Written(WrittenBatch::Wal(written)))
    }

    fn sync(&self, batches: Vec<Written>) -> Result<Vec<Vec<Accepted>>> {
        if batches.iter().any(|w| matches!(w.0, WrittenBatch::Wal(_)))
            && self.synchronous.is_durable()
        {
            self.wal.sync()?;
        }
        batches
            .into_iter()
            .map(|w| match w.0 {
                WrittenBatch::Durable(accepted) => Ok(accepted),
                // Durable now (or as durable as the configured level makes any commit).
                WrittenBatch::Wal(written) => written.into_receipts(),
            })
            .collect()
    }

    fn claim_batch(
        &self,
        destination: &str,
        max: usize,
        lease: Duration,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<Claimed>> {
        let request = ClaimRequest {
            destination,
            max,
            lease,
            owner,
        };
        super::queue::claim_batch(&mut *self.conn()?, &request, now)
    }

    fn release(&self, claims: &[Claimed]) -> Result<()> {
        super::queue::release(&mut *self.conn()?, claims)
    }

    fn finish_many(
        &self,
        reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
        now: Timestamp,
    ) -> Result<()> {
        super::queue::finish_many(&mut *self.conn()?, reports, now)
    }

    fn report_and_claim(
        &self,
        reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
        untried: &[Claimed],
        next: Option<&ClaimRequest<'_>>,
        now: Timestamp,
    ) -> Result<Vec<Claimed>> {
        super::queue::report_and_claim(&mut *self.conn()?, reports, untried, next, now)
    }

    fn recover(&self, now: Timestamp) -> Result<Recovery> {
        super::queue::recover(&mut *self.conn()?, now)
    }

    fn recover_owned(&self, owner_prefix: &str, now: Timestamp) -> Result<u64> {
        super::queue::recover_owned(&mut *self.conn()?, owner_prefix, now)
    }

    fn reprocess(&self, id: MessageId, now: Timestamp) -> Result<Vec<ItemId>> {
        super::maintenance::reprocess_messages(&mut *self.durable()?, &[id], now)
    }

    fn reprocess_errors(&self, destination: &str, now: Timestamp) -> Result<Vec<ItemId>> {
        super::maintenance::reprocess_errors(&mut *self.durable()?, destination, now)
    }

    fn reprocess_range(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<ItemId>> {
        super::maintenance::reprocess_range(&mut *self.durable()?, from, to, now)
    }

    fn prune(&self, older_than: Timestamp, max_bytes: Option<u64>) -> Result<Pruned> {
        super::maintenance::prune(&mut *self.conn()?, older_than, max_bytes)
    }

    fn queue_depth(&self, destination: &str) -> Result<u64> {
        super::read::queue_depth(&*self.conn()?, destination)
    }

    fn oldest_ready_age(&self, destination: &str, now: Timestamp) -> Result<Option<Duration>> {
        super::read::oldest_ready_age(&*self.conn()?, destination, now)
    }

    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>> {
        super::read::message(&*self.conn()?, id)
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<MessageSummary>> {
        let mut conn = self.conn()?;
        if query.text.is_some() {
            super::search::catch_up_text(&mut conn)?;
        }
        super::search::search(&conn, query)
    }

    fn index_text(&self, max: usize) -> Result<usize> {
        super::search::index_text(&mut *self.conn()?, max)
    }

    fn message_detail(&self, id: MessageId) -> Result<Option<MessageDetail>> {
        let Some(message) = self.message(id)? else {
            return Ok(None);
        };
        super::search::detail(&*self.conn()?, message).map(Some)
    }

    fn reprocess_many(&self, ids: &[MessageId], now: Timestamp) -> Result<Vec<ItemId>> {
        super::maintenance::reprocess_messages(&mut *self.durable()?, ids, now)
    }

    fn reprocess_edited(
        &self,
        original: MessageId,
        edited: &Accept<'_>,
        now: Timestamp,
    ) -> Result<Edited> {
        super::operations::reprocess_edited(&mut *self.durable()?, original, edited, now)
    }

    fn reprocess_failed(
        &self,
        destination: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Reprocessed> {
        super::operations::reprocess_failed(&mut *self.durable()?, destination, from, to, now)
    }

    fn discard(
        &self,
        id: MessageId,
        destination: Option<&str>,
        now: Timestamp,
    ) -> Result<Discarded> {
        super::operations::discard(&mut *self.durable()?, id, destination, now)
    }

    fn queue_stats(&self) -> Result<Vec<QueueStats>> {
        super::operations::queue_stats(&*self.conn()?)
    }

    fn queue_items(
        &self,
        destination: &str,
        view: QueueView,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<QueueItem>> {
        super::operations::queue_items(&*self.conn()?, destination, view, after, limit)
    }

    fn record_audit(&self, entry: &AuditEntry<'_>, now: Timestamp) -> Result<u64> {
        super::audit::record(&mut *self.durable()?, entry, now)
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        super::audit::query(&*self.conn()?, query)
    }
}
