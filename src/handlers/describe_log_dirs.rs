//! DescribeLogDirs (key 35), versions 1–4: what `kafka-log-dirs.sh` and UI tools use for
//! partition sizes.
//!
//! One log directory (`log.dirs`, absolute path). `topics` null means every partition; named
//! partitions that do not exist are left out, as Kafka does. Per partition: its size on disk
//! (all segments), offset lag 0 (no future replicas), `is_future_key` false. v3+ carry a
//! top-level error code, v4+ the file system's total and usable bytes (-1 when unknown, e.g. in
//! memory mode).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse, ResponseKind, TopicName,
};

use super::{ApiSpec, Reply, RequestContext, owned_str};
use crate::log::error::NONE;
use crate::metadata::acls::AclOperation;

pub const SPEC: ApiSpec = ApiSpec {
    key: ApiKey::DescribeLogDirs,
    min_version: 1,
    max_version: 4,
};

pub fn handle(ctx: &RequestContext<'_>, request: DescribeLogDirsRequest) -> Reply {
    let broker = ctx.broker;
    // Kafka: DESCRIBE on the cluster, else no directories and (v3+) the error.
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return Reply::message(ResponseKind::DescribeLogDirs(
            DescribeLogDirsResponse::default()
                .with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code())
                .with_results(vec![]),
        ));
    }
    let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
    let mut add = |name: &str, partition: &crate::metadata::topics::Partition| {
        let size = partition.log().size_in_bytes();
        by_topic.entry(name.to_string()).or_default().push(
            DescribeLogDirsPartition::default()
                .with_partition_index(partition.index)
                .with_partition_size(i64::try_from(size).unwrap_or(i64::MAX))
                .with_offset_lag(0)
                .with_is_future_key(false),
        );
    };
    match &request.topics {
        None => {
            for t in broker.topics.all() {
                for p in &t.partitions {
                    add(&t.name, p);
                }
            }
        }
        Some(wanted) => {
            for w in wanted {
                let Some(t) = broker.topics.get(w.topic.0.as_str()) else {
                    continue;
                };
                let mut seen = std::collections::BTreeSet::new();
                for index in &w.partitions {
                    if let Some(p) = t.partition(*index)
                        && seen.insert(*index)
                    {
                        add(&t.name, p);
                    }
                }
            }
        }
    }
    let topics = by_topic
        .into_iter()
        .map(|(name, partitions)| {
            DescribeLogDirsTopic::default()
                .with_name(TopicName(owned_str(&name)))
                .with_partitions(partitions)
        })
        .collect();
    let dir = std::path::absolute(&broker.config.log_dir)
        .unwrap_or_else(|_| broker.config.log_dir.clone());
    let (total, usable) = if broker.config.in_memory {
        (-1, -1)
    } else {
        disk_space(&dir)
    };
    let mut result = DescribeLogDirsResult::default()
        .with_error_code(NONE)
        .with_log_dir(owned_str(&dir.display().to_string()))
        .with_topics(topics);
    if ctx.version >= 4 {
        result = result.with_total_bytes(total).with_usable_bytes(usable);
    }
    Reply::message(ResponseKind::DescribeLogDirs(
        DescribeLogDirsResponse::default()
            .with_error_code(NONE)
            .with_results(vec![result]),
    ))
}

/// (total, usable) bytes of the file system holding `dir`; -1 when it cannot be asked.
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(s) => {
            let unit = s.fragment_size() as u128;
            let total = (s.blocks() as u128 * unit).min(i64::MAX as u128) as i64;
            let usable = (s.blocks_available() as u128 * unit).min(i64::MAX as u128) as i64;
            (total, usable)
        }
        Err(_) => (-1, -1),
    }
}
