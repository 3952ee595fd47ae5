//! `hl7`: the command-line tool of the framework.
//!
//! - `hl7 inspect FILE...` shows every message as a named tree (`--json`, or `--er7` to
//!   re-encode);
//! - `hl7 validate --profile P FILE...` checks every message against a profile;
//! - `hl7 codegen --site S --profile P --out DIR` runs the generator outside `build.rs`;
//! - `hl7 compat --sender S --receiver R` reports what the receiver's profile expects that
//!   the sender's conformant messages may not give it (`--format json` for a document);
//! - `hl7 send --to HOST:PORT FILE...` sends every message over MLLP and prints each ACK;
//! - `hl7 listen --port N` is a test receiver that ACKs every message with a chosen code;
//! - `hl7 bench --to HOST:PORT` is the load generator (acks/s, latency percentiles, and the
//!   sender log of the crash tests);
//! - `hl7 status`, `hl7 messages`, `hl7 reprocess` and `hl7 queue` operate a running engine
//!   through its admin API ([`ops`]; their own exit codes, [`ops::EXIT_CODES`]).
//!
//! Exit codes: 0 success, 1 a message breaks its profile (`validate`) or the receiver would
//! reject conformant messages of the sender (`compat`), 2 usage, I/O, profile load or ER7 parse
//! errors. `send` and `bench` exit by the ACKs they got ([`net::EXIT_CODES`]). Diagnostics go
//! to stderr; nothing panics on bad input.

mod bench;
mod codegen;
mod compat;
mod input;
mod inspect;
mod listen;
mod net;
mod ops;
mod response;
mod send;
mod tls;
mod validate;

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use hl7_runtime::ack::AckCode;

