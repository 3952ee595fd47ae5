//! Per-destination FIFO queues on SQLite: order under concurrent workers (T-PGQ-2 shape),
//! leases and recovery (T-CRASH-4 shape), stale reports.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hl7_runtime::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{
    ClaimRequest, Delivery, Error, Finish, InboundMessage, ItemId, ItemState, MessageId,
    SqliteStore, Store,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const T0: u64 = 1_714_564_800_000;

fn at(offset_ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(T0 + offset_ms)
}

fn inbound(i: usize) -> InboundMessage {
    let raw = format!("MSH|^~\\&|ADT|HOSP|||20240501||ADT^A01|{i}|P|2.5.1\r").into_bytes();
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
        received_at: at(i as u64),
        msg_type: "ADT^A01".into(),
        patient_id: None,
    }
}

/// Ingests `n` messages in batches of 100.
fn ingest(store: &SqliteStore, n: usize) -> Result<Vec<MessageId>, Error> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let batch: Vec<_> = chunk.iter().map(|&i| inbound(i)).collect();
        ids.extend(store.ingest_many(&batch)?.into_iter().map(|r| r.id));
    }
    Ok(ids)
}

fn payload(destination: &str, seq: usize) -> Vec<u8> {
    format!("{destination}:{seq}").into_bytes()
}

fn seq_of(payload: &[u8]) -> usize {
    let text = String::from_utf8_lossy(payload);
    let seq = text.rsplit(':').next().unwrap_or_default();
    seq.parse().unwrap_or(usize::MAX)
}

