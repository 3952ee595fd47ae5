//! `hl7 send` against `hl7 listen` (both real child processes): exit codes by ACK code, the
//! files `listen --out` keeps byte for byte, and the transport failures that stop a run.
//!
//! No timing assertion: response timeouts are either generous (60 s, never reached) or only
//! need to expire (a receiver that never answers).

#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread;

use common::listener::{masked, Listener};
use common::{hl7, hl7_with_stdin, workspace};
use hl7_runtime::er7::batch::Batch;

const ADT: &str = "cli/tests/fixtures/net/adt_a01.hl7";
const LATIN1: &str = "cli/tests/fixtures/net/adt_a08_latin1.hl7";
const BATCH: &str = "cli/tests/fixtures/net/oru_batch.hl7";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(workspace().join(path)).expect("read a fixture")
}

/// The four fixture messages as they go on the wire: segments ended by `\r`, in the file's
/// character set. The single-message files are written that way already.
fn wire_messages() -> Vec<Vec<u8>> {
    let mut messages = vec![read(ADT), read(LATIN1)];
    let batch = String::from_utf8(read(BATCH)).expect("the batch is UTF-8");
    let batch = Batch::parse(&batch).expect("the batch parses");
    messages.extend(batch.messages.iter().map(|m| m.encode().into_bytes()));
    messages
}

