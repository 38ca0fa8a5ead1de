//! The group coordinator: Kafka's classic group protocol as a state machine.
//!
//! Nothing here reads a clock, touches a socket or writes a file. Every operation takes `now_ms`
//! and returns an [`Outcome`]: the response plus the [`Append`]s — records for
//! `__consumer_offsets` and what to do once they are (or fail to be) appended. The driver
//! (`runtime.rs`) appends them and calls [`GroupCoordinator::complete_append`]; unit tests do
//! the same with a `Vec`. Committed offsets change only by replaying their records
//! ([`GroupCoordinator::replay`]), the path start-up loading takes too. Classic group state
//! (members, generations) changes in place, as in Kafka, whose own classic-group records are
//! written for recovery and not replayed while live.
//!
//! JoinGroup and SyncGroup responses that must wait for the rebalance are parked in the group
//! as `oneshot` senders; answering them pushes a [`Delivery`] that the driver sends (after an
//! fsync, when the flush policy asks for one). Timers — sessions, rebalance timeouts, the
//! initial delay, pending syncs, offset expiry — are deadlines in [`Timers`]; the driver sleeps
//! until `next_deadline()` and calls `fire_timers`.
//!
//! This file holds membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, timers, loading);
//! `coordinator/offset_ops.rs` holds offsets, group deletion and the describe/list views.
//!
//! Errors are Kafka's, at the points Kafka returns them (GroupMetadataManager,
//! OffsetMetadataManager and ClassicGroup in Kafka's `group-coordinator` module are the
//! reference). Deliberate differences:
//! - Groups per broker are bounded (`vltava.group.max.count`); past it, new groups are refused
//!   with GROUP_MAX_SIZE_REACHED. Members holding a MEMBER_ID_REQUIRED id count against
//!   `group.max.size` too.
//! - A group created by a JoinGroup that ends without members is not written to the log (Kafka
//!   writes an empty GroupMetadata record); it lives in memory until the next expiry cycle.
//! - A JoinGroup replaced by a newer one from the same member is dropped (the handler answers
//!   it with NOT_COORDINATOR); Kafka leaves it unanswered.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};

use super::classic::{ClassicGroup, GroupState, JoinResponder, Member, Protocol, SyncResponder};
use super::offsets::OffsetStore;
use super::owned_str;
use super::records::{CoordinatorRecord, OffsetCommitValue};
use super::timers::{TimerKey, TimerTask, Timers};
use crate::config::GroupConfig;
pub use crate::coordinator::runtime::AppendFailed;
use crate::log::error::NONE;

/// A response for a parked JoinGroup or SyncGroup, ready to send.
#[derive(Debug)]
pub enum Delivery {
    Join(JoinResponder, JoinGroupResponse),
    Sync(SyncResponder, SyncGroupResponse),
}

impl Delivery {
    /// Sends it; a requester that has gone away is not an error.
    pub fn send(self) {
        match self {
            Delivery::Join(tx, r) => {
                let _ = tx.send(r);
            }
            Delivery::Sync(tx, r) => {
                let _ = tx.send(r);
            }
        }
    }
}

/// Records to append for one group, and what to do afterwards.
#[derive(Debug)]
pub struct Append {
    pub group_id: String,
    pub records: Vec<CoordinatorRecord>,
    /// Apply the records to the state once appended (offsets, tombstones). Classic-group
    /// snapshots written while live are not replayed: the live state already is what they say.
    pub replay: bool,
    pub then: AfterAppend,
    /// The transactional producer (id, epoch) whose transaction these records belong to
    /// (TxnOffsetCommit): written as its transactional batch, pending until its marker.
    pub producer: Option<(i64, i16)>,
}

/// What an append's completion does to the state machine.
#[derive(Debug)]
pub enum AfterAppend {
    Nothing,
    /// The leader's assignment was stored: propagate it and go Stable (or, on failure, make
    /// everyone rejoin).
    StoreAssignment {
        generation: i32,
        assignment: HashMap<String, Bytes>,
    },
    /// A static member's new member id was stored without a rebalance: answer its JoinGroup
    /// (or, on failure, put the old member id back).
    StaticMemberReplaced(Box<StaticReplacement>),
}

#[derive(Debug)]
pub struct StaticReplacement {
    instance_id: String,
    old_member_id: String,
    new_member_id: String,
    old_protocols: Vec<Protocol>,
    old_rebalance_timeout_ms: i32,
    old_session_timeout_ms: i32,
    leader_before: Option<String>,
    supports_skip_assignment: bool,
}

/// An operation's result: the response and the appends it needs.
#[derive(Debug)]
pub struct Outcome<R> {
    pub response: R,
    pub appends: Vec<Append>,
}

impl<R> Outcome<R> {
    fn new(response: R, appends: Vec<Append>) -> Outcome<R> {
        Outcome { response, appends }
    }

    fn only(response: R) -> Outcome<R> {
        Outcome {
            response,
            appends: Vec::new(),
        }
    }
}

/// A JoinGroup, with the strings copied out of the request frame.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
    pub client_id: String,
    pub client_host: String,
    /// v4+: a first join without a member id is answered with MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// v9+: a static leader rejoining a Stable group is told to skip the assignment.
    pub supports_skip_assignment: bool,
}

#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// Per-member results of a LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveResult {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub error_code: i16,
}

#[derive(Debug, Clone)]
pub struct CommitPartition {
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub group_id: String,
    /// -1 for a commit from outside group management.
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// v2–4: -1 means the broker's retention.
    pub retention_time_ms: i64,
    pub topics: Vec<(String, Vec<CommitPartition>)>,
    pub version: i16,
}

/// Per-partition error codes, by topic, in request order.
pub type PartitionErrors = Vec<(String, Vec<(i32, i16)>)>;

/// What OffsetFetch returns for one group: by topic, each partition's committed offset (`None`
/// when there is none).
pub type FetchedOffsets = Vec<(String, Vec<(i32, Option<OffsetCommitValue>)>)>;

impl AppendFailed for i16 {
    fn append_failed(&mut self, code: i16) {
        if *self == NONE {
            *self = code;
        }
    }
}

