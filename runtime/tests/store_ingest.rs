//! The store keeps what it acknowledged: ingest and reopen, duplicate lookups, file
//! permissions, one user at a time, schema version.

use hl7_runtime::ack::{DedupeKey, Duplicate, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{
    Error, InboundMessage, MessageState, Options, SqliteStore, Store, Synchronous,
};

fn inbound(control_id: &str, body: &str, at: u64) -> InboundMessage {
    let raw = format!(
        "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240501||ORU^R01|{control_id}|P|2.5.1\rPID|1||{body}\r"
    )
    .into_bytes();
    InboundMessage {
        fingerprint: Fingerprint {
            key: DedupeKey {
                sending_application: "LAB".into(),
                sending_facility: "HOSP".into(),
                control_id: control_id.into(),
            },
            hash: PayloadHash::of(&raw),
        },
        raw,
        channel: "lab-in".into(),
        received_at: Timestamp::from_unix_millis(at),
        msg_type: "ORU^R01".into(),
        patient_id: Some(format!("P{body}")),
    }
}

#[test]
fn ingested_messages_survive_a_reopen() -> Result<(), Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::File {
        path: "tempdir".into(),
        source: e,
    })?;
    let path = dir.path().join("engine.db");
    let mut expected = Vec::new();
    {
        let store = SqliteStore::open(&path)?;
        assert!(store.synchronous().is_durable());
        for i in 0..20 {
            let m = inbound(&format!("C{i}"), &format!("{i}"), 1_000 + i);
            let receipt = store.ingest(&m)?;
            assert_eq!(receipt.durable.record(), receipt.id.0);
            expected.push((receipt.id, m));
        }
        let batch: Vec<_> = (20..120)
            .map(|i| inbound(&format!("C{i}"), &format!("{i}"), 1_000 + i))
            .collect();
        let receipts = store.ingest_many(&batch)?;
        assert_eq!(receipts.len(), batch.len());
        for (r, m) in receipts.into_iter().zip(batch) {
            expected.push((r.id, m));
        }
        let ids: Vec<_> = expected.iter().map(|(id, _)| id.0).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow");
    }
    let store = SqliteStore::open(&path)?;
    for (id, m) in &expected {
        let stored = store
            .message(*id)?
            .expect("stored message is back after reopen");
        assert_eq!(&stored.inbound, m);
        assert_eq!(stored.state, MessageState::Received);
        assert!(stored.items.is_empty());
    }
    assert_eq!(store.unrouted(1_000)?.len(), expected.len());
    assert!(store
        .message(hl7_runtime::store::MessageId(999_999))?
        .is_none());
    Ok(())
}

#[test]
fn dedupe_tells_verbatim_resend_from_control_id_reuse() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("engine.db"))?;
    let first = inbound("42", "alpha", 1);
    let receipt = store.ingest(&first)?;
    store.store_ack(receipt.id, b"MSA|AA|42")?;

    // Verbatim resend (terminators differ, which the hash ignores).
    let mut resend = first.clone();
    resend.raw = String::from_utf8(first.raw.clone())?
        .replace('\r', "\r\n")
        .into_bytes();
    resend.fingerprint.hash = PayloadHash::of(&resend.raw);
    let found = store.find_duplicates(&resend.fingerprint.key)?;
    assert_eq!(found.len(), 1);
    assert_eq!(
        resend
            .fingerprint
            .check(found.iter().map(|f| &f.fingerprint)),
        Duplicate::Verbatim
    );
    let hit = found
        .iter()
        .find(|f| f.fingerprint == resend.fingerprint)
        .expect("the verbatim original");
    assert_eq!(hit.id, receipt.id);
    assert_eq!(hit.ack.as_deref(), Some(&b"MSA|AA|42"[..]));

    // Same control ID, other body: processed (stored) and flagged.
    let reuse = inbound("42", "beta", 2);
    let found = store.find_duplicates(&reuse.fingerprint.key)?;
    assert_eq!(
        reuse
            .fingerprint
            .check(found.iter().map(|f| &f.fingerprint)),
        Duplicate::ControlIdReuse
    );
    let _ = store.ingest(&reuse)?;
    let found = store.find_duplicates(&reuse.fingerprint.key)?;
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].ack, None);

    // Another sender with the same control ID is not a duplicate.
    let mut other = inbound("42", "alpha", 3);
    other.fingerprint.key.sending_facility = "CLINIC".into();
    let found = store.find_duplicates(&other.fingerprint.key)?;
    assert!(found.is_empty());
    assert_eq!(other.fingerprint.check(&[]), Duplicate::New);

    // No MSH-10: never a duplicate.
    let mut blank = inbound("", "alpha", 4);
    let _ = store.ingest(&blank)?;
    blank.fingerprint.key.control_id.clear();
    assert!(store.find_duplicates(&blank.fingerprint.key)?.is_empty());

    assert!(matches!(
        store.store_ack(hl7_runtime::store::MessageId(77_777), b"x"),
        Err(Error::NoSuchMessage(_))
    ));
    Ok(())
}

