//! The MLLP listener (server role).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::error::Elapsed;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, trace, warn};

use super::peers::{self, Outgoing, Registration};
use super::{Handler, HandshakeError, ListenerConfig, PeerInfo, Reply, SendError, ServerTls};
use crate::mllp::{Frame, FrameError, FrameReader, MllpCodec};

/// Why [`serve_connection`] closed a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the connection between frames.
    PeerClosed,
    /// The peer closed the connection inside a frame; nothing of it was dispatched.
    Truncated,
    /// No new frame started within the idle timeout.
    IdleTimeout,
    /// A frame was not complete within the frame read timeout of its `<VT>`.
    FrameReadTimeout,
    /// A frame exceeded `max_frame_len`.
    FrameTooLarge,
    /// Writing a reply took longer than the write timeout.
    WriteTimeout,
    /// The handler replied [`Reply::Close`].
    Handler,
    /// A message sent to the peer on this connection ([`ListenerConfig::peers`]) got no ACK
    /// within its response timeout.
    ResponseTimeout,
    /// The listener is shutting down.
    Shutdown,
    /// Reading or writing failed.
    Io(io::Error),
    /// The TLS handshake failed or timed out, or the client's certificate is not on the
    /// allow-list; no frame was read.
    Tls(HandshakeError),
}

/// An MLLP listener: accepts TCP connections and serves each with a [`Handler`].
#[derive(Debug)]
pub struct MllpListener {
    listener: TcpListener,
    config: ListenerConfig,
}

impl MllpListener {
    /// Binds to `addr` (use port 0 for any free port; see [`MllpListener::local_addr`]).
    pub async fn bind(addr: impl ToSocketAddrs, config: ListenerConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self { listener, config })
    }

    /// Wraps an already bound listener.
    pub fn from_tcp(listener: TcpListener, config: ListenerConfig) -> Self {
        Self { listener, config }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The listener's settings.
    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    /// Serves connections until the task is dropped.
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        self.serve_with_shutdown(handler, std::future::pending())
            .await
    }

    /// Serves connections until `shutdown` completes; then stops accepting, lets each connection
    /// finish the message it is handling (its reply is written), closes it, and returns once all
    /// are closed.
    pub async fn serve_with_shutdown<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let handler = Arc::new(handler);
        let config = Arc::new(self.config);
        let limit = Arc::new(Semaphore::new(config.max_connections));
        let token = CancellationToken::new();
        let next_id = AtomicU64::new(1);
        let mut tasks = JoinSet::new();
        let local = self.listener.local_addr().ok();
        info!(addr = ?local, max_connections = config.max_connections, "MLLP listener started");
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, addr) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep listening.
                    error!(error = %e, "MLLP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let connection_id = next_id.fetch_add(1, Ordering::Relaxed);
            let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
                warn!(
                    peer = %addr,
                    connection_id,
                    max_connections = config.max_connections,
                    "MLLP connection refused: too many connections; closing it"
                );
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let peer = PeerInfo {
                addr: Some(addr),
                connection_id,
            };
            let handler = Arc::clone(&handler);
            let config = Arc::clone(&config);
            let token = token.clone();
            tasks.spawn(async move {
                debug!(peer = %addr, connection_id, "MLLP connection accepted");
                let reason = match &config.tls {
                    None => serve_connection(stream, peer, &*handler, &config, &token).await,
                    Some(tls) => serve_tls(stream, peer, tls, &*handler, &config, &token).await,
                };
                log_close(&peer, &reason);
                drop(permit);
            });
        }
        info!(addr = ?local, open = tasks.len(), "MLLP listener shutting down");
        token.cancel();
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// The TLS handshake (bounded by its timeout, abandoned on shutdown), then the MLLP
/// connection over the TLS stream.
async fn serve_tls<H: Handler>(
    stream: TcpStream,
    peer: PeerInfo,
    tls: &ServerTls,
    handler: &H,
    config: &ListenerConfig,
    shutdown: &CancellationToken,
) -> CloseReason {
    let accepted = tokio::select! {
        biased;
        () = shutdown.cancelled() => return CloseReason::Shutdown,
        accepted = tls.accept(stream) => accepted,
    };
    match accepted {
        Ok((stream, client)) => {
            match &client {
                Some(cert) => debug!(
                    peer = ?peer.addr,
                    connection_id = peer.connection_id,
                    client = %cert,
                    "MLLP TLS handshake done"
                ),
                None => debug!(
                    peer = ?peer.addr,
                    connection_id = peer.connection_id,
                    "MLLP TLS handshake done"
                ),
            }
            serve_connection(stream, peer, handler, config, shutdown).await
        }
        Err(e) => CloseReason::Tls(e),
    }
}

