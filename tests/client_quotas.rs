//! Client quotas over the wire: AlterClientQuotas and DescribeClientQuotas (Kafka's checks and
//! messages, `validate_only`, match types, `strict`), durability across a restart, and the
//! throttling of a producer and a consumer over their byte rates (throttle times computed from
//! the request sizes, the connection muted for them — checked on tokio's paused clock).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{Client, TestBroker, batch, create, fetch_request, produce_request};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// An entry: entity parts (type, name or None for the default) and ops (key, value or None
/// to remove).
fn entry(entity: &[(&str, Option<&str>)], ops: &[(&str, Option<f64>)]) -> EntryData {
    EntryData::default()
        .with_entity(
            entity
                .iter()
                .map(|(t, n)| {
                    EntityData::default()
                        .with_entity_type(s(t))
                        .with_entity_name(n.map(s))
                })
                .collect(),
        )
        .with_ops(
            ops.iter()
                .map(|(k, v)| {
                    OpData::default()
                        .with_key(s(k))
                        .with_value(v.unwrap_or(0.0))
                        .with_remove(v.is_none())
                })
                .collect(),
        )
}

/// (error code, message) per entry of the response.
async fn alter(
    c: &mut Client,
    version: i16,
    entries: Vec<EntryData>,
    validate_only: bool,
) -> Vec<(i16, Option<String>)> {
    let request = AlterClientQuotasRequest::default()
        .with_entries(entries)
        .with_validate_only(validate_only);
    let ResponseKind::AlterClientQuotas(r) = c
        .call(version, RequestKind::AlterClientQuotas(request))
        .await
    else {
        panic!()
    };
    r.entries
        .iter()
        .map(|e| {
            (
                e.error_code,
                e.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect()
}

type Described = Vec<(Vec<(String, Option<String>)>, Vec<(String, f64)>)>;

async fn describe(
    c: &mut Client,
    version: i16,
    components: &[(&str, i8, Option<&str>)],
    strict: bool,
) -> Result<Described, (i16, String)> {
    let request = DescribeClientQuotasRequest::default()
        .with_components(
            components
                .iter()
                .map(|(t, m, n)| {
                    ComponentData::default()
                        .with_entity_type(s(t))
                        .with_match_type(*m)
                        .with_match(n.map(s))
                })
                .collect(),
        )
        .with_strict(strict);
    let ResponseKind::DescribeClientQuotas(r) = c
        .call(version, RequestKind::DescribeClientQuotas(request))
        .await
    else {
        panic!()
    };
    if r.error_code != 0 {
        assert!(r.entries.is_none());
        return Err((r.error_code, r.error_message.unwrap().to_string()));
    }
    let mut out: Described = r
        .entries
        .unwrap()
        .iter()
        .map(|e| {
            let mut entity: Vec<_> = e
                .entity
                .iter()
                .map(|p| {
                    (
                        p.entity_type.to_string(),
                        p.entity_name.as_ref().map(|n| n.to_string()),
                    )
                })
                .collect();
            entity.sort();
            let mut values: Vec<_> = e
                .values
                .iter()
                .map(|v| (v.key.to_string(), v.value))
                .collect();
            values.sort_by(|a, b| a.0.cmp(&b.0));
            (entity, values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn ent(parts: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    parts
        .iter()
        .map(|(t, n)| (t.to_string(), n.map(String::from)))
        .collect()
}

fn vals(v: &[(&str, f64)]) -> Vec<(String, f64)> {
    v.iter().map(|(k, x)| (k.to_string(), *x)).collect()
}

const INVALID_REQUEST: i16 = 42;
const UNSUPPORTED_VERSION: i16 = 35;
const EXACT: i8 = 0;
const DEFAULT: i8 = 1;
const SPECIFIED: i8 = 2;

#[tokio::test]
async fn alter_and_describe_like_kafka() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    for version in 0..=1 {
        let user_client = [("user", Some("alice")), ("client-id", Some("c1"))];
        let r = alter(
            &mut c,
            version,
            vec![
                entry(
                    &[("client-id", Some("c1"))],
                    &[
                        ("producer_byte_rate", Some(1024.0)),
                        ("consumer_byte_rate", Some(2048.0)),
                    ],
                ),
                entry(
                    &[("client-id", None)],
                    &[("request_percentage", Some(12.5))],
                ),
                entry(&user_client, &[("producer_byte_rate", Some(4096.0))]),
                entry(
                    &[("user", None)],
                    &[("controller_mutation_rate", Some(5.0))],
                ),
            ],
            false,
        )
        .await;
        assert_eq!(r, vec![(0, None); 4], "v{version}");

        let all = describe(&mut c, version, &[], false).await.unwrap();
        assert_eq!(
            all,
            vec![
                (
                    ent(&[("client-id", None)]),
                    vals(&[("request_percentage", 12.5)])
                ),
                (
                    ent(&[("client-id", Some("c1"))]),
                    vals(&[
                        ("consumer_byte_rate", 2048.0),
                        ("producer_byte_rate", 1024.0)
                    ])
                ),
                (
                    ent(&[("client-id", Some("c1")), ("user", Some("alice"))]),
                    vals(&[("producer_byte_rate", 4096.0)])
                ),
                (
                    ent(&[("user", None)]),
                    vals(&[("controller_mutation_rate", 5.0)])
                ),
            ]
        );
        // Match types and strict.
        let c1 = describe(&mut c, version, &[("client-id", EXACT, Some("c1"))], false)
            .await
            .unwrap();
        assert_eq!(c1.len(), 2);
        let c1 = describe(&mut c, version, &[("client-id", EXACT, Some("c1"))], true)
            .await
            .unwrap();
        assert_eq!(c1.len(), 1);
        let d = describe(&mut c, version, &[("client-id", DEFAULT, None)], false)
            .await
            .unwrap();
        assert_eq!(d[0].0, ent(&[("client-id", None)]));
        let any_user = describe(&mut c, version, &[("user", SPECIFIED, None)], false)
            .await
            .unwrap();
        assert_eq!(any_user.len(), 2);
        assert!(
            describe(&mut c, version, &[], true)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            describe(&mut c, version, &[("ip", SPECIFIED, None)], false)
                .await
                .unwrap()
                .is_empty()
        );
        // Filter errors.
        assert_eq!(
            describe(&mut c, version, &[("group", SPECIFIED, None)], false).await,
            Err((UNSUPPORTED_VERSION, "Unsupported entity type group".into()))
        );
        assert_eq!(
            describe(&mut c, version, &[("user", EXACT, None)], false).await,
            Err((
                INVALID_REQUEST,
                "Request specified MATCH_TYPE_EXACT, but set match string to null.".into()
            ))
        );

        // Removing everything (a key that is not set is a success that changes nothing).
        let r = alter(
            &mut c,
            version,
            vec![
                entry(
                    &[("client-id", Some("c1"))],
                    &[
                        ("producer_byte_rate", None),
                        ("consumer_byte_rate", None),
                        ("request_percentage", None),
                    ],
                ),
                entry(&[("client-id", None)], &[("request_percentage", None)]),
                entry(&user_client, &[("producer_byte_rate", None)]),
                entry(&[("user", None)], &[("controller_mutation_rate", None)]),
            ],
            false,
        )
        .await;
        assert_eq!(r, vec![(0, None); 4]);
        assert!(
            describe(&mut c, version, &[], false)
                .await
                .unwrap()
                .is_empty()
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn alterations_are_refused_with_kafkas_errors() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let cases: Vec<(EntryData, &str)> = vec![
        (
            entry(&[], &[("producer_byte_rate", Some(1.0))]),
            "Invalid empty client quota entity",
        ),
        (
            entry(
                &[("group", Some("g"))],
                &[("producer_byte_rate", Some(1.0))],
            ),
            "Unhandled client quota entity type: group",
        ),
        (
            entry(&[("user", Some(""))], &[("producer_byte_rate", Some(1.0))]),
            "Empty user not supported",
        ),
        (
            entry(&[("user", Some("u1"))], &[("unknown_key", Some(1.0))]),
            "Invalid configuration key unknown_key",
        ),
        (
            entry(
                &[("user", Some("u2"))],
                &[("consumer_byte_rate", Some(0.0))],
            ),
            "Quota consumer_byte_rate must be greater than 0",
        ),
        (
            entry(
                &[("user", Some("u3"))],
                &[("producer_byte_rate", Some(10.5))],
            ),
            "producer_byte_rate cannot be a fractional value.",
        ),
        (
            entry(
                &[("user", Some("u4"))],
                &[
                    ("producer_byte_rate", Some(1.0)),
                    ("producer_byte_rate", Some(2.0)),
                ],
            ),
            "Ignoring duplicate entity ClientQuotaEntity(entries={user=u4})",
        ),
        (
            entry(
                &[("ip", Some("1.2.3.4")), ("user", Some("u5"))],
                &[("connection_creation_rate", Some(1.0))],
            ),
            "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId",
        ),
    ];
    for (e, message) in cases {
        let r = alter(&mut c, 1, vec![e], false).await;
        assert_eq!(r, vec![(INVALID_REQUEST, Some(message.to_string()))]);
    }
    // A refused entry does not stop the others; validate_only changes nothing.
    let r = alter(
        &mut c,
        1,
        vec![
            entry(
                &[("client-id", Some("ok"))],
                &[("producer_byte_rate", Some(1.0))],
            ),
            entry(&[("client-id", Some("bad"))], &[("nope", Some(1.0))]),
        ],
        true,
    )
    .await;
    assert_eq!(r[0], (0, None));
    assert_eq!(r[1].0, INVALID_REQUEST);
    assert!(describe(&mut c, 1, &[], false).await.unwrap().is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn quotas_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("vltava-quotas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = TestBroker::start_with(&[], false, Some(&dir)).await;
    let mut c = Client::connect(broker.addr).await;
    let r = alter(
        &mut c,
        1,
        vec![
            entry(
                &[("user", Some("alice"))],
                &[("producer_byte_rate", Some(1024.0))],
            ),
            entry(
                &[("client-id", None)],
                &[("consumer_byte_rate", Some(2048.0))],
            ),
        ],
        false,
    )
    .await;
    assert_eq!(r, vec![(0, None); 2]);
    alter(
        &mut c,
        1,
        vec![entry(
            &[("user", Some("alice"))],
            &[("producer_byte_rate", Some(512.0))],
        )],
        false,
    )
    .await;
    drop(c);
    broker.broker.close();
    broker.stop().await;

    let broker = TestBroker::start_with(&[], false, Some(&dir)).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        describe(&mut c, 1, &[], false).await.unwrap(),
        vec![
            (
                ent(&[("client-id", None)]),
                vals(&[("consumer_byte_rate", 2048.0)])
            ),
            (
                ent(&[("user", Some("alice"))]),
                vals(&[("producer_byte_rate", 512.0)])
            ),
        ]
    );
    broker.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kafka's throttle for a first request of `bytes` against `quota` B/s with the default window
/// (11 samples of 1 s; a new sensor is measured over 10 s): (bytes/10 − quota) / quota × 10 s.
fn expected_throttle_ms(bytes: usize, quota: f64) -> i32 {
    ((bytes as f64 / 10.0 - quota) / quota * 10_000.0).round() as i32
}

/// The size of a request frame as the broker counts it (without the 4-byte length).
fn frame_len(api: ApiKey, version: i16, request: &RequestKind) -> usize {
    use kafka_protocol::protocol::Encodable;
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_client_id(Some(StrBytes::from_static_str("vltava-test")));
    let mut buf = bytes::BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    request.encode(&mut buf, version).unwrap();
    buf.len()
}

/// A producer over `producer_byte_rate` gets Kafka's throttle time in its response, and the
/// broker reads nothing more from it until that time has passed (on the paused clock, the
/// next response comes exactly when the mute ends). Another client is not affected.
#[tokio::test(start_paused = true)]
async fn a_producer_over_its_quota_is_throttled_and_muted() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "q", &[]).await;
    let quota = 1024.0;
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("client-id", Some("vltava-test"))],
            &[("producer_byte_rate", Some(quota))],
        )],
        false,
    )
    .await;
    assert_eq!(r, vec![(0, None)]);
    // The test client's id is "vltava-test": 20 KiB in one request is twice the quota over
    // the 10-second window.
    let value = "x".repeat(20 * 1024);
    let request = produce_request("q", -1, batch(&[value.as_str()], None));
    let bytes = frame_len(ApiKey::Produce, 9, &request);
    let ResponseKind::Produce(r) = c.call(9, request).await else {
        panic!()
    };
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let throttle = expected_throttle_ms(bytes, quota);
    assert!(throttle > 9_000, "{throttle}");
    assert_eq!(r.throttle_time_ms, throttle);

    // Muted: the next request is read only once the throttle time has passed.
    let sent = tokio::time::Instant::now();
    let ResponseKind::Metadata(_) = c
        .call(12, RequestKind::Metadata(MetadataRequest::default()))
        .await
    else {
        panic!()
    };
    let waited = sent.elapsed().as_millis() as i64;
    assert!(
        waited >= i64::from(throttle) - 2,
        "answered after {waited} ms of a {throttle} ms throttle"
    );

    broker.stop().await;
}

/// A consumer over `consumer_byte_rate` gets an empty, throttled response (its bytes are not
/// counted), as Kafka answers.
#[tokio::test(start_paused = true)]
async fn a_consumer_over_its_quota_gets_an_empty_throttled_fetch() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "f", &[]).await;
    let value = "y".repeat(30 * 1024);
    let ResponseKind::Produce(p) = c
        .call(9, produce_request("f", -1, batch(&[value.as_str()], None)))
        .await
    else {
        panic!()
    };
    assert_eq!(p.responses[0].partition_responses[0].error_code, 0);
    let r = alter(
        &mut c,
        1,
        vec![entry(
            &[("client-id", Some("vltava-test"))],
            &[("consumer_byte_rate", Some(1024.0))],
        )],
        false,
    )
    .await;
    assert_eq!(r, vec![(0, None)]);
    // The quota allows (samples − 1) × 1 s × 1024 = 10 KiB per fetch, but the first batch is
    // returned whole (KIP-74): over quota, so the answer is empty and throttled.
    let ResponseKind::Fetch(f) = c.call(12, fetch_request("f", 0, 0)).await else {
        panic!()
    };
    assert!(f.throttle_time_ms > 0, "{}", f.throttle_time_ms);
    assert!(f.responses.is_empty());
    broker.stop().await;
}
