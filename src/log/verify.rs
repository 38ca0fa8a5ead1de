//! Full checks of stored data, beyond what the read path looks at: every batch's CRC32C, the
//! header chain across segments, and every index entry. Used offline by `vltava verify DIR`
//! (files opened read-only, nothing changed) and online by the scrub (`scrub_step`), which
//! walks a running broker's segments at a bounded rate and takes a damaged partition offline.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::ATTRIBUTES_OFFSET;
use super::file::{offset_file_name, parse_offset_file_name};
use super::index::OFFSET_ENTRY_LEN;
use super::partition_log::PartitionLog;
use super::segment::{HeaderScanner, INDEX_SUFFIX, LOG_SUFFIX, Scan, crc_of_range};
use super::time_index::TIME_ENTRY_LEN;

/// What a check of one segment's `.log` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentCheck {
    pub batches: u64,
    pub records: u64,
    /// Offset after the last batch.
    pub next_offset: i64,
    /// Batch positions and offset ranges (kept only when asked, for the index check).
    pub positions: Vec<(u64, i64, i64)>,
}

/// Walks every batch of `file[0..size)`: a plausible v2 header lying inside the file, offsets
/// from `expect_from` on, strictly increasing and within 2^31 of `base_offset`, and a matching
/// CRC32C. `pace(bytes)` is called after each batch (the scrub sleeps in it). Returns the
/// position and description of the first problem.
pub fn check_segment(
    file: &File,
    base_offset: i64,
    size: u64,
    expect_from: i64,
    keep_positions: bool,
    pace: &mut dyn FnMut(u64),
) -> io::Result<Result<SegmentCheck, (u64, String)>> {
    let mut scanner = HeaderScanner::new(file, 0, size);
    let mut scratch = Vec::new();
    let mut check = SegmentCheck {
        next_offset: expect_from.max(base_offset),
        ..SegmentCheck::default()
    };
    loop {
        let (position, h) = match scanner.next()? {
            Scan::End => return Ok(Ok(check)),
            Scan::Invalid { position } => {
                return Ok(Err((
                    position,
                    "not a valid batch header (damaged length or magic, or a batch reaching past the end)"
                        .to_string(),
                )));
            }
            Scan::Batch { position, header } => (position, header),
        };
        if h.base_offset < check.next_offset {
            return Ok(Err((
                position,
                format!(
                    "batch claims offset {} but offsets up to {} came before it",
                    h.base_offset,
                    check.next_offset - 1
                ),
            )));
        }
        if h.last_offset() - base_offset > i64::from(i32::MAX) {
            return Ok(Err((
                position,
                format!(
                    "batch offset {} is out of this segment's range",
                    h.last_offset()
                ),
            )));
        }
        let total = h.total_size().unwrap_or(0);
        let crc = crc_of_range(
            file,
            position + ATTRIBUTES_OFFSET as u64,
            total - ATTRIBUTES_OFFSET as u64,
            &mut scratch,
        )?;
        if crc != Some(h.crc) {
            return Ok(Err((
                position,
                format!(
                    "CRC mismatch in the batch of offsets {}..={}",
                    h.base_offset,
                    h.last_offset()
                ),
            )));
        }
        check.batches += 1;
        check.records += u64::try_from(h.records_count).unwrap_or(0);
        check.next_offset = h.next_offset();
        if keep_positions {
            check
                .positions
                .push((position, h.base_offset, h.last_offset()));
        }
        pace(total);
    }
}

/// One partition directory's report.
#[derive(Debug, Clone, Default)]
pub struct PartitionReport {
    pub dir: PathBuf,
    pub segments: usize,
    pub batches: u64,
    pub records: u64,
    pub bytes: u64,
    pub first_offset: Option<i64>,
    pub next_offset: i64,
    /// Everything found wrong, one line each (empty: healthy).
    pub problems: Vec<String>,
}

