//! Listener settings (names, protocol map, advertised addresses, the `listener.name.` prefix)
//! and TLS set-up: key and trust stores, client authentication and the principal taken from the
//! client certificate. Certificates are made with the openssl CLI in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vltava::config::{BrokerConfig, SecurityProtocol, is_known};
use vltava::net::tls;

fn config(pairs: &[(&str, &str)]) -> Result<BrokerConfig, String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    BrokerConfig::from_map(map).map_err(|e| e.to_string())
}

#[test]
fn the_default_is_one_plaintext_listener() {
    let c = config(&[]).unwrap();
    assert_eq!(c.listeners.len(), 1);
    let l = c.first_listener();
    assert_eq!(
        (l.name.as_str(), l.protocol),
        ("PLAINTEXT", SecurityProtocol::Plaintext)
    );
    assert_eq!(l.bind.bind_addr(), "127.0.0.1:9092");
    assert_eq!(c.advertised_for("PLAINTEXT").host, "127.0.0.1");
}

#[test]
fn advertised_listeners_match_by_name_not_position() {
    let c = config(&[
        (
            "listeners",
            "PLAINTEXT://0.0.0.0:9092,SSL://:9093,INTERNAL://127.0.0.1:9094",
        ),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SSL:SSL,INTERNAL:PLAINTEXT",
        ),
        ("ssl.keystore.location", "/k.pem"),
        (
            "advertised.listeners",
            "SSL://public.example:19093,PLAINTEXT://plain.example:19092",
        ),
    ])
    .unwrap();
    let names: Vec<_> = c
        .listeners
        .iter()
        .map(|l| (l.name.as_str(), l.protocol))
        .collect();
    assert_eq!(
        names,
        [
            ("PLAINTEXT", SecurityProtocol::Plaintext),
            ("SSL", SecurityProtocol::Ssl),
            ("INTERNAL", SecurityProtocol::Plaintext)
        ]
    );
    let adv = |n: &str| {
        let a = c.advertised_for(n);
        (a.host.clone(), a.port)
    };
    assert_eq!(adv("PLAINTEXT"), ("plain.example".into(), 19092));
    assert_eq!(adv("SSL"), ("public.example".into(), 19093));
    // Not advertised: its own address.
    assert_eq!(adv("INTERNAL"), ("127.0.0.1".into(), 9094));
    // A wildcard bind address advertises localhost.
    assert_eq!(c.listeners[1].bind.bind_addr(), "0.0.0.0:9093");
}

#[test]
fn the_listener_prefix_wins_over_the_plain_key() {
    let c = config(&[
        ("listeners", "PLAINTEXT://:0,SSL://:0,CLIENT://:0"),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SSL:SSL,CLIENT:SSL",
        ),
        ("ssl.keystore.location", "/shared.pem"),
        ("ssl.client.auth", "required"),
        ("listener.name.client.ssl.keystore.location", "/client.pem"),
        ("listener.name.client.ssl.client.auth", "none"),
    ])
    .unwrap();
    let ssl = &c.listeners[1].ssl;
    let client = &c.listeners[2].ssl;
    assert_eq!(ssl.get("ssl.keystore.location"), Some("/shared.pem"));
    assert_eq!(client.get("ssl.keystore.location"), Some("/client.pem"));
    assert_eq!(ssl.get("ssl.client.auth"), Some("required"));
    assert_eq!(client.get("ssl.client.auth"), Some("none"));
    assert!(is_known("listener.name.client.ssl.keystore.location"));
    assert!(is_known("ssl.truststore.certificates"));
    assert!(!is_known("listener.name.client.no.such.key"));
}

