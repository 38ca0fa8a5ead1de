//! The coordinator runtime, shared by the group coordinator and (next) the transaction
//! coordinator — the shape of Kafka's `coordinator-common`.
//!
//! A coordinator is a [`Shard`]: a state machine whose operations return a response and the
//! records to append to its internal topic, and whose durable state changes only when records
//! are replayed. The runtime owns the shard on one thread (a current-thread tokio runtime),
//! runs operations one at a time, appends their records through a narrow [`CoordinatorLog`]
//! port (the internal topic; it does not know the broker, the handlers or the network), lets
//! the shard complete each append, waits for the fsync when the flush policy asks for one, and
//! only then answers. Timers are deadlines the thread sleeps until — no ticks. At start-up the
//! runtime replays every record of the internal topic into the shard.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::log::batch::{BatchHeader, HEADER_LEN, MAX_DECOMPRESSED_BATCH_BYTES};
use crate::log::{BatchOptions, NewRecord, build_batch, compression, now_ms, record};

/// A boxed future, for the port's methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One record as the internal topic stores it: key, and value (`None` for a tombstone).
pub type EncodedRecord = (Vec<u8>, Option<Vec<u8>>);

/// A wait for an append to become durable (an fsync shared with other appends).
pub type Durability = BoxFuture<'static, Result<(), String>>;

/// The internal topic, as a coordinator needs it: nothing more.
pub trait CoordinatorLog: Send + Sync + 'static {
    /// Makes sure the topic exists (creating it on first use) and gives its partition count;
    /// an error code when it cannot.
    fn partitions(&self) -> BoxFuture<'_, Result<i32, i16>>;
    /// The largest batch partition `index` accepts (`max.message.bytes`).
    fn max_batch_bytes(&self, index: i32) -> usize;
    /// Appends one record batch to partition `index` through the broker's one append path;
    /// resolves once written, with what to wait for before the append counts as durable.
    fn append(&self, index: i32, batch: Bytes) -> BoxFuture<'_, Result<Option<Durability>, i16>>;
    /// Appends a transaction marker to partition `index` (the end of a transaction that wrote
    /// records there, e.g. transactional offset commits).
    fn append_marker(
        &self,
        index: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> BoxFuture<'_, Result<Option<Durability>, i16>>;
    /// Every stored batch of every partition, in offset order per partition (start-up load).
    /// `Ok(false)` when the topic does not exist yet.
    fn for_each_batch(
        &self,
        visit: &mut dyn FnMut(i32, &BatchHeader, &[u8]),
    ) -> Result<bool, String>;
}

/// A coordinator's state machine, as the runtime drives it.
pub trait Shard: Send + 'static {
    /// Records to append for one key (a group id, a transactional id), and what completing
    /// them does.
    type Append: Send + 'static;

    /// The key whose internal partition the append goes to (Kafka's `partitionFor`).
    fn key(append: &Self::Append) -> &str;
    /// The append's records, encoded as the internal topic stores them (key, value or null).
    fn encode(append: &Self::Append) -> Result<Vec<EncodedRecord>, i16>;
    /// The append was written (`Ok`) or failed with an error code: update the state machine.
    /// Returns the operation's outcome (an error the response must carry) and further appends.
    fn complete_append(
        &mut self,
        append: Self::Append,
        result: Result<(), i16>,
        now_ms: i64,
    ) -> (Result<(), i16>, Vec<Self::Append>);
    /// Responses to parked requests that became ready, sent once the appends are durable.
    fn take_deliveries(&mut self) -> Vec<Box<dyn FnOnce() + Send>>;
    /// The next timer deadline, if any.
    fn next_deadline(&self) -> Option<i64>;
    /// Runs the timers due at `now_ms`; returns their appends.
    fn fire_timers(&mut self, now_ms: i64) -> Vec<Self::Append>;
    /// Replays one stored record (start-up load).
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now_ms: i64);
    /// The producer whose transaction an append belongs to (its records are written as a
    /// transactional batch with the producer's id and epoch), if any.
    fn producer(_append: &Self::Append) -> Option<(i64, i16)> {
        None
    }
    /// Replays one record of a transactional batch (start-up load): pending until the marker.
    fn replay_transactional(
        &mut self,
        _partition: i32,
        _producer_id: i64,
        _key: &[u8],
        _value: Option<&[u8]>,
        _now_ms: i64,
    ) {
    }
    /// A transaction marker was appended to (or is replayed from) partition `partition`.
    fn replay_marker(&mut self, _partition: i32, _producer_id: i64, _commit: bool, _now_ms: i64) {}
    /// Everything is replayed: start timers, settle loaded state.
    fn on_loaded(&mut self, now_ms: i64);
    /// The coordinator is going away (shutdown): answer parked requests.
    fn unload(&mut self);
}

