//! Site profiles resolve against their base, export as standard profiles and read back equal.

use std::path::{Path, PathBuf};

use hl7_spec::profile::{clear_spans, load_profile, parse_profile, write_profile};
use hl7_spec::site::{parse_site_profile, read_site_profile};
use hl7_spec::{Cardinality, Element, MessageProfile, Node, SourceFile, Usage};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn acme() -> MessageProfile {
    let relative = "tests/fixtures/site/acme_lab_oru_r01.xml";
    let text = std::fs::read_to_string(workspace().join(relative)).unwrap();
    parse_site_profile(&SourceFile::new(relative, text)).unwrap_or_else(|e| panic!("{e}"))
}

fn segment<'a>(nodes: &'a [Node], path: &[&str]) -> &'a Node {
    let (first, rest) = path.split_first().unwrap();
    let node = nodes
        .iter()
        .find(|n| n.name() == *first)
        .unwrap_or_else(|| panic!("no {first}"));
    match (rest.is_empty(), node) {
        (true, node) => node,
        (false, Node::Group(g)) => segment(&g.children, rest),
        (false, Node::Segment(_)) => panic!("{first} is a segment"),
    }
}

fn field<'a>(nodes: &'a [Node], path: &[&str], position: u16) -> &'a Element {
    let Node::Segment(s) = segment(nodes, path) else {
        panic!("{path:?} is a group")
    };
    &s.fields[usize::from(position) - 1]
}

#[test]
fn site_profile_resolves() {
    let p = acme();
    assert_eq!(
        (p.hl7_version.as_str(), p.structure_id.as_str()),
        ("2.5.1", "ORU_R01")
    );
    assert_eq!(p.meta.name.as_deref(), Some("acme_lab_oru"));
    assert_eq!(p.meta.org_name.as_deref(), Some("ACME Lab"));
    assert_eq!(p.profile_type.as_deref(), Some("Implementation"));
    let pid = ["PATIENT_RESULT", "PATIENT", "PID"];
    let pid3 = field(&p.children, &pid, 3);
    assert_eq!(pid3.usage, Usage::R);
    assert_eq!(
        pid3.cardinality,
        Cardinality {
            min: 1,
            max: Some(2)
        }
    );
    assert_eq!(pid3.length.map(|l| l.max), Some(Some(20)));
    assert_eq!(
        pid3.span.to_string(),
        "tests/fixtures/site/acme_lab_oru_r01.xml:20:3"
    );
    assert_eq!(
        pid3.children[3].children[0].constant.as_deref(),
        Some("ACME")
    );
    assert_eq!(
        field(&p.children, &pid, 8).table.as_deref(),
        Some("ACME_SEX")
    );
    assert_eq!(field(&p.children, &pid, 19).usage, Usage::X);
    assert_eq!(
        field(&p.children, &["MSH"], 4).children[0]
            .constant
            .as_deref(),
        Some("ACME")
    );
    let group = segment(&p.children, &["PATIENT_RESULT", "PATIENT"]);
    assert_eq!(
        (group.usage(), group.cardinality()),
        (&Usage::R, Cardinality::ONE)
    );
    let order = ["PATIENT_RESULT", "ORDER_OBSERVATION"];
    let obr4 = field(&p.children, &[order[0], order[1], "OBR"], 4);
    assert_eq!(obr4.datatype, "CWE");
    assert_eq!(obr4.children.len(), 9, "CWE has nine components in 2.5.1");
    let obx5 = field(&p.children, &[order[0], order[1], "OBSERVATION", "OBX"], 5);
    let condition = obx5.usage.condition().unwrap();
    assert_eq!(condition.true_usage.as_deref(), Some("R"));
    // The Z-segment follows OBX in the OBSERVATION group and expands XCN from the base.
    let Node::Group(observation) = segment(&p.children, &[order[0], order[1], "OBSERVATION"])
    else {
        panic!()
    };
    let names: Vec<&str> = observation.children.iter().map(Node::name).collect();
    assert_eq!(names, ["OBX", "ZLR", "NTE"]);
    let reviewer = field(&p.children, &[order[0], order[1], "OBSERVATION", "ZLR"], 2);
    assert_eq!(
        (reviewer.datatype.as_str(), reviewer.cardinality.max),
        ("XCN", None)
    );
    assert!(
        reviewer.children.len() > 10,
        "XCN components come from the base"
    );
    assert_eq!(p.value_sets.len(), 2);
}

