//! The message browser: search, one message's every stage, reprocess (as stored, or edited),
//! bulk reprocess, discard. Every view of one message and every change is audited.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{blocking, given, path_id, record, ApiError, ApiResult, AppState, Shared};
use super::auth::User;
use super::json::{Detail, SearchPage, Summary};
use super::time;
use crate::ack::Timestamp;
use crate::store::{
    self, Accept, AuditQuery, Delivery, Disposition, ItemId, MessageId, MessageState, SearchQuery,
};

/// Ids listed at most in a bulk answer (the count is always complete).
const LISTED: usize = 1000;

/// Ids a bulk reprocess by id takes at most.
const MAX_IDS: usize = 10_000;

/// The end of time, for open ranges.
const FOREVER: Timestamp = Timestamp::from_unix_millis(i64::MAX as u64);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    control_id: Option<String>,
    patient_id: Option<String>,
    #[serde(rename = "type")]
    message_type: Option<String>,
    event: Option<String>,
    sender: Option<String>,
    facility: Option<String>,
    channel: Option<String>,
    state: Option<String>,
    from: Option<String>,
    to: Option<String>,
    text: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

fn time_param(name: &str, value: Option<String>) -> ApiResult<Option<Timestamp>> {
    given(value)
        .map(|v| time::parse(&v).map_err(|e| ApiError::bad_request(format!("{name}: {e}"))))
        .transpose()
}

pub(crate) async fn search(
    State(s): Shared,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<SearchPage>> {
    let Query(p) = params?;
    let mut q = SearchQuery::new(p.limit.unwrap_or(50).clamp(1, store::MAX_PAGE));
    q.control_id = given(p.control_id);
    q.patient_id = given(p.patient_id);
    q.message_code = given(p.message_type);
    q.event = given(p.event);
    q.sending_application = given(p.sender);
    q.sending_facility = given(p.facility);
    q.channel = given(p.channel);
    q.state = given(p.state)
        .map(|v| {
            MessageState::from_name(&v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "state `{v}`: use received, routed, error or discarded"
                ))
            })
        })
        .transpose()?;
    q.from = time_param("from", p.from)?;
    q.to = time_param("to", p.to)?;
    q.text = given(p.text);
    q.before = p.before.map(MessageId);
    let limit = q.limit;
    let store = Arc::clone(s.engine.store());
    let found = blocking(move || Ok(store.search(&q)?)).await?;
    let next_before = (found.len() == limit)
        .then(|| found.last().map(|m| m.id.0))
        .flatten();
    Ok(Json(SearchPage {
        messages: found.iter().map(Summary::from).collect(),
        next_before,
    }))
}

pub(crate) async fn detail(
    State(s): Shared,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
) -> ApiResult<Json<Detail>> {
    let id = MessageId(path_id(&id)?);
    let engine = s.engine.clone();
    let detail = blocking(move || {
        let store = engine.store();
        let Some(detail) = store.message_detail(id)? else {
            return Err(ApiError::not_found(format!("no message {}", id.0)));
        };
        // No record of the view, no view.
        record(&**store, &engine, &user, "view", &[id], json!({}))?;
        let mut q = AuditQuery::new(100);
        q.message = Some(id);
        let history: Vec<_> = store
            .audit(&q)?
            .into_iter()
            .filter(|r| r.action != "view")
            .collect();
        Ok(Detail::of(&detail, &history))
    })
    .await?;
    Ok(Json(detail))
}

/// A JSON body, or the default for an empty one.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReprocessOne {
    /// An edited message to ingest in place of the original.
    body: Option<String>,
    /// Why (kept in the audit log).
    reason: Option<String>,
}

