//! The v2 RecordBatch: 61-byte header parsing, produce validation, and a small batch builder.
//!
//! Validation mirrors what a Kafka 4 broker does to a client's Produce partition data
//! (`ProduceRequest.validateRecords`, `UnifiedLog.analyzeAndValidateRecords`, `LogValidator`),
//! in Kafka's order and with Kafka's error codes:
//! 1. framing as `ByteBufferLogInputStream`: a batch `length` below 14 or a magic outside 0..=2
//!    is CORRUPT_MESSAGE; a trailing partial batch is ignored (Kafka trims it); no whole batch,
//!    magic != 2, or more than one batch is INVALID_RECORD (Produce v3+ allows exactly one);
//! 2. baseOffset != 0 is INVALID_RECORD; size > `max.message.bytes` is MESSAGE_TOO_LARGE;
//!    a batch shorter than 61 bytes or a CRC32C mismatch is CORRUPT_MESSAGE;
//! 3. `lastOffsetDelta + 1 != recordsCount` (or either <= 0), a control batch, or
//!    producerId >= 0 with baseSequence < 0 is INVALID_RECORD;
//! 4. timestamps (CreateTime topics) outside the before/after bounds are INVALID_TIMESTAMP,
//!    with per-record errors; a client batch flagged LogAppendTime is INVALID_TIMESTAMP;
//! 5. a batch larger than `segment.bytes` is RECORD_LIST_TOO_LARGE.
//!
//! Every record of every batch is walked, compressed or not (Kafka's `DefaultRecordBatch`
//! iterator and `LogValidator`): the batch must hold exactly `recordsCount` records ending
//! exactly where the batch ends ("Incorrect declared batch size"), each record must fill its
//! declared length, CreateTime timestamps are checked record by record, and the true maximum
//! timestamp replaces the header's (with a new CRC) when they differ. The walk reads varints and
//! skips keys, values and headers; it allocates nothing for uncompressed batches.
//!
//! Deliberate differences:
//! - Record offset deltas must be 0..n-1 (INVALID_RECORD otherwise). Kafka rewrites compressed
//!   batches with other inner offsets (only very old clients produce them) and stores
//!   uncompressed ones as sent, which leaves consumers reading impossible offsets.
//! - Compressed batches are decompressed with a bound (`MAX_DECOMPRESSED_BATCH_BYTES`);
//!   Kafka has none.
//! - Compression ids 5-7 get UNSUPPORTED_COMPRESSION_TYPE (Kafka fails with an unknown server error).
//!
//! Everything here is pure (no I/O, time passed in), so handlers can validate outside the
//! partition lock and hand a `ValidatedBatch` to `PartitionLog::append_validated`.

use super::compression::{self, Compression, DecompressError};
use super::error::{AppendError, RecordError};
use super::record;
use super::{LogConfig, TimestampType};

/// Size of the v2 batch header.
pub const HEADER_LEN: usize = 61;
/// baseOffset (8) + length (4): the bytes not counted by the batch's `length` field.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest `length` Kafka's framing accepts (legacy v0 record overhead).
const MIN_LENGTH_FIELD: i32 = 14;
/// Bytes up to and including the magic byte.
const HEADER_UP_TO_MAGIC: usize = 17;

pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
/// The CRC32C covers the batch from the attributes to the end.
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;

pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
pub const ATTR_LOG_APPEND_TIME: i16 = 0x08;
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
pub const ATTR_CONTROL: i16 = 0x20;

/// Upper bound on a produced batch's decompressed size. Kafka has none; a decompression bomb
/// must not take the broker's memory. MESSAGE_TOO_LARGE past it makes the Java producer split
/// the batch and retry.
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 << 20;
/// Per-record errors kept for one batch (Kafka lists every one; a compressed batch can hold
/// millions of records, and each error costs memory and response bytes). Counts stay exact.
pub const MAX_RECORD_ERRORS: usize = 10_000;

/// The fields of a v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i16(b: &[u8; HEADER_LEN], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8; HEADER_LEN], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8; HEADER_LEN], at: usize) -> i64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(v)
}

