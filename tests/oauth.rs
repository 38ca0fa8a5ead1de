//! SASL/OAUTHBEARER and re-authentication (KIP-368): token checks of Kafka's unsecured
//! validator claim by claim, signed RS256/ES256 tokens against a JWKS (wrong key, expired,
//! wrong audience or issuer, unsigned refused), the RFC 7628 client message, and at the wire
//! the exchange, its failure challenge, `session_lifetime_ms`, re-authentication and the close
//! of an expired session.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use common::{Client, TestBroker};
use kafka_protocol::messages::{
    MetadataRequest, RequestKind, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::json;
use vltava::config::oauth::{JwksSettings, OAuthValidation};
use vltava::net::oauth::{ClientResponse, Validator};

const NOW_MS: u64 = 1_700_000_000_000;
const NOW_S: u64 = NOW_MS / 1000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unsecured_token(claims: serde_json::Value) -> String {
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(claims.to_string().as_bytes())
    )
}

fn unsecured(required_scope: &[&str], skew_ms: u64) -> Validator {
    Validator::with_keys(
        OAuthValidation::Unsecured {
            principal_claim: "sub".into(),
            scope_claim: "scope".into(),
            required_scope: required_scope.iter().map(|s| s.to_string()).collect(),
            clock_skew_ms: skew_ms,
        },
        b"",
    )
    .unwrap()
}

#[test]
fn unsecured_tokens_claim_by_claim() {
    let v = unsecured(&[], 0);
    let ok = v
        .validate(
            &unsecured_token(json!({"sub": "alice", "exp": NOW_S + 60, "iat": NOW_S})),
            NOW_MS,
        )
        .unwrap();
    assert_eq!(ok.principal, "alice");
    assert_eq!(ok.expiry_ms, (NOW_S + 60) * 1000);

    let refused = |token: String| v.validate(&token, NOW_MS).unwrap_err();
    let invalid = r#"{"status":"invalid_token"}"#;
    for (why, token) in [
        ("no exp", unsecured_token(json!({"sub": "alice"}))),
        (
            "expired",
            unsecured_token(json!({"sub": "alice", "exp": NOW_S})),
        ),
        ("no sub", unsecured_token(json!({"exp": NOW_S + 60}))),
        (
            "blank sub",
            unsecured_token(json!({"sub": " ", "exp": NOW_S + 60})),
        ),
        (
            "sub not a string",
            unsecured_token(json!({"sub": 7, "exp": NOW_S + 60})),
        ),
        (
            "iat in the future",
            unsecured_token(json!({"sub": "a", "exp": NOW_S + 60, "iat": NOW_S + 10})),
        ),
        (
            "exp not after iat",
            unsecured_token(json!({"sub": "a", "exp": NOW_S + 60, "iat": NOW_S + 60})),
        ),
        (
            "signed alg",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"RS256"}"#),
                b64(json!({"sub": "a", "exp": NOW_S + 60})
                    .to_string()
                    .as_bytes())
            ),
        ),
        (
            "a signature",
            unsecured_token(json!({"sub": "a", "exp": NOW_S + 60})) + "c2ln",
        ),
        ("not a JWS", "abc".to_string()),
        ("empty claims", format!("{}..", b64(br#"{"alg":"none"}"#))),
    ] {
        let r = refused(token);
        assert_eq!(r.json, invalid, "{why}: {r:?}");
    }

    // The allowable clock skew lets a just-expired token through, not an older one.
    let skewed = unsecured(&[], 5000);
    let just_expired = unsecured_token(json!({"sub": "a", "exp": NOW_S - 3}));
    assert!(skewed.validate(&just_expired, NOW_MS).is_ok());
    let long_expired = unsecured_token(json!({"sub": "a", "exp": NOW_S - 6}));
    assert!(skewed.validate(&long_expired, NOW_MS).is_err());

    // A principal claim other than sub.
    let custom = Validator::with_keys(
        OAuthValidation::Unsecured {
            principal_claim: "who".into(),
            scope_claim: "scope".into(),
            required_scope: Vec::new(),
            clock_skew_ms: 0,
        },
        b"",
    )
    .unwrap();
    let t = unsecured_token(json!({"who": "bob", "sub": "alice", "exp": NOW_S + 60}));
    assert_eq!(custom.validate(&t, NOW_MS).unwrap().principal, "bob");

    // Required scope: as a space-separated string or a list; a missing one is
    // insufficient_scope with the required list, as Kafka words it.
    let scoped = unsecured(&["read", "write"], 0);
    for scope in [json!("write read other"), json!(["read", "write"])] {
        let t = unsecured_token(json!({"sub": "a", "exp": NOW_S + 60, "scope": scope}));
        assert!(scoped.validate(&t, NOW_MS).is_ok(), "{scope}");
    }
    let t = unsecured_token(json!({"sub": "a", "exp": NOW_S + 60, "scope": "read"}));
    assert_eq!(
        scoped.validate(&t, NOW_MS).unwrap_err().json,
        r#"{"status":"insufficient_scope", "scope":"[read, write]"}"#
    );
}

/// A signing key and its JWK.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl Signer {
    fn rsa(der: &[u8]) -> Signer {
        Signer::Rsa(RsaKeyPair::from_pkcs8(der).unwrap())
    }

    fn ec() -> Signer {
        let rng = SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        Signer::Ec(
            EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                pk8.as_ref(),
                &rng,
            )
            .unwrap(),
        )
    }

    fn alg(&self) -> &'static str {
        match self {
            Signer::Rsa(_) => "RS256",
            Signer::Ec(_) => "ES256",
        }
    }

    fn jwk(&self, kid: &str) -> serde_json::Value {
        match self {
            Signer::Rsa(k) => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(k.public());
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                       "n": b64(&c.n), "e": b64(&c.e)})
            }
            Signer::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "kid": kid, "crv": "P-256",
                       "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
        }
    }

    fn sign(&self, kid: &str, claims: serde_json::Value) -> String {
        let header = json!({"alg": self.alg(), "kid": kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut sig,
                )
                .unwrap();
                sig
            }
            Signer::Ec(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }
}

