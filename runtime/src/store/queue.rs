//! The per-destination FIFO queue on SQLite: insert, claim with a lease, report, recover.
//!
//! Order: within a destination, only the head (the lowest id not done or dead-lettered) is
//! ever handed out. While the head is leased by a live claim, or waits for its retry time,
//! nothing behind it is claimable. So at most one item per destination is in flight, and a
//! destination receives its items in id order, however many workers poll it.
//!
//! Claims: each claim opens an attempt row whose id is the claim's token; a report (complete,
//! fail, dead-letter, sent) changes the item only while it still carries that token, so a
//! worker whose lease expired and was taken over changes nothing ([`Error::LeaseLost`]).

use std::time::Duration;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::error::{Error, Result};
use super::sqlite::{id_i64, id_u64, millis, timestamp};
use super::{Claimed, ItemId, MessageId, Recovery};
use crate::ack::Timestamp;

/// Appends a ready item to `destination`'s queue. An empty `payload` stands for the raw
/// bytes of message `message_id` (a pass-through copy, not stored twice).
pub(super) fn insert_item(
    tx: &Transaction<'_>,
    message_id: i64,
    destination: &str,
    payload: &[u8],
    reprocess_of: Option<i64>,
    now: Timestamp,
) -> Result<ItemId> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO queue (message_id, destination, payload, state, created_at, ready_at,
             reprocess_of)
         VALUES (?1, ?2, ?3, 'ready', ?4, ?4, ?5)",
    )?;
    stmt.execute(params![
        message_id,
        destination,
        payload,
        millis(now),
        reprocess_of
    ])?;
    Ok(ItemId(id_u64(tx.last_insert_rowid(), "queue.id")?))
}

/// An unfinished item of a destination's queue, as a claim sees it.
struct Candidate {
    id: i64,
    state: String,
    ready_at: i64,
    lease_until: Option<i64>,
    lease_token: Option<i64>,
    attempts: i64,
    message_id: i64,
    reprocess_of: Option<i64>,
    payload: Vec<u8>,
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

/// See [`Store::claim_batch`](super::Store::claim_batch): the head of the queue and the items
/// right behind it, up to `max`, each leased with an attempt of its own.
pub(super) fn claim_batch(
    conn: &mut Connection,
    request: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<Vec<Claimed>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let claimed = claim_in(&tx, request, now)?;
    tx.commit()?;
    Ok(claimed)
}

/// See [`Store::report_and_claim`](super::Store::report_and_claim): a worker's reports, the
/// claims it gives back, and its next batch, in one transaction.
pub(super) fn report_and_claim(
    conn: &mut Connection,
    reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
    untried: &[Claimed],
    next: Option<&ClaimRequest<'_>>,
    now: Timestamp,
) -> Result<Vec<Claimed>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (claim, how, response) in reports {
        finish_in(&tx, claim, *how, *response, now)?;
    }
    release_in(&tx, untried)?;
    let claimed = match next {
        Some(request) => claim_in(&tx, request, now)?,
        None => Vec::new(),
    };
    tx.commit()?;
    Ok(claimed)
}

