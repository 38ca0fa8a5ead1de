//! One log segment: `<base>.log` (batches verbatim), `<base>.index`, `<base>.timeindex`,
//! mirroring Kafka's `LogSegment`: the append rule for sparse index entries, the per-segment
//! maximum timestamp, roll conditions (`shouldRoll`), and `recover` (CRC check batch by batch,
//! truncate at the first invalid byte, rebuild both indexes).
//!
//! Left out: Kafka's roll jitter. (A segment's `.txnindex` belongs to `txn_index`.)

use std::fs::File;
use std::io;
use std::sync::Arc;

use super::batch::{ATTRIBUTES_OFFSET, BatchHeader, HEADER_LEN, LOG_OVERHEAD};
use super::file::{Place, offset_file_name, read_up_to_at, write_all_vectored_at};
use super::index::OffsetIndex;
use super::time_index::TimeIndex;
use super::txn_index::TXN_INDEX_SUFFIX;

pub(crate) const LOG_SUFFIX: &str = ".log";
pub(crate) const INDEX_SUFFIX: &str = ".index";
pub(crate) const TIME_INDEX_SUFFIX: &str = ".timeindex";

/// Bytes read at a time when checksumming ranges (times 16).
const SCAN_CHUNK: usize = 64 * 1024;

/// Bytes read at a time when walking batch headers. A fetch usually needs one header a little
/// past an index entry (`index.interval.bytes`, 4 KiB by default), so a small read is enough;
/// 64 KiB here made offset look-ups 5x slower (benches/micro.rs).
const HEADER_SCAN_BYTES: usize = 8 * 1024;

#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    pub(crate) log: Arc<File>,
    pub(crate) offset_index: OffsetIndex,
    pub(crate) time_index: TimeIndex,
    /// Bytes in the `.log`.
    pub(crate) size: u64,
    /// Offset after the last batch (the base offset when empty).
    pub(crate) next_offset: i64,
    /// Largest batch maxTimestamp in the segment, and that batch's last offset (-1, -1 if none).
    pub(crate) max_timestamp: i64,
    pub(crate) offset_of_max_timestamp: i64,
    bytes_since_last_index_entry: u64,
    /// maxTimestamp of the first batch: `segment.ms` counts from it (Kafka's rollingBasedTimestamp).
    pub(crate) first_batch_timestamp: Option<i64>,
    created_ms: i64,
    /// Bytes `[0, verified_upto)` hold a checked chain of batch headers ending before offset
    /// `verified_next_offset`: written by this process, recovered, or walked by a read. Reads
    /// inside it are served without walking headers again (see `verify_region`).
    verified_upto: u64,
    verified_next_offset: i64,
}

/// What walking a segment's batch headers found at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    Batch {
        position: u64,
        header: BatchHeader,
    },
    /// Clean end of the data.
    End,
    /// Bytes at `position` are not a whole, plausible batch (torn write or garbage).
    Invalid {
        position: u64,
    },
}

/// Walks batch headers from a position, reading the file in chunks (header checks only:
/// length, magic 2, non-negative lastOffsetDelta; not the CRC).
pub(crate) struct HeaderScanner<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
    buf_len: usize,
}

