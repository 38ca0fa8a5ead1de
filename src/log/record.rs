//! Records inside a v2 batch: zigzag varints and the record layout
//! (length, attributes, timestampDelta, offsetDelta, key, value, headers).
//!
//! Mirrors Kafka's `DefaultRecord.readFrom`: every length is bounds-checked, a record must
//! consume exactly its declared length, and the batch must hold exactly `recordsCount` records.
//! Produce validation walks every batch's records; so do ListOffsets by timestamp and the cleaner.

/// A record as found in a batch; borrowed from the (decompressed) records bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// A malformed record: `index` is its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordParseError {
    pub index: i32,
    pub reason: ParseFailure,
}

/// What was wrong with the record bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseFailure {
    /// The bytes ended before the declared number of records (or inside a length prefix).
    Truncated,
    NegativeLength,
    /// A record's length reaches past the end of the batch.
    LengthExceedsBatch,
    /// A record's fields do not fill exactly its declared length.
    Malformed,
    /// Bytes remain after the declared number of records.
    TrailingBytes,
}

impl std::fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParseFailure::Truncated => "truncated record length",
            ParseFailure::NegativeLength => "negative record length",
            ParseFailure::LengthExceedsBatch => "record length exceeds batch",
            ParseFailure::Malformed => "malformed record",
            ParseFailure::TrailingBytes => "bytes left after the declared record count",
        })
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// Unsigned LEB128 of at most `max_bytes` bytes. One-byte values (most lengths and deltas
    /// of small records) take the first branch: the produce path walks every record.
    #[inline(always)]
    fn uvarint(&mut self, max_bytes: usize) -> Option<u64> {
        let first = *self.buf.get(self.pos)?;
        if first < 0x80 {
            self.pos += 1;
            return Some(u64::from(first));
        }
        let mut raw = u64::from(first & 0x7f);
        let mut shift = 7;
        for i in 1..max_bytes {
            let b = *self.buf.get(self.pos + i)?;
            raw |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                self.pos += i + 1;
                return Some(raw);
            }
            shift += 7;
        }
        None
    }

    #[inline(always)]
    fn varlong(&mut self) -> Option<i64> {
        let raw = self.uvarint(10)?;
        Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    #[inline(always)]
    fn varint(&mut self) -> Option<i32> {
        let raw = self.uvarint(5)? as u32;
        Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
    }

    #[inline(always)]
    fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let out = self.buf.get(self.pos..self.pos.checked_add(len)?)?;
        self.pos += len;
        Some(out)
    }

    /// A varint length followed by that many bytes; length -1 is null.
    #[inline(always)]
    fn nullable_bytes(&mut self) -> Option<Option<&'a [u8]>> {
        match self.varint()? {
            -1 => Some(None),
            n if n < 0 => None,
            n => Some(Some(self.bytes(n as usize)?)),
        }
    }
}

/// Walks the `count` records in `records` (the bytes after the 61-byte header, decompressed),
/// calling `visit(index, record)` until it returns false. Errors if a record is malformed or
/// the bytes do not hold exactly `count` records (unless stopped early).
pub fn for_each_record<'a>(
    records: &'a [u8],
    count: i32,
    mut visit: impl FnMut(i32, RecordView<'a>) -> bool,
) -> Result<(), RecordParseError> {
    let mut cursor = Cursor {
        buf: records,
        pos: 0,
    };
    for index in 0..count.max(0) {
        let err = |reason| RecordParseError { index, reason };
        let length = cursor.varint().ok_or(err(ParseFailure::Truncated))?;
        if length < 0 {
            return Err(err(ParseFailure::NegativeLength));
        }
        let body = cursor
            .bytes(length as usize)
            .ok_or(err(ParseFailure::LengthExceedsBatch))?;
        let record = parse_body(body).ok_or(err(ParseFailure::Malformed))?;
        if !visit(index, record) {
            return Ok(());
        }
    }
    if cursor.pos != records.len() {
        return Err(RecordParseError {
            index: count,
            reason: ParseFailure::TrailingBytes,
        });
    }
    Ok(())
}

/// A record with the parts the log cleaner needs to copy or re-time it: its encoded bytes
/// (length prefix included) and the bytes from the key onwards, kept verbatim on rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawRecord<'a> {
    pub(crate) attributes: u8,
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i32,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) has_value: bool,
    /// The whole record as stored (length varint + body).
    pub(crate) encoded: &'a [u8],
    /// Key, value and headers as stored.
    pub(crate) tail: &'a [u8],
}