/// Checks a partition directory offline: every segment's batches (see `check_segment`), the
/// offsets carried from segment to segment, and the `.index` / `.timeindex` entries. Opens
/// files read-only and changes nothing.
pub fn verify_partition_dir(dir: &Path) -> io::Result<PartitionReport> {
    let mut report = PartitionReport {
        dir: dir.to_path_buf(),
        ..PartitionReport::default()
    };
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(base) = name
            .to_str()
            .and_then(|n| parse_offset_file_name(n, LOG_SUFFIX))
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    report.segments = bases.len();
    let mut expect = bases.first().copied().unwrap_or(0);
    for base in bases {
        let name = offset_file_name(base, LOG_SUFFIX);
        let file = File::open(dir.join(&name))?;
        let size = file.metadata()?.len();
        report.bytes += size;
        if base < expect {
            report.problems.push(format!(
                "{name}: starts at offset {base}, but the previous segment ends at {expect}"
            ));
        }
        match check_segment(&file, base, size, expect.min(base), true, &mut |_| {})? {
            Ok(check) => {
                if check.batches > 0 {
                    report.first_offset.get_or_insert(check.positions[0].1);
                }
                report.batches += check.batches;
                report.records += check.records;
                expect = check.next_offset.max(base);
                report
                    .problems
                    .extend(check_indexes(dir, base, size, &check)?);
            }
            Err((position, what)) => {
                report
                    .problems
                    .push(format!("{name} byte {position}: {what}"));
                return Ok(report);
            }
        }
    }
    report.next_offset = expect;
    Ok(report)
}

/// Every `.index` entry must point at a batch holding its offset (this engine and Kafka's
/// produce path index single batches), and `.timeindex` entries must grow and stay in range.
fn check_indexes(
    dir: &Path,
    base: i64,
    size: u64,
    check: &SegmentCheck,
) -> io::Result<Vec<String>> {
    let mut problems = Vec::new();
    let name = offset_file_name(base, INDEX_SUFFIX);
    if let Some(bytes) = read_whole(&dir.join(&name))? {
        if bytes.len() % OFFSET_ENTRY_LEN != 0 {
            problems.push(format!(
                "{name}: {} bytes is not whole entries",
                bytes.len()
            ));
        }
        for (i, e) in bytes.chunks_exact(OFFSET_ENTRY_LEN).enumerate() {
            let offset = base + i64::from(u32::from_be_bytes([e[0], e[1], e[2], e[3]]));
            let position = u64::from(u32::from_be_bytes([e[4], e[5], e[6], e[7]]));
            let holds = check
                .positions
                .binary_search_by_key(&position, |(p, _, _)| *p)
                .ok()
                .map(|at| check.positions[at])
                .is_some_and(|(_, first, last)| (first..=last).contains(&offset));
            if position >= size || !holds {
                problems.push(format!(
                    "{name} entry {i}: offset {offset} -> byte {position}, which is not the batch holding it"
                ));
                break;
            }
        }
    }
    let name = offset_file_name(base, super::segment::TIME_INDEX_SUFFIX);
    if let Some(bytes) = read_whole(&dir.join(&name))? {
        let mut last = (i64::MIN, -1i64);
        for (i, e) in bytes.chunks_exact(TIME_ENTRY_LEN).enumerate() {
            let ts = i64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
            let offset = base + i64::from(u32::from_be_bytes([e[8], e[9], e[10], e[11]]));
            if ts < last.0 || offset < last.1 || offset >= check.next_offset.max(base + 1) {
                problems.push(format!(
                    "{name} entry {i}: ({ts}, {offset}) does not grow or is out of range"
                ));
                break;
            }
            last = (ts, offset);
        }
    }
    Ok(problems)
}

fn read_whole(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A segment to scrub, copied out of the log under its lock.
#[derive(Debug, Clone)]
pub struct ScrubTarget {
    pub base_offset: i64,
    pub file: Arc<File>,
    /// Bytes to check (the size when the target was taken; appends after it are our own).
    pub size: u64,
    pub expect_from: i64,
}

impl PartitionLog {
    /// The segments a scrub should check now (none if the log is offline).
    pub fn scrub_targets(&self) -> Vec<ScrubTarget> {
        if self.offline.is_some() {
            return Vec::new();
        }
        let mut expect = self.log_start_offset;
        self.segments
            .iter()
            .map(|s| {
                let t = ScrubTarget {
                    base_offset: s.base_offset,
                    file: s.log.clone(),
                    size: s.size,
                    expect_from: expect.min(s.base_offset),
                };
                expect = s.next_offset;
                t
            })
            .collect()
    }

    /// The scrub found damage in `target`: the partition goes offline, unless the segment has
    /// since been replaced or deleted (retention, compaction), in which case nothing happens.
    pub fn scrub_found_damage(&mut self, target: &ScrubTarget, position: u64, what: &str) {
        let still_here = self
            .segments
            .iter()
            .any(|s| Arc::ptr_eq(&s.log, &target.file));
        if still_here {
            let _ = self.go_corrupt(format!(
                "scrub: segment {} byte {position}: {what}",
                offset_file_name(target.base_offset, LOG_SUFFIX)
            ));
        }
    }
}