impl AppendFailed for Vec<LeaveResult> {
    fn append_failed(&mut self, _code: i16) {}
}

impl AppendFailed for PartitionErrors {
    fn append_failed(&mut self, code: i16) {
        for (_, partitions) in self.iter_mut() {
            for (_, e) in partitions.iter_mut() {
                if *e == NONE {
                    *e = code;
                }
            }
        }
    }
}

impl AppendFailed for Result<PartitionErrors, i16> {
    fn append_failed(&mut self, code: i16) {
        if self.is_ok() {
            *self = Err(code);
        }
    }
}

/// The group coordinator. See the module documentation.
#[derive(Debug)]
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: BTreeMap<String, ClassicGroup>,
    offsets: OffsetStore,
    timers: Timers,
    outbox: Vec<Delivery>,
    /// Source of member id suffixes (a UUID in production, a counter in tests).
    ids: IdSource,
}

#[derive(Debug)]
enum IdSource {
    Random,
    #[cfg_attr(not(test), allow(dead_code))]
    Counter(u64),
}

impl IdSource {
    fn next(&mut self) -> String {
        match self {
            IdSource::Random => crate::log::ids::random_uuid().hyphenated().to_string(),
            IdSource::Counter(n) => {
                *n += 1;
                format!("{n:08}")
            }
        }
    }
}

impl GroupCoordinator {
    pub fn new(config: GroupConfig, now_ms: i64) -> GroupCoordinator {
        let mut c = GroupCoordinator {
            config,
            groups: BTreeMap::new(),
            offsets: OffsetStore::default(),
            timers: Timers::default(),
            outbox: Vec::new(),
            ids: IdSource::Random,
        };
        c.schedule_offsets_expiry(now_ms);
        c
    }

    /// Deterministic member ids (`<client>-00000001`, …) for tests.
    #[cfg(test)]
    pub fn with_counter_ids(mut self) -> GroupCoordinator {
        self.ids = IdSource::Counter(0);
        self
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub fn group(&self, group_id: &str) -> Option<&ClassicGroup> {
        self.groups.get(group_id)
    }

    pub fn offsets(&self) -> &OffsetStore {
        &self.offsets
    }

    pub fn num_groups(&self) -> usize {
        self.groups.len()
    }

    /// The earliest timer deadline, for the driver to sleep until.
    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.next_deadline()
    }