#[test]
fn bad_listener_settings_are_refused_with_a_reason() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("listeners", "PLAINTEXT://:1,PLAINTEXT://:2")],
            "used twice",
        ),
        (
            &[("listeners", "PLAINTEXT://:1,SSL://:1")],
            "port 1 is used by two",
        ),
        (
            &[("listeners", "CUSTOM://:1")],
            "no security protocol for listener CUSTOM",
        ),
        (
            &[("listeners", "SASL_PLAINTEXT://:1")],
            "has no JAAS config",
        ),
        (
            &[
                ("listeners", "SASL_PLAINTEXT://:1"),
                ("sasl.enabled.mechanisms", "GSSAPI"),
            ],
            "GSSAPI is not supported",
        ),
        (&[("listeners", "SSL://:1")], "needs a key store"),
        (
            &[
                ("listeners", "PLAINTEXT://:1"),
                ("advertised.listeners", "SSL://h:1"),
            ],
            "SSL is not one of the listeners",
        ),
        (
            &[
                ("listeners", "PLAINTEXT://:1"),
                ("advertised.listeners", "PLAINTEXT://:1"),
            ],
            "wildcard",
        ),
        (
            &[
                ("listeners", "SSL://:1"),
                ("ssl.keystore.location", "/k"),
                ("ssl.client.auth", "always"),
            ],
            "ssl.client.auth",
        ),
        (
            &[
                ("listeners", "SSL://:1"),
                ("ssl.keystore.location", "/k"),
                ("ssl.enabled.protocols", "TLSv9"),
            ],
            "ssl.enabled.protocols",
        ),
        (
            &[
                ("listeners", "PLAINTEXT://:1"),
                ("listener.security.protocol.map", "PLAINTEXT:TLS"),
            ],
            "unknown security protocol",
        ),
    ];
    for (pairs, why) in cases {
        let err = config(pairs).expect_err(why);
        assert!(err.contains(why), "{pairs:?}: {err}");
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
        ]);
        std::fs::write(d.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, subject) in [
            ("server", "/CN=127.0.0.1"),
            ("client", "/C=CZ/O=Vltava, Inc./OU=Dev/CN=alice"),
        ] {
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            run(&[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
                subject,
            ]);
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ]);
        }
        let store = [
            std::fs::read_to_string(d.join("server.key")).unwrap(),
            std::fs::read_to_string(d.join("server.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(d.join("server-store.pem"), store).unwrap();
        run(&[
            "pkcs12",
            "-export",
            "-inkey",
            "server.key",
            "-in",
            "server.pem",
            "-out",
            "server.p12",
            "-passout",
            "pass:store-pass",
        ]);
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

impl Pki {
    /// A CA with the test CA's name but a key of its own, and a client certificate it signed
    /// (`impostor.pem`/`impostor.key`). Clients send it (its issuer is a name the broker asks
    /// for); only the signature gives it away.
    fn add_impostor(&self) {
        let d = self.dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}");
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "impostor-ca.key",
            "-out",
            "impostor-ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "impostor.key",
            "-out",
            "impostor.csr",
            "-subj",
            "/CN=mallory",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "impostor.csr",
            "-CA",
            "impostor-ca.pem",
            "-CAkey",
            "impostor-ca.key",
            "-CAcreateserial",
            "-out",
            "impostor.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ]);
    }
}

/// A rustls client trusting the test CA, presenting `<cert>.pem` / `<cert>.key` when named.
fn client_config(pki: &Pki, cert: Option<&str>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match cert {
        Some(name) => {
            let chain =
                vec![CertificateDer::from_pem_file(pki.path(&format!("{name}.pem"))).unwrap()];
            let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    }
}

fn ssl_listener(pairs: &[(&str, String)]) -> vltava::config::ListenerConfig {
    let mut all: Vec<(&str, &str)> = vec![("listeners", "SSL://127.0.0.1:0")];
    all.extend(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    config(&all).unwrap().listeners.remove(0)
}

/// Handshakes a rustls client (with the client certificate when `with_cert`) against the
/// listener's TLS and returns the principal the broker saw, or the broker's error.
async fn principal_of(
    pki: &Pki,
    listener: &tls::TlsListener,
    with_cert: bool,
) -> Result<String, String> {
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let client_config = client_config(pki, with_cert.then_some("client"));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let client = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        if let Ok(mut s) = connector.connect(name, tcp).await {
            // TLS 1.3: a refused client certificate shows only on the first read.
            let _ = s.write_all(b"ping").await;
            let mut buf = [0u8; 4];
            let _ = s.read(&mut buf).await;
        }
    });
    let (tcp, _) = server.accept().await.unwrap();
    let result = tls::accept(listener, tcp, Duration::from_secs(20)).await;
    let out = match result {
        Ok((mut stream, principal)) => {
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping", "bytes arrive decrypted");
            stream.write_all(b"pong").await.unwrap();
            stream.flush().await.unwrap();
            Ok(principal)
        }
        Err(e) => Err(e.to_string()),
    };
    client.await.unwrap();
    out
}

/// Handshakes a client presenting `cert` against a listener that is to refuse it: what the
/// broker's accept returned and what the client read (the alert it received).
async fn refusal_of(pki: &Pki, listener: &tls::TlsListener, cert: &str) -> (String, String) {
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(pki, Some(cert))));
    let client = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        match connector.connect(name, tcp).await {
            Err(e) => e.to_string(),
            Ok(mut s) => {
                // TLS 1.3: the client learns of the refusal on its first read.
                let _ = s.write_all(b"ping").await;
                let mut buf = [0u8; 4];
                match s.read(&mut buf).await {
                    Err(e) => e.to_string(),
                    Ok(n) => format!("read {n} bytes"),
                }
            }
        }
    });
    let (tcp, _) = server.accept().await.unwrap();
    let broker = match tls::accept(listener, tcp, Duration::from_secs(20)).await {
        Ok((_, principal)) => format!("let in as {principal}"),
        Err(e) => e.to_string(),
    };
    (broker, client.await.unwrap())
}

