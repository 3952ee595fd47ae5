//! The compatibility report of two profiles of one message: what a receiver expects that a
//! sender's conformant messages may not give it.
//!
//! [`compare`] walks a sender profile and a receiver profile side by side and lists, per
//! element, what would make the receiver reject, drop or misread a message that conforms to the
//! sender's profile: the work a new interface needs before anyone writes a mapping.
//!
//! ```
//! use hl7_spec::compat::{compare, Severity};
//!
//! let base = hl7_spec::base::load("2.5.1")?;
//! let sender = base.to_profile("ORU_R01")?;
//! let mut receiver = sender.clone();
//! // The receiver requires PID-8 (Administrative Sex), which the base leaves optional.
//! # use hl7_spec::{Node, Usage};
//! # fn pid(nodes: &mut [Node]) -> Option<&mut hl7_spec::Segment> {
//! #     nodes.iter_mut().find_map(|n| match n {
//! #         Node::Segment(s) if s.name == "PID" => Some(s),
//! #         Node::Group(g) => pid(&mut g.children),
//! #         _ => None,
//! #     })
//! # }
//! pid(&mut receiver.children).unwrap().fields[7].usage = Usage::R;
//! let report = compare(&sender, &receiver);
//! assert!(report.has_errors());
//! assert_eq!(report.findings[0].path, "PATIENT_RESULT/PATIENT/PID-8");
//! assert_eq!(report.findings[0].severity, Severity::Error);
//! # Ok::<(), hl7_spec::LoadError>(())
//! ```
//!
//! ## What is compared
//! Segments and groups are matched by group path and name (the n-th of same-named siblings with
//! the n-th), fields, components and subcomponents by position. Only what the sender may send
//! (usage other than `X`/`W`) and the receiver does not exclude is compared further.
//!
//! | finding | severity |
//! |---|---|
//! | message type, event or structure differ | error ([`FindingKind::MessageDiffers`]; a different type or structure stops the comparison) |
//! | HL7 versions differ | warning ([`FindingKind::VersionDiffers`]) |
//! | receiver requires (`R`) what the sender may omit or never sends | error |
//! | sender may send what the receiver excludes (`X`/`W`) | error |
//! | sender may send a segment or group the receiver's profile lacks | error (a validating receiver rejects unexpected segments) |
//! | sender may send a field or component beyond the receiver's last | warning (receivers ignore trailing elements, with a warning) |
//! | receiver requires a segment, group or element the sender's profile lacks | error; optional ones are info (segments and groups only) |
//! | more repetitions at the sender than the receiver's maximum, fewer than its minimum | error |
//! | a maximum length beyond the receiver's, a minimum length below it | error; warning when the sender states no maximum |
//! | constants that differ | error; warning when only the receiver fixes the value |
//! | receiver conditional (`C`/`CE`) where the sender may omit the element | warning (the predicate decides) |
//! | datatypes differ | warning |
//! | bound tables differ, or codes the sender may send missing from the receiver's table | warning; info when the tables differ by id only |
//!
//! **Different HL7 versions.** A version difference is a warning, not an error: HL7 v2 is
//! designed to be read across versions (later versions add fields and components at the end and
//! receivers ignore what they do not know), so the comparison goes on element by element, by
//! position, and reports the concrete consequences: lengths that shrink, datatypes renamed
//! (`CE` -> `CWE`, `TS` -> `DTM`), fields beyond the receiver's segment. Tables are looked up in
//! each profile's own base version. What the report cannot see is a receiver that refuses every
//! message whose MSH-12 is not its own version: the warning says to check that.
//!
//! Codes are compared when both sides know the values of their table: a value set the profile
//! defines (`profile.value_sets`), else the table of its base version
//! ([`crate::base::load`]). At most ten missing codes are listed, then how many more.

mod names;
mod tables;
mod walk;

use std::fmt;

use crate::model::MessageProfile;
use crate::source::Span;

/// How serious a finding is.
///
/// Ordered by gravity: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; no message is lost or rejected because of it.
    Info,
    /// May lose or misread data, or be rejected depending on values (tables, datatypes,
    /// predicates).
    Warning,
    /// The receiver would reject (or drop data of) messages that conform to the sender's profile.
    Error,
}

