//! Alerts over a real engine, delivered to a local webhook: each rule fires once when its
//! threshold is crossed and resolves once when it clears, whatever the evaluations between.

mod admin_support;
mod engine_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admin_support::{eventually, start, Api};
use bytes::Bytes;
use engine_support::adt;
use hl7_runtime::ack::{AckBuilder, AckCode, ControlIds, SequenceIds};
use hl7_runtime::admin::{AlertConfig, Rule};
use hl7_runtime::engine::{Channel, Destination, Engine, EngineBuilder, RetryPolicy, Route};
use hl7_runtime::er7::Message;
use hl7_runtime::store::SqliteStore;
use hl7_runtime::transport::{ClientConfig, ListenerConfig, MllpClient, MllpListener, Reply};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

/// A webhook receiver: what was POSTed to it, in order.
#[derive(Clone)]
struct Hook {
    url: String,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start() -> Hook {
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let log = Arc::clone(&got);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let log = Arc::clone(&log);
                async move {
                    log.lock().unwrap().push(body);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hook {
            url: format!("http://{addr}/hook"),
            got,
        }
    }

    /// (rule, subject, state) of every notification so far.
    fn states(&self) -> Vec<(String, String, String)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["rule"].as_str().unwrap().to_owned(),
                    n["subject"].as_str().unwrap().to_owned(),
                    n["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn of(&self, rule: &str) -> Vec<String> {
        self.states()
            .into_iter()
            .filter(|(r, _, _)| r == rule)
            .map(|(_, _, s)| s)
            .collect()
    }

    async fn wait(&self, rule: &str, expected: &[&str]) {
        eventually(&format!("{rule} {expected:?}"), LIMIT, || async {
            self.of(rule) == expected
        })
        .await;
    }
}

fn t(s: (&str, &str, &str)) -> (String, String, String) {
    (s.0.to_owned(), s.1.to_owned(), s.2.to_owned())
}

fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(dir.path().join("e.db")).unwrap())
}

fn alerts(hook: &Hook) -> AlertConfig {
    AlertConfig::new()
        .interval(Duration::from_millis(100))
        .webhook(hook.url.clone())
}

async fn send(engine: &hl7_runtime::engine::RunningEngine, messages: &[Vec<u8>]) {
    let mut client = MllpClient::connect(engine.local_addr("in").unwrap(), ClientConfig::default())
        .await
        .unwrap();
    for m in messages {
        client.send(m).await.unwrap();
    }
}

/// Evaluations happen every 100 ms: half a second is five of them.
async fn several_evaluations() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_depth_and_age_fire_once_and_resolve_once() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start().await;
    let sink = engine_support::Sink::aa().await;
    let builder = Engine::builder(store(&dir))
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::mllp("slow", sink.addr.to_string()))
        .destination(Destination::folder("archive", dir.path().join("archive")))
        .route(Route::new("all").to("slow").to("archive"));
    let config = alerts(&hook)
        .rule(Rule::queue_depth(2).only("slow"))
        .rule(Rule::oldest_queued(Duration::from_secs(1)).only("slow"));
    let (engine, admin, api) = start(builder, |c| c.alerts(config)).await;

    api.post_json("/api/destinations/slow/pause", None).await;
    send(&engine, &[adt("Q1", "P", 1), adt("Q2", "P", 2)]).await;
    several_evaluations().await;
    assert!(hook.of("queue_depth").is_empty(), "2 queued is not above 2");
    send(&engine, &[adt("Q3", "P", 3)]).await;
    hook.wait("queue_depth", &["firing"]).await;
    hook.wait("oldest_queued_age", &["firing"]).await;
    several_evaluations().await;
    assert_eq!(
        hook.of("queue_depth"),
        ["firing"],
        "once, though evaluated many times"
    );
    assert_eq!(hook.of("oldest_queued_age"), ["firing"]);
    assert_eq!(hook.states().len(), 2);
    let first = hook
        .got
        .lock()
        .unwrap()
        .iter()
        .find(|n| n["rule"] == "queue_depth")
        .cloned()
        .unwrap();
    assert_eq!(first["value"], 3.0);
    assert_eq!(first["threshold"], 2.0);
    assert!(first["at"].as_str().unwrap().ends_with('Z'));
    let status = api.get_json("/api/status").await;
    assert_eq!(status["alerts"].as_array().unwrap().len(), 2);
    let listed = api.get_json("/api/alerts").await;
    assert_eq!(listed["rules"].as_array().unwrap().len(), 2);
    assert_eq!(listed["firing"][0]["subject"], "slow");
    let metrics = api.get("/metrics").await.text();
    assert!(metrics.contains("hl7_alert_firing{rule=\"queue_depth\",subject=\"slow\"} 1"));

    api.post_json("/api/destinations/slow/resume", None).await;
    hook.wait("queue_depth", &["firing", "resolved"]).await;
    hook.wait("oldest_queued_age", &["firing", "resolved"])
        .await;
    several_evaluations().await;
    assert_eq!(hook.states().len(), 4);
    assert!(hook.states().iter().all(|(_, s, _)| s == "slow"));
    assert_eq!(
        api.get_json("/api/status").await["alerts"],
        serde_json::json!([])
    );
    admin.shutdown().await;
    engine.shutdown().await;
}

