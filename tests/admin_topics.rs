//! CreatePartitions, DescribeTopicPartitions, DescribeCluster, DeleteRecords, DescribeLogDirs,
//! ElectLeaders, ListPartitionReassignments and DescribeAcls over the wire, every version, with
//! their error cases and durability across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod admin_util;
mod common;

use admin_util::*;
use common::{Client, TestBroker};
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::*;

fn grow(topic: &str, count: i32, assignments: Option<Vec<Vec<i32>>>) -> CreatePartitionsTopic {
    CreatePartitionsTopic::default()
        .with_name(name(topic))
        .with_count(count)
        .with_assignments(assignments.map(|a| {
            a.into_iter()
                .map(|b| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(b.into_iter().map(BrokerId).collect())
                })
                .collect()
        }))
}

async fn create_partitions(
    c: &mut Client,
    version: i16,
    topics: Vec<CreatePartitionsTopic>,
    validate_only: bool,
) -> Vec<(String, i16, Option<String>)> {
    let req = CreatePartitionsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(5000)
        .with_validate_only(validate_only);
    let ResponseKind::CreatePartitions(r) =
        c.call(version, RequestKind::CreatePartitions(req)).await
    else {
        panic!()
    };
    r.results
        .into_iter()
        .map(|x| {
            (
                x.name.0.to_string(),
                x.error_code,
                x.error_message.map(|m| m.to_string()),
            )
        })
        .collect()
}

async fn metadata_partitions(c: &mut Client, topic: &str) -> usize {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(topic))),
        ]))
        .with_allow_auto_topic_creation(false);
    let ResponseKind::Metadata(r) = c.call(12, RequestKind::Metadata(req)).await else {
        panic!()
    };
    r.topics[0].partitions.len()
}

#[tokio::test]
async fn create_partitions_grows_only() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create_topic(&mut c, "cp", 1, &[("retention.ms", "12345")]).await,
        0
    );
    for v in 0..=3 {
        let want = 2 + v as i32;
        let r = create_partitions(&mut c, v, vec![grow("cp", want, None)], false).await;
        assert_eq!(r, vec![("cp".to_string(), 0, None)], "v{v}");
        // Metadata sees the new count at once, and the new partition takes writes.
        assert_eq!(metadata_partitions(&mut c, "cp").await, want as usize);
        let (code, base) = produce(
            &mut c,
            "cp",
            want - 1,
            batch(&[(Some("k"), Some("v"))], vltava::broker::now_ms()),
        )
        .await;
        assert_eq!((code, base), (0, 0));
    }
    // New partitions get the topic's configs.
    let topic = broker.broker.topics.get("cp").unwrap();
    assert_eq!(topic.partitions[4].log().config().retention_ms, 12345);
    // Errors, with Kafka's messages.
    let r = create_partitions(&mut c, 3, vec![grow("cp", 5, None)], false).await;
    assert_eq!(r[0].1, 37);
    assert_eq!(r[0].2.as_deref(), Some("Topic already has 5 partition(s)."));
    let r = create_partitions(&mut c, 3, vec![grow("cp", 2, None)], false).await;
    assert_eq!(r[0].1, 37);
    assert!(
        r[0].2
            .as_deref()
            .unwrap()
            .contains("would not be an increase")
    );
    let r = create_partitions(&mut c, 3, vec![grow("nope", 2, None)], false).await;
    assert_eq!(r[0].1, 3);
    let r = create_partitions(&mut c, 3, vec![grow("cp", 8, Some(vec![vec![1]]))], false).await;
    assert_eq!(r[0].1, 39, "one assignment for three partitions");
    let r = create_partitions(
        &mut c,
        3,
        vec![grow("cp", 7, Some(vec![vec![1], vec![2]]))],
        false,
    )
    .await;
    assert_eq!(r[0].1, 39, "unknown broker");
    let r = create_partitions(&mut c, 3, vec![grow("cp", 6, Some(vec![vec![1]]))], false).await;
    assert_eq!(r[0].1, 0, "a valid manual assignment");
    // Duplicates: one INVALID_REQUEST for the name, the other topic still handled.
    assert_eq!(create_topic(&mut c, "cp2", 1, &[]).await, 0);
    let r = create_partitions(
        &mut c,
        3,
        vec![
            grow("cp", 9, None),
            grow("cp2", 2, None),
            grow("cp", 9, None),
        ],
        false,
    )
    .await;
    assert_eq!(r.len(), 2);
    assert!(r.contains(&(
        "cp".to_string(),
        42,
        Some("Duplicate topic name.".to_string())
    )));
    assert!(r.contains(&("cp2".to_string(), 0, None)));
    // validate_only changes nothing.
    let r = create_partitions(&mut c, 3, vec![grow("cp", 20, None)], true).await;
    assert_eq!(r[0].1, 0);
    assert_eq!(metadata_partitions(&mut c, "cp").await, 6);
    let r = create_partitions(&mut c, 3, vec![grow("cp", 20_000, None)], false).await;
    assert_eq!(r[0].1, 44, "POLICY_VIOLATION past 10,000 new partitions");
    broker.stop().await;
}

