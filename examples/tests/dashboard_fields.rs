//! The operations dashboard's field-name table (segment, field and component names shown beside
//! a message's values) is what the bundled HL7 v2.5.1 base says.
//! `HL7_DASHBOARD_FIELDS=write cargo test -p hl7-examples --test dashboard_fields` rewrites it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// The segments whose field names the dashboard knows.
const SEGMENTS: &[&str] = &[
    "AL1", "DG1", "ERR", "EVN", "GT1", "IN1", "MRG", "MSA", "MSH", "NK1", "NTE", "OBR", "OBX",
    "ORC", "PD1", "PID", "PR1", "PV1", "PV2", "QAK", "QPD", "QRD", "RXA", "RXE", "RXO", "RXR",
    "SFT", "SPM", "TQ1", "TXA",
];

const FIELD_TABLE: &str = "runtime/src/admin/dashboard/assets/fields.json";

/// The table as generated from `hl7-spec`'s bundled base: segment and field names, and the
/// component names of every composite type those fields use (and their components use).
fn field_table() -> String {
    let base = hl7_spec::base::load("2.5.1").expect("the bundled 2.5.1 base");
    let quote = |s: &str| Value::String(s.to_owned()).to_string();
    let mut out = String::new();
    out.push_str("{\n");
    let _ = writeln!(
        out,
        "  \"source\": {},",
        quote(
            "the HL7 v2.5.1 base definitions bundled with hl7-spec (hl7-spec/spec/2.5.1, \
             segments.xml and datatypes.xml), written by examples/tests/dashboard_fields.rs"
        )
    );
    let _ = writeln!(out, "  \"version\": {},", quote(&base.version));
    out.push_str("  \"segments\": {\n");
    let mut types = BTreeSet::new();
    let mut segments = Vec::new();
    for &name in SEGMENTS {
        let segment = &base.segments[name];
        let count = segment.fields.iter().map(|f| f.position).max().unwrap_or(0);
        let mut fields = Vec::new();
        for position in 1..=count {
            let field = segment.fields.iter().find(|f| f.position == position);
            let (name, datatype) = field.map_or(("", ""), |f| (&f.name[..], &f.datatype[..]));
            types.insert(datatype.to_owned());
            fields.push(format!("      [{}, {}]", quote(name), quote(datatype)));
        }
        segments.push(format!(
            "    {}: {{\"name\": {}, \"fields\": [\n{}\n    ]}}",
            quote(name),
            quote(segment.long_name.as_deref().unwrap_or("")),
            fields.join(",\n")
        ));
    }
    out.push_str(&segments.join(",\n"));
    out.push_str("\n  },\n  \"datatypes\": {\n");
    let mut pending: Vec<String> = types.iter().cloned().collect();
    let mut composites = std::collections::BTreeMap::new();
    while let Some(name) = pending.pop() {
        let Some(def) = base.datatypes.get(&name) else {
            continue;
        };
        if def.is_primitive() || composites.contains_key(&name) {
            continue;
        }
        let components: Vec<(String, String)> = def
            .components
            .iter()
            .map(|c| (c.name.clone(), c.datatype.clone()))
            .collect();
        pending.extend(components.iter().map(|(_, t)| t.clone()));
        composites.insert(name, components);
    }
    let datatypes: Vec<String> = composites
        .iter()
        .map(|(name, components)| {
            let list: Vec<String> = components
                .iter()
                .map(|(n, t)| format!("[{}, {}]", quote(n), quote(t)))
                .collect();
            format!("    {}: [{}]", quote(name), list.join(", "))
        })
        .collect();
    out.push_str(&datatypes.join(",\n"));
    out.push_str("\n  }\n}\n");
    out
}

#[test]
fn field_names_match_the_bundled_base() {
    let expected = field_table();
    serde_json::from_str::<Value>(&expected).expect("the table is JSON");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(FIELD_TABLE);
    if std::env::var("HL7_DASHBOARD_FIELDS").as_deref() == Ok("write") {
        std::fs::write(&path, &expected).expect("write the field table");
        return;
    }
    let actual = std::fs::read_to_string(&path).expect("read the field table");
    assert!(
        actual == expected,
        "{FIELD_TABLE} is not what the bundled base says; rewrite it with \
         `HL7_DASHBOARD_FIELDS=write cargo test -p hl7-examples --test dashboard_fields`"
    );
}
