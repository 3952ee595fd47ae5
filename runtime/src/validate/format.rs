//! Formats of the primitive datatypes (NM, SI, DT, TM, DTM).

use crate::types::TimestampParts;

/// NM: an optional sign, digits with an optional decimal point (at least one digit).
pub fn is_number(raw: &str) -> bool {
    let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    let mut seen_digit = false;
    let mut seen_point = false;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_point => seen_point = true,
            _ => return false,
        }
    }
    seen_digit
}

/// SI: a non-negative integer.
pub fn is_sequence_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 10 && raw.bytes().all(|b| b.is_ascii_digit())
}

/// DT: `YYYY[MM[DD]]`.
pub fn is_date(raw: &str) -> bool {
    matches!(raw.len(), 4 | 6 | 8) && timestamp_parts(raw).is_some()
}

/// TM: `HH[MM[SS[.S[S[S[S]]]]]][+/-ZZZZ]`.
pub fn is_time(raw: &str) -> bool {
    let (body, offset) = split_offset(raw);
    if offset.is_some_and(|o| parse_offset(o).is_none()) {
        return false;
    }
    let (whole, fraction) = split_fraction(body);
    if !matches!(whole.len(), 2 | 4 | 6) || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if fraction.is_some() && (whole.len() != 6 || !valid_fraction(fraction.unwrap_or(""))) {
        return false;
    }
    let n = |i: usize| whole.as_bytes().get(i..i + 2).map(digits_value);
    n(0).is_some_and(|h| h < 24)
        && (whole.len() < 4 || n(2).is_some_and(|m| m < 60))
        && (whole.len() < 6 || n(4).is_some_and(|s| s < 60))
}

/// DTM, and TS as a primitive: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
pub fn is_datetime(raw: &str) -> bool {
    timestamp_parts(raw).is_some()
}

fn valid_fraction(fraction: &str) -> bool {
    (1..=4).contains(&fraction.len()) && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn split_offset(raw: &str) -> (&str, Option<&str>) {
    match raw.bytes().position(|b| b == b'+' || b == b'-') {
        Some(i) => (&raw[..i], Some(&raw[i..])),
        None => (raw, None),
    }
}

/// The whole part and the fraction of a time, at its `.`.
fn split_fraction(body: &str) -> (&str, Option<&str>) {
    match body.bytes().position(|b| b == b'.') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    }
}

/// The number written by the ASCII digits of `digits` (checked by the caller), in line: every
/// date and time of a message goes through here.
fn digits_value(digits: &[u8]) -> u16 {
    digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d.wrapping_sub(b'0')))
}

fn parse_offset(offset: &str) -> Option<i16> {
    let (sign, digits) = offset.split_at(1);
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i16 = digits[..2].parse().ok()?;
    let minutes: i16 = digits[2..].parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    let total = hours * 60 + minutes;
    Some(if sign == "-" { -total } else { total })
}

/// The parts of a DTM/DT value, when it is well formed.
pub fn timestamp_parts(raw: &str) -> Option<TimestampParts> {
    let (body, offset) = split_offset(raw);
    let offset_minutes = match offset {
        Some(o) => Some(parse_offset(o)?),
        None => None,
    };
    let (whole, fraction) = split_fraction(body);
    if !matches!(whole.len(), 4 | 6 | 8 | 10 | 12 | 14)
        || !whole.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = whole.as_bytes();
    let two = |i: usize| digits.get(i..i + 2).map(|d| digits_value(d) as u8);
    let year = digits_value(digits.get(..4)?);
    let month = two(4);
    let day = two(6);
    let hour = two(8);
    let minute = two(10);
    let second = two(12);
    if month.is_some_and(|m| !(1..=12).contains(&m))
        || day.is_some_and(|d| !(1..=days_in_month(year, month.unwrap_or(1))).contains(&d))
        || hour.is_some_and(|h| h > 23)
        || minute.is_some_and(|m| m > 59)
        || second.is_some_and(|s| s > 59)
    {
        return None;
    }
    let fraction = match fraction {
        Some(f) if whole.len() == 14 && valid_fraction(f) => Some((f.parse().ok()?, f.len() as u8)),
        Some(_) => return None,
        None => None,
    };
    Some(TimestampParts {
        year,
        month,
        day,
        hour,
        minute,
        second,
        fraction,
        offset_minutes,
    })
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for ok in ["0", "-1.5", "+3", "12.", ".5", "007"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", "1e5", "1.2.3", "abc", " 1"] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2024",
            "202402",
            "20240229",
            "202402291230",
            "20240229123059.1234-0500",
        ] {
            assert!(is_datetime(ok), "{ok}");
        }
        for bad in [
            "",
            "20230229",
            "2024133",
            "20241301",
            "202401011260",
            "20240101120000.12345",
            "2024+05",
        ] {
            assert!(!is_datetime(bad), "{bad}");
        }
        let parts = timestamp_parts("20240229123059.12-0500").unwrap();
        assert_eq!(parts.offset_minutes, Some(-300));
        assert_eq!(parts.fraction, Some((12, 2)));
    }

    #[test]
    fn dates_and_times() {
        assert!(is_date("20240101") && !is_date("2024010112"));
        assert!(is_time("1230") && is_time("123059.5+0100") && !is_time("2460"));
        assert!(is_sequence_id("1") && !is_sequence_id("-1") && !is_sequence_id(""));
    }
}
