//! Dynamic broker configs: the settings AlterConfigs / IncrementalAlterConfigs change on a
//! running broker, layered over the static ones as Kafka layers them.
//!
//! Precedence, highest first (Kafka's `DynamicBrokerConfig`): per-broker dynamic
//! (`DYNAMIC_BROKER_CONFIG`, resource name = this node's id), cluster-wide dynamic default
//! (`DYNAMIC_DEFAULT_BROKER_CONFIG`, resource name ""), static (`STATIC_BROKER_CONFIG`: file,
//! environment, flags), Kafka's default (`DEFAULT_CONFIG`).
//!
//! Both dynamic maps are journaled as whole-map `MetadataRecord::BrokerConfigs` records before
//! they change, so they survive restarts. The *effective* broker config is the static
//! `BrokerConfig` with its `overrides` map extended by the dynamic values; topic configs resolve
//! their broker synonyms from it (`topic::effective`).

use std::collections::BTreeMap;

use crate::config::BrokerConfig;
use crate::config::catalogue::{self, Mode};

/// DescribeConfigs' `config_source` values.
pub mod source {
    pub const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    pub const DYNAMIC_BROKER_CONFIG: i8 = 2;
    pub const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// Most dynamic configs per level (Kafka's catalogue has about 80 dynamic ones; custom keys are
/// accepted as Kafka does, up to this bound).
pub const MAX_DYNAMIC_CONFIGS: usize = 512;

/// The two dynamic layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicConfigs {
    /// Cluster-wide defaults (resource name "").
    pub cluster: BTreeMap<String, String>,
    /// This broker's own (resource name = its node id).
    pub broker: BTreeMap<String, String>,
}

