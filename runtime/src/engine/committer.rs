//! Group commit, pipelined: one thread takes every message waiting to be stored and commits
//! them in one transaction ([`Store::write_batch`]); a second thread makes the batches written
//! meanwhile durable with one fsync ([`Store::sync`]) and only then answers each handler with
//! its receipt. The store's connection is never held through an fsync, so the next batch is
//! written while the previous ones reach the disk.
//!
//! Each connection's handler sends its message here and awaits the answer before it ACKs. The
//! writer thread is the only caller of [`Store::write_batch`]; ACKs that could not be written
//! with their message are recorded by it too, in their own (non-durable) transaction between
//! batches.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use super::route::Output;
use crate::ack::Clock;
use crate::store::{
    self, Accept, Accepted, Delivery, Disposition, InboundMessage, MessageId, Store,
};

/// Most messages in one transaction.
const MAX_BATCH: usize = 256;

/// Threads making written batches durable.
const SYNCERS: usize = 2;

/// ACKs sent and not yet recorded, by message.
type PendingAcks = Arc<Mutex<Vec<(MessageId, Vec<u8>)>>>;

/// What to do with a message, owned (the store's [`Disposition`] borrows).
pub(crate) enum Plan {
    Route(Vec<Output>),
    Error(String),
}

pub(crate) struct Job {
    pub(crate) inbound: InboundMessage,
    pub(crate) plan: Plan,
    /// The ACK to keep with the message, written before the commit (sent only after it).
    pub(crate) ack: Option<Vec<u8>>,
    /// The enhanced-mode application ACK, queued with the message for its destination.
    pub(crate) application_ack: Option<Output>,
    pub(crate) reply: oneshot::Sender<Result<Accepted, String>>,
}

/// The handle the handlers use.
#[derive(Clone)]
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
    acks: PendingAcks,
}

impl Committer {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock + Send + Sync>,
    ) -> (Committer, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let acks = Arc::new(Mutex::new(Vec::new()));
        let thread_acks = Arc::clone(&acks);
        let handle = std::thread::Builder::new()
            .name("hl7-committer".to_owned())
            .spawn(move || run(store, clock, rx, thread_acks))
            .expect("spawn the committer thread");
        (Committer { jobs: tx, acks }, handle)
    }

    /// Stores one message; resolves once it is committed (or the commit failed).
    pub(crate) async fn submit(
        &self,
        inbound: InboundMessage,
        plan: Plan,
        ack: Option<Vec<u8>>,
        application_ack: Option<Output>,
    ) -> Result<Accepted, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                inbound,
                plan,
                ack,
                application_ack,
                reply,
            })
            .await
            .map_err(|_| "the engine is shutting down".to_owned())?;
        answer
            .await
            .map_err(|_| "the committer stopped".to_owned())?
    }

    /// Keeps the ACK sent for a stored message, for its verbatim resends (written with the
    /// next batch).
    pub(crate) fn record_ack(&self, id: MessageId, ack: Vec<u8>) {
        self.acks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, ack));
    }
}

/// A written batch on its way to the syncer, with whom to answer.
struct Written {
    batch: store::Written,
    replies: Vec<oneshot::Sender<Result<Accepted, String>>>,
}

fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock + Send + Sync>,
    mut rx: mpsc::Receiver<Job>,
    acks: PendingAcks,
) {
    // The syncers make batches durable while this thread writes the next ones: the store's
    // connection is never held through an fsync, and one fsync covers every batch written
    // meanwhile. Two of them, so that a batch written during one sync starts its own at once
    // rather than waiting for the first to end (the disk serves both together).
    let (to_syncer, from_writer) = std::sync::mpsc::channel::<Written>();
    let from_writer = Arc::new(Mutex::new(from_writer));
    let syncers: Vec<_> = (0..SYNCERS)
        .map(|i| {
            let store = Arc::clone(&store);
            let from_writer = Arc::clone(&from_writer);
            std::thread::Builder::new()
                .name(format!("hl7-syncer-{i}"))
                .spawn(move || sync_loop(&*store, &from_writer))
                .expect("spawn a syncer thread")
        })
        .collect();
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        flush_acks(&*store, &acks);
        if let Some(written) = write(&*store, &*clock, &mut jobs) {
            if to_syncer.send(written).is_err() {
                error!("the syncer stopped");
                break;
            }
        }
    }
    drop(to_syncer);
    for syncer in syncers {
        let _ = syncer.join();
    }
    flush_acks(&*store, &acks);
}

