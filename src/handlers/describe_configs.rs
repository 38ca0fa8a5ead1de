//! DescribeConfigs (key 32), versions 1–4.
//!
//! What Kafka's `ConfigHelper` answers, per resource:
//! - TOPIC (2): every topic config (`topic::TOPIC_CONFIGS`) with the value in force — the
//!   topic's override (source DYNAMIC_TOPIC_CONFIG) or the broker synonym chain (dynamic
//!   per-broker, dynamic default, static, default) — `read_only` false. An invalid name is
//!   INVALID_TOPIC_EXCEPTION, a missing topic UNKNOWN_TOPIC_OR_PARTITION.
//! - BROKER (4), name = this node's id: every broker config (`catalogue::BROKER_CONFIGS`, plus
//!   any other key set statically or dynamically), `read_only` unless Kafka can change it at run
//!   time. Name "": only the cluster-wide dynamic defaults that are set. Another id or a
//!   non-number: INVALID_REQUEST with Kafka's message.
//! - BROKER_LOGGER (8): the root logger's level; CLIENT_METRICS (16): no subscriptions;
//!   GROUP (32): the group configs' defaults. Any other type: INVALID_REQUEST (with Kafka's
//!   generic text for it).
//!
//! `configuration_keys` filters (null or empty: all). Synonyms (v1+, when asked) are built the
//! way Kafka builds them — for each source in precedence order, each synonym name that is set,
//! then everything before the described name itself dropped — so `source` is the first
//! synonym's. Passwords (and keys of unknown type) are sensitive: no value. v3+ carries
//! `config_type` and, when asked, `documentation`.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    ApiKey, DescribeConfigsRequest, DescribeConfigsResponse, ResponseKind,
};

use super::{ApiSpec, INVALID_REQUEST_MESSAGE, Reply, RequestContext, owned_str};
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::config::catalogue::{self, ConfigType, Mode};
use crate::config::dynamic::{DynamicConfigs, source};
use crate::config::topic::{self, TopicConfigDef};
use crate::log::error::NONE;
use crate::metadata::acls::AclOperation;
use crate::metadata::topics::validate_topic_name;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeConfigs,
    min_version: 1,
    max_version: 4,
};

/// `ConfigResource.Type` ids.
pub mod resource_type {
    pub const TOPIC: i8 = 2;
    pub const BROKER: i8 = 4;
    pub const BROKER_LOGGER: i8 = 8;
    pub const CLIENT_METRICS: i8 = 16;
    pub const GROUP: i8 = 32;
}

const DYNAMIC_BROKER_LOGGER_CONFIG: i8 = 6;
const GROUP_CONFIG_DEFAULTS: &[(&str, &str, ConfigType, &str, &str)] = &[
    (
        "consumer.heartbeat.interval.ms",
        "5000",
        ConfigType::Int,
        "group.consumer.heartbeat.interval.ms",
        "Heartbeat interval of the group's consumer-protocol members.",
    ),
    (
        "consumer.session.timeout.ms",
        "45000",
        ConfigType::Int,
        "group.consumer.session.timeout.ms",
        "Session timeout of the group's consumer-protocol members.",
    ),
];

/// One entry before encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
    pub synonyms: Vec<(String, Option<String>, i8)>,
    pub ty: Option<ConfigType>,
    pub doc: Option<&'static str>,
}

pub fn handle(ctx: &RequestContext<'_>, request: DescribeConfigsRequest) -> Reply {
    let results = request
        .resources
        .iter()
        .map(|r| describe(ctx, r, &request))
        .collect();
    Reply::message(ResponseKind::DescribeConfigs(
        DescribeConfigsResponse::default().with_results(results),
    ))
}

fn describe(
    ctx: &RequestContext<'_>,
    resource: &DescribeConfigsResource,
    request: &DescribeConfigsRequest,
) -> DescribeConfigsResult {
    let base = DescribeConfigsResult::default()
        .with_resource_type(resource.resource_type)
        .with_resource_name(owned_str(&resource.resource_name));
    if let Err(code) = ctx.authorize_config_resource(
        AclOperation::DescribeConfigs,
        resource.resource_type,
        &resource.resource_name,
    ) {
        return base.with_error_code(code).with_error_message(None);
    }
    let entries = match resource_entries(ctx.broker, resource) {
        Ok(entries) => entries,
        Err((code, message)) => {
            // Kafka writes "" where it has no message (DescribeConfigs only; most APIs send null).
            return base
                .with_error_code(code)
                .with_error_message(Some(owned_str(&message.unwrap_or_default())));
        }
    };
    let wanted: Option<BTreeSet<&str>> = resource
        .configuration_keys
        .as_ref()
        .filter(|keys| !keys.is_empty())
        .map(|keys| keys.iter().map(|k| k.as_str()).collect());
    let configs = entries
        .into_iter()
        .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(e.name.as_str())))
        .map(|e| encode(e, ctx.version, request))
        .collect();
    base.with_error_code(NONE)
        .with_error_message(Some(owned_str("")))
        .with_configs(configs)
}

