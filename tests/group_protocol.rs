//! Consumer groups over the wire: every version of every group API, driven with kafka-protocol's
//! client encoders against an in-process broker, and checked on the data that comes back.
//! Also: the coordinator's timers in real time, durability across a restart, and the
//! `__consumer_offsets` records landing where Kafka would put them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const ILLEGAL_GENERATION: i16 = 22;
const INVALID_GROUP_ID: i16 = 24;
const UNKNOWN_MEMBER_ID: i16 = 25;
const REBALANCE_IN_PROGRESS: i16 = 27;
const INVALID_REQUEST: i16 = 42;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const MEMBER_ID_REQUIRED: i16 = 79;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn gid(v: &str) -> GroupId {
    GroupId(s(v))
}

fn tname(v: &str) -> TopicName {
    TopicName(s(v))
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

async fn create_topic(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(tname(topic))
                .with_num_partitions(partitions)
                .with_replication_factor(1),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::CreateTopics(r) = c.call(7, RequestKind::CreateTopics(req)).await else {
        panic!()
    };
    assert_eq!(r.topics[0].error_code, 0);
}

fn join_request(group: &str, member: &str, session_ms: i32, topics: &[&str]) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(session_ms)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(subscription(topics)),
        ])
}

async fn join(c: &mut Client, version: i16, req: JoinGroupRequest) -> JoinGroupResponse {
    match c.call(version, RequestKind::JoinGroup(req)).await {
        ResponseKind::JoinGroup(r) => r,
        other => panic!("{other:?}"),
    }
}

/// The whole join: MEMBER_ID_REQUIRED first from v4.
async fn join_fully(
    c: &mut Client,
    version: i16,
    group: &str,
    session_ms: i32,
) -> JoinGroupResponse {
    let mut r = join(c, version, join_request(group, "", session_ms, &["t"])).await;
    if version >= 4 {
        assert_eq!(r.error_code, MEMBER_ID_REQUIRED, "v{version}");
        assert!(r.member_id.starts_with("vltava-test-"), "{:?}", r.member_id);
        r = join(
            c,
            version,
            join_request(group, &r.member_id, session_ms, &["t"]),
        )
        .await;
    }
    assert_eq!(r.error_code, NONE, "v{version}");
    r
}

async fn sync(
    c: &mut Client,
    version: i16,
    group: &str,
    generation: i32,
    member: &str,
    assignment: &[(&str, &[u8])],
) -> SyncGroupResponse {
    let mut req = SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_generation_id(generation)
        .with_member_id(s(member))
        .with_assignments(
            assignment
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(m))
                        .with_assignment(Bytes::copy_from_slice(a))
                })
                .collect(),
        );
    if version >= 5 {
        req = req
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")));
    }
    match c.call(version, RequestKind::SyncGroup(req)).await {
        ResponseKind::SyncGroup(r) => r,
        other => panic!("{other:?}"),
    }
}

async fn heartbeat(
    c: &mut Client,
    version: i16,
    group: &str,
    generation: i32,
    member: &str,
) -> i16 {
    let req = HeartbeatRequest::default()
        .with_group_id(gid(group))
        .with_generation_id(generation)
        .with_member_id(s(member));
    match c.call(version, RequestKind::Heartbeat(req)).await {
        ResponseKind::Heartbeat(r) => r.error_code,
        other => panic!("{other:?}"),
    }
}

async fn describe(
    c: &mut Client,
    version: i16,
    groups: &[&str],
) -> Vec<describe_groups_response::DescribedGroup> {
    let req = DescribeGroupsRequest::default()
        .with_groups(groups.iter().map(|g| gid(g)).collect())
        .with_include_authorized_operations(version >= 3);
    match c.call(version, RequestKind::DescribeGroups(req)).await {
        ResponseKind::DescribeGroups(r) => r.groups,
        other => panic!("{other:?}"),
    }
}

