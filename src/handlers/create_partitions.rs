//! CreatePartitions (key 37), versions 0–3.
//!
//! Grows a topic to `count` partitions, as Kafka's controller does: a topic named twice in one
//! request → INVALID_REQUEST ("Duplicate topic name.") once for that name; a missing topic →
//! UNKNOWN_TOPIC_OR_PARTITION; a count equal to or below the current one → INVALID_PARTITIONS;
//! manual assignments must give one list per new partition naming only this broker, once
//! (INVALID_REPLICA_ASSIGNMENT otherwise); more than 10,000 new partitions at once →
//! POLICY_VIOLATION. `validate_only` checks and changes nothing. The new partitions are
//! journaled before they exist, so Metadata and DescribeTopicPartitions show them at once and
//! after restarts. `timeout_ms` has nothing to wait for on one node.

use std::collections::HashMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::CreatePartitions,
    min_version: 0,
    max_version: 3,
};

pub async fn handle(ctx: &RequestContext<'_>, request: CreatePartitionsRequest) -> Reply {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &request.topics {
        *counts.entry(t.name.0.as_str()).or_default() += 1;
    }
    let result = |name: &str, code: i16, message: Option<String>| {
        CreatePartitionsTopicResult::default()
            .with_name(TopicName(owned_str(name)))
            .with_error_code(code)
            .with_error_message(message.map(|m| owned_str(&m)))
    };
    let mut results = Vec::with_capacity(request.topics.len());
    let mut reported_duplicates = Vec::new();
    for t in &request.topics {
        let name = t.name.0.as_str();
        if counts.get(name).copied().unwrap_or(0) > 1 {
            if !reported_duplicates.contains(&name) {
                reported_duplicates.push(name);
                results.push(result(
                    name,
                    ResponseError::InvalidRequest.code(),
                    Some("Duplicate topic name.".into()),
                ));
            }
            continue;
        }
        // Kafka: ALTER on the topic.
        if !ctx.authorize(AclOperation::Alter, ResourceType::Topic, name) {
            results.push(result(
                name,
                ResponseError::TopicAuthorizationFailed.code(),
                None,
            ));
            continue;
        }
        let assignments: Option<Vec<Vec<i32>>> = t.assignments.as_ref().map(|list| {
            list.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
                .collect()
        });
        let outcome = ctx
            .broker
            .metadata
            .create_partitions(name, t.count, assignments, request.validate_only)
            .await;
        results.push(match outcome {
            Ok(()) => result(name, NONE, None),
            Err(e) => result(
                name,
                e.code.code(),
                Some(e.message).filter(|m| !m.is_empty()),
            ),
        });
    }
    Reply::message(ResponseKind::CreatePartitions(
        CreatePartitionsResponse::default().with_results(results),
    ))
}
