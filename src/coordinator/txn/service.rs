//! The transaction coordinator as the handlers see it: typed calls that run as operations on
//! the shared coordinator runtime (which owns the [`TxnCoordinator`] on its thread and appends
//! its records to `__transaction_state` through the [`CoordinatorLog`] port), plus what spans
//! several steps:
//!
//! - ending a transaction: the prepare record, then a marker in every partition of the
//!   transaction (through the [`TxnPorts`] port: the partitions' one append path, or the group
//!   coordinator for `__consumer_offsets`), then the complete record. Markers are retried with
//!   a back-off until they are written; EndTxn answers once the transaction completed, or after
//!   [`END_TXN_WAIT`] with the prepare record durable (Kafka answers at that point always),
//!   the rest finishing in the background;
//! - InitProducerId on an id whose previous producer left a transaction open: that transaction
//!   is aborted with a bumped epoch (fencing the old producer) before the new epoch is handed
//!   out;
//! - a background task that finishes transactions found prepared at start-up and aborts those
//!   past their `transaction.timeout.ms`, every
//!   `transaction.abort.timed.out.transaction.cleanup.interval.ms`, and removes transactional
//!   ids idle for `transactional.id.expiration.ms`, every
//!   `transaction.remove.expired.transaction.cleanup.interval.ms`.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;

use super::coordinator::{EndOutcome, EndTxn, InitOutcome, TxnAppend, TxnView};
use super::records::TxnRecord;
use super::{MarkerJob, TxnCoordinator, TxnState};
use crate::config::TxnConfig;
use crate::config::internal::TRANSACTION_STATE_TOPIC;
use crate::coordinator::runtime::{
    AppendFailed, BoxFuture, CoordinatorLog, CoordinatorRuntime, EncodedRecord, Shard,
};

/// How long EndTxn waits for the markers before answering anyway.
pub const END_TXN_WAIT: Duration = Duration::from_secs(10);
/// The first pause before a failed marker write is tried again (doubling up to 5 s).
const MARKER_RETRY_MS: u64 = 100;

/// What the transaction coordinator needs from the rest of the broker.
pub trait TxnPorts: Send + Sync + 'static {
    /// A producer id never handed out before.
    fn allocate_producer_id(&self) -> BoxFuture<'_, Result<i64, i16>>;
    /// Writes a commit or abort marker to one partition and waits until it is durable (when
    /// the flush policy asks). A partition that no longer exists counts as written.
    fn write_marker<'a>(
        &'a self,
        topic: &'a str,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> BoxFuture<'a, Result<(), i16>>;
}

/// What the handlers hold.
pub struct TxnCoordinatorHandle {
    runtime: CoordinatorRuntime<TxnCoordinator>,
    log: Arc<dyn CoordinatorLog>,
    ports: Arc<dyn TxnPorts>,
    config: TxnConfig,
}

/// Builds the coordinator: replays `__transaction_state` through `log` if it exists, and
/// starts the coordinator thread. Call [`TxnCoordinatorHandle::start_background`] from a
/// tokio runtime to finish prepared transactions and abort timed-out ones.
pub fn open(
    config: &TxnConfig,
    log: Arc<dyn CoordinatorLog>,
    ports: Arc<dyn TxnPorts>,
) -> Result<TxnCoordinatorHandle, String> {
    let coordinator = TxnCoordinator::new(config.clone());
    let runtime = CoordinatorRuntime::load(coordinator, log.as_ref(), TRANSACTION_STATE_TOPIC)?;
    runtime.start("transactions", log.clone());
    Ok(TxnCoordinatorHandle {
        runtime,
        log,
        ports,
        config: config.clone(),
    })
}

impl Shard for TxnCoordinator {
    type Append = TxnAppend;

    fn key(append: &TxnAppend) -> &str {
        &append.record.transactional_id
    }

    fn encode(append: &TxnAppend) -> Result<Vec<EncodedRecord>, i16> {
        let invalid = |_| ResponseError::InvalidRequest.code();
        let key = append.record.encode_key().map_err(invalid)?;
        let value = append.record.encode_value().map_err(invalid)?;
        Ok(vec![(key, value)])
    }

