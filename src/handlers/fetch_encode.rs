//! The FetchResponse body encoder, versions 4–18, that leaves record bytes in the segment files.
//!
//! Why our own encoder: kafka-protocol encodes a message into one contiguous buffer, so every
//! fetched byte would be read from the page cache into user memory and copied again into the
//! socket. Kafka itself computes the response size first and then writes memory buffers and
//! `FileChannel.transferTo` regions in order. We do the same: [`encode_fetch_response`] returns
//! the body as a list of [`Chunk`]s — `mem, file, mem, file, …` — where each partition's records
//! are a [`FileRegion`] the connection layer sends with sendfile (or copies, for TLS), and
//! everything else is coalesced into as few in-memory buffers as possible.
//!
//! The body is everything after the response header; [`body_len`] gives its size for the frame.
//!
//! Byte-for-byte the same as kafka-protocol 0.18's `FetchResponse` encoder (generated from Kafka
//! 4.1's `FetchResponse.json`); `tests/fetch_encoding.rs` proves it for every version:
//! - v4–11 are non-flexible: i32 array and bytes lengths, i16 string lengths, no tagged fields.
//! - v12+ are flexible: compact arrays and strings (uvarint length + 1), compact records,
//!   tagged fields at the end of every struct.
//! - v5+ carry `log_start_offset`; v7+ `error_code` and `session_id`; v11+
//!   `preferred_read_replica`; v4–12 name topics, v13+ identify them by `topic_id` instead.
//! - Partition tagged fields (v12+): `diverging_epoch` (tag 0), `current_leader` (tag 1),
//!   `snapshot_id` (tag 2), each written only when it differs from its default (all `-1`).
//! - Top-level tagged field (v16+): `node_endpoints` (tag 0), written only when non-empty.
//!
//! Deliberate differences from a generic encoder:
//! - Records are never null on the wire: [`PartitionRecords::Empty`] is an empty records field
//!   (length 0), because librdkafka mishandles a null one.
//! - Fields a version does not have are silently left out when Kafka marks them ignorable
//!   (`error_code` before v7, `log_start_offset` before v5, tagged fields before v12, node
//!   endpoints before v16, the topic id before v13 and the name from v13). Setting a
//!   non-ignorable one (`session_id` ≠ 0 before v7, `preferred_read_replica` ≠ -1 before v11) is
//!   an error, as it is in Kafka and kafka-protocol: the handler built a response the client
//!   could not read.

use std::os::unix::fs::FileExt;

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use crate::log::FileRegion;

/// The oldest FetchResponse version this encoder writes.
pub const MIN_VERSION: i16 = 4;
/// The newest FetchResponse version this encoder writes.
pub const MAX_VERSION: i16 = 18;

/// First version with the partition's `log_start_offset`.
const FIRST_LOG_START_OFFSET_VERSION: i16 = 5;
/// First version with the top-level `error_code` and `session_id`.
const FIRST_SESSION_VERSION: i16 = 7;
/// First version with the partition's `preferred_read_replica`.
const FIRST_PREFERRED_READ_REPLICA_VERSION: i16 = 11;
/// First version with compact lengths and tagged fields.
const FIRST_FLEXIBLE_VERSION: i16 = 12;
/// First version that identifies topics by id instead of by name.
const FIRST_TOPIC_ID_VERSION: i16 = 13;
/// First version with the top-level `node_endpoints` tagged field.
const FIRST_NODE_ENDPOINTS_VERSION: i16 = 16;

/// Tag of `node_endpoints` in the top-level tagged fields.
const TAG_NODE_ENDPOINTS: u32 = 0;
/// Tags of the partition-level tagged fields.
const TAG_DIVERGING_EPOCH: u32 = 0;
const TAG_CURRENT_LEADER: u32 = 1;
const TAG_SNAPSHOT_ID: u32 = 2;

/// Encoded sizes of the tagged structs (fields plus their own empty tagged-field count).
const EPOCH_END_OFFSET_BYTES: u32 = 4 + 8 + 1;
const LEADER_ID_AND_EPOCH_BYTES: u32 = 4 + 4 + 1;
const SNAPSHOT_ID_BYTES: u32 = 8 + 4 + 1;

