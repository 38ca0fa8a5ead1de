//! Log compaction, after Kafka's `LogCleaner` / `Cleaner` / `LogCleanerManager`.
//!
//! A compacted log (`cleanup.policy` contains `compact`) has a *clean* part, already compacted,
//! followed by a *dirty* part written since. One cleaning pass:
//! 1. **choose** ([`PartitionLog::cleanable`]): the dirty part that may be cleaned ends at the
//!    first *uncleanable* offset — the active segment, the high watermark, or the first segment
//!    whose newest record is younger than `min.compaction.lag.ms`. The log is worth cleaning when
//!    dirty bytes / (clean + dirty bytes) exceeds `min.cleanable.dirty.ratio`, when a dirty
//!    segment has waited longer than `max.compaction.lag.ms`, or (Vltava's addition) when the
//!    delete horizon of a cleaned tombstone has passed, so tombstones vanish on time even when no
//!    new data arrives;
//! 2. **map** ([`CleanJob::build_offset_map`]): key → latest offset over the dirty part, bounded
//!    by `log.cleaner.dedupe.buffer.size` (keys are stored as 128-bit hashes, 24 bytes per entry
//!    as in Kafka); when the map is full the pass ends early and the rest waits for the next one;
//! 3. **copy** ([`CleanJob::clean_group`]): every segment below the mapped end is rewritten,
//!    grouped so a group fits `segment.bytes`, into `<base>.log.cleaned` (+ indexes). A record is
//!    kept if it is past the mapped end, or it is the latest for its key and either has a value or
//!    is a tombstone whose delete horizon has not passed. Keyless records in the cleaned range are
//!    dropped. Batches keep their base offset, last offset delta (so gaps appear but offsets are
//!    never reordered), producer fields and leader epoch; untouched batches are copied verbatim,
//!    others are rebuilt (and recompressed with their codec). A batch left empty disappears, unless
//!    it holds an active producer's last sequence or ends the group, which keep an empty batch;
//! 4. **swap** ([`PartitionLog::swap_in`], under the partition lock): the group's segments must
//!    still be the ones read; `.cleaned` → `.swap` (the commit point, made durable with a directory
//!    fsync), old files → `.deleted`, then the cleaned files take the final names. Readers never see
//!    a half-written segment: until the swap the cleaned files are not part of the log, and readers
//!    already holding an old file keep reading it.
//!
//! Tombstones (records with a key and no value) get a *delete horizon* the first time a pass
//! keeps them, as Kafka does since KIP-534: the batch's baseTimestamp becomes
//! `now + delete.retention.ms` and attribute bit 6 is set (record timestamp deltas are
//! re-encoded so record timestamps do not change). A later pass after the horizon drops them.
//!
//! Progress survives restarts in `cleaner-offset-checkpoint` (per partition directory:
//! `0\n<first dirty offset>\n<earliest delete horizon or -1>\n`). A crash mid-swap is finished at
//! open by [`complete_interrupted_swaps`]: `.cleaned` files are removed, a `.swap` log replaces
//! every segment within its offset range, `.deleted` files are removed.
//!
//! Left out: transactions (markers, aborted transaction index), the I/O throttle
//! (`log.cleaner.io.max.bytes.per.second`), `log.cleaner.io.buffer.*` (batches are read whole).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::Hasher;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::batch::{
    ATTR_COMPRESSION_MASK, ATTR_CONTROL, ATTR_LOG_APPEND_TIME, ATTR_TRANSACTIONAL, BatchHeader,
    HEADER_LEN, LOG_OVERHEAD, MAX_DECOMPRESSED_BATCH_BYTES, batch_crc,
};
use super::compression::{self, Compression};
use super::error::LogError;
use super::file::{self, Place, offset_file_name, read_up_to_at};
use super::partition_log::PartitionLog;
use super::record;
use super::retention::{DELETED_SUFFIX, DeletedFiles, retire_segment_files};
use super::segment::{HeaderScanner, INDEX_SUFFIX, LOG_SUFFIX, Scan, Segment, TIME_INDEX_SUFFIX};
use super::txn_index::{AbortedTxn, TXN_INDEX_SUFFIX};
use super::{LogConfig, TimestampType};

pub(crate) const CLEANED_SUFFIX: &str = ".cleaned";
pub(crate) const SWAP_SUFFIX: &str = ".swap";
const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
/// Attribute bit 6: the batch's baseTimestamp is its delete horizon (KIP-534).
pub const ATTR_DELETE_HORIZON: i16 = 0x40;
/// Bytes per offset-map entry, as Kafka counts them (16-byte hash + 8-byte offset).
pub const OFFSET_MAP_ENTRY_BYTES: u64 = 24;