impl BatchHeader {
    /// Parses the first 61 bytes of `buf` (no validation); `None` if shorter.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        buf.first_chunk::<HEADER_LEN>().map(BatchHeader::from_bytes)
    }

    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> BatchHeader {
        BatchHeader {
            base_offset: be_i64(b, 0),
            length: be_i32(b, 8),
            partition_leader_epoch: be_i32(b, 12),
            magic: b[16] as i8,
            crc: be_i32(b, 17) as u32,
            attributes: be_i16(b, 21),
            last_offset_delta: be_i32(b, 23),
            base_timestamp: be_i64(b, 27),
            max_timestamp: be_i64(b, 35),
            producer_id: be_i64(b, 43),
            producer_epoch: be_i16(b, 51),
            base_sequence: be_i32(b, 53),
            records_count: be_i32(b, 57),
        }
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.length.to_be_bytes());
        b[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        b[16] = self.magic as u8;
        b[17..21].copy_from_slice(&self.crc.to_be_bytes());
        b[21..23].copy_from_slice(&self.attributes.to_be_bytes());
        b[23..27].copy_from_slice(&self.last_offset_delta.to_be_bytes());
        b[27..35].copy_from_slice(&self.base_timestamp.to_be_bytes());
        b[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        b[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        b[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        b[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        b[57..61].copy_from_slice(&self.records_count.to_be_bytes());
        b
    }

    /// Whole batch size on disk (`length` + 12); `None` for a negative length.
    pub fn total_size(&self) -> Option<u64> {
        u64::try_from(self.length)
            .ok()
            .map(|l| l + LOG_OVERHEAD as u64)
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The codec, or `None` for the unused ids 5-7.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_id((self.attributes & ATTR_COMPRESSION_MASK) as u8)
    }

    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_LOG_APPEND_TIME != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence of the last record, wrapping past i32::MAX as Kafka's `incrementSequence`.
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `seq + inc` wrapping to 0 after i32::MAX (Kafka's `DefaultRecordBatch.incrementSequence`).
pub fn increment_sequence(seq: i32, inc: i32) -> i32 {
    if seq > i32::MAX - inc {
        inc - (i32::MAX - seq) - 1
    } else {
        seq + inc
    }
}

/// `seq - dec` wrapping below 0 to i32::MAX (Kafka's `DefaultRecordBatch.decrementSequence`).
pub fn decrement_sequence(seq: i32, dec: i32) -> i32 {
    if seq < dec {
        i32::MAX - (dec - seq) + 1
    } else {
        seq - dec
    }
}

/// CRC32C of a batch from the attributes to the end, given its header and the rest.
pub fn batch_crc(header: &[u8; HEADER_LEN], rest: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES_OFFSET..]), rest)
}

/// Rewrites a validated batch with another compression codec, as Kafka does for topics whose
/// `compression.type` names a codec: the records are decompressed (bounded by
/// `MAX_DECOMPRESSED_BATCH_BYTES`) and compressed again; the header keeps every field but the
/// codec bits, the length and the CRC. Returns `None` when the batch already uses `target`.
/// The result is a complete batch to validate and append like any produced one.
pub fn recompress(
    batch: &ValidatedBatch<'_>,
    target: Compression,
) -> Result<Option<Vec<u8>>, AppendError> {
    let current = batch.fields.compression().ok_or_else(|| {
        AppendError::UnsupportedCompressionType("unknown compression codec".to_string())
    })?;
    if current == target {
        return Ok(None);
    }
    let plain = match current {
        Compression::None => std::borrow::Cow::Borrowed(batch.rest),
        codec => std::borrow::Cow::Owned(
            compression::decompress(codec, batch.rest, MAX_DECOMPRESSED_BATCH_BYTES).map_err(
                |e| match e {
                    DecompressError::TooLarge(_) => AppendError::MessageTooLarge(e.to_string()),
                    DecompressError::Invalid { .. } => AppendError::CorruptMessage(e.to_string()),
                },
            )?,
        ),
    };
    let body = match target {
        Compression::None => plain.into_owned(),
        codec => compression::compress(codec, &plain).map_err(AppendError::Storage)?,
    };
    let mut header = batch.header;
    let attributes = i16::from_be_bytes([header[ATTRIBUTES_OFFSET], header[ATTRIBUTES_OFFSET + 1]]);
    let attributes = (attributes & !0x07) | i16::from(target.id());
    header[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    // The length field counts from partitionLeaderEpoch (byte 12) to the end.
    let length = i32::try_from(HEADER_LEN - 12 + body.len())
        .map_err(|_| AppendError::MessageTooLarge("recompressed batch too large".to_string()))?;
    header[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = batch_crc(&header, &body);
    header[17..21].copy_from_slice(&crc.to_be_bytes());
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&body);
    Ok(Some(out))
}

/// A produced batch that passed validation: a header copy to patch and the untouched rest.
#[derive(Debug, Clone)]
pub struct ValidatedBatch<'a> {
    /// Header to write: LogAppendTime stamp and CRC already applied; baseOffset and
    /// partitionLeaderEpoch are patched at append time (they are outside the CRC).
    pub header: [u8; HEADER_LEN],
    /// The batch bytes after the header (records, possibly compressed), never copied.
    pub rest: &'a [u8],
    /// `header` parsed.
    pub fields: BatchHeader,
    /// Largest timestamp of the batch after validation (the append time for LogAppendTime).
    pub max_timestamp: i64,
    /// The stamped time for LogAppendTime topics, -1 for CreateTime.
    pub log_append_time_ms: i64,
}

impl ValidatedBatch<'_> {
    pub fn size(&self) -> u64 {
        (HEADER_LEN + self.rest.len()) as u64
    }

    pub fn record_count(&self) -> u64 {
        self.fields.records_count as u64
    }
}

/// Validates a produce request's records for one partition (see the module header for the
/// rules and error codes); `topic_partition` (`<topic>-<index>`) names it in messages, as
/// Kafka's do. Pure: call it outside the partition lock.
pub fn validate_produce<'a>(
    records: &'a [u8],
    config: &LogConfig,
    now_ms: i64,
    topic_partition: &str,
) -> Result<ValidatedBatch<'a>, AppendError> {
    let batch = single_batch(records)?;
    let header_bytes: [u8; HEADER_LEN] = match batch.first_chunk::<HEADER_LEN>() {
        Some(h) => *h,
        None => {
            return Err(AppendError::CorruptMessage(format!(
                "record batch of {} bytes is shorter than its header",
                batch.len()
            )));
        }
    };
    let h = BatchHeader::from_bytes(&header_bytes);
    if h.base_offset != 0 {
        return Err(AppendError::invalid(format!(
            "The baseOffset of the record batch in the append should be 0, but it is {}",
            h.base_offset
        )));
    }
    if batch.len() as u64 > u64::from(config.max_message_bytes) {
        return Err(AppendError::MessageTooLarge(format!(
            "The record batch size in the append is {} bytes which exceeds the maximum configured value of {}.",
            batch.len(),
            config.max_message_bytes
        )));
    }
    let rest = &batch[HEADER_LEN..];
    if batch_crc(&header_bytes, rest) != h.crc {
        return Err(AppendError::CorruptMessage(format!(
            "Record is corrupt (stored crc = {})",
            h.crc
        )));
    }
    check_batch_fields(&h)?;
    let codec = h.compression().ok_or_else(|| {
        AppendError::UnsupportedCompressionType(format!(
            "unknown compression type id {}",
            h.attributes & 7
        ))
    })?;
    if batch.len() as u64 > config.segment_bytes {
        return Err(AppendError::RecordListTooLarge(format!(
            "Message batch size is {} bytes in append, which exceeds the maximum configured segment size of {}.",
            batch.len(),
            config.segment_bytes
        )));
    }

    let mut header = header_bytes;
    let mut fields = h;
    let mut max_timestamp = h.max_timestamp;
    let true_max = if codec == Compression::None {
        check_records(&h, rest, config, now_ms, topic_partition)?
    } else {
        let plain = decompress_for_validation(codec, rest)?;
        check_records(&h, &plain, config, now_ms, topic_partition)?
    };
    if config.timestamp_type == TimestampType::CreateTime && true_max != h.max_timestamp {
        max_timestamp = true_max;
    }
    let mut log_append_time_ms = -1;
    if config.timestamp_type == TimestampType::LogAppendTime {
        log_append_time_ms = now_ms;
        max_timestamp = now_ms;
        fields.attributes |= ATTR_LOG_APPEND_TIME;
    }
    if max_timestamp != h.max_timestamp || fields.attributes != h.attributes {
        fields.max_timestamp = max_timestamp;
        header = fields.to_bytes();
        fields.crc = batch_crc(&header, rest);
        header = fields.to_bytes();
    }
    Ok(ValidatedBatch {
        header,
        rest,
        fields,
        max_timestamp,
        log_append_time_ms,
    })
}

