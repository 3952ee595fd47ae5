//! `/metrics`: the Prometheus text exposition format (version 0.0.4), written by hand.
//!
//! Counters come from the engine's atomics (reading them never blocks the message path);
//! queue depth, head age and dead letters from one store query per scrape; process figures
//! from `/proc`.

use std::fmt::{Display, Write as _};
use std::sync::atomic::Ordering;

use super::alerts::FiringAlert;
use super::process::ProcessStats;
use crate::ack::{AckCode, Timestamp};
use crate::engine::{EngineHandle, LATENCY_BUCKETS_MS};
use crate::store::QueueStats;

/// The ACK codes, in the order of the `code` label values.
pub(crate) const ACK_CODES: [AckCode; 6] = [
    AckCode::AA,
    AckCode::AE,
    AckCode::AR,
    AckCode::CA,
    AckCode::CE,
    AckCode::CR,
];

/// The text of an ACK code.
pub(crate) fn ack_code_name(code: AckCode) -> &'static str {
    match code {
        AckCode::AA => "AA",
        AckCode::AE => "AE",
        AckCode::AR => "AR",
        AckCode::CA => "CA",
        AckCode::CE => "CE",
        AckCode::CR => "CR",
    }
}

/// Writes metric families.
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_label(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Unix seconds of a millisecond time, 0 for "never".
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The whole exposition. `queues` is `None` when the store could not be read
/// (`hl7_store_up 0`, queue figures left out).
pub(crate) fn render(
    engine: &EngineHandle,
    queues: Option<&[QueueStats]>,
    alerts: Option<&[FiringAlert]>,
    process: &ProcessStats,
    now: Timestamp,
) -> String {
    let mut e = Exposition {
        out: String::with_capacity(8192),
    };
    channel_metrics(&mut e, engine);
    destination_metrics(&mut e, engine, queues, now);

    e.family(
        "hl7_store_up",
        "gauge",
        "1 when the store answered this scrape's queue query.",
    );
    e.sample("hl7_store_up", &[], u8::from(queues.is_some()));
    if let Some(alerts) = alerts {
        e.family(
            "hl7_alert_firing",
            "gauge",
            "Alerts firing now, by rule and subject (1 while firing).",
        );
        for a in alerts {
            e.sample(
                "hl7_alert_firing",
                &[("rule", &a.rule), ("subject", &a.subject)],
                1,
            );
        }
    }
    process_metrics(&mut e, process, now);
    e.out
}

fn channel_metrics(e: &mut Exposition, engine: &EngineHandle) {
    type Counter = fn(&crate::engine::ChannelStats) -> u64;
    let counters: [(&str, &str, Counter); 5] = [
        (
            "hl7_channel_received_total",
            "Messages received on the channel (duplicates and unreadable ones included).",
            |s| s.received.load(Ordering::Relaxed),
        ),
        (
            "hl7_channel_duplicates_total",
            "Verbatim resends answered from the store.",
            |s| s.duplicates.load(Ordering::Relaxed),
        ),
        (
            "hl7_channel_control_id_reuse_total",
            "Messages stored with a control ID used before for other content.",
            |s| s.control_id_reuse.load(Ordering::Relaxed),
        ),
        (
            "hl7_channel_errors_total",
            "Messages stored in the error state (unreadable, invalid, unmapped).",
            |s| s.errors.load(Ordering::Relaxed),
        ),
        (
            "hl7_channel_store_failures_total",
            "Messages that could not be stored (answered with an error or NAK).",
            |s| s.store_failures.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, read) in counters {
        e.family(name, "counter", help);
        for (channel, stats) in engine.channels() {
            e.sample(name, &[("channel", channel)], read(stats));
        }
    }
    e.family(
        "hl7_channel_acks_total",
        "counter",
        "ACKs sent, by code (AA, AE, AR, CA, CE, CR).",
    );
    for (channel, stats) in engine.channels() {
        for code in ACK_CODES {
            e.sample(
                "hl7_channel_acks_total",
                &[("channel", channel), ("code", ack_code_name(code))],
                stats.acks(code),
            );
        }
    }
    e.family(
        "hl7_channel_last_received_timestamp_seconds",
        "gauge",
        "When the channel last received a message (Unix seconds; 0 = never).",
    );
    for (channel, stats) in engine.channels() {
        e.sample(
            "hl7_channel_last_received_timestamp_seconds",
            &[("channel", channel)],
            seconds(stats.last_received_ms.load(Ordering::Relaxed)),
        );
    }
}

fn destination_metrics(
    e: &mut Exposition,
    engine: &EngineHandle,
    queues: Option<&[QueueStats]>,
    now: Timestamp,
) {
    type Counter = fn(&crate::engine::DestinationStats) -> u64;
    let counters: [(&str, &str, Counter); 4] = [
        (
            "hl7_destination_delivered_total",
            "Items delivered and acknowledged.",
            |s| s.delivered.load(Ordering::Relaxed),
        ),
        (
            "hl7_destination_failed_total",
            "Delivery attempts that failed (each retry counts).",
            |s| s.failed.load(Ordering::Relaxed),
        ),
        (
            "hl7_destination_retried_total",
            "Attempts scheduled again after a failure.",
            |s| s.retried.load(Ordering::Relaxed),
        ),
        (
            "hl7_destination_dead_lettered_total",
            "Items put in the error queue.",
            |s| s.dead_lettered.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, read) in counters {
        e.family(name, "counter", help);
        for (destination, stats) in engine.destinations() {
            e.sample(name, &[("destination", destination)], read(stats));
        }
    }

    if let Some(queues) = queues {
        let find = |name: &str| queues.iter().find(|q| q.destination == name);
        e.family(
            "hl7_destination_queue_depth",
            "gauge",
            "Items waiting for delivery (ready, being delivered, or waiting for a retry).",
        );
        for (destination, _) in engine.destinations() {
            let depth = find(destination).map_or(0, |q| q.depth);
            e.sample(
                "hl7_destination_queue_depth",
                &[("destination", destination)],
                depth,
            );
        }
        e.family(
            "hl7_destination_oldest_queued_age_seconds",
            "gauge",
            "How long the head of the queue has waited (0 when the queue is empty).",
        );
        for (destination, _) in engine.destinations() {
            let age = find(destination)
                .and_then(|q| q.oldest_queued_at)
                .map_or(0.0, |t| {
                    seconds(now.unix_millis().saturating_sub(t.unix_millis()))
                });
            e.sample(
                "hl7_destination_oldest_queued_age_seconds",
                &[("destination", destination)],
                age,
            );
        }
        e.family(
            "hl7_destination_dead_letters",
            "gauge",
            "Dead-lettered items not reprocessed yet.",
        );
        for (destination, _) in engine.destinations() {
            let errors = find(destination).map_or(0, |q| q.errors);
            e.sample(
                "hl7_destination_dead_letters",
                &[("destination", destination)],
                errors,
            );
        }
    }

    e.family(
        "hl7_destination_paused",
        "gauge",
        "1 while an operator has paused the destination.",
    );
    for (destination, stats) in engine.destinations() {
        e.sample(
            "hl7_destination_paused",
            &[("destination", destination)],
            u8::from(stats.paused.load(Ordering::Relaxed)),
        );
    }
    e.family(
        "hl7_destination_down",
        "gauge",
        "1 while the last delivery attempt failed.",
    );
    for (destination, stats) in engine.destinations() {
        e.sample(
            "hl7_destination_down",
            &[("destination", destination)],
            u8::from(stats.down_since_ms.load(Ordering::Relaxed) != 0),
        );
    }
    e.family(
        "hl7_destination_down_seconds",
        "gauge",
        "How long the current run of failures has lasted (0 when up).",
    );
    for (destination, stats) in engine.destinations() {
        let since = stats.down_since_ms.load(Ordering::Relaxed);
        let down = if since == 0 {
            0.0
        } else {
            seconds(now.unix_millis().saturating_sub(since))
        };
        e.sample(
            "hl7_destination_down_seconds",
            &[("destination", destination)],
            down,
        );
    }
    e.family(
        "hl7_destination_last_delivered_timestamp_seconds",
        "gauge",
        "When the last delivery succeeded (Unix seconds; 0 = never).",
    );
    for (destination, stats) in engine.destinations() {
        e.sample(
            "hl7_destination_last_delivered_timestamp_seconds",
            &[("destination", destination)],
            seconds(stats.last_delivered_ms.load(Ordering::Relaxed)),
        );
    }

    let name = "hl7_destination_delivery_latency_seconds";
    e.family(
        name,
        "histogram",
        "Time from sending an item to its accepted acknowledgment.",
    );
    let bucket = format!("{name}_bucket");
    for (destination, stats) in engine.destinations() {
        let (counts, sum_us) = stats.latency();
        let mut cumulative = 0u64;
        for (i, count) in counts.iter().enumerate() {
            cumulative += count;
            let le = LATENCY_BUCKETS_MS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |ms| (*ms as f64 / 1000.0).to_string());
            e.sample(
                &bucket,
                &[("destination", destination), ("le", &le)],
                cumulative,
            );
        }
        e.sample(
            &format!("{name}_sum"),
            &[("destination", destination)],
            sum_us as f64 / 1_000_000.0,
        );
        e.sample(
            &format!("{name}_count"),
            &[("destination", destination)],
            cumulative,
        );
    }
}

fn process_metrics(e: &mut Exposition, p: &ProcessStats, now: Timestamp) {
    if let Some(bytes) = p.resident_bytes {
        e.family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        e.sample("process_resident_memory_bytes", &[], bytes);
    }
    if let Some(fds) = p.open_fds {
        e.family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        e.sample("process_open_fds", &[], fds);
    }
    if let Some(cpu) = p.cpu_seconds {
        e.family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        e.sample("process_cpu_seconds_total", &[], cpu);
    }
    if let Some(start) = p.start_time_seconds {
        e.family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
        );
        e.sample("process_start_time_seconds", &[], start);
        e.family(
            "process_uptime_seconds",
            "gauge",
            "How long the process has been running, in seconds.",
        );
        let uptime = (seconds(now.unix_millis()) - start).max(0.0);
        e.sample("process_uptime_seconds", &[], uptime);
    }
}

#[cfg(test)]
mod tests {
    use super::escape_label;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label(&mut out, "a\\b\"c\nd");
        assert_eq!(out, "a\\\\b\\\"c\\nd");
    }
}
