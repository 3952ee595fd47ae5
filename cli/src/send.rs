//! `hl7 send`: every message of the files over MLLP, one at a time, each waiting for its ACK.
//!
//! One line per message on stdout (`file: message 2 (MSH-10 = X): AE: 101 at PID-3: ...`),
//! a summary on stderr. The exit code is the gravest outcome ([`NetStatus`]). Messages go in
//! file order on one connection, so the first transport failure stops the run: sending the
//! next message after one whose fate is unknown would break the order a receiver relies on
//! (an A08 must not overtake its A01). A message that does not parse is not sent: without a
//! readable MSH-10 its ACK cannot be matched.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hl7_runtime::ack::AckCode;
use hl7_runtime::er7::encode_text;
use hl7_runtime::transport::{ClientConfig, Connect, MllpClient, TcpConnector};

use crate::input::{describe, Input};
use crate::net::{self, exchange, NetStatus};
use crate::{report, tls};

/// What `hl7 send` was asked to do.
#[derive(Debug)]
pub(crate) struct Options {
    /// `HOST:PORT`.
    pub(crate) to: String,
    /// Message files, `-` for standard input.
    pub(crate) files: Vec<PathBuf>,
    /// Time to wait for each ACK.
    pub(crate) response_timeout: Duration,
    /// Time to wait for the connection (and the TLS handshake).
    pub(crate) connect_timeout: Duration,
    /// TLS, when `--tls-ca` is given.
    pub(crate) tls: tls::ClientArgs,
}

/// Runs `hl7 send`.
pub(crate) fn run(options: &Options, out: &mut dyn Write) -> io::Result<NetStatus> {
    net::single_thread_runtime()?.block_on(send_all(options, out))
}

/// Counts for the summary line.
#[derive(Debug, Default)]
struct Tally {
    acks: BTreeMap<&'static str, u64>,
    failed: u64,
    unreadable: u64,
}

impl Tally {
    fn sent(&self) -> u64 {
        self.acks.values().sum::<u64>() + self.failed
    }
}

async fn send_all(options: &Options, out: &mut dyn Write) -> io::Result<NetStatus> {
    let tls = match options.tls.build(&options.to) {
        Ok(tls) => tls,
        Err(err) => {
            report(err);
            return Ok(NetStatus::Input);
        }
    };
    let tcp = match TcpConnector::resolve(options.to.as_str()).await {
        Ok(connector) => connector,
        Err(err) => {
            report(format_args!("cannot resolve `{}`: {err}", options.to));
            return Ok(NetStatus::Transport);
        }
    };
    let config = ClientConfig::default()
        .with_response_timeout(options.response_timeout)
        .with_connect_timeout(options.connect_timeout);
    match tls {
        None => send_with(MllpClient::with_connector(tcp, config), options, out).await,
        Some(tls) => match tls.connector(tcp) {
            Ok(connector) => {
                send_with(MllpClient::with_connector(connector, config), options, out).await
            }
            Err(err) => {
                report(err);
                Ok(NetStatus::Input)
            }
        },
    }
}