/// A batch this broker built itself (transaction markers): parsed as is, not checked as a
/// client's would be (clients may not write control batches).
pub(crate) fn trusted_batch(bytes: &[u8]) -> Result<ValidatedBatch<'_>, AppendError> {
    let header: [u8; HEADER_LEN] = bytes
        .first_chunk::<HEADER_LEN>()
        .copied()
        .ok_or_else(|| AppendError::CorruptMessage("batch shorter than its header".into()))?;
    let fields = BatchHeader::from_bytes(&header);
    Ok(ValidatedBatch {
        header,
        rest: &bytes[HEADER_LEN..],
        fields,
        max_timestamp: fields.max_timestamp,
        log_append_time_ms: -1,
    })
}

/// Kafka's framing of a produce record set (`ProduceRequest.validateRecords`), returning the
/// one whole batch it must contain. Produce calls it first, as Kafka does before the append.
pub fn single_batch(records: &[u8]) -> Result<&[u8], AppendError> {
    let mut first: Option<&[u8]> = None;
    let mut rest = records;
    while rest.len() >= LOG_OVERHEAD {
        let length = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if length < MIN_LENGTH_FIELD {
            return Err(AppendError::CorruptMessage(format!(
                "Record size {length} is less than the minimum record overhead ({MIN_LENGTH_FIELD})"
            )));
        }
        if rest.len() < HEADER_UP_TO_MAGIC {
            break;
        }
        let magic = rest[MAGIC_OFFSET] as i8;
        if !(0..=2).contains(&magic) {
            return Err(AppendError::CorruptMessage(format!(
                "Invalid magic found in record: {magic}"
            )));
        }
        let total = length as usize + LOG_OVERHEAD;
        if rest.len() < total {
            break;
        }
        match first {
            None if magic != 2 => {
                return Err(AppendError::invalid(
                    "Produce requests are only allowed to contain record batches with magic version 2",
                ));
            }
            None => first = Some(&rest[..total]),
            Some(_) => {
                return Err(AppendError::invalid(
                    "Produce requests are only allowed to contain exactly one record batch per partition",
                ));
            }
        }
        rest = &rest[total..];
    }
    first.ok_or_else(|| {
        AppendError::invalid("Produce requests must have at least one record batch per partition")
    })
}

