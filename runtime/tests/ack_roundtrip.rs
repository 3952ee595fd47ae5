//! Property tests of ACK building (RELIABILITY.md F-4 shape): for generated inbound messages
//! whose MSH-3/4/5/6/10 hold delimiters, escape characters, CR/LF and non-ASCII text,
//! `parse(build_ack(m))` has MSA-2 == MSH-10 (decoded) and the applications and facilities
//! swapped; for any bytes at all, an ACK is built without panicking and parses.

use hl7_runtime::ack::{AckBuilder, AckCode, Timestamp};
use hl7_runtime::er7::{Delimiters, Field, Message, Writer};
use proptest::prelude::*;

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
        // A letter as field separator: the ACK falls back to `|^~\&`.
        Just(Delimiters {
            field: b'Q',
            ..Delimiters::DEFAULT
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "Z", "0", " ", "|", "^", "~", "\\", "&", "#", "$", "%", "!", "r", "?", "@", "Q", "\r",
        "\n", "é", "漢", "😀", "F", "X0D", ".br", "\"\"",
    ]);
    prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

/// An HD-like field: 1 to 3 components.
fn composite() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 1..4)
}

#[derive(Debug, Clone)]
struct Header {
    delimiters: Delimiters,
    parties: [Vec<String>; 4],
    control_id: String,
    ack_id: String,
}

fn header() -> impl Strategy<Value = Header> {
    (
        delimiters(),
        [composite(), composite(), composite(), composite()],
        text(),
        text(),
    )
        .prop_map(|(delimiters, parties, control_id, ack_id)| Header {
            delimiters,
            parties,
            control_id,
            ack_id,
        })
}

fn encode(h: &Header) -> String {
    let mut w = Writer::new(h.delimiters);
    w.begin_segment("MSH");
    for party in &h.parties {
        w.field_separator();
        for (i, c) in party.iter().enumerate() {
            if i > 0 {
                w.component_separator();
            }
            w.text(c);
        }
    }
    w.field_separator();
    w.text("20240501");
    w.field_separator();
    w.field_separator();
    w.text("ADT");
    w.component_separator();
    w.text("A01");
    w.field_separator();
    w.text(&h.control_id);
    w.field_separator();
    w.text("P");
    w.field_separator();
    w.text("2.5.1");
    w.end_segment();
    w.begin_segment("PID");
    w.field_separator();
    w.text("1");
    w.end_segment();
    w.finish()
}

/// A field as decoded components (what a reader sees), trailing empty ones dropped.
fn components(field: Option<Field<'_>>) -> Vec<String> {
    let mut out: Vec<String> = field
        .and_then(|f| f.repetition(1))
        .map(|r| r.components().map(|c| c.decoded().into_owned()).collect())
        .unwrap_or_default();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

fn trimmed(mut v: Vec<String>) -> Vec<String> {
    while v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ack_echoes_control_id_and_swaps_parties(h in header(), code in prop::sample::select(vec![
        AckCode::AA, AckCode::AE, AckCode::AR, AckCode::CA, AckCode::CE, AckCode::CR,
    ])) {
        let text = encode(&h);
        let inbound = Message::parse(&text).expect("generated message parses");
        let ack_text = AckBuilder::new(&inbound)
            .code(code)
            .control_id(h.ack_id.clone())
            .timestamp(Timestamp::from_unix_millis(0))
            .build();
        let ack = Message::parse(&ack_text).map_err(|e| TestCaseError::fail(format!("{e}: {ack_text:?}")))?;
        let msh = ack.msh();
        let msa = ack.segment("MSA", 1).expect("MSA");
        let decoded = |f: Option<Field<'_>>| f.map(|f| f.decoded().into_owned()).unwrap_or_default();
        prop_assert_eq!(decoded(msa.field(1)), code.as_str());
        prop_assert_eq!(decoded(msa.field(2)), h.control_id.clone());
        prop_assert_eq!(decoded(msh.field(10)), h.ack_id.clone());
        // ACK MSH-3/4/5/6 = inbound MSH-5/6/3/4.
        for (ack_field, inbound_index) in [(3, 2), (4, 3), (5, 0), (6, 1)] {
            prop_assert_eq!(
                components(msh.field(ack_field)),
                trimmed(h.parties[inbound_index].clone()),
                "ACK MSH-{}", ack_field
            );
        }
        let expected = if h.delimiters.field.is_ascii_alphanumeric() {
            Delimiters::DEFAULT
        } else {
            h.delimiters
        };
        prop_assert_eq!(ack.delimiters(), expected);
        if expected == h.delimiters {
            // Same delimiters: copied as written.
            prop_assert_eq!(msa.field(2).map(|f| f.raw()), inbound.msh().field(10).map(|f| f.raw()));
        }
    }

    #[test]
    fn any_bytes_get_an_ack_that_parses(
        prefix in prop::collection::vec(any::<u8>(), 0..40),
        header in prop::option::of(header()),
        suffix in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut raw = prefix;
        if let Some(h) = &header {
            raw.extend_from_slice(encode(h).as_bytes());
        }
        raw.extend_from_slice(&suffix);
        let text = String::from_utf8_lossy(&raw);
        let mut builder = AckBuilder::for_raw(&raw)
            .code(AckCode::AE)
            .control_id("N1")
            .timestamp(Timestamp::from_unix_millis(0));
        if let Err(e) = Message::parse(&text) {
            builder = builder.parse_error(&e);
        }
        let ack = builder.build();
        let parsed = Message::parse(&ack).map_err(|e| TestCaseError::fail(format!("{e}: {ack:?}")))?;
        prop_assert_eq!(parsed.get("MSA-1").ok().flatten().map(|i| i.raw()), Some("AE"));
    }
}
