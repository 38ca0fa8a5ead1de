//! The coordinator's driver: one thread that owns the [`GroupCoordinator`], and the handle the
//! request handlers use to talk to it.
//!
//! The thread runs a single-threaded tokio runtime. Each loop iteration waits for a command or
//! the coordinator's next timer deadline (no fixed tick), runs it, appends the resulting
//! records to their `__consumer_offsets` partition through the ordinary `PartitionLog`
//! (`build_batch` + `append`, so the topic is byte-for-byte Kafka's), completes the appends in
//! the state machine, and sends the responses — after the partition's fsync when the flush
//! policy (`flush.messages` / `flush.ms`) asks for one, as Produce does.
//!
//! At start-up, `load` replays every partition of `__consumer_offsets` into the coordinator
//! before the broker reports ready (Kafka loads asynchronously and answers
//! COORDINATOR_LOAD_IN_PROGRESS meanwhile; one node can afford to wait). The topic is created
//! with `offsets.topic.num.partitions` partitions on first use, as Kafka does.

use std::os::unix::fs::FileExt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use tokio::sync::{mpsc, oneshot};

use super::coordinator::{
    Append, AppendFailed, CommitRequest, FetchedOffsets, HeartbeatRequest, JoinRequest,
    LeaveResult, LeavingMember, Outcome, PartitionErrors, SyncRequest, join_error, sync_error,
};
use super::records::CoordinatorRecord;
use super::{GroupCoordinator, OFFSETS_TOPIC, error, partition_for};
use crate::broker::{Broker, CreateTopicError, now_ms};
use crate::log::batch::{BatchHeader, HEADER_LEN, MAX_DECOMPRESSED_BATCH_BYTES};
use crate::log::{BatchOptions, NewRecord, build_batch, compression, record};
use crate::metadata::topics::{Partition, Topic};

/// Commands waiting for the coordinator thread. Each connection has at most one request in
/// flight, so this only bounds bursts; senders wait when it is full.
const COMMAND_QUEUE: usize = 1024;
/// How much of a partition is read at once while loading.
const LOAD_READ_BYTES: u32 = 1 << 20;
/// Room left in a batch for its header and per-record framing when splitting large appends.
const BATCH_OVERHEAD_BYTES: usize = HEADER_LEN + 64;

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Join(JoinRequest, Reply<JoinGroupResponse>),
    Sync(SyncRequest, Reply<SyncGroupResponse>),
    Heartbeat(HeartbeatRequest, Reply<i16>),
    Leave(String, Vec<LeavingMember>, Reply<Vec<LeaveResult>>),
    Commit(CommitRequest, Reply<PartitionErrors>),
    Fetch(FetchQuery, Reply<Vec<FetchedOffsets>>),
    DeleteOffsets(
        String,
        Vec<(String, Vec<i32>)>,
        Reply<Result<PartitionErrors, i16>>,
    ),
    DeleteGroups(Vec<String>, Reply<Vec<(String, i16)>>),
    Describe(Vec<String>, Reply<Vec<DescribedGroup>>),
    List(Vec<String>, Vec<String>, Reply<Vec<ListedGroup>>),
    TopicDeleted(String),
    Unload,
}

/// Groups to fetch offsets for, each with its topics (`None` = all).
pub type FetchQuery = Vec<(String, Option<Vec<(String, Vec<i32>)>>)>;

/// What the handlers hold: a way to send commands to the coordinator thread.
pub struct GroupCoordinatorHandle {
    commands: mpsc::Sender<Command>,
    /// The coordinator and its command queue until `start` hands them to the thread.
    unstarted: std::sync::Mutex<Option<(GroupCoordinator, mpsc::Receiver<Command>)>>,
}