impl Severity {
    /// `error`, `warning` or `info`, as the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// The profiles describe different messages (type, event or structure).
    MessageDiffers,
    /// The profiles constrain different HL7 versions.
    VersionDiffers,
    /// A profile states a role that does not fit its side (a sender profile with
    /// `Role="Receiver"`).
    RoleMismatch,
    /// The receiver requires (`R`) an element the sender may omit or never sends.
    RequiredAtReceiver,
    /// The receiver's usage is conditional (`C`/`CE`) and the sender may omit the element.
    ConditionalAtReceiver,
    /// The sender may send an element the receiver excludes (`X`/`W`).
    ExcludedAtReceiver,
    /// The sender may send a segment, group or element the receiver's profile does not define.
    MissingAtReceiver,
    /// The receiver's profile defines a segment, group or element the sender's does not.
    MissingAtSender,
    /// The sender may send more repetitions than the receiver takes.
    TooManyRepetitions,
    /// The receiver requires more repetitions than the sender guarantees.
    TooFewRepetitions,
    /// The sender may send longer values than the receiver allows.
    LengthShrinks,
    /// The receiver requires longer values than the sender guarantees.
    MinLengthGrows,
    /// The datatypes differ.
    DatatypeDiffers,
    /// The bound tables differ, or only the receiver binds one.
    TableDiffers,
    /// Both bind the same table id, but the sender may send codes the receiver's table lacks.
    CodesMissing,
    /// The constant values differ, or only the receiver fixes one.
    ConstantDiffers,
    /// The base of a profile's HL7 version is not bundled, so base tables are not compared.
    NoBase,
}

/// One difference between the sender's and the receiver's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// What it is about.
    pub kind: FindingKind,
    /// Where in the message: `PATIENT_RESULT/PATIENT/PID-3.4.1`, `PATIENT_RESULT/PATIENT`
    /// (a group), `ROL[2]` (the second of same-named siblings); empty for the message itself.
    pub path: String,
    /// Where the sender's profile declares the element, when it has it.
    pub sender: Option<Span>,
    /// Where the receiver's profile declares the element, when it has it.
    pub receiver: Option<Span>,
    /// The whole sentence, naming the element: `PATIENT_RESULT/PATIENT/PID-8 (Administrative
    /// Sex) is required by the receiver, optional (O) at the sender`.
    pub message: String,
}

impl fmt::Display for Finding {
    /// rustc-style: `error: <message>`, then `  --> <span> (receiver)` and
    /// `  --> <span> (sender)` for the places known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(span) = &self.receiver {
            write!(f, "\n  --> {span} (receiver)")?;
        }
        if let Some(span) = &self.sender {
            write!(f, "\n  --> {span} (sender)")?;
        }
        Ok(())
    }
}

/// What [`compare`] found, in message order (message-level findings first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompatReport {
    /// The findings, in the order of the sender's message, then what only the receiver has.
    pub findings: Vec<Finding>,
}

impl CompatReport {
    /// True when some finding is an [`Severity::Error`]: the receiver would reject messages
    /// that conform to the sender's profile.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The findings of one kind.
    pub fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }

    /// `3 errors, 1 warning, 0 info`, or `compatible: nothing to report`.
    pub fn summary(&self) -> String {
        if self.findings.is_empty() {
            return "compatible: nothing to report".to_owned();
        }
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        format!(
            "{}, {}, {} info",
            plural(self.count(Severity::Error), "error"),
            plural(self.count(Severity::Warning), "warning"),
            self.count(Severity::Info)
        )
    }
}

impl fmt::Display for CompatReport {
    /// Every finding (a blank line between them), then the [`summary`](CompatReport::summary).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}\n")?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Compares a sender's profile with a receiver's profile of the same message.
///
/// See the [module documentation](self) for what is compared and how severe each finding is.
/// The report never fails: when the profiles describe different message types or structures,
/// it holds that one error.
pub fn compare(sender: &MessageProfile, receiver: &MessageProfile) -> CompatReport {
    CompatReport {
        findings: walk::compare(sender, receiver),
    }
}
