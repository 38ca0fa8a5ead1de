//! DescribeAcls (key 29), versions 1–3 (Kafka 4.4's range).
//!
//! Without an authorizer (`authorizer.class.name` unset) every request is answered with
//! SECURITY_DISABLED and "No Authorizer is configured on the broker", as Kafka does. With one,
//! the caller needs DESCRIBE on the cluster (else CLUSTER_AUTHORIZATION_FAILED), and the
//! answer is every binding the filter matches (`AclFilter::matches`: ANY, MATCH or one
//! pattern type; null name, principal and host match anything), grouped by resource pattern.
//! A filter with an UNKNOWN element (or a code Kafka does not know) fails Kafka's request
//! parsing, which closes the connection; so does it here.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{ApiKey, DescribeAclsRequest, DescribeAclsResponse, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use super::{ApiSpec, CLUSTER_AUTHORIZATION_MESSAGE, Reply, RequestContext, owned_str};
use crate::metadata::acls::{AclFilter, AclOperation, PatternFilter, Permission, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeAcls,
    min_version: 1,
    max_version: 3,
};

/// The wire code of ANY in Kafka's ACL enums.
const ANY: i8 = 1;

pub fn handle(ctx: &RequestContext<'_>, request: DescribeAclsRequest) -> Reply {
    let Some(filter) = parse_filter(&FilterFields {
        resource_type: request.resource_type_filter,
        resource_name: request.resource_name_filter.as_ref(),
        pattern_type: request.pattern_type_filter,
        principal: request.principal_filter.as_ref(),
        host: request.host_filter.as_ref(),
        operation: request.operation,
        permission: request.permission_type,
    }) else {
        return Reply::Close;
    };
    let refuse = |code: ResponseError, message: &str| {
        Reply::message(ResponseKind::DescribeAcls(
            DescribeAclsResponse::default()
                .with_error_code(code.code())
                .with_error_message(Some(owned_str(message)))
                .with_resources(vec![]),
        ))
    };
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return refuse(
            ResponseError::ClusterAuthorizationFailed,
            CLUSTER_AUTHORIZATION_MESSAGE,
        );
    }
    if !ctx.authorizer_enabled() {
        return refuse(
            ResponseError::SecurityDisabled,
            "No Authorizer is configured on the broker",
        );
    }
    let acls = ctx.broker.metadata.acls();
    let mut resources: BTreeMap<(i8, &str, i8), Vec<AclDescription>> = BTreeMap::new();
    for (_, b) in acls.iter().filter(|(_, b)| filter.matches(b)) {
        resources
            .entry((
                b.resource_type as i8,
                b.resource_name.as_str(),
                b.pattern_type as i8,
            ))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(owned_str(&b.principal))
                    .with_host(owned_str(&b.host))
                    .with_operation(b.operation as i8)
                    .with_permission_type(b.permission as i8),
            );
    }
    let resources = resources
        .into_iter()
        .map(|((ty, name, pattern), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(ty)
                .with_resource_name(owned_str(name))
                .with_pattern_type(pattern)
                .with_acls(acls)
        })
        .collect();
    Reply::message(ResponseKind::DescribeAcls(
        DescribeAclsResponse::default().with_resources(resources),
    ))
}

/// The fields of a DescribeAcls request or a DeleteAcls filter.
pub(super) struct FilterFields<'a> {
    pub resource_type: i8,
    pub resource_name: Option<&'a StrBytes>,
    pub pattern_type: i8,
    pub principal: Option<&'a StrBytes>,
    pub host: Option<&'a StrBytes>,
    pub operation: i8,
    pub permission: i8,
}

/// Kafka's `AclBindingFilter` from the wire; `None` when an element is UNKNOWN (Kafka refuses
/// to parse such a request).
pub(super) fn parse_filter(f: &FilterFields<'_>) -> Option<AclFilter> {
    fn any_or<T>(code: i8, parse: impl Fn(i8) -> Option<T>) -> Option<Option<T>> {
        if code == ANY {
            Some(None)
        } else {
            parse(code).map(Some)
        }
    }
    Some(AclFilter {
        resource_type: any_or(f.resource_type, ResourceType::from_code)?,
        resource_name: f.resource_name.map(|s| s.to_string()),
        pattern: PatternFilter::from_code(f.pattern_type)?,
        principal: f.principal.map(|s| s.to_string()),
        host: f.host.map(|s| s.to_string()),
        operation: any_or(f.operation, AclOperation::from_code)?,
        permission: any_or(f.permission, Permission::from_code)?,
    })
}