impl<'a> HeaderScanner<'a> {
    pub(crate) fn new(file: &'a File, start: u64, end: u64) -> HeaderScanner<'a> {
        HeaderScanner {
            file,
            pos: start,
            end,
            buf: Vec::new(),
            buf_start: 0,
            buf_len: 0,
        }
    }

    pub(crate) fn next(&mut self) -> io::Result<Scan> {
        if self.pos >= self.end {
            return Ok(Scan::End);
        }
        let position = self.pos;
        if self.end - position < HEADER_LEN as u64 {
            return Ok(Scan::Invalid { position });
        }
        let in_buf = position >= self.buf_start
            && position + HEADER_LEN as u64 <= self.buf_start + self.buf_len as u64;
        if !in_buf {
            if self.buf.is_empty() {
                self.buf = vec![0u8; HEADER_SCAN_BYTES];
            }
            let want = (self.end - position).min(HEADER_SCAN_BYTES as u64) as usize;
            self.buf_len = read_up_to_at(self.file, &mut self.buf[..want], position)?;
            self.buf_start = position;
            if self.buf_len < HEADER_LEN {
                return Ok(Scan::Invalid { position });
            }
        }
        let at = (position - self.buf_start) as usize;
        let Some(header) = BatchHeader::parse(&self.buf[at..self.buf_len]) else {
            return Ok(Scan::Invalid { position });
        };
        let plausible = header.magic == 2
            && header.length >= (HEADER_LEN - LOG_OVERHEAD) as i32
            && header.last_offset_delta >= 0
            && header
                .total_size()
                .is_some_and(|t| t <= self.end - position);
        if !plausible {
            return Ok(Scan::Invalid { position });
        }
        self.pos = position + header.total_size().unwrap_or(0);
        Ok(Scan::Batch { position, header })
    }
}

/// CRC32C of `len` bytes of `file` from `start`, read in chunks into `scratch`.
pub(crate) fn crc_of_range(
    file: &File,
    start: u64,
    len: u64,
    scratch: &mut Vec<u8>,
) -> io::Result<Option<u32>> {
    if scratch.len() < SCAN_CHUNK * 16 {
        scratch.resize(SCAN_CHUNK * 16, 0);
    }
    let mut crc = 0u32;
    let mut done = 0u64;
    while done < len {
        let want = (len - done).min(scratch.len() as u64) as usize;
        let got = read_up_to_at(file, &mut scratch[..want], start + done)?;
        if got != want {
            return Ok(None);
        }
        crc = crc32c::crc32c_append(crc, &scratch[..got]);
        done += got as u64;
    }
    Ok(Some(crc))
}

/// How far past damaged bytes recovery looks for a valid batch (more than any batch).
const FOLLOWING_BATCH_WINDOW: u64 = 64 << 20;

/// True when a whole, CRC-valid v2 batch starts somewhere after `from` (within
/// `FOLLOWING_BATCH_WINDOW`): the bytes at `from` are then damage in the middle of the log,
/// not a torn final append.
fn valid_batch_follows(file: &File, from: u64, file_len: u64) -> io::Result<bool> {
    const CHUNK: usize = 1 << 20;
    let end = file_len.min(from.saturating_add(FOLLOWING_BATCH_WINDOW));
    let mut buf = vec![0u8; CHUNK + HEADER_LEN];
    let mut scratch = Vec::new();
    let mut chunk_start = from + 1;
    while chunk_start + HEADER_LEN as u64 <= end {
        let want = ((end - chunk_start) as usize).min(buf.len());
        let got = read_up_to_at(file, &mut buf[..want], chunk_start)?;
        if got < HEADER_LEN {
            break;
        }
        for at in 0..=(got - HEADER_LEN) {
            if buf[at + 16] != 2 {
                continue;
            }
            let Some(h) = BatchHeader::parse(&buf[at..]) else {
                continue;
            };
            let position = chunk_start + at as u64;
            let fits = h.length >= (HEADER_LEN - LOG_OVERHEAD) as i32
                && h.last_offset_delta >= 0
                && h.total_size().is_some_and(|t| t <= file_len - position);
            if !fits {
                continue;
            }
            let total = h.total_size().unwrap_or(0);
            let crc_start = position + ATTRIBUTES_OFFSET as u64;
            if crc_of_range(
                file,
                crc_start,
                total - ATTRIBUTES_OFFSET as u64,
                &mut scratch,
            )? == Some(h.crc)
            {
                return Ok(true);
            }
        }
        chunk_start += (got - HEADER_LEN + 1) as u64;
    }
    Ok(false)
}

/// Reads one whole batch of a segment file holding `size` valid bytes.
pub(crate) fn read_batch_at(
    file: &File,
    size: u64,
    position: u64,
    header: &BatchHeader,
) -> io::Result<Vec<u8>> {
    let total = header
        .total_size()
        .unwrap_or(0)
        .min(size.saturating_sub(position));
    let mut buf = vec![0u8; total as usize];
    let n = read_up_to_at(file, &mut buf, position)?;
    if n != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "batch extends past the segment",
        ));
    }
    Ok(buf)
}