    fn complete_append(
        &mut self,
        append: TxnAppend,
        result: Result<(), i16>,
        _now_ms: i64,
    ) -> (Result<(), i16>, Vec<TxnAppend>) {
        if result.is_ok() {
            self.replay(append.record);
        }
        (result, Vec::new())
    }

    fn take_deliveries(&mut self) -> Vec<Box<dyn FnOnce() + Send>> {
        Vec::new()
    }

    fn next_deadline(&self) -> Option<i64> {
        None
    }

    fn fire_timers(&mut self, _now_ms: i64) -> Vec<TxnAppend> {
        Vec::new()
    }

    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, _now_ms: i64) {
        match TxnRecord::decode(key, value) {
            Ok(Some(record)) => TxnCoordinator::replay(self, record),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("skipping an undecodable {TRANSACTION_STATE_TOPIC} record: {e}")
            }
        }
    }

    fn on_loaded(&mut self, _now_ms: i64) {}

    fn unload(&mut self) {}
}

/// Kafka's mapping of a failed `__transaction_state` append to what the client is told
/// (`TransactionStateManager.appendTransactionToLog`).
fn append_error(code: i16) -> i16 {
    use ResponseError as E;
    if code == E::UnknownTopicOrPartition.code()
        || code == E::NotEnoughReplicas.code()
        || code == E::NotEnoughReplicasAfterAppend.code()
        || code == E::RequestTimedOut.code()
    {
        E::CoordinatorNotAvailable.code()
    } else if code == E::NotLeaderOrFollower.code() || code == E::KafkaStorageError.code() {
        E::NotCoordinator.code()
    } else {
        E::UnknownServerError.code()
    }
}

/// An operation's result that an append failure overrides.
struct Answer<T>(Result<T, i16>);

impl<T> AppendFailed for Answer<T> {
    fn append_failed(&mut self, code: i16) {
        self.0 = Err(append_error(code));
    }
}

const NOT_COORDINATOR: i16 = ResponseError::NotCoordinator.code();
const CONCURRENT: i16 = ResponseError::ConcurrentTransactions.code();

/// The producer id and epoch InitProducerId / EndTxn hand back.
pub type ProducerIdAndEpoch = (i64, i16);

impl TxnCoordinatorHandle {
    /// Makes sure `__transaction_state` exists (FindCoordinator creates it on first use, as
    /// Kafka does).
    pub async fn ensure_ready(&self) -> Result<(), i16> {
        self.log.partitions().await.map(|_| ())
    }

