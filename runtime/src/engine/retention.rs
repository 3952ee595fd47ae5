//! Retention: the engine prunes finished messages by age and by stored size, periodically.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::shared::Shared;
use crate::ack::Timestamp;

/// How long and how much the store keeps. Only finished messages are pruned (every item
/// delivered or dead-lettered, or the message in error): queued work never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Messages received longer ago than this are deleted.
    pub max_age: Duration,
    /// Then the oldest are deleted until the stored bytes are at most this (this step reads
    /// every stored row's size: keep `every` long on large stores).
    pub max_bytes: Option<u64>,
    /// How often to prune. Default 10 min.
    pub every: Duration,
}

impl Retention {
    /// Keeps messages for `max_age`, pruning every 10 minutes.
    pub fn max_age(max_age: Duration) -> Retention {
        Retention {
            max_age,
            max_bytes: None,
            every: Duration::from_secs(600),
        }
    }

    /// Also keeps the store under `bytes`.
    pub fn max_bytes(mut self, bytes: u64) -> Retention {
        self.max_bytes = Some(bytes);
        self
    }

    /// Prunes every `every`.
    pub fn every(mut self, every: Duration) -> Retention {
        self.every = every;
        self
    }
}

pub(crate) async fn run(shared: Arc<Shared>, retention: Retention, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(retention.every) => {}
            () = shutdown.cancelled() => return,
        }
        let now = shared.clock.now();
        let age = u64::try_from(retention.max_age.as_millis()).unwrap_or(u64::MAX);
        let older_than = Timestamp::from_unix_millis(now.unix_millis().saturating_sub(age));
        let store = Arc::clone(&shared.store);
        let pruned =
            tokio::task::spawn_blocking(move || store.prune(older_than, retention.max_bytes)).await;
        match pruned {
            Ok(Ok(p)) if p.messages > 0 => info!(
                messages = p.messages,
                bytes_before = p.bytes_before,
                bytes_after = p.bytes_after,
                "retention: pruned finished messages"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = %e, "retention: pruning failed"),
            Err(e) => warn!(error = %e, "retention task failed"),
        }
    }
}
