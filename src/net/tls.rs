//! TLS on SSL listeners, with rustls.
//!
//! Built once per listener at start-up from its `ssl.*` settings (prefix resolved by
//! `config::listeners`):
//! - key store: `ssl.keystore.type=PEM` with `ssl.keystore.location` (one file holding the
//!   private key and the certificate chain) or the PEM-in-config keys
//!   `ssl.keystore.certificate.chain` + `ssl.keystore.key`; `PKCS12` with
//!   `ssl.keystore.password` (and `ssl.key.password`, tried when the store password does not
//!   open the key). Encrypted PEM keys and JKS stores are refused with a message saying so.
//!   With the type unset (Kafka's default is JKS), a file that is PEM text is read as PEM.
//! - trust store (client certificates): `ssl.truststore.type=PEM` with
//!   `ssl.truststore.location` or `ssl.truststore.certificates`, or PKCS12.
//! - `ssl.client.auth` `none` / `requested` / `required`; `ssl.enabled.protocols` (TLSv1.2,
//!   TLSv1.3 — rustls has nothing older); `ssl.cipher.suites` by their IANA names (Java's
//!   names), those rustls does not implement are ignored with a warning.
//! - the principal: `User:` + the client certificate's subject in RFC 2253 form mapped by
//!   `ssl.principal.mapping.rules` (`net::principal`), or `User:ANONYMOUS` without one.
//!
//! Files are read here, at start-up only; no secret is ever logged (errors name the key, not
//! the value). Fetch over TLS cannot use sendfile: the connection copies file regions through
//! user space (`FileTransfer::Copy`). Kernel TLS (kTLS, which would let sendfile encrypt in
//! the kernel) is not used yet.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    ServerConfig, SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::principal::{MappingRules, subject_rfc2253};
use crate::config::listeners::{ClientAuth, SslSettings};

/// Why a listener's TLS could not be set up. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{0}")]
    Config(String),
    #[error("cannot read {key} ({path}): {err}")]
    File {
        key: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A listener's TLS: the acceptor and the principal mapping rules.
pub struct TlsListener {
    pub acceptor: TlsAcceptor,
    rules: MappingRules,
}

fn config_err(text: impl Into<String>) -> TlsSetupError {
    TlsSetupError::Config(text.into())
}

/// Builds the listener's TLS from its settings (reads the key and trust stores).
pub fn listener(ssl: &SslSettings) -> Result<TlsListener, TlsSetupError> {
    let rules = MappingRules::parse(ssl.get("ssl.principal.mapping.rules").unwrap_or("DEFAULT"))
        .map_err(|e| config_err(format!("ssl.principal.mapping.rules: {e}")))?;
    Ok(TlsListener {
        acceptor: TlsAcceptor::from(Arc::new(server_config(ssl)?)),
        rules,
    })
}

/// The rustls server configuration for one listener.
pub fn server_config(ssl: &SslSettings) -> Result<ServerConfig, TlsSetupError> {
    let provider = Arc::new(provider(ssl)?);
    let versions = protocol_versions(ssl)?;
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions)?;
    let (chain, key) = key_store(ssl)?;
    let auth = ssl.client_auth();
    let builder = match auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Requested | ClientAuth::Required => {
            let roots = trust_store(ssl)?.ok_or_else(|| {
                config_err(
                    "ssl.client.auth is requested/required but no trust store is set \
                     (ssl.truststore.location or ssl.truststore.certificates)",
                )
            })?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| config_err(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(Arc::new(KafkaAlerts(verifier)))
        }
    };
    Ok(builder.with_single_cert(chain, key)?)
}

/// The client-certificate check, refusing as Kafka does on the wire. Kafka's JSSE answers every
/// certificate its trust manager rejects (unknown issuer, bad signature, expired, …) with the
/// `certificate_unknown` alert; rustls would name the reason in the alert (`unknown_ca`,
/// `decrypt_error`, `certificate_expired`, …), and clients show the alert's name (the Java
/// client: "Received fatal alert: certificate_unknown"). The reason stays in the broker's log.
/// A missing certificate is answered by rustls itself (`certificate_required`, RFC 8446; Kafka
/// on Java 17 sends `bad_certificate`): no verifier hook sees that case.
#[derive(Debug)]
struct KafkaAlerts(Arc<dyn ClientCertVerifier>);

/// A rejected client certificate's reason, carried as `CertificateError::Other` (which rustls
/// answers with `certificate_unknown`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RejectedCertificate(CertificateError);

