//! Running the built `hl7` binary from the workspace root, so paths in its output are relative.

#![allow(dead_code)]

pub(crate) mod listener;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The message fixtures, relative to the workspace root.
pub(crate) const MESSAGES: &str = "runtime/tests/fixtures/messages";

/// What one run of `hl7` gave.
pub(crate) struct Run {
    /// The exit code (`None` when killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output, raw.
    pub(crate) stdout: Vec<u8>,
    /// Standard error, as text.
    pub(crate) stderr: String,
}

impl Run {
    /// Standard output as text.
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Checks that nothing panicked.
    pub(crate) fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "hl7 panicked:\n{}",
            self.stderr
        );
        assert!(self.code.is_some(), "hl7 was killed by a signal");
    }
}

/// Runs `hl7 args...` in the workspace root.
pub(crate) fn hl7(args: &[&str]) -> Run {
    hl7_env(args, &[])
}

/// Runs `hl7 args...` in the workspace root with nothing from the caller's admin environment
/// but `env`.
pub(crate) fn hl7_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_hl7"))
        .args(args)
        .env_remove("HL7_ADMIN_TOKEN")
        .env_remove("HL7_ADMIN_URL")
        .envs(env.iter().copied())
        .current_dir(workspace())
        .output()
        .expect("run the hl7 binary");
    let run = Run {
        code: status.code(),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    run.assert_no_panic();
    run
}

/// Runs `hl7 args...` in the workspace root with `input` on its standard input.
pub(crate) fn hl7_with_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hl7"))
        .args(args)
        .current_dir(workspace())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the hl7 binary");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("write hl7's stdin");
    drop(stdin);
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for hl7");
    let run = Run {
        code: status.code(),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    run.assert_no_panic();
    run
}

/// A fixture message's path relative to the workspace root.
pub(crate) fn message(name: &str) -> String {
    format!("{MESSAGES}/{name}")
}