/// Rough in-memory bytes per topic and per partition, used only to size the buffer up front.
const TOPIC_BYTES_ESTIMATE: usize = 32;
const PARTITION_BYTES_ESTIMATE: usize = 96;

/// One piece of a response body, in order.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Bytes already in memory (header fields, lengths, in-memory records).
    Mem(Bytes),
    /// Record bytes to be sent straight from a segment file.
    File(FileRegion),
}

impl Chunk {
    /// Bytes this chunk contributes to the body.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Mem(bytes) => bytes.len(),
            Chunk::File(region) => region.len as usize,
        }
    }

    /// Whether the chunk contributes no bytes (the encoder never produces such chunks).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Records for one partition.
#[derive(Debug, Clone, Default)]
pub enum PartitionRecords {
    /// No records: encoded as an empty records field, never null (librdkafka breaks on null).
    #[default]
    Empty,
    /// Records already in memory; copied into the surrounding memory chunk.
    Mem(Bytes),
    /// Records in a segment file; becomes its own [`Chunk::File`].
    File(FileRegion),
}

impl PartitionRecords {
    /// Number of record bytes.
    pub fn len(&self) -> usize {
        match self {
            PartitionRecords::Empty => 0,
            PartitionRecords::Mem(bytes) => bytes.len(),
            PartitionRecords::File(region) => region.len as usize,
        }
    }

    /// Whether there are no record bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A FetchResponse body, as the Fetch handler builds it.
#[derive(Debug, Clone, Default)]
pub struct FetchResponseBody {
    /// Milliseconds the request was throttled for a quota violation; 0 if not throttled.
    pub throttle_time_ms: i32,
    /// Top-level error code (v7+; left out before).
    pub error_code: i16,
    /// Fetch session id, 0 when the request is not part of a session (v7+; must be 0 before).
    pub session_id: i32,
    /// The response topics, in the order they are written.
    pub topics: Vec<FetchTopicResponse>,
    /// Endpoints of the leaders named in `current_leader` fields (v16+ tagged field; left out
    /// before v16 and when empty).
    pub node_endpoints: Vec<NodeEndpoint>,
}

/// One topic of a FetchResponse.
#[derive(Debug, Clone, Default)]
pub struct FetchTopicResponse {
    /// Topic name, written by v4–12.
    pub name: String,
    /// Topic id, written by v13+.
    pub topic_id: Uuid,
    /// The partitions, in the order they are written.
    pub partitions: Vec<FetchPartitionResponse>,
}

/// One partition of a FetchResponse.
#[derive(Debug, Clone)]
pub struct FetchPartitionResponse {
    pub partition_index: i32,
    /// Partition-level error code, 0 when the fetch succeeded.
    pub error_code: i16,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    /// Log start offset (v5+; left out before).
    pub log_start_offset: i64,
    /// Aborted transactions in the returned range; `None` is a null array, which Kafka sends
    /// to READ_UNCOMMITTED fetchers.
    pub aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// Replica the consumer should fetch from next, -1 for none (v11+; must be -1 before).
    pub preferred_read_replica: i32,
    /// Tagged field 0 (v12+), written only when not the default.
    pub diverging_epoch: EpochEndOffset,
    /// Tagged field 1 (v12+), written only when not the default.
    pub current_leader: LeaderIdAndEpoch,
    /// Tagged field 2 (v12+), written only when not the default.
    pub snapshot_id: SnapshotId,
    pub records: PartitionRecords,
}

impl Default for FetchPartitionResponse {
    /// The defaults of Kafka's schema, except `aborted_transactions`, which is null.
    fn default() -> Self {
        Self {
            partition_index: 0,
            error_code: 0,
            high_watermark: 0,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted_transactions: None,
            preferred_read_replica: -1,
            diverging_epoch: EpochEndOffset::default(),
            current_leader: LeaderIdAndEpoch::default(),
            snapshot_id: SnapshotId::default(),
            records: PartitionRecords::Empty,
        }
    }
}

/// An aborted transaction overlapping the returned records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AbortedTransaction {
    pub producer_id: i64,
    /// First offset of the aborted transaction.
    pub first_offset: i64,
}

/// Where the fetcher's log diverges from the leader's (KIP-320 / KIP-595).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub epoch: i32,
    pub end_offset: i64,
}

impl Default for EpochEndOffset {
    fn default() -> Self {
        Self {
            epoch: -1,
            end_offset: -1,
        }
    }
}

