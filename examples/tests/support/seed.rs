//! T-CRASH-4's state injection: a store written through the Store API as a crashed engine
//! leaves it (Mirth RecoveryTests style).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hl7_examples::engine::DESTINATIONS;
use hl7_runtime::ack::{Fingerprint, Timestamp};
use hl7_runtime::er7::Message;
use hl7_runtime::store::{Accept, Delivery, Disposition, InboundMessage, SqliteStore, Store};

use super::Msg;

fn now_millis() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("millis fit")
}

fn inbound(m: &Msg, at: Timestamp) -> InboundMessage {
    let text = std::str::from_utf8(&m.raw).expect("ASCII message");
    let message = Message::parse(text).expect("the generated message parses");
    InboundMessage {
        raw: m.raw.clone(),
        channel: "inbound".into(),
        received_at: at,
        msg_type: "ADT".into(),
        patient_id: None,
        fingerprint: Fingerprint::of(&message, &m.raw),
    }
}

/// Seeds the store at `path` with `3 × per_state` messages, as an engine killed an hour ago
/// leaves them, each destination's queue in message order:
/// - messages `0..per_state`: routed to the three destinations, each item written to its
///   destination and awaiting the ACK (`sent`), under a one-minute lease that ended an hour ago;
/// - `per_state..2 × per_state`: routed, each item leased by the same dead owner, lease ended;
/// - `2 × per_state..`: stored and not routed (`received`).
pub fn seed_crashed_store(path: &Path, msgs: &[Msg], per_state: usize) {
    assert_eq!(msgs.len(), 3 * per_state);
    let an_hour_ago = Timestamp::from_unix_millis(now_millis() - 3_600_000);
    let store = SqliteStore::open(path).expect("create the store");
    let records: Vec<InboundMessage> = msgs.iter().map(|m| inbound(m, an_hour_ago)).collect();
    for chunk in records[..2 * per_state].chunks(250) {
        let deliveries: Vec<[Delivery<'_>; 3]> = chunk
            .iter()
            .map(|r| {
                DESTINATIONS.map(|d| Delivery {
                    destination: d,
                    payload: &r.raw,
                })
            })
            .collect();
        let batch: Vec<Accept<'_>> = chunk
            .iter()
            .zip(&deliveries)
            .map(|(r, d)| Accept {
                inbound: r,
                disposition: Disposition::Route(d),
                ack: None,
                application_ack: None,
            })
            .collect();
        let accepted = store.accept(&batch, an_hour_ago).expect("seed");
        assert_eq!(accepted.len(), chunk.len());
    }
    // One claim of both groups (nothing behind a live lease is claimable), then the first
    // group is marked sent.
    for d in DESTINATIONS {
        let claims = store
            .claim_batch(
                d,
                2 * per_state,
                Duration::from_secs(60),
                "crashed-engine",
                an_hour_ago,
            )
            .expect("lease");
        assert_eq!(claims.len(), 2 * per_state, "{d}: claimed");
        assert_eq!(claims[per_state - 1].payload, msgs[per_state - 1].raw);
        for claim in &claims[..per_state] {
            store.mark_sent(claim, an_hour_ago).expect("mark sent");
        }
    }
    let batch: Vec<Accept<'_>> = records[2 * per_state..]
        .iter()
        .map(|r| Accept {
            inbound: r,
            disposition: Disposition::Later,
            ack: None,
            application_ack: None,
        })
        .collect();
    let accepted = store.accept(&batch, an_hour_ago).expect("seed");
    assert_eq!(accepted.len(), per_state);
    assert_eq!(store.unrouted(10_000).expect("query").len(), per_state);
}
