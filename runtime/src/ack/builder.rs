//! The ER7 text of an acknowledgment.

use std::borrow::Cow;

use crate::er7::{escape, Delimiters, Location, Message, ParseError, Writer};
use crate::validate::{Problem, Severity};

use super::clock::Timestamp;
use super::header::InboundHeader;
use super::mode::{Outcome, Unsupported};
use super::AckCode;

/// MSH-11 of an ACK for bytes without a readable MSH.
pub const FALLBACK_PROCESSING_ID: &str = "P";
/// MSH-12 of an ACK for bytes without a readable MSH.
pub const FALLBACK_VERSION: &str = "2.5.1";

/// Where the ERR locations point: the text whose segments they count.
#[derive(Debug, Clone)]
enum Source<'a> {
    Message(&'a Message<'a>),
    Text(Cow<'a, str>),
}

/// One ERR segment to write.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrEntry {
    location: Option<Location>,
    code: (&'static str, &'static str),
    severity: Severity,
    message: String,
}

/// Builds the ER7 text of an acknowledgment (segments end with `\r`).
///
/// ```
/// use hl7_runtime::ack::{AckBuilder, AckCode, Timestamp};
/// use hl7_runtime::er7::Message;
/// let inbound = Message::parse("MSH|^~\\&|LAB|HOSP|EHR|WARD|20240501||ADT^A01|X42|P|2.5.1\r")?;
/// let ack = AckBuilder::new(&inbound)
///     .code(AckCode::AR)
///     .control_id("ACK7")
///     .timestamp(Timestamp::from_unix_millis(0))
///     .build();
/// assert_eq!(
///     ack,
///     "MSH|^~\\&|EHR|WARD|LAB|HOSP|19700101000000.000+0000||ACK^A01^ACK|ACK7|P|2.5.1\rMSA|AR|X42\r"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The ACK has the inbound delimiters; MSH-3/4 are the inbound MSH-5/6 and MSH-5/6 the
/// inbound MSH-3/4, copied as they were written; MSH-7 is the injected timestamp; MSH-9 is
/// `ACK^<event>^ACK` (`ACK` when the inbound has no event); MSH-10 is the injected fresh
/// control ID; MSH-11/12 echo the inbound ones. MSA-1 is the code, MSA-2 the inbound MSH-10.
/// Then one ERR per error (and per warning with [`AckBuilder::warnings`]), HL7 2.5 layout:
/// ERR-2 the location (ERL), ERR-3 the error code of table 0357 (CWE), ERR-4 `E` or `W`,
/// ERR-8 the message, escaped.
///
/// Unset, the code is `AE` (never a positive ACK by omission) and MSH-7 and MSH-10 are empty.
#[derive(Debug, Clone)]
#[must_use = "an AckBuilder does nothing until build() is called"]
pub struct AckBuilder<'a> {
    header: Option<InboundHeader>,
    source: Source<'a>,
    code: AckCode,
    control_id: String,
    timestamp: Option<Timestamp>,
    errors: Vec<ErrEntry>,
    warnings: bool,
    own_message: bool,
}

