//! The ingest log: where a group commit's messages become durable before they are
//! acknowledged, so that the acknowledgment waits for one sequential write and one
//! `fdatasync`, and not for SQLite's B-trees.
//!
//! SQLite remains the store: everything the engine and the operators read is there. But a
//! SQLite commit dirties a page of every table and index it touches (the message, its nine
//! indexes, three queue items and theirs: five or six 4 KiB pages per message at the batch
//! sizes sixteen senders allow), and all of that was on the path of every ACK. Here each
//! batch is one record appended to a segment file; the [applier](super::applier) copies the
//! records into SQLite in transactions of thousands of messages, off the ACK's path, and
//! records in the same transaction how far it got. After a crash, the records past that mark
//! are applied again at [`SqliteStore::open`](super::SqliteStore::open), before anything
//! reads the store: nothing acknowledged is lost, and nothing is applied twice.
//!
//! # Files
//!
//! `<database>-ingest/`, beside the database: segments named by the sequence number of their
//! first record (`00000000000000000001.log`), each about [`SEGMENT_BYTES`] long. A segment
//! whose records are all applied, once SQLite's copy of them is durable too, is kept as a
//! spare (`spare-N.log`) and reused for a later segment: overwriting a file in place makes
//! `fdatasync` cheaper than appending to it (no file size to journal; measured on this
//! machine's disk: 0.24 ms against 0.40 ms for 48 KiB). Old records left in a reused
//! segment have lower sequence numbers than its name, so they are never read as new ones.
//!
//! # Durability
//!
//! [`IngestLog::sync`] makes every record written so far durable (`fdatasync` of the active
//! segment; a segment is synced before the log moves to the next one). A new segment's
//! directory entry is synced before any record is written to it, so a power cut cannot take
//! a synced record's file name away. At `synchronous=NORMAL` or `OFF` nothing is synced: the
//! records survive kill -9 (they are in the operating system's cache), not a power cut.

pub(super) mod record;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::warn;

use super::error::{Error, Result};
use record::HEADER_LEN;

/// A segment's size: the log moves to the next segment when a record would pass it.
pub(super) const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;

/// Spare segments kept for reuse; segments recycled beyond these are deleted.
const MAX_SPARES: usize = 2;

/// The log of a store.
#[derive(Debug)]
pub(super) struct IngestLog {
    dir: PathBuf,
    durable: bool,
    segment_bytes: u64,
    writer: Mutex<Active>,
    segments: Mutex<Segments>,
    /// The active segment and the last record written to it, for [`IngestLog::sync`]
    /// (which must not wait for a writer holding `writer` through a whole batch).
    current: Mutex<(Option<Arc<File>>, u64)>,
    /// The last record known durable.
    synced: AtomicU64,
}

#[derive(Debug)]
struct Active {
    file: Option<Arc<File>>,
    first_seq: u64,
    offset: u64,
    next_seq: u64,
}

#[derive(Debug, Default)]
struct Segments {
    /// Segments written to and left, oldest first: (first seq, last seq, path).
    closed: Vec<(u64, u64, PathBuf)>,
    spares: Vec<PathBuf>,
    next_spare: u64,
}

/// A record found at open: its sequence number and body.
#[derive(Debug)]
pub(super) struct Found {
    pub(super) seq: u64,
    pub(super) format: record::Format,
    pub(super) body: Vec<u8>,
}

/// The log's directory for the database at `db`.
pub(super) fn dir_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-ingest");
    PathBuf::from(name)
}

impl IngestLog {
    /// Opens the log in `dir` (created, mode 0700, if missing) and reads every record in it,
    /// in sequence order. The next record written is numbered after the highest of those and
    /// of `applied` (the last record SQLite holds), in a segment of its own: the segments
    /// found are closed, to be recycled once their records are applied.
    pub(super) fn open(dir: &Path, durable: bool, applied: u64) -> Result<(IngestLog, Vec<Found>)> {
        IngestLog::open_sized(dir, durable, applied, SEGMENT_BYTES)
    }

