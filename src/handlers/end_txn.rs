//! EndTxn (key 26), versions 0–5: commits or aborts the producer's transaction. The answer
//! comes once the markers are in every partition of the transaction (or, if that takes longer,
//! once the decision is durable; the markers follow). v5 is transaction version 2 (KIP-890):
//! the epoch is bumped at every end and the answer carries the producer id and epoch to go on
//! with. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2.

use kafka_protocol::messages::{ApiKey, EndTxnRequest, EndTxnResponse, ProducerId, ResponseKind};

use super::init_producer_id::fenced_for;
use super::{ApiSpec, Reply, RequestContext};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::EndTxn,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: EndTxnRequest) -> Reply {
    // Kafka: WRITE on the transactional id.
    if !ctx.authorize(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        return Reply::message(ResponseKind::EndTxn(
            EndTxnResponse::default()
                .with_error_code(
                    kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed.code(),
                )
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ));
    }
    let client_version = if ctx.version >= 5 { 2 } else { 1 };
    let result = ctx
        .broker
        .transactions
        .end_txn(
            request.transactional_id.to_string(),
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
            client_version,
        )
        .await;
    let response = match result {
        Ok((pid, epoch)) => EndTxnResponse::default()
            .with_error_code(NONE)
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch),
        Err(code) => EndTxnResponse::default()
            .with_error_code(fenced_for(code, ctx.version, 2))
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    };
    Reply::message(ResponseKind::EndTxn(response))
}
