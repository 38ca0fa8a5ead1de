//! Idempotent-producer state of one partition, after Kafka's `ProducerStateManager`,
//! `ProducerStateEntry` and `ProducerAppendInfo` (client-origin appends):
//! - per producer id: the epoch and the last 5 batches (sequence range, offsets, timestamp);
//! - a batch with the current epoch whose exact sequence range is cached is a duplicate: the
//!   caller answers with the original offsets and writes nothing;
//! - an epoch lower than the current one is INVALID_PRODUCER_EPOCH (47; Kafka 2.7+ uses it
//!   instead of PRODUCER_FENCED for produce);
//! - a new epoch must start at sequence 0 (OUT_OF_ORDER_SEQUENCE_NUMBER, 45), unless the
//!   producer had no epoch yet;
//! - the same epoch must continue at last sequence + 1, wrapping at i32::MAX to 0 (45 otherwise);
//! - an unknown producer is accepted at any sequence (Kafka 4 no longer answers
//!   UNKNOWN_PRODUCER_ID: the state may have been removed by retention or DeleteRecords).
//!
//! State survives restarts through snapshot files `<offset>.snapshot` (the state as of that
//! log offset) plus a replay of batch headers after it. The snapshot layout is this engine's own
//! (Kafka's keeps only the last batch per producer; this keeps all 5 for duplicate detection
//! across restarts): i16 version 0x5601 (Kafka rejects it as an unknown version and rebuilds
//! from the log), u32 CRC32C of the rest, i32 producer count, then per producer: i64 id,
//! i16 epoch, i32 coordinator epoch, i64 last timestamp, i64 current txn first offset (-1),
//! u8 batch count, and per batch: i32 last sequence, i64 last offset, i32 offset delta,
//! i64 timestamp.
//!
//!
//! Transactions (Kafka's `ProducerStateEntry.currentTxnFirstOffset`): a producer's first
//! transactional batch opens a transaction at its base offset; the commit or abort marker
//! closes it. The smallest first offset of the open transactions is the partition's first
//! unstable offset, which bounds the last stable offset `read_committed` consumers read to.
//!
//! Left out: producer-id expiry (`producer.id.expiration.ms`).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::batch::{BatchHeader, ControlType, decrement_sequence};
use super::error::AppendError;

/// A transaction a marker closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// The marker's offset.
    pub last_offset: i64,
    pub aborted: bool,
}

/// Kafka's `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`.
pub const BATCHES_TO_RETAIN: usize = 5;
const SNAPSHOT_VERSION: i16 = 0x5601;
const NO_EPOCH: i16 = -1;

/// What Kafka's `BatchMetadata` keeps of an appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub last_seq: i32,
    pub last_offset: i64,
    pub offset_delta: i32,
    pub timestamp: i64,
}

impl BatchMetadata {
    pub fn first_seq(&self) -> i32 {
        decrement_sequence(self.last_seq, self.offset_delta)
    }

    pub fn first_offset(&self) -> i64 {
        self.last_offset - i64::from(self.offset_delta)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    pub batches: VecDeque<BatchMetadata>,
    pub coordinator_epoch: i32,
    pub last_timestamp: i64,
    pub current_txn_first_offset: i64,
}

impl ProducerEntry {
    fn new() -> ProducerEntry {
        ProducerEntry {
            epoch: NO_EPOCH,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            last_timestamp: -1,
            current_txn_first_offset: -1,
        }
    }

    pub fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn add_batch(&mut self, epoch: i16, batch: BatchMetadata) {
        if self.epoch != epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
        if self.batches.len() == BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp = batch.timestamp;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id (derived from `producers`).
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerStateManager {
    pub fn new() -> ProducerStateManager {
        ProducerStateManager::default()
    }

    /// The last offset of every producer's latest batch (the log cleaner keeps those batches'
    /// headers so sequence state survives compaction).
    pub fn last_offsets(&self) -> std::collections::HashSet<i64> {
        self.producers
            .values()
            .filter_map(|e| e.batches.back().map(|b| b.last_offset))
            .collect()
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// The cached batch this one duplicates (same epoch, same first and last sequence).
    pub fn find_duplicate(&self, h: &BatchHeader) -> Option<BatchMetadata> {
        let entry = self.producers.get(&h.producer_id)?;
        if entry.epoch != h.producer_epoch {
            return None;
        }
        let (first, last) = (h.base_sequence, h.last_sequence());
        entry
            .batches
            .iter()
            .find(|b| b.first_seq() == first && b.last_seq == last)
            .copied()
    }

    /// Kafka's `checkProducerEpoch` and `checkSequence` for a client batch.
    pub fn check(&self, h: &BatchHeader) -> Result<(), AppendError> {
        let Some(entry) = self.producers.get(&h.producer_id) else {
            return Ok(());
        };
        let pid = h.producer_id;
        if h.producer_epoch < entry.epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "Epoch of producer {pid} is {}, which is smaller than the last seen epoch {}",
                h.producer_epoch, entry.epoch
            )));
        }
        if h.producer_epoch != entry.epoch {
            if h.base_sequence != 0 && entry.epoch != NO_EPOCH {
                return Err(AppendError::OutOfOrderSequence(format!(
                    "Invalid sequence number for new epoch of producer {pid}: {} (request epoch), {} (seq. number), {} (current producer epoch)",
                    h.producer_epoch, h.base_sequence, entry.epoch
                )));
            }
            return Ok(());
        }
        if entry.epoch == NO_EPOCH {
            return Ok(());
        }
        let last_seq = entry.last_seq().unwrap_or(-1);
        let in_sequence = i64::from(h.base_sequence) == i64::from(last_seq) + 1
            || (h.base_sequence == 0 && last_seq == i32::MAX);
        if !in_sequence {
            return Err(AppendError::OutOfOrderSequence(format!(
                "Out of order sequence number for producer {pid}: {} (incoming seq. number), {last_seq} (current end sequence number)",
                h.base_sequence
            )));
        }
        Ok(())
    }

