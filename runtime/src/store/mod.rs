//! The durable store: raw inbound messages with their metadata, per-destination FIFO queues,
//! delivery attempts and responses, errors, reprocessing and retention.
//!
//! One interface, [`Store`], and the embedded backend [`SqliteStore`] (one file, WAL). The
//! store is the engine's memory across restarts (DESIGN.md, "Guarantees"): an ACK is sent only
//! for a message [`Store::ingest`] has committed, and after kill -9 [`Store::recover`] makes
//! every in-flight item deliverable again.
//!
//! # Path of a message
//!
//! 1. [`Store::find_duplicates`] with the message's [`DedupeKey`], then
//!    [`Fingerprint::check`](crate::ack::Fingerprint::check) on what it returns: a verbatim
//!    resend gets the stored ACK again and goes no further.
//! 2. [`Store::ingest`] (or [`Store::ingest_many`] for group commit) returns a [`Receipt`]
//!    whose [`Durable`](crate::ack::Durable) lets [`ack::decide`](crate::ack::decide) answer
//!    `AA`/`CA`; [`Store::store_ack`] keeps the ACK sent, for resends.
//! 3. [`Store::route`] adds one queue item per destination and marks the message routed, in one
//!    transaction ([`Store::message_error`] when validation or mapping fails).
//! 4. A worker per destination: [`Store::claim`] → deliver → [`Store::complete`],
//!    [`Store::fail`] (retry at a time the caller's backoff chose) or
//!    [`Store::dead_letter`]. Within a destination, items are handed out strictly in order:
//!    the next item is never claimed while an earlier one is leased or waiting for its retry.
//! 5. At start-up, [`Store::recover`], then [`Store::unrouted`] to route what was stored but
//!    not routed before the crash.
//!
//! # Operators
//!
//! The admin endpoint ([`crate::admin`]) reads and acts through [`Store::search`] (keyset
//! pages, indexed filters and a full-text index of the raw messages, which
//! [`Store::index_text`] fills off the ingest path), [`Store::message_detail`],
//! [`Store::queue_stats`] and [`Store::queue_items`], [`Store::reprocess_many`],
//! [`Store::reprocess_edited`], [`Store::reprocess_failed`] and [`Store::discard`], and keeps
//! its audit log with [`Store::record_audit`] and [`Store::audit`].
//!
//! # Calling from async code
//!
//! The API is synchronous and blocking (it waits for the disk). From tokio, call it through
//! `tokio::task::spawn_blocking` with an `Arc<SqliteStore>` (the store is `Send + Sync`), never
//! directly on a runtime worker thread.
//!
//! # Time
//!
//! Nothing here reads the system clock: every operation that needs the time takes `now`.

/// The condition of an item still in its queue (ready, leased or sent) on the state column
/// `$column`, exactly as the `queue_active` index is declared: a query finds the index only
/// if it states the same condition. Written as a two-value `IN` and an equality rather than
/// a three-value `IN`, because SQLite evaluates a constant `IN` list of more than two values
/// through an ephemeral table built anew on each run of the statement, and this condition is
/// evaluated on every insert and update of an item (several times per message).
macro_rules! queued {
    ($column:literal) => {
        concat!(
            "(",
            $column,
            " IN ('ready', 'leased') OR ",
            $column,
            " = 'sent')"
        )
    };
}

mod accept;
mod applier;
mod audit;
mod checkpoint;
mod codec;
mod delivery;
mod error;
mod files;
mod ids;
mod ingest_log;
mod leases;
mod maintenance;
mod operations;
mod queue;
mod read;
mod schema;
mod search;
mod sqlite;
mod types;
mod wal_sync;

use std::time::Duration;

use crate::ack::{DedupeKey, Timestamp};

