//! Reprocessing (one message, a destination's errors, a time range) linked to the originals,
//! and retention by age and by size.

mod store_support;

use std::time::Duration;

use hl7_runtime::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{
    Delivery, InboundMessage, ItemState, MessageId, MessageState, SqliteStore, Store,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LEASE: Duration = Duration::from_secs(30);

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn inbound(i: u64, size: usize) -> InboundMessage {
    let raw = format!(
        "MSH|^~\\&|ADT|HOSP|||x||ADT^A08|{i}|P|2.5.1\rZZZ|{}\r",
        "x".repeat(size)
    )
    .into_bytes();
    InboundMessage {
        fingerprint: Fingerprint {
            key: DedupeKey {
                sending_application: "ADT".into(),
                sending_facility: "HOSP".into(),
                control_id: i.to_string(),
            },
            hash: PayloadHash::of(&raw),
        },
        raw,
        channel: "adt-in".into(),
        received_at: at(i * 1_000),
        msg_type: "ADT^A08".into(),
        patient_id: Some(format!("P{i}")),
    }
}

/// Messages 0..n received at i seconds, each routed to `a` and `b`.
fn seed(
    store: &SqliteStore,
    n: u64,
    size: usize,
) -> Result<Vec<MessageId>, hl7_runtime::store::Error> {
    let batch: Vec<_> = (0..n).map(|i| inbound(i, size)).collect();
    let ids: Vec<_> = store
        .ingest_many(&batch)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        let pa = format!("a:{i}");
        let pb = format!("b:{i}");
        store.route(
            id,
            &[
                Delivery {
                    destination: "a",
                    payload: pa.as_bytes(),
                },
                Delivery {
                    destination: "b",
                    payload: pb.as_bytes(),
                },
            ],
            at(i as u64 * 1_000),
        )?;
    }
    Ok(ids)
}

/// Delivers everything of `destination`; items whose payload is in `reject` are dead-lettered.
fn deliver(store: &SqliteStore, destination: &str, reject: &[&str], now: Timestamp) -> TestResult {
    while let Some(c) = store.claim(destination, LEASE, "w", now)? {
        if reject.iter().any(|r| c.payload == r.as_bytes()) {
            store.dead_letter(&c, "AR", Some(b"MSA|AR"), now)?;
        } else {
            store.complete(&c, Some(b"MSA|AA"), now)?;
        }
    }
    Ok(())
}

#[test]
fn reprocess_one_errors_and_range_link_to_originals() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("engine.db"))?;
    let ids = seed(&store, 10, 10)?;
    deliver(&store, "a", &[], at(100_000))?;
    deliver(&store, "b", &["b:2", "b:5", "b:7"], at(100_000))?;

    // One message: a new item per destination, linked to its latest item.
    let new = store.reprocess(ids[0], at(200_000))?;
    assert_eq!(new.len(), 2);
    let m = store.message(ids[0])?.ok_or("m0")?;
    assert_eq!(m.items.len(), 4);
    assert_eq!(m.items[2].reprocess_of, Some(m.items[0].id));
    assert_eq!(m.items[3].reprocess_of, Some(m.items[1].id));
    assert_eq!(m.items[2].state, ItemState::Ready);
    let c = store
        .claim("a", LEASE, "w", at(200_001))?
        .ok_or("reprocessed item")?;
    assert_eq!(
        (c.item, c.reprocess_of, &c.payload[..]),
        (new[0], Some(m.items[0].id), &b"a:0"[..])
    );
    store.complete(&c, None, at(200_002))?;
    deliver(&store, "b", &[], at(200_003))?;

    // All errors of b, in order, once.
    let redo = store.reprocess_errors("b", at(300_000))?;
    assert_eq!(redo.len(), 3);
    assert!(
        store.reprocess_errors("b", at(300_001))?.is_empty(),
        "already reprocessed"
    );
    assert!(store.reprocess_errors("a", at(300_001))?.is_empty());
    let mut seen = Vec::new();
    while let Some(c) = store.claim("b", LEASE, "w", at(300_002))? {
        seen.push(String::from_utf8(c.payload.clone())?);
        assert!(c.reprocess_of.is_some());
        store.complete(&c, None, at(300_003))?;
    }
    assert_eq!(seen, ["b:2", "b:5", "b:7"]);
    let m5 = store.message(ids[5])?.ok_or("m5")?;
    let original = m5
        .items
        .iter()
        .find(|i| i.state == ItemState::Error)
        .ok_or("error item")?;
    assert_eq!(original.last_error.as_deref(), Some("AR"));
    assert!(m5
        .items
        .iter()
        .any(|i| i.reprocess_of == Some(original.id) && i.state == ItemState::Done));

    // A time range: messages received in [3 s, 6 s) → 3 messages × 2 destinations.
    let ranged = store.reprocess_range(at(3_000), at(6_000), at(400_000))?;
    assert_eq!(ranged.len(), 6);
    assert_eq!(store.queue_depth("a")?, 3);
    assert_eq!(store.queue_depth("b")?, 3);

    // A message that failed before routing goes back to be routed.
    let lone = store.ingest(&inbound(50, 1))?;
    store.message_error(lone.id, "PID-3 missing")?;
    let m = store.message(lone.id)?.ok_or("lone")?;
    assert_eq!(
        (m.state, m.error.as_deref()),
        (MessageState::Error, Some("PID-3 missing"))
    );
    assert!(store.reprocess(lone.id, at(400_001))?.is_empty());
    assert_eq!(
        store.message(lone.id)?.ok_or("lone")?.state,
        MessageState::Received
    );
    assert_eq!(store.unrouted(10)?, [lone.id]);
    assert!(store.reprocess(MessageId(9_999), at(0)).is_err());
    Ok(())
}