/// The cleaner's progress on one log.
#[derive(Debug, Clone, Default)]
pub(crate) struct CleanerState {
    /// First offset not yet cleaned; `None` means the log start.
    pub(crate) first_dirty: Option<i64>,
    /// The earliest delete horizon written into the clean part (`None`: no tombstones there).
    pub(crate) earliest_delete_horizon_ms: Option<i64>,
    /// A cleaner is working on this log.
    pub(crate) in_progress: bool,
}

impl CleanerState {
    pub(crate) fn load(dir: &Path) -> CleanerState {
        let text = file::read_optional(&dir.join(CHECKPOINT_FILE), 256)
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut lines = text.lines();
        if lines.next() != Some("0") {
            return CleanerState::default();
        }
        let first_dirty = lines.next().and_then(|l| l.parse::<i64>().ok());
        let horizon = lines
            .next()
            .and_then(|l| l.parse::<i64>().ok())
            .filter(|h| *h >= 0);
        CleanerState {
            first_dirty: first_dirty.filter(|o| *o >= 0),
            earliest_delete_horizon_ms: horizon,
            in_progress: false,
        }
    }

    fn save(&self, dir: &Path) -> io::Result<()> {
        let text = format!(
            "0\n{}\n{}\n",
            self.first_dirty.unwrap_or(0),
            self.earliest_delete_horizon_ms.unwrap_or(-1)
        );
        file::replace_file(dir, CHECKPOINT_FILE, text.as_bytes(), false)
    }
}

/// Key → latest offset over the dirty part of a log, with keys as 128-bit hashes.
#[derive(Debug)]
pub struct OffsetMap {
    entries: HashMap<u128, i64>,
    max_entries: usize,
    /// The last offset covered (every record up to here is in the map).
    latest_offset: i64,
}

impl OffsetMap {
    fn new(max_entries: usize, start: i64) -> OffsetMap {
        OffsetMap {
            entries: HashMap::new(),
            max_entries: max_entries.max(1),
            latest_offset: start - 1,
        }
    }

