//! A hook for fault injection: a full disk and slow fsyncs, on demand. The fault module sets
//! it (`crate::fault`, above the log: the log imports nothing of it); the append path and the
//! flusher read it. Idle, it costs one relaxed load per append and per fsync round.
//!
//! One per process ([`DISK`]): a broker is one process, and the logs are opened in many places
//! that would otherwise all have to carry it.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// The process's disk faults, checked by every partition log and the flusher.
pub static DISK: DiskFaults = DiskFaults::new();

/// Injected disk trouble, with deadlines in wall-clock milliseconds.
#[derive(Debug, Default)]
pub struct DiskFaults {
    /// Some fault is set (the hot paths look at this alone).
    armed: AtomicBool,
    /// Appends fail as on ENOSPC until then.
    full_until_ms: AtomicI64,
    /// Each fsync takes this much longer ...
    fsync_delay_ms: AtomicU64,
    /// ... until then.
    fsync_until_ms: AtomicI64,
}

impl DiskFaults {
    pub const fn new() -> DiskFaults {
        DiskFaults {
            armed: AtomicBool::new(false),
            full_until_ms: AtomicI64::new(0),
            fsync_delay_ms: AtomicU64::new(0),
            fsync_until_ms: AtomicI64::new(0),
        }
    }

    /// Sets both faults at once (0 for "none").
    pub fn set(&self, full_until_ms: i64, fsync_delay_ms: u64, fsync_until_ms: i64) {
        self.full_until_ms.store(full_until_ms, Ordering::Relaxed);
        self.fsync_delay_ms.store(fsync_delay_ms, Ordering::Relaxed);
        self.fsync_until_ms.store(fsync_until_ms, Ordering::Relaxed);
        let armed = full_until_ms > 0 || fsync_delay_ms > 0;
        self.armed.store(armed, Ordering::Relaxed);
    }

    /// True while appends must fail as on a full disk.
    #[inline]
    pub fn disk_full(&self, now_ms: i64) -> bool {
        self.armed.load(Ordering::Relaxed) && now_ms < self.full_until_ms.load(Ordering::Relaxed)
    }

    /// Extra milliseconds the next fsync takes (0 normally).
    #[inline]
    pub fn fsync_delay_ms(&self, now_ms: i64) -> u64 {
        if !self.armed.load(Ordering::Relaxed)
            || now_ms >= self.fsync_until_ms.load(Ordering::Relaxed)
        {
            return 0;
        }
        self.fsync_delay_ms.load(Ordering::Relaxed)
    }
}
