//! `hl7 send` and `hl7 bench` over TLS to `hl7 listen --tls-cert`, with certificates made at
//! test time (rcgen); none is committed.

#![cfg(unix)]

mod common;
#[path = "../../runtime/tests/tls_support/mod.rs"]
mod tls_support;

use std::path::{Path, PathBuf};

use common::hl7;
use common::listener::Listener;
use serde_json::Value;
use tls_support::Ca;

const ADT: &str = "cli/tests/fixtures/net/adt_a01.hl7";

/// Writes `<name>.pem` and `<name>.key`, a leaf of `ca` with common name `name` and SANs `sans`.
fn issue(ca: &Ca, dir: &Path, name: &str, sans: &[&str]) -> (String, String) {
    let (cert, key) = ca.issue(name, sans, false);
    (
        write(dir, &format!("{name}.pem"), &cert),
        write(dir, &format!("{name}.key"), &key),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write PEM");
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// The files of the tests: a CA, its server and client certificates, and an untrusted CA.
struct Pki {
    _dir: tempfile::TempDir,
    ca: String,
    rogue_ca: String,
    server: (String, String),
    client: (String, String),
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let ca = Ca::new("Test HL7 CA");
        let rogue = Ca::new("Rogue CA");
        Pki {
            ca: write(dir.path(), "ca.pem", &ca.pem()),
            rogue_ca: write(dir.path(), "rogue.pem", &rogue.pem()),
            server: issue(&ca, dir.path(), "engine", &["localhost", "127.0.0.1"]),
            client: issue(&ca, dir.path(), "lab", &["lab.example.org"]),
            _dir: dir,
        }
    }
}

#[test]
fn send_over_tls_checks_the_receivers_certificate() {
    let pki = Pki::new();
    let listener = Listener::start(&["--tls-cert", &pki.server.0, "--tls-key", &pki.server.1]);
    let send = |extra: &[&str]| {
        let mut args = vec!["send", "--to", &listener.addr, "--response-timeout", "60s"];
        args.extend_from_slice(extra);
        args.push(ADT);
        hl7(&args)
    };

    // The server name defaults to the host of --to, an IP address in the certificate.
    let run = send(&["--tls-ca", &pki.ca]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout(),
        format!("{ADT}: message 1 (MSH-10 = NET0001): AA\n")
    );
    let run = send(&["--tls-ca", &pki.ca, "--tls-server-name", "localhost"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    // A receiver whose certificate is not for that name, or not from a trusted CA.
    let run = send(&[
        "--tls-ca",
        &pki.ca,
        "--tls-server-name",
        "other.example.org",
    ]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(
        run.stdout().contains("no ACK: cannot connect to "),
        "{}",
        run.stdout()
    );
    let run = send(&["--tls-ca", &pki.rogue_ca]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);

    // Plain MLLP to a TLS port gets no ACK.
    let run = send(&[]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);

    let stopped = listener.stop();
    assert!(
        stopped.stderr.ends_with("received 2 messages\n"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn mutual_tls_for_send_and_bench() {
    let pki = Pki::new();
    let listener = Listener::start(&[
        "--tls-cert",
        &pki.server.0,
        "--tls-key",
        &pki.server.1,
        "--tls-client-ca",
        &pki.ca,
        "--quiet",
    ]);
    let client = [
        "--tls-cert",
        pki.client.0.as_str(),
        "--tls-key",
        pki.client.1.as_str(),
    ];

    // Without a client certificate the receiver refuses the connection.
    let run = hl7(&[
        "send",
        "--to",
        &listener.addr,
        "--response-timeout",
        "60s",
        "--tls-ca",
        &pki.ca,
        ADT,
    ]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);

    let mut args = vec![
        "send",
        "--to",
        &listener.addr,
        "--response-timeout",
        "60s",
        "--tls-ca",
        &pki.ca,
    ];
    args.extend_from_slice(&client);
    args.push(ADT);
    let run = hl7(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let mut args = vec![
        "bench",
        "--to",
        &listener.addr,
        "--count",
        "20",
        "-c",
        "2",
        "--response-timeout",
        "60s",
        "--json",
        "--tls-ca",
        &pki.ca,
    ];
    args.extend_from_slice(&client);
    let run = hl7(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value = serde_json::from_slice(&run.stdout).expect("a JSON report");
    assert_eq!(report["acked"], 20, "{report}");
    assert_eq!(report["failed"], 0, "{report}");

    let stopped = listener.stop();
    assert!(
        stopped.stderr.ends_with("received 21 messages\n"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn tls_files_are_checked_before_anything_is_sent() {
    let run = hl7(&[
        "send",
        "--to",
        "127.0.0.1:9",
        "--tls-ca",
        "no/such/ca.pem",
        ADT,
    ]);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert!(run.stderr.contains("no/such/ca.pem"), "{}", run.stderr);
    assert_eq!(run.stdout(), "");

    let run = hl7(&["listen", "--port", "0", "--tls-cert", ADT, "--tls-key", ADT]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains(ADT), "{}", run.stderr);

    // A client certificate without its key is a usage error.
    let run = hl7(&[
        "send",
        "--to",
        "127.0.0.1:9",
        "--tls-ca",
        ADT,
        "--tls-cert",
        ADT,
        ADT,
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--tls-key"), "{}", run.stderr);
}
