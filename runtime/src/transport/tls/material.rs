//! Certificates and keys, from PEM files or DER bytes, checked when loaded so that a bad file is
//! reported at start-up with its path rather than as a failed handshake later.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{provider, TlsConfigError};

/// Where certificates or a key came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsOrigin {
    /// A file, by the path it was opened with.
    File(PathBuf),
    /// Bytes handed over in memory (PEM or DER).
    Memory,
}

impl TlsOrigin {
    fn path(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => Some(path.clone()),
            Self::Memory => None,
        }
    }
}

impl fmt::Display for TlsOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Memory => f.write_str("<in-memory data>"),
        }
    }
}

/// A certificate chain and the private key of its first (end-entity) certificate: what a
/// listener presents to clients, or a client presents to a listener that asks for client
/// certificates.
///
/// Loading checks that every certificate parses as X.509, that there is exactly one private key,
/// that `ring` can use it, and that it belongs to the end-entity certificate.
#[derive(Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
    cert_origin: TlsOrigin,
    key_origin: TlsOrigin,
}

impl fmt::Debug for Identity {
    // Never the key; the chain length and where it came from are what a log needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.key.cert.len())
            .field("from", &self.cert_origin)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the chain (end-entity certificate first, then intermediates) from `cert_path` and
    /// the private key (PKCS#8, PKCS#1 or SEC1; unencrypted) from `key_path`. Both may be the
    /// same file.
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, TlsConfigError> {
        let cert_path = cert_path.as_ref();
        let key_path = key_path.as_ref();
        let cert_origin = TlsOrigin::File(cert_path.to_path_buf());
        let key_origin = TlsOrigin::File(key_path.to_path_buf());
        let chain = certificates_from_pem(&read_file(cert_path)?, &cert_origin)?;
        let key = key_from_pem(&read_file(key_path)?, &key_origin)?;
        Self::new(chain, key, cert_origin, key_origin)
    }

    /// Like [`Identity::from_pem_files`], from PEM text in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsConfigError> {
        let chain = certificates_from_pem(cert_pem, &TlsOrigin::Memory)?;
        let key = key_from_pem(key_pem, &TlsOrigin::Memory)?;
        Self::new(chain, key, TlsOrigin::Memory, TlsOrigin::Memory)
    }

    /// From DER: the chain (end-entity certificate first) and the private key (PKCS#8, PKCS#1
    /// or SEC1, told apart by their structure).
    pub fn from_der(chain: Vec<Vec<u8>>, key: Vec<u8>) -> Result<Self, TlsConfigError> {
        let origin = TlsOrigin::Memory;
        let chain: Vec<CertificateDer<'static>> =
            chain.into_iter().map(CertificateDer::from).collect();
        if chain.is_empty() {
            return Err(TlsConfigError::NoCertificate {
                origin,
                holds_key: false,
            });
        }
        check_certificates(&chain, &origin)?;
        let key = PrivateKeyDer::try_from(key).map_err(|reason| TlsConfigError::BadPrivateKey {
            origin: origin.clone(),
            reason: reason.to_owned(),
        })?;
        Self::new(chain, key, origin.clone(), origin)
    }

    fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_origin: TlsOrigin,
        key_origin: TlsOrigin,
    ) -> Result<Self, TlsConfigError> {
        let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsConfigError::KeyMismatch {
                cert: cert_origin.clone(),
                key: key_origin.clone(),
            },
            other => TlsConfigError::BadPrivateKey {
                origin: key_origin.clone(),
                reason: other.to_string(),
            },
        })?;
        Ok(Self {
            key: Arc::new(certified),
            cert_origin,
            key_origin,
        })
    }

    /// The certificate chain, end-entity certificate first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }

    pub(super) fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.key)
    }

    pub(super) fn origin(&self) -> &TlsOrigin {
        &self.cert_origin
    }

    /// The files it was loaded from (none when given in memory).
    pub(super) fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = [&self.cert_origin, &self.key_origin]
            .into_iter()
            .filter_map(TlsOrigin::path)
            .collect();
        // Certificate and key may be one file.
        files.dedup();
        files
    }

    /// Loaded again from its files; itself when given in memory.
    pub(super) fn reloaded(&self) -> Result<Self, TlsConfigError> {
        match (&self.cert_origin, &self.key_origin) {
            (TlsOrigin::File(cert), TlsOrigin::File(key)) => Self::from_pem_files(cert, key),
            _ => Ok(self.clone()),
        }
    }
}

/// Trusted CA certificates: the roots a client checks a listener's certificate against, or a
/// listener checks client certificates against.
#[derive(Clone)]
pub struct CaBundle {
    roots: Arc<rustls::RootCertStore>,
    count: usize,
    origin: TlsOrigin,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("certificates", &self.count)
            .field("from", &self.origin)
            .finish()
    }
}

