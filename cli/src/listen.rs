//! `hl7 listen`: a test MLLP receiver that answers every message with the ACK code it is told.
//!
//! Each message is first kept (a numbered file in `--out`, a line in `--sink-log`) and only
//! then acknowledged, so "acknowledged" implies "kept", which is what the crash tests' checker
//! compares against the sender's log. If keeping it fails the answer is `AE` whatever `--ack`
//! says. Enhanced-mode messages (MSH-15 or MSH-16 valued) get the accept code of the same
//! meaning (`CA`, `CE`, `CR`). The console shows one line per message (time, peer, MSH-9,
//! MSH-10, the code sent, the file), never a message body: bodies carry PHI.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use hl7_runtime::ack::{AckBuilder, AckCode, Clock, ControlIds, Mode, SequenceIds, SystemClock};
use hl7_runtime::er7::{decode_bytes, encode_text, Charset, Message, ParseError};
use hl7_runtime::transport::{Handler, ListenerConfig, MllpListener, PeerInfo, Reply};
use sha2::{Digest, Sha256};

use crate::net;
use crate::{report, tls, Status};

/// What `hl7 listen` was asked to do.
#[derive(Debug)]
pub(crate) struct Options {
    /// Address to bind.
    pub(crate) bind: IpAddr,
    /// Port to bind; 0 for any free port (the one chosen is printed).
    pub(crate) port: u16,
    /// Folder to keep each message in, as a numbered file.
    pub(crate) out: Option<PathBuf>,
    /// A file to append `MSH-10<TAB>sha256` to for every message received.
    pub(crate) sink_log: Option<PathBuf>,
    /// The code of every ACK (original mode): `AA`, `AE` or `AR`.
    pub(crate) ack: AckCode,
    /// No line per message.
    pub(crate) quiet: bool,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// TLS, when `--tls-cert` is given.
    pub(crate) tls: tls::ServerArgs,
}

/// Runs `hl7 listen` until Ctrl-C or SIGTERM.
pub(crate) fn run(options: &Options) -> io::Result<Status> {
    let receiver = match Receiver::new(options) {
        Ok(receiver) => receiver,
        Err(err) => {
            report(err);
            return Ok(Status::Failed);
        }
    };
    let tls = match options.tls.build() {
        Ok(tls) => tls,
        Err(err) => {
            report(err);
            return Ok(Status::Failed);
        }
    };
    net::single_thread_runtime()?.block_on(async {
        let addr = SocketAddr::new(options.bind, options.port);
        let mut config = ListenerConfig::default().with_max_connections(options.max_connections);
        if let Some(tls) = tls {
            config = config.with_tls(tls);
        }
        let listener = match MllpListener::bind(addr, config).await {
            Ok(listener) => listener,
            Err(err) => {
                report(format_args!("cannot listen on {addr}: {err}"));
                return Ok(Status::Failed);
            }
        };
        let local = listener.local_addr()?;
        let shutdown = net::shutdown_signal()?;
        // Tests and scripts wait for this line to know the port.
        let over = if listener.config().tls.is_some() {
            " (MLLP over TLS)"
        } else {
            ""
        };
        eprintln!("listening on {local}{over}");
        let receiver = std::sync::Arc::new(receiver);
        let served = SharedReceiver(std::sync::Arc::clone(&receiver));
        listener.serve_with_shutdown(served, shutdown).await?;
        receiver.finish()?;
        let n = receiver.received.load(Ordering::Relaxed);
        eprintln!("received {n} message{}", if n == 1 { "" } else { "s" });
        Ok(Status::Success)
    })
}

/// The numbered files of `--out`: `000001.hl7`, `000002.hl7`, ... continuing after the
/// highest number already there, so a restarted receiver keeps every earlier delivery.
#[derive(Debug)]
struct OutDir {
    dir: PathBuf,
    next: AtomicU64,
}

