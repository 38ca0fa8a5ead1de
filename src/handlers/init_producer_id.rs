//! InitProducerId (key 22), versions 0–5.
//!
//! - Without a transactional id Kafka always hands out a fresh producer id with epoch 0,
//!   whatever id/epoch the client sends (KIP-360 epoch bumps only apply to transactional
//!   producers), and so does Vltava. Ids come from journaled blocks, so they never repeat
//!   across restarts.
//! - With one, the transaction coordinator answers (`coordinator::txn`): a new id gets a
//!   producer id at epoch 0, a known one its epoch bumped (fencing the previous producer, and
//!   aborting a transaction it left open); `transaction.timeout.ms` above
//!   `transaction.max.timeout.ms` is INVALID_TRANSACTION_TIMEOUT.
//! - As Kafka, PRODUCER_FENCED is sent as INVALID_PRODUCER_EPOCH to clients older than v4,
//!   which do not know it, and a request (v3+) with only one of producer id and epoch is
//!   INVALID_REQUEST.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::InitProducerId,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: InitProducerIdRequest) -> Reply {
    let base = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    // Kafka: WRITE on the transactional id; without one, IDEMPOTENT_WRITE on the cluster or
    // WRITE on some topic.
    let refusal = match &request.transactional_id {
        Some(id) if !ctx.authorize(AclOperation::Write, ResourceType::TransactionalId, id) => {
            Some(ResponseError::TransactionalIdAuthorizationFailed)
        }
        None if !ctx.authorize_cluster(AclOperation::IdempotentWrite)
            && !ctx.authorize_any(AclOperation::Write, ResourceType::Topic) =>
        {
            Some(ResponseError::ClusterAuthorizationFailed)
        }
        _ => None,
    };
    if let Some(code) = refusal {
        return Reply::message(ResponseKind::InitProducerId(
            base.with_error_code(code.code()),
        ));
    }
    // v3+: a producer that recovers sends the id and epoch it had (KIP-360); both or neither.
    let expected = match (request.producer_id.0, request.producer_epoch) {
        (-1, -1) => None,
        (-1, _) | (_, -1) => {
            return Reply::message(ResponseKind::InitProducerId(
                base.with_error_code(ResponseError::InvalidRequest.code()),
            ));
        }
        (id, epoch) => Some((id, epoch)),
    };
    let response = match request.transactional_id {
        Some(id) => {
            let result = ctx
                .broker
                .transactions
                .init_producer_id(id.to_string(), request.transaction_timeout_ms, expected)
                .await;
            match result {
                Ok((pid, epoch)) => base
                    .with_error_code(NONE)
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch),
                Err(code) => base.with_error_code(fenced_for(code, ctx.version, 4)),
            }
        }
        None => match ctx.broker.metadata.allocate_producer_id().await {
            Ok(id) => base
                .with_error_code(NONE)
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0),
            Err(e) => {
                tracing::error!("cannot allocate a producer id: {}", e.message);
                base.with_error_code(ResponseError::KafkaStorageError.code())
            }
        },
    };
    Reply::message(ResponseKind::InitProducerId(response))
}

/// PRODUCER_FENCED (KIP-588) as clients below `since` know it: INVALID_PRODUCER_EPOCH.
pub fn fenced_for(code: i16, version: i16, since: i16) -> i16 {
    if code == ResponseError::ProducerFenced.code() && version < since {
        ResponseError::InvalidProducerEpoch.code()
    } else {
        code
    }
}
