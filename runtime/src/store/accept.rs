//! [`Store::write_batch`](super::Store::write_batch) on SQLite: the duplicate check and the
//! ingest of a batch of inbound messages as one record of the ingest log, and the application
//! of such records to the database.
//!
//! A batch is one record, so a crash leaves each batch either wholly stored, every message
//! with its queue items, or not stored at all.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::applier::{Applier, PendingMessage};
use super::codec;
use super::error::{Error, Result};
use super::ids::Ids;
use super::ingest_log::record::{self, Assigned, Format, Logged, LoggedDisposition, RecordBuf};
use super::ingest_log::LogWriter;
use super::sqlite::{id_i64, id_u64, millis};
use super::{Accept, Accepted, Disposition, ItemId, MessageId, Receipt};
use crate::ack::{DedupeKey, Durable, Timestamp};

/// What the duplicate check reads: the database (through a connection of its own, so it
/// never waits for the applier) and the messages not applied yet.
pub(super) struct Seen<'a> {
    pub(super) reader: &'a Connection,
    pub(super) applier: &'a Applier,
}

/// See [`Store::write_batch`](super::Store::write_batch): the batch's new messages written to
/// the log as one record, not yet durable.
pub(super) fn write(
    writer: &mut LogWriter<'_>,
    seen: &Seen<'_>,
    ids: &Ids,
    batch: &[Accept<'_>],
    now: Timestamp,
) -> Result<Written> {
    let mut record = RecordBuf::new(now);
    let mut results = Vec::with_capacity(batch.len());
    // This batch's own messages, for a resend within it.
    let mut fresh: Vec<(DedupeKey, PendingMessage)> = Vec::new();
    let mut items = Vec::new();
    for one in batch {
        let fingerprint = &one.inbound.fingerprint;
        let mut reused = None;
        if fingerprint.key.is_usable() {
            let earlier = fresh
                .iter()
                .filter(|(key, _)| *key == fingerprint.key)
                .map(|(_, m)| m.clone());
            match previous(seen, &fingerprint.key, fingerprint.hash, earlier)? {
                Previous::Verbatim { id, ack } => {
                    results.push(Pending::Verbatim { id, ack });
                    crate::failpoint::hit("mid_batch_commit");
                    continue;
                }
                Previous::Other(id) => reused = Some(MessageId(id)),
                Previous::None => {}
            }
        }
        let id = ids.message();
        items.clear();
        let count = match one.disposition {
            Disposition::Route(deliveries) => deliveries.len(),
            Disposition::Error(_) | Disposition::Later => 0,
        } + usize::from(one.application_ack.is_some());
        items.extend((0..count).map(|_| ids.item()));
        record.push(
            one,
            &Assigned {
                message: id,
                items: &items,
            },
        );
        fresh.push((
            fingerprint.key.clone(),
            PendingMessage {
                id,
                hash: fingerprint.hash,
                ack: one.ack.map(<[u8]>::to_vec),
            },
        ));
        results.push(Pending::Stored {
            id,
            reused,
            items: items.iter().map(|&i| ItemId(i)).collect(),
        });
        crate::failpoint::hit("mid_batch_commit");
    }
    if !record.is_empty() {
        let seq = writer.next_seq();
        let sealed = record.seal(seq);
        writer.append(&sealed)?;
        seen.applier.queue(seq, sealed, fresh);
    }
    Ok(Written { pending: results })
}

enum Previous {
    None,
    Verbatim {
        id: u64,
        ack: Option<Vec<u8>>,
    },
    /// The oldest message with the key, whose bytes differ.
    Other(u64),
}

/// What is stored under `key`: a message with these very bytes, else the oldest one with other
/// bytes. The pending messages are looked at before the database: a message leaves them only
/// once its transaction committed, so it is always found in one or the other.
fn previous(
    seen: &Seen<'_>,
    key: &DedupeKey,
    hash: crate::ack::PayloadHash,
    earlier: impl Iterator<Item = PendingMessage>,
) -> Result<Previous> {
    let mut pending = seen.applier.pending(key);
    pending.extend(earlier);
    let stored = seen
        .reader
        .prepare_cached(
            "SELECT id, payload_hash = ?4, ack FROM messages
             WHERE control_id = ?1 AND sending_app = ?2 AND sending_facility = ?3
             ORDER BY payload_hash = ?4 DESC, id LIMIT 1",
        )?
        .query_row(
            params![
                key.control_id,
                key.sending_application,
                key.sending_facility,
                &hash.as_bytes()[..],
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                ))
            },
        )
        .optional()?;
    if let Some((id, true, ack)) = stored {
        return Ok(Previous::Verbatim {
            id: id_u64(id, "messages.id")?,
            ack,
        });
    }
    if let Some(m) = pending.iter().find(|m| m.hash == hash) {
        return Ok(Previous::Verbatim {
            id: m.id,
            ack: m.ack.clone(),
        });
    }
    Ok(match stored {
        Some((id, _, _)) => Previous::Other(id_u64(id, "messages.id")?),
        None => match pending.iter().map(|m| m.id).min() {
            Some(id) => Previous::Other(id),
            None => Previous::None,
        },
    })
}