impl ClientCertVerifier for KafkaAlerts {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(CertificateError::Other(_)) => e,
                rustls::Error::InvalidCertificate(reason) => rustls::Error::InvalidCertificate(
                    CertificateError::Other(OtherError(Arc::new(RejectedCertificate(reason)))),
                ),
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// ring's provider with the cipher suites of `ssl.cipher.suites` (all when unset).
fn provider(ssl: &SslSettings) -> Result<CryptoProvider, TlsSetupError> {
    let mut provider = rustls::crypto::ring::default_provider();
    let wanted = ssl.list("ssl.cipher.suites");
    if wanted.is_empty() {
        return Ok(provider);
    }
    // rustls names TLS 1.3 suites TLS13_…; Java and IANA call them TLS_….
    let iana = |s: &rustls::SupportedCipherSuite| {
        let name = s.suite().as_str().unwrap_or_default();
        name.replacen("TLS13_", "TLS_", 1)
    };
    for w in &wanted {
        if !provider.cipher_suites.iter().any(|s| &iana(s) == w) {
            tracing::warn!("ssl.cipher.suites: {w} is not available in rustls; ignored");
        }
    }
    provider.cipher_suites.retain(|s| wanted.contains(&iana(s)));
    if provider.cipher_suites.is_empty() {
        return Err(config_err(
            "ssl.cipher.suites: none of the listed suites is available",
        ));
    }
    Ok(provider)
}

fn protocol_versions(
    ssl: &SslSettings,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsSetupError> {
    let mut listed = ssl.list("ssl.enabled.protocols");
    if listed.is_empty() {
        listed = vec!["TLSv1.2".into(), "TLSv1.3".into()];
    }
    let mut versions = Vec::new();
    for p in &listed {
        match p.as_str() {
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            other => tracing::warn!("ssl.enabled.protocols: {other} is not supported; ignored"),
        }
    }
    if versions.is_empty() {
        return Err(config_err(
            "ssl.enabled.protocols: needs TLSv1.2 and/or TLSv1.3",
        ));
    }
    Ok(versions)
}

fn read(key: &'static str, path: &str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|err| TlsSetupError::File {
        key,
        path: path.to_string(),
        err,
    })
}

/// `ssl.keystore.type`, upper case; a PEM file read without a type set counts as PEM.
fn store_type(ssl: &SslSettings, type_key: &str, contents: Option<&[u8]>) -> String {
    match ssl.get(type_key) {
        Some(t) => t.trim().to_ascii_uppercase(),
        None if contents.is_some_and(|c| c.starts_with(b"-----BEGIN") || looks_pem(c)) => {
            "PEM".into()
        }
        None => "JKS".into(),
    }
}

fn looks_pem(c: &[u8]) -> bool {
    c.windows(11).take(4096).any(|w| w == b"-----BEGIN ")
}

type KeyPair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn key_store(ssl: &SslSettings) -> Result<KeyPair, TlsSetupError> {
    if let Some(path) = ssl.get("ssl.keystore.location") {
        let bytes = read("ssl.keystore.location", path)?;
        match store_type(ssl, "ssl.keystore.type", Some(&bytes)).as_str() {
            "PEM" => pem_key_pair(&bytes, &bytes, "ssl.keystore.location"),
            "PKCS12" => pkcs12_key_pair(ssl, &bytes),
            other => Err(config_err(format!(
                "ssl.keystore.type={other} is not supported: use PEM or PKCS12"
            ))),
        }
    } else {
        if !matches!(
            store_type(ssl, "ssl.keystore.type", Some(b"-----BEGIN")).as_str(),
            "PEM"
        ) {
            return Err(config_err(
                "ssl.keystore.certificate.chain and ssl.keystore.key need ssl.keystore.type=PEM",
            ));
        }
        let chain = ssl
            .get("ssl.keystore.certificate.chain")
            .unwrap_or_default();
        let key = ssl.get("ssl.keystore.key").unwrap_or_default();
        pem_key_pair(chain.as_bytes(), key.as_bytes(), "ssl.keystore.key")
    }
}

