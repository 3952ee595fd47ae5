//! Doc comments of generated items: position, datatype, usage, cardinality, length, and the
//! profile's own words.

use hl7_spec::{Doc, Element, Group, MessageProfile, Segment};

fn notes(doc: &Doc) -> String {
    let mut out = String::new();
    for text in [&doc.description, &doc.imp_note].into_iter().flatten() {
        out.push_str("\n\n");
        out.push_str(&escape(text));
    }
    if let Some(reference) = &doc.reference {
        out.push_str(&format!("\n\nReference: {}", escape(reference)));
    }
    out
}

/// Keeps rustdoc from reading profile text as markup it is not.
fn escape(text: &str) -> String {
    text.replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cardinality(min: u32, max: Option<u32>) -> String {
    match max {
        Some(max) => format!("[{min}..{max}]"),
        None => format!("[{min}..*]"),
    }
}

pub(crate) fn message(profile: &MessageProfile, source: &str) -> String {
    let event = if profile.event_type.is_empty() {
        "*"
    } else {
        &profile.event_type
    };
    let mut out = format!(
        "`{}^{event}` message, structure `{}`, HL7 {}.",
        profile.msg_type, profile.structure_id, profile.hl7_version
    );
    if let Some(name) = &profile.meta.name {
        out.push_str(&format!("\n\nProfile `{}`", escape(name)));
        if let Some(org) = &profile.meta.org_name {
            out.push_str(&format!(" of {}", escape(org)));
        }
        if let Some(role) = &profile.role {
            out.push_str(&format!(", role {role}"));
        }
        out.push('.');
    }
    out.push_str(&format!("\n\nGenerated from `{source}`."));
    if let Some(desc) = &profile.event_desc {
        out.push_str(&format!("\n\n{}", escape(desc)));
    }
    out.push_str(&notes(&profile.doc));
    out
}

pub(crate) fn segment(segment: &Segment) -> String {
    let mut out = format!(
        "`{}` {}: usage {}, cardinality {}.",
        segment.name,
        segment.long_name.as_deref().map(escape).unwrap_or_default(),
        segment.usage,
        cardinality(segment.cardinality.min, segment.cardinality.max)
    );
    out.push_str(&notes(&segment.doc));
    out
}

pub(crate) fn group(group: &Group) -> String {
    let mut out = format!(
        "Group `{}`: usage {}, cardinality {}.",
        group.name,
        group.usage,
        cardinality(group.cardinality.min, group.cardinality.max)
    );
    out.push_str(&notes(&group.doc));
    out
}

pub(crate) fn element(label: &str, element: &Element, is_field: bool) -> String {
    let mut out = format!(
        "`{label}` {}: {}, usage {}",
        escape(&element.name),
        element.datatype,
        element.usage
    );
    if is_field {
        out.push_str(&format!(
            ", cardinality {}",
            cardinality(element.cardinality.min, element.cardinality.max)
        ));
    }
    if let Some(length) = element.length {
        out.push_str(&format!(", length {length}"));
    }
    if let Some(table) = &element.table {
        out.push_str(&format!(", table {}", escape(table)));
    }
    if let Some(constant) = &element.constant {
        out.push_str(&format!(", constant `{}`", constant.replace('`', "'")));
    }
    out.push('.');
    if let Some(condition) = element.usage.condition().and_then(|c| c.text.as_ref()) {
        let checked = if crate::constraints::predicate_of(&element.usage).is_some() {
            "checked by the validator"
        } else {
            "text only, not checked"
        };
        out.push_str(&format!("\n\nCondition ({checked}): {}", escape(condition)));
    }
    out.push_str(&notes(&element.doc));
    out
}

pub(crate) fn composite(element: &Element, first_use: &str) -> String {
    format!(
        "`{}` composite, as the profile constrains it at `{first_use}` (and wherever it is the same).",
        element.datatype
    )
}
