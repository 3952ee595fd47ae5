//! Times on the command line and in tables.
//!
//! `--from` and `--to` take what the API takes (RFC 3339 with a zone, or Unix milliseconds),
//! `now`, or a duration meaning that long ago (`90m`, `6h`, `2d`). A date and time without a
//! zone is refused: the CLI does not guess the engine's or the operator's time zone (`date`
//! writes one: `--from "$(date -d 02:00 -Iseconds)"`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hl7_runtime::ack::Timestamp;

use crate::net::parse_duration;

/// Reads a `--from`/`--to` value into what the API is sent.
pub(crate) fn parse_time(text: &str) -> Result<String, String> {
    parse_time_at(text, now_millis())
}

/// [`parse_time`] with `now` (Unix ms) given.
fn parse_time_at(text: &str, now: u64) -> Result<String, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now.to_string());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(text.to_owned());
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && !text.contains(['-', ':']) {
        let ago = match text.strip_suffix('d') {
            Some(days) => parse_duration(&format!("{days}h")).map(|h| h * 24),
            None => parse_duration(text),
        };
        let ago = ago.map_err(|e| format!("{e}; or give a time (2024-11-27T02:00:00Z)"))?;
        let ago = u64::try_from(ago.as_millis()).unwrap_or(u64::MAX);
        return Ok(now.saturating_sub(ago).to_string());
    }
    if !has_zone(text) {
        return Err(format!(
            "`{text}` has no time zone: add Z or an offset (2024-11-27T02:00:00+01:00), \
             or let date(1) write it: \"$(date -d 02:00 -Iseconds)\""
        ));
    }
    Ok(text.to_owned())
}

/// A zone after the time of day: `Z`, or `+hh:mm`/`-hh:mm` after the `T`.
fn has_zone(text: &str) -> bool {
    let Some(t) = text.find(['T', 't', ' ']) else {
        return false;
    };
    let time = &text[t..];
    time.ends_with(['Z', 'z']) || time.contains(['+', '-'])
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A `--from`/`--to` value as the operator reads it: Unix ms as RFC 3339 (UTC).
pub(crate) fn readable(value: &str) -> String {
    match value.parse::<u64>() {
        Ok(ms) => short(Some(&Timestamp::from_unix_millis(ms).rfc3339())),
        Err(_) => value.to_owned(),
    }
}

/// An API time in a table: to the second (`2024-11-27T02:00:00Z`); `-` for none.
pub(crate) fn short(time: Option<&str>) -> String {
    match time {
        None => "-".to_owned(),
        Some(t) => match (t.find('.'), t.ends_with('Z')) {
            (Some(dot), true) => format!("{}Z", &t[..dot]),
            _ => t.to_owned(),
        },
    }
}

/// `850ms`, `42s`, `5m12s`, `3h04m`, `2d05h`.
pub(crate) fn age(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_owned();
    }
    if seconds < 1.0 {
        return format!("{}ms", (seconds * 1000.0).round() as u64);
    }
    let d = Duration::from_secs_f64(seconds).as_secs();
    match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m{:02}s", d / 60, d % 60),
        3600..86_400 => format!("{}h{:02}m", d / 3600, d % 3600 / 60),
        _ => format!("{}d{:02}h", d / 86_400, d % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1732672800000").unwrap(), "1732672800000");
        assert_eq!(
            parse_time("2024-11-27T02:00:00+01:00").unwrap(),
            "2024-11-27T02:00:00+01:00"
        );
        assert_eq!(
            parse_time("2024-11-27T02:00:00Z").unwrap(),
            "2024-11-27T02:00:00Z"
        );
        let now = 1_732_672_800_000;
        assert_eq!(parse_time_at("6h", now).unwrap(), "1732651200000");
        assert_eq!(parse_time_at("1d", now).unwrap(), "1732586400000");
        assert_eq!(parse_time_at("90m", now).unwrap(), "1732667400000");
        assert_eq!(parse_time_at("now", now).unwrap(), "1732672800000");
        assert!(parse_time("2024-11-27T02:00:00").is_err());
        assert!(parse_time("02:00").is_err());
        assert!(parse_time("6 parsecs").is_err());
    }

    #[test]
    fn shown() {
        assert_eq!(
            short(Some("2024-11-27T02:00:00.123Z")),
            "2024-11-27T02:00:00Z"
        );
        assert_eq!(short(None), "-");
        assert_eq!(readable("1732672800000"), "2024-11-27T02:00:00Z");
        assert_eq!(readable("0"), "1970-01-01T00:00:00Z");
        assert_eq!(
            readable("2000-02-29T23:59:59+01:00"),
            "2000-02-29T23:59:59+01:00"
        );
        assert_eq!(age(0.25), "250ms");
        assert_eq!(age(42.4), "42s");
        assert_eq!(age(312.0), "5m12s");
        assert_eq!(age(3.0 * 3600.0 + 240.0), "3h04m");
        assert_eq!(age(2.0 * 86_400.0 + 5.0 * 3600.0), "2d05h");
    }
}
