//! The engine: channels (MLLP listeners), routes and destinations over one durable store.
//!
//! An engine is built in code:
//!
//! ```no_run
//! use std::sync::Arc;
//! use hl7_runtime::engine::{Channel, Destination, Engine, Route};
//! use hl7_runtime::store::SqliteStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(SqliteStore::open("engine.db")?);
//! let engine = Engine::builder(store)
//!     .channel(Channel::mllp("inbound", "127.0.0.1:2575"))
//!     .destination(Destination::mllp("ehr", "10.1.2.3:6661"))
//!     .destination(Destination::folder("archive", "/var/lib/hl7/archive"))
//!     .route(Route::new("ADT to all").when(|m| m.is("ADT", "*")).to("ehr").to("archive"))
//!     .build()?;
//! let running = engine.start().await?;
//! running.shutdown_on_signal().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Path of a message (DESIGN.md)
//!
//! The listener reads a frame; the message is parsed once (generic view), every matching
//! [`Route`] adds its outputs (typed parse, validation and mappings happen here, in memory);
//! the message, its outputs as per-destination queue items, or its error, are committed in
//! one transaction shared with the other messages arriving meanwhile (group commit); only
//! then is the ACK built and sent. Each destination has a worker that takes the head of its
//! queue, delivers, and records the verdict: done, retry with backoff (order kept), or the
//! error queue. After a crash, the restarted engine takes back the items its previous process
//! had claimed ([`Store::recover_owned`]) and those whose lease expired ([`Store::recover`]),
//! and the workers deliver them again (at least once; a duplicate carries the same bytes).

mod committer;
mod destination;
mod handle;
mod inbound;
mod ingest;
mod retention;
mod route;
mod running;
mod shared;
mod stats;
mod targets;
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub use destination::{Deliver, DeliveryFuture, Destination, RetryPolicy, Target, Verdict};
pub use handle::{EngineHandle, Prepared};
pub use inbound::Inbound;
pub use retention::Retention;
pub use route::{route_all, Action, Output, Route, RouteError, Typed};
pub use running::{shutdown_signal, RunningEngine};
pub use stats::{ChannelStats, DestinationStats, Event, LATENCY_BUCKETS_MS};
pub use targets::judge_ack;

use self::committer::Committer;
use self::ingest::Ingest;
use self::shared::Shared;
use self::worker::Worker;
use crate::ack::{AckAfter, Clock, SequenceIds, SystemClock};
use crate::er7::{self, Message};
use crate::store::{self, Delivery, Store};
use crate::transport::{
    serve_dialed, ListenerConfig, MllpListener, PeerConnections, Reconnect, TcpConnector,
};

/// An inbound channel: an MLLP listener and how it acknowledges.
#[derive(Debug, Clone)]
pub struct Channel {
    name: String,
    addr: String,
    /// `Some` when the engine opens the connection (client role).
    dial: Option<Reconnect>,
    config: ListenerConfig,
    ack_after: AckAfter,
    application_acks: Option<String>,
}

impl Channel {
    /// An MLLP listener on `addr` (`127.0.0.1:2575`; port 0 for any free port), hardened
    /// defaults, original-mode ACK after storage.
    pub fn mllp(name: impl Into<String>, addr: impl Into<String>) -> Channel {
        Channel {
            name: name.into(),
            addr: addr.into(),
            dial: None,
            config: ListenerConfig::default(),
            ack_after: AckAfter::Stored,
            application_acks: None,
        }
    }

    /// A partner that only listens but sends its messages on the connection the engine opens
    /// to it at `addr` (client role). The engine keeps that connection open, reconnecting
    /// after 1 s when it closes and with backoff to 60 s while it cannot connect, and handles
    /// the messages that come on it like those of a listening channel. A
    /// [`Destination::channel_peer`] of this channel sends on the same connection. Plain TCP;
    /// the frame limits and timeouts of [`Channel::config`] apply, its TLS does not.
    pub fn mllp_client(name: impl Into<String>, addr: impl Into<String>) -> Channel {
        Channel {
            dial: Some(Reconnect::default()),
            ..Channel::mllp(name, addr)
        }
    }

    /// The reconnection waits of a [`Channel::mllp_client`] channel; no effect on a listener.
    pub fn reconnect(mut self, reconnect: Reconnect) -> Channel {
        if self.dial.is_some() {
            self.dial = Some(reconnect);
        }
        self
    }

    /// Listener settings (limits, timeouts, TLS, MLLP Release 2 commit blocks).
    pub fn config(mut self, config: ListenerConfig) -> Channel {
        self.config = config;
        self
    }

