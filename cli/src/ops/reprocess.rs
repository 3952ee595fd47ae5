//! `hl7 reprocess`: messages by id (one possibly edited), the dead letters, or a time window,
//! over `POST /api/messages/{id}/reprocess` and `POST /api/reprocess`.
//!
//! A selection by `--errors` or by time may touch thousands of messages: it says what it will
//! do, with the counts the API can give beforehand, and asks (or takes `--yes`; without a
//! terminal to ask on, `--yes` is required). Ids beyond the API's 10,000 per request go in
//! several requests, with progress on stderr.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{read_as, Api, Error, Query};
use super::messages::{collect, ids, plural};
use super::progress::Progress;
use super::status::Status;
use super::time::{parse_time, readable};
use super::{connect, print_json, Target};

/// Ids the API takes in one bulk request.
const IDS_PER_REQUEST: usize = 10_000;

/// What `hl7 reprocess` selects.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("selection")
        .required(true)
        .multiple(true)
        .args(["ids", "errors", "from", "to"])
))]
pub(crate) struct Args {
    /// Message ids (as `hl7 messages search` shows them); `-` reads ids from standard input,
    /// separated by white space.
    #[arg(value_name = "ID", conflicts_with_all = ["errors", "from", "to"])]
    ids: Vec<String>,
    /// The dead letters not reprocessed yet (of --destination, or of every destination; then
    /// messages in error are routed again too).
    #[arg(long)]
    errors: bool,
    /// With --errors: only this destination's dead letters.
    #[arg(long, value_name = "NAME", requires = "errors")]
    destination: Option<String>,
    /// Start of the window (inclusive): dead-lettered at or after (--errors), else received
    /// at or after. RFC 3339 with a zone, Unix ms, or a duration ago (90m, 6h, 2d).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<String>,
    /// End of the window (exclusive); same forms as --from.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<String>,
    /// Replace the one message given with the edited text of FILE (`-`: standard input;
    /// segments on lines are fine): routed like a message received again, linked to the
    /// original, whose dead letters are set aside.
    #[arg(long, value_name = "FILE")]
    edit: Option<PathBuf>,
    /// Why (kept in the audit log).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Do not ask before a reprocess by --errors or by time.
    #[arg(long, short = 'y')]
    yes: bool,
    /// The admin API.
    #[command(flatten)]
    target: Target,
}

/// Runs `hl7 reprocess`.
pub(crate) async fn run(args: Args, out: &mut dyn Write) -> Result<u8, Error> {
    if args.ids.is_empty() {
        if args.edit.is_some() {
            return Err(Error::Usage("--edit takes one message id".into()));
        }
        let mut api = connect(&args.target).await?;
        return selection(&mut api, &args, out).await;
    }
    let ids = read_ids(&args.ids)?;
    if let Some(file) = &args.edit {
        let [id] = ids[..] else {
            return Err(Error::Usage("--edit takes exactly one message id".into()));
        };
        let text = read_edit(file)?;
        let mut api = connect(&args.target).await?;
        return edit(&mut api, id, text, &args, out).await;
    }
    let mut api = connect(&args.target).await?;
    match ids[..] {
        [id] => one(&mut api, id, &args, out).await,
        _ => many(&mut api, &ids, &args, out).await,
    }
}

/// The ids of the command line, `-` expanded from standard input.
fn read_ids(given: &[String]) -> Result<Vec<u64>, Error> {
    let mut ids = Vec::new();
    for arg in given {
        if arg == "-" {
            let mut text = String::new();
            for line in io::stdin().lock().lines() {
                let line =
                    line.map_err(|e| Error::Input(format!("cannot read standard input: {e}")))?;
                text.push_str(&line);
                text.push('\n');
            }
            for word in text.split_whitespace() {
                ids.push(parse_id(word)?);
            }
        } else {
            ids.push(parse_id(arg)?);
        }
    }
    if ids.is_empty() {
        return Err(Error::Usage("no message id on standard input".into()));
    }
    Ok(ids)
}

fn parse_id(text: &str) -> Result<u64, Error> {
    text.parse()
        .map_err(|_| Error::Usage(format!("`{text}` is not a message id")))
}

fn read_edit(file: &PathBuf) -> Result<String, Error> {
    let bytes = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::stdin(), &mut bytes)
            .map_err(|e| Error::Input(format!("cannot read standard input: {e}")))?;
        bytes
    } else {
        std::fs::read(file)
            .map_err(|e| Error::Input(format!("cannot read `{}`: {e}", file.display())))?
    };
    String::from_utf8(bytes).map_err(|_| {
        Error::Input(format!(
            "`{}` is not UTF-8 text (the API takes the edited message as text)",
            file.display()
        ))
    })
}

