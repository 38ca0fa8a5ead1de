//! OffsetFetch (key 9), versions 1–9.
//!
//! - Named partitions answer their committed offset, leader epoch (v5+) and metadata, or offset
//!   -1 and "" when nothing is committed (also for unknown groups and topics, as Kafka does).
//! - `topics = null` (v2+) asks for everything the group has committed.
//! - v8+: several groups per request, answered in `groups`; before that one group, with the
//!   group-level error at the top (v2+) or on every partition (v1).
//! - v7+ `require_stable`: a partition with an offset committed inside a transaction not yet
//!   decided answers UNSTABLE_OFFSET_COMMIT (offset -1), which the client retries, as Kafka.
//!   Without it the last committed offset is returned.
//! - v9 `member_id`/`member_epoch` are for KIP-848 consumer groups; classic groups ignore them,
//!   as Kafka's do. v10 (topic ids) is not served.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetFetchRequest, OffsetFetchResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::coordinator::group::coordinator::FetchedOffsets;
use crate::coordinator::group::records::OffsetCommitValue;
use crate::coordinator::group::service::FetchQuery;
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::OffsetFetch,
    min_version: 1,
    max_version: 9,
};

pub async fn handle(ctx: &RequestContext<'_>, request: OffsetFetchRequest) -> Reply {
    let version = ctx.version;
    let query: FetchQuery = if version >= 8 {
        request
            .groups
            .iter()
            .map(|g| {
                let topics = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                (g.group_id.to_string(), topics)
            })
            .collect()
    } else {
        let topics = request.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                .collect()
        });
        vec![(request.group_id.to_string(), topics)]
    };
    let group_ids: Vec<String> = query.iter().map(|(g, _)| g.clone()).collect();
    // Kafka: DESCRIBE on each group (else GROUP_AUTHORIZATION_FAILED for it, and no topics in
    // its answer, even those named), DESCRIBE on each topic (named partitions answer
    // TOPIC_AUTHORIZATION_FAILED; the all-topics form leaves such topics out).
    let describable: Vec<bool> = group_ids
        .iter()
        .map(|g| ctx.authorize(AclOperation::Describe, ResourceType::Group, g))
        .collect();
    if version < 8 && describable.first() == Some(&false) {
        // Before v8 the one group's error goes to the top (v2+); v1 has nowhere to put it,
        // and Kafka answers it with no topics all the same.
        let response = single_group(
            Vec::new(),
            ResponseError::GroupAuthorizationFailed.code(),
            version,
        );
        return Reply::message(ResponseKind::OffsetFetch(response));
    }
    let all_topics: Vec<bool> = query.iter().map(|(_, t)| t.is_none()).collect();
    let fetched = ctx.broker.groups.fetch_offsets(query.clone()).await;
    let unstable = if version >= 7 && request.require_stable {
        ctx.broker
            .groups
            .pending_partitions(group_ids.clone())
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let fetched = fetched.map(|all| {
        mark_unstable(all, &unstable)
            .into_iter()
            .zip(&all_topics)
            .map(|(offsets, all)| authorize_topics(ctx, offsets, *all))
            .collect::<Vec<_>>()
    });
    let response = if version >= 8 {
        let groups = match fetched {
            Ok(all) => group_ids
                .iter()
                .zip(all)
                .zip(&describable)
                .map(|((g, offsets), describable)| {
                    if *describable {
                        group_v8(g, offsets, NONE)
                    } else {
                        group_v8(
                            g,
                            Vec::new(),
                            ResponseError::GroupAuthorizationFailed.code(),
                        )
                    }
                })
                .collect(),
            Err(code) => group_ids
                .iter()
                .map(|g| group_v8(g, Vec::new(), code))
                .collect(),
        };
        OffsetFetchResponse::default().with_groups(groups)
    } else {
        let (offsets, code) = match fetched {
            Ok(mut all) => (all.pop().unwrap_or_default(), NONE),
            // Name the requested partitions so v1 can carry the error on each of them.
            Err(code) => (
                query
                    .into_iter()
                    .next()
                    .and_then(|(_, t)| t)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, Ok(None))).collect()))
                    .collect(),
                code,
            ),
        };
        single_group(offsets, code, version)
    };
    Reply::message(ResponseKind::OffsetFetch(response))
}