    /// Responses ready to send since the last call.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.outbox)
    }

    // ----- loading -------------------------------------------------------------------------

    /// Applies one record of `__consumer_offsets`: at start-up for every record in log order,
    /// and live for appends marked `replay`.
    pub fn replay(&mut self, record: CoordinatorRecord, now_ms: i64) {
        match record {
            CoordinatorRecord::OffsetCommit {
                group,
                topic,
                partition,
                value,
            } => {
                if value.is_some() && !self.groups.contains_key(&group) {
                    // Offsets committed outside group management: a "simple" group.
                    self.groups
                        .insert(group.clone(), ClassicGroup::new(group.clone(), now_ms));
                }
                self.offsets.apply(&group, &topic, partition, value);
            }
            CoordinatorRecord::GroupMetadata { group, value } => match value {
                Some(v) => {
                    let loaded = ClassicGroup::from_record(group.clone(), v);
                    self.groups.insert(group, loaded);
                }
                None => self.remove_group(&group),
            },
        }
    }

    /// After loading: start every loaded member's session, as Kafka does on load, and
    /// rebalance groups that are over `group.max.size`.
    pub fn on_loaded(&mut self, now_ms: i64) {
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(group) = self.groups.get(&id) else {
                continue;
            };
            let sessions: Vec<(String, i32)> = group
                .members()
                .map(|m| (m.member_id.clone(), m.session_timeout_ms))
                .collect();
            let over_capacity = group.num_members() > self.config.max_size;
            for (member, session) in sessions {
                self.schedule_heartbeat(&id, &member, now_ms + i64::from(session));
            }
            if over_capacity {
                // No member of a loaded group is waiting to join, so this only starts the
                // join phase; it cannot complete (and append) here.
                let _ = self.prepare_rebalance(&id, now_ms);
            }
        }
    }

    fn remove_group(&mut self, group_id: &str) {
        if let Some(mut group) = self.groups.remove(group_id) {
            for id in group.member_ids() {
                if let Some(tx) = group.take_join_responder(&id) {
                    self.outbox.push(Delivery::Join(
                        tx,
                        join_error("", ResponseError::CoordinatorNotAvailable.code()),
                    ));
                }
                if let Some(tx) = group.take_sync_responder(&id) {
                    self.outbox.push(Delivery::Sync(
                        tx,
                        sync_error(ResponseError::CoordinatorNotAvailable.code()),
                    ));
                }
            }
        }
        self.timers.cancel_group(group_id);
    }

    /// Shutdown: answer every parked request with NOT_COORDINATOR, as Kafka does when it
    /// unloads a coordinator, so clients look for the coordinator again.
    pub fn unload(&mut self) {
        for group in self.groups.values_mut() {
            for id in group.member_ids() {
                if let Some(tx) = group.take_join_responder(&id) {
                    self.outbox.push(Delivery::Join(
                        tx,
                        join_error(&id, ResponseError::NotCoordinator.code()),
                    ));
                }
                if let Some(tx) = group.take_sync_responder(&id) {
                    self.outbox.push(Delivery::Sync(
                        tx,
                        sync_error(ResponseError::NotCoordinator.code()),
                    ));
                }
            }
        }
    }

    // ----- appends -------------------------------------------------------------------------

    /// Called by the driver once an append is on the log (`Ok`) or failed (`Err(code)`, the log's
    /// error code). Returns the error clients should see, if any.
    pub fn complete_append(
        &mut self,
        append: Append,
        result: Result<(), i16>,
        now_ms: i64,
    ) -> (Result<(), i16>, Vec<Append>) {
        let result = result.map_err(super::for_append_failure);
        if result.is_ok() && append.replay {
            match append.producer {
                Some((producer_id, _)) => {
                    for r in append.records {
                        self.replay_pending(producer_id, r);
                    }
                }
                None => {
                    for r in append.records {
                        self.replay(r, now_ms);
                    }
                }
            }
        }
        let more = match append.then {
            AfterAppend::Nothing => Vec::new(),
            AfterAppend::StoreAssignment {
                generation,
                assignment,
            } => self.assignment_stored(&append.group_id, generation, assignment, result, now_ms),
            AfterAppend::StaticMemberReplaced(r) => {
                self.static_member_stored(&append.group_id, *r, result, now_ms);
                Vec::new()
            }
        };
        (result, more)
    }

    /// A transactional offset commit was appended: pending until its producer's marker.
    fn replay_pending(&mut self, producer_id: i64, record: CoordinatorRecord) {
        if let CoordinatorRecord::OffsetCommit {
            group,
            topic,
            partition,
            value,
        } = record
        {
            self.offsets
                .apply_pending(producer_id, &group, &topic, partition, value);
        }
    }

    /// A transaction marker of `producer_id` was appended or replayed: its pending offsets
    /// become committed offsets, or are dropped.
    pub fn complete_transaction(&mut self, producer_id: i64, commit: bool, now_ms: i64) {
        for (group, topic, partition, value) in self.offsets.take_pending(producer_id) {
            if commit {
                self.replay(
                    CoordinatorRecord::OffsetCommit {
                        group,
                        topic,
                        partition,
                        value,
                    },
                    now_ms,
                );
            }
        }
    }

    /// Replays a stored transactional record (start-up load).
    pub fn replay_transactional(&mut self, producer_id: i64, record: CoordinatorRecord) {
        self.replay_pending(producer_id, record);
    }

    // ----- JoinGroup -----------------------------------------------------------------------

    pub fn join_group(
        &mut self,
        req: JoinRequest,
        reply: JoinResponder,
        now_ms: i64,
    ) -> Vec<Append> {
        if req.group_id.is_empty() {
            self.outbox.push(Delivery::Join(
                reply,
                join_error(&req.member_id, ResponseError::InvalidGroupId.code()),
            ));
            return Vec::new();
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            self.outbox.push(Delivery::Join(
                reply,
                join_error(&req.member_id, ResponseError::InvalidSessionTimeout.code()),
            ));
            return Vec::new();
        }
        let is_unknown_member = req.member_id.is_empty();
        if !self.groups.contains_key(&req.group_id) {
            if !is_unknown_member {
                self.outbox.push(Delivery::Join(
                    reply,
                    join_error(&req.member_id, ResponseError::UnknownMemberId.code()),
                ));
                return Vec::new();
            }
            if self.groups.len() >= self.config.max_groups {
                self.outbox.push(Delivery::Join(
                    reply,
                    join_error("", ResponseError::GroupMaxSizeReached.code()),
                ));
                return Vec::new();
            }
            self.groups.insert(
                req.group_id.clone(),
                ClassicGroup::new(req.group_id.clone(), now_ms),
            );
        }
        if !self.accept_joining_member(&req.group_id, &req.member_id) {
            if let Some(group) = self.groups.get_mut(&req.group_id) {
                group.remove(&req.member_id);
            }
            self.outbox.push(Delivery::Join(
                reply,
                join_error("", ResponseError::GroupMaxSizeReached.code()),
            ));
            return Vec::new();
        }
        if is_unknown_member {
            self.join_new_member(req, reply, now_ms)
        } else {
            self.join_existing_member(req, reply, now_ms)
        }
    }

    fn accept_joining_member(&self, group_id: &str, member_id: &str) -> bool {
        let Some(group) = self.groups.get(group_id) else {
            return false;
        };
        let max = self.config.max_size;
        match group.state() {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                group
                    .member(member_id)
                    .is_some_and(|m| m.is_awaiting_join())
                    || group.num_awaiting_join() < max
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                group.has_member(member_id) || group.num_members() < max
            }
        }
    }

    fn join_new_member(
        &mut self,
        req: JoinRequest,
        reply: JoinResponder,
        now_ms: i64,
    ) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        if !group.supports_protocols(&req.protocol_type, &req.protocols) {
            self.outbox.push(Delivery::Join(
                reply,
                join_error("", ResponseError::InconsistentGroupProtocol.code()),
            ));
            return Vec::new();
        }
        let prefix = req.group_instance_id.as_deref().unwrap_or(&req.client_id);
        let new_member_id = format!("{prefix}-{}", self.ids.next());
        if let Some(instance) = req.group_instance_id.clone() {
            let existing = group.static_member_id(&instance).map(str::to_string);
            return match existing {
                Some(old) => {
                    self.update_static_member(req, instance, old, new_member_id, reply, now_ms)
                }
                None => self.add_member_and_rebalance(req, new_member_id, reply, now_ms),
            };
        }
        if req.require_known_member_id {
            if group.num_pending_join_members() >= self.config.max_size {
                self.outbox.push(Delivery::Join(
                    reply,
                    join_error("", ResponseError::GroupMaxSizeReached.code()),
                ));
                return Vec::new();
            }
            group.add_pending_member(new_member_id.clone());
            let deadline = now_ms + i64::from(req.session_timeout_ms);
            self.schedule_heartbeat(&req.group_id, &new_member_id, deadline);
            self.outbox.push(Delivery::Join(
                reply,
                join_error(&new_member_id, ResponseError::MemberIdRequired.code()),
            ));
            return Vec::new();
        }
        self.add_member_and_rebalance(req, new_member_id, reply, now_ms)
    }

    fn join_existing_member(
        &mut self,
        req: JoinRequest,
        reply: JoinResponder,
        now_ms: i64,
    ) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        let member_id = req.member_id.clone();
        if !group.supports_protocols(&req.protocol_type, &req.protocols) {
            self.outbox.push(Delivery::Join(
                reply,
                join_error(&member_id, ResponseError::InconsistentGroupProtocol.code()),
            ));
            return Vec::new();
        }
        if group.is_pending_member(&member_id) {
            if req.group_instance_id.is_some() {
                // Pending ids are only handed to dynamic members; Kafka fails this as an
                // internal error.
                self.outbox.push(Delivery::Join(
                    reply,
                    join_error(&member_id, ResponseError::InvalidRequest.code()),
                ));
                return Vec::new();
            }
            return self.add_member_and_rebalance(req, member_id, reply, now_ms);
        }
        if let Err(code) = group.validate_member(&member_id, req.group_instance_id.as_deref()) {
            self.outbox
                .push(Delivery::Join(reply, join_error(&member_id, code)));
            return Vec::new();
        }
        let matches = group
            .member(&member_id)
            .is_some_and(|m| m.protocols == req.protocols);
        match group.state() {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(req, reply, now_ms),
            GroupState::CompletingRebalance if matches => {
                // Probably lost the JoinGroup response: answer with the current generation.
                let members = if group.is_leader(&member_id) {
                    group.join_response_members()
                } else {
                    Vec::new()
                };
                let response = generation_response(group, &member_id, members, false);
                self.outbox.push(Delivery::Join(reply, response));
                Vec::new()
            }
            GroupState::Stable if matches && !group.is_leader(&member_id) => {
                // A follower with unchanged metadata: let it SyncGroup for the current generation.
                let response = generation_response(group, &member_id, Vec::new(), false);
                self.outbox.push(Delivery::Join(reply, response));
                Vec::new()
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                // Changed metadata, or the leader asking for a new assignment.
                self.update_member_and_rebalance(req, reply, now_ms)
            }
            GroupState::Empty | GroupState::Dead => {
                self.outbox.push(Delivery::Join(
                    reply,
                    join_error(&member_id, ResponseError::UnknownMemberId.code()),
                ));
                Vec::new()
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        req: JoinRequest,
        member_id: String,
        reply: JoinResponder,
        now_ms: i64,
    ) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Vec::new();
        };
        let member = Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: req.client_host.clone(),
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            session_timeout_ms: req.session_timeout_ms,
            protocol_type: req.protocol_type.clone(),
            protocols: req.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(reply),
            awaiting_sync: None,
            is_new: true,
        };
        if group.is(GroupState::PreparingRebalance) && group.previous_state() == GroupState::Empty {
            group.new_member_added = true;
        }
        group.add(member);
        // A new member cannot heartbeat before it has its JoinGroup answer; bound its wait.
        let deadline = now_ms + i64::from(self.config.new_member_join_timeout_ms);
        self.schedule_heartbeat(&req.group_id, &member_id, deadline);
        self.maybe_prepare_rebalance_or_complete_join(&req.group_id, now_ms)
    }

    fn update_member_and_rebalance(
        &mut self,
        req: JoinRequest,
        reply: JoinResponder,
        now_ms: i64,
    ) -> Vec<Append> {
        if let Some(group) = self.groups.get_mut(&req.group_id) {
            // A JoinGroup this one supersedes is dropped (its client has given up on it).
            let _superseded = group.update_member(
                &req.member_id,
                req.protocols,
                req.rebalance_timeout_ms,
                req.session_timeout_ms,
                Some(reply),
            );
        }
        self.maybe_prepare_rebalance_or_complete_join(&req.group_id, now_ms)
    }

    /// A known static member rejoined without its member id (a restart): give it a new id
    /// and, if the group is Stable and the protocol does not change, keep the assignment
    /// without a rebalance.
    fn update_static_member(
        &mut self,
        req: JoinRequest,
        instance_id: String,
        old_member_id: String,
        new_member_id: String,
        reply: JoinResponder,
        now_ms: i64,
    ) -> Vec<Append> {
        let group_id = req.group_id.clone();
        let Some(group) = self.groups.get_mut(&group_id) else {
            return Vec::new();
        };
        let leader_before = group.leader_id().map(str::to_string);
        let Some((old_join, old_sync)) =
            group.replace_static_member(&instance_id, &old_member_id, &new_member_id)
        else {
            return Vec::new();
        };
        // Fence whoever was waiting under the old id.
        if let Some(tx) = old_join {
            let mut r = join_error(&old_member_id, ResponseError::FencedInstanceId.code());
            r.protocol_name = None;
            self.outbox.push(Delivery::Join(tx, r));
        }
        if let Some(tx) = old_sync {
            self.outbox.push(Delivery::Sync(
                tx,
                sync_error(ResponseError::FencedInstanceId.code()),
            ));
        }
        let Some(member) = group.member(&new_member_id) else {
            return Vec::new();
        };
        let old_protocols = member.protocols.clone();
        let old_rebalance_timeout_ms = member.rebalance_timeout_ms;
        let old_session_timeout_ms = member.session_timeout_ms;
        group.update_member(
            &new_member_id,
            req.protocols,
            req.rebalance_timeout_ms,
            req.session_timeout_ms,
            Some(reply),
        );
        let state = group.state();
        let protocol_unchanged =
            group.protocol_name().map(str::to_string) == group.select_protocol();
        let record = group.to_record(&group.assignments());
        self.timers.cancel(&TimerKey::Heartbeat {
            group: group_id.clone(),
            member: old_member_id.clone(),
        });
        self.schedule_heartbeat(
            &group_id,
            &new_member_id,
            now_ms + i64::from(old_session_timeout_ms),
        );
        match state {
            GroupState::Stable if protocol_unchanged => vec![Append {
                group_id: group_id.clone(),
                records: vec![CoordinatorRecord::GroupMetadata {
                    group: group_id,
                    value: Some(record),
                }],
                replay: false,
                producer: None,
                then: AfterAppend::StaticMemberReplaced(Box::new(StaticReplacement {
                    instance_id,
                    old_member_id,
                    new_member_id,
                    old_protocols,
                    old_rebalance_timeout_ms,
                    old_session_timeout_ms,
                    leader_before,
                    supports_skip_assignment: req.supports_skip_assignment,
                })),
            }],
            GroupState::Stable => self.maybe_prepare_rebalance_or_complete_join(&group_id, now_ms),
            // The leader may already have assigned the old member id: start over.
            GroupState::CompletingRebalance => self.prepare_rebalance(&group_id, now_ms),
            _ => self.maybe_complete_join_phase(&group_id, now_ms),
        }
    }

    fn static_member_stored(
        &mut self,
        group_id: &str,
        r: StaticReplacement,
        result: Result<(), i16>,
        now_ms: i64,
    ) {
        let Some(group) = self.groups.get_mut(group_id) else {
            return;
        };
        if !group.has_member(&r.new_member_id) {
            return;
        }
        match result {
            Ok(()) => {
                let Some(tx) = group.take_join_responder(&r.new_member_id) else {
                    return;
                };
                let response = if r.supports_skip_assignment {
                    let is_leader = group.is_leader(&r.new_member_id);
                    let members = if is_leader {
                        group.join_response_members()
                    } else {
                        Vec::new()
                    };
                    generation_response(group, &r.new_member_id, members, is_leader)
                } else {
                    // Older clients: name the previous leader, so a restarted static leader
                    // acts as a follower and keeps the stored assignment.
                    let mut resp = generation_response(group, &r.new_member_id, Vec::new(), false);
                    resp.leader = owned_str(r.leader_before.as_deref().unwrap_or(""));
                    resp
                };
                self.outbox.push(Delivery::Join(tx, response));
            }
            Err(code) => {
                // Could not persist the new member id: put the old one back.
                let tx = group.update_member(
                    &r.new_member_id,
                    r.old_protocols,
                    r.old_rebalance_timeout_ms,
                    r.old_session_timeout_ms,
                    None,
                );
                group.replace_static_member(&r.instance_id, &r.new_member_id, &r.old_member_id);
                let mut response = generation_response(group, "", Vec::new(), false);
                response.error_code = code;
                response.leader = owned_str(r.leader_before.as_deref().unwrap_or(""));
                self.timers.cancel(&TimerKey::Heartbeat {
                    group: group_id.to_string(),
                    member: r.new_member_id.clone(),
                });
                self.schedule_heartbeat(
                    group_id,
                    &r.old_member_id,
                    now_ms + i64::from(r.old_session_timeout_ms),
                );
                if let Some(tx) = tx {
                    self.outbox.push(Delivery::Join(tx, response));
                }
            }
        }
    }

    fn maybe_prepare_rebalance_or_complete_join(
        &mut self,
        group_id: &str,
        now_ms: i64,
    ) -> Vec<Append> {
        let can = self.groups.get(group_id).is_some_and(|g| g.can_rebalance());
        if can {
            self.prepare_rebalance(group_id, now_ms)
        } else {
            self.maybe_complete_join_phase(group_id, now_ms)
        }
    }

    /// Starts a rebalance: parked SyncGroups are told to rejoin, and the join phase begins
    /// (after the initial delay for a group that was Empty).
    fn prepare_rebalance(&mut self, group_id: &str, now_ms: i64) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.is(GroupState::CompletingRebalance) {
            let answered = reset_and_propagate(
                group,
                ResponseError::RebalanceInProgress.code(),
                &mut self.outbox,
            );
            for (id, session) in answered {
                self.timers.schedule(
                    heartbeat_key(group_id, &id),
                    now_ms + i64::from(session),
                    TimerTask::ExpireHeartbeat,
                );
            }
        }
        group.clear_pending_sync_members();
        self.timers.cancel(&TimerKey::Sync {
            group: group_id.to_string(),
        });
        let initial = group.is(GroupState::Empty);
        if initial {
            let delay = i64::from(self.config.initial_rebalance_delay_ms);
            let remaining = (i64::from(group.rebalance_timeout_ms()) - delay).max(0);
            self.timers.schedule(
                TimerKey::Join {
                    group: group_id.to_string(),
                },
                now_ms + delay,
                TimerTask::InitialRebalance {
                    delay_ms: delay,
                    remaining_ms: remaining,
                },
            );
        }
        group.transition_to(GroupState::PreparingRebalance, now_ms);
        tracing::debug!(
            group = group_id,
            generation = group.generation_id(),
            "preparing to rebalance"
        );
        if initial {
            return Vec::new();
        }
        if group.has_all_members_joined() {
            return self.complete_join(group_id, now_ms);
        }
        let timeout = i64::from(group.rebalance_timeout_ms());
        self.timers.schedule(
            TimerKey::Join {
                group: group_id.to_string(),
            },
            now_ms + timeout,
            TimerTask::CompleteJoin,
        );
        Vec::new()
    }

    /// Completes the join phase when every member has rejoined (not during the initial delay).
    fn maybe_complete_join_phase(&mut self, group_id: &str, now_ms: i64) -> Vec<Append> {
        let ready = self.groups.get(group_id).is_some_and(|g| {
            g.is(GroupState::PreparingRebalance)
                && g.previous_state() != GroupState::Empty
                && g.has_all_members_joined()
        });
        if ready {
            self.complete_join(group_id, now_ms)
        } else {
            Vec::new()
        }
    }

    /// Ends the join phase: drops dynamic members that did not rejoin, starts the next
    /// generation and answers every parked JoinGroup (the leader gets the member list).
    fn complete_join(&mut self, group_id: &str, now_ms: i64) -> Vec<Append> {
        self.timers.cancel(&TimerKey::Join {
            group: group_id.to_string(),
        });
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if !group.is(GroupState::PreparingRebalance) {
            return Vec::new();
        }
        for id in group.not_yet_rejoined_dynamic_members() {
            if let Some(m) = group.remove(&id) {
                answer_removed_member(m, &mut self.outbox);
            }
            self.timers.cancel(&heartbeat_key(group_id, &id));
        }
        if !group.maybe_elect_new_joined_leader() && group.num_members() > 0 {
            // Nobody rejoined: wait another rebalance timeout for sessions to expire.
            let timeout = i64::from(group.rebalance_timeout_ms());
            self.timers.schedule(
                TimerKey::Join {
                    group: group_id.to_string(),
                },
                now_ms + timeout,
                TimerTask::CompleteJoin,
            );
            return Vec::new();
        }
        group.init_next_generation(now_ms);
        if group.is(GroupState::Empty) {
            tracing::info!(
                group = group_id,
                generation = group.generation_id(),
                "group is now empty"
            );
            let record = group.to_record(&HashMap::new());
            return vec![Append {
                group_id: group_id.to_string(),
                records: vec![CoordinatorRecord::GroupMetadata {
                    group: group_id.to_string(),
                    value: Some(record),
                }],
                replay: false,
                producer: None,
                then: AfterAppend::Nothing,
            }];
        }
        tracing::info!(
            group = group_id,
            generation = group.generation_id(),
            members = group.num_members(),
            protocol = group.protocol_name().unwrap_or(""),
            "group rebalanced"
        );
        let leader_members = group.join_response_members();
        for id in group.member_ids() {
            let members = if group.is_leader(&id) {
                leader_members.clone()
            } else {
                Vec::new()
            };
            let response = generation_response(group, &id, members, false);
            if let Some(tx) = group.take_join_responder(&id) {
                self.outbox.push(Delivery::Join(tx, response));
            }
            let session = match group.member_mut(&id) {
                Some(m) => {
                    m.is_new = false;
                    m.session_timeout_ms
                }
                None => continue,
            };
            self.timers.schedule(
                heartbeat_key(group_id, &id),
                now_ms + i64::from(session),
                TimerTask::ExpireHeartbeat,
            );
            group.add_pending_sync_member(id);
        }
        let generation = group.generation_id();
        let timeout = i64::from(group.rebalance_timeout_ms());
        self.timers.schedule(
            TimerKey::Sync {
                group: group_id.to_string(),
            },
            now_ms + timeout,
            TimerTask::ExpireSync { generation },
        );
        Vec::new()
    }

    // ----- SyncGroup -----------------------------------------------------------------------

    pub fn sync_group(
        &mut self,
        req: SyncRequest,
        reply: SyncResponder,
        _now_ms: i64,
    ) -> Vec<Append> {
        if req.group_id.is_empty() {
            self.outbox.push(Delivery::Sync(
                reply,
                sync_error(ResponseError::InvalidGroupId.code()),
            ));
            return Vec::new();
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            self.outbox.push(Delivery::Sync(
                reply,
                sync_error(ResponseError::UnknownMemberId.code()),
            ));
            return Vec::new();
        };
        if group.is(GroupState::Empty) {
            self.outbox.push(Delivery::Sync(
                reply,
                sync_error(ResponseError::UnknownMemberId.code()),
            ));
            return Vec::new();
        }
        let invalid = group
            .validate_member(&req.member_id, req.group_instance_id.as_deref())
            .err()
            .or_else(|| {
                (req.generation_id != group.generation_id())
                    .then_some(ResponseError::IllegalGeneration.code())
            })
            .or_else(|| {
                (is_inconsistent(req.protocol_type.as_deref(), group.protocol_type())
                    || is_inconsistent(req.protocol_name.as_deref(), group.protocol_name()))
                .then_some(ResponseError::InconsistentGroupProtocol.code())
            });
        if let Some(code) = invalid {
            self.outbox.push(Delivery::Sync(reply, sync_error(code)));
            return Vec::new();
        }
        match group.state() {
            GroupState::PreparingRebalance => {
                self.outbox.push(Delivery::Sync(
                    reply,
                    sync_error(ResponseError::RebalanceInProgress.code()),
                ));
                Vec::new()
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = group.member_mut(&req.member_id) {
                    // A SyncGroup this one supersedes is dropped.
                    m.awaiting_sync = Some(reply);
                }
                self.remove_pending_sync_member(&req.group_id, &req.member_id);
                let Some(group) = self.groups.get(&req.group_id) else {
                    return Vec::new();
                };
                if !group.is_leader(&req.member_id) {
                    return Vec::new();
                }
                // The leader's assignment, for current members only; missing ones get none.
                let mut assignment: HashMap<String, Bytes> = HashMap::new();
                for (member, bytes) in req.assignments {
                    if group.has_member(&member) {
                        assignment.insert(member, bytes);
                    }
                }
                for id in group.member_ids() {
                    assignment.entry(id).or_default();
                }
                let record = group.to_record(&assignment);
                vec![Append {
                    group_id: req.group_id.clone(),
                    records: vec![CoordinatorRecord::GroupMetadata {
                        group: req.group_id,
                        value: Some(record),
                    }],
                    replay: false,
                    producer: None,
                    then: AfterAppend::StoreAssignment {
                        generation: req.generation_id,
                        assignment,
                    },
                }]
            }
            GroupState::Stable => {
                let response = SyncGroupResponse::default()
                    .with_protocol_type(group.protocol_type().map(owned_str))
                    .with_protocol_name(group.protocol_name().map(owned_str))
                    .with_assignment(
                        group
                            .member(&req.member_id)
                            .map(|m| m.assignment.clone())
                            .unwrap_or_default(),
                    );
                self.outbox.push(Delivery::Sync(reply, response));
                self.remove_pending_sync_member(&req.group_id, &req.member_id);
                Vec::new()
            }
            GroupState::Empty | GroupState::Dead => {
                self.outbox.push(Delivery::Sync(
                    reply,
                    sync_error(ResponseError::UnknownMemberId.code()),
                ));
                Vec::new()
            }
        }
    }

    fn remove_pending_sync_member(&mut self, group_id: &str, member_id: &str) {
        if let Some(group) = self.groups.get_mut(group_id) {
            group.remove_pending_sync_member(member_id);
            let keep = matches!(
                group.state(),
                GroupState::CompletingRebalance | GroupState::Stable
            ) && !group.has_received_sync_from_all_members();
            if !keep {
                self.timers.cancel(&TimerKey::Sync {
                    group: group_id.to_string(),
                });
            }
        }
    }

    fn assignment_stored(
        &mut self,
        group_id: &str,
        generation: i32,
        assignment: HashMap<String, Bytes>,
        result: Result<(), i16>,
        now_ms: i64,
    ) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        // The group may have moved on while the append was in flight.
        if !group.is(GroupState::CompletingRebalance) || group.generation_id() != generation {
            return Vec::new();
        }
        match result {
            Ok(()) => {
                for id in group.member_ids() {
                    if let Some(m) = group.member_mut(&id) {
                        m.assignment = assignment.get(&id).cloned().unwrap_or_default();
                    }
                }
                let sessions = propagate(group, NONE, &mut self.outbox);
                group.transition_to(GroupState::Stable, now_ms);
                for (id, session) in sessions {
                    self.schedule_heartbeat(group_id, &id, now_ms + i64::from(session));
                }
                Vec::new()
            }
            Err(code) => {
                let sessions = reset_and_propagate(group, code, &mut self.outbox);
                for (id, session) in sessions {
                    self.schedule_heartbeat(group_id, &id, now_ms + i64::from(session));
                }
                self.maybe_prepare_rebalance_or_complete_join(group_id, now_ms)
            }
        }
    }

    // ----- Heartbeat -----------------------------------------------------------------------

    pub fn heartbeat(&mut self, req: HeartbeatRequest, now_ms: i64) -> i16 {
        if req.group_id.is_empty() {
            return ResponseError::InvalidGroupId.code();
        }
        let Some(group) = self.groups.get(&req.group_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        if let Err(code) = group.validate_member(&req.member_id, req.group_instance_id.as_deref()) {
            return code;
        }
        if req.generation_id != group.generation_id() {
            return ResponseError::IllegalGeneration.code();
        }
        let code = match group.state() {
            GroupState::Empty | GroupState::Dead => return ResponseError::UnknownMemberId.code(),
            GroupState::PreparingRebalance => ResponseError::RebalanceInProgress.code(),
            GroupState::CompletingRebalance | GroupState::Stable => NONE,
        };
        let session = group
            .member(&req.member_id)
            .map(|m| m.session_timeout_ms)
            .unwrap_or(0);
        self.schedule_heartbeat(&req.group_id, &req.member_id, now_ms + i64::from(session));
        code
    }

    // ----- LeaveGroup ----------------------------------------------------------------------

    pub fn leave_group(
        &mut self,
        group_id: &str,
        members: Vec<LeavingMember>,
        now_ms: i64,
    ) -> Outcome<Vec<LeaveResult>> {
        let Some(group) = self.groups.get_mut(group_id) else {
            let results = members
                .into_iter()
                .map(|m| LeaveResult {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    error_code: ResponseError::UnknownMemberId.code(),
                })
                .collect();
            return Outcome::only(results);
        };
        let mut results = Vec::with_capacity(members.len());
        let mut any_left = false;
        for m in members {
            let outcome = if m.member_id.is_empty() {
                // Administrative removal by group.instance.id.
                match m
                    .group_instance_id
                    .as_deref()
                    .and_then(|i| group.static_member_id(i))
                    .map(str::to_string)
                {
                    Some(id) => {
                        remove_member(group, &id, &mut self.timers, &mut self.outbox);
                        NONE
                    }
                    None => ResponseError::UnknownMemberId.code(),
                }
            } else if group.is_pending_member(&m.member_id) {
                group.remove(&m.member_id);
                self.timers.cancel(&heartbeat_key(group_id, &m.member_id));
                NONE
            } else {
                match group.validate_member(&m.member_id, m.group_instance_id.as_deref()) {
                    Ok(()) => {
                        remove_member(group, &m.member_id, &mut self.timers, &mut self.outbox);
                        NONE
                    }
                    Err(code) => code,
                }
            };
            any_left |= outcome == NONE;
            results.push(LeaveResult {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                error_code: outcome,
            });
        }
        let state = group.state();
        let appends = if !any_left {
            Vec::new()
        } else {
            match state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(group_id, now_ms)
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(group_id, now_ms),
                _ => Vec::new(),
            }
        };
        Outcome::new(results, appends)
    }

    // ----- timers --------------------------------------------------------------------------

    /// Runs every timer due at `now_ms` (including ones that firing schedules for `now_ms`).
    pub fn fire_timers(&mut self, now_ms: i64) -> Vec<Append> {
        let mut appends = Vec::new();
        while let Some((key, task)) = self.timers.pop_due(now_ms) {
            appends.extend(self.fire(key, task, now_ms));
        }
        appends
    }

    fn fire(&mut self, key: TimerKey, task: TimerTask, now_ms: i64) -> Vec<Append> {
        match (key, task) {
            (TimerKey::Heartbeat { group, member }, _) => {
                self.expire_heartbeat(&group, &member, now_ms)
            }
            (
                TimerKey::Join { group },
                TimerTask::InitialRebalance {
                    delay_ms,
                    remaining_ms,
                },
            ) => self.initial_rebalance_due(&group, delay_ms, remaining_ms, now_ms),
            (TimerKey::Join { group }, _) => self.complete_join(&group, now_ms),
            (TimerKey::Sync { group }, TimerTask::ExpireSync { generation }) => {
                self.expire_sync(&group, generation, now_ms)
            }
            (TimerKey::Sync { .. }, _) => Vec::new(),
            (TimerKey::OffsetsExpiry, _) => self.expire_offsets(now_ms),
        }
    }

    fn expire_heartbeat(&mut self, group_id: &str, member_id: &str, now_ms: i64) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.is_pending_member(member_id) {
            tracing::info!(
                group = group_id,
                member = member_id,
                "pending member expired"
            );
            group.remove(member_id);
            if group.is(GroupState::PreparingRebalance) && group.has_all_members_joined() {
                return self.complete_join(group_id, now_ms);
            }
            return Vec::new();
        }
        let Some(member) = group.member(member_id) else {
            return Vec::new();
        };
        if member.has_satisfied_heartbeat() {
            return Vec::new();
        }
        tracing::info!(
            group = group_id,
            member = member_id,
            "member session expired; removing it from the group"
        );
        if let Some(m) = group.remove(member_id) {
            answer_removed_member(m, &mut self.outbox);
        }
        match group.state() {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance_or_complete_join(group_id, now_ms)
            }
            GroupState::PreparingRebalance if group.has_all_members_joined() => {
                self.complete_join(group_id, now_ms)
            }
            _ => Vec::new(),
        }
    }

    fn initial_rebalance_due(
        &mut self,
        group_id: &str,
        delay_ms: i64,
        remaining_ms: i64,
        now_ms: i64,
    ) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.new_member_added && remaining_ms != 0 {
            // Someone joined during the delay: wait once more, within the rebalance timeout.
            group.new_member_added = false;
            let configured = i64::from(self.config.initial_rebalance_delay_ms);
            let new_delay = configured.min(remaining_ms);
            let new_remaining = (remaining_ms - delay_ms).max(0);
            self.timers.schedule(
                TimerKey::Join {
                    group: group_id.to_string(),
                },
                now_ms + new_delay,
                TimerTask::InitialRebalance {
                    delay_ms: new_delay,
                    remaining_ms: new_remaining,
                },
            );
            return Vec::new();
        }
        self.complete_join(group_id, now_ms)
    }

    fn expire_sync(&mut self, group_id: &str, generation: i32, now_ms: i64) -> Vec<Append> {
        let Some(group) = self.groups.get_mut(group_id) else {
            return Vec::new();
        };
        if group.generation_id() != generation
            || !matches!(
                group.state(),
                GroupState::CompletingRebalance | GroupState::Stable
            )
            || group.has_received_sync_from_all_members()
        {
            return Vec::new();
        }
        let missing = group.pending_sync_members();
        tracing::info!(
            group = group_id,
            members = ?missing,
            "members did not send SyncGroup in time; removing them"
        );
        for id in &missing {
            if let Some(m) = group.remove(id) {
                answer_removed_member(m, &mut self.outbox);
            }
            self.timers.cancel(&heartbeat_key(group_id, id));
        }
        self.prepare_rebalance(group_id, now_ms)
    }

    fn schedule_heartbeat(&mut self, group_id: &str, member_id: &str, deadline_ms: i64) {
        self.timers.schedule(
            heartbeat_key(group_id, member_id),
            deadline_ms,
            TimerTask::ExpireHeartbeat,
        );
    }

    fn schedule_offsets_expiry(&mut self, now_ms: i64) {
        self.timers.schedule(
            TimerKey::OffsetsExpiry,
            now_ms.saturating_add(self.config.offsets_retention_check_interval_ms),
            TimerTask::ExpireOffsets,
        );
    }
}

