//! The broker's own counters for what the network sees: requests, errors and latency per API
//! key and version, connections per listener, and a window on the request-memory budget.
//! The network layer records into them; the HTTP listener's `/metrics` (`http::metrics`)
//! reads them together with the log's stats (`log::stats`) and the hub's state.
//!
//! Recording is cheap by construction: fixed arrays of relaxed atomics indexed by API key and
//! version, fixed-bucket histograms, no lock and no allocation per request. The module sits
//! just above the log (it reuses the log's histogram) so that the hub can own an instance and
//! the network can record into it without any layer pointing up.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kafka_protocol::messages::ResponseKind;

use crate::log::stats::{HistogramSnapshot, LatencyHistogram};

/// API keys counted (Kafka's keys are below 100); requests with a larger key are not counted.
pub const API_KEYS: usize = 128;
/// Versions counted per key (the newest Kafka version of any API is below 20).
pub const VERSIONS: usize = 32;

/// Everything the network layer records, owned by the hub (`Broker::metrics`).
pub struct BrokerMetrics {
    pub requests: RequestMetrics,
    pub connections: ConnectionGauges,
    /// Reads (in use, total) bytes of the request-memory budget (`queued.max.request.bytes`),
    /// set by the network layer, which owns the budget.
    request_memory: OnceLock<RequestMemoryProbe>,
}

/// Reads the request-memory budget: (bytes in use, bytes in all).
pub type RequestMemoryProbe = Box<dyn Fn() -> (u64, u64) + Send + Sync>;

impl BrokerMetrics {
    pub fn new<'a>(listeners: impl IntoIterator<Item = &'a str>) -> BrokerMetrics {
        BrokerMetrics {
            requests: RequestMetrics::default(),
            connections: ConnectionGauges::new(listeners),
            request_memory: OnceLock::new(),
        }
    }

    /// Called once by the network layer when it starts serving with its budget.
    pub fn set_request_memory_probe(&self, probe: RequestMemoryProbe) {
        let _ = self.request_memory.set(probe);
    }

    /// (bytes in use, bytes in all) of the request-memory budget, once the network serves.
    pub fn request_memory(&self) -> Option<(u64, u64)> {
        self.request_memory.get().map(|probe| probe())
    }
}

/// Requests, errors and latency per API key (× version for the counts).
pub struct RequestMetrics {
    /// `API_KEYS × VERSIONS` request counts.
    requests: Box<[AtomicU64]>,
    /// Requests whose response carried an error code, or that closed the connection.
    errors: Box<[AtomicU64]>,
    /// Time from the whole frame read to the response written, per API key.
    latency: Box<[LatencyHistogram]>,
}

/// One (key, version) pair's counts, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCount {
    pub api_key: i16,
    pub version: i16,
    pub requests: u64,
    pub errors: u64,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        let counters = || {
            (0..API_KEYS * VERSIONS)
                .map(|_| AtomicU64::new(0))
                .collect()
        };
        RequestMetrics {
            requests: counters(),
            errors: counters(),
            latency: (0..API_KEYS).map(|_| LatencyHistogram::new()).collect(),
        }
    }
}

impl RequestMetrics {
    /// Counts one request of `api_key` v`version` that took `elapsed`. Keys and versions
    /// outside the arrays (no handler serves them) are not counted.
    pub fn record(&self, api_key: i16, version: i16, elapsed: Duration, error: bool) {
        let (Ok(key), Ok(v)) = (usize::try_from(api_key), usize::try_from(version)) else {
            return;
        };
        if key >= API_KEYS || v >= VERSIONS {
            return;
        }
        let slot = key * VERSIONS + v;
        if let Some(c) = self.requests.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if error && let Some(c) = self.errors.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(h) = self.latency.get(key) {
            h.record(elapsed);
        }
    }

    /// Every (key, version) with at least one request.
    pub fn counts(&self) -> Vec<RequestCount> {
        let mut out = Vec::new();
        for (slot, requests) in self.requests.iter().enumerate() {
            let requests = requests.load(Ordering::Relaxed);
            if requests == 0 {
                continue;
            }
            let errors = self
                .errors
                .get(slot)
                .map_or(0, |e| e.load(Ordering::Relaxed));
            out.push(RequestCount {
                api_key: (slot / VERSIONS) as i16,
                version: (slot % VERSIONS) as i16,
                requests,
                errors,
            });
        }
        out
    }

    /// The latency histogram of `api_key`.
    pub fn latency(&self, api_key: i16) -> Option<HistogramSnapshot> {
        let key = usize::try_from(api_key).ok()?;
        self.latency.get(key).map(LatencyHistogram::snapshot)
    }
}

/// Open connections per listener, and connections ever accepted.
pub struct ConnectionGauges {
    listeners: Vec<ListenerConnections>,
}

struct ListenerConnections {
    name: String,
    open: AtomicI64,
    accepted: AtomicU64,
}

/// One listener's connections, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerCount {
    pub listener: String,
    pub open: i64,
    pub accepted: u64,
}

