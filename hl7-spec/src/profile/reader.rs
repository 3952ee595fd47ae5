//! The reader of the standard `HL7v2xConformanceProfile` format into the model.
//!
//! It walks the located XML tree ([`super::xml`]) and records every problem it can find before
//! giving up (like rustc), each pointing at the offending element or attribute.

use crate::error::LoadError;
use crate::model::{
    Code, Condition, Doc, Element, Group, MessageProfile, MetaData, Node, Segment, Usage, ValueSet,
};
use crate::source::SourceFile;

use super::predicate::read_predicate;
use super::values::{component_cardinality, is_segment_name, parse_usage, Diag, USAGE_CODES};
use super::xml::{normalize, parse_document, trimmed, XmlElement};

/// The root element of the standard format.
pub(crate) const ROOT: &str = "HL7v2xConformanceProfile";

/// Reads a whole profile file.
pub(crate) fn read(file: &SourceFile) -> Result<MessageProfile, LoadError> {
    let root = parse_document(file)?;
    read_root_of(file, &root)
}

/// Reads a profile from its parsed document.
pub(crate) fn read_root_of(
    file: &SourceFile,
    root: &XmlElement,
) -> Result<MessageProfile, LoadError> {
    let mut d = Diag::new(file);
    let profile = read_root(&mut d, root);
    d.finish(profile)
}

/// A profile with nothing in it, at `span`.
pub(crate) fn empty_profile(file: &SourceFile, offset: usize) -> MessageProfile {
    MessageProfile {
        hl7_version: String::new(),
        profile_type: None,
        meta: MetaData::default(),
        msg_type: String::new(),
        event_type: String::new(),
        structure_id: String::new(),
        role: None,
        event_desc: None,
        doc: Doc::default(),
        children: Vec::new(),
        value_sets: Vec::new(),
        span: file.span(offset),
    }
}

fn read_root(d: &mut Diag<'_>, root: &XmlElement) -> MessageProfile {
    let mut profile = empty_profile(d.file, root.offset);
    if root.name != ROOT {
        let help = match root.name.as_str() {
            "SiteProfile" => "this is a site profile: load it with `load_profile` or `read_site_profile`",
            "ConformanceProfile" => {
                "this is a NIST IGAMT export, not supported; export the profile as HL7v2xConformanceProfile"
            }
            _ => "a conformance profile starts with `<HL7v2xConformanceProfile HL7Version=\"...\">`",
        };
        let error = d
            .at(
                root.offset,
                format!("expected root element `{ROOT}`, found `{}`", root.name),
            )
            .with_help(help);
        d.push(error);
        return profile;
    }
    profile.hl7_version = text_attr(d, root, "HL7Version").unwrap_or_default();
    profile.profile_type = root.attr("ProfileType").map(|a| a.value.trim().to_owned());
    let statics: Vec<&XmlElement> = root
        .children
        .iter()
        .filter(|c| c.name == "HL7v2xStaticDef")
        .collect();
    let meta = root
        .children
        .iter()
        .chain(statics.iter().flat_map(|s| s.children.iter()))
        .find(|c| c.name == "MetaData");
    if let Some(meta) = meta {
        profile.meta = read_meta(meta);
    }
    let root_note = root
        .children
        .iter()
        .find(|c| c.name == "ImpNote")
        .and_then(|n| normalize(&n.text));
    for child in &root.children {
        match child.name.as_str() {
            "ValueSet" => {
                let set = read_value_set(d, child);
                if profile.value_sets.iter().any(|v| v.id == set.id) {
                    d.error(
                        child.offset,
                        format!("value set `{}` is defined twice", set.id),
                    );
                }
                profile.value_sets.push(set);
            }
            "HL7v2xStaticDefRef" => {
                let error = d
                    .at(child.offset, "`HL7v2xStaticDefRef` (a reference to a static definition) is not supported")
                    .with_help("inline the referenced `HL7v2xStaticDef`");
                d.push(error);
            }
            "Segment" | "SegGroup" | "Field" | "Component" | "SubComponent" => {
                d.error(
                    child.offset,
                    format!("a `{}` outside `HL7v2xStaticDef`", child.name),
                );
            }
            _ => {}
        }
    }
    match statics.as_slice() {
        [] => {
            if root.children.iter().all(|c| c.name != "HL7v2xStaticDefRef") {
                let error = d
                    .at(root.offset, "the profile has no `HL7v2xStaticDef`")
                    .with_help("the message is defined in `<HL7v2xStaticDef MsgType=\"...\" EventType=\"...\" MsgStructID=\"...\">`");
                d.push(error);
            }
        }
        [def, rest @ ..] => {
            for extra in rest {
                let error = d
                    .at(extra.offset, "a second `HL7v2xStaticDef`")
                    .with_help("write one message structure per profile file");
                d.push(error);
            }
            read_static_def(d, def, &mut profile);
        }
    }
    if profile.doc.imp_note.is_none() {
        profile.doc.imp_note = root_note;
    }
    profile
}

