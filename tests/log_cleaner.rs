//! Retention and compaction of `PartitionLog` through its public API: segments deleted by
//! `retention.ms` / `retention.bytes`, the log start offset moving, compaction keeping exactly
//! the latest record per key with offsets preserved, tombstones removed after their delete
//! horizon, producer batch headers kept, cleaned logs surviving restarts and crashes mid-swap,
//! and readers seeing only valid batches while the cleaner works.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use vltava::log::batch::{HEADER_LEN, batch_crc};
use vltava::log::cleaner::ATTR_DELETE_HORIZON;
use vltava::log::compression::decompress;
use vltava::log::record::for_each_record;
use vltava::log::{
    BatchHeader, BatchOptions, Compression, LogConfig, NewRecord, PartitionLog, Storage,
    build_batch, clean_log,
};

const NOW: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn open(dir: &Path, config: LogConfig, now: i64) -> PartitionLog {
    PartitionLog::open(Storage::Dir(dir.to_path_buf()), config, now).unwrap()
}

fn compact_config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: 512,
        cleanup_compact: true,
        cleanup_delete: false,
        min_cleanable_dirty_ratio: 0.01,
        delete_retention_ms: HOUR,
        // Timestamps in these tests are fixed; keep produce validation out of the way.
        timestamp_before_max_ms: i64::MAX,
        timestamp_after_max_ms: i64::MAX,
        ..LogConfig::default()
    }
}

fn batch(records: &[(Option<&str>, Option<String>)], ts: i64, codec: Compression) -> Vec<u8> {
    let recs: Vec<NewRecord> = records
        .iter()
        .map(|(k, v)| NewRecord {
            key: k.map(|k| k.as_bytes().to_vec()),
            value: v.as_ref().map(|v| v.as_bytes().to_vec()),
            headers: vec![(b"h".to_vec(), Some(b"x".to_vec()))],
            timestamp_ms: ts,
        })
        .collect();
    build_batch(
        &recs,
        &BatchOptions {
            compression: codec,
            ..BatchOptions::default()
        },
    )
    .unwrap()
}

/// One decoded record as a consumer would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp: i64,
}

/// Reads the whole log from its start as Fetch would, checking every batch's CRC, and decodes
/// the records.
fn read_records(log: &mut PartitionLog) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while let Some(region) = log.read(offset, 1 << 20, true).unwrap() {
        let mut bytes = vec![0u8; region.len as usize];
        region
            .file
            .read_exact_at(&mut bytes, region.position)
            .unwrap();
        let mut rest = &bytes[..];
        let mut progressed = false;
        while let Some(h) = BatchHeader::parse(rest) {
            let total = h.total_size().unwrap() as usize;
            if total > rest.len() {
                break;
            }
            let header: [u8; HEADER_LEN] = rest[..HEADER_LEN].try_into().unwrap();
            assert_eq!(
                h.crc,
                batch_crc(&header, &rest[HEADER_LEN..total]),
                "valid CRC"
            );
            assert!(h.base_offset >= offset || h.last_offset() >= offset);
            let body = &rest[HEADER_LEN..total];
            let plain = match h.compression().unwrap() {
                Compression::None => body.to_vec(),
                c => decompress(c, body, 64 << 20).unwrap(),
            };
            for_each_record(&plain, h.records_count, |_, r| {
                let o = h.base_offset + i64::from(r.offset_delta);
                if o >= offset {
                    out.push(Rec {
                        offset: o,
                        key: r.key.map(<[u8]>::to_vec),
                        value: r.value.map(<[u8]>::to_vec),
                        timestamp: h.base_timestamp + r.timestamp_delta,
                    });
                }
                true
            })
            .unwrap();
            offset = h.next_offset();
            progressed = true;
            rest = &rest[total..];
        }
        assert!(progressed, "a read returns at least one whole batch");
    }
    out
}

fn run_clean(log: &Mutex<PartitionLog>, now: i64) -> Option<vltava::log::CleanStats> {
    clean_log(|| log.lock().unwrap(), now, 1 << 20).unwrap()
}

fn log_files(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .ends_with(suffix)
        })
        .count()
}

