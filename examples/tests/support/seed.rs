//! T-CRASH-4's state injection: a store written through the Store API as a crashed engine
//! leaves it (Mirth RecoveryTests style).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hl7_examples::engine::DESTINATIONS;
use hl7_runtime::ack::{Fingerprint, Timestamp};
use hl7_runtime::er7::Message;
use hl7_runtime::store::{
    Accept, Delivery, Disposition, InboundMessage, ItemId, SqliteStore, Store,
};

use super::Msg;

fn now_millis() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("millis fit")
}

fn inbound(m: &Msg, at: Timestamp) -> InboundMessage {
    let text = std::str::from_utf8(&m.raw).expect("ASCII message");
    let message = Message::parse(text).expect("the generated message parses");
    InboundMessage {
        raw: m.raw.clone(),
        channel: "inbound".into(),
        received_at: at,
        msg_type: "ADT".into(),
        patient_id: None,
        fingerprint: Fingerprint::of(&message, &m.raw),
    }
}

/// Seeds the store at `path` with `3 × per_state` messages, as a crashed engine leaves them,
/// each destination's queue in message order:
/// - messages `0..per_state`: routed, each item written to its destination and awaiting the
///   ACK (`sent`) under a one-minute lease that ended an hour ago, the lease and its open
///   attempt on file in the database: what an engine of store version 4, which kept its
///   leases there, leaves (written here with SQL, as no API of this version writes one);
/// - `per_state..2 × per_state`: routed, each item claimed by an engine that died before it
///   reported anything: its leases were in memory only, so the database shows the items
///   ready (claimed here through the Store API by a store that is then dropped);
/// - `2 × per_state..`: stored and not routed (`received`).
///
/// The other state a crash leaves, messages acknowledged from the ingest log and not yet in
/// the database, is T-CRASH-3's `before_apply`.
pub fn seed_crashed_store(path: &Path, msgs: &[Msg], per_state: usize) {
    assert_eq!(msgs.len(), 3 * per_state);
    let an_hour_ago = Timestamp::from_unix_millis(now_millis() - 3_600_000);
    let store = SqliteStore::open(path).expect("create the store");
    let records: Vec<InboundMessage> = msgs.iter().map(|m| inbound(m, an_hour_ago)).collect();
    for chunk in records[..2 * per_state].chunks(250) {
        let deliveries: Vec<[Delivery<'_>; 3]> = chunk
            .iter()
            .map(|r| {
                DESTINATIONS.map(|d| Delivery {
                    destination: d,
                    payload: &r.raw,
                })
            })
            .collect();
        let batch: Vec<Accept<'_>> = chunk
            .iter()
            .zip(&deliveries)
            .map(|(r, d)| Accept {
                inbound: r,
                disposition: Disposition::Route(d),
                ack: None,
                application_ack: None,
            })
            .collect();
        let accepted = store.accept(&batch, an_hour_ago).expect("seed");
        assert_eq!(accepted.len(), chunk.len());
    }
    // Both routed groups claimed (a claim hands out what is in the database so far: claim
    // until all are), the first marked sent; then the store goes without a report.
    let mut sent = Vec::new();
    for d in DESTINATIONS {
        let mut claims = Vec::new();
        while claims.len() < 2 * per_state {
            let more = store
                .claim_batch(
                    d,
                    2 * per_state - claims.len(),
                    Duration::from_secs(60),
                    "crashed-engine",
                    an_hour_ago,
                )
                .expect("lease");
            assert!(
                !more.is_empty(),
                "{d}: {} of the routed claimable",
                claims.len()
            );
            claims.extend(more);
        }
        assert_eq!(claims[per_state - 1].payload, msgs[per_state - 1].raw);
        for claim in &claims[..per_state] {
            store.mark_sent(claim, an_hour_ago).expect("mark sent");
        }
        sent.extend(claims.drain(..per_state).map(|c| c.item));
    }
    let batch: Vec<Accept<'_>> = records[2 * per_state..]
        .iter()
        .map(|r| Accept {
            inbound: r,
            disposition: Disposition::Later,
            ack: None,
            application_ack: None,
        })
        .collect();
    let accepted = store.accept(&batch, an_hour_ago).expect("seed");
    assert_eq!(accepted.len(), per_state);
    assert_eq!(store.unrouted(10_000).expect("query").len(), per_state);
    drop(store);
    write_database_leases(path, &sent, an_hour_ago);
}

/// The first group's items as an engine of store version 4 left them: `sent` under a lease
/// of the dead owner, its attempt open (the lease's token is the attempt's id).
fn write_database_leases(path: &Path, items: &[ItemId], at: Timestamp) {
    let at = i64::try_from(at.unix_millis()).expect("millis fit");
    let mut conn = rusqlite::Connection::open(path).expect("open the database");
    let tx = conn.transaction().expect("begin");
    {
        let mut attempt = tx
            .prepare(
                "INSERT INTO attempts (item_id, attempt, owner, started_at, sent_at)
                 VALUES (?1, 1, 'crashed-engine', ?2, ?2)",
            )
            .expect("prepare");
        let mut lease = tx
            .prepare(
                "UPDATE queue SET state = 'sent', lease_owner = 'crashed-engine',
                     lease_until = ?2, lease_token = ?3
                 WHERE id = ?1 AND state = 'ready'",
            )
            .expect("prepare");
        for item in items {
            let item = i64::try_from(item.0).expect("id fits");
            attempt.execute((item, at)).expect("attempt");
            let token = tx.last_insert_rowid();
            let changed = lease.execute((item, at + 60_000, token)).expect("lease");
            assert_eq!(changed, 1, "item {item} is ready in the database");
        }
    }
    tx.commit().expect("commit");
}
