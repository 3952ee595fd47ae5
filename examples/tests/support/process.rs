//! The engine under test: the real `hospital` binary as a child process, killed and restarted
//! on the same store file and port. Its stdout and stderr go to files (one pair for all its
//! starts); their tails are printed when a test fails. The child is killed when the guard is
//! dropped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What the engine is started with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The SQLite file.
    pub store: PathBuf,
    /// The inbound MLLP address.
    pub listen: SocketAddr,
    /// EHR, billing and pharmacy sinks.
    pub destinations: [SocketAddr; 3],
    /// Where stdout and stderr go.
    pub log_dir: PathBuf,
}

/// A free loopback port (bound, then released; the engine binds it again).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

/// The `hospital` engine as a child process.
#[derive(Debug)]
pub struct EngineProcess {
    config: EngineConfig,
    child: Option<Child>,
    starts: usize,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl EngineProcess {
    /// Nothing runs until [`EngineProcess::start`].
    pub fn new(config: EngineConfig) -> EngineProcess {
        let stdout = config.log_dir.join("engine.stdout");
        let stderr = config.log_dir.join("engine.stderr");
        EngineProcess {
            config,
            child: None,
            starts: 0,
            stdout,
            stderr,
        }
    }

    /// The inbound address.
    pub fn addr(&self) -> SocketAddr {
        self.config.listen
    }

    /// Moves the inbound address (before a start), when the free port found was taken.
    pub fn set_addr(&mut self, listen: SocketAddr) {
        self.config.listen = listen;
    }

    /// The store file.
    pub fn store(&self) -> &Path {
        &self.config.store
    }

    /// The running engine's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The running engine's resident memory, in KiB (`None` when it is not running).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// How many times it was started.
    pub fn starts(&self) -> usize {
        self.starts
    }

    /// Starts the engine (with `HL7_FAILPOINT` set when `failpoint` is given).
    pub fn start(&mut self, failpoint: Option<&str>) {
        assert!(self.child.is_none(), "the engine is already running");
        self.starts += 1;
        let banner = format!(
            "\n===== start #{} (HL7_FAILPOINT={}) =====\n",
            self.starts,
            failpoint.unwrap_or("-")
        );
        let out = append(&self.stdout, &banner);
        let err = append(&self.stderr, &banner);
        let c = &self.config;
        let mut command = Command::new(env!("CARGO_BIN_EXE_hospital"));
        command
            .arg("--listen")
            .arg(c.listen.to_string())
            .arg("--store")
            .arg(format!("sqlite:{}", c.store.display()))
            .arg("--ehr")
            .arg(c.destinations[0].to_string())
            .arg("--billing")
            .arg(c.destinations[1].to_string())
            .arg("--pharmacy")
            .arg(c.destinations[2].to_string())
            // Generous: the sinks share two cores with everything else. A timeout would be a
            // retry (an identical duplicate), not a loss, but it would blur the dup bound.
            .args(["--response-timeout-ms", "30000"])
            .env("RUST_LOG", "info")
            .env_remove("HL7_FAILPOINT")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(fp) = failpoint {
            command.env("HL7_FAILPOINT", fp);
        }
        self.child = Some(command.spawn().expect("spawn the hospital engine"));
    }

    /// Waits until this start printed that it listens; false if it exited or `timeout` passed.
    pub async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            let this_start = text.rsplit("===== start #").next().unwrap_or_default();
            if this_start.contains("hospital engine listening on") {
                return true;
            }
            if self.try_exit().is_some() || Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `timeout` for the exit; `Err` with how long it took otherwise
    /// (the child is then killed).
    pub async fn terminate(&mut self, timeout: Duration) -> Result<(ExitStatus, Duration), String> {
        // A signal that arrives before the engine installed its handler kills it outright:
        // wait until this start is listening (it installs the handler before it listens).
        if !self.wait_ready(timeout).await {
            return Err(format!(
                "the engine exited or did not start within {timeout:?}"
            ));
        }
        let Some(child) = self.child.as_ref() else {
            return Err("the engine is not running".into());
        };
        let pid = child.id().to_string();
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| format!("kill -TERM: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM {pid} failed: {sent}"));
        }
        match self.wait_exit(timeout).await {
            Some(status) => Ok((status, started.elapsed())),
            None => {
                self.kill();
                Err(format!("no exit within {timeout:?} of SIGTERM"))
            }
        }
    }

    /// Waits up to `timeout` for the engine to exit on its own (a failpoint).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The exit status if the child has exited (it is then reaped and forgotten).
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// Whether a child is running (not yet reaped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Occurrences of `needle` in stderr since start number `since_start` (1-based).
    pub fn stderr_count(&self, needle: &str, since_start: usize) -> usize {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let marker = format!("===== start #{since_start} ");
        let from = text.find(&marker).unwrap_or(text.len());
        text[from..].matches(needle).count()
    }

    /// The sum of the numbers after `key` (e.g. `own_claims_released=`) in stderr.
    pub fn stderr_sum(&self, key: &str) -> u64 {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        text.split(key)
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u64>().ok()
            })
            .sum()
    }

    /// The last lines of stdout and stderr.
    pub fn tails(&self) -> String {
        format!(
            "--- engine stdout (tail) ---\n{}\n--- engine stderr (tail) ---\n{}",
            tail(&self.stdout, 40),
            tail(&self.stderr, 80)
        )
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.tails());
        }
    }
}

fn append(path: &Path, banner: &str) -> File {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the engine log");
    file.write_all(banner.as_bytes())
        .expect("write the engine log");
    file
}

fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return "(none)".into();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
