//! The applier: a thread that copies the ingest log's records into SQLite, many batches per
//! transaction, in the order they were written, and runs the queue's bookkeeping (claims and
//! delivery reports) in the same transactions.
//!
//! Between its write to the log and its application, a record's messages are *pending*: the
//! duplicate check finds them here ([`Applier::pending`]), and every operation of the store
//! that does not run here first waits until what was written before it is applied
//! ([`Applier::caught_up`]), so a caller reads its own writes as before. Memory is bounded: a
//! writer waits while more than [`MAX_QUEUED_BYTES`] of records wait to be applied.
//!
//! A *turn* ([`Applier::turn`]) is an operation run inside the applier's next transaction,
//! after every record written before it was queued, in a savepoint of its own (its failure
//! undoes only itself); its caller gets its result once that transaction committed. A
//! delivery worker's claims and reports are turns: they never wait for a transaction of
//! their own, and thousands of messages and the deliveries of three destinations share one
//! commit. Without turns waiting, the applier lets records gather for up to [`GATHER`], so a
//! transaction writes each page it touches once for more messages.
//!
//! When applying fails (disk full, say), the records stay queued and in the log; the applier
//! tries again with a growing pause, and meanwhile writers, waiters and turns get
//! [`Error::Unavailable`] rather than waiting without end.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{error, info};

use super::error::{Error, Result};
use crate::ack::{DedupeKey, PayloadHash};

/// Records waiting to be applied, in bytes, past which writers wait.
const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// Most bytes of records applied in one transaction.
const MAX_APPLY_BYTES: usize = 16 * 1024 * 1024;

/// Most bytes of records applied in a transaction that turns wait for.
const TURN_APPLY_BYTES: usize = 512 * 1024;

/// How long the applier lets records gather before a transaction, unless someone waits for
/// them or [`GATHER_BYTES`] have come.
const GATHER: Duration = Duration::from_millis(50);

/// How long a turn waits for others to share its transaction.
const TURN_GATHER: Duration = Duration::from_millis(3);

/// Queued bytes that start a transaction at once.
const GATHER_BYTES: usize = 2 * 1024 * 1024;

/// A record written to the log and not applied yet.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) seq: u64,
    /// The whole record, header included.
    pub(super) record: Vec<u8>,
    /// Its messages' duplicate keys and ids, to take out of the pending ones once applied.
    keys: Vec<(DedupeKey, u64)>,
}

/// A pending message, as the duplicate check needs it.
#[derive(Debug, Clone)]
pub(super) struct PendingMessage {
    pub(super) id: u64,
    pub(super) hash: PayloadHash,
    pub(super) ack: Option<Vec<u8>>,
}

/// An operation run in the applier's transaction: see the module documentation.
pub(super) trait Turn: Send {
    /// Runs inside the transaction, in a savepoint of its own.
    fn run(&mut self, tx: &mut rusqlite::Transaction<'_>);

    /// Hands the result to the caller, once the transaction committed (`Ok`) or failed.
    fn finish(self: Box<Self>, committed: Result<()>);
}

/// What the applier does with records and turns, and after.
pub(super) trait Apply: Send + 'static {
    /// Applies the records, in order, then runs the turns, in one transaction that also
    /// records the last record's sequence number as applied.
    fn apply(&mut self, records: &[Arc<Queued>], turns: &mut [Box<dyn Turn>]) -> Result<()>;

    /// Called after each transaction, with the last record applied (recycling the log).
    fn applied(&mut self, seq: u64) -> Result<()>;
}

