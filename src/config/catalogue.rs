//! The broker configs Kafka 4.4 reports through DescribeConfigs, with their types, defaults,
//! whether they can change at run time, and a one-line description.
//!
//! This is the catalogue behind DescribeConfigs for the BROKER resource and behind the checks of
//! AlterConfigs / IncrementalAlterConfigs on it. Names, types and defaults are Kafka's (KRaft
//! mode; ZooKeeper-era settings removed in 4.0 are left out). Where Vltava's own default differs
//! (for example `listeners`, `log.dirs`, `node.id`, `max.connections`), `config::KNOWN_KEYS`
//! wins and [`default_of`] reports that.
//!
//! Which configs may change at run time follows Kafka's `DynamicBrokerConfig`: `ClusterWide`
//! configs may be set for the whole cluster (resource name "") or for this broker (its id),
//! `PerBroker` ones only for this broker, `DynamicOnly` ones (replication throttles) exist only
//! as dynamic settings. Everything else is read-only. Deliberately read-only here although
//! Kafka can change them: the listener settings (`listeners`, `advertised.listeners`,
//! `listener.security.protocol.map`), which would need a rebind.
//!
//! Of the dynamic configs, Vltava applies the log ones (the broker-side synonyms of topic
//! configs, which reach every partition at once) and `log.cleaner.backoff.ms`,
//! `log.cleaner.dedupe.buffer.size`, `log.cleaner.io.buffer.load.factor`; the rest are stored,
//! survive restarts and are reported, like Kafka, but change nothing yet.

/// DescribeConfigs' `config_type` (Kafka's `ConfigDef.Type` as sent on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

impl ConfigType {
    pub fn id(self) -> i8 {
        self as i8
    }

    /// Kafka treats passwords (and configs of unknown type) as sensitive: no value is sent.
    pub fn is_sensitive(self) -> bool {
        self == ConfigType::Password
    }

    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }

    /// Kafka's `ConfigDef.parseType` check; the error reads like Kafka's ConfigException.
    pub fn check(self, name: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        let bad = |why: String| format!("Invalid value {value} for configuration {name}: {why}");
        let not_number = || bad(format!("Not a number of type {}", self.name()));
        match self {
            ConfigType::Boolean => {
                if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
                    Ok(())
                } else {
                    Err(bad("Expected value to be either true or false".into()))
                }
            }
            ConfigType::Int => v.parse::<i32>().map(|_| ()).map_err(|_| not_number()),
            ConfigType::Short => v.parse::<i16>().map(|_| ()).map_err(|_| not_number()),
            ConfigType::Long => v.parse::<i64>().map(|_| ()).map_err(|_| not_number()),
            ConfigType::Double => match v.parse::<f64>() {
                Ok(d) if d.is_finite() => Ok(()),
                _ => Err(not_number()),
            },
            ConfigType::String | ConfigType::List | ConfigType::Class | ConfigType::Password => {
                Ok(())
            }
        }
    }
}

/// When a broker config may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadOnly,
    /// For the whole cluster or for one broker.
    ClusterWide,
    /// Only for one broker (resource name = its id).
    PerBroker,
    /// Exists only as a dynamic setting (not listed unless set).
    DynamicOnly,
}

/// One broker config.
#[derive(Debug)]
pub struct BrokerConfigDef {
    pub name: &'static str,
    pub ty: ConfigType,
    /// `None`: no default (reported as a null value).
    pub default: Option<&'static str>,
    pub mode: Mode,
    pub doc: &'static str,
}

use ConfigType as T;
use Mode as M;

const fn c(
    name: &'static str,
    ty: ConfigType,
    default: Option<&'static str>,
    mode: Mode,
    doc: &'static str,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        ty,
        default,
        mode,
        doc,
    }
}

const N: Option<&str> = None;
const LMAX: Option<&str> = Some("9223372036854775807");
const IMAX: Option<&str> = Some("2147483647");

