//! One client connection: read a frame, decode, dispatch, write the response, repeat.
//!
//! Requests on a connection are handled strictly one at a time, so responses leave in request
//! order without any bookkeeping — Kafka's own model. acks=0 Produce gets no response.
//!
//! Errors come in two planes: Kafka error codes travel inside responses; a Rust `Err` here
//! means the connection is unusable (bad frame, I/O failure) and it is closed. Nothing a
//! client sends can do more than close its own connection.

use std::io::IoSlice;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestKind, ResponseHeader};
use kafka_protocol::protocol::Encodable;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use super::memory::{RequestBudget, RequestMemory};
use crate::broker::Broker;
use crate::fault::{self, Action as FaultAction};
use crate::handlers::fetch_encode::Chunk;
use crate::handlers::{self, Reply, RequestContext};
use crate::net::frame::{FrameError, decode_body, decode_header, peek_prefix};
use crate::net::oauth::Validator as OAuthValidator;
use crate::net::sasl::{Authenticator, Outcome};

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame size {0} outside 0..={1}")]
    FrameSize(i32, usize),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("encode: {0}")]
    Encode(String),
    #[error("closing after a failed acks=0 produce")]
    Closed,
    #[error("SASL: {0}")]
    Sasl(String),
    #[error("a frame of {0} bytes did not arrive within {1:?}")]
    SlowFrame(usize, Duration),
    #[error("dropped by fault rule (api {0:?})")]
    FaultDrop(ApiKey),
}

/// What a fault rule does to this request (called only while rules are armed): an injected
/// error's response, or `None` to serve it — after the injected delay, which holds this
/// connection only. A dropped connection is an `Err`.
async fn injected_reply(
    broker: &Broker,
    api: ApiKey,
    version: i16,
    client_id: Option<&str>,
    request: &RequestKind,
) -> Result<Option<Reply>, ConnectionError> {
    let resolve = |id: uuid::Uuid| broker.topics.get_by_id(&id).map(|t| t.name.to_string());
    let Some(action) = broker.faults.intercept(api, client_id, request, &resolve) else {
        return Ok(None);
    };
    tracing::info!("fault injected: {action:?} on {api:?} v{version} from {client_id:?}");
    match action {
        FaultAction::Delay(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(None)
        }
        FaultAction::Drop => Err(ConnectionError::FaultDrop(api)),
        FaultAction::Error(code) => Ok(match fault::error_response(request, version, code) {
            Some(fault::Injected::Respond(response)) => Some(Reply::Message(response)),
            Some(fault::Injected::Close) => Some(Reply::Close),
            None => None,
        }),
    }
}

/// Request memory a frame reserves before its first bytes are read; each next reservation is
/// as large as what has arrived (doubling), up to `MAX_CHUNK`.
const FIRST_CHUNK: usize = 16 * 1024;
const MAX_CHUNK: usize = 1024 * 1024;

/// How file regions reach the socket. Plain TCP uses sendfile; TLS copies through user space
/// because the bytes have to be encrypted (kernel TLS, which would allow sendfile, is not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTransfer {
    Sendfile,
    Copy,
}

/// The bytes' way to the client: a plain socket, or TLS over one.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub struct Connection {
    stream: Transport,
    broker: Arc<Broker>,
    budget: Arc<RequestBudget>,
    transfer: FileTransfer,
    client_host: String,
    /// The listener the client came in on (its advertised address answers Metadata).
    listener: Arc<str>,
    /// `User:…`: from the client certificate on TLS listeners, `User:ANONYMOUS` otherwise.
    /// Kept for the authorizer to come. On SASL listeners, `User:<name>` once authenticated.
    principal: String,
    /// On SASL listeners: the authentication state; nothing but ApiVersions and the SASL
    /// exchange is served until it completes.
    sasl: Option<Authenticator>,
    /// Set when a quota throttled the last request: nothing more is read from the client
    /// until then (Kafka mutes the channel; KIP-219).
    muted_until: Option<tokio::time::Instant>,
}

