//! Micro-benchmarks of the broker's hot paths, one group per stage a record goes through:
//!
//! - `codec/*`: the request frame decode the connection runs (`frame::decode_header` +
//!   `frame::decode_body`: kafka-protocol inside `catch_unwind`) and the response encode, for
//!   Produce, Fetch and Metadata, at the versions librdkafka 2.12 negotiates with us
//!   (Produce v10, Fetch v16, Metadata v12).
//! - `validate/*`: `log::validate_produce` (framing, CRC32C, header checks) per byte of batch.
//! - `append/*`: `PartitionLog::append` on a temp dir and on memfd storage, per MiB and per batch.
//! - `lookup/*`: `PartitionLog::read` (offset index + batch-header scan, what every Fetch does) and
//!   `PartitionLog::offset_for_timestamp` (time index + offset index + scan + record walk).
//! - `fetch_encode/*`: FetchResponse assembly as memory + file-region chunks, beside
//!   kafka-protocol's contiguous encoding of the same response with the records in memory.
//!
//! Run with `cargo bench --bench micro` (~100 s once built); `cargo bench --bench micro -- append`
//! runs one group. Timing is never a pass/fail test. See BENCHMARKS.md for how to read them.
//!
//! On this VM, memory the process (or the page cache) touches for the first time is expensive
//! (the hypervisor backs guest pages lazily and takes freed ones back), so the append benchmarks
//! recycle a bounded amount of log instead of growing files without limit; see BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{
    FetchableTopicResponse, PartitionData as CodecPartitionData,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use uuid::Uuid;
use vltava::handlers::fetch_encode::{
    self, FetchPartitionResponse, FetchResponseBody, FetchTopicResponse, PartitionRecords,
};
use vltava::log::{
    BatchOptions, FileRegion, LogConfig, NewRecord, PartitionLog, Storage, build_batch,
    validate_produce,
};
use vltava::net::frame;

/// Versions librdkafka 2.12 settles on against this broker.
const PRODUCE_VERSION: i16 = 10;
const FETCH_VERSION: i16 = 16;
const METADATA_VERSION: i16 = 12;

const MIB: usize = 1 << 20;
/// librdkafka's default `batch.size`: the largest batches it sends under load.
const BATCH_BYTES: usize = 1_000_000;
/// The append benchmarks start a new log after this many bytes, so a run touches a bounded
/// amount of page cache (see the module header).
const APPEND_RECYCLE_BYTES: u64 = 256 << 20;

fn now_ms() -> i64 {
    vltava::broker::now_ms()
}

/// A v2 batch of `count` uncompressed records with `value_bytes`-byte values, as a
/// non-idempotent client builds it, timestamped `timestamp_ms` onwards (1 ms apart).
fn batch(value_bytes: usize, count: usize, timestamp_ms: i64) -> Vec<u8> {
    let records: Vec<NewRecord> = (0..count)
        .map(|i| NewRecord {
            key: None,
            value: Some(vec![b'x'; value_bytes]),
            headers: Vec::new(),
            timestamp_ms: timestamp_ms + i as i64,
        })
        .collect();
    build_batch(&records, &BatchOptions::default()).expect("batch builds")
}

/// Record count that makes a batch of about `batch_bytes` with `value_bytes` values.
fn records_per_batch(value_bytes: usize, batch_bytes: usize) -> usize {
    // A record with a null key and no headers carries up to 12 bytes of framing.
    (batch_bytes.saturating_sub(61) / (value_bytes + 12)).max(1)
}

/// A request frame as the connection hands it to `frame` (after the size prefix).
fn request_frame<R: Encodable>(api: ApiKey, version: i16, body: &R) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .expect("header encodes");
    body.encode(&mut buf, version).expect("body encodes");
    buf.freeze()
}

/// What the connection does with a frame: header prefix, header, body.
fn decode_frame(frame: &Bytes) -> kafka_protocol::messages::RequestKind {
    let prefix = frame::peek_prefix(frame).expect("prefix");
    let api = ApiKey::try_from(prefix.api_key).expect("api key");
    let mut bytes = frame.clone();
    frame::decode_header(api, prefix.api_version, &mut bytes).expect("header");
    frame::decode_body(api, prefix.api_version, &mut bytes).expect("body")
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn produce_request(partitions: i32, batch: &Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic_name("bench"))
                .with_partition_data(
                    (0..partitions)
                        .map(|p| {
                            PartitionProduceData::default()
                                .with_index(p)
                                .with_records(Some(batch.clone()))
                        })
                        .collect(),
                ),
        ])
}

fn produce_response(partitions: i32) -> ProduceResponse {
    ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default()
            .with_name(topic_name("bench"))
            .with_partition_responses(
                (0..partitions)
                    .map(|p| {
                        PartitionProduceResponse::default()
                            .with_index(p)
                            .with_base_offset(1_000_000)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(0)
                    })
                    .collect(),
            ),
    ])
}

