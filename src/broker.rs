//! The broker hub: the services one request may need, wired together once at start-up — the
//! metadata (live topics, admin commands, effective configs), the group coordinator and the
//! transaction coordinator, each joined to its internal topic through the runtime's
//! `CoordinatorLog` port (`InternalTopic` here); the transaction coordinator also reaches the
//! partitions and the group coordinator for its markers through `TxnPorts` (`MarkerWriter`).
//! It holds no state of its own; the layers below it never import it.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use crate::config::BrokerConfig;
use crate::config::dynamic::DynamicConfigs;
use crate::config::internal::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::coordinator::group::GroupCoordinatorHandle;
use crate::coordinator::runtime::{BoxFuture, CoordinatorLog, Durability};
use crate::coordinator::txn::TxnCoordinatorHandle;
use crate::coordinator::txn::service::TxnPorts;
use crate::log::ControlType;
use crate::log::batch::BatchHeader;
use crate::metadata::Metadata;
use crate::metadata::manager::MetadataListener;
use crate::metadata::topics::{Origin, Partition, Topic, TopicRegistry};
use crate::metadata::{CreateTopicError, NewTopic};
use crate::metrics::BrokerMetrics;
use crate::quota::QuotaManager;

pub use crate::log::now_ms;
/// The SASL/SCRAM exchange (`net::scram`) checks proofs against metadata's credentials.
pub use crate::metadata::scram::{
    MIN_ITERATIONS as SCRAM_MIN_ITERATIONS, ScramCredential, ScramMechanism,
};

pub struct Broker {
    /// Static settings (file, environment, flags); `effective_config` adds the dynamic ones.
    pub config: BrokerConfig,
    pub cluster_id: String,
    pub metadata: Arc<Metadata>,
    /// The live topics (the metadata's registry).
    pub topics: Arc<TopicRegistry>,
    /// The group coordinator (consumer groups and committed offsets).
    pub groups: Arc<GroupCoordinatorHandle>,
    /// The transaction coordinator.
    pub transactions: Arc<TxnCoordinatorHandle>,
    /// Client quota enforcement (sensors and throttle times).
    pub quotas: Arc<QuotaManager>,
    /// Fault-injection rules (`vltava.fault.injection.enable`; inert when off).
    pub faults: Arc<crate::fault::Faults>,
    /// Request, connection and request-memory counters the network records (`/metrics`).
    pub metrics: Arc<BrokerMetrics>,
}

impl Broker {
    /// Opens the metadata (and with it every partition log) and the coordinators. Called
    /// from a tokio runtime, it also starts the transaction coordinator's background work
    /// (finishing transactions prepared before a restart, aborting timed-out ones).
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, String> {
        let metadata = Metadata::open(config.clone())?;
        let offsets_topic = Arc::new(InternalTopic::offsets(&metadata, &config.groups));
        let groups = Arc::new(crate::coordinator::group::service::open(
            &config.groups,
            offsets_topic,
            now_ms(),
        )?);
        metadata.listen(Arc::new(GroupsListener(groups.clone())));
        let txn_topic = Arc::new(InternalTopic::transactions(&metadata, &config.transactions));
        let markers = Arc::new(MarkerWriter {
            metadata: metadata.clone(),
            groups: groups.clone(),
        });
        let transactions = Arc::new(crate::coordinator::txn::service::open(
            &config.transactions,
            txn_topic,
            markers,
        )?);
        transactions.start_background();
        let quotas = Arc::new(QuotaManager::new(metadata.clone(), &config));
        let faults = Arc::new(crate::fault::Faults::new(
            config.fault_injection_enable,
            &crate::log::faults::DISK,
        ));
        let metrics = Arc::new(BrokerMetrics::new(
            config.listeners.iter().map(|l| l.name.as_str()),
        ));
        let broker = Arc::new(Broker {
            faults,
            quotas,
            metrics,
            config,
            cluster_id: metadata.cluster_id.clone(),
            topics: metadata.topics.clone(),
            metadata,
            groups,
            transactions,
        });
        Ok(broker)
    }

    /// True while a fault rule leaves `topic`'s `partition` without a leader (one relaxed load
    /// when no such rule runs).
    pub fn leader_unavailable(&self, topic: &str, partition: i32) -> bool {
        self.faults.leaders_armed() && self.faults.leader_unavailable(topic, partition, now_ms())
    }

    /// The broker's settings with dynamic configs applied.
    pub fn effective_config(&self) -> Arc<BrokerConfig> {
        self.metadata.effective_config()
    }

    /// A snapshot of the dynamic broker configs.
    pub fn dynamic_configs(&self) -> DynamicConfigs {
        self.metadata.dynamic_configs()
    }

    /// The SCRAM credential a client authenticating as `user` with `mechanism` is checked
    /// against: the current metadata image's.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<ScramCredential> {
        self.metadata.scram_credential(user, mechanism)
    }

    /// Clean shutdown: flushes and closes every log.
    pub fn close(&self) {
        self.metadata.close();
    }
}

/// An internal topic (`__consumer_offsets`, `__transaction_state`) as a coordinator's runtime sees it: the port
/// through which it appends and loads, created on first use like Kafka's.
struct InternalTopic {
    metadata: Arc<Metadata>,
    topic: NewTopic,
}

