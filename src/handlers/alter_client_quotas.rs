//! AlterClientQuotas (key 49), versions 0–1 (v1 is the flexible encoding).
//!
//! Kafka's controller checks (`ClientQuotaControlManager`), each failure an INVALID_REQUEST for
//! that entity with Kafka's message: an empty entity, an unknown entity type, an empty name,
//! an unknown quota key, a value not above 0, a fractional byte rate; a key or an entity named
//! twice answers "Ignoring duplicate entity …" as Kafka does. Entities are a `user`, a
//! `client-id` or both, each named or the default (null name). Removing a key that is not set
//! is a success that changes nothing. `validate_only` checks and changes nothing. Changes are
//! `ClientQuota` metadata records, journaled, so they survive restarts; enforcement
//! (`crate::quota`) sees them at once.
//!
//! Needs ALTER_CONFIGS on the cluster: otherwise every entry gets CLUSTER_AUTHORIZATION_FAILED,
//! as Kafka's `getErrorResponse`.
//!
//! Not supported: `ip` entities (`connection_creation_rate`), refused with INVALID_REQUEST.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, ResponseKind,
};

use super::{ApiSpec, CLUSTER_AUTHORIZATION_MESSAGE, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::QuotaAlteration;
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::AlterClientQuotas,
    min_version: 0,
    max_version: 1,
};

pub async fn handle(ctx: &RequestContext<'_>, request: AlterClientQuotasRequest) -> Reply {
    if !ctx.authorize_cluster(AclOperation::AlterConfigs) {
        let entries = request
            .entries
            .iter()
            .map(|e| {
                EntryData::default()
                    .with_entity(
                        e.entity
                            .iter()
                            .map(|d| {
                                EntityData::default()
                                    .with_entity_type(d.entity_type.clone())
                                    .with_entity_name(d.entity_name.clone())
                            })
                            .collect(),
                    )
                    .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
                    .with_error_message(Some(owned_str(CLUSTER_AUTHORIZATION_MESSAGE)))
            })
            .collect();
        return Reply::message(ResponseKind::AlterClientQuotas(
            AlterClientQuotasResponse::default().with_entries(entries),
        ));
    }
    let entries: Vec<QuotaAlteration> = request
        .entries
        .iter()
        .map(|e| QuotaAlteration {
            entity: e
                .entity
                .iter()
                .map(|p| {
                    (
                        p.entity_type.to_string(),
                        p.entity_name.as_ref().map(|n| n.to_string()),
                    )
                })
                .collect(),
            ops: e
                .ops
                .iter()
                .map(|o| (o.key.to_string(), (!o.remove).then_some(o.value)))
                .collect(),
        })
        .collect();
    let results = match ctx
        .broker
        .metadata
        .alter_client_quotas(entries.clone(), request.validate_only)
        .await
    {
        Ok(results) => results,
        Err(e) => entries
            .into_iter()
            .map(|a| {
                let err = crate::metadata::quotas::QuotaError {
                    code: ResponseError::KafkaStorageError,
                    message: e.to_string(),
                };
                (a.entity.into_iter().collect(), Err(err))
            })
            .collect(),
    };
    let entries = results
        .into_iter()
        .map(|(entity, result)| {
            let (code, message) = match result {
                Ok(()) => (NONE, None),
                Err(e) => (e.code.code(), Some(owned_str(&e.message))),
            };
            EntryData::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_entity(
                    entity
                        .iter()
                        .map(|(t, n)| {
                            EntityData::default()
                                .with_entity_type(owned_str(t))
                                .with_entity_name(n.as_deref().map(owned_str))
                        })
                        .collect(),
                )
        })
        .collect();
    Reply::message(ResponseKind::AlterClientQuotas(
        AlterClientQuotasResponse::default().with_entries(entries),
    ))
}
