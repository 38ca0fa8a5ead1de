//! `PartitionLog`: one partition's log, Kafka's `UnifiedLog` + `LocalLog` + `LogLoader` for a
//! single node. Not thread-safe: the caller keeps it in a `Mutex`, and every method does a bounded
//! amount of work (no fsync on the append path; group commit goes through `flush_job`).
//!
//! Produce: `batch::validate_produce` (pure; call it outside the lock) then `append_validated`:
//! duplicate and sequence checks, roll if needed, leader-epoch checkpoint on a new epoch, one
//! `pwritev` of the patched 61-byte header copy plus the client's record bytes.
//!
//! Directory layout (Kafka's where Kafka has the file):
//! - `<base>.log`, `<base>.index`, `<base>.timeindex` per segment (see segment.rs);
//! - `leader-epoch-checkpoint` (Kafka's format);
//! - `<offset>.snapshot`: producer state as of that offset (own layout, see producer_state.rs),
//!   written at roll and clean close; the newest two are kept;
//! - `log-start-offset` and `recovery-point-offset`: this engine's per-partition stand-ins for
//!   Kafka's per-directory `log-start-offset-checkpoint` / `recovery-point-offset-checkpoint`,
//!   each `0\n<offset>\n`;
//! - `.clean-shutdown`: written by `close`, removed by `open` (Kafka's `.kafka_cleanshutdown`
//!   lives one level up, per log directory).
//!
//! Recovery at open (unclean): segments from the one holding the recovery point onwards are
//! checked batch by batch (CRC32C) with indexes rebuilt and a torn final append truncated.
//! Unlike Kafka's `LogLoader`, invalid bytes anywhere else (valid batches after them, a segment
//! that is not the last, data written before a clean shutdown) are never cut: the partition
//! opens offline with its files untouched (see `Offline::Corrupt`).
//! Older segments (and all of them after a clean shutdown) get their indexes checked and are
//! recovered only if an index or the tail after the last index entry looks wrong.
//!
//! Left out: retention and compaction, transactions and the last stable offset, replication
//! (the high watermark is kept separately but follows the log end), truncation.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{
    self, BatchHeader, ControlType, HEADER_LEN, MAX_DECOMPRESSED_BATCH_BYTES,
    PARTITION_LEADER_EPOCH_OFFSET, ValidatedBatch,
};
use super::cleaner::{self, CleanerState};
use super::compression::{self, Compression};
use super::error::{AppendError, LogError, ReadError};
use super::file::{self, Place};
use super::leader_epoch::LeaderEpochCache;
use super::producer_state::{CompletedTxn, ProducerStateManager};
use super::record;
use super::segment::{HeaderScanner, INDEX_SUFFIX, LOG_SUFFIX, Scan, Segment, TIME_INDEX_SUFFIX};
use super::txn_index::{AbortedTxn, TxnIndex};
use super::{FileRegion, LogConfig, Storage, TimestampType};

pub(crate) const SNAPSHOT_SUFFIX: &str = ".snapshot";
pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset";
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point-offset";
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
/// Producer snapshots kept on disk.
const SNAPSHOTS_KEPT: usize = 2;
/// A producer snapshot larger than this is refused (it would describe ~8M producers).
const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// Result of a successful append (or of a recognised duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The broker's timestamp for LogAppendTime topics, -1 for CreateTime.
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    /// The batch had already been appended (idempotent retry): offsets are the original ones.
    pub duplicate: bool,
    /// `flush.messages` / `flush.ms` say the log should be fsynced now.
    pub flush_needed: bool,
    /// This append sealed the previous segment, which should now be fsynced in the background.
    pub rolled: bool,
    pub record_count: u64,
}

/// Files to fdatasync, outside the partition lock, to make offsets below `up_to_offset`
/// durable; then call `mark_flushed(up_to_offset)`.
#[derive(Debug, Clone)]
pub struct FlushJob {
    pub files: Vec<Arc<File>>,
    pub up_to_offset: i64,
}

/// Why a log is offline. Kafka takes a whole log directory offline on an I/O error; here only
/// the partition that failed is, and a full disk heals by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offline {
    /// `close` ran (shutdown): appends are refused.
    Closed,
    /// Stored bytes failed a check. Nothing is read or written until an operator repairs the
    /// partition (`vltava verify` names the damage); other partitions are unaffected.
    Corrupt(String),
    /// A write failed. When the disk was full (`ENOSPC`, `EDQUOT`) the next append after
    /// `retry_at_ms` tries again and brings the log back if it succeeds; any other error keeps
    /// the log offline until a restart.
    WriteFailed {
        error: String,
        retry_at_ms: Option<i64>,
        /// Failed retries so far (the back-off doubles with each, up to 30 s).
        retries: u32,
    },
}

impl std::fmt::Display for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Offline::Closed => f.write_str("the log is closed"),
            Offline::Corrupt(why) => write!(f, "the log is corrupt: {why}"),
            Offline::WriteFailed { error, .. } => write!(f, "a write failed: {error}"),
        }
    }
}

/// First wait before a write is retried on a full disk; it doubles up to `DISK_FULL_RETRY_MAX_MS`.
const DISK_FULL_RETRY_MS: i64 = 500;
const DISK_FULL_RETRY_MAX_MS: i64 = 30_000;

fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// One partition's log. See the module documentation.
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) place: Place,
    pub(super) config: LogConfig,
    /// Sorted by base offset; the last one is the active segment. Never empty.
    pub(super) segments: Vec<Segment>,
    pub(super) log_start_offset: i64,
    pub(super) high_watermark: i64,
    pub(super) producers: ProducerStateManager,
    epochs: LeaderEpochCache,
    /// Everything below this offset is durable (fsynced log, and indexes of sealed segments).
    pub(super) recovery_point: i64,
    /// Base offset of the segment holding the recovery point when it was last persisted.
    persisted_recovery_segment: i64,
    unflushed_messages: u64,
    oldest_unflushed_append_ms: Option<i64>,
    /// Other files to fsync (snapshots), tagged with the smallest `up_to_offset` of a flush
    /// job that covers them.
    pub(super) pending_sync: Vec<(i64, Arc<File>)>,
    /// The directory needs an fsync (files created, renamed or removed), with the largest tag
    /// registered. It is opened only by the flush job, so a partition holds no directory
    /// descriptor while it waits (with the default flush policy that can be forever).
    pending_dir_sync: Option<i64>,
    /// Why the log refuses appends (and, when corrupt, reads): see [`Offline`].
    pub(super) offline: Option<Offline>,
    /// Names the partition in log lines ("orders-3").
    pub(super) label: String,
    /// Compaction progress (see cleaner.rs).
    pub(super) cleaner: CleanerState,
    /// Aborted transactions (see txn_index.rs).
    pub(super) txns: TxnIndex,
}