    fn get(&self, key: &[u8]) -> Option<i64> {
        self.entries.get(&key_hash(key)).copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// 128 bits from two differently-seeded SipHash passes: collisions are negligible, and the map
/// never stores key bytes.
fn key_hash(key: &[u8]) -> u128 {
    let mut a = std::hash::DefaultHasher::new();
    a.write_u8(0xA5);
    a.write(key);
    let mut b = std::hash::DefaultHasher::new();
    b.write_u8(0x5A);
    b.write(key);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// A segment as a cleaning pass saw it.
#[derive(Debug, Clone)]
struct SegmentRef {
    base_offset: i64,
    next_offset: i64,
    size: u64,
    log: Arc<File>,
}

/// One pass over one log, planned under the partition lock and carried out without it.
#[derive(Debug)]
pub struct CleanJob {
    place: Place,
    config: LogConfig,
    /// Non-active segments below the first uncleanable offset.
    segments: Vec<SegmentRef>,
    first_dirty: i64,
    first_uncleanable: i64,
    /// Last offsets of each producer's latest batch: those batches keep their headers.
    producer_last_offsets: HashSet<i64>,
    /// Aborted transactions in the cleanable range: their records are never visible, so they
    /// neither enter the offset map nor survive cleaning.
    aborted: Vec<AbortedTxn>,
    now_ms: i64,
}

/// A group of segments rewritten into one cleaned segment, not yet part of the log.
#[derive(Debug)]
pub struct CleanedGroup {
    segment: Segment,
    /// The segments it replaces: base offset and file, to check they are unchanged at swap.
    replaces: Vec<(i64, Arc<File>)>,
    /// Smallest delete horizon of the tombstones it keeps.
    earliest_delete_horizon_ms: Option<i64>,
    pub records_read: u64,
    pub records_kept: u64,
}

/// What one cleaning pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanStats {
    pub groups: usize,
    pub records_read: u64,
    pub records_kept: u64,
    /// The log's first dirty offset afterwards.
    pub cleaned_up_to: i64,
}

/// Why a pass stopped without finishing.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// The log changed underneath (retention, DeleteRecords, deletion, shutdown): try later.
    #[error("cleaning aborted: {0}")]
    Aborted(String),
    #[error(transparent)]
    Log(#[from] LogError),
}

impl From<io::Error> for CleanError {
    fn from(e: io::Error) -> Self {
        CleanError::Log(LogError::Io(e))
    }
}

/// Bounds of the cleanable part, from the log's state (Kafka's `cleanableOffsets`).
struct Cleanable {
    first_dirty: i64,
    first_uncleanable: i64,
    dirty_bytes: u64,
    clean_bytes: u64,
    /// A dirty segment has waited longer than `max.compaction.lag.ms`.
    overdue: bool,
}

impl PartitionLog {
    /// How urgently this log wants cleaning: `Some(priority)` (the dirty ratio; `f64::INFINITY`
    /// when forced by `max.compaction.lag.ms` or a passed delete horizon) when a pass should
    /// run now, `None` otherwise (not compacted, offline, busy, or not dirty enough).
    pub fn cleanable(&self, now_ms: i64) -> Option<f64> {
        if !self.config.cleanup_compact || self.offline.is_some() || self.cleaner.in_progress {
            return None;
        }
        let c = self.cleanable_range(now_ms);
        let total = c.clean_bytes + c.dirty_bytes;
        let ratio = if total == 0 {
            0.0
        } else {
            c.dirty_bytes as f64 / total as f64
        };
        let horizon_due = c.clean_bytes > 0
            && self
                .cleaner
                .earliest_delete_horizon_ms
                .is_some_and(|h| h <= now_ms);
        if (c.overdue && c.dirty_bytes > 0) || horizon_due {
            Some(f64::INFINITY)
        } else if c.dirty_bytes > 0 && ratio > self.config.min_cleanable_dirty_ratio {
            Some(ratio)
        } else {
            None
        }
    }

    fn cleanable_range(&self, now_ms: i64) -> Cleanable {
        let leo = self.log_end_offset();
        let first_dirty = match self.cleaner.first_dirty {
            Some(o) if o >= self.log_start_offset && o <= leo => o,
            _ => self.log_start_offset,
        };
        let active_base = self.active().base_offset;
        let non_active = &self.segments[..self.segments.len().saturating_sub(1)];
        // Kafka cleans only below the last stable offset: open transactions stay as written.
        let mut first_uncleanable = self.last_stable_offset().min(active_base);
        let min_lag = self.config.min_compaction_lag_ms.max(0);
        if min_lag > 0
            && let Some(s) = non_active.iter().find(|s| {
                s.next_offset > first_dirty && s.max_timestamp > now_ms.saturating_sub(min_lag)
            })
        {
            first_uncleanable = first_uncleanable.min(s.base_offset);
        }
        let first_uncleanable = first_uncleanable.max(first_dirty);
        // Bytes are counted in whole segments, as Kafka does.
        let uncleanable_base = non_active
            .iter()
            .find(|s| s.next_offset > first_uncleanable)
            .map_or(active_base, |s| s.base_offset);
        let from = first_dirty.min(uncleanable_base);
        let dirty_bytes = self
            .segments
            .iter()
            .filter(|s| s.next_offset > from && s.base_offset < uncleanable_base)
            .map(|s| s.size)
            .sum();
        let clean_bytes = self
            .segments
            .iter()
            .filter(|s| s.base_offset < first_dirty)
            .map(|s| s.size)
            .sum();
        let max_lag = self.config.max_compaction_lag_ms.max(0);
        let overdue = non_active
            .iter()
            .filter(|s| s.next_offset > first_dirty && s.base_offset < uncleanable_base)
            .filter_map(|s| s.first_batch_timestamp.filter(|t| *t > 0))
            .min()
            .is_some_and(|t| t < now_ms.saturating_sub(max_lag));
        Cleanable {
            first_dirty,
            first_uncleanable,
            dirty_bytes,
            clean_bytes,
            overdue,
        }
    }

    /// Plans a cleaning pass and marks the log busy; `None` when [`cleanable`] says no.
    /// Finish with [`PartitionLog::end_cleaning`] whatever happens.
    ///
    /// [`cleanable`]: PartitionLog::cleanable
    pub fn start_cleaning(&mut self, now_ms: i64) -> Option<CleanJob> {
        self.cleanable(now_ms)?;
        let c = self.cleanable_range(now_ms);
        let active_base = self.active().base_offset;
        let segments = self
            .segments
            .iter()
            .filter(|s| {
                s.base_offset != active_base
                    && s.base_offset < c.first_uncleanable.max(c.first_dirty)
            })
            .map(|s| SegmentRef {
                base_offset: s.base_offset,
                next_offset: s.next_offset,
                size: s.size,
                log: s.log.clone(),
            })
            .collect::<Vec<_>>();
        if segments.is_empty() {
            return None;
        }
        self.cleaner.in_progress = true;
        Some(CleanJob {
            place: self.place.clone(),
            config: self.config.clone(),
            segments,
            first_dirty: c.first_dirty,
            first_uncleanable: c.first_uncleanable,
            producer_last_offsets: self.producers.last_offsets(),
            aborted: self.txns.overlapping(
                self.log_start_offset,
                c.first_uncleanable.max(c.first_dirty),
            ),
            now_ms,
        })
    }

    /// Swaps a cleaned group in for the segments it replaces (see the module documentation).
    /// The returned files are to be removed after releasing the lock.
    pub fn swap_in(&mut self, group: CleanedGroup) -> Result<DeletedFiles, CleanError> {
        if let Some(reason) = &self.offline {
            let reason = reason.clone();
            group.discard(&self.place);
            return Err(CleanError::Aborted(format!("log is offline: {reason}")));
        }
        let Some(first) = group.replaces.first().map(|(b, _)| *b) else {
            group.discard(&self.place);
            return Err(CleanError::Aborted("empty group".into()));
        };
        let at = self.segments.iter().position(|s| s.base_offset == first);
        let unchanged = at.is_some_and(|at| {
            at + group.replaces.len() < self.segments.len()
                && group
                    .replaces
                    .iter()
                    .zip(&self.segments[at..])
                    .all(|((base, log), s)| s.base_offset == *base && Arc::ptr_eq(log, &s.log))
        });
        let (Some(at), true) = (at, unchanged) else {
            group.discard(&self.place);
            return Err(CleanError::Aborted(
                "the segments changed while being cleaned".into(),
            ));
        };
        let mut deleted = DeletedFiles::default();
        if let Some(dir) = self.place.dir().map(Path::to_path_buf) {
            let name = |suffix: &str| offset_file_name(first, suffix);
            let cleaned = |suffix: &str| dir.join(format!("{}{CLEANED_SUFFIX}", name(suffix)));
            let swap_log = dir.join(format!("{}{SWAP_SUFFIX}", name(LOG_SUFFIX)));
            let commit =
                std::fs::rename(cleaned(LOG_SUFFIX), &swap_log).and_then(|()| file::sync_dir(&dir));
            if let Err(e) = commit {
                group.discard(&self.place);
                let _ = std::fs::remove_file(&swap_log);
                return Err(e.into());
            }
            // Committed: from here a crash is finished by `complete_interrupted_swaps`.
            for s in &self.segments[at..at + group.replaces.len()] {
                deleted.paths.extend(retire_segment_files(&self.place, s));
            }
            let finish = std::fs::rename(cleaned(INDEX_SUFFIX), dir.join(name(INDEX_SUFFIX)))
                .and_then(|()| {
                    std::fs::rename(
                        cleaned(TIME_INDEX_SUFFIX),
                        dir.join(name(TIME_INDEX_SUFFIX)),
                    )
                })
                .and_then(|()| {
                    match std::fs::rename(
                        cleaned(TXN_INDEX_SUFFIX),
                        dir.join(name(TXN_INDEX_SUFFIX)),
                    ) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    }
                })
                .and_then(|()| std::fs::rename(&swap_log, dir.join(name(LOG_SUFFIX))));
            if let Err(e) = finish {
                tracing::error!(error = %e, "cannot finish a segment swap; partition log goes offline");
                self.offline = Some(super::partition_log::Offline::WriteFailed {
                    error: e.to_string(),
                    retry_at_ms: None,
                    retries: 0,
                });
                return Err(e.into());
            }
        }
        let replaced = group.replaces.len();
        if let Some(h) = group.earliest_delete_horizon_ms {
            let current = self.cleaner.earliest_delete_horizon_ms.get_or_insert(h);
            *current = (*current).min(h);
        }
        self.segments
            .splice(at..at + replaced, std::iter::once(group.segment));
        deleted.segments += replaced;
        self.register_pending_dir(self.log_end_offset());
        self.check_invariants();
        Ok(deleted)
    }

    /// Ends a pass: on success records how far the log is clean (persisted) and the delete
    /// horizon the clean part now carries; always clears the busy mark.
    pub fn end_cleaning(&mut self, outcome: Option<(i64, Option<i64>)>) {
        self.cleaner.in_progress = false;
        let Some((cleaned_up_to, horizon)) = outcome else {
            return;
        };
        self.cleaner.first_dirty = Some(cleaned_up_to);
        self.cleaner.earliest_delete_horizon_ms = horizon;
        if let Some(dir) = self.place.dir()
            && let Err(e) = self.cleaner.save(dir)
        {
            tracing::warn!(error = %e, "cannot write the cleaner checkpoint");
        }
    }

    /// The first offset the cleaner has not cleaned yet (tests, DescribeLogDirs-style tooling).
    pub fn first_dirty_offset(&self) -> i64 {
        self.cleaner
            .first_dirty
            .unwrap_or(self.log_start_offset)
            .max(self.log_start_offset)
    }
}

impl CleanedGroup {
    /// Removes the cleaned files of an abandoned group.
    fn discard(self, place: &Place) {
        for name in self.segment.file_names() {
            let _ = place.remove(&format!("{name}{CLEANED_SUFFIX}"));
        }
    }
}

/// What the filter decided for one batch.
enum BatchAction {
    Keep,
    Drop,
    Rewrite(Vec<u8>),
}

impl CleanJob {
    /// The offset map over the dirty part (bounded by `max_entries`). No lock needed: it reads
    /// sealed segments through their open files.
    pub fn build_offset_map(&self, max_entries: usize) -> Result<OffsetMap, LogError> {
        let mut map = OffsetMap::new(max_entries, self.first_dirty);
        'segments: for s in self
            .segments
            .iter()
            .filter(|s| s.next_offset > self.first_dirty)
        {
            let mut scanner = HeaderScanner::new(&s.log, 0, s.size);
            let mut buf = Vec::new();
            loop {
                let (position, h) = match scanner.next()? {
                    Scan::Batch { position, header } => (position, header),
                    Scan::End => break,
                    Scan::Invalid { position } => {
                        return Err(LogError::Corrupt(format!(
                            "invalid batch at position {position} of segment {}",
                            s.base_offset
                        )));
                    }
                };
                if h.last_offset() < self.first_dirty {
                    continue;
                }
                if h.base_offset >= self.first_uncleanable {
                    break 'segments;
                }
                if map.entries.len() >= map.max_entries {
                    break 'segments;
                }
                if !h.is_control() && !self.is_aborted(&h) {
                    read_batch(&s.log, position, &h, &mut buf)?;
                    let plain = records_of(&buf, &h)?;
                    let first_dirty = self.first_dirty;
                    let entries = &mut map.entries;
                    record::for_each_raw_record(&plain, h.records_count, |_, r| {
                        let offset = h.base_offset + i64::from(r.offset_delta);
                        if let Some(key) = r.key
                            && offset >= first_dirty
                        {
                            entries.insert(key_hash(key), offset);
                        }
                        true
                    })
                    .map_err(|e| corrupt_record(&h, e))?;
                }
                map.latest_offset = map.latest_offset.max(h.last_offset());
            }
        }
        Ok(map)
    }