async fn commit(
    c: &mut Client,
    version: i16,
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    offsets: &[(i32, i64, Option<&str>)],
) -> Vec<(i32, i16)> {
    let req = OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(tname(topic))
                .with_partitions(
                    offsets
                        .iter()
                        .map(|(p, o, m)| {
                            let mut part = OffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*o)
                                .with_committed_metadata(m.map(s));
                            if version >= 6 {
                                part = part.with_committed_leader_epoch(3);
                            }
                            part
                        })
                        .collect(),
                ),
        ]);
    match c.call(version, RequestKind::OffsetCommit(req)).await {
        ResponseKind::OffsetCommit(r) => r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.error_code))
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// OffsetFetch of one group at any version: (partition, offset, leader epoch, metadata, error)
/// per requested (or, with `None`, committed) partition, plus the group-level error.
async fn fetch(
    c: &mut Client,
    version: i16,
    group: &str,
    topics: Option<&[(&str, &[i32])]>,
) -> (Vec<(String, i32, i64, i32, String, i16)>, i16) {
    let req = if version >= 8 {
        OffsetFetchRequest::default().with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(gid(group))
                .with_topics(topics.map(|ts| {
                    ts.iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopics::default()
                                .with_name(tname(t))
                                .with_partition_indexes(ps.to_vec())
                        })
                        .collect()
                })),
        ])
    } else {
        OffsetFetchRequest::default()
            .with_group_id(gid(group))
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|(t, ps)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(tname(t))
                            .with_partition_indexes(ps.to_vec())
                    })
                    .collect()
            }))
    };
    let ResponseKind::OffsetFetch(r) = c.call(version, RequestKind::OffsetFetch(req)).await else {
        panic!()
    };
    let mut out = Vec::new();
    if version >= 8 {
        assert_eq!(r.groups.len(), 1);
        let g = &r.groups[0];
        assert_eq!(g.group_id.as_str(), group);
        for t in &g.topics {
            for p in &t.partitions {
                out.push((
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_deref().unwrap_or("<null>").to_string(),
                    p.error_code,
                ));
            }
        }
        out.sort();
        (out, g.error_code)
    } else {
        for t in &r.topics {
            for p in &t.partitions {
                out.push((
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_deref().unwrap_or("<null>").to_string(),
                    p.error_code,
                ));
            }
        }
        out.sort();
        (out, r.error_code)
    }
}

#[tokio::test]
async fn group_apis_are_advertised_and_kip_848_is_not() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let ResponseKind::ApiVersions(r) = c
        .call(3, RequestKind::ApiVersions(common::api_versions_request()))
        .await
    else {
        panic!()
    };
    let range = |key: ApiKey| {
        r.api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version))
    };
    assert_eq!(range(ApiKey::OffsetCommit), Some((2, 9)));
    assert_eq!(range(ApiKey::OffsetFetch), Some((1, 9)));
    assert_eq!(range(ApiKey::FindCoordinator), Some((0, 6)));
    assert_eq!(range(ApiKey::JoinGroup), Some((0, 9)));
    assert_eq!(range(ApiKey::Heartbeat), Some((0, 4)));
    assert_eq!(range(ApiKey::LeaveGroup), Some((0, 5)));
    assert_eq!(range(ApiKey::SyncGroup), Some((0, 5)));
    assert_eq!(range(ApiKey::DescribeGroups), Some((0, 5)));
    assert_eq!(range(ApiKey::ListGroups), Some((0, 5)));
    assert_eq!(range(ApiKey::DeleteGroups), Some((0, 2)));
    assert_eq!(range(ApiKey::OffsetDelete), Some((0, 0)));
    assert_eq!(range(ApiKey::ConsumerGroupHeartbeat), None);
    assert_eq!(range(ApiKey::ConsumerGroupDescribe), None);
}

