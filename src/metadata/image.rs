//! The metadata image: what the records say exists, built by applying them one at a time.
//!
//! `apply` is the only way the image changes, and the same `apply` serves start-up replay and
//! live changes (Kafka's `MetadataImage` + `MetadataDelta`). It is pure — no files, no clock —
//! and returns the [`Change`] it made, which the metadata owner turns into partition logs,
//! configs and notifications.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use uuid::Uuid;

use super::acls::AclIndex;
use super::quotas::ClientQuotas;
use super::records::MetadataRecord;
use super::scram::{ScramCredential, ScramMechanism};
use crate::config::dynamic::DynamicConfigs;

/// One topic as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    /// Config overrides set on the topic.
    pub configs: BTreeMap<String, String>,
}

/// What applying one record changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    TopicCreated(TopicImage),
    /// A topic was removed (deleted, or replaced by a new incarnation of its name).
    TopicRemoved(TopicImage),
    PartitionsAdded {
        topic: TopicImage,
        from: i32,
    },
    TopicConfigsChanged(TopicImage),
    /// The dynamic configs of the cluster or of some broker were replaced.
    BrokerConfigsChanged,
    ProducerIdsReserved {
        up_to: i64,
    },
    /// A SCRAM credential was set or removed.
    ScramCredentialsChanged,
    /// An ACL was added or removed.
    AclsChanged,
    /// A client quota was set or removed.
    ClientQuotasChanged,
    /// The record named something the image does not hold (nothing changed).
    Ignored,
}

#[derive(Debug, Clone, Default)]
pub struct MetadataImage {
    topics: BTreeMap<Uuid, TopicImage>,
    by_name: BTreeMap<String, Uuid>,
    /// Ids of deleted topics: their leftover directories may be removed (`log::dirs`).
    removed: HashSet<Uuid>,
    /// Producer ids below this have been handed out (reserved in blocks).
    producer_ids_reserved: i64,
    cluster_configs: BTreeMap<String, String>,
    broker_configs: BTreeMap<i32, BTreeMap<String, String>>,
    scram: ScramCredentials,
    /// Every ACL, shared copy-on-write with the authorizer's published snapshot.
    acls: Arc<AclIndex>,
    client_quotas: ClientQuotas,
}

/// SCRAM credentials by user, then mechanism.
pub type ScramCredentials = BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>;

impl MetadataImage {
    /// Applies one record (see the module docs) and says what changed.
    pub fn apply(&mut self, record: &MetadataRecord) -> Vec<Change> {
        match record {
            MetadataRecord::Topic {
                name,
                id,
                partitions,
                configs,
            } => {
                let mut changes = Vec::new();
                if let Some(old) = self.by_name.get(name).copied()
                    && old != *id
                {
                    changes.extend(self.remove(old));
                }
                let topic = TopicImage {
                    name: name.clone(),
                    id: *id,
                    partitions: *partitions,
                    configs: configs.clone(),
                };
                self.by_name.insert(name.clone(), *id);
                self.topics.insert(*id, topic.clone());
                changes.push(Change::TopicCreated(topic));
                changes
            }
            MetadataRecord::RemoveTopic { id } => {
                self.removed.insert(*id);
                self.remove(*id).into_iter().collect()
            }
            MetadataRecord::Partitions { id, count } => match self.topics.get_mut(id) {
                Some(t) if *count > t.partitions => {
                    let from = t.partitions;
                    t.partitions = *count;
                    vec![Change::PartitionsAdded {
                        topic: t.clone(),
                        from,
                    }]
                }
                _ => vec![Change::Ignored],
            },
            MetadataRecord::TopicConfigs { id, configs } => match self.topics.get_mut(id) {
                Some(t) => {
                    t.configs = configs.clone();
                    vec![Change::TopicConfigsChanged(t.clone())]
                }
                None => vec![Change::Ignored],
            },
            MetadataRecord::BrokerConfigs { node, configs } => {
                match node {
                    None => self.cluster_configs = configs.clone(),
                    Some(n) => {
                        self.broker_configs.insert(*n, configs.clone());
                    }
                }
                vec![Change::BrokerConfigsChanged]
            }
            MetadataRecord::ScramCredential {
                user,
                mechanism,
                credential,
            } => {
                self.scram
                    .entry(user.clone())
                    .or_default()
                    .insert(*mechanism, credential.clone());
                vec![Change::ScramCredentialsChanged]
            }
            MetadataRecord::RemoveScramCredential { user, mechanism } => {
                let Some(mechanisms) = self.scram.get_mut(user) else {
                    return vec![Change::Ignored];
                };
                if mechanisms.remove(mechanism).is_none() {
                    return vec![Change::Ignored];
                }
                if mechanisms.is_empty() {
                    self.scram.remove(user);
                }
                vec![Change::ScramCredentialsChanged]
            }
            MetadataRecord::Acl { id, binding } => {
                Arc::make_mut(&mut self.acls).insert(*id, binding.clone());
                vec![Change::AclsChanged]
            }
            MetadataRecord::RemoveAcl { id } => match Arc::make_mut(&mut self.acls).remove(id) {
                Some(_) => vec![Change::AclsChanged],
                None => vec![Change::Ignored],
            },
            MetadataRecord::ClientQuota { entity, key, value } => {
                self.client_quotas.apply(entity, key, *value);
                vec![Change::ClientQuotasChanged]
            }
            MetadataRecord::ProducerIds { next } => {
                self.producer_ids_reserved = self.producer_ids_reserved.max(*next);
                vec![Change::ProducerIdsReserved {
                    up_to: self.producer_ids_reserved,
                }]
            }
        }
    }

