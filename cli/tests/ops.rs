//! The ops commands (`hl7 status`, `messages`, `reprocess`, `queue`) against the example
//! hospital's engine and its admin endpoint, run in this test process (the `hospital`
//! binary's own setup: `hl7_examples::engine::builder`), with simulated EHR, billing and
//! pharmacy systems whose answers the tests choose. The `hl7` binary is the real one.
//!
//! No timing assertion: the tests wait (up to a generous limit) for what the engine does in
//! the background, and the snapshots mask times, ages and the ACKs' own MSH-7 and MSH-10.

#![cfg(unix)]

mod common;
mod ops_support;

use std::sync::atomic::Ordering;

use ops_support::{
    eventually, fixture, hl7, is_age, masked, pki, write_secret, Hospital, ADMIT, DEFECTS, GLUCOSE,
    TOKEN,
};

#[test]
fn masking() {
    assert_eq!(
        masked("a 2024-11-27T02:00:00.123Z b 2024-11-27T02:00:00Z up 5m12s, 250ms)"),
        "a YYYY-MM-DDThh:mm:ss.sssZ b YYYY-MM-DDThh:mm:ssZ up <age>, <age>)\n"
    );
    assert_eq!(
        masked("  MSH|^~\\&|E|F|G|H|20241127||ACK^A01|X1|P|2.5.1"),
        "  MSH|^~\\&|E|F|G|H|<ts>||ACK^A01|<id>|P|2.5.1\n"
    );
    assert!(!is_age("2093-3") && !is_age("117") && !is_age("s"));
}

/// "Did the lab result for this patient reach the EHR?", and the message in error next to
/// it: status, search (by patient, type, control ID; paging), show (segments, fields, raw).
#[test]
fn status_search_and_show() {
    let h = Hospital::start();
    h.pharmacy.reject.store(true, Ordering::SeqCst);
    for file in [GLUCOSE, DEFECTS, ADMIT] {
        h.send(&fixture(file));
    }
    h.settle();
    assert_eq!(h.ehr.received().len(), 2, "the result and the admission");
    assert_eq!(h.billing.count("STM-90001"), 1);
    assert_eq!(
        h.destination("pharmacy")["dead_letters"],
        1,
        "the AR dead-letters"
    );

    let status = h.hl7(&["status"]);
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    let pharmacy = status
        .stdout
        .lines()
        .find(|l| l.starts_with("pharmacy"))
        .expect("a pharmacy row");
    assert!(pharmacy.contains(" down "), "{}", status.stdout);
    let inbound = status
        .stdout
        .lines()
        .find(|l| l.starts_with("inbound"))
        .expect("inbound");
    assert!(inbound.contains(" AA 2 CA 1 "), "{}", status.stdout);
    assert!(
        status.stdout.contains("alerts: none firing"),
        "{}",
        status.stdout
    );

    let found = h.hl7(&["messages", "search", "--patient-id", "881234"]);
    assert_eq!(found.code, Some(0), "{}", found.stderr);
    insta::assert_snapshot!("search_by_patient", masked(&found.stdout));
    assert_eq!(found.stderr, "1 message found\n");

    let all = h.hl7(&["messages", "search"]);
    insta::assert_snapshot!("search_all", masked(&all.stdout));
    let page = h.hl7(&["messages", "search", "--limit", "2"]);
    assert_eq!(page.stdout.lines().count(), 3, "{}", page.stdout);
    let before = page
        .stderr
        .strip_prefix("2 messages shown; more with --before ")
        .and_then(|r| r.strip_suffix(" (or --all)\n"))
        .unwrap_or_else(|| panic!("{}", page.stderr));
    let rest = h.hl7(&["messages", "search", "--before", before]);
    assert_eq!(rest.stdout.lines().count(), 2, "{}", rest.stdout);
    let every = h.json(&["messages", "search", "--all"]);
    assert_eq!(every["messages"].as_array().map(Vec::len), Some(3));
    let errors = h.json(&["messages", "search", "--state", "error", "--type", "ORU"]);
    assert_eq!(errors["messages"][0]["control_id"], "ACME00018");
    let text = h.json(&["messages", "search", "--text", "gluc*", "--from", "1h"]);
    assert_eq!(text["messages"][0]["control_id"], "ACME00017");

    let glucose = h.id_of("ACME00017");
    let shown = h.hl7(&["messages", "show", &glucose]);
    assert_eq!(shown.code, Some(0), "{}", shown.stderr);
    insta::assert_snapshot!("show_delivered_to_the_ehr", masked(&shown.stdout));
    let defects = h.id_of("ACME00018");
    let shown = h.hl7(&["messages", "show", &defects]);
    insta::assert_snapshot!("show_in_error", masked(&shown.stdout));
    let admit = h.id_of("STM-90001");
    let shown = h.hl7(&["messages", "show", &admit]);
    insta::assert_snapshot!("show_dead_letter", masked(&shown.stdout));

    let raw = h.hl7(&["messages", "show", &glucose, "--raw"]);
    assert_eq!(raw.stdout, fixture(GLUCOSE).replace('\r', "\n"));
    let fields = h.hl7(&["messages", "show", &glucose, "--fields"]);
    assert!(
        fields
            .stdout
            .contains("  PID-5    Patient Name                       DOE^JANE^Q\n"),
        "{}",
        fields.stdout
    );
    let detail = h.json(&["messages", "show", &glucose]);
    assert_eq!(detail["items"][0]["destination"], "ehr");
    assert_eq!(detail["items"][0]["state"], "done");
}

