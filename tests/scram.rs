//! SASL/SCRAM end to end at the wire: credentials made with AlterUserScramCredentials, shown by
//! DescribeUserScramCredentials, used by a SCRAM-SHA-256/512 exchange (a client written here
//! from RFC 5802), refused with Kafka's error and message, removed, and kept across a restart;
//! plus the validation matrix of both APIs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use common::{Client, TestBroker};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest, MetadataRequest,
    RequestKind, ResponseKind, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;
use vltava::metadata::scram::ScramMechanism;

const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
    user_admin=\"admin-secret\";";

fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        (
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms",
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        ),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS),
    ]
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

async fn handshake(c: &mut Client, mechanism: &str) -> i16 {
    let req = SaslHandshakeRequest::default().with_mechanism(s(mechanism));
    let ResponseKind::SaslHandshake(r) = c.call(1, RequestKind::SaslHandshake(req)).await else {
        panic!("not a SaslHandshake response")
    };
    r.error_code
}

async fn token(c: &mut Client, bytes: Vec<u8>) -> (i16, Option<String>, Vec<u8>) {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
    let ResponseKind::SaslAuthenticate(r) = c.call(2, RequestKind::SaslAuthenticate(req)).await
    else {
        panic!("not a SaslAuthenticate response")
    };
    (
        r.error_code,
        r.error_message.map(|m| m.to_string()),
        r.auth_bytes.to_vec(),
    )
}

/// An admin connection (PLAIN).
async fn admin(addr: std::net::SocketAddr) -> Client {
    let mut c = Client::connect(addr).await;
    assert_eq!(handshake(&mut c, "PLAIN").await, 0);
    let (code, _, _) = token(&mut c, b"\0admin\0admin-secret".to_vec()).await;
    assert_eq!(code, 0);
    c
}

/// The SCRAM client side (RFC 5802): `Ok(())` when the server accepted the proof and its own
/// signature checked out; `Err((code, message))` when it refused.
async fn scram_login(
    c: &mut Client,
    mechanism: ScramMechanism,
    user: &str,
    password: &str,
) -> Result<(), (i16, Option<String>)> {
    assert_eq!(handshake(c, mechanism.name()).await, 0);
    let client_nonce = "fyko+d2lbbFgONRv9qkxdawL";
    let first_bare = format!("n={user},r={client_nonce}");
    let (code, message, server_first) = token(c, format!("n,,{first_bare}").into_bytes()).await;
    if code != 0 {
        return Err((code, message));
    }
    let server_first = String::from_utf8(server_first).unwrap();
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .unwrap()
            .to_string()
    };
    let nonce = attr("r=");
    assert!(nonce.starts_with(client_nonce) && nonce.len() > client_nonce.len());
    let salt = B64.decode(attr("s=")).unwrap();
    let iterations: u32 = attr("i=").parse().unwrap();
    let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
    let client_key = mechanism.hmac(&salted, b"Client Key");
    let stored_key = mechanism.hash(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = mechanism.hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let last = format!("{without_proof},p={}", B64.encode(proof));
    let (code, message, server_final) = token(c, last.into_bytes()).await;
    if code != 0 {
        return Err((code, message));
    }
    let server_key = mechanism.hmac(&salted, b"Server Key");
    let expected = mechanism.hmac(&server_key, auth_message.as_bytes());
    assert_eq!(
        String::from_utf8(server_final).unwrap(),
        format!("v={}", B64.encode(expected)),
        "the server proves it knows the credential"
    );
    Ok(())
}

fn upsertion(
    user: &str,
    mechanism: i8,
    iterations: i32,
    password: &str,
) -> ScramCredentialUpsertion {
    let salt = b"a-salt-of-some-length".to_vec();
    let salted = ScramMechanism::from_type(mechanism).map_or(vec![1; 32], |m| {
        m.salted_password(password.as_bytes(), &salt, iterations.max(1) as u32)
    });
    ScramCredentialUpsertion::default()
        .with_name(s(user))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(Bytes::from(salt))
        .with_salted_password(Bytes::from(salted))
}

fn deletion(user: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(s(user))
        .with_mechanism(mechanism)
}

