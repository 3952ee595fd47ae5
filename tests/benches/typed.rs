//! Typed benchmark on the hospital-mix corpus, with its baselines in the same run:
//!
//! - `memchr_baseline`: count of `\r` over the same buffers (a memory-bandwidth floor);
//! - `generic_parse_walk`: generic ER7 parse and a full walk to the subcomponents;
//! - `typed_parse_validate`: `typed::parse_lenient` into the base 2.5.1 types, dispatched on
//!   MSH-9 (charset decoding, view, validation, struct building);
//! - `typed_view_parse_validate`: the typed views (`OruR01View::parse_lenient`, ...) from the
//!   same bytes: UTF-8 check, view, validation; values are found when read, none is here;
//! - `typed_view_then_read_routing`: the same, then what a router reads (MSH-10, the first
//!   PID-3 identifier, every OBX-3.1 and first OBX-5), each through its typed accessor;
//! - `typed_view_then_decode`: the same, then every value decoded into the owned struct (what
//!   reading the whole message through a view costs);
//! - `validate_only`: the validator alone over pre-parsed views;
//! - `typed_encode`: `typed::to_er7` of pre-parsed typed messages.
//!
//! Group `typed_bytes` reports bytes/s, group `typed_msgs` the same benches in messages/s.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

#[path = "../../runtime/benches/corpus/mod.rs"]
#[allow(missing_docs)]
mod corpus;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hl7_runtime::er7::Message;
use hl7_runtime::typed::{self, MessageType};
use hl7_runtime::validate;
use hl7_tests::base251::{AdtA01, AdtA01View, OrmO01, OrmO01View, OruR01, OruR01View};
use hl7_tests::base251::{RdeO11, RdeO11View};

const COUNT: usize = 1000;

/// A message of the corpus, typed by its MSH-9.
enum Typed {
    Adt(Box<AdtA01>),
    Oru(OruR01),
    Orm(OrmO01),
    Rde(RdeO11),
}

/// The message family (MSH-9.1) of a raw message.
fn family(text: &str) -> &str {
    let msh9 = text.split('|').nth(8).unwrap_or_default();
    msh9.get(..3).unwrap_or_default()
}

/// Typed parse and validation; returns the number of problems (all levels) so nothing is
/// optimised away, and the message when `keep`.
fn parse_typed(text: &str) -> (usize, Option<Typed>) {
    fn one<M: MessageType>(text: &str, wrap: fn(M) -> Typed) -> (usize, Option<Typed>) {
        match typed::parse_lenient::<M>(black_box(text.as_bytes())) {
            Ok(parsed) => (parsed.problems.len(), Some(wrap(parsed.message))),
            Err(_) => (usize::MAX, None),
        }
    }
    match family(text) {
        "ADT" => one::<AdtA01>(text, |m| Typed::Adt(Box::new(m))),
        "ORU" => one::<OruR01>(text, Typed::Oru),
        "ORM" => one::<OrmO01>(text, Typed::Orm),
        "RDE" => one::<RdeO11>(text, Typed::Rde),
        other => panic!("unexpected message type {other}"),
    }
}

/// What a bench reads of a typed view after parsing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Nothing: the parse and the validation alone.
    Nothing,
    /// What a router reads: MSH-10, the first PID-3 identifier, and of a result every OBX-3.1
    /// and the first OBX-5.
    Routing,
    /// Every value, decoded into the owned struct.
    Everything,
}

/// Typed view parse and validation from bytes, then `read`; returns the number of problems
/// plus the bytes read, so nothing is optimised away.
fn view_typed(bytes: &[u8], read: Read) -> usize {
    let Ok(text) = std::str::from_utf8(black_box(bytes)) else {
        return usize::MAX;
    };
    macro_rules! one {
        ($view:ident, $route:ident) => {
            match $view::parse_lenient(text) {
                Ok(parsed) => {
                    let read = match read {
                        Read::Nothing => 0,
                        Read::Routing => $route(&parsed.message),
                        Read::Everything => {
                            black_box(parsed.message.decode());
                            0
                        }
                    };
                    black_box(&parsed.message);
                    parsed.problems.len() + read
                }
                Err(_) => usize::MAX,
            }
        };
    }
    match family(text) {
        "ADT" => one!(AdtA01View, route_adt),
        "ORU" => one!(OruR01View, route_oru),
        "ORM" => one!(OrmO01View, route_orm),
        "RDE" => one!(RdeO11View, route_rde),
        other => panic!("unexpected message type {other}"),
    }
}

/// The length of the first PID-3 identifier of a PID view.
macro_rules! first_patient_id {
    ($pid:expr) => {
        $pid.patient_identifier_list()
            .first()
            .map_or(0, |cx| cx.id_number().raw().len())
    };
}

fn route_adt(m: &AdtA01View<'_>) -> usize {
    m.msh().message_control_id().raw().len() + first_patient_id!(m.pid())
}

fn route_orm(m: &OrmO01View<'_>) -> usize {
    let patient = m.patient().map_or(0, |p| first_patient_id!(p.pid()));
    m.msh().message_control_id().raw().len() + patient
}

