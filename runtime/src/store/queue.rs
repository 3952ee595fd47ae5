//! The per-destination FIFO queue on SQLite: items inserted, and the recovery of leases
//! written by earlier versions of this store (claims and reports are in
//! [`delivery`](super::delivery)).

use std::time::Duration;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::error::Result;
use super::ids::Ids;
use super::sqlite::{id_i64, id_u64, millis};
use super::{ItemId, Recovery};
use crate::ack::Timestamp;

/// Appends a ready item to `destination`'s queue, with the next item id (the caller holds
/// the ingest log's writer; see [`Ids`]). An empty `payload` stands for the raw bytes of
/// message `message_id` (a pass-through copy, not stored twice).
pub(super) fn insert_item(
    tx: &Transaction<'_>,
    ids: &Ids,
    message_id: i64,
    destination: &str,
    payload: &[u8],
    reprocess_of: Option<i64>,
    now: Timestamp,
) -> Result<ItemId> {
    let id = ids.item();
    insert_item_at(
        tx,
        id,
        message_id,
        destination,
        payload,
        reprocess_of,
        millis(now),
    )?;
    Ok(ItemId(id))
}

/// [`insert_item`] with the id given already (an ingest log record's), queued at `now_ms`.
pub(super) fn insert_item_at(
    tx: &Transaction<'_>,
    id: u64,
    message_id: i64,
    destination: &str,
    payload: &[u8],
    reprocess_of: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO queue (id, message_id, destination, payload, state, created_at, ready_at,
             reprocess_of)
         VALUES (?1, ?2, ?3, ?4, 'ready', ?5, ?5, ?6)",
    )?;
    stmt.execute(params![
        id_i64(id),
        message_id,
        destination,
        payload,
        now_ms,
        reprocess_of
    ])?;
    Ok(())
}

/// What a worker claims: see [`Store::claim_batch`](super::Store::claim_batch).
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// The destination whose queue to claim from.
    pub destination: &'a str,
    /// Most items to claim.
    pub max: usize,
    /// How long the claims hold.
    pub lease: Duration,
    /// Who holds them.
    pub owner: &'a str,
}

/// How a claim ends, for [`Store::finish_many`](super::Store::finish_many).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish<'a> {
    /// Delivered.
    Done,
    /// Failed with `error`; ready again at `retry_at`, still at the head of its queue.
    Retry {
        /// Why the attempt failed.
        error: &'a str,
        /// When the item may be claimed again.
        retry_at: Timestamp,
    },
    /// Dead-lettered with `reason`; the items behind it proceed.
    DeadLetter {
        /// Why it will not be retried.
        reason: &'a str,
    },
}

/// See [`Store::recover`](super::Store::recover).
pub(super) fn recover(conn: &mut Connection, now: Timestamp) -> Result<Recovery> {
    let now_ms = millis(now);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE attempts SET finished_at = ?1, outcome = 'lease expired'
         WHERE finished_at IS NULL AND id IN (
             SELECT lease_token FROM queue
             WHERE state IN ('leased', 'sent') AND lease_until <= ?1)",
        [now_ms],
    )?;
    let released = tx.execute(
        "UPDATE queue SET state = 'ready', lease_owner = NULL, lease_until = NULL,
             lease_token = NULL
         WHERE state IN ('leased', 'sent') AND (lease_until IS NULL OR lease_until <= ?1)",
        [now_ms],
    )?;
    let unrouted: i64 = tx.query_row(
        "SELECT count(*) FROM messages WHERE state = 'received'",
        [],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(Recovery {
        leases_released: released as u64,
        unrouted: id_u64(unrouted, "count")?,
    })
}

/// See [`Store::recover_owned`](super::Store::recover_owned).
pub(super) fn recover_owned(
    conn: &mut Connection,
    owner_prefix: &str,
    now: Timestamp,
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE attempts SET finished_at = ?2, outcome = 'lease expired'
         WHERE finished_at IS NULL AND id IN (
             SELECT lease_token FROM queue
             WHERE state IN ('leased', 'sent') AND substr(lease_owner, 1, length(?1)) = ?1)",
        params![owner_prefix, millis(now)],
    )?;
    let released = tx.execute(
        "UPDATE queue SET state = 'ready', lease_owner = NULL, lease_until = NULL,
             lease_token = NULL
         WHERE state IN ('leased', 'sent') AND substr(lease_owner, 1, length(?1)) = ?1",
        [owner_prefix],
    )?;
    tx.commit()?;
    Ok(released as u64)
}
