//! Produce and Fetch semantics over the wire: idempotence, validation errors, acks=0,
//! long-poll wake-up on append, LogAppendTime, and durability across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Client, TestBroker, batch, create, fetch, fetch_request, produce, produce_request};
use kafka_protocol::messages::*;
use kafka_protocol::records::RecordBatchDecoder;

#[tokio::test]
async fn idempotent_retries_and_sequence_gaps() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "idem", &[]).await;
    let pid = 7;
    assert_eq!(
        produce(&mut c, "idem", batch(&["a", "b"], Some((pid, 0, 0))))
            .await
            .0,
        0
    );
    assert_eq!(
        produce(&mut c, "idem", batch(&["c"], Some((pid, 0, 2))))
            .await
            .1,
        2
    );
    // A retry of the first batch is acknowledged with its original offset and not written.
    let (code, base, _) = produce(&mut c, "idem", batch(&["a", "b"], Some((pid, 0, 0)))).await;
    assert_eq!((code, base), (0, 0));
    // A gap in sequence numbers.
    let (code, _, _) = produce(&mut c, "idem", batch(&["z"], Some((pid, 0, 9)))).await;
    assert_eq!(code, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER");
    // An older epoch is fenced.
    assert_eq!(
        produce(&mut c, "idem", batch(&["d"], Some((pid, 1, 0))))
            .await
            .0,
        0
    );
    assert_eq!(
        produce(&mut c, "idem", batch(&["e"], Some((pid, 0, 3))))
            .await
            .0,
        47
    );
    let (code, hw, values) = fetch(&mut c, "idem", 0, 0).await;
    assert_eq!((code, hw), (0, 4));
    let got: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(got, vec!["a", "b", "c", "d"]);
    broker.stop().await;
}

#[tokio::test]
async fn validation_errors_are_kafkas() {
    let broker = TestBroker::start(&[("message.max.bytes", "2000")]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "v", &[]).await;
    // CRC mismatch.
    let mut bad = batch(&["hello"], None).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert_eq!(
        produce(&mut c, "v", Bytes::from(bad)).await.0,
        2,
        "CORRUPT_MESSAGE"
    );
    // Too large for message.max.bytes.
    let big = "x".repeat(5000);
    assert_eq!(
        produce(&mut c, "v", batch(&[&big], None)).await.0,
        10,
        "MESSAGE_TOO_LARGE"
    );
    // A batch claiming a non-zero base offset.
    let mut shifted = batch(&["x"], None).to_vec();
    shifted[7] = 5;
    assert_eq!(
        produce(&mut c, "v", Bytes::from(shifted)).await.0,
        87,
        "INVALID_RECORD"
    );
    // Unknown partition, bad acks.
    let ResponseKind::Produce(r) = c
        .call(9, produce_request("v", 2, batch(&["x"], None)))
        .await
    else {
        panic!()
    };
    assert_eq!(
        r.responses[0].partition_responses[0].error_code, 21,
        "INVALID_REQUIRED_ACKS"
    );
    // Nothing above was written.
    assert_eq!(fetch(&mut c, "v", 0, 0).await.1, 0);
    // Out-of-range fetch offsets.
    assert_eq!(fetch(&mut c, "v", 1, 0).await.0, 1);
    assert_eq!(fetch(&mut c, "v", -1, 0).await.0, 1);
    broker.stop().await;
}

#[tokio::test]
async fn acks_zero_gets_no_response() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "fire", &[]).await;
    c.send(
        ApiKey::Produce,
        9,
        &produce_request("fire", 0, batch(&["1"], None)),
    )
    .await;
    // The next response on this connection must belong to the next request.
    let (code, hw, values) = fetch(&mut c, "fire", 0, 0).await;
    assert_eq!((code, hw, values.len()), (0, 1, 1));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_fetch_wakes_on_append() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "poll", &[]).await;
    let addr = broker.addr;
    let started = Instant::now();
    let waiter = tokio::spawn(async move {
        let mut c = Client::connect(addr).await;
        fetch(&mut c, "poll", 0, 60_000).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiter.is_finished(),
        "nothing to return yet: the fetch waits"
    );
    produce(&mut c, "poll", batch(&["wake"], None)).await;
    let (code, _, values) = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(values, vec![(0, "wake".to_string())]);
    // Woken by the append, far before max_wait_ms (60 s).
    assert!(started.elapsed() < Duration::from_secs(30));
    broker.stop().await;
}

