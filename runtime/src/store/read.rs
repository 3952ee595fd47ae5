//! Reading stored messages and queue figures: the read side of [`SqliteStore`](super::SqliteStore).

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::codec::unpack;
use super::error::{Error, Result};
use super::sqlite::{id_i64, id_u64, timestamp};
use super::{
    InboundMessage, ItemId, ItemInfo, ItemState, MessageId, MessageState, StoredFingerprint,
    StoredMessage,
};
use crate::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};

/// The stored messages with this dedupe key, oldest first.
pub(super) fn duplicates(conn: &Connection, key: &DedupeKey) -> Result<Vec<StoredFingerprint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, payload_hash, ack FROM messages
         WHERE control_id = ?1 AND sending_app = ?2 AND sending_facility = ?3
         ORDER BY id",
    )?;
    let rows = stmt.query_map(
        params![
            key.control_id,
            key.sending_application,
            key.sending_facility
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
            ))
        },
    )?;
    let mut found = Vec::new();
    for row in rows {
        let (id, h, ack) = row?;
        found.push(StoredFingerprint {
            id: MessageId(id_u64(id, "messages.id")?),
            fingerprint: Fingerprint {
                key: key.clone(),
                hash: hash(h)?,
            },
            ack,
        });
    }
    Ok(found)
}

/// A stored message with its queue items.
pub(super) fn message(conn: &Connection, id: MessageId) -> Result<Option<StoredMessage>> {
    let row = conn
        .query_row(
            "SELECT channel, received_at, msg_type, patient_id, sending_app,
                    sending_facility, control_id, payload_hash, raw, state, error, ack,
                    raw_codec
             FROM messages WHERE id = ?1",
            [id_i64(id.0)],
            |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ),
                    (
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Vec<u8>>(7)?,
                    ),
                    (
                        r.get::<_, Vec<u8>>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, Option<String>>(10)?,
                        r.get::<_, Option<Vec<u8>>>(11)?,
                        r.get::<_, i64>(12)?,
                    ),
                ))
            },
        )
        .optional()?;
    let Some((
        (channel, received_at, msg_type, patient_id),
        (sending_application, sending_facility, control_id, h),
        (raw, state, error, ack, raw_codec),
    )) = row
    else {
        return Ok(None);
    };
    let raw = unpack(raw_codec, raw)?;
    let items = items_of(conn, id_i64(id.0))?;
    Ok(Some(StoredMessage {
        id,
        inbound: InboundMessage {
            raw,
            channel,
            received_at: timestamp(received_at),
            msg_type,
            patient_id,
            fingerprint: Fingerprint {
                key: DedupeKey {
                    sending_application,
                    sending_facility,
                    control_id,
                },
                hash: hash(h)?,
            },
        },
        state: MessageState::parse(&state)?,
        error,
        ack,
        items,
    }))
}

/// The queue items of message row `id`, in order.
pub(super) fn items_of(conn: &Connection, id: i64) -> Result<Vec<ItemInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, destination, state, attempts, last_error, reprocess_of
         FROM queue WHERE message_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut items = Vec::new();
    for row in rows {
        let (id, destination, state, attempts, last_error, reprocess_of) = row?;
        items.push(ItemInfo {
            id: ItemId(id_u64(id, "queue.id")?),
            destination,
            state: ItemState::parse(&state)?,
            attempts: u32::try_from(attempts).map_err(|_| Error::Corrupt {
                column: "queue.attempts",
                detail: format!("{attempts}"),
            })?,
            last_error,
            reprocess_of: reprocess_of
                .map(|p| id_u64(p, "queue.reprocess_of").map(ItemId))
                .transpose()?,
        });
    }
    Ok(items)
}

/// Items of `destination` not finished yet.
pub(super) fn queue_depth(conn: &Connection, destination: &str) -> Result<u64> {
    let n: i64 = conn.query_row(
        concat!(
            "SELECT count(*) FROM queue WHERE destination = ?1 AND ",
            queued!("state")
        ),
        [destination],
        |r| r.get(0),
    )?;
    id_u64(n, "count")
}

/// How long the head of `destination`'s queue has waited.
pub(super) fn oldest_ready_age(
    conn: &Connection,
    destination: &str,
    now: Timestamp,
) -> Result<Option<Duration>> {
    let oldest: Option<i64> = conn
        .query_row(
            concat!(
                "SELECT created_at FROM queue WHERE destination = ?1 AND ",
                queued!("state"),
                " ORDER BY id LIMIT 1"
            ),
            [destination],
            |r| r.get(0),
        )
        .optional()?;
    Ok(oldest.map(|created| {
        Duration::from_millis(
            now.unix_millis()
                .saturating_sub(timestamp(created).unix_millis()),
        )
    }))
}

fn hash(bytes: Vec<u8>) -> Result<PayloadHash> {
    let len = bytes.len();
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| Error::Corrupt {
        column: "messages.payload_hash",
        detail: format!("{len} bytes, expected 32"),
    })?;
    Ok(PayloadHash::from_bytes(bytes))
}
