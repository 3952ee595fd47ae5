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
use crate::store::{Claimed, Finish};

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
        loop {
            if shutdown.is_cancelled() {
                break;
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
            let claims = {
                let (store, name, batch, lease, owner) = (
                    Arc::clone(&shared.store),
                    self.name.clone(),
                    self.batch,
                    self.lease,
                    owner.clone(),
                );
                let now = shared.clock.now();
                tokio::task::spawn_blocking(move || {
                    store.claim_batch(&name, batch, lease, &owner, now)
                })
                .await
            };
            let claims = match claims {
                Ok(Ok(claims)) => claims,
                Ok(Err(e)) => {
                    warn!(destination = %self.name, error = %e, "cannot claim from the queue");
                    backoff_until = Some(Instant::now() + self.retry.initial);
                    continue;
                }
                Err(e) => {
                    warn!(destination = %self.name, error = %e, "claim task failed");
                    continue;
                }
            };
            if claims.is_empty() {
                idle(&self.wake, &shutdown).await;
                continue;
            }
            if let Some(wait) = self.deliver_batch(&shared, claims, &shutdown).await {
                backoff_until = Some(Instant::now() + wait);
            }
        }
        info!(destination = %self.name, "delivery worker stopped");
    }

    /// Delivers `claims` in order and files the verdicts in one commit; gives back what was
    /// not tried. Returns the backoff when a delivery failed.
    async fn deliver_batch(
        &mut self,
        shared: &Shared,
        claims: Vec<Claimed>,
        shutdown: &CancellationToken,
    ) -> Option<Duration> {
        let mut reports: Vec<(Claimed, Filed, Option<Vec<u8>>)> = Vec::with_capacity(claims.len());
        let mut untried = Vec::new();
        let mut backoff = None;
        let mut claims = claims.into_iter();
        for claim in claims.by_ref() {
            if shutdown.is_cancelled() || backoff.is_some() {
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
        let now = shared.clock.now();
        let store = Arc::clone(&shared.store);
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
            store.finish_many(&finishes, now)?;
            store.release(&untried)
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(destination = %self.name, error = %e,
                "cannot record deliveries; they will be delivered again after the lease ends"),
            Err(e) => warn!(destination = %self.name, error = %e, "report task failed"),
        }
        backoff
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
