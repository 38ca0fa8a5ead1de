//! The transaction state machine (Kafka's `TransactionCoordinator` + `TransactionMetadata` +
//! `TransactionStateManager`, single coordinator epoch 0): operations check a request against
//! the stored state with Kafka's error codes and return the record that moves it; replaying
//! that record is what changes the state.

use std::collections::{BTreeSet, HashMap};

use kafka_protocol::ResponseError;

use super::records::TxnRecord;
use super::{MarkerJob, TxnMetadata, TxnState};
use crate::config::TxnConfig;

/// Records to append for one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnAppend {
    pub record: TxnRecord,
}

/// What InitProducerId found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// The producer id and (bumped) epoch to hand out.
    Ready {
        producer_id: i64,
        epoch: i16,
    },
    /// A producer id must be allocated first (new transactional id, or an exhausted epoch);
    /// call again with it.
    NeedsProducerId,
    /// An ongoing transaction of the previous producer is being aborted with a bumped epoch;
    /// write the markers, complete it, and answer CONCURRENT_TRANSACTIONS (the client retries).
    Aborting(MarkerJob),
    Failed(i16),
}

/// What EndTxn found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndOutcome {
    /// Nothing to write (a retry of a completed transaction, or an abort with nothing in it):
    /// answer with this producer id and epoch.
    Done {
        producer_id: i64,
        epoch: i16,
    },
    /// The prepare record was appended: write these markers, then complete.
    Markers(MarkerJob),
    /// Transaction version 2 ran out of epochs: allocate a producer id and call again.
    NeedsProducerId,
    Failed(i16),
}

/// An EndTxn request.
#[derive(Debug, Clone, Copy)]
pub struct EndTxn<'a> {
    pub id: &'a str,
    pub producer_id: i64,
    pub epoch: i16,
    pub commit: bool,
    /// 2 for transaction version 2 (EndTxn v5+), else 1.
    pub client_version: i16,
}

/// One transaction for DescribeTransactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnView {
    pub transactional_id: String,
    pub state: TxnState,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub start_ms: i64,
    pub partitions: Vec<(String, i32)>,
}

/// The state machine. See the module docs.
#[derive(Debug)]
pub struct TxnCoordinator {
    config: TxnConfig,
    txns: HashMap<String, TxnMetadata>,
}

const CONCURRENT: i16 = ResponseError::ConcurrentTransactions.code();
const FENCED: i16 = ResponseError::ProducerFenced.code();
const MAPPING: i16 = ResponseError::InvalidProducerIdMapping.code();
const INVALID_STATE: i16 = ResponseError::InvalidTxnState.code();

