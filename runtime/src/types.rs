//! Primitive HL7 values of the typed model.
//!
//! Every primitive keeps its value as written on the wire, escaped for the standard delimiters
//! `|^~\&`: a parse of a conformant message re-encodes to the same bytes (formatting escapes
//! such as `\.br\` included), and parsing costs no unescaping. Accessors decode on demand, and
//! constructors escape plain text.

use std::borrow::Cow;
use std::fmt;

use crate::er7::{escape, Delimiters};

/// Escaped text of one value, for the standard delimiters.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Box<str>);

impl Text {
    /// Text from plain (unescaped) characters; delimiters in it are escaped.
    pub fn new(plain: &str) -> Text {
        Text(escape::encode(plain, &Delimiters::DEFAULT).into())
    }

    /// Text already escaped for the standard delimiters, kept as it is.
    pub fn from_raw(raw: impl Into<Box<str>>) -> Text {
        Text(raw.into())
    }

    /// The HL7 null value `""`: "delete this value" in the receiving system.
    pub fn null() -> Text {
        Text::from_raw("\"\"")
    }

    /// The value as written on the wire, escaped for the standard delimiters.
    pub fn as_raw(&self) -> &str {
        &self.0
    }

    /// The value with escape sequences decoded (formatting escapes such as `\.br\` are kept).
    pub fn decoded(&self) -> Cow<'_, str> {
        escape::decode(&self.0, &Delimiters::DEFAULT)
    }

    /// True when nothing is written.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True for the HL7 null value `""`.
    pub fn is_null(&self) -> bool {
        &*self.0 == "\"\""
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
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
        crate::validate::format::is_number(raw).then(|| raw.parse().ok()).flatten()
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
