//! The command-line chores: each function runs one command against a broker and writes what a
//! user reads to `out` (progress and summaries go to stderr, so `out` stays pipeable).
//!
//! Request versions are ones both Vltava and Apache Kafka 4.x serve (Metadata 12, CreateTopics
//! 7, DeleteTopics 6, Produce 9, Fetch 12, ListOffsets 7, DescribeConfigs 4, ListGroups 4,
//! DescribeGroups 5, OffsetFetch 8, ConsumerProtocolAssignment 0–3).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest, GroupId, ListGroupsRequest,
    ListOffsetsRequest, MetadataRequest, OffsetFetchRequest, ProduceRequest, RequestKind,
    ResponseKind, TopicName,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::{Client, ClientError, whole_batches};

/// Records per Produce request from `vltava produce`.
const PRODUCE_BATCH_RECORDS: usize = 1000;
/// How often a Produce refused with a retriable error is sent (100 ms apart).
const PRODUCE_ATTEMPTS: u32 = 30;
/// The most bytes one Fetch asks for.
const FETCH_MAX_BYTES: i32 = 8 << 20;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn error_text(code: i16, message: Option<&StrBytes>) -> String {
    let name = ResponseError::try_from_code(code)
        .map(|e| format!("{e:?}"))
        .unwrap_or_else(|| format!("error {code}"));
    match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
        Some(m) => format!("{name}: {m}"),
        None => name,
    }
}

fn unexpected(api: ApiKey) -> ClientError {
    ClientError::Decode(format!("an answer that is not a {api:?} response"))
}

/// A topic as Metadata describes it: partition → leader.
struct TopicInfo {
    internal: bool,
    partitions: BTreeMap<i32, i32>,
}

/// Metadata for `topics` (None: every topic). A topic the broker does not know is an error.
async fn metadata(
    client: &mut Client,
    topics: Option<&[String]>,
) -> Result<BTreeMap<String, TopicInfo>, ClientError> {
    let request = MetadataRequest::default()
        .with_topics(topics.map(|t| {
            t.iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(name(n))))
                .collect()
        }))
        .with_allow_auto_topic_creation(false);
    // A topic created a moment ago may have no leader yet (LEADER_NOT_AVAILABLE on a Kafka
    // broker still applying the controller's record): ask again for up to two seconds.
    let mut attempts = 0;
    let response = loop {
        let ResponseKind::Metadata(response) = client
            .call(ApiKey::Metadata, 12, RequestKind::Metadata(request.clone()))
            .await?
        else {
            return Err(unexpected(ApiKey::Metadata));
        };
        let settling = response.topics.iter().any(|t| {
            t.error_code == ResponseError::LeaderNotAvailable.code()
                || t.partitions.iter().any(|p| p.leader_id.0 < 0)
        });
        attempts += 1;
        if !settling || attempts >= 20 {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let mut out = BTreeMap::new();
    for t in response.topics {
        let topic = t.name.map(|n| n.0.to_string()).unwrap_or_default();
        if t.error_code != 0 {
            return Err(ClientError::Broker(format!(
                "{topic}: {}",
                error_text(t.error_code, None)
            )));
        }
        let partitions = t
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.leader_id.0))
            .collect();
        out.insert(
            topic,
            TopicInfo {
                internal: t.is_internal,
                partitions,
            },
        );
    }
    Ok(out)
}

/// `vltava topic create`.
pub async fn topic_create(
    client: &mut Client,
    topic: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(String, String)],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(replication_factor)
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.clone()))
                                .with_value(Some(StrBytes::from_string(v.clone())))
                        })
                        .collect(),
                ),
        ]);
    let ResponseKind::CreateTopics(response) = client
        .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(request))
        .await?
    else {
        return Err(unexpected(ApiKey::CreateTopics));
    };
    for t in &response.topics {
        if t.error_code != 0 {
            return Err(ClientError::Broker(format!(
                "{}: {}",
                t.name.0,
                error_text(t.error_code, t.error_message.as_ref())
            )));
        }
        writeln!(
            out,
            "created {} ({} partitions)",
            t.name.0, t.num_partitions
        )?;
    }
    Ok(())
}

