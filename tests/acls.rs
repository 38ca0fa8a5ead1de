//! ACLs at the wire: CreateAcls/DescribeAcls/DeleteAcls with Kafka's validation, filters and
//! cluster checks, durability across a restart, and a denial matrix: for each API, a principal
//! without the grant gets Kafka's error code and, with it, succeeds.
//!
//! Principals come from SASL/PLAIN on a SASL_PLAINTEXT listener: `User:admin` is a super user,
//! `User:alice` gets grants, `User:bob` none.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use bytes::Bytes;
use common::{Client, TestBroker, batch, create, name, produce, produce_request};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
    username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" \
    user_alice=\"alice-secret\" user_bob=\"bob-secret\";";

const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

fn settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS),
        ("authorizer.class.name", STANDARD_AUTHORIZER),
        ("super.users", "User:admin"),
    ]
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

async fn login(broker: &TestBroker, user: &str) -> Client {
    let mut c = Client::connect(broker.addr).await;
    let hs = SaslHandshakeRequest::default().with_mechanism(s("PLAIN"));
    let ResponseKind::SaslHandshake(r) = c.call(1, RequestKind::SaslHandshake(hs)).await else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    let token = Bytes::from(format!("\0{user}\0{user}-secret"));
    let auth = SaslAuthenticateRequest::default().with_auth_bytes(token);
    let ResponseKind::SaslAuthenticate(r) = c.call(2, RequestKind::SaslAuthenticate(auth)).await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0, "{user} authenticates");
    c
}

/// (resource type, name, pattern type, principal, operation, permission) as wire codes.
fn creation(ty: i8, name: &str, pattern: i8, principal: &str, op: i8, perm: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(ty)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pattern)
        .with_principal(s(principal))
        .with_host(s("*"))
        .with_operation(op)
        .with_permission_type(perm)
}

const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TXN_ID: i8 = 5;
const ANY: i8 = 1;
const MATCH: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ALLOW: i8 = 3;
const DENY: i8 = 2;
const ALL: i8 = 2;
const READ: i8 = 3;
const WRITE: i8 = 4;
const CREATE: i8 = 5;
const DESCRIBE: i8 = 8;

async fn create_acls(c: &mut Client, creations: Vec<AclCreation>) -> Vec<(i16, Option<String>)> {
    let req = CreateAclsRequest::default().with_creations(creations);
    let ResponseKind::CreateAcls(r) = c.call(3, RequestKind::CreateAcls(req)).await else {
        panic!()
    };
    r.results
        .into_iter()
        .map(|r| (r.error_code, r.error_message.map(|m| m.to_string())))
        .collect()
}

fn any_filter() -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_resource_type_filter(ANY)
        .with_pattern_type_filter(ANY)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

/// (error, [(resource type, name, pattern, principal, operation, permission)])
async fn describe_acls(
    c: &mut Client,
    req: DescribeAclsRequest,
) -> (i16, Vec<(i8, String, i8, String, i8, i8)>) {
    let ResponseKind::DescribeAcls(r) = c.call(3, RequestKind::DescribeAcls(req)).await else {
        panic!()
    };
    let mut acls: Vec<_> = r
        .resources
        .iter()
        .flat_map(|res| {
            res.acls.iter().map(move |a| {
                (
                    res.resource_type,
                    res.resource_name.to_string(),
                    res.pattern_type,
                    a.principal.to_string(),
                    a.operation,
                    a.permission_type,
                )
            })
        })
        .collect();
    acls.sort();
    (r.error_code, acls)
}

