//! The JSON shapes of the API (documented in the [module documentation](super)).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::alerts::{FiringAlert, Rule};
use super::metrics::{ack_code_name, ACK_CODES};
use super::time;
use crate::ack::Timestamp;
use crate::engine::{ChannelStats, DestinationStats, LATENCY_BUCKETS_MS};
use crate::store::{
    AttemptInfo, AuditRecord, ItemDetail, ItemInfo, MessageDetail, MessageSummary, QueueItem,
    QueueStats,
};

/// Bytes as text (HL7 is text; anything not UTF-8 is shown with replacement characters).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn when(ms: u64) -> Option<String> {
    (ms != 0).then(|| time::format(Timestamp::from_unix_millis(ms)))
}

#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub(crate) now: String,
    pub(crate) uptime_seconds: f64,
    pub(crate) store_ok: bool,
    pub(crate) channels: Vec<ChannelStatus>,
    pub(crate) destinations: Vec<DestinationStatus>,
    pub(crate) alerts: Vec<AlertJson>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChannelStatus {
    name: String,
    received: u64,
    acks: BTreeMap<&'static str, u64>,
    duplicates: u64,
    control_id_reuse: u64,
    errors: u64,
    store_failures: u64,
    last_received: Option<String>,
}

impl ChannelStatus {
    pub(crate) fn of(name: &str, s: &ChannelStats) -> ChannelStatus {
        ChannelStatus {
            name: name.to_owned(),
            received: s.received.load(Ordering::Relaxed),
            acks: ACK_CODES
                .iter()
                .map(|&c| (ack_code_name(c), s.acks(c)))
                .collect(),
            duplicates: s.duplicates.load(Ordering::Relaxed),
            control_id_reuse: s.control_id_reuse.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            store_failures: s.store_failures.load(Ordering::Relaxed),
            last_received: when(s.last_received_ms.load(Ordering::Relaxed)),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct DestinationStatus {
    name: String,
    /// `up`, `down` (the last attempt failed) or `paused`.
    state: &'static str,
    paused: bool,
    down_since: Option<String>,
    delivered: u64,
    failed: u64,
    retried: u64,
    dead_lettered: u64,
    queue_depth: Option<u64>,
    oldest_queued_age_seconds: Option<f64>,
    dead_letters: Option<u64>,
    last_delivered: Option<String>,
    latency: Latency,
}

#[derive(Debug, Serialize)]
struct Latency {
    count: u64,
    sum_seconds: f64,
    /// Cumulative, as in Prometheus: deliveries that took at most `le_seconds`.
    buckets: Vec<Bucket>,
}

#[derive(Debug, Serialize)]
struct Bucket {
    le_seconds: Option<f64>,
    count: u64,
}

impl DestinationStatus {
    /// `queue` is `None` when the store could not be read; `Some(None)` when nothing is
    /// queued.
    pub(crate) fn of(
        name: &str,
        s: &DestinationStats,
        queue: Option<Option<&QueueStats>>,
        now: Timestamp,
    ) -> DestinationStatus {
        let paused = s.paused.load(Ordering::Relaxed);
        let down_since = s.down_since_ms.load(Ordering::Relaxed);
        let state = match (paused, down_since) {
            (true, _) => "paused",
            (false, 0) => "up",
            (false, _) => "down",
        };
        let (counts, sum_us) = s.latency();
        let mut cumulative = 0;
        let buckets = counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cumulative += c;
                Bucket {
                    le_seconds: LATENCY_BUCKETS_MS.get(i).map(|ms| *ms as f64 / 1000.0),
                    count: cumulative,
                }
            })
            .collect();
        DestinationStatus {
            name: name.to_owned(),
            state,
            paused,
            down_since: when(down_since),
            delivered: s.delivered.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            retried: s.retried.load(Ordering::Relaxed),
            dead_lettered: s.dead_lettered.load(Ordering::Relaxed),
            queue_depth: queue.map(|q| q.map_or(0, |q| q.depth)),
            oldest_queued_age_seconds: queue.map(|q| {
                q.and_then(|q| q.oldest_queued_at).map_or(0.0, |t| {
                    now.unix_millis().saturating_sub(t.unix_millis()) as f64 / 1000.0
                })
            }),
            dead_letters: queue.map(|q| q.map_or(0, |q| q.errors)),
            last_delivered: when(s.last_delivered_ms.load(Ordering::Relaxed)),
            latency: Latency {
                count: cumulative,
                sum_seconds: sum_us as f64 / 1_000_000.0,
                buckets,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct AlertJson {
    rule: String,
    subject: String,
    value: f64,
    threshold: f64,
    since: String,
}

impl From<&FiringAlert> for AlertJson {
    fn from(a: &FiringAlert) -> AlertJson {
        AlertJson {
            rule: a.rule.clone(),
            subject: a.subject.clone(),
            value: a.value,
            threshold: a.threshold,
            since: time::format(a.since),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct RuleJson {
    rule: &'static str,
    subject: Option<String>,
    threshold: f64,
}

impl From<&Rule> for RuleJson {
    fn from(r: &Rule) -> RuleJson {
        RuleJson {
            rule: r.name(),
            subject: r.subject().map(str::to_owned),
            threshold: r.threshold(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ItemBrief {
    id: u64,
    destination: String,
    state: &'static str,
    attempts: u32,
    last_error: Option<String>,
    reprocess_of: Option<u64>,
}

impl From<&ItemInfo> for ItemBrief {
    fn from(i: &ItemInfo) -> ItemBrief {
        ItemBrief {
            id: i.id.0,
            destination: i.destination.clone(),
            state: i.state.as_str(),
            attempts: i.attempts,
            last_error: i.last_error.clone(),
            reprocess_of: i.reprocess_of.map(|r| r.0),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    id: u64,
    received_at: String,
    channel: String,
    #[serde(rename = "type")]
    msg_type: String,
    control_id: String,
    sending_application: String,
    sending_facility: String,
    patient_id: Option<String>,
    state: &'static str,
    error: Option<String>,
    edited_from: Option<u64>,
    items: Vec<ItemBrief>,
}

impl From<&MessageSummary> for Summary {
    fn from(m: &MessageSummary) -> Summary {
        Summary {
            id: m.id.0,
            received_at: time::format(m.received_at),
            channel: m.channel.clone(),
            msg_type: m.msg_type.clone(),
            control_id: m.control_id.clone(),
            sending_application: m.sending_application.clone(),
            sending_facility: m.sending_facility.clone(),
            patient_id: m.patient_id.clone(),
            state: m.state.as_str(),
            error: m.error.clone(),
            edited_from: m.edited_from.map(|e| e.0),
            items: m.items.iter().map(ItemBrief::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchPage {
    pub(crate) messages: Vec<Summary>,
    pub(crate) next_before: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Detail {
    id: u64,
    received_at: String,
    channel: String,
    #[serde(rename = "type")]
    msg_type: String,
    control_id: String,
    sending_application: String,
    sending_facility: String,
    patient_id: Option<String>,
    state: &'static str,
    error: Option<String>,
    edited_from: Option<u64>,
    edits: Vec<u64>,
    raw: String,
    ack: Option<String>,
    items: Vec<ItemJson>,
    audit: Vec<AuditJson>,
}

impl Detail {
    pub(crate) fn of(d: &MessageDetail, audit: &[AuditRecord]) -> Detail {
        let m = &d.message;
        let key = &m.inbound.fingerprint.key;
        Detail {
            id: m.id.0,
            received_at: time::format(m.inbound.received_at),
            channel: m.inbound.channel.clone(),
            msg_type: m.inbound.msg_type.clone(),
            control_id: key.control_id.clone(),
            sending_application: key.sending_application.clone(),
            sending_facility: key.sending_facility.clone(),
            patient_id: m.inbound.patient_id.clone(),
            state: m.state.as_str(),
            error: m.error.clone(),
            edited_from: d.edited_from.map(|e| e.0),
            edits: d.edits.iter().map(|e| e.0).collect(),
            raw: text(&m.inbound.raw),
            ack: m.ack.as_deref().map(text),
            items: d.items.iter().map(ItemJson::from).collect(),
            audit: audit.iter().map(AuditJson::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ItemJson {
    id: u64,
    destination: String,
    state: &'static str,
    attempts: u32,
    last_error: Option<String>,
    reprocess_of: Option<u64>,
    created_at: String,
    ready_at: String,
    finished_at: Option<String>,
    payload: String,
    attempt_log: Vec<AttemptJson>,
}

impl From<&ItemDetail> for ItemJson {
    fn from(i: &ItemDetail) -> ItemJson {
        ItemJson {
            id: i.info.id.0,
            destination: i.info.destination.clone(),
            state: i.info.state.as_str(),
            attempts: i.info.attempts,
            last_error: i.info.last_error.clone(),
            reprocess_of: i.info.reprocess_of.map(|r| r.0),
            created_at: time::format(i.created_at),
            ready_at: time::format(i.ready_at),
            finished_at: i.finished_at.map(time::format),
            payload: text(&i.payload),
            attempt_log: i.attempts.iter().map(AttemptJson::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct AttemptJson {
    attempt: u32,
    worker: String,
    started_at: String,
    sent_at: Option<String>,
    finished_at: Option<String>,
    outcome: Option<String>,
    error: Option<String>,
    response: Option<String>,
}

impl From<&AttemptInfo> for AttemptJson {
    fn from(a: &AttemptInfo) -> AttemptJson {
        AttemptJson {
            attempt: a.attempt,
            worker: a.owner.clone(),
            started_at: time::format(a.started_at),
            sent_at: a.sent_at.map(time::format),
            finished_at: a.finished_at.map(time::format),
            outcome: a.outcome.clone(),
            error: a.error.clone(),
            response: a.response.as_deref().map(text),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct AuditJson {
    id: u64,
    at: String,
    user: String,
    action: String,
    messages: Vec<u64>,
    message_count: u64,
    details: serde_json::Value,
}

impl From<&AuditRecord> for AuditJson {
    fn from(r: &AuditRecord) -> AuditJson {
        AuditJson {
            id: r.id,
            at: time::format(r.at),
            user: r.user.clone(),
            action: r.action.clone(),
            messages: r.messages.iter().map(|m| m.0).collect(),
            message_count: r.message_count,
            details: serde_json::from_str(&r.details)
                .unwrap_or_else(|_| serde_json::Value::String(r.details.clone())),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct QueueItemJson {
    id: u64,
    message_id: u64,
    state: &'static str,
    attempts: u32,
    last_error: Option<String>,
    created_at: String,
    ready_at: String,
    reprocess_of: Option<u64>,
}

impl From<&QueueItem> for QueueItemJson {
    fn from(q: &QueueItem) -> QueueItemJson {
        QueueItemJson {
            id: q.id.0,
            message_id: q.message_id.0,
            state: q.state.as_str(),
            attempts: q.attempts,
            last_error: q.last_error.clone(),
            created_at: time::format(q.created_at),
            ready_at: time::format(q.ready_at),
            reprocess_of: q.reprocess_of.map(|r| r.0),
        }
    }
}