impl Segment {
    /// A new, empty segment (files created or truncated).
    pub(crate) fn create(place: &Place, base_offset: i64, now_ms: i64) -> io::Result<Segment> {
        Self::create_named(place, base_offset, "", now_ms)
    }

    /// A new, empty segment whose file names carry `extra_suffix` after Kafka's (the cleaner
    /// builds `<base>.log.cleaned` and friends before swapping them in).
    pub(crate) fn create_named(
        place: &Place,
        base_offset: i64,
        extra_suffix: &str,
        now_ms: i64,
    ) -> io::Result<Segment> {
        let name =
            |suffix: &str| format!("{}{extra_suffix}", offset_file_name(base_offset, suffix));
        let log = Arc::new(place.open_rw(&name(LOG_SUFFIX))?);
        log.set_len(0)?;
        let offset_index =
            OffsetIndex::empty(base_offset, Arc::new(place.open_rw(&name(INDEX_SUFFIX))?))?;
        let time_index = TimeIndex::empty(
            base_offset,
            Arc::new(place.open_rw(&name(TIME_INDEX_SUFFIX))?),
        )?;
        Ok(Segment {
            base_offset,
            log,
            offset_index,
            time_index,
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            bytes_since_last_index_entry: 0,
            first_batch_timestamp: None,
            created_ms: now_ms,
            verified_upto: 0,
            verified_next_offset: base_offset,
        })
    }

    /// Opens an existing segment. Without `recover`, the indexes are loaded and checked and the
    /// tail after the last index entry is walked; if anything is off the segment is recovered
    /// anyway. Returns the segment and the number of bytes recovery truncated, which is only
    /// ever a torn final append: allowed when `torn_tail_from` is set (the segment holds the log
    /// end after an unclean shutdown) and the invalid bytes start at or after that offset (the
    /// recovery point: everything below it was fsynced). Anything else invalid is an
    /// `InvalidData` error: the bytes are left as they are.
    pub(crate) fn open(
        place: &Place,
        base_offset: i64,
        recover: bool,
        torn_tail_from: Option<i64>,
        index_interval_bytes: u32,
        now_ms: i64,
        on_recovered_batch: &mut dyn FnMut(&BatchHeader),
    ) -> io::Result<(Segment, u64)> {
        let index_name = offset_file_name(base_offset, INDEX_SUFFIX);
        let time_name = offset_file_name(base_offset, TIME_INDEX_SUFFIX);
        // A missing index is rebuilt, as Kafka does (it would otherwise pass as an empty one).
        let indexes_missing = place
            .dir()
            .is_some_and(|d| !d.join(&index_name).exists() || !d.join(&time_name).exists());
        let log = Arc::new(place.open_rw(&offset_file_name(base_offset, LOG_SUFFIX))?);
        let index_file = Arc::new(place.open_rw(&index_name)?);
        let time_file = Arc::new(place.open_rw(&time_name)?);
        let size = log.metadata()?.len();
        let recover = recover || indexes_missing;
        if !recover
            && let Some(segment) =
                Self::open_trusted(base_offset, &log, &index_file, &time_file, size, now_ms)?
        {
            return Ok((segment, 0));
        }
        let mut segment = Segment {
            base_offset,
            log,
            offset_index: OffsetIndex::empty(base_offset, index_file)?,
            time_index: TimeIndex::empty(base_offset, time_file)?,
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            bytes_since_last_index_entry: 0,
            first_batch_timestamp: None,
            created_ms: now_ms,
            verified_upto: 0,
            verified_next_offset: base_offset,
        };
        let truncated =
            segment.recover(index_interval_bytes, torn_tail_from, on_recovered_batch)?;
        Ok((segment, truncated))
    }