    /// [`IngestLog::open`] with segments of `segment_bytes`.
    fn open_sized(
        dir: &Path,
        durable: bool,
        applied: u64,
        segment_bytes: u64,
    ) -> Result<(IngestLog, Vec<Found>)> {
        let err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::File { path, source }
        };
        create_private_dir(dir).map_err(err(dir))?;
        let mut logs = Vec::new();
        let mut segments = Segments::default();
        for entry in std::fs::read_dir(dir).map_err(err(dir))? {
            let path = entry.map_err(err(dir))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(n) = name
                .strip_prefix("spare-")
                .and_then(|n| n.strip_suffix(".log"))
            {
                if let Ok(n) = n.parse::<u64>() {
                    segments.next_spare = segments.next_spare.max(n + 1);
                }
                segments.spares.push(path);
            } else if let Some(first) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
                logs.push((first, path));
            }
        }
        logs.sort();
        let mut found: Vec<Found> = Vec::new();
        let mut last_seq = applied;
        for (first, path) in logs {
            let bytes = std::fs::read(&path).map_err(err(&path))?;
            let records = read_records(&bytes, first);
            let Some(last) = records.last().map(|r| r.seq) else {
                // Activated and never written to (or its first record torn, so nothing in
                // it was ever acknowledged): its name may be the next segment's.
                std::fs::remove_file(&path).map_err(err(&path))?;
                continue;
            };
            last_seq = last_seq.max(last);
            found.extend(records.into_iter().filter(|r| r.seq > applied));
            segments.closed.push((first, last, path));
        }
        found.sort_by_key(|r| r.seq);
        found.dedup_by_key(|r| r.seq);
        if let Some(gap) = found
            .windows(2)
            .find(|w| w[1].seq != w[0].seq + 1)
            .map(|w| (w[0].seq, w[1].seq))
            .or_else(|| {
                let first = found.first()?.seq;
                (first != applied + 1).then_some((applied, first))
            })
        {
            // Never written by this store: records are synced in order and segments before
            // the next one starts. Reported, and what is there is applied.
            warn!(dir = %dir.display(), after = gap.0, next = gap.1,
                "ingest log: records missing between two that were found");
        }
        while segments.spares.len() > MAX_SPARES {
            if let Some(extra) = segments.spares.pop() {
                std::fs::remove_file(&extra).map_err(err(&extra))?;
            }
        }
        let log = IngestLog {
            dir: dir.to_owned(),
            durable,
            segment_bytes,
            writer: Mutex::new(Active {
                file: None,
                first_seq: 0,
                offset: 0,
                next_seq: last_seq + 1,
            }),
            segments: Mutex::new(segments),
            current: Mutex::new((None, last_seq)),
            synced: AtomicU64::new(last_seq),
        };
        Ok((log, found))
    }

    /// The writer: one at a time, so that sequence numbers follow the order of writes.
    pub(super) fn writer(&self) -> LogWriter<'_> {
        LogWriter {
            log: self,
            active: lock(&self.writer),
        }
    }

    /// Makes every record written so far durable. Callers may overlap: a second `fdatasync`
    /// starts while the first is under way (the disk serves both at once), so a record waits
    /// for one sync, not for the end of one already running and then its own.
    pub(super) fn sync(&self) -> Result<()> {
        let (file, upto) = {
            let current = lock(&self.current);
            (current.0.clone(), current.1)
        };
        if !self.durable || self.synced.load(Ordering::Acquire) >= upto {
            return Ok(());
        }
        if let Some(file) = file {
            file.sync_data().map_err(|source| Error::File {
                path: self.dir.clone(),
                source,
            })?;
        }
        self.synced.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// Recycles the closed segments whose records are all at or below `applied`: reused as
    /// spares, or deleted. **Only once SQLite's copy of those records is durable.**
    pub(super) fn recycle(&self, applied: u64) -> Result<()> {
        let mut segments = lock(&self.segments);
        let (done, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut segments.closed)
            .into_iter()
            .partition(|(_, last, _)| *last <= applied);
        segments.closed = kept;
        for (_, _, path) in done {
            let result = if segments.spares.len() < MAX_SPARES {
                let spare = self.dir.join(format!("spare-{}.log", segments.next_spare));
                segments.next_spare += 1;
                std::fs::rename(&path, &spare).map(|()| segments.spares.push(spare))
            } else {
                std::fs::remove_file(&path)
            };
            result.map_err(|source| Error::File { path, source })?;
        }
        Ok(())
    }

    /// Whether a closed segment waits for [`IngestLog::recycle`] up to `applied`.
    pub(super) fn has_recyclable(&self, applied: u64) -> bool {
        lock(&self.segments)
            .closed
            .iter()
            .any(|(_, last, _)| *last <= applied)
    }

    /// A fresh segment for records from `first_seq` on: a spare renamed, or a new file; its
    /// directory entry durable before it is used.
    fn activate(&self, first_seq: u64) -> Result<File> {
        let path = self.dir.join(format!("{first_seq:020}.log"));
        let err = |source| Error::File {
            path: path.clone(),
            source,
        };
        let spare = lock(&self.segments).spares.pop();
        if let Some(spare) = spare {
            std::fs::rename(&spare, &path).map_err(err)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(err)?;
        if self.durable {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(err)?;
        }
        Ok(file)
    }
}

/// The log's writer, held through a batch: its sequence number, then its record.
pub(super) struct LogWriter<'a> {
    log: &'a IngestLog,
    active: MutexGuard<'a, Active>,
}

