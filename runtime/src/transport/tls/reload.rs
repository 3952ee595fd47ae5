//! Certificate rotation: key material loaded from files is loaded again when one of them
//! changes on disk, so an operator (or certbot, or a secrets agent) replaces a listener's
//! certificate, a client's certificate or a CA bundle without restarting the engine. New
//! handshakes use the new files; connections already open keep the session they have.
//!
//! The files are looked at (their size and modification time) when a handshake is about to
//! start, at most once per [`LOOK_EVERY`], never in between: no thread, no watcher. A change
//! that cannot be used (a certificate written before its key, a truncated file) keeps what was
//! loaded before, with a warning, and is tried again at the next change of a file.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use tracing::{info, warn};

use super::TlsConfigError;

/// How often the files are looked at, at most: a handshake costs far more than these few
/// `stat` calls, but a connection storm need not make thousands of them.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A value built from files, rebuilt when they change.
pub(super) struct Reloading<T> {
    /// Who uses it, for the logs: "TLS listener", "TLS client".
    role: &'static str,
    build: Box<dyn Fn() -> Result<T, TlsConfigError> + Send + Sync>,
    state: Mutex<State<T>>,
}

struct State<T> {
    current: T,
    /// The files with what they looked like when last looked at.
    files: Vec<(PathBuf, Option<Stamp>)>,
    looked: Instant,
}

/// What a file looked like: size and modification time (`None`: missing).
type Stamp = (u64, Option<SystemTime>);

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()))
}

impl<T: Clone> Reloading<T> {
    /// `current`, built from `files` (none: it never changes); `build` reads them again.
    pub(super) fn new(
        role: &'static str,
        current: T,
        files: Vec<PathBuf>,
        build: impl Fn() -> Result<T, TlsConfigError> + Send + Sync + 'static,
    ) -> Self {
        let files = files
            .into_iter()
            .map(|path| {
                let stamp = stamp(&path);
                (path, stamp)
            })
            .collect();
        Reloading {
            role,
            build: Box::new(build),
            state: Mutex::new(State {
                current,
                files,
                looked: Instant::now(),
            }),
        }
    }

    /// The value to use now: rebuilt first when a file changed since it was last looked at.
    pub(super) fn current(&self) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.files.is_empty() || state.looked.elapsed() < LOOK_EVERY {
            return state.current.clone();
        }
        state.looked = Instant::now();
        let mut changed = Vec::new();
        for (path, seen) in &mut state.files {
            let now = stamp(path);
            if now != *seen {
                *seen = now;
                changed.push(path.display().to_string());
            }
        }
        if changed.is_empty() {
            return state.current.clone();
        }
        match (self.build)() {
            Ok(rebuilt) => {
                info!(role = self.role, files = ?changed,
                    "TLS files changed; new handshakes use them");
                state.current = rebuilt;
            }
            Err(error) => warn!(role = self.role, files = ?changed, %error,
                "TLS files changed but cannot be used; keeping the ones loaded before"),
        }
        state.current.clone()
    }
}