/// A written batch whose receipts are not handed out yet.
#[derive(Debug)]
pub(super) struct Written {
    pending: Vec<Pending>,
}

impl Written {
    /// The receipts. **Only once the batch is durable**: that is what a receipt says.
    pub(super) fn into_receipts(self) -> Result<Vec<Accepted>> {
        self.pending
            .into_iter()
            .map(|p| {
                Ok(match p {
                    Pending::Stored { id, reused, items } => Accepted::Stored {
                        receipt: receipt(id),
                        reused,
                        items,
                    },
                    Pending::Verbatim { id, ack } => Accepted::Verbatim {
                        receipt: receipt(id),
                        ack,
                    },
                })
            })
            .collect()
    }
}

#[derive(Debug)]
enum Pending {
    Stored {
        id: u64,
        reused: Option<MessageId>,
        items: Vec<ItemId>,
    },
    Verbatim {
        id: u64,
        ack: Option<Vec<u8>>,
    },
}

fn receipt(id: u64) -> Receipt {
    Receipt {
        id: MessageId(id),
        durable: Durable::committed(id),
    }
}

/// Inserts the messages of one ingest log record (its body) with the ids they were given.
pub(super) fn apply(tx: &Transaction<'_>, format: Format, body: &[u8]) -> Result<()> {
    let corrupt = |detail: &str| Error::Corrupt {
        column: "ingest log",
        detail: detail.to_owned(),
    };
    let (now, messages) = record::messages(format, body).map_err(corrupt)?;
    for m in &messages {
        insert(tx, m, None, now)?;
    }
    Ok(())
}

/// Inserts a new message (`edited_from`: the message it is an edited copy of) and its queue
/// items, with ids from `ids` (the caller holds the ingest log's writer); returns its row id
/// and the items. The same rows as the message's ingest log record would give.
pub(super) fn insert_new(
    tx: &Transaction<'_>,
    ids: &Ids,
    one: &Accept<'_>,
    edited_from: Option<i64>,
    now: Timestamp,
) -> Result<(i64, Vec<ItemId>)> {
    let m = one.inbound;
    let key = &m.fingerprint.key;
    let (disposition, deliveries): (_, &[_]) = match one.disposition {
        Disposition::Route(deliveries) => (LoggedDisposition::Route, deliveries),
        Disposition::Error(reason) => (LoggedDisposition::Error(reason), &[]),
        Disposition::Later => (LoggedDisposition::Later, &[]),
    };
    let id = ids.message();
    let packed = codec::pack(&m.raw);
    let items = deliveries
        .iter()
        .chain(&one.application_ack)
        .map(|d| {
            let payload = record::stored_payload(d.payload, &m.raw);
            (ids.item(), d.destination, payload)
        })
        .collect();
    let logged = Logged {
        id,
        received_at: m.received_at,
        channel: &m.channel,
        msg_type: &m.msg_type,
        patient_id: m.patient_id.as_deref(),
        sending_application: &key.sending_application,
        sending_facility: &key.sending_facility,
        control_id: &key.control_id,
        hash: m.fingerprint.hash,
        raw: &packed.bytes,
        raw_codec: packed.codec,
        disposition,
        ack: one.ack,
        items,
    };
    insert(tx, &logged, edited_from, now)?;
    let items = logged
        .items
        .iter()
        .map(|&(item, _, _)| ItemId(item))
        .collect();
    Ok((id_i64(id), items))
}

/// One message's row and its queue items' rows, queued at `now`.
fn insert(
    tx: &Transaction<'_>,
    m: &Logged<'_>,
    edited_from: Option<i64>,
    now: Timestamp,
) -> Result<()> {
    let (state, error) = match m.disposition {
        LoggedDisposition::Route => ("routed", None),
        LoggedDisposition::Error(reason) => ("error", Some(reason)),
        LoggedDisposition::Later => ("received", None),
    };
    tx.prepare_cached(
        "INSERT INTO messages (id, channel, received_at, msg_type, patient_id, sending_app,
             sending_facility, control_id, payload_hash, raw, raw_codec, state, error, ack,
             edited_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        id_i64(m.id),
        m.channel,
        millis(m.received_at),
        m.msg_type,
        m.patient_id,
        m.sending_application,
        m.sending_facility,
        m.control_id,
        &m.hash.as_bytes()[..],
        m.raw,
        m.raw_codec.code(),
        state,
        error,
        m.ack,
        edited_from,
    ])?;
    let now = millis(now);
    for &(item, destination, payload) in &m.items {
        super::queue::insert_item_at(tx, item, id_i64(m.id), destination, payload, None, now)?;
    }
    Ok(())
}

/// Records ACKs sent, for verbatim resends; all or none (the caller's savepoint).
pub(super) fn store_acks(conn: &Connection, acks: &[(MessageId, Vec<u8>)]) -> Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE messages SET ack = ?2 WHERE id = ?1")?;
    for (id, ack) in acks {
        if stmt.execute(params![id_i64(id.0), ack])? == 0 {
            return Err(Error::NoSuchMessage(*id));
        }
    }
    Ok(())
}
