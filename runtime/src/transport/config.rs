//! Settings of the MLLP listener and client, with the hardening defaults of RELIABILITY.md.

use std::time::Duration;

use super::{PeerConnections, ServerTls};
use crate::mllp::DEFAULT_MAX_FRAME_LEN;

/// Settings of an [`MllpListener`](super::MllpListener) and of
/// [`serve_connection`](super::serve_connection).
///
/// Built from [`ListenerConfig::default`] and then changed field by field or with the `with_`
/// methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Connections served at once; above it a connection is accepted and closed at once, with a
    /// log. Default 64.
    pub max_connections: usize,
    /// Largest frame content accepted; a larger frame closes the connection. Default 8 MiB.
    pub max_frame_len: usize,
    /// Time allowed from a frame's `<VT>` to its `<FS><CR>`. Default 30 s.
    pub frame_read_timeout: Duration,
    /// Time allowed between the end of one frame (or the connection's start) and the next `<VT>`.
    /// Default 10 min (long-lived MLLP links are normal).
    pub idle_timeout: Duration,
    /// Time allowed to write a reply to the peer. Default 30 s.
    pub write_timeout: Duration,
    /// Decode one-byte `<ACK>`/`<NAK>` blocks as MLLP Release 2 commit blocks. Default off.
    pub commit_blocks: bool,
    /// Log message bodies at `trace` level. Default off: bodies carry PHI.
    pub log_payloads: bool,
    /// Serve MLLP over TLS: each accepted connection first completes a TLS handshake (within
    /// [`ServerTls::handshake_timeout`], in the connection's own task and holding one of the
    /// `max_connections` slots), then is served as usual. Default `None` (plain TCP).
    /// [`serve_connection`](super::serve_connection) ignores it: it serves whatever stream it
    /// is given.
    pub tls: Option<ServerTls>,
    /// Registers each served connection here, so messages can be sent to its peer on it
    /// (both directions on one connection; see [`PeerConnections`]). Default `None`: the
    /// connections only receive.
    pub peers: Option<PeerConnections>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            max_connections: 64,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            frame_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            write_timeout: Duration::from_secs(30),
            commit_blocks: false,
            log_payloads: false,
            tls: None,
            peers: None,
        }
    }
}

impl ListenerConfig {
    /// Sets [`ListenerConfig::max_connections`].
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets [`ListenerConfig::max_frame_len`].
    pub fn with_max_frame_len(mut self, n: usize) -> Self {
        self.max_frame_len = n;
        self
    }

    /// Sets [`ListenerConfig::frame_read_timeout`].
    pub fn with_frame_read_timeout(mut self, t: Duration) -> Self {
        self.frame_read_timeout = t;
        self
    }

    /// Sets [`ListenerConfig::idle_timeout`].
    pub fn with_idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t;
        self
    }

    /// Sets [`ListenerConfig::write_timeout`].
    pub fn with_write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }

    /// Sets [`ListenerConfig::commit_blocks`].
    pub fn with_commit_blocks(mut self, on: bool) -> Self {
        self.commit_blocks = on;
        self
    }

    /// Sets [`ListenerConfig::log_payloads`].
    pub fn with_log_payloads(mut self, on: bool) -> Self {
        self.log_payloads = on;
        self
    }

    /// Sets [`ListenerConfig::peers`]: the listener's connections also carry messages to
    /// their peers.
    pub fn with_peers(mut self, peers: PeerConnections) -> Self {
        self.peers = Some(peers);
        self
    }

    /// Sets [`ListenerConfig::tls`]: serve MLLP over TLS.
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Settings of an [`MllpClient`](super::MllpClient).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Time allowed to open a connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed for the response after the message is written; on expiry the connection is
    /// closed. Default 5 s (Mirth's `responseTimeout`).
    pub response_timeout: Duration,
    /// Time allowed to write a message. Default 30 s.
    pub write_timeout: Duration,
    /// Largest response content accepted. Default 8 MiB.
    pub max_frame_len: usize,
    /// Decode one-byte `<ACK>`/`<NAK>` blocks as MLLP Release 2 commit blocks. Default off.
    pub commit_blocks: bool,
    /// Log message bodies at `trace` level. Default off: bodies carry PHI.
    pub log_payloads: bool,
    /// [`MllpClient::send`](super::MllpClient::send) refuses a response with an MSA segment
    /// whose MSA-2 is not the MSH-10 sent ([`SendError::WrongAck`](super::SendError::WrongAck),
    /// the connection closed), so a stray or late ACK is never taken for this message's.
    /// Default on (RELIABILITY.md, "Outbound"); a response without MSA is returned as it is.
    pub match_ack: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            commit_blocks: false,
            log_payloads: false,
            match_ack: true,
        }
    }
}

impl ClientConfig {
    /// Sets [`ClientConfig::connect_timeout`].
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets [`ClientConfig::response_timeout`].
    pub fn with_response_timeout(mut self, t: Duration) -> Self {
        self.response_timeout = t;
        self
    }

    /// Sets [`ClientConfig::write_timeout`].
    pub fn with_write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }

    /// Sets [`ClientConfig::match_ack`].
    pub fn with_match_ack(mut self, on: bool) -> Self {
        self.match_ack = on;
        self
    }

    /// Sets [`ClientConfig::max_frame_len`].
    pub fn with_max_frame_len(mut self, n: usize) -> Self {
        self.max_frame_len = n;
        self
    }

    /// Sets [`ClientConfig::commit_blocks`].
    pub fn with_commit_blocks(mut self, on: bool) -> Self {
        self.commit_blocks = on;
        self
    }

    /// Sets [`ClientConfig::log_payloads`].
    pub fn with_log_payloads(mut self, on: bool) -> Self {
        self.log_payloads = on;
        self
    }
}
