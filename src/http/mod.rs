//! The HTTP listener (`vltava.http.listener`, off unless set): `/health` (the process is up)
//! and `/ready` (logs recovered, Kafka listeners serving), plus the routes of the modules that
//! let a user see inside the broker. It sits at the network layer: it reaches the broker hub,
//! never the other way round.
//!
//! Bounded like the Kafka listeners: at most [`MAX_CONNECTIONS`] HTTP connections at once,
//! request bodies of at most [`MAX_BODY`] bytes, headers within [`HEADER_TIMEOUT`].

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::broker::Broker;

pub mod faults;
pub mod lag;
pub mod metrics;

/// HTTP connections served at once; more wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request body read.
pub const MAX_BODY: usize = 1 << 20;
/// Time allowed for a request's headers to arrive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the HTTP routes read: the broker, once it has opened its logs.
#[derive(Default)]
pub struct HttpState {
    broker: OnceLock<Arc<Broker>>,
}

impl HttpState {
    /// Called once the logs are recovered and the Kafka listeners serve: `/ready` turns 200.
    pub fn set_ready(&self, broker: Arc<Broker>) {
        let _ = self.broker.set(broker);
    }

    /// The broker, when it is ready.
    pub fn broker(&self) -> Option<&Arc<Broker>> {
        self.broker.get()
    }
}

/// A request as the routes see it: the body already read (bounded).
pub type HttpRequest = Request<Bytes>;
/// A response as the routes build it.
pub type HttpResponse = Response<Full<Bytes>>;

/// Serves HTTP on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<HttpState>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // A listener on a loopback address answers only requests addressed to a loopback name, so a
    // web page whose host name is re-pointed at 127.0.0.1 (DNS rebinding) cannot read the
    // console or set fault rules through the user's browser.
    let loopback_only = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("HTTP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move {
                    if loopback_only && !host_is_loopback(&req) {
                        return Ok::<_, Infallible>(text(
                            StatusCode::FORBIDDEN,
                            "this listener answers only requests addressed to localhost or a \
                             loopback address\n"
                                .into(),
                        ));
                    }
                    Ok(handle(&state, peer, req).await)
                }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("HTTP connection closed: {e}");
            }
            drop(permit);
        });
    }
}

/// Whether the request's Host header (absent counts as yes) names the loopback interface:
/// `localhost` or a loopback IP, with or without a port.
fn host_is_loopback<B>(req: &Request<B>) -> bool {
    let Some(host) = req.headers().get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        // [::1]:port
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads the body (bounded) and routes the request.
async fn handle(
    state: &HttpState,
    peer: std::net::SocketAddr,
    req: Request<Incoming>,
) -> HttpResponse {
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(faults::Peer(peer));
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_BODY} bytes\n"),
            );
        }
    };
    route(state, Request::from_parts(parts, body)).await
}

/// Every route the listener serves.
async fn route(state: &HttpState, req: HttpRequest) -> HttpResponse {
    let path = req.uri().path().to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/health") => text(StatusCode::OK, "ok\n".into()),
        (&Method::GET | &Method::HEAD, "/ready") => match state.broker() {
            Some(_) => text(StatusCode::OK, "ready\n".into()),
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "starting: recovering logs\n".into(),
            ),
        },
        (_, p) if crate::console::claims(p) => console(state, req).await,
        (_, p) if faults::owns(p) => faults::serve(state, &req),
        (&Method::GET | &Method::HEAD, "/metrics") => metrics::serve(state, &req).await,
        _ => text(StatusCode::NOT_FOUND, format!("no route for {path}\n")),
    }
}

/// The web console's pages and JSON API (`crate::console`), with the lag of `lag.rs`.
async fn console(state: &HttpState, req: HttpRequest) -> HttpResponse {
    fn lag_rows(broker: &Broker) -> Vec<crate::console::LagRow> {
        lag::group_lag(broker)
            .into_iter()
            .map(|l| (l.group, l.topic, l.partition, l.committed, l.end_offset))
            .collect()
    }
    let reply = crate::console::serve(state.broker().cloned(), req, lag_rows).await;
    respond(reply.status, reply.content_type, reply.body)
}

/// A plain-text response.
pub fn text(status: StatusCode, body: String) -> HttpResponse {
    respond(status, "text/plain; charset=utf-8", Bytes::from(body))
}

/// A response with a content type.
pub fn respond(status: StatusCode, content_type: &str, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: Option<&str>) -> Request<()> {
        let mut b = Request::builder().uri("/");
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn only_loopback_host_names_pass() {
        for ok in [
            None,
            Some("localhost"),
            Some("LOCALHOST:9644"),
            Some("127.0.0.1:8080"),
            Some("127.1.2.3"),
            Some("[::1]:9644"),
        ] {
            assert!(host_is_loopback(&with_host(ok)), "{ok:?}");
        }
        for refused in [
            Some("evil.example:9644"),
            Some("localhost.evil.example"),
            Some("10.0.0.1:9644"),
            Some("[::2]:1"),
        ] {
            assert!(!host_is_loopback(&with_host(refused)), "{refused:?}");
        }
    }
}
