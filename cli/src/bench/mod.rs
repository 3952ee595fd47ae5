//! `hl7 bench`: the load generator.
//!
//! `--concurrency` connections each send one message at a time (MLLP allows one in flight per
//! connection), wait for its ACK and record the latency, until `--duration` is over or
//! `--count` messages were sent (or Ctrl-C). Messages cycle through the corpus, each with a
//! fresh MSH-10 `B<run>-<connection>-<n>` so a receiver's duplicate check never fires, also
//! across runs. An ACK counts only if its MSA-2 is the MSH-10 sent; anything else is a
//! failure and closes the connection, as a real sender would.
//!
//! `--sender-log` writes `MSH-10<TAB>sha256` of the exact bytes of every message that got
//! `AA` or `CA`: the sender's half of the crash tests' checker (RELIABILITY.md, "Tests, with
//! numbers"), compared against what the sink received.

mod corpus;
mod report;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hl7_runtime::transport::{ClientConfig, Connect, MllpClient, TcpConnector};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::listen::hex;
use crate::net::{self, exchange, NetStatus};
use crate::{report as report_error, tls};
use corpus::Template;
use report::{code_index, Report};

/// When a run stops.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit {
    /// Start no message after this long.
    Duration(Duration),
    /// Send this many messages in all.
    Count(u64),
}

/// What `hl7 bench` was asked to do.
#[derive(Debug)]
pub(crate) struct Options {
    /// `HOST:PORT`.
    pub(crate) to: String,
    /// Connections, each with one message in flight.
    pub(crate) concurrency: usize,
    /// When to stop.
    pub(crate) limit: Limit,
    /// A message file or a folder of them; the hospital mix when `None`.
    pub(crate) corpus: Option<PathBuf>,
    /// Where to log the positively acknowledged messages.
    pub(crate) sender_log: Option<PathBuf>,
    /// Time to wait for each ACK.
    pub(crate) response_timeout: Duration,
    /// Print the report as JSON.
    pub(crate) json: bool,
    /// No progress lines.
    pub(crate) quiet: bool,
    /// TLS, when `--tls-ca` is given.
    pub(crate) tls: tls::ClientArgs,
}

/// Latencies are recorded in microseconds, up to an hour.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// Runs `hl7 bench`.
pub(crate) fn run(options: &Options, out: &mut dyn Write) -> io::Result<NetStatus> {
    let loaded = match &options.corpus {
        Some(path) => corpus::load(path),
        None => corpus::hospital_mix(),
    };
    let templates = match loaded {
        Ok(templates) => templates,
        Err(errors) => {
            for err in errors {
                report_error(err);
            }
            return Ok(NetStatus::Input);
        }
    };
    let tls = match options.tls.build(&options.to) {
        Ok(tls) => tls,
        Err(err) => {
            report_error(err);
            return Ok(NetStatus::Input);
        }
    };
    let sender_log = match &options.sender_log {
        Some(path) => match File::create(path) {
            Ok(file) => Some(Mutex::new(BufWriter::new(file))),
            Err(err) => {
                report_error(format_args!("cannot create `{}`: {err}", path.display()));
                return Ok(NetStatus::Input);
            }
        },
        None => None,
    };
    let latency = Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_US, 3)
        .map_err(|err| io::Error::other(err.to_string()))?;
    let shared = Arc::new(Shared {
        templates,
        limit: options.limit,
        prefix: run_prefix(),
        started: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        acks: Default::default(),
        failed: AtomicU64::new(0),
        failures: Mutex::new(BTreeMap::new()),
        bytes_sent: AtomicU64::new(0),
        sender_log,
    });
    let report = net::runtime()?.block_on(async {
        let tcp = match TcpConnector::resolve(options.to.as_str()).await {
            Ok(tcp) => tcp,
            Err(err) => {
                report_error(format_args!("cannot resolve `{}`: {err}", options.to));
                return Ok(Err(NetStatus::Transport));
            }
        };
        let shared = Arc::clone(&shared);
        match &tls {
            None => drive(options, shared, latency, tcp).await.map(Ok),
            Some(tls) => match tls.connector(tcp) {
                Ok(connector) => drive(options, shared, latency, connector).await.map(Ok),
                Err(err) => {
                    report_error(err);
                    Ok(Err(NetStatus::Input))
                }
            },
        }
    })?;
    let report = match report {
        Ok(report) => report,
        Err(status) => return Ok(status),
    };
    if let Some(log) = &shared.sender_log {
        lock(log).flush()?;
    }
    if options.json {
        let text = serde_json::to_string_pretty(&report.to_json()).map_err(io::Error::other)?;
        writeln!(out, "{text}")?;
    } else {
        report.write_text(out)?;
    }
    Ok(report.status())
}

/// What every connection shares.
struct Shared {
    templates: Vec<Template>,
    limit: Limit,
    /// `B<run>-`: this run's part of every MSH-10.
    prefix: String,
    /// Messages started (the next message's number in the corpus cycle).
    started: AtomicU64,
    /// Set on Ctrl-C or SIGTERM, and when the duration is over.
    stop: AtomicBool,
    acks: [AtomicU64; 6],
    failed: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
    bytes_sent: AtomicU64,
    sender_log: Option<Mutex<BufWriter<File>>>,
}

