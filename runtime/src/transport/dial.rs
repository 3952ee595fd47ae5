//! Receiving on connections this side opens (the client role, for partners that only listen).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::listener::log_close;
use super::{serve_connection, Connect, Handler, ListenerConfig, PeerInfo};

/// How long [`serve_dialed`] waits before connecting again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// The wait after a connection closed, and the first wait after a failed attempt.
    pub initial: Duration,
    /// The cap of the wait, which doubles with each failed attempt in a row.
    pub max: Duration,
}

impl Default for Reconnect {
    /// 1 s, doubling to 60 s (RELIABILITY.md's backoff).
    fn default() -> Reconnect {
        Reconnect {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

/// Keeps a connection to a partner open and serves it as if the partner had connected here.
///
/// Some partners only listen, yet send their messages on the connection the other side opens
/// (and take messages on it too). This connects with `connector`, serves the connection with
/// [`serve_connection`] (the partner's messages go to `handler` and its replies are written
/// back; with [`ListenerConfig::peers`] messages are also sent to the partner on it), and
/// when the connection closes connects again after [`Reconnect::initial`], waiting twice as
/// long after each failed attempt, up to [`Reconnect::max`]. Returns once `shutdown` is
/// cancelled, after the message being handled (if any) got its reply.
///
/// [`ListenerConfig::tls`] does not apply: TLS is the connector's ([`super::TlsConnector`]).
pub async fn serve_dialed<C, H>(
    connector: C,
    handler: H,
    config: ListenerConfig,
    reconnect: Reconnect,
    shutdown: CancellationToken,
) where
    C: Connect,
    H: Handler,
{
    let remote = connector.describe();
    let next_id = AtomicU64::new(1);
    let mut wait = reconnect.initial;
    info!(peer = %remote, "MLLP dialing channel started");
    loop {
        let connected = tokio::select! {
            () = shutdown.cancelled() => break,
            connected = connector.connect() => connected,
        };
        match connected {
            Ok(stream) => {
                let peer = PeerInfo {
                    addr: None,
                    connection_id: next_id.fetch_add(1, Ordering::Relaxed),
                };
                debug!(peer = %remote, connection_id = peer.connection_id, "MLLP connection opened");
                let reason = serve_connection(stream, peer, &handler, &config, &shutdown).await;
                log_close(&peer, &reason);
                wait = reconnect.initial;
            }
            Err(e) => {
                warn!(peer = %remote, error = %e, retry_in = ?wait, "MLLP connection failed");
                let delay = wait;
                wait = (wait * 2).min(reconnect.max);
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(reconnect.initial) => {}
        }
    }
    info!(peer = %remote, "MLLP dialing channel stopped");
}
