//! Broker settings, named exactly as Kafka names them.
//!
//! Sources, later ones winning: built-in defaults (tuned for development and tests), a
//! Kafka-style properties file (`--config server.properties`), environment variables
//! (`VLTAVA_` + the key upper-cased with dots as underscores, e.g. `VLTAVA_LOG_DIRS`), and
//! command-line flags (`--listeners`, `--log-dirs`, `--override key=value`, …).
//!
//! Every known key is listed in [`KNOWN_KEYS`] with its Kafka default; unknown keys are
//! reported and ignored, as Kafka does. The raw key/value map is kept so DescribeConfigs can
//! report the source of each value later.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::log::{LogConfig, TimestampType};

pub mod catalogue;
pub mod dynamic;
pub mod groups;
pub mod jaas;
pub mod listeners;
pub mod oauth;
pub mod topic;
pub mod txn;

pub use groups::GroupConfig;
pub use listeners::{ListenerConfig, SecurityProtocol};
pub use txn::TxnConfig;

/// The topics Kafka reserves for itself.
pub mod internal {
    /// Committed offsets and group metadata.
    pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
    /// Transaction coordinator state.
    pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

    /// True for the topics Kafka treats as internal (`is_internal` in Metadata).
    pub fn is_internal_topic(name: &str) -> bool {
        name == OFFSETS_TOPIC || name == TRANSACTION_STATE_TOPIC
    }
}

/// Where a setting's value came from (mirrors Kafka's `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Default,
    /// The properties file, environment or command line: Kafka calls all of these static.
    Static,
}

/// A key Vltava understands, with Kafka's default (or ours, where a faster test default is the
/// point, noted beside it).
pub struct KnownKey {
    pub name: &'static str,
    pub default: &'static str,
}

const fn key(name: &'static str, default: &'static str) -> KnownKey {
    KnownKey { name, default }
}

