//! An operator's actions on the store (discard, reprocess with an edited body, reprocess the
//! failures of a time window) and the queue figures monitoring reads.

use std::collections::HashSet;
use std::fmt::Write as _;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::{Error, Result};
use super::ids::Ids;
use super::queue::insert_item;
use super::sqlite::{id_i64, id_u64, millis, timestamp};
use super::{Accept, ItemId, ItemState, MessageId, MessageState};
use crate::ack::Timestamp;

/// What [`Store::discard`](super::Store::discard) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    /// Items set aside (they were waiting in the queue or dead-lettered).
    pub items: Vec<ItemId>,
    /// Items being delivered right now, left alone (pause the destination, then discard).
    pub in_flight: Vec<ItemId>,
    /// The message's state afterwards.
    pub state: MessageState,
}

/// What [`Store::reprocess_failed`](super::Store::reprocess_failed) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reprocessed {
    /// New queue items, each linked to the dead-lettered item it repeats.
    pub items: Vec<ItemId>,
    /// The messages of those items, lowest id first.
    pub item_messages: Vec<MessageId>,
    /// Messages put back to [`MessageState::Received`], for the engine to route again.
    pub messages: Vec<MessageId>,
}

/// What [`Store::reprocess_edited`](super::Store::reprocess_edited) stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new message.
    pub id: MessageId,
    /// Its queue items.
    pub items: Vec<ItemId>,
    /// The original's dead-lettered items now discarded (the edit replaces them).
    pub superseded: Vec<ItemId>,
}

/// One destination's queue, as monitoring reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// The destination.
    pub destination: String,
    /// Unfinished items (ready, leased, sent).
    pub depth: u64,
    /// When the head of the queue (its oldest unfinished item) was queued.
    pub oldest_queued_at: Option<Timestamp>,
    /// Dead-lettered items not reprocessed yet.
    pub errors: u64,
}

/// Which items [`Store::queue_items`](super::Store::queue_items) lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueView {
    /// Unfinished items, head of the queue first.
    Queued,
    /// Dead-lettered items not reprocessed yet, oldest first.
    Errors,
}

/// One item of a destination's queue, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    /// The item.
    pub id: ItemId,
    /// Its message.
    pub message_id: MessageId,
    /// Its state.
    pub state: ItemState,
    /// Attempts so far.
    pub attempts: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it may be claimed (after a failure: the retry time).
    pub ready_at: Timestamp,
    /// The item it reprocesses.
    pub reprocess_of: Option<ItemId>,
}

/// See [`Store::discard`](super::Store::discard).
pub(super) fn discard(
    conn: &mut Connection,
    id: MessageId,
    destination: Option<&str>,
    leased: &HashSet<ItemId>,
    now: Timestamp,
) -> Result<Discarded> {
    let mid = id_i64(id.0);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM messages WHERE id = ?1")?
        .query_row([mid], |r| r.get(0))
        .optional()?;
    let Some(state) = state else {
        return Err(Error::NoSuchMessage(id));
    };
    let mut state = MessageState::parse(&state)?;
    let mut items = Vec::new();
    let mut in_flight = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, state FROM queue
             WHERE message_id = ?1 AND (?2 IS NULL OR destination = ?2)
               AND state IN ('ready', 'leased', 'sent', 'error')
             ORDER BY id",
        )?;
        let mut rows = stmt.query(params![mid, destination])?;
        while let Some(r) = rows.next()? {
            let item = ItemId(id_u64(r.get(0)?, "queue.id")?);
            match r.get_ref(1)?.as_str().unwrap_or_default() {
                "leased" | "sent" => in_flight.push(item),
                _ if leased.contains(&item) => in_flight.push(item),
                _ => items.push(item),
            }
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE queue SET state = 'discarded', finished_at = ?2
             WHERE id = ?1 AND state IN ('ready', 'error')",
        )?;
        for item in &items {
            stmt.execute(params![id_i64(item.0), millis(now)])?;
        }
    }
    if destination.is_none() && matches!(state, MessageState::Error | MessageState::Received) {
        tx.prepare_cached("UPDATE messages SET state = 'discarded' WHERE id = ?1")?
            .execute([mid])?;
        state = MessageState::Discarded;
    }
    tx.commit()?;
    Ok(Discarded {
        items,
        in_flight,
        state,
    })
}

/// See [`Store::reprocess_edited`](super::Store::reprocess_edited).
pub(super) fn reprocess_edited(
    conn: &mut Connection,
    ids: &Ids,
    original: MessageId,
    edited: &Accept<'_>,
    now: Timestamp,
) -> Result<Edited> {
    let oid = id_i64(original.0);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists: Option<i64> = tx
        .prepare_cached("SELECT id FROM messages WHERE id = ?1")?
        .query_row([oid], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Err(Error::NoSuchMessage(original));
    }
    let (id, items) = super::accept::insert_new(&tx, ids, edited, Some(oid), now)?;
    // The edit replaces the original's failures: they must not be sent by a later bulk
    // reprocess of the error queue.
    let superseded = tx
        .prepare_cached(
            "UPDATE queue SET state = 'discarded', finished_at = ?2
             WHERE message_id = ?1 AND state = 'error'
               AND NOT EXISTS (SELECT 1 FROM queue c WHERE c.reprocess_of = queue.id)
             RETURNING id",
        )?
        .query_map(params![oid, millis(now)], |r| r.get::<_, i64>(0))?
        .map(|id| Ok(ItemId(id_u64(id?, "queue.id")?)))
        .collect::<Result<Vec<_>>>()?;
    tx.prepare_cached(
        "UPDATE messages SET state = 'discarded' WHERE id = ?1 AND state IN ('error', 'received')",
    )?
    .execute([oid])?;
    tx.commit()?;
    Ok(Edited {
        id: MessageId(id_u64(id, "messages.id")?),
        items,
        superseded,
    })
}

