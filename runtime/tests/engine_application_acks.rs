//! Enhanced-mode acknowledgment through the engine (RELIABILITY.md, engine policy): the accept
//! ACK on the connection once the message is stored, and the application ACK that MSH-16 asks
//! for as a message of its own, queued in the message's transaction and delivered to the
//! channel's application-ACK destination like any output (in order, across restarts).

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::{msa, wait_for, Sink, SinkReply};
use hl7_runtime::ack::{FixedClock, Timestamp};
use hl7_runtime::engine::{Channel, ConfigError, Destination, Engine, EngineBuilder, Route};
use hl7_runtime::store::{ItemState, MessageId, MessageState, SqliteStore, Store};
use hl7_runtime::transport::{ClientConfig, MllpClient};

/// A message with MSH-15/MSH-16 as given (both empty: original mode).
fn message(kind: &str, id: &str, accept: &str, application: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|LAB|HOSP|ENGINE|HOSP|20241127120000||{kind}|{id}|P|2.5.1|||{accept}|{application}\r\
         PID|1||P1^^^HOSP^MR||DOE^JANE||19800101|F\r"
    )
    .into_bytes()
}

/// A partner that receives application ACKs: each is a message asking for an accept ACK.
async fn ack_receiver() -> Sink {
    Sink::start(Arc::new(|_, _| {
        SinkReply::Ack(hl7_runtime::ack::AckCode::CA, Duration::ZERO)
    }))
    .await
}

/// ADT goes to the EHR; ORU is refused by its route (the message goes to the error state).
fn engine(store: Arc<SqliteStore>, ehr: &Sink, acks_to: &str) -> EngineBuilder {
    Engine::builder(store)
        .clock(Arc::new(FixedClock(Timestamp::from_unix_millis(
            1_732_708_800_000,
        ))))
        .channel(Channel::mllp("lab", "127.0.0.1:0").application_acks_to("lab-acks"))
        .destination(Destination::mllp("ehr", ehr.addr.to_string()))
        .destination(Destination::mllp("lab-acks", acks_to.to_owned()))
        .route(Route::new("ADT").when(|m| m.is("ADT", "*")).to("ehr"))
        .route(
            Route::new("no ORU")
                .when(|m| m.is("ORU", "*"))
                .transform("ehr", |_| Err("results are not taken here".to_owned())),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_ack_follows_msh_16_as_a_message_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    let (ehr, lab) = (Sink::aa().await, ack_receiver().await);
    let running = engine(Arc::clone(&store), &ehr, &lab.addr.to_string())
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let addr = running.local_addr("lab").unwrap();
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .unwrap();

    // (message, what the connection answers); messages are stored as ids 1, 2, ...
    let cases = [
        (message("ADT^A08", "E1", "AL", "AL"), "CA"), // application ACK: AA
        (message("ADT^A08", "E2", "AL", "ER"), "CA"), // valid: none on ER
        (message("ORU^R01", "E3", "AL", "ER"), "CA"), // refused: AR on ER
        (message("ADT^A08", "E4", "AL", "NE"), "CA"), // never
        (message("ADT^A08", "E5", "AL", "SU"), "CA"), // application ACK: AA
        (message("ADT^A08", "O6", "", ""), "AA"),     // original mode: the one ACK
    ];
    for (m, code) in &cases {
        let ack = client.send(m).await.unwrap();
        let id = engine_support::control_id_of(m);
        assert_eq!(msa(&ack), (code.to_string(), id));
    }

    wait_for("3 application ACKs", Duration::from_secs(30), || {
        lab.count() >= 3
    })
    .await;
    wait_for("4 ADT to the EHR", Duration::from_secs(30), || {
        ehr.count() >= 4
    })
    .await;
    let received = lab.received.lock().unwrap().clone();
    let answers: Vec<(String, String)> = received.iter().map(|a| msa(a)).collect();
    assert_eq!(
        answers,
        [
            ("AA".to_owned(), "E1".to_owned()),
            ("AR".to_owned(), "E3".to_owned()),
            ("AA".to_owned(), "E5".to_owned()),
        ],
        "in the order the messages were stored"
    );
    insta::assert_snapshot!(
        "application_ack_aa",
        String::from_utf8_lossy(&received[0]).replace('\r', "\n")
    );
    insta::assert_snapshot!(
        "application_ack_ar",
        String::from_utf8_lossy(&received[1]).replace('\r', "\n")
    );

    // The refused message is in the error state, and its application ACK is its queue item.
    let refused = store.message(MessageId(3)).unwrap().unwrap();
    assert_eq!(refused.state, MessageState::Error);
    let destinations: Vec<(&str, ItemState)> = refused
        .items
        .iter()
        .map(|i| (i.destination.as_str(), i.state))
        .collect();
    assert_eq!(destinations, [("lab-acks", ItemState::Done)]);
    let first = store.message(MessageId(1)).unwrap().unwrap();
    let mut destinations: Vec<&str> = first.items.iter().map(|i| i.destination.as_str()).collect();
    destinations.sort_unstable();
    assert_eq!(destinations, ["ehr", "lab-acks"]);
    running.shutdown().await;
}

/// The application ACK is stored with its message: an engine stopped before it could deliver
/// it delivers it after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_application_ack_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.db");
    let (ehr, lab) = (Sink::aa().await, ack_receiver().await);
    let start = |paused: bool| {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let builder = engine(store, &ehr, &lab.addr.to_string());
        async move {
            let running = builder.build().unwrap().start().await.unwrap();
            running.set_paused("lab-acks", paused);
            running
        }
    };
    let running = start(true).await;
    let addr = running.local_addr("lab").unwrap();
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .unwrap();
    for i in 0..5 {
        let m = message("ADT^A08", &format!("R{i}"), "AL", "AL");
        assert_eq!(msa(&client.send(&m).await.unwrap()).0, "CA");
    }
    running.shutdown().await;
    assert_eq!(
        lab.count(),
        0,
        "paused: nothing delivered before the restart"
    );

    let running = start(false).await;
    wait_for("5 application ACKs", Duration::from_secs(30), || {
        lab.count() >= 5
    })
    .await;
    let acknowledged: Vec<String> = lab
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|a| msa(a).1)
        .collect();
    assert_eq!(acknowledged, ["R0", "R1", "R2", "R3", "R4"]);
    running.shutdown().await;
}

#[tokio::test]
async fn application_acks_to_an_unknown_destination_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    let refused = Engine::builder(store)
        .channel(Channel::mllp("lab", "127.0.0.1:0").application_acks_to("nowhere"))
        .build()
        .unwrap_err();
    assert_eq!(
        refused,
        ConfigError::UnknownAckDestination {
            channel: "lab".to_owned(),
            destination: "nowhere".to_owned(),
        }
    );
    assert_eq!(
        refused.to_string(),
        "channel `lab` sends application ACKs to `nowhere`, which is not a destination of this engine"
    );
}
