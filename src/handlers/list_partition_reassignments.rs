//! ListPartitionReassignments (key 46), version 0: what `kafka-reassign-partitions.sh --list`
//! and UI tools send.
//!
//! A single broker never moves replicas, so no reassignment is ever in progress: the answer is
//! always an empty list with no error, for all topics (`topics` null) or named ones (Kafka lists
//! only partitions being reassigned and skips unknown topics silently).

use kafka_protocol::messages::{
    ApiKey, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, ResponseKind,
};

use super::{ApiSpec, Reply, RequestContext};
use crate::log::error::NONE;
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::ListPartitionReassignments,
    min_version: 0,
    max_version: 0,
};

pub fn handle(ctx: &RequestContext<'_>, _request: ListPartitionReassignmentsRequest) -> Reply {
    // Kafka: DESCRIBE on the cluster.
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return Reply::message(ResponseKind::ListPartitionReassignments(
            ListPartitionReassignmentsResponse::default()
                .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code())
                .with_error_message(Some(super::owned_str(super::CLUSTER_AUTHORIZATION_MESSAGE)))
                .with_topics(vec![]),
        ));
    }
    Reply::message(ResponseKind::ListPartitionReassignments(
        ListPartitionReassignmentsResponse::default()
            .with_error_code(NONE)
            .with_error_message(None)
            .with_topics(vec![]),
    ))
}
