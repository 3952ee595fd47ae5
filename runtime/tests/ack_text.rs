//! ACK text, snapshotted with an injected clock and control IDs (segments shown one per line).

use hl7_runtime::ack::{
    AckBuilder, AckCode, Clock, ControlIds, FixedClock, SequenceIds, Timestamp, Unsupported,
};
use hl7_runtime::er7::Message;
use hl7_runtime::rules::{
    ElementRule, MessageRule, NodeKind, NodeRule, Primitive, SegmentRule, TableKind, TableRule,
    Usage,
};
use hl7_runtime::validate::validate;

const CLOCK: FixedClock = FixedClock(Timestamp::from_unix_millis(1_714_564_800_000));

const ADT: &str = "MSH|^~\\&|ADMIT^1.2.3^ISO|GENERAL|LAB|CENTRAL|20240501115959||ADT^A01^ADT_A01|MSG-0042|P|2.5.1\r\
EVN|A01|20240501115959\r\
PID|1||4711^^^GENERAL^MR||Doe^Jane||19800101|F\r";

/// Shows an ACK one segment per line, after checking it uses `\r` only.
fn lines(ack: &str) -> String {
    assert!(ack.ends_with('\r') && !ack.contains('\n'), "{ack:?}");
    ack.replace('\r', "\n")
}

static SEX: TableRule = TableRule {
    id: "0001",
    name: "Administrative Sex",
    kind: TableKind::Hl7,
    codes: &[("F", "Female"), ("M", "Male"), ("U", "Unknown")],
    index: &[],
};

/// An open field at `position`.
const fn open(position: u16) -> ElementRule {
    ElementRule {
        position,
        ..ElementRule::OPEN
    }
}

static MSH: SegmentRule = SegmentRule {
    id: "MSH",
    name: "Message Header",
    fields: &[
        open(1),
        open(2),
        open(3),
        open(4),
        open(5),
        open(6),
        open(7),
        open(8),
        open(9),
        open(10),
        open(11),
        open(12),
    ],
};

static PID: SegmentRule = SegmentRule {
    id: "PID",
    name: "Patient Identification",
    fields: &[
        open(1),
        open(2),
        ElementRule {
            position: 3,
            name: "Patient Identifier List",
            usage: Usage::R,
            min: 1,
            max: u32::MAX,
            datatype: "CX",
            ..ElementRule::OPEN
        },
        open(4),
        open(5),
        open(6),
        ElementRule {
            position: 7,
            name: "Date/Time of Birth",
            datatype: "DTM",
            primitive: Primitive::DateTime,
            ..ElementRule::OPEN
        },
        ElementRule {
            position: 8,
            name: "Administrative Sex",
            datatype: "IS",
            table: Some(&SEX),
            table_id: Some("0001"),
            ..ElementRule::OPEN
        },
    ],
};

static OBX: SegmentRule = SegmentRule {
    id: "OBX",
    name: "Observation/Result",
    fields: &[
        open(1),
        open(2),
        open(3),
        open(4),
        ElementRule {
            position: 5,
            name: "Observation Value",
            max_length: Some(10),
            ..ElementRule::OPEN
        },
    ],
};

static ORU: MessageRule = MessageRule {
    profile: "ack-test",
    version: "2.5.1",
    msg_type: "ORU",
    event: "R01",
    structure: "ORU_R01",
    children: &[
        NodeRule {
            kind: NodeKind::Segment(&MSH),
            usage: Usage::R,
            min: 1,
            max: 1,
        },
        NodeRule {
            kind: NodeKind::Segment(&PID),
            usage: Usage::R,
            min: 1,
            max: 1,
        },
        NodeRule {
            kind: NodeKind::Segment(&OBX),
            usage: Usage::RE,
            min: 0,
            max: u32::MAX,
        },
    ],
};

#[test]
fn aa_for_a_stored_message() {
    let ids = SequenceIds::new("ACK");
    let inbound = Message::parse(ADT).expect("fixture parses");
    let ack = AckBuilder::new(&inbound)
        .code(AckCode::AA)
        .control_id(ids.next())
        .timestamp(CLOCK.now())
        .build();
    insta::assert_snapshot!("ack_aa", lines(&ack));
}

#[test]
fn ae_with_located_problems_from_validation() {
    // PID-3 missing, PID-8 outside table 0001, the second OBX-5 longer than 10.
    let text = "MSH|^~\\&|LAB|CENTRAL|EHR|WARD|20240501115959||ORU^R01^ORU_R01|R-77|P|2.5.1\r\
PID|1||||Doe^Jane||19800101|X\r\
OBX|1|ST|GLU||5.4\r\
OBX|2|ST|NOTE||a\\F\\b\\S\\c is far too long\r";
    let inbound = Message::parse(text).expect("parses");
    let report = validate(&inbound, &ORU);
    let errors: Vec<_> = report.problems.iter().filter(|p| p.is_error()).collect();
    assert_eq!(errors.len(), 3, "{:#?}", report.problems);
    let ids = SequenceIds::new("ACK");
    let ack = AckBuilder::new(&inbound)
        .code(AckCode::AE)
        .control_id(ids.next())
        .timestamp(CLOCK.now())
        .problems(&report.problems)
        .build();
    let parsed = Message::parse(&ack).expect("ACK parses");
    assert_eq!(parsed.segments().filter(|s| s.id() == "ERR").count(), 3);
    // ERR-8 holds the problem's text, escaped, and reads back as it.
    let messages: Vec<String> = parsed
        .segments()
        .filter(|s| s.id() == "ERR")
        .filter_map(|s| s.field(8).map(|f| f.decoded().into_owned()))
        .collect();
    let expected: Vec<String> = errors.iter().map(|p| p.to_string()).collect();
    assert_eq!(messages, expected);
    insta::assert_snapshot!("ack_ae_three_problems", lines(&ack));
}