#[tokio::test]
async fn log_append_time_topics_stamp_the_broker_time() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(
        &mut c,
        "lat",
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let before = vltava::broker::now_ms();
    let (code, _, append_time) = produce(&mut c, "lat", batch(&["t"], None)).await;
    assert_eq!(code, 0);
    assert!(append_time >= before, "log_append_time_ms is set");
    // The stored batch carries it, with a valid CRC (the decoder checks it).
    let ResponseKind::Fetch(r) = c.call(12, fetch_request("lat", 0, 0)).await else {
        panic!()
    };
    let raw = r.responses[0].partitions[0].records.clone().unwrap();
    // Consumers read a LogAppendTime batch's time from its maxTimestamp (bytes 35..43); the
    // records keep the producer's own timestamps, which the decoder below reports.
    let max_timestamp = i64::from_be_bytes(raw[35..43].try_into().unwrap());
    assert_eq!(max_timestamp, append_time);
    let attributes = i16::from_be_bytes(raw[21..23].try_into().unwrap());
    assert_eq!(
        attributes & 0x08,
        0x08,
        "the LogAppendTime attribute is set"
    );
    let mut records = raw;
    let batches = RecordBatchDecoder::decode_all(&mut records).unwrap();
    assert_eq!(batches[0].records[0].value.as_deref(), Some(&b"t"[..]));
    broker.stop().await;
}

#[tokio::test]
async fn data_and_producer_state_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "durable", &[]).await;
    for i in 0..10 {
        let v = format!("v{i}");
        assert_eq!(
            produce(&mut c, "durable", batch(&[&v], Some((3, 0, i)))).await,
            (0, i as i64, -1)
        );
    }
    broker.stop().await;
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    // A retry of the last batch after the restart is still recognised.
    assert_eq!(
        produce(&mut c, "durable", batch(&["v9"], Some((3, 0, 9))))
            .await
            .1,
        9
    );
    assert_eq!(
        produce(&mut c, "durable", batch(&["v10"], Some((3, 0, 10))))
            .await
            .1,
        10
    );
    let (_, hw, values) = fetch(&mut c, "durable", 0, 0).await;
    assert_eq!(hw, 11);
    let expected: Vec<(i64, String)> = (0..11).map(|i| (i, format!("v{i}"))).collect();
    assert_eq!(values, expected);
    broker.stop().await;
}

#[tokio::test]
async fn topic_compression_type_recompresses_batches() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "zipped", &[("compression.type", "gzip")]).await;
    create(&mut c, "as-sent", &[]).await;
    for topic in ["zipped", "as-sent"] {
        assert_eq!(
            produce(&mut c, topic, batch(&["one", "two"], Some((11, 0, 0))))
                .await
                .0,
            0
        );
        let ResponseKind::Fetch(r) = c.call(12, fetch_request(topic, 0, 0)).await else {
            panic!()
        };
        let records = r.responses[0].partitions[0].records.clone().unwrap();
        // Attributes (bytes 21-22 of the batch): codec in the low three bits.
        let codec = records[22] & 0x07;
        assert_eq!(codec, if topic == "zipped" { 1 } else { 0 }, "{topic}");
        let mut records = records;
        let batches = RecordBatchDecoder::decode_all(&mut records).unwrap();
        let values: Vec<_> = batches[0]
            .records
            .iter()
            .map(|r| r.value.clone().unwrap())
            .collect();
        assert_eq!(values, vec![Bytes::from("one"), Bytes::from("two")]);
        assert_eq!(
            batches[0].records[0].producer_id, 11,
            "idempotence fields survive recompression"
        );
    }
    broker.stop().await;
}

