//! The coordinator driven by a fake clock and an in-memory log: every path through the classic
//! protocol that Kafka defines an error for, rebalances, timers, durability by replay.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use tokio::sync::oneshot;

use super::*;
use crate::config::GroupConfig;
use crate::coordinator::group::classic::{GroupState, Protocol};
use crate::coordinator::group::records::CoordinatorRecord;
use crate::log::error::NONE;

const T0: i64 = 1_700_000_000_000;
const SESSION: i32 = 10_000;
const REBALANCE: i32 = 30_000;

/// The coordinator plus what the driver does: an append log, a clock, delivery of responses.
struct Harness {
    c: GroupCoordinator,
    config: GroupConfig,
    now: i64,
    log: Vec<CoordinatorRecord>,
    /// When set, appends fail with this log error code.
    fail_appends: Option<i16>,
    /// Errors that completed appends reported, in order.
    append_errors: Vec<i16>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(GroupConfig::default())
    }

    fn with(config: GroupConfig) -> Harness {
        Harness {
            c: GroupCoordinator::new(config.clone(), T0).with_counter_ids(),
            config,
            now: T0,
            log: Vec::new(),
            fail_appends: None,
            append_errors: Vec::new(),
        }
    }

    /// Appends, completes (recursively), fires due timers, sends responses. Returns the first
    /// client-visible append error.
    fn run(&mut self, appends: Vec<Append>) -> Option<i16> {
        let mut first_error = None;
        let mut pending = appends;
        loop {
            while !pending.is_empty() {
                let mut next = Vec::new();
                for a in pending {
                    let result = match self.fail_appends {
                        Some(code) => Err(code),
                        None => {
                            self.log.extend(a.records.iter().cloned());
                            Ok(())
                        }
                    };
                    let (r, more) = self.c.complete_append(a, result, self.now);
                    if let Err(code) = r {
                        self.append_errors.push(code);
                        first_error.get_or_insert(code);
                    }
                    next.extend(more);
                }
                pending = next;
            }
            pending = self.c.fire_timers(self.now);
            if pending.is_empty() {
                break;
            }
        }
        for d in self.c.take_deliveries() {
            d.send();
        }
        first_error
    }

    fn advance_to(&mut self, t: i64) {
        self.now = t;
        self.run(Vec::new());
    }

    fn advance(&mut self, ms: i64) {
        self.advance_to(self.now + ms);
    }

    fn join(&mut self, req: JoinRequest) -> oneshot::Receiver<JoinGroupResponse> {
        let (tx, rx) = oneshot::channel();
        let appends = self.c.join_group(req, tx, self.now);
        self.run(appends);
        rx
    }

    /// Joins with the two-step v4+ handshake and waits for nothing: returns the parked receiver.
    fn join_new(
        &mut self,
        group: &str,
        client: &str,
    ) -> (String, oneshot::Receiver<JoinGroupResponse>) {
        let first = answer(self.join(join_req(group, "", client)));
        assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
        let id = first.member_id.to_string();
        assert!(id.starts_with(&format!("{client}-")), "member id {id}");
        let rx = self.join(join_req(group, &id, client));
        (id, rx)
    }

    fn sync(&mut self, req: SyncRequest) -> oneshot::Receiver<SyncGroupResponse> {
        let (tx, rx) = oneshot::channel();
        let appends = self.c.sync_group(req, tx, self.now);
        self.run(appends);
        rx
    }

    fn heartbeat(&mut self, group: &str, member: &str, generation: i32) -> i16 {
        let code = self.c.heartbeat(
            HeartbeatRequest {
                group_id: group.into(),
                generation_id: generation,
                member_id: member.into(),
                group_instance_id: None,
            },
            self.now,
        );
        self.run(Vec::new());
        code
    }

    fn leave(&mut self, group: &str, members: &[(&str, Option<&str>)]) -> Vec<i16> {
        let members = members
            .iter()
            .map(|(m, i)| LeavingMember {
                member_id: m.to_string(),
                group_instance_id: i.map(str::to_string),
            })
            .collect();
        let outcome = self.c.leave_group(group, members, self.now);
        self.run(outcome.appends);
        outcome.response.into_iter().map(|r| r.error_code).collect()
    }

    fn commit(&mut self, req: CommitRequest) -> PartitionErrors {
        let Outcome {
            mut response,
            appends,
        } = self.c.commit_offsets(req, self.now);
        if let Some(code) = self.run(appends) {
            response.append_failed(code);
        }
        response
    }

    fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<OffsetCommitValue> {
        self.c
            .fetch_offsets(group, Some(vec![(topic.into(), vec![partition])]))
            .pop()
            .and_then(|(_, mut ps)| ps.pop())
            .and_then(|(_, v)| v)
    }

    fn state(&self, group: &str) -> Option<GroupState> {
        self.c.group(group).map(|g| g.state())
    }

    fn generation(&self, group: &str) -> i32 {
        self.c.group(group).map(|g| g.generation_id()).unwrap_or(-1)
    }

    /// A new coordinator that loads everything this one appended (a broker restart).
    fn restart(&self) -> Harness {
        let mut c = GroupCoordinator::new(self.config.clone(), self.now).with_counter_ids();
        for r in &self.log {
            c.replay(r.clone(), self.now);
        }
        c.on_loaded(self.now);
        Harness {
            c,
            config: self.config.clone(),
            now: self.now,
            log: self.log.clone(),
            fail_appends: None,
            append_errors: Vec::new(),
        }
    }

    /// Brings a group of `clients` to Stable, the leader assigning `assignment-<i>` to the i-th
    /// member; returns member ids in join order.
    fn stable_group(&mut self, group: &str, clients: &[&str]) -> Vec<String> {
        let ids: Vec<String> = clients
            .iter()
            .map(|c| {
                answer(self.join(join_req(group, "", c)))
                    .member_id
                    .to_string()
            })
            .collect();
        let mut pending: Vec<_> = clients
            .iter()
            .zip(&ids)
            .map(|(c, id)| self.join(join_req(group, id, c)))
            .collect();
        if clients.len() > 1 {
            // The first rejoin completed a generation alone (no initial delay); the later ones
            // started another rebalance that waits for the first member to rejoin.
            let first = answer(std::mem::replace(
                &mut pending[0],
                self.join(join_req(group, &ids[0], clients[0])),
            ));
            assert_eq!(first.generation_id, 1);
        }
        let responses: Vec<JoinGroupResponse> = pending.into_iter().map(answer).collect();
        let generation = self.generation(group);
        assert!(
            responses
                .iter()
                .all(|r| r.error_code == NONE && r.generation_id == generation)
        );
        assert_eq!(responses[0].leader.as_str(), ids[0]);
        assert_eq!(responses[0].members.len(), clients.len());
        let assignments: Vec<(String, Bytes)> = ids
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), Bytes::from(format!("assignment-{i}"))))
            .collect();
        let mut syncs = Vec::new();
        for (i, id) in ids.iter().enumerate().rev() {
            let a = if i == 0 {
                assignments.clone()
            } else {
                Vec::new()
            };
            syncs.push((i, self.sync(sync_req(group, id, generation, a))));
        }
        for (i, rx) in syncs {
            let r = answer_sync(rx);
            assert_eq!(r.error_code, NONE);
            assert_eq!(r.assignment, Bytes::from(format!("assignment-{i}")));
        }
        assert_eq!(self.state(group), Some(GroupState::Stable));
        ids
    }
}

