//! Duplicate detection, sans I/O: the key and hash, the verdicts, and T-DEDUPE-1's numbers
//! against an in-memory store.

use std::collections::HashMap;

use hl7_runtime::ack::{DedupeKey, Duplicate, Fingerprint, PayloadHash};
use hl7_runtime::er7::Message;

fn message(sender: &str, control_id: &str, body: &str, terminator: &str) -> String {
    [
        format!("MSH|^~\\&|{sender}|HOSP|EHR|WARD|20240501||ADT^A01|{control_id}|P|2.5.1"),
        format!("PID|1||{body}^^^HOSP^MR"),
        "PV1|1|I".to_owned(),
    ]
    .iter()
    .map(|s| format!("{s}{terminator}"))
    .collect()
}

fn fingerprint(raw: &str) -> Fingerprint {
    let m = Message::parse(raw).expect("parses");
    Fingerprint::of(&m, raw.as_bytes())
}

#[test]
fn key_is_sender_facility_and_control_id() {
    let raw = message("LAB^1.2^ISO", "X\\F\\1", "7", "\r");
    let key = DedupeKey::of(&Message::parse(&raw).expect("parses"));
    assert_eq!(key.sending_application, "LAB^1.2^ISO");
    assert_eq!(key.sending_facility, "HOSP");
    assert_eq!(key.control_id, "X\\F\\1");
    assert!(key.is_usable());
}

#[test]
fn verbatim_resend_with_crlf_instead_of_cr_is_verbatim() {
    let first = fingerprint(&message("LAB", "42", "123", "\r"));
    for terminator in ["\r\n", "\n", "\r"] {
        let again = fingerprint(&message("LAB", "42", "123", terminator));
        assert_eq!(again.check([&first]), Duplicate::Verbatim, "{terminator:?}");
    }
    // No final terminator, a BOM, and blank lines change nothing either.
    let raw = message("LAB", "42", "123", "\r\n\r\n");
    let bom = format!("\u{FEFF}{}", raw.trim_end());
    assert_eq!(fingerprint(&bom).check([&first]), Duplicate::Verbatim);
}

#[test]
fn same_control_id_with_another_body_is_reuse() {
    let first = fingerprint(&message("LAB", "42", "123", "\r"));
    let other = fingerprint(&message("LAB", "42", "124", "\r"));
    assert_eq!(other.check([&first]), Duplicate::ControlIdReuse);
    // Once both are stored, either one resent is verbatim.
    assert_eq!(other.check([&first, &other]), Duplicate::Verbatim);
    let third = fingerprint(&message("LAB", "42", "125", "\r"));
    assert_eq!(third.check([&first, &other]), Duplicate::ControlIdReuse);
}

#[test]
fn other_senders_and_empty_control_ids_are_new() {
    let first = fingerprint(&message("LAB", "42", "123", "\r"));
    assert_eq!(
        fingerprint(&message("RAD", "42", "123", "\r")).check([&first]),
        Duplicate::New
    );
    assert_eq!(
        fingerprint(&message("LAB", "43", "123", "\r")).check([&first]),
        Duplicate::New
    );
    assert_eq!(first.check([]), Duplicate::New);
    let blank = fingerprint(&message("LAB", "", "123", "\r"));
    assert!(!blank.key.is_usable());
    assert_eq!(blank.check([&blank.clone()]), Duplicate::New);
}

#[test]
fn hash_is_sha256_of_cr_terminated_segments() {
    // sha256 of `MSH|^~\&` and CR, computed with sha256sum.
    assert_eq!(
        PayloadHash::of(b"MSH|^~\\&\n").to_string(),
        "19c3925296a2d2e71eaafe07164947bcdc8f3e16aae9911e9f0178bc60ce5400"
    );
}

/// T-DEDUPE-1's numbers, sans I/O: 1,000 messages, 10% resent verbatim (half of them with
/// CRLF terminators), 5% reusing an MSH-10 with another body.
#[test]
fn t_dedupe_1_numbers() {
    let mut store: HashMap<DedupeKey, Vec<Fingerprint>> = HashMap::new();
    let (mut routed, mut reacked, mut alerts) = (0, 0, 0);
    let mut receive = |raw: &str| {
        let fp = fingerprint(raw);
        let stored = store.entry(fp.key.clone()).or_default();
        match fp.check(stored.iter()) {
            Duplicate::Verbatim => reacked += 1,
            Duplicate::ControlIdReuse => {
                alerts += 1;
                routed += 1;
                stored.push(fp);
            }
            Duplicate::New => {
                routed += 1;
                stored.push(fp);
            }
        }
    };
    for n in 0..1000 {
        let id = format!("M{n}");
        receive(&message("LAB", &id, &n.to_string(), "\r"));
        if n % 10 == 0 {
            let terminator = if n % 20 == 0 { "\r\n" } else { "\r" };
            receive(&message("LAB", &id, &n.to_string(), terminator));
        }
        if n % 20 == 5 {
            receive(&message("LAB", &id, &format!("{n}-other"), "\r"));
        }
    }
    assert_eq!((routed, reacked, alerts), (1050, 100, 50));
}
