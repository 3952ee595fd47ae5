//! The HTTP/1.1 server of the admin endpoint: an accept loop with a connection limit, TLS
//! (the transport's [`ServerTls`]) when configured, each connection served by hyper with a
//! header timeout, and a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::transport::ServerTls;

/// A request's headers must arrive within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stop waits for requests in progress.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<ServerTls>,
    max_connections: usize,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                warn!(error = %e, "admin endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            warn!(%peer, "admin endpoint: too many connections; closing");
            continue;
        };
        let (app, tls, stop) = (app.clone(), tls.clone(), shutdown.clone());
        tracker.spawn(async move {
            let _slot = slot;
            match tls {
                None => connection(TokioIo::new(stream), app, stop).await,
                Some(tls) => match tls.accept(stream).await {
                    Ok((stream, _)) => connection(TokioIo::new(stream), app, stop).await,
                    Err(e) => debug!(%peer, error = %e, "admin endpoint: TLS handshake failed"),
                },
            }
        });
    }
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        warn!("admin endpoint: requests still running at shutdown were dropped");
    }
}

async fn connection<I>(io: I, app: Router, stop: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        served = conn.as_mut() => {
            if let Err(e) = served {
                debug!(error = %e, "admin endpoint: connection ended with an error");
            }
        }
        () = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}
