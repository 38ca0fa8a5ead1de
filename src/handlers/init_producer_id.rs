//! InitProducerId (key 22), versions 0–5, for idempotent producers.
//!
//! Without a transactional id Kafka always hands out a fresh producer id with epoch 0, whatever
//! id/epoch the client sends (KIP-360 epoch bumps only apply to transactional producers), and
//! so does Vltava. Ids come from journaled blocks, so they never repeat across restarts.
//! Transactional ids are refused with INVALID_REQUEST until transactions exist: a retriable
//! error such as NOT_COORDINATOR would leave a transactional producer retrying forever.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProducerId, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext};
use crate::log::error::NONE;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::InitProducerId,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: InitProducerIdRequest) -> Reply {
    let base = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response = if request.transactional_id.is_some() {
        tracing::warn!("transactional producer refused: transactions are not supported yet");
        base.with_error_code(ResponseError::InvalidRequest.code())
    } else {
        match ctx.broker.metadata.allocate_producer_id().await {
            Ok(id) => base
                .with_error_code(NONE)
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0),
            Err(e) => {
                tracing::error!("cannot allocate a producer id: {}", e.message);
                base.with_error_code(ResponseError::KafkaStorageError.code())
            }
        }
    };
    Reply::message(ResponseKind::InitProducerId(response))
}
