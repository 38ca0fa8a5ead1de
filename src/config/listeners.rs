//! Listeners as Kafka has them: `listeners`, `advertised.listeners`,
//! `listener.security.protocol.map`, and the per-listener `listener.name.<name>.` prefix.
//!
//! - `listeners=PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093,CLIENT://:9094`: each entry is
//!   `NAME://host:port`; names are unique, and each name's security protocol comes from
//!   `listener.security.protocol.map` (Kafka's default maps the four protocol names to
//!   themselves, so `PLAINTEXT://` and `SSL://` need no map).
//! - `advertised.listeners` is matched to listeners **by name**; a listener without an entry
//!   advertises its own address (`localhost` for a wildcard host). An advertised name that is
//!   not a listener is an error, as in Kafka.
//! - TLS settings are looked up first as `listener.name.<lower-cased name>.ssl.…`, then as the
//!   plain `ssl.…` key, as Kafka does.
//!
//! This module only parses and validates text. Reading key files and building the TLS
//! configuration happens in `net::tls`, at start-up.

use std::collections::BTreeMap;

use super::{ConfigError, Listener};

/// Kafka's default `listener.security.protocol.map`.
pub const DEFAULT_PROTOCOL_MAP: &str =
    "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT";

/// The security protocol of a listener (Kafka's `SecurityProtocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(text: &str) -> Option<SecurityProtocol> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// True when clients must authenticate with SASL before anything else is served.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    /// True when the listener's bytes travel inside TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// The TLS keys a listener may set (each also with the `listener.name.<name>.` prefix).
pub const SSL_KEYS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
    "ssl.principal.mapping.rules",
];

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// One listener's TLS settings, as text (files are read by `net::tls`). Secrets are never
/// printed: `Debug` shows only whether they are set.
#[derive(Clone, Default)]
pub struct SslSettings {
    /// Every `ssl.*` value that applies to this listener, prefix resolved.
    values: BTreeMap<&'static str, String>,
}

impl SslSettings {
    /// The value of `key` (one of [`SSL_KEYS`]) for this listener, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn client_auth(&self) -> ClientAuth {
        match self.get("ssl.client.auth").map(str::trim) {
            Some("required") => ClientAuth::Required,
            Some("requested") => ClientAuth::Requested,
            _ => ClientAuth::None,
        }
    }

    /// A comma-separated list setting, trimmed, empties dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl std::fmt::Debug for SslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            if is_secret(k) {
                m.entry(k, &"[hidden]");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

/// Keys whose values are secrets (Kafka's PASSWORD type): never logged, null in DescribeConfigs.
pub fn is_secret(key: &str) -> bool {
    matches!(
        key,
        "ssl.keystore.password"
            | "ssl.key.password"
            | "ssl.keystore.key"
            | "ssl.keystore.certificate.chain"
            | "ssl.truststore.password"
            | "ssl.truststore.certificates"
            | "sasl.jaas.config"
    ) || key.ends_with(".sasl.jaas.config")
}

/// One configured listener: where it binds, what it advertises, how it is secured.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// The listener name as written (`PLAINTEXT`, `SSL`, `CLIENT`, …), upper case.
    pub name: String,
    pub protocol: SecurityProtocol,
    /// The address to bind.
    pub bind: Listener,
    /// What clients that connect here are told to connect to (Metadata, FindCoordinator,
    /// DescribeCluster).
    pub advertised: Listener,
    /// TLS settings; empty for listeners without TLS.
    pub ssl: SslSettings,
    /// SASL settings; empty for listeners without SASL.
    pub sasl: SaslSettings,
}

/// If `key` is `listener.name.<name>.<rest>`, the listener name (lower case) and `<rest>`.
pub fn split_listener_prefix(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("listener.name.")?;
    let (name, base) = rest.split_once('.')?;
    (!name.is_empty() && !base.is_empty()).then_some((name, base))
}

