//! The text of `hl7 messages show`: one message's every stage, in the order they happened.
//!
//! ```text
//! message 1: ORU^R01 from LIS/ACME, control ID ACME00017, patient 881234
//! received  2024-11-27T02:00:00.000Z on channel inbound
//! state     routed
//!
//! received message (9 segments):
//!   MSH|^~\&|LIS|...
//!
//! ACK sent:
//!   MSH|...
//!   MSA|AA|ACME00017
//!
//! delivery to ehr (item 1): done after 1 attempt
//!   ...
//! ```

use std::io::{self, Write};

use hl7_runtime::er7::Message;
use hl7_spec::base;
use serde::Deserialize;
use serde_json::Value;

use super::messages::{ids, plural};

/// The base version naming fields when MSH-12 names none that is bundled.
const FALLBACK_VERSION: &str = "2.5.1";

/// The answer of `GET /api/messages/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Detail {
    id: u64,
    received_at: String,
    channel: String,
    #[serde(rename = "type")]
    message_type: String,
    control_id: String,
    sending_application: String,
    sending_facility: String,
    patient_id: Option<String>,
    state: String,
    error: Option<String>,
    edited_from: Option<u64>,
    #[serde(default)]
    edits: Vec<u64>,
    pub(crate) raw: String,
    ack: Option<String>,
    items: Vec<Item>,
    #[serde(default)]
    audit: Vec<Audit>,
}

#[derive(Debug, Deserialize)]
struct Item {
    id: u64,
    destination: String,
    state: String,
    attempts: u32,
    last_error: Option<String>,
    reprocess_of: Option<u64>,
    created_at: String,
    ready_at: String,
    finished_at: Option<String>,
    payload: String,
    attempt_log: Vec<Attempt>,
}

#[derive(Debug, Deserialize)]
struct Attempt {
    attempt: u32,
    started_at: String,
    sent_at: Option<String>,
    finished_at: Option<String>,
    outcome: Option<String>,
    error: Option<String>,
    response: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Audit {
    at: String,
    user: String,
    action: String,
    details: Value,
}

/// The segments of a message's text (separated by `\r`, `\n` or both).
pub(crate) fn segments(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\r', '\n']).filter(|s| !s.is_empty())
}

/// Writes every stage of `d`; `fields` shows the received message field by field.
pub(crate) fn write(d: &Detail, fields: bool, out: &mut dyn Write) -> io::Result<()> {
    let patient = d
        .patient_id
        .as_deref()
        .map_or(String::new(), |p| format!(", patient {p}"));
    writeln!(
        out,
        "message {}: {} from {}/{}, control ID {}{patient}",
        d.id, d.message_type, d.sending_application, d.sending_facility, d.control_id
    )?;
    writeln!(out, "received  {} on channel {}", d.received_at, d.channel)?;
    writeln!(out, "state     {}", d.state)?;
    if let Some(error) = &d.error {
        // The engine lists located problems as `N error(s); error at ...; error at ...`.
        write_block(
            out,
            "error     ",
            &error.replace("; error at ", "\nerror at "),
        )?;
    }
    if let Some(original) = d.edited_from {
        writeln!(out, "edited    from message {original}")?;
    }
    if !d.edits.is_empty() {
        writeln!(out, "replaced  by edited message {}", ids(&d.edits))?;
    }

    let count = segments(&d.raw).count();
    writeln!(
        out,
        "\nreceived message ({count} segment{}):",
        plural(count)
    )?;
    if fields {
        write_fields(&d.raw, out)?;
    } else {
        write_segments(&d.raw, "  ", out)?;
    }

    match &d.ack {
        Some(ack) => {
            writeln!(out, "\nACK sent:")?;
            write_segments(ack, "  ", out)?;
        }
        None => writeln!(out, "\nACK sent: none stored")?,
    }

    if d.items.is_empty() {
        writeln!(out, "\ndeliveries: none (routed nowhere)")?;
    }
    for item in &d.items {
        write_item(item, &d.raw, out)?;
    }

    if !d.audit.is_empty() {
        writeln!(out, "\noperators:")?;
        for a in &d.audit {
            writeln!(
                out,
                "  {}  {}  {}  {}",
                a.at,
                a.user,
                a.action,
                details(&a.details)
            )?;
        }
    }
    Ok(())
}

fn write_item(item: &Item, raw: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "\ndelivery to {} (item {}): {} after {} attempt{}",
        item.destination,
        item.id,
        item.state,
        item.attempts,
        plural(item.attempts as usize)
    )?;
    if let Some(of) = item.reprocess_of {
        writeln!(out, "  a reprocess of item {of}")?;
    }
    let mut times = format!("  queued {}", item.created_at);
    if item.ready_at != item.created_at && item.finished_at.is_none() {
        times.push_str(&format!(", next try {}", item.ready_at));
    }
    if let Some(finished) = &item.finished_at {
        times.push_str(&format!(", finished {finished}"));
    }
    writeln!(out, "{times}")?;
    if let Some(error) = &item.last_error {
        write_block(out, "  last error: ", error)?;
    }
    if item.payload == raw || item.payload.is_empty() {
        writeln!(out, "  payload: the received message, unchanged")?;
    } else {
        writeln!(out, "  payload (mapped):")?;
        write_segments(&item.payload, "    ", out)?;
    }
    for a in &item.attempt_log {
        let mut line = format!("  attempt {}: started {}", a.attempt, a.started_at);
        if let Some(sent) = &a.sent_at {
            line.push_str(&format!(", sent {sent}"));
        }
        if let Some(finished) = &a.finished_at {
            line.push_str(&format!(", finished {finished}"));
        }
        line.push_str(&format!(
            ": {}",
            a.outcome.as_deref().unwrap_or("in progress")
        ));
        writeln!(out, "{line}")?;
        if let Some(error) = &a.error {
            write_block(out, "    error: ", error)?;
        }
        if let Some(response) = &a.response {
            writeln!(out, "    response:")?;
            write_segments(response, "      ", out)?;
        }
    }
    Ok(())
}