impl PartitionLog {
    /// Opens or creates the log; on an existing directory runs recovery (see the module docs).
    pub fn open(
        storage: Storage,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<PartitionLog, LogError> {
        match storage {
            Storage::Memory => {
                let place = Place::Memory;
                let segment = Segment::create(&place, 0, now_ms)?;
                Ok(PartitionLog::assemble(place, config, vec![segment], 0))
            }
            Storage::Dir(dir) => Self::open_dir(dir, config, now_ms),
        }
    }

    fn assemble(
        place: Place,
        config: LogConfig,
        segments: Vec<Segment>,
        log_start_offset: i64,
    ) -> PartitionLog {
        let leo = segments.last().map_or(0, |s| s.next_offset);
        PartitionLog {
            place,
            config,
            segments,
            log_start_offset,
            high_watermark: leo,
            producers: ProducerStateManager::new(),
            epochs: LeaderEpochCache::in_memory(),
            recovery_point: leo,
            persisted_recovery_segment: -1,
            unflushed_messages: 0,
            oldest_unflushed_append_ms: None,
            pending_sync: Vec::new(),
            pending_dir_sync: None,
            offline: None,
            label: String::new(),
            cleaner: CleanerState::default(),
            txns: TxnIndex::default(),
        }
    }

    /// Opens a directory's log. Damage found on the way (bytes that are neither valid batches
    /// nor a torn final append, overlapping segments) does not stop the broker: the log opens
    /// offline (`Offline::Corrupt`, KAFKA_STORAGE_ERROR to clients) with nothing on disk
    /// changed, and the error is logged loudly.
    fn open_dir(dir: PathBuf, config: LogConfig, now_ms: i64) -> Result<PartitionLog, LogError> {
        let why = match Self::load_dir(dir.clone(), config.clone(), now_ms) {
            Err(LogError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => e.to_string(),
            Err(LogError::Corrupt(why)) => why,
            other => return other,
        };
        let mut log = Self::offline_placeholder(dir.clone(), config, now_ms)?;
        log.set_label(
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let _ = log.go_corrupt(why);
        Ok(log)
    }

    /// A log that only holds the damaged directory's files open, read-only, for a partition that
    /// serves nothing until it is repaired.
    fn offline_placeholder(
        dir: PathBuf,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<PartitionLog, LogError> {
        let place = Place::Dir(dir.clone());
        let mut segments = Vec::new();
        for base in DirListing::read(&dir)?.log_bases {
            segments.push(Segment::open_untouched(&place, base)?);
        }
        if segments.is_empty() {
            segments.push(Segment::create(&Place::Memory, 0, now_ms)?);
        }
        let start = segments[0].base_offset;
        Ok(PartitionLog::assemble(place, config, segments, start))
    }

    fn load_dir(dir: PathBuf, config: LogConfig, now_ms: i64) -> Result<PartitionLog, LogError> {
        std::fs::create_dir_all(&dir)?;
        let place = Place::Dir(dir.clone());
        let clean = dir.join(CLEAN_SHUTDOWN_FILE).exists();
        cleaner::complete_interrupted_swaps(&dir)?;
        let listing = DirListing::read(&dir)?;
        let persisted_start = read_offset_file(&dir, LOG_START_OFFSET_FILE)?;
        let recovery_point = if clean {
            i64::MAX
        } else {
            read_offset_file(&dir, RECOVERY_POINT_FILE)?.unwrap_or(0)
        };

        let mut recovered_epochs: Vec<(i32, i64)> = Vec::new();
        let mut segments: Vec<Segment> = Vec::new();
        let mut recovered_any = false;
        for (i, &base) in listing.log_bases.iter().enumerate() {
            let next_base = listing.log_bases.get(i + 1).copied();
            let recover = !clean && next_base.is_none_or(|next| next > recovery_point);
            // Only the log end, above the recovery point, can hold a torn append (a crash in
            // the middle of a write).
            let torn_tail_from = (recover && next_base.is_none()).then_some(recovery_point);
            let mut on_batch =
                |h: &BatchHeader| recovered_epochs.push((h.partition_leader_epoch, h.base_offset));
            let (segment, truncated) = Segment::open(
                &place,
                base,
                recover,
                torn_tail_from,
                config.index_interval_bytes,
                now_ms,
                &mut on_batch,
            )?;
            if let Some(prev) = segments.last()
                && prev.next_offset > segment.base_offset
            {
                return Err(LogError::Corrupt(format!(
                    "segment {} overlaps the previous one, which ends at offset {}",
                    segment.base_offset, prev.next_offset
                )));
            }
            recovered_any |= recover || truncated > 0;
            segments.push(segment);
        }
        if segments.is_empty() {
            segments.push(Segment::create(
                &place,
                persisted_start.unwrap_or(0).max(0),
                now_ms,
            )?);
            recovered_any = true;
        }
        let first_base = segments[0].base_offset;
        let leo = segments.last().map_or(0, |s| s.next_offset);
        let log_start_offset = persisted_start
            .unwrap_or(first_base)
            .max(first_base)
            .min(leo);

        let mut log = PartitionLog::assemble(place, config, segments, log_start_offset);
        log.load_leader_epochs(&dir, recovered_epochs)?;
        let bases: Vec<i64> = log.segments.iter().map(|s| s.base_offset).collect();
        log.txns = TxnIndex::load(&log.place, &bases, leo)?;
        log.load_producer_state(&dir, &listing.snapshots)?;
        log.cleaner = CleanerState::load(&dir);
        log.recovery_point = if clean { leo } else { recovery_point.min(leo) };
        if recovered_any {
            // Recovered or new files: their directory entries and truncations become durable with
            // the next flush job.
            log.register_pending_dir(leo);
        }
        if clean {
            std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE))?;
            file::sync_dir(&dir)?;
        }
        log.check_invariants();
        Ok(log)
    }

    fn load_leader_epochs(
        &mut self,
        dir: &Path,
        recovered: Vec<(i32, i64)>,
    ) -> Result<(), LogError> {
        let leo = self.log_end_offset();
        let (mut cache, found) = LeaderEpochCache::load(dir.to_path_buf(), leo)?;
        let mut changed = false;
        if !found && leo > self.segments[0].base_offset {
            // No checkpoint: rebuild from every batch header.
            for segment in &self.segments {
                let mut scanner = HeaderScanner::new(&segment.log, 0, segment.size);
                while let Scan::Batch { header, .. } = scanner.next()? {
                    changed |= cache.assign(header.partition_leader_epoch, header.base_offset);
                }
            }
        }
        for (epoch, start) in recovered {
            changed |= cache.assign(epoch, start);
        }
        if changed {
            cache.write_checkpoint()?;
        }
        self.epochs = cache;
        Ok(())
    }

    /// Newest usable snapshot at or below the log end, then replay of batch headers after it.
    fn load_producer_state(&mut self, dir: &Path, snapshots: &[i64]) -> Result<(), LogError> {
        let leo = self.log_end_offset();
        let mut from = self.log_start_offset;
        let mut state = ProducerStateManager::new();
        let mut newest_first = snapshots.to_vec();
        newest_first.sort_unstable_by(|a, b| b.cmp(a));
        let mut found = false;
        for offset in newest_first {
            let name = file::offset_file_name(offset, SNAPSHOT_SUFFIX);
            if found || offset > leo {
                if offset > leo {
                    self.place.remove(&name)?;
                }
                continue;
            }
            let loaded = file::read_optional(&dir.join(&name), MAX_SNAPSHOT_BYTES)
                .ok()
                .flatten()
                .and_then(|bytes| ProducerStateManager::from_snapshot(&bytes));
            match loaded {
                Some(s) => {
                    state = s;
                    from = offset.max(self.log_start_offset);
                    found = true;
                }
                None => {
                    tracing::warn!(snapshot = %name, "ignoring unreadable producer snapshot");
                    self.place.remove(&name)?;
                }
            }
        }
        // Replays the batches after the snapshot; markers close transactions, and aborted ones
        // are (re)recorded in the transaction index (adding a known one is a no-op).
        let mut aborted = Vec::new();
        for segment in self.segments.iter().filter(|s| s.next_offset > from) {
            let start = match segment.find_batch(from)? {
                Some((position, _)) => position,
                None => continue,
            };
            let mut scanner = HeaderScanner::new(&segment.log, start, segment.size);
            while let Scan::Batch { header, position } = scanner.next()? {
                if header.base_offset < from {
                    continue;
                }
                if !header.is_control() {
                    state.update(&header, header.base_offset, header.max_timestamp);
                    continue;
                }
                let bytes =
                    super::segment::read_batch_at(&segment.log, segment.size, position, &header)?;
                let rest = bytes.get(HEADER_LEN..).unwrap_or(&[]);
                let Some(control) = batch::control_type(&header, rest) else {
                    state.update(&header, header.base_offset, header.max_timestamp);
                    continue;
                };
                let coordinator_epoch = batch::control_coordinator_epoch(&header, rest);
                if let Some(done) =
                    state.complete_txn(&header, header.base_offset, control, coordinator_epoch)
                    && done.aborted
                {
                    let lso = state
                        .first_unstable_offset()
                        .unwrap_or(done.last_offset + 1);
                    aborted.push((segment.base_offset, aborted_txn(&done, lso)));
                }
            }
        }
        for (segment_base, txn) in aborted {
            self.txns.add(&self.place, segment_base, txn)?;
        }
        self.producers = state;
        Ok(())
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Applies changed topic settings (they take effect from the next append).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Total bytes of all segments (DescribeLogDirs).
    pub fn size_in_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The leader epoch cache: (epoch, start offset) pairs, increasing.
    pub fn leader_epochs(&self) -> &[(i32, i64)] {
        self.epochs.entries()
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// OffsetForLeaderEpoch: the largest known epoch <= `epoch` and its end offset.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The producer's epoch and last sequence (DescribeProducers, tests).
    pub fn producer_state(&self, producer_id: i64) -> Option<(i16, i32)> {
        let entry = self.producers.entry(producer_id)?;
        Some((entry.epoch, entry.last_seq().unwrap_or(-1)))
    }

    pub(super) fn active(&self) -> &Segment {
        // `segments` is never empty (open creates one); the fallback keeps this panic-free.
        self.segments
            .last()
            .unwrap_or_else(|| unreachable!("a partition log always has an active segment"))
    }

    pub(super) fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .unwrap_or_else(|| unreachable!("a partition log always has an active segment"))
    }

    /// Validates and appends; see `batch::validate_produce` and `append_validated`.
    pub fn append(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        let validated = batch::validate_produce(records, &self.config, now_ms, &self.label)?;
        self.append_validated(&validated, leader_epoch, now_ms)
    }

    /// Appends a batch validated with this log's config: producer-state checks, offset
    /// assignment, roll, one vectored write. No record bytes are copied.
    pub fn append_validated(
        &mut self,
        batch: &ValidatedBatch<'_>,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        self.append_checked(batch, leader_epoch, now_ms, true)
    }

    /// Appends a batch a coordinator built (its records for an internal topic; transactional
    /// offset commits carry the producer's id and epoch but no sequence): not checked as a
    /// client's would be, no duplicate or sequence checks (Kafka's `AppendOrigin.COORDINATOR`).
    pub fn append_trusted(
        &mut self,
        bytes: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        let batch = batch::trusted_batch(bytes)?;
        self.append_checked(&batch, leader_epoch, now_ms, false)
    }

    fn append_checked(
        &mut self,
        batch: &ValidatedBatch<'_>,
        leader_epoch: i32,
        now_ms: i64,
        client: bool,
    ) -> Result<AppendOutcome, AppendError> {
        let probing = match &self.offline {
            None => false,
            Some(Offline::WriteFailed {
                retry_at_ms: Some(at),
                ..
            }) if now_ms >= *at => true,
            Some(reason) => {
                return Err(AppendError::Storage(io::Error::other(format!(
                    "partition log {} is offline: {reason}",
                    self.label
                ))));
            }
        };
        if super::faults::DISK.disk_full(now_ms) {
            // Injected (crate::fault): what a write hitting ENOSPC reports, before any state
            // changes, so the partition stays online once the fault ends.
            return Err(AppendError::Storage(io::Error::from_raw_os_error(
                libc::ENOSPC,
            )));
        }
        let h = &batch.fields;
        // Markers are checked by `append_control` (their epoch may be a bumped one).
        if client && h.has_producer_id() && !h.is_control() {
            if let Some(dup) = self.producers.find_duplicate(h) {
                return Ok(AppendOutcome {
                    base_offset: dup.first_offset(),
                    last_offset: dup.last_offset,
                    // Kafka answers a duplicate with the timestamp it kept for the batch (its
                    // max timestamp), whatever the topic's timestamp type.
                    log_append_time_ms: dup.timestamp,
                    log_start_offset: self.log_start_offset,
                    duplicate: true,
                    flush_needed: false,
                    rolled: false,
                    record_count: batch.record_count(),
                });
            }
            self.producers.check(h)?;
        }
        let base_offset = self.log_end_offset();
        let last_offset = base_offset + i64::from(h.last_offset_delta);
        let active = self.active();
        let mut rolled = false;
        if active.size > 0
            && active.should_roll(
                self.config.segment_bytes,
                self.config.segment_ms,
                batch.size(),
                batch.max_timestamp,
                last_offset,
                now_ms,
            )
        {
            self.roll(now_ms).map_err(|e| self.go_offline(e, now_ms))?;
            rolled = true;
        }
        if self.epochs.assign(leader_epoch, base_offset) {
            self.epochs
                .write_checkpoint()
                .map_err(|e| self.go_offline(e, now_ms))?;
        }
        let mut header = batch.header;
        header[0..8].copy_from_slice(&base_offset.to_be_bytes());
        header[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
            .copy_from_slice(&leader_epoch.to_be_bytes());
        let interval = self.config.index_interval_bytes;
        let written = self.active_mut().append(
            &header,
            batch.rest,
            last_offset,
            batch.max_timestamp,
            interval,
        );
        written.map_err(|e| self.go_offline(e, now_ms))?;
        if probing {
            tracing::warn!(
                partition = %self.label,
                "a write succeeded again after the disk was full; the partition is back online"
            );
            self.offline = None;
        }
        self.producers.update(h, base_offset, batch.max_timestamp);
        self.high_watermark = self.log_end_offset();
        self.unflushed_messages += batch.record_count();
        self.oldest_unflushed_append_ms.get_or_insert(now_ms);
        self.check_invariants();
        Ok(AppendOutcome {
            base_offset,
            last_offset,
            log_append_time_ms: batch.log_append_time_ms,
            log_start_offset: self.log_start_offset,
            duplicate: false,
            flush_needed: self.flush_due(now_ms),
            rolled,
            record_count: batch.record_count(),
        })
    }

    /// Appends a transaction marker (commit or abort) for `producer_id`, as the transaction
    /// coordinator's `WriteTxnMarkers` does: Kafka's marker checks (producer and coordinator
    /// epochs), then the control batch; the producer's open transaction closes, an aborted one
    /// is recorded in the transaction index, and the last stable offset moves.
    pub fn append_control(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        control: ControlType,
        coordinator_epoch: i32,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendOutcome, AppendError> {
        self.producers
            .check_marker(producer_id, producer_epoch, coordinator_epoch)?;
        let bytes = batch::build_control_batch(
            producer_id,
            producer_epoch,
            control,
            coordinator_epoch,
            now_ms,
        )
        .map_err(AppendError::Storage)?;
        let batch = batch::trusted_batch(&bytes)?;
        let outcome = self.append_checked(&batch, leader_epoch, now_ms, false)?;
        if let Some(done) = self.producers.complete_txn(
            &batch.fields,
            outcome.base_offset,
            control,
            coordinator_epoch,
        ) && done.aborted
        {
            let lso = self
                .producers
                .first_unstable_offset()
                .unwrap_or(done.last_offset + 1);
            let segment_base = self.active().base_offset;
            let txn = aborted_txn(&done, lso);
            self.txns
                .add(&self.place, segment_base, txn)
                .map_err(|e| self.go_offline(e, now_ms))?;
        }
        Ok(outcome)
    }

    /// The last stable offset: below it every transaction is decided (Kafka's LSO), so a
    /// `read_committed` consumer reads up to here.
    pub fn last_stable_offset(&self) -> i64 {
        self.producers
            .first_unstable_offset()
            .map_or(self.high_watermark, |first| first.min(self.high_watermark))
    }

    /// The aborted transactions a `read_committed` fetch of `[fetch_offset, upper_bound)` must
    /// report: (producer id, first offset).
    pub fn aborted_transactions(&self, fetch_offset: i64, upper_bound: i64) -> Vec<(i64, i64)> {
        self.txns
            .overlapping(fetch_offset, upper_bound)
            .into_iter()
            .map(|t| (t.producer_id, t.first_offset))
            .collect()
    }

    /// How far the aborted transactions of a `read_committed` fetch at `fetch_offset` reach:
    /// the end of the segment the read starts in (a read never crosses it), or the last stable
    /// offset if that comes first. Like Kafka's bound (the index entry after the read), it may
    /// lie past the bytes returned; the extra entries are ones the consumer reaches next.
    pub fn aborted_upper_bound(&self, fetch_offset: i64) -> i64 {
        let i = self
            .segments
            .partition_point(|s| s.base_offset <= fetch_offset)
            .saturating_sub(1);
        let lso = self.last_stable_offset();
        self.segments.get(i).map_or(lso, |s| s.next_offset.min(lso))
    }

    /// Whether the producer has a transaction open in this partition at this epoch (its
    /// first transactional batch here was appended and no marker has closed it yet).
    pub fn has_ongoing_transaction(&self, producer_id: i64, epoch: i16) -> bool {
        self.producers
            .entry(producer_id)
            .is_some_and(|e| e.epoch == epoch && e.current_txn_first_offset >= 0)
    }

    /// Producer states (DescribeProducers): id, epoch, last sequence, last timestamp,
    /// coordinator epoch, first offset of the open transaction (-1 if none).
    pub fn producer_states(&self) -> Vec<(i64, i16, i32, i64, i32, i64)> {
        let mut out: Vec<_> = self
            .producers
            .producers()
            .map(|(id, e)| {
                (
                    id,
                    e.epoch,
                    e.last_seq().unwrap_or(-1),
                    e.last_timestamp,
                    e.coordinator_epoch,
                    e.current_txn_first_offset,
                )
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// A write failed: offline until a retry succeeds (disk full) or for good (anything else).
    fn go_offline(&mut self, e: io::Error, now_ms: i64) -> AppendError {
        let retries = match &self.offline {
            Some(Offline::WriteFailed { retries, .. }) => retries + 1,
            _ => 0,
        };
        let retry_at_ms = is_disk_full(&e).then(|| {
            let wait = DISK_FULL_RETRY_MS
                .saturating_mul(1i64 << retries.min(16))
                .min(DISK_FULL_RETRY_MAX_MS);
            now_ms.saturating_add(wait)
        });
        if retries == 0 {
            match retry_at_ms {
                Some(_) => tracing::error!(
                    partition = %self.label, error = %e,
                    "the disk is full: appends to this partition fail until space is freed \
                     (retried with a back-off; reads continue)"
                ),
                None => tracing::error!(
                    partition = %self.label, error = %e,
                    "write failed; the partition is offline until a restart"
                ),
            }
        }
        self.offline = Some(Offline::WriteFailed {
            error: e.to_string(),
            retry_at_ms,
            retries,
        });
        AppendError::Storage(e)
    }

    /// Stored bytes failed a check on the read path: the partition goes offline, loudly, so no
    /// reader is sent past the damage or left waiting in front of it.
    pub(super) fn go_corrupt(&mut self, why: String) -> ReadError {
        if !matches!(self.offline, Some(Offline::Corrupt(_))) {
            tracing::error!(
                partition = %self.label,
                "CORRUPT DATA: {why}; the partition is offline (KAFKA_STORAGE_ERROR) until it is \
                 repaired; run `vltava verify` on its directory for a full report"
            );
            self.offline = Some(Offline::Corrupt(why.clone()));
        }
        ReadError::Corrupt(why)
    }

    /// Err when the log's data is damaged: nothing may be read from it (offsets included).
    pub fn check_readable(&self) -> Result<(), LogError> {
        match &self.offline {
            Some(Offline::Corrupt(why)) => Err(LogError::Corrupt(why.clone())),
            _ => Ok(()),
        }
    }

    /// Why the log is offline, if it is.
    pub fn offline(&self) -> Option<&Offline> {
        self.offline.as_ref()
    }

    /// Names the partition in this log's messages.
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.label = label.into();
    }

    /// Seals the active segment and starts a new one at the log end; takes a producer snapshot
    /// there. The sealed segment's fsync is left to the next flush job.
    pub(super) fn roll(&mut self, now_ms: i64) -> io::Result<()> {
        let new_base = self.log_end_offset();
        self.active_mut().seal()?;
        let segment = Segment::create(&self.place, new_base, now_ms)?;
        self.segments.push(segment);
        // Covered by a flush job taken after the append that triggered this roll.
        self.register_pending_dir(new_base + 1);
        if let Some(snapshot) = self.write_snapshot(new_base, false)? {
            self.pending_sync.push((new_base + 1, snapshot));
        }
        self.prune_snapshots()?;
        Ok(())
    }

    /// Queues the directory for an fsync (new or renamed files). The directory is opened by the
    /// flush job, not now: waiting partitions hold no descriptor for it.
    pub(super) fn register_pending_dir(&mut self, tag: i64) {
        if self.place.dir().is_some() {
            self.pending_dir_sync = Some(self.pending_dir_sync.map_or(tag, |t| t.max(tag)));
        }
    }

    /// Writes `<offset>.snapshot` (temp file + rename); returns the file for a later fsync.
    fn write_snapshot(&self, offset: i64, sync: bool) -> io::Result<Option<Arc<File>>> {
        let Some(dir) = self.place.dir() else {
            return Ok(None);
        };
        let name = file::offset_file_name(offset, SNAPSHOT_SUFFIX);
        file::replace_file(dir, &name, &self.producers.to_snapshot(), sync)?;
        Ok(Some(Arc::new(File::open(dir.join(name))?)))
    }

    fn prune_snapshots(&self) -> io::Result<()> {
        let Some(dir) = self.place.dir() else {
            return Ok(());
        };
        let mut snapshots = DirListing::read(dir)?.snapshots;
        snapshots.sort_unstable();
        let excess = snapshots.len().saturating_sub(SNAPSHOTS_KEPT);
        for offset in &snapshots[..excess] {
            self.place
                .remove(&file::offset_file_name(*offset, SNAPSHOT_SUFFIX))?;
        }
        Ok(())
    }

    /// Fetch: bytes starting at the batch holding `fetch_offset`, at most `max_bytes` (Kafka may
    /// cut the last batch; clients handle that) but the whole first batch when `min_one_batch`
    /// (KIP-74), never past the high watermark, never across segments. `Ok(None)` when there is
    /// nothing to send (at the high watermark, or `max_bytes` 0 without `min_one_batch`).
    ///
    /// Damage found on the way (see `Segment::find_batch`) takes the partition offline
    /// (`Offline::Corrupt`) and answers KAFKA_STORAGE_ERROR from then on.
    pub fn read(
        &mut self,
        fetch_offset: i64,
        max_bytes: u32,
        min_one_batch: bool,
    ) -> Result<Option<FileRegion>, ReadError> {
        let upper = self.high_watermark;
        self.read_to(fetch_offset, max_bytes, min_one_batch, upper)
    }

    /// `read`, for `read_committed` consumers: never past the last stable offset.
    pub fn read_committed(
        &mut self,
        fetch_offset: i64,
        max_bytes: u32,
        min_one_batch: bool,
    ) -> Result<Option<FileRegion>, ReadError> {
        let upper = self.last_stable_offset();
        self.read_to(fetch_offset, max_bytes, min_one_batch, upper)
    }

    fn read_to(
        &mut self,
        fetch_offset: i64,
        max_bytes: u32,
        min_one_batch: bool,
        upper: i64,
    ) -> Result<Option<FileRegion>, ReadError> {
        if let Some(Offline::Corrupt(why)) = &self.offline {
            return Err(ReadError::Corrupt(why.clone()));
        }
        let found = self
            .find_region(fetch_offset, max_bytes, min_one_batch, upper)
            .and_then(|found| {
                // Every batch header the region carries is checked once before it is served.
                if let Some((i, region, first)) = &found {
                    self.segments[*i].verify_region(region.position, first, region.len)?;
                }
                Ok(found)
            });
        match found {
            Ok(found) => Ok(found.map(|(_, region, _)| region)),
            Err(ReadError::Storage(e)) if e.kind() == io::ErrorKind::InvalidData => {
                Err(self.go_corrupt(e.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    /// The region a fetch gets (see `read`), with the index of its segment and its first batch.
    fn find_region(
        &self,
        fetch_offset: i64,
        max_bytes: u32,
        min_one_batch: bool,
        upper: i64,
    ) -> Result<Option<(usize, FileRegion, BatchHeader)>, ReadError> {
        if fetch_offset < self.log_start_offset || fetch_offset > self.high_watermark {
            return Err(ReadError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset: self.log_start_offset,
                high_watermark: self.high_watermark,
            });
        }
        if fetch_offset >= upper {
            return Ok(None);
        }
        let first = self
            .segments
            .partition_point(|s| s.base_offset <= fetch_offset)
            .saturating_sub(1);
        for (i, segment) in self.segments.iter().enumerate().skip(first) {
            let Some((position, header)) = segment.find_batch(fetch_offset)? else {
                continue;
            };
            let max_position = if upper >= segment.next_offset {
                segment.size
            } else {
                segment.find_batch(upper)?.map_or(segment.size, |(p, _)| p)
            };
            if position >= max_position {
                return Ok(None);
            }
            let first_batch = header.total_size().unwrap_or(0);
            let wanted = if min_one_batch {
                u64::from(max_bytes).max(first_batch)
            } else {
                u64::from(max_bytes)
            };
            let len = wanted.min(max_position - position).min(u64::from(u32::MAX)) as u32;
            if len == 0 {
                return Ok(None);
            }
            let region = FileRegion {
                file: segment.log.clone(),
                position,
                len,
            };
            return Ok(Some((i, region, header)));
        }
        Ok(None)
    }

    /// ListOffsets by timestamp (Kafka's `fetchOffsetByTimestamp` for a real timestamp): the first
    /// record at or after the log start whose timestamp is >= `ts`, searched in the first segment
    /// whose largest timestamp is >= `ts` via its time index; records of the found batch are
    /// decoded (decompression bounded). Results at or past the high watermark are not returned.
    /// Prepared under the lock (index look-ups only); `TimestampLookup::run` does the file reads
    /// and decompression outside it.
    pub fn lookup_timestamp(&self, ts: i64) -> Result<Option<TimestampLookup>, LogError> {
        self.check_readable()?;
        let Some(segment) = self.segments.iter().find(|s| s.max_timestamp >= ts) else {
            return Ok(None);
        };
        let (_, indexed_offset) = segment.time_index.lookup(ts);
        let start_offset = indexed_offset.max(self.log_start_offset);
        let (_, start) = segment.offset_index.lookup(start_offset);
        Ok(Some(TimestampLookup {
            file: segment.log.clone(),
            start: u64::from(start),
            end: segment.size,
            target: Target::AtLeast(ts),
            log_start_offset: self.log_start_offset,
            high_watermark: self.high_watermark,
        }))
    }

    /// ListOffsets MAX_TIMESTAMP (-3), as Kafka 4 answers it: in the first segment holding the
    /// largest batch maxTimestamp, the first batch with that maxTimestamp, and in it the first
    /// record carrying that timestamp (record-level offset; for LogAppendTime batches the first
    /// record). Prepared under the lock like [`lookup_timestamp`](Self::lookup_timestamp);
    /// `None` on an empty log.
    pub fn lookup_max_timestamp(&self) -> Result<Option<TimestampLookup>, LogError> {
        self.check_readable()?;
        let mut best: Option<&Segment> = None;
        for segment in self.segments.iter().filter(|s| s.size > 0) {
            if best.is_none_or(|b| segment.max_timestamp > b.max_timestamp) {
                best = Some(segment);
            }
        }
        let Some(segment) = best else { return Ok(None) };
        let (_, start) = segment.offset_index.lookup(segment.offset_of_max_timestamp);
        Ok(Some(TimestampLookup {
            file: segment.log.clone(),
            start: u64::from(start),
            end: segment.size,
            target: Target::Max(segment.max_timestamp),
            log_start_offset: self.log_start_offset,
            high_watermark: self.high_watermark,
        }))
    }

    /// `lookup_timestamp` and its run in one call (tests, tools).
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64, i32)>, LogError> {
        self.lookup_timestamp(ts)?.map_or(Ok(None), |l| l.run())
    }

    /// `lookup_max_timestamp` and its run in one call (tests, tools).
    pub fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64, i32)>, LogError> {
        self.lookup_max_timestamp()?.map_or(Ok(None), |l| l.run())
    }

    /// Whether `flush.messages` or `flush.ms` asks for an fsync now.
    pub fn flush_due(&self, now_ms: i64) -> bool {
        let by_count = self.unflushed_messages > 0
            && self.unflushed_messages >= self.config.flush_interval_messages;
        let by_age = self.oldest_unflushed_append_ms.is_some_and(|t| {
            u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0) >= self.config.flush_interval_ms
        });
        by_count || by_age
    }

    /// Group commit: the files to fdatasync (outside the lock) to make everything appended so
    /// far durable. `None` when there is nothing to do.
    pub fn flush_job(&self) -> Option<FlushJob> {
        let up_to_offset = self.log_end_offset();
        if self.place.dir().is_none() {
            // Memory mode: nothing to sync, but the job still resets the flush.* accounting.
            return (up_to_offset > self.recovery_point).then_some(FlushJob {
                files: Vec::new(),
                up_to_offset,
            });
        }
        let mut files: Vec<Arc<File>> = Vec::new();
        let active_base = self.active().base_offset;
        for segment in self
            .segments
            .iter()
            .filter(|s| s.next_offset > self.recovery_point)
        {
            files.push(segment.log.clone());
            if segment.base_offset != active_base {
                // Sealed segments are trusted after a crash, so their indexes must be durable too.
                files.push(segment.offset_index.file.clone());
                files.push(segment.time_index.file.clone());
            }
        }
        for (_, f) in &self.pending_sync {
            if !files.iter().any(|g| Arc::ptr_eq(f, g)) {
                files.push(f.clone());
            }
        }
        if self.pending_dir_sync.is_some()
            && let Some(dir) = self.place.dir()
        {
            // A directory removed meanwhile (the partition deleted) has nothing left to sync.
            if let Ok(handle) = File::open(dir) {
                files.push(Arc::new(handle));
            }
        }
        (!files.is_empty()).then_some(FlushJob {
            files,
            up_to_offset,
        })
    }

    /// Records that a flush job's files were synced.
    pub fn mark_flushed(&mut self, up_to_offset: i64) {
        let leo = self.log_end_offset();
        if up_to_offset > self.recovery_point {
            self.recovery_point = up_to_offset.min(leo);
        }
        self.pending_sync.retain(|(tag, _)| *tag > up_to_offset);
        if self.pending_dir_sync.is_some_and(|tag| tag <= up_to_offset) {
            self.pending_dir_sync = None;
        }
        if up_to_offset >= leo {
            self.unflushed_messages = 0;
            self.oldest_unflushed_append_ms = None;
        }
        self.persist_recovery_point_if_moved();
    }

    /// Rewrites `recovery-point-offset` when the recovery point entered another segment (once per
    /// roll, not per flush). Not fsynced: a lost update only means more recovery work.
    fn persist_recovery_point_if_moved(&mut self) {
        let Some(dir) = self.place.dir() else { return };
        let holder = self
            .segments
            .iter()
            .find(|s| s.next_offset > self.recovery_point)
            .unwrap_or_else(|| self.active())
            .base_offset;
        if holder == self.persisted_recovery_segment {
            return;
        }
        match write_offset_file(dir, RECOVERY_POINT_FILE, self.recovery_point, false) {
            Ok(()) => self.persisted_recovery_segment = holder,
            Err(e) => tracing::warn!(error = %e, "could not write the recovery point"),
        }
    }

    /// Synchronous flush (shutdown, tests).
    pub fn flush(&mut self) -> Result<(), LogError> {
        if let Some(job) = self.flush_job() {
            for f in &job.files {
                f.sync_data()?;
            }
            self.mark_flushed(job.up_to_offset);
        }
        Ok(())
    }

    /// Clean close: final time-index entry, flush, producer snapshot, recovery point and the
    /// clean-shutdown marker. Appends fail afterwards.
    pub fn close(&mut self) -> Result<(), LogError> {
        match &self.offline {
            Some(Offline::Closed) => return Ok(()),
            // Writing a clean-shutdown marker would make the next start trust damaged data.
            Some(Offline::Corrupt(_)) => {
                self.offline = Some(Offline::Closed);
                return Ok(());
            }
            _ => {}
        }
        self.active_mut().seal()?;
        self.flush()?;
        if let Some(dir) = self.place.dir().map(Path::to_path_buf) {
            let leo = self.log_end_offset();
            self.write_snapshot(leo, true)?;
            self.prune_snapshots()?;
            write_offset_file(&dir, RECOVERY_POINT_FILE, leo, true)?;
            file::replace_file(&dir, CLEAN_SHUTDOWN_FILE, b"", true)?;
            file::sync_dir(&dir)?;
        }
        self.offline = Some(Offline::Closed);
        Ok(())
    }

    /// DeleteRecords: moves the log start offset forward (persisted before returning) and drops
    /// segments wholly below it. Err(OffsetOutOfRange) past the high watermark.
    pub fn increase_log_start_offset(&mut self, new_start: i64) -> Result<bool, LogError> {
        if new_start > self.high_watermark {
            return Err(LogError::OffsetOutOfRange {
                offset: new_start,
                log_start_offset: self.log_start_offset,
                high_watermark: self.high_watermark,
            });
        }
        if new_start <= self.log_start_offset {
            return Ok(false);
        }
        if let Some(dir) = self.place.dir() {
            write_offset_file(dir, LOG_START_OFFSET_FILE, new_start, true)?;
        }
        self.log_start_offset = new_start;
        while self.segments.len() > 1 && self.segments[1].base_offset <= new_start {
            let old = self.segments.remove(0);
            for name in old.file_names() {
                self.place.remove(&name)?;
            }
        }
        self.txns.drop_below(self.segments[0].base_offset);
        self.check_invariants();
        Ok(true)
    }

    /// log_start_offset <= high_watermark <= log_end_offset, and segments in order.
    pub(super) fn check_invariants(&self) {
        debug_assert!(
            self.log_start_offset <= self.high_watermark,
            "log start {} > high watermark {}",
            self.log_start_offset,
            self.high_watermark
        );
        debug_assert!(
            self.high_watermark <= self.log_end_offset(),
            "high watermark {} > log end {}",
            self.high_watermark,
            self.log_end_offset()
        );
        debug_assert!(
            self.segments
                .windows(2)
                .all(|w| w[0].next_offset <= w[1].base_offset)
        );
    }
}

fn aborted_txn(done: &CompletedTxn, last_stable_offset: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: done.producer_id,
        first_offset: done.first_offset,
        last_offset: done.last_offset,
        last_stable_offset,
    }
}

/// What a timestamp look-up searches for.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The first record with a timestamp >= this.
    AtLeast(i64),
    /// The first record carrying the segment's largest timestamp.
    Max(i64),
}

/// A ListOffsets timestamp look-up: segment handles copied out under the partition lock, the
/// scan (file reads, bounded decompression) run outside it by [`run`](Self::run).
#[derive(Debug, Clone)]
pub struct TimestampLookup {
    file: Arc<File>,
    start: u64,
    end: u64,
    target: Target,
    log_start_offset: i64,
    high_watermark: i64,
}

impl TimestampLookup {
    /// (offset, timestamp, leader epoch) of the record found, if any.
    pub fn run(&self) -> Result<Option<(i64, i64, i32)>, LogError> {
        let mut scanner = HeaderScanner::new(&self.file, self.start, self.end);
        while let Scan::Batch { position, header } = scanner.next()? {
            let wanted = match self.target {
                Target::AtLeast(ts) => {
                    header.max_timestamp >= ts && header.last_offset() >= self.log_start_offset
                }
                Target::Max(ts) => header.max_timestamp == ts,
            };
            if !wanted {
                continue;
            }
            let bytes = super::segment::read_batch_at(&self.file, self.end, position, &header)?;
            let found = match self.target {
                Target::AtLeast(ts) => find_record(&bytes, &header, |offset, t| {
                    t >= ts && offset >= self.log_start_offset
                })?,
                Target::Max(ts) => find_record(&bytes, &header, |_, t| t == ts)?,
            };
            let epoch = header.partition_leader_epoch.max(-1);
            match (self.target, found) {
                (_, Some((offset, _))) if offset >= self.high_watermark => return Ok(None),
                (_, Some((offset, timestamp))) => return Ok(Some((offset, timestamp, epoch))),
                (Target::Max(_), None) => return Ok(None),
                (Target::AtLeast(_), None) => {}
            }
        }
        Ok(None)
    }
}

/// The first record of a stored batch matching `want(offset, timestamp)`. Records of
/// LogAppendTime batches all carry the batch maxTimestamp, as in Kafka.
fn find_record(
    batch: &[u8],
    header: &BatchHeader,
    mut want: impl FnMut(i64, i64) -> bool,
) -> Result<Option<(i64, i64)>, LogError> {
    let rest = batch.get(HEADER_LEN..).unwrap_or(&[]);
    let codec = header
        .compression()
        .ok_or_else(|| LogError::Corrupt("unknown compression type in a stored batch".into()))?;
    let log_append = header.timestamp_type() == TimestampType::LogAppendTime;
    let plain;
    let records = if codec == Compression::None {
        rest
    } else {
        plain = compression::decompress(codec, rest, MAX_DECOMPRESSED_BATCH_BYTES)
            .map_err(|e| LogError::Corrupt(e.to_string()))?;
        &plain[..]
    };
    let mut found = None;
    record::for_each_record(records, header.records_count, |_, r| {
        let offset = header.base_offset + i64::from(r.offset_delta);
        let ts = if log_append {
            header.max_timestamp
        } else {
            header.base_timestamp.wrapping_add(r.timestamp_delta)
        };
        if want(offset, ts) {
            found = Some((offset, ts));
            return false;
        }
        true
    })
    .map_err(|e| LogError::Corrupt(format!("record {}: {}", e.index, e.reason)))?;
    Ok(found)
}

/// What a partition directory holds, by file name; stray temp files and orphan indexes removed.
struct DirListing {
    log_bases: Vec<i64>,
    snapshots: Vec<i64>,
}

impl DirListing {
    fn read(dir: &Path) -> io::Result<DirListing> {
        let mut log_bases = Vec::new();
        let mut snapshots = Vec::new();
        let mut indexes = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.ends_with(".tmp") {
                std::fs::remove_file(entry.path())?;
            } else if let Some(base) = file::parse_offset_file_name(&name, LOG_SUFFIX) {
                log_bases.push(base);
            } else if let Some(offset) = file::parse_offset_file_name(&name, SNAPSHOT_SUFFIX) {
                snapshots.push(offset);
            } else if let Some(base) = file::parse_offset_file_name(&name, INDEX_SUFFIX)
                .or_else(|| file::parse_offset_file_name(&name, TIME_INDEX_SUFFIX))
                .or_else(|| super::txn_index::parse_txn_index_name(&name))
            {
                indexes.push((base, entry.path()));
            }
        }
        log_bases.sort_unstable();
        for (base, path) in indexes {
            if log_bases.binary_search(&base).is_err() {
                std::fs::remove_file(path)?;
            }
        }
        Ok(DirListing {
            log_bases,
            snapshots,
        })
    }
}

/// Reads a `0\n<offset>\n` file; `None` if missing or malformed.
fn read_offset_file(dir: &Path, name: &str) -> io::Result<Option<i64>> {
    let Some(bytes) = file::read_optional(&dir.join(name), 64)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let parsed = text
        .strip_prefix("0\n")
        .and_then(|rest| rest.strip_suffix('\n'))
        .and_then(|digits| digits.parse::<i64>().ok())
        .filter(|&o| o >= 0);
    if parsed.is_none() {
        tracing::warn!(file = name, "ignoring malformed offset file");
    }
    Ok(parsed)
}

fn write_offset_file(dir: &Path, name: &str, offset: i64, sync: bool) -> io::Result<()> {
    file::replace_file(dir, name, format!("0\n{offset}\n").as_bytes(), sync)?;
    if sync {
        file::sync_dir(dir)?;
    }
    Ok(())
}
