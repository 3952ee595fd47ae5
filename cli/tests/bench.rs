//! `hl7 bench` against `hl7 listen` (both real child processes): every message is ACKed, and
//! the sender log is exactly the (MSH-10, sha256) of the files the receiver kept, the check
//! the crash tests build on (RELIABILITY.md, "Tests, with numbers").
//!
//! Runs are bounded by `--count`, never by time, and nothing asserts on speed.

#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::hl7;
use common::listener::Listener;
use hl7_runtime::er7::{decode_bytes, Message};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `MSH-10 -> sha256` of every file in `dir`.
fn kept(dir: &Path) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read --out") {
        let bytes = std::fs::read(entry.expect("an entry").path()).expect("read a kept file");
        let text = decode_bytes(&bytes).expect("a kept message decodes").text;
        let message = Message::parse(&text).expect("a kept message parses");
        let id = message.control_id().expect("MSH-10").to_owned();
        let previous = kept.insert(id.clone(), hex(&Sha256::digest(&bytes)));
        assert!(previous.is_none(), "MSH-10 {id} delivered twice");
    }
    kept
}

/// The lines of a `MSH-10<TAB>sha256` log, as a map; panics on a repeated MSH-10.
fn log(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).expect("read a log");
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let (id, hash) = line.split_once('\t').expect("MSH-10<TAB>sha256");
        assert_eq!(hash.len(), 64, "{line}");
        let previous = map.insert(id.to_owned(), hash.to_owned());
        assert!(previous.is_none(), "MSH-10 {id} logged twice");
    }
    map
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn the_sender_log_matches_what_the_receiver_kept() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("out");
    let sink_log = dir.path().join("sink.log");
    let sender_log = dir.path().join("sent.log");
    let listener = Listener::start(&[
        "--out",
        path(&out),
        "--sink-log",
        path(&sink_log),
        "--quiet",
    ]);
    let run = hl7(&[
        "bench",
        "--to",
        &listener.addr,
        "--count",
        "200",
        "--concurrency",
        "4",
        "--response-timeout",
        "60s",
        "--sender-log",
        path(&sender_log),
        "--json",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value = serde_json::from_slice(&run.stdout).expect("a JSON report");
    assert_eq!(report["sent"], 200, "{report}");
    assert_eq!(report["acked"], 200, "{report}");
    // The hospital mix asks for accept ACKs (MSH-15 = AL).
    assert_eq!(report["acks"], serde_json::json!({"CA": 200}), "{report}");
    assert_eq!(report["positive"], 200, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["concurrency"], 4, "{report}");
    for p in ["p50", "p90", "p99", "max"] {
        assert!(report["latency_ms"][p].as_f64().is_some(), "{report}");
    }

    let stopped = listener.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert_eq!(stopped.stdout, "", "--quiet prints no line per message");

    let sent = log(&sender_log);
    assert_eq!(sent.len(), 200);
    let delivered = kept(&out);
    assert_eq!(delivered.len(), 200);
    // lost = acked - delivered = none, and every hash is that of the bytes kept.
    assert_eq!(sent, delivered);
    assert_eq!(log(&sink_log), delivered);
    // Every MSH-10 is the run's: B<run>-<connection>-<n>.
    let connections: BTreeSet<&str> = sent
        .keys()
        .map(|id| id.split('-').nth(1).expect("B<run>-<connection>-<n>"))
        .collect();
    assert!(connections.iter().all(|c| ["1", "2", "3", "4"].contains(c)));
    let runs: BTreeSet<&str> = sent.keys().map(|id| &id[..6]).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
}

#[test]
fn a_corpus_folder_and_negative_acks() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sender_log = dir.path().join("sent.log");
    let listener = Listener::start(&["--ack", "AE", "--quiet"]);
    let run = hl7(&[
        "bench",
        "--to",
        &listener.addr,
        "--corpus",
        "cli/tests/fixtures/net",
        "--count",
        "20",
        "-c",
        "2",
        "--response-timeout",
        "60s",
        "--sender-log",
        path(&sender_log),
    ]);
    assert_eq!(run.code, Some(1), "AE and CE exit 1: {}", run.stderr);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    // The fixture folder holds four messages, one of them in enhanced mode: 15 AE, 5 CE.
    assert!(
        lines[0].starts_with(&format!("target      {} (2 connections, ", listener.addr)),
        "{out}"
    );
    assert!(lines[1].starts_with("sent        20 messages, "), "{out}");
    assert_eq!(lines[2], "acked       20 (15 AE, 5 CE)", "{out}");
    assert_eq!(lines[3], "failed      0", "{out}");
    assert!(lines[4].starts_with("throughput  "), "{out}");
    assert!(lines[5].starts_with("latency     p50 "), "{out}");
    assert!(lines[6].contains("sent.log (0 lines)"), "{out}");
    // Only AA and CA are logged: nothing here.
    assert_eq!(std::fs::read_to_string(&sender_log).expect("the log"), "");
    let stopped = listener.stop();
    assert!(
        stopped.stderr.ends_with("received 20 messages\n"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn a_bad_corpus_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let bad = dir.path().join("bad.hl7");
    std::fs::write(&bad, "MSH|^~\\&|A|B\r").expect("write a bad corpus");
    // Nothing listens there, and nothing is tried: the corpus is checked first.
    let run = hl7(&[
        "bench",
        "--to",
        "127.0.0.1:9",
        "--corpus",
        path(&bad),
        "-n",
        "5",
    ]);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert!(run.stderr.contains("MSH-10"), "{}", run.stderr);
    assert_eq!(run.stdout(), "");
}