/// The partition's current leader, sent with NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderIdAndEpoch {
    /// Leader broker id, -1 if unknown.
    pub leader_id: i32,
    pub leader_epoch: i32,
}

impl Default for LeaderIdAndEpoch {
    fn default() -> Self {
        Self {
            leader_id: -1,
            leader_epoch: -1,
        }
    }
}

/// Snapshot to fetch instead when the fetch offset is below the log start (KRaft).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotId {
    pub end_offset: i64,
    pub epoch: i32,
}

impl Default for SnapshotId {
    fn default() -> Self {
        Self {
            end_offset: -1,
            epoch: -1,
        }
    }
}

/// A broker endpoint for the v16+ `node_endpoints` tagged field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeEndpoint {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    /// Rack, or `None` if the broker has none.
    pub rack: Option<String>,
}

/// Why a response could not be encoded. Each one is a bug in the handler that built it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchEncodeError {
    #[error("FetchResponse version {0} is outside {MIN_VERSION}..={MAX_VERSION}")]
    UnsupportedVersion(i16),
    #[error("field {field} is set but FetchResponse v{version} cannot carry it")]
    FieldNotInVersion { field: &'static str, version: i16 },
    #[error("{what} is too long to encode ({len})")]
    TooLong { what: &'static str, len: usize },
}

/// Encodes `resp` as FetchResponse `version`, as chunks to be written in order.
///
/// Adjacent memory pieces are coalesced, so the result alternates between [`Chunk::Mem`] and
/// [`Chunk::File`], and holds no empty chunk.
pub fn encode_fetch_response(
    resp: &FetchResponseBody,
    version: i16,
) -> Result<Vec<Chunk>, FetchEncodeError> {
    if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
        return Err(FetchEncodeError::UnsupportedVersion(version));
    }
    let mut out = ChunkWriter::with_capacity(estimate_mem_bytes(resp), version);

    out.buf.put_i32(resp.throttle_time_ms);
    if version >= FIRST_SESSION_VERSION {
        out.buf.put_i16(resp.error_code);
        out.buf.put_i32(resp.session_id);
    } else if resp.session_id != 0 {
        return Err(not_in_version("session_id", version));
    }
    out.put_array_len(resp.topics.len(), "topics")?;
    for topic in &resp.topics {
        encode_topic(&mut out, topic)?;
    }
    if out.flexible {
        encode_top_level_tagged_fields(&mut out, resp)?;
    }
    Ok(out.finish())
}

/// Total bytes of the body the chunks make up.
pub fn body_len(chunks: &[Chunk]) -> usize {
    chunks.iter().map(Chunk::len).sum()
}

/// Appends the bytes the chunks stand for to `out`, reading file regions with `pread`.
///
/// For paths that cannot use sendfile (TLS) and for tests. Blocking file I/O: call it from
/// a blocking context. On error, what was appended to `out` is unspecified.
pub fn copy_chunks_into(chunks: &[Chunk], out: &mut Vec<u8>) -> std::io::Result<()> {
    out.reserve(body_len(chunks));
    for chunk in chunks {
        match chunk {
            Chunk::Mem(bytes) => out.extend_from_slice(bytes),
            Chunk::File(region) => {
                let start = out.len();
                out.resize(start + region.len as usize, 0);
                region
                    .file
                    .read_exact_at(&mut out[start..], region.position)?;
            }
        }
    }
    Ok(())
}

fn encode_topic(out: &mut ChunkWriter, topic: &FetchTopicResponse) -> Result<(), FetchEncodeError> {
    if out.version < FIRST_TOPIC_ID_VERSION {
        out.put_string(&topic.name, "topic name")?;
    } else {
        out.buf.put_slice(topic.topic_id.as_bytes());
    }
    out.put_array_len(topic.partitions.len(), "partitions")?;
    for partition in &topic.partitions {
        encode_partition(out, partition)?;
    }
    out.put_empty_tagged_fields();
    Ok(())
}

