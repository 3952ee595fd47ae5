//! MLLP over TLS on loopback: T-TLS-1 (mutual TLS: untrusted, missing and expired client
//! certificates fail the handshake; the allow-list), T-TLS-2 (plain MLLP and stalled handshakes
//! are closed at the handshake timeout without blocking a good client), the client side (our
//! client against our listener, a wrong CA, a wrong server name). The PEM and configuration
//! errors are in `tls_config.rs`.
//!
//! Every certificate and key is generated at test time with rcgen; none is committed.

mod tls_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hl7_runtime::transport::{
    ClientAllowList, ClientConfig, ClientTlsConfig, Connect, HandshakeError, Identity,
    ListenerConfig, MllpClient, MllpListener, PeerCertificate, ServerTls, ServerTlsConfig,
    TcpConnector, TlsConfigError, TlsConnector,
};
use rustls::CertificateError;
use tls_support::{handshake_error, Ca};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Seen = Arc<Mutex<Vec<Bytes>>>;

/// The certificates of the tests: a trusted CA and its server and client certificates, and a
/// second, untrusted CA.
struct Pki {
    ca: Ca,
    rogue: Ca,
    server: Identity,
    /// CN `lab-good`, SAN `lab.example.org`.
    good: Identity,
    /// Same CA, CN `lab-other`, SAN `other.example.org`: valid, but not on the allow-list.
    other: Identity,
    /// CN `lab-good` too, but from the untrusted CA: names alone must not get a client in.
    untrusted: Identity,
    /// Same CA and names as `good`, expired in 2021.
    expired: Identity,
}

impl Pki {
    fn new() -> Self {
        let ca = Ca::new("Test HL7 CA");
        let rogue = Ca::new("Rogue CA");
        Self {
            server: ca.identity("engine", &["localhost", "127.0.0.1"], false),
            good: ca.identity("lab-good", &["lab.example.org"], false),
            other: ca.identity("lab-other", &["other.example.org"], false),
            untrusted: rogue.identity("lab-good", &["lab.example.org"], false),
            expired: ca.identity("lab-good", &["lab.example.org"], true),
            ca,
            rogue,
        }
    }

    /// A listener configuration requiring client certificates from the test CA.
    fn mtls(&self) -> ServerTlsConfig {
        ServerTlsConfig::new(self.server.clone()).with_client_ca(self.ca.bundle())
    }

    /// A client trusting `roots`, presenting `identity`, expecting server name `name`.
    fn client(
        &self,
        addr: std::net::SocketAddr,
        roots: &Ca,
        identity: Option<&Identity>,
        name: &str,
    ) -> MllpClient<TlsConnector> {
        let mut config = ClientTlsConfig::new(roots.bundle());
        if let Some(identity) = identity {
            config = config.with_identity(identity.clone());
        }
        let tls = config.build().expect("client TLS");
        let connector =
            TlsConnector::new(TcpConnector::new(vec![addr]), name, &tls).expect("connector");
        MllpClient::with_connector(connector, ClientConfig::default())
    }
}

fn quick() -> ListenerConfig {
    ListenerConfig::default()
        .with_frame_read_timeout(Duration::from_secs(5))
        .with_idle_timeout(Duration::from_secs(30))
}

/// Starts a TLS listener on 127.0.0.1 whose handler records each message and answers
/// `ACK|<message>`; returns its address and the record.
async fn start(config: ListenerConfig, tls: ServerTls) -> (std::net::SocketAddr, Seen) {
    let listener = MllpListener::bind("127.0.0.1:0", config.with_tls(tls))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    tokio::spawn(listener.serve(move |m: Bytes| {
        let record = Arc::clone(&record);
        async move {
            let mut ack = b"ACK|".to_vec();
            ack.extend_from_slice(&m);
            record.lock().expect("lock").push(m);
            ack
        }
    }));
    (addr, seen)
}

/// Reads until the peer closes or `limit` passes; returns everything read and whether it closed.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (all, true),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (all, false),
        }
    }
}

