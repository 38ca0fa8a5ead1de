//! Fetch (key 1), versions 4–18.
//!
//! - Reads from each partition the region starting at the batch that holds `fetch_offset`
//!   (clients skip the records before it), capped by `partition_max_bytes` and the response's
//!   `max_bytes` (clamped to Kafka's `fetch.max.bytes` default, 55 MiB); the first partition
//!   with data returns at least one whole batch even when it is larger (KIP-74).
//! - Long poll: when fewer than `min_bytes` are available the request waits up to
//!   `max_wait_ms`, and is woken by the append that brings data — never by a timer loop.
//! - OFFSET_OUT_OF_RANGE outside [log start, high watermark]; leader-epoch checks (v9+) give
//!   FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH; v13+ addresses topics by id (UNKNOWN_TOPIC_ID).
//! - `last_fetched_epoch` (v12+) is checked against the epoch history as Kafka does: an epoch
//!   the leader has not reached is OFFSET_OUT_OF_RANGE, an older one whose end lies before the
//!   fetch offset answers `diverging_epoch` and no records.
//! - A partition refused before reading (unknown or deleted) carries an empty aborted-transaction
//!   list, as Kafka's; other partitions carry null unless read_committed.
//! - Records are never null (librdkafka breaks on it): an empty partition sends empty records.
//! - Fetch sessions (KIP-227) are not kept: session id 0 / epoch -1 (or 0) gets a full,
//!   sessionless response with session id 0, which every client accepts; an incremental
//!   request for a session id we never issued gets FETCH_SESSION_ID_NOT_FOUND.
//! - `isolation_level` 1 (read_committed) reads only up to the last stable offset and lists the
//!   aborted transactions the returned records may hold (from the `.txnindex` files), so the
//!   consumer drops their records; every response carries the LSO.
//! - Client quotas (`consumer_byte_rate`): `max_bytes` is capped at what the quota allows in
//!   one quota window, as in Kafka; the connection records the response size and, over quota,
//!   sends [`throttled`] instead (no data, the throttle time) and mutes the connection.
//! - The response body is built as memory pieces and file regions (`fetch_encode`), and the
//!   connection sends the regions with sendfile.
//! - Authorization as Kafka's: a consumer needs READ on each topic (TOPIC_AUTHORIZATION_FAILED,
//!   checked before existence for names; an unknown topic id stays UNKNOWN_TOPIC_ID), a
//!   follower (replica id >= 0) CLUSTER_ACTION on the cluster.
//! - Not honoured yet: `rack_id` (no follower fetching), replica fetches (replication comes
//!   later; a replica id is served like a consumer).

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, FetchRequest};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{ApiSpec, Reply, RequestContext, check_leader_epoch};
use crate::handlers::fetch_encode::{
    AbortedTransaction, EpochEndOffset, FetchPartitionResponse, FetchResponseBody,
    FetchTopicResponse, PartitionRecords, encode_fetch_response,
};
use crate::log::error::NONE;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::metadata::topics::{Partition, Topic};
use crate::quota::QuotaKind;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::Fetch,
    min_version: 4,
    max_version: 18,
};

/// Kafka's `fetch.max.bytes` default: the most one response carries.
const FETCH_MAX_BYTES: i32 = 55 * 1024 * 1024;
/// The longest a fetch may wait, whatever it asks for (bounded waits).
const MAX_WAIT_MS_CAP: i32 = 5 * 60 * 1000;

/// One requested partition, resolved once.
struct Wanted {
    partition_index: i32,
    fetch_offset: i64,
    partition_max_bytes: i32,
    current_leader_epoch: i32,
    /// -1 when not given (before v12, or by the fetcher).
    last_fetched_epoch: i32,
    /// `None` when the topic or partition is unknown (the error code says which).
    partition: Result<Arc<Partition>, i16>,
}

struct WantedTopic {
    name: String,
    topic_id: uuid::Uuid,
    partitions: Vec<Wanted>,
}