const RSA_KEY: &[u8] = include_bytes!("data/oauth-rsa-2048.pk8.der");
const OTHER_RSA_KEY: &[u8] = include_bytes!("data/oauth-rsa-2048-other.pk8.der");

fn jwks_settings(audience: &[&str], issuer: Option<&str>) -> JwksSettings {
    JwksSettings {
        path: "/unused".into(),
        refresh_ms: 3_600_000,
        expected_audience: audience.iter().map(|s| s.to_string()).collect(),
        expected_issuer: issuer.map(String::from),
        sub_claim: "sub".into(),
        scope_claim: "scope".into(),
        clock_skew_s: 30,
    }
}

fn jwks_validator(settings: JwksSettings, keys: &[(&Signer, &str)]) -> Validator {
    let keys: Vec<_> = keys.iter().map(|(s, kid)| s.jwk(kid)).collect();
    let doc = json!({ "keys": keys }).to_string();
    Validator::with_keys(OAuthValidation::Jwks(settings), doc.as_bytes()).unwrap()
}

#[test]
fn signed_rs256_and_es256_tokens_against_the_jwks() {
    let rsa = Signer::rsa(RSA_KEY);
    let ec = Signer::ec();
    let v = jwks_validator(
        jwks_settings(&["kafka"], Some("https://idp")),
        &[(&rsa, "r1"), (&ec, "e1")],
    );
    let claims = |sub: &str| {
        json!({"sub": sub, "aud": ["other", "kafka"], "iss": "https://idp",
               "iat": NOW_S, "exp": NOW_S + 300})
    };
    let t = v
        .validate(&rsa.sign("r1", claims("alice")), NOW_MS)
        .unwrap();
    assert_eq!(
        (t.principal.as_str(), t.expiry_ms),
        ("alice", (NOW_S + 300) * 1000)
    );
    let t = v.validate(&ec.sign("e1", claims("bob")), NOW_MS).unwrap();
    assert_eq!(t.principal, "bob");

    let refused = |token: String| v.validate(&token, NOW_MS).unwrap_err();
    let invalid = r#"{"status":"invalid_token"}"#;
    // Signed by a key that is not in the JWKS (same kid, or none).
    let stranger = Signer::rsa(OTHER_RSA_KEY);
    assert_eq!(refused(stranger.sign("r1", claims("alice"))).json, invalid);
    assert_eq!(
        refused(Signer::ec().sign("e1", claims("alice"))).json,
        invalid
    );
    // A key of the JWKS under another kid than its own.
    assert_eq!(refused(rsa.sign("e1", claims("alice"))).json, invalid);
    // A tampered payload.
    let good = rsa.sign("r1", claims("alice"));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("admin").to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(refused(forged).json, invalid);
    // Unsigned, where a signature is required.
    assert_eq!(refused(unsecured_token(claims("alice"))).json, invalid);
    // Expired beyond the 30 s clock skew; within it is fine.
    let mut c = claims("alice");
    c["exp"] = json!(NOW_S - 31);
    assert_eq!(refused(rsa.sign("r1", c.clone())).json, invalid);
    c["exp"] = json!(NOW_S - 10);
    assert!(v.validate(&rsa.sign("r1", c), NOW_MS).is_ok());
    // Wrong or missing audience, wrong issuer, no iat, no sub, not yet valid.
    for (field, value) in [
        ("aud", json!("someone-else")),
        ("aud", serde_json::Value::Null),
        ("iss", json!("https://evil")),
        ("iat", serde_json::Value::Null),
        ("sub", serde_json::Value::Null),
        ("nbf", json!(NOW_S + 120)),
    ] {
        let mut c = claims("alice");
        if value.is_null() {
            c.as_object_mut().unwrap().remove(field);
        } else {
            c[field] = value.clone();
        }
        assert_eq!(refused(rsa.sign("r1", c)).json, invalid, "{field}={value}");
    }
    // Without expectations, audience and issuer are not checked.
    let lax = jwks_validator(jwks_settings(&[], None), &[(&rsa, "r1")]);
    let mut c = claims("alice");
    c["aud"] = json!("anyone");
    c["iss"] = json!("anybody");
    assert!(lax.validate(&rsa.sign("r1", c), NOW_MS).is_ok());
}

