//! Property test: an owned message tree encodes to ER7 and parses back to the same tree.
//!
//! Canonical form ([`MessageTree::canonical`]): ER7 cannot tell an empty list of repetitions,
//! components or subcomponents from a list holding one empty value, and MSH-1/MSH-2 always
//! come from the delimiters. Everything else (trailing empty fields, repetitions, components
//! and subcomponents; delimiters, escape characters, CR/LF and non-ASCII text in values)
//! round-trips exactly, because [`MessageTree::encode`] writes every piece and escapes text.

use hl7_runtime::er7::owned::{MessageTree, SegmentTree};
use hl7_runtime::er7::{escape, Delimiters, Message};
use proptest::prelude::*;

type FieldTree = Vec<Vec<Vec<String>>>;

fn delimiters() -> impl Strategy<Value = Delimiters> {
    prop_oneof![
        Just(Delimiters::DEFAULT),
        Just(Delimiters {
            field: b'$',
            component: b'%',
            ..Delimiters::DEFAULT
        }),
        Just(Delimiters {
            field: b'^',
            component: b'~',
            repetition: b'|',
            ..Delimiters::DEFAULT
        }),
        Just(Delimiters {
            truncation: Some(b'#'),
            ..Delimiters::DEFAULT
        }),
        Just(Delimiters {
            field: b'!',
            component: b'$',
            repetition: b'r',
            escape: Some(b'?'),
            subcomponent: Some(b'@'),
            truncation: None,
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "Z", "0", " ", "|", "^", "~", "\\", "&", "#", "$", "%", "!", "r", "?", "@", "\r",
        "\n", "\r\n", "é", "ü", "漢", "😀", "E", "F", "X0D", ".br", "\"\"",
    ]);
    prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

fn field() -> impl Strategy<Value = FieldTree> {
    let sub = prop::collection::vec(text(), 1..3);
    let comp = prop::collection::vec(sub, 1..4);
    prop::collection::vec(comp, 1..3)
}

fn segment() -> impl Strategy<Value = SegmentTree> {
    (
        prop::sample::select(vec!["PID", "OBX", "NTE", "ZX1", "PV1"]),
        prop::collection::vec(field(), 0..6),
    )
        .prop_map(|(id, fields)| SegmentTree {
            id: id.to_owned(),
            fields,
        })
}

fn message() -> impl Strategy<Value = MessageTree> {
    (
        delimiters(),
        prop::collection::vec(field(), 0..8),
        prop::collection::vec(segment(), 0..5),
    )
        .prop_map(|(delimiters, msh_fields, rest)| {
            let mut fields = vec![Vec::new(), Vec::new()];
            fields.extend(msh_fields);
            let mut segments = vec![SegmentTree {
                id: "MSH".to_owned(),
                fields,
            }];
            segments.extend(rest);
            MessageTree {
                delimiters,
                segments,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn tree_round_trips(tree in message()) {
        let text = tree.encode();
        let parsed = Message::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.delimiters(), tree.delimiters);
        prop_assert_eq!(parsed.segment_count(), tree.segments.len());
        prop_assert_eq!(parsed.to_owned_message(), tree.canonical());
        // The view re-encodes to the same text.
        prop_assert_eq!(parsed.encode(), text);
    }

    #[test]
    fn escape_round_trips(s in text(), d in delimiters()) {
        let encoded = escape::encode(&s, &d);
        prop_assert!(!encoded.contains(['\r', '\n']));
        prop_assert!(!encoded.as_bytes().contains(&d.field));
        let decoded = escape::decode(&encoded, &d).into_owned();
        prop_assert_eq!(decoded, s.clone());
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        if let Ok(m) = Message::parse(&s) {
            for seg in m.segments() {
                for f in seg.fields() {
                    for r in f.repetitions() {
                        for c in r.components() {
                            for sub in c.subcomponents() {
                                let _ = sub.decoded();
                            }
                        }
                    }
                }
            }
        }
        let _ = hl7_runtime::er7::batch::Batch::parse(&s);
        let _ = hl7_runtime::er7::decode_bytes(s.as_bytes());
        let _ = escape::decode(&s, &Delimiters::DEFAULT);
    }

    #[test]
    fn msh_prefixed_garbage_never_panics(s in "[|^~\\\\&#A-Z0-9\r\n é]{0,120}") {
        let text = format!("MSH{s}");
        let _ = Message::parse(&text).map(|m| m.to_owned_message());
        let _ = hl7_runtime::er7::batch::Batch::parse(&text);
        let _ = hl7_runtime::er7::decode_bytes(text.as_bytes());
    }
}
