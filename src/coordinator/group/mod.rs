//! Consumer groups: Kafka's classic group protocol and committed offsets.
//!
//! - `coordinator`: the group coordinator, a state machine with no clock, socket or disk of its
//!   own. An operation returns the records to append to `__consumer_offsets` and what to do
//!   once they are appended; offsets change only when their records are replayed, so the same
//!   code loads the topic at start-up (and could later be fed from a replicated log).
//! - `classic`: one group and its members (Kafka's `ClassicGroup`).
//! - `offsets`: committed offsets; `records`: Kafka's key/value schemas of the topic.
//! - `runtime`: the one thread that owns the coordinator, appends its records through the
//!   normal partition logs, sleeps until the next timer deadline, and answers the handlers.
//! - `consumer_protocol`: the subscribed topics inside consumer member metadata.
//!
//! See `handlers/{join_group,sync_group,…}.rs` for the wire side of each API.

pub mod classic;
pub mod consumer_protocol;
pub mod coordinator;
pub mod offsets;
pub mod records;
pub mod runtime;
mod timers;

pub use coordinator::GroupCoordinator;
pub use runtime::GroupCoordinatorHandle;

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Kafka's other internal topic (transactions), reserved the same way.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// True for the topics Kafka treats as internal (`is_internal` in Metadata).
pub fn is_internal_topic(name: &str) -> bool {
    name == OFFSETS_TOPIC || name == TRANSACTION_STATE_TOPIC
}

/// The `__consumer_offsets` partition that owns a group: Kafka's
/// `Utils.abs(groupId.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16 code
/// units, so a group lands where Kafka would put it.
pub fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group_id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// Kafka error codes of the group APIs.
pub mod error {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_FETCH_SIZE: i16 = 4;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const RECORD_LIST_TOO_LARGE: i16 = 18;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const INVALID_REQUEST: i16 = 42;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub const FENCED_INSTANCE_ID: i16 = 82;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

    /// Kafka's mapping of a failed `__consumer_offsets` append to what clients are told
    /// (`appendGroupMetadataErrorToResponseError`): retriable where retrying can help.
    pub fn for_append_failure(code: i16) -> i16 {
        match code {
            UNKNOWN_TOPIC_OR_PARTITION | NOT_ENOUGH_REPLICAS | REQUEST_TIMED_OUT => {
                COORDINATOR_NOT_AVAILABLE
            }
            NOT_LEADER_OR_FOLLOWER | KAFKA_STORAGE_ERROR => NOT_COORDINATOR,
            MESSAGE_TOO_LARGE | RECORD_LIST_TOO_LARGE | INVALID_FETCH_SIZE => UNKNOWN_SERVER_ERROR,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_for_matches_java_string_hashcode() {
        // Values printed by Java 17: Math.abs(s.hashCode()) % 50.
        // "console-consumer-1".hashCode() = 35782224
        assert_eq!(partition_for("console-consumer-1", 50), 24);
        // "".hashCode() = 0
        assert_eq!(partition_for("", 50), 0);
        // "my-group".hashCode() = -1906497762
        assert_eq!(partition_for("my-group", 50), 12);
        // Non-BMP characters hash as two UTF-16 units: "😀".hashCode() = 1772899
        assert_eq!(partition_for("😀", 50), 49);
        // "polygenelubricants".hashCode() = Integer.MIN_VALUE: Utils.abs makes it 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        for p in [1, 3, 50] {
            assert!((0..p).contains(&partition_for("x", p)));
        }
    }
}
