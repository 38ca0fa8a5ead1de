//! The broker: settings, topics, metadata and the fsync batcher, shared by every connection.
//!
//! Handlers never change metadata directly: they call `create_topic`, `delete_topic` or
//! `allocate_producer_id`, which serialise through one async mutex, journal the change as a
//! `MetadataRecord`, and only then update the live image.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex as AsyncMutex;
use uuid::Uuid;

use crate::config::BrokerConfig;
use crate::config::dynamic::DynamicConfigs;
use crate::config::topic as topic_config;
use crate::log::flusher::Flusher;
use crate::log::manager::LogManager;
use crate::log::{LogSource, PartitionLog, Storage, dirs};
use crate::metadata::topics::{Partition, Topic, TopicRegistry, validate_topic_name};
use crate::metadata::{MetadataJournal, MetadataRecord, random_uuid, uuid_to_base64};

/// Producer ids are handed out in blocks so the journal is written once per block, not per id.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// Kafka's controller refuses operations creating more partitions than this at once.
pub(crate) const MAX_PARTITIONS_PER_REQUEST: i32 = 10_000;

pub use crate::log::now_ms;

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
    pub fn error_code(&self) -> i16 {
        match self {
            CreateTopicError::InvalidName(_) => 17,
            CreateTopicError::AlreadyExists(_) => 36,
            CreateTopicError::InvalidPartitions(_) => 37,
            CreateTopicError::InvalidReplicationFactor(_) => 38,
            CreateTopicError::InvalidConfig(_) => 40,
            CreateTopicError::PolicyViolation(_) => 44,
            CreateTopicError::Storage(_) => 56,
        }
    }
}

/// What the metadata mutex protects.
pub(crate) struct MetadataState {
    pub(crate) journal: MetadataJournal,
    next_producer_id: i64,
    /// Ids below this are covered by a journaled block.
    producer_id_block_end: i64,
    /// Ids of deleted topics: their leftover directories may be removed (see `log::dirs`).
    pub(crate) removed_topic_ids: HashSet<Uuid>,
}

/// Request bytes held in memory, reserved from the broker-wide budget as they arrive and
/// released when the response has been written (dropped).
#[derive(Default)]
pub struct RequestMemory {
    permits: Vec<tokio::sync::OwnedSemaphorePermit>,
    kib: u32,
}

impl RequestMemory {
    /// KiB reserved so far.
    pub fn kib(&self) -> u32 {
        self.kib
    }
}

pub struct Broker {
    pub config: BrokerConfig,
    /// `queued.max.request.bytes`, in KiB permits: bounds the request bytes held at once.
    request_memory: Arc<tokio::sync::Semaphore>,
    pub cluster_id: String,
    pub topics: Arc<TopicRegistry>,
    pub(crate) metadata: AsyncMutex<MetadataState>,
    flusher: Flusher,
    /// Dynamic broker configs (changed only under the metadata mutex, after journaling).
    pub(crate) dynamic: std::sync::RwLock<DynamicConfigs>,
    /// `config` with the dynamic configs applied: what topics resolve their defaults from.
    pub(crate) effective: std::sync::RwLock<Arc<BrokerConfig>>,
    /// Retention and compaction threads.
    pub(crate) log_manager: LogManager,
    /// The group coordinator (consumer groups and committed offsets).
    pub groups: crate::coordinator::group::GroupCoordinatorHandle,
    /// Bounds CPU-heavy request work (decompression, recompression) running at once on
    /// tokio's blocking threads: one less than the cores, at least one.
    heavy: Arc<tokio::sync::Semaphore>,
    heavy_waiting: std::sync::atomic::AtomicUsize,
}

impl Broker {
    /// Loads metadata, recovers every partition log, and starts the fsync batcher.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, String> {
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