#[cfg(unix)]
#[test]
fn database_files_are_readable_only_by_the_owner() -> Result<(), Box<dyn std::error::Error>> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sub").join("engine.db");
    let store = SqliteStore::open(&path)?;
    let _ = store.ingest(&inbound("1", "x", 1))?;
    for suffix in ["", "-wal", "-shm", "-lock"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    drop(store);

    // An existing file readable by others is narrowed.
    let loose = dir.path().join("loose.db");
    std::fs::write(&loose, b"")?;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644))?;
    let _store = SqliteStore::open(&loose)?;
    let mode = std::fs::metadata(&loose)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    Ok(())
}

/// The ingest log, the leases and the next ids live in the process that has the store open:
/// a second open is refused, naming the holder, until the first store is closed.
#[test]
fn a_store_has_one_user_at_a_time() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    let store = SqliteStore::open(&path)?;
    let _ = store.ingest(&inbound("1", "x", 1))?;
    let Err(refused) = SqliteStore::open(&path) else {
        panic!("a second store opened the same file");
    };
    let pid = std::process::id();
    assert!(
        matches!(&refused, Error::InUse { path: p, holder: Some(h) } if *p == path && *h == pid),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!("store {} is in use by process {pid}", path.display())
    );
    drop(store);
    let store = SqliteStore::open(&path)?;
    assert_eq!(
        store
            .find_duplicates(&inbound("1", "x", 1).fingerprint.key)?
            .len(),
        1
    );
    Ok(())
}

#[test]
fn newer_schema_is_refused_and_options_apply() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    drop(SqliteStore::open(&path)?);
    {
        let conn = rusqlite::Connection::open(&path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        assert_eq!(mode, "wal");
        conn.pragma_update(None, "user_version", 99)?;
    }
    assert!(matches!(
        SqliteStore::open(&path),
        Err(Error::SchemaTooNew {
            found: 99,
            supported: 6
        })
    ));

    let fast = SqliteStore::open_with(
        dir.path().join("fast.db"),
        Options::new().synchronous(Synchronous::Normal),
    )?;
    assert_eq!(fast.synchronous(), Synchronous::Normal);
    assert!(!fast.synchronous().is_durable());
    Ok(())
}

