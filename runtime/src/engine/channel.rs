//! Channels: where messages come in (an MLLP listener, or a connection the engine opens to a
//! partner) and how they are acknowledged.

use crate::ack::AckAfter;
use crate::transport::{ClientTls, ListenerConfig, Reconnect};

/// An inbound channel: an MLLP listener and how it acknowledges.
#[derive(Debug, Clone)]
pub struct Channel {
    pub(super) name: String,
    pub(super) addr: String,
    /// `Some` when the engine opens the connection (client role).
    pub(super) dial: Option<Dial>,
    pub(super) config: ListenerConfig,
    pub(super) ack_after: AckAfter,
    pub(super) application_acks: Option<String>,
}

/// How the engine opens a client channel's connection.
#[derive(Debug, Clone)]
pub(super) struct Dial {
    pub(super) reconnect: Reconnect,
    /// The server name to verify and the TLS settings, for MLLP over TLS.
    pub(super) tls: Option<(String, ClientTls)>,
}

impl Channel {
    /// An MLLP listener on `addr` (`127.0.0.1:2575`; port 0 for any free port), hardened
    /// defaults, original-mode ACK after storage.
    pub fn mllp(name: impl Into<String>, addr: impl Into<String>) -> Channel {
        Channel {
            name: name.into(),
            addr: addr.into(),
            dial: None,
            config: ListenerConfig::default(),
            ack_after: AckAfter::Stored,
            application_acks: None,
        }
    }

    /// A partner that only listens but sends its messages on the connection the engine opens
    /// to it at `addr` (client role). The engine keeps that connection open, reconnecting
    /// after 1 s when it closes and with backoff to 60 s while it cannot connect, and handles
    /// the messages that come on it like those of a listening channel. A
    /// [`Destination::channel_peer`](super::Destination::channel_peer) of this channel sends
    /// on the same connection. The frame limits and timeouts of [`Channel::config`] apply; its
    /// TLS does not (see [`Channel::mllp_client_tls`]).
    pub fn mllp_client(name: impl Into<String>, addr: impl Into<String>) -> Channel {
        Channel {
            dial: Some(Dial {
                reconnect: Reconnect::default(),
                tls: None,
            }),
            ..Channel::mllp(name, addr)
        }
    }

    /// [`Channel::mllp_client`] over TLS: the partner's certificate must be valid for
    /// `server_name` under `tls`'s roots, and `tls` may carry the engine's client certificate.
    pub fn mllp_client_tls(
        name: impl Into<String>,
        addr: impl Into<String>,
        server_name: impl Into<String>,
        tls: ClientTls,
    ) -> Channel {
        Channel {
            dial: Some(Dial {
                reconnect: Reconnect::default(),
                tls: Some((server_name.into(), tls)),
            }),
            ..Channel::mllp(name, addr)
        }
    }

    /// The reconnection waits of a client channel; no effect on a listener.
    pub fn reconnect(mut self, reconnect: Reconnect) -> Channel {
        if let Some(dial) = &mut self.dial {
            dial.reconnect = reconnect;
        }
        self
    }

    /// Listener settings (limits, timeouts, TLS, MLLP Release 2 commit blocks).
    pub fn config(mut self, config: ListenerConfig) -> Channel {
        self.config = config;
        self
    }

    /// When the original-mode ACK is sent: after storage (default) or after processing.
    pub fn ack_after(mut self, ack_after: AckAfter) -> Channel {
        self.ack_after = ack_after;
        self
    }

    /// Where the application ACKs of enhanced mode go: a destination of the engine, usually
    /// an MLLP client to the sending system's own listener.
    ///
    /// A sender in enhanced mode gets the accept ACK (`CA`) on its connection once the
    /// message is stored, and, when its MSH-16 asks (`AL`, `SU` for `AA`, `ER` for `AE`/`AR`),
    /// an application ACK as a message of its own. That ACK is queued in the same transaction
    /// as the message, so it is as durable as the message and delivered like any output:
    /// in order, retried with backoff, visible and reprocessable in the store. Without this
    /// setting such requests are logged and not answered.
    pub fn application_acks_to(mut self, destination: impl Into<String>) -> Channel {
        self.application_acks = Some(destination.into());
        self
    }
}