impl DynamicConfigs {
    /// The static config with the dynamic values layered over its `overrides`.
    pub fn effective(&self, static_config: &BrokerConfig) -> BrokerConfig {
        let mut merged = static_config.overrides.clone();
        merged.extend(self.cluster.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged.extend(self.broker.iter().map(|(k, v)| (k.clone(), v.clone())));
        BrokerConfig {
            overrides: merged,
            ..static_config.clone()
        }
    }

    /// Every value set for `name`, highest precedence first, with its `config_source`
    /// (Kafka's `configSynonyms` for one name; the default included).
    pub fn layers(&self, static_config: &BrokerConfig, name: &str) -> Vec<(String, i8)> {
        let mut out = Vec::new();
        if let Some(v) = self.broker.get(name) {
            out.push((v.clone(), source::DYNAMIC_BROKER_CONFIG));
        }
        if let Some(v) = self.cluster.get(name) {
            out.push((v.clone(), source::DYNAMIC_DEFAULT_BROKER_CONFIG));
        }
        if let Some(v) = static_config.overrides.get(name) {
            out.push((v.clone(), source::STATIC_BROKER_CONFIG));
        }
        if let Some(v) = catalogue::default_of(name) {
            out.push((v, source::DEFAULT_CONFIG));
        }
        out
    }
}

/// Kafka's `DynamicBrokerConfig.validateConfigs` for one AlterConfigs resource: every name must
/// be changeable at run time (unknown names are accepted as custom settings, as Kafka does),
/// per-broker configs need a broker id, and values must parse. The error is Kafka's message;
/// the caller answers INVALID_REQUEST with it.
pub fn validate_broker_configs(
    configs: &BTreeMap<String, String>,
    per_broker: bool,
) -> Result<(), String> {
    // Bounds Kafka does not have: these maps are journaled whole and kept in memory.
    if configs.len() > MAX_DYNAMIC_CONFIGS {
        return Err(format!(
            "At most {MAX_DYNAMIC_CONFIGS} dynamic configs can be set per resource"
        ));
    }
    if let Some((k, _)) = configs
        .iter()
        .find(|(k, v)| k.len() + v.len() > crate::config::topic::MAX_CONFIG_VALUE_BYTES)
    {
        return Err(format!("Invalid value for configuration {k}: too long"));
    }
    let read_only: Vec<&str> = configs
        .keys()
        .filter(|k| catalogue::find(k).is_some_and(|d| d.mode == Mode::ReadOnly))
        .map(String::as_str)
        .collect();
    if !read_only.is_empty() {
        return Err(format!(
            "Cannot update these configs dynamically: Set({})",
            read_only.join(", ")
        ));
    }
    if !per_broker {
        let broker_only: Vec<&str> = configs
            .keys()
            .filter(|k| catalogue::find(k).is_some_and(|d| d.mode == Mode::PerBroker))
            .map(String::as_str)
            .collect();
        if !broker_only.is_empty() {
            return Err(format!(
                "Cannot update these configs at default cluster level, broker id must be specified: Set({})",
                broker_only.join(", ")
            ));
        }
    }
    for (k, v) in configs {
        let Some(d) = catalogue::find(k) else {
            continue;
        };
        d.ty.check(k, v)?;
        // Broker synonyms of topic configs obey the topic config's rules.
        if let Some(t) = crate::config::topic::TOPIC_CONFIGS
            .iter()
            .find(|t| t.broker_synonym == Some(k.as_str()))
        {
            t.check(v)?;
        }
    }
    Ok(())
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
    fn layers_follow_kafka_precedence() {
        let static_config = BrokerConfig::from_map(map(&[("log.retention.ms", "100")])).unwrap();
        let d = DynamicConfigs {
            cluster: map(&[("log.retention.ms", "200"), ("log.cleaner.backoff.ms", "5")]),
            broker: map(&[("log.retention.ms", "300")]),
        };
        let e = d.effective(&static_config);
        assert_eq!(e.overrides["log.retention.ms"], "300");
        assert_eq!(e.overrides["log.cleaner.backoff.ms"], "5");
        let layers = d.layers(&static_config, "log.retention.ms");
        assert_eq!(
            layers,
            vec![
                ("300".to_string(), source::DYNAMIC_BROKER_CONFIG),
                ("200".to_string(), source::DYNAMIC_DEFAULT_BROKER_CONFIG),
                ("100".to_string(), source::STATIC_BROKER_CONFIG),
            ]
        );
        assert_eq!(
            d.layers(&static_config, "log.retention.hours"),
            vec![("168".to_string(), source::DEFAULT_CONFIG)]
        );
    }

    #[test]
    fn static_settings_are_checked_at_start() {
        for (k, v) in [
            ("log.retention.ms", "soon"),
            ("log.segment.bytes", "100"),
            ("log.cleaner.backoff.ms", "x"),
            ("log.cleanup.policy", "shred"),
            ("delete.topic.enable", "perhaps"),
        ] {
            assert!(BrokerConfig::from_map(map(&[(k, v)])).is_err(), "{k}={v}");
        }
        assert!(BrokerConfig::from_map(map(&[("log.retention.ms", "-1")])).is_ok());
        assert!(BrokerConfig::from_map(map(&[("log.roll.ms", "")])).is_ok());
    }

    #[test]
    fn broker_config_changes_are_checked() {
        assert!(validate_broker_configs(&map(&[("log.retention.ms", "1000")]), false).is_ok());
        assert!(validate_broker_configs(&map(&[("my.custom.setting", "x")]), false).is_ok());
        let e = validate_broker_configs(&map(&[("log.retention.hours", "1")]), true).unwrap_err();
        assert!(e.contains("Cannot update these configs dynamically"), "{e}");
        let e =
            validate_broker_configs(&map(&[("ssl.keystore.type", "PKCS12")]), false).unwrap_err();
        assert!(e.contains("broker id must be specified"), "{e}");
        assert!(validate_broker_configs(&map(&[("log.retention.ms", "soon")]), false).is_err());
        assert!(validate_broker_configs(&map(&[("log.segment.bytes", "10")]), false).is_err());
        assert!(validate_broker_configs(&map(&[("log.cleanup.policy", "compact")]), false).is_ok());
        let long = "x".repeat(40_000);
        assert!(validate_broker_configs(&map(&[("custom", long.as_str())]), false).is_err());
        let many: BTreeMap<String, String> = (0..=MAX_DYNAMIC_CONFIGS)
            .map(|i| (format!("custom.{i}"), "1".to_string()))
            .collect();
        assert!(validate_broker_configs(&many, false).is_err());
    }
}