impl OutDir {
    fn open(dir: &Path) -> Result<OutDir, String> {
        fs::create_dir_all(dir)
            .map_err(|err| format!("cannot create `{}`: {err}", dir.display()))?;
        let entries =
            fs::read_dir(dir).map_err(|err| format!("cannot read `{}`: {err}", dir.display()))?;
        let highest = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                name.to_str()?.strip_suffix(".hl7")?.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        Ok(OutDir {
            dir: dir.to_owned(),
            next: AtomicU64::new(highest + 1),
        })
    }

    /// Writes `message` to the next numbered file and returns its name. Written under a
    /// temporary name and renamed, so a file with a number is always whole even if the
    /// receiver is killed mid-write.
    async fn keep(&self, message: Bytes) -> io::Result<String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{n:06}.hl7");
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        tokio::task::spawn_blocking(move || {
            fs::write(&tmp, &message)?;
            fs::rename(&tmp, &path)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(name)
    }
}

/// The receiver's state, shared by every connection.
#[derive(Debug)]
struct Receiver {
    ack: AckCode,
    ids: SequenceIds,
    out: Option<OutDir>,
    sink_log: Option<Mutex<BufWriter<File>>>,
    quiet: bool,
    received: AtomicU64,
}

/// [`Receiver`] behind an `Arc`, so `run` still has it after the listener is done.
struct SharedReceiver(std::sync::Arc<Receiver>);

impl Handler for SharedReceiver {
    fn handle(
        &self,
        message: Bytes,
        peer: PeerInfo,
    ) -> impl std::future::Future<Output = Reply> + Send {
        let receiver = std::sync::Arc::clone(&self.0);
        async move { receiver.receive(message, peer).await }
    }
}

/// What the console line says about a message.
struct Seen {
    message_type: String,
    control_id: String,
}

impl Receiver {
    fn new(options: &Options) -> Result<Receiver, String> {
        let out = options.out.as_deref().map(OutDir::open).transpose()?;
        let sink_log = match &options.sink_log {
            Some(path) => {
                let file = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| format!("cannot open `{}`: {err}", path.display()))?;
                Some(Mutex::new(BufWriter::new(file)))
            }
            None => None,
        };
        Ok(Receiver {
            ack: options.ack,
            ids: SequenceIds::per_run("L", SystemClock.now()),
            out,
            sink_log,
            quiet: options.quiet,
            received: AtomicU64::new(0),
        })
    }

