//! Claims and reports: a destination's queue handed out to its workers, in order, under the
//! in-memory [leases](super::leases), and the outcomes written back.
//!
//! Order: within a destination, only the head (the lowest id not done or dead-lettered) and
//! the items right behind it are ever handed out. While the head is leased by a live claim
//! of another owner, or waits for its retry time, nothing behind it is claimable, so a
//! destination receives its items in id order however many workers poll it. An owner's own
//! live claims are passed over: it delivers them before what it claims next, so a worker can
//! claim its next batch while it delivers the one before.
//!
//! A claim reads the database (through a connection of its own: it never waits for the
//! applier's transactions) and records its leases in memory; nothing is written. A report
//! checks the claim's token against its lease ([`Error::LeaseLost`] when the lease was lost to
//! another worker or to recovery), marks the lease as being filed, and the item's new state
//! and its attempt row are written in the applier's next transaction; the lease goes once
//! that committed.

use rusqlite::{params, Connection};

use super::codec::unpack;
use super::error::{Error, Result};
use super::leases::{Lease, LeaseState, Registry};
use super::queue::{ClaimRequest, Finish};
use super::sqlite::{id_i64, id_u64, millis, timestamp};
use super::{Claimed, ItemId, MessageId};
use crate::ack::Timestamp;

/// A claim as a report names it: its item and its token (see [`Claimed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClaimRef {
    pub(super) item: ItemId,
    pub(super) token: i64,
}

impl From<&Claimed> for ClaimRef {
    fn from(claim: &Claimed) -> ClaimRef {
        ClaimRef {
            item: claim.item,
            token: claim.token,
        }
    }
}

/// An attempt that ended, on its way to the database: the lease it was made under and how it
/// ended.
#[derive(Debug, Clone)]
pub(super) struct Ended {
    pub(super) item: u64,
    pub(super) lease: Lease,
    pub(super) outcome: Outcome,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Done {
        response: Option<Vec<u8>>,
    },
    Retry {
        error: String,
        retry_at: Timestamp,
        response: Option<Vec<u8>>,
    },
    DeadLetter {
        reason: String,
        response: Option<Vec<u8>>,
    },
    /// The lease ran out (or its holder's process is gone) without a report: the item is
    /// claimable again at once.
    Expired,
    /// A lease written to the database by an earlier version of this store ran out: its
    /// attempt row (whose id is the lease's token) is closed.
    ExpiredInDatabase {
        token: i64,
    },
}

/// A candidate row of a destination's queue.
struct Candidate {
    id: i64,
    state: String,
    ready_at: i64,
    lease_until: Option<i64>,
    lease_token: Option<i64>,
    lease_owner: Option<String>,
    attempts: i64,
    message_id: i64,
    reprocess_of: Option<i64>,
}

/// What a claim does: the items claimed, and the leases it found expired and took over
/// (to be filed as expired attempts).
pub(super) struct Claim {
    pub(super) claimed: Vec<Claimed>,
    pub(super) expired: Vec<Ended>,
}

