//! Committed offsets, by group, topic and partition.
//!
//! Changed only by `apply` — replaying an OffsetCommit record (or its tombstone) that is already
//! in `__consumer_offsets` — so the same code serves live commits and start-up loading.

use std::collections::BTreeMap;

use super::records::OffsetCommitValue;

/// An offset committed inside a transaction: (group, topic, partition, value).
pub type PendingOffset = (String, String, i32, Option<OffsetCommitValue>);

#[derive(Debug, Default)]
pub struct OffsetStore {
    by_group: BTreeMap<String, BTreeMap<String, BTreeMap<i32, OffsetCommitValue>>>,
    /// Offsets committed inside transactions not yet decided, by producer id (Kafka's
    /// `pendingTransactionalOffsets`): invisible to OffsetFetch until the commit marker.
    pending: BTreeMap<i64, Vec<PendingOffset>>,
}

impl OffsetStore {
    /// Applies one record: `Some` stores the offset, `None` (a tombstone) removes it.
    pub fn apply(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<OffsetCommitValue>,
    ) {
        match value {
            Some(v) => {
                self.by_group
                    .entry(group.to_string())
                    .or_default()
                    .entry(topic.to_string())
                    .or_default()
                    .insert(partition, v);
            }
            None => {
                let Some(topics) = self.by_group.get_mut(group) else {
                    return;
                };
                if let Some(partitions) = topics.get_mut(topic) {
                    partitions.remove(&partition);
                    if partitions.is_empty() {
                        topics.remove(topic);
                    }
                }
                if topics.is_empty() {
                    self.by_group.remove(group);
                }
            }
        }
    }

    /// Records an offset committed inside `producer_id`'s transaction.
    pub fn apply_pending(
        &mut self,
        producer_id: i64,
        group: &str,
        topic: &str,
        partition: i32,
        value: Option<OffsetCommitValue>,
    ) {
        self.pending.entry(producer_id).or_default().push((
            group.to_string(),
            topic.to_string(),
            partition,
            value,
        ));
    }

    /// The producer's pending offsets, removed (its transaction ended).
    pub fn take_pending(&mut self, producer_id: i64) -> Vec<PendingOffset> {
        self.pending.remove(&producer_id).unwrap_or_default()
    }

    /// True while a transaction holds an undecided offset for this partition (OffsetFetch with
    /// `require_stable` then answers UNSTABLE_OFFSET_COMMIT).
    pub fn has_pending(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.pending
            .values()
            .flatten()
            .any(|(g, t, p, _)| g == group && t == topic && *p == partition)
    }

    /// The partitions of `group` whose offsets some transaction holds undecided.
    pub fn pending_of(&self, group: &str) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = self
            .pending
            .values()
            .flatten()
            .filter(|(g, _, _, _)| g == group)
            .map(|(_, t, p, _)| (t.clone(), *p))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Groups with offsets pending in some transaction.
    pub fn has_pending_group(&self, group: &str) -> bool {
        self.pending
            .values()
            .flatten()
            .any(|(g, _, _, _)| g == group)
    }

    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&OffsetCommitValue> {
        self.by_group.get(group)?.get(topic)?.get(&partition)
    }

    /// All of a group's offsets, by topic then partition.
    pub fn group(
        &self,
        group: &str,
    ) -> Option<&BTreeMap<String, BTreeMap<i32, OffsetCommitValue>>> {
        self.by_group.get(group)
    }

    pub fn has_offsets(&self, group: &str) -> bool {
        self.by_group.contains_key(group)
    }

    /// Every (topic, partition) a group has an offset for.
    pub fn partitions_of(&self, group: &str) -> Vec<(String, i32)> {
        self.by_group
            .get(group)
            .map(|topics| {
                topics
                    .iter()
                    .flat_map(|(t, ps)| ps.keys().map(move |p| (t.clone(), *p)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every (group, partition) with an offset for `topic`.
    pub fn holders_of_topic(&self, topic: &str) -> Vec<(String, i32)> {
        self.by_group
            .iter()
            .filter_map(|(g, topics)| topics.get(topic).map(|ps| (g, ps)))
            .flat_map(|(g, ps)| ps.keys().map(move |p| (g.clone(), *p)))
            .collect()
    }

    /// Every committed offset: (group, topic, partition, offset).
    pub fn all(&self) -> impl Iterator<Item = (&str, &str, i32, i64)> {
        self.by_group.iter().flat_map(|(g, topics)| {
            topics.iter().flat_map(move |(t, ps)| {
                ps.iter()
                    .map(move |(p, v)| (g.as_str(), t.as_str(), *p, v.offset))
            })
        })
    }

    pub fn len(&self) -> usize {
        self.by_group
            .values()
            .flat_map(|t| t.values())
            .map(|p| p.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_group.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(offset: i64) -> OffsetCommitValue {
        OffsetCommitValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: 0,
            expire_timestamp_ms: None,
        }
    }

    #[test]
    fn commits_replace_and_tombstones_remove() {
        let mut s = OffsetStore::default();
        s.apply("g", "t", 0, Some(v(1)));
        s.apply("g", "t", 0, Some(v(5)));
        s.apply("g", "u", 2, Some(v(7)));
        assert_eq!(s.get("g", "t", 0).map(|x| x.offset), Some(5));
        assert_eq!(s.len(), 2);
        assert_eq!(s.holders_of_topic("u"), vec![("g".to_string(), 2)]);
        s.apply("g", "t", 0, None);
        s.apply("g", "u", 2, None);
        s.apply("nope", "t", 0, None);
        assert!(!s.has_offsets("g"));
        assert!(s.is_empty());
    }
}