        // Replay the journal into a picture of what should exist.
        let mut image: BTreeMap<String, (Uuid, i32, BTreeMap<String, String>)> = BTreeMap::new();
        let mut producer_id_block_end = 0;
        let mut dynamic = DynamicConfigs::default();
        let mut removed_topic_ids = HashSet::new();
        for r in records {
            match r {
                MetadataRecord::Topic {
                    name,
                    id,
                    partitions,
                    configs,
                } => {
                    image.insert(name, (id, partitions, configs));
                }
                MetadataRecord::RemoveTopic { id } => {
                    image.retain(|_, (tid, _, _)| *tid != id);
                    removed_topic_ids.insert(id);
                }
                MetadataRecord::ProducerIds { next } => producer_id_block_end = next,
                MetadataRecord::TopicConfigs { id, configs } => {
                    if let Some(t) = image.values_mut().find(|(tid, _, _)| *tid == id) {
                        t.2 = configs;
                    }
                }
                MetadataRecord::Partitions { id, count } => {
                    if let Some(t) = image.values_mut().find(|(tid, _, _)| *tid == id) {
                        t.1 = t.1.max(count);
                    }
                }
                MetadataRecord::BrokerConfigs {
                    node: None,
                    configs,
                } => dynamic.cluster = configs,
                MetadataRecord::BrokerConfigs {
                    node: Some(node),
                    configs,
                } => {
                    if node == config.node_id {
                        dynamic.broker = configs;
                    }
                }
            }
        }
        let effective = dynamic.effective(&config);
        if !config.in_memory {
            let live = |topic: &str, index: i32| {
                image
                    .get(topic)
                    .filter(|(_, partitions, _)| index < *partitions)
                    .map(|(id, _, _)| *id)
            };
            crate::log::dirs::sweep(&config.log_dir, &live, &|id| removed_topic_ids.contains(id))
                .map_err(|e| format!("cannot sweep {}: {e}", config.log_dir.display()))?;
        }
        let topics = Arc::new(TopicRegistry::default());
        let now = now_ms();
        for (name, (id, partitions, configs)) in image {
            let topic = open_topic(
                &effective,
                &name,
                id,
                partitions,
                configs,
                now,
                Existing(&removed_topic_ids),
            )
            .map_err(|e| format!("cannot open topic {name}: {e}"))?;
            topics.insert(Arc::new(topic));
        }
        let groups = crate::coordinator::group::runtime::open(&config, &topics, now)?;
        let flusher = Flusher::start(log_source(&topics));
        let budget_kib =
            (config.queued_max_request_bytes / 1024).clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        let broker = Arc::new(Broker {
            request_memory: Arc::new(tokio::sync::Semaphore::new(budget_kib)),
            effective: std::sync::RwLock::new(Arc::new(effective)),
            dynamic: std::sync::RwLock::new(dynamic),
            log_manager: LogManager::default(),
            config,
            cluster_id,
            topics,
            metadata: AsyncMutex::new(MetadataState {
                journal,
                next_producer_id: producer_id_block_end,
                producer_id_block_end,
                removed_topic_ids,
            }),
            flusher,
            groups,
            heavy: Arc::new(tokio::sync::Semaphore::new(heavy_threads())),
            heavy_waiting: std::sync::atomic::AtomicUsize::new(0),
        });
        let settings_of = Arc::downgrade(&broker);
        let fallback = broker.effective_config().log_manager_settings();
        broker.log_manager.start(
            log_source(&broker.topics),
            Arc::new(move || match settings_of.upgrade() {
                Some(b) => b.effective_config().log_manager_settings(),
                None => fallback.clone(),
            }),
        );
        broker.groups.start(&broker);
        Ok(broker)
    }

    /// The broker's settings with dynamic configs applied.
    pub fn effective_config(&self) -> Arc<BrokerConfig> {
        self.effective
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `bytes` more of request memory are free and adds them to `memory`. A frame
    /// reserves as its bytes arrive, so a size prefix alone holds nothing and small requests
    /// never queue behind large frames that are still waiting for their bytes. A frame larger
    /// than the whole budget holds at most the whole budget (otherwise it would wait forever).
    pub async fn reserve_request_memory(&self, memory: &mut RequestMemory, bytes: usize) {
        let total = self.request_memory_total_kib();
        let wanted = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let kib = wanted.min(total.saturating_sub(memory.kib));
        if kib == 0 {
            return;
        }
        if let Ok(permit) = self.request_memory.clone().acquire_many_owned(kib).await {
            memory.permits.push(permit);
            memory.kib += kib;
        }
    }

    /// Runs CPU-heavy work off the threads that serve connections: on tokio's blocking pool,
    /// at most `heavy_threads()` at once, so a client sending decompression bombs waits for
    /// its own work while everybody else's small requests keep flowing. `None` if the runtime
    /// is shutting down.
    pub async fn run_heavy<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        use std::sync::atomic::Ordering::Relaxed;
        self.heavy_waiting.fetch_add(1, Relaxed);
        let result = async {
            let _permit = self.heavy.clone().acquire_owned().await.ok()?;
            tokio::task::spawn_blocking(work).await.ok()
        }
        .await;
        self.heavy_waiting.fetch_sub(1, Relaxed);
        result
    }

    /// Heavy work items running or waiting for the pool right now.
    pub fn heavy_work_in_progress(&self) -> usize {
        self.heavy_waiting
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How long a frame of `len` bytes may take to arrive once its size prefix has:
    /// `vltava.request.read.timeout.ms` plus the time at the minimum rate.
    pub fn frame_read_allowance(&self, len: usize) -> std::time::Duration {
        let rate = self.config.request_read_min_bytes_per_sec.max(1);
        let ms = self
            .config
            .request_read_timeout_ms
            .saturating_add((len as u64).saturating_mul(1000) / rate);
        std::time::Duration::from_millis(ms)
    }

    /// Request memory reserved right now, in KiB.
    pub fn request_memory_in_use_kib(&self) -> u32 {
        let free = u32::try_from(self.request_memory.available_permits()).unwrap_or(u32::MAX);
        self.request_memory_total_kib().saturating_sub(free)
    }

    fn request_memory_total_kib(&self) -> u32 {
        u32::try_from((self.config.queued_max_request_bytes / 1024).max(1)).unwrap_or(u32::MAX)
    }

    /// Creates a topic (Kafka's checks, then journal, then the live image).
    pub async fn create_topic(
        &self,
        name: &str,
        num_partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, CreateTopicError> {
        validate_topic_name(name).map_err(CreateTopicError::InvalidName)?;
        let partitions = match num_partitions {
            -1 => self.config.num_partitions,
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
                    "Unable to replicate the partition {n} time(s): The target replication factor of {n} cannot be reached because only 1 broker(s) are registered."
                )));
            }
        }
        let effective = self.effective_config();
        topic_config::validate_all(&configs, &effective)
            .map_err(CreateTopicError::InvalidConfig)?;

        let mut meta = self.metadata.lock().await;
        if self.topics.get(name).is_some() {
            return Err(CreateTopicError::AlreadyExists(name.to_string()));
        }
        if let Some(other) = self.topics.collides(name) {
            return Err(CreateTopicError::InvalidName(format!(
                "Topic '{name}' collides with existing topic: {other}"
            )));
        }
        if validate_only {
            return Ok(None);
        }
        let id = random_uuid();
        let opened = open_topic(
            &effective,
            name,
            id,
            partitions,
            configs.clone(),
            now_ms(),
            New(&meta.removed_topic_ids),
        );
        let topic = match opened {
            Ok(t) => t,
            Err(e) => {
                // Typically out of file descriptors: say so, and leave nothing half-created.
                tracing::error!(topic = name, partitions, "cannot create topic: {e}");
                if !self.config.in_memory {
                    for index in 0..partitions {
                        let _ = std::fs::remove_dir_all(partition_dir(&self.config, name, index));
                    }
                }
                return Err(CreateTopicError::Storage(e));
            }
        };
        let record = MetadataRecord::Topic {
            name: name.to_string(),
            id,
            partitions,
            configs,
        };
        if let Err(e) = meta.journal.append(&record) {
            delete_topic_files(&self.config, &topic);
            return Err(CreateTopicError::Storage(e.to_string()));
        }
        let topic = Arc::new(topic);
        self.topics.insert(topic.clone());
        tracing::info!(topic = name, partitions, "created topic");
        Ok(Some(topic))
    }

    /// Deletes a topic: journal first, then the image, then the files.
    pub async fn delete_topic(&self, name: &str) -> Result<(), String> {
        let mut meta = self.metadata.lock().await;
        let Some(topic) = self.topics.get(name) else {
            return Err("unknown topic".into());
        };
        meta.journal
            .append(&MetadataRecord::RemoveTopic { id: topic.id })
            .map_err(|e| e.to_string())?;
        meta.removed_topic_ids.insert(topic.id);
        self.topics.remove(name);
        for p in &topic.partitions {
            p.mark_deleted();
        }
        delete_topic_files(&self.config, &topic);
        self.groups.topic_deleted(name);
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// A fresh producer id (InitProducerId without a transactional id always gets a new one).
    pub async fn allocate_producer_id(&self) -> Result<i64, String> {
        let mut meta = self.metadata.lock().await;
        if meta.next_producer_id >= meta.producer_id_block_end {
            let end = meta.producer_id_block_end + PRODUCER_ID_BLOCK;
            meta.journal
                .append(&MetadataRecord::ProducerIds { next: end })
                .map_err(|e| e.to_string())?;
            meta.producer_id_block_end = end;
        }
        let id = meta.next_producer_id;
        meta.next_producer_id += 1;
        Ok(id)
    }

    /// Waits until everything appended to `partition` so far is on stable storage. Concurrent
    /// callers share fsyncs (group commit).
    pub async fn flush(&self, partition: Arc<Partition>) -> Result<(), String> {
        self.flusher.flush(partition.handle().clone()).await
    }

    /// Asks for `partition` to be made durable soon, without waiting (a sealed segment).
    pub fn flush_later(&self, partition: Arc<Partition>) {
        self.flusher.flush_later(partition.handle().clone());
    }

    /// Clean shutdown: flush and close every log (writes producer snapshots and the clean
    /// shutdown marker, so the next start skips recovery).
    pub fn close(&self) {
        self.log_manager.shutdown();
        for topic in self.topics.all() {
            for p in &topic.partitions {
                if let Err(e) = p.log().close() {
                    tracing::error!(topic = %p.topic, partition = p.index, "close failed: {e}");
                }
            }
        }
    }
}

