//! Derive macros of the typed HL7 model: the trait impls of generated (and hand-written)
//! composites, segments, groups and messages.
//!
//! Generated code is data plus attributes; these derives write the parse, encode and rule
//! impls, so a hand-written Z-segment uses the same derive as a generated one. Re-exported by
//! `hl7_runtime::codegen`; use them through `hl7_runtime`.

mod attr;
mod expand;
mod mapping;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `Element` for a composite datatype: `#[hl7(datatype = "CX")]` on the struct,
/// `#[hl7(position = 1, usage = "R", datatype = "ST", len = 15)]` on each component.
#[proc_macro_derive(Composite, attributes(hl7))]
pub fn derive_composite(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::element::composite(&input).into()
}

/// Derives `SegmentType` and `Node` for a segment: `#[hl7(id = "PID")]` on the struct,
/// `#[hl7(position = 3, usage = "R", max = "*", datatype = "CX")]` on each field, and
/// `#[hl7(exclude(position = 19))]` on the struct for each field the profile excludes.
#[proc_macro_derive(Segment, attributes(hl7))]
pub fn derive_segment(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::element::segment(&input).into()
}

/// Derives `GroupType` and `Node` for a segment group: `#[hl7(group = "PATIENT_RESULT")]` on the
/// struct, `#[hl7(usage = "R", min = 1, max = "*")]` on each segment or group field, in order.
#[proc_macro_derive(Group, attributes(hl7))]
pub fn derive_group(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::node::group(&input).into()
}

/// Derives `MessageType` and the inherent `parse`, `parse_lenient`, `to_er7` and `validate` for
/// a message: `#[hl7(structure = "ORU_R01", msg_type = "ORU", event = "R01", version = "2.5.1")]`.
#[proc_macro_derive(Message, attributes(hl7))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::node::message(&input).into()
}

/// Derives `hl7_runtime::mapping::Mapping` between the generated types of two site profiles.
///
/// ```text
/// #[derive(Mapping)]
/// #[mapping(from = acme_lab::OruR01, to = st_marys::OruR01)]
/// #[map(to = "MSH-5.1", constant = "EHR")]
/// #[map(to = "OBX-3", crosswalk = acme_lab::crosswalks::LAB_TO_LOINC)]
/// #[map(to = "PID-3", from = "PID-3[1]")]
/// #[map(to = "PID-5", with = normalise_names)]
/// struct LabToEhr;
/// ```
///
/// Elements with the same path and compatible types are copied without being named
/// (`auto = false` turns that off). Paths are HL7 style (`PID-3`, `OBSERVATION/OBX-5`,
/// `PID-3[1]`, `MSH-4.1`) or generated field names (`patient_result.patient.pid.administrative_sex`).
/// Paths, required targets, excluded targets, types, function signatures and crosswalk columns
/// are checked at compile time against the manifests the generator writes beside the site code.
#[proc_macro_derive(Mapping, attributes(mapping, map))]
pub fn derive_mapping(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    mapping::derive(&input).into()
}
