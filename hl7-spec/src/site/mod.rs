//! The concise site-profile form: a base version and structure, and only the differences.
//!
//! A site profile resolves to the same [`MessageProfile`] as a full conformance profile (and can
//! be exported with [`write_profile`](crate::profile::write_profile)):
//!
//! ```xml
//! <SiteProfile Name="acme_lab_oru" Base="2.5.1" MsgType="ORU" EventType="R01" Role="Sender">
//!   <MetaData OrgName="ACME Lab" Version="1.0"/>
//!   <ImpNote>Results from the ACME lab system.</ImpNote>
//!   <Segment Path="PATIENT_RESULT/PATIENT/PID" Usage="R"/>
//!   <Group Path="PATIENT_RESULT/ORDER_OBSERVATION/SPECIMEN" Usage="X"/>
//!   <Segment Path="NTE[1]" Usage="X"/>
//!   <Field Path="PID-3" Usage="R" Max="2" Length="20"/>
//!   <Field Path="PID-8" Usage="R" Table="ACME_SEX"/>
//!   <Field Path="MSH-4.1" ConstantValue="ACME"/>
//!   <Field Path="OBX-5" Usage="C" PredicateTrueUsage="R" PredicateFalseUsage="X">
//!     <Predicate>If OBX-11 is not `D` (deleted)</Predicate>
//!     <ImpNote>Numeric results only.</ImpNote>
//!   </Field>
//!   <Field Path="PID-19" Usage="X"/>
//!   <ZSegment Name="ZLR" LongName="Lab result extension"
//!             After="PATIENT_RESULT/ORDER_OBSERVATION/OBSERVATION/OBX" Usage="O" Min="0" Max="1">
//!     <Field Name="Internal Code" Datatype="ST" Usage="R" Length="20"/>
//!     <Field Name="Reviewer" Datatype="XCN" Usage="O" Max="*"/>
//!   </ZSegment>
//!   <ValueSet Id="ACME_SEX" Name="ACME sex codes">
//!     <Value Code="M" Description="Male"/>
//!     <Value Code="F" Description="Female"/>
//!   </ValueSet>
//! </SiteProfile>
//! ```
//!
//! - **`SiteProfile`**: `Name`, `Base` (a bundled version, see [`crate::base::versions`]),
//!   `MsgType`, `EventType` (required); `MsgStructID` (else from the base's event map, so
//!   `ADT^A04` uses `ADT_A01`), `Role`, `EventDesc` (else the base's), `ProfileType` (default
//!   `Implementation`). Children `MetaData` (`Name` defaults to the site profile's `Name`),
//!   `ImpNote`/`Description`/`Reference` (profile notes), then the rules.
//! - **Node paths** name a segment or group by its group path, `PATIENT_RESULT/PATIENT/PID`,
//!   or by any unambiguous tail of it, down to a bare `PID`; an ambiguous path is an error that
//!   lists the candidates. `NAME[n]` picks the n-th of same-named siblings (ADT_A01's two `ROL`).
//! - **`Segment` / `Group`** rules: `Path`, and `Usage`, `Min`, `Max`, (`LongName` on segments).
//! - **`Field`** rules: `Path` is a node path, `-field`, and optionally `.component` and
//!   `.subcomponent` (`PID-3`, `MSH-4.1`, `PATIENT/PID-3.4.1`); `Usage`, `Min`/`Max` (fields
//!   only: components do not repeat), `Length` or `MinLength`/`MaxLength`, `Table`,
//!   `ConstantValue`, `Datatype` (a composite base type replaces the components).
//! - Every rule may carry `ImpNote`, `Description`, `Reference`, `DataValues ExValue` and, with
//!   `Usage="C"`/`"CE"`, a text `Predicate` and `PredicateTrueUsage`/`PredicateFalseUsage`.
//!   Only the attributes given change; the rest stays as the base says. A usage made `R`
//!   without `Min` raises a minimum of 0 to 1.
//! - **`ZSegment`**: `Name` (`Z` + two upper-case letters or digits), `LongName`, `After` or
//!   `Before` a node path (else appended to the message), `Usage`, `Min`, `Max` (default `0..1`,
//!   `1..1` when `R`), and `Field` children with `Name`, `Datatype` (a base type; composite ones
//!   get their components from the base), `Usage` (default `O`), `Min`/`Max` (default `0..1`),
//!   `Length`, `Table`, `ConstantValue`, `ItemNo`.
//! - **`ValueSet`** `Id`, `Name`, with `Value Code Description` children: site tables that
//!   `Table` attributes can name.
//!
//! Rules apply segments and groups first, then fields, then components, whatever their order in
//! the file, so a `Datatype` change never undoes a component rule. Elements a rule changes get
//! the rule's span; the rest keep the base's. Two rules for one element, unknown attributes or
//! elements, paths outside the structure, field numbers beyond the segment, components of a
//! primitive, `Min > Max` and unknown base versions or structures are located errors.

