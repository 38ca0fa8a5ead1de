//! The transaction coordinator: Kafka's transaction state machine per `transactional.id`,
//! durable in the compacted `__transaction_state` topic.
//!
//! - `coordinator`: the state machine ([`TxnCoordinator`], a shard on the coordinator runtime).
//!   No clock, socket or disk: an operation returns the records to append and an outcome; the
//!   state changes only when a record is replayed — live, and at start-up from the topic.
//! - `records`: Kafka's `TransactionLogKey` / `TransactionLogValue` schemas.
//! - `service`: the handle the handlers call. It drives what spans several steps — writing the
//!   transaction markers to every partition between the prepare and the complete record,
//!   aborting transactions that ran past their timeout, finishing prepared transactions found
//!   at start-up.
//!
//! States, as Kafka's `TransactionState` (the ids are what the log stores): Empty → Ongoing
//! (partitions added) → PrepareCommit / PrepareAbort (EndTxn; markers being written) →
//! CompleteCommit / CompleteAbort → Ongoing again with the next transaction. InitProducerId
//! bumps the epoch, fencing the previous producer; an Ongoing transaction it finds is aborted
//! first (with the bumped epoch). Transaction version 2 (KIP-890) bumps the epoch at every
//! EndTxn and lets partitions join the transaction implicitly.

use std::collections::{BTreeMap, BTreeSet};

pub mod coordinator;
pub mod records;
pub mod service;

pub use coordinator::TxnCoordinator;
pub use service::TxnCoordinatorHandle;

/// Kafka's `TransactionState`, with the ids it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TxnState {
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

impl TxnState {
    pub fn from_id(id: i8) -> Option<TxnState> {
        Some(match id {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name Kafka's admin APIs use (ListTransactions, DescribeTransactions).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    pub fn from_name(name: &str) -> Option<TxnState> {
        [
            TxnState::Empty,
            TxnState::Ongoing,
            TxnState::PrepareCommit,
            TxnState::PrepareAbort,
            TxnState::CompleteCommit,
            TxnState::CompleteAbort,
            TxnState::Dead,
            TxnState::PrepareEpochFence,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// One transactional id's state: what a `TransactionLogValue` record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    /// The producer id before the last change of id (epoch exhaustion), -1 if none.
    pub prev_producer_id: i64,
    /// The producer id handed out next (epoch exhaustion with transaction version 2), -1.
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump (KIP-360 retries), -1 if unknown. Not stored.
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// (topic, partition) in the transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// When the ongoing transaction started (-1 when none).
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// The transaction version the client uses (0 or 1: version 1; 2: KIP-890).
    pub client_version: i16,
}

impl TxnMetadata {
    /// The partitions grouped by topic, as the record stores them.
    pub fn partitions_by_topic(&self) -> BTreeMap<&str, Vec<i32>> {
        let mut out: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, p) in &self.partitions {
            out.entry(topic.as_str()).or_default().push(*p);
        }
        out
    }
}

/// Transaction markers to write: the end of one transaction in every partition it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    pub transactional_id: String,
    pub producer_id: i64,
    /// The epoch the markers carry (bumped for transaction version 2 and for fencing).
    pub producer_epoch: i16,
    pub commit: bool,
    pub partitions: Vec<(String, i32)>,
}
