//! A classic group and its members: the data, and the small rules that only look at one group
//! (protocol selection, leader election, member validation). The state machine that moves
//! groups between states lives in `coordinator.rs`.
//!
//! States, as Kafka names them:
//!
//! ```text
//!  Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//!    ▲                 ▲        │ (no members left)                  │ leader's SyncGroup
//!    └─────────────────┼────────┘                                    ▼ stored
//!                      └──────── member joins, leaves or expires ── Stable
//! ```
//!
//! `Dead` is what DescribeGroups reports for a group that does not exist; deleted groups are
//! simply removed.

use std::collections::{BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use indexmap::IndexMap;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use tokio::sync::oneshot;

use super::consumer_protocol;
use super::owned_str;
use super::records::{GroupMetadataValue, MemberMetadata};

/// Where a parked JoinGroup's response goes.
pub type JoinResponder = oneshot::Sender<JoinGroupResponse>;
/// Where a parked SyncGroup's response goes.
pub type SyncResponder = oneshot::Sender<SyncGroupResponse>;

/// The protocol type of Kafka consumers (as opposed to Connect workers, for example).
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// Kafka's name for the state (DescribeGroups, ListGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    fn valid_previous(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }
}

/// One protocol a member supports, with its metadata (opaque to the broker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub name: String,
    pub metadata: Bytes,
}

/// A group member.
#[derive(Debug)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// In the member's order of preference; names are unique.
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    /// Its JoinGroup, parked until the join phase completes.
    pub(crate) awaiting_join: Option<JoinResponder>,
    /// Its SyncGroup, parked until the leader's assignment is stored.
    pub(crate) awaiting_sync: Option<SyncResponder>,
    /// Joined during the current rebalance and has not been answered yet: its session is the
    /// new-member join timeout, and it may expire even while awaiting join.
    pub(crate) is_new: bool,
}

impl Member {
    pub fn is_awaiting_join(&self) -> bool {
        self.awaiting_join.is_some()
    }

    pub fn is_awaiting_sync(&self) -> bool {
        self.awaiting_sync.is_some()
    }

    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }

    /// The member's metadata for `protocol`, empty if it has none.
    pub fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|x| x.name == p))
            .map(|x| x.metadata.clone())
            .unwrap_or_default()
    }

    /// Whether a missed heartbeat deadline is excused: members parked in a rebalance cannot
    /// heartbeat, unless they are new (those are bounded by the new-member join timeout).
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.is_awaiting_join() || self.is_awaiting_sync())
    }

    fn vote(&self, candidates: &BTreeSet<&str>) -> Option<String> {
        self.protocols
            .iter()
            .find(|p| candidates.contains(p.name.as_str()))
            .map(|p| p.name.clone())
    }
}

/// A classic group.
#[derive(Debug)]
pub struct ClassicGroup {
    pub group_id: String,
    state: GroupState,
    previous_state: GroupState,
    current_state_timestamp_ms: Option<i64>,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    generation_id: i32,
    leader_id: Option<String>,
    /// Insertion order (a new leader is the oldest remaining member, deterministically).
    members: IndexMap<String, Member>,
    /// group.instance.id → member id.
    static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet.
    pending_join_members: HashSet<String>,
    num_awaiting_join: usize,
    /// Protocol name → how many members support it.
    supported_protocols: HashMap<String, usize>,
    /// Members sent a JoinGroup response that have not sent SyncGroup yet.
    pending_sync_members: HashSet<String>,
    /// Topics the members subscribe to (consumer protocol only); `None` if unknown.
    subscribed_topics: Option<BTreeSet<String>>,
    /// A member joined during the initial delay: extend the delay once more.
    pub(crate) new_member_added: bool,
}

impl ClassicGroup {
    pub fn new(group_id: String, now_ms: i64) -> ClassicGroup {
        ClassicGroup {
            group_id,
            state: GroupState::Empty,
            previous_state: GroupState::Empty,
            current_state_timestamp_ms: Some(now_ms),
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: IndexMap::new(),
            static_members: HashMap::new(),
            pending_join_members: HashSet::new(),
            num_awaiting_join: 0,
            supported_protocols: HashMap::new(),
            pending_sync_members: HashSet::new(),
            subscribed_topics: None,
            new_member_added: false,
        }
    }

