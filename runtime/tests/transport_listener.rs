//! The MLLP listener and client over loopback: T-MLLP-2 and T-MLLP-3 on a real socket, T-SLOW-1
//! scaled down (short timeouts), the max-connections limit, and the client's response timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hl7_runtime::mllp::{Commit, Frame, DEFAULT_MAX_FRAME_LEN};
use hl7_runtime::transport::{ClientConfig, ListenerConfig, MllpClient, MllpListener, SendError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Seen = Arc<Mutex<Vec<Bytes>>>;

/// Starts a listener on 127.0.0.1 whose handler records each message and answers
/// `ACK|<message>`; returns its address and the record.
async fn start(config: ListenerConfig) -> (std::net::SocketAddr, Seen) {
    let listener = MllpListener::bind("127.0.0.1:0", config)
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    tokio::spawn(listener.serve(move |m: Bytes| {
        let record = Arc::clone(&record);
        async move {
            let mut ack = b"ACK|".to_vec();
            ack.extend_from_slice(&m[..m.len().min(64)]);
            record.lock().expect("lock").push(m);
            ack
        }
    }));
    (addr, seen)
}

fn quick() -> ListenerConfig {
    ListenerConfig::default()
        .with_frame_read_timeout(Duration::from_secs(1))
        .with_idle_timeout(Duration::from_secs(5))
}

/// Reads until the peer closes or `limit` passes; returns everything read and whether it closed.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (all, true),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (all, false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_acked_in_order() {
    let (addr, seen) = start(quick()).await;
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    for i in 0..50 {
        let msg = format!("MSH|^~\\&|A|B|C|D|||ADT^A01|{i}|P|2.5\r");
        let ack = client.send(msg.as_bytes()).await.expect("ack");
        assert_eq!(&ack[..], format!("ACK|{msg}").as_bytes());
    }
    assert_eq!(seen.lock().expect("lock").len(), 50);
}

/// T-MLLP-2: `max_frame_len + 1` bytes close the connection without dispatching; the next
/// connection works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_mllp_2_oversize_closes_connection_next_works() {
    let (addr, seen) = start(quick().with_frame_read_timeout(Duration::from_secs(10))).await;
    let mut attacker = TcpStream::connect(addr).await.expect("connect");
    let mut frame = vec![0x0B];
    frame.extend(std::iter::repeat_n(b'X', DEFAULT_MAX_FRAME_LEN + 1));
    frame.extend_from_slice(b"\x1c\r");
    // The server may close while we are still writing: a write error is fine.
    let _ = attacker.write_all(&frame).await;
    let (reply, closed) = read_to_close(&mut attacker, Duration::from_secs(5)).await;
    assert!(closed, "oversized frame must close the connection");
    assert!(reply.is_empty());
    assert!(seen.lock().expect("lock").is_empty());

    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    assert_eq!(
        &client.send(b"MSH|next").await.expect("ack")[..],
        b"ACK|MSH|next"
    );
}

/// T-MLLP-3 on a socket: garbage before `<VT>`, a stray `<FS>`, a `<VT>` inside a frame and EOF
/// mid-frame; only complete frames are dispatched, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_mllp_3_garbage_and_broken_frames_on_a_socket() {
    let (addr, seen) = start(quick()).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut wire = vec![0xFFu8; 100_000];
    wire.extend_from_slice(b"\r\n\x0bMSH|one\x1c\r");
    wire.extend_from_slice(b"\x0bMSH|stray\x1cX");
    wire.extend_from_slice(b"\x0bMSH|restarted\x0bMSH|two\x1c\r");
    wire.extend_from_slice(b"\x0bMSH|cut off");
    s.write_all(&wire).await.expect("write");
    s.shutdown().await.expect("shutdown");
    let (reply, closed) = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(closed);
    assert_eq!(reply, b"\x0bACK|MSH|one\x1c\r\x0bACK|MSH|two\x1c\r");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![
            Bytes::from_static(b"MSH|one"),
            Bytes::from_static(b"MSH|two")
        ]
    );
}

