//! Produce (key 0), versions 0–12.
//!
//! - v0–2 are advertised and rejected, as Kafka 4 does (old librdkafka enables compression only
//!   when it sees them): every partition answers UNSUPPORTED_VERSION. The codec cannot decode
//!   them, so their bodies are read as v3 with a null transactional id in front, and their
//!   responses are encoded here.
//! - v3–12: batches are validated and appended by the partition's log (CRC32C, magic 2, header
//!   consistency, `max.message.bytes`, timestamps, idempotent sequences); offsets are assigned by
//!   patching the batch header. Per-partition errors; v8+ adds `record_errors`/`error_message`.
//! - acks must be -1, 0 or 1 (INVALID_REQUIRED_ACKS). acks=0 gets no response; if any partition
//!   failed, the connection is closed instead, as Kafka does, so the producer notices.
//! - acks=1 and acks=-1 are the same on one node; when `flush.messages`/`flush.ms` demand an
//!   fsync, the response waits for it (shared with concurrent requests: group commit).
//! - Unknown topics are auto-created when `auto.create.topics.enable` is on (Kafka itself only
//!   auto-creates from Metadata; real clients always ask Metadata first, so this only helps
//!   raw-protocol users).
//! - Transactional batches answer INVALID_TXN_STATE until transactions exist.
//! - Not honoured: `timeout_ms` (nothing to wait for on one node), v13 topic ids (not advertised).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, ResponseKind, TopicName};
use kafka_protocol::protocol::Decodable;

use super::{ApiSpec, Reply, RequestContext, error, owned_str};
use crate::log::Compression;
use crate::log::now_ms;
use crate::metadata::topics::{Partition, Topic};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::Produce,
    min_version: 0,
    max_version: 12,
};

pub async fn handle(ctx: &RequestContext<'_>, request: ProduceRequest) -> Reply {
    let acks = request.acks;
    let mut any_error = false;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let name = topic_data.name.0.as_str();
        let topic = lookup_or_create(ctx, name).await;
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let r = if !matches!(acks, -1..=1) {
                failed(pd.index, error::INVALID_REQUIRED_ACKS, None)
            } else {
                let target = topic
                    .as_ref()
                    .and_then(|t| Some((t, t.partition(pd.index)?)));
                match target {
                    None => failed(pd.index, error::UNKNOWN_TOPIC_OR_PARTITION, None),
                    // Clients may read internal topics but never write them.
                    Some((t, _)) if t.internal => failed(
                        pd.index,
                        error::INVALID_TOPIC_EXCEPTION,
                        Some(format!("Cannot append to internal topic {name}")),
                    ),
                    Some((t, p)) => append(ctx, t, p, pd.records, acks).await,
                }
            };
            any_error |= r.error_code != error::NONE;
            partition_responses.push(with_version_fields(r, ctx.version));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(TopicName(owned_str(name)))
                .with_partition_responses(partition_responses),
        );
    }
    if acks == 0 {
        return if any_error {
            Reply::Close
        } else {
            Reply::NoResponse
        };
    }
    Reply::message(ResponseKind::Produce(
        ProduceResponse::default().with_responses(responses),
    ))
}

async fn lookup_or_create(ctx: &RequestContext<'_>, name: &str) -> Option<Arc<Topic>> {
    let broker = ctx.broker;
    if let Some(t) = broker.topics.get(name) {
        return Some(t);
    }
    if !broker.config.auto_create_topics {
        return None;
    }
    match broker
        .create_topic(name, -1, -1, Default::default(), false)
        .await
    {
        Ok(t) => t,
        Err(_) => broker.topics.get(name),
    }
}

