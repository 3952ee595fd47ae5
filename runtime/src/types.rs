//! Primitive HL7 values of the typed model.
//!
//! Every primitive keeps its value as written on the wire, escaped for the standard delimiters
//! `|^~\&`: a parse of a conformant message re-encodes to the same bytes (formatting escapes
//! such as `\.br\` included), and parsing costs no unescaping. Accessors decode on demand, and
//! constructors escape plain text.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU8;
use std::sync::Arc;

use crate::er7::{escape, Delimiters};

/// Escaped text of one value, for the standard delimiters.
///
/// A short value (up to 7 bytes: most codes, numbers, flags and short names) is held in the
/// value itself; a longer one read by a typed parse shares the message's text (one buffer per
/// message, no copy or allocation per value), and a longer one built in code owns its text.
/// Either way it is 16 bytes, and `Option<Text>` too. A shared value keeps its message's text
/// alive while it lives.
#[derive(Clone)]
pub struct Text {
    /// The text holding a shared or owned value; `None` for an inline one.
    buf: Option<Arc<String>>,
    /// Inline: the value's bytes. Shared: its start in `buf` (4 bytes) and length (3 bytes),
    /// little-endian.
    bytes: [u8; INLINE],
    /// [`SHARED`], [`WHOLE`], or the length of an inline value plus one (never 0, a niche for
    /// `Option<Text>`).
    tag: NonZeroU8,
}

/// Bytes held inline. Most values of a message are this short: holding them inline spares a
/// reference count taken when the value is read and given back when it is dropped, atomic
/// operations that cost more than the copy.
const INLINE: usize = 7;
/// Tag of a value at a range of `buf`.
const SHARED: u8 = 0xFF;
/// Tag of a value that is the whole of `buf`.
const WHOLE: u8 = 0xFE;
/// The longest range a shared value records (3 bytes of length).
const SHARED_MAX_LEN: usize = (1 << 24) - 1;

/// A tag (never 0 by construction).
#[inline]
const fn tag(value: u8) -> NonZeroU8 {
    match NonZeroU8::new(value) {
        Some(tag) => tag,
        None => NonZeroU8::MIN,
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::inline(&[])
    }
}

impl Text {
    /// Text from plain (unescaped) characters; delimiters in it are escaped.
    pub fn new(plain: &str) -> Text {
        Text::owned(escape::encode(plain, &Delimiters::DEFAULT).into_owned())
    }

    /// Text already escaped for the standard delimiters, kept as it is.
    pub fn from_raw(raw: impl Into<Box<str>>) -> Text {
        Text::owned(String::from(raw.into()))
    }

    /// A copy of `raw`, held inline when it is short enough.
    #[inline]
    pub(crate) fn copied(raw: &str) -> Text {
        if raw.len() <= INLINE {
            return Text::inline(raw.as_bytes());
        }
        Text::owned(raw.to_owned())
    }

    fn owned(raw: String) -> Text {
        if raw.len() <= INLINE {
            return Text::inline(raw.as_bytes());
        }
        Text {
            buf: Some(Arc::new(raw)),
            bytes: [0; INLINE],
            tag: tag(WHOLE),
        }
    }

    /// A value of at most [`INLINE`] bytes, held in place; `raw` must be whole characters.
    #[inline]
    fn inline(raw: &[u8]) -> Text {
        let mut bytes = [0; INLINE];
        for (d, &b) in bytes.iter_mut().zip(raw) {
            *d = b;
        }
        Text {
            buf: None,
            bytes,
            tag: tag(raw.len().min(INLINE) as u8 + 1),
        }
    }

