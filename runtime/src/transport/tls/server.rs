//! The listener side: server configuration, the handshake with its timeout, and the client
//! allow-list.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::sign::SingleCertAndKey;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;
use tracing::warn;

use super::reload::Reloading;
use super::{provider, CaBundle, HandshakeError, Identity, TlsConfigError};

/// Time allowed to send a close_notify to a client refused by the allow-list.
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_secs(1);

/// Settings for a TLS listener; [`ServerTlsConfig::build`] checks them and makes a
/// [`ServerTls`].
///
/// ```no_run
/// use hl7_runtime::transport::{
///     CaBundle, ClientAllowList, Identity, ListenerConfig, MllpListener, ServerTlsConfig,
/// };
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = ServerTlsConfig::new(Identity::from_pem_files("server.pem", "server.key")?)
///     .with_client_ca(CaBundle::from_pem_file("partners-ca.pem")?)
///     .with_allow_list(ClientAllowList::new().allow_name("lab.example.org"))
///     .build()?;
/// let config = ListenerConfig::default().with_tls(tls);
/// let listener = MllpListener::bind("0.0.0.0:2575", config).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerTlsConfig {
    identity: Identity,
    client_ca: Option<CaBundle>,
    allow_list: Option<ClientAllowList>,
    handshake_timeout: Duration,
}

impl ServerTlsConfig {
    /// A listener presenting `identity`, not asking for client certificates, with the default
    /// 10 s handshake timeout.
    pub fn new(identity: Identity) -> Self {
        Self {
            identity,
            client_ca: None,
            allow_list: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Requires every client to present a certificate that chains to one of `roots` and is
    /// within its validity period (mutual TLS); a client without one fails the handshake.
    pub fn with_client_ca(mut self, roots: CaBundle) -> Self {
        self.client_ca = Some(roots);
        self
    }

    /// Accepts only clients whose verified certificate is on `list`; others are refused right
    /// after the handshake, before any frame is read. Needs [`ServerTlsConfig::with_client_ca`].
    pub fn with_allow_list(mut self, list: ClientAllowList) -> Self {
        self.allow_list = Some(list);
        self
    }

    /// Time allowed from accepting the TCP connection to the end of the TLS handshake; then the
    /// connection is closed. Default 10 s (a slowloris in the handshake holds a connection slot
    /// at most this long).
    pub fn with_handshake_timeout(mut self, t: Duration) -> Self {
        self.handshake_timeout = t;
        self
    }

    /// Checks the settings and builds the rustls configuration. Refuses an allow-list without a
    /// client CA, and an empty allow-list, rather than start a listener that would let everyone
    /// in, or no one.
    ///
    /// The certificate, key and client CA bundle loaded from files are loaded again when one
    /// of those files changes (looked at before a handshake, at most once a second): new
    /// handshakes use the new ones, open connections go on, and files that cannot be used
    /// leave the ones loaded before in place, with a warning.
    pub fn build(self) -> Result<ServerTls, TlsConfigError> {
        match (&self.allow_list, &self.client_ca) {
            (Some(_), None) => return Err(TlsConfigError::AllowListWithoutClientCa),
            (Some(list), Some(_)) if list.is_empty() => return Err(TlsConfigError::EmptyAllowList),
            _ => {}
        }
        let loaded = acceptor(&self.identity, self.client_ca.as_ref())?;
        let mut files = self.identity.files();
        files.extend(self.client_ca.iter().flat_map(CaBundle::files));
        let (identity, client_ca) = (self.identity.clone(), self.client_ca.clone());
        let acceptor = Reloading::new("TLS listener", loaded, files, move || {
            let ca = client_ca.as_ref().map(CaBundle::reloaded).transpose()?;
            acceptor(&identity.reloaded()?, ca.as_ref())
        });
        Ok(ServerTls {
            acceptor: Arc::new(acceptor),
            allow_list: self.allow_list.map(Arc::new),
            client_auth: self.client_ca.is_some(),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// The rustls side of a listener presenting `identity`, requiring client certificates that
/// chain to `client_ca` when given.
fn acceptor(
    identity: &Identity,
    client_ca: Option<&CaBundle>,
) -> Result<tokio_rustls::TlsAcceptor, TlsConfigError> {
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(ca.roots(), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    warn_if_out_of_validity(identity);
    let config =
        builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key())));
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// An expired listener certificate is not unsafe, but every handshake will fail: say so once,
/// at start-up (or when it is loaded again), rather than only in each client's logs.
fn warn_if_out_of_validity(identity: &Identity) {
    let Some(cert) = identity.chain().first() else {
        return;
    };
    if let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) {
        if !parsed.validity().is_valid() {
            warn!(
                certificate = %identity.origin(),
                not_before = %parsed.validity().not_before,
                not_after = %parsed.validity().not_after,
                "TLS listener certificate is outside its validity period; clients will refuse it"
            );
        }
    }
}

/// A built TLS listener configuration: cheap to clone, shared by every connection.
///
/// Give it to a listener with [`ListenerConfig::with_tls`](crate::transport::ListenerConfig::with_tls),
/// or call [`ServerTls::accept`] from your own accept loop.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: Arc<Reloading<tokio_rustls::TlsAcceptor>>,
    allow_list: Option<Arc<ClientAllowList>>,
    client_auth: bool,
    handshake_timeout: Duration,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("client_certificates_required", &self.client_auth)
            .field("allow_list", &self.allow_list)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Runs the server side of the handshake on `stream` within the handshake timeout, then
    /// checks the client's certificate against the allow-list. Returns the TLS stream and the
    /// client's verified certificate (`None` when client certificates are not required).
    ///
    /// On an error no application data has been read from the stream (a client refused by the
    /// allow-list has been sent a close_notify); the stream is dropped, closing the connection.
    pub async fn accept<S>(
        &self,
        stream: S,
    ) -> Result<(tokio_rustls::server::TlsStream<S>, Option<PeerCertificate>), HandshakeError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = self.acceptor.current();
        let tls = match timeout(self.handshake_timeout, acceptor.accept(stream)).await {
            Err(_) => return Err(HandshakeError::Timeout(self.handshake_timeout)),
            Ok(Err(e)) => return Err(HandshakeError::from_io(e)),
            Ok(Ok(tls)) => tls,
        };
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|cert| PeerCertificate::from_der(cert.as_ref()));
        if let Some(list) = &self.allow_list {
            // The verifier required a certificate, so `None` cannot happen; refuse it anyway
            // rather than let an unidentified client past an allow-list.
            match peer {
                Some(p) if list.permits(&p) => return Ok((tls, Some(p))),
                Some(p) => {
                    // A close_notify, so the client sees a clean close rather than a truncated
                    // TLS stream; bounded, as a peer that doesn't read must not hold us.
                    let mut tls = tls;
                    let _ = timeout(CLOSE_NOTIFY_TIMEOUT, tls.shutdown()).await;
                    return Err(HandshakeError::NotAllowed(p));
                }
                None => return Err(HandshakeError::Tls(rustls::Error::NoCertificatesPresented)),
            }
        }
        Ok((tls, peer))
    }
}

/// What identifies a client: the names and fingerprint of its (verified) end-entity
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerCertificate {
    /// The subject's common names (usually one).
    pub common_names: Vec<String>,
    /// The DNS names of the subject alternative name extension.
    pub dns_names: Vec<String>,
    /// SHA-256 of the certificate's DER bytes.
    pub sha256: [u8; 32],
}

impl PeerCertificate {
    /// Reads the names and computes the fingerprint of a DER certificate. A certificate whose
    /// names cannot be parsed still gets its fingerprint (and so can be allowed by it).
    pub fn from_der(der: &[u8]) -> Self {
        let sha256: [u8; 32] = Sha256::digest(der).into();
        let mut common_names = Vec::new();
        let mut dns_names = Vec::new();
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) {
            common_names.extend(
                cert.subject()
                    .iter_common_name()
                    .filter_map(|cn| cn.as_str().ok())
                    .map(str::to_owned),
            );
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                        dns_names.push((*dns).to_owned());
                    }
                }
            }
        }
        Self {
            common_names,
            dns_names,
            sha256,
        }
    }

    /// The fingerprint as `openssl x509 -fingerprint -sha256` prints it (`AB:01:...`).
    pub fn fingerprint_hex(&self) -> String {
        let mut out = String::with_capacity(32 * 3);
        for (i, b) in self.sha256.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            out.push_str(&format!("{b:02X}"));
        }
        out
    }
}