    /// True for a transactional batch of an aborted transaction.
    fn is_aborted(&self, h: &BatchHeader) -> bool {
        h.is_transactional()
            && !h.is_control()
            && self.aborted.iter().any(|t| {
                t.producer_id == h.producer_id
                    && t.first_offset <= h.base_offset
                    && h.last_offset() < t.last_offset
            })
    }

    /// The offset after the last one the map covers: the pass cleans below it.
    pub fn cleaned_up_to(&self, map: &OffsetMap) -> i64 {
        (map.latest_offset + 1).max(self.first_dirty)
    }

    /// Groups of consecutive segments below the mapped end, each fitting `segment.bytes` and the
    /// 32-bit relative offsets of one segment (Kafka's `groupSegmentsBySize`).
    pub fn groups(&self, map: &OffsetMap) -> Vec<std::ops::Range<usize>> {
        let end = self.cleaned_up_to(map);
        let candidates = self
            .segments
            .iter()
            .take_while(|s| s.base_offset < end)
            .count();
        let max_size = self.config.segment_bytes.min(i32::MAX as u64);
        let mut groups = Vec::new();
        let mut start = 0;
        while start < candidates {
            let mut end_idx = start + 1;
            let mut size = self.segments[start].size;
            while end_idx < candidates {
                let next = &self.segments[end_idx];
                let fits = size + next.size <= max_size
                    && (next.size == 0
                        || next.next_offset - 1 - self.segments[start].base_offset
                            <= i64::from(i32::MAX));
                if !fits {
                    break;
                }
                size += next.size;
                end_idx += 1;
            }
            groups.push(start..end_idx);
            start = end_idx;
        }
        groups
    }

