//! Shared test helpers: an in-process broker on a free port, and a minimal Kafka client built
//! on kafka-protocol's own encoders (the same codec real clients' bytes are checked against).
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, FetchRequest, ProduceRequest, TopicName};
use kafka_protocol::records::RecordBatchDecoder;
use vltava::broker::Broker;
use vltava::config::BrokerConfig;
use vltava::log::{BatchOptions, NewRecord, build_batch};
use vltava::net::connection::FileTransfer;
use vltava::net::memory::RequestBudget;

/// A broker running inside the test process.
pub struct TestBroker {
    pub addr: SocketAddr,
    pub broker: Arc<Broker>,
    /// The server's request-memory budget (issue 8's freeze test reads it).
    pub request_memory: Arc<RequestBudget>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl TestBroker {
    /// An in-memory broker with the given extra settings.
    pub async fn start(settings: &[(&str, &str)]) -> TestBroker {
        Self::start_with(settings, true, None).await
    }

    pub async fn start_with(
        settings: &[(&str, &str)],
        in_memory: bool,
        dir: Option<&std::path::Path>,
    ) -> TestBroker {
        let mut map = BTreeMap::new();
        map.insert(
            "listeners".to_string(),
            "PLAINTEXT://127.0.0.1:0".to_string(),
        );
        if let Some(d) = dir {
            map.insert("log.dirs".to_string(), d.display().to_string());
        }
        for (k, v) in settings {
            map.insert(k.to_string(), v.to_string());
        }
        let mut config = BrokerConfig::from_map(map).expect("config");
        config.in_memory = in_memory;
        let listener = vltava::net::server::bind(&mut config).await.expect("bind");
        let broker = Broker::open(config).expect("broker opens");
        let addr = listener.local_addr().unwrap();
        // Metadata must advertise the real port.
        let (tx, rx) = oneshot::channel::<()>();
        let b = broker.clone();
        let budget = Arc::new(RequestBudget::new(broker.config.queued_max_request_bytes));
        let request_memory = budget.clone();
        let done = tokio::spawn(async move {
            vltava::net::server::serve(b, listener, FileTransfer::Sendfile, budget, async {
                let _ = rx.await;
            })
            .await;
        });
        TestBroker {
            addr,
            broker,
            request_memory,
            stop: Some(tx),
            done: Some(done),
        }
    }

    /// Clean shutdown, waiting for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

/// A connection speaking the Kafka protocol with kafka-protocol's client-side encoders.
pub struct Client {
    pub stream: TcpStream,
    correlation: i32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect"),
            correlation: 0,
        }
    }

    /// Sends a request and decodes its response.
    pub async fn call(&mut self, version: i16, request: RequestKind) -> ResponseKind {
        let api = api_key_of(&request);
        self.send(api, version, &request).await;
        self.receive(api, version).await.expect("response")
    }

