//! The admin endpoint of a running engine: Prometheus `/metrics`, a JSON API (status, pause
//! and resume, message browser, reprocess, discard, audit log, alerts), and room for a
//! dashboard's pages.
//!
//! ```no_run
//! use hl7_runtime::admin::{Admin, AdminConfig, AlertConfig};
//! # async fn run(engine: hl7_runtime::engine::RunningEngine) -> Result<(), Box<dyn std::error::Error>> {
//! let token = std::env::var("HL7_ADMIN_TOKEN")?;
//! let config = AdminConfig::new("127.0.0.1:8080")
//!     .token(&token)
//!     .alerts(AlertConfig::with_default_rules().webhook("http://127.0.0.1:9093/hl7"));
//! let admin = Admin::new(engine.handle(), config).start().await?;
//! println!("admin endpoint on http://{}", admin.local_addr());
//! engine.shutdown_on_signal().await;
//! admin.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Security (DESIGN.md)
//!
//! - Off unless started; it refuses to start without a token, with a token shorter than 16
//!   characters, or on an address that is not loopback unless
//!   [`AdminConfig::allow_remote`] says so.
//! - **Every** request, `/metrics` and any page merged with [`Admin::merge`] included, needs
//!   `Authorization: Bearer <token>` (or a browser session of the [`dashboard`], made from a
//!   token); otherwise `401` with `WWW-Authenticate: Bearer`. Tokens
//!   are compared as SHA-256 digests in constant time. Each token has a user name
//!   ([`AdminConfig::user_token`]; `admin` for [`AdminConfig::token`]) that the audit log
//!   records.
//! - TLS with [`AdminConfig::tls`] (the transport's [`ServerTls`], so client certificates
//!   and allow-lists work as for MLLP).
//! - Message bodies and patient ids are PHI: they are served only to token holders, and every
//!   view of one message is in the audit log before it is shown. Nothing here logs them.
//!
//! # Routes
//!
//! Times are RFC 3339 in UTC with milliseconds (`2024-11-27T02:00:00.000Z`); query and body
//! times may also carry an offset (`2024-11-27T02:00:00+01:00`) or be Unix milliseconds.
//! Errors are `{"error": "..."}` with `400` (bad request), `401`, `404` (no such message or
//! destination) or `500` (the store failed). Unknown query parameters and body fields are
//! refused (`400`), so a typo never widens a selection.
//!
//! ## `GET /metrics`
//!
//! Prometheus text format. Per channel (label `channel`): `hl7_channel_received_total`,
//! `hl7_channel_acks_total` (label `code`: AA, AE, AR, CA, CE, CR),
//! `hl7_channel_duplicates_total`, `hl7_channel_control_id_reuse_total`,
//! `hl7_channel_errors_total`, `hl7_channel_store_failures_total`,
//! `hl7_channel_last_received_timestamp_seconds`. Per destination (label `destination`):
//! `hl7_destination_delivered_total`, `hl7_destination_failed_total`,
//! `hl7_destination_retried_total`, `hl7_destination_dead_lettered_total`,
//! `hl7_destination_queue_depth`, `hl7_destination_oldest_queued_age_seconds`,
//! `hl7_destination_dead_letters` (dead-lettered, not reprocessed), `hl7_destination_paused`,
//! `hl7_destination_down`, `hl7_destination_down_seconds`,
//! `hl7_destination_last_delivered_timestamp_seconds`, and the histogram
//! `hl7_destination_delivery_latency_seconds` (`_bucket` with `le`, `_sum`, `_count`).
//! Then `hl7_store_up`, `hl7_alert_firing` (labels `rule`, `subject`; with alerts),
//! `process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total`,
//! `process_start_time_seconds`, `process_uptime_seconds` (Linux).
//!
//! ## `GET /api/status`
//!
//! ```json
//! {"now": "...", "uptime_seconds": 81.5, "store_ok": true,
//!  "channels": [{"name": "inbound", "received": 120,
//!                "acks": {"AA": 118, "AE": 2, "AR": 0, "CA": 0, "CE": 0, "CR": 0},
//!                "duplicates": 1, "control_id_reuse": 0, "errors": 2, "store_failures": 0,
//!                "last_received": "..." | null}],
//!  "destinations": [{"name": "pharmacy", "state": "up" | "down" | "paused", "paused": false,
//!                    "down_since": "..." | null, "delivered": 117, "failed": 3, "retried": 3,
//!                    "dead_lettered": 0, "queue_depth": 4, "oldest_queued_age_seconds": 2.5,
//!                    "dead_letters": 0, "last_delivered": "..." | null,
//!                    "latency": {"count": 117, "sum_seconds": 0.92,
//!                                "buckets": [{"le_seconds": 0.001, "count": 20}, ...,
//!                                            {"le_seconds": null, "count": 117}]}}],
//!  "alerts": [{"rule": "queue_depth", "subject": "pharmacy", "value": 1520.0,
//!              "threshold": 1000.0, "since": "..."}]}
//! ```
//!
//! `queue_depth`, `oldest_queued_age_seconds` and `dead_letters` are `null` when the store
//! could not be read (`store_ok: false`). Latency buckets are cumulative.
//!
//! ## `GET /api/alerts`
//!
//! `{"rules": [{"rule": "queue_depth", "subject": "pharmacy" | null, "threshold": 1000.0}],
//!   "firing": [<as in status>]}`.
//!
//! ## `POST /api/destinations/{name}/pause`, `POST /api/destinations/{name}/resume`
//!
//! Stops or restarts a destination's deliveries (its queue keeps filling); audited.
//! Answer: `{"destination": "pharmacy", "paused": true}`.
//!
//! ## `GET /api/destinations/{name}/queue?view=queued|errors&after=&limit=`
//!
//! The head of the queue (`queued`, default) or the dead letters not reprocessed yet
//! (`errors`), oldest first, `limit` (default 50, at most 1000) after item `after`:
//! `{"destination", "view", "items": [{"id", "message_id", "state", "attempts",
//! "last_error", "created_at", "ready_at", "reprocess_of"}], "next_after": id | null}`.
//! `ready_at` after a failure is the time of the next retry.
//!
//! ## `GET /api/messages?control_id=&patient_id=&type=&event=&sender=&facility=&channel=&state=&from=&to=&text=&limit=&before=`
//!
//! Newest first; every parameter given must hold: `control_id` (MSH-10), `patient_id`
//! (PID-3.1), `type` and `event` (MSH-9.1, MSH-9.2), `sender` and `facility` (MSH-3, MSH-4),
//! `channel`, `state` (`received`, `routed`, `error`, `discarded`), `from` (inclusive) and
//! `to` (exclusive) on the time received, `text`: words that must all appear in the raw
//! message (case and accents ignored; `gluc*` for a prefix; the endpoint keeps the text
//! index within a second of the newest message, and a text search catches up first). `limit` default 50, at most
//! 1000. Paging is by keyset: pass `before=<next_before>` for the next page, which costs what
//! the first does.
//!
//! ```json
//! {"messages": [{"id": 1042, "received_at": "...", "channel": "inbound",
//!                "type": "ORU^R01", "control_id": "LAB0042", "sending_application": "LAB",
//!                "sending_facility": "ACME", "patient_id": "12345", "state": "routed",
//!                "error": null, "edited_from": null,
//!                "items": [{"id": 2001, "destination": "ehr", "state": "done",
//!                           "attempts": 1, "last_error": null, "reprocess_of": null}]}],
//!  "next_before": 1042 | null}
//! ```
//!
//! Message states: `received` (waiting to be routed), `routed`, `error` (validation or
//! mapping failed: `error` says where), `discarded`. Item states: `ready` (waiting; after a
//! failure until its retry time), `leased` and `sent` (being delivered), `done`, `error`
//! (dead-lettered), `discarded`.
//!
//! ## `GET /api/messages/{id}`
//!
//! Every stage of one message (audited as `view`):
//!
//! ```json
//! {<the fields of a search result, without items>, "edits": [1077],
//!  "raw": "MSH|^~\\&|...\r...", "ack": "MSH|...\rMSA|AA|LAB0042\r" | null,
//!  "items": [{"id": 2001, "destination": "ehr", "state": "done", "attempts": 1,
//!             "last_error": null, "reprocess_of": null, "created_at": "...",
//!             "ready_at": "...", "finished_at": "..." | null,
//!             "payload": "<the mapped message delivered>",
//!             "attempt_log": [{"attempt": 1, "worker": "ehr#18c...", "started_at": "...",
//!                              "sent_at": "...", "finished_at": "...", "outcome": "done",
//!                              "error": null, "response": "MSH|...\rMSA|AA|...\r"}]}],
//!  "audit": [<audit entries about it, views left out>]}
//! ```
//!
//! `error` carries the located validation problems when a typed route refused it. Attempt
//! outcomes: `done`, `failed` (retried), `dead letter`, `lease expired`; `null` while in
//! progress.
//!
//! ## `POST /api/messages/{id}/reprocess`
//!
//! Without a body (or `{"reason": "..."}`): each destination the message had gets a new item
//! with the latest payload, linked by `reprocess_of`; a message whose routing failed is
//! routed again with the current routes. Answer: `{"message": 1042, "items": [2310],
//! "state": "routed"}`.
//!
//! With `{"body": "MSH|...", "reason": "..."}`: the edited text (line feeds become segment
//! separators) is read and routed like a message received on the original's channel and
//! stored as a new message linked to the original (`edited_from`), in one transaction; the
//! original's dead letters (and the original itself when it is in error) are discarded,
//! since the edit replaces them. Audited as `edit`. Answer: `{"message": 1042,
//! "new_message": 1077, "items": [2311], "superseded": [2001], "state": "routed" | "error",
//! "error": null | "..."}`; `400` when the body is not readable HL7.
//!
//! ## `POST /api/reprocess`
//!
//! A selection, one of:
//! - `{"ids": [1042, 1043]}`: those messages, as above (at most 10 000);
//! - `{"errored": true, "destination": "pharmacy", "from": "...", "to": "..."}`: the dead
//!   letters not reprocessed yet (of the destination, or of all; dead-lettered in
//!   `from..to`, both optional); without a destination, messages in error received in
//!   `from..to` are routed again too;
//! - `{"from": "...", "to": "..."}`: every message received in the range.
//!
//! An optional `"reason"` goes to the audit log. Answer: `{"count": 12, "items": [...],
//! "rerouted_messages": [...], "rerouted_count": 1, "truncated": false}` (at most 1000 ids
//! listed). The workers are woken at once.
//!
//! ## `POST /api/messages/{id}/discard`
//!
//! `{"reason": "...", "destination": "pharmacy"}` (destination optional): the message's items
//! waiting in the queue or dead-lettered are set aside (`discarded`, never delivered); without
//! a destination a message in error or not routed becomes `discarded` too. Items being
//! delivered right now are left alone and listed (pause the destination first). The reason
//! is required and audited. Answer: `{"message": 1042, "discarded": [2001], "in_flight": [],
//! "state": "routed"}`.
//!
//! ## `GET /api/audit?message_id=&action=&user=&before=&limit=`
//!
//! Newest first: `{"entries": [{"id": 7, "at": "...", "user": "alice", "action": "discard",
//! "messages": [1042], "message_count": 1, "details": {"reason": "..."}}],
//! "next_before": 7 | null}`. Actions: `view`, `reprocess`, `edit`, `discard`, `pause`,
//! `resume`. `messages` lists at most 100 ids; `message_count` has the total.
//!
//! # A dashboard
//!
//! [`Admin::merge`] adds routes (static pages, say) behind the same token check; they must
//! not overlap the routes above.
//! [`dashboard::router`] is the operations page (channels and destinations live, the message
//! browser, reprocess and discard), signed in to with a token.