/// The codec a topic's `compression.type` imposes; `None` for `producer` (keep what was sent).
fn wanted_compression(ctx: &RequestContext<'_>, topic: &Topic) -> Option<Compression> {
    let broker = ctx.broker.effective_config();
    let (value, _) = crate::config::topic::effective("compression.type", &topic.configs, &broker)?;
    match value.trim() {
        "uncompressed" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

async fn append(
    ctx: &RequestContext<'_>,
    topic: &Topic,
    partition: &Arc<Partition>,
    records: Option<Bytes>,
    acks: i16,
) -> PartitionProduceResponse {
    let index = partition.index;
    let Some(records) = records.filter(|r| !r.is_empty()) else {
        return failed(index, error::INVALID_RECORD, Some("no records".into()));
    };
    // Validate (CRC32C and a walk of every record; bounded decompression for compressed
    // batches) outside the partition lock; only producer-state checks and the write happen
    // under it. A topic whose `compression.type` names a codec gets its batches recompressed,
    // as in Kafka. Decompression and recompression are CPU-heavy: they run, with the append,
    // on the broker's bounded pool for heavy work, never on the threads that serve other
    // connections' requests.
    let now = now_ms();
    let config = partition.log().config().clone();
    let target = wanted_compression(ctx, topic);
    let heavy = target.is_some()
        || records.len() > HEAVY_BATCH_BYTES
        || crate::log::BatchHeader::parse(&records)
            .is_some_and(|h| h.compression() != Some(Compression::None));
    let outcome = if heavy {
        let p = partition.clone();
        ctx.broker
            .run_heavy(move || validate_and_append(&p, &records, &config, target, now))
            .await
            .unwrap_or_else(|| {
                Err(crate::log::AppendError::Storage(std::io::Error::other(
                    "the broker is shutting down",
                )))
            })
    } else {
        validate_and_append(partition, &records, &config, target, now)
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let mut r = failed(index, e.error_code(), Some(e.error_message()));
            r.record_errors = e
                .record_errors()
                .iter()
                .map(|re| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(re.batch_index)
                        .with_batch_index_error_message(Some(owned_str(&re.message)))
                })
                .collect();
            return r;
        }
    };
    if !outcome.duplicate {
        partition.wake_watchers();
    }
    if outcome.rolled && !outcome.flush_needed {
        ctx.broker.flush_later(partition.clone());
    }
    if outcome.flush_needed {
        let flushed = ctx.broker.flush(partition.clone()).await;
        if let Err(e) = flushed
            && acks != 0
        {
            return failed(index, error::KAFKA_STORAGE_ERROR, Some(e));
        }
    }
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(error::NONE)
        .with_base_offset(outcome.base_offset)
        .with_log_append_time_ms(outcome.log_append_time_ms)
        .with_log_start_offset(outcome.log_start_offset)
}

/// Uncompressed batches larger than this are validated on the heavy-work pool too.
const HEAVY_BATCH_BYTES: usize = 1 << 20;

/// Validation, recompression and the append, as one step that may run on the heavy pool.
fn validate_and_append(
    partition: &Partition,
    records: &[u8],
    config: &crate::log::LogConfig,
    target: Option<Compression>,
    now: i64,
) -> Result<crate::log::AppendOutcome, crate::log::AppendError> {
    let batch = crate::log::validate_produce(records, config, now)?;
    // Validated first, so garbage gets Kafka's CORRUPT_MESSAGE / INVALID_RECORD.
    if batch.fields.is_transactional() {
        return Err(crate::log::AppendError::TransactionsUnsupported);
    }
    match target
        .map(|t| crate::log::recompress(&batch, t))
        .transpose()?
    {
        Some(Some(bytes)) => {
            let batch = crate::log::validate_produce(&bytes, config, now)?;
            partition
                .log()
                .append_validated(&batch, partition.leader_epoch, now)
        }
        _ => partition
            .log()
            .append_validated(&batch, partition.leader_epoch, now),
    }
}

fn failed(index: i32, code: i16, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(|m| owned_str(&m)))
}

/// Drops fields older versions cannot carry (the codec would refuse non-defaults).
fn with_version_fields(mut r: PartitionProduceResponse, version: i16) -> PartitionProduceResponse {
    if version < 8 {
        r.record_errors.clear();
        r.error_message = None;
    }
    r
}

/// Produce v0–2: answered with UNSUPPORTED_VERSION for every partition (or no answer for acks=0).
pub fn handle_removed_version(ctx: &RequestContext<'_>, body: Bytes) -> Reply {
    // v0–2 bodies are v3 bodies without the leading nullable transactional id.
    let mut as_v3 = BytesMut::with_capacity(body.len() + 2);
    as_v3.put_i16(-1);
    as_v3.put_slice(&body);
    let mut as_v3 = as_v3.freeze();
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ProduceRequest::decode(&mut as_v3, 3)
    }));
    let Ok(Ok(request)) = parsed else {
        return Reply::Close;
    };
    if request.acks == 0 {
        return Reply::NoResponse;
    }
    // topics [name, partitions [index, error, base_offset, (v2: log_append_time)]], (v1+: throttle)
    let mut out = BytesMut::new();
    out.put_i32(request.topic_data.len() as i32);
    for t in &request.topic_data {
        let name = t.name.0.as_bytes();
        out.put_i16(name.len() as i16);
        out.put_slice(name);
        out.put_i32(t.partition_data.len() as i32);
        for p in &t.partition_data {
            out.put_i32(p.index);
            out.put_i16(error::UNSUPPORTED_VERSION);
            out.put_i64(-1);
            if ctx.version >= 2 {
                out.put_i64(-1);
            }
        }
    }
    if ctx.version >= 1 {
        out.put_i32(0);
    }
    Reply::Raw(out.freeze())
}
