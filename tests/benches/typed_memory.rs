//! Heap memory of typed messages, measured with a counting global allocator (dhat).
//!
//! For every message of the hospital-mix corpus, a fresh dhat profiler is started just before
//! `typed::parse_lenient` (so the input buffer, allocated before, is not counted) and read:
//!
//! - **retained**: heap bytes still held once the parse returned and its result was reduced to
//!   the typed message (problems dropped); temporaries freed during the parse are not counted;
//! - **peak**: the most heap bytes held at any instant during the parse (view, structure
//!   matching, validation, struct building).
//!
//! Both are reported as ratios to the wire size, median and max per message type, against the
//! target of at most 3x, for the owned structs (`OruR01::parse_lenient`) and for the typed views
//! (`OruR01View::parse_lenient`: the view keeps the text where it is and the validator's placement
//! of each segment). Run with `cargo bench -p hl7-tests --bench typed_memory`.

// A bench binary with its own `main`.
#![allow(missing_docs)]

#[path = "../../runtime/benches/corpus/mod.rs"]
#[allow(missing_docs)]
mod corpus;

use hl7_runtime::typed::{self, MessageType};
use hl7_tests::base251::{AdtA01, AdtA01View, OrmO01, OrmO01View, OruR01, OruR01View};
use hl7_tests::base251::{RdeO11, RdeO11View};
use hl7_tests::nist::{VxuV04, VxuV04View};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const COUNT: usize = 1000;
const TARGET: f64 = 3.0;

/// One message's measurement.
struct Sample {
    errors: usize,
    wire: usize,
    retained: usize,
    peak: usize,
    blocks: u64,
}

fn measure<M: MessageType>(text: &str) -> Sample {
    measure_with(text, |bytes| {
        let parsed = typed::parse_lenient::<M>(bytes).expect("measured messages are ER7");
        let errors = parsed.problems.iter().filter(|p| p.is_error()).count();
        (errors, parsed.message)
    })
}

/// The typed view of `text` as `$view`, measured like the owned parse.
macro_rules! measure_view {
    ($view:ident, $text:expr) => {
        measure_with($text, |bytes| {
            let text = std::str::from_utf8(bytes).expect("measured messages are UTF-8");
            let parsed = $view::parse_lenient(text).expect("measured messages are ER7");
            let errors = parsed.problems.iter().filter(|p| p.is_error()).count();
            (errors, parsed.message)
        })
    };
}

