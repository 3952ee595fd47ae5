//! Making committed WAL frames durable without holding the connection: a second file handle
//! on the `-wal` file, fsynced while the connection commits the next batch.
//!
//! Why it is enough: a commit at `synchronous=NORMAL` has written its frames to the WAL with
//! `write()` when it returns; `fdatasync` on any descriptor of that file makes them durable.
//! If a checkpoint copied them into the database file meanwhile, SQLite (at `NORMAL`) synced
//! the WAL before the checkpoint and the database after it, so they are durable either way.
//! The WAL file keeps its inode while the store's connection is open; the handle is checked
//! against the path's inode at each sync and reopened if the file was ever replaced.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::{Error, Result};

#[derive(Debug)]
pub(super) struct WalSync {
    wal: PathBuf,
    file: Mutex<Option<File>>,
}

impl WalSync {
    pub(super) fn new(db: &Path) -> WalSync {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        WalSync {
            wal: PathBuf::from(wal),
            file: Mutex::new(None),
        }
    }

    /// Makes every frame written to the WAL so far durable.
    pub(super) fn sync(&self) -> Result<()> {
        self.try_sync().map_err(|source| Error::File {
            path: self.wal.clone(),
            source,
        })
    }

    fn try_sync(&self) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let current = std::fs::metadata(&self.wal)?.ino();
        let stale = match file.as_ref() {
            Some(f) => f.metadata()?.ino() != current,
            None => true,
        };
        if stale {
            let opened = File::open(&self.wal)?;
            // The WAL's directory entry must survive a power cut too.
            if let Some(dir) = self.wal.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                File::open(dir)?.sync_all()?;
            }
            *file = Some(opened);
        }
        file.as_ref().expect("opened above").sync_data()?;
        Ok(())
    }
}
