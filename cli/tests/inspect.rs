//! `hl7 inspect`: the named tree, JSON, and the ER7 round trip over the fixture corpus.

mod common;

use common::{hl7, message, workspace, MESSAGES};
use hl7_runtime::er7::{decode_bytes, encode_text};

#[test]
fn tree_of_a_small_message() {
    let run = hl7(&["inspect", &message("python-hl7/ORU_R01_v24_GHH_lab.hl7")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
    insta::assert_snapshot!(run.stdout());
}

#[test]
fn tree_shows_repetitions_subcomponents_and_decoded_escapes() {
    let run = hl7(&[
        "inspect",
        &message("python-hl7/ORU_R01_v24_repetition_subcomponent_demo.hl7"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    insta::assert_snapshot!(run.stdout());

    // `\T\` is shown decoded.
    let run = hl7(&["inspect", &message("hapi-hl7v2/ADT_A04_v23_T_escape.hl7")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = run.stdout();
    assert!(
        out.contains("PID-11.2 Other Designation [ST] = MARIO & LUIGI BROS PLACE\n"),
        "{out}"
    );
}

#[test]
fn unknown_version_takes_names_from_2_5_1() {
    let run = hl7(&[
        "inspect",
        &message("hapi-hl7v2/ORU_R01_v2999_unknown_version_ZNT.hl7"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = run.stdout();
    assert!(
        out.contains("ORU^R01, HL7 2.999, names from 2.5.1\n"),
        "{out}"
    );
    assert!(out.contains("  ORC(2) Common Order\n"), "{out}");
}

#[test]
fn json_of_one_message() {
    let run = hl7(&[
        "inspect",
        "--json",
        &message("python-hl7/ORU_R01_v24_repetition_subcomponent_demo.hl7"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("valid JSON");
    let messages = value.as_array().expect("an array of messages");
    assert_eq!(messages.len(), 1);
    let pid = &messages[0]["segments"][1];
    assert_eq!(pid["id"], "PID");
    assert_eq!(pid["fields"][3]["repetitions"][1]["value"], "Repeat2");
    insta::assert_snapshot!(run.stdout());
}

#[test]
fn json_of_several_files_is_one_array() {
    let run = hl7(&[
        "inspect",
        "--json",
        &message("python-hl7/ORU_R01_v24_GHH_lab.hl7"),
        &message("python-hl7/file_FHS_2xBHS.batch.hl7"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).expect("valid JSON");
    let numbers: Vec<_> = value
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| m["message"].as_u64())
        .collect();
    assert_eq!(numbers, [Some(1), Some(1), Some(2), Some(3)]);
}

/// The file's bytes with the BOM dropped, empty lines dropped and every segment ended by `\r`,
/// in the file's own character set; batch header and trailer segments dropped.
fn expected_er7(bytes: &[u8]) -> Vec<u8> {
    let decoded = decode_bytes(bytes).expect("the fixture decodes");
    let mut text = String::new();
    for line in decoded.text.split(['\r', '\n']) {
        if line.is_empty()
            || ["FHS", "BHS", "BTS", "FTS"]
                .iter()
                .any(|id| line.starts_with(id))
        {
            continue;
        }
        text.push_str(line);
        text.push('\r');
    }
    encode_text(&text, decoded.charset)
        .expect("the fixture's text encodes in its charset")
        .into_owned()
}

/// Fixtures that are not flagged in the manifest but that the ER7 reader refuses (see
/// `runtime/tests/er7_corpus.rs`).
const REFUSED_BY_THE_READER: &[&str] = &["ipf/ORU_R01_v24_ZBE_ZYX_repeating_MSH18.hl7"];

#[test]
fn er7_round_trip_of_every_sound_fixture() {
    let manifest = std::fs::read_to_string(workspace().join(MESSAGES).join("MANIFEST.tsv"))
        .expect("read MANIFEST.tsv");
    let mut checked = Vec::new();
    for line in manifest.lines().skip(1) {
        let columns: Vec<&str> = line.split('\t').collect();
        let (source, file, batch) = (columns[0], columns[1], columns[7]);
        let flags = columns.last().copied().unwrap_or_default();
        let name = format!("{source}/{file}");
        if flags.contains("[defect]")
            || flags.contains("[negative-test]")
            || REFUSED_BY_THE_READER.contains(&name.as_str())
        {
            continue;
        }
        let path = message(&name);
        let run = hl7(&["inspect", "--er7", &path]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        let bytes = std::fs::read(workspace().join(&path)).expect("read the fixture");
        let expected = expected_er7(&bytes);
        assert!(
            run.stdout == expected,
            "{name}: round trip differs\n--- got\n{}\n--- expected\n{}",
            String::from_utf8_lossy(&run.stdout).replace('\r', "\n"),
            String::from_utf8_lossy(&expected).replace('\r', "\n"),
        );
        checked.push((name, batch == "Y"));
    }
    // The corpus holds the cases that matter; make sure they were exercised.
    for must in [
        "hapi-hl7v2/ADT_A31_v23_8859-1_crlf.hl7", // 8859/1 declared, CRLF
        "ipf/ADT_A40_v231_iso8859-1_bytes.hl7",   // Latin-1 bytes (undeclared), CRLF
        "ipf/ORU_R01_v251_crlf.hl7",              // CRLF
        "fhir-converter/VXU_V04_v251_small.hl7",  // BOM, LF
        "hapi-hl7v2/ORU_R01_v24_mixed_terminators_empty_PID.hl7", // flagged: not checked
        "python-hl7/file_FHS_2xBHS.batch.hl7",    // file of batches: every message
        "mirth-connect/newline_batch_3xSIU_no_BHS.batch.hl7", // bare concatenation
    ] {
        let found = checked.iter().any(|(name, _)| name == must);
        assert_eq!(found, !must.contains("empty_PID"), "{must}");
    }
    assert!(
        checked.len() > 80,
        "only {} fixtures checked",
        checked.len()
    );
}

#[test]
fn latin1_is_written_back_in_latin1() {
    let path = message("ipf/ADT_A40_v231_iso8859-1_bytes.hl7");
    let bytes = std::fs::read(workspace().join(&path)).expect("read the fixture");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture holds Latin-1 bytes"
    );
    let run = hl7(&["inspect", "--er7", &path]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        std::str::from_utf8(&run.stdout).is_err(),
        "written as Latin-1, not UTF-8"
    );
    assert!(!run.stdout.contains(&b'\n'));
}

#[test]
fn batch_prints_every_message() {
    let run = hl7(&["inspect", &message("python-hl7/file_FHS_2xBHS.batch.hl7")]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = run.stdout();
    let headers: Vec<&str> = out.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(headers.len(), 3, "{out}");
    assert!(headers[2].contains(": message 3"), "{out}");
}

#[test]
fn a_malformed_message_of_a_concatenation_does_not_hide_the_others() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("concatenation_with_a_bad_message.hl7");
    std::fs::write(
        &path,
        "MSH|^~\\&|A||||||ADT^A01|1|P|2.5\rPID|1\n\
         MSH|^~\\&|B||||||ADT^A01|2|P|2.5\rpid|1\r\
         MSH|^~\\&|C||||||ADT^A01|3|P|2.5\rPID|1\r",
    )
    .expect("write the test file");
    let path = path.to_str().expect("a UTF-8 temp path");
    let run = hl7(&["inspect", path]);
    assert_eq!(run.code, Some(2));
    let out = run.stdout();
    assert!(out.contains(": message 1 (MSH-10 = 1)") && out.contains(": message 3 (MSH-10 = 3)"));
    assert!(!out.contains(": message 2"), "{out}");
    assert_eq!(
        run.stderr,
        format!("error: {path}: message 2: malformed segment id \"pid\" at pid(2) @ byte 32\n")
    );
}
