//! The metadata owner: one thread that takes commands (create or delete a topic, add partitions,
//! change configs, hand out producer ids), checks them against the image, journals the records
//! they produce, applies those records to the image with the one `apply`, and brings the live
//! state in line — partition logs, topic registry, effective configs, listeners.
//!
//! All of its file work (journal fsyncs, creating directories and opening up to 10,000
//! partition logs) happens on that thread, never on the async workers that serve connections.
//! Handlers send a command and await its answer.
//!
//! The order of a change: checks → (for new partitions) their logs prepared → the record
//! journaled (fsynced) → `image.apply(record)` → the changes installed. If the journal write
//! fails, prepared logs are removed and nothing changed. Start-up takes the same `apply` for
//! every journaled record, then opens the partitions of the resulting image.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::acls::{AclBinding, AclFilter, AclIndex, validate_new as validate_new_acl};
use super::image::{Change, MetadataImage, ScramCredentials, TopicImage};
use super::journal::MetadataJournal;
use super::quotas::{self, ClientQuotas, QuotaError};
use super::records::MetadataRecord;
use super::scram::{self, AlterResult, Deletion, ScramCredential, ScramMechanism, Upsertion};
use super::topics::{Partition, PartitionServices, Topic, TopicRegistry, validate_topic_name};
use crate::config::dynamic::{DynamicConfigs, validate_broker_configs};
use crate::config::internal::is_internal_topic;
use crate::config::{BrokerConfig, topic as topic_config};
use crate::log::flusher::Flusher;
use crate::log::heavy::HeavyWork;
use crate::log::ids::{random_uuid, uuid_to_base64};
use crate::log::manager::LogManager;
use crate::log::{LogSource, PartitionLog, Storage, dirs, now_ms};

/// Producer ids are handed out in blocks so the journal is written once per block, not per id.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// Kafka's controller refuses operations creating more partitions than this at once.
pub const MAX_PARTITIONS_PER_REQUEST: i32 = 10_000;

/// Commands waiting for the owner; senders wait when it is full.
const COMMAND_QUEUE: usize = 1024;

/// Why a topic could not be created; each maps to Kafka's error code.
#[derive(Debug, thiserror::Error)]
pub enum CreateTopicError {
    #[error("{0}")]
    InvalidName(String),
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidPartitions(String),
    #[error("{0}")]
    InvalidReplicationFactor(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("{0}")]
    PolicyViolation(String),
    #[error("storage error: {0}")]
    Storage(String),
}

impl CreateTopicError {
    pub fn code(&self) -> ResponseError {
        match self {
            CreateTopicError::InvalidName(_) => ResponseError::InvalidTopicException,
            CreateTopicError::AlreadyExists(_) => ResponseError::TopicAlreadyExists,
            CreateTopicError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            CreateTopicError::InvalidReplicationFactor(_) => {
                ResponseError::InvalidReplicationFactor
            }
            CreateTopicError::InvalidConfig(_) => ResponseError::InvalidConfig,
            CreateTopicError::PolicyViolation(_) => ResponseError::PolicyViolation,
            CreateTopicError::Storage(_) => ResponseError::KafkaStorageError,
        }
    }
}

/// Why a topic could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteTopicError {
    #[error("This server does not host this topic-partition.")]
    Unknown,
    #[error("storage error: {0}")]
    Storage(String),
}

impl DeleteTopicError {
    pub fn code(&self) -> ResponseError {
        match self {
            DeleteTopicError::Unknown => ResponseError::UnknownTopicOrPartition,
            DeleteTopicError::Storage(_) => ResponseError::KafkaStorageError,
        }
    }
}

/// An admin operation refused with a Kafka error and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: ResponseError,
    pub message: String,
}

impl AdminError {
    pub fn new(code: ResponseError, message: impl Into<String>) -> AdminError {
        AdminError {
            code,
            message: message.into(),
        }
    }

    fn storage(e: impl std::fmt::Display) -> AdminError {
        AdminError::new(ResponseError::KafkaStorageError, e.to_string())
    }
}

/// The metadata owner is gone (the broker is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("metadata is unavailable: {0}")]
pub struct Unavailable(pub String);

/// Told about metadata changes that other parts keep state for (the group coordinator drops
/// a deleted topic's committed offsets).
pub trait MetadataListener: Send + Sync {
    fn topic_deleted(&self, name: &str);
}

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1 for `num.partitions`.
    pub partitions: i32,
    /// -1 for `default.replication.factor`.
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with the broker's defaults (auto-creation).
    pub fn named(name: &str) -> NewTopic {
        NewTopic {
            name: name.to_string(),
            partitions: -1,
            replication_factor: -1,
            configs: BTreeMap::new(),
        }
    }
}

type Reply<T> = oneshot::Sender<T>;

enum Command {
    CreateTopic(
        NewTopic,
        bool,
        Reply<Result<Option<Arc<Topic>>, CreateTopicError>>,
    ),
    DeleteTopic(String, Reply<Result<Arc<Topic>, DeleteTopicError>>),
    CreatePartitions {
        name: String,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
        reply: Reply<Result<(), AdminError>>,
    },
    AlterTopicConfigs {
        name: String,
        configs: BTreeMap<String, String>,
        validate_only: bool,
        reply: Reply<Result<(), AdminError>>,
    },
    AlterBrokerConfigs {
        node: Option<i32>,
        configs: BTreeMap<String, String>,
        validate_only: bool,
        reply: Reply<Result<(), AdminError>>,
    },
    AllocateProducerId(Reply<Result<i64, AdminError>>),
    AlterScramCredentials {
        upsertions: Vec<Upsertion>,
        deletions: Vec<Deletion>,
        reply: Reply<Result<Vec<AlterResult>, AdminError>>,
    },
    CreateAcls(Vec<AclBinding>, Reply<Vec<Result<(), AdminError>>>),
    DeleteAcls(Vec<AclFilter>, Reply<Vec<DeletedAcls>>),
    AlterClientQuotas {
        entries: Vec<QuotaAlteration>,
        validate_only: bool,
        reply: Reply<Vec<QuotaAlterationResult>>,
    },
}