/// A response that learns when an append behind it failed.
pub trait AppendFailed {
    fn append_failed(&mut self, code: i16);
}

impl AppendFailed for () {
    fn append_failed(&mut self, _code: i16) {}
}

/// Kafka's `Utils.abs(key.hashCode()) % partitions`, with Java's `String.hashCode` over UTF-16
/// code units, so a key lands on the internal partition Kafka would put it on.
pub fn partition_for(key: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in key.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// An operation's effect: appends (or a transaction marker), and the answer once they are done
/// (with the first failure).
struct Write<A> {
    appends: Vec<A>,
    marker: Option<MarkerWrite>,
    respond: Box<dyn FnOnce(Option<i16>) + Send>,
}

/// A transaction marker for one internal partition.
struct MarkerWrite {
    index: i32,
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
}

type Operation<S> = Box<dyn FnOnce(&mut S, i64) -> Write<<S as Shard>::Append> + Send>;

/// An operation that only reads the state: `op`'s result goes to `reply`, nothing is appended.
fn reading<S: Shard, R>(
    op: impl FnOnce(&mut S, i64) -> R + Send + 'static,
    reply: impl FnOnce(R) + Send + 'static,
) -> Operation<S> {
    Box::new(move |shard, now| {
        reply(op(shard, now));
        Write {
            appends: Vec::new(),
            marker: None,
            respond: Box::new(|_| {}),
        }
    })
}

/// Operations waiting for the coordinator thread. Each connection has at most one request in
/// flight, so this only bounds bursts; senders wait when it is full.
const QUEUE: usize = 1024;
/// Room left in a batch for its header and per-record framing when splitting large appends.
const BATCH_OVERHEAD_BYTES: usize = HEADER_LEN + 64;

/// The handle operations are sent through.
pub struct CoordinatorRuntime<S: Shard> {
    operations: mpsc::Sender<Operation<S>>,
    unstarted: std::sync::Mutex<Option<(S, mpsc::Receiver<Operation<S>>)>>,
}

impl<S: Shard> CoordinatorRuntime<S> {
    /// Replays the internal topic into `shard` (if the topic exists) and wraps it; call
    /// [`start`](Self::start) to run it.
    pub fn load(mut shard: S, log: &dyn CoordinatorLog, name: &str) -> Result<Self, String> {
        let started = std::time::Instant::now();
        let now = now_ms();
        let mut records = 0usize;
        let exists = log.for_each_batch(&mut |partition, header, bytes| {
            records += replay_batch(&mut shard, header, bytes, partition, now);
        })?;
        if exists {
            shard.on_loaded(now);
            tracing::info!(
                records,
                "loaded {name} in {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        Ok(CoordinatorRuntime {
            operations: tx,
            unstarted: std::sync::Mutex::new(Some((shard, rx))),
        })
    }

    /// Starts the coordinator thread (once). It ends when this handle is dropped.
    pub fn start(&self, name: &str, log: std::sync::Arc<dyn CoordinatorLog>) {
        let taken = self
            .unstarted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some((shard, rx)) = taken else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name(format!("vltava-{name}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("cannot start a coordinator runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(Driver { shard, log }.run(rx));
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the {name} coordinator thread: {e}");
        }
    }

    /// Another handle on the same coordinator thread (for tasks that outlive a request).
    pub fn clone_sender(&self) -> CoordinatorRuntime<S> {
        CoordinatorRuntime {
            operations: self.operations.clone(),
            unstarted: std::sync::Mutex::new(None),
        }
    }

    /// Runs an operation that may append records; the response is returned once they are
    /// appended (and durable when the flush policy asks), marked failed if an append failed.
    /// `None` when the coordinator is gone.
    pub async fn write<R: AppendFailed + Send + 'static>(
        &self,
        op: impl FnOnce(&mut S, i64) -> (R, Vec<S::Append>) + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let operation: Operation<S> = Box::new(move |shard, now| {
            let (mut response, appends) = op(shard, now);
            Write {
                appends,
                marker: None,
                respond: Box::new(move |failure| {
                    if let Some(code) = failure {
                        response.append_failed(code);
                    }
                    let _ = tx.send(response);
                }),
            }
        });
        self.operations.send(operation).await.ok()?;
        rx.await.ok()
    }

    /// Runs an operation that only reads the state.
    pub async fn read<R: Send + 'static>(
        &self,
        op: impl FnOnce(&mut S, i64) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let operation = reading(op, move |r| {
            let _ = tx.send(r);
        });
        self.operations.send(operation).await.ok()?;
        rx.await.ok()
    }

    /// Runs a read-only operation from a thread that may block (never an async worker: the
    /// HTTP metrics call it through `spawn_blocking`), waiting at most `timeout`. `None` when
    /// the queue is full, the coordinator is gone or it did not answer in time.
    pub fn read_blocking<R: Send + 'static>(
        &self,
        op: impl FnOnce(&mut S, i64) -> R + Send + 'static,
        timeout: std::time::Duration,
    ) -> Option<R> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let operation = reading(op, move |r| {
            let _ = tx.send(r);
        });
        self.operations.try_send(operation).ok()?;
        rx.recv_timeout(timeout).ok()
    }

    /// Schedules an operation without waiting for it (best effort: dropped if the queue is
    /// full or the coordinator is gone).
    pub fn schedule(&self, op: impl FnOnce(&mut S, i64) -> Vec<S::Append> + Send + 'static) {
        let operation: Operation<S> = Box::new(move |shard, now| Write {
            appends: op(shard, now),
            marker: None,
            respond: Box::new(|_| {}),
        });
        let _ = self.operations.try_send(operation);
    }

    /// Writes a transaction marker to internal partition `index` and replays it into the shard
    /// (`Shard::replay_marker`), answering once it is durable. `None` when the coordinator is
    /// gone; `Some(Err(code))` when the append failed.
    pub async fn write_marker(
        &self,
        index: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    ) -> Option<Result<(), i16>> {
        let (tx, rx) = oneshot::channel();
        let operation: Operation<S> = Box::new(move |_, _| Write {
            appends: Vec::new(),
            marker: Some(MarkerWrite {
                index,
                producer_id,
                producer_epoch,
                commit,
                coordinator_epoch,
            }),
            respond: Box::new(move |failure| {
                let _ = tx.send(failure.map_or(Ok(()), Err));
            }),
        });
        self.operations.send(operation).await.ok()?;
        rx.await.ok()
    }
}

