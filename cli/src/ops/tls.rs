//! TLS to an `https://` admin endpoint, over the runtime's rustls setup ([`ClientTls`]): the
//! endpoint's certificate must chain to `--tls-ca`; `--tls-cert` and `--tls-key` answer an
//! endpoint that asks for a client certificate (`AdminConfig::tls` with client CAs).

use std::path::PathBuf;

use hl7_runtime::transport::ClientTls;

/// TLS options of the ops commands.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TlsArgs {
    /// Trust an https:// admin endpoint whose certificate chains to a CA in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// Present this certificate chain (PEM) when the endpoint asks for one (mutual TLS).
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1, unencrypted).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// The name the endpoint's certificate must be valid for (DNS name or IP address).
    /// Default: the host of --admin.
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    pub(crate) tls_server_name: Option<String>,
}

impl TlsArgs {
    /// The client TLS configuration, or `None` when no CA was given. Errors name the file.
    pub(crate) fn build(&self) -> Result<Option<ClientTls>, String> {
        let Some(ca) = &self.tls_ca else {
            return Ok(None);
        };
        let identity = self.tls_cert.as_deref().zip(self.tls_key.as_deref());
        crate::tls::client_tls(ca, identity).map(Some)
    }
}