/// T-TLS-1: with client certificates required, a client whose certificate comes from an
/// untrusted CA, one without a certificate and one with an expired certificate all fail, and
/// no frame of theirs reaches the handler; a good client then passes 1,000 messages, each
/// answered with its own ACK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_tls_1_mtls_refuses_bad_clients_and_serves_a_good_one() {
    let pki = Pki::new();
    let (addr, seen) = start(quick(), pki.mtls().build().expect("server TLS")).await;

    for (what, identity) in [
        ("untrusted CA", Some(&pki.untrusted)),
        ("no certificate", None),
        ("expired", Some(&pki.expired)),
    ] {
        let mut client = pki.client(addr, &pki.ca, identity, "localhost");
        let err = client
            .send(b"MSH|^~\\&|LAB|X|ENG|Y|||ORU^R01|bad|P|2.5\r")
            .await
            .expect_err(what);
        eprintln!("{what}: {err}");
    }
    assert!(
        seen.lock().expect("lock").is_empty(),
        "a refused client's frame reached the handler"
    );

    let mut client = pki.client(addr, &pki.ca, Some(&pki.good), "localhost");
    for i in 0..1_000 {
        let msg = format!("MSH|^~\\&|LAB|X|ENG|Y|||ORU^R01|{i}|P|2.5\r");
        let ack = client.send(msg.as_bytes()).await.expect("ack");
        assert_eq!(&ack[..], format!("ACK|{msg}").as_bytes());
    }
    assert_eq!(seen.lock().expect("lock").len(), 1_000);
}

/// T-TLS-1, the allow-list: a client with a valid certificate from the trusted CA that is not
/// on the list is refused after the handshake, before any frame is read; a listed one (by SAN
/// DNS name) is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_tls_1_allow_list_refuses_unlisted_client() {
    let pki = Pki::new();
    let tls = pki
        .mtls()
        .with_allow_list(ClientAllowList::new().allow_name("LAB.example.org"))
        .build()
        .expect("server TLS");
    let (addr, seen) = start(quick(), tls).await;

    let mut other = pki.client(addr, &pki.ca, Some(&pki.other), "localhost");
    let err = other.send(b"MSH|other").await.expect_err("not listed");
    eprintln!("unlisted client: {err}");
    assert!(seen.lock().expect("lock").is_empty(), "0 frames read");

    let mut good = pki.client(addr, &pki.ca, Some(&pki.good), "localhost");
    for i in 0..3 {
        // Reconnecting resumes the TLS session (no certificate is sent again): the allow-list
        // must still see the client's certificate.
        let msg = format!("MSH|good|{i}");
        let ack = good.send(msg.as_bytes()).await.expect("ack");
        assert_eq!(&ack[..], format!("ACK|{msg}").as_bytes());
        good.disconnect();
    }
    assert_eq!(seen.lock().expect("lock").len(), 3);
}

/// Accepts one connection on `listener` with `tls` while a client with `identity` connects;
/// returns the server's verdict.
async fn server_verdict(
    pki: &Pki,
    tls: &ServerTls,
    identity: Option<&Identity>,
) -> Result<Option<PeerCertificate>, HandshakeError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = ClientTlsConfig::new(pki.ca.bundle());
    if let Some(identity) = identity {
        config = config.with_identity(identity.clone());
    }
    let connector = TlsConnector::new(
        TcpConnector::new(vec![addr]),
        "localhost",
        &config.build().expect("client TLS"),
    )
    .expect("connector");
    // The client's own view varies with the TLS version (in TLS 1.3 it finishes before the
    // server has checked its certificate), so only the server's verdict is asserted.
    let client = tokio::spawn(async move {
        let stream = connector.connect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(stream);
    });
    let (tcp, _) = listener.accept().await.expect("accept");
    let verdict = tls.accept(tcp).await.map(|(_, peer)| peer);
    client.await.expect("client task");
    verdict
}

