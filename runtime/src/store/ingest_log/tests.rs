use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use super::*;

/// A record whose body is `body`, sealed for `seq` (the body is opaque to the log).
fn record(seq: u64, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0; HEADER_LEN];
    bytes.extend_from_slice(body);
    record::write_header(&mut bytes, seq);
    bytes
}

fn append(log: &IngestLog, body: &[u8]) -> u64 {
    let mut writer = log.writer();
    let seq = writer.next_seq();
    writer.append(&record(seq, body)).expect("append")
}

fn bodies(found: &[Found]) -> Vec<(u64, Vec<u8>)> {
    found.iter().map(|f| (f.seq, f.body.clone())).collect()
}

/// A closed log in `dir` holding records `first` and `second`; the path of their segment.
fn first_and_second(dir: &Path) -> PathBuf {
    let (log, _) = IngestLog::open(dir, false, 0).expect("open");
    append(&log, b"first");
    append(&log, b"second");
    dir.join("00000000000000000001.log")
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the log's directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn records_come_back_in_order_past_the_applied_mark() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db-ingest");
    let (log, found) = IngestLog::open(&dir, true, 0).expect("open");
    assert!(found.is_empty());
    for i in 1..=5u8 {
        assert_eq!(append(&log, &[i; 10]), u64::from(i));
    }
    log.sync().expect("sync");
    drop(log);

    let (log, found) = IngestLog::open(&dir, true, 2).expect("reopen");
    assert_eq!(
        bodies(&found),
        (3..=5u8)
            .map(|i| (u64::from(i), vec![i; 10]))
            .collect::<Vec<_>>()
    );
    // The next record continues the numbering, in a segment of its own.
    assert_eq!(append(&log, b"next"), 6);
    assert_eq!(
        segments(&dir),
        ["00000000000000000001.log", "00000000000000000006.log"]
    );
}

#[test]
fn a_torn_record_ends_the_log_and_is_written_over() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db-ingest");
    let path = first_and_second(&dir);
    // A crash in the middle of the second record's write: its last bytes never arrived.
    let len = std::fs::metadata(&path).expect("segment").len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(len - 3))
        .expect("truncate");

    let (log, found) = IngestLog::open(&dir, false, 0).expect("reopen");
    assert_eq!(bodies(&found), [(1, b"first".to_vec())]);
    // Numbering continues after the last whole record; the torn one is gone for good.
    assert_eq!(append(&log, b"again"), 2);
    drop(log);
    let (_, found) = IngestLog::open(&dir, false, 0).expect("reopen");
    assert_eq!(
        bodies(&found),
        [(1, b"first".to_vec()), (2, b"again".to_vec())]
    );
}

#[test]
fn a_flipped_byte_is_not_read_as_a_record() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db-ingest");
    let path = first_and_second(&dir);
    let file = OpenOptions::new().write(true).open(&path).expect("segment");
    let second_body = (2 * HEADER_LEN + b"first".len()) as u64;
    file.write_all_at(b"S", second_body).expect("flip");
    let (_, found) = IngestLog::open(&dir, false, 0).expect("reopen");
    assert_eq!(bodies(&found), [(1, b"first".to_vec())]);
}

#[test]
fn recycled_segments_are_reused_and_their_old_records_never_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db-ingest");
    let (log, _) = IngestLog::open_sized(&dir, true, 0, 2560).expect("open");
    // Two records fill a segment: the third moves on to the next.
    let big = vec![7u8; 1024 - HEADER_LEN];
    for _ in 0..4 {
        append(&log, &big);
    }
    assert_eq!(
        segments(&dir),
        ["00000000000000000001.log", "00000000000000000003.log"]
    );
    assert!(
        !log.has_recyclable(1),
        "record 2 of the first segment is not applied"
    );
    assert!(log.has_recyclable(2));
    log.recycle(2).expect("recycle");
    assert_eq!(segments(&dir), ["00000000000000000003.log", "spare-0.log"]);
    // The next segment is the spare, renamed: it still holds records 1 and 2.
    append(&log, &big);
    append(&log, b"small");
    assert_eq!(
        segments(&dir),
        ["00000000000000000003.log", "00000000000000000005.log"]
    );
    drop(log);
    let (_, found) = IngestLog::open_sized(&dir, true, 2, 2560).expect("reopen");
    let seqs: Vec<u64> = found.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [3, 4, 5, 6]);
    assert_eq!(found[3].body, b"small");
}

#[test]
fn an_activated_segment_with_nothing_in_it_is_dropped_at_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("db-ingest");
    let (log, _) = IngestLog::open(&dir, false, 0).expect("open");
    append(&log, b"one");
    drop(log);
    // A segment renamed into place, then the crash before its first record.
    std::fs::write(
        dir.join("00000000000000000002.log"),
        b"old bytes of a spare",
    )
    .expect("write");
    let (log, found) = IngestLog::open(&dir, false, 0).expect("reopen");
    assert_eq!(bodies(&found), [(1, b"one".to_vec())]);
    assert_eq!(append(&log, b"two"), 2);
    drop(log);
    let (_, found) = IngestLog::open(&dir, false, 0).expect("reopen");
    assert_eq!(found.len(), 2);
}