    /// Rewrites one group into a `.cleaned` segment (fsynced), ready for [`PartitionLog::swap_in`].
    pub fn clean_group(
        &self,
        group: std::ops::Range<usize>,
        map: &OffsetMap,
    ) -> Result<CleanedGroup, CleanError> {
        let segments = self.segments.get(group).unwrap_or(&[]);
        let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
            return Err(CleanError::Aborted("empty group".into()));
        };
        let mut out =
            Segment::create_named(&self.place, first.base_offset, CLEANED_SUFFIX, self.now_ms)?;
        let result = self.copy_group(segments, last.next_offset, map, &mut out);
        let (read, kept, horizon) = match result {
            Ok(v) => v,
            Err(e) => {
                for name in out.file_names() {
                    let _ = self.place.remove(&format!("{name}{CLEANED_SUFFIX}"));
                }
                return Err(e);
            }
        };
        out.seal()?;
        if let Some(dir) = self.place.dir() {
            out.log.sync_data()?;
            out.offset_index.file.sync_data()?;
            out.time_index.file.sync_data()?;
            // The aborted transactions whose markers the cleaned segment holds.
            let txns: Vec<u8> = self
                .aborted
                .iter()
                .filter(|t| t.last_offset >= first.base_offset && t.last_offset < last.next_offset)
                .flat_map(|t| t.to_bytes())
                .collect();
            if !txns.is_empty() {
                let name = format!(
                    "{}{CLEANED_SUFFIX}",
                    offset_file_name(first.base_offset, TXN_INDEX_SUFFIX)
                );
                file::replace_file(dir, &name, &txns, true)?;
            }
        }
        Ok(CleanedGroup {
            segment: out,
            replaces: segments
                .iter()
                .map(|s| (s.base_offset, s.log.clone()))
                .collect(),
            earliest_delete_horizon_ms: horizon,
            records_read: read,
            records_kept: kept,
        })
    }

