//! The records of `__transaction_state`, in Kafka's own schemas (`TransactionLogKey` v0,
//! `TransactionLogValue` v1, the flexible one Kafka 4 writes), so Kafka's tools can read them:
//! each record is one transactional id's whole state; a null value (tombstone) removes it.
//!
//! Values are decoded in both versions Kafka defines (0 and 1). Every length read is checked
//! against the bytes left.

use super::{TxnMetadata, TxnState};
use crate::coordinator::group::records::RecordError;

const KEY_VERSION: i16 = 0;
const VALUE_VERSION: i16 = 1;

/// A record of `__transaction_state`. `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    pub transactional_id: String,
    pub value: Option<TxnMetadata>,
}

impl TxnRecord {
    pub fn encode_key(&self) -> Result<Vec<u8>, RecordError> {
        let mut w = Writer(Vec::with_capacity(4 + self.transactional_id.len()));
        w.i16(KEY_VERSION);
        let len = i16::try_from(self.transactional_id.len())
            .map_err(|_| RecordError::TooLong("transactional id"))?;
        w.i16(len);
        w.0.extend_from_slice(self.transactional_id.as_bytes());
        Ok(w.0)
    }

    pub fn encode_value(&self) -> Result<Option<Vec<u8>>, RecordError> {
        let Some(m) = &self.value else {
            return Ok(None);
        };
        let mut w = Writer(Vec::with_capacity(64));
        w.i16(VALUE_VERSION);
        w.i64(m.producer_id);
        w.i16(m.producer_epoch);
        w.i32(m.timeout_ms);
        w.0.push(m.state as u8);
        // TransactionPartitions: compact nullable array of (topic, partition ids).
        let topics = m.partitions_by_topic();
        w.uvarint(topics.len() as u64 + 1);
        for (topic, partitions) in topics {
            w.uvarint(topic.len() as u64 + 1);
            w.0.extend_from_slice(topic.as_bytes());
            w.uvarint(partitions.len() as u64 + 1);
            for p in partitions {
                w.i32(p);
            }
            w.uvarint(0); // no tagged fields
        }
        w.i64(m.last_update_ms);
        w.i64(m.start_ms);
        // Tagged fields, written only when not their default (as Kafka does).
        let mut tagged: Vec<(u64, Vec<u8>)> = Vec::new();
        if m.prev_producer_id != -1 {
            tagged.push((0, m.prev_producer_id.to_be_bytes().to_vec()));
        }
        if m.next_producer_id != -1 {
            tagged.push((1, m.next_producer_id.to_be_bytes().to_vec()));
        }
        if m.client_version != 0 {
            tagged.push((2, m.client_version.to_be_bytes().to_vec()));
        }
        w.uvarint(tagged.len() as u64);
        for (tag, data) in tagged {
            w.uvarint(tag);
            w.uvarint(data.len() as u64);
            w.0.extend_from_slice(&data);
        }
        Ok(Some(w.0))
    }

    /// `Ok(None)` for a key this coordinator does not know (another version).
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<Option<TxnRecord>, RecordError> {
        let mut r = Reader { buf: key };
        if r.i16()? != KEY_VERSION {
            return Ok(None);
        }
        let len = usize::try_from(r.i16()?).map_err(|_| RecordError::Invalid("key length"))?;
        let id = std::str::from_utf8(r.take(len)?)
            .map_err(|_| RecordError::Invalid("transactional id"))?
            .to_string();
        let value = match value {
            None => None,
            Some(v) => Some(decode_value(&id, v)?),
        };
        Ok(Some(TxnRecord {
            transactional_id: id,
            value,
        }))
    }
}

