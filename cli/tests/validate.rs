//! `hl7 validate`: located problems, the summary, and the exit code.

mod common;

use common::{hl7, workspace, Run, MESSAGES};

const NIST_VXU: &str = "tests/fixtures/profiles/nist_VXU_V04_v251_immunization_NIST_ext.xml";
const ACME: &str = "tests/fixtures/site/acme_lab_oru_r01.xml";
const ACME_VALID: &str = "cli/tests/fixtures/acme_oru_r01_valid.hl7";
const ACME_BAD_SEX: &str = "cli/tests/fixtures/acme_oru_r01_bad_sex.hl7";

/// What a snapshot shows of a run: the exit code, stdout, stderr.
fn shown(run: &Run) -> String {
    format!(
        "exit code: {:?}\n--- stdout\n{}--- stderr\n{}",
        run.code,
        run.stdout(),
        run.stderr
    )
}

/// The VXU messages of the corpus, from the manifest.
fn vxu_messages() -> Vec<String> {
    let manifest = std::fs::read_to_string(workspace().join(MESSAGES).join("MANIFEST.tsv"))
        .expect("read MANIFEST.tsv");
    manifest
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            columns
                .get(2)
                .is_some_and(|t| t.starts_with("VXU"))
                .then(|| format!("{MESSAGES}/{}/{}", columns[0], columns[1]))
        })
        .collect()
}

#[test]
fn vxu_messages_against_the_nist_profile() {
    let files = vxu_messages();
    assert_eq!(files.len(), 3, "{files:?}");
    let mut args = vec!["validate", "--profile", NIST_VXU];
    args.extend(files.iter().map(String::as_str));
    let run = hl7(&args);
    // The 2.8 message breaks the 2.5.1 profile; the two 2.5.1 messages only have warnings.
    assert_eq!(run.code, Some(1));
    insta::assert_snapshot!(shown(&run));
}

#[test]
fn a_conforming_message_passes_and_one_defect_fails() {
    let run = hl7(&["validate", "--profile", ACME, ACME_VALID]);
    assert_eq!(run.code, Some(0), "{}", shown(&run));
    let out = run.stdout();
    // A warning is reported but does not fail the message.
    assert!(out.contains("warning at"), "{out}");
    assert!(
        out.ends_with("1 message checked: 1 valid, 0 invalid (0 errors, 1 warning)\n"),
        "{out}"
    );

    // The same message with PID-8 `X` (not in the site's ACME_SEX value set).
    let valid = std::fs::read_to_string(workspace().join(ACME_VALID)).expect("read");
    let bad = std::fs::read_to_string(workspace().join(ACME_BAD_SEX)).expect("read");
    assert_eq!(
        valid.replacen("|F\rOBR", "|X\rOBR", 1),
        bad,
        "one defect only"
    );
    let run = hl7(&["validate", "--profile", ACME, ACME_BAD_SEX]);
    assert_eq!(run.code, Some(1), "{}", shown(&run));
    assert!(run.stdout().contains(
        "cli/tests/fixtures/acme_oru_r01_bad_sex.hl7: message 1 (MSH-10 = ACME-0001): \
         error at PID(2)-8[1] @ byte 155: value `X` is not in table ACME_SEX\n"
    ));
    insta::assert_snapshot!(shown(&run));
}

#[test]
fn json_format() {
    let run = hl7(&[
        "validate",
        "--profile",
        ACME,
        "--format",
        "json",
        ACME_VALID,
        ACME_BAD_SEX,
    ]);
    assert_eq!(run.code, Some(1), "{}", shown(&run));
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("valid JSON");
    assert_eq!(value["messages"][0]["valid"], true);
    assert_eq!(value["messages"][1]["valid"], false);
    let problem = &value["messages"][1]["problems"][0];
    assert_eq!(problem["severity"], "error");
    assert_eq!(problem["hl7_error_code"], "103");
    assert_eq!(problem["location"]["text"], "PID(2)-8[1] @ byte 155");
    assert_eq!(value["summary"]["invalid"], 1);
    insta::assert_snapshot!(run.stdout());
}

#[test]
fn a_malformed_profile_is_a_located_load_error() {
    let run = hl7(&[
        "validate",
        "--profile",
        "tests/fixtures/malformed/unknown_usage.xml",
        ACME_VALID,
    ]);
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stdout, b"");
    assert!(
        run.stderr
            .contains("--> tests/fixtures/malformed/unknown_usage.xml:6:37"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(run.stderr);

    // Several errors are all reported, each located.
    let run = hl7(&[
        "validate",
        "--profile",
        "tests/fixtures/malformed/site_several_errors.xml",
        ACME_VALID,
    ]);
    assert_eq!(run.code, Some(2));
    let located = run
        .stderr
        .matches("--> tests/fixtures/malformed/site_several_errors.xml:")
        .count();
    assert!(located >= 2, "{}", run.stderr);
}

#[test]
fn a_missing_profile_or_message_file_exits_2() {
    let run = hl7(&["validate", "--profile", "no/such/profile.xml", ACME_VALID]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .starts_with("error: cannot read `no/such/profile.xml`"),
        "{}",
        run.stderr
    );

    // A file that cannot be read fails the run even when the others are valid.
    let run = hl7(&[
        "validate",
        "--profile",
        ACME,
        ACME_VALID,
        "no/such/message.hl7",
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .starts_with("error: cannot read `no/such/message.hl7`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout().ends_with("; 1 could not be read\n"),
        "{}",
        run.stdout()
    );
}
