//! The engine over TLS both ways: a partner sends over mutual TLS to the engine's channel, and
//! the engine delivers over TLS (with its client certificate) to a destination that requires
//! one. Certificates are generated at test time.

mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hl7_runtime::ack::{AckBuilder, AckCode};
use hl7_runtime::engine::{Channel, Destination, Engine, Route};
use hl7_runtime::er7::Message;
use hl7_runtime::mllp::{Frame, FrameReader, MllpCodec};
use hl7_runtime::store::SqliteStore;
use hl7_runtime::transport::{
    ClientConfig, ClientTlsConfig, ListenerConfig, MllpClient, MllpListener, ServerTlsConfig,
    TcpConnector, TlsConnector,
};
use tls_support::Ca;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn adt(id: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|REG|HOSP|ENGINE|HOSP|20241127120000||ADT^A08^ADT_A01|{id}|P|2.5.1\r\
         PID|1||123^^^HOSP^MR||DOE^JANE\r"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_in_and_out() {
    let ca = Ca::new("Hospital CA");
    // The destination: requires a client certificate from the hospital CA.
    let sink_tls = ServerTlsConfig::new(ca.identity("ehr", &["ehr.example.org"], false))
        .with_client_ca(ca.bundle())
        .build()
        .unwrap();
    let sink = MllpListener::bind("127.0.0.1:0", ListenerConfig::default().with_tls(sink_tls))
        .await
        .unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let log = Arc::clone(&received);
    tokio::spawn(sink.serve(move |raw: Bytes| {
        log.lock().unwrap().push(raw.clone());
        async move {
            let text = String::from_utf8_lossy(&raw).into_owned();
            let message = Message::parse(&text).unwrap();
            Bytes::from(
                AckBuilder::new(&message)
                    .code(AckCode::AA)
                    .control_id("S1")
                    .build(),
            )
        }
    }));

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    let channel_tls = ServerTlsConfig::new(ca.identity("engine", &["engine.example.org"], false))
        .with_client_ca(ca.bundle())
        .build()
        .unwrap();
    let engine_client_tls = ClientTlsConfig::new(ca.bundle())
        .with_identity(ca.identity("engine", &["engine.example.org"], false))
        .build()
        .unwrap();
    let running = Engine::builder(store)
        .channel(
            Channel::mllp("in", "127.0.0.1:0")
                .config(ListenerConfig::default().with_tls(channel_tls)),
        )
        .destination(Destination::mllp_tls(
            "ehr",
            sink_addr.to_string(),
            "ehr.example.org",
            engine_client_tls,
        ))
        .route(Route::new("all").to("ehr"))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    let partner_tls = ClientTlsConfig::new(ca.bundle())
        .with_identity(ca.identity("lab", &["lab.example.org"], false))
        .build()
        .unwrap();
    let connector = TlsConnector::new(
        TcpConnector::new(vec![running.local_addr("in").unwrap()]),
        "engine.example.org",
        &partner_tls,
    )
    .unwrap();
    let mut partner = MllpClient::with_connector(connector, ClientConfig::default());
    let mut sent = Vec::new();
    for i in 0..20 {
        let message = adt(&format!("T{i}"));
        let ack = partner.send(&message).await.unwrap();
        assert!(String::from_utf8_lossy(&ack).contains(&format!("MSA|AA|T{i}")));
        sent.push(Bytes::from(message));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries over TLS timed out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*received.lock().unwrap(), sent);
    running.shutdown().await;
}

/// A partner that only listens, over mutual TLS: the engine's client channel connects to it
/// (presenting the engine's certificate) and takes its messages on that connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_channel_over_mutual_tls() {
    let ca = Ca::new("Hospital CA");
    let lab_tls = ServerTlsConfig::new(ca.identity("lab", &["lab.example.org"], false))
        .with_client_ca(ca.bundle())
        .build()
        .unwrap();
    let lab = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    let engine_tls = ClientTlsConfig::new(ca.bundle())
        .with_identity(ca.identity("engine", &["engine.example.org"], false))
        .build()
        .unwrap();
    let running = Engine::builder(store)
        .channel(Channel::mllp_client_tls(
            "lab",
            lab.local_addr().unwrap().to_string(),
            "lab.example.org",
            engine_tls,
        ))
        .destination(Destination::folder("results", dir.path().join("results")))
        .route(Route::new("all").to("results"))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();

    let (tcp, _) = lab.accept().await.unwrap();
    let (mut stream, client) = lab_tls.accept(tcp).await.expect("the handshake");
    let client = client.expect("the engine presents its certificate");
    assert!(client.to_string().contains("engine"), "{client}");
    let mut out = BytesMut::new();
    MllpCodec::encode_message(&adt("L1"), &mut out).unwrap();
    stream.write_all(&out).await.unwrap();
    let mut reader = FrameReader::new(MllpCodec::new());
    let ack = loop {
        if let Some(Frame::Message(m)) = reader.next_frame().unwrap() {
            break m;
        }
        let n = tokio::time::timeout(
            Duration::from_secs(10),
            stream.read_buf(reader.read_buffer()),
        )
        .await
        .expect("an ACK within 10 s")
        .unwrap();
        assert!(n > 0, "the engine closed the connection");
    };
    assert!(String::from_utf8_lossy(&ack).contains("MSA|AA|L1"));
    running.shutdown().await;
}