fn protocols(names: &[&str]) -> Vec<Protocol> {
    names
        .iter()
        .map(|n| Protocol {
            name: n.to_string(),
            metadata: subscription(&["t"]),
        })
        .collect()
}

/// A consumer subscription (v0 layout) to `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = vec![0u8, 0];
    b.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        b.extend_from_slice(&(t.len() as i16).to_be_bytes());
        b.extend_from_slice(t.as_bytes());
    }
    b.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(b)
}

fn join_req(group: &str, member: &str, client: &str) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: None,
        session_timeout_ms: SESSION,
        rebalance_timeout_ms: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols(&["range"]),
        client_id: client.into(),
        client_host: "/127.0.0.1".into(),
        require_known_member_id: true,
        supports_skip_assignment: true,
    }
}

fn static_req(group: &str, member: &str, instance: &str) -> JoinRequest {
    JoinRequest {
        group_instance_id: Some(instance.into()),
        ..join_req(group, member, "static-client")
    }
}

fn sync_req(
    group: &str,
    member: &str,
    generation: i32,
    assignments: Vec<(String, Bytes)>,
) -> SyncRequest {
    SyncRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments,
    }
}

fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    offsets: &[(i32, i64, &str)],
) -> CommitRequest {
    CommitRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        retention_time_ms: -1,
        topics: vec![(
            topic.into(),
            offsets
                .iter()
                .map(|(p, o, m)| CommitPartition {
                    partition: *p,
                    offset: *o,
                    leader_epoch: 7,
                    metadata: Some(m.to_string()),
                })
                .collect(),
        )],
        version: 8,
    }
}

fn try_answer<T>(mut rx: oneshot::Receiver<T>) -> Option<T> {
    rx.try_recv().ok()
}

fn answer(rx: oneshot::Receiver<JoinGroupResponse>) -> JoinGroupResponse {
    try_answer(rx).expect("JoinGroup answered")
}

fn answer_sync(rx: oneshot::Receiver<SyncGroupResponse>) -> SyncGroupResponse {
    try_answer(rx).expect("SyncGroup answered")
}

fn codes(r: &PartitionErrors) -> Vec<i16> {
    r.iter()
        .flat_map(|(_, ps)| ps.iter().map(|(_, e)| *e))
        .collect()
}

// ----- joining --------------------------------------------------------------------------------

#[test]
fn first_join_needs_a_member_id_then_completes_at_once() {
    let mut h = Harness::new();
    let (id, rx) = h.join_new("g", "c1");
    let r = answer(rx);
    assert_eq!(r.error_code, NONE);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.member_id.as_str(), id);
    assert_eq!(r.leader.as_str(), id);
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(r.members.len(), 1, "the leader gets the member list");
    assert_eq!(r.members[0].metadata, subscription(&["t"]));
    assert_eq!(h.state("g"), Some(GroupState::CompletingRebalance));
    // No record yet: the group is written when the leader's assignment is stored.
    assert!(h.log.is_empty());
}

#[test]
fn old_clients_join_without_the_member_id_round_trip() {
    let mut h = Harness::new();
    let mut req = join_req("g", "", "old");
    req.require_known_member_id = false;
    let r = answer(h.join(req));
    assert_eq!(r.error_code, NONE);
    assert_eq!(r.generation_id, 1);
    assert!(r.member_id.starts_with("old-"));
}

