//! WAL checkpoints off the writers' path. A checkpoint copies the WAL into the database file
//! and fsyncs both; left to SQLite's automatic checkpoint it runs inside whichever commit
//! crosses the threshold, while that commit holds the store's one connection, so ingest and
//! every queue stalls behind it. Here a thread with a connection of its own runs a passive
//! checkpoint five times a second (passive: it never blocks writers, which go on appending to
//! the WAL meanwhile). The writers' automatic checkpoint stays as a safety net, at a larger
//! threshold.
//!
//! A passive checkpoint alone never lets the WAL start over under sustained load: SQLite
//! rewinds the WAL only when a writer finds every frame copied back, and with commits every
//! millisecond the checkpoint is always a few frames behind. The WAL then grows to the
//! writers' threshold and stays there, and from then on every commit runs a checkpoint of its
//! own, fsyncs included, inside the store's connection (measured: 80-100 MB of WAL within
//! seconds, and 4 % of the engine's CPU in checkpoints under the ingest's commits). So once
//! the WAL holds more than [`RESTART_AFTER`] frames, the passive checkpoint is followed by a
//! `RESTART` one: it copies the few frames the passive one left and holds writers off only for
//! that and one fsync, after which the next commit writes the WAL from its start.
//!
//! The restart runs while this thread holds the store's own connection lock, so no write
//! transaction is open and the engine's writers queue on that lock, woken as soon as it is
//! released. Left to SQLite, a restart waits for the writer in progress by polling, blocks new
//! writers meanwhile, and the blocked writers poll in turn (its busy handler sleeps 1, 2, 5 ms
//! and more between tries): milliseconds of stall for work that takes less (measured under
//! the engine benchmark: ingest p99 while delivering 17 to 19 ms with the coordinated restart,
//! 22 ms without; the ingest-only p99 did not change).
//!
//! Durability is unchanged: this connection checkpoints at `synchronous=NORMAL` or above, so
//! the WAL is synced before its frames are copied and the database after (see
//! [`wal_sync`](super::wal_sync)).

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tracing::warn;

use super::error::Result;
use super::Synchronous;

/// How often the checkpointer runs: often enough that the WAL stays well under
/// [`WRITER_THRESHOLD`] between two runs at tens of thousands of frames a second.
const EVERY: Duration = Duration::from_millis(200);

/// WAL pages after which a writer checkpoints itself, should the checkpointer fall behind
/// (SQLite's default is 1,000).
pub(super) const WRITER_THRESHOLD: u32 = 20_000;

/// WAL frames (16 MiB of 4 KiB pages) after which the checkpointer makes the WAL start over.
const RESTART_AFTER: i64 = 4_096;

#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread; `writers` is the lock every writer of this store holds.
    pub(super) fn start<W: Send + 'static>(
        path: &Path,
        synchronous: Synchronous,
        writers: Arc<Mutex<W>>,
    ) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        let level = match synchronous {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", level)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("hl7-checkpoint".to_owned())
            .spawn(move || run(&conn, &writers, &flag))
            .map_err(|source| super::error::Error::File {
                path: path.to_owned(),
                source,
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

fn run<W>(conn: &Connection, writers: &Mutex<W>, stop: &(Mutex<bool>, Condvar)) {
    let (lock, wake) = stop;
    let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        // Checked before waiting too: a store dropped before this thread first ran has already
        // set the flag and notified no one.
        let (guard, _) = wake
            .wait_timeout_while(stopped, EVERY, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        stopped = guard;
        if *stopped {
            return;
        }
        if let Err(e) = checkpoint(conn, writers) {
            warn!(error = %e, "WAL checkpoint failed; writers will checkpoint themselves");
        }
    }
}

/// A passive checkpoint, then a restart of the WAL, with the writers held off, when it has
/// grown long.
fn checkpoint<W>(conn: &Connection, writers: &Mutex<W>) -> rusqlite::Result<()> {
    // (busy, frames in the WAL, frames copied back)
    let frames: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
    if frames > RESTART_AFTER {
        // A writer that panicked rolled its transaction back: a poisoned lock is still usable.
        let _writers = writers.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))?;
    }
    Ok(())
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
