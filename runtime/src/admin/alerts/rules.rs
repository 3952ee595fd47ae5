//! Alert rules and their evaluation, without I/O: a [`Snapshot`] of the engine in, the
//! transitions (firing, resolved) out.
//!
//! Each rule watches every destination or channel (or the one it is restricted to); a
//! (rule, subject) pair fires once when its value goes above the threshold and resolves once
//! when it comes back to or below it, whatever the number of evaluations in between.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::ack::Timestamp;
use crate::engine::Event;
use crate::store::QueueStats;

/// One alert rule: what it watches, its threshold, and optionally the one destination or
/// channel it applies to. A rule fires when its value goes **above** the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    kind: Kind,
    subject: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    QueueDepth { above: u64 },
    OldestQueued { above: Duration },
    ErrorRate { per_minute: f64, window: Duration },
    DestinationDown { above: Duration },
    ChannelIdle { above: Duration },
    ControlIdReuse { window: Duration },
}

impl Rule {
    /// `queue_depth`: a destination has more than `above` items waiting.
    pub fn queue_depth(above: u64) -> Rule {
        Rule::new(Kind::QueueDepth { above })
    }

    /// `oldest_queued_age`: the head of a destination's queue has waited longer than
    /// `above` (value and threshold in seconds).
    pub fn oldest_queued(above: Duration) -> Rule {
        Rule::new(Kind::OldestQueued { above })
    }

    /// `error_rate`: a channel stores more than `per_minute` messages per minute in the error
    /// state (or fails to store them), over the last minute.
    pub fn error_rate(per_minute: f64) -> Rule {
        Rule::error_rate_over(per_minute, Duration::from_secs(60))
    }

    /// [`Rule::error_rate`] measured over `window` instead of a minute (still per minute).
    pub fn error_rate_over(per_minute: f64, window: Duration) -> Rule {
        Rule::new(Kind::ErrorRate {
            per_minute,
            window: window.max(Duration::from_millis(1)),
        })
    }

    /// `destination_down`: a destination's deliveries have been failing for longer than
    /// `above` (value and threshold in seconds).
    pub fn destination_down(above: Duration) -> Rule {
        Rule::new(Kind::DestinationDown { above })
    }

    /// `channel_idle`: a channel has received nothing for longer than `above` (counted from
    /// the start of monitoring when it never received anything).
    pub fn channel_idle(above: Duration) -> Rule {
        Rule::new(Kind::ChannelIdle { above })
    }

    /// `control_id_reuse`: a channel stored a message whose control ID a stored message with
    /// other content already had; the value is the number of reuses within `window`, the
    /// threshold 0, so it fires at the first reuse and resolves after `window` without one.
    pub fn control_id_reuse(window: Duration) -> Rule {
        Rule::new(Kind::ControlIdReuse { window })
    }

    /// Restricts the rule to one destination or channel.
    pub fn only(mut self, subject: impl Into<String>) -> Rule {
        self.subject = Some(subject.into());
        self
    }

    fn new(kind: Kind) -> Rule {
        Rule {
            kind,
            subject: None,
        }
    }

    /// The rule's name, as the webhook and the API write it.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::QueueDepth { .. } => "queue_depth",
            Kind::OldestQueued { .. } => "oldest_queued_age",
            Kind::ErrorRate { .. } => "error_rate",
            Kind::DestinationDown { .. } => "destination_down",
            Kind::ChannelIdle { .. } => "channel_idle",
            Kind::ControlIdReuse { .. } => "control_id_reuse",
        }
    }

    /// The threshold the value is compared with (counts, seconds, or errors per minute).
    pub fn threshold(&self) -> f64 {
        match self.kind {
            Kind::QueueDepth { above } => above as f64,
            Kind::OldestQueued { above }
            | Kind::DestinationDown { above }
            | Kind::ChannelIdle { above } => above.as_secs_f64(),
            Kind::ErrorRate { per_minute, .. } => per_minute,
            Kind::ControlIdReuse { .. } => 0.0,
        }
    }

    /// The destination or channel the rule is restricted to.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Whether the rule needs the store's queue figures.
    fn reads_queues(&self) -> bool {
        matches!(
            self.kind,
            Kind::QueueDepth { .. } | Kind::OldestQueued { .. }
        )
    }

    fn applies_to(&self, subject: &str) -> bool {
        self.subject.as_deref().is_none_or(|s| s == subject)
    }
}

