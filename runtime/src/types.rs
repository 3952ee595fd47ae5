//! Primitive HL7 values of the typed model.
//!
//! Every primitive keeps its value as written on the wire, escaped for the standard delimiters
//! `|^~\&`: a parse of a conformant message re-encodes to the same bytes (formatting escapes
//! such as `\.br\` included), and parsing costs no unescaping. Accessors decode on demand, and
//! constructors escape plain text.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use crate::er7::{escape, Delimiters};

/// Escaped text of one value, for the standard delimiters.
///
/// A value read by a typed parse shares the message's text (one buffer per message, no copy or
/// allocation per value); a value built in code owns its text. Either way it is 16 bytes, and
/// `Option<Text>` too. A shared value keeps its message's text alive while it lives.
#[derive(Clone)]
pub struct Text {
    /// The text holding the value; `None` for the empty value.
    buf: Option<Arc<String>>,
    /// Byte range of the value in `buf`: `start..end - 1` (never 0, a niche for `Option<Text>`).
    start: u32,
    end_plus_one: NonZeroU32,
}

impl Default for Text {
    fn default() -> Text {
        Text {
            buf: None,
            start: 0,
            end_plus_one: NonZeroU32::MIN,
        }
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

    fn owned(raw: String) -> Text {
        if raw.is_empty() {
            return Text::default();
        }
        let len = raw.len();
        Text::shared(&Arc::new(raw), 0, len)
    }

    /// The value at `start..start + len` of a shared text (a message's), without copying it.
    ///
    /// The range must lie on character boundaries of `buf`; a value too far into a text of more
    /// than 4 GiB is copied instead.
    pub(crate) fn shared(buf: &Arc<String>, start: usize, len: usize) -> Text {
        if len == 0 {
            return Text::default();
        }
        match (
            u32::try_from(start),
            u32::try_from(start + len + 1)
                .ok()
                .and_then(NonZeroU32::new),
        ) {
            (Ok(start), Some(end_plus_one)) => Text {
                buf: Some(Arc::clone(buf)),
                start,
                end_plus_one,
            },
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
        match &self.buf {
            Some(buf) => {
                let end = self.end_plus_one.get() - 1;
                buf.get(self.start as usize..end as usize)
                    .unwrap_or_default()
            }
            None => "",
        }
    }

    /// The value with escape sequences decoded (formatting escapes such as `\.br\` are kept).
    pub fn decoded(&self) -> Cow<'_, str> {
        escape::decode(self.as_raw(), &Delimiters::DEFAULT)
    }

    /// True when nothing is written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.as_raw().is_empty()
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
