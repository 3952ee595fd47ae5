//! Conditional usage: predicates in an evaluable form are checked, both ways.

use hl7_runtime::validate::ProblemKind;
use hl7_tests::{acme, nist};

const ACME: &str = "MSH|^~\\&|LIS|ACME|EHR|STMARYS|20241127083000||ORU^R01^ORU_R01|1|P|2.5.1\r\
PID|1||881234^^^ACME^MR||DOE^JANE||19790412|F\r\
OBR|1|||GLU^Glucose^LAB\r";

fn acme_problems(obx: &str) -> Vec<String> {
    let text = format!("{ACME}{obx}\r");
    let parsed = acme::OruR01::parse_lenient(text.as_bytes()).expect("ER7");
    parsed
        .problems
        .iter()
        .filter(|p| p.location.segment_id == "OBX" && p.location.field == Some(5))
        .map(ToString::to_string)
        .collect()
}

// ACME's OBX-5: "If OBX-11 (Observation Result Status) is not D (deleted)": R when it holds, X when not.
#[test]
fn a_text_predicate_of_one_clause_is_evaluated() {
    assert!(acme_problems("OBX|1|NM|GLU^Glucose^LAB||104||||||F").is_empty());
    let missing = acme_problems("OBX|1|NM|GLU^Glucose^LAB||||||||F");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("required field OBX-5"), "{missing:?}");
    let excluded = acme_problems("OBX|1|NM|GLU^Glucose^LAB||104||||||D");
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert!(excluded[0].contains("excludes it"), "{excluded:?}");
    assert!(acme_problems("OBX|1|NM|GLU^Glucose^LAB||||||||D").is_empty());
}

const VXU: &str = "MSH|^~\\&|{MSH3}|X|Y|Z|20240101||VXU^V04^VXU_V04|1|P|2.5.1|||ER|AL\r\
PID|1||123^^^MYEHR^MR||DOE^JANE^^^^^L||20200101|F\r\
ORC|RE||197023^CMC\r\
RXA|0|1|20240101||08^HepB^CVX|999\r";

fn msh3_problems(msh3: &str) -> Vec<ProblemKind> {
    let text = VXU.replace("{MSH3}", msh3);
    let parsed = nist::VxuV04::parse_lenient(text.as_bytes()).expect("ER7");
    parsed
        .problems
        .into_iter()
        .filter(|p| p.location.segment_id == "MSH" && p.location.field == Some(3))
        .map(|p| p.kind)
        .collect()
}

// NIST's HD: HD.1 is R "if HD.2 is not valued" (else O); HD.3 is R "if HD.2 is valued" (else X).
#[test]
fn nist_structured_predicates_are_evaluated() {
    assert!(msh3_problems("MYEHR").is_empty());
    assert!(msh3_problems("^2.16.840.1.113883.3.72^ISO").is_empty());
    let hd3_without_hd2 = msh3_problems("MYEHR^^ISO");
    assert!(
        matches!(hd3_without_hd2.as_slice(), [ProblemKind::Excluded { .. }]),
        "{hd3_without_hd2:?}"
    );
    let hd2_without_hd3 = msh3_problems("^2.16.840.1.113883.3.72");
    assert!(
        matches!(
            hd2_without_hd3.as_slice(),
            [ProblemKind::MissingRequired { .. }]
        ),
        "{hd2_without_hd3:?}"
    );
}
