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
//! - An optional **scrub** thread (`vltava.log.scrub.enable`) checks every stored batch's CRC and
//!   the header chain at a bounded rate and takes a damaged partition offline.
//!
//! They are woken early by [`LogManager::wake`] (a config change may make a log due) and stop at
//! [`LogManager::shutdown`]. They see the partitions through a [`LogSource`] and their settings
//! through a [`SettingsSource`], so this module needs nothing from above the log.
//! The offset map of each cleaner is bounded by `log.cleaner.dedupe.buffer.size` ×
//! `log.cleaner.io.buffer.load.factor` / threads, at 24 bytes per key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::cleaner::OFFSET_MAP_ENTRY_BYTES;
use super::clock::now_ms;
use super::handle::{LogHandle, LogSource};
use super::stats::{MaintenanceStats, add};

/// The settings the threads read (`log.retention.check.interval.ms`, `log.cleaner.*`,
/// `vltava.log.scrub.*`). The cleaner reads them again before each pass, so dynamic broker
/// config changes apply.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    pub retention_check_interval_ms: u64,
    pub cleaner_enable: bool,
    pub cleaner_threads: usize,
    pub cleaner_backoff_ms: u64,
    pub cleaner_dedupe_buffer_size: u64,
    pub cleaner_io_buffer_load_factor: f64,
    pub scrub_enable: bool,
    pub scrub_bytes_per_sec: u64,
    pub scrub_interval_ms: u64,
}

/// Where the threads get their current settings from.
pub type SettingsSource = Arc<dyn Fn() -> ManagerSettings + Send + Sync>;

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
    /// What retention and the cleaner have done, for the metrics.
    stats: Arc<MaintenanceStats>,
}

impl LogManager {
    /// Starts the threads (called once, when the broker opens). They stop at `shutdown`.
    pub fn start(&self, logs: LogSource, settings: SettingsSource) {
        let now = settings();
        let signal = self.signal.clone();
        let source = logs.clone();
        let interval = now.retention_check_interval_ms.max(1);
        let stats = self.stats.clone();
        spawn("vltava-retention", move || {
            retention_loop(source, signal, interval, &stats)
        });
        if now.scrub_enable {
            let signal = self.signal.clone();
            let source = logs.clone();
            let (rate, pause) = (now.scrub_bytes_per_sec.max(1), now.scrub_interval_ms.max(1));
            spawn("vltava-scrub", move || {
                scrub_loop(source, signal, rate, pause)
            });
        }
        if !now.cleaner_enable {
            return;
        }
        let threads = now.cleaner_threads.clamp(1, 64);
        for i in 0..threads {
            let signal = self.signal.clone();
            let source = logs.clone();
            let settings = settings.clone();
            let stats = self.stats.clone();
            spawn(&format!("vltava-cleaner-{i}"), move || {
                cleaner_loop(source, settings, signal, threads, &stats)
            });
        }
    }

    /// What retention and the cleaner have done so far.
    pub fn stats(&self) -> &MaintenanceStats {
        &self.stats
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

fn retention_loop(
    logs: LogSource,
    signal: Arc<Signal>,
    interval_ms: u64,
    stats: &MaintenanceStats,
) {
    let mut seen = 0;
    while signal.sleep(&mut seen, Duration::from_millis(interval_ms)) {
        for log in logs() {
            if signal.stop.load(Ordering::Acquire) {
                return;
            }
            let outcome = log.lock().delete_old_segments(now_ms());
            add(&stats.retention_checks, 1);
            match outcome {
                Ok(deleted) => {
                    add(&stats.retention_segments_deleted, deleted.segments as u64);
                    deleted.remove();
                }
                Err(e) => {
                    add(&stats.retention_failures, 1);
                    tracing::warn!(partition = %log.label, "retention failed: {e}");
                }
            }
        }
    }
}

/// The scrub: walks every segment of every partition checking each batch's CRC and the header
/// chain (`log::verify::check_segment`), outside the partition lock, at most `rate` bytes a
/// second; then waits `pause_ms` and starts again. Damage takes the partition offline, as
/// damage found by a read does.
fn scrub_loop(logs: LogSource, signal: Arc<Signal>, rate: u64, pause_ms: u64) {
    let mut seen = 0;
    loop {
        let all = logs();
        let started = std::time::Instant::now();
        let (mut bytes, mut damaged) = (0u64, 0usize);
        for p in all {
            // Taken out first: the lock must not be held while the files are read.
            let targets = p.lock().scrub_targets();
            for target in targets {
                let mut pace = |n: u64| {
                    bytes += n;
                    let due = Duration::from_secs_f64(bytes as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait.min(Duration::from_secs(1)));
                    }
                };
                let checked = super::verify::check_segment(
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
                        p.lock().scrub_found_damage(&target, position, &what);
                    }
                    Err(e) => tracing::warn!(partition = %p.label, "scrub: {e}"),
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

fn cleaner_loop(
    logs: LogSource,
    settings: SettingsSource,
    signal: Arc<Signal>,
    threads: usize,
    counters: &MaintenanceStats,
) {
    let mut seen = 0;
    loop {
        let s = settings();
        let entries = (s.cleaner_dedupe_buffer_size as f64
            * s.cleaner_io_buffer_load_factor.clamp(0.01, 1.0)) as u64
            / OFFSET_MAP_ENTRY_BYTES
            / threads.max(1) as u64;
        let now = now_ms();
        let filthiest: Option<(f64, Arc<LogHandle>)> = logs()
            .into_iter()
            .filter_map(|p| {
                let priority = p.lock().cleanable(now)?;
                Some((priority, p))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let mut progressed = false;
        if let Some((_, p)) = filthiest {
            let started = std::time::Instant::now();
            match super::clean_log(|| p.lock(), now, entries.max(1) as usize) {
                Ok(Some(stats)) => {
                    progressed = stats.groups > 0;
                    if progressed {
                        add(&counters.cleaner_runs, 1);
                    }
                    add(&counters.cleaner_records_read, stats.records_read);
                    add(
                        &counters.cleaner_records_removed,
                        stats.records_read.saturating_sub(stats.records_kept),
                    );
                    tracing::info!(
                        partition = %p.label,
                        groups = stats.groups,
                        read = stats.records_read,
                        kept = stats.records_kept,
                        ms = started.elapsed().as_millis() as u64,
                        "cleaned log"
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    add(&counters.cleaner_failures, 1);
                    tracing::warn!(partition = %p.label, "cleaning failed: {e}");
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
        if !signal.sleep(
            &mut seen,
            Duration::from_millis(s.cleaner_backoff_ms.max(1)),
        ) {
            return;
        }
    }
}