impl<'a> AckBuilder<'a> {
    /// An ACK of a parsed message.
    pub fn new(inbound: &'a Message<'a>) -> AckBuilder<'a> {
        AckBuilder::with(Some(InboundHeader::of(inbound)), Source::Message(inbound))
    }

    /// An ACK of bytes that may not parse: the header is read best effort
    /// ([`InboundHeader::sniff`]); without any readable `MSH` it is a minimal ACK with the
    /// default delimiters, empty MSH-3 to MSH-6 and MSA-2, MSH-11
    /// [`FALLBACK_PROCESSING_ID`] and MSH-12 [`FALLBACK_VERSION`]. Never panics.
    pub fn for_raw(raw: &'a [u8]) -> AckBuilder<'a> {
        let header = InboundHeader::sniff(raw);
        AckBuilder::with(header, Source::Text(String::from_utf8_lossy(raw)))
    }

    fn with(header: Option<InboundHeader>, source: Source<'a>) -> AckBuilder<'a> {
        AckBuilder {
            header,
            source,
            code: AckCode::AE,
            control_id: String::new(),
            timestamp: None,
            errors: Vec::new(),
            warnings: false,
            own_message: false,
        }
    }

    /// The header the ACK answers, when one was found.
    pub fn inbound_header(&self) -> Option<&InboundHeader> {
        self.header.as_ref()
    }

    /// MSA-1. Take it from [`decide`](super::decide), which gives `AA` and `CA` only for
    /// durably stored messages.
    pub fn code(mut self, code: AckCode) -> Self {
        self.code = code;
        self
    }

    /// MSH-10 of the ACK: a fresh ID, from a [`ControlIds`](super::ControlIds).
    pub fn control_id(mut self, id: impl Into<String>) -> Self {
        self.control_id = id.into();
        self
    }

    /// MSH-7 of the ACK, from a [`Clock`](super::Clock).
    pub fn timestamp(mut self, at: Timestamp) -> Self {
        self.timestamp = Some(at);
        self
    }

    /// Marks an enhanced-mode application ACK, sent later as a message of its own rather than
    /// on the inbound connection: MSH-15 `AL` asks its receiver for an accept ACK (so the
    /// sender knows it arrived, as for any message) and MSH-16 `NE` for no application ACK of
    /// the ACK.
    pub fn own_message(mut self) -> Self {
        self.own_message = true;
        self
    }

    /// Whether warnings get ERR segments too (default: no, errors only).
    pub fn warnings(mut self, include: bool) -> Self {
        self.warnings = include;
        self
    }

    /// Adds the validator's problems: one ERR each (warnings only with
    /// [`AckBuilder::warnings`]).
    pub fn problems(mut self, problems: &[Problem]) -> Self {
        self.errors.extend(problems.iter().map(|p| ErrEntry {
            location: Some(p.location.clone()),
            code: p.hl7_error_code(),
            severity: p.severity,
            message: p.to_string(),
        }));
        self
    }

    /// Adds an ERR for a message that did not parse, at the error's location.
    pub fn parse_error(mut self, error: &ParseError) -> Self {
        let code = match error {
            ParseError::Empty
            | ParseError::MissingHeader { .. }
            | ParseError::BadSegmentId { .. }
            | ParseError::UnexpectedSegment { .. }
            | ParseError::CountMismatch { .. } => ("100", "Segment sequence error"),
            _ => ("102", "Data type error"),
        };
        self.errors.push(ErrEntry {
            location: error.location().cloned(),
            code,
            severity: Severity::Error,
            message: error.to_string(),
        });
        self
    }

    /// Adds an ERR for an unsupported version, type, event or processing ID, located at its
    /// MSH field.
    pub fn unsupported(mut self, what: Unsupported) -> Self {
        let (field, component) = what.field();
        let index = self.header.as_ref().map_or(1, InboundHeader::segment_index);
        let value = self.header.as_ref().map_or(String::new(), |h| {
            let d = h.delimiters();
            let raw = match what {
                Unsupported::Version => h.version(),
                Unsupported::ProcessingId => h.processing_id(),
                Unsupported::Event => h.event(),
                Unsupported::MessageType => h.message_type(),
            };
            // The first component: VID.1, PT.1 (MSH-9 parts are components already).
            let first = raw
                .split(char::from(d.component))
                .next()
                .unwrap_or_default();
            escape::decode(first, &d).into_owned()
        });
        let message = if value.is_empty() {
            format!("unsupported {}", what.what())
        } else {
            format!("unsupported {} `{value}`", what.what())
        };
        self.errors.push(ErrEntry {
            location: Some(Location {
                segment_index: index,
                segment_id: "MSH".into(),
                field: Some(field),
                component,
                ..Location::default()
            }),
            code: what.hl7_error_code(),
            severity: Severity::Error,
            message,
        });
        self
    }

    /// Adds an ERR "application internal error" (207) with `message`, e.g. for a failed store
    /// or an application's reject.
    pub fn internal_error(mut self, message: impl Into<String>) -> Self {
        self.errors.push(ErrEntry {
            location: None,
            code: ("207", "Application internal error"),
            severity: Severity::Error,
            message: message.into(),
        });
        self
    }

    /// Adds the ERR segments an outcome calls for: its problems, parse error, unsupported
    /// field, failed store or reject reason (none for [`Outcome::Stored`]).
    pub fn outcome(self, outcome: &Outcome<'_>) -> Self {
        match *outcome {
            Outcome::Stored(_) => self,
            Outcome::Invalid(_, problems) => self.problems(problems),
            Outcome::Rejected(_, reason) => self.internal_error(reason),
            Outcome::StoreFailed => {
                self.internal_error("the message could not be stored; send it again")
            }
            Outcome::Unparseable(error) => self.parse_error(error),
            Outcome::Unsupported(what) => self.unsupported(what),
        }
    }

    /// The ACK, segments ended by `\r`.
    ///
    /// A positive code (`AA`, `CA`) gets no error-level ERR segment: it would contradict it
    /// (an accept ACK says "stored", not "valid"). Warnings are written when asked for.
    pub fn build(&self) -> String {
        let delimiters = self
            .header
            .as_ref()
            .map_or(Delimiters::DEFAULT, InboundHeader::delimiters);
        let mut w = Writer::with_capacity(delimiters, 160 + 96 * self.errors.len());
        w.begin_segment("MSH");
        match &self.header {
            Some(h) => {
                for party in [
                    h.receiving_application(),
                    h.receiving_facility(),
                    h.sending_application(),
                    h.sending_facility(),
                ] {
                    w.field_separator();
                    w.raw(party);
                }
            }
            None => (0..4).for_each(|_| w.field_separator()),
        }
        w.field_separator();
        if let Some(at) = self.timestamp {
            text(&mut w, &at.to_string());
        }
        w.field_separator();
        w.field_separator();
        text(&mut w, "ACK");
        let event = self.header.as_ref().map_or("", InboundHeader::event);
        if !event.is_empty() {
            w.component_separator();
            w.raw(event);
            w.component_separator();
            text(&mut w, "ACK");
        }
        w.field_separator();
        text(&mut w, &self.control_id);
        w.field_separator();
        match &self.header {
            Some(h) => {
                w.raw(h.processing_id());
                w.field_separator();
                w.raw(h.version());
            }
            None => {
                text(&mut w, FALLBACK_PROCESSING_ID);
                w.field_separator();
                text(&mut w, FALLBACK_VERSION);
            }
        }
        if self.own_message {
            // MSH-13 (sequence number) and MSH-14 (continuation pointer) stay empty.
            w.field_separator();
            w.field_separator();
            w.field_separator();
            text(&mut w, "AL");
            w.field_separator();
            text(&mut w, "NE");
        }
        w.end_segment();

        w.begin_segment("MSA");
        w.field_separator();
        text(&mut w, self.code.as_str());
        w.field_separator();
        w.raw(self.header.as_ref().map_or("", InboundHeader::control_id));
        w.end_segment();

        for entry in &self.errors {
            let wanted = match entry.severity {
                Severity::Error => !self.code.is_positive(),
                Severity::Warning => self.warnings,
            };
            if wanted {
                self.write_err(&mut w, entry);
            }
        }
        w.finish()
    }

    fn write_err(&self, w: &mut Writer, entry: &ErrEntry) {
        w.begin_segment("ERR");
        w.field_separator();
        w.field_separator();
        if let Some(loc) = entry.location.as_ref().filter(|l| !l.segment_id.is_empty()) {
            let sequence = self.occurrence(loc);
            let parts = [
                sequence,
                loc.field,
                loc.repetition,
                loc.component,
                loc.subcomponent,
            ];
            text(w, &loc.segment_id);
            let last = parts.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
            for part in &parts[..last] {
                w.component_separator();
                if let Some(n) = part {
                    text(w, &n.to_string());
                }
            }
        }
        w.field_separator();
        text(w, entry.code.0);
        w.component_separator();
        text(w, entry.code.1);
        w.component_separator();
        text(w, "HL70357");
        w.field_separator();
        text(
            w,
            match entry.severity {
                Severity::Error => "E",
                Severity::Warning => "W",
            },
        );
        for _ in 5..=8 {
            w.field_separator();
        }
        text(w, &entry.message);
        w.end_segment();
    }

    /// ERL-2, the occurrence of the located segment among the segments with its id (1 for the
    /// first `OBX`, 2 for the second), counted in the inbound text.
    fn occurrence(&self, loc: &Location) -> Option<usize> {
        if loc.segment_index == 0 {
            return None;
        }
        let id = loc.segment_id.as_str();
        let count = match &self.source {
            Source::Message(m) => m
                .segments()
                .take(loc.segment_index)
                .filter(|s| s.id() == id)
                .count(),
            Source::Text(t) => lines(t)
                .take(loc.segment_index)
                .filter(|(_, line)| starts_with_id(line, id))
                .count(),
        };
        (count > 0).then_some(count)
    }
}

/// Whether `line` starts with segment id `id`, a leading BOM ignored.
fn starts_with_id(line: &str, id: &str) -> bool {
    line.trim_start_matches('\u{FEFF}').starts_with(id)
}

/// The non-empty lines of `text` (ended by `\r`, `\n` or `\r\n`) with their byte offsets, as
/// [`Message::parse`] counts segments.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split(['\r', '\n']).filter_map(move |line| {
        let at = offset;
        offset += line.len() + 1;
        (!line.is_empty()).then_some((at, line))
    })
}