#[test]
fn join_rejects_bad_group_ids_session_timeouts_and_protocols() {
    let mut h = Harness::new();
    assert_eq!(
        answer(h.join(join_req("", "", "c"))).error_code,
        ResponseError::InvalidGroupId.code()
    );
    let mut r = join_req("g", "", "c");
    r.session_timeout_ms = 5999;
    assert_eq!(
        answer(h.join(r)).error_code,
        ResponseError::InvalidSessionTimeout.code()
    );
    let mut r = join_req("g", "", "c");
    r.session_timeout_ms = 1_800_001;
    assert_eq!(
        answer(h.join(r)).error_code,
        ResponseError::InvalidSessionTimeout.code()
    );
    // A member id for a group that does not exist.
    assert_eq!(
        answer(h.join(join_req("nope", "m-1", "c"))).error_code,
        ResponseError::UnknownMemberId.code()
    );
    // Empty protocol type or no protocols cannot start a group.
    let mut r = join_req("g", "", "c");
    r.protocol_type = String::new();
    assert_eq!(
        answer(h.join(r)).error_code,
        ResponseError::InconsistentGroupProtocol.code()
    );

    let (_, rx) = h.join_new("g", "c1");
    assert_eq!(answer(rx).error_code, NONE);
    // Another protocol type, or no protocol in common.
    let mut r = join_req("g", "", "c2");
    r.protocol_type = "connect".into();
    assert_eq!(
        answer(h.join(r)).error_code,
        ResponseError::InconsistentGroupProtocol.code()
    );
    let mut r = join_req("g", "", "c2");
    r.protocols = protocols(&["roundrobin"]);
    assert_eq!(
        answer(h.join(r)).error_code,
        ResponseError::InconsistentGroupProtocol.code()
    );
    // A member id the group never handed out.
    assert_eq!(
        answer(h.join(join_req("g", "stranger", "c"))).error_code,
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn protocol_is_chosen_by_vote_among_common_protocols() {
    let mut h = Harness::new();
    let mut a = join_req("g", "", "a");
    a.protocols = protocols(&["cooperative-sticky", "range"]);
    a.require_known_member_id = false;
    let ra = answer(h.join(a.clone()));
    assert_eq!(ra.protocol_name.as_deref(), Some("cooperative-sticky"));
    let mut b = join_req("g", "", "b");
    b.protocols = protocols(&["range", "roundrobin"]);
    b.require_known_member_id = false;
    let rb = h.join(b);
    a.member_id = ra.member_id.to_string();
    let ra2 = answer(h.join(a));
    let rb = answer(rb);
    // Only "range" is supported by both.
    assert_eq!(ra2.protocol_name.as_deref(), Some("range"));
    assert_eq!(rb.generation_id, 2);
}

#[test]
fn a_second_member_triggers_a_rebalance_and_both_get_assignments() {
    let mut h = Harness::new();
    let (m1, rx1) = h.join_new("g", "c1");
    assert_eq!(answer(rx1).generation_id, 1);
    // m2 joins while generation 1 awaits its SyncGroup.
    let (m2, mut rx2) = h.join_new("g", "c2");
    assert!(rx2.try_recv().is_err(), "parked until the leader rejoins");
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    // The leader's sync for generation 1 is too late.
    let s = answer_sync(h.sync(sync_req("g", &m1, 1, vec![])));
    assert_eq!(s.error_code, ResponseError::RebalanceInProgress.code());
    assert_eq!(
        h.heartbeat("g", &m1, 1),
        ResponseError::RebalanceInProgress.code()
    );
    let rx1 = h.join(join_req("g", &m1, "c1"));
    let r1 = answer(rx1);
    assert_eq!(r1.generation_id, 2);
    assert_eq!(r1.leader.as_str(), m1, "the leader stays leader");
    assert_eq!(r1.members.len(), 2);
    // m2's parked join was answered by the same completion.
    let r2 = answer(rx2);
    assert_eq!(r2.generation_id, 2);
    assert!(r2.members.is_empty(), "followers get no member list");

    // Follower syncs first and waits for the leader.
    let s2 = h.sync(sync_req("g", &m2, 2, vec![]));
    let s1 = h.sync(sync_req(
        "g",
        &m1,
        2,
        vec![
            (m1.clone(), Bytes::from_static(b"p0,p1")),
            (m2.clone(), Bytes::from_static(b"p2")),
            ("ghost".into(), Bytes::from_static(b"x")),
        ],
    ));
    assert_eq!(answer_sync(s1).assignment, Bytes::from_static(b"p0,p1"));
    let s2 = answer_sync(s2);
    assert_eq!(s2.assignment, Bytes::from_static(b"p2"));
    assert_eq!(s2.protocol_name.as_deref(), Some("range"));
    assert_eq!(h.state("g"), Some(GroupState::Stable));
    assert_eq!(h.heartbeat("g", &m2, 2), NONE);
    // The stored record holds both members and their assignments, not the ghost.
    match h.log.last() {
        Some(CoordinatorRecord::GroupMetadata { value: Some(v), .. }) => {
            assert_eq!(v.generation, 2);
            assert_eq!(v.leader.as_deref(), Some(m1.as_str()));
            assert_eq!(v.members.len(), 2);
            assert_eq!(v.members[1].assignment, Bytes::from_static(b"p2"));
            assert_eq!(v.members[0].client_host, "/127.0.0.1");
        }
        other => panic!("expected group metadata, got {other:?}"),
    }
    // A Stable follower's repeated SyncGroup gets its assignment again.
    assert_eq!(
        answer_sync(h.sync(sync_req("g", &m2, 2, vec![]))).assignment,
        Bytes::from_static(b"p2")
    );
}

#[test]
fn stable_members_rejoining_unchanged_do_not_rebalance_but_the_leader_does() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    let generation = h.generation("g");
    let follower = ids
        .iter()
        .find(|id| !h.c.group("g").unwrap().is_leader(id))
        .unwrap()
        .clone();
    let leader = h.c.group("g").unwrap().leader_id().unwrap().to_string();
    let client = if follower.starts_with("a-") { "a" } else { "b" };
    let r = answer(h.join(join_req("g", &follower, client)));
    assert_eq!(r.generation_id, generation);
    assert_eq!(h.state("g"), Some(GroupState::Stable));
    let lc = if leader.starts_with("a-") { "a" } else { "b" };
    let _parked = h.join(join_req("g", &leader, lc));
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
}

#[test]
fn sync_group_errors_are_kafkas() {
    let mut h = Harness::new();
    assert_eq!(
        answer_sync(h.sync(sync_req("nope", "m", 1, vec![]))).error_code,
        ResponseError::UnknownMemberId.code()
    );
    assert_eq!(
        answer_sync(h.sync(sync_req("", "m", 1, vec![]))).error_code,
        ResponseError::InvalidGroupId.code()
    );
    let (m1, rx) = h.join_new("g", "c1");
    answer(rx);
    assert_eq!(
        answer_sync(h.sync(sync_req("g", "other", 1, vec![]))).error_code,
        ResponseError::UnknownMemberId.code()
    );
    assert_eq!(
        answer_sync(h.sync(sync_req("g", &m1, 7, vec![]))).error_code,
        ResponseError::IllegalGeneration.code()
    );
    let mut wrong = sync_req("g", &m1, 1, vec![]);
    wrong.protocol_name = Some("roundrobin".into());
    assert_eq!(
        answer_sync(h.sync(wrong)).error_code,
        ResponseError::InconsistentGroupProtocol.code()
    );
    let mut wrong = sync_req("g", &m1, 1, vec![]);
    wrong.protocol_type = Some("connect".into());
    assert_eq!(
        answer_sync(h.sync(wrong)).error_code,
        ResponseError::InconsistentGroupProtocol.code()
    );
    let mut instance = sync_req("g", &m1, 1, vec![]);
    instance.group_instance_id = Some("i".into());
    assert_eq!(
        answer_sync(h.sync(instance)).error_code,
        ResponseError::UnknownMemberId.code()
    );
    // A failed store makes the members rejoin (ResponseError::NotCoordinator.code() for a storage error).
    h.fail_appends = Some(ResponseError::KafkaStorageError.code());
    let s = answer_sync(h.sync(sync_req(
        "g",
        &m1,
        1,
        vec![(m1.clone(), Bytes::from_static(b"a"))],
    )));
    assert_eq!(s.error_code, ResponseError::NotCoordinator.code());
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
}

#[test]
fn heartbeat_errors_are_kafkas() {
    let mut h = Harness::new();
    assert_eq!(
        h.heartbeat("nope", "m", 1),
        ResponseError::UnknownMemberId.code()
    );
    assert_eq!(
        h.heartbeat("", "m", 1),
        ResponseError::InvalidGroupId.code()
    );
    let ids = h.stable_group("g", &["a"]);
    assert_eq!(
        h.heartbeat("g", "x", 1),
        ResponseError::UnknownMemberId.code()
    );
    assert_eq!(
        h.heartbeat("g", &ids[0], 9),
        ResponseError::IllegalGeneration.code()
    );
    assert_eq!(h.heartbeat("g", &ids[0], 1), NONE);
    let code = h.c.heartbeat(
        HeartbeatRequest {
            group_id: "g".into(),
            generation_id: 1,
            member_id: ids[0].clone(),
            group_instance_id: Some("not-mine".into()),
        },
        h.now,
    );
    assert_eq!(code, ResponseError::UnknownMemberId.code());
}

// ----- sessions and timeouts ------------------------------------------------------------------

#[test]
fn a_silent_member_expires_exactly_at_its_session_timeout() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    let generation = h.generation("g");
    let start = h.now;
    // b keeps heartbeating, a falls silent.
    h.advance(SESSION as i64 - 1000);
    assert_eq!(h.heartbeat("g", &ids[1], generation), NONE);
    assert_eq!(
        h.c.next_deadline(),
        Some(start + SESSION as i64),
        "a's deadline, no tick"
    );
    h.advance_to(start + SESSION as i64 - 1);
    assert!(h.c.group("g").unwrap().has_member(&ids[0]));
    h.advance_to(start + SESSION as i64);
    assert!(
        !h.c.group("g").unwrap().has_member(&ids[0]),
        "expired at the deadline"
    );
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        h.heartbeat("g", &ids[1], generation),
        ResponseError::RebalanceInProgress.code()
    );
    let r = answer(h.join(join_req("g", &ids[1], "b")));
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.leader.as_str(), ids[1], "the survivor leads");
    assert_eq!(r.members.len(), 1);
}

