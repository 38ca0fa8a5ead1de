//! Every supported version of every API, driven with kafka-protocol's client encoders and
//! checked on the data that comes back. Catches fields a version cannot carry, wrong header
//! versions and version-gated behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use bytes::Bytes;
use common::{Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use vltava::log::{BatchOptions, NewRecord, build_batch};

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn batch(values: &[&str]) -> Bytes {
    let records: Vec<NewRecord> = values
        .iter()
        .enumerate()
        .map(|(i, v)| NewRecord {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(v.as_bytes().to_vec()),
            headers: vec![(b"h".to_vec(), Some(b"x".to_vec()))],
            timestamp_ms: 1_700_000_000_000 + i as i64,
        })
        .collect();
    Bytes::from(build_batch(&records, &BatchOptions::default()).unwrap())
}

async fn create(
    c: &mut Client,
    version: i16,
    topic: &str,
    partitions: i32,
) -> CreateTopicsResponse {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1),
        ])
        .with_timeout_ms(5000);
    match c.call(version, RequestKind::CreateTopics(req)).await {
        ResponseKind::CreateTopics(r) => r,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_version_of_every_api_answers_correctly() {
    let broker = TestBroker::start(&[("auto.create.topics.enable", "false")]).await;
    let mut c = Client::connect(broker.addr).await;

    // ApiVersions 0-4.
    for v in 0..=4 {
        let req = if v >= 3 {
            common::api_versions_request()
        } else {
            ApiVersionsRequest::default()
        };
        let ResponseKind::ApiVersions(r) = c.call(v, RequestKind::ApiVersions(req)).await else {
            panic!()
        };
        assert_eq!(r.error_code, 0, "v{v}");
        let produce = r
            .api_keys
            .iter()
            .find(|k| k.api_key == 0)
            .expect("produce advertised");
        assert_eq!((produce.min_version, produce.max_version), (0, 12));
    }

    // CreateTopics 2-7: one topic per version.
    let mut ids = Vec::new();
    for v in 2..=7 {
        let topic = format!("matrix-{v}");
        let r = create(&mut c, v, &topic, 2).await;
        assert_eq!(r.topics.len(), 1);
        let t = &r.topics[0];
        assert_eq!(t.error_code, 0, "v{v}: {:?}", t.error_message);
        if v >= 5 {
            assert_eq!(t.num_partitions, 2);
            assert_eq!(t.replication_factor, 1);
            let configs = t.configs.as_ref().expect("configs from v5");
            assert!(configs.iter().any(
                |c| c.name.as_str() == "cleanup.policy" && c.value.as_deref() == Some("delete")
            ));
        }
        if v >= 7 {
            assert!(!t.topic_id.is_nil());
        }
        // Creating it again fails the Kafka way.
        let again = create(&mut c, v, &topic, 2).await;
        assert_eq!(again.topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS v{v}");
        ids.push((
            topic,
            broker.broker.topics.get(&format!("matrix-{v}")).unwrap().id,
        ));
    }

    // Metadata 0-13.
    for v in 0..=13 {
        let topics = if v == 0 {
            Some(vec![
                MetadataRequestTopic::default().with_name(Some(name("matrix-2"))),
            ])
        } else {
            Some(vec![
                MetadataRequestTopic::default().with_name(Some(name("matrix-2"))),
                MetadataRequestTopic::default().with_name(Some(name("nope"))),
            ])
        };
        let req = MetadataRequest::default()
            .with_topics(topics)
            .with_allow_auto_topic_creation(true);
        let ResponseKind::Metadata(r) = c.call(v, RequestKind::Metadata(req)).await else {
            panic!()
        };
        assert_eq!(r.brokers.len(), 1, "v{v}");
        assert_eq!(r.brokers[0].port, i32::from(broker.addr.port()));
        let t = &r.topics[0];
        assert_eq!(t.error_code, 0);
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(t.partitions[0].leader_id.0, 1);
        if v >= 10 {
            assert_eq!(t.topic_id, ids[0].1);
        }
        if v >= 1 {
            // auto-creation is off: the unknown topic stays unknown
            assert_eq!(r.topics[1].error_code, 3, "v{v}");
            assert_eq!(r.controller_id.0, 1);
        }
        if v >= 2 {
            assert_eq!(
                r.cluster_id.as_deref(),
                Some(broker.broker.cluster_id.as_str())
            );
        }
        if v >= 8 {
            assert_eq!(t.topic_authorized_operations, i32::MIN);
        }
    }

    // Produce 3-12: each version appends one batch of 3 records to partition 1 of matrix-3.
    let mut expected_offset = 0;
    for v in 3..=12 {
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name("matrix-3"))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(1)
                            .with_records(Some(batch(&["a", "b", "c"]))),
                        PartitionProduceData::default()
                            .with_index(9)
                            .with_records(Some(batch(&["x"]))),
                    ]),
            ]);
        let ResponseKind::Produce(r) = c.call(v, RequestKind::Produce(req)).await else {
            panic!()
        };
        let parts = &r.responses[0].partition_responses;
        assert_eq!(parts[0].error_code, 0, "v{v}");
        assert_eq!(parts[0].base_offset, expected_offset, "v{v}");
        assert_eq!(parts[1].error_code, 3, "unknown partition v{v}");
        if v >= 5 {
            assert_eq!(parts[0].log_start_offset, 0);
        }
        expected_offset += 3;
    }

    // Fetch 4-18: read everything back from offset 4 (inside the second batch).
    let topic_id = broker.broker.topics.get("matrix-3").unwrap().id;
    for v in 4..=18 {
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name("matrix-3"))
                    .with_topic_id(topic_id)
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(1)
                            .with_fetch_offset(4)
                            .with_partition_max_bytes(1 << 20),
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(5)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ]);
        let ResponseKind::Fetch(r) = c.call(v, RequestKind::Fetch(req)).await else {
            panic!()
        };
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "v{v}");
        assert_eq!(p.high_watermark, expected_offset);
        let mut records = p.records.clone().expect("records never null");
        let batches = RecordBatchDecoder::decode_all(&mut records).unwrap();
        // The whole batch holding offset 4 comes back (offsets 3..5), then the rest.
        let offsets: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| r.offset))
            .collect();
        assert_eq!(offsets.first(), Some(&3), "v{v}");
        assert_eq!(offsets.last(), Some(&(expected_offset - 1)));
        let values: Vec<Bytes> = batches[0]
            .records
            .iter()
            .map(|r| r.value.clone().unwrap())
            .collect();
        assert_eq!(
            values,
            vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")]
        );
        let empty = &r.responses[0].partitions[1];
        assert_eq!(
            empty.error_code, 1,
            "offset 5 on an empty partition is out of range, v{v}"
        );
        assert_eq!(
            empty.records.as_ref().map(|r| r.len()),
            Some(0),
            "empty, not null"
        );
    }

    // ListOffsets 1-10.
    for v in 1..=10 {
        let mut partitions = vec![
            ListOffsetsPartition::default()
                .with_partition_index(1)
                .with_timestamp(-1),
        ];
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(name("matrix-3"))
                    .with_partitions({
                        partitions.push(
                            ListOffsetsPartition::default()
                                .with_partition_index(0)
                                .with_timestamp(-2),
                        );
                        partitions
                    }),
            ]);
        let ResponseKind::ListOffsets(r) = c.call(v, RequestKind::ListOffsets(req)).await else {
            panic!()
        };
        let p = &r.topics[0].partitions;
        assert_eq!((p[0].error_code, p[0].offset), (0, expected_offset), "v{v}");
        assert_eq!((p[1].error_code, p[1].offset), (0, 0), "v{v}");
        // By timestamp: the second record of each batch has timestamp base+1.
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(name("matrix-3"))
                    .with_partitions(vec![
                        ListOffsetsPartition::default()
                            .with_partition_index(1)
                            .with_timestamp(1_700_000_000_001),
                    ]),
            ]);
        let ResponseKind::ListOffsets(r) = c.call(v, RequestKind::ListOffsets(req)).await else {
            panic!()
        };
        assert_eq!(r.topics[0].partitions[0].offset, 1, "v{v}");
        assert_eq!(r.topics[0].partitions[0].timestamp, 1_700_000_000_001);
    }

    // InitProducerId 0-5: fresh ids, epoch 0.
    let mut seen = std::collections::HashSet::new();
    for v in 0..=5 {
        let req = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let ResponseKind::InitProducerId(r) = c.call(v, RequestKind::InitProducerId(req)).await
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        assert_eq!(r.producer_epoch, 0);
        assert!(r.producer_id.0 >= 0 && seen.insert(r.producer_id.0), "v{v}");
    }

    // DeleteTopics 1-6 (v6 by id).
    for v in 1..=6 {
        let (topic, id) = &ids[(v - 1) as usize];
        let req = if v >= 6 {
            DeleteTopicsRequest::default()
                .with_topics(vec![DeleteTopicState::default().with_topic_id(*id)])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![name(topic)])
        }
        .with_timeout_ms(5000);
        let ResponseKind::DeleteTopics(r) = c.call(v, RequestKind::DeleteTopics(req.clone())).await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, 0, "v{v}");
        assert!(broker.broker.topics.get(topic).is_none());
        let ResponseKind::DeleteTopics(r) = c.call(v, RequestKind::DeleteTopics(req)).await else {
            panic!()
        };
        let expected = if v >= 6 { 100 } else { 3 };
        assert_eq!(r.responses[0].error_code, expected, "second delete v{v}");
    }
    broker.stop().await;
}
