//! `ZSegment`: a site-defined segment with its fields, inserted into the structure.

use crate::base::BaseVersion;
use crate::model::{Cardinality, Element, MessageProfile, Node, Segment, Usage};
use crate::profile::values::{is_segment_name, Diag};
use crate::profile::xml::{trimmed, XmlElement};
use crate::profile::{read_doc, read_usage_attr};

use super::expand::components;
use super::header::check_element;
use super::path::{entries, parse_node_path, siblings_mut};
use super::rules::{locate, RULE_CHILDREN};

/// Attributes of a `ZSegment`.
pub(crate) const ZSEGMENT_ATTRS: &[&str] = &[
    "Name",
    "LongName",
    "After",
    "Before",
    "Usage",
    "Min",
    "Max",
    "PredicateTrueUsage",
    "PredicateFalseUsage",
];
/// Attributes of a `Field` inside a `ZSegment`.
pub(crate) const ZFIELD_ATTRS: &[&str] = &[
    "Name",
    "Datatype",
    "Usage",
    "Min",
    "Max",
    "Length",
    "MinLength",
    "MaxLength",
    "Table",
    "ConstantValue",
    "ItemNo",
    "PredicateTrueUsage",
    "PredicateFalseUsage",
];

/// Builds the Z-segment of `el` and inserts it where `After`/`Before` say (at the end of the
/// message when neither is given).
pub(crate) fn insert_zsegment(
    d: &mut Diag<'_>,
    base: &BaseVersion,
    profile: &mut MessageProfile,
    el: &XmlElement,
) {
    let Some(segment) = build(d, base, el) else {
        return;
    };
    if let Some(existing) = entries(&profile.children)
        .into_iter()
        .find(|e| e.name() == segment.name)
    {
        let error = d
            .at(
                el.offset,
                format!(
                    "segment `{}` is already in the structure, at `{}`",
                    segment.name,
                    existing.display()
                ),
            )
            .with_help(
                "constrain it with `<Segment Path=...>`, or give the new segment another name",
            );
        return d.push(error);
    }
    let place = match (el.attr("After"), el.attr("Before")) {
        (Some(_), Some(before)) => {
            return d.error(before.offset, "give either `After` or `Before`, not both");
        }
        (Some(attr), None) => Some((attr, 1)),
        (None, Some(attr)) => Some((attr, 0)),
        (None, None) => None,
    };
    let Some((attr, shift)) = place else {
        profile.children.push(Node::Segment(segment));
        return;
    };
    let steps = match parse_node_path(&attr.value) {
        Ok(steps) => steps,
        Err(message) => return d.error(attr.value_offset, message),
    };
    let Some(entry) = locate(d, profile, &steps, attr.value.trim(), attr.value_offset) else {
        return;
    };
    let Some((last, _)) = entry.address.split_last() else {
        return;
    };
    if let Some(siblings) = siblings_mut(&mut profile.children, &entry.address) {
        siblings.insert(last + shift, Node::Segment(segment));
    }
}

fn build(d: &mut Diag<'_>, base: &BaseVersion, el: &XmlElement) -> Option<Segment> {
    check_element(
        d,
        el,
        ZSEGMENT_ATTRS,
        &["Field", "ImpNote", "Description", "Reference", "Predicate"],
    );
    let name_attr = d.required(el, "Name")?;
    let name = name_attr.value.trim().to_owned();
    if !name.starts_with('Z') || !is_segment_name(&name) {
        let error = d
            .at(name_attr.offset, format!("Z-segment name `{name}` is not `Z` and two upper-case letters or digits"))
            .with_help("site-defined segments are named like `ZLR`; to constrain a standard segment use `<Segment Path=...>`");
        d.push(error);
    }
    let usage = read_usage_attr(d, el, false).unwrap_or(Usage::O);
    let cardinality = d.cardinality(el, Some(&usage), Some(default_cardinality(&usage)))?;
    let mut fields = Vec::new();
    for child in el.children.iter().filter(|c| c.name == "Field") {
        let position = u16::try_from(fields.len() + 1).unwrap_or(u16::MAX);
        if let Some(field) = build_field(d, base, child, position) {
            fields.push(field);
        }
    }
    Some(Segment {
        name,
        long_name: el.attr("LongName").and_then(|a| trimmed(&a.value)),
        usage,
        cardinality,
        doc: read_doc(d, el),
        fields,
        span: d.file.span(el.offset),
    })
}

fn default_cardinality(usage: &Usage) -> Cardinality {
    Cardinality {
        min: u32::from(usage.is_required()),
        max: Some(1),
    }
}

fn build_field(
    d: &mut Diag<'_>,
    base: &BaseVersion,
    el: &XmlElement,
    position: u16,
) -> Option<Element> {
    check_element(d, el, ZFIELD_ATTRS, RULE_CHILDREN);
    let name = d.required(el, "Name").and_then(|a| trimmed(&a.value));
    let datatype = d
        .required(el, "Datatype")
        .map(|a| (a.value.trim().to_owned(), a.offset));
    let usage = read_usage_attr(d, el, false).unwrap_or(Usage::O);
    let cardinality = d.cardinality(el, Some(&usage), Some(default_cardinality(&usage)));
    let length = d.length(el);
    let (datatype, offset) = datatype?;
    if !base.datatypes.contains_key(&datatype) {
        let error = d
            .at(
                offset,
                format!("unknown data type `{datatype}` in HL7 {}", base.version),
            )
            .with_help(
                "Z-segment fields use data types of the base version, such as `ST`, `CWE` or `XCN`",
            );
        d.push(error);
        return None;
    }
    Some(Element {
        position,
        name: name?,
        usage,
        cardinality: cardinality?,
        children: components(base, &datatype, true),
        datatype,
        length,
        table: el.attr("Table").map(|a| a.value.trim().to_owned()),
        constant: el.attr("ConstantValue").map(|a| a.value.clone()),
        item_no: el.attr("ItemNo").map(|a| a.value.trim().to_owned()),
        example_values: el
            .children
            .iter()
            .filter(|c| c.name == "DataValues")
            .filter_map(|c| c.attr("ExValue").map(|a| a.value.clone()))
            .collect(),
        doc: read_doc(d, el),
        span: d.file.span(el.offset),
    })
}