#[tokio::test]
async fn added_partitions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "grow", 2, &[]).await, 0);
    let r = create_partitions(&mut c, 3, vec![grow("grow", 4, None)], false).await;
    assert_eq!(r[0].1, 0);
    let (code, _) = produce(
        &mut c,
        "grow",
        3,
        batch(&[(Some("k"), Some("v3"))], vltava::broker::now_ms()),
    )
    .await;
    assert_eq!(code, 0);
    drop(c);
    broker.stop().await;
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(metadata_partitions(&mut c, "grow").await, 4);
    let records = read_all(&mut c, "grow", 3).await;
    assert_eq!(records, vec![(0, Some("k".into()), Some("v3".into()))]);
    assert!(
        dir.path()
            .join("grow-3")
            .join("partition.metadata")
            .exists()
    );
    broker.stop().await;
}

async fn dtp(
    c: &mut Client,
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> DescribeTopicPartitionsResponse {
    let req = DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| TopicRequest::default().with_name(name(t)))
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(name(t))
                .with_partition_index(p)
        }));
    let ResponseKind::DescribeTopicPartitions(r) =
        c.call(0, RequestKind::DescribeTopicPartitions(req)).await
    else {
        panic!()
    };
    r
}

/// (topic, partition) pairs in a response.
fn pairs(r: &DescribeTopicPartitionsResponse) -> Vec<(String, i32)> {
    r.topics
        .iter()
        .flat_map(|t| {
            let n = t.name.as_ref().unwrap().0.to_string();
            t.partitions
                .iter()
                .map(move |p| (n.clone(), p.partition_index))
        })
        .collect()
}