    /// When the original-mode ACK is sent: after storage (default) or after processing.
    pub fn ack_after(mut self, ack_after: AckAfter) -> Channel {
        self.ack_after = ack_after;
        self
    }

    /// Where the application ACKs of enhanced mode go: a destination of the engine, usually
    /// an MLLP client to the sending system's own listener.
    ///
    /// A sender in enhanced mode gets the accept ACK (`CA`) on its connection once the
    /// message is stored, and, when its MSH-16 asks (`AL`, `SU` for `AA`, `ER` for `AE`/`AR`),
    /// an application ACK as a message of its own. That ACK is queued in the same transaction
    /// as the message, so it is as durable as the message and delivered like any output:
    /// in order, retried with backoff, visible and reprocessable in the store. Without this
    /// setting such requests are logged and not answered.
    pub fn application_acks_to(mut self, destination: impl Into<String>) -> Channel {
        self.application_acks = Some(destination.into());
        self
    }
}

/// A configuration the engine refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two channels or two destinations share a name.
    #[error("two {kind}s are named `{name}`")]
    DuplicateName {
        /// `channel` or `destination`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A route delivers to a destination the engine does not have.
    #[error(
        "route `{route}` delivers to `{destination}`, which is not a destination of this engine"
    )]
    UnknownDestination {
        /// The route.
        route: String,
        /// The destination it names.
        destination: String,
    },
    /// A channel sends its application ACKs to a destination the engine does not have.
    #[error(
        "channel `{channel}` sends application ACKs to `{destination}`, which is not a destination of this engine"
    )]
    UnknownAckDestination {
        /// The channel.
        channel: String,
        /// The destination it names.
        destination: String,
    },
    /// A destination delivers to the partner of a channel the engine does not have.
    #[error(
        "destination `{destination}` delivers to the peer of channel `{channel}`, which is not a channel of this engine"
    )]
    UnknownChannel {
        /// The destination.
        destination: String,
        /// The channel it names.
        channel: String,
    },
    /// The store does not make a commit durable (e.g. SQLite `synchronous=OFF`), so a
    /// positive ACK could be sent for a message a power cut then loses.
    #[error("the store's commits are not durable, so ACKs would be sent before messages are safe; use a durable store, or allow it explicitly for a test with `allow_non_durable_store`")]
    NonDurableStore,
    /// The engine has no channel.
    #[error("the engine has no channel")]
    NoChannel,
    /// The node name is empty or contains `#` (it prefixes the engine's lease owner names).
    #[error("invalid node name `{0}`: it must be non-empty and without `#`")]
    InvalidNode(String),
}

/// Builds an [`Engine`]; see the [module documentation](self).
pub struct EngineBuilder {
    store: Arc<dyn Store>,
    channels: Vec<Channel>,
    destinations: Vec<Destination>,
    routes: Vec<Route>,
    clock: Arc<dyn Clock + Send + Sync>,
    lease: Duration,
    node: String,
    allow_non_durable: bool,
    log_phi: bool,
    retention: Option<Retention>,
}

impl fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("channels", &self.channels)
            .field("destinations", &self.destinations)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// Adds an inbound channel.
    pub fn channel(mut self, channel: Channel) -> Self {
        self.channels.push(channel);
        self
    }

    /// Adds a destination.
    pub fn destination(mut self, destination: Destination) -> Self {
        self.destinations.push(destination);
        self
    }

    /// Adds a route; every route whose filter matches a message contributes its outputs.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// The clock for timestamps and retry times (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock + Send + Sync>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a worker's claim holds before another process may take the item over
    /// (default 5 min; it must outlast a batch of deliveries).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// This engine's name among the engines sharing its store (default `engine`). Its claims
    /// carry the name, so a restarted engine takes back at once what its previous process
    /// held when it died, instead of waiting for those leases to end with its queues held.
    /// Engines sharing one store need distinct names; an engine keeps its name across restarts.
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.node = name.into();
        self
    }

    /// Lets the engine start on a store whose commits are not durable. For tests that must
    /// show loss is detected (RELIABILITY.md T-CRASH-5); never for a hospital.
    pub fn allow_non_durable_store(mut self, allow: bool) -> Self {
        self.allow_non_durable = allow;
        self
    }

    /// Prunes finished messages periodically by age and size (default: keeps everything).
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Logs message bodies at debug level. Off by default: they are PHI.
    pub fn log_phi(mut self, log: bool) -> Self {
        self.log_phi = log;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Engine, ConfigError> {
        if self.channels.is_empty() {
            return Err(ConfigError::NoChannel);
        }
        if self.node.is_empty() || self.node.contains('#') {
            return Err(ConfigError::InvalidNode(self.node));
        }
        unique("channel", self.channels.iter().map(|c| c.name.as_str()))?;
        unique(
            "destination",
            self.destinations.iter().map(|d| d.name.as_str()),
        )?;
        let known: BTreeSet<&str> = self.destinations.iter().map(|d| d.name.as_str()).collect();
        for route in &self.routes {
            for destination in route.destinations() {
                if !known.contains(destination.as_str()) {
                    return Err(ConfigError::UnknownDestination {
                        route: route.name().to_owned(),
                        destination,
                    });
                }
            }
        }
        let channels: BTreeSet<&str> = self.channels.iter().map(|c| c.name.as_str()).collect();
        for destination in &self.destinations {
            if let Some(channel) = destination.peer_channel() {
                if !channels.contains(channel) {
                    return Err(ConfigError::UnknownChannel {
                        destination: destination.name.clone(),
                        channel: channel.to_owned(),
                    });
                }
            }
        }
        for channel in &self.channels {
            if let Some(destination) = &channel.application_acks {
                if !known.contains(destination.as_str()) {
                    return Err(ConfigError::UnknownAckDestination {
                        channel: channel.name.clone(),
                        destination: destination.clone(),
                    });
                }
            }
        }
        if !self.store.is_durable() && !self.allow_non_durable {
            return Err(ConfigError::NonDurableStore);
        }
        Ok(Engine { builder: self })
    }
}

