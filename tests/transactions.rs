//! Transactions over the wire, request by request: the coordinator's answers and error codes,
//! the checks on transactional Produce, read_committed Fetch and ListOffsets, pending
//! transactional offsets, and the state after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use bytes::Bytes;
use common::*;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use vltava::log::{BatchOptions, NewRecord, build_batch};

const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
const PRODUCER_FENCED: i16 = 90;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const OPERATION_NOT_ATTEMPTED: i16 = 55;
const UNSTABLE_OFFSET_COMMIT: i16 = 88;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
const TRANSACTION_ABORTABLE: i16 = 120;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn txn_batch(values: &[&str], pid: i64, epoch: i16, seq: i32) -> Bytes {
    let records: Vec<NewRecord> = values
        .iter()
        .map(|v| NewRecord {
            key: Some(v.as_bytes().to_vec()),
            value: Some(v.as_bytes().to_vec()),
            headers: vec![],
            timestamp_ms: vltava::broker::now_ms(),
        })
        .collect();
    let options = BatchOptions {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional: true,
        ..BatchOptions::default()
    };
    Bytes::from(build_batch(&records, &options).unwrap())
}

async fn init(c: &mut Client, id: &str, timeout_ms: i32, version: i16) -> (i16, i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let ResponseKind::InitProducerId(r) = c.call(version, RequestKind::InitProducerId(req)).await
    else {
        panic!()
    };
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

/// Per-partition codes of AddPartitionsToTxn v3.
async fn add(
    c: &mut Client,
    id: &str,
    pid: i64,
    epoch: i16,
    partitions: &[(&str, i32)],
    version: i16,
) -> Vec<(String, i32, i16)> {
    let topics = partitions
        .iter()
        .map(|(t, p)| {
            AddPartitionsToTxnTopic::default()
                .with_name(name(t))
                .with_partitions(vec![*p])
        })
        .collect();
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(id)))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(topics);
    let ResponseKind::AddPartitionsToTxn(r) =
        c.call(version, RequestKind::AddPartitionsToTxn(req)).await
    else {
        panic!()
    };
    let mut out: Vec<(String, i32, i16)> = r
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition.iter().map(|p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.partition_error_code,
                )
            })
        })
        .collect();
    out.sort();
    out
}

async fn end(
    c: &mut Client,
    id: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
    v: i16,
) -> EndTxnResponse {
    let req = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(id)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let ResponseKind::EndTxn(r) = c.call(v, RequestKind::EndTxn(req)).await else {
        panic!()
    };
    r
}

async fn produce_txn(c: &mut Client, id: Option<&str>, topic: &str, records: Bytes, v: i16) -> i16 {
    let req = ProduceRequest::default()
        .with_transactional_id(id.map(|i| TransactionalId(s(i))))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    let ResponseKind::Produce(r) = c.call(v, RequestKind::Produce(req)).await else {
        panic!()
    };
    r.responses[0].partition_responses[0].error_code
}

/// read_committed Fetch v12 from offset 0: (high watermark, LSO, aborted (pid, first), keys).
async fn fetch_committed(c: &mut Client, topic: &str) -> (i64, i64, Vec<(i64, i64)>, Vec<String>) {
    let RequestKind::Fetch(req) = fetch_request(topic, 0, 0) else {
        panic!()
    };
    let req = req.with_isolation_level(1);
    let ResponseKind::Fetch(r) = c.call(12, RequestKind::Fetch(req)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let aborted = p
        .aborted_transactions
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    let mut records = whole_batches(p.records.clone().unwrap_or_default());
    let keys = RecordBatchDecoder::decode_all(&mut records)
        .unwrap()
        .into_iter()
        .flat_map(|b| b.records)
        .filter(|r| !r.control)
        .map(|r| String::from_utf8(r.key.unwrap().to_vec()).unwrap())
        .collect();
    (p.high_watermark, p.last_stable_offset, aborted, keys)
}

async fn latest(c: &mut Client, topic: &str, isolation: i8) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation)
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(-1),
                ]),
        ]);
    let ResponseKind::ListOffsets(r) = c.call(7, RequestKind::ListOffsets(req)).await else {
        panic!()
    };
    r.topics[0].partitions[0].offset
}

