//! Helpers shared by the admin API tests: thin request builders over `common::Client`.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use vltava::log::{BatchOptions, NewRecord, build_batch};

use crate::common::Client;

pub const TOPIC: i8 = 2;
pub const BROKER: i8 = 4;
pub const SET: i8 = 0;
pub const DELETE: i8 = 1;
pub const APPEND: i8 = 2;
pub const SUBTRACT: i8 = 3;

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

pub fn name(v: &str) -> TopicName {
    TopicName(s(v))
}

/// Creates a topic; returns its error code.
pub async fn create_topic(
    c: &mut Client,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1)
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(s(k))
                                .with_value(Some(s(v)))
                        })
                        .collect(),
                ),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::CreateTopics(r) = c.call(7, RequestKind::CreateTopics(req)).await else {
        panic!()
    };
    r.topics[0].error_code
}

/// A batch of keyed records (`None` key or value allowed), all with timestamp `ts`.
pub fn batch(records: &[(Option<&str>, Option<&str>)], ts: i64) -> Bytes {
    let recs: Vec<NewRecord> = records
        .iter()
        .map(|(k, v)| NewRecord {
            key: k.map(|k| k.as_bytes().to_vec()),
            value: v.map(|v| v.as_bytes().to_vec()),
            headers: vec![],
            timestamp_ms: ts,
        })
        .collect();
    Bytes::from(build_batch(&recs, &BatchOptions::default()).unwrap())
}

/// Produces one batch to a partition; returns (error code, base offset).
pub async fn produce(c: &mut Client, topic: &str, partition: i32, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records)),
                ]),
        ]);
    let ResponseKind::Produce(r) = c.call(9, RequestKind::Produce(req)).await else {
        panic!()
    };
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// One fetch from `offset`: (error code, high watermark, log start offset, records as
/// (offset, key, value)).
pub async fn fetch(
    c: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
) -> (i16, i64, i64, Vec<(i64, Option<String>, Option<String>)>) {
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(8 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(partition)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(8 << 20),
                ]),
        ]);
    let ResponseKind::Fetch(r) = c.call(11, RequestKind::Fetch(req)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    let mut out = Vec::new();
    if let Some(bytes) = &p.records {
        let mut bytes = bytes.clone();
        while !bytes.is_empty() {
            let Ok(set) = RecordBatchDecoder::decode(&mut bytes) else {
                break;
            };
            for r in set.records {
                let text = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
                out.push((r.offset, text(r.key), text(r.value)));
            }
        }
    }
    (p.error_code, p.high_watermark, p.log_start_offset, out)
}

/// Every record from the log start, as a consumer reading from the beginning sees it.
pub async fn read_all(
    c: &mut Client,
    topic: &str,
    partition: i32,
) -> Vec<(i64, Option<String>, Option<String>)> {
    let mut offset = list_offset(c, topic, partition, -2).await;
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let (code, hw, _, records) = fetch(c, topic, partition, offset).await;
        assert_eq!(code, 0, "fetch at {offset}");
        let next = records.last().map(|r| r.0 + 1);
        all.extend(records.into_iter().filter(|r| r.0 >= offset));
        match next {
            Some(n) if n < hw => offset = n,
            _ => break,
        }
    }
    all
}

/// ListOffsets for one partition (-1 latest, -2 earliest); returns the offset.
pub async fn list_offset(c: &mut Client, topic: &str, partition: i32, ts: i64) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(partition)
                        .with_timestamp(ts),
                ]),
        ]);
    let ResponseKind::ListOffsets(r) = c.call(7, RequestKind::ListOffsets(req)).await else {
        panic!()
    };
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// DescribeConfigs of one resource at `version`.
pub async fn describe_configs(
    c: &mut Client,
    version: i16,
    resource_type: i8,
    resource_name: &str,
    keys: Option<&[&str]>,
    synonyms: bool,
    docs: bool,
) -> DescribeConfigsResult {
    let req = DescribeConfigsRequest::default()
        .with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(s(resource_name))
                .with_configuration_keys(keys.map(|k| k.iter().map(|k| s(k)).collect())),
        ])
        .with_include_synonyms(synonyms)
        .with_include_documentation(docs && version >= 3);
    let ResponseKind::DescribeConfigs(mut r) =
        c.call(version, RequestKind::DescribeConfigs(req)).await
    else {
        panic!()
    };
    r.results.remove(0)
}

/// The value and source of one config of a described resource.
pub fn config_of(r: &DescribeConfigsResult, key: &str) -> (Option<String>, i8) {
    let e = r
        .configs
        .iter()
        .find(|c| c.name.as_str() == key)
        .unwrap_or_else(|| panic!("{key} not described"));
    (e.value.as_ref().map(|v| v.to_string()), e.config_source)
}

/// IncrementalAlterConfigs of one resource; returns (error code, message).
pub async fn incremental_alter(
    c: &mut Client,
    resource_type: i8,
    resource_name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    let req = IncrementalAlterConfigsRequest::default()
        .with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(s(resource_name))
                .with_configs(
                    ops.iter()
                        .map(|(k, op, v)| {
                            AlterableConfig::default()
                                .with_name(s(k))
                                .with_config_operation(*op)
                                .with_value(v.map(s))
                        })
                        .collect(),
                ),
        ])
        .with_validate_only(validate_only);
    let ResponseKind::IncrementalAlterConfigs(r) =
        c.call(1, RequestKind::IncrementalAlterConfigs(req)).await
    else {
        panic!()
    };
    let x = &r.responses[0];
    (
        x.error_code,
        x.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// Legacy AlterConfigs of one resource at `version`; returns (error code, message).
pub async fn alter_configs(
    c: &mut Client,
    version: i16,
    resource_type: i8,
    resource_name: &str,
    configs: &[(&str, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    use kafka_protocol::messages::alter_configs_request::{
        AlterConfigsResource as Resource, AlterableConfig as Config,
    };
    let req = AlterConfigsRequest::default()
        .with_resources(vec![
            Resource::default()
                .with_resource_type(resource_type)
                .with_resource_name(s(resource_name))
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| Config::default().with_name(s(k)).with_value(v.map(s)))
                        .collect(),
                ),
        ])
        .with_validate_only(validate_only);
    let ResponseKind::AlterConfigs(r) = c.call(version, RequestKind::AlterConfigs(req)).await
    else {
        panic!()
    };
    let x = &r.responses[0];
    (
        x.error_code,
        x.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// Polls `check` every 50 ms until it holds or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
