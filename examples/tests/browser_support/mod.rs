//! The dashboard test's harness: the processes it starts (the engine, chromedriver), plain HTTP
//! against the admin endpoint, and a browser session that waits for what the page shows.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

/// How long any one step may take before the test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(90);

// ----- processes ------------------------------------------------------------------------------

/// `target/test-artifacts/`.
pub(crate) fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// A program on `PATH`, else at one of `fallbacks`; the test fails loudly without it.
pub(crate) fn program(names: &[&str], fallbacks: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    for fallback in fallbacks {
        if Path::new(fallback).is_file() {
            return PathBuf::from(fallback);
        }
    }
    panic!(
        "the dashboard browser test needs {} (looked on PATH and at {fallbacks:?}).\n\
         Install headless Chromium and its WebDriver: \
         `apt-get install -y --no-install-recommends chromium chromium-driver` \
         (.ci/run does this in CI).",
        names.join(" or ")
    );
}

/// A child process in a process group of its own, killed with everything it started (the
/// browser, for chromedriver) when dropped, the test passed or not; its output goes to `log`.
pub(crate) struct Process {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Process {
        use std::os::unix::process::CommandExt;
        let out = File::create(&log).expect("create a log file");
        let err = out.try_clone().expect("clone the log file");
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process { name, child, log }
    }

    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}); its output:\n{}",
                self.name,
                tail(&self.log)
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The group's id is the child's pid: this group, nothing else.
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{}", self.child.id()))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

pub(crate) fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}

/// A plain HTTP/1.1 GET; the status code and body.
pub(crate) fn http_get(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )?;
    // Read the head, then as much body as it announces (chromedriver keeps the connection
    // open whatever `Connection: close` says).
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, mut body) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&buf[..n]);
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).into_owned();
            break (head, answer[end + 4..].to_vec());
        }
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while body.len() < length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok((status, body))
}

/// Waits until `addr` answers `path` with 200, while `process` runs.
pub(crate) fn wait_http(process: &mut Process, addr: SocketAddr, path: &str, token: Option<&str>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        process.assert_running();
        if let Ok((200, _)) = http_get(addr, path, token) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not answer {path} on {addr}; its output:\n{}",
            process.name,
            tail(&process.log)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

// ----- the browser ------------------------------------------------------------------------------

pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) base: String,
    pub(crate) engine_log: PathBuf,
}

impl Browser {
    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns something other than `null`, `false` or `undefined`.
    pub(crate) async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.js(script).await;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() > deadline {
                self.screenshot("dashboard-failure.png").await;
                panic!(
                    "waited {PATIENCE:?} for: {what}\npage text:\n{}\nengine output:\n{}",
                    self.js("return document.body.innerText").await,
                    tail(&self.engine_log)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        self.element(css).await.click().await.expect(css);
    }

    pub(crate) async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.until(
            &format!("`{css}` to be shown"),
            &format!(
                "const e = document.querySelector({}); return !!e && e.offsetParent !== null;",
                json!(css)
            ),
        )
        .await;
        self.client.find(Locator::Css(css)).await.expect(css)
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let input = self.element(css).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let path = artifacts().join(name);
        match self.client.screenshot().await {
            Ok(png) => std::fs::write(&path, png).expect("write the screenshot"),
            Err(e) => eprintln!("no screenshot {name}: {e}"),
        }
        path
    }
}