#[test]
fn members_that_do_not_rejoin_in_the_rebalance_timeout_are_dropped() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    let generation = h.generation("g");
    let start = h.now;
    // b rejoins (leader-triggered or metadata change): a must rejoin within the rebalance
    // timeout; a keeps heartbeating (ResponseError::RebalanceInProgress.code()) but never rejoins.
    let mut b = join_req("g", &ids[1], "b");
    b.protocols = vec![Protocol {
        name: "range".into(),
        metadata: subscription(&["t", "u"]),
    }];
    let mut rx = h.join(b);
    for step in 1..=((REBALANCE / 5000) as i64) {
        h.advance_to(start + step * 5000 - 1);
        assert_eq!(
            h.heartbeat("g", &ids[0], generation),
            ResponseError::RebalanceInProgress.code()
        );
    }
    assert!(rx.try_recv().is_err(), "still waiting for a");
    h.advance_to(start + REBALANCE as i64);
    let r = answer(rx);
    assert_eq!(r.generation_id, generation + 1);
    assert_eq!(r.members.len(), 1);
    assert!(!h.c.group("g").unwrap().has_member(&ids[0]));
    assert_eq!(
        h.heartbeat("g", &ids[0], generation),
        ResponseError::UnknownMemberId.code()
    );
}

#[test]
fn members_that_never_sync_are_dropped_after_the_rebalance_timeout() {
    let mut h = Harness::new();
    let (m1, rx1) = h.join_new("g", "a");
    answer(rx1);
    let (m2, rx2) = h.join_new("g", "b");
    let rx1 = h.join(join_req("g", &m1, "a"));
    answer(rx1);
    answer(rx2);
    let start = h.now;
    // Only the leader syncs; b keeps heartbeating (which is fine in CompletingRebalance/Stable)
    // but never sends SyncGroup.
    answer_sync(h.sync(sync_req(
        "g",
        &m1,
        2,
        vec![(m1.clone(), Bytes::from_static(b"x"))],
    )));
    assert_eq!(h.state("g"), Some(GroupState::Stable));
    let mut t = start;
    while t + 5000 < start + REBALANCE as i64 {
        t += 5000;
        h.advance_to(t);
        assert_eq!(h.heartbeat("g", &m1, 2), NONE);
        assert_eq!(h.heartbeat("g", &m2, 2), NONE);
    }
    h.advance_to(start + REBALANCE as i64 - 1);
    assert!(h.c.group("g").unwrap().has_member(&m2));
    h.advance_to(start + REBALANCE as i64);
    assert!(!h.c.group("g").unwrap().has_member(&m2));
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
}

#[test]
fn pending_members_expire_and_stop_blocking_the_join() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a"]);
    let start = h.now;
    // Someone gets a member id and never comes back.
    let r = answer(h.join(join_req("g", "", "ghost")));
    assert_eq!(r.error_code, ResponseError::MemberIdRequired.code());
    // The leader rejoins: the phase cannot complete while the pending member may still come.
    let rx = h.join(join_req("g", &ids[0], "a"));
    h.advance_to(start + SESSION as i64 - 1);
    assert_eq!(
        h.heartbeat("g", &ids[0], 1),
        ResponseError::RebalanceInProgress.code()
    );
    h.advance_to(start + SESSION as i64);
    let r = answer(rx);
    assert_eq!(r.generation_id, 2);
    assert_eq!(r.members.len(), 1);
    assert_eq!(h.c.group("g").unwrap().num_pending_join_members(), 0);
}

#[test]
fn initial_rebalance_delay_waits_for_more_members() {
    let config = GroupConfig {
        initial_rebalance_delay_ms: 3000,
        ..GroupConfig::default()
    };
    let mut h = Harness::with(config);
    let (a, rx_a) = h.join_new("g", "a");
    h.advance(1000);
    let (b, rx_b) = h.join_new("g", "b");
    h.advance(1999); // 2999 ms after a joined
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    h.advance(1); // the first delay ends, but b joined during it: wait once more
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    h.advance(2999);
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    h.advance(1);
    let ra = answer(rx_a);
    let rb = answer(rx_b);
    assert_eq!((ra.generation_id, rb.generation_id), (1, 1));
    assert_eq!(ra.members.len(), 2);
    assert_eq!(ra.leader.as_str(), a);
    assert_ne!(a, b);
}

