//! The chunked FetchResponse encoder must write, for every version 4–18, exactly the bytes
//! kafka-protocol 0.18's `FetchResponse` encoder writes for the same content — with records
//! read from the same file regions and `Empty` records as an empty (not null) field — and must
//! refuse exactly what kafka-protocol refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::fs::{File, OpenOptions};
use std::ops::RangeInclusive;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response as kp;
use kafka_protocol::messages::{BrokerId, ProducerId, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};
use proptest::prelude::*;
use uuid::Uuid;
use vltava::handlers::fetch_encode::{
    AbortedTransaction, Chunk, EpochEndOffset, FetchEncodeError, FetchPartitionResponse,
    FetchResponseBody, FetchTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionRecords,
    SnapshotId, body_len, copy_chunks_into, encode_fetch_response,
};
use vltava::log::FileRegion;

const VERSIONS: RangeInclusive<i16> = 4..=18;

// ---------------------------------------------------------------------------------------------
// Files and regions
// ---------------------------------------------------------------------------------------------

/// A fresh, already unlinked temporary file holding `contents`.
fn temp_file(contents: &[u8]) -> Arc<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "vltava-fetch-encoding-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("create temp file");
    std::fs::remove_file(&path).expect("unlink temp file");
    file.write_all_at(contents, 0).expect("write temp file");
    Arc::new(file)
}

/// Deterministic, non-repeating-looking bytes.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// A region of its own file holding `records`, with filler before (`position` bytes) and after,
/// so a reader that ignores the position or the length gets the wrong bytes.
fn file_records(records: &[u8], position: u64) -> PartitionRecords {
    let mut contents = vec![0xEE; position as usize];
    contents.extend_from_slice(records);
    contents.extend_from_slice(&[0xDD; 97]);
    PartitionRecords::File(FileRegion {
        file: temp_file(&contents),
        position,
        len: records.len() as u32,
    })
}

fn read_region(region: &FileRegion) -> Vec<u8> {
    let mut bytes = vec![0; region.len as usize];
    region
        .file
        .read_exact_at(&mut bytes, region.position)
        .expect("read file region");
    bytes
}

/// The body the chunks stand for, read independently of the library's own copy helper.
fn materialise(chunks: &[Chunk]) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Mem(bytes) => body.extend_from_slice(bytes),
            Chunk::File(region) => body.extend_from_slice(&read_region(region)),
        }
    }
    body
}

// ---------------------------------------------------------------------------------------------
// The reference: the same content through kafka-protocol
// ---------------------------------------------------------------------------------------------

fn reference(body: &FetchResponseBody) -> kp::FetchResponse {
    kp::FetchResponse::default()
        .with_throttle_time_ms(body.throttle_time_ms)
        .with_error_code(body.error_code)
        .with_session_id(body.session_id)
        .with_responses(body.topics.iter().map(reference_topic).collect())
        .with_node_endpoints(body.node_endpoints.iter().map(reference_endpoint).collect())
}

fn reference_topic(topic: &FetchTopicResponse) -> kp::FetchableTopicResponse {
    kp::FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_string(topic.name.clone())))
        .with_topic_id(topic.topic_id)
        .with_partitions(topic.partitions.iter().map(reference_partition).collect())
}

fn reference_partition(p: &FetchPartitionResponse) -> kp::PartitionData {
    let records = match &p.records {
        PartitionRecords::Empty => Bytes::new(),
        PartitionRecords::Mem(bytes) => bytes.clone(),
        PartitionRecords::File(region) => Bytes::from(read_region(region)),
    };
    let aborted = p.aborted_transactions.as_ref().map(|txns| {
        txns.iter()
            .map(|t| {
                kp::AbortedTransaction::default()
                    .with_producer_id(ProducerId(t.producer_id))
                    .with_first_offset(t.first_offset)
            })
            .collect()
    });
    kp::PartitionData::default()
        .with_partition_index(p.partition_index)
        .with_error_code(p.error_code)
        .with_high_watermark(p.high_watermark)
        .with_last_stable_offset(p.last_stable_offset)
        .with_log_start_offset(p.log_start_offset)
        .with_aborted_transactions(aborted)
        .with_preferred_read_replica(BrokerId(p.preferred_read_replica))
        .with_diverging_epoch(
            kp::EpochEndOffset::default()
                .with_epoch(p.diverging_epoch.epoch)
                .with_end_offset(p.diverging_epoch.end_offset),
        )
        .with_current_leader(
            kp::LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(p.current_leader.leader_id))
                .with_leader_epoch(p.current_leader.leader_epoch),
        )
        .with_snapshot_id(
            kp::SnapshotId::default()
                .with_end_offset(p.snapshot_id.end_offset)
                .with_epoch(p.snapshot_id.epoch),
        )
        .with_records(Some(records))
}

