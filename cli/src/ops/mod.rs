//! The ops commands: a running engine's admin API from the command line.
//!
//! - `hl7 status`: channels, destinations and firing alerts;
//! - `hl7 messages search | show | discard`: the message browser;
//! - `hl7 reprocess`: one message (as stored or edited), some, the dead letters, or a window;
//! - `hl7 queue pause | resume | show`: one destination's deliveries and queue.
//!
//! Every command speaks HTTP/1.1 to `--admin URL` (HTTPS with `--tls-ca`) with the bearer
//! token of `--token-file` or `HL7_ADMIN_TOKEN` ([`client`]); the token is never a
//! command-line argument, where `ps` would show it. `--json` prints the API's answers as they
//! are, for scripts. The routes and their shapes are those of `hl7_runtime::admin`.

mod client;
mod messages;
mod progress;
mod queue;
mod reprocess;
mod show;
mod status;
mod table;
mod time;
mod tls;

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use self::client::{Api, Error};
use crate::{net, report};

/// The exit codes of the ops commands, for their `--help`.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the admin API refused or failed the request (no such message or destination, a bad
     time or selection, a server error), a reprocessed or edited message is still in error,
     or a confirmation was declined
  2  usage error
  3  cannot reach the admin endpoint: connection refused, unreachable, TLS handshake failed,
     or no answer within --timeout
  4  a local file cannot be read (--token-file, --tls-ca, --tls-cert, --tls-key, --edit)
  5  unauthorized: no token given, or the endpoint refused it (HTTP 401)";

/// Where the admin API is and how to reach it; common to every ops command.
#[derive(Debug, Clone, Args)]
pub(crate) struct Target {
    /// The engine's admin endpoint: http://HOST:PORT or https://HOST:PORT (with --tls-ca),
    /// optionally with a path prefix; a bare HOST:PORT means http.
    #[arg(
        long = "admin",
        value_name = "URL",
        env = "HL7_ADMIN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub(crate) url: String,
    /// Read the bearer token from this file (its first line). Without it the token is taken
    /// from the environment variable HL7_ADMIN_TOKEN. There is no --token: an argument would
    /// show in `ps`.
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Print the API's JSON answers instead of tables and text.
    #[arg(long)]
    pub(crate) json: bool,
    /// How long to wait for the connection, and then for each answer (e.g. 10s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = net::parse_duration)]
    pub(crate) timeout: Duration,
    /// TLS to an https:// endpoint.
    #[command(flatten)]
    pub(crate) tls: tls::TlsArgs,
}

/// The ops subcommands, flattened into `hl7`'s own.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Channels and destinations of a running engine (counts, ACKs, queues, dead letters),
    /// and the alerts firing.
    #[command(after_help = EXIT_CODES)]
    Status {
        /// The admin API.
        #[command(flatten)]
        target: Target,
    },
    /// The message browser: search, show one message's every stage, discard.
    #[command(subcommand)]
    Messages(messages::Command),
    /// Sends messages again: some by id (one, possibly edited), the dead letters, or every
    /// message of a time window.
    ///
    /// By id, each destination the message had gets a new delivery of its latest payload
    /// (linked to the old one); a message whose routing failed is routed again with the
    /// current routes. `--edit FILE` replaces one message with an edited text (line feeds
    /// are fine), routed as if received again; the original's dead letters are set aside.
    /// `--errors` requeues the dead letters not reprocessed yet (of --destination, or of
    /// every destination, and then messages in error are routed again too); with --from and
    /// --to, those dead-lettered (messages in error: received) in the window. --from and
    /// --to alone select every message received in the window. A selection by --errors or
    /// by time asks for confirmation, or takes --yes.
    #[command(after_help = EXIT_CODES)]
    Reprocess(reprocess::Args),
    /// One destination's deliveries: pause, resume, show its queue or its dead letters.
    #[command(subcommand)]
    Queue(queue::Command),
}

/// Runs an ops command; the result is the exit code.
pub(crate) fn run(command: Command, out: &mut dyn Write) -> io::Result<u8> {
    let runtime = net::single_thread_runtime()?;
    let result = runtime.block_on(async {
        match command {
            Command::Status { target } => status::run(&target, out).await,
            Command::Messages(command) => messages::run(command, out).await,
            Command::Reprocess(args) => reprocess::run(args, out).await,
            Command::Queue(command) => queue::run(command, out).await,
        }
    });
    match result {
        Ok(code) => Ok(code),
        Err(Error::Output(err)) => Err(err),
        Err(err) => {
            report(&err);
            Ok(err.exit_code())
        }
    }
}

/// Connects to the admin API of `target` (reading the token and TLS files first).
async fn connect(target: &Target) -> Result<Api, Error> {
    Api::new(target).await
}

/// Prints `value` as indented JSON and a line feed.
fn print_json(out: &mut dyn Write, value: &serde_json::Value) -> Result<(), Error> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)?;
    Ok(())
}
