//! ListOffsets (key 2), versions 1–10.
//!
//! Timestamps: -1 latest (high watermark; the last stable offset for read_committed, equal
//! until transactions exist), -2 earliest (log start offset), -3 max timestamp (v7+),
//! -4 earliest local (v8+, the log start offset: there is no tiered storage), -5 latest tiered
//! (v9+: no tiered storage, so offset -1 as Kafka answers), anything else: the first record
//! whose timestamp is at or after it, through the time index (offset -1 when none).
//! Leader epoch (v4+) and `current_leader_epoch` checks; duplicate partitions in one request
//! get INVALID_REQUEST as in Kafka. `timeout_ms` (v10) has nothing to wait for on one node.

use std::collections::HashSet;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    ApiKey, ListOffsetsRequest, ListOffsetsResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, check_leader_epoch, owned_str};
use crate::log::error::NONE;
use crate::metadata::topics::Partition;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::ListOffsets,
    min_version: 1,
    max_version: 10,
};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub async fn handle(ctx: &RequestContext<'_>, request: ListOffsetsRequest) -> Reply {
    let mut seen = HashSet::new();
    let mut duplicates = HashSet::new();
    for t in &request.topics {
        for p in &t.partitions {
            if !seen.insert((t.name.0.clone(), p.partition_index)) {
                duplicates.insert((t.name.0.clone(), p.partition_index));
            }
        }
    }
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let topic = ctx.broker.topics.get(t.name.0.as_str());
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let base = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            if duplicates.contains(&(t.name.0.clone(), p.partition_index)) {
                partitions.push(base.with_error_code(ResponseError::InvalidRequest.code()));
                continue;
            }
            let r = match topic
                .as_ref()
                .and_then(|tp| tp.partition(p.partition_index))
            {
                None => base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                Some(partition) => {
                    lookup(
                        partition,
                        p.timestamp,
                        p.current_leader_epoch,
                        ctx.version,
                        base,
                    )
                    .await
                }
            };
            // The leader epoch field only exists from v4.
            partitions.push(if ctx.version < 4 {
                r.with_leader_epoch(-1)
            } else {
                r
            });
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(TopicName(owned_str(&t.name.0)))
                .with_partitions(partitions),
        );
    }
    Reply::message(ResponseKind::ListOffsets(
        ListOffsetsResponse::default().with_topics(topics),
    ))
}

async fn lookup(
    partition: &Arc<Partition>,
    timestamp: i64,
    current_leader_epoch: i32,
    version: i16,
    base: ListOffsetsPartitionResponse,
) -> ListOffsetsPartitionResponse {
    let epoch_error = check_leader_epoch(current_leader_epoch, partition.leader_epoch);
    if epoch_error != NONE {
        return base.with_error_code(epoch_error);
    }
    let epoch = partition.leader_epoch;
    let found = |offset: i64| {
        base.clone()
            .with_offset(offset)
            .with_timestamp(-1)
            .with_leader_epoch(epoch)
    };
    // Offsets are read under the partition lock; a timestamp search is only prepared there
    // (index look-ups) and its file reads and decompression run on the heavy-work pool.
    let prepared = {
        let log = partition.log();
        if let Err(e) = log.check_readable() {
            return base.with_error_code(e.error_code());
        }
        match timestamp {
            LATEST => return found(log.high_watermark()),
            EARLIEST => return found(log.log_start_offset()),
            EARLIEST_LOCAL if version >= 8 => return found(log.log_start_offset()),
            LATEST_TIERED if version >= 9 => return base.clone().with_leader_epoch(-1),
            MAX_TIMESTAMP if version >= 7 => log.lookup_max_timestamp(),
            ts => log.lookup_timestamp(ts),
        }
    };
    let lookup = match prepared {
        Ok(Some(lookup)) => lookup,
        Ok(None) => return base,
        Err(e) => return base.with_error_code(e.error_code()),
    };
    let searched = partition.services().heavy.run(move || lookup.run()).await;
    match searched {
        Some(Ok(Some((offset, ts, leader_epoch)))) => base
            .with_offset(offset)
            .with_timestamp(ts)
            .with_leader_epoch(leader_epoch),
        Some(Ok(None)) => base,
        Some(Err(e)) => base.with_error_code(e.error_code()),
        None => base.with_error_code(ResponseError::KafkaStorageError.code()),
    }
}