fn heartbeat_key(group_id: &str, member_id: &str) -> TimerKey {
    TimerKey::Heartbeat {
        group: group_id.to_string(),
        member: member_id.to_string(),
    }
}

/// Removes a member on request (LeaveGroup): its session timer stops and a parked JoinGroup is
/// told UNKNOWN_MEMBER_ID so the client rejoins if it is still alive.
fn remove_member(
    group: &mut ClassicGroup,
    member_id: &str,
    timers: &mut Timers,
    outbox: &mut Vec<Delivery>,
) {
    timers.cancel(&heartbeat_key(&group.group_id, member_id));
    if let Some(m) = group.remove(member_id) {
        answer_removed_member(m, outbox);
    }
}

/// Answers whatever a removed member had parked.
fn answer_removed_member(mut m: Member, outbox: &mut Vec<Delivery>) {
    if let Some(tx) = m.awaiting_join.take() {
        outbox.push(Delivery::Join(
            tx,
            join_error("", ResponseError::UnknownMemberId.code()),
        ));
    }
    if let Some(tx) = m.awaiting_sync.take() {
        outbox.push(Delivery::Sync(
            tx,
            sync_error(ResponseError::UnknownMemberId.code()),
        ));
    }
}

/// Clears every assignment and answers parked SyncGroups with `code`. Returns the members
/// answered, with their session timeouts, for the caller to restart their sessions.
fn reset_and_propagate(
    group: &mut ClassicGroup,
    code: i16,
    outbox: &mut Vec<Delivery>,
) -> Vec<(String, i32)> {
    for id in group.member_ids() {
        if let Some(m) = group.member_mut(&id) {
            m.assignment = Bytes::new();
        }
    }
    propagate(group, code, outbox)
}

