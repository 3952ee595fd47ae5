//! The database files, readable only by the engine's user (DESIGN.md, "Security").
//!
//! The database file is created with mode 0600 before SQLite opens it; SQLite creates its
//! `-wal` and `-shm` files with the database file's mode. An existing file with wider
//! permissions is narrowed to 0600, with a warning.
//!
//! A store is used by one process at a time: its ingest log, its leases and its next ids live
//! in that process ([`lock`]).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// Creates `path` (mode 0600) if it does not exist, and narrows an existing database and its
/// WAL files to 0600.
pub(super) fn prepare(path: &Path) -> Result<()> {
    let err = |source| Error::File {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(err)?;
    for file in [
        path.to_owned(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ] {
        restrict(&file)?;
    }
    Ok(())
}

/// Takes the store's lock (`<database>-lock`, an exclusive `flock` held as long as the
/// returned file is open, released by the kernel when the process dies), or
/// [`Error::InUse`] when another process (or another store in this one) holds it. The
/// holder's process id is written into the file, for the error.
pub(super) fn lock(path: &Path) -> Result<File> {
    let lock_path = sibling(path, "-lock");
    let err = |source| Error::File {
        path: lock_path.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&lock_path).map_err(err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // Best effort: the holder may be writing its id right now.
            let _ = file.read_to_string(&mut holder);
            return Err(Error::InUse {
                path: path.to_owned(),
                holder: holder.trim().parse().ok(),
            });
        }
        Err(std::fs::TryLockError::Error(source)) => return Err(err(source)),
    }
    file.set_len(0).map_err(err)?;
    file.rewind().map_err(err)?;
    write!(file, "{}", std::process::id()).map_err(err)?;
    Ok(file)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::File {
                path: path.to_owned(),
                source,
            })
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "store file readable by others; narrowing to 0600"
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| Error::File {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<()> {
    Ok(())
}