/// A rule crossing its threshold, one way or the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The rule's name ([`Rule::name`]).
    pub rule: String,
    /// The destination or channel.
    pub subject: String,
    /// Firing or resolved.
    pub state: AlertState,
    /// The value that crossed.
    pub value: f64,
    /// The rule's threshold.
    pub threshold: f64,
    /// When.
    pub at: Timestamp,
}

/// Whether a notification says the alert started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// The value went above the threshold.
    Firing,
    /// The value came back to or below it.
    Resolved,
}

impl AlertState {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// An alert firing now.
#[derive(Debug, Clone, PartialEq)]
pub struct FiringAlert {
    /// The rule's name.
    pub rule: String,
    /// The destination or channel.
    pub subject: String,
    /// The value at the last evaluation.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// Since when.
    pub since: Timestamp,
}

/// What the rules look at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) now: u64,
    /// `None` when this evaluation does not read the store (an event woke it).
    pub(crate) queues: Option<Vec<QueueStats>>,
    /// Destination name and `down_since_ms` (0 = up).
    pub(crate) destinations: Vec<(String, u64)>,
    /// Channel name, errors plus store failures so far, `last_received_ms` (0 = never).
    pub(crate) channels: Vec<(String, u64, u64)>,
}

/// The state kept between evaluations.
#[derive(Debug)]
pub(crate) struct Evaluator {
    rules: Vec<Rule>,
    started: u64,
    /// By (rule index, subject).
    firing: BTreeMap<(usize, String), FiringAlert>,
    /// Per channel: (time, error count) samples, oldest first.
    errors: BTreeMap<String, VecDeque<(u64, u64)>>,
    /// Per channel: times of control ID reuses.
    reuses: BTreeMap<String, VecDeque<u64>>,
}

impl Evaluator {
    pub(crate) fn new(rules: Vec<Rule>, started: u64) -> Evaluator {
        Evaluator {
            rules,
            started,
            firing: BTreeMap::new(),
            errors: BTreeMap::new(),
            reuses: BTreeMap::new(),
        }
    }

    /// Whether any rule needs the store's queue figures.
    pub(crate) fn reads_queues(&self) -> bool {
        self.rules.iter().any(Rule::reads_queues)
    }

    /// Notes an engine event (control ID reuses are counted from them).
    pub(crate) fn observe(&mut self, event: &Event, now: u64) {
        if let Event::ControlIdReuse { channel, .. } = event {
            self.reuses
                .entry(channel.clone())
                .or_default()
                .push_back(now);
        }
    }

    /// The alerts firing now.
    pub(crate) fn firing(&self) -> Vec<FiringAlert> {
        self.firing.values().cloned().collect()
    }

    /// Evaluates every rule on `snap`; returns the transitions.
    pub(crate) fn evaluate(&mut self, snap: &Snapshot) -> Vec<Notification> {
        let now = snap.now;
        self.sample_errors(snap);
        let longest_reuse_window = self
            .rules
            .iter()
            .filter_map(|r| match r.kind {
                Kind::ControlIdReuse { window } => Some(window),
                _ => None,
            })
            .max()
            .unwrap_or_default();
        for times in self.reuses.values_mut() {
            let horizon = now.saturating_sub(millis(longest_reuse_window));
            while times.front().is_some_and(|&t| t < horizon) {
                times.pop_front();
            }
        }

        let mut values: Vec<(usize, String, f64)> = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let mut add = |subject: &str, value: f64| {
                if rule.applies_to(subject) {
                    values.push((index, subject.to_owned(), value));
                }
            };
            match &rule.kind {
                Kind::QueueDepth { .. } | Kind::OldestQueued { .. } => {
                    let Some(queues) = &snap.queues else {
                        continue;
                    };
                    for (destination, _) in &snap.destinations {
                        let q = queues.iter().find(|q| &q.destination == destination);
                        let value = match rule.kind {
                            Kind::QueueDepth { .. } => q.map_or(0.0, |q| q.depth as f64),
                            _ => q
                                .and_then(|q| q.oldest_queued_at)
                                .map_or(0.0, |t| seconds(now.saturating_sub(t.unix_millis()))),
                        };
                        add(destination, value);
                    }
                }
                Kind::DestinationDown { .. } => {
                    for (destination, down_since) in &snap.destinations {
                        let value = if *down_since == 0 {
                            0.0
                        } else {
                            seconds(now.saturating_sub(*down_since))
                        };
                        add(destination, value);
                    }
                }
                Kind::ChannelIdle { .. } => {
                    for (channel, _, last) in &snap.channels {
                        let since = if *last == 0 { self.started } else { *last };
                        add(channel, seconds(now.saturating_sub(since)));
                    }
                }
                Kind::ErrorRate { window, .. } => {
                    for (channel, count, _) in &snap.channels {
                        let samples = self.errors.get(channel);
                        let value = samples.map_or(0.0, |s| rate(s, *count, now, *window));
                        add(channel, value);
                    }
                }
                Kind::ControlIdReuse { window } => {
                    for (channel, _, _) in &snap.channels {
                        let horizon = now.saturating_sub(millis(*window));
                        let count = self
                            .reuses
                            .get(channel)
                            .map_or(0, |t| t.iter().filter(|&&t| t >= horizon).count());
                        add(channel, count as f64);
                    }
                }
            }
        }