#[tokio::test]
async fn find_coordinator_every_version_points_here_and_creates_the_offsets_topic() {
    let broker = TestBroker::start(&[("offsets.topic.num.partitions", "7")]).await;
    let mut c = Client::connect(broker.addr).await;
    assert!(broker.broker.topics.get("__consumer_offsets").is_none());
    for v in 0..=6i16 {
        let mut req = FindCoordinatorRequest::default();
        if v >= 4 {
            req = req.with_coordinator_keys(vec![s("g1"), s("g2")]);
        } else {
            req = req.with_key(s("g1"));
        }
        let ResponseKind::FindCoordinator(r) = c.call(v, RequestKind::FindCoordinator(req)).await
        else {
            panic!()
        };
        if v >= 4 {
            assert_eq!(r.coordinators.len(), 2);
            for (co, key) in r.coordinators.iter().zip(["g1", "g2"]) {
                assert_eq!(co.key.as_str(), key);
                assert_eq!(co.error_code, NONE);
                assert_eq!(co.node_id.0, 1);
                assert_eq!(co.host.as_str(), "127.0.0.1");
                assert_eq!(co.port, i32::from(broker.addr.port()));
            }
        } else {
            assert_eq!(r.error_code, NONE, "v{v}");
            assert_eq!(r.node_id.0, 1);
            assert_eq!(r.host.as_str(), "127.0.0.1");
            assert_eq!(r.port, i32::from(broker.addr.port()));
        }
    }
    let topic = broker
        .broker
        .topics
        .get("__consumer_offsets")
        .expect("created");
    assert_eq!(topic.partitions.len(), 7);
    assert_eq!(
        topic.configs.get("cleanup.policy").map(String::as_str),
        Some("compact")
    );
    // Transactional ids: the transaction coordinator is here too, and the first lookup
    // creates `__transaction_state`.
    let req = FindCoordinatorRequest::default()
        .with_key(s("tx"))
        .with_key_type(1);
    let ResponseKind::FindCoordinator(r) = c.call(3, RequestKind::FindCoordinator(req)).await
    else {
        panic!()
    };
    assert_eq!(
        (r.error_code, r.node_id.0, r.port),
        (NONE, 1, i32::from(broker.addr.port()))
    );
    assert!(broker.broker.topics.get("__transaction_state").is_some());
    // Unknown key types: INVALID_REQUEST.
    let req = FindCoordinatorRequest::default()
        .with_coordinator_keys(vec![s("tx")])
        .with_key_type(5);
    let ResponseKind::FindCoordinator(r) = c.call(6, RequestKind::FindCoordinator(req)).await
    else {
        panic!()
    };
    assert_eq!(r.coordinators[0].error_code, INVALID_REQUEST);
    // Only Kafka's two internal topics are internal.
    create_topic(&mut c, "__mine", 1).await;
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(tname("__consumer_offsets"))),
        MetadataRequestTopic::default().with_name(Some(tname("__mine"))),
    ]));
    let ResponseKind::Metadata(m) = c.call(12, RequestKind::Metadata(req)).await else {
        panic!()
    };
    assert!(m.topics[0].is_internal);
    assert!(!m.topics[1].is_internal);
}

