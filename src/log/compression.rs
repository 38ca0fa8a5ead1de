//! Record-batch compression codecs (attributes bits 0-2), with a hard bound on decompressed size.
//!
//! Kafka decompresses without limit; a few kilobytes of zstd or gzip can expand to gigabytes, so
//! every decompression here stops at `limit` bytes and fails instead. Formats are Kafka's:
//! gzip (possibly several members), snappy in xerial's block framing (what the Java client and
//! librdkafka write; plain raw snappy is also accepted), LZ4 frame format, zstd frames.

use std::io::{self, Read};

/// Compression codec of a record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The codec for attribute bits 0-2; `None` (the Option) for the unused ids 5-7.
    pub fn from_id(id: u8) -> Option<Compression> {
        match id {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }
}

/// Why a payload could not be decompressed.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("decompressed size exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("cannot decompress {codec:?} payload: {reason}")]
    Invalid { codec: Compression, reason: String },
}

/// The xerial snappy stream header: magic (8 bytes), version (i32), compatible version (i32).
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;

/// zstd window bound (2^24 = 16 MiB): frames asking for more are refused rather than letting a
/// hostile header make the decoder allocate up to 2 GiB.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// Decompresses `input`, failing once the output would exceed `limit` bytes.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    let invalid = |e: &dyn std::fmt::Display| DecompressError::Invalid {
        codec,
        reason: e.to_string(),
    };
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(DecompressError::TooLarge(limit));
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(input),
            input.len(),
            limit,
            codec,
        ),
        Compression::Lz4 => {
            let decoder = lz4::Decoder::new(input).map_err(|e| invalid(&e))?;
            read_bounded(decoder, input.len(), limit, codec)
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(input).map_err(|e| invalid(&e))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| invalid(&e))?;
            read_bounded(decoder, input.len(), limit, codec)
        }
        Compression::Snappy => decompress_snappy(input, limit),
    }
}

fn read_bounded(
    reader: impl Read,
    input_len: usize,
    limit: usize,
    codec: Compression,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity(input_len.saturating_mul(4).min(limit));
    let mut bounded = reader.take(limit as u64 + 1);
    bounded
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Invalid {
            codec,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge(limit));
    }
    Ok(out)
}

fn decompress_snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let invalid = |reason: String| DecompressError::Invalid {
        codec: Compression::Snappy,
        reason,
    };
    let mut out = Vec::new();
    if !input.starts_with(&XERIAL_MAGIC) {
        snappy_block_into(input, &mut out, limit)?;
        return Ok(out);
    }
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| invalid("truncated xerial header".into()))?;
    while !rest.is_empty() {
        let (len_bytes, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid("truncated block length".into()))?;
        let len = u32::from_be_bytes(*len_bytes) as usize;
        let block = tail
            .get(..len)
            .ok_or_else(|| invalid("truncated block".into()))?;
        snappy_block_into(block, &mut out, limit)?;
        rest = &tail[len..];
    }
    Ok(out)
}

fn snappy_block_into(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), DecompressError> {
    let invalid = |e: snap::Error| DecompressError::Invalid {
        codec: Compression::Snappy,
        reason: e.to_string(),
    };
    let len = snap::raw::decompress_len(block).map_err(invalid)?;
    let start = out.len();
    if len > limit - start {
        return Err(DecompressError::TooLarge(limit));
    }
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(invalid)?;
    out.truncate(start + written);
    Ok(())
}

/// Compresses `input` in the format Kafka clients write (used by the batch builder).
pub fn compress(codec: Compression, input: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(input)?;
            encoder.finish()
        }
        Compression::Lz4 => {
            let mut encoder = lz4::EncoderBuilder::new().build(Vec::new())?;
            encoder.write_all(input)?;
            let (out, result) = encoder.finish();
            result.map(|()| out)
        }
        Compression::Zstd => zstd::stream::encode_all(input, 3),
        Compression::Snappy => {
            // xerial framing: header, then [u32 BE length][raw snappy block] per 32 KiB chunk.
            let mut out = Vec::with_capacity(input.len() / 2 + XERIAL_HEADER_LEN);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in input.chunks(32 * 1024) {
                let block = encoder.compress_vec(chunk).map_err(io::Error::other)?;
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn round_trip_every_codec() {
        let input: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in ALL {
            let packed = compress(codec, &input).unwrap();
            assert_eq!(
                decompress(codec, &packed, input.len()).unwrap(),
                input,
                "{codec:?}"
            );
        }
    }

    #[test]
    fn limit_is_enforced_for_every_codec() {
        let input = vec![7u8; 1 << 20];
        for codec in ALL {
            let packed = compress(codec, &input).unwrap();
            match decompress(codec, &packed, (1 << 20) - 1) {
                Err(DecompressError::TooLarge(_)) => {}
                other => panic!(
                    "{codec:?}: expected TooLarge, got {:?}",
                    other.map(|v| v.len())
                ),
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let garbage: Vec<u8> = (0..300u32).map(|i| (i * 37 % 256) as u8).collect();
        for codec in ALL[1..].iter().copied() {
            let _ = decompress(codec, &garbage, 1 << 20);
            let mut xerial = XERIAL_MAGIC.to_vec();
            xerial.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 1]);
            assert!(decompress(Compression::Snappy, &xerial, 1 << 20).is_err());
        }
    }
}
