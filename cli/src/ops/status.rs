//! `hl7 status`: `GET /api/status` as two tables (channels, destinations) and the alerts
//! firing.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Deserialize;

use super::client::{read_as, Error};
use super::table::{Align, Table};
use super::time::{age, short};
use super::{connect, print_json, Target};

/// The answer of `GET /api/status`.
#[derive(Debug, Deserialize)]
pub(crate) struct Status {
    pub(crate) now: String,
    uptime_seconds: f64,
    store_ok: bool,
    channels: Vec<Channel>,
    pub(crate) destinations: Vec<Destination>,
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    name: String,
    received: u64,
    acks: BTreeMap<String, u64>,
    duplicates: u64,
    control_id_reuse: u64,
    errors: u64,
    store_failures: u64,
    last_received: Option<String>,
}

/// One destination of the status.
#[derive(Debug, Deserialize)]
pub(crate) struct Destination {
    pub(crate) name: String,
    state: String,
    down_since: Option<String>,
    delivered: u64,
    failed: u64,
    retried: u64,
    queue_depth: Option<u64>,
    oldest_queued_age_seconds: Option<f64>,
    pub(crate) dead_letters: Option<u64>,
    last_delivered: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Alert {
    rule: String,
    subject: String,
    value: f64,
    threshold: f64,
    since: String,
}

/// The ACK codes in table 0008's order.
const ACK_CODES: [&str; 6] = ["AA", "AE", "AR", "CA", "CE", "CR"];

/// Runs `hl7 status`.
pub(crate) async fn run(target: &Target, out: &mut dyn Write) -> Result<u8, Error> {
    let mut api = connect(target).await?;
    let value = api.get("/api/status").await?;
    if target.json {
        print_json(out, &value)?;
        return Ok(0);
    }
    let status: Status = read_as(value)?;
    write_status(&status, out)?;
    Ok(0)
}

fn write_status(s: &Status, out: &mut dyn Write) -> Result<(), Error> {
    let store = if s.store_ok {
        "store ok"
    } else {
        "STORE NOT READABLE (queue figures unknown)"
    };
    writeln!(
        out,
        "engine at {}, up {}, {store}",
        short(Some(&s.now)),
        age(s.uptime_seconds)
    )?;
    writeln!(out)?;

    let mut channels = Table::new(&[
        ("CHANNEL", Align::Left),
        ("RECEIVED", Align::Right),
        ("ACKS", Align::Left),
        ("DUPLICATES", Align::Right),
        ("ERRORS", Align::Right),
        ("LAST RECEIVED", Align::Left),
    ]);
    let mut notes = Vec::new();
    for c in &s.channels {
        let acks: Vec<String> = ACK_CODES
            .iter()
            .filter_map(|code| {
                c.acks
                    .get(*code)
                    .filter(|n| **n > 0)
                    .map(|n| format!("{code} {n}"))
            })
            .collect();
        channels.row(vec![
            c.name.clone(),
            c.received.to_string(),
            if acks.is_empty() {
                "-".into()
            } else {
                acks.join(" ")
            },
            c.duplicates.to_string(),
            c.errors.to_string(),
            short(c.last_received.as_deref()),
        ]);
        if c.store_failures > 0 {
            notes.push(format!(
                "channel {}: {} messages could not be stored (the sender got no AA for them)",
                c.name, c.store_failures
            ));
        }
        if c.control_id_reuse > 0 {
            notes.push(format!(
                "channel {}: {} messages reused a control ID with other content",
                c.name, c.control_id_reuse
            ));
        }
    }
    channels.write(out)?;
    writeln!(out)?;

    let mut destinations = Table::new(&[
        ("DESTINATION", Align::Left),
        ("STATE", Align::Left),
        ("DELIVERED", Align::Right),
        ("FAILED", Align::Right),
        ("RETRIED", Align::Right),
        ("QUEUED", Align::Right),
        ("OLDEST", Align::Right),
        ("DEAD LETTERS", Align::Right),
        ("LAST DELIVERED", Align::Left),
    ]);
    for d in &s.destinations {
        destinations.row(vec![
            d.name.clone(),
            d.state_text(&s.now),
            d.delivered.to_string(),
            d.failed.to_string(),
            d.retried.to_string(),
            count(d.queue_depth),
            match (d.queue_depth, d.oldest_queued_age_seconds) {
                (Some(depth), Some(oldest)) if depth > 0 => age(oldest),
                _ => "-".into(),
            },
            count(d.dead_letters),
            short(d.last_delivered.as_deref()),
        ]);
    }
    destinations.write(out)?;
    for note in notes {
        writeln!(out, "warning: {note}")?;
    }
    writeln!(out)?;

    if s.alerts.is_empty() {
        writeln!(out, "alerts: none firing")?;
        return Ok(());
    }
    writeln!(out, "alerts firing:")?;
    let mut alerts = Table::new(&[
        ("RULE", Align::Left),
        ("SUBJECT", Align::Left),
        ("VALUE", Align::Right),
        ("THRESHOLD", Align::Right),
        ("SINCE", Align::Left),
    ]);
    for a in &s.alerts {
        alerts.row(vec![
            a.rule.clone(),
            a.subject.clone(),
            number(a.value),
            number(a.threshold),
            short(Some(&a.since)),
        ]);
    }
    alerts.write(out)?;
    Ok(())
}

impl Destination {
    /// `up`, `paused`, or `down 5m12s` (since the first failure not followed by a delivery).
    fn state_text(&self, now: &str) -> String {
        match (&*self.state, &self.down_since) {
            ("down", Some(since)) => match (millis_of(now), millis_of(since)) {
                (Some(now), Some(since)) if now >= since => {
                    format!("down {}", age((now - since) as f64 / 1000.0))
                }
                _ => "down".into(),
            },
            (state, _) => state.to_owned(),
        }
    }

    /// One line about the destination, for `hl7 queue show`.
    pub(crate) fn summary(&self, now: &str) -> String {
        let mut line = format!("{}: {}", self.name, self.state_text(now));
        if let (true, Some(since)) = (self.state == "down", &self.down_since) {
            line.push_str(&format!(" (since {})", short(Some(since))));
        }
        line.push_str(&format!(", {} queued", count(self.queue_depth)));
        if let (Some(depth), Some(oldest)) = (self.queue_depth, self.oldest_queued_age_seconds) {
            if depth > 0 {
                line.push_str(&format!(" (oldest {})", age(oldest)));
            }
        }
        let dead = count(self.dead_letters);
        line.push_str(&format!(
            ", {dead} dead letter{}; delivered {}, failed {} (retried {}), last delivery {}",
            if dead == "1" { "" } else { "s" },
            self.delivered,
            self.failed,
            self.retried,
            short(self.last_delivered.as_deref())
        ));
        line
    }
}

/// A count the store may not have given (`?`).
fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "?".into(), |n| n.to_string())
}

/// `1520`, `0.5`.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Unix ms of an API time (`2024-11-27T02:00:00.000Z`), for differences.
fn millis_of(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() != 24 || b[23] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let secs = n(11..13)? * 3600 + n(14..16)? * 60 + n(17..19)?;
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from((days * 86_400 + secs) * 1000 + n(20..23)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times() {
        assert_eq!(
            millis_of("2024-11-27T02:00:00.250Z"),
            Some(1_732_672_800_250)
        );
        assert_eq!(millis_of("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(millis_of("2024-11-27T02:00:00Z"), None);
        assert_eq!(number(1520.0), "1520");
        assert_eq!(number(0.5), "0.5");
    }
}
