//! Injected time and control IDs: the ACK code never reads the system clock itself.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant, in milliseconds since the Unix epoch, written as an HL7 `DTM` in UTC:
/// `YYYYMMDDHHMMSS.SSS+0000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_millis: u64,
}

impl Timestamp {
    /// The instant `unix_millis` milliseconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix_millis(unix_millis: u64) -> Timestamp {
        Timestamp { unix_millis }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> u64 {
        self.unix_millis
    }

    /// RFC 3339 in UTC with milliseconds: `2024-11-27T02:00:00.000Z`.
    pub fn rfc3339(self) -> String {
        let ms = self.unix_millis;
        let secs = ms / 1000;
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            ms % 1000
        )
    }
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are small and positive by construction.
    (year, month as u32, day as u32)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.unix_millis % 1000;
        let secs = self.unix_millis / 1000;
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
        write!(
            f,
            "{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}.{millis:03}+0000"
        )
    }
}

/// A source of the current time (MSH-7 of an ACK).
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default();
        Timestamp::from_unix_millis(millis)
    }
}

/// A clock that always says the same instant: for tests and snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A source of fresh message control IDs (MSH-10 of an ACK).
///
/// Takes `&self` so one generator can serve every connection of an engine.
pub trait ControlIds {
    /// A control ID never handed out before by this generator.
    fn next(&self) -> String;
}

/// Control IDs `<prefix><n>` from a counter: `ACK1`, `ACK2`, ...
///
/// Deterministic, so tests use it as it is. An engine needs IDs unique across restarts too:
/// give it a prefix that differs per run, e.g. [`SequenceIds::per_run`].
#[derive(Debug)]
pub struct SequenceIds {
    prefix: String,
    next: AtomicU64,
}

impl SequenceIds {
    /// IDs `<prefix>1`, `<prefix>2`, ...
    pub fn new(prefix: impl Into<String>) -> SequenceIds {
        SequenceIds::starting_at(prefix, 1)
    }

    /// IDs `<prefix><first>`, `<prefix><first + 1>`, ...
    pub fn starting_at(prefix: impl Into<String>, first: u64) -> SequenceIds {
        SequenceIds {
            prefix: prefix.into(),
            next: AtomicU64::new(first),
        }
    }

    /// IDs `<prefix><start>-<n>` where `<start>` is the start instant in base 36 (8 characters
    /// until the year 2059): unique across runs that start at different milliseconds, and
    /// short enough for the 20 characters of MSH-10 in HL7 2.5 with a prefix of up to 5.
    pub fn per_run(prefix: &str, start: Timestamp) -> SequenceIds {
        SequenceIds::new(format!("{prefix}{}-", base36(start.unix_millis())))
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

impl ControlIds for SequenceIds {
    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}{n}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dtm() {
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "19700101000000.000+0000"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_714_564_800_123).to_string(),
            "20240501120000.123+0000"
        );
        // Leap day, end of a century year.
        assert_eq!(
            Timestamp::from_unix_millis(951_782_399_999).to_string(),
            "20000228235959.999+0000"
        );
        assert_eq!(
            Timestamp::from_unix_millis(951_868_800_000).to_string(),
            "20000301000000.000+0000"
        );
        // No panic at the far end.
        assert!(!Timestamp::from_unix_millis(u64::MAX).to_string().is_empty());
    }

    #[test]
    fn sequences() {
        let ids = SequenceIds::new("A");
        assert_eq!((ids.next(), ids.next()), ("A1".to_owned(), "A2".to_owned()));
        let ids = SequenceIds::per_run("E", Timestamp::from_unix_millis(1_714_564_800_000));
        let id = ids.next();
        assert_eq!(id, "ELVNRM2O0-1");
        assert!(id.len() <= 20);
        assert_eq!(base36(0), "0");
        let clock = FixedClock(Timestamp::from_unix_millis(5));
        assert_eq!(clock.now(), clock.now());
        assert!(SystemClock.now() > Timestamp::from_unix_millis(0));
    }
}
