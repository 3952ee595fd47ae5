//! The real-world sample messages of `tests/fixtures/messages` (see `MANIFEST.tsv` and the
//! `PROVENANCE.md` of each source): every message decodes, parses, walks down to the
//! subcomponents and re-encodes to its own bytes (terminators normalised to `\r`, BOM
//! dropped); defects give a located error or parse, and never panic.

use std::fmt::Write as _;
use std::path::PathBuf;

use hl7_runtime::er7::batch::Batch;
use hl7_runtime::er7::{decode_bytes, encode_text, Message, ParseError};

struct Entry {
    source: String,
    file: String,
    flags: String,
}

impl Entry {
    fn name(&self) -> String {
        format!("{}/{}", self.source, self.file)
    }
    fn is_defect(&self) -> bool {
        self.flags.contains("[defect]")
    }
    fn is_batch(&self) -> bool {
        self.file.ends_with(".batch.hl7")
    }
}

/// Messages that must be refused by the ER7 layer itself (the other negative tests are
/// about profiles and conformance, and parse fine here).
const MUST_FAIL: &[(&str, &str)] = &[
    (
        "hapi-hl7v2/ORU_R01_v24_repeating_MSH18.hl7",
        "MSH-18 `x` is not in table 0211",
    ),
    (
        "ipf/ORU_R01_v24_ZBE_ZYX_repeating_MSH18.hl7",
        "MSH-18 `code1` is not in table 0211 (not flagged in the manifest, same case as above)",
    ),
    (
        "python-hl7/bad_batch_no_MSH.batch.hl7",
        "segments outside a message",
    ),
    (
        "python-hl7/bad_batch_nested_BHS.batch.hl7",
        "BHS inside an open batch",
    ),
    (
        "python-hl7/bad_file_no_MSH.batch.hl7",
        "segments outside a message",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/messages")
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(root().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Entry {
                source: cols[0].to_owned(),
                file: cols[1].to_owned(),
                flags: cols.last().copied().unwrap_or_default().to_owned(),
            }
        })
        .collect()
}

fn read(entry: &Entry) -> Vec<u8> {
    std::fs::read(root().join(&entry.source).join(&entry.file)).expect("fixture file")
}

/// The bytes with the BOM dropped, empty lines dropped, and every segment ended by `\r`.
fn normalised(bytes: &[u8]) -> Vec<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for line in bytes.split(|&b| b == b'\r' || b == b'\n') {
        if !line.is_empty() {
            out.extend_from_slice(line);
            out.push(b'\r');
        }
    }
    out
}

/// Touches every subcomponent; returns (segments, subcomponents, decoded bytes).
fn walk(m: &Message<'_>) -> (usize, usize, usize) {
    let (mut subs, mut decoded) = (0, 0);
    for seg in m.segments() {
        for f in seg.fields() {
            for r in f.repetitions() {
                for c in r.components() {
                    for s in c.subcomponents() {
                        assert!(m.text()[s.offset()..].starts_with(s.raw()));
                        subs += 1;
                        decoded += s.decoded().len();
                    }
                }
            }
        }
    }
    (m.segment_count(), subs, decoded)
}

fn check_located(name: &str, err: &ParseError) {
    assert!(
        err.location().is_some() || *err == ParseError::Empty,
        "{name}: error without location: {err}"
    );
}

/// Decodes, parses, walks and round-trips one file; `Err` carries the (located) error.
fn process(entry: &Entry) -> Result<String, ParseError> {
    let bytes = read(entry);
    let decoded = decode_bytes(&bytes)?;
    let text = &decoded.text;
    let mut encoded = String::new();
    let mut summary = String::new();
    if entry.is_batch() {
        let batch = Batch::parse(text)?;
        for m in &batch.messages {
            let (segs, subs, _) = walk(m);
            let _ = write!(summary, "[{segs} segments, {subs} subcomponents]");
            encoded.push_str(&m.encode());
        }
        // Headers and trailers are not part of the messages: compare the message lines.
        let keep = |line: &[u8]| !matches!(line.get(..3), Some(b"FHS" | b"BHS" | b"BTS" | b"FTS"));
        let expected: Vec<u8> = normalised(&bytes)
            .split_inclusive(|&b| b == b'\r')
            .filter(|l| keep(l))
            .flatten()
            .copied()
            .collect();
        let actual = encode_text(&encoded, decoded.charset)?;
        assert_eq!(*actual, expected[..], "{}: batch round trip", entry.name());
    } else {
        let m = Message::parse(text)?;
        let (segs, subs, _) = walk(&m);
        let _ = write!(summary, "[{segs} segments, {subs} subcomponents]");
        let actual = encode_text(&m.encode(), decoded.charset)?.into_owned();
        assert_eq!(
            String::from_utf8_lossy(&actual),
            String::from_utf8_lossy(&normalised(&bytes)),
            "{}: round trip",
            entry.name()
        );
        assert_eq!(actual, normalised(&bytes), "{}: round trip", entry.name());
        // The owned tree re-encodes and parses back to the same tree.
        let tree = m.to_owned_message();
        let again = tree.encode();
        let reparsed = Message::parse(&again)?;
        assert_eq!(
            reparsed.to_owned_message(),
            tree.canonical(),
            "{}",
            entry.name()
        );
    }
    Ok(summary)
}

