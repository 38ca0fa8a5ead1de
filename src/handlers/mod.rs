//! Request handlers: one module per Kafka API, each opening with the versions it supports.
//!
//! `APIS` is the registry: every handler contributes its `ApiSpec`, and the ApiVersions
//! response is generated from it, so the broker can never advertise an API that has no handler.
//! `dispatch` routes a decoded request to its module. A test checks that the two agree.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Broker;
use crate::handlers::fetch_encode::Chunk;
use crate::log::error::NONE;

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_topic_partitions;
pub mod elect_leaders;
pub mod fetch;
pub mod fetch_encode;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod sync_group;

/// An API a handler serves, and the versions it accepts.
#[derive(Debug, Clone, Copy)]
pub struct ApiSpec {
    pub key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
}

/// The registry. ApiVersions is generated from this list.
pub const APIS: &[ApiSpec] = &[
    produce::SPEC,
    fetch::SPEC,
    list_offsets::SPEC,
    metadata::SPEC,
    api_versions::SPEC,
    create_topics::SPEC,
    delete_topics::SPEC,
    init_producer_id::SPEC,
    delete_records::SPEC,
    describe_acls::SPEC,
    describe_configs::SPEC,
    alter_configs::SPEC,
    describe_log_dirs::SPEC,
    create_partitions::SPEC,
    elect_leaders::SPEC,
    incremental_alter_configs::SPEC,
    list_partition_reassignments::SPEC,
    describe_cluster::SPEC,
    describe_topic_partitions::SPEC,
    offset_commit::SPEC,
    offset_fetch::SPEC,
    find_coordinator::SPEC,
    join_group::SPEC,
    heartbeat::SPEC,
    leave_group::SPEC,
    sync_group::SPEC,
    describe_groups::SPEC,
    list_groups::SPEC,
    delete_groups::SPEC,
    offset_delete::SPEC,
];

/// The handler's spec for `key`, if any.
pub fn spec(key: ApiKey) -> Option<&'static ApiSpec> {
    APIS.iter().find(|s| s.key == key)
}

/// True when a handler accepts this version.
pub fn is_supported(key: ApiKey, version: i16) -> bool {
    spec(key).is_some_and(|s| (s.min_version..=s.max_version).contains(&version))
}

/// What one request needs to know about where it came from.
pub struct RequestContext<'a> {
    pub broker: &'a Arc<Broker>,
    pub header: &'a RequestHeader,
    pub version: i16,
    pub client_host: &'a str,
}

/// What a handler hands back to the connection.
pub enum Reply {
    /// A response the codec can encode.
    Message(Box<ResponseKind>),
    /// A body already encoded by the handler.
    Raw(Bytes),
    /// A body made of memory pieces and file regions (Fetch).
    Chunks(Vec<Chunk>),
    /// No response at all (acks=0 Produce).
    NoResponse,
    /// Close the connection (acks=0 Produce that failed, as Kafka does).
    Close,
}

impl Reply {
    pub fn message(response: ResponseKind) -> Reply {
        Reply::Message(Box::new(response))
    }
}

/// Routes a decoded request to its handler.
pub async fn dispatch(ctx: &RequestContext<'_>, request: RequestKind) -> Reply {
    match request {
        RequestKind::Produce(r) => produce::handle(ctx, r).await,
        RequestKind::Fetch(r) => fetch::handle(ctx, r).await,
        RequestKind::ListOffsets(r) => list_offsets::handle(ctx, r).await,
        RequestKind::Metadata(r) => metadata::handle(ctx, r).await,
        RequestKind::ApiVersions(r) => api_versions::handle(ctx, r),
        RequestKind::CreateTopics(r) => create_topics::handle(ctx, r).await,
        RequestKind::DeleteTopics(r) => delete_topics::handle(ctx, r).await,
        RequestKind::InitProducerId(r) => init_producer_id::handle(ctx, r).await,
        RequestKind::DeleteRecords(r) => delete_records::handle(ctx, r).await,
        RequestKind::DescribeAcls(r) => describe_acls::handle(ctx, r),
        RequestKind::DescribeConfigs(r) => describe_configs::handle(ctx, r),
        RequestKind::AlterConfigs(r) => alter_configs::handle(ctx, r).await,
        RequestKind::DescribeLogDirs(r) => describe_log_dirs::handle(ctx, r),
        RequestKind::CreatePartitions(r) => create_partitions::handle(ctx, r).await,
        RequestKind::ElectLeaders(r) => elect_leaders::handle(ctx, r),
        RequestKind::IncrementalAlterConfigs(r) => incremental_alter_configs::handle(ctx, r).await,
        RequestKind::ListPartitionReassignments(r) => list_partition_reassignments::handle(ctx, r),
        RequestKind::DescribeCluster(r) => describe_cluster::handle(ctx, r),
        RequestKind::DescribeTopicPartitions(r) => describe_topic_partitions::handle(ctx, r),
        RequestKind::OffsetCommit(r) => offset_commit::handle(ctx, r).await,
        RequestKind::OffsetFetch(r) => offset_fetch::handle(ctx, r).await,
        RequestKind::FindCoordinator(r) => find_coordinator::handle(ctx, r).await,
        RequestKind::JoinGroup(r) => join_group::handle(ctx, r).await,
        RequestKind::Heartbeat(r) => heartbeat::handle(ctx, r).await,
        RequestKind::LeaveGroup(r) => leave_group::handle(ctx, r).await,
        RequestKind::SyncGroup(r) => sync_group::handle(ctx, r).await,
        RequestKind::DescribeGroups(r) => describe_groups::handle(ctx, r).await,
        RequestKind::ListGroups(r) => list_groups::handle(ctx, r).await,
        RequestKind::DeleteGroups(r) => delete_groups::handle(ctx, r).await,
        RequestKind::OffsetDelete(r) => offset_delete::handle(ctx, r).await,
        // The connection checks `is_supported` before decoding, so nothing else reaches here.
        _ => Reply::Close,
    }
}

/// Checks a client's `current_leader_epoch` against ours, as Kafka does (-1 skips the check).
pub fn check_leader_epoch(requested: i32, ours: i32) -> i16 {
    if requested == -1 || requested == ours {
        NONE
    } else if requested > ours {
        ResponseError::UnknownLeaderEpoch.code()
    } else {
        ResponseError::FencedLeaderEpoch.code()
    }
}

/// A `StrBytes` that owns its bytes (not a slice pinning a request frame).
pub fn owned_str(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ranges_are_within_the_codec() {
        for s in APIS {
            let codec = s.key.valid_versions();
            // Produce v0-2 are advertised-and-rejected; the codec starts at v3.
            let min = if s.key == ApiKey::Produce {
                3
            } else {
                s.min_version
            };
            assert!(
                min >= codec.min && s.max_version <= codec.max,
                "{:?}",
                s.key
            );
        }
        let mut keys: Vec<i16> = APIS.iter().map(|s| s.key as i16).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), APIS.len(), "one handler per API");
    }
}
