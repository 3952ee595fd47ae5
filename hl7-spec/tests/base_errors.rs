//! Malformed base files give located errors (`file:line:col`), all of them at once.

use std::path::{Path, PathBuf};

use hl7_spec::base;

const DATATYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DataTypes Version="9.9">
  <DataType Name="ST"/>
  <DataType Name="ID"/>
  <DataType Name="CE">
    <Component Seq="1" Name="Identifier" Datatype="ST" Usage="R" Length="20"/>
    <Component Seq="2" Name="Coding System" Datatype="ID" Usage="O" Table="0396"/>
  </DataType>
</DataTypes>
"#;
const SEGMENTS: &str = r#"<Segments Version="9.9">
  <Segment Name="ZZ1" LongName="Test">
    <Field Seq="1" Name="Code" Datatype="CE" Usage="R" Min="1" Max="*" Length="250" Table="0396"/>
  </Segment>
</Segments>
"#;
const STRUCTURES: &str = r#"<Structures Version="9.9">
  <Structure Id="ZZZ_Z01">
    <Segment Ref="ZZ1" Usage="R" Min="1" Max="1"/>
    <Group Name="MORE" Usage="O" Min="0" Max="*" Choice="true">
      <Segment Ref="ZZ1" Usage="R" Min="1" Max="1"/>
      <Segment Ref="Hxx" Usage="R" Min="1" Max="1"/>
    </Group>
  </Structure>
</Structures>
"#;
const EVENTS: &str = r#"<Events Version="9.9">
  <Event Type="ZZZ" Event="Z02" Structure="ZZZ_Z01"/>
</Events>
"#;
const TABLES: &str = r#"<Tables Version="9.9">
  <Table Id="0396" Name="Coding system" Type="HL7">
    <Value Code="LN" Description="LOINC"/>
  </Table>
</Tables>
"#;

fn write_base(name: &str, replace: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hl7-spec-base-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in [
        ("datatypes.xml", DATATYPES),
        ("segments.xml", SEGMENTS),
        ("structures.xml", STRUCTURES),
        ("events.xml", EVENTS),
        ("tables.xml", TABLES),
    ] {
        let text = replace
            .iter()
            .find(|(f, _)| *f == file)
            .map_or(text, |(_, t)| t);
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn error_of(dir: &Path) -> String {
    let error = base::load_dir(dir, "9.9").unwrap_err().to_string();
    std::fs::remove_dir_all(dir).ok();
    error
}

#[test]
fn a_small_valid_base_loads() {
    let dir = write_base("valid", &[]);
    let b = base::load_dir(&dir, "9.9").unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(b.structure_for("ZZZ", "Z02").unwrap().id, "ZZZ_Z01");
    let profile = b.to_profile("ZZZ_Z01").unwrap();
    assert_eq!(
        (profile.msg_type.as_str(), profile.event_type.as_str()),
        ("ZZZ", "Z01")
    );
    let hl7_spec::Node::Group(group) = &profile.children[1] else {
        panic!("group")
    };
    // The alternatives of a choice become optional.
    assert!(group
        .children
        .iter()
        .all(|n| n.cardinality().min == 0 && *n.usage() == hl7_spec::Usage::O));
    assert_eq!(group.children[1].name(), "Hxx");
}

#[test]
fn malformed_xml_is_located() {
    let broken = "<Segments Version=\"9.9\">\n  <Segment Name=\"ZZ1\">\n  </Segmnt>\n</Segments>\n";
    let dir = write_base("malformed", &[("segments.xml", broken)]);
    let error = error_of(&dir);
    assert!(error.contains("XML is not well-formed"), "{error}");
    assert!(error.contains("segments.xml:3:3"), "{error}");
}

#[test]
fn bad_values_and_references_are_all_reported_with_locations() {
    let segments = r#"<Segments Version="9.9">
  <Segment Name="ZZ1">
    <Field Seq="1" Name="Code" Datatype="CE" Usage="Q" Min="1" Max="*"/>
    <Field Seq="3" Name="Other" Datatype="XYZ" Usage="O" Min="2" Max="1"/>
  </Segment>
</Segments>
"#;
    let structures = STRUCTURES.replace(
        r#"<Segment Ref="ZZ1" Usage="R" Min="1" Max="1"/>
    <Group"#,
        r#"<Segment Ref="ZZ9" Usage="R" Min="1" Max="1" Colour="red"/>
    <Group"#,
    );
    let dir = write_base(
        "references",
        &[("segments.xml", segments), ("structures.xml", &structures)],
    );
    let error = error_of(&dir);
    for expected in [
        "unknown usage `Q`",
        "segments.xml:3:46",
        "`Seq` is 3, expected 2",
        "segments.xml:4:12",
        "unknown attribute `Colour` on `<Segment>`",
        "structures.xml:3:50",
        "unknown segment `ZZ9`",
        "structures.xml:3:5",
    ] {
        assert!(
            error.contains(expected),
            "missing `{expected}` in:\n{error}"
        );
    }
}

#[test]
fn wrong_version_and_unknown_structure_in_events() {
    let events = "<Events Version=\"9.9\">\n  <Event Type=\"ZZZ\" Event=\"Z03\" Structure=\"ZZZ_Z09\"/>\n</Events>\n";
    let tables = TABLES.replace("9.9", "2.5");
    let dir = write_base(
        "version",
        &[("events.xml", events), ("tables.xml", &tables)],
    );
    let error = error_of(&dir);
    assert!(
        error.contains("file is for HL7 2.5, expected 9.9"),
        "{error}"
    );
    assert!(error.contains("tables.xml:1:9"), "{error}");
}

#[test]
fn events_referring_to_missing_structures() {
    let events = "<Events Version=\"9.9\">\n  <Event Type=\"ZZZ\" Event=\"Z03\" Structure=\"ZZZ_Z09\"/>\n</Events>\n";
    let dir = write_base("events", &[("events.xml", events)]);
    let error = error_of(&dir);
    assert!(
        error.contains("unknown message structure `ZZZ_Z09`"),
        "{error}"
    );
    assert!(error.contains("events.xml:2:33"), "{error}");
}

#[test]
fn a_missing_file_names_its_path() {
    let dir = write_base("missing", &[]);
    std::fs::remove_file(dir.join("tables.xml")).unwrap();
    let error = error_of(&dir);
    assert!(error.contains("tables.xml"), "{error}");
}
