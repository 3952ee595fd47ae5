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

mod channel;
mod committer;
mod destination;
mod error;
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

pub use channel::Channel;
pub use destination::{Deliver, DeliveryFuture, Destination, RetryPolicy, Target, Verdict};
pub use error::{ConfigError, StartError};
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
use crate::ack::{Clock, SequenceIds, SystemClock};
use crate::er7::{self, Message};
use crate::store::{self, Delivery, Store};
use crate::transport::{serve_dialed, MllpListener, PeerConnections, TcpConnector, TlsConnector};

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

/// How a client channel connects: plain TCP or TLS.
enum Dialer {
    Plain(TcpConnector),
    Tls(TlsConnector),
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
            match &channel.dial {
                Some(dial) => {
                    let tcp = TcpConnector::resolve(channel.addr.as_str())
                        .await
                        .map_err(unreachable)?;
                    let connector = match &dial.tls {
                        None => Dialer::Plain(tcp),
                        Some((name, tls)) => Dialer::Tls(
                            TlsConnector::new(tcp, name, tls)
                                .map_err(|e| unreachable(std::io::Error::other(e)))?,
                        ),
                    };
                    dialers.push((channel.clone(), connector, config, dial.reconnect));
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
            let stop = shutdown.clone();
            match connector {
                Dialer::Plain(tcp) => {
                    listener_tasks.spawn(serve_dialed(tcp, ingest, config, reconnect, stop))
                }
                Dialer::Tls(tls) => {
                    listener_tasks.spawn(serve_dialed(tls, ingest, config, reconnect, stop))
                }
            };
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
