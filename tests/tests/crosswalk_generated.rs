//! The crosswalks compiled into the `acme` site by this crate's build.rs, called as an engine
//! would: lookups on the generated statics, the policy of each, and a reload of one.

use hl7_runtime::crosswalk::{MapKind, Policy};
use hl7_tests::acme::crosswalks::{LAB_TO_LOINC, SEX_TO_0001};

#[test]
fn lab_codes_map_to_loinc() {
    let glucose = LAB_TO_LOINC.lookup("LAB", "GLU").expect("mapped");
    assert_eq!(
        (&*glucose.system, &*glucose.code),
        ("http://loinc.org", "2345-7")
    );
    assert_eq!(glucose.display, "Glucose [Mass/volume] in Serum or Plasma");
    assert_eq!(
        LAB_TO_LOINC.lookup("99ACME", "HBA1C").expect("mapped").code,
        "4548-4"
    );
    assert_eq!(LAB_TO_LOINC.name(), "lab_to_loinc");
    assert_eq!(LAB_TO_LOINC.policy(), Policy::Reject);
    assert_eq!(LAB_TO_LOINC.len(), 11);
}

#[test]
fn an_unknown_lab_code_is_rejected_with_its_name() {
    let error = LAB_TO_LOINC.lookup("LAB", "TSH").unwrap_err();
    assert_eq!(
        error.to_string(),
        "code `TSH` of system `LAB` has no mapping in crosswalk `lab_to_loinc`"
    );
}

#[test]
fn sex_codes_map_to_table_0001_with_a_default() {
    assert_eq!(SEX_TO_0001.lookup("", "F").expect("mapped").code, "F");
    let other = SEX_TO_0001.lookup("", "X").expect("defaulted");
    assert_eq!(
        (&*other.system, &*other.code, other.kind),
        ("HL70001", "U", MapKind::Defaulted)
    );
    assert_eq!(SEX_TO_0001.from_table(), Some("ACME_SEX"));
    assert_eq!(SEX_TO_0001.to_table(), Some("0001"));
}

#[test]
fn the_manifest_describes_the_crosswalks() {
    let manifest = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/hl7/acme.crosswalks.json"))
        .expect("written");
    assert!(
        manifest.contains("\"static\": \"LAB_TO_LOINC\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("\"static\": \"SEX_TO_0001\""),
        "{manifest}"
    );
}
