//! MLLP over tokio: a listener (server role) and a client (client role).
//!
//! The framing is [`crate::mllp`]'s sans-I/O codec; this module adds sockets, timeouts and
//! limits (RELIABILITY.md, "MLLP hardening defaults"):
//!
//! - [`MllpListener`] accepts connections up to [`ListenerConfig::max_connections`] (above it:
//!   accept and close, with a log), closes a connection whose frame takes longer than
//!   [`ListenerConfig::frame_read_timeout`] from `<VT>` to `<FS><CR>`, or that stays idle longer
//!   than [`ListenerConfig::idle_timeout`], or that sends a frame over
//!   [`ListenerConfig::max_frame_len`]. Each message goes to a [`Handler`], whose [`Reply`] (the
//!   ACK, or an MLLP Release 2 commit block) is written back before the next frame is read, so
//!   a connection's messages are handled one at a time and in order.
//! - [`MllpClient`] sends one message at a time per connection and waits for its response for at
//!   most [`ClientConfig::response_timeout`]; on a timeout or any error it closes the
//!   connection, so a late ACK can never be read as the answer to the next message, and the next
//!   send opens a new connection. A response whose MSA-2 is not the MSH-10 sent is refused the
//!   same way ([`ClientConfig::match_ack`], on by default). Retrying with backoff is the
//!   caller's policy.
//!
//! Logs go through `tracing` with the peer, connection id and sizes; message bodies are logged
//! only with `log_payloads` set.
//!
//! # TLS
//!
//! MLLP over TLS uses rustls (the `ring` provider, TLS 1.2 and 1.3), for both roles:
//!
//! - Listener: build a [`ServerTls`] with [`ServerTlsConfig`] from the listener's [`Identity`]
//!   (certificate chain and key, from PEM files or DER) and give it to
//!   [`ListenerConfig::with_tls`]. Each accepted connection then runs its TLS handshake in its
//!   own task, holding one of the `max_connections` slots, so a stalled handshake never blocks
//!   the accept loop; a handshake not done within the handshake timeout (10 s by default) is
//!   closed. [`ServerTlsConfig::with_client_ca`] requires client certificates that chain to a
//!   [`CaBundle`] (mutual TLS: no certificate, an unknown issuer or an expired certificate
//!   fails the handshake), and [`ServerTlsConfig::with_allow_list`] then accepts only the
//!   clients of a [`ClientAllowList`] (by certificate CN or SAN DNS name, or by SHA-256
//!   fingerprint), refusing others right after the handshake. Either way no frame of a refused
//!   client is read, and the close is logged with the peer and a [`HandshakeError`] saying why.
//!   After the handshake the connection is served by [`serve_connection`] like any other,
//!   with the same frame timeouts, limits and handler.
//! - Client: a [`TlsConnector`] (TCP, then TLS checking the listener's certificate against a
//!   [`CaBundle`] and a server name, optionally presenting an [`Identity`]) is the [`Connect`]
//!   of an [`MllpClient`] ([`MllpClient::with_connector`]). The handshake counts against
//!   [`ClientConfig::connect_timeout`]; its failure is a [`SendError::Connect`] whose cause is
//!   a [`HandshakeError`].
//!
//! Certificates and keys are checked when loaded, so a bad deployment fails at start-up with a
//! [`TlsConfigError`] naming the file and the problem (no key in it, a certificate that does
//! not parse, a key that does not match the certificate, ...), as do configurations that would
//! let everyone in (an allow-list without client certificates) or no one (an empty allow-list).
//!
//! # Both directions on one connection
//!
//! A listener whose [`ListenerConfig::peers`] is set registers its connections in a
//! [`PeerConnections`], through which messages are sent to the peer that opened them, with the
//! client's rules (one in flight, MSA-2 matched, close on timeout). See [`PeerConnections`].
//!
//! For a partner that only listens but sends on the connection the other side opens,
//! [`serve_dialed`] keeps a connection to it open (reconnecting with backoff) and serves it
//! exactly like an accepted one: its messages go to the handler, and with
//! [`ListenerConfig::peers`] messages go to it on the same connection.
//!
//! Not supported yet: reloading certificates without a restart, and certificate revocation
//! lists.

mod client;
mod config;
mod dial;
mod listener;
mod peers;
mod tls;

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::mllp::{Commit, Frame};

pub use client::{Connect, MllpClient, SendError, TcpConnector};
pub use config::{ClientConfig, ListenerConfig};
pub use dial::{serve_dialed, Reconnect};
pub use listener::{serve_connection, CloseReason, MllpListener};
pub use peers::PeerConnections;
pub use tls::{
    CaBundle, ClientAllowList, ClientTls, ClientTlsConfig, HandshakeError, Identity,
    PeerCertificate, ServerTls, ServerTlsConfig, TlsConfigError, TlsConnector, TlsOrigin,
};

/// Who is on the other end of a served connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's address, if the stream has one.
    pub addr: Option<SocketAddr>,
    /// A number unique to the connection within its listener, for logs.
    pub connection_id: u64,
}

/// What to send back for a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// A message frame, usually the HL7 ACK.
    Message(Bytes),
    /// An MLLP Release 2 commit block (`<ACK>` once the message is durably stored, `<NAK>` if
    /// storing failed).
    Commit(Commit),
    /// Nothing; go on reading.
    Nothing,
    /// Close the connection without replying (the sender will resend).
    Close,
}

impl From<Bytes> for Reply {
    fn from(b: Bytes) -> Self {
        Self::Message(b)
    }
}

impl From<Vec<u8>> for Reply {
    fn from(v: Vec<u8>) -> Self {
        Self::Message(Bytes::from(v))
    }
}

impl From<Commit> for Reply {
    fn from(c: Commit) -> Self {
        Self::Commit(c)
    }
}

impl From<Frame> for Reply {
    fn from(f: Frame) -> Self {
        match f {
            Frame::Message(b) => Self::Message(b),
            Frame::Commit(c) => Self::Commit(c),
        }
    }
}

/// Handles each message a listener receives and says what to reply.
///
/// The reply is written before the connection's next frame is read, so an engine implements
/// "store durably, then ACK" by awaiting the store inside `handle`. Any
/// `Fn(Bytes) -> impl Future<Output = impl Into<Reply>>` closure is a handler:
///
/// ```no_run
/// use bytes::Bytes;
/// use hl7_runtime::transport::{ListenerConfig, MllpListener};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = MllpListener::bind("127.0.0.1:2575", ListenerConfig::default()).await?;
/// listener
///     .serve(|message: Bytes| async move {
///         // store `message` durably here, then:
///         Bytes::from_static(b"MSH|^~\\&|...\rMSA|AA|...\r")
///     })
///     .await
/// # }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles one message (the frame's content, without MLLP bytes) from `peer`.
    fn handle(&self, message: Bytes, peer: PeerInfo) -> impl Future<Output = Reply> + Send;
}

impl<F, Fut, R> Handler for F
where
    F: Fn(Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send,
    R: Into<Reply>,
{
    fn handle(&self, message: Bytes, _peer: PeerInfo) -> impl Future<Output = Reply> + Send {
        let fut = self(message);
        async move { fut.await.into() }
    }
}
