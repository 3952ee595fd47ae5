//! The message browser's queries: search with keyset paging, and everything stored about one
//! message.
//!
//! A search walks messages newest first (descending id) and stops at a page, through one
//! index whose order is the id's, chosen here rather than by SQLite's guesses: the index of
//! the most selective filter given (control ID, patient id, the full-text index for words, a
//! state other than `routed`, event, type, sending application), else the row id itself
//! (time bounds become id bounds). The other filters are checked on the rows walked. The next
//! page starts below the last id seen ([`SearchQuery::before`]), so a deep page costs what the
//! first does. The facility and channel filters have no index: alone, they walk the messages
//! until a page is found.

use std::fmt::Write as _;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};

use super::codec::unpack;
use super::error::Result;
use super::sqlite::{id_i64, id_u64, millis, timestamp};
use super::{ItemId, ItemInfo, ItemState, MessageId, MessageState, StoredMessage};
use crate::ack::Timestamp;

/// Messages are taken to be stored within this long of being received (group commit, a slow
/// connection), so a time range becomes an id range with this margin on both sides.
const RECEIVE_SLACK_MS: i64 = 10 * 60 * 1000;

/// The largest page [`SearchQuery::limit`] allows.
pub const MAX_PAGE: usize = 1000;

/// Messages a text search indexes first, at most, when the text index is behind (the admin
/// endpoint's indexer keeps it within about a second of the newest message).
const TEXT_CATCH_UP: usize = 2000;

/// What [`Store::search`](super::Store::search) looks for: every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SearchQuery {
    /// MSH-10, exactly.
    pub control_id: Option<String>,
    /// The patient id stored with the message (PID-3.1), exactly.
    pub patient_id: Option<String>,
    /// MSH-9.1, e.g. `ORU`.
    pub message_code: Option<String>,
    /// MSH-9.2, e.g. `R01`.
    pub event: Option<String>,
    /// MSH-3, the sending application, exactly.
    pub sending_application: Option<String>,
    /// MSH-4, the sending facility, exactly.
    pub sending_facility: Option<String>,
    /// The channel it arrived on.
    pub channel: Option<String>,
    /// The message's state.
    pub state: Option<MessageState>,
    /// Received at or after.
    pub from: Option<Timestamp>,
    /// Received before.
    pub to: Option<Timestamp>,
    /// Words that must all appear in the raw message (a word is a run of letters and digits,
    /// case and accents ignored); a `*` right after a word matches words starting with it.
    /// The text index is brought up to date first, by up to 2000 messages; a store further
    /// behind (right after an upgrade) finds the newest messages by text once
    /// [`Store::index_text`](super::Store::index_text) has caught up.
    pub text: Option<String>,
    /// Only messages with a lower id: the keyset of the next page (the last id of this one).
    pub before: Option<MessageId>,
    /// The page size, at most [`MAX_PAGE`].
    pub limit: usize,
}

impl SearchQuery {
    /// Every message, newest first, `limit` per page.
    pub fn new(limit: usize) -> SearchQuery {
        SearchQuery {
            limit,
            ..SearchQuery::default()
        }
    }
}

/// One message of a search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// Its id.
    pub id: MessageId,
    /// When it was received.
    pub received_at: Timestamp,
    /// The channel it arrived on.
    pub channel: String,
    /// MSH-9 as written.
    pub msg_type: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-3.
    pub sending_application: String,
    /// MSH-4.
    pub sending_facility: String,
    /// The patient id (PHI).
    pub patient_id: Option<String>,
    /// Where it stands.
    pub state: MessageState,
    /// Why it is in error.
    pub error: Option<String>,
    /// The message it is an edited copy of.
    pub edited_from: Option<MessageId>,
    /// Its queue items, oldest first.
    pub items: Vec<ItemInfo>,
}

/// One delivery attempt of a queue item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptInfo {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The worker that made it.
    pub owner: String,
    /// When it was claimed.
    pub started_at: Timestamp,
    /// When the payload was written to the destination.
    pub sent_at: Option<Timestamp>,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// `done`, `failed`, `dead letter`, `lease expired`; `None` while in progress.
    pub outcome: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The destination's answer (e.g. its ACK).
    pub response: Option<Vec<u8>>,
}