/// `vltava topic list`.
pub async fn topic_list(client: &mut Client, out: &mut impl Write) -> Result<(), ClientError> {
    let topics = metadata(client, None).await?;
    writeln!(out, "{:<40} {:>10}  INTERNAL", "NAME", "PARTITIONS")?;
    for (topic, info) in topics {
        writeln!(
            out,
            "{topic:<40} {:>10}  {}",
            info.partitions.len(),
            if info.internal { "yes" } else { "no" }
        )?;
    }
    Ok(())
}

/// ListOffsets at `timestamp` (-2 earliest, -1 latest) for these partitions of one topic.
async fn offsets(
    client: &mut Client,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
) -> Result<BTreeMap<i32, i64>, ClientError> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(*p)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                ),
        ]);
    let ResponseKind::ListOffsets(response) = client
        .call(ApiKey::ListOffsets, 7, RequestKind::ListOffsets(request))
        .await?
    else {
        return Err(unexpected(ApiKey::ListOffsets));
    };
    let mut out = BTreeMap::new();
    for t in response.topics {
        for p in t.partitions {
            if p.error_code != 0 {
                return Err(ClientError::Broker(format!(
                    "{topic}-{}: {}",
                    p.partition_index,
                    error_text(p.error_code, None)
                )));
            }
            out.insert(p.partition_index, p.offset);
        }
    }
    Ok(out)
}

/// `vltava topic describe`: partitions with leaders and offsets, then the configs that are
/// not defaults.
pub async fn topic_describe(
    client: &mut Client,
    topic: &str,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let topics = metadata(client, Some(&[topic.to_string()])).await?;
    let info = topics
        .get(topic)
        .ok_or_else(|| ClientError::Broker(format!("{topic}: no such topic")))?;
    let partitions: Vec<i32> = info.partitions.keys().copied().collect();
    let start = offsets(client, topic, &partitions, -2).await?;
    let end = offsets(client, topic, &partitions, -1).await?;
    writeln!(out, "topic {topic}, {} partitions", partitions.len())?;
    writeln!(
        out,
        "{:>9} {:>7} {:>14} {:>14} {:>10}",
        "PARTITION", "LEADER", "START-OFFSET", "END-OFFSET", "RECORDS"
    )?;
    for (p, leader) in &info.partitions {
        let (s, e) = (start.get(p).copied(), end.get(p).copied());
        let count = match (s, e) {
            (Some(s), Some(e)) => (e - s).to_string(),
            _ => "?".into(),
        };
        let show = |o: Option<i64>| o.map(|o| o.to_string()).unwrap_or_else(|| "?".into());
        writeln!(
            out,
            "{p:>9} {leader:>7} {:>14} {:>14} {count:>10}",
            show(s),
            show(e)
        )?;
    }
    let request = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(topic.to_string())),
    ]);
    let ResponseKind::DescribeConfigs(response) = client
        .call(
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(request),
        )
        .await?
    else {
        return Err(unexpected(ApiKey::DescribeConfigs));
    };
    let overrides: Vec<String> = response
        .results
        .iter()
        .flat_map(|r| r.configs.iter())
        .filter(|c| c.config_source == 1) // TOPIC_CONFIG: set on this topic
        .map(|c| {
            let value = c.value.as_ref().map(|v| v.as_str()).unwrap_or("(hidden)");
            format!("{}={value}", c.name)
        })
        .collect();
    if overrides.is_empty() {
        writeln!(out, "configs: all defaults")?;
    } else {
        writeln!(out, "configs: {}", overrides.join(", "))?;
    }
    Ok(())
}