/// Parses `listeners`, `advertised.listeners` and `listener.security.protocol.map` from the
/// explicitly set values (`listeners_text` already defaulted by the caller).
pub fn parse(
    listeners_text: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<ListenerConfig>, ConfigError> {
    let invalid = |key: &str, why: String| ConfigError::Invalid(key.into(), why);
    let map_text = overrides
        .get("listener.security.protocol.map")
        .filter(|v| !v.trim().is_empty())
        .map(String::as_str)
        .unwrap_or(DEFAULT_PROTOCOL_MAP);
    let mut protocol_of: BTreeMap<String, SecurityProtocol> = BTreeMap::new();
    for entry in map_text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, proto) = entry.split_once(':').ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                format!("{entry:?} is not NAME:PROTOCOL"),
            )
        })?;
        let proto = SecurityProtocol::parse(proto).ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                format!("unknown security protocol {proto:?}"),
            )
        })?;
        protocol_of.insert(name.trim().to_ascii_uppercase(), proto);
    }

    let mut out: Vec<ListenerConfig> = Vec::new();
    for text in listeners_text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let bind = Listener::parse(text)
            .map_err(|_| invalid("listeners", format!("{text:?} is not NAME://host:port")))?;
        let name = bind.name.to_ascii_uppercase();
        if out.iter().any(|l| l.name == name) {
            return Err(invalid(
                "listeners",
                format!("listener name {name} is used twice"),
            ));
        }
        if bind.port != 0 && out.iter().any(|l| l.bind.port == bind.port) {
            return Err(invalid(
                "listeners",
                format!("port {} is used by two listeners", bind.port),
            ));
        }
        let protocol = *protocol_of.get(&name).ok_or_else(|| {
            invalid(
                "listener.security.protocol.map",
                format!("no security protocol for listener {name}"),
            )
        })?;
        let mut advertised = bind.clone();
        if advertised.host.is_empty() || advertised.host == "0.0.0.0" || advertised.host == "::" {
            advertised.host = "localhost".into();
        }
        let ssl = if protocol.uses_tls() {
            ssl_settings(&name, overrides)
        } else {
            SslSettings::default()
        };
        let sasl = if protocol.uses_sasl() {
            sasl_settings(&name, overrides)?
        } else {
            SaslSettings::default()
        };
        out.push(ListenerConfig {
            name,
            protocol,
            bind,
            advertised,
            ssl,
            sasl,
        });
    }
    if out.is_empty() {
        return Err(invalid("listeners", "no listener".into()));
    }

    if let Some(text) = overrides
        .get("advertised.listeners")
        .filter(|v| !v.trim().is_empty())
    {
        let mut seen = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let adv = Listener::parse(entry).map_err(|_| {
                invalid(
                    "advertised.listeners",
                    format!("{entry:?} is not NAME://host:port"),
                )
            })?;
            let name = adv.name.to_ascii_uppercase();
            if seen.contains(&name) {
                return Err(invalid(
                    "advertised.listeners",
                    format!("listener name {name} is used twice"),
                ));
            }
            let Some(l) = out.iter_mut().find(|l| l.name == name) else {
                return Err(invalid(
                    "advertised.listeners",
                    format!("{name} is not one of the listeners ({listeners_text})"),
                ));
            };
            if adv.host.is_empty() || adv.host == "0.0.0.0" || adv.host == "::" {
                return Err(invalid(
                    "advertised.listeners",
                    format!("{entry:?}: cannot advertise a wildcard address"),
                ));
            }
            l.advertised = Listener {
                name: l.name.clone(),
                ..adv
            };
            seen.push(name);
        }
    }
    for l in &out {
        check_ssl(l)?;
    }
    Ok(out)
}

/// The TLS settings that apply to listener `name`: `listener.name.<name>.ssl.x` wins over
/// `ssl.x`.
fn ssl_settings(name: &str, overrides: &BTreeMap<String, String>) -> SslSettings {
    let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
    let mut values = BTreeMap::new();
    for key in SSL_KEYS {
        let value = overrides
            .get(&format!("{prefix}{key}"))
            .or_else(|| overrides.get(*key));
        if let Some(v) = value {
            values.insert(*key, v.clone());
        }
    }
    SslSettings { values }
}

/// The SASL mechanisms Vltava serves.
pub const SASL_MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// Kafka's login module for PLAIN.
const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";

