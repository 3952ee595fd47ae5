//! The `SiteProfile` element itself: its attributes, its base version and structure, and the
//! checks of attribute and child names shared by every element of the form.

use crate::base::BaseVersion;
use crate::model::{MessageProfile, MetaData};
use crate::profile::values::Diag;
use crate::profile::xml::{trimmed, XmlElement};
use crate::profile::{read_doc, read_meta};

/// Attributes of `SiteProfile`.
const SITE_ATTRS: &[&str] = &[
    "Name",
    "Base",
    "MsgType",
    "EventType",
    "MsgStructID",
    "Role",
    "ProfileType",
    "EventDesc",
];
/// Children of `SiteProfile`.
const SITE_CHILDREN: &[&str] = &[
    "MetaData",
    "ImpNote",
    "Description",
    "Reference",
    "Segment",
    "Group",
    "Field",
    "ZSegment",
    "ValueSet",
];
/// Attributes of `MetaData`.
const META_ATTRS: &[&str] = &["Name", "OrgName", "Version", "Status", "Topics"];

/// Reports attributes not in `attrs` (namespaced ones like `xmlns:xsi` are allowed) and child
/// elements not in `children`.
pub(crate) fn check_element(d: &mut Diag<'_>, el: &XmlElement, attrs: &[&str], children: &[&str]) {
    for attr in &el.attrs {
        if attr.name.contains(':') || attr.name == "xmlns" || attrs.contains(&attr.name.as_str()) {
            continue;
        }
        let error = d
            .at(
                attr.offset,
                format!("unknown attribute `{}` on `{}`", attr.name, el.name),
            )
            .with_help(format!("`{}` takes: {}", el.name, attrs.join(", ")));
        d.push(error);
    }
    for child in &el.children {
        if children.contains(&child.name.as_str()) {
            continue;
        }
        let help = if children.is_empty() {
            format!("`{}` has no child elements", el.name)
        } else {
            format!("`{}` holds: {}", el.name, children.join(", "))
        };
        let error = d
            .at(
                child.offset,
                format!("unexpected `<{}>` in `<{}>`", child.name, el.name),
            )
            .with_help(help);
        d.push(error);
    }
}

/// Checks the `SiteProfile` element, loads its base and expands its structure into the
/// profile the rules then change. `None` (after recording errors) when that is impossible.
pub(crate) fn start(
    d: &mut Diag<'_>,
    root: &XmlElement,
) -> Option<(&'static BaseVersion, MessageProfile)> {
    check_element(d, root, SITE_ATTRS, SITE_CHILDREN);
    let name = d.required(root, "Name").map(|a| a.value.trim().to_owned());
    let msg_type = d
        .required(root, "MsgType")
        .map(|a| a.value.trim().to_owned());
    let event_type = d
        .required(root, "EventType")
        .map(|a| a.value.trim().to_owned());
    let version = d.required(root, "Base")?;
    let base = match crate::base::load(version.value.trim()) {
        Ok(base) => base,
        Err(_) => {
            let error = d
                .at(
                    version.value_offset,
                    format!("unknown HL7 base version `{}`", version.value.trim()),
                )
                .with_help(format!(
                    "bundled versions: {}",
                    crate::base::versions().join(", ")
                ));
            d.push(error);
            return None;
        }
    };
    let (msg_type, event_type) = (msg_type?, event_type?);
    let structure_id = match root.attr("MsgStructID") {
        Some(attr) => {
            let id = attr.value.trim();
            if !base.structures.contains_key(id) {
                let error = d
                    .at(
                        attr.value_offset,
                        format!("unknown message structure `{id}` in HL7 {}", base.version),
                    )
                    .with_help(similar_structures(base, &msg_type));
                d.push(error);
                return None;
            }
            id.to_owned()
        }
        None => match base.structure_for(&msg_type, &event_type) {
            Some(structure) => structure.id.clone(),
            None => {
                let at = root.attr("EventType").map_or(root.offset, |a| a.offset);
                let error = d
                    .at(
                        at,
                        format!(
                            "HL7 {} has no structure for `{msg_type}^{event_type}`",
                            base.version
                        ),
                    )
                    .with_help(format!(
                        "name it with `MsgStructID`; {}",
                        similar_structures(base, &msg_type)
                    ));
                d.push(error);
                return None;
            }
        },
    };
    let mut profile = match base.to_profile(&structure_id) {
        Ok(profile) => profile,
        Err(error) => {
            d.error(root.offset, error.to_string());
            return None;
        }
    };
    profile.msg_type = msg_type;
    profile.event_type = event_type;
    profile.role = root.attr("Role").map(|a| a.value.trim().to_owned());
    profile.profile_type = Some(root.attr("ProfileType").map_or_else(
        || "Implementation".to_owned(),
        |a| a.value.trim().to_owned(),
    ));
    if let Some(desc) = root.attr("EventDesc") {
        profile.event_desc = trimmed(&desc.value);
    }
    profile.meta = match root.children.iter().find(|c| c.name == "MetaData") {
        Some(meta) => {
            check_element(d, meta, META_ATTRS, &[]);
            read_meta(meta)
        }
        None => MetaData::default(),
    };
    if profile.meta.name.is_none() {
        profile.meta.name = name;
    }
    profile.doc = read_doc(d, root);
    profile.span = d.file.span(root.offset);
    Some((base, profile))
}

fn similar_structures(base: &BaseVersion, msg_type: &str) -> String {
    let prefix = format!("{msg_type}_");
    let similar: Vec<&str> = base
        .structures
        .keys()
        .filter(|id| id.starts_with(&prefix) || *id == msg_type)
        .map(String::as_str)
        .collect();
    if similar.is_empty() {
        format!(
            "HL7 {} has no structures of type `{msg_type}`",
            base.version
        )
    } else {
        format!("structures of type `{msg_type}`: {}", similar.join(", "))
    }
}