#[tokio::test]
async fn describe_topic_partitions_pages_with_a_cursor() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    // Created out of order; answers come sorted by name.
    for (t, n) in [("b", 3), ("a", 2), ("c", 1)] {
        assert_eq!(create_topic(&mut c, t, n, &[]).await, 0);
    }
    // All topics, two partitions per page: a0 a1 | b0 b1 | b2 c0.
    let mut seen = Vec::new();
    let mut cursor: Option<(String, i32)> = None;
    let mut pages = 0;
    loop {
        let r = dtp(
            &mut c,
            &[],
            2,
            cursor.as_ref().map(|(t, p)| (t.as_str(), *p)),
        )
        .await;
        pages += 1;
        assert!(pairs(&r).len() <= 2);
        for t in &r.topics {
            assert_eq!(t.error_code, 0);
            assert!(!t.topic_id.is_nil());
            assert_ne!(t.topic_authorized_operations, i32::MIN);
            for p in &t.partitions {
                assert_eq!(p.leader_id, BrokerId(1));
                assert_eq!(p.replica_nodes, vec![BrokerId(1)]);
                assert_eq!(p.isr_nodes, vec![BrokerId(1)]);
            }
        }
        seen.extend(pairs(&r));
        match r.next_cursor {
            Some(next) => cursor = Some((next.topic_name.0.to_string(), next.partition_index)),
            None => break,
        }
        assert!(pages < 10);
    }
    let want: Vec<(String, i32)> = [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("b", 2), ("c", 0)]
        .iter()
        .map(|(t, p)| (t.to_string(), *p))
        .collect();
    assert_eq!(seen, want);
    assert_eq!(pages, 3);
    // A page that ends exactly at a topic boundary points at the next topic's partition 0.
    let r = dtp(&mut c, &[], 2, None).await;
    let next = r.next_cursor.unwrap();
    assert_eq!((next.topic_name.0.as_str(), next.partition_index), ("b", 0));
    // Named topics, unknown ones, and the cursor rules.
    let r = dtp(&mut c, &["c", "zz", "a"], 100, None).await;
    let codes: Vec<(String, i16)> = r
        .topics
        .iter()
        .map(|t| (t.name.as_ref().unwrap().0.to_string(), t.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![("a".into(), 0), ("c".into(), 0), ("zz".into(), 3)]
    );
    assert!(r.next_cursor.is_none());
    let r = dtp(&mut c, &["b"], 100, Some(("b", 1))).await;
    assert_eq!(pairs(&r), vec![("b".to_string(), 1), ("b".to_string(), 2)]);
    let r = dtp(&mut c, &["a"], 100, Some(("b", 0))).await;
    assert_eq!(
        r.topics[0].error_code, 42,
        "cursor topic must be in the list"
    );
    let r = dtp(&mut c, &["b"], 100, Some(("b", -1))).await;
    assert_eq!(r.topics[0].error_code, 42, "negative cursor partition");
    let r = dtp(&mut c, &["bad name"], 100, None).await;
    assert_eq!(r.topics[0].error_code, 17);
    // CreatePartitions shows up at once.
    let r = create_partitions(&mut c, 3, vec![grow("c", 3, None)], false).await;
    assert_eq!(r[0].1, 0);
    let r = dtp(&mut c, &["c"], 100, None).await;
    assert_eq!(r.topics[0].partitions.len(), 3);
    broker.stop().await;
}

#[tokio::test]
async fn describe_cluster_every_version() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    for v in 0..=2 {
        let req =
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(v == 1);
        let ResponseKind::DescribeCluster(r) = c.call(v, RequestKind::DescribeCluster(req)).await
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0, "v{v}");
        assert_eq!(r.cluster_id.as_str(), broker.broker.cluster_id);
        assert_eq!(r.controller_id, BrokerId(1));
        assert_eq!(r.brokers.len(), 1);
        assert_eq!(r.brokers[0].broker_id, BrokerId(1));
        assert_eq!(r.brokers[0].port, i32::from(broker.addr.port()));
        if v == 1 {
            // What Kafka 4.4 grants without an authorizer: CREATE, ALTER, DESCRIBE,
            // CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE (no token ops).
            assert_eq!(r.cluster_authorized_operations, 8096);
        } else {
            assert_eq!(r.cluster_authorized_operations, i32::MIN);
        }
    }
    for (endpoint, code) in [(2, 114), (0, 115), (7, 115)] {
        let req = DescribeClusterRequest::default().with_endpoint_type(endpoint);
        let ResponseKind::DescribeCluster(r) = c.call(1, RequestKind::DescribeCluster(req)).await
        else {
            panic!()
        };
        assert_eq!(r.error_code, code, "endpoint type {endpoint}");
    }
    broker.stop().await;
}

async fn delete_records(
    c: &mut Client,
    version: i16,
    topic: &str,
    partition: i32,
    offset: i64,
) -> (i16, i64) {
    let req = DeleteRecordsRequest::default()
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    DeleteRecordsPartition::default()
                        .with_partition_index(partition)
                        .with_offset(offset),
                ]),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::DeleteRecords(r) = c.call(version, RequestKind::DeleteRecords(req)).await
    else {
        panic!()
    };
    let p = &r.topics[0].partitions[0];
    (p.error_code, p.low_watermark)
}