/// Decodes one stored batch and replays its records; returns how many were replayed.
fn replay_batch<S: Shard>(
    shard: &mut S,
    header: &BatchHeader,
    bytes: &[u8],
    partition: i32,
    now: i64,
) -> usize {
    let Some(body) = bytes.get(HEADER_LEN..) else {
        return 0;
    };
    if header.is_control() {
        if let Some(control) = crate::log::batch::control_type(header, body) {
            let commit = control == crate::log::ControlType::Commit;
            shard.replay_marker(partition, header.producer_id, commit, now);
        }
        return 0;
    }
    let plain = match header.compression() {
        Some(codec) => match compression::decompress(codec, body, MAX_DECOMPRESSED_BATCH_BYTES) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(partition, "skipping an undecodable internal batch: {e}");
                return 0;
            }
        },
        None => return 0,
    };
    let mut replayed = 0;
    let transactional = header.is_transactional();
    let walk = record::for_each_record(&plain, header.records_count, |_, r| {
        if let Some(key) = r.key {
            if transactional {
                shard.replay_transactional(partition, header.producer_id, key, r.value, now);
            } else {
                shard.replay(key, r.value, now);
            }
            replayed += 1;
        }
        true
    });
    if let Err(e) = walk {
        tracing::warn!(partition, "malformed internal batch: {}", e.reason);
    }
    replayed
}

struct Driver<S: Shard> {
    shard: S,
    log: std::sync::Arc<dyn CoordinatorLog>,
}

