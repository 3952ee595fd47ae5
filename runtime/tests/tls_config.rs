//! TLS configuration errors, caught before any connection: each PEM file problem names the file
//! and what is wrong with it, and configurations that would let everyone in, or no one, are
//! refused at start-up.
//!
//! Every certificate and key is generated at test time with rcgen; none is committed.

mod tls_support;

use std::path::{Path, PathBuf};

use hl7_runtime::transport::{
    CaBundle, ClientAllowList, Identity, ServerTlsConfig, TlsConfigError,
};
use tls_support::Ca;

#[test]
fn pem_errors_name_the_file_and_the_problem() {
    let ca = Ca::new("Test HL7 CA");
    let (cert_pem, key_pem) = ca.issue("engine", &["localhost"], false);
    let (_, other_key_pem) = ca.issue("engine", &["localhost"], false);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let cert = write("server.pem", &cert_pem);
    let key = write("server.key", &key_pem);
    let both = write("both.pem", &format!("{cert_pem}{key_pem}"));
    let other_key = write("other.key", &other_key_pem);
    let empty = write("empty.pem", "");
    let truncated = write(
        "truncated.pem",
        cert_pem.split("-----END").next().expect("text"),
    );
    let garbage = write(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    );
    let encrypted = write(
        "encrypted.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let two_keys = write("two.key", &format!("{key_pem}{other_key_pem}"));
    let missing = dir.path().join("missing.pem");

    Identity::from_pem_files(&cert, &key).expect("good pair");
    Identity::from_pem_files(&both, &both).expect("cert and key in one file");

    type Is = fn(&TlsConfigError) -> bool;
    // (certificate file, key file, the file the error names, what it says, the variant)
    let cases: [(&Path, &Path, &Path, &str, Is); 10] = [
        (&missing, &key, &missing, "cannot read", |e| {
            matches!(e, TlsConfigError::Read { .. })
        }),
        (&empty, &key, &empty, "no certificate found", |e| {
            matches!(e, TlsConfigError::NoCertificate { .. })
        }),
        (&truncated, &key, &truncated, "malformed PEM", |e| {
            matches!(e, TlsConfigError::Pem { .. })
        }),
        (
            &garbage,
            &key,
            &garbage,
            "certificate #1 cannot be parsed",
            |e| matches!(e, TlsConfigError::BadCertificate { index: 1, .. }),
        ),
        (&key, &cert, &key, "swapped", |e| {
            matches!(
                e,
                TlsConfigError::NoCertificate {
                    holds_key: true,
                    ..
                }
            )
        }),
        (&cert, &cert, &cert, "no private key found", |e| {
            matches!(
                e,
                TlsConfigError::NoPrivateKey {
                    holds_certificate: true,
                    ..
                }
            )
        }),
        (&cert, &encrypted, &encrypted, "encrypted", |e| {
            matches!(e, TlsConfigError::EncryptedPrivateKey { .. })
        }),
        (&cert, &two_keys, &two_keys, "2 private keys", |e| {
            matches!(e, TlsConfigError::MultiplePrivateKeys { count: 2, .. })
        }),
        (&cert, &other_key, &other_key, "does not match", |e| {
            matches!(e, TlsConfigError::KeyMismatch { .. })
        }),
        (&both, &missing, &missing, "cannot read", |e| {
            matches!(e, TlsConfigError::Read { .. })
        }),
    ];
    for (cert_file, key_file, named, says, is) in cases {
        let err = Identity::from_pem_files(cert_file, key_file).expect_err(says);
        let text = err.to_string();
        assert!(
            text.contains(&named.display().to_string()),
            "names the file: {text}"
        );
        assert!(text.contains(says), "says {says:?}: {text}");
        assert!(is(&err), "{says}: {err:?}");
    }

    let err = CaBundle::from_pem_file(&key).expect_err("a key is no CA bundle");
    assert!(err.to_string().contains("server.key"), "{err}");
    assert!(matches!(
        Identity::from_der(Vec::new(), Vec::new()),
        Err(TlsConfigError::NoCertificate { .. })
    ));
    assert!(matches!(
        Identity::from_der(vec![ca.der()], b"not a key".to_vec()),
        Err(TlsConfigError::BadPrivateKey { .. })
    ));
}

#[test]
fn configurations_that_let_everyone_in_or_no_one_are_refused() {
    let ca = Ca::new("Test HL7 CA");
    let server = ca.identity("engine", &["localhost", "127.0.0.1"], false);
    let listed = ClientAllowList::new().allow_name("lab.example.org");
    assert!(matches!(
        ServerTlsConfig::new(server.clone())
            .with_allow_list(listed)
            .build(),
        Err(TlsConfigError::AllowListWithoutClientCa)
    ));
    assert!(matches!(
        ServerTlsConfig::new(server)
            .with_client_ca(ca.bundle())
            .with_allow_list(ClientAllowList::new())
            .build(),
        Err(TlsConfigError::EmptyAllowList)
    ));
    for bad in ["", "abcd", &"zz".repeat(32), &"+f".repeat(32)] {
        assert!(
            matches!(
                ClientAllowList::new().allow_fingerprint_hex(bad),
                Err(TlsConfigError::InvalidFingerprint { .. })
            ),
            "{bad:?}"
        );
    }
}