/// `{"reason": ...}` when a reason was given.
fn with_reason(mut body: Value, reason: Option<&String>) -> Value {
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    body
}

/// The answer of one message's reprocess.
#[derive(Debug, Deserialize)]
struct One {
    message: u64,
    items: Vec<u64>,
    state: Option<String>,
}

async fn one(api: &mut Api, id: u64, args: &Args, out: &mut dyn Write) -> Result<u8, Error> {
    let body = args.reason.as_ref().map(|r| json!({ "reason": r }));
    let value = api
        .post(&format!("/api/messages/{id}/reprocess"), body.as_ref())
        .await?;
    if args.target.json {
        print_json(out, &value)?;
    }
    let one: One = read_as(value)?;
    let state = one.state.as_deref().unwrap_or("unknown");
    if !args.target.json {
        match one.items.as_slice() {
            [] => writeln!(
                out,
                "message {}: nothing requeued; state {state}",
                one.message
            )?,
            items => writeln!(
                out,
                "message {}: requeued item{} {}; state {state}",
                one.message,
                plural(items.len()),
                ids(items)
            )?,
        }
    }
    if state == "error" {
        return Err(Error::NotDone(format!(
            "message {id} is still in error after routing it again (see hl7 messages show {id})"
        )));
    }
    Ok(0)
}

/// The answer of an edit.
#[derive(Debug, Deserialize)]
struct Edited {
    message: u64,
    new_message: u64,
    items: Vec<u64>,
    superseded: Vec<u64>,
    state: String,
    error: Option<String>,
}

async fn edit(
    api: &mut Api,
    id: u64,
    text: String,
    args: &Args,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let body = with_reason(json!({ "body": text }), args.reason.as_ref());
    let value = api
        .post(&format!("/api/messages/{id}/reprocess"), Some(&body))
        .await?;
    if args.target.json {
        print_json(out, &value)?;
    }
    let e: Edited = read_as(value)?;
    if !args.target.json {
        writeln!(
            out,
            "message {}: edited as message {}, {}",
            e.message, e.new_message, e.state
        )?;
        if !e.items.is_empty() {
            let n = e.items.len();
            writeln!(out, "queued item{} {}", plural(n), ids(&e.items))?;
        }
        if !e.superseded.is_empty() {
            let n = e.superseded.len();
            writeln!(
                out,
                "set aside item{} {} of the original",
                plural(n),
                ids(&e.superseded)
            )?;
        }
    }
    if e.state == "error" {
        let why = e.error.as_deref().unwrap_or("see hl7 messages show");
        return Err(Error::NotDone(format!(
            "the edited message {} is in error: {why}",
            e.new_message
        )));
    }
    Ok(0)
}

/// The answer of a bulk reprocess (or several, added up).
#[derive(Debug, Default, Deserialize)]
struct Bulk {
    count: u64,
    items: Vec<u64>,
    rerouted_messages: Vec<u64>,
    rerouted_count: u64,
    truncated: bool,
}

impl Bulk {
    fn add(&mut self, other: Bulk) {
        self.count += other.count;
        self.items.extend(other.items);
        self.rerouted_messages.extend(other.rerouted_messages);
        self.rerouted_count += other.rerouted_count;
        self.truncated |= other.truncated;
    }

    fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "items": self.items,
            "rerouted_messages": self.rerouted_messages,
            "rerouted_count": self.rerouted_count,
            "truncated": self.truncated,
        })
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.count == 0 && self.rerouted_count == 0 {
            return writeln!(out, "nothing to reprocess");
        }
        let listed = |n: u64, shown: &[u64]| {
            let more = n.saturating_sub(shown.len() as u64);
            if more > 0 {
                format!("{} and {more} more", ids(shown))
            } else {
                ids(shown)
            }
        };
        if self.count > 0 {
            writeln!(
                out,
                "requeued {} deliver{}: item{} {}",
                self.count,
                if self.count == 1 { "y" } else { "ies" },
                plural(self.count as usize),
                listed(self.count, &self.items)
            )?;
        }
        if self.rerouted_count > 0 {
            writeln!(
                out,
                "routed again {} message{} that {} in error: {}",
                self.rerouted_count,
                plural(self.rerouted_count as usize),
                if self.rerouted_count == 1 {
                    "was"
                } else {
                    "were"
                },
                listed(self.rerouted_count, &self.rerouted_messages)
            )?;
        }
        Ok(())
    }
}

