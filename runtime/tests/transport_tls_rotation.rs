//! Certificate rotation on disk (RELIABILITY.md T-TLS-3): the listener's certificate and key,
//! the client's CA bundle and the listener's client CA bundle are replaced in their files
//! while the engine runs; new handshakes use the new files, connections already open go on,
//! and files that cannot be used leave the ones loaded before in place.
//!
//! Every certificate and key is generated at test time with rcgen; none is committed.

mod tls_support;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hl7_runtime::transport::{
    CaBundle, ClientConfig, ClientTlsConfig, Handler, HandshakeError, Identity, ListenerConfig,
    MllpClient, MllpListener, PeerInfo, Reply, ServerTls, ServerTlsConfig, TcpConnector,
    TlsConnector,
};
use rustls::CertificateError;
use tls_support::{handshake_error, Ca};

/// Longer than the reload's one look at the files per second.
const AFTER_A_LOOK: Duration = Duration::from_millis(1_100);

/// What the listener received: each message with its connection.
type Received = Arc<Mutex<Vec<(u64, Bytes)>>>;

/// Records each message with its connection and answers `ACK|<message>`.
struct Record(Received);

impl Handler for Record {
    fn handle(&self, message: Bytes, peer: PeerInfo) -> impl Future<Output = Reply> + Send {
        let mut ack = b"ACK|".to_vec();
        ack.extend_from_slice(&message);
        self.0
            .lock()
            .expect("lock")
            .push((peer.connection_id, message));
        async move { Reply::from(ack) }
    }
}

async fn start(tls: ServerTls) -> (std::net::SocketAddr, Received) {
    let config = ListenerConfig::default().with_tls(tls);
    let listener = MllpListener::bind("127.0.0.1:0", config)
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received = Received::default();
    tokio::spawn(listener.serve(Record(Arc::clone(&received))));
    (addr, received)
}

/// Replaces `path` as rotation tools do: written beside it, then renamed over it.
fn replace(path: &Path, contents: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, contents).expect("write");
    std::fs::rename(&next, path).expect("rename");
}

/// A certificate for the listener (`localhost`) from `ca`, written to `cert` and `key`.
fn issue_listener(ca: &Ca, cert: &Path, key: &Path) {
    let (cert_pem, key_pem) = ca.issue("engine", &["localhost", "127.0.0.1"], false);
    replace(key, &key_pem);
    replace(cert, &cert_pem);
}

fn client(addr: std::net::SocketAddr, tls: &ClientTlsConfig) -> MllpClient<TlsConnector> {
    let tls = tls.clone().build().expect("client TLS");
    let connector =
        TlsConnector::new(TcpConnector::new(vec![addr]), "localhost", &tls).expect("connector");
    MllpClient::with_connector(connector, ClientConfig::default())
}

async fn refused_as_unknown_issuer(client: &mut MllpClient<TlsConnector>) {
    let err = client.send(b"MSH|probe").await.expect_err("refused");
    assert!(
        matches!(
            handshake_error(&err),
            HandshakeError::Tls(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{err}"
    );
}

struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    trust: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |name: &str| dir.path().join(name);
        Files {
            cert: at("engine.pem"),
            key: at("engine.key"),
            trust: at("trust.pem"),
            _dir: dir,
        }
    }
}

