//! What `hl7 bench` reports: counts by ACK code, failures by kind, throughput and latency
//! percentiles, as text or as one JSON document.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use hdrhistogram::Histogram;
use hl7_runtime::ack::AckCode;
use serde_json::{json, Value};

use crate::net::NetStatus;

/// Table 0008 order, for counts and output.
pub(crate) const CODES: [AckCode; 6] = [
    AckCode::AA,
    AckCode::AE,
    AckCode::AR,
    AckCode::CA,
    AckCode::CE,
    AckCode::CR,
];

/// The index of `code` in [`CODES`].
pub(crate) fn code_index(code: AckCode) -> usize {
    CODES.iter().position(|&c| c == code).unwrap_or(0)
}

/// The numbers of one run.
#[derive(Debug)]
pub(crate) struct Report {
    /// `HOST:PORT`.
    pub(crate) target: String,
    /// Connections.
    pub(crate) concurrency: usize,
    /// From the first send to the last answer.
    pub(crate) elapsed: Duration,
    /// Bytes of messages sent (without MLLP bytes).
    pub(crate) bytes_sent: u64,
    /// ACKs received, by code, in [`CODES`] order.
    pub(crate) acks: [u64; 6],
    /// Messages without a usable ACK, by kind of failure.
    pub(crate) failures: BTreeMap<&'static str, u64>,
    /// Latency of every ACKed message, in microseconds.
    pub(crate) latency: Histogram<u64>,
    /// Where positive ACKs were logged.
    pub(crate) sender_log: Option<String>,
}

impl Report {
    fn acked(&self) -> u64 {
        self.acks.iter().sum()
    }

    fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    fn positive(&self) -> u64 {
        CODES
            .iter()
            .zip(self.acks)
            .filter(|(c, _)| c.is_positive())
            .map(|(_, n)| n)
            .sum()
    }

    fn acks_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.acked() as f64 / secs
        } else {
            0.0
        }
    }

    /// The exit status: the gravest ACK code received, or a transport failure.
    pub(crate) fn status(&self) -> NetStatus {
        let mut status = NetStatus::Accepted;
        for (code, n) in CODES.iter().zip(self.acks) {
            if n > 0 {
                status = status.max(NetStatus::of(*code));
            }
        }
        if self.failed() > 0 {
            status = status.max(NetStatus::Transport);
        }
        status
    }

    /// Percentile `q` (0-100) of the latency in milliseconds; 0 without samples.
    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_percentile(q) as f64 / 1000.0
    }

    fn max_ms(&self) -> f64 {
        if self.latency.is_empty() {
            0.0
        } else {
            self.latency.max() as f64 / 1000.0
        }
    }

    fn counts_text(&self) -> String {
        let parts: Vec<String> = CODES
            .iter()
            .zip(self.acks)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        parts.join(", ")
    }

    /// The text report.
    pub(crate) fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let sent = self.acked() + self.failed();
        writeln!(
            out,
            "target      {} ({} connection{}, {:.1} s)",
            self.target,
            self.concurrency,
            if self.concurrency == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            out,
            "sent        {sent} messages, {:.1} MiB",
            self.bytes_sent as f64 / (1024.0 * 1024.0)
        )?;
        let counts = self.counts_text();
        if counts.is_empty() {
            writeln!(out, "acked       0")?;
        } else {
            writeln!(out, "acked       {} ({counts})", self.acked())?;
        }
        if self.failures.is_empty() {
            writeln!(out, "failed      0")?;
        } else {
            let kinds: Vec<String> = self
                .failures
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            writeln!(out, "failed      {} ({})", self.failed(), kinds.join(", "))?;
        }
        writeln!(out, "throughput  {:.1} acks/s", self.acks_per_second())?;
        if self.latency.is_empty() {
            writeln!(out, "latency     - (no ACK)")?;
        } else {
            writeln!(
                out,
                "latency     p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                self.percentile_ms(50.0),
                self.percentile_ms(90.0),
                self.percentile_ms(99.0),
                self.max_ms()
            )?;
        }
        if let Some(log) = &self.sender_log {
            writeln!(out, "sender log  {log} ({} lines)", self.positive())?;
        }
        Ok(())
    }

    /// The JSON report.
    pub(crate) fn to_json(&self) -> Value {
        let acks: serde_json::Map<String, Value> = CODES
            .iter()
            .zip(self.acks)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.as_str().to_owned(), json!(n)))
            .collect();
        let mean = if self.latency.is_empty() {
            0.0
        } else {
            self.latency.mean() / 1000.0
        };
        json!({
            "target": self.target,
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed.as_secs_f64()),
            "sent": self.acked() + self.failed(),
            "bytes_sent": self.bytes_sent,
            "acked": self.acked(),
            "acks": acks,
            "positive": self.positive(),
            "failed": self.failed(),
            "failures": self.failures,
            "acks_per_s": round(self.acks_per_second()),
            "latency_ms": {
                "p50": round(self.percentile_ms(50.0)),
                "p90": round(self.percentile_ms(90.0)),
                "p99": round(self.percentile_ms(99.0)),
                "max": round(self.max_ms()),
                "mean": round(mean),
            },
            "sender_log": self.sender_log,
        })
    }
}

/// Three decimals are plenty, and keep the JSON readable.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for us in [1000, 2000, 3000, 4000] {
            latency.record(us).unwrap();
        }
        Report {
            target: "127.0.0.1:2575".into(),
            concurrency: 2,
            elapsed: Duration::from_secs(2),
            bytes_sent: 3 * 1024 * 1024,
            acks: [0, 1, 0, 3, 0, 0],
            failures: BTreeMap::from([("response timeout", 1)]),
            latency,
            sender_log: Some("sent.log".into()),
        }
    }

    #[test]
    fn text() {
        let mut out = Vec::new();
        report().write_text(&mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap(), @r"
        target      127.0.0.1:2575 (2 connections, 2.0 s)
        sent        5 messages, 3.0 MiB
        acked       4 (1 AE, 3 CA)
        failed      1 (1 response timeout)
        throughput  2.0 acks/s
        latency     p50 2.00 ms, p90 4.00 ms, p99 4.00 ms, max 4.00 ms
        sender log  sent.log (3 lines)
        ");
        assert_eq!(report().status(), NetStatus::Transport);
    }

    #[test]
    fn json() {
        let value = report().to_json();
        assert_eq!(value["acks"], json!({"AE": 1, "CA": 3}));
        assert_eq!(value["failures"], json!({"response timeout": 1}));
        assert_eq!(value["acks_per_s"], json!(2.0));
        assert_eq!(value["latency_ms"]["p50"], json!(2.0));
        assert_eq!(value["positive"], json!(3));
    }
}