impl LogWriter<'_> {
    /// The sequence number the next record gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.active.next_seq
    }

    /// Writes `record` (sealed with [`LogWriter::next_seq`]) at the end of the log. Not
    /// durable until [`IngestLog::sync`]. On an error nothing counts as written, and the next
    /// record is written over whatever part of this one reached the file.
    pub(super) fn append(&mut self, record: &[u8]) -> Result<u64> {
        let log = self.log;
        let a = &mut *self.active;
        let seq = a.next_seq;
        let len = record.len() as u64;
        if a.file.is_some() && a.offset > 0 && a.offset + len > log.segment_bytes {
            if let Some(file) = &a.file {
                if log.durable {
                    file.sync_data().map_err(|source| Error::File {
                        path: log.dir.clone(),
                        source,
                    })?;
                }
            }
            let path = log.dir.join(format!("{:020}.log", a.first_seq));
            lock(&log.segments)
                .closed
                .push((a.first_seq, seq - 1, path));
            a.file = None;
        }
        if a.file.is_none() {
            a.file = Some(Arc::new(log.activate(seq)?));
            a.first_seq = seq;
            a.offset = 0;
        }
        let file = a.file.as_ref().expect("activated above");
        file.write_all_at(record, a.offset)
            .map_err(|source| Error::File {
                path: log.dir.join(format!("{:020}.log", a.first_seq)),
                source,
            })?;
        a.offset += len;
        a.next_seq = seq + 1;
        *lock(&log.current) = (Some(Arc::clone(file)), seq);
        Ok(seq)
    }
}

/// The valid records of a segment whose first record is `first`, in order: they stop at the
/// first place that is not the next record (end of the written part, a torn write, or what a
/// reused segment held before).
fn read_records(bytes: &[u8], first: u64) -> Vec<Found> {
    let mut found = Vec::new();
    let mut at = 0;
    let mut expected = first;
    while let Some((head, crc)) = bytes.get(at..).and_then(record::header) {
        let body_at = at + HEADER_LEN;
        let Some(body) = bytes.get(body_at..body_at + head.body_len) else {
            break;
        };
        if head.seq != expected || !record::check(&bytes[at..], body, crc) {
            break;
        }
        found.push(Found {
            seq: head.seq,
            format: head.format,
            body: body.to_vec(),
        });
        expected += 1;
        at = body_at + head.body_len;
    }
    found
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A writer that panicked left nothing half-done in memory that the next one relies on (a
/// failed append changes no state): a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
