//! Keeps the store's full-text index within about a second of the newest message, off the
//! ingest path: small batches, so the store is never held for long.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::store::Store;

/// Messages indexed per store transaction (a few milliseconds).
const BATCH: usize = 500;

/// How often it looks for new messages.
const EVERY: Duration = Duration::from_secs(1);

/// Runs until `shutdown`.
pub(crate) fn start(store: Arc<dyn Store>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut caught_up = true;
        loop {
            let store = Arc::clone(&store);
            let indexed = tokio::task::spawn_blocking(move || store.index_text(BATCH)).await;
            let behind = match indexed {
                Ok(Ok(n)) => n == BATCH,
                Ok(Err(e)) => {
                    warn!(error = %e, "text index: cannot index new messages");
                    false
                }
                Err(e) => {
                    warn!(error = %e, "text index task failed");
                    false
                }
            };
            if behind && caught_up {
                info!("text index catching up with the stored messages");
            }
            if !behind && !caught_up {
                info!("text index up to date");
            }
            caught_up = !behind;
            // Behind: the next batch at once (other store users get the lock in between).
            let wait = if behind { Duration::ZERO } else { EVERY };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}
