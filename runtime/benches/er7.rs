//! ER7 benchmark on the hospital-mix corpus: a memchr scan baseline, generic parse with a
//! full walk to the subcomponents, encoding, and escape decoding.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hl7_runtime::er7::{escape, Message};

mod corpus;

const COUNT: usize = 1000;

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
    let parsed: Vec<Message<'_>> = messages
        .iter()
        .map(|m| Message::parse(m).expect("corpus parses"))
        .collect();
    let trees: Vec<_> = parsed.iter().map(Message::to_owned_message).collect();

    let mut g = c.benchmark_group("er7");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("memchr_baseline", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| memchr::memchr_iter(b'\r', black_box(m.as_bytes())).count())
                .sum::<usize>()
        })
    });
    g.bench_function("parse_walk", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| Message::parse(black_box(m)).map_or(0, |m| walk(&m)))
                .sum::<usize>()
        })
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| Message::parse(black_box(m)).map_or(0, |m| m.segment_count()))
                .sum::<usize>()
        })
    });
    g.bench_function("encode_view", |b| {
        b.iter(|| {
            parsed
                .iter()
                .map(|m| black_box(m.encode()).len())
                .sum::<usize>()
        })
    });
    g.bench_function("encode_tree", |b| {
        b.iter(|| {
            trees
                .iter()
                .map(|t| black_box(t.encode()).len())
                .sum::<usize>()
        })
    });
    g.bench_function("escape_decode", |b| {
        b.iter(|| {
            let mut total = 0;
            for m in &parsed {
                let d = m.delimiters();
                for seg in m.segments() {
                    for f in seg.fields() {
                        for r in f.repetitions() {
                            for c in r.components() {
                                for s in c.subcomponents() {
                                    total += escape::decode(s.raw(), &d).len();
                                }
                            }
                        }
                    }
                }
            }
            total
        })
    });
    g.finish();
}

criterion_group!(er7, benches);
criterion_main!(er7);
