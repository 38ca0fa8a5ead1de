//! Background log maintenance, off the request path: retention and compaction threads, as
//! Kafka's `LogManager` retention task and `LogCleaner` threads.
//!
//! - One **retention** thread wakes every `log.retention.check.interval.ms` (Kafka's default is
//!   5 minutes; tests set a small value) and applies `PartitionLog::delete_old_segments` to each
//!   partition: the partition lock is held while deciding and renaming files away, the files are
//!   unlinked after it is released.
//! - `log.cleaner.threads` **cleaner** threads (when `log.cleaner.enable`) each pick the
//!   compacted log that wants cleaning most (`PartitionLog::cleanable`), run one pass with
//!   `log::clean_log` (the lock is taken only to plan, to swap each cleaned group and to
//!   finish), and sleep `log.cleaner.backoff.ms` when no log needs cleaning.
//!
//! Both are woken early by [`LogManager::wake`] (a config change may make a log due) and stop at
//! [`LogManager::shutdown`] or when the broker is gone (they hold only a `Weak`).
//! The offset map of each cleaner is bounded by `log.cleaner.dedupe.buffer.size` ×
//! `log.cleaner.io.buffer.load.factor` / threads, at 24 bytes per key.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use crate::broker::{Broker, now_ms};
use crate::config::BrokerConfig;
use crate::log::cleaner::OFFSET_MAP_ENTRY_BYTES;
use crate::metadata::topics::Partition;

/// Shared between the handle and the threads.
#[derive(Default)]
struct Signal {
    stop: AtomicBool,
    /// Bumped by `wake`; a thread sleeping since an older value wakes up.
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Signal {
    /// Sleeps up to `timeout` or until woken or stopped; returns false once stopped.
    fn sleep(&self, seen: &mut u64, timeout: Duration) -> bool {
        let guard = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |g| {
                *g == *seen && !self.stop.load(Ordering::Acquire)
            })
            .unwrap_or_else(|e| e.into_inner());
        *seen = *guard;
        !self.stop.load(Ordering::Acquire)
    }
}

/// Handle to the maintenance threads of one broker.
#[derive(Default)]
pub struct LogManager {
    signal: Arc<Signal>,
}

/// A broker setting from the effective config, or `default` when unset or unparsable.
pub fn setting<T: FromStr>(config: &BrokerConfig, key: &str, default: T) -> T {
    config
        .overrides
        .get(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl LogManager {
    /// Starts the threads for `broker` (called once, right after the broker is built).
    pub fn start(&self, broker: &Arc<Broker>) {
        let config = broker.effective_config();
        let retention_ms: u64 = setting(&config, "log.retention.check.interval.ms", 300_000);
        let signal = self.signal.clone();
        let weak = Arc::downgrade(broker);
        spawn("vltava-retention", move || {
            retention_loop(weak, signal, retention_ms.max(1))
        });
        if setting(&config, "vltava.log.scrub.enable", false) {
            let signal = self.signal.clone();
            let weak = Arc::downgrade(broker);
            let rate: u64 = setting(&config, "vltava.log.scrub.bytes.per.sec", 32 << 20);
            let pause: u64 = setting(&config, "vltava.log.scrub.interval.ms", 3_600_000);
            spawn("vltava-scrub", move || {
                scrub_loop(weak, signal, rate.max(1), pause.max(1))
            });
        }
        if !setting(&config, "log.cleaner.enable", true) {
            return;
        }
        let threads: usize = setting(&config, "log.cleaner.threads", 1usize).clamp(1, 64);
        for i in 0..threads {
            let signal = self.signal.clone();
            let weak = Arc::downgrade(broker);
            spawn(&format!("vltava-cleaner-{i}"), move || {
                cleaner_loop(weak, signal, threads)
            });
        }
    }

    /// Makes the threads look at the logs now (after a config change).
    pub fn wake(&self) {
        let mut g = self
            .signal
            .generation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *g = g.wrapping_add(1);
        self.signal.changed.notify_all();
    }

    /// Stops the threads (they finish the pass they are in; a swap after the logs closed is
    /// refused by the log).
    pub fn shutdown(&self) {
        self.signal.stop.store(true, Ordering::Release);
        self.wake();
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::error!("cannot start {name}: {e}");
    }
}

fn partitions(broker: &Broker) -> Vec<Arc<Partition>> {
    broker
        .topics
        .all()
        .iter()
        .flat_map(|t| t.partitions.iter().cloned())
        .filter(|p| !p.is_deleted())
        .collect()
}

fn retention_loop(broker: Weak<Broker>, signal: Arc<Signal>, interval_ms: u64) {
    let mut seen = 0;
    while signal.sleep(&mut seen, Duration::from_millis(interval_ms)) {
        let Some(broker) = broker.upgrade() else {
            return;
        };
        for p in partitions(&broker) {
            if signal.stop.load(Ordering::Acquire) {
                return;
            }
            let outcome = p.log().delete_old_segments(now_ms());
            match outcome {
                Ok(deleted) => deleted.remove(),
                Err(e) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, "retention failed: {e}")
                }
            }
        }
    }
}

