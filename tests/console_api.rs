//! The web console's JSON API (`src/console/`), in process: what each route reports about a
//! broker whose topics, messages and group offsets a test put there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use common::{Client, TestBroker, create, name, produce};
use http::{Method, StatusCode};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use serde_json::{Value, json};
use vltava::broker::Broker;
use vltava::log::{BatchOptions, Compression, NewRecord, build_batch};

fn lag(broker: &Broker) -> Vec<vltava::console::LagRow> {
    vltava::http::lag::group_lag(broker)
        .into_iter()
        .map(|l| (l.group, l.topic, l.partition, l.committed, l.end_offset))
        .collect()
}

fn request(method: Method, uri: &str, body: &str) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

async fn call(b: &TestBroker, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
    let reply =
        vltava::console::serve(Some(b.broker.clone()), request(method, uri, body), lag).await;
    assert_eq!(reply.content_type, "application/json");
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

async fn get(b: &TestBroker, path: &str) -> Value {
    let (status, v) = call(b, Method::GET, path, "").await;
    assert_eq!(status, StatusCode::OK, "{path}: {v}");
    v
}

fn text(field: &Value) -> String {
    String::from_utf8(BASE64.decode(field["base64"].as_str().unwrap()).unwrap()).unwrap()
}

fn record(key: &str, value: &str, headers: &[(&str, &str)]) -> NewRecord {
    NewRecord {
        key: Some(key.as_bytes().to_vec()),
        value: Some(value.as_bytes().to_vec()),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec())))
            .collect(),
        timestamp_ms: vltava::broker::now_ms(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_and_topics_report_the_registry_and_the_logs() {
    let b = TestBroker::start(&[("node.id", "7")]).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "orders", &[("retention.ms", "3600000")]).await;
    create(&mut c, "empty", &[]).await;
    for i in 0..3 {
        let (code, offset, _) =
            produce(&mut c, "orders", common::batch(&[&format!("v{i}")], None)).await;
        assert_eq!((code, offset), (0, i));
    }

    let o = get(&b, "/api/overview").await;
    assert_eq!(o["node_id"], 7);
    assert_eq!(o["cluster_id"], b.broker.cluster_id.as_str());
    assert_eq!(o["topics"], 2);
    assert_eq!(o["partitions"], 2);
    assert_eq!(
        o["listeners"][0]["advertised"],
        format!("127.0.0.1:{}", b.addr.port())
    );
    assert!(o["uptime_ms"].as_u64().unwrap() > 0);

    let t = get(&b, "/api/topics").await;
    let names: Vec<&str> = t["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["empty", "orders"]);
    assert_eq!(t["topics"][1]["messages"], 3);
    assert!(t["topics"][1]["size_bytes"].as_u64().unwrap() > 0);

    let d = get(&b, "/api/topics/orders").await;
    assert_eq!(d["partitions"][0]["log_start_offset"], 0);
    assert_eq!(d["partitions"][0]["high_watermark"], 3);
    let config = |name: &str| {
        d["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        config("retention.ms"),
        json!({"name": "retention.ms", "value": "3600000", "source": "topic"})
    );
    assert_eq!(config("cleanup.policy")["source"], "broker");

    let (status, e) = call(&b, Method::GET, "/api/topics/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(e["error"], "no topic nope");
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_browser_pages_through_plain_and_compressed_batches() {
    let b = TestBroker::start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "m", &[]).await;
    let plain = build_batch(
        &[record("k0", "{\"n\":0}", &[("h", "x")])],
        &BatchOptions::default(),
    )
    .unwrap();
    produce(&mut c, "m", Bytes::from(plain)).await;
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let records: Vec<NewRecord> = (0..3)
            .map(|i| record(&format!("k{codec:?}{i}"), &format!("v{i}"), &[]))
            .collect();
        let options = BatchOptions {
            compression: codec,
            ..BatchOptions::default()
        };
        let (code, _, _) = produce(
            &mut c,
            "m",
            Bytes::from(build_batch(&records, &options).unwrap()),
        )
        .await;
        assert_eq!(code, 0);
    }
    // 13 records: offset 0, then four compressed batches of three.
    let all = get(&b, "/api/topics/m/messages?partition=0&offset=0&limit=500").await;
    let records = all["records"].as_array().unwrap();
    assert_eq!(records.len(), 13);
    assert_eq!(text(&records[0]["key"]), "k0");
    assert_eq!(text(&records[0]["value"]), "{\"n\":0}");
    assert_eq!(records[0]["headers"][0]["key"], "h");
    assert_eq!(text(&records[0]["headers"][0]["value"]), "x");
    assert_eq!(text(&records[12]["key"]), "kZstd2");
    let offsets: Vec<i64> = records
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, (0..13).collect::<Vec<_>>());
    assert_eq!(all["next_offset"], 13);

    // A page starting inside a compressed batch, cut inside another.
    let page = get(&b, "/api/topics/m/messages?offset=2&limit=4").await;
    let offsets: Vec<i64> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, [2, 3, 4, 5]);
    assert_eq!(page["next_offset"], 6);
    assert_eq!(text(&page["records"][0]["key"]), "kGzip1");

    // From a timestamp: everything was produced now, so a time in the past starts at 0 and
    // one in the future at the end.
    let past = get(&b, "/api/topics/m/messages?timestamp=0&limit=1").await;
    assert_eq!(past["start_offset"], 0);
    let future = get(
        &b,
        &format!("/api/topics/m/messages?timestamp={}", i64::MAX / 2),
    )
    .await;
    assert_eq!(
        (
            future["start_offset"].as_i64(),
            future["records"].as_array().unwrap().len()
        ),
        (Some(13), 0)
    );

    // A page never holds more than 500 records, whatever it asks for.
    let many: Vec<NewRecord> = (0..600).map(|i| record("k", &i.to_string(), &[])).collect();
    let options = BatchOptions {
        compression: Compression::Lz4,
        ..BatchOptions::default()
    };
    produce(
        &mut c,
        "m",
        Bytes::from(build_batch(&many, &options).unwrap()),
    )
    .await;
    let big = get(&b, "/api/topics/m/messages?offset=0&limit=100000").await;
    assert_eq!(big["records"].as_array().unwrap().len(), 500);
    assert_eq!(big["next_offset"], 500);

    let (status, _) = call(&b, Method::GET, "/api/topics/m/messages?partition=9", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&b, Method::GET, "/api/topics/m/messages?offset=x", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_message_goes_through_the_append_path_and_a_consumer_reads_it() {
    let b = TestBroker::start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "p", &[("compression.type", "gzip")]).await;
    produce(&mut c, "p", common::batch(&["first"], None)).await;
    let body = json!({"partition": 0, "key": "k", "value": "{\"a\":1}", "headers": [{"key": "trace", "value": "t1"}]});
    let (status, r) = call(&b, Method::POST, "/api/topics/p/produce", &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["offset"], 1);
    // A Kafka Fetch sees it.
    let (code, hw, values) = common::fetch(&mut c, "p", 1, 100).await;
    assert_eq!((code, hw), (0, 2));
    assert_eq!(values, [(1, "{\"a\":1}".to_string())]);
    let page = get(&b, "/api/topics/p/messages?offset=1").await;
    assert_eq!(text(&page["records"][0]["headers"][0]["value"]), "t1");

    let (status, _) = call(
        &b,
        Method::POST,
        "/api/topics/p/produce",
        "{\"partition\": 3}",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&b, Method::POST, "/api/topics/p/produce", "{\"value\": 5}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&b, Method::POST, "/api/topics/p/produce", "not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A form post (what another site's page can send without asking) is refused.
    let mut form = request(Method::POST, "/api/topics/p/produce", &body.to_string());
    form.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let refused = vltava::console::serve(Some(b.broker.clone()), form, lag).await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let after = get(&b, "/api/topics/p").await;
    assert_eq!(after["partitions"][0]["high_watermark"], 2);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_show_committed_offsets_and_lag() {
    let b = TestBroker::start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create(&mut c, "g", &[]).await;
    for _ in 0..10 {
        produce(&mut c, "g", common::batch(&["x"], None)).await;
    }
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("readers")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(name("g"))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(4),
                ]),
        ]);
    let ResponseKind::OffsetCommit(r) = c.call(8, RequestKind::OffsetCommit(commit)).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    let rows = vltava::http::lag::group_lag(&b.broker);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].committed, rows[0].end_offset, rows[0].lag),
        (4, 10, 6)
    );

    let g = get(&b, "/api/groups").await;
    let group = &g["groups"][0];
    assert_eq!(group["group"], "readers");
    assert_eq!(group["state"], "Empty");
    assert_eq!(group["lag"], 6);
    assert_eq!(
        group["offsets"][0],
        json!({"topic": "g", "partition": 0, "committed": 4, "end_offset": 10, "lag": 6})
    );
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_embedded_and_the_api_waits_for_the_broker() {
    let serve = |uri: &str| vltava::console::serve(None, request(Method::GET, uri, ""), lag);
    let page = serve("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = std::str::from_utf8(&page.body).unwrap();
    assert!(html.contains("/console/console.js"));
    let js = serve("/console/console.js").await;
    assert!(js.content_type.starts_with("text/javascript"));
    let api = serve("/api/overview").await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
    let acls = {
        let b = TestBroker::start(&[]).await;
        let v = get(&b, "/api/acls").await;
        b.stop().await;
        v
    };
    assert_eq!(acls, json!({"authorizer": false, "acls": []}));
}
