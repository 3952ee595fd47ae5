//! Crash injection for the durability tests (RELIABILITY.md T-CRASH-3): the process aborts at a
//! named point of the message path when the environment asks for it.
//!
//! `HL7_FAILPOINT=<name>` aborts at the first pass through `<name>`, `HL7_FAILPOINT=<name>:<n>`
//! at the n-th. Without the variable a failpoint is one relaxed load of a cached `None`. The
//! points:
//!
//! - `after_store_before_ack`: the message is committed, its ACK not yet sent;
//! - `mid_batch_commit`: inside the group commit, after a message of the batch was added to
//!   its record and before the record is written to the ingest log;
//! - `before_apply`: a transaction of the applier is about to copy records of the ingest log
//!   into the database (the messages in them may be acknowledged already);
//! - `after_send_before_mark_done`: a delivery was accepted by the destination and is not yet
//!   recorded as done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn target() -> Option<&'static (String, u64)> {
    TARGET
        .get_or_init(|| {
            let spec = std::env::var("HL7_FAILPOINT").ok()?;
            let (name, nth) = match spec.split_once(':') {
                Some((name, n)) => (name.to_owned(), n.parse().unwrap_or(1)),
                None => (spec, 1),
            };
            Some((name, nth.max(1)))
        })
        .as_ref()
}

/// Aborts the process here if `HL7_FAILPOINT` names `point` and this is the chosen pass.
pub(crate) fn hit(point: &str) {
    let Some((name, nth)) = target() else {
        return;
    };
    if name == point && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *nth {
        eprintln!("failpoint {point}: aborting");
        std::process::abort();
    }
}