        let mut notes = Vec::new();
        for (index, subject, value) in values {
            let rule = &self.rules[index];
            let threshold = rule.threshold();
            let key = (index, subject);
            let above = value > threshold;
            match (self.firing.get_mut(&key), above) {
                (None, true) => {
                    let alert = FiringAlert {
                        rule: rule.name().to_owned(),
                        subject: key.1.clone(),
                        value,
                        threshold,
                        since: Timestamp::from_unix_millis(now),
                    };
                    notes.push(notification(&alert, AlertState::Firing, now));
                    self.firing.insert(key, alert);
                }
                (Some(alert), true) => alert.value = value,
                (Some(_), false) => {
                    if let Some(mut alert) = self.firing.remove(&key) {
                        alert.value = value;
                        notes.push(notification(&alert, AlertState::Resolved, now));
                    }
                }
                (None, false) => {}
            }
        }
        notes
    }

    /// Keeps, per channel, the error count samples of the longest error-rate window (plus
    /// the newest sample older than it, the baseline).
    fn sample_errors(&mut self, snap: &Snapshot) {
        let Some(window) = self
            .rules
            .iter()
            .filter_map(|r| match r.kind {
                Kind::ErrorRate { window, .. } => Some(window),
                _ => None,
            })
            .max()
        else {
            return;
        };
        let horizon = snap.now.saturating_sub(millis(window));
        for (channel, count, _) in &snap.channels {
            let samples = self.errors.entry(channel.clone()).or_default();
            samples.push_back((snap.now, *count));
            while samples.len() > 1 && samples.get(1).is_some_and(|&(t, _)| t <= horizon) {
                samples.pop_front();
            }
        }
    }
}

/// Errors per minute over `window`: from the newest sample at or before the window's start
/// (or the oldest one, when monitoring is younger than the window) to `count` now.
fn rate(samples: &VecDeque<(u64, u64)>, count: u64, now: u64, window: Duration) -> f64 {
    let horizon = now.saturating_sub(millis(window));
    let baseline = samples
        .iter()
        .rev()
        .find(|&&(t, _)| t <= horizon)
        .or_else(|| samples.front())
        .map_or(count, |&(_, c)| c);
    let errors = count.saturating_sub(baseline) as f64;
    errors * 60_000.0 / millis(window).max(1) as f64
}

