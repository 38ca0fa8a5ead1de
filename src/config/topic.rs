//! Topic-level configs: Kafka's names, types, defaults, their broker-level synonyms, validation,
//! and how they become a partition's [`LogConfig`].
//!
//! A topic stores only the configs set on it; everything else comes from the broker's settings,
//! exactly as Kafka resolves them (`ServerTopicConfigSynonyms`): the first broker synonym that is
//! set wins — `segment.ms` looks at `log.roll.ms`, then `log.roll.hours` (converted to
//! milliseconds); `retention.ms` at `log.retention.ms`, `.minutes`, `.hours` — and the topic
//! default applies when none is. "Set" covers static settings and dynamic broker configs alike:
//! the broker hands in its effective settings.
//!
//! Enforced by the log engine: segment size/age, index interval, flush, timestamps, message
//! size, retention (`retention.ms`, `retention.bytes`), `cleanup.policy` and the compaction
//! settings. Stored and reported only: replication, tiered-storage, compression-level, jitter,
//! preallocation, file-deletion-delay, share-group dead-letter and
//! `max.decompressed.message.bytes` (the log bounds decompression per batch on its own).

use std::collections::BTreeMap;

use crate::config::BrokerConfig;
use crate::config::catalogue::ConfigType;
use crate::log::{Compression, LogConfig, TimestampType};

/// How a value is checked beyond its type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer at least this large.
    AtLeast(i64),
    /// An integer in this range (inclusive).
    Between(i64, i64),
    /// An integer in this range (inclusive), or exactly the first value given.
    Levels(i64, i64, i64),
    /// Any value of the type.
    Any,
    /// A number in 0..=1.
    Ratio,
    OneOf(&'static [&'static str]),
    /// A comma-separated list of these words.
    ListOf(&'static [&'static str]),
    /// `*` or a list of `partition:broker` pairs (the throttled-replica lists).
    ReplicaList,
}

/// A broker config a topic config defaults from, and the factor turning its unit into the
/// topic config's (hours and minutes into milliseconds).
#[derive(Debug)]
pub struct Synonym {
    pub name: &'static str,
    pub factor: i64,
}

const fn syn(name: &'static str) -> Synonym {
    Synonym { name, factor: 1 }
}

/// A topic config Kafka defines.
#[derive(Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    /// The highest-precedence broker synonym, when there is one (Kafka's "server default
    /// property"; the broker config a dynamic broker update changes).
    pub broker_synonym: Option<&'static str>,
    /// Every broker synonym in precedence order.
    pub synonyms: &'static [Synonym],
    /// Kafka's default when no broker synonym is set.
    pub default: &'static str,
    pub ty: ConfigType,
    kind: Kind,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    synonyms: &'static [Synonym],
    default: &'static str,
    ty: ConfigType,
    kind: Kind,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_synonym: match synonyms.first() {
            Some(s) => Some(s.name),
            None => None,
        },
        synonyms,
        default,
        ty,
        kind,
        doc,
    }
}

const COMPRESSION: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const HOURS: i64 = 3_600_000;
const MINUTES: i64 = 60_000;

use ConfigType as T;