#[test]
fn a_new_member_that_never_gets_its_answer_is_dropped_after_the_join_timeout() {
    let mut h = Harness::new();
    // a's rebalance timeout (Java's max.poll.interval.ms can be long) outlasts Kafka's fixed
    // five-minute bound on how long a new member may sit in a rebalance.
    let a_id = answer(h.join(join_req("g", "", "a"))).member_id.to_string();
    let mut a = join_req("g", &a_id, "a");
    a.rebalance_timeout_ms = 600_000;
    answer(h.join(a));
    answer_sync(h.sync(sync_req("g", &a_id, 1, vec![])));
    let (_b, rx_b) = h.join_new("g", "b");
    let start = h.now;
    let five_minutes = i64::from(h.config.new_member_join_timeout_ms);
    // a keeps heartbeating and never rejoins.
    let mut t = start;
    while t + 3000 < start + five_minutes {
        t += 3000;
        h.advance_to(t);
        assert_eq!(
            h.heartbeat("g", &a_id, 1),
            ResponseError::RebalanceInProgress.code()
        );
    }
    h.advance_to(start + five_minutes - 1);
    assert_eq!(h.c.group("g").unwrap().num_members(), 2);
    h.advance_to(start + five_minutes);
    let r = answer(rx_b);
    assert_eq!(r.error_code, ResponseError::UnknownMemberId.code());
    assert_eq!(h.c.group("g").unwrap().num_members(), 1);
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
}

// ----- leaving --------------------------------------------------------------------------------

#[test]
fn leave_group_in_batches_and_the_group_empties() {
    let mut h = Harness::new();
    assert_eq!(
        h.leave("nope", &[("m", None)]),
        vec![ResponseError::UnknownMemberId.code()]
    );
    let ids = h.stable_group("g", &["a", "b"]);
    let errors = h.leave(
        "g",
        &[(&ids[0], None), ("unknown", None), ("", Some("no-such"))],
    );
    assert_eq!(
        errors,
        vec![
            NONE,
            ResponseError::UnknownMemberId.code(),
            ResponseError::UnknownMemberId.code()
        ]
    );
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    let before = h.generation("g");
    let r = answer(h.join(join_req("g", &ids[1], "b")));
    assert_eq!(r.generation_id, before + 1);
    assert_eq!(h.leave("g", &[(&ids[1], None)]), vec![NONE]);
    // Leaving in CompletingRebalance rebalances; the last member gone makes it Empty.
    assert_eq!(h.state("g"), Some(GroupState::Empty));
    assert_eq!(h.generation("g"), before + 2);
    match h.log.last() {
        Some(CoordinatorRecord::GroupMetadata { value: Some(v), .. }) => {
            assert_eq!(v.generation, before + 2);
            assert!(v.members.is_empty());
            assert_eq!(v.protocol, None);
        }
        other => panic!("expected the empty group record, got {other:?}"),
    }
}

#[test]
fn a_parked_join_is_answered_when_its_member_is_removed() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    // The leader rejoins: its JoinGroup waits for b.
    let mut rx = h.join(join_req("g", &ids[0], "a"));
    assert!(rx.try_recv().is_err());
    // a is removed (by instance id from an admin, or its own LeaveGroup on another
    // connection) while its JoinGroup is parked.
    assert_eq!(h.leave("g", &[(&ids[0], None)]), vec![NONE]);
    assert_eq!(answer(rx).error_code, ResponseError::UnknownMemberId.code());
}

// ----- static membership ----------------------------------------------------------------------

#[test]
fn a_restarted_static_member_keeps_its_assignment_without_a_rebalance() {
    let mut h = Harness::new();
    let r = answer(h.join(static_req("g", "", "instance-1")));
    let old = r.member_id.to_string();
    assert!(old.starts_with("instance-1-"), "{old}");
    assert_eq!(r.generation_id, 1);
    let s = answer_sync(h.sync(SyncRequest {
        group_instance_id: Some("instance-1".into()),
        ..sync_req(
            "g",
            &old,
            1,
            vec![(old.clone(), Bytes::from_static(b"mine"))],
        )
    }));
    assert_eq!(s.assignment, Bytes::from_static(b"mine"));
    let records_before = h.log.len();

    // The process restarts: it joins again with no member id.
    let r = answer(h.join(static_req("g", "", "instance-1")));
    assert_eq!(r.error_code, NONE);
    let new = r.member_id.to_string();
    assert_ne!(new, old);
    assert_eq!(r.generation_id, 1, "no rebalance");
    assert!(
        r.skip_assignment,
        "the static leader keeps the stored assignment (v9)"
    );
    assert_eq!(h.state("g"), Some(GroupState::Stable));
    assert_eq!(
        h.log.len(),
        records_before + 1,
        "the new member id is stored"
    );
    let s = answer_sync(h.sync(SyncRequest {
        group_instance_id: Some("instance-1".into()),
        ..sync_req("g", &new, 1, vec![])
    }));
    assert_eq!(s.assignment, Bytes::from_static(b"mine"));
    // The old incarnation is fenced.
    let code = h.c.heartbeat(
        HeartbeatRequest {
            group_id: "g".into(),
            generation_id: 1,
            member_id: old.clone(),
            group_instance_id: Some("instance-1".into()),
        },
        h.now,
    );
    assert_eq!(code, ResponseError::FencedInstanceId.code());
    let r = answer(h.join(static_req("g", &old, "instance-1")));
    assert_eq!(r.error_code, ResponseError::FencedInstanceId.code());
}

#[test]
fn pre_v9_static_leaders_are_told_the_old_leader_so_they_follow() {
    let mut h = Harness::new();
    let r = answer(h.join(static_req("g", "", "i")));
    let old = r.member_id.to_string();
    answer_sync(h.sync(sync_req(
        "g",
        &old,
        1,
        vec![(old.clone(), Bytes::from_static(b"a"))],
    )));
    let mut again = static_req("g", "", "i");
    again.supports_skip_assignment = false;
    let r = answer(h.join(again));
    assert!(!r.skip_assignment);
    assert_eq!(r.leader.as_str(), old);
    assert!(r.members.is_empty());
}