impl Shared {
    /// The number of the next message to send, or `None` when the run is over.
    fn next(&self) -> Option<u64> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        match self.limit {
            Limit::Count(count) if n >= count => None,
            _ => Some(n),
        }
    }

    fn acked(&self) -> u64 {
        self.acks.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }
}

/// A poisoned lock only means another connection panicked; its data is still good to write.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `B` and the start time in tenths of a second, base 36, 5 digits (wraps after 69 days):
/// short enough that `B<run>-<connection>-<n>` fits the 20 characters of MSH-10 in HL7 2.5.
fn run_prefix() -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let tenths = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() / 100);
    let mut n = (tenths % 36u128.pow(5)) as usize;
    let mut digits = [b'0'; 5];
    for d in digits.iter_mut().rev() {
        *d = DIGITS[n % 36];
        n /= 36;
    }
    format!("B{}", String::from_utf8_lossy(&digits))
}

/// Runs the connections, each with its own client over `connector`, and the progress line.
async fn drive<C>(
    options: &Options,
    shared: Arc<Shared>,
    latency: Histogram<u64>,
    connector: C,
) -> io::Result<Report>
where
    C: Connect + Clone + 'static,
    C::Stream: 'static,
{
    let signal = net::shutdown_signal()?;
    let config = ClientConfig::default().with_response_timeout(options.response_timeout);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 1..=options.concurrency {
        let client = MllpClient::with_connector(connector.clone(), config.clone());
        tasks.spawn(connection(
            index,
            client,
            Arc::clone(&shared),
            latency.clone(),
        ));
    }
    let deadline = match options.limit {
        Limit::Duration(d) => Some(start + d),
        Limit::Count(_) => None,
    };
    let mut merged = latency;
    let mut ticker =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last_acked = 0;
    tokio::pin!(signal);
    let mut signalled = false;
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(histogram)) => {
                    // Same bounds on both sides: adding cannot fail.
                    let _ = merged.add(histogram);
                }
                Some(Err(err)) => report_error(format_args!("a connection task failed: {err}")),
                None => break,
            },
            () = async { tokio::time::sleep_until(deadline.unwrap_or(start)).await }, if deadline.is_some() && !shared.stop.load(Ordering::Relaxed) => {
                shared.stop.store(true, Ordering::Relaxed);
            }
            _ = ticker.tick() => {
                let acked = shared.acked();
                if !options.quiet {
                    eprintln!(
                        "{:>4}s  {acked} acked ({}/s), {} failed",
                        start.elapsed().as_secs(),
                        acked - last_acked,
                        shared.failed.load(Ordering::Relaxed),
                    );
                }
                last_acked = acked;
                if let Some(log) = &shared.sender_log {
                    lock(log).flush()?;
                }
            }
            () = &mut signal, if !signalled => {
                signalled = true;
                shared.stop.store(true, Ordering::Relaxed);
                eprintln!("stopping: waiting for the ACKs of the messages in flight");
            }
        }
    }
    let elapsed = start.elapsed();
    let acks = std::array::from_fn(|i| shared.acks[i].load(Ordering::Relaxed));
    let failures = lock(&shared.failures).clone();
    Ok(Report {
        target: options.to.clone(),
        concurrency: options.concurrency,
        elapsed,
        bytes_sent: shared.bytes_sent.load(Ordering::Relaxed),
        acks,
        failures,
        latency: merged,
        sender_log: options.sender_log.as_ref().map(|p| p.display().to_string()),
    })
}

/// One connection: send, wait for the ACK, record, until the run is over. Returns its
/// latencies.
async fn connection<C: Connect>(
    index: usize,
    mut client: MllpClient<C>,
    shared: Arc<Shared>,
    mut latency: Histogram<u64>,
) -> Histogram<u64> {
    let mut bytes = Vec::with_capacity(16 * 1024);
    let mut sent = 0u64;
    let mut backoff = Duration::ZERO;
    while let Some(n) = shared.next() {
        sent += 1;
        let control_id = format!("{}-{index}-{sent}", shared.prefix);
        let template = &shared.templates[(n % shared.templates.len() as u64) as usize];
        template.render(&control_id, &mut bytes);
        shared
            .bytes_sent
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let result = exchange(&mut client, &bytes, &control_id).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        match result {
            Ok(ack) => {
                backoff = Duration::ZERO;
                latency.saturating_record(micros.max(1));
                shared.acks[code_index(ack.code)].fetch_add(1, Ordering::Relaxed);
                if ack.code.is_positive() {
                    if let Some(log) = &shared.sender_log {
                        let hash = hex(&Sha256::digest(&bytes));
                        // A write error shows at the final flush.
                        let _ = writeln!(lock(log), "{control_id}\t{hash}");
                    }
                }
            }
            Err(failure) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                *lock(&shared.failures).entry(failure.kind()).or_default() += 1;
                // A receiver that is down or refusing: back off rather than spin.
                backoff = (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
                tokio::time::sleep(backoff).await;
            }
        }
    }
    latency
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_prefix_is_short() {
        let prefix = run_prefix();
        assert_eq!(prefix.len(), 6);
        assert!(prefix.starts_with('B'));
        // With 999 connections and 10^7 messages each, MSH-10 still fits 20 characters.
        assert!(format!("{prefix}-999-9999999").len() <= 20);
    }
}
