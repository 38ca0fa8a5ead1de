//! A page of records out of a partition log, for the message browser: from an offset, or from
//! the first record at or after a timestamp (the time index, as ListOffsets finds it), up to
//! the high watermark. Batches are read from the segment files as Fetch finds them, compressed
//! ones decompressed (bounded), control batches (transaction markers) left out. Runs on a
//! blocking thread: it reads files.

use std::os::unix::fs::FileExt;

use crate::log::batch::HEADER_LEN;
use crate::log::compression::decompress;
use crate::log::record::for_each_record_with_headers;
use crate::log::{BatchHeader, Compression, TimestampType};
use crate::metadata::topics::Partition;

/// Records on one page, at most.
pub const RECORDS_MAX: usize = 500;
/// Segment bytes read for one page, at most (a page ends early rather than read more).
pub const READ_BYTES_MAX: u64 = 16 << 20;
/// One read from the log.
const CHUNK_BYTES: u32 = 1 << 20;
/// A batch larger than this, stored or decompressed, is not shown.
pub const BATCH_BYTES_MAX: usize = 16 << 20;
/// Key and value bytes returned for one page, at most.
pub const SHOWN_BYTES_MAX: usize = 4 << 20;
/// Each key, value or header value is cut at this many bytes.
pub const FIELD_BYTES_MAX: usize = 16 << 10;
/// Message pages read at once (each may hold up to two [`BATCH_BYTES_MAX`] buffers).
pub const READS_AT_ONCE: usize = 2;

/// Where a page starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    Offset(i64),
    Timestamp(i64),
}

/// A key, value or header value: its size, and its first [`FIELD_BYTES_MAX`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub size: usize,
    pub bytes: Vec<u8>,
}

impl Field {
    fn of(bytes: &[u8]) -> Field {
        Field {
            size: bytes.len(),
            bytes: bytes[..bytes.len().min(FIELD_BYTES_MAX)].to_vec(),
        }
    }
}

/// One record as the browser shows it.
#[derive(Debug, Clone)]
pub struct ShownRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub log_append_time: bool,
    pub key: Option<Field>,
    pub value: Option<Field>,
    pub headers: Vec<(String, Option<Field>)>,
}

/// A page of records.
#[derive(Debug, Clone)]
pub struct Page {
    pub log_start_offset: i64,
    pub high_watermark: i64,
    /// Where the page starts (the offset asked for, or the one the timestamp found).
    pub start_offset: i64,
    pub records: Vec<ShownRecord>,
    /// Where the next page starts.
    pub next_offset: i64,
}