/// An MLLP receiver on `addr` that answers `AA`.
async fn sink_on(addr: SocketAddr) {
    let listener = MllpListener::bind(addr, ListenerConfig::default())
        .await
        .expect("bind the port again");
    let ids = Arc::new(SequenceIds::new("UP"));
    tokio::spawn(listener.serve(move |raw: Bytes| {
        let ids = Arc::clone(&ids);
        async move {
            let text = String::from_utf8_lossy(&raw).into_owned();
            let message = Message::parse(&text).unwrap();
            let ack = AckBuilder::new(&message)
                .code(AckCode::AA)
                .control_id(ids.next())
                .build();
            Reply::Message(Bytes::from(ack.into_bytes()))
        }
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destination_down_fires_and_resolves_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start().await;
    // A port with nothing listening: connections are refused until the sink starts there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = port.local_addr().unwrap();
    drop(port);
    let builder = Engine::builder(store(&dir))
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::mllp("lab", addr.to_string()).retry(
            RetryPolicy::default().backoff(Duration::from_millis(50), Duration::from_millis(200)),
        ))
        .route(Route::new("all").to("lab"));
    let config = alerts(&hook).rule(Rule::destination_down(Duration::from_millis(500)));
    let (engine, admin, api) = start(builder, |c| c.alerts(config)).await;
    send(&engine, &[adt("D1", "P", 1)]).await;
    hook.wait("destination_down", &["firing"]).await;
    let status = api.get_json("/api/status").await;
    assert_eq!(status["destinations"][0]["state"], "down");
    several_evaluations().await;
    assert_eq!(hook.states(), [t(("destination_down", "lab", "firing"))]);

    sink_on(addr).await;
    hook.wait("destination_down", &["firing", "resolved"]).await;
    several_evaluations().await;
    assert_eq!(hook.states().len(), 2);
    let resolved = hook.got.lock().unwrap()[1].clone();
    assert_eq!(resolved["value"], 0.0);
    assert_eq!(resolved["threshold"], 0.5);
    admin.shutdown().await;
    engine.shutdown().await;
}

fn quiet_engine(dir: &tempfile::TempDir) -> EngineBuilder {
    Engine::builder(store(dir))
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::folder("archive", dir.path().join("archive")))
        .route(Route::new("all").to("archive"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rate_and_control_id_reuse_fire_once_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start().await;
    let config = alerts(&hook)
        .rule(Rule::error_rate_over(30.0, Duration::from_secs(2)))
        .rule(Rule::control_id_reuse(Duration::from_secs(1)));
    let (engine, admin, _api) = start(quiet_engine(&dir), |c| c.alerts(config)).await;

    // Three unreadable messages: 90 a minute over a 2 s window.
    send(
        &engine,
        &[b"junk 1".to_vec(), b"junk 2".to_vec(), b"junk 3".to_vec()],
    )
    .await;
    hook.wait("error_rate", &["firing"]).await;
    // The same control ID for other content.
    send(&engine, &[adt("R1", "P", 1), adt("R1", "P", 2)]).await;
    hook.wait("control_id_reuse", &["firing"]).await;
    hook.wait("control_id_reuse", &["firing", "resolved"]).await;
    hook.wait("error_rate", &["firing", "resolved"]).await;
    several_evaluations().await;
    let states = hook.states();
    assert_eq!(states.len(), 4, "{states:?}");
    assert!(states.iter().all(|(_, subject, _)| subject == "in"));
    admin.shutdown().await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_idle_fires_and_resolves_on_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start().await;
    let config = alerts(&hook).rule(Rule::channel_idle(Duration::from_millis(500)));
    let (engine, admin, _api) = start(quiet_engine(&dir), |c| c.alerts(config)).await;
    hook.wait("channel_idle", &["firing"]).await;
    several_evaluations().await;
    assert_eq!(hook.states(), [t(("channel_idle", "in", "firing"))]);
    send(&engine, &[adt("I1", "P", 1)]).await;
    hook.wait("channel_idle", &["firing", "resolved"]).await;
    admin.shutdown().await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webhook_does_not_stop_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/hook", port.local_addr().unwrap());
    drop(port);
    let config = AlertConfig::new()
        .interval(Duration::from_millis(100))
        .webhook(nowhere)
        .webhook_timeout(Duration::from_millis(200))
        .rule(Rule::channel_idle(Duration::from_millis(200)));
    let (engine, admin, api): (_, _, Api) = start(quiet_engine(&dir), |c| c.alerts(config)).await;
    eventually("the idle alert listed", LIMIT, || async {
        api.get_json("/api/status").await["alerts"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    admin.shutdown().await;
    engine.shutdown().await;
}