/// Threads for heavy request work: all cores but one, so one is always left for the async
/// workers that serve connections.
fn heavy_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_string())
}

pub(crate) fn partition_dir(config: &BrokerConfig, topic: &str, index: i32) -> PathBuf {
    config.log_dir.join(dirs::partition_dir_name(topic, index))
}

/// Whether the partitions being opened exist in metadata (their directories hold their data)
/// or are being created (nothing there can be theirs). Either way, the ids of deleted topics.
#[derive(Clone, Copy)]
pub(crate) enum Opening<'a> {
    Existing(&'a HashSet<Uuid>),
    New(&'a HashSet<Uuid>),
}
use Opening::{Existing, New};

fn open_topic(
    config: &BrokerConfig,
    name: &str,
    id: Uuid,
    partitions: i32,
    configs: BTreeMap<String, String>,
    now: i64,
    opening: Opening<'_>,
) -> Result<Topic, String> {
    let log_config = topic_config::log_config(&configs, config);
    let name: Arc<str> = Arc::from(name);
    let mut parts = Vec::with_capacity(partitions.max(0) as usize);
    for index in 0..partitions {
        parts.push(open_partition(
            config,
            &name,
            &id,
            index,
            &log_config,
            now,
            opening,
        )?);
    }
    Ok(Topic {
        internal: crate::coordinator::group::is_internal_topic(&name),
        name,
        id,
        partitions: parts,
        configs,
    })
}

/// Opens (creating if needed) one partition's log. A directory already there that is not this
/// partition's is settled first (`log::dirs::settle`): removed when accountable, else set aside.
pub(crate) fn open_partition(
    config: &BrokerConfig,
    name: &Arc<str>,
    id: &Uuid,
    index: i32,
    log_config: &crate::log::LogConfig,
    now: i64,
    opening: Opening<'_>,
) -> Result<Arc<Partition>, String> {
    let storage = if config.in_memory {
        Storage::Memory
    } else {
        let dir = partition_dir(config, name, index);
        let (ours, removed) = match opening {
            Existing(removed) => (Some(*id), removed),
            New(removed) => (None, removed),
        };
        dirs::settle(&dir, ours, &|x| removed.contains(x)).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        dirs::write_partition_metadata(&dir, id).map_err(|e| e.to_string())?;
        Storage::Dir(dir)
    };
    let log = PartitionLog::open(storage, log_config.clone(), now).map_err(|e| e.to_string())?;
    Ok(Arc::new(Partition::new(name.clone(), index, 0, log)))
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
fn write_meta_properties(config: &BrokerConfig, path: &std::path::Path) -> Result<String, String> {
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

/// Every live partition's log, for the background threads.
pub(crate) fn log_source(topics: &Arc<TopicRegistry>) -> LogSource {
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
