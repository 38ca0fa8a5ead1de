//! DescribeTopicPartitions (key 75), version 0: what `kafka-topics.sh --describe` (3.8+) and the
//! Java Admin's `describeTopics` use when it is advertised.
//!
//! As Kafka's `DescribeTopicPartitionsRequestHandler`: an empty topic list means every topic;
//! topics are answered in name order, starting at the cursor's topic (and, for that topic, at
//! the cursor's partition). At most `min(response_partition_limit, max.request.partition.size.
//! limit)` partitions (at least 1) are returned; when a topic does not fit, `next_cursor` names
//! the topic and first partition left out, and a following request continues there. Named
//! topics that do not exist answer UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for
//! illegal names); a cursor topic missing from a named list or a negative cursor partition makes
//! the whole request INVALID_REQUEST. With an authorizer, topics the client may not DESCRIBE
//! are left out of the every-topic form and answer TOPIC_AUTHORIZATION_FAILED when named.
//! Topic authorized operations are always filled in (what the authorizer allows). Every partition is led by this broker, which is its only
//! replica and in-sync replica; eligible leader replica lists are empty.

use std::collections::BTreeSet;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
    ResponseKind, TopicName,
};
use uuid::Uuid;

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::topics::{Topic, validate_topic_name};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeTopicPartitions,
    min_version: 0,
    max_version: 0,
};

/// The authorized operations of a topic the client may not describe (Kafka's default).
const OPERATIONS_NOT_KNOWN: i32 = i32::MIN;
/// Kafka's internal topics (`Topic.isInternal`).
const INTERNAL_TOPICS: &[&str] = &[
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

pub fn handle(ctx: &RequestContext<'_>, request: DescribeTopicPartitionsRequest) -> Reply {
    let response = match describe(ctx, &request) {
        Ok(r) => r,
        Err(message) => {
            tracing::debug!("DescribeTopicPartitions refused: {message}");
            let topics = request
                .topics
                .iter()
                .map(|t| {
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_name(Some(TopicName(owned_str(&t.name))))
                        .with_is_internal(false)
                })
                .collect();
            DescribeTopicPartitionsResponse::default().with_topics(topics)
        }
    };
    Reply::message(ResponseKind::DescribeTopicPartitions(response))
}

fn describe(
    ctx: &RequestContext<'_>,
    request: &DescribeTopicPartitionsRequest,
) -> Result<DescribeTopicPartitionsResponse, String> {
    let broker = ctx.broker;
    let cursor_topic = request
        .cursor
        .as_ref()
        .map_or("", |c| c.topic_name.0.as_str());
    let fetch_all = request.topics.is_empty();
    let names: BTreeSet<String> = if fetch_all {
        broker
            .topics
            .all()
            .iter()
            .map(|t| t.name.to_string())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.to_string())
            .filter(|n| n.as_str() >= cursor_topic)
            .collect()
    };
    if let Some(c) = &request.cursor {
        if !fetch_all && !names.contains(c.topic_name.0.as_str()) {
            return Err(format!(
                "DescribeTopicPartitionsRequest topic list should contain the cursor topic: {}",
                c.topic_name.0.as_str()
            ));
        }
        if c.partition_index < 0 {
            return Err("DescribeTopicPartitionsRequest cursor partition must be valid".into());
        }
    }
    let limit_max: i32 = broker
        .effective_config()
        .setting("max.request.partition.size.limit", 2000);
    let mut remaining = request.response_partition_limit.min(limit_max).max(1) as usize;
    let node = broker.config.node_id;
    let mut response = DescribeTopicPartitionsResponse::default();
    for name in names {
        if remaining == 0 {
            response.next_cursor = Some(cursor(&name, 0));
            break;
        }
        let start = match &request.cursor {
            Some(c) if c.topic_name.0.as_str() == name => c.partition_index as usize,
            _ => 0,
        };
        if !ctx.authorize(AclOperation::Describe, ResourceType::Topic, &name) {
            if !fetch_all {
                response.topics.push(
                    missing(&name, OPERATIONS_NOT_KNOWN)
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code()),
                );
            }
            continue;
        }
        let Some(topic) = broker.topics.get(&name) else {
            if !fetch_all {
                response.topics.push(missing(
                    &name,
                    ctx.authorized_operations(ResourceType::Topic, &name),
                ));
            }
            continue;
        };
        let count = topic.partitions.len();
        let upper = count.min(start.saturating_add(remaining));
        let partitions: Vec<_> = (start..upper)
            .map(|i| partition(i as i32, &topic, node))
            .collect();
        remaining -= partitions.len();
        response.topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_error_code(NONE)
                .with_name(Some(TopicName(owned_str(&name))))
                .with_topic_id(topic.id)
                .with_is_internal(INTERNAL_TOPICS.contains(&name.as_str()))
                .with_partitions(partitions)
                .with_topic_authorized_operations(
                    ctx.authorized_operations(ResourceType::Topic, &name),
                ),
        );
        if upper < count {
            response.next_cursor = Some(cursor(&name, upper as i32));
            break;
        }
    }
    Ok(response)
}

fn cursor(topic: &str, partition: i32) -> Cursor {
    Cursor::default()
        .with_topic_name(TopicName(owned_str(topic)))
        .with_partition_index(partition)
}

fn partition(index: i32, topic: &Topic, node: i32) -> DescribeTopicPartitionsResponsePartition {
    let leader_epoch = topic.partition(index).map_or(0, |p| p.leader_epoch);
    DescribeTopicPartitionsResponsePartition::default()
        .with_error_code(NONE)
        .with_partition_index(index)
        .with_leader_id(BrokerId(node))
        .with_leader_epoch(leader_epoch)
        .with_replica_nodes(vec![BrokerId(node)])
        .with_isr_nodes(vec![BrokerId(node)])
        .with_eligible_leader_replicas(Some(vec![]))
        .with_last_known_elr(Some(vec![]))
        .with_offline_replicas(vec![])
}

fn missing(name: &str, operations: i32) -> DescribeTopicPartitionsResponseTopic {
    let code = if validate_topic_name(name).is_ok() {
        ResponseError::UnknownTopicOrPartition.code()
    } else {
        ResponseError::InvalidTopicException.code()
    };
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(code)
        .with_name(Some(TopicName(owned_str(name))))
        .with_topic_id(Uuid::nil())
        .with_is_internal(INTERNAL_TOPICS.contains(&name))
        .with_topic_authorized_operations(operations)
}