type ResourceError = (i16, Option<String>);

fn resource_entries(
    broker: &Broker,
    resource: &DescribeConfigsResource,
) -> Result<Vec<Entry>, ResourceError> {
    let name = resource.resource_name.as_str();
    let invalid = |m: String| (ResponseError::InvalidRequest.code(), Some(m));
    match resource.resource_type {
        resource_type::TOPIC => {
            validate_topic_name(name)
                .map_err(|m| (ResponseError::InvalidTopicException.code(), Some(m)))?;
            let topic = broker
                .topics
                .get(name)
                .ok_or((ResponseError::UnknownTopicOrPartition.code(), None))?;
            Ok(topic_entries(
                &topic.configs,
                &broker.config,
                &broker.dynamic_configs(),
            ))
        }
        resource_type::BROKER => {
            let dynamic = broker.dynamic_configs();
            if name.is_empty() {
                return Ok(default_broker_entries(&broker.config, &dynamic));
            }
            let id: i32 = name
                .parse()
                .map_err(|_| invalid(format!("Broker id must be an integer, but it is: {name}")))?;
            if id != broker.config.node_id {
                return Err(invalid(format!(
                    "Unexpected broker id, expected {} or empty string, but received {name}",
                    broker.config.node_id
                )));
            }
            Ok(broker_entries(&broker.config, &dynamic))
        }
        resource_type::BROKER_LOGGER => {
            if name.is_empty() {
                return Err(invalid("Broker id must not be empty".into()));
            }
            let id: i32 = name
                .parse()
                .map_err(|_| invalid(format!("Broker id must be an integer, but it is: {name}")))?;
            if id != broker.config.node_id {
                return Err(invalid(format!(
                    "Unexpected broker id, expected {} but received {name}",
                    broker.config.node_id
                )));
            }
            Ok(vec![Entry {
                name: "root".into(),
                value: Some("INFO".into()),
                source: DYNAMIC_BROKER_LOGGER_CONFIG,
                read_only: false,
                sensitive: false,
                synonyms: Vec::new(),
                ty: None,
                doc: None,
            }])
        }
        resource_type::CLIENT_METRICS => {
            if name.is_empty() {
                return Err(invalid(
                    "Client metrics subscription name must not be empty".into(),
                ));
            }
            Ok(Vec::new())
        }
        resource_type::GROUP => {
            if name.is_empty() {
                return Err(invalid("Group name must not be empty".into()));
            }
            let effective = broker.effective_config();
            Ok(GROUP_CONFIG_DEFAULTS
                .iter()
                .map(|(n, default, ty, synonym, doc)| {
                    let value = effective
                        .overrides
                        .get(*synonym)
                        .cloned()
                        .unwrap_or_else(|| default.to_string());
                    Entry {
                        name: n.to_string(),
                        value: Some(value.clone()),
                        source: source::DEFAULT_CONFIG,
                        read_only: false,
                        sensitive: false,
                        synonyms: vec![(n.to_string(), Some(value), source::DEFAULT_CONFIG)],
                        ty: Some(*ty),
                        doc: Some(doc),
                    }
                })
                .collect())
        }
        // Kafka has nothing more specific to say than INVALID_REQUEST's own text.
        _ => Err(invalid(INVALID_REQUEST_MESSAGE.into())),
    }
}

/// The value Kafka shows for a parsed config: lists without blanks, booleans lower-case,
/// numbers as Java prints them.
pub fn display_value(ty: ConfigType, value: &str) -> String {
    let v = value.trim();
    match ty {
        ConfigType::List => v
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(","),
        ConfigType::Boolean => v.to_ascii_lowercase(),
        ConfigType::Int | ConfigType::Short | ConfigType::Long => v
            .parse::<i64>()
            .map_or_else(|_| v.to_string(), |n| n.to_string()),
        ConfigType::Double => v.parse::<f64>().map_or_else(|_| v.to_string(), java_double),
        _ => v.to_string(),
    }
}

