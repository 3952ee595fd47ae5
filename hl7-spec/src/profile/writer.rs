//! The writer of the model as a standard `HL7v2xConformanceProfile` file.
//!
//! Output is deterministic: 2-space indent, attributes in the order of the HL7 DTD, child elements
//! in DTD order (`ImpNote`, `Description`, `Reference`, `Predicate`, `DataValues`, parts).
//!
//! What the standard format cannot hold is simplified, and reading the output back gives the
//! same model except for:
//! - structured (NIST) predicates: the expression is dropped; the English text is written as a
//!   text `Predicate` (or, when there is no text, a rendering of the expression), and the true /
//!   false usages as NIST's `PredicateTrueUsage` / `PredicateFalseUsage` attributes;
//! - spans, which point into the new text.
//!
//! The model has no `Encodings` or `DynamicDef`; the writer emits the DTD defaults (`ER7`;
//! `AccAck="NE" AppAck="AL" MsgAckMode="Deferred"`) so the file is valid. Value sets defined by
//! the profile are written after the static definition as `<ValueSet Id Name><Value Code
//! Description/></ValueSet>`, an extension this crate's reader understands.

use std::fmt::Write;

use crate::model::{Cardinality, Doc, Element, Length, MessageProfile, MetaData, Node, Usage};

use super::predicate::describe;
use super::values::component_cardinality;

/// Writes `profile` as a standard `HL7v2xConformanceProfile` document.
pub(crate) fn write(profile: &MessageProfile) -> String {
    let mut w = Writer { out: String::new() };
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut attrs = vec![("HL7Version", profile.hl7_version.clone())];
    push_opt(&mut attrs, "ProfileType", &profile.profile_type);
    w.open(0, "HL7v2xConformanceProfile", &attrs, false);
    w.meta(1, &profile.meta);
    w.open(1, "Encodings", &[], false);
    w.text_element(2, "Encoding", "ER7");
    w.close(1, "Encodings");
    let dynamic = [
        ("AccAck", "NE"),
        ("AppAck", "AL"),
        ("MsgAckMode", "Deferred"),
    ];
    let dynamic: Vec<_> = dynamic.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    w.open(1, "DynamicDef", &dynamic, true);
    let mut attrs = vec![
        ("MsgType", profile.msg_type.clone()),
        ("EventType", profile.event_type.clone()),
        ("MsgStructID", profile.structure_id.clone()),
    ];
    push_opt(&mut attrs, "EventDesc", &profile.event_desc);
    push_opt(&mut attrs, "Role", &profile.role);
    w.open(1, "HL7v2xStaticDef", &attrs, false);
    w.doc(2, &profile.doc);
    for node in &profile.children {
        w.node(2, node);
    }
    w.close(1, "HL7v2xStaticDef");
    for set in &profile.value_sets {
        let mut attrs = vec![("Id", set.id.clone())];
        push_opt(&mut attrs, "Name", &set.name);
        w.open(1, "ValueSet", &attrs, set.values.is_empty());
        if !set.values.is_empty() {
            for code in &set.values {
                let mut attrs = vec![("Code", code.code.clone())];
                push_opt(&mut attrs, "Description", &code.description);
                w.open(2, "Value", &attrs, true);
            }
            w.close(1, "ValueSet");
        }
    }
    w.close(0, "HL7v2xConformanceProfile");
    w.out
}

