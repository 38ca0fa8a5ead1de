//! Topic lifecycle through the protocol: Kafka's CreateTopics checks, Metadata's topic-list
//! semantics, auto-creation, and topic ids across delete and recreate (also across restarts).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{Client, TestBroker};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn topic(n: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(name(n))
        .with_num_partitions(partitions)
        .with_replication_factor(rf)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        )
}

async fn create(
    c: &mut Client,
    topics: Vec<CreatableTopic>,
    validate_only: bool,
) -> Vec<(String, i16)> {
    let req = CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(5000)
        .with_validate_only(validate_only);
    let ResponseKind::CreateTopics(r) = c.call(7, RequestKind::CreateTopics(req)).await else {
        panic!()
    };
    r.topics
        .iter()
        .map(|t| (t.name.0.to_string(), t.error_code))
        .collect()
}

async fn metadata(
    c: &mut Client,
    version: i16,
    topics: Option<Vec<&str>>,
    auto: bool,
) -> MetadataResponse {
    let req = MetadataRequest::default()
        .with_topics(topics.map(|ts| {
            ts.into_iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                .collect()
        }))
        .with_allow_auto_topic_creation(auto);
    let ResponseKind::Metadata(r) = c.call(version, RequestKind::Metadata(req)).await else {
        panic!()
    };
    r
}

#[tokio::test]
async fn create_topics_gives_kafkas_errors() {
    let broker = TestBroker::start(&[("num.partitions", "3")]).await;
    let mut c = Client::connect(broker.addr).await;
    let results = create(
        &mut c,
        vec![
            topic(
                "good",
                -1,
                -1,
                &[("cleanup.policy", "compact"), ("retention.ms", "1000")],
            ),
            topic("bad name!", 1, 1, &[]),
            topic("..", 1, 1, &[]),
            topic(&"x".repeat(250), 1, 1, &[]),
            topic("rf3", 1, 3, &[]),
            topic("zero-partitions", 0, 1, &[]),
            topic("too-many", 10_001, 1, &[]),
            topic("bad-config", 1, 1, &[("no.such.config", "1")]),
            topic("bad-value", 1, 1, &[("retention.ms", "soon")]),
            topic("dup", 1, 1, &[]),
            topic("dup", 1, 1, &[]),
        ],
        false,
    )
    .await;
    let codes: Vec<i16> = results.iter().map(|(_, c)| *c).collect();
    // A name given twice gets one INVALID_REQUEST result, after the others (as in Kafka 4.4).
    assert_eq!(codes, vec![0, 17, 17, 17, 38, 37, 44, 40, 40, 42]);
    assert_eq!(results.last().map(|(n, _)| n.as_str()), Some("dup"));
    let good = broker.broker.topics.get("good").expect("created");
    assert_eq!(good.partitions.len(), 3, "num.partitions default");
    assert_eq!(
        good.configs.get("cleanup.policy").map(String::as_str),
        Some("compact")
    );
    assert!(broker.broker.topics.get("dup").is_none());

    // Existing, and '.' vs '_' collision.
    let results = create(
        &mut c,
        vec![topic("good", 1, 1, &[]), topic("a.b", 1, 1, &[])],
        false,
    )
    .await;
    assert_eq!(results[0].1, 36);
    assert_eq!(results[1].1, 0);
    let results = create(&mut c, vec![topic("a_b", 1, 1, &[])], false).await;
    assert_eq!(results[0].1, 17);

    // validate_only checks but creates nothing.
    let results = create(
        &mut c,
        vec![topic("dry", 2, 1, &[]), topic("rf2", 1, 2, &[])],
        true,
    )
    .await;
    assert_eq!(
        results,
        vec![("dry".to_string(), 0), ("rf2".to_string(), 38)]
    );
    assert!(broker.broker.topics.get("dry").is_none());
    broker.stop().await;
}