/// Kafka (JSSE) refuses any client certificate its trust store does not vouch for with the
/// `certificate_unknown` alert, and clients show that name; rustls alone would send
/// `decrypt_error` for a bad signature. The broker's own error keeps the reason.
#[tokio::test]
async fn an_untrusted_client_certificate_gets_kafkas_alert() {
    let pki = Pki::new();
    pki.add_impostor();
    for version in ["TLSv1.3", "TLSv1.2"] {
        let l = ssl_listener(&[
            (
                "ssl.keystore.location",
                pki.path("server-store.pem").display().to_string(),
            ),
            (
                "ssl.truststore.location",
                pki.path("ca.pem").display().to_string(),
            ),
            ("ssl.client.auth", "required".into()),
            ("ssl.enabled.protocols", version.into()),
        ]);
        let t = tls::listener(&l.ssl).unwrap();
        let (broker, client) = refusal_of(&pki, &t, "impostor").await;
        // The reason stays in the broker's log, inside the `Other` that selects the alert.
        assert!(
            broker.starts_with("handshake: invalid peer certificate: ")
                && broker.contains("BadSignature"),
            "{version}: {broker}"
        );
        assert_eq!(
            client, "received fatal alert: CertificateUnknown",
            "{version}"
        );
        // The trusted client certificate still gets in.
        assert_eq!(
            principal_of(&pki, &t, true).await.unwrap(),
            "User:CN=alice,OU=Dev,O=Vltava\\, Inc.,C=CZ",
        );
    }
}

