//! A small Kafka client for the command line's daily chores (`vltava topic …`, `vltava produce`,
//! `vltava consume`, `vltava group …`), in the style of Redpanda's `rpk`.
//!
//! It talks to a broker only over the wire, with kafka-protocol's client-side encoders, exactly
//! as any other client would: it imports nothing else of this crate, so it works against
//! Vltava or Apache Kafka alike. One connection to the bootstrap broker carries every request;
//! that is right for a single broker (all this binary serves today) and for any broker of a
//! cluster for the admin requests, but Produce and Fetch would have to follow partition
//! leaders once brokers lead different partitions (the cluster issue).
//!
//! Every call is bounded by the connection's timeout; responses are read with a size limit.

pub mod commands;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response frame this client accepts (a Fetch is asked for less).
const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// What can go wrong talking to a broker; the command prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("connection to the broker failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the broker did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot encode the request: {0}")]
    Encode(String),
    #[error("the broker's answer could not be read: {0}")]
    Decode(String),
    /// The broker refused (its error code's name and message).
    #[error("{0}")]
    Broker(String),
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
}

/// One connection to a broker.
pub struct Client {
    stream: TcpStream,
    correlation_id: i32,
    timeout: Duration,
}

impl Client {
    pub async fn connect(address: &str, timeout: Duration) -> Result<Client, ClientError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
            .map_err(|e| ClientError::Connect(address.to_string(), e))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            correlation_id: 0,
            timeout,
        })
    }

    /// Sends one request at `version` and returns its decoded response.
    pub async fn call(
        &mut self,
        api: ApiKey,
        version: i16,
        request: RequestKind,
    ) -> Result<ResponseKind, ClientError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, self.round_trip(api, version, request))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    async fn round_trip(
        &mut self,
        api: ApiKey,
        version: i16,
        request: RequestKind,
    ) -> Result<ResponseKind, ClientError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("vltava-cli")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(version))
            .map_err(|e| ClientError::Encode(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| ClientError::Encode(e.to_string()))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        let size = i32::try_from(body.len()).map_err(|e| ClientError::Encode(e.to_string()))?;
        frame.put_i32(size);
        frame.put_slice(&body);
        self.stream.write_all(&frame).await?;

        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).await?;
        let size = usize::try_from(i32::from_be_bytes(size))
            .ok()
            .filter(|s| *s <= MAX_RESPONSE_BYTES)
            .ok_or_else(|| ClientError::Decode("response size out of range".into()))?;
        let mut buf = vec![0u8; size];
        self.stream.read_exact(&mut buf).await?;
        let mut buf = Bytes::from(buf);
        let header = ResponseHeader::decode(&mut buf, api.response_header_version(version))
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        if header.correlation_id != self.correlation_id {
            return Err(ClientError::Decode(format!(
                "correlation id {} where {} was expected",
                header.correlation_id, self.correlation_id
            )));
        }
        ResponseKind::decode(api, &mut buf, version).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

/// The whole record batches at the start of `records` (a Fetch may end with a partial one).
pub fn whole_batches(records: &Bytes) -> Bytes {
    let mut end = 0usize;
    while records.len() >= end + 12 {
        let length = i32::from_be_bytes([
            records[end + 8],
            records[end + 9],
            records[end + 10],
            records[end + 11],
        ]);
        let Some(next) = usize::try_from(length)
            .ok()
            .and_then(|l| end.checked_add(12 + l))
        else {
            break;
        };
        if next > records.len() {
            break;
        }
        end = next;
    }
    records.slice(..end)
}