#[test]
fn rfc7628_client_first_message() {
    let r = ClientResponse::parse(b"n,,\x01auth=Bearer abc.def.\x01\x01").unwrap();
    assert_eq!(
        (r.authzid.as_str(), r.token.as_str(), r.extensions.len()),
        ("", "abc.def.", 0)
    );
    let r = ClientResponse::parse(
        b"n,a=al=2Cice,\x01traceId=42\x01auth=bearer x-y_z\x01logicalCluster=lc 1\x01\x01",
    )
    .unwrap();
    assert_eq!(r.authzid, "al,ice");
    assert_eq!(r.token, "x-y_z");
    assert_eq!(
        r.extensions,
        vec![
            ("traceId".to_string(), "42".to_string()),
            ("logicalCluster".to_string(), "lc 1".to_string())
        ]
    );
    for bad in [
        &b""[..],
        b"y,,\x01auth=Bearer t\x01\x01",
        b"n,,\x01\x01",
        b"n,,\x01auth=Basic t\x01\x01",
        b"n,,\x01auth=Bearer t\x01",
        b"n,,\x01auth=Bearer t%\x01\x01",
        b"n,,\x01auth=Bearer t\x01k1=v\x01\x01",
        b"n,,auth=Bearer t\x01\x01",
        b"\x01",
    ] {
        assert!(ClientResponse::parse(bad).is_err(), "{bad:?}");
    }
}

// ---- at the wire ----

const OAUTH_JAAS: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;";
const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
    user_alice=\"alice-secret\" user_admin=\"admin-secret\";";

