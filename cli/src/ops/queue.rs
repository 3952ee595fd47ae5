//! `hl7 queue pause | resume | show`: one destination's deliveries.

use std::io::Write;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{read_as, Api, Error};
use super::messages::{plural, segment};
use super::progress::Progress;
use super::status::Status;
use super::table::{Align, Table};
use super::time::short;
use super::{connect, print_json, Target, EXIT_CODES};

/// The largest page the API serves.
const MAX_PAGE: u64 = 1000;

/// The subcommands of `hl7 queue`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Stops a destination's deliveries; its queue keeps filling. Audited.
    #[command(after_help = EXIT_CODES)]
    Pause {
        /// The destination.
        destination: String,
        /// The admin API.
        #[command(flatten)]
        target: Target,
    },
    /// Restarts a paused destination's deliveries. Audited.
    #[command(after_help = EXIT_CODES)]
    Resume {
        /// The destination.
        destination: String,
        /// The admin API.
        #[command(flatten)]
        target: Target,
    },
    /// A destination's state and the head of its queue, oldest first: each item's message,
    /// attempts, next try and last error. With --errors, its dead letters (not reprocessed
    /// yet) instead.
    #[command(after_help = EXIT_CODES)]
    Show {
        /// The destination.
        destination: String,
        /// The dead letters instead of the waiting items.
        #[arg(long)]
        errors: bool,
        /// Show at most this many items.
        #[arg(long, short = 'n', value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        /// Show every item, following the pages (progress on stderr).
        #[arg(long, conflicts_with = "limit")]
        all: bool,
        /// The admin API.
        #[command(flatten)]
        target: Target,
    },
}

/// Runs a `hl7 queue` subcommand.
pub(crate) async fn run(command: Command, out: &mut dyn Write) -> Result<u8, Error> {
    match command {
        Command::Pause {
            destination,
            target,
        } => set_paused(&destination, true, &target, out).await,
        Command::Resume {
            destination,
            target,
        } => set_paused(&destination, false, &target, out).await,
        Command::Show {
            destination,
            errors,
            limit,
            all,
            target,
        } => {
            let wanted = (!all).then_some(limit);
            show(&destination, errors, wanted, &target, out).await
        }
    }
}

async fn set_paused(
    destination: &str,
    pause: bool,
    target: &Target,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let mut api = connect(target).await?;
    let action = if pause { "pause" } else { "resume" };
    let path = format!("/api/destinations/{}/{action}", segment(destination));
    let value = api.post(&path, None).await?;
    if target.json {
        print_json(out, &value)?;
    } else if pause {
        writeln!(
            out,
            "{destination}: paused (nothing is delivered; its queue keeps filling)"
        )?;
    } else {
        writeln!(out, "{destination}: resumed")?;
    }
    Ok(0)
}

/// A page of a queue.
#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<Value>,
    next_after: Option<u64>,
}

/// One queued or dead-lettered item.
#[derive(Debug, Deserialize)]
struct QueueItem {
    id: u64,
    message_id: u64,
    state: String,
    attempts: u32,
    last_error: Option<String>,
    created_at: String,
    ready_at: String,
    reprocess_of: Option<u64>,
}

async fn show(
    destination: &str,
    errors: bool,
    wanted: Option<u64>,
    target: &Target,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let mut api = connect(target).await?;
    let view = if errors { "errors" } else { "queued" };
    let (items, next) = collect(&mut api, destination, view, wanted).await?;
    if target.json {
        print_json(
            out,
            &json!({ "destination": destination, "view": view, "items": items, "next_after": next }),
        )?;
        return Ok(0);
    }
    let status: Status = api.get_as("/api/status").await?;
    if let Some(d) = status.destinations.iter().find(|d| d.name == destination) {
        writeln!(out, "{}", d.summary(&status.now))?;
    }
    let items: Vec<QueueItem> = items.into_iter().map(read_as).collect::<Result<_, _>>()?;
    let what = if errors { "dead letter" } else { "queued item" };
    if items.is_empty() {
        writeln!(out, "no {what}s")?;
        return Ok(0);
    }
    writeln!(out)?;
    let mut columns = vec![
        ("ITEM", Align::Right),
        ("MESSAGE", Align::Right),
        ("STATE", Align::Left),
        ("ATTEMPTS", Align::Right),
        ("QUEUED", Align::Left),
    ];
    if !errors {
        columns.push(("NEXT TRY", Align::Left));
    }
    columns.push(("LAST ERROR", Align::Left));
    let mut table = Table::new(&columns);
    for i in &items {
        let mut row = vec![
            match i.reprocess_of {
                Some(of) => format!("{} (of {of})", i.id),
                None => i.id.to_string(),
            },
            i.message_id.to_string(),
            i.state.clone(),
            i.attempts.to_string(),
            short(Some(&i.created_at)),
        ];
        if !errors {
            row.push(short(Some(&i.ready_at)));
        }
        row.push(i.last_error.as_deref().map_or("-".into(), |e| {
            e.lines().next().unwrap_or_default().to_owned()
        }));
        table.row(row);
    }
    table.write(out)?;
    out.flush()?;
    let n = items.len();
    match next {
        Some(_) => eprintln!("{n} {what}{} shown; --all for every one", plural(n)),
        None => eprintln!("{n} {what}{}", plural(n)),
    }
    Ok(0)
}

/// Follows the pages of a queue view until `wanted` items (all with `None`).
async fn collect(
    api: &mut Api,
    destination: &str,
    view: &str,
    wanted: Option<u64>,
) -> Result<(Vec<Value>, Option<u64>), Error> {
    let mut items = Vec::new();
    let mut after = None;
    let mut progress = Progress::new();
    loop {
        let left = wanted.map_or(MAX_PAGE, |w| w - items.len() as u64);
        let mut path = format!(
            "/api/destinations/{}/queue?view={view}&limit={}",
            segment(destination),
            left.min(MAX_PAGE)
        );
        if let Some(a) = after {
            path.push_str(&format!("&after={a}"));
        }
        let page: Page = api.get_as(&path).await?;
        items.extend(page.items);
        after = page.next_after;
        if after.is_none() || wanted.is_some_and(|w| items.len() as u64 >= w) {
            return Ok((items, after));
        }
        progress.show(format_args!("{} items so far", items.len()));
    }
}
