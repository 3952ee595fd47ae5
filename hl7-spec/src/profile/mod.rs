//! The standard `HL7v2xConformanceProfile` XML format: reader and writer.
//!
//! The reader accepts the dialects found in the wild (HL7 / Messaging Workbench, HAPI, IHE
//! Gazelle, NIST): `Length` or `MinLength`/`MaxLength`, text or structured predicates (NIST
//! `Condition`s become [`ConditionExpr`](crate::model::ConditionExpr)s), repeatable `DataValues`, `ConstantValue`,
//! notes anywhere, datatype flavours kept as written, `Table` as an opaque id. Unknown elements
//! (`ConformanceStatement`, `UseCase`, `Encodings`, `DynamicDef`, ...) and foreign attributes
//! (`ipf:Nullable`, `xsi:*`) are skipped.
//!
//! Positions are numbered by order: the n-th `Field` of a segment is field n, likewise for
//! components and subcomponents. Components without `Min`/`Max` get `1..1` when their usage is
//! `R`, else `0..1`. Element text (`Predicate`, `ImpNote`, `Description`, `Reference`) is
//! trimmed and its runs of whitespace collapsed, so output is stable; attribute values get the
//! XML attribute-value normalisation (line ends and tabs become spaces) and names are trimmed.
//!
//! Every problem is reported with its place, rustc-style, and the reader collects as many as it
//! can before failing:
//! ```text
//! error: unknown usage `Q`; expected one of R, RE, O, C, CE, X, B, W
//!   --> tests/fixtures/malformed/unknown_usage.xml:7:29
//! ```
//!
//! [`load_profile`] reads either this format or a concise site profile, by the root element.

mod compare;
mod predicate;
mod reader;
pub(crate) mod values;
mod writer;
pub(crate) mod xml;

use std::path::Path;

use crate::error::{LoadError, SpecError};
use crate::model::MessageProfile;
use crate::source::SourceFile;

pub use compare::{clear_condition_exprs, clear_spans, for_each_element, for_each_node};
pub(crate) use reader::{empty_profile, read_doc, read_meta, read_usage_attr, read_value_set};

/// Reads a `HL7v2xConformanceProfile` file; errors name the file by `path` as given.
pub fn read_profile(path: &Path) -> Result<MessageProfile, LoadError> {
    parse_profile(&read_source(path)?)
}

/// Reads a `HL7v2xConformanceProfile` document from its text.
pub fn parse_profile(file: &SourceFile) -> Result<MessageProfile, LoadError> {
    reader::read(file)
}

/// Writes `profile` as a standard `HL7v2xConformanceProfile` document (2-space indent,
/// deterministic).
///
/// Reading the output back with [`parse_profile`] gives the same profile up to spans, except
/// that structured predicates keep only their text and true/false usages (the expression is
/// dropped; compare with [`clear_condition_exprs`]). The model has no `DynamicDef` or
/// `Encodings`: the DTD defaults are written. Profile value sets are written as `ValueSet`
/// elements after the static definition, an extension this reader understands.
pub fn write_profile(profile: &MessageProfile) -> String {
    writer::write(profile)
}

/// Reads a profile in either format, chosen by the root element: `HL7v2xConformanceProfile`
/// (the standard format) or `SiteProfile` (the concise site form, resolved against its base).
pub fn load_profile(path: &Path) -> Result<MessageProfile, LoadError> {
    let file = read_source(path)?;
    let root = xml::parse_document(&file)?;
    match root.name.as_str() {
        "SiteProfile" => crate::site::parse_site_root(&file, &root),
        reader::ROOT => reader::read_root_of(&file, &root),
        other => Err(SpecError::at(
            &file,
            root.offset,
            format!(
                "expected root element `{}` or `SiteProfile`, found `{other}`",
                reader::ROOT
            ),
        )
        .with_help("a profile is a `HL7v2xConformanceProfile` file or a concise `SiteProfile`")
        .into()),
    }
}

/// Reads the file at `path` into a [`SourceFile`] named as `path` is written.
pub(crate) fn read_source(path: &Path) -> Result<SourceFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SourceFile::new(path.to_string_lossy().into_owned(), text))
}