    fn remove(&mut self, id: Uuid) -> Option<Change> {
        let topic = self.topics.remove(&id)?;
        if self.by_name.get(&topic.name) == Some(&id) {
            self.by_name.remove(&topic.name);
        }
        self.removed.insert(id);
        Some(Change::TopicRemoved(topic))
    }

    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(self.by_name.get(name)?)
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.topics.get(id)
    }

    /// Every topic, by name.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.by_name.values().filter_map(|id| self.topics.get(id))
    }

    /// The id of a topic of another name that collides with `name` once '.' and '_' are
    /// treated alike (Kafka forbids such pairs because metric names would clash).
    pub fn colliding_name(&self, name: &str) -> Option<&str> {
        let norm = |s: &str| s.replace('.', "_");
        let wanted = norm(name);
        self.by_name
            .keys()
            .find(|k| k.as_str() != name && norm(k) == wanted)
            .map(String::as_str)
    }

    /// True when the topic with this id was deleted.
    pub fn was_removed(&self, id: &Uuid) -> bool {
        self.removed.contains(id)
    }

    pub fn removed_ids(&self) -> &HashSet<Uuid> {
        &self.removed
    }

    pub fn producer_ids_reserved(&self) -> i64 {
        self.producer_ids_reserved
    }

    /// Every user's SCRAM credentials.
    pub fn scram_credentials(&self) -> &ScramCredentials {
        &self.scram
    }
    /// Every ACL (a snapshot: later changes copy).
    pub fn acls(&self) -> Arc<AclIndex> {
        self.acls.clone()
    }
    /// Every configured client quota.
    pub fn client_quotas(&self) -> &ClientQuotas {
        &self.client_quotas
    }

    /// The dynamic configs that apply to broker `node`.
    pub fn dynamic_configs(&self, node: i32) -> DynamicConfigs {
        DynamicConfigs {
            cluster: self.cluster_configs.clone(),
            broker: self.broker_configs.get(&node).cloned().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn topic(name: &str, n: u128, partitions: i32) -> MetadataRecord {
        MetadataRecord::Topic {
            name: name.into(),
            id: id(n),
            partitions,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn replay_and_live_changes_take_the_same_path() {
        let records = [
            topic("a", 1, 3),
            topic("b", 2, 1),
            MetadataRecord::Partitions {
                id: id(1),
                count: 5,
            },
            MetadataRecord::TopicConfigs {
                id: id(2),
                configs: BTreeMap::from([("retention.ms".into(), "5".into())]),
            },
            MetadataRecord::RemoveTopic { id: id(2) },
            topic("b", 3, 2),
            MetadataRecord::ProducerIds { next: 1000 },
            MetadataRecord::BrokerConfigs {
                node: Some(1),
                configs: BTreeMap::from([("log.retention.ms".into(), "9".into())]),
            },
        ];
        let mut image = MetadataImage::default();
        let changes: Vec<Vec<Change>> = records.iter().map(|r| image.apply(r)).collect();
        assert_eq!(image.topic("a").unwrap().partitions, 5);
        assert_eq!(image.topic("b").unwrap().id, id(3));
        assert!(image.was_removed(&id(2)) && !image.was_removed(&id(1)));
        assert_eq!(image.producer_ids_reserved(), 1000);
        assert_eq!(image.dynamic_configs(1).broker.len(), 1);
        assert!(image.dynamic_configs(2).broker.is_empty());
        assert!(
            matches!(&changes[2][0], Change::PartitionsAdded { from: 3, topic } if topic.partitions == 5)
        );
        assert!(matches!(&changes[4][0], Change::TopicRemoved(t) if t.name == "b"));
        // Unknown ids change nothing.
        assert_eq!(
            image.apply(&MetadataRecord::RemoveTopic { id: id(99) }),
            Vec::<Change>::new()
        );
        assert_eq!(
            image.apply(&MetadataRecord::Partitions {
                id: id(99),
                count: 4
            }),
            vec![Change::Ignored]
        );
    }

    #[test]
    fn a_new_incarnation_replaces_the_old_one() {
        let mut image = MetadataImage::default();
        image.apply(&topic("t", 1, 1));
        let changes = image.apply(&topic("t", 2, 4));
        assert!(matches!(&changes[0], Change::TopicRemoved(t) if t.id == id(1)));
        assert!(matches!(&changes[1], Change::TopicCreated(t) if t.id == id(2)));
        assert!(image.was_removed(&id(1)));
        assert_eq!(image.topics().count(), 1);
    }

    #[test]
    fn scram_credentials_are_set_replaced_and_removed() {
        let cred = |iterations| {
            ScramCredential::from_salted_password(
                ScramMechanism::Sha256,
                b"salted",
                b"salt",
                iterations,
            )
        };
        let set = |user: &str, mechanism, iterations| MetadataRecord::ScramCredential {
            user: user.into(),
            mechanism,
            credential: cred(iterations),
        };
        let remove = |user: &str, mechanism| MetadataRecord::RemoveScramCredential {
            user: user.into(),
            mechanism,
        };
        let mut image = MetadataImage::default();
        image.apply(&set("alice", ScramMechanism::Sha256, 4096));
        image.apply(&set("alice", ScramMechanism::Sha512, 8192));
        image.apply(&set("alice", ScramMechanism::Sha256, 5000));
        let alice = &image.scram_credentials()["alice"];
        assert_eq!(alice[&ScramMechanism::Sha256].iterations, 5000);
        assert_eq!(alice[&ScramMechanism::Sha512].iterations, 8192);
        assert_eq!(
            image.apply(&remove("alice", ScramMechanism::Sha256)),
            vec![Change::ScramCredentialsChanged]
        );
        assert_eq!(
            image.apply(&remove("alice", ScramMechanism::Sha256)),
            vec![Change::Ignored]
        );
        assert_eq!(
            image.apply(&remove("bob", ScramMechanism::Sha256)),
            vec![Change::Ignored]
        );
        image.apply(&remove("alice", ScramMechanism::Sha512));
        assert!(
            image.scram_credentials().is_empty(),
            "a user without credentials is gone"
        );
    }

    #[test]
    fn acls_are_added_and_removed_by_records() {
        use crate::metadata::acls::*;
        let binding = AclBinding {
            resource_type: ResourceType::Group,
            resource_name: "g".into(),
            pattern_type: PatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: Permission::Allow,
        };
        let mut image = MetadataImage::default();
        let before = image.acls();
        let changes = image.apply(&MetadataRecord::Acl {
            id: id(7),
            binding: binding.clone(),
        });
        assert_eq!(changes, vec![Change::AclsChanged]);
        assert!(before.is_empty(), "a published snapshot does not change");
        assert_eq!(image.acls().find(&binding), Some(id(7)));
        assert_eq!(
            image.apply(&MetadataRecord::RemoveAcl { id: id(7) }),
            vec![Change::AclsChanged]
        );
        assert!(image.acls().is_empty());
        assert_eq!(
            image.apply(&MetadataRecord::RemoveAcl { id: id(7) }),
            vec![Change::Ignored]
        );
    }

    #[test]
    fn client_quotas_are_set_and_removed_by_records() {
        use crate::metadata::quotas::{EntityName, QuotaEntity, QuotaKey};
        let alice = QuotaEntity {
            user: Some(EntityName::Named("alice".into())),
            client_id: None,
        };
        let set = |value| MetadataRecord::ClientQuota {
            entity: alice.clone(),
            key: "producer_byte_rate".into(),
            value,
        };
        let mut image = MetadataImage::default();
        assert_eq!(
            image.apply(&set(Some(1024.0))),
            vec![Change::ClientQuotasChanged]
        );
        let tags = ("alice".to_string(), String::new());
        let quotas = image.client_quotas();
        assert_eq!(
            quotas.limit(QuotaKey::ProducerByteRate, &tags),
            Some(1024.0)
        );
        image.apply(&set(None));
        assert!(image.client_quotas().is_empty());
    }

    #[test]
    fn names_colliding_on_dot_and_underscore() {
        let mut image = MetadataImage::default();
        image.apply(&topic("a.b", 1, 1));
        assert_eq!(image.colliding_name("a_b"), Some("a.b"));
        assert_eq!(image.colliding_name("a.b"), None);
    }
}