#[tokio::test]
async fn create_describe_delete_with_kafkas_rules() {
    let broker = TestBroker::start(&settings()).await;
    let mut admin = login(&broker, "admin").await;
    let results = create_acls(
        &mut admin,
        vec![
            creation(TOPIC, "t", LITERAL, "User:alice", READ, ALLOW),
            creation(TOPIC, "app-", PREFIXED, "User:alice", WRITE, ALLOW),
            creation(TOPIC, "*", LITERAL, "User:bob", DESCRIBE, DENY),
            creation(TOPIC, "t", LITERAL, "User:alice", READ, ALLOW), // a repeat: no-op
            creation(CLUSTER, "other", LITERAL, "User:alice", ALL, ALLOW),
            creation(TOPIC, "", LITERAL, "User:alice", READ, ALLOW),
            creation(ANY, "x", LITERAL, "User:alice", READ, ALLOW),
            creation(TOPIC, "x", MATCH, "User:alice", READ, ALLOW),
            creation(TOPIC, "x", LITERAL, "User:alice", ANY, ALLOW),
            creation(TOPIC, "x", LITERAL, "User:alice", READ, ANY),
            creation(TOPIC, "x", LITERAL, "alice", READ, ALLOW),
        ],
    )
    .await;
    let codes: Vec<i16> = results.iter().map(|r| r.0).collect();
    let invalid = ResponseError::InvalidRequest.code();
    assert_eq!(
        codes,
        [
            0, 0, 0, 0, invalid, invalid, invalid, invalid, invalid, invalid, invalid
        ]
    );
    assert_eq!(
        results[4].1.as_deref(),
        Some("The only valid name for the CLUSTER resource is kafka-cluster")
    );
    assert_eq!(results[7].1.as_deref(), Some("Invalid patternType MATCH"));

    let (code, all) = describe_acls(&mut admin, any_filter()).await;
    assert_eq!(code, 0);
    assert_eq!(all.len(), 3, "{all:?}");

    // MATCH on a name: the literal, the wildcard and the covering prefix.
    let (_, matched) = describe_acls(
        &mut admin,
        any_filter()
            .with_resource_type_filter(TOPIC)
            .with_resource_name_filter(Some(s("app-1")))
            .with_pattern_type_filter(MATCH),
    )
    .await;
    let names: Vec<&str> = matched.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(names, ["*", "app-"]);
    let (_, by_principal) = describe_acls(
        &mut admin,
        any_filter().with_principal_filter(Some(s("User:alice"))),
    )
    .await;
    assert_eq!(by_principal.len(), 2);

    // Delete with a prefixed filter; what it removed is listed.
    let req = DeleteAclsRequest::default().with_filters(vec![
        DeleteAclsFilter::default()
            .with_resource_name_filter(None)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_resource_type_filter(TOPIC)
            .with_pattern_type_filter(PREFIXED)
            .with_operation(ANY)
            .with_permission_type(ANY),
    ]);
    let ResponseKind::DeleteAcls(r) = admin.call(3, RequestKind::DeleteAcls(req)).await else {
        panic!()
    };
    assert_eq!(r.filter_results[0].error_code, 0);
    let removed: Vec<String> = r.filter_results[0]
        .matching_acls
        .iter()
        .map(|a| a.resource_name.to_string())
        .collect();
    assert_eq!(removed, ["app-"]);
    let (_, left) = describe_acls(&mut admin, any_filter()).await;
    assert_eq!(left.len(), 2);

    // Without ALTER / DESCRIBE on the cluster: CLUSTER_AUTHORIZATION_FAILED.
    let mut bob = login(&broker, "bob").await;
    let (code, _) = describe_acls(&mut bob, any_filter()).await;
    assert_eq!(code, ResponseError::ClusterAuthorizationFailed.code());
    let results = create_acls(
        &mut bob,
        vec![creation(TOPIC, "t", LITERAL, "User:bob", ALL, ALLOW)],
    )
    .await;
    assert_eq!(
        results[0].0,
        ResponseError::ClusterAuthorizationFailed.code()
    );

    // An UNKNOWN element fails Kafka's request parsing: the connection closes.
    let req = any_filter().with_operation(0);
    admin
        .send(ApiKey::DescribeAcls, 3, &RequestKind::DescribeAcls(req))
        .await;
    assert!(admin.is_closed_by_broker().await);
    broker.stop().await;
}

#[tokio::test]
async fn without_an_authorizer_acl_apis_say_security_disabled() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    let results = create_acls(
        &mut c,
        vec![creation(TOPIC, "t", LITERAL, "User:a", READ, ALLOW)],
    )
    .await;
    assert_eq!(results[0].0, ResponseError::SecurityDisabled.code());
    let (code, _) = describe_acls(&mut c, any_filter()).await;
    assert_eq!(code, ResponseError::SecurityDisabled.code());
    // And everything else is allowed, as before.
    create(&mut c, "open", &[]).await;
    assert_eq!(produce(&mut c, "open", batch(&["v"], None)).await.0, 0);
    broker.stop().await;
}