/// Every supported setting. Keep in step with [`BrokerConfig::from_map`] and the README table.
pub const KNOWN_KEYS: &[KnownKey] = &[
    key("listeners", "PLAINTEXT://127.0.0.1:9092"),
    key("advertised.listeners", ""),
    key(
        "listener.security.protocol.map",
        listeners::DEFAULT_PROTOCOL_MAP,
    ),
    // TLS (each also per listener with the `listener.name.<name>.` prefix); see net/tls.rs.
    key("ssl.keystore.type", "JKS"),
    key("ssl.keystore.location", ""),
    key("ssl.keystore.password", ""),
    key("ssl.key.password", ""),
    key("ssl.keystore.certificate.chain", ""),
    key("ssl.keystore.key", ""),
    key("ssl.truststore.type", "JKS"),
    key("ssl.truststore.location", ""),
    key("ssl.truststore.password", ""),
    key("ssl.truststore.certificates", ""),
    key("ssl.client.auth", "none"),
    key("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
    key("ssl.cipher.suites", ""),
    key("ssl.principal.mapping.rules", "DEFAULT"),
    // SASL (each also per listener; the JAAS config per listener and mechanism); see net/sasl.rs.
    key("sasl.enabled.mechanisms", "PLAIN"),
    key("sasl.jaas.config", ""),
    key("sasl.server.max.receive.size", "524288"),
    key("sasl.server.callback.handler.class", ""),
    key("connections.max.reauth.ms", "0"),
    // OAUTHBEARER with signed tokens (config/oauth.rs).
    key("sasl.oauthbearer.jwks.endpoint.url", ""),
    key("sasl.oauthbearer.jwks.endpoint.refresh.ms", "3600000"),
    key("sasl.oauthbearer.expected.audience", ""),
    key("sasl.oauthbearer.expected.issuer", ""),
    key("sasl.oauthbearer.sub.claim.name", "sub"),
    key("sasl.oauthbearer.scope.claim.name", "scope"),
    key("sasl.oauthbearer.clock.skew.seconds", "30"),
    // The authorizer (metadata/acls.rs): off unless `authorizer.class.name` names Kafka's.
    key("authorizer.class.name", ""),
    key("super.users", ""),
    key("allow.everyone.if.no.acl.found", "false"),
    key("log.dirs", "vltava-data"),
    key("log.dir", "vltava-data"),
    key("node.id", "1"),
    key("broker.id", "1"),
    key("cluster.id", ""),
    key("num.partitions", "1"),
    key("default.replication.factor", "1"),
    key("auto.create.topics.enable", "true"),
    key("delete.topic.enable", "true"),
    key("log.segment.bytes", "1073741824"),
    key("log.roll.ms", ""),
    key("log.roll.hours", "168"),
    key("log.index.interval.bytes", "4096"),
    key("log.flush.interval.messages", "9223372036854775807"),
    key("log.flush.interval.ms", ""),
    key("log.message.timestamp.type", "CreateTime"),
    key("log.message.timestamp.before.max.ms", "9223372036854775807"),
    key("log.message.timestamp.after.max.ms", "3600000"),
    key("message.max.bytes", "1048588"),
    // Retention and compaction (defaults for the topic configs of the same meaning).
    key("log.retention.ms", ""),
    key("log.retention.minutes", ""),
    key("log.retention.hours", "168"),
    key("log.retention.bytes", "-1"),
    key("log.retention.check.interval.ms", "300000"),
    key("log.cleanup.policy", "delete"),
    key("log.segment.delete.delay.ms", "60000"),
    key("log.cleaner.enable", "true"),
    key("log.cleaner.threads", "1"),
    key("log.cleaner.backoff.ms", "15000"),
    key("log.cleaner.dedupe.buffer.size", "134217728"),
    key("log.cleaner.io.buffer.load.factor", "0.9"),
    key("log.cleaner.delete.retention.ms", "86400000"),
    key("log.cleaner.min.cleanable.ratio", "0.5"),
    key("log.cleaner.min.compaction.lag.ms", "0"),
    key("log.cleaner.max.compaction.lag.ms", "9223372036854775807"),
    key("min.insync.replicas", "1"),
    key("max.request.partition.size.limit", "2000"),
    key("socket.request.max.bytes", "104857600"),
    // Kafka's default is unlimited; a bound is a non-negotiable here.
    key("max.connections", "10000"),
    key("connections.max.idle.ms", "600000"),
    // Client quotas (the quotas themselves are metadata: AlterClientQuotas); see src/quota/.
    key("quota.window.num", "11"),
    key("quota.window.size.seconds", "1"),
    // Kafka's default is unlimited (-1); request bytes held at once are bounded here.
    key("queued.max.request.bytes", "536870912"),
    // Vltava's own (Kafka has none): once a request's size prefix has arrived, the rest must
    // arrive within this time plus one second per `vltava.request.read.min.bytes.per.sec`.
    key("vltava.request.read.timeout.ms", "10000"),
    key("vltava.request.read.min.bytes.per.sec", "1048576"),
    // Vltava's own: a background check of every stored batch (CRC, header chain), rate-limited.
    key("vltava.log.scrub.enable", "false"),
    key("vltava.log.scrub.bytes.per.sec", "33554432"),
    key("vltava.log.scrub.interval.ms", "3600000"),
    // Vltava's own: the HTTP listener (health, readiness, metrics, console); "" = off.
    key("vltava.http.listener", ""),
    // Vltava's own: fault injection for client tests (src/fault/); its HTTP API answers
    // loopback peers only unless allow.remote is set.
    key("vltava.fault.injection.enable", "false"),
    key("vltava.fault.injection.allow.remote", "false"),
    key("offsets.topic.num.partitions", "50"),
    key("offsets.topic.segment.bytes", "104857600"),
    key("offsets.retention.minutes", "10080"),
    key("offsets.retention.check.interval.ms", "600000"),
    key("offset.metadata.max.bytes", "4096"),
    // Kafka: 3000. 0 here, so a first group join completes at once.
    key("group.initial.rebalance.delay.ms", "0"),
    key("group.min.session.timeout.ms", "6000"),
    key("group.max.session.timeout.ms", "1800000"),
    // Kafka's default is unlimited; members per group are bounded here.
    key("group.max.size", "1000"),
    // Vltava's own: groups per broker (Kafka has no such bound).
    key("vltava.group.max.count", "10000"),
    key("transaction.max.timeout.ms", "900000"),
    key("transaction.state.log.num.partitions", "50"),
    key("transaction.state.log.segment.bytes", "104857600"),
    key(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "10000",
    ),
    key("transactional.id.expiration.ms", "604800000"),
    key(
        "transaction.remove.expired.transaction.cleanup.interval.ms",
        "3600000",
    ),
];

/// A parsed listener such as `PLAINTEXT://127.0.0.1:9092`.
#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    fn parse(text: &str) -> Result<Listener, ConfigError> {
        let bad = || ConfigError::Invalid("listeners".into(), text.into());
        let (name, rest) = text.split_once("://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Listener {
            name: name.to_string(),
            host: host.to_string(),
            port,
        })
    }

    /// The socket address to bind. An empty host binds every interface, as in Kafka.
    pub fn bind_addr(&self) -> String {
        let host = if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        };
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for {0}: {1:?}")]
    Invalid(String, String),
    #[error("cannot read config file {0}: {1}")]
    File(PathBuf, std::io::Error),
}