/// LogValidator.validateBatch for client appends.
fn check_batch_fields(h: &BatchHeader) -> Result<(), AppendError> {
    let count_from_offsets = i64::from(h.last_offset_delta) + 1;
    if count_from_offsets <= 0 {
        return Err(AppendError::invalid(format!(
            "Batch has an invalid offset range: [0, {}]",
            h.last_offset_delta
        )));
    }
    if h.records_count <= 0 {
        return Err(AppendError::invalid(format!(
            "Invalid reported count for record batch: {}",
            h.records_count
        )));
    }
    if count_from_offsets != i64::from(h.records_count) {
        return Err(AppendError::invalid(format!(
            "Inconsistent batch offset range [0, {}] and count of records {}",
            h.last_offset_delta, h.records_count
        )));
    }
    if h.is_control() {
        return Err(AppendError::invalid(
            "Clients are not allowed to write control records",
        ));
    }
    if h.has_producer_id() && h.base_sequence < 0 {
        return Err(AppendError::invalid(format!(
            "Invalid sequence number {} in record batch with producerId {}",
            h.base_sequence, h.producer_id
        )));
    }
    Ok(())
}

fn timestamp_error(ts: i64, index: i32, now_ms: i64, config: &LogConfig) -> RecordError {
    RecordError {
        batch_index: index,
        message: format!(
            "Timestamp {ts} of message with offset {index} is out of range. The timestamp should be within [{}, {}]",
            now_ms.saturating_sub(config.timestamp_before_max_ms),
            now_ms.saturating_add(config.timestamp_after_max_ms)
        ),
    }
}

fn invalid_timestamp(record_errors: Vec<RecordError>) -> AppendError {
    AppendError::InvalidTimestamp {
        message: "One or more records have been rejected due to invalid timestamp".into(),
        record_errors,
    }
}

fn log_append_time_from_client(count: i32) -> AppendError {
    let record_errors = (0..count.clamp(0, 1))
        .map(|i| RecordError {
            batch_index: i,
            message: "Invalid timestamp type in message. Producer should not set timestamp type to LogAppendTime.".into(),
        })
        .collect();
    invalid_timestamp(record_errors)
}

/// Bounded decompression of a produced batch's records.
fn decompress_for_validation(codec: Compression, rest: &[u8]) -> Result<Vec<u8>, AppendError> {
    compression::decompress(codec, rest, MAX_DECOMPRESSED_BATCH_BYTES).map_err(|e| match e {
        DecompressError::TooLarge(_) => AppendError::MessageTooLarge(e.to_string()),
        DecompressError::Invalid { .. } => AppendError::CorruptMessage(e.to_string()),
    })
}

/// Walks every record of a batch (`plain`: the records, decompressed) as Kafka's
/// `LogValidator` does: the framing must hold exactly `recordsCount` records ending exactly
/// where the batch does, each record's offset delta must be its index (0..n-1), compacted
/// topics need keys, CreateTime timestamps must be within bounds. Returns the largest record
/// timestamp. The walk reads varints and skips over keys, values and headers: no allocation.
fn check_records(
    h: &BatchHeader,
    plain: &[u8],
    config: &LogConfig,
    now_ms: i64,
    topic_partition: &str,
) -> Result<i64, AppendError> {
    let batch_log_append = h.timestamp_type() == TimestampType::LogAppendTime;
    if batch_log_append
        && (config.timestamp_type == TimestampType::LogAppendTime || h.max_timestamp == -1)
    {
        return Err(log_append_time_from_client(h.records_count));
    }
    let check_timestamps = config.timestamp_type == TimestampType::CreateTime;
    // Kafka's `recordHasInvalidTimestamp` as a range, computed once (saturating: a bound of
    // i64::MAX means none).
    let earliest = now_ms.saturating_sub(config.timestamp_before_max_ms);
    let latest = now_ms.saturating_add(config.timestamp_after_max_ms);
    let mut max_timestamp = -1i64;
    let mut timestamp_errors = Vec::new();
    let mut offset_error = None;
    // Keyless records: how many, and the first `MAX_RECORD_ERRORS` indexes.
    let mut keyless = (0usize, Vec::new());
    let walk = record::for_each_record(plain, h.records_count, |index, r| {
        if r.offset_delta != index {
            offset_error = Some(index);
            return false;
        }
        if config.cleanup_compact && r.key.is_none() {
            keyless.0 += 1;
            if keyless.1.len() < MAX_RECORD_ERRORS {
                keyless.1.push(index);
            }
        }
        let ts = if batch_log_append {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(r.timestamp_delta)
        };
        max_timestamp = max_timestamp.max(ts);
        if check_timestamps
            && ts != -1
            && (ts < earliest || ts > latest)
            && timestamp_errors.len() < MAX_RECORD_ERRORS
        {
            timestamp_errors.push(timestamp_error(ts, index, now_ms, config));
        }
        true
    });
    if let Some(index) = offset_error {
        return Err(AppendError::invalid(format!(
            "Record {index} in the batch has offset delta {}, expected {index}",
            offset_delta_at(plain, index)
        )));
    }
    if let Err(e) = walk {
        return Err(AppendError::invalid(record_walk_message(
            &e,
            h.records_count,
        )));
    }
    if keyless.0 > 0 {
        return Err(keyless_records(keyless.0, &keyless.1, topic_partition));
    }
    if !timestamp_errors.is_empty() {
        return Err(invalid_timestamp(timestamp_errors));
    }
    Ok(max_timestamp)
}