    pub async fn send(&mut self, api: ApiKey, version: i16, request: &RequestKind) {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("vltava-test")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(version))
            .unwrap();
        request.encode(&mut body, version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.put_slice(&body);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// Reads one response frame; None if the broker closed the connection.
    pub async fn receive(&mut self, api: ApiKey, version: i16) -> Option<ResponseKind> {
        let mut frame = self.read_frame().await?;
        let header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
        assert_eq!(
            header.correlation_id, self.correlation,
            "responses in order"
        );
        Some(ResponseKind::decode(api, &mut frame, version).expect("decodable response"))
    }

    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).await.ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    /// Sends raw bytes (a whole frame including its size prefix, or anything else).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// True if the broker closed the connection (EOF or reset) within the timeout.
    pub async fn is_closed_by_broker(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.stream.read(&mut buf),
            )
            .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

pub fn api_key_of(request: &RequestKind) -> ApiKey {
    match request {
        RequestKind::Produce(_) => ApiKey::Produce,
        RequestKind::Fetch(_) => ApiKey::Fetch,
        RequestKind::ListOffsets(_) => ApiKey::ListOffsets,
        RequestKind::Metadata(_) => ApiKey::Metadata,
        RequestKind::ApiVersions(_) => ApiKey::ApiVersions,
        RequestKind::CreateTopics(_) => ApiKey::CreateTopics,
        RequestKind::DeleteTopics(_) => ApiKey::DeleteTopics,
        RequestKind::InitProducerId(_) => ApiKey::InitProducerId,
        RequestKind::DeleteRecords(_) => ApiKey::DeleteRecords,
        RequestKind::DescribeAcls(_) => ApiKey::DescribeAcls,
        RequestKind::CreateAcls(_) => ApiKey::CreateAcls,
        RequestKind::DeleteAcls(_) => ApiKey::DeleteAcls,
        RequestKind::DescribeConfigs(_) => ApiKey::DescribeConfigs,
        RequestKind::AlterConfigs(_) => ApiKey::AlterConfigs,
        RequestKind::DescribeLogDirs(_) => ApiKey::DescribeLogDirs,
        RequestKind::CreatePartitions(_) => ApiKey::CreatePartitions,
        RequestKind::ElectLeaders(_) => ApiKey::ElectLeaders,
        RequestKind::IncrementalAlterConfigs(_) => ApiKey::IncrementalAlterConfigs,
        RequestKind::ListPartitionReassignments(_) => ApiKey::ListPartitionReassignments,
        RequestKind::DescribeCluster(_) => ApiKey::DescribeCluster,
        RequestKind::DescribeTopicPartitions(_) => ApiKey::DescribeTopicPartitions,
        RequestKind::OffsetCommit(_) => ApiKey::OffsetCommit,
        RequestKind::OffsetFetch(_) => ApiKey::OffsetFetch,
        RequestKind::FindCoordinator(_) => ApiKey::FindCoordinator,
        RequestKind::JoinGroup(_) => ApiKey::JoinGroup,
        RequestKind::Heartbeat(_) => ApiKey::Heartbeat,
        RequestKind::LeaveGroup(_) => ApiKey::LeaveGroup,
        RequestKind::SyncGroup(_) => ApiKey::SyncGroup,
        RequestKind::DescribeGroups(_) => ApiKey::DescribeGroups,
        RequestKind::ListGroups(_) => ApiKey::ListGroups,
        RequestKind::DeleteGroups(_) => ApiKey::DeleteGroups,
        RequestKind::OffsetDelete(_) => ApiKey::OffsetDelete,
        RequestKind::AddPartitionsToTxn(_) => ApiKey::AddPartitionsToTxn,
        RequestKind::AddOffsetsToTxn(_) => ApiKey::AddOffsetsToTxn,
        RequestKind::EndTxn(_) => ApiKey::EndTxn,
        RequestKind::WriteTxnMarkers(_) => ApiKey::WriteTxnMarkers,
        RequestKind::TxnOffsetCommit(_) => ApiKey::TxnOffsetCommit,
        RequestKind::DescribeProducers(_) => ApiKey::DescribeProducers,
        RequestKind::DescribeTransactions(_) => ApiKey::DescribeTransactions,
        RequestKind::ListTransactions(_) => ApiKey::ListTransactions,
        RequestKind::SaslHandshake(_) => ApiKey::SaslHandshake,
        RequestKind::SaslAuthenticate(_) => ApiKey::SaslAuthenticate,
        RequestKind::DescribeUserScramCredentials(_) => ApiKey::DescribeUserScramCredentials,
        RequestKind::AlterUserScramCredentials(_) => ApiKey::AlterUserScramCredentials,
        RequestKind::DescribeClientQuotas(_) => ApiKey::DescribeClientQuotas,
        RequestKind::AlterClientQuotas(_) => ApiKey::AlterClientQuotas,
        other => panic!("add {other:?} to api_key_of"),
    }
}

/// A frame (size prefix included) from a header prefix and arbitrary body bytes.
pub fn raw_frame(api_key: i16, version: i16, correlation_id: i32, rest: &[u8]) -> Vec<u8> {
    let mut f = BytesMut::new();
    f.put_i32((8 + rest.len()) as i32);
    f.put_i16(api_key);
    f.put_i16(version);
    f.put_i32(correlation_id);
    f.put_slice(rest);
    f.to_vec()
}

/// Reads an i32 from the front of a buffer (test convenience).
pub fn get_i32(b: &mut Bytes) -> i32 {
    b.get_i32()
}

/// An ApiVersions v3+ request with valid client software fields (Kafka rejects empty ones).
pub fn api_versions_request() -> kafka_protocol::messages::ApiVersionsRequest {
    kafka_protocol::messages::ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("vltava-test"))
        .with_client_software_version(StrBytes::from_static_str("1.0"))
}