#[tokio::test]
async fn acls_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_with(&settings(), false, Some(dir.path())).await;
    let mut admin = login(&broker, "admin").await;
    let results = create_acls(
        &mut admin,
        vec![
            creation(TOPIC, "t", LITERAL, "User:alice", READ, ALLOW),
            creation(GROUP, "g", PREFIXED, "User:*", READ, DENY),
        ],
    )
    .await;
    assert_eq!(results.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 0]);
    let (_, before) = describe_acls(&mut admin, any_filter()).await;
    drop(admin);
    broker.stop().await;
    let broker = TestBroker::start_with(&settings(), false, Some(dir.path())).await;
    let mut admin = login(&broker, "admin").await;
    let (_, after) = describe_acls(&mut admin, any_filter()).await;
    assert_eq!(before, after);
    assert_eq!(after.len(), 2);
    broker.stop().await;
}

fn metadata_for(topic: &str) -> RequestKind {
    RequestKind::Metadata(
        MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(name(topic))),
            ]))
            .with_allow_auto_topic_creation(false),
    )
}

async fn metadata_code(c: &mut Client, topic: &str) -> i16 {
    let ResponseKind::Metadata(r) = c.call(12, metadata_for(topic)).await else {
        panic!()
    };
    r.topics[0].error_code
}

async fn produce_code(c: &mut Client, topic: &str) -> i16 {
    let ResponseKind::Produce(r) = c
        .call(9, produce_request(topic, -1, batch(&["v"], None)))
        .await
    else {
        panic!()
    };
    r.responses[0].partition_responses[0].error_code
}

async fn fetch_code(c: &mut Client, topic: &str) -> i16 {
    let ResponseKind::Fetch(r) = c.call(12, common::fetch_request(topic, 0, 0)).await else {
        panic!()
    };
    r.responses[0].partitions[0].error_code
}

async fn list_offsets_code(c: &mut Client, topic: &str) -> i16 {
    let req = ListOffsetsRequest::default().with_topics(vec![
        ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(-1)]),
    ]);
    let ResponseKind::ListOffsets(r) = c.call(7, RequestKind::ListOffsets(req)).await else {
        panic!()
    };
    r.topics[0].partitions[0].error_code
}

async fn find_group_code(c: &mut Client, group: &str) -> i16 {
    let req = FindCoordinatorRequest::default()
        .with_key_type(0)
        .with_coordinator_keys(vec![s(group)]);
    let ResponseKind::FindCoordinator(r) = c.call(4, RequestKind::FindCoordinator(req)).await
    else {
        panic!()
    };
    r.coordinators[0].error_code
}

async fn offset_commit_code(c: &mut Client, group: &str, topic: &str) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default().with_committed_offset(0),
                ]),
        ]);
    let ResponseKind::OffsetCommit(r) = c.call(8, RequestKind::OffsetCommit(req)).await else {
        panic!()
    };
    r.topics[0].partitions[0].error_code
}

async fn init_producer_id_code(c: &mut Client, txn: Option<&str>) -> i16 {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let ResponseKind::InitProducerId(r) = c.call(4, RequestKind::InitProducerId(req)).await else {
        panic!()
    };
    r.error_code
}

async fn describe_configs_code(c: &mut Client, ty: i8, resource: &str) -> i16 {
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(ty)
            .with_resource_name(s(resource)),
    ]);
    let ResponseKind::DescribeConfigs(r) = c.call(4, RequestKind::DescribeConfigs(req)).await
    else {
        panic!()
    };
    r.results[0].error_code
}

async fn create_topic_code(c: &mut Client, topic: &str) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![
            kafka_protocol::messages::create_topics_request::CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::CreateTopics(r) = c.call(7, RequestKind::CreateTopics(req)).await else {
        panic!()
    };
    r.topics[0].error_code
}