#[tokio::test]
async fn init_producer_id_bumps_fences_and_checks_the_timeout() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let (code, pid, epoch) = init(&mut c, "t1", 60_000, 4).await;
    assert_eq!((code, epoch), (0, 0));
    assert!(pid >= 0);
    assert_eq!(init(&mut c, "t1", 60_000, 4).await, (0, pid, 1));
    // Above transaction.max.timeout.ms (900000).
    assert_eq!(
        init(&mut c, "t1", 900_001, 4).await.0,
        INVALID_TRANSACTION_TIMEOUT
    );
    // The fenced epoch: PRODUCER_FENCED from v2 of AddPartitionsToTxn, INVALID_PRODUCER_EPOCH
    // below.
    create(&mut c, "f", &[]).await;
    assert_eq!(
        add(&mut c, "t1", pid, 0, &[("f", 0)], 3).await,
        vec![("f".into(), 0, PRODUCER_FENCED)]
    );
    assert_eq!(
        add(&mut c, "t1", pid, 0, &[("f", 0)], 1).await,
        vec![("f".into(), 0, INVALID_PRODUCER_EPOCH)]
    );
    // Another id gets another producer id.
    let (_, other, _) = init(&mut c, "t2", 60_000, 4).await;
    assert_ne!(other, pid);
    broker.stop().await;
}

#[tokio::test]
async fn an_aborted_transaction_is_invisible_to_read_committed() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "t", &[]).await;
    let (_, pid, epoch) = init(&mut c, "tx", 60_000, 4).await;
    // A transactional batch without a transactional id, and one for a partition not added:
    // TRANSACTION_ABORTABLE from v11, which knows it, INVALID_TXN_STATE below.
    assert_eq!(
        produce_txn(&mut c, None, "t", txn_batch(&["a"], pid, epoch, 0), 11).await,
        TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
    for (version, code) in [(11, TRANSACTION_ABORTABLE), (10, INVALID_TXN_STATE)] {
        assert_eq!(
            produce_txn(
                &mut c,
                Some("tx"),
                "t",
                txn_batch(&["a"], pid, epoch, 0),
                version
            )
            .await,
            code
        );
    }
    // An unknown partition fails the whole add.
    assert_eq!(
        add(&mut c, "tx", pid, epoch, &[("t", 0), ("nope", 0)], 3).await,
        vec![
            ("nope".into(), 0, UNKNOWN_TOPIC_OR_PARTITION),
            ("t".into(), 0, OPERATION_NOT_ATTEMPTED)
        ]
    );
    assert_eq!(
        add(&mut c, "tx", pid, epoch, &[("t", 0)], 3).await,
        vec![("t".into(), 0, 0)]
    );
    assert_eq!(
        produce_txn(
            &mut c,
            Some("tx"),
            "t",
            txn_batch(&["a1", "a2"], pid, epoch, 0),
            11
        )
        .await,
        0
    );
    // Open: read_committed stops at the transaction's first offset.
    assert_eq!(fetch_committed(&mut c, "t").await, (2, 0, vec![], vec![]));
    assert_eq!(latest(&mut c, "t", 1).await, 0);
    assert_eq!(latest(&mut c, "t", 0).await, 2);
    let r = end(&mut c, "tx", pid, epoch, false, 4).await;
    assert_eq!(r.error_code, 0);
    // Decided: the marker at 2, the aborted transaction listed from offset 0.
    let (hw, lso, aborted, _) = fetch_committed(&mut c, "t").await;
    assert_eq!((hw, lso, aborted), (3, 3, vec![(pid, 0)]));
    assert_eq!(latest(&mut c, "t", 1).await, 3);
    // The next transaction commits (transaction version 2: Produce v12 adds the partition,
    // EndTxn v5 bumps the epoch and says so).
    assert_eq!(
        produce_txn(
            &mut c,
            Some("tx"),
            "t",
            txn_batch(&["c1"], pid, epoch, 2),
            12
        )
        .await,
        0
    );
    let r = end(&mut c, "tx", pid, epoch, true, 5).await;
    assert_eq!(
        (r.error_code, r.producer_id.0, r.producer_epoch),
        (0, pid, epoch + 1)
    );
    let (hw, lso, aborted, keys) = fetch_committed(&mut c, "t").await;
    assert_eq!((hw, lso), (5, 5));
    assert_eq!(aborted, vec![(pid, 0)]);
    // The consumer drops a1/a2 with the aborted list; c1 is there.
    assert!(keys.contains(&"c1".to_string()));
    // A retry of that EndTxn with the old epoch answers the same.
    let r = end(&mut c, "tx", pid, epoch, true, 5).await;
    assert_eq!((r.error_code, r.producer_epoch), (0, epoch + 1));
    broker.stop().await;
}

