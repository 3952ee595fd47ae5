//! How the report names things: paths of nodes and elements, labels for sentences, usages.

use crate::model::{Element, MessageProfile, Node, Usage};

/// A node's identity among its siblings: group or segment, name, 1-based rank among the
/// same-named.
#[derive(PartialEq, Eq)]
pub(super) struct Key<'n> {
    pub(super) group: bool,
    pub(super) name: &'n str,
    pub(super) rank: usize,
}

pub(super) fn keys(nodes: &[Node]) -> Vec<Key<'_>> {
    let mut out: Vec<Key<'_>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let group = matches!(node, Node::Group(_));
        let name = node.name();
        let rank = 1 + out
            .iter()
            .filter(|k| k.group == group && k.name == name)
            .count();
        out.push(Key { group, name, rank });
    }
    out
}

/// `PARENT/NAME`, with `[rank]` when either side has several siblings of that name.
pub(super) fn node_path(
    parent: &str,
    key: &Key<'_>,
    sender: &[Key<'_>],
    receiver: &[Key<'_>],
) -> String {
    let count = |keys: &[Key<'_>]| {
        keys.iter()
            .filter(|k| k.group == key.group && k.name == key.name)
            .count()
    };
    let mut path = if parent.is_empty() {
        key.name.to_owned()
    } else {
        format!("{parent}/{}", key.name)
    };
    if count(sender).max(count(receiver)) > 1 {
        path.push_str(&format!("[{}]", key.rank));
    }
    path
}

/// The last segment of a path: `PID-3` of `PATIENT_RESULT/PATIENT/PID-3`.
pub(super) fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `segment PATIENT_RESULT/PATIENT/PID (Patient Identification)` or `group PATIENT_RESULT`.
pub(super) fn node_label(path: &str, s: &Node, r: &Node) -> String {
    match (r, s) {
        (Node::Segment(r), Node::Segment(s)) => {
            match r.long_name.as_deref().or(s.long_name.as_deref()) {
                Some(name) => format!("segment {path} ({name})"),
                None => format!("segment {path}"),
            }
        }
        _ => format!("group {path}"),
    }
}

/// `PATIENT_RESULT/PATIENT/PID-8 (Administrative Sex)`, named as the receiver names it.
pub(super) fn element_label(path: &str, s: &Element, r: &Element) -> String {
    let name = if r.name.trim().is_empty() {
        s.name.trim()
    } else {
        r.name.trim()
    };
    if name.is_empty() {
        path.to_owned()
    } else {
        format!("{path} ({name})")
    }
}

/// `optional (O)`, `not supported (X)`...
pub(super) fn usage_text(usage: &Usage) -> String {
    let what = match usage {
        Usage::R => "required",
        Usage::RE => "required but may be empty",
        Usage::O => "optional",
        Usage::C(_) => "conditional",
        Usage::CE(_) => "conditional, may be empty",
        Usage::X => "not supported",
        Usage::B => "kept for backward compatibility",
        Usage::W => "withdrawn",
    };
    format!("{what} ({usage})")
}

/// `: If OBX-11 is not D`, shortened to about 80 characters; empty without a text.
pub(super) fn predicate(text: Option<&str>) -> String {
    const MAX: usize = 80;
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => String::new(),
        Some(text) if text.chars().count() <= MAX => format!(": {text}"),
        Some(text) => format!(
            ": {}…",
            text.chars().take(MAX).collect::<String>().trim_end()
        ),
    }
}

/// `ADT^A01 (ADT_A01)`.
pub(super) fn describe_message(profile: &MessageProfile) -> String {
    let event = if profile.event_type.is_empty() {
        String::new()
    } else {
        format!("^{}", profile.event_type)
    };
    format!("{}{event} ({})", profile.msg_type, profile.structure_id)
}