/// The broker's typed settings.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Every listener, in the order of `listeners`; the first is the one start-up messages and
    /// single-listener callers use.
    pub listeners: Vec<ListenerConfig>,
    pub log_dir: PathBuf,
    /// `--memory`: segments live in memfd files; nothing touches the disk.
    pub in_memory: bool,
    pub node_id: i32,
    pub cluster_id: String,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub log: LogConfig,
    pub socket_request_max_bytes: usize,
    /// `sasl.server.max.receive.size`: the largest frame before SASL authentication completes.
    pub sasl_server_max_receive_size: usize,
    pub max_connections: usize,
    pub connections_max_idle_ms: u64,
    pub queued_max_request_bytes: usize,
    /// `quota.window.num`: samples a client quota rate is measured over (at least 1).
    pub quota_window_num: u32,
    /// `quota.window.size.seconds`: the length of one sample (at least 1).
    pub quota_window_size_seconds: u32,
    /// `vltava.http.listener`: where the HTTP routes (health, readiness, …) are served; off
    /// when unset.
    pub http_listener: Option<std::net::SocketAddr>,
    /// `vltava.fault.injection.enable`: fault rules may be set (`--fault`, `/v1/faults`).
    pub fault_injection_enable: bool,
    /// `vltava.fault.injection.allow.remote`: the fault API answers non-loopback peers too.
    pub fault_injection_allow_remote: bool,
    /// `vltava.request.read.timeout.ms`: time for a started frame, beyond the rate allowance.
    pub request_read_timeout_ms: u64,
    /// `vltava.request.read.min.bytes.per.sec`: slowest accepted arrival rate of a frame.
    pub request_read_min_bytes_per_sec: u64,
    /// The group coordinator's settings (`group.*`, `offsets.*`).
    pub groups: GroupConfig,
    /// The transaction coordinator's settings (`transaction.*`).
    pub transactions: TxnConfig,
    /// `Some` when `authorizer.class.name` names Kafka's authorizer: ACLs are enforced.
    pub authorizer: Option<AuthorizerConfig>,
    /// Every value that was set explicitly (file, env, flags), by Kafka key.
    pub overrides: BTreeMap<String, String>,
}

/// The class names `authorizer.class.name` may take: Kafka's KRaft authorizer, and the
/// ZooKeeper-era one that configurations still carry. Both mean the same ACL semantics here.
pub const AUTHORIZER_CLASSES: [&str; 2] = [
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
];

