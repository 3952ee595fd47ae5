//! Real sample messages parsed into the types generated from the fixture profiles: each one
//! parses, or reports its problems with their HL7 locations; none panics.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hl7_runtime::typed::{MessageType, Parsed};
use hl7_tests::{base251, gazelle, hapi, hapi_va, nist};

fn messages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixtures/messages")
}

/// Rows of MANIFEST.tsv: (source folder, file, MSH-9, version, flags).
fn manifest() -> Vec<(String, String, String, String, String)> {
    let text = std::fs::read_to_string(messages_dir().join("MANIFEST.tsv")).expect("manifest");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Some((
                cols.first()?.to_string(),
                cols.get(1)?.to_string(),
                cols.get(2)?.to_string(),
                cols.get(3)?.to_string(),
                cols.get(16).unwrap_or(&"").to_string(),
            ))
        })
        .collect()
}

fn summary<M: MessageType>(parsed: &Parsed<M>) -> String {
    let errors = parsed.problems.iter().filter(|p| p.is_error()).count();
    let warnings = parsed.problems.len() - errors;
    let mut out = format!("{errors} error(s), {warnings} warning(s)");
    for problem in parsed.problems.iter().filter(|p| p.is_error()).take(3) {
        let _ = write!(out, "\n    {problem}");
    }
    out
}

fn parse_as<M: MessageType>(bytes: &[u8]) -> String {
    match hl7_runtime::typed::parse_lenient::<M>(bytes) {
        Ok(parsed) => {
            // What the typed model holds encodes to a message the generic parser accepts.
            let text = hl7_runtime::typed::to_er7(&parsed.message);
            assert!(
                hl7_runtime::er7::Message::parse(&text).is_ok(),
                "re-encoded message parses"
            );
            summary(&parsed)
        }
        Err(error) => format!("not ER7: {error}"),
    }
}

#[test]
fn fixture_messages_parse_into_their_profile_types() {
    let mut report = String::new();
    for (source, file, msh9, version, flags) in manifest() {
        if flags.contains("[defect]") || file.ends_with(".batch.hl7") {
            continue;
        }
        let mut parts = msh9.split(['^', '~']);
        let key = format!(
            "{}^{}",
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        );
        let bytes = std::fs::read(messages_dir().join(&source).join(&file)).expect("fixture");
        let outcome = match (key.as_str(), version.as_str()) {
            ("VXU^V04", "2.5.1") => ("nist::VxuV04", parse_as::<nist::VxuV04>(&bytes)),
            ("OUL^R22", _) => ("gazelle::OulR22", parse_as::<gazelle::OulR22>(&bytes)),
            ("RSP^K23", _) => ("gazelle::RspK23", parse_as::<gazelle::RspK23>(&bytes)),
            ("ADT^A01", "2.3.1") => ("hapi_va::AdtA01", parse_as::<hapi_va::AdtA01>(&bytes)),
            ("ADT^A01", "2.5") => ("hapi::AdtA01", parse_as::<hapi::AdtA01>(&bytes)),
            ("ACK^" | "ACK^Q23" | "ACK^R01", _) => ("hapi::Ack", parse_as::<hapi::Ack>(&bytes)),
            ("ORU^R01", "2.5.1") => ("base251::OruR01", parse_as::<base251::OruR01>(&bytes)),
            ("ADT^A01" | "ADT^A04" | "ADT^A08", "2.5.1") => {
                ("base251::AdtA01", parse_as::<base251::AdtA01>(&bytes))
            }
            _ => continue,
        };
        let flag = if flags.is_empty() {
            String::new()
        } else {
            format!(" {flags}")
        };
        let _ = writeln!(
            report,
            "{source}/{file} as {}{flag}: {}",
            outcome.0, outcome.1
        );
    }
    assert!(
        report.lines().count() >= 10,
        "too few fixtures matched:\n{report}"
    );
    insta::assert_snapshot!(report);
}