/// Kafka 4.4's topic configs, sorted by name.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        &[syn("log.cleanup.policy")],
        "delete",
        T::List,
        Kind::ListOf(&["compact", "delete"]),
        "`delete` drops old segments by time or size; `compact` keeps the latest record per key; both may be given.",
    ),
    def(
        "compression.gzip.level",
        &[syn("compression.gzip.level")],
        "-1",
        T::Int,
        Kind::Levels(-1, 1, 9),
        "Level used when the broker compresses this topic with gzip.",
    ),
    def(
        "compression.lz4.level",
        &[syn("compression.lz4.level")],
        "9",
        T::Int,
        Kind::Levels(9, 1, 17),
        "Level used when the broker compresses this topic with lz4.",
    ),
    def(
        "compression.type",
        &[syn("compression.type")],
        "producer",
        T::String,
        Kind::OneOf(COMPRESSION),
        "Final compression of the topic's data; `producer` keeps what producers sent.",
    ),
    def(
        "compression.zstd.level",
        &[syn("compression.zstd.level")],
        "3",
        T::Int,
        Kind::Levels(3, -131_072, 22),
        "Level used when the broker compresses this topic with zstd.",
    ),
    def(
        "delete.retention.ms",
        &[syn("log.cleaner.delete.retention.ms")],
        "86400000",
        T::Long,
        Kind::AtLeast(0),
        "How long a tombstone of a compacted topic stays readable after compaction first keeps it.",
    ),
    def(
        "errors.deadletterqueue.group.enable",
        &[],
        "false",
        T::Boolean,
        Kind::Any,
        "Allow share groups to use this topic as their dead-letter queue.",
    ),
    def(
        "file.delete.delay.ms",
        &[syn("log.segment.delete.delay.ms")],
        "60000",
        T::Long,
        Kind::AtLeast(0),
        "Delay before a deleted segment's files are removed.",
    ),
    def(
        "flush.messages",
        &[syn("log.flush.interval.messages")],
        "9223372036854775807",
        T::Long,
        Kind::AtLeast(1),
        "Force an fsync after this many records.",
    ),
    def(
        "flush.ms",
        &[
            syn("log.flush.interval.ms"),
            syn("log.flush.scheduler.interval.ms"),
        ],
        "9223372036854775807",
        T::Long,
        Kind::AtLeast(0),
        "Force an fsync when unflushed data is this old.",
    ),
    def(
        "follower.replication.throttled.replicas",
        &[],
        "",
        T::List,
        Kind::ReplicaList,
        "Replicas throttled on the follower side (`partition:broker,...` or `*`).",
    ),
    def(
        "index.interval.bytes",
        &[syn("log.index.interval.bytes")],
        "4096",
        T::Int,
        Kind::AtLeast(0),
        "Bytes of log between two offset index entries.",
    ),
    def(
        "leader.replication.throttled.replicas",
        &[],
        "",
        T::List,
        Kind::ReplicaList,
        "Replicas throttled on the leader side (`partition:broker,...` or `*`).",
    ),
    def(
        "local.retention.bytes",
        &[syn("log.local.retention.bytes")],
        "-2",
        T::Long,
        Kind::AtLeast(-2),
        "Local size bound with tiered storage (-2: use retention.bytes).",
    ),
    def(
        "local.retention.ms",
        &[syn("log.local.retention.ms")],
        "-2",
        T::Long,
        Kind::AtLeast(-2),
        "Local time bound with tiered storage (-2: use retention.ms).",
    ),
    def(
        "max.compaction.lag.ms",
        &[syn("log.cleaner.max.compaction.lag.ms")],
        "9223372036854775807",
        T::Long,
        Kind::AtLeast(1),
        "Longest a record may stay uncompacted.",
    ),
    def(
        "max.decompressed.message.bytes",
        &[syn("max.decompressed.message.bytes")],
        "2147483639",
        T::Int,
        Kind::Between(1, 2_147_483_639),
        "Largest single record accepted once decompressed (max.message.bytes bounds the batch as sent).",
    ),
    def(
        "max.message.bytes",
        &[syn("message.max.bytes")],
        "1048588",
        T::Int,
        Kind::AtLeast(0),
        "Largest record batch the topic accepts.",
    ),
    def(
        "message.timestamp.after.max.ms",
        &[syn("log.message.timestamp.after.max.ms")],
        "3600000",
        T::Long,
        Kind::AtLeast(0),
        "How far in the future a CreateTime timestamp may be.",
    ),
    def(
        "message.timestamp.before.max.ms",
        &[syn("log.message.timestamp.before.max.ms")],
        "9223372036854775807",
        T::Long,
        Kind::AtLeast(0),
        "How far in the past a CreateTime timestamp may be.",
    ),
    def(
        "message.timestamp.type",
        &[syn("log.message.timestamp.type")],
        "CreateTime",
        T::String,
        Kind::OneOf(&["CreateTime", "LogAppendTime"]),
        "Whether records keep the producer's timestamp or get the broker's append time.",
    ),
    def(
        "min.cleanable.dirty.ratio",
        &[syn("log.cleaner.min.cleanable.ratio")],
        "0.5",
        T::Double,
        Kind::Ratio,
        "Share of uncompacted bytes that makes the log worth compacting.",
    ),
    def(
        "min.compaction.lag.ms",
        &[syn("log.cleaner.min.compaction.lag.ms")],
        "0",
        T::Long,
        Kind::AtLeast(0),
        "Records younger than this are never compacted.",
    ),
    def(
        "min.insync.replicas",
        &[syn("min.insync.replicas")],
        "1",
        T::Int,
        Kind::AtLeast(1),
        "In-sync replicas an acks=all write needs.",
    ),
    def(
        "preallocate",
        &[syn("log.preallocate")],
        "false",
        T::Boolean,
        Kind::Any,
        "Preallocate segment files.",
    ),
    def(
        "remote.copy.lag.bytes",
        &[syn("log.remote.copy.lag.bytes")],
        "-1",
        T::Long,
        Kind::AtLeast(-1),
        "Newer local data, in bytes, that makes a segment due for upload to remote storage (-1: from local.retention.bytes; 0: at once).",
    ),
    def(
        "remote.copy.lag.ms",
        &[syn("log.remote.copy.lag.ms")],
        "0",
        T::Long,
        Kind::AtLeast(-1),
        "Age that makes a segment due for upload to remote storage (-1: from local.retention.ms; 0: at once).",
    ),
    def(
        "remote.log.copy.disable",
        &[],
        "false",
        T::Boolean,
        Kind::Any,
        "Stop copying segments to remote storage.",
    ),
    def(
        "remote.log.delete.on.disable",
        &[],
        "false",
        T::Boolean,
        Kind::Any,
        "Delete remote data when tiered storage is turned off.",
    ),
    def(
        "remote.storage.enable",
        &[],
        "false",
        T::Boolean,
        Kind::Any,
        "Use tiered storage for this topic.",
    ),
    def(
        "retention.bytes",
        &[syn("log.retention.bytes")],
        "-1",
        T::Long,
        Kind::Any,
        "Largest size of a partition before old segments are deleted (-1: no limit).",
    ),
    def(
        "retention.ms",
        &[
            syn("log.retention.ms"),
            Synonym {
                name: "log.retention.minutes",
                factor: MINUTES,
            },
            Synonym {
                name: "log.retention.hours",
                factor: HOURS,
            },
        ],
        "604800000",
        T::Long,
        Kind::AtLeast(-1),
        "How long records are kept before their segment is deleted (-1: forever).",
    ),
    def(
        "segment.bytes",
        &[syn("log.segment.bytes")],
        "1073741824",
        T::Int,
        Kind::AtLeast(1024 * 1024),
        "Size of one segment file.",
    ),
    def(
        "segment.index.bytes",
        &[syn("log.index.size.max.bytes")],
        "10485760",
        T::Int,
        Kind::AtLeast(4),
        "Largest offset index of a segment.",
    ),
    def(
        "segment.jitter.ms",
        &[
            syn("log.roll.jitter.ms"),
            Synonym {
                name: "log.roll.jitter.hours",
                factor: HOURS,
            },
        ],
        "0",
        T::Long,
        Kind::AtLeast(0),
        "Random reduction of segment.ms, to spread rolls.",
    ),
    def(
        "segment.ms",
        &[
            syn("log.roll.ms"),
            Synonym {
                name: "log.roll.hours",
                factor: HOURS,
            },
        ],
        "604800000",
        T::Long,
        Kind::AtLeast(1),
        "Roll a new segment when the active one is this old, so retention can act.",
    ),
    def(
        "unclean.leader.election.enable",
        &[syn("unclean.leader.election.enable")],
        "false",
        T::Boolean,
        Kind::Any,
        "Let an out-of-sync replica become leader as a last resort.",
    ),
];