impl TxnCoordinator {
    pub fn new(config: TxnConfig) -> TxnCoordinator {
        TxnCoordinator {
            config,
            txns: HashMap::new(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&TxnMetadata> {
        self.txns.get(id)
    }

    /// Applies a stored record: the state changes only here. (The previous epoch is not stored:
    /// a record read back at start-up has none, as in Kafka.)
    pub fn replay(&mut self, record: TxnRecord) {
        match record.value {
            Some(m) => {
                self.txns.insert(record.transactional_id, m);
            }
            None => {
                self.txns.remove(&record.transactional_id);
            }
        }
    }

    fn write(m: TxnMetadata) -> TxnAppend {
        TxnAppend {
            record: TxnRecord {
                transactional_id: m.transactional_id.clone(),
                value: Some(m),
            },
        }
    }

    /// InitProducerId with a transactional id (Kafka's `handleInitProducerId`). `expected`: the
    /// producer id and epoch a recovering producer sends (KIP-360); `fresh_id`: a producer id
    /// allocated after `NeedsProducerId`.
    pub fn init_producer_id(
        &mut self,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        fresh_id: Option<i64>,
        now_ms: i64,
    ) -> (InitOutcome, Vec<TxnAppend>) {
        if id.is_empty() {
            return (
                InitOutcome::Failed(ResponseError::InvalidRequest.code()),
                vec![],
            );
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return (
                InitOutcome::Failed(ResponseError::InvalidTransactionTimeout.code()),
                vec![],
            );
        }
        let Some(current) = self.txns.get(id) else {
            // A new transactional id: a new producer id at epoch 0.
            let Some(pid) = fresh_id else {
                return (InitOutcome::NeedsProducerId, vec![]);
            };
            let m = TxnMetadata {
                transactional_id: id.to_string(),
                producer_id: pid,
                prev_producer_id: -1,
                next_producer_id: -1,
                producer_epoch: 0,
                last_producer_epoch: -1,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now_ms,
                client_version: 0,
            };
            let out = InitOutcome::Ready {
                producer_id: pid,
                epoch: 0,
            };
            return (out, vec![Self::write(m)]);
        };
        // KIP-360: a recovering producer names its producer id (or, after the id changed on an
        // exhausted epoch, the previous one); its epoch is checked below.
        if let Some((pid, epoch)) = expected
            && !(pid == current.producer_id
                || pid == current.prev_producer_id && epoch_exhausted(epoch))
        {
            return (InitOutcome::Failed(FENCED), vec![]);
        }
        match current.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                (InitOutcome::Failed(CONCURRENT), vec![])
            }
            TxnState::Ongoing => {
                // Fence the previous producer and abort its transaction with the bumped epoch.
                // The epoch before is kept: that producer may still recover with it.
                let mut m = current.clone();
                let Some(epoch) = m.producer_epoch.checked_add(1).filter(|e| *e < i16::MAX) else {
                    return (InitOutcome::Failed(CONCURRENT), vec![]);
                };
                m.last_producer_epoch = m.producer_epoch;
                m.producer_epoch = epoch;
                m.state = TxnState::PrepareAbort;
                m.last_update_ms = now_ms;
                let job = marker_job(&m, false);
                (InitOutcome::Aborting(job), vec![Self::write(m)])
            }
            TxnState::Empty
            | TxnState::CompleteCommit
            | TxnState::CompleteAbort
            | TxnState::Dead => {
                let mut m = current.clone();
                let current_epoch = m.producer_epoch;
                if epoch_exhausted(current_epoch)
                    && expected.is_none_or(|(_, e)| e == current_epoch)
                {
                    let Some(pid) = fresh_id else {
                        return (InitOutcome::NeedsProducerId, vec![]);
                    };
                    m.prev_producer_id = m.producer_id;
                    m.producer_id = pid;
                    m.producer_epoch = 0;
                    m.last_producer_epoch = if expected.is_some() {
                        current_epoch
                    } else {
                        -1
                    };
                } else {
                    // Kafka's epoch rules: a fresh producer bumps the epoch and forgets the one
                    // before; a recovering one with the current epoch bumps it and remembers it;
                    // one with the epoch before that is retrying a bump that succeeded, and gets
                    // the current epoch again; any other epoch is fenced.
                    let (epoch, last) = match expected {
                        None => (current_epoch + 1, -1),
                        Some((_, e)) if e == current_epoch => (current_epoch + 1, current_epoch),
                        Some((_, e)) if e == m.last_producer_epoch => (current_epoch, e),
                        Some(_) => return (InitOutcome::Failed(FENCED), vec![]),
                    };
                    m.producer_epoch = epoch;
                    m.last_producer_epoch = last;
                }
                m.timeout_ms = timeout_ms;
                m.state = TxnState::Empty;
                m.partitions.clear();
                m.start_ms = -1;
                m.last_update_ms = now_ms;
                let out = InitOutcome::Ready {
                    producer_id: m.producer_id,
                    epoch: m.producer_epoch,
                };
                (out, vec![Self::write(m)])
            }
        }
    }

    /// The checks every call of an ongoing producer passes (Kafka's producer id and epoch
    /// validation for AddPartitions, AddOffsets and EndTxn).
    fn check_producer(&self, id: &str, pid: i64, epoch: i16) -> Result<&TxnMetadata, i16> {
        let m = self.txns.get(id).ok_or(MAPPING)?;
        if m.producer_id != pid {
            return Err(MAPPING);
        }
        if epoch != m.producer_epoch {
            return Err(FENCED);
        }
        Ok(m)
    }

    /// AddPartitionsToTxn (and AddOffsetsToTxn, and the implicit add of transaction version 2):
    /// the partitions join the ongoing transaction, which starts now if there was none.
    pub fn add_partitions(
        &mut self,
        id: &str,
        pid: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        client_version: i16,
        now_ms: i64,
    ) -> (Result<(), i16>, Vec<TxnAppend>) {
        let m = match self.check_producer(id, pid, epoch) {
            Ok(m) => m,
            Err(code) => return (Err(code), vec![]),
        };
        match m.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return (Err(CONCURRENT), vec![]);
            }
            TxnState::Dead => return (Err(INVALID_STATE), vec![]),
            _ => {}
        }
        let already =
            m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p));
        if already {
            return (Ok(()), vec![]);
        }
        let mut m = m.clone();
        if m.state != TxnState::Ongoing {
            m.partitions.clear();
            m.start_ms = now_ms;
        }
        m.state = TxnState::Ongoing;
        m.partitions.extend(partitions.iter().cloned());
        m.last_update_ms = now_ms;
        m.client_version = m.client_version.max(client_version);
        (Ok(()), vec![Self::write(m)])
    }

    /// Whether a partition is in the producer's ongoing transaction (KIP-890 part 1: a
    /// transactional produce is verified before it is appended). A partition that is not is
    /// TRANSACTION_ABORTABLE, which the callers translate for clients that predate it; one
    /// whose transaction is ending is CONCURRENT_TRANSACTIONS (retriable).
    pub fn verify(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partition: &(String, i32),
    ) -> Result<(), i16> {
        let m = self.check_producer(id, pid, epoch)?;
        if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            Err(CONCURRENT)
        } else if m.state == TxnState::Ongoing && m.partitions.contains(partition) {
            Ok(())
        } else {
            Err(ResponseError::TransactionAbortable.code())
        }
    }

    /// EndTxn (Kafka's `handleEndTransaction`). `client_version` 2 bumps the epoch.
    pub fn end_txn(
        &mut self,
        req: &EndTxn<'_>,
        fresh_id: Option<i64>,
        now_ms: i64,
    ) -> (EndOutcome, Vec<TxnAppend>) {
        let EndTxn {
            id,
            producer_id: pid,
            epoch,
            commit,
            client_version,
        } = *req;
        let Some(m) = self.txns.get(id) else {
            return (EndOutcome::Failed(MAPPING), vec![]);
        };
        let tv2 = client_version >= 2;
        // Transaction version 2 bumps the epoch at every end, so a retried end arrives with the
        // epoch before the bump (or, if that bump ran out of epochs and the producer id changed,
        // with the previous id and the last epoch).
        let retry_on_overflow =
            tv2 && pid == m.prev_producer_id && epoch == i16::MAX - 1 && m.producer_epoch == 0;
        if m.producer_id != pid && !retry_on_overflow {
            return (EndOutcome::Failed(MAPPING), vec![]);
        }
        let retry =
            tv2 && (retry_on_overflow || i32::from(epoch) + 1 == i32::from(m.producer_epoch));
        let done = |m: &TxnMetadata| EndOutcome::Done {
            producer_id: m.producer_id,
            epoch: m.producer_epoch,
        };
        let ended = matches!(
            m.state,
            TxnState::PrepareCommit
                | TxnState::PrepareAbort
                | TxnState::CompleteCommit
                | TxnState::CompleteAbort
        );
        if retry && ended {
            // The end already happened: the same end is answered again (or, still writing its
            // markers, asked to wait); the other one is in the wrong state.
            let out = match (m.state, commit) {
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => done(m),
                (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                    EndOutcome::Failed(CONCURRENT)
                }
                _ => EndOutcome::Failed(INVALID_STATE),
            };
            return (out, vec![]);
        }
        if epoch != m.producer_epoch {
            return (EndOutcome::Failed(FENCED), vec![]);
        }
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let mut next = m.clone();
                if tv2 {
                    match next.producer_epoch.checked_add(1).filter(|e| *e < i16::MAX) {
                        Some(e) => {
                            next.last_producer_epoch = next.producer_epoch;
                            next.producer_epoch = e;
                        }
                        None => {
                            let Some(fresh) = fresh_id else {
                                return (EndOutcome::NeedsProducerId, vec![]);
                            };
                            next.next_producer_id = fresh;
                        }
                    }
                    next.client_version = 2;
                }
                next.state = if commit {
                    TxnState::PrepareCommit
                } else {
                    TxnState::PrepareAbort
                };
                next.last_update_ms = now_ms;
                let job = marker_job(&next, commit);
                (EndOutcome::Markers(job), vec![Self::write(next)])
            }
            (TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort, false)
                if tv2 =>
            {
                // KIP-890: an abort with nothing in the transaction still bumps the epoch.
                let mut next = m.clone();
                next.last_producer_epoch = next.producer_epoch;
                next.producer_epoch = next.producer_epoch.saturating_add(1);
                next.state = TxnState::CompleteAbort;
                next.client_version = 2;
                next.last_update_ms = now_ms;
                let out = done(&next);
                (out, vec![Self::write(next)])
            }
            // Transaction version 1 answers a repeated end again; version 2 has bumped the
            // epoch since, so the current epoch asks for a second commit of nothing.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if !tv2 => {
                (done(m), vec![])
            }
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                (EndOutcome::Failed(CONCURRENT), vec![])
            }
            (TxnState::PrepareEpochFence, _) => (EndOutcome::Failed(CONCURRENT), vec![]),
            _ => (EndOutcome::Failed(INVALID_STATE), vec![]),
        }
    }

    /// The markers of `job` are written: the transaction completes. Does nothing if the state
    /// moved on meanwhile.
    pub fn complete(&mut self, job: &MarkerJob, now_ms: i64) -> Vec<TxnAppend> {
        let Some(m) = self.txns.get(&job.transactional_id) else {
            return vec![];
        };
        let expected = if job.commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        if m.state != expected || m.producer_epoch != job.producer_epoch {
            return vec![];
        }
        let mut next = m.clone();
        next.state = if job.commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        if next.next_producer_id >= 0 {
            // Transaction version 2 ran out of epochs: the next transaction has a new id.
            next.prev_producer_id = next.producer_id;
            next.producer_id = next.next_producer_id;
            next.next_producer_id = -1;
            next.producer_epoch = 0;
        }
        next.partitions.clear();
        next.start_ms = -1;
        next.last_update_ms = now_ms;
        vec![Self::write(next)]
    }

    /// Transactions prepared but not completed (found at start-up): their markers are written
    /// again and they complete.
    pub fn prepared(&self) -> Vec<MarkerJob> {
        let mut jobs: Vec<MarkerJob> = self
            .txns
            .values()
            .filter(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|m| marker_job(m, m.state == TxnState::PrepareCommit))
            .collect();
        jobs.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        jobs
    }

    /// Ongoing transactions past their timeout.
    pub fn timed_out(&self, now_ms: i64) -> Vec<String> {
        let mut ids: Vec<String> = self
            .txns
            .values()
            .filter(|m| {
                m.state == TxnState::Ongoing
                    && m.start_ms >= 0
                    && now_ms.saturating_sub(m.start_ms) > i64::from(m.timeout_ms)
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Aborts a timed-out transaction: the epoch is bumped, so the producer is fenced (as
    /// Kafka's `abortTimedOutTransactions`).
    pub fn abort_timed_out(
        &mut self,
        id: &str,
        now_ms: i64,
    ) -> (Option<MarkerJob>, Vec<TxnAppend>) {
        if !self.timed_out(now_ms).iter().any(|t| t == id) {
            return (None, vec![]);
        }
        let Some(m) = self.txns.get(id) else {
            return (None, vec![]);
        };
        let mut next = m.clone();
        next.last_producer_epoch = next.producer_epoch;
        next.producer_epoch = next.producer_epoch.saturating_add(1);
        next.state = TxnState::PrepareAbort;
        next.last_update_ms = now_ms;
        let job = marker_job(&next, false);
        (Some(job), vec![Self::write(next)])
    }

    /// Transactional ids with nothing in progress and no update for
    /// `transactional.id.expiration.ms` (Kafka's `shouldExpire`).
    pub fn expired(&self, now_ms: i64) -> Vec<String> {
        let mut ids: Vec<String> = self
            .txns
            .values()
            .filter(|m| self.expires(m, now_ms))
            .map(|m| m.transactional_id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn expires(&self, m: &TxnMetadata, now_ms: i64) -> bool {
        matches!(
            m.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) && m.last_update_ms <= now_ms.saturating_sub(self.config.id_expiration_ms)
    }

    /// Removes an expired transactional id: a tombstone, if it is still expired (a producer may
    /// have come back since it was found).
    pub fn expire(&self, id: &str, now_ms: i64) -> Vec<TxnAppend> {
        match self.txns.get(id) {
            Some(m) if self.expires(m, now_ms) => vec![TxnAppend {
                record: TxnRecord {
                    transactional_id: id.to_string(),
                    value: None,
                },
            }],
            _ => vec![],
        }
    }

    /// ListTransactions: (transactional id, producer id, state), filtered as Kafka filters
    /// (no filter = everything; durations only count ongoing transactions).
    pub fn list(
        &self,
        states: &[TxnState],
        producer_ids: &[i64],
        min_duration_ms: i64,
        now_ms: i64,
    ) -> Vec<(String, i64, TxnState)> {
        let mut out: Vec<_> = self
            .txns
            .values()
            .filter(|m| states.is_empty() || states.contains(&m.state))
            .filter(|m| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|m| {
                min_duration_ms < 0
                    || (m.state == TxnState::Ongoing
                        && m.start_ms >= 0
                        && now_ms.saturating_sub(m.start_ms) >= min_duration_ms)
            })
            .map(|m| (m.transactional_id.clone(), m.producer_id, m.state))
            .collect();
        out.sort();
        out
    }

    /// DescribeTransactions for one id (TRANSACTIONAL_ID_NOT_FOUND when unknown).
    pub fn describe(&self, id: &str) -> Result<TxnView, i16> {
        let m = self
            .txns
            .get(id)
            .ok_or(ResponseError::TransactionalIdNotFound.code())?;
        Ok(TxnView {
            transactional_id: m.transactional_id.clone(),
            state: m.state,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            timeout_ms: m.timeout_ms,
            start_ms: m.start_ms,
            partitions: m.partitions.iter().cloned().collect(),
        })
    }
}

/// An epoch that may not be bumped any more (Kafka keeps `i16::MAX` for fencing): the
/// producer id changes instead.
fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

fn marker_job(m: &TxnMetadata, commit: bool) -> MarkerJob {
    MarkerJob {
        transactional_id: m.transactional_id.clone(),
        producer_id: m.producer_id,
        producer_epoch: m.producer_epoch,
        commit,
        partitions: m.partitions.iter().cloned().collect(),
    }
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