#[test]
fn exported_site_profile_reads_back_equal() {
    let mut resolved = acme();
    let text = write_profile(&resolved);
    let mut again =
        parse_profile(&SourceFile::new("exported.xml", text)).unwrap_or_else(|e| panic!("{e}"));
    clear_spans(&mut resolved);
    clear_spans(&mut again);
    assert_same(&resolved, &again);
}

/// Equality with a readable report: the first lines where the debug dumps differ.
fn assert_same(a: &MessageProfile, b: &MessageProfile) {
    if a == b {
        return;
    }
    let (a, b) = (format!("{a:#?}"), format!("{b:#?}"));
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let first = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = first.saturating_sub(12);
    panic!(
        "profiles differ at line {first}:\n--- resolved\n{}\n--- read back\n{}",
        a[from..(first + 3).min(a.len())].join("\n"),
        b[from..(first + 3).min(b.len())].join("\n")
    );
}

#[test]
fn load_profile_sniffs_the_format() {
    let site = workspace().join("tests/fixtures/site/acme_lab_oru_r01.xml");
    let mut a = load_profile(&site).unwrap();
    let mut b = read_site_profile(&site).unwrap();
    clear_spans(&mut a);
    clear_spans(&mut b);
    assert_same(&a, &b);
    let full = workspace().join("tests/fixtures/profiles/gazelle_OUL_R22_v251_IHE_LAW.xml");
    assert_eq!(load_profile(&full).unwrap().structure_id, "OUL_R22");
}

/// The export of the whole ORU_R01 is ~5,000 lines, nearly all as the base states them; the
/// snapshot keeps what the site profile changes: the lines that differ from the export of the
/// plain base structure, with their line numbers in the site export, plus its header.
#[test]
fn exported_site_profile() {
    let site = write_profile(&acme());
    let base = write_profile(
        &hl7_spec::base::load("2.5.1")
            .unwrap()
            .to_profile("ORU_R01")
            .unwrap(),
    );
    let header: Vec<&str> = site.lines().take(8).collect();
    insta::assert_snapshot!(format!(
        "{}\n...\n{}",
        header.join("\n"),
        line_diff(&base, &site)
    ));
}

/// A small greedy line diff (`-` base only, `+` site only), enough for local edits and inserts.
fn line_diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            (i, j) = (i + 1, j + 1);
            continue;
        }
        let skip_new = (j..b.len().min(j + 300)).find(|&k| i < a.len() && b[k] == a[i]);
        let skip_old = (i..a.len().min(i + 300)).find(|&k| j < b.len() && a[k] == b[j]);
        match (skip_new, skip_old) {
            (Some(k), other) if other.is_none_or(|o| k - j <= o - i) => {
                for line in &b[j..k] {
                    out.push_str(&format!("+{:>5} {line}\n", j + 1));
                    j += 1;
                }
            }
            (_, Some(k)) => {
                for line in &a[i..k] {
                    out.push_str(&format!("-      {line}\n"));
                    i += 1;
                }
            }
            _ => {
                if i < a.len() {
                    out.push_str(&format!("-      {}\n", a[i]));
                    i += 1;
                }
                if j < b.len() {
                    out.push_str(&format!("+{:>5} {}\n", j + 1, b[j]));
                    j += 1;
                }
            }
        }
    }
    out
}
