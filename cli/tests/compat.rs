//! `hl7 compat`: the report, its JSON form, and the exit code.

mod common;

use common::{hl7, Run};

const LAB: &str = "tests/fixtures/compat/lab_oru_r01_sender.xml";
const EHR: &str = "tests/fixtures/compat/ehr_oru_r01_receiver.xml";

/// What a snapshot shows of a run: the exit code, stdout, stderr.
fn shown(run: &Run) -> String {
    format!(
        "exit code: {:?}\n--- stdout\n{}--- stderr\n{}",
        run.code,
        run.stdout(),
        run.stderr
    )
}

#[test]
fn an_incompatible_pair_exits_1_with_the_report() {
    let run = hl7(&["compat", "--sender", LAB, "--receiver", EHR]);
    assert_eq!(run.code, Some(1), "{}", shown(&run));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let out = run.stdout();
    assert!(
        out.contains(
            "error: PATIENT_RESULT/PATIENT/PID-8 (Administrative Sex) is required by the \
             receiver, optional (O) at the sender\n  \
             --> tests/fixtures/compat/ehr_oru_r01_receiver.xml:12:3 (receiver)\n  \
             --> tests/fixtures/compat/lab_oru_r01_sender.xml:18:3 (sender)\n"
        ),
        "{out}"
    );
    assert!(out.ends_with("\n7 errors, 2 warnings, 1 info\n"), "{out}");
    insta::assert_snapshot!(shown(&run));
}

#[test]
fn warnings_only_exit_0() {
    // The EHR's profile against itself as the sender: its role is wrong for that side (info).
    let run = hl7(&["compat", "-s", EHR, "-r", EHR]);
    assert_eq!(run.code, Some(0), "{}", shown(&run));
    assert!(
        run.stdout().ends_with("0 errors, 0 warnings, 1 info\n"),
        "{}",
        run.stdout()
    );

    // Base ORU_R01 at both ends, as the lab and the EHR constrain it: only the lab's extras.
    let run = hl7(&[
        "compat",
        "-s",
        "tests/fixtures/site/acme_lab_oru_r01.xml",
        "-r",
        LAB,
    ]);
    assert_eq!(run.code, Some(1), "{}", shown(&run));
}

#[test]
fn json_format() {
    let run = hl7(&[
        "compat",
        "--sender",
        LAB,
        "--receiver",
        EHR,
        "--format",
        "json",
    ]);
    assert_eq!(run.code, Some(1), "{}", shown(&run));
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("valid JSON");
    assert_eq!(value["compatible"], false);
    assert_eq!(value["summary"]["errors"], 7);
    assert_eq!(value["summary"]["warnings"], 2);
    assert_eq!(value["summary"]["info"], 1);
    let pid8 = &value["findings"][1];
    assert_eq!(pid8["severity"], "error");
    assert_eq!(pid8["kind"], "required_at_receiver");
    assert_eq!(pid8["path"], "PATIENT_RESULT/PATIENT/PID-8");
    assert_eq!(
        pid8["receiver"],
        "tests/fixtures/compat/ehr_oru_r01_receiver.xml:12:3"
    );
    assert_eq!(
        pid8["sender"],
        "tests/fixtures/compat/lab_oru_r01_sender.xml:18:3"
    );
    let zeh = &value["findings"][9];
    assert_eq!(zeh["severity"], "info");
    assert_eq!(zeh["sender"], serde_json::Value::Null);
    insta::assert_snapshot!(run.stdout());
}

#[test]
fn load_errors_exit_2_and_name_every_profile() {
    let run = hl7(&[
        "compat",
        "--sender",
        "no/such/sender.xml",
        "--receiver",
        "tests/fixtures/malformed/unknown_usage.xml",
    ]);
    assert_eq!(run.code, Some(2), "{}", shown(&run));
    assert_eq!(run.stdout, b"");
    assert!(
        run.stderr
            .starts_with("error: cannot read `no/such/sender.xml`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("--> tests/fixtures/malformed/unknown_usage.xml:6:37"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(shown(&run));
}

#[test]
fn both_profiles_are_required() {
    let run = hl7(&["compat", "--sender", LAB]);
    assert_eq!(run.code, Some(2), "{}", shown(&run));
    assert!(
        run.stderr.contains("--receiver <RECEIVER>"),
        "{}",
        run.stderr
    );
}
