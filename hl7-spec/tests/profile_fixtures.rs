//! Every real-world profile under `tests/fixtures/profiles/` reads, with spot checks, and
//! survives a write/read round trip.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use hl7_spec::profile::{
    clear_condition_exprs, clear_spans, parse_profile, read_profile, write_profile,
};
use hl7_spec::{ConditionExpr, Element, MessageProfile, Node, SourceFile, Usage};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/profiles")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    files
}

fn load(name: &str) -> MessageProfile {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let file = SourceFile::new(format!("tests/fixtures/profiles/{name}"), text);
    parse_profile(&file).unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

/// Segments, groups, fields, components, subcomponents.
fn counts(profile: &MessageProfile) -> [usize; 5] {
    fn walk(nodes: &[Node], c: &mut [usize; 5]) {
        for node in nodes {
            match node {
                Node::Group(g) => {
                    c[1] += 1;
                    walk(&g.children, c);
                }
                Node::Segment(s) => {
                    c[0] += 1;
                    for f in &s.fields {
                        c[2] += 1;
                        for comp in &f.children {
                            c[3] += 1;
                            c[4] += comp.children.len();
                        }
                    }
                }
            }
        }
    }
    let mut c = [0; 5];
    walk(&profile.children, &mut c);
    c
}

fn find_field<'a>(nodes: &'a [Node], segment: &str, position: u16) -> Option<&'a Element> {
    nodes.iter().find_map(|node| match node {
        Node::Segment(s) if s.name == segment => s.fields.iter().find(|f| f.position == position),
        Node::Group(g) => find_field(&g.children, segment, position),
        Node::Segment(_) => None,
    })
}

#[test]
fn every_fixture_reads() {
    for path in fixture_files() {
        let profile = read_profile(&path).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        assert!(!profile.children.is_empty(), "{}", path.display());
    }
}

#[test]
fn counts_match_the_provenance_table() {
    let expected = [
        (
            "hapi_ACK_v24_HL7_example_ack.xml",
            [3, 0, 28, 38, 18],
            "2.4",
            "ACK",
            "ALL",
            "ACK",
        ),
        (
            "hapi_ADT_A01_v231_VA_receiver.xml",
            [4, 0, 108, 336, 103],
            "2.3.1",
            "ADT",
            "A01",
            "ADT_A01",
        ),
        (
            "hapi_ADT_A01_v25_full_with_predicates.xml",
            [26, 4, 634, 2633, 2345],
            "2.5",
            "ADT",
            "A01",
            "ADT_A01",
        ),
        (
            "gazelle_RSP_K23_v25_IHE_PIX_query_response.xml",
            [8, 1, 96, 357, 252],
            "2.5",
            "RSP",
            "K23",
            "RSP_K23",
        ),
        (
            "gazelle_OUL_R22_v251_IHE_LAW.xml",
            [2, 0, 41, 112, 49],
            "2.5.1",
            "OUL",
            "R22",
            "OUL_R22",
        ),
        (
            "nist_VXU_V04_v251_immunization_NIST_ext.xml",
            [18, 2, 550, 2322, 1821],
            "2.5.1",
            "VXU",
            "V04",
            "VXU_V04",
        ),
    ];
    for (name, count, version, msg_type, event, structure) in expected {
        let p = load(name);
        assert_eq!(counts(&p), count, "{name}");
        assert_eq!(
            (
                p.hl7_version.as_str(),
                p.msg_type.as_str(),
                p.event_type.as_str(),
                p.structure_id.as_str()
            ),
            (version, msg_type, event, structure),
            "{name}"
        );
    }
}

#[test]
fn nist_lengths_and_structured_predicates() {
    let p = load("nist_VXU_V04_v251_immunization_NIST_ext.xml");
    let msh3 = find_field(&p.children, "MSH", 3).unwrap();
    assert_eq!(msh3.datatype, "HD_IZ_0361");
    assert_eq!(msh3.length.map(|l| (l.min, l.max)), Some((1, Some(227))));
    let Usage::C(condition) = &msh3.children[0].usage else {
        panic!("{:?}", msh3.children[0].usage)
    };
    assert_eq!(
        condition.text.as_deref(),
        Some("If the HD.2 (Universal ID) is not valued")
    );
    assert_eq!(condition.true_usage.as_deref(), Some("R"));
    assert_eq!(condition.false_usage.as_deref(), Some("O"));
    assert_eq!(
        condition.expr,
        Some(ConditionExpr::Not(Box::new(ConditionExpr::Valued(
            "./2".into()
        ))))
    );
    let msh1 = find_field(&p.children, "MSH", 1).unwrap();
    assert_eq!(msh1.item_no, None);
}

