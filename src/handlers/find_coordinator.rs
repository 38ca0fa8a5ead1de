//! FindCoordinator (key 10), versions 0–6.
//!
//! - Group keys (key type 0) are answered with this broker's advertised listener: every group's
//!   coordinator is here. Like Kafka, the first lookup creates `__consumer_offsets`
//!   (`offsets.topic.num.partitions` partitions); if that fails the answer is
//!   COORDINATOR_NOT_AVAILABLE, which clients retry.
//! - v0–3 carry one `key`; v4+ carry `coordinator_keys` and answer each in `coordinators`.
//! - Transactional ids (key type 1) are answered the same way: the transaction coordinator is
//!   here too, and the first lookup creates `__transaction_state`
//!   (`transaction.state.log.num.partitions` partitions).
//! - Other key types answer INVALID_REQUEST, what Kafka returns for a key type it does not
//!   serve (an unknown type, or share groups when the share coordinator is off).
//! - Errors carry Kafka's error message (v1–3 in the response, v4+ per key; an unknown key type
//!   gets INVALID_REQUEST's own text); failed lookups name node -1, host "", port -1.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind,
};

use super::{ApiSpec, INVALID_REQUEST_MESSAGE, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::FindCoordinator,
    min_version: 0,
    max_version: 6,
};

const GROUP_KEY_TYPE: i8 = 0;
const TRANSACTION_KEY_TYPE: i8 = 1;

/// Where a key's coordinator is: (error, node id, host, port, message).
struct Found {
    error_code: i16,
    node_id: i32,
    host: String,
    port: i32,
    message: &'static str,
}

pub async fn handle(ctx: &RequestContext<'_>, request: FindCoordinatorRequest) -> Reply {
    let version = ctx.version;
    let key_type = if version >= 1 {
        request.key_type
    } else {
        GROUP_KEY_TYPE
    };
    if version >= 4 {
        let mut coordinators = Vec::with_capacity(request.coordinator_keys.len());
        for key in &request.coordinator_keys {
            let found = lookup(ctx, key_type, key).await;
            // v4+ explains only errors; a found coordinator carries "".
            let message = if found.error_code == NONE {
                ""
            } else {
                found.message
            };
            coordinators.push(
                Coordinator::default()
                    .with_key(owned_str(key))
                    .with_node_id(BrokerId(found.node_id))
                    .with_host(owned_str(&found.host))
                    .with_port(found.port)
                    .with_error_code(found.error_code)
                    .with_error_message(Some(owned_str(message))),
            );
        }
        return Reply::message(ResponseKind::FindCoordinator(
            FindCoordinatorResponse::default().with_coordinators(coordinators),
        ));
    }
    let found = lookup(ctx, key_type, &request.key).await;
    let mut response = FindCoordinatorResponse::default()
        .with_error_code(found.error_code)
        .with_node_id(BrokerId(found.node_id))
        .with_host(owned_str(&found.host))
        .with_port(found.port);
    if version >= 1 {
        response = response.with_error_message(Some(owned_str(found.message)));
    }
    Reply::message(ResponseKind::FindCoordinator(response))
}

async fn lookup(ctx: &RequestContext<'_>, key_type: i8, key: &str) -> Found {
    let failed = |error_code, message| Found {
        error_code,
        node_id: -1,
        host: String::new(),
        port: -1,
        message,
    };
    // Kafka: DESCRIBE on the group or the transactional id.
    let refused = match key_type {
        GROUP_KEY_TYPE => (!ctx.authorize(AclOperation::Describe, ResourceType::Group, key))
            .then_some((
                ResponseError::GroupAuthorizationFailed,
                "Group authorization failed.",
            )),
        TRANSACTION_KEY_TYPE => {
            (!ctx.authorize(AclOperation::Describe, ResourceType::TransactionalId, key)).then_some(
                (
                    ResponseError::TransactionalIdAuthorizationFailed,
                    "Transactional Id authorization failed.",
                ),
            )
        }
        _ => None,
    };
    if let Some((code, message)) = refused {
        return failed(code.code(), message);
    }
    let ready = match key_type {
        GROUP_KEY_TYPE => ctx.broker.groups.ensure_ready().await,
        TRANSACTION_KEY_TYPE => ctx.broker.transactions.ensure_ready().await,
        _ => {
            // Kafka explains an unknown key type with INVALID_REQUEST's own message.
            return failed(
                ResponseError::InvalidRequest.code(),
                INVALID_REQUEST_MESSAGE,
            );
        }
    };
    if ready.is_err() {
        return failed(
            ResponseError::CoordinatorNotAvailable.code(),
            "The coordinator is not available.",
        );
    }
    let advertised = ctx.broker.config.advertised_for(ctx.listener);
    Found {
        error_code: NONE,
        node_id: ctx.broker.config.node_id,
        host: advertised.host.clone(),
        port: i32::from(advertised.port),
        // What Kafka's `Errors.NONE.message()` says.
        message: "NONE",
    }
}
