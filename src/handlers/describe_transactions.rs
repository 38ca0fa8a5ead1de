//! DescribeTransactions (key 65), version 0: each transactional id's state, producer id and
//! epoch, timeout, start time and partitions; TRANSACTIONAL_ID_NOT_FOUND for an unknown id
//! (its other fields at their defaults, 0, as Kafka leaves them).

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, ResponseKind,
    TopicName, TransactionalId,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeTransactions,
    min_version: 0,
    max_version: 0,
};

pub async fn handle(ctx: &RequestContext<'_>, request: DescribeTransactionsRequest) -> Reply {
    // Kafka: DESCRIBE on each transactional id (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // partitions of topics the client may not DESCRIBE are left out.
    let (ids, refused): (Vec<String>, Vec<String>) = request
        .transactional_ids
        .iter()
        .map(|s| s.to_string())
        .partition(|id| ctx.authorize(AclOperation::Describe, ResourceType::TransactionalId, id));
    let mut described = if ids.is_empty() {
        Vec::new()
    } else {
        ctx.broker.transactions.describe(ids).await
    };
    described.extend(refused.into_iter().map(|id| {
        (
            id,
            Err(kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed.code()),
        )
    }));
    let states = described
        .into_iter()
        .map(|(id, r)| {
            // An unknown id gets the error and the message's defaults (producer id, epoch,
            // timeout and start time 0), as from Kafka.
            let base =
                TransactionState::default().with_transactional_id(TransactionalId(owned_str(&id)));
            match r {
                Err(code) => base
                    .with_error_code(code)
                    .with_transaction_state(owned_str("")),
                Ok(v) => {
                    let mut topics: Vec<TopicData> = Vec::new();
                    for (topic, p) in v.partitions.into_iter().filter(|(topic, _)| {
                        ctx.authorize(AclOperation::Describe, ResourceType::Topic, topic)
                    }) {
                        match topics.iter_mut().find(|t| t.topic.as_str() == topic) {
                            Some(t) => t.partitions.push(p),
                            None => topics.push(
                                TopicData::default()
                                    .with_topic(TopicName(owned_str(&topic)))
                                    .with_partitions(vec![p]),
                            ),
                        }
                    }
                    base.with_error_code(NONE)
                        .with_transaction_state(owned_str(v.state.name()))
                        .with_transaction_timeout_ms(v.timeout_ms)
                        .with_transaction_start_time_ms(v.start_ms)
                        .with_producer_id(ProducerId(v.producer_id))
                        .with_producer_epoch(v.producer_epoch)
                        .with_topics(topics)
                }
            }
        })
        .collect();
    Reply::message(ResponseKind::DescribeTransactions(
        DescribeTransactionsResponse::default().with_transaction_states(states),
    ))
}