/// See [`Store::claim_batch`](super::Store::claim_batch). Hold the registry's lock from
/// before reading until the leases are recorded (see the [leases](super::leases) module).
pub(super) fn claim(
    conn: &Connection,
    registry: &mut Registry,
    request: &ClaimRequest<'_>,
    now: Timestamp,
) -> Result<Claim> {
    let ClaimRequest {
        destination,
        max,
        lease,
        owner,
    } = *request;
    let max = max.max(1);
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT id, state, ready_at, lease_until, lease_token, lease_owner, attempts,
                 message_id, reprocess_of
             FROM queue WHERE destination = ?1 AND id >= ?3 AND ",
        queued!("state"),
        " ORDER BY id LIMIT ?2"
    ))?;
    // Entries of the registry are passed over or stop the run: at most that many more rows.
    // They are read one by one, as far as the claim goes.
    let limit = i64::try_from(max.saturating_add(registry.len())).unwrap_or(i64::MAX);
    let from = id_i64(registry.frontier(destination, owner));
    let candidates = stmt.query_map(params![destination, limit, from], |r| {
        Ok(Candidate {
            id: r.get(0)?,
            state: r.get(1)?,
            ready_at: r.get(2)?,
            lease_until: r.get(3)?,
            lease_token: r.get(4)?,
            lease_owner: r.get(5)?,
            attempts: r.get(6)?,
            message_id: r.get(7)?,
            reprocess_of: r.get(8)?,
        })
    })?;
    let now_ms = millis(now);
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let until_ms = now_ms.saturating_add(lease_ms);
    let mut claimed = Vec::new();
    let mut expired = Vec::new();
    // The first item read that is neither in the registry nor claimed now.
    let mut uncovered = None;
    let mut last_read = None;
    for c in candidates {
        let c = c?;
        last_read = Some(c.id);
        let item = id_u64(c.id, "queue.id")?;
        if claimed.len() >= max {
            uncovered.get_or_insert(item);
            break;
        }
        // The number of attempts made so far; the first item not claimable stops the run.
        let made = match registry.get(item) {
            Some(l) => match l.state {
                LeaseState::Filing { ready_at: None } => continue,
                LeaseState::Filing { ready_at: Some(at) } if at > now_ms => {
                    uncovered.get_or_insert(item);
                    break;
                }
                LeaseState::Filing { .. } => l.attempt,
                LeaseState::Held if l.until_ms > now_ms => {
                    if l.owner == owner {
                        continue;
                    }
                    uncovered.get_or_insert(item);
                    break;
                }
                LeaseState::Held => {
                    expired.push(Ended {
                        item,
                        lease: l.clone(),
                        outcome: Outcome::Expired,
                    });
                    l.attempt
                }
            },
            None if c.state == "ready" => {
                if c.ready_at > now_ms {
                    uncovered.get_or_insert(item);
                    break;
                }
                attempts(c.attempts)?
            }
            None => {
                if c.lease_until.unwrap_or(i64::MIN) > now_ms {
                    // A lease an earlier version wrote: not in the registry.
                    uncovered.get_or_insert(item);
                    if c.lease_owner.as_deref() == Some(owner) {
                        continue;
                    }
                    break;
                }
                if let Some(token) = c.lease_token {
                    expired.push(Ended {
                        item,
                        lease: database_lease(&c, destination, token),
                        outcome: Outcome::ExpiredInDatabase { token },
                    });
                }
                attempts(c.attempts)?
            }
        };
        let attempt = made.saturating_add(1);
        let token = registry.grant(item, destination, owner, attempt, now_ms, until_ms);
        claimed.push(Claimed {
            item: ItemId(item),
            message_id: MessageId(id_u64(c.message_id, "queue.message_id")?),
            destination: destination.to_owned(),
            payload: payload(conn, c.id)?,
            attempt,
            owner: owner.to_owned(),
            lease_until: timestamp(until_ms),
            reprocess_of: c
                .reprocess_of
                .map(|p| id_u64(p, "queue.reprocess_of").map(ItemId))
                .transpose()?,
            token,
        });
    }
    match (uncovered, last_read) {
        (Some(item), _) => registry.advance(destination, owner, item),
        (None, Some(last)) => registry.advance(destination, owner, id_u64(last, "queue.id")? + 1),
        (None, None) => {}
    }
    Ok(Claim { claimed, expired })
}

fn attempts(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Corrupt {
        column: "queue.attempts",
        detail: format!("{n}"),
    })
}

/// A lease an earlier version wrote to the database, as the registry would hold it.
fn database_lease(c: &Candidate, destination: &str, token: i64) -> Lease {
    Lease {
        destination: destination.to_owned(),
        owner: c.lease_owner.clone().unwrap_or_default(),
        token,
        until_ms: c.lease_until.unwrap_or(0),
        attempt: u32::try_from(c.attempts).unwrap_or(0),
        started_ms: 0,
        sent_ms: None,
        state: LeaseState::Held,
    }
}

