//! The group coordinator as the handlers see it: typed calls that run as operations on the
//! shared coordinator runtime (`coordinator::runtime`), which owns the [`GroupCoordinator`] on
//! its thread, appends the records it returns to `__consumer_offsets` through the
//! [`CoordinatorLog`] port, and answers once they are durable.
//!
//! At start-up [`open`] replays every partition of `__consumer_offsets` into the coordinator
//! before the broker reports ready (Kafka loads asynchronously and answers
//! COORDINATOR_LOAD_IN_PROGRESS meanwhile; one node can afford to wait). The topic itself is
//! created by the port on first use, with `offsets.topic.num.partitions` partitions.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use tokio::sync::oneshot;

use super::coordinator::{
    Append, CommitRequest, FetchedOffsets, GroupsSnapshot, HeartbeatRequest, JoinRequest,
    LeaveResult, LeavingMember, PartitionErrors, SyncRequest, join_error, sync_error,
};
use super::records::CoordinatorRecord;
use super::{GroupCoordinator, OFFSETS_TOPIC};
use crate::config::GroupConfig;
use crate::coordinator::runtime::{
    AppendFailed, CoordinatorLog, CoordinatorRuntime, EncodedRecord, Shard,
};

/// Groups to fetch offsets for, each with its topics (`None` = all).
pub type FetchQuery = Vec<(String, Option<Vec<(String, Vec<i32>)>>)>;

/// What the handlers hold.
pub struct GroupCoordinatorHandle {
    runtime: CoordinatorRuntime<GroupCoordinator>,
    log: Arc<dyn CoordinatorLog>,
}

/// Builds the coordinator: replays `__consumer_offsets` through `log` if it exists, and starts
/// the coordinator thread.
pub fn open(
    config: &GroupConfig,
    log: Arc<dyn CoordinatorLog>,
    now: i64,
) -> Result<GroupCoordinatorHandle, String> {
    let coordinator = GroupCoordinator::new(config.clone(), now);
    let runtime = CoordinatorRuntime::load(coordinator, log.as_ref(), OFFSETS_TOPIC)?;
    runtime.start("groups", log.clone());
    Ok(GroupCoordinatorHandle { runtime, log })
}

impl Shard for GroupCoordinator {
    type Append = Append;

    fn key(append: &Append) -> &str {
        &append.group_id
    }

    fn encode(append: &Append) -> Result<Vec<EncodedRecord>, i16> {
        append
            .records
            .iter()
            .map(|r| {
                let key = r
                    .encode_key()
                    .map_err(|_| ResponseError::InvalidRequest.code())?;
                let value = r
                    .encode_value()
                    .map_err(|_| ResponseError::InvalidRequest.code())?;
                Ok((key, value))
            })
            .collect()
    }

    fn complete_append(
        &mut self,
        append: Append,
        result: Result<(), i16>,
        now_ms: i64,
    ) -> (Result<(), i16>, Vec<Append>) {
        GroupCoordinator::complete_append(self, append, result, now_ms)
    }

    fn take_deliveries(&mut self) -> Vec<Box<dyn FnOnce() + Send>> {
        GroupCoordinator::take_deliveries(self)
            .into_iter()
            .map(|d| Box::new(move || d.send()) as Box<dyn FnOnce() + Send>)
            .collect()
    }

    fn next_deadline(&self) -> Option<i64> {
        GroupCoordinator::next_deadline(self)
    }

