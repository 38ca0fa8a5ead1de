//! SASL on SASL_PLAINTEXT listeners, at the wire: SaslHandshake v0/v1 and SaslAuthenticate
//! v0–2 with PLAIN, the pre-authentication gate, failures and their error codes, and the
//! ILLEGAL_SASL_STATE answers once authenticated or on listeners without SASL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{Client, TestBroker};
use kafka_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, RequestKind, ResponseKind, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
    username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" \
    user_alice=\"alice-secret\";";

async fn sasl_broker() -> TestBroker {
    TestBroker::start(&[
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS),
    ])
    .await
}

fn plain_token(user: &str, password: &str) -> Bytes {
    Bytes::from(format!("\0{user}\0{password}"))
}

async fn handshake(c: &mut Client, version: i16, mechanism: &'static str) -> (i16, Vec<String>) {
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    let ResponseKind::SaslHandshake(r) = c.call(version, RequestKind::SaslHandshake(req)).await
    else {
        panic!("not a SaslHandshake response")
    };
    let mechanisms = r.mechanisms.iter().map(|m| m.to_string()).collect();
    (r.error_code, mechanisms)
}

async fn authenticate(
    c: &mut Client,
    version: i16,
    token: Bytes,
) -> kafka_protocol::messages::SaslAuthenticateResponse {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(token);
    let ResponseKind::SaslAuthenticate(r) =
        c.call(version, RequestKind::SaslAuthenticate(req)).await
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
async fn plain_with_every_sasl_authenticate_version() {
    let broker = sasl_broker().await;
    for v in 0..=2 {
        let mut c = Client::connect(broker.addr).await;
        let ResponseKind::ApiVersions(av) = c
            .call(2, RequestKind::ApiVersions(ApiVersionsRequest::default()))
            .await
        else {
            panic!()
        };
        assert!(
            av.api_keys
                .iter()
                .any(|k| k.api_key == 17 && k.max_version == 1)
        );
        assert!(
            av.api_keys
                .iter()
                .any(|k| k.api_key == 36 && k.max_version == 2)
        );
        assert_eq!(
            handshake(&mut c, 1, "PLAIN").await,
            (0, vec!["PLAIN".into()])
        );
        let r = authenticate(&mut c, v, plain_token("alice", "alice-secret")).await;
        assert_eq!(r.error_code, 0, "v{v}: {:?}", r.error_message);
        assert!(r.auth_bytes.is_empty());
        metadata_works(&mut c).await;
        // Once authenticated, the SASL APIs reach their handlers: ILLEGAL_SASL_STATE.
        let again = authenticate(&mut c, v, plain_token("alice", "alice-secret")).await;
        assert_eq!(again.error_code, 34);
        assert_eq!(handshake(&mut c, 1, "PLAIN").await.0, 34);
        metadata_works(&mut c).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn wrong_password_is_refused_and_others_are_still_served() {
    let broker = sasl_broker().await;
    let mut good = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut good, 1, "PLAIN").await.0, 0);
    assert_eq!(
        authenticate(&mut good, 2, plain_token("alice", "alice-secret"))
            .await
            .error_code,
        0
    );

    for (user, password) in [
        ("alice", "wrong"),
        ("mallory", "alice-secret"),
        ("alice", "alice-secre"),
    ] {
        let mut bad = Client::connect(broker.addr).await;
        assert_eq!(handshake(&mut bad, 1, "PLAIN").await.0, 0);
        let r = authenticate(&mut bad, 2, plain_token(user, password)).await;
        assert_eq!(r.error_code, 58, "SASL_AUTHENTICATION_FAILED");
        assert_eq!(
            r.error_message.as_deref(),
            Some("Authentication failed: Invalid username or password")
        );
        assert!(bad.is_closed_by_broker().await);
    }
    // Another authorization id than the user is refused with its own message.
    let mut bad = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut bad, 1, "PLAIN").await.0, 0);
    let r = authenticate(&mut bad, 1, Bytes::from("admin\0alice\0alice-secret")).await;
    assert_eq!(r.error_code, 58);
    assert!(r.error_message.unwrap().contains("authorization id"));
    assert!(bad.is_closed_by_broker().await);

    metadata_works(&mut good).await;
    broker.stop().await;
}

#[tokio::test]
async fn unsupported_mechanism_gets_the_enabled_list_then_close() {
    let broker = sasl_broker().await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        handshake(&mut c, 1, "SCRAM-SHA-256").await,
        (33, vec!["PLAIN".to_string()])
    );
    assert!(c.is_closed_by_broker().await);
    broker.stop().await;
}

#[tokio::test]
async fn nothing_but_api_versions_and_sasl_before_authentication() {
    let broker = sasl_broker().await;
    // Metadata first: closed without an answer.
    let mut c = Client::connect(broker.addr).await;
    c.send(
        kafka_protocol::messages::ApiKey::Metadata,
        12,
        &RequestKind::Metadata(MetadataRequest::default()),
    )
    .await;
    assert!(c.is_closed_by_broker().await);

    // After the handshake, still nothing but SaslAuthenticate.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, 1, "PLAIN").await.0, 0);
    c.send(
        kafka_protocol::messages::ApiKey::Metadata,
        12,
        &RequestKind::Metadata(MetadataRequest::default()),
    )
    .await;
    assert!(c.is_closed_by_broker().await);

    // SaslAuthenticate without a handshake.
    let mut c = Client::connect(broker.addr).await;
    let r = authenticate(&mut c, 1, plain_token("alice", "alice-secret")).await;
    assert_eq!(r.error_code, 34, "ILLEGAL_SASL_STATE");
    assert!(c.is_closed_by_broker().await);

    // A frame larger than sasl.server.max.receive.size before authentication.
    let mut c = Client::connect(broker.addr).await;
    c.send_raw(&(600_000i32).to_be_bytes()).await.unwrap();
    assert!(c.is_closed_by_broker().await);
    broker.stop().await;
}

#[tokio::test]
async fn handshake_v0_then_bare_tokens() {
    let broker = sasl_broker().await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        handshake(&mut c, 0, "PLAIN").await,
        (0, vec!["PLAIN".into()])
    );
    let token = plain_token("admin", "admin-secret");
    let mut frame = BytesMut::new();
    frame.put_i32(token.len() as i32);
    frame.put_slice(&token);
    c.stream.write_all(&frame).await.unwrap();
    let mut size = [0u8; 4];
    c.stream.read_exact(&mut size).await.unwrap();
    assert_eq!(i32::from_be_bytes(size), 0, "PLAIN's empty server token");
    metadata_works(&mut c).await;

    // A wrong bare token: v0 has no error field, the connection just closes.
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, 0, "PLAIN").await.0, 0);
    let token = plain_token("admin", "nope");
    let mut frame = BytesMut::new();
    frame.put_i32(token.len() as i32);
    frame.put_slice(&token);
    c.stream.write_all(&frame).await.unwrap();
    assert!(c.is_closed_by_broker().await);
    broker.stop().await;
}

#[tokio::test]
async fn listeners_without_sasl_answer_illegal_sasl_state() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(handshake(&mut c, 1, "PLAIN").await.0, 34);
    assert_eq!(
        authenticate(&mut c, 2, plain_token("a", "b"))
            .await
            .error_code,
        34
    );
    metadata_works(&mut c).await;
    broker.stop().await;
}