fn wall_s() -> u64 {
    vltava::net::oauth::wall_clock_ms() / 1000
}

fn client_message(token: &str) -> Bytes {
    Bytes::from(format!("n,,\x01auth=Bearer {token}\x01\x01"))
}

async fn handshake(c: &mut Client, mechanism: &'static str) -> i16 {
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    let ResponseKind::SaslHandshake(r) = c.call(1, RequestKind::SaslHandshake(req)).await else {
        panic!("not a SaslHandshake response")
    };
    r.error_code
}

async fn authenticate(c: &mut Client, token: Bytes) -> SaslAuthenticateResponse {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(token);
    let ResponseKind::SaslAuthenticate(r) = c.call(2, RequestKind::SaslAuthenticate(req)).await
    else {
        panic!("not a SaslAuthenticate response")
    };
    r
}

async fn metadata_works(c: &mut Client) {
    let ResponseKind::Metadata(m) = c
        .call(12, RequestKind::Metadata(MetadataRequest::default()))
        .await
    else {
        panic!("not a Metadata response")
    };
    assert_eq!(m.brokers.len(), 1);
}

#[tokio::test]
async fn oauthbearer_exchange_at_the_wire() {
    let broker = TestBroker::start(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        (
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms",
            "OAUTHBEARER,PLAIN",
        ),
        (
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config",
            OAUTH_JAAS,
        ),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            PLAIN_JAAS,
        ),
        (
            "listener.name.sasl_plaintext.oauthbearer.connections.max.reauth.ms",
            "600000",
        ),
    ])
    .await;
    // A token valid for ~100 s: the session lifetime is its remaining life, below the
    // listener's 600 s.
    let mut good = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut good, "OAUTHBEARER").await, 0);
    let token = unsecured_token(json!({"sub": "alice", "exp": wall_s() + 100}));
    let r = authenticate(&mut good, client_message(&token)).await;
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    assert!(r.auth_bytes.is_empty());
    assert!(
        (90_000..=100_000).contains(&r.session_lifetime_ms),
        "{}",
        r.session_lifetime_ms
    );
    metadata_works(&mut good).await;

    // An expired token: Kafka's JSON challenge, the client's \x01, then the failure.
    let mut bad = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut bad, "OAUTHBEARER").await, 0);
    let expired = unsecured_token(json!({"sub": "alice", "exp": wall_s() - 100}));
    let r = authenticate(&mut bad, client_message(&expired)).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(&r.auth_bytes[..], br#"{"status":"invalid_token"}"#);
    let r = authenticate(&mut bad, Bytes::from_static(b"\x01")).await;
    assert_eq!(r.error_code, 58, "SASL_AUTHENTICATION_FAILED");
    assert_eq!(
        r.error_message.as_deref(),
        Some(r#"{"status":"invalid_token"}"#)
    );
    assert!(bad.is_closed_by_broker().await);

    // A malformed client message fails at once.
    let mut bad = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut bad, "OAUTHBEARER").await, 0);
    let r = authenticate(&mut bad, Bytes::from_static(b"n,,\x01nope\x01\x01")).await;
    assert_eq!(r.error_code, 58);
    assert!(bad.is_closed_by_broker().await);

    // A PLAIN session on the same listener has no credential expiry and no max for PLAIN:
    // lifetime 0, and SaslHandshake afterwards is ILLEGAL_SASL_STATE.
    let mut plain = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut plain, "PLAIN").await, 0);
    let r = authenticate(&mut plain, Bytes::from("\0alice\0alice-secret")).await;
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 0));
    assert_eq!(handshake(&mut plain, "PLAIN").await, 34);

    metadata_works(&mut good).await;
    broker.stop().await;
}