/// Workers claim round-robin over `destinations` until `total` items are completed; returns
/// the delivery log per destination (payload sequence numbers, in delivery order) and the
/// completed item ids.
fn drain(
    store: &Arc<SqliteStore>,
    destinations: &[&str],
    workers: usize,
    total: usize,
    now: Timestamp,
) -> (HashMap<String, Vec<usize>>, Vec<ItemId>) {
    let log: Arc<Mutex<HashMap<String, Vec<usize>>>> = Arc::default();
    let done: Arc<Mutex<Vec<ItemId>>> = Arc::default();
    let completed = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for w in 0..workers {
            let (store, log, done, completed) = (store, &log, &done, &completed);
            s.spawn(move || {
                let owner = format!("worker-{w}");
                let mut idle = 0u32;
                while completed.load(Ordering::SeqCst) < total && idle < 100_000 {
                    let mut progressed = false;
                    for d in destinations.iter().cycle().skip(w).take(destinations.len()) {
                        let claim = store
                            .claim(d, Duration::from_secs(30), &owner, now)
                            .expect("claim");
                        let Some(claim) = claim else { continue };
                        log.lock()
                            .expect("log")
                            .entry(claim.destination.clone())
                            .or_default()
                            .push(seq_of(&claim.payload));
                        store
                            .complete(&claim, Some(b"MSA|AA"), now)
                            .expect("complete");
                        done.lock().expect("done").push(claim.item);
                        completed.fetch_add(1, Ordering::SeqCst);
                        progressed = true;
                    }
                    if progressed {
                        idle = 0;
                    } else {
                        idle += 1;
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    let log = std::mem::take(&mut *log.lock().expect("log"));
    let done = std::mem::take(&mut *done.lock().expect("done"));
    (log, done)
}

fn assert_exactly_once(done: &[ItemId], expected: usize) {
    let mut sorted = done.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), done.len(), "an item was completed twice");
    assert_eq!(done.len(), expected);
}

#[test]
fn fifo_per_destination_with_four_workers() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db"))?);
    let destinations = ["ehr", "billing", "archive"];
    let ids = ingest(&store, 1_000)?;
    for (seq, &id) in ids.iter().enumerate() {
        let payloads: Vec<_> = destinations.iter().map(|d| payload(d, seq)).collect();
        let deliveries: Vec<_> = destinations
            .iter()
            .zip(&payloads)
            .map(|(d, p)| Delivery {
                destination: d,
                payload: p,
            })
            .collect();
        store.route(id, &deliveries, at(0))?;
    }
    for d in destinations {
        assert_eq!(store.queue_depth(d)?, 1_000);
        assert_eq!(
            store.oldest_ready_age(d, at(5_000))?,
            Some(Duration::from_secs(5))
        );
    }

    let (log, done) = drain(&store, &destinations, 4, 3_000, at(1));
    assert_exactly_once(&done, 3_000);
    for d in destinations {
        let order = &log[d];
        assert_eq!(*order, (0..1_000).collect::<Vec<_>>(), "{d} out of order");
        assert_eq!(store.queue_depth(d)?, 0);
        assert_eq!(store.oldest_ready_age(d, at(1))?, None);
    }
    let m = store.message(ids[0])?.ok_or("message 0")?;
    assert_eq!(m.items.len(), 3);
    assert!(m
        .items
        .iter()
        .all(|i| i.state == ItemState::Done && i.attempts == 1));
    Ok(())
}

#[test]
fn leases_expire_and_recover_without_double_claims() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("engine.db"))?;
    let ids = ingest(&store, 3)?;
    for (seq, &id) in ids.iter().enumerate() {
        store.enqueue(id, "lab", &payload("lab", seq), at(0))?;
    }
    let lease = Duration::from_secs(10);

    let first = store.claim("lab", lease, "a", at(0))?.ok_or("head")?;
    assert_eq!((seq_of(&first.payload), first.attempt), (0, 1));
    assert_eq!(first.lease_until, at(10_000));
    // The head is leased: nothing else of this destination is claimable.
    assert_eq!(store.claim("lab", lease, "b", at(5_000))?, None);
    assert_eq!(store.recover(at(9_999))?.leases_released, 0);
    store.mark_sent(&first, at(100))?;
    assert_eq!(store.claim("lab", lease, "b", at(9_999))?, None);

    // The lease ends: recovery makes it ready, and another worker gets it again.
    let recovery = store.recover(at(10_000))?;
    assert_eq!(recovery.leases_released, 1);
    let second = store.claim("lab", lease, "b", at(10_001))?.ok_or("again")?;
    assert_eq!((second.item, second.attempt), (first.item, 2));
    // The stale holder's report changes nothing.
    assert!(matches!(
        store.complete(&first, None, at(10_002)),
        Err(Error::LeaseLost(item)) if item == first.item
    ));
    assert!(matches!(
        store.mark_sent(&first, at(10_002)),
        Err(Error::LeaseLost(_))
    ));

    // A failure keeps the item at the head until its retry time.
    store.fail(&second, "connection refused", None, at(20_000), at(10_003))?;
    assert_eq!(store.claim("lab", lease, "b", at(19_999))?, None);
    let third = store.claim("lab", lease, "c", at(20_000))?.ok_or("retry")?;
    assert_eq!((third.item, third.attempt), (first.item, 3));

    // An expired lease is also taken over by claim itself, without recover.
    let fourth = store
        .claim("lab", lease, "d", at(30_000))?
        .ok_or("takeover")?;
    assert_eq!((fourth.item, fourth.attempt), (first.item, 4));
    assert!(matches!(
        store.fail(&third, "late", None, at(0), at(30_001)),
        Err(Error::LeaseLost(_))
    ));

    // Dead-lettering lets the next item through.
    store.dead_letter(&fourth, "AR: unknown patient", Some(b"MSA|AR"), at(30_002))?;
    let next = store.claim("lab", lease, "d", at(30_003))?.ok_or("next")?;
    assert_eq!(seq_of(&next.payload), 1);
    store.complete(&next, Some(b"MSA|AA"), at(30_004))?;

    let m = store.message(ids[0])?.ok_or("message")?;
    assert_eq!(m.items[0].state, ItemState::Error);
    assert_eq!(m.items[0].attempts, 4);
    assert_eq!(
        m.items[0].last_error.as_deref(),
        Some("AR: unknown patient")
    );
    assert_eq!(store.queue_depth("lab")?, 1);
    Ok(())
}

