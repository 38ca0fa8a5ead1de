//! Topic-level configs: Kafka's names, their broker-level synonyms, and validation.
//!
//! A topic stores only the configs set on it; everything else comes from the broker's `log.*`
//! settings, exactly as Kafka resolves them. CreateTopics rejects unknown names and bad values
//! with INVALID_CONFIG, as Kafka does. Which of these the log engine enforces today: the
//! segment, index, flush, timestamp and size settings. Retention and compaction are stored and
//! reported; their enforcement is its own piece of work.

use std::collections::BTreeMap;

use crate::config::BrokerConfig;
use crate::log::{LogConfig, TimestampType};

/// How a value is checked.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer at least this large.
    Long(i64),
    Int(i64),
    Bool,
    Ratio,
    OneOf(&'static [&'static str]),
    /// A comma-separated list of these words.
    ListOf(&'static [&'static str]),
    /// Free text.
    Text,
}

/// A topic config Kafka defines: its name, the broker config it defaults from, and its rule.
pub struct TopicConfigDef {
    pub name: &'static str,
    /// The broker-level synonym, when there is one.
    pub broker_synonym: Option<&'static str>,
    /// Kafka's default when the broker does not set the synonym.
    pub default: &'static str,
    kind: Kind,
}

const fn def(
    name: &'static str,
    broker_synonym: Option<&'static str>,
    default: &'static str,
    kind: Kind,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_synonym,
        default,
        kind,
    }
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];

/// Kafka 4.1's topic configs.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        Some("log.cleanup.policy"),
        "delete",
        Kind::ListOf(&["delete", "compact"]),
    ),
    def(
        "compression.type",
        Some("compression.type"),
        "producer",
        Kind::OneOf(COMPRESSION),
    ),
    def(
        "compression.gzip.level",
        Some("compression.gzip.level"),
        "-1",
        Kind::Int(-1),
    ),
    def(
        "compression.lz4.level",
        Some("compression.lz4.level"),
        "9",
        Kind::Int(1),
    ),
    def(
        "compression.zstd.level",
        Some("compression.zstd.level"),
        "3",
        Kind::Int(-131072),
    ),
    def(
        "delete.retention.ms",
        Some("log.cleaner.delete.retention.ms"),
        "86400000",
        Kind::Long(0),
    ),
    def(
        "file.delete.delay.ms",
        Some("log.segment.delete.delay.ms"),
        "60000",
        Kind::Long(0),
    ),
    def(
        "flush.messages",
        Some("log.flush.interval.messages"),
        "9223372036854775807",
        Kind::Long(1),
    ),
    def(
        "flush.ms",
        Some("log.flush.interval.ms"),
        "9223372036854775807",
        Kind::Long(0),
    ),
    def(
        "follower.replication.throttled.replicas",
        None,
        "",
        Kind::Text,
    ),
    def(
        "index.interval.bytes",
        Some("log.index.interval.bytes"),
        "4096",
        Kind::Int(0),
    ),
    def(
        "leader.replication.throttled.replicas",
        None,
        "",
        Kind::Text,
    ),
    def(
        "local.retention.bytes",
        Some("log.local.retention.bytes"),
        "-2",
        Kind::Long(-2),
    ),
    def(
        "local.retention.ms",
        Some("log.local.retention.ms"),
        "-2",
        Kind::Long(-2),
    ),
    def(
        "max.compaction.lag.ms",
        Some("log.cleaner.max.compaction.lag.ms"),
        "9223372036854775807",
        Kind::Long(1),
    ),
    def(
        "max.message.bytes",
        Some("message.max.bytes"),
        "1048588",
        Kind::Int(0),
    ),
    def(
        "message.timestamp.after.max.ms",
        Some("log.message.timestamp.after.max.ms"),
        "3600000",
        Kind::Long(0),
    ),
    def(
        "message.timestamp.before.max.ms",
        Some("log.message.timestamp.before.max.ms"),
        "9223372036854775807",
        Kind::Long(0),
    ),
    def(
        "message.timestamp.type",
        Some("log.message.timestamp.type"),
        "CreateTime",
        Kind::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    def(
        "min.cleanable.dirty.ratio",
        Some("log.cleaner.min.cleanable.ratio"),
        "0.5",
        Kind::Ratio,
    ),
    def(
        "min.compaction.lag.ms",
        Some("log.cleaner.min.compaction.lag.ms"),
        "0",
        Kind::Long(0),
    ),
    def(
        "min.insync.replicas",
        Some("min.insync.replicas"),
        "1",
        Kind::Int(1),
    ),
    def("preallocate", Some("log.preallocate"), "false", Kind::Bool),
    def("remote.storage.enable", None, "false", Kind::Bool),
    def(
        "retention.bytes",
        Some("log.retention.bytes"),
        "-1",
        Kind::Long(i64::MIN),
    ),
    def(
        "retention.ms",
        Some("log.retention.ms"),
        "604800000",
        Kind::Long(-1),
    ),
    def(
        "segment.bytes",
        Some("log.segment.bytes"),
        "1073741824",
        Kind::Int(1024 * 1024),
    ),
    def(
        "segment.index.bytes",
        Some("log.index.size.max.bytes"),
        "10485760",
        Kind::Int(4),
    ),
    def(
        "segment.jitter.ms",
        Some("log.roll.jitter.ms"),
        "0",
        Kind::Long(0),
    ),
    def(
        "segment.ms",
        Some("log.roll.ms"),
        "604800000",
        Kind::Long(1),
    ),
    def(
        "unclean.leader.election.enable",
        Some("unclean.leader.election.enable"),
        "false",
        Kind::Bool,
    ),
];