#[test]
fn gazelle_specifics() {
    let rsp = load("gazelle_RSP_K23_v25_IHE_PIX_query_response.xml");
    let pid5 = find_field(&rsp.children, "PID", 5).unwrap();
    assert_eq!((pid5.cardinality.min, pid5.cardinality.max), (2, Some(2)));
    let oul = load("gazelle_OUL_R22_v251_IHE_LAW.xml");
    let msh15 = find_field(&oul.children, "MSH", 15).unwrap();
    assert_eq!(msh15.constant.as_deref(), Some("ER"));
    let msh1 = find_field(&oul.children, "MSH", 1).unwrap();
    assert_eq!(msh1.example_values, ["|"]);
    assert_eq!(
        oul.doc.imp_note.as_deref(),
        Some("OUL _ Unsolicited Specimen Oriented Observation Message")
    );
}

#[test]
fn hapi_specifics() {
    let adt = load("hapi_ADT_A01_v25_full_with_predicates.xml");
    let pd1_4 = find_field(&adt.children, "PD1", 4).unwrap();
    assert_eq!(pd1_4.name, "Patient Primary Care Provider Name & ID No.");
    let ack = load("hapi_ACK_v24_HL7_example_ack.xml");
    assert!(ack
        .event_desc
        .as_deref()
        .unwrap()
        .starts_with("The simple general acknowledgment (ACK)"));
    assert_eq!(ack.role.as_deref(), Some("Receiver"));
    let msh9 = find_field(&ack.children, "MSH", 9).unwrap();
    assert_eq!(msh9.datatype, "CM_MSG");
}

#[test]
fn write_then_read_gives_the_same_profile() {
    for path in fixture_files() {
        let mut original = read_profile(&path).unwrap();
        let text = write_profile(&original);
        let mut again = parse_profile(&SourceFile::new("written.xml", text.clone()))
            .unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        // The writer keeps a structured predicate's text and usages, not its expression (read
        // back, a one-clause text may give an expression of its own).
        clear_condition_exprs(&mut original);
        clear_condition_exprs(&mut again);
        clear_spans(&mut original);
        clear_spans(&mut again);
        assert_eq!(original, again, "{}", path.display());
        assert_eq!(
            write_profile(&again),
            text,
            "writer is not stable on {}",
            path.display()
        );
    }
}

fn outline(p: &MessageProfile) -> String {
    fn element(out: &mut String, el: &Element, label: &str, depth: usize) {
        let _ = write!(
            out,
            "{:indent$}{label} {} {} {} {}",
            "",
            el.name,
            el.usage,
            el.cardinality,
            el.datatype,
            indent = depth * 2
        );
        if let Some(length) = el.length {
            let _ = write!(out, " len={length}");
        }
        if let Some(table) = &el.table {
            let _ = write!(out, " table={table}");
        }
        if let Some(constant) = &el.constant {
            let _ = write!(out, " const={constant:?}");
        }
        if let Some(text) = el.usage.condition().and_then(|c| c.text.as_deref()) {
            let _ = write!(out, " if={text:?}");
        }
        out.push('\n');
        for child in &el.children {
            element(
                out,
                child,
                &format!("{label}.{}", child.position),
                depth + 1,
            );
        }
    }
    fn nodes(out: &mut String, list: &[Node], depth: usize) {
        for node in list {
            let _ = write!(out, "{:indent$}", "", indent = depth * 2);
            match node {
                Node::Group(g) => {
                    let _ = writeln!(out, "group {} {} {}", g.name, g.usage, g.cardinality);
                    nodes(out, &g.children, depth + 1);
                }
                Node::Segment(s) => {
                    let long = s.long_name.as_deref().unwrap_or("");
                    let _ = writeln!(out, "{} ({long}) {} {}", s.name, s.usage, s.cardinality);
                    for f in &s.fields {
                        element(out, f, &format!("{}-{}", s.name, f.position), depth + 1);
                    }
                }
            }
        }
    }
    let mut out = format!(
        "{}^{} {} v{} {:?} {:?}\n",
        p.msg_type, p.event_type, p.structure_id, p.hl7_version, p.profile_type, p.role
    );
    nodes(&mut out, &p.children, 0);
    out
}

#[test]
fn oul_r22_outline() {
    insta::assert_snapshot!(outline(&load("gazelle_OUL_R22_v251_IHE_LAW.xml")));
}

#[test]
fn oul_r22_written() {
    insta::assert_snapshot!(write_profile(&load("gazelle_OUL_R22_v251_IHE_LAW.xml")));
}
