//! Heartbeat (key 12), versions 0–4: keeps a member's session alive and tells it when a
//! rebalance has started (REBALANCE_IN_PROGRESS). v3+: `group_instance_id`.

use kafka_protocol::messages::{ApiKey, HeartbeatRequest, HeartbeatResponse, ResponseKind};

use super::{ApiSpec, Reply, RequestContext};
use crate::coordinator::group::coordinator;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::Heartbeat,
    min_version: 0,
    max_version: 4,
};

pub async fn handle(ctx: &RequestContext<'_>, request: HeartbeatRequest) -> Reply {
    let req = coordinator::HeartbeatRequest {
        group_id: request.group_id.to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.to_string(),
        group_instance_id: (ctx.version >= 3)
            .then(|| request.group_instance_id.as_ref().map(|s| s.to_string()))
            .flatten(),
    };
    let code = if ctx.may_read_group(&req.group_id) {
        ctx.broker.groups.heartbeat(req).await
    } else {
        kafka_protocol::ResponseError::GroupAuthorizationFailed.code()
    };
    Reply::message(ResponseKind::Heartbeat(
        HeartbeatResponse::default().with_error_code(code),
    ))
}
