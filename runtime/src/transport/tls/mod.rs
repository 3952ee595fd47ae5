//! MLLP over TLS (rustls, `ring` provider): key material, the listener side and the client side.
//!
//! - `material`: [`Identity`] (certificate chain + key) and [`CaBundle`] (trusted roots), from
//!   PEM files or DER, checked when loaded.
//! - `server`: [`ServerTlsConfig`] builds a [`ServerTls`], which an
//!   [`MllpListener`](super::MllpListener) uses through
//!   [`ListenerConfig::with_tls`](super::ListenerConfig::with_tls): handshake timeout, optional
//!   required client certificates and a [`ClientAllowList`].
//! - `client`: [`ClientTlsConfig`] builds a [`ClientTls`]; [`TlsConnector`] is the
//!   [`Connect`](super::Connect) an [`MllpClient`](super::MllpClient) uses for TLS.
//! - `reload`: certificates, keys and CA bundles loaded from files are loaded again when the
//!   files change, for rotation without a restart.

mod client;
mod material;
mod reload;
mod server;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;

pub use client::{ClientTls, ClientTlsConfig, TlsConnector};
pub use material::{CaBundle, Identity, TlsOrigin};
pub use server::{ClientAllowList, PeerCertificate, ServerTls, ServerTlsConfig};

/// The crypto provider, named explicitly rather than taken from the process default: another
/// crate in the same binary enabling a second rustls provider would otherwise make the default
/// ambiguous, and rustls would panic at the first handshake.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a TLS configuration cannot be built. Each variant says which file (or in-memory input)
/// is at fault, so a bad deployment fails at start-up with a message an operator can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The input is not well-formed PEM (a section without its END line, bad base64, ...).
    #[error("{origin}: malformed PEM: {reason}")]
    Pem {
        /// Where the input came from.
        origin: TlsOrigin,
        /// What is wrong.
        reason: String,
    },
    /// No certificate in the input.
    #[error(
        "{origin}: no certificate found (expected a `-----BEGIN CERTIFICATE-----` section){}",
        swapped(.holds_key, "a private key")
    )]
    NoCertificate {
        /// Where the input came from.
        origin: TlsOrigin,
        /// The input holds a private key instead.
        holds_key: bool,
    },
    /// A certificate does not parse as X.509.
    #[error("{origin}: certificate #{index} cannot be parsed: {reason}")]
    BadCertificate {
        /// Where the input came from.
        origin: TlsOrigin,
        /// The certificate's position in the input, from 1.
        index: usize,
        /// What the X.509 parser said.
        reason: String,
    },
    /// No private key in the input.
    #[error(
        "{origin}: no private key found (expected a `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` section){}",
        swapped(.holds_certificate, "a certificate")
    )]
    NoPrivateKey {
        /// Where the input came from.
        origin: TlsOrigin,
        /// The input holds a certificate instead.
        holds_certificate: bool,
    },
    /// The only private key is encrypted; keys must be given unencrypted.
    #[error("{origin}: the private key is encrypted; give it unencrypted (e.g. `openssl pkcs8 -topk8 -nocrypt`) and protect the file instead")]
    EncryptedPrivateKey {
        /// Where the input came from.
        origin: TlsOrigin,
    },
    /// More than one private key, so which one is meant is unclear.
    #[error("{origin}: {count} private keys found; expected exactly one")]
    MultiplePrivateKeys {
        /// Where the input came from.
        origin: TlsOrigin,
        /// How many.
        count: usize,
    },
    /// The private key is malformed or of an unsupported kind.
    #[error("{origin}: private key unusable: {reason}")]
    BadPrivateKey {
        /// Where the key came from.
        origin: TlsOrigin,
        /// Why.
        reason: String,
    },
    /// The private key does not belong to the end-entity certificate.
    #[error("the private key ({key}) does not match the certificate ({cert})")]
    KeyMismatch {
        /// Where the certificate came from.
        cert: TlsOrigin,
        /// Where the key came from.
        key: TlsOrigin,
    },
    /// A CA certificate cannot serve as a trust anchor.
    #[error("{origin}: CA certificate #{index} cannot be used as a trust anchor: {source}")]
    BadCaCertificate {
        /// Where the bundle came from.
        origin: TlsOrigin,
        /// The certificate's position in the bundle, from 1.
        index: usize,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The name a client checks the listener's certificate against is neither a DNS name nor an
    /// IP address.
    #[error("invalid TLS server name {name:?}: expected a DNS name or an IP address")]
    InvalidServerName {
        /// The name given.
        name: String,
    },
    /// A fingerprint for the allow-list is not a SHA-256 digest in hex.
    #[error("invalid SHA-256 fingerprint {value:?}: expected 64 hex digits, optionally separated by `:`")]
    InvalidFingerprint {
        /// The text given.
        value: String,
    },
    /// A client allow-list without client-certificate verification: there would be no verified
    /// certificate to check it against.
    #[error("a client allow-list needs client certificates: give the listener a client CA bundle too (ServerTlsConfig::with_client_ca)")]
    AllowListWithoutClientCa,
    /// An allow-list with no entries would refuse every client.
    #[error("the client allow-list is empty: it would refuse every client")]
    EmptyAllowList,
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier cannot be built from the CA bundle.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Why a TLS handshake failed or its result was refused. On the listener it closes the
/// connection before any MLLP frame is read; on the client it is the cause of
/// [`SendError::Connect`](super::SendError::Connect).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The handshake did not finish within the handshake timeout (a stalled or very slow peer).
    #[error("TLS handshake not finished within {0:?}")]
    Timeout(Duration),
    /// The TLS protocol failed: a certificate was refused by either side, or the peer does not
    /// speak TLS.
    #[error("TLS handshake failed: {0}{hint}", hint = hint(.0))]
    Tls(#[source] rustls::Error),
    /// The connection failed or was closed during the handshake.
    #[error("connection lost during the TLS handshake: {0}")]
    Io(#[source] io::Error),
    /// The client's certificate is valid but not on the listener's allow-list.
    #[error("client certificate not on the allow-list ({0})")]
    NotAllowed(PeerCertificate),
}

impl HandshakeError {
    /// tokio-rustls reports protocol failures as `io::Error`s wrapping a `rustls::Error`; this
    /// takes the rustls error back out, so callers can match on it.
    pub(crate) fn from_io(e: io::Error) -> Self {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => Self::Tls(tls.clone()),
            None => Self::Io(e),
        }
    }

    /// Turns the error into an `io::Error` for the [`Connect`](super::Connect) trait, keeping
    /// it as the source so it can be downcast again.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            Self::Timeout(_) => io::ErrorKind::TimedOut,
            Self::Io(e) => e.kind(),
            Self::Tls(_) | Self::NotAllowed(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// The hint for a certificate file that holds a key, or a key file that holds a certificate.
fn swapped(holds_other: &bool, other: &str) -> String {
    if *holds_other {
        format!("; it holds {other}: are the certificate and key paths swapped?")
    } else {
        String::new()
    }
}

/// A pointer for the failures operators meet most.
fn hint(e: &rustls::Error) -> &'static str {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer) => {
            " (the peer's certificate is not signed by a CA in the configured bundle)"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            " (the peer's certificate has expired)"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            " (the server name given to the client is not in the listener's certificate)"
        }
        E::NoCertificatesPresented => " (the client sent no certificate, and one is required)",
        E::InvalidMessage(_) => " (the peer may not be speaking TLS, e.g. plain MLLP)",
        _ => "",
    }
}
