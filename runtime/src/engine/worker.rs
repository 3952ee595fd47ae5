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

impl Worker {
    pub(crate) async fn run(mut self, shared: Arc<Shared>, shutdown: CancellationToken) {
        let owner = format!("{}/{}", shared.instance, self.name);
        info!(destination = %self.name, "delivery worker started");
        let mut backoff_until: Option<Instant> = None;
        // The batch claimed with the previous batch's reports, delivered next.
        let mut carried: Vec<Claimed> = Vec::new();
        loop {
            if shutdown.is_cancelled() || self.stats.paused.load(Ordering::Relaxed) {
                self.give_back(&shared, std::mem::take(&mut carried)).await;
                if shutdown.is_cancelled() {
                    break;
                }
            }
            if let Some(until) = backoff_until.take() {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = shutdown.cancelled() => break,
                }
            }
            if self.stats.paused.load(Ordering::Relaxed) {
                idle(&self.wake, &shutdown).await;
                continue;
            }
            let claims = if carried.is_empty() {
                match self.claim(&shared, &owner).await {
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
            let (backoff, next) = self.deliver_batch(&shared, claims, &owner, &shutdown).await;
            carried = next;
            if let Some(wait) = backoff {
                backoff_until = Some(Instant::now() + wait);
            }
        }
        info!(destination = %self.name, "delivery worker stopped");
    }

    /// Claims the head of the queue; `None` when the store failed.
    async fn claim(&mut self, shared: &Shared, owner: &str) -> Option<Vec<Claimed>> {
        let (store, name, batch, lease, owner) = (
            Arc::clone(&shared.store),
            self.name.clone(),
            self.batch,
            self.lease,
            owner.to_owned(),
        );
        let now = shared.clock.now();
        let claimed = tokio::task::spawn_blocking(move || {
            store.claim_batch(&name, batch, lease, &owner, now)
        })
        .await;
        match claimed {
            Ok(Ok(claims)) => Some(claims),
            Ok(Err(e)) => {
                warn!(destination = %self.name, error = %e, "cannot claim from the queue");
                None
            }
            Err(e) => {
                warn!(destination = %self.name, error = %e, "claim task failed");
                Some(Vec::new())
            }
        }
    }

    /// Gives back claims that will not be tried now (shutdown, pause).
    async fn give_back(&mut self, shared: &Shared, claims: Vec<Claimed>) {
        if claims.is_empty() {
            return;
        }
        let store = Arc::clone(&shared.store);
        match tokio::task::spawn_blocking(move || store.release(&claims)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(destination = %self.name, error = %e,
                "cannot give back claims; they are delivered after the lease ends"),
            Err(e) => warn!(destination = %self.name, error = %e, "release task failed"),
        }
    }

    /// Delivers `claims` in order, then in one commit files the verdicts, gives back what was
    /// not tried and, unless a delivery failed or the engine stops, claims the next batch.
    /// Returns the backoff when a delivery failed, and the next batch.
    async fn deliver_batch(
        &mut self,
        shared: &Shared,
        claims: Vec<Claimed>,
        owner: &str,
        shutdown: &CancellationToken,
    ) -> (Option<Duration>, Vec<Claimed>) {
        let mut reports: Vec<(Claimed, Filed, Option<Vec<u8>>)> = Vec::with_capacity(claims.len());
        let mut untried = Vec::new();
        let mut backoff = None;
        let mut claims = claims.into_iter();
        for claim in claims.by_ref() {
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
            reports.push((claim, filed, response));
        }
        // After a failure the head waits for its retry time, so there is nothing to claim.
        let claim_next = backoff.is_none()
            && !shutdown.is_cancelled()
            && !self.stats.paused.load(Ordering::Relaxed);
        let now = shared.clock.now();
        let store = Arc::clone(&shared.store);
        let (name, batch, lease, owner) =
            (self.name.clone(), self.batch, self.lease, owner.to_owned());
        let result = tokio::task::spawn_blocking(move || {
            let finishes: Vec<_> = reports
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
            store.report_and_claim(&finishes, &untried, claim_next.then_some(&next), now)
        })
        .await;
        let next = match result {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                warn!(destination = %self.name, error = %e,
                    "cannot record deliveries; they will be delivered again after the lease ends");
                Vec::new()
            }
            Err(e) => {
                warn!(destination = %self.name, error = %e, "report task failed");
                Vec::new()
            }
        };
        (backoff, next)
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
