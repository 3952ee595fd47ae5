//! Test sinks and senders for the engine tests: MLLP receivers whose answer each test chooses,
//! and a log of what they received.

#![allow(dead_code, unreachable_pub)]

pub mod partner;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hl7_runtime::ack::{AckBuilder, AckCode, ControlIds, SequenceIds};
use hl7_runtime::engine::{EngineBuilder, RunningEngine};
use hl7_runtime::er7::Message;
use hl7_runtime::transport::{ClientConfig, ListenerConfig, MllpClient, MllpListener, Reply};

/// What a sink answers for one message (the message's MSH-10 and how often it was seen).
pub type Answer = Arc<dyn Fn(&str, usize) -> SinkReply + Send + Sync>;

/// A sink's answer.
#[derive(Debug, Clone)]
pub enum SinkReply {
    /// An ACK with this code, after this delay.
    Ack(AckCode, Duration),
    /// An ACK naming another control ID.
    WrongId,
}

/// A running sink and what it received, in order.
#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Sink {
    /// A sink that ACKs `AA` at once.
    pub async fn aa() -> Sink {
        Sink::start(Arc::new(|_, _| SinkReply::Ack(AckCode::AA, Duration::ZERO))).await
    }

    pub async fn start(answer: Answer) -> Sink {
        let listener = MllpListener::bind("127.0.0.1:0", ListenerConfig::default())
            .await
            .expect("bind a sink");
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let log = Arc::clone(&received);
        let ids = Arc::new(SequenceIds::new("SINK"));
        tokio::spawn(listener.serve(move |raw: Bytes| {
            let (answer, log, ids) = (Arc::clone(&answer), Arc::clone(&log), Arc::clone(&ids));
            async move {
                let text = String::from_utf8_lossy(&raw).into_owned();
                let message =
                    Message::parse(&text).expect("the engine delivers parseable messages");
                let control_id = message.control_id().unwrap_or_default().to_owned();
                let seen = {
                    let mut log = log.lock().unwrap();
                    log.push(raw.to_vec());
                    log.iter()
                        .filter(|m| control_id_of(m) == control_id)
                        .count()
                };
                let reply = answer(&control_id, seen);
                let ack = match reply {
                    SinkReply::Ack(code, delay) => {
                        tokio::time::sleep(delay).await;
                        AckBuilder::new(&message)
                            .code(code)
                            .control_id(ids.next())
                            .build()
                    }
                    SinkReply::WrongId => {
                        let ack = AckBuilder::new(&message)
                            .code(AckCode::AA)
                            .control_id(ids.next())
                            .build();
                        ack.replace(&format!("MSA|AA|{control_id}"), "MSA|AA|SOMEONE-ELSE")
                    }
                };
                Reply::Message(Bytes::from(ack.into_bytes()))
            }
        }));
        Sink { addr, received }
    }

    /// The control IDs received, in order.
    pub fn control_ids(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|m| control_id_of(m))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

pub fn control_id_of(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    Message::parse(&text)
        .ok()
        .and_then(|m| m.control_id().map(str::to_owned))
        .unwrap_or_default()
}

/// An ADT^A08 with control ID `id` and a patient id; `variant` changes the body only.
pub fn adt(id: &str, patient: &str, variant: u32) -> Vec<u8> {
    format!(
        "MSH|^~\\&|REG|HOSP|ENGINE|HOSP|20241127120000||ADT^A08^ADT_A01|{id}|P|2.5.1\r\
         EVN|A08|20241127120000\r\
         PID|1||{patient}^^^HOSP^MR||DOE^JANE||19800101|F|||1 MAIN ST^^TOWN^ST^12345||555-{variant:04}\r\
         PV1|1|I|W1^101^A\r"
    )
    .into_bytes()
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; panics with `what`.
pub async fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// MSA-1 and MSA-2 of an ACK.
pub fn msa(ack: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(ack);
    let message = Message::parse(&text).expect("ACK parses");
    let get = |p: &str| {
        message
            .get(p)
            .ok()
            .flatten()
            .map(|i| i.raw().to_owned())
            .unwrap_or_default()
    };
    (get("MSA-1"), get("MSA-2"))
}

/// Builds and starts an engine the test configured; any refusal fails the test.
pub trait Run {
    async fn run(self) -> RunningEngine;
}

impl Run for EngineBuilder {
    async fn run(self) -> RunningEngine {
        self.build()
            .expect("a valid configuration")
            .start()
            .await
            .expect("the engine starts")
    }
}

/// A client of the engine's MLLP channel `channel`.
pub async fn connect(engine: &RunningEngine, channel: &str) -> MllpClient {
    let addr = engine.local_addr(channel).expect("channel bound");
    MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect to the engine")
}