pub use audit::{AuditEntry, AuditQuery, AuditRecord, AUDIT_IDS_LISTED};
pub use error::{Error, Result};
pub use operations::{Discarded, Edited, QueueItem, QueueStats, QueueView, Reprocessed};
pub use queue::{ClaimRequest, Finish};
pub use schema::Synchronous;
pub use search::{AttemptInfo, ItemDetail, MessageDetail, MessageSummary, SearchQuery, MAX_PAGE};
pub use sqlite::{Options, SqliteStore};
pub use types::{
    Claimed, InboundMessage, ItemId, ItemInfo, ItemState, MessageId, MessageState, Pruned, Receipt,
    Recovery, StoredFingerprint, StoredMessage,
};

/// One destination's copy of a message, for [`Store::route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// The destination's name.
    pub destination: &'a str,
    /// The bytes to deliver to it (after mapping).
    pub payload: &'a [u8],
}

/// One inbound message for [`Store::accept`], with what to do with it.
#[derive(Debug, Clone, Copy)]
pub struct Accept<'a> {
    /// The message and its metadata.
    pub inbound: &'a InboundMessage,
    /// Routed now, in error, or left for routing later.
    pub disposition: Disposition<'a>,
    /// The ACK to keep for verbatim resends, when it is known before the commit.
    pub ack: Option<&'a [u8]>,
    /// An enhanced-mode application ACK to queue for delivery with the message, whatever the
    /// disposition (an `AE` for a message in error is due as much as an `AA`).
    pub application_ack: Option<Delivery<'a>>,
}

/// What [`Store::accept`] does with a new (not verbatim duplicate) message.
#[derive(Debug, Clone, Copy)]
pub enum Disposition<'a> {
    /// Stored [`MessageState::Routed`] with one queue item per delivery (none is allowed: no
    /// route took it).
    Route(&'a [Delivery<'a>]),
    /// Stored [`MessageState::Error`] with this reason (validation or mapping failed).
    Error(&'a str),
    /// Stored [`MessageState::Received`], for [`Store::unrouted`].
    Later,
}

/// What [`Store::accept`] did with one message.
#[derive(Debug)]
#[must_use = "a receipt is what allows the positive ACK"]
pub enum Accepted {
    /// Stored as a new message.
    Stored {
        /// Its receipt.
        receipt: Receipt,
        /// A stored message with the same (MSH-3, MSH-4, MSH-10) and other bytes: a reused
        /// control ID, to raise an alert about.
        reused: Option<MessageId>,
        /// Its queue items, in delivery order.
        items: Vec<ItemId>,
    },
    /// A verbatim resend of a stored message: nothing stored, nothing routed again.
    Verbatim {
        /// The receipt of the stored original (it is durable, so a positive ACK is right).
        receipt: Receipt,
        /// The ACK sent for the original, when one was recorded.
        ack: Option<Vec<u8>>,
    },
}

/// A batch [`Store::write_batch`] committed; [`Store::sync`] hands out its receipts once it
/// is durable.
#[derive(Debug)]
#[must_use = "the batch's receipts come from Store::sync"]
pub struct Written(WrittenBatch);

#[derive(Debug)]
enum WrittenBatch {
    /// Already durable (a store without a separate sync step).
    Durable(Vec<Accepted>),
    /// Written to the ingest log, not yet fsynced.
    Log(accept::Written),
}

impl Written {
    /// A batch that is durable already: [`Store::sync`] only hands these receipts back.
    pub fn durable(accepted: Vec<Accepted>) -> Written {
        Written(WrittenBatch::Durable(accepted))
    }
}

/// The operations an engine needs from its storage. Blocking: see the module documentation for
/// calling it from async code.
pub trait Store: Send + Sync {
    /// Whether a commit survives power loss once it returned. An engine refuses to
    /// acknowledge on a store where it does not, unless told otherwise for a test.
    fn is_durable(&self) -> bool {
        true
    }

    /// Commits one inbound message durably and returns its receipt. The only source of
    /// [`Durable`](crate::ack::Durable) receipts.
    fn ingest(&self, message: &InboundMessage) -> Result<Receipt>;

    /// Commits several messages in one transaction (group commit: one fsync for all). Either
    /// all are stored or none; receipts in input order.
    fn ingest_many(&self, messages: &[InboundMessage]) -> Result<Vec<Receipt>>;