#[tokio::test]
async fn transactional_offsets_are_pending_until_the_commit_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    create(&mut c, "in", &[]).await;
    let (_, pid, epoch) = init(&mut c, "tx", 60_000, 4).await;
    let req = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(s("g")));
    let ResponseKind::AddOffsetsToTxn(r) = c.call(3, RequestKind::AddOffsetsToTxn(req)).await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s("g")))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![
            TxnOffsetCommitRequestTopic::default()
                .with_name(name("in"))
                .with_partitions(vec![
                    TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(42),
                ]),
        ]);
    let ResponseKind::TxnOffsetCommit(r) = c.call(3, RequestKind::TxnOffsetCommit(commit)).await
    else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let fetch = |stable: bool| {
        RequestKind::OffsetFetch(
            OffsetFetchRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_require_stable(stable)
                .with_topics(Some(vec![
                    OffsetFetchRequestTopic::default()
                        .with_name(name("in"))
                        .with_partition_indexes(vec![0]),
                ])),
        )
    };
    let offset = |r: ResponseKind| {
        let ResponseKind::OffsetFetch(r) = r else {
            panic!()
        };
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.committed_offset)
    };
    assert_eq!(
        offset(c.call(7, fetch(true)).await),
        (UNSTABLE_OFFSET_COMMIT, -1)
    );
    assert_eq!(offset(c.call(7, fetch(false)).await), (0, -1));
    // The transaction is still open across a restart: the coordinator finds it Ongoing.
    broker.stop().await;
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    let req = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(s("tx"))]);
    let ResponseKind::DescribeTransactions(r) =
        c.call(0, RequestKind::DescribeTransactions(req)).await
    else {
        panic!()
    };
    let t = &r.transaction_states[0];
    assert_eq!(
        (t.error_code, t.transaction_state.as_str(), t.producer_id.0),
        (0, "Ongoing", pid)
    );
    assert_eq!(t.topics[0].topic.as_str(), "__consumer_offsets");
    assert_eq!(
        offset(c.call(7, fetch(true)).await),
        (UNSTABLE_OFFSET_COMMIT, -1)
    );
    assert_eq!(end(&mut c, "tx", pid, epoch, true, 3).await.error_code, 0);
    assert_eq!(offset(c.call(7, fetch(true)).await), (0, 42));
    // And the committed offset survives another restart.
    broker.stop().await;
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(offset(c.call(7, fetch(true)).await), (0, 42));
    let req = ListTransactionsRequest::default();
    let ResponseKind::ListTransactions(r) = c.call(1, RequestKind::ListTransactions(req)).await
    else {
        panic!()
    };
    let listed: Vec<_> = r
        .transaction_states
        .iter()
        .map(|t| {
            (
                t.transactional_id.to_string(),
                t.transaction_state.to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![("tx".to_string(), "CompleteCommit".to_string())]
    );
    broker.stop().await;
}

/// DescribeTransactions' error for one transactional id.
async fn describe_error(c: &mut Client, id: &str) -> i16 {
    let req =
        DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(s(id))]);
    let ResponseKind::DescribeTransactions(r) =
        c.call(0, RequestKind::DescribeTransactions(req)).await
    else {
        panic!()
    };
    r.transaction_states[0].error_code
}

#[tokio::test]
async fn idle_transactional_ids_expire_and_stay_gone_after_a_restart() {
    const NOT_FOUND: i16 = kafka_protocol::ResponseError::TransactionalIdNotFound.code();
    let dir = tempfile::tempdir().unwrap();
    let settings = [
        ("transactional.id.expiration.ms", "300"),
        (
            "transaction.remove.expired.transaction.cleanup.interval.ms",
            "100",
        ),
    ];
    let broker = TestBroker::start_with(&settings, false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    let (err, pid, _) = init(&mut c, "idle", 60_000, 4).await;
    assert_eq!(err, 0);
    assert_eq!(describe_error(&mut c, "idle").await, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while describe_error(&mut c, "idle").await != NOT_FOUND {
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The tombstone is durable: the id does not come back from `__transaction_state`.
    broker.stop().await;
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(describe_error(&mut c, "idle").await, NOT_FOUND);
    // The id is usable again, with a new producer id.
    let (err, pid2, epoch) = init(&mut c, "idle", 60_000, 4).await;
    assert_eq!((err, epoch), (0, 0));
    assert_ne!(pid2, pid);
}
