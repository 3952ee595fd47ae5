//! The lab -> EHR mapping on real example messages: source message in, mapped message out, and
//! the mapped message conforms to the receiver's profile.

use hl7_examples::acme_lab;
use hl7_examples::mappings::LabResultToEhr;
use hl7_runtime::mapping::MapError;

/// The crosswalk is one process-wide table: tests that look codes up wait for the one that
/// reloads it.
static CROSSWALK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn message(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("messages")
        .join(name);
    std::fs::read(path).expect("example message")
}

#[test]
fn a_lab_result_becomes_an_ehr_result() {
    let _guard = CROSSWALK.lock().unwrap_or_else(|e| e.into_inner());
    let source = acme_lab::OruR01::parse(&message("acme_oru_r01_glucose.hl7"))
        .expect("conforms to the lab profile");
    let mapped = LabResultToEhr::map(&source).expect("maps");
    let problems: Vec<String> = mapped
        .validate()
        .iter()
        .filter(|p| p.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.is_empty(),
        "the mapped message breaks the EHR profile: {problems:#?}"
    );
    insta::assert_snapshot!(mapped.to_er7().replace('\r', "\n"));
}

#[test]
fn a_code_the_crosswalk_does_not_know_fails_the_mapping_at_its_path() {
    let _guard = CROSSWALK.lock().unwrap_or_else(|e| e.into_inner());
    let mut source =
        acme_lab::OruR01::parse(&message("acme_oru_r01_glucose.hl7")).expect("conforms");
    source.patient_result.order_observation[0].observation[1]
        .obx
        .observation_identifier
        .identifier = Some("TSH".into());
    let error = LabResultToEhr::map(&source).expect_err("TSH is not in the lab's crosswalk");
    assert!(matches!(&error, MapError::Unmapped { .. }), "{error:?}");
    assert_eq!(error.target(), "OBX-3");
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn a_crosswalk_reloaded_at_run_time_maps_new_codes_and_a_bad_file_keeps_the_old_table() {
    let _guard = CROSSWALK.lock().unwrap_or_else(|e| e.into_inner());
    let crosswalk = &acme_lab::crosswalks::LAB_TO_LOINC;
    let mut source =
        acme_lab::OruR01::parse(&message("acme_oru_r01_glucose.hl7")).expect("conforms");
    source.patient_result.order_observation[0].observation[1]
        .obx
        .observation_identifier
        .identifier = Some("TSH".into());

    let dir = std::env::temp_dir().join(format!("hl7-examples-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let compiled = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vocab/acme_lab/lab_to_loinc.csv"),
    )
    .expect("compiled crosswalk");
    let good = dir.join("lab_to_loinc.csv");
    std::fs::write(
        &good,
        format!("{compiled}LAB,TSH,LN,3016-3,Thyrotropin [Units/volume] in Serum or Plasma\n"),
    )
    .expect("write");
    crosswalk
        .reload_from_file(&good)
        .expect("a good file reloads");
    let mapped = LabResultToEhr::map(&source).expect("TSH maps after the reload");
    assert!(mapped.to_er7().contains("OBX|2|NM|3016-3^Thyrotropin"));

    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "# policy: reject\nfrom_system,from_code,to_system,to_code,to_display\nLAB,,LN,1,x\n",
    )
    .expect("write");
    let error = crosswalk
        .reload_from_file(&bad)
        .expect_err("an empty code is refused");
    assert!(error.to_string().contains("bad.csv:3:"), "{error}");
    assert!(
        LabResultToEhr::map(&source).is_ok(),
        "the reloaded table is still in use"
    );

    crosswalk.reset();
    assert!(
        LabResultToEhr::map(&source).is_err(),
        "back to the compiled table"
    );
    std::fs::remove_dir_all(&dir).ok();
}
