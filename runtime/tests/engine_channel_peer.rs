//! A partner that sends and receives on one connection, through the engine: the lab sends
//! results on its connection, and the orders that the hospital system sends to the `his`
//! channel are delivered to the lab on the same connection (a `channel_peer` destination),
//! queued while there is none. Both ways round: the lab connects to the engine's listening
//! channel, or the lab only listens and the engine's client channel connects to it.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::partner::Partner;
use engine_support::{control_id_of, msa, wait_for};
use hl7_runtime::ack::{AckBuilder, AckCode};
use hl7_runtime::engine::{
    Channel, ConfigError, Destination, Engine, RetryPolicy, Route, RunningEngine,
};
use hl7_runtime::er7::Message;
use hl7_runtime::store::{SearchQuery, SqliteStore};
use hl7_runtime::transport::{ClientConfig, MllpClient, Reconnect};
use tokio::net::TcpListener;

fn message(kind: &str, id: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|SENDER|HOSP|ENGINE|HOSP|20241127120000||{kind}|{id}|P|2.5.1\r\
         PID|1||P1^^^HOSP^MR||DOE^JANE\r"
    )
    .into_bytes()
}

fn ack_of(message: &[u8]) -> Vec<u8> {
    ack(message, AckCode::AA, "LAB-ACK")
}

fn ack(message: &[u8], code: AckCode, control_id: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let parsed = Message::parse(&text).unwrap();
    AckBuilder::new(&parsed)
        .code(code)
        .control_id(control_id)
        .build()
        .into_bytes()
}

/// The lab's channel `lab`, and `his`: orders go to the lab on its connection (short
/// response timeout and backoff), results to a folder.
async fn start(lab: Channel, dir: &tempfile::TempDir) -> RunningEngine {
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    Engine::builder(store)
        .channel(lab)
        .channel(Channel::mllp("his", "127.0.0.1:0"))
        .destination(
            Destination::channel_peer("lab-orders", "lab")
                .client(ClientConfig::default().with_response_timeout(Duration::from_secs(2)))
                .retry(
                    RetryPolicy::default()
                        .backoff(Duration::from_millis(20), Duration::from_millis(100)),
                ),
        )
        .destination(Destination::folder("results", dir.path().join("results")))
        .route(
            Route::new("orders")
                .when(|m| m.is("ORM", "*"))
                .to("lab-orders"),
        )
        .route(
            Route::new("results")
                .when(|m| m.is("ORU", "*"))
                .to("results"),
        )
        .build()
        .unwrap()
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reach_the_lab_on_the_connection_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Channel::mllp("lab", "127.0.0.1:0"), &dir).await;

    // Orders arrive while the lab is not connected: stored, acknowledged, queued.
    let his_addr = running.local_addr("his").unwrap();
    let mut his = MllpClient::connect(his_addr, ClientConfig::default())
        .await
        .unwrap();
    for i in 0..3 {
        let ack = his
            .send(&message("ORM^O01", &format!("ORD{i}")))
            .await
            .unwrap();
        assert_eq!(msa(&ack).0, "AA");
    }

    // The lab connects: the queued orders come on its connection, in order, and it sends a
    // result on the same connection between two orders.
    let mut lab = Partner::connect(running.local_addr("lab").unwrap()).await;
    let mut orders = Vec::new();
    for i in 0..3 {
        let order = lab.read().await.expect("an order");
        orders.push(control_id_of(&order));
        if i == 1 {
            lab.write(&message("ORU^R01", "RES1")).await;
            let answer = lab.read().await.expect("the result's ACK");
            assert_eq!(msa(&answer), ("AA".to_owned(), "RES1".to_owned()));
        }
        lab.write(&ack_of(&order)).await;
    }
    assert_eq!(orders, ["ORD0", "ORD1", "ORD2"]);

    // One more order while connected goes straight through.
    his.send(&message("ORM^O01", "ORD3")).await.unwrap();
    let order = lab.read().await.expect("the new order");
    assert_eq!(control_id_of(&order), "ORD3");
    lab.write(&ack_of(&order)).await;

    let stats = running.destination_stats("lab-orders").unwrap();
    wait_for("4 orders delivered", Duration::from_secs(10), || {
        stats.delivered.load(std::sync::atomic::Ordering::Relaxed) >= 4
    })
    .await;
    wait_for("the result filed", Duration::from_secs(10), || {
        std::fs::read_dir(dir.path().join("results"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 1
    })
    .await;
    running.shutdown().await;
}

/// In enhanced mode the lab commits each order at once (`CA`, the response) and sends its
/// application ACK later, on the same connection: that one answers nothing in flight, so it
/// is stored as a message of the `lab` channel (nothing of it lost) and never answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_application_ack_is_stored_and_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(Channel::mllp("lab", "127.0.0.1:0"), &dir).await;
    let mut lab = Partner::connect(running.local_addr("lab").unwrap()).await;
    let mut his = MllpClient::connect(running.local_addr("his").unwrap(), ClientConfig::default())
        .await
        .unwrap();
    his.send(&message("ORM^O01", "ORD1")).await.unwrap();
    let order = lab.read().await.expect("the order");
    lab.write(&ack(&order, AckCode::CA, "LAB-CA1")).await;
    let stats = running.destination_stats("lab-orders").unwrap();
    wait_for("the order delivered", Duration::from_secs(10), || {
        stats.delivered.load(std::sync::atomic::Ordering::Relaxed) >= 1
    })
    .await;

    lab.write(&ack(&order, AckCode::AE, "LAB-APP1")).await;
    // The next frame the lab reads answers its next message, not the application ACK.
    lab.write(&message("ORU^R01", "RES1")).await;
    assert_eq!(
        msa(&lab.read().await.unwrap()),
        ("AA".to_owned(), "RES1".to_owned())
    );
    let mut query = SearchQuery::new(10);
    query.message_code = Some("ACK".to_owned());
    let acks = running.store().search(&query).unwrap();
    let kept: Vec<_> = acks
        .iter()
        .map(|m| (m.channel.as_str(), m.control_id.as_str()))
        .collect();
    assert_eq!(kept, [("lab", "LAB-APP1")]);
    let stored = running.store().message(acks[0].id).unwrap().unwrap();
    assert_eq!(stored.inbound.raw, ack(&order, AckCode::AE, "LAB-APP1"));
    running.shutdown().await;
}

