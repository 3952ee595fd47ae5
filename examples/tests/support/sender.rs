//! The test's senders: several MLLP connections, each sending its messages in order, one in
//! flight, and resending a message until it is acknowledged (after a refused connection, a
//! closed one, or a timeout), as a real sending system does. The sender log keeps, per
//! connection, the messages acknowledged with `AA`/`CA`, in order.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hl7_runtime::transport::{ClientConfig, MllpClient, TcpConnector};
use tokio::task::JoinHandle;

use super::Msg;

/// Pause after a failed send before the resend.
const BACKOFF: Duration = Duration::from_millis(30);

struct State {
    msgs: Arc<Vec<Msg>>,
    /// Per connection: indices of the acknowledged messages, in order.
    acked: Mutex<Vec<Vec<usize>>>,
    /// Per connection: the message being sent and not yet acknowledged.
    current: Mutex<Vec<Option<usize>>>,
    /// Per message: sends (1 = no resend).
    attempts: Vec<AtomicU32>,
    acked_count: AtomicUsize,
    errors: AtomicUsize,
    /// Answers that were not a positive ACK of the message sent.
    negative: Mutex<Vec<String>>,
}

/// Running senders.
pub struct Senders {
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the senders saw.
#[derive(Debug)]
pub struct SenderLog {
    /// Per connection: indices of the acknowledged messages, in order.
    pub acked: Vec<Vec<usize>>,
    /// Per message: how many times it was sent.
    pub attempts: Vec<u32>,
    /// Failed sends (refused, closed, timed out).
    pub errors: usize,
    /// Answers that were not `AA`/`CA` with MSA-2 = the MSH-10 sent.
    pub negative: Vec<String>,
}

impl SenderLog {
    /// Messages sent more than once.
    pub fn resent(&self) -> usize {
        self.attempts.iter().filter(|&&a| a > 1).count()
    }

    /// All acknowledged messages.
    pub fn acked_total(&self) -> usize {
        self.acked.iter().map(Vec::len).sum()
    }
}

impl Senders {
    /// Starts one task per connection; message `i` goes on connection `msgs[i].conn`.
    pub fn start(addr: std::net::SocketAddr, msgs: Arc<Vec<Msg>>, conns: usize) -> Senders {
        Senders::start_paced(addr, msgs, conns, Duration::ZERO)
    }

    /// [`Senders::start`], spreading the messages evenly over about `over` (a connection
    /// that fell behind, the engine being down, catches up at full speed).
    pub fn start_paced(
        addr: std::net::SocketAddr,
        msgs: Arc<Vec<Msg>>,
        conns: usize,
        over: Duration,
    ) -> Senders {
        let per_conn = u32::try_from(msgs.len().div_ceil(conns.max(1)).max(1)).unwrap_or(1);
        let interval = over / per_conn;
        let state = Arc::new(State {
            attempts: (0..msgs.len()).map(|_| AtomicU32::new(0)).collect(),
            msgs,
            acked: Mutex::new(vec![Vec::new(); conns]),
            current: Mutex::new(vec![None; conns]),
            acked_count: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
            negative: Mutex::new(Vec::new()),
        });
        let tasks = (0..conns)
            .map(|c| tokio::spawn(connection(Arc::clone(&state), addr, c, interval)))
            .collect();
        Senders { state, tasks }
    }

    /// Messages acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.state.acked_count.load(Ordering::Relaxed)
    }

    /// The message each connection is sending and has no ACK for.
    pub fn in_flight(&self) -> Vec<usize> {
        lock(&self.state.current)
            .iter()
            .flatten()
            .copied()
            .collect()
    }

    /// The acknowledged messages so far.
    pub fn acked_now(&self) -> Vec<usize> {
        lock(&self.state.acked).iter().flatten().copied().collect()
    }

    /// Waits for every message to be acknowledged, up to `timeout`.
    pub async fn finish(self, timeout: Duration) -> Result<SenderLog, String> {
        let all = async {
            for task in self.tasks {
                task.await.map_err(|e| format!("sender task failed: {e}"))?;
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(timeout, all).await {
            Ok(done) => done?,
            Err(_) => {
                return Err(format!(
                    "the senders did not get every ACK within {timeout:?}: {} of {} acknowledged",
                    self.state.acked_count.load(Ordering::Relaxed),
                    self.state.msgs.len()
                ))
            }
        }
        Ok(SenderLog {
            acked: lock(&self.state.acked).clone(),
            attempts: self
                .state
                .attempts
                .iter()
                .map(|a| a.load(Ordering::Relaxed))
                .collect(),
            errors: self.state.errors.load(Ordering::Relaxed),
            negative: lock(&self.state.negative).clone(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn connection(
    state: Arc<State>,
    addr: std::net::SocketAddr,
    conn: usize,
    interval: Duration,
) {
    let config = ClientConfig::default()
        .with_connect_timeout(Duration::from_secs(5))
        .with_response_timeout(Duration::from_secs(30));
    let mut client = MllpClient::with_connector(TcpConnector::new(vec![addr]), config);
    let mine: Vec<usize> = (0..state.msgs.len())
        .filter(|&i| state.msgs[i].conn == conn)
        .collect();
    let start = tokio::time::Instant::now();
    for (k, i) in mine.into_iter().enumerate() {
        if !interval.is_zero() {
            let k = u32::try_from(k).unwrap_or(u32::MAX);
            tokio::time::sleep_until(start + interval * k).await;
        }
        let msg = &state.msgs[i];
        lock(&state.current)[conn] = Some(i);
        loop {
            state.attempts[i].fetch_add(1, Ordering::Relaxed);
            match client.send(&msg.raw).await {
                Ok(ack) => {
                    let (code, echoed) = msa(&ack);
                    if echoed == msg.control_id && (code == "AA" || code == "CA") {
                        break;
                    }
                    lock(&state.negative).push(format!(
                        "{}: MSA-1 {code:?} MSA-2 {echoed:?}",
                        msg.control_id
                    ));
                    client.disconnect();
                }
                Err(_) => {
                    state.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            tokio::time::sleep(BACKOFF).await;
        }
        lock(&state.acked)[conn].push(i);
        lock(&state.current)[conn] = None;
        state.acked_count.fetch_add(1, Ordering::Relaxed);
    }
}

/// MSA-1 and MSA-2 of an ACK.
fn msa(ack: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(ack);
    let Some(line) = text.split(['\r', '\n']).find(|l| l.starts_with("MSA|")) else {
        return (String::new(), String::new());
    };
    let mut fields = line.split('|').skip(1);
    let code = fields.next().unwrap_or_default().to_owned();
    let echoed = fields.next().unwrap_or_default().to_owned();
    (code, echoed)
}
