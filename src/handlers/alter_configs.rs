//! AlterConfigs (key 33), versions 0–2: the legacy whole-set replacement.
//!
//! Each resource's configs replace everything set on it before (keys not named are deleted), as
//! in Kafka. Checks, in Kafka's order (`ConfigAdminManager.preprocess`, then the controller):
//! a resource named twice → INVALID_REQUEST for both; a config named twice or a null value →
//! INVALID_REQUEST; TOPIC: empty name INVALID_REQUEST, illegal name INVALID_TOPIC_EXCEPTION,
//! unknown or invalid config INVALID_CONFIG, then a missing topic UNKNOWN_TOPIC_OR_PARTITION;
//! BROKER: name "" (cluster default) or this node's id, else INVALID_REQUEST; a read-only,
//! per-broker-only or unparsable config → INVALID_REQUEST with Kafka's message. `validate_only`
//! checks everything and changes nothing. Changes are journaled, so they survive restarts.
//!
//! Not supported (INVALID_REQUEST): BROKER_LOGGER, CLIENT_METRICS and GROUP resources.

use std::collections::{BTreeMap, HashMap, HashSet};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, ApiKey, ResponseKind};

use super::describe_configs::resource_type;
use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::AdminError;
use crate::metadata::acls::AclOperation;
use crate::metadata::topics::validate_topic_name;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::AlterConfigs,
    min_version: 0,
    max_version: 2,
};

pub async fn handle(ctx: &RequestContext<'_>, request: AlterConfigsRequest) -> Reply {
    let duplicated = duplicated_resources(
        request
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str())),
    );
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in &request.resources {
        let name = r.resource_name.as_str();
        let result = if duplicated.contains(&(r.resource_type, name)) {
            Err(duplicate_resource())
        } else if let Err(code) =
            ctx.authorize_config_resource(AclOperation::AlterConfigs, r.resource_type, name)
        {
            Err(refused(code))
        } else {
            let pairs: Vec<(&str, Option<&str>)> = r
                .configs
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_deref()))
                .collect();
            alter(ctx, r.resource_type, name, &pairs, request.validate_only).await
        };
        let (code, message) = match result {
            Ok(()) => (NONE, None),
            Err(e) => (e.code.code(), Some(e.message)),
        };
        responses.push(
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message.map(|m| owned_str(&m)))
                .with_resource_type(r.resource_type)
                .with_resource_name(owned_str(name)),
        );
    }
    Reply::message(ResponseKind::AlterConfigs(
        AlterConfigsResponse::default().with_responses(responses),
    ))
}

async fn alter(
    ctx: &RequestContext<'_>,
    resource_type: i8,
    name: &str,
    pairs: &[(&str, Option<&str>)],
    validate_only: bool,
) -> Result<(), AdminError> {
    check_config_names(pairs.iter().map(|(n, _)| *n))?;
    let nulls: Vec<&str> = pairs
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !nulls.is_empty() {
        return Err(AdminError::new(
            ResponseError::InvalidRequest,
            format!("Null value not supported for : {}", nulls.join(", ")),
        ));
    }
    let configs: BTreeMap<String, String> = pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.unwrap_or_default().to_string()))
        .collect();
    match resource_type {
        resource_type::TOPIC => {
            check_topic_resource(name)?;
            ctx.broker
                .metadata
                .alter_topic_configs(name, configs, validate_only)
                .await
        }
        resource_type::BROKER => {
            let node = broker_resource(ctx, name)?;
            ctx.broker
                .metadata
                .alter_broker_configs(node, configs, validate_only)
                .await
        }
        other => Err(AdminError::new(
            ResponseError::InvalidRequest,
            format!("Unknown resource type {other}"),
        )),
    }
}

/// (type, name) pairs that appear more than once in a request.
pub(super) fn duplicated_resources<'a>(
    resources: impl Iterator<Item = (i8, &'a str)>,
) -> HashSet<(i8, &'a str)> {
    let mut counts: HashMap<(i8, &str), usize> = HashMap::new();
    for r in resources {
        *counts.entry(r).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(r, _)| r)
        .collect()
}

/// A config resource the client may not alter (Kafka sends the error's own text).
pub(super) fn refused(code: i16) -> AdminError {
    let text = if code == ResponseError::TopicAuthorizationFailed.code() {
        "Topic authorization failed."
    } else if code == ResponseError::GroupAuthorizationFailed.code() {
        "Group authorization failed."
    } else {
        "Cluster authorization failed."
    };
    let error =
        ResponseError::try_from_code(code).unwrap_or(ResponseError::ClusterAuthorizationFailed);
    AdminError::new(error, text)
}

pub(super) fn duplicate_resource() -> AdminError {
    AdminError::new(
        ResponseError::InvalidRequest,
        "Each resource must appear at most once.",
    )
}

/// A config named twice in one resource is refused.
pub(super) fn check_config_names<'a>(
    names: impl Iterator<Item = &'a str>,
) -> Result<(), AdminError> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(AdminError::new(
                ResponseError::InvalidRequest,
                "Error due to duplicate config keys",
            ));
        }
    }
    Ok(())
}

/// Kafka's `ControllerConfigurationValidator.validateTopicName`.
pub(super) fn check_topic_resource(name: &str) -> Result<(), AdminError> {
    if name.is_empty() {
        return Err(AdminError::new(
            ResponseError::InvalidRequest,
            "Default topic resources are not allowed.",
        ));
    }
    validate_topic_name(name).map_err(|m| AdminError::new(ResponseError::InvalidTopicException, m))
}

/// A BROKER resource name: "" is the cluster-wide default (`None`), else it must be this
/// node's id (Kafka's `validateResourceNameIsCurrentNodeId`).
pub(super) fn broker_resource(
    ctx: &RequestContext<'_>,
    name: &str,
) -> Result<Option<i32>, AdminError> {
    if name.is_empty() {
        return Ok(None);
    }
    let node = ctx.broker.config.node_id;
    let id: i32 = name.parse().map_err(|_| {
        AdminError::new(
            ResponseError::InvalidRequest,
            format!("Node id must be an integer, but it is: {name}"),
        )
    })?;
    if id != node {
        return Err(AdminError::new(
            ResponseError::InvalidRequest,
            format!("Unexpected broker id, expected {node}, but received {name}"),
        ));
    }
    Ok(Some(id))
}
