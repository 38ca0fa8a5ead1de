//! Client quota configs: which (user, client-id) entities have which quotas, as Kafka's
//! `ClientQuotasImage` holds them, with the checks of its controller
//! (`ClientQuotaControlManager`), the filters of DescribeClientQuotas and the resolution of
//! `ClientQuotaManager`'s default callback (which configured entity governs a request).
//!
//! Quotas change only through `MetadataRecord::ClientQuota` (one key of one entity set or
//! removed, Kafka's `ClientQuotaRecord`), applied by `MetadataImage::apply`.
//!
//! Entity types are Kafka's `user` and `client-id`, alone or together, each named or the
//! default (a null name). Kafka's `ip` entities (`connection_creation_rate`) are not supported:
//! altering one is refused with INVALID_REQUEST; describing by `ip` matches nothing.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;

pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

/// DescribeClientQuotas match types.
pub const MATCH_EXACT: i8 = 0;
pub const MATCH_DEFAULT: i8 = 1;
pub const MATCH_SPECIFIED: i8 = 2;

/// One part of an entity: a named user or client id, or the default one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityName {
    Default,
    Named(String),
}

impl EntityName {
    /// Kafka's wire form: the default is a null name.
    pub fn from_wire(name: Option<&str>) -> EntityName {
        match name {
            None => EntityName::Default,
            Some(n) => EntityName::Named(n.to_string()),
        }
    }

    pub fn as_wire(&self) -> Option<&str> {
        match self {
            EntityName::Default => None,
            EntityName::Named(n) => Some(n),
        }
    }
}

/// A quota entity: a user, a client id, or both (never neither).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuotaEntity {
    pub user: Option<EntityName>,
    pub client_id: Option<EntityName>,
}

impl QuotaEntity {
    /// (entity type, name) pairs, as the wire carries them.
    pub fn parts(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut out = Vec::with_capacity(2);
        if let Some(u) = &self.user {
            out.push((USER, u.as_wire()));
        }
        if let Some(c) = &self.client_id {
            out.push((CLIENT_ID, c.as_wire()));
        }
        out
    }
}

/// The quota keys of user and client-id entities (Kafka's `QuotaConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKey {
    ProducerByteRate,
    ConsumerByteRate,
    RequestPercentage,
    ControllerMutationRate,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 4] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
        QuotaKey::ControllerMutationRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
            QuotaKey::ControllerMutationRate => "controller_mutation_rate",
        }
    }

    pub fn parse(name: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The byte rates are Kafka LONG configs (whole numbers); the others DOUBLE.
    fn is_integral(self) -> bool {
        matches!(
            self,
            QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate
        )
    }
}

/// Every configured quota, by entity and key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientQuotas {
    entities: BTreeMap<QuotaEntity, BTreeMap<String, f64>>,
}

/// A refused alteration or filter: Kafka's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaError {
    pub code: ResponseError,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> QuotaError {
    QuotaError {
        code: ResponseError::InvalidRequest,
        message: message.into(),
    }
}

/// An entity and its quotas, as DescribeClientQuotas lists them.
pub type QuotaEntry<'a> = (&'a QuotaEntity, &'a BTreeMap<String, f64>);

/// One DescribeClientQuotas filter component.
#[derive(Debug, Clone)]
pub struct FilterComponent {
    pub entity_type: String,
    pub match_type: i8,
    pub name: Option<String>,
}