/// Looks a topic config up by name.
pub fn find(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Checks one topic config; the error text is what Kafka's INVALID_CONFIG message carries.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    let Some(d) = find(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let bad = || format!("Invalid value {value} for configuration {name}");
    let v = value.trim();
    match d.kind {
        Kind::Long(min) | Kind::Int(min) => {
            let n: i64 = v.parse().map_err(|_| bad())?;
            if matches!(d.kind, Kind::Int(_)) && i32::try_from(n).is_err() {
                return Err(bad());
            }
            if n < min {
                return Err(format!("{}: Value must be at least {min}", bad()));
            }
        }
        Kind::Bool => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(bad());
            }
        }
        Kind::Ratio => {
            let r: f64 = v.parse().map_err(|_| bad())?;
            if !(0.0..=1.0).contains(&r) {
                return Err(bad());
            }
        }
        Kind::OneOf(words) => {
            if !words.contains(&v) {
                return Err(format!(
                    "{}: String must be one of: {}",
                    bad(),
                    words.join(", ")
                ));
            }
        }
        Kind::ListOf(words) => {
            if v.split(',').any(|w| !words.contains(&w.trim())) {
                return Err(bad());
            }
        }
        Kind::Text => {}
    }
    Ok(())
}

/// The value in force for `name` on a topic with `overrides`, and whether it was set on the
/// topic (true) or inherited (false).
pub fn effective(
    name: &str,
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> Option<(String, bool)> {
    if let Some(v) = overrides.get(name) {
        return Some((v.clone(), true));
    }
    let d = find(name)?;
    let from_broker = d
        .broker_synonym
        .and_then(|s| broker.overrides.get(s).cloned());
    Some((from_broker.unwrap_or_else(|| d.default.to_string()), false))
}

/// The log engine's settings for a topic: broker defaults, then the topic's overrides.
pub fn log_config(overrides: &BTreeMap<String, String>, broker: &BrokerConfig) -> LogConfig {
    let mut c = broker.log.clone();
    let get = |k: &str| overrides.get(k).map(|v| v.trim().to_string());
    if let Some(v) = get("segment.bytes").and_then(|v| v.parse().ok()) {
        c.segment_bytes = v;
    }
    if let Some(v) = get("segment.ms").and_then(|v| v.parse().ok()) {
        c.segment_ms = v;
    }
    if let Some(v) = get("index.interval.bytes").and_then(|v| v.parse().ok()) {
        c.index_interval_bytes = v;
    }
    if let Some(v) = get("flush.messages").and_then(|v| v.parse::<i64>().ok()) {
        c.flush_interval_messages = u64::try_from(v).unwrap_or(u64::MAX);
    }
    if let Some(v) = get("flush.ms").and_then(|v| v.parse::<i64>().ok()) {
        c.flush_interval_ms = u64::try_from(v).unwrap_or(u64::MAX);
    }
    if let Some(v) = get("max.message.bytes").and_then(|v| v.parse().ok()) {
        c.max_message_bytes = v;
    }
    match get("message.timestamp.type").as_deref() {
        Some("LogAppendTime") => c.timestamp_type = TimestampType::LogAppendTime,
        Some("CreateTime") => c.timestamp_type = TimestampType::CreateTime,
        _ => {}
    }
    if let Some(v) = get("message.timestamp.before.max.ms").and_then(|v| v.parse().ok()) {
        c.timestamp_before_max_ms = v;
    }
    if let Some(v) = get("message.timestamp.after.max.ms").and_then(|v| v.parse().ok()) {
        c.timestamp_after_max_ms = v;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_kafka_rules() {
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "shred").is_err());
        assert!(validate("retention.ms", "-1").is_ok());
        assert!(validate("retention.ms", "-2").is_err());
        assert!(validate("segment.bytes", "100").is_err());
        assert!(validate("segment.bytes", "1048576").is_ok());
        assert!(validate("no.such.config", "1").is_err());
        assert!(validate("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate("message.timestamp.type", "LogAppendTime").is_ok());
    }

    #[test]
    fn topic_overrides_reach_the_log_config() {
        let broker = BrokerConfig::from_map(BTreeMap::new()).unwrap();
        let mut o = BTreeMap::new();
        o.insert("segment.bytes".to_string(), "2097152".to_string());
        o.insert(
            "message.timestamp.type".to_string(),
            "LogAppendTime".to_string(),
        );
        let c = log_config(&o, &broker);
        assert_eq!(c.segment_bytes, 2_097_152);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(
            effective("retention.ms", &o, &broker),
            Some(("604800000".into(), false))
        );
    }
}
