//! Produce (key 0), versions 0–12.
//!
//! - v0–2 are advertised and rejected, as Kafka 4 does (old librdkafka enables compression only
//!   when it sees them): every partition answers UNSUPPORTED_VERSION. The codec cannot decode
//!   them, so their bodies are read as v3 with a null transactional id in front, and their
//!   responses are encoded here.
//! - v3–12: first the request-level checks of Kafka's `ProduceRequest.validateRecords` (exactly
//!   one whole batch, magic 2, and no zstd before v7: UNSUPPORTED_COMPRESSION_TYPE); then the
//!   partition's log validates and appends (CRC32C, header consistency, `max.message.bytes`,
//!   timestamps, keys on compacted topics, idempotent sequences); offsets are assigned by
//!   patching the batch header. Per-partition errors; v8+ adds `record_errors`/`error_message`.
//!   As in Kafka, an error found by the log reports the partition's log start offset, except
//!   the ones Kafka raises before consulting the log (corrupt or oversized batches, storage
//!   errors); request-level refusals report -1.
//! - acks must be -1, 0 or 1 (INVALID_REQUIRED_ACKS). acks=0 gets no response; if any partition
//!   failed, the connection is closed instead, as Kafka does, so the producer notices.
//! - acks=1 and acks=-1 are the same on one node; when `flush.messages`/`flush.ms` demand an
//!   fsync, the response waits for it (shared with concurrent requests: group commit).
//! - Unknown topics are auto-created when `auto.create.topics.enable` is on (Kafka itself only
//!   auto-creates from Metadata; real clients always ask Metadata first, so this only helps
//!   raw-protocol users).
//! - Authorization as Kafka's: WRITE on each topic (else TOPIC_AUTHORIZATION_FAILED, checked
//!   before existence); auto-creation also needs CREATE on the cluster or the topic.
//!   Idempotent batches need nothing more (Kafka 3.0+ checks IDEMPOTENT_WRITE only in
//!   InitProducerId).
//! - Transactional batches: a request without a transactional id, or whose client may not
//!   WRITE that transactional id, gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every
//!   partition, as Kafka answers it. Otherwise
//!   the batch that starts the producer's transaction in a partition needs the partition in
//!   the ongoing transaction (KIP-890 part 1; later batches of the same transaction and epoch
//!   pass, as in Kafka): v12 (transaction version 2) adds it implicitly, older versions are
//!   verified against the transaction coordinator (v11: TRANSACTION_ABORTABLE; below:
//!   INVALID_TXN_STATE "Partition was not added to the transaction"). The coordinator's
//!   retriable errors are sent as NOT_ENOUGH_REPLICAS, and PRODUCER_FENCED as
//!   INVALID_PRODUCER_EPOCH, Kafka's translations for producers.
//! - Not honoured: `timeout_ms` (nothing to wait for on one node), v13 topic ids (not advertised).

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, ResponseKind, TopicName};
use kafka_protocol::protocol::Decodable;

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::batch::single_batch;
use crate::log::error::NONE;
use crate::log::{AppendError, BatchHeader, Compression, now_ms};
use crate::metadata::NewTopic;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::topics::{Origin, Partition, Topic};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::Produce,
    min_version: 0,
    max_version: 12,
};