#[tokio::test]
async fn every_version_of_the_membership_apis_runs_a_group() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let mut c2 = Client::connect(broker.addr).await;
    for v in 0..=9i16 {
        let group = format!("membership-v{v}");
        let sync_v = v.min(5);
        let hb_v = v.min(4);
        let leave_v = v.min(5);
        let r = join_fully(&mut c, v, &group, 10_000).await;
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, r.member_id);
        assert_eq!(r.members.len(), 1);
        assert_eq!(r.members[0].metadata, subscription(&["t"]));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
        if v >= 7 {
            assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
        }
        let me = r.member_id.to_string();
        let s1 = sync(&mut c, sync_v, &group, 1, &me, &[(&me, b"assigned")]).await;
        assert_eq!(s1.error_code, NONE);
        assert_eq!(s1.assignment.as_ref(), b"assigned");
        if sync_v >= 5 {
            assert_eq!(s1.protocol_name.as_deref(), Some("range"));
        }
        assert_eq!(heartbeat(&mut c, hb_v, &group, 1, &me).await, NONE);
        assert_eq!(
            heartbeat(&mut c, hb_v, &group, 9, &me).await,
            ILLEGAL_GENERATION
        );
        assert_eq!(
            heartbeat(&mut c, hb_v, &group, 1, "who").await,
            UNKNOWN_MEMBER_ID
        );

        // A second member: the first learns of the rebalance from its heartbeat, rejoins, and
        // both land in generation 2; the second's JoinGroup waits on its own connection.
        let other_id = if v >= 4 {
            let first = join(&mut c2, v, join_request(&group, "", 10_000, &["t"])).await;
            assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
            first.member_id.to_string()
        } else {
            String::new()
        };
        let pending = join_request(&group, &other_id, 10_000, &["t"]);
        c2.send(ApiKey::JoinGroup, v, &RequestKind::JoinGroup(pending))
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            heartbeat(&mut c, hb_v, &group, 1, &me).await,
            REBALANCE_IN_PROGRESS
        );
        let r1 = join(&mut c, v, join_request(&group, &me, 10_000, &["t"])).await;
        let ResponseKind::JoinGroup(r2) = c2.receive(ApiKey::JoinGroup, v).await.unwrap() else {
            panic!()
        };
        assert_eq!((r1.error_code, r2.error_code), (NONE, NONE));
        assert_eq!((r1.generation_id, r2.generation_id), (2, 2));
        assert_eq!(r1.members.len(), 2);
        assert!(r2.members.is_empty());
        let other = r2.member_id.to_string();
        let a = sync(
            &mut c,
            sync_v,
            &group,
            2,
            &me,
            &[(&me, b"p0"), (&other, b"p1")],
        )
        .await;
        let b = sync(&mut c2, sync_v, &group, 2, &other, &[]).await;
        assert_eq!(a.assignment.as_ref(), b"p0");
        assert_eq!(b.assignment.as_ref(), b"p1");

        // Describe at the matching version shows both members with their assignments.
        let d = describe(&mut c, v.min(5), &[&group]).await;
        assert_eq!(d[0].group_state.as_str(), "Stable");
        assert_eq!(d[0].protocol_data.as_str(), "range");
        assert_eq!(d[0].members.len(), 2);
        assert_eq!(d[0].members[1].member_assignment.as_ref(), b"p1");
        assert_eq!(d[0].members[0].client_host.as_str(), "/127.0.0.1");
        assert_eq!(d[0].members[0].client_id.as_str(), "vltava-test");

        // Leave: v0-2 one member, top-level error; v3+ batches.
        let req = if leave_v >= 3 {
            LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_members(vec![
                    MemberIdentity::default().with_member_id(s(&other)),
                    MemberIdentity::default().with_member_id(s("stranger")),
                ])
        } else {
            LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_member_id(s(&other))
        };
        let ResponseKind::LeaveGroup(l) = c.call(leave_v, RequestKind::LeaveGroup(req)).await
        else {
            panic!()
        };
        if leave_v >= 3 {
            assert_eq!(l.error_code, NONE);
            let codes: Vec<i16> = l.members.iter().map(|m| m.error_code).collect();
            assert_eq!(codes, vec![NONE, UNKNOWN_MEMBER_ID]);
        } else {
            assert_eq!(l.error_code, NONE);
        }
        assert_eq!(
            heartbeat(&mut c, hb_v, &group, 2, &me).await,
            REBALANCE_IN_PROGRESS
        );
        let r = join(&mut c, v, join_request(&group, &me, 10_000, &["t"])).await;
        assert_eq!((r.generation_id, r.members.len()), (3, 1));
    }
}