/// A batch of `keys.len()` records (a `None` key is a keyless record), compressed with `codec`.
fn keyed_batch(keys: &[Option<&str>], codec: vltava::log::Compression) -> Bytes {
    let records: Vec<vltava::log::NewRecord> = keys
        .iter()
        .map(|k| vltava::log::NewRecord {
            key: k.map(|k| k.as_bytes().to_vec()),
            value: Some(b"v".to_vec()),
            headers: vec![],
            timestamp_ms: vltava::broker::now_ms(),
        })
        .collect();
    let options = vltava::log::BatchOptions {
        compression: codec,
        ..Default::default()
    };
    Bytes::from(vltava::log::build_batch(&records, &options).unwrap())
}

async fn produce_at(
    c: &mut Client,
    version: i16,
    topic: &str,
    records: Bytes,
) -> produce_response::PartitionProduceResponse {
    let ResponseKind::Produce(r) = c.call(version, produce_request(topic, -1, records)).await
    else {
        panic!()
    };
    r.responses[0].partition_responses[0].clone()
}

/// Kafka 4.4's Produce answers beyond the error code: the log start offset of a partition whose
/// batch the log refused (-1 for request-level refusals and corrupt batches), every keyless
/// record of a compacted topic with the partition named, zstd refused before v7, and a duplicate
/// idempotent batch's kept timestamp.
#[tokio::test]
async fn produce_errors_carry_what_kafka_44_sends() {
    use vltava::log::Compression;
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "compacted", &[("cleanup.policy", "compact")]).await;
    create(&mut c, "plain", &[]).await;

    let mut keys: Vec<Option<&str>> = vec![Some("k"); 25];
    for i in [0, 10, 20, 24] {
        keys[i] = None;
    }
    let r = produce_at(
        &mut c,
        9,
        "compacted",
        keyed_batch(&keys, Compression::None),
    )
    .await;
    assert_eq!((r.error_code, r.log_start_offset), (87, 0));
    let why = "Compacted topic cannot accept message without key in topic partition compacted-0";
    let errors: Vec<(i32, Option<&str>)> = r
        .record_errors
        .iter()
        .map(|e| (e.batch_index, e.batch_index_error_message.as_deref()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (0, Some(why)),
            (10, Some(why)),
            (20, Some(why)),
            (24, Some(why))
        ],
        "every keyless record, not only three"
    );
    assert_eq!(
        r.error_message.as_deref(),
        Some(
            format!(
                "One or more records have been rejected due to 4 record errors in total, and only \
                 showing the first three errors at most: [RecordError(batchIndex=0, message='{why}'), \
                 RecordError(batchIndex=10, message='{why}'), RecordError(batchIndex=20, \
                 message='{why}')]"
            )
            .as_str()
        )
    );

    // A corrupt batch is refused before the log: no log start offset.
    let mut bad = batch(&["x"], None).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let r = produce_at(&mut c, 9, "plain", Bytes::from(bad)).await;
    assert_eq!((r.error_code, r.log_start_offset), (2, -1));
    // An idempotent batch out of sequence is refused by the log: the log start offset.
    create(&mut c, "sequenced", &[]).await;
    let r = produce_at(&mut c, 9, "sequenced", batch(&["x"], Some((3, 0, 0)))).await;
    assert_eq!(r.error_code, 0);
    let r = produce_at(&mut c, 9, "sequenced", batch(&["x"], Some((3, 0, 5)))).await;
    assert_eq!((r.error_code, r.log_start_offset), (45, 0));

    // zstd needs Produce v7 (KIP-110).
    let zstd = keyed_batch(&[Some("a")], Compression::Zstd);
    for v in 3..=6 {
        let r = produce_at(&mut c, v, "plain", zstd.clone()).await;
        assert_eq!(
            (r.error_code, r.base_offset, r.log_start_offset),
            (76, -1, -1),
            "v{v}"
        );
    }
    let r = produce_at(&mut c, 7, "plain", zstd).await;
    assert_eq!((r.error_code, r.base_offset), (0, 0));

    // A duplicate idempotent batch answers with the timestamp kept for it, on a CreateTime topic.
    let first = batch(&["a"], Some((8, 0, 0)));
    let max_timestamp = i64::from_be_bytes(first[35..43].try_into().unwrap());
    let r = produce_at(&mut c, 9, "plain", first.clone()).await;
    assert_eq!((r.error_code, r.log_append_time_ms), (0, -1));
    let r = produce_at(&mut c, 9, "plain", first).await;
    assert_eq!((r.error_code, r.base_offset), (0, 1));
    assert_eq!(r.log_append_time_ms, max_timestamp);
    broker.stop().await;
}

