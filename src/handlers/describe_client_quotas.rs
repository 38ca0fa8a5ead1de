//! DescribeClientQuotas (key 48), versions 0–1 (v1 is the flexible encoding).
//!
//! Kafka's `ClientQuotasImage.describe`: each filter component names an entity type (`user`,
//! `client-id`, `ip`) and a match type — EXACT (a name), DEFAULT (the default entity) or
//! SPECIFIED (any) — and with `strict` an entity may have no other types. Errors are Kafka's:
//! an empty or repeated type, a match string where none belongs (or none where one does), an
//! unknown match type, or `ip` combined with `user`/`client-id` give INVALID_REQUEST; an unknown
//! type gives UNSUPPORTED_VERSION; the response then has null entries. No `ip` entities exist
//! here (see `metadata::quotas`), so filters on them match nothing. Needs DESCRIBE_CONFIGS on the
//! cluster: otherwise CLUSTER_AUTHORIZATION_FAILED and null entries, as Kafka.

use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{
    ApiKey, DescribeClientQuotasRequest, DescribeClientQuotasResponse, ResponseKind,
};

use super::{ApiSpec, CLUSTER_AUTHORIZATION_MESSAGE, Reply, RequestContext, owned_str};
use crate::metadata::acls::AclOperation;
use crate::metadata::quotas::FilterComponent;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeClientQuotas,
    min_version: 0,
    max_version: 1,
};

pub fn handle(ctx: &RequestContext<'_>, request: DescribeClientQuotasRequest) -> Reply {
    if !ctx.authorize_cluster(AclOperation::DescribeConfigs) {
        return Reply::message(ResponseKind::DescribeClientQuotas(
            DescribeClientQuotasResponse::default()
                .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code())
                .with_error_message(Some(owned_str(CLUSTER_AUTHORIZATION_MESSAGE)))
                .with_entries(None),
        ));
    }
    let components: Vec<FilterComponent> = request
        .components
        .iter()
        .map(|c| FilterComponent {
            entity_type: c.entity_type.to_string(),
            match_type: c.match_type,
            name: c._match.as_ref().map(|m| m.to_string()),
        })
        .collect();
    let quotas = ctx.broker.metadata.client_quotas();
    let response = match quotas.describe(&components, request.strict) {
        Ok(found) => {
            let entries = found
                .into_iter()
                .map(|(entity, values)| {
                    EntryData::default()
                        .with_entity(
                            entity
                                .parts()
                                .into_iter()
                                .map(|(t, n)| {
                                    EntityData::default()
                                        .with_entity_type(owned_str(t))
                                        .with_entity_name(n.map(owned_str))
                                })
                                .collect(),
                        )
                        .with_values(
                            values
                                .iter()
                                .map(|(k, v)| {
                                    ValueData::default().with_key(owned_str(k)).with_value(*v)
                                })
                                .collect(),
                        )
                })
                .collect();
            DescribeClientQuotasResponse::default().with_entries(Some(entries))
        }
        Err(e) => DescribeClientQuotasResponse::default()
            .with_error_code(e.code.code())
            .with_error_message(Some(owned_str(&e.message)))
            .with_entries(None),
    };
    Reply::message(ResponseKind::DescribeClientQuotas(response))
}
