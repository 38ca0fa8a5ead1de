//! Metadata (key 3), versions 0–13.
//!
//! - `topics`: null (v1+) means every topic, an empty list means none; v0's empty list means
//!   every topic. v12+ may name topics by id (UNKNOWN_TOPIC_ID when absent); v10–11 require names.
//! - Auto-creation when `auto.create.topics.enable` and, from v4, `allow_auto_topic_creation`.
//!   Kafka answers LEADER_NOT_AVAILABLE for a topic it has just queued for creation; Vltava
//!   creates it synchronously and answers with the topic itself, which clients accept.
//!   Invalid names answer INVALID_TOPIC_EXCEPTION (auto-create) or UNKNOWN_TOPIC_OR_PARTITION.
//! - Authorized operations (v8+): i32::MIN unless requested; when requested, everything a
//!   broker without an authorizer allows.
//! - Every leader named is in `brokers`; this broker is also the controller.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataRequest, MetadataResponse, ResponseKind, TopicName,
};
use uuid::Uuid;

use super::describe_cluster::CLUSTER_OPERATIONS;
use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::topics::{Topic, validate_topic_name};
use crate::metadata::{CreateTopicError, NewTopic};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::Metadata,
    min_version: 0,
    max_version: 13,
};

/// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// What Kafka sends when authorized operations were not requested.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

pub async fn handle(ctx: &RequestContext<'_>, request: MetadataRequest) -> Reply {
    let broker = ctx.broker;
    let version = ctx.version;
    let allow_create =
        broker.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let topic_ops = if version >= 8 && request.include_topic_authorized_operations {
        TOPIC_OPERATIONS
    } else {
        OPERATIONS_NOT_REQUESTED
    };

    let all_topics = match &request.topics {
        None => true,
        Some(list) => version == 0 && list.is_empty(),
    };
    let mut topics = Vec::new();
    if all_topics {
        for t in broker.topics.all() {
            topics.push(describe(&t, topic_ops, broker.config.node_id));
        }
    } else {
        for wanted in request.topics.iter().flatten() {
            let response = match &wanted.name {
                Some(name) => {
                    let name = name.0.as_str();
                    match broker.topics.get(name) {
                        Some(t) => describe(&t, topic_ops, broker.config.node_id),
                        None => missing_topic(ctx, name, allow_create, topic_ops).await,
                    }
                }
                None if version >= 12 => match broker.topics.get_by_id(&wanted.topic_id) {
                    Some(t) => describe(&t, topic_ops, broker.config.node_id),
                    None => MetadataResponseTopic::default()
                        .with_error_code(ResponseError::UnknownTopicId.code())
                        .with_name(None)
                        .with_topic_id(wanted.topic_id)
                        .with_topic_authorized_operations(topic_ops),
                },
                None => MetadataResponseTopic::default()
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_topic_id(wanted.topic_id)
                    .with_topic_authorized_operations(topic_ops),
            };
            topics.push(response);
        }
    }

    let advertised = broker.config.advertised_for(ctx.listener);
    let node = BrokerId(broker.config.node_id);
    let response = MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(node)
                .with_host(owned_str(&advertised.host))
                .with_port(i32::from(advertised.port))
                .with_rack(None),
        ])
        .with_cluster_id(Some(owned_str(&broker.cluster_id)))
        .with_controller_id(node)
        .with_topics(topics)
        .with_cluster_authorized_operations(
            if (8..=10).contains(&version) && request.include_cluster_authorized_operations {
                CLUSTER_OPERATIONS
            } else {
                OPERATIONS_NOT_REQUESTED
            },
        );
    Reply::message(ResponseKind::Metadata(response))
}

async fn missing_topic(
    ctx: &RequestContext<'_>,
    name: &str,
    allow_create: bool,
    topic_ops: i32,
) -> MetadataResponseTopic {
    let unknown = |code| {
        MetadataResponseTopic::default()
            .with_error_code(code)
            .with_name(Some(TopicName(owned_str(name))))
            .with_topic_id(Uuid::nil())
            .with_topic_authorized_operations(topic_ops)
    };
    if !allow_create {
        return unknown(ResponseError::UnknownTopicOrPartition.code());
    }
    if validate_topic_name(name).is_err() {
        return unknown(ResponseError::InvalidTopicException.code());
    }
    let broker = ctx.broker;
    match broker
        .metadata
        .create_topic(NewTopic::named(name), false)
        .await
    {
        Ok(Some(t)) => describe(&t, topic_ops, broker.config.node_id),
        // Created concurrently by another request: describe what exists.
        Err(CreateTopicError::AlreadyExists(_)) => match broker.topics.get(name) {
            Some(t) => describe(&t, topic_ops, broker.config.node_id),
            None => unknown(ResponseError::LeaderNotAvailable.code()),
        },
        Err(CreateTopicError::InvalidName(_)) => {
            unknown(ResponseError::InvalidTopicException.code())
        }
        Err(_) | Ok(None) => unknown(ResponseError::LeaderNotAvailable.code()),
    }
}

fn describe(topic: &Topic, topic_ops: i32, node_id: i32) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            let node = BrokerId(node_id);
            MetadataResponsePartition::default()
                .with_error_code(NONE)
                .with_partition_index(p.index)
                .with_leader_id(node)
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
                .with_offline_replicas(vec![])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_error_code(NONE)
        .with_name(Some(TopicName(owned_str(&topic.name))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.internal)
        .with_partitions(partitions)
        .with_topic_authorized_operations(topic_ops)
}
