//! Group commit: one thread performs the fsyncs for every partition, outside their locks.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::clock::now_ms;
use super::handle::{LogHandle, LogSource};
use super::stats::FlushStats;

/// Group commit: one thread performs fsyncs for everyone. Each round takes every pending
/// request, fsyncs each distinct partition's dirty files once (outside the partition lock),
/// and answers all of them, so N concurrent `acks=all` producers cost one fsync per partition
/// per round rather than N. Between requests it sweeps every `FLUSH_SWEEP` for partitions whose
/// `flush.ms` has passed with no append to trigger it.
pub struct Flusher {
    requests: std::sync::mpsc::Sender<FlushRequest>,
    /// fsync latency and failures, for the metrics.
    stats: Arc<FlushStats>,
}

/// How often the flusher looks for partitions whose `flush.ms` is due without a new append.
const FLUSH_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

enum FlushRequest {
    /// Make the partition durable and say when done.
    Wait(Arc<LogHandle>, oneshot::Sender<Result<(), String>>),
    /// Make it durable when convenient (a sealed segment after a roll).
    Background(Arc<LogHandle>),
}

impl Flusher {
    pub fn start(logs: LogSource) -> Flusher {
        let (tx, rx) = std::sync::mpsc::channel::<FlushRequest>();
        let stats = Arc::new(FlushStats::default());
        let thread_stats = stats.clone();
        let spawned = std::thread::Builder::new()
            .name("vltava-flusher".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                loop {
                    let first = match rx.recv_timeout(FLUSH_SWEEP) {
                        Ok(r) => r,
                        Err(RecvTimeoutError::Timeout) => {
                            sweep(&logs, &thread_stats);
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let mut round = vec![first];
                    round.extend(rx.try_iter());
                    flush_round(round, &thread_stats);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start flusher thread: {e}");
        }
        Flusher {
            requests: tx,
            stats,
        }
    }

    /// fsync latency and failures so far.
    pub fn stats(&self) -> &FlushStats {
        &self.stats
    }

    /// Waits until everything appended to `partition` so far is on stable storage.
    pub async fn flush(&self, partition: Arc<LogHandle>) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(FlushRequest::Wait(partition, tx))
            .map_err(|_| "flusher stopped".to_string())?;
        rx.await.map_err(|_| "flusher stopped".to_string())?
    }

    /// Asks for `partition` to be made durable soon, without waiting (a sealed segment).
    pub fn flush_later(&self, partition: Arc<LogHandle>) {
        let _ = self.requests.send(FlushRequest::Background(partition));
    }
}

fn flush_round(round: Vec<FlushRequest>, stats: &FlushStats) {
    let mut done: Vec<(*const LogHandle, Result<(), String>)> = Vec::new();
    for request in round {
        let (partition, reply) = match request {
            FlushRequest::Wait(p, reply) => (p, Some(reply)),
            FlushRequest::Background(p) => (p, None),
        };
        let key = Arc::as_ptr(&partition);
        let result = match done.iter().find(|(k, _)| *k == key) {
            Some((_, r)) => r.clone(),
            None => {
                let r = flush_partition(&partition, stats);
                done.push((key, r.clone()));
                r
            }
        };
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
}

fn sweep(logs: &LogSource, stats: &FlushStats) {
    let now = now_ms();
    for log in logs() {
        if log.lock().flush_due(now)
            && let Err(e) = flush_partition(&log, stats)
        {
            tracing::error!(partition = %log.label, "flush failed: {e}");
        }
    }
}

fn flush_partition(partition: &LogHandle, stats: &FlushStats) -> Result<(), String> {
    let Some(job) = partition.lock().flush_job() else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let injected_ms = super::faults::DISK.fsync_delay_ms(now_ms());
    if injected_ms > 0 {
        // Injected (crate::fault): a slow disk holds up the flusher thread, as a real one does,
        // and shows in the fsync latency.
        std::thread::sleep(std::time::Duration::from_millis(injected_ms));
    }
    for f in &job.files {
        if let Err(e) = f.sync_data() {
            super::stats::add(&stats.failures, 1);
            return Err(e.to_string());
        }
    }
    stats.fsync.record(started.elapsed());
    partition.lock().mark_flushed(job.up_to_offset);
    Ok(())
}