    /// A segment opened read-only without any check, for a partition that is offline because
    /// its data is damaged: nothing is written, its indexes live in memory files.
    pub(crate) fn open_untouched(place: &Place, base_offset: i64) -> io::Result<Segment> {
        let log = match place.dir() {
            Some(dir) => File::open(dir.join(offset_file_name(base_offset, LOG_SUFFIX)))?,
            None => Place::Memory.open_rw("offline")?,
        };
        let size = log.metadata()?.len();
        Ok(Segment {
            base_offset,
            log: Arc::new(log),
            offset_index: OffsetIndex::empty(base_offset, Arc::new(Place::Memory.open_rw("i")?))?,
            time_index: TimeIndex::empty(base_offset, Arc::new(Place::Memory.open_rw("t")?))?,
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            bytes_since_last_index_entry: 0,
            first_batch_timestamp: None,
            created_ms: 0,
            verified_upto: 0,
            verified_next_offset: base_offset,
        })
    }

    fn open_trusted(
        base_offset: i64,
        log: &Arc<File>,
        index_file: &Arc<File>,
        time_file: &Arc<File>,
        size: u64,
        now_ms: i64,
    ) -> io::Result<Option<Segment>> {
        if size > i32::MAX as u64 {
            return Ok(None);
        }
        let Some(offset_index) = OffsetIndex::load(base_offset, index_file.clone(), size)? else {
            return Ok(None);
        };
        // Walk from the last offset-index entry to the end: finds the next offset and checks the tail.
        let (last_indexed_offset, last_pos) = offset_index.last();
        let mut scanner = HeaderScanner::new(log, u64::from(last_pos), size);
        let mut next_offset = base_offset;
        let mut tail = Vec::new();
        loop {
            match scanner.next()? {
                Scan::Batch { position, header } => {
                    if header.base_offset < next_offset.max(base_offset)
                        || header.last_offset() - base_offset > i32::MAX as i64
                    {
                        return Ok(None);
                    }
                    if position == u64::from(last_pos)
                        && last_pos > 0
                        && header.last_offset() != last_indexed_offset
                    {
                        return Ok(None);
                    }
                    next_offset = header.next_offset();
                    tail.push(header);
                }
                Scan::End => break,
                Scan::Invalid { .. } => return Ok(None),
            }
        }
        let Some(time_index) = TimeIndex::load(
            base_offset,
            time_file.clone(),
            next_offset.max(base_offset + 1),
        )?
        else {
            return Ok(None);
        };
        // Largest timestamp: the time index's last entry, then anything larger after it
        // (Kafka's readLargestTimestamp); the tail walked above covers what follows it.
        let (mut max_timestamp, mut offset_of_max) = time_index.last();
        if max_timestamp < 0 {
            offset_of_max = -1;
        }
        let (_, time_pos) = offset_index.lookup(time_index.last().1);
        let mut rescan = HeaderScanner::new(log, u64::from(time_pos.min(last_pos)), size);
        while let Scan::Batch { header, .. } = rescan.next()? {
            if header.max_timestamp > max_timestamp {
                max_timestamp = header.max_timestamp;
                offset_of_max = header.last_offset();
            }
        }
        let first_batch_timestamp = match HeaderScanner::new(log, 0, size).next()? {
            Scan::Batch { header, .. } => Some(header.max_timestamp),
            _ => None,
        };
        Ok(Some(Segment {
            base_offset,
            log: log.clone(),
            offset_index,
            time_index,
            size,
            next_offset,
            max_timestamp,
            offset_of_max_timestamp: offset_of_max,
            bytes_since_last_index_entry: 0,
            first_batch_timestamp,
            created_ms: now_ms,
            verified_upto: 0,
            verified_next_offset: base_offset,
        }))
    }