/// Kafka 4.4's Fetch answers: an empty aborted-transaction list for a partition refused before
/// reading, and OFFSET_OUT_OF_RANGE for a last fetched epoch the leader never had.
#[tokio::test]
async fn fetch_errors_carry_what_kafka_44_sends() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "f", &[]).await;
    assert_eq!(produce(&mut c, "f", batch(&["a", "b"], None)).await.0, 0);
    let request = |partition: i32, last_fetched_epoch: i32| {
        let RequestKind::Fetch(r) = fetch_request("f", 0, 0) else {
            panic!()
        };
        let mut r = r;
        r.topics[0].partitions[0].partition = partition;
        r.topics[0].partitions[0].last_fetched_epoch = last_fetched_epoch;
        RequestKind::Fetch(r)
    };
    let ResponseKind::Fetch(r) = c.call(12, request(5, -1)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 3);
    assert_eq!(p.aborted_transactions.as_deref(), Some(&[][..]));
    // The leader's epoch is 0: epoch 3 is ahead of it.
    let ResponseKind::Fetch(r) = c.call(12, request(0, 3)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.high_watermark, p.log_start_offset),
        (1, -1, -1)
    );
    // Its own epoch is fine, and a read_uncommitted answer keeps a null list.
    let ResponseKind::Fetch(r) = c.call(12, request(0, 0)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (0, 2));
    assert_eq!(p.aborted_transactions, None);
    broker.stop().await;
}

/// Kafka 4.4's ListOffsets: a timestamp code the request's version does not know is
/// UNSUPPORTED_VERSION for that partition; a partition named twice gets one INVALID_REQUEST
/// result, and a topic named twice one entry.
#[tokio::test]
async fn list_offsets_codes_need_their_versions() {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "lo", &[]).await;
    assert_eq!(produce(&mut c, "lo", batch(&["a"], None)).await.0, 0);
    let list = |topics: Vec<(&str, Vec<(i32, i64)>)>| {
        RequestKind::ListOffsets(
            ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, parts)| {
                            ListOffsetsTopic::default()
                                .with_name(common::name(t))
                                .with_partitions(
                                    parts
                                        .into_iter()
                                        .map(|(p, ts)| {
                                            ListOffsetsPartition::default()
                                                .with_partition_index(p)
                                                .with_timestamp(ts)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
        )
    };
    for (version, timestamp, code) in [
        (6, -3, 35),
        (7, -3, 0),
        (7, -4, 35),
        (8, -4, 0),
        (8, -5, 35),
        (9, -5, 0),
        (10, -6, 35),
        (10, -7, 35),
        (10, -100, 35),
    ] {
        let ResponseKind::ListOffsets(r) = c
            .call(version, list(vec![("lo", vec![(0, timestamp)])]))
            .await
        else {
            panic!()
        };
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, code, "v{version} timestamp {timestamp}");
        if code != 0 {
            assert_eq!((p.offset, p.timestamp), (-1, -1));
        }
    }
    let ResponseKind::ListOffsets(r) = c
        .call(
            10,
            list(vec![("lo", vec![(0, -1), (0, -2)]), ("lo", vec![(1, -1)])]),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.topics.len(), 1, "one entry per topic");
    let answers: Vec<(i32, i16)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    assert_eq!(answers, vec![(0, 42), (1, 3)]);
    broker.stop().await;
}
