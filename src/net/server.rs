//! The listeners: a bounded accept loop over every configured listener, one task per
//! connection, and graceful shutdown.
//!
//! At most `max.connections` connections are served at once, across all listeners; further
//! clients wait in the kernel's accept backlog until a slot frees. Each connection knows the
//! listener it came in on (Metadata answers with that listener's advertised address) and, on
//! TLS listeners, runs its handshake in its own task, so a slow handshake holds up nobody. Shutdown (SIGTERM/SIGINT) stops accepting,
//! lets every connection finish the request it is serving, then flushes and closes the logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::memory::RequestBudget;
use super::oauth;
use super::tls::{self, TlsListener, TlsSetupError};
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::metrics::ConnectionGauges;
use crate::net::connection::{Connection, FileTransfer};

/// How long shutdown waits for in-flight requests (a long-poll fetch included) to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// One bound listener socket, with its name and (for SSL listeners) its TLS acceptor.
pub struct BoundListener {
    pub name: Arc<str>,
    socket: TcpListener,
    tls: Option<Arc<TlsListener>>,
    /// The OAUTHBEARER token validator of a SASL listener that enables it.
    oauth: Option<Arc<oauth::Validator>>,
}

/// Every listener's socket, bound before the broker opens so a configured port 0 becomes a
/// real port that the advertised listener (Metadata, FindCoordinator) can carry.
pub struct Listeners {
    pub bound: Vec<BoundListener>,
}

impl Listeners {
    /// The first listener's local address (the only one in the default setup).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.bound
            .first()
            .ok_or_else(|| std::io::Error::other("no listener"))?
            .socket
            .local_addr()
    }

    /// The local address of the listener called `name`.
    pub fn local_addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.bound
            .iter()
            .find(|b| &*b.name == name)
            .and_then(|b| b.socket.local_addr().ok())
    }
}

/// Why start-up could not bind a listener.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot bind listener {0} ({1}): {2}")]
    Io(String, String, std::io::Error),
    #[error("listener {0}: {1}")]
    Tls(String, TlsSetupError),
    #[error("listener {0}: OAUTHBEARER: {1}")]
    OAuth(String, String),
}

/// Builds every TLS acceptor (reading key and trust stores) and binds every listener.
pub async fn bind(config: &mut BrokerConfig) -> Result<Listeners, BindError> {
    let mut bound = Vec::new();
    for l in &mut config.listeners {
        let tls = if l.protocol.uses_tls() {
            let tls = tls::listener(&l.ssl).map_err(|e| BindError::Tls(l.name.clone(), e))?;
            Some(Arc::new(tls))
        } else {
            None
        };
        let oauth = match l.sasl.oauthbearer.clone() {
            // A JWKS validator reads its key file: off the async workers.
            Some(validation) => Some(
                tokio::task::spawn_blocking(move || oauth::Validator::start(&validation))
                    .await
                    .map_err(|e| BindError::OAuth(l.name.clone(), e.to_string()))?
                    .map_err(|e| BindError::OAuth(l.name.clone(), e))?,
            ),
            None => None,
        };
        let io = |e| BindError::Io(l.name.clone(), l.bind.bind_addr(), e);
        let addr = l.bind.resolve().map_err(io)?;
        let socket = TcpListener::bind(addr).await.map_err(io)?;
        let port = socket.local_addr().map_err(io)?.port();
        if l.bind.port == 0 {
            l.bind.port = port;
        }
        if l.advertised.port == 0 {
            l.advertised.port = port;
        }
        bound.push(BoundListener {
            name: Arc::from(l.name.as_str()),
            socket,
            tls,
            oauth,
        });
    }
    Ok(Listeners { bound })
}

/// Accepts the next connection on any listener: (stream, which listener).
async fn accept_any(listeners: &Listeners) -> std::io::Result<(TcpStream, usize)> {
    let accepts = listeners
        .bound
        .iter()
        .enumerate()
        .map(|(i, b)| Box::pin(async move { b.socket.accept().await.map(|(s, _)| (s, i)) }));
    futures_select_all(accepts).await
}

/// The first of several futures to finish (a tiny `select_all`, to avoid a dependency).
async fn futures_select_all<F, T>(futures: impl Iterator<Item = F>) -> T
where
    F: std::future::Future<Output = T> + Unpin,
{
    let mut futures: Vec<F> = futures.collect();
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if let std::task::Poll::Ready(v) = std::pin::Pin::new(f).poll(cx) {
                return std::task::Poll::Ready(v);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Serves until `stop` resolves, then shuts down cleanly.
pub async fn serve(
    broker: Arc<Broker>,
    listeners: Listeners,
    transfer: FileTransfer,
    budget: Arc<RequestBudget>,
    stop: impl std::future::Future<Output = ()>,
) {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let probe = budget.clone();
    broker.metrics.set_request_memory_probe(Box::new(move || {
        (
            u64::from(probe.in_use_kib()) * 1024,
            u64::from(probe.total_kib()) * 1024,
        )
    }));
    let slots = Arc::new(Semaphore::new(broker.config.max_connections.max(1)));
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut stop => break,
        };
        let (stream, index) = tokio::select! {
            a = accept_any(&listeners) => match a {
                Ok(a) => a,
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Some(listener) = listeners.bound.get(index) else {
            continue;
        };
        let name = listener.name.clone();
        let tls = listener.tls.clone();
        let oauth = listener.oauth.clone();
        let (broker, budget, rx) = (broker.clone(), budget.clone(), shutdown_rx.clone());
        connections.spawn(async move {
            let _counted = ConnectionGauges::opened(&broker.metrics, &name);
            let conn = match tls {
                None => Connection::new(stream, broker, budget, transfer, name),
                Some(acceptor) => {
                    // The handshake gets the time a started request would get.
                    let limit = Duration::from_millis(broker.config.request_read_timeout_ms.max(1));
                    match tls::accept(&acceptor, stream, limit).await {
                        Ok((stream, principal)) => {
                            Connection::new_tls(stream, principal, broker, budget, name)
                        }
                        Err(e) => {
                            tracing::info!("TLS handshake on listener {name} failed: {e}");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = conn.with_oauth_validator(oauth).run(rx).await {
                tracing::debug!("connection closed: {e}");
            }
            drop(permit);
        });
        // Reap finished tasks so the set does not grow with every connection ever made.
        while connections.try_join_next().is_some() {}
    }
    tracing::info!("shutting down: waiting for in-flight requests");
    drop(listeners);
    let _ = shutdown_tx.send(true);
    // JoinGroup/SyncGroup requests parked in a rebalance would hold their connections open
    // for the whole grace period: answer them now (NOT_COORDINATOR, as Kafka on unload).
    broker.groups.unload();
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while !connections.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, connections.join_next())
            .await
            .is_err()
        {
            connections.abort_all();
            break;
        }
    }
    let b = broker.clone();
    let _ = tokio::task::spawn_blocking(move || b.close()).await;
    tracing::info!("shutdown complete");
}
