//! The admin endpoint's message browser on 1,000,000 stored messages: search by patient id,
//! by control ID, by text (a rare word, a common one, with a patient), by type, by time, the
//! first page and a deep page (keyset), plus the queue figures a scrape reads.
//!
//! The seeded store is cached under `<target>/admin-bench/` (about 750 MB): the first run
//! seeds it (about two minutes), later runs reuse it. `ADMIN_BENCH_MESSAGES` changes the
//! count (a different file per count).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hl7_runtime::ack::{DedupeKey, Fingerprint, PayloadHash, Timestamp};
use hl7_runtime::store::{
    Accept, Delivery, Disposition, InboundMessage, MessageId, Options, SearchQuery, SqliteStore,
    Store, Synchronous,
};

/// Messages a seeded store holds.
fn count() -> u64 {
    std::env::var("ADMIN_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Distinct patients (so about 10 messages each).
fn patients() -> u64 {
    (count() / 10).max(1)
}

/// Bump when the seeded data or the schema changes: a new cache file is seeded.
const SEED_VERSION: u32 = 4;

/// Items left queued (the rest are delivered), for the queue figures.
const BACKLOG: u64 = 10_000;

/// The first message is received at this time; one every 100 ms after it.
const T0: u64 = 1_700_000_000_000;

const SURNAMES: [&str; 16] = [
    "SMITH", "JONES", "GARCIA", "MILLER", "DAVIS", "LOPEZ", "WILSON", "TAYLOR", "MOORE", "MARTIN",
    "LEE", "WHITE", "HARRIS", "CLARK", "LEWIS", "YOUNG",
];
const GIVEN: [&str; 8] = [
    "JANE", "JOHN", "MARIA", "AHMED", "WEI", "OLGA", "PIERRE", "AMARA",
];
const TESTS: [(&str, &str); 6] = [
    ("2345-7", "GLUCOSE"),
    ("2823-3", "POTASSIUM"),
    ("2951-2", "SODIUM"),
    ("718-7", "HEMOGLOBIN"),
    ("6690-2", "LEUKOCYTES"),
    ("777-3", "PLATELETS"),
];

/// A deterministic pseudo-random number for message `i`.
fn mix(i: u64, salt: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// Message `i`: 60% ADT (A01/A08), 30% ORU^R01, 10% ORM^O01; the patient, names, tests
/// and values vary; every 10,000th message mentions ZANZIBAR (the rare word).
fn message(i: u64) -> InboundMessage {
    let patient = format!("MRN{:07}", mix(i, 1) % patients());
    let surname = SURNAMES[(mix(i, 2) % 16) as usize];
    let given = GIVEN[(mix(i, 3) % 8) as usize];
    let kind = mix(i, 4) % 10;
    let (app, ty) = match kind {
        0..=5 if kind.is_multiple_of(2) => ("REG", "ADT^A08^ADT_A01"),
        0..=5 => ("REG", "ADT^A01^ADT_A01"),
        6..=8 => ("LAB", "ORU^R01^ORU_R01"),
        _ => ("CPOE", "ORM^O01^ORM_O01"),
    };
    let control = format!("{app}{i:09}");
    let mut raw = format!(
        "MSH|^~\\&|{app}|HOSP|ENGINE|HOSP|20231114221320||{ty}|{control}|P|2.5.1\r\
         EVN||20231114221320\r\
         PID|1||{patient}^^^HOSP^MR||{surname}^{given}^Q||19{:02}0{}1{}|{}|||{} MAIN ST^^{}^ST^{:05}||555-{:04}\r\
         PV1|1|I|W{}^{}^A|||||||MED\r",
        mix(i, 5) % 100,
        mix(i, 6) % 9 + 1,
        mix(i, 7) % 9,
        if mix(i, 8).is_multiple_of(2) { "F" } else { "M" },
        mix(i, 9) % 999 + 1,
        if i % 10_000 == 7 { "ZANZIBAR" } else { "SPRINGFIELD" },
        mix(i, 10) % 100_000,
        mix(i, 11) % 10_000,
        mix(i, 12) % 9 + 1,
        mix(i, 13) % 400 + 100,
    );
    if ty.starts_with("ORU") {
        for k in 0..3 {
            let (code, name) = TESTS[((mix(i, 14) + k) % 6) as usize];
            raw.push_str(&format!(
                "OBX|{}|NM|{code}^{name}^LN||{}.{}|mmol/L|3.5-5.1|N|||F\r",
                k + 1,
                mix(i, 15 + k) % 20,
                mix(i, 18 + k) % 10
            ));
        }
    }
    let raw = raw.into_bytes();
    InboundMessage {
        fingerprint: Fingerprint {
            key: DedupeKey {
                sending_application: app.into(),
                sending_facility: "HOSP".into(),
                control_id: control,
            },
            hash: PayloadHash::of(&raw),
        },
        raw,
        channel: "inbound".into(),
        received_at: Timestamp::from_unix_millis(T0 + i * 100),
        msg_type: ty.into(),
        patient_id: Some(patient),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The seeded store, made on the first run.
fn seeded() -> SqliteStore {
    let dir = target_dir().join("admin-bench");
    let n = count();
    // The name changes with the seed's shape (and the schema it was made with).
    let path = dir.join(format!("search-{n}-{SEED_VERSION}.db"));
    let ready = dir.join(format!(
        "{}.done",
        path.file_name().unwrap().to_string_lossy()
    ));
    if path.exists() && ready.exists() {
        return SqliteStore::open(&path).expect("open the seeded store");
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::create_dir_all(&dir).expect("bench folder");
    eprintln!("seeding {n} messages into {} (once)", path.display());
    let started = Instant::now();
    let store = SqliteStore::open_with(&path, Options::new().synchronous(Synchronous::Off))
        .expect("create the store");
    let payload = b"MSH|^~\\&|ENGINE|HOSP|EHR|HOSP\r".to_vec();
    let deliveries = [Delivery {
        destination: "ehr",
        payload: &payload,
    }];
    const BATCH: u64 = 5_000;
    let mut i = 0;
    while i < n {
        let messages: Vec<InboundMessage> = (i..(i + BATCH).min(n)).map(message).collect();
        let batch: Vec<Accept<'_>> = messages
            .iter()
            .map(|m| Accept {
                inbound: m,
                disposition: Disposition::Route(&deliveries),
                ack: None,
                application_ack: None,
            })
            .collect();
        let now = messages[0].received_at;
        let _ = store.accept(&batch, now).expect("seed a batch");
        i += BATCH;
        if i % 100_000 == 0 {
            eprintln!("  {i} ({:.0?})", started.elapsed());
        }
    }
    while store.index_text(50_000).expect("index the text") > 0 {}
    drop(store);
    // Delivered, except the last BACKLOG items.
    let conn = rusqlite::Connection::open(&path).expect("open for the bulk update");
    conn.execute(
        "UPDATE queue SET state = 'done', attempts = 1, finished_at = created_at + 50
         WHERE id <= (SELECT max(id) FROM queue) - ?1",
        [BACKLOG as i64],
    )
    .expect("mark delivered");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    drop(conn);
    std::fs::write(&ready, b"").expect("mark seeded");
    eprintln!("seeded in {:.0?}", started.elapsed());
    SqliteStore::open(&path).expect("open the seeded store")
}

fn query(f: impl FnOnce(&mut SearchQuery)) -> SearchQuery {
    let mut q = SearchQuery::new(50);
    f(&mut q);
    q
}

fn benches(c: &mut Criterion) {
    let store = seeded();
    let n = count();
    let probe = n / 2 + 3;
    let probe_message = message(probe);
    let patient = probe_message.patient_id.clone().unwrap();
    let control = probe_message.fingerprint.key.control_id.clone();
    let probe_type = probe_message.msg_type[..3].to_owned();
    let mid = Timestamp::from_unix_millis(T0 + (n / 2) * 100);

    let cases: Vec<(&str, SearchQuery, bool)> = vec![
        ("first_page", query(|_| {}), true),
        (
            "deep_page",
            query(|q| q.before = Some(MessageId(1_000))),
            true,
        ),
        (
            "patient_id",
            query(|q| q.patient_id = Some(patient.clone())),
            true,
        ),
        (
            "control_id",
            query(|q| q.control_id = Some(control.clone())),
            true,
        ),
        (
            "text_rare",
            query(|q| q.text = Some("zanzibar".into())),
            n >= 10_000,
        ),
        (
            "text_common",
            query(|q| q.text = Some("GLUCOSE".into())),
            true,
        ),
        (
            "text_common_deep",
            query(|q| {
                q.text = Some("GLUCOSE".into());
                q.before = Some(MessageId(n / 10));
            }),
            true,
        ),
        (
            "text_two_words",
            query(|q| q.text = Some(format!("{} potassium", SURNAMES[3]))),
            true,
        ),
        (
            "patient_and_text",
            query(|q| {
                q.patient_id = Some(patient.clone());
                q.text = Some("SPRINGFIELD".into());
            }),
            true,
        ),
        (
            "type_event",
            query(|q| {
                q.message_code = Some("ORU".into());
                q.event = Some("R01".into());
            }),
            true,
        ),
        (
            "type_deep_page",
            query(|q| {
                q.message_code = Some("ORM".into());
                q.before = Some(MessageId(n / 10));
            }),
            true,
        ),
        (
            "type_common_deep",
            query(|q| {
                q.message_code = Some("ADT".into());
                q.before = Some(MessageId(n / 2));
            }),
            true,
        ),
        (
            "patient_and_type",
            query(|q| {
                q.patient_id = Some(patient.clone());
                q.message_code = Some(probe_type.clone());
            }),
            true,
        ),
        (
            "time_window",
            query(|q| {
                q.from = Some(mid);
                q.to = Some(Timestamp::from_unix_millis(mid.unix_millis() + 3_600_000));
            }),
            true,
        ),
        (
            "time_window_old",
            query(|q| {
                let old = T0 + (n / 10) * 100;
                q.from = Some(Timestamp::from_unix_millis(old));
                q.to = Some(Timestamp::from_unix_millis(old + 600_000));
            }),
            true,
        ),
        (
            "sender_and_state",
            query(|q| {
                q.sending_application = Some("CPOE".into());
                q.state = Some(hl7_runtime::store::MessageState::Routed);
            }),
            true,
        ),
    ];

    // Each case must find something (or nothing, by design) and answer well under 200 ms.
    let mut g = c.benchmark_group("admin_search");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_millis(500));
    for (name, q, expect_hits) in &cases {
        let found = store.search(q).expect("search");
        assert_eq!(
            !found.is_empty(),
            *expect_hits,
            "{name}: {} found",
            found.len()
        );
        g.bench_function(*name, |b| {
            b.iter(|| black_box(store.search(black_box(q)).expect("search")))
        });
    }
    g.bench_function("queue_stats", |b| {
        b.iter(|| black_box(store.queue_stats().expect("queue stats")))
    });
    g.bench_function("message_detail", |b| {
        b.iter(|| black_box(store.message_detail(MessageId(probe + 1)).expect("detail")))
    });
    g.finish();
}

/// What the search indexes cost: batches of 100 messages accepted with and without the
/// type, event, sender and state indexes, and the text index's batches of 500 (filled off the
/// ingest path by [`Store::index_text`]).
fn ingest_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("admin_ingest_cost");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    let payload = b"MSH|^~\\&|ENGINE|HOSP|EHR|HOSP\r".to_vec();
    let deliveries = [Delivery {
        destination: "ehr",
        payload: &payload,
    }];
    let accept = |store: &SqliteStore, messages: &[InboundMessage]| {
        let batch: Vec<Accept<'_>> = messages
            .iter()
            .map(|m| Accept {
                inbound: m,
                disposition: Disposition::Route(&deliveries),
                ack: None,
                application_ack: None,
            })
            .collect();
        store
            .accept(&batch, messages[0].received_at)
            .expect("accept")
    };
    let mut options = Options::new();
    options.synchronous(Synchronous::Normal);
    for (variant, ddl) in [
        ("accept_100", ""),
        (
            "accept_100_without_search_indexes",
            "DROP INDEX messages_code; DROP INDEX messages_event; DROP INDEX messages_sender;
             DROP INDEX messages_state;",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ingest.db");
        drop(SqliteStore::open_with(&path, &options).expect("create"));
        if !ddl.is_empty() {
            rusqlite::Connection::open(&path)
                .expect("open")
                .execute_batch(ddl)
                .expect("drop the search indexes");
        }
        let store = SqliteStore::open_with(&path, &options).expect("open");
        let mut next = 0u64;
        g.bench_function(variant, |b| {
            b.iter_batched(
                || {
                    next += 100;
                    (next - 100..next).map(message).collect::<Vec<_>>()
                },
                |messages| black_box(accept(&store, &messages)),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_with(dir.path().join("text.db"), &options).expect("create");
    let mut next = 0u64;
    g.bench_function("index_text_500", |b| {
        b.iter_batched(
            || {
                let messages: Vec<_> = (next..next + 500).map(message).collect();
                next += 500;
                let _ = accept(&store, &messages);
            },
            |()| black_box(store.index_text(500).expect("index")),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(admin_search, benches, ingest_cost);
criterion_main!(admin_search);