/// Runs `parse` (which returns the error count and what it keeps) under a fresh profiler.
fn measure_with<'t, T>(text: &'t str, parse: impl FnOnce(&'t [u8]) -> (usize, T)) -> Sample {
    let bytes = text.as_bytes();
    let profiler = dhat::Profiler::builder()
        .testing()
        .trim_backtraces(Some(4))
        .build();
    let (errors, kept) = parse(bytes);
    let stats = dhat::HeapStats::get();
    drop(kept);
    drop(profiler);
    Sample {
        errors,
        wire: bytes.len(),
        retained: stats.curr_bytes,
        peak: stats.max_bytes,
        blocks: stats.total_blocks,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: measure a few only.
    let quick = !std::env::args().any(|a| a == "--bench");
    let count = if quick { 40 } else { COUNT };
    let messages = corpus::hospital_mix(count);
    table("owned structs", &messages, |family, text| match family {
        "ADT" => measure::<AdtA01>(text),
        "ORU" => measure::<OruR01>(text),
        "ORM" => measure::<OrmO01>(text),
        "RDE" => measure::<RdeO11>(text),
        other => panic!("unexpected message type {other}"),
    });
    table("typed views", &messages, |family, text| match family {
        "ADT" => measure_view!(AdtA01View, text),
        "ORU" => measure_view!(OruR01View, text),
        "ORM" => measure_view!(OrmO01View, text),
        "RDE" => measure_view!(RdeO11View, text),
        other => panic!("unexpected message type {other}"),
    });
    site_profile();
}

/// Measures every message with `measure` and prints the ratios per message type.
fn table(model: &str, messages: &[String], measure: impl Fn(&str, &str) -> Sample) {
    let count = messages.len();
    let mut families: Vec<(&str, Vec<Sample>)> = ["ADT", "ORU", "ORM", "RDE"]
        .iter()
        .map(|f| (*f, Vec::new()))
        .collect();
    for text in messages {
        let msh9 = text.split('|').nth(8).unwrap_or_default();
        let family = msh9.get(..3).unwrap_or_default();
        let sample = measure(family, text);
        assert_eq!(sample.errors, 0, "corpus messages conform to base 2.5.1");
        if let Some((_, samples)) = families.iter_mut().find(|(f, _)| *f == family) {
            samples.push(sample);
        }
    }

    println!(
        "{model}: typed message heap vs wire size ({count} corpus messages; target <= {TARGET:.1}x)"
    );
    println!(
        "{:<8} {:>5} {:>10} {:>11} {:>11} {:>9} {:>9} {:>10}",
        "type",
        "msgs",
        "wire med",
        "retain med",
        "retain max",
        "peak med",
        "peak max",
        "allocs/msg"
    );
    let mut worst: f64 = 0.0;
    let mut all_retained = Vec::new();
    let mut all_peak = Vec::new();
    for (family, samples) in &families {
        if samples.is_empty() {
            continue;
        }
        let mut wire: Vec<f64> = samples.iter().map(|s| s.wire as f64).collect();
        let mut retained: Vec<f64> = samples
            .iter()
            .map(|s| s.retained as f64 / s.wire as f64)
            .collect();
        let mut peak: Vec<f64> = samples
            .iter()
            .map(|s| s.peak as f64 / s.wire as f64)
            .collect();
        let blocks = samples.iter().map(|s| s.blocks).sum::<u64>() as f64 / samples.len() as f64;
        all_retained.extend_from_slice(&retained);
        all_peak.extend_from_slice(&peak);
        let (retained_max, peak_max) = (max(&retained), max(&peak));
        worst = worst.max(retained_max).max(peak_max);
        println!(
            "{:<8} {:>5} {:>10.0} {:>10.2}x {:>10.2}x {:>8.2}x {:>8.2}x {:>10.0}",
            family,
            samples.len(),
            median(&mut wire),
            median(&mut retained),
            retained_max,
            median(&mut peak),
            peak_max,
            blocks
        );
    }
    let (retained_max, peak_max) = (max(&all_retained), max(&all_peak));
    println!(
        "{:<8} {:>5} {:>10} {:>10.2}x {:>10.2}x {:>8.2}x {:>8.2}x",
        "all",
        all_retained.len(),
        "",
        median(&mut all_retained),
        retained_max,
        median(&mut all_peak),
        peak_max
    );
    println!(
        "target {}: worst ratio {worst:.2}x",
        if worst <= TARGET { "met" } else { "MISSED" }
    );
}

/// The same measure with a site profile instead of the unconstrained base structures: NIST's
/// VXU_V04 immunization profile (it excludes what its partners do not send) on the real 2.5.1
/// VXU messages of the fixtures.
fn site_profile() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../runtime/tests/fixtures/messages/fhir-converter"
    );
    println!("site profile nist::VxuV04 (problems are the profile's, not counted here):");
    for name in [
        "VXU_V04_v251_small.hl7",
        "VXU_V04_v251_NIST_IZ_child_max.hl7",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).expect("read a VXU fixture");
        for (model, s) in [
            ("owned", measure::<VxuV04>(&text)),
            ("view", measure_view!(VxuV04View, &text)),
        ] {
            println!(
                "  {name} ({model}): wire {} bytes, retained {:.2}x, peak {:.2}x, {} allocations",
                s.wire,
                s.retained as f64 / s.wire as f64,
                s.peak as f64 / s.wire as f64,
                s.blocks
            );
        }
    }
}
