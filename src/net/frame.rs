//! Request frames: the 4-byte size prefix, the request header, and a panic-proof body decode.
//!
//! Kafka frames are `i32 size | header | body`. The header starts with api key (i16), api
//! version (i16) and correlation id (i32); the client id and (for flexible versions) tagged
//! fields follow. We read those first eight bytes ourselves because kafka-protocol's header
//! helper panics on frames shorter than four bytes, and because the correlation id must be
//! known even when the rest of the frame is garbage.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

/// Why a frame could not become a request. Every variant closes the connection, as Kafka does,
/// except where the dispatcher answers instead (ApiVersions with an unknown version).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is shorter than a request header")]
    TooShort(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("malformed request header: {0}")]
    BadHeader(String),
    #[error("malformed {api:?} v{version} body: {reason}")]
    BadBody {
        api: ApiKey,
        version: i16,
        reason: String,
    },
}

/// The fixed first eight bytes of every request header.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Reads the fixed header prefix without consuming the frame.
pub fn peek_prefix(frame: &[u8]) -> Result<HeaderPrefix, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::TooShort(frame.len()));
    }
    let mut b = &frame[..8];
    Ok(HeaderPrefix {
        api_key: b.get_i16(),
        api_version: b.get_i16(),
        correlation_id: b.get_i32(),
    })
}

/// Decodes the full request header for `api` at `version`, leaving `frame` at the body.
pub fn decode_header(
    api: ApiKey,
    version: i16,
    frame: &mut Bytes,
) -> Result<RequestHeader, FrameError> {
    let header_version = api.request_header_version(version);
    guarded(|| RequestHeader::decode(frame, header_version))
        .map_err(|reason| FrameError::BadHeader(reason.to_string()))
}

/// Decodes a request body. Runs inside `catch_unwind` as a last line of defence: the decoder is
/// third-party code fed with hostile bytes, and a panic must cost one connection, not the broker.
pub fn decode_body(api: ApiKey, version: i16, body: &mut Bytes) -> Result<RequestKind, FrameError> {
    guarded(|| RequestKind::decode(api, body, version)).map_err(|reason| FrameError::BadBody {
        api,
        version,
        reason: reason.to_string(),
    })
}

fn guarded<T>(f: impl FnOnce() -> anyhow::Result<T>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("decoder panicked".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frames_are_errors_not_panics() {
        for len in 0..8 {
            assert!(matches!(
                peek_prefix(&vec![0u8; len]),
                Err(FrameError::TooShort(_))
            ));
        }
    }

    #[test]
    fn huge_metadata_topic_count_fails_cleanly() {
        // api key 3, version 1, correlation 7, null client id, topics count 0x7fffffff.
        let frame: Vec<u8> = vec![0, 3, 0, 1, 0, 0, 0, 7, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff];
        let p = peek_prefix(&frame).unwrap();
        assert_eq!((p.api_key, p.api_version, p.correlation_id), (3, 1, 7));
        let mut bytes = Bytes::from(frame);
        let header = decode_header(ApiKey::Metadata, 1, &mut bytes).unwrap();
        assert_eq!(header.client_id, None);
        assert!(decode_body(ApiKey::Metadata, 1, &mut bytes).is_err());
    }
}
