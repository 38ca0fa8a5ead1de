//! Topic configs enforced by the broker's background threads, seen over the wire: `retention.ms`
//! moving the earliest offset, `retention.bytes` bounding a partition, compaction keeping the
//! latest value per key and tombstones vanishing after `delete.retention.ms`, keyless records
//! refused on compacted topics, and a config change taking effect on a live topic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod admin_util;
mod common;

use std::collections::BTreeMap;

use admin_util::*;
use common::{Client, TestBroker};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::*;

const HOUR: i64 = 3_600_000;
/// Fast background threads for tests (Kafka's defaults are minutes).
const FAST: &[(&str, &str)] = &[
    ("log.retention.check.interval.ms", "50"),
    ("log.cleaner.backoff.ms", "50"),
];

async fn partition_size(c: &mut Client, topic: &str) -> i64 {
    let req = DescribeLogDirsRequest::default().with_topics(Some(vec![
        DescribableLogDirTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![0]),
    ]));
    let ResponseKind::DescribeLogDirs(r) = c.call(4, RequestKind::DescribeLogDirs(req)).await
    else {
        panic!()
    };
    r.results[0].topics[0].partitions[0].partition_size
}

#[tokio::test]
async fn retention_ms_moves_the_earliest_offset() {
    let broker = TestBroker::start(FAST).await;
    let mut c = Client::connect(broker.addr).await;
    // segment.ms 100 with timestamps 200 ms apart: every batch starts a new segment.
    assert_eq!(
        create_topic(
            &mut c,
            "rt",
            1,
            &[("retention.ms", "600000"), ("segment.ms", "100")]
        )
        .await,
        0
    );
    let old = vltava::broker::now_ms() - HOUR;
    for i in 0..20 {
        let v = format!("old-{i}");
        let (code, _) = produce(
            &mut c,
            "rt",
            0,
            batch(&[(Some("k"), Some(&v))], old + i * 200),
        )
        .await;
        assert_eq!(code, 0);
    }
    let now = vltava::broker::now_ms();
    for i in 0..3 {
        let v = format!("new-{i}");
        let (code, _) = produce(
            &mut c,
            "rt",
            0,
            batch(&[(Some("k"), Some(&v))], now + i * 200),
        )
        .await;
        assert_eq!(code, 0);
    }
    // Hour-old records are past ten minutes of retention; the fresh ones stay.
    assert!(
        eventually(10, || async {
            let mut c = Client::connect(broker.addr).await;
            list_offset(&mut c, "rt", 0, -2).await == 20
        })
        .await,
        "the old segments go, the earliest offset moves to the first new record"
    );
    let records = read_all(&mut c, "rt", 0).await;
    let values: Vec<String> = records.into_iter().map(|r| r.2.unwrap()).collect();
    assert_eq!(values, vec!["new-0", "new-1", "new-2"]);
    assert_eq!(list_offset(&mut c, "rt", 0, -1).await, 23);

    // Lowering retention.ms on the live topic removes the rest too (the active segment rolls).
    let (code, _) = incremental_alter(
        &mut c,
        TOPIC,
        "rt",
        &[("retention.ms", SET, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        eventually(10, || async {
            let mut c = Client::connect(broker.addr).await;
            list_offset(&mut c, "rt", 0, -2).await == 23
        })
        .await
    );
    assert_eq!(
        list_offset(&mut c, "rt", 0, -1).await,
        23,
        "the log end survives"
    );
    broker.stop().await;
}

#[tokio::test]
async fn retention_bytes_bounds_a_partition_under_load() {
    let broker = TestBroker::start(FAST).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create_topic(
            &mut c,
            "rb",
            1,
            &[("retention.bytes", "60000"), ("segment.ms", "100")]
        )
        .await,
        0
    );
    let base = vltava::broker::now_ms() - HOUR;
    let value = "x".repeat(10_000);
    let mut max_seen = 0;
    for i in 0..60 {
        let (code, _) = produce(
            &mut c,
            "rb",
            0,
            batch(&[(Some("k"), Some(value.as_str()))], base + i * 200),
        )
        .await;
        assert_eq!(code, 0);
        if i % 10 == 9 {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            max_seen = max_seen.max(partition_size(&mut c, "rb").await);
        }
    }
    // Whole segments go while the rest stays at or above the limit: the size settles within
    // one segment (one batch here) above retention.bytes.
    assert!(
        eventually(10, || async {
            let mut c = Client::connect(broker.addr).await;
            partition_size(&mut c, "rb").await < 60_000 + 10_100
        })
        .await
    );
    let size = partition_size(&mut c, "rb").await;
    assert!(size >= 60_000, "{size}");
    // Between checks the log grows by at most what was written since the last one.
    assert!(max_seen < 60_000 + 11 * 10_100, "{max_seen}");
    let earliest = list_offset(&mut c, "rb", 0, -2).await;
    assert!((53..=55).contains(&earliest), "{earliest}");
    broker.stop().await;
}

#[tokio::test]
async fn compaction_keeps_the_latest_value_per_key_and_drops_tombstones() {
    let broker = TestBroker::start(FAST).await;
    let mut c = Client::connect(broker.addr).await;
    assert_eq!(
        create_topic(
            &mut c,
            "cmp",
            1,
            &[
                ("cleanup.policy", "compact"),
                ("segment.ms", "100"),
                ("min.cleanable.dirty.ratio", "0.01"),
                ("delete.retention.ms", "1500"),
            ],
        )
        .await,
        0
    );
    let mut ts = vltava::broker::now_ms() - HOUR;
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for round in 0..40 {
        for chunk in 0..5 {
            let recs: Vec<(String, String)> = (0..10)
                .map(|k| {
                    let key = format!("key-{}", chunk * 10 + k);
                    let value = format!("{key}@{round}");
                    (key, value)
                })
                .collect();
            let borrowed: Vec<(Option<&str>, Option<&str>)> = recs
                .iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
                .collect();
            ts += 200;
            let (code, _) = produce(&mut c, "cmp", 0, batch(&borrowed, ts)).await;
            assert_eq!(code, 0);
            latest.extend(recs);
        }
    }
    // Records without keys are refused on a compacted topic.
    let (code, _) = produce(&mut c, "cmp", 0, batch(&[(None, Some("no key"))], ts)).await;
    assert_eq!(code, 87, "INVALID_RECORD");
    assert_eq!(list_offset(&mut c, "cmp", 0, -1).await, 2000);

    // The cleaner runs in the background; a reader from the start then sees the latest value
    // of every key, and little else (only the active segment can still hold older ones).
    assert!(
        eventually(20, || async {
            let mut c = Client::connect(broker.addr).await;
            read_all(&mut c, "cmp", 0).await.len() <= 60
        })
        .await,
        "compacted"
    );
    let records = read_all(&mut c, "cmp", 0).await;
    let mut seen = BTreeMap::new();
    let mut last = -1;
    for (offset, k, v) in records {
        assert!(offset > last, "offsets only increase");
        last = offset;
        seen.insert(k.unwrap(), v.unwrap());
    }
    assert_eq!(seen, latest);

    // Delete ten keys, then keep writing other keys so the tombstones leave the active segment.
    let tombstones: Vec<String> = (0..10).map(|k| format!("key-{k}")).collect();
    let borrowed: Vec<(Option<&str>, Option<&str>)> = tombstones
        .iter()
        .map(|k| (Some(k.as_str()), None))
        .collect();
    ts += 200;
    assert_eq!(produce(&mut c, "cmp", 0, batch(&borrowed, ts)).await.0, 0);
    for i in 0..5 {
        ts += 200;
        let v = format!("f{i}");
        assert_eq!(
            produce(&mut c, "cmp", 0, batch(&[(Some("filler"), Some(&v))], ts))
                .await
                .0,
            0
        );
    }
    // First the tombstones replace the values (consumers see the deletes) ...
    assert!(
        eventually(20, || async {
            let mut c = Client::connect(broker.addr).await;
            let all = read_all(&mut c, "cmp", 0).await;
            all.iter()
                .filter(|r| r.1.as_deref() == Some("key-3"))
                .count()
                == 1
                && all
                    .iter()
                    .any(|r| r.1.as_deref() == Some("key-3") && r.2.is_none())
        })
        .await,
        "the tombstone is the only record left for key-3"
    );
    // ... then, after delete.retention.ms, they vanish.
    assert!(
        eventually(20, || async {
            let mut c = Client::connect(broker.addr).await;
            let all = read_all(&mut c, "cmp", 0).await;
            !all.iter()
                .any(|r| tombstones.contains(r.1.as_ref().unwrap()))
        })
        .await,
        "tombstoned keys vanish"
    );
    let keys: std::collections::BTreeSet<String> = read_all(&mut c, "cmp", 0)
        .await
        .into_iter()
        .map(|r| r.1.unwrap())
        .collect();
    assert_eq!(keys.len(), 40 + 1, "keys 10..49 and the filler");
    broker.stop().await;
}
