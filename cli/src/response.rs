//! Reading the ACK a receiver answered: MSA-1, MSA-2, MSA-3 and a one-line summary of its
//! ERR segments. No I/O, so the odd ACKs real receivers send are unit-tested here.

use std::fmt;

use hl7_runtime::ack::AckCode;
use hl7_runtime::er7::{decode_bytes, Message, ParseError, Segment};

/// What an ACK says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ack {
    /// MSA-1.
    pub(crate) code: AckCode,
    /// MSA-2, raw: the control ID of the message it acknowledges.
    pub(crate) acknowledged_id: String,
    /// MSA-3 (text message, HL7 up to 2.6), decoded; `None` when empty.
    pub(crate) text: Option<String>,
    /// One summary per ERR segment, in order.
    pub(crate) errors: Vec<String>,
}

/// Why a response is not an ACK we can use.
#[derive(Debug)]
pub(crate) enum AckError {
    /// The bytes are not an ER7 message.
    Unreadable(ParseError),
    /// The message has no MSA segment.
    NoMsa,
    /// MSA-1 holds no code of table 0008.
    UnknownCode(String),
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AckError::Unreadable(err) => write!(f, "the response is not an HL7 message: {err}"),
            AckError::NoMsa => f.write_str("the response has no MSA segment"),
            AckError::UnknownCode(code) => {
                write!(
                    f,
                    "the response's MSA-1 `{code}` is not an acknowledgment code"
                )
            }
        }
    }
}

impl Ack {
    /// Reads the ACK in `bytes` (one message, without MLLP bytes).
    pub(crate) fn read(bytes: &[u8]) -> Result<Ack, AckError> {
        let decoded = decode_bytes(bytes).map_err(AckError::Unreadable)?;
        let message = Message::parse(&decoded.text).map_err(AckError::Unreadable)?;
        let msa = message.segment("MSA", 1).ok_or(AckError::NoMsa)?;
        let raw_code = field_raw(&msa, 1);
        let code = raw_code
            .parse::<AckCode>()
            .map_err(|_| AckError::UnknownCode(raw_code.to_owned()))?;
        let text = msa
            .field(3)
            .map(|f| f.decoded().into_owned())
            .filter(|t| !t.trim().is_empty());
        let errors = message
            .segments()
            .filter(|s| s.id() == "ERR")
            .map(|s| err_summary(&s))
            .filter(|s| !s.is_empty())
            .collect();
        Ok(Ack {
            code,
            acknowledged_id: field_raw(&msa, 2).to_owned(),
            text,
            errors,
        })
    }

    /// MSA-3 and the ERR summaries, joined by `; `; empty when the ACK says nothing more than
    /// its code.
    pub(crate) fn details(&self) -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(self.errors.len() + 1);
        if let Some(text) = &self.text {
            parts.push(text);
        }
        parts.extend(self.errors.iter().map(String::as_str));
        parts.join("; ")
    }
}

fn field_raw<'a>(segment: &Segment<'a>, n: usize) -> &'a str {
    segment.field(n).map_or("", |f| f.raw())
}

/// Component `c` of the first repetition of field `n`, decoded; empty when absent.
fn component(segment: &Segment<'_>, n: usize, c: usize) -> String {
    segment
        .field(n)
        .and_then(|f| f.repetition(1))
        .and_then(|r| r.component(c))
        .map(|c| c.decoded().trim().to_owned())
        .unwrap_or_default()
}

/// `101 at PID-3: Required field missing`: the error code, where, and the text, from the
/// HL7 2.5 fields (ERR-2 location, ERR-3 code, ERR-8 user message) or, for older receivers,
/// from ERR-1 (segment^sequence^field^code).
fn err_summary(err: &Segment<'_>) -> String {
    let (code, location, text) = if err.field(2).is_some() || err.field(3).is_some() {
        let code = component(err, 3, 1);
        let location = location(
            &component(err, 2, 1),
            &component(err, 2, 3),
            &component(err, 2, 5),
        );
        let mut text = err
            .field(8)
            .map(|f| f.decoded().trim().to_owned())
            .unwrap_or_default();
        if text.is_empty() {
            text = component(err, 3, 2);
        }
        (code, location, text)
    } else {
        // ERR-1 (ELD): segment ID ^ sequence ^ field position ^ code (CE: id & text).
        let code_of = |sub: usize| {
            err.field(1)
                .and_then(|f| f.repetition(1))
                .and_then(|r| r.component(4))
                .and_then(|c| c.subcomponent(sub))
                .map(|s| s.decoded().trim().to_owned())
                .unwrap_or_default()
        };
        let location = location(&component(err, 1, 1), &component(err, 1, 3), "");
        (code_of(1), location, code_of(2))
    };
    let mut out = code;
    if !location.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str("at ");
        out.push_str(&location);
    }
    if !text.is_empty() {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// `PID-3.1` from a segment ID, a field and a component number (each possibly empty).
fn location(segment: &str, field: &str, component: &str) -> String {
    let mut out = segment.to_owned();
    if !segment.is_empty() && !field.is_empty() {
        out.push('-');
        out.push_str(field);
        if !component.is_empty() {
            out.push('.');
            out.push_str(component);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSH: &str = "MSH|^~\\&|EHR|HOSP|LAB|HOSP|20240501||ACK^R01^ACK|A1|P|2.5.1\r";

    #[test]
    fn a_plain_positive_ack() {
        let ack = Ack::read(format!("{MSH}MSA|CA|42\r").as_bytes()).unwrap();
        assert_eq!(ack.code, AckCode::CA);
        assert_eq!(ack.acknowledged_id, "42");
        assert_eq!(ack.details(), "");
    }

    #[test]
    fn text_and_errors_of_both_layouts() {
        let text = format!(
            "{MSH}MSA|AE|42|Bad \\T\\ sad\r\
             ERR||PID^1^3^1^1|101^Required field missing^HL70357|E||||patient id is empty\r\
             ERR||OBX^2^5|102^Data type error^HL70357|E\r\
             ERR|PID^1^8^103&Table value not found&HL70357\r"
        );
        let ack = Ack::read(text.as_bytes()).unwrap();
        assert_eq!(ack.code, AckCode::AE);
        assert_eq!(
            ack.details(),
            "Bad & sad; 101 at PID-3.1: patient id is empty; 102 at OBX-5: Data type error; \
             103 at PID-8: Table value not found"
        );
    }

    #[test]
    fn what_is_not_an_ack() {
        assert!(matches!(
            Ack::read(b"not hl7"),
            Err(AckError::Unreadable(_))
        ));
        assert!(matches!(Ack::read(MSH.as_bytes()), Err(AckError::NoMsa)));
        let err = Ack::read(format!("{MSH}MSA|OK|42\r").as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the response's MSA-1 `OK` is not an acknowledgment code"
        );
    }
}
