//! The bundled base definitions of the HL7 v2 versions.
//!
//! `hl7-spec/spec/<version>/` holds five XML files per version, generated from MIT-licensed
//! sources by `hl7-spec/import/import_base.py` (see `hl7-spec/import/README.md`):
//! `datatypes.xml`, `segments.xml`, `structures.xml`, `events.xml` and `tables.xml`. They are
//! compiled into the crate; [`load`] parses a version once and keeps it. [`load_dir`] reads the
//! same format from a folder, for a base of one's own.
//!
//! ```
//! let base = hl7_spec::base::load("2.5.1")?;
//! let adt = base.structure_for("ADT", "A04").expect("ADT^A04 uses ADT_A01");
//! assert_eq!(adt.id, "ADT_A01");
//! let profile = base.to_profile("ORU_R01")?;
//! assert_eq!(profile.structure_id, "ORU_R01");
//! # Ok::<(), hl7_spec::LoadError>(())
//! ```

mod bundled;
mod expand;
mod model;
mod reader;
mod xml;

use std::path::Path;

pub use model::{
    BaseVersion, ComponentDef, DataTypeDef, FieldDef, SegmentDef, StructureDef, StructureNode,
    TableDef, TableKind, TableValue, ANY_SEGMENT,
};

use crate::error::LoadError;
use crate::source::SourceFile;

/// The bundled HL7 versions, sorted (`2.1` … `2.7`).
pub fn versions() -> &'static [&'static str] {
    bundled::VERSIONS
}

/// The bundled base of `version` (e.g. `2.5.1`), parsed on first use and kept.
///
/// An unknown version is an error that lists the bundled ones.
pub fn load(version: &str) -> Result<&'static BaseVersion, LoadError> {
    bundled::load(version)
}

/// Reads a base from `dir`, which holds the five files of one version in the bundled format
/// (`datatypes.xml`, `segments.xml`, `structures.xml`, `events.xml`, `tables.xml`); each root
/// element's `Version` must be `version`. Errors name the files as `dir` joined with the file name.
pub fn load_dir(dir: &Path, version: &str) -> Result<BaseVersion, LoadError> {
    let mut files = Vec::with_capacity(reader::FILE_NAMES.len());
    let mut errors = Vec::new();
    for name in reader::FILE_NAMES {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(SourceFile::new(path.display().to_string(), text)),
            Err(source) => errors.push(LoadError::Io { path, source }),
        }
    }
    if let Some(error) = LoadError::from_all(errors) {
        return Err(error);
    }
    let files: [SourceFile; 5] = files.try_into().expect("one file per name");
    reader::read_version(version, &files)
}

impl BaseVersion {
    /// The structure a trigger event uses: from the event map (`ADT^A04` -> `ADT_A01`), else the
    /// structure named `TYPE_EVENT`.
    pub fn structure_for(&self, msg_type: &str, event: &str) -> Option<&StructureDef> {
        match self.events.get(&(msg_type.to_owned(), event.to_owned())) {
            Some(id) => self.structures.get(id),
            None => self.structures.get(&format!("{msg_type}_{event}")),
        }
    }

    /// A table by id, written `0001`, `1` or `HL70001`.
    pub fn table(&self, id: &str) -> Option<&TableDef> {
        let bare = match id.get(..3) {
            Some(prefix) if prefix.eq_ignore_ascii_case("HL7") => &id[3..],
            _ => id,
        };
        if !bare.is_empty() && bare.len() < 4 && bare.bytes().all(|b| b.is_ascii_digit()) {
            return self.tables.get(&format!("{bare:0>4}"));
        }
        self.tables.get(bare)
    }
}
