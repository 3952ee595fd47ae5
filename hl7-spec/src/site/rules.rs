//! Applying `Segment`, `Group` and `Field` rules of a site profile to the expanded base.

use std::collections::HashMap;

use crate::base::BaseVersion;
use crate::model::{Cardinality, Doc, Element, MessageProfile, Node, Usage};
use crate::profile::values::{component_cardinality, Diag};
use crate::profile::xml::{trimmed, XmlElement};
use crate::profile::{read_doc, read_usage_attr};

use super::expand::components;
use super::path::{find, node_mut, parse_field_path, parse_node_path, Miss, Step};

/// Attributes each rule element accepts.
pub(crate) const NODE_ATTRS: &[&str] = &[
    "Path",
    "Usage",
    "Min",
    "Max",
    "LongName",
    "PredicateTrueUsage",
    "PredicateFalseUsage",
];
/// Attributes of a `Field` rule.
pub(crate) const FIELD_ATTRS: &[&str] = &[
    "Path",
    "Usage",
    "Min",
    "Max",
    "Datatype",
    "Length",
    "MinLength",
    "MaxLength",
    "Table",
    "ConstantValue",
    "PredicateTrueUsage",
    "PredicateFalseUsage",
];
/// Child elements a rule may have.
pub(crate) const RULE_CHILDREN: &[&str] = &[
    "ImpNote",
    "Description",
    "Reference",
    "Predicate",
    "DataValues",
];

/// Remembers which target each rule changed, to refuse two rules for one element.
#[derive(Default)]
pub(crate) struct Seen {
    targets: HashMap<(Vec<usize>, Vec<u16>), usize>,
}

impl Seen {
    /// Records the target of the rule at `offset`; false (after an error) when taken.
    fn claim(
        &mut self,
        d: &mut Diag<'_>,
        key: (Vec<usize>, Vec<u16>),
        path: &str,
        offset: usize,
    ) -> bool {
        match self.targets.get(&key) {
            Some(first) => {
                let first = d.file.span(*first);
                let error = d
                    .at(offset, format!("a second rule for `{path}`"))
                    .with_help(format!(
                        "the first rule for it is at {first}; merge the two"
                    ));
                d.push(error);
                false
            }
            None => {
                self.targets.insert(key, offset);
                true
            }
        }
    }
}

/// Finds the single node `steps` names, or records why not.
pub(crate) fn locate(
    d: &mut Diag<'_>,
    profile: &MessageProfile,
    steps: &[Step],
    text: &str,
    offset: usize,
) -> Option<super::path::Entry> {
    match find(&profile.children, steps) {
        Ok(entry) => Some(entry),
        Err(Miss::Ambiguous(candidates)) => {
            let error = d
                .at(
                    offset,
                    format!("`{text}` is ambiguous in {}", profile.structure_id),
                )
                .with_help(format!("write one of: {}", candidates.join(", ")));
            d.push(error);
            None
        }
        Err(Miss::NotFound(similar)) => {
            let mut error = d.at(
                offset,
                format!("`{text}` is not in {}", profile.structure_id),
            );
            if !similar.is_empty() {
                error = error.with_help(format!("did you mean: {}", similar.join(", ")));
            }
            d.push(error);
            None
        }
    }
}

/// Applies a `<Segment Path>` or `<Group Path>` rule.
pub(crate) fn apply_node_rule(
    d: &mut Diag<'_>,
    profile: &mut MessageProfile,
    el: &XmlElement,
    seen: &mut Seen,
) {
    let Some(path) = d.required(el, "Path") else {
        return;
    };
    let steps = match parse_node_path(&path.value) {
        Ok(steps) => steps,
        Err(message) => return d.error(path.value_offset, message),
    };
    let Some(entry) = locate(d, profile, &steps, path.value.trim(), path.value_offset) else {
        return;
    };
    let want_group = el.name == "Group";
    if entry.is_group != want_group {
        let (is, use_) = if entry.is_group {
            ("a group", "Group")
        } else {
            ("a segment", "Segment")
        };
        let error = d
            .at(el.offset, format!("`{}` is {is}", entry.display()))
            .with_help(format!(
                "write `<{use_} Path=\"{}\" .../>`",
                path.value.trim()
            ));
        return d.push(error);
    }
    if !seen.claim(
        d,
        (entry.address.clone(), Vec::new()),
        &entry.display(),
        el.offset,
    ) {
        return;
    }
    let span = d.file.span(el.offset);
    let Some(node) = node_mut(&mut profile.children, &entry.address) else {
        return;
    };
    let (usage, cardinality, doc) = match node {
        Node::Segment(s) => {
            if let Some(long) = el.attr("LongName") {
                s.long_name = trimmed(&long.value);
            }
            s.span = span;
            (&mut s.usage, &mut s.cardinality, &mut s.doc)
        }
        Node::Group(g) => {
            if el.attr("LongName").is_some() {
                d.error(
                    el.attr("LongName").map_or(el.offset, |a| a.offset),
                    "groups have no `LongName`",
                );
            }
            g.span = span;
            (&mut g.usage, &mut g.cardinality, &mut g.doc)
        }
    };
    apply_usage_and_cardinality(d, el, usage, Some(cardinality));
    merge_doc(doc, read_doc(d, el));
}