/// Kafka 4.4's broker configs, sorted by name.
pub const BROKER_CONFIGS: &[BrokerConfigDef] = &[
    c(
        "advertised.listeners",
        T::List,
        N,
        M::ReadOnly,
        "Addresses clients are told to use, when different from `listeners`.",
    ),
    c(
        "alter.config.policy.class.name",
        T::Class,
        N,
        M::ReadOnly,
        "A policy class that vets AlterConfigs requests.",
    ),
    c(
        "alter.log.dirs.replication.quota.window.num",
        T::Int,
        Some("11"),
        M::ReadOnly,
        "Samples kept for the log-directory move quota.",
    ),
    c(
        "alter.log.dirs.replication.quota.window.size.seconds",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Length of one log-directory move quota sample.",
    ),
    c(
        "authorizer.class.name",
        T::String,
        Some(""),
        M::ReadOnly,
        "The authorizer; empty means no authorization.",
    ),
    c(
        "auto.create.topics.enable",
        T::Boolean,
        Some("true"),
        M::ReadOnly,
        "Create a topic when a client asks for metadata of a missing one.",
    ),
    c(
        "auto.leader.rebalance.enable",
        T::Boolean,
        Some("true"),
        M::ReadOnly,
        "Move leadership back to preferred replicas periodically.",
    ),
    c(
        "background.threads",
        T::Int,
        Some("10"),
        M::ClusterWide,
        "Threads for background housekeeping.",
    ),
    c(
        "broker.heartbeat.interval.ms",
        T::Int,
        Some("2000"),
        M::ReadOnly,
        "How often a broker heartbeats to the controller.",
    ),
    c(
        "broker.id",
        T::Int,
        Some("-1"),
        M::ReadOnly,
        "This broker's id (the same as node.id in KRaft mode).",
    ),
    c(
        "broker.rack",
        T::String,
        N,
        M::ReadOnly,
        "Rack of this broker, for rack-aware replica placement.",
    ),
    c(
        "broker.session.timeout.ms",
        T::Int,
        Some("9000"),
        M::ReadOnly,
        "How long the controller waits for a heartbeat before fencing a broker.",
    ),
    c(
        "client.quota.callback.class",
        T::Class,
        N,
        M::ReadOnly,
        "A custom class computing client quotas.",
    ),
    c(
        "compression.gzip.level",
        T::Int,
        Some("-1"),
        M::ClusterWide,
        "Default gzip level when the broker compresses.",
    ),
    c(
        "compression.lz4.level",
        T::Int,
        Some("9"),
        M::ClusterWide,
        "Default lz4 level when the broker compresses.",
    ),
    c(
        "compression.type",
        T::String,
        Some("producer"),
        M::ClusterWide,
        "Default final compression of topics; `producer` keeps the producer's codec.",
    ),
    c(
        "compression.zstd.level",
        T::Int,
        Some("3"),
        M::ClusterWide,
        "Default zstd level when the broker compresses.",
    ),
    c(
        "connection.failed.authentication.delay.ms",
        T::Int,
        Some("100"),
        M::ReadOnly,
        "Delay before closing a connection that failed to authenticate.",
    ),
    c(
        "connections.max.idle.ms",
        T::Long,
        Some("600000"),
        M::ReadOnly,
        "Idle connections are closed after this long.",
    ),
    c(
        "connections.max.reauth.ms",
        T::Long,
        Some("0"),
        M::ReadOnly,
        "Maximum session lifetime before re-authentication (0: none).",
    ),
    c(
        "controlled.shutdown.enable",
        T::Boolean,
        Some("true"),
        M::ReadOnly,
        "Hand over leadership before shutting down.",
    ),
    c(
        "controller.listener.names",
        T::List,
        N,
        M::ReadOnly,
        "Listeners used by the controller.",
    ),
    c(
        "controller.quorum.append.linger.ms",
        T::Int,
        Some("25"),
        M::ReadOnly,
        "How long the quorum leader batches appends.",
    ),
    c(
        "controller.quorum.bootstrap.servers",
        T::List,
        Some(""),
        M::ReadOnly,
        "Addresses used to discover the controller quorum.",
    ),
    c(
        "controller.quorum.election.backoff.max.ms",
        T::Int,
        Some("1000"),
        M::ReadOnly,
        "Upper bound of the back-off between elections.",
    ),
    c(
        "controller.quorum.election.timeout.ms",
        T::Int,
        Some("1000"),
        M::ReadOnly,
        "Time without a leader before an election starts.",
    ),
    c(
        "controller.quorum.fetch.timeout.ms",
        T::Int,
        Some("2000"),
        M::ReadOnly,
        "Time without a fetch from the leader before becoming a candidate.",
    ),
    c(
        "controller.quorum.request.timeout.ms",
        T::Int,
        Some("2000"),
        M::ReadOnly,
        "Timeout of quorum requests.",
    ),
    c(
        "controller.quorum.retry.backoff.ms",
        T::Int,
        Some("20"),
        M::ReadOnly,
        "Back-off before retrying a failed quorum request.",
    ),
    c(
        "controller.quorum.voters",
        T::List,
        Some(""),
        M::ReadOnly,
        "Static list of quorum voters (id@host:port).",
    ),
    c(
        "controller.quota.window.num",
        T::Int,
        Some("11"),
        M::ReadOnly,
        "Samples kept for the controller mutation quota.",
    ),
    c(
        "controller.quota.window.size.seconds",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Length of one controller mutation quota sample.",
    ),
    c(
        "controller.socket.timeout.ms",
        T::Int,
        Some("30000"),
        M::ReadOnly,
        "Socket timeout of controller-to-broker channels.",
    ),
    c(
        "create.topic.policy.class.name",
        T::Class,
        N,
        M::ReadOnly,
        "A policy class that vets CreateTopics requests.",
    ),
    c(
        "default.replication.factor",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Replication factor of automatically created topics.",
    ),
    c(
        "delegation.token.expiry.check.interval.ms",
        T::Long,
        Some("3600000"),
        M::ReadOnly,
        "How often expired delegation tokens are removed.",
    ),
    c(
        "delegation.token.expiry.time.ms",
        T::Long,
        Some("86400000"),
        M::ReadOnly,
        "How long a delegation token lives before it must be renewed.",
    ),
    c(
        "delegation.token.max.lifetime.ms",
        T::Long,
        Some("604800000"),
        M::ReadOnly,
        "The longest a delegation token can be renewed for.",
    ),
    c(
        "delegation.token.secret.key",
        T::Password,
        N,
        M::ReadOnly,
        "Secret used to sign delegation tokens.",
    ),
    c(
        "delete.records.purgatory.purge.interval.requests",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Purge interval of the DeleteRecords purgatory.",
    ),
    c(
        "delete.topic.enable",
        T::Boolean,
        Some("true"),
        M::ReadOnly,
        "Allow DeleteTopics; when false, deletions are refused.",
    ),
    c(
        "early.start.listeners",
        T::List,
        N,
        M::ReadOnly,
        "Listeners started before the authorizer is ready.",
    ),
    c(
        "fetch.max.bytes",
        T::Int,
        Some("57671680"),
        M::ReadOnly,
        "Largest response a fetch request can get.",
    ),
    c(
        "fetch.purgatory.purge.interval.requests",
        T::Int,
        Some("1000"),
        M::ReadOnly,
        "Purge interval of the fetch purgatory.",
    ),
    c(
        "follower.replication.throttled.rate",
        T::Long,
        LMAX,
        M::DynamicOnly,
        "Replication throttle for followers, bytes per second.",
    ),
    c(
        "group.consumer.assignors",
        T::List,
        Some("uniform,range"),
        M::ReadOnly,
        "Server-side assignors of consumer groups.",
    ),
    c(
        "group.consumer.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        M::ReadOnly,
        "Heartbeat interval of consumer-protocol groups.",
    ),
    c(
        "group.consumer.max.heartbeat.interval.ms",
        T::Int,
        Some("15000"),
        M::ReadOnly,
        "Largest heartbeat interval a consumer group may use.",
    ),
    c(
        "group.consumer.max.session.timeout.ms",
        T::Int,
        Some("60000"),
        M::ReadOnly,
        "Largest session timeout of consumer-protocol members.",
    ),
    c(
        "group.consumer.max.size",
        T::Int,
        IMAX,
        M::ReadOnly,
        "Most members in a consumer-protocol group.",
    ),
    c(
        "group.consumer.migration.policy",
        T::String,
        Some("bidirectional"),
        M::ReadOnly,
        "Whether groups may switch between the classic and consumer protocols.",
    ),
    c(
        "group.consumer.min.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        M::ReadOnly,
        "Smallest heartbeat interval a consumer group may use.",
    ),
    c(
        "group.consumer.min.session.timeout.ms",
        T::Int,
        Some("45000"),
        M::ReadOnly,
        "Smallest session timeout of consumer-protocol members.",
    ),
    c(
        "group.consumer.session.timeout.ms",
        T::Int,
        Some("45000"),
        M::ReadOnly,
        "Session timeout of consumer-protocol members.",
    ),
    c(
        "group.coordinator.append.linger.ms",
        T::Int,
        Some("-1"),
        M::ReadOnly,
        "How long the group coordinator batches writes.",
    ),
    c(
        "group.coordinator.rebalance.protocols",
        T::List,
        Some("classic"),
        M::ReadOnly,
        "Group protocols the coordinator accepts.",
    ),
    c(
        "group.coordinator.threads",
        T::Int,
        Some("4"),
        M::ReadOnly,
        "Threads of the group coordinator.",
    ),
    c(
        "group.initial.rebalance.delay.ms",
        T::Int,
        Some("3000"),
        M::ReadOnly,
        "Wait for more members before the first rebalance of an empty group.",
    ),
    c(
        "group.max.session.timeout.ms",
        T::Int,
        Some("1800000"),
        M::ReadOnly,
        "Largest session timeout of classic group members.",
    ),
    c(
        "group.max.size",
        T::Int,
        IMAX,
        M::ReadOnly,
        "Most members in a classic group.",
    ),
    c(
        "group.min.session.timeout.ms",
        T::Int,
        Some("6000"),
        M::ReadOnly,
        "Smallest session timeout of classic group members.",
    ),
    c(
        "group.share.delivery.count.limit",
        T::Int,
        Some("5"),
        M::ReadOnly,
        "Deliveries of a share-group record before it is archived.",
    ),
    c(
        "group.share.heartbeat.interval.ms",
        T::Int,
        Some("5000"),
        M::ReadOnly,
        "Heartbeat interval of share groups.",
    ),
    c(
        "group.share.max.size",
        T::Int,
        Some("200"),
        M::ReadOnly,
        "Most members in a share group.",
    ),
    c(
        "group.share.record.lock.duration.ms",
        T::Int,
        Some("30000"),
        M::ReadOnly,
        "How long a share-group record stays locked to one consumer.",
    ),
    c(
        "group.share.session.timeout.ms",
        T::Int,
        Some("45000"),
        M::ReadOnly,
        "Session timeout of share-group members.",
    ),
    c(
        "initial.broker.registration.timeout.ms",
        T::Int,
        Some("60000"),
        M::ReadOnly,
        "How long a starting broker waits to register with the controller.",
    ),
    c(
        "inter.broker.listener.name",
        T::String,
        N,
        M::ReadOnly,
        "Listener brokers use to talk to each other.",
    ),
    c(
        "leader.imbalance.check.interval.seconds",
        T::Long,
        Some("300"),
        M::ReadOnly,
        "How often leader balance is checked.",
    ),
    c(
        "leader.replication.throttled.rate",
        T::Long,
        LMAX,
        M::DynamicOnly,
        "Replication throttle for leaders, bytes per second.",
    ),
    c(
        "listener.security.protocol.map",
        T::String,
        Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"),
        M::ReadOnly,
        "Security protocol of each listener name.",
    ),
    c(
        "listeners",
        T::List,
        Some("PLAINTEXT://:9092"),
        M::ReadOnly,
        "Addresses the broker listens on.",
    ),
    c(
        "log.cleaner.backoff.ms",
        T::Long,
        Some("15000"),
        M::ClusterWide,
        "How long the cleaner sleeps when no log needs cleaning.",
    ),
    c(
        "log.cleaner.dedupe.buffer.size",
        T::Long,
        Some("134217728"),
        M::ClusterWide,
        "Memory for the cleaners' key-to-offset maps, all threads together.",
    ),
    c(
        "log.cleaner.delete.retention.ms",
        T::Long,
        Some("86400000"),
        M::ClusterWide,
        "Default for delete.retention.ms: how long tombstones stay readable.",
    ),
    c(
        "log.cleaner.enable",
        T::Boolean,
        Some("true"),
        M::ReadOnly,
        "Run the log cleaner (needed for compacted topics).",
    ),
    c(
        "log.cleaner.io.buffer.load.factor",
        T::Double,
        Some("0.9"),
        M::ClusterWide,
        "Fill factor of the cleaner's key-to-offset map.",
    ),
    c(
        "log.cleaner.io.buffer.size",
        T::Int,
        Some("524288"),
        M::ClusterWide,
        "I/O buffer of each cleaner thread.",
    ),
    c(
        "log.cleaner.io.max.bytes.per.second",
        T::Double,
        Some("1.7976931348623157E308"),
        M::ClusterWide,
        "Throttle on the cleaners' reads and writes.",
    ),
    c(
        "log.cleaner.max.compaction.lag.ms",
        T::Long,
        LMAX,
        M::ClusterWide,
        "Default for max.compaction.lag.ms.",
    ),
    c(
        "log.cleaner.min.cleanable.ratio",
        T::Double,
        Some("0.5"),
        M::ClusterWide,
        "Default for min.cleanable.dirty.ratio.",
    ),
    c(
        "log.cleaner.min.compaction.lag.ms",
        T::Long,
        Some("0"),
        M::ClusterWide,
        "Default for min.compaction.lag.ms.",
    ),
    c(
        "log.cleaner.threads",
        T::Int,
        Some("1"),
        M::ClusterWide,
        "Threads compacting logs.",
    ),
    c(
        "log.cleanup.policy",
        T::List,
        Some("delete"),
        M::ClusterWide,
        "Default for cleanup.policy: delete, compact, or both.",
    ),
    c(
        "log.dir",
        T::List,
        Some("/tmp/kafka-logs"),
        M::ReadOnly,
        "Data directory, used when log.dirs is not set.",
    ),
    c(
        "log.dir.failure.timeout.ms",
        T::Long,
        Some("30000"),
        M::ReadOnly,
        "How long a failed log directory may stay unreported before the broker stops.",
    ),
    c(
        "log.dirs",
        T::List,
        N,
        M::ReadOnly,
        "Data directories (comma-separated).",
    ),
    c(
        "log.flush.interval.messages",
        T::Long,
        LMAX,
        M::ClusterWide,
        "Default for flush.messages.",
    ),
    c(
        "log.flush.interval.ms",
        T::Long,
        N,
        M::ClusterWide,
        "Default for flush.ms; unset means log.flush.scheduler.interval.ms.",
    ),
    c(
        "log.flush.offset.checkpoint.interval.ms",
        T::Int,
        Some("60000"),
        M::ReadOnly,
        "How often the recovery points are written.",
    ),
    c(
        "log.flush.scheduler.interval.ms",
        T::Long,
        LMAX,
        M::ReadOnly,
        "How often logs are checked for a due flush.",
    ),
    c(
        "log.flush.start.offset.checkpoint.interval.ms",
        T::Int,
        Some("60000"),
        M::ReadOnly,
        "How often log start offsets are written.",
    ),
    c(
        "log.index.interval.bytes",
        T::Int,
        Some("4096"),
        M::ClusterWide,
        "Default for index.interval.bytes.",
    ),
    c(
        "log.index.size.max.bytes",
        T::Int,
        Some("10485760"),
        M::ClusterWide,
        "Default for segment.index.bytes.",
    ),
    c(
        "log.local.retention.bytes",
        T::Long,
        Some("-2"),
        M::ClusterWide,
        "Default for local.retention.bytes (tiered storage).",
    ),
    c(
        "log.local.retention.ms",
        T::Long,
        Some("-2"),
        M::ClusterWide,
        "Default for local.retention.ms (tiered storage).",
    ),
    c(
        "log.message.timestamp.after.max.ms",
        T::Long,
        Some("3600000"),
        M::ClusterWide,
        "Default for message.timestamp.after.max.ms.",
    ),
    c(
        "log.message.timestamp.before.max.ms",
        T::Long,
        LMAX,
        M::ClusterWide,
        "Default for message.timestamp.before.max.ms.",
    ),
    c(
        "log.message.timestamp.type",
        T::String,
        Some("CreateTime"),
        M::ClusterWide,
        "Default for message.timestamp.type.",
    ),
    c(
        "log.preallocate",
        T::Boolean,
        Some("false"),
        M::ClusterWide,
        "Default for preallocate.",
    ),
    c(
        "log.remote.copy.lag.bytes",
        T::Long,
        Some("-1"),
        M::ClusterWide,
        "Default for remote.copy.lag.bytes.",
    ),
    c(
        "log.remote.copy.lag.ms",
        T::Long,
        Some("0"),
        M::ClusterWide,
        "Default for remote.copy.lag.ms.",
    ),
    c(
        "log.retention.bytes",
        T::Long,
        Some("-1"),
        M::ClusterWide,
        "Default for retention.bytes.",
    ),
    c(
        "log.retention.check.interval.ms",
        T::Long,
        Some("300000"),
        M::ReadOnly,
        "How often logs are checked for segments to delete.",
    ),
    c(
        "log.retention.hours",
        T::Int,
        Some("168"),
        M::ReadOnly,
        "Default retention in hours, when neither log.retention.ms nor .minutes is set.",
    ),
    c(
        "log.retention.minutes",
        T::Int,
        N,
        M::ReadOnly,
        "Default retention in minutes, when log.retention.ms is not set.",
    ),
    c(
        "log.retention.ms",
        T::Long,
        N,
        M::ClusterWide,
        "Default for retention.ms; -1 keeps data forever.",
    ),
    c(
        "log.roll.hours",
        T::Int,
        Some("168"),
        M::ReadOnly,
        "Default segment age in hours, when log.roll.ms is not set.",
    ),
    c(
        "log.roll.jitter.hours",
        T::Int,
        Some("0"),
        M::ReadOnly,
        "Default roll jitter in hours, when log.roll.jitter.ms is not set.",
    ),
    c(
        "log.roll.jitter.ms",
        T::Long,
        N,
        M::ClusterWide,
        "Default for segment.jitter.ms.",
    ),
    c(
        "log.roll.ms",
        T::Long,
        N,
        M::ClusterWide,
        "Default for segment.ms.",
    ),
    c(
        "log.segment.bytes",
        T::Int,
        Some("1073741824"),
        M::ClusterWide,
        "Default for segment.bytes.",
    ),
    c(
        "log.segment.delete.delay.ms",
        T::Long,
        Some("60000"),
        M::ClusterWide,
        "Default for file.delete.delay.ms.",
    ),
    c(
        "max.connection.creation.rate",
        T::Int,
        IMAX,
        M::ClusterWide,
        "New connections accepted per second.",
    ),
    c(
        "max.connections",
        T::Int,
        IMAX,
        M::ClusterWide,
        "Most connections open at once.",
    ),
    c(
        "max.connections.per.ip",
        T::Int,
        IMAX,
        M::ClusterWide,
        "Most connections from one address.",
    ),
    c(
        "max.connections.per.ip.overrides",
        T::String,
        Some(""),
        M::ClusterWide,
        "Per-address connection limits (host:count,...).",
    ),
    c(
        "max.decompressed.message.bytes",
        T::Int,
        Some("2147483639"),
        M::ClusterWide,
        "Default for max.decompressed.message.bytes.",
    ),
    c(
        "max.incremental.fetch.session.cache.slots",
        T::Int,
        Some("1000"),
        M::ReadOnly,
        "Most incremental fetch sessions kept.",
    ),
    c(
        "max.request.partition.size.limit",
        T::Int,
        Some("2000"),
        M::ReadOnly,
        "Most partitions in one DescribeTopicPartitions response.",
    ),
    c(
        "message.max.bytes",
        T::Int,
        Some("1048588"),
        M::ClusterWide,
        "Largest record batch accepted; default for max.message.bytes.",
    ),
    c(
        "metadata.log.dir",
        T::String,
        N,
        M::ReadOnly,
        "Directory of the cluster metadata log.",
    ),
    c(
        "metadata.log.max.record.bytes.between.snapshots",
        T::Long,
        Some("20971520"),
        M::ReadOnly,
        "Metadata log bytes between snapshots.",
    ),
    c(
        "metadata.log.max.snapshot.interval.ms",
        T::Long,
        Some("3600000"),
        M::ReadOnly,
        "Longest time between metadata snapshots.",
    ),
    c(
        "metadata.log.segment.bytes",
        T::Int,
        Some("1073741824"),
        M::ReadOnly,
        "Segment size of the metadata log.",
    ),
    c(
        "metadata.log.segment.ms",
        T::Long,
        Some("604800000"),
        M::ReadOnly,
        "Segment age of the metadata log.",
    ),
    c(
        "metadata.max.idle.interval.ms",
        T::Int,
        Some("500"),
        M::ReadOnly,
        "How often the controller writes a no-op record when idle.",
    ),
    c(
        "metadata.max.retention.bytes",
        T::Long,
        Some("104857600"),
        M::ReadOnly,
        "Size bound of the metadata log.",
    ),
    c(
        "metadata.max.retention.ms",
        T::Long,
        Some("604800000"),
        M::ReadOnly,
        "Age bound of the metadata log.",
    ),
    c(
        "metric.reporters",
        T::List,
        Some("org.apache.kafka.common.metrics.JmxReporter"),
        M::ClusterWide,
        "Classes that receive metrics.",
    ),
    c(
        "metrics.num.samples",
        T::Int,
        Some("2"),
        M::ReadOnly,
        "Samples kept per metric.",
    ),
    c(
        "metrics.recording.level",
        T::String,
        Some("INFO"),
        M::ReadOnly,
        "Highest metrics recording level.",
    ),
    c(
        "metrics.sample.window.ms",
        T::Long,
        Some("30000"),
        M::ReadOnly,
        "Length of one metrics sample.",
    ),
    c(
        "min.insync.replicas",
        T::Int,
        Some("1"),
        M::ClusterWide,
        "Default for min.insync.replicas.",
    ),
    c(
        "node.id",
        T::Int,
        Some("-1"),
        M::ReadOnly,
        "This node's id.",
    ),
    c(
        "num.io.threads",
        T::Int,
        Some("8"),
        M::ClusterWide,
        "Threads processing requests.",
    ),
    c(
        "num.network.threads",
        T::Int,
        Some("3"),
        M::ClusterWide,
        "Threads handling network I/O.",
    ),
    c(
        "num.partitions",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Partitions of automatically created topics.",
    ),
    c(
        "num.recovery.threads.per.data.dir",
        T::Int,
        Some("2"),
        M::ClusterWide,
        "Threads recovering logs at start-up, per directory.",
    ),
    c(
        "num.replica.alter.log.dirs.threads",
        T::Int,
        N,
        M::ReadOnly,
        "Threads moving replicas between log directories.",
    ),
    c(
        "num.replica.fetchers",
        T::Int,
        Some("1"),
        M::ClusterWide,
        "Fetcher threads replicating from each leader.",
    ),
    c(
        "offset.metadata.max.bytes",
        T::Int,
        Some("4096"),
        M::ReadOnly,
        "Largest metadata string of a committed offset.",
    ),
    c(
        "offsets.commit.timeout.ms",
        T::Int,
        Some("5000"),
        M::ReadOnly,
        "How long an offset commit waits for replication.",
    ),
    c(
        "offsets.load.buffer.size",
        T::Int,
        Some("5242880"),
        M::ReadOnly,
        "Read size when loading offsets.",
    ),
    c(
        "offsets.retention.check.interval.ms",
        T::Long,
        Some("600000"),
        M::ReadOnly,
        "How often stale offsets are looked for.",
    ),
    c(
        "offsets.retention.minutes",
        T::Int,
        Some("10080"),
        M::ReadOnly,
        "How long committed offsets of an empty group are kept.",
    ),
    c(
        "offsets.topic.compression.codec",
        T::Int,
        Some("0"),
        M::ReadOnly,
        "Compression of the offsets topic.",
    ),
    c(
        "offsets.topic.num.partitions",
        T::Int,
        Some("50"),
        M::ReadOnly,
        "Partitions of the offsets topic.",
    ),
    c(
        "offsets.topic.replication.factor",
        T::Short,
        Some("3"),
        M::ReadOnly,
        "Replication factor of the offsets topic.",
    ),
    c(
        "offsets.topic.segment.bytes",
        T::Int,
        Some("104857600"),
        M::ReadOnly,
        "Segment size of the offsets topic.",
    ),
    c(
        "principal.builder.class",
        T::Class,
        Some("org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder"),
        M::PerBroker,
        "Builds the principal of a connection.",
    ),
    c(
        "process.roles",
        T::List,
        Some(""),
        M::ReadOnly,
        "Roles of this node: broker, controller, or both.",
    ),
    c(
        "producer.id.expiration.ms",
        T::Int,
        Some("86400000"),
        M::ClusterWide,
        "Idle producer ids are forgotten after this long.",
    ),
    c(
        "producer.purgatory.purge.interval.requests",
        T::Int,
        Some("1000"),
        M::ReadOnly,
        "Purge interval of the produce purgatory.",
    ),
    c(
        "queued.max.request.bytes",
        T::Long,
        Some("-1"),
        M::ReadOnly,
        "Bytes of queued requests before reading stops.",
    ),
    c(
        "queued.max.requests",
        T::Int,
        Some("500"),
        M::ReadOnly,
        "Requests queued before reading stops.",
    ),
    c(
        "quota.window.num",
        T::Int,
        Some("11"),
        M::ReadOnly,
        "Samples kept for client quotas.",
    ),
    c(
        "quota.window.size.seconds",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Length of one client quota sample.",
    ),
    c(
        "remote.fetch.max.wait.ms",
        T::Int,
        Some("500"),
        M::ClusterWide,
        "Longest wait of a fetch served from remote storage.",
    ),
    c(
        "remote.list.offsets.request.timeout.ms",
        T::Long,
        Some("30000"),
        M::ClusterWide,
        "Timeout of ListOffsets answered from remote storage.",
    ),
    c(
        "remote.log.index.file.cache.total.size.bytes",
        T::Long,
        Some("1073741824"),
        M::ClusterWide,
        "Disk for cached remote index files.",
    ),
    c(
        "remote.log.manager.copier.thread.pool.size",
        T::Int,
        Some("10"),
        M::ReadOnly,
        "Threads copying segments to remote storage.",
    ),
    c(
        "remote.log.manager.copy.max.bytes.per.second",
        T::Long,
        LMAX,
        M::ClusterWide,
        "Throttle on copying segments to remote storage.",
    ),
    c(
        "remote.log.manager.expiration.thread.pool.size",
        T::Int,
        Some("10"),
        M::ReadOnly,
        "Threads expiring remote segments.",
    ),
    c(
        "remote.log.manager.fetch.max.bytes.per.second",
        T::Long,
        LMAX,
        M::ClusterWide,
        "Throttle on reading from remote storage.",
    ),
    c(
        "remote.log.manager.task.interval.ms",
        T::Long,
        Some("30000"),
        M::ReadOnly,
        "Interval of the remote log manager's tasks.",
    ),
    c(
        "remote.log.manager.thread.pool.size",
        T::Int,
        Some("2"),
        M::ReadOnly,
        "Threads of the remote log manager.",
    ),
    c(
        "remote.log.metadata.manager.class.name",
        T::String,
        Some(
            "org.apache.kafka.server.log.remote.metadata.storage.TopicBasedRemoteLogMetadataManager",
        ),
        M::ReadOnly,
        "Remote log metadata manager class.",
    ),
    c(
        "remote.log.reader.max.pending.tasks",
        T::Int,
        Some("100"),
        M::ReadOnly,
        "Queued remote reads before new ones are refused.",
    ),
    c(
        "remote.log.reader.threads",
        T::Int,
        Some("10"),
        M::ReadOnly,
        "Threads reading from remote storage.",
    ),
    c(
        "remote.log.storage.manager.class.name",
        T::String,
        N,
        M::ReadOnly,
        "Remote storage manager class.",
    ),
    c(
        "remote.log.storage.system.enable",
        T::Boolean,
        Some("false"),
        M::ReadOnly,
        "Enable tiered storage.",
    ),
    c(
        "replica.alter.log.dirs.io.max.bytes.per.second",
        T::Long,
        LMAX,
        M::DynamicOnly,
        "Throttle on moving replicas between directories.",
    ),
    c(
        "replica.fetch.backoff.ms",
        T::Int,
        Some("1000"),
        M::ReadOnly,
        "Back-off after a failed replica fetch.",
    ),
    c(
        "replica.fetch.max.bytes",
        T::Int,
        Some("1048576"),
        M::ReadOnly,
        "Bytes fetched per partition by a follower.",
    ),
    c(
        "replica.fetch.min.bytes",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Bytes a follower fetch waits for.",
    ),
    c(
        "replica.fetch.response.max.bytes",
        T::Int,
        Some("10485760"),
        M::ReadOnly,
        "Largest follower fetch response.",
    ),
    c(
        "replica.fetch.wait.max.ms",
        T::Int,
        Some("500"),
        M::ReadOnly,
        "Longest wait of a follower fetch.",
    ),
    c(
        "replica.high.watermark.checkpoint.interval.ms",
        T::Long,
        Some("5000"),
        M::ReadOnly,
        "How often high watermarks are written.",
    ),
    c(
        "replica.lag.time.max.ms",
        T::Long,
        Some("30000"),
        M::ReadOnly,
        "A follower this far behind leaves the ISR.",
    ),
    c(
        "replica.selector.class",
        T::String,
        N,
        M::ReadOnly,
        "Chooses the replica a consumer fetches from.",
    ),
    c(
        "replica.socket.receive.buffer.bytes",
        T::Int,
        Some("65536"),
        M::ReadOnly,
        "Receive buffer of follower fetches.",
    ),
    c(
        "replica.socket.timeout.ms",
        T::Int,
        Some("30000"),
        M::ReadOnly,
        "Socket timeout of follower fetches.",
    ),
    c(
        "replication.quota.window.num",
        T::Int,
        Some("11"),
        M::ReadOnly,
        "Samples kept for replication quotas.",
    ),
    c(
        "replication.quota.window.size.seconds",
        T::Int,
        Some("1"),
        M::ReadOnly,
        "Length of one replication quota sample.",
    ),
    c(
        "request.timeout.ms",
        T::Int,
        Some("30000"),
        M::ReadOnly,
        "Timeout of requests the broker sends.",
    ),
    c(
        "sasl.enabled.mechanisms",
        T::List,
        Some("GSSAPI"),
        M::PerBroker,
        "SASL mechanisms the broker accepts.",
    ),
    c(
        "sasl.jaas.config",
        T::Password,
        N,
        M::PerBroker,
        "JAAS login configuration.",
    ),
    c(
        "sasl.kerberos.kinit.cmd",
        T::String,
        Some("/usr/bin/kinit"),
        M::PerBroker,
        "Path of kinit.",
    ),
    c(
        "sasl.kerberos.min.time.before.relogin",
        T::Long,
        Some("60000"),
        M::PerBroker,
        "Least time between Kerberos refreshes.",
    ),
    c(
        "sasl.kerberos.principal.to.local.rules",
        T::List,
        Some("DEFAULT"),
        M::PerBroker,
        "Rules mapping Kerberos principals to short names.",
    ),
    c(
        "sasl.kerberos.service.name",
        T::String,
        N,
        M::PerBroker,
        "Kerberos service name.",
    ),
    c(
        "sasl.kerberos.ticket.renew.jitter",
        T::Double,
        Some("0.05"),
        M::PerBroker,
        "Random jitter of Kerberos ticket renewal.",
    ),
    c(
        "sasl.kerberos.ticket.renew.window.factor",
        T::Double,
        Some("0.8"),
        M::PerBroker,
        "Share of a ticket's lifetime before it is renewed.",
    ),
    c(
        "sasl.login.refresh.buffer.seconds",
        T::Short,
        Some("300"),
        M::PerBroker,
        "Time left on a credential when it is refreshed.",
    ),
    c(
        "sasl.login.refresh.min.period.seconds",
        T::Short,
        Some("60"),
        M::PerBroker,
        "Least time between credential refreshes.",
    ),
    c(
        "sasl.login.refresh.window.factor",
        T::Double,
        Some("0.8"),
        M::PerBroker,
        "Share of a credential's lifetime before refresh.",
    ),
    c(
        "sasl.login.refresh.window.jitter",
        T::Double,
        Some("0.05"),
        M::PerBroker,
        "Random jitter of credential refresh.",
    ),
    c(
        "sasl.mechanism.controller.protocol",
        T::String,
        Some("GSSAPI"),
        M::ReadOnly,
        "SASL mechanism used with the controller.",
    ),
    c(
        "sasl.mechanism.inter.broker.protocol",
        T::String,
        Some("GSSAPI"),
        M::PerBroker,
        "SASL mechanism between brokers.",
    ),
    c(
        "sasl.oauthbearer.clock.skew.seconds",
        T::Int,
        Some("30"),
        M::ReadOnly,
        "Allowed clock difference (s) when checking signed OAUTHBEARER tokens.",
    ),
    c(
        "sasl.oauthbearer.expected.audience",
        T::List,
        Some(""),
        M::ReadOnly,
        "Audiences a signed OAUTHBEARER token must name one of.",
    ),
    c(
        "sasl.oauthbearer.expected.issuer",
        T::String,
        N,
        M::ReadOnly,
        "Issuer a signed OAUTHBEARER token must name.",
    ),
    c(
        "sasl.oauthbearer.jwks.endpoint.refresh.ms",
        T::Long,
        Some("3600000"),
        M::ReadOnly,
        "How often the JWKS is re-read.",
    ),
    c(
        "sasl.oauthbearer.jwks.endpoint.url",
        T::String,
        N,
        M::ReadOnly,
        "Where the keys of signed OAUTHBEARER tokens are (file:// only).",
    ),
    c(
        "sasl.oauthbearer.scope.claim.name",
        T::String,
        Some("scope"),
        M::ReadOnly,
        "Claim holding an OAUTHBEARER token's scope.",
    ),
    c(
        "sasl.oauthbearer.sub.claim.name",
        T::String,
        Some("sub"),
        M::ReadOnly,
        "Claim holding an OAUTHBEARER token's subject.",
    ),
    c(
        "sasl.server.callback.handler.class",
        T::Class,
        N,
        M::ReadOnly,
        "Server callback handler of a SASL mechanism (listener- and mechanism-prefixed).",
    ),
    c(
        "sasl.server.max.receive.size",
        T::Int,
        Some("524288"),
        M::ReadOnly,
        "Largest SASL message before authentication.",
    ),
    c(
        "security.inter.broker.protocol",
        T::String,
        Some("PLAINTEXT"),
        M::ReadOnly,
        "Security protocol between brokers.",
    ),
    c(
        "socket.connection.setup.timeout.max.ms",
        T::Long,
        Some("30000"),
        M::ReadOnly,
        "Upper bound of the connection setup timeout.",
    ),
    c(
        "socket.connection.setup.timeout.ms",
        T::Long,
        Some("10000"),
        M::ReadOnly,
        "Initial connection setup timeout.",
    ),
    c(
        "socket.listen.backlog.size",
        T::Int,
        Some("50"),
        M::ReadOnly,
        "Pending connections the listen socket queues.",
    ),
    c(
        "socket.receive.buffer.bytes",
        T::Int,
        Some("102400"),
        M::ReadOnly,
        "SO_RCVBUF of client sockets (-1: OS default).",
    ),
    c(
        "socket.request.max.bytes",
        T::Int,
        Some("104857600"),
        M::ReadOnly,
        "Largest request accepted.",
    ),
    c(
        "socket.send.buffer.bytes",
        T::Int,
        Some("102400"),
        M::ReadOnly,
        "SO_SNDBUF of client sockets (-1: OS default).",
    ),
    c(
        "ssl.cipher.suites",
        T::List,
        Some(""),
        M::PerBroker,
        "TLS cipher suites (empty: the JVM's).",
    ),
    c(
        "ssl.client.auth",
        T::String,
        Some("none"),
        M::PerBroker,
        "Whether clients must present certificates.",
    ),
    c(
        "ssl.enabled.protocols",
        T::List,
        Some("TLSv1.2,TLSv1.3"),
        M::PerBroker,
        "TLS versions accepted.",
    ),
    c(
        "ssl.endpoint.identification.algorithm",
        T::String,
        Some("https"),
        M::PerBroker,
        "Host name verification of peers.",
    ),
    c(
        "ssl.engine.factory.class",
        T::Class,
        N,
        M::PerBroker,
        "Custom TLS engine factory.",
    ),
    c(
        "ssl.key.password",
        T::Password,
        N,
        M::PerBroker,
        "Password of the private key.",
    ),
    c(
        "ssl.keymanager.algorithm",
        T::String,
        Some("SunX509"),
        M::PerBroker,
        "Key manager algorithm.",
    ),
    c(
        "ssl.keystore.certificate.chain",
        T::Password,
        N,
        M::PerBroker,
        "Certificate chain in PEM.",
    ),
    c(
        "ssl.keystore.key",
        T::Password,
        N,
        M::PerBroker,
        "Private key in PEM.",
    ),
    c(
        "ssl.keystore.location",
        T::String,
        N,
        M::PerBroker,
        "Key store file.",
    ),
    c(
        "ssl.keystore.password",
        T::Password,
        N,
        M::PerBroker,
        "Key store password.",
    ),
    c(
        "ssl.keystore.type",
        T::String,
        Some("JKS"),
        M::PerBroker,
        "Key store format.",
    ),
    c(
        "ssl.principal.mapping.rules",
        T::String,
        Some("DEFAULT"),
        M::ReadOnly,
        "Rules mapping certificate names to principals.",
    ),
    c(
        "ssl.protocol",
        T::String,
        Some("TLSv1.3"),
        M::PerBroker,
        "TLS protocol of the SSL context.",
    ),
    c(
        "ssl.provider",
        T::String,
        N,
        M::PerBroker,
        "Security provider for TLS.",
    ),
    c(
        "ssl.secure.random.implementation",
        T::String,
        N,
        M::PerBroker,
        "SecureRandom implementation for TLS.",
    ),
    c(
        "ssl.trustmanager.algorithm",
        T::String,
        Some("PKIX"),
        M::PerBroker,
        "Trust manager algorithm.",
    ),
    c(
        "ssl.truststore.certificates",
        T::Password,
        N,
        M::PerBroker,
        "Trusted certificates in PEM.",
    ),
    c(
        "ssl.truststore.location",
        T::String,
        N,
        M::PerBroker,
        "Trust store file.",
    ),
    c(
        "ssl.truststore.password",
        T::Password,
        N,
        M::PerBroker,
        "Trust store password.",
    ),
    c(
        "ssl.truststore.type",
        T::String,
        Some("JKS"),
        M::PerBroker,
        "Trust store format.",
    ),
    c(
        "telemetry.max.bytes",
        T::Int,
        Some("1048576"),
        M::ReadOnly,
        "Largest client telemetry push.",
    ),
    c(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        T::Int,
        Some("10000"),
        M::ReadOnly,
        "How often timed-out transactions are aborted.",
    ),
    c(
        "transaction.max.timeout.ms",
        T::Int,
        Some("900000"),
        M::ReadOnly,
        "Longest transaction timeout a producer may ask for.",
    ),
    c(
        "transaction.partition.verification.enable",
        T::Boolean,
        Some("true"),
        M::ClusterWide,
        "Check a partition is part of the transaction before a transactional write.",
    ),
    c(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        T::Int,
        Some("3600000"),
        M::ReadOnly,
        "How often expired transactional ids are removed.",
    ),
    c(
        "transaction.state.log.load.buffer.size",
        T::Int,
        Some("5242880"),
        M::ReadOnly,
        "Read size when loading transaction state.",
    ),
    c(
        "transaction.state.log.min.isr",
        T::Int,
        Some("2"),
        M::ReadOnly,
        "min.insync.replicas of the transaction state topic.",
    ),
    c(
        "transaction.state.log.num.partitions",
        T::Int,
        Some("50"),
        M::ReadOnly,
        "Partitions of the transaction state topic.",
    ),
    c(
        "transaction.state.log.replication.factor",
        T::Short,
        Some("3"),
        M::ReadOnly,
        "Replication factor of the transaction state topic.",
    ),
    c(
        "transaction.state.log.segment.bytes",
        T::Int,
        Some("104857600"),
        M::ReadOnly,
        "Segment size of the transaction state topic.",
    ),
    c(
        "transactional.id.expiration.ms",
        T::Int,
        Some("604800000"),
        M::ReadOnly,
        "Idle transactional ids are forgotten after this long.",
    ),
    c(
        "unclean.leader.election.enable",
        T::Boolean,
        Some("false"),
        M::ClusterWide,
        "Default for unclean.leader.election.enable.",
    ),
];

