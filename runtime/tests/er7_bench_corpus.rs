//! The benchmark corpus generator: deterministic, parses, sizes 0.5-8 KB with a median near
//! 3 KB, and round-trips through the owned tree.

use hl7_runtime::er7::Message;

#[path = "../benches/corpus/mod.rs"]
mod corpus;

#[test]
fn hospital_mix_is_sane() {
    let messages = corpus::hospital_mix(1000);
    assert_eq!(messages, corpus::hospital_mix(1000), "deterministic");
    let mut sizes: Vec<usize> = messages.iter().map(String::len).collect();
    sizes.sort_unstable();
    let (min, median, max) = (sizes[0], sizes[sizes.len() / 2], sizes[sizes.len() - 1]);
    println!("sizes: min {min}, median {median}, max {max}");
    assert!(min >= 500, "min {min}");
    assert!(max <= 8 * 1024, "max {max}");
    assert!((2300..=3700).contains(&median), "median {median}");
    let mut types = std::collections::BTreeMap::new();
    for text in &messages {
        let m = Message::parse(text).expect("parses");
        let (code, event, _) = m.message_type();
        *types
            .entry(format!("{}^{}", code.unwrap_or(""), event.unwrap_or("")))
            .or_insert(0) += 1;
        assert_eq!(m.version(), Some("2.5.1"));
        let tree = m.to_owned_message();
        // Formatting sequences (`\.br\`) are kept in decoded text and written escaped by the
        // tree, so compare trees, not text.
        let again = tree.encode();
        assert_eq!(
            Message::parse(&again).expect("parses").to_owned_message(),
            tree
        );
    }
    println!("{types:?}");
    assert_eq!(types.len(), 6);
}