pub(super) fn log_close(peer: &PeerInfo, reason: &CloseReason) {
    let id = peer.connection_id;
    let addr = peer.addr;
    match reason {
        CloseReason::Tls(HandshakeError::NotAllowed(cert)) => {
            warn!(peer = ?addr, connection_id = id, client = %cert, "MLLP TLS client refused: certificate not on the allow-list; connection closed");
        }
        CloseReason::Tls(e) => {
            warn!(peer = ?addr, connection_id = id, error = %e, "MLLP TLS connection refused; connection closed");
        }
        CloseReason::PeerClosed | CloseReason::Shutdown | CloseReason::Handler => {
            debug!(peer = ?addr, connection_id = id, reason = ?reason, "MLLP connection closed");
        }
        _ => warn!(peer = ?addr, connection_id = id, reason = ?reason, "MLLP connection closed"),
    }
}

/// Serves one MLLP connection over any byte stream until it closes, returning why.
///
/// [`MllpListener`] calls it with the accepted `TcpStream`, or with the TLS stream once the
/// handshake is done when [`ListenerConfig::tls`] is set; other transports (your own accept
/// loop with [`ServerTls::accept`], say) can call it too. Frames are read with the bounded
/// codec; each message is passed to `handler` and its reply written before the next frame is
/// read. `shutdown` closes the connection between frames (never while a message is being
/// handled).
pub async fn serve_connection<S, H>(
    mut stream: S,
    peer: PeerInfo,
    handler: &H,
    config: &ListenerConfig,
    shutdown: &CancellationToken,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let codec = MllpCodec::new()
        .with_max_frame_len(config.max_frame_len)
        .with_commit_blocks(config.commit_blocks);
    let mut reader = FrameReader::new(codec);
    let mut out = BytesMut::new();
    let mut idle_since = Instant::now();
    let mut frame_started: Option<Instant> = None;
    let id = peer.connection_id;
    let mut reported_discards = 0u64;
    let mut registration = config.peers.as_ref().map(|p| p.register(peer));
    let mut in_flight: Option<InFlight> = None;
    loop {
        // Everything complete in the buffer first, one message at a time.
        loop {
            let frame = match reader.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(FrameError::TooLarge { limit }) => {
                    warn!(connection_id = id, limit, "MLLP frame too large; closing");
                    return CloseReason::FrameTooLarge;
                }
                Err(e) => {
                    // Interrupted or stray end block: the codec resynchronised; the partial
                    // frame was never acknowledged, so the sender resends it.
                    warn!(connection_id = id, error = %e, "MLLP framing error; resynchronised");
                    continue;
                }
            };
            frame_started = None;
            let message = match frame {
                Frame::Message(m) => m,
                Frame::Commit(c) => {
                    debug!(connection_id = id, commit = ?c, "MLLP commit block received; ignored");
                    continue;
                }
            };
            if message.is_empty() {
                debug!(connection_id = id, "empty MLLP frame ignored");
                continue;
            }
            debug!(
                connection_id = id,
                len = message.len(),
                "MLLP message received"
            );
            if config.log_payloads {
                trace!(connection_id = id, body = %String::from_utf8_lossy(&message), "MLLP message body");
            }
            // An ACK that answers nothing in flight is handled like any message, so it is
            // kept, but never answered: the peer would read the answer as the ACK of its own
            // next message.
            let mut answer = true;
            if registration.is_some() {
                if let Some((code, answered)) = peers::ack_of(&message) {
                    if let Some(flight) = in_flight.take_if(|f| f.control_id == answered) {
                        debug!(
                            connection_id = id,
                            code, "ACK of the message sent to the peer"
                        );
                        let _ = flight.reply.send(Ok(message));
                        idle_since = Instant::now();
                        continue;
                    }
                    info!(
                        connection_id = id,
                        code,
                        answered,
                        "ACK that answers no message in flight on this connection; handled, not answered"
                    );
                    answer = false;
                }
            }
            let reply = handler.handle(message, peer).await;
            if !answer && !matches!(reply, Reply::Close) {
                idle_since = Instant::now();
                continue;
            }
            out.clear();
            let encoded = match &reply {
                Reply::Message(b) => MllpCodec::encode_frame(&Frame::Message(b.clone()), &mut out),
                Reply::Commit(c) => MllpCodec::encode_frame(&Frame::Commit(*c), &mut out),
                Reply::Close => return CloseReason::Handler,
                _ => Ok(()),
            };
            if let Err(e) = encoded {
                error!(connection_id = id, error = %e, "handler reply cannot be framed; closing");
                return CloseReason::Handler;
            }
            if !out.is_empty() {
                match timeout(config.write_timeout, write_reply(&mut stream, &out)).await {
                    Err(_) => return CloseReason::WriteTimeout,
                    Ok(Err(e)) => return CloseReason::Io(e),
                    Ok(Ok(())) => {}
                }
                if config.log_payloads {
                    trace!(connection_id = id, body = %String::from_utf8_lossy(&out), "MLLP reply body");
                }
            }
            idle_since = Instant::now();
        }
        let discarded = reader.codec().discarded_bytes();
        if discarded > reported_discards {
            debug!(
                connection_id = id,
                discarded, "MLLP bytes outside frames discarded"
            );
            reported_discards = discarded;
        }
        let in_frame = reader.in_frame();
        let deadline = if in_frame {
            *frame_started.get_or_insert_with(Instant::now) + config.frame_read_timeout
        } else {
            frame_started = None;
            idle_since + config.idle_timeout
        };
        let response_due = in_flight.as_ref().map(|f| f.deadline);
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled(), if !in_frame => return CloseReason::Shutdown,
            () = sleep_until(response_due.unwrap_or(deadline)), if response_due.is_some() => {
                Event::ResponseTimeout
            }
            Some(outgoing) = next_outgoing(&mut registration), if in_flight.is_none() => {
                Event::Outgoing(outgoing)
            }
            read = timeout_at(deadline, stream.read_buf(reader.read_buffer())) => Event::Read(read),
        };
        let read = match event {
            Event::Read(read) => read,
            Event::ResponseTimeout => {
                if let Some(flight) = in_flight.take() {
                    let _ = flight
                        .reply
                        .send(Err(SendError::ResponseTimeout(flight.timeout)));
                }
                return CloseReason::ResponseTimeout;
            }
            Event::Outgoing(outgoing) => {
                match send_to_peer(&mut stream, outgoing, config, id).await {
                    Ok(flight) => in_flight = Some(flight),
                    Err(reason) => return reason,
                }
                idle_since = Instant::now();
                continue;
            }
        };
        match read {
            Err(_) if in_frame => return CloseReason::FrameReadTimeout,
            Err(_) => return CloseReason::IdleTimeout,
            // A TLS peer that closes the TCP connection without close_notify: MLLP frames are
            // self-delimiting, so this is an end of stream like any other (a cut frame is still
            // caught by `finish`).
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return end_of_stream(&mut reader, id)
            }
            Ok(Err(e)) => return CloseReason::Io(e),
            Ok(Ok(0)) => return end_of_stream(&mut reader, id),
            Ok(Ok(_)) => {}
        }
    }
}