#[tokio::test]
async fn delete_records_moves_the_log_start_durably() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "dr", 1, &[]).await, 0);
    let now = vltava::broker::now_ms();
    for i in 0..10 {
        let v = format!("v{i}");
        let (code, _) = produce(
            &mut c,
            "dr",
            0,
            batch(&[(Some("k"), Some(v.as_str()))], now),
        )
        .await;
        assert_eq!(code, 0);
    }
    for v in 0..=2 {
        let (code, low) = delete_records(&mut c, v, "dr", 0, 3 + v as i64).await;
        assert_eq!((code, low), (0, 3 + v as i64), "v{v}");
    }
    // Never backwards.
    assert_eq!(delete_records(&mut c, 2, "dr", 0, 1).await, (0, 5));
    // Deleted records are gone for readers.
    assert_eq!(list_offset(&mut c, "dr", 0, -2).await, 5);
    let (code, _, _, _) = fetch(&mut c, "dr", 0, 2).await;
    assert_eq!(code, 1, "OFFSET_OUT_OF_RANGE below the log start");
    let first = read_all(&mut c, "dr", 0).await;
    assert_eq!(first.first().unwrap().0, 5);
    assert_eq!(first.len(), 5);
    // Errors.
    assert_eq!(
        delete_records(&mut c, 2, "dr", 0, 11).await,
        (1, -1),
        "past the high watermark"
    );
    assert_eq!(delete_records(&mut c, 2, "dr", 0, -5).await, (1, -1));
    assert_eq!(delete_records(&mut c, 2, "dr", 7, 1).await, (3, -1));
    assert_eq!(delete_records(&mut c, 2, "nope", 0, 1).await, (3, -1));
    assert_eq!(
        create_topic(&mut c, "compacted", 1, &[("cleanup.policy", "compact")]).await,
        0
    );
    assert_eq!(
        delete_records(&mut c, 2, "compacted", 0, 0).await,
        (44, -1),
        "POLICY_VIOLATION"
    );
    // -1 means the high watermark... after a restart too.
    assert_eq!(delete_records(&mut c, 2, "dr", 0, 8).await, (0, 8));
    drop(c);
    broker.stop().await;
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(list_offset(&mut c, "dr", 0, -2).await, 8);
    let records = read_all(&mut c, "dr", 0).await;
    let offsets: Vec<i64> = records.iter().map(|r| r.0).collect();
    assert_eq!(offsets, vec![8, 9]);
    assert_eq!(delete_records(&mut c, 1, "dr", 0, -1).await, (0, 10));
    assert!(read_all(&mut c, "dr", 0).await.is_empty());
    broker.stop().await;
}

#[tokio::test]
async fn describe_log_dirs_reports_sizes() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "ld", 2, &[]).await, 0);
    let (code, _) = produce(
        &mut c,
        "ld",
        1,
        batch(&[(Some("k"), Some("hello"))], vltava::broker::now_ms()),
    )
    .await;
    assert_eq!(code, 0);
    for v in 1..=4 {
        let req = DescribeLogDirsRequest::default().with_topics(None);
        let ResponseKind::DescribeLogDirs(r) = c.call(v, RequestKind::DescribeLogDirs(req)).await
        else {
            panic!()
        };
        assert_eq!(r.results.len(), 1, "v{v}");
        let dir = &r.results[0];
        assert_eq!(dir.error_code, 0);
        assert!(!dir.log_dir.is_empty());
        let t = dir
            .topics
            .iter()
            .find(|t| t.name.0.as_str() == "ld")
            .unwrap();
        let mut sizes: Vec<(i32, i64)> = t
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.partition_size))
            .collect();
        sizes.sort();
        assert_eq!(sizes[0], (0, 0));
        assert_eq!(sizes[1].0, 1);
        assert!(sizes[1].1 > 60, "one batch: {}", sizes[1].1);
    }
    // Named partitions; unknown ones are left out.
    let req = DescribeLogDirsRequest::default().with_topics(Some(vec![
        DescribableLogDirTopic::default()
            .with_topic(name("ld"))
            .with_partitions(vec![1, 9]),
        DescribableLogDirTopic::default()
            .with_topic(name("nope"))
            .with_partitions(vec![0]),
    ]));
    let ResponseKind::DescribeLogDirs(r) = c.call(4, RequestKind::DescribeLogDirs(req)).await
    else {
        panic!()
    };
    let topics = &r.results[0].topics;
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].partitions.len(), 1);
    assert_eq!(topics[0].partitions[0].partition_index, 1);
    broker.stop().await;
}