fn encode_partition(
    out: &mut ChunkWriter,
    partition: &FetchPartitionResponse,
) -> Result<(), FetchEncodeError> {
    let version = out.version;
    out.buf.put_i32(partition.partition_index);
    out.buf.put_i16(partition.error_code);
    out.buf.put_i64(partition.high_watermark);
    out.buf.put_i64(partition.last_stable_offset);
    if version >= FIRST_LOG_START_OFFSET_VERSION {
        out.buf.put_i64(partition.log_start_offset);
    }
    match &partition.aborted_transactions {
        None => out.put_null_array(),
        Some(aborted) => {
            out.put_array_len(aborted.len(), "aborted_transactions")?;
            for txn in aborted {
                out.buf.put_i64(txn.producer_id);
                out.buf.put_i64(txn.first_offset);
                out.put_empty_tagged_fields();
            }
        }
    }
    if version >= FIRST_PREFERRED_READ_REPLICA_VERSION {
        out.buf.put_i32(partition.preferred_read_replica);
    } else if partition.preferred_read_replica != -1 {
        return Err(not_in_version("preferred_read_replica", version));
    }
    out.put_records(&partition.records)?;
    if out.flexible {
        encode_partition_tagged_fields(out, partition);
    }
    Ok(())
}

fn encode_partition_tagged_fields(out: &mut ChunkWriter, partition: &FetchPartitionResponse) {
    let diverging_epoch = partition.diverging_epoch != EpochEndOffset::default();
    let current_leader = partition.current_leader != LeaderIdAndEpoch::default();
    let snapshot_id = partition.snapshot_id != SnapshotId::default();
    let count = [diverging_epoch, current_leader, snapshot_id]
        .iter()
        .filter(|&&present| present)
        .count();
    put_uvarint(&mut out.buf, count as u32);
    // Tagged fields are written in ascending tag order.
    if diverging_epoch {
        put_uvarint(&mut out.buf, TAG_DIVERGING_EPOCH);
        put_uvarint(&mut out.buf, EPOCH_END_OFFSET_BYTES);
        out.buf.put_i32(partition.diverging_epoch.epoch);
        out.buf.put_i64(partition.diverging_epoch.end_offset);
        put_uvarint(&mut out.buf, 0);
    }
    if current_leader {
        put_uvarint(&mut out.buf, TAG_CURRENT_LEADER);
        put_uvarint(&mut out.buf, LEADER_ID_AND_EPOCH_BYTES);
        out.buf.put_i32(partition.current_leader.leader_id);
        out.buf.put_i32(partition.current_leader.leader_epoch);
        put_uvarint(&mut out.buf, 0);
    }
    if snapshot_id {
        put_uvarint(&mut out.buf, TAG_SNAPSHOT_ID);
        put_uvarint(&mut out.buf, SNAPSHOT_ID_BYTES);
        out.buf.put_i64(partition.snapshot_id.end_offset);
        out.buf.put_i32(partition.snapshot_id.epoch);
        put_uvarint(&mut out.buf, 0);
    }
}

fn encode_top_level_tagged_fields(
    out: &mut ChunkWriter,
    resp: &FetchResponseBody,
) -> Result<(), FetchEncodeError> {
    let endpoints = out.version >= FIRST_NODE_ENDPOINTS_VERSION && !resp.node_endpoints.is_empty();
    if !endpoints {
        put_uvarint(&mut out.buf, 0);
        return Ok(());
    }
    // A tagged field is prefixed by its size, so encode the endpoints aside first.
    let mut field = BytesMut::new();
    put_compact_len(&mut field, resp.node_endpoints.len(), "node_endpoints")?;
    for endpoint in &resp.node_endpoints {
        field.put_i32(endpoint.node_id);
        put_compact_len(&mut field, endpoint.host.len(), "node endpoint host")?;
        field.put_slice(endpoint.host.as_bytes());
        field.put_i32(endpoint.port);
        match &endpoint.rack {
            None => put_uvarint(&mut field, 0),
            Some(rack) => {
                put_compact_len(&mut field, rack.len(), "node endpoint rack")?;
                field.put_slice(rack.as_bytes());
            }
        }
        put_uvarint(&mut field, 0);
    }
    let field_len = u32::try_from(field.len()).map_err(|_| FetchEncodeError::TooLong {
        what: "node_endpoints",
        len: field.len(),
    })?;
    put_uvarint(&mut out.buf, 1);
    put_uvarint(&mut out.buf, TAG_NODE_ENDPOINTS);
    put_uvarint(&mut out.buf, field_len);
    out.buf.put_slice(&field);
    Ok(())
}