impl CaBundle {
    /// Loads every `CERTIFICATE` section of `path`; other sections are ignored.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, TlsConfigError> {
        let path = path.as_ref();
        let origin = TlsOrigin::File(path.to_path_buf());
        let certs = certificates_from_pem(&read_file(path)?, &origin)?;
        Self::new(certs, origin)
    }

    /// Like [`CaBundle::from_pem_file`], from PEM text in memory.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TlsConfigError> {
        let certs = certificates_from_pem(pem, &TlsOrigin::Memory)?;
        Self::new(certs, TlsOrigin::Memory)
    }

    /// From DER certificates.
    pub fn from_der(certs: Vec<Vec<u8>>) -> Result<Self, TlsConfigError> {
        let certs: Vec<CertificateDer<'static>> =
            certs.into_iter().map(CertificateDer::from).collect();
        if certs.is_empty() {
            return Err(TlsConfigError::NoCertificate {
                origin: TlsOrigin::Memory,
                holds_key: false,
            });
        }
        check_certificates(&certs, &TlsOrigin::Memory)?;
        Self::new(certs, TlsOrigin::Memory)
    }

    fn new(certs: Vec<CertificateDer<'static>>, origin: TlsOrigin) -> Result<Self, TlsConfigError> {
        let mut roots = rustls::RootCertStore::empty();
        let count = certs.len();
        for (index, cert) in certs.into_iter().enumerate() {
            roots
                .add(cert)
                .map_err(|source| TlsConfigError::BadCaCertificate {
                    origin: origin.clone(),
                    index: index + 1,
                    source,
                })?;
        }
        Ok(Self {
            roots: Arc::new(roots),
            count,
            origin,
        })
    }

    /// How many CA certificates the bundle holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the bundle is empty (never, once built: an empty bundle is an error).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(super) fn roots(&self) -> Arc<rustls::RootCertStore> {
        Arc::clone(&self.roots)
    }

    /// The file it was loaded from (none when given in memory).
    pub(super) fn files(&self) -> Vec<PathBuf> {
        self.origin.path().into_iter().collect()
    }

    /// Loaded again from its file; itself when given in memory.
    pub(super) fn reloaded(&self) -> Result<Self, TlsConfigError> {
        match &self.origin {
            TlsOrigin::File(path) => Self::from_pem_file(path),
            TlsOrigin::Memory => Ok(self.clone()),
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every PEM section of `data`, in order; sections of kinds `rustls-pki-types` does not know
/// are skipped by it.
fn sections(
    data: &[u8],
    origin: &TlsOrigin,
) -> Result<Vec<(SectionKind, Vec<u8>)>, TlsConfigError> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Pem {
            origin: origin.clone(),
            reason: pem_reason(&e),
        })
}

/// The PEM parser's error in words: its own `Display` prints the markers as byte lists.
fn pem_reason(e: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { end_marker } => format!(
            "a section has no `-----END {}-----` line (is the file truncated?)",
            String::from_utf8_lossy(end_marker)
        ),
        E::IllegalSectionStart { line } => format!(
            "malformed BEGIN line {:?}",
            String::from_utf8_lossy(line).trim_end()
        ),
        other => other.to_string(),
    }
}

fn is_key(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
    )
}

fn certificates_from_pem(
    data: &[u8],
    origin: &TlsOrigin,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let sections = sections(data, origin)?;
    let certs: Vec<CertificateDer<'static>> = sections
        .iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der.clone()))
        .collect();
    if certs.is_empty() {
        // A key where a certificate was expected usually means the two paths were swapped.
        let holds_key = sections.iter().any(|(kind, _)| is_key(*kind))
            || memchr::memmem::find(data, b"-----BEGIN ENCRYPTED PRIVATE KEY-----").is_some();
        return Err(TlsConfigError::NoCertificate {
            origin: origin.clone(),
            holds_key,
        });
    }
    check_certificates(&certs, origin)?;
    Ok(certs)
}

/// Parses each certificate as X.509: rustls sends a server chain without looking at it, so
/// garbage would otherwise surface only as every client's handshake failing.
fn check_certificates(
    certs: &[CertificateDer<'static>],
    origin: &TlsOrigin,
) -> Result<(), TlsConfigError> {
    for (index, cert) in certs.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(cert.as_ref()) {
            return Err(TlsConfigError::BadCertificate {
                origin: origin.clone(),
                index: index + 1,
                reason: e.to_string(),
            });
        }
    }
    Ok(())
}

fn key_from_pem(data: &[u8], origin: &TlsOrigin) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    let sections = sections(data, origin)?;
    let mut keys = sections.into_iter().filter(|(kind, _)| is_key(*kind));
    let Some((kind, der)) = keys.next() else {
        // pki-types skips encrypted keys silently; say what we saw instead of "no key".
        if memchr::memmem::find(data, b"-----BEGIN ENCRYPTED PRIVATE KEY-----").is_some() {
            return Err(TlsConfigError::EncryptedPrivateKey {
                origin: origin.clone(),
            });
        }
        let holds_certificate =
            memchr::memmem::find(data, b"-----BEGIN CERTIFICATE-----").is_some();
        return Err(TlsConfigError::NoPrivateKey {
            origin: origin.clone(),
            holds_certificate,
        });
    };
    let extra = keys.count();
    if extra > 0 {
        return Err(TlsConfigError::MultiplePrivateKeys {
            origin: origin.clone(),
            count: extra + 1,
        });
    }
    Ok(match kind {
        SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(der.into()),
        SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(der.into()),
        _ => PrivateKeyDer::Pkcs8(der.into()),
    })
}
