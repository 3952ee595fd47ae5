//! The store side of the admin endpoint: search (filters, text, time, keyset paging), message
//! detail, discard, edited reprocess, reprocess of a failure window, queue figures, the audit
//! log, retention keeping the text index in step, the text index filled in batches, and the
//! migrations of a version 1 file and of a first version 2 file.

mod store_support;

use std::time::Duration;

use hl7_runtime::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{
    Accept, AttemptInfo, AuditEntry, AuditQuery, Delivery, Disposition, InboundMessage, ItemState,
    MessageId, MessageState, QueueView, SearchQuery, SqliteStore, Store,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

/// Message `i`: ADT^A08 for even i, ORU^R01 for odd; patient `P{i % 10}`; received at i s.
fn inbound(i: u64) -> InboundMessage {
    let (ty, app) = if i.is_multiple_of(2) {
        ("ADT^A08^ADT_A01", "REG")
    } else {
        ("ORU^R01", "LAB")
    };
    let raw = format!(
        "MSH|^~\\&|{app}|HOSP|||20240101||{ty}|C{i}|P|2.5.1\rPID|1||P{}^^^HOSP||DOE^JANE{i}\rOBX|1|ST|GLUCOSE||{}\r",
        i % 10,
        if i == 7 { "Hämoglobin" } else { "normal" }
    )
    .into_bytes();
    InboundMessage {
        fingerprint: Fingerprint {
            key: DedupeKey {
                sending_application: app.into(),
                sending_facility: "HOSP".into(),
                control_id: format!("C{i}"),
            },
            hash: PayloadHash::of(&raw),
        },
        raw,
        channel: "in".into(),
        received_at: at(i * 1_000),
        msg_type: ty.into(),
        patient_id: Some(format!("P{}", i % 10)),
    }
}

fn seed(store: &SqliteStore, n: u64) -> Result<Vec<MessageId>, hl7_runtime::store::Error> {
    seed_range(store, 0..n)
}

fn seed_range(
    store: &SqliteStore,
    range: std::ops::Range<u64>,
) -> Result<Vec<MessageId>, hl7_runtime::store::Error> {
    let messages: Vec<_> = range.map(inbound).collect();
    let payload = b"MSH|^~\\&|ENGINE|HOSP\r".to_vec();
    let deliveries = [Delivery {
        destination: "ehr",
        payload: &payload,
    }];
    let batch: Vec<_> = messages
        .iter()
        .map(|m| Accept {
            inbound: m,
            disposition: Disposition::Route(&deliveries),
            ack: None,
            application_ack: None,
        })
        .collect();
    let accepted = store.accept(&batch, at(0))?;
    Ok(accepted
        .into_iter()
        .map(|a| match a {
            hl7_runtime::store::Accepted::Stored { receipt, .. } => receipt.id,
            other => panic!("not stored: {other:?}"),
        })
        .collect())
}

fn ids(found: &[hl7_runtime::store::MessageSummary]) -> Vec<u64> {
    found.iter().map(|m| m.id.0).collect()
}

#[test]
fn search_filters_text_time_and_keyset_pages() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("s.db"))?;
    let stored = seed(&store, 100)?;
    assert_eq!(stored.len(), 100);

    // Newest first, keyset pages that join up.
    let first = store.search(&SearchQuery::new(30))?;
    assert_eq!(ids(&first), (71..=100).rev().collect::<Vec<_>>());
    let mut q = SearchQuery::new(30);
    q.before = Some(first.last().unwrap().id);
    assert_eq!(ids(&store.search(&q)?), (41..=70).rev().collect::<Vec<_>>());
    assert_eq!(first[0].items.len(), 1);
    assert_eq!(first[0].items[0].destination, "ehr");

    let mut q = SearchQuery::new(100);
    q.patient_id = Some("P3".into());
    let found = store.search(&q)?;
    // i = 3, 13, ..., 93 are ids 4, 14, ..., 94.
    assert_eq!(
        ids(&found),
        (0..10).rev().map(|k| 4 + 10 * k).collect::<Vec<_>>()
    );

    let mut q = SearchQuery::new(10);
    q.control_id = Some("C42".into());
    assert_eq!(ids(&store.search(&q)?), vec![43]);

    let mut q = SearchQuery::new(100);
    q.message_code = Some("ORU".into());
    q.event = Some("R01".into());
    assert_eq!(store.search(&q)?.len(), 50);
    q.event = Some("A08".into());
    assert!(store.search(&q)?.is_empty());
    let mut q = SearchQuery::new(100);
    q.event = Some("A08".into());
    q.sending_application = Some("REG".into());
    assert_eq!(store.search(&q)?.len(), 50);

    // Words anywhere in the raw message, accents and case ignored, prefixes with *.
    let mut q = SearchQuery::new(100);
    q.text = Some("doe^jane42".into());
    assert_eq!(ids(&store.search(&q)?), vec![43]);
    q.text = Some("haemo hamoglobin".into());
    assert!(store.search(&q)?.is_empty());
    q.text = Some("HAMOGLOBIN".into());
    assert_eq!(ids(&store.search(&q)?), vec![8]);
    q.text = Some("JANE4*".into());
    assert_eq!(ids(&store.search(&q)?).len(), 11);
    // Text with a patient: the patient's index drives, the text filters.
    q.patient_id = Some("P2".into());
    assert_eq!(ids(&store.search(&q)?), vec![43]);
    // Text with paging.
    let mut q = SearchQuery::new(5);
    q.text = Some("glucose".into());
    q.before = Some(MessageId(50));
    assert_eq!(ids(&store.search(&q)?), vec![49, 48, 47, 46, 45]);

    // Time range: received at 10 s ..< 20 s are i = 10..19, ids 11..=20.
    let mut q = SearchQuery::new(100);
    q.from = Some(at(10_000));
    q.to = Some(at(20_000));
    assert_eq!(ids(&store.search(&q)?), (11..=20).rev().collect::<Vec<_>>());

    let mut q = SearchQuery::new(100);
    q.state = Some(MessageState::Error);
    assert!(store.search(&q)?.is_empty());
    Ok(())
}