/// Group commits are durable in the ingest log before the database has them: a resend that
/// arrives meanwhile is still recognised, ids keep growing across the two, and what the
/// database has not applied yet is read back (applied) at the next open.
#[test]
fn messages_not_yet_in_the_database_are_still_found() -> Result<(), Box<dyn std::error::Error>> {
    use hl7_runtime::store::{Accept, Accepted, Disposition};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    let store = SqliteStore::open(&path)?;
    let now = Timestamp::from_unix_millis(7);
    let accept = |m: &InboundMessage| {
        let one = Accept {
            inbound: m,
            disposition: Disposition::Route(&[]),
            ack: Some(b"MSA|AA"),
            application_ack: None,
        };
        store.accept(&[one], now)
    };
    let first = inbound("77", "alpha", 1);
    let Accepted::Stored {
        receipt, reused, ..
    } = accept(&first)?.remove(0)
    else {
        panic!("a new message");
    };
    assert_eq!(reused, None);
    // The same bytes again, at once: a verbatim resend answered with the stored ACK.
    match accept(&first)?.remove(0) {
        Accepted::Verbatim {
            receipt: again,
            ack,
        } => {
            assert_eq!(again.id, receipt.id);
            assert_eq!(ack.as_deref(), Some(&b"MSA|AA"[..]));
        }
        other => panic!("not a verbatim resend: {other:?}"),
    }
    // The same control ID with other bytes: stored, and the reuse named.
    let other = inbound("77", "beta", 2);
    let Accepted::Stored {
        receipt: second,
        reused,
        ..
    } = accept(&other)?.remove(0)
    else {
        panic!("a new message");
    };
    assert_eq!(reused, Some(receipt.id));
    assert!(second.id > receipt.id);
    // A direct ingest takes the next id, after those of the log.
    let direct = store.ingest(&inbound("78", "gamma", 3))?;
    assert!(direct.id > second.id);
    assert_eq!(store.find_duplicates(&first.fingerprint.key)?.len(), 2);
    drop(store);

    let store = SqliteStore::open(&path)?;
    assert_eq!(
        store.message(second.id)?.map(|m| m.inbound),
        Some(other),
        "back after a reopen"
    );
    Ok(())
}

#[test]
fn messages_are_kept_compressed_and_handed_back_byte_for_byte(
) -> Result<(), Box<dyn std::error::Error>> {
    use hl7_runtime::store::{Accept, Accepted, Delivery, Disposition};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.db");
    let results: String = (1..=20)
        .map(|i| {
            format!(
                "OBX|{i}|NM|2345-7^GLUCOSE^LN||{}|mg/dL|70-99|N|||F\r",
                80 + i
            )
        })
        .collect();
    // Through the ingest log (the engine's path) and directly; both pass-through to "ehr".
    let logged = inbound("Z1", &format!("881234\r{results}"), 1);
    let direct = inbound("Z2", &format!("881235\r{results}"), 2);
    let now = Timestamp::from_unix_millis(7);
    let store = SqliteStore::open(&path)?;
    let deliveries = [Delivery {
        destination: "ehr",
        payload: &logged.raw,
    }];
    let one = Accept {
        inbound: &logged,
        disposition: Disposition::Route(&deliveries),
        ack: None,
        application_ack: None,
    };
    let Accepted::Stored { receipt, .. } = store.accept(&[one], now)?.remove(0) else {
        panic!("a new message");
    };
    let direct_id = store.ingest(&direct)?.id;
    let claim = store
        .claim("ehr", std::time::Duration::from_secs(30), "w", now)?
        .ok_or("the pass-through item")?;
    assert_eq!(&claim.payload[..], &logged.raw[..]);
    drop(store);

    // The file holds LZ4 blocks after their length, as the schema documents.
    let conn = rusqlite::Connection::open(&path)?;
    for (id, m) in [(receipt.id, &logged), (direct_id, &direct)] {
        let (codec, stored): (i64, Vec<u8>) = conn.query_row(
            "SELECT raw_codec, raw FROM messages WHERE id = ?1",
            [id.0 as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        assert_eq!(codec, 1);
        assert!(
            stored.len() * 2 < m.raw.len(),
            "{} of {}",
            stored.len(),
            m.raw.len()
        );
        assert_eq!(lz4_flex::decompress_size_prepended(&stored)?, m.raw);
    }
    drop(conn);

    let store = SqliteStore::open(&path)?;
    assert_eq!(
        store.message(receipt.id)?.map(|m| m.inbound).as_ref(),
        Some(&logged)
    );
    assert_eq!(
        store.message(direct_id)?.map(|m| m.inbound).as_ref(),
        Some(&direct)
    );
    Ok(())
}
