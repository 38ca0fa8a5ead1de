//! DescribeProducers (key 61), version 0: the producers a partition's log knows (idempotent
//! and transactional), with their epoch, last sequence and timestamp, coordinator epoch and
//! the first offset of their open transaction (-1 when none) — what
//! `kafka-transactions.sh describe-producers` and `find-hanging` read.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, ProducerId, ResponseKind,
    TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeProducers,
    min_version: 0,
    max_version: 0,
};

pub fn handle(ctx: &RequestContext<'_>, request: DescribeProducersRequest) -> Reply {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            // Kafka: READ on the topic, checked before existence.
            let may_read = ctx.authorize(AclOperation::Read, ResourceType::Topic, &t.name);
            let topic = ctx.broker.topics.get(&t.name).filter(|_| may_read);
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    if !may_read {
                        return PartitionResponse::default()
                            .with_partition_index(index)
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                            .with_error_message(None);
                    }
                    let Some(p) = topic.as_ref().and_then(|t| t.partition(index)) else {
                        // As Kafka: an unknown topic is explained with the error's own text, an
                        // unknown partition of a known topic is not.
                        let message = topic
                            .is_none()
                            .then(|| owned_str("This server does not host this topic-partition."));
                        return PartitionResponse::default()
                            .with_partition_index(index)
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(message);
                    };
                    let producers = p
                        .log()
                        .producer_states()
                        .into_iter()
                        .map(|(id, epoch, seq, ts, coordinator_epoch, txn_start)| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(id))
                                .with_producer_epoch(i32::from(epoch))
                                .with_last_sequence(seq)
                                .with_last_timestamp(ts)
                                .with_coordinator_epoch(coordinator_epoch)
                                .with_current_txn_start_offset(txn_start)
                        })
                        .collect();
                    PartitionResponse::default()
                        .with_partition_index(index)
                        .with_error_code(NONE)
                        .with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(TopicName(owned_str(&t.name)))
                .with_partitions(partitions)
        })
        .collect();
    Reply::message(ResponseKind::DescribeProducers(
        DescribeProducersResponse::default().with_topics(topics),
    ))
}