impl<S: Shard> Driver<S> {
    async fn run(mut self, mut operations: mpsc::Receiver<Operation<S>>) {
        loop {
            let sleep = self.shard.next_deadline().map(|deadline| {
                let wait = deadline.saturating_sub(now_ms()).max(0);
                Duration::from_millis(u64::try_from(wait).unwrap_or(0))
            });
            tokio::select! {
                op = operations.recv() => match op {
                    Some(op) => {
                        let write = op(&mut self.shard, now_ms());
                        self.write(write).await;
                    }
                    None => {
                        self.shard.unload();
                        for d in self.shard.take_deliveries() {
                            d();
                        }
                        return;
                    }
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
            let appends = self.shard.fire_timers(now_ms());
            self.write(Write {
                appends,
                marker: None,
                respond: Box::new(|_| {}),
            })
            .await;
        }
    }

    /// Appends every record set (and those their completion produces), then answers — after
    /// the fsyncs when the flush policy asks, without holding up other operations meanwhile.
    async fn write(&mut self, write: Write<S::Append>) {
        let Write {
            appends,
            marker,
            respond,
        } = write;
        let mut pending = appends;
        let mut failure = None;
        let mut durability = Vec::new();
        if let Some(m) = marker {
            let appended = self
                .log
                .append_marker(
                    m.index,
                    m.producer_id,
                    m.producer_epoch,
                    m.commit,
                    m.coordinator_epoch,
                )
                .await;
            match appended {
                Ok(d) => {
                    durability.extend(d);
                    self.shard
                        .replay_marker(m.index, m.producer_id, m.commit, now_ms());
                }
                Err(code) => failure = Some(code),
            }
        }
        while !pending.is_empty() {
            let mut next = Vec::new();
            for append in pending {
                let result = self.append(&append).await.map(|d| durability.extend(d));
                if let Err(code) = result {
                    tracing::warn!(key = S::key(&append), code, "internal topic append failed");
                }
                let (outcome, more) = self.shard.complete_append(append, result, now_ms());
                if let Err(code) = outcome {
                    failure.get_or_insert(code);
                }
                next.extend(more);
            }
            pending = next;
        }
        let deliveries = self.shard.take_deliveries();
        if durability.is_empty() {
            for d in deliveries {
                d();
            }
            respond(failure);
            return;
        }
        tokio::spawn(async move {
            for d in durability {
                if let Err(e) = d.await {
                    tracing::error!("internal topic flush failed: {e}");
                }
            }
            for d in deliveries {
                d();
            }
            respond(failure);
        });
    }

    /// One key's records, in as few batches as `max.message.bytes` allows.
    async fn append(&self, append: &S::Append) -> Result<Vec<Durability>, i16> {
        let partitions = self.log.partitions().await?;
        let index = partition_for(S::key(append), partitions);
        let now = now_ms();
        let encoded: Vec<NewRecord> = S::encode(append)?
            .into_iter()
            .map(|(key, value)| NewRecord {
                key: Some(key),
                value,
                headers: Vec::new(),
                timestamp_ms: now,
            })
            .collect();
        let max_batch = self.log.max_batch_bytes(index);
        let mut durability = Vec::new();
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
            let options = match S::producer(append) {
                Some((producer_id, producer_epoch)) => BatchOptions {
                    producer_id,
                    producer_epoch,
                    transactional: true,
                    ..BatchOptions::default()
                },
                None => BatchOptions::default(),
            };
            let batch = build_batch(&encoded[start..end], &options)
                .map_err(|_| kafka_protocol::ResponseError::UnknownServerError.code())?;
            durability.extend(self.log.append(index, Bytes::from(batch)).await?);
            start = end;
        }
        Ok(durability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_for_matches_java_string_hashcode() {
        // Values printed by Java 17: Math.abs(s.hashCode()) % 50.
        // "console-consumer-1".hashCode() = 35782224
        assert_eq!(partition_for("console-consumer-1", 50), 24);
        // "".hashCode() = 0
        assert_eq!(partition_for("", 50), 0);
        // "my-group".hashCode() = -1906497762
        assert_eq!(partition_for("my-group", 50), 12);
        // Non-BMP characters hash as two UTF-16 units: "😀".hashCode() = 1772899
        assert_eq!(partition_for("😀", 50), 49);
        // "polygenelubricants".hashCode() = Integer.MIN_VALUE: Utils.abs makes it 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        for p in [1, 3, 50] {
            assert!((0..p).contains(&partition_for("x", p)));
        }
    }
}