/// The hl7 command line.
#[derive(Debug, Parser)]
#[command(
    name = "hl7",
    version,
    about = "HL7 v2 tools: inspect, validate, generate code, compare profiles, send, receive, load-test, operate a running engine"
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Shows every message of the files as a tree of named segments, fields and components.
    Inspect {
        /// Print JSON (an array of messages) instead of the tree.
        #[arg(long, conflicts_with = "er7")]
        json: bool,
        /// Re-encode every parsed message as ER7 (segments ended by `\r`), in its character set.
        #[arg(long)]
        er7: bool,
        /// Message files: one message, a batch (FHS/BHS), or a concatenation of messages.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validates every message of the files against a conformance profile.
    Validate {
        /// The profile: an `HL7v2xConformanceProfile` or a concise `SiteProfile`.
        #[arg(long, short)]
        profile: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Message files: one message, a batch (FHS/BHS), or a concatenation of messages.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Generates the typed Rust module of a site, as `build.rs` would.
    Codegen {
        /// Site name: the file written is `<out>/<site>.rs`.
        #[arg(long)]
        site: String,
        /// A profile of the site (repeat for several).
        #[arg(long, short, required = true)]
        profile: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Reports what a receiver's profile expects that a sender's conformant messages may not
    /// give it: required fields the sender may omit, shorter lengths, fewer repetitions,
    /// excluded elements, other tables, datatypes and constants.
    Compat {
        /// The sender's profile (`HL7v2xConformanceProfile` or `SiteProfile`).
        #[arg(long, short)]
        sender: PathBuf,
        /// The receiver's profile, of the same message.
        #[arg(long, short)]
        receiver: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sends every message of the files over MLLP, one at a time, and prints each ACK.
    ///
    /// One line per message: `file: message N (MSH-10 = X): CODE[: MSA-3 and ERR summary]`.
    /// Messages go in file order on one connection; the first transport failure (no
    /// connection, no ACK in time, a response that is not the ACK of the message sent) stops
    /// the run. A message that does not parse is not sent.
    #[command(after_help = net::EXIT_CODES)]
    Send {
        /// The receiver, `HOST:PORT`.
        #[arg(long, value_name = "HOST:PORT")]
        to: String,
        /// How long to wait for each ACK (e.g. 500ms, 5s, 1m); then the connection is closed.
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = net::parse_duration)]
        response_timeout: Duration,
        /// How long to wait for the connection.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = net::parse_duration)]
        connect_timeout: Duration,
        /// TLS.
        #[command(flatten)]
        tls: tls::ClientArgs,
        /// Message files: one message, a batch (FHS/BHS), or a concatenation of messages;
        /// `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// A test MLLP receiver that ACKs every message with a chosen code.
    ///
    /// MSA-2 is the message's MSH-10; with `--out` the message is written before it is
    /// ACKed. Prints one line per message: time, peer, MSH-9, MSH-10, the code sent, the file
    /// (never the message body). Runs until Ctrl-C or SIGTERM. Enhanced-mode messages (MSH-15 or MSH-16 valued) get the accept code of the same
    /// meaning: CA, CE or CR. A message that cannot be written or parsed gets AE.
    Listen {
        /// The port; 0 picks a free one. `listening on ADDR:PORT` is printed on stderr once
        /// the port is open.
        #[arg(long)]
        port: u16,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Write each message, byte for byte, to a numbered file in this folder (000001.hl7,
        /// ...; numbering continues after the files already there).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The ACK code: AA, AE or AR.
        #[arg(long, default_value = "AA", value_parser = parse_ack_code)]
        ack: AckCode,
        /// Append `MSH-10<TAB>sha256` of every message received to this file (the sink's half
        /// of the crash tests' checker), flushed before the ACK.
        #[arg(long, value_name = "FILE")]
        sink_log: Option<PathBuf>,
        /// Connections served at once; more are accepted and closed.
        #[arg(long, default_value_t = 64)]
        max_connections: usize,
        /// Print no line per message.
        #[arg(long, short)]
        quiet: bool,
        /// TLS.
        #[command(flatten)]
        tls: tls::ServerArgs,
    },
    /// Load generator: messages over many MLLP connections, then acks/s and latency.
    ///
    /// CONCURRENCY connections each send one message at a time and wait for its ACK, until
    /// the duration is over or COUNT messages are sent; then the report: ACKs by code,
    /// failures by kind, acks/s, latency p50/p90/p99/max. Progress on stderr once a second.
    /// Every message gets a fresh MSH-10 (`B<run>-<connection>-<n>`), so a receiver's duplicate
    /// check never fires. An ACK whose MSA-2 is not that MSH-10 is a failure.
    #[command(after_help = net::EXIT_CODES)]
    Bench {
        /// The receiver, `HOST:PORT`.
        #[arg(long, value_name = "HOST:PORT")]
        to: String,
        /// Connections, each with one message in flight.
        #[arg(long, short, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
        concurrency: u16,
        /// How long to send for (e.g. 20s, 2m). Default 60s.
        #[arg(long, value_name = "DURATION", value_parser = net::parse_duration, conflicts_with = "count")]
        duration: Option<Duration>,
        /// Send this many messages in all, then stop.
        #[arg(long, short = 'n')]
        count: Option<u64>,
        /// The messages to send: a message file or a folder of .hl7/.er7 files. Default: the
        /// hospital mix of the parse benchmarks (1,000 ADT/ORU/ORM/RDE messages, 0.5-8 KB).
        #[arg(long, value_name = "FILE_OR_DIR")]
        corpus: Option<PathBuf>,
        /// Write `MSH-10<TAB>sha256-hex` of the exact bytes sent for every message that got
        /// AA or CA.
        #[arg(long, value_name = "FILE")]
        sender_log: Option<PathBuf>,
        /// How long to wait for each ACK.
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = net::parse_duration)]
        response_timeout: Duration,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
        /// TLS.
        #[command(flatten)]
        tls: tls::ClientArgs,
    },
    /// The ops commands of a running engine's admin API.
    #[command(flatten)]
    Ops(ops::Command),
}

/// `--ack` of `listen`: an original-mode code.
fn parse_ack_code(text: &str) -> Result<AckCode, String> {
    match text.parse::<AckCode>() {
        Ok(code @ (AckCode::AA | AckCode::AE | AckCode::AR)) => Ok(code),
        Ok(code) => Err(format!(
            "`{code}` is an accept code; give AA, AE or AR (enhanced-mode messages get CA, CE or CR)"
        )),
        Err(err) => Err(err.to_string()),
    }
}

/// Output format of `validate` and `compat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One line per problem (a diagnostic per finding for `compat`), then a summary.
    Text,
    /// One JSON document.
    Json,
}

