//! The offset index (`.index`): sparse 8-byte entries, big-endian `u32` offset relative to the
//! segment's base offset and `u32` byte position in the `.log`, as Kafka's `OffsetIndex`.
//!
//! An entry maps the *last* offset of an append to the position where that append starts
//! (Kafka's `LogSegment.append`), so a lookup of the largest entry <= target gives a position
//! at or before the batch holding the target. Kafka preallocates and mmaps the file; here entries
//! are appended with plain writes, so the file is always exactly `entries * 8` bytes (a valid
//! Kafka index at any time), and a copy lives in memory for lookups.

use std::fs::File;
use std::io;
use std::sync::Arc;

use super::file::{read_up_to_at, write_all_vectored_at};

pub(crate) const OFFSET_ENTRY_LEN: usize = 8;
/// Kafka's `segment.index.bytes` default (10 MiB): a full index rolls the segment.
pub(crate) const MAX_INDEX_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct OffsetIndex {
    base_offset: i64,
    /// (relative offset, position), both strictly increasing.
    entries: Vec<(u32, u32)>,
    pub(crate) file: Arc<File>,
}

impl OffsetIndex {
    pub(crate) fn empty(base_offset: i64, file: Arc<File>) -> io::Result<OffsetIndex> {
        file.set_len(0)?;
        Ok(OffsetIndex {
            base_offset,
            entries: Vec::new(),
            file,
        })
    }

    /// Loads and checks an existing index against its log size; `Ok(None)` if it is invalid
    /// (length not a multiple of 8, offsets or positions not increasing, position past the log).
    pub(crate) fn load(
        base_offset: i64,
        file: Arc<File>,
        log_size: u64,
    ) -> io::Result<Option<OffsetIndex>> {
        let len = file.metadata()?.len();
        if len % OFFSET_ENTRY_LEN as u64 != 0 || len > MAX_INDEX_BYTES as u64 {
            return Ok(None);
        }
        let mut bytes = vec![0u8; len as usize];
        if read_up_to_at(&file, &mut bytes, 0)? != bytes.len() {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(bytes.len() / OFFSET_ENTRY_LEN);
        for chunk in bytes.chunks_exact(OFFSET_ENTRY_LEN) {
            let rel = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let pos = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            let increasing = entries.last().is_none_or(|&(r, p)| rel > r && pos > p);
            if !increasing || rel > i32::MAX as u32 || u64::from(pos) >= log_size {
                return Ok(None);
            }
            entries.push((rel, pos));
        }
        Ok(Some(OffsetIndex {
            base_offset,
            entries,
            file,
        }))
    }

    pub(crate) fn is_full(&self) -> bool {
        self.entries.len() >= MAX_INDEX_BYTES / OFFSET_ENTRY_LEN
    }

    /// Appends `offset -> position`. Offsets must increase; a non-increasing one is ignored.
    pub(crate) fn append(&mut self, offset: i64, position: u32) -> io::Result<()> {
        let rel = u32::try_from(offset - self.base_offset).map_err(io::Error::other)?;
        if self.entries.last().is_some_and(|&(r, _)| rel <= r) {
            return Ok(());
        }
        let mut entry = [0u8; OFFSET_ENTRY_LEN];
        entry[..4].copy_from_slice(&rel.to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        write_all_vectored_at(
            &self.file,
            &[&entry],
            (self.entries.len() * OFFSET_ENTRY_LEN) as u64,
        )?;
        self.entries.push((rel, position));
        Ok(())
    }

    /// Drops entries for offsets above `offset` (an append being undone) and cuts the file to
    /// match, so a partial entry write never stays behind.
    pub(crate) fn truncate_after(&mut self, offset: i64) {
        let rel = offset - self.base_offset;
        let keep = self.entries.partition_point(|&(r, _)| i64::from(r) <= rel);
        self.entries.truncate(keep);
        let _ = self
            .file
            .set_len((self.entries.len() * OFFSET_ENTRY_LEN) as u64);
    }

    /// The entry with the largest offset <= `target`, or (base offset, 0).
    pub(crate) fn lookup(&self, target: i64) -> (i64, u32) {
        let rel = target - self.base_offset;
        let idx = self.entries.partition_point(|&(r, _)| i64::from(r) <= rel);
        match idx.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(r, p)) => (self.base_offset + i64::from(r), p),
            None => (self.base_offset, 0),
        }
    }

    pub(crate) fn last(&self) -> (i64, u32) {
        self.entries
            .last()
            .map_or((self.base_offset, 0), |&(r, p)| {
                (self.base_offset + i64::from(r), p)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memfd() -> Arc<File> {
        Arc::new(super::super::file::Place::Memory.open_rw("idx").unwrap())
    }

    #[test]
    fn lookup_and_reload() {
        let file = memfd();
        let mut idx = OffsetIndex::empty(100, file.clone()).unwrap();
        assert_eq!(idx.lookup(150), (100, 0));
        idx.append(109, 0).unwrap();
        idx.append(120, 4100).unwrap();
        idx.append(120, 5000).unwrap(); // not increasing: ignored
        idx.append(140, 8300).unwrap();
        assert_eq!(idx.lookup(99), (100, 0));
        assert_eq!(idx.lookup(108), (100, 0));
        assert_eq!(idx.lookup(109), (109, 0));
        assert_eq!(idx.lookup(139), (120, 4100));
        assert_eq!(idx.lookup(1_000), (140, 8300));
        assert_eq!(file.metadata().unwrap().len(), 24);

        let again = OffsetIndex::load(100, file.clone(), 9000).unwrap().unwrap();
        assert_eq!(again.entries, idx.entries);
        // A position past the log end makes the index invalid.
        assert!(
            OffsetIndex::load(100, file.clone(), 8300)
                .unwrap()
                .is_none()
        );
        file.set_len(23).unwrap();
        assert!(OffsetIndex::load(100, file, 9000).unwrap().is_none());
    }
}
