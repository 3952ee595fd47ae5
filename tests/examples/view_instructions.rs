//! A deterministic workload for counting instructions: typed view parse and validation of the
//! hospital-mix corpus (1,000 messages), once.
//!
//! The shared VM's timings vary by 20 % from run to run, too much to judge a change of a few
//! percent; the count of instructions under cachegrind does not vary. Count the corpus alone
//! (`skip`) and subtract:
//!
//! ```text
//! cargo build --profile bench -p hl7-tests --example view_instructions
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/view_instructions skip
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/view_instructions
//! ```
//!
//! Speed is still measured by the criterion benches (`typed_view_parse_validate`).

#[path = "../../runtime/benches/corpus/mod.rs"]
#[allow(missing_docs)]
mod corpus;

use hl7_tests::base251::{AdtA01View, OrmO01View, OruR01View, RdeO11View};

fn main() {
    let messages = corpus::hospital_mix(1000);
    if std::env::args().nth(1).as_deref() == Some("skip") {
        println!("{} messages, not parsed", messages.len());
        return;
    }
    let mut problems = 0;
    for message in &messages {
        let Ok(text) = std::str::from_utf8(std::hint::black_box(message.as_bytes())) else {
            panic!("the corpus is UTF-8");
        };
        let family = text.split('|').nth(8).and_then(|t| t.get(..3));
        problems += match family {
            Some("ADT") => AdtA01View::parse_lenient(text).map(|p| p.problems.len()),
            Some("ORU") => OruR01View::parse_lenient(text).map(|p| p.problems.len()),
            Some("ORM") => OrmO01View::parse_lenient(text).map(|p| p.problems.len()),
            Some("RDE") => RdeO11View::parse_lenient(text).map(|p| p.problems.len()),
            other => panic!("unexpected message type {other:?}"),
        }
        .unwrap_or_else(|e| panic!("a corpus message does not parse: {e}"));
    }
    println!("{} messages, {problems} problems", messages.len());
}
