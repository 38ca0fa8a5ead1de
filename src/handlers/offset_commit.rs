//! OffsetCommit (key 8), versions 2–9.
//!
//! - Authorization as Kafka's: READ on the group (else every partition answers
//!   GROUP_AUTHORIZATION_FAILED), READ on each topic (TOPIC_AUTHORIZATION_FAILED, before the
//!   existence check).
//! - Partitions of unknown topics, or beyond a topic's partition count, answer
//!   UNKNOWN_TOPIC_OR_PARTITION (checked here, as Kafka's request handler does); the rest go to
//!   the group coordinator, which checks the member and generation and writes one
//!   OffsetCommit record per partition to `__consumer_offsets` before answering.
//! - Generation -1 with no member id is a commit from outside group management ("simple"
//!   commit); it is accepted while the group is Empty and creates the group if needed.
//! - Metadata longer than `offset.metadata.max.bytes` answers OFFSET_METADATA_TOO_LARGE for
//!   that partition; metadata otherwise round-trips exactly (null is stored as "").
//! - v2–4: `retention_time_ms` other than -1 gives the offset its own expiry time. v6+: the
//!   committed leader epoch is stored. v7+: `group_instance_id`. v9: an unknown group with a
//!   generation answers GROUP_ID_NOT_FOUND (ILLEGAL_GENERATION before). v10 (topic ids) is not
//!   served.

use std::collections::HashMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, OffsetCommitRequest, OffsetCommitResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::coordinator::group::coordinator::{CommitPartition, CommitRequest};
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::OffsetCommit,
    min_version: 2,
    max_version: 9,
};

/// Per-partition answers (by topic), by partition.
pub type Answers = HashMap<String, Vec<(i32, i16)>>;

/// Splits a commit into the partitions that exist and UNKNOWN_TOPIC_OR_PARTITION answers for the
/// others (OffsetCommit and TxnOffsetCommit alike). `refusal` (a group or transactional id
/// authorization error) answers every partition with it; topics the client may not READ
/// answer TOPIC_AUTHORIZATION_FAILED, as Kafka checks before existence.
pub fn known_partitions(
    ctx: &RequestContext<'_>,
    requested: Vec<(String, Vec<CommitPartition>)>,
    refusal: Option<i16>,
) -> (Answers, Vec<(String, Vec<CommitPartition>)>) {
    let mut results: Answers = HashMap::new();
    let mut valid = Vec::new();
    for (name, partitions) in requested {
        let refused = refusal.or_else(|| {
            (!ctx.authorize(AclOperation::Read, ResourceType::Topic, &name))
                .then_some(ResponseError::TopicAuthorizationFailed.code())
        });
        if let Some(code) = refused {
            results
                .entry(name.clone())
                .or_default()
                .extend(partitions.iter().map(|p| (p.partition, code)));
            continue;
        }
        let topic = ctx.broker.topics.get(&name);
        let (ok, unknown): (Vec<_>, Vec<_>) = partitions.into_iter().partition(|p| {
            topic
                .as_ref()
                .and_then(|t| t.partition(p.partition))
                .is_some()
        });
        if !unknown.is_empty() {
            results.entry(name.clone()).or_default().extend(
                unknown
                    .iter()
                    .map(|p| (p.partition, ResponseError::UnknownTopicOrPartition.code())),
            );
        }
        if !ok.is_empty() {
            valid.push((name, ok));
        }
    }
    (results, valid)
}

pub async fn handle(ctx: &RequestContext<'_>, request: OffsetCommitRequest) -> Reply {
    let version = ctx.version;
    // Results by topic, filled from the existence check and the coordinator.
    let requested = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| CommitPartition {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p.committed_metadata.as_ref().map(|s| s.to_string()),
                })
                .collect();
            (t.name.to_string(), partitions)
        })
        .collect();
    let refusal = (!ctx.may_read_group(&request.group_id))
        .then_some(ResponseError::GroupAuthorizationFailed.code());
    let (mut results, valid) = known_partitions(ctx, requested, refusal);
    if !valid.is_empty() {
        let req = CommitRequest {
            group_id: request.group_id.to_string(),
            generation_id: request.generation_id_or_member_epoch,
            member_id: request.member_id.to_string(),
            group_instance_id: (version >= 7)
                .then(|| request.group_instance_id.as_ref().map(|s| s.to_string()))
                .flatten(),
            retention_time_ms: if version <= 4 {
                request.retention_time_ms
            } else {
                -1
            },
            topics: valid,
            version,
        };
        for (topic, partitions) in ctx.broker.groups.commit_offsets(req).await {
            results.entry(topic).or_default().extend(partitions);
        }
    }
    // Answer in request order.
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let Some(partitions) = results.remove(t.name.as_str()) else {
            continue; // a repeated topic was answered with its first occurrence
        };
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(TopicName(owned_str(&t.name)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, code)| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        );
    }
    Reply::message(ResponseKind::OffsetCommit(
        OffsetCommitResponse::default().with_topics(topics),
    ))
}