#[tokio::test]
async fn membership_errors_on_the_wire() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let r = join(&mut c, 9, join_request("", "", 10_000, &["t"])).await;
    assert_eq!(r.error_code, INVALID_GROUP_ID);
    let r = join(&mut c, 9, join_request("g", "", 100, &["t"])).await;
    assert_eq!(r.error_code, 26, "INVALID_SESSION_TIMEOUT");
    let r = join(&mut c, 9, join_request("g", "nobody", 10_000, &["t"])).await;
    assert_eq!(r.error_code, UNKNOWN_MEMBER_ID);
    let s1 = sync(&mut c, 5, "g", 1, "nobody", &[]).await;
    assert_eq!(s1.error_code, UNKNOWN_MEMBER_ID);
    // Static member fenced by a later incarnation.
    let st = join_request("static", "", 10_000, &["t"]).with_group_instance_id(Some(s("inst")));
    let r1 = join(&mut c, 9, st.clone()).await;
    assert_eq!(r1.error_code, NONE);
    assert!(r1.member_id.starts_with("inst-"));
    let r2 = join(&mut c, 9, st.clone()).await;
    assert_eq!(r2.error_code, NONE);
    let old = st.with_member_id(r1.member_id.clone());
    assert_eq!(
        join(&mut c, 9, old).await.error_code,
        82,
        "FENCED_INSTANCE_ID"
    );
    // A JoinGroup with absurdly large metadata is refused rather than stored.
    let huge = JoinGroupRequest::default()
        .with_group_id(gid("big"))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from(vec![0u8; 2 << 20])),
        ]);
    assert_eq!(join(&mut c, 9, huge).await.error_code, INVALID_REQUEST);
}

#[tokio::test]
async fn offset_commit_and_fetch_every_version() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create_topic(&mut c, "t", 3).await;
    for v in 2..=9i16 {
        let group = format!("offsets-v{v}");
        let meta = format!("meta v{v} ✓");
        let r = commit(
            &mut c,
            v,
            &group,
            -1,
            "",
            "t",
            &[(0, 10 + v as i64, Some(&meta)), (2, 5, None)],
        )
        .await;
        assert_eq!(r, vec![(0, NONE), (2, NONE)], "v{v}");
        // Unknown partition and unknown topic.
        let r = commit(&mut c, v, &group, -1, "", "t", &[(3, 1, None)]).await;
        assert_eq!(r, vec![(3, UNKNOWN_TOPIC_OR_PARTITION)]);
        let r = commit(&mut c, v, &group, -1, "", "nope", &[(0, 1, None)]).await;
        assert_eq!(r, vec![(0, UNKNOWN_TOPIC_OR_PARTITION)]);
        // A generation for a group nobody joined.
        let r = commit(&mut c, v, "nobody", 3, "m", "t", &[(0, 1, None)]).await;
        assert_eq!(
            r,
            vec![(
                0,
                if v >= 9 {
                    GROUP_ID_NOT_FOUND
                } else {
                    ILLEGAL_GENERATION
                }
            )]
        );
    }
    for v in 1..=9i16 {
        let group = format!("offsets-v{}", v.max(2));
        let committed_v = v.max(2);
        let epoch = if v >= 5 && committed_v >= 6 { 3 } else { -1 };
        let (rows, err) = fetch(&mut c, v, &group, Some(&[("t", &[0, 1, 2])])).await;
        assert_eq!(err, NONE);
        assert_eq!(
            rows,
            vec![
                (
                    "t".into(),
                    0,
                    10 + committed_v as i64,
                    epoch,
                    format!("meta v{committed_v} ✓"),
                    NONE
                ),
                ("t".into(), 1, -1, -1, String::new(), NONE),
                ("t".into(), 2, 5, epoch, String::new(), NONE),
            ],
            "OffsetFetch v{v}"
        );
        if v >= 2 {
            // All partitions of the group.
            let (rows, _) = fetch(&mut c, v, &group, None).await;
            assert_eq!(rows.len(), 2, "v{v}");
        }
        let (rows, err) = fetch(&mut c, v, "unknown-group", Some(&[("t", &[0])])).await;
        assert_eq!((rows[0].2, err), (-1, NONE));
    }
    // v8+: several groups in one request.
    let req = OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default()
            .with_group_id(gid("offsets-v2"))
            .with_topics(None),
        OffsetFetchRequestGroup::default()
            .with_group_id(gid("offsets-v9"))
            .with_topics(Some(vec![
                OffsetFetchRequestTopics::default()
                    .with_name(tname("t"))
                    .with_partition_indexes(vec![0]),
            ])),
    ]);
    let ResponseKind::OffsetFetch(r) = c.call(9, RequestKind::OffsetFetch(req)).await else {
        panic!()
    };
    assert_eq!(r.groups.len(), 2);
    assert_eq!(r.groups[0].topics[0].partitions.len(), 2);
    assert_eq!(r.groups[1].topics[0].partitions[0].committed_offset, 19);
}

