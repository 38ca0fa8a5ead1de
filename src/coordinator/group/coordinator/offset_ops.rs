//! The offset side of the coordinator — OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups,
//! offset expiry, deleted topics — and the read-only views (DescribeGroups, ListGroups). Kafka's
//! `OffsetMetadataManager` and the describe/list parts of `GroupMetadataManager`.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::GroupId;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;

use super::{
    AfterAppend, Append, CommitPartition, CommitRequest, FetchedOffsets, GroupCoordinator, Outcome,
    PartitionErrors,
};
use crate::coordinator::group::classic::{ClassicGroup, GroupState};
use crate::coordinator::group::owned_str;
use crate::coordinator::group::records::{CoordinatorRecord, OffsetCommitValue};
use crate::log::error::NONE;

impl GroupCoordinator {
    // ----- offsets -------------------------------------------------------------------------

    /// OffsetCommit, for partitions the handler has already found to exist.
    pub fn commit_offsets(&mut self, req: CommitRequest, now_ms: i64) -> Outcome<PartitionErrors> {
        let fail_all = |code: i16| -> PartitionErrors {
            req.topics
                .iter()
                .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, code)).collect()))
                .collect()
        };
        if let Err(code) = self.validate_offset_commit(&req, false) {
            return Outcome::only(fail_all(code));
        }
        if let Some(group) = self.groups.get(&req.group_id)
            && matches!(
                group.state(),
                GroupState::Stable | GroupState::PreparingRebalance
            )
            && let Some(m) = group.member(&req.member_id)
        {
            // Classic consumers' commits keep their session alive.
            let deadline = now_ms + i64::from(m.session_timeout_ms);
            self.schedule_heartbeat(&req.group_id, &req.member_id, deadline);
        }
        let expire_timestamp_ms =
            (req.retention_time_ms != -1).then(|| now_ms.saturating_add(req.retention_time_ms));
        let (response, records) =
            self.offset_records(&req.group_id, req.topics, now_ms, expire_timestamp_ms);
        let appends = if records.is_empty() {
            Vec::new()
        } else {
            vec![Append {
                group_id: req.group_id,
                records,
                replay: true,
                then: AfterAppend::Nothing,
                producer: None,
            }]
        };
        Outcome::new(response, appends)
    }

    /// TxnOffsetCommit: the offsets are written as the producer's transactional records and stay
    /// pending (invisible to OffsetFetch) until its transaction's marker commits or drops them.
    pub fn commit_txn_offsets(
        &mut self,
        req: CommitRequest,
        producer: (i64, i16),
        now_ms: i64,
    ) -> Outcome<PartitionErrors> {
        let fail_all = |code: i16| -> PartitionErrors {
            req.topics
                .iter()
                .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.partition, code)).collect()))
                .collect()
        };
        if let Err(code) = self.validate_offset_commit(&req, true) {
            return Outcome::only(fail_all(code));
        }
        let (response, records) = self.offset_records(&req.group_id, req.topics, now_ms, None);
        let appends = if records.is_empty() {
            Vec::new()
        } else {
            vec![Append {
                group_id: req.group_id,
                records,
                replay: true,
                then: AfterAppend::Nothing,
                producer: Some(producer),
            }]
        };
        Outcome::new(response, appends)
    }

    /// The records of a commit, and each partition's answer (OFFSET_METADATA_TOO_LARGE for
    /// metadata past `offset.metadata.max.bytes`, counted in UTF-16 units as Kafka counts).
    fn offset_records(
        &self,
        group_id: &str,
        topics: Vec<(String, Vec<CommitPartition>)>,
        now_ms: i64,
        expire_timestamp_ms: Option<i64>,
    ) -> (PartitionErrors, Vec<CoordinatorRecord>) {
        let mut records = Vec::new();
        let mut response = Vec::with_capacity(topics.len());
        for (topic, partitions) in topics {
            let mut results = Vec::with_capacity(partitions.len());
            for p in partitions {
                let metadata = p.metadata.unwrap_or_default();
                if utf16_len(&metadata) > self.config.offset_metadata_max_bytes {
                    results.push((p.partition, ResponseError::OffsetMetadataTooLarge.code()));
                    continue;
                }
                results.push((p.partition, NONE));
                records.push(CoordinatorRecord::OffsetCommit {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition: p.partition,
                    value: Some(OffsetCommitValue {
                        offset: p.offset,
                        leader_epoch: p.leader_epoch,
                        metadata,
                        commit_timestamp_ms: now_ms,
                        expire_timestamp_ms,
                    }),
                });
            }
            response.push((topic, results));
        }
        (response, records)
    }

    /// Kafka's `ClassicGroup.validateOffsetCommit`; transactional commits skip the checks that
    /// only protect the plain commit path (members outside a generation, rebalances).
    fn validate_offset_commit(&self, req: &CommitRequest, transactional: bool) -> Result<(), i16> {
        let Some(group) = self.groups.get(&req.group_id) else {
            return if req.generation_id < 0 {
                // A simple group: created when the commit is replayed.
                if self.groups.len() >= self.config.max_groups {
                    Err(ResponseError::GroupMaxSizeReached.code())
                } else {
                    Ok(())
                }
            } else if req.version >= 9 {
                Err(ResponseError::GroupIdNotFound.code())
            } else {
                Err(ResponseError::IllegalGeneration.code())
            };
        };
        if req.generation_id < 0 && group.is(GroupState::Empty) {
            return Ok(());
        }
        if req.generation_id >= 0 || !req.member_id.is_empty() || req.group_instance_id.is_some() {
            group.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
            if req.generation_id != group.generation_id() {
                return Err(ResponseError::IllegalGeneration.code());
            }
        } else if !transactional && !group.is(GroupState::Empty) {
            // Commits without a member are only for groups nobody is a member of.
            return Err(ResponseError::UnknownMemberId.code());
        }
        if !transactional && group.is(GroupState::CompletingRebalance) {
            // The member has its JoinGroup answer but not its assignment yet.
            return Err(ResponseError::RebalanceInProgress.code());
        }
        Ok(())
    }

    /// The partitions of a group whose offsets a transaction holds undecided.
    pub fn pending_partitions(&self, group_id: &str) -> Vec<(String, i32)> {
        self.offsets.pending_of(group_id)
    }

    /// OffsetFetch for one group: the named partitions (`Some`), or everything committed.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> FetchedOffsets {
        let stored = self
            .groups
            .contains_key(group_id)
            .then(|| self.offsets.group(group_id))
            .flatten();
        match topics {
            Some(wanted) => wanted
                .into_iter()
                .map(|(topic, partitions)| {
                    let found = partitions
                        .into_iter()
                        .map(|p| {
                            let v = stored
                                .and_then(|s| s.get(&topic))
                                .and_then(|ps| ps.get(&p))
                                .cloned();
                            (p, v)
                        })
                        .collect();
                    (topic, found)
                })
                .collect(),
            None => stored
                .map(|s| {
                    s.iter()
                        .map(|(topic, ps)| {
                            (
                                topic.clone(),
                                ps.iter().map(|(p, v)| (*p, Some(v.clone()))).collect(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// OffsetDelete: `Err` is the group-level error.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Outcome<Result<PartitionErrors, i16>> {
        let Some(group) = self.groups.get(group_id) else {
            return Outcome::only(Err(ResponseError::GroupIdNotFound.code()));
        };
        if !matches!(group.state(), GroupState::Empty) && !group.uses_consumer_protocol() {
            return Outcome::only(Err(ResponseError::NonEmptyGroup.code()));
        }
        let mut records = Vec::new();
        let mut response = Vec::with_capacity(topics.len());
        for (topic, partitions) in topics {
            let subscribed = group.is_subscribed_to_topic(&topic);
            let mut results = Vec::with_capacity(partitions.len());
            for p in partitions {
                if subscribed {
                    results.push((p, ResponseError::GroupSubscribedToTopic.code()));
                    continue;
                }
                results.push((p, NONE));
                if self.offsets.get(group_id, &topic, p).is_some() {
                    records.push(CoordinatorRecord::OffsetCommit {
                        group: group_id.to_string(),
                        topic: topic.clone(),
                        partition: p,
                        value: None,
                    });
                }
            }
            response.push((topic, results));
        }
        let appends = if records.is_empty() {
            Vec::new()
        } else {
            vec![Append {
                group_id: group_id.to_string(),
                records,
                replay: true,
                then: AfterAppend::Nothing,
                producer: None,
            }]
        };
        Outcome::new(Ok(response), appends)
    }

    /// DeleteGroups for one group: only Empty groups; their offsets go too.
    pub fn delete_group(&mut self, group_id: &str) -> Outcome<i16> {
        let Some(group) = self.groups.get(group_id) else {
            return Outcome::only(ResponseError::GroupIdNotFound.code());
        };
        if !group.is(GroupState::Empty) {
            return Outcome::only(ResponseError::NonEmptyGroup.code());
        }
        let mut records: Vec<CoordinatorRecord> = self
            .offsets
            .partitions_of(group_id)
            .into_iter()
            .map(|(topic, partition)| CoordinatorRecord::OffsetCommit {
                group: group_id.to_string(),
                topic,
                partition,
                value: None,
            })
            .collect();
        records.push(CoordinatorRecord::GroupMetadata {
            group: group_id.to_string(),
            value: None,
        });
        tracing::info!(group = group_id, "deleting group");
        Outcome::new(
            NONE,
            vec![Append {
                group_id: group_id.to_string(),
                records,
                replay: true,
                then: AfterAppend::Nothing,
                producer: None,
            }],
        )
    }

    /// A topic was deleted: its committed offsets go too (Kafka's `onPartitionsDeleted`).
    pub fn on_topic_deleted(&mut self, topic: &str) -> Vec<Append> {
        let mut by_group: BTreeMap<String, Vec<CoordinatorRecord>> = BTreeMap::new();
        for (group, partition) in self.offsets.holders_of_topic(topic) {
            by_group
                .entry(group.clone())
                .or_default()
                .push(CoordinatorRecord::OffsetCommit {
                    group,
                    topic: topic.to_string(),
                    partition,
                    value: None,
                });
        }
        by_group
            .into_iter()
            .map(|(group_id, records)| Append {
                group_id,
                records,
                replay: true,
                then: AfterAppend::Nothing,
                producer: None,
            })
            .collect()
    }

    /// The periodic clean-up: expired offsets go, and Empty groups with no offsets left.
    pub(super) fn expire_offsets(&mut self, now_ms: i64) -> Vec<Append> {
        let retention = self.config.offsets_retention_ms;
        let mut appends = Vec::new();
        for (group_id, group) in &self.groups {
            let mut records = Vec::new();
            let mut all_expired = true;
            if let Some(topics) = self.offsets.group(group_id) {
                match expiration_base(group) {
                    None => all_expired = false,
                    Some(base) => {
                        for (topic, partitions) in topics {
                            if group.is_subscribed_to_topic(topic) {
                                all_expired = false;
                                continue;
                            }
                            for (p, v) in partitions {
                                let expired = match v.expire_timestamp_ms {
                                    Some(t) => now_ms >= t,
                                    None => {
                                        let since = match base {
                                            Base::StateChange(t) => t,
                                            Base::Commit => v.commit_timestamp_ms,
                                        };
                                        now_ms.saturating_sub(since) >= retention
                                    }
                                };
                                if expired {
                                    records.push(CoordinatorRecord::OffsetCommit {
                                        group: group_id.clone(),
                                        topic: topic.clone(),
                                        partition: *p,
                                        value: None,
                                    });
                                } else {
                                    all_expired = false;
                                }
                            }
                        }
                    }
                }
            }
            if all_expired && group.is(GroupState::Empty) && group.num_pending_join_members() == 0 {
                records.push(CoordinatorRecord::GroupMetadata {
                    group: group_id.clone(),
                    value: None,
                });
            }
            if !records.is_empty() {
                tracing::info!(group = %group_id, records = records.len(), "expiring offsets");
                appends.push(Append {
                    group_id: group_id.clone(),
                    records,
                    replay: true,
                    then: AfterAppend::Nothing,
                    producer: None,
                });
            }
        }
        self.schedule_offsets_expiry(now_ms);
        appends
    }

    // ----- DescribeGroups / ListGroups -----------------------------------------------------

    pub fn describe_group(&self, group_id: &str) -> DescribedGroup {
        let Some(group) = self.groups.get(group_id) else {
            return DescribedGroup::default()
                .with_group_id(GroupId(owned_str(group_id)))
                .with_group_state(owned_str(GroupState::Dead.name()));
        };
        let stable = group.is(GroupState::Stable);
        let members = group
            .members()
            .map(|m| {
                DescribedGroupMember::default()
                    .with_member_id(owned_str(&m.member_id))
                    .with_group_instance_id(m.group_instance_id.as_deref().map(owned_str))
                    .with_client_id(owned_str(&m.client_id))
                    .with_client_host(owned_str(&m.client_host))
                    .with_member_metadata(if stable {
                        m.metadata(group.protocol_name())
                    } else {
                        Bytes::new()
                    })
                    .with_member_assignment(m.assignment.clone())
            })
            .collect();
        DescribedGroup::default()
            .with_group_id(GroupId(owned_str(group_id)))
            .with_group_state(owned_str(group.state().name()))
            .with_protocol_type(owned_str(group.protocol_type().unwrap_or("")))
            .with_protocol_data(owned_str(if stable {
                group.protocol_name().unwrap_or("")
            } else {
                ""
            }))
            .with_members(members)
    }

    /// ListGroups with Kafka's filters: states case-insensitively; types by name, where every
    /// group here is "classic".
    /// What the metrics read: every committed offset and how many groups are in each state.
    pub fn snapshot(&self) -> GroupsSnapshot {
        let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
        for g in self.groups.values() {
            *states.entry(g.state().name()).or_default() += 1;
        }
        GroupsSnapshot {
            committed: self
                .offsets
                .all()
                .map(|(g, t, p, o)| (g.to_string(), t.to_string(), p, o))
                .collect(),
            states,
        }
    }

    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<ListedGroup> {
        let states: Vec<String> = states.iter().map(|s| s.trim().to_lowercase()).collect();
        let classic_wanted = types.is_empty()
            || types
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case("classic"));
        if !classic_wanted {
            return Vec::new();
        }
        self.groups
            .values()
            .filter(|g| states.is_empty() || states.contains(&g.state().name().to_lowercase()))
            .map(|g| {
                ListedGroup::default()
                    .with_group_id(GroupId(owned_str(&g.group_id)))
                    .with_protocol_type(owned_str(g.protocol_type().unwrap_or("")))
                    .with_group_state(owned_str(g.state().name()))
                    .with_group_type(owned_str("classic"))
            })
            .collect()
    }
}

/// The groups as the metrics see them at one moment.
#[derive(Debug, Clone, Default)]
pub struct GroupsSnapshot {
    /// (group, topic, partition, committed offset).
    pub committed: Vec<(String, String, i32, i64)>,
    /// Groups per state (Kafka's state names), states with no group left out.
    pub states: BTreeMap<&'static str, usize>,
}

/// When offsets of a group start ageing.
enum Base {
    /// Since the group became Empty.
    StateChange(i64),
    /// Since each offset was committed.
    Commit,
}

/// Kafka's offset expiration condition for a classic group; `None` means nothing expires.
fn expiration_base(group: &ClassicGroup) -> Option<Base> {
    match group.protocol_type() {
        None => Some(Base::Commit),
        Some(_) if group.is(GroupState::Empty) => Some(
            group
                .current_state_timestamp_ms()
                .map_or(Base::Commit, Base::StateChange),
        ),
        Some(_)
            if group.uses_consumer_protocol()
                && group.subscribed_topics().is_some()
                && group.is(GroupState::Stable) =>
        {
            Some(Base::Commit)
        }
        Some(_) => None,
    }
}

/// Java's `String.length()`, which `offset.metadata.max.bytes` is compared against.
fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}
