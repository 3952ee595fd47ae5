//! Alerts: rules on queue depth and age, error rate, destinations down, idle channels and
//! control ID reuse, evaluated every [`AlertConfig::interval`] and whenever the engine reports
//! an event; each transition (firing, resolved) goes to the log (`tracing` warn) and, when
//! configured, to a webhook as JSON:
//!
//! ```json
//! {"rule": "queue_depth", "subject": "pharmacy", "state": "firing",
//!  "value": 1520, "threshold": 1000, "at": "2024-11-27T02:14:05.120Z"}
//! ```
//!
//! A rule fires once when its value goes above its threshold and resolves once when it comes
//! back, not at every evaluation (see [`Rule`] for each rule's value).

mod rules;
mod webhook;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::warn;

pub use rules::{AlertState, FiringAlert, Notification, Rule};
pub use webhook::WebhookError;

use self::rules::{Evaluator, Snapshot};
use self::webhook::Webhook;
use crate::engine::EngineHandle;

/// Which alerts, how often, and where they go.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    rules: Vec<Rule>,
    interval: Duration,
    webhook: Option<String>,
    webhook_timeout: Duration,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig::new()
    }
}

impl AlertConfig {
    /// No rules yet; evaluated every 15 s; no webhook (the log only).
    pub fn new() -> AlertConfig {
        AlertConfig {
            rules: Vec::new(),
            interval: Duration::from_secs(15),
            webhook: None,
            webhook_timeout: Duration::from_secs(10),
        }
    }

    /// The default rules: more than 1000 items queued for a destination, its head waiting
    /// longer than 10 minutes, a destination failing for longer than 5 minutes, more than 10
    /// errors a minute on a channel, and any control ID reuse (resolved after an hour without
    /// one). Idle channels are not watched by default (quiet nights are normal).
    pub fn with_default_rules() -> AlertConfig {
        AlertConfig::new()
            .rule(Rule::queue_depth(1000))
            .rule(Rule::oldest_queued(Duration::from_secs(600)))
            .rule(Rule::destination_down(Duration::from_secs(300)))
            .rule(Rule::error_rate(10.0))
            .rule(Rule::control_id_reuse(Duration::from_secs(3600)))
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> AlertConfig {
        self.rules.push(rule);
        self
    }

    /// How often every rule is evaluated (default 15 s; events evaluate the rules that need
    /// no store query at once).
    pub fn interval(mut self, interval: Duration) -> AlertConfig {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// POSTs each notification to this `http://` URL.
    pub fn webhook(mut self, url: impl Into<String>) -> AlertConfig {
        self.webhook = Some(url.into());
        self
    }

    /// How long one webhook POST may take (default 10 s); each notification is tried 3 times.
    pub fn webhook_timeout(mut self, timeout: Duration) -> AlertConfig {
        self.webhook_timeout = timeout;
        self
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub(crate) fn check(&self) -> Result<(), WebhookError> {
        if let Some(url) = &self.webhook {
            Webhook::new(url, self.webhook_timeout)?;
        }
        Ok(())
    }
}

/// The alerts firing now, shared with the API and the metrics.
#[derive(Debug, Default)]
pub(crate) struct Board {
    firing: Mutex<Vec<FiringAlert>>,
    rules: Mutex<Vec<Rule>>,
}

impl Board {
    pub(crate) fn firing(&self) -> Vec<FiringAlert> {
        self.firing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn rules(&self) -> Vec<Rule> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, firing: Vec<FiringAlert>) {
        *self.firing.lock().unwrap_or_else(|p| p.into_inner()) = firing;
    }
}

/// Starts evaluating; the tasks end when `shutdown` is cancelled.
pub(crate) fn start(
    config: AlertConfig,
    engine: EngineHandle,
    board: Arc<Board>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, WebhookError> {
    let (tx, webhook_task) = match &config.webhook {
        Some(url) => {
            let hook = Webhook::new(url, config.webhook_timeout)?;
            let (tx, rx) = mpsc::channel(1024);
            (Some(tx), Some(tokio::spawn(hook.run(rx))))
        }
        None => (None, None),
    };
    *board.rules.lock().unwrap_or_else(|p| p.into_inner()) = config.rules.clone();
    let mut evaluator = Evaluator::new(config.rules, engine.now().unix_millis());
    let interval = config.interval;
    Ok(tokio::spawn(async move {
        let mut events = engine.subscribe();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let full = tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => true,
                event = events.recv() => {
                    match event {
                        Ok(event) => evaluator.observe(&event, engine.now().unix_millis()),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            warn!(missed = n, "alerts fell behind the engine's events");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                    false
                }
            };
            let snapshot = snapshot(&engine, full && evaluator.reads_queues()).await;
            for note in evaluator.evaluate(&snapshot) {
                warn!(rule = %note.rule, subject = %note.subject, state = note.state.as_str(),
                    value = note.value, threshold = note.threshold, "alert");
                if let Some(tx) = &tx {
                    if tx.try_send(note).is_err() {
                        warn!("alert webhook queue full; notification dropped");
                    }
                }
            }
            board.set(evaluator.firing());
        }
        drop(tx);
        if let Some(task) = webhook_task {
            // Let the notifications already queued go out, within bounds.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }))
}

/// What the rules look at now; the store's queue figures only when `queues`.
async fn snapshot(engine: &EngineHandle, queues: bool) -> Snapshot {
    let queues = if queues {
        let store = Arc::clone(engine.store());
        match tokio::task::spawn_blocking(move || store.queue_stats()).await {
            Ok(Ok(q)) => Some(q),
            Ok(Err(e)) => {
                warn!(error = %e, "alerts: cannot read the queues");
                None
            }
            Err(e) => {
                warn!(error = %e, "alerts: queue task failed");
                None
            }
        }
    } else {
        None
    };
    Snapshot {
        now: engine.now().unix_millis(),
        queues,
        destinations: engine
            .destinations()
            .map(|(name, s)| (name.to_owned(), s.down_since_ms.load(Ordering::Relaxed)))
            .collect(),
        channels: engine
            .channels()
            .map(|(name, s)| {
                (
                    name.to_owned(),
                    s.errors.load(Ordering::Relaxed) + s.store_failures.load(Ordering::Relaxed),
                    s.last_received_ms.load(Ordering::Relaxed),
                )
            })
            .collect(),
    }
}