    /// Kafka's `appendEndTxnMarker` checks: a marker with an older producer epoch, or from an
    /// older coordinator epoch, is refused.
    pub fn check_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), AppendError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if producer_epoch < entry.epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "Producer {producer_id}'s epoch in the transaction marker is {producer_epoch}, which is smaller than the last seen epoch {}",
                entry.epoch
            )));
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return Err(AppendError::CoordinatorFenced(format!(
                "Invalid coordinator epoch for producer {producer_id}: {coordinator_epoch} (zombie), {} (current)",
                entry.coordinator_epoch
            )));
        }
        Ok(())
    }

    /// Records an appended marker: the producer's open transaction (if it wrote anything
    /// here) is closed and returned.
    pub fn complete_txn(
        &mut self,
        h: &BatchHeader,
        marker_offset: i64,
        control: ControlType,
        coordinator_epoch: i32,
    ) -> Option<CompletedTxn> {
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(ProducerEntry::new);
        if entry.epoch != h.producer_epoch {
            entry.batches.clear();
            entry.epoch = h.producer_epoch;
        }
        entry.last_timestamp = h.max_timestamp;
        entry.coordinator_epoch = coordinator_epoch;
        let first_offset = std::mem::replace(&mut entry.current_txn_first_offset, -1);
        if first_offset < 0 {
            return None;
        }
        self.ongoing.remove(&first_offset);
        Some(CompletedTxn {
            producer_id: h.producer_id,
            first_offset,
            last_offset: marker_offset,
            aborted: control == ControlType::Abort,
        })
    }

    /// The first offset of the oldest open transaction (Kafka's first unstable offset).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Every producer and its state (DescribeProducers).
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Records an appended batch (after `check`, or unchecked when replaying the log). Control
    /// batches go through `complete_txn`.
    pub fn update(&mut self, h: &BatchHeader, base_offset: i64, max_timestamp: i64) {
        if !h.has_producer_id() {
            return;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(ProducerEntry::new);
        if h.is_control() {
            // A marker replayed without its type: only the epoch moves.
            if entry.epoch != h.producer_epoch {
                entry.batches.clear();
                entry.epoch = h.producer_epoch;
            }
            entry.last_timestamp = max_timestamp;
            return;
        }
        if h.is_transactional() && entry.current_txn_first_offset < 0 {
            entry.current_txn_first_offset = base_offset;
            self.ongoing.insert(base_offset, h.producer_id);
        }
        let batch = BatchMetadata {
            last_seq: h.last_sequence(),
            last_offset: base_offset + i64::from(h.last_offset_delta),
            offset_delta: h.last_offset_delta,
            timestamp: max_timestamp,
        };
        entry.add_batch(h.producer_epoch, batch);
    }

    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.producers.len() * 64);
        body.extend_from_slice(&(self.producers.len() as i32).to_be_bytes());
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let e = &self.producers[&id];
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            body.extend_from_slice(&e.current_txn_first_offset.to_be_bytes());
            body.push(e.batches.len() as u8);
            for b in &e.batches {
                body.extend_from_slice(&b.last_seq.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
                body.extend_from_slice(&b.offset_delta.to_be_bytes());
                body.extend_from_slice(&b.timestamp.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(6 + body.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Parses a snapshot; `None` for anything but a well-formed one with a matching CRC.
    pub fn from_snapshot(bytes: &[u8]) -> Option<ProducerStateManager> {
        let mut r = Reader { buf: bytes };
        if r.i16()? != SNAPSHOT_VERSION {
            return None;
        }
        let crc = r.i32()? as u32;
        if crc32c::crc32c(r.buf) != crc {
            return None;
        }
        let count = usize::try_from(r.i32()?).ok()?;
        // Each producer takes at least 31 bytes: bound the count by what is there.
        if count > r.buf.len() / 31 {
            return None;
        }
        let mut producers = HashMap::with_capacity(count);
        for _ in 0..count {
            let id = r.i64()?;
            let mut e = ProducerEntry::new();
            e.epoch = r.i16()?;
            e.coordinator_epoch = r.i32()?;
            e.last_timestamp = r.i64()?;
            e.current_txn_first_offset = r.i64()?;
            let n = usize::from(r.u8()?);
            if n > BATCHES_TO_RETAIN {
                return None;
            }
            for _ in 0..n {
                let last_seq = r.i32()?;
                let last_offset = r.i64()?;
                let offset_delta = r.i32()?;
                let timestamp = r.i64()?;
                if offset_delta < 0 {
                    return None;
                }
                e.batches.push_back(BatchMetadata {
                    last_seq,
                    last_offset,
                    offset_delta,
                    timestamp,
                });
            }
            producers.insert(id, e);
        }
        let ongoing = producers
            .iter()
            .filter(|(_, e)| e.current_txn_first_offset >= 0)
            .map(|(id, e)| (e.current_txn_first_offset, *id))
            .collect();
        r.buf
            .is_empty()
            .then_some(ProducerStateManager { producers, ongoing })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.buf.split_first_chunk::<N>()?;
        self.buf = tail;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    fn append(
        m: &mut ProducerStateManager,
        h: &BatchHeader,
        offset: &mut i64,
    ) -> Result<Option<BatchMetadata>, AppendError> {
        if let Some(d) = m.find_duplicate(h) {
            return Ok(Some(d));
        }
        m.check(h)?;
        m.update(h, *offset, 0);
        *offset += i64::from(h.records_count);
        Ok(None)
    }

    #[test]
    fn sequence_rules() {
        let mut m = ProducerStateManager::new();
        let mut off = 0;
        // Unknown producer: any sequence accepted.
        assert_eq!(append(&mut m, &header(7, 0, 5, 3), &mut off).unwrap(), None);
        assert_eq!(append(&mut m, &header(7, 0, 8, 2), &mut off).unwrap(), None);
        // Retry of the first batch: duplicate with its original offsets.
        let dup = append(&mut m, &header(7, 0, 5, 3), &mut off)
            .unwrap()
            .unwrap();
        assert_eq!((dup.first_offset(), dup.last_offset), (0, 2));
        // Gap and overlap.
        assert_eq!(
            append(&mut m, &header(7, 0, 11, 1), &mut off)
                .unwrap_err()
                .error_code(),
            45
        );
        assert_eq!(
            append(&mut m, &header(7, 0, 9, 1), &mut off)
                .unwrap_err()
                .error_code(),
            45
        );
        // Lower epoch fenced; new epoch must start at 0.
        assert_eq!(
            append(&mut m, &header(7, -1, 10, 1), &mut off)
                .unwrap_err()
                .error_code(),
            47
        );
        assert_eq!(
            append(&mut m, &header(7, 1, 10, 1), &mut off)
                .unwrap_err()
                .error_code(),
            45
        );
        assert_eq!(append(&mut m, &header(7, 1, 0, 1), &mut off).unwrap(), None);
        // Only the last 5 batches are remembered.
        for seq in 1..=5 {
            append(&mut m, &header(7, 1, seq, 1), &mut off).unwrap();
        }
        assert_eq!(m.entry(7).unwrap().batches.len(), 5);
        assert_eq!(
            append(&mut m, &header(7, 1, 0, 1), &mut off)
                .unwrap_err()
                .error_code(),
            45
        );
        assert!(
            append(&mut m, &header(7, 1, 1, 1), &mut off)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn sequence_wraps_at_i32_max() {
        let mut m = ProducerStateManager::new();
        let mut off = 0;
        append(&mut m, &header(1, 0, i32::MAX - 1, 2), &mut off).unwrap();
        assert_eq!(m.entry(1).unwrap().last_seq(), Some(i32::MAX));
        assert_eq!(append(&mut m, &header(1, 0, 0, 3), &mut off).unwrap(), None);
        // A batch spanning the wrap.
        let mut m = ProducerStateManager::new();
        append(&mut m, &header(2, 0, i32::MAX - 1, 4), &mut off).unwrap();
        assert_eq!(m.entry(2).unwrap().last_seq(), Some(1));
        assert!(
            append(&mut m, &header(2, 0, i32::MAX - 1, 4), &mut off)
                .unwrap()
                .is_some()
        );
        assert_eq!(append(&mut m, &header(2, 0, 2, 1), &mut off).unwrap(), None);
    }

    #[test]
    fn snapshot_round_trip_and_corruption() {
        let mut m = ProducerStateManager::new();
        let mut off = 0;
        for seq in 0..7 {
            append(&mut m, &header(3, 2, seq, 1), &mut off).unwrap();
        }
        append(&mut m, &header(9, 0, 0, 10), &mut off).unwrap();
        let snap = m.to_snapshot();
        assert_eq!(ProducerStateManager::from_snapshot(&snap), Some(m));
        for cut in 0..snap.len() {
            assert_eq!(ProducerStateManager::from_snapshot(&snap[..cut]), None);
        }
        let mut flipped = snap.clone();
        flipped[20] ^= 1;
        assert_eq!(ProducerStateManager::from_snapshot(&flipped), None);
    }
}