/// Parses `vltava.http.listener`: `host:port`, optionally with an `http://` prefix; "" is off.
fn http_listener(text: &str) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    use std::net::ToSocketAddrs;
    let bare = text.trim().trim_start_matches("http://");
    if bare.is_empty() {
        return Ok(None);
    }
    bare.to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .map(Some)
        .ok_or_else(|| ConfigError::Invalid("vltava.http.listener".into(), text.into()))
}

/// The authorizer's settings.
#[derive(Debug, Clone, Default)]
pub struct AuthorizerConfig {
    /// `super.users`: principals (`User:admin`) allowed everything; semicolon-separated.
    pub super_users: std::collections::HashSet<String>,
    /// `allow.everyone.if.no.acl.found`: a resource no ACL names is open to everyone.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    fn from_settings(
        class: &str,
        super_users: &str,
        allow_everyone: &str,
    ) -> Result<Option<AuthorizerConfig>, ConfigError> {
        let class = class.trim();
        if class.is_empty() {
            return Ok(None);
        }
        if !AUTHORIZER_CLASSES.contains(&class) {
            return Err(ConfigError::Invalid(
                "authorizer.class.name".into(),
                class.into(),
            ));
        }
        let allow_everyone_if_no_acl_found = match allow_everyone.trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::Invalid(
                    "allow.everyone.if.no.acl.found".into(),
                    other.into(),
                ));
            }
        };
        Ok(Some(AuthorizerConfig {
            super_users: super_users
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            allow_everyone_if_no_acl_found,
        }))
    }
}