#[tokio::test]
async fn list_describe_delete_and_offset_delete() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    create_topic(&mut c, "t", 2).await;
    create_topic(&mut c, "u", 1).await;
    let r = join_fully(&mut c, 9, "live", 10_000).await;
    let me = r.member_id.to_string();
    sync(&mut c, 5, "live", 1, &me, &[(&me, b"x")]).await;
    assert_eq!(
        commit(&mut c, 9, "live", 1, &me, "t", &[(0, 1, None)]).await,
        vec![(0, NONE)]
    );
    assert_eq!(
        commit(&mut c, 9, "live", 1, &me, "u", &[(0, 1, None)]).await,
        vec![(0, NONE)]
    );
    assert_eq!(
        commit(
            &mut c,
            9,
            "idle",
            -1,
            "",
            "t",
            &[(0, 4, None), (1, 5, None)]
        )
        .await
        .len(),
        2
    );

    for v in 0..=5i16 {
        let mut req = ListGroupsRequest::default();
        if v >= 4 {
            req = req.with_states_filter(vec![s("stable")]);
        }
        let ResponseKind::ListGroups(l) = c.call(v, RequestKind::ListGroups(req)).await else {
            panic!()
        };
        let mut names: Vec<(String, String)> = l
            .groups
            .iter()
            .map(|g| (g.group_id.to_string(), g.protocol_type.to_string()))
            .collect();
        names.sort();
        if v >= 4 {
            assert_eq!(names, vec![("live".into(), "consumer".into())]);
            assert_eq!(l.groups[0].group_state.as_str(), "Stable");
        } else {
            assert_eq!(
                names,
                vec![
                    ("idle".into(), "".into()),
                    ("live".into(), "consumer".into())
                ]
            );
        }
        if v >= 5 {
            assert_eq!(l.groups[0].group_type.as_str(), "classic");
        }
    }
    let req = ListGroupsRequest::default().with_types_filter(vec![s("consumer")]);
    let ResponseKind::ListGroups(l) = c.call(5, RequestKind::ListGroups(req)).await else {
        panic!()
    };
    assert!(l.groups.is_empty(), "no KIP-848 groups here");

    for v in 0..=5i16 {
        let d = describe(&mut c, v, &["live", "idle", "ghost"]).await;
        assert_eq!(d[0].group_state.as_str(), "Stable");
        assert_eq!(d[1].group_state.as_str(), "Empty");
        assert_eq!(d[2].group_state.as_str(), "Dead");
        assert_eq!(d[2].error_code, NONE);
        if v >= 3 {
            assert_eq!(d[0].authorized_operations, (1 << 3) | (1 << 6) | (1 << 8));
        }
    }

    // OffsetDelete: subscribed topic refused, others removed; unknown group and topic.
    let req = OffsetDeleteRequest::default()
        .with_group_id(gid("live"))
        .with_topics(vec![
            OffsetDeleteRequestTopic::default()
                .with_name(tname("t"))
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(0),
                ]),
            OffsetDeleteRequestTopic::default()
                .with_name(tname("u"))
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(0),
                ]),
            OffsetDeleteRequestTopic::default()
                .with_name(tname("zz"))
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(0),
                ]),
        ]);
    let ResponseKind::OffsetDelete(r) = c.call(0, RequestKind::OffsetDelete(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, NONE);
    let codes: Vec<i16> = r
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(codes, vec![86, NONE, UNKNOWN_TOPIC_OR_PARTITION]);
    let (rows, _) = fetch(&mut c, 9, "live", None).await;
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        vec!["t"]
    );
    let req = OffsetDeleteRequest::default().with_group_id(gid("ghost"));
    let ResponseKind::OffsetDelete(r) = c.call(0, RequestKind::OffsetDelete(req)).await else {
        panic!()
    };
    assert_eq!(r.error_code, GROUP_ID_NOT_FOUND);

    for v in 0..=2i16 {
        let req = DeleteGroupsRequest::default().with_groups_names(vec![gid("live"), gid("ghost")]);
        let ResponseKind::DeleteGroups(r) = c.call(v, RequestKind::DeleteGroups(req)).await else {
            panic!()
        };
        let codes: Vec<i16> = r.results.iter().map(|g| g.error_code).collect();
        assert_eq!(codes, vec![NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND]);
    }
    let req = DeleteGroupsRequest::default().with_groups_names(vec![gid("idle")]);
    let ResponseKind::DeleteGroups(r) = c.call(2, RequestKind::DeleteGroups(req)).await else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, NONE);
    let (rows, _) = fetch(&mut c, 9, "idle", Some(&[("t", &[0])])).await;
    assert_eq!(rows[0].2, -1, "deleted with its group");
    assert_eq!(
        describe(&mut c, 5, &["idle"]).await[0].group_state.as_str(),
        "Dead"
    );
}