#[test]
fn retention_ms_deletes_old_segments_and_moves_the_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 2048,
        retention_ms: HOUR,
        timestamp_before_max_ms: i64::MAX,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config, NOW);
    let value = "v".repeat(600);
    // 10 batches ten hours old, then 6 fresh ones: roughly 3 batches per segment.
    for i in 0..16 {
        let ts = if i < 10 { NOW - 10 * HOUR } else { NOW };
        log.append(
            &batch(&[(Some("k"), Some(value.clone()))], ts, Compression::None),
            0,
            NOW,
        )
        .unwrap();
    }
    let segments_before = log.segment_count();
    assert!(segments_before >= 5, "{segments_before}");
    let deleted = log.delete_old_segments(NOW).unwrap();
    assert!(deleted.segments >= 3, "{deleted:?}");
    let start = log.log_start_offset();
    // Every segment holding only old records went; the first kept one starts the log.
    assert!((9..=10).contains(&start), "log start {start}");
    assert_eq!(log.log_end_offset(), 16);
    assert!(
        log.read(start - 1, 1000, true).is_err(),
        "below the log start is out of range"
    );
    let first = read_records(&mut log);
    assert_eq!(first.first().unwrap().offset, start);
    // Old segment files are renamed away, then unlinked outside the lock.
    assert!(log_files(dir.path(), ".deleted") > 0);
    deleted.remove();
    assert_eq!(log_files(dir.path(), ".deleted"), 0);
    assert_eq!(log_files(dir.path(), ".log"), log.segment_count());
    // Nothing more to delete; and it all survives a restart.
    assert_eq!(log.delete_old_segments(NOW).unwrap().segments, 0);
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), LogConfig::default(), NOW);
    assert_eq!(log.log_start_offset(), start);
    assert_eq!(log.log_end_offset(), 16);
}

#[test]
fn expiring_everything_rolls_first_and_keeps_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: HOUR,
        timestamp_before_max_ms: i64::MAX,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config, NOW);
    for _ in 0..5 {
        log.append(
            &batch(
                &[(Some("k"), Some("v".into()))],
                NOW - 5 * HOUR,
                Compression::None,
            ),
            0,
            NOW,
        )
        .unwrap();
    }
    assert_eq!(log.segment_count(), 1);
    log.delete_old_segments(NOW).unwrap().remove();
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), 5);
    assert_eq!(log.log_end_offset(), 5);
    assert!(read_records(&mut log).is_empty());
    // Appends continue at the old log end.
    let out = log
        .append(
            &batch(&[(Some("k"), Some("v".into()))], NOW, Compression::None),
            0,
            NOW,
        )
        .unwrap();
    assert_eq!(out.base_offset, 5);
    // retention.ms = -1 keeps everything.
    let mut config = log.config().clone();
    config.retention_ms = -1;
    log.set_config(config);
    assert_eq!(
        log.delete_old_segments(NOW + 1000 * HOUR).unwrap().segments,
        0
    );
}

#[test]
fn retention_bytes_bounds_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 4096,
        retention_bytes: 10_000,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config, NOW);
    let value = "x".repeat(900);
    for _ in 0..100 {
        log.append(
            &batch(&[(Some("k"), Some(value.clone()))], NOW, Compression::None),
            0,
            NOW,
        )
        .unwrap();
        log.delete_old_segments(NOW).unwrap().remove();
        // Only whole segments go, so the bound is the limit plus at most one segment.
        assert!(
            log.size_in_bytes() <= 10_000 + 4096,
            "{}",
            log.size_in_bytes()
        );
    }
    assert!(log.size_in_bytes() >= 10_000 - 4096);
    assert!(log.log_start_offset() > 80);
    assert_eq!(log.log_end_offset(), 100);
    // A compact-only log ignores retention.bytes.
    let mut config = log.config().clone();
    config.cleanup_delete = false;
    config.cleanup_compact = true;
    config.retention_bytes = 1;
    log.set_config(config);
    assert_eq!(log.delete_old_segments(NOW).unwrap().segments, 0);
}

/// Writes `rounds` values for each of `keys` keys (value = "<key>:<round>"), some batches
/// compressed, then a final round; returns the expected latest value per key.
fn fill(log: &mut PartitionLog, keys: usize, rounds: usize) -> BTreeMap<String, String> {
    let mut latest = BTreeMap::new();
    for round in 0..rounds {
        let codec = if round % 3 == 1 {
            Compression::Zstd
        } else {
            Compression::None
        };
        for chunk in (0..keys).collect::<Vec<_>>().chunks(7) {
            let recs: Vec<(Option<String>, Option<String>)> = chunk
                .iter()
                .map(|k| (Some(format!("key-{k}")), Some(format!("key-{k}:{round}"))))
                .collect();
            let borrowed: Vec<(Option<&str>, Option<String>)> = recs
                .iter()
                .map(|(k, v)| (k.as_deref(), v.clone()))
                .collect();
            log.append(&batch(&borrowed, NOW + round as i64, codec), 0, NOW)
                .unwrap();
            for (k, v) in recs {
                latest.insert(k.unwrap(), v.unwrap());
            }
        }
    }
    latest
}

