//! The admin endpoint's gate: every route (metrics, API, merged pages, unknown paths) refuses
//! a request without a token or with a wrong one, with `401` and `WWW-Authenticate: Bearer`;
//! the endpoint refuses to start without a token, with a weak one, or on a remote address
//! unless allowed; TLS works with the transport's certificates.

mod admin_support;

use std::sync::Arc;

use admin_support::{request, start, Api, TOKEN};
use hl7_runtime::admin::{Admin, AdminConfig, AdminError, Router};
use hl7_runtime::engine::{Channel, Engine};
use hl7_runtime::store::SqliteStore;

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/metrics"),
    ("GET", "/api/status"),
    ("GET", "/api/alerts"),
    ("POST", "/api/destinations/out/pause"),
    ("POST", "/api/destinations/out/resume"),
    ("GET", "/api/destinations/out/queue"),
    ("GET", "/api/messages"),
    ("GET", "/api/messages?patient_id=P1"),
    ("GET", "/api/messages/1"),
    ("POST", "/api/messages/1/reprocess"),
    ("POST", "/api/messages/1/discard"),
    ("POST", "/api/reprocess"),
    ("GET", "/api/audit"),
    ("GET", "/dashboard/index.html"),
    ("GET", "/no/such/page"),
    ("DELETE", "/api/status"),
];

fn engine(dir: &tempfile::TempDir) -> hl7_runtime::engine::EngineBuilder {
    let store = Arc::new(SqliteStore::open(dir.path().join("e.db")).unwrap());
    Engine::builder(store)
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(hl7_runtime::engine::Destination::folder(
            "out",
            dir.path().join("out"),
        ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let page = Router::new().route(
        "/dashboard/index.html",
        axum::routing::get(|| async { "<html>dashboard</html>" }),
    );
    let engine = engine(&dir).build().unwrap().start().await.unwrap();
    let admin = Admin::new(
        engine.handle(),
        AdminConfig::new("127.0.0.1:0")
            .token(TOKEN)
            .user_token("alice", "alice-token-0123456789"),
    )
    .merge(page)
    .start()
    .await
    .unwrap();
    let addr = admin.local_addr();
    let wrong = [
        None,
        Some("wrong-token-0123456789abcdef"),
        Some(&TOKEN[..TOKEN.len() - 1]),
        Some(""),
    ];
    for (method, path) in ROUTES {
        for token in wrong {
            let answer = request(addr, method, path, token, None).await;
            assert_eq!(answer.status, 401, "{method} {path} with {token:?}");
            assert!(
                answer.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer"),
                "{method} {path}"
            );
            assert!(
                !answer.text().contains("MSH"),
                "nothing leaks: {}",
                answer.text()
            );
        }
    }
    // A scheme other than Bearer is refused too.
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let basic = hyper::Request::get("/metrics")
        .header("host", "x")
        .header("authorization", format!("Basic {TOKEN}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(sender.send_request(basic).await.unwrap().status(), 401);

    // With a token: the API, the merged page, and 404 for what does not exist.
    let api = Api { addr };
    assert_eq!(api.get("/api/status").await.status, 200);
    assert_eq!(api.get("/metrics").await.status, 200);
    let page = api.get("/dashboard/index.html").await;
    assert_eq!(
        (page.status, page.text().as_str()),
        (200, "<html>dashboard</html>")
    );
    assert_eq!(api.get("/no/such/page").await.status, 404);
    let alice = request(
        addr,
        "GET",
        "/api/status",
        Some("alice-token-0123456789"),
        None,
    )
    .await;
    assert_eq!(alice.status, 200);

    admin.shutdown().await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_configurations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).build().unwrap().start().await.unwrap();
    let start = |config: AdminConfig| Admin::new(engine.handle(), config).start();
    assert!(matches!(
        start(AdminConfig::new("127.0.0.1:0")).await,
        Err(AdminError::NoToken)
    ));
    assert!(matches!(
        start(AdminConfig::new("127.0.0.1:0").token("short")).await,
        Err(AdminError::WeakToken { .. })
    ));
    assert!(matches!(
        start(AdminConfig::new("0.0.0.0:0").token(TOKEN)).await,
        Err(AdminError::NotLoopback { .. })
    ));
    let remote = start(
        AdminConfig::new("0.0.0.0:0")
            .token(TOKEN)
            .allow_remote(true),
    )
    .await
    .expect("remote allowed explicitly");
    remote.shutdown().await;
    assert!(matches!(
        start(
            AdminConfig::new("127.0.0.1:0")
                .token(TOKEN)
                .alerts(hl7_runtime::admin::AlertConfig::new().webhook("https://x.invalid/"))
        )
        .await,
        Err(AdminError::Webhook(_))
    ));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_channels_and_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, admin, api) = start(engine(&dir), |c| c).await;
    let status = api.get_json("/api/status").await;
    assert_eq!(status["channels"][0]["name"], "in");
    assert_eq!(status["channels"][0]["acks"]["AA"], 0);
    assert_eq!(status["destinations"][0]["name"], "out");
    assert_eq!(status["destinations"][0]["state"], "up");
    assert_eq!(status["destinations"][0]["queue_depth"], 0);
    assert_eq!(status["store_ok"], true);
    let paused = api.post_json("/api/destinations/out/pause", None).await;
    assert_eq!(paused["paused"], true);
    let status = api.get_json("/api/status").await;
    assert_eq!(status["destinations"][0]["state"], "paused");
    assert_eq!(
        api.post("/api/destinations/nowhere/pause", None)
            .await
            .status,
        404
    );
    api.post_json("/api/destinations/out/resume", None).await;
    let audit = api.get_json("/api/audit?action=pause").await;
    assert_eq!(audit["entries"][0]["user"], "admin");
    assert_eq!(audit["entries"][0]["details"]["destination"], "out");
    assert_eq!(api.get("/api/messages?colour=red").await.status, 400);
    admin.shutdown().await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_transport_certificates() {
    use hl7_runtime::transport::{Identity, ServerTlsConfig};
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let identity = Identity::from_pem(
        ca.cert.pem().as_bytes(),
        ca.key_pair.serialize_pem().as_bytes(),
    )
    .unwrap();
    let tls = ServerTlsConfig::new(identity).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (engine, admin, _) = start(engine(&dir), |c| c.tls(tls)).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let get = |token: &'static str| {
        let connector = connector.clone();
        let addr = admin.local_addr();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let request = hyper::Request::get("/api/status")
                .header("host", "localhost")
                .header("authorization", format!("Bearer {token}"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            sender
                .send_request(request)
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get(TOKEN).await, 200);
    assert_eq!(get("wrong-token-0123456789abcdef").await, 401);
    // Plain HTTP to the TLS port gets no answer.
    let plain = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::spawn(request(
            admin.local_addr(),
            "GET",
            "/api/status",
            Some(TOKEN),
            None,
        )),
    )
    .await;
    assert!(!matches!(plain, Ok(Ok(ref a)) if a.status == 200));
    admin.shutdown().await;
    engine.shutdown().await;
}
