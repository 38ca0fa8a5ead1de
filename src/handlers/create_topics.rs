//! CreateTopics (key 19), versions 2–7.
//!
//! Kafka's checks, per topic: a name repeated in one request (INVALID_REQUEST "Duplicate topic
//! name.", one result for it) and `__cluster_metadata` (INVALID_REQUEST) are refused first;
//! then a config with a null value (INVALID_CONFIG), manual assignments (numPartitions and
//! replicationFactor must be -1: INVALID_REQUEST; each replica list only this broker, once,
//! partitions numbered 0, 1, 2, ...: INVALID_REPLICA_ASSIGNMENT), legal name
//! (INVALID_TOPIC_EXCEPTION), partitions ≥ 1 or -1 for `num.partitions` (INVALID_PARTITIONS),
//! replication factor 1 or -1 on a single broker (INVALID_REPLICATION_FACTOR), known configs
//! with valid values (INVALID_CONFIG), not already present or colliding on '.'/'_'
//! (TOPIC_ALREADY_EXISTS / INVALID_TOPIC_EXCEPTION). Messages are Kafka 4.4's. `validate_only`
//! checks everything and creates nothing. v5+ returns partitions, replication factor and the
//! topic's configs with their sources (an empty list for a failed topic); v7 returns the topic
//! id. A created topic's message is null.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::manager::check_replicas;

/// KRaft's metadata log: a name no client may create.
const CLUSTER_METADATA_TOPIC: &str = "__cluster_metadata";

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
    // Kafka answers names it refuses before asking its controller (a duplicate, the metadata
    // topic) once each, after the other results.
    let mut refused: Vec<CreatableTopicResult> = Vec::new();
    // Kafka: CREATE on the cluster or on each topic; configs are returned only with
    // DESCRIBE_CONFIGS on the topic.
    let may_create_any = ctx.authorize_cluster(AclOperation::Create);
    for t in &request.topics {
        let name = t.name.0.to_string();
        if counts.get(&name).copied().unwrap_or(0) > 1 {
            if !refused.iter().any(|r| r.name.0.as_str() == name) {
                refused.push(failed(
                    &name,
                    ResponseError::InvalidRequest.code(),
                    "Duplicate topic name.".into(),
                ));
            }
            continue;
        }
        if name == CLUSTER_METADATA_TOPIC {
            refused.push(failed(
                &name,
                ResponseError::InvalidRequest.code(),
                format!("Creation of internal topic {CLUSTER_METADATA_TOPIC} is prohibited."),
            ));
            continue;
        }
        if !may_create_any && !ctx.authorize(AclOperation::Create, ResourceType::Topic, &name) {
            results.push(failed(
                &name,
                ResponseError::TopicAuthorizationFailed.code(),
                "Authorization failed.".into(),
            ));
            continue;
        }
        let nulls: Vec<&str> = t
            .configs
            .iter()
            .filter(|c| c.value.is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !nulls.is_empty() {
            results.push(failed(
                &name,
                ResponseError::InvalidConfig.code(),
                format!(
                    "Null value not supported for topic configs: {}",
                    nulls.join(",")
                ),
            ));
            continue;
        }
        let (num_partitions, replication_factor) = match check_assignments(ctx, t) {
            Ok(v) => v,
            Err((code, message)) => {
                results.push(failed(&name, code, message));
                continue;
            }
        };
        let configs: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string())))
            .collect();
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
                    .with_error_message(None)
                    .with_num_partitions(partitions)
                    .with_replication_factor(1);
                if ctx.version >= 5 {
                    if ctx.authorize(AclOperation::DescribeConfigs, ResourceType::Topic, &name) {
                        r = r.with_configs(Some(describe_configs(ctx, &configs)));
                    } else {
                        r = r
                            .with_topic_config_error_code(
                                ResponseError::TopicAuthorizationFailed.code(),
                            )
                            .with_configs(Some(Vec::new()));
                    }
                }
                results.push(r);
            }
            Err(e) => results.push(failed(&name, e.code().code(), e.to_string())),
        }
    }
    results.extend(refused);
    Reply::message(ResponseKind::CreateTopics(
        CreateTopicsResponse::default().with_topics(results),
    ))
}

/// A topic's failed result, as Kafka writes one: no id, partitions and replication factor -1,
/// no configs (an empty list, v5+).
fn failed(name: &str, code: i16, message: String) -> CreatableTopicResult {
    CreatableTopicResult::default()
        .with_name(TopicName(owned_str(name)))
        .with_topic_id(Uuid::nil())
        .with_error_code(code)
        .with_error_message(Some(owned_str(&message)))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_configs(Some(Vec::new()))
}

/// Resolves manual replica assignments into a partition count, with Kafka's checks in Kafka's
/// order (`ReplicationControlManager.createTopic`), on a one-broker cluster.
fn check_assignments(
    ctx: &RequestContext<'_>,
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<(i32, i16), (i16, String)> {
    if t.assignments.is_empty() {
        return Ok((t.num_partitions, t.replication_factor));
    }
    let invalid_request = |what: &str| {
        (
            ResponseError::InvalidRequest.code(),
            format!("A manual partition assignment was specified, but {what} was not set to -1."),
        )
    };
    if t.replication_factor != -1 {
        return Err(invalid_request("replication factor"));
    }
    if t.num_partitions != -1 {
        return Err(invalid_request("numPartitions"));
    }
    let invalid_assignment = |m: String| (ResponseError::InvalidReplicaAssignment.code(), m);
    let mut seen = BTreeSet::new();
    for a in &t.assignments {
        if !seen.insert(a.partition_index) {
            return Err(invalid_assignment(format!(
                "Found multiple manual partition assignments for partition {}",
                a.partition_index
            )));
        }
        let brokers: Vec<i32> = a.broker_ids.iter().map(|b| b.0).collect();
        check_replicas(&brokers, ctx.broker.config.node_id)
            .map_err(|e| (e.code.code(), e.message))?;
    }
    // `seen` is sorted and has no repeats: 0, 1, 2, ... exactly when the i-th index is i.
    if seen
        .iter()
        .enumerate()
        .any(|(i, p)| i64::from(*p) != i as i64)
    {
        return Err(invalid_assignment(
            "partitions should be a consecutive 0-based integer sequence".into(),
        ));
    }
    // Every replica list is this one broker, once.
    Ok((t.assignments.len() as i32, 1))
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
