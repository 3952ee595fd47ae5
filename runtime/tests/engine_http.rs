//! The HTTP destination against a real HTTP server on loopback: 2xx is delivered, 5xx is
//! retried in order, 4xx is an error retried per policy and then dead-lettered.

mod engine_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use engine_support::{adt, connect, control_id_of, wait_for, Run};
use hl7_runtime::engine::{Channel, Destination, Engine, RetryPolicy, Route};
use hl7_runtime::store::{ItemState, MessageId, SqliteStore, Store};

/// What the server got (control ID, content type) and the status it answered.
type Log = Arc<Mutex<Vec<(String, String, u16)>>>;

async fn receive(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let id = control_id_of(&body);
    let mut log = log.lock().unwrap();
    let seen = log.iter().filter(|(i, _, _)| *i == id).count();
    // H2 fails twice with 503, H3 is refused with 400 every time.
    let status = match (id.as_str(), seen) {
        ("H2", 0 | 1) => StatusCode::SERVICE_UNAVAILABLE,
        ("H3", _) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    log.push((id, content_type, status.as_u16()));
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_destination_delivers_retries_and_dead_letters() {
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/hl7", post(receive))
        .with_state(Arc::clone(&log));
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hl7", server.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(server, app).await });

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).unwrap());
    let retry = RetryPolicy::default()
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .error_retries(1);
    let running = Engine::builder(Arc::clone(&store) as Arc<dyn Store>)
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::http("billing", url).retry(retry))
        .route(Route::new("all").to("billing"))
        .run()
        .await;
    let mut client = connect(&running, "in").await;
    for id in ["H1", "H2", "H3", "H4"] {
        client.send(&adt(id, "P8", 0)).await.unwrap();
    }
    wait_for("H4 delivered", Duration::from_secs(30), || {
        log.lock()
            .unwrap()
            .iter()
            .any(|(id, _, s)| id == "H4" && *s == 200)
    })
    .await;
    let seen: Vec<(String, u16)> = log
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _, status)| (id.clone(), *status))
        .collect();
    let expected: Vec<(String, u16)> = [
        ("H1", 200),
        ("H2", 503),
        ("H2", 503),
        ("H2", 200),
        ("H3", 400),
        ("H3", 400),
        ("H4", 200),
    ]
    .iter()
    .map(|(id, s)| ((*id).to_owned(), *s))
    .collect();
    assert_eq!(
        seen, expected,
        "in order; 5xx retried; 4xx retried once, then dead-lettered"
    );
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .all(|(_, ct, _)| ct.starts_with("application/hl7-v2")));
    let h3 = store.message(MessageId(3)).unwrap().unwrap();
    assert_eq!(h3.items[0].state, ItemState::Error);
    assert_eq!(
        h3.items[0].last_error.as_deref(),
        Some("HTTP 400 Bad Request (after 2 attempts)")
    );
    running.shutdown().await;
}
