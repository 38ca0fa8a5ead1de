//! WriteTxnMarkers (key 27), version 1: commit or abort markers written straight into
//! partitions. Kafka's transaction coordinator sends it to partition leaders; here the
//! coordinator writes its markers itself, and this request serves the admin path that uses it,
//! `Admin.abortTransaction` (`kafka-transactions.sh abort`, for a hanging transaction). Each
//! partition answers on its own: UNKNOWN_TOPIC_OR_PARTITION, or the log's marker checks
//! (INVALID_PRODUCER_EPOCH for an epoch older than the producer's, TRANSACTION_COORDINATOR_FENCED
//! for an older coordinator epoch).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, ResponseKind, TopicName, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::log::{ControlType, now_ms};
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::WriteTxnMarkers,
    min_version: 1,
    max_version: 1,
};

pub async fn handle(ctx: &RequestContext<'_>, request: WriteTxnMarkersRequest) -> Reply {
    // Kafka: CLUSTER_ACTION on the cluster, else every partition is refused.
    let allowed = ctx.authorize_cluster(AclOperation::ClusterAction);
    let mut markers = Vec::with_capacity(request.markers.len());
    for m in &request.markers {
        let control = if m.transaction_result {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        let mut topics = Vec::with_capacity(m.topics.len());
        for t in &m.topics {
            let topic = ctx.broker.topics.get(&t.name);
            let mut partitions = Vec::with_capacity(t.partition_indexes.len());
            for &index in &t.partition_indexes {
                let code = match topic.as_ref().and_then(|tp| tp.partition(index)) {
                    _ if !allowed => ResponseError::ClusterAuthorizationFailed.code(),
                    None => ResponseError::UnknownTopicOrPartition.code(),
                    Some(p) => {
                        let appended = p.append_marker(
                            m.producer_id.0,
                            m.producer_epoch,
                            control,
                            m.coordinator_epoch,
                            now_ms(),
                        );
                        match appended {
                            Err(e) => e.error_code(),
                            Ok(a) => match a.durable {
                                Some(d) => d
                                    .wait()
                                    .await
                                    .map_or(ResponseError::KafkaStorageError.code(), |()| NONE),
                                None => NONE,
                            },
                        }
                    }
                };
                partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(index)
                        .with_error_code(code),
                );
            }
            topics.push(
                WritableTxnMarkerTopicResult::default()
                    .with_name(TopicName(owned_str(&t.name)))
                    .with_partitions(partitions),
            );
        }
        markers.push(
            WritableTxnMarkerResult::default()
                .with_producer_id(m.producer_id)
                .with_topics(topics),
        );
    }
    Reply::message(ResponseKind::WriteTxnMarkers(
        WriteTxnMarkersResponse::default().with_markers(markers),
    ))
}