// ---- Produce, Fetch and CreateTopics in their simplest forms ----

pub fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub fn batch(values: &[&str], producer: Option<(i64, i16, i32)>) -> Bytes {
    let records: Vec<NewRecord> = values
        .iter()
        .map(|v| NewRecord {
            key: None,
            value: Some(v.as_bytes().to_vec()),
            headers: vec![],
            timestamp_ms: vltava::broker::now_ms(),
        })
        .collect();
    let mut options = BatchOptions::default();
    if let Some((id, epoch, seq)) = producer {
        options.producer_id = id;
        options.producer_epoch = epoch;
        options.base_sequence = seq;
    }
    Bytes::from(build_batch(&records, &options).unwrap())
}

pub fn produce_request(topic: &str, acks: i16, records: Bytes) -> RequestKind {
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(records)),
                    ]),
            ]),
    )
}

/// (error code, base offset, log append time)
pub async fn produce(c: &mut Client, topic: &str, records: Bytes) -> (i16, i64, i64) {
    let ResponseKind::Produce(r) = c.call(9, produce_request(topic, -1, records)).await else {
        panic!()
    };
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset, p.log_append_time_ms)
}

pub fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name(topic))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ]),
    )
}

/// (error code, high watermark, values with offsets)
pub async fn fetch(
    c: &mut Client,
    topic: &str,
    offset: i64,
    max_wait_ms: i32,
) -> (i16, i64, Vec<(i64, String)>) {
    let ResponseKind::Fetch(r) = c.call(12, fetch_request(topic, offset, max_wait_ms)).await else {
        panic!()
    };
    let p = &r.responses[0].partitions[0];
    let mut records = whole_batches(p.records.clone().unwrap_or_default());
    let values = RecordBatchDecoder::decode_all(&mut records)
        .unwrap()
        .into_iter()
        .flat_map(|b| b.records)
        .map(|r| {
            (
                r.offset,
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
            )
        })
        .collect();
    (p.error_code, p.high_watermark, values)
}

pub async fn create(c: &mut Client, topic: &str, configs: &[(&str, &str)]) {
    let req = CreateTopicsRequest::default().with_topics(vec![
        CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(k.to_string()))
                            .with_value(Some(StrBytes::from_string(v.to_string())))
                    })
                    .collect(),
            ),
    ]);
    let ResponseKind::CreateTopics(r) = c.call(7, RequestKind::CreateTopics(req)).await else {
        panic!()
    };
    assert_eq!(r.topics[0].error_code, 0);
}

/// The whole batches at the front of a Fetch response's records (Kafka may cut the last one).
pub fn whole_batches(records: Bytes) -> Bytes {
    let mut end = 0;
    while records.len() >= end + 12 {
        let len = i32::from_be_bytes(records[end + 8..end + 12].try_into().unwrap());
        let total = 12 + len.max(0) as usize;
        if records.len() < end + total {
            break;
        }
        end += total;
    }
    records.slice(..end)
}
