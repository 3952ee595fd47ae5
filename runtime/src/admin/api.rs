//! The routes: `/metrics`, status, destinations, alerts and the audit log. The message
//! browser's routes are in [`super::messages`].

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tracing::warn;

use super::alerts::Board;
use super::auth::User;
use super::json::{
    AlertJson, AuditJson, ChannelStatus, DestinationStatus, QueueItemJson, RuleJson, Status,
};
use super::process::ProcessStats;
use super::{messages, metrics};
use crate::engine::EngineHandle;
use crate::store::{self, AuditEntry, AuditQuery, ItemId, MessageId, QueueStats, QueueView};

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) engine: EngineHandle,
    pub(crate) board: Option<Arc<Board>>,
    /// When monitoring started (engine clock, Unix ms).
    pub(crate) started: u64,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// Every route of the API, without authentication (the caller adds it in front of all).
pub(crate) fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/api/status", get(status))
        .route("/api/alerts", get(alerts))
        .route("/api/destinations/{name}/pause", post(pause))
        .route("/api/destinations/{name}/resume", post(resume))
        .route("/api/destinations/{name}/queue", get(queue))
        .route("/api/messages", get(messages::search))
        .route("/api/messages/{id}", get(messages::detail))
        .route(
            "/api/messages/{id}/reprocess",
            post(messages::reprocess_one),
        )
        .route("/api/messages/{id}/discard", post(messages::discard))
        .route("/api/reprocess", post(messages::reprocess_bulk))
        .route("/api/audit", get(audit))
        .with_state(state)
}

/// An error answer: `{"error": "..."}` with its status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        warn!(error = %message, "admin request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> ApiError {
        match e {
            store::Error::NoSuchMessage(id) => ApiError::not_found(format!("no message {}", id.0)),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::bad_request(e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Runs store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("admin task failed: {e}")))?
}

/// An id in a path.
pub(crate) fn path_id(text: &str) -> ApiResult<u64> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not an id")))
}

/// A query value, `None` when empty.
pub(crate) fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Appends to the audit log.
pub(crate) fn record(
    store: &dyn store::Store,
    engine: &EngineHandle,
    user: &User,
    action: &str,
    messages: &[MessageId],
    details: serde_json::Value,
) -> ApiResult<()> {
    store.record_audit(
        &AuditEntry {
            user: &user.0,
            action,
            messages,
            details: &details.to_string(),
        },
        engine.now(),
    )?;
    Ok(())
}

async fn queue_stats(engine: &EngineHandle) -> Option<Vec<QueueStats>> {
    let store = Arc::clone(engine.store());
    match tokio::task::spawn_blocking(move || store.queue_stats()).await {
        Ok(Ok(q)) => Some(q),
        Ok(Err(e)) => {
            warn!(error = %e, "cannot read the queues");
            None
        }
        Err(e) => {
            warn!(error = %e, "queue task failed");
            None
        }
    }
}

async fn metrics_text(State(s): Shared) -> Response {
    let queues = queue_stats(&s.engine).await;
    let process = tokio::task::spawn_blocking(ProcessStats::read)
        .await
        .unwrap_or_default();
    let firing = s.board.as_ref().map(|b| b.firing());
    let text = metrics::render(
        &s.engine,
        queues.as_deref(),
        firing.as_deref(),
        &process,
        s.engine.now(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn status(State(s): Shared) -> Json<Status> {
    let queues = queue_stats(&s.engine).await;
    let now = s.engine.now();
    Json(Status {
        now: super::time::format(now),
        uptime_seconds: now.unix_millis().saturating_sub(s.started) as f64 / 1000.0,
        store_ok: queues.is_some(),
        channels: s
            .engine
            .channels()
            .map(|(name, stats)| ChannelStatus::of(name, stats))
            .collect(),
        destinations: s
            .engine
            .destinations()
            .map(|(name, stats)| {
                let queue = queues
                    .as_ref()
                    .map(|q| q.iter().find(|q| q.destination == name));
                DestinationStatus::of(name, stats, queue, now)
            })
            .collect(),
        alerts: s
            .board
            .as_ref()
            .map(|b| b.firing().iter().map(AlertJson::from).collect())
            .unwrap_or_default(),
    })
}

async fn alerts(State(s): Shared) -> Json<serde_json::Value> {
    let (rules, firing) = match &s.board {
        Some(b) => (
            b.rules().iter().map(RuleJson::from).collect::<Vec<_>>(),
            b.firing().iter().map(AlertJson::from).collect::<Vec<_>>(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Json(serde_json::json!({ "rules": rules, "firing": firing }))
}

async fn pause(
    State(s): Shared,
    Extension(user): Extension<User>,
    Path(name): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    set_paused(s, user, name, true).await
}

async fn resume(
    State(s): Shared,
    Extension(user): Extension<User>,
    Path(name): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    set_paused(s, user, name, false).await
}

async fn set_paused(
    s: Arc<AppState>,
    user: User,
    name: String,
    paused: bool,
) -> ApiResult<Json<serde_json::Value>> {
    if !s.engine.set_paused(&name, paused) {
        return Err(ApiError::not_found(format!("no destination `{name}`")));
    }
    let action = if paused { "pause" } else { "resume" };
    let details = serde_json::json!({ "destination": name });
    let engine = s.engine.clone();
    blocking(move || record(&**engine.store(), &engine, &user, action, &[], details)).await?;
    Ok(Json(
        serde_json::json!({ "destination": name, "paused": paused }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueParams {
    view: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

async fn queue(
    State(s): Shared,
    Path(name): Path<String>,
    params: Result<Query<QueueParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(p) = params?;
    if s.engine.destination_stats(&name).is_none() {
        return Err(ApiError::not_found(format!("no destination `{name}`")));
    }
    let view = match given(p.view).as_deref() {
        None | Some("queued") => QueueView::Queued,
        Some("errors") => QueueView::Errors,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "view `{other}`: use `queued` or `errors`"
            )))
        }
    };
    let limit = p.limit.unwrap_or(50).clamp(1, store::MAX_PAGE);
    let store = Arc::clone(s.engine.store());
    let after = p.after.map(ItemId);
    let dest = name.clone();
    let items = blocking(move || Ok(store.queue_items(&dest, view, after, limit)?)).await?;
    let next_after = (items.len() == limit).then(|| items.last().map(|i| i.id.0));
    Ok(Json(serde_json::json!({
        "destination": name,
        "view": if view == QueueView::Queued { "queued" } else { "errors" },
        "items": items.iter().map(QueueItemJson::from).collect::<Vec<_>>(),
        "next_after": next_after.flatten(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    message_id: Option<u64>,
    action: Option<String>,
    user: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

async fn audit(
    State(s): Shared,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(p) = params?;
    let mut q = AuditQuery::new(p.limit.unwrap_or(50).clamp(1, store::MAX_PAGE));
    q.message = p.message_id.map(MessageId);
    q.action = given(p.action);
    q.user = given(p.user);
    q.before = p.before;
    let limit = q.limit;
    let store = Arc::clone(s.engine.store());
    let entries = blocking(move || Ok(store.audit(&q)?)).await?;
    let next_before = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(serde_json::json!({
        "entries": entries.iter().map(AuditJson::from).collect::<Vec<_>>(),
        "next_before": next_before,
    })))
}