fn claim_in(
    tx: &Transaction<'_>,
    request: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<Vec<Claimed>> {
    let ClaimRequest {
        destination,
        max,
        lease,
        owner,
    } = *request;
    let candidates = {
        // The payload comes with the candidate: an empty one stands for the message's raw
        // bytes (a pass-through copy, stored once; see `accept`).
        let mut stmt = tx.prepare_cached(concat!(
            "SELECT q.id, q.state, q.ready_at, q.lease_until, q.lease_token, q.attempts,
                 q.message_id, q.reprocess_of,
                 CASE WHEN length(q.payload) = 0 THEN m.raw ELSE q.payload END
             FROM queue q JOIN messages m ON m.id = q.message_id
             WHERE q.destination = ?1 AND ",
            queued!("q.state"),
            " ORDER BY q.id LIMIT ?2"
        ))?;
        let limit = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![destination, limit], |r| {
            Ok(Candidate {
                id: r.get(0)?,
                state: r.get(1)?,
                ready_at: r.get(2)?,
                lease_until: r.get(3)?,
                lease_token: r.get(4)?,
                attempts: r.get(5)?,
                message_id: r.get(6)?,
                reprocess_of: r.get(7)?,
                payload: r.get(8)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let now_ms = millis(now);
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let lease_until = now_ms.saturating_add(lease_ms);
    let mut claimed = Vec::new();
    for c in candidates {
        // The first item that is not claimable stops the run: what is behind it waits
        // (per-destination order).
        if c.state == "ready" {
            if c.ready_at > now_ms {
                break;
            }
        } else {
            if c.lease_until.unwrap_or(i64::MIN) > now_ms {
                break;
            }
            // The previous holder's lease ended without a report: its attempt expired.
            expire_attempt(tx, c.lease_token, now_ms)?;
        }
        let attempt = c.attempts.saturating_add(1);
        tx.prepare_cached(
            "INSERT INTO attempts (item_id, attempt, owner, started_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![c.id, attempt, owner, now_ms])?;
        let token = tx.last_insert_rowid();
        tx.prepare_cached(
            "UPDATE queue SET state = 'leased', lease_owner = ?2, lease_until = ?3,
                 lease_token = ?4, attempts = ?5
             WHERE id = ?1",
        )?
        .execute(params![c.id, owner, lease_until, token, attempt])?;
        claimed.push(Claimed {
            item: ItemId(id_u64(c.id, "queue.id")?),
            message_id: MessageId(id_u64(c.message_id, "queue.message_id")?),
            destination: destination.to_owned(),
            payload: c.payload,
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            owner: owner.to_owned(),
            lease_until: timestamp(lease_until),
            reprocess_of: c
                .reprocess_of
                .map(|p| id_u64(p, "queue.reprocess_of").map(ItemId))
                .transpose()?,
            token,
        });
    }
    Ok(claimed)
}

/// See [`Store::release`](super::Store::release): claims given back untried, as if never made.
pub(super) fn release(conn: &mut Connection, claims: &[Claimed]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    release_in(&tx, claims)?;
    tx.commit()?;
    Ok(())
}

fn release_in(tx: &Transaction<'_>, claims: &[Claimed]) -> Result<()> {
    for claim in claims {
        let n = tx
            .prepare_cached(
                "UPDATE queue SET state = 'ready', lease_owner = NULL, lease_until = NULL,
                     lease_token = NULL, attempts = attempts - 1
                 WHERE id = ?1 AND lease_token = ?2 AND state = 'leased'",
            )?
            .execute(params![id_i64(claim.item.0), claim.token])?;
        if n == 1 {
            tx.prepare_cached("DELETE FROM attempts WHERE id = ?1")?
                .execute([claim.token])?;
        }
    }
    Ok(())
}

fn expire_attempt(tx: &Transaction<'_>, token: Option<i64>, now_ms: i64) -> Result<()> {
    if let Some(token) = token {
        tx.prepare_cached(
            "UPDATE attempts SET finished_at = ?2, outcome = 'lease expired'
             WHERE id = ?1 AND finished_at IS NULL",
        )?
        .execute(params![token, now_ms])?;
    }
    Ok(())
}

/// See [`Store::mark_sent`](super::Store::mark_sent).
pub(super) fn mark_sent(conn: &mut Connection, claim: &Claimed, now: Timestamp) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx
        .prepare_cached(
            "UPDATE queue SET state = 'sent'
             WHERE id = ?1 AND lease_token = ?2 AND state IN ('leased', 'sent')",
        )?
        .execute(params![id_i64(claim.item.0), claim.token])?;
    if n == 0 {
        return Err(Error::LeaseLost(claim.item));
    }
    tx.prepare_cached("UPDATE attempts SET sent_at = ?2 WHERE id = ?1")?
        .execute(params![claim.token, millis(now)])?;
    tx.commit()?;
    Ok(())
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

/// See [`Store::complete`](super::Store::complete), [`fail`](super::Store::fail) and
/// [`dead_letter`](super::Store::dead_letter).
pub(super) fn finish(
    conn: &mut Connection,
    claim: &Claimed,
    how: Finish<'_>,
    response: Option<&[u8]>,
    now: Timestamp,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    finish_in(&tx, claim, how, response, now)?;
    tx.commit()?;
    Ok(())
}

/// See [`Store::finish_many`](super::Store::finish_many): several reports, one transaction.
/// A stale claim among them fails the whole batch ([`Error::LeaseLost`]), changing nothing.
pub(super) fn finish_many(
    conn: &mut Connection,
    reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
    now: Timestamp,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (claim, how, response) in reports {
        finish_in(&tx, claim, *how, *response, now)?;
    }
    tx.commit()?;
    Ok(())
}

fn finish_in(
    tx: &Transaction<'_>,
    claim: &Claimed,
    how: Finish<'_>,
    response: Option<&[u8]>,
    now: Timestamp,
) -> Result<()> {
    let now_ms = millis(now);
    let (state, ready_at, error, finished_at, outcome) = match how {
        Finish::Done => ("done", None, None, Some(now_ms), "done"),
        Finish::Retry { error, retry_at } => {
            ("ready", Some(millis(retry_at)), Some(error), None, "failed")
        }
        Finish::DeadLetter { reason } => ("error", None, Some(reason), Some(now_ms), "dead letter"),
    };
    let n = tx
        .prepare_cached(
            "UPDATE queue SET state = ?3, ready_at = coalesce(?4, ready_at),
                 last_error = coalesce(?5, last_error), finished_at = ?6,
                 lease_owner = NULL, lease_until = NULL, lease_token = NULL
             WHERE id = ?1 AND lease_token = ?2 AND state IN ('leased', 'sent')",
        )?
        .execute(params![
            id_i64(claim.item.0),
            claim.token,
            state,
            ready_at,
            error,
            finished_at
        ])?;
    if n == 0 {
        return Err(Error::LeaseLost(claim.item));
    }
    tx.prepare_cached(
        "UPDATE attempts SET finished_at = ?2, outcome = ?3, error = ?4, response = ?5
         WHERE id = ?1",
    )?
    .execute(params![claim.token, now_ms, outcome, error, response])?;
    Ok(())
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
