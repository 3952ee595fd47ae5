//! Destinations: where queued items go, and how a delivery's answer is judged.
//!
//! A destination is a name, a [`Target`] and its delivery settings. Each has its own queue and
//! its own worker, so one outage never blocks another. The worker hands each item to a
//! [`Deliver`] and files the [`Verdict`]: done, retry later with backoff, or dead letter.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::targets::{FolderDeliver, HttpDeliver, MllpDeliver, PeerDeliver};
use crate::store::ItemId;
use crate::transport::{ClientConfig, ClientTls, PeerConnections};

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered and accepted (`AA`/`CA`, HTTP 2xx, file written).
    Delivered {
        /// The destination's answer, kept with the attempt.
        response: Option<Vec<u8>>,
    },
    /// Not delivered, may succeed later (connection refused, timeout, an ACK for another
    /// message, HTTP 5xx): retried with backoff, forever, order kept.
    Failed {
        /// Why.
        error: String,
        /// The answer, if any.
        response: Option<Vec<u8>>,
    },
    /// The destination says it could not process it (`AE`/`CE`, HTTP 4xx other than 408 and
    /// 429): retried up to [`RetryPolicy::error_retries`] times, then dead-lettered.
    Error {
        /// Why.
        error: String,
        /// The answer.
        response: Option<Vec<u8>>,
    },
    /// The destination refuses it for good (`AR`/`CR`): dead-lettered at once, never retried.
    Rejected {
        /// Why.
        reason: String,
        /// The answer.
        response: Option<Vec<u8>>,
    },
}

/// A boxed delivery future.
pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// Delivers items to one destination, one at a time. Implement it for a kind of destination
/// the engine does not have built in.
pub trait Deliver: Send + 'static {
    /// Delivers `payload` (item `item` of the queue); resolves when the destination answered
    /// or the attempt failed.
    fn deliver<'a>(&'a mut self, item: ItemId, payload: &'a [u8]) -> DeliveryFuture<'a>;
}

/// Retry settings of a destination (RELIABILITY.md: backoff 1 s to 60 s; `AE`/`CE` 3 retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Wait after the first failure. Default 1 s.
    pub initial: Duration,
    /// Longest wait. Default 60 s.
    pub max: Duration,
    /// Retries of an item the destination answered with an error (`AE`/`CE`) before it is
    /// dead-lettered. Default 3.
    pub error_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            error_retries: 3,
        }
    }
}

impl RetryPolicy {
    /// Sets the first wait and the cap.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial = initial;
        self.max = max.max(initial);
        self
    }

    /// Sets [`RetryPolicy::error_retries`].
    pub fn error_retries(mut self, n: u32) -> Self {
        self.error_retries = n;
        self
    }

    /// The wait after failed attempt number `attempt` (from 1): doubling from
    /// [`RetryPolicy::initial`], capped at [`RetryPolicy::max`].
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// Where a destination delivers.
#[non_exhaustive]
pub enum Target {
    /// An MLLP receiver: one message in flight, ACK required with MSA-2 = the item's MSH-10.
    Mllp {
        /// `host:port`.
        addr: String,
        /// Timeouts and frame limits; the response timeout defaults to 5 s.
        config: ClientConfig,
        /// MLLP over TLS: the server name to verify and the client's TLS settings.
        tls: Option<(String, ClientTls)>,
    },
    /// The partner connected to one of this engine's channels, on its own connection (both
    /// directions on one connection): the item is sent on the newest open connection of that
    /// channel and needs an ACK with MSA-2 = its MSH-10, by the same rules as [`Target::Mllp`].
    /// While the partner is not connected, the item waits in the queue (retried with backoff).
    ChannelPeer {
        /// The channel the partner connects to.
        channel: String,
        /// Time allowed for the ACK; 5 s by default.
        response_timeout: Duration,
    },
    /// A folder: each item becomes one file, written under a temporary name, fsynced and
    /// renamed, so a reader never sees half a message.
    Folder(PathBuf),
    /// An HTTP endpoint: each item is POSTed as `application/hl7-v2`.
    Http {
        /// `http://host:port/path`.
        url: String,
        /// Time allowed for the response.
        timeout: Duration,
    },
    /// Any other kind: a function making the destination's [`Deliver`] when the engine starts.
    Custom(Box<dyn FnOnce() -> Box<dyn Deliver> + Send>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Mllp {
                addr, tls: None, ..
            } => write!(f, "mllp://{addr}"),
            Target::Mllp {
                addr,
                tls: Some((name, _)),
                ..
            } => {
                write!(f, "mllp+tls://{addr} ({name})")
            }
            Target::ChannelPeer { channel, .. } => write!(f, "peer of channel {channel}"),
            Target::Folder(path) => write!(f, "folder {}", path.display()),
            Target::Http { url, .. } => f.write_str(url),
            Target::Custom(_) => f.write_str("custom"),
        }
    }
}