    fn copy_group(
        &self,
        segments: &[SegmentRef],
        group_end: i64,
        map: &OffsetMap,
        out: &mut Segment,
    ) -> Result<(u64, u64, Option<i64>), CleanError> {
        let mut read = 0u64;
        let mut kept = 0u64;
        let mut horizon: Option<i64> = None;
        let mut buf = Vec::new();
        for s in segments {
            let mut scanner = HeaderScanner::new(&s.log, 0, s.size);
            loop {
                let (position, h) = match scanner.next()? {
                    Scan::Batch { position, header } => (position, header),
                    Scan::End => break,
                    Scan::Invalid { position } => {
                        return Err(LogError::Corrupt(format!(
                            "invalid batch at position {position} of segment {}",
                            s.base_offset
                        ))
                        .into());
                    }
                };
                read_batch(&s.log, position, &h, &mut buf)?;
                read += h.records_count.max(0) as u64;
                let retain_empty = h.next_offset() == group_end
                    || (h.has_producer_id()
                        && self.producer_last_offsets.contains(&h.last_offset()));
                let (action, batch_horizon, n_kept) =
                    self.filter_batch(&buf, &h, map, retain_empty)?;
                if let Some(b) = batch_horizon {
                    horizon = Some(horizon.map_or(b, |x| x.min(b)));
                }
                kept += n_kept;
                let bytes: &[u8] = match &action {
                    BatchAction::Drop => continue,
                    BatchAction::Keep => &buf,
                    BatchAction::Rewrite(v) => v,
                };
                let Some(header_bytes) = bytes.first_chunk::<HEADER_LEN>() else {
                    continue;
                };
                let header = BatchHeader::from_bytes(header_bytes);
                out.append(
                    header_bytes,
                    &bytes[HEADER_LEN..],
                    header.last_offset(),
                    header.max_timestamp,
                    self.config.index_interval_bytes,
                )?;
            }
        }
        Ok((read, kept, horizon))
    }

    /// Kafka's `shouldRetainRecord` over one batch; returns the action, the delete horizon of
    /// tombstones it keeps, and how many records it keeps.
    fn filter_batch(
        &self,
        bytes: &[u8],
        h: &BatchHeader,
        map: &OffsetMap,
        retain_empty: bool,
    ) -> Result<(BatchAction, Option<i64>, u64), LogError> {
        if h.is_control() {
            // Transaction markers stay (Kafka removes them once their transaction's data is
            // gone and the delete horizon has passed; they are 70-byte batches).
            return Ok((BatchAction::Keep, None, 0));
        }
        if self.is_aborted(h) {
            // An aborted transaction's records are never read: they go, as in Kafka.
            if !retain_empty {
                return Ok((BatchAction::Drop, None, 0));
            }
            return Ok((BatchAction::Rewrite(empty_batch(h)), None, 0));
        }
        let plain = records_of(bytes, h)?;
        let has_horizon = h.attributes & ATTR_DELETE_HORIZON != 0;
        let horizon_passed = has_horizon && self.now_ms >= h.base_timestamp;
        let mut kept: Vec<record::RawRecord<'_>> = Vec::new();
        let mut total = 0u64;
        let mut tombstones = false;
        record::for_each_raw_record(&plain, h.records_count, |_, r| {
            total += 1;
            let offset = h.base_offset + i64::from(r.offset_delta);
            let retain = if offset > map.latest_offset {
                true
            } else if let Some(key) = r.key {
                let latest = offset >= map.get(key).unwrap_or(-1);
                latest && (r.has_value || !horizon_passed)
            } else {
                false
            };
            if retain {
                tombstones |= !r.has_value;
                kept.push(r);
            }
            true
        })
        .map_err(|e| corrupt_record(h, e))?;
        let needs_horizon = tombstones && !has_horizon;
        let horizon = if needs_horizon {
            Some(
                self.now_ms
                    .saturating_add(self.config.delete_retention_ms.max(0)),
            )
        } else if tombstones {
            Some(h.base_timestamp)
        } else {
            None
        };
        let n_kept = kept.len() as u64;
        if n_kept == total && !needs_horizon {
            return Ok((BatchAction::Keep, horizon, n_kept));
        }
        if kept.is_empty() {
            if !retain_empty {
                return Ok((BatchAction::Drop, None, 0));
            }
            return Ok((BatchAction::Rewrite(empty_batch(h)), None, 0));
        }
        let rebuilt = rebuild_batch(h, &kept, horizon.filter(|_| needs_horizon))?;
        Ok((BatchAction::Rewrite(rebuilt), horizon, n_kept))
    }
}