/// Latest value per key and the offsets, as a consumer reading from the start sees them.
fn view(log: &mut PartitionLog) -> (BTreeMap<String, Option<String>>, Vec<i64>) {
    let recs = read_records(log);
    let offsets: Vec<i64> = recs.iter().map(|r| r.offset).collect();
    let mut map = BTreeMap::new();
    for r in recs {
        map.insert(
            String::from_utf8(r.key.unwrap()).unwrap(),
            r.value.map(|v| String::from_utf8(v).unwrap()),
        );
    }
    (map, offsets)
}

#[test]
fn compaction_keeps_the_latest_record_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(8 * 1024), NOW);
    let latest = fill(&mut log, 60, 20);
    let total = log.log_end_offset();
    assert_eq!(total, 60 * 20);
    let size_before = log.size_in_bytes();
    let log = Mutex::new(log);
    let stats = run_clean(&log, NOW).expect("a dirty compacted log is cleaned");
    assert!(stats.groups >= 1);
    let mut log = log.into_inner().unwrap();
    assert!(
        log.size_in_bytes() < size_before / 3,
        "{} vs {size_before}",
        log.size_in_bytes()
    );
    let (seen, offsets) = view(&mut log);
    // Every key's latest value is there; offsets strictly increase (gaps, never reordering).
    let want: BTreeMap<String, Option<String>> = latest
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    assert_eq!(seen, want);
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
    // The cleaned part holds exactly one record per key; only the active segment may repeat.
    let clean_up_to = log.first_dirty_offset();
    assert!(clean_up_to > 0);
    let cleaned: Vec<i64> = offsets
        .iter()
        .copied()
        .filter(|o| *o < clean_up_to)
        .collect();
    assert!(
        cleaned.len() <= 60,
        "{} records in the cleaned part",
        cleaned.len()
    );
    // Nothing left to clean: a second pass is not wanted.
    assert!(log.cleanable(NOW).is_none());
    assert_eq!(log.log_end_offset(), total);
    // Appends continue after cleaning, and the cleaned log survives a restart.
    log.append(
        &batch(
            &[(Some("key-1"), Some("new".into()))],
            NOW,
            Compression::None,
        ),
        0,
        NOW,
    )
    .unwrap();
    log.close().unwrap();
    drop(log);
    let mut log = open(dir.path(), compact_config(8 * 1024), NOW);
    let (seen, _) = view(&mut log);
    assert_eq!(seen["key-1"].as_deref(), Some("new"));
    assert_eq!(seen["key-2"], want["key-2"]);
    assert_eq!(log.first_dirty_offset(), clean_up_to);
    assert_eq!(log_files(dir.path(), ".cleaned"), 0);
    assert_eq!(log_files(dir.path(), ".swap"), 0);
    assert_eq!(log_files(dir.path(), ".deleted"), 0);
}