/// Like [`for_each_record`], handing out [`RawRecord`]s.
pub(crate) fn for_each_raw_record<'a>(
    records: &'a [u8],
    count: i32,
    mut visit: impl FnMut(i32, RawRecord<'a>) -> bool,
) -> Result<(), RecordParseError> {
    let mut cursor = Cursor {
        buf: records,
        pos: 0,
    };
    for index in 0..count.max(0) {
        let err = |reason| RecordParseError { index, reason };
        let start = cursor.pos;
        let length = cursor.varint().ok_or(err(ParseFailure::Truncated))?;
        if length < 0 {
            return Err(err(ParseFailure::NegativeLength));
        }
        let body = cursor
            .bytes(length as usize)
            .ok_or(err(ParseFailure::LengthExceedsBatch))?;
        let view = parse_body(body).ok_or(err(ParseFailure::Malformed))?;
        let mut c = Cursor { buf: body, pos: 0 };
        let attributes = c.byte().ok_or(err(ParseFailure::Malformed))?;
        c.varlong().ok_or(err(ParseFailure::Malformed))?;
        c.varint().ok_or(err(ParseFailure::Malformed))?;
        let raw = RawRecord {
            attributes,
            timestamp_delta: view.timestamp_delta,
            offset_delta: view.offset_delta,
            key: view.key,
            has_value: view.value.is_some(),
            encoded: &records[start..cursor.pos],
            tail: &body[c.pos..],
        };
        if !visit(index, raw) {
            return Ok(());
        }
    }
    if cursor.pos != records.len() {
        return Err(RecordParseError {
            index: count,
            reason: ParseFailure::TrailingBytes,
        });
    }
    Ok(())
}

/// A record's headers as stored: keys may repeat, values may be null.
pub type RecordHeaders<'a> = Vec<(&'a [u8], Option<&'a [u8]>)>;

/// [`for_each_record`], with each record's headers too (the console's message browser shows
/// them; every other reader skips them).
pub fn for_each_record_with_headers<'a>(
    records: &'a [u8],
    count: i32,
    mut visit: impl FnMut(i32, RecordView<'a>, RecordHeaders<'a>) -> bool,
) -> Result<(), RecordParseError> {
    for_each_raw_record(records, count, |index, raw| {
        // The walk has checked the record's layout; this re-reads its tail for the headers.
        let mut c = Cursor {
            buf: raw.tail,
            pos: 0,
        };
        let mut parse = || {
            let key = c.nullable_bytes()?;
            let value = c.nullable_bytes()?;
            let count = c.varint()?;
            let mut headers = Vec::new();
            for _ in 0..count.max(0) {
                let hkey = c.nullable_bytes()?.unwrap_or_default();
                headers.push((hkey, c.nullable_bytes()?));
            }
            Some((key, value, headers))
        };
        match parse() {
            Some((key, value, headers)) => {
                let view = RecordView {
                    timestamp_delta: raw.timestamp_delta,
                    offset_delta: raw.offset_delta,
                    key,
                    value,
                };
                visit(index, view, headers)
            }
            None => false,
        }
    })
}

/// Appends a record re-encoded with new timestamp and offset deltas, its key, value and headers
/// copied from `tail` (as found in [`RawRecord::tail`]).
pub(crate) fn encode_raw_record(
    out: &mut Vec<u8>,
    attributes: u8,
    timestamp_delta: i64,
    offset_delta: i32,
    tail: &[u8],
) {
    let mut head = Vec::with_capacity(16);
    head.push(attributes);
    put_varlong(&mut head, timestamp_delta);
    put_varint(&mut head, offset_delta);
    put_varint(out, (head.len() + tail.len()) as i32);
    out.extend_from_slice(&head);
    out.extend_from_slice(tail);
}

#[inline(always)]
fn parse_body(body: &[u8]) -> Option<RecordView<'_>> {
    let mut c = Cursor { buf: body, pos: 0 };
    let _attributes = c.byte()?;
    let timestamp_delta = c.varlong()?;
    let offset_delta = c.varint()?;
    let key = c.nullable_bytes()?;
    let value = c.nullable_bytes()?;
    let header_count = c.varint()?;
    if header_count < 0 {
        return None;
    }
    for _ in 0..header_count {
        // Header keys are non-null strings; values may be null.
        let key_len = c.varint()?;
        if key_len < 0 {
            return None;
        }
        c.bytes(key_len as usize)?;
        c.nullable_bytes()?;
    }
    (c.pos == body.len()).then_some(RecordView {
        timestamp_delta,
        offset_delta,
        key,
        value,
    })
}