    /// The value at `start..start + len` of a shared text (a message's), without copying it
    /// unless it is short enough to be held inline.
    ///
    /// The range must lie on character boundaries of `buf`; a value too long or too far into its
    /// text for the range to be recorded is copied instead.
    #[inline]
    pub(crate) fn shared(buf: &Arc<String>, start: usize, len: usize) -> Text {
        let text = buf.as_bytes();
        if len <= INLINE {
            // One word read from the text and masked, rather than a byte loop whose stores the
            // next read of the value must wait for.
            if let Some(word) = text
                .get(start..)
                .and_then(|rest| rest.first_chunk::<8>())
                .filter(|_| start + len <= text.len())
            {
                let [b0, b1, b2, b3, b4, b5, b6, _] =
                    (u64::from_le_bytes(*word) & ((1u64 << (8 * len)) - 1)).to_le_bytes();
                return Text {
                    buf: None,
                    bytes: [b0, b1, b2, b3, b4, b5, b6],
                    tag: tag(len as u8 + 1),
                };
            }
            return Text::inline(
                text.get(start..start.saturating_add(len))
                    .unwrap_or_default(),
            );
        }
        match u32::try_from(start) {
            Ok(start) if len <= SHARED_MAX_LEN => {
                let [s0, s1, s2, s3] = start.to_le_bytes();
                let [l0, l1, l2, _] = (len as u32).to_le_bytes();
                Text {
                    buf: Some(Arc::clone(buf)),
                    bytes: [s0, s1, s2, s3, l0, l1, l2],
                    tag: tag(SHARED),
                }
            }
            _ => Text::owned(buf.get(start..start + len).unwrap_or_default().to_owned()),
        }
    }

    /// The HL7 null value `""`: "delete this value" in the receiving system.
    pub fn null() -> Text {
        Text::from_raw("\"\"")
    }

    /// The value as written on the wire, escaped for the standard delimiters.
    #[inline]
    pub fn as_raw(&self) -> &str {
        match (self.tag.get(), &self.buf) {
            (SHARED, Some(buf)) => {
                let [s0, s1, s2, s3, l0, l1, l2] = self.bytes;
                let start = u32::from_le_bytes([s0, s1, s2, s3]) as usize;
                let len = u32::from_le_bytes([l0, l1, l2, 0]) as usize;
                buf.get(start..start + len).unwrap_or_default()
            }
            (WHOLE, Some(buf)) => buf,
            (n, _) => {
                let inline = self.bytes.get(..usize::from(n) - 1).unwrap_or_default();
                std::str::from_utf8(inline).unwrap_or_default()
            }
        }
    }

    /// The value with escape sequences decoded (formatting escapes such as `\.br\` are kept).
    pub fn decoded(&self) -> Cow<'_, str> {
        escape::decode(self.as_raw(), &Delimiters::DEFAULT)
    }

    /// True when nothing is written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        // Only an inline value can be empty: longer ones are never held otherwise.
        self.tag == tag(1)
    }

    /// True for the HL7 null value `""`.
    pub fn is_null(&self) -> bool {
        self.as_raw() == "\"\""
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_raw() == other.as_raw()
    }
}

impl Eq for Text {}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_raw().hash(state);
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_raw().cmp(other.as_raw())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_raw(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decoded())
    }
}

impl From<&str> for Text {
    fn from(plain: &str) -> Text {
        Text::new(plain)
    }
}

impl From<String> for Text {
    fn from(plain: String) -> Text {
        Text::new(&plain)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.decoded() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.decoded() == *other
    }
}

macro_rules! primitive {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Text);

        impl $name {
            /// A value from plain text; delimiters in it are escaped.
            pub fn new(plain: &str) -> $name {
                $name(Text::new(plain))
            }

            /// A value already escaped for the standard delimiters.
            pub fn from_raw(raw: impl Into<Box<str>>) -> $name {
                $name(Text::from_raw(raw))
            }

            /// The value as written on the wire.
            pub fn as_raw(&self) -> &str {
                self.0.as_raw()
            }

            /// The value with escape sequences decoded.
            pub fn decoded(&self) -> Cow<'_, str> {
                self.0.decoded()
            }

            /// True when nothing is written.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// True for the HL7 null value `""`.
            pub fn is_null(&self) -> bool {
                self.0.is_null()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<&str> for $name {
            fn from(plain: &str) -> $name {
                $name::new(plain)
            }
        }

        impl From<Text> for $name {
            fn from(text: Text) -> $name {
                $name(text)
            }
        }
    };
}

primitive! {
    /// NM: a number, kept exactly as written (`0.50` stays `0.50`).
    Number
}