impl ClientQuotas {
    /// Sets (`Some`) or removes (`None`) one key of one entity (replaying a record).
    pub fn apply(&mut self, entity: &QuotaEntity, key: &str, value: Option<f64>) {
        match value {
            Some(v) => {
                self.entities
                    .entry(entity.clone())
                    .or_default()
                    .insert(key.to_string(), v);
            }
            None => {
                if let Some(values) = self.entities.get_mut(entity) {
                    values.remove(key);
                    if values.is_empty() {
                        self.entities.remove(entity);
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Whether any entity has a quota for `key`.
    pub fn has_key(&self, key: QuotaKey) -> bool {
        self.entities.values().any(|v| v.contains_key(key.name()))
    }

    /// The quotas set on one entity.
    pub fn values(&self, entity: &QuotaEntity) -> Option<&BTreeMap<String, f64>> {
        self.entities.get(entity)
    }

    fn get(
        &self,
        key: QuotaKey,
        user: Option<EntityName>,
        client: Option<EntityName>,
    ) -> Option<f64> {
        let entity = QuotaEntity {
            user,
            client_id: client,
        };
        self.entities.get(&entity)?.get(key.name()).copied()
    }

    fn has(&self, key: QuotaKey, user: Option<EntityName>, client: Option<EntityName>) -> bool {
        self.get(key, user, client).is_some()
    }

    /// The sensor a request of (`user`, `client_id`) records into for `key`, as the metric
    /// tags of Kafka's default quota callback: `(user tag, client-id tag)`, either possibly
    /// empty. Requests with the same tags share one rate (for example every client of a user
    /// whose quota is set on the user alone).
    pub fn metric_tags(&self, key: QuotaKey, user: &str, client_id: &str) -> (String, String) {
        let (mut has_user, mut has_client, mut has_both) = (false, false, false);
        for (entity, values) in &self.entities {
            if values.contains_key(key.name()) {
                match (&entity.user, &entity.client_id) {
                    (Some(_), Some(_)) => has_both = true,
                    (Some(_), None) => has_user = true,
                    _ => has_client = true,
                }
            }
        }
        let u = || Some(EntityName::Named(user.to_string()));
        let c = || Some(EntityName::Named(client_id.to_string()));
        let d = || Some(EntityName::Default);
        let both = (user.to_string(), client_id.to_string());
        let user_only = (user.to_string(), String::new());
        let client_only = (String::new(), client_id.to_string());
        match (has_both, has_user, has_client) {
            (false, false, _) => client_only,
            (false, true, false) => user_only,
            (true, false, false) => both,
            // Several kinds of entity are configured: Kafka's precedence decides.
            _ => {
                if self.has(key, u(), c()) || self.has(key, u(), d()) {
                    both
                } else if self.has(key, u(), None) {
                    user_only
                } else if self.has(key, d(), c()) || self.has(key, d(), d()) {
                    both
                } else if self.has(key, d(), None) {
                    user_only
                } else {
                    client_only
                }
            }
        }
    }

    /// The quota of a sensor with these tags (Kafka's `DefaultQuotaCallback.quotaLimit`): the
    /// most specific configured entity, in Kafka's order — user+client-id, user+default
    /// client-id, default user+client-id, default user+default client-id; user, default user;
    /// client-id, default client-id.
    pub fn limit(&self, key: QuotaKey, tags: &(String, String)) -> Option<f64> {
        let (user, client) = tags;
        let u = || Some(EntityName::Named(user.clone()));
        let c = || Some(EntityName::Named(client.clone()));
        let d = || Some(EntityName::Default);
        if !user.is_empty() && !client.is_empty() {
            self.get(key, u(), c())
                .or_else(|| self.get(key, u(), d()))
                .or_else(|| self.get(key, d(), c()))
                .or_else(|| self.get(key, d(), d()))
        } else if !user.is_empty() {
            self.get(key, u(), None)
                .or_else(|| self.get(key, d(), None))
        } else if !client.is_empty() {
            self.get(key, None, c())
                .or_else(|| self.get(key, None, d()))
        } else {
            None
        }
    }

    /// DescribeClientQuotas (Kafka's `ClientQuotasImage.describe`): the entities matching
    /// every component — EXACT a name, DEFAULT the default, SPECIFIED any — and with `strict`
    /// no entity types beyond the components'.
    pub fn describe(
        &self,
        components: &[FilterComponent],
        strict: bool,
    ) -> Result<Vec<QuotaEntry<'_>>, QuotaError> {
        let mut exact: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        let mut specified: Vec<&str> = Vec::new();
        for c in components {
            let t = c.entity_type.as_str();
            if t.is_empty() {
                return Err(invalid("Invalid empty entity type."));
            }
            if exact.contains_key(t) || specified.contains(&t) {
                return Err(invalid(format!(
                    "Entity type {t} cannot appear more than once in the filter."
                )));
            }
            if ![IP, USER, CLIENT_ID].contains(&t) {
                return Err(QuotaError {
                    code: ResponseError::UnsupportedVersion,
                    message: format!("Unsupported entity type {t}"),
                });
            }
            match (c.match_type, &c.name) {
                (MATCH_EXACT, None) => {
                    return Err(invalid(
                        "Request specified MATCH_TYPE_EXACT, but set match string to null.",
                    ));
                }
                (MATCH_EXACT, Some(n)) => {
                    exact.insert(t, Some(n.as_str()));
                }
                (MATCH_DEFAULT, Some(_)) => {
                    return Err(invalid(
                        "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.",
                    ));
                }
                (MATCH_DEFAULT, None) => {
                    exact.insert(t, None);
                }
                (MATCH_SPECIFIED, Some(_)) => {
                    return Err(invalid(
                        "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.",
                    ));
                }
                (MATCH_SPECIFIED, None) => specified.push(t),
                (other, _) => return Err(invalid(format!("Unknown match type {other}"))),
            }
        }
        let uses = |t: &str| exact.contains_key(t) || specified.contains(&t);
        if uses(IP) && (uses(USER) || uses(CLIENT_ID)) {
            return Err(invalid(
                "Invalid entity filter component combination. IP filter component should not \
                 be used with user or clientId filter component.",
            ));
        }
        let matches = |entity: &QuotaEntity| {
            let parts = entity.parts();
            if strict && parts.len() != exact.len() + specified.len() {
                return false;
            }
            let name_of = |t: &str| parts.iter().find(|(pt, _)| *pt == t).map(|(_, n)| *n);
            exact.iter().all(|(t, want)| name_of(t) == Some(*want))
                && specified.iter().all(|t| name_of(t).is_some())
        };
        Ok(self.entities.iter().filter(|(e, _)| matches(e)).collect())
    }
}

/// An entity as an AlterClientQuotas entry names it, checked (Kafka's `validateEntity` and
/// `configKeysForEntityType`).
pub fn validate_entity(parts: &[(&str, Option<&str>)]) -> Result<QuotaEntity, QuotaError> {
    if parts.is_empty() {
        return Err(invalid("Invalid empty client quota entity"));
    }
    let mut entity = QuotaEntity {
        user: None,
        client_id: None,
    };
    let mut has_ip = false;
    for (t, name) in parts {
        let slot = match *t {
            USER => &mut entity.user,
            CLIENT_ID => &mut entity.client_id,
            IP => {
                has_ip = true;
                continue;
            }
            other => {
                return Err(invalid(format!(
                    "Unhandled client quota entity type: {other}"
                )));
            }
        };
        if slot.is_some() {
            return Err(invalid(format!(
                "Invalid client quota entity, duplicate entity entry {t}"
            )));
        }
        if name.is_some_and(str::is_empty) {
            return Err(invalid(format!("Empty {t} not supported")));
        }
        *slot = Some(EntityName::from_wire(*name));
    }
    if has_ip {
        if entity.user.is_some() || entity.client_id.is_some() {
            // Kafka's message, missing space included.
            return Err(invalid(
                "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId",
            ));
        }
        return Err(invalid(
            "IP quota entities (connection_creation_rate) are not supported by this broker",
        ));
    }
    Ok(entity)
}

/// A quota value to set, checked (Kafka's `validateQuotaKeyValue`).
pub fn validate_value(key: &str, value: f64) -> Result<(), QuotaError> {
    let Some(k) = QuotaKey::parse(key) else {
        return Err(invalid(format!("Invalid configuration key {key}")));
    };
    if value.is_nan() || value <= 0.0 {
        return Err(invalid(format!("Quota {key} must be greater than 0")));
    }
    if k.is_integral() {
        if value > i64::MAX as f64 {
            return Err(invalid(format!(
                "Proposed value for {key} is too large for a LONG."
            )));
        }
        if (value % 1.0).abs() > 1e-6 {
            return Err(invalid(format!("{key} cannot be a fractional value.")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> Option<EntityName> {
        Some(EntityName::Named(n.into()))
    }

    fn entity(user: Option<EntityName>, client_id: Option<EntityName>) -> QuotaEntity {
        QuotaEntity { user, client_id }
    }

    const P: QuotaKey = QuotaKey::ProducerByteRate;

    fn resolve(q: &ClientQuotas, user: &str, client: &str) -> Option<f64> {
        q.limit(P, &q.metric_tags(P, user, client))
    }

    /// Kafka's eight levels, most specific first: removing each level in turn exposes the next.
    #[test]
    fn precedence_follows_kafka() {
        let d = || Some(EntityName::Default);
        let levels = [
            (entity(named("alice"), named("app")), 1.0),
            (entity(named("alice"), d()), 2.0),
            (entity(named("alice"), None), 3.0),
            (entity(d(), named("app")), 4.0),
            (entity(d(), d()), 5.0),
            (entity(d(), None), 6.0),
            (entity(None, named("app")), 7.0),
            (entity(None, d()), 8.0),
        ];
        let mut q = ClientQuotas::default();
        for (e, v) in &levels {
            q.apply(e, P.name(), Some(*v));
        }
        for (e, v) in &levels {
            assert_eq!(resolve(&q, "alice", "app"), Some(*v), "{e:?}");
            q.apply(e, P.name(), None);
        }
        assert_eq!(resolve(&q, "alice", "app"), None);
        assert!(q.is_empty());
    }

    #[test]
    fn sensors_are_shared_at_the_level_that_applies() {
        let mut q = ClientQuotas::default();
        q.apply(&entity(named("alice"), None), P.name(), Some(100.0));
        // Only user quotas: every client of alice shares one sensor.
        assert_eq!(q.metric_tags(P, "alice", "a"), ("alice".into(), "".into()));
        assert_eq!(resolve(&q, "alice", "b"), Some(100.0));
        assert_eq!(resolve(&q, "bob", "b"), None);
        // A default client-id quota too: clients of others get a sensor each.
        q.apply(
            &entity(None, Some(EntityName::Default)),
            P.name(),
            Some(50.0),
        );
        assert_eq!(q.metric_tags(P, "bob", "b"), ("".into(), "b".into()));
        assert_eq!(resolve(&q, "bob", "b"), Some(50.0));
        assert_eq!(resolve(&q, "alice", "b"), Some(100.0));
        // Another key is unaffected.
        assert_eq!(
            q.limit(
                QuotaKey::ConsumerByteRate,
                &q.metric_tags(QuotaKey::ConsumerByteRate, "alice", "a")
            ),
            None
        );
        assert!(q.has_key(P) && !q.has_key(QuotaKey::RequestPercentage));
    }

    #[test]
    fn alterations_are_checked_like_kafka() {
        assert_eq!(
            validate_entity(&[]).unwrap_err().message,
            "Invalid empty client quota entity"
        );
        assert_eq!(
            validate_entity(&[("group", Some("x"))])
                .unwrap_err()
                .message,
            "Unhandled client quota entity type: group"
        );
        assert_eq!(
            validate_entity(&[(USER, Some(""))]).unwrap_err().message,
            "Empty user not supported"
        );
        assert_eq!(
            validate_entity(&[(USER, None), (CLIENT_ID, Some("c"))]).unwrap(),
            entity(Some(EntityName::Default), named("c"))
        );
        assert!(validate_entity(&[(IP, Some("1.2.3.4")), (USER, Some("u"))]).is_err());
        assert_eq!(
            validate_value("producer_byte_rate", 1.5)
                .unwrap_err()
                .message,
            "producer_byte_rate cannot be a fractional value."
        );
        assert_eq!(
            validate_value("request_percentage", 0.0)
                .unwrap_err()
                .message,
            "Quota request_percentage must be greater than 0"
        );
        assert_eq!(
            validate_value("nope", 1.0).unwrap_err().message,
            "Invalid configuration key nope"
        );
        assert!(validate_value("request_percentage", 12.5).is_ok());
    }

    #[test]
    fn describe_filters_like_kafka() {
        let mut q = ClientQuotas::default();
        let alice_app = entity(named("alice"), named("app"));
        let alice = entity(named("alice"), None);
        let default_client = entity(None, Some(EntityName::Default));
        for e in [&alice_app, &alice, &default_client] {
            q.apply(e, P.name(), Some(10.0));
        }
        let comp = |t: &str, m: i8, n: Option<&str>| FilterComponent {
            entity_type: t.into(),
            match_type: m,
            name: n.map(String::from),
        };
        let found = |c: &[FilterComponent], strict: bool| -> Vec<QuotaEntity> {
            q.describe(c, strict)
                .unwrap()
                .into_iter()
                .map(|(e, _)| e.clone())
                .collect()
        };
        assert_eq!(found(&[], false).len(), 3);
        assert!(found(&[], true).is_empty());
        let user_alice = [comp(USER, MATCH_EXACT, Some("alice"))];
        assert_eq!(
            found(&user_alice, false),
            vec![alice.clone(), alice_app.clone()]
        );
        assert_eq!(found(&user_alice, true), vec![alice]);
        assert_eq!(
            found(&[comp(CLIENT_ID, MATCH_DEFAULT, None)], false),
            vec![default_client]
        );
        assert_eq!(
            found(&[comp(CLIENT_ID, MATCH_SPECIFIED, None)], false).len(),
            2
        );
        let err = |c: &[FilterComponent]| q.describe(c, false).unwrap_err();
        assert_eq!(
            err(&[comp("group", MATCH_SPECIFIED, None)]).code,
            ResponseError::UnsupportedVersion
        );
        assert_eq!(
            err(&[comp(USER, MATCH_EXACT, None)]).message,
            "Request specified MATCH_TYPE_EXACT, but set match string to null."
        );
        assert_eq!(err(&[comp(USER, 7, None)]).message, "Unknown match type 7");
        assert_eq!(
            err(&[
                comp(USER, MATCH_SPECIFIED, None),
                comp(USER, MATCH_DEFAULT, None)
            ])
            .message,
            "Entity type user cannot appear more than once in the filter."
        );
        assert_eq!(
            err(&[
                comp(IP, MATCH_SPECIFIED, None),
                comp(USER, MATCH_DEFAULT, None)
            ])
            .code,
            ResponseError::InvalidRequest
        );
    }
}
