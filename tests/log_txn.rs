//! Transactions in the log engine: open transactions hold back the last stable offset, markers
//! close them, aborted ones are indexed (Kafka's `.txnindex`) and reported to read_committed
//! fetches, all of it survives restarts, and compaction drops aborted records but not markers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;

use vltava::log::{
    BatchHeader, BatchOptions, ControlType, LogConfig, NewRecord, PartitionLog, Storage,
    build_batch,
};

const NOW: i64 = 1_700_000_000_000;

fn batch(pid: i64, epoch: i16, seq: i32, values: &[&str], transactional: bool) -> Vec<u8> {
    let records: Vec<NewRecord> = values
        .iter()
        .map(|v| NewRecord {
            key: Some(v.as_bytes().to_vec()),
            value: Some(v.as_bytes().to_vec()),
            headers: vec![],
            timestamp_ms: NOW,
        })
        .collect();
    build_batch(
        &records,
        &BatchOptions {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            transactional,
            ..BatchOptions::default()
        },
    )
    .unwrap()
}

fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(Storage::Dir(dir.to_path_buf()), config, NOW).unwrap()
}

/// Every batch header a consumer reading from the start gets (regions stop at segment ends).
fn headers(log: &mut PartitionLog, committed: bool) -> Vec<BatchHeader> {
    use std::os::unix::fs::FileExt;
    let mut out: Vec<BatchHeader> = Vec::new();
    let mut offset = log.log_start_offset();
    loop {
        let region = if committed {
            log.read_committed(offset, 1 << 20, true).unwrap()
        } else {
            log.read(offset, 1 << 20, true).unwrap()
        };
        let Some(region) = region else { return out };
        let mut buf = vec![0u8; region.len as usize];
        region
            .file
            .read_exact_at(&mut buf, region.position)
            .unwrap();
        let mut pos = 0;
        while let Some(h) = buf.get(pos..).and_then(BatchHeader::parse) {
            let total = h.total_size().unwrap() as usize;
            if pos + total > buf.len() {
                break;
            }
            offset = h.next_offset();
            out.push(h);
            pos += total;
        }
    }
}

#[test]
fn open_transactions_hold_the_last_stable_offset_and_aborts_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    // Producer 1 opens a transaction at offset 0; a non-transactional batch follows.
    log.append(&batch(1, 0, 0, &["a", "b"], true), 0, NOW)
        .unwrap();
    log.append(&batch(9, 0, 0, &["plain"], false), 0, NOW)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 0);
    assert!(headers(&mut log, true).is_empty(), "nothing stable yet");
    assert_eq!(headers(&mut log, false).len(), 2);
    // Producer 2 opens another at offset 3; producer 1 commits (marker at 4).
    log.append(&batch(2, 0, 0, &["x"], true), 0, NOW).unwrap();
    let commit = log
        .append_control(1, 0, ControlType::Commit, 0, 0, NOW)
        .unwrap();
    assert_eq!(commit.base_offset, 4);
    assert_eq!(
        log.last_stable_offset(),
        3,
        "producer 2's transaction is still open"
    );
    let stable = headers(&mut log, true);
    assert_eq!(stable.len(), 2, "batches below offset 3");
    assert_eq!(stable.last().unwrap().last_offset(), 2);
    // Producer 2 aborts (marker at 5): everything is stable, its transaction is reported.
    log.append_control(2, 0, ControlType::Abort, 0, 0, NOW)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 6);
    assert_eq!(log.high_watermark(), 6);
    assert_eq!(log.aborted_transactions(0, 6), vec![(2, 3)]);
    assert_eq!(log.aborted_transactions(6, 100), vec![]);
    let all = headers(&mut log, true);
    assert_eq!(all.len(), 5);
    assert!(all[3].is_control() && all[4].is_control());
    // Kafka's .txnindex layout: one 34-byte entry.
    let index = std::fs::read(dir.path().join("00000000000000000000.txnindex")).unwrap();
    assert_eq!(index.len(), 34);
    assert_eq!(i64::from_be_bytes(index[2..10].try_into().unwrap()), 2);
    assert_eq!(i64::from_be_bytes(index[10..18].try_into().unwrap()), 3);
    assert_eq!(i64::from_be_bytes(index[18..26].try_into().unwrap()), 5);
    // An open transaction and the aborted one survive a crash (no clean close)…
    log.append(&batch(1, 0, 2, &["c"], true), 0, NOW).unwrap();
    drop(log);
    let mut log = open(dir.path(), LogConfig::default());
    assert_eq!(log.last_stable_offset(), 6);
    assert_eq!(log.aborted_transactions(0, 100), vec![(2, 3)]);
    // …and a clean one.
    log.close().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    assert_eq!(log.last_stable_offset(), 6);
    log.append_control(1, 0, ControlType::Commit, 0, 0, NOW)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 8);
    assert_eq!(log.producer_states().len(), 3);
}

