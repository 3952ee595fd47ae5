//! Both directions on one connection: a listener with `PeerConnections` receives messages
//! from the peer that connected and sends messages to it on the same socket, by the client's
//! rules (one in flight, the ACK matched by MSA-2, the connection closed on a timeout).

mod engine_support;

use std::time::Duration;

use bytes::Bytes;
use engine_support::partner::Partner;
use hl7_runtime::ack::{AckBuilder, AckCode};
use hl7_runtime::er7::Message;
use hl7_runtime::transport::{ListenerConfig, MllpListener, PeerConnections, SendError};

fn message(kind: &str, id: &str) -> Vec<u8> {
    format!("MSH|^~\\&|A|B|C|D|20241127120000||{kind}|{id}|P|2.5.1\rPID|1||P1\r").into_bytes()
}

fn ack(of: &[u8], code: AckCode, msa_2: Option<&str>) -> Vec<u8> {
    let text = String::from_utf8_lossy(of);
    let parsed = Message::parse(&text).unwrap();
    let ack = AckBuilder::new(&parsed)
        .code(code)
        .control_id("PEER")
        .build();
    let id = parsed.control_id().unwrap_or_default();
    match msa_2 {
        Some(other) => ack.replace(&format!("|{id}\r"), &format!("|{other}\r")),
        None => ack,
    }
    .into_bytes()
}

fn msa(frame: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(frame);
    let parsed = Message::parse(&text).unwrap();
    let get = |p: &str| {
        parsed
            .get(p)
            .unwrap()
            .map(|v| v.raw().to_owned())
            .unwrap_or_default()
    };
    (get("MSA-1"), get("MSA-2"))
}

/// A listener whose handler ACKs `AA`, and its peer connections.
async fn listener() -> (std::net::SocketAddr, PeerConnections) {
    let peers = PeerConnections::new();
    let config = ListenerConfig::default().with_peers(peers.clone());
    let listener = MllpListener::bind("127.0.0.1:0", config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(listener.serve(|m: Bytes| async move { ack(&m, AckCode::AA, None) }));
    (addr, peers)
}

/// Sends an order to the newest connection's peer in a task of its own.
fn send_later(
    peers: &PeerConnections,
    id: &str,
) -> tokio::task::JoinHandle<Result<Bytes, SendError>> {
    let (peers, order) = (peers.clone(), message("ORM^O01", id));
    tokio::spawn(async move { peers.send(&order, Duration::from_secs(5)).await })
}

async fn wait_open(peers: &PeerConnections, n: usize) {
    for _ in 0..500 {
        if peers.open() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{n} connection(s) never registered (open: {})",
        peers.open()
    );
}

#[tokio::test]
async fn messages_flow_both_ways_on_one_connection() {
    let (addr, peers) = listener().await;
    assert!(matches!(
        peers
            .send(&message("ORM^O01", "O0"), Duration::from_secs(1))
            .await,
        Err(SendError::NotConnected)
    ));
    let mut partner = Partner::connect(addr).await;
    wait_open(&peers, 1).await;

    // The partner sends; the listener's handler answers.
    partner.write(&message("ORU^R01", "R1")).await;
    assert_eq!(
        msa(&partner.read().await.unwrap()),
        ("AA".into(), "R1".into())
    );

    // The engine side sends; the partner's ACK is the response. Meanwhile the partner sends a
    // message of its own, answered on the same connection.
    let sending = send_later(&peers, "O1");
    let order = partner.read().await.unwrap();
    assert_eq!(
        Message::parse(&String::from_utf8_lossy(&order))
            .unwrap()
            .control_id(),
        Some("O1")
    );
    partner.write(&message("ORU^R01", "R2")).await;
    assert_eq!(
        msa(&partner.read().await.unwrap()),
        ("AA".into(), "R2".into())
    );
    // An ACK for something else is not the response; the right one is.
    partner
        .write(&ack(&order, AckCode::AA, Some("NOT-O1")))
        .await;
    partner.write(&ack(&order, AckCode::CA, None)).await;
    let response = sending.await.unwrap().unwrap();
    assert_eq!(msa(&response), ("CA".into(), "O1".into()));
}

#[tokio::test]
async fn no_ack_in_time_closes_the_connection() {
    let (addr, peers) = listener().await;
    let mut partner = Partner::connect(addr).await;
    wait_open(&peers, 1).await;
    let result = peers
        .send(&message("ORM^O01", "T1"), Duration::from_millis(200))
        .await;
    assert!(
        matches!(result, Err(SendError::ResponseTimeout(_))),
        "{result:?}"
    );
    // The message arrived, then the connection was closed: a late ACK can answer nothing.
    assert!(partner.read().await.is_some());
    assert!(partner.read().await.is_none(), "closed after the timeout");
    wait_open(&peers, 0).await;
}

#[tokio::test]
async fn the_newest_connection_carries_the_message() {
    let (addr, peers) = listener().await;
    let mut old = Partner::connect(addr).await;
    wait_open(&peers, 1).await;
    let mut new = Partner::connect(addr).await;
    wait_open(&peers, 2).await;
    let sending = send_later(&peers, "N1");
    let order = new.read().await.unwrap();
    new.write(&ack(&order, AckCode::AA, None)).await;
    assert_eq!(msa(&sending.await.unwrap().unwrap()).1, "N1");
    drop(new);
    wait_open(&peers, 1).await;
    let sending = send_later(&peers, "N2");
    let order = old.read().await.unwrap();
    old.write(&ack(&order, AckCode::AA, None)).await;
    assert_eq!(msa(&sending.await.unwrap().unwrap()).1, "N2");
}