pub(crate) async fn reprocess_one(
    State(s): Shared,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let id = MessageId(path_id(&id)?);
    let request: ReprocessOne = body(&bytes)?;
    match request.body {
        Some(edited) => edit(s, user, id, edited, request.reason).await,
        None => {
            let engine = s.engine.clone();
            let reason = request.reason;
            let items = blocking(move || {
                let store = engine.store();
                let items = store.reprocess(id, engine.now())?;
                let details = json!({ "items": ids(&items), "reason": reason });
                record(&**store, &engine, &user, "reprocess", &[id], details)?;
                Ok(items)
            })
            .await?;
            settle(&s).await;
            let engine = s.engine.clone();
            let state = blocking(move || Ok(engine.store().message(id)?)).await?;
            Ok(Json(json!({
                "message": id.0,
                "items": ids(&items),
                "state": state.map(|m| m.state.as_str()),
            })))
        }
    }
}

/// Routes what a reprocess put back to routing, and wakes the workers.
async fn settle(s: &AppState) {
    if let Err(e) = s.engine.route_unrouted().await {
        tracing::warn!(error = %e, "routing reprocessed messages failed");
    }
    s.engine.wake_all();
}

fn ids(items: &[ItemId]) -> Vec<u64> {
    items.iter().map(|i| i.0).collect()
}