/// T-SLOW-1, scaled down: 10 connections send `<VT>MSH|` and then one byte every 300 ms; each is
/// closed at the 1 s frame read timeout (± 1 s) while a good client's 100 messages are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_slow_1_slow_senders_are_cut_good_client_served() {
    let timeout = Duration::from_secs(1);
    let (addr, seen) = start(quick().with_frame_read_timeout(timeout)).await;
    let mut slow = Vec::new();
    for _ in 0..10 {
        slow.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            let start = Instant::now();
            s.write_all(b"\x0bMSH|").await.expect("write");
            let mut buf = [0u8; 16];
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return start.elapsed(),
                        Ok(_) => panic!("no reply expected"),
                    },
                    () = tokio::time::sleep(Duration::from_millis(300)) => {
                        if s.write_all(b"A").await.is_err() {
                            return start.elapsed();
                        }
                    }
                }
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "slow connection never closed"
                );
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    let mut latencies = Vec::new();
    for i in 0..100 {
        let msg = format!("MSH|good|{i}");
        let t = Instant::now();
        let ack = client.send(msg.as_bytes()).await.expect("ack");
        latencies.push(t.elapsed());
        assert_eq!(&ack[..], format!("ACK|{msg}").as_bytes());
    }
    for handle in slow {
        let closed_after = handle.await.expect("slow task");
        assert!(
            closed_after >= timeout - Duration::from_millis(100)
                && closed_after <= timeout + Duration::from_secs(1),
            "slow connection closed after {closed_after:?}"
        );
    }
    latencies.sort();
    let p99 = latencies[98];
    eprintln!("good client: p99 {p99:?}, max {:?}", latencies[99]);
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
    assert_eq!(seen.lock().expect("lock").len(), 100);
}

/// Above `max_connections` a connection is accepted and closed at once; a slot freed is reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_rejects_then_recovers() {
    let (addr, _) = start(quick().with_max_connections(4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = MllpClient::connect(addr, ClientConfig::default())
            .await
            .expect("connect");
        c.send(b"MSH|hold").await.expect("ack");
        held.push(c);
    }
    for _ in 0..3 {
        let mut extra = TcpStream::connect(addr).await.expect("tcp accept");
        let _ = extra.write_all(b"\x0bMSH|over\x1c\r").await;
        let (reply, closed) = read_to_close(&mut extra, Duration::from_secs(2)).await;
        assert!(
            closed && reply.is_empty(),
            "connection over the limit must be closed"
        );
    }
    held.pop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    assert_eq!(
        &c.send(b"MSH|again").await.expect("ack")[..],
        b"ACK|MSH|again"
    );
}

/// A connection that never starts a frame is closed at the idle timeout, and garbage does not
/// keep it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_is_closed() {
    let config = quick().with_idle_timeout(Duration::from_millis(500));
    let (addr, _) = start(config).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let start = Instant::now();
    for _ in 0..3 {
        let _ = s.write_all(b"garbage").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, closed) = read_to_close(&mut s, Duration::from_secs(3)).await;
    let elapsed = start.elapsed();
    assert!(closed);
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

/// The client's response timeout: the server answers the first message late; the client gives
/// up, closes, and its next send (on a new connection) gets its own ACK, never the late one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_response_timeout_then_fresh_connection() {
    let listener = MllpListener::bind("127.0.0.1:0", quick())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    tokio::spawn(listener.serve(move |m: Bytes| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            if m.ends_with(b"slow") {
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
            let mut ack = b"ACK|".to_vec();
            ack.extend_from_slice(&m);
            ack
        }
    }));
    let config = ClientConfig::default().with_response_timeout(Duration::from_millis(300));
    let mut client = MllpClient::connect(addr, config).await.expect("connect");
    let t = Instant::now();
    let err = client.send(b"MSH|1|slow").await.expect_err("must time out");
    assert!(matches!(err, SendError::ResponseTimeout(_)), "{err}");
    assert!(t.elapsed() < Duration::from_millis(600));
    assert!(
        !client.is_connected(),
        "timed-out connection must be closed"
    );
    // Wait until the late ACK would have been written, then send the next message.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(&client.send(b"MSH|2").await.expect("ack")[..], b"ACK|MSH|2");
    assert_eq!(&client.send(b"MSH|3").await.expect("ack")[..], b"ACK|MSH|3");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// An ACK whose MSA-2 is not the MSH-10 sent is refused and the connection closed; the next
