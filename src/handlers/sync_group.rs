//! SyncGroup (key 14), versions 0–5: members collect their assignment; the leader brings it.
//!
//! The leader's assignment is stored in `__consumer_offsets` (GroupMetadata record) before any
//! member is answered; assignment bytes pass through untouched. Members that the leader left
//! out get an empty assignment, as in Kafka. v3+: `group_instance_id`. v5+: protocol type and
//! name are checked against the group's (INCONSISTENT_GROUP_PROTOCOL) and returned.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ResponseKind, SyncGroupRequest, SyncGroupResponse};

use super::{ApiSpec, Reply, RequestContext};
use crate::coordinator::group::coordinator::SyncRequest;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::SyncGroup,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: SyncGroupRequest) -> Reply {
    let version = ctx.version;
    let req = SyncRequest {
        group_id: request.group_id.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: (version >= 3)
            .then(|| request.group_instance_id.as_ref().map(|s| s.to_string()))
            .flatten(),
        protocol_type: (version >= 5)
            .then(|| request.protocol_type.as_ref().map(|s| s.to_string()))
            .flatten(),
        protocol_name: (version >= 5)
            .then(|| request.protocol_name.as_ref().map(|s| s.to_string()))
            .flatten(),
        assignments: request
            .assignments
            .iter()
            .map(|a| {
                (
                    a.member_id.to_string(),
                    Bytes::copy_from_slice(&a.assignment),
                )
            })
            .collect(),
    };
    let mut response: SyncGroupResponse = if ctx.may_read_group(&req.group_id) {
        ctx.broker.groups.sync_group(req).await
    } else {
        crate::coordinator::group::coordinator::sync_error(
            kafka_protocol::ResponseError::GroupAuthorizationFailed.code(),
        )
    };
    if version < 5 {
        response.protocol_type = None;
        response.protocol_name = None;
    }
    Reply::message(ResponseKind::SyncGroup(response))
}
