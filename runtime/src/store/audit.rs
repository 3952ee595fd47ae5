//! The audit log: who looked at or changed which messages, and when. Kept in the store, apart
//! from the messages: pruning a message keeps the record of what was done to it.

use std::fmt::Write as _;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, TransactionBehavior};

use super::error::Result;
use super::sqlite::{id_i64, id_u64, millis, timestamp};
use super::MessageId;
use crate::ack::Timestamp;

/// How many message ids [`AuditRecord::messages`] lists at most (a bulk reprocess may name
/// thousands; [`AuditRecord::message_count`] has the total).
pub const AUDIT_IDS_LISTED: usize = 100;

/// One action to record with [`Store::record_audit`](super::Store::record_audit).
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    /// Who (the admin token's user name).
    pub user: &'a str,
    /// What: `view`, `reprocess`, `edit`, `discard`, `pause`, `resume`, ...
    pub action: &'a str,
    /// The messages concerned.
    pub messages: &'a [MessageId],
    /// Details, as JSON text (e.g. the reason of a discard).
    pub details: &'a str,
}

/// A recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its id (grows with every record).
    pub id: u64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub user: String,
    /// What.
    pub action: String,
    /// The first [`AUDIT_IDS_LISTED`] messages concerned, lowest id first.
    pub messages: Vec<MessageId>,
    /// How many messages it concerned.
    pub message_count: u64,
    /// Details, as JSON text.
    pub details: String,
}

/// Which records [`Store::audit`](super::Store::audit) returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Records about this message only.
    pub message: Option<MessageId>,
    /// This action only.
    pub action: Option<String>,
    /// This user only.
    pub user: Option<String>,
    /// Records with a lower id only (the next page).
    pub before: Option<u64>,
    /// The page size, at most 1000.
    pub limit: usize,
}

impl AuditQuery {
    /// Every record, newest first, `limit` per page.
    pub fn new(limit: usize) -> AuditQuery {
        AuditQuery {
            limit,
            ..AuditQuery::default()
        }
    }
}

/// See [`Store::record_audit`](super::Store::record_audit).
pub(super) fn record(conn: &mut Connection, entry: &AuditEntry<'_>, now: Timestamp) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("INSERT INTO audit (at, user, action, details) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            millis(now),
            entry.user,
            entry.action,
            entry.details
        ])?;
    let id = tx.last_insert_rowid();
    {
        let mut link = tx.prepare_cached(
            "INSERT OR IGNORE INTO audit_messages (message_id, audit_id) VALUES (?1, ?2)",
        )?;
        for m in entry.messages {
            link.execute(params![id_i64(m.0), id])?;
        }
    }
    tx.commit()?;
    id_u64(id, "audit.id")
}

/// See [`Store::audit`](super::Store::audit).
pub(super) fn query(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let mut sql = String::from("SELECT a.id, a.at, a.user, a.action, a.details FROM audit a");
    let mut args: Vec<Value> = Vec::new();
    if let Some(m) = q.message {
        sql.push_str(" JOIN audit_messages l ON l.audit_id = a.id AND l.message_id = ?");
        args.push(Value::Integer(id_i64(m.0)));
    }
    sql.push_str(" WHERE 1");
    if let Some(action) = &q.action {
        sql.push_str(" AND a.action = ?");
        args.push(Value::Text(action.clone()));
    }
    if let Some(user) = &q.user {
        sql.push_str(" AND a.user = ?");
        args.push(Value::Text(user.clone()));
    }
    if let Some(before) = q.before {
        sql.push_str(" AND a.id < ?");
        args.push(Value::Integer(id_i64(before)));
    }
    let _ = write!(
        sql,
        " ORDER BY a.id DESC LIMIT {}",
        q.limit.clamp(1, super::search::MAX_PAGE)
    );
    let mut records = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            records.push(AuditRecord {
                id: id_u64(r.get(0)?, "audit.id")?,
                at: timestamp(r.get(1)?),
                user: r.get(2)?,
                action: r.get(3)?,
                messages: Vec::new(),
                message_count: 0,
                details: r.get(4)?,
            });
        }
    }
    let mut ids = conn.prepare_cached(&format!(
        "SELECT message_id FROM audit_messages WHERE audit_id = ?1
         ORDER BY message_id LIMIT {AUDIT_IDS_LISTED}"
    ))?;
    let mut count =
        conn.prepare_cached("SELECT count(*) FROM audit_messages WHERE audit_id = ?1")?;
    for record in &mut records {
        let id = id_i64(record.id);
        record.messages = ids
            .query_map([id], |r| r.get::<_, i64>(0))?
            .map(|m| Ok(MessageId(id_u64(m?, "audit_messages.message_id")?)))
            .collect::<Result<Vec<_>>>()?;
        record.message_count = id_u64(count.query_row([id], |r| r.get(0))?, "count")?;
    }
    Ok(records)
}