/// Answers every parked SyncGroup with the member's assignment (or `code`).
fn propagate(
    group: &mut ClassicGroup,
    code: i16,
    outbox: &mut Vec<Delivery>,
) -> Vec<(String, i32)> {
    let (protocol_type, protocol_name) = if code == NONE {
        (
            group.protocol_type().map(owned_str),
            group.protocol_name().map(owned_str),
        )
    } else {
        (None, None)
    };
    let mut answered = Vec::new();
    for id in group.member_ids() {
        let Some(m) = group.member_mut(&id) else {
            continue;
        };
        if let Some(tx) = m.awaiting_sync.take() {
            let response = SyncGroupResponse::default()
                .with_error_code(code)
                .with_protocol_type(protocol_type.clone())
                .with_protocol_name(protocol_name.clone())
                .with_assignment(m.assignment.clone());
            outbox.push(Delivery::Sync(tx, response));
            answered.push((id, m.session_timeout_ms));
        }
    }
    answered
}

/// A JoinGroup answer with the group's current generation.
fn generation_response(
    group: &ClassicGroup,
    member_id: &str,
    members: Vec<kafka_protocol::messages::join_group_response::JoinGroupResponseMember>,
    skip_assignment: bool,
) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(NONE)
        .with_generation_id(group.generation_id())
        .with_protocol_type(group.protocol_type().map(owned_str))
        .with_protocol_name(group.protocol_name().map(owned_str))
        .with_leader(owned_str(group.leader_id().unwrap_or("")))
        .with_skip_assignment(skip_assignment)
        .with_member_id(owned_str(member_id))
        .with_members(members)
}

/// A failed JoinGroup, as Kafka shapes it (generation -1, no protocol, no leader).
pub fn join_error(member_id: &str, code: i16) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(code)
        .with_generation_id(-1)
        .with_protocol_type(None)
        .with_protocol_name(None)
        .with_leader(owned_str(""))
        .with_member_id(owned_str(member_id))
}

pub fn sync_error(code: i16) -> SyncGroupResponse {
    SyncGroupResponse::default()
        .with_error_code(code)
        .with_protocol_type(None)
        .with_protocol_name(None)
        .with_assignment(Bytes::new())
}

/// A SyncGroup field that names a protocol type or name disagrees with the group's.
fn is_inconsistent(requested: Option<&str>, group: Option<&str>) -> bool {
    matches!((requested, group), (Some(r), Some(g)) if r != g)
}

mod offset_ops;
pub use offset_ops::GroupsSnapshot;

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
