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

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DeleteGroups,
    min_version: 0,
    max_version: 2,
};

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteGroupsRequest) -> Reply {
    let ids: Vec<String> = request.groups_names.iter().map(|g| g.to_string()).collect();
    let results = ctx.broker.groups.delete_groups(ids).await;
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
