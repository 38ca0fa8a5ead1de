//! AddPartitionsToTxn (key 24), versions 0–5.
//!
//! v0–3 come from producers: one transaction, its partitions joining it. v4+ carry several
//! transactions (the broker-to-coordinator form of KIP-890), each either added or, with
//! `verify_only`, only checked. As in Kafka, a partition of an unknown topic fails the whole
//! transaction: it gets UNKNOWN_TOPIC_OR_PARTITION and every other partition
//! OPERATION_NOT_ATTEMPTED; otherwise every partition carries the coordinator's answer.
//! PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, ResponseKind, TopicName,
    TransactionalId,
};

use super::init_producer_id::fenced_for;
use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::AddPartitionsToTxn,
    min_version: 0,
    max_version: 5,
};

/// (topic, partition) → error code, in request order.
type Results = Vec<((String, i32), i16)>;

pub async fn handle(ctx: &RequestContext<'_>, request: AddPartitionsToTxnRequest) -> Reply {
    if ctx.version < 4 {
        let results = one(
            ctx,
            request.v3_and_below_transactional_id.to_string(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            &request.v3_and_below_topics,
            false,
        )
        .await;
        return Reply::message(ResponseKind::AddPartitionsToTxn(
            AddPartitionsToTxnResponse::default()
                .with_results_by_topic_v3_and_below(by_topic(results)),
        ));
    }
    // Kafka: the broker-to-coordinator form needs CLUSTER_ACTION on the cluster.
    if !ctx.authorize_cluster(AclOperation::ClusterAction) {
        return Reply::message(ResponseKind::AddPartitionsToTxn(
            AddPartitionsToTxnResponse::default()
                .with_error_code(ResponseError::ClusterAuthorizationFailed.code()),
        ));
    }
    let mut out = Vec::with_capacity(request.transactions.len());
    for t in &request.transactions {
        let results = one(
            ctx,
            t.transactional_id.to_string(),
            t.producer_id.0,
            t.producer_epoch,
            &t.topics,
            t.verify_only,
        )
        .await;
        out.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(TransactionalId(owned_str(&t.transactional_id)))
                .with_topic_results(by_topic(results)),
        );
    }
    Reply::message(ResponseKind::AddPartitionsToTxn(
        AddPartitionsToTxnResponse::default().with_results_by_transaction(out),
    ))
}

/// One transaction's partitions.
async fn one(
    ctx: &RequestContext<'_>,
    transactional_id: String,
    producer_id: i64,
    epoch: i16,
    topics: &[AddPartitionsToTxnTopic],
    verify_only: bool,
) -> Results {
    let partitions: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), *p)))
        .collect();
    // Kafka (producers' form): WRITE on the transactional id, else every partition answers
    // TRANSACTIONAL_ID_AUTHORIZATION_FAILED; WRITE on each topic, else its partitions answer
    // TOPIC_AUTHORIZATION_FAILED and the others OPERATION_NOT_ATTEMPTED.
    if !verify_only
        && !ctx.authorize(
            AclOperation::Write,
            ResourceType::TransactionalId,
            &transactional_id,
        )
    {
        let code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return partitions.into_iter().map(|tp| (tp, code)).collect();
    }
    let unwritable = |(topic, _): &(String, i32)| {
        !verify_only && !ctx.authorize(AclOperation::Write, ResourceType::Topic, topic)
    };
    if partitions.iter().any(unwritable) {
        return partitions
            .into_iter()
            .map(|tp| {
                let code = if unwritable(&tp) {
                    ResponseError::TopicAuthorizationFailed.code()
                } else {
                    ResponseError::OperationNotAttempted.code()
                };
                (tp, code)
            })
            .collect();
    }
    let unknown = |(topic, p): &(String, i32)| {
        ctx.broker
            .topics
            .get(topic)
            .and_then(|t| t.partition(*p).cloned())
            .is_none()
    };
    if partitions.iter().any(unknown) {
        return partitions
            .into_iter()
            .map(|tp| {
                let code = if unknown(&tp) {
                    ResponseError::UnknownTopicOrPartition.code()
                } else {
                    ResponseError::OperationNotAttempted.code()
                };
                (tp, code)
            })
            .collect();
    }
    let txns = &ctx.broker.transactions;
    if verify_only {
        return txns
            .verify(transactional_id, producer_id, epoch, partitions)
            .await
            .into_iter()
            .map(|(tp, r)| (tp, r.err().unwrap_or(NONE)))
            .collect();
    }
    let result = txns
        .add_partitions(transactional_id, producer_id, epoch, partitions.clone(), 1)
        .await;
    let code = fenced_for(result.err().unwrap_or(NONE), ctx.version, 2);
    partitions.into_iter().map(|tp| (tp, code)).collect()
}

fn by_topic(results: Results) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), code) in results {
        let r = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(code);
        match out.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.results_by_partition.push(r),
            None => out.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(TopicName(owned_str(&topic)))
                    .with_results_by_partition(vec![r]),
            ),
        }
    }
    out
}
