//! DescribeGroups (key 15), versions 0–5.
//!
//! Each group's state, protocol type, and members (member id, instance id (v4+), client id,
//! client host as Kafka prints it ("/127.0.0.1"), and assignment). Member metadata and the
//! selected protocol are filled in only for Stable groups, as Kafka does. A group that does not
//! exist is reported in state "Dead" without an error (v6, not served, would say
//! GROUP_ID_NOT_FOUND). v3+: authorized operations when asked for (what the authorizer allows of
//! READ, DELETE, DESCRIBE). A group the client may not DESCRIBE answers
//! GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext};
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeGroups,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: DescribeGroupsRequest) -> Reply {
    let ids: Vec<String> = request.groups.iter().map(|g| g.to_string()).collect();
    // Kafka: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED for it.
    let may_describe = |g: &str| ctx.authorize(AclOperation::Describe, ResourceType::Group, g);
    let (ids, refused): (Vec<String>, Vec<String>) = ids.into_iter().partition(|g| may_describe(g));
    let refused = refused.into_iter().map(|id| {
        DescribedGroup::default()
            .with_group_id(kafka_protocol::messages::GroupId(super::owned_str(&id)))
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code())
            .with_authorized_operations(i32::MIN)
    });
    let groups = match ctx.broker.groups.describe_groups(ids.clone()).await {
        Ok(groups) => groups,
        Err(code) => ids
            .iter()
            .map(|id| {
                DescribedGroup::default()
                    .with_group_id(kafka_protocol::messages::GroupId(super::owned_str(id)))
                    .with_error_code(code)
            })
            .collect(),
    };
    let with_ops = ctx.version >= 3 && request.include_authorized_operations;
    let groups = groups
        .into_iter()
        .map(|mut g| {
            if with_ops {
                g.authorized_operations =
                    ctx.authorized_operations(ResourceType::Group, g.group_id.as_str());
            }
            if ctx.version < 4 {
                for m in &mut g.members {
                    m.group_instance_id = None;
                }
            }
            g
        })
        .chain(refused)
        .collect();
    Reply::message(ResponseKind::DescribeGroups(
        DescribeGroupsResponse::default().with_groups(groups),
    ))
}
