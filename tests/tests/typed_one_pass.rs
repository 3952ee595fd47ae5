//! A typed parse reads each segment from the values the validator hands on as it checks them
//! (one pass). These tests hold that pass to the two things it replaces: it reads what decoding
//! the segment from its view reads, and it reports what the validator reports alone, in the
//! same order.

#[path = "../../runtime/benches/corpus/mod.rs"]
#[allow(missing_docs)]
mod corpus;

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use hl7_runtime::codegen::{decode_segment_node, DecodeContext, Matched};
use hl7_runtime::er7::{self, Message};
use hl7_runtime::typed::{self, MessageType, SegmentType};
use hl7_runtime::validate;
use hl7_tests::base251::{adt_a01, orm_o01, oru_r01, rde_o11, AdtA01, OrmO01, OruR01, RdeO11};

/// Reads every segment of `view` whose id is `T`'s both ways; returns how many it compared.
fn same_segments<T: SegmentType + PartialEq + Debug>(
    view: &Message<'_>,
    ctx: &DecodeContext,
    name: &str,
) -> usize {
    let mut compared = 0;
    for index in 0..view.segment_count() {
        let Some(segment) = view.segment_at(index) else {
            continue;
        };
        if segment.id() != T::RULE.id {
            continue;
        }
        let one_pass: T = decode_segment_node(Matched::Segment(index), view, ctx);
        assert_eq!(
            one_pass,
            T::decode(&segment, ctx),
            "{name}: segment {} ({}) reads differently",
            index + 1,
            segment.id()
        );
        compared += 1;
    }
    compared
}

/// Compares every segment type of the 2.5.1 hospital mix in `text`.
fn same_reading(text: &str, name: &str) -> usize {
    let Ok(decoded) = er7::decode_bytes(text.as_bytes()) else {
        return 0;
    };
    let buffer = Arc::new(decoded.text.into_owned());
    let Ok(view) = Message::parse(&buffer) else {
        return 0;
    };
    let ctx = DecodeContext::shared(view.delimiters(), Arc::clone(&buffer));
    let mut n = 0;
    n += same_segments::<adt_a01::Msh>(&view, &ctx, name);
    n += same_segments::<adt_a01::Evn>(&view, &ctx, name);
    n += same_segments::<adt_a01::Pid>(&view, &ctx, name);
    n += same_segments::<adt_a01::Pv1>(&view, &ctx, name);
    n += same_segments::<adt_a01::Pv2>(&view, &ctx, name);
    n += same_segments::<adt_a01::Nk1>(&view, &ctx, name);
    n += same_segments::<adt_a01::Al1>(&view, &ctx, name);
    n += same_segments::<adt_a01::Dg1>(&view, &ctx, name);
    n += same_segments::<adt_a01::In1>(&view, &ctx, name);
    n += same_segments::<oru_r01::Obr>(&view, &ctx, name);
    n += same_segments::<oru_r01::Obx>(&view, &ctx, name);
    n += same_segments::<oru_r01::Nte>(&view, &ctx, name);
    n += same_segments::<orm_o01::Orc>(&view, &ctx, name);
    n += same_segments::<rde_o11::Rxe>(&view, &ctx, name);
    n += same_segments::<rde_o11::Tq1>(&view, &ctx, name);
    n
}

/// The problems of a typed parse, and of validating the same text alone.
fn same_problems<M: MessageType>(text: &str, name: &str) {
    let Ok(parsed) = typed::parse_lenient::<M>(text.as_bytes()) else {
        return;
    };
    let decoded = er7::decode_bytes(text.as_bytes()).expect("parsed above");
    let view = Message::parse(&decoded.text).expect("parsed above");
    let alone = validate::validate(&view, &M::RULE).problems;
    assert_eq!(parsed.problems, alone, "{name}: problems differ");
}

#[test]
fn the_hospital_mix_reads_the_same_in_one_pass() {
    let mut compared = 0;
    for (i, text) in corpus::hospital_mix(300).iter().enumerate() {
        let name = format!("corpus message {i}");
        compared += same_reading(text, &name);
        same_problems::<AdtA01>(text, &name);
        same_problems::<OruR01>(text, &name);
        same_problems::<OrmO01>(text, &name);
        same_problems::<RdeO11>(text, &name);
    }
    assert!(compared > 3000, "only {compared} segments compared");
}

/// The real sample messages: escapes, odd delimiters, repetitions, empty and excluded
/// elements, segments out of place, read as 2.5.1 whatever their version.
#[test]
fn the_sample_messages_read_the_same_in_one_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixtures/messages");
    let mut files = Vec::new();
    for source in std::fs::read_dir(&dir).expect("fixture messages") {
        let source = source.expect("entry").path();
        if source.is_dir() {
            for file in std::fs::read_dir(&source).expect("source folder") {
                files.push(file.expect("entry").path());
            }
        }
    }
    let mut compared = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("message");
        let text = String::from_utf8_lossy(&bytes);
        let name = path.display().to_string();
        compared += same_reading(&text, &name);
        same_problems::<AdtA01>(&text, &name);
        same_problems::<OruR01>(&text, &name);
        same_problems::<OrmO01>(&text, &name);
        same_problems::<RdeO11>(&text, &name);
    }
    assert!(files.len() > 50, "only {} sample messages", files.len());
    assert!(compared > 200, "only {compared} segments compared");
}
