//! Metadata (key 3), versions 0–13.
//!
//! - `topics`: null (v1+) means every topic, an empty list means none; v0's empty list means
//!   every topic. v12+ may name topics by id (UNKNOWN_TOPIC_ID when absent); v10–11 require names.
//! - Auto-creation when `auto.create.topics.enable` and, from v4, `allow_auto_topic_creation`.
//!   Kafka answers LEADER_NOT_AVAILABLE for a topic it has just queued for creation; Vltava
//!   creates it synchronously and answers with the topic itself, which clients accept.
//!   Invalid names answer INVALID_TOPIC_EXCEPTION (auto-create) or UNKNOWN_TOPIC_OR_PARTITION.
//! - Authorization as Kafka's `KafkaApis.handleTopicMetadataRequest`: with an authorizer, the
//!   all-topics form lists only topics the client may DESCRIBE; a named topic it may not
//!   describe answers TOPIC_AUTHORIZATION_FAILED (existing or not); a topic named by id that
//!   exists but may not be described answers TOPIC_AUTHORIZATION_FAILED without its name;
//!   auto-creation needs CREATE on the cluster or on the topic, else TOPIC_AUTHORIZATION_FAILED.
//! - Authorized operations (v8+): i32::MIN unless requested; when requested, the operations
//!   the authorizer allows (everything without one).
//! - Every leader named is in `brokers`; this broker is also the controller.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataRequest, MetadataResponse, ResponseKind, TopicName,
};
use uuid::Uuid;

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, CLUSTER_NAME, ResourceType};
use crate::metadata::topics::{Topic, validate_topic_name};
use crate::metadata::{CreateTopicError, NewTopic};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::Metadata,
    min_version: 0,
    max_version: 13,
};

/// What Kafka sends when authorized operations were not requested.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

pub async fn handle(ctx: &RequestContext<'_>, request: MetadataRequest) -> Reply {
    let broker = ctx.broker;
    let version = ctx.version;
    let allow_create =
        broker.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let want_topic_ops = version >= 8 && request.include_topic_authorized_operations;
    let topic_ops = |name: &str| {
        if want_topic_ops {
            ctx.authorized_operations(ResourceType::Topic, name)
        } else {
            OPERATIONS_NOT_REQUESTED
        }
    };
    let may_describe =
        |name: &str| ctx.authorize(AclOperation::Describe, ResourceType::Topic, name);
    let refused = |name: Option<&str>, id: Uuid| {
        MetadataResponseTopic::default()
            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
            .with_name(name.map(|n| TopicName(owned_str(n))))
            .with_topic_id(id)
            .with_topic_authorized_operations(OPERATIONS_NOT_REQUESTED)
    };

    let all_topics = match &request.topics {
        None => true,
        Some(list) => version == 0 && list.is_empty(),
    };
    let mut topics = Vec::new();
    if all_topics {
        for t in broker
            .topics
            .all()
            .into_iter()
            .filter(|t| may_describe(&t.name))
        {
            topics.push(describe(&t, topic_ops(&t.name), broker.config.node_id));
        }
    } else {
        for wanted in request.topics.iter().flatten() {
            let response = match &wanted.name {
                Some(name) => {
                    let name = name.0.as_str();
                    if !may_describe(name) {
                        refused(Some(name), Uuid::nil())
                    } else {
                        match broker.topics.get(name) {
                            Some(t) => describe(&t, topic_ops(name), broker.config.node_id),
                            None => missing_topic(ctx, name, allow_create, topic_ops(name)).await,
                        }
                    }
                }
                None if version >= 12 => match broker.topics.get_by_id(&wanted.topic_id) {
                    Some(t) if !may_describe(&t.name) => refused(None, wanted.topic_id),
                    Some(t) => describe(&t, topic_ops(&t.name), broker.config.node_id),
                    None => MetadataResponseTopic::default()
                        .with_error_code(ResponseError::UnknownTopicId.code())
                        .with_name(None)
                        .with_topic_id(wanted.topic_id)
                        .with_topic_authorized_operations(OPERATIONS_NOT_REQUESTED),
                },
                None => MetadataResponseTopic::default()
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_topic_id(wanted.topic_id)
                    .with_topic_authorized_operations(OPERATIONS_NOT_REQUESTED),
            };
            topics.push(response);
        }
    }

    if broker.faults.leaders_armed() {
        show_leaderless(broker, &mut topics);
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
                ctx.authorized_operations(ResourceType::Cluster, CLUSTER_NAME)
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
    if !ctx.authorize_cluster(AclOperation::Create)
        && !ctx.authorize(AclOperation::Create, ResourceType::Topic, name)
    {
        return unknown(ResponseError::TopicAuthorizationFailed.code());
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

/// Partitions a fault rule leaves without a leader show as Kafka shows a leaderless one:
/// LEADER_NOT_AVAILABLE, leader -1.
fn show_leaderless(broker: &crate::broker::Broker, topics: &mut [MetadataResponseTopic]) {
    for t in topics {
        let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
            continue;
        };
        for p in &mut t.partitions {
            if broker.leader_unavailable(&name, p.partition_index) {
                p.error_code = ResponseError::LeaderNotAvailable.code();
                p.leader_id = BrokerId(-1);
            }
        }
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
