//! Both directions on one connection: sending to the peers that connected to a listener.
//!
//! Some partners open one MLLP connection and both send and receive on it (a lab system that
//! sends results and takes orders on the same socket, a device gateway behind a firewall that
//! only connects out). A listener given a [`PeerConnections`] ([`ListenerConfig::with_peers`])
//! registers each connection it serves there, and [`PeerConnections::send`] writes a message
//! on the newest open one and waits for its ACK by the client's rules (RELIABILITY.md,
//! "Outbound"): one message in flight per connection; the response is the frame that is an
//! ACK whose MSA-2 is the message's MSH-10; no such ACK within the response timeout closes the
//! connection, so a late ACK can never answer the next message (the peer reconnects, the
//! caller retries). Every other frame on the connection is a message from the peer and goes to
//! the listener's handler as usual, its reply written back.
//!
//! An ACK that answers nothing in flight on its connection (a partner's application ACK of a
//! message sent earlier, in enhanced mode, or a buggy partner) goes to the handler like any
//! message, so an engine stores it (and may route it), but the handler's reply is not written:
//! an ACK is never acknowledged (an answer to it would be read by the partner as the ACK of its
//! next message).
//!
//! [`ListenerConfig::with_peers`]: super::ListenerConfig::with_peers

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};

use super::{PeerInfo, SendError};
use crate::ack::{matching, InboundHeader};
use crate::mllp::MllpCodec;

/// The open connections of a listener that can carry messages to their peers.
///
/// Cheap to clone: clones share the connections.
#[derive(Clone, Default)]
pub struct PeerConnections {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    /// Open connections, oldest first.
    open: Vec<(PeerInfo, mpsc::Sender<Outgoing>)>,
}

impl fmt::Debug for PeerConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerConnections")
            .field("open", &self.open())
            .finish()
    }
}

/// A message on its way to a peer, with whom to tell the outcome.
pub(crate) struct Outgoing {
    /// The MLLP frame, encoded.
    pub(crate) frame: Bytes,
    /// MSH-10 of the message: the awaited ACK's MSA-2.
    pub(crate) control_id: String,
    pub(crate) response_timeout: Duration,
    pub(crate) reply: oneshot::Sender<Result<Bytes, SendError>>,
}

impl PeerConnections {
    /// No connection yet.
    pub fn new() -> PeerConnections {
        PeerConnections::default()
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.registry().open.len()
    }

    /// The peers of the open connections, oldest first.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.registry().open.iter().map(|(p, _)| *p).collect()
    }

    /// Sends `message` on the newest open connection and returns the ACK whose MSA-2 is its
    /// MSH-10, waiting at most `response_timeout` for it once written.
    ///
    /// [`SendError::NotConnected`] when no connection is open; [`SendError::ResponseTimeout`]
    /// (the connection was closed) when no matching ACK came; [`SendError::Closed`] when the
    /// connection closed first.
    pub async fn send(
        &self,
        message: &[u8],
        response_timeout: Duration,
    ) -> Result<Bytes, SendError> {
        let mut frame = BytesMut::with_capacity(message.len() + 3);
        MllpCodec::encode_message(message, &mut frame).map_err(SendError::InvalidMessage)?;
        let control_id = matching::control_id(message).into_owned();
        let connection = self
            .registry()
            .open
            .last()
            .map(|(_, tx)| tx.clone())
            .ok_or(SendError::NotConnected)?;
        let (reply, answer) = oneshot::channel();
        connection
            .send(Outgoing {
                frame: frame.freeze(),
                control_id,
                response_timeout,
                reply,
            })
            .await
            .map_err(|_| SendError::Closed)?;
        answer.await.map_err(|_| SendError::Closed)?
    }

    /// Registers a connection being served; it is removed when the registration drops.
    pub(crate) fn register(&self, peer: PeerInfo) -> Registration {
        // One waiting message per connection: a second sender waits here, not in a queue
        // that a closing connection would drop.
        let (tx, rx) = mpsc::channel(1);
        self.registry().open.push((peer, tx));
        Registration {
            peers: self.clone(),
            connection_id: peer.connection_id,
            outgoing: rx,
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A served connection's place in a [`PeerConnections`].
pub(crate) struct Registration {
    peers: PeerConnections,
    connection_id: u64,
    pub(crate) outgoing: mpsc::Receiver<Outgoing>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.peers
            .registry()
            .open
            .retain(|(p, _)| p.connection_id != self.connection_id);
    }
}

/// MSA-1 and MSA-2 when `frame` is an ACK message (MSH-9.1 `ACK`).
pub(crate) fn ack_of(frame: &[u8]) -> Option<(String, String)> {
    let header = InboundHeader::sniff(frame)?;
    if header.message_type() != "ACK" {
        return None;
    }
    let (code, acknowledged) = matching::acknowledgment(frame)?;
    Some((code.to_owned(), acknowledged.to_owned()))
}
