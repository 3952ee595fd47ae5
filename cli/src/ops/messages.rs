//! `hl7 messages search | show | discard`: the message browser of the admin API.

use std::io::Write;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{encode, read_as, Api, Error, Query};
use super::progress::Progress;
use super::table::{Align, Table};
use super::time::{parse_time, short};
use super::{connect, print_json, Target, EXIT_CODES};

/// The largest page the API serves.
const MAX_PAGE: u32 = 1000;

/// The subcommands of `hl7 messages`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Finds messages, newest first: a table of id, time, type, control ID, patient, state
    /// and the state of each destination's delivery.
    ///
    /// Every filter given must hold. Without --all at most --limit messages are shown, and
    /// the id to continue from is printed on stderr.
    #[command(after_help = EXIT_CODES)]
    Search(Box<Search>),
    /// Shows one message's every stage: what was received, its state (and why it is in
    /// error), the ACK sent, each destination's delivery with every attempt and the
    /// receiver's response, and what operators did with it. Viewing is audited.
    #[command(after_help = EXIT_CODES)]
    Show {
        /// The message id (the first column of `hl7 messages search`).
        id: u64,
        /// Print only the received message, one segment per line (segment separators as
        /// line feeds): for an editor and `hl7 reprocess ID --edit FILE`, or `hl7 inspect`.
        #[arg(long, conflicts_with = "fields")]
        raw: bool,
        /// Show the received message field by field (PID-3 Patient Identifier List = ...)
        /// instead of segment by segment.
        #[arg(long)]
        fields: bool,
        /// The admin API.
        #[command(flatten)]
        target: Target,
    },
    /// Sets a message's waiting and dead-lettered deliveries aside for good (never
    /// delivered); without --destination a message in error becomes `discarded` too.
    /// Deliveries in progress are left alone and listed: pause the destination first.
    #[command(after_help = EXIT_CODES)]
    Discard {
        /// The message id.
        id: u64,
        /// Why (required; kept in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Only this destination's deliveries.
        #[arg(long, value_name = "NAME")]
        destination: Option<String>,
        /// The admin API.
        #[command(flatten)]
        target: Target,
    },
}

/// The filters of `hl7 messages search`.
#[derive(Debug, clap::Args)]
pub(crate) struct Search {
    /// Patient id (PID-3.1).
    #[arg(long, value_name = "ID")]
    patient_id: Option<String>,
    /// Control ID (MSH-10).
    #[arg(long, value_name = "ID")]
    control_id: Option<String>,
    /// Message type (MSH-9.1), e.g. ORU.
    #[arg(long = "type", value_name = "TYPE")]
    message_type: Option<String>,
    /// Trigger event (MSH-9.2), e.g. R01.
    #[arg(long, value_name = "EVENT")]
    event: Option<String>,
    /// Sending application (MSH-3).
    #[arg(long, value_name = "APP")]
    sender: Option<String>,
    /// Sending facility (MSH-4).
    #[arg(long, value_name = "FACILITY")]
    facility: Option<String>,
    /// The channel it came in on.
    #[arg(long, value_name = "NAME")]
    channel: Option<String>,
    /// The message's state: received, routed, error or discarded.
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// Received at or after this time: RFC 3339 with a zone, Unix ms, or a duration ago
    /// (90m, 6h, 2d).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<String>,
    /// Received before this time (same forms as --from).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<String>,
    /// Words that must all be in the message (case and accents ignored; `gluc*` for a
    /// prefix).
    #[arg(long, value_name = "WORDS")]
    text: Option<String>,
    /// Show at most this many messages.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Show every message found, following the pages (progress on stderr).
    #[arg(long, conflicts_with = "limit")]
    all: bool,
    /// Continue a search: only messages older than this id (printed by the previous one).
    #[arg(long, value_name = "ID")]
    before: Option<u64>,
    /// The admin API.
    #[command(flatten)]
    target: Target,
}

/// Runs a `hl7 messages` subcommand.
pub(crate) async fn run(command: Command, out: &mut dyn Write) -> Result<u8, Error> {
    match command {
        Command::Search(search) => run_search(&search, out).await,
        Command::Show {
            id,
            raw,
            fields,
            target,
        } => show(id, raw, fields, &target, out).await,
        Command::Discard {
            id,
            reason,
            destination,
            target,
        } => discard(id, &reason, destination, &target, out).await,
    }
}

/// One message of a search.
#[derive(Debug, Deserialize)]
pub(crate) struct Summary {
    pub(crate) id: u64,
    received_at: String,
    #[serde(rename = "type")]
    message_type: String,
    control_id: String,
    patient_id: Option<String>,
    state: String,
    items: Vec<ItemBrief>,
}

#[derive(Debug, Deserialize)]
struct ItemBrief {
    destination: String,
    state: String,
}

/// A page of a search.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub(crate) messages: Vec<Value>,
    pub(crate) next_before: Option<u64>,
}

/// The query of a search, without `limit` and `before`.
fn search_query(s: &Search) -> Query {
    let mut q = Query::default();
    q.opt("patient_id", s.patient_id.as_deref())
        .opt("control_id", s.control_id.as_deref())
        .opt("type", s.message_type.as_deref())
        .opt("event", s.event.as_deref())
        .opt("sender", s.sender.as_deref())
        .opt("facility", s.facility.as_deref())
        .opt("channel", s.channel.as_deref())
        .opt("state", s.state.as_deref())
        .opt("from", s.from.as_deref())
        .opt("to", s.to.as_deref())
        .opt("text", s.text.as_deref());
    q
}