    /// The coordinator's settings.
    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    /// InitProducerId with a transactional id. `expected`: the producer id and epoch a
    /// recovering producer sends (KIP-360), `None` for a fresh start.
    pub async fn init_producer_id(
        &self,
        transactional_id: String,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<ProducerIdAndEpoch, i16> {
        let mut fresh = None;
        // A new id (or an exhausted epoch) needs a producer id, an open transaction an abort:
        // each happens at most once, so a handful of rounds always settles.
        for _ in 0..4 {
            let id = transactional_id.clone();
            let outcome = self
                .runtime
                .write(move |c, now| {
                    let (outcome, appends) =
                        c.init_producer_id(&id, timeout_ms, expected, fresh, now);
                    (Answer(Ok(outcome)), appends)
                })
                .await
                .ok_or(NOT_COORDINATOR)?
                .0?;
            match outcome {
                InitOutcome::Ready { producer_id, epoch } => return Ok((producer_id, epoch)),
                InitOutcome::Failed(code) => return Err(code),
                InitOutcome::NeedsProducerId => {
                    fresh = Some(self.ports.allocate_producer_id().await?);
                }
                InitOutcome::Aborting(job) => {
                    // Kafka answers CONCURRENT_TRANSACTIONS here and the client retries; the
                    // abort is finished first instead, then the new epoch handed out.
                    if !self.finish(job, END_TXN_WAIT).await {
                        return Err(CONCURRENT);
                    }
                }
            }
        }
        Err(CONCURRENT)
    }

    /// AddPartitionsToTxn (and the implicit add of transaction version 2, and the offsets
    /// partition of AddOffsetsToTxn).
    pub async fn add_partitions(
        &self,
        transactional_id: String,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
        client_version: i16,
    ) -> Result<(), i16> {
        self.runtime
            .write(move |c, now| {
                let (result, appends) = c.add_partitions(
                    &transactional_id,
                    producer_id,
                    epoch,
                    &partitions,
                    client_version,
                    now,
                );
                (Answer(result), appends)
            })
            .await
            .ok_or(NOT_COORDINATOR)?
            .0
    }

    /// Whether each partition is in the producer's ongoing transaction (AddPartitionsToTxn's
    /// verify-only form, and the check of a transactional Produce).
    pub async fn verify(
        &self,
        transactional_id: String,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Vec<((String, i32), Result<(), i16>)> {
        let fallback: Vec<_> = partitions
            .iter()
            .map(|p| (p.clone(), Err(NOT_COORDINATOR)))
            .collect();
        self.runtime
            .read(move |c, _| {
                partitions
                    .into_iter()
                    .map(|p| {
                        let r = c.verify(&transactional_id, producer_id, epoch, &p);
                        (p, r)
                    })
                    .collect()
            })
            .await
            .unwrap_or(fallback)
    }

    /// EndTxn: commits or aborts the ongoing transaction. Returns the producer id and epoch
    /// the producer goes on with (bumped for transaction version 2).
    pub async fn end_txn(
        &self,
        transactional_id: String,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        client_version: i16,
    ) -> Result<ProducerIdAndEpoch, i16> {
        let mut fresh = None;
        for _ in 0..3 {
            let id = transactional_id.clone();
            let outcome = self
                .runtime
                .write(move |c, now| {
                    let req = EndTxn {
                        id: &id,
                        producer_id,
                        epoch,
                        commit,
                        client_version,
                    };
                    let (outcome, appends) = c.end_txn(&req, fresh, now);
                    (Answer(Ok(outcome)), appends)
                })
                .await
                .ok_or(NOT_COORDINATOR)?
                .0?;
            match outcome {
                EndOutcome::Done { producer_id, epoch } => return Ok((producer_id, epoch)),
                EndOutcome::Failed(code) => return Err(code),
                EndOutcome::NeedsProducerId => {
                    fresh = Some(self.ports.allocate_producer_id().await?);
                }
                EndOutcome::Markers(job) => {
                    let (pid, next_epoch) = (job.producer_id, job.producer_epoch);
                    self.finish(job, END_TXN_WAIT).await;
                    // The state after completion (a new producer id once epochs ran out).
                    let id = transactional_id.clone();
                    let now = self
                        .runtime
                        .read(move |c, _| c.get(&id).map(|m| (m.producer_id, m.producer_epoch)))
                        .await
                        .flatten();
                    return Ok(match now {
                        Some((p, e)) if p != pid && client_version >= 2 => (p, e),
                        _ => (pid, next_epoch),
                    });
                }
            }
        }
        Err(CONCURRENT)
    }

    /// Writes the markers of `job` and completes the transaction, in a task of its own that
    /// retries until it succeeds; waits for it at most `wait`. True when it completed in time.
    async fn finish(&self, job: MarkerJob, wait: Duration) -> bool {
        let task = tokio::spawn(complete(
            self.runtime.clone_sender(),
            self.ports.clone(),
            job,
        ));
        matches!(tokio::time::timeout(wait, task).await, Ok(Ok(())))
    }

    /// ListTransactions.
    pub async fn list(
        &self,
        states: Vec<TxnState>,
        producer_ids: Vec<i64>,
        min_duration_ms: i64,
    ) -> Result<Vec<(String, i64, TxnState)>, i16> {
        self.runtime
            .read(move |c, now| c.list(&states, &producer_ids, min_duration_ms, now))
            .await
            .ok_or(NOT_COORDINATOR)
    }

    /// DescribeTransactions for several ids.
    pub async fn describe(&self, ids: Vec<String>) -> Vec<(String, Result<TxnView, i16>)> {
        let fallback: Vec<_> = ids
            .iter()
            .map(|id| (id.clone(), Err(NOT_COORDINATOR)))
            .collect();
        self.runtime
            .read(move |c, _| {
                ids.into_iter()
                    .map(|id| {
                        let r = c.describe(&id);
                        (id, r)
                    })
                    .collect()
            })
            .await
            .unwrap_or(fallback)
    }

    /// Starts the background task: finishes transactions found prepared at start-up, then
    /// aborts transactions past their timeout, periodically. Needs a tokio runtime.
    pub fn start_background(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: timed-out transactions will not be aborted");
            return;
        };
        let this = Arc::downgrade(self);
        let interval = Duration::from_millis(
            u64::try_from(self.config.abort_timed_out_interval_ms).unwrap_or(10_000),
        );
        let expire_every = Duration::from_millis(
            u64::try_from(self.config.remove_expired_interval_ms).unwrap_or(3_600_000),
        );
        handle.spawn(async move {
            let prepared = match this.upgrade() {
                Some(c) => c
                    .runtime
                    .read(|c, _| c.prepared())
                    .await
                    .unwrap_or_default(),
                None => return,
            };
            for job in prepared {
                let Some(c) = this.upgrade() else { return };
                tracing::info!(
                    transactional_id = %job.transactional_id,
                    commit = job.commit,
                    "finishing a transaction prepared before the restart"
                );
                tokio::spawn(complete(c.runtime.clone_sender(), c.ports.clone(), job));
            }
            let mut next_expiry = tokio::time::Instant::now() + expire_every;
            loop {
                tokio::time::sleep(interval.min(expire_every)).await;
                let Some(c) = this.upgrade() else { return };
                c.abort_timed_out().await;
                if tokio::time::Instant::now() >= next_expiry {
                    c.remove_expired().await;
                    next_expiry = tokio::time::Instant::now() + expire_every;
                }
            }
        });
    }

    /// Removes transactional ids past `transactional.id.expiration.ms` (Kafka's
    /// `removeExpiredTransactionalIds`): a tombstone each, so they stay gone after a restart.
    async fn remove_expired(&self) {
        let ids = self
            .runtime
            .read(|c, now| c.expired(now))
            .await
            .unwrap_or_default();
        for id in ids {
            let removed = self
                .runtime
                .write(move |c, now| {
                    let appends = c.expire(&id, now);
                    (Answer(Ok(!appends.is_empty())), appends)
                })
                .await
                .and_then(|a| a.0.ok())
                .unwrap_or(false);
            if removed {
                tracing::debug!("removed an expired transactional id");
            }
        }
    }

    /// Aborts every ongoing transaction past its timeout (bumping its epoch, which fences the
    /// producer, as Kafka does).
    async fn abort_timed_out(&self) {
        let ids = self
            .runtime
            .read(|c, now| c.timed_out(now))
            .await
            .unwrap_or_default();
        for id in ids {
            let job = self
                .runtime
                .write(move |c, now| {
                    let (job, appends) = c.abort_timed_out(&id, now);
                    (Answer(Ok(job)), appends)
                })
                .await
                .and_then(|a| a.0.ok())
                .flatten();
            if let Some(job) = job {
                tracing::info!(
                    transactional_id = %job.transactional_id,
                    producer_id = job.producer_id,
                    "aborting a transaction past its timeout"
                );
                tokio::spawn(complete(
                    self.runtime.clone_sender(),
                    self.ports.clone(),
                    job,
                ));
            }
        }
    }
}

/// Writes every marker of `job` (retrying each until it is written), then the complete record.
async fn complete(
    runtime: CoordinatorRuntime<TxnCoordinator>,
    ports: Arc<dyn TxnPorts>,
    job: MarkerJob,
) {
    for (topic, partition) in &job.partitions {
        let mut pause = MARKER_RETRY_MS;
        loop {
            let written = ports
                .write_marker(
                    topic,
                    *partition,
                    job.producer_id,
                    job.producer_epoch,
                    job.commit,
                )
                .await;
            match written {
                Ok(()) => break,
                Err(code) => {
                    tracing::warn!(
                        transactional_id = %job.transactional_id,
                        topic, partition, code,
                        "a transaction marker could not be written; trying again"
                    );
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    pause = (pause * 2).min(5_000);
                }
            }
        }
    }
    let _ = runtime
        .write(move |c, now| (Answer(Ok(())), c.complete(&job, now)))
        .await;
}
