//! DescribeAcls (key 29), versions 1–3.
//!
//! No authorizer is configured (`authorizer.class.name` is empty), so, as Kafka does, every
//! request is answered with ResponseError::SecurityDisabled.code() and "No Authorizer is configured on the broker",
//! whatever the filter. Tools such as kafka-ui show that as "ACLs not enabled".

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, DescribeAclsRequest, DescribeAclsResponse, ResponseKind};

use super::{ApiSpec, Reply, RequestContext, owned_str};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeAcls,
    min_version: 1,
    max_version: 3,
};

pub fn handle(_ctx: &RequestContext<'_>, _request: DescribeAclsRequest) -> Reply {
    Reply::message(ResponseKind::DescribeAcls(
        DescribeAclsResponse::default()
            .with_error_code(ResponseError::SecurityDisabled.code())
            .with_error_message(Some(owned_str("No Authorizer is configured on the broker")))
            .with_resources(vec![]),
    ))
}
