//! Consumer group lag, read through the broker's own state (no Kafka client): per group,
//! topic and partition, the log end offset — the high watermark, which is what a consumer can
//! read up to — minus the group's committed offset.

use std::time::Duration;

use crate::broker::Broker;
use crate::coordinator::group::coordinator::GroupsSnapshot;

/// How long a caller waits for the group coordinator's snapshot.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// One partition's lag for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub committed: i64,
    pub end_offset: i64,
    pub lag: i64,
}

/// Every committed offset's lag, sorted by group, topic and partition. Offsets of topics or
/// partitions that no longer exist are left out. Blocks while the group coordinator answers
/// (up to a few seconds): call it off the async workers (`spawn_blocking`). Empty when the
/// coordinator does not answer.
pub fn group_lag(broker: &Broker) -> Vec<PartitionLag> {
    let Some(snapshot) = groups_snapshot(broker) else {
        return Vec::new();
    };
    lag_from(broker, snapshot.committed)
}

/// The group coordinator's committed offsets and group states (blocks, as [`group_lag`]).
pub fn groups_snapshot(broker: &Broker) -> Option<GroupsSnapshot> {
    broker.groups.snapshot_blocking(SNAPSHOT_TIMEOUT)
}

/// The lag of these committed offsets, against the partitions' high watermarks now.
pub fn lag_from(broker: &Broker, committed: Vec<(String, String, i32, i64)>) -> Vec<PartitionLag> {
    lag_of(committed, |topic, partition| {
        let t = broker.topics.get(topic)?;
        let p = t.partition(partition)?;
        Some(p.log().high_watermark())
    })
}

/// The lag of each (group, topic, partition, committed offset), given the end offsets. A
/// committed offset past the end (the log was truncated or recreated) counts as no lag.
fn lag_of(
    committed: Vec<(String, String, i32, i64)>,
    end_offset: impl Fn(&str, i32) -> Option<i64>,
) -> Vec<PartitionLag> {
    let mut out: Vec<PartitionLag> = committed
        .into_iter()
        .filter_map(|(group, topic, partition, committed)| {
            let end_offset = end_offset(&topic, partition)?;
            Some(PartitionLag {
                lag: end_offset.saturating_sub(committed).max(0),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_end_offset_minus_the_committed_offset() {
        let committed = vec![
            ("g".to_string(), "t".to_string(), 1, 10),
            ("g".to_string(), "t".to_string(), 0, 3),
            ("g".to_string(), "gone".to_string(), 0, 3),
            ("h".to_string(), "t".to_string(), 0, 50),
        ];
        let ends = |topic: &str, partition: i32| match (topic, partition) {
            ("t", 0) => Some(40),
            ("t", 1) => Some(10),
            _ => None,
        };
        let lags: Vec<(String, i32, i64, i64, i64)> = lag_of(committed, ends)
            .into_iter()
            .map(|l| (l.group, l.partition, l.committed, l.end_offset, l.lag))
            .collect();
        assert_eq!(
            lags,
            vec![
                ("g".to_string(), 0, 3, 40, 37),
                ("g".to_string(), 1, 10, 10, 0),
                // Committed past the end (a truncated log): no lag rather than a negative one.
                ("h".to_string(), 0, 50, 40, 0),
            ]
        );
    }
}
