//! [`Store::accept`](super::Store::accept) on SQLite: duplicate check, ingest and routing of a
//! batch of inbound messages in one transaction, so one fsync covers all of them and a crash
//! leaves each message either wholly stored with its queue items or not stored at all.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::error::{Error, Result};
use super::sqlite::{id_i64, id_u64, millis};
use super::{Accept, Accepted, Disposition, ItemId, MessageId, Receipt};
use crate::ack::{Durable, Timestamp};

/// See [`Store::accept`](super::Store::accept): on a connection at the durable level, the
/// commit has reached the disk when it returns.
pub(super) fn accept(
    conn: &mut Connection,
    batch: &[Accept<'_>],
    now: Timestamp,
) -> Result<Vec<Accepted>> {
    write(conn, batch, now)?.into_receipts()
}

/// See [`Store::write_batch`](super::Store::write_batch): the batch committed; durable only
/// once the caller has made the WAL durable.
pub(super) fn write(
    conn: &mut Connection,
    batch: &[Accept<'_>],
    now: Timestamp,
) -> Result<Written> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut pending = Vec::with_capacity(batch.len());
    for one in batch {
        pending.push(accept_one(&tx, one, now)?);
        crate::failpoint::hit("mid_batch_commit");
    }
    tx.commit()?;
    Ok(Written { pending })
}

/// A committed batch whose receipts are not minted yet.
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
                        receipt: receipt(id)?,
                        reused,
                        items,
                    },
                    Pending::Verbatim { id, ack } => Accepted::Verbatim {
                        receipt: receipt(id)?,
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
        id: i64,
        reused: Option<MessageId>,
        items: Vec<ItemId>,
    },
    Verbatim {
        id: i64,
        ack: Option<Vec<u8>>,
    },
}

fn receipt(id: i64) -> Result<Receipt> {
    let id = id_u64(id, "messages.id")?;
    Ok(Receipt {
        id: MessageId(id),
        durable: Durable::committed(id),
    })
}

fn accept_one(tx: &Transaction<'_>, one: &Accept<'_>, now: Timestamp) -> Result<Pending> {
    let m = one.inbound;
    let key = &m.fingerprint.key;
    let mut reused = None;
    if key.is_usable() {
        // Earlier messages of this same batch are visible here: the transaction sees its own
        // inserts, so two copies of one resend in a batch are stored once.
        let mut stmt = tx.prepare_cached(
            "SELECT id, payload_hash = ?4, ack FROM messages
             WHERE control_id = ?1 AND sending_app = ?2 AND sending_facility = ?3
             ORDER BY payload_hash = ?4 DESC, id LIMIT 1",
        )?;
        let found = stmt
            .query_row(
                params![
                    key.control_id,
                    key.sending_application,
                    key.sending_facility,
                    &m.fingerprint.hash.as_bytes()[..],
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
        match found {
            Some((id, true, ack)) => return Ok(Pending::Verbatim { id, ack }),
            Some((id, false, _)) => reused = Some(MessageId(id_u64(id, "messages.id")?)),
            None => {}
        }
    }
    let (id, items) = insert_new(tx, one, None, now)?;
    Ok(Pending::Stored { id, reused, items })
}

/// Inserts a new message (`edited_from`: the message it is an edited copy of) and its queue
/// items; returns its row id and the items.
pub(super) fn insert_new(
    tx: &Transaction<'_>,
    one: &Accept<'_>,
    edited_from: Option<i64>,
    now: Timestamp,
) -> Result<(i64, Vec<ItemId>)> {
    let m = one.inbound;
    let key = &m.fingerprint.key;
    let (state, error) = match one.disposition {
        Disposition::Route(_) => ("routed", None),
        Disposition::Error(reason) => ("error", Some(reason)),
        Disposition::Later => ("received", None),
    };
    tx.prepare_cached(
        "INSERT INTO messages (channel, received_at, msg_type, patient_id, sending_app,
             sending_facility, control_id, payload_hash, raw, state, error, ack, edited_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        m.channel,
        millis(m.received_at),
        m.msg_type,
        m.patient_id,
        key.sending_application,
        key.sending_facility,
        key.control_id,
        &m.fingerprint.hash.as_bytes()[..],
        m.raw,
        state,
        error,
        one.ack,
        edited_from,
    ])?;
    let id = tx.last_insert_rowid();
    let mut items = Vec::new();
    if let Disposition::Route(deliveries) = one.disposition {
        items.reserve(deliveries.len());
        for d in deliveries {
            // A pass-through copy is not written again: an empty payload stands for the
            // message's raw bytes (fan-out to three systems stores the message once).
            let payload = if d.payload == m.raw.as_slice() {
                &[][..]
            } else {
                d.payload
            };
            items.push(super::queue::insert_item(
                tx,
                id,
                d.destination,
                payload,
                None,
                now,
            )?);
        }
    }
    if let Some(ack) = one.application_ack {
        items.push(super::queue::insert_item(
            tx,
            id,
            ack.destination,
            ack.payload,
            None,
            now,
        )?);
    }
    Ok((id, items))
}

/// Records ACKs sent, for verbatim resends; one transaction for all.
pub(super) fn store_acks(conn: &mut Connection, acks: &[(MessageId, &[u8])]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached("UPDATE messages SET ack = ?2 WHERE id = ?1")?;
        for (id, ack) in acks {
            if stmt.execute(params![id_i64(id.0), ack])? == 0 {
                return Err(Error::NoSuchMessage(*id));
            }
        }
    }
    tx.commit()?;
    Ok(())
}
