//! What the log counts about itself, for the metrics the HTTP listener serves (`/metrics`):
//! fsync latency, retention and cleaner activity, and per-partition traffic. Plain relaxed
//! atomics: recording is an atomic add or two, with no lock and no allocation, and a scrape
//! reads them without stopping anyone. The log imports nothing above it; the metrics module
//! reads these.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in microseconds (0.1 ms … 10 s); one more bucket
/// (+Inf) takes the rest. Fixed, so recording is a short scan and one add.
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A latency histogram with the fixed buckets of [`LATENCY_BOUNDS_US`].
#[derive(Debug)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative); the last one is +Inf.
    buckets: [AtomicU64; LATENCY_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

/// A histogram as read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Observations per bucket (not cumulative), the last one +Inf.
    pub buckets: Vec<u64>,
    pub sum_us: u64,
    pub count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

impl LatencyHistogram {
    pub const fn new() -> LatencyHistogram {
        LatencyHistogram {
            buckets: [const { AtomicU64::new(0) }; LATENCY_BOUNDS_US.len() + 1],
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_US
            .iter()
            .position(|bound| us <= *bound)
            .unwrap_or(LATENCY_BOUNDS_US.len());
        if let Some(b) = self.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The count is the sum of the buckets, so the two always agree.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        HistogramSnapshot {
            count: buckets.iter().sum(),
            buckets,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// The flusher's fsyncs (group commit, `log::flusher`).
#[derive(Debug, Default)]
pub struct FlushStats {
    /// Time to fsync one partition's dirty files.
    pub fsync: LatencyHistogram,
    pub failures: AtomicU64,
}

/// The background threads' work (`log::manager`): retention and compaction.
#[derive(Debug, Default)]
pub struct MaintenanceStats {
    /// Retention passes over a partition (one per partition per check interval).
    pub retention_checks: AtomicU64,
    /// Segments retention deleted (`retention.ms`, `retention.bytes`, log start offset).
    pub retention_segments_deleted: AtomicU64,
    pub retention_failures: AtomicU64,
    /// Cleaner passes that cleaned something.
    pub cleaner_runs: AtomicU64,
    pub cleaner_records_read: AtomicU64,
    /// Records the cleaner dropped (read − kept).
    pub cleaner_records_removed: AtomicU64,
    pub cleaner_failures: AtomicU64,
}

/// Bytes and records through one partition, for per-topic traffic counters. Counted by the
/// one append path and by Fetch as it hands regions to the connection.
#[derive(Debug, Default)]
pub struct PartitionTraffic {
    pub bytes_in: AtomicU64,
    pub messages_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

impl PartitionTraffic {
    pub fn record_in(&self, bytes: usize, messages: u64) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages_in.fetch_add(messages, Ordering::Relaxed);
    }

    pub fn record_out(&self, bytes: u32) {
        self.bytes_out
            .fetch_add(u64::from(bytes), Ordering::Relaxed);
    }
}

/// Reads a counter (relaxed: counters need no ordering with anything else).
pub fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Adds to a counter.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_their_bucket_and_the_count_is_their_sum() {
        let h = LatencyHistogram::new();
        h.record(Duration::from_micros(50)); // ≤ 0.1 ms
        h.record(Duration::from_micros(100)); // ≤ 0.1 ms (bounds are inclusive)
        h.record(Duration::from_millis(3)); // ≤ 5 ms
        h.record(Duration::from_secs(60)); // +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets.len(), LATENCY_BOUNDS_US.len() + 1);
        assert_eq!(s.buckets[0], 2);
        assert_eq!(s.buckets[5], 1);
        assert_eq!(s.buckets[LATENCY_BOUNDS_US.len()], 1);
        assert_eq!(s.sum_us, 50 + 100 + 3_000 + 60_000_000);
    }

    #[test]
    fn traffic_adds_up() {
        let t = PartitionTraffic::default();
        t.record_in(100, 3);
        t.record_in(50, 1);
        t.record_out(70);
        assert_eq!(read(&t.bytes_in), 150);
        assert_eq!(read(&t.messages_in), 4);
        assert_eq!(read(&t.bytes_out), 70);
    }
}
