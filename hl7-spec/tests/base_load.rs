//! The bundled base versions load, with the counts and spot checks of the sources.

use hl7_spec::base::{self, StructureNode, TableKind};
use hl7_spec::{Cardinality, Length, Usage};

#[test]
fn every_bundled_version_loads() {
    assert_eq!(
        base::versions(),
        ["2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7"]
    );
    for version in base::versions() {
        let b = base::load(version).unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(b.version, *version);
        assert!(!b.segments.is_empty() && !b.structures.is_empty() && !b.tables.is_empty());
    }
}

#[test]
fn loading_twice_gives_the_same_parse() {
    let a = base::load("2.5.1").unwrap();
    let b = base::load("2.5.1").unwrap();
    assert!(std::ptr::eq(a, b));
}

#[test]
fn unknown_version_lists_the_bundled_ones() {
    let error = base::load("2.9").unwrap_err().to_string();
    assert!(
        error.contains("no bundled HL7 base version `2.9`"),
        "{error}"
    );
    assert!(error.contains("2.3.1, 2.4, 2.5, 2.5.1"), "{error}");
}

/// Lower bounds from `shared/data/base/candidate_*.md` (hl7apy and hl7-dictionary counts).
#[test]
fn counts_are_close_to_the_sources() {
    // (version, segments, fields, structures, datatypes, tables, table values)
    let expected = [
        ("2.3.1", 111, 1485, 116, 85, 200, 2300),
        ("2.4", 138, 1811, 192, 85, 296, 3600),
        ("2.5.1", 140, 2078, 200, 85, 346, 4800),
    ];
    for (version, segments, fields, structures, datatypes, tables, values) in expected {
        let b = base::load(version).unwrap();
        let field_count: usize = b.segments.values().map(|s| s.fields.len()).sum();
        let value_count: usize = b.tables.values().map(|t| t.values.len()).sum();
        assert!(
            b.segments.len() >= segments,
            "{version}: {} segments",
            b.segments.len()
        );
        assert!(field_count >= fields, "{version}: {field_count} fields");
        assert!(
            b.structures.len() >= structures,
            "{version}: {} structures",
            b.structures.len()
        );
        assert!(
            b.datatypes.len() >= datatypes,
            "{version}: {} data types",
            b.datatypes.len()
        );
        assert!(
            b.tables.len() >= tables,
            "{version}: {} tables",
            b.tables.len()
        );
        assert!(
            value_count >= values,
            "{version}: {value_count} table values"
        );
    }
}

#[test]
fn pid_in_2_5_1() {
    let b = base::load("2.5.1").unwrap();
    let pid = &b.segments["PID"];
    assert_eq!(pid.long_name.as_deref(), Some("Patient Identification"));
    assert_eq!(pid.fields.len(), 39);
    let pid3 = &pid.fields[2];
    assert_eq!(
        (pid3.position, pid3.name.as_str(), pid3.datatype.as_str()),
        (3, "Patient Identifier List", "CX")
    );
    assert_eq!(pid3.usage, Usage::R);
    assert_eq!(pid3.cardinality, Cardinality { min: 1, max: None });
    assert_eq!(
        pid3.length,
        Some(Length {
            min: 0,
            max: Some(250)
        })
    );
    // The identifier type table binds the component CX.5, not PID-3 itself.
    assert_eq!(pid3.table, None);
    let cx5 = &b.datatypes["CX"].components[4];
    assert_eq!(
        (cx5.name.as_str(), cx5.table.as_deref()),
        ("Identifier Type Code", Some("0203"))
    );
    assert_eq!(
        pid.fields[7].table.as_deref(),
        Some("0001"),
        "PID-8 Administrative Sex"
    );
}

#[test]
fn obx_5_varies_and_msh_9_is_msg() {
    let b = base::load("2.5.1").unwrap();
    let obx5 = &b.segments["OBX"].fields[4];
    assert_eq!(
        (obx5.name.as_str(), obx5.datatype.as_str()),
        ("Observation Value", "varies")
    );
    assert!(b.datatypes["varies"].is_primitive());
    assert_eq!(
        b.segments["OBX"].fields[1].cardinality,
        Cardinality::OPTIONAL,
        "OBX-2 does not repeat"
    );
    let msh9 = &b.segments["MSH"].fields[8];
    assert_eq!(msh9.datatype, "MSG");
    let msg: Vec<_> = b.datatypes["MSG"]
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.table.as_deref()))
        .collect();
    assert_eq!(
        msg,
        [
            ("Message Code", Some("0076")),
            ("Trigger Event", Some("0003")),
            ("Message Structure", Some("0354"))
        ]
    );
}

