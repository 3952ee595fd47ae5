//! What the engine's tasks share.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{broadcast, Notify};

use super::route::Route;
use super::stats::{ChannelStats, DestinationStats, Event};
use crate::ack::{Clock, SequenceIds};
use crate::store::Store;

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock + Send + Sync>,
    /// Names this process among the store's lease owners: `<node>#<start time>`.
    pub(crate) instance: String,
    pub(crate) routes: Vec<Route>,
    pub(crate) destinations: BTreeMap<String, (Arc<Notify>, Arc<DestinationStats>)>,
    pub(crate) channels: BTreeMap<String, Arc<ChannelStats>>,
    pub(crate) events: broadcast::Sender<Event>,
    /// MSH-10 of the ACKs: fresh per process start, so never reused across restarts.
    pub(crate) ack_ids: SequenceIds,
    /// Log patient identifiers and message bodies (off by default: PHI).
    pub(crate) log_phi: bool,
}

impl Shared {
    pub(crate) fn emit(&self, event: Event) {
        // No subscriber is fine: the counters still tell.
        let _ = self.events.send(event);
    }

    /// Wakes the workers of the destinations that just got items.
    pub(crate) fn wake<'a>(&self, destinations: impl IntoIterator<Item = &'a str>) {
        for name in destinations {
            if let Some((notify, _)) = self.destinations.get(name) {
                notify.notify_one();
            }
        }
    }

    /// Pauses or resumes a destination's deliveries; `false` when there is no such destination.
    pub(crate) fn set_paused(&self, destination: &str, paused: bool) -> bool {
        let Some((wake, stats)) = self.destinations.get(destination) else {
            return false;
        };
        stats.paused.store(paused, Ordering::Relaxed);
        wake.notify_one();
        true
    }

    /// Wakes every destination's worker.
    pub(crate) fn wake_all(&self) {
        for (wake, _) in self.destinations.values() {
            wake.notify_one();
        }
    }
}
