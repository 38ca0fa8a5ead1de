//! The request-memory budget (`queued.max.request.bytes`): bytes of requests held in memory at
//! once, across every connection. A frame reserves chunk by chunk as its bytes arrive and gives
//! everything back when its response has been written.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The broker-wide budget, in KiB permits.
pub struct RequestBudget {
    permits: Arc<Semaphore>,
    total_kib: u32,
}

/// What one frame holds of the budget; dropped when its response is written.
#[derive(Default)]
pub struct RequestMemory {
    permits: Vec<OwnedSemaphorePermit>,
    kib: u32,
}

impl RequestMemory {
    /// KiB reserved so far.
    pub fn kib(&self) -> u32 {
        self.kib
    }
}

impl RequestBudget {
    pub fn new(queued_max_request_bytes: usize) -> RequestBudget {
        let total_kib = u32::try_from((queued_max_request_bytes / 1024).max(1))
            .unwrap_or(u32::MAX)
            .min(Semaphore::MAX_PERMITS as u32);
        RequestBudget {
            permits: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// Waits until `bytes` more are free and adds them to `memory`. Frames reserve as their
    /// bytes arrive, so a size prefix alone holds nothing and small requests never queue behind
    /// large frames that are still waiting for their bytes. A frame larger than the whole budget
    /// holds at most the whole budget (otherwise it would wait forever).
    pub async fn reserve(&self, memory: &mut RequestMemory, bytes: usize) {
        let wanted = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let kib = wanted.min(self.total_kib.saturating_sub(memory.kib));
        if kib == 0 {
            return;
        }
        if let Ok(permit) = self.permits.clone().acquire_many_owned(kib).await {
            memory.permits.push(permit);
            memory.kib += kib;
        }
    }

    /// The whole budget, in KiB.
    pub fn total_kib(&self) -> u32 {
        self.total_kib
    }

    /// Reserved right now, in KiB.
    pub fn in_use_kib(&self) -> u32 {
        let free = u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX);
        self.total_kib.saturating_sub(free)
    }
}
