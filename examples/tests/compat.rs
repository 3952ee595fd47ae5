//! The work the lab -> EHR interface needs, as the compatibility report lists it: what the
//! EHR requires that the lab may omit, what shrinks, which tables differ. The mapping in
//! `src/mappings.rs` is the answer to each error here.

#[test]
fn lab_results_against_the_ehr() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the crate");
    let report = hl7_codegen::compatibility(
        "profiles/acme_lab/oru_r01.xml",
        "profiles/st_marys/oru_r01.xml",
    )
    .expect("both profiles load");
    assert!(
        report.has_errors(),
        "the lab's messages do not fit the EHR as they are"
    );
    insta::assert_snapshot!(report.to_string());
}
