//! The WAL stays bounded under sustained writes: the store's checkpointer makes it start over
//! once it passes 4,096 frames, where SQLite alone would let it grow to the writers' own
//! checkpoint threshold (20,000 frames, 80 MiB) and have every commit checkpoint from then on.

use hl7_runtime::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{InboundMessage, SqliteStore, Store};

/// A WAL frame: a 4 KiB page and its 24-byte header.
const FRAME: u64 = 4096 + 24;

fn message(n: usize) -> InboundMessage {
    // About 3 KiB, the corpus median: at least one page of the messages table each.
    let notes: String = (0..30)
        .map(|i| format!("NTE|{i}|L|note {n} {i:>80}\r"))
        .collect();
    let raw =
        format!("MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240501||ORU^R01|W{n}|P|2.5.1\rPID|1||P{n}\r{notes}")
            .into_bytes();
    InboundMessage {
        fingerprint: Fingerprint {
            key: DedupeKey {
                sending_application: "LAB".into(),
                sending_facility: "HOSP".into(),
                control_id: format!("W{n}"),
            },
            hash: PayloadHash::of(&raw),
        },
        raw,
        channel: "lab-in".into(),
        received_at: Timestamp::from_unix_millis(1_000 + n as u64),
        msg_type: "ORU^R01".into(),
        patient_id: Some(format!("P{n}")),
    }
}

#[test]
fn sustained_writes_keep_the_wal_under_the_writers_threshold(
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    let wal = dir.path().join("engine.db-wal");
    let store = SqliteStore::open(&path)?;
    let mut written: u64 = 0;
    let mut largest: u64 = 0;
    let mut n = 0;
    // Half as much again as the writers' threshold would let the WAL hold. Every batch is
    // fsynced (the default `synchronous=FULL`), which keeps the writes at a disk's pace.
    while written < 30_000 * FRAME {
        let batch: Vec<_> = (n..n + 32).map(message).collect();
        n += batch.len();
        written += batch.iter().map(|m| m.raw.len() as u64).sum::<u64>();
        store.ingest_many(&batch)?;
        largest = largest.max(std::fs::metadata(&wal)?.len());
    }
    // The restart threshold plus what writers add between two checkpoint runs (200 ms),
    // with room for a slow machine; well under the 20,000 frames SQLite would reach alone.
    assert!(
        largest < 12_000 * FRAME,
        "the WAL grew to {largest} bytes ({} frames) while {written} bytes were written",
        largest / FRAME
    );
    assert!(largest > 0, "the store writes through its WAL");
    Ok(())
}