fn decode_value(id: &str, bytes: &[u8]) -> Result<TxnMetadata, RecordError> {
    let mut r = Reader { buf: bytes };
    let version = r.i16()?;
    if !(0..=1).contains(&version) {
        return Err(RecordError::UnsupportedVersion {
            what: "TransactionLogValue",
            version,
        });
    }
    let flexible = version >= 1;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let state = TxnState::from_id(r.i8()?).ok_or(RecordError::Invalid("transaction state"))?;
    let mut partitions = std::collections::BTreeSet::new();
    let topics = if flexible {
        r.uvarint()?.checked_sub(1)
    } else {
        u64::try_from(r.i32()?).ok()
    };
    for _ in 0..topics.unwrap_or(0) {
        let topic_len = if flexible {
            r.uvarint()?
                .checked_sub(1)
                .ok_or(RecordError::Invalid("topic"))?
        } else {
            u64::try_from(r.i16()?).map_err(|_| RecordError::Invalid("topic"))?
        };
        let topic = std::str::from_utf8(r.take(topic_len as usize)?)
            .map_err(|_| RecordError::Invalid("topic"))?
            .to_string();
        let count = if flexible {
            r.uvarint()?.saturating_sub(1)
        } else {
            u64::try_from(r.i32()?).unwrap_or(0)
        };
        if count > r.buf.len() as u64 / 4 {
            return Err(RecordError::Truncated);
        }
        for _ in 0..count {
            partitions.insert((topic.clone(), r.i32()?));
        }
        if flexible {
            r.skip_tagged()?;
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    let mut m = TxnMetadata {
        transactional_id: id.to_string(),
        producer_id,
        prev_producer_id: -1,
        next_producer_id: -1,
        producer_epoch,
        last_producer_epoch: -1,
        timeout_ms,
        state,
        partitions,
        start_ms,
        last_update_ms,
        client_version: 0,
    };
    if flexible {
        let n = r.uvarint()?;
        for _ in 0..n {
            let tag = r.uvarint()?;
            let size = usize::try_from(r.uvarint()?).map_err(|_| RecordError::Truncated)?;
            let data = r.take(size)?;
            let mut f = Reader { buf: data };
            match tag {
                0 => m.prev_producer_id = f.i64()?,
                1 => m.next_producer_id = f.i64()?,
                2 => m.client_version = f.i16()?,
                _ => {}
            }
        }
    }
    Ok(m)
}

struct Writer(Vec<u8>);

impl Writer {
    fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn i8(&mut self) -> Result<i8, RecordError> {
        Ok(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]]))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(RecordError::Invalid("varint"))
    }
    fn skip_tagged(&mut self) -> Result<(), RecordError> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = usize::try_from(self.uvarint()?).map_err(|_| RecordError::Truncated)?;
            self.take(size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_garbage_is_an_error() {
        let mut partitions = std::collections::BTreeSet::new();
        partitions.insert(("orders".to_string(), 3));
        partitions.insert(("orders".to_string(), 1));
        partitions.insert(("__consumer_offsets".to_string(), 17));
        let m = TxnMetadata {
            transactional_id: "tx-1".into(),
            producer_id: 4000,
            prev_producer_id: 3000,
            next_producer_id: -1,
            producer_epoch: 7,
            last_producer_epoch: -1,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions,
            start_ms: 1_700_000_000_000,
            last_update_ms: 1_700_000_000_500,
            client_version: 2,
        };
        let record = TxnRecord {
            transactional_id: "tx-1".into(),
            value: Some(m.clone()),
        };
        let key = record.encode_key().unwrap();
        let value = record.encode_value().unwrap().unwrap();
        assert_eq!(&value[0..2], &[0, 1], "value version 1");
        let back = TxnRecord::decode(&key, Some(&value)).unwrap().unwrap();
        assert_eq!(back, record);
        let tombstone = TxnRecord::decode(&key, None).unwrap().unwrap();
        assert_eq!(tombstone.value, None);
        for cut in 0..value.len() {
            assert!(
                TxnRecord::decode(&key, Some(&value[..cut])).is_err(),
                "cut {cut}"
            );
        }
    }
}
