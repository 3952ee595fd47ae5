//! The MLLP client (client role): one message in flight per connection.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{lookup_host, TcpStream, ToSocketAddrs};
use tokio::time::{timeout, timeout_at, Instant};
use tracing::{debug, trace, warn};

use super::ClientConfig;
use crate::ack::matching;
use crate::mllp::{Commit, Frame, FrameError, FrameReader, MllpCodec};

/// Opens the byte streams an [`MllpClient`] sends over: plain TCP ([`TcpConnector`]), TLS
/// ([`TlsConnector`](super::TlsConnector)), or your own.
pub trait Connect: Send + Sync {
    /// The stream type.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send;

    /// Opens a new connection.
    fn connect(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// A description of the remote end, for logs.
    fn describe(&self) -> String;
}

/// Plain TCP connections to a resolved list of addresses, tried in order.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    addrs: Vec<SocketAddr>,
}

impl TcpConnector {
    /// Resolves `addr` once; reconnections use the resolved addresses.
    pub async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let addrs: Vec<SocketAddr> = lookup_host(addr).await?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "address resolved to nothing",
            ));
        }
        Ok(Self { addrs })
    }

    /// Connects to exactly these addresses.
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        Self { addrs }
    }
}

impl Connect for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
        for addr in &self.addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn describe(&self) -> String {
        match self.addrs.as_slice() {
            [one] => one.to_string(),
            many => format!("{many:?}"),
        }
    }
}

