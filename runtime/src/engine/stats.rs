//! The engine's counters and events, read by monitoring (metrics, dashboard, alerts).
//!
//! Counters are atomics updated on the message path; reading them never blocks it. Events
//! that someone must hear about (a reused control ID, a dead-lettered item) go out on a
//! broadcast channel; a slow subscriber loses old events, never slows the engine.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::ack::{AckCode, Timestamp};
use crate::store::{ItemId, MessageId};

/// Upper bounds (milliseconds) of the delivery latency histogram's buckets; the last bucket
/// is everything above.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/// Counters of one channel (listener).
#[derive(Debug, Default)]
pub struct ChannelStats {
    /// Messages received (including duplicates and unreadable ones).
    pub received: AtomicU64,
    /// ACKs sent, by code: AA, AE, AR, CA, CE, CR.
    pub acked: [AtomicU64; 6],
    /// Verbatim resends answered from the store.
    pub duplicates: AtomicU64,
    /// Messages stored with a control ID used before for other bytes.
    pub control_id_reuse: AtomicU64,
    /// Messages stored in the error state (unreadable, invalid, unmapped).
    pub errors: AtomicU64,
    /// Messages that could not be stored (answered `CE`/`AE`/NAK).
    pub store_failures: AtomicU64,
    /// When the last message arrived (Unix ms; 0 = never).
    pub last_received_ms: AtomicU64,
}

impl ChannelStats {
    /// Counts an ACK sent.
    pub fn count_ack(&self, code: AckCode) {
        let i = match code {
            AckCode::AA => 0,
            AckCode::AE => 1,
            AckCode::AR => 2,
            AckCode::CA => 3,
            AckCode::CE => 4,
            AckCode::CR => 5,
        };
        self.acked[i].fetch_add(1, Ordering::Relaxed);
    }

    /// ACKs sent with `code`.
    pub fn acks(&self, code: AckCode) -> u64 {
        let i = match code {
            AckCode::AA => 0,
            AckCode::AE => 1,
            AckCode::AR => 2,
            AckCode::CA => 3,
            AckCode::CE => 4,
            AckCode::CR => 5,
        };
        self.acked[i].load(Ordering::Relaxed)
    }
}

/// Counters and state of one destination.
#[derive(Debug, Default)]
pub struct DestinationStats {
    /// Items delivered and acknowledged.
    pub delivered: AtomicU64,
    /// Delivery attempts that failed (each retry counts).
    pub failed: AtomicU64,
    /// Attempts scheduled again after a failure.
    pub retried: AtomicU64,
    /// Items put in the error queue.
    pub dead_lettered: AtomicU64,
    /// When the current run of failures started (Unix ms; 0 = the last attempt succeeded).
    pub down_since_ms: AtomicU64,
    /// When the last delivery succeeded (Unix ms; 0 = never).
    pub last_delivered_ms: AtomicU64,
    /// Paused by an operator: nothing is claimed until resumed.
    pub paused: AtomicBool,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    latency_sum_us: AtomicU64,
}

impl DestinationStats {
    /// Records one successful delivery's latency (send to accepted ACK).
    pub fn observe_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&le| ms <= le)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The latency histogram: per-bucket counts (not cumulative; the last is above the last
    /// bound) and the sum in microseconds.
    pub fn latency(&self) -> (Vec<u64>, u64) {
        (
            self.latency_buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            self.latency_sum_us.load(Ordering::Relaxed),
        )
    }
}

/// Something that happened which monitoring and alerts must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message reused a stored message's (MSH-3, MSH-4, MSH-10) with other bytes; both
    /// are stored and processed.
    ControlIdReuse {
        /// The channel.
        channel: String,
        /// The new message.
        message: MessageId,
        /// The stored message with the same key.
        previous: MessageId,
        /// MSH-10 (not PHI).
        control_id: String,
    },
    /// An item was put in the error queue.
    DeadLettered {
        /// The destination.
        destination: String,
        /// The item.
        item: ItemId,
        /// Its message.
        message: MessageId,
        /// Why (e.g. `AR` from the destination).
        reason: String,
    },
    /// A delivery failed and will be retried.
    DeliveryFailed {
        /// The destination.
        destination: String,
        /// The item.
        item: ItemId,
        /// The attempt number, from 1.
        attempt: u32,
        /// Why.
        error: String,
        /// When it is tried again.
        retry_at: Timestamp,
    },
    /// A message went to the error state (unreadable, invalid, unmapped).
    MessageError {
        /// The channel.
        channel: String,
        /// The message.
        message: MessageId,
        /// Why, with HL7 locations.
        reason: String,
    },
}
