//! The generator's output text, snapshotted per fixture profile, and its build errors.

use std::path::{Path, PathBuf};

use hl7_codegen::Config;

fn fixture(name: &str) -> PathBuf {
    // Relative paths keep the @generated header machine-independent.
    Path::new("fixtures").join(name)
}

fn generate(site: &str, profiles: &[&str]) -> String {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the crate");
    let mut config = Config::new();
    config.site(site);
    for profile in profiles {
        config.profile(fixture(profile));
    }
    config.generate_to_string().expect("generates")
}

#[test]
fn hl7_example_ack_v24() {
    insta::assert_snapshot!(generate(
        "hapi",
        &["profiles/hapi_ACK_v24_HL7_example_ack.xml"]
    ));
}

#[test]
fn ihe_law_oul_r22_v251() {
    insta::assert_snapshot!(generate(
        "gazelle",
        &["profiles/gazelle_OUL_R22_v251_IHE_LAW.xml"]
    ));
}

#[test]
fn va_adt_a01_v231() {
    insta::assert_snapshot!(generate(
        "hapi_va",
        &["profiles/hapi_ADT_A01_v231_VA_receiver.xml"]
    ));
}

#[test]
fn output_is_deterministic() {
    let profiles = [
        "profiles/nist_VXU_V04_v251_immunization_NIST_ext.xml",
        "site/acme_lab_oru_r01.xml",
    ];
    assert_eq!(generate("x", &profiles), generate("x", &profiles));
}

#[test]
fn a_name_collision_is_a_build_error_with_a_way_out() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the crate");
    let first = fixture("profiles/hapi_ADT_A01_v25_full_with_predicates.xml");
    let second = fixture("profiles/hapi_ADT_A01_v231_VA_receiver.xml");
    let error = Config::new()
        .site("both")
        .profile(&first)
        .profile(&second)
        .generate_to_string()
        .unwrap_err();
    insta::assert_snapshot!(error.to_string());
    let renamed = Config::new()
        .site("both")
        .profile(&first)
        .profile(&second)
        .rename(&second, "AdtA01Va")
        .generate_to_string()
        .expect("a rename resolves the collision");
    assert!(renamed.contains("pub struct AdtA01Va"));
}

/// A message's typed view and module share the site's module with the message types and the
/// site's own modules: a name taken there is a build error too, not a compile error in the
/// generated code.
#[test]
fn a_view_or_module_name_taken_is_a_build_error() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the crate");
    let first = fixture("profiles/hapi_ADT_A01_v25_full_with_predicates.xml");
    let second = fixture("profiles/hapi_ADT_A01_v231_VA_receiver.xml");
    let view = Config::new()
        .site("both")
        .profile(&first)
        .profile(&second)
        .rename(&second, "AdtA01View")
        .generate_to_string()
        .unwrap_err();
    insta::assert_snapshot!(view.to_string());
    let module = Config::new()
        .site("both")
        .profile(&first)
        .rename(&first, "Tables")
        .generate_to_string()
        .unwrap_err()
        .to_string();
    assert!(
        module.starts_with(
            "two profiles of site `both` generate the module `tables`:\n  --> the site's code tables"
        ),
        "{module}"
    );
}

#[test]
fn a_broken_profile_is_a_located_build_error() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the crate");
    let error = Config::new()
        .site("broken")
        .profile(fixture("malformed/unknown_usage.xml"))
        .generate_to_string()
        .unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.contains("--> fixtures/malformed/unknown_usage.xml:"),
        "{shown}"
    );
    insta::assert_snapshot!(shown);
}