/// `label` then `text`, further lines indented under the first.
fn write_block(out: &mut dyn Write, label: &str, text: &str) -> io::Result<()> {
    let indent = " ".repeat(label.chars().count());
    for (i, line) in text.lines().enumerate() {
        let lead = if i == 0 { label } else { &indent };
        writeln!(out, "{lead}{line}")?;
    }
    Ok(())
}

/// Each segment on its own line, after `indent`.
fn write_segments(text: &str, indent: &str, out: &mut dyn Write) -> io::Result<()> {
    for segment in segments(text) {
        writeln!(out, "{indent}{segment}")?;
    }
    Ok(())
}

/// Each valued field on its own line, named by the base version of MSH-12.
fn write_fields(text: &str, out: &mut dyn Write) -> io::Result<()> {
    let text = segments(text).collect::<Vec<_>>().join("\r");
    let message = match Message::parse(&text) {
        Ok(message) => message,
        Err(err) => {
            writeln!(out, "  (cannot be read field by field: {err})")?;
            return write_segments(&text, "  ", out);
        }
    };
    let base = message
        .version()
        .and_then(|v| base::load(v).ok())
        .or_else(|| base::load(FALLBACK_VERSION).ok());
    for segment in message.segments() {
        let id = segment.id();
        let def = base.and_then(|b| b.segments.get(id));
        for field in segment.fields().filter(|f| !f.is_empty()) {
            let n = field.number();
            let name = def
                .and_then(|s| s.fields.iter().find(|f| usize::from(f.position) == n))
                .map_or("", |f| f.name.trim());
            writeln!(
                out,
                "  {:<8} {:<34} {}",
                format!("{id}-{n}"),
                name,
                field.raw()
            )?;
        }
    }
    Ok(())
}

/// An audit entry's details, `key=value` for the ones set.
fn details(details: &Value) -> String {
    match details {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s:?}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}
