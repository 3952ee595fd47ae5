//! The engine end to end over loopback, in one process: fan-out, duplicates (T-DEDUPE-1),
//! destination answers (T-ACK-2, T-ACK-3), a slow destination (T-SLOW-2), unreadable input, a
//! store that refuses a message, and the configurations it refuses.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::{adt, connect, msa, wait_for, Run, Sink, SinkReply};
use hl7_runtime::ack::AckCode;
use hl7_runtime::engine::{
    Channel, ConfigError, Destination, Engine, EngineBuilder, Event, RetryPolicy, Route,
    RunningEngine,
};
use hl7_runtime::store::{ItemState, MessageState, Options, SqliteStore, Store, Synchronous};
use hl7_runtime::transport::{ClientConfig, MllpClient};

fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(dir.path().join("engine.db")).expect("open store"))
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(20), Duration::from_millis(200))
}

fn engine(store: Arc<SqliteStore>) -> EngineBuilder {
    Engine::builder(store).channel(Channel::mllp("in", "127.0.0.1:0"))
}

/// An engine that routes every message to one destination, `ehr`, a sink that answers `AA`.
async fn everything_to_one_sink(dir: &tempfile::TempDir) -> (Sink, RunningEngine) {
    let sink = Sink::aa().await;
    let running = engine(store(dir))
        .destination(Destination::mllp("ehr", sink.addr.to_string()))
        .route(Route::new("all").to("ehr"))
        .run()
        .await;
    (sink, running)
}

async fn client(engine: &RunningEngine) -> MllpClient {
    connect(engine, "in").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adt_fans_out_to_three_destinations_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sinks = [Sink::aa().await, Sink::aa().await, Sink::aa().await];
    let mut builder = engine(store(&dir));
    for (name, sink) in ["a", "b", "c"].iter().zip(&sinks) {
        builder = builder.destination(Destination::mllp(*name, sink.addr.to_string()));
    }
    let running = builder
        .route(
            Route::new("ADT")
                .when(|m| m.is("ADT", "*"))
                .to("a")
                .to("b")
                .to("c"),
        )
        .run()
        .await;
    let mut client = client(&running).await;
    let mut sent = Vec::new();
    for i in 0..50 {
        let id = format!("FAN{i}");
        let message = adt(&id, "P1", i);
        let ack = client.send(&message).await.unwrap();
        assert_eq!(msa(&ack), ("AA".to_owned(), id.clone()));
        sent.push(message);
    }
    for sink in &sinks {
        wait_for("50 deliveries", Duration::from_secs(30), || {
            sink.count() >= 50
        })
        .await;
        assert_eq!(
            *sink.received.lock().unwrap(),
            sent,
            "same bytes, same order"
        );
    }
    let stats = running.channel_stats("in").unwrap();
    assert_eq!(stats.acks(AckCode::AA), 50);
    running.shutdown().await;
}

/// T-DEDUPE-1: 1,000 messages, 10% resent verbatim, 5% reusing a control ID with another body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_dedupe_1_resends_and_reused_control_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, running) = everything_to_one_sink(&dir).await;
    let mut events = running.subscribe();
    let mut client = client(&running).await;
    let mut acks = Vec::new();
    for i in 0..1000u32 {
        let id = format!("D{i}");
        let message = adt(&id, "P2", 0);
        let first = client.send(&message).await.unwrap();
        assert_eq!(msa(&first), ("AA".to_owned(), id.clone()));
        if i % 10 == 0 {
            // A verbatim resend: the stored ACK again, byte for byte.
            let again = client.send(&message).await.unwrap();
            assert_eq!(again, first, "a verbatim resend gets the stored ACK");
        }
        if i % 20 == 5 {
            let reused = adt(&id, "P2", 1);
            let ack = client.send(&reused).await.unwrap();
            assert_eq!(msa(&ack), ("AA".to_owned(), id.clone()));
        }
        acks.push(first);
    }
    let stats = running.channel_stats("in").unwrap();
    assert_eq!(
        stats.duplicates.load(std::sync::atomic::Ordering::Relaxed),
        100
    );
    assert_eq!(
        stats
            .control_id_reuse
            .load(std::sync::atomic::Ordering::Relaxed),
        50
    );
    wait_for("1,050 deliveries", Duration::from_secs(60), || {
        sink.count() >= 1050
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.count(),
        1050,
        "resends are not routed again; reused IDs are"
    );
    let mut reuse_events = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, Event::ControlIdReuse { .. }) {
            reuse_events += 1;
        }
    }
    assert_eq!(reuse_events, 50);
    running.shutdown().await;
}