/// Reads a whole stored batch into `buf`.
fn read_batch(log: &File, position: u64, h: &BatchHeader, buf: &mut Vec<u8>) -> io::Result<()> {
    let total = h.total_size().unwrap_or(0);
    let len = usize::try_from(total).map_err(io::Error::other)?;
    buf.resize(len, 0);
    if read_up_to_at(log, buf, position)? != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "batch extends past the segment",
        ));
    }
    Ok(())
}

/// The batch's records, decompressed (bounded) when needed.
fn records_of<'a>(
    batch: &'a [u8],
    h: &BatchHeader,
) -> Result<std::borrow::Cow<'a, [u8]>, LogError> {
    let rest = batch.get(HEADER_LEN..).unwrap_or(&[]);
    match h.compression() {
        Some(Compression::None) => Ok(std::borrow::Cow::Borrowed(rest)),
        Some(codec) => compression::decompress(codec, rest, MAX_DECOMPRESSED_BATCH_BYTES)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| LogError::Corrupt(e.to_string())),
        None => Err(LogError::Corrupt(
            "unknown compression type in a stored batch".into(),
        )),
    }
}

fn corrupt_record(h: &BatchHeader, e: record::RecordParseError) -> LogError {
    LogError::Corrupt(format!(
        "batch at offset {}: record {}: {}",
        h.base_offset, e.index, e.reason
    ))
}

/// A batch with no records that keeps the original's offsets and producer fields (Kafka's
/// `writeEmptyHeader`): uncompressed, both timestamps the original maxTimestamp.
fn empty_batch(h: &BatchHeader) -> Vec<u8> {
    let mut e = *h;
    e.length = (HEADER_LEN - LOG_OVERHEAD) as i32;
    e.attributes = h.attributes & (ATTR_LOG_APPEND_TIME | ATTR_TRANSACTIONAL | ATTR_CONTROL);
    e.base_timestamp = h.max_timestamp;
    e.records_count = 0;
    finish_batch(e, &[])
}

