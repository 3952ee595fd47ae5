//! Base structures expand into the resolved profile model.

use std::fmt::Write;

use hl7_spec::base;
use hl7_spec::{Cardinality, Element, Node, Usage};

fn find<'a>(nodes: &'a [Node], path: &[&str]) -> &'a Node {
    let node = nodes
        .iter()
        .find(|n| n.name() == path[0])
        .unwrap_or_else(|| panic!("no {}", path[0]));
    match (node, path.len()) {
        (_, 1) => node,
        (Node::Group(g), _) => find(&g.children, &path[1..]),
        (Node::Segment(_), _) => panic!("{} is a segment", path[0]),
    }
}

fn depth(e: &Element) -> usize {
    1 + e.children.iter().map(depth).max().unwrap_or(0)
}

#[test]
fn oru_r01_expands_fully() {
    let b = base::load("2.5.1").unwrap();
    let p = b.to_profile("ORU_R01").unwrap();
    assert_eq!(
        (
            p.msg_type.as_str(),
            p.event_type.as_str(),
            p.structure_id.as_str()
        ),
        ("ORU", "R01", "ORU_R01")
    );
    assert_eq!(p.hl7_version, "2.5.1");
    assert_eq!(&*p.span.file, "hl7-spec/spec/2.5.1/structures.xml");

    let Node::Group(result) = find(&p.children, &["PATIENT_RESULT"]) else {
        panic!("group")
    };
    assert_eq!(
        (result.usage.clone(), result.cardinality),
        (Usage::R, Cardinality { min: 1, max: None })
    );

    let Node::Segment(pid) = find(&p.children, &["PATIENT_RESULT", "PATIENT", "PID"]) else {
        panic!("segment")
    };
    assert_eq!(pid.fields.len(), 39);
    assert_eq!(pid.long_name.as_deref(), Some("Patient Identification"));
    let pid3 = &pid.fields[2];
    assert_eq!(pid3.children.len(), 10, "CX components");
    assert_eq!(pid3.children[4].table.as_deref(), Some("0203"));
    let assigning_authority = &pid3.children[3];
    assert_eq!(assigning_authority.datatype, "HD");
    let hd: Vec<_> = assigning_authority
        .children
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(hd, ["Namespace ID", "Universal ID", "Universal ID Type"]);
    assert_eq!(&*pid3.span.file, "hl7-spec/spec/2.5.1/segments.xml");
    assert_eq!(
        &*assigning_authority.span.file,
        "hl7-spec/spec/2.5.1/datatypes.xml"
    );

    let Node::Segment(obx) = find(
        &p.children,
        &["PATIENT_RESULT", "ORDER_OBSERVATION", "OBSERVATION", "OBX"],
    ) else {
        panic!("segment")
    };
    assert_eq!(obx.fields[4].datatype, "varies");
    assert!(obx.fields[4].children.is_empty());

    // Every segment is expanded, and nothing goes deeper than field / component / subcomponent.
    let mut stack: Vec<&Node> = p.children.iter().collect();
    let mut segments = 0;
    while let Some(node) = stack.pop() {
        match node {
            Node::Group(g) => stack.extend(&g.children),
            Node::Segment(s) => {
                segments += 1;
                assert_eq!(
                    s.fields.len(),
                    b.segments[&s.name].fields.len(),
                    "{}",
                    s.name
                );
                assert!(s.fields.iter().all(|f| depth(f) <= 3), "{}", s.name);
            }
        }
    }
    assert_eq!(segments, 21);
}

#[test]
fn ack_uses_its_event_or_all_and_unknown_structures_are_errors() {
    let b = base::load("2.5.1").unwrap();
    let ack = b.to_profile("ACK").unwrap();
    assert_eq!(ack.msg_type, "ACK");
    assert!(!ack.event_type.is_empty());
    let error = b.to_profile("ADT_A99").unwrap_err().to_string();
    assert!(
        error.contains("no message structure `ADT_A99` in the HL7 2.5.1 base"),
        "{error}"
    );
    assert!(error.contains("ADT_A01"), "{error}");
}

#[test]
fn segment_profile_fills_a_segment() {
    let b = base::load("2.4").unwrap();
    let pv1 = b.segment_profile("PV1").unwrap();
    assert_eq!(pv1.fields.len(), 52);
    assert_eq!(pv1.usage, Usage::O);
    assert!(b.segment_profile("ZZZ").is_none());
}

fn dump_element(e: &Element, prefix: &str, indent: usize, out: &mut String) {
    let length = e.length.map(|l| format!(" len {l}")).unwrap_or_default();
    let table = e
        .table
        .as_deref()
        .map(|t| format!(" table {t}"))
        .unwrap_or_default();
    let card = if indent == 1 {
        format!(" {}", e.cardinality)
    } else {
        String::new()
    };
    let pad = "  ".repeat(indent);
    let _ = writeln!(
        out,
        "{pad}{prefix}{} {} {} {}{card}{length}{table}",
        e.position, e.name, e.datatype, e.usage
    );
    for c in &e.children {
        dump_element(c, &format!("{prefix}{}.", e.position), indent + 1, out);
    }
}

fn dump(nodes: &[Node], indent: usize, out: &mut String) {
    for node in nodes {
        let pad = "  ".repeat(indent);
        match node {
            Node::Segment(s) => {
                let _ = writeln!(out, "{pad}{} {} {}", s.name, s.usage, s.cardinality);
                for f in &s.fields {
                    dump_element(f, &format!("{}-", s.name), indent + 1, out);
                }
            }
            Node::Group(g) => {
                let _ = writeln!(out, "{pad}[{}] {} {}", g.name, g.usage, g.cardinality);
                dump(&g.children, indent + 1, out);
            }
        }
    }
}

#[test]
fn ack_2_5_1_snapshot() {
    let p = base::load("2.5.1").unwrap().to_profile("ACK").unwrap();
    let mut out = format!(
        "{} {}^{}^{}\n",
        p.hl7_version, p.msg_type, p.event_type, p.structure_id
    );
    dump(&p.children, 0, &mut out);
    insta::assert_snapshot!(out);
}
