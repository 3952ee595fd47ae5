//! kill -9 after commit loses nothing: a child process (this test binary, re-run with an
//! environment flag) ingests messages and prints each id once `ingest_many` has returned (or,
//! in odd rounds, once `sync` has handed out the receipts of `write_batch`, the engine's
//! pipelined group commit); the parent SIGKILLs it mid-run (`Child::kill`), reopens the
//! database and finds every printed id, byte for byte. Four kills on the same database.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hl7_runtime::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{
    Accept, Accepted, Disposition, InboundMessage, MessageId, Receipt, SqliteStore, Store,
};

const CHILD_DB: &str = "HL7_STORE_CRASH_CHILD_DB";
const CHILD_ROUND: &str = "HL7_STORE_CRASH_CHILD_ROUND";

fn raw(round: u64, seq: u64) -> Vec<u8> {
    format!("MSH|^~\\&|LAB|HOSP|||x||ORU^R01|{round}-{seq}|P|2.5.1\rOBX|1|ST|||{seq}\r")
        .into_bytes()
}

fn inbound(round: u64, seq: u64) -> InboundMessage {
    let raw = raw(round, seq);
    InboundMessage {
        fingerprint: Fingerprint {
            key: DedupeKey {
                sending_application: "LAB".into(),
                sending_facility: "HOSP".into(),
                control_id: format!("{round}-{seq}"),
            },
            hash: PayloadHash::of(&raw),
        },
        raw,
        channel: "lab-in".into(),
        received_at: Timestamp::from_unix_millis(seq),
        msg_type: "ORU^R01".into(),
        patient_id: None,
    }
}

/// The child: ingest in small batches until killed (or 30 s), printing `ID <id> <round> <seq>`
/// after each commit.
#[test]
fn crash_child() -> Result<(), Box<dyn std::error::Error>> {
    let (Ok(path), Ok(round)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ROUND)) else {
        return Ok(()); // Not the child: nothing to do.
    };
    let round: u64 = round.parse()?;
    let store = SqliteStore::open(path)?;
    let stdout = std::io::stdout();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seq = 0;
    while Instant::now() < deadline {
        let batch: Vec<_> = (seq..seq + 1 + seq % 4)
            .map(|s| inbound(round, s))
            .collect();
        let receipts: Vec<Receipt> = if round.is_multiple_of(2) {
            store.ingest_many(&batch)?
        } else {
            let accepts: Vec<Accept<'_>> = batch
                .iter()
                .map(|inbound| Accept {
                    inbound,
                    disposition: Disposition::Later,
                    ack: None,
                    application_ack: None,
                })
                .collect();
            let written = store.write_batch(&accepts, Timestamp::from_unix_millis(seq))?;
            let accepted = store.sync(vec![written])?.pop().ok_or("one batch")?;
            accepted
                .into_iter()
                .map(|a| match a {
                    Accepted::Stored { receipt, .. } => Ok(receipt),
                    Accepted::Verbatim { .. } => Err("no resends here"),
                })
                .collect::<Result<_, _>>()?
        };
        let mut out = stdout.lock();
        for (r, m) in receipts.iter().zip(&batch) {
            let s = m.received_at.unix_millis();
            writeln!(out, "ID {} {round} {s}", r.id.0)?;
        }
        out.flush()?;
        seq += batch.len() as u64;
    }
    Ok(())
}

#[test]
fn kill_9_after_commit_loses_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    let exe = std::env::current_exe()?;
    let mut printed = Vec::new();
    for round in 0..4u64 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DB, &path)
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        // Kill at a point that varies by round, mid-stream.
        let kill_after = 300 + round * 137;
        for line in lines.by_ref() {
            let line = line?;
            if let Some(rest) = line.strip_prefix("ID ") {
                printed.push(rest.to_owned());
                seen += 1;
                if seen == kill_after {
                    child.kill()?; // SIGKILL on Unix.
                    break;
                }
            }
        }
        // Whatever the child printed before it died is still in the pipe: it counts too.
        for line in lines {
            if let Some(rest) = line?.strip_prefix("ID ") {
                printed.push(rest.to_owned());
            }
        }
        let status = child.wait()?;
        assert!(!status.success(), "the child was killed, not finished");
        assert!(seen >= kill_after, "child stopped early after {seen} ids");
    }

    let store = SqliteStore::open(&path)?;
    let mut lost = Vec::new();
    for entry in &printed {
        let mut parts = entry.split(' ').map(str::parse::<u64>);
        let (Some(Ok(id)), Some(Ok(round)), Some(Ok(seq))) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("bad child line {entry:?}").into());
        };
        match store.message(MessageId(id))? {
            Some(m) if m.inbound.raw == raw(round, seq) => {}
            _ => lost.push(id),
        }
    }
    assert!(printed.len() >= 300 + 437 + 574);
    assert_eq!(
        lost,
        Vec::<u64>::new(),
        "committed messages lost after kill -9"
    );
    Ok(())
}
