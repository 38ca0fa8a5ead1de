//! Error types of the log engine, one small enum per operation family, each mapping to the
//! Kafka error code a handler puts in its response (`error_code()`), plus the message Kafka
//! would send as `error_message` (Produce v8+) and per-record errors (`record_errors`).
//!
//! Kafka maps every I/O failure of a log to KAFKA_STORAGE_ERROR (56) and takes the log
//! directory offline; a `PartitionLog` that saw a write failure likewise refuses further
//! appends (see `PartitionLog::append`).

use std::io;

use kafka_protocol::ResponseError;

/// Kafka's code for success (`Errors.NONE`). Every other code comes from kafka-protocol's
/// `ResponseError`, the one table of error codes the whole broker uses.
pub const NONE: i16 = 0;

/// One rejected record of a batch, as Produce v8+ reports it (`record_errors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Index of the record inside its batch.
    pub batch_index: i32,
    pub message: String,
}

/// Why a produced record set was not appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// CRC mismatch, impossible length, unknown magic, undecodable compressed payload.
    #[error("{0}")]
    CorruptMessage(String),
    /// Structurally valid bytes that break a produce rule (base offset, counts, control
    /// batches, sequences, more than one batch, malformed records).
    #[error("{message}")]
    InvalidRecord {
        message: String,
        record_errors: Vec<RecordError>,
    },
    /// The batch is larger than `max.message.bytes` (or decompresses past the engine's bound).
    #[error("{0}")]
    MessageTooLarge(String),
    /// The batch is larger than `segment.bytes`.
    #[error("{0}")]
    RecordListTooLarge(String),
    /// A CreateTime timestamp outside `message.timestamp.{before,after}.max.ms`, or a client
    /// that set the LogAppendTime attribute.
    #[error("{message}")]
    InvalidTimestamp {
        message: String,
        record_errors: Vec<RecordError>,
    },
    /// Compression codec id 5..=7.
    #[error("{0}")]
    UnsupportedCompressionType(String),
    #[error("{0}")]
    OutOfOrderSequence(String),
    #[error("{0}")]
    InvalidProducerEpoch(String),
    /// A marker from an older transaction coordinator epoch.
    #[error("{0}")]
    CoordinatorFenced(String),
    /// The write failed, or the log is offline after an earlier failure or `close`.
    #[error("storage error: {0}")]
    Storage(#[from] io::Error),
}

impl AppendError {
    pub fn error_code(&self) -> i16 {
        match self {
            AppendError::CorruptMessage(_) => ResponseError::CorruptMessage.code(),
            AppendError::InvalidRecord { .. } => ResponseError::InvalidRecord.code(),
            AppendError::MessageTooLarge(_) => ResponseError::MessageTooLarge.code(),
            AppendError::RecordListTooLarge(_) => ResponseError::RecordListTooLarge.code(),
            AppendError::InvalidTimestamp { .. } => ResponseError::InvalidTimestamp.code(),
            AppendError::UnsupportedCompressionType(_) => {
                ResponseError::UnsupportedCompressionType.code()
            }
            AppendError::OutOfOrderSequence(_) => ResponseError::OutOfOrderSequenceNumber.code(),
            AppendError::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch.code(),
            AppendError::CoordinatorFenced(_) => ResponseError::TransactionCoordinatorFenced.code(),
            AppendError::Storage(_) => ResponseError::KafkaStorageError.code(),
        }
    }

    /// The text for Produce v8+ `error_message`.
    pub fn error_message(&self) -> String {
        self.to_string()
    }

    /// Per-record errors for Produce v8+ `record_errors` (empty for batch-level errors).
    pub fn record_errors(&self) -> &[RecordError] {
        match self {
            AppendError::InvalidRecord { record_errors, .. }
            | AppendError::InvalidTimestamp { record_errors, .. } => record_errors,
            _ => &[],
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> AppendError {
        AppendError::InvalidRecord {
            message: message.into(),
            record_errors: Vec::new(),
        }
    }
}

/// Why a Fetch read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("offset {offset} is outside [{log_start_offset}, {high_watermark}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        high_watermark: i64,
    },
    #[error("storage error: {0}")]
    Storage(#[from] io::Error),
    /// Stored bytes failed a check (the partition is now offline), or it already was.
    #[error("corrupt log data: {0}")]
    Corrupt(String),
}

impl ReadError {
    pub fn error_code(&self) -> i16 {
        match self {
            ReadError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
            ReadError::Storage(_) | ReadError::Corrupt(_) => {
                ResponseError::KafkaStorageError.code()
            }
        }
    }

    pub fn error_message(&self) -> String {
        self.to_string()
    }
}

/// Failures of opening, flushing, closing and the offset look-ups.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("storage error: {0}")]
    Io(#[from] io::Error),
    /// On-disk bytes the engine cannot use (reported, never panicked on).
    #[error("corrupt log data: {0}")]
    Corrupt(String),
    #[error("offset {offset} is outside [{log_start_offset}, {high_watermark}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        high_watermark: i64,
    },
}

impl LogError {
    pub fn error_code(&self) -> i16 {
        match self {
            LogError::Io(_) | LogError::Corrupt(_) => ResponseError::KafkaStorageError.code(),
            LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange.code(),
        }
    }

    pub fn error_message(&self) -> String {
        self.to_string()
    }
}