/// How a command ended; ordered by gravity, the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    /// Everything worked (and every message validated is valid).
    Success,
    /// At least one message has an error-level problem (or, for `compat`, the receiver would
    /// reject conformant messages of the sender).
    Invalid,
    /// An input could not be read, decoded or parsed, or a profile could not be loaded.
    Failed,
}

impl Status {
    /// The process exit code.
    fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Invalid => 1,
            Status::Failed => 2,
        }
    }
}

/// Prints a diagnostic to stderr: `error: {message}` (rustc-style messages that already start
/// with `error:` are printed as they are). A failing stderr is ignored: there is nowhere else
/// to report it.
fn report(message: impl fmt::Display) {
    let text = message.to_string();
    let mut stderr = io::stderr().lock();
    let _ = if text.starts_with("error") {
        writeln!(stderr, "{text}")
    } else {
        writeln!(stderr, "error: {text}")
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Not locked for the whole run: `listen` writes its lines from its connection tasks.
    let mut out = BufWriter::new(io::stdout());
    let result = match cli.command {
        Command::Inspect { json, er7, files } => {
            let mode = match (json, er7) {
                (true, _) => inspect::Mode::Json,
                (_, true) => inspect::Mode::Er7,
                _ => inspect::Mode::Tree,
            };
            inspect::run(&files, mode, &mut out)
        }
        Command::Validate {
            profile,
            format,
            files,
        } => validate::run(&profile, &files, format == Format::Json, &mut out),
        Command::Codegen {
            site,
            profile,
            out: dir,
        } => codegen::run(&site, &profile, &dir, &mut out),
        Command::Compat {
            sender,
            receiver,
            format,
        } => compat::run(&sender, &receiver, format == Format::Json, &mut out),
        Command::Send {
            to,
            response_timeout,
            connect_timeout,
            tls,
            files,
        } => {
            let options = send::Options {
                to,
                files,
                response_timeout,
                connect_timeout,
                tls,
            };
            return finish(send::run(&options, &mut out).map(net::NetStatus::code), out);
        }
        Command::Listen {
            port,
            bind,
            out: dir,
            ack,
            sink_log,
            max_connections,
            quiet,
            tls,
        } => {
            let options = listen::Options {
                bind,
                port,
                out: dir,
                sink_log,
                ack,
                quiet,
                max_connections,
                tls,
            };
            listen::run(&options)
        }
        Command::Bench {
            to,
            concurrency,
            duration,
            count,
            corpus,
            sender_log,
            response_timeout,
            json,
            quiet,
            tls,
        } => {
            let limit = match (count, duration) {
                (Some(n), _) => bench::Limit::Count(n),
                (None, Some(d)) => bench::Limit::Duration(d),
                (None, None) => bench::Limit::Duration(Duration::from_secs(60)),
            };
            let options = bench::Options {
                to,
                concurrency: usize::from(concurrency),
                limit,
                corpus,
                sender_log,
                response_timeout,
                json,
                quiet,
                tls,
            };
            return finish(
                bench::run(&options, &mut out).map(net::NetStatus::code),
                out,
            );
        }
        Command::Ops(command) => return finish(ops::run(command, &mut out), out),
    };
    finish(result.map(Status::code), out)
}

/// Flushes the output and turns the command's result into the exit code.
fn finish(result: io::Result<u8>, mut out: impl Write) -> ExitCode {
    let result = result.and_then(|code| out.flush().map(|()| code));
    match result {
        Ok(code) => ExitCode::from(code),
        // `hl7 inspect big.hl7 | head`: the reader is gone, stop quietly.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            report(format_args!("cannot write the output: {err}"));
            ExitCode::from(Status::Failed.code())
        }
    }
}
