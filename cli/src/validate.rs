//! `hl7 validate`: every message of every file against one profile.
//!
//! The profile (either format) becomes the validator's rules once
//! ([`hl7_codegen::dynamic::rules_for`]); each message gets a
//! [`Report`](hl7_runtime::validate::Report). Problems print one a line, located in the
//! message (`PID(3)-8[1] @ byte 123`, offsets relative to the message's own text), then a
//! summary. Warnings do not make a message invalid.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hl7_runtime::er7::Location;
use hl7_runtime::validate::{validate, Problem, Severity};
use serde_json::{json, Value};

use crate::input::{describe, Input};
use crate::{report, Status};

/// Counts for the summary line.
#[derive(Debug, Default)]
struct Summary {
    messages: usize,
    valid: usize,
    invalid: usize,
    errors: usize,
    warnings: usize,
    /// Files or messages that could not be read or parsed.
    unreadable: usize,
}

/// Runs `hl7 validate --profile profile files...`.
pub(crate) fn run(
    profile: &Path,
    files: &[PathBuf],
    json: bool,
    out: &mut dyn Write,
) -> io::Result<Status> {
    let profile = match hl7_spec::profile::load_profile(profile) {
        Ok(profile) => profile,
        Err(err) => {
            if err.spec_errors().is_empty() {
                report(&err);
            } else {
                report(format_args!(
                    "{err}\n\nerror: cannot load the profile `{}`",
                    profile.display()
                ));
            }
            return Ok(Status::Failed);
        }
    };
    let rules = hl7_codegen::dynamic::rules_for(&profile);
    let mut summary = Summary::default();
    let mut reports = Vec::new();
    for path in files {
        let input = match Input::read(path) {
            Ok(input) => input,
            Err(err) => {
                report(err);
                summary.unreadable += 1;
                continue;
            }
        };
        let entries = match input.messages() {
            Ok(entries) => entries,
            Err(err) => {
                report(err);
                summary.unreadable += 1;
                continue;
            }
        };
        for (number, parsed) in entries {
            let message = match parsed {
                Ok(message) => message,
                Err(err) => {
                    report(format_args!(
                        "{}: {}: {err}",
                        input.path,
                        describe(number, None)
                    ));
                    summary.unreadable += 1;
                    continue;
                }
            };
            let result = validate(&message, rules);
            let what = describe(number, Some(&message));
            summary.messages += 1;
            if result.is_valid() {
                summary.valid += 1;
            } else {
                summary.invalid += 1;
            }
            for problem in &result.problems {
                match problem.severity {
                    Severity::Error => summary.errors += 1,
                    Severity::Warning => summary.warnings += 1,
                }
                if !json {
                    writeln!(out, "{}: {what}: {problem}", input.path)?;
                }
            }
            if json {
                reports.push(json!({
                    "file": input.path,
                    "message": number,
                    "control_id": message.control_id(),
                    "valid": result.is_valid(),
                    "problems": result.problems.iter().map(problem_json).collect::<Vec<_>>(),
                }));
            }
        }
    }
    if json {
        let document = json!({
            "profile": profile_name(&profile),
            "messages": reports,
            "summary": {
                "messages": summary.messages,
                "valid": summary.valid,
                "invalid": summary.invalid,
                "errors": summary.errors,
                "warnings": summary.warnings,
                "unreadable": summary.unreadable,
            },
        });
        let text = serde_json::to_string_pretty(&document).map_err(io::Error::other)?;
        writeln!(out, "{text}")?;
    } else {
        write_summary(&summary, out)?;
        note_unchecked(&profile);
    }
    Ok(if summary.unreadable > 0 {
        Status::Failed
    } else if summary.invalid > 0 {
        Status::Invalid
    } else {
        Status::Success
    })
}

/// `ORU^R01 (acme_lab_oru)`: what the profile is about.
fn profile_name(profile: &hl7_spec::MessageProfile) -> String {
    let mut name = format!("{}^{}", profile.msg_type, profile.event_type);
    if let Some(meta) = &profile.meta.name {
        name.push_str(&format!(" ({meta})"));
    }
    name
}

fn write_summary(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    write!(
        out,
        "{} checked: {} valid, {} invalid ({}, {})",
        plural(summary.messages, "message"),
        summary.valid,
        summary.invalid,
        plural(summary.errors, "error"),
        plural(summary.warnings, "warning"),
    )?;
    if summary.unreadable > 0 {
        write!(out, "; {} could not be read", summary.unreadable)?;
    }
    writeln!(out)
}

fn problem_json(problem: &Problem) -> Value {
    let (code, code_text) = problem.hl7_error_code();
    json!({
        "severity": match problem.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "text": problem.kind.to_string(),
        "hl7_error_code": code,
        "hl7_error_text": code_text,
        "location": location_json(&problem.location),
    })
}

fn location_json(location: &Location) -> Value {
    json!({
        "segment": location.segment_id,
        "segment_index": location.segment_index,
        "field": location.field,
        "repetition": location.repetition,
        "component": location.component,
        "subcomponent": location.subcomponent,
        "byte_offset": location.byte_offset,
        "text": location.to_string(),
    })
}

/// Says which conditional elements were not checked because their predicate is text only.
fn note_unchecked(profile: &hl7_spec::MessageProfile) {
    let unchecked: Vec<(String, String)> = hl7_codegen::unchecked_predicates(profile);
    if unchecked.is_empty() {
        return;
    }
    let first: Vec<&str> = unchecked
        .iter()
        .take(5)
        .map(|(path, _)| path.as_str())
        .collect();
    eprintln!(
        "note: {} conditional element(s) have a predicate in text only, not checked: {}{}",
        unchecked.len(),
        first.join(", "),
        if unchecked.len() > first.len() {
            ", ..."
        } else {
            ""
        }
    );
}
