//! Crosswalk lookups under each unmapped-code policy, files read at run time, and the located
//! errors of a bad file.

use hl7_runtime::crosswalk::{Code, Crosswalk, CrosswalkError, MapKind, Policy, Row};

/// Rows sorted by `(from_system, from_code)`, as the generator emits them.
const LAB_ROWS: &[Row] = &[
    Row::new(
        "LAB",
        "GLU",
        "http://loinc.org",
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
    ),
    Row::new(
        "LAB",
        "K",
        "http://loinc.org",
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
    ),
];

static REJECT: Crosswalk = Crosswalk::new("lab_to_loinc", Policy::Reject, LAB_ROWS, None, None);
static PASS: Crosswalk = Crosswalk::new("lab_to_loinc_pass", Policy::Pass, LAB_ROWS, None, None);
static DEFAULT: Crosswalk = Crosswalk::new(
    "lab_to_loinc_default",
    Policy::Default(Code::new("http://loinc.org", "LA4489-6", "Unknown")),
    LAB_ROWS,
    None,
    None,
);
static SEX: Crosswalk = Crosswalk::new(
    "acme_sex",
    Policy::Reject,
    &[
        Row::new("", "1", "HL70001", "M", "Male"),
        Row::new("", "2", "HL70001", "F", "Female"),
    ],
    None,
    None,
);

#[test]
fn a_mapped_code_gets_its_row() {
    let mapped = REJECT.lookup("LAB", "GLU").expect("mapped");
    assert_eq!(mapped.system, "http://loinc.org");
    assert_eq!(mapped.code, "2345-7");
    assert_eq!(mapped.display, "Glucose [Mass/volume] in Serum or Plasma");
    assert_eq!(mapped.kind, MapKind::Mapped);
    assert_eq!(REJECT.name(), "lab_to_loinc");
    assert_eq!(REJECT.len(), 2);
}

#[test]
fn the_system_is_part_of_the_key() {
    assert!(REJECT.lookup("OTHER", "GLU").is_err());
    assert!(REJECT.lookup("", "GLU").is_err());
}

#[test]
fn an_empty_from_system_matches_any_system() {
    assert_eq!(SEX.lookup("", "1").expect("mapped").code, "M");
    assert_eq!(SEX.lookup("L", "2").expect("mapped").code, "F");
}

#[test]
fn unmapped_under_reject_names_the_code_and_the_crosswalk() {
    let error = REJECT.lookup("LAB", "XYZ").unwrap_err();
    assert_eq!(
        (
            error.crosswalk.as_str(),
            error.system.as_str(),
            error.code.as_str()
        ),
        ("lab_to_loinc", "LAB", "XYZ")
    );
    assert_eq!(
        error.to_string(),
        "code `XYZ` of system `LAB` has no mapping in crosswalk `lab_to_loinc`"
    );
    let error = SEX.lookup("", "9").unwrap_err();
    assert_eq!(
        error.to_string(),
        "code `9` has no mapping in crosswalk `acme_sex`"
    );
}

#[test]
fn unmapped_under_pass_is_the_input_unchanged() {
    let mapped = PASS.lookup("LAB", "XYZ").expect("passed");
    assert_eq!(
        (&*mapped.system, &*mapped.code, &*mapped.display),
        ("LAB", "XYZ", "")
    );
    assert_eq!(mapped.kind, MapKind::Passed);
    assert_eq!(PASS.lookup("LAB", "K").expect("mapped").code, "2823-3");
}

#[test]
fn unmapped_under_default_is_the_default() {
    let mapped = DEFAULT.lookup("LAB", "XYZ").expect("defaulted");
    assert_eq!(
        (&*mapped.system, &*mapped.code, &*mapped.display),
        ("http://loinc.org", "LA4489-6", "Unknown")
    );
    assert_eq!(mapped.kind, MapKind::Defaulted);
    assert_eq!(
        DEFAULT.policy().to_string(),
        "default http://loinc.org|LA4489-6|Unknown"
    );
}

#[test]
fn a_crosswalk_read_at_run_time() {
    let crosswalk =
        Crosswalk::from_file("tests/crosswalk_fixtures/lab_to_loinc.csv").expect("reads");
    assert_eq!(crosswalk.name(), "lab_to_loinc");
    assert_eq!(crosswalk.policy(), Policy::Reject);
    assert_eq!(crosswalk.len(), 6);
    let cbc = crosswalk.lookup("LAB", "CBC").expect("mapped");
    assert_eq!(
        (&*cbc.code, &*cbc.display),
        ("58410-2", "CBC panel - Blood by Automated count")
    );
    assert!(crosswalk.lookup("LAB", "XYZ").is_err());
}

#[test]
fn a_bad_file_reports_every_problem_located() {
    let error = Crosswalk::from_file("tests/crosswalk_fixtures/bad.csv").unwrap_err();
    assert_eq!(error.located().len(), 7, "{error}");
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn an_unterminated_quote_is_located_at_its_opening() {
    let error = Crosswalk::from_file("tests/crosswalk_fixtures/unterminated.csv").unwrap_err();
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn a_file_without_a_policy_is_refused() {
    let error = Crosswalk::from_file("tests/crosswalk_fixtures/no_policy.csv").unwrap_err();
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn a_missing_file_is_an_io_error() {
    let error = Crosswalk::from_file("tests/crosswalk_fixtures/absent.csv").unwrap_err();
    assert!(matches!(error, CrosswalkError::Io { .. }));
    assert!(error
        .to_string()
        .starts_with("cannot read crosswalk `tests/crosswalk_fixtures/absent.csv`"));
}
