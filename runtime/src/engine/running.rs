//! A started engine: its addresses, counters and events, and its shutdown.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::shared::Shared;
use super::{ChannelStats, DestinationStats, EngineHandle, Event};
use crate::store::Store;

/// A running engine: its addresses, counters and events, and its shutdown.
pub struct RunningEngine {
    pub(super) shared: Arc<Shared>,
    pub(super) addrs: BTreeMap<String, SocketAddr>,
    pub(super) shutdown: CancellationToken,
    pub(super) listener_tasks: JoinSet<()>,
    pub(super) worker_tasks: JoinSet<()>,
    pub(super) committer_thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for RunningEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningEngine")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl RunningEngine {
    /// The address a channel listens on.
    pub fn local_addr(&self, channel: &str) -> Option<SocketAddr> {
        self.addrs.get(channel).copied()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// A cloneable handle for monitoring and operators (the admin endpoint): counters,
    /// events, pause and wake, routing an operator's message.
    pub fn handle(&self) -> EngineHandle {
        EngineHandle::new(Arc::clone(&self.shared))
    }

    /// A channel's counters.
    pub fn channel_stats(&self, channel: &str) -> Option<&Arc<ChannelStats>> {
        self.shared.channels.get(channel)
    }

    /// A destination's counters and state.
    pub fn destination_stats(&self, destination: &str) -> Option<&Arc<DestinationStats>> {
        self.shared.destinations.get(destination).map(|(_, s)| s)
    }

    /// Every channel's name and counters.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &Arc<ChannelStats>)> {
        self.shared.channels.iter().map(|(n, s)| (n.as_str(), s))
    }

    /// Every destination's name and counters.
    pub fn destinations(&self) -> impl Iterator<Item = (&str, &Arc<DestinationStats>)> {
        self.shared
            .destinations
            .iter()
            .map(|(n, (_, s))| (n.as_str(), s))
    }

    /// Events from now on (a subscriber that falls behind loses the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Pauses or resumes a destination's deliveries (its queue keeps filling). `false` when
    /// there is no such destination.
    pub fn set_paused(&self, destination: &str, paused: bool) -> bool {
        self.shared.set_paused(destination, paused)
    }

    /// Wakes a destination's worker, e.g. after a reprocess added items to its queue.
    pub fn wake(&self, destination: &str) {
        self.shared.wake([destination]);
    }

    /// Wakes every destination's worker.
    pub fn wake_all(&self) {
        self.shared.wake_all();
    }

    /// Stops cleanly: listeners stop accepting and finish the message each connection is
    /// handling (its ACK is sent), the last batch is committed, workers finish the delivery in
    /// progress and hand back what they had not tried.
    pub async fn shutdown(mut self) {
        info!("engine shutting down");
        self.shutdown.cancel();
        while self.listener_tasks.join_next().await.is_some() {}
        // Every handler (and so every committer handle) is gone: the committer drains and ends.
        if let Some(thread) = self.committer_thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        while self.worker_tasks.join_next().await.is_some() {}
        info!("engine stopped");
    }

    /// Runs until SIGTERM or Ctrl-C, then [`shutdown`](RunningEngine::shutdown). The signal
    /// handlers are installed when this is called; install them earlier with
    /// [`shutdown_signal`] and [`RunningEngine::shutdown_on`] so that a SIGTERM arriving during
    /// start-up also stops the engine cleanly.
    pub async fn shutdown_on_signal(self) {
        self.shutdown_on(shutdown_signal()).await;
    }

    /// Runs until `stop` completes, then [`shutdown`](RunningEngine::shutdown).
    pub async fn shutdown_on(self, stop: impl std::future::Future<Output = ()>) {
        stop.await;
        self.shutdown().await;
    }
}

/// SIGTERM or Ctrl-C: the handlers are installed now (before the engine starts, if called
/// first), the returned future completes on the first signal.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = term.recv() => info!("SIGTERM received"),
                    _ = interrupt.recv() => info!("interrupt received"),
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, "cannot listen for SIGTERM; waiting for Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
