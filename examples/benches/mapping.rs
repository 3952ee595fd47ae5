//! Mapping a typed ORU^R01 with 20 OBX (a crosswalk lookup on each OBX-3) against the typed parse
//! of the same message, measured in the same run.
//!
//! `cargo bench -p hl7-examples --bench mapping`

// `criterion_group!` writes an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hl7_examples::acme_lab;
use hl7_examples::mappings::LabResultToEhr;

const CODES: [(&str, &str); 6] = [
    ("GLU", "Glucose"),
    ("CREA", "Creatinine"),
    ("NA", "Sodium"),
    ("K", "Potassium"),
    ("CHOL", "Cholesterol"),
    ("COMMENT", "Service comment"),
];

/// An ACME lab result with 20 observations in local codes.
fn lab_result() -> String {
    let mut out = String::from(
        "MSH|^~\\&|LIS|ACME^2.16.840.1.113883.3.72.5.30^ISO|EHR|STMARYS|20241127083000-0500||ORU^R01^ORU_R01|ACME00017|P|2.5.1\r\
         PID|1||881234^^^ACME^MR~S99-3211^^^ACME^DL||DOE^JANE^Q||19790412|F\r\
         ORC|RE|ORD448^EHR|LAB7731^ACME\r\
         OBR|1|ORD448^EHR|LAB7731^ACME|CMP^Comprehensive metabolic panel^LAB|||20241127071500-0500\r",
    );
    for i in 0..20 {
        let (code, name) = CODES[i % CODES.len()];
        out.push_str(&format!(
            "OBX|{}|NM|{code}^{name}^LAB||{}.{}|mg/dL^mg/dL^UCUM|70-99|N|||F\r",
            i + 1,
            80 + i,
            i % 10
        ));
        if i % 5 == 0 {
            out.push_str(&format!(
                "ZLR|RV-{i}|4455^REVIEW^RITA|A\rNTE|1||Reviewed\\.br\\by the lab\r"
            ));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = lab_result();
    let parsed = acme_lab::OruR01::parse(text.as_bytes()).expect("the bench message conforms");
    LabResultToEhr::map(&parsed).expect("the bench message maps");

    let mut group = c.benchmark_group("oru_r01_20_obx");
    group.throughput(Throughput::Elements(1));
    group.bench_function("typed_parse", |b| {
        b.iter(|| acme_lab::OruR01::parse(std::hint::black_box(text.as_bytes())).expect("parses"))
    });
    group.bench_function("map_with_crosswalk", |b| {
        b.iter(|| LabResultToEhr::map(std::hint::black_box(&parsed)).expect("maps"))
    });
    group.bench_function("map_then_encode", |b| {
        b.iter_batched(
            || (),
            |()| LabResultToEhr::map(&parsed).expect("maps").to_er7(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