/// An item's bytes: an empty payload stands for its message's raw bytes (a pass-through copy,
/// stored once; see `accept`).
fn payload(conn: &Connection, item: i64) -> Result<Vec<u8>> {
    let (payload, raw, raw_codec) = conn
        .prepare_cached(
            "SELECT q.payload, CASE WHEN length(q.payload) = 0 THEN m.raw END, m.raw_codec
             FROM queue q JOIN messages m ON m.id = q.message_id WHERE q.id = ?1",
        )?
        .query_row([item], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Option<Vec<u8>>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
    match raw {
        Some(raw) => unpack(raw_codec, raw),
        None => Ok(payload),
    }
}

/// Checks every report against its lease, then marks the leases as being filed and hands
/// back what to write; a stale claim among them ([`Error::LeaseLost`]) changes nothing.
pub(super) fn report(
    registry: &mut Registry,
    reports: &[(&Claimed, Finish<'_>, Option<&[u8]>)],
) -> Result<Vec<Ended>> {
    for (claim, _, _) in reports {
        registry.held(claim.item, claim.token)?;
    }
    let mut ended = Vec::with_capacity(reports.len());
    for (claim, how, response) in reports {
        let lease = registry.held(claim.item, claim.token)?;
        let response = response.map(<[u8]>::to_vec);
        let (outcome, ready_at) = match *how {
            Finish::Done => (Outcome::Done { response }, None),
            Finish::Retry { error, retry_at } => (
                Outcome::Retry {
                    error: error.to_owned(),
                    retry_at,
                    response,
                },
                Some(millis(retry_at)),
            ),
            Finish::DeadLetter { reason } => (
                Outcome::DeadLetter {
                    reason: reason.to_owned(),
                    response,
                },
                None,
            ),
        };
        lease.state = LeaseState::Filing { ready_at };
        let filed = lease.clone();
        if ready_at.is_some() {
            // To be retried: the head of its queue again.
            registry.forget(&filed.destination);
        }
        ended.push(Ended {
            item: claim.item.0,
            lease: filed,
            outcome,
        });
    }
    Ok(ended)
}

/// See [`Store::release`](super::Store::release): the leases end as if never taken; claims no
/// longer held are left alone.
pub(super) fn release(registry: &mut Registry, claims: &[ClaimRef]) {
    for claim in claims {
        if registry.held(claim.item, claim.token).is_ok() {
            registry.remove(claim.item.0, claim.token);
        }
    }
}

/// See [`Store::mark_sent`](super::Store::mark_sent).
pub(super) fn mark_sent(registry: &mut Registry, claim: ClaimRef, now: Timestamp) -> Result<()> {
    registry.held(claim.item, claim.token)?.sent_ms = Some(millis(now));
    Ok(())
}

/// Writes ended attempts: each item's new state and attempt count, and its attempt row.
pub(super) fn write(conn: &Connection, ended: &[Ended], now: Timestamp) -> Result<()> {
    let now_ms = millis(now);
    for e in ended {
        let item = id_i64(e.item);
        let attempt = i64::from(e.lease.attempt);
        let (state, ready_at, error, finished_at, outcome, response) = match &e.outcome {
            Outcome::Done { response } => ("done", None, None, Some(now_ms), "done", response),
            Outcome::Retry {
                error,
                retry_at,
                response,
            } => (
                "ready",
                Some(millis(*retry_at)),
                Some(error.as_str()),
                None,
                "failed",
                response,
            ),
            Outcome::DeadLetter { reason, response } => (
                "error",
                None,
                Some(reason.as_str()),
                Some(now_ms),
                "dead letter",
                response,
            ),
            Outcome::Expired => ("ready", None, None, None, "lease expired", &None),
            Outcome::ExpiredInDatabase { token } => {
                conn.prepare_cached(
                    "UPDATE attempts SET finished_at = ?2, outcome = 'lease expired'
                     WHERE id = ?1 AND finished_at IS NULL",
                )?
                .execute(params![token, now_ms])?;
                continue;
            }
        };
        conn.prepare_cached(
            "UPDATE queue SET state = ?2, ready_at = coalesce(?3, ready_at),
                 last_error = coalesce(?4, last_error), finished_at = ?5, attempts = ?6,
                 lease_owner = NULL, lease_until = NULL, lease_token = NULL
             WHERE id = ?1",
        )?
        .execute(params![item, state, ready_at, error, finished_at, attempt])?;
        conn.prepare_cached(
            "INSERT INTO attempts (item_id, attempt, owner, started_at, sent_at, finished_at,
                 outcome, error, response)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            item,
            attempt,
            e.lease.owner,
            e.lease.started_ms,
            e.lease.sent_ms,
            now_ms,
            outcome,
            error,
            response
        ])?;
    }
    Ok(())
}
