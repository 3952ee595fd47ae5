//! The one validator: checks any message, through the generic view, against profile rules.
//!
//! Generated types carry their profile as static [`rules`](crate::rules); a profile loaded at
//! run time is turned into the same rules. Both are checked here, so a typed parse and
//! `hl7 validate` report the same problems at the same locations.

mod condition;
mod fields;
pub mod format;
mod problem;
mod structure;

pub use problem::{Problem, ProblemKind, Severity};
pub use structure::{match_structure, Matched, MatchedGroup, MatchedTree, Occurrences};

use crate::er7::{DelimiterIndex, Location, Message};
use crate::rules::{MessageRule, NodeKind, NodeRule};

/// The outcome of validating one message.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every problem found, in message order per check.
    pub problems: Vec<Problem>,
    /// Where each segment went in the structure.
    pub matched: MatchedTree,
}

impl Report {
    /// True when no problem is an error.
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(Problem::is_error)
    }
}

/// Validates `message` against `rule`: message type, segment structure, then every field of
/// every placed segment.
pub fn validate(message: &Message<'_>, rule: &'static MessageRule) -> Report {
    let mut problems = Vec::new();
    check_message_type(message, rule, &mut problems);
    let matched = match_structure(message, rule.children, &mut problems);
    let index = DelimiterIndex::new(message.text(), &message.delimiters());
    check_group(
        message,
        &index,
        rule.children,
        matched.root(),
        &mut problems,
    );
    Report { problems, matched }
}

fn check_message_type(message: &Message<'_>, rule: &MessageRule, problems: &mut Vec<Problem>) {
    let (msg_type, event, structure) = message.message_type();
    let msg_type = msg_type.unwrap_or("");
    let event = event.unwrap_or("");
    let type_ok = msg_type == rule.msg_type;
    // A profile of a whole structure (no event) takes every event that uses the structure.
    let structure = structure.unwrap_or("");
    let event_ok = match rule.event {
        "" => structure.is_empty() || structure == rule.structure,
        "ALL" => true,
        expected => event == expected,
    };
    if !(type_ok && event_ok) {
        let msh = message.msh();
        let location = msh.field(9).map_or_else(
            || Location {
                field: Some(9),
                ..msh.location()
            },
            |f| Location {
                field: Some(9),
                byte_offset: f.offset(),
                ..msh.location()
            },
        );
        problems.push(Problem {
            severity: Severity::Error,
            kind: ProblemKind::WrongMessageType {
                expected: format!("{}^{}", rule.msg_type, rule.event),
                found: format!("{msg_type}^{event}"),
            },
            location,
        });
    }
}

fn check_group(
    message: &Message<'_>,
    index: &DelimiterIndex<'_>,
    rules: &[NodeRule],
    matched: MatchedGroup<'_>,
    problems: &mut Vec<Problem>,
) {
    for (node, occurrences) in rules.iter().zip(matched.children()) {
        if occurrences.len() as u64 > u64::from(node.max) {
            let location = match occurrences.get(node.max as usize) {
                Some(Matched::Segment(i)) => message
                    .segment_at(i)
                    .map(|s| s.location())
                    .unwrap_or_default(),
                _ => Location {
                    segment_id: node.name().into(),
                    ..Location::default()
                },
            };
            problems.push(Problem {
                severity: Severity::Error,
                kind: ProblemKind::TooMany {
                    what: format!("segment {}", node.name()),
                    max: node.max,
                    found: occurrences.len() as u32,
                },
                location,
            });
        }
        for occurrence in occurrences.iter() {
            match (occurrence, node.kind) {
                (Matched::Segment(i), NodeKind::Segment(rule)) => {
                    if let Some(segment) = message.segment_at(i) {
                        fields::check_segment(&segment, rule, index, problems);
                    }
                }
                (Matched::Group(inner), NodeKind::Group(group)) => {
                    check_group(message, index, group.children, inner, problems);
                }
                _ => {}
            }
        }
    }
}
