//! Reprocessing (new queue items linked to the originals) and retention (prune by age and
//! size).

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use super::error::{Error, Result};
use super::ids::Ids;
use super::queue::insert_item;
use super::sqlite::{id_i64, id_u64, millis};
use super::{ItemId, MessageId, Pruned};
use crate::ack::Timestamp;

/// A message none of whose items is still queued, and that is not waiting to be routed.
const FINISHED: &str = concat!(
    "m.state <> 'received' AND NOT EXISTS (
    SELECT 1 FROM queue q WHERE q.message_id = m.id AND ",
    queued!("q.state"),
    ")"
);

/// See [`Store::reprocess`](super::Store::reprocess); all messages in one transaction.
pub(super) fn reprocess_messages(
    conn: &mut Connection,
    next: &Ids,
    ids: &[MessageId],
    now: Timestamp,
) -> Result<Vec<ItemId>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut created = Vec::new();
    for &id in ids {
        reprocess_one(&tx, next, id, now, &mut created)?;
    }
    tx.commit()?;
    Ok(created)
}

fn reprocess_one(
    tx: &Transaction<'_>,
    next: &Ids,
    id: MessageId,
    now: Timestamp,
    created: &mut Vec<ItemId>,
) -> Result<()> {
    let mid = id_i64(id.0);
    let latest: Vec<(i64, String, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT q.id, q.destination, q.payload FROM queue q
             WHERE q.message_id = ?1 AND q.id = (
                 SELECT max(p.id) FROM queue p
                 WHERE p.message_id = q.message_id AND p.destination = q.destination)
             ORDER BY q.id",
        )?
        .query_map([mid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let state = if latest.is_empty() {
        "received"
    } else {
        "routed"
    };
    let n = tx
        .prepare_cached("UPDATE messages SET state = ?2, error = NULL WHERE id = ?1")?
        .execute(params![mid, state])?;
    if n == 0 {
        return Err(Error::NoSuchMessage(id));
    }
    for (original, destination, payload) in latest {
        created.push(insert_item(
            tx,
            next,
            mid,
            &destination,
            &payload,
            Some(original),
            now,
        )?);
    }
    Ok(())
}

/// See [`Store::reprocess_errors`](super::Store::reprocess_errors).
pub(super) fn reprocess_errors(
    conn: &mut Connection,
    ids: &Ids,
    destination: &str,
    now: Timestamp,
) -> Result<Vec<ItemId>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let errored: Vec<(i64, i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT q.id, q.message_id, q.payload FROM queue q
             WHERE q.destination = ?1 AND q.state = 'error'
               AND NOT EXISTS (SELECT 1 FROM queue c WHERE c.reprocess_of = q.id)
             ORDER BY q.id",
        )?
        .query_map([destination], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut created = Vec::with_capacity(errored.len());
    for (original, message_id, payload) in errored {
        created.push(insert_item(
            &tx,
            ids,
            message_id,
            destination,
            &payload,
            Some(original),
            now,
        )?);
    }
    tx.commit()?;
    Ok(created)
}

/// See [`Store::reprocess_range`](super::Store::reprocess_range).
pub(super) fn reprocess_range(
    conn: &mut Connection,
    next: &Ids,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> Result<Vec<ItemId>> {
    let ids: Vec<MessageId> = conn
        .prepare_cached(
            "SELECT id FROM messages WHERE received_at >= ?1 AND received_at < ?2 ORDER BY id",
        )?
        .query_map(params![millis(from), millis(to)], |r| r.get::<_, i64>(0))?
        .map(|id| Ok(MessageId(id_u64(id?, "messages.id")?)))
        .collect::<Result<_>>()?;
    reprocess_messages(conn, next, &ids, now)
}

/// Stored bytes: raw messages (as kept: most compressed), ACKs, payloads and responses.
fn stored_bytes(tx: &Transaction<'_>) -> Result<u64> {
    let n: i64 = tx.query_row(
        "SELECT (SELECT coalesce(sum(length(raw) + coalesce(length(ack), 0)), 0) FROM messages)
              + (SELECT coalesce(sum(length(payload)), 0) FROM queue)
              + (SELECT coalesce(sum(length(response)), 0) FROM attempts)",
        [],
        |r| r.get(0),
    )?;
    id_u64(n, "stored bytes")
}

/// See [`Store::prune`](super::Store::prune).
pub(super) fn prune(
    conn: &mut Connection,
    older_than: Timestamp,
    max_bytes: Option<u64>,
) -> Result<Pruned> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let bytes_before = stored_bytes(&tx)?;
    let mut messages = tx.execute(
        &format!("DELETE FROM messages AS m WHERE m.received_at < ?1 AND {FINISHED}"),
        [millis(older_than)],
    )? as u64;
    let mut bytes = stored_bytes(&tx)?;
    if let Some(max) = max_bytes.filter(|&max| bytes > max) {
        let mut victims = Vec::new();
        {
            let mut stmt = tx.prepare(&format!(
                "SELECT m.id, length(m.raw) + coalesce(length(m.ack), 0)
                     + coalesce((SELECT sum(length(q.payload)) FROM queue q
                                 WHERE q.message_id = m.id), 0)
                     + coalesce((SELECT sum(length(a.response)) FROM attempts a
                                 JOIN queue q ON a.item_id = q.id
                                 WHERE q.message_id = m.id), 0)
                 FROM messages m WHERE {FINISHED} ORDER BY m.id"
            ))?;
            let mut rows = stmt.query([])?;
            while bytes > max {
                let Some(row) = rows.next()? else { break };
                let size: i64 = row.get(1)?;
                victims.push(row.get::<_, i64>(0)?);
                bytes = bytes.saturating_sub(id_u64(size, "message size")?);
            }
        }
        let mut delete = tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
        for id in victims {
            messages += delete.execute([id])? as u64;
        }
    }
    let bytes_after = stored_bytes(&tx)?;
    tx.commit()?;
    // Give freed pages back to the file system (auto_vacuum = INCREMENTAL).
    conn.execute_batch("PRAGMA incremental_vacuum;")?;
    Ok(Pruned {
        messages,
        bytes_before,
        bytes_after,
    })
}