/// See [`Store::reprocess_failed`](super::Store::reprocess_failed).
pub(super) fn reprocess_failed(
    conn: &mut Connection,
    ids: &Ids,
    destination: Option<&str>,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Reprocessed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let failed: Vec<(i64, i64, String, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT q.id, q.message_id, q.destination, q.payload FROM queue q
             WHERE q.state = 'error' AND (?1 IS NULL OR q.destination = ?1)
               AND coalesce(q.finished_at, q.created_at) >= ?2
               AND coalesce(q.finished_at, q.created_at) < ?3
               AND NOT EXISTS (SELECT 1 FROM queue c WHERE c.reprocess_of = q.id)
             ORDER BY q.id",
        )?
        .query_map(params![destination, millis(from), millis(to)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut done = Reprocessed::default();
    for (original, message_id, destination, payload) in failed {
        done.item_messages
            .push(MessageId(id_u64(message_id, "queue.message_id")?));
        done.items.push(insert_item(
            &tx,
            ids,
            message_id,
            &destination,
            &payload,
            Some(original),
            now,
        )?);
    }
    done.item_messages.sort();
    done.item_messages.dedup();
    if destination.is_none() {
        done.messages = tx
            .prepare_cached(
                "UPDATE messages SET state = 'received', error = NULL
                 WHERE state = 'error' AND received_at >= ?1 AND received_at < ?2
                 RETURNING id",
            )?
            .query_map(params![millis(from), millis(to)], |r| r.get::<_, i64>(0))?
            .map(|id| Ok(MessageId(id_u64(id?, "messages.id")?)))
            .collect::<Result<Vec<_>>>()?;
        done.messages.sort();
    }
    tx.commit()?;
    Ok(done)
}

/// See [`Store::queue_stats`](super::Store::queue_stats).
pub(super) fn queue_stats(conn: &Connection) -> Result<Vec<QueueStats>> {
    let mut stats: Vec<QueueStats> = Vec::new();
    let mut heads = Vec::new();
    {
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT destination, count(*), min(id) FROM queue WHERE ",
            queued!("state"),
            " GROUP BY destination"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            stats.push(QueueStats {
                destination: r.get(0)?,
                depth: id_u64(r.get(1)?, "count")?,
                oldest_queued_at: None,
                errors: 0,
            });
            heads.push(r.get::<_, i64>(2)?);
        }
    }
    {
        let mut stmt = conn.prepare_cached("SELECT created_at FROM queue WHERE id = ?1")?;
        for (s, head) in stats.iter_mut().zip(heads) {
            s.oldest_queued_at = stmt
                .query_row([head], |r| r.get::<_, i64>(0))
                .optional()?
                .map(timestamp);
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT q.destination, count(*) FROM queue q
         WHERE q.state = 'error'
           AND NOT EXISTS (SELECT 1 FROM queue c WHERE c.reprocess_of = q.id)
         GROUP BY q.destination",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let destination: String = r.get(0)?;
        let errors = id_u64(r.get(1)?, "count")?;
        match stats.iter_mut().find(|s| s.destination == destination) {
            Some(s) => s.errors = errors,
            None => stats.push(QueueStats {
                destination,
                depth: 0,
                oldest_queued_at: None,
                errors,
            }),
        }
    }
    stats.sort_by(|a, b| a.destination.cmp(&b.destination));
    Ok(stats)
}

/// See [`Store::queue_items`](super::Store::queue_items).
pub(super) fn queue_items(
    conn: &Connection,
    destination: &str,
    view: QueueView,
    after: Option<ItemId>,
    limit: usize,
) -> Result<Vec<QueueItem>> {
    let mut sql = String::from(
        "SELECT q.id, q.message_id, q.state, q.attempts, q.last_error, q.created_at, q.ready_at,
                q.reprocess_of
         FROM queue q WHERE q.destination = ?1 AND q.id > ?2 AND ",
    );
    sql.push_str(match view {
        QueueView::Queued => queued!("q.state"),
        QueueView::Errors => {
            "q.state = 'error' AND NOT EXISTS (SELECT 1 FROM queue c WHERE c.reprocess_of = q.id)"
        }
    });
    let limit = limit.clamp(1, super::search::MAX_PAGE);
    let _ = write!(sql, " ORDER BY q.id LIMIT {limit}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let after = after.map_or(0, |a| id_i64(a.0));
    let mut rows = stmt.query(params![destination, after])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        items.push(QueueItem {
            id: ItemId(id_u64(r.get(0)?, "queue.id")?),
            message_id: MessageId(id_u64(r.get(1)?, "queue.message_id")?),
            state: ItemState::parse(r.get_ref(2)?.as_str().unwrap_or_default())?,
            attempts: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
            last_error: r.get(4)?,
            created_at: timestamp(r.get(5)?),
            ready_at: timestamp(r.get(6)?),
            reprocess_of: r
                .get::<_, Option<i64>>(7)?
                .map(|p| id_u64(p, "queue.reprocess_of").map(ItemId))
                .transpose()?,
        });
    }
    Ok(items)
}
