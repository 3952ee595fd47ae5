//! Pausing a destination: nothing more is delivered from the moment of the pause, not even the
//! rest of a batch its worker had already claimed; resuming delivers what waited, in order.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::{adt, connect, wait_for, Run, Sink, SinkReply};
use hl7_runtime::ack::AckCode;
use hl7_runtime::engine::{Channel, Destination, Engine, Route};
use hl7_runtime::store::{ItemState, MessageId, SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_stops_a_batch_already_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    // A and B are held at the sink: B, C and D queue behind A and are claimed together when
    // A is answered; the test pauses while B is held.
    let sink = Sink::start(Arc::new(|id: &str, _| {
        let hold = if matches!(id, "A" | "B") { 1_000 } else { 0 };
        SinkReply::Ack(AckCode::AA, Duration::from_millis(hold))
    }))
    .await;
    let running = Engine::builder(Arc::clone(&store) as Arc<dyn Store>)
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::mllp("ehr", sink.addr.to_string()))
        .route(Route::new("all").to("ehr"))
        .run()
        .await;
    let mut client = connect(&running, "in").await;
    for id in ["A", "B", "C", "D"] {
        client.send(&adt(id, "P8", 0)).await.unwrap();
    }
    wait_for("B at the sink", Duration::from_secs(30), || {
        sink.control_ids().contains(&"B".to_owned())
    })
    .await;
    assert!(running.set_paused("ehr", true));

    // The worker files B once it is answered; C and D, claimed with it, are given back.
    let state_of = |id: u64| {
        let message = store.message(MessageId(id)).unwrap().unwrap();
        message.items[0].state
    };
    wait_for("B recorded as delivered", Duration::from_secs(30), || {
        state_of(2) == ItemState::Done
    })
    .await;
    assert_eq!(
        sink.control_ids(),
        ["A", "B"],
        "nothing delivered after the pause"
    );
    assert_eq!(
        [state_of(3), state_of(4)],
        [ItemState::Ready, ItemState::Ready]
    );

    assert!(running.set_paused("ehr", false));
    wait_for("C and D after the resume", Duration::from_secs(30), || {
        sink.control_ids().len() == 4
    })
    .await;
    assert_eq!(sink.control_ids(), ["A", "B", "C", "D"]);
    running.shutdown().await;
}