/// An open connection, counted until dropped.
pub struct OpenConnection {
    metrics: Arc<BrokerMetrics>,
    index: usize,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if let Some(l) = self.metrics.connections.listeners.get(self.index) {
            l.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl ConnectionGauges {
    fn new<'a>(listeners: impl IntoIterator<Item = &'a str>) -> ConnectionGauges {
        ConnectionGauges {
            listeners: listeners
                .into_iter()
                .map(|name| ListenerConnections {
                    name: name.to_string(),
                    open: AtomicI64::new(0),
                    accepted: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Counts a connection accepted on `listener` (once per connection, not per request);
    /// it counts as open until the returned guard is dropped.
    pub fn opened(metrics: &Arc<BrokerMetrics>, listener: &str) -> Option<OpenConnection> {
        let index = metrics
            .connections
            .listeners
            .iter()
            .position(|l| l.name == listener)?;
        let l = metrics.connections.listeners.get(index)?;
        l.open.fetch_add(1, Ordering::Relaxed);
        l.accepted.fetch_add(1, Ordering::Relaxed);
        Some(OpenConnection {
            metrics: metrics.clone(),
            index,
        })
    }

    pub fn counts(&self) -> Vec<ListenerCount> {
        self.listeners
            .iter()
            .map(|l| ListenerCount {
                listener: l.name.clone(),
                open: l.open.load(Ordering::Relaxed),
                accepted: l.accepted.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// Whether a response reports an error: its top-level error code, or for Produce any
/// partition's. (Fetch answers are encoded by the handler and counted by the connection only
/// when they fail it.)
pub fn response_has_error(response: &ResponseKind) -> bool {
    macro_rules! top_level {
        ($($variant:ident),*) => {
            match response {
                $(ResponseKind::$variant(r) => r.error_code != 0,)*
                ResponseKind::Produce(r) => r
                    .responses
                    .iter()
                    .any(|t| t.partition_responses.iter().any(|p| p.error_code != 0)),
                _ => false,
            }
        };
    }
    top_level!(
        FindCoordinator,
        JoinGroup,
        Heartbeat,
        LeaveGroup,
        SyncGroup,
        ListGroups,
        ApiVersions,
        InitProducerId,
        AddOffsetsToTxn,
        EndTxn,
        DescribeAcls,
        DescribeCluster,
        SaslHandshake,
        SaslAuthenticate,
        DescribeClientQuotas,
        ListPartitionReassignments,
        OffsetDelete,
        OffsetFetch,
        ElectLeaders,
        DescribeLogDirs,
        ListTransactions,
        DescribeUserScramCredentials
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_key_and_version() {
        let m = RequestMetrics::default();
        m.record(0, 9, Duration::from_micros(300), false);
        m.record(0, 9, Duration::from_micros(300), true);
        m.record(1, 16, Duration::from_millis(500), false);
        m.record(-1, 0, Duration::ZERO, false); // outside the arrays: ignored
        m.record(0, 99, Duration::ZERO, false);
        m.record(500, 0, Duration::ZERO, false);
        assert_eq!(
            m.counts(),
            vec![
                RequestCount {
                    api_key: 0,
                    version: 9,
                    requests: 2,
                    errors: 1
                },
                RequestCount {
                    api_key: 1,
                    version: 16,
                    requests: 1,
                    errors: 0
                },
            ]
        );
        let produce = m.latency(0).unwrap();
        assert_eq!(produce.count, 2);
        assert_eq!(produce.sum_us, 600);
        assert_eq!(m.latency(1).unwrap().count, 1);
        assert_eq!(m.latency(2).unwrap().count, 0);
    }

    #[test]
    fn connections_count_while_open() {
        let metrics = Arc::new(BrokerMetrics::new(["PLAINTEXT", "SSL"]));
        let a = ConnectionGauges::opened(&metrics, "PLAINTEXT").unwrap();
        let b = ConnectionGauges::opened(&metrics, "PLAINTEXT").unwrap();
        assert!(ConnectionGauges::opened(&metrics, "NOPE").is_none());
        drop(a);
        let counts = metrics.connections.counts();
        assert_eq!(counts[0].open, 1);
        assert_eq!(counts[0].accepted, 2);
        assert_eq!(counts[1].open, 0);
        drop(b);
        assert_eq!(metrics.connections.counts()[0].open, 0);
    }

    #[test]
    fn errors_are_read_from_responses() {
        use kafka_protocol::messages::produce_response::{
            PartitionProduceResponse, TopicProduceResponse,
        };
        use kafka_protocol::messages::{HeartbeatResponse, ProduceResponse};
        let ok = ResponseKind::Heartbeat(HeartbeatResponse::default());
        assert!(!response_has_error(&ok));
        let failed = ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(27));
        assert!(response_has_error(&failed));
        let produce = ResponseKind::Produce(ProduceResponse::default().with_responses(vec![
            TopicProduceResponse::default().with_partition_responses(vec![
                PartitionProduceResponse::default(),
                PartitionProduceResponse::default().with_error_code(3),
            ]),
        ]));
        assert!(response_has_error(&produce));
    }
}