/// send opens a new one. With `match_ack` off the response is returned as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_an_ack_for_another_message() {
    let listener = MllpListener::bind("127.0.0.1:0", quick())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Answers every message with an ACK of message `M1`.
    tokio::spawn(
        listener.serve(|_: Bytes| async {
            b"MSH|^~\\&|B|B|A|A|2024||ACK|A9|P|2.5\rMSA|AA|M1\r".to_vec()
        }),
    );
    let message = |id: &str| format!("MSH|^~\\&|A|A|B|B|2024||ADT^A01|{id}|P|2.5\r");
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    let ack = client
        .send(message("M1").as_bytes())
        .await
        .expect("its ACK");
    assert!(ack.ends_with(b"MSA|AA|M1\r"));
    let err = client
        .send(message("M2").as_bytes())
        .await
        .expect_err("an ACK of M1 does not answer M2");
    assert!(
        matches!(&err, SendError::WrongAck { sent, acknowledged } if sent == "M2" && acknowledged == "M1"),
        "{err}"
    );
    assert!(!client.is_connected(), "closed after a wrong ACK");

    let mut lax = MllpClient::connect(addr, ClientConfig::default().with_match_ack(false))
        .await
        .expect("connect");
    assert!(lax.send(message("M2").as_bytes()).await.is_ok());
}

/// A connection the server closed while idle is noticed before the next send, which reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reconnects_after_server_idle_close() {
    let (addr, _) = start(quick().with_idle_timeout(Duration::from_millis(200))).await;
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    assert_eq!(&client.send(b"MSH|a").await.expect("ack")[..], b"ACK|MSH|a");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(&client.send(b"MSH|b").await.expect("ack")[..], b"ACK|MSH|b");
}

/// A message holding MLLP's reserved bytes is refused before anything is sent.
#[tokio::test]
async fn client_refuses_unframeable_message() {
    let (addr, seen) = start(quick()).await;
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    let err = client.send(b"MSH|\x1c\r").await.expect_err("refused");
    assert!(matches!(err, SendError::InvalidMessage(_)), "{err}");
    assert!(seen.lock().expect("lock").is_empty());
}

/// MLLP Release 2: the handler answers with a commit block; the client reads it as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_2_commit_blocks() {
    let listener = MllpListener::bind("127.0.0.1:0", quick().with_commit_blocks(true))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(listener.serve(|m: Bytes| async move {
        if m.starts_with(b"MSH|") {
            Commit::Ack
        } else {
            Commit::Nak
        }
    }));
    let config = ClientConfig::default().with_commit_blocks(true);
    let mut client = MllpClient::connect(addr, config).await.expect("connect");
    assert_eq!(
        client.send_frame(b"MSH|ok").await.expect("commit"),
        Frame::Commit(Commit::Ack)
    );
    assert_eq!(
        client.send_frame(b"junk").await.expect("commit"),
        Frame::Commit(Commit::Nak)
    );
    let err = client
        .send(b"MSH|x")
        .await
        .expect_err("send() wants a message");
    assert!(
        matches!(err, SendError::UnexpectedCommit(Commit::Ack)),
        "{err}"
    );
}

/// Graceful shutdown: the listener stops, open idle connections are closed, `serve` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections() {
    let listener = MllpListener::bind("127.0.0.1:0", quick())
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(listener.serve_with_shutdown(
        |m: Bytes| async move { m },
        async move {
            let _ = rx.await;
        },
    ));
    let mut client = MllpClient::connect(addr, ClientConfig::default())
        .await
        .expect("connect");
    assert_eq!(
        &client.send(b"MSH|echo").await.expect("ack")[..],
        b"MSH|echo"
    );
    let _ = tx.send(());
    let done = tokio::time::timeout(Duration::from_secs(2), server).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
    assert!(client.send(b"MSH|after").await.is_err());
}