/// A claim is held in memory until its outcome is filed; the detail shows the attempt in
/// progress all the same, and once filed the one attempt with its outcome.
#[test]
fn detail_shows_the_attempt_in_progress() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("s.db"))?;
    let ids = seed(&store, 1)?;
    let claim = store
        .claim("ehr", Duration::from_secs(30), "w", at(1))?
        .unwrap();
    store.mark_sent(&claim, at(2))?;

    let detail = store.message_detail(ids[0])?.unwrap();
    let item = &detail.items[0];
    assert_eq!((item.info.state, item.info.attempts), (ItemState::Sent, 1));
    let in_progress = AttemptInfo {
        attempt: 1,
        owner: "w".into(),
        started_at: at(1),
        sent_at: Some(at(2)),
        finished_at: None,
        outcome: None,
        error: None,
        response: None,
    };
    assert_eq!(item.attempts, std::slice::from_ref(&in_progress));

    store.complete(&claim, Some(b"MSA|AA|C0"), at(3))?;
    let detail = store.message_detail(ids[0])?.unwrap();
    let item = &detail.items[0];
    assert_eq!(item.info.state, ItemState::Done);
    let done = AttemptInfo {
        finished_at: Some(at(3)),
        outcome: Some("done".into()),
        response: Some(b"MSA|AA|C0".to_vec()),
        ..in_progress
    };
    assert_eq!(item.attempts, [done]);
    Ok(())
}