fn notification(alert: &FiringAlert, state: AlertState, now: u64) -> Notification {
    Notification {
        rule: alert.rule.clone(),
        subject: alert.subject.clone(),
        state,
        value: alert.value,
        threshold: alert.threshold,
        at: Timestamp::from_unix_millis(now),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Event;
    use crate::store::MessageId;

    fn snap(now: u64) -> Snapshot {
        Snapshot {
            now,
            queues: Some(Vec::new()),
            destinations: vec![("ehr".into(), 0), ("lab".into(), 0)],
            channels: vec![("in".into(), 0, 0)],
        }
    }

    fn states(notes: &[Notification]) -> Vec<(String, String, &'static str)> {
        notes
            .iter()
            .map(|n| (n.rule.clone(), n.subject.clone(), n.state.as_str()))
            .collect()
    }

    #[test]
    fn queue_depth_fires_once_and_resolves_once() {
        let mut ev = Evaluator::new(vec![Rule::queue_depth(10)], 0);
        let deep = |now, depth| {
            let mut s = snap(now);
            s.queues = Some(vec![QueueStats {
                destination: "ehr".into(),
                depth,
                oldest_queued_at: None,
                errors: 0,
            }]);
            s
        };
        assert!(ev.evaluate(&deep(1, 10)).is_empty());
        let notes = ev.evaluate(&deep(2, 11));
        assert_eq!(
            states(&notes),
            [("queue_depth".into(), "ehr".into(), "firing")]
        );
        assert_eq!((notes[0].value, notes[0].threshold), (11.0, 10.0));
        assert!(ev.evaluate(&deep(3, 50)).is_empty());
        // An evaluation without the store keeps the state.
        let mut no_store = deep(4, 0);
        no_store.queues = None;
        assert!(ev.evaluate(&no_store).is_empty());
        assert_eq!(ev.firing().len(), 1);
        assert_eq!(ev.firing()[0].value, 50.0);
        let notes = ev.evaluate(&deep(5, 3));
        assert_eq!(
            states(&notes),
            [("queue_depth".into(), "ehr".into(), "resolved")]
        );
        assert!(ev.evaluate(&deep(6, 3)).is_empty());
    }

    #[test]
    fn oldest_age_and_down_and_idle() {
        let rules = vec![
            Rule::oldest_queued(Duration::from_secs(60)).only("lab"),
            Rule::destination_down(Duration::from_secs(30)),
            Rule::channel_idle(Duration::from_secs(100)),
        ];
        let mut ev = Evaluator::new(rules, 1_000);
        let mut s = snap(50_000);
        s.queues = Some(vec![
            QueueStats {
                destination: "lab".into(),
                depth: 1,
                oldest_queued_at: Some(Timestamp::from_unix_millis(0)),
                errors: 0,
            },
            QueueStats {
                destination: "ehr".into(),
                depth: 1,
                oldest_queued_at: Some(Timestamp::from_unix_millis(0)),
                errors: 0,
            },
        ]);
        s.destinations[0].1 = 30_000;
        assert!(ev.evaluate(&s).is_empty());
        s.now = 70_000;
        let notes = ev.evaluate(&s);
        assert_eq!(
            states(&notes),
            [
                ("oldest_queued_age".into(), "lab".into(), "firing"),
                ("destination_down".into(), "ehr".into(), "firing"),
            ]
        );
        s.now = 120_000;
        s.destinations[0].1 = 0;
        s.channels[0].2 = 119_000;
        let notes = ev.evaluate(&s);
        assert_eq!(
            states(&notes),
            [("destination_down".into(), "ehr".into(), "resolved")]
        );
        s.now = 300_000;
        let notes = ev.evaluate(&s);
        assert_eq!(
            states(&notes),
            [("channel_idle".into(), "in".into(), "firing")]
        );
    }

    #[test]
    fn error_rate_over_a_window() {
        let mut ev = Evaluator::new(vec![Rule::error_rate_over(30.0, Duration::from_secs(2))], 0);
        let at = |now, errors| Snapshot {
            channels: vec![("in".into(), errors, now)],
            ..snap(now)
        };
        assert!(ev.evaluate(&at(0, 0)).is_empty());
        assert!(ev.evaluate(&at(500, 1)).is_empty(), "1 in 2 s is 30/min");
        let notes = ev.evaluate(&at(1_000, 3));
        assert_eq!(
            states(&notes),
            [("error_rate".into(), "in".into(), "firing")]
        );
        assert_eq!(notes[0].value, 90.0);
        assert!(
            ev.evaluate(&at(2_500, 3)).is_empty(),
            "still 2 in the window"
        );
        let notes = ev.evaluate(&at(3_500, 3));
        assert_eq!(
            states(&notes),
            [("error_rate".into(), "in".into(), "resolved")]
        );
    }

    #[test]
    fn control_id_reuse_fires_on_the_event_and_resolves_after_the_window() {
        let mut ev = Evaluator::new(vec![Rule::control_id_reuse(Duration::from_secs(10))], 0);
        assert!(ev.evaluate(&snap(0)).is_empty());
        let reuse = Event::ControlIdReuse {
            channel: "in".into(),
            message: MessageId(2),
            previous: MessageId(1),
            control_id: "X".into(),
        };
        ev.observe(&reuse, 1_000);
        let notes = ev.evaluate(&snap(1_000));
        assert_eq!(
            states(&notes),
            [("control_id_reuse".into(), "in".into(), "firing")]
        );
        ev.observe(&reuse, 2_000);
        assert!(ev.evaluate(&snap(2_000)).is_empty());
        assert!(
            ev.evaluate(&snap(11_000)).is_empty(),
            "the second is in the window"
        );
        let notes = ev.evaluate(&snap(12_001));
        assert_eq!(
            states(&notes),
            [("control_id_reuse".into(), "in".into(), "resolved")]
        );
    }
}