/// What Kafka 4.4 answers beyond the codes: null message and the configs on success, an empty
/// config list on failure, its messages, and the checks on null configs, the metadata topic and
/// manual assignments.
#[tokio::test]
async fn create_topics_results_match_kafka_44() {
    use kafka_protocol::messages::create_topics_request::CreatableReplicaAssignment;
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let null_config = topic("nulls", 1, 1, &[]).with_configs(vec![
        CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("retention.ms"))
            .with_value(None),
    ]);
    let assigned = |n: &str, parts: &[(i32, &[i32])]| {
        topic(n, -1, -1, &[]).with_assignments(
            parts
                .iter()
                .map(|(p, brokers)| {
                    CreatableReplicaAssignment::default()
                        .with_partition_index(*p)
                        .with_broker_ids(brokers.iter().map(|b| BrokerId(*b)).collect())
                })
                .collect(),
        )
    };
    let req = CreateTopicsRequest::default()
        .with_topics(vec![
            topic("fine", 1, 1, &[]),
            null_config,
            topic("__cluster_metadata", 1, 1, &[]),
            topic("bad name", 1, 1, &[]),
            topic("rf3", 1, 3, &[]),
            topic("policy", 1, 1, &[("cleanup.policy", "compact,shred")]),
            assigned("gap", &[(0, &[1]), (2, &[1])]),
            assigned("twice", &[(0, &[1, 1])]),
            assigned("stranger", &[(0, &[7])]),
            assigned("counted", &[(0, &[1])]).with_num_partitions(1),
            assigned("assigned", &[(1, &[1]), (0, &[1])]),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::CreateTopics(r) = c.call(7, RequestKind::CreateTopics(req)).await else {
        panic!()
    };
    let get = |n: &str| {
        r.topics
            .iter()
            .find(|t| t.name.0.as_str() == n)
            .unwrap_or_else(|| panic!("{n} answered"))
    };
    let ok = get("fine");
    assert_eq!((ok.error_code, ok.error_message.as_deref()), (0, None));
    assert!(ok.configs.as_ref().is_some_and(|c| !c.is_empty()));
    let expect = |n: &str, code: i16, message: &str| {
        let t = get(n);
        assert_eq!(
            (t.error_code, t.error_message.as_deref()),
            (code, Some(message)),
            "{n}"
        );
        assert_eq!(t.configs.as_deref(), Some(&[][..]), "{n}: configs []");
        assert_eq!((t.num_partitions, t.replication_factor), (-1, -1), "{n}");
    };
    expect(
        "nulls",
        40,
        "Null value not supported for topic configs: retention.ms",
    );
    expect(
        "__cluster_metadata",
        42,
        "Creation of internal topic __cluster_metadata is prohibited.",
    );
    expect(
        "bad name",
        17,
        "Topic name is invalid: 'bad name' contains one or more characters other than ASCII \
         alphanumerics, '.', '_' and '-'",
    );
    expect(
        "rf3",
        38,
        "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot \
         be reached because only 1 broker(s) are registered or some brokers have all their log \
         directories cordoned.",
    );
    expect(
        "policy",
        40,
        "Invalid value shred for configuration cleanup.policy: String must be one of: compact, \
         delete",
    );
    expect(
        "gap",
        39,
        "partitions should be a consecutive 0-based integer sequence",
    );
    expect(
        "twice",
        39,
        "The manual partition assignment includes the broker 1 more than once.",
    );
    expect(
        "stranger",
        39,
        "The manual partition assignment includes broker 7, but no such broker is registered.",
    );
    expect(
        "counted",
        42,
        "A manual partition assignment was specified, but numPartitions was not set to -1.",
    );
    let assigned = get("assigned");
    assert_eq!((assigned.error_code, assigned.num_partitions), (0, 2));
    assert!(broker.broker.topics.get("nulls").is_none());
    assert!(broker.broker.topics.get("__cluster_metadata").is_none());
    broker.stop().await;
}

#[tokio::test]
async fn metadata_topic_list_semantics_and_auto_creation() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, vec![topic("one", 2, 1, &[])], false).await;

    // null = all, [] = none (v1+); v0's [] = all.
    assert_eq!(metadata(&mut c, 12, None, false).await.topics.len(), 1);
    assert_eq!(
        metadata(&mut c, 12, Some(vec![]), false).await.topics.len(),
        0
    );
    assert_eq!(
        metadata(&mut c, 0, Some(vec![]), true).await.topics.len(),
        1
    );

    // allow_auto_topic_creation=false leaves unknown topics unknown.
    let r = metadata(&mut c, 12, Some(vec!["fresh"]), false).await;
    assert_eq!(r.topics[0].error_code, 3);
    assert!(broker.broker.topics.get("fresh").is_none());
    // true creates them (with num.partitions) and describes them at once.
    let r = metadata(&mut c, 12, Some(vec!["fresh", "bad name"]), true).await;
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].partitions.len(), 1);
    assert_eq!(
        r.topics[1].error_code, 17,
        "invalid names are INVALID_TOPIC_EXCEPTION"
    );
    // v3 and below always allow auto-creation.
    let r = metadata(&mut c, 3, Some(vec!["old-client"]), true).await;
    assert_eq!(r.topics[0].error_code, 0);
    broker.stop().await;
}

#[tokio::test]
async fn auto_create_can_be_disabled() {
    let broker = TestBroker::start(&[("auto.create.topics.enable", "false")]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = metadata(&mut c, 3, Some(vec!["nope"]), true).await;
    assert_eq!(r.topics[0].error_code, 3);
    broker.stop().await;
}

#[tokio::test]
async fn topic_ids_are_stable_and_change_on_recreate_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    create(
        &mut c,
        vec![topic("keep", 2, 1, &[("segment.ms", "60000")])],
        false,
    )
    .await;
    let id = metadata(&mut c, 12, Some(vec!["keep"]), false).await.topics[0].topic_id;
    let cluster = broker.broker.cluster_id.clone();
    broker.stop().await;

    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    let r = metadata(&mut c, 12, Some(vec!["keep"]), false).await;
    assert_eq!(r.topics[0].topic_id, id, "same id after restart");
    assert_eq!(r.topics[0].partitions.len(), 2);
    assert_eq!(
        broker.broker.cluster_id, cluster,
        "cluster id kept in meta.properties"
    );
    assert_eq!(
        broker
            .broker
            .topics
            .get("keep")
            .unwrap()
            .configs
            .get("segment.ms")
            .map(String::as_str),
        Some("60000")
    );
    let req = DeleteTopicsRequest::default().with_topic_names(vec![name("keep")]);
    let ResponseKind::DeleteTopics(d) = c.call(5, RequestKind::DeleteTopics(req)).await else {
        panic!()
    };
    assert_eq!(d.responses[0].error_code, 0);
    create(&mut c, vec![topic("keep", 1, 1, &[])], false).await;
    let new_id = metadata(&mut c, 12, Some(vec!["keep"]), false).await.topics[0].topic_id;
    assert_ne!(new_id, id, "recreated topic gets a new id");
    broker.stop().await;

    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    let r = metadata(&mut c, 12, Some(vec!["keep"]), false).await;
    assert_eq!(r.topics[0].topic_id, new_id);
    assert_eq!(r.topics[0].partitions.len(), 1);
    broker.stop().await;
}
