//! The errors of a [`Store`](super::Store).

use std::path::PathBuf;

use super::{ItemId, MessageId};

/// What went wrong in a store operation. Nothing in this list is acknowledged: an engine that
/// gets any of these from [`Store::ingest`](super::Store::ingest) answers `AE`/`CE` (or closes),
/// and the sender resends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed the statement (I/O error, disk full, corrupt file, busy
    /// past the timeout).
    #[error("store database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database file or its directory could not be created, read or restricted to the
    /// engine's user.
    #[error("store file {path}: {source}")]
    File {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another process has the store open (or another store of this process does): a store
    /// has one user at a time, since its ingest log and its leases live in that process.
    #[error("store {} is in use by {}", path.display(), match holder {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_owned(),
    })]
    InUse {
        /// The database file.
        path: PathBuf,
        /// The process id the holder wrote into the lock file, if it could be read.
        holder: Option<u32>,
    },
    /// The file was written by a newer version of this store (its schema version is higher
    /// than this build knows); it is left untouched.
    #[error("store schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// No stored message has this id (never stored, or pruned).
    #[error("no stored message {0}")]
    NoSuchMessage(MessageId),
    /// The claim is no longer held: its lease expired and the item was recovered or claimed by
    /// another worker, or it was already completed. The caller's result is discarded (0 rows
    /// changed); the current holder reports the outcome.
    #[error("lease on queue item {0} is no longer held by this claim")]
    LeaseLost(ItemId),
    /// Messages written to the ingest log cannot be copied into the database (its last error
    /// is given); they are kept in the log and applied once the database works again, at the
    /// latest when the store is next opened. Meanwhile the store takes no new messages.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A value read back from the database does not have the shape this store writes
    /// (a hash of the wrong length, an unknown state, a negative count).
    #[error("store holds an unreadable value in {column}: {detail}")]
    Corrupt {
        /// The column concerned.
        column: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// The result of a store operation.
pub type Result<T> = std::result::Result<T, Error>;
