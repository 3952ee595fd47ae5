//! [`EngineHandle`]: what monitoring and operators reach of a running engine (counters,
//! events, pause and wake, routing an operator's message) from other tasks, without owning it.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::inbound::Inbound;
use super::route::{route_all, Output};
use super::shared::Shared;
use super::stats::{ChannelStats, DestinationStats, Event};
use crate::ack::{Fingerprint, InboundHeader, Timestamp};
use crate::er7::{self, Message};
use crate::store::{self, InboundMessage, Store};

/// A cheap, cloneable handle on a running engine, from
/// [`RunningEngine::handle`](super::RunningEngine::handle). It stays usable after the
/// engine stopped (counters then stand still, pausing and waking do nothing).
#[derive(Clone)]
pub struct EngineHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle")
            .field("channels", &self.shared.channels.keys().collect::<Vec<_>>())
            .field(
                "destinations",
                &self.shared.destinations.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A message an operator wrote, read and routed like one received on a channel, for
/// [`Store::reprocess_edited`].
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The message and its metadata.
    pub inbound: InboundMessage,
    /// The outputs of the engine's routes, or why routing failed (with HL7 locations).
    pub outcome: Result<Vec<Output>, String>,
}

impl EngineHandle {
    pub(super) fn new(shared: Arc<Shared>) -> EngineHandle {
        EngineHandle { shared }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// The engine's clock.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Every channel's name and counters, by name.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &Arc<ChannelStats>)> {
        self.shared.channels.iter().map(|(n, s)| (n.as_str(), s))
    }

    /// Every destination's name and counters, by name.
    pub fn destinations(&self) -> impl Iterator<Item = (&str, &Arc<DestinationStats>)> {
        self.shared
            .destinations
            .iter()
            .map(|(n, (_, s))| (n.as_str(), s))
    }

    /// A channel's counters.
    pub fn channel_stats(&self, channel: &str) -> Option<&Arc<ChannelStats>> {
        self.shared.channels.get(channel)
    }

    /// A destination's counters and state.
    pub fn destination_stats(&self, destination: &str) -> Option<&Arc<DestinationStats>> {
        self.shared.destinations.get(destination).map(|(_, s)| s)
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

    /// Reads `raw` as a message received on `channel` now and runs the engine's routes on it
    /// (typed parse, validation, mappings), storing nothing. `Err` when it is not a readable
    /// HL7 message.
    pub fn prepare(&self, channel: &str, raw: &[u8]) -> Result<Prepared, String> {
        let decoded = er7::decode_bytes(raw).map_err(|e| e.to_string())?;
        let message = Message::parse(&decoded.text).map_err(|e| e.to_string())?;
        let header = InboundHeader::of(&message);
        let inbound = Inbound::new(channel, raw, &message, &header);
        let outcome = route_all(&self.shared.routes, &inbound).map_err(|e| e.to_string());
        let record = InboundMessage {
            raw: raw.to_vec(),
            channel: channel.to_owned(),
            received_at: self.now(),
            msg_type: message
                .msh()
                .field(9)
                .map(|f| f.raw().to_owned())
                .unwrap_or_default(),
            patient_id: inbound.value("PID-3.1").map(|v| v.into_owned()),
            fingerprint: Fingerprint::of(&message, raw),
        };
        Ok(Prepared {
            inbound: record,
            outcome,
        })
    }

    /// Routes every stored message waiting for it ([`Store::unrouted`]: e.g. a message in
    /// error put back by a reprocess), then wakes the workers.
    pub async fn route_unrouted(&self) -> Result<(), store::Error> {
        let shared = Arc::clone(&self.shared);
        let routed = tokio::task::spawn_blocking(move || super::route_unrouted(&shared))
            .await
            .map_err(|e| store::Error::Corrupt {
                column: "unrouted",
                detail: e.to_string(),
            })?;
        self.wake_all();
        routed
    }
}