#[test]
fn tombstones_vanish_after_the_delete_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(4 * 1024), NOW);
    fill(&mut log, 20, 5);
    // Delete keys 0..5, then more data so the tombstones are in the cleanable part.
    let tombstones: Vec<(Option<String>, Option<String>)> =
        (0..5).map(|k| (Some(format!("key-{k}")), None)).collect();
    let borrowed: Vec<(Option<&str>, Option<String>)> = tombstones
        .iter()
        .map(|(k, v)| (k.as_deref(), v.clone()))
        .collect();
    log.append(&batch(&borrowed, NOW, Compression::None), 0, NOW)
        .unwrap();
    fill(&mut log, 20, 3);
    // key-0..4 were rewritten by the second fill: delete them again at the end.
    log.append(&batch(&borrowed, NOW, Compression::Lz4), 0, NOW)
        .unwrap();
    // Push the tombstones out of the active segment with another key.
    for i in 0..40 {
        let v = format!("{i}{}", "f".repeat(300));
        log.append(
            &batch(&[(Some("filler"), Some(v))], NOW, Compression::None),
            0,
            NOW,
        )
        .unwrap();
    }
    let log = Mutex::new(log);
    run_clean(&log, NOW).expect("cleaned");
    {
        let mut log = log.lock().unwrap();
        let (seen, _) = view(&mut log);
        // The tombstones are still readable until the horizon, so consumers learn of the deletes.
        for k in 0..5 {
            assert_eq!(seen.get(&format!("key-{k}")), Some(&None), "key-{k}");
        }
        assert!(seen.get("key-7").unwrap().is_some());
        // Nothing to do before the horizon.
        assert!(log.cleanable(NOW + HOUR / 2).is_none());
        assert_eq!(log.cleanable(NOW + HOUR + 1), Some(f64::INFINITY));
    }
    // After the horizon a pass runs without new data, and the tombstoned keys vanish.
    run_clean(&log, NOW + HOUR + 1).expect("horizon pass");
    let mut log = log.into_inner().unwrap();
    let (seen, offsets) = view(&mut log);
    for k in 0..5 {
        assert!(
            !seen.contains_key(&format!("key-{k}")),
            "key-{k} still there"
        );
    }
    assert_eq!(seen.len(), 15 + 1, "keys 5..19 and the filler");
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn delete_horizon_is_written_into_cleaned_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(1024), NOW);
    log.append(
        &batch(&[(Some("a"), Some("1".into()))], NOW - 5, Compression::None),
        0,
        NOW,
    )
    .unwrap();
    log.append(
        &batch(&[(Some("a"), None)], NOW - 3, Compression::None),
        0,
        NOW,
    )
    .unwrap();
    for i in 0..20 {
        log.append(
            &batch(
                &[(Some("b"), Some("x".repeat(200 + i)))],
                NOW,
                Compression::None,
            ),
            0,
            NOW,
        )
        .unwrap();
    }
    let log = Mutex::new(log);
    run_clean(&log, NOW).unwrap();
    let mut log = log.into_inner().unwrap();
    let region = log.read(0, 1 << 20, true).unwrap().unwrap();
    let mut bytes = vec![0u8; region.len as usize];
    region
        .file
        .read_exact_at(&mut bytes, region.position)
        .unwrap();
    let h = BatchHeader::parse(&bytes).unwrap();
    // The first surviving batch is the tombstone, with its horizon; its record keeps its time.
    assert_eq!(h.base_offset, 1);
    assert_ne!(h.attributes & ATTR_DELETE_HORIZON, 0);
    assert_eq!(h.base_timestamp, NOW + HOUR);
    let recs = read_records(&mut log);
    assert_eq!(recs[0].offset, 1);
    assert_eq!(recs[0].key.as_deref(), Some(&b"a"[..]));
    assert_eq!(recs[0].value, None);
    assert_eq!(recs[0].timestamp, NOW - 3);
}

#[test]
fn an_interrupted_swap_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let before = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(8 * 1024), NOW);
    let latest = fill(&mut log, 30, 40);
    log.close().unwrap();
    drop(log);
    // Keep a copy of the uncleaned directory.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), before.path().join(e.file_name())).unwrap();
    }
    // Cleaned with a larger segment.bytes, so all sealed segments form one group.
    let log = Mutex::new(open(dir.path(), compact_config(1 << 20), NOW));
    let stats = run_clean(&log, NOW).unwrap();
    assert_eq!(
        stats.groups, 1,
        "one group, so its segment is the whole clean part"
    );
    let cleaned_view = view(&mut log.lock().unwrap());
    log.into_inner().unwrap().close().unwrap();
    // A crash right after the commit point: the old segments are all still there, plus the
    // cleaned log under its swap name, and a stray .cleaned index.
    let name = "00000000000000000000.log";
    std::fs::copy(
        dir.path().join(name),
        before.path().join(format!("{name}.swap")),
    )
    .unwrap();
    std::fs::write(
        before.path().join("00000000000000000000.index.cleaned"),
        b"junk",
    )
    .unwrap();
    std::fs::remove_file(before.path().join(".clean-shutdown")).ok();
    let segments_before = log_files(before.path(), ".log");
    assert!(segments_before >= 3, "{segments_before}");
    let mut log = open(before.path(), compact_config(8 * 1024), NOW);
    assert_eq!(
        log_files(before.path(), ".log"),
        2,
        "the swap replaced every old segment"
    );
    let recovered = view(&mut log);
    assert_eq!(recovered, cleaned_view);
    let want: BTreeMap<String, Option<String>> = latest
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    assert_eq!(recovered.0, want);
    assert_eq!(log_files(before.path(), ".swap"), 0);
    assert_eq!(log_files(before.path(), ".cleaned"), 0);
}