/// Kafka's messages for a batch whose records do not match its declared count.
fn record_walk_message(e: &record::RecordParseError, declared: i32) -> String {
    match e.reason {
        record::ParseFailure::TrailingBytes => {
            "Incorrect declared batch size, records still remaining in file".to_string()
        }
        record::ParseFailure::Truncated | record::ParseFailure::LengthExceedsBatch
            if e.index < declared =>
        {
            format!(
                "Incorrect declared batch size, premature EOF reached (record {} of {declared})",
                e.index
            )
        }
        _ => format!(
            "Found invalid record structure in record {}: {}",
            e.index, e.reason
        ),
    }
}

/// The offset delta of record `index` (for an error message only).
fn offset_delta_at(plain: &[u8], index: i32) -> i32 {
    let mut found = -1;
    let _ = record::for_each_record(plain, index.saturating_add(1), |i, r| {
        if i == index {
            found = r.offset_delta;
            return false;
        }
        true
    });
    found
}

/// Kafka's errors for records without keys on a compacted topic: one per record (up to
/// `MAX_RECORD_ERRORS`), and a summary listing the first three as Java prints them.
fn keyless_records(count: usize, indexes: &[i32], topic_partition: &str) -> AppendError {
    let why = format!(
        "Compacted topic cannot accept message without key in topic partition {topic_partition}"
    );
    let record_errors: Vec<RecordError> = indexes
        .iter()
        .map(|&batch_index| RecordError {
            batch_index,
            message: why.clone(),
        })
        .collect();
    let first_three: Vec<String> = record_errors
        .iter()
        .take(3)
        .map(|e| {
            format!(
                "RecordError(batchIndex={}, message='{}')",
                e.batch_index, e.message
            )
        })
        .collect();
    AppendError::InvalidRecord {
        message: format!(
            "One or more records have been rejected due to {count} record errors in total, and only showing the first three errors at most: [{}]",
            first_three.join(", ")
        ),
        record_errors,
    }
}

/// What a control batch marks (Kafka's `ControlRecordType`): the end of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

/// A transaction marker as Kafka writes it (`EndTransactionMarker`): a control batch, flagged
/// transactional, holding one record whose key is (version 0, type) and whose value is
/// (version 0, coordinator epoch).
pub fn build_control_batch(
    producer_id: i64,
    producer_epoch: i16,
    control: ControlType,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> std::io::Result<Vec<u8>> {
    let kind: i16 = match control {
        ControlType::Abort => 0,
        ControlType::Commit => 1,
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    build_batch(
        &[NewRecord {
            key: Some(key),
            value: Some(value),
            headers: Vec::new(),
            timestamp_ms,
        }],
        &BatchOptions {
            producer_id,
            producer_epoch,
            base_sequence: -1,
            transactional: true,
            control: true,
            ..BatchOptions::default()
        },
    )
}

/// The marker type of a stored control batch, from the first record's key (`rest`: the bytes
/// after the 61-byte header). `None` if it is not a readable control record.
pub fn control_type(h: &BatchHeader, rest: &[u8]) -> Option<ControlType> {
    if !h.is_control() || h.compression() != Some(Compression::None) {
        return None;
    }
    let mut found = None;
    let _ = record::for_each_record(rest, h.records_count.min(1), |_, r| {
        found = r.key.and_then(|k| match k {
            [_, _, 0, 0] => Some(ControlType::Abort),
            [_, _, 0, 1] => Some(ControlType::Commit),
            _ => None,
        });
        false
    });
    found
}

/// The coordinator epoch a marker carries (its value), -1 if unreadable.
pub fn control_coordinator_epoch(h: &BatchHeader, rest: &[u8]) -> i32 {
    let mut epoch = -1;
    if h.is_control() {
        let _ = record::for_each_record(rest, h.records_count.min(1), |_, r| {
            if let Some([_, _, a, b, c, d]) = r.value.map(|v| v.get(..6).unwrap_or(&[])) {
                epoch = i32::from_be_bytes([*a, *b, *c, *d]);
            }
            false
        });
    }
    epoch
}

/// One record for `build_batch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Header keys may repeat (Kafka keeps duplicates).
    pub headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub timestamp_ms: i64,
}

/// Batch-level settings for `build_batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    pub base_offset: i64,
    pub partition_leader_epoch: i32,
    /// -1 for a non-idempotent batch.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub compression: Compression,
    pub timestamp_type: TimestampType,
    pub transactional: bool,
    pub control: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            transactional: false,
            control: false,
        }
    }
}