impl fmt::Display for PeerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CN {:?}, DNS {:?}, SHA-256 {}",
            self.common_names,
            self.dns_names,
            self.fingerprint_hex()
        )
    }
}

/// The clients a TLS listener accepts, by certificate name or fingerprint. A client is accepted
/// if its verified certificate has a subject common name or a SAN DNS name equal (ignoring ASCII
/// case; no wildcard matching) to an allowed name, or if its SHA-256 fingerprint is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientAllowList {
    names: BTreeSet<String>,
    fingerprints: BTreeSet<[u8; 32]>,
}

impl ClientAllowList {
    /// An empty list; add entries with the `allow_` methods (an empty list is refused by
    /// [`ServerTlsConfig::build`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows certificates whose subject CN or a SAN DNS name is `name`.
    pub fn allow_name(mut self, name: impl Into<String>) -> Self {
        self.names.insert(name.into().to_ascii_lowercase());
        self
    }

    /// Allows the certificate whose DER bytes have this SHA-256 digest.
    pub fn allow_fingerprint(mut self, sha256: [u8; 32]) -> Self {
        self.fingerprints.insert(sha256);
        self
    }

    /// Allows a certificate by its SHA-256 fingerprint in hex, with or without `:` separators,
    /// in either case (as `openssl x509 -noout -fingerprint -sha256` prints it, with or without
    /// its `sha256 Fingerprint=` prefix).
    pub fn allow_fingerprint_hex(self, hex: &str) -> Result<Self, TlsConfigError> {
        let invalid = || TlsConfigError::InvalidFingerprint {
            value: hex.to_owned(),
        };
        let text = hex.trim();
        let text = text.rsplit_once('=').map_or(text, |(_, digest)| digest);
        let digits: Vec<u8> = text.bytes().filter(|b| *b != b':').collect();
        if digits.len() != 64 {
            return Err(invalid());
        }
        let mut sha256 = [0u8; 32];
        let nibble = |b: u8| char::from(b).to_digit(16).ok_or_else(invalid);
        for (byte, pair) in sha256.iter_mut().zip(digits.chunks_exact(2)) {
            // Both digits are < 16, so the value fits a byte.
            *byte = (nibble(pair[0])? * 16 + nibble(pair[1])?) as u8;
        }
        Ok(self.allow_fingerprint(sha256))
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.fingerprints.is_empty()
    }

    /// Whether `cert` is allowed.
    pub fn permits(&self, cert: &PeerCertificate) -> bool {
        self.fingerprints.contains(&cert.sha256)
            || cert
                .common_names
                .iter()
                .chain(&cert.dns_names)
                .any(|name| self.names.contains(&name.to_ascii_lowercase()))
    }
}