/// A batch holding `kept` records of `h`, same offsets and producer fields; with `horizon`, the
/// delete horizon is set and record timestamps are re-encoded against it.
fn rebuild_batch(
    h: &BatchHeader,
    kept: &[record::RawRecord<'_>],
    horizon: Option<i64>,
) -> Result<Vec<u8>, LogError> {
    let base_timestamp = horizon.unwrap_or(h.base_timestamp);
    let mut plain = Vec::new();
    let mut max_timestamp = i64::MIN;
    for r in kept {
        let ts = h.base_timestamp.wrapping_add(r.timestamp_delta);
        max_timestamp = max_timestamp.max(ts);
        if base_timestamp == h.base_timestamp {
            plain.extend_from_slice(r.encoded);
        } else {
            record::encode_raw_record(
                &mut plain,
                r.attributes,
                ts.wrapping_sub(base_timestamp),
                r.offset_delta,
                r.tail,
            );
        }
    }
    let codec = h
        .compression()
        .ok_or_else(|| LogError::Corrupt("unknown compression type".into()))?;
    let body = if codec == Compression::None {
        plain
    } else {
        compression::compress(codec, &plain)?
    };
    let mut n = *h;
    n.length = i32::try_from(HEADER_LEN - LOG_OVERHEAD + body.len())
        .map_err(|_| LogError::Corrupt("cleaned batch too large".into()))?;
    n.base_timestamp = base_timestamp;
    if horizon.is_some() {
        n.attributes |= ATTR_DELETE_HORIZON;
    }
    n.attributes = (n.attributes & !ATTR_COMPRESSION_MASK) | i16::from(codec.id());
    if h.timestamp_type() == TimestampType::CreateTime {
        n.max_timestamp = max_timestamp;
    }
    n.records_count = kept.len() as i32;
    Ok(finish_batch(n, &body))
}

fn finish_batch(mut h: BatchHeader, body: &[u8]) -> Vec<u8> {
    h.crc = batch_crc(&h.to_bytes(), body);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(body);
    out
}

/// Runs one cleaning pass on a log if it wants one. `lock` gives the partition's log under its
/// mutex; it is taken briefly to plan, to swap each group and to finish, never while reading or
/// writing segment data. `Ok(None)`: nothing to clean.
pub fn clean_log<G>(
    lock: impl Fn() -> G,
    now_ms: i64,
    max_map_entries: usize,
) -> Result<Option<CleanStats>, CleanError>
where
    G: std::ops::DerefMut<Target = PartitionLog>,
{
    let Some(job) = lock().start_cleaning(now_ms) else {
        return Ok(None);
    };
    let result = run_job(&lock, &job, max_map_entries);
    match result {
        Ok((stats, horizon)) => {
            lock().end_cleaning(Some((stats.cleaned_up_to, horizon)));
            Ok(Some(stats))
        }
        Err(e) => {
            lock().end_cleaning(None);
            Err(e)
        }
    }
}

fn run_job<G>(
    lock: &impl Fn() -> G,
    job: &CleanJob,
    max_map_entries: usize,
) -> Result<(CleanStats, Option<i64>), CleanError>
where
    G: std::ops::DerefMut<Target = PartitionLog>,
{
    let map = job.build_offset_map(max_map_entries)?;
    let mut stats = CleanStats {
        cleaned_up_to: job.cleaned_up_to(&map),
        ..CleanStats::default()
    };
    let mut horizon: Option<i64> = None;
    for group in job.groups(&map) {
        let cleaned = job.clean_group(group, &map)?;
        stats.groups += 1;
        stats.records_read += cleaned.records_read;
        stats.records_kept += cleaned.records_kept;
        if let Some(h) = cleaned.earliest_delete_horizon_ms {
            horizon = Some(horizon.map_or(h, |x| x.min(h)));
        }
        let deleted = lock().swap_in(cleaned)?;
        deleted.remove();
    }
    Ok((stats, horizon))
}

/// Finishes what a crash interrupted (see the module documentation): run at open, before the
/// directory is listed.
pub(crate) fn complete_interrupted_swaps(dir: &Path) -> io::Result<()> {
    let mut swaps = Vec::new();
    let mut logs = Vec::new();
    let mut changed = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let txn_index_of_swap = name
            .strip_suffix(CLEANED_SUFFIX)
            .and_then(|stem| file::parse_offset_file_name(stem, TXN_INDEX_SUFFIX))
            .filter(|base| {
                dir.join(format!(
                    "{}{SWAP_SUFFIX}",
                    offset_file_name(*base, LOG_SUFFIX)
                ))
                .exists()
            });
        if let Some(base) = txn_index_of_swap {
            // A committed swap's transaction index: it replaces the old ones.
            std::fs::rename(
                entry.path(),
                dir.join(offset_file_name(base, TXN_INDEX_SUFFIX)),
            )?;
            changed = true;
        } else if name.ends_with(CLEANED_SUFFIX) || name.ends_with(DELETED_SUFFIX) {
            std::fs::remove_file(entry.path())?;
            changed = true;
        } else if let Some(stem) = name.strip_suffix(SWAP_SUFFIX) {
            match file::parse_offset_file_name(stem, LOG_SUFFIX) {
                Some(base) => swaps.push(base),
                None => {
                    std::fs::remove_file(entry.path())?;
                    changed = true;
                }
            }
        } else if let Some(base) = file::parse_offset_file_name(&name, LOG_SUFFIX) {
            logs.push(base);
        }
    }
    for base in swaps {
        let swap_path = dir.join(format!(
            "{}{SWAP_SUFFIX}",
            offset_file_name(base, LOG_SUFFIX)
        ));
        let swap = File::open(&swap_path)?;
        let size = swap.metadata()?.len();
        let mut last = base;
        let mut scanner = HeaderScanner::new(&swap, 0, size);
        while let Scan::Batch { header, .. } = scanner.next()? {
            last = last.max(header.last_offset());
        }
        for &old in logs.iter().filter(|&&b| b >= base && b <= last) {
            for suffix in [
                LOG_SUFFIX,
                INDEX_SUFFIX,
                TIME_INDEX_SUFFIX,
                TXN_INDEX_SUFFIX,
            ] {
                if old == base && suffix == TXN_INDEX_SUFFIX {
                    continue; // the swapped-in segment's own (renamed above)
                }
                match std::fs::remove_file(dir.join(offset_file_name(old, suffix))) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        // The cleaned indexes may be gone: let the segment rebuild them.
        for suffix in [INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            match std::fs::remove_file(dir.join(offset_file_name(base, suffix))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&swap_path, dir.join(offset_file_name(base, LOG_SUFFIX)))?;
        tracing::warn!(
            base_offset = base,
            "finished a segment swap interrupted by a crash"
        );
        changed = true;
    }
    if changed {
        file::sync_dir(dir)?;
    }
    Ok(())
}