#[test]
fn producer_batches_keep_their_headers_and_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(1024), NOW);
    // An idempotent producer overwrites one key; its last batch must survive, even if emptied.
    for (seq, i) in (0..30).enumerate() {
        let recs = vec![NewRecord {
            key: Some(b"k".to_vec()),
            value: Some(format!("v{i}-{}", "p".repeat(100)).into_bytes()),
            headers: vec![],
            timestamp_ms: NOW,
        }];
        let bytes = build_batch(
            &recs,
            &BatchOptions {
                producer_id: 7,
                producer_epoch: 0,
                base_sequence: seq as i32,
                ..BatchOptions::default()
            },
        )
        .unwrap();
        log.append(&bytes, 0, NOW).unwrap();
    }
    let log = Mutex::new(log);
    run_clean(&log, NOW).unwrap();
    let mut log = log.into_inner().unwrap();
    assert_eq!(log.producer_state(7), Some((0, 29)));
    // After a restart (state rebuilt from snapshots and headers) the next sequence is accepted
    // and a retry of the last batch is still recognised.
    log.close().unwrap();
    drop(log);
    let mut log = open(dir.path(), compact_config(1024), NOW);
    assert_eq!(log.producer_state(7), Some((0, 29)));
    let next = build_batch(
        &[NewRecord {
            key: Some(b"k".to_vec()),
            value: Some(b"last".to_vec()),
            headers: vec![],
            timestamp_ms: NOW,
        }],
        &BatchOptions {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence: 30,
            ..BatchOptions::default()
        },
    )
    .unwrap();
    let out = log.append(&next, 0, NOW).unwrap();
    assert_eq!(out.base_offset, 30);
    assert!(!out.duplicate);
}

#[test]
fn readers_only_ever_see_valid_batches_while_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(4 * 1024), NOW);
    let latest = fill(&mut log, 40, 30);
    let log = Arc::new(Mutex::new(log));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let log = log.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut passes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || passes == 0 {
                // Each read takes the lock only to find a region, then reads the file without it.
                let mut offset = log.lock().unwrap().log_start_offset();
                loop {
                    let region = log.lock().unwrap().read(offset, 2048, true).unwrap();
                    let Some(region) = region else { break };
                    let mut bytes = vec![0u8; region.len as usize];
                    region
                        .file
                        .read_exact_at(&mut bytes, region.position)
                        .unwrap();
                    let h = BatchHeader::parse(&bytes).expect("a whole header");
                    let total = h.total_size().unwrap() as usize;
                    let header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().unwrap();
                    assert_eq!(h.crc, batch_crc(&header, &bytes[HEADER_LEN..total]));
                    assert!(h.next_offset() > offset);
                    offset = h.next_offset();
                }
                passes += 1;
            }
            passes
        })
    };
    for round in 0..5 {
        {
            let mut l = log.lock().unwrap();
            // Keep writing between passes so every pass has dirty data.
            for k in 0..40 {
                l.append(
                    &batch(
                        &[(Some(&format!("key-{k}")), Some(format!("key-{k}:r{round}")))],
                        NOW,
                        Compression::None,
                    ),
                    0,
                    NOW,
                )
                .unwrap();
            }
        }
        clean_log(|| log.lock().unwrap(), NOW, 1 << 20).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let mut log = log.lock().unwrap();
    let (seen, _) = view(&mut log);
    assert_eq!(seen.len(), latest.len());
    assert_eq!(seen["key-3"].as_deref(), Some("key-3:r4"));
}

#[test]
fn a_small_offset_map_cleans_in_several_passes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(4 * 1024), NOW);
    let latest = fill(&mut log, 50, 10);
    let log = Mutex::new(log);
    let mut passes = 0;
    // Room for only 20 keys per pass.
    while clean_log(|| log.lock().unwrap(), NOW, 20)
        .unwrap()
        .is_some()
    {
        passes += 1;
        assert!(passes < 100);
    }
    assert!(passes > 1, "{passes}");
    let mut log = log.into_inner().unwrap();
    let (seen, _) = view(&mut log);
    let want: BTreeMap<String, Option<String>> = latest
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn compacted_logs_reject_records_without_keys() {
    let mut log = PartitionLog::open(Storage::Memory, compact_config(1 << 20), NOW).unwrap();
    for codec in [Compression::None, Compression::Gzip] {
        let err = log
            .append(
                &batch(
                    &[(Some("k"), Some("v".into())), (None, Some("v".into()))],
                    NOW,
                    codec,
                ),
                0,
                NOW,
            )
            .unwrap_err();
        assert_eq!(err.error_code(), 87, "INVALID_RECORD");
        assert_eq!(err.record_errors().len(), 1);
        assert_eq!(err.record_errors()[0].batch_index, 1);
        assert!(
            err.error_message()
                .contains("Compacted topic cannot accept message without key")
        );
    }
    log.append(&batch(&[(Some("k"), None)], NOW, Compression::None), 0, NOW)
        .unwrap();
}