/// "Why is the pharmacy queue growing?", "resend everything that failed": dead letters,
/// reprocess (selection, one, edited), pause, queue, discard, resume.
#[test]
fn reprocess_queue_and_discard() {
    let h = Hospital::start();
    let admit = fixture(ADMIT);
    h.pharmacy.reject.store(true, Ordering::SeqCst);
    h.send(&admit);
    h.send(&fixture(DEFECTS));
    eventually("the admission is dead-lettered at the pharmacy", || {
        h.destination("pharmacy")["dead_letters"] == 1
    });
    let errors = h.hl7(&["queue", "show", "pharmacy", "--errors"]);
    assert_eq!(errors.code, Some(0), "{}", errors.stderr);
    insta::assert_snapshot!("queue_errors", masked(&errors.stdout));

    // A bulk reprocess asks first; without a terminal it needs --yes.
    let refused = h.hl7(&["reprocess", "--errors", "--destination", "pharmacy"]);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("add --yes"), "{}", refused.stderr);
    assert_eq!(h.pharmacy.count("STM-90001"), 1);

    h.pharmacy.reject.store(false, Ordering::SeqCst);
    let requeued = h.hl7(&[
        "reprocess",
        "--errors",
        "--destination",
        "pharmacy",
        "--yes",
    ]);
    assert_eq!(requeued.code, Some(0), "{}", requeued.stderr);
    insta::assert_snapshot!("reprocess_dead_letters", requeued.stdout);
    eventually("the pharmacy gets its copy", || {
        h.pharmacy.count("STM-90001") == 2
    });

    // Everything that failed in the last hour: the dead letters are gone, the message in
    // error is routed again and fails again (exit 0: the request did what it says).
    let again = h.hl7(&[
        "reprocess",
        "--errors",
        "--from",
        "1h",
        "--yes",
        "--reason",
        "new routes",
    ]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let defects = h.id_of("ACME00018");
    assert_eq!(
        again.stdout,
        format!("routed again 1 message that was in error: {defects}\n")
    );

    // One message: every destination it had gets a new delivery.
    let id = h.id_of("STM-90001");
    let one = h.hl7(&["reprocess", &id, "--reason", "EHR restored from backup"]);
    assert_eq!(one.code, Some(0), "{}", one.stderr);
    insta::assert_snapshot!("reprocess_one", one.stdout);
    // Each destination's worker delivers on its own: neither copy waits for the other.
    eventually(
        "a third copy at the pharmacy and a second at the EHR",
        || h.pharmacy.count("STM-90001") == 3 && h.ehr.count("STM-90001") == 2,
    );
    let still = h.hl7(&["reprocess", &defects]);
    assert_eq!(still.code, Some(1), "{}", still.stderr);
    assert!(
        still.stderr.contains("is still in error"),
        "{}",
        still.stderr
    );

    // Pause: the pharmacy's queue grows while the others deliver.
    let paused = h.hl7(&["queue", "pause", "pharmacy"]);
    assert_eq!(paused.code, Some(0), "{}", paused.stderr);
    assert_eq!(
        paused.stdout,
        "pharmacy: paused (nothing is delivered; its queue keeps filling)\n"
    );
    h.send(&admit.replace("STM-90001", "STM-90002"));
    eventually("the EHR gets the second admission", || {
        h.ehr.count("STM-90002") == 1
    });
    assert_eq!(h.destination("pharmacy")["state"], "paused");
    let queue = h.hl7(&["queue", "show", "pharmacy"]);
    assert_eq!(queue.code, Some(0), "{}", queue.stderr);
    insta::assert_snapshot!("queue_paused", masked(&queue.stdout));
    assert_eq!(queue.stderr, "1 queued item\n");

    // Discard the queued copy, resume: the next admission reaches the pharmacy, that one
    // never does (one queue, in order).
    let second = h.id_of("STM-90002");
    let discarded = h.hl7(&[
        "messages",
        "discard",
        &second,
        "--destination",
        "pharmacy",
        "--reason",
        "sent twice by mistake",
    ]);
    assert_eq!(discarded.code, Some(0), "{}", discarded.stderr);
    insta::assert_snapshot!("discard", discarded.stdout);
    let resumed = h.hl7(&["queue", "resume", "pharmacy"]);
    assert_eq!(resumed.stdout, "pharmacy: resumed\n");
    h.send(&admit.replace("STM-90001", "STM-90003"));
    eventually("the pharmacy gets the third admission", || {
        h.pharmacy.count("STM-90003") == 1
    });
    assert_eq!(h.pharmacy.count("STM-90002"), 0);

    // An edited message, with line feeds between its segments, replaces the original.
    let edited = admit
        .replace("STM-90001", "STM-90001E")
        .replace("4W^401^A", "4W^402^B")
        .replace('\r', "\n");
    let file = h.dir.path().join("edited.hl7");
    std::fs::write(&file, edited).expect("write the edit");
    let file = file.to_str().expect("a UTF-8 path");
    let run = h.hl7(&["reprocess", &id, "--edit", file, "--reason", "bed moved"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains(", routed\nqueued items "),
        "{}",
        run.stdout
    );
    eventually("the EHR gets the edited admission", || {
        h.ehr.count("STM-90001E") == 1
    });
    assert!(h.ehr.received().iter().any(|m| m.contains("4W^402^B")));
    let broken = h.dir.path().join("broken.hl7");
    std::fs::write(&broken, "not a message").expect("write");
    let run = h.hl7(&["reprocess", &id, "--edit", broken.to_str().expect("utf-8")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("(HTTP 400)"), "{}", run.stderr);

    // Every delivery settled: the status is steady.
    h.settle();
    let status = h.hl7(&["status"]);
    insta::assert_snapshot!("status_settled", masked(&status.stdout));
    let shown = h.hl7(&["messages", "show", &second]);
    assert!(
        shown.stdout.contains("discard  destination=\"pharmacy\""),
        "{}",
        shown.stdout
    );
}

/// Exit codes: 5 without a valid token, 3 with nothing listening, 1 for what the API refuses,
/// 4 for unreadable files, 2 for usage errors.
#[test]
fn exit_codes() {
    let h = Hospital::start();
    let url = h.url.as_str();
    let wrong = write_secret(h.dir.path(), "wrong", "not-the-token-0123456789");

    let run = hl7(&["status", "--admin", url, "--token-file", &wrong], &[]);
    assert_eq!(run.code, Some(5), "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: unauthorized: the admin endpoint refused the token (HTTP 401)"),
        "{}",
        run.stderr
    );
    let run = hl7(&["status", "--admin", url], &[]);
    assert_eq!(run.code, Some(5), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "error: unauthorized: no token: give --token-file FILE or set HL7_ADMIN_TOKEN\n"
    );
    let run = hl7(
        &["status"],
        &[("HL7_ADMIN_TOKEN", TOKEN), ("HL7_ADMIN_URL", url)],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let nowhere = format!("http://127.0.0.1:{port}");
    let run = hl7(
        &["status", "--admin", &nowhere],
        &[("HL7_ADMIN_TOKEN", TOKEN)],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "error: cannot connect to the admin endpoint {nowhere}: "
        )),
        "{}",
        run.stderr
    );

    let run = h.hl7(&["messages", "show", "999"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (Some(1), "error: no message 999 (HTTP 404)\n")
    );
    let run = h.hl7(&["queue", "pause", "radiology"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let run = h.hl7(&["messages", "search", "--state", "lost"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);

    let run = h.hl7(&["reprocess", "1", "--edit", "no/such/file.hl7"]);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    let run = hl7(
        &["status", "--admin", url, "--token-file", "no/such/token"],
        &[],
    );
    assert_eq!(run.code, Some(4), "{}", run.stderr);

    for usage in [
        &["messages", "search", "--from", "02:00"][..],
        &["reprocess"],
        &["reprocess", "1", "2", "--edit", "x.hl7"],
        &["reprocess", "1", "--errors"],
        &["reprocess", "--destination", "pharmacy"],
        &["reprocess", "one"],
        &["messages", "discard", "1"],
        &["status", "--token"],
    ] {
        let run = h.hl7(usage);
        assert_eq!(run.code, Some(2), "{usage:?}: {}", run.stderr);
    }
    let run = hl7(
        &["status", "--admin", "https://127.0.0.1:1"],
        &[("HL7_ADMIN_TOKEN", TOKEN)],
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--tls-ca"), "{}", run.stderr);

    let help = hl7(&["reprocess", "--help"], &[]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("  5  unauthorized"), "{}", help.stdout);
    let help = hl7(&["--help"], &[]);
    for command in ["status", "messages", "reprocess", "queue"] {
        assert!(
            help.stdout.contains(&format!("  {command} ")),
            "{}",
            help.stdout
        );
    }
}

/// `--admin https://...` with `--tls-ca`, to an endpoint served with `AdminConfig::tls`.
#[test]
fn https_with_a_ca() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (ca, rogue, tls) = pki(dir.path());
    let h = Hospital::start_with(|config| config.tls(tls));
    let url = h.url.replace("http://", "https://");
    let run = hl7(
        &[
            "status",
            "--admin",
            &url,
            "--tls-ca",
            &ca,
            "--token-file",
            &h.token_file,
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("engine at "), "{}", run.stdout);

    let run = hl7(
        &[
            "status",
            "--admin",
            &url,
            "--tls-ca",
            &rogue,
            "--token-file",
            &h.token_file,
        ],
        &[],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let run = hl7(
        &[
            "status",
            "--admin",
            &h.url,
            "--token-file",
            &h.token_file,
            "--timeout",
            "10s",
        ],
        &[],
    );
    assert_eq!(
        run.code,
        Some(3),
        "plain HTTP to a TLS endpoint: {}",
        run.stderr
    );
}