fn read_static_def(d: &mut Diag<'_>, def: &XmlElement, profile: &mut MessageProfile) {
    profile.span = d.file.span(def.offset);
    profile.msg_type = text_attr(d, def, "MsgType").unwrap_or_default();
    profile.event_type = text_attr(d, def, "EventType").unwrap_or_default();
    profile.structure_id = text_attr(d, def, "MsgStructID").unwrap_or_default();
    profile.event_desc = def
        .attr("EventDesc")
        .map(|a| a.value.split_whitespace().collect::<Vec<_>>().join(" "));
    profile.role = def.attr("Role").map(|a| a.value.trim().to_owned());
    profile.doc = read_doc(d, def);
    if let Some(p) = def.children.iter().find(|c| c.name == "Predicate") {
        d.error(
            p.offset,
            "a `Predicate` on `HL7v2xStaticDef`; predicates belong to conditional elements",
        );
    }
    profile.children = read_nodes(d, def);
    if profile.children.is_empty() && !def.children.iter().any(|c| c.name == "Field") {
        let error = d
            .at(def.offset, "`HL7v2xStaticDef` defines no segments")
            .with_help("a message has at least its `MSH` segment");
        d.push(error);
    }
}

/// Reads `MetaData` attributes (kept verbatim, empty ones included).
pub(crate) fn read_meta(el: &XmlElement) -> MetaData {
    let get = |name: &str| el.attr(name).map(|a| a.value.trim().to_owned());
    MetaData {
        name: get("Name"),
        org_name: get("OrgName"),
        version: get("Version"),
        status: get("Status"),
        topics: get("Topics"),
    }
}

/// Reads a `<ValueSet Id Name><Value Code Description/></ValueSet>` (an extension of the
/// standard format, shared with site profiles).
pub(crate) fn read_value_set(d: &mut Diag<'_>, el: &XmlElement) -> ValueSet {
    let id = text_attr(d, el, "Id").unwrap_or_default();
    let mut values = Vec::new();
    for child in &el.children {
        if child.name != "Value" {
            let error = d
                .at(
                    child.offset,
                    format!("unexpected `{}` in a `ValueSet`", child.name),
                )
                .with_help(
                    "a value set holds `<Value Code=\"...\" Description=\"...\"/>` elements",
                );
            d.push(error);
            continue;
        }
        let Some(code) = d.required(child, "Code") else {
            continue;
        };
        if values.iter().any(|v: &Code| v.code == code.value) {
            d.error(
                code.offset,
                format!("code `{}` is listed twice in value set `{id}`", code.value),
            );
        }
        values.push(Code {
            code: code.value.clone(),
            description: child.attr("Description").and_then(|a| trimmed(&a.value)),
        });
    }
    ValueSet {
        name: el.attr("Name").and_then(|a| trimmed(&a.value)),
        id,
        values,
        span: d.file.span(el.offset),
    }
}

/// A required attribute, trimmed.
fn text_attr(d: &mut Diag<'_>, el: &XmlElement, name: &str) -> Option<String> {
    d.required(el, name).map(|a| a.value.trim().to_owned())
}

/// Reads `ImpNote`, `Description` and `Reference` children (whitespace normalised).
pub(crate) fn read_doc(d: &mut Diag<'_>, el: &XmlElement) -> Doc {
    let mut doc = Doc::default();
    for child in &el.children {
        let slot = match child.name.as_str() {
            "ImpNote" => &mut doc.imp_note,
            "Description" => &mut doc.description,
            "Reference" => &mut doc.reference,
            _ => continue,
        };
        if slot.is_some() {
            let error = d
                .at(
                    child.offset,
                    format!("a second `{}` in `{}`", child.name, el.name),
                )
                .with_help("merge the texts into one element");
            d.push(error);
        }
        *slot = normalize(&child.text);
    }
    doc
}

