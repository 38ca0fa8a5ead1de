//! DeleteGroups (key 42), versions 0–2.
//!
//! Only Empty groups can be deleted (NON_EMPTY_GROUP otherwise; GROUP_ID_NOT_FOUND for unknown
//! ones). A deleted group's committed offsets go with it: tombstones for each offset and for the
//! group metadata are written to `__consumer_offsets`, then the group is gone.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DeleteGroupsResponse, GroupId, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::metadata::acls::{AclOperation, ResourceType};
use kafka_protocol::ResponseError;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DeleteGroups,
    min_version: 0,
    max_version: 2,
};

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteGroupsRequest) -> Reply {
    // Kafka: DELETE on each group, else GROUP_AUTHORIZATION_FAILED for it.
    let (ids, refused): (Vec<String>, Vec<String>) = request
        .groups_names
        .iter()
        .map(|g| g.to_string())
        .partition(|g| ctx.authorize(AclOperation::Delete, ResourceType::Group, g));
    let mut results = if ids.is_empty() {
        Vec::new()
    } else {
        ctx.broker.groups.delete_groups(ids).await
    };
    results.extend(
        refused
            .into_iter()
            .map(|g| (g, ResponseError::GroupAuthorizationFailed.code())),
    );
    let results = results
        .into_iter()
        .map(|(id, code)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(owned_str(&id)))
                .with_error_code(code)
        })
        .collect();
    Reply::message(ResponseKind::DeleteGroups(
        DeleteGroupsResponse::default().with_results(results),
    ))
}