/// A worker's turn in one commit: reports, untried claims given back, the next batch; and a
/// stale report among them changes nothing at all.
#[test]
fn report_and_claim_is_one_turn() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("engine.db"))?;
    let ids = ingest(&store, 6)?;
    for (seq, &id) in ids.iter().enumerate() {
        store.enqueue(id, "lab", &payload("lab", seq), at(0))?;
    }
    let lease = Duration::from_secs(10);
    let request = ClaimRequest {
        destination: "lab",
        max: 3,
        lease,
        owner: "w",
    };
    let first = store.claim_batch("lab", 3, lease, "w", at(0))?;
    assert_eq!(
        first.iter().map(|c| seq_of(&c.payload)).collect::<Vec<_>>(),
        [0, 1, 2]
    );

    // 0 delivered, 1 failed (retry later), 2 untried: nothing is claimable behind 1.
    let reports = [
        (&first[0], Finish::Done, Some(&b"MSA|AA"[..])),
        (
            &first[1],
            Finish::Retry {
                error: "down",
                retry_at: at(5_000),
            },
            None,
        ),
    ];
    let next = store.report_and_claim(&reports, &first[2..], Some(&request), at(1))?;
    assert!(next.is_empty(), "the head waits for its retry");
    let m2 = store.message(ids[2])?.ok_or("message 2")?;
    assert_eq!(
        (m2.items[0].state, m2.items[0].attempts),
        (ItemState::Ready, 0)
    );

    // After the retry time: 1 again (attempt 2), then 2 and 3, claimed with the report.
    let retry = store.claim_batch("lab", 1, lease, "w", at(5_000))?;
    assert_eq!((seq_of(&retry[0].payload), retry[0].attempt), (1, 2));
    let reports = [(&retry[0], Finish::Done, None)];
    let next = store.report_and_claim(&reports, &[], Some(&request), at(5_001))?;
    assert_eq!(
        next.iter().map(|c| seq_of(&c.payload)).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert_eq!(next[0].attempt, 1, "a given-back claim is not an attempt");

    // A stale report: the turn fails whole; 2 is still leased, nothing new is claimed.
    let reports = [
        (&retry[0], Finish::Done, None),
        (&next[0], Finish::Done, None),
    ];
    assert!(matches!(
        store.report_and_claim(&reports, &[], Some(&request), at(5_002)),
        Err(Error::LeaseLost(item)) if item == retry[0].item
    ));
    assert_eq!(
        store.message(ids[2])?.ok_or("message 2")?.items[0].state,
        ItemState::Leased
    );
    assert_eq!(
        store.message(ids[5])?.ok_or("message 5")?.items[0].state,
        ItemState::Ready
    );

    // Without a next claim: only the reports.
    let reports: Vec<_> = next.iter().map(|c| (c, Finish::Done, None)).collect();
    assert!(store
        .report_and_claim(&reports, &[], None, at(5_003))?
        .is_empty());
    assert_eq!(store.queue_depth("lab")?, 1);
    Ok(())
}

/// T-CRASH-4 shape: 1,000 messages in each of received, leased (expired) and
/// sent-awaiting-ack, injected as a crashed engine leaves them; reopen, recover, drain.
#[test]
fn recovery_of_every_state() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    let destinations = ["d0", "d1", "d2", "d3"];
    {
        let store = SqliteStore::open(&path)?;
        let ids = ingest(&store, 3_000)?;
        for (seq, &id) in ids[1_000..].iter().enumerate() {
            let d = destinations[seq % 4];
            store.enqueue(id, d, &payload(d, seq / 4), at(0))?;
        }
    }
    {
        // State injection: what a killed engine leaves behind (leases ended at T0 + 1 s).
        let conn = rusqlite::Connection::open(&path)?;
        let until = (T0 + 1_000) as i64;
        let leased = conn.execute(
            "UPDATE queue SET state = 'leased', lease_owner = 'dead', lease_until = ?1,
                 lease_token = 0, attempts = 1
             WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT 1000)",
            [until],
        )?;
        let sent = conn.execute(
            "UPDATE queue SET state = 'sent', lease_owner = 'dead', lease_until = ?1,
                 lease_token = 0, attempts = 1
             WHERE state = 'ready'",
            [until],
        )?;
        assert_eq!((leased, sent), (1_000, 1_000));
    }

    let store = Arc::new(SqliteStore::open(&path)?);
    let now = at(2_000);
    // Before recovery, a live lease is respected: at T0 + 0.5 s nothing is claimable.
    for d in destinations {
        assert_eq!(
            store.claim(d, Duration::from_secs(30), "early", at(500))?,
            None
        );
    }
    let recovery = store.recover(now)?;
    assert_eq!(recovery.leases_released, 2_000);
    assert_eq!(recovery.unrouted, 1_000);

    // Route what was only received, then drain everything with 4 workers.
    let unrouted = store.unrouted(10_000)?;
    assert_eq!(unrouted.len(), 1_000);
    for (i, &id) in unrouted.iter().enumerate() {
        let seq = 500 + i / 4;
        let d = destinations[i % 4];
        store.enqueue(id, d, &payload(d, seq), now)?;
    }
    assert_eq!(store.recover(now)?, Default::default());
    let (log, done) = drain(&store, &destinations, 4, 3_000, now);
    assert_exactly_once(&done, 3_000);
    for d in destinations {
        assert_eq!(log[d], (0..750).collect::<Vec<_>>(), "{d}");
        assert_eq!(store.queue_depth(d)?, 0);
    }
    assert!(store.unrouted(10)?.is_empty());
    Ok(())
}