#[test]
fn detail_discard_edit_reprocess_and_audit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("s.db"))?;
    let ids = seed(&store, 3)?;
    let lease = Duration::from_secs(30);

    // First item delivered, second dead-lettered, third still queued.
    let c = store.claim("ehr", lease, "w", at(1))?.unwrap();
    store.complete(&c, Some(b"MSA|AA|C0"), at(2))?;
    let c = store.claim("ehr", lease, "w", at(3))?.unwrap();
    store.dead_letter(&c, "AR from the EHR", Some(b"MSA|AR|C1"), at(4))?;

    let detail = store.message_detail(ids[1])?.unwrap();
    assert_eq!(detail.items.len(), 1);
    assert_eq!(detail.items[0].info.state, ItemState::Error);
    assert_eq!(detail.items[0].attempts.len(), 1);
    let attempt = &detail.items[0].attempts[0];
    assert_eq!(attempt.outcome.as_deref(), Some("dead letter"));
    assert_eq!(attempt.response.as_deref(), Some(&b"MSA|AR|C1"[..]));
    assert_eq!(detail.items[0].payload, b"MSH|^~\\&|ENGINE|HOSP\r");

    let stats = store.queue_stats()?;
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].depth, stats[0].errors), (1, 1));
    let errors = store.queue_items("ehr", QueueView::Errors, None, 10)?;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].message_id, ids[1]);

    // Edited copy of message 2: new message linked, the original's dead letter discarded.
    let mut edited = inbound(1);
    edited.raw = b"MSH|^~\\&|LAB|HOSP|||20240101||ORU^R01|C1|P|2.5.1\rPID|1||P1\r".to_vec();
    let payload = b"edited".to_vec();
    let deliveries = [Delivery {
        destination: "ehr",
        payload: &payload,
    }];
    let done = store.reprocess_edited(
        ids[1],
        &Accept {
            inbound: &edited,
            disposition: Disposition::Route(&deliveries),
            ack: None,
            application_ack: None,
        },
        at(5),
    )?;
    assert_eq!(done.items.len(), 1);
    assert_eq!(done.superseded, vec![detail.items[0].info.id]);
    let copy = store.message_detail(done.id)?.unwrap();
    assert_eq!(copy.edited_from, Some(ids[1]));
    assert_eq!(store.message_detail(ids[1])?.unwrap().edits, vec![done.id]);
    assert_eq!(
        store.message(ids[1])?.unwrap().items[0].state,
        ItemState::Discarded
    );
    assert_eq!(store.queue_stats()?[0].errors, 0);

    // Discard the queued third message.
    let discarded = store.discard(ids[2], None, at(6))?;
    assert_eq!(discarded.items.len(), 1);
    assert!(discarded.in_flight.is_empty());
    assert_eq!(discarded.state, MessageState::Routed);
    assert_eq!(
        store.queue_depth("ehr")?,
        1,
        "only the edited copy is queued"
    );

    // Reprocess the failures of a window: the dead letter is superseded, nothing to do.
    let again = store.reprocess_failed(None, at(0), at(10), at(7))?;
    assert!(again.items.is_empty());
    // A message in error goes back to routing.
    store.message_error(ids[0], "bad")?;
    let again = store.reprocess_failed(None, at(0), at(10_000), at(8))?;
    assert_eq!(again.messages, vec![ids[0]]);
    assert_eq!(store.unrouted(10)?, vec![ids[0]]);

    // Audit.
    store.record_audit(
        &AuditEntry {
            user: "alice",
            action: "view",
            messages: &[ids[0]],
            details: "{}",
        },
        at(9),
    )?;
    store.record_audit(
        &AuditEntry {
            user: "bob",
            action: "discard",
            messages: &ids,
            details: r#"{"reason":"test"}"#,
        },
        at(10),
    )?;
    let all = store.audit(&AuditQuery::new(10))?;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].action, "discard");
    assert_eq!(all[0].message_count, 3);
    let mut q = AuditQuery::new(10);
    q.message = Some(ids[0]);
    q.user = Some("alice".into());
    let mine = store.audit(&q)?;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].at, at(9));
    q.before = Some(mine[0].id);
    assert!(store.audit(&q)?.is_empty());
    Ok(())
}

#[test]
fn prune_removes_messages_from_the_text_index() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("s.db"))?;
    let ids = seed(&store, 4)?;
    for id in &ids {
        store.discard(*id, None, at(1))?;
    }
    let pruned = store.prune(at(2_500), None)?;
    assert_eq!(pruned.messages, 3);
    let mut q = SearchQuery::new(10);
    q.text = Some("glucose".into());
    assert_eq!(ids_of(&store, &q)?, vec![4]);
    Ok(())
}

