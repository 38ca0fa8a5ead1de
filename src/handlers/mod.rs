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
use crate::metadata::acls::{self, AclOperation, Requester, ResourceType};

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_client_quotas;
pub mod alter_configs;
pub mod alter_user_scram_credentials;
pub mod api_versions;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_client_quotas;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod elect_leaders;
pub mod end_txn;
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
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
pub mod txn_offset_commit;
pub mod write_txn_markers;

/// An API a handler serves, and the versions it accepts.
#[derive(Debug, Clone, Copy)]
pub struct ApiSpec {
    pub key: ApiKey,
    pub min_version: i16,
    pub max_version: i16,
}

/// One list makes both the registry and the dispatch, so they cannot disagree: every API in
/// `APIS` has its arm in `dispatch` and no arm exists without its `APIS` entry. (`ROUTES`
/// pairs each arm's request kind with its handler's spec; a test checks they name the same
/// API, so a handler cannot be filed under another's request.)
macro_rules! handlers {
    ($($variant:ident => $module:ident $($asynchronous:ident)?,)*) => {
        /// The registry. ApiVersions is generated from this list.
        pub const APIS: &[ApiSpec] = &[$($module::SPEC,)*];

        /// (the API of the request kind an arm matches, the spec of the handler it calls)
        #[cfg(test)]
        const ROUTES: &[(ApiKey, ApiSpec)] = &[$((ApiKey::$variant, $module::SPEC),)*];

        /// Routes a decoded request to its handler.
        pub async fn dispatch(ctx: &RequestContext<'_>, request: RequestKind) -> Reply {
            match request {
                $(RequestKind::$variant(r) => handlers!(@call $module ctx r $($asynchronous)?),)*
                // The connection checks `is_supported` (the same list) before decoding, so
                // a request without a handler never reaches here.
                _ => Reply::Close,
            }
        }
    };
    (@call $module:ident $ctx:ident $r:ident async) => { $module::handle($ctx, $r).await };
    (@call $module:ident $ctx:ident $r:ident) => { $module::handle($ctx, $r) };
}

handlers! {
    Produce => produce async,
    Fetch => fetch async,
    ListOffsets => list_offsets async,
    Metadata => metadata async,
    ApiVersions => api_versions,
    CreateTopics => create_topics async,
    DeleteTopics => delete_topics async,
    InitProducerId => init_producer_id async,
    DeleteRecords => delete_records async,
    DescribeAcls => describe_acls,
    CreateAcls => create_acls async,
    DeleteAcls => delete_acls async,
    DescribeConfigs => describe_configs,
    AlterConfigs => alter_configs async,
    DescribeLogDirs => describe_log_dirs,
    CreatePartitions => create_partitions async,
    ElectLeaders => elect_leaders,
    IncrementalAlterConfigs => incremental_alter_configs async,
    ListPartitionReassignments => list_partition_reassignments,
    DescribeCluster => describe_cluster,
    DescribeTopicPartitions => describe_topic_partitions,
    OffsetCommit => offset_commit async,
    OffsetFetch => offset_fetch async,
    FindCoordinator => find_coordinator async,
    JoinGroup => join_group async,
    Heartbeat => heartbeat async,
    LeaveGroup => leave_group async,
    SyncGroup => sync_group async,
    DescribeGroups => describe_groups async,
    ListGroups => list_groups async,
    DeleteGroups => delete_groups async,
    OffsetDelete => offset_delete async,
    AddPartitionsToTxn => add_partitions_to_txn async,
    AddOffsetsToTxn => add_offsets_to_txn async,
    EndTxn => end_txn async,
    TxnOffsetCommit => txn_offset_commit async,
    DescribeProducers => describe_producers,
    DescribeTransactions => describe_transactions async,
    ListTransactions => list_transactions async,
    WriteTxnMarkers => write_txn_markers async,
    SaslHandshake => sasl_handshake,
    SaslAuthenticate => sasl_authenticate,
    DescribeUserScramCredentials => describe_user_scram_credentials,
    AlterUserScramCredentials => alter_user_scram_credentials async,
    DescribeClientQuotas => describe_client_quotas,
    AlterClientQuotas => alter_client_quotas async,
}

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
    /// The name of the listener the request came in on (`PLAINTEXT`, `SSL`, …).
    pub listener: &'a str,
    /// The client's principal (`User:…`), for the authorizer.
    pub principal: &'a str,
}