    /// The stored messages with this duplicate key, oldest first, with their fingerprints and
    /// stored ACKs. Empty for a key without MSH-10 (never a duplicate).
    fn find_duplicates(&self, key: &DedupeKey) -> Result<Vec<StoredFingerprint>>;

    /// Records the ACK sent for a message, to re-send it for a verbatim resend.
    fn store_ack(&self, id: MessageId, ack: &[u8]) -> Result<()>;

    /// [`Store::store_ack`] for several messages in one transaction. Not a durability point:
    /// an ACK lost in a crash is rebuilt for the resend from the stored message.
    fn store_acks(&self, acks: &[(MessageId, &[u8])]) -> Result<()>;

    /// The engine's ingest: for each message in order, the duplicate check and, unless it is a
    /// verbatim resend, the ingest with its [`Disposition`], all in one transaction (group
    /// commit: one fsync for the batch). Either all are committed or none; results in input
    /// order. Copies of one resend within the batch are stored once.
    fn accept(&self, batch: &[Accept<'_>], now: Timestamp) -> Result<Vec<Accepted>>;

    /// [`Store::accept`] in two steps, so that a group commit can write the next batch while
    /// the previous ones reach the disk: this commits the batch (in order, visible to
    /// readers) and returns before it is durable; [`Store::sync`] then makes every batch
    /// written so far durable with one fsync and hands out their receipts. By default the
    /// first step is [`Store::accept`] and the second only returns its receipts.
    fn write_batch(&self, batch: &[Accept<'_>], now: Timestamp) -> Result<Written> {
        Ok(Written::durable(self.accept(batch, now)?))
    }

    /// Makes the batches durable and returns their receipts, batch by batch. An error means
    /// the batches are committed but not known to be durable: answer as for a failed store.
    fn sync(&self, batches: Vec<Written>) -> Result<Vec<Vec<Accepted>>> {
        batches
            .into_iter()
            .map(|w| match w.0 {
                WrittenBatch::Durable(accepted) => Ok(accepted),
                WrittenBatch::Log(_) => Err(Error::Corrupt {
                    column: "sync",
                    detail: "a SQLite batch handed to another store".to_owned(),
                }),
            })
            .collect()
    }

    /// Adds one ready queue item per delivery at the tail of its destination's queue and marks
    /// the message [`MessageState::Routed`], in one transaction. No deliveries is allowed (no
    /// route matched). Item ids in input order.
    fn route(
        &self,
        id: MessageId,
        deliveries: &[Delivery<'_>],
        now: Timestamp,
    ) -> Result<Vec<ItemId>>;

    /// [`Store::route`] with one delivery.
    fn enqueue(
        &self,
        id: MessageId,
        destination: &str,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<ItemId> {
        let ids = self.route(
            id,
            &[Delivery {
                destination,
                payload,
            }],
            now,
        )?;
        ids.into_iter().next().ok_or(Error::NoSuchMessage(id))
    }

    /// Puts a message in [`MessageState::Error`] with the reason (validation or mapping
    /// failed); it stays stored for inspection and reprocessing.
    fn message_error(&self, id: MessageId, reason: &str) -> Result<()>;

    /// Up to `limit` messages still [`MessageState::Received`] (stored, not routed), oldest
    /// first.
    fn unrouted(&self, limit: usize) -> Result<Vec<MessageId>>;

    /// Leases the oldest unfinished item of `destination` to `owner` until `now + lease`, when
    /// it is ready (`ready_at <= now`) or its previous lease has expired. `None` when the
    /// queue is empty, its head is leased by a live claim of another owner, or its head waits
    /// for a retry: the items behind it wait too (per-destination order). Items `owner` holds
    /// already are passed over: the next item is claimed for it, so a worker can claim its
    /// next batch while it delivers the one before (at most two batches of its own ahead).
    fn claim(
        &self,
        destination: &str,
        lease: Duration,
        owner: &str,
        now: Timestamp,
    ) -> Result<Option<Claimed>>;

    /// [`Store::claim`] for the head of the queue and up to `max - 1` items right behind it,
    /// each with its own attempt; a worker delivers them in order and gives back the untried
    /// ones with [`Store::release`] when one fails (and everything it claimed after them).
    /// Empty when the head is not claimable. A claim hands out what the database holds: it
    /// waits for messages accepted before the call to be applied only when it would
    /// otherwise be empty, so a batch may stop short of items accepted just before.
    fn claim_batch(
        &self,
        destination: &str,
        max: usize,
        lease: Duration,
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<Claimed>>;

    /// Gives back claims that were never attempted: ready again, their attempts not counted.
    /// Claims no longer held (lease lost) are left alone.
    fn release(&self, claims: &[Claimed]) -> Result<()>;

    /// Several [`Store::complete`], [`Store::fail`] and [`Store::dead_letter`] reports in one
    /// transaction, each with the destination's response. A stale claim among them fails all
    /// ([`Error::LeaseLost`]) and changes nothing.
    fn finish_many(
        &self,
        reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
        now: Timestamp,
    ) -> Result<()>;

    /// A worker's turn in one transaction: its reports ([`Store::finish_many`]), the claims
    /// it gives back untried ([`Store::release`]), then, with `next`, the next batch
    /// ([`Store::claim_batch`]). One commit instead of three, and the claim sees the reports
    /// it follows. A stale claim among the reports fails all ([`Error::LeaseLost`]): nothing
    /// is reported, released or claimed.
    fn report_and_claim(
        &self,
        reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
        untried: &[Claimed],
        next: Option<&ClaimRequest<'_>>,
        now: Timestamp,
    ) -> Result<Vec<Claimed>> {
        self.finish_many(reports, now)?;
        self.release(untried)?;
        match next {
            Some(r) => self.claim_batch(r.destination, r.max, r.lease, r.owner, now),
            None => Ok(Vec::new()),
        }
    }

    /// Records that the claimed item was written to the destination and its ACK is awaited.
    /// [`Error::LeaseLost`] when the claim is stale.
    fn mark_sent(&self, claim: &Claimed, now: Timestamp) -> Result<()>;

    /// The item was delivered: done, with the destination's response recorded.
    /// [`Error::LeaseLost`] (and nothing changed) when the claim is stale.
    fn complete(&self, claim: &Claimed, response: Option<&[u8]>, now: Timestamp) -> Result<()>;

    /// The attempt failed: recorded with its error and response, and the item is ready again at
    /// `retry_at` (the caller's backoff), still at the head of its queue.
    fn fail(
        &self,
        claim: &Claimed,
        error: &str,
        response: Option<&[u8]>,
        retry_at: Timestamp,
        now: Timestamp,
    ) -> Result<()>;

    /// The item is put in the error queue with `reason` ([`ItemState::Error`]); the items behind
    /// it proceed.
    fn dead_letter(
        &self,
        claim: &Claimed,
        reason: &str,
        response: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<()>;

    /// Start-up recovery (RELIABILITY.md T-CRASH-4): every item leased or sent whose lease ended
    /// by `now` is ready again (its attempt recorded as expired), and unrouted messages are
    /// counted. Live leases are left alone.
    fn recover(&self, now: Timestamp) -> Result<Recovery>;

    /// Start-up recovery of a restarted engine's own claims: every item leased or sent by an
    /// owner whose name starts with `owner_prefix` is ready again (its attempt recorded as
    /// expired), however long its lease had left to run. The claims of an engine's previous
    /// process died with it; left to expire, they would hold the head of each destination's
    /// queue, and so the whole queue, for the lease time (RELIABILITY.md T-CRASH-1). Items of
    /// other owners are left alone. Returns how many items were released.
    fn recover_owned(&self, owner_prefix: &str, now: Timestamp) -> Result<u64>;

    /// Reprocesses one message: for each destination it had items for, a new ready item with
    /// the latest item's payload, linked to it (`reprocess_of`). A message that never got
    /// items (routing failed) goes back to [`MessageState::Received`] to be routed again, and
    /// no item is returned.
    fn reprocess(&self, id: MessageId, now: Timestamp) -> Result<Vec<ItemId>>;

    /// Reprocesses every dead-lettered item of `destination` not reprocessed before: a new
    /// ready item each, linked to it, in the original order.
    fn reprocess_errors(&self, destination: &str, now: Timestamp) -> Result<Vec<ItemId>>;

    /// [`Store::reprocess`] for every message received in `from..to`.
    fn reprocess_range(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<ItemId>>;

    /// Retention: deletes messages received before `older_than`, then the oldest messages
    /// until the stored bytes (what the rows take, raw messages compressed) are at most
    /// `max_bytes`. Only finished messages are deleted
    /// (every item done or dead-lettered, or in error): queued work is never pruned.
    fn prune(&self, older_than: Timestamp, max_bytes: Option<u64>) -> Result<Pruned>;

    /// Unfinished items (ready, leased or sent) of `destination`.
    fn queue_depth(&self, destination: &str) -> Result<u64>;

    /// How long the oldest unfinished item of `destination` has been queued, at `now`.
    fn oldest_ready_age(&self, destination: &str, now: Timestamp) -> Result<Option<Duration>>;

    /// A stored message with its state and items; `None` if unknown or pruned.
    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>>;

    // The admin endpoint's browser, operations and audit log.

    /// Messages matching `query`, newest first, one page; the next page is the same query
    /// with [`SearchQuery::before`] set to the last id returned.
    fn search(&self, query: &SearchQuery) -> Result<Vec<MessageSummary>>;

    /// Adds up to `max` stored messages to the full-text index, oldest first; returns how
    /// many (0: up to date). The index is filled off the ingest path: the admin endpoint calls
    /// this every second, in small batches so the store is never held long.
    fn index_text(&self, max: usize) -> Result<usize>;

    /// Everything stored about a message: raw bytes, state and error, ACK, each queue item
    /// with its payload and attempts (with responses), and its edit links. `None` if unknown
    /// or pruned.
    fn message_detail(&self, id: MessageId) -> Result<Option<MessageDetail>>;

    /// [`Store::reprocess`] for several messages, in one transaction.
    fn reprocess_many(&self, ids: &[MessageId], now: Timestamp) -> Result<Vec<ItemId>>;

    /// An operator's edited copy of message `original`: stored as a new message linked to it
    /// (`edited_from`) with `edited`'s disposition (its queue items, or its error), without
    /// the duplicate check; the original's dead-lettered items not reprocessed yet are
    /// discarded (the edit replaces them), and the original itself too when it is in error.
    /// One transaction.
    fn reprocess_edited(
        &self,
        original: MessageId,
        edited: &Accept<'_>,
        now: Timestamp,
    ) -> Result<Edited>;

    /// Reprocesses what failed in `from..to`: every dead-lettered item (of `destination`, or
    /// of every destination) not reprocessed before whose failure falls in the window gets a
    /// new ready item linked to it; without a destination, messages in error received in the
    /// window also go back to [`MessageState::Received`] to be routed again. One transaction.
    fn reprocess_failed(
        &self,
        destination: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> Result<Reprocessed>;

    /// Sets aside a message's items that wait in the queue or are dead-lettered (of
    /// `destination` only, if given): [`ItemState::Discarded`], never delivered. Without a
    /// destination, a message in error or not routed becomes [`MessageState::Discarded`].
    /// Items being delivered are left alone and reported.
    fn discard(
        &self,
        id: MessageId,
        destination: Option<&str>,
        now: Timestamp,
    ) -> Result<Discarded>;

    /// Depth, head age and dead-lettered count of every destination that has queued or
    /// dead-lettered items, by destination name.
    fn queue_stats(&self) -> Result<Vec<QueueStats>>;

    /// A page of `destination`'s queue or error queue, oldest first, after item `after`.
    fn queue_items(
        &self,
        destination: &str,
        view: QueueView,
        after: Option<ItemId>,
        limit: usize,
    ) -> Result<Vec<QueueItem>>;

    /// Appends to the audit log; returns the record's id.
    fn record_audit(&self, entry: &AuditEntry<'_>, now: Timestamp) -> Result<u64>;

    /// A page of the audit log, newest first.
    fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>>;
}