    /// Rebuilds a group from its stored record (start-up): Stable with members, else Empty.
    pub fn from_record(group_id: String, value: GroupMetadataValue) -> ClassicGroup {
        let state = if value.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        let protocol_type = Some(value.protocol_type.clone()).filter(|t| !t.is_empty());
        let mut group = ClassicGroup {
            state,
            previous_state: state,
            current_state_timestamp_ms: Some(value.current_state_timestamp_ms).filter(|t| *t != -1),
            protocol_type: protocol_type.clone(),
            protocol_name: value.protocol.clone(),
            generation_id: value.generation,
            leader_id: value.leader.clone(),
            ..ClassicGroup::new(group_id, 0)
        };
        for m in value.members {
            let protocols = vec![Protocol {
                name: value.protocol.clone().unwrap_or_default(),
                metadata: m.subscription,
            }];
            let member = Member {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                rebalance_timeout_ms: if m.rebalance_timeout_ms == -1 {
                    m.session_timeout_ms
                } else {
                    m.rebalance_timeout_ms
                },
                session_timeout_ms: m.session_timeout_ms,
                protocol_type: value.protocol_type.clone(),
                protocols,
                assignment: m.assignment,
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
            };
            group.add(member);
        }
        if group
            .leader_id
            .as_ref()
            .is_some_and(|l| !group.members.contains_key(l))
        {
            group.leader_id = group.members.keys().next().cloned();
        }
        group.subscribed_topics = group.compute_subscribed_topics();
        group
    }

