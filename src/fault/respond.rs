//! Injected errors as well-formed responses: the error goes where the API carries errors —
//! on every partition of the request for the partitioned APIs (Produce, Fetch, ListOffsets,
//! OffsetCommit, OffsetFetch v0-1), per group or coordinator key where the version has those
//! lists (OffsetFetch v8+, FindCoordinator v4+), top-level for the rest. APIs not listed in
//! [`ERROR_APIS`] have no place a client would look for an injected error (Metadata's errors
//! belong to topics a client did not always name; ApiVersions' error means "version not
//! supported"), so error rules for them are refused; delays and dropped connections work for
//! every API.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// The APIs whose responses can carry an injected error.
pub const ERROR_APIS: [ApiKey; 14] = [
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::ListGroups,
    ApiKey::InitProducerId,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
];

/// True when an error rule may name `api`.
pub fn carries_errors(api: ApiKey) -> bool {
    ERROR_APIS.contains(&api)
}

/// True when `api`'s requests name topics, so a topic/partition filter can match them.
pub fn names_topics(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::Produce
            | ApiKey::Fetch
            | ApiKey::ListOffsets
            | ApiKey::OffsetCommit
            | ApiKey::OffsetFetch
            | ApiKey::Metadata
    )
}

/// A topic as a request names it: by name, or by id (Fetch v13+, Metadata by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRef {
    Name(String),
    Id(uuid::Uuid),
}

/// The topics and partitions a request names (`None`: every partition of the topic).
pub fn topics_of(request: &RequestKind) -> Vec<(TopicRef, Option<Vec<i32>>)> {
    fn topic(name: &str, id: &uuid::Uuid) -> TopicRef {
        if name.is_empty() && !id.is_nil() {
            TopicRef::Id(*id)
        } else {
            TopicRef::Name(name.to_string())
        }
    }
    match request {
        RequestKind::Produce(r) => r
            .topic_data
            .iter()
            .map(|t| {
                let parts = t.partition_data.iter().map(|p| p.index).collect();
                (topic(&t.name, &t.topic_id), Some(parts))
            })
            .collect(),
        RequestKind::Fetch(r) => r
            .topics
            .iter()
            .map(|t| {
                let parts = t.partitions.iter().map(|p| p.partition).collect();
                (topic(&t.topic, &t.topic_id), Some(parts))
            })
            .collect(),
        RequestKind::ListOffsets(r) => r
            .topics
            .iter()
            .map(|t| {
                let parts = t.partitions.iter().map(|p| p.partition_index).collect();
                (TopicRef::Name(t.name.to_string()), Some(parts))
            })
            .collect(),
        RequestKind::OffsetCommit(r) => r
            .topics
            .iter()
            .map(|t| {
                let parts = t.partitions.iter().map(|p| p.partition_index).collect();
                (topic(&t.name, &t.topic_id), Some(parts))
            })
            .collect(),
        RequestKind::OffsetFetch(r) => {
            let mut out: Vec<_> = r
                .topics
                .iter()
                .flatten()
                .map(|t| {
                    let name = TopicRef::Name(t.name.to_string());
                    (name, Some(t.partition_indexes.clone()))
                })
                .collect();
            for g in &r.groups {
                for t in g.topics.iter().flatten() {
                    let parts = Some(t.partition_indexes.clone());
                    out.push((topic(&t.name, &t.topic_id), parts));
                }
            }
            out
        }
        RequestKind::Metadata(r) => r
            .topics
            .iter()
            .flatten()
            .map(|t| match &t.name {
                Some(name) => (TopicRef::Name(name.to_string()), None),
                None => (topic("", &t.topic_id), None),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What the connection does with an injected error.
#[derive(Debug)]
pub enum Injected {
    /// Send this response.
    Respond(Box<ResponseKind>),
    /// Close the connection: an acks=0 Produce has no response to carry the error, and Kafka
    /// closes the connection when one fails.
    Close,
}

/// The response of `request` (at `version`) carrying `code`. `None` for an API outside
/// [`ERROR_APIS`] (rules for those are refused when they are made).
pub fn error_response(request: &RequestKind, version: i16, code: i16) -> Option<Injected> {
    let response = match request {
        RequestKind::Produce(r) => {
            if r.acks == 0 {
                return Some(Injected::Close);
            }
            let topics = r.topic_data.iter().map(|t| {
                let parts = t.partition_data.iter().map(|p| {
                    produce_response::PartitionProduceResponse::default()
                        .with_index(p.index)
                        .with_error_code(code)
                        .with_base_offset(-1)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(-1)
                });
                produce_response::TopicProduceResponse::default()
                    .with_name(t.name.clone())
                    .with_topic_id(t.topic_id)
                    .with_partition_responses(parts.collect())
            });
            ResponseKind::Produce(ProduceResponse::default().with_responses(topics.collect()))
        }
        RequestKind::Fetch(r) => {
            let topics = r.topics.iter().map(|t| {
                let parts = t.partitions.iter().map(|p| {
                    fetch_response::PartitionData::default()
                        .with_partition_index(p.partition)
                        .with_error_code(code)
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                        .with_aborted_transactions(Some(Vec::new()))
                        .with_preferred_read_replica(BrokerId(-1))
                        // Null records break librdkafka: an empty set instead.
                        .with_records(Some(Bytes::new()))
                });
                fetch_response::FetchableTopicResponse::default()
                    .with_topic(t.topic.clone())
                    .with_topic_id(t.topic_id)
                    .with_partitions(parts.collect())
            });
            ResponseKind::Fetch(FetchResponse::default().with_responses(topics.collect()))
        }
        RequestKind::ListOffsets(r) => {
            let topics = r.topics.iter().map(|t| {
                let parts = t.partitions.iter().map(|p| {
                    list_offsets_response::ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1)
                });
                list_offsets_response::ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(parts.collect())
            });
            ResponseKind::ListOffsets(ListOffsetsResponse::default().with_topics(topics.collect()))
        }
        RequestKind::OffsetCommit(r) => {
            let topics = r.topics.iter().map(|t| {
                let parts = t.partitions.iter().map(|p| {
                    offset_commit_response::OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                });
                offset_commit_response::OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_topic_id(t.topic_id)
                    .with_partitions(parts.collect())
            });
            ResponseKind::OffsetCommit(
                OffsetCommitResponse::default().with_topics(topics.collect()),
            )
        }
        RequestKind::OffsetFetch(r) => ResponseKind::OffsetFetch(offset_fetch(r, version, code)),
        RequestKind::FindCoordinator(r) => {
            let mut response = FindCoordinatorResponse::default();
            if version >= 4 {
                response.coordinators = r
                    .coordinator_keys
                    .iter()
                    .map(|key| {
                        find_coordinator_response::Coordinator::default()
                            .with_key(key.clone())
                            .with_node_id(BrokerId(-1))
                            .with_port(-1)
                            .with_error_code(code)
                    })
                    .collect();
            } else {
                response.error_code = code;
                response.node_id = BrokerId(-1);
                response.port = -1;
            }
            ResponseKind::FindCoordinator(response)
        }
        RequestKind::JoinGroup(r) => {
            let mut response = JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1)
                .with_member_id(r.member_id.clone());
            if version < 7 {
                // Nullable from v7 only.
                response.protocol_name = Some(StrBytes::default());
            }
            ResponseKind::JoinGroup(response)
        }
        RequestKind::Heartbeat(_) => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(code))
        }
        RequestKind::LeaveGroup(_) => {
            ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(code))
        }
        RequestKind::SyncGroup(_) => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(code))
        }
        RequestKind::ListGroups(_) => {
            ResponseKind::ListGroups(ListGroupsResponse::default().with_error_code(code))
        }
        RequestKind::InitProducerId(_) => ResponseKind::InitProducerId(
            InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ),
        RequestKind::AddOffsetsToTxn(_) => {
            ResponseKind::AddOffsetsToTxn(AddOffsetsToTxnResponse::default().with_error_code(code))
        }
        RequestKind::EndTxn(_) => {
            ResponseKind::EndTxn(EndTxnResponse::default().with_error_code(code))
        }
        _ => return None,
    };
    Some(Injected::Respond(Box::new(response)))
}