/// T-TLS-1 from the listener's side: each refusal has the right reason, so the log line that
/// carries it tells an operator what to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_tls_1_server_names_the_reason() {
    let pki = Pki::new();
    let mtls = pki.mtls().build().expect("server TLS");

    let untrusted = server_verdict(&pki, &mtls, Some(&pki.untrusted)).await;
    assert!(
        matches!(
            untrusted,
            Err(HandshakeError::Tls(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )))
        ),
        "{untrusted:?}"
    );
    let none = server_verdict(&pki, &mtls, None).await;
    assert!(
        matches!(
            none,
            Err(HandshakeError::Tls(rustls::Error::NoCertificatesPresented))
        ),
        "{none:?}"
    );
    let expired = server_verdict(&pki, &mtls, Some(&pki.expired)).await;
    assert!(
        matches!(
            expired,
            Err(HandshakeError::Tls(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )))
        ),
        "{expired:?}"
    );
    let good = server_verdict(&pki, &mtls, Some(&pki.good))
        .await
        .expect("good client accepted")
        .expect("its certificate");
    assert_eq!(good.common_names, ["lab-good"]);
    assert_eq!(good.dns_names, ["lab.example.org"]);

    // By fingerprint, in openssl's format: only `other` is listed.
    let other_fp = PeerCertificate::from_der(pki.other.chain()[0].as_ref()).fingerprint_hex();
    let by_fingerprint = pki
        .mtls()
        .with_allow_list(
            ClientAllowList::new()
                .allow_fingerprint_hex(&format!("sha256 Fingerprint={other_fp}"))
                .expect("fingerprint"),
        )
        .build()
        .expect("server TLS");
    let refused = server_verdict(&pki, &by_fingerprint, Some(&pki.good)).await;
    match refused {
        Err(e @ HandshakeError::NotAllowed(_)) => {
            let text = e.to_string();
            assert!(
                text.contains("lab-good") && text.contains("allow-list"),
                "{text}"
            );
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
    let allowed = server_verdict(&pki, &by_fingerprint, Some(&pki.other)).await;
    assert_eq!(
        allowed
            .expect("listed by fingerprint")
            .map(|p| p.common_names),
        Some(vec!["lab-other".to_owned()])
    );
}

/// T-TLS-2: plain MLLP sent to the TLS port is closed without an ACK, and connections that stall
/// in the handshake (silent after connecting, or after a TLS record header) are closed at the
/// handshake timeout (1 s here; checked against a lower bound that cannot fire early and a
/// generous upper bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_tls_2_plain_mllp_and_stalled_handshakes_are_closed() {
    let pki = Pki::new();
    let timeout = Duration::from_secs(1);
    let tls = pki
        .mtls()
        .with_handshake_timeout(timeout)
        .build()
        .expect("server TLS");
    let (addr, seen) = start(quick(), tls).await;

    let mut plain = TcpStream::connect(addr).await.expect("connect");
    let _ = plain
        .write_all(b"\x0bMSH|^~\\&|LAB|X|ENG|Y|||ADT^A01|1|P|2.5\r\x1c\r")
        .await;
    let (reply, closed) = read_to_close(&mut plain, Duration::from_secs(10)).await;
    assert!(closed, "plain MLLP on the TLS port must be closed");
    assert!(!reply.contains(&0x0b), "no MLLP reply expected: {reply:?}");

    let mut stalled = Vec::new();
    for i in 0..6 {
        stalled.push(tokio::spawn(async move {
            // Timed from before the connect: the server's timer starts after it, so a close
            // seen before `timeout` would be a real early close, not scheduling noise.
            let start = Instant::now();
            let mut s = TcpStream::connect(addr).await.expect("connect");
            if i % 2 == 1 {
                // A handshake record header announcing 512 bytes that never come.
                s.write_all(b"\x16\x03\x01\x02\x00").await.expect("write");
            }
            let (_, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
            (closed, start.elapsed())
        }));
    }
    for handle in stalled {
        let (closed, after) = handle.await.expect("stalled task");
        assert!(closed, "stalled handshake never closed");
        assert!(after >= timeout, "closed before the timeout: {after:?}");
        eprintln!("stalled handshake closed after {after:?}");
    }
    assert!(seen.lock().expect("lock").is_empty());
}

/// T-TLS-2, scaled like T-SLOW-1: 50 connections stalled in the handshake don't block a good
/// client, whose 100 messages are all answered while the 50 are still open (handshakes run in
/// their own tasks, not in the accept loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_tls_2_stalled_handshakes_do_not_block_a_good_client() {
    let pki = Pki::new();
    // Long enough that the stalled connections are certainly still open when the good client is
    // done, so it was served alongside them.
    let tls = pki
        .mtls()
        .with_handshake_timeout(Duration::from_secs(60))
        .build()
        .expect("server TLS");
    let (addr, seen) = start(quick(), tls).await;

    let mut stalled = Vec::new();
    for _ in 0..50 {
        stalled.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut client = pki.client(addr, &pki.ca, Some(&pki.good), "localhost");
    let work = async {
        let mut latencies = Vec::new();
        for i in 0..100 {
            let msg = format!("MSH|good|{i}");
            let t = Instant::now();
            let ack = client.send(msg.as_bytes()).await.expect("ack");
            latencies.push(t.elapsed());
            assert_eq!(&ack[..], format!("ACK|{msg}").as_bytes());
        }
        latencies
    };
    // A blocked accept loop would never reach the good client: fail instead of hanging.
    let mut latencies = tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the good client was blocked by stalled handshakes");
    latencies.sort();
    let p99 = latencies[98];
    eprintln!("good client: p99 {p99:?}, max {:?}", latencies[99]);
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
    assert_eq!(seen.lock().expect("lock").len(), 100);

    for s in &stalled {
        let mut buf = [0u8; 1];
        let still_open =
            matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(still_open, "a stalled handshake was closed early");
    }
}

/// A connection in its handshake holds one of `max_connections` slots: with 3 stalled, a fourth
/// is closed at once; when they go away, a good client gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_hold_connection_slots() {
    let pki = Pki::new();
    let tls = pki
        .mtls()
        .with_handshake_timeout(Duration::from_secs(60))
        .build()
        .expect("server TLS");
    let (addr, seen) = start(quick().with_max_connections(3), tls).await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut client = pki.client(addr, &pki.ca, Some(&pki.good), "localhost");
    client
        .send(b"MSH|over the limit")
        .await
        .expect_err("over max_connections");
    drop(stalled);
    // The listener frees a slot when it sees the stalled peer's close; retry a bounded number
    // of times instead of guessing how long that takes.
    let mut ack = None;
    for _ in 0..50 {
        match client.send(b"MSH|after").await {
            Ok(a) => {
                ack = Some(a);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(ack.as_deref(), Some(&b"ACK|MSH|after"[..]));
    assert_eq!(seen.lock().expect("lock").len(), 1);
}

/// Graceful shutdown does not wait for connections stuck in their handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_pending_handshakes() {
    let pki = Pki::new();
    let tls = pki
        .mtls()
        .with_handshake_timeout(Duration::from_secs(60))
        .build()
        .expect("server TLS");
    let listener = MllpListener::bind("127.0.0.1:0", quick().with_tls(tls))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(listener.serve_with_shutdown(
        |m: Bytes| async move { m },
        async move {
            let _ = rx.await;
        },
    ));
    let mut stalled = Vec::new();
    for _ in 0..5 {
        stalled.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Let the listener accept them, so their handshakes are in progress at shutdown.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tx.send(());
    let done = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
    for mut s in stalled {
        let (_, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
        assert!(closed);
    }
}

/// The client side: our client, with TLS but without a client certificate, talks to a TLS
/// listener that doesn't ask for one, over several reconnections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_over_tls_talks_to_tls_listener() {
    let pki = Pki::new();
    let tls = ServerTlsConfig::new(pki.server.clone())
        .build()
        .expect("server TLS");
    let (addr, seen) = start(quick(), tls).await;
    for name in ["localhost", "127.0.0.1"] {
        let mut client = pki.client(addr, &pki.ca, None, name);
        for i in 0..3 {
            let msg = format!("MSH|{name}|{i}");
            let ack = client.send(msg.as_bytes()).await.expect("ack");
            assert_eq!(&ack[..], format!("ACK|{msg}").as_bytes());
            client.disconnect();
        }
    }
    assert_eq!(seen.lock().expect("lock").len(), 6);
}

/// A client configured with the wrong CA, or the wrong server name, fails to connect with an
/// error that says why; nothing reaches the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_with_wrong_ca_or_name_fails_clearly() {
    let pki = Pki::new();
    let tls = ServerTlsConfig::new(pki.server.clone())
        .build()
        .expect("server TLS");
    let (addr, seen) = start(quick(), tls).await;

    let mut wrong_ca = pki.client(addr, &pki.rogue, None, "localhost");
    let err = wrong_ca.send(b"MSH|x").await.expect_err("untrusted server");
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        matches!(
            handshake_error(&err),
            HandshakeError::Tls(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{text}"
    );
    assert!(
        text.contains("localhost") && text.contains("not signed by a CA"),
        "{text}"
    );

    let mut wrong_name = pki.client(addr, &pki.ca, None, "engine.example.org");
    let err = wrong_name.send(b"MSH|x").await.expect_err("wrong name");
    eprintln!("{err}");
    assert!(
        matches!(
            handshake_error(&err),
            HandshakeError::Tls(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err}"
    );
    assert!(seen.lock().expect("lock").is_empty());

    let tls = ClientTlsConfig::new(pki.ca.bundle())
        .build()
        .expect("client TLS");
    let bad = TlsConnector::new(TcpConnector::new(vec![addr]), "not a host name!", &tls);
    assert!(
        matches!(bad, Err(TlsConfigError::InvalidServerName { .. })),
        "{bad:?}"
    );
}
