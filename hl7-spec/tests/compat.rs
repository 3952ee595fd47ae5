//! The compatibility report of a sender's and a receiver's profile.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hl7_spec::compat::{compare, CompatReport, FindingKind, Severity};
use hl7_spec::profile::parse_profile;
use hl7_spec::site::parse_site_profile;
use hl7_spec::{MessageProfile, SourceFile};

const LAB: &str = "tests/fixtures/compat/lab_oru_r01_sender.xml";
const EHR: &str = "tests/fixtures/compat/ehr_oru_r01_receiver.xml";
const ADT_25: &str = "tests/fixtures/profiles/hapi_ADT_A01_v25_full_with_predicates.xml";
const ADT_231_VA: &str = "tests/fixtures/profiles/hapi_ADT_A01_v231_VA_receiver.xml";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a fixture named by its path relative to the workspace, so spans (and snapshots) do
/// not depend on where the checkout lives.
fn load(relative: &str) -> MessageProfile {
    let text = std::fs::read_to_string(workspace().join(relative)).expect("read fixture");
    let file = SourceFile::new(relative, text);
    let profile = if file.text().contains("<SiteProfile") {
        parse_site_profile(&file)
    } else {
        parse_profile(&file)
    };
    profile.unwrap_or_else(|e| panic!("{e}"))
}

/// The (severity, kind) of the finding at `path`, panicking with the report when absent.
fn at(report: &CompatReport, path: &str, kind: FindingKind) -> Severity {
    report
        .findings
        .iter()
        .find(|f| f.path == path && f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} at {path}:\n{report}"))
        .severity
}

#[test]
fn lab_sender_to_ehr_receiver() {
    let report = compare(&load(LAB), &load(EHR));
    insta::assert_snapshot!(report.to_string());
    assert!(report.has_errors());

    let pid = "PATIENT_RESULT/PATIENT/PID";
    let obx = "PATIENT_RESULT/ORDER_OBSERVATION/OBSERVATION/OBX";
    use FindingKind::*;
    let expected = [
        (format!("{pid}-3"), TooManyRepetitions, Severity::Error),
        (format!("{pid}-8"), RequiredAtReceiver, Severity::Error),
        (format!("{pid}-8"), TableDiffers, Severity::Warning),
        (format!("{pid}-19"), ExcludedAtReceiver, Severity::Error),
        (
            "PATIENT_RESULT/PATIENT/ZPI".to_owned(),
            MissingAtReceiver,
            Severity::Error,
        ),
        (format!("{obx}-3"), LengthShrinks, Severity::Error),
        (format!("{obx}-3"), DatatypeDiffers, Severity::Warning),
        (format!("{obx}-3.3"), ConstantDiffers, Severity::Error),
        (
            "PATIENT_RESULT/ORDER_OBSERVATION/OBSERVATION/ZLR".to_owned(),
            ExcludedAtReceiver,
            Severity::Error,
        ),
        ("ZEH".to_owned(), MissingAtSender, Severity::Info),
    ];
    for (path, kind, severity) in &expected {
        assert_eq!(at(&report, path, *kind), *severity, "{kind:?} at {path}");
    }
    assert_eq!(report.findings.len(), expected.len(), "{report}");
    assert_eq!(
        (
            report.count(Severity::Error),
            report.count(Severity::Warning),
            report.count(Severity::Info)
        ),
        (7, 2, 1)
    );

    // Both places are named, receiver first.
    let pid8 = &report.findings[1];
    assert_eq!(
        pid8.receiver.as_ref().map(|s| s.to_string()).as_deref(),
        Some("tests/fixtures/compat/ehr_oru_r01_receiver.xml:12:3")
    );
    assert_eq!(
        pid8.sender.as_ref().map(|s| s.to_string()).as_deref(),
        Some("tests/fixtures/compat/lab_oru_r01_sender.xml:18:3")
    );
    assert!(pid8.to_string().starts_with(
        "error: PATIENT_RESULT/PATIENT/PID-8 (Administrative Sex) is required by the receiver, \
         optional (O) at the sender\n  --> tests/fixtures/compat/ehr_oru_r01_receiver.xml:12:3 (receiver)\n  --> "
    ));
    // The codes of the sender's value set that table 0001 (HL7 2.5.1) lacks.
    let table = report.of_kind(TableDiffers).next().expect("table finding");
    assert!(
        table
            .message
            .ends_with("3 codes the receiver's table lacks: `UNK`, `1`, `2`"),
        "{}",
        table.message
    );
}

#[test]
fn the_reverse_direction_reports_other_work() {
    // The EHR as sender, the lab as receiver: what the lab requires and the EHR may omit.
    let report = compare(&load(EHR), &load(LAB));
    assert_eq!(
        at(
            &report,
            "PATIENT_RESULT/PATIENT/ZPI",
            FindingKind::MissingAtSender
        ),
        Severity::Info
    );
    assert_eq!(
        at(&report, "ZEH", FindingKind::MissingAtReceiver),
        Severity::Error
    );
    // The EHR excludes ZLR, so it never sends it: nothing to say about it.
    assert!(
        report.findings.iter().all(|f| !f.path.ends_with("ZLR")),
        "{report}"
    );
    // PID-8 is required by the EHR, optional at the lab: no problem this way round, but the
    // tables differ and 0001 has codes the lab's value set lacks.
    assert!(report
        .findings
        .iter()
        .all(|f| f.kind != FindingKind::RequiredAtReceiver || !f.path.ends_with("PID-8")));
    assert_eq!(
        at(
            &report,
            "PATIENT_RESULT/PATIENT/PID-8",
            FindingKind::TableDiffers
        ),
        Severity::Warning
    );
    // Both profiles state a role, and the lab's says `Sender`.
    assert_eq!(at(&report, "", FindingKind::RoleMismatch), Severity::Info);
}