impl Number {
    /// The value as a float, when it is a well-formed number.
    pub fn to_f64(&self) -> Option<f64> {
        let raw = self.as_raw().trim();
        crate::validate::format::is_number(raw)
            .then(|| raw.parse().ok())
            .flatten()
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        Number::from_raw(value.to_string())
    }
}

impl From<f64> for Number {
    fn from(value: f64) -> Number {
        Number::from_raw(value.to_string())
    }
}

primitive! {
    /// SI: a sequence id, a non-negative integer.
    SequenceId
}

impl SequenceId {
    /// The value, when it is a well-formed integer.
    pub fn value(&self) -> Option<u32> {
        self.as_raw().parse().ok()
    }
}

impl From<u32> for SequenceId {
    fn from(value: u32) -> SequenceId {
        SequenceId::from_raw(value.to_string())
    }
}

primitive! {
    /// DT: a date `YYYY[MM[DD]]`, with the precision it was sent with.
    Date
}

primitive! {
    /// TM: a time `HH[MM[SS[.S...]]][+/-ZZZZ]`.
    Time
}

primitive! {
    /// DTM (and TS before 2.5): a timestamp with its precision and UTC offset.
    DateTime
}

/// The parts of a timestamp, as precise as it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimestampParts {
    /// Year.
    pub year: u16,
    /// Month 1-12, when sent.
    pub month: Option<u8>,
    /// Day 1-31, when sent.
    pub day: Option<u8>,
    /// Hour 0-23, when sent.
    pub hour: Option<u8>,
    /// Minute, when sent.
    pub minute: Option<u8>,
    /// Second, when sent.
    pub second: Option<u8>,
    /// Fraction of a second as sent (`.1234` -> (1234, 4 digits)).
    pub fraction: Option<(u32, u8)>,
    /// UTC offset in minutes, when sent (`-0500` -> -300).
    pub offset_minutes: Option<i16>,
}

impl DateTime {
    /// The parts of the timestamp, when it is well formed.
    pub fn parts(&self) -> Option<TimestampParts> {
        crate::validate::format::timestamp_parts(self.as_raw())
    }
}

impl Date {
    /// The parts of the date, when it is well formed.
    pub fn parts(&self) -> Option<TimestampParts> {
        let raw = self.as_raw();
        crate::validate::format::is_date(raw)
            .then(|| crate::validate::format::timestamp_parts(raw))
            .flatten()
    }
}

primitive! {
    /// `varies` (OBX-5): a value typed by another field, kept whole as written (its components
    /// included).
    Varies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_representation_reads_back() {
        assert_eq!(std::mem::size_of::<Text>(), 16);
        assert_eq!(std::mem::size_of::<Option<Text>>(), 16);
        let buffer = Arc::new("MSH|^~\\&|ÄÖÜ|1234567|12345678|".to_owned());
        let at = |s: &str| buffer.find(s).unwrap();
        for value in [
            "",
            "^",
            "ÄÖÜ",
            "1234567",
            "12345678",
            "ÄÖÜ|1234567|12345678|",
        ] {
            let text = Text::shared(&buffer, at(value), value.len());
            assert_eq!(text.as_raw(), value);
            assert_eq!(text.is_empty(), value.is_empty());
            assert_eq!(text.clone().as_raw(), value);
            assert_eq!(Text::copied(value).as_raw(), value);
            assert_eq!(Text::from_raw(value), text);
        }
        let end = buffer.len() - 3;
        assert_eq!(Text::shared(&buffer, end, 3).as_raw(), "78|");
        // Short values are held inline: they do not keep the message's text alive.
        let short = Text::shared(&buffer, at("1234567"), 7);
        let long = Text::shared(&buffer, at("12345678"), 8);
        assert_eq!(Arc::strong_count(&buffer), 2);
        drop(long);
        assert_eq!(short.as_raw(), "1234567");
        assert_eq!(Text::default().as_raw(), "");
        assert!(Text::default().is_empty());
        assert_eq!(Text::new("a|b").as_raw(), "a\\F\\b");
        assert_eq!(
            Text::new("a long value|here").as_raw(),
            "a long value\\F\\here"
        );
        assert!(Text::null().is_null());
    }
}