/// T-ACK-3: `AR` is dead-lettered at once with an event, never retried; `AE` is retried per
/// policy (3 retries) and then dead-lettered; the items behind proceed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_ack_3_reject_is_not_retried_error_is_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let rejecting = Sink::start(Arc::new(|id: &str, _| {
        let code = if id == "R1" { AckCode::AR } else { AckCode::AA };
        SinkReply::Ack(code, Duration::ZERO)
    }))
    .await;
    let erring = Sink::start(Arc::new(|id: &str, _| {
        let code = if id == "R1" { AckCode::AE } else { AckCode::AA };
        SinkReply::Ack(code, Duration::ZERO)
    }))
    .await;
    let store = store(&dir);
    let running = engine(Arc::clone(&store))
        .destination(Destination::mllp("rej", rejecting.addr.to_string()).retry(quick_retry()))
        .destination(Destination::mllp("err", erring.addr.to_string()).retry(quick_retry()))
        .route(Route::new("all").to("rej").to("err"))
        .run()
        .await;
    let mut events = running.subscribe();
    let mut client = client(&running).await;
    for id in ["R1", "R2"] {
        client.send(&adt(id, "P3", 0)).await.unwrap();
    }
    wait_for("R2 delivered to both", Duration::from_secs(30), || {
        rejecting.control_ids().contains(&"R2".to_owned())
            && erring.control_ids().contains(&"R2".to_owned())
    })
    .await;
    assert_eq!(rejecting.control_ids(), ["R1", "R2"], "AR: no retry");
    assert_eq!(
        erring.control_ids(),
        ["R1", "R1", "R1", "R1", "R2"],
        "AE: the first attempt and 3 retries, then the next item"
    );
    // The sinks saw R2 before the worker recorded its batch: wait for the store.
    let settled = || {
        let m = store
            .message(hl7_runtime::store::MessageId(1))
            .unwrap()
            .unwrap();
        m.items.iter().all(|i| i.state == ItemState::Error)
    };
    wait_for(
        "R1 dead-lettered in the store",
        Duration::from_secs(30),
        settled,
    )
    .await;
    let message = store
        .message(hl7_runtime::store::MessageId(1))
        .unwrap()
        .unwrap();
    let states: Vec<_> = message
        .items
        .iter()
        .map(|i| (i.destination.as_str(), i.state, i.attempts))
        .collect();
    assert_eq!(
        states,
        [("rej", ItemState::Error, 1), ("err", ItemState::Error, 4)]
    );
    let mut dead = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::DeadLettered { destination, .. } = event {
            dead.push(destination);
        }
    }
    dead.sort();
    assert_eq!(dead, ["err", "rej"]);
    running.shutdown().await;
}

/// T-ACK-2: the destination answers 20 of 200 messages after the response timeout. No late
/// ACK is taken for the next message (the connection is closed), each delayed message is
/// sent again at most once more per timeout, and every duplicate carries the same MSH-10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_ack_2_late_acks_are_never_matched_to_the_next_message() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(Arc::new(|id: &str, seen| {
        let n: u32 = id.trim_start_matches('L').parse().unwrap_or(0);
        // Every 10th message is answered late, the first time only.
        let delay = if n.is_multiple_of(10) && seen == 1 {
            Duration::from_millis(600)
        } else {
            Duration::ZERO
        };
        SinkReply::Ack(AckCode::AA, delay)
    }))
    .await;
    let config = ClientConfig::default().with_response_timeout(Duration::from_millis(300));
    let running = engine(store(&dir))
        .destination(
            Destination::mllp("slowack", sink.addr.to_string())
                .client(config)
                .retry(quick_retry()),
        )
        .route(Route::new("all").to("slowack"))
        .run()
        .await;
    let mut client = client(&running).await;
    for i in 0..200 {
        client.send(&adt(&format!("L{i}"), "P4", 0)).await.unwrap();
    }
    let stats = Arc::clone(running.destination_stats("slowack").unwrap());
    wait_for("200 delivered", Duration::from_secs(60), || {
        stats.delivered.load(std::sync::atomic::Ordering::Relaxed) >= 200
    })
    .await;
    let ids = sink.control_ids();
    // First deliveries in order; a delayed message is delivered again right after itself.
    let mut firsts = Vec::new();
    for id in &ids {
        if !firsts.contains(id) {
            firsts.push(id.clone());
        }
    }
    let expected: Vec<String> = (0..200).map(|i| format!("L{i}")).collect();
    assert_eq!(firsts, expected);
    for i in 0..200 {
        let id = format!("L{i}");
        let copies = ids.iter().filter(|x| **x == id).count();
        let allowed = if i % 10 == 0 { 2 } else { 1 };
        assert_eq!(copies, allowed, "{id} delivered {copies} times");
    }
    running.shutdown().await;
}

