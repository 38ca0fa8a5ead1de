//! Consumer lag per group and partition: the committed offset against the partition's end
//! (the high watermark, where a consumer catches up). The console shows it; `/metrics` can
//! export the same numbers.

use std::time::Duration;

use crate::broker::Broker;

/// How long [`group_lag`] waits for the group coordinator.
const COORDINATOR_WAIT: Duration = Duration::from_secs(1);

/// One group's position in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    /// The high watermark (the offset a caught-up consumer commits).
    pub end_offset: i64,
    /// `end_offset - committed`, never negative (a commit past the end, or a partition whose
    /// topic is gone, counts as no lag).
    pub lag: i64,
}

/// Every committed offset of every group, with its lag, ordered by group, topic and partition.
/// Committed offsets of deleted topics are left out. Blocks the calling thread on the group
/// coordinator (at most a second; empty if it does not answer): call it from a blocking thread
/// (`spawn_blocking`), not from an async worker.
pub fn group_lag(broker: &Broker) -> Vec<PartitionLag> {
    let Some(committed) = broker.groups.committed_offsets_blocking(COORDINATOR_WAIT) else {
        return Vec::new();
    };
    let mut out: Vec<PartitionLag> = committed
        .into_iter()
        .filter_map(|(group, topic, partition, committed)| {
            let end_offset = broker
                .topics
                .get(&topic)?
                .partition(partition)?
                .log()
                .high_watermark();
            Some(PartitionLag {
                lag: (end_offset - committed).max(0),
                group,
                topic,
                partition,
                committed,
                end_offset,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.group, &a.topic, a.partition).cmp(&(&b.group, &b.topic, b.partition)));
    out
}