/// A partition's answer: its committed offset, nothing (`Ok(None)`), or an error.
type Answer = Result<Option<OffsetCommitValue>, i16>;
/// One group's answers, by topic.
type GroupAnswers = Vec<(String, Vec<(i32, Answer)>)>;

/// One group's answers with the topics the client may not DESCRIBE refused (named) or left
/// out (the all-topics form).
fn authorize_topics(
    ctx: &RequestContext<'_>,
    offsets: GroupAnswers,
    all_topics: bool,
) -> GroupAnswers {
    offsets
        .into_iter()
        .filter_map(|(topic, partitions)| {
            if ctx.authorize(AclOperation::Describe, ResourceType::Topic, &topic) {
                Some((topic, partitions))
            } else if all_topics {
                None
            } else {
                let refused = ResponseError::TopicAuthorizationFailed.code();
                let partitions = partitions
                    .into_iter()
                    .map(|(p, _)| (p, Err(refused)))
                    .collect();
                Some((topic, partitions))
            }
        })
        .collect()
}

/// Per group, the partitions whose offsets a transaction holds undecided get
/// UNSTABLE_OFFSET_COMMIT.
fn mark_unstable(all: Vec<FetchedOffsets>, unstable: &[Vec<(String, i32)>]) -> Vec<GroupAnswers> {
    all.into_iter()
        .enumerate()
        .map(|(i, offsets)| {
            let pending = unstable.get(i);
            offsets
                .into_iter()
                .map(|(topic, partitions)| {
                    let partitions = partitions
                        .into_iter()
                        .map(|(p, v)| {
                            let held = pending
                                .is_some_and(|u| u.iter().any(|(t, q)| *t == topic && *q == p));
                            let answer = if held {
                                Err(ResponseError::UnstableOffsetCommit.code())
                            } else {
                                Ok(v)
                            };
                            (p, answer)
                        })
                        .collect();
                    (topic, partitions)
                })
                .collect()
        })
        .collect()
}

/// (offset, leader epoch, metadata, error) of an answer, with Kafka's "nothing committed"
/// values when there is no offset.
fn committed_or_none(v: Answer) -> (i64, i32, String, i16) {
    match v {
        Ok(Some(v)) => (v.offset, v.leader_epoch, v.metadata, NONE),
        Ok(None) => (-1, -1, String::new(), NONE),
        Err(code) => (-1, -1, String::new(), code),
    }
}

fn group_v8(group_id: &str, offsets: GroupAnswers, code: i16) -> OffsetFetchResponseGroup {
    let topics = offsets
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetFetchResponseTopics::default()
                .with_name(TopicName(owned_str(&topic)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, v)| {
                            let (offset, epoch, metadata, error) = committed_or_none(v);
                            OffsetFetchResponsePartitions::default()
                                .with_partition_index(p)
                                .with_error_code(error)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(epoch)
                                .with_metadata(Some(owned_str(&metadata)))
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponseGroup::default()
        .with_group_id(GroupId(owned_str(group_id)))
        .with_topics(topics)
        .with_error_code(code)
}

fn single_group(offsets: GroupAnswers, code: i16, version: i16) -> OffsetFetchResponse {
    let topics = offsets
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(owned_str(&topic)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, v)| {
                            let (offset, epoch, metadata, error) = committed_or_none(v);
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(if version >= 5 { epoch } else { -1 })
                                .with_metadata(Some(owned_str(&metadata)))
                                // v1 has no top-level error: it goes on every partition.
                                .with_error_code(if version < 2 && code != NONE {
                                    code
                                } else {
                                    error
                                })
                        })
                        .collect(),
                )
        })
        .collect();
    let response = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        response.with_error_code(code)
    } else {
        response
    }
}
