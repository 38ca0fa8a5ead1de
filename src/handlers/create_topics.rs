//! CreateTopics (key 19), versions 2–7.
//!
//! Kafka's checks, per topic: legal name (INVALID_TOPIC_EXCEPTION), not already present or
//! colliding on '.'/'_' (TOPIC_ALREADY_EXISTS / INVALID_TOPIC_EXCEPTION), partitions ≥ 1 or -1
//! for `num.partitions` (ResponseError::InvalidPartitions.code()), replication factor 1 or -1 on a single broker
//! (INVALID_REPLICATION_FACTOR otherwise), manual assignments naming only this broker
//! (ResponseError::InvalidReplicaAssignment.code()), known configs with valid values (INVALID_CONFIG), a name
//! repeated in one request (INVALID_REQUEST for each copy). `validate_only` checks everything
//! and creates nothing. v5+ returns partitions, replication factor and the topic's configs
//! with their sources; v7 returns the topic id.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, ResponseKind, TopicName,
};
use uuid::Uuid;

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::NewTopic;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::CreateTopics,
    min_version: 2,
    max_version: 7,
};

pub async fn handle(ctx: &RequestContext<'_>, request: CreateTopicsRequest) -> Reply {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in &request.topics {
        *counts.entry(t.name.0.to_string()).or_default() += 1;
    }
    let mut results = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let name = t.name.0.to_string();
        let fail = |code: i16, message: String| {
            CreatableTopicResult::default()
                .with_name(TopicName(owned_str(&name)))
                .with_topic_id(Uuid::nil())
                .with_error_code(code)
                .with_error_message(Some(owned_str(&message)))
                .with_num_partitions(-1)
                .with_replication_factor(-1)
                .with_configs(None)
        };
        if counts.get(&name).copied().unwrap_or(0) > 1 {
            results.push(fail(
                ResponseError::InvalidRequest.code(),
                format!("Create topics request from client contains duplicate topic {name}"),
            ));
            continue;
        }
        let (num_partitions, replication_factor) = match check_assignments(ctx, t) {
            Ok(v) => v,
            Err((code, message)) => {
                results.push(fail(code, message));
                continue;
            }
        };
        let mut configs = BTreeMap::new();
        for c in &t.configs {
            // A null value means "use the default": nothing to store.
            if let Some(v) = &c.value {
                configs.insert(c.name.to_string(), v.to_string());
            }
        }
        let topic = NewTopic {
            name: name.clone(),
            partitions: num_partitions,
            replication_factor,
            configs: configs.clone(),
        };
        match ctx
            .broker
            .metadata
            .create_topic(topic, request.validate_only)
            .await
        {
            Ok(created) => {
                let partitions = match num_partitions {
                    -1 => ctx.broker.config.num_partitions,
                    n => n,
                };
                let mut r = CreatableTopicResult::default()
                    .with_name(TopicName(owned_str(&name)))
                    .with_topic_id(created.map(|t| t.id).unwrap_or_else(Uuid::nil))
                    .with_error_code(NONE)
                    .with_num_partitions(partitions)
                    .with_replication_factor(1);
                if ctx.version >= 5 {
                    r = r.with_configs(Some(describe_configs(ctx, &configs)));
                }
                results.push(r);
            }
            Err(e) => results.push(fail(e.code().code(), e.to_string())),
        }
    }
    Reply::message(ResponseKind::CreateTopics(
        CreateTopicsResponse::default().with_topics(results),
    ))
}

/// Resolves manual replica assignments into a partition count, checking they fit one broker.
fn check_assignments(
    ctx: &RequestContext<'_>,
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<(i32, i16), (i16, String)> {
    if t.assignments.is_empty() {
        return Ok((t.num_partitions, t.replication_factor));
    }
    if t.num_partitions != -1 || t.replication_factor != -1 {
        return Err((
            ResponseError::InvalidRequest.code(),
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
        ));
    }
    let node = ctx.broker.config.node_id;
    let mut indexes: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
    indexes.sort_unstable();
    if indexes.iter().enumerate().any(|(i, p)| *p != i as i32) {
        return Err((
            ResponseError::InvalidPartitions.code(),
            "Partitions should be consecutive and start from 0".into(),
        ));
    }
    let mut rf = None;
    for a in &t.assignments {
        if a.broker_ids.is_empty() || a.broker_ids.iter().any(|b| b.0 != node) {
            return Err((
                ResponseError::InvalidReplicaAssignment.code(),
                format!(
                    "Replica assignment for partition {} names brokers that do not exist",
                    a.partition_index
                ),
            ));
        }
        if a.broker_ids.len() > 1 {
            return Err((
                ResponseError::InvalidReplicaAssignment.code(),
                "Duplicate brokers in replica assignment".into(),
            ));
        }
        rf = Some(a.broker_ids.len() as i16);
    }
    Ok((t.assignments.len() as i32, rf.unwrap_or(1)))
}

/// The topic's effective configs as CreateTopics v5+ reports them: the same values and
/// sources DescribeConfigs gives (topic overrides, dynamic and static broker synonyms).
fn describe_configs(
    ctx: &RequestContext<'_>,
    overrides: &BTreeMap<String, String>,
) -> Vec<CreatableTopicConfigs> {
    let dynamic = ctx.broker.dynamic_configs();
    super::describe_configs::topic_entries(overrides, &ctx.broker.config, &dynamic)
        .into_iter()
        .map(|e| {
            CreatableTopicConfigs::default()
                .with_name(owned_str(&e.name))
                .with_value(e.value.as_deref().map(owned_str))
                .with_read_only(e.read_only)
                .with_config_source(e.source)
                .with_is_sensitive(e.sensitive)
        })
        .collect()
}
