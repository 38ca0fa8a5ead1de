//! The live topics and partitions, and the wake-ups that make long-poll fetches instant.
//!
//! `TopicRegistry` is the in-memory image of topic metadata (see `metadata.rs` for how changes
//! become durable first). Each `Partition` owns its `PartitionLog` behind a short-held mutex:
//! one writer at a time, readers copy a file region out and send it after releasing the lock.
//!
//! Waking fetches: a Fetch that has to wait registers one `Notify` with every partition it
//! reads; an append notifies every registered waiter of that partition. This is Kafka's
//! "purgatory watch key" idea without any timer wheel or polling loop. Waiters whose fetch
//! has finished are pruned whenever a new one registers, so idle partitions don't accumulate
//! them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::log::flusher::Flusher;
use crate::log::heavy::HeavyWork;
use crate::log::manager::LogManager;
use crate::log::stats::PartitionTraffic;
use crate::log::{
    AppendError, AppendOutcome, BatchHeader, Compression, ControlType, LogConfig, LogHandle,
    PartitionLog, recompress, validate_produce,
};

/// Uncompressed batches larger than this are validated on the heavy-work pool too.
const HEAVY_BATCH_BYTES: usize = 1 << 20;

/// Who appends: a client (Produce: every check, recompression) or a coordinator (its own
/// records for an internal topic: built by the broker, no client checks — Kafka's
/// `AppendOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Client,
    Coordinator,
}

/// A successful append, and what to wait for before acknowledging it.
pub struct Appended {
    pub outcome: AppendOutcome,
    /// Set when `flush.messages` / `flush.ms` ask for an fsync before the acknowledgement.
    pub durable: Option<Durable>,
}

/// An fsync to wait for (shared with concurrent appends: group commit).
pub struct Durable {
    log: Arc<LogHandle>,
    services: Arc<PartitionServices>,
}

impl Durable {
    pub async fn wait(self) -> Result<(), String> {
        self.services.flusher.flush(self.log).await
    }
}

/// What every partition shares: the group-commit flusher, the pool for heavy validation work
/// and the log's background threads.
pub struct PartitionServices {
    pub flusher: Flusher,
    pub heavy: HeavyWork,
    pub log_manager: LogManager,
}

/// One partition of a topic, led by this broker.
pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    /// The leader epoch stamped into appended batches. Constant on a single node; replication
    /// will bump it on leader changes.
    pub leader_epoch: i32,
    log: Arc<LogHandle>,
    /// Bytes and records in (every append) and out (Fetch), for the per-topic metrics.
    pub traffic: PartitionTraffic,
    waiters: Mutex<Vec<Arc<Notify>>>,
    deleted: AtomicBool,
    services: Arc<PartitionServices>,
}

impl Partition {
    pub fn new(
        topic: Arc<str>,
        index: i32,
        leader_epoch: i32,
        log: PartitionLog,
        services: Arc<PartitionServices>,
    ) -> Partition {
        let log = Arc::new(LogHandle::new(format!("{topic}-{index}"), log));
        Partition {
            topic,
            index,
            leader_epoch,
            log,
            traffic: PartitionTraffic::default(),
            waiters: Mutex::new(Vec::new()),
            deleted: AtomicBool::new(false),
            services,
        }
    }