pub async fn handle(ctx: &RequestContext<'_>, request: FetchRequest) -> Reply {
    let version = ctx.version;
    if request.session_id != 0 {
        return respond(
            version,
            FetchResponseBody {
                error_code: ResponseError::FetchSessionIdNotFound.code(),
                ..Default::default()
            },
        );
    }
    if request.session_epoch != -1 && request.session_epoch != 0 {
        return respond(
            version,
            FetchResponseBody {
                error_code: ResponseError::InvalidFetchSessionEpoch.code(),
                ..Default::default()
            },
        );
    }
    let wanted = resolve(ctx, &request);
    let mut max_bytes = request.max_bytes.clamp(0, FETCH_MAX_BYTES) as usize;
    // As Kafka: never more than the client's fetch quota allows in one quota window.
    if let Some(window_bytes) = ctx.broker.quotas.max_value_in_window(
        QuotaKind::Fetch,
        ctx.principal,
        ctx.header.client_id.as_deref().unwrap_or(""),
    ) {
        max_bytes = max_bytes.min(window_bytes.max(0.0) as usize);
    }
    let min_bytes = (request.min_bytes.max(0) as usize).min(max_bytes);
    let read_committed = request.isolation_level == 1;
    let wait = Duration::from_millis(request.max_wait_ms.clamp(0, MAX_WAIT_MS_CAP) as u64);
    let deadline = Instant::now() + wait;

    loop {
        let (body, bytes, failed) = read_once(&wanted, max_bytes, read_committed);
        if bytes >= min_bytes || failed || Instant::now() >= deadline {
            count_bytes_out(&wanted, &body);
            return respond(version, body);
        }
        let waiter = Arc::new(Notify::new());
        for p in wanted.iter().flat_map(|t| &t.partitions) {
            if let Ok(partition) = &p.partition {
                partition.watch(&waiter);
            }
        }
        drop(body);
        // Appends that landed between the read and the watch already hold a permit in
        // `waiter` (notify_one), so this wait cannot miss them.
        if tokio::time::timeout_at(deadline, waiter.notified())
            .await
            .is_err()
        {
            let (body, _, _) = read_once(&wanted, max_bytes, read_committed);
            count_bytes_out(&wanted, &body);
            return respond(version, body);
        }
    }
}

/// Adds the records each partition hands out to its traffic counters (the per-topic bytes-out
/// metric). Counted once, for the body that is sent; a quota that takes the response back
/// later does not uncount it, as Kafka counts at the same point.
fn count_bytes_out(wanted: &[WantedTopic], body: &FetchResponseBody) {
    for (w, t) in wanted.iter().zip(&body.topics) {
        for (p, r) in w.partitions.iter().zip(&t.partitions) {
            if let (Ok(partition), PartitionRecords::File(region)) = (&p.partition, &r.records) {
                partition.traffic.record_out(region.len);
            }
        }
    }
}

/// The answer to a fetch throttled by a quota: no data, only the throttle time (Kafka's
/// `getThrottledResponse` for a sessionless fetch).
pub fn throttled(version: i16, throttle_time_ms: i32) -> Reply {
    respond(
        version,
        FetchResponseBody {
            throttle_time_ms,
            ..Default::default()
        },
    )
}

fn respond(version: i16, body: FetchResponseBody) -> Reply {
    match encode_fetch_response(&body, version) {
        Ok(chunks) => Reply::Chunks(chunks),
        Err(e) => {
            tracing::error!("fetch response encoding failed: {e}");
            Reply::Close
        }
    }
}