#[test]
fn a_profile_is_compatible_with_itself() {
    for path in [LAB, EHR, ADT_25, ADT_231_VA] {
        let profile = load(path);
        let report = compare(&profile, &profile);
        // Only the role can be wrong for one side.
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.kind == FindingKind::RoleMismatch),
            "{path}:\n{report}"
        );
        assert!(!report.has_errors());
    }
    let base = hl7_spec::base::load("2.5.1")
        .unwrap()
        .to_profile("ORU_R01")
        .unwrap();
    let report = compare(&base, &base);
    assert_eq!(report, CompatReport::default());
    assert_eq!(report.to_string(), "compatible: nothing to report");
}

#[test]
fn different_messages_are_one_error() {
    let report = compare(&load(ADT_25), &load(EHR));
    assert_eq!(report.findings.len(), 1, "{report}");
    assert_eq!(report.findings[0].kind, FindingKind::MessageDiffers);
    insta::assert_snapshot!(report.to_string(), @r"
    error: not the same message: the sender's profile is ADT^A01 (ADT_A01), the receiver's ORU^R01 (ORU_R01)
      --> tests/fixtures/compat/ehr_oru_r01_receiver.xml:5:1 (receiver)
      --> tests/fixtures/profiles/hapi_ADT_A01_v25_full_with_predicates.xml:8:2 (sender)

    1 error, 0 warnings, 0 info
    ");

    // Another event of the same structure: an error, and the elements are still compared.
    let sender = load(LAB);
    let mut receiver = load(LAB);
    receiver.event_type = "R30".into();
    receiver.role = None;
    receiver.children.retain(|n| n.name() != "MSH");
    let report = compare(&sender, &receiver);
    assert_eq!(
        at(&report, "", FindingKind::MessageDiffers),
        Severity::Error
    );
    assert_eq!(
        at(&report, "MSH", FindingKind::MissingAtReceiver),
        Severity::Error
    );
}

/// The real HAPI fixtures: a v2.5 sender (the whole base ADT_A01) and the VA's v2.3.1 receiver.
///
/// A version difference is a warning and the comparison goes on by position: the findings are
/// what 2.5 added or widened (longer lengths, new components and fields, new codes, renamed
/// datatypes) against what the VA accepts. The snapshot lists every finding on one line, except
/// the lengths of components and subcomponents (counted): the VA profile gives nearly every
/// component a length of 3.
#[test]
fn hapi_adt_a01_v25_sender_to_v231_va_receiver() {
    let report = compare(&load(ADT_25), &load(ADT_231_VA));
    assert_eq!(
        at(&report, "", FindingKind::VersionDiffers),
        Severity::Warning
    );
    assert_eq!(
        at(&report, "SFT", FindingKind::MissingAtReceiver),
        Severity::Error
    );
    assert_eq!(
        at(&report, "PID-3", FindingKind::TooManyRepetitions),
        Severity::Error
    );
    assert_eq!(
        at(&report, "PID-19", FindingKind::RequiredAtReceiver),
        Severity::Error
    );
    assert_eq!(
        at(&report, "PID-31", FindingKind::MissingAtReceiver),
        Severity::Warning
    );
    assert_eq!(
        at(&report, "EVN-4", FindingKind::ExcludedAtReceiver),
        Severity::Error
    );
    assert_eq!(
        at(&report, "PID-8", FindingKind::CodesMissing),
        Severity::Warning
    );
    assert!(report.has_errors());

    let mut digest = String::new();
    writeln!(digest, "{}\n", report.summary()).unwrap();
    let mut counts: BTreeMap<(Severity, String), usize> = BTreeMap::new();
    for f in &report.findings {
        *counts
            .entry((f.severity, format!("{:?}", f.kind)))
            .or_default() += 1;
    }
    for ((severity, kind), n) in counts.iter().rev() {
        writeln!(digest, "{n:>4} {severity} {kind}").unwrap();
    }
    writeln!(digest, "\nthe first findings in full:\n").unwrap();
    for f in report.findings.iter().take(3) {
        writeln!(digest, "{f}\n").unwrap();
    }
    writeln!(digest, "every finding but component lengths:\n").unwrap();
    let mut lengths = 0;
    for f in &report.findings {
        if f.kind == FindingKind::LengthShrinks && f.path.contains('.') {
            lengths += 1;
        } else {
            writeln!(digest, "{}: {}", f.severity, f.message).unwrap();
        }
    }
    writeln!(
        digest,
        "\n(and {lengths} length findings on components and subcomponents)"
    )
    .unwrap();
    insta::assert_snapshot!(digest);
}