fn reference_endpoint(e: &NodeEndpoint) -> kp::NodeEndpoint {
    kp::NodeEndpoint::default()
        .with_node_id(BrokerId(e.node_id))
        .with_host(StrBytes::from_string(e.host.clone()))
        .with_port(e.port)
        .with_rack(e.rack.clone().map(StrBytes::from_string))
}

fn reference_bytes(body: &FetchResponseBody, version: i16) -> Result<Vec<u8>, String> {
    let mut buf = BytesMut::new();
    reference(body)
        .encode(&mut buf, version)
        .map_err(|e| e.to_string())?;
    Ok(buf.to_vec())
}

// ---------------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------------

fn assert_same_bytes(ours: &[u8], expected: &[u8], context: &str) {
    if ours == expected {
        return;
    }
    let first_difference = ours
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(expected.len()));
    let window = first_difference.saturating_sub(8)..first_difference + 8;
    panic!(
        "{context}: bodies differ at byte {first_difference} (ours {} bytes, kafka-protocol {} \
         bytes)\n  ours:           {:02x?}\n  kafka-protocol: {:02x?}",
        ours.len(),
        expected.len(),
        &ours[window.start..window.end.min(ours.len())],
        &expected[window.start..window.end.min(expected.len())],
    );
}

/// Chunks alternate memory and file, hold no empty piece, and the file chunks are exactly the
/// non-empty file regions of the partitions, in order.
fn assert_chunk_shape(chunks: &[Chunk], body: &FetchResponseBody, context: &str) {
    assert!(
        chunks.iter().all(|c| !c.is_empty()),
        "{context}: empty chunk"
    );
    for pair in chunks.windows(2) {
        assert!(
            !matches!(pair, [Chunk::Mem(_), Chunk::Mem(_)]),
            "{context}: adjacent memory chunks were not coalesced"
        );
    }
    let expected_regions: Vec<(u64, u32)> = body
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .filter_map(|p| match &p.records {
            PartitionRecords::File(r) if r.len > 0 => Some((r.position, r.len)),
            _ => None,
        })
        .collect();
    let regions: Vec<(u64, u32)> = chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::File(r) => Some((r.position, r.len)),
            Chunk::Mem(_) => None,
        })
        .collect();
    assert_eq!(regions, expected_regions, "{context}: file chunks");
}

/// Encodes `body` both ways and demands the same bytes, or an error from both.
/// Returns whether the version could carry the body.
fn assert_matches_reference(body: &FetchResponseBody, version: i16) -> bool {
    let context = format!("FetchResponse v{version}");
    match (
        encode_fetch_response(body, version),
        reference_bytes(body, version),
    ) {
        (Ok(chunks), Ok(expected)) => {
            assert_chunk_shape(&chunks, body, &context);
            assert_eq!(body_len(&chunks), expected.len(), "{context}: body_len");
            assert_same_bytes(&materialise(&chunks), &expected, &context);
            let mut copied = Vec::new();
            copy_chunks_into(&chunks, &mut copied).expect("copy chunks");
            assert_same_bytes(&copied, &expected, &format!("{context} copy_chunks_into"));
            true
        }
        (Err(_), Err(_)) => false,
        (Ok(_), Err(e)) => panic!("{context}: kafka-protocol refused ({e}) but we encoded"),
        (Err(e), Ok(_)) => panic!("{context}: kafka-protocol encoded but we refused ({e})"),
    }
}

