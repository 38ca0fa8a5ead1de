//! Feature flags (KIP-584) as ApiVersions v3+ reports them: the versions of each feature this
//! broker supports and the level it runs at. Only features whose behaviour Vltava implements
//! are listed; a client reads a missing feature as level 0 and keeps to the oldest behaviour
//! (classic consumer groups without `group.version`, for example).
//!
//! `metadata.version` numbers Kafka's KRaft metadata formats. Vltava keeps its own metadata
//! journal, so the level says which Kafka release's requests and behaviour it answers to (the
//! message specs it serves), not a record format; tools such as `kafka-features describe`
//! print it by name.

/// One feature: its supported range and its finalized (active) level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub min_version: i16,
    pub max_version: i16,
    pub finalized: i16,
}

/// `metadata.version` 3.3-IV3, the oldest level a KRaft cluster may run at.
const METADATA_VERSION_MIN: i16 = 7;
/// `metadata.version` 4.4-IV2, the level of Kafka 4.4.0, whose behaviour is the reference.
const METADATA_VERSION_CURRENT: i16 = 33;

/// Every feature this broker reports.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "metadata.version",
        min_version: METADATA_VERSION_MIN,
        max_version: METADATA_VERSION_CURRENT,
        finalized: METADATA_VERSION_CURRENT,
    },
    // Transaction version 2 (KIP-890): the epoch bumped at every EndTxn (v5), partitions
    // joining implicitly on Produce (v12) and TxnOffsetCommit (v5). Clients that see it
    // finalized use it; older ones keep to version 1 (AddPartitionsToTxn, AddOffsetsToTxn).
    Feature {
        name: "transaction.version",
        min_version: 0,
        max_version: 2,
        finalized: 2,
    },
];

/// The epoch of the finalized levels. They are fixed for the life of a single-node broker, so
/// the epoch is too; any value ≥ 0 tells clients the levels are known.
pub const FINALIZED_EPOCH: i64 = 1;