/// Reads the usage of `el`, with the predicate of C/CE.
fn read_usage(d: &mut Diag<'_>, el: &XmlElement) -> Usage {
    read_usage_attr(d, el, true).unwrap_or(Usage::O)
}

/// Reads `Usage` (required or not), with the `Predicate` child and NIST's
/// `PredicateTrueUsage`/`PredicateFalseUsage` of C/CE; a predicate on another usage (or with no
/// usage) is an error. `None` when `Usage` is absent or wrong.
pub(crate) fn read_usage_attr(d: &mut Diag<'_>, el: &XmlElement, required: bool) -> Option<Usage> {
    let attr = if required {
        d.required(el, "Usage")
    } else {
        el.attr("Usage")
    };
    let usage = attr.and_then(|a| d.usage(a));
    let predicates: Vec<&XmlElement> = el
        .children
        .iter()
        .filter(|c| c.name == "Predicate")
        .collect();
    for extra in predicates.iter().skip(1) {
        d.error(
            extra.offset,
            format!("a second `Predicate` in `{}`", el.name),
        );
    }
    let mut condition = Condition::default();
    if let Some(p) = predicates.first() {
        (condition.text, condition.expr) = read_predicate(p);
    }
    let mut stray = predicates.first().map(|p| (p.offset, "Predicate"));
    for (name, slot) in [
        ("PredicateTrueUsage", &mut condition.true_usage),
        ("PredicateFalseUsage", &mut condition.false_usage),
    ] {
        let Some(attr) = el.attr(name) else { continue };
        stray = stray.or(Some((attr.offset, name)));
        let code = attr.value.trim();
        if parse_usage(code).is_none() {
            d.error(
                attr.offset,
                format!("unknown usage `{code}`; expected one of {USAGE_CODES}"),
            );
        }
        *slot = Some(code.to_owned());
    }
    match usage {
        Some(Usage::C(_)) => Some(Usage::C(condition)),
        Some(Usage::CE(_)) => Some(Usage::CE(condition)),
        other => {
            if let Some((offset, what)) = stray {
                let message = match &other {
                    Some(usage) => format!("`{what}` on an element with usage `{usage}`"),
                    None if attr.is_none() => format!("`{what}` on an element without `Usage`"),
                    None => return other,
                };
                let error = d
                    .at(offset, message)
                    .with_help("predicates apply only to usage `C` and `CE`");
                d.push(error);
            }
            other
        }
    }
}

/// Reads the segments and groups inside a static definition or group.
fn read_nodes(d: &mut Diag<'_>, parent: &XmlElement) -> Vec<Node> {
    let mut nodes = Vec::new();
    for child in &parent.children {
        match child.name.as_str() {
            "Segment" => nodes.push(Node::Segment(read_segment(d, child))),
            "SegGroup" => nodes.push(Node::Group(read_group(d, child))),
            "Field" => {
                let error = d
                    .at(
                        child.offset,
                        format!("a `Field` directly inside `{}`", parent.name),
                    )
                    .with_help("fields belong inside a `Segment`");
                d.push(error);
            }
            "Component" | "SubComponent" => misplaced(d, child, "Field"),
            _ => {}
        }
    }
    nodes
}

fn misplaced(d: &mut Diag<'_>, el: &XmlElement, parent: &str) {
    let error = d
        .at(el.offset, format!("a `{}` outside a `{parent}`", el.name))
        .with_help(format!(
            "put the `{}` inside the `{parent}` it belongs to",
            el.name
        ));
    d.push(error);
}

fn read_group(d: &mut Diag<'_>, el: &XmlElement) -> Group {
    let name = text_attr(d, el, "Name").unwrap_or_default();
    let usage = read_usage(d, el);
    let cardinality = d
        .cardinality(el, Some(&usage), None)
        .unwrap_or(component_cardinality(&usage));
    let doc = read_doc(d, el);
    let children = read_nodes(d, el);
    if children.is_empty() {
        let error = d
            .at(el.offset, format!("segment group `{name}` is empty"))
            .with_help("a `SegGroup` holds at least one `Segment`");
        d.push(error);
    }
    Group {
        long_name: el.attr("LongName").and_then(|a| trimmed(&a.value)),
        name,
        usage,
        cardinality,
        doc,
        children,
        span: d.file.span(el.offset),
    }
}