#[test]
fn a_static_replacement_that_cannot_be_stored_is_undone() {
    let mut h = Harness::new();
    let r = answer(h.join(static_req("g", "", "i")));
    let old = r.member_id.to_string();
    answer_sync(h.sync(sync_req(
        "g",
        &old,
        1,
        vec![(old.clone(), Bytes::from_static(b"a"))],
    )));
    h.fail_appends = Some(ResponseError::KafkaStorageError.code());
    let r = answer(h.join(static_req("g", "", "i")));
    assert_eq!(r.error_code, ResponseError::NotCoordinator.code());
    assert_eq!(r.member_id.as_str(), "");
    let g = h.c.group("g").unwrap();
    assert_eq!(g.static_member_id("i"), Some(old.as_str()));
    assert!(g.has_member(&old));
}

#[test]
fn a_parked_join_under_a_replaced_static_id_is_fenced() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a"]);
    // A static member joins; its JoinGroup waits for a to rejoin.
    let first_rx = h.join(static_req("g", "", "i"));
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    let first =
        h.c.group("g")
            .unwrap()
            .static_member_id("i")
            .unwrap()
            .to_string();
    // A second process with the same group.instance.id takes over.
    let second_rx = h.join(static_req("g", "", "i"));
    let fenced = answer(first_rx);
    assert_eq!(fenced.error_code, ResponseError::FencedInstanceId.code());
    assert_eq!(fenced.member_id.as_str(), first);
    let second =
        h.c.group("g")
            .unwrap()
            .static_member_id("i")
            .unwrap()
            .to_string();
    assert_ne!(second, first);
    assert!(!h.c.group("g").unwrap().has_member(&first));
    // a rejoins: the new incarnation is in the next generation.
    let ra = answer(h.join(join_req("g", &ids[0], "a")));
    let r2 = answer(second_rx);
    assert_eq!((ra.generation_id, r2.generation_id), (2, 2));
    assert_eq!(r2.member_id.as_str(), second);
    assert_eq!(ra.members.len(), 2);
}

// ----- bounds ---------------------------------------------------------------------------------

#[test]
fn group_max_size_and_group_count_are_enforced() {
    let config = GroupConfig {
        max_size: 2,
        max_groups: 2,
        ..GroupConfig::default()
    };
    let mut h = Harness::with(config);
    let ids = h.stable_group("g", &["a", "b"]);
    let r = answer(h.join(join_req("g", "", "c")));
    assert_eq!(r.error_code, ResponseError::GroupMaxSizeReached.code());
    // Members already in keep rejoining.
    assert_eq!(answer(h.join(join_req("g", &ids[1], "b"))).error_code, NONE);
    // Pending members are bounded too.
    let a = answer(h.join(join_req("g2", "", "x")));
    let b = answer(h.join(join_req("g2", "", "y")));
    assert_eq!(
        (a.error_code, b.error_code),
        (
            ResponseError::MemberIdRequired.code(),
            ResponseError::MemberIdRequired.code()
        )
    );
    assert_eq!(
        answer(h.join(join_req("g2", "", "z"))).error_code,
        ResponseError::GroupMaxSizeReached.code()
    );
    // A third group is refused.
    assert_eq!(
        answer(h.join(join_req("g3", "", "x"))).error_code,
        ResponseError::GroupMaxSizeReached.code()
    );
    let r = h.commit(commit_req("g3", -1, "", "t", &[(0, 1, "")]));
    assert_eq!(codes(&r), vec![ResponseError::GroupMaxSizeReached.code()]);
}

// ----- offsets --------------------------------------------------------------------------------

#[test]
fn simple_commits_create_a_group_and_metadata_round_trips() {
    let mut h = Harness::new();
    let r = h.commit(commit_req(
        "simple",
        -1,
        "",
        "t",
        &[(0, 42, "hello ⚡"), (1, 7, "")],
    ));
    assert_eq!(codes(&r), vec![NONE, NONE]);
    let v = h.committed("simple", "t", 0).unwrap();
    assert_eq!(
        (v.offset, v.leader_epoch, v.metadata.as_str()),
        (42, 7, "hello ⚡")
    );
    assert_eq!(v.commit_timestamp_ms, h.now);
    assert_eq!(h.state("simple"), Some(GroupState::Empty));
    assert!(h.c.group("simple").unwrap().protocol_type().is_none());
    // Nothing committed: -1 (None); an unknown group: the same.
    assert!(h.committed("simple", "t", 2).is_none());
    assert!(h.committed("nobody", "t", 0).is_none());
    let all = h.c.fetch_offsets("simple", None);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.len(), 2);
    assert!(h.c.fetch_offsets("nobody", None).is_empty());
}

#[test]
fn commit_metadata_is_bounded_in_java_string_length() {
    let config = GroupConfig {
        offset_metadata_max_bytes: 4,
        ..GroupConfig::default()
    };
    let mut h = Harness::with(config);
    // "éééé" is 8 UTF-8 bytes but 4 UTF-16 units: accepted, like Java's String.length().
    let r = h.commit(commit_req(
        "g",
        -1,
        "",
        "t",
        &[(0, 1, "éééé"), (1, 1, "12345")],
    ));
    assert_eq!(
        codes(&r),
        vec![NONE, ResponseError::OffsetMetadataTooLarge.code()]
    );
    assert!(h.committed("g", "t", 1).is_none());
}

