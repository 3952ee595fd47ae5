//! `/metrics` scraped after real traffic (MLLP over loopback, sinks answering `AA` or `AR`),
//! parsed with `prometheus-parse`: every count matches what was sent.

mod admin_support;
mod engine_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use admin_support::{eventually, start, Api};
use engine_support::{adt, Sink, SinkReply};
use hl7_runtime::ack::AckCode;
use hl7_runtime::engine::{Channel, Destination, Engine, Route};
use hl7_runtime::store::SqliteStore;
use hl7_runtime::transport::{ClientConfig, MllpClient};
use prometheus_parse::{Scrape, Value};

/// Messages sent, unique.
const N: u32 = 20;

struct Metrics(Scrape);

impl Metrics {
    async fn scrape(api: &Api) -> Metrics {
        let answer = api.get("/metrics").await;
        assert_eq!(answer.status, 200);
        assert!(answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = answer.text();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Metrics(Scrape::parse(lines).expect("valid exposition"))
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let sample = self
            .0
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
        match &sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name} is {other:?}"),
        }
    }

    fn histogram(&self, name: &str, destination: &str) -> Vec<(f64, f64)> {
        let sample = self
            .0
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("destination") == Some(destination))
            .unwrap_or_else(|| panic!("no histogram {name} {destination}"));
        match &sample.value {
            Value::Histogram(buckets) => buckets.iter().map(|b| (b.less_than, b.count)).collect(),
            other => panic!("{name} is {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("e.db")).unwrap());
    let a = Sink::aa().await;
    // `b` refuses two messages for good: they are dead-lettered.
    let b = Sink::start(Arc::new(|id: &str, _| {
        let code = if id == "M3" || id == "M7" {
            AckCode::AR
        } else {
            AckCode::AA
        };
        SinkReply::Ack(code, Duration::ZERO)
    }))
    .await;
    let builder = Engine::builder(store)
        .channel(Channel::mllp("in", "127.0.0.1:0"))
        .destination(Destination::mllp("a", a.addr.to_string()))
        .destination(Destination::mllp("b", b.addr.to_string()))
        .route(Route::new("ADT").when(|m| m.is("ADT", "*")).to("a").to("b"));
    let (engine, admin, api) = start(builder, |c| c).await;

    let mut client = MllpClient::connect(engine.local_addr("in").unwrap(), ClientConfig::default())
        .await
        .unwrap();
    for i in 0..N {
        client.send(&adt(&format!("M{i}"), "P1", i)).await.unwrap();
    }
    // A verbatim resend, a control ID reused for other content, two unreadable messages.
    client.send(&adt("M0", "P1", 0)).await.unwrap();
    client.send(&adt("M1", "P1", 999)).await.unwrap();
    client.send(b"not HL7 at all").await.unwrap();
    client.send(b"MSH|broken").await.unwrap();
    let delivered = N as usize + 1;
    engine_support::wait_for("deliveries", Duration::from_secs(30), || {
        a.count() >= delivered && b.count() >= delivered
    })
    .await;
    eventually(
        "the last reports filed",
        Duration::from_secs(30),
        || async {
            let m = Metrics::scrape(&api).await;
            m.value("hl7_destination_delivered_total", &[("destination", "b")]) == 19.0
                && m.value("hl7_destination_queue_depth", &[("destination", "a")]) == 0.0
                && m.value("hl7_destination_queue_depth", &[("destination", "b")]) == 0.0
        },
    )
    .await;

    let m = Metrics::scrape(&api).await;
    let ch = [("channel", "in")];
    assert_eq!(m.value("hl7_channel_received_total", &ch), f64::from(N + 4));
    assert_eq!(m.value("hl7_channel_duplicates_total", &ch), 1.0);
    assert_eq!(m.value("hl7_channel_control_id_reuse_total", &ch), 1.0);
    assert_eq!(m.value("hl7_channel_errors_total", &ch), 2.0);
    assert_eq!(m.value("hl7_channel_store_failures_total", &ch), 0.0);
    let acks: HashMap<&str, f64> = ["AA", "AE", "AR", "CA", "CE", "CR"]
        .iter()
        .map(|c| {
            (
                *c,
                m.value("hl7_channel_acks_total", &[("channel", "in"), ("code", c)]),
            )
        })
        .collect();
    assert_eq!(acks["AA"], f64::from(N + 2), "{acks:?}");
    assert_eq!(acks["AE"] + acks["AR"], 2.0, "{acks:?}");
    assert_eq!(acks["CA"] + acks["CE"] + acks["CR"], 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = m.value("hl7_channel_last_received_timestamp_seconds", &ch);
    assert!((now - last).abs() < 120.0, "{last} vs {now}");

    let (da, db) = ([("destination", "a")], [("destination", "b")]);
    assert_eq!(m.value("hl7_destination_delivered_total", &da), 21.0);
    assert_eq!(m.value("hl7_destination_delivered_total", &db), 19.0);
    assert_eq!(m.value("hl7_destination_dead_lettered_total", &db), 2.0);
    assert_eq!(m.value("hl7_destination_dead_lettered_total", &da), 0.0);
    assert_eq!(m.value("hl7_destination_failed_total", &db), 2.0);
    assert_eq!(m.value("hl7_destination_retried_total", &db), 0.0);
    assert_eq!(m.value("hl7_destination_dead_letters", &db), 2.0);
    assert_eq!(
        m.value("hl7_destination_oldest_queued_age_seconds", &da),
        0.0
    );
    assert_eq!(m.value("hl7_destination_paused", &da), 0.0);
    // b's last attempt succeeded or failed depending on order; a is up.
    assert_eq!(m.value("hl7_destination_down", &da), 0.0);

    let name = "hl7_destination_delivery_latency_seconds";
    let buckets = m.histogram(name, "a");
    assert_eq!(buckets.len(), 13);
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 21.0));
    assert!(buckets
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert_eq!(m.value(&format!("{name}_count"), &da), 21.0);
    assert!(m.value(&format!("{name}_sum"), &da) > 0.0);
    assert_eq!(m.value(&format!("{name}_count"), &db), 19.0);

    assert_eq!(m.value("hl7_store_up", &[]), 1.0);
    assert!(m.value("process_resident_memory_bytes", &[]) > 1.0e6);
    assert!(m.value("process_open_fds", &[]) > 3.0);
    assert!(m.value("process_cpu_seconds_total", &[]) >= 0.0);
    assert!(m.value("process_uptime_seconds", &[]) >= 0.0);
    assert!(m.value("process_start_time_seconds", &[]) > 1.0e9);

    // The status API says the same.
    let status = api.get_json("/api/status").await;
    let b_status = &status["destinations"][1];
    assert_eq!(b_status["name"], "b");
    assert_eq!(b_status["delivered"], 19);
    assert_eq!(b_status["dead_letters"], 2);
    assert_eq!(status["channels"][0]["acks"]["AA"], N + 2);
    assert_eq!(status["destinations"][0]["latency"]["count"], 21);

    admin.shutdown().await;
    engine.shutdown().await;
}