fn sync_loop(store: &dyn Store, from_writer: &Mutex<std::sync::mpsc::Receiver<Written>>) {
    loop {
        let written = {
            let from_writer = from_writer.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(first) = from_writer.recv() else {
                return;
            };
            let mut written = vec![first];
            written.extend(from_writer.try_iter());
            written
        };
        let started = std::time::Instant::now();
        let (batches, replies): (Vec<_>, Vec<_>) =
            written.into_iter().map(|w| (w.batch, w.replies)).unzip();
        let count = batches.len();
        match store.sync(batches) {
            Ok(accepted) => {
                for (accepted, replies) in accepted.into_iter().zip(replies) {
                    for (accepted, reply) in accepted.into_iter().zip(replies) {
                        // A handler that gave up (connection closed) no longer listens: the
                        // message is stored all the same, and a resend will be recognised.
                        let _ = reply.send(Ok(accepted));
                    }
                }
            }
            Err(e) => {
                // Committed but not known durable: the sender is told to resend (CE/AE/NAK);
                // the resend is recognised as a duplicate of what was stored.
                error!(error = %e, "cannot make stored messages durable");
                let reason = e.to_string();
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(reason.clone()));
                }
            }
        }
        tracing::trace!(
            batches = count,
            micros = started.elapsed().as_micros() as u64,
            "sync"
        );
    }
}

fn flush_acks(store: &dyn Store, acks: &Mutex<Vec<(MessageId, Vec<u8>)>>) {
    let pending = std::mem::take(&mut *acks.lock().unwrap_or_else(|p| p.into_inner()));
    if pending.is_empty() {
        return;
    }
    let refs: Vec<(MessageId, &[u8])> = pending.iter().map(|(id, a)| (*id, a.as_slice())).collect();
    if let Err(e) = store.store_acks(&refs) {
        // Not a loss: a resend of these messages gets an ACK rebuilt from the stored message.
        warn!(error = %e, count = refs.len(), "cannot record sent ACKs");
    }
}

/// Writes the jobs' messages in one transaction; `None` (every job answered) when it failed.
fn write(store: &dyn Store, clock: &dyn Clock, jobs: &mut Vec<Job>) -> Option<Written> {
    let deliveries: Vec<Vec<Delivery<'_>>> = jobs
        .iter()
        .map(|job| match &job.plan {
            Plan::Route(outputs) => outputs
                .iter()
                .map(|o| Delivery {
                    destination: &o.destination,
                    payload: &o.payload,
                })
                .collect(),
            Plan::Error(_) => Vec::new(),
        })
        .collect();
    let batch: Vec<Accept<'_>> = jobs
        .iter()
        .zip(&deliveries)
        .map(|(job, deliveries)| Accept {
            inbound: &job.inbound,
            disposition: match &job.plan {
                Plan::Route(_) => Disposition::Route(deliveries),
                Plan::Error(reason) => Disposition::Error(reason),
            },
            ack: job.ack.as_deref(),
            application_ack: job.application_ack.as_ref().map(|o| Delivery {
                destination: &o.destination,
                payload: &o.payload,
            }),
        })
        .collect();
    let started = std::time::Instant::now();
    let result = store.write_batch(&batch, clock.now());
    tracing::trace!(
        messages = batch.len(),
        micros = started.elapsed().as_micros() as u64,
        "group commit written"
    );
    drop(batch);
    drop(deliveries);
    let replies = jobs.drain(..).map(|job| job.reply);
    match result {
        Ok(batch) => Some(Written {
            batch,
            replies: replies.collect(),
        }),
        Err(e) => {
            error!(error = %e, count = replies.len(), "cannot store inbound messages");
            let reason = e.to_string();
            for reply in replies {
                let _ = reply.send(Err(reason.clone()));
            }
            None
        }
    }
}