fn ids_of(store: &SqliteStore, q: &SearchQuery) -> Result<Vec<u64>, hl7_runtime::store::Error> {
    Ok(ids(&store.search(q)?))
}

/// The version 1 schema, as the first release wrote it.
const V1: &str = "
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, received_at INTEGER NOT NULL,
    msg_type TEXT NOT NULL, patient_id TEXT, sending_app TEXT NOT NULL,
    sending_facility TEXT NOT NULL, control_id TEXT NOT NULL, payload_hash BLOB NOT NULL,
    raw BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'received', error TEXT, ack BLOB);
CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    destination TEXT NOT NULL, payload BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'ready',
    created_at INTEGER NOT NULL, ready_at INTEGER NOT NULL, lease_owner TEXT,
    lease_until INTEGER, lease_token INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, reprocess_of INTEGER REFERENCES queue (id) ON DELETE SET NULL,
    finished_at INTEGER);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL, owner TEXT NOT NULL, started_at INTEGER NOT NULL,
    sent_at INTEGER, finished_at INTEGER, outcome TEXT, error TEXT, response BLOB);
PRAGMA user_version = 1;
";

#[test]
fn a_version_1_file_is_migrated_and_its_messages_indexed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(V1)?;
        conn.execute(
            "INSERT INTO messages (channel, received_at, msg_type, patient_id, sending_app,
                 sending_facility, control_id, payload_hash, raw, state)
             VALUES ('in', 5, 'ORU^R01', 'P9', 'LAB', 'HOSP', 'OLD1', x'00', ?1, 'routed')",
            [&b"MSH|^~\\&|LAB|HOSP|||x||ORU^R01|OLD1|P|2.5.1\rOBX|1|ST|POTASSIUM\r"[..]],
        )?;
    }
    let store = SqliteStore::open(&path)?;
    let mut q = SearchQuery::new(10);
    q.text = Some("potassium".into());
    q.message_code = Some("ORU".into());
    let found = store.search(&q)?;
    assert_eq!(ids(&found), vec![1]);
    assert_eq!(found[0].control_id, "OLD1");
    // New messages after the migration are indexed by the trigger.
    seed(&store, 2)?;
    q.text = Some("glucose".into());
    q.message_code = None;
    assert_eq!(ids(&store.search(&q)?), vec![3, 2]);
    drop(store);
    let version: i64 =
        rusqlite::Connection::open(&path)?
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
    assert_eq!(version, 6);
    // Opening again does not migrate twice.
    SqliteStore::open(&path)?;
    Ok(())
}

#[test]
fn a_file_of_the_first_version_2_keeps_its_text_index() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("v2.db");
    seed(&SqliteStore::open(&path)?, 3)?;
    {
        // As the first build of version 2 left it: every message indexed by a trigger.
        let conn = rusqlite::Connection::open(&path)?;
        store_support::without_raw_codec(&conn)?;
        conn.execute_batch(
            "DROP TABLE text_indexed;
             INSERT INTO messages_text (rowid, body) SELECT id, CAST(raw AS TEXT) FROM messages;
             CREATE TRIGGER messages_text_insert AFTER INSERT ON messages BEGIN
                 INSERT INTO messages_text (rowid, body) VALUES (new.id, CAST(new.raw AS TEXT));
             END;
             PRAGMA user_version = 2;",
        )?;
    }
    let store = SqliteStore::open(&path)?;
    assert_eq!(store.index_text(100)?, 0, "already indexed");
    seed_range(&store, 3..5)?;
    assert_eq!(store.index_text(1)?, 1);
    let mut q = SearchQuery::new(10);
    q.text = Some("glucose".into());
    assert_eq!(ids(&store.search(&q)?), vec![5, 4, 3, 2, 1]);
    assert_eq!(store.index_text(100)?, 0, "the search caught up");
    drop(store);
    let triggers: i64 = rusqlite::Connection::open(&path)?.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = 'messages_text_insert'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(triggers, 0);
    Ok(())
}