    /// Kafka's `LogSegment.recover`: check every batch (structure, CRC32C, offsets), rebuild
    /// the indexes, truncate the log after the last valid batch. Returns bytes truncated.
    ///
    /// Unlike Kafka, invalid bytes are cut only when they can be a torn final append: the
    /// caller allows it (`torn_tail_from`, the recovery point), they start at or after that
    /// offset, and no valid batch follows them. Otherwise they are damage to data that was
    /// acknowledged, and cutting would delete every batch after them: the segment is left alone
    /// and an `InvalidData` error says where.
    pub(crate) fn recover(
        &mut self,
        index_interval_bytes: u32,
        torn_tail_from: Option<i64>,
        on_batch: &mut dyn FnMut(&BatchHeader),
    ) -> io::Result<u64> {
        self.offset_index = OffsetIndex::empty(self.base_offset, self.offset_index.file.clone())?;
        self.time_index = TimeIndex::empty(self.base_offset, self.time_index.file.clone())?;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.first_batch_timestamp = None;
        let file_size = self.log.metadata()?.len().min(i32::MAX as u64);
        let mut scanner = HeaderScanner::new(&self.log, 0, file_size);
        let mut scratch = Vec::new();
        let mut valid_bytes = 0u64;
        let mut last_index_entry = 0u64;
        let mut next_offset = self.base_offset;
        while let Scan::Batch { position, header } = scanner.next()? {
            let total = header.total_size().unwrap_or(0);
            // Kafka checks the CRC and the offset range only (a compacted batch keeps its
            // lastOffsetDelta with fewer records).
            let offsets_ok = header.base_offset >= next_offset
                && header.last_offset() - self.base_offset <= i32::MAX as i64;
            if !offsets_ok {
                break;
            }
            let crc_start = position + ATTRIBUTES_OFFSET as u64;
            if crc_of_range(
                &self.log,
                crc_start,
                total - ATTRIBUTES_OFFSET as u64,
                &mut scratch,
            )? != Some(header.crc)
            {
                break;
            }
            if header.max_timestamp > self.max_timestamp {
                self.max_timestamp = header.max_timestamp;
                self.offset_of_max_timestamp = header.last_offset();
            }
            if valid_bytes - last_index_entry > u64::from(index_interval_bytes) {
                self.offset_index
                    .append(header.last_offset(), valid_bytes as u32)?;
                self.time_index
                    .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
                last_index_entry = valid_bytes;
            }
            self.first_batch_timestamp
                .get_or_insert(header.max_timestamp);
            on_batch(&header);
            valid_bytes += total;
            next_offset = header.next_offset();
        }
        let file_len = self.log.metadata()?.len();
        let truncated = file_len - valid_bytes;
        let may_cut_torn_tail = torn_tail_from.is_some_and(|from| next_offset >= from);
        if truncated > 0
            && (!may_cut_torn_tail || valid_batch_follows(&self.log, valid_bytes, file_len)?)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "segment {}: {truncated} bytes from byte {valid_bytes} are not valid batches, \
                     and they are not a torn final append{}; they were left untouched",
                    offset_file_name(self.base_offset, LOG_SUFFIX),
                    if may_cut_torn_tail {
                        " (valid batches follow them)"
                    } else {
                        " (this part of the log was flushed, or written before a clean shutdown)"
                    }
                ),
            ));
        }
        if truncated > 0 {
            tracing::warn!(
                base_offset = self.base_offset,
                truncated,
                "truncating invalid bytes at the end of a segment"
            );
            self.log.set_len(valid_bytes)?;
        }
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)?;
        self.size = valid_bytes;
        self.next_offset = next_offset;
        self.bytes_since_last_index_entry = valid_bytes - last_index_entry;
        self.verified_upto = valid_bytes;
        self.verified_next_offset = next_offset;
        Ok(truncated)
    }

    /// Kafka's `shouldRoll` (without jitter): the append would overflow `segment_bytes`, the
    /// segment is older than `segment_ms` (by record timestamps, or by wall clock when the first
    /// batch has none), an index is full, or the offsets would overflow relative offsets.
    pub(crate) fn should_roll(
        &self,
        segment_bytes: u64,
        segment_ms: i64,
        batch_bytes: u64,
        max_timestamp: i64,
        last_offset: i64,
        now_ms: i64,
    ) -> bool {
        let waited_ms = match self.first_batch_timestamp {
            Some(ts) if ts >= 0 => max_timestamp.saturating_sub(ts),
            _ => now_ms.saturating_sub(self.created_ms),
        };
        let limit = segment_bytes.min(i32::MAX as u64);
        self.size > limit.saturating_sub(batch_bytes)
            || (self.size > 0 && waited_ms > segment_ms)
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || last_offset - self.base_offset > i32::MAX as i64
    }

    /// Appends one batch (header copy + untouched rest) with one vectored write, then index
    /// entries per Kafka's rule: an entry (this append's last offset -> its start position)
    /// once more than `index_interval_bytes` were appended since the previous entry. All or
    /// nothing: if any write fails (a full disk), the log is cut back and nothing changes, so a
    /// retried append cannot duplicate the batch.
    pub(crate) fn append(
        &mut self,
        header: &[u8; HEADER_LEN],
        rest: &[u8],
        last_offset: i64,
        max_timestamp: i64,
        index_interval_bytes: u32,
    ) -> io::Result<()> {
        let position = self.size;
        let len = (HEADER_LEN + rest.len()) as u64;
        let undo = |e: io::Error| {
            // Undo a partial write so the file keeps ending on a batch boundary.
            let _ = self.log.set_len(position);
            e
        };
        write_all_vectored_at(&self.log, &[header, rest], position).map_err(undo)?;
        let (max_timestamp_now, offset_of_max_now) = if max_timestamp > self.max_timestamp {
            (max_timestamp, last_offset)
        } else {
            (self.max_timestamp, self.offset_of_max_timestamp)
        };
        let index_due = self.bytes_since_last_index_entry > u64::from(index_interval_bytes);
        if index_due {
            let position32 = u32::try_from(position).map_err(io::Error::other);
            position32
                .and_then(|p| self.offset_index.append(last_offset, p))
                .and_then(|()| {
                    self.time_index
                        .maybe_append(max_timestamp_now, offset_of_max_now)
                })
                .inspect_err(|_| {
                    self.offset_index
                        .truncate_after(last_offset.saturating_sub(1));
                    let _ = self.log.set_len(position);
                })?;
        }
        if position == 0 {
            self.first_batch_timestamp = Some(max_timestamp);
        }
        if self.verified_upto == position {
            self.verified_upto = position + len;
            self.verified_next_offset = last_offset + 1;
        }
        self.size += len;
        self.next_offset = last_offset + 1;
        self.max_timestamp = max_timestamp_now;
        self.offset_of_max_timestamp = offset_of_max_now;
        if index_due {
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += len;
        Ok(())
    }

    /// Kafka's `onBecomeInactiveSegment` / close: the final time index entry.
    pub(crate) fn seal(&mut self) -> io::Result<()> {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp)
    }

    /// The first batch whose last offset is >= `offset`, searching from the index entry at or
    /// below it (Kafka's `translateOffset`). `None` if the segment has no such batch.
    ///
    /// Every header walked is checked against what the segment promises, so damage is found
    /// instead of followed: it must be a plausible v2 header lying wholly inside the segment,
    /// offsets must increase from batch to batch and stay inside the segment's range, and the
    /// batch at an index entry's position must hold that entry's offset (this engine indexes
    /// single batches). A violation is an `InvalidData` error describing it.
    pub(crate) fn find_batch(&self, offset: i64) -> io::Result<Option<(u64, BatchHeader)>> {
        let (entry_offset, start) = self.offset_index.lookup(offset);
        let indexed = start > 0 || entry_offset > self.base_offset;
        let mut scanner = HeaderScanner::new(&self.log, u64::from(start), self.size);
        let mut expected_at_least = self.base_offset;
        let mut first = true;
        loop {
            let (position, header) = match scanner.next()? {
                Scan::Batch { position, header } => (position, header),
                Scan::End => {
                    if expected_at_least < self.next_offset && offset < self.next_offset {
                        return Err(self.corrupt(format!(
                            "its batches end at offset {expected_at_least}, but it holds offsets up to {}",
                            self.next_offset - 1
                        )));
                    }
                    return Ok(None);
                }
                Scan::Invalid { position } => {
                    return Err(self.corrupt(format!(
                        "no valid batch header at byte {position} (a length or magic byte is \
                         damaged, or the batch reaches past the segment's {} bytes)",
                        self.size
                    )));
                }
            };
            if header.base_offset < expected_at_least || header.last_offset() >= self.next_offset {
                return Err(self.corrupt(format!(
                    "the batch at byte {position} claims offsets {}..={}, expected a batch from \
                     offset {expected_at_least} inside the segment's offsets {}..{}",
                    header.base_offset,
                    header.last_offset(),
                    self.base_offset,
                    self.next_offset
                )));
            }
            if first
                && indexed
                && !(header.base_offset..=header.last_offset()).contains(&entry_offset)
            {
                return Err(self.corrupt(format!(
                    "the index maps offset {entry_offset} to byte {position}, but the batch \
                     there holds offsets {}..={}",
                    header.base_offset,
                    header.last_offset()
                )));
            }
            first = false;
            expected_at_least = header.next_offset();
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
        }
    }

    /// Checks the batch headers inside `[position, position + len)` before the region is sent:
    /// each a plausible header lying wholly inside the segment, offsets increasing from
    /// `first` (the batch found at `position`) and inside the segment's range. A batch cut by
    /// the region's end is checked whole. Regions inside the verified prefix cost nothing; a
    /// region that continues it extends it, so a consumer reading a segment from its start
    /// walks each header once per process, whatever it re-reads.
    pub(crate) fn verify_region(
        &mut self,
        position: u64,
        first: &BatchHeader,
        len: u32,
    ) -> io::Result<()> {
        let end = position + u64::from(len);
        if end <= self.verified_upto {
            return Ok(());
        }
        let (start, mut expected) = if position <= self.verified_upto {
            (self.verified_upto, self.verified_next_offset)
        } else {
            (position, first.base_offset)
        };
        let mut scanner = HeaderScanner::new(&self.log, start, self.size);
        let mut walked_to = (start, expected);
        while scanner.pos < end {
            let (at, header) = match scanner.next()? {
                Scan::Batch { position, header } => (position, header),
                Scan::End => break,
                Scan::Invalid { position } => {
                    return Err(self.corrupt(format!(
                        "no valid batch header at byte {position} (a length or magic byte is \
                         damaged, or the batch reaches past the segment's {} bytes)",
                        self.size
                    )));
                }
            };
            if header.base_offset < expected || header.last_offset() >= self.next_offset {
                return Err(self.corrupt(format!(
                    "the batch at byte {at} claims offsets {}..={}, expected a batch from offset \
                     {expected} inside the segment's offsets {}..{}",
                    header.base_offset,
                    header.last_offset(),
                    self.base_offset,
                    self.next_offset
                )));
            }
            expected = header.next_offset();
            walked_to = (scanner.pos, expected);
        }
        if start == self.verified_upto {
            (self.verified_upto, self.verified_next_offset) = walked_to;
        }
        Ok(())
    }

    fn corrupt(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "segment {}: {what}",
                offset_file_name(self.base_offset, LOG_SUFFIX)
            ),
        )
    }

    /// The segment's files (the transaction index may not exist: removers ignore that).
    pub(crate) fn file_names(&self) -> [String; 4] {
        [
            LOG_SUFFIX,
            INDEX_SUFFIX,
            TIME_INDEX_SUFFIX,
            TXN_INDEX_SUFFIX,
        ]
        .map(|s| offset_file_name(self.base_offset, s))
    }
}
