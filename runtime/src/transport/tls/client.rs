//! The client side: a [`Connect`] that opens TCP and then TLS.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::sign::SingleCertAndKey;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::reload::Reloading;
use super::{provider, CaBundle, HandshakeError, Identity, TlsConfigError};
use crate::transport::{Connect, TcpConnector};

/// Settings for the client side of TLS; [`ClientTlsConfig::build`] makes a [`ClientTls`].
///
/// ```no_run
/// use hl7_runtime::transport::{
///     CaBundle, ClientConfig, ClientTlsConfig, Identity, MllpClient, TcpConnector, TlsConnector,
/// };
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = ClientTlsConfig::new(CaBundle::from_pem_file("engine-ca.pem")?)
///     .with_identity(Identity::from_pem_files("lab.pem", "lab.key")?)
///     .build()?;
/// let tcp = TcpConnector::resolve("engine.example.org:2575").await?;
/// let connector = TlsConnector::new(tcp, "engine.example.org", &tls)?;
/// let mut client = MllpClient::with_connector(connector, ClientConfig::default());
/// let ack = client.send(b"MSH|^~\\&|...").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ClientTlsConfig {
    roots: CaBundle,
    identity: Option<Identity>,
}

impl ClientTlsConfig {
    /// Trusts listener certificates that chain to one of `roots`, and presents no client
    /// certificate.
    pub fn new(roots: CaBundle) -> Self {
        Self {
            roots,
            identity: None,
        }
    }

    /// Presents `identity` to listeners that ask for a client certificate.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Builds the rustls configuration.
    ///
    /// The CA bundle and the client certificate and key loaded from files are loaded again
    /// when one of those files changes (looked at before a connection's handshake, at most
    /// once a second): new connections use the new ones, open connections go on, and files
    /// that cannot be used leave the ones loaded before in place, with a warning.
    pub fn build(self) -> Result<ClientTls, TlsConfigError> {
        let loaded = connector(&self.roots, self.identity.as_ref())?;
        let mut files = self.roots.files();
        files.extend(self.identity.iter().flat_map(Identity::files));
        let presents_certificate = self.identity.is_some();
        let ClientTlsConfig { roots, identity } = self;
        let connector = Reloading::new("TLS client", loaded, files, move || {
            let identity = identity.as_ref().map(Identity::reloaded).transpose()?;
            connector(&roots.reloaded()?, identity.as_ref())
        });
        Ok(ClientTls {
            connector: Arc::new(connector),
            presents_certificate,
        })
    }
}

/// The rustls side of a client trusting `roots`, presenting `identity` when asked.
fn connector(
    roots: &CaBundle,
    identity: Option<&Identity>,
) -> Result<tokio_rustls::TlsConnector, TlsConfigError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots.roots());
    let config = match identity {
        Some(identity) => builder
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity.certified_key()))),
        None => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A built client TLS configuration: cheap to clone, can be shared by many [`TlsConnector`]s.
#[derive(Clone)]
pub struct ClientTls {
    connector: Arc<Reloading<tokio_rustls::TlsConnector>>,
    presents_certificate: bool,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("presents_certificate", &self.presents_certificate)
            .finish_non_exhaustive()
    }
}

/// TCP to the addresses of a [`TcpConnector`], then a TLS handshake checking the listener's
/// certificate against `server_name`. The handshake counts against
/// [`ClientConfig::connect_timeout`](crate::transport::ClientConfig::connect_timeout), like
/// the TCP connect.
///
/// A failed handshake is a [`SendError::Connect`](crate::transport::SendError::Connect) whose
/// `io::Error` wraps a [`HandshakeError`](super::HandshakeError) (reach it with
/// `io::Error::get_ref` and `downcast_ref`).
#[derive(Clone)]
pub struct TlsConnector {
    tcp: TcpConnector,
    server_name: ServerName<'static>,
    tls: ClientTls,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("peer", &self.describe())
            .field("tls", &self.tls)
            .finish()
    }
}

impl TlsConnector {
    /// Connects with `tcp`, then TLS with `tls`, expecting the listener's certificate to be
    /// valid for `server_name` (a DNS name or an IP address).
    pub fn new(
        tcp: TcpConnector,
        server_name: &str,
        tls: &ClientTls,
    ) -> Result<Self, TlsConfigError> {
        let server_name = ServerName::try_from(server_name)
            .map_err(|_| TlsConfigError::InvalidServerName {
                name: server_name.to_owned(),
            })?
            .to_owned();
        Ok(Self {
            tcp,
            server_name,
            tls: tls.clone(),
        })
    }
}

impl Connect for TlsConnector {
    type Stream = tokio_rustls::client::TlsStream<TcpStream>;

    async fn connect(&self) -> io::Result<Self::Stream> {
        let tcp = self.tcp.connect().await?;
        self.tls
            .connector
            .current()
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| HandshakeError::from_io(e).into_io())
    }

    fn describe(&self) -> String {
        format!(
            "{} (TLS, server name {})",
            self.tcp.describe(),
            self.server_name.to_str()
        )
    }
}