/// The files in `dir`, by name.
fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read --out")
        .map(|e| {
            let e = e.expect("a directory entry");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("read a kept message"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn exit_codes_follow_the_ack_code_and_listen_keeps_the_bytes_sent() {
    for (ack, code) in [("AA", 0), ("AE", 1), ("AR", 2)] {
        let out = tempfile::tempdir().expect("a temporary folder");
        let out_arg = out.path().to_str().expect("a UTF-8 path");
        let listener = Listener::start(&["--ack", ack, "--out", out_arg]);
        let run = hl7(&[
            "send",
            "--to",
            &listener.addr,
            "--response-timeout",
            "60s",
            ADT,
            LATIN1,
            BATCH,
        ]);
        assert_eq!(run.code, Some(code), "--ack {ack}: {}", run.stderr);
        insta::assert_snapshot!(
            format!("send_{ack}"),
            format!("{}--- stderr\n{}", run.stdout(), run.stderr)
        );

        let stopped = listener.stop();
        assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
        assert!(
            stopped.stderr.ends_with("received 4 messages\n"),
            "{}",
            stopped.stderr
        );
        insta::assert_snapshot!(format!("listen_{ack}"), masked(&stopped.stdout));

        let kept = files_in(out.path());
        let names: Vec<&str> = kept.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["000001.hl7", "000002.hl7", "000003.hl7", "000004.hl7"]
        );
        for ((name, bytes), sent) in kept.iter().zip(wire_messages()) {
            assert!(*bytes == sent, "{name} differs from the message sent");
        }
    }
}

#[test]
fn stdin_and_unreadable_inputs() {
    let out = tempfile::tempdir().expect("a temporary folder");
    let out_arg = out.path().to_str().expect("a UTF-8 path");
    let listener = Listener::start(&["--out", out_arg]);
    let run = hl7_with_stdin(
        &[
            "send",
            "--to",
            &listener.addr,
            "--response-timeout",
            "60s",
            "-",
        ],
        &read(ADT),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout(), "<stdin>: message 1 (MSH-10 = NET0001): AA\n");

    // A missing file and a message that does not parse are not sent, the rest is: exit 4.
    let bad = out.path().join("bad.txt");
    std::fs::write(
        &bad,
        "MSH|^~\\&|A|B|C|D|||ADT^A01|X1|P|2.5.1\rnot a segment\r",
    )
    .expect("write a bad message");
    let run = hl7(&[
        "send",
        "--to",
        &listener.addr,
        "--response-timeout",
        "60s",
        "no/such/file.hl7",
        bad.to_str().expect("a UTF-8 path"),
        ADT,
    ]);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(
        run.stdout(),
        format!("{ADT}: message 1 (MSH-10 = NET0001): AA\n")
    );
    assert!(
        run.stderr
            .starts_with("error: cannot read `no/such/file.hl7`: "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("; not sent\n"), "{}", run.stderr);
    assert!(
        run.stderr
            .ends_with("sent 1 message: 1 AA; 2 not readable, not sent\n"),
        "{}",
        run.stderr
    );
    let stopped = listener.stop();
    assert!(stopped.stderr.ends_with("received 2 messages\n"));
    // The input files went to --out only: the bad message stayed local.
    assert_eq!(files_in(out.path()).len(), 3);
}

#[test]
fn no_receiver_exits_3() {
    // A port that was free a moment ago; nobody listens on it now.
    let addr = {
        let socket = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        socket.local_addr().expect("its address").to_string()
    };
    let run = hl7(&["send", "--to", &addr, ADT, BATCH]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let stdout = run.stdout();
    assert!(
        stdout.starts_with(&format!(
            "{ADT}: message 1 (MSH-10 = NET0001): no ACK: cannot connect to {addr}: "
        )),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "the run stops at the failure");
    assert!(
        run.stderr.ends_with(
            "error: stopped at the first transport failure: the messages after it were not sent\n\
             sent 1 message; 1 not acknowledged\n"
        ),
        "{}",
        run.stderr
    );
}

/// A receiver that accepts one connection and answers every frame with `answer(frame)`, or
/// never when `answer` gives `None`; the thread ends when the sender closes.
fn fake_receiver(answer: fn(&[u8]) -> Option<Vec<u8>>) -> (String, thread::JoinHandle<()>) {
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = socket.local_addr().expect("its address").to_string();
    let handle = thread::spawn(move || {
        let Ok((mut stream, _)) = socket.accept() else {
            return;
        };
        serve(&mut stream, answer);
    });
    (addr, handle)
}

fn serve(stream: &mut TcpStream, answer: fn(&[u8]) -> Option<Vec<u8>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buffer.extend_from_slice(&chunk[..n]);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\x1c\r") {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            let content = &frame[1..frame.len() - 2];
            if let Some(reply) = answer(content) {
                let mut framed = vec![0x0b];
                framed.extend_from_slice(&reply);
                framed.extend_from_slice(b"\x1c\r");
                if stream.write_all(&framed).is_err() {
                    return;
                }
            }
        }
    }
}

#[test]
fn a_receiver_that_never_answers_times_out_with_exit_3() {
    let (addr, receiver) = fake_receiver(|_| None);
    let run = hl7(&[
        "send",
        "--to",
        &addr,
        "--response-timeout",
        "1s",
        ADT,
        BATCH,
    ]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(
        run.stdout(),
        format!(
            "{ADT}: message 1 (MSH-10 = NET0001): no ACK: no response within 1s; connection closed\n"
        )
    );
    receiver.join().expect("the fake receiver ends");
}

#[test]
fn an_ack_of_another_message_is_refused_with_exit_3() {
    // Mirth #1314: an ACK whose MSA-2 is not the MSH-10 in flight is never taken as its answer.
    let (addr, receiver) = fake_receiver(|_| {
        Some(
            b"MSH|^~\\&|LAB|GH|ADMIT|GH|20240501||ACK^A01^ACK|A1|P|2.5.1\rMSA|AA|NET9999\r"
                .to_vec(),
        )
    });
    let run = hl7(&["send", "--to", &addr, "--response-timeout", "60s", ADT]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(
        run.stdout(),
        format!(
            "{ADT}: message 1 (MSH-10 = NET0001): no ACK: the ACK is for another message (MSA-2 = `NET9999`)\n"
        )
    );
    receiver.join().expect("the fake receiver ends");
}

#[test]
fn listen_answers_unreadable_bytes_with_ae_and_refuses_accept_codes() {
    let listener = Listener::start(&[]);
    let mut stream = TcpStream::connect(&listener.addr).expect("connect to hl7 listen");
    stream
        .write_all(b"\x0bthis is not HL7\x1c\r")
        .expect("send a frame");
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.ends_with(b"\x1c\r") {
        let n = stream.read(&mut chunk).expect("read the ACK");
        assert!(n > 0, "hl7 listen closed without an ACK");
        response.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&response);
    assert!(text.contains("\rMSA|AE|\r"), "{text:?}");
    assert!(text.contains("\rERR|"), "{text:?}");
    drop(stream);
    let stopped = listener.stop();
    assert_eq!(stopped.code, Some(0));
    let line = masked(&stopped.stdout);
    assert!(
        line.starts_with("<time> 127.0.0.1:<port> ? - AE (unreadable: "),
        "{line}"
    );
    assert!(
        !line.contains("this is not"),
        "no message body on the console"
    );

    let run = hl7(&["listen", "--port", "0", "--ack", "CA"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("`CA` is an accept code"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_documents_the_exit_codes() {
    for command in ["send", "bench"] {
        let run = hl7(&[command, "--help"]);
        assert_eq!(run.code, Some(0));
        let out = run.stdout();
        assert!(out.contains("Exit codes"), "{out}");
        assert!(out.contains("3  transport error"), "{out}");
    }
}
