//! LeaveGroup (key 13), versions 0–5.
//!
//! - v0–2: one `member_id`; the member's error is the response's error.
//! - v3+: a batch of members, each by member id and/or `group_instance_id` (an empty member id
//!   with an instance id removes that static member, as the admin client does); per-member
//!   errors. v5+: `reason` (not stored).
//! - An unknown group answers UNKNOWN_MEMBER_ID for every member, as Kafka does.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{ApiKey, LeaveGroupRequest, LeaveGroupResponse, ResponseKind};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::coordinator::group::coordinator::LeavingMember;
use crate::log::error::NONE;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::LeaveGroup,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: LeaveGroupRequest) -> Reply {
    let version = ctx.version;
    let members: Vec<LeavingMember> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            })
            .collect()
    } else {
        vec![LeavingMember {
            member_id: request.member_id.to_string(),
            group_instance_id: None,
        }]
    };
    let result = if !ctx.may_read_group(&request.group_id) {
        Err(ResponseError::GroupAuthorizationFailed.code())
    } else if request.group_id.is_empty() {
        Err(ResponseError::InvalidGroupId.code())
    } else {
        ctx.broker
            .groups
            .leave_group(request.group_id.to_string(), members)
            .await
    };
    let response = match result {
        Err(code) => LeaveGroupResponse::default().with_error_code(code),
        Ok(results) if version < 3 => {
            let code = results
                .iter()
                .map(|r| r.error_code)
                .find(|c| *c != NONE)
                .unwrap_or(NONE);
            LeaveGroupResponse::default().with_error_code(code)
        }
        Ok(results) => LeaveGroupResponse::default().with_members(
            results
                .into_iter()
                .map(|r| {
                    MemberResponse::default()
                        .with_member_id(owned_str(&r.member_id))
                        .with_group_instance_id(r.group_instance_id.as_deref().map(owned_str))
                        .with_error_code(r.error_code)
                })
                .collect(),
        ),
    };
    Reply::message(ResponseKind::LeaveGroup(response))
}