mod expand;
mod header;
mod path;
mod rules;
mod zsegment;

use std::path::Path;

use crate::error::LoadError;
use crate::model::MessageProfile;
use crate::profile::values::Diag;
use crate::profile::xml::{parse_document, XmlElement};
use crate::profile::{empty_profile, read_value_set};
use crate::source::SourceFile;

use header::check_element;
use rules::{apply_field_rule, apply_node_rule, Seen, FIELD_ATTRS, NODE_ATTRS, RULE_CHILDREN};

/// Reads a site-profile file and resolves it against its base; errors name the file by `path`
/// as given.
pub fn read_site_profile(path: &Path) -> Result<MessageProfile, LoadError> {
    parse_site_profile(&crate::profile::read_source(path)?)
}

/// Reads a site profile from its text and resolves it against its base.
pub fn parse_site_profile(file: &SourceFile) -> Result<MessageProfile, LoadError> {
    let root = parse_document(file)?;
    parse_site_root(file, &root)
}

/// Resolves a parsed site-profile document.
pub(crate) fn parse_site_root(
    file: &SourceFile,
    root: &XmlElement,
) -> Result<MessageProfile, LoadError> {
    let mut d = Diag::new(file);
    if root.name != "SiteProfile" {
        let error = d
            .at(root.offset, format!("expected root element `SiteProfile`, found `{}`", root.name))
            .with_help("a full conformance profile is read with `read_profile`, or `load_profile` for either");
        d.push(error);
        return d.finish(empty_profile(file, root.offset));
    }
    let Some((base, mut profile)) = header::start(&mut d, root) else {
        return d.finish(empty_profile(file, root.offset));
    };
    let mut seen = Seen::default();
    for rule in root
        .children
        .iter()
        .filter(|c| c.name == "Segment" || c.name == "Group")
    {
        check_element(&mut d, rule, NODE_ATTRS, RULE_CHILDREN);
        apply_node_rule(&mut d, &mut profile, rule, &mut seen);
    }
    let mut fields: Vec<&XmlElement> = root.children.iter().filter(|c| c.name == "Field").collect();
    fields.sort_by_key(|f| f.attr("Path").map_or(0, |p| p.value.matches('.').count()));
    for rule in fields {
        check_element(&mut d, rule, FIELD_ATTRS, RULE_CHILDREN);
        apply_field_rule(&mut d, base, &mut profile, rule, &mut seen);
    }
    for z in root.children.iter().filter(|c| c.name == "ZSegment") {
        zsegment::insert_zsegment(&mut d, base, &mut profile, z);
    }
    for set in root.children.iter().filter(|c| c.name == "ValueSet") {
        check_element(&mut d, set, &["Id", "Name"], &["Value"]);
        for value in &set.children {
            check_element(&mut d, value, &["Code", "Description"], &[]);
        }
        let set = read_value_set(&mut d, set);
        if profile.value_sets.iter().any(|v| v.id == set.id) {
            let error = d.at(
                set_offset(root, &set.id),
                format!("value set `{}` is defined twice", set.id),
            );
            d.push(error);
        }
        profile.value_sets.push(set);
    }
    d.finish(profile)
}

/// Offset of the last `ValueSet` with this id (the duplicate).
fn set_offset(root: &XmlElement, id: &str) -> usize {
    root.children
        .iter()
        .rev()
        .find(|c| c.name == "ValueSet" && c.attr("Id").is_some_and(|a| a.value.trim() == id))
        .map_or(root.offset, |c| c.offset)
}