#[test]
fn member_commits_are_checked_against_member_and_generation() {
    let mut h = Harness::new();
    // Unknown group with a generation: ResponseError::IllegalGeneration.code() before v9, ResponseError::GroupIdNotFound.code() in v9.
    assert_eq!(
        codes(&h.commit(commit_req("g", 1, "m", "t", &[(0, 1, "")]))),
        vec![ResponseError::IllegalGeneration.code()]
    );
    let mut v9 = commit_req("g", 1, "m", "t", &[(0, 1, "")]);
    v9.version = 9;
    assert_eq!(
        codes(&h.commit(v9)),
        vec![ResponseError::GroupIdNotFound.code()]
    );

    let (m1, rx) = h.join_new("g", "a");
    answer(rx);
    // Joined but not yet synced.
    assert_eq!(
        codes(&h.commit(commit_req("g", 1, &m1, "t", &[(0, 1, "")]))),
        vec![ResponseError::RebalanceInProgress.code()]
    );
    answer_sync(h.sync(sync_req("g", &m1, 1, vec![])));
    assert_eq!(
        codes(&h.commit(commit_req("g", 1, &m1, "t", &[(0, 5, "m")]))),
        vec![NONE]
    );
    assert_eq!(
        codes(&h.commit(commit_req("g", 2, &m1, "t", &[(0, 1, "")]))),
        vec![ResponseError::IllegalGeneration.code()]
    );
    assert_eq!(
        codes(&h.commit(commit_req("g", 1, "x", "t", &[(0, 1, "")]))),
        vec![ResponseError::UnknownMemberId.code()]
    );
    // A simple commit to a group with members.
    assert_eq!(
        codes(&h.commit(commit_req("g", -1, "", "t", &[(0, 1, "")]))),
        vec![ResponseError::UnknownMemberId.code()]
    );
    let mut fenced = commit_req("g", 1, &m1, "t", &[(0, 1, "")]);
    fenced.group_instance_id = Some("i".into());
    assert_eq!(
        codes(&h.commit(fenced)),
        vec![ResponseError::UnknownMemberId.code()]
    );
    assert_eq!(h.committed("g", "t", 0).unwrap().offset, 5);
    // Commits during PreparingRebalance with the current generation are accepted.
    let (_b, _rxb) = h.join_new("g", "b");
    assert_eq!(h.state("g"), Some(GroupState::PreparingRebalance));
    assert_eq!(
        codes(&h.commit(commit_req("g", 1, &m1, "t", &[(0, 6, "")]))),
        vec![NONE]
    );
}

#[test]
fn commits_keep_a_member_session_alive() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a"]);
    let start = h.now;
    h.advance_to(start + SESSION as i64 - 1);
    h.commit(commit_req("g", 1, &ids[0], "t", &[(0, 1, "")]));
    h.advance_to(start + SESSION as i64 + 100);
    assert!(h.c.group("g").unwrap().has_member(&ids[0]));
}

#[test]
fn a_failed_commit_append_changes_nothing() {
    let mut h = Harness::new();
    h.fail_appends = Some(ResponseError::KafkaStorageError.code());
    let r = h.commit(commit_req("g", -1, "", "t", &[(0, 1, "")]));
    assert_eq!(codes(&r), vec![ResponseError::NotCoordinator.code()]);
    assert!(h.committed("g", "t", 0).is_none());
    assert!(h.c.group("g").is_none());
    h.fail_appends = Some(ResponseError::UnknownTopicOrPartition.code());
    let r = h.commit(commit_req("g", -1, "", "t", &[(0, 1, "")]));
    assert_eq!(
        codes(&r),
        vec![ResponseError::CoordinatorNotAvailable.code()]
    );
}

#[test]
fn restart_restores_offsets_metadata_and_stable_groups() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    let generation = h.generation("g");
    let r = h.commit(commit_req(
        "g",
        generation,
        &ids[0],
        "t",
        &[(0, 100, "meta-0"), (1, 200, "")],
    ));
    assert_eq!(codes(&r), vec![NONE, NONE]);
    h.commit(commit_req("simple", -1, "", "t", &[(3, 9, "s")]));
    let mut r = h.restart();
    assert_eq!(r.committed("g", "t", 0).unwrap().metadata, "meta-0");
    assert_eq!(r.committed("g", "t", 1).unwrap().offset, 200);
    assert_eq!(r.committed("simple", "t", 3).unwrap().offset, 9);
    assert_eq!(r.state("g"), Some(GroupState::Stable));
    assert_eq!(r.generation("g"), generation);
    // Members carry on with their ids and generation, and get their stored assignment.
    assert_eq!(r.heartbeat("g", &ids[1], generation), NONE);
    let s = answer_sync(r.sync(sync_req("g", &ids[1], generation, vec![])));
    assert_eq!(s.assignment, Bytes::from_static(b"assignment-1"));
    // Loaded members have sessions: a silent one expires.
    let start = r.now;
    r.advance_to(start + SESSION as i64 / 2);
    assert_eq!(r.heartbeat("g", &ids[1], generation), NONE);
    r.advance_to(start + SESSION as i64);
    assert_eq!(r.state("g"), Some(GroupState::PreparingRebalance));
    assert!(!r.c.group("g").unwrap().has_member(&ids[0]));
    // A deleted group stays deleted.
    let mut h2 = r.restart();
    let d = h2.c.delete_group("simple");
    assert_eq!(d.response, NONE);
    h2.run(d.appends);
    let h3 = h2.restart();
    assert!(h3.c.group("simple").is_none());
    assert!(h3.committed("simple", "t", 3).is_none());
}

#[test]
fn offsets_of_an_empty_consumer_group_expire_after_retention_then_the_group_goes() {
    let config = GroupConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..GroupConfig::default()
    };
    let mut h = Harness::with(config);
    let ids = h.stable_group("g", &["a"]);
    h.commit(commit_req("g", 1, &ids[0], "t", &[(0, 1, "")]));
    // Stable and subscribed to "t": kept however old.
    for _ in 0..20 {
        h.advance(5_000);
        assert_eq!(h.heartbeat("g", &ids[0], 1), NONE);
    }
    assert!(h.committed("g", "t", 0).is_some());
    assert_eq!(h.leave("g", &[(&ids[0], None)]), vec![NONE]);
    let emptied = h.now;
    assert_eq!(h.state("g"), Some(GroupState::Empty));
    h.advance_to(emptied + 59_999);
    assert!(h.committed("g", "t", 0).is_some());
    h.advance_to(emptied + 70_000);
    assert!(h.committed("g", "t", 0).is_none());
    assert!(
        h.c.group("g").is_none(),
        "an empty group without offsets is removed"
    );
    assert!(matches!(
        h.log.last(),
        Some(CoordinatorRecord::GroupMetadata { value: None, .. })
    ));
}

#[test]
fn simple_group_offsets_expire_by_commit_time_or_their_own_retention() {
    let config = GroupConfig {
        offsets_retention_ms: 60_000,
        offsets_retention_check_interval_ms: 10_000,
        ..GroupConfig::default()
    };
    let mut h = Harness::with(config);
    h.commit(commit_req("s", -1, "", "t", &[(0, 1, "")]));
    h.advance(30_000);
    h.commit(commit_req("s", -1, "", "t", &[(1, 1, "")]));
    let mut own = commit_req("s", -1, "", "u", &[(0, 1, "")]);
    own.retention_time_ms = 5_000;
    own.version = 2;
    h.commit(own);
    h.advance(10_000);
    assert!(
        h.committed("s", "u", 0).is_none(),
        "its own retention passed"
    );
    h.advance(20_000); // 60 s after the first commit
    assert!(h.committed("s", "t", 0).is_none());
    assert!(h.committed("s", "t", 1).is_some());
    h.advance(30_000);
    assert!(h.c.group("s").is_none());
}