mod alerts;
mod api;
mod auth;
pub mod dashboard;
mod indexer;
mod json;
mod messages;
mod metrics;
mod process;
mod server;
mod time;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use alerts::{AlertConfig, AlertState, FiringAlert, Notification, Rule, WebhookError};
pub use auth::User;
/// The router type of [`Admin::merge`] (axum's).
pub use axum::Router;

use self::alerts::Board;
use self::api::AppState;
use self::auth::Tokens;
use crate::engine::EngineHandle;
use crate::transport::ServerTls;

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// How the admin endpoint listens and who may use it.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    addr: String,
    tokens: Tokens,
    weak_token: Option<String>,
    allow_remote: bool,
    tls: Option<ServerTls>,
    alerts: Option<AlertConfig>,
    max_connections: usize,
}

impl AdminConfig {
    /// Listens on `addr` (`127.0.0.1:8080`; port 0 for any free port). Add a token.
    pub fn new(addr: impl Into<String>) -> AdminConfig {
        AdminConfig {
            addr: addr.into(),
            tokens: Tokens::default(),
            weak_token: None,
            allow_remote: false,
            tls: None,
            alerts: None,
            max_connections: 64,
        }
    }

    /// Accepts `token` for the user `admin`.
    pub fn token(self, token: &str) -> AdminConfig {
        self.user_token("admin", token)
    }