/// One SASL listener's settings: the enabled mechanisms and the PLAIN users. Passwords are
/// never printed: `Debug` shows only the user names.
#[derive(Clone, Default)]
pub struct SaslSettings {
    /// `sasl.enabled.mechanisms`, upper case, in the order written (Kafka's default is GSSAPI;
    /// Vltava has no Kerberos and defaults to PLAIN).
    pub mechanisms: Vec<String>,
    /// PLAIN users (`user_<name>="<password>"` options of the PlainLoginModule).
    plain_users: BTreeMap<String, String>,
    /// How OAUTHBEARER tokens are validated, when OAUTHBEARER is enabled.
    pub oauthbearer: Option<super::oauth::OAuthValidation>,
    /// `connections.max.reauth.ms` per enabled mechanism (KIP-368), where set:
    /// `listener.name.<l>.<mechanism>.connections.max.reauth.ms`, then the listener's, then
    /// the broker's key.
    reauth_max_ms: BTreeMap<String, u64>,
}

impl SaslSettings {
    /// The password configured for a PLAIN user.
    pub fn plain_password(&self, user: &str) -> Option<&str> {
        self.plain_users.get(user).map(String::as_str)
    }

    /// `connections.max.reauth.ms` for `mechanism`, if set to a positive value.
    pub fn reauth_max_ms(&self, mechanism: &str) -> Option<u64> {
        self.reauth_max_ms
            .get(mechanism)
            .copied()
            .filter(|ms| *ms > 0)
    }
}

impl std::fmt::Debug for SaslSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslSettings")
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field("oauthbearer", &self.oauthbearer)
            .field("reauth_max_ms", &self.reauth_max_ms)
            .finish()
    }
}

/// The SASL settings of listener `name`: `listener.name.<name>.sasl.enabled.mechanisms` over
/// `sasl.enabled.mechanisms`; for PLAIN, `listener.name.<name>.plain.sasl.jaas.config` over
/// `sasl.jaas.config` (Kafka brokers read the prefixed key or a JAAS file; the plain key is
/// accepted too, for one-listener set-ups).
fn sasl_settings(
    name: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<SaslSettings, ConfigError> {
    let prefix = format!("listener.name.{}.", name.to_ascii_lowercase());
    let lookup = |key: &str| -> Option<(String, &String)> {
        let prefixed = format!("{prefix}{key}");
        if let Some(v) = overrides.get(&prefixed).filter(|v| !v.trim().is_empty()) {
            return Some((prefixed, v));
        }
        overrides
            .get(key)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (key.to_string(), v))
    };
    let mechanisms: Vec<String> = match lookup("sasl.enabled.mechanisms") {
        Some((_, v)) => v
            .split(',')
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
            .collect(),
        None => vec!["PLAIN".to_string()],
    };
    if mechanisms.is_empty() {
        return Err(ConfigError::Invalid(
            format!("{prefix}sasl.enabled.mechanisms"),
            format!("listener {name} uses SASL but enables no mechanism"),
        ));
    }
    for m in &mechanisms {
        if !SASL_MECHANISMS.contains(&m.as_str()) {
            return Err(ConfigError::Invalid(
                format!("{prefix}sasl.enabled.mechanisms"),
                format!(
                    "SASL mechanism {m} is not supported (supported: {})",
                    SASL_MECHANISMS.join(", ")
                ),
            ));
        }
    }
    let mut plain_users = BTreeMap::new();
    if mechanisms.iter().any(|m| m == "PLAIN") {
        let Some((key, text)) =
            lookup("plain.sasl.jaas.config").or_else(|| lookup("sasl.jaas.config"))
        else {
            return Err(ConfigError::Invalid(
                format!("{prefix}plain.sasl.jaas.config"),
                format!(
                    "listener {name} enables PLAIN but has no JAAS config with the \
                     {PLAIN_LOGIN_MODULE}"
                ),
            ));
        };
        let modules = super::jaas::parse(text)
            .map_err(|e| ConfigError::Invalid(key.clone(), e.to_string()))?;
        let Some(plain) = modules.iter().find(|m| m.class == PLAIN_LOGIN_MODULE) else {
            return Err(ConfigError::Invalid(
                key,
                format!("no {PLAIN_LOGIN_MODULE} for PLAIN on listener {name}"),
            ));
        };
        for (option, value) in &plain.options {
            if let Some(user) = option.strip_prefix("user_") {
                plain_users.insert(user.to_string(), value.clone());
            }
        }
    }
    let oauthbearer = if mechanisms.iter().any(|m| m == "OAUTHBEARER") {
        let owned = |key: &str| lookup(key).map(|(k, v)| (k, v.clone()));
        Some(super::oauth::settings(name, &owned)?)
    } else {
        None
    };
    let mut reauth_max_ms = BTreeMap::new();
    for m in &mechanisms {
        let key = "connections.max.reauth.ms";
        let found = lookup(&format!("{}.{key}", m.to_ascii_lowercase())).or_else(|| lookup(key));
        if let Some((k, v)) = found {
            let ms = v
                .trim()
                .parse::<i64>()
                .map_err(|_| ConfigError::Invalid(k, v.clone()))?;
            reauth_max_ms.insert(m.clone(), ms.max(0) as u64);
        }
    }
    Ok(SaslSettings {
        mechanisms,
        plain_users,
        oauthbearer,
        reauth_max_ms,
    })
}