#[test]
fn prune_by_age_and_size_keeps_queued_work() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("engine.db"))?;
    let ids = seed(&store, 20, 1_000)?;
    // Everything delivered except message 1 for b (still queued: b's head fails and waits).
    deliver(&store, "a", &[], at(100_000))?;
    let head = store.claim("b", LEASE, "w", at(100_000))?.ok_or("b head")?;
    store.complete(&head, None, at(100_000))?;
    let stuck = store
        .claim("b", LEASE, "w", at(100_000))?
        .ok_or("b second")?;
    store.fail(&stuck, "down", None, at(1_000_000), at(100_000))?;

    // By age: only message 0 is finished; b's items 1.. wait behind the failing head.
    let pruned = store.prune(at(10_000), None)?;
    assert_eq!(pruned.messages, 1);
    assert!(pruned.bytes_after < pruned.bytes_before);
    assert!(store.message(ids[0])?.is_none());
    assert!(
        store.message(ids[1])?.is_some(),
        "queued work is never pruned"
    );

    // Once b is delivered, messages received before 10 s go.
    deliver(&store, "b", &[], at(2_000_000))?;
    assert_eq!(store.prune(at(10_000), None)?.messages, 9);
    assert!(store.message(ids[9])?.is_none());
    assert!(store.message(ids[10])?.is_some());

    // By size: the oldest go first until the stored bytes fit.
    let before = store.prune(at(0), Some(u64::MAX))?;
    assert_eq!(before.messages, 0);
    let limit = before.bytes_after / 2;
    let pruned = store.prune(at(0), Some(limit))?;
    assert!(pruned.bytes_after <= limit, "{pruned:?}");
    assert_eq!(pruned.messages, 5, "{pruned:?}");
    assert!(store.message(ids[14])?.is_none());
    assert!(store.message(ids[15])?.is_some());
    Ok(())
}

/// The `CREATE INDEX` statement of `name`, as the file holds it.
fn index_sql(path: &std::path::Path, name: &str) -> Result<String, rusqlite::Error> {
    rusqlite::Connection::open(path)?.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
        [name],
        |r| r.get(0),
    )
}

#[test]
fn a_version_3_file_gets_the_version_4_indexes_and_keeps_its_links() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("v3.db");
    {
        let store = SqliteStore::open(&path)?;
        seed(&store, 3, 10)?;
        deliver(&store, "a", &[], at(100_000))?;
        deliver(&store, "b", &["b:1"], at(100_000))?;
        assert_eq!(store.reprocess_errors("b", at(200_000))?.len(), 1);
    }
    {
        // As version 3 left it: every item in the index, linked or not.
        let conn = rusqlite::Connection::open(&path)?;
        store_support::without_raw_codec(&conn)?;
        conn.execute_batch(
            "DROP INDEX queue_reprocess_of;
             CREATE INDEX queue_reprocess_of ON queue (reprocess_of);
             DROP INDEX queue_active;
             CREATE INDEX queue_active ON queue (destination, id)
                 WHERE state IN ('ready', 'leased', 'sent');
             PRAGMA user_version = 3;",
        )?;
    }
    let store = SqliteStore::open(&path)?;
    let sql = index_sql(&path, "queue_reprocess_of")?;
    assert!(sql.contains("WHERE reprocess_of IS NOT NULL"), "{sql}");
    let active = index_sql(&path, "queue_active")?;
    assert!(
        active.contains("state IN ('ready', 'leased') OR state = 'sent'"),
        "{active}"
    );
    let version: i64 =
        rusqlite::Connection::open(&path)?
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
    assert_eq!(version, 6);

    assert_eq!(store.queue_depth("b")?, 1, "the reprocessed item, queued");
    // The link made before the migration still counts: b's error is not reprocessed twice.
    assert!(store.reprocess_errors("b", at(300_000))?.is_empty());
    let c = store
        .claim("b", LEASE, "w", at(300_001))?
        .ok_or("the reprocessed item")?;
    assert_eq!(&c.payload[..], b"b:1");
    assert!(c.reprocess_of.is_some());
    store.complete(&c, None, at(300_002))?;
    // And the foreign key's SET NULL still finds the links when the original goes.
    store.prune(at(10_000), None)?;
    drop(store);
    SqliteStore::open(&path)?;
    assert_eq!(
        index_sql(&path, "queue_reprocess_of")?,
        sql,
        "opening again migrates nothing"
    );
    Ok(())
}