pub(crate) fn put_varint(out: &mut Vec<u8>, value: i32) {
    put_varlong(out, i64::from(value));
}

pub(crate) fn put_varlong(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    while raw >= 0x80 {
        out.push((raw as u8) | 0x80);
        raw >>= 7;
    }
    out.push(raw as u8);
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// Appends one encoded record (with its length prefix) to `out`.
pub(crate) fn encode_record(
    out: &mut Vec<u8>,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(Vec<u8>, Option<Vec<u8>>)],
) {
    let mut body =
        Vec::with_capacity(16 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
    body.push(0); // record attributes: unused
    put_varlong(&mut body, timestamp_delta);
    put_varint(&mut body, offset_delta);
    put_nullable(&mut body, key);
    put_nullable(&mut body, value);
    put_varint(&mut body, headers.len() as i32);
    for (hkey, hvalue) in headers {
        put_nullable(&mut body, Some(hkey));
        put_nullable(&mut body, hvalue.as_deref());
    }
    put_varint(out, body.len() as i32);
    out.extend_from_slice(&body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varlong_round_trip(v in any::<i64>()) {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            prop_assert_eq!(Cursor { buf: &out, pos: 0 }.varlong(), Some(v));
        }

        #[test]
        fn varint_round_trip(v in any::<i32>()) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            prop_assert_eq!(Cursor { buf: &out, pos: 0 }.varint(), Some(v));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), count in -2i32..50) {
            let _ = for_each_record(&bytes, count, |_, _| true);
        }
    }

    #[test]
    fn records_round_trip() {
        let mut out = Vec::new();
        let headers = vec![(b"h".to_vec(), None), (b"h".to_vec(), Some(b"v".to_vec()))];
        encode_record(&mut out, -5, 0, None, Some(b"v0"), &[]);
        encode_record(&mut out, 7, 1, Some(b"k1"), None, &headers);
        let mut seen = Vec::new();
        for_each_record(&out, 2, |i, r| {
            seen.push((i, r));
            true
        })
        .unwrap();
        assert_eq!(
            seen[0].1,
            RecordView {
                timestamp_delta: -5,
                offset_delta: 0,
                key: None,
                value: Some(b"v0")
            }
        );
        assert_eq!(
            seen[1].1,
            RecordView {
                timestamp_delta: 7,
                offset_delta: 1,
                key: Some(b"k1"),
                value: None
            }
        );
        // One record too many or too few declared.
        assert!(for_each_record(&out, 3, |_, _| true).is_err());
        assert_eq!(for_each_record(&out, 1, |_, _| true).unwrap_err().index, 1);
    }

    #[test]
    fn raw_records_copy_and_retime() {
        let mut out = Vec::new();
        let headers = vec![(b"h".to_vec(), Some(b"v".to_vec()))];
        encode_record(&mut out, 5, 0, Some(b"k0"), Some(b"v0"), &headers);
        encode_record(&mut out, 9, 3, Some(b"k1"), None, &[]);
        let mut copy = Vec::new();
        let mut retimed = Vec::new();
        for_each_raw_record(&out, 2, |_, r| {
            copy.extend_from_slice(r.encoded);
            encode_raw_record(
                &mut retimed,
                r.attributes,
                r.timestamp_delta - 100,
                r.offset_delta,
                r.tail,
            );
            true
        })
        .unwrap();
        assert_eq!(copy, out);
        let mut seen = Vec::new();
        for_each_record(&retimed, 2, |_, r| {
            seen.push((r.timestamp_delta, r.offset_delta, r.key, r.value));
            true
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (-95, 0, Some(&b"k0"[..]), Some(&b"v0"[..])),
                (-91, 3, Some(&b"k1"[..]), None)
            ]
        );
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let bytes = [0xffu8; 11];
        assert_eq!(
            Cursor {
                buf: &bytes,
                pos: 0
            }
            .varlong(),
            None
        );
        assert_eq!(
            Cursor {
                buf: &bytes,
                pos: 0
            }
            .varint(),
            None
        );
    }
}