/// What can be checked without reading files.
fn check_ssl(l: &ListenerConfig) -> Result<(), ConfigError> {
    if !l.protocol.uses_tls() {
        return Ok(());
    }
    let key = |k: &str| format!("listener.name.{}.{k}", l.name.to_ascii_lowercase());
    let bad = |k: &str, v: &str| ConfigError::Invalid(key(k), v.to_string());
    if let Some(v) = l.ssl.get("ssl.client.auth")
        && !matches!(v.trim(), "none" | "requested" | "required")
    {
        return Err(bad("ssl.client.auth", v));
    }
    for p in l.ssl.list("ssl.enabled.protocols") {
        if !matches!(
            p.as_str(),
            "TLSv1.2" | "TLSv1.3" | "TLSv1.1" | "TLSv1" | "SSLv3"
        ) {
            return Err(bad("ssl.enabled.protocols", &p));
        }
    }
    if let Some(t) = l.ssl.get("ssl.keystore.type")
        && !matches!(
            t.trim().to_ascii_uppercase().as_str(),
            "PEM" | "PKCS12" | "JKS"
        )
    {
        return Err(bad("ssl.keystore.type", t));
    }
    if let Some(t) = l.ssl.get("ssl.truststore.type")
        && !matches!(
            t.trim().to_ascii_uppercase().as_str(),
            "PEM" | "PKCS12" | "JKS"
        )
    {
        return Err(bad("ssl.truststore.type", t));
    }
    let has_file = l.ssl.get("ssl.keystore.location").is_some();
    let has_inline = l.ssl.get("ssl.keystore.certificate.chain").is_some()
        || l.ssl.get("ssl.keystore.key").is_some();
    if !has_file && !has_inline {
        return Err(ConfigError::Invalid(
            key("ssl.keystore.location"),
            format!(
                "listener {} ({}) needs a key store: ssl.keystore.location, or \
                 ssl.keystore.certificate.chain and ssl.keystore.key",
                l.name,
                l.protocol.name()
            ),
        ));
    }
    if has_file && has_inline {
        return Err(ConfigError::Invalid(
            key("ssl.keystore.location"),
            "set either ssl.keystore.location or the PEM-in-config keys, not both".into(),
        ));
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
    fn prefix_splits_name_and_key() {
        assert_eq!(
            split_listener_prefix("listener.name.client.ssl.keystore.location"),
            Some(("client", "ssl.keystore.location"))
        );
        assert_eq!(
            split_listener_prefix("listener.security.protocol.map"),
            None
        );
    }

    #[test]
    fn secrets_are_hidden_in_debug() {
        let m = map(&[
            ("ssl.keystore.location", "/k.pem"),
            ("ssl.keystore.password", "hunter2"),
        ]);
        let l = parse("SSL://127.0.0.1:0", &m).unwrap();
        let text = format!("{:?}", l[0]);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("/k.pem"), "{text}");
    }
}
