//! Usage and input errors: a message on stderr, a non-zero exit code, never a panic.

mod common;

use common::{hl7, message};

#[test]
fn an_unreadable_file() {
    let run = hl7(&["inspect", "no/such/file.hl7"]);
    assert_eq!(run.code, Some(2));
    assert_eq!(run.stdout, b"");
    assert!(
        run.stderr
            .starts_with("error: cannot read `no/such/file.hl7`: "),
        "{}",
        run.stderr
    );

    // A folder is not a file either; the other files are still shown.
    let ack = message("hapi-hl7v2/ACK_v22_crlf.hl7");
    let run = hl7(&["inspect", "cli", &ack]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.starts_with("error: cannot read `cli`: "),
        "{}",
        run.stderr
    );
    assert!(run
        .stdout()
        .contains(": message 1 (MSH-10 = 2059434): ACK, HL7 2.2\n"));
}

#[test]
fn an_unknown_subcommand_or_flag() {
    let run = hl7(&["frobnicate"]);
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        run.stderr
    );

    let run = hl7(&["inspect", "--frob", "x.hl7"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("--frob"), "{}", run.stderr);

    let run = hl7(&["validate", "x.hl7"]);
    assert_eq!(run.code, Some(2), "--profile is required");
    assert!(run.stderr.contains("--profile"), "{}", run.stderr);

    let run = hl7(&[]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("Usage: hl7 <COMMAND>"),
        "{}",
        run.stderr
    );
}

#[test]
fn help_succeeds() {
    let run = hl7(&["--help"]);
    assert_eq!(run.code, Some(0));
    let out = run.stdout();
    for command in ["inspect", "validate", "codegen"] {
        assert!(out.contains(command), "{out}");
    }
}

#[test]
fn er7_errors_are_located() {
    // Not a message at all.
    let run = hl7(&["inspect", "cli/Cargo.toml"]);
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr,
        "error: cli/Cargo.toml: message does not start with MSH, FHS or BHS \
         (found \"[package\") at byte 0\n"
    );

    // A batch whose structure is broken: the whole file is refused, located in the file.
    let run = hl7(&[
        "inspect",
        &message("python-hl7/bad_batch_nested_BHS.batch.hl7"),
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.ends_with(
            "bad_batch_nested_BHS.batch.hl7: unexpected BHS segment: nested batch header: \
             the open batch has no BTS at BHS(4) @ byte 183\n"
        ),
        "{}",
        run.stderr
    );

    // An unknown MSH-18 character set.
    let run = hl7(&[
        "inspect",
        "--er7",
        &message("hapi-hl7v2/ORU_R01_v24_repeating_MSH18.hl7"),
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("unknown character set \"x\" in MSH-18 at MSH(1)-18[1] @ byte 82"),
        "{}",
        run.stderr
    );
}