/// OffsetFetch: per group from v8, top-level from v2, per partition before.
fn offset_fetch(r: &OffsetFetchRequest, version: i16, code: i16) -> OffsetFetchResponse {
    let mut response = OffsetFetchResponse::default();
    if version >= 8 {
        response.groups = r
            .groups
            .iter()
            .map(|g| {
                offset_fetch_response::OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_error_code(code)
            })
            .collect();
        return response;
    }
    if version >= 2 {
        response.error_code = code;
    }
    response.topics = r
        .topics
        .iter()
        .flatten()
        .map(|t| {
            let parts = t.partition_indexes.iter().map(|p| {
                offset_fetch_response::OffsetFetchResponsePartition::default()
                    .with_partition_index(*p)
                    .with_committed_offset(-1)
                    .with_committed_leader_epoch(-1)
                    .with_error_code(code)
            });
            offset_fetch_response::OffsetFetchResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(parts.collect())
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce_request(acks: i16) -> RequestKind {
        let data = produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default().with_index(0),
                produce_request::PartitionProduceData::default().with_index(2),
            ]);
        RequestKind::Produce(
            ProduceRequest::default()
                .with_acks(acks)
                .with_topic_data(vec![data]),
        )
    }

    #[test]
    fn produce_errors_land_on_every_partition() {
        let Some(Injected::Respond(response)) = error_response(&produce_request(-1), 9, 6) else {
            panic!("a produce response");
        };
        let ResponseKind::Produce(r) = *response else {
            panic!("a produce response");
        };
        let codes: Vec<(i32, i16)> = r.responses[0]
            .partition_responses
            .iter()
            .map(|p| (p.index, p.error_code))
            .collect();
        assert_eq!(codes, vec![(0, 6), (2, 6)]);
        assert!(matches!(
            error_response(&produce_request(0), 9, 6),
            Some(Injected::Close)
        ));
    }

    #[test]
    fn every_error_api_encodes_at_every_version() {
        for api in ERROR_APIS {
            let request = match api {
                ApiKey::Produce => produce_request(1),
                ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
                ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
                ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
                ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
                ApiKey::FindCoordinator => {
                    RequestKind::FindCoordinator(FindCoordinatorRequest::default())
                }
                ApiKey::JoinGroup => RequestKind::JoinGroup(JoinGroupRequest::default()),
                ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
                ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
                ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
                ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
                ApiKey::InitProducerId => {
                    RequestKind::InitProducerId(InitProducerIdRequest::default())
                }
                ApiKey::AddOffsetsToTxn => {
                    RequestKind::AddOffsetsToTxn(AddOffsetsToTxnRequest::default())
                }
                ApiKey::EndTxn => RequestKind::EndTxn(EndTxnRequest::default()),
                other => panic!("no sample request for {other:?}"),
            };
            let range = api.valid_versions();
            for version in range.min..=range.max {
                let Some(Injected::Respond(response)) = error_response(&request, version, 16)
                else {
                    panic!("{api:?} v{version}: no response");
                };
                let mut buf = bytes::BytesMut::new();
                response
                    .encode(&mut buf, version)
                    .unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"));
            }
        }
    }
}
