//! Metadata changes made by the admin APIs: growing a topic's partitions, replacing a topic's
//! config overrides, replacing the dynamic broker configs.
//!
//! Each works like topic creation in `broker.rs`: checks first (Kafka's error codes and
//! messages), then under the metadata mutex the change is journaled as a `MetadataRecord` and
//! only then applied to the live image. Topics are immutable snapshots in the registry, so a
//! change installs a new `Topic` sharing the existing partitions. Config changes reach live
//! partitions at once (`PartitionLog::set_config`) and wake the retention and cleaner threads,
//! since a new `retention.ms` or `cleanup.policy` may make work due now.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::broker::{
    Broker, MAX_PARTITIONS_PER_REQUEST, Opening, now_ms, open_partition, partition_dir,
};
use crate::config::dynamic::{DynamicConfigs, validate_broker_configs};
use crate::config::topic as topic_config;
use crate::handlers::error;
use crate::metadata::MetadataRecord;
use crate::metadata::topics::Topic;

/// An admin operation refused with a Kafka error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: i16,
    pub message: String,
}

impl AdminError {
    pub fn new(code: i16, message: impl Into<String>) -> AdminError {
        AdminError {
            code,
            message: message.into(),
        }
    }
}

const INVALID_PARTITIONS: i16 = 37;
const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
const INVALID_CONFIG: i16 = 40;
const POLICY_VIOLATION: i16 = 44;

fn storage(e: impl std::fmt::Display) -> AdminError {
    AdminError::new(error::KAFKA_STORAGE_ERROR, e.to_string())
}

