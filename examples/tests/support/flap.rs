//! A destination that goes away and comes back (RELIABILITY.md T-CRASH-2): a TCP proxy on a
//! port of its own in front of a sink. Down, nothing listens on its port and its open
//! connections are cut, as when the receiving system is stopped; up again, it listens on the
//! same port. The sink behind it, and its delivery log, stay.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct Flapping {
    addr: SocketAddr,
    upstream: SocketAddr,
    /// The accept loop while up; it owns the connections, so aborting it cuts them all.
    serving: Option<JoinHandle<()>>,
    /// How many times it went down.
    pub downs: usize,
}

impl Flapping {
    /// Up, on a free loopback port, in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> Flapping {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        Flapping {
            addr,
            upstream,
            serving: Some(tokio::spawn(serve(listener, upstream))),
            downs: 0,
        }
    }

    /// Where the engine sends.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and cuts every open connection.
    pub async fn down(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
            let _ = serving.await;
            self.downs += 1;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        if self.serving.is_some() {
            return;
        }
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serving = Some(tokio::spawn(serve(listener, self.upstream)));
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cannot listen on {} again", self.addr);
    }
}

async fn serve(listener: TcpListener, upstream: SocketAddr) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut inbound, _)) = accepted else { continue };
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
            // Reaps finished connections; never ready when there are none.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