#[tokio::test]
async fn single_broker_answers_for_elections_reassignments_and_acls() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "el", 2, &[]).await, 0);
    for v in 0..=2 {
        let req = ElectLeadersRequest::default()
            .with_election_type(if v == 0 { 0 } else { 1 })
            .with_topic_partitions(Some(vec![
                TopicPartitions::default()
                    .with_topic(name("el"))
                    .with_partitions(vec![0, 5]),
                TopicPartitions::default()
                    .with_topic(name("nope"))
                    .with_partitions(vec![0]),
            ]))
            .with_timeout_ms(1000);
        let ResponseKind::ElectLeaders(r) = c.call(v, RequestKind::ElectLeaders(req)).await else {
            panic!()
        };
        let codes: Vec<Vec<i16>> = r
            .replica_election_results
            .iter()
            .map(|t| t.partition_result.iter().map(|p| p.error_code).collect())
            .collect();
        assert_eq!(codes, vec![vec![84, 3], vec![3]], "v{v}");
        // All partitions: nothing needs an election, so no partition results.
        let req = ElectLeadersRequest::default().with_topic_partitions(None);
        let ResponseKind::ElectLeaders(r) = c.call(v, RequestKind::ElectLeaders(req)).await else {
            panic!()
        };
        assert_eq!(r.replica_election_results.len(), 1);
        assert!(r.replica_election_results[0].partition_result.is_empty());
    }
    let req = ElectLeadersRequest::default().with_election_type(5);
    let ResponseKind::ElectLeaders(r) = c.call(1, RequestKind::ElectLeaders(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 42);

    for topics in [
        None,
        Some(vec![
            ListPartitionReassignmentsTopics::default()
                .with_name(name("el"))
                .with_partition_indexes(vec![0]),
        ]),
    ] {
        let req = ListPartitionReassignmentsRequest::default().with_topics(topics);
        let ResponseKind::ListPartitionReassignments(r) = c
            .call(0, RequestKind::ListPartitionReassignments(req))
            .await
        else {
            panic!()
        };
        assert_eq!((r.error_code, r.topics.len()), (0, 0));
    }

    for v in 1..=3 {
        let req = DescribeAclsRequest::default()
            .with_resource_type_filter(1)
            .with_pattern_type_filter(1)
            .with_operation(1)
            .with_permission_type(1);
        let ResponseKind::DescribeAcls(r) = c.call(v, RequestKind::DescribeAcls(req)).await else {
            panic!()
        };
        assert_eq!(r.error_code, 54, "SECURITY_DISABLED v{v}");
        assert_eq!(
            r.error_message.as_deref(),
            Some("No Authorizer is configured on the broker")
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn topic_deletion_can_be_disabled() {
    let broker = TestBroker::start(&[("delete.topic.enable", "false")]).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(create_topic(&mut c, "stay", 1, &[]).await, 0);
    for (v, code) in [(1, 42), (6, 73)] {
        let req = if v == 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                kafka_protocol::messages::delete_topics_request::DeleteTopicState::default()
                    .with_name(Some(name("stay"))),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name("stay")])
        };
        let ResponseKind::DeleteTopics(r) = c
            .call(v, RequestKind::DeleteTopics(req.with_timeout_ms(1000)))
            .await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, code, "v{v}");
    }
    assert!(broker.broker.topics.get("stay").is_some());
    broker.stop().await;
}
