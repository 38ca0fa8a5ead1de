//! DescribeConfigs, IncrementalAlterConfigs and AlterConfigs over the wire: Kafka's values,
//! sources, synonyms, types and documentation; every error case; changes reaching live
//! partitions; dynamic broker configs; durability across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod admin_util;
mod common;

use admin_util::*;
use common::{Client, TestBroker};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;

const DYNAMIC_TOPIC: i8 = 1;
const DYNAMIC_BROKER: i8 = 2;
const DYNAMIC_DEFAULT: i8 = 3;
const STATIC: i8 = 4;
const DEFAULT: i8 = 5;

#[tokio::test]
async fn describe_topic_configs_every_version() {
    let broker = TestBroker::start(&[("log.retention.hours", "48")]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create_topic(
            &mut c,
            "dc",
            1,
            &[("cleanup.policy", "compact"), ("retention.ms", "1000")]
        )
        .await,
        0
    );
    let all = vltava::config::topic::TOPIC_CONFIGS.len();
    for v in 1..=4 {
        let r = describe_configs(&mut c, v, TOPIC, "dc", None, true, true).await;
        assert_eq!(r.error_code, 0, "v{v}");
        assert_eq!(r.configs.len(), all, "v{v}: every topic config");
        assert_eq!(
            config_of(&r, "cleanup.policy"),
            (Some("compact".into()), DYNAMIC_TOPIC)
        );
        assert_eq!(
            config_of(&r, "retention.ms"),
            (Some("1000".into()), DYNAMIC_TOPIC)
        );
        assert_eq!(
            config_of(&r, "segment.bytes"),
            (Some("1073741824".into()), DEFAULT)
        );
        assert_eq!(
            config_of(&r, "max.message.bytes"),
            (Some("1048588".into()), DEFAULT)
        );
        let retention = r
            .configs
            .iter()
            .find(|e| e.name.as_str() == "retention.ms")
            .unwrap();
        // The topic's own value first, then the broker's (static log.retention.hours is a
        // synonym Kafka drops before log.retention.ms).
        assert_eq!(retention.synonyms.len(), 1);
        assert_eq!(retention.synonyms[0].source, DYNAMIC_TOPIC);
        let seg = r
            .configs
            .iter()
            .find(|e| e.name.as_str() == "segment.bytes")
            .unwrap();
        assert_eq!(seg.synonyms[0].name.as_str(), "log.segment.bytes");
        assert!(!seg.read_only && !seg.is_sensitive);
        if v >= 3 {
            assert_eq!(seg.config_type, 3, "INT");
            assert!(seg.documentation.as_deref().is_some_and(|d| !d.is_empty()));
            let policy = r
                .configs
                .iter()
                .find(|e| e.name.as_str() == "cleanup.policy")
                .unwrap();
            assert_eq!(policy.config_type, 7, "LIST");
        } else {
            assert_eq!(seg.config_type, 0, "no type before v3");
        }
    }
    // Inherited from the broker: retention.ms of a topic without an override.
    assert_eq!(create_topic(&mut c, "plain", 1, &[]).await, 0);
    let r = describe_configs(&mut c, 4, TOPIC, "plain", None, false, false).await;
    assert_eq!(
        config_of(&r, "retention.ms").0.as_deref(),
        Some("172800000")
    );
    assert!(
        r.configs.iter().all(|e| e.synonyms.is_empty()),
        "no synonyms unless asked"
    );
    assert!(
        r.configs.iter().all(|e| e.documentation.is_none()),
        "no docs unless asked"
    );
    // configuration_keys filters.
    let r = describe_configs(
        &mut c,
        4,
        TOPIC,
        "plain",
        Some(&["retention.ms", "nope"]),
        false,
        false,
    )
    .await;
    assert_eq!(r.configs.len(), 1);
    // Errors.
    let r = describe_configs(&mut c, 4, TOPIC, "missing", None, false, false).await;
    assert_eq!(r.error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    let r = describe_configs(&mut c, 4, TOPIC, "bad name!", None, false, false).await;
    assert_eq!(r.error_code, 17, "INVALID_TOPIC_EXCEPTION");
    let r = describe_configs(&mut c, 4, 99, "x", None, false, false).await;
    assert_eq!(r.error_code, 42, "INVALID_REQUEST");
    broker.stop().await;
}

#[tokio::test]
async fn describe_broker_configs() {
    let broker = TestBroker::start(&[("log.retention.hours", "48"), ("num.partitions", "2")]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = describe_configs(&mut c, 4, BROKER, "1", None, true, true).await;
    assert_eq!(r.error_code, 0);
    assert!(r.configs.len() > 200, "{} broker configs", r.configs.len());
    assert_eq!(
        config_of(&r, "log.retention.hours"),
        (Some("48".into()), STATIC)
    );
    assert_eq!(config_of(&r, "num.partitions"), (Some("2".into()), STATIC));
    assert_eq!(
        config_of(&r, "log.segment.bytes"),
        (Some("1073741824".into()), DEFAULT)
    );
    assert_eq!(config_of(&r, "log.retention.ms"), (None, DEFAULT));
    // Vltava's own default, not Kafka's GSSAPI (which it does not have).
    assert_eq!(
        config_of(&r, "sasl.enabled.mechanisms"),
        (Some("PLAIN".into()), DEFAULT)
    );
    let get = |n: &str| r.configs.iter().find(|e| e.name.as_str() == n).unwrap();
    assert!(get("log.retention.hours").read_only);
    assert!(!get("log.retention.ms").read_only);
    assert!(get("listeners").read_only);
    let pw = get("ssl.keystore.password");
    assert!(pw.is_sensitive && pw.value.is_none());
    assert_eq!(pw.config_type, 9, "PASSWORD");
    // Cluster defaults: none set yet.
    let r = describe_configs(&mut c, 4, BROKER, "", None, true, false).await;
    assert_eq!((r.error_code, r.configs.len()), (0, 0));
    // Other brokers, non-numbers.
    let r = describe_configs(&mut c, 4, BROKER, "2", None, false, false).await;
    assert_eq!(r.error_code, 42);
    assert!(
        r.error_message
            .as_deref()
            .unwrap()
            .contains("Unexpected broker id")
    );
    let r = describe_configs(&mut c, 4, BROKER, "one", None, false, false).await;
    assert_eq!(r.error_code, 42);
    // Broker loggers.
    let r = describe_configs(&mut c, 4, 8, "1", None, false, false).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(config_of(&r, "root").0.as_deref(), Some("INFO"));
    broker.stop().await;
}

#[tokio::test]
async fn incremental_alter_topic_configs() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "ia", 2, &[]).await, 0);
    // SET and APPEND.
    let (code, msg) = incremental_alter(
        &mut c,
        TOPIC,
        "ia",
        &[
            ("retention.ms", SET, Some("5000")),
            ("cleanup.policy", APPEND, Some("compact")),
        ],
        false,
    )
    .await;
    assert_eq!((code, msg), (0, None));
    let r = describe_configs(&mut c, 4, TOPIC, "ia", None, false, false).await;
    assert_eq!(
        config_of(&r, "retention.ms"),
        (Some("5000".into()), DYNAMIC_TOPIC)
    );
    assert_eq!(
        config_of(&r, "cleanup.policy"),
        (Some("delete,compact".into()), DYNAMIC_TOPIC)
    );
    // The live partitions follow at once.
    let topic = broker.broker.topics.get("ia").unwrap();
    for p in &topic.partitions {
        let cfg = p.log().config().clone();
        assert_eq!(cfg.retention_ms, 5000);
        assert!(cfg.cleanup_compact && cfg.cleanup_delete);
    }
    // SUBTRACT and DELETE.
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "ia",
        &[
            ("cleanup.policy", SUBTRACT, Some("delete")),
            ("retention.ms", DELETE, None),
        ],
        false,
    )
    .await;
    assert_eq!(code, 0);
    let r = describe_configs(&mut c, 4, TOPIC, "ia", None, false, false).await;
    assert_eq!(
        config_of(&r, "cleanup.policy").0.as_deref(),
        Some("compact")
    );
    assert_eq!(
        config_of(&r, "retention.ms"),
        (Some("604800000".into()), DEFAULT)
    );
    assert!(!topic.partitions[0].log().config().cleanup_delete);

    // validate_only changes nothing.
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "ia",
        &[("retention.ms", SET, Some("7"))],
        true,
    )
    .await;
    assert_eq!(code, 0);
    let r = describe_configs(
        &mut c,
        4,
        TOPIC,
        "ia",
        Some(&["retention.ms"]),
        false,
        false,
    )
    .await;
    assert_eq!(
        config_of(&r, "retention.ms").0.as_deref(),
        Some("604800000")
    );

    // Errors, Kafka's codes.
    type Ops<'a> = &'a [(&'a str, i8, Option<&'a str>)];
    let cases: &[(Ops, i16, &str)] = &[
        (
            &[("retention.ms", SET, Some("soon"))],
            40,
            "Invalid value soon",
        ),
        (&[("retention.ms", SET, Some("-7"))], 40, "at least -1"),
        (
            &[("no.such.config", SET, Some("1"))],
            40,
            "Unknown topic config name",
        ),
        (&[("retention.ms", APPEND, Some("1"))], 40, "not LIST"),
        (
            &[("cleanup.policy", SET, Some("shred"))],
            40,
            "cleanup.policy",
        ),
        (
            &[("retention.ms", SET, None)],
            42,
            "Null value not supported",
        ),
        (
            &[
                ("retention.ms", SET, Some("1")),
                ("retention.ms", DELETE, None),
            ],
            42,
            "duplicate config keys",
        ),
        (
            &[("retention.ms", 9, Some("1"))],
            42,
            "Unknown operations type",
        ),
        (
            &[
                ("min.compaction.lag.ms", SET, Some("10")),
                ("max.compaction.lag.ms", SET, Some("5")),
            ],
            40,
            "conflict",
        ),
    ];
    for (ops, code, text) in cases {
        let (got, msg) = incremental_alter(&mut c, TOPIC, "ia", ops, false).await;
        assert_eq!(got, *code, "{ops:?}: {msg:?}");
        assert!(
            msg.as_deref().unwrap_or("").contains(text),
            "{ops:?}: {msg:?}"
        );
    }
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "missing",
        &[("retention.ms", SET, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 3);
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "",
        &[("retention.ms", SET, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 42);
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "bad/name",
        &[("retention.ms", SET, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 17);
    // Unchanged after all the failures.
    let r = describe_configs(
        &mut c,
        4,
        TOPIC,
        "ia",
        Some(&["retention.ms"]),
        false,
        false,
    )
    .await;
    assert_eq!(
        config_of(&r, "retention.ms").0.as_deref(),
        Some("604800000")
    );

    // The same resource twice: both refused.
    let res = |v: &str| {
        AlterConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(s("ia"))
            .with_configs(vec![
                AlterableConfig::default()
                    .with_name(s("retention.ms"))
                    .with_config_operation(SET)
                    .with_value(Some(s(v))),
            ])
    };
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![res("1"), res("2")]);
    let ResponseKind::IncrementalAlterConfigs(r) =
        c.call(0, RequestKind::IncrementalAlterConfigs(req)).await
    else {
        panic!()
    };
    assert_eq!(r.responses.len(), 2);
    assert!(r.responses.iter().all(|x| x.error_code == 42));
    broker.stop().await;
}

#[tokio::test]
async fn legacy_alter_configs_replaces_the_whole_set() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create_topic(
            &mut c,
            "la",
            1,
            &[("retention.ms", "1000"), ("segment.ms", "2000")]
        )
        .await,
        0
    );
    for v in 0..=2 {
        let (code, msg) = alter_configs(
            &mut c,
            v,
            TOPIC,
            "la",
            &[("retention.bytes", Some("12345"))],
            false,
        )
        .await;
        assert_eq!((code, msg), (0, None), "v{v}");
        let r = describe_configs(&mut c, 4, TOPIC, "la", None, false, false).await;
        assert_eq!(
            config_of(&r, "retention.bytes"),
            (Some("12345".into()), DYNAMIC_TOPIC)
        );
        // Keys not named are gone.
        assert_eq!(config_of(&r, "retention.ms").1, DEFAULT);
        assert_eq!(config_of(&r, "segment.ms").1, DEFAULT);
    }
    assert_eq!(
        broker.broker.topics.get("la").unwrap().partitions[0]
            .log()
            .config()
            .retention_bytes,
        12345
    );
    let (code, _) =
        alter_configs(&mut c, 1, TOPIC, "la", &[("retention.bytes", None)], false).await;
    assert_eq!(code, 42, "null values are refused");
    let (code, _) = alter_configs(&mut c, 1, TOPIC, "la", &[("bogus", Some("1"))], false).await;
    assert_eq!(code, 40);
    let (code, _) = alter_configs(
        &mut c,
        1,
        TOPIC,
        "nope",
        &[("retention.ms", Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 3);
    let (code, _) = alter_configs(&mut c, 1, 8, "1", &[("root", Some("DEBUG"))], false).await;
    assert_eq!(code, 42, "loggers are not alterable through the legacy API");
    broker.stop().await;
}

#[tokio::test]
async fn dynamic_broker_configs_layer_over_static_ones() {
    let broker = TestBroker::start(&[("log.retention.ms", "100000")]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "dyn", 1, &[]).await, 0);
    let part = broker.broker.topics.get("dyn").unwrap().partitions[0].clone();
    assert_eq!(part.log().config().retention_ms, 100000);

    // Cluster-wide default.
    let (code, msg) = incremental_alter(
        &mut c,
        BROKER,
        "",
        &[("log.retention.ms", SET, Some("200000"))],
        false,
    )
    .await;
    assert_eq!((code, msg), (0, None));
    assert_eq!(
        part.log().config().retention_ms,
        200000,
        "live partitions follow"
    );
    let r = describe_configs(
        &mut c,
        4,
        TOPIC,
        "dyn",
        Some(&["retention.ms"]),
        true,
        false,
    )
    .await;
    assert_eq!(
        config_of(&r, "retention.ms"),
        (Some("200000".into()), DYNAMIC_DEFAULT)
    );
    // Kafka's order: by source, and log.retention.hours' default after log.retention.ms.
    let synonyms: Vec<(String, i8)> = r.configs[0]
        .synonyms
        .iter()
        .map(|s| (s.name.to_string(), s.source))
        .collect();
    assert_eq!(
        synonyms,
        vec![
            ("log.retention.ms".to_string(), DYNAMIC_DEFAULT),
            ("log.retention.ms".to_string(), STATIC),
            ("log.retention.hours".to_string(), DEFAULT)
        ]
    );
    let r = describe_configs(&mut c, 4, BROKER, "", None, false, false).await;
    assert_eq!(r.configs.len(), 1);
    assert_eq!(
        config_of(&r, "log.retention.ms"),
        (Some("200000".into()), DYNAMIC_DEFAULT)
    );

    // Per-broker wins over the default.
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "1",
        &[("log.retention.ms", SET, Some("300000"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(part.log().config().retention_ms, 300000);
    let r = describe_configs(
        &mut c,
        4,
        BROKER,
        "1",
        Some(&["log.retention.ms"]),
        true,
        false,
    )
    .await;
    assert_eq!(
        config_of(&r, "log.retention.ms"),
        (Some("300000".into()), DYNAMIC_BROKER)
    );
    let sources: Vec<i8> = r.configs[0].synonyms.iter().map(|s| s.source).collect();
    assert_eq!(
        sources,
        vec![DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT]
    );

    // A topic override still wins.
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "dyn",
        &[("retention.ms", SET, Some("7"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(part.log().config().retention_ms, 7);

    // Errors: read-only, per-broker-only at cluster level, other brokers, bad values.
    let (code, msg) = incremental_alter(
        &mut c,
        BROKER,
        "1",
        &[("log.retention.hours", SET, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 42);
    assert!(
        msg.unwrap()
            .contains("Cannot update these configs dynamically")
    );
    let (code, msg) = incremental_alter(
        &mut c,
        BROKER,
        "",
        &[("ssl.keystore.type", SET, Some("PKCS12"))],
        false,
    )
    .await;
    assert_eq!(code, 42);
    assert!(msg.unwrap().contains("broker id must be specified"));
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "7",
        &[("log.retention.ms", SET, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 42);
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "",
        &[("log.retention.ms", SET, Some("x"))],
        false,
    )
    .await;
    assert_eq!(code, 42);
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "",
        &[("log.cleanup.policy", APPEND, Some("compact"))],
        false,
    )
    .await;
    assert_eq!(code, 0, "APPEND works on LIST broker configs");
    let r = describe_configs(&mut c, 4, BROKER, "", None, false, false).await;
    assert_eq!(
        config_of(&r, "log.cleanup.policy").0.as_deref(),
        Some("delete,compact")
    );
    // DELETE removes the dynamic value again.
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "1",
        &[("log.retention.ms", DELETE, None)],
        false,
    )
    .await;
    assert_eq!(code, 0);
    let r = describe_configs(
        &mut c,
        4,
        BROKER,
        "1",
        Some(&["log.retention.ms"]),
        false,
        false,
    )
    .await;
    assert_eq!(
        config_of(&r, "log.retention.ms"),
        (Some("200000".into()), DYNAMIC_DEFAULT)
    );
    broker.stop().await;
}

#[tokio::test]
async fn config_changes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create_topic(&mut c, "keep", 1, &[("segment.ms", "60000")]).await,
        0
    );
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "keep",
        &[
            ("cleanup.policy", SET, Some("compact")),
            ("segment.ms", DELETE, None),
        ],
        false,
    )
    .await;
    assert_eq!(code, 0);
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "",
        &[("log.retention.bytes", SET, Some("1048576"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    let (code, _) = incremental_alter(
        &mut c,
        BROKER,
        "1",
        &[("message.max.bytes", SET, Some("5000"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    drop(c);
    broker.stop().await;

    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    let r = describe_configs(&mut c, 4, TOPIC, "keep", None, false, false).await;
    assert_eq!(
        config_of(&r, "cleanup.policy"),
        (Some("compact".into()), DYNAMIC_TOPIC)
    );
    assert_eq!(config_of(&r, "segment.ms").1, DEFAULT);
    assert_eq!(
        config_of(&r, "retention.bytes"),
        (Some("1048576".into()), DYNAMIC_DEFAULT)
    );
    assert_eq!(
        config_of(&r, "max.message.bytes"),
        (Some("5000".into()), DYNAMIC_BROKER)
    );
    let cfg = broker.broker.topics.get("keep").unwrap().partitions[0]
        .log()
        .config()
        .clone();
    assert!(cfg.cleanup_compact && !cfg.cleanup_delete);
    assert_eq!(cfg.retention_bytes, 1_048_576);
    assert_eq!(cfg.max_message_bytes, 5000);
    // And a new topic picks the dynamic defaults up too.
    assert_eq!(create_topic(&mut c, "fresh", 1, &[]).await, 0);
    let fresh = broker.broker.topics.get("fresh").unwrap();
    assert_eq!(fresh.partitions[0].log().config().max_message_bytes, 5000);
    broker.stop().await;
}

#[tokio::test]
async fn several_resources_in_one_describe() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "m1", 1, &[]).await, 0);
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(s("m1")),
        DescribeConfigsResource::default()
            .with_resource_type(TOPIC)
            .with_resource_name(s("m2")),
        DescribeConfigsResource::default()
            .with_resource_type(BROKER)
            .with_resource_name(s("1"))
            .with_configuration_keys(Some(vec![s("num.partitions")])),
    ]);
    let ResponseKind::DescribeConfigs(r) = c.call(2, RequestKind::DescribeConfigs(req)).await
    else {
        panic!()
    };
    let codes: Vec<i16> = r.results.iter().map(|x| x.error_code).collect();
    assert_eq!(codes, vec![0, 3, 0]);
    // Kafka 4.4 writes "" (not null) in DescribeConfigs results, on success and when it has no
    // more to say about an error.
    let messages: Vec<Option<&str>> = r
        .results
        .iter()
        .map(|x| x.error_message.as_deref())
        .collect();
    assert_eq!(messages, vec![Some(""), Some(""), Some("")]);
    assert_eq!(r.results[2].configs.len(), 1);
    broker.stop().await;
}