/// Why a send failed. After any of these but [`SendError::InvalidMessage`] (refused before
/// anything was written) the connection is closed; the next send opens a new one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The message cannot be framed (it contains `<VT>` or `<FS>`); nothing was sent.
    #[error("message cannot be sent over MLLP: {0}")]
    InvalidMessage(#[source] FrameError),
    /// Opening the connection failed or timed out.
    #[error("cannot connect to {peer}: {source}")]
    Connect {
        /// The remote end.
        peer: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the message took longer than the write timeout.
    #[error("writing the message timed out after {0:?}")]
    WriteTimeout(Duration),
    /// No complete response within the response timeout; the connection was closed so a late
    /// response cannot be taken for the next message's.
    #[error("no response within {0:?}; connection closed")]
    ResponseTimeout(Duration),
    /// The peer closed the connection before a complete response.
    #[error("connection closed by the peer before a response")]
    Closed,
    /// The response was not a well-formed MLLP frame.
    #[error("malformed response: {0}")]
    Frame(#[source] FrameError),
    /// [`MllpClient::send`] got a commit block where it expected a message.
    #[error("expected a response message, got a commit {0:?} block")]
    UnexpectedCommit(Commit),
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The response acknowledges another message: its MSA-2 is not the MSH-10 sent (see
    /// [`ClientConfig::match_ack`]). The connection was closed, so nothing that follows on it
    /// can be taken for this message's answer; sending again is safe.
    #[error("the response acknowledges another message (MSA-2 `{acknowledged}`, sent MSH-10 `{sent}`); connection closed")]
    WrongAck {
        /// MSH-10 of the message sent.
        sent: String,
        /// MSA-2 of the response.
        acknowledged: String,
    },
    /// [`PeerConnections::send`](super::PeerConnections::send): no peer is connected.
    #[error("no connection from the peer is open")]
    NotConnected,
}

struct Connection<S> {
    stream: S,
    reader: FrameReader,
}

/// An MLLP client: sends one message at a time and waits for its response.
///
/// `send` takes `&mut self`, so one message is in flight per client (and per connection), as
/// MLLP Release 2 requires. A failed send (timeout, I/O error, malformed response) closes the
/// connection; the next send opens a new one. The client does not retry: retry and backoff are
/// the caller's policy.
pub struct MllpClient<C: Connect = TcpConnector> {
    connector: C,
    config: ClientConfig,
    conn: Option<Connection<C::Stream>>,
}

impl<C: Connect> std::fmt::Debug for MllpClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MllpClient")
            .field("peer", &self.connector.describe())
            .field("connected", &self.conn.is_some())
            .field("config", &self.config)
            .finish()
    }
}

impl MllpClient<TcpConnector> {
    /// Resolves `addr` and opens a first connection to it.
    pub async fn connect(
        addr: impl ToSocketAddrs,
        config: ClientConfig,
    ) -> Result<Self, SendError> {
        let connector = TcpConnector::resolve(addr)
            .await
            .map_err(|source| SendError::Connect {
                peer: "?".into(),
                source,
            })?;
        let mut client = Self::with_connector(connector, config);
        client.ensure_connected().await?;
        Ok(client)
    }
}

impl<C: Connect> MllpClient<C> {
    /// A client over any [`Connect`]; it connects on the first send.
    pub fn with_connector(connector: C, config: ClientConfig) -> Self {
        Self {
            connector,
            config,
            conn: None,
        }
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Closes the connection, if any; the next send opens a new one.
    pub fn disconnect(&mut self) {
        if self.conn.take().is_some() {
            debug!(peer = %self.connector.describe(), "MLLP client connection closed");
        }
    }

    /// Sends `message` (without MLLP bytes) and returns the response message's content: with
    /// [`ClientConfig::match_ack`] (the default), only a response that acknowledges this
    /// message, or has no MSA segment.
    pub async fn send(&mut self, message: &[u8]) -> Result<Bytes, SendError> {
        let response = match self.send_frame(message).await? {
            Frame::Message(b) => b,
            Frame::Commit(c) => return Err(SendError::UnexpectedCommit(c)),
        };
        if self.config.match_ack {
            if let Some((_, acknowledged)) = matching::acknowledgment(&response) {
                let sent = matching::control_id(message);
                if acknowledged != sent {
                    let error = SendError::WrongAck {
                        sent: sent.into_owned(),
                        acknowledged: acknowledged.to_owned(),
                    };
                    warn!(peer = %self.connector.describe(), %error, "MLLP response refused");
                    self.disconnect();
                    return Err(error);
                }
            }
        }
        Ok(response)
    }

    /// Sends `message` and returns the response frame: a message, or a commit block when
    /// [`ClientConfig::commit_blocks`] is on.
    pub async fn send_frame(&mut self, message: &[u8]) -> Result<Frame, SendError> {
        let mut out = BytesMut::new();
        MllpCodec::encode_message(message, &mut out).map_err(SendError::InvalidMessage)?;
        self.ensure_connected().await?;
        let result = self.exchange(&out).await;
        if let Err(e) = &result {
            warn!(peer = %self.connector.describe(), error = %e, "MLLP send failed; closing the connection");
            self.conn = None;
        }
        result
    }

    async fn exchange(&mut self, out: &[u8]) -> Result<Frame, SendError> {
        let config = &self.config;
        let Some(conn) = self.conn.as_mut() else {
            return Err(SendError::Closed);
        };
        let write = async {
            conn.stream.write_all(out).await?;
            conn.stream.flush().await
        };
        timeout(config.write_timeout, write)
            .await
            .map_err(|_| SendError::WriteTimeout(config.write_timeout))??;
        debug!(len = out.len().saturating_sub(3), "MLLP message sent");
        if config.log_payloads {
            trace!(body = %String::from_utf8_lossy(out), "MLLP message body");
        }
        let deadline = Instant::now() + config.response_timeout;
        loop {
            match conn.reader.next_frame() {
                Ok(Some(frame)) => {
                    if config.log_payloads {
                        trace!(response = ?frame, "MLLP response");
                    }
                    return Ok(frame);
                }
                Ok(None) => {}
                Err(e) => return Err(SendError::Frame(e)),
            }
            let read = timeout_at(deadline, conn.stream.read_buf(conn.reader.read_buffer()));
            match read.await {
                Err(_) => return Err(SendError::ResponseTimeout(config.response_timeout)),
                Ok(Err(e)) => return Err(SendError::Io(e)),
                Ok(Ok(0)) => {
                    return Err(match conn.reader.finish() {
                        Err(e) => SendError::Frame(e),
                        Ok(_) => SendError::Closed,
                    })
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Makes sure a usable connection is open: drops one that the peer closed or that holds
    /// bytes nobody asked for (a late or extra response), then connects if needed.
    async fn ensure_connected(&mut self) -> Result<(), SendError> {
        if let Some(conn) = self.conn.as_mut() {
            if conn.reader.buffered() > 0
                || conn.reader.in_frame()
                || !poll_idle(&mut conn.stream).await
            {
                debug!(peer = %self.connector.describe(), "MLLP client connection stale; reconnecting");
                self.conn = None;
            }
        }
        if self.conn.is_none() {
            let peer = self.connector.describe();
            let stream = match timeout(self.config.connect_timeout, self.connector.connect()).await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(SendError::Connect { peer, source }),
                Err(_) => {
                    let source = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                    return Err(SendError::Connect { peer, source });
                }
            };
            debug!(peer = %peer, "MLLP client connected");
            let codec = MllpCodec::new()
                .with_max_frame_len(self.config.max_frame_len)
                .with_commit_blocks(self.config.commit_blocks);
            self.conn = Some(Connection {
                stream,
                reader: FrameReader::new(codec),
            });
        }
        Ok(())
    }
}

/// Polls the stream once without waiting: `true` if nothing is there to read (the normal state
/// of an idle MLLP client connection), `false` if the peer closed it, sent unsolicited bytes, or
/// it failed.
async fn poll_idle<S: AsyncRead + Unpin>(stream: &mut S) -> bool {
    let mut scratch = [0u8; 64];
    poll_fn(|cx| {
        let mut buf = ReadBuf::new(&mut scratch);
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Ready(true),
            Poll::Ready(_) => Poll::Ready(false),
        }
    })
    .await
}
