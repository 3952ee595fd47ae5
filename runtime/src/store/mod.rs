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
//! # Calling from async code
//!
//! The API is synchronous and blocking (it waits for the disk). From tokio, call it through
//! `tokio::task::spawn_blocking` with an `Arc<SqliteStore>` (the store is `Send + Sync`), never
//! directly on a runtime worker thread.
//!
//! # Time
//!
//! Nothing here reads the system clock: every operation that needs the time takes `now`.

mod error;
mod files;
mod maintenance;
mod queue;
mod schema;
mod sqlite;
mod types;

use std::time::Duration;

use crate::ack::{DedupeKey, Timestamp};

pub use error::{Error, Result};
pub use schema::Synchronous;
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

/// The operations an engine needs from its storage. Blocking: see the module documentation for
/// calling it from async code.
pub trait Store: Send + Sync {
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
    /// queue is empty, its head is leased by a live claim, or its head waits for a retry: the
    /// items behind it wait too (per-destination order).
    fn claim(
        &self,
        destination: &str,
        lease: Duration,
        owner: &str,
        now: Timestamp,
    ) -> Result<Option<Claimed>>;

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
    /// until the stored bytes are at most `max_bytes`. Only finished messages are deleted
    /// (every item done or dead-lettered, or in error): queued work is never pruned.
    fn prune(&self, older_than: Timestamp, max_bytes: Option<u64>) -> Result<Pruned>;

    /// Unfinished items (ready, leased or sent) of `destination`.
    fn queue_depth(&self, destination: &str) -> Result<u64>;

    /// How long the oldest unfinished item of `destination` has been queued, at `now`.
    fn oldest_ready_age(&self, destination: &str, now: Timestamp) -> Result<Option<Duration>>;

    /// A stored message with its state and items; `None` if unknown or pruned.
    fn message(&self, id: MessageId) -> Result<Option<StoredMessage>>;
}