    fn fire_timers(&mut self, now_ms: i64) -> Vec<Append> {
        GroupCoordinator::fire_timers(self, now_ms)
    }

    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now_ms: i64) {
        match CoordinatorRecord::decode(key, value) {
            Ok(Some(record)) => GroupCoordinator::replay(self, record, now_ms),
            Ok(None) => {}
            Err(e) => tracing::warn!("skipping an undecodable {OFFSETS_TOPIC} record: {e}"),
        }
    }

    fn on_loaded(&mut self, now_ms: i64) {
        GroupCoordinator::on_loaded(self, now_ms);
    }

    fn producer(append: &Append) -> Option<(i64, i16)> {
        append.producer
    }

    fn replay_transactional(
        &mut self,
        _partition: i32,
        producer_id: i64,
        key: &[u8],
        value: Option<&[u8]>,
        _now_ms: i64,
    ) {
        match CoordinatorRecord::decode(key, value) {
            Ok(Some(record)) => GroupCoordinator::replay_transactional(self, producer_id, record),
            Ok(None) => {}
            Err(e) => tracing::warn!("skipping an undecodable {OFFSETS_TOPIC} record: {e}"),
        }
    }

    fn replay_marker(&mut self, _partition: i32, producer_id: i64, commit: bool, now_ms: i64) {
        GroupCoordinator::complete_transaction(self, producer_id, commit, now_ms);
    }

    fn unload(&mut self) {
        GroupCoordinator::unload(self);
    }
}

const NOT_COORDINATOR: i16 = ResponseError::NotCoordinator.code();

impl GroupCoordinatorHandle {
    /// Makes sure `__consumer_offsets` exists (FindCoordinator creates it on first use, as
    /// Kafka does).
    pub async fn ensure_ready(&self) -> Result<(), i16> {
        self.log.partitions().await.map(|_| ())
    }

    /// JoinGroup; waits for the join phase. NOT_COORDINATOR if the coordinator went away (the
    /// client then looks it up again).
    pub async fn join_group(&self, req: JoinRequest) -> JoinGroupResponse {
        let member_id = req.member_id.clone();
        let (tx, rx) = oneshot::channel();
        let parked = self
            .runtime
            .write(move |c, now| ((), c.join_group(req, tx, now)))
            .await;
        match (parked, rx.await) {
            (Some(()), Ok(response)) => response,
            _ => join_error(&member_id, NOT_COORDINATOR),
        }
    }

    pub async fn sync_group(&self, req: SyncRequest) -> SyncGroupResponse {
        let (tx, rx) = oneshot::channel();
        let parked = self
            .runtime
            .write(move |c, now| ((), c.sync_group(req, tx, now)))
            .await;
        match (parked, rx.await) {
            (Some(()), Ok(response)) => response,
            _ => sync_error(NOT_COORDINATOR),
        }
    }

    pub async fn heartbeat(&self, req: HeartbeatRequest) -> i16 {
        self.runtime
            .read(move |c, now| c.heartbeat(req, now))
            .await
            .unwrap_or(NOT_COORDINATOR)
    }

    /// LeaveGroup; `Err` is a group-level error.
    pub async fn leave_group(
        &self,
        group_id: String,
        members: Vec<LeavingMember>,
    ) -> Result<Vec<LeaveResult>, i16> {
        self.runtime
            .write(move |c, now| {
                let outcome = c.leave_group(&group_id, members, now);
                (outcome.response, outcome.appends)
            })
            .await
            .ok_or(NOT_COORDINATOR)
    }