impl InternalTopic {
    fn offsets(metadata: &Arc<Metadata>, groups: &crate::config::GroupConfig) -> InternalTopic {
        let configs = [
            ("cleanup.policy", "compact".to_string()),
            ("compression.type", "producer".to_string()),
            (
                "segment.bytes",
                groups.offsets_topic_segment_bytes.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        InternalTopic {
            metadata: metadata.clone(),
            topic: NewTopic {
                name: OFFSETS_TOPIC.to_string(),
                partitions: groups.offsets_topic_num_partitions,
                replication_factor: 1,
                configs,
            },
        }
    }

    fn transactions(metadata: &Arc<Metadata>, txn: &crate::config::TxnConfig) -> InternalTopic {
        let configs = [
            ("cleanup.policy", "compact".to_string()),
            ("compression.type", "uncompressed".to_string()),
            ("min.insync.replicas", "1".to_string()),
            ("segment.bytes", txn.state_log_segment_bytes.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        InternalTopic {
            metadata: metadata.clone(),
            topic: NewTopic {
                name: TRANSACTION_STATE_TOPIC.to_string(),
                partitions: txn.state_log_num_partitions,
                replication_factor: 1,
                configs,
            },
        }
    }

    fn partition(&self, index: i32) -> Result<Arc<Partition>, i16> {
        self.metadata
            .topics
            .get(&self.topic.name)
            .and_then(|t| t.partition(index).cloned())
            .ok_or(ResponseError::UnknownTopicOrPartition.code())
    }
}

impl CoordinatorLog for InternalTopic {
    fn partitions(&self) -> BoxFuture<'_, Result<i32, i16>> {
        Box::pin(async move {
            let count = |t: Arc<Topic>| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
            if let Some(t) = self.metadata.topics.get(&self.topic.name) {
                return Ok(count(t));
            }
            match self.metadata.create_topic(self.topic.clone(), false).await {
                Ok(Some(t)) => Ok(count(t)),
                Ok(None) | Err(CreateTopicError::AlreadyExists(_)) => self
                    .metadata
                    .topics
                    .get(&self.topic.name)
                    .map(count)
                    .ok_or(ResponseError::UnknownTopicOrPartition.code()),
                Err(e) => {
                    tracing::error!("cannot create {}: {e}", self.topic.name);
                    Err(ResponseError::UnknownTopicOrPartition.code())
                }
            }
        })
    }

    fn max_batch_bytes(&self, index: i32) -> usize {
        self.partition(index)
            .map_or(1 << 20, |p| p.log().config().max_message_bytes as usize)
    }

    fn append(&self, index: i32, batch: Bytes) -> BoxFuture<'_, Result<Option<Durability>, i16>> {
        Box::pin(async move {
            let partition = self.partition(index)?;
            let appended = partition
                .append(batch, Origin::Coordinator, now_ms())
                .await
                .map_err(|e| e.error_code())?;
            Ok(appended.durable.map(|d| Box::pin(d.wait()) as Durability))
        })
    }

    fn append_marker(
        &self,
        index: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> BoxFuture<'_, Result<Option<Durability>, i16>> {
        Box::pin(async move {
            let partition = self.partition(index)?;
            let control = if commit {
                ControlType::Commit
            } else {
                ControlType::Abort
            };
            let appended = partition
                .append_marker(
                    producer_id,
                    producer_epoch,
                    control,
                    coordinator_epoch,
                    now_ms(),
                )
                .map_err(|e| e.error_code())?;
            Ok(appended.durable.map(|d| Box::pin(d.wait()) as Durability))
        })
    }

    fn for_each_batch(
        &self,
        visit: &mut dyn FnMut(i32, &BatchHeader, &[u8]),
    ) -> Result<bool, String> {
        let Some(topic) = self.metadata.topics.get(&self.topic.name) else {
            return Ok(false);
        };
        for p in &topic.partitions {
            p.for_each_batch(&mut |h, bytes| visit(p.index, h, bytes))?;
        }
        Ok(true)
    }
}

/// Tells the group coordinator about deleted topics (their committed offsets go).
struct GroupsListener(Arc<GroupCoordinatorHandle>);

impl MetadataListener for GroupsListener {
    fn topic_deleted(&self, name: &str) {
        self.0.topic_deleted(name);
    }
}

/// Writes the transaction coordinator's markers: into a partition through its one append path,
/// or, for `__consumer_offsets`, through the group coordinator (which applies it to the
/// pending offsets of the transaction).
struct MarkerWriter {
    metadata: Arc<Metadata>,
    groups: Arc<GroupCoordinatorHandle>,
}

impl TxnPorts for MarkerWriter {
    fn allocate_producer_id(&self) -> BoxFuture<'_, Result<i64, i16>> {
        Box::pin(async move {
            self.metadata.allocate_producer_id().await.map_err(|e| {
                tracing::error!("cannot allocate a producer id: {}", e.message);
                ResponseError::CoordinatorNotAvailable.code()
            })
        })
    }

    fn write_marker<'a>(
        &'a self,
        topic: &'a str,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> BoxFuture<'a, Result<(), i16>> {
        Box::pin(async move {
            if topic == OFFSETS_TOPIC {
                return self
                    .groups
                    .write_marker(partition, producer_id, producer_epoch, commit)
                    .await;
            }
            // A partition deleted meanwhile needs no marker (Kafka drops them too).
            let Some(p) = self
                .metadata
                .topics
                .get(topic)
                .and_then(|t| t.partition(partition).cloned())
            else {
                return Ok(());
            };
            let control = if commit {
                ControlType::Commit
            } else {
                ControlType::Abort
            };
            let appended = p
                .append_marker(producer_id, producer_epoch, control, 0, now_ms())
                .map_err(|e| e.error_code())?;
            if let Some(d) = appended.durable {
                d.wait()
                    .await
                    .map_err(|_| ResponseError::KafkaStorageError.code())?;
            }
            Ok(())
        })
    }
}
