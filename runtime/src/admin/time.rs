//! Times in the API: written as RFC 3339 in UTC with milliseconds
//! (`2024-11-27T02:00:00.000Z`); read as RFC 3339 with `Z` or an offset, or as Unix
//! milliseconds.

use crate::ack::Timestamp;

/// `2024-11-27T02:00:00.000Z`.
pub(crate) fn format(t: Timestamp) -> String {
    t.rfc3339()
}

/// Reads `2024-11-27T02:00:00Z`, `2024-11-27T02:00:00.5+01:00`, or `1732672800000` (Unix ms).
pub(crate) fn parse(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Timestamp::from_unix_millis)
            .map_err(|e| format!("`{text}`: {e}"));
    }
    rfc3339(text).ok_or_else(|| {
        format!(
            "`{text}` is not a time: use RFC 3339 with a zone (2024-11-27T02:00:00Z, \
             2024-11-27T02:00:00+01:00) or Unix milliseconds"
        )
    })
}

fn rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let minutes = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    let ms = secs.checked_mul(1000)?.checked_add(millis)?;
    u64::try_from(ms).ok().map(Timestamp::from_unix_millis)
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let t = parse("2024-11-27T02:00:00Z").unwrap();
        assert_eq!(t.unix_millis(), 1_732_672_800_000);
        assert_eq!(format(t), "2024-11-27T02:00:00.000Z");
        assert_eq!(parse("2024-11-27T03:00:00+01:00").unwrap(), t);
        assert_eq!(parse("2024-11-26T21:30:00-04:30").unwrap(), t);
        assert_eq!(
            parse("2024-11-27T02:00:00.25Z").unwrap().unix_millis(),
            1_732_672_800_250
        );
        assert_eq!(parse("1732672800000").unwrap(), t);
        assert_eq!(
            format(Timestamp::from_unix_millis(0)),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format(parse("2000-02-29T23:59:59.999Z").unwrap()),
            "2000-02-29T23:59:59.999Z"
        );
        for bad in [
            "2024-11-27T02:00:00",
            "2024-11-27",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
