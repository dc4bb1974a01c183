//! TLS as libpq's `sslmode` means it, with rustls (no OpenSSL at build or run time).
//! `require` encrypts without checking who answers, `verify-ca` checks the chain against
//! `sslrootcert`, `verify-full` also checks the host name. A certificate that does not verify
//! is remembered, so the connection error can name it and say why, not just "handshake".

use crate::pg::conninfo::{ConnInfo, RootCert, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio_postgres_rustls::MakeRustlsConnect;
use x509_parser::extensions::GeneralName;

/// A server certificate that did not verify: whose it is and why it failed.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub subject: String,
    pub issuer: String,
    pub reason: String,
}

/// Where the verifier leaves the certificate it rejected.
pub type Seen = Arc<Mutex<Option<Rejected>>>;

/// A TLS connector for `info`'s sslmode, and the slot that names a rejected certificate.
/// Files that cannot be read are errors before any connection is tried.
pub fn connector(info: &ConnInfo) -> Result<(MakeRustlsConnect, Seen), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen: Seen = Arc::default();
    let inner: Option<Arc<WebPkiServerVerifier>> = match info.sslmode {
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = roots(info.sslrootcert.as_ref())?;
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("failed to use the root certificates: {e}"))?,
            )
        }
        _ => None,
    };
    let verifier = Arc::new(Verifier {
        inner,
        check_name: info.sslmode == SslMode::VerifyFull,
        provider: provider.clone(),
        seen: seen.clone(),
        root: match &info.sslrootcert {
            Some(RootCert::File(path)) => format!("sslrootcert {}", path.display()),
            Some(RootCert::System) => "the system's trusted roots (sslrootcert=system)".into(),
            None => "no root certificate".into(),
        },
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("failed to set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&info.sslcert, &info.sslkey) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(certificates(cert, "sslcert")?, private_key(key)?)
            .map_err(|e| {
                format!(
                    "failed to use the client certificate {}: {e}",
                    cert.display()
                )
            })?,
        (Some(cert), None) => {
            return Err(format!(
                "sslcert {} was given without sslkey: name the private key too",
                cert.display()
            ))
        }
        _ => builder.with_no_client_auth(),
    };
    Ok((MakeRustlsConnect::new(config), seen))
}

fn roots(root: Option<&RootCert>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root {
        Some(RootCert::System) => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err("failed to find the system's trusted root certificates (sslrootcert=system): install the ca-certificates package, or name a file".into());
            }
            store.add_parsable_certificates(found.certs);
        }
        Some(RootCert::File(path)) => {
            for cert in certificates(path, "sslrootcert")? {
                store
                    .add(cert)
                    .map_err(|e| format!("failed to use sslrootcert {}: {e}", path.display()))?;
            }
        }
        None => {
            return Err("sslmode verify-ca and verify-full need a root certificate: set sslrootcert to the server's CA file, or to `system` for the system's trusted roots".into())
        }
    }
    Ok(store)
}

fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if !path.exists() {
        return Err(format!(
            "{what} file \"{}\" does not exist; give the file, or choose another sslmode",
            path.display()
        ));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("failed to read {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("failed to read sslkey {}: {e}", path.display()))
}

#[derive(Debug)]
struct Verifier {
    /// The chain check; None for sslmode prefer/require, which encrypt without verifying.
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
    seen: Seen,
    /// What the chain was checked against, for the message.
    root: String,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(error)) => {
                let (subject, issuer, names) = describe(end_entity);
                let reason = match &error {
                    CertificateError::UnknownIssuer => {
                        format!("it is not signed by a certificate authority in {}", self.root)
                    }
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. } => format!(
                        "it is not valid for host {} (it names {names}); sslmode verify-full checks the host name",
                        server_name.to_str()
                    ),
                    CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                        "it has expired".into()
                    }
                    CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                        "it is not valid yet".into()
                    }
                    CertificateError::BadSignature => "its signature does not verify".into(),
                    other => format!("{other:?}"),
                };
                *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(Rejected {
                    subject,
                    issuer,
                    reason,
                });
                Err(rustls::Error::InvalidCertificate(error))
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Subject, issuer and the names (SANs) of a certificate, for people to read.
fn describe(der: &CertificateDer<'_>) -> (String, String, String) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return ("an unreadable certificate".into(), "?".into(), "?".into());
    };
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .map(|name| match name {
                    GeneralName::DNSName(dns) => format!("DNS:{dns}"),
                    GeneralName::IPAddress(&[a, b, c, d]) => format!("IP:{a}.{b}.{c}.{d}"),
                    GeneralName::IPAddress(bytes) => match <[u8; 16]>::try_from(*bytes) {
                        Ok(v6) => format!("IP:{}", std::net::Ipv6Addr::from(v6)),
                        Err(_) => "IP:?".into(),
                    },
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "no subject alternative name".into());
    (cert.subject().to_string(), cert.issuer().to_string(), names)
}