/// Java's `Double.toString`: the shortest digits that read back as the same double, in plain
/// notation with at least one decimal for 10^-3 <= |d| < 10^7, else as `d.dddE<exponent>`.
fn java_double(d: f64) -> String {
    if !d.is_finite() {
        return match d {
            d if d.is_nan() => "NaN".into(),
            d if d > 0.0 => "Infinity".into(),
            _ => "-Infinity".into(),
        };
    }
    if d == 0.0 || (1e-3..1e7).contains(&d.abs()) {
        // Debug prints the shortest round-trip digits and keeps a ".0" on whole numbers.
        return format!("{d:?}");
    }
    let sci = format!("{d:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let dot = if mantissa.contains('.') { "" } else { ".0" };
    format!("{mantissa}{dot}E{exponent}")
}

/// Kafka's `configSynonyms(name, brokerSynonyms(name))`: every set value of the synonym names,
/// grouped by source in precedence order, starting at `name` itself.
fn broker_synonym_chain(
    name: &str,
    static_config: &BrokerConfig,
    dynamic: &DynamicConfigs,
    sensitive: bool,
) -> Vec<(String, Option<String>, i8)> {
    let names: Vec<&str> = match catalogue::broker_synonyms(name) {
        [] => vec![name],
        list => list.to_vec(),
    };
    let mut all = Vec::new();
    for wanted in [
        source::DYNAMIC_BROKER_CONFIG,
        source::DYNAMIC_DEFAULT_BROKER_CONFIG,
        source::STATIC_BROKER_CONFIG,
        source::DEFAULT_CONFIG,
    ] {
        for n in &names {
            for (value, src) in dynamic.layers(static_config, n) {
                if src == wanted {
                    let value = (!sensitive).then_some(value);
                    all.push((n.to_string(), value, src));
                }
            }
        }
    }
    let start = all
        .iter()
        .position(|(n, _, _)| n == name)
        .unwrap_or(all.len());
    all.split_off(start)
}

/// Every topic config of a topic with `overrides`.
pub fn topic_entries(
    overrides: &BTreeMap<String, String>,
    static_config: &BrokerConfig,
    dynamic: &DynamicConfigs,
) -> Vec<Entry> {
    let effective = dynamic.effective(static_config);
    topic::TOPIC_CONFIGS
        .iter()
        .map(|d| topic_entry(d, overrides, static_config, dynamic, &effective))
        .collect()
}

fn topic_entry(
    d: &TopicConfigDef,
    overrides: &BTreeMap<String, String>,
    static_config: &BrokerConfig,
    dynamic: &DynamicConfigs,
    effective: &BrokerConfig,
) -> Entry {
    let sensitive = d.ty.is_sensitive();
    let (value, _) = topic::effective(d.name, overrides, effective)
        .unwrap_or_else(|| (d.default.to_string(), false));
    let value = display_value(d.ty, &value);
    let mut synonyms = Vec::new();
    if overrides.contains_key(d.name) {
        synonyms.push((
            d.name.to_string(),
            (!sensitive).then(|| value.clone()),
            source::DYNAMIC_TOPIC_CONFIG,
        ));
    }
    if let Some(primary) = d.broker_synonym {
        synonyms.extend(broker_synonym_chain(
            primary,
            static_config,
            dynamic,
            sensitive,
        ));
    }
    Entry {
        name: d.name.to_string(),
        value: (!sensitive).then_some(value),
        source: synonyms
            .first()
            .map_or(source::DEFAULT_CONFIG, |(_, _, s)| *s),
        read_only: false,
        sensitive,
        synonyms,
        ty: Some(d.ty),
        doc: Some(d.doc),
    }
}

/// One broker config as the broker itself reports it (`perBrokerConfig`).
fn broker_entry(
    name: &str,
    static_config: &BrokerConfig,
    dynamic: &DynamicConfigs,
    per_broker: bool,
) -> Entry {
    // `listener.name.<name>.ssl.x` is typed as `ssl.x` (so passwords stay sensitive and the
    // rest show their values).
    let def = catalogue::find(name).or_else(|| {
        crate::config::listeners::split_listener_prefix(name).and_then(|(_, b)| catalogue::find(b))
    });
    let own = crate::config::KNOWN_KEYS.iter().any(|k| k.name == name);
    // Kafka treats keys it cannot type as sensitive; Vltava's own settings are plain strings.
    let ty = def.map(|d| d.ty).or(own.then_some(ConfigType::String));
    let sensitive = ty.is_none_or(ConfigType::is_sensitive);
    let mut synonyms = broker_synonym_chain(name, static_config, dynamic, sensitive);
    if !per_broker {
        synonyms.retain(|(_, _, s)| *s == source::DYNAMIC_DEFAULT_BROKER_CONFIG);
    }
    let layers = dynamic.layers(static_config, name);
    let value = if per_broker {
        layers.first().map(|(v, _)| v.clone())
    } else {
        dynamic.cluster.get(name).cloned()
    };
    let value = match (value, ty) {
        (Some(v), Some(t)) => Some(display_value(t, &v)),
        (v, _) => v,
    };
    Entry {
        name: name.to_string(),
        value: if sensitive { None } else { value },
        source: synonyms
            .first()
            .map_or(source::DEFAULT_CONFIG, |(_, _, s)| *s),
        read_only: def.is_none_or(|d| d.mode == Mode::ReadOnly)
            && !is_dynamic_custom(name, dynamic),
        sensitive,
        synonyms,
        ty,
        doc: def.map(|d| d.doc),
    }
}

/// A custom key (not a Kafka config) set dynamically can be changed dynamically again.
fn is_dynamic_custom(name: &str, dynamic: &DynamicConfigs) -> bool {
    catalogue::find(name).is_none()
        && (dynamic.broker.contains_key(name) || dynamic.cluster.contains_key(name))
}

/// Every config of this broker: the catalogue, plus any other key that is set.
pub fn broker_entries(static_config: &BrokerConfig, dynamic: &DynamicConfigs) -> Vec<Entry> {
    let mut names: BTreeSet<&str> = catalogue::BROKER_CONFIGS
        .iter()
        .filter(|d| d.mode != Mode::DynamicOnly)
        .map(|d| d.name)
        .collect();
    names.extend(static_config.overrides.keys().map(String::as_str));
    names.extend(dynamic.cluster.keys().map(String::as_str));
    names.extend(dynamic.broker.keys().map(String::as_str));
    names
        .into_iter()
        .map(|n| broker_entry(n, static_config, dynamic, true))
        .collect()
}

/// The cluster-wide dynamic defaults that are set (resource name "").
pub fn default_broker_entries(
    static_config: &BrokerConfig,
    dynamic: &DynamicConfigs,
) -> Vec<Entry> {
    dynamic
        .cluster
        .keys()
        .map(|n| broker_entry(n, static_config, dynamic, false))
        .collect()
}

fn encode(
    e: Entry,
    version: i16,
    request: &DescribeConfigsRequest,
) -> DescribeConfigsResourceResult {
    let synonyms = if request.include_synonyms {
        e.synonyms
            .iter()
            .map(|(n, v, s)| {
                DescribeConfigsSynonym::default()
                    .with_name(owned_str(n))
                    .with_value(v.as_deref().map(owned_str))
                    .with_source(*s)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut r = DescribeConfigsResourceResult::default()
        .with_name(owned_str(&e.name))
        .with_value(e.value.as_deref().map(owned_str))
        .with_read_only(e.read_only)
        .with_config_source(e.source)
        .with_is_sensitive(e.sensitive)
        .with_synonyms(synonyms);
    if version >= 3 {
        let doc = e.doc.filter(|_| request.include_documentation);
        r = r
            .with_config_type(e.ty.map_or(0, ConfigType::id))
            .with_documentation(doc.map(owned_str));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn topic_sources_and_synonyms_follow_kafka() {
        let static_config = BrokerConfig::from_map(map(&[("log.roll.hours", "2")])).unwrap();
        let dynamic = DynamicConfigs {
            cluster: map(&[("log.retention.ms", "5000")]),
            broker: BTreeMap::new(),
        };
        let entries = topic_entries(
            &map(&[("cleanup.policy", "compact, delete")]),
            &static_config,
            &dynamic,
        );
        assert_eq!(entries.len(), topic::TOPIC_CONFIGS.len());
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        let policy = get("cleanup.policy");
        assert_eq!(policy.value.as_deref(), Some("compact,delete"));
        assert_eq!(policy.source, source::DYNAMIC_TOPIC_CONFIG);
        assert_eq!(policy.synonyms.len(), 2, "{:?}", policy.synonyms);
        assert_eq!(policy.synonyms[1].0, "log.cleanup.policy");
        assert_eq!(policy.synonyms[1].2, source::DEFAULT_CONFIG);
        let retention = get("retention.ms");
        assert_eq!(retention.value.as_deref(), Some("5000"));
        assert_eq!(retention.source, source::DYNAMIC_DEFAULT_BROKER_CONFIG);
        let segment = get("segment.ms");
        assert_eq!(segment.value.as_deref(), Some("7200000"));
        // log.roll.hours is set, log.roll.ms is not: Kafka drops synonyms before log.roll.ms.
        assert_eq!(segment.source, source::DEFAULT_CONFIG);
        assert!(segment.synonyms.is_empty());
        let bytes = get("segment.bytes");
        assert_eq!(bytes.source, source::DEFAULT_CONFIG);
        assert_eq!(
            bytes.synonyms,
            vec![(
                "log.segment.bytes".to_string(),
                Some("1073741824".to_string()),
                source::DEFAULT_CONFIG
            )]
        );
        assert_eq!(
            get("min.cleanable.dirty.ratio").value.as_deref(),
            Some("0.5")
        );
        assert_eq!(get("retention.bytes").ty, Some(ConfigType::Long));
        assert_eq!(
            get("max.decompressed.message.bytes").synonyms,
            vec![(
                "max.decompressed.message.bytes".to_string(),
                Some("2147483639".to_string()),
                source::DEFAULT_CONFIG
            )]
        );
        assert!(get("remote.storage.enable").synonyms.is_empty());
    }

    #[test]
    fn doubles_read_as_java_prints_them() {
        for (v, java) in [
            ("1.7976931348623157E308", "1.7976931348623157E308"),
            ("0.5", "0.5"),
            ("2", "2.0"),
            ("1234567", "1234567.0"),
            ("10000000", "1.0E7"),
            ("0.001", "0.001"),
            ("0.0001", "1.0E-4"),
            ("-2.5e-5", "-2.5E-5"),
            ("0", "0.0"),
        ] {
            assert_eq!(display_value(ConfigType::Double, v), java, "{v}");
        }
    }

    #[test]
    fn broker_entries_report_sources_read_only_and_secrets() {
        let static_config = BrokerConfig::from_map(map(&[
            ("log.retention.hours", "24"),
            ("ssl.keystore.password", "secret"),
            ("vltava.group.max.count", "5"),
        ]))
        .unwrap();
        let dynamic = DynamicConfigs {
            cluster: map(&[("log.retention.ms", "1000")]),
            broker: map(&[("log.retention.ms", "2000"), ("custom.key", "x")]),
        };
        let entries = broker_entries(&static_config, &dynamic);
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        let ms = get("log.retention.ms");
        assert_eq!(ms.value.as_deref(), Some("2000"));
        assert_eq!(ms.source, source::DYNAMIC_BROKER_CONFIG);
        assert!(!ms.read_only);
        let names: Vec<i8> = ms.synonyms.iter().map(|s| s.2).collect();
        assert_eq!(
            names,
            vec![
                source::DYNAMIC_BROKER_CONFIG,
                source::DYNAMIC_DEFAULT_BROKER_CONFIG,
                source::STATIC_BROKER_CONFIG,
                source::DEFAULT_CONFIG
            ]
        );
        let hours = get("log.retention.hours");
        assert_eq!(hours.value.as_deref(), Some("24"));
        assert_eq!(hours.source, source::STATIC_BROKER_CONFIG);
        assert!(hours.read_only);
        let pw = get("ssl.keystore.password");
        assert!(pw.sensitive && pw.value.is_none());
        assert_eq!(pw.source, source::STATIC_BROKER_CONFIG);
        let custom = get("custom.key");
        assert!(custom.sensitive && !custom.read_only);
        assert_eq!(get("vltava.group.max.count").value.as_deref(), Some("5"));
        assert_eq!(get("log.retention.minutes").value, None);
        assert_eq!(get("max.connections").value.as_deref(), Some("10000"));
        // Resource "": only the cluster defaults, with only their dynamic-default synonym.
        let defaults = default_broker_entries(&static_config, &dynamic);
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0].value.as_deref(), Some("1000"));
        assert_eq!(defaults[0].source, source::DYNAMIC_DEFAULT_BROKER_CONFIG);
        assert_eq!(defaults[0].synonyms.len(), 1);
    }
}