fn assert_matches_in_every_version(body: &FetchResponseBody) {
    for version in VERSIONS {
        assert!(
            assert_matches_reference(body, version),
            "v{version} should carry this body"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn partition(index: i32, records: PartitionRecords) -> FetchPartitionResponse {
    FetchPartitionResponse {
        partition_index: index,
        high_watermark: 1_000 + i64::from(index),
        last_stable_offset: 990 + i64::from(index),
        log_start_offset: 17,
        aborted_transactions: None,
        records,
        ..FetchPartitionResponse::default()
    }
}

fn topic(name: &str, id_seed: u8, partitions: Vec<FetchPartitionResponse>) -> FetchTopicResponse {
    let mut topic_id = [0u8; 16];
    topic_id.copy_from_slice(&pattern(id_seed, 16));
    FetchTopicResponse {
        name: name.to_owned(),
        topic_id: Uuid::from_bytes(topic_id),
        partitions,
    }
}

fn body(topics: Vec<FetchTopicResponse>) -> FetchResponseBody {
    FetchResponseBody {
        throttle_time_ms: 25,
        topics,
        ..FetchResponseBody::default()
    }
}

/// Several topics × partitions: every records kind, file regions at non-zero offsets and
/// adjacent to each other, partition errors, a topic without partitions.
fn mixed_body() -> FetchResponseBody {
    let mut out_of_range = partition(4, PartitionRecords::Empty);
    out_of_range.error_code = 1; // OFFSET_OUT_OF_RANGE
    out_of_range.high_watermark = -1;
    let mut not_leader = partition(0, PartitionRecords::Empty);
    not_leader.error_code = 6; // NOT_LEADER_OR_FOLLOWER
    body(vec![
        topic(
            "orders",
            1,
            vec![
                partition(0, PartitionRecords::Mem(Bytes::from(pattern(3, 300)))),
                partition(1, file_records(&pattern(4, 1_234), 4_096)),
                partition(2, PartitionRecords::Empty),
                out_of_range,
            ],
        ),
        topic("empty-topic", 2, vec![]),
        topic(
            "payments.eu-west-1_Ω",
            3,
            vec![
                partition(7, file_records(&pattern(5, 61), 1)),
                partition(8, file_records(&pattern(6, 200_000), 123_457)),
                not_leader,
                partition(9, file_records(&pattern(7, 70), 61)),
            ],
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn no_topics_matches_in_every_version() {
    assert_matches_in_every_version(&FetchResponseBody::default());
    let throttled = FetchResponseBody {
        throttle_time_ms: i32::MAX,
        error_code: 71, // FETCH_SESSION_ID_NOT_FOUND: dropped before v7, as Kafka does
        ..FetchResponseBody::default()
    };
    assert_matches_in_every_version(&throttled);
}

#[test]
fn several_topics_and_partitions_with_every_records_kind_match_in_every_version() {
    assert_matches_in_every_version(&mixed_body());
}

#[test]
fn aborted_transactions_null_empty_and_present_match_in_every_version() {
    let with = |aborted: Option<Vec<AbortedTransaction>>, records| FetchPartitionResponse {
        aborted_transactions: aborted,
        ..partition(0, records)
    };
    let txns = vec![
        AbortedTransaction {
            producer_id: 4_000,
            first_offset: 12,
        },
        AbortedTransaction {
            producer_id: i64::MAX,
            first_offset: -1,
        },
    ];
    let body = body(vec![topic(
        "txn",
        9,
        vec![
            with(None, file_records(&pattern(1, 90), 10)),
            with(Some(vec![]), PartitionRecords::Empty),
            with(Some(txns.clone()), file_records(&pattern(2, 91), 20)),
            with(
                Some(txns),
                PartitionRecords::Mem(Bytes::from(pattern(3, 5))),
            ),
        ],
    )]);
    assert_matches_in_every_version(&body);
}

#[test]
fn partition_tagged_fields_match_set_and_unset_in_every_version() {
    let mut partitions = Vec::new();
    for combination in 0..8 {
        let mut p = partition(
            combination,
            file_records(&pattern(combination as u8, 40), 8),
        );
        if combination & 1 != 0 {
            p.diverging_epoch = EpochEndOffset {
                epoch: 5,
                end_offset: 900,
            };
        }
        if combination & 2 != 0 {
            p.current_leader = LeaderIdAndEpoch {
                leader_id: 2,
                leader_epoch: 7,
            };
        }
        if combination & 4 != 0 {
            p.snapshot_id = SnapshotId {
                end_offset: 300,
                epoch: 4,
            };
        }
        partitions.push(p);
    }
    // Half-default structs still differ from the default, so they are written.
    let mut half = partition(8, PartitionRecords::Empty);
    half.diverging_epoch.epoch = 3;
    half.current_leader.leader_epoch = 0;
    half.snapshot_id.end_offset = 0;
    partitions.push(half);
    assert_matches_in_every_version(&body(vec![topic("tagged", 4, partitions)]));
}

#[test]
fn node_endpoints_match_in_every_version_and_appear_from_v16() {
    let mut with_endpoints = mixed_body();
    with_endpoints.node_endpoints = vec![
        NodeEndpoint {
            node_id: 1,
            host: "broker-1.internal".into(),
            port: 9092,
            rack: Some("eu-west-1a".into()),
        },
        NodeEndpoint {
            node_id: 2,
            host: "10.0.0.2".into(),
            port: 19092,
            rack: None,
        },
    ];
    assert_matches_in_every_version(&with_endpoints);
    let without = body_len(&encode_fetch_response(&mixed_body(), 16).unwrap());
    let with = body_len(&encode_fetch_response(&with_endpoints, 16).unwrap());
    assert!(with > without, "v16 must carry node endpoints");
    let without = body_len(&encode_fetch_response(&mixed_body(), 15).unwrap());
    let with = body_len(&encode_fetch_response(&with_endpoints, 15).unwrap());
    assert_eq!(with, without, "v15 has no node endpoints");
}

#[test]
fn session_id_is_written_from_v7_and_refused_before() {
    let mut in_session = mixed_body();
    in_session.session_id = 0x1234_5678;
    in_session.error_code = 0;
    for version in VERSIONS {
        let carried = assert_matches_reference(&in_session, version);
        assert_eq!(carried, version >= 7, "v{version}");
    }
    assert_eq!(
        encode_fetch_response(&in_session, 6).unwrap_err(),
        FetchEncodeError::FieldNotInVersion {
            field: "session_id",
            version: 6
        }
    );
}

#[test]
fn preferred_read_replica_is_written_from_v11_and_refused_before() {
    let mut follower_fetch = mixed_body();
    follower_fetch.topics[0].partitions[1].preferred_read_replica = 3;
    for version in VERSIONS {
        let carried = assert_matches_reference(&follower_fetch, version);
        assert_eq!(carried, version >= 11, "v{version}");
    }
    assert!(matches!(
        encode_fetch_response(&follower_fetch, 10),
        Err(FetchEncodeError::FieldNotInVersion {
            field: "preferred_read_replica",
            ..
        })
    ));
}

#[test]
fn versions_outside_4_to_18_are_refused() {
    for version in [i16::MIN, -1, 0, 3, 19, i16::MAX] {
        assert_eq!(
            encode_fetch_response(&mixed_body(), version).unwrap_err(),
            FetchEncodeError::UnsupportedVersion(version)
        );
        assert!(reference_bytes(&mixed_body(), version).is_err());
    }
}

#[test]
fn chunks_alternate_memory_and_file_and_end_where_the_format_does() {
    let single = body(vec![topic(
        "t",
        1,
        vec![partition(0, file_records(&pattern(1, 10), 100))],
    )]);
    let kinds = |version| -> Vec<&'static str> {
        encode_fetch_response(&single, version)
            .unwrap()
            .iter()
            .map(|c| match c {
                Chunk::Mem(_) => "mem",
                Chunk::File(_) => "file",
            })
            .collect()
    };
    // Non-flexible versions end with the last partition's records; flexible ones with tags.
    for version in 4..=11 {
        assert_eq!(kinds(version), ["mem", "file"], "v{version}");
    }
    for version in 12..=18 {
        assert_eq!(kinds(version), ["mem", "file", "mem"], "v{version}");
    }
    // In-memory records join the surrounding memory chunk.
    let in_memory = body(vec![topic(
        "t",
        1,
        vec![partition(
            0,
            PartitionRecords::Mem(Bytes::from(pattern(1, 10))),
        )],
    )]);
    for version in VERSIONS {
        assert_eq!(encode_fetch_response(&in_memory, version).unwrap().len(), 1);
    }
}

#[test]
fn zero_length_file_region_is_an_empty_records_field() {
    let empty_region = body(vec![topic(
        "t",
        1,
        vec![partition(0, file_records(&[], 50))],
    )]);
    let empty = body(vec![topic(
        "t",
        1,
        vec![partition(0, PartitionRecords::Empty)],
    )]);
    for version in VERSIONS {
        assert!(assert_matches_reference(&empty_region, version));
        let a = materialise(&encode_fetch_response(&empty_region, version).unwrap());
        let b = materialise(&encode_fetch_response(&empty, version).unwrap());
        assert_eq!(a, b, "v{version}");
    }
}

#[test]
fn body_len_is_the_materialised_length() {
    for version in VERSIONS {
        let chunks = encode_fetch_response(&mixed_body(), version).unwrap();
        let file_bytes: usize = chunks
            .iter()
            .filter(|c| matches!(c, Chunk::File(_)))
            .map(Chunk::len)
            .sum();
        assert_eq!(file_bytes, 1_234 + 61 + 200_000 + 70, "v{version}");
        assert_eq!(body_len(&chunks), materialise(&chunks).len(), "v{version}");
    }
    assert_eq!(body_len(&[]), 0);
}

#[test]
fn topic_name_length_limits_match() {
    for len in [i16::MAX as usize, i16::MAX as usize + 1] {
        let long = body(vec![topic(&"x".repeat(len), 1, vec![])]);
        for version in VERSIONS {
            assert_matches_reference(&long, version);
        }
        let refused = encode_fetch_response(&long, 11).is_err();
        assert_eq!(refused, len > i16::MAX as usize);
    }
}

#[test]
fn records_too_long_for_the_length_prefix_are_refused() {
    // Never read: the region only has to exist for the length checks.
    let file = temp_file(b"");
    let region = |len| {
        let records = PartitionRecords::File(FileRegion {
            file: file.clone(),
            position: 0,
            len,
        });
        body(vec![topic("t", 1, vec![partition(0, records)])])
    };
    let over_i32 = region(i32::MAX as u32 + 1);
    for version in 4..=11 {
        assert!(matches!(
            encode_fetch_response(&over_i32, version),
            Err(FetchEncodeError::TooLong {
                what: "records",
                ..
            })
        ));
    }
    for version in 12..=18 {
        let chunks = encode_fetch_response(&over_i32, version).unwrap();
        assert_eq!(chunks.len(), 3);
        assert!(
            encode_fetch_response(&region(u32::MAX - 1), version).is_ok(),
            "v{version}"
        );
        assert!(
            encode_fetch_response(&region(u32::MAX), version).is_err(),
            "v{version}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Random responses
// ---------------------------------------------------------------------------------------------

/// One file shared by all random cases; regions are drawn inside it.
fn shared_file() -> &'static (Arc<File>, u64) {
    static FILE: OnceLock<(Arc<File>, u64)> = OnceLock::new();
    FILE.get_or_init(|| {
        let contents = pattern(0x5A, 64 * 1024);
        (temp_file(&contents), contents.len() as u64)
    })
}

fn arb_records() -> impl Strategy<Value = PartitionRecords> {
    let (_, file_len) = shared_file();
    prop_oneof![
        Just(PartitionRecords::Empty),
        proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(|v| PartitionRecords::Mem(Bytes::from(v))),
        (0..*file_len, 0u32..5_000).prop_map(move |(position, len)| {
            let (file, file_len) = shared_file();
            let len = len.min((file_len - position) as u32);
            PartitionRecords::File(FileRegion {
                file: file.clone(),
                position,
                len,
            })
        }),
    ]
}

fn arb_aborted() -> impl Strategy<Value = Option<Vec<AbortedTransaction>>> {
    proptest::option::of(proptest::collection::vec(
        (any::<i64>(), any::<i64>()).prop_map(|(producer_id, first_offset)| AbortedTransaction {
            producer_id,
            first_offset,
        }),
        0..4,
    ))
}

/// Mostly the default (not written), sometimes anything (written).
fn default_or<T: Clone + std::fmt::Debug + Default>(
    strategy: impl Strategy<Value = T>,
) -> impl Strategy<Value = T> {
    prop_oneof![Just(T::default()), strategy]
}

fn arb_tagged() -> impl Strategy<Value = (EpochEndOffset, LeaderIdAndEpoch, SnapshotId)> {
    (
        default_or(
            (any::<i32>(), any::<i64>())
                .prop_map(|(epoch, end_offset)| EpochEndOffset { epoch, end_offset }),
        ),
        default_or(
            (any::<i32>(), any::<i32>()).prop_map(|(leader_id, leader_epoch)| LeaderIdAndEpoch {
                leader_id,
                leader_epoch,
            }),
        ),
        default_or(
            (any::<i64>(), any::<i32>())
                .prop_map(|(end_offset, epoch)| SnapshotId { end_offset, epoch }),
        ),
    )
}

fn arb_partition() -> impl Strategy<Value = FetchPartitionResponse> {
    (
        (any::<i32>(), any::<i16>()),
        (any::<i64>(), any::<i64>(), any::<i64>()),
        arb_aborted(),
        prop_oneof![4 => Just(-1), 1 => any::<i32>()],
        arb_tagged(),
        arb_records(),
    )
        .prop_map(
            |(
                (partition_index, error_code),
                (high_watermark, last_stable_offset, log_start_offset),
                aborted_transactions,
                preferred_read_replica,
                (diverging_epoch, current_leader, snapshot_id),
                records,
            )| FetchPartitionResponse {
                partition_index,
                error_code,
                high_watermark,
                last_stable_offset,
                log_start_offset,
                aborted_transactions,
                preferred_read_replica,
                diverging_epoch,
                current_leader,
                snapshot_id,
                records,
            },
        )
}

fn arb_topic() -> impl Strategy<Value = FetchTopicResponse> {
    (
        "\\PC{0,16}",
        any::<[u8; 16]>(),
        proptest::collection::vec(arb_partition(), 0..5),
    )
        .prop_map(|(name, topic_id, partitions)| FetchTopicResponse {
            name,
            topic_id: Uuid::from_bytes(topic_id),
            partitions,
        })
}

fn arb_endpoint() -> impl Strategy<Value = NodeEndpoint> {
    (
        any::<i32>(),
        "\\PC{0,20}",
        any::<i32>(),
        proptest::option::of("\\PC{0,8}"),
    )
        .prop_map(|(node_id, host, port, rack)| NodeEndpoint {
            node_id,
            host,
            port,
            rack,
        })
}

fn arb_body() -> impl Strategy<Value = FetchResponseBody> {
    (
        any::<i32>(),
        any::<i16>(),
        prop_oneof![3 => Just(0), 1 => any::<i32>()],
        proptest::collection::vec(arb_topic(), 0..4),
        proptest::collection::vec(arb_endpoint(), 0..3),
    )
        .prop_map(
            |(throttle_time_ms, error_code, session_id, topics, node_endpoints)| {
                FetchResponseBody {
                    throttle_time_ms,
                    error_code,
                    session_id,
                    topics,
                    node_endpoints,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn random_responses_match_kafka_protocol(body in arb_body(), version in 4i16..=18) {
        assert_matches_reference(&body, version);
    }
}