    /// The group as a GroupMetadataValue record, with `assignment` for each member.
    pub fn to_record(&self, assignment: &HashMap<String, Bytes>) -> GroupMetadataValue {
        let protocol = self.protocol_name.as_deref();
        GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp_ms: self.current_state_timestamp_ms.unwrap_or(-1),
            members: self
                .members
                .values()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: m.metadata(protocol),
                    assignment: assignment.get(&m.member_id).cloned().unwrap_or_default(),
                })
                .collect(),
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn previous_state(&self) -> GroupState {
        self.previous_state
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    pub fn leader_id(&self) -> Option<&str> {
        self.leader_id.as_deref()
    }

    pub fn current_state_timestamp_ms(&self) -> Option<i64> {
        self.current_state_timestamp_ms
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.members.contains_key(member_id)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    pub fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.get_mut(member_id)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    pub fn num_members(&self) -> usize {
        self.members.len()
    }

    pub fn num_awaiting_join(&self) -> usize {
        self.num_awaiting_join
    }

    pub fn num_pending_join_members(&self) -> usize {
        self.pending_join_members.len()
    }

    /// Adds a member; the first one becomes the leader and fixes the protocol type.
    pub fn add(&mut self, member: Member) {
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        self.increment_protocols(&member.protocols);
        if member.is_awaiting_join() {
            self.num_awaiting_join += 1;
        }
        self.pending_join_members.remove(&member.member_id);
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member (or a pending member); elects the oldest remaining member as leader if
    /// the leader left. Returns the member so its parked requests can be answered.
    pub fn remove(&mut self, member_id: &str) -> Option<Member> {
        let removed = self.members.shift_remove(member_id);
        if let Some(m) = &removed {
            self.decrement_protocols(&m.protocols);
            if m.is_awaiting_join() {
                self.num_awaiting_join -= 1;
            }
            if let Some(instance) = &m.group_instance_id {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        self.pending_join_members.remove(member_id);
        self.pending_sync_members.remove(member_id);
        removed
    }

    /// Keeps the current leader if it rejoined, else picks a member that did. False when no
    /// member rejoined (or there is no leader at all).
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader_id.clone() else {
            return false;
        };
        if self
            .members
            .get(&leader)
            .is_some_and(|m| m.is_awaiting_join())
        {
            return true;
        }
        match self.members.values().find(|m| m.is_awaiting_join()) {
            Some(m) => {
                self.leader_id = Some(m.member_id.clone());
                true
            }
            None => false,
        }
    }

    /// Gives a static member a new member id, keeping everything else. The old id's parked
    /// requests are returned so the caller can fence them.
    pub fn replace_static_member(
        &mut self,
        instance_id: &str,
        old_member_id: &str,
        new_member_id: &str,
    ) -> Option<(Option<JoinResponder>, Option<SyncResponder>)> {
        let index = self.members.get_index_of(old_member_id)?;
        let (_, mut member) = self.members.shift_remove_index(index)?;
        let join = member.awaiting_join.take();
        if join.is_some() {
            self.num_awaiting_join -= 1;
        }
        let sync = member.awaiting_sync.take();
        member.member_id = new_member_id.to_string();
        // Keep the member's position, so leadership order is unchanged.
        self.members
            .shift_insert(index, new_member_id.to_string(), member);
        if self.is_leader(old_member_id) {
            self.leader_id = Some(new_member_id.to_string());
        }
        self.static_members
            .insert(instance_id.to_string(), new_member_id.to_string());
        self.pending_sync_members.remove(old_member_id);
        Some((join, sync))
    }

    /// Replaces a member's protocols and timeouts and parks (or unparks) its JoinGroup.
    /// Returns a previously parked JoinGroup that this one replaces.
    pub fn update_member(
        &mut self,
        member_id: &str,
        protocols: Vec<Protocol>,
        rebalance_timeout_ms: i32,
        session_timeout_ms: i32,
        responder: Option<JoinResponder>,
    ) -> Option<JoinResponder> {
        let member = self.members.get_mut(member_id)?;
        let old_protocols = std::mem::replace(&mut member.protocols, protocols);
        member.rebalance_timeout_ms = rebalance_timeout_ms;
        member.session_timeout_ms = session_timeout_ms;
        let was_awaiting = member.awaiting_join.is_some();
        let previous = std::mem::replace(&mut member.awaiting_join, responder);
        let now_awaiting = member.awaiting_join.is_some();
        let new_protocols = member.protocols.clone();
        match (was_awaiting, now_awaiting) {
            (false, true) => self.num_awaiting_join += 1,
            (true, false) => self.num_awaiting_join -= 1,
            _ => {}
        }
        self.decrement_protocols(&old_protocols);
        self.increment_protocols(&new_protocols);
        previous
    }

    /// Takes a member's parked JoinGroup, keeping the awaiting count right.
    pub fn take_join_responder(&mut self, member_id: &str) -> Option<JoinResponder> {
        let r = self.members.get_mut(member_id)?.awaiting_join.take();
        if r.is_some() {
            self.num_awaiting_join -= 1;
        }
        r
    }

    pub fn take_sync_responder(&mut self, member_id: &str) -> Option<SyncResponder> {
        self.members.get_mut(member_id)?.awaiting_sync.take()
    }

    pub fn is_pending_member(&self, member_id: &str) -> bool {
        self.pending_join_members.contains(member_id)
    }

    pub fn add_pending_member(&mut self, member_id: String) {
        self.pending_join_members.insert(member_id);
    }

    pub fn add_pending_sync_member(&mut self, member_id: String) {
        self.pending_sync_members.insert(member_id);
    }

    pub fn remove_pending_sync_member(&mut self, member_id: &str) {
        self.pending_sync_members.remove(member_id);
    }

    pub fn has_received_sync_from_all_members(&self) -> bool {
        self.pending_sync_members.is_empty()
    }

    pub fn pending_sync_members(&self) -> Vec<String> {
        self.pending_sync_members.iter().cloned().collect()
    }

    pub fn clear_pending_sync_members(&mut self) {
        self.pending_sync_members.clear();
    }

    pub fn has_static_member(&self, instance_id: &str) -> bool {
        self.static_members.contains_key(instance_id)
    }

    pub fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.static_members.get(instance_id).map(String::as_str)
    }

    /// Dynamic members that have not rejoined during the join phase.
    pub fn not_yet_rejoined_dynamic_members(&self) -> Vec<String> {
        self.members
            .values()
            .filter(|m| !m.is_awaiting_join() && !m.is_static())
            .map(|m| m.member_id.clone())
            .collect()
    }

    pub fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join && self.pending_join_members.is_empty()
    }

    /// The group's rebalance timeout: the largest of its members'.
    pub fn rebalance_timeout_ms(&self) -> i32 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Kafka's member check for heartbeat, sync, commit and leave: a given instance id must map
    /// to this member id (else UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID), and the member must
    /// exist.
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), i16> {
        if let Some(instance) = instance_id {
            match self.static_member_id(instance) {
                None => return Err(ResponseError::UnknownMemberId.code()),
                Some(existing) if existing != member_id => {
                    return Err(ResponseError::FencedInstanceId.code());
                }
                Some(_) => {}
            }
        }
        if !self.has_member(member_id) {
            return Err(ResponseError::UnknownMemberId.code());
        }
        Ok(())
    }

    /// A rebalance can start from Empty, Stable and CompletingRebalance.
    pub fn can_rebalance(&self) -> bool {
        GroupState::PreparingRebalance
            .valid_previous()
            .contains(&self.state)
    }

    pub fn transition_to(&mut self, target: GroupState, now_ms: i64) {
        if !target.valid_previous().contains(&self.state) {
            // A bug, not a client error: log it rather than take the coordinator down.
            tracing::error!(
                group = %self.group_id,
                "invalid group state transition {:?} -> {:?}",
                self.state,
                target
            );
        }
        self.previous_state = self.state;
        self.state = target;
        self.current_state_timestamp_ms = Some(now_ms);
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> BTreeSet<&str> {
        let n = self.members.len();
        self.supported_protocols
            .iter()
            .filter(|(_, count)| **count == n)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Every member votes for its most preferred candidate; most votes wins (ties go to the
    /// protocol the earliest member preferred).
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: IndexMap<String, usize> = IndexMap::new();
        for m in self.members.values() {
            if let Some(p) = m.vote(&candidates) {
                *votes.entry(p).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, count)| *count == best)
            .map(|(name, _)| name)
    }

    /// Whether a member with this protocol type and these protocols can join: anything
    /// non-empty joins an empty group; otherwise the type must match and one protocol must be
    /// supported by every current member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[Protocol]) -> bool {
        if self.is(GroupState::Empty) {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        let n = self.members.len();
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| self.supported_protocols.get(&p.name).copied().unwrap_or(0) == n)
    }

    /// Starts the next generation: CompletingRebalance with a selected protocol, or Empty.
    pub fn init_next_generation(&mut self, now_ms: i64) {
        self.generation_id = self.generation_id.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition_to(GroupState::Empty, now_ms);
        } else {
            self.protocol_name = self.select_protocol();
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition_to(GroupState::CompletingRebalance, now_ms);
        }
        self.pending_sync_members.clear();
    }

    /// The members as the leader's JoinGroup response lists them.
    pub fn join_response_members(&self) -> Vec<JoinGroupResponseMember> {
        let protocol = self.protocol_name.as_deref();
        self.members
            .values()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(owned_str(&m.member_id))
                    .with_group_instance_id(m.group_instance_id.as_deref().map(owned_str))
                    .with_metadata(m.metadata(protocol))
            })
            .collect()
    }

    /// Every member's current assignment.
    pub fn assignments(&self) -> HashMap<String, Bytes> {
        self.members
            .values()
            .map(|m| (m.member_id.clone(), m.assignment.clone()))
            .collect()
    }

    pub fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
    }

    /// Kafka's rule: known subscriptions decide; unknown ones count as subscribed for consumer
    /// groups (so their offsets are kept) and not subscribed otherwise.
    pub fn is_subscribed_to_topic(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => self.uses_consumer_protocol(),
        }
    }

    pub fn subscribed_topics(&self) -> Option<&BTreeSet<String>> {
        self.subscribed_topics.as_ref()
    }

    fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if !self.uses_consumer_protocol() {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let metadata: Vec<Bytes> = self
            .members
            .values()
            .map(|m| m.metadata(Some(protocol)))
            .collect();
        consumer_protocol::union_of(metadata.iter().map(|b| b.as_ref()))
    }

    fn increment_protocols(&mut self, protocols: &[Protocol]) {
        for p in protocols {
            *self.supported_protocols.entry(p.name.clone()).or_default() += 1;
        }
    }

    fn decrement_protocols(&mut self, protocols: &[Protocol]) {
        for p in protocols {
            if let Some(count) = self.supported_protocols.get_mut(&p.name) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.supported_protocols.remove(&p.name);
                }
            }
        }
    }
}
