//! DeleteRecords (key 21), versions 0–2: what `kafka-delete-records.sh` and the Admin's
//! `deleteRecords` send.
//!
//! Per partition, as Kafka's `Partition.deleteRecordsOnLeader`: a missing topic or partition →
//! UNKNOWN_TOPIC_OR_PARTITION; a topic whose `cleanup.policy` lacks `delete` → ResponseError::PolicyViolation.code();
//! offset -1 means the high watermark; any other negative offset or one past the high watermark
//! → OFFSET_OUT_OF_RANGE. Otherwise the log start offset moves up to the offset (never back),
//! is written and fsynced to the partition's `log-start-offset` file before the answer, and
//! segments wholly below it are deleted: deleted records are never served again, also after a
//! restart. `low_watermark` is the log start offset afterwards (-1 on error). The work runs on
//! a blocking thread (it fsyncs). `timeout_ms` has no replicas to wait for.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, DeleteRecordsRequest, DeleteRecordsResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::LogError;
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::topics::Partition;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DeleteRecords,
    min_version: 0,
    max_version: 2,
};

const HIGH_WATERMARK: i64 = -1;

/// A requested partition: index, offset, and the partition if it exists.
type Target = (i32, i64, Result<Arc<Partition>, i16>);

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteRecordsRequest) -> Reply {
    // Resolve partitions here; do the (fsyncing) work on a blocking thread.
    let work: Vec<(String, Vec<Target>)> = request
        .topics
        .iter()
        .map(|t| {
            // Kafka: DELETE on the topic, checked before existence.
            let may_delete = ctx.authorize(AclOperation::Delete, ResourceType::Topic, &t.name.0);
            let topic = ctx.broker.topics.get(t.name.0.as_str());
            // One answer per partition, the last offset asked for winning (Kafka keys the
            // request by partition), so repeats cost no extra work.
            let mut wanted: indexmap::IndexMap<i32, i64> = indexmap::IndexMap::new();
            for p in &t.partitions {
                wanted.insert(p.partition_index, p.offset);
            }
            let parts = wanted
                .into_iter()
                .map(|(index, offset)| {
                    let partition = if may_delete {
                        topic
                            .as_ref()
                            .and_then(|tp| tp.partition(index))
                            .cloned()
                            .ok_or(ResponseError::UnknownTopicOrPartition.code())
                    } else {
                        Err(ResponseError::TopicAuthorizationFailed.code())
                    };
                    (index, offset, partition)
                })
                .collect();
            (t.name.0.to_string(), parts)
        })
        .collect();
    let done = tokio::task::spawn_blocking(move || {
        work.into_iter()
            .map(|(name, parts)| {
                let partitions = parts
                    .into_iter()
                    .map(|(index, offset, partition)| {
                        let (code, low) = match partition {
                            Err(code) => (code, -1),
                            Ok(p) => delete(&p, offset),
                        };
                        DeleteRecordsPartitionResult::default()
                            .with_partition_index(index)
                            .with_low_watermark(low)
                            .with_error_code(code)
                    })
                    .collect();
                DeleteRecordsTopicResult::default()
                    .with_name(TopicName(owned_str(&name)))
                    .with_partitions(partitions)
            })
            .collect::<Vec<_>>()
    })
    .await;
    match done {
        Ok(topics) => Reply::message(ResponseKind::DeleteRecords(
            DeleteRecordsResponse::default().with_topics(topics),
        )),
        Err(_) => Reply::Close,
    }
}

/// (error code, low watermark) for one partition.
fn delete(partition: &Partition, offset: i64) -> (i16, i64) {
    if partition.is_deleted() {
        return (ResponseError::UnknownTopicOrPartition.code(), -1);
    }
    let mut log = partition.log();
    if !log.config().cleanup_delete {
        return (ResponseError::PolicyViolation.code(), -1);
    }
    let target = if offset == HIGH_WATERMARK {
        log.high_watermark()
    } else {
        offset
    };
    if target < 0 {
        return (ResponseError::OffsetOutOfRange.code(), -1);
    }
    match log.increase_log_start_offset(target) {
        Ok(_) => (NONE, log.log_start_offset()),
        Err(LogError::OffsetOutOfRange { .. }) => (ResponseError::OffsetOutOfRange.code(), -1),
        Err(e) => {
            tracing::error!(topic = %partition.topic, partition = partition.index, "delete records failed: {e}");
            (ResponseError::KafkaStorageError.code(), -1)
        }
    }
}
