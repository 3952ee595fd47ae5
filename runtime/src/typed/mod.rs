//! Traits and entry points of generated message types.
//!
//! A typed parse is: decode the bytes (charset), view them (generic ER7), validate the view
//! against the type's static rules (the one validator), then read the struct from where the
//! validator placed each segment. Encoding writes the struct through the ER7 writer. A typed
//! view (`OruR01View`) stops after the validation and reads values from the text on access.

mod context;
mod element;
mod node;
mod view;

use std::fmt;
use std::sync::Arc;

pub use context::{translate, DecodeContext};
pub use element::{split, ChildWriter, Element, Level, Slot};
pub use node::{
    decode_group_node, decode_segment_node, GroupType, MessageType, Node, NodeSlot, SegmentType,
};
pub use view::{
    view_lenient, CompositeView, GroupView, MessageView, NodeIter, NodeList, RepetitionIter,
    Repetitions, SegmentView, Value,
};

use crate::er7::{self, Delimiters, ParseError, Writer};
use crate::validate::{self, Problem};

/// A message read in lenient mode, with every problem found.
#[derive(Debug, Clone)]
pub struct Parsed<M> {
    /// The message; missing required elements hold their empty default.
    pub message: M,
    /// Every problem, errors and warnings.
    pub problems: Vec<Problem>,
}

/// Why a strict typed parse failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The bytes are not an ER7 message.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The message breaks its profile.
    #[error("{}", Problems(.problems))]
    Invalid {
        /// Every problem, errors and warnings.
        problems: Vec<Problem>,
    },
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.0.iter().filter(|p| p.is_error()).count();
        write!(f, "message breaks its profile ({errors} error(s))")?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// Parses and validates `bytes` as `M`; any error-level problem fails the parse.
pub fn parse<M: MessageType>(bytes: &[u8]) -> Result<M, ReadError> {
    let parsed = parse_lenient::<M>(bytes)?;
    if parsed.problems.iter().any(Problem::is_error) {
        return Err(ReadError::Invalid {
            problems: parsed.problems,
        });
    }
    Ok(parsed.message)
}

/// Parses `bytes` as `M`, keeping going past profile problems and returning them with the message.
pub fn parse_lenient<M: MessageType>(bytes: &[u8]) -> Result<Parsed<M>, ParseError> {
    let decoded = er7::decode_bytes(bytes)?;
    // One copy of the text, shared by every value of the typed message.
    let buffer = Arc::new(decoded.text.into_owned());
    let view = er7::Message::parse(&buffer)?;
    let report = validate::validate(&view, &M::RULE);
    let ctx = DecodeContext::shared(view.delimiters(), Arc::clone(&buffer));
    let message = M::decode(report.matched.root(), &view, &ctx);
    Ok(Parsed {
        message,
        problems: report.problems,
    })
}

/// The problems [`parse_lenient`] would report for `bytes`, without building the message: for
/// a caller that only needs to know whether it conforms.
pub fn validate_bytes<M: MessageType>(bytes: &[u8]) -> Result<Vec<Problem>, ParseError> {
    let decoded = er7::decode_bytes(bytes)?;
    Ok(view_lenient::<M>(&decoded.text)?.problems)
}

/// Encodes `message` as ER7 text with the standard delimiters, segments ended by `\r`.
pub fn to_er7<M: MessageType>(message: &M) -> String {
    let mut w = Writer::with_capacity(Delimiters::DEFAULT, 1024);
    message.encode(&mut w);
    w.finish()
}

/// Validates a message built in code: encodes it and checks the encoding against its profile.
pub fn validate<M: MessageType>(message: &M) -> Vec<Problem> {
    let text = to_er7(message);
    match er7::Message::parse(&text) {
        Ok(view) => validate::validate(&view, &M::RULE).problems,
        Err(error) => vec![Problem {
            severity: validate::Severity::Error,
            kind: validate::ProblemKind::MissingRequired {
                what: format!("MSH segment ({error})"),
            },
            location: error.location().cloned().unwrap_or_default(),
        }],
    }
}