    pub async fn commit_offsets(&self, req: CommitRequest) -> PartitionErrors {
        let mut fallback: PartitionErrors = req
            .topics
            .iter()
            .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, 0)).collect()))
            .collect();
        let committed = self
            .runtime
            .write(move |c, now| {
                let outcome = c.commit_offsets(req, now);
                (outcome.response, outcome.appends)
            })
            .await;
        committed.unwrap_or_else(|| {
            fallback.append_failed(NOT_COORDINATOR);
            fallback
        })
    }

    /// TxnOffsetCommit: the offsets are pending until the transaction's marker.
    pub async fn commit_txn_offsets(
        &self,
        req: CommitRequest,
        producer: (i64, i16),
    ) -> PartitionErrors {
        let mut fallback: PartitionErrors = req
            .topics
            .iter()
            .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, 0)).collect()))
            .collect();
        let committed = self
            .runtime
            .write(move |c, now| {
                let outcome = c.commit_txn_offsets(req, producer, now);
                (outcome.response, outcome.appends)
            })
            .await;
        committed.unwrap_or_else(|| {
            fallback.append_failed(NOT_COORDINATOR);
            fallback
        })
    }

    /// Writes a transaction marker to `__consumer_offsets` partition `index` (the transaction
    /// coordinator ends a transaction that committed offsets there) and applies it: the
    /// producer's pending offsets become visible, or are dropped.
    pub async fn write_marker(
        &self,
        index: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), i16> {
        self.runtime
            .write_marker(index, producer_id, producer_epoch, commit, 0)
            .await
            .unwrap_or(Err(NOT_COORDINATOR))
    }

    /// The `__consumer_offsets` partition of a group (AddOffsetsToTxn adds it to the
    /// transaction).
    pub async fn partition_of(&self, group_id: &str) -> Result<i32, i16> {
        let partitions = self.log.partitions().await?;
        Ok(crate::coordinator::runtime::partition_for(
            group_id, partitions,
        ))
    }

    /// OffsetFetch for several groups; `Err` when the coordinator is unavailable.
    pub async fn fetch_offsets(&self, query: FetchQuery) -> Result<Vec<FetchedOffsets>, i16> {
        self.runtime
            .read(move |c, _| {
                query
                    .into_iter()
                    .map(|(group, topics)| c.fetch_offsets(&group, topics))
                    .collect()
            })
            .await
            .ok_or(NOT_COORDINATOR)
    }

    /// Per group, the partitions whose offsets a transaction holds undecided (OffsetFetch with
    /// `require_stable`).
    pub async fn pending_partitions(
        &self,
        group_ids: Vec<String>,
    ) -> Result<Vec<Vec<(String, i32)>>, i16> {
        self.runtime
            .read(move |c, _| group_ids.iter().map(|g| c.pending_partitions(g)).collect())
            .await
            .ok_or(NOT_COORDINATOR)
    }

    pub async fn delete_offsets(
        &self,
        group_id: String,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Result<PartitionErrors, i16> {
        self.runtime
            .write(move |c, _| {
                let outcome = c.delete_offsets(&group_id, topics);
                (outcome.response, outcome.appends)
            })
            .await
            .unwrap_or(Err(NOT_COORDINATOR))
    }

    pub async fn delete_groups(&self, group_ids: Vec<String>) -> Vec<(String, i16)> {
        let mut results = Vec::with_capacity(group_ids.len());
        for g in group_ids {
            let id = g.clone();
            let code = self
                .runtime
                .write(move |c, _| {
                    let outcome = c.delete_group(&id);
                    (outcome.response, outcome.appends)
                })
                .await
                .unwrap_or(NOT_COORDINATOR);
            results.push((g, code));
        }
        results
    }

    pub async fn describe_groups(
        &self,
        group_ids: Vec<String>,
    ) -> Result<Vec<DescribedGroup>, i16> {
        self.runtime
            .read(move |c, _| group_ids.iter().map(|g| c.describe_group(g)).collect())
            .await
            .ok_or(NOT_COORDINATOR)
    }

    pub async fn list_groups(
        &self,
        states: Vec<String>,
        types: Vec<String>,
    ) -> Result<Vec<ListedGroup>, i16> {
        self.runtime
            .read(move |c, _| c.list_groups(&states, &types))
            .await
            .ok_or(ResponseError::CoordinatorNotAvailable.code())
    }

    /// Every committed offset and the groups per state, for `/metrics` and the console. Blocks up to
    /// `timeout` (call it off the async workers); `None` when the coordinator does not answer.
    pub fn snapshot_blocking(&self, timeout: std::time::Duration) -> Option<GroupsSnapshot> {
        self.runtime.read_blocking(|c, _| c.snapshot(), timeout)
    }

    /// Shutdown has begun: answer parked JoinGroup/SyncGroup requests now, so connections can
    /// finish (does not wait).
    pub fn unload(&self) {
        self.runtime.schedule(|c, _| {
            c.unload();
            Vec::new()
        });
    }
}

impl GroupCoordinatorHandle {
    /// A topic was deleted: drop its committed offsets (best effort, does not wait).
    pub fn topic_deleted(&self, topic: &str) {
        let topic = topic.to_string();
        self.runtime
            .schedule(move |c, _| c.on_topic_deleted(&topic));
    }
}
