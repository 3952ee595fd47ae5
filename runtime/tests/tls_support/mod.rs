//! A test PKI made at run time with rcgen (no certificate or key is committed): certificate
//! authorities and the leaves they issue. Shared by the TLS tests of this crate and, through
//! `#[path]`, of the `hl7` tool.

#![allow(dead_code, unreachable_pub)]

use hl7_runtime::transport::{CaBundle, HandshakeError, Identity, SendError};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("CA cert");
        Ca { cert, key }
    }

    /// The CA's certificate, PEM.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA's certificate, DER.
    pub fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }

    pub fn bundle(&self) -> CaBundle {
        CaBundle::from_pem(self.pem().as_bytes()).expect("CA bundle")
    }

    /// A leaf certificate with common name `cn` and SANs `sans` (valid in 2020 only when
    /// `expired`), and its key: both PEM.
    pub fn issue(&self, cn: &str, sans: &[&str], expired: bool) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params.distinguished_name = dn(cn);
        params.is_ca = IsCa::ExplicitNoCa;
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf cert");
        (cert.pem(), key.serialize_pem())
    }

    /// [`Ca::issue`] as an [`Identity`].
    pub fn identity(&self, cn: &str, sans: &[&str], expired: bool) -> Identity {
        let (cert, key) = self.issue(cn, sans, expired);
        Identity::from_pem(cert.as_bytes(), key.as_bytes()).expect("identity")
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// The handshake error that made a connection fail (panics on any other error).
pub fn handshake_error(err: &SendError) -> &HandshakeError {
    let SendError::Connect { source, .. } = err else {
        panic!("expected a connect error, got {err}");
    };
    source
        .get_ref()
        .and_then(|e| e.downcast_ref::<HandshakeError>())
        .unwrap_or_else(|| panic!("expected a TLS handshake error, got {source}"))
}