#[tokio::test]
async fn reauthentication_keeps_the_principal_and_expired_sessions_close() {
    let broker = TestBroker::start(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            PLAIN_JAAS,
        ),
        ("connections.max.reauth.ms", "300"),
    ])
    .await;
    let plain = |user: &str, pw: &str| Bytes::from(format!("\0{user}\0{pw}"));

    // Re-authenticate as the same user: the connection goes on.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    let r = authenticate(&mut c, plain("alice", "alice-secret")).await;
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 300));
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    let r = authenticate(&mut c, plain("alice", "alice-secret")).await;
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 300));
    metadata_works(&mut c).await;
    // A second re-authentication within a second of the first is not one: the handshake
    // reaches its handler.
    assert_eq!(handshake(&mut c, "PLAIN").await, 34);

    // Re-authenticating as someone else is refused, and the connection closes.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    assert_eq!(
        authenticate(&mut c, plain("alice", "alice-secret"))
            .await
            .error_code,
        0
    );
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    let r = authenticate(&mut c, plain("admin", "admin-secret")).await;
    assert_eq!(r.error_code, 58);
    assert_eq!(
        r.error_message.as_deref(),
        Some("Cannot change principals during re-authentication from User.alice: User.admin")
    );
    assert!(c.is_closed_by_broker().await);

    // Re-authentication must keep the mechanism.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    assert_eq!(
        authenticate(&mut c, plain("alice", "alice-secret"))
            .await
            .error_code,
        0
    );
    assert_eq!(handshake(&mut c, "OAUTHBEARER").await, 0);
    let r = authenticate(&mut c, plain("alice", "alice-secret")).await;
    assert_eq!(r.error_code, 58);
    assert!(
        r.error_message
            .unwrap()
            .contains("not supported for re-authentication")
    );

    // A session left to expire: the next request closes the connection unanswered.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    assert_eq!(
        authenticate(&mut c, plain("alice", "alice-secret"))
            .await
            .error_code,
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    c.send(
        kafka_protocol::messages::ApiKey::Metadata,
        12,
        &RequestKind::Metadata(MetadataRequest::default()),
    )
    .await;
    assert!(c.is_closed_by_broker().await);
    // ...but a SaslHandshake after expiry still re-authenticates, as in Kafka.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    assert_eq!(
        authenticate(&mut c, plain("alice", "alice-secret"))
            .await
            .error_code,
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    assert_eq!(
        authenticate(&mut c, plain("alice", "alice-secret"))
            .await
            .error_code,
        0
    );
    metadata_works(&mut c).await;
    broker.stop().await;
}

#[tokio::test]
async fn signed_tokens_from_a_jwks_file_at_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let ec = Signer::ec();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [ec.jwk("k1")]}).to_string()).unwrap();
    let url = format!("file://{}", jwks.display());
    let broker = TestBroker::start(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("sasl.enabled.mechanisms", "OAUTHBEARER"),
        (
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config",
            OAUTH_JAAS,
        ),
        (
            "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
        ),
        ("sasl.oauthbearer.jwks.endpoint.url", &url),
        ("sasl.oauthbearer.expected.audience", "kafka"),
    ])
    .await;
    let claims =
        |aud: &str| json!({"sub": "svc", "aud": aud, "iat": wall_s(), "exp": wall_s() + 60});

    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, "OAUTHBEARER").await, 0);
    let r = authenticate(&mut c, client_message(&ec.sign("k1", claims("kafka")))).await;
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    metadata_works(&mut c).await;

    for token in [
        ec.sign("k1", claims("elsewhere")),
        Signer::ec().sign("k1", claims("kafka")),
        unsecured_token(claims("kafka")),
    ] {
        let mut bad = Client::connect(broker.addr).await;
        assert_eq!(handshake(&mut bad, "OAUTHBEARER").await, 0);
        let r = authenticate(&mut bad, client_message(&token)).await;
        assert_eq!(&r.auth_bytes[..], br#"{"status":"invalid_token"}"#);
        assert_eq!(
            authenticate(&mut bad, Bytes::from_static(b"\x01"))
                .await
                .error_code,
            58
        );
    }
    metadata_works(&mut c).await;
    broker.stop().await;
}
