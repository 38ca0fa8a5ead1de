//! OffsetDelete (key 47), version 0: removes committed offsets of a group.
//!
//! Group-level errors: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (a non-consumer group with
//! members), INVALID_GROUP_ID. Per partition: UNKNOWN_TOPIC_OR_PARTITION for partitions that do
//! not exist, GROUP_SUBSCRIBED_TO_TOPIC while a member of the group subscribes to the topic.
//! Offsets are removed by tombstones in `__consumer_offsets`.

use std::collections::HashMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, OffsetDeleteRequest, OffsetDeleteResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::OffsetDelete,
    min_version: 0,
    max_version: 0,
};

pub async fn handle(ctx: &RequestContext<'_>, request: OffsetDeleteRequest) -> Reply {
    if request.group_id.is_empty() {
        return reply(
            OffsetDeleteResponse::default().with_error_code(ResponseError::InvalidGroupId.code()),
        );
    }
    // Kafka: DELETE on the group, then READ on each topic (before the existence check).
    if !ctx.authorize(AclOperation::Delete, ResourceType::Group, &request.group_id) {
        return reply(
            OffsetDeleteResponse::default()
                .with_error_code(ResponseError::GroupAuthorizationFailed.code()),
        );
    }
    let mut results: HashMap<String, Vec<(i32, i16)>> = HashMap::new();
    let mut valid: Vec<(String, Vec<i32>)> = Vec::new();
    for t in &request.topics {
        let name = t.name.to_string();
        if !ctx.authorize(AclOperation::Read, ResourceType::Topic, &name) {
            let refused = ResponseError::TopicAuthorizationFailed.code();
            results
                .entry(name.clone())
                .or_default()
                .extend(t.partitions.iter().map(|p| (p.partition_index, refused)));
            continue;
        }
        let topic = ctx.broker.topics.get(&name);
        let mut ok = Vec::new();
        for p in &t.partitions {
            if topic
                .as_ref()
                .and_then(|t| t.partition(p.partition_index))
                .is_none()
            {
                results.entry(name.clone()).or_default().push((
                    p.partition_index,
                    ResponseError::UnknownTopicOrPartition.code(),
                ));
            } else {
                ok.push(p.partition_index);
            }
        }
        if !ok.is_empty() {
            valid.push((name, ok));
        }
    }
    // The coordinator is asked even when no partition exists, so group errors are reported.
    let mut top_level = NONE;
    match ctx
        .broker
        .groups
        .delete_offsets(request.group_id.to_string(), valid)
        .await
    {
        Ok(per_topic) => {
            for (topic, partitions) in per_topic {
                results.entry(topic).or_default().extend(partitions);
            }
        }
        Err(code) => top_level = code,
    }
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let Some(partitions) = results.remove(t.name.as_str()) else {
            continue;
        };
        topics.push(
            OffsetDeleteResponseTopic::default()
                .with_name(TopicName(owned_str(&t.name)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, code)| {
                            OffsetDeleteResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        );
    }
    reply(
        OffsetDeleteResponse::default()
            .with_error_code(top_level)
            .with_topics(topics),
    )
}

fn reply(r: OffsetDeleteResponse) -> Reply {
    Reply::message(ResponseKind::OffsetDelete(r))
}
