//! `hl7 compat`: what a receiver's profile expects that a sender's conformant messages may not
//! give it ([`hl7_spec::compat`]).
//!
//! Text output is the report as rustc-style diagnostics, then a summary; `--format json` is one
//! document. Exit code 1 when a finding is an error (the receiver would reject conformant
//! messages of the sender), 0 otherwise, 2 when a profile cannot be loaded.

use std::io::{self, Write};
use std::path::Path;

use hl7_spec::compat::{CompatReport, Finding};
use hl7_spec::Span;
use serde_json::{json, Value};

use crate::{report, Status};

/// Runs `hl7 compat --sender S --receiver R`.
pub(crate) fn run(
    sender: &Path,
    receiver: &Path,
    json: bool,
    out: &mut dyn Write,
) -> io::Result<Status> {
    // Both are loaded before failing, so every load error shows at once.
    let loaded = [sender, receiver].map(|path| {
        hl7_spec::profile::load_profile(path).map_err(|err| {
            if err.spec_errors().is_empty() {
                report(&err);
            } else {
                report(format_args!(
                    "{err}\n\nerror: cannot load the profile `{}`",
                    path.display()
                ));
            }
        })
    });
    let [Ok(sender_profile), Ok(receiver_profile)] = loaded else {
        return Ok(Status::Failed);
    };
    let result = hl7_spec::compat::compare(&sender_profile, &receiver_profile);
    if json {
        let document = json!({
            "sender": sender.display().to_string(),
            "receiver": receiver.display().to_string(),
            "compatible": !result.has_errors(),
            "summary": summary_json(&result),
            "findings": result.findings.iter().map(finding_json).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&document).map_err(io::Error::other)?;
        writeln!(out, "{text}")?;
    } else {
        writeln!(out, "{result}")?;
    }
    Ok(if result.has_errors() {
        Status::Invalid
    } else {
        Status::Success
    })
}

fn summary_json(result: &CompatReport) -> Value {
    use hl7_spec::compat::Severity;
    json!({
        "errors": result.count(Severity::Error),
        "warnings": result.count(Severity::Warning),
        "info": result.count(Severity::Info),
    })
}

fn finding_json(finding: &Finding) -> Value {
    let span = |span: &Option<Span>| span.as_ref().map(ToString::to_string);
    json!({
        "severity": finding.severity.as_str(),
        "kind": snake_case(&format!("{:?}", finding.kind)),
        "path": finding.path,
        "message": finding.message,
        "receiver": span(&finding.receiver),
        "sender": span(&finding.sender),
    })
}

/// `RequiredAtReceiver` -> `required_at_receiver`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