async fn delete_topic_code(c: &mut Client, topic: &str) -> i16 {
    let req = DeleteTopicsRequest::default()
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(name(topic))),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::DeleteTopics(r) = c.call(6, RequestKind::DeleteTopics(req)).await else {
        panic!()
    };
    r.responses[0].error_code
}

async fn create_partitions_code(c: &mut Client, topic: &str) -> i16 {
    let req = CreatePartitionsRequest::default()
        .with_topics(vec![
            CreatePartitionsTopic::default()
                .with_name(name(topic))
                .with_count(2)
                .with_assignments(None),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::CreatePartitions(r) = c.call(3, RequestKind::CreatePartitions(req)).await
    else {
        panic!()
    };
    r.results[0].error_code
}

async fn delete_records_code(c: &mut Client, topic: &str) -> i16 {
    let req = DeleteRecordsRequest::default()
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![DeleteRecordsPartition::default().with_offset(0)]),
        ])
        .with_timeout_ms(5000);
    let ResponseKind::DeleteRecords(r) = c.call(2, RequestKind::DeleteRecords(req)).await else {
        panic!()
    };
    r.topics[0].partitions[0].error_code
}

/// (error code, cluster authorized operations) of a DescribeCluster asking for them.
async fn describe_cluster(c: &mut Client) -> (i16, i32) {
    let req = DescribeClusterRequest::default()
        .with_endpoint_type(1)
        .with_include_cluster_authorized_operations(true);
    let ResponseKind::DescribeCluster(r) = c.call(1, RequestKind::DescribeCluster(req)).await
    else {
        panic!()
    };
    (r.error_code, r.cluster_authorized_operations)
}

/// (top-level error, [(topic, partition error)]) of an OffsetFetch v7 for partition 0 of
/// `topic` in `group`.
async fn offset_fetch(c: &mut Client, group: &str, topic: &str) -> (i16, Vec<(String, i16)>) {
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_topics(Some(vec![
            offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(name(topic))
                .with_partition_indexes(vec![0]),
        ]));
    let ResponseKind::OffsetFetch(r) = c.call(7, RequestKind::OffsetFetch(req)).await else {
        panic!()
    };
    let partitions = r
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.to_string(), p.error_code))
        })
        .collect();
    (r.error_code, partitions)
}

async fn describe_group_code(c: &mut Client, group: &str) -> i16 {
    let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
    let ResponseKind::DescribeGroups(r) = c.call(5, RequestKind::DescribeGroups(req)).await else {
        panic!()
    };
    r.groups[0].error_code
}

async fn list_groups(c: &mut Client) -> Vec<String> {
    let req = ListGroupsRequest::default();
    let ResponseKind::ListGroups(r) = c.call(4, RequestKind::ListGroups(req)).await else {
        panic!()
    };
    r.groups.iter().map(|g| g.group_id.to_string()).collect()
}

async fn all_topics(c: &mut Client) -> Vec<String> {
    let req = MetadataRequest::default().with_topics(None);
    let ResponseKind::Metadata(r) = c.call(12, RequestKind::Metadata(req)).await else {
        panic!()
    };
    let mut names: Vec<String> = r
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    names.sort();
    names
}

async fn describe_scram_code(c: &mut Client) -> i16 {
    let req = DescribeUserScramCredentialsRequest::default().with_users(None);
    let ResponseKind::DescribeUserScramCredentials(r) = c
        .call(0, RequestKind::DescribeUserScramCredentials(req))
        .await
    else {
        panic!()
    };
    r.error_code
}

async fn alter_scram_codes(c: &mut Client) -> Vec<i16> {
    use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
    let req = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
        ScramCredentialUpsertion::default()
            .with_name(s("carol"))
            .with_mechanism(1)
            .with_iterations(4096)
            .with_salt(Bytes::from_static(b"salt"))
            .with_salted_password(Bytes::from(vec![7u8; 32])),
    ]);
    let ResponseKind::AlterUserScramCredentials(r) =
        c.call(0, RequestKind::AlterUserScramCredentials(req)).await
    else {
        panic!()
    };
    r.results.iter().map(|r| r.error_code).collect()
}