async fn many(api: &mut Api, ids: &[u64], args: &Args, out: &mut dyn Write) -> Result<u8, Error> {
    let mut total = Bulk::default();
    let mut progress = Progress::new();
    let mut done = 0;
    for chunk in ids.chunks(IDS_PER_REQUEST) {
        let body = with_reason(json!({ "ids": chunk }), args.reason.as_ref());
        let value = api.post("/api/reprocess", Some(&body)).await?;
        total.add(read_as(value)?);
        done += chunk.len();
        progress.show(format_args!("reprocessed {done} of {} messages", ids.len()));
    }
    progress.clear();
    finish(&total, args, out)
}

fn finish(total: &Bulk, args: &Args, out: &mut dyn Write) -> Result<u8, Error> {
    if args.target.json {
        print_json(out, &total.to_json())?;
    } else {
        total.write(out)?;
    }
    Ok(0)
}

/// `--errors [--destination D]` and/or `--from`/`--to`.
async fn selection(api: &mut Api, args: &Args, out: &mut dyn Write) -> Result<u8, Error> {
    let window = match (
        args.from.as_deref().map(readable),
        args.to.as_deref().map(readable),
    ) {
        (None, None) => String::new(),
        (Some(f), None) => format!(" from {f}"),
        (None, Some(t)) => format!(" before {t}"),
        (Some(f), Some(t)) => format!(" from {f} to {t}"),
    };
    if !args.yes {
        let question = describe(api, args, &window).await?;
        confirm(&question)?;
    }
    let mut body = json!({});
    if args.errors {
        body["errored"] = json!(true);
    }
    if let Some(d) = &args.destination {
        body["destination"] = json!(d);
    }
    if let Some(f) = &args.from {
        body["from"] = json!(f);
    }
    if let Some(t) = &args.to {
        body["to"] = json!(t);
    }
    let body = with_reason(body, args.reason.as_ref());
    let mut progress = Progress::new();
    progress.show(format_args!("reprocessing..."));
    let value = api.post("/api/reprocess", Some(&body)).await?;
    progress.clear();
    if args.target.json {
        print_json(out, &value)?;
        return Ok(0);
    }
    let bulk: Bulk = read_as(value)?;
    bulk.write(out)?;
    Ok(0)
}

/// What a selection will do, with the counts the API gives beforehand.
async fn describe(api: &mut Api, args: &Args, window: &str) -> Result<String, Error> {
    if !args.errors {
        let mut q = Query::default();
        q.opt("from", args.from.as_deref())
            .opt("to", args.to.as_deref());
        let (found, _) = collect(api, &q, None, None).await?;
        let n = found.len();
        return Ok(format!(
            "Reprocess the {n} message{} received{window}? Each destination they had gets a \
             new delivery.",
            plural(n)
        ));
    }
    let status: Status = api.get_as("/api/status").await?;
    let dead_letters = |d: &super::status::Destination| d.dead_letters.unwrap_or(0);
    match &args.destination {
        Some(name) => {
            let Some(d) = status.destinations.iter().find(|d| &d.name == name) else {
                return Err(Error::Api {
                    status: 404,
                    message: format!("no destination `{name}`"),
                });
            };
            Ok(format!(
                "Requeue the dead letters of {name} dead-lettered{window}? ({name} has {} \
                 dead letters in all now.)",
                dead_letters(d)
            ))
        }
        None => {
            let all: u64 = status.destinations.iter().map(dead_letters).sum();
            let mut q = Query::default();
            q.push("state", "error")
                .opt("from", args.from.as_deref())
                .opt("to", args.to.as_deref());
            let (in_error, _) = collect(api, &q, None, None).await?;
            Ok(format!(
                "Requeue the dead letters of every destination dead-lettered{window} ({all} in \
                 all now), and route again the {} message{} in error received{window}?",
                in_error.len(),
                plural(in_error.len())
            ))
        }
    }
}

/// Asks `question` on the terminal; anything but yes declines.
fn confirm(question: &str) -> Result<(), Error> {
    if !io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{question}\nThis needs a confirmation and standard input is not a terminal: add --yes"
        )));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::Input(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Error::NotDone(
            "not confirmed: nothing was reprocessed".into(),
        )),
    }
}