/// What one DeleteAcls filter removed, or why it failed.
pub type DeletedAcls = Result<Vec<AclBinding>, AdminError>;

/// ACLs the broker keeps at most (Kafka has no bound; every check stays cheap, but the image
/// and its journal must not grow without limit).
pub const MAX_ACLS: usize = 100_000;

/// One AlterClientQuotas entry: the entity as the request names it ((type, name) pairs, a
/// null name for the default) and its operations (a key and its new value, `None` to remove).
#[derive(Debug, Clone)]
pub struct QuotaAlteration {
    pub entity: Vec<(String, Option<String>)>,
    pub ops: Vec<(String, Option<f64>)>,
}

/// The outcome for one entity (by type) of an AlterClientQuotas request.
pub type QuotaAlterationResult = (BTreeMap<String, Option<String>>, Result<(), QuotaError>);

/// The metadata as the rest of the broker sees it: the live topics, the effective configs, and
/// a way to send the owner commands.
pub struct Metadata {
    /// Static settings (file, environment, flags).
    pub config: BrokerConfig,
    pub cluster_id: String,
    /// The live topics and partitions.
    pub topics: Arc<TopicRegistry>,
    /// Fsyncs, the heavy-work pool and the background threads the partitions share.
    pub services: Arc<PartitionServices>,
    /// `config` with the dynamic configs applied: what topics resolve their defaults from.
    effective: RwLock<Arc<BrokerConfig>>,
    dynamic: RwLock<DynamicConfigs>,
    /// The SCRAM credentials of the image, replaced whole when one changes: what SASL/SCRAM
    /// authenticates against and DescribeUserScramCredentials reports.
    scram: RwLock<Arc<ScramCredentials>>,
    /// The client quota configs (a snapshot replaced on every change).
    client_quotas: RwLock<Arc<ClientQuotas>>,
    /// Whether any client quota is configured: the one check requests make when none is.
    any_client_quota: AtomicBool,
    listeners: RwLock<Vec<Arc<dyn MetadataListener>>>,
    /// The ACLs as last applied: what the authorizer checks against.
    acls: RwLock<Arc<AclIndex>>,
    commands: tokio::sync::mpsc::Sender<Command>,
}