impl BrokerConfig {
    /// Builds the configuration from explicitly-set values; everything else is defaulted.
    pub fn from_map(mut overrides: BTreeMap<String, String>) -> Result<BrokerConfig, ConfigError> {
        // `node.id` and `broker.id` are one setting: Kafka copies whichever is set into the
        // other (`KafkaConfig.populateSynonyms`), so both report where the value came from.
        for (set, other) in [("node.id", "broker.id"), ("broker.id", "node.id")] {
            if let Some(v) = overrides.get(set).cloned() {
                overrides.entry(other.to_string()).or_insert(v);
            }
        }
        let get = |name: &str| -> String {
            overrides.get(name).cloned().unwrap_or_else(|| {
                KNOWN_KEYS
                    .iter()
                    .find(|k| k.name == name)
                    .map(|k| k.default.to_string())
                    .unwrap_or_default()
            })
        };
        fn num<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError> {
            value
                .trim()
                .parse()
                .map_err(|_| ConfigError::Invalid(name.into(), value))
        }
        /// Kafka's `atLeast(1)` INT settings.
        fn at_least_one(name: &str, value: String) -> Result<u32, ConfigError> {
            match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(ConfigError::Invalid(name.into(), value)),
            }
        }
        let listeners = listeners::parse(&get("listeners"), &overrides)?;
        let log_dir = overrides
            .get("log.dirs")
            .or_else(|| overrides.get("log.dir"))
            .map(|v| v.split(',').next().unwrap_or_default().trim().to_string())
            .unwrap_or_else(|| get("log.dirs"));
        let node_id = match overrides
            .get("node.id")
            .or_else(|| overrides.get("broker.id"))
        {
            Some(v) => num("node.id", v.clone())?,
            None => 1,
        };
        let roll_ms: i64 = match overrides.get("log.roll.ms") {
            Some(v) if !v.trim().is_empty() => num("log.roll.ms", v.clone())?,
            _ => num::<i64>("log.roll.hours", get("log.roll.hours"))?.saturating_mul(3_600_000),
        };
        let flush_ms: u64 = match overrides.get("log.flush.interval.ms") {
            Some(v) if !v.trim().is_empty() => num("log.flush.interval.ms", v.clone())?,
            _ => u64::MAX,
        };
        let flush_messages: i64 = num(
            "log.flush.interval.messages",
            get("log.flush.interval.messages"),
        )?;
        let timestamp_type = match get("log.message.timestamp.type").as_str() {
            "CreateTime" => TimestampType::CreateTime,
            "LogAppendTime" => TimestampType::LogAppendTime,
            other => {
                return Err(ConfigError::Invalid(
                    "log.message.timestamp.type".into(),
                    other.into(),
                ));
            }
        };
        let positive = |name: &str, v: i64| -> Result<i64, ConfigError> {
            if v <= 0 {
                Err(ConfigError::Invalid(name.into(), v.to_string()))
            } else {
                Ok(v)
            }
        };
        let segment_bytes = positive(
            "log.segment.bytes",
            num("log.segment.bytes", get("log.segment.bytes"))?,
        )?;
        let log = LogConfig {
            segment_bytes: segment_bytes as u64,
            segment_ms: positive("log.roll.ms", roll_ms)?,
            index_interval_bytes: num("log.index.interval.bytes", get("log.index.interval.bytes"))?,
            flush_interval_messages: u64::try_from(positive(
                "log.flush.interval.messages",
                flush_messages,
            )?)
            .unwrap_or(u64::MAX),
            flush_interval_ms: flush_ms,
            timestamp_type,
            max_message_bytes: num("message.max.bytes", get("message.max.bytes"))?,
            timestamp_before_max_ms: num(
                "log.message.timestamp.before.max.ms",
                get("log.message.timestamp.before.max.ms"),
            )?,
            timestamp_after_max_ms: num(
                "log.message.timestamp.after.max.ms",
                get("log.message.timestamp.after.max.ms"),
            )?,
            // Retention and compaction settings are resolved per topic by `topic_config`.
            ..LogConfig::default()
        };
        let num_partitions: i32 = num("num.partitions", get("num.partitions"))?;
        if num_partitions <= 0 {
            return Err(ConfigError::Invalid(
                "num.partitions".into(),
                num_partitions.to_string(),
            ));
        }
        let auto_create = match get("auto.create.topics.enable").trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::Invalid(
                    "auto.create.topics.enable".into(),
                    other.into(),
                ));
            }
        };
        // Every catalogued Kafka setting must parse as its type (and broker defaults of topic
        // configs obey the topic config's rule), as Kafka refuses to start otherwise.
        for (k, v) in overrides.iter().filter(|(_, v)| !v.trim().is_empty()) {
            if let Some(d) = crate::config::catalogue::find(k) {
                d.ty.check(k, v)
                    .map_err(|_| ConfigError::Invalid(k.clone(), v.clone()))?;
            }
            if let Some(t) = crate::config::topic::TOPIC_CONFIGS
                .iter()
                .find(|t| t.broker_synonym == Some(k.as_str()))
            {
                t.check(v)
                    .map_err(|_| ConfigError::Invalid(k.clone(), v.clone()))?;
            }
        }
        let groups = GroupConfig::from_overrides(&overrides)
            .map_err(|(key, value)| ConfigError::Invalid(key, value))?;
        let transactions = TxnConfig::from_overrides(&overrides)
            .map_err(|(key, value)| ConfigError::Invalid(key, value))?;
        let authorizer = AuthorizerConfig::from_settings(
            &get("authorizer.class.name"),
            &get("super.users"),
            &get("allow.everyone.if.no.acl.found"),
        )?;
        Ok(BrokerConfig {
            authorizer,
            groups,
            transactions,
            listeners,
            log_dir: PathBuf::from(log_dir),
            in_memory: false,
            node_id,
            cluster_id: get("cluster.id"),
            num_partitions,
            default_replication_factor: num(
                "default.replication.factor",
                get("default.replication.factor"),
            )?,
            auto_create_topics: auto_create,
            log,
            socket_request_max_bytes: num(
                "socket.request.max.bytes",
                get("socket.request.max.bytes"),
            )?,
            sasl_server_max_receive_size: num(
                "sasl.server.max.receive.size",
                get("sasl.server.max.receive.size"),
            )?,
            max_connections: num("max.connections", get("max.connections"))?,
            connections_max_idle_ms: num(
                "connections.max.idle.ms",
                get("connections.max.idle.ms"),
            )?,
            quota_window_num: at_least_one("quota.window.num", get("quota.window.num"))?,
            quota_window_size_seconds: at_least_one(
                "quota.window.size.seconds",
                get("quota.window.size.seconds"),
            )?,
            queued_max_request_bytes: num(
                "queued.max.request.bytes",
                get("queued.max.request.bytes"),
            )?,
            http_listener: http_listener(&get("vltava.http.listener"))?,
            fault_injection_enable: num(
                "vltava.fault.injection.enable",
                get("vltava.fault.injection.enable"),
            )?,
            fault_injection_allow_remote: num(
                "vltava.fault.injection.allow.remote",
                get("vltava.fault.injection.allow.remote"),
            )?,
            request_read_timeout_ms: num(
                "vltava.request.read.timeout.ms",
                get("vltava.request.read.timeout.ms"),
            )?,
            request_read_min_bytes_per_sec: num::<u64>(
                "vltava.request.read.min.bytes.per.sec",
                get("vltava.request.read.min.bytes.per.sec"),
            )?
            .max(1),
            overrides,
        })
    }

    /// The first listener (the only one in the default setup).
    pub fn first_listener(&self) -> &ListenerConfig {
        // `listeners::parse` refuses an empty list, so there is always a first.
        &self.listeners[0]
    }

    /// The address advertised to clients that came in on listener `name` (the first
    /// listener's when the name is unknown, which only in-process callers can cause).
    pub fn advertised_for(&self, name: &str) -> &Listener {
        &self
            .listeners
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| self.first_listener())
            .advertised
    }

    /// A setting by its Kafka name, or `default` when unset or unparsable.
    pub fn setting<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        self.overrides
            .get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// What the log's background threads need (retention, cleaner, scrub).
    pub fn log_manager_settings(&self) -> crate::log::manager::ManagerSettings {
        crate::log::manager::ManagerSettings {
            retention_check_interval_ms: self.setting("log.retention.check.interval.ms", 300_000),
            cleaner_enable: self.setting("log.cleaner.enable", true),
            cleaner_threads: self.setting("log.cleaner.threads", 1),
            cleaner_backoff_ms: self.setting("log.cleaner.backoff.ms", 15_000),
            cleaner_dedupe_buffer_size: self.setting("log.cleaner.dedupe.buffer.size", 128 << 20),
            cleaner_io_buffer_load_factor: self.setting("log.cleaner.io.buffer.load.factor", 0.9),
            scrub_enable: self.setting("vltava.log.scrub.enable", false),
            scrub_bytes_per_sec: self.setting("vltava.log.scrub.bytes.per.sec", 32 << 20),
            scrub_interval_ms: self.setting("vltava.log.scrub.interval.ms", 3_600_000),
        }
    }

    /// Where a key's effective value came from.
    pub fn source_of(&self, key: &str) -> ConfigSource {
        if self.overrides.contains_key(key) {
            ConfigSource::Static
        } else {
            ConfigSource::Default
        }
    }
}

