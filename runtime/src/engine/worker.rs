//! The delivery worker of one destination: claim the head of its queue, deliver in order,
//! file each verdict, back off after a failure.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::destination::{Deliver, RetryPolicy, Verdict};
use super::shared::Shared;
use super::stats::{DestinationStats, Event};
use crate::ack::Timestamp;
use crate::store::{ClaimRequest, Claimed, Finish};

/// Longest sleep between looks at an idle queue: items routed by another process (or retry
/// times reached) are noticed within this.
const POLL: Duration = Duration::from_millis(500);

pub(crate) struct Worker {
    pub(crate) name: String,
    pub(crate) deliver: Box<dyn Deliver>,
    pub(crate) retry: RetryPolicy,
    pub(crate) batch: usize,
    pub(crate) lease: Duration,
    pub(crate) wake: Arc<Notify>,
    pub(crate) stats: Arc<DestinationStats>,
}

/// The outcome of a turn: its claims, or `None` (logged) when the store failed.
async fn joined(
    destination: &str,
    handle: tokio::task::JoinHandle<crate::store::Result<Vec<Claimed>>>,
) -> Option<Vec<Claimed>> {
    match handle.await {
        Ok(Ok(claims)) => Some(claims),
        Ok(Err(e)) => {
            warn!(%destination, error = %e,
                "cannot record deliveries or claim; they are delivered again after the lease ends");
            None
        }
        Err(e) => {
            warn!(%destination, error = %e, "store task failed");
            None
        }
    }
}

/// Waits for new items, the poll interval, or shutdown.
async fn idle(wake: &Notify, shutdown: &CancellationToken) {
    tokio::select! {
        () = wake.notified() => {}
        () = tokio::time::sleep(POLL) => {}
        () = shutdown.cancelled() => {}
    }
}

/// A verdict turned into a store report.
enum Filed {
    Done,
    Retry { error: String, retry_at: Timestamp },
    DeadLetter { reason: String },
}

/// A delivered (or failed) item with its verdict, to be filed.
type Verdicts = Vec<(Claimed, Filed, Option<Vec<u8>>)>;