    /// Locks the log. Every holder keeps the lock for one short, non-blocking operation; a
    /// poisoned lock (a panic elsewhere) is recovered rather than spreading the failure.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        self.log.lock()
    }

    /// The services shared by every partition.
    pub fn services(&self) -> &Arc<PartitionServices> {
        &self.services
    }

    /// The log as the background threads hold it.
    pub fn handle(&self) -> &Arc<LogHandle> {
        &self.log
    }

    /// Asks to be woken at the next append (or deletion) of this partition.
    pub fn watch(&self, waiter: &Arc<Notify>) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Only this list still holds finished fetches' notifiers: drop them.
        waiters.retain(|w| Arc::strong_count(w) > 1);
        waiters.push(waiter.clone());
    }

    /// The one append path, for Produce and for the coordinators' internal records alike:
    /// validation (CRC, every record walked, bounded decompression), recompression to the
    /// topic's `compression.type`, producer-state checks and the write, then the wake-up of
    /// waiting fetches and the flush policy. CPU-heavy batches (compressed, recompressed, or
    /// over 1 MiB) run on the heavy-work pool, never on the threads that serve connections.
    /// A coordinator's own batches skip the client checks (`Origin::Coordinator`).
    pub async fn append(
        self: &Arc<Self>,
        records: Bytes,
        origin: Origin,
        now_ms: i64,
    ) -> Result<Appended, AppendError> {
        if origin == Origin::Coordinator {
            let outcome = self
                .log()
                .append_trusted(&records, self.leader_epoch, now_ms)?;
            return Ok(self.after_append(outcome, records.len()));
        }
        let bytes = records.len();
        let config = self.log().config().clone();
        let heavy = config.compression_type.is_some()
            || records.len() > HEAVY_BATCH_BYTES
            || BatchHeader::parse(&records)
                .is_some_and(|h| h.compression() != Some(Compression::None));
        let outcome = if heavy {
            let p = self.clone();
            self.services
                .heavy
                .run(move || p.validate_and_append(&records, &config, now_ms))
                .await
                .unwrap_or_else(|| {
                    Err(AppendError::Storage(std::io::Error::other(
                        "the broker is shutting down",
                    )))
                })?
        } else {
            self.validate_and_append(&records, &config, now_ms)?
        };
        Ok(self.after_append(outcome, bytes))
    }

    /// Appends a transaction marker (the transaction coordinator's `WriteTxnMarkers`), with
    /// the same wake-ups and flush policy as any append.
    pub fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        control: ControlType,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<Appended, AppendError> {
        let outcome = self.log().append_control(
            producer_id,
            producer_epoch,
            control,
            coordinator_epoch,
            self.leader_epoch,
            now_ms,
        )?;
        Ok(self.after_append(outcome, 0))
    }

    /// Counts the append's bytes (as received) and records, wakes waiting fetches and applies
    /// the flush policy.
    fn after_append(&self, outcome: AppendOutcome, bytes: usize) -> Appended {
        if !outcome.duplicate {
            if bytes > 0 {
                self.traffic.record_in(bytes, outcome.record_count);
            }
            self.wake_watchers();
        }
        if outcome.rolled && !outcome.flush_needed {
            self.services.flusher.flush_later(self.log.clone());
        }
        let durable = outcome.flush_needed.then(|| Durable {
            log: self.log.clone(),
            services: self.services.clone(),
        });
        Appended { outcome, durable }
    }

    /// Validation, recompression and the write, as one step that may run on the heavy pool.
    fn validate_and_append(
        &self,
        records: &[u8],
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        let batch = validate_produce(records, config, now_ms, &self.log.label)?;
        match config
            .compression_type
            .map(|t| recompress(&batch, t))
            .transpose()?
        {
            Some(Some(bytes)) => {
                let batch = validate_produce(&bytes, config, now_ms, &self.log.label)?;
                self.log()
                    .append_validated(&batch, self.leader_epoch, now_ms)
            }
            _ => self
                .log()
                .append_validated(&batch, self.leader_epoch, now_ms),
        }
    }

    /// Every stored batch from the log start to the high watermark, in order (how a
    /// coordinator loads its internal partition at start-up).
    pub fn for_each_batch(&self, visit: &mut dyn FnMut(&BatchHeader, &[u8])) -> Result<(), String> {
        use std::os::unix::fs::FileExt;
        /// How much is read at once.
        const READ_BYTES: u32 = 1 << 20;
        let name = |e: &dyn std::fmt::Display| format!("{}-{}: {e}", self.topic, self.index);
        let (start, end) = {
            let log = self.log();
            (log.log_start_offset(), log.high_watermark())
        };
        let mut offset = start;
        while offset < end {
            let region = self
                .log()
                .read(offset, READ_BYTES, true)
                .map_err(|e| name(&e))?;
            let Some(region) = region else { break };
            let mut buf = vec![0u8; region.len as usize];
            region
                .file
                .read_exact_at(&mut buf, region.position)
                .map_err(|e| name(&e))?;
            let mut pos = 0usize;
            let mut progressed = false;
            while let Some(header) = buf.get(pos..).and_then(BatchHeader::parse) {
                let Some(size) = header.total_size().and_then(|s| usize::try_from(s).ok()) else {
                    break;
                };
                let Some(bytes) = buf.get(pos..pos + size) else {
                    break; // cut off by the read size: read again from this batch
                };
                if header.next_offset() > offset {
                    visit(&header, bytes);
                }
                offset = header.next_offset();
                progressed = true;
                pos += size;
            }
            if !progressed {
                return Err(name(&format!("unreadable batch at offset {offset}")));
            }
        }
        Ok(())
    }

    /// Waits until everything appended so far is on stable storage (group commit).
    pub async fn flush(&self) -> Result<(), String> {
        self.services.flusher.flush(self.log.clone()).await
    }

    /// Wakes every fetch waiting on this partition.
    pub fn wake_watchers(&self) {
        let waiters = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|e| e.into_inner()));
        for w in waiters {
            // notify_one stores a permit if the fetch is between checking and awaiting,
            // so no wake-up is lost.
            w.notify_one();
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.wake_watchers();
    }
}

