//! AddOffsetsToTxn (key 25), versions 0–4: the group's `__consumer_offsets` partition joins
//! the transaction, so that its TxnOffsetCommit offsets are committed or dropped by the
//! transaction's marker. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2.

use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, ApiKey, ResponseKind,
};

use super::init_producer_id::fenced_for;
use super::{ApiSpec, Reply, RequestContext};
use crate::config::internal::OFFSETS_TOPIC;
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::AddOffsetsToTxn,
    min_version: 0,
    max_version: 4,
};

pub async fn handle(ctx: &RequestContext<'_>, request: AddOffsetsToTxnRequest) -> Reply {
    // Kafka: WRITE on the transactional id, then READ on the group.
    let refusal = if !ctx.authorize(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        Some(kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed)
    } else if !ctx.may_read_group(&request.group_id) {
        Some(kafka_protocol::ResponseError::GroupAuthorizationFailed)
    } else {
        None
    };
    if let Some(code) = refusal {
        return Reply::message(ResponseKind::AddOffsetsToTxn(
            AddOffsetsToTxnResponse::default().with_error_code(code.code()),
        ));
    }
    let result = match ctx.broker.groups.partition_of(&request.group_id).await {
        Ok(partition) => {
            ctx.broker
                .transactions
                .add_partitions(
                    request.transactional_id.to_string(),
                    request.producer_id.0,
                    request.producer_epoch,
                    vec![(OFFSETS_TOPIC.to_string(), partition)],
                    1,
                )
                .await
        }
        Err(code) => Err(code),
    };
    let code = fenced_for(result.err().unwrap_or(NONE), ctx.version, 2);
    Reply::message(ResponseKind::AddOffsetsToTxn(
        AddOffsetsToTxnResponse::default().with_error_code(code),
    ))
}
