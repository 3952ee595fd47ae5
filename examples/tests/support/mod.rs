//! Shared pieces of the end-to-end crash tests: a seeded generator of ADT messages, the engine
//! process under test, the test's own MLLP senders, and the checker that compares what the
//! senders had acknowledged with what the simulated destinations logged.

#![allow(dead_code, unreachable_pub)]

pub mod checker;
pub mod flap;
pub mod process;
pub mod seed;
pub mod sender;

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// SplitMix64: a small deterministic generator, so a failing run can be replayed from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// One message the senders will send: its control ID, bytes and their SHA-256.
#[derive(Debug, Clone)]
pub struct Msg {
    /// MSH-10, unique in the test.
    pub control_id: String,
    /// The bytes sent (segments separated by `\r`).
    pub raw: Vec<u8>,
    /// Hex SHA-256 of `raw`, as the sinks log it.
    pub sha: String,
    /// The sender connection that sends it (messages of one connection are sent in order).
    pub conn: usize,
}

/// Hex SHA-256, the form of the sink logs.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const WORDS: [&str; 16] = [
    "patient",
    "reports",
    "mild",
    "pain",
    "since",
    "yesterday",
    "no",
    "fever",
    "allergy",
    "penicillin",
    "follow",
    "up",
    "in",
    "two",
    "weeks",
    "stable",
];

/// `count` ADT^A04/A08 messages of 1-4 KiB from MSH-4 `MAINHOSP` (so the example engine
/// passes them through to the EHR, billing and pharmacy), control IDs `{prefix}-{i}`, message
/// `i` sent on connection `i % conns`.
pub fn adt_messages(seed: u64, prefix: &str, count: usize, conns: usize) -> Vec<Msg> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let control_id = format!("{prefix}-{i:06}");
            let raw = adt(&mut rng, &control_id, i);
            Msg {
                sha: sha256_hex(&raw),
                control_id,
                raw,
                conn: i % conns.max(1),
            }
        })
        .collect()
}

fn adt(rng: &mut Rng, control_id: &str, i: usize) -> Vec<u8> {
    let event = if rng.next_u64().is_multiple_of(2) {
        "A04"
    } else {
        "A08"
    };
    let target = usize::try_from(rng.between(1024, 4096)).unwrap_or(2048);
    let mut text = format!(
        "MSH|^~\\&|REGADT|MAINHOSP|HUB|HOSP|20250101{:06}||ADT^{event}^ADT_A01|{control_id}|P|2.5.1\r\
         EVN|{event}|20250101120000\r\
         PID|1||MRN{i:07}^^^MAINHOSP^MR||DOE^JANE^Q||19800101|F|||1 MAIN ST^^SPRINGFIELD^IL^62701\r\
         PV1|1|O|CLINIC^101^1|||||||MED\r",
        i % 1_000_000
    );
    let mut n = 1;
    while text.len() < target {
        let mut note = String::new();
        while note.len() < 200 {
            let word = WORDS[usize::try_from(rng.next_u64() % 16).unwrap_or(0)];
            note.push_str(word);
            note.push(' ');
        }
        let room = target.saturating_sub(text.len() + 12).max(1);
        note.truncate(room.min(note.len()));
        let _ = write!(text, "NTE|{n}||{}\r", note.trim_end());
        n += 1;
    }
    text.into_bytes()
}