/// A topic and its partitions.
pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub partitions: Vec<Arc<Partition>>,
    /// Configs set on this topic (everything else is the broker default).
    pub configs: BTreeMap<String, String>,
    pub internal: bool,
}

impl Topic {
    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

#[derive(Default)]
struct Topics {
    by_name: IndexMap<Arc<str>, Arc<Topic>>,
    by_id: HashMap<Uuid, Arc<Topic>>,
}

/// The set of live topics. Reads are frequent and cheap; changes go through `Broker`, which
/// journals them first.
#[derive(Default)]
pub struct TopicRegistry {
    inner: RwLock<Topics>,
}

impl TopicRegistry {
    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.read().by_name.get(name).cloned()
    }

    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.read().by_id.get(id).cloned()
    }

    /// All topics, in creation order.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        self.read().by_name.values().cloned().collect()
    }

    /// True when `name` collides with an existing topic once '.' and '_' are treated alike
    /// (Kafka forbids such pairs because metric names would clash).
    pub fn collides(&self, name: &str) -> Option<String> {
        let norm = |s: &str| s.replace('.', "_");
        let wanted = norm(name);
        self.read()
            .by_name
            .keys()
            .find(|k| k.as_ref() != name && norm(k) == wanted)
            .map(|k| k.to_string())
    }

    pub fn insert(&self, topic: Arc<Topic>) {
        let mut w = self.write();
        w.by_id.insert(topic.id, topic.clone());
        w.by_name.insert(topic.name.clone(), topic);
    }

    pub fn remove(&self, name: &str) -> Option<Arc<Topic>> {
        let mut w = self.write();
        let topic = w.by_name.shift_remove(name)?;
        w.by_id.remove(&topic.id);
        Some(topic)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Topics> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Topics> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Kafka's topic name rule: 1–249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`. The
/// error is Kafka 4.4's message ("Topic name is invalid: ...").
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    let reason = if name.is_empty() {
        "the empty string is not allowed".to_string()
    } else if name == "." || name == ".." {
        format!("'{name}' is not allowed")
    } else if name.encode_utf16().count() > 249 {
        // Java counts UTF-16 units.
        format!("the length of '{name}' is longer than the max allowed length 249")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        format!(
            "'{name}' contains one or more characters other than ASCII alphanumerics, '.', '_' \
             and '-'"
        )
    } else {
        return Ok(());
    };
    Err(format!("Topic name is invalid: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_topic_name("orders.v1_x-y").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name(".").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a b").is_err());
        assert!(validate_topic_name("ü").is_err());
        assert!(validate_topic_name(&"x".repeat(249)).is_ok());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
        assert_eq!(
            validate_topic_name("a b").unwrap_err(),
            "Topic name is invalid: 'a b' contains one or more characters other than ASCII \
             alphanumerics, '.', '_' and '-'"
        );
        assert_eq!(
            validate_topic_name("..").unwrap_err(),
            "Topic name is invalid: '..' is not allowed"
        );
    }
}
