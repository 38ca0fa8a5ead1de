//! Aborted transactions: Kafka's `TransactionIndex` (`<base>.txnindex`).
//!
//! When an abort marker is appended, the transaction it ends — producer id, first offset, the
//! marker's offset and the last stable offset after it — is recorded in the `.txnindex` file of
//! the segment holding the marker: 34-byte entries, big-endian `i16` version 0, `i64` producer
//! id, `i64` first offset, `i64` last offset, `i64` last stable offset, exactly Kafka's layout
//! (its `kafka-dump-log` reads them). A `read_committed` Fetch returns the aborted transactions
//! that overlap the fetched range so the client drops their records.
//!
//! The whole partition's entries are also kept in memory, ordered by last offset (34 bytes
//! each); the files are created only when a segment gets its first entry.

use std::io;

use super::file::{Place, offset_file_name, parse_offset_file_name, read_optional};

pub(crate) const TXN_INDEX_SUFFIX: &str = ".txnindex";
const ENTRY_LEN: usize = 34;
const VERSION: i16 = 0;
/// A `.txnindex` larger than this is refused (about 30 M aborted transactions).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// One aborted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The offset of the abort marker.
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub(crate) fn to_bytes(self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..2].copy_from_slice(&VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| {
            b.get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .map(i64::from_be_bytes)
        };
        let version = i16::from_be_bytes(b.get(0..2)?.try_into().ok()?);
        (version == VERSION).then_some(())?;
        let t = AbortedTxn {
            producer_id: i64_at(2)?,
            first_offset: i64_at(10)?,
            last_offset: i64_at(18)?,
            last_stable_offset: i64_at(26)?,
        };
        (t.first_offset <= t.last_offset).then_some(t)
    }
}

/// The aborted transactions of one partition.
#[derive(Debug, Default)]
pub(crate) struct TxnIndex {
    /// Ordered by `last_offset`.
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// Reads the `.txnindex` files of the given segments (base offsets, ascending). Entries at
    /// or past `log_end` (bytes a recovery cut) are dropped and their files rewritten.
    pub(crate) fn load(place: &Place, bases: &[i64], log_end: i64) -> io::Result<TxnIndex> {
        let mut index = TxnIndex::default();
        let Some(dir) = place.dir() else {
            return Ok(index);
        };
        for &base in bases {
            let name = offset_file_name(base, TXN_INDEX_SUFFIX);
            let Some(bytes) = read_optional(&dir.join(&name), MAX_FILE_BYTES)? else {
                continue;
            };
            let mut kept = Vec::new();
            let mut dropped = bytes.len() % ENTRY_LEN != 0;
            for chunk in bytes.chunks_exact(ENTRY_LEN) {
                match AbortedTxn::decode(chunk) {
                    Some(t) if t.last_offset < log_end => kept.push(t),
                    _ => dropped = true,
                }
            }
            if dropped {
                tracing::warn!(
                    file = name,
                    "dropping transaction index entries past the log end"
                );
                let bytes: Vec<u8> = kept.iter().flat_map(|t| t.to_bytes()).collect();
                super::file::replace_file(dir, &name, &bytes, true)?;
            }
            index.entries.extend(kept);
        }
        index.entries.sort_by_key(|t| t.last_offset);
        index.entries.dedup();
        Ok(index)
    }

    /// Records an aborted transaction whose marker is in the segment starting at
    /// `segment_base` (appending to its `.txnindex`, created if needed). Already known
    /// transactions (a replay after a restart) are not written twice.
    pub(crate) fn add(
        &mut self,
        place: &Place,
        segment_base: i64,
        txn: AbortedTxn,
    ) -> io::Result<()> {
        if self.entries.contains(&txn) {
            return Ok(());
        }
        if place.dir().is_some() {
            let name = offset_file_name(segment_base, TXN_INDEX_SUFFIX);
            let file = place.open_rw(&name)?;
            let at = file.metadata()?.len();
            super::file::write_all_vectored_at(&file, &[&txn.to_bytes()], at)?;
        }
        let at = self
            .entries
            .partition_point(|t| t.last_offset <= txn.last_offset);
        self.entries.insert(at, txn);
        Ok(())
    }

    /// The aborted transactions a `read_committed` fetch from `fetch_offset` whose data ends
    /// before `upper_bound` must report: those ending at or after the fetch offset and
    /// starting before the bound (Kafka's `collectAbortedTxns`).
    pub(crate) fn overlapping(&self, fetch_offset: i64, upper_bound: i64) -> Vec<AbortedTxn> {
        let from = self
            .entries
            .partition_point(|t| t.last_offset < fetch_offset);
        self.entries[from..]
            .iter()
            .filter(|t| t.first_offset < upper_bound)
            .copied()
            .collect()
    }

    /// Entries wholly below the log start are forgotten (their segments are gone).
    pub(crate) fn drop_below(&mut self, log_start: i64) {
        self.entries.retain(|t| t.last_offset >= log_start);
    }
}

/// `<base>.txnindex` for a file name, if it is one.
pub(crate) fn parse_txn_index_name(name: &str) -> Option<i64> {
    parse_offset_file_name(name, TXN_INDEX_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: last + 1,
        }
    }

    #[test]
    fn entries_round_trip_through_files_and_overlap_as_kafka_collects_them() {
        let dir = tempfile::tempdir().unwrap();
        let place = Place::Dir(dir.path().to_path_buf());
        let mut index = TxnIndex::default();
        index.add(&place, 0, txn(1, 0, 5)).unwrap();
        index.add(&place, 0, txn(2, 3, 9)).unwrap();
        index.add(&place, 100, txn(1, 100, 120)).unwrap();
        index.add(&place, 100, txn(1, 100, 120)).unwrap();
        let bytes = std::fs::read(dir.path().join("00000000000000000000.txnindex")).unwrap();
        assert_eq!(bytes.len(), 2 * ENTRY_LEN);
        assert_eq!(&bytes[0..2], &[0, 0]);
        let loaded = TxnIndex::load(&place, &[0, 100], 200).unwrap();
        assert_eq!(loaded.entries, index.entries);
        assert_eq!(
            loaded.overlapping(6, 200),
            vec![txn(2, 3, 9), txn(1, 100, 120)]
        );
        assert_eq!(loaded.overlapping(0, 3), vec![txn(1, 0, 5)]);
        assert_eq!(loaded.overlapping(121, 1000), vec![]);
        // A log cut at offset 100 drops the later entry.
        let cut = TxnIndex::load(&place, &[0, 100], 100).unwrap();
        assert_eq!(cut.entries.len(), 2);
        assert_eq!(
            std::fs::read(dir.path().join("00000000000000000100.txnindex"))
                .unwrap()
                .len(),
            0
        );
    }
}