fn pem_key_pair(chain: &[u8], key: &[u8], key_name: &str) -> Result<KeyPair, TlsSetupError> {
    if looks_encrypted(key) {
        return Err(config_err(format!(
            "{key_name}: encrypted PEM private keys are not supported yet; use an \
             unencrypted key or a PKCS12 key store"
        )));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
        .collect::<Result<_, _>>()
        .map_err(|e| config_err(format!("{key_name}: certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(config_err(format!("{key_name}: no certificate found")));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| config_err(format!("{key_name}: private key: {e}")))?;
    Ok((certs, key))
}

fn looks_encrypted(pem: &[u8]) -> bool {
    pem.windows(9).any(|w| w == b"ENCRYPTED")
}

fn pkcs12_key_pair(ssl: &SslSettings, bytes: &[u8]) -> Result<KeyPair, TlsSetupError> {
    let store_password = ssl.get("ssl.keystore.password").unwrap_or_default();
    let key_password = ssl.get("ssl.key.password");
    let opened =
        p12_keystore::KeyStore::from_pkcs12(bytes, store_password).or_else(
            |e| match key_password {
                Some(p) if p != store_password => p12_keystore::KeyStore::from_pkcs12(bytes, p),
                _ => Err(e),
            },
        );
    let store = opened.map_err(|_| {
        config_err(
            "ssl.keystore.location: cannot open the PKCS12 key store (wrong \
             ssl.keystore.password / ssl.key.password, or not PKCS12)",
        )
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| config_err("ssl.keystore.location: no private key in the key store"))?;
    let certs = chain
        .chain()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().to_vec()));
    Ok((certs, key))
}

/// The trusted certificates for client certificates, if a trust store is configured.
fn trust_store(ssl: &SslSettings) -> Result<Option<RootCertStore>, TlsSetupError> {
    let certs: Vec<CertificateDer<'static>> =
        if let Some(pem) = ssl.get("ssl.truststore.certificates") {
            pem_certs(pem.as_bytes(), "ssl.truststore.certificates")?
        } else if let Some(path) = ssl.get("ssl.truststore.location") {
            let bytes = read("ssl.truststore.location", path)?;
            match store_type(ssl, "ssl.truststore.type", Some(&bytes)).as_str() {
                "PEM" => pem_certs(&bytes, "ssl.truststore.location")?,
                "PKCS12" => {
                    let password = ssl.get("ssl.truststore.password").unwrap_or_default();
                    let store =
                        p12_keystore::KeyStore::from_pkcs12(&bytes, password).map_err(|_| {
                            config_err(
                                "ssl.truststore.location: cannot open the PKCS12 trust store \
                                 (wrong ssl.truststore.password, or not PKCS12)",
                            )
                        })?;
                    store
                        .entries()
                        .flat_map(|(_, e)| match e {
                            p12_keystore::KeyStoreEntry::Certificate(c) => vec![c.clone()],
                            p12_keystore::KeyStoreEntry::PrivateKeyChain(k) => k.chain().to_vec(),
                            _ => Vec::new(),
                        })
                        .map(|c| CertificateDer::from(c.as_der().to_vec()))
                        .collect()
                }
                other => {
                    return Err(config_err(format!(
                        "ssl.truststore.type={other} is not supported: use PEM or PKCS12"
                    )));
                }
            }
        } else {
            return Ok(None);
        };
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| config_err(format!("trust store certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(config_err("the trust store holds no certificate"));
    }
    Ok(Some(roots))
}

fn pem_certs(pem: &[u8], key: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| config_err(format!("{key}: {e}")))
}

/// Why a TLS connection was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("handshake: {0}")]
    Handshake(std::io::Error),
    #[error("handshake not finished within {0:?}")]
    Timeout(Duration),
    #[error("principal: {0}")]
    Principal(String),
}

/// Runs the server handshake (bounded by `limit`) and works out the client's principal.
pub async fn accept(
    tls: &TlsListener,
    stream: TcpStream,
    limit: Duration,
) -> Result<(TlsStream<TcpStream>, String), AcceptError> {
    let stream = tokio::time::timeout(limit, tls.acceptor.accept(stream))
        .await
        .map_err(|_| AcceptError::Timeout(limit))?
        .map_err(AcceptError::Handshake)?;
    let (_, session) = stream.get_ref();
    let principal = match session.peer_certificates().and_then(|c| c.first()) {
        None => "User:ANONYMOUS".to_string(),
        Some(cert) => {
            let subject = subject_rfc2253(cert.as_ref()).map_err(AcceptError::Principal)?;
            let name = tls
                .rules
                .apply(&subject)
                .ok_or_else(|| AcceptError::Principal(format!("no rule matches {subject:?}")))?;
            format!("User:{name}")
        }
    };
    Ok((stream, principal))
}
