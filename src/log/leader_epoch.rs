//! The leader epoch cache and its `leader-epoch-checkpoint` file, in Kafka's format
//! (`LeaderEpochCheckpointFile`): a version line `0`, a count line, then `epoch startOffset`
//! lines. An entry is added when an append carries a leader epoch larger than the latest
//! (Kafka's `assign`), before the batch itself is written, so a crash can only leave an entry
//! at the log end, which opening drops. Used later by OffsetForLeaderEpoch and replication.
//!
//! Left out: truncation from the start/end (no DeleteRecords/replica truncation yet).

use std::io;
use std::path::PathBuf;

use super::file::{read_optional, replace_file};

pub(crate) const CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";
/// A checkpoint larger than this is not ours to read.
const MAX_CHECKPOINT_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Default)]
pub(crate) struct LeaderEpochCache {
    /// (epoch, start offset), both increasing.
    entries: Vec<(i32, i64)>,
    dir: Option<PathBuf>,
}

impl LeaderEpochCache {
    pub(crate) fn in_memory() -> LeaderEpochCache {
        LeaderEpochCache::default()
    }

    /// Loads the checkpoint, keeping only entries that start below `log_end_offset`.
    /// A missing or unreadable file gives an empty cache (rebuilt from batch headers by the caller).
    pub(crate) fn load(dir: PathBuf, log_end_offset: i64) -> io::Result<(LeaderEpochCache, bool)> {
        let bytes = read_optional(&dir.join(CHECKPOINT_FILE), MAX_CHECKPOINT_BYTES)?;
        let parsed = bytes.as_deref().and_then(parse_checkpoint);
        let found = parsed.is_some();
        let mut entries = parsed.unwrap_or_default();
        entries.retain(|&(_, start)| start < log_end_offset);
        Ok((
            LeaderEpochCache {
                entries,
                dir: Some(dir),
            },
            found,
        ))
    }

    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    pub(crate) fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// Adds `(epoch, start_offset)` if `epoch` is newer than the latest. Returns whether it did.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return false;
        }
        if self
            .entries
            .last()
            .is_some_and(|&(_, start)| start_offset < start)
        {
            return false;
        }
        self.entries.push((epoch, start_offset));
        true
    }

    /// Writes the checkpoint file (temp file, fsync, rename), as Kafka does on every change.
    pub(crate) fn write_checkpoint(&self) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let mut text = format!("0\n{}\n", self.entries.len());
        for (epoch, start) in &self.entries {
            text.push_str(&format!("{epoch} {start}\n"));
        }
        replace_file(dir, CHECKPOINT_FILE, text.as_bytes(), true)
    }

    /// Kafka's `endOffsetFor`: for `epoch`, the start offset of the next larger epoch (or the log
    /// end for the latest), with the largest known epoch <= the requested one.
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if let Some(latest) = self.latest_epoch()
            && epoch == latest
        {
            return Some((latest, log_end_offset));
        }
        let idx = self.entries.partition_point(|&(e, _)| e <= epoch);
        let (found_epoch, _) = *idx.checked_sub(1).and_then(|i| self.entries.get(i))?;
        let (_, next_start) = *self.entries.get(idx)?;
        Some((found_epoch, next_start))
    }
}

fn parse_checkpoint(bytes: &[u8]) -> Option<Vec<(i32, i64)>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::new();
    for line in lines.by_ref().take(count) {
        let mut parts = line.split_whitespace();
        let epoch: i32 = parts.next()?.parse().ok()?;
        let start: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some()
            || entries
                .last()
                .is_some_and(|&(e, s)| epoch <= e || start < s)
        {
            return None;
        }
        entries.push((epoch, start));
    }
    (entries.len() == count).then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip_and_end_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cache, found) = LeaderEpochCache::load(dir.path().to_path_buf(), 100).unwrap();
        assert!(!found);
        assert!(cache.assign(0, 0));
        assert!(!cache.assign(0, 5));
        assert!(cache.assign(3, 40));
        cache.write_checkpoint().unwrap();
        let text = std::fs::read_to_string(dir.path().join(CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n2\n0 0\n3 40\n");
        let (again, found) = LeaderEpochCache::load(dir.path().to_path_buf(), 100).unwrap();
        assert!(found);
        assert_eq!(again.entries(), &[(0, 0), (3, 40)]);
        assert_eq!(again.end_offset_for(0, 100), Some((0, 40)));
        assert_eq!(again.end_offset_for(2, 100), Some((0, 40)));
        assert_eq!(again.end_offset_for(3, 100), Some((3, 100)));
        // Entries at or past the log end are dropped on load.
        let (short, _) = LeaderEpochCache::load(dir.path().to_path_buf(), 40).unwrap();
        assert_eq!(short.entries(), &[(0, 0)]);
        assert_eq!(parse_checkpoint(b"0\n2\n0 0\n"), None);
        assert_eq!(parse_checkpoint(b"1\n0\n"), None);
    }
}