/// Follows the pages of `query` from `before` until `wanted` messages (all with `None`);
/// returns them and the id to continue from.
pub(crate) async fn collect(
    api: &mut Api,
    query: &Query,
    mut before: Option<u64>,
    wanted: Option<u64>,
) -> Result<(Vec<Value>, Option<u64>), Error> {
    let mut found: Vec<Value> = Vec::new();
    let mut progress = Progress::new();
    loop {
        let left = wanted.map_or(u64::from(MAX_PAGE), |w| w - found.len() as u64);
        let limit = left.min(u64::from(MAX_PAGE));
        let mut path = format!("/api/messages{}", query.as_str());
        path.push(if query.as_str().is_empty() { '?' } else { '&' });
        path.push_str(&format!("limit={limit}"));
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        let page: Page = api.get_as(&path).await?;
        found.extend(page.messages);
        before = page.next_before;
        let done = wanted.is_some_and(|w| found.len() as u64 >= w);
        if before.is_none() || done {
            return Ok((found, before));
        }
        progress.show(format_args!("{} messages so far", found.len()));
    }
}

async fn run_search(s: &Search, out: &mut dyn Write) -> Result<u8, Error> {
    let mut api = connect(&s.target).await?;
    let query = search_query(s);
    let wanted = (!s.all).then_some(u64::from(s.limit));
    let (found, next) = collect(&mut api, &query, s.before, wanted).await?;
    if s.target.json {
        print_json(out, &json!({ "messages": found, "next_before": next }))?;
        return Ok(0);
    }
    let summaries: Vec<Summary> = found.into_iter().map(read_as).collect::<Result<_, _>>()?;
    if !summaries.is_empty() {
        let mut table = Table::new(&[
            ("ID", Align::Right),
            ("RECEIVED", Align::Left),
            ("TYPE", Align::Left),
            ("CONTROL ID", Align::Left),
            ("PATIENT", Align::Left),
            ("STATE", Align::Left),
            ("DESTINATIONS", Align::Left),
        ]);
        for m in &summaries {
            table.row(vec![
                m.id.to_string(),
                short(Some(&m.received_at)),
                m.message_type.clone(),
                m.control_id.clone(),
                m.patient_id.clone().unwrap_or_else(|| "-".into()),
                m.state.clone(),
                deliveries(&m.items),
            ]);
        }
        table.write(out)?;
    }
    out.flush()?;
    let n = summaries.len();
    match next {
        Some(before) => eprintln!(
            "{n} message{} shown; more with --before {before} (or --all)",
            plural(n)
        ),
        None => eprintln!("{n} message{} found", plural(n)),
    }
    Ok(0)
}

/// `ehr=done pharmacy=error,done`: each destination's items in order.
fn deliveries(items: &[ItemBrief]) -> String {
    let mut by: Vec<(&str, Vec<&str>)> = Vec::new();
    for i in items {
        match by.iter_mut().find(|(d, _)| *d == i.destination) {
            Some((_, states)) => states.push(&i.state),
            None => by.push((&i.destination, vec![&i.state])),
        }
    }
    if by.is_empty() {
        return "-".into();
    }
    by.iter()
        .map(|(d, states)| format!("{d}={}", states.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

async fn show(
    id: u64,
    raw: bool,
    fields: bool,
    target: &Target,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let mut api = connect(target).await?;
    let value = api.get(&format!("/api/messages/{id}")).await?;
    if target.json {
        print_json(out, &value)?;
        return Ok(0);
    }
    let detail: super::show::Detail = read_as(value)?;
    if raw {
        for segment in super::show::segments(&detail.raw) {
            writeln!(out, "{segment}")?;
        }
        return Ok(0);
    }
    super::show::write(&detail, fields, out)?;
    Ok(0)
}

/// The answer of a discard.
#[derive(Debug, Deserialize)]
struct Discarded {
    message: u64,
    discarded: Vec<u64>,
    in_flight: Vec<u64>,
    state: String,
}

async fn discard(
    id: u64,
    reason: &str,
    destination: Option<String>,
    target: &Target,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    if reason.trim().is_empty() {
        return Err(Error::Usage("--reason must say why".into()));
    }
    let mut api = connect(target).await?;
    let mut body = json!({ "reason": reason });
    if let Some(d) = &destination {
        body["destination"] = json!(d);
    }
    let value = api
        .post(&format!("/api/messages/{id}/discard"), Some(&body))
        .await?;
    if target.json {
        print_json(out, &value)?;
        return Ok(0);
    }
    let d: Discarded = read_as(value)?;
    match d.discarded.as_slice() {
        [] => writeln!(
            out,
            "message {}: no delivery to set aside; state {}",
            d.message, d.state
        )?,
        items => writeln!(
            out,
            "message {}: set aside item{} {}; state {}",
            d.message,
            plural(items.len()),
            ids(items),
            d.state
        )?,
    }
    if !d.in_flight.is_empty() {
        out.flush()?;
        eprintln!(
            "warning: item{} {} being delivered right now were left alone; pause the \
             destination (hl7 queue pause) and discard again",
            plural(d.in_flight.len()),
            ids(&d.in_flight)
        );
    }
    Ok(0)
}

/// `2001, 2002`.
pub(crate) fn ids(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path segment (a destination name) percent-encoded.
pub(crate) fn segment(name: &str) -> String {
    encode(name)
}
