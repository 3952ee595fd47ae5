//! Compatibility checks at build time: `Config::check_compatibility`, `deny_incompatible`, and
//! `hl7_codegen::compatibility`.

use hl7_codegen::{compatibility, Config, Error};
use hl7_spec::compat::{FindingKind, Severity};

const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/compat/lab_oru_r01_sender.xml"
);
const EHR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/compat/ehr_oru_r01_receiver.xml"
);

fn out_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("hl7-codegen-compat-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

#[test]
fn compatibility_loads_both_profiles() {
    let report = compatibility(LAB, EHR).expect("both load");
    assert!(report.has_errors());
    assert_eq!(report.count(Severity::Error), 7, "{report}");
    let pid8 = report
        .of_kind(FindingKind::RequiredAtReceiver)
        .next()
        .expect("PID-8 is required by the receiver");
    assert_eq!(pid8.path, "PATIENT_RESULT/PATIENT/PID-8");
    assert!(pid8
        .receiver
        .as_ref()
        .is_some_and(|s| s.file.ends_with("ehr_oru_r01_receiver.xml")));
}

#[test]
fn compatibility_reports_every_load_error() {
    let malformed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/malformed/unknown_usage.xml"
    );
    let error = compatibility("no/such/sender.xml", malformed).expect_err("neither loads");
    let text = error.to_string();
    assert!(text.contains("cannot read `no/such/sender.xml`"), "{text}");
    assert!(text.contains("unknown usage `Q`"), "{text}");
}

#[test]
fn deny_incompatible_fails_the_build_with_the_report() {
    let dir = out_dir("deny");
    let error = Config::new()
        .out_dir(&dir)
        .check_compatibility(LAB, EHR)
        .deny_incompatible(true)
        .compile()
        .expect_err("the EHR rejects the lab's messages");
    let Error::Incompatible(report) = &error else {
        panic!("expected Error::Incompatible, got {error}");
    };
    assert_eq!(report.count(Severity::Error), 7);
    let text = error.to_string();
    assert!(
        text.starts_with(
            "the receiver's profile would reject messages that conform to the sender's \
             (7 errors, 2 warnings, 1 info):\n\nerror: "
        ),
        "{text}"
    );
    assert!(
        text.contains("PID-8 (Administrative Sex) is required by the receiver"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn without_deny_the_findings_are_only_reported() {
    let dir = out_dir("warn");
    Config::new()
        .out_dir(&dir)
        .check_compatibility(LAB, EHR)
        .compile()
        .expect("findings are warnings unless denied");
    // A compatible pair passes even when denied.
    Config::new()
        .out_dir(&dir)
        .check_compatibility(EHR, EHR)
        .deny_incompatible(true)
        .compile()
        .expect("a profile is compatible with itself");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_pair_that_does_not_load_fails_the_build() {
    let dir = out_dir("load");
    let error = Config::new()
        .out_dir(&dir)
        .check_compatibility(LAB, "no/such/receiver.xml")
        .compile()
        .expect_err("the receiver's profile is missing");
    assert!(matches!(error, Error::Load(_)), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}
