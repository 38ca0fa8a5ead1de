//! IncrementalAlterConfigs (key 44), versions 0–1: what `kafka-configs.sh --alter` sends.
//!
//! Operations per config: SET (0), DELETE (1), APPEND (2) and SUBTRACT (3) — the last two only
//! for LIST configs (ResponseError::InvalidConfig.code() otherwise), starting from the current value or the default
//! and adding missing / removing present comma-separated items, as Kafka's
//! `ConfigurationControlManager` does. The result replaces the resource's configs after the same
//! checks as AlterConfigs (see `alter_configs.rs`): duplicate resources or keys, null values for
//! anything but DELETE, an unknown operation → INVALID_REQUEST; topic configs → ResponseError::InvalidConfig.code();
//! broker configs that cannot change at run time → INVALID_REQUEST. `validate_only` changes
//! nothing. Changes are journaled and reach live partitions at once.
//!
//! Not supported (INVALID_REQUEST): BROKER_LOGGER (log levels), CLIENT_METRICS and GROUP.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ResponseKind,
};

use super::alter_configs::{
    broker_resource, check_config_names, check_topic_resource, duplicate_resource,
    duplicated_resources,
};
use super::describe_configs::resource_type;
use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::config::catalogue::{self, ConfigType};
use crate::config::topic as topic_config;
use crate::log::error::NONE;
use crate::metadata::AdminError;
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::IncrementalAlterConfigs,
    min_version: 0,
    max_version: 1,
};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// One requested operation.
#[derive(Debug, Clone, Copy)]
pub struct Op<'a> {
    pub name: &'a str,
    pub op: i8,
    pub value: Option<&'a str>,
}

pub async fn handle(ctx: &RequestContext<'_>, request: IncrementalAlterConfigsRequest) -> Reply {
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
            Err(super::alter_configs::refused(code))
        } else {
            let ops: Vec<Op<'_>> = r
                .configs
                .iter()
                .map(|c| Op {
                    name: c.name.as_str(),
                    op: c.config_operation,
                    value: c.value.as_deref(),
                })
                .collect();
            alter(ctx, r.resource_type, name, &ops, request.validate_only).await
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
    Reply::message(ResponseKind::IncrementalAlterConfigs(
        IncrementalAlterConfigsResponse::default().with_responses(responses),
    ))
}

async fn alter(
    ctx: &RequestContext<'_>,
    resource_type: i8,
    name: &str,
    ops: &[Op<'_>],
    validate_only: bool,
) -> Result<(), AdminError> {
    check_config_names(ops.iter().map(|o| o.name))?;
    let nulls: Vec<&str> = ops
        .iter()
        .filter(|o| o.op != DELETE && o.value.is_none())
        .map(|o| o.name)
        .collect();
    if !nulls.is_empty() {
        return Err(AdminError::new(
            ResponseError::InvalidRequest,
            format!("Null value not supported for : {}", nulls.join(", ")),
        ));
    }
    if let Some(o) = ops.iter().find(|o| !(SET..=SUBTRACT).contains(&o.op)) {
        return Err(AdminError::new(
            ResponseError::InvalidRequest,
            format!("Unknown operations type {}", o.op),
        ));
    }
    match resource_type {
        resource_type::TOPIC => {
            check_topic_resource(name)?;
            let current = ctx
                .broker
                .topics
                .get(name)
                .map(|t| t.configs.clone())
                .unwrap_or_default();
            let configs = apply(current, ops, |key| {
                topic_config::find(key)
                    .filter(|d| d.ty == ConfigType::List)
                    .map(|d| d.default.to_string())
            })?;
            ctx.broker
                .metadata
                .alter_topic_configs(name, configs, validate_only)
                .await
        }
        resource_type::BROKER => {
            let node = broker_resource(ctx, name)?;
            let dynamic = ctx.broker.dynamic_configs();
            let current = match node {
                None => dynamic.cluster,
                Some(_) => dynamic.broker,
            };
            let configs = apply(current, ops, |key| {
                catalogue::find(key)
                    .filter(|d| d.ty == ConfigType::List)
                    .map(|d| d.default.unwrap_or_default().to_string())
            })?;
            ctx.broker
                .metadata
                .alter_broker_configs(node, configs, validate_only)
                .await
        }
        resource_type::BROKER_LOGGER | resource_type::CLIENT_METRICS | resource_type::GROUP => {
            Err(AdminError::new(
                ResponseError::InvalidRequest,
                format!(
                    "Altering resources of type {resource_type} is not supported by this broker"
                ),
            ))
        }
        other => Err(AdminError::new(
            ResponseError::InvalidRequest,
            format!("Unknown resource type {other}"),
        )),
    }
}

/// Applies the operations to `current`. `list_default(key)` is the default of a LIST config
/// (`None` for anything else, which refuses APPEND and SUBTRACT).
pub fn apply(
    mut current: BTreeMap<String, String>,
    ops: &[Op<'_>],
    list_default: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, AdminError> {
    for o in ops {
        let value = o.value.unwrap_or_default();
        match o.op {
            SET => {
                current.insert(o.name.to_string(), value.to_string());
            }
            DELETE => {
                current.remove(o.name);
            }
            _ => {
                let Some(default) = list_default(o.name) else {
                    let verb = if o.op == APPEND { "APPEND" } else { "SUBTRACT" };
                    return Err(AdminError::new(
                        ResponseError::InvalidConfig,
                        format!(
                            "Can't {verb} to key {} because its type is not LIST.",
                            o.name
                        ),
                    ));
                };
                let base = current.get(o.name).cloned().unwrap_or(default);
                let mut items: Vec<String> = base
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for v in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if o.op == APPEND {
                        if !items.iter().any(|i| i == v) {
                            items.push(v.to_string());
                        }
                    } else {
                        items.retain(|i| i != v);
                    }
                }
                current.insert(o.name.to_string(), items.join(","));
            }
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op<'a>(name: &'a str, op: i8, value: Option<&'a str>) -> Op<'a> {
        Op { name, op, value }
    }

    #[test]
    fn operations_follow_kafka() {
        let defaults = |k: &str| (k == "cleanup.policy").then(|| "delete".to_string());
        let start = BTreeMap::from([("retention.ms".to_string(), "5".to_string())]);
        let out = apply(
            start.clone(),
            &[
                op("cleanup.policy", APPEND, Some("compact")),
                op("retention.ms", DELETE, None),
                op("segment.ms", SET, Some("100")),
            ],
            defaults,
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "delete,compact");
        assert!(!out.contains_key("retention.ms"));
        assert_eq!(out["segment.ms"], "100");
        let out = apply(
            out,
            &[op("cleanup.policy", SUBTRACT, Some("delete"))],
            defaults,
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "compact");
        let out = apply(
            out,
            &[op("cleanup.policy", APPEND, Some("compact"))],
            defaults,
        )
        .unwrap();
        assert_eq!(out["cleanup.policy"], "compact", "no duplicates");
        let e = apply(start, &[op("retention.ms", APPEND, Some("1"))], defaults).unwrap_err();
        assert_eq!(e.code, ResponseError::InvalidConfig);
        assert!(e.message.contains("not LIST"));
    }
}