impl Worker {
    pub(crate) async fn run(mut self, shared: Arc<Shared>, shutdown: CancellationToken) {
        let owner = format!("{}/{}", shared.instance, self.name);
        info!(destination = %self.name, "delivery worker started");
        let mut backoff_until: Option<Instant> = None;
        // Claimed ahead, while the batch before was delivered: delivered next.
        let mut carried: Vec<Claimed> = Vec::new();
        // The verdicts of the batch delivered last, filed with the next claim.
        let mut unfiled: Verdicts = Vec::new();
        loop {
            if shutdown.is_cancelled() || self.stats.paused.load(Ordering::Relaxed) {
                let (verdicts, claims) =
                    (std::mem::take(&mut unfiled), std::mem::take(&mut carried));
                if !verdicts.is_empty() || !claims.is_empty() {
                    self.turn(&shared, &owner, verdicts, claims, false).await;
                }
                if shutdown.is_cancelled() {
                    break;
                }
            }
            if let Some(until) = backoff_until.take() {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = shutdown.cancelled() => continue,
                }
            }
            if self.stats.paused.load(Ordering::Relaxed) {
                idle(&self.wake, &shutdown).await;
                continue;
            }
            let claims = if carried.is_empty() {
                let verdicts = std::mem::take(&mut unfiled);
                match self.turn(&shared, &owner, verdicts, Vec::new(), true).await {
                    Some(claims) => claims,
                    None => {
                        backoff_until = Some(Instant::now() + self.retry.initial);
                        continue;
                    }
                }
            } else {
                std::mem::take(&mut carried)
            };
            if claims.is_empty() {
                idle(&self.wake, &shutdown).await;
                continue;
            }
            // The next batch is claimed while this one is delivered, with the last batch's
            // verdicts: the store's commit is never waited for between two batches. Not for
            // batches of one item: each is filed before the next is sent, so a crash repeats
            // at most one delivery.
            let ahead = (self.batch > 1).then(|| {
                self.spawn_turn(
                    &shared,
                    &owner,
                    std::mem::take(&mut unfiled),
                    Vec::new(),
                    true,
                )
            });
            let (verdicts, untried, backoff) = self.deliver(&shared, claims, &shutdown).await;
            let next = match ahead {
                Some(ahead) => joined(&self.name, ahead).await.unwrap_or_default(),
                None => Vec::new(),
            };
            let stop = shutdown.is_cancelled() || self.stats.paused.load(Ordering::Relaxed);
            if backoff.is_some() || stop {
                // The failed item waits for its retry at the head, so nothing behind it may go
                // now: what was not tried, and the batch claimed ahead, are given back.
                let mut give_back = untried;
                give_back.extend(next);
                self.turn(&shared, &owner, verdicts, give_back, false).await;
                if let Some(wait) = backoff {
                    backoff_until = Some(Instant::now() + wait);
                }
            } else {
                unfiled = verdicts;
                carried = next;
            }
        }
        info!(destination = %self.name, "delivery worker stopped");
    }

    /// One turn of the store, waited for: files `verdicts`, gives back `untried` and, with
    /// `claim`, claims the next batch. `None` when the store failed.
    async fn turn(
        &mut self,
        shared: &Shared,
        owner: &str,
        verdicts: Verdicts,
        untried: Vec<Claimed>,
        claim: bool,
    ) -> Option<Vec<Claimed>> {
        let handle = self.spawn_turn(shared, owner, verdicts, untried, claim);
        joined(&self.name, handle).await
    }

    /// [`Worker::turn`], started: the store's blocking call runs while the caller goes on.
    fn spawn_turn(
        &self,
        shared: &Shared,
        owner: &str,
        verdicts: Verdicts,
        untried: Vec<Claimed>,
        claim: bool,
    ) -> tokio::task::JoinHandle<crate::store::Result<Vec<Claimed>>> {
        let now = shared.clock.now();
        let store = Arc::clone(&shared.store);
        let (name, batch, lease, owner) =
            (self.name.clone(), self.batch, self.lease, owner.to_owned());
        tokio::task::spawn_blocking(move || {
            let finishes: Vec<_> = verdicts
                .iter()
                .map(|(claim, filed, response)| {
                    let how = match filed {
                        Filed::Done => Finish::Done,
                        Filed::Retry { error, retry_at } => Finish::Retry {
                            error,
                            retry_at: *retry_at,
                        },
                        Filed::DeadLetter { reason } => Finish::DeadLetter { reason },
                    };
                    (claim, how, response.as_deref())
                })
                .collect();
            let next = ClaimRequest {
                destination: &name,
                max: batch,
                lease,
                owner: &owner,
            };
            store.report_and_claim(&finishes, &untried, claim.then_some(&next), now)
        })
    }

    /// Delivers `claims` in order until one fails (or the engine stops or pauses): the
    /// verdicts, the claims not tried, and the backoff after a failure.
    async fn deliver(
        &mut self,
        shared: &Shared,
        claims: Vec<Claimed>,
        shutdown: &CancellationToken,
    ) -> (Verdicts, Vec<Claimed>, Option<Duration>) {
        let mut verdicts: Verdicts = Vec::with_capacity(claims.len());
        let mut untried = Vec::new();
        let mut backoff = None;
        for claim in claims {
            // A pause takes effect before the next delivery, even of a batch claimed before it.
            let paused = self.stats.paused.load(Ordering::Relaxed);
            if shutdown.is_cancelled() || backoff.is_some() || paused {
                untried.push(claim);
                continue;
            }
            let started = Instant::now();
            let verdict = self.deliver.deliver(claim.item, &claim.payload).await;
            let (filed, response) = self.judge(shared, &claim, verdict, started.elapsed());
            if matches!(filed, Filed::Done) {
                crate::failpoint::hit("after_send_before_mark_done");
            }
            if let Filed::Retry { retry_at, .. } = &filed {
                let wait = retry_at
                    .unix_millis()
                    .saturating_sub(shared.clock.now().unix_millis());
                backoff = Some(Duration::from_millis(wait));
            }
            verdicts.push((claim, filed, response));
        }
        (verdicts, untried, backoff)
    }

    fn judge(
        &self,
        shared: &Shared,
        claim: &Claimed,
        verdict: Verdict,
        took: Duration,
    ) -> (Filed, Option<Vec<u8>>) {
        let now = shared.clock.now();
        let stats = &self.stats;
        let (filed, response) = match verdict {
            Verdict::Delivered { response } => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                stats.observe_latency(took);
                stats
                    .last_delivered_ms
                    .store(now.unix_millis(), Ordering::Relaxed);
                stats.down_since_ms.store(0, Ordering::Relaxed);
                debug!(destination = %self.name, item = %claim.item, "delivered");
                return (Filed::Done, response);
            }
            Verdict::Failed { error, response } => {
                (self.retry_or(claim, error, None, now), response)
            }
            Verdict::Error { error, response } => {
                let limit = self.retry.error_retries;
                (self.retry_or(claim, error, Some(limit), now), response)
            }
            Verdict::Rejected { reason, response } => (Filed::DeadLetter { reason }, response),
        };
        stats.failed.fetch_add(1, Ordering::Relaxed);
        let _ = stats.down_since_ms.compare_exchange(
            0,
            now.unix_millis(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        match &filed {
            Filed::Retry { error, retry_at } => {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                warn!(destination = %self.name, item = %claim.item, attempt = claim.attempt,
                    %error, "delivery failed; will retry");
                shared.emit(Event::DeliveryFailed {
                    destination: self.name.clone(),
                    item: claim.item,
                    attempt: claim.attempt,
                    error: error.clone(),
                    retry_at: *retry_at,
                });
            }
            Filed::DeadLetter { reason } => {
                stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                warn!(destination = %self.name, item = %claim.item, %reason,
                    "item dead-lettered");
                shared.emit(Event::DeadLettered {
                    destination: self.name.clone(),
                    item: claim.item,
                    message: claim.message_id,
                    reason: reason.clone(),
                });
            }
            Filed::Done => {}
        }
        (filed, response)
    }

    /// A retry with backoff, or a dead letter once `limit` retries are spent.
    fn retry_or(
        &self,
        claim: &Claimed,
        error: String,
        limit: Option<u32>,
        now: Timestamp,
    ) -> Filed {
        if limit.is_some_and(|limit| claim.attempt > limit) {
            return Filed::DeadLetter {
                reason: format!("{error} (after {} attempts)", claim.attempt),
            };
        }
        let delay = self.retry.delay(claim.attempt);
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        Filed::Retry {
            error,
            retry_at: Timestamp::from_unix_millis(now.unix_millis().saturating_add(millis)),
        }
    }
}