impl Broker {
    /// CreatePartitions for one topic (Kafka's `ReplicationControlManager.createPartitions`):
    /// grow only; manual assignments must name this broker once per new partition.
    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let mut meta = self.metadata.lock().await;
        let Some(topic) = self.topics.get(name) else {
            return Err(AdminError::new(
                error::UNKNOWN_TOPIC_OR_PARTITION,
                "This server does not host this topic-partition.",
            ));
        };
        let current = topic.partitions.len() as i32;
        if count == current {
            return Err(AdminError::new(
                INVALID_PARTITIONS,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        if count < current {
            return Err(AdminError::new(
                INVALID_PARTITIONS,
                format!(
                    "The topic {name} currently has {current} partition(s); {count} would not be an increase."
                ),
            ));
        }
        let additional = count - current;
        if let Some(assignments) = assignments {
            check_assignments(assignments, additional, self.config.node_id)?;
        }
        if additional > MAX_PARTITIONS_PER_REQUEST {
            return Err(AdminError::new(
                POLICY_VIOLATION,
                "Excessively large number of partitions per request.",
            ));
        }
        if validate_only {
            return Ok(());
        }
        let config = self.effective_config();
        let log_config = topic_config::log_config(&topic.configs, &config);
        let now = now_ms();
        let mut partitions = topic.partitions.clone();
        for index in current..count {
            // Not in the journaled image: anything already there is left over from a crash.
            let opened = open_partition(
                &config,
                &topic.name,
                &topic.id,
                index,
                &log_config,
                now,
                Opening::New(&meta.removed_topic_ids),
            );
            match opened {
                Ok(p) => partitions.push(p),
                Err(e) => {
                    self.remove_partition_dirs(name, current..index);
                    return Err(storage(e));
                }
            }
        }
        let record = MetadataRecord::Partitions {
            id: topic.id,
            count,
        };
        if let Err(e) = meta.journal.append(&record) {
            self.remove_partition_dirs(name, current..count);
            return Err(storage(e));
        }
        self.topics.insert(Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: topic.configs.clone(),
            internal: topic.internal,
        }));
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    fn remove_partition_dirs(&self, name: &str, indexes: std::ops::Range<i32>) {
        if self.config.in_memory {
            return;
        }
        for index in indexes {
            let _ = std::fs::remove_dir_all(partition_dir(&self.config, name, index));
        }
    }

    /// Replaces a topic's config overrides with `configs` (the result of an AlterConfigs or
    /// IncrementalAlterConfigs request), checked as Kafka checks them.
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let config = self.effective_config();
        topic_config::validate_all(&configs, &config)
            .map_err(|m| AdminError::new(INVALID_CONFIG, m))?;
        let mut meta = self.metadata.lock().await;
        let Some(topic) = self.topics.get(name) else {
            return Err(AdminError::new(
                error::UNKNOWN_TOPIC_OR_PARTITION,
                format!("Topic {name} does not exist."),
            ));
        };
        if validate_only || configs == topic.configs {
            return Ok(());
        }
        meta.journal
            .append(&MetadataRecord::TopicConfigs {
                id: topic.id,
                configs: configs.clone(),
            })
            .map_err(storage)?;
        let topic = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions: topic.partitions.clone(),
            configs,
            internal: topic.internal,
        });
        self.topics.insert(topic.clone());
        apply_log_config(&topic, &config);
        self.log_manager.wake();
        tracing::info!(topic = name, configs = ?topic.configs, "altered topic configs");
        Ok(())
    }

    /// Replaces the dynamic broker configs of this broker (`node` = its id) or the cluster-wide
    /// defaults (`None`), checked as Kafka checks them; every partition gets its new settings.
    pub async fn alter_broker_configs(
        &self,
        node: Option<i32>,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        validate_broker_configs(&configs, node.is_some())
            .map_err(|m| AdminError::new(error::INVALID_REQUEST, m))?;
        if validate_only {
            return Ok(());
        }
        let mut meta = self.metadata.lock().await;
        meta.journal
            .append(&MetadataRecord::BrokerConfigs {
                node,
                configs: configs.clone(),
            })
            .map_err(storage)?;
        let effective = {
            let mut dynamic = self.dynamic.write().unwrap_or_else(|e| e.into_inner());
            match node {
                None => dynamic.cluster = configs,
                Some(_) => dynamic.broker = configs,
            }
            Arc::new(dynamic.effective(&self.config))
        };
        *self.effective.write().unwrap_or_else(|e| e.into_inner()) = effective.clone();
        for topic in self.topics.all() {
            apply_log_config(&topic, &effective);
        }
        self.log_manager.wake();
        tracing::info!(?node, "altered dynamic broker configs");
        Ok(())
    }

    /// A snapshot of the dynamic broker configs.
    pub fn dynamic_configs(&self) -> DynamicConfigs {
        self.dynamic
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn apply_log_config(topic: &Topic, broker: &crate::config::BrokerConfig) {
    let log_config = topic_config::log_config(&topic.configs, broker);
    for p in &topic.partitions {
        p.log().set_config(log_config.clone());
    }
}

/// Kafka's manual assignment checks for new partitions, on a one-broker cluster.
fn check_assignments(
    assignments: &[Vec<i32>],
    additional: i32,
    node_id: i32,
) -> Result<(), AdminError> {
    if assignments.len() as i64 != i64::from(additional) {
        return Err(AdminError::new(
            INVALID_REPLICA_ASSIGNMENT,
            format!(
                "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
                assignments.len()
            ),
        ));
    }
    for brokers in assignments {
        let mut sorted = brokers.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Err(AdminError::new(
                INVALID_REPLICA_ASSIGNMENT,
                "The manual partition assignment includes an empty replica list.",
            ));
        }
        if let Some(b) = sorted.iter().find(|b| **b != node_id) {
            return Err(AdminError::new(
                INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "The manual partition assignment includes broker {b}, but no such broker is registered."
                ),
            ));
        }
        if sorted.len() > 1 {
            return Err(AdminError::new(
                INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "The manual partition assignment includes the broker {node_id} more than once."
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_checks() {
        assert!(check_assignments(&[vec![1], vec![1]], 2, 1).is_ok());
        assert_eq!(
            check_assignments(&[vec![1]], 2, 1).unwrap_err().code,
            INVALID_REPLICA_ASSIGNMENT
        );
        assert!(
            check_assignments(&[vec![2]], 1, 1)
                .unwrap_err()
                .message
                .contains("broker 2")
        );
        assert!(check_assignments(&[vec![]], 1, 1).is_err());
        assert!(check_assignments(&[vec![1, 1]], 1, 1).is_err());
    }
}
