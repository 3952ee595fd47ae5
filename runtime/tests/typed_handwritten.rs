//! The derives on hand-written types: what a user writes for a Z-segment is what the generator
//! writes for everything.

use hl7_runtime::codegen::{Composite, Group, Message, Segment};
use hl7_runtime::types::{DateTime, Text};
use hl7_runtime::validate::ProblemKind;

#[derive(Debug, Clone, Default, PartialEq, Composite)]
#[hl7(datatype = "HD")]
struct Hd {
    #[hl7(position = 1, usage = "R", datatype = "IS", len = 20)]
    namespace_id: Text,
    #[hl7(position = 2, datatype = "ST")]
    universal_id: Option<Text>,
    #[hl7(position = 3, datatype = "ID")]
    universal_id_type: Option<Text>,
}

#[derive(Debug, Clone, Default, PartialEq, Composite)]
#[hl7(datatype = "MSG")]
struct Msg {
    #[hl7(position = 1, usage = "R", datatype = "ID")]
    message_code: Text,
    #[hl7(position = 2, usage = "R", datatype = "ID")]
    trigger_event: Text,
    #[hl7(position = 3, datatype = "ID")]
    message_structure: Option<Text>,
}

#[derive(Debug, Clone, Default, PartialEq, Segment)]
#[hl7(id = "MSH", name = "Message Header")]
struct Msh {
    #[hl7(position = 1, usage = "R", datatype = "ST")]
    field_separator: Text,
    #[hl7(position = 2, usage = "R", datatype = "ST")]
    encoding_characters: Text,
    #[hl7(position = 3, datatype = "HD")]
    sending_application: Option<Box<Hd>>,
    #[hl7(position = 7, usage = "R", datatype = "DTM")]
    date_time: DateTime,
    #[hl7(position = 9, usage = "R", datatype = "MSG")]
    message_type: Msg,
    #[hl7(position = 10, usage = "R", datatype = "ST", len = 20)]
    control_id: Text,
    #[hl7(position = 12, usage = "R", datatype = "VID")]
    version: Text,
}

#[derive(Debug, Clone, Default, PartialEq, Segment)]
#[hl7(id = "ZLR", name = "Lab extension")]
#[hl7(exclude(position = 2, name = "Retired"))]
struct Zlr {
    #[hl7(position = 1, usage = "R", datatype = "ST", len = 5)]
    code: Text,
    #[hl7(position = 3, max = "*", datatype = "ST")]
    notes: Vec<Text>,
}

#[derive(Debug, Clone, Default, PartialEq, Group)]
#[hl7(group = "RESULT")]
struct ResultGroup {
    #[hl7(usage = "R", min = 1, max = 1)]
    zlr: Zlr,
}

#[derive(Debug, Clone, Default, PartialEq, Message)]
#[hl7(
    structure = "ZLR_Z01",
    msg_type = "ZLR",
    event = "Z01",
    version = "2.5.1"
)]
struct ZlrZ01 {
    #[hl7(usage = "R", min = 1, max = 1)]
    msh: Msh,
    #[hl7(usage = "R", min = 1, max = "*")]
    result: Vec<ResultGroup>,
}

const GOOD: &str =
    "MSH|^~\\&|LAB^1.2.3^ISO||||20240101120000||ZLR^Z01|42||2.5.1\rZLR|A1||one~two\\F\\x\rZLR|B2\r";

#[test]
fn parses_and_re_encodes_byte_for_byte() {
    let msg = ZlrZ01::parse(GOOD.as_bytes()).expect("valid");
    assert_eq!(msg.msh.control_id, "42");
    assert_eq!(
        msg.msh.sending_application.as_ref().unwrap().namespace_id,
        "LAB"
    );
    assert_eq!(msg.result.len(), 2);
    assert_eq!(msg.result[0].zlr.notes[1].decoded(), "two|x");
    assert_eq!(msg.to_er7(), GOOD);
}

#[test]
fn built_in_code_encodes() {
    let msg = ZlrZ01 {
        msh: Msh {
            date_time: DateTime::new("20240101"),
            message_type: Msg {
                message_code: "ZLR".into(),
                trigger_event: "Z01".into(),
                message_structure: None,
            },
            control_id: "1".into(),
            version: "2.5.1".into(),
            ..Msh::default()
        },
        result: vec![ResultGroup {
            zlr: Zlr {
                code: "A^B".into(),
                notes: vec![],
            },
        }],
    };
    assert_eq!(
        msg.to_er7(),
        "MSH|^~\\&|||||20240101||ZLR^Z01|1||2.5.1\rZLR|A\\S\\B\r"
    );
    assert!(msg.validate().is_empty(), "{:?}", msg.validate());
}

#[test]
fn problems_are_located() {
    let bad = "MSH|^~\\&|||||2024133||ZLR^Z01|42||2.5.1\rZLR|TOOLONG|x\rPID|1\r";
    let parsed = ZlrZ01::parse_lenient(bad.as_bytes()).expect("parses leniently");
    let shown: Vec<String> = parsed.problems.iter().map(ToString::to_string).collect();
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::Malformed { .. })),
        "{shown:#?}"
    );
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::TooLong { max: 5, found: 7 })),
        "{shown:#?}"
    );
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::Excluded { .. })),
        "{shown:#?}"
    );
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| matches!(&p.kind, ProblemKind::UnexpectedSegment { id, .. } if id == "PID")),
        "{shown:#?}"
    );
    assert!(ZlrZ01::parse(bad.as_bytes()).is_err());
    insta::assert_snapshot!(shown.join("\n"));
}