/// Sends every message of the files with `client`, in order.
async fn send_with<C: Connect>(
    mut client: MllpClient<C>,
    options: &Options,
    out: &mut dyn Write,
) -> io::Result<NetStatus> {
    let mut status = NetStatus::Accepted;
    let mut tally = Tally::default();
    let mut progress = Progress::new();
    'files: for path in &options.files {
        let input = match Input::read_or_stdin(path) {
            Ok(input) => input,
            Err(err) => {
                report(err);
                tally.unreadable += 1;
                status = status.max(NetStatus::Input);
                continue;
            }
        };
        let entries = match input.messages() {
            Ok(entries) => entries,
            Err(err) => {
                report(err);
                tally.unreadable += 1;
                status = status.max(NetStatus::Input);
                continue;
            }
        };
        for (number, parsed) in entries {
            let message = match parsed {
                Ok(message) => message,
                Err(err) => {
                    let what = describe(number, None);
                    report(format_args!("{}: {what}: {err}; not sent", input.path));
                    tally.unreadable += 1;
                    status = status.max(NetStatus::Input);
                    continue;
                }
            };
            let what = describe(number, Some(&message));
            let text = message.encode();
            let bytes = match encode_text(&text, input.charset) {
                Ok(bytes) => bytes,
                Err(err) => {
                    report(format_args!("{}: {what}: {err}; not sent", input.path));
                    tally.unreadable += 1;
                    status = status.max(NetStatus::Input);
                    continue;
                }
            };
            let control_id = message.control_id().unwrap_or_default();
            match exchange(&mut client, &bytes, control_id).await {
                Ok(ack) => {
                    let details = ack.details();
                    let sep = if details.is_empty() { "" } else { ": " };
                    writeln!(out, "{}: {what}: {}{sep}{details}", input.path, ack.code)?;
                    *tally.acks.entry(ack.code.as_str()).or_default() += 1;
                    status = status.max(NetStatus::of(ack.code));
                }
                Err(failure) => {
                    writeln!(out, "{}: {what}: no ACK: {failure}", input.path)?;
                    tally.failed += 1;
                    status = status.max(NetStatus::Transport);
                    out.flush()?;
                    progress.clear();
                    report("stopped at the first transport failure: the messages after it were not sent");
                    break 'files;
                }
            }
            out.flush()?;
            progress.sent(tally.sent());
        }
    }
    progress.clear();
    eprintln!("{}", summary(&tally));
    Ok(status)
}

/// `sent 3 messages: 2 AA, 1 AE; 1 not acknowledged; 1 not readable`.
fn summary(tally: &Tally) -> String {
    let sent = tally.sent();
    let mut line = format!("sent {sent} message{}", if sent == 1 { "" } else { "s" });
    // Table 0008 order, not alphabetical.
    let codes = [
        AckCode::AA,
        AckCode::AE,
        AckCode::AR,
        AckCode::CA,
        AckCode::CE,
        AckCode::CR,
    ];
    let acks: Vec<String> = codes
        .iter()
        .filter_map(|code| {
            let n = tally.acks.get(code.as_str())?;
            Some(format!("{n} {code}"))
        })
        .collect();
    if !acks.is_empty() {
        line.push_str(": ");
        line.push_str(&acks.join(", "));
    }
    if tally.failed > 0 {
        line.push_str(&format!("; {} not acknowledged", tally.failed));
    }
    if tally.unreadable > 0 {
        line.push_str(&format!("; {} not readable, not sent", tally.unreadable));
    }
    line
}

/// Progress on stderr for long runs. When stdout is a terminal its lines are the progress;
/// when only stderr is, a counter is redrawn in place; when neither is (a log file), a line
/// every [`Progress::EVERY`] messages.
struct Progress {
    mode: ProgressMode,
    last_draw: Instant,
    drawn: bool,
}

#[derive(PartialEq, Eq)]
enum ProgressMode {
    None,
    Counter,
    Lines,
}

impl Progress {
    const EVERY: u64 = 1000;

    fn new() -> Progress {
        let mode = match (io::stdout().is_terminal(), io::stderr().is_terminal()) {
            (true, _) => ProgressMode::None,
            (false, true) => ProgressMode::Counter,
            (false, false) => ProgressMode::Lines,
        };
        Progress {
            mode,
            last_draw: Instant::now(),
            drawn: false,
        }
    }

    fn sent(&mut self, sent: u64) {
        match self.mode {
            ProgressMode::None => {}
            ProgressMode::Counter => {
                if self.last_draw.elapsed() >= Duration::from_millis(100) {
                    eprint!("\rsent {sent} messages");
                    self.last_draw = Instant::now();
                    self.drawn = true;
                }
            }
            ProgressMode::Lines => {
                if sent.is_multiple_of(Self::EVERY) {
                    eprintln!("sent {sent} messages");
                }
            }
        }
    }

    /// Erases the counter, so the next line starts clean.
    fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}
