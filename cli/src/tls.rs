//! The TLS options of `send`, `bench` (client side) and `listen` (server side), turned into
//! the runtime's [`ClientTls`] and [`ServerTls`]. Certificates and keys are loaded and checked
//! before anything is sent or accepted, so a wrong file fails at start-up naming the file.

use std::path::{Path, PathBuf};

use hl7_runtime::transport::{
    CaBundle, ClientTls, ClientTlsConfig, Identity, ServerTls, ServerTlsConfig, TcpConnector,
    TlsConnector,
};

/// The client side of TLS: servers chaining to the CAs in `ca` are trusted, and `identity`
/// (certificate chain and key files) is presented to those that ask. Errors name the file.
pub(crate) fn client_tls(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<ClientTls, String> {
    let roots = CaBundle::from_pem_file(ca).map_err(|err| err.to_string())?;
    let mut config = ClientTlsConfig::new(roots);
    if let Some((cert, key)) = identity {
        let identity = Identity::from_pem_files(cert, key).map_err(|err| err.to_string())?;
        config = config.with_identity(identity);
    }
    config.build().map_err(|err| err.to_string())
}

/// TLS options of a sender.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientArgs {
    /// Use TLS, trusting receivers whose certificate chains to a CA in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// Present this certificate chain (PEM) to receivers that ask for one (mutual TLS).
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1, unencrypted).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// The name the receiver's certificate must be valid for (DNS name or IP address).
    /// Default: the host of --to.
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub(crate) tls_server_name: Option<String>,
}

/// The TLS side of a sender, built once and shared by its connections.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    tls: ClientTls,
    server_name: String,
}

impl ClientArgs {
    /// The TLS configuration, or `None` for plain TCP; `to` is the `HOST:PORT` sent to.
    pub(crate) fn build(&self, to: &str) -> Result<Option<Client>, String> {
        let Some(ca) = &self.tls_ca else {
            return Ok(None);
        };
        let tls = client_tls(ca, self.tls_cert.as_deref().zip(self.tls_key.as_deref()))?;
        let server_name = match &self.tls_server_name {
            Some(name) => name.clone(),
            None => host_of(to).to_owned(),
        };
        Ok(Some(Client { tls, server_name }))
    }
}

impl Client {
    /// TLS over the connections of `tcp`.
    pub(crate) fn connector(&self, tcp: TcpConnector) -> Result<TlsConnector, String> {
        TlsConnector::new(tcp, &self.server_name, &self.tls).map_err(|err| err.to_string())
    }
}

/// `host` of `host:port`, `::1` of `[::1]:port`.
fn host_of(to: &str) -> &str {
    let host = to.rsplit_once(':').map_or(to, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// TLS options of a receiver.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerArgs {
    /// Serve MLLP over TLS with this certificate chain (PEM, end-entity certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Require client certificates that chain to a CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<PathBuf>,
}

impl ServerArgs {
    /// The TLS configuration, or `None` for plain TCP.
    pub(crate) fn build(&self) -> Result<Option<ServerTls>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let identity = Identity::from_pem_files(cert, key).map_err(|err| err.to_string())?;
        let mut config = ServerTlsConfig::new(identity);
        if let Some(ca) = &self.tls_client_ca {
            let roots = CaBundle::from_pem_file(ca).map_err(|err| err.to_string())?;
            config = config.with_client_ca(roots);
        }
        config.build().map(Some).map_err(|err| err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("engine.example.org:2575"), "engine.example.org");
        assert_eq!(host_of("127.0.0.1:2575"), "127.0.0.1");
        assert_eq!(host_of("[::1]:2575"), "::1");
        assert_eq!(host_of("engine"), "engine");
    }
}