/// `vltava topic delete`.
pub async fn topic_delete(
    client: &mut Client,
    topics: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(
            topics
                .iter()
                .map(|t| DeleteTopicState::default().with_name(Some(name(t))))
                .collect(),
        );
    let ResponseKind::DeleteTopics(response) = client
        .call(ApiKey::DeleteTopics, 6, RequestKind::DeleteTopics(request))
        .await?
    else {
        return Err(unexpected(ApiKey::DeleteTopics));
    };
    let mut failed = Vec::new();
    for r in &response.responses {
        let topic = r.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
        if r.error_code == 0 {
            writeln!(out, "deleted {topic}")?;
        } else {
            failed.push(format!(
                "{topic}: {}",
                error_text(r.error_code, r.error_message.as_ref())
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ClientError::Broker(failed.join("; ")))
    }
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`), so keyed records land on the partition
/// Kafka's own producers choose: `(murmur2(key) & 0x7fffffff) % partitions`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `vltava produce`: one record per input line (`key<separator>value` when a separator is
/// given), acks=all, sent in requests of up to 1000 records. Keyed records go to Kafka's
/// default partition for their key, keyless ones to `partition` or round-robin per request.
/// Returns the number of records produced.
pub async fn produce(
    client: &mut Client,
    topic: &str,
    key_separator: Option<&str>,
    partition: Option<i32>,
    input: &mut impl BufRead,
    progress: &mut impl Write,
) -> Result<u64, ClientError> {
    let topics = metadata(client, Some(&[topic.to_string()])).await?;
    let count = topics
        .get(topic)
        .map(|t| t.partitions.len() as i32)
        .filter(|c| *c > 0)
        .ok_or_else(|| ClientError::Broker(format!("{topic}: no such topic")))?;
    let mut produced = 0u64;
    let mut round_robin = 0i32;
    let mut pending: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    let mut pending_records = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        let done = input.read_line(&mut line)? == 0;
        if !done {
            let text = line.strip_suffix('\n').unwrap_or(&line);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let (key, value) = match key_separator.and_then(|s| text.split_once(s)) {
                Some((k, v)) => (Some(Bytes::copy_from_slice(k.as_bytes())), v),
                None => (None, text),
            };
            let target = match (partition, &key) {
                (Some(p), _) => p,
                (None, Some(k)) => (murmur2(k) & 0x7fff_ffff) % count,
                (None, None) => round_robin,
            };
            pending.entry(target).or_default().push(Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: 0,
                sequence: -1,
                timestamp: now_ms(),
                key,
                value: Some(Bytes::copy_from_slice(value.as_bytes())),
                headers: IndexMap::new(),
            });
            pending_records += 1;
        }
        if pending_records >= PRODUCE_BATCH_RECORDS || (done && pending_records > 0) {
            produced += send_batches(client, topic, std::mem::take(&mut pending)).await?;
            pending_records = 0;
            round_robin = (round_robin + 1) % count;
            if produced % 100_000 < PRODUCE_BATCH_RECORDS as u64 && produced >= 100_000 {
                writeln!(progress, "… {produced} records")?;
            }
        }
        if done {
            return Ok(produced);
        }
    }
}

/// One Produce request carrying a batch per partition; the count of records acknowledged.
async fn send_batches(
    client: &mut Client,
    topic: &str,
    batches: BTreeMap<i32, Vec<Record>>,
) -> Result<u64, ClientError> {
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    let mut partition_data = Vec::new();
    let mut sent = 0u64;
    for (partition, mut records) in batches {
        // kafka-protocol starts a new batch where `offset - sequence` changes, and derives
        // the batch's base sequence from the first record: sequence = offset - 1 keeps one
        // batch with base sequence -1 (no producer id, as the batch says).
        for (i, r) in records.iter_mut().enumerate() {
            r.offset = i as i64;
            r.sequence = i as i32 - 1;
        }
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(&mut buf, &records, &options)
            .map_err(|e| ClientError::Encode(e.to_string()))?;
        sent += records.len() as u64;
        partition_data.push(
            PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(buf.freeze())),
        );
    }
    // Partitions refused with a retriable error (a leader still being elected, a topic still
    // being created) are sent again, alone, a few times; nothing acknowledged is resent.
    let mut attempts = 0;
    while !partition_data.is_empty() {
        attempts += 1;
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(partition_data.clone()),
            ]);
        let ResponseKind::Produce(response) = client
            .call(ApiKey::Produce, 9, RequestKind::Produce(request))
            .await?
        else {
            return Err(unexpected(ApiKey::Produce));
        };
        let mut retry = Vec::new();
        for p in response
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
        {
            if p.error_code == 0 {
                continue;
            }
            let retriable =
                ResponseError::try_from_code(p.error_code).is_some_and(|e| e.is_retriable());
            if !retriable || attempts >= PRODUCE_ATTEMPTS {
                return Err(ClientError::Broker(format!(
                    "{topic}-{}: {}",
                    p.index,
                    error_text(p.error_code, p.error_message.as_ref())
                )));
            }
            retry.push(p.index);
        }
        partition_data.retain(|d| retry.contains(&d.index));
        if !partition_data.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(sent)
}

/// Where `vltava consume` starts in each partition.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    Beginning,
    End,
    Offset(i64),
}

/// `vltava consume`: prints each record with `format` (`%k` key, `%v` value, `%p` partition,
/// `%o` offset, `%t` timestamp, `%T` topic, `\n`, `\t`) from `start` in the chosen partitions
/// (all by default), until each partition's end as it was at the start — or, with `follow`, until
/// `max_records` are printed (forever without a limit). Control records are skipped.
#[allow(clippy::too_many_arguments)]
pub async fn consume(
    client: &mut Client,
    topic: &str,
    partitions: Option<&[i32]>,
    start: Start,
    max_records: Option<u64>,
    follow: bool,
    format: &str,
    out: &mut impl Write,
) -> Result<u64, ClientError> {
    let topics = metadata(client, Some(&[topic.to_string()])).await?;
    let all: Vec<i32> = topics
        .get(topic)
        .map(|t| t.partitions.keys().copied().collect())
        .unwrap_or_default();
    let chosen: Vec<i32> = match partitions {
        Some(p) => p.to_vec(),
        None => all,
    };
    let earliest = offsets(client, topic, &chosen, -2).await?;
    let latest = offsets(client, topic, &chosen, -1).await?;
    let mut position: BTreeMap<i32, i64> = chosen
        .iter()
        .map(|p| {
            let first = earliest.get(p).copied().unwrap_or(0);
            let last = latest.get(p).copied().unwrap_or(0);
            let at = match start {
                Start::Beginning => first,
                Start::End => last,
                Start::Offset(o) => o.clamp(first, last),
            };
            (*p, at)
        })
        .collect();
    let mut printed = 0u64;
    loop {
        let waiting: Vec<i32> = position
            .iter()
            .filter(|(p, at)| follow || **at < latest.get(p).copied().unwrap_or(0))
            .map(|(p, _)| *p)
            .collect();
        if waiting.is_empty() || max_records.is_some_and(|m| printed >= m) {
            return Ok(printed);
        }
        let request = FetchRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_max_wait_ms(if follow { 1000 } else { 100 })
            .with_min_bytes(1)
            .with_max_bytes(FETCH_MAX_BYTES)
            .with_session_epoch(-1)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name(topic))
                    .with_partitions(
                        waiting
                            .iter()
                            .map(|p| {
                                FetchPartition::default()
                                    .with_partition(*p)
                                    .with_fetch_offset(position.get(p).copied().unwrap_or(0))
                                    .with_partition_max_bytes(FETCH_MAX_BYTES / 2)
                            })
                            .collect(),
                    ),
            ]);
        let ResponseKind::Fetch(response) = client
            .call(ApiKey::Fetch, 12, RequestKind::Fetch(request))
            .await?
        else {
            return Err(unexpected(ApiKey::Fetch));
        };
        for t in &response.responses {
            for p in &t.partitions {
                if p.error_code != 0 {
                    return Err(ClientError::Broker(format!(
                        "{topic}-{}: {}",
                        p.partition_index,
                        error_text(p.error_code, None)
                    )));
                }
                let Some(records) = &p.records else { continue };
                let mut whole = whole_batches(records);
                let sets = RecordBatchDecoder::decode_all(&mut whole)
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                for record in sets.iter().flat_map(|s| s.records.iter()) {
                    let at = position.entry(p.partition_index).or_insert(0);
                    if record.offset < *at {
                        continue; // a batch can start before the fetch offset
                    }
                    *at = record.offset + 1;
                    if record.control {
                        continue;
                    }
                    if max_records.is_some_and(|m| printed >= m) {
                        return Ok(printed);
                    }
                    out.write_all(&render(format, topic, p.partition_index, record))?;
                    printed += 1;
                }
            }
        }
        out.flush()?;
    }
}

fn render(format: &str, topic: &str, partition: i32, record: &Record) -> Vec<u8> {
    let mut line = Vec::with_capacity(format.len() + 64);
    let mut utf8 = [0u8; 4];
    let mut chars = format.chars();
    let mut push_char =
        |line: &mut Vec<u8>, c: char| line.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('k') => line.extend_from_slice(record.key.as_deref().unwrap_or_default()),
                Some('v') => line.extend_from_slice(record.value.as_deref().unwrap_or_default()),
                Some('p') => line.extend_from_slice(partition.to_string().as_bytes()),
                Some('o') => line.extend_from_slice(record.offset.to_string().as_bytes()),
                Some('t') => line.extend_from_slice(record.timestamp.to_string().as_bytes()),
                Some('T') => line.extend_from_slice(topic.as_bytes()),
                Some(other) => {
                    line.push(b'%');
                    push_char(&mut line, other);
                }
                None => line.push(b'%'),
            },
            '\\' => match chars.next() {
                Some('n') => line.push(b'\n'),
                Some('t') => line.push(b'\t'),
                Some(other) => {
                    line.push(b'\\');
                    push_char(&mut line, other);
                }
                None => line.push(b'\\'),
            },
            c => push_char(&mut line, c),
        }
    }
    line
}

/// `vltava group list`.
pub async fn group_list(client: &mut Client, out: &mut impl Write) -> Result<(), ClientError> {
    let ResponseKind::ListGroups(response) = client
        .call(
            ApiKey::ListGroups,
            4,
            RequestKind::ListGroups(ListGroupsRequest::default()),
        )
        .await?
    else {
        return Err(unexpected(ApiKey::ListGroups));
    };
    if response.error_code != 0 {
        return Err(ClientError::Broker(error_text(response.error_code, None)));
    }
    writeln!(out, "{:<40} {:<20} PROTOCOL-TYPE", "GROUP", "STATE")?;
    let mut groups: Vec<_> = response.groups.iter().collect();
    groups.sort_by(|a, b| a.group_id.0.cmp(&b.group_id.0));
    for g in groups {
        writeln!(
            out,
            "{:<40} {:<20} {}",
            g.group_id.0, g.group_state, g.protocol_type
        )?;
    }
    Ok(())
}

/// `vltava group describe`: state and members, then each committed partition with its lag.
pub async fn group_describe(
    client: &mut Client,
    group: &str,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let group_id = GroupId(StrBytes::from_string(group.to_string()));
    let request = DescribeGroupsRequest::default().with_groups(vec![group_id.clone()]);
    let ResponseKind::DescribeGroups(response) = client
        .call(
            ApiKey::DescribeGroups,
            5,
            RequestKind::DescribeGroups(request),
        )
        .await?
    else {
        return Err(unexpected(ApiKey::DescribeGroups));
    };
    let Some(described) = response.groups.first() else {
        return Err(ClientError::Decode("no group in the answer".into()));
    };
    if described.error_code != 0 {
        return Err(ClientError::Broker(format!(
            "{group}: {}",
            error_text(described.error_code, described.error_message.as_ref())
        )));
    }
    writeln!(
        out,
        "group {group}: {}, {} members",
        described.group_state,
        described.members.len()
    )?;
    // Which member owns which partition, from the consumer protocol's assignment.
    let mut owners: BTreeMap<(String, i32), String> = BTreeMap::new();
    for m in &described.members {
        let mut assignment = m.member_assignment.clone();
        if assignment.len() < 2 {
            continue;
        }
        let version = i16::from_be_bytes([assignment[0], assignment[1]]);
        let _ = bytes::Buf::get_i16(&mut assignment);
        if let Ok(a) = ConsumerProtocolAssignment::decode(&mut assignment, version.clamp(0, 3)) {
            for t in a.assigned_partitions {
                for p in t.partitions {
                    owners.insert(
                        (t.topic.0.to_string(), p),
                        format!("{} ({}{})", m.member_id, m.client_id, m.client_host),
                    );
                }
            }
        }
    }
    let request = OffsetFetchRequest::default()
        .with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(group_id)
                .with_topics(None),
        ])
        .with_require_stable(true);
    let ResponseKind::OffsetFetch(response) = client
        .call(ApiKey::OffsetFetch, 8, RequestKind::OffsetFetch(request))
        .await?
    else {
        return Err(unexpected(ApiKey::OffsetFetch));
    };
    let mut committed: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    for g in &response.groups {
        if g.error_code != 0 {
            return Err(ClientError::Broker(format!(
                "{group}: {}",
                error_text(g.error_code, None)
            )));
        }
        for t in &g.topics {
            for p in &t.partitions {
                if p.committed_offset >= 0 {
                    committed
                        .entry(t.name.0.to_string())
                        .or_default()
                        .insert(p.partition_index, p.committed_offset);
                }
            }
        }
    }
    for (topic, _) in owners.keys().cloned().collect::<Vec<_>>() {
        committed.entry(topic).or_default();
    }
    writeln!(
        out,
        "{:<30} {:>9} {:>14} {:>14} {:>8}  MEMBER",
        "TOPIC", "PARTITION", "COMMITTED", "END-OFFSET", "LAG"
    )?;
    for (topic, parts) in &committed {
        let mut all: Vec<i32> = parts.keys().copied().collect();
        all.extend(
            owners
                .keys()
                .filter(|(t, _)| t == topic)
                .map(|(_, p)| *p)
                .filter(|p| !parts.contains_key(p)),
        );
        all.sort_unstable();
        let end = offsets(client, topic, &all, -1).await?;
        for p in all {
            let c = parts.get(&p).copied();
            let e = end.get(&p).copied();
            let lag = match (c, e) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => "-".into(),
            };
            let show = |o: Option<i64>| o.map(|o| o.to_string()).unwrap_or_else(|| "-".into());
            let owner = owners
                .get(&(topic.clone(), p))
                .map(String::as_str)
                .unwrap_or("-");
            writeln!(
                out,
                "{topic:<30} {p:>9} {:>14} {:>14} {lag:>8}  {owner}",
                show(c),
                show(e)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58897971
        );
        assert_eq!(murmur2(b"abc"), 479470107);
    }

    #[test]
    fn formats_render_fields() {
        let record = Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 7,
            sequence: -1,
            timestamp: 1234,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: IndexMap::new(),
        };
        assert_eq!(
            render("%T/%p@%o %k=%v (%t)\\n", "t", 2, &record),
            b"t/2@7 k=v (1234)\n".to_vec()
        );
    }
}