fn unique<'a>(kind: &'static str, names: impl Iterator<Item = &'a str>) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ConfigError::DuplicateName {
                kind,
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// A configured engine, ready to [`start`](Engine::start).
#[derive(Debug)]
pub struct Engine {
    builder: EngineBuilder,
}

impl Engine {
    /// Starts building an engine over `store`.
    pub fn builder(store: Arc<dyn Store>) -> EngineBuilder {
        EngineBuilder {
            store,
            channels: Vec::new(),
            destinations: Vec::new(),
            routes: Vec::new(),
            clock: Arc::new(SystemClock),
            lease: Duration::from_secs(300),
            node: "engine".to_owned(),
            allow_non_durable: false,
            log_phi: false,
            retention: None,
        }
    }

    /// Recovers the store (the claims of this node's previous process and expired leases
    /// handed back, stored-but-unrouted messages routed), binds every channel, and starts the
    /// listeners, the committer and one delivery worker per destination.
    pub async fn start(self) -> Result<RunningEngine, StartError> {
        let b = self.builder;
        let now = b.clock.now();
        let store = Arc::clone(&b.store);
        // Lease owners are `<node>#<start time>/<destination>` (see the worker).
        let own = format!("{}#", b.node);
        let (released_own, recovery) = tokio::task::spawn_blocking(move || {
            let released = store.recover_owned(&own, now)?;
            Ok::<_, store::Error>((released, store.recover(now)?))
        })
        .await
        .map_err(|e| {
            StartError::Store(store::Error::Corrupt {
                column: "recover",
                detail: e.to_string(),
            })
        })??;
        info!(
            own_claims_released = released_own,
            leases_released = recovery.leases_released,
            unrouted = recovery.unrouted,
            "store recovered"
        );

        let (events, _) = broadcast::channel(1024);
        let destinations: BTreeMap<String, (Arc<Notify>, Arc<DestinationStats>)> = b
            .destinations
            .iter()
            .map(|d| (d.name.clone(), (Arc::new(Notify::new()), Arc::default())))
            .collect();
        let channels: BTreeMap<String, Arc<ChannelStats>> = b
            .channels
            .iter()
            .map(|c| (c.name.clone(), Arc::default()))
            .collect();
        let instance = format!("{}#{:x}", b.node, now.unix_millis());
        let shared = Arc::new(Shared {
            store: Arc::clone(&b.store),
            clock: Arc::clone(&b.clock),
            ack_ids: SequenceIds::per_run("A", now),
            instance,
            routes: b.routes,
            destinations,
            channels,
            events,
            log_phi: b.log_phi,
        });
        if recovery.unrouted > 0 {
            let shared = Arc::clone(&shared);
            tokio::task::spawn_blocking(move || route_unrouted(&shared))
                .await
                .map_err(|e| {
                    StartError::Store(store::Error::Corrupt {
                        column: "unrouted",
                        detail: e.to_string(),
                    })
                })??;
        }

        // The channels whose partners are also destinations register their connections.
        let peers: BTreeMap<String, PeerConnections> = b
            .destinations
            .iter()
            .filter_map(|d| d.peer_channel())
            .map(|channel| (channel.to_owned(), PeerConnections::new()))
            .collect();
        let mut listeners = Vec::with_capacity(b.channels.len());
        let mut dialers = Vec::new();
        for channel in &b.channels {
            let mut config = channel.config.clone();
            if let Some(connections) = peers.get(&channel.name) {
                config = config.with_peers(connections.clone());
            }
            let unreachable = |source| StartError::Bind {
                channel: channel.name.clone(),
                addr: channel.addr.clone(),
                source,
            };
            match channel.dial {
                Some(reconnect) => {
                    let connector = TcpConnector::resolve(channel.addr.as_str())
                        .await
                        .map_err(unreachable)?;
                    dialers.push((channel.clone(), connector, config, reconnect));
                }
                None => {
                    let listener = MllpListener::bind(channel.addr.as_str(), config)
                        .await
                        .map_err(unreachable)?;
                    listeners.push((channel.clone(), listener));
                }
            }
        }

        let shutdown = CancellationToken::new();
        let (committer, committer_thread) =
            Committer::start(Arc::clone(&b.store), Arc::clone(&b.clock));
        let mut addrs = BTreeMap::new();
        let mut listener_tasks = JoinSet::new();
        for (channel, listener) in listeners {
            let addr = listener.local_addr().map_err(|source| StartError::Bind {
                channel: channel.name.clone(),
                addr: channel.addr.clone(),
                source,
            })?;
            info!(channel = %channel.name, %addr, "channel listening");
            addrs.insert(channel.name.clone(), addr);
            let ingest = Ingest::new(&channel, &shared, &committer);
            let stop = shutdown.clone();
            listener_tasks.spawn(async move {
                if let Err(e) = listener
                    .serve_with_shutdown(ingest, stop.cancelled_owned())
                    .await
                {
                    error!(channel = %channel.name, error = %e, "listener failed");
                }
            });
        }
        for (channel, connector, config, reconnect) in dialers {
            info!(channel = %channel.name, addr = %channel.addr, "channel connecting to its partner");
            let ingest = Ingest::new(&channel, &shared, &committer);
            listener_tasks.spawn(serve_dialed(
                connector,
                ingest,
                config,
                reconnect,
                shutdown.clone(),
            ));
        }
        drop(committer);

        let mut worker_tasks = JoinSet::new();
        let lease = b.lease;
        for destination in b.destinations {
            let (wake, stats) = shared.destinations[&destination.name].clone();
            let worker = Worker {
                deliver: Destination::deliverer(destination.target, &peers),
                name: destination.name,
                retry: destination.retry,
                batch: destination.batch,
                lease,
                wake,
                stats,
            };
            worker_tasks.spawn(worker.run(Arc::clone(&shared), shutdown.clone()));
        }
        if let Some(retention) = b.retention {
            worker_tasks.spawn(retention::run(
                Arc::clone(&shared),
                retention,
                shutdown.clone(),
            ));
        }
        Ok(RunningEngine {
            shared,
            addrs,
            shutdown,
            listener_tasks,
            worker_tasks,
            committer_thread: Some(committer_thread),
        })
    }
}