/// Builds the coordinator for a broker being opened: replays `__consumer_offsets` if it exists.
/// Call [`GroupCoordinatorHandle::start`] once the broker is built.
pub fn open(
    config: &crate::config::BrokerConfig,
    topics: &crate::metadata::topics::TopicRegistry,
    now: i64,
) -> Result<GroupCoordinatorHandle, String> {
    let mut coordinator = GroupCoordinator::new(config.groups.clone(), now);
    if let Some(topic) = topics.get(OFFSETS_TOPIC) {
        let started = std::time::Instant::now();
        let records = load(&mut coordinator, &topic, now)?;
        coordinator.on_loaded(now);
        tracing::info!(
            records,
            groups = coordinator.num_groups(),
            offsets = coordinator.offsets().len(),
            "loaded {OFFSETS_TOPIC} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(GroupCoordinatorHandle::new(coordinator))
}

impl GroupCoordinatorHandle {
    pub fn new(coordinator: GroupCoordinator) -> GroupCoordinatorHandle {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        GroupCoordinatorHandle {
            commands: tx,
            unstarted: std::sync::Mutex::new(Some((coordinator, rx))),
        }
    }

    /// Starts the coordinator thread (once). It holds only a weak reference to the broker and
    /// ends when the broker, and with it this handle, is dropped.
    pub fn start(&self, broker: &Arc<Broker>) {
        let taken = self
            .unstarted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some((coordinator, rx)) = taken else {
            return;
        };
        let broker = Arc::downgrade(broker);
        let spawned = std::thread::Builder::new()
            .name("vltava-groups".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("cannot start the group coordinator runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(
                    Driver {
                        coordinator,
                        broker,
                    }
                    .run(rx),
                );
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the group coordinator thread: {e}");
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// JoinGroup; waits for the join phase. NOT_COORDINATOR if the coordinator went away (the
    /// client then looks it up again).
    pub async fn join_group(&self, req: JoinRequest) -> JoinGroupResponse {
        let member_id = req.member_id.clone();
        self.ask(|tx| Command::Join(req, tx))
            .await
            .unwrap_or_else(|| join_error(&member_id, error::NOT_COORDINATOR))
    }

    pub async fn sync_group(&self, req: SyncRequest) -> SyncGroupResponse {
        self.ask(|tx| Command::Sync(req, tx))
            .await
            .unwrap_or_else(|| sync_error(error::NOT_COORDINATOR))
    }

    pub async fn heartbeat(&self, req: HeartbeatRequest) -> i16 {
        self.ask(|tx| Command::Heartbeat(req, tx))
            .await
            .unwrap_or(error::NOT_COORDINATOR)
    }

    /// LeaveGroup; `Err` is a group-level error.
    pub async fn leave_group(
        &self,
        group_id: String,
        members: Vec<LeavingMember>,
    ) -> Result<Vec<LeaveResult>, i16> {
        self.ask(|tx| Command::Leave(group_id, members, tx))
            .await
            .ok_or(error::NOT_COORDINATOR)
    }

    pub async fn commit_offsets(&self, req: CommitRequest) -> PartitionErrors {
        let mut fallback: PartitionErrors = req
            .topics
            .iter()
            .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, 0)).collect()))
            .collect();
        match self.ask(|tx| Command::Commit(req, tx)).await {
            Some(r) => r,
            None => {
                fallback.append_failed(error::NOT_COORDINATOR);
                fallback
            }
        }
    }

    /// OffsetFetch for several groups; `Err` when the coordinator is unavailable.
    pub async fn fetch_offsets(&self, query: FetchQuery) -> Result<Vec<FetchedOffsets>, i16> {
        self.ask(|tx| Command::Fetch(query, tx))
            .await
            .ok_or(error::NOT_COORDINATOR)
    }

    pub async fn delete_offsets(
        &self,
        group_id: String,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Result<PartitionErrors, i16> {
        self.ask(|tx| Command::DeleteOffsets(group_id, topics, tx))
            .await
            .unwrap_or(Err(error::NOT_COORDINATOR))
    }

    pub async fn delete_groups(&self, group_ids: Vec<String>) -> Vec<(String, i16)> {
        let fallback: Vec<(String, i16)> = group_ids
            .iter()
            .map(|g| (g.clone(), error::NOT_COORDINATOR))
            .collect();
        self.ask(|tx| Command::DeleteGroups(group_ids, tx))
            .await
            .unwrap_or(fallback)
    }

    pub async fn describe_groups(
        &self,
        group_ids: Vec<String>,
    ) -> Result<Vec<DescribedGroup>, i16> {
        self.ask(|tx| Command::Describe(group_ids, tx))
            .await
            .ok_or(error::NOT_COORDINATOR)
    }

    pub async fn list_groups(
        &self,
        states: Vec<String>,
        types: Vec<String>,
    ) -> Result<Vec<ListedGroup>, i16> {
        self.ask(|tx| Command::List(states, types, tx))
            .await
            .ok_or(error::COORDINATOR_NOT_AVAILABLE)
    }

    /// A topic was deleted: drop its committed offsets (best effort, does not wait).
    pub fn topic_deleted(&self, topic: &str) {
        let _ = self
            .commands
            .try_send(Command::TopicDeleted(topic.to_string()));
    }

    /// Shutdown has begun: answer parked JoinGroup/SyncGroup requests now, so connections can
    /// finish (does not wait).
    pub fn unload(&self) {
        let _ = self.commands.try_send(Command::Unload);
    }
}

struct Driver {
    coordinator: GroupCoordinator,
    broker: Weak<Broker>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let sleep = self.coordinator.next_deadline().map(|deadline| {
                let wait = deadline.saturating_sub(now_ms()).max(0);
                Duration::from_millis(u64::try_from(wait).unwrap_or(0))
            });
            tokio::select! {
                command = commands.recv() => match command {
                    Some(c) => self.handle(c).await,
                    None => return,
                },
                _ = async {
                    match sleep {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
            // Timers due now include zero-delay ones an operation just scheduled (an initial
            // rebalance with no delay completes in the same iteration).
            let now = now_ms();
            let appends = self.coordinator.fire_timers(now);
            let _: () = self.apply(appends_only(appends)).await;
        }
    }

    async fn handle(&mut self, command: Command) {
        let now = now_ms();
        match command {
            Command::Join(req, reply) => {
                let appends = self.coordinator.join_group(req, reply, now);
                self.apply(appends_only(appends)).await;
            }
            Command::Sync(req, reply) => {
                let appends = self.coordinator.sync_group(req, reply, now);
                self.apply(appends_only(appends)).await;
            }
            Command::Heartbeat(req, reply) => {
                let _ = reply.send(self.coordinator.heartbeat(req, now));
            }
            Command::Leave(group, members, reply) => {
                let outcome = self.coordinator.leave_group(&group, members, now);
                let r = self.apply(outcome).await;
                let _ = reply.send(r);
            }
            Command::Commit(req, reply) => {
                let outcome = self.coordinator.commit_offsets(req, now);
                self.apply_then_reply(outcome, reply).await;
            }
            Command::Fetch(query, reply) => {
                let results = query
                    .into_iter()
                    .map(|(group, topics)| self.coordinator.fetch_offsets(&group, topics))
                    .collect();
                let _ = reply.send(results);
            }
            Command::DeleteOffsets(group, topics, reply) => {
                let outcome = self.coordinator.delete_offsets(&group, topics);
                self.apply_then_reply(outcome, reply).await;
            }
            Command::DeleteGroups(groups, reply) => {
                let mut results = Vec::with_capacity(groups.len());
                for g in groups {
                    let outcome = self.coordinator.delete_group(&g);
                    let code = self.apply(outcome).await;
                    results.push((g, code));
                }
                let _ = reply.send(results);
            }
            Command::Describe(groups, reply) => {
                let described = groups
                    .iter()
                    .map(|g| self.coordinator.describe_group(g))
                    .collect();
                let _ = reply.send(described);
            }
            Command::List(states, types, reply) => {
                let _ = reply.send(self.coordinator.list_groups(&states, &types));
            }
            Command::TopicDeleted(topic) => {
                let appends = self.coordinator.on_topic_deleted(&topic);
                self.apply(appends_only(appends)).await;
            }
            Command::Unload => {
                self.coordinator.unload();
                self.apply(appends_only(Vec::new())).await;
            }
        }
    }

    /// Appends an outcome's records, completes them in the coordinator (which may produce more
    /// appends), and sends the parked responses it produced; the outcome's own response is
    /// returned, turned into its failure form if an append failed. Responses wait for the
    /// fsync when the flush policy asks for one.
    async fn apply<R: AppendFailed>(&mut self, outcome: Outcome<R>) -> R {
        let (response, flush) = self.write(outcome).await;
        let deliveries = self.coordinator.take_deliveries();
        match (flush.is_empty(), self.broker.upgrade()) {
            (false, Some(broker)) => {
                // Wait for the fsyncs without holding up other groups.
                tokio::spawn(async move {
                    for p in flush {
                        if let Err(e) = broker.flush(p).await {
                            tracing::error!("__consumer_offsets flush failed: {e}");
                        }
                    }
                    for d in deliveries {
                        d.send();
                    }
                });
            }
            _ => {
                for d in deliveries {
                    d.send();
                }
            }
        }
        response
    }

    /// `apply`, then the reply — after the fsync when one is needed.
    async fn apply_then_reply<R: AppendFailed + Send + 'static>(
        &mut self,
        outcome: Outcome<R>,
        reply: Reply<R>,
    ) {
        let (response, flush) = self.write(outcome).await;
        let deliveries = self.coordinator.take_deliveries();
        let broker = self.broker.upgrade();
        tokio::spawn(async move {
            if let Some(broker) = broker {
                for p in flush {
                    if let Err(e) = broker.flush(p).await {
                        tracing::error!("__consumer_offsets flush failed: {e}");
                    }
                }
            }
            for d in deliveries {
                d.send();
            }
            let _ = reply.send(response);
        });
    }

    /// Appends every record set (and those their completion produces); returns the response
    /// and the partitions that need an fsync before anyone is told.
    async fn write<R: AppendFailed>(&mut self, outcome: Outcome<R>) -> (R, Vec<Arc<Partition>>) {
        let Outcome {
            mut response,
            appends,
        } = outcome;
        let mut pending = appends;
        let mut flush: Vec<Arc<Partition>> = Vec::new();
        while !pending.is_empty() {
            let mut next = Vec::new();
            for append in pending {
                let now = now_ms();
                let result = match self.offsets_topic().await {
                    Ok(topic) => append_records(&topic, &append, now),
                    Err(code) => Err(code),
                };
                let result = result.map(|needs_flush| {
                    if let Some(p) = needs_flush
                        && !flush.iter().any(|f| Arc::ptr_eq(f, &p))
                    {
                        flush.push(p);
                    }
                });
                if let Err(code) = result {
                    tracing::warn!(group = %append.group_id, code, "__consumer_offsets append failed");
                }
                let (outcome, more) = self.coordinator.complete_append(append, result, now);
                if let Err(code) = outcome {
                    response.append_failed(code);
                }
                next.extend(more);
            }
            pending = next;
        }
        (response, flush)
    }

    async fn offsets_topic(&self) -> Result<Arc<Topic>, i16> {
        let broker = self
            .broker
            .upgrade()
            .ok_or(error::COORDINATOR_NOT_AVAILABLE)?;
        ensure_offsets_topic(&broker).await
    }
}

/// An outcome that is only appends (its responses are parked requests).
fn appends_only(appends: Vec<Append>) -> Outcome<()> {
    Outcome {
        response: (),
        appends,
    }
}

/// The `__consumer_offsets` topic, created on first use (compacted, like Kafka's).
/// UNKNOWN_TOPIC_OR_PARTITION if it cannot be created (which becomes COORDINATOR_NOT_AVAILABLE).
pub async fn ensure_offsets_topic(broker: &Broker) -> Result<Arc<Topic>, i16> {
    if let Some(t) = broker.topics.get(OFFSETS_TOPIC) {
        return Ok(t);
    }
    let groups = &broker.config.groups;
    let configs = [
        ("cleanup.policy", "compact".to_string()),
        ("compression.type", "producer".to_string()),
        (
            "segment.bytes",
            groups.offsets_topic_segment_bytes.to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    match broker
        .create_topic(
            OFFSETS_TOPIC,
            groups.offsets_topic_num_partitions,
            1,
            configs,
            false,
        )
        .await
    {
        Ok(Some(t)) => Ok(t),
        Ok(None) | Err(CreateTopicError::AlreadyExists(_)) => broker
            .topics
            .get(OFFSETS_TOPIC)
            .ok_or(error::UNKNOWN_TOPIC_OR_PARTITION),
        Err(e) => {
            tracing::error!("cannot create {OFFSETS_TOPIC}: {e}");
            Err(error::UNKNOWN_TOPIC_OR_PARTITION)
        }
    }
}

/// Appends one group's records to its partition, in as few batches as `max.message.bytes`
/// allows. Returns the partition if the flush policy wants an fsync now.
fn append_records(topic: &Topic, append: &Append, now: i64) -> Result<Option<Arc<Partition>>, i16> {
    let count = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
    let index = partition_for(&append.group_id, count);
    let partition = topic
        .partition(index)
        .ok_or(error::UNKNOWN_TOPIC_OR_PARTITION)?;
    let mut encoded = Vec::with_capacity(append.records.len());
    for r in &append.records {
        let key = r.encode_key().map_err(|_| error::INVALID_REQUEST)?;
        let value = r.encode_value().map_err(|_| error::INVALID_REQUEST)?;
        encoded.push(NewRecord {
            key: Some(key),
            value,
            headers: Vec::new(),
            timestamp_ms: now,
        });
    }
    let max_batch = partition.log().config().max_message_bytes as usize;
    let mut flush = false;
    let mut start = 0;
    while start < encoded.len() {
        let mut end = start;
        let mut size = BATCH_OVERHEAD_BYTES;
        while end < encoded.len() {
            let r = &encoded[end];
            let record_size =
                r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len) + 32;
            if end > start && size + record_size > max_batch {
                break;
            }
            size += record_size;
            end += 1;
        }
        let batch = build_batch(&encoded[start..end], &BatchOptions::default())
            .map_err(|_| error::UNKNOWN_SERVER_ERROR)?;
        let outcome = partition
            .log()
            .append(&batch, partition.leader_epoch, now)
            .map_err(|e| e.error_code())?;
        flush |= outcome.flush_needed;
        start = end;
    }
    partition.wake_watchers();
    Ok(flush.then(|| partition.clone()))
}

/// Replays every record of `__consumer_offsets` into the coordinator (start-up). Records that
/// do not decode are skipped with a warning; I/O errors fail the load.
pub fn load(coordinator: &mut GroupCoordinator, topic: &Topic, now: i64) -> Result<usize, String> {
    let mut replayed = 0;
    for partition in &topic.partitions {
        let (start, end) = {
            let log = partition.log();
            (log.log_start_offset(), log.high_watermark())
        };
        let mut offset = start;
        while offset < end {
            let region = partition
                .log()
                .read(offset, LOAD_READ_BYTES, true)
                .map_err(|e| format!("{OFFSETS_TOPIC}-{}: {e}", partition.index))?;
            let Some(region) = region else { break };
            let mut buf = vec![0u8; region.len as usize];
            region
                .file
                .read_exact_at(&mut buf, region.position)
                .map_err(|e| format!("{OFFSETS_TOPIC}-{}: {e}", partition.index))?;
            let mut pos = 0usize;
            let mut progressed = false;
            while let Some(header) = buf.get(pos..).and_then(BatchHeader::parse) {
                let Some(size) = header.total_size().and_then(|s| usize::try_from(s).ok()) else {
                    break;
                };
                let Some(bytes) = buf.get(pos..pos + size) else {
                    break; // cut off by the read size: read again from this batch
                };
                if header.next_offset() > offset {
                    replayed += replay_batch(coordinator, &header, bytes, partition.index, now);
                }
                offset = header.next_offset();
                progressed = true;
                pos += size;
            }
            if !progressed {
                return Err(format!(
                    "{OFFSETS_TOPIC}-{}: unreadable batch at offset {offset}",
                    partition.index
                ));
            }
        }
    }
    Ok(replayed)
}

fn replay_batch(
    coordinator: &mut GroupCoordinator,
    header: &BatchHeader,
    bytes: &[u8],
    partition: i32,
    now: i64,
) -> usize {
    if header.is_control() || header.is_transactional() {
        return 0; // no transactional offset commits without transactions
    }
    let Some(body) = bytes.get(HEADER_LEN..) else {
        return 0;
    };
    let plain = match header.compression() {
        Some(codec) => match compression::decompress(codec, body, MAX_DECOMPRESSED_BATCH_BYTES) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(partition, "skipping undecodable {OFFSETS_TOPIC} batch: {e}");
                return 0;
            }
        },
        None => return 0,
    };
    let mut decoded = Vec::new();
    let walk = record::for_each_record(&plain, header.records_count, |_, r| {
        if let Some(key) = r.key {
            match CoordinatorRecord::decode(key, r.value) {
                Ok(Some(rec)) => decoded.push(rec),
                Ok(None) => {}
                Err(e) => tracing::warn!(partition, "skipping undecodable record: {e}"),
            }
        }
        true
    });
    if let Err(e) = walk {
        tracing::warn!(partition, "malformed {OFFSETS_TOPIC} batch: {}", e.reason);
    }
    let n = decoded.len();
    for r in decoded {
        coordinator.replay(r, now);
    }
    n
}
