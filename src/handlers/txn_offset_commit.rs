//! TxnOffsetCommit (key 28), versions 0–5: offsets committed inside a transaction. They stay
//! pending — invisible to OffsetFetch, which answers UNSTABLE_OFFSET_COMMIT to `require_stable`
//! fetches meanwhile — until the transaction's marker reaches the group's `__consumer_offsets`
//! partition: a commit makes them the group's committed offsets, an abort drops them.
//!
//! The group's partition must be in the transaction (KIP-890 part 1): v5 clients (transaction
//! version 2) send no AddOffsetsToTxn, so the partition joins implicitly; older ones must have
//! added it, or get TRANSACTION_ABORTABLE (v4) / INVALID_TXN_STATE (below). A fenced producer
//! gets INVALID_PRODUCER_EPOCH, as from Kafka. v3+ carry the member's generation, which is
//! checked as OffsetCommit checks it.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ResponseKind, TopicName, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use super::offset_commit::known_partitions;
use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::config::internal::OFFSETS_TOPIC;
use crate::coordinator::group::coordinator::{CommitPartition, CommitRequest};
use crate::metadata::acls::{AclOperation, ResourceType};

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::TxnOffsetCommit,
    min_version: 0,
    max_version: 5,
};

pub async fn handle(ctx: &RequestContext<'_>, request: TxnOffsetCommitRequest) -> Reply {
    let version = ctx.version;
    let requested = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| CommitPartition {
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if version >= 2 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p.committed_metadata.as_ref().map(|s| s.to_string()),
                })
                .collect();
            (t.name.to_string(), partitions)
        })
        .collect();
    // Kafka checks WRITE on the transactional id, then READ on the group.
    let refusal = if !ctx.authorize(
        AclOperation::Write,
        ResourceType::TransactionalId,
        &request.transactional_id,
    ) {
        Some(ResponseError::TransactionalIdAuthorizationFailed.code())
    } else if !ctx.may_read_group(&request.group_id) {
        Some(ResponseError::GroupAuthorizationFailed.code())
    } else {
        None
    };
    let (mut results, valid) = known_partitions(ctx, requested, refusal);
    if !valid.is_empty() {
        let producer = (request.producer_id.0, request.producer_epoch);
        let joined = join_transaction(ctx, &request).await;
        let req = CommitRequest {
            group_id: request.group_id.to_string(),
            generation_id: if version >= 3 {
                request.generation_id
            } else {
                -1
            },
            member_id: if version >= 3 {
                request.member_id.to_string()
            } else {
                String::new()
            },
            group_instance_id: (version >= 3)
                .then(|| request.group_instance_id.as_ref().map(|s| s.to_string()))
                .flatten(),
            retention_time_ms: -1,
            topics: valid,
            version: 8,
        };
        let answered = match joined.map_err(|code| for_client(code, version)) {
            Ok(()) => ctx.broker.groups.commit_txn_offsets(req, producer).await,
            Err(code) => req
                .topics
                .iter()
                .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, code)).collect()))
                .collect(),
        };
        for (topic, partitions) in answered {
            results.entry(topic).or_default().extend(partitions);
        }
    }
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in &request.topics {
        let Some(partitions) = results.remove(t.name.as_str()) else {
            continue; // a repeated topic was answered with its first occurrence
        };
        topics.push(
            TxnOffsetCommitResponseTopic::default()
                .with_name(TopicName(owned_str(&t.name)))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(p, code)| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p)
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        );
    }
    Reply::message(ResponseKind::TxnOffsetCommit(
        TxnOffsetCommitResponse::default().with_topics(topics),
    ))
}

/// A failed join as the client is told it, as Kafka translates what its transaction
/// coordinator answers: PRODUCER_FENCED is INVALID_PRODUCER_EPOCH (what producers expect
/// here), and TRANSACTION_ABORTABLE, new in v4, is INVALID_TXN_STATE before.
fn for_client(code: i16, version: i16) -> i16 {
    use ResponseError as E;
    if code == E::ProducerFenced.code() {
        E::InvalidProducerEpoch.code()
    } else if code == E::TransactionAbortable.code() && version < 4 {
        E::InvalidTxnState.code()
    } else {
        code
    }
}

/// The group's offsets partition in the transaction: added (v5) or verified (older).
async fn join_transaction(
    ctx: &RequestContext<'_>,
    request: &TxnOffsetCommitRequest,
) -> Result<(), i16> {
    let partition = ctx.broker.groups.partition_of(&request.group_id).await?;
    let tp = (OFFSETS_TOPIC.to_string(), partition);
    let txns = &ctx.broker.transactions;
    let id = request.transactional_id.to_string();
    let (pid, epoch) = (request.producer_id.0, request.producer_epoch);
    if ctx.version >= 5 {
        return txns.add_partitions(id, pid, epoch, vec![tp], 2).await;
    }
    match txns.verify(id, pid, epoch, vec![tp]).await.pop() {
        Some((_, result)) => result,
        None => Err(ResponseError::UnknownServerError.code()),
    }
}
