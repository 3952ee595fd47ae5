//! The values that go in and out of a [`Store`](super::Store).

use std::fmt;

use crate::ack::{Durable, Fingerprint, Timestamp};

/// The id of a stored inbound message. Ids grow with every ingest and are never reused, even
/// after pruning, so an id in a log always names one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

/// The id of one queue item (one message for one destination, or one reprocessing of it).
/// Within a destination, a lower id is delivered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub u64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// An inbound message as received, with the metadata the message browser searches by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The bytes as received, MLLP framing removed. Stored verbatim.
    pub raw: Vec<u8>,
    /// The channel (listener) it arrived on.
    pub channel: String,
    /// When it was received.
    pub received_at: Timestamp,
    /// MSH-9 as written, e.g. `ADT^A01^ADT_A01` (empty when it did not parse).
    pub msg_type: String,
    /// PID-3 (or whatever the channel calls the patient id), when known. PHI: kept in the
    /// store, never logged by it.
    pub patient_id: Option<String>,
    /// Duplicate key (MSH-3, MSH-4, MSH-10) and payload hash. The control ID, sending
    /// application and facility are stored from here.
    pub fingerprint: Fingerprint,
}

/// Proof that a message is committed: its id and the [`Durable`] receipt that lets the engine
/// send a positive ACK.
#[derive(Debug)]
#[must_use = "the receipt is what allows the positive ACK"]
pub struct Receipt {
    /// The stored message's id.
    pub id: MessageId,
    /// The receipt for [`ack::decide`](crate::ack::decide).
    pub durable: Durable,
}

/// A stored message found under a [`DedupeKey`](crate::ack::DedupeKey): what
/// [`Fingerprint::check`] needs, and the ACK to re-send for a verbatim resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFingerprint {
    /// The stored message.
    pub id: MessageId,
    /// Its key and payload hash.
    pub fingerprint: Fingerprint,
    /// The ACK sent for it, if [`Store::store_ack`](super::Store::store_ack) recorded one.
    pub ack: Option<Vec<u8>>,
}

/// Where an inbound message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageState {
    /// Stored, not yet routed: recovery hands it to the router again.
    Received,
    /// Routed: its queue items exist (possibly none, when no route matched).
    Routed,
    /// Failed validation or mapping; the reason is kept.
    Error,
    /// Set aside by an operator (in error or unrouted, it will not be routed); kept for
    /// inspection, with the reason in the audit log.
    Discarded,
}

/// Where a queue item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemState {
    /// Waiting for its turn (and for its `ready_at`, after a failure).
    Ready,
    /// Claimed by a worker until the lease ends.
    Leased,
    /// Written to the destination, awaiting its ACK (still under the lease). Recovery after a
    /// crash here re-sends: at least once, the duplicate carries the same bytes.
    Sent,
    /// Delivered and acknowledged.
    Done,
    /// Dead-lettered with a reason; waits for reprocessing.
    Error,
    /// Set aside by an operator: never delivered, no longer in the queue or the error queue;
    /// the reason is in the audit log.
    Discarded,
}

/// One queue item of a stored message, as the message browser shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    /// The item.
    pub id: ItemId,
    /// Its destination.
    pub destination: String,
    /// Its state.
    pub state: ItemState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last error or dead-letter reason.
    pub last_error: Option<String>,
    /// The item this one reprocesses, if any.
    pub reprocess_of: Option<ItemId>,
}

/// A stored message with its metadata, state, ACK and queue items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its id.
    pub id: MessageId,
    /// The message as ingested.
    pub inbound: InboundMessage,
    /// Where it stands.
    pub state: MessageState,
    /// Why it is in [`MessageState::Error`].
    pub error: Option<String>,
    /// The ACK sent for it.
    pub ack: Option<Vec<u8>>,
    /// Its queue items, oldest first.
    pub items: Vec<ItemInfo>,
}

/// A queue item a worker holds until `lease_until`: deliver `payload`, then report with
/// [`Store::complete`](super::Store::complete), [`fail`](super::Store::fail) or
/// [`dead_letter`](super::Store::dead_letter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The item.
    pub item: ItemId,
    /// The inbound message it came from.
    pub message_id: MessageId,
    /// The destination.
    pub destination: String,
    /// The bytes to deliver.
    pub payload: Vec<u8>,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The worker holding it.
    pub owner: String,
    /// When the lease ends; after that the item may be recovered and claimed again.
    pub lease_until: Timestamp,
    /// The item this one reprocesses, if any.
    pub reprocess_of: Option<ItemId>,
    /// Identifies this claim: a report with a stale token changes nothing.
    pub(crate) token: i64,
}

/// What [`Store::recover`](super::Store::recover) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Items whose lease had expired (leased or sent), made ready again.
    pub leases_released: u64,
    /// Messages still in [`MessageState::Received`]: the engine routes them again
    /// ([`Store::unrouted`](super::Store::unrouted)).
    pub unrouted: u64,
}

/// What [`Store::prune`](super::Store::prune) removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pruned {
    /// Messages deleted, with their queue items and attempts.
    pub messages: u64,
    /// Stored bytes (raw messages plus payloads and ACKs) before.
    pub bytes_before: u64,
    /// Stored bytes after.
    pub bytes_after: u64,
}