/// T-TLS-3: 10,000 messages, on a connection that stays open throughout and on connections
/// opened one after another (a handshake every 100 messages). Halfway, the client's CA bundle
/// gains the new CA and the listener's certificate is replaced by one of the new CA. After
/// that, new handshakes get the new certificate (a client trusting only the old CA is refused,
/// one trusting only the new CA is served), the open connection goes on, and every message is
/// received once and answered with its own ACK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_tls_3_certificates_rotated_on_disk_during_a_run() {
    let (old, new) = (Ca::new("Old CA"), Ca::new("New CA"));
    let files = Files::new();
    issue_listener(&old, &files.cert, &files.key);
    replace(&files.trust, &old.pem());
    let server = ServerTlsConfig::new(Identity::from_pem_files(&files.cert, &files.key).unwrap())
        .build()
        .expect("server TLS");
    let (addr, received) = start(server).await;
    let from_files = ClientTlsConfig::new(CaBundle::from_pem_file(&files.trust).unwrap());
    let only_old = ClientTlsConfig::new(old.bundle());
    let only_new = ClientTlsConfig::new(new.bundle());
    refused_as_unknown_issuer(&mut client(addr, &only_new)).await;

    let tls = from_files.build().expect("client TLS");
    let connector = || {
        let tcp = TcpConnector::new(vec![addr]);
        TlsConnector::new(tcp, "localhost", &tls).expect("connector")
    };
    let mut open = MllpClient::with_connector(connector(), ClientConfig::default());
    let mut fresh = MllpClient::with_connector(connector(), ClientConfig::default());
    for i in 0..10_000 {
        if i == 5_000 {
            replace(&files.trust, &format!("{}{}", old.pem(), new.pem()));
            issue_listener(&new, &files.cert, &files.key);
            tokio::time::sleep(AFTER_A_LOOK).await;
            refused_as_unknown_issuer(&mut client(addr, &only_old)).await;
            let ack = client(addr, &only_new).send(b"MSH|probe").await;
            assert_eq!(&ack.expect("the new certificate")[..], b"ACK|MSH|probe");
        }
        if i % 100 == 0 {
            fresh = MllpClient::with_connector(connector(), ClientConfig::default());
        }
        let message = format!("MSH|{i}");
        let sender = if i % 10 == 0 { &mut open } else { &mut fresh };
        let ack = sender.send(message.as_bytes()).await.expect("ack");
        assert_eq!(&ack[..], format!("ACK|{message}").as_bytes());
    }

    let received = received.lock().expect("lock");
    let run: Vec<_> = received
        .iter()
        .filter(|(_, m)| &m[..] != b"MSH|probe")
        .collect();
    let sent: Vec<String> = (0..10_000).map(|i| format!("MSH|{i}")).collect();
    let got: Vec<String> = run
        .iter()
        .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert_eq!(got, sent, "every message received once, in order");
    let open_connections: std::collections::BTreeSet<u64> = run
        .iter()
        .step_by(10)
        .map(|(connection, _)| *connection)
        .collect();
    assert_eq!(
        open_connections.len(),
        1,
        "the open connection carried its messages across the rotation"
    );
}

/// The listener's client CA bundle is rotated too: partners with certificates of the new CA
/// get in once it is on disk, those of the old one no longer do. A file that cannot be used
/// (truncated) leaves the bundle loaded before in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_ca_bundle_rotated_on_disk_admits_the_new_partners() {
    let (server_ca, old, new) = (Ca::new("Engine CA"), Ca::new("Old CA"), Ca::new("New CA"));
    let files = Files::new();
    replace(&files.trust, &old.pem());
    let server = ServerTlsConfig::new(server_ca.identity("engine", &["localhost"], false))
        .with_client_ca(CaBundle::from_pem_file(&files.trust).unwrap())
        .build()
        .expect("server TLS");
    let (addr, received) = start(server).await;
    let partner = |ca: &Ca| {
        ClientTlsConfig::new(server_ca.bundle()).with_identity(ca.identity(
            "lab",
            &["lab.example.org"],
            false,
        ))
    };
    let (old_partner, new_partner) = (partner(&old), partner(&new));
    let served = |tls: ClientTlsConfig| async move {
        let result = client(addr, &tls).send(b"MSH|x").await;
        result.map(|ack| ack == b"ACK|MSH|x"[..])
    };

    assert!(served(old_partner.clone())
        .await
        .expect("old partner served"));
    assert!(served(new_partner.clone()).await.is_err());

    replace(&files.trust, &new.pem());
    tokio::time::sleep(AFTER_A_LOOK).await;
    assert!(served(new_partner.clone())
        .await
        .expect("new partner served"));
    assert!(served(old_partner.clone()).await.is_err());

    let truncated = new.pem();
    replace(&files.trust, &truncated[..truncated.len() / 2]);
    tokio::time::sleep(AFTER_A_LOOK).await;
    assert!(served(new_partner)
        .await
        .expect("still the bundle loaded before"));
    assert_eq!(received.lock().expect("lock").len(), 3);
}