/// Parses a Java-style properties file: `key=value`, `key: value` or `key value`; `#` and `!`
/// comments; a trailing backslash continues a line.
/// A numeric setting from explicitly-set values: `default` when unset, `Err((key, value))` when
/// it does not parse or lies below `min`.
pub(crate) fn setting<T: std::str::FromStr + PartialOrd>(
    map: &BTreeMap<String, String>,
    key: &str,
    default: T,
    min: T,
) -> Result<T, (String, String)> {
    match map.get(key) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<T>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err((key.to_string(), v.clone())),
        },
    }
}

pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split_at = entry.find(['=', ':', ' ', '\t']).unwrap_or(entry.len());
        let (k, rest) = entry.split_at(split_at);
        let value = rest
            .trim_start_matches([' ', '\t'])
            .trim_start_matches(['=', ':'])
            .trim();
        out.insert(k.trim().to_string(), value.to_string());
    }
    out
}

/// `VLTAVA_*` variables that are not settings: the log filter and the test scripts' own.
pub const NON_SETTING_ENV: &[&str] = &["VLTAVA_LOG", "VLTAVA_BIN", "VLTAVA_CACHE"];

/// What the environment says: the settings it names, and the `VLTAVA_*` variables that name
/// no setting (most likely misspelt; the caller warns about them).
#[derive(Debug, Default)]
pub struct EnvSettings {
    /// Kafka key → (value, the variable it came from).
    pub settings: BTreeMap<String, (String, String)>,
    /// Variables that are neither a setting nor in [`NON_SETTING_ENV`].
    pub unknown: Vec<String>,
}