/// One queue item with its payload and attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDetail {
    /// Destination, state, attempts, last error, reprocess link.
    pub info: ItemInfo,
    /// The bytes delivered (the mapped output; the raw message for a pass-through copy).
    pub payload: Vec<u8>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it may be claimed (after a failure: the retry time).
    pub ready_at: Timestamp,
    /// When it was done, dead-lettered or discarded.
    pub finished_at: Option<Timestamp>,
    /// Its attempts, in order.
    pub attempts: Vec<AttemptInfo>,
}

/// Everything stored about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDetail {
    /// The message, its state, error and ACK.
    pub message: StoredMessage,
    /// The message it is an edited copy of.
    pub edited_from: Option<MessageId>,
    /// The edited copies made of it.
    pub edits: Vec<MessageId>,
    /// Its queue items with payloads and attempts, oldest first.
    pub items: Vec<ItemDetail>,
}

/// An FTS5 query for `text`: every word quoted, all required; `None` when it has no word.
fn fts_query(text: &str) -> Option<String> {
    let mut query = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let mut word = String::from(c);
        while let Some(&next) = chars.peek() {
            if !next.is_alphanumeric() {
                break;
            }
            word.push(next);
            chars.next();
        }
        if !query.is_empty() {
            query.push_str(" AND ");
        }
        let _ = write!(query, "\"{word}\"");
        if chars.peek() == Some(&'*') {
            query.push('*');
        }
    }
    (!query.is_empty()).then_some(query)
}

const SUMMARY_COLUMNS: &str = "m.id, m.received_at, m.channel, m.msg_type, m.control_id,
    m.sending_app, m.sending_facility, m.patient_id, m.state, m.error, m.edited_from";

/// See [`Store::search`](super::Store::search).
pub(super) fn search(conn: &Connection, q: &SearchQuery) -> Result<Vec<MessageSummary>> {
    let limit = q.limit.clamp(1, MAX_PAGE);
    let text = match q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => match fts_query(t) {
            Some(query) => Some(query),
            // Text with no word in it matches nothing.
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    // One filter drives the search through its index (newest first, stopping at a page);
    // the others are checked row by row (`+column` keeps SQLite off their indexes, which
    // would lose the id order or walk a less selective list). From the most selective down:
    // control ID, patient id, words, a rare state, event, type, sending application.
    let state = q.state.map(MessageState::as_str);
    let rare_state = state.filter(|s| *s != "routed");
    let driver = if q.control_id.is_some() {
        "m.control_id"
    } else if q.patient_id.is_some() {
        "m.patient_id"
    } else if text.is_some() {
        "text"
    } else if rare_state.is_some() {
        "m.state"
    } else if q.event.is_some() {
        "m.msg_event"
    } else if q.message_code.is_some() {
        "m.msg_code"
    } else if q.sending_application.is_some() {
        "m.sending_app"
    } else {
        "m.id"
    };
    let fts_drives = driver == "text";
    let mut args: Vec<Value> = Vec::new();
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM ");
    let key = if fts_drives {
        sql.push_str(
            "messages_text t CROSS JOIN messages m ON m.id = t.rowid
             WHERE t.messages_text MATCH ?",
        );
        args.push(Value::Text(text.clone().unwrap_or_default()));
        "t.rowid"
    } else {
        sql.push_str("messages m WHERE 1");
        "m.id"
    };
    let mut exact = |column: &str, value: Option<&str>| {
        if let Some(v) = value {
            let plus = if column == driver { "" } else { "+" };
            let _ = write!(sql, " AND {plus}{column} = ?");
            args.push(Value::Text(v.to_owned()));
        }
    };
    exact("m.control_id", q.control_id.as_deref());
    exact("m.patient_id", q.patient_id.as_deref());
    exact("m.msg_code", q.message_code.as_deref());
    exact("m.msg_event", q.event.as_deref());
    exact("m.sending_app", q.sending_application.as_deref());
    exact("m.sending_facility", q.sending_facility.as_deref());
    exact("m.channel", q.channel.as_deref());
    exact("m.state", state);
    // Time filters are checked row by row (`+` keeps SQLite off the time index, whose order
    // would need a sort of the whole range); the id bounds below are what narrows the scan.
    if let Some(from) = q.from {
        sql.push_str(" AND +m.received_at >= ?");
        args.push(Value::Integer(millis(from)));
        // Every message received from `from` on was stored after the last one received
        // well before it.
        let floor: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM messages WHERE received_at < ?1
                 ORDER BY received_at DESC, id DESC LIMIT 1",
            )?
            .query_row([millis(from).saturating_sub(RECEIVE_SLACK_MS)], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(floor) = floor {
            let _ = write!(sql, " AND {key} > ?");
            args.push(Value::Integer(floor));
        }
    }
    if let Some(to) = q.to {
        sql.push_str(" AND +m.received_at < ?");
        args.push(Value::Integer(millis(to)));
        let ceiling: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM messages WHERE received_at >= ?1
                 ORDER BY received_at, id LIMIT 1",
            )?
            .query_row([millis(to).saturating_add(RECEIVE_SLACK_MS)], |r| r.get(0))
            .optional()?;
        if let Some(ceiling) = ceiling {
            let _ = write!(sql, " AND {key} < ?");
            args.push(Value::Integer(ceiling));
        }
    }
    if let (Some(text), false) = (&text, fts_drives) {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM messages_text t
                 WHERE t.messages_text MATCH ? AND t.rowid = m.id)",
        );
        args.push(Value::Text(text.clone()));
    }
    if let Some(before) = q.before {
        let _ = write!(sql, " AND {key} < ?");
        args.push(Value::Integer(id_i64(before.0)));
    }
    let _ = write!(sql, " ORDER BY {key} DESC LIMIT {limit}");

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((
            (
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ),
            (
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
            ),
            (
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<i64>>(10)?,
            ),
        ))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (
            (id, received_at, channel, msg_type),
            (control_id, sending_application, sending_facility, patient_id),
            (state, error, edited_from),
        ) = row?;
        found.push(MessageSummary {
            id: MessageId(id_u64(id, "messages.id")?),
            received_at: timestamp(received_at),
            channel,
            msg_type,
            control_id,
            sending_application,
            sending_facility,
            patient_id,
            state: MessageState::parse(&state)?,
            error,
            edited_from: edited_from
                .map(|e| id_u64(e, "messages.edited_from").map(MessageId))
                .transpose()?,
            items: Vec::new(),
        });
    }
    attach_items(conn, &mut found)?;
    Ok(found)
}

