//! Why an engine refuses its configuration or fails to start.

use crate::store;

/// A configuration the engine refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two channels or two destinations share a name.
    #[error("two {kind}s are named `{name}`")]
    DuplicateName {
        /// `channel` or `destination`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A route delivers to a destination the engine does not have.
    #[error(
        "route `{route}` delivers to `{destination}`, which is not a destination of this engine"
    )]
    UnknownDestination {
        /// The route.
        route: String,
        /// The destination it names.
        destination: String,
    },
    /// A channel sends its application ACKs to a destination the engine does not have.
    #[error(
        "channel `{channel}` sends application ACKs to `{destination}`, which is not a destination of this engine"
    )]
    UnknownAckDestination {
        /// The channel.
        channel: String,
        /// The destination it names.
        destination: String,
    },
    /// A destination delivers to the partner of a channel the engine does not have.
    #[error(
        "destination `{destination}` delivers to the peer of channel `{channel}`, which is not a channel of this engine"
    )]
    UnknownChannel {
        /// The destination.
        destination: String,
        /// The channel it names.
        channel: String,
    },
    /// The store does not make a commit durable (e.g. SQLite `synchronous=OFF`), so a
    /// positive ACK could be sent for a message a power cut then loses.
    #[error("the store's commits are not durable, so ACKs would be sent before messages are safe; use a durable store, or allow it explicitly for a test with `allow_non_durable_store`")]
    NonDurableStore,
    /// The engine has no channel.
    #[error("the engine has no channel")]
    NoChannel,
    /// The node name is empty or contains `#` (it prefixes the engine's lease owner names).
    #[error("invalid node name `{0}`: it must be non-empty and without `#`")]
    InvalidNode(String),
}

/// Why an engine did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A channel's address could not be bound (or, for a client channel, resolved).
    #[error("channel `{channel}`: cannot use {addr}: {source}")]
    Bind {
        /// The channel.
        channel: String,
        /// Its address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed during recovery.
    #[error("store: {0}")]
    Store(#[from] store::Error),
}