#[test]
fn warnings_when_asked_and_none_on_positive_codes() {
    let inbound = Message::parse(
        "MSH|^~\\&|LAB|C|EHR|W|20240501||ORU^R01^ORU_R01|W-1|P|2.5.1\rPID|1||7||||1980|U\r",
    )
    .expect("parses");
    let mut problems = validate(&inbound, &ORU).problems;
    problems.push(hl7_runtime::validate::Problem {
        severity: hl7_runtime::validate::Severity::Warning,
        kind: hl7_runtime::validate::ProblemKind::TooLong { max: 1, found: 4 },
        location: hl7_runtime::er7::Location {
            segment_index: 2,
            segment_id: "PID".into(),
            field: Some(7),
            repetition: Some(1),
            ..Default::default()
        },
    });
    let build = |code, warnings| {
        AckBuilder::new(&inbound)
            .code(code)
            .control_id("A1")
            .timestamp(CLOCK.now())
            .warnings(warnings)
            .problems(&problems)
            .build()
    };
    assert!(!build(AckCode::AE, false).contains("ERR"));
    let with = build(AckCode::AA, true);
    assert_eq!(with.matches("ERR|").count(), 1);
    assert!(
        with.contains("ERR||PID^1^7^1|102^Data type error^HL70357|W||||"),
        "{with}"
    );
}

#[test]
fn cr_for_an_unsupported_version() {
    let text = "MSH|^~\\&|ADMIT|GENERAL|LAB|CENTRAL|20240501115959||ADT^A01^ADT_A01|MSG-0043|P|2.9^XYZ|||AL|NE\r\
PID|1||4711^^^GENERAL^MR\r";
    let inbound = Message::parse(text).expect("parses");
    let ids = SequenceIds::new("ACK");
    let ack = AckBuilder::new(&inbound)
        .code(AckCode::CR)
        .control_id(ids.next())
        .timestamp(CLOCK.now())
        .unsupported(Unsupported::Version)
        .build();
    insta::assert_snapshot!("ack_cr_unsupported_version", lines(&ack));
}

#[test]
fn non_default_delimiters_are_kept() {
    let text = "MSH$%~\\&$ADMIT%1.2.3%ISO$GEN\\F\\ERAL$LAB$CENTRAL$20240501$$ADT%A01%ADT_A01$ID\\F\\9$P$2.5.1\r\
PID$1$$$$Doe%Jane\r";
    let inbound = Message::parse(text).expect("parses");
    let problems = validate(&inbound, &ORU).problems;
    let ids = SequenceIds::new("ACK");
    let ack = AckBuilder::new(&inbound)
        .code(AckCode::AE)
        .control_id(ids.next())
        .timestamp(CLOCK.now())
        .problems(&problems)
        .build();
    let parsed = Message::parse(&ack).expect("ACK parses");
    assert_eq!(parsed.delimiters(), inbound.delimiters());
    let get = |m: &Message<'_>, p: &str| m.get(p).expect("path").map(|i| i.decoded().into_owned());
    assert_eq!(get(&parsed, "MSA-2"), Some("ID$9".to_owned()));
    assert_eq!(get(&parsed, "MSH-5.2"), Some("1.2.3".to_owned()));
    assert_eq!(get(&parsed, "MSH-6"), Some("GEN$ERAL".to_owned()));
    insta::assert_snapshot!("ack_dollar_delimiters", lines(&ack));
}

#[test]
fn acks_for_bytes_that_do_not_parse() {
    let ids = SequenceIds::new("NAK");
    // A readable MSH, a broken body (and invalid UTF-8).
    let raw = b"MSH|^~\\&|LAB|C|EHR|W|20240501||ORU^R01|B-1|P|2.5.1|||AL\rPID|1\robx|1\xff\r";
    let text = String::from_utf8_lossy(raw);
    let error = Message::parse(&text).expect_err("body is broken");
    let ack = AckBuilder::for_raw(raw)
        .code(AckCode::CE)
        .control_id(ids.next())
        .timestamp(CLOCK.now())
        .parse_error(&error)
        .build();
    // Nothing readable: a minimal ACK.
    let garbage = b"\x0b\x00\xffnot hl7 at all";
    let error = hl7_runtime::er7::decode_bytes(garbage).expect_err("no header");
    let minimal = AckBuilder::for_raw(garbage)
        .control_id(ids.next())
        .timestamp(CLOCK.now())
        .parse_error(&error)
        .build();
    insta::assert_snapshot!(
        "ack_unparseable",
        format!("{}\n{}", lines(&ack), lines(&minimal))
    );
}
