//! The metadata records: every change to cluster metadata is one of these. They are journaled
//! first and then applied to the [`MetadataImage`](super::image::MetadataImage) — at start-up
//! by replay, live by the metadata owner — so a replicated metadata log can later feed the
//! same records through the same `apply`.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::acls::AclBinding;
use super::quotas::QuotaEntity;
use super::scram::{ScramCredential, ScramMechanism};

/// One change to cluster metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataRecord {
    /// A topic was created (or recreated, under a new id).
    Topic {
        name: String,
        id: Uuid,
        partitions: i32,
        configs: BTreeMap<String, String>,
    },
    /// A topic was deleted.
    RemoveTopic { id: Uuid },
    /// Producer ids below `next` have been handed out (Kafka allocates them in blocks).
    ProducerIds { next: i64 },
    /// A topic's config overrides were replaced (AlterConfigs, IncrementalAlterConfigs).
    TopicConfigs {
        id: Uuid,
        configs: BTreeMap<String, String>,
    },
    /// A topic grew to `count` partitions (CreatePartitions).
    Partitions { id: Uuid, count: i32 },
    /// Dynamic broker configs were replaced: for one broker (`Some(node id)`) or as the
    /// cluster-wide defaults (`None`).
    BrokerConfigs {
        node: Option<i32>,
        configs: BTreeMap<String, String>,
    },
    /// A user's SCRAM credential for one mechanism was set (Kafka's
    /// `UserScramCredentialRecord`): salt, iterations, StoredKey and ServerKey, never the
    /// password.
    ScramCredential {
        user: String,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    },
    /// A user's SCRAM credential for one mechanism was removed (Kafka's
    /// `RemoveUserScramCredentialRecord`).
    RemoveScramCredential {
        user: String,
        mechanism: ScramMechanism,
    },
    /// An ACL was created (CreateAcls), as Kafka's `AccessControlEntryRecord`.
    Acl { id: Uuid, binding: AclBinding },
    /// An ACL was deleted (DeleteAcls), as Kafka's `RemoveAccessControlEntryRecord`.
    RemoveAcl { id: Uuid },
    /// One client quota key of one entity was set (`Some`) or removed (`None`) (Kafka's
    /// `ClientQuotaRecord`; AlterClientQuotas).
    ClientQuota {
        entity: QuotaEntity,
        key: String,
        value: Option<f64>,
    },
}
