//! Any bytes: decode, view, walk to subcomponents, re-encode, and resolve paths; never panic,
//! and a parsed message re-encodes to a message that parses to the same tree.
#![no_main]

use hl7_runtime::er7::{decode_bytes, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(decoded) = decode_bytes(bytes) else { return };
    let Ok(message) = Message::parse(&decoded.text) else { return };
    for segment in message.segments() {
        for field in segment.fields() {
            for repetition in field.repetitions() {
                for component in repetition.components() {
                    for sub in component.subcomponents() {
                        let _ = sub.decoded();
                    }
                }
            }
        }
    }
    for path in ["MSH-9.2", "PID-3[2].1.2", "OBX[2]-5"] {
        let _ = message.get(path);
    }
    let encoded = message.encode();
    let again = Message::parse(&encoded).expect("a re-encoded message parses");
    assert_eq!(again.to_owned_message(), message.to_owned_message());
});
