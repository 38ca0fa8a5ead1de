//! JoinGroup (key 11), versions 0–9: the first step of the classic group protocol.
//!
//! The request is handed to the group coordinator (`group::coordinator`), which answers at
//! once (errors, MEMBER_ID_REQUIRED, a rejoin within the current generation) or when the join
//! phase of the rebalance completes. Per version:
//! - v0: no rebalance timeout; the session timeout is used, as Kafka does.
//! - v4+: a first join without a member id gets MEMBER_ID_REQUIRED and an assigned id.
//! - v5+: `group_instance_id` (static membership). v7+: protocol type and name in responses.
//! - v8+: `reason` (logged only). v9+: `skip_assignment` for a static leader that rejoins.
//!
//! Member metadata passes through untouched. Bounds Kafka does not have: a member's protocol
//! metadata together must fit in `message.max.bytes` (it is stored in one record), and every
//! stored string must fit the record schema's 16-bit length; otherwise INVALID_REQUEST.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, JoinGroupRequest, JoinGroupResponse, ResponseKind};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::coordinator::group::classic::Protocol;
use crate::coordinator::group::coordinator::{JoinRequest, join_error};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::JoinGroup,
    min_version: 0,
    max_version: 9,
};

pub async fn handle(ctx: &RequestContext<'_>, request: JoinGroupRequest) -> Reply {
    let version = ctx.version;
    let response = match to_join_request(ctx, &request) {
        // Kafka answers with the unknown member id ("").
        _ if !ctx.may_read_group(&request.group_id) => join_error(
            "",
            kafka_protocol::ResponseError::GroupAuthorizationFailed.code(),
        ),
        Ok(req) => ctx.broker.groups.join_group(req).await,
        Err(code) => join_error(&request.member_id, code),
    };
    Reply::message(ResponseKind::JoinGroup(for_version(response, version)))
}

fn to_join_request(ctx: &RequestContext<'_>, r: &JoinGroupRequest) -> Result<JoinRequest, i16> {
    let version = ctx.version;
    let mut protocols: Vec<Protocol> = Vec::with_capacity(r.protocols.len());
    let mut metadata_bytes = 0usize;
    for p in &r.protocols {
        // Names are unique in Kafka's request collection; keep the first of any repeat.
        if protocols.iter().any(|x| x.name == p.name.as_str()) {
            continue;
        }
        metadata_bytes += p.metadata.len();
        protocols.push(Protocol {
            name: p.name.to_string(),
            // Copied: a slice would pin the whole request frame for the member's lifetime.
            metadata: Bytes::copy_from_slice(&p.metadata),
        });
    }
    let instance = if version >= 5 {
        r.group_instance_id.as_ref().map(|s| s.to_string())
    } else {
        None
    };
    let client_id = ctx
        .header
        .client_id
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let too_long = |s: &str| s.len() > i16::MAX as usize;
    if metadata_bytes > ctx.broker.config.log.max_message_bytes as usize
        || too_long(&r.group_id)
        || too_long(&r.protocol_type)
        || instance.as_deref().is_some_and(too_long)
        || protocols.iter().any(|p| too_long(&p.name))
    {
        tracing::warn!(group = %r.group_id.as_str(), "JoinGroup refused: metadata too large to store");
        return Err(ResponseError::InvalidRequest.code());
    }
    Ok(JoinRequest {
        group_id: r.group_id.to_string(),
        member_id: r.member_id.to_string(),
        group_instance_id: instance,
        session_timeout_ms: r.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            r.rebalance_timeout_ms
        } else {
            r.session_timeout_ms
        },
        protocol_type: r.protocol_type.to_string(),
        protocols,
        // Kafka's member ids start with the client id; keep them storable.
        client_id: client_id.chars().take(1024).collect(),
        client_host: format!("/{}", ctx.client_host),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    })
}

/// Drops what older versions cannot carry.
fn for_version(mut r: JoinGroupResponse, version: i16) -> JoinGroupResponse {
    if version < 7 {
        // Non-nullable before v7.
        r.protocol_name = Some(r.protocol_name.unwrap_or_else(|| owned_str("")));
        r.protocol_type = None;
    }
    if version < 9 {
        r.skip_assignment = false;
    }
    if version < 5 {
        for m in &mut r.members {
            m.group_instance_id = None;
        }
    }
    r
}
