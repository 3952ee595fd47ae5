//! `hl7 listen` in a child process on a free port, stopped (and killed if need be) on drop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::workspace;

/// How long the listener may take to open its port: generous, the machine is shared.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `hl7 listen --port 0 ...`.
pub(crate) struct Listener {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, from its `listening on` line.
    pub(crate) addr: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// What a stopped listener printed.
pub(crate) struct Stopped {
    /// The exit code (`None` when killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output: one line per message.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

impl Listener {
    /// Starts `hl7 listen --port 0 args...` in the workspace root and waits for its port.
    pub(crate) fn start(args: &[&str]) -> Listener {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hl7"))
            .args(["listen", "--port", "0"])
            .args(args)
            .current_dir(workspace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hl7 listen");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        let stderr = thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut all = String::new();
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                // `listening on ADDR` or `listening on ADDR (MLLP over TLS)`.
                let addr = line.strip_prefix("listening on ");
                if let Some(addr) = addr.and_then(|rest| rest.split_whitespace().next()) {
                    let _ = tx.send(addr.to_owned());
                }
                all.push_str(&line);
                line.clear();
            }
            all
        });
        let stdout = thread::spawn(move || {
            let mut all = String::new();
            let _ = BufReader::new(stdout).read_to_string(&mut all);
            all
        });
        let mut listener = Listener {
            child: Some(child),
            addr: String::new(),
            stdout: Some(stdout),
            stderr: Some(stderr),
        };
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => listener.addr = addr,
            Err(_) => {
                let stopped = listener.kill();
                panic!(
                    "hl7 listen did not start (exit {:?}):\n{}",
                    stopped.code, stopped.stderr
                );
            }
        }
        listener
    }

    /// Stops it with SIGTERM, as a service manager would, and returns what it printed.
    pub(crate) fn stop(mut self) -> Stopped {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -TERM failed");
        }
        self.wait()
    }

    fn kill(&mut self) -> Stopped {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
        self.wait()
    }

    fn wait(&mut self) -> Stopped {
        let code = self
            .child
            .take()
            .map(|mut child| child.wait().expect("wait for hl7 listen").code())
            .unwrap_or_default();
        let join = |handle: Option<JoinHandle<String>>| {
            handle
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        Stopped {
            code,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The listener's lines with the time and the peer's port masked: `<time> <peer> ...`.
pub(crate) fn masked(stdout: &str) -> String {
    stdout
        .lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let (_time, peer, rest) = (parts.next(), parts.next(), parts.next());
            let host = peer
                .and_then(|p| p.rsplit_once(':'))
                .map_or("?", |(host, _)| host);
            format!("<time> {host}:<port> {}\n", rest.unwrap_or(""))
        })
        .collect()
}