/// (user, error code, message) per result, sorted by user.
async fn alter(
    c: &mut Client,
    upsertions: Vec<ScramCredentialUpsertion>,
    deletions: Vec<ScramCredentialDeletion>,
) -> Vec<(String, i16, Option<String>)> {
    let req = AlterUserScramCredentialsRequest::default()
        .with_upsertions(upsertions)
        .with_deletions(deletions);
    let ResponseKind::AlterUserScramCredentials(r) =
        c.call(0, RequestKind::AlterUserScramCredentials(req)).await
    else {
        panic!("not an AlterUserScramCredentials response")
    };
    let mut out: Vec<_> = r
        .results
        .into_iter()
        .map(|r| {
            (
                r.user.to_string(),
                r.error_code,
                r.error_message.map(|m| m.to_string()),
            )
        })
        .collect();
    out.sort();
    out
}

/// (user, error code, [(mechanism, iterations)]) per result, sorted by user.
async fn describe(c: &mut Client, users: Option<&[&str]>) -> Vec<(String, i16, Vec<(i8, i32)>)> {
    let req = DescribeUserScramCredentialsRequest::default().with_users(users.map(|us| {
        us.iter()
            .map(|u| UserName::default().with_name(s(u)))
            .collect()
    }));
    let ResponseKind::DescribeUserScramCredentials(r) = c
        .call(0, RequestKind::DescribeUserScramCredentials(req))
        .await
    else {
        panic!("not a DescribeUserScramCredentials response")
    };
    assert_eq!(r.error_code, 0);
    let mut out: Vec<_> = r
        .results
        .into_iter()
        .map(|r| {
            let mut infos: Vec<(i8, i32)> = r
                .credential_infos
                .iter()
                .map(|i| (i.mechanism, i.iterations))
                .collect();
            infos.sort();
            (r.user.to_string(), r.error_code, infos)
        })
        .collect();
    out.sort();
    out
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

fn kafkas_refusal(mechanism: ScramMechanism) -> (i16, Option<String>) {
    (
        58,
        Some(format!(
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism {}",
            mechanism.name()
        )),
    )
}

#[tokio::test]
async fn credential_lifecycle_and_the_refusals() {
    let broker = TestBroker::start(&settings()).await;
    let mut a = admin(broker.addr).await;
    assert_eq!(
        alter(
            &mut a,
            vec![upsertion("alice", 1, 8192, "alice-pw")],
            vec![]
        )
        .await,
        vec![("alice".into(), 0, None)]
    );
    assert_eq!(
        alter(
            &mut a,
            vec![upsertion("alice", 2, 4096, "alice-512")],
            vec![]
        )
        .await,
        vec![("alice".into(), 0, None)]
    );
    assert_eq!(
        describe(&mut a, Some(&["alice"])).await,
        vec![("alice".into(), 0, vec![(1, 8192), (2, 4096)])]
    );

    // Both mechanisms log in, each with its own password.
    for (mechanism, password) in [
        (ScramMechanism::Sha256, "alice-pw"),
        (ScramMechanism::Sha512, "alice-512"),
    ] {
        let mut c = Client::connect(broker.addr).await;
        assert_eq!(
            scram_login(&mut c, mechanism, "alice", password).await,
            Ok(())
        );
        metadata_works(&mut c).await;
    }

    // Wrong password, the other mechanism's password, unknown user: the same refusal, the
    // connection closed, the admin connection still served.
    for (mechanism, user, password) in [
        (ScramMechanism::Sha256, "alice", "wrong"),
        (ScramMechanism::Sha256, "alice", "alice-512"),
        (ScramMechanism::Sha512, "mallory", "alice-512"),
    ] {
        let mut c = Client::connect(broker.addr).await;
        assert_eq!(
            scram_login(&mut c, mechanism, user, password).await,
            Err(kafkas_refusal(mechanism)),
            "{user}/{password}"
        );
        assert!(c.is_closed_by_broker().await);
        metadata_works(&mut a).await;
    }

    // Replacing a credential: the old password stops working at once.
    alter(&mut a, vec![upsertion("alice", 1, 4096, "new-pw")], vec![]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        scram_login(&mut c, ScramMechanism::Sha256, "alice", "alice-pw").await,
        Err(kafkas_refusal(ScramMechanism::Sha256))
    );
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        scram_login(&mut c, ScramMechanism::Sha256, "alice", "new-pw").await,
        Ok(())
    );

    // Deleting one mechanism, then the other: the user is gone.
    assert_eq!(
        alter(&mut a, vec![], vec![deletion("alice", 1)]).await,
        vec![("alice".into(), 0, None)]
    );
    assert_eq!(
        describe(&mut a, Some(&["alice"])).await,
        vec![("alice".into(), 0, vec![(2, 4096)])]
    );
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        scram_login(&mut c, ScramMechanism::Sha256, "alice", "new-pw").await,
        Err(kafkas_refusal(ScramMechanism::Sha256))
    );
    alter(&mut a, vec![], vec![deletion("alice", 2)]).await;
    assert_eq!(
        describe(&mut a, Some(&["alice"])).await,
        vec![("alice".into(), 91, vec![])]
    );
    assert_eq!(describe(&mut a, None).await, vec![]);
    broker.stop().await;
}