/// Routes what was stored but not routed (a crash between the two in an older engine, or a
/// reprocessed message whose routing had failed).
fn route_unrouted(shared: &Shared) -> Result<(), store::Error> {
    loop {
        let ids = shared.store.unrouted(256)?;
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            let Some(stored) = shared.store.message(id)? else {
                continue;
            };
            let raw = &stored.inbound.raw;
            let routed = er7::decode_bytes(raw)
                .map_err(|e| e.to_string())
                .and_then(|decoded| {
                    let message = Message::parse(&decoded.text).map_err(|e| e.to_string())?;
                    let header = crate::ack::InboundHeader::of(&message);
                    let inbound = Inbound::new(&stored.inbound.channel, raw, &message, &header);
                    route_all(&shared.routes, &inbound).map_err(|e| e.to_string())
                });
            match routed {
                Ok(outputs) => {
                    let deliveries: Vec<Delivery<'_>> = outputs
                        .iter()
                        .map(|o| Delivery {
                            destination: &o.destination,
                            payload: &o.payload,
                        })
                        .collect();
                    shared.store.route(id, &deliveries, shared.clock.now())?;
                }
                Err(reason) => {
                    warn!(message = %id, %reason, "stored message cannot be routed");
                    shared.store.message_error(id, &reason)?;
                }
            }
        }
    }
}

/// Why an engine did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A channel's address could not be bound (or, for a client channel, resolved).
    #[error("channel `{channel}`: cannot use {addr}: {source}")]
    Bind {
        /// The channel.
        channel: String,
        /// Its address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed during recovery.
    #[error("store: {0}")]
    Store(#[from] store::Error),
}