/// A destination: its name, target and delivery settings.
#[derive(Debug)]
pub struct Destination {
    pub(crate) name: String,
    pub(crate) target: Target,
    pub(crate) retry: RetryPolicy,
    pub(crate) batch: usize,
}

impl Destination {
    /// An MLLP destination at `addr` with the default client settings.
    pub fn mllp(name: impl Into<String>, addr: impl Into<String>) -> Destination {
        Destination::new(
            name,
            Target::Mllp {
                addr: addr.into(),
                config: ClientConfig::default(),
                tls: None,
            },
        )
    }

    /// An MLLP destination over TLS: the receiver's certificate must be valid for
    /// `server_name` under `tls`'s roots; `tls` may carry a client certificate.
    pub fn mllp_tls(
        name: impl Into<String>,
        addr: impl Into<String>,
        server_name: impl Into<String>,
        tls: ClientTls,
    ) -> Destination {
        Destination::new(
            name,
            Target::Mllp {
                addr: addr.into(),
                config: ClientConfig::default(),
                tls: Some((server_name.into(), tls)),
            },
        )
    }

    /// The partner connected to the engine's channel `channel`, on the connection it opened
    /// (for partners that send and receive on one connection); see [`Target::ChannelPeer`].
    pub fn channel_peer(name: impl Into<String>, channel: impl Into<String>) -> Destination {
        Destination::new(
            name,
            Target::ChannelPeer {
                channel: channel.into(),
                response_timeout: ClientConfig::default().response_timeout,
            },
        )
    }

    /// A folder destination.
    pub fn folder(name: impl Into<String>, dir: impl Into<PathBuf>) -> Destination {
        Destination::new(name, Target::Folder(dir.into()))
    }

    /// An HTTP destination, 30 s response timeout.
    pub fn http(name: impl Into<String>, url: impl Into<String>) -> Destination {
        Destination::new(
            name,
            Target::Http {
                url: url.into(),
                timeout: Duration::from_secs(30),
            },
        )
    }

    /// A destination with any target.
    pub fn new(name: impl Into<String>, target: Target) -> Destination {
        Destination {
            name: name.into(),
            target,
            retry: RetryPolicy::default(),
            batch: 32,
        }
    }

    /// Sets the MLLP client settings (response timeout, TLS, ...) of an MLLP destination, or
    /// the response timeout of a channel-peer destination; no effect on other targets.
    pub fn client(mut self, config: ClientConfig) -> Destination {
        match &mut self.target {
            Target::Mllp { config: c, .. } => *c = config,
            Target::ChannelPeer {
                response_timeout, ..
            } => *response_timeout = config.response_timeout,
            _ => {}
        }
        self
    }

    /// The channel whose partner this destination delivers to, for a channel-peer destination.
    pub(crate) fn peer_channel(&self) -> Option<&str> {
        match &self.target {
            Target::ChannelPeer { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Destination {
        self.retry = retry;
        self
    }

    /// How many queued items the worker leases at once (default 32). Their reports are
    /// committed together, so after a crash at most this many delivered items are delivered
    /// again (same bytes). 1 gives one duplicate at most, at the cost of more commits.
    pub fn batch(mut self, n: usize) -> Destination {
        self.batch = n.max(1);
        self
    }

    /// The destination's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The target's deliverer; `peers` are the connections of each channel that has a
    /// channel-peer destination.
    pub(crate) fn deliverer(
        target: Target,
        peers: &BTreeMap<String, PeerConnections>,
    ) -> Box<dyn Deliver> {
        match target {
            Target::Mllp { addr, config, tls } => Box::new(MllpDeliver::new(addr, config, tls)),
            Target::ChannelPeer {
                channel,
                response_timeout,
            } => Box::new(PeerDeliver {
                // The build checked the channel exists, and start made its connections.
                peers: peers.get(&channel).cloned().unwrap_or_default(),
                channel,
                response_timeout,
            }),
            Target::Folder(dir) => Box::new(FolderDeliver { dir }),
            Target::Http { url, timeout } => Box::new(HttpDeliver {
                url,
                timeout,
                client: Client::builder(TokioExecutor::new()).build_http(),
            }),
            Target::Custom(make) => make(),
        }
    }
}