#[tokio::test]
async fn the_principal_comes_from_the_client_certificate() {
    let pki = Pki::new();
    let store = pki.path("server-store.pem").display().to_string();
    let ca = pki.path("ca.pem").display().to_string();

    // PEM file key store, PEM trust store, client certificates required: Java's RFC 2253 form.
    let l = ssl_listener(&[
        ("ssl.keystore.type", "PEM".into()),
        ("ssl.keystore.location", store.clone()),
        ("ssl.truststore.type", "PEM".into()),
        ("ssl.truststore.location", ca.clone()),
        ("ssl.client.auth", "required".into()),
    ]);
    let t = tls::listener(&l.ssl).unwrap();
    assert_eq!(
        principal_of(&pki, &t, true).await.unwrap(),
        r"User:CN=alice,OU=Dev,O=Vltava\, Inc.,C=CZ"
    );
    let refused = principal_of(&pki, &t, false).await.unwrap_err();
    assert!(refused.contains("handshake"), "{refused}");

    // requested: without a certificate the client is ANONYMOUS; mapping rules shorten names.
    let l = ssl_listener(&[
        ("ssl.keystore.location", store.clone()),
        ("ssl.truststore.location", ca.clone()),
        ("ssl.client.auth", "requested".into()),
        (
            "ssl.principal.mapping.rules",
            "RULE:^CN=([a-z]+),OU=Dev,.*$/$1-dev/U, DEFAULT".into(),
        ),
    ]);
    let t = tls::listener(&l.ssl).unwrap();
    assert_eq!(
        principal_of(&pki, &t, false).await.unwrap(),
        "User:ANONYMOUS"
    );
    assert_eq!(
        principal_of(&pki, &t, true).await.unwrap(),
        "User:ALICE-DEV"
    );

    // PEM in config and PKCS12 key stores; no client authentication.
    let l = ssl_listener(&[
        ("ssl.keystore.type", "PEM".into()),
        ("ssl.keystore.certificate.chain", pki.text("server.pem")),
        ("ssl.keystore.key", pki.text("server.key")),
    ]);
    let t = tls::listener(&l.ssl).unwrap();
    assert_eq!(
        principal_of(&pki, &t, false).await.unwrap(),
        "User:ANONYMOUS"
    );
    let l = ssl_listener(&[
        ("ssl.keystore.type", "PKCS12".into()),
        (
            "ssl.keystore.location",
            pki.path("server.p12").display().to_string(),
        ),
        ("ssl.keystore.password", "store-pass".into()),
        ("ssl.enabled.protocols", "TLSv1.2".into()),
        (
            "ssl.cipher.suites",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into(),
        ),
    ]);
    let t = tls::listener(&l.ssl).unwrap();
    assert_eq!(
        principal_of(&pki, &t, false).await.unwrap(),
        "User:ANONYMOUS"
    );
}

#[test]
fn tls_setup_errors_name_the_key_and_never_the_secret() {
    let pki = Pki::new();
    let p12 = pki.path("server.p12").display().to_string();
    let wrong = ssl_listener(&[
        ("ssl.keystore.type", "PKCS12".into()),
        ("ssl.keystore.location", p12),
        ("ssl.keystore.password", "not-the-password".into()),
    ]);
    let err = tls::listener(&wrong.ssl).err().unwrap().to_string();
    assert!(err.contains("ssl.keystore.password"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");

    let no_trust = ssl_listener(&[
        (
            "ssl.keystore.location",
            pki.path("server-store.pem").display().to_string(),
        ),
        ("ssl.client.auth", "required".into()),
    ]);
    let err = tls::listener(&no_trust.ssl).err().unwrap().to_string();
    assert!(err.contains("no trust store"), "{err}");

    let jks = ssl_listener(&[
        ("ssl.keystore.type", "JKS".into()),
        (
            "ssl.keystore.location",
            pki.path("server.p12").display().to_string(),
        ),
    ]);
    let err = tls::listener(&jks.ssl).err().unwrap().to_string();
    assert!(err.contains("JKS is not supported"), "{err}");

    let suites = ssl_listener(&[
        (
            "ssl.keystore.location",
            pki.path("server-store.pem").display().to_string(),
        ),
        ("ssl.cipher.suites", "TLS_RSA_WITH_NULL_SHA".into()),
    ]);
    let err = tls::listener(&suites.ssl).err().unwrap().to_string();
    assert!(err.contains("ssl.cipher.suites"), "{err}");
}