    async fn receive(&self, message: Bytes, peer: PeerInfo) -> Reply {
        self.received.fetch_add(1, Ordering::Relaxed);
        let at = SystemClock.now();
        let decoded = decode_bytes(&message);
        let parsed = decoded
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|d| Message::parse(&d.text));
        let seen = match &parsed {
            Ok(m) => Seen {
                message_type: m.msh().field(9).map_or("", |f| f.raw()).to_owned(),
                control_id: m.control_id().unwrap_or_default().to_owned(),
            },
            Err(_) => Seen {
                message_type: "?".to_owned(),
                control_id: String::new(),
            },
        };
        // Keep it first: an ACK promises the message is here.
        let kept = self.keep(&message, &seen.control_id).await;
        let charset = decoded.as_ref().map_or(Charset::Utf8, |d| d.charset);
        let (code, ack) = match (&parsed, &kept) {
            (Ok(inbound), Ok(_)) => {
                let code = self.code_for(inbound);
                let mut builder = AckBuilder::new(inbound).code(code);
                if !code.is_positive() {
                    builder = builder.internal_error(format!(
                        "hl7 listen answers {} to every message",
                        self.ack
                    ));
                }
                (code, self.finish_ack(builder, at))
            }
            (Ok(inbound), Err(err)) => {
                let code = if Mode::of(inbound).is_enhanced() {
                    AckCode::CE
                } else {
                    AckCode::AE
                };
                let builder = AckBuilder::new(inbound)
                    .code(code)
                    .internal_error(format!("the message could not be kept: {err}"));
                (code, self.finish_ack(builder, at))
            }
            (Err(err), _) => {
                let builder = AckBuilder::for_raw(&message)
                    .code(AckCode::AE)
                    .parse_error(err);
                (AckCode::AE, self.finish_ack(builder, at))
            }
        };
        self.print(at, &peer, &seen, code, &kept, parsed.as_ref().err());
        let bytes = match encode_text(&ack, charset) {
            Ok(bytes) => bytes.into_owned(),
            Err(_) => ack.into_bytes(),
        };
        Reply::Message(Bytes::from(bytes))
    }

    /// `--ack`, as an accept code for an enhanced-mode message.
    fn code_for(&self, inbound: &Message<'_>) -> AckCode {
        if !Mode::of(inbound).is_enhanced() {
            return self.ack;
        }
        match self.ack {
            AckCode::AA | AckCode::CA => AckCode::CA,
            AckCode::AE | AckCode::CE => AckCode::CE,
            AckCode::AR | AckCode::CR => AckCode::CR,
        }
    }

    fn finish_ack(&self, builder: AckBuilder<'_>, at: hl7_runtime::ack::Timestamp) -> String {
        builder.control_id(self.ids.next()).timestamp(at).build()
    }

    /// Writes the message to `--out` and its line to `--sink-log`; the file name, if any.
    async fn keep(&self, message: &Bytes, control_id: &str) -> io::Result<Option<String>> {
        let name = match &self.out {
            Some(out) => Some(out.keep(message.clone()).await?),
            None => None,
        };
        if let Some(log) = &self.sink_log {
            let hash = Sha256::digest(message);
            let mut log = log
                .lock()
                .map_err(|_| io::Error::other("sink log poisoned"))?;
            writeln!(log, "{control_id}\t{}", hex(&hash))?;
            // Flushed per message: the log must hold every message acknowledged, even if
            // this process is killed right after the ACK.
            log.flush()?;
        }
        Ok(name)
    }

    /// `2024-05-01T12:00:00.123Z 127.0.0.1:50412 ADT^A01^ADT_A01 MSG1 AA 000001.hl7`
    fn print(
        &self,
        at: hl7_runtime::ack::Timestamp,
        peer: &PeerInfo,
        seen: &Seen,
        code: AckCode,
        kept: &io::Result<Option<String>>,
        parse_error: Option<&ParseError>,
    ) {
        if let Err(err) = kept {
            report(format_args!("cannot keep a message: {err}"));
        }
        if self.quiet {
            return;
        }
        let peer = peer.addr.map_or_else(|| "?".to_owned(), |a| a.to_string());
        let mut line = format!(
            "{} {peer} {} {} {code}",
            iso(at),
            or_dash(&seen.message_type),
            or_dash(&seen.control_id)
        );
        if let Ok(Some(name)) = kept {
            line.push(' ');
            line.push_str(name);
        }
        if let Some(err) = parse_error {
            // The error names a place in the message, never more than a few bytes of it.
            line.push_str(&format!(" (unreadable: {err})"));
        }
        // A closed stdout must not stop the receiver.
        let _ = writeln!(io::stdout().lock(), "{line}");
    }

    /// Flushes the sink log.
    fn finish(&self) -> io::Result<()> {
        if let Some(log) = &self.sink_log {
            if let Ok(mut log) = log.lock() {
                log.flush()?;
            }
        }
        Ok(())
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "-"
    } else {
        text
    }
}

/// Lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `2024-05-01T12:00:00.123Z`: the HL7 timestamp in the ISO 8601 form a console reader
/// expects.
fn iso(at: hl7_runtime::ack::Timestamp) -> String {
    let dtm = at.to_string();
    // `YYYYMMDDHHMMSS.SSS+0000`, always ASCII.
    match (dtm.get(0..4), dtm.get(4..6), dtm.get(6..8)) {
        (Some(y), Some(mo), Some(d)) => format!(
            "{y}-{mo}-{d}T{}:{}:{}Z",
            dtm.get(8..10).unwrap_or("00"),
            dtm.get(10..12).unwrap_or("00"),
            dtm.get(12..18).unwrap_or("00.000"),
        ),
        _ => dtm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hl7_runtime::ack::Timestamp;

    #[test]
    fn iso_times() {
        assert_eq!(
            iso(Timestamp::from_unix_millis(1_714_564_800_123)),
            "2024-05-01T12:00:00.123Z"
        );
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
    }
}