#[test]
fn markers_are_fenced_by_producer_and_coordinator_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&batch(1, 3, 0, &["a"], true), 0, NOW).unwrap();
    let old_epoch = log
        .append_control(1, 2, ControlType::Commit, 0, 0, NOW)
        .unwrap_err();
    assert_eq!(old_epoch.error_code(), 47, "INVALID_PRODUCER_EPOCH");
    // Transaction version 2: the marker carries the bumped epoch.
    log.append_control(1, 4, ControlType::Commit, 5, 0, NOW)
        .unwrap();
    let zombie = log
        .append_control(1, 4, ControlType::Abort, 4, 0, NOW)
        .unwrap_err();
    assert_eq!(zombie.error_code(), 52, "TRANSACTION_COORDINATOR_FENCED");
    // The next transaction at the new epoch starts at sequence 0.
    log.append(&batch(1, 4, 0, &["b"], true), 0, NOW).unwrap();
    assert_eq!(log.last_stable_offset(), 2);
}

#[test]
fn compaction_drops_aborted_records_and_keeps_markers() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_compact: true,
        cleanup_delete: false,
        // Every batch in a segment of its own: everything but the last is cleanable.
        segment_bytes: 100,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config.clone());
    log.append(&batch(9, 0, 0, &["k"], false), 0, NOW).unwrap(); // 0: committed value
    log.append(&batch(1, 0, 0, &["k"], true), 0, NOW).unwrap(); // 1: aborted overwrite
    log.append_control(1, 0, ControlType::Abort, 0, 0, NOW)
        .unwrap(); // 2
    log.append(&batch(2, 0, 0, &["j"], true), 0, NOW).unwrap(); // 3: committed
    log.append_control(2, 0, ControlType::Commit, 0, 0, NOW)
        .unwrap(); // 4
    log.append(&batch(9, 0, 1, &["z"], false), 0, NOW).unwrap(); // 5: active segment
    let log = std::sync::Mutex::new(log);
    let stats = vltava::log::clean_log(|| log.lock().unwrap(), NOW, 1000)
        .unwrap()
        .expect("a pass ran");
    assert!(stats.groups > 0);
    let mut log = log.into_inner().unwrap();
    let kept: Vec<(i64, i32, bool, bool)> = headers(&mut log, false)
        .iter()
        .map(|h| {
            (
                h.base_offset,
                h.records_count,
                h.is_transactional(),
                h.is_control(),
            )
        })
        .collect();
    // The aborted overwrite of "k" did not shadow offset 0, and its record is gone (its batch
    // stays empty: the cleaner keeps each group's last batch for its offsets); both markers stay.
    assert_eq!(
        kept,
        vec![
            (0, 1, false, false),
            (1, 0, true, false),
            (2, 1, true, true),
            (3, 1, true, false),
            (4, 1, true, true),
            (5, 1, false, false)
        ]
    );
    assert_eq!(log.aborted_transactions(0, 100), vec![(1, 1)]);
    drop(log);
    let log = open(dir.path(), config);
    assert_eq!(log.aborted_transactions(0, 100), vec![(1, 1)]);
}