/// Sets usage (with its predicate) and, when `cardinality` is given, `Min`/`Max`. A usage made
/// `R` without a `Min` raises a minimum of 0 to 1.
fn apply_usage_and_cardinality(
    d: &mut Diag<'_>,
    el: &XmlElement,
    usage: &mut Usage,
    cardinality: Option<&mut Cardinality>,
) {
    if let Some(new) = read_usage_attr(d, el, false) {
        *usage = new;
    }
    let Some(cardinality) = cardinality else {
        return;
    };
    if el.attr("Min").is_some() || el.attr("Max").is_some() {
        if let Some(new) = d.cardinality(el, Some(usage), Some(*cardinality)) {
            *cardinality = new;
        }
    } else if usage.is_required() && cardinality.min == 0 {
        cardinality.min = 1;
    }
}

fn merge_doc(doc: &mut Doc, new: Doc) {
    if new.imp_note.is_some() {
        doc.imp_note = new.imp_note;
    }
    if new.description.is_some() {
        doc.description = new.description;
    }
    if new.reference.is_some() {
        doc.reference = new.reference;
    }
}

/// Applies a `<Field Path="PID-3.4.1">` rule.
pub(crate) fn apply_field_rule(
    d: &mut Diag<'_>,
    base: &BaseVersion,
    profile: &mut MessageProfile,
    el: &XmlElement,
    seen: &mut Seen,
) {
    let Some(path) = d.required(el, "Path") else {
        return;
    };
    let text = path.value.trim();
    let (steps, positions) = match parse_field_path(text) {
        Ok(parsed) => parsed,
        Err(message) => {
            let error = d
                .at(path.value_offset, message)
                .with_help("field paths look like `PID-3`, `PID-3.4` or `PID-3.4.1`");
            return d.push(error);
        }
    };
    let Some(entry) = locate(d, profile, &steps, text, path.value_offset) else {
        return;
    };
    if entry.is_group {
        let error = d.at(
            path.value_offset,
            format!("`{}` is a group, not a segment", entry.display()),
        );
        return d.push(error);
    }
    let version = profile.hl7_version.clone();
    let Some(Node::Segment(segment)) = node_mut(&mut profile.children, &entry.address) else {
        return;
    };
    // Find the element by indices first, reporting where the path leaves the structure.
    let mut indices = Vec::new();
    let mut label = segment.name.clone();
    let mut list: &[Element] = &segment.fields;
    let mut datatype = String::new();
    for (depth, position) in positions.iter().enumerate() {
        let Some(i) = list.iter().position(|e| e.position == *position) else {
            let message = if depth == 0 {
                format!(
                    "`{text}`: field {position} is beyond `{label}`, which has {} fields in HL7 {version}",
                    list.len()
                )
            } else {
                let what = ["field", "component", "subcomponent"][depth];
                format!(
                    "`{text}`: {what} {position} is beyond `{label}`, whose data type `{datatype}` has {} components",
                    list.len()
                )
            };
            return d.error(path.value_offset, message);
        };
        let found = &list[i];
        indices.push(i);
        label = if depth == 0 {
            format!("{label}-{position}")
        } else {
            format!("{label}.{position}")
        };
        if depth + 1 < positions.len() && found.children.is_empty() {
            let error = d
                .at(
                    path.value_offset,
                    format!(
                        "`{text}`: `{label}` has the primitive data type `{}`; it has no parts",
                        found.datatype
                    ),
                )
                .with_help(format!("constrain `{label}` itself"));
            return d.push(error);
        }
        datatype.clone_from(&found.datatype);
        list = &found.children;
    }
    if !seen.claim(
        d,
        (entry.address.clone(), positions.clone()),
        &label,
        el.offset,
    ) {
        return;
    }
    let Some((first, rest)) = indices.split_first() else {
        return;
    };
    let mut target = &mut segment.fields[*first];
    for i in rest {
        target = &mut target.children[*i];
    }
    apply_element(d, base, el, target, positions.len() == 1);
}

/// Applies the attributes and children of a field rule to one element.
fn apply_element(
    d: &mut Diag<'_>,
    base: &BaseVersion,
    el: &XmlElement,
    target: &mut Element,
    is_field: bool,
) {
    if is_field {
        apply_usage_and_cardinality(d, el, &mut target.usage, Some(&mut target.cardinality));
    } else {
        for name in ["Min", "Max"] {
            if let Some(attr) = el.attr(name) {
                let error = d
                    .at(
                        attr.offset,
                        format!("`{name}` on a component: components do not repeat"),
                    )
                    .with_help("`Usage=\"R\"` makes a component required");
                d.push(error);
            }
        }
        apply_usage_and_cardinality(d, el, &mut target.usage, None);
        target.cardinality = component_cardinality(&target.usage);
    }
    if ["Length", "MinLength", "MaxLength"]
        .iter()
        .any(|n| el.attr(n).is_some())
    {
        if let Some(length) = d.length(el) {
            target.length = Some(length);
        }
    }
    if let Some(table) = el.attr("Table") {
        target.table = Some(table.value.trim().to_owned());
    }
    if let Some(constant) = el.attr("ConstantValue") {
        target.constant = Some(constant.value.clone());
    }
    if let Some(datatype) = el.attr("Datatype") {
        let datatype = datatype.value.trim().to_owned();
        if datatype != target.datatype && base.datatypes.contains_key(&datatype) {
            target.children = components(base, &datatype, is_field);
        }
        target.datatype = datatype;
    }
    let values: Vec<String> = el
        .children
        .iter()
        .filter(|c| c.name == "DataValues")
        .filter_map(|c| c.attr("ExValue").map(|a| a.value.clone()))
        .collect();
    if !values.is_empty() {
        target.example_values = values;
    }
    merge_doc(&mut target.doc, read_doc(d, el));
    target.span = d.file.span(el.offset);
}