impl Connection {
    pub fn new(
        stream: TcpStream,
        broker: Arc<Broker>,
        budget: Arc<RequestBudget>,
        transfer: FileTransfer,
        listener: Arc<str>,
    ) -> Connection {
        let client_host = peer_host(&stream);
        let _ = stream.set_nodelay(true);
        let sasl = sasl_for(&broker, &listener);
        Connection {
            sasl,
            stream: Transport::Plain(stream),
            broker,
            budget,
            transfer,
            client_host,
            listener,
            principal: "User:ANONYMOUS".into(),
            muted_until: None,
        }
    }

    /// A connection on a TLS listener, after its handshake. File regions are copied.
    pub fn new_tls(
        stream: TlsStream<TcpStream>,
        principal: String,
        broker: Arc<Broker>,
        budget: Arc<RequestBudget>,
        listener: Arc<str>,
    ) -> Connection {
        let client_host = peer_host(stream.get_ref().0);
        let _ = stream.get_ref().0.set_nodelay(true);
        tracing::debug!("TLS client {client_host} on {listener} is {principal}");
        let sasl = sasl_for(&broker, &listener);
        Connection {
            sasl,
            stream: Transport::Tls(Box::new(stream)),
            broker,
            budget,
            transfer: FileTransfer::Copy,
            client_host,
            listener,
            principal,
            muted_until: None,
        }
    }

