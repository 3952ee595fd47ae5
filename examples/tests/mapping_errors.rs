//! What the compiler refuses in a mapping, each error at the user's tokens (trybuild).

#[test]
fn mapping_errors() {
    // The test crates trybuild builds have no build script: point the derive at this crate's
    // generated manifests.
    std::env::set_var("HL7_MANIFEST_DIR", concat!(env!("OUT_DIR"), "/hl7"));
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/mapping/*.rs");
}

#[test]
fn mapping_passes() {
    std::env::set_var("HL7_MANIFEST_DIR", concat!(env!("OUT_DIR"), "/hl7"));
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/mapping_pass/*.rs");
}