/// Builds a v2 batch as a Kafka client would (offset deltas 0..n, baseTimestamp = first record's,
/// maxTimestamp = largest). For tests and, later, internal topics. `records` must not be empty.
pub fn build_batch(records: &[NewRecord], options: &BatchOptions) -> std::io::Result<Vec<u8>> {
    let first = records
        .first()
        .ok_or_else(|| std::io::Error::other("a batch needs at least one record"))?;
    let base_timestamp = first.timestamp_ms;
    let mut plain = Vec::new();
    for (i, r) in records.iter().enumerate() {
        record::encode_record(
            &mut plain,
            r.timestamp_ms.wrapping_sub(base_timestamp),
            i as i32,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
    }
    let body = compression::compress(options.compression, &plain)?;
    let mut attributes = i16::from(options.compression.id());
    if options.timestamp_type == TimestampType::LogAppendTime {
        attributes |= ATTR_LOG_APPEND_TIME;
    }
    if options.transactional {
        attributes |= ATTR_TRANSACTIONAL;
    }
    if options.control {
        attributes |= ATTR_CONTROL;
    }
    let mut header = BatchHeader {
        base_offset: options.base_offset,
        length: i32::try_from(HEADER_LEN - LOG_OVERHEAD + body.len())
            .map_err(std::io::Error::other)?,
        partition_leader_epoch: options.partition_leader_epoch,
        magic: 2,
        crc: 0,
        attributes,
        last_offset_delta: records.len() as i32 - 1,
        base_timestamp,
        max_timestamp: records.iter().map(|r| r.timestamp_ms).max().unwrap_or(-1),
        producer_id: options.producer_id,
        producer_epoch: options.producer_epoch,
        base_sequence: options.base_sequence,
        records_count: records.len() as i32,
    };
    header.crc = batch_crc(&header.to_bytes(), &body);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;

    fn records(n: usize, ts: i64) -> Vec<NewRecord> {
        (0..n)
            .map(|i| NewRecord {
                key: (i % 2 == 0).then(|| format!("k{i}").into_bytes()),
                value: Some(vec![i as u8; 10 + i]),
                headers: vec![(b"h".to_vec(), Some(b"x".to_vec())), (b"h".to_vec(), None)],
                timestamp_ms: ts + i as i64,
            })
            .collect()
    }

    fn batch(n: usize, options: BatchOptions) -> Vec<u8> {
        build_batch(&records(n, NOW - 100), &options).unwrap()
    }

    fn code(bytes: &[u8], config: &LogConfig) -> i16 {
        validate_produce(bytes, config, NOW, "t-0")
            .unwrap_err()
            .error_code()
    }

    /// Rewrites header fields and fixes the CRC, so a test hits the rule it means to.
    fn patch(bytes: &[u8], f: impl FnOnce(&mut BatchHeader)) -> Vec<u8> {
        let mut h = BatchHeader::parse(bytes).unwrap();
        f(&mut h);
        let mut out = h.to_bytes().to_vec();
        out.extend_from_slice(&bytes[HEADER_LEN..]);
        let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().unwrap();
        h.crc = batch_crc(&header, &out[HEADER_LEN..]);
        out[..HEADER_LEN].copy_from_slice(&h.to_bytes());
        out
    }

    #[test]
    fn valid_batches_pass_for_every_codec() {
        let config = LogConfig::default();
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let bytes = batch(
                20,
                BatchOptions {
                    compression: codec,
                    ..BatchOptions::default()
                },
            );
            let v = validate_produce(&bytes, &config, NOW, "t-0").unwrap();
            assert_eq!(v.record_count(), 20);
            assert_eq!(v.size(), bytes.len() as u64);
            assert_eq!(v.max_timestamp, NOW - 100 + 19);
            assert_eq!(v.log_append_time_ms, -1);
            assert_eq!(
                &v.header[..],
                &bytes[..HEADER_LEN],
                "{codec:?}: header must be untouched"
            );
            let mut seen = 0;
            let plain = compression::decompress(codec, v.rest, 1 << 20).unwrap();
            record::for_each_record(&plain, 20, |i, r| {
                assert_eq!(r.offset_delta, i);
                assert_eq!(r.value.unwrap().len(), 10 + i as usize);
                seen += 1;
                true
            })
            .unwrap();
            assert_eq!(seen, 20);
        }
    }

    /// Issue 8: a batch whose declared record count (and lastOffsetDelta) does not match its
    /// records is refused whatever the codec; at 2264378 uncompressed ones were appended.
    #[test]
    fn record_count_lies_are_invalid_record() {
        let config = LogConfig::default();
        for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let options = BatchOptions {
                compression: codec,
                ..BatchOptions::default()
            };
            // Three real records declared as one.
            let three = batch(3, options);
            let fewer = patch(&three, |h| {
                h.records_count = 1;
                h.last_offset_delta = 0;
            });
            let e = validate_produce(&fewer, &config, NOW, "t-0").unwrap_err();
            assert_eq!(e.error_code(), 87, "{codec:?}: {e}");
            assert!(e.to_string().contains("records still remaining"), "{e}");
            // One real record declared as a thousand.
            let one = batch(1, options);
            let more = patch(&one, |h| {
                h.records_count = 1000;
                h.last_offset_delta = 999;
            });
            let e = validate_produce(&more, &config, NOW, "t-0").unwrap_err();
            assert_eq!(e.error_code(), 87, "{codec:?}: {e}");
            assert!(e.to_string().contains("premature EOF"), "{e}");
        }
    }

    /// Offset deltas must be 0..n-1 and the records must end exactly where the batch does.
    #[test]
    fn record_framing_is_walked_for_uncompressed_batches() {
        let config = LogConfig::default();
        let mut plain = Vec::new();
        for (i, delta) in [0, 1, 1].iter().enumerate() {
            record::encode_record(&mut plain, i as i64, *delta, Some(b"k"), Some(b"v"), &[]);
        }
        let good = batch(3, BatchOptions::default());
        let with_body = |body: &[u8]| {
            let mut h = BatchHeader::parse(&good).unwrap();
            h.length = (HEADER_LEN - LOG_OVERHEAD + body.len()) as i32;
            let mut out = h.to_bytes().to_vec();
            out.extend_from_slice(body);
            patch(&out, |_| {})
        };
        let e = validate_produce(&with_body(&plain), &config, NOW, "t-0").unwrap_err();
        assert_eq!(e.error_code(), 87);
        assert!(e.to_string().contains("offset delta 1, expected 2"), "{e}");
        // A stray byte after the last record.
        let mut trailing = good[HEADER_LEN..].to_vec();
        trailing.push(0);
        let e = validate_produce(&with_body(&trailing), &config, NOW, "t-0").unwrap_err();
        assert_eq!(e.error_code(), 87, "{e}");
        // A record whose length runs past the batch.
        let mut cut = good[HEADER_LEN..].to_vec();
        cut.pop();
        assert_eq!(code(&with_body(&cut), &config), 87);
    }

    /// Every record's timestamp is checked (at 2264378 only the header's were), and the true
    /// maximum replaces a header that understates it.
    #[test]
    fn uncompressed_record_timestamps_are_checked_one_by_one() {
        let config = LogConfig {
            timestamp_before_max_ms: 60_000,
            ..LogConfig::default()
        };
        let mut rs = records(3, NOW - 100);
        rs[1].timestamp_ms = NOW - 3_600_000;
        let bytes = build_batch(&rs, &BatchOptions::default()).unwrap();
        // The header's base and max timestamps are both within bounds.
        let h = BatchHeader::parse(&bytes).unwrap();
        assert!(NOW - h.base_timestamp < 60_000 && NOW - h.max_timestamp < 60_000);
        let e = validate_produce(&bytes, &config, NOW, "t-0").unwrap_err();
        assert_eq!(e.error_code(), 32);
        assert_eq!(e.record_errors().len(), 1);
        assert_eq!(e.record_errors()[0].batch_index, 1);
        let low_max = patch(&batch(3, BatchOptions::default()), |h| {
            h.max_timestamp = NOW - 100
        });
        let v = validate_produce(&low_max, &LogConfig::default(), NOW, "t-0").unwrap();
        assert_eq!(v.max_timestamp, NOW - 100 + 2);
        assert_eq!(v.fields.max_timestamp, NOW - 100 + 2);
        assert_eq!(v.fields.crc, batch_crc(&v.header, v.rest));
    }

    #[test]
    fn kafka_error_codes() {
        let config = LogConfig::default();
        let good = batch(3, BatchOptions::default());
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(code(&bad_crc, &config), 2);
        let mut magic1 = good.clone();
        magic1[MAGIC_OFFSET] = 1;
        assert_eq!(code(&magic1, &config), 87);
        let mut magic3 = good.clone();
        magic3[MAGIC_OFFSET] = 3;
        assert_eq!(code(&magic3, &config), 2);
        assert_eq!(code(&patch(&good, |h| h.base_offset = 5), &config), 87);
        assert_eq!(code(&patch(&good, |h| h.records_count = 4), &config), 87);
        assert_eq!(
            code(&patch(&good, |h| h.last_offset_delta = -1), &config),
            87
        );
        assert_eq!(
            code(&patch(&good, |h| h.attributes |= ATTR_CONTROL), &config),
            87
        );
        assert_eq!(code(&patch(&good, |h| h.producer_id = 5), &config), 87);
        assert_eq!(code(&patch(&good, |h| h.attributes |= 5), &config), 76);
        // Two batches, a truncated one, nothing at all.
        assert_eq!(code(&[good.clone(), good.clone()].concat(), &config), 87);
        assert_eq!(code(&good[..good.len() - 1], &config), 87);
        assert_eq!(code(&[], &config), 87);
        // A trailing partial batch is ignored, as Kafka trims it.
        let mut trailing = good.clone();
        trailing.extend_from_slice(&good[..11]);
        assert_eq!(
            validate_produce(&trailing, &config, NOW, "t-0")
                .unwrap()
                .size(),
            good.len() as u64
        );
        // Length field below the minimum overhead, or too short for a v2 header.
        let mut tiny = good.clone();
        tiny[8..12].copy_from_slice(&13i32.to_be_bytes());
        assert_eq!(code(&tiny, &config), 2);
        let mut short = good[..40].to_vec();
        short[8..12].copy_from_slice(&28i32.to_be_bytes());
        assert_eq!(code(&short, &config), 2);
        // Sizes.
        let small = LogConfig {
            max_message_bytes: good.len() as u32 - 1,
            ..LogConfig::default()
        };
        assert_eq!(code(&good, &small), 10);
        let tiny_segments = LogConfig {
            segment_bytes: good.len() as u64 - 1,
            ..LogConfig::default()
        };
        assert_eq!(code(&good, &tiny_segments), 18);
    }

    #[test]
    fn timestamps_out_of_bounds_name_the_records() {
        let config = LogConfig {
            timestamp_before_max_ms: 1000,
            timestamp_after_max_ms: 1000,
            ..LogConfig::default()
        };
        let mut recs = records(4, NOW);
        recs[2].timestamp_ms = NOW + 5000;
        recs[3].timestamp_ms = NOW - 5000;
        for codec in [Compression::None, Compression::Zstd] {
            let bytes = build_batch(
                &recs,
                &BatchOptions {
                    compression: codec,
                    ..BatchOptions::default()
                },
            )
            .unwrap();
            let err = validate_produce(&bytes, &config, NOW, "t-0").unwrap_err();
            assert_eq!(err.error_code(), 32);
            let indexes: Vec<i32> = err.record_errors().iter().map(|e| e.batch_index).collect();
            assert_eq!(indexes, vec![2, 3], "{codec:?}");
        }
        // -1 (no timestamp) is never out of bounds.
        let none = build_batch(&records(2, -1)[..1], &BatchOptions::default()).unwrap();
        assert!(validate_produce(&none, &config, NOW, "t-0").is_ok());
        // A client may not set LogAppendTime.
        let lat = batch(
            2,
            BatchOptions {
                timestamp_type: TimestampType::LogAppendTime,
                ..BatchOptions::default()
            },
        );
        let lat_topic = LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..LogConfig::default()
        };
        assert_eq!(code(&lat, &lat_topic), 32);
    }

    #[test]
    fn log_append_time_restamps_and_recomputes_crc() {
        let config = LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..LogConfig::default()
        };
        for codec in [Compression::None, Compression::Lz4] {
            let bytes = batch(
                5,
                BatchOptions {
                    compression: codec,
                    ..BatchOptions::default()
                },
            );
            let v = validate_produce(&bytes, &config, NOW, "t-0").unwrap();
            let h = BatchHeader::from_bytes(&v.header);
            assert_eq!(h.max_timestamp, NOW);
            assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
            assert_eq!(h.base_timestamp, NOW - 100, "baseTimestamp is kept");
            assert_eq!(h.crc, batch_crc(&v.header, v.rest));
            assert_eq!(v.log_append_time_ms, NOW);
            assert_eq!(v.max_timestamp, NOW);
        }
    }

    #[test]
    fn compressed_max_timestamp_is_recomputed() {
        let bytes = batch(
            5,
            BatchOptions {
                compression: Compression::Gzip,
                ..BatchOptions::default()
            },
        );
        let lying = patch(&bytes, |h| h.max_timestamp = NOW - 1000);
        let v = validate_produce(&lying, &LogConfig::default(), NOW, "t-0").unwrap();
        assert_eq!(v.max_timestamp, NOW - 100 + 4);
        assert_eq!(
            BatchHeader::from_bytes(&v.header).crc,
            batch_crc(&v.header, v.rest)
        );
        // Wrong record count inside a compressed batch.
        let fewer = patch(&bytes, |h| {
            h.records_count = 4;
            h.last_offset_delta = 3
        });
        assert_eq!(code(&fewer, &LogConfig::default()), 87);
        // Garbage payload.
        let mut garbage = bytes[..HEADER_LEN].to_vec();
        garbage.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let length = (garbage.len() - LOG_OVERHEAD) as i32;
        garbage[8..12].copy_from_slice(&length.to_be_bytes());
        let garbage = patch(&garbage, |_| {});
        assert_eq!(code(&garbage, &LogConfig::default()), 2);
    }

    #[test]
    fn decompression_bomb_is_refused() {
        let big = NewRecord {
            value: Some(vec![0u8; MAX_DECOMPRESSED_BATCH_BYTES]),
            timestamp_ms: NOW,
            ..NewRecord::default()
        };
        let bytes = build_batch(
            &[big],
            &BatchOptions {
                compression: Compression::Zstd,
                ..BatchOptions::default()
            },
        )
        .unwrap();
        assert!(bytes.len() < 64 * 1024);
        assert_eq!(code(&bytes, &LogConfig::default()), 10);
    }

    #[test]
    fn sequence_arithmetic_wraps() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
        assert_eq!(decrement_sequence(5, 2), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = validate_produce(&bytes, &LogConfig::default(), NOW, "t-0");
        }

        #[test]
        fn mutated_batches_never_panic(
            codec in prop::sample::select(vec![Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd]),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            fix_crc in any::<bool>(),
        ) {
            let mut bytes = batch(6, BatchOptions { compression: codec, ..BatchOptions::default() });
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            if fix_crc && bytes.len() >= HEADER_LEN {
                bytes = patch(&bytes, |_| {});
            }
            let _ = validate_produce(&bytes, &LogConfig::default(), NOW, "t-0");
        }
    }
}
