//! Consumer groups: Kafka's classic group protocol and committed offsets.
//!
//! - `coordinator`: the group coordinator, a state machine with no clock, socket or disk of its
//!   own. An operation returns the records to append to `__consumer_offsets` and what to do
//!   once they are appended; offsets change only when their records are replayed, so the same
//!   code loads the topic at start-up (and could later be fed from a replicated log).
//! - `classic`: one group and its members (Kafka's `ClassicGroup`).
//! - `offsets`: committed offsets; `records`: Kafka's key/value schemas of the topic.
//! - `service`: the handle the handlers call; each call is an operation on the shared
//!   coordinator runtime (`coordinator::runtime`), which owns the coordinator on its thread,
//!   appends its records to `__consumer_offsets`, sleeps until the next timer deadline and
//!   answers once the records are durable.
//! - `consumer_protocol`: the subscribed topics inside consumer member metadata.
//!
//! See `handlers/{join_group,sync_group,…}.rs` for the wire side of each API.

pub mod classic;
pub mod consumer_protocol;
pub mod coordinator;
pub mod offsets;
pub mod records;
pub mod service;
mod timers;

pub use coordinator::GroupCoordinator;
pub use service::GroupCoordinatorHandle;

pub use crate::config::internal::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, is_internal_topic};

pub use crate::coordinator::runtime::partition_for;

/// A `StrBytes` that owns its bytes (not a slice pinning a request frame).
pub(crate) fn owned_str(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_string())
}

/// Kafka's mapping of a failed `__consumer_offsets` append to what clients are told
/// (`appendGroupMetadataErrorToResponseError`): retriable where retrying can help.
pub fn for_append_failure(code: i16) -> i16 {
    use kafka_protocol::ResponseError as E;
    match E::try_from_code(code) {
        Some(E::UnknownTopicOrPartition | E::NotEnoughReplicas | E::RequestTimedOut) => {
            E::CoordinatorNotAvailable.code()
        }
        Some(E::NotLeaderOrFollower | E::KafkaStorageError) => E::NotCoordinator.code(),
        Some(E::MessageTooLarge | E::RecordListTooLarge | E::InvalidFetchSize) => {
            E::UnknownServerError.code()
        }
        _ => code,
    }
}