/// Fills in the queue items of a page of messages, with one query.
fn attach_items(conn: &Connection, page: &mut [MessageSummary]) -> Result<()> {
    if page.is_empty() {
        return Ok(());
    }
    let mut ids = String::new();
    for (i, m) in page.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(ids, "{sep}{}", id_i64(m.id.0));
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT message_id, id, destination, state, attempts, last_error, reprocess_of
         FROM queue WHERE message_id IN ({ids}) ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let message = MessageId(id_u64(r.get(0)?, "queue.message_id")?);
        let item = item_info(
            r.get(1)?,
            r.get(2)?,
            &r.get::<_, String>(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        )?;
        if let Some(m) = page.iter_mut().find(|m| m.id == message) {
            m.items.push(item);
        }
    }
    Ok(())
}

fn item_info(
    id: i64,
    destination: String,
    state: &str,
    attempts: i64,
    last_error: Option<String>,
    reprocess_of: Option<i64>,
) -> Result<ItemInfo> {
    Ok(ItemInfo {
        id: ItemId(id_u64(id, "queue.id")?),
        destination,
        state: ItemState::parse(state)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error,
        reprocess_of: reprocess_of
            .map(|p| id_u64(p, "queue.reprocess_of").map(ItemId))
            .transpose()?,
    })
}

