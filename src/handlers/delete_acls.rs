//! DeleteAcls (key 31), versions 1–3 (Kafka 4.4's range).
//!
//! Without an authorizer every filter fails with SECURITY_DISABLED ("No Authorizer is
//! configured."). With one, the caller needs ALTER on the cluster (else every filter gets
//! CLUSTER_AUTHORIZATION_FAILED). Each filter matches as in DescribeAcls (ANY, MATCH, one
//! pattern type; null fields match anything) and removes what it matches with
//! `RemoveAcl` metadata records; its result lists the removed bindings. A binding matched by
//! two filters is listed by both, as in Kafka. An UNKNOWN element fails Kafka's request
//! parsing, which closes the connection.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{ApiKey, DeleteAclsRequest, DeleteAclsResponse, ResponseKind};

use super::describe_acls::{FilterFields, parse_filter};
use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::metadata::acls::AclBinding;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DeleteAcls,
    min_version: 1,
    max_version: 3,
};

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteAclsRequest) -> Reply {
    let filters: Option<Vec<_>> = request
        .filters
        .iter()
        .map(|f| {
            parse_filter(&FilterFields {
                resource_type: f.resource_type_filter,
                resource_name: f.resource_name_filter.as_ref(),
                pattern_type: f.pattern_type_filter,
                principal: f.principal_filter.as_ref(),
                host: f.host_filter.as_ref(),
                operation: f.operation,
                permission: f.permission_type,
            })
        })
        .collect();
    let Some(filters) = filters else {
        return Reply::Close;
    };
    let count = filters.len();
    let refuse_all = |code: ResponseError, message: &str| {
        let result = DeleteAclsFilterResult::default()
            .with_error_code(code.code())
            .with_error_message(Some(owned_str(message)));
        Reply::message(ResponseKind::DeleteAcls(
            DeleteAclsResponse::default().with_filter_results(vec![result; count]),
        ))
    };
    if let Some((code, message)) = super::create_acls::refusal(ctx) {
        return refuse_all(code, message);
    }
    let results = ctx
        .broker
        .metadata
        .delete_acls(filters)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(deleted) => DeleteAclsFilterResult::default()
                .with_matching_acls(deleted.iter().map(matching).collect()),
            Err(e) => DeleteAclsFilterResult::default()
                .with_error_code(e.code.code())
                .with_error_message(Some(owned_str(&e.message))),
        })
        .collect();
    Reply::message(ResponseKind::DeleteAcls(
        DeleteAclsResponse::default().with_filter_results(results),
    ))
}

fn matching(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.resource_type as i8)
        .with_resource_name(owned_str(&b.resource_name))
        .with_pattern_type(b.pattern_type as i8)
        .with_principal(owned_str(&b.principal))
        .with_host(owned_str(&b.host))
        .with_operation(b.operation as i8)
        .with_permission_type(b.permission as i8)
}
