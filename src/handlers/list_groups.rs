//! ListGroups (key 16), versions 0–5: every group on this broker.
//!
//! v4+: `states_filter` (case-insensitive state names). v5+: `types_filter`; every group here is
//! a classic group ("classic"), so a filter without "classic" lists nothing. State (v4+) and
//! type (v5+) are reported as Kafka names them.

use kafka_protocol::messages::{ApiKey, ListGroupsRequest, ListGroupsResponse, ResponseKind};

use super::{ApiSpec, Reply, RequestContext};
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::ListGroups,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: ListGroupsRequest) -> Reply {
    let strings = |v: &[kafka_protocol::protocol::StrBytes]| -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    };
    let states = if ctx.version >= 4 {
        strings(&request.states_filter)
    } else {
        Vec::new()
    };
    let types = if ctx.version >= 5 {
        strings(&request.types_filter)
    } else {
        Vec::new()
    };
    let response = match ctx.broker.groups.list_groups(states, types).await {
        // Kafka: DESCRIBE on the cluster lists every group, else those the client may DESCRIBE.
        Ok(groups) => {
            let all = ctx.authorize_cluster(AclOperation::Describe);
            let groups = groups
                .into_iter()
                .filter(|g| {
                    all || ctx.authorize(AclOperation::Describe, ResourceType::Group, &g.group_id)
                })
                .collect();
            ListGroupsResponse::default().with_groups(groups)
        }
        Err(code) => ListGroupsResponse::default().with_error_code(code),
    };
    Reply::message(ResponseKind::ListGroups(response))
}