fn route_rde(m: &RdeO11View<'_>) -> usize {
    let patient = m.patient().map_or(0, |p| first_patient_id!(p.pid()));
    m.msh().message_control_id().raw().len() + patient
}

fn route_oru(m: &OruR01View<'_>) -> usize {
    let mut read = m.msh().message_control_id().raw().len();
    for result in m.patient_result().iter() {
        read += result.patient().map_or(0, |p| first_patient_id!(p.pid()));
        for order in result.order_observation().iter() {
            for observation in order.observation().iter() {
                let obx = observation.obx();
                let code = obx.observation_identifier().identifier();
                read += code.map_or(0, |c| c.raw().len());
                read += obx.observation_value().first().map_or(0, |v| v.raw().len());
            }
        }
    }
    read
}

fn validate_view(view: &Message<'_>) -> validate::Report {
    let text = view.text();
    match family(text) {
        "ADT" => validate::validate(view, &AdtA01::RULE),
        "ORU" => validate::validate(view, &OruR01::RULE),
        "ORM" => validate::validate(view, &OrmO01::RULE),
        "RDE" => validate::validate(view, &RdeO11::RULE),
        other => panic!("unexpected message type {other}"),
    }
}

fn encode(message: &Typed) -> String {
    match message {
        Typed::Adt(m) => typed::to_er7(m.as_ref()),
        Typed::Oru(m) => typed::to_er7(m),
        Typed::Orm(m) => typed::to_er7(m),
        Typed::Rde(m) => typed::to_er7(m),
    }
}

fn walk(m: &Message<'_>) -> usize {
    let mut total = 0;
    for seg in m.segments() {
        for f in seg.fields() {
            for r in f.repetitions() {
                for c in r.components() {
                    for s in c.subcomponents() {
                        total += s.raw().len() + 1;
                    }
                }
            }
        }
    }
    total
}

fn benches(c: &mut Criterion) {
    let messages = corpus::hospital_mix(COUNT);
    let bytes: u64 = messages.iter().map(|m| m.len() as u64).sum();

    // Outside the timed loops: the corpus conforms (no error-level problem) and every message
    // parses; the typed messages and views used by the encode and validation benches.
    let mut typed_messages = Vec::with_capacity(messages.len());
    for text in &messages {
        let view = Message::parse(text).expect("corpus parses");
        let report = validate_view(&view);
        let errors: Vec<String> = report
            .problems
            .iter()
            .filter(|p| p.is_error())
            .map(ToString::to_string)
            .collect();
        assert!(
            errors.is_empty(),
            "corpus message has errors:\n{}",
            errors.join("\n")
        );
        let (_, typed) = parse_typed(text);
        typed_messages.push(typed.expect("corpus parses as its type"));
    }
    let views: Vec<Message<'_>> = messages
        .iter()
        .map(|m| Message::parse(m).expect("corpus parses"))
        .collect();
    let encoded_bytes: u64 = typed_messages.iter().map(|m| encode(m).len() as u64).sum();
    eprintln!(
        "corpus: {COUNT} messages, {bytes} bytes (typed re-encoding {encoded_bytes} bytes), \
         mean {} bytes",
        bytes / COUNT as u64
    );

    for (group_name, throughput) in [
        ("typed_bytes", Throughput::Bytes(bytes)),
        ("typed_msgs", Throughput::Elements(COUNT as u64)),
    ] {
        let mut g = c.benchmark_group(group_name);
        g.throughput(throughput);
        g.bench_function("memchr_baseline", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| memchr_count(black_box(m.as_bytes())))
                    .sum::<usize>()
            })
        });
        g.bench_function("generic_parse_walk", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| Message::parse(black_box(m)).map_or(0, |m| walk(&m)))
                    .sum::<usize>()
            })
        });
        g.bench_function("typed_parse_validate", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| {
                        let (problems, message) = parse_typed(m);
                        black_box(message);
                        problems
                    })
                    .sum::<usize>()
            })
        });
        g.bench_function("typed_view_parse_validate", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| view_typed(m.as_bytes(), Read::Nothing))
                    .sum::<usize>()
            })
        });
        g.bench_function("typed_view_then_read_routing", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| view_typed(m.as_bytes(), Read::Routing))
                    .sum::<usize>()
            })
        });
        g.bench_function("typed_view_then_decode", |b| {
            b.iter(|| {
                messages
                    .iter()
                    .map(|m| view_typed(m.as_bytes(), Read::Everything))
                    .sum::<usize>()
            })
        });
        g.bench_function("validate_only", |b| {
            b.iter(|| {
                views
                    .iter()
                    .map(|v| validate_view(black_box(v)).problems.len())
                    .sum::<usize>()
            })
        });
        g.bench_function("typed_encode", |b| {
            b.iter(|| {
                typed_messages
                    .iter()
                    .map(|m| black_box(encode(black_box(m))).len())
                    .sum::<usize>()
            })
        });
        g.finish();
    }
}

fn memchr_count(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\r', bytes).count()
}

criterion_group!(typed_benches, benches);
criterion_main!(typed_benches);