    /// Accepts `token` for `user` (the name the audit log records).
    pub fn user_token(mut self, user: impl Into<String>, token: &str) -> AdminConfig {
        let user = user.into();
        if token.trim().chars().count() < MIN_TOKEN_LEN {
            self.weak_token.get_or_insert(user.clone());
        }
        self.tokens.add(user, token.trim());
        self
    }

    /// Allows an address that is not loopback (put TLS in front, or use [`AdminConfig::tls`]).
    pub fn allow_remote(mut self, allow: bool) -> AdminConfig {
        self.allow_remote = allow;
        self
    }

    /// Serves HTTPS with this TLS configuration.
    pub fn tls(mut self, tls: ServerTls) -> AdminConfig {
        self.tls = Some(tls);
        self
    }

    /// Evaluates these alerts while the endpoint runs.
    pub fn alerts(mut self, alerts: AlertConfig) -> AdminConfig {
        self.alerts = Some(alerts);
        self
    }

    /// Connections served at once (default 64); more are closed at once.
    pub fn max_connections(mut self, n: usize) -> AdminConfig {
        self.max_connections = n.max(1);
        self
    }
}

/// Why the admin endpoint did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No token was configured: the endpoint is never open to all.
    #[error("the admin endpoint needs a token (none configured)")]
    NoToken,
    /// A token is too short to be a secret.
    #[error("the admin token of `{user}` is shorter than {MIN_TOKEN_LEN} characters")]
    WeakToken {
        /// Whose token.
        user: String,
    },
    /// The address is not loopback and remote access was not allowed.
    #[error("admin address {addr} is not loopback ({resolved}); allow remote access explicitly to listen there")]
    NotLoopback {
        /// The address configured.
        addr: String,
        /// What it resolved to.
        resolved: SocketAddr,
    },
    /// The address could not be resolved or bound.
    #[error("admin endpoint: cannot listen on {addr}: {source}")]
    Bind {
        /// The address configured.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The alert webhook cannot be used.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

/// The admin endpoint of one engine, ready to [`start`](Admin::start).
#[derive(Debug)]
pub struct Admin {
    engine: EngineHandle,
    config: AdminConfig,
    extra: Router,
    board: Option<Arc<Board>>,
    started: u64,
}

impl Admin {
    /// The endpoint for `engine` ([`RunningEngine::handle`](crate::engine::RunningEngine::handle)).
    pub fn new(engine: EngineHandle, config: AdminConfig) -> Admin {
        let board = config.alerts.as_ref().map(|_| Arc::new(Board::default()));
        let started = engine.now().unix_millis();
        Admin {
            engine,
            config,
            extra: Router::new(),
            board,
            started,
        }
    }

    /// Adds routes (a dashboard's pages and assets) behind the same token check. They must
    /// not overlap the API's routes.
    pub fn merge(mut self, routes: Router) -> Admin {
        self.extra = self.extra.merge(routes);
        self
    }

    /// Every route with the token check in front, for serving it another way (tests, an
    /// existing server).
    pub fn router(&self) -> Router {
        let state = Arc::new(AppState {
            engine: self.engine.clone(),
            board: self.board.clone(),
            started: self.started,
        });
        api::routes(state)
            .merge(self.extra.clone())
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(self.config.tokens.clone()),
                auth::require_token,
            ))
    }

    /// Checks the configuration, binds, and serves until [`RunningAdmin::shutdown`]; starts
    /// the alerts when configured.
    pub async fn start(self) -> Result<RunningAdmin, AdminError> {
        let config = &self.config;
        if config.tokens.is_empty() {
            return Err(AdminError::NoToken);
        }
        if let Some(user) = &config.weak_token {
            return Err(AdminError::WeakToken { user: user.clone() });
        }
        if let Some(alerts) = &config.alerts {
            alerts.check()?;
        }
        let bind_error = |source| AdminError::Bind {
            addr: config.addr.clone(),
            source,
        };
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host(config.addr.as_str())
            .await
            .map_err(bind_error)?
            .collect();
        if !config.allow_remote {
            if let Some(remote) = resolved.iter().find(|a| !a.ip().is_loopback()) {
                return Err(AdminError::NotLoopback {
                    addr: config.addr.clone(),
                    resolved: *remote,
                });
            }
        }
        let listener = TcpListener::bind(&resolved[..]).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let shutdown = CancellationToken::new();
        let alerts = match (&config.alerts, &self.board) {
            (Some(alerts), Some(board)) => Some(alerts::start(
                alerts.clone(),
                self.engine.clone(),
                Arc::clone(board),
                shutdown.clone(),
            )?),
            _ => None,
        };
        let indexer = indexer::start(Arc::clone(self.engine.store()), shutdown.clone());
        let app = self.router();
        let server = tokio::spawn(server::serve(
            listener,
            app,
            config.tls.clone(),
            config.max_connections,
            shutdown.clone(),
        ));
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        info!(%addr, scheme, "admin endpoint listening");
        Ok(RunningAdmin {
            addr,
            shutdown,
            server,
            alerts,
            indexer,
        })
    }
}

/// A running admin endpoint.
#[derive(Debug)]
pub struct RunningAdmin {
    addr: SocketAddr,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    alerts: Option<JoinHandle<()>>,
    indexer: JoinHandle<()>,
}

impl RunningAdmin {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in progress finish (bounded), stops the alerts and the
    /// text indexer.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        if let Some(alerts) = self.alerts {
            let _ = alerts.await;
        }
        let _ = self.indexer.await;
        info!("admin endpoint stopped");
    }
}