async fn edit(
    s: Arc<AppState>,
    user: User,
    original: MessageId,
    text: String,
    reason: Option<String>,
) -> ApiResult<Json<Value>> {
    // Operators paste with line feeds; HL7 separates segments with carriage returns.
    let raw = text.replace("\r\n", "\r").replace('\n', "\r").into_bytes();
    let engine = s.engine.clone();
    let (edited, prepared) = blocking(move || {
        let store = engine.store();
        let Some(stored) = store.message(original)? else {
            return Err(ApiError::not_found(format!("no message {}", original.0)));
        };
        let prepared = engine
            .prepare(&stored.inbound.channel, &raw)
            .map_err(|e| ApiError::bad_request(format!("the edited body is not readable: {e}")))?;
        let payloads: Vec<(String, Vec<u8>)> = match &prepared.outcome {
            Ok(outputs) => outputs
                .iter()
                .map(|o| (o.destination.clone(), o.payload.clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let deliveries: Vec<Delivery<'_>> = payloads
            .iter()
            .map(|(destination, payload)| Delivery {
                destination,
                payload,
            })
            .collect();
        let disposition = match &prepared.outcome {
            Ok(_) => Disposition::Route(&deliveries),
            Err(reason) => Disposition::Error(reason),
        };
        let edited = store.reprocess_edited(
            original,
            &Accept {
                inbound: &prepared.inbound,
                disposition,
                ack: None,
                application_ack: None,
            },
            engine.now(),
        )?;
        let details = json!({
            "new_message": edited.id.0,
            "items": ids(&edited.items),
            "superseded": ids(&edited.superseded),
            "reason": reason,
        });
        record(
            &**store,
            &engine,
            &user,
            "edit",
            &[original, edited.id],
            details,
        )?;
        Ok((edited, prepared))
    })
    .await?;
    s.engine.wake_all();
    let error = prepared.outcome.as_ref().err();
    Ok(Json(json!({
        "message": original.0,
        "new_message": edited.id.0,
        "items": ids(&edited.items),
        "superseded": ids(&edited.superseded),
        "state": if error.is_some() { "error" } else { "routed" },
        "error": error,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selection {
    ids: Option<Vec<u64>>,
    destination: Option<String>,
    errored: Option<bool>,
    from: Option<String>,
    to: Option<String>,
    reason: Option<String>,
}

pub(crate) async fn reprocess_bulk(
    State(s): Shared,
    Extension(user): Extension<User>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let sel: Selection = body(&bytes)?;
    let from = time_param("from", sel.from.clone())?;
    let to = time_param("to", sel.to.clone())?;
    let errored = sel.errored.unwrap_or(false);
    if let Some(d) = &sel.destination {
        if s.engine.destination_stats(d).is_none() {
            return Err(ApiError::not_found(format!("no destination `{d}`")));
        }
    }
    let selection = json!({
        "ids": sel.ids.as_ref().map(Vec::len),
        "destination": sel.destination,
        "errored": errored,
        "from": from.map(time::format),
        "to": to.map(time::format),
        "reason": sel.reason,
    });
    let engine = s.engine.clone();
    let (items, rerouted) = blocking(move || {
        let store = engine.store();
        let now = engine.now();
        let (items, linked, rerouted) = match sel.ids {
            Some(ids) => {
                if errored || sel.destination.is_some() || from.is_some() || to.is_some() {
                    return Err(ApiError::bad_request(
                        "`ids` selects messages by id alone: leave out destination, errored, from and to",
                    ));
                }
                if ids.is_empty() || ids.len() > MAX_IDS {
                    return Err(ApiError::bad_request(format!(
                        "`ids` takes 1 to {MAX_IDS} message ids"
                    )));
                }
                let ids: Vec<MessageId> = ids.into_iter().map(MessageId).collect();
                let items = store.reprocess_many(&ids, now)?;
                (items, ids, Vec::new())
            }
            None if errored => {
                let done = store.reprocess_failed(
                    sel.destination.as_deref(),
                    from.unwrap_or(Timestamp::from_unix_millis(0)),
                    to.unwrap_or(FOREVER),
                    now,
                )?;
                let mut linked = done.item_messages.clone();
                linked.extend(&done.messages);
                linked.sort();
                linked.dedup();
                (done.items, linked, done.messages)
            }
            None if sel.destination.is_some() => {
                return Err(ApiError::bad_request(
                    "a destination selects its dead letters: add \"errored\": true",
                ))
            }
            None if from.is_some() || to.is_some() => {
                let items = store.reprocess_range(
                    from.unwrap_or(Timestamp::from_unix_millis(0)),
                    to.unwrap_or(FOREVER),
                    now,
                )?;
                (items, Vec::new(), Vec::new())
            }
            None => {
                return Err(ApiError::bad_request(
                    "select what to reprocess: {\"ids\": [..]}, {\"errored\": true} (with \
                     destination, from, to) or {\"from\": .., \"to\": ..}",
                ))
            }
        };
        let mut details = selection;
        details["items"] = json!(items.len());
        details["rerouted"] = json!(rerouted.len());
        record(&**store, &engine, &user, "reprocess", &linked, details)?;
        Ok((items, rerouted))
    })
    .await?;
    settle(&s).await;
    Ok(Json(json!({
        "count": items.len(),
        "items": ids(&items[..items.len().min(LISTED)]),
        "rerouted_messages": rerouted.iter().take(LISTED).map(|m| m.0).collect::<Vec<_>>(),
        "rerouted_count": rerouted.len(),
        "truncated": items.len() > LISTED || rerouted.len() > LISTED,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscardRequest {
    reason: Option<String>,
    destination: Option<String>,
}

pub(crate) async fn discard(
    State(s): Shared,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let id = MessageId(path_id(&id)?);
    let request: DiscardRequest = body(&bytes)?;
    let Some(reason) = given(request.reason) else {
        return Err(ApiError::bad_request(
            "a discard needs a reason: {\"reason\": \"...\"}",
        ));
    };
    let engine = s.engine.clone();
    let destination = given(request.destination);
    let done = blocking(move || {
        let store = engine.store();
        let done = store.discard(id, destination.as_deref(), engine.now())?;
        let details = json!({
            "reason": reason,
            "destination": destination,
            "items": ids(&done.items),
            "in_flight": ids(&done.in_flight),
        });
        record(&**store, &engine, &user, "discard", &[id], details)?;
        Ok(done)
    })
    .await?;
    Ok(Json(json!({
        "message": id.0,
        "discarded": ids(&done.items),
        "in_flight": ids(&done.in_flight),
        "state": done.state.as_str(),
    })))
}
