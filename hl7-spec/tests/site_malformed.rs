//! Every malformed site profile (`tests/fixtures/malformed/site_*.xml`) is rejected with
//! located errors.
//!
//! The reader gets the path relative to the workspace root, so the snapshots show
//! `--> tests/fixtures/malformed/site_<name>.xml:LINE:COL` on every machine.

use std::path::Path;

use hl7_spec::site::parse_site_profile;
use hl7_spec::SourceFile;

/// The Display of the error of resolving `tests/fixtures/malformed/site_<name>.xml`.
fn error_of(name: &str) -> String {
    let relative = format!("tests/fixtures/malformed/site_{name}.xml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(&relative);
    let text = std::fs::read_to_string(path).unwrap();
    match parse_site_profile(&SourceFile::new(relative.clone(), text)) {
        Ok(_) => panic!("{relative} was accepted"),
        Err(error) => {
            let text = error.to_string();
            assert!(text.contains(&format!("--> {relative}:")), "{text}");
            text
        }
    }
}

macro_rules! malformed {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(error_of(stringify!($name)));
            }
        )*

        #[test]
        fn every_malformed_site_profile_has_a_test() {
            let tested = [$(stringify!($name)),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/malformed");
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_str().unwrap();
                if let Some(name) = stem.strip_prefix("site_") {
                    assert!(tested.contains(&name), "no test for {}", path.display());
                }
            }
        }
    };
}

malformed!(
    unknown_base,
    unknown_structure,
    path_not_found,
    ambiguous_path,
    field_beyond_segment,
    component_on_primitive,
    min_greater_than_max,
    bad_zsegment_name,
    duplicate_rule,
    unknown_attribute,
    several_errors,
);