/// 1-based index, among the non-empty lines of `text`, of the line that starts at byte `at`.
pub(crate) fn line_index(text: &str, at: usize) -> usize {
    lines(text).filter(|&(s, _)| s < at).count() + 1
}

/// Writes plain text escaped; without an escape character, delimiters and CR/LF (which could
/// not be escaped) become spaces.
fn text(w: &mut Writer, s: &str) {
    let d = w.delimiters();
    if d.escape.is_some() {
        w.text(s);
        return;
    }
    let clean: String = s
        .chars()
        .map(|c| match u8::try_from(c) {
            Ok(b) if d.is_special(b) || b == b'\r' || b == b'\n' => ' ',
            _ => c,
        })
        .collect();
    w.raw(&clean);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_ack_for_garbage() {
        for raw in [
            &b""[..],
            b"\xff\xfe",
            b"PID|1\r",
            b"MSH",
            b"MSH|^\r",
            b"\x0b\x1c\r",
        ] {
            let ack = AckBuilder::for_raw(raw)
                .control_id("A1")
                .timestamp(Timestamp::from_unix_millis(0))
                .build();
            assert_eq!(
                ack,
                "MSH|^~\\&|||||19700101000000.000+0000||ACK|A1|P|2.5.1\rMSA|AE|\r"
            );
        }
    }

    #[test]
    fn no_escape_character_means_no_delimiters_in_text() {
        let m = Message::parse("MSH|^~|A|B|C|D|||ADT^A01|7|P|2.5\r").expect("parses");
        let ack = AckBuilder::new(&m)
            .internal_error("a|b^c~d\re")
            .control_id("x|y")
            .build();
        assert!(
            ack.ends_with("ERR|||207^Application internal error^HL70357|E||||a b c d e\r"),
            "{ack}"
        );
        assert!(ack.contains("|x y|"), "{ack}");
    }

    #[test]
    fn occurrence_counts_segments_of_the_same_id() {
        let m = Message::parse("MSH|^~\\&|||||||ORU^R01|1|P|2.5\rOBX|1\rNTE|1\rOBX|2\r")
            .expect("parses");
        let b = AckBuilder::new(&m);
        let loc = |index, id: &str| Location {
            segment_index: index,
            segment_id: id.into(),
            ..Location::default()
        };
        assert_eq!(b.occurrence(&loc(4, "OBX")), Some(2));
        assert_eq!(b.occurrence(&loc(2, "OBX")), Some(1));
        assert_eq!(b.occurrence(&loc(0, "OBX")), None);
        let raw = b"MSH|^~\\&|||||||ORU^R01|1|P|2.5\r\nOBX|1\r\n\r\nOBX|2\r\n9X\r";
        let b = AckBuilder::for_raw(raw);
        assert_eq!(b.occurrence(&loc(3, "OBX")), Some(2));
        assert_eq!(b.occurrence(&loc(4, "9X")), Some(1));
    }
}