/// Accumulates memory bytes and cuts a [`Chunk::Mem`] whenever a file region must follow.
struct ChunkWriter {
    chunks: Vec<Chunk>,
    buf: BytesMut,
    version: i16,
    flexible: bool,
}

impl ChunkWriter {
    fn with_capacity(mem_bytes: usize, version: i16) -> Self {
        Self {
            chunks: Vec::new(),
            buf: BytesMut::with_capacity(mem_bytes),
            version,
            flexible: version >= FIRST_FLEXIBLE_VERSION,
        }
    }

    fn put_array_len(&mut self, len: usize, what: &'static str) -> Result<(), FetchEncodeError> {
        if self.flexible {
            put_compact_len(&mut self.buf, len, what)
        } else {
            let len = i32::try_from(len).map_err(|_| FetchEncodeError::TooLong { what, len })?;
            self.buf.put_i32(len);
            Ok(())
        }
    }

    fn put_null_array(&mut self) {
        if self.flexible {
            put_uvarint(&mut self.buf, 0);
        } else {
            self.buf.put_i32(-1);
        }
    }

    fn put_string(&mut self, s: &str, what: &'static str) -> Result<(), FetchEncodeError> {
        if self.flexible {
            put_compact_len(&mut self.buf, s.len(), what)?;
        } else {
            let len = i16::try_from(s.len())
                .map_err(|_| FetchEncodeError::TooLong { what, len: s.len() })?;
            self.buf.put_i16(len);
        }
        self.buf.put_slice(s.as_bytes());
        Ok(())
    }

    fn put_records(&mut self, records: &PartitionRecords) -> Result<(), FetchEncodeError> {
        let len = records.len();
        if self.flexible {
            put_compact_len(&mut self.buf, len, "records")?;
        } else {
            let len = i32::try_from(len).map_err(|_| FetchEncodeError::TooLong {
                what: "records",
                len,
            })?;
            self.buf.put_i32(len);
        }
        match records {
            PartitionRecords::Empty => {}
            PartitionRecords::Mem(bytes) => self.buf.put_slice(bytes),
            PartitionRecords::File(region) => self.put_file(region),
        }
        Ok(())
    }

    fn put_file(&mut self, region: &FileRegion) {
        if region.len == 0 {
            return;
        }
        self.cut_mem_chunk();
        self.chunks.push(Chunk::File(region.clone()));
    }

    fn put_empty_tagged_fields(&mut self) {
        if self.flexible {
            put_uvarint(&mut self.buf, 0);
        }
    }

    /// Moves the bytes written so far into a chunk; the spare capacity stays for the next one.
    fn cut_mem_chunk(&mut self) {
        if !self.buf.is_empty() {
            self.chunks.push(Chunk::Mem(self.buf.split().freeze()));
        }
    }

    fn finish(mut self) -> Vec<Chunk> {
        self.cut_mem_chunk();
        self.chunks
    }
}

/// Compact length: uvarint of `len + 1` (0 is reserved for null).
fn put_compact_len(
    buf: &mut BytesMut,
    len: usize,
    what: &'static str,
) -> Result<(), FetchEncodeError> {
    let encoded = u32::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(1))
        .ok_or(FetchEncodeError::TooLong { what, len })?;
    put_uvarint(buf, encoded);
    Ok(())
}

fn put_uvarint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn not_in_version(field: &'static str, version: i16) -> FetchEncodeError {
    FetchEncodeError::FieldNotInVersion { field, version }
}

/// Memory bytes the body will need, near enough to avoid regrowing the buffer.
fn estimate_mem_bytes(resp: &FetchResponseBody) -> usize {
    let mut total = 64;
    for topic in &resp.topics {
        total += TOPIC_BYTES_ESTIMATE + topic.name.len();
        for partition in &topic.partitions {
            total += PARTITION_BYTES_ESTIMATE;
            total += partition
                .aborted_transactions
                .as_ref()
                .map_or(0, |a| a.len() * 17);
            if let PartitionRecords::Mem(bytes) = &partition.records {
                total += bytes.len();
            }
        }
    }
    for endpoint in &resp.node_endpoints {
        total += 32 + endpoint.host.len() + endpoint.rack.as_ref().map_or(0, String::len);
    }
    total
}