/// The scrub: walks every segment of every partition checking each batch's CRC and the header
/// chain (`log::verify::check_segment`), outside the partition lock, at most `rate` bytes a
/// second; then waits `pause_ms` and starts again. Damage takes the partition offline, as
/// damage found by a read does.
fn scrub_loop(broker: Weak<Broker>, signal: Arc<Signal>, rate: u64, pause_ms: u64) {
    let mut seen = 0;
    loop {
        let Some(b) = broker.upgrade() else {
            return;
        };
        let all = partitions(&b);
        drop(b);
        let started = std::time::Instant::now();
        let (mut bytes, mut damaged) = (0u64, 0usize);
        for p in all {
            // Taken out first: the lock must not be held while the files are read.
            let targets = p.log().scrub_targets();
            for target in targets {
                let mut pace = |n: u64| {
                    bytes += n;
                    let due = Duration::from_secs_f64(bytes as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait.min(Duration::from_secs(1)));
                    }
                };
                let checked = crate::log::verify::check_segment(
                    &target.file,
                    target.base_offset,
                    target.size,
                    target.expect_from,
                    false,
                    &mut pace,
                );
                match checked {
                    Ok(Ok(_)) => {}
                    Ok(Err((position, what))) => {
                        damaged += 1;
                        p.log().scrub_found_damage(&target, position, &what);
                    }
                    Err(e) => tracing::warn!(topic = %p.topic, partition = p.index, "scrub: {e}"),
                }
                if signal.stop.load(Ordering::Acquire) {
                    return;
                }
            }
        }
        tracing::info!(
            bytes,
            damaged,
            secs = started.elapsed().as_secs(),
            "scrub pass finished"
        );
        if !signal.sleep(&mut seen, Duration::from_millis(pause_ms)) {
            return;
        }
    }
}

fn cleaner_loop(broker: Weak<Broker>, signal: Arc<Signal>, threads: usize) {
    let mut seen = 0;
    loop {
        let Some(b) = broker.upgrade() else {
            return;
        };
        let config = b.effective_config();
        let backoff_ms: u64 = setting(&config, "log.cleaner.backoff.ms", 15_000);
        let buffer: u64 = setting(&config, "log.cleaner.dedupe.buffer.size", 128 << 20);
        let load: f64 = setting(&config, "log.cleaner.io.buffer.load.factor", 0.9);
        let entries = (buffer as f64 * load.clamp(0.01, 1.0)) as u64
            / OFFSET_MAP_ENTRY_BYTES
            / threads.max(1) as u64;
        let now = now_ms();
        let filthiest = partitions(&b)
            .into_iter()
            .filter_map(|p| {
                let priority = p.log().cleanable(now)?;
                Some((priority, p))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        drop(b);
        let mut progressed = false;
        if let Some((_, p)) = filthiest {
            let started = std::time::Instant::now();
            match crate::log::clean_log(|| p.log(), now, entries.max(1) as usize) {
                Ok(Some(stats)) => {
                    progressed = stats.groups > 0;
                    tracing::info!(
                        topic = %p.topic,
                        partition = p.index,
                        groups = stats.groups,
                        read = stats.records_read,
                        kept = stats.records_kept,
                        ms = started.elapsed().as_millis() as u64,
                        "cleaned log"
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, "cleaning failed: {e}")
                }
            }
        }
        if signal.stop.load(Ordering::Acquire) {
            return;
        }
        // Straight on to the next log after real work; otherwise wait (no busy loop).
        if progressed {
            continue;
        }
        if !signal.sleep(&mut seen, Duration::from_millis(backoff_ms.max(1))) {
            return;
        }
    }
}