/// Looks a topic config up by name.
pub fn find(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Longest config value accepted (Kafka has no bound; configs are journaled and held in memory,
/// so one is kept here).
pub const MAX_CONFIG_VALUE_BYTES: usize = 32 * 1024;

/// Checks one topic config; the error text is what Kafka's INVALID_CONFIG message carries.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    let Some(d) = find(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    if value.len() > MAX_CONFIG_VALUE_BYTES {
        return Err(format!(
            "Invalid value for configuration {name}: longer than {MAX_CONFIG_VALUE_BYTES} bytes"
        ));
    }
    d.check(value)
}

impl TopicConfigDef {
    /// Kafka's `ConfigDef` parse and validator for this config.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let name = self.name;
        self.ty.check(name, value)?;
        let v = value.trim();
        let bad = |why: String| format!("Invalid value {value} for configuration {name}: {why}");
        match self.kind {
            Kind::AtLeast(min) => {
                let n: i64 = v.parse().unwrap_or(i64::MIN);
                if n < min {
                    return Err(bad(format!("Value must be at least {min}")));
                }
            }
            Kind::Between(min, max) => {
                let n: i64 = v.parse().unwrap_or(i64::MIN);
                if n < min {
                    return Err(bad(format!("Value must be at least {min}")));
                }
                if n > max {
                    return Err(bad(format!("Value must be no more than {max}")));
                }
            }
            Kind::Levels(default, lo, hi) => {
                let n: i64 = v.parse().unwrap_or(i64::MIN);
                if n != default && !(lo..=hi).contains(&n) {
                    return Err(bad(format!("Value must be between {lo} and {hi}")));
                }
            }
            Kind::Ratio => {
                let r: f64 = v.parse().unwrap_or(f64::NAN);
                if !(0.0..=1.0).contains(&r) {
                    return Err(bad("Value must be between 0.0 and 1.0".into()));
                }
            }
            Kind::OneOf(words) => {
                if !words.contains(&v) {
                    return Err(bad(format!("String must be one of: {}", words.join(", "))));
                }
            }
            Kind::ListOf(words) => {
                // Kafka's `ValidList` names the offending element, not the whole value.
                if let Some(w) = v.split(',').map(str::trim).find(|w| !words.contains(w)) {
                    return Err(format!(
                        "Invalid value {w} for configuration {name}: String must be one of: {}",
                        words.join(", ")
                    ));
                }
            }
            Kind::ReplicaList => {
                let ok = v.is_empty()
                    || v == "*"
                    || v.split(',').all(|pair| {
                        pair.trim().split_once(':').is_some_and(|(p, b)| {
                            p.trim().parse::<i32>().is_ok() && b.trim().parse::<i32>().is_ok()
                        })
                    });
                if !ok {
                    return Err(bad(
                        "Value should be a list of replicas in the form PartitionId:BrokerId or a single '*'"
                            .into(),
                    ));
                }
            }
            Kind::Any => {}
        }
        Ok(())
    }
}