fn fetch_request(partitions: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(52_428_800)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic_id(Uuid::from_u128(0x1234))
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_current_leader_epoch(0)
                                .with_fetch_offset(123_456)
                                .with_log_start_offset(-1)
                                .with_partition_max_bytes(1_048_576)
                        })
                        .collect(),
                ),
        ])
}

fn metadata_request(topics: usize) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(
            (0..topics)
                .map(|t| {
                    MetadataRequestTopic::default()
                        .with_name(Some(topic_name(&format!("topic-{t}"))))
                })
                .collect(),
        ))
        .with_allow_auto_topic_creation(true)
}

fn metadata_response(topics: usize, partitions: i32) -> MetadataResponse {
    MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092),
        ])
        .with_cluster_id(Some(StrBytes::from_static_str("jiUUTQFuSr27XH5_TQ-Rpw")))
        .with_controller_id(BrokerId(1))
        .with_topics(
            (0..topics)
                .map(|t| {
                    MetadataResponseTopic::default()
                        .with_name(Some(topic_name(&format!("topic-{t}"))))
                        .with_topic_id(Uuid::from_u128(t as u128 + 1))
                        .with_partitions(
                            (0..partitions)
                                .map(|p| {
                                    MetadataResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_leader_id(BrokerId(1))
                                        .with_leader_epoch(0)
                                        .with_replica_nodes(vec![BrokerId(1)])
                                        .with_isr_nodes(vec![BrokerId(1)])
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");

    // Produce: one 1 MB batch of 1 KiB records (the shape rdkafka_performance sends), and six.
    let big = Bytes::from(batch(1024, records_per_batch(1024, BATCH_BYTES), now_ms()));
    for partitions in [1, 6] {
        let frame = request_frame(
            ApiKey::Produce,
            PRODUCE_VERSION,
            &produce_request(partitions, &big),
        );
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("produce_request_decode/{partitions}x1MB"), |b| {
            b.iter(|| black_box(decode_frame(black_box(&frame))))
        });
        let response = produce_response(partitions);
        g.bench_function(format!("produce_response_encode/{partitions}p"), |b| {
            b.iter(|| {
                let mut buf = BytesMut::with_capacity(256);
                response.encode(&mut buf, PRODUCE_VERSION).expect("encodes");
                black_box(buf)
            })
        });
    }

    // Fetch: the request a consumer of six partitions sends (its responses are `fetch_encode`).
    for partitions in [1, 6, 100] {
        let frame = request_frame(ApiKey::Fetch, FETCH_VERSION, &fetch_request(partitions));
        g.bench_function(format!("fetch_request_decode/{partitions}p"), |b| {
            b.iter(|| black_box(decode_frame(black_box(&frame))))
        });
    }

    // Metadata: a client asking for its one topic; the answer for 1 topic x 6 partitions and for
    // 100 topics x 10 partitions.
    let frame = request_frame(ApiKey::Metadata, METADATA_VERSION, &metadata_request(1));
    g.bench_function("metadata_request_decode/1topic", |b| {
        b.iter(|| black_box(decode_frame(black_box(&frame))))
    });
    for (topics, partitions) in [(1, 6), (100, 10)] {
        let response = metadata_response(topics, partitions);
        g.bench_function(
            format!("metadata_response_encode/{topics}x{partitions}p"),
            |b| {
                b.iter(|| {
                    let mut buf = BytesMut::with_capacity(1024);
                    response
                        .encode(&mut buf, METADATA_VERSION)
                        .expect("encodes");
                    black_box(buf)
                })
            },
        );
    }
    g.finish();
}

fn validate(c: &mut Criterion) {
    let mut g = c.benchmark_group("validate");
    let config = LogConfig::default();
    let now = now_ms();
    // (value bytes, batch bytes): librdkafka's batches under load are ~1 MiB; a linger-0 batch of
    // one small record is the other extreme.
    for (value_bytes, batch_bytes, label) in [
        (1024, BATCH_BYTES, "1KiB_records/1MB_batch"),
        (100, BATCH_BYTES, "100B_records/1MB_batch"),
        (100, 100, "100B_records/1_record_batch"),
    ] {
        let b = batch(
            value_bytes,
            records_per_batch(value_bytes, batch_bytes),
            now,
        );
        g.throughput(Throughput::Bytes(b.len() as u64));
        g.bench_function(label, |bench| {
            bench.iter(|| {
                black_box(validate_produce(black_box(&b), &config, now, "bench-0").expect("valid"))
            })
        });
    }
    g.finish();
}

/// A log in a fresh temp dir, or in memfd files.
struct BenchLog {
    log: PartitionLog,
    _dir: Option<tempfile::TempDir>,
}

fn open_log(on_disk: bool) -> BenchLog {
    let config = LogConfig::default();
    if on_disk {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = PartitionLog::open(Storage::Dir(dir.path().join("bench-0")), config, now_ms())
            .expect("log opens");
        BenchLog {
            log,
            _dir: Some(dir),
        }
    } else {
        let log = PartitionLog::open(Storage::Memory, config, now_ms()).expect("log opens");
        BenchLog { log, _dir: None }
    }
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    let now = now_ms();
    for (value_bytes, batch_bytes, label) in [
        (1024, BATCH_BYTES, "1MB_batch"),
        (1024, 16 << 10, "16KiB_batch"),
        (100, 100, "1_record_batch"),
    ] {
        let b = batch(
            value_bytes,
            records_per_batch(value_bytes, batch_bytes),
            now,
        );
        g.throughput(Throughput::Bytes(b.len() as u64));
        for on_disk in [true, false] {
            let storage = if on_disk { "dir" } else { "memfd" };
            g.bench_function(format!("{storage}/{label}"), |bench| {
                bench.iter_custom(|iters| {
                    let mut log = open_log(on_disk);
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        if log.log.size_in_bytes() >= APPEND_RECYCLE_BYTES {
                            log = open_log(on_disk);
                        }
                        let start = Instant::now();
                        let outcome = log.log.append(black_box(&b), 0, now).expect("appends");
                        elapsed += start.elapsed();
                        black_box(outcome);
                    }
                    elapsed
                })
            });
        }
    }
    g.finish();
}

/// A memfd log of `batches` batches of 16 records of 100 B (~2 KiB each, so the offset index
/// has an entry every other batch), timestamps 1 ms apart.
fn filled_log(batches: usize) -> (PartitionLog, i64, i64) {
    let records = 16;
    let first_ts = now_ms() - (batches * records) as i64 - 1_000;
    let mut log = open_log(false).log;
    for i in 0..batches {
        let b = batch(100, records, first_ts + (i * records) as i64);
        log.append(&b, 0, now_ms()).expect("appends");
    }
    let end = log.log_end_offset();
    (log, first_ts, end)
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    let batches = 50_000;
    let (mut log, first_ts, end) = filled_log(batches);
    // A fixed pseudo-random walk over the log, so every iteration does the same work.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |bound: i64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as i64
    };
    g.bench_function(format!("offset/{batches}_batches"), |b| {
        b.iter_batched(
            || next(end),
            |offset| black_box(log.read(offset, 1_048_576, true).expect("reads")),
            BatchSize::SmallInput,
        )
    });
    g.bench_function(format!("timestamp/{batches}_batches"), |b| {
        b.iter_batched(
            || first_ts + next(end),
            |ts| black_box(log.offset_for_timestamp(ts).expect("looks up")),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A FetchResponse body with `partitions` partitions of `region_bytes` each, as the handler
/// builds it for a consumer at the log end minus `region_bytes`.
fn fetch_body(file: &Arc<std::fs::File>, partitions: i32, region_bytes: u32) -> FetchResponseBody {
    FetchResponseBody {
        topics: vec![FetchTopicResponse {
            name: "bench".into(),
            topic_id: Uuid::from_u128(0x1234),
            partitions: (0..partitions)
                .map(|p| FetchPartitionResponse {
                    partition_index: p,
                    high_watermark: 1_000_000,
                    last_stable_offset: 1_000_000,
                    log_start_offset: 0,
                    records: PartitionRecords::File(FileRegion {
                        file: file.clone(),
                        position: 0,
                        len: region_bytes,
                    }),
                    ..Default::default()
                })
                .collect(),
        }],
        ..Default::default()
    }
}

/// The same response through kafka-protocol, with the records copied into memory (what a broker
/// without file regions must do).
fn codec_fetch_response(records: &Bytes, partitions: i32) -> FetchResponse {
    FetchResponse::default().with_responses(vec![
        FetchableTopicResponse::default()
            .with_topic_id(Uuid::from_u128(0x1234))
            .with_partitions(
                (0..partitions)
                    .map(|p| {
                        CodecPartitionData::default()
                            .with_partition_index(p)
                            .with_high_watermark(1_000_000)
                            .with_last_stable_offset(1_000_000)
                            .with_log_start_offset(0)
                            .with_records(Some(records.clone()))
                    })
                    .collect(),
            ),
    ])
}

fn fetch_response(c: &mut Criterion) {
    let mut g = c.benchmark_group("fetch_encode");
    let file = Arc::new(tempfile::tempfile().expect("temp file"));
    let region_bytes = MIB as u32;
    for partitions in [1, 6, 100] {
        let body = fetch_body(&file, partitions, region_bytes);
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("file_regions/{partitions}p"), |b| {
            b.iter(|| {
                black_box(
                    fetch_encode::encode_fetch_response(black_box(&body), FETCH_VERSION)
                        .expect("encodes"),
                )
            })
        });
    }
    // kafka-protocol copying 1 MiB per partition into the response buffer, for scale.
    let records = Bytes::from(vec![0u8; MIB]);
    for partitions in [1, 6] {
        let response = codec_fetch_response(&records, partitions);
        g.throughput(Throughput::Bytes((MIB * partitions as usize) as u64));
        g.bench_function(format!("codec_in_memory/{partitions}x1MiB"), |b| {
            b.iter(|| {
                let mut buf = BytesMut::with_capacity(MIB * partitions as usize + 4096);
                response.encode(&mut buf, FETCH_VERSION).expect("encodes");
                black_box(buf)
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = codec, validate, append, lookup, fetch_response
}
criterion_main!(benches);