pub async fn handle(ctx: &RequestContext<'_>, request: ProduceRequest) -> Reply {
    let acks = request.acks;
    let transactional_id = request.transactional_id.as_ref().map(|s| s.to_string());
    let may_write_txn =
        |id: &str| ctx.authorize(AclOperation::Write, ResourceType::TransactionalId, id);
    if has_transactional_batches(&request)
        && !transactional_id.as_deref().is_some_and(may_write_txn)
    {
        return refuse_all(
            &request,
            ResponseError::TransactionalIdAuthorizationFailed.code(),
            ctx.version,
        );
    }
    let txn = transactional_id.as_deref();
    let mut any_error = false;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let name = topic_data.name.0.as_str();
        let may_write = ctx.authorize(AclOperation::Write, ResourceType::Topic, name);
        let topic = if may_write {
            lookup_or_create(ctx, name).await
        } else {
            None
        };
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let r = if !matches!(acks, -1..=1) {
                failed(pd.index, ResponseError::InvalidRequiredAcks.code(), None)
            } else if !may_write {
                failed(
                    pd.index,
                    ResponseError::TopicAuthorizationFailed.code(),
                    None,
                )
            } else {
                let target = topic
                    .as_ref()
                    .and_then(|t| Some((t, t.partition(pd.index)?)));
                match target {
                    None => failed(
                        pd.index,
                        ResponseError::UnknownTopicOrPartition.code(),
                        None,
                    ),
                    // Clients may read internal topics but never write them.
                    Some((t, _)) if t.internal => failed(
                        pd.index,
                        ResponseError::InvalidTopicException.code(),
                        Some(format!("Cannot append to internal topic {name}")),
                    ),
                    Some(_) if ctx.broker.leader_unavailable(name, pd.index) => {
                        failed(pd.index, ResponseError::NotLeaderOrFollower.code(), None)
                    }
                    Some((_, p)) => match join_transaction(ctx, txn, name, p, &pd.records).await {
                        Ok(()) => append(p, pd.records, acks, ctx.version).await,
                        Err((code, message)) => failed(pd.index, code, message),
                    },
                }
            };
            any_error |= r.error_code != NONE;
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

/// Whether any partition's records are a transactional batch.
fn has_transactional_batches(request: &ProduceRequest) -> bool {
    request.topic_data.iter().any(|t| {
        t.partition_data.iter().any(|p| {
            p.records
                .as_deref()
                .and_then(BatchHeader::parse)
                .is_some_and(|h| is_transactional_v2(&h))
        })
    })
}

/// A transactional batch (the attribute only means that in magic v2; older message sets are
/// refused as INVALID_RECORD first).
fn is_transactional_v2(h: &BatchHeader) -> bool {
    h.magic == 2 && h.is_transactional()
}

/// Every partition refused with one code (Kafka's request-level refusals).
fn refuse_all(request: &ProduceRequest, code: i16, version: i16) -> Reply {
    if request.acks == 0 {
        return Reply::Close;
    }
    let responses = request
        .topic_data
        .iter()
        .map(|t| {
            TopicProduceResponse::default()
                .with_name(TopicName(owned_str(&t.name)))
                .with_partition_responses(
                    t.partition_data
                        .iter()
                        .map(|p| with_version_fields(failed(p.index, code, None), version))
                        .collect(),
                )
        })
        .collect();
    Reply::message(ResponseKind::Produce(
        ProduceResponse::default().with_responses(responses),
    ))
}

/// A transactional batch's partition joins (v12) or must already be in (older) the producer's
/// ongoing transaction. Non-transactional batches pass.
async fn join_transaction(
    ctx: &RequestContext<'_>,
    transactional_id: Option<&str>,
    topic: &str,
    partition: &Arc<Partition>,
    records: &Option<Bytes>,
) -> Result<(), (i16, Option<String>)> {
    let Some(h) = records
        .as_deref()
        .and_then(BatchHeader::parse)
        .filter(is_transactional_v2)
    else {
        return Ok(());
    };
    let Some(id) = transactional_id else {
        return Ok(());
    };
    // As Kafka: only the batch that would start the producer's transaction in this partition
    // is checked; once it is in, the rest of the transaction's batches follow without asking.
    if partition
        .log()
        .has_ongoing_transaction(h.producer_id, h.producer_epoch)
    {
        return Ok(());
    }
    let txns = &ctx.broker.transactions;
    let tp = (topic.to_string(), partition.index);
    let result = if ctx.version >= 12 {
        txns.add_partitions(id.to_string(), h.producer_id, h.producer_epoch, vec![tp], 2)
            .await
    } else {
        txns.verify(id.to_string(), h.producer_id, h.producer_epoch, vec![tp])
            .await
            .pop()
            .map_or(Err(ResponseError::UnknownServerError.code()), |(_, r)| r)
    };
    result.map_err(|code| {
        use ResponseError as E;
        // TRANSACTION_ABORTABLE (KIP-890) is new in v11; older producers know the partition
        // was not added as INVALID_TXN_STATE.
        if code == E::TransactionAbortable.code() && ctx.version >= 11 {
            (code, None)
        } else if code == E::InvalidTxnState.code() || code == E::TransactionAbortable.code() {
            let code = E::InvalidTxnState.code();
            (code, Some("Partition was not added to the transaction".to_string()))
        } else if [
            E::ConcurrentTransactions.code(),
            E::CoordinatorLoadInProgress.code(),
            E::CoordinatorNotAvailable.code(),
            E::NotCoordinator.code(),
        ]
        .contains(&code)
        {
            let name = E::try_from_code(code).map_or("UNKNOWN".to_string(), |e| format!("{e:?}"));
            (
                E::NotEnoughReplicas.code(),
                Some(format!(
                    "Unable to verify the partition has been added to the transaction. Underlying error: {name}"
                )),
            )
        } else if code == E::ProducerFenced.code() {
            (E::InvalidProducerEpoch.code(), None)
        } else {
            (code, None)
        }
    })
}

async fn lookup_or_create(ctx: &RequestContext<'_>, name: &str) -> Option<Arc<Topic>> {
    let broker = ctx.broker;
    if let Some(t) = broker.topics.get(name) {
        return Some(t);
    }
    let may_create = ctx.authorize_cluster(AclOperation::Create)
        || ctx.authorize(AclOperation::Create, ResourceType::Topic, name);
    if !broker.config.auto_create_topics || !may_create {
        return None;
    }
    match broker
        .metadata
        .create_topic(NewTopic::named(name), false)
        .await
    {
        Ok(t) => t,
        Err(_) => broker.topics.get(name),
    }
}

async fn append(
    partition: &Arc<Partition>,
    records: Option<Bytes>,
    acks: i16,
    version: i16,
) -> PartitionProduceResponse {
    let index = partition.index;
    let records = records.unwrap_or_default();
    if let Err(e) = check_request_level(&records, version) {
        return failed(index, e.error_code(), Some(e.error_message()));
    }
    let appended = match partition.append(records, Origin::Client, now_ms()).await {
        Ok(a) => a,
        Err(e) => {
            let mut r = failed(index, e.error_code(), Some(e.error_message()));
            if reports_log_start(e.error_code()) {
                r.log_start_offset = partition.log().log_start_offset();
            }
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
    if let Some(durable) = appended.durable
        && let Err(e) = durable.wait().await
        && acks != 0
    {
        return failed(index, ResponseError::KafkaStorageError.code(), Some(e));
    }
    let outcome = appended.outcome;
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(NONE)
        .with_base_offset(outcome.base_offset)
        .with_log_append_time_ms(outcome.log_append_time_ms)
        .with_log_start_offset(outcome.log_start_offset)
}

/// Kafka's `ProduceRequest.validateRecords`, which refuses a partition's records before the
/// partition is consulted: exactly one whole v2 batch, and zstd only from v7 (KIP-110).
fn check_request_level(records: &[u8], version: i16) -> Result<(), AppendError> {
    let batch = single_batch(records)?;
    let zstd =
        BatchHeader::parse(batch).is_some_and(|h| h.compression() == Some(Compression::Zstd));
    if zstd && version < 7 {
        return Err(AppendError::UnsupportedCompressionType(format!(
            "Produce requests with version {version} are not allowed to use ZStandard compression"
        )));
    }
    Ok(())
}

/// Whether Kafka reports the partition's log start offset alongside this append error: it does
/// for everything but the errors its `ReplicaManager.appendToLocalLog` catches first.
fn reports_log_start(code: i16) -> bool {
    ![
        ResponseError::CorruptMessage.code(),
        ResponseError::MessageTooLarge.code(),
        ResponseError::RecordListTooLarge.code(),
        ResponseError::KafkaStorageError.code(),
    ]
    .contains(&code)
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
            out.put_i16(ResponseError::UnsupportedVersion.code());
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