/// Collects `VLTAVA_*` environment variables naming known settings as Kafka keys
/// (`VLTAVA_LOG_DIRS` → `log.dirs`).
pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> EnvSettings {
    let mut out = EnvSettings::default();
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix("VLTAVA_") else {
            continue;
        };
        let key = env_key(rest);
        if is_known(&key) {
            out.settings.insert(key, (value, var));
        } else if !NON_SETTING_ENV.contains(&var.as_str()) {
            out.unknown.push(var);
        }
    }
    out.unknown.sort();
    out
}

/// `LOG_DIRS` → `log.dirs`.
pub fn env_key(rest: &str) -> String {
    rest.to_ascii_lowercase().replace('_', ".")
}

/// The known setting closest to a misspelt key (at most two edits away), for a "did you mean".
pub fn closest_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .iter()
        .map(|k| (edit_distance(key, k.name), k.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// The `VLTAVA_*` variable that sets `key`.
pub fn env_var_for(key: &str) -> String {
    format!("VLTAVA_{}", key.to_ascii_uppercase().replace('.', "_"))
}

/// Levenshtein distance over bytes (keys are ASCII and short).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Keys a SASL listener reads per mechanism (`listener.name.<l>.<mechanism>.<key>`).
const PER_MECHANISM_KEYS: &[&str] = &[
    "connections.max.reauth.ms",
    "sasl.server.callback.handler.class",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.clock.skew.seconds",
];

/// True when Vltava knows this key.
pub fn is_known(key: &str) -> bool {
    let key = match listeners::split_listener_prefix(key) {
        Some((_, base)) if listeners::SSL_KEYS.contains(&base) => base,
        Some((_, "sasl.enabled.mechanisms")) => "sasl.enabled.mechanisms",
        // `listener.name.<l>.[<mechanism>.]<key>` for the per-mechanism SASL keys.
        Some((_, base))
            if listeners::SASL_MECHANISMS.iter().any(|m| {
                let rest = base
                    .get(..m.len())
                    .filter(|p| p.eq_ignore_ascii_case(m))
                    .and_then(|_| base[m.len()..].strip_prefix('.'))
                    .unwrap_or(base);
                PER_MECHANISM_KEYS.contains(&rest)
            }) =>
        {
            return true;
        }
        Some((_, base))
            if base.strip_suffix(".sasl.jaas.config").is_some_and(|m| {
                listeners::SASL_MECHANISMS
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(m))
            }) =>
        {
            "sasl.jaas.config"
        }
        _ => key,
    };
    KNOWN_KEYS.iter().any(|k| k.name == key)
}

impl Listener {
    /// Resolves the bind address (used only at start-up).
    pub fn resolve(&self) -> std::io::Result<SocketAddr> {
        use std::net::ToSocketAddrs;
        self.bind_addr()
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("listener host resolves to nothing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_listener_is_off_unless_set() {
        assert_eq!(http_listener("").unwrap(), None);
        assert_eq!(
            http_listener("127.0.0.1:9644").unwrap(),
            Some("127.0.0.1:9644".parse().unwrap())
        );
        assert_eq!(
            http_listener("http://127.0.0.1:0").unwrap(),
            Some("127.0.0.1:0".parse().unwrap())
        );
        assert!(http_listener("nonsense").is_err());
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = BrokerConfig::from_map(BTreeMap::new()).unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.first_listener().bind.port, 9092);
        assert_eq!(c.first_listener().protocol, SecurityProtocol::Plaintext);
        assert_eq!(c.log.segment_bytes, 1 << 30);
        assert_eq!(c.log.index_interval_bytes, 4096);
        assert_eq!(c.log.max_message_bytes, 1_048_588);
        assert_eq!(c.socket_request_max_bytes, 100 << 20);
        assert_eq!(c.log.segment_ms, 168 * 3_600_000);
        assert!(c.auto_create_topics);
        assert_eq!(c.num_partitions, 1);
    }

    #[test]
    fn properties_file_syntax() {
        let p = parse_properties(
            "# comment\n! also\nlisteners=PLAINTEXT://:9093\nlog.dirs : /tmp/x\nnum.partitions 3\nlong=a\\\n  b\n",
        );
        assert_eq!(p["listeners"], "PLAINTEXT://:9093");
        assert_eq!(p["log.dirs"], "/tmp/x");
        assert_eq!(p["num.partitions"], "3");
        assert_eq!(p["long"], "ab");
        let c = BrokerConfig::from_map(p).unwrap();
        assert_eq!(c.first_listener().bind.bind_addr(), "0.0.0.0:9093");
        assert_eq!(c.first_listener().advertised.host, "localhost");
        assert_eq!(c.num_partitions, 3);
    }

    #[test]
    fn env_names_map_to_kafka_keys() {
        let env = from_env(
            vec![
                ("VLTAVA_LOG_DIRS".to_string(), "/d".to_string()),
                ("VLTAVA_LOG".to_string(), "debug".to_string()),
                ("VLTAVA_LOG_DIRZ".to_string(), "/x".to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(env.settings.len(), 1);
        assert_eq!(
            env.settings["log.dirs"],
            ("/d".to_string(), "VLTAVA_LOG_DIRS".to_string())
        );
        assert_eq!(env.unknown, vec!["VLTAVA_LOG_DIRZ".to_string()]);
        assert_eq!(closest_key("log.dirz"), Some("log.dirs"));
        assert_eq!(closest_key("nothing.like.it"), None);
        assert_eq!(env_var_for("log.dirs"), "VLTAVA_LOG_DIRS");
    }

    #[test]
    fn invalid_values_are_rejected() {
        let mut m = BTreeMap::new();
        m.insert("num.partitions".to_string(), "zero".to_string());
        assert!(BrokerConfig::from_map(m).is_err());
        let mut m = BTreeMap::new();
        m.insert("listeners".to_string(), "nonsense".to_string());
        assert!(BrokerConfig::from_map(m).is_err());
    }

    #[test]
    fn topic_config_synonyms_are_broker_configs() {
        for t in topic::TOPIC_CONFIGS {
            for s in t.synonyms {
                let d = catalogue::find(s.name).unwrap_or_else(|| panic!("{} missing", s.name));
                if s.name == t.broker_synonym.unwrap_or_default() {
                    assert_ne!(
                        d.mode,
                        catalogue::Mode::ReadOnly,
                        "{} is dynamic in Kafka",
                        s.name
                    );
                }
            }
        }
        assert_eq!(
            catalogue::default_of("max.connections").as_deref(),
            Some("10000")
        );
        assert_eq!(
            catalogue::default_of("log.retention.hours").as_deref(),
            Some("168")
        );
        assert_eq!(catalogue::default_of("log.retention.ms"), None);
        assert!(catalogue::ConfigType::Int.check("x", "12x").is_err());
        assert!(catalogue::ConfigType::Boolean.check("x", "TRUE").is_ok());
    }
}