#[tokio::test]
async fn alter_and_describe_answer_as_kafka() {
    let broker = TestBroker::start(&settings()).await;
    let mut a = admin(broker.addr).await;
    let unacceptable = 93;
    let results = alter(
        &mut a,
        vec![
            upsertion("ok", 1, 4096, "pw"),
            upsertion("few", 1, 4095, "pw"),
            upsertion("many", 2, 16385, "pw"),
            upsertion("max", 2, 16384, "pw"),
            upsertion("", 1, 8192, "pw"),
            upsertion("mech", 3, 8192, "pw"),
            upsertion("twice", 1, 8192, "pw"),
            upsertion("twice", 2, 8192, "pw"),
        ],
        vec![deletion("ghost", 1), deletion("ghost2", 0)],
    )
    .await;
    let twice = "A user credential cannot be altered twice in the same request";
    assert_eq!(
        results,
        vec![
            (
                "".into(),
                unacceptable,
                Some("Username must not be empty".into())
            ),
            (
                "few".into(),
                unacceptable,
                Some("Too few iterations".into())
            ),
            (
                "ghost".into(),
                91,
                Some("Attempt to delete a user credential that does not exist".into())
            ),
            ("ghost2".into(), 33, Some("Unknown SCRAM mechanism".into())),
            (
                "many".into(),
                unacceptable,
                Some("Too many iterations".into())
            ),
            ("max".into(), 0, None),
            ("mech".into(), 33, Some("Unknown SCRAM mechanism".into())),
            ("ok".into(), 0, None),
            ("twice".into(), 92, Some(twice.into())),
        ]
    );
    // Describe: all users when null or empty; duplicates and unknown users per Kafka.
    let all = vec![
        ("max".to_string(), 0, vec![(2, 16384)]),
        ("ok".to_string(), 0, vec![(1, 4096)]),
    ];
    assert_eq!(describe(&mut a, None).await, all);
    assert_eq!(describe(&mut a, Some(&[])).await, all);
    assert_eq!(
        describe(&mut a, Some(&["ok", "nobody", "ok"])).await,
        vec![("nobody".into(), 91, vec![]), ("ok".into(), 92, vec![])]
    );
    broker.stop().await;
}

#[tokio::test]
async fn credentials_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("vltava-scram-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let broker = TestBroker::start_with(&settings(), false, Some(&dir)).await;
    let mut a = admin(broker.addr).await;
    alter(
        &mut a,
        vec![
            upsertion("carol", 2, 10000, "carol-pw"),
            upsertion("dave", 1, 4096, "dave-pw"),
        ],
        vec![],
    )
    .await;
    alter(&mut a, vec![], vec![deletion("dave", 1)]).await;
    drop(a);
    broker.stop().await;
    let journal = std::fs::read_to_string(dir.join("__cluster_metadata.journal")).unwrap();
    assert!(!journal.contains("carol-pw"), "no password on disk");

    let broker = TestBroker::start_with(&settings(), false, Some(&dir)).await;
    let mut a = admin(broker.addr).await;
    assert_eq!(
        describe(&mut a, None).await,
        vec![("carol".into(), 0, vec![(2, 10000)])]
    );
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        scram_login(&mut c, ScramMechanism::Sha512, "carol", "carol-pw").await,
        Ok(())
    );
    metadata_works(&mut c).await;
    broker.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
