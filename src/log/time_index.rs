//! The time index (`.timeindex`): 12-byte entries, big-endian `i64` timestamp and `u32` offset
//! relative to the segment base, as Kafka's `TimeIndex`.
//!
//! An entry says "the largest timestamp seen up to this point of the segment, and the offset of
//! the batch that holds it" (Kafka's shallow offset of the max timestamp: the batch's last
//! offset). Entries are added only when the timestamp grows (`maybeAppend`), alongside offset
//! index entries, plus one final entry when the segment is rolled or closed. Like the offset
//! index: plain appends (file always exactly `entries * 12` bytes) and an in-memory copy.

use std::fs::File;
use std::io;
use std::sync::Arc;

use super::file::{read_up_to_at, write_all_vectored_at};
use super::index::MAX_INDEX_BYTES;

pub(crate) const TIME_ENTRY_LEN: usize = 12;

#[derive(Debug)]
pub(crate) struct TimeIndex {
    base_offset: i64,
    /// (timestamp, relative offset); timestamps strictly increasing, offsets non-decreasing.
    entries: Vec<(i64, u32)>,
    pub(crate) file: Arc<File>,
}

impl TimeIndex {
    pub(crate) fn empty(base_offset: i64, file: Arc<File>) -> io::Result<TimeIndex> {
        file.set_len(0)?;
        Ok(TimeIndex {
            base_offset,
            entries: Vec::new(),
            file,
        })
    }

    /// Loads and checks an existing time index; `Ok(None)` if invalid. `next_offset_bound` is an
    /// upper bound on the segment's offsets (entries past it are invalid).
    pub(crate) fn load(
        base_offset: i64,
        file: Arc<File>,
        next_offset_bound: i64,
    ) -> io::Result<Option<TimeIndex>> {
        let len = file.metadata()?.len();
        if len % TIME_ENTRY_LEN as u64 != 0 || len > MAX_INDEX_BYTES as u64 {
            return Ok(None);
        }
        let mut bytes = vec![0u8; len as usize];
        if read_up_to_at(&file, &mut bytes, 0)? != bytes.len() {
            return Ok(None);
        }
        let mut entries: Vec<(i64, u32)> = Vec::with_capacity(bytes.len() / TIME_ENTRY_LEN);
        for chunk in bytes.chunks_exact(TIME_ENTRY_LEN) {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&chunk[..8]);
            let ts = i64::from_be_bytes(ts);
            let rel = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
            let ordered = entries.last().is_none_or(|&(t, r)| ts > t && rel >= r);
            if !ordered
                || rel > i32::MAX as u32
                || base_offset + i64::from(rel) >= next_offset_bound
            {
                return Ok(None);
            }
            entries.push((ts, rel));
        }
        Ok(Some(TimeIndex {
            base_offset,
            entries,
            file,
        }))
    }

    /// Kafka keeps the last slot free for the entry written at roll.
    pub(crate) fn is_full(&self) -> bool {
        self.entries.len() + 1 >= MAX_INDEX_BYTES / TIME_ENTRY_LEN
    }

    /// Appends `(timestamp, offset)` when `timestamp` is larger than the last entry's.
    pub(crate) fn maybe_append(&mut self, timestamp: i64, offset: i64) -> io::Result<()> {
        // An empty index reads as (-1, base), as in Kafka: only larger timestamps are appended.
        let (last_timestamp, last_offset) = self.last();
        if timestamp <= last_timestamp || offset < last_offset {
            return Ok(());
        }
        let rel = u32::try_from(offset - self.base_offset).map_err(io::Error::other)?;
        let mut entry = [0u8; TIME_ENTRY_LEN];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&rel.to_be_bytes());
        let at = (self.entries.len() * TIME_ENTRY_LEN) as u64;
        if let Err(e) = write_all_vectored_at(&self.file, &[&entry], at) {
            let _ = self.file.set_len(at);
            return Err(e);
        }
        self.entries.push((timestamp, rel));
        Ok(())
    }

    /// The entry with the largest timestamp <= `target`, or (-1, base offset).
    pub(crate) fn lookup(&self, target: i64) -> (i64, i64) {
        let idx = self.entries.partition_point(|&(t, _)| t <= target);
        match idx.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(t, r)) => (t, self.base_offset + i64::from(r)),
            None => (-1, self.base_offset),
        }
    }

    /// The last entry, or (-1, base offset).
    pub(crate) fn last(&self) -> (i64, i64) {
        self.entries
            .last()
            .map_or((-1, self.base_offset), |&(t, r)| {
                (t, self.base_offset + i64::from(r))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_only_growing_timestamps_and_lookup() {
        let file = Arc::new(super::super::file::Place::Memory.open_rw("ti").unwrap());
        let mut idx = TimeIndex::empty(10, file.clone()).unwrap();
        assert_eq!(idx.lookup(5), (-1, 10));
        idx.maybe_append(1000, 14).unwrap();
        idx.maybe_append(1000, 20).unwrap(); // same timestamp: skipped
        idx.maybe_append(900, 25).unwrap(); // older: skipped
        idx.maybe_append(2000, 30).unwrap();
        assert_eq!(idx.lookup(999), (-1, 10));
        assert_eq!(idx.lookup(1500), (1000, 14));
        assert_eq!(idx.lookup(5000), (2000, 30));
        assert_eq!(idx.last(), (2000, 30));
        assert_eq!(file.metadata().unwrap().len(), 24);
        let again = TimeIndex::load(10, file.clone(), 31).unwrap().unwrap();
        assert_eq!(again.entries, idx.entries);
        assert!(TimeIndex::load(10, file, 30).unwrap().is_none());
    }
}