fn read_segment(d: &mut Diag<'_>, el: &XmlElement) -> Segment {
    let name = match d.required(el, "Name") {
        Some(attr) => {
            let name = attr.value.trim().to_owned();
            if !is_segment_name(&name) {
                let error = d
                    .at(
                        attr.offset,
                        format!("segment name `{name}` is not 3 upper-case letters or digits"),
                    )
                    .with_help("segment IDs look like `PID`, `OBX` or `ZBE`");
                d.push(error);
            }
            name
        }
        None => String::new(),
    };
    let usage = read_usage(d, el);
    let cardinality = d
        .cardinality(el, Some(&usage), None)
        .unwrap_or(component_cardinality(&usage));
    let doc = read_doc(d, el);
    let mut fields = Vec::new();
    for child in &el.children {
        match child.name.as_str() {
            "Field" => {
                let position = fields.len() + 1;
                fields.push(read_element(d, child, Level::Field, position));
            }
            "Component" => misplaced(d, child, "Field"),
            "SubComponent" => misplaced(d, child, "Component"),
            "Segment" | "SegGroup" => {
                d.error(
                    child.offset,
                    format!("a `{}` inside segment `{name}`", child.name),
                );
            }
            _ => {}
        }
    }
    Segment {
        long_name: el.attr("LongName").and_then(|a| trimmed(&a.value)),
        name,
        usage,
        cardinality,
        doc,
        fields,
        span: d.file.span(el.offset),
    }
}

/// The three levels of elements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Field,
    Component,
    SubComponent,
}

fn read_element(d: &mut Diag<'_>, el: &XmlElement, level: Level, position: usize) -> Element {
    let name = d
        .required(el, "Name")
        .and_then(|a| trimmed(&a.value))
        .unwrap_or_default();
    let usage = read_usage(d, el);
    let datatype = text_attr(d, el, "Datatype").unwrap_or_default();
    let default = (level != Level::Field).then(|| component_cardinality(&usage));
    let cardinality = d
        .cardinality(el, Some(&usage), default)
        .unwrap_or(component_cardinality(&usage));
    let length = d.length(el);
    let doc = read_doc(d, el);
    let example_values = el
        .children
        .iter()
        .filter(|c| c.name == "DataValues")
        .filter_map(|c| c.attr("ExValue").map(|a| a.value.clone()))
        .collect();
    let mut children = Vec::new();
    for child in &el.children {
        match (level, child.name.as_str()) {
            (Level::Field, "Component") => {
                let position = children.len() + 1;
                children.push(read_element(d, child, Level::Component, position));
            }
            (Level::Component, "SubComponent") => {
                let position = children.len() + 1;
                children.push(read_element(d, child, Level::SubComponent, position));
            }
            (Level::Field, "SubComponent") => {
                let error = d
                    .at(child.offset, "a `SubComponent` directly inside a `Field`")
                    .with_help("wrap it in the `Component` it belongs to");
                d.push(error);
            }
            (Level::Component, "Component") => {
                let error = d
                    .at(child.offset, "a `Component` inside a `Component`")
                    .with_help("the parts of a component are `SubComponent`s");
                d.push(error);
            }
            (Level::SubComponent, "SubComponent" | "Component") => {
                let error = d
                    .at(
                        child.offset,
                        format!("a `{}` inside a `SubComponent`", child.name),
                    )
                    .with_help("subcomponents are the innermost level and have no parts");
                d.push(error);
            }
            (_, "Field" | "Segment" | "SegGroup") => {
                d.error(
                    child.offset,
                    format!("a `{}` inside a `{}`", child.name, el.name),
                );
            }
            _ => {}
        }
    }
    Element {
        position: u16::try_from(position).unwrap_or(u16::MAX),
        name,
        usage,
        cardinality,
        datatype,
        length,
        table: el.attr("Table").map(|a| a.value.trim().to_owned()),
        constant: el.attr("ConstantValue").map(|a| a.value.clone()),
        item_no: el.attr("ItemNo").map(|a| a.value.trim().to_owned()),
        example_values,
        doc,
        children,
        span: d.file.span(el.offset),
    }
}