#[test]
fn delete_offsets_respects_subscriptions() {
    let mut h = Harness::new();
    assert_eq!(
        h.c.delete_offsets("nope", vec![]).response,
        Err(ResponseError::GroupIdNotFound.code())
    );
    let ids = h.stable_group("g", &["a"]);
    h.commit(commit_req("g", 1, &ids[0], "t", &[(0, 1, "")]));
    h.commit(commit_req("g", 1, &ids[0], "other", &[(0, 1, "")]));
    let out = h.c.delete_offsets(
        "g",
        vec![("t".into(), vec![0]), ("other".into(), vec![0, 5])],
    );
    assert_eq!(
        out.response,
        Ok(vec![
            (
                "t".to_string(),
                vec![(0, ResponseError::GroupSubscribedToTopic.code())]
            ),
            ("other".to_string(), vec![(0, NONE), (5, NONE)]),
        ])
    );
    h.run(out.appends);
    assert!(h.committed("g", "other", 0).is_none());
    assert!(h.committed("g", "t", 0).is_some());
    // A non-consumer group with members cannot lose offsets.
    let mut connect = join_req("c", "", "w");
    connect.protocol_type = "connect".into();
    connect.require_known_member_id = false;
    answer(h.join(connect));
    assert_eq!(
        h.c.delete_offsets("c", vec![]).response,
        Err(ResponseError::NonEmptyGroup.code())
    );
}

#[test]
fn delete_groups_only_when_empty() {
    let mut h = Harness::new();
    assert_eq!(
        h.c.delete_group("nope").response,
        ResponseError::GroupIdNotFound.code()
    );
    let ids = h.stable_group("g", &["a"]);
    h.commit(commit_req("g", 1, &ids[0], "t", &[(0, 1, "")]));
    assert_eq!(
        h.c.delete_group("g").response,
        ResponseError::NonEmptyGroup.code()
    );
    h.leave("g", &[(&ids[0], None)]);
    let out = h.c.delete_group("g");
    assert_eq!(out.response, NONE);
    h.run(out.appends);
    assert!(h.c.group("g").is_none());
    assert!(h.committed("g", "t", 0).is_none());
    assert_eq!(h.c.describe_group("g").group_state.as_str(), "Dead");
}

#[test]
fn deleted_topics_take_their_offsets_with_them() {
    let mut h = Harness::new();
    h.commit(commit_req("a", -1, "", "t", &[(0, 1, "")]));
    h.commit(commit_req("b", -1, "", "t", &[(1, 1, "")]));
    h.commit(commit_req("b", -1, "", "u", &[(0, 1, "")]));
    let appends = h.c.on_topic_deleted("t");
    assert_eq!(appends.len(), 2);
    h.run(appends);
    assert!(h.committed("a", "t", 0).is_none());
    assert!(h.committed("b", "t", 1).is_none());
    assert!(h.committed("b", "u", 0).is_some());
}

// ----- describe and list ----------------------------------------------------------------------

#[test]
fn describe_and_list_show_what_kafka_shows() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    h.commit(commit_req("s", -1, "", "t", &[(0, 1, "")]));
    let d = h.c.describe_group("g");
    assert_eq!(d.group_state.as_str(), "Stable");
    assert_eq!(d.protocol_type.as_str(), "consumer");
    assert_eq!(d.protocol_data.as_str(), "range");
    assert_eq!(d.members.len(), 2);
    assert_eq!(d.members[0].member_id.as_str(), ids[0]);
    assert_eq!(d.members[0].client_id.as_str(), "a");
    assert_eq!(d.members[0].client_host.as_str(), "/127.0.0.1");
    assert_eq!(d.members[0].member_metadata, subscription(&["t"]));
    assert_eq!(
        d.members[1].member_assignment,
        Bytes::from_static(b"assignment-1")
    );
    let unknown = h.c.describe_group("zzz");
    assert_eq!(unknown.group_state.as_str(), "Dead");
    assert_eq!(unknown.error_code, NONE);

    let all = h.c.list_groups(&[], &[]);
    let listed: BTreeMap<String, (String, String, String)> = all
        .iter()
        .map(|g| {
            (
                g.group_id.to_string(),
                (
                    g.protocol_type.to_string(),
                    g.group_state.to_string(),
                    g.group_type.to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(
        listed["g"],
        ("consumer".into(), "Stable".into(), "classic".into())
    );
    assert_eq!(listed["s"], ("".into(), "Empty".into(), "classic".into()));
    let stable = h.c.list_groups(&["STABLE".into()], &[]);
    assert_eq!(stable.len(), 1);
    assert!(h.c.list_groups(&[], &["consumer".into()]).is_empty());
    assert_eq!(
        h.c.list_groups(&["empty".into()], &["Classic".into()])
            .len(),
        1
    );

    // While rebalancing, no metadata and no protocol are shown.
    let _parked = h.join(join_req("g", &ids[0], "a"));
    let d = h.c.describe_group("g");
    assert_eq!(d.group_state.as_str(), "PreparingRebalance");
    assert_eq!(d.protocol_data.as_str(), "");
    assert!(d.members.iter().all(|m| m.member_metadata.is_empty()));
}

#[test]
fn unloading_answers_parked_requests_with_not_coordinator() {
    let mut h = Harness::new();
    let ids = h.stable_group("g", &["a", "b"]);
    let rx = h.join(join_req("g", &ids[0], "a"));
    h.c.unload();
    h.run(Vec::new());
    assert_eq!(answer(rx).error_code, ResponseError::NotCoordinator.code());
}

#[test]
fn rejoining_with_the_same_metadata_in_completing_rebalance_repeats_the_answer() {
    let mut h = Harness::new();
    let (m1, rx) = h.join_new("g", "a");
    let first = answer(rx);
    // The response was lost; the client asks again.
    let again = answer(h.join(join_req("g", &m1, "a")));
    assert_eq!(again.generation_id, first.generation_id);
    assert_eq!(again.members.len(), 1);
    assert_eq!(h.state("g"), Some(GroupState::CompletingRebalance));
}
