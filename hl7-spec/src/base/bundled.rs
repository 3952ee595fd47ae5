//! The spec files compiled into the crate, and their parsed form, built once per version.

use std::sync::OnceLock;

use super::model::BaseVersion;
use super::reader::{read_version, FILE_NAMES};
use crate::error::{LoadError, SpecError};
use crate::source::{SourceFile, Span};

macro_rules! bundled {
    ($($version:literal),* $(,)?) => {
        /// The bundled versions, sorted.
        pub(crate) const VERSIONS: &[&str] = &[$($version),*];

        /// The texts of a bundled version's files, in [`FILE_NAMES`] order.
        fn texts(version: &str) -> Option<[&'static str; 5]> {
            match version {
                $($version => Some([
                    include_str!(concat!("../../spec/", $version, "/datatypes.xml")),
                    include_str!(concat!("../../spec/", $version, "/segments.xml")),
                    include_str!(concat!("../../spec/", $version, "/structures.xml")),
                    include_str!(concat!("../../spec/", $version, "/events.xml")),
                    include_str!(concat!("../../spec/", $version, "/tables.xml")),
                ]),)*
                _ => None,
            }
        }
    };
}

bundled!("2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7");

static CACHE: [OnceLock<BaseVersion>; VERSIONS.len()] = [const { OnceLock::new() }; VERSIONS.len()];

/// The parsed bundled version, parsed on first use.
pub(crate) fn load(version: &str) -> Result<&'static BaseVersion, LoadError> {
    let (Some(index), Some(texts)) = (VERSIONS.iter().position(|v| *v == version), texts(version))
    else {
        let message = format!("no bundled HL7 base version `{version}`");
        return Err(SpecError::at_span(Span::synthetic(), message)
            .with_help(format!("bundled versions: {}", VERSIONS.join(", ")))
            .into());
    };
    if let Some(base) = CACHE[index].get() {
        return Ok(base);
    }
    let files = std::array::from_fn(|i| {
        SourceFile::new(
            format!("hl7-spec/spec/{version}/{}", FILE_NAMES[i]),
            texts[i],
        )
    });
    let base = read_version(version, &files)?;
    Ok(CACHE[index].get_or_init(|| base))
}