impl Metadata {
    /// Loads `meta.properties` and the journal, replays the journal into the image, settles the
    /// data directory (`log::dirs`), opens every partition log and starts the owner thread and
    /// the log's background threads.
    pub fn open(config: BrokerConfig) -> Result<Arc<Metadata>, String> {
        let (journal, records, cluster_id) = if config.in_memory {
            let id =
                non_empty(&config.cluster_id).unwrap_or_else(|| uuid_to_base64(&random_uuid()));
            (MetadataJournal::in_memory(), Vec::new(), id)
        } else {
            std::fs::create_dir_all(&config.log_dir)
                .map_err(|e| format!("cannot create {}: {e}", config.log_dir.display()))?;
            let cluster_id = load_or_create_meta_properties(&config)?;
            let (journal, records) =
                MetadataJournal::open(&config.log_dir).map_err(|e| e.to_string())?;
            (journal, records, cluster_id)
        };
        let mut image = MetadataImage::default();
        for record in &records {
            image.apply(record);
        }
        let dynamic = image.dynamic_configs(config.node_id);
        let effective = Arc::new(dynamic.effective(&config));
        let client_quotas = Arc::new(image.client_quotas().clone());
        if !config.in_memory {
            let live = |topic: &str, index: i32| {
                image
                    .topic(topic)
                    .filter(|t| index < t.partitions)
                    .map(|t| t.id)
            };
            let removed = image.removed_ids();
            dirs::sweep(&config.log_dir, &live, &|id| removed.contains(id))
                .map_err(|e| format!("cannot sweep {}: {e}", config.log_dir.display()))?;
        }
        let topics = Arc::new(TopicRegistry::default());
        let services = Arc::new(PartitionServices {
            flusher: Flusher::start(log_source(&topics)),
            heavy: HeavyWork::for_this_machine(),
            log_manager: LogManager::default(),
        });
        let now = now_ms();
        for t in image.topics() {
            let opened = open_partitions(
                &effective,
                t,
                0..t.partitions,
                Existing(image.removed_ids()),
                &services,
                now,
            )
            .map_err(|e| format!("cannot open topic {}: {e}", t.name))?;
            topics.insert(Arc::new(live_topic(t, opened)));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(COMMAND_QUEUE);
        let metadata = Arc::new(Metadata {
            config,
            cluster_id,
            topics: topics.clone(),
            services: services.clone(),
            effective: RwLock::new(effective),
            dynamic: RwLock::new(dynamic),
            scram: RwLock::new(Arc::new(image.scram_credentials().clone())),
            any_client_quota: AtomicBool::new(!client_quotas.is_empty()),
            client_quotas: RwLock::new(client_quotas),
            listeners: RwLock::new(Vec::new()),
            acls: RwLock::new(image.acls()),
            commands: tx,
        });
        let weak = Arc::downgrade(&metadata);
        let fallback = metadata.effective_config().log_manager_settings();
        services.log_manager.start(
            log_source(&topics),
            Arc::new(move || match weak.upgrade() {
                Some(m) => m.effective_config().log_manager_settings(),
                None => fallback.clone(),
            }),
        );
        let owner = Owner {
            next_producer_id: image.producer_ids_reserved(),
            image,
            journal,
            metadata: Arc::downgrade(&metadata),
        };
        std::thread::Builder::new()
            .name("vltava-metadata".into())
            .spawn(move || owner.run(rx))
            .map_err(|e| format!("cannot start the metadata thread: {e}"))?;
        Ok(metadata)
    }

    /// The broker's settings with dynamic configs applied.
    pub fn effective_config(&self) -> Arc<BrokerConfig> {
        self.effective
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A snapshot of the dynamic broker configs.
    pub fn dynamic_configs(&self) -> DynamicConfigs {
        self.dynamic
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A snapshot of every user's SCRAM credentials.
    pub fn scram_credentials(&self) -> Arc<ScramCredentials> {
        self.scram.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The SCRAM credential of `user` for `mechanism`, if one is set.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<ScramCredential> {
        self.scram
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)?
            .get(&mechanism)
            .cloned()
    }

    /// AlterUserScramCredentials: one result per user named (see [`scram::alter`]).
    pub async fn alter_scram_credentials(
        &self,
        upsertions: Vec<Upsertion>,
        deletions: Vec<Deletion>,
    ) -> Result<Vec<AlterResult>, AdminError> {
        self.ask(|reply| Command::AlterScramCredentials {
            upsertions,
            deletions,
            reply,
        })
        .await
        .unwrap_or_else(|| Err(AdminError::storage("the broker is shutting down")))
    }
    /// The ACLs as of the last applied change (a snapshot; cheap to take).
    pub fn acls(&self) -> Arc<AclIndex> {
        self.acls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// CreateAcls: one result per binding, in order (an identical existing binding succeeds
    /// without a new record, as in Kafka).
    pub async fn create_acls(&self, bindings: Vec<AclBinding>) -> Vec<Result<(), AdminError>> {
        let count = bindings.len();
        self.ask(|r| Command::CreateAcls(bindings, r))
            .await
            .unwrap_or_else(|| vec![Err(AdminError::storage("the broker is shutting down")); count])
    }

    /// DeleteAcls: per filter, the bindings it removed.
    pub async fn delete_acls(&self, filters: Vec<AclFilter>) -> Vec<DeletedAcls> {
        let count = filters.len();
        self.ask(|r| Command::DeleteAcls(filters, r))
            .await
            .unwrap_or_else(|| vec![Err(AdminError::storage("the broker is shutting down")); count])
    }
    /// A snapshot of the client quota configs.
    pub fn client_quotas(&self) -> Arc<ClientQuotas> {
        self.client_quotas
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether any client quota is configured (one atomic load).
    pub fn has_client_quotas(&self) -> bool {
        self.any_client_quota.load(Ordering::Relaxed)
    }

    /// AlterClientQuotas (Kafka's `ClientQuotaControlManager.alterClientQuotas`): one result
    /// per distinct entity, in the order the request first names them.
    pub async fn alter_client_quotas(
        &self,
        entries: Vec<QuotaAlteration>,
        validate_only: bool,
    ) -> Result<Vec<QuotaAlterationResult>, Unavailable> {
        self.ask(|reply| Command::AlterClientQuotas {
            entries,
            validate_only,
            reply,
        })
        .await
        .ok_or_else(|| Unavailable("the broker is shutting down".into()))
    }

    /// Registers a listener for changes (see [`MetadataListener`]).
    pub fn listen(&self, listener: Arc<dyn MetadataListener>) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Creates a topic with Kafka's checks; `Ok(None)` for `validate_only`.
    pub async fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, CreateTopicError> {
        self.ask(|r| Command::CreateTopic(topic, validate_only, r))
            .await
            .unwrap_or_else(|| {
                Err(CreateTopicError::Storage(
                    "the broker is shutting down".into(),
                ))
            })
    }

    /// Deletes a topic: UNKNOWN_TOPIC_OR_PARTITION only when it does not exist.
    pub async fn delete_topic(&self, name: &str) -> Result<Arc<Topic>, DeleteTopicError> {
        self.ask(|r| Command::DeleteTopic(name.to_string(), r))
            .await
            .unwrap_or_else(|| {
                Err(DeleteTopicError::Storage(
                    "the broker is shutting down".into(),
                ))
            })
    }

    /// CreatePartitions for one topic (Kafka's `ReplicationControlManager.createPartitions`):
    /// grow only; manual assignments must name this broker once per new partition.
    pub async fn create_partitions(
        &self,
        name: &str,
        count: i32,
        assignments: Option<Vec<Vec<i32>>>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        self.ask(|reply| Command::CreatePartitions {
            name: name.to_string(),
            count,
            assignments,
            validate_only,
            reply,
        })
        .await
        .unwrap_or_else(|| Err(AdminError::storage("the broker is shutting down")))
    }

    /// Replaces a topic's config overrides (AlterConfigs, IncrementalAlterConfigs).
    pub async fn alter_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        self.ask(|reply| Command::AlterTopicConfigs {
            name: name.to_string(),
            configs,
            validate_only,
            reply,
        })
        .await
        .unwrap_or_else(|| Err(AdminError::storage("the broker is shutting down")))
    }

    /// Replaces the dynamic configs of broker `node`, or the cluster-wide defaults (`None`).
    pub async fn alter_broker_configs(
        &self,
        node: Option<i32>,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        self.ask(|reply| Command::AlterBrokerConfigs {
            node,
            configs,
            validate_only,
            reply,
        })
        .await
        .unwrap_or_else(|| Err(AdminError::storage("the broker is shutting down")))
    }

    /// A fresh producer id (InitProducerId without a transactional id always gets a new one).
    pub async fn allocate_producer_id(&self) -> Result<i64, AdminError> {
        self.ask(Command::AllocateProducerId)
            .await
            .unwrap_or_else(|| Err(AdminError::storage("the broker is shutting down")))
    }

    /// Clean shutdown: stops the background threads, then flushes and closes every log (writes
    /// producer snapshots and the clean-shutdown marker, so the next start skips recovery).
    pub fn close(&self) {
        self.services.log_manager.shutdown();
        for topic in self.topics.all() {
            for p in &topic.partitions {
                if let Err(e) = p.log().close() {
                    tracing::error!(topic = %p.topic, partition = p.index, "close failed: {e}");
                }
            }
        }
    }
}

/// The thread that owns the image and the journal.
struct Owner {
    image: MetadataImage,
    journal: MetadataJournal,
    next_producer_id: i64,
    metadata: std::sync::Weak<Metadata>,
}

impl Owner {
    fn run(mut self, mut commands: tokio::sync::mpsc::Receiver<Command>) {
        while let Some(command) = commands.blocking_recv() {
            let Some(metadata) = self.metadata.upgrade() else {
                return;
            };
            match command {
                Command::CreateTopic(topic, validate_only, reply) => {
                    let _ = reply.send(self.create_topic(&metadata, topic, validate_only));
                }
                Command::DeleteTopic(name, reply) => {
                    let _ = reply.send(self.delete_topic(&metadata, &name));
                }
                Command::CreatePartitions {
                    name,
                    count,
                    assignments,
                    validate_only,
                    reply,
                } => {
                    let result = self.create_partitions(
                        &metadata,
                        &name,
                        count,
                        assignments.as_deref(),
                        validate_only,
                    );
                    let _ = reply.send(result);
                }
                Command::AlterTopicConfigs {
                    name,
                    configs,
                    validate_only,
                    reply,
                } => {
                    let result = self.alter_topic_configs(&metadata, &name, configs, validate_only);
                    let _ = reply.send(result);
                }
                Command::AlterBrokerConfigs {
                    node,
                    configs,
                    validate_only,
                    reply,
                } => {
                    let result = self.alter_broker_configs(&metadata, node, configs, validate_only);
                    let _ = reply.send(result);
                }
                Command::AllocateProducerId(reply) => {
                    let _ = reply.send(self.allocate_producer_id(&metadata));
                }
                Command::AlterScramCredentials {
                    upsertions,
                    deletions,
                    reply,
                } => {
                    let result = self.alter_scram_credentials(&metadata, &upsertions, &deletions);
                    let _ = reply.send(result);
                }
                Command::CreateAcls(bindings, reply) => {
                    let results = bindings
                        .into_iter()
                        .map(|b| self.create_acl(&metadata, b))
                        .collect();
                    let _ = reply.send(results);
                }
                Command::DeleteAcls(filters, reply) => {
                    let results = filters
                        .iter()
                        .map(|f| self.delete_acls(&metadata, f))
                        .collect();
                    let _ = reply.send(results);
                }
                Command::AlterClientQuotas {
                    entries,
                    validate_only,
                    reply,
                } => {
                    let _ = reply.send(self.alter_client_quotas(&metadata, entries, validate_only));
                }
            }
        }
    }

    /// Journals a record and applies it, then installs what changed. `prepared` are partition
    /// logs opened for this record ahead of the journal write.
    fn commit(
        &mut self,
        metadata: &Metadata,
        record: MetadataRecord,
        prepared: Vec<Arc<Partition>>,
    ) -> Result<(), String> {
        if let Err(e) = self.journal.append(&record) {
            discard(metadata, &prepared);
            return Err(e.to_string());
        }
        let changes = self.image.apply(&record);
        let mut prepared = Some(prepared);
        for change in changes {
            install(metadata, &self.image, change, &mut prepared);
        }
        Ok(())
    }

    fn create_topic(
        &mut self,
        metadata: &Metadata,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, CreateTopicError> {
        let NewTopic {
            name,
            partitions,
            replication_factor,
            configs,
        } = topic;
        validate_topic_name(&name).map_err(CreateTopicError::InvalidName)?;
        let partitions = match partitions {
            -1 => metadata.config.num_partitions,
            n if n >= 1 => n,
            _ => {
                return Err(CreateTopicError::InvalidPartitions(
                    "Number of partitions was set to an invalid non-positive value.".into(),
                ));
            }
        };
        if partitions > MAX_PARTITIONS_PER_REQUEST {
            return Err(CreateTopicError::PolicyViolation(
                "Excessively large number of partitions per request.".into(),
            ));
        }
        match replication_factor {
            -1 | 1 => {}
            n if n <= 0 => {
                return Err(CreateTopicError::InvalidReplicationFactor(
                    "Replication factor must be larger than 0, or -1 to use the default value."
                        .into(),
                ));
            }
            n => {
                return Err(CreateTopicError::InvalidReplicationFactor(format!(
                    "Unable to replicate the partition {n} time(s): The target replication factor \
                     of {n} cannot be reached because only 1 broker(s) are registered or some \
                     brokers have all their log directories cordoned."
                )));
            }
        }
        let effective = metadata.effective_config();
        topic_config::validate_all(&configs, &effective)
            .map_err(CreateTopicError::InvalidConfig)?;
        if self.image.topic(&name).is_some() {
            return Err(CreateTopicError::AlreadyExists(name));
        }
        if let Some(other) = self.image.colliding_name(&name) {
            return Err(CreateTopicError::InvalidName(format!(
                "Topic '{name}' collides with existing topic: {other}"
            )));
        }
        if validate_only {
            return Ok(None);
        }
        let image = TopicImage {
            name: name.clone(),
            id: random_uuid(),
            partitions,
            configs,
        };
        let prepared = open_partitions(
            &effective,
            &image,
            0..partitions,
            New(self.image.removed_ids()),
            &metadata.services,
            now_ms(),
        )
        .map_err(|e| {
            // Typically out of file descriptors: say so, and leave nothing half-created.
            tracing::error!(topic = %name, partitions, "cannot create topic: {e}");
            CreateTopicError::Storage(e)
        })?;
        let record = MetadataRecord::Topic {
            name: name.clone(),
            id: image.id,
            partitions,
            configs: image.configs.clone(),
        };
        self.commit(metadata, record, prepared)
            .map_err(CreateTopicError::Storage)?;
        tracing::info!(topic = %name, partitions, "created topic");
        Ok(metadata.topics.get(&name))
    }

    fn delete_topic(
        &mut self,
        metadata: &Metadata,
        name: &str,
    ) -> Result<Arc<Topic>, DeleteTopicError> {
        let Some(image) = self.image.topic(name) else {
            return Err(DeleteTopicError::Unknown);
        };
        let live = metadata.topics.get(name);
        let record = MetadataRecord::RemoveTopic { id: image.id };
        self.commit(metadata, record, Vec::new())
            .map_err(DeleteTopicError::Storage)?;
        tracing::info!(topic = name, "deleted topic");
        live.ok_or(DeleteTopicError::Unknown)
    }

    fn create_partitions(
        &mut self,
        metadata: &Metadata,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let Some(topic) = self.image.topic(name).cloned() else {
            // Kafka's controller explains nothing here (an empty message is sent as null).
            return Err(AdminError::new(ResponseError::UnknownTopicOrPartition, ""));
        };
        let current = topic.partitions;
        if count == current {
            return Err(AdminError::new(
                ResponseError::InvalidPartitions,
                format!("Topic already has {current} partition(s)."),
            ));
        }
        if count < current {
            return Err(AdminError::new(
                ResponseError::InvalidPartitions,
                format!(
                    "The topic {name} currently has {current} partition(s); {count} would not be an increase."
                ),
            ));
        }
        let additional = count - current;
        if let Some(assignments) = assignments {
            check_assignments(assignments, additional, metadata.config.node_id)?;
        }
        if additional > MAX_PARTITIONS_PER_REQUEST {
            return Err(AdminError::new(
                ResponseError::PolicyViolation,
                "Excessively large number of additional partitions per request.",
            ));
        }
        if validate_only {
            return Ok(());
        }
        let prepared = open_partitions(
            &metadata.effective_config(),
            &topic,
            current..count,
            New(self.image.removed_ids()),
            &metadata.services,
            now_ms(),
        )
        .map_err(AdminError::storage)?;
        let record = MetadataRecord::Partitions {
            id: topic.id,
            count,
        };
        self.commit(metadata, record, prepared)
            .map_err(AdminError::storage)?;
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    fn alter_topic_configs(
        &mut self,
        metadata: &Metadata,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        topic_config::validate_all(&configs, &metadata.effective_config())
            .map_err(|m| AdminError::new(ResponseError::InvalidConfig, m))?;
        let Some(topic) = self.image.topic(name) else {
            return Err(AdminError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        if validate_only || configs == topic.configs {
            return Ok(());
        }
        let record = MetadataRecord::TopicConfigs {
            id: topic.id,
            configs,
        };
        self.commit(metadata, record, Vec::new())
            .map_err(AdminError::storage)?;
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    fn alter_broker_configs(
        &mut self,
        metadata: &Metadata,
        node: Option<i32>,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        validate_broker_configs(&configs, node.is_some())
            .map_err(|m| AdminError::new(ResponseError::InvalidRequest, m))?;
        if validate_only {
            return Ok(());
        }
        let record = MetadataRecord::BrokerConfigs { node, configs };
        self.commit(metadata, record, Vec::new())
            .map_err(AdminError::storage)?;
        tracing::info!(?node, "altered dynamic broker configs");
        Ok(())
    }

    fn alter_scram_credentials(
        &mut self,
        metadata: &Metadata,
        upsertions: &[Upsertion],
        deletions: &[Deletion],
    ) -> Result<Vec<AlterResult>, AdminError> {
        let (records, results) =
            scram::alter(self.image.scram_credentials(), upsertions, deletions);
        for record in records {
            let (user, mechanism) = match &record {
                MetadataRecord::ScramCredential {
                    user, mechanism, ..
                }
                | MetadataRecord::RemoveScramCredential { user, mechanism } => {
                    (user.clone(), mechanism.name())
                }
                _ => (String::new(), ""),
            };
            self.commit(metadata, record, Vec::new())
                .map_err(AdminError::storage)?;
            tracing::info!(user, mechanism, "altered SCRAM credential");
        }
        Ok(results)
    }
    fn create_acl(&mut self, metadata: &Metadata, binding: AclBinding) -> Result<(), AdminError> {
        validate_new_acl(&binding)
            .map_err(|m| AdminError::new(ResponseError::InvalidRequest, m))?;
        let acls = self.image.acls();
        if acls.find(&binding).is_some() {
            return Ok(());
        }
        if acls.len() >= MAX_ACLS {
            return Err(AdminError::new(
                ResponseError::PolicyViolation,
                format!("The broker keeps at most {MAX_ACLS} ACLs."),
            ));
        }
        let record = MetadataRecord::Acl {
            id: random_uuid(),
            binding,
        };
        self.commit(metadata, record, Vec::new())
            .map_err(AdminError::storage)
    }

    fn delete_acls(&mut self, metadata: &Metadata, filter: &AclFilter) -> DeletedAcls {
        let matched: Vec<(Uuid, AclBinding)> = self
            .image
            .acls()
            .iter()
            .filter(|(_, b)| filter.matches(b))
            .map(|(id, b)| (*id, b.clone()))
            .collect();
        let mut deleted = Vec::with_capacity(matched.len());
        for (id, binding) in matched {
            self.commit(metadata, MetadataRecord::RemoveAcl { id }, Vec::new())
                .map_err(AdminError::storage)?;
            deleted.push(binding);
        }
        Ok(deleted)
    }
    /// Checks every entry, then journals and applies the records of those that passed (none
    /// for `validate_only`). Kafka's quirks are kept: a key named twice, or an entity named
    /// twice, answers "Ignoring duplicate entity" for that entity.
    fn alter_client_quotas(
        &mut self,
        metadata: &Metadata,
        entries: Vec<QuotaAlteration>,
        validate_only: bool,
    ) -> Vec<QuotaAlterationResult> {
        let mut results: Vec<QuotaAlterationResult> = Vec::new();
        let mut records = Vec::new();
        for entry in entries {
            // The request's entity is a map: a type named twice keeps its last name.
            let raw: BTreeMap<String, Option<String>> = entry.entity.into_iter().collect();
            let mut ops: BTreeMap<String, Option<f64>> = BTreeMap::new();
            let mut failed = None;
            for (key, value) in entry.ops {
                match ops.entry(key) {
                    std::collections::btree_map::Entry::Occupied(o) => {
                        failed = Some(QuotaError {
                            code: ResponseError::InvalidRequest,
                            message: format!(
                                "Duplicate quota key {} not updating quota for this entity {}",
                                o.key(),
                                entity_text(&raw)
                            ),
                        });
                    }
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(value);
                    }
                }
            }
            let seen = results.iter().position(|(e, _)| *e == raw);
            let result = if seen.is_some() || failed.is_some() {
                Err(QuotaError {
                    code: ResponseError::InvalidRequest,
                    message: format!("Ignoring duplicate entity {}", entity_text(&raw)),
                })
            } else {
                self.client_quota_records(&raw, &ops)
                    .map(|r| records.extend(r))
            };
            match seen {
                Some(i) => results[i].1 = result,
                None => results.push((raw, result)),
            }
        }
        if !validate_only {
            for record in records {
                if let Err(e) = self.commit(metadata, record, Vec::new()) {
                    for (_, r) in results.iter_mut().filter(|(_, r)| r.is_ok()) {
                        *r = Err(QuotaError {
                            code: ResponseError::KafkaStorageError,
                            message: e.clone(),
                        });
                    }
                    break;
                }
            }
        }
        results
    }

    /// The records one entity's operations make: only changes (a removal of an unset key, or
    /// setting the value it has, makes none).
    fn client_quota_records(
        &self,
        raw: &BTreeMap<String, Option<String>>,
        ops: &BTreeMap<String, Option<f64>>,
    ) -> Result<Vec<MetadataRecord>, QuotaError> {
        let parts: Vec<(&str, Option<&str>)> = raw
            .iter()
            .map(|(t, n)| (t.as_str(), n.as_deref()))
            .collect();
        let entity = quotas::validate_entity(&parts)?;
        let current = self.image.client_quotas().values(&entity);
        let mut records = Vec::new();
        for (key, value) in ops {
            let now = current.and_then(|c| c.get(key)).copied();
            if let Some(v) = value {
                quotas::validate_value(key, *v)?;
            }
            if *value != now {
                records.push(MetadataRecord::ClientQuota {
                    entity: entity.clone(),
                    key: key.clone(),
                    value: *value,
                });
            }
        }
        Ok(records)
    }

    fn allocate_producer_id(&mut self, metadata: &Metadata) -> Result<i64, AdminError> {
        if self.next_producer_id >= self.image.producer_ids_reserved() {
            let next = self.image.producer_ids_reserved() + PRODUCER_ID_BLOCK;
            self.commit(metadata, MetadataRecord::ProducerIds { next }, Vec::new())
                .map_err(AdminError::storage)?;
        }
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        Ok(id)
    }
}

/// Brings the live state in line with one change of the image. `prepared` holds the partition
/// logs opened for a created topic or added partitions.
fn install(
    metadata: &Metadata,
    image: &MetadataImage,
    change: Change,
    prepared: &mut Option<Vec<Arc<Partition>>>,
) {
    match change {
        Change::TopicCreated(topic) => {
            let partitions = prepared.take().unwrap_or_default();
            metadata
                .topics
                .insert(Arc::new(live_topic(&topic, partitions)));
        }
        Change::TopicRemoved(removed) => {
            let Some(topic) = metadata.topics.remove(&removed.name) else {
                return;
            };
            for p in &topic.partitions {
                p.mark_deleted();
            }
            delete_topic_files(&metadata.config, &topic);
            let listeners = metadata
                .listeners
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            for l in listeners {
                l.topic_deleted(&removed.name);
            }
        }
        Change::PartitionsAdded { topic, .. } => {
            let Some(current) = metadata.topics.get(&topic.name) else {
                return;
            };
            let mut partitions = current.partitions.clone();
            partitions.extend(prepared.take().unwrap_or_default());
            metadata
                .topics
                .insert(Arc::new(live_topic(&topic, partitions)));
        }
        Change::TopicConfigsChanged(changed) => {
            let Some(current) = metadata.topics.get(&changed.name) else {
                return;
            };
            let topic = Arc::new(live_topic(&changed, current.partitions.clone()));
            metadata.topics.insert(topic.clone());
            apply_log_config(&topic, &metadata.effective_config());
            metadata.services.log_manager.wake();
        }
        Change::BrokerConfigsChanged => {
            let dynamic = image.dynamic_configs(metadata.config.node_id);
            let effective = Arc::new(dynamic.effective(&metadata.config));
            *metadata.dynamic.write().unwrap_or_else(|e| e.into_inner()) = dynamic;
            *metadata
                .effective
                .write()
                .unwrap_or_else(|e| e.into_inner()) = effective.clone();
            for topic in metadata.topics.all() {
                apply_log_config(&topic, &effective);
            }
            metadata.services.log_manager.wake();
        }
        Change::ScramCredentialsChanged => {
            *metadata.scram.write().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(image.scram_credentials().clone());
        }
        Change::AclsChanged => {
            *metadata.acls.write().unwrap_or_else(|e| e.into_inner()) = image.acls();
        }
        Change::ClientQuotasChanged => {
            *metadata
                .client_quotas
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Arc::new(image.client_quotas().clone());
            metadata
                .any_client_quota
                .store(!image.client_quotas().is_empty(), Ordering::Relaxed);
        }
        Change::ProducerIdsReserved { .. } | Change::Ignored => {}
    }
}

/// Kafka's `ClientQuotaEntity.toString` (a Java `HashMap`: `client-id` prints before `user`).
fn entity_text(raw: &BTreeMap<String, Option<String>>) -> String {
    let parts: Vec<String> = raw
        .iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or("null")))
        .collect();
    format!("ClientQuotaEntity(entries={{{}}})", parts.join(", "))
}

/// A topic of the image with its live partitions.
fn live_topic(image: &TopicImage, partitions: Vec<Arc<Partition>>) -> Topic {
    Topic {
        internal: is_internal_topic(&image.name),
        name: Arc::from(image.name.as_str()),
        id: image.id,
        partitions,
        configs: image.configs.clone(),
    }
}

fn apply_log_config(topic: &Topic, broker: &BrokerConfig) {
    let log_config = topic_config::log_config(&topic.configs, broker);
    for p in &topic.partitions {
        p.log().set_config(log_config.clone());
    }
}

/// Whether the partitions being opened exist in metadata (their directories hold their data)
/// or are being created (nothing there can be theirs). Either way, the ids of deleted topics.
#[derive(Clone, Copy)]
enum Opening<'a> {
    Existing(&'a HashSet<Uuid>),
    New(&'a HashSet<Uuid>),
}
use Opening::{Existing, New};

/// Opens (creating if needed) partitions `indexes` of a topic. On failure the directories
/// opened for new partitions are removed again.
fn open_partitions(
    config: &BrokerConfig,
    topic: &TopicImage,
    indexes: Range<i32>,
    opening: Opening<'_>,
    services: &Arc<PartitionServices>,
    now: i64,
) -> Result<Vec<Arc<Partition>>, String> {
    let log_config = topic_config::log_config(&topic.configs, config);
    let name: Arc<str> = Arc::from(topic.name.as_str());
    let mut opened = Vec::with_capacity(indexes.len());
    for index in indexes.clone() {
        let storage = if config.in_memory {
            Storage::Memory
        } else {
            let dir = partition_dir(config, &name, index);
            let (ours, removed) = match opening {
                Existing(removed) => (Some(topic.id), removed),
                New(removed) => (None, removed),
            };
            let prepared = dirs::settle(&dir, ours, &|x| removed.contains(x))
                .and_then(|_| std::fs::create_dir_all(&dir))
                .and_then(|()| dirs::write_partition_metadata(&dir, &topic.id));
            if let Err(e) = prepared {
                if matches!(opening, New(_)) {
                    remove_partition_dirs(config, &name, indexes.start..index + 1);
                }
                return Err(e.to_string());
            }
            Storage::Dir(dir)
        };
        match PartitionLog::open(storage, log_config.clone(), now) {
            Ok(log) => opened.push(Arc::new(Partition::new(
                name.clone(),
                index,
                0,
                log,
                services.clone(),
            ))),
            Err(e) => {
                if matches!(opening, New(_)) {
                    remove_partition_dirs(config, &name, indexes.start..index + 1);
                }
                return Err(e.to_string());
            }
        }
    }
    Ok(opened)
}

/// Partitions opened for a change that could not be journaled: closed and removed.
fn discard(metadata: &Metadata, prepared: &[Arc<Partition>]) {
    for p in prepared {
        p.mark_deleted();
        if !metadata.config.in_memory {
            let _ = std::fs::remove_dir_all(partition_dir(&metadata.config, &p.topic, p.index));
        }
    }
}

fn remove_partition_dirs(config: &BrokerConfig, name: &str, indexes: Range<i32>) {
    if config.in_memory {
        return;
    }
    for index in indexes {
        let _ = std::fs::remove_dir_all(partition_dir(config, name, index));
    }
}

pub(crate) fn partition_dir(config: &BrokerConfig, topic: &str, index: i32) -> PathBuf {
    config.log_dir.join(dirs::partition_dir_name(topic, index))
}

/// Renames a deleted topic's partition directories out of the way and removes them in the
/// background, as Kafka does, so a recreated topic of the same name starts clean.
fn delete_topic_files(config: &BrokerConfig, topic: &Topic) {
    if config.in_memory {
        return;
    }
    let mut doomed = Vec::new();
    for p in &topic.partitions {
        let dir = partition_dir(config, &topic.name, p.index);
        match dirs::mark_deleted(&dir, &topic.id) {
            Ok(target) => doomed.push(target),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "cannot rename a deleted partition: {e}")
            }
        }
    }
    std::thread::spawn(move || {
        for d in doomed {
            let _ = std::fs::remove_dir_all(d);
        }
    });
}

/// Every live partition's log, for the background threads.
fn log_source(topics: &Arc<TopicRegistry>) -> LogSource {
    let topics = topics.clone();
    Arc::new(move || {
        topics
            .all()
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| !p.is_deleted())
            .map(|p| p.handle().clone())
            .collect()
    })
}

/// Kafka's manual assignment checks for new partitions, on a one-broker cluster.
fn check_assignments(
    assignments: &[Vec<i32>],
    additional: i32,
    node_id: i32,
) -> Result<(), AdminError> {
    let invalid = |m: String| AdminError::new(ResponseError::InvalidReplicaAssignment, m);
    if assignments.len() as i64 != i64::from(additional) {
        return Err(invalid(format!(
            "Attempted to add {additional} additional partition(s), but only {} assignment(s) were specified.",
            assignments.len()
        )));
    }
    for brokers in assignments {
        check_replicas(brokers, node_id)?;
    }
    Ok(())
}

/// Kafka's check of one manually assigned replica list (`validateManualPartitionAssignment`),
/// on a one-broker cluster: non-empty, only this broker, and it only once.
pub fn check_replicas(brokers: &[i32], node_id: i32) -> Result<(), AdminError> {
    let invalid = |m: String| AdminError::new(ResponseError::InvalidReplicaAssignment, m);
    let mut sorted = brokers.to_vec();
    sorted.sort_unstable();
    if sorted.is_empty() {
        return Err(invalid(
            "The manual partition assignment includes an empty replica list.".into(),
        ));
    }
    if let Some(b) = sorted.iter().find(|b| **b != node_id) {
        return Err(invalid(format!(
            "The manual partition assignment includes broker {b}, but no such broker is registered."
        )));
    }
    if sorted.len() > 1 {
        return Err(invalid(format!(
            "The manual partition assignment includes the broker {node_id} more than once."
        )));
    }
    Ok(())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_string())
}

/// Kafka's `meta.properties`: the cluster id and node id this data directory belongs to.
fn load_or_create_meta_properties(config: &BrokerConfig) -> Result<String, String> {
    let path = config.log_dir.join("meta.properties");
    let text = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return write_meta_properties(config, &path);
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    // Like Kafka, refuse a data directory whose identity cannot be read rather than give it a
    // new cluster id: the data in it belongs to some cluster.
    let refuse = |why: String| {
        format!(
            "{} is not a valid meta.properties ({why}); refusing to start on a data directory \
             of unknown identity. Restore the file, or move the directory aside to start afresh",
            path.display()
        )
    };
    let text = String::from_utf8(text).map_err(|_| refuse("not text".into()))?;
    let props = crate::config::parse_properties(&text);
    match props.get("version").map(String::as_str) {
        Some("0" | "1") => {}
        other => return Err(refuse(format!("version {other:?}, expected 0 or 1"))),
    }
    let id = props
        .get("cluster.id")
        .and_then(|id| non_empty(id))
        .ok_or_else(|| refuse("no cluster.id".into()))?;
    if let Some(stored) = props.get("node.id").or_else(|| props.get("broker.id"))
        && stored.trim() != config.node_id.to_string()
    {
        return Err(format!(
            "stored node id {stored} in {} does not match node.id {}",
            path.display(),
            config.node_id
        ));
    }
    if let Some(wanted) = non_empty(&config.cluster_id)
        && wanted != id
    {
        return Err(format!(
            "cluster.id {wanted} does not match {id} in {}",
            path.display()
        ));
    }
    Ok(id)
}

/// Writes a new `meta.properties` atomically (temp file, fsync, rename, directory fsync), so a
/// crash never leaves a half-written one that the next start would refuse.
fn write_meta_properties(config: &BrokerConfig, path: &Path) -> Result<String, String> {
    let id = non_empty(&config.cluster_id).unwrap_or_else(|| uuid_to_base64(&random_uuid()));
    let text = format!(
        "#\n#Written by vltava\nnode.id={}\nversion=1\ncluster.id={}\n",
        config.node_id, id
    );
    let tmp = path.with_extension("properties.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&config.log_dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_checks() {
        assert!(check_assignments(&[vec![1], vec![1]], 2, 1).is_ok());
        assert_eq!(
            check_assignments(&[vec![1]], 2, 1).unwrap_err().code,
            ResponseError::InvalidReplicaAssignment
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