/// See [`Store::index_text`](super::Store::index_text): the next `max` messages after the
/// high-water mark go into the text index, and the mark moves past them, in one transaction.
pub(super) fn index_text(conn: &mut Connection, max: usize) -> Result<usize> {
    let limit = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let up_to: i64 = tx
        .prepare_cached("SELECT up_to FROM text_indexed WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let last: Option<i64> = tx
        .prepare_cached(
            "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row(params![up_to, limit], |r| r.get(0))?;
    let Some(last) = last else {
        return Ok(0);
    };
    let mut indexed = 0;
    {
        let mut insert =
            tx.prepare_cached("INSERT INTO messages_text (rowid, body) VALUES (?1, ?2)")?;
        let mut read = tx
            .prepare_cached("SELECT id, raw, raw_codec FROM messages WHERE id > ?1 AND id <= ?2")?;
        let mut rows = read.query(params![up_to, last])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let raw = unpack(row.get(2)?, row.get(1)?)?;
            // As text, byte for byte (what `CAST(raw AS TEXT)` gave): a message in another
            // character set is indexed by the words its ASCII parts spell.
            let body = ToSqlOutput::Borrowed(ValueRef::Text(&raw));
            indexed += insert.execute(params![id, body])?;
        }
    }
    tx.prepare_cached("UPDATE text_indexed SET up_to = ?1 WHERE id = 1")?
        .execute([last])?;
    tx.commit()?;
    Ok(indexed)
}

/// Before a text search: indexes what the text index lacks, up to [`TEXT_CATCH_UP`]
/// messages (more would hold the store too long; the indexer catches up with the rest).
pub(super) fn catch_up_text(conn: &mut Connection) -> Result<()> {
    index_text(conn, TEXT_CATCH_UP).map(|_| ())
}

/// See [`Store::message_detail`](super::Store::message_detail); `message` is what
/// [`Store::message`](super::Store::message) read on the same connection.
pub(super) fn detail(conn: &Connection, message: StoredMessage) -> Result<MessageDetail> {
    let mid = id_i64(message.id.0);
    let edited_from: Option<i64> = conn
        .prepare_cached("SELECT edited_from FROM messages WHERE id = ?1")?
        .query_row([mid], |r| r.get(0))?;
    let edits = conn
        .prepare_cached("SELECT id FROM messages WHERE edited_from = ?1 ORDER BY id")?
        .query_map([mid], |r| r.get::<_, i64>(0))?
        .map(|id| Ok(MessageId(id_u64(id?, "messages.id")?)))
        .collect::<Result<Vec<_>>>()?;
    let mut items = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, destination, state, attempts, last_error, reprocess_of, payload,
                    created_at, ready_at, finished_at
             FROM queue WHERE message_id = ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([mid])?;
        while let Some(r) = rows.next()? {
            items.push(ItemDetail {
                info: item_info(
                    r.get(0)?,
                    r.get(1)?,
                    &r.get::<_, String>(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                )?,
                payload: {
                    // An empty payload stands for the raw message (a pass-through copy).
                    let payload: Vec<u8> = r.get(6)?;
                    if payload.is_empty() {
                        message.inbound.raw.clone()
                    } else {
                        payload
                    }
                },
                created_at: timestamp(r.get(7)?),
                ready_at: timestamp(r.get(8)?),
                finished_at: r.get::<_, Option<i64>>(9)?.map(timestamp),
                attempts: Vec::new(),
            });
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT attempt, owner, started_at, sent_at, finished_at, outcome, error, response
         FROM attempts WHERE item_id = ?1 ORDER BY id",
    )?;
    for item in &mut items {
        let mut rows = stmt.query(params![id_i64(item.info.id.0)])?;
        while let Some(r) = rows.next()? {
            item.attempts.push(AttemptInfo {
                attempt: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                owner: r.get(1)?,
                started_at: timestamp(r.get(2)?),
                sent_at: r.get::<_, Option<i64>>(3)?.map(timestamp),
                finished_at: r.get::<_, Option<i64>>(4)?.map(timestamp),
                outcome: r.get(5)?,
                error: r.get(6)?,
                response: r.get(7)?,
            });
        }
    }
    Ok(MessageDetail {
        message,
        edited_from: edited_from
            .map(|e| id_u64(e, "messages.edited_from").map(MessageId))
            .transpose()?,
        edits,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn text_becomes_required_quoted_words() {
        assert_eq!(
            fts_query("DOE^JANE").as_deref(),
            Some("\"DOE\" AND \"JANE\"")
        );
        assert_eq!(fts_query("  gluc* ").as_deref(), Some("\"gluc\"*"));
        assert_eq!(
            fts_query("\"x\" OR y").as_deref(),
            Some("\"x\" AND \"OR\" AND \"y\"")
        );
        assert_eq!(fts_query("|^~"), None);
    }
}
