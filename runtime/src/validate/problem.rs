//! What the validator reports: one located problem per finding.

use std::fmt;

use compact_str::CompactString;

use crate::er7::Location;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; the message conforms.
    Warning,
    /// The message breaks its profile.
    Error,
}

/// What is wrong.
///
/// Values and ids taken from the message or the profile are [`CompactString`]s, held inline
/// when short (a well-formed message can still carry dozens of warnings, such as codes outside
/// a user table); descriptions written for a reader are `String`s.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A required segment, group, field, component or subcomponent is missing.
    MissingRequired {
        /// What is missing, e.g. `segment PID` or `field PID-3 (Patient Identifier List)`.
        what: String,
    },
    /// An element the profile excludes (`X`) is present.
    Excluded {
        /// What is present.
        what: String,
    },
    /// More repetitions or occurrences than the profile allows.
    TooMany {
        /// What repeats.
        what: String,
        /// Allowed maximum.
        max: u32,
        /// Found.
        found: u32,
    },
    /// A value is longer than the profile allows.
    TooLong {
        /// Allowed maximum, in characters.
        max: u32,
        /// Found.
        found: u32,
    },
    /// A value is shorter than the profile requires.
    TooShort {
        /// Required minimum, in characters.
        min: u32,
        /// Found.
        found: u32,
    },
    /// A value differs from the constant the profile fixes.
    ConstantMismatch {
        /// The required value.
        expected: CompactString,
        /// The value sent.
        found: CompactString,
    },
    /// A coded value is not in its bound table.
    NotInTable {
        /// Table id.
        table: CompactString,
        /// The value sent.
        value: CompactString,
    },
    /// A primitive value is malformed (a date, a number, a sequence id).
    Malformed {
        /// Datatype expected, e.g. `DTM`.
        datatype: CompactString,
        /// The value sent.
        value: CompactString,
    },
    /// A segment the profile does not allow at this place, or at all.
    UnexpectedSegment {
        /// Its id.
        id: CompactString,
        /// True when the profile knows the segment elsewhere (out of order).
        known: bool,
    },
    /// A field, component or subcomponent beyond what the profile defines.
    UnexpectedElement {
        /// What is there.
        what: String,
    },
    /// MSH-9 names another message than the profile's.
    WrongMessageType {
        /// The profile's `TYPE^EVENT`.
        expected: String,
        /// MSH-9 as sent.
        found: String,
    },
    /// A mapping for a destination could not produce its message (a crosswalk refused a code,
    /// a required target had no source, a conversion failed).
    Unmapped {
        /// The destination's HL7 path that could not be filled, e.g. `OBX-3`.
        target: String,
        /// What went wrong.
        message: String,
    },
}

/// One finding of the validator, with its HL7 location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// How serious.
    pub severity: Severity,
    /// What is wrong.
    pub kind: ProblemKind,
    /// Where: segment, field, repetition, component, subcomponent, byte offset.
    pub location: Location,
}

impl Problem {
    /// The HL7 error code (table 0357) and its text, for ERR-3.
    pub fn hl7_error_code(&self) -> (&'static str, &'static str) {
        match &self.kind {
            ProblemKind::UnexpectedSegment { .. } | ProblemKind::Excluded { .. } => {
                ("100", "Segment sequence error")
            }
            ProblemKind::MissingRequired { .. } => ("101", "Required field missing"),
            ProblemKind::TooLong { .. }
            | ProblemKind::TooShort { .. }
            | ProblemKind::Malformed { .. }
            | ProblemKind::TooMany { .. }
            | ProblemKind::ConstantMismatch { .. }
            | ProblemKind::UnexpectedElement { .. } => ("102", "Data type error"),
            ProblemKind::NotInTable { .. } => ("103", "Table value not found"),
            ProblemKind::WrongMessageType { .. } => ("200", "Unsupported message type"),
            ProblemKind::Unmapped { .. } => ("103", "Table value not found"),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::MissingRequired { what } => write!(f, "required {what} is missing"),
            ProblemKind::Excluded { what } => {
                write!(
                    f,
                    "{what} is present, but the profile excludes it (usage X)"
                )
            }
            ProblemKind::TooMany { what, max, found } => {
                write!(
                    f,
                    "{what} occurs {found} times; the profile allows at most {max}"
                )
            }
            ProblemKind::TooLong { max, found } => {
                write!(
                    f,
                    "value is {found} characters long; the profile allows {max}"
                )
            }
            ProblemKind::TooShort { min, found } => {
                write!(
                    f,
                    "value is {found} characters long; the profile requires at least {min}"
                )
            }
            ProblemKind::ConstantMismatch { expected, found } => {
                write!(f, "value `{found}` differs from the constant `{expected}`")
            }
            ProblemKind::NotInTable { table, value } => {
                write!(f, "value `{value}` is not in table {table}")
            }
            ProblemKind::Malformed { datatype, value } => {
                write!(f, "value `{value}` is not a valid {datatype}")
            }
            ProblemKind::UnexpectedSegment { id, known: true } => {
                write!(f, "segment {id} is not allowed at this place")
            }
            ProblemKind::UnexpectedSegment { id, known: false } => {
                write!(f, "segment {id} is not in the profile")
            }
            ProblemKind::UnexpectedElement { what } => {
                write!(f, "{what} is not defined by the profile")
            }
            ProblemKind::WrongMessageType { expected, found } => {
                write!(
                    f,
                    "message type `{found}` is not the profile's `{expected}`"
                )
            }
            ProblemKind::Unmapped { target, message } => {
                write!(f, "cannot map {target} for its destination: {message}")
            }
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level} at {}: {}", self.location, self.kind)
    }
}
