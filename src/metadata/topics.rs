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

use indexmap::IndexMap;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::log::{LogHandle, PartitionLog};

/// One partition of a topic, led by this broker.
pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    /// The leader epoch stamped into appended batches. Constant on a single node; replication
    /// will bump it on leader changes.
    pub leader_epoch: i32,
    log: Arc<LogHandle>,
    waiters: Mutex<Vec<Arc<Notify>>>,
    deleted: AtomicBool,
}

impl Partition {
    pub fn new(topic: Arc<str>, index: i32, leader_epoch: i32, log: PartitionLog) -> Partition {
        let log = Arc::new(LogHandle::new(format!("{topic}-{index}"), log));
        Partition {
            topic,
            index,
            leader_epoch,
            log,
            waiters: Mutex::new(Vec::new()),
            deleted: AtomicBool::new(false),
        }
    }

    /// Locks the log. Every holder keeps the lock for one short, non-blocking operation; a
    /// poisoned lock (a panic elsewhere) is recovered rather than spreading the failure.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        self.log.lock()
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

/// Kafka's topic name rule: 1–249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
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
    }
}
