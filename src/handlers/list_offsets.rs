//! ListOffsets (key 2), versions 1–10.
//!
//! Timestamps: -1 latest (high watermark; the last stable offset for read_committed, v2+), -2 earliest (log start offset), -3 max timestamp (v7+),
//! -4 earliest local (v8+, the log start offset: there is no tiered storage), -5 latest tiered
//! (v9+: no tiered storage, so offset -1 as Kafka answers), any other non-negative value: the
//! first record whose timestamp is at or after it, through the time index (offset -1 when
//! none). A negative value the request's version does not know (-3 before v7, -4 before v8,
//! -5 before v9, -6 before v11 — never, here — and anything below) is UNSUPPORTED_VERSION for
//! that partition, as in Kafka. Leader epoch (v4+) and `current_leader_epoch` checks. A
//! partition named more than once gets one INVALID_REQUEST result, and a topic named more than
//! once one entry, as Kafka answers. `timeout_ms` (v10) has nothing to wait for on one node.

use std::collections::{HashMap, HashSet};
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
use crate::metadata::acls::{AclOperation, ResourceType};
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

/// The first version that knows each timestamp code (Kafka's `timestampMinSupportedVersion`;
/// -6, earliest pending upload, needs v11).
const CODES: &[(i64, i16)] = &[
    (LATEST, 1),
    (EARLIEST, 1),
    (MAX_TIMESTAMP, 7),
    (EARLIEST_LOCAL, 8),
    (LATEST_TIERED, 9),
    (-6, 11),
];

/// True when `timestamp` is a code this request's version does not know.
fn is_unsupported_code(timestamp: i64, version: i16) -> bool {
    timestamp < 0
        && CODES
            .iter()
            .find(|(code, _)| *code == timestamp)
            .is_none_or(|(_, min)| version < *min)
}

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
    // One entry per topic and one result per partition, in first-seen order.
    let mut topics: Vec<ListOffsetsTopicResponse> = Vec::with_capacity(request.topics.len());
    let mut topic_index: HashMap<&str, usize> = HashMap::new();
    let mut answered = HashSet::new();
    for t in &request.topics {
        // Kafka: DESCRIBE on the topic, checked before anything else.
        let may_describe = ctx.authorize(AclOperation::Describe, ResourceType::Topic, &t.name.0);
        let topic = ctx.broker.topics.get(t.name.0.as_str());
        let index = *topic_index.entry(t.name.0.as_str()).or_insert_with(|| {
            topics.push(
                ListOffsetsTopicResponse::default().with_name(TopicName(owned_str(&t.name.0))),
            );
            topics.len() - 1
        });
        for p in &t.partitions {
            if !answered.insert((t.name.0.as_str(), p.partition_index)) {
                continue;
            }
            let base = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(-1);
            let key = (t.name.0.clone(), p.partition_index);
            let r = if !may_describe {
                base.with_error_code(ResponseError::TopicAuthorizationFailed.code())
            } else if duplicates.contains(&key) {
                base.with_error_code(ResponseError::InvalidRequest.code())
            } else if is_unsupported_code(p.timestamp, ctx.version) {
                base.with_error_code(ResponseError::UnsupportedVersion.code())
            } else {
                match topic
                    .as_ref()
                    .and_then(|tp| tp.partition(p.partition_index))
                {
                    None => base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                    Some(_) if ctx.broker.leader_unavailable(&t.name.0, p.partition_index) => {
                        base.with_error_code(ResponseError::NotLeaderOrFollower.code())
                    }
                    Some(partition) => {
                        let committed = ctx.version >= 2 && request.isolation_level == 1;
                        lookup(
                            partition,
                            p.timestamp,
                            p.current_leader_epoch,
                            committed,
                            base,
                        )
                        .await
                    }
                }
            };
            // The leader epoch field only exists from v4.
            let r = if ctx.version < 4 {
                r.with_leader_epoch(-1)
            } else {
                r
            };
            if let Some(entry) = topics.get_mut(index) {
                entry.partitions.push(r);
            }
        }
    }
    Reply::message(ResponseKind::ListOffsets(
        ListOffsetsResponse::default().with_topics(topics),
    ))
}

async fn lookup(
    partition: &Arc<Partition>,
    timestamp: i64,
    current_leader_epoch: i32,
    read_committed: bool,
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
            LATEST if read_committed => return found(log.last_stable_offset()),
            LATEST => return found(log.high_watermark()),
            EARLIEST => return found(log.log_start_offset()),
            // The handler has refused codes the version does not know.
            EARLIEST_LOCAL => return found(log.log_start_offset()),
            LATEST_TIERED => return base.clone().with_leader_epoch(-1),
            MAX_TIMESTAMP => log.lookup_max_timestamp(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_codes_need_their_versions() {
        assert!(!is_unsupported_code(0, 1));
        assert!(!is_unsupported_code(1_700_000_000_000, 1));
        assert!(!is_unsupported_code(LATEST, 1) && !is_unsupported_code(EARLIEST, 1));
        assert!(is_unsupported_code(MAX_TIMESTAMP, 6) && !is_unsupported_code(MAX_TIMESTAMP, 7));
        assert!(is_unsupported_code(EARLIEST_LOCAL, 7) && !is_unsupported_code(EARLIEST_LOCAL, 8));
        assert!(is_unsupported_code(LATEST_TIERED, 8) && !is_unsupported_code(LATEST_TIERED, 9));
        assert!(is_unsupported_code(-6, 10));
        assert!(is_unsupported_code(-7, 10) && is_unsupported_code(i64::MIN, 10));
    }
}
