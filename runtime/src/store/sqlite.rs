//! [`SqliteStore`]: the embedded backend, one SQLite file in WAL mode, and its ingest log.
//!
//! # Durability
//!
//! An inbound message is durable once the record of its group commit is in the
//! [ingest log](super::ingest_log) and that is fsynced (`synchronous=FULL`, the default): a
//! [`Receipt`] means the message survives kill -9 and power loss. The
//! [applier](super::applier) then copies the records into SQLite, thousands of messages per
//! transaction, off the acknowledgment's path; after a crash, [`SqliteStore::open`] applies
//! whatever the log holds past the database's mark before anything reads the store. Every
//! operation waits until the messages written before it are applied, so callers read their
//! own writes as if the log were not there.
//!
//! The commits that an operator's action relies on (routing, reprocessing, edits, the audit
//! log) are fsynced SQLite transactions, as is recovery. Queue bookkeeping (claims, delivery
//! reports, recorded ACKs) and the applier's transactions commit with `synchronous=NORMAL`:
//! losing the applier's last commits to a power cut loses nothing (the log still holds them,
//! and a segment of the log is recycled only after the WAL holding its copy is fsynced), and
//! losing bookkeeping only makes a delivered item deliverable again (at least once, same
//! bytes). `NORMAL` would survive kill -9 but may lose the last acknowledged messages on power
//! loss.
//!
//! One write connection behind a mutex (SQLite admits one writer at a time anyway, and every
//! operation here is a short transaction), and one read connection for the ingest's duplicate
//! check, which must not wait for the applier's transactions.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};
use tracing::{info, warn};

