//! Every malformed profile under `tests/fixtures/malformed/` is rejected with located errors.
//!
//! The reader gets the path relative to the workspace root, so the snapshots show
//! `--> tests/fixtures/malformed/<file>.xml:LINE:COL` on every machine.

use std::path::Path;

use hl7_spec::profile::parse_profile;
use hl7_spec::SourceFile;

/// The Display of the error of reading `tests/fixtures/malformed/<name>.xml`.
fn error_of(name: &str) -> String {
    let relative = format!("tests/fixtures/malformed/{name}.xml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(&relative),
    )
    .unwrap();
    match parse_profile(&SourceFile::new(relative.clone(), text)) {
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
        fn every_malformed_profile_has_a_test() {
            let tested = [$(stringify!($name)),*];
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/malformed");
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
                if !stem.starts_with("site_") {
                    assert!(tested.contains(&stem.as_str()), "no test for {}", path.display());
                }
            }
        }
    };
}

malformed!(
    not_well_formed,
    unclosed_element,
    attribute_not_quoted,
    wrong_root,
    missing_static_def,
    unknown_usage,
    missing_segment_name,
    min_not_a_number,
    min_greater_than_max,
    required_max_zero,
    length_not_a_number,
    component_outside_field,
    subcomponent_in_subcomponent,
    bad_segment_name,
    empty_seg_group,
    two_errors,
    several_errors,
);
