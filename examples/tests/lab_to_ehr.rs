//! The lab -> EHR mapping on real example messages: source message in, mapped message out, and
//! the mapped message conforms to the receiver's profile.

use hl7_examples::acme_lab;
use hl7_examples::mappings::LabResultToEhr;
use hl7_runtime::mapping::MapError;

fn message(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("messages").join(name);
    std::fs::read(path).expect("example message")
}

#[test]
fn a_lab_result_becomes_an_ehr_result() {
    let source = acme_lab::OruR01::parse(&message("acme_oru_r01_glucose.hl7")).expect("conforms to the lab profile");
    let mapped = LabResultToEhr::map(&source).expect("maps");
    let problems: Vec<String> = mapped.validate().iter().filter(|p| p.is_error()).map(ToString::to_string).collect();
    assert!(problems.is_empty(), "the mapped message breaks the EHR profile: {problems:#?}");
    insta::assert_snapshot!(mapped.to_er7().replace('\r', "\n"));
}

#[test]
fn an_optional_source_that_a_required_target_needs_fails_with_its_path() {
    let mut source = acme_lab::OruR01::parse(&message("acme_oru_r01_glucose.hl7")).expect("conforms");
    // The lab may omit OBX-3.3 (coding system); the EHR requires it.
    let obx = &mut source.patient_result.order_observation[0].observation[1].obx;
    obx.observation_identifier.name_of_coding_system = None;
    let error = LabResultToEhr::map(&source).expect_err("a required target has no value");
    assert!(matches!(&error, MapError::Missing { .. }), "{error:?}");
    assert_eq!(error.target(), "OBX-3.3");
    insta::assert_snapshot!(error.to_string());
}