#[derive(Debug)]
pub(super) struct Applier {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Records or turns were queued, a caller waits, or the applier is asked to stop.
    work: Condvar,
    /// Records were applied, or applying failed.
    progress: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<Queued>>,
    queued_bytes: usize,
    /// Turns, each with the last record written before it and when it was queued.
    turns: VecDeque<(u64, Box<dyn Turn>, Instant)>,
    written: u64,
    applied: u64,
    /// Turns queued and finished so far, for [`Applier::caught_up`].
    turns_queued: u64,
    turns_finished: u64,
    pending: HashMap<DedupeKey, Vec<PendingMessage>>,
    failure: Option<String>,
    stopping: bool,
    stopped: bool,
    /// Callers waiting in [`Applier::caught_up`] or [`Applier::wait_for_room`].
    waiters: usize,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("queued", &self.queue.len())
            .field("queued_bytes", &self.queued_bytes)
            .field("turns", &self.turns.len())
            .field("written", &self.written)
            .field("applied", &self.applied)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// Starts the thread; everything up to `applied` is in SQLite already.
    pub(super) fn start(applied: u64, apply: impl Apply) -> Result<Applier> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                written: applied,
                applied,
                ..State::default()
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hl7-applier".to_owned())
            .spawn(move || run(&thread_shared, apply))
            .map_err(|e| Error::Unavailable(format!("cannot start the applier thread: {e}")))?;
        Ok(Applier {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Waits while too many bytes wait to be applied; refuses while applying fails (what
    /// the log holds is applied once the database works again, but nothing more is taken
    /// meanwhile: the senders keep their messages). Call before writing to the log.
    pub(super) fn wait_for_room(&self) -> Result<()> {
        let mut state = lock(&self.shared.state);
        loop {
            if let Some(failure) = &state.failure {
                return Err(Error::Unavailable(failure.clone()));
            }
            if state.queued_bytes <= MAX_QUEUED_BYTES {
                return Ok(());
            }
            state = self.wait_for_progress(state);
        }
    }

    /// Queues a record just written to the log, with its messages' duplicate keys. Called
    /// while holding the log's writer, so records are queued in sequence order.
    pub(super) fn queue(
        &self,
        seq: u64,
        record: Vec<u8>,
        pending: Vec<(DedupeKey, PendingMessage)>,
    ) {
        let mut state = lock(&self.shared.state);
        let mut keys = Vec::with_capacity(pending.len());
        for (key, message) in pending {
            if key.is_usable() {
                let id = message.id;
                state.pending.entry(key.clone()).or_default().push(message);
                keys.push((key, id));
            }
        }
        state.queued_bytes += record.len();
        state.written = seq;
        state
            .queue
            .push_back(Arc::new(Queued { seq, record, keys }));
        drop(state);
        self.shared.work.notify_one();
    }

    /// Queues a turn for the next transaction; it is finished with an error, not run, when
    /// the applier has stopped.
    pub(super) fn turn(&self, turn: Box<dyn Turn>) {
        let mut state = lock(&self.shared.state);
        if state.stopped {
            drop(state);
            turn.finish(Err(Error::Unavailable("the store is closed".to_owned())));
            return;
        }
        let after = state.written;
        state.turns.push_back((after, turn, Instant::now()));
        state.turns_queued += 1;
        drop(state);
        self.shared.work.notify_one();
    }

    /// The pending messages with this key, oldest first. **Look here before looking in
    /// SQLite**: a message leaves this list only after its transaction committed.
    pub(super) fn pending(&self, key: &DedupeKey) -> Vec<PendingMessage> {
        lock(&self.shared.state)
            .pending
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// The last record written.
    pub(super) fn written(&self) -> u64 {
        lock(&self.shared.state).written
    }

    /// Waits until record `seq` is applied, in the applier's own time: unlike
    /// [`Applier::caught_up`], this does not cut the gathering short. For a claim that found
    /// nothing while records wait to be applied.
    pub(super) fn applied_to(&self, seq: u64) -> Result<()> {
        let mut state = lock(&self.shared.state);
        while state.applied < seq {
            if let Some(failure) = &state.failure {
                return Err(Error::Unavailable(failure.clone()));
            }
            state = wait(&self.shared.progress, state);
        }
        Ok(())
    }

    /// Waits until every record written and every turn queued before this call is applied
    /// and committed.
    pub(super) fn caught_up(&self) -> Result<()> {
        let mut state = lock(&self.shared.state);
        let target = state.written;
        let turns = state.turns_queued;
        while state.applied < target || state.turns_finished < turns {
            if let Some(failure) = &state.failure {
                return Err(Error::Unavailable(failure.clone()));
            }
            state = self.wait_for_progress(state);
        }
        Ok(())
    }

    /// Waits for the applier's next transaction, which then starts without gathering.
    fn wait_for_progress<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.waiters += 1;
        self.shared.work.notify_one();
        let mut state = wait(&self.shared.progress, state);
        state.waiters -= 1;
        state
    }

    /// Applies what is queued, runs the turns, and stops the thread. After a failure, what
    /// could not be applied stays in the log, for the next open.
    pub(super) fn stop(&self) {
        lock(&self.shared.state).stopping = true;
        self.shared.work.notify_all();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Applier {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, mut apply: impl Apply) {
    let mut pause = Duration::from_millis(50);
    loop {
        let (records, mut turns) = {
            let mut state = lock(&shared.state);
            while state.queue.is_empty() && state.turns.is_empty() && !state.stopping {
                state = wait(&shared.work, state);
            }
            if state.queue.is_empty() && state.turns.is_empty() {
                state.stopped = true;
                return;
            }
            // Larger transactions write each page they touch once for more messages: unless
            // somebody waits, give the writers a moment to add to them.
            // Turns wait for the commit, so for them only briefly: the turns of the other
            // workers and what the writers add meanwhile share the transaction.
            let since = Instant::now();
            loop {
                let deadline = match state.turns.front() {
                    Some((_, _, queued)) => *queued + TURN_GATHER,
                    None => since + GATHER,
                };
                let now = Instant::now();
                if state.queued_bytes >= GATHER_BYTES
                    || state.waiters > 0
                    || state.stopping
                    || now >= deadline
                {
                    break;
                }
                state = shared
                    .work
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            // Turns wait for the commit: a shorter transaction then.
            let most = match state.turns.is_empty() {
                true => MAX_APPLY_BYTES,
                false => TURN_APPLY_BYTES,
            };
            let mut bytes = 0;
            let records: Vec<Arc<Queued>> = state
                .queue
                .iter()
                .take_while(|q| {
                    let first = bytes == 0;
                    bytes += q.record.len();
                    first || bytes <= most
                })
                .cloned()
                .collect();
            // A turn runs only once every record written before it is in the transaction.
            let last = records.last().map_or(state.applied, |q| q.seq);
            let ready = state
                .turns
                .iter()
                .take_while(|(after, _, _)| *after <= last)
                .count();
            let turns: Vec<Box<dyn Turn>> = state
                .turns
                .drain(..ready)
                .map(|(_, turn, _)| turn)
                .collect();
            (records, turns)
        };
        let last = records.last().map(|q| q.seq);
        if last.is_some() {
            crate::failpoint::hit("before_apply");
        }
        match apply.apply(&records, &mut turns) {
            Ok(()) => {
                pause = Duration::from_millis(50);
                let finished = turns.len() as u64;
                for turn in turns {
                    turn.finish(Ok(()));
                }
                let Some(last) = last else {
                    lock(&shared.state).turns_finished += finished;
                    shared.progress.notify_all();
                    continue;
                };
                let mut state = lock(&shared.state);
                state.turns_finished += finished;
                let recovered = state.failure.take().is_some();
                for done in &records {
                    state.queue.pop_front();
                    state.queued_bytes -= done.record.len();
                    for (key, id) in &done.keys {
                        let emptied = state.pending.get_mut(key).is_some_and(|list| {
                            list.retain(|m| m.id != *id);
                            list.is_empty()
                        });
                        if emptied {
                            state.pending.remove(key);
                        }
                    }
                }
                state.applied = last;
                drop(state);
                shared.progress.notify_all();
                if recovered {
                    info!("ingest log applied to the database again");
                }
                if let Err(e) = apply.applied(last) {
                    error!(error = %e, "ingest log: cannot recycle applied segments");
                }
            }
            Err(e) => {
                error!(error = %e, retry_in_ms = pause.as_millis() as u64,
                    "ingest log: cannot apply records to the database; they are kept");
                let reason = format!("cannot apply the ingest log: {e}");
                let finished = turns.len() as u64;
                for turn in turns {
                    turn.finish(Err(Error::Unavailable(reason.clone())));
                }
                let stopping = {
                    let mut state = lock(&shared.state);
                    state.turns_finished += finished;
                    state.failure = Some(reason);
                    state.stopping
                };
                shared.progress.notify_all();
                if stopping {
                    let mut state = lock(&shared.state);
                    state.stopped = true;
                    let left: Vec<_> = state.turns.drain(..).map(|(_, turn, _)| turn).collect();
                    state.turns_finished += left.len() as u64;
                    drop(state);
                    for turn in left {
                        turn.finish(Err(Error::Unavailable("the store is closed".to_owned())));
                    }
                    shared.progress.notify_all();
                    return;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn wait<'a, T>(c: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    c.wait(g).unwrap_or_else(|p| p.into_inner())
}