/// An ACK naming another message is not accepted: the engine closes, resends, and the item is
/// delivered once an honest ACK comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_for_another_message_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(Arc::new(|_: &str, seen| {
        if seen == 1 {
            SinkReply::WrongId
        } else {
            SinkReply::Ack(AckCode::AA, Duration::ZERO)
        }
    }))
    .await;
    let running = engine(store(&dir))
        .destination(Destination::mllp("d", sink.addr.to_string()).retry(quick_retry()))
        .route(Route::new("all").to("d"))
        .run()
        .await;
    let mut client = client(&running).await;
    client.send(&adt("W1", "P5", 0)).await.unwrap();
    let stats = Arc::clone(running.destination_stats("d").unwrap());
    wait_for("delivered", Duration::from_secs(30), || {
        stats.delivered.load(std::sync::atomic::Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(sink.control_ids(), ["W1", "W1"]);
    assert_eq!(stats.retried.load(std::sync::atomic::Ordering::Relaxed), 1);
    running.shutdown().await;
}

/// T-SLOW-2, functional form: a destination that never answers in time cannot hold up the
/// others; its queue grows while theirs drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_slow_2_a_stuck_destination_does_not_block_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let stuck = Sink::start(Arc::new(|_: &str, _| {
        SinkReply::Ack(AckCode::AA, Duration::from_secs(3600))
    }))
    .await;
    let fast = Sink::aa().await;
    let store = store(&dir);
    let running = engine(Arc::clone(&store))
        .destination(
            Destination::mllp("stuck", stuck.addr.to_string())
                .client(ClientConfig::default().with_response_timeout(Duration::from_millis(200))),
        )
        .destination(Destination::mllp("fast", fast.addr.to_string()))
        .route(Route::new("all").to("stuck").to("fast"))
        .run()
        .await;
    let mut client = client(&running).await;
    for i in 0..300 {
        client.send(&adt(&format!("S{i}"), "P6", 0)).await.unwrap();
    }
    wait_for(
        "the fast destination drains",
        Duration::from_secs(60),
        || fast.count() >= 300,
    )
    .await;
    // Delivered is seen by the sink before the worker records it: wait for the store.
    wait_for(
        "the fast queue recorded empty",
        Duration::from_secs(30),
        || store.queue_depth("fast").unwrap() == 0,
    )
    .await;
    assert_eq!(store.queue_depth("stuck").unwrap(), 300);
    running.shutdown().await;
}

/// Bytes that are not a message are stored in the error state and answered `AE` with an ERR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_message_is_kept_and_answered_ae() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let running = engine(Arc::clone(&store)).run().await;
    let mut client = client(&running).await;
    let ack = client.send(b"this is not HL7").await.unwrap();
    let text = String::from_utf8_lossy(&ack);
    assert!(text.contains("MSA|AE|"), "{text}");
    assert!(text.contains("\rERR|"), "{text}");
    let stored = store
        .message(hl7_runtime::store::MessageId(1))
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, MessageState::Error);
    assert_eq!(stored.inbound.raw, b"this is not HL7");
    assert!(stored.error.unwrap().starts_with("unreadable"));
    running.shutdown().await;
}