    /// Serves requests until the client leaves, the connection fails, or shutdown begins.
    /// Shutdown is observed only between requests, so an in-flight request is always answered.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), ConnectionError> {
        let idle = Duration::from_millis(self.broker.config.connections_max_idle_ms.max(1));
        loop {
            if let Some(until) = self.muted_until.take() {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
            }
            let frame = tokio::select! {
                r = tokio::time::timeout(idle, self.read_frame()) => match r {
                    Ok(r) => r?,
                    Err(_) => return Ok(()), // idle for connections.max.idle.ms
                },
                _ = shutdown.changed() => return Ok(()),
            };
            let Some((frame, memory)) = frame else {
                return Ok(());
            };
            if self.sasl_exchange_for(&frame)? {
                self.serve_unauthenticated(frame).await?;
            } else {
                self.serve(frame).await?;
            }
            drop(memory);
        }
    }

    /// Reads one size-prefixed frame; `None` on a clean end of stream. Request memory
    /// (`queued.max.request.bytes`) is reserved chunk by chunk as the bytes arrive — the first
    /// chunk small, each next one as large as what has arrived so far — so a size prefix alone
    /// holds almost nothing. Once the prefix is in, the whole frame must arrive within
    /// `frame_read_allowance`; a frame that trickles in is dropped with its
    /// connection.
    async fn read_frame(&mut self) -> Result<Option<(Bytes, RequestMemory)>, ConnectionError> {
        let mut size = [0u8; 4];
        match self.stream.read_exact(&mut size).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let size = i32::from_be_bytes(size);
        let mut max = self.broker.config.socket_request_max_bytes;
        if self.sasl.as_ref().is_some_and(|a| !a.is_authenticated()) {
            // Kafka's sasl.server.max.receive.size: an unauthenticated client gets little.
            max = max.min(self.broker.config.sasl_server_max_receive_size);
        }
        let len = usize::try_from(size)
            .ok()
            .filter(|n| *n <= max)
            .ok_or(ConnectionError::FrameSize(size, max))?;
        let allowance = frame_read_allowance(&self.broker.config, len);
        let budget = &self.budget;
        let stream = &mut self.stream;
        let read = async move {
            let mut memory = RequestMemory::default();
            let mut buf = BytesMut::new();
            while buf.len() < len {
                let chunk = (len - buf.len()).min(buf.len().clamp(FIRST_CHUNK, MAX_CHUNK));
                budget.reserve(&mut memory, chunk).await;
                buf.reserve(chunk);
                let chunk_end = buf.len() + chunk;
                while buf.len() < chunk_end {
                    let want = (chunk_end - buf.len()) as u64;
                    if (&mut *stream).take(want).read_buf(&mut buf).await? == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                    }
                }
            }
            Ok::<_, ConnectionError>((buf.freeze(), memory))
        };
        match tokio::time::timeout(allowance, read).await {
            Ok(frame) => frame.map(Some),
            Err(_) => Err(ConnectionError::SlowFrame(len, allowance)),
        }
    }

    /// True when `frame` belongs to the SASL exchange: the client has not authenticated yet,
    /// or this SaslHandshake starts a re-authentication (KIP-368). A request on a session that
    /// expired without re-authenticating closes the connection, as in Kafka.
    fn sasl_exchange_for(&mut self, frame: &Bytes) -> Result<bool, ConnectionError> {
        let Some(auth) = self.sasl.as_mut() else {
            return Ok(false);
        };
        if !auth.is_authenticated() {
            return Ok(true);
        }
        if auth.session_expiry_ms().is_none() {
            return Ok(false);
        }
        let prefix = peek_prefix(frame)?;
        if prefix.api_key == ApiKey::SaslHandshake as i16 && auth.begin_reauthentication() {
            tracing::debug!("{} begins re-authentication", self.principal);
            return Ok(true);
        }
        if auth.session_expired() {
            return Err(ConnectionError::Sasl(format!(
                "the session of {} expired without re-authentication",
                self.principal
            )));
        }
        Ok(false)
    }

    /// The listener's OAUTHBEARER validator, for a SASL connection that enables OAUTHBEARER.
    pub fn with_oauth_validator(mut self, validator: Option<Arc<OAuthValidator>>) -> Connection {
        if let (Some(auth), Some(v)) = (self.sasl.as_mut(), validator) {
            auth.set_oauth_validator(v);
        }
        self
    }

    /// Serves one request and counts it (`crate::metrics`): its API key and version, whether
    /// it failed, and the time from the frame read to the response written.
    async fn serve(&mut self, frame: Bytes) -> Result<(), ConnectionError> {
        let started = std::time::Instant::now();
        let prefix = peek_prefix(&frame).ok();
        let served = self.serve_request(frame).await;
        if let Some(p) = prefix {
            let failed = !matches!(served, Ok(false));
            let metrics = &self.broker.metrics.requests;
            metrics.record(p.api_key, p.api_version, started.elapsed(), failed);
        }
        served.map(|_| ())
    }

    /// Serves one request; `Ok(true)` when its response reports an error.
    async fn serve_request(&mut self, mut frame: Bytes) -> Result<bool, ConnectionError> {
        let frame_len = frame.len();
        let prefix = peek_prefix(&frame)?;
        let Ok(api) = ApiKey::try_from(prefix.api_key) else {
            return Err(FrameError::UnknownApiKey(prefix.api_key).into());
        };
        let version = prefix.api_version;
        let correlation_id = prefix.correlation_id;

        if api == ApiKey::ApiVersions && !handlers::is_supported(api, version) {
            // Kafka answers an ApiVersions it cannot parse with a v0 response carrying
            // UNSUPPORTED_VERSION and its own range, so the client can retry with a version it
            // knows.
            let body = handlers::api_versions::unsupported_version_response();
            return self
                .write_message(api, 0, correlation_id, &body)
                .await
                .map(|_| true);
        }
        if !handlers::is_supported(api, version) {
            return Err(
                FrameError::BadHeader(format!("unsupported version {version} of {api:?}")).into(),
            );
        }
        let header = decode_header(api, version, &mut frame)?;
        let ctx = RequestContext {
            broker: &self.broker,
            header: &header,
            version,
            client_host: &self.client_host,
            listener: &self.listener,
            principal: &self.principal,
        };
        let metered = self.broker.quotas.any();
        let (mut reply, busy) = if api == ApiKey::Produce && version < 3 {
            (
                handlers::produce::handle_removed_version(&ctx, frame),
                Duration::ZERO,
            )
        } else {
            let request = decode_body(api, version, &mut frame)?;
            let injected = if self.broker.faults.armed() {
                let client_id = header.client_id.as_deref();
                injected_reply(&self.broker, api, version, client_id, &request).await?
            } else {
                None
            };
            if let Some(reply) = injected {
                (reply, Duration::ZERO)
            } else {
                let dispatch = handlers::dispatch(&ctx, request);
                if metered {
                    busy_time(dispatch).await
                } else {
                    (dispatch.await, Duration::ZERO)
                }
            }
        };
        if metered {
            let usage = Usage {
                api,
                version,
                client_id: header.client_id.as_deref().unwrap_or(""),
                request_bytes: frame_len,
                busy,
            };
            let throttle_ms = throttle(&self.broker, &self.principal, &usage, &mut reply);
            if throttle_ms > 0 {
                self.muted_until =
                    Some(tokio::time::Instant::now() + Duration::from_millis(throttle_ms));
            }
        }
        let failed = match &reply {
            Reply::Message(body) => crate::metrics::response_has_error(body),
            _ => false,
        };
        match reply {
            Reply::Message(body) => {
                self.write_message(api, version, correlation_id, &body)
                    .await
            }
            Reply::Raw(body) => {
                let header = response_header(api, version, correlation_id)?;
                self.write_chunks(header, vec![Chunk::Mem(body)]).await
            }
            Reply::Chunks(chunks) => {
                let header = response_header(api, version, correlation_id)?;
                self.write_chunks(header, chunks).await
            }
            Reply::NoResponse => Ok(()),
            Reply::Close => Err(ConnectionError::Closed),
        }
        .map(|_| failed)
    }

    /// A frame from a client on a SASL listener that has not authenticated yet (see
    /// `net::sasl`): ApiVersions before the handshake, the handshake, the exchange's tokens;
    /// anything else closes the connection, as in Kafka.
    async fn serve_unauthenticated(&mut self, mut frame: Bytes) -> Result<(), ConnectionError> {
        let Some(auth) = self.sasl.as_mut() else {
            return self.serve(frame).await;
        };
        if auth.expects_raw_token() {
            let reply = auth.raw_token(&frame).map_err(ConnectionError::Sasl)?;
            self.adopt_principal();
            let mut lead = BytesMut::with_capacity(4);
            let len = i32::try_from(reply.len())
                .map_err(|_| ConnectionError::Encode("SASL token too large".into()))?;
            lead.put_i32(len);
            let mut pending = vec![lead.freeze(), Bytes::from(reply)];
            self.write_mem(&mut pending).await?;
            self.stream.flush().await?;
            return Ok(());
        }
        let prefix = peek_prefix(&frame)?;
        let api = ApiKey::try_from(prefix.api_key).ok();
        let version = prefix.api_version;
        let outcome = match api {
            Some(ApiKey::ApiVersions) if auth.accepts_api_versions() => {
                return self.serve(frame).await;
            }
            Some(api @ (ApiKey::SaslHandshake | ApiKey::SaslAuthenticate))
                if handlers::is_supported(api, version) =>
            {
                decode_header(api, version, &mut frame)?;
                match decode_body(api, version, &mut frame)? {
                    RequestKind::SaslHandshake(r) => auth.handshake(version, &r),
                    RequestKind::SaslAuthenticate(r) => auth.authenticate(&r),
                    _ => return Err(ConnectionError::Sasl("unexpected request".into())),
                }
            }
            _ => {
                return Err(ConnectionError::Sasl(format!(
                    "api key {} (v{version}) before authentication",
                    prefix.api_key
                )));
            }
        };
        let api = api.unwrap_or(ApiKey::SaslHandshake);
        match outcome {
            Outcome::Respond(body) => {
                self.adopt_principal();
                self.write_message(api, version, prefix.correlation_id, &body)
                    .await
            }
            Outcome::RespondAndClose(body) => {
                self.write_message(api, version, prefix.correlation_id, &body)
                    .await?;
                Err(ConnectionError::Sasl("authentication failed".into()))
            }
        }
    }

    /// Once SASL authentication succeeds, the connection's principal is the SASL user.
    fn adopt_principal(&mut self) {
        if let Some(p) = self.sasl.as_ref().and_then(|a| a.principal()) {
            self.principal = p.to_string();
        }
    }

    async fn write_message(
        &mut self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &kafka_protocol::messages::ResponseKind,
    ) -> Result<(), ConnectionError> {
        let header = response_header(api, version, correlation_id)?;
        let mut buf = BytesMut::new();
        body.encode(&mut buf, version)
            .map_err(|e| ConnectionError::Encode(e.to_string()))?;
        self.write_chunks(header, vec![Chunk::Mem(buf.freeze())])
            .await
    }

    /// Writes `size | header | chunks…`: memory pieces with vectored writes, file regions with
    /// sendfile (or a copy, for transports that must see the bytes).
    async fn write_chunks(
        &mut self,
        header: Bytes,
        chunks: Vec<Chunk>,
    ) -> Result<(), ConnectionError> {
        let body_len: usize = crate::handlers::fetch_encode::body_len(&chunks);
        let total = i32::try_from(header.len() + body_len)
            .map_err(|_| ConnectionError::Encode("response larger than 2 GiB".into()))?;
        let mut lead = BytesMut::with_capacity(4 + header.len());
        lead.put_i32(total);
        lead.put_slice(&header);
        let mut pending: Vec<Bytes> = vec![lead.freeze()];
        for chunk in chunks {
            match chunk {
                Chunk::Mem(b) => pending.push(b),
                Chunk::File(region) => {
                    self.write_mem(&mut pending).await?;
                    self.write_region(&region).await?;
                }
            }
        }
        self.write_mem(&mut pending).await?;
        // TLS may hold the last record back until flushed; plain TCP has nothing to flush.
        self.stream.flush().await?;
        Ok(())
    }

    async fn write_mem(&mut self, pending: &mut Vec<Bytes>) -> Result<(), ConnectionError> {
        let mut bufs: Vec<Bytes> = std::mem::take(pending);
        bufs.retain(|b| !b.is_empty());
        let mut first = 0;
        while first < bufs.len() {
            let slices: Vec<IoSlice<'_>> = bufs[first..].iter().map(|b| IoSlice::new(b)).collect();
            let mut n = self.stream.write_vectored(&slices).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            while first < bufs.len() && n >= bufs[first].len() {
                n -= bufs[first].len();
                first += 1;
            }
            if n > 0 {
                let rest = bufs[first].slice(n..);
                bufs[first] = rest;
            }
        }
        Ok(())
    }

    async fn write_region(
        &mut self,
        region: &crate::log::FileRegion,
    ) -> Result<(), ConnectionError> {
        match (&self.stream, self.transfer) {
            (Transport::Plain(_), FileTransfer::Sendfile) => self.sendfile_region(region).await,
            _ => self.copy_region(region).await,
        }
    }

    async fn sendfile_region(
        &mut self,
        region: &crate::log::FileRegion,
    ) -> Result<(), ConnectionError> {
        let mut offset = i64::try_from(region.position)
            .map_err(|_| ConnectionError::Encode("file offset too large".into()))?;
        let mut remaining = region.len as usize;
        let Transport::Plain(stream) = &self.stream else {
            return Err(std::io::Error::other("sendfile on a TLS connection").into());
        };
        while remaining > 0 {
            stream.writable().await?;
            let file = region.file.clone();
            let result = stream.try_io(Interest::WRITABLE, || {
                nix::sys::sendfile::sendfile(
                    stream.as_fd(),
                    file.as_fd(),
                    Some(&mut offset),
                    remaining,
                )
                .map_err(std::io::Error::from)
            });
            match result {
                Ok(0) => {
                    // The file is shorter than the region promised: never send a short response.
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
                Ok(n) => remaining -= n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn copy_region(
        &mut self,
        region: &crate::log::FileRegion,
    ) -> Result<(), ConnectionError> {
        use std::os::unix::fs::FileExt;
        const COPY_CHUNK: usize = 256 * 1024;
        let mut buf = vec![0u8; COPY_CHUNK.min(region.len as usize)];
        let mut pos = region.position;
        let mut remaining = region.len as usize;
        while remaining > 0 {
            let want = remaining.min(buf.len());
            let n = region.file.read_at(&mut buf[..want], pos)?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            self.stream.write_all(&buf[..n]).await?;
            pos += n as u64;
            remaining -= n;
        }
        Ok(())
    }
}

/// What one request cost, for the client quotas.
struct Usage<'a> {
    api: ApiKey,
    version: i16,
    client_id: &'a str,
    /// The request frame's size (what `producer_byte_rate` counts).
    request_bytes: usize,
    /// Time the handler spent running (polled), not waiting.
    busy: Duration,
}

/// Records a request against the client's quotas (`crate::quota`) and returns how long to
/// throttle it, with the throttle time set in the reply: Produce counts its request bytes,
/// Fetch its response bytes (a throttled Fetch answers with no data instead), and every request
/// but cluster actions and acks=0 produces its handler time. Kafka's rule: the larger throttle
/// wins.
fn throttle(broker: &Broker, principal: &str, usage: &Usage<'_>, reply: &mut Reply) -> u64 {
    use crate::quota::{QuotaKind, exempt_from_request_quota};
    let quotas = &broker.quotas;
    let now = quotas.now_ms();
    let client_id = usage.client_id;
    let fetched = match (usage.api, &*reply) {
        (ApiKey::Fetch, Reply::Chunks(chunks)) => crate::handlers::fetch_encode::body_len(chunks),
        _ => 0,
    };
    let bandwidth = match usage.api {
        ApiKey::Produce if usage.version >= 3 => quotas.record(
            QuotaKind::Produce,
            principal,
            client_id,
            usage.request_bytes as f64,
            now,
        ),
        ApiKey::Fetch => quotas.record(QuotaKind::Fetch, principal, client_id, fetched as f64, now),
        _ => 0,
    };
    let answered = !matches!(reply, Reply::NoResponse | Reply::Close);
    let request = if answered && !exempt_from_request_quota(usage.api) {
        // Percent of one thread: nanoseconds × 100 / 10⁹ (Kafka's NanosToPercentagePerSecond).
        let percent = usage.busy.as_nanos() as f64 * 100.0 / 1e9;
        quotas.record(QuotaKind::Request, principal, client_id, percent, now)
    } else {
        0
    };
    let throttle_ms = bandwidth.max(request);
    if throttle_ms == 0 {
        return 0;
    }
    let wire_ms = i32::try_from(throttle_ms).unwrap_or(i32::MAX);
    match reply {
        Reply::Chunks(_) if usage.api == ApiKey::Fetch => {
            quotas.unrecord(QuotaKind::Fetch, principal, client_id, fetched as f64, now);
            *reply = crate::handlers::fetch::throttled(usage.version, wire_ms);
        }
        Reply::Message(body) => crate::handlers::set_throttle_time(body, wire_ms),
        _ => {}
    }
    tracing::debug!(
        api = ?usage.api,
        client_id,
        principal,
        throttle_ms,
        "request throttled by a client quota"
    );
    throttle_ms
}

/// Runs a handler, measuring the time it spends being polled (the work it does, not its
/// waits): the request time `request_percentage` limits.
async fn busy_time<F: std::future::Future>(future: F) -> (F::Output, Duration) {
    let mut future = std::pin::pin!(future);
    let mut busy = Duration::ZERO;
    let output = std::future::poll_fn(|cx| {
        let started = std::time::Instant::now();
        let polled = future.as_mut().poll(cx);
        busy += started.elapsed();
        polled
    })
    .await;
    (output, busy)
}

fn peer_host(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// How long a frame of `len` bytes may take to arrive once its size prefix has:
/// `vltava.request.read.timeout.ms` plus the time at `vltava.request.read.min.bytes.per.sec`.
fn frame_read_allowance(config: &crate::config::BrokerConfig, len: usize) -> Duration {
    let rate = config.request_read_min_bytes_per_sec.max(1);
    let ms = config
        .request_read_timeout_ms
        .saturating_add((len as u64).saturating_mul(1000) / rate);
    Duration::from_millis(ms)
}

/// Response header: v0 is just the correlation id; v1 adds an (empty) tagged-field section.
/// ApiVersions always answers with v0 so clients can parse it before negotiating.
/// The authenticator for a connection on `listener`, if that listener uses SASL.
fn sasl_for(broker: &Arc<Broker>, listener: &str) -> Option<Authenticator> {
    let l = broker
        .config
        .listeners
        .iter()
        .find(|l| l.name == listener)?;
    let scram = {
        let broker = broker.clone();
        Arc::new(move |user: &str, mechanism| broker.scram_credential(user, mechanism))
    };
    l.protocol
        .uses_sasl()
        .then(|| Authenticator::new(l.sasl.clone(), scram))
}

fn response_header(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
) -> Result<Bytes, ConnectionError> {
    let header_version = api.response_header_version(version);
    let mut buf = BytesMut::with_capacity(5);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(|e| ConnectionError::Encode(e.to_string()))?;
    Ok(buf.freeze())
}
