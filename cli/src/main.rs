//! `hl7`: the command-line tool of the framework.
//!
//! - `hl7 inspect FILE...` shows every message as a named tree (`--json`, or `--er7` to
//!   re-encode);
//! - `hl7 validate --profile P FILE...` checks every message against a profile;
//! - `hl7 codegen --site S --profile P --out DIR` runs the generator outside `build.rs`;
//! - `hl7 compat --sender S --receiver R` reports what the receiver's profile expects that
//!   the sender's conformant messages may not give it (`--format json` for a document).
//!
//! Exit codes: 0 success, 1 a message breaks its profile (`validate`) or the receiver would
//! reject conformant messages of the sender (`compat`), 2 usage, I/O, profile load or ER7 parse
//! errors. Diagnostics go to stderr; nothing panics on bad input.

mod codegen;
mod compat;
mod input;
mod inspect;
mod validate;

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The hl7 command line.
#[derive(Debug, Parser)]
#[command(
    name = "hl7",
    version,
    about = "HL7 v2 tools: inspect, validate, generate code, compare profiles"
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
    let stdout = io::stdout().lock();
    let mut out = BufWriter::new(stdout);
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
    };
    let result = result.and_then(|status| out.flush().map(|()| status));
    match result {
        Ok(status) => ExitCode::from(status.code()),
        // `hl7 inspect big.hl7 | head`: the reader is gone, stop quietly.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            report(format_args!("cannot write the output: {err}"));
            ExitCode::from(Status::Failed.code())
        }
    }
}