/// Reads up to `limit` records (at most [`RECORDS_MAX`]) from `start`. Blocking.
pub fn read_page(partition: &Partition, start: Start, limit: usize) -> Result<Page, String> {
    let limit = limit.clamp(1, RECORDS_MAX);
    let (log_start_offset, high_watermark, lookup) = {
        let log = partition.log();
        log.check_readable().map_err(|e| e.to_string())?;
        let lookup = match start {
            Start::Timestamp(ts) => log.lookup_timestamp(ts).map_err(|e| e.to_string())?,
            Start::Offset(_) => None,
        };
        (log.log_start_offset(), log.high_watermark(), lookup)
    };
    let start_offset = match start {
        Start::Offset(o) => o.clamp(log_start_offset, high_watermark),
        Start::Timestamp(_) => match lookup {
            Some(l) => l
                .run()
                .map_err(|e| e.to_string())?
                .map_or(high_watermark, |(offset, _, _)| offset),
            None => high_watermark,
        },
    };
    let mut page = Page {
        log_start_offset,
        high_watermark,
        start_offset,
        records: Vec::new(),
        next_offset: start_offset,
    };
    let mut read_bytes = 0u64;
    let mut shown_bytes = 0usize;
    while page.next_offset < high_watermark
        && page.records.len() < limit
        && read_bytes < READ_BYTES_MAX
        && shown_bytes < SHOWN_BYTES_MAX
    {
        let region = partition
            .log()
            .read(page.next_offset, CHUNK_BYTES, true)
            .map_err(|e| e.to_string())?;
        let Some(region) = region else { break };
        if region.len as usize > BATCH_BYTES_MAX {
            return Err(format!(
                "the batch at offset {} is {} bytes, more than the console reads ({BATCH_BYTES_MAX})",
                page.next_offset, region.len
            ));
        }
        let mut buf = vec![0u8; region.len as usize];
        region
            .file
            .read_exact_at(&mut buf, region.position)
            .map_err(|e| e.to_string())?;
        read_bytes += u64::from(region.len);
        let mut pos = 0usize;
        let mut progressed = false;
        while let Some(header) = buf.get(pos..).and_then(BatchHeader::parse) {
            let Some(size) = header.total_size().and_then(|s| usize::try_from(s).ok()) else {
                break;
            };
            let Some(batch) = buf.get(pos..pos.saturating_add(size)) else {
                break; // cut off by the read size: read again from this batch
            };
            pos += size;
            progressed = true;
            if header.next_offset() <= page.next_offset {
                continue;
            }
            if !header.is_control() {
                let from = page.next_offset;
                let last = show_batch(&header, batch, from, limit, &mut page.records)?;
                shown_bytes += page
                    .records
                    .iter()
                    .rev()
                    .take_while(|r| r.offset >= from)
                    .map(shown_size)
                    .sum::<usize>();
                if let Some(last) = last {
                    page.next_offset = last + 1;
                    break; // the page is full
                }
            }
            page.next_offset = header.next_offset();
            if page.records.len() >= limit || page.next_offset >= high_watermark {
                break;
            }
        }
        if !progressed {
            return Err(format!("unreadable batch at offset {}", page.next_offset));
        }
    }
    page.next_offset = page.next_offset.min(high_watermark);
    Ok(page)
}

/// Bytes a record adds to a page.
fn shown_size(r: &ShownRecord) -> usize {
    let field = |f: &Option<Field>| f.as_ref().map_or(0, |f| f.bytes.len());
    field(&r.key)
        + field(&r.value)
        + r.headers
            .iter()
            .map(|(k, v)| k.len() + field(v))
            .sum::<usize>()
}

/// Adds the batch's records at or after `from` to `out` until it holds `limit`; returns the
/// offset of the last record added when the page filled up inside this batch.
fn show_batch(
    header: &BatchHeader,
    batch: &[u8],
    from: i64,
    limit: usize,
    out: &mut Vec<ShownRecord>,
) -> Result<Option<i64>, String> {
    let body = batch.get(HEADER_LEN..).unwrap_or_default();
    let codec = header.compression().unwrap_or(Compression::None);
    let decompressed;
    let records = if codec == Compression::None {
        body
    } else {
        decompressed = decompress(codec, body, BATCH_BYTES_MAX).map_err(|e| {
            format!(
                "the batch at offset {} cannot be shown: {e}",
                header.base_offset
            )
        })?;
        &decompressed
    };
    let log_append_time = header.timestamp_type() == TimestampType::LogAppendTime;
    let mut filled_at = None;
    let walked = for_each_record_with_headers(records, header.records_count, |_, r, headers| {
        let offset = header.base_offset + i64::from(r.offset_delta);
        if offset < from {
            return true;
        }
        out.push(ShownRecord {
            offset,
            timestamp: if log_append_time {
                header.max_timestamp
            } else {
                header.base_timestamp + r.timestamp_delta
            },
            log_append_time,
            key: r.key.map(Field::of),
            value: r.value.map(Field::of),
            headers: headers
                .into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.map(Field::of)))
                .collect(),
        });
        if out.len() >= limit {
            filled_at = Some(offset);
            return false;
        }
        true
    });
    walked.map_err(|e| {
        format!(
            "the batch at offset {} has a malformed record {}: {}",
            header.base_offset, e.index, e.reason
        )
    })?;
    Ok(filled_at)
}
