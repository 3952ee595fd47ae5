//! Any text as a batch file or a concatenation of messages: located errors, never a panic.
#![no_main]

use hl7_runtime::er7::batch::{split_messages, Batch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = Batch::parse(text);
    for part in split_messages(text) {
        let _ = hl7_runtime::er7::Message::parse(part);
    }
});