/// Checks a whole set of topic overrides: each one, then Kafka's cross-config rules
/// (`LogConfig.validateValues`), against the broker's defaults.
pub fn validate_all(
    configs: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> Result<(), String> {
    for (k, v) in configs {
        validate(k, v)?;
    }
    let get = |name: &str| {
        effective(name, configs, broker)
            .and_then(|(v, _)| v.trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (min_lag, max_lag) = (get("min.compaction.lag.ms"), get("max.compaction.lag.ms"));
    if min_lag > max_lag {
        return Err(format!(
            "conflict topic config setting min.compaction.lag.ms ({min_lag}) > max.compaction.lag.ms ({max_lag})"
        ));
    }
    Ok(())
}

/// The value a broker synonym gives a topic config, if the broker sets it.
fn from_broker(d: &TopicConfigDef, broker: &BrokerConfig) -> Option<(String, &'static str)> {
    for s in d.synonyms {
        let Some(v) = broker.overrides.get(s.name) else {
            continue;
        };
        if s.factor == 1 {
            return Some((v.trim().to_string(), s.name));
        }
        if let Ok(n) = v.trim().parse::<i64>() {
            return Some((n.saturating_mul(s.factor).to_string(), s.name));
        }
    }
    None
}

/// The value in force for `name` on a topic with `overrides`, and whether it was set on the
/// topic (true) or inherited (false). `broker` carries the effective broker settings.
pub fn effective(
    name: &str,
    overrides: &BTreeMap<String, String>,
    broker: &BrokerConfig,
) -> Option<(String, bool)> {
    if let Some(v) = overrides.get(name) {
        return Some((v.clone(), true));
    }
    let d = find(name)?;
    let value = from_broker(d, broker)
        .map(|(v, _)| v)
        .unwrap_or_else(|| d.default.to_string());
    Some((value, false))
}

/// The log engine's settings for a topic: every config resolved as [`effective`] does.
pub fn log_config(overrides: &BTreeMap<String, String>, broker: &BrokerConfig) -> LogConfig {
    let defaults = LogConfig::default();
    let get = |k: &str| {
        effective(k, overrides, broker)
            .map(|(v, _)| v.trim().to_string())
            .unwrap_or_default()
    };
    let long = |k: &str, fallback: i64| get(k).parse::<i64>().unwrap_or(fallback);
    // Long.MAX_VALUE means "never" for the flush settings; the engine spells that u64::MAX.
    let unsigned = |k: &str| match long(k, i64::MAX) {
        i64::MAX => u64::MAX,
        v => u64::try_from(v).unwrap_or(u64::MAX),
    };
    let policy = get("cleanup.policy");
    let words: Vec<&str> = policy.split(',').map(str::trim).collect();
    LogConfig {
        segment_bytes: u64::try_from(long("segment.bytes", defaults.segment_bytes as i64))
            .unwrap_or(defaults.segment_bytes),
        segment_ms: long("segment.ms", defaults.segment_ms),
        index_interval_bytes: u32::try_from(long("index.interval.bytes", 4096)).unwrap_or(4096),
        flush_interval_messages: unsigned("flush.messages"),
        flush_interval_ms: unsigned("flush.ms"),
        timestamp_type: if get("message.timestamp.type") == "LogAppendTime" {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        },
        max_message_bytes: u32::try_from(long(
            "max.message.bytes",
            i64::from(defaults.max_message_bytes),
        ))
        .unwrap_or(defaults.max_message_bytes),
        timestamp_before_max_ms: long(
            "message.timestamp.before.max.ms",
            defaults.timestamp_before_max_ms,
        ),
        timestamp_after_max_ms: long(
            "message.timestamp.after.max.ms",
            defaults.timestamp_after_max_ms,
        ),
        retention_ms: long("retention.ms", defaults.retention_ms),
        retention_bytes: long("retention.bytes", defaults.retention_bytes),
        cleanup_delete: words.contains(&"delete"),
        cleanup_compact: words.contains(&"compact"),
        delete_retention_ms: long("delete.retention.ms", defaults.delete_retention_ms),
        min_cleanable_dirty_ratio: get("min.cleanable.dirty.ratio")
            .parse()
            .unwrap_or(defaults.min_cleanable_dirty_ratio),
        min_compaction_lag_ms: long("min.compaction.lag.ms", 0),
        max_compaction_lag_ms: long("max.compaction.lag.ms", i64::MAX),
        compression_type: match get("compression.type").as_str() {
            "uncompressed" => Some(Compression::None),
            "gzip" => Some(Compression::Gzip),
            "snappy" => Some(Compression::Snappy),
            "lz4" => Some(Compression::Lz4),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_kafka_rules() {
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "compact, delete").is_ok());
        assert_eq!(
            validate("cleanup.policy", "compact,shred").unwrap_err(),
            "Invalid value shred for configuration cleanup.policy: String must be one of: compact, delete"
        );
        assert!(validate("retention.ms", "-1").is_ok());
        assert!(validate("retention.ms", "-2").is_err());
        assert!(validate("retention.ms", "ten").is_err());
        assert!(validate("retention.bytes", "-5").is_ok());
        assert!(validate("segment.bytes", "100").is_err());
        assert!(validate("segment.bytes", "1048576").is_ok());
        assert!(
            validate("segment.bytes", "99999999999").is_err(),
            "INT overflow"
        );
        assert!(validate("no.such.config", "1").is_err());
        assert!(validate("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate("min.cleanable.dirty.ratio", "0.01").is_ok());
        assert!(validate("message.timestamp.type", "LogAppendTime").is_ok());
        assert!(validate("compression.zstd.level", "23").is_err());
        assert!(validate("compression.gzip.level", "-1").is_ok());
        assert!(validate("compression.gzip.level", "0").is_err());
        assert!(validate("leader.replication.throttled.replicas", "0:1,1:1").is_ok());
        assert!(validate("leader.replication.throttled.replicas", "*").is_ok());
        assert!(validate("leader.replication.throttled.replicas", "x").is_err());
        assert!(validate("preallocate", "maybe").is_err());
        assert!(validate("max.decompressed.message.bytes", "1").is_ok());
        assert!(validate("max.decompressed.message.bytes", "0").is_err());
        assert!(
            validate("max.decompressed.message.bytes", "2147483640")
                .unwrap_err()
                .ends_with("Value must be no more than 2147483639")
        );
        assert!(validate("remote.copy.lag.ms", "-1").is_ok());
        assert!(validate("remote.copy.lag.bytes", "-2").is_err());
        assert!(validate("errors.deadletterqueue.group.enable", "true").is_ok());
        let huge = "*".repeat(MAX_CONFIG_VALUE_BYTES + 1);
        assert!(validate("leader.replication.throttled.replicas", &huge).is_err());
        assert!(TOPIC_CONFIGS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn cross_config_rules() {
        let broker = BrokerConfig::from_map(BTreeMap::new()).unwrap();
        let mut o = BTreeMap::new();
        o.insert("min.compaction.lag.ms".to_string(), "100".to_string());
        o.insert("max.compaction.lag.ms".to_string(), "10".to_string());
        assert!(validate_all(&o, &broker).unwrap_err().contains("conflict"));
        o.insert("max.compaction.lag.ms".to_string(), "1000".to_string());
        assert!(validate_all(&o, &broker).is_ok());
    }

    #[test]
    fn topic_overrides_and_broker_synonyms_reach_the_log_config() {
        let mut b = BTreeMap::new();
        b.insert("log.retention.hours".to_string(), "2".to_string());
        b.insert("log.roll.ms".to_string(), "5000".to_string());
        b.insert("log.cleanup.policy".to_string(), "compact".to_string());
        let broker = BrokerConfig::from_map(b).unwrap();
        let mut o = BTreeMap::new();
        o.insert("segment.bytes".to_string(), "2097152".to_string());
        o.insert(
            "message.timestamp.type".to_string(),
            "LogAppendTime".to_string(),
        );
        let c = log_config(&o, &broker);
        assert_eq!(c.segment_bytes, 2_097_152);
        assert_eq!(c.segment_ms, 5000);
        assert_eq!(c.retention_ms, 2 * HOURS);
        assert!(c.cleanup_compact && !c.cleanup_delete);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(
            effective("retention.ms", &o, &broker),
            Some(("7200000".into(), false))
        );
        o.insert("retention.ms".to_string(), "1000".to_string());
        o.insert("cleanup.policy".to_string(), "delete,compact".to_string());
        let c = log_config(&o, &broker);
        assert_eq!(c.retention_ms, 1000);
        assert!(c.cleanup_compact && c.cleanup_delete);
        // Defaults are Kafka's.
        let plain = log_config(
            &BTreeMap::new(),
            &BrokerConfig::from_map(BTreeMap::new()).unwrap(),
        );
        assert_eq!(plain.retention_ms, 7 * 24 * HOURS);
        assert_eq!(plain.retention_bytes, -1);
        assert!(plain.cleanup_delete && !plain.cleanup_compact);
        assert_eq!(plain.segment_ms, 7 * 24 * HOURS);
        assert_eq!(plain.flush_interval_ms, u64::MAX);
    }
}
