//! Retention: deleting whole old segments, as Kafka's `UnifiedLog.deleteOldSegments` does.
//!
//! Three reasons remove segments from the front of a log, checked in Kafka's order:
//! 1. the log start offset has moved past them (DeleteRecords): a segment goes once the next
//!    segment starts at or below the log start offset — for every cleanup policy;
//! 2. `retention.bytes` (only with `cleanup.policy` containing `delete`): while the log is
//!    larger than the limit, the oldest segments whose removal keeps it at or above the limit go;
//! 3. `retention.ms` (same condition): segments whose newest record is older than the limit
//!    (a segment without record timestamps uses its file's modification time, as Kafka does).
//!
//! Only segments wholly below the high watermark are candidates, and the scan stops at the
//! first segment that must stay (deletion is always a prefix). When every segment qualifies,
//! the log first rolls a new empty active segment, so the log end offset survives. The log
//! start offset then moves to the first remaining segment.
//!
//! File removal is two-step, like Kafka's: under the partition lock the files are renamed to
//! `<name>.deleted` (cheap, and a restart finishes the job); the caller unlinks them after
//! releasing the lock with [`DeletedFiles::remove`]. Readers that already hold a segment's
//! file keep reading it: an unlinked file stays readable through open descriptors.
//!
//! Difference from Kafka: `file.delete.delay.ms` is not waited for (open descriptors make the
//! delay unnecessary for readers of this process).

use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use super::error::LogError;
use super::file::Place;
use super::partition_log::PartitionLog;
use super::segment::Segment;

/// Suffix given to files of deleted segments until they are unlinked.
pub(crate) const DELETED_SUFFIX: &str = ".deleted";

/// Files renamed away under the lock, to unlink once it is released.
#[derive(Debug, Default)]
#[must_use = "call remove() after releasing the partition lock"]
pub struct DeletedFiles {
    pub(crate) paths: Vec<PathBuf>,
    /// Segments removed from the log.
    pub segments: usize,
}

impl DeletedFiles {
    /// Unlinks the files (outside the partition lock). Failures are logged: a restart removes
    /// leftover `.deleted` files anyway.
    pub fn remove(self) {
        for path in self.paths {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove deleted segment file");
            }
        }
    }

    pub(crate) fn extend(&mut self, other: DeletedFiles) {
        self.paths.extend(other.paths);
        self.segments += other.segments;
    }
}

/// Renames a segment's files to `*.deleted` and returns the new paths (none in memory mode).
pub(crate) fn retire_segment_files(place: &Place, segment: &Segment) -> Vec<PathBuf> {
    let Some(dir) = place.dir() else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for name in segment.file_names() {
        let from = dir.join(&name);
        let to = dir.join(format!("{name}{DELETED_SUFFIX}"));
        match std::fs::rename(&from, &to) {
            Ok(()) => paths.push(to),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                // Fall back to unlinking now; a file that cannot be renamed is unlikely to be
                // removable either, but try rather than keep serving it.
                tracing::warn!(file = %from.display(), error = %e, "cannot rename segment file");
                paths.push(from);
            }
        }
    }
    paths
}

/// The time retention compares with `retention.ms`: the segment's largest record timestamp,
/// or its file's modification time when it has none (Kafka's `LogSegment.largestTimestamp`).
fn largest_timestamp(segment: &Segment) -> i64 {
    if segment.max_timestamp >= 0 {
        return segment.max_timestamp;
    }
    segment
        .log
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}

impl PartitionLog {
    /// Applies retention (see the module documentation). Call under the partition lock, then
    /// `remove()` the returned files after releasing it. Does nothing on an offline log.
    pub fn delete_old_segments(&mut self, now_ms: i64) -> Result<DeletedFiles, LogError> {
        let mut deleted = DeletedFiles::default();
        // A full disk is exactly when retention must still run: it frees the space.
        let disk_full = matches!(
            self.offline,
            Some(super::partition_log::Offline::WriteFailed {
                retry_at_ms: Some(_),
                ..
            })
        );
        if self.offline.is_some() && !disk_full {
            return Ok(deleted);
        }
        let start = self.log_start_offset;
        let n = self.deletable_prefix(|_, next_base| next_base.is_some_and(|b| b <= start));
        deleted.extend(self.delete_prefix(n, now_ms)?);
        if !self.config.cleanup_delete {
            return Ok(deleted);
        }

        let retention_bytes = self.config.retention_bytes;
        let size = self.size_in_bytes();
        if retention_bytes >= 0 && size >= retention_bytes as u64 {
            let mut excess = size - retention_bytes as u64;
            let n = self.deletable_prefix(|segment, _| {
                if excess >= segment.size {
                    excess -= segment.size;
                    true
                } else {
                    false
                }
            });
            deleted.extend(self.delete_prefix(n, now_ms)?);
        }

        let retention_ms = self.config.retention_ms;
        if retention_ms >= 0 {
            let n = self.deletable_prefix(|segment, _| {
                now_ms.saturating_sub(largest_timestamp(segment)) > retention_ms
            });
            deleted.extend(self.delete_prefix(n, now_ms)?);
        }
        Ok(deleted)
    }

    /// How many leading segments satisfy `predicate(segment, next segment's base offset)`,
    /// stopping at the first that does not, at the first not wholly below the high watermark,
    /// and at an empty active segment (Kafka's `deletableSegments`).
    fn deletable_prefix(&self, mut predicate: impl FnMut(&Segment, Option<i64>) -> bool) -> usize {
        let mut count = 0;
        for (i, segment) in self.segments.iter().enumerate() {
            let next_base = self.segments.get(i + 1).map(|s| s.base_offset);
            let upper_bound = next_base.unwrap_or_else(|| self.log_end_offset());
            let last_and_empty = next_base.is_none() && segment.size == 0;
            if last_and_empty || upper_bound > self.high_watermark || !predicate(segment, next_base)
            {
                break;
            }
            count += 1;
        }
        count
    }

    /// Removes the first `count` segments (rolling first if that is all of them) and moves the
    /// log start offset to the first remaining segment.
    fn delete_prefix(&mut self, count: usize, now_ms: i64) -> Result<DeletedFiles, LogError> {
        let mut deleted = DeletedFiles::default();
        if count == 0 {
            return Ok(deleted);
        }
        if count >= self.segments.len()
            && let Err(e) = self.roll(now_ms)
        {
            tracing::error!(error = %e, "roll before retention failed; partition log goes offline");
            self.offline = Some(super::partition_log::Offline::WriteFailed {
                error: e.to_string(),
                retry_at_ms: None,
                retries: 0,
            });
            return Err(LogError::Io(e));
        }
        let removed: Vec<Segment> = self.segments.drain(..count).collect();
        let first_kept = self.segments.first().map_or(0, |s| s.base_offset);
        self.txns.drop_below(first_kept);
        for segment in &removed {
            deleted
                .paths
                .extend(retire_segment_files(&self.place, segment));
        }
        deleted.segments = removed.len();
        if let Some(first) = self.segments.first() {
            self.log_start_offset = self.log_start_offset.max(first.base_offset);
        }
        self.register_pending_dir(self.log_end_offset());
        tracing::info!(
            segments = removed.len(),
            log_start_offset = self.log_start_offset,
            "deleted old log segments"
        );
        self.check_invariants();
        Ok(deleted)
    }
}
