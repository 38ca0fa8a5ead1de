//! The listener: a bounded accept loop, one task per connection, and graceful shutdown.
//!
//! At most `max.connections` connections are served at once; further clients wait in the
//! kernel's accept backlog until a slot frees. Shutdown (SIGTERM/SIGINT) stops accepting,
//! lets every connection finish the request it is serving, then flushes and closes the logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::memory::RequestBudget;
use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::net::connection::{Connection, FileTransfer};

/// How long shutdown waits for in-flight requests (a long-poll fetch included) to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Binds the listener before the broker opens, so a configured port 0 becomes a real port
/// that the advertised listener (Metadata, FindCoordinator) can carry.
pub async fn bind(config: &mut BrokerConfig) -> std::io::Result<TcpListener> {
    let addr = config.listener.resolve()?;
    let listener = TcpListener::bind(addr).await?;
    let port = listener.local_addr()?.port();
    if config.listener.port == 0 {
        config.listener.port = port;
    }
    if config.advertised.port == 0 {
        config.advertised.port = port;
    }
    Ok(listener)
}

/// Serves until `stop` resolves, then shuts down cleanly.
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    transfer: FileTransfer,
    budget: Arc<RequestBudget>,
    stop: impl std::future::Future<Output = ()>,
) {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(broker.config.max_connections.max(1)));
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut stop => break,
        };
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
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
        let conn = Connection::new(stream, broker.clone(), budget.clone(), transfer);
        let rx = shutdown_rx.clone();
        connections.spawn(async move {
            if let Err(e) = conn.run(rx).await {
                tracing::debug!("connection closed: {e}");
            }
            drop(permit);
        });
        // Reap finished tasks so the set does not grow with every connection ever made.
        while connections.try_join_next().is_some() {}
    }
    tracing::info!("shutting down: waiting for in-flight requests");
    drop(listener);
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