/// The one place handlers ask the authorizer (Kafka's `AuthHelper`). Without an authorizer
/// (`authorizer.class.name` unset) everything is allowed, as in Kafka.
impl RequestContext<'_> {
    /// True when ACLs are enforced.
    pub fn authorizer_enabled(&self) -> bool {
        self.broker.config.authorizer.is_some()
    }

    /// May this client do `operation` on the resource `name` of type `resource_type`?
    pub fn authorize(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let Some(settings) = &self.broker.config.authorizer else {
            return true;
        };
        acls::authorize(
            &self.broker.metadata.acls(),
            settings,
            self.requester(),
            operation,
            resource_type,
            name,
        )
    }

    /// May this client READ the group (every group API but DescribeGroups and DeleteGroups)?
    pub fn may_read_group(&self, group_id: &str) -> bool {
        self.authorize(AclOperation::Read, ResourceType::Group, group_id)
    }

    /// May this client do `operation` on the cluster?
    pub fn authorize_cluster(&self, operation: AclOperation) -> bool {
        self.authorize(operation, ResourceType::Cluster, acls::CLUSTER_NAME)
    }

    /// May this client do `operation` on some resource of this type (Kafka's
    /// `authorizeByResourceType`)?
    pub fn authorize_any(&self, operation: AclOperation, resource_type: ResourceType) -> bool {
        let Some(settings) = &self.broker.config.authorizer else {
            return true;
        };
        acls::authorize_any(
            &self.broker.metadata.acls(),
            settings,
            self.requester(),
            operation,
            resource_type,
        )
    }

    /// Kafka's `authorizedOperations`: the bit set of operations allowed on a resource, out of
    /// those the resource type supports (every one of them without an authorizer).
    pub fn authorized_operations(&self, resource_type: ResourceType, name: &str) -> i32 {
        acls::supported_operations(resource_type)
            .iter()
            .filter(|op| self.authorize(**op, resource_type, name))
            .fold(0, |bits, op| bits | (1 << *op as i32))
    }

    /// Kafka's check for a config resource (DescribeConfigs, AlterConfigs,
    /// IncrementalAlterConfigs): `operation` on the topic or group, or on the cluster for broker,
    /// broker-logger and client-metrics resources; the refusal's error code.
    pub fn authorize_config_resource(
        &self,
        operation: AclOperation,
        config_resource_type: i8,
        name: &str,
    ) -> Result<(), i16> {
        use describe_configs::resource_type as config;
        let (allowed, refusal) = match config_resource_type {
            config::TOPIC => (
                self.authorize(operation, ResourceType::Topic, name),
                ResponseError::TopicAuthorizationFailed,
            ),
            config::GROUP => (
                self.authorize(operation, ResourceType::Group, name),
                ResponseError::GroupAuthorizationFailed,
            ),
            _ => (
                self.authorize_cluster(operation),
                ResponseError::ClusterAuthorizationFailed,
            ),
        };
        if allowed { Ok(()) } else { Err(refusal.code()) }
    }

    fn requester(&self) -> Requester<'_> {
        Requester {
            principal: self.principal,
            host: self.client_host,
        }
    }
}

/// Kafka's text for CLUSTER_AUTHORIZATION_FAILED.
pub const CLUSTER_AUTHORIZATION_MESSAGE: &str = "Cluster authorization failed.";

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

/// Sets a response's `throttle_time_ms` (a quota throttled the request). Responses without
/// the field (SASL, WriteTxnMarkers) are left as they are; versions without it drop it when
/// encoded.
pub fn set_throttle_time(response: &mut ResponseKind, ms: i32) {
    macro_rules! set {
        ($($variant:ident),*) => {
            match response {
                $(ResponseKind::$variant(r) => r.throttle_time_ms = r.throttle_time_ms.max(ms),)*
                _ => {}
            }
        };
    }
    set!(
        Produce,
        Fetch,
        ListOffsets,
        Metadata,
        OffsetCommit,
        OffsetFetch,
        FindCoordinator,
        JoinGroup,
        Heartbeat,
        LeaveGroup,
        SyncGroup,
        DescribeGroups,
        ListGroups,
        ApiVersions,
        CreateTopics,
        DeleteTopics,
        DeleteRecords,
        InitProducerId,
        AddPartitionsToTxn,
        AddOffsetsToTxn,
        EndTxn,
        TxnOffsetCommit,
        DescribeAcls,
        DescribeConfigs,
        AlterConfigs,
        DescribeLogDirs,
        CreatePartitions,
        DeleteGroups,
        ElectLeaders,
        IncrementalAlterConfigs,
        ListPartitionReassignments,
        OffsetDelete,
        DescribeCluster,
        DescribeProducers,
        DescribeTransactions,
        ListTransactions,
        DescribeTopicPartitions,
        DescribeClientQuotas,
        AlterClientQuotas
    );
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

/// Kafka's own text for INVALID_REQUEST (`Errors.INVALID_REQUEST.message()`), which it sends
/// where it has nothing more specific to say.
pub const INVALID_REQUEST_MESSAGE: &str = "This most likely occurs because of a request being \
    malformed by the client library or the message was sent to an incompatible broker. See the \
    broker logs for more details.";

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

    /// Both ways: every dispatch arm's request kind is the API its handler's spec registers,
    /// and every registered API is routed.
    #[test]
    fn registry_and_dispatch_agree() {
        assert_eq!(ROUTES.len(), APIS.len());
        for (arm, spec) in ROUTES {
            assert_eq!(
                *arm, spec.key,
                "the {arm:?} arm calls the handler of {:?}",
                spec.key
            );
            assert!(is_supported(*arm, spec.max_version));
        }
        for key in (0..=100).filter_map(|k| ApiKey::try_from(k).ok()) {
            let routed = ROUTES.iter().any(|(arm, _)| *arm == key);
            assert_eq!(routed, spec(key).is_some(), "{key:?}");
        }
    }
}