fn tree(nodes: &[StructureNode], depth: usize, out: &mut Vec<String>) {
    for node in nodes {
        out.push(format!(
            "{}{} {}",
            "  ".repeat(depth),
            node.name(),
            node.cardinality()
        ));
        if let StructureNode::Group { children, .. } = node {
            tree(children, depth + 1, out);
        }
    }
}

#[test]
fn oru_r01_group_tree() {
    let b = base::load("2.5.1").unwrap();
    let mut out = Vec::new();
    tree(&b.structures["ORU_R01"].children, 0, &mut out);
    let expected = "\
MSH [1..1]
SFT [0..*]
PATIENT_RESULT [1..*]
  PATIENT [0..1]
    PID [1..1]
    PD1 [0..1]
    NTE [0..*]
    NK1 [0..*]
    VISIT [0..1]
      PV1 [1..1]
      PV2 [0..1]
  ORDER_OBSERVATION [1..*]
    ORC [0..1]
    OBR [1..1]
    NTE [0..*]
    TIMING_QTY [0..*]
      TQ1 [1..1]
      TQ2 [0..*]
    CTD [0..1]
    OBSERVATION [0..*]
      OBX [1..1]
      NTE [0..*]
    FT1 [0..*]
    CTI [0..*]
    SPECIMEN [0..*]
      SPM [1..1]
      OBX [0..*]
DSC [0..1]";
    assert_eq!(out.join("\n"), expected);
}

#[test]
fn events_map_to_structures() {
    let b = base::load("2.5.1").unwrap();
    assert_eq!(
        b.structure_for("ADT", "A04").map(|s| s.id.as_str()),
        Some("ADT_A01")
    );
    assert_eq!(
        b.structure_for("ADT", "A31").map(|s| s.id.as_str()),
        Some("ADT_A05")
    );
    assert_eq!(
        b.structure_for("ORU", "R01").map(|s| s.id.as_str()),
        Some("ORU_R01")
    );
    assert_eq!(b.structure_for("ZZZ", "Z99"), None);
    // hl7apy's structure by id repairs hl7-dictionary's per-event copy (ADT_A04 without SFT).
    assert_eq!(b.structures["ADT_A01"].children[1].name(), "SFT");
    let old = base::load("2.3.1").unwrap();
    let a05 = &old.structures["ADT_A05"];
    assert_eq!(a05.children[0].name(), "MSH");
    // HAPI's 2.3.1 map has no ADT rows, and both sources model 2.3.1 ADT per event.
    assert_eq!(
        old.structure_for("ADT", "A28").map(|s| s.id.as_str()),
        Some("ADT_A28")
    );
    assert_eq!(
        base::load("2.4")
            .unwrap()
            .structure_for("ADT", "A08")
            .map(|s| s.id.as_str()),
        Some("ADT_A01")
    );
}

#[test]
fn tables_with_descriptions() {
    let b = base::load("2.5.1").unwrap();
    let sex = b.table("0001").unwrap();
    assert_eq!(sex.name.as_deref(), Some("Administrative Sex"));
    assert_eq!(
        sex.value("F").and_then(|v| v.description.as_deref()),
        Some("Female")
    );
    assert_eq!(sex.kind, TableKind::User, "PID-8 is IS in 2.5.1");
    assert!(std::ptr::eq(b.table("1").unwrap(), sex));
    assert!(std::ptr::eq(b.table("HL70001").unwrap(), sex));
    assert_eq!(b.table("0008").unwrap().kind, TableKind::Hl7);
    assert_eq!(
        b.table("0008")
            .unwrap()
            .value("AA")
            .map(|v| v.code.as_str()),
        Some("AA")
    );
    assert!(b.table("nope").is_none());
}

#[test]
fn spans_point_into_the_bundled_files() {
    let b = base::load("2.5.1").unwrap();
    let span = &b.segments["PID"].fields[2].span;
    assert_eq!(&*span.file, "hl7-spec/spec/2.5.1/segments.xml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/2.5.1/segments.xml"
    ))
    .unwrap();
    let line = text.lines().nth(span.line as usize - 1).unwrap();
    assert!(
        line[span.col as usize - 1..]
            .starts_with("<Field Seq=\"3\" Name=\"Patient Identifier List\""),
        "{line}"
    );
}

#[test]
fn full_load_of_2_5_1_is_fast() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/2.5.1");
    let start = std::time::Instant::now();
    let b = base::load_dir(&dir, "2.5.1").unwrap();
    let elapsed = start.elapsed();
    println!("load_dir 2.5.1: {elapsed:?}");
    assert_eq!(
        b.segments.len(),
        base::load("2.5.1").unwrap().segments.len()
    );
    // Generous bound (debug build, shared 2-core machine); typically well under 100 ms.
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
}