/// The lab only listens: the engine connects to it, takes its results on that connection and
/// sends it orders there, and connects again when the lab drops the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_channel_receives_and_sends_on_the_connection_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let lab_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lab_addr = lab_listener.local_addr().unwrap();
    let quick = Reconnect {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    let lab = Channel::mllp_client("lab", lab_addr.to_string()).reconnect(quick);
    let running = start(lab, &dir).await;
    assert_eq!(
        running.local_addr("lab"),
        None,
        "a client channel listens nowhere"
    );
    let mut his = MllpClient::connect(running.local_addr("his").unwrap(), ClientConfig::default())
        .await
        .unwrap();

    let (stream, _) = lab_listener.accept().await.unwrap();
    let mut lab = Partner::accepted(stream);
    lab.write(&message("ORU^R01", "RES1")).await;
    assert_eq!(
        msa(&lab.read().await.unwrap()),
        ("AA".to_owned(), "RES1".to_owned())
    );
    his.send(&message("ORM^O01", "ORD1")).await.unwrap();
    let order = lab.read().await.unwrap();
    assert_eq!(control_id_of(&order), "ORD1");
    lab.write(&ack_of(&order)).await;

    // The lab drops the connection; the engine opens a new one and goes on.
    drop(lab);
    let (stream, _) = lab_listener.accept().await.unwrap();
    let mut lab = Partner::accepted(stream);
    his.send(&message("ORM^O01", "ORD2")).await.unwrap();
    let order = lab.read().await.unwrap();
    assert_eq!(control_id_of(&order), "ORD2");
    lab.write(&ack_of(&order)).await;
    lab.write(&message("ORU^R01", "RES2")).await;
    assert_eq!(
        msa(&lab.read().await.unwrap()),
        ("AA".to_owned(), "RES2".to_owned())
    );

    let stats = running.destination_stats("lab-orders").unwrap();
    wait_for("2 orders delivered", Duration::from_secs(10), || {
        stats.delivered.load(std::sync::atomic::Ordering::Relaxed) >= 2
    })
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn a_peer_of_an_unknown_channel_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    let refused = Engine::builder(store)
        .channel(Channel::mllp("lab", "127.0.0.1:0"))
        .destination(Destination::channel_peer("orders", "pharmacy"))
        .build()
        .unwrap_err();
    assert_eq!(
        refused,
        ConfigError::UnknownChannel {
            destination: "orders".to_owned(),
            channel: "pharmacy".to_owned(),
        }
    );
}