fn resolve(ctx: &RequestContext<'_>, request: &FetchRequest) -> Vec<WantedTopic> {
    let by_id = ctx.version >= 13;
    // Kafka: a follower's fetch needs CLUSTER_ACTION on the cluster, a consumer's READ on
    // each topic; refused partitions answer TOPIC_AUTHORIZATION_FAILED.
    let follower = request.replica_id.0 >= 0 || request.replica_state.replica_id.0 >= 0;
    let follower_allowed = follower && ctx.authorize_cluster(AclOperation::ClusterAction);
    let may_read = |topic: &Topic| {
        if follower {
            follower_allowed
        } else {
            ctx.authorize(AclOperation::Read, ResourceType::Topic, &topic.name)
        }
    };
    request
        .topics
        .iter()
        .map(|t| {
            let topic: Option<Arc<Topic>> = if by_id {
                ctx.broker.topics.get_by_id(&t.topic_id)
            } else {
                ctx.broker.topics.get(t.topic.0.as_str())
            };
            let missing = if by_id {
                ResponseError::UnknownTopicId.code()
            } else {
                ResponseError::UnknownTopicOrPartition.code()
            };
            WantedTopic {
                name: t.topic.0.to_string(),
                topic_id: t.topic_id,
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| Wanted {
                        partition_index: p.partition,
                        fetch_offset: p.fetch_offset,
                        partition_max_bytes: p.partition_max_bytes,
                        current_leader_epoch: p.current_leader_epoch,
                        last_fetched_epoch: p.last_fetched_epoch,
                        partition: match &topic {
                            None if follower && !follower_allowed => {
                                Err(ResponseError::TopicAuthorizationFailed.code())
                            }
                            None if !by_id
                                && !ctx.authorize(
                                    AclOperation::Read,
                                    ResourceType::Topic,
                                    t.topic.0.as_str(),
                                ) =>
                            {
                                Err(ResponseError::TopicAuthorizationFailed.code())
                            }
                            None => Err(missing),
                            Some(topic) if !may_read(topic) => {
                                Err(ResponseError::TopicAuthorizationFailed.code())
                            }
                            Some(topic)
                                if ctx.broker.leader_unavailable(&topic.name, p.partition) =>
                            {
                                Err(ResponseError::NotLeaderOrFollower.code())
                            }
                            Some(topic) => topic
                                .partition(p.partition)
                                .cloned()
                                .ok_or(ResponseError::UnknownTopicOrPartition.code()),
                        },
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Kafka's `LeaderEpochFileCache.endOffsetFor` on the leader's epoch history: the largest epoch
/// <= `wanted` and where it ends; `None` when `wanted` is newer than the leader's epoch.
fn epoch_end(
    epochs: &[(i32, i64)],
    leader_epoch: i32,
    log_end_offset: i64,
    wanted: i32,
) -> Option<EpochEndOffset> {
    // Kafka records the leader's epoch when it takes leadership; the log records it with the
    // first append that carries it, so a leader epoch not there yet starts at the log end.
    let pending = epochs
        .last()
        .is_none_or(|&(e, _)| e < leader_epoch)
        .then_some((leader_epoch, log_end_offset));
    let history = || epochs.iter().copied().chain(pending);
    let (latest, _) = history().last()?;
    if wanted == latest {
        return Some(EpochEndOffset {
            epoch: wanted,
            end_offset: log_end_offset,
        });
    }
    let (_, end_offset) = history().find(|&(e, _)| e > wanted)?;
    let epoch = history()
        .rfind(|&(e, _)| e <= wanted)
        .map_or(wanted, |(e, _)| e);
    Some(EpochEndOffset { epoch, end_offset })
}

/// Kafka's check of a fetcher's `last_fetched_epoch` before reading: an epoch it cannot place,
/// or a fetch offset below the log start, is OFFSET_OUT_OF_RANGE; an epoch that ended before
/// the fetch offset (or that the leader does not have) means the fetcher's log diverged.
fn check_last_fetched(
    end: Option<EpochEndOffset>,
    w: &Wanted,
    log_start_offset: i64,
) -> Result<Option<EpochEndOffset>, i16> {
    let out_of_range = ResponseError::OffsetOutOfRange.code();
    let end = end.ok_or(out_of_range)?;
    if w.fetch_offset < log_start_offset {
        return Err(out_of_range);
    }
    let diverged = end.epoch < w.last_fetched_epoch || end.end_offset < w.fetch_offset;
    Ok(diverged.then_some(end))
}

/// Reads every wanted partition once. Returns the response, the record bytes it carries, and
/// whether any partition failed (which answers at once, as Kafka does).
fn read_once(
    wanted: &[WantedTopic],
    max_bytes: usize,
    read_committed: bool,
) -> (FetchResponseBody, usize, bool) {
    let mut total = 0usize;
    let mut failed = false;
    let mut topics = Vec::with_capacity(wanted.len());
    for t in wanted {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for w in &t.partitions {
            let mut r = FetchPartitionResponse {
                partition_index: w.partition_index,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                aborted_transactions: read_committed.then(Vec::new),
                ..Default::default()
            };
            match &w.partition {
                Err(code) => {
                    r.error_code = *code;
                    r.aborted_transactions = Some(Vec::new());
                }
                Ok(p) if p.is_deleted() => {
                    r.error_code = ResponseError::UnknownTopicOrPartition.code();
                    r.aborted_transactions = Some(Vec::new());
                }
                Ok(p) => {
                    let epoch_error = check_leader_epoch(w.current_leader_epoch, p.leader_epoch);
                    let mut log = p.log();
                    r.high_watermark = log.high_watermark();
                    r.last_stable_offset = log.last_stable_offset();
                    r.log_start_offset = log.log_start_offset();
                    let diverging = (epoch_error == NONE && w.last_fetched_epoch >= 0).then(|| {
                        let end = epoch_end(
                            log.leader_epochs(),
                            p.leader_epoch,
                            log.log_end_offset(),
                            w.last_fetched_epoch,
                        );
                        check_last_fetched(end, w, r.log_start_offset)
                    });
                    if epoch_error != NONE {
                        r.error_code = epoch_error;
                    } else if let Some(Err(code)) = diverging {
                        r.error_code = code;
                    } else if let Some(Ok(Some(end))) = diverging {
                        // Nothing to read until the fetcher truncates: answer at once.
                        r.diverging_epoch = end;
                        failed = true;
                    } else {
                        let limit = (w.partition_max_bytes.max(0) as usize)
                            .min(max_bytes.saturating_sub(total));
                        let min_one = total == 0;
                        let read = if read_committed {
                            log.read_committed(w.fetch_offset, limit as u32, min_one)
                        } else {
                            log.read(w.fetch_offset, limit as u32, min_one)
                        };
                        match read {
                            Ok(Some(region)) => {
                                total += region.len as usize;
                                r.records = PartitionRecords::File(region);
                                if read_committed {
                                    let upper = log.aborted_upper_bound(w.fetch_offset);
                                    r.aborted_transactions = Some(
                                        log.aborted_transactions(w.fetch_offset, upper)
                                            .into_iter()
                                            .map(|(producer_id, first_offset)| AbortedTransaction {
                                                producer_id,
                                                first_offset,
                                            })
                                            .collect(),
                                    );
                                }
                            }
                            Ok(None) => {}
                            Err(e) => r.error_code = e.error_code(),
                        }
                    }
                }
            }
            if r.error_code != NONE {
                // Kafka reports no offsets alongside a partition error.
                r.high_watermark = -1;
                r.last_stable_offset = -1;
                r.log_start_offset = -1;
                failed = true;
            }
            partitions.push(r);
        }
        topics.push(FetchTopicResponse {
            name: t.name.clone(),
            topic_id: t.topic_id,
            partitions,
        });
    }
    let body = FetchResponseBody {
        topics,
        ..Default::default()
    };
    (body, total, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_ends_follow_kafkas_cache() {
        let end = |epochs: &[(i32, i64)], leader, leo, wanted| {
            epoch_end(epochs, leader, leo, wanted).map(|e| (e.epoch, e.end_offset))
        };
        // The leader's own epoch ends at the log end, even before any append carries it.
        assert_eq!(end(&[], 0, 0, 0), Some((0, 0)));
        assert_eq!(end(&[(0, 0)], 0, 7, 0), Some((0, 7)));
        // An epoch the leader has not reached cannot be placed.
        assert_eq!(end(&[], 0, 0, 3), None);
        assert_eq!(end(&[(0, 0)], 0, 7, 1), None);
        // Older epochs end where the next one starts.
        assert_eq!(end(&[(0, 0), (2, 5)], 3, 9, 1), Some((0, 5)));
        assert_eq!(end(&[(0, 0), (2, 5)], 3, 9, 2), Some((2, 9)));
        assert_eq!(end(&[(1, 4)], 1, 9, 0), Some((0, 4)));
    }
}