async fn describe_quotas_code(c: &mut Client) -> i16 {
    let req = DescribeClientQuotasRequest::default();
    let ResponseKind::DescribeClientQuotas(r) =
        c.call(1, RequestKind::DescribeClientQuotas(req)).await
    else {
        panic!()
    };
    r.error_code
}

async fn alter_quotas_codes(c: &mut Client) -> Vec<i16> {
    use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
    let req = AlterClientQuotasRequest::default().with_entries(vec![
        EntryData::default()
            .with_entity(vec![
                EntityData::default()
                    .with_entity_type(s("client-id"))
                    .with_entity_name(Some(s("c1"))),
            ])
            .with_ops(vec![
                OpData::default()
                    .with_key(s("producer_byte_rate"))
                    .with_value(1024.0),
            ]),
    ]);
    let ResponseKind::AlterClientQuotas(r) = c.call(1, RequestKind::AlterClientQuotas(req)).await
    else {
        panic!()
    };
    r.entries.iter().map(|e| e.error_code).collect()
}

/// Each API, refused with Kafka's code for bob (no grants), allowed for alice (granted).
#[tokio::test]
async fn denial_matrix() {
    let broker = TestBroker::start(&settings()).await;
    let mut admin = login(&broker, "admin").await;
    create(&mut admin, "t", &[]).await;
    create(&mut admin, "hidden", &[]).await;
    assert_eq!(produce(&mut admin, "t", batch(&["a"], None)).await.0, 0);
    let results = create_acls(
        &mut admin,
        vec![
            creation(TOPIC, "t", LITERAL, "User:alice", ALL, ALLOW),
            creation(TOPIC, "new-", PREFIXED, "User:alice", CREATE, ALLOW),
            creation(GROUP, "g", LITERAL, "User:alice", ALL, ALLOW),
            creation(GROUP, "g-described", LITERAL, "User:bob", DESCRIBE, ALLOW),
            creation(TXN_ID, "tx", LITERAL, "User:alice", WRITE, ALLOW),
            creation(
                CLUSTER,
                "kafka-cluster",
                LITERAL,
                "User:alice",
                DESCRIBE,
                ALLOW,
            ),
        ],
    )
    .await;
    assert!(results.iter().all(|r| r.0 == 0), "{results:?}");
    // A committed offset makes group "g" exist for ListGroups.
    assert_eq!(offset_commit_code(&mut admin, "g", "t").await, 0);

    let topic_denied = ResponseError::TopicAuthorizationFailed.code();
    let group_denied = ResponseError::GroupAuthorizationFailed.code();
    let cluster_denied = ResponseError::ClusterAuthorizationFailed.code();
    let txn_denied = ResponseError::TransactionalIdAuthorizationFailed.code();
    let mut alice = login(&broker, "alice").await;
    let mut bob = login(&broker, "bob").await;

    // Topics.
    assert_eq!(metadata_code(&mut bob, "t").await, topic_denied);
    assert_eq!(metadata_code(&mut alice, "t").await, 0);
    // Without DESCRIBE a missing topic is refused too, not reported as unknown.
    assert_eq!(metadata_code(&mut bob, "nope").await, topic_denied);
    assert_eq!(all_topics(&mut bob).await, Vec::<String>::new());
    assert_eq!(all_topics(&mut alice).await, ["t"]);
    assert_eq!(
        all_topics(&mut admin).await,
        ["__consumer_offsets", "hidden", "t"]
    );
    assert_eq!(produce_code(&mut bob, "t").await, topic_denied);
    assert_eq!(produce_code(&mut alice, "t").await, 0);
    assert_eq!(fetch_code(&mut bob, "t").await, topic_denied);
    assert_eq!(fetch_code(&mut alice, "t").await, 0);
    assert_eq!(list_offsets_code(&mut bob, "t").await, topic_denied);
    assert_eq!(list_offsets_code(&mut alice, "t").await, 0);
    assert_eq!(create_topic_code(&mut bob, "new-1").await, topic_denied);
    assert_eq!(create_topic_code(&mut alice, "new-1").await, 0);
    assert_eq!(create_topic_code(&mut alice, "other").await, topic_denied);
    assert_eq!(create_partitions_code(&mut bob, "t").await, topic_denied);
    assert_eq!(create_partitions_code(&mut alice, "t").await, 0);
    assert_eq!(delete_records_code(&mut bob, "t").await, topic_denied);
    assert_eq!(delete_records_code(&mut alice, "t").await, 0);
    assert_eq!(
        describe_configs_code(&mut bob, TOPIC, "t").await,
        topic_denied
    );
    assert_eq!(describe_configs_code(&mut alice, TOPIC, "t").await, 0);
    assert_eq!(
        describe_configs_code(&mut alice, CLUSTER, "1").await,
        cluster_denied
    );
    assert_eq!(describe_configs_code(&mut admin, CLUSTER, "1").await, 0);

    // Groups.
    assert_eq!(find_group_code(&mut bob, "g").await, group_denied);
    assert_eq!(find_group_code(&mut alice, "g").await, 0);
    assert_eq!(offset_commit_code(&mut bob, "g", "t").await, group_denied);
    assert_eq!(offset_commit_code(&mut alice, "g", "t").await, 0);
    assert_eq!(
        offset_commit_code(&mut alice, "g", "hidden").await,
        topic_denied
    );
    // OffsetFetch needs DESCRIBE on the group; refused, the answer names no topics (v2–7: the
    // error at the top), as Kafka's. With the group but not the topic: TOPIC_AUTHORIZATION_FAILED.
    assert_eq!(
        offset_fetch(&mut bob, "g", "t").await,
        (group_denied, vec![])
    );
    assert_eq!(
        offset_fetch(&mut alice, "g", "t").await,
        (0, vec![("t".into(), 0)])
    );
    assert_eq!(
        offset_fetch(&mut bob, "g-described", "t").await,
        (0, vec![("t".into(), topic_denied)])
    );
    assert_eq!(describe_group_code(&mut bob, "g").await, group_denied);
    assert_eq!(describe_group_code(&mut alice, "g").await, 0);
    // alice has DESCRIBE on the cluster: every group; bob none.
    assert_eq!(list_groups(&mut alice).await, ["g"]);
    assert_eq!(list_groups(&mut bob).await, Vec::<String>::new());

    // Producer ids and transactions.
    assert_eq!(init_producer_id_code(&mut bob, None).await, cluster_denied);
    assert_eq!(init_producer_id_code(&mut alice, None).await, 0);
    assert_eq!(
        init_producer_id_code(&mut bob, Some("tx")).await,
        txn_denied
    );
    assert_eq!(init_producer_id_code(&mut alice, Some("tx")).await, 0);
    assert_eq!(
        init_producer_id_code(&mut alice, Some("other")).await,
        txn_denied
    );

    // The cluster: anyone may describe it (as Kafka's AuthHelper), only the authorized
    // operations need DESCRIBE on it.
    assert_eq!(describe_cluster(&mut bob).await, (0, 0));
    let (code, operations) = describe_cluster(&mut alice).await;
    assert_eq!(code, 0);
    assert_ne!(operations & (1 << DESCRIBE), 0, "{operations:#b}");
    // SCRAM users: DESCRIBE on the cluster to list them, ALTER to change them.
    assert_eq!(describe_scram_code(&mut bob).await, cluster_denied);
    assert_eq!(describe_scram_code(&mut alice).await, 0);
    assert_eq!(alter_scram_codes(&mut alice).await, [cluster_denied]);
    assert_eq!(alter_scram_codes(&mut admin).await, [0]);
    // Client quotas: DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster (alice has DESCRIBE only).
    assert_eq!(describe_quotas_code(&mut alice).await, cluster_denied);
    assert_eq!(describe_quotas_code(&mut admin).await, 0);
    assert_eq!(alter_quotas_codes(&mut alice).await, [cluster_denied]);
    assert_eq!(alter_quotas_codes(&mut admin).await, [0]);

    // Deletion last.
    assert_eq!(delete_topic_code(&mut bob, "t").await, topic_denied);
    assert_eq!(delete_topic_code(&mut alice, "t").await, 0);
    broker.stop().await;
}