use super::applier::{Applier, Apply, Queued, Turn};
use super::delivery::{self, ClaimRef, Ended};
use super::error::{Error, Result};
use super::ids::Ids;
use super::ingest_log::record::{Format, HEADER_LEN};
use super::ingest_log::{self, IngestLog};
use super::leases::Leases;
use super::wal_sync::WalSync;
use super::{
    files, schema, Accept, Accepted, AuditEntry, AuditQuery, AuditRecord, ClaimRequest, Claimed,
    Delivery, Discarded, Disposition, Edited, Finish, InboundMessage, ItemId, MessageDetail,
    MessageId, MessageSummary, Pruned, QueueItem, QueueStats, QueueView, Receipt, Recovery,
    Reprocessed, SearchQuery, Store, StoredFingerprint, StoredMessage, Synchronous,
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

/// The embedded store: one SQLite database file (plus its `-wal` and `-shm`) and its ingest
/// log (`-ingest/`), readable only by the engine's user. One user at a time: while it is
/// open, opening the same file again (in this process or another) fails with
/// [`Error::InUse`].
#[derive(Debug)]
pub struct SqliteStore {
    /// Shared with the checkpointer, which holds it while the WAL restarts, and the applier.
    conn: Arc<Mutex<Locked>>,
    /// The duplicate check's connection.
    reader: Mutex<Connection>,
    /// The claims' connection (see [`delivery`]).
    claimer: Mutex<Connection>,
    leases: Arc<Leases>,
    log: Arc<IngestLog>,
    applier: Applier,
    ids: Ids,
    path: PathBuf,
    synchronous: Synchronous,
    wal: Arc<WalSync>,
    _checkpointer: super::checkpoint::Checkpointer,
    /// Held until everything above is closed (fields drop in order).
    _lock: std::fs::File,
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

/// The level of commits nobody's acknowledgment waits for (see the module documentation).
fn bookkeeping(configured: Synchronous) -> Synchronous {
    match configured {
        Synchronous::Full | Synchronous::Normal => Synchronous::Normal,
        Synchronous::Off => Synchronous::Off,
    }
}

/// A panic elsewhere while holding the lock leaves no open transaction (a dropped rusqlite
/// transaction rolls back), so a poisoned lock is still usable.
fn lock_at(conn: &Mutex<Locked>, level: Synchronous) -> Result<Conn<'_>> {
    let mut locked = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if locked.current != level {
        schema::set_synchronous(&locked.conn, level)?;
        locked.current = level;
    }
    Ok(Conn(locked))
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` with durable defaults.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open_with(path, &Options::new())
    }

    /// Opens (or creates) the database at `path` with `options`. Messages that the ingest log
    /// holds and the database does not (the process stopped before applying them) are
    /// applied first.
    pub fn open_with(path: impl AsRef<Path>, options: &Options) -> Result<SqliteStore> {
        let path = path.as_ref();
        files::prepare(path)?;
        let lock = files::lock(path)?;
        let mut conn = Connection::open(path)?;
        schema::prepare(&conn, options.synchronous)?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            super::checkpoint::WRITER_THRESHOLD,
        )?;
        let durable = options.synchronous.is_durable();
        let mut applied = schema::applied(&conn)?;
        let (log, found) = IngestLog::open(&ingest_log::dir_of(path), durable, applied)?;
        if let Some(last) = found.last().map(|f| f.seq) {
            // At the configured level: durable before the log's segments are recycled.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for f in &found {
                super::accept::apply(&tx, f.format, &f.body)?;
            }
            schema::set_applied(&tx, last)?;
            tx.commit()?;
            info!(store = %path.display(), records = found.len(),
                "ingest log: applied the records the last run left");
            applied = last;
        }
        drop(found);
        log.recycle(applied)?;
        let log = Arc::new(log);
        let ids = Ids::after(&conn)?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(Duration::from_secs(5))?;
        let claimer = Connection::open(path)?;
        claimer.busy_timeout(Duration::from_secs(5))?;
        let conn = Arc::new(Mutex::new(Locked {
            conn,
            current: options.synchronous,
        }));
        let wal = Arc::new(WalSync::new(path));
        let applier = Applier::start(
            applied,
            ToDatabase {
                conn: Arc::clone(&conn),
                level: bookkeeping(options.synchronous),
                log: Arc::clone(&log),
                wal: Arc::clone(&wal),
                durable,
            },
        )?;
        let checkpointer =
            super::checkpoint::Checkpointer::start(path, options.synchronous, Arc::clone(&conn))?;
        Ok(SqliteStore {
            conn,
            reader: Mutex::new(reader),
            claimer: Mutex::new(claimer),
            leases: Arc::new(Leases::default()),
            log,
            applier,
            ids,
            path: path.to_owned(),
            synchronous: options.synchronous,
            wal,
            _checkpointer: checkpointer,
            _lock: lock,
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
        self.lock(bookkeeping(self.synchronous))
    }

    /// The connection for commits an acknowledgment relies on, at the configured level.
    pub(super) fn durable(&self) -> Result<Conn<'_>> {
        self.lock(self.synchronous)
    }

    /// The connection, once every message written to the ingest log before the call is in
    /// the database.
    fn lock(&self, level: Synchronous) -> Result<Conn<'_>> {
        self.applier.caught_up()?;
        lock_at(&self.conn, level)
    }

    /// A claim on what the database holds now (see [`delivery`]); the leases it found expired
    /// are filed.
    fn claim_now(&self, request: &ClaimRequest<'_>, now: Timestamp) -> Result<Vec<Claimed>> {
        let conn = self.claimer.lock().unwrap_or_else(|p| p.into_inner());
        let mut registry = self.leases.lock();
        let claim = delivery::claim(&conn, &mut registry, request, now)?;
        drop(registry);
        drop(conn);
        // Expired attempts need not be on file before the claims are used.
        drop(self.file(claim.expired, now));
        Ok(claim.claimed)
    }

    /// Ends the in-memory leases `which` picks and files them as expired attempts; how many.
    fn expire(&self, now: Timestamp, which: impl Fn(&super::leases::Lease) -> bool) -> Result<u64> {
        let ended = self.leases.lock().expire(millis(now), which);
        let count = ended.len() as u64;
        self.file(expired(ended), now).wait()?;
        Ok(count)
    }

    /// Writes ended attempts in the applier's next transaction; their leases go once it
    /// committed (see [`leases`](super::leases)). [`Filed::wait`] for the commit.
    fn file(&self, ended: Vec<Ended>, now: Timestamp) -> Filed {
        if ended.is_empty() {
            return Filed(None);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.applier.turn(Box::new(Filing {
            ended,
            now,
            leases: Arc::clone(&self.leases),
            result: None,
            reply,
        }));
        Filed(Some(answer))
    }

    /// Runs `f` in the applier's next transaction, after every message written before (see
    /// [`applier`](super::applier)): a turn of queue bookkeeping, committed with the
    /// ingest's records at the bookkeeping level. All or nothing: an error undoes what `f` did.
    fn turn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.applier.turn(Box::new(Job {
            f: Some(f),
            result: None,
            reply,
        }));
        answer
            .recv()
            .unwrap_or_else(|_| Err(Error::Unavailable("the applier stopped".to_owned())))
    }

    fn ingest_all(&self, messages: &[InboundMessage]) -> Result<Vec<Receipt>> {
        // Ids are taken under the log's writer (see `Ids`).
        let _writer = self.log.writer();
        let mut conn = self.durable()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(messages.len());
        for inbound in messages {
            let unrouted = Accept {
                inbound,
                disposition: Disposition::Later,
                ack: None,
                application_ack: None,
            };
            // Left for routing: no queue items, so no time they were queued at.
            let (id, _) =
                super::accept::insert_new(&tx, &self.ids, &unrouted, None, inbound.received_at)?;
            ids.push(id_u64(id, "messages.id")?);
        }
        tx.commit()?;
        // The commit has returned: these messages are durable.
        Ok(ids
            .into_iter()
            .map(|id| Receipt {
                id: MessageId(id),
                durable: Durable::committed(id),
            })
            .collect())
    }
}

impl Drop for SqliteStore {
    /// Applies what the log holds, then makes the database durable and recycles the log, so a
    /// store closed cleanly leaves nothing to apply at the next open.
    fn drop(&mut self) {
        self.applier.stop();
        let applied = match lock_at(&self.conn, self.synchronous).and_then(|c| schema::applied(&c))
        {
            Ok(applied) => applied,
            Err(e) => {
                warn!(error = %e, "store closed without reading its ingest log mark");
                return;
            }
        };
        if self.synchronous.is_durable() {
            if let Err(e) = self.wal.sync() {
                warn!(error = %e, "store closed without syncing; the ingest log is kept");
                return;
            }
        }
        if let Err(e) = self.log.recycle(applied) {
            warn!(error = %e, "cannot recycle the ingest log");
        }
    }
}

/// A turn: `f` in a savepoint of the applier's transaction, its result sent once that
/// committed.
struct Job<F, T> {
    f: Option<F>,
    result: Option<Result<T>>,
    reply: mpsc::SyncSender<Result<T>>,
}

impl<F, T> Turn for Job<F, T>
where
    F: FnOnce(&Connection) -> Result<T> + Send,
    T: Send,
{
    fn run(&mut self, tx: &mut rusqlite::Transaction<'_>) {
        let Some(f) = self.f.take() else {
            return;
        };
        self.result = Some(in_savepoint(tx, f));
    }

    fn finish(self: Box<Self>, committed: Result<()>) {
        let Job { result, reply, .. } = *self;
        let result = committed.and_then(|()| {
            result.unwrap_or_else(|| Err(Error::Unavailable("a turn that never ran".to_owned())))
        });
        let _ = reply.send(result);
    }
}

/// A turn's work in a savepoint of the applier's transaction: on an error it is rolled back
/// (dropped without a commit) and the rest of the transaction stands.
fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let savepoint = tx.savepoint()?;
    let result = f(&savepoint)?;
    savepoint.commit()?;
    Ok(result)
}

/// Leases ended by recovery, as expired attempts.
fn expired(ended: Vec<(u64, super::leases::Lease)>) -> Vec<Ended> {
    ended
        .into_iter()
        .map(|(item, lease)| Ended {
            item,
            lease,
            outcome: delivery::Outcome::Expired,
        })
        .collect()
}

/// The turn of [`SqliteStore::file`].
struct Filing {
    ended: Vec<Ended>,
    now: Timestamp,
    leases: Arc<Leases>,
    result: Option<Result<()>>,
    reply: mpsc::SyncSender<Result<()>>,
}

/// Ended attempts on their way to the database.
#[must_use = "wait() tells whether they were filed"]
struct Filed(Option<mpsc::Receiver<Result<()>>>);

impl Filed {
    /// Waits for the transaction that files them.
    fn wait(self) -> Result<()> {
        match self.0 {
            None => Ok(()),
            Some(answer) => answer
                .recv()
                .unwrap_or_else(|_| Err(Error::Unavailable("the applier stopped".to_owned()))),
        }
    }
}

impl Turn for Filing {
    fn run(&mut self, tx: &mut rusqlite::Transaction<'_>) {
        self.result = Some(in_savepoint(tx, |c| {
            delivery::write(c, &self.ended, self.now)
        }));
    }

    fn finish(self: Box<Self>, committed: Result<()>) {
        let Filing {
            ended,
            leases,
            result,
            reply,
            ..
        } = *self;
        let result = committed.and(result.unwrap_or(Ok(())));
        if let Err(e) = &result {
            // The items stay as the database has them: delivered again (at least once).
            warn!(error = %e, items = ended.len(),
                "cannot record delivery outcomes; the items will be delivered again");
        }
        {
            let mut registry = leases.lock();
            for e in &ended {
                registry.remove(e.item, e.lease.token);
            }
        }
        let _ = reply.send(result);
    }
}

/// The applier's side of the store: records into the database, then the log recycled.
struct ToDatabase {
    conn: Arc<Mutex<Locked>>,
    level: Synchronous,
    log: Arc<IngestLog>,
    wal: Arc<WalSync>,
    durable: bool,
}

impl Apply for ToDatabase {
    fn apply(&mut self, records: &[Arc<Queued>], turns: &mut [Box<dyn Turn>]) -> Result<()> {
        let mut conn = lock_at(&self.conn, self.level)?;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for queued in records {
            super::accept::apply(&tx, Format::Packed, &queued.record[HEADER_LEN..])?;
        }
        if let Some(last) = records.last() {
            schema::set_applied(&tx, last.seq)?;
        }
        for turn in turns {
            turn.run(&mut tx);
        }
        tx.commit()?;
        Ok(())
    }

    fn applied(&mut self, seq: u64) -> Result<()> {
        if !self.log.has_recyclable(seq) {
            return Ok(());
        }
        // A segment goes only once the database's copy of its records is durable.
        if self.durable {
            self.wal.sync()?;
        }
        self.log.recycle(seq)
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
        self.store_acks(&[(id, ack)])
    }

    fn route(
        &self,
        id: MessageId,
        deliveries: &[Delivery<'_>],
        now: Timestamp,
    ) -> Result<Vec<ItemId>> {
        let _writer = self.log.writer();
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
                &self.ids,
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
        let mut claims = self.claim_batch(destination, 1, lease, owner, now)?;
        Ok(claims.pop())
    }

    fn mark_sent(&self, claim: &Claimed, now: Timestamp) -> Result<()> {
        delivery::mark_sent(&mut self.leases.lock(), ClaimRef::from(claim), now)
    }

    fn complete(&self, claim: &Claimed, response: Option<&[u8]>, now: Timestamp) -> Result<()> {
        self.finish_many(&[(claim, Finish::Done, response)], now)
    }

    fn fail(
        &self,
        claim: &Claimed,
        error: &str,
        response: Option<&[u8]>,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        self.finish_many(&[(claim, Finish::Retry { error, retry_at }, response)], now)
    }

    fn dead_letter(
        &self,
        claim: &Claimed,
        reason: &str,
        response: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<()> {
        self.finish_many(&[(claim, Finish::DeadLetter { reason }, response)], now)
    }

    fn store_acks(&self, acks: &[(MessageId, &[u8])]) -> Result<()> {
        let acks: Vec<(MessageId, Vec<u8>)> =
            acks.iter().map(|(id, ack)| (*id, ack.to_vec())).collect();
        self.turn(move |conn| super::accept::store_acks(conn, &acks))
    }

    fn accept(&self, batch: &[Accept<'_>], now: Timestamp) -> Result<Vec<Accepted>> {
        let written = self.write_batch(batch, now)?;
        self.sync(vec![written])?
            .pop()
            .ok_or_else(|| Error::Unavailable("a batch synced without its receipts".to_owned()))
    }

    fn write_batch(&self, batch: &[Accept<'_>], now: Timestamp) -> Result<Written> {
        self.applier.wait_for_room()?;
        let mut writer = self.log.writer();
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let seen = super::accept::Seen {
            reader: &reader,
            applier: &self.applier,
        };
        let written = super::accept::write(&mut writer, &seen, &self.ids, batch, now)?;
        Ok(Written(WrittenBatch::Log(written)))
    }

    fn sync(&self, batches: Vec<Written>) -> Result<Vec<Vec<Accepted>>> {
        // Also for a batch of verbatim resends only: the originals they answer for may be in
        // records not synced yet.
        if batches.iter().any(|w| matches!(w.0, WrittenBatch::Log(_))) {
            self.log.sync()?;
        }
        batches
            .into_iter()
            .map(|w| match w.0 {
                WrittenBatch::Durable(accepted) => Ok(accepted),
                // Durable now (or as durable as the configured level makes any write).
                WrittenBatch::Log(written) => written.into_receipts(),
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
        let written = self.applier.written();
        let claimed = self.claim_now(&request, now)?;
        if !claimed.is_empty() {
            return Ok(claimed);
        }
        // Messages stored before the call may not be applied yet: claim again once they are.
        self.applier.applied_to(written)?;
        self.claim_now(&request, now)
    }

    fn release(&self, claims: &[Claimed]) -> Result<()> {
        let claims: Vec<ClaimRef> = claims.iter().map(ClaimRef::from).collect();
        delivery::release(&mut self.leases.lock(), &claims);
        Ok(())
    }

    fn finish_many(
        &self,
        reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
        now: Timestamp,
    ) -> Result<()> {
        let ended = delivery::report(&mut self.leases.lock(), reports)?;
        self.file(ended, now).wait()
    }

    fn report_and_claim(
        &self,
        reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
        untried: &[Claimed],
        next: Option<&ClaimRequest<'_>>,
        now: Timestamp,
    ) -> Result<Vec<Claimed>> {
        let ended = {
            let mut registry = self.leases.lock();
            let ended = delivery::report(&mut registry, reports)?;
            let untried: Vec<ClaimRef> = untried.iter().map(ClaimRef::from).collect();
            delivery::release(&mut registry, &untried);
            ended
        };
        let filed = self.file(ended, now);
        // The next batch is claimed while the reports are written (their leases say what the
        // claim must know of them); the turn ends once they are on file.
        let claimed = match next {
            Some(r) => self.claim_batch(r.destination, r.max, r.lease, r.owner, now),
            None => Ok(Vec::new()),
        };
        filed.wait()?;
        claimed
    }

    fn recover(&self, now: Timestamp) -> Result<Recovery> {
        let now_ms = millis(now);
        let in_memory = self.expire(now, |l| l.until_ms <= now_ms)?;
        let mut recovery = super::queue::recover(&mut *self.conn()?, now)?;
        recovery.leases_released += in_memory;
        Ok(recovery)
    }

    fn recover_owned(&self, owner_prefix: &str, now: Timestamp) -> Result<u64> {
        let in_memory = self.expire(now, |l| l.owner.starts_with(owner_prefix))?;
        Ok(super::queue::recover_owned(&mut *self.conn()?, owner_prefix, now)? + in_memory)
    }

    fn reprocess(&self, id: MessageId, now: Timestamp) -> Result<Vec<ItemId>> {
        let _writer = self.log.writer();
        super::maintenance::reprocess_messages(&mut *self.durable()?, &self.ids, &[id], now)
    }

    fn reprocess_errors(&self, destination: &str, now: Timestamp) -> Result<Vec<ItemId>> {
        let _writer = self.log.writer();
        super::maintenance::reprocess_errors(&mut *self.durable()?, &self.ids, destination, now)
    }

    fn reprocess_range(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<ItemId>> {
        let _writer = self.log.writer();
        super::maintenance::reprocess_range(&mut *self.durable()?, &self.ids, from, to, now)
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
        let mut message = super::read::message(&*self.conn()?, id)?;
        if let Some(m) = &mut message {
            self.leases.overlay(&mut m.items);
        }
        Ok(message)
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<MessageSummary>> {
        let mut conn = self.conn()?;
        if query.text.is_some() {
            super::search::catch_up_text(&mut conn)?;
        }
        let mut found = super::search::search(&conn, query)?;
        drop(conn);
        self.leases
            .overlay(found.iter_mut().flat_map(|m| m.items.iter_mut()));
        Ok(found)
    }

    fn index_text(&self, max: usize) -> Result<usize> {
        super::search::index_text(&mut *self.conn()?, max)
    }

    fn message_detail(&self, id: MessageId) -> Result<Option<MessageDetail>> {
        let Some(message) = self.message(id)? else {
            return Ok(None);
        };
        let mut detail = super::search::detail(&*self.conn()?, message)?;
        self.leases.overlay_detail(&mut detail.items);
        Ok(Some(detail))
    }

    fn reprocess_many(&self, ids: &[MessageId], now: Timestamp) -> Result<Vec<ItemId>> {
        let _writer = self.log.writer();
        super::maintenance::reprocess_messages(&mut *self.durable()?, &self.ids, ids, now)
    }

    fn reprocess_edited(
        &self,
        original: MessageId,
        edited: &Accept<'_>,
        now: Timestamp,
    ) -> Result<Edited> {
        let _writer = self.log.writer();
        super::operations::reprocess_edited(&mut *self.durable()?, &self.ids, original, edited, now)
    }

    fn reprocess_failed(
        &self,
        destination: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Reprocessed> {
        let _writer = self.log.writer();
        let mut conn = self.durable()?;
        super::operations::reprocess_failed(&mut conn, &self.ids, destination, from, to, now)
    }

    fn discard(
        &self,
        id: MessageId,
        destination: Option<&str>,
        now: Timestamp,
    ) -> Result<Discarded> {
        let mut conn = self.durable()?;
        // Leases are taken in memory: the items being delivered are looked up there.
        let in_flight = self.leases.held();
        super::operations::discard(&mut conn, id, destination, &in_flight, now)
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
        let mut items =
            super::operations::queue_items(&*self.conn()?, destination, view, after, limit)?;
        self.leases.overlay_queue(&mut items);
        Ok(items)
    }

    fn record_audit(&self, entry: &AuditEntry<'_>, now: Timestamp) -> Result<u64> {
        super::audit::record(&mut *self.durable()?, entry, now)
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        super::audit::query(&*self.conn()?, query)
    }
}