/// While the database refuses writes, what was acknowledged before is kept (in the ingest
/// log) and delivered once it works again; a message the store does not take is answered
/// `AE` saying so, never `AA`: the sender keeps it, and the resend is taken once the store is
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_store_refuses_is_answered_ae_and_taken_when_resent() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, running) = everything_to_one_sink(&dir).await;
    let mut client = client(&running).await;
    // A second connection to the same file makes every insert fail, as a full disk would.
    let outage = rusqlite::Connection::open(dir.path().join("engine.db")).unwrap();
    outage
        .execute_batch(
            "CREATE TRIGGER outage BEFORE INSERT ON messages
             BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;",
        )
        .unwrap();

    // The first messages are durable in the ingest log before the database is tried: they
    // are acknowledged. Once applying them has failed, the store takes nothing more.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut acknowledged = 0;
    let (refused, text) = loop {
        assert!(std::time::Instant::now() < deadline, "never refused");
        let message = adt(&format!("F{acknowledged}"), "P9", 0);
        let ack = client.send(&message).await.unwrap();
        let text = String::from_utf8_lossy(&ack).into_owned();
        match msa(&ack) {
            (code, id) if code == "AA" => {
                assert_eq!(id, format!("F{acknowledged}"));
                acknowledged += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (code, id) => {
                assert_eq!(
                    (code.as_str(), id.as_str()),
                    ("AE", format!("F{acknowledged}").as_str()),
                    "{text}"
                );
                break (message, text);
            }
        }
    };
    assert!(
        acknowledged >= 1,
        "the first message is acknowledged from the log"
    );
    assert!(
        text.contains("\rERR|||207^Application internal error^HL70357|E||||the message could not be stored; send it again"),
        "{text}"
    );

    outage.execute_batch("DROP TRIGGER outage").unwrap();
    wait_for(
        "the acknowledged messages reach the EHR",
        Duration::from_secs(30),
        || sink.count() == acknowledged,
    )
    .await;
    let ack = loop {
        // The store takes messages again once the applier's retry went through.
        let ack = client.send(&refused).await.unwrap();
        if msa(&ack).0 == "AA" || std::time::Instant::now() > deadline {
            break ack;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(msa(&ack), ("AA".to_owned(), format!("F{acknowledged}")));
    wait_for(
        "the resend reaches the EHR",
        Duration::from_secs(30),
        || sink.count() == acknowledged + 1,
    )
    .await;
    let stats = running.channel_stats("in").unwrap();
    assert!(
        stats
            .store_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    running.shutdown().await;
}

#[tokio::test]
async fn unsafe_or_inconsistent_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new();
    options.synchronous(Synchronous::Off);
    let unsafe_store =
        Arc::new(SqliteStore::open_with(dir.path().join("off.db"), &options).unwrap());
    let refused = Engine::builder(unsafe_store)
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .build()
        .unwrap_err();
    assert_eq!(refused, ConfigError::NonDurableStore);
    assert!(refused.to_string().contains("not durable"));

    let refused = engine(store(&dir))
        .route(Route::new("to nowhere").to("missing"))
        .build()
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "route `to nowhere` delivers to `missing`, which is not a destination of this engine"
    );
    let refused = engine(store(&dir))
        .destination(Destination::folder("d", dir.path()))
        .destination(Destination::folder("d", dir.path()))
        .build()
        .unwrap_err();
    assert_eq!(refused.to_string(), "two destinations are named `d`");
}

/// The folder destination writes one file per item; a restart resumes what was queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_destination_and_restart_resume_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let store_path = dir.path().join("engine.db");
    let build = |paused: bool| {
        let store = Arc::new(SqliteStore::open(&store_path).unwrap());
        let out = out.clone();
        async move {
            let running = Engine::builder(store)
                .channel(Channel::mllp("in", "127.0.0.1:0"))
                .destination(Destination::folder("files", out))
                .route(Route::new("all").to("files"))
                .build()
                .unwrap()
                .start()
                .await
                .unwrap();
            running.set_paused("files", paused);
            running
        }
    };
    let running = build(true).await;
    let mut client = client(&running).await;
    let mut sent = Vec::new();
    for i in 0..10 {
        let m = adt(&format!("F{i}"), "P7", 0);
        client.send(&m).await.unwrap();
        sent.push(m);
    }
    running.shutdown().await;
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);

    let running = build(false).await;
    // Only the finished files: a file is written under a temporary name, then renamed.
    let delivered = || -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(&out)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "hl7"));
        files.sort();
        files
    };
    wait_for("10 files", Duration::from_secs(30), || {
        delivered().len() >= 10
    })
    .await;
    let files = delivered();
    let written: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(written, sent);
    running.shutdown().await;
}

/// Retention prunes finished messages, never queued ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_finished_messages_only() {
    use hl7_runtime::engine::Retention;
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let sink = Sink::aa().await;
    let running = engine(Arc::clone(&store))
        .destination(Destination::mllp("up", sink.addr.to_string()))
        .destination(Destination::folder("paused", dir.path().join("out")))
        .route(
            Route::new("A")
                .when(|m| m.header().control_id() == "A")
                .to("up"),
        )
        .route(
            Route::new("B")
                .when(|m| m.header().control_id() != "A")
                .to("paused"),
        )
        .retention(Retention::max_age(Duration::from_millis(1)).every(Duration::from_millis(100)))
        .run()
        .await;
    running.set_paused("paused", true);
    let mut client = client(&running).await;
    client.send(&adt("A", "P9", 0)).await.unwrap();
    client.send(&adt("B", "P9", 0)).await.unwrap();
    wait_for(
        "the delivered message pruned",
        Duration::from_secs(30),
        || {
            store
                .message(hl7_runtime::store::MessageId(1))
                .unwrap()
                .is_none()
        },
    )
    .await;
    let queued = store.message(hl7_runtime::store::MessageId(2)).unwrap();
    assert!(
        queued.is_some(),
        "a message with queued work is never pruned"
    );
    assert_eq!(sink.control_ids(), ["A"]);
    running.shutdown().await;
}