#[tokio::test]
async fn sessions_expire_in_real_time_without_polling() {
    let broker = TestBroker::start(&[("group.min.session.timeout.ms", "100")]).await;
    let mut c = Client::connect(broker.addr).await;
    let started = Instant::now();
    let r = join_fully(&mut c, 9, "short", 300).await;
    let join_ms = started.elapsed().as_millis();
    println!("first join (MEMBER_ID_REQUIRED, then JoinGroup) answered in {join_ms} ms");
    assert!(join_ms < 500, "a first join takes {join_ms} ms");
    let me = r.member_id.to_string();
    sync(&mut c, 5, "short", 1, &me, &[(&me, b"x")]).await;
    // Heartbeats keep it alive well past one session…
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(heartbeat(&mut c, 4, "short", 1, &me).await, NONE);
    }
    // …silence ends it within about one session.
    let silent = Instant::now();
    loop {
        let d = describe(&mut c, 5, &["short"]).await;
        if d[0].group_state.as_str() == "Empty" {
            break;
        }
        assert!(
            silent.elapsed() < Duration::from_secs(3),
            "member never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waited = silent.elapsed();
    assert!(
        waited >= Duration::from_millis(200),
        "expired after {waited:?}"
    );
    assert_eq!(
        heartbeat(&mut c, 4, "short", 1, &me).await,
        UNKNOWN_MEMBER_ID
    );
}

#[tokio::test]
async fn committed_offsets_and_groups_survive_a_restart_where_kafka_would_store_them() {
    let dir = tempfile::tempdir().unwrap();
    let group = "durable-group";
    let (me, expected) = {
        // fsync after every message: responses wait for the flusher (and still arrive).
        let broker = TestBroker::start_with(
            &[("log.flush.interval.messages", "1")],
            false,
            Some(dir.path()),
        )
        .await;
        let mut c = Client::connect(broker.addr).await;
        create_topic(&mut c, "t", 2).await;
        let r = join_fully(&mut c, 9, group, 30_000).await;
        let me = r.member_id.to_string();
        sync(&mut c, 5, group, 1, &me, &[(&me, b"both partitions")]).await;
        let r = commit(
            &mut c,
            9,
            group,
            1,
            &me,
            "t",
            &[(0, 41, Some("first")), (1, 7, Some(""))],
        )
        .await;
        assert_eq!(r, vec![(0, NONE), (1, NONE)]);
        let r = commit(&mut c, 9, group, 1, &me, "t", &[(0, 42, Some("second"))]).await;
        assert_eq!(r, vec![(0, NONE)]);
        assert_eq!(
            commit(&mut c, 9, "simple", -1, "", "t", &[(1, 99, Some("s"))]).await,
            vec![(1, NONE)]
        );
        // The group's records are in the partition Kafka's hash picks (13 of 50, as
        // Java's "durable-group".hashCode() gives), and only there.
        assert_eq!(vltava::coordinator::group::partition_for(group, 50), 13);
        let topic = broker.broker.topics.get("__consumer_offsets").unwrap();
        assert_eq!(topic.partitions.len(), 50);
        let home = vltava::coordinator::group::partition_for(group, 50);
        for p in &topic.partitions {
            let end = p.log().log_end_offset();
            if p.index == home {
                // Group metadata (sync) + 3 commits.
                assert_eq!(end, 4, "partition {}", p.index);
            } else if p.index != vltava::coordinator::group::partition_for("simple", 50) {
                assert_eq!(end, 0, "partition {}", p.index);
            }
        }
        let (rows, _) = fetch(&mut c, 9, group, None).await;
        broker.stop().await;
        (me, rows)
    };
    let broker = TestBroker::start_with(&[], false, Some(dir.path())).await;
    let mut c = Client::connect(broker.addr).await;
    let (rows, err) = fetch(&mut c, 9, group, None).await;
    assert_eq!(err, NONE);
    assert_eq!(rows, expected);
    assert_eq!(rows[0].2, 42);
    assert_eq!(rows[0].4, "second");
    assert_eq!(rows[1].4, "");
    let (rows, _) = fetch(&mut c, 3, "simple", Some(&[("t", &[1])])).await;
    assert_eq!((rows[0].2, rows[0].4.as_str()), (99, "s"));
    // The group is Stable with its member and assignment; the member carries on.
    let d = describe(&mut c, 5, &[group]).await;
    assert_eq!(d[0].group_state.as_str(), "Stable");
    assert_eq!(d[0].members[0].member_id.as_str(), me);
    assert_eq!(
        d[0].members[0].member_assignment.as_ref(),
        b"both partitions"
    );
    assert_eq!(heartbeat(&mut c, 4, group, 1, &me).await, NONE);
    let s1 = sync(&mut c, 5, group, 1, &me, &[]).await;
    assert_eq!(s1.assignment.as_ref(), b"both partitions");
    broker.stop().await;
}

#[tokio::test]
async fn stopping_the_broker_answers_parked_joins() {
    let broker = TestBroker::start(&[]).await;
    let mut a = Client::connect(broker.addr).await;
    let mut b = Client::connect(broker.addr).await;
    let r = join_fully(&mut a, 9, "g", 30_000).await;
    let me = r.member_id.to_string();
    sync(&mut a, 5, "g", 1, &me, &[]).await;
    let first = join(&mut b, 9, join_request("g", "", 30_000, &["t"])).await;
    b.send(
        ApiKey::JoinGroup,
        9,
        &RequestKind::JoinGroup(join_request("g", &first.member_id, 30_000, &["t"])),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let stop = tokio::spawn(broker.stop());
    let ResponseKind::JoinGroup(r) = b.receive(ApiKey::JoinGroup, 9).await.expect("answered")
    else {
        panic!()
    };
    assert_eq!(r.error_code, 16, "NOT_COORDINATOR");
    stop.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited for the rebalance"
    );
}