/// Looks a broker config up by name.
pub fn find(name: &str) -> Option<&'static BrokerConfigDef> {
    BROKER_CONFIGS
        .binary_search_by(|d| d.name.cmp(name))
        .ok()
        .and_then(|i| BROKER_CONFIGS.get(i))
}

/// The default Vltava reports for a broker config: its own where `config::KNOWN_KEYS` gives
/// one, else Kafka's.
pub fn default_of(name: &str) -> Option<String> {
    let own = crate::config::KNOWN_KEYS
        .iter()
        .find(|k| k.name == name)
        .map(|k| k.default)
        .filter(|d| !d.is_empty());
    own.or_else(|| find(name).and_then(|d| d.default))
        .map(str::to_string)
}

/// Broker configs that stand for the same setting, in precedence order (Kafka's
/// `DynamicBrokerConfig.brokerConfigSynonyms`): e.g. `log.retention.ms`, `.minutes`, `.hours`.
pub fn broker_synonyms(name: &str) -> &'static [&'static str] {
    const ROLL: &[&str] = &["log.roll.ms", "log.roll.hours"];
    const JITTER: &[&str] = &["log.roll.jitter.ms", "log.roll.jitter.hours"];
    const FLUSH: &[&str] = &["log.flush.interval.ms", "log.flush.scheduler.interval.ms"];
    const RETENTION: &[&str] = &[
        "log.retention.ms",
        "log.retention.minutes",
        "log.retention.hours",
    ];
    match name {
        "log.roll.ms" | "log.roll.hours" => ROLL,
        "log.roll.jitter.ms" | "log.roll.jitter.hours" => JITTER,
        "log.flush.interval.ms" => FLUSH,
        "log.retention.ms" | "log.retention.minutes" | "log.retention.hours" => RETENTION,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_and_unique() {
        assert!(
            BROKER_CONFIGS.windows(2).all(|w| w[0].name < w[1].name),
            "sorted, no duplicates (find uses binary search)"
        );
        for d in BROKER_CONFIGS {
            if let Some(v) = d.default {
                assert!(d.ty.check(d.name, v).is_ok(), "{} default {v}", d.name);
            }
            assert!(!d.doc.is_empty());
        }
    }

    #[test]
    fn every_known_key_is_in_the_catalogue_with_a_valid_default() {
        for k in crate::config::KNOWN_KEYS {
            if k.name == "cluster.id"
                || k.name.starts_with("vltava.")
                || ["super.users", "allow.everyone.if.no.acl.found"].contains(&k.name)
            {
                // meta.properties, Vltava's own settings, or the authorizer's own (Kafka hands
                // them to the authorizer; they are not broker configs it describes)
                continue;
            }
            let d = find(k.name).unwrap_or_else(|| panic!("{} missing", k.name));
            if !k.default.is_empty() {
                assert!(d.ty.check(k.name, k.default).is_ok(), "{}", k.name);
            }
        }
    }
}