type Attrs = Vec<(&'static str, String)>;

fn push_opt(attrs: &mut Attrs, name: &'static str, value: &Option<String>) {
    if let Some(value) = value {
        attrs.push((name, value.clone()));
    }
}

fn max_text(max: Option<u32>) -> String {
    max.map_or_else(|| "*".to_owned(), |m| m.to_string())
}

fn push_cardinality(attrs: &mut Attrs, card: Cardinality) {
    attrs.push(("Min", card.min.to_string()));
    attrs.push(("Max", max_text(card.max)));
}

fn push_length(attrs: &mut Attrs, length: Option<Length>) {
    match length {
        None => {}
        Some(Length { min: 0, max }) => attrs.push(("Length", max_text(max))),
        Some(Length { min, max }) => {
            attrs.push(("MinLength", min.to_string()));
            attrs.push(("MaxLength", max_text(max)));
        }
    }
}

/// The usage attribute, plus NIST's true/false usages of a condition.
fn push_usage(attrs: &mut Attrs, usage: &Usage) {
    attrs.push(("Usage", usage.code().to_owned()));
    if let Some(condition) = usage.condition() {
        push_opt(attrs, "PredicateTrueUsage", &condition.true_usage);
        push_opt(attrs, "PredicateFalseUsage", &condition.false_usage);
    }
}

struct Writer {
    out: String,
}

impl Writer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn open(&mut self, depth: usize, name: &str, attrs: &[(&str, String)], empty: bool) {
        self.indent(depth);
        let _ = write!(self.out, "<{name}");
        for (key, value) in attrs {
            let _ = write!(self.out, " {key}=\"{}\"", escape(value, true));
        }
        self.out.push_str(if empty { "/>\n" } else { ">\n" });
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn text_element(&mut self, depth: usize, name: &str, text: &str) {
        self.indent(depth);
        let _ = writeln!(self.out, "<{name}>{}</{name}>", escape(text, false));
    }

    fn meta(&mut self, depth: usize, meta: &MetaData) {
        let mut attrs = Vec::new();
        push_opt(&mut attrs, "Name", &meta.name);
        push_opt(&mut attrs, "OrgName", &meta.org_name);
        push_opt(&mut attrs, "Version", &meta.version);
        push_opt(&mut attrs, "Status", &meta.status);
        push_opt(&mut attrs, "Topics", &meta.topics);
        self.open(depth, "MetaData", &attrs, true);
    }

    fn doc(&mut self, depth: usize, doc: &Doc) {
        for (name, text) in [
            ("ImpNote", &doc.imp_note),
            ("Description", &doc.description),
            ("Reference", &doc.reference),
        ] {
            if let Some(text) = text {
                self.text_element(depth, name, text);
            }
        }
    }

    fn predicate(&mut self, depth: usize, usage: &Usage) {
        let Some(condition) = usage.condition() else {
            return;
        };
        let text = condition
            .text
            .clone()
            .or_else(|| condition.expr.as_ref().map(describe));
        if let Some(text) = text {
            self.text_element(depth, "Predicate", &text);
        }
    }

    /// True when an element with this doc and usage has child elements to write.
    fn has_notes(doc: &Doc, usage: &Usage) -> bool {
        *doc != Doc::default()
            || usage
                .condition()
                .is_some_and(|c| c.text.is_some() || c.expr.is_some())
    }

    fn node(&mut self, depth: usize, node: &Node) {
        match node {
            Node::Group(group) => {
                let mut attrs = vec![("Name", group.name.clone())];
                push_opt(&mut attrs, "LongName", &group.long_name);
                push_usage(&mut attrs, &group.usage);
                push_cardinality(&mut attrs, group.cardinality);
                self.open(depth, "SegGroup", &attrs, false);
                self.doc(depth + 1, &group.doc);
                self.predicate(depth + 1, &group.usage);
                for child in &group.children {
                    self.node(depth + 1, child);
                }
                self.close(depth, "SegGroup");
            }
            Node::Segment(segment) => {
                let mut attrs = vec![("Name", segment.name.clone())];
                push_opt(&mut attrs, "LongName", &segment.long_name);
                push_usage(&mut attrs, &segment.usage);
                push_cardinality(&mut attrs, segment.cardinality);
                let empty =
                    segment.fields.is_empty() && !Self::has_notes(&segment.doc, &segment.usage);
                self.open(depth, "Segment", &attrs, empty);
                if empty {
                    return;
                }
                self.doc(depth + 1, &segment.doc);
                self.predicate(depth + 1, &segment.usage);
                for field in &segment.fields {
                    self.element(depth + 1, field, 0);
                }
                self.close(depth, "Segment");
            }
        }
    }

    /// Writes a field (`level` 0), component (1) or subcomponent (2).
    fn element(&mut self, depth: usize, el: &Element, level: usize) {
        let tag = ["Field", "Component", "SubComponent"][level.min(2)];
        let mut attrs = vec![("Name", el.name.clone())];
        push_usage(&mut attrs, &el.usage);
        if level == 0 || el.cardinality != component_cardinality(&el.usage) {
            push_cardinality(&mut attrs, el.cardinality);
        }
        attrs.push(("Datatype", el.datatype.clone()));
        push_length(&mut attrs, el.length);
        push_opt(&mut attrs, "Table", &el.table);
        push_opt(&mut attrs, "ConstantValue", &el.constant);
        push_opt(&mut attrs, "ItemNo", &el.item_no);
        let empty = el.children.is_empty()
            && el.example_values.is_empty()
            && !Self::has_notes(&el.doc, &el.usage);
        self.open(depth, tag, &attrs, empty);
        if empty {
            return;
        }
        self.doc(depth + 1, &el.doc);
        self.predicate(depth + 1, &el.usage);
        for value in &el.example_values {
            self.open(depth + 1, "DataValues", &[("ExValue", value.clone())], true);
        }
        for child in &el.children {
            self.element(depth + 1, child, level + 1);
        }
        self.close(depth, tag);
    }
}

/// Escapes text for XML; in attributes also quotes and whitespace that would be normalised.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}
