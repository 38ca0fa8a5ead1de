//! ElectLeaders (key 43), versions 0–2: what `kafka-leader-election.sh` sends.
//!
//! On one broker every partition already has its preferred (and only) leader, so Kafka's
//! controller answers ResponseError::ElectionNotNeeded.code() for each named partition, UNKNOWN_TOPIC_OR_PARTITION
//! for missing ones, and — when `topic_partitions` is null (all partitions) — an entry per
//! topic without any partition results (partitions that need no election are left out).
//! `election_type` (v1+) must be 0 (preferred) or 1 (unclean); anything else is a top-level
//! INVALID_REQUEST.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    ApiKey, ElectLeadersRequest, ElectLeadersResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::ElectLeaders,
    min_version: 0,
    max_version: 2,
};

pub fn handle(ctx: &RequestContext<'_>, request: ElectLeadersRequest) -> Reply {
    if ctx.version >= 1 && !(0..=1).contains(&request.election_type) {
        return Reply::message(ResponseKind::ElectLeaders(
            ElectLeadersResponse::default().with_error_code(ResponseError::InvalidRequest.code()),
        ));
    }
    let broker = ctx.broker;
    // Kafka: ALTER on the cluster, else the error for the request and every partition named.
    let allowed = ctx.authorize_cluster(AclOperation::Alter);
    let results = match &request.topic_partitions {
        None if !allowed => vec![],
        None => broker
            .topics
            .all()
            .iter()
            .map(|t| {
                ReplicaElectionResult::default()
                    .with_topic(TopicName(owned_str(&t.name)))
                    .with_partition_result(vec![])
            })
            .collect(),
        Some(wanted) => wanted
            .iter()
            .map(|w| {
                let name = w.topic.0.as_str();
                let topic = broker.topics.get(name);
                let partitions = w
                    .partitions
                    .iter()
                    .map(|&index| {
                        let (code, message) = match &topic {
                            _ if !allowed => (
                                ResponseError::ClusterAuthorizationFailed.code(),
                                "Cluster authorization failed.".to_string(),
                            ),
                            None => (
                                ResponseError::UnknownTopicOrPartition.code(),
                                format!("No such topic as {name}"),
                            ),
                            Some(t) if t.partition(index).is_none() => (
                                ResponseError::UnknownTopicOrPartition.code(),
                                format!("No such partition as {name}-{index}"),
                            ),
                            Some(_) => (
                                ResponseError::ElectionNotNeeded.code(),
                                "Leader election not needed for topic partition.".to_string(),
                            ),
                        };
                        PartitionResult::default()
                            .with_partition_id(index)
                            .with_error_code(code)
                            .with_error_message(Some(owned_str(&message)))
                    })
                    .collect();
                ReplicaElectionResult::default()
                    .with_topic(TopicName(owned_str(name)))
                    .with_partition_result(partitions)
            })
            .collect(),
    };
    Reply::message(ResponseKind::ElectLeaders(
        ElectLeadersResponse::default()
            .with_error_code(if allowed {
                NONE
            } else {
                ResponseError::ClusterAuthorizationFailed.code()
            })
            .with_replica_election_results(results),
    ))
}
