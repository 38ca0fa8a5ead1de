//! A partition's log as the rest of the broker shares it: one `PartitionLog` behind a mutex
//! that every holder keeps for one short, non-blocking operation, and the partition's name for
//! log lines. The background threads (`manager`, `flusher`) and the partition layer above hold
//! it by `Arc`.

use std::sync::{Mutex, MutexGuard};

use super::PartitionLog;

pub struct LogHandle {
    /// `<topic>-<partition>`, for log lines.
    pub label: String,
    log: Mutex<PartitionLog>,
}

impl LogHandle {
    pub fn new(label: impl Into<String>, mut log: PartitionLog) -> LogHandle {
        let label = label.into();
        log.set_label(label.clone());
        LogHandle {
            label,
            log: Mutex::new(log),
        }
    }

    /// Locks the log. A poisoned lock (a panic elsewhere) is recovered rather than spreading
    /// the failure.
    pub fn lock(&self) -> MutexGuard<'_, PartitionLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every live partition's log, as the background threads enumerate them.
pub type LogSource = std::sync::Arc<dyn Fn() -> Vec<std::sync::Arc<LogHandle>> + Send + Sync>;