#[test]
fn corpus() {
    let entries = manifest();
    assert!(
        entries.len() >= 130,
        "manifest has {} entries",
        entries.len()
    );
    let mut report = String::new();
    let mut passed = 0;
    for entry in &entries {
        let name = entry.name();
        let must_fail = MUST_FAIL.iter().any(|(n, _)| *n == name);
        match process(entry) {
            Ok(summary) => {
                assert!(!must_fail, "{name} parsed but must fail");
                passed += 1;
                if entry.is_defect() {
                    let _ = writeln!(report, "{name}: parsed {summary}");
                }
            }
            Err(err) => {
                check_located(&name, &err);
                assert!(
                    must_fail || entry.is_defect(),
                    "{name} ({}) failed: {err}",
                    entry.flags
                );
                let _ = writeln!(report, "{name}: {err}");
            }
        }
    }
    assert!(passed >= 120, "only {passed} passed");
    insta::assert_snapshot!("corpus_defects_and_negatives", report);
}

fn fixture_text(path: &str) -> String {
    let bytes = std::fs::read(root().join(path)).expect("fixture file");
    decode_bytes(&bytes).expect("decodes").text.into_owned()
}

#[test]
fn snapshot_tree_with_escapes() {
    let text = fixture_text("ipf/ACK_Q23_v25_error_ERR_S_T_escapes.hl7");
    let m = Message::parse(&text).expect("parses");
    let tree = m.to_owned_message();
    insta::assert_debug_snapshot!("ack_q23_tree", tree.segments[1..]);
    let msa3 = m.get("MSA-3").expect("path").expect("present");
    insta::assert_snapshot!("ack_q23_msa3_decoded", msa3.decoded());
}

#[test]
fn snapshot_formatted_text_kept() {
    let text = fixture_text("hapi-hl7v2/ORU_R01_v24_FT_br_H_N_escapes.hl7");
    let m = Message::parse(&text).expect("parses");
    let obx5 = m.get("OBX-5").expect("path").expect("present");
    let shown = obx5.decoded().replace("\\.br\\", "\\.br\\\n");
    insta::assert_snapshot!("oru_ft_obx5_decoded", shown);
}

#[test]
fn snapshot_locations_and_errors() {
    let text = fixture_text("python-hl7/ORU_R01_v24_repetition_subcomponent_demo.hl7");
    let m = Message::parse(&text).expect("parses");
    let mut out = String::new();
    for path in [
        "MSH-9.2",
        "PID-4[2]",
        "PID-3.2.2",
        "PID-2.2",
        "PID-5",
        "OBX-1",
    ] {
        match m.get(path).expect("valid path") {
            Some(item) => {
                let _ = writeln!(out, "{path} = {:?} at {}", item.raw(), item.location());
            }
            None => {
                let _ = writeln!(out, "{path}: absent");
            }
        }
    }
    for bad in [
        "",
        "PID|1\r",
        "MSH|^~\\&\rPID|1\rpv1|x\r",
        "MSH|^\r",
        "MSH|^~\\&|A\rEVN|1\rMSH|^~\\&\r",
        "MSH|^~\\&||||||||||||||||ISO IR87\r",
    ] {
        let err = Message::parse(bad)
            .err()
            .or_else(|| decode_bytes(bad.as_bytes()).err())
            .expect("an error");
        let _ = writeln!(out, "{bad:?} -> {err}");
    }
    for path in ["PID-", "pid-3", "PID-3[x]", "PID-3.1.2.3", "PID-0"] {
        let err = m.get(path).expect_err("bad path");
        let _ = writeln!(out, "{path:?} -> {err}");
    }
    insta::assert_snapshot!("locations_and_errors", out);
}
