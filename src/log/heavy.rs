//! A bounded pool for CPU-heavy log work (decompressing and recompressing produced batches,
//! walking large ones): it runs on tokio's blocking threads, at most `threads` at once, so one
//! client's decompression bombs wait for their own turn while the async workers keep serving
//! everybody else's small requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

pub struct HeavyWork {
    slots: Arc<Semaphore>,
    /// Items running or waiting for a slot.
    in_progress: AtomicUsize,
}

impl HeavyWork {
    /// All cores but one (at least one), so one is always left for the async workers.
    pub fn for_this_machine() -> HeavyWork {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(1);
        HeavyWork::new(threads)
    }

    pub fn new(threads: usize) -> HeavyWork {
        HeavyWork {
            slots: Arc::new(Semaphore::new(threads.max(1))),
            in_progress: AtomicUsize::new(0),
        }
    }

    /// Runs `work` on the pool; `None` if the runtime is shutting down.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        self.in_progress.fetch_add(1, Ordering::Relaxed);
        let result = async {
            let _slot = self.slots.clone().acquire_owned().await.ok()?;
            tokio::task::spawn_blocking(work).await.ok()
        }
        .await;
        self.in_progress.fetch_sub(1, Ordering::Relaxed);
        result
    }

    /// Items running or waiting right now.
    pub fn in_progress(&self) -> usize {
        self.in_progress.load(Ordering::Relaxed)
    }
}
