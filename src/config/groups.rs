//! The group coordinator's settings (`group.*`, `offsets.*`), parsed with the broker's.

use std::collections::BTreeMap;

use super::setting as get;

/// Settings of the group coordinator, with Kafka's names (see `config::KNOWN_KEYS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms` (Kafka: 3000; 0 here so a first join is instant).
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`: members per group (Kafka: unlimited). Also bounds members still
    /// holding a MEMBER_ID_REQUIRED id, which Kafka does not bound.
    pub max_size: usize,
    /// `vltava.group.max.count`: groups per broker (Kafka has no bound).
    pub max_groups: usize,
    /// `offsets.retention.minutes`, in ms.
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`
    pub offsets_retention_check_interval_ms: i64,
    /// `offset.metadata.max.bytes` (counted in UTF-16 units, as Java's `String.length`).
    pub offset_metadata_max_bytes: usize,
    /// `offsets.topic.num.partitions` (used when the topic is created).
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.segment.bytes`
    pub offsets_topic_segment_bytes: i64,
    /// Kafka's fixed new-member join timeout (5 minutes): a member that joined during a
    /// rebalance and never got its answer is dropped after this.
    pub new_member_join_timeout_ms: i32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 0,
            max_size: 1000,
            max_groups: 10_000,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            offsets_retention_check_interval_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            offsets_topic_num_partitions: 50,
            offsets_topic_segment_bytes: 100 * 1024 * 1024,
            new_member_join_timeout_ms: 5 * 60 * 1000,
        }
    }
}

impl GroupConfig {
    /// Reads the group settings from explicitly-set broker values (defaults otherwise).
    /// `Err((key, value))` names the first invalid one.
    pub fn from_overrides(map: &BTreeMap<String, String>) -> Result<GroupConfig, (String, String)> {
        let d = GroupConfig::default();
        let retention_minutes: i64 = get(
            map,
            "offsets.retention.minutes",
            d.offsets_retention_ms / 60_000,
            1,
        )?;
        let config = GroupConfig {
            min_session_timeout_ms: get(
                map,
                "group.min.session.timeout.ms",
                d.min_session_timeout_ms,
                0,
            )?,
            max_session_timeout_ms: get(
                map,
                "group.max.session.timeout.ms",
                d.max_session_timeout_ms,
                0,
            )?,
            initial_rebalance_delay_ms: get(
                map,
                "group.initial.rebalance.delay.ms",
                d.initial_rebalance_delay_ms,
                0,
            )?,
            max_size: get(map, "group.max.size", d.max_size, 1)?,
            max_groups: get(map, "vltava.group.max.count", d.max_groups, 1)?,
            offsets_retention_ms: retention_minutes.saturating_mul(60_000),
            offsets_retention_check_interval_ms: get(
                map,
                "offsets.retention.check.interval.ms",
                d.offsets_retention_check_interval_ms,
                1,
            )?,
            offset_metadata_max_bytes: get(
                map,
                "offset.metadata.max.bytes",
                d.offset_metadata_max_bytes,
                0,
            )?,
            offsets_topic_num_partitions: get(
                map,
                "offsets.topic.num.partitions",
                d.offsets_topic_num_partitions,
                1,
            )?,
            offsets_topic_segment_bytes: get(
                map,
                "offsets.topic.segment.bytes",
                d.offsets_topic_segment_bytes,
                1,
            )?,
            new_member_join_timeout_ms: d.new_member_join_timeout_ms,
        };
        if config.max_session_timeout_ms < config.min_session_timeout_ms {
            return Err((
                "group.max.session.timeout.ms".into(),
                config.max_session_timeout_ms.to_string(),
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_kafka_keys_and_rejects_nonsense() {
        let mut m = BTreeMap::new();
        m.insert("group.max.size".to_string(), "5".to_string());
        m.insert("offsets.retention.minutes".to_string(), "2".to_string());
        let c = GroupConfig::from_overrides(&m).unwrap();
        assert_eq!(c.max_size, 5);
        assert_eq!(c.offsets_retention_ms, 120_000);
        assert_eq!(c.initial_rebalance_delay_ms, 0);
        m.insert("group.max.size".to_string(), "0".to_string());
        assert!(GroupConfig::from_overrides(&m).is_err());
        let mut m = BTreeMap::new();
        m.insert(
            "group.min.session.timeout.ms".to_string(),
            "9000".to_string(),
        );
        m.insert(
            "group.max.session.timeout.ms".to_string(),
            "8000".to_string(),
        );
        assert!(GroupConfig::from_overrides(&m).is_err());
    }
}