/// A message sent to the peer, waiting for its ACK.
struct InFlight {
    control_id: String,
    deadline: Instant,
    timeout: Duration,
    reply: oneshot::Sender<Result<Bytes, SendError>>,
}

/// What woke a connection waiting between frames.
enum Event {
    Read(Result<io::Result<usize>, Elapsed>),
    Outgoing(Outgoing),
    ResponseTimeout,
}

/// Writes a message to the peer; it is then in flight, waiting for its ACK. A failed write is
/// reported to the sender and closes the connection.
async fn send_to_peer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    outgoing: Outgoing,
    config: &ListenerConfig,
    id: u64,
) -> Result<InFlight, CloseReason> {
    match timeout(config.write_timeout, write_reply(stream, &outgoing.frame)).await {
        Err(_) => {
            let _ = outgoing
                .reply
                .send(Err(SendError::WriteTimeout(config.write_timeout)));
            return Err(CloseReason::WriteTimeout);
        }
        Ok(Err(e)) => {
            let _ = outgoing.reply.send(Err(SendError::Closed));
            return Err(CloseReason::Io(e));
        }
        Ok(Ok(())) => {}
    }
    debug!(
        connection_id = id,
        len = outgoing.frame.len(),
        "MLLP message sent to the peer"
    );
    Ok(InFlight {
        deadline: Instant::now() + outgoing.response_timeout,
        timeout: outgoing.response_timeout,
        control_id: outgoing.control_id,
        reply: outgoing.reply,
    })
}

/// The next message to send to the peer; never, for a connection that only receives.
async fn next_outgoing(registration: &mut Option<Registration>) -> Option<Outgoing> {
    match registration {
        Some(r) => r.outgoing.recv().await,
        None => std::future::pending().await,
    }
}

/// The peer ended the stream: a clean close between frames, or a truncated frame (never
/// dispatched).
fn end_of_stream(reader: &mut FrameReader, id: u64) -> CloseReason {
    match reader.finish() {
        Err(e) => {
            warn!(connection_id = id, error = %e, "MLLP stream ended inside a frame");
            CloseReason::Truncated
        }
        Ok(_) => CloseReason::PeerClosed,
    }
}

async fn write_reply<S: AsyncWrite + Unpin>(stream: &mut S, out: &[u8]) -> io::Result<()> {
    stream.write_all(out).await?;
    stream.flush().await
}
