//! The log engine: one `PartitionLog` per topic partition, stored in Kafka's own on-disk layout
//! (`<base>.log` / `.index` / `.timeindex`, `leader-epoch-checkpoint`), so Kafka's dump tools
//! can read it.
//!
//! - `batch`: the v2 batch header, produce validation with Kafka's error codes, a batch builder;
//! - `record`: records inside a batch (only walked on rare paths);
//! - `compression`: codecs with bounded decompression;
//! - `segment`, `index`, `time_index`: one segment and its two sparse indexes;
//! - `producer_state`: idempotent-producer sequence and duplicate checks, ongoing
//!   transactions, snapshots;
//! - `txn_index`: aborted transactions (`.txnindex`), for read_committed fetches;
//! - `leader_epoch`: the leader epoch cache and its checkpoint file;
//! - `partition_log`: the partition's log: append, read (sendfile regions), ListOffsets
//!   look-ups, group-commit flush jobs, recovery at open, clean close;
//! - `retention`: deleting old segments (`retention.ms`, `retention.bytes`, log start offset);
//! - `cleaner`: log compaction (offset map, cleaned segments built aside, swapped under the lock);
//! - `ids`, `clock`: random UUIDs and Kafka's text form of them; wall-clock milliseconds (for
//!   the threads that drive the engine; the engine itself takes time as an argument);
//! - `file`: directory or memfd files, vectored positional writes, atomic small-file replace;
//! - `verify`: full offline checks (`vltava verify`) and the online scrub's steps;
//! - `stats`: counters the log keeps about itself (fsync latency, retention, cleaner,
//!   per-partition traffic) for the metrics served over HTTP;
//! - `dirs`: the log directory: partition directory names, `partition.metadata`, and what
//!   happens to directories no topic claims (removed when accountable, set aside otherwise).
//!
//! See NOTES.md for what is deliberately different from Kafka.

use std::sync::Arc;

pub mod batch;
pub mod cleaner;
pub mod clock;
pub mod compression;
pub mod dirs;
pub mod error;
pub mod faults;
mod file;
pub mod flusher;
pub mod handle;
pub mod heavy;
pub mod ids;
mod index;
mod leader_epoch;
pub mod manager;
pub mod partition_log;
pub mod producer_state;
pub mod record;
pub mod retention;
mod segment;
pub mod stats;
mod time_index;
pub mod txn_index;
pub mod verify;

pub use batch::{
    BatchHeader, BatchOptions, ControlType, NewRecord, ValidatedBatch, build_batch,
    build_control_batch, recompress, validate_produce,
};
pub use cleaner::{CleanError, CleanStats, clean_log};
pub use clock::now_ms;
pub use compression::Compression;
pub use error::{AppendError, LogError, ReadError, RecordError};
pub use handle::{LogHandle, LogSource};
pub use partition_log::{AppendOutcome, FlushJob, Offline, PartitionLog, TimestampLookup};
pub use retention::DeletedFiles;

/// How a partition's files are kept.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A directory such as `<log.dirs>/<topic>-<partition>/`.
    Dir(std::path::PathBuf),
    /// Anonymous memory files (memfd): the same code path, nothing left on disk.
    Memory,
}

/// Whether the broker or the producer stamps record timestamps (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// Per-partition settings, resolved from broker defaults and topic overrides.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment when it would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment when its first batch is older than this.
    pub segment_ms: i64,
    /// `index.interval.bytes`: bytes of log between two offset-index entries.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync after this many messages (u64::MAX = leave it to the OS).
    pub flush_interval_messages: u64,
    /// `flush.ms`: fsync when the oldest unflushed append is this old (u64::MAX = never).
    pub flush_interval_ms: u64,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.before.max.ms`.
    pub timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`.
    pub timestamp_after_max_ms: i64,
    /// `retention.ms`: whole segments whose newest record is older than this are deleted
    /// (negative: no time limit). Applies when `cleanup_delete`.
    pub retention_ms: i64,
    /// `retention.bytes`: oldest segments are deleted while the log is larger than this
    /// (negative: no size limit). Applies when `cleanup_delete`.
    pub retention_bytes: i64,
    /// `cleanup.policy` contains `delete`.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`: the cleaner keeps the latest record per key, and
    /// produced records must carry keys.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long a tombstone stays readable once the cleaner has seen it.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`: the share of uncleaned bytes that makes a log worth cleaning.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty segment older than this is cleaned whatever the ratio.
    pub max_compaction_lag_ms: i64,
    /// `compression.type`: the codec appended batches are stored with; `None` for `producer`
    /// (keep what the producer sent).
    pub compression_type: Option<Compression>,
}

impl Default for LogConfig {
    /// Kafka 4's topic defaults.
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            index_interval_bytes: 4096,
            flush_interval_messages: u64::MAX,
            flush_interval_ms: u64::MAX,
            timestamp_type: TimestampType::CreateTime,
            max_message_bytes: 1_048_588,
            timestamp_before_max_ms: i64::MAX,
            // KIP-1030: one hour since Kafka 4.0.
            timestamp_after_max_ms: 60 * 60 * 1000,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            compression_type: None,
        }
    }
}

/// A byte range of a segment file, sent to clients with sendfile (or copied, for TLS).
#[derive(Debug, Clone)]
pub struct FileRegion {
    pub file: Arc<std::fs::File>,
    pub position: u64,
    pub len: u32,
}
