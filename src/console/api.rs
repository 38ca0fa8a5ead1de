//! The console's JSON API. Every route reads the broker's own state:
//!
//! - `GET /api/overview`: node and cluster ids, version, listeners, topic and partition counts,
//!   groups, uptime;
//! - `GET /api/topics`: every topic with its partition count, messages and bytes;
//! - `GET /api/topics/{topic}`: its partitions (log start, high watermark, log end, size,
//!   segments) and effective configs (set on the topic, or the broker's);
//! - `GET /api/topics/{topic}/messages?partition=P&offset=O|timestamp=T&limit=N`: a page of
//!   records (see `browse`); keys and values are base64, the page renders them;
//! - `POST /api/topics/{topic}/produce` with `{"partition", "key", "value", "headers": [{"key",
//!   "value"}]}` (strings or null): one record, through the append path Produce uses;
//! - `GET /api/groups`: groups with state, members, assignments and lag per partition;
//! - `GET /api/acls`: the ACLs (read-only).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::browse::{self, Field, Page, Start};
use super::{LagFn, Reply};
use crate::broker::Broker;
use crate::config::topic::{TOPIC_CONFIGS, effective};
use crate::log::{BatchOptions, NewRecord, build_batch, now_ms};
use crate::metadata::topics::{Origin, Topic};

/// Message pages being read (file reads and decompression on blocking threads).
static READS: Semaphore = Semaphore::const_new(browse::READS_AT_ONCE);

/// Routes `/api/…`. A POST must say its body is JSON: a page on another site can only send
/// that after a CORS preflight, which the console never grants (no cross-site produce).
pub async fn route(broker: &Arc<Broker>, parts: &Parts, body: Bytes, lag: LagFn) -> Reply {
    let (method, path) = (&parts.method, parts.uri.path());
    let query = parts.uri.query().unwrap_or("");
    let get = method == Method::GET || method == Method::HEAD;
    let json_body = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if method == Method::POST && !json_body {
        return Reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST bodies must be sent as content-type: application/json",
        );
    }
    let parts: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match parts.as_slice() {
        ["overview"] if get => ok(overview(broker)),
        ["topics"] if get => ok(topics(broker)),
        ["topics", name] if get => with_topic(broker, name, |t| ok(topic(broker, t))),
        ["topics", name, "messages"] if get => match broker.topics.get(name) {
            Some(t) => messages(t, query).await,
            None => no_topic(name),
        },
        ["topics", name, "produce"] if method == Method::POST => match broker.topics.get(name) {
            Some(t) => produce(t, &body).await,
            None => no_topic(name),
        },
        ["groups"] if get => groups(broker, lag).await,
        ["acls"] if get => ok(acls(broker)),
        _ => Reply::error(
            StatusCode::NOT_FOUND,
            format!("no API route {method} {path}"),
        ),
    }
}

fn ok(value: Value) -> Reply {
    Reply::json(StatusCode::OK, &value)
}

fn no_topic(name: &str) -> Reply {
    Reply::error(StatusCode::NOT_FOUND, format!("no topic {name}"))
}

fn with_topic(broker: &Broker, name: &str, f: impl FnOnce(&Topic) -> Reply) -> Reply {
    match broker.topics.get(name) {
        Some(t) => f(&t),
        None => no_topic(name),
    }
}

/// The cluster at a glance.
pub fn overview(broker: &Broker) -> Value {
    let topics = broker.topics.all();
    let listeners: Vec<Value> = broker
        .config
        .listeners
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "protocol": l.protocol.name(),
                "advertised": format!("{}:{}", l.advertised.host, l.advertised.port),
            })
        })
        .collect();
    json!({
        "node_id": broker.config.node_id,
        "cluster_id": broker.cluster_id,
        "version": env!("CARGO_PKG_VERSION"),
        "listeners": listeners,
        "topics": topics.iter().filter(|t| !t.internal).count(),
        "internal_topics": topics.iter().filter(|t| t.internal).count(),
        "partitions": topics.iter().map(|t| t.partitions.len()).sum::<usize>(),
        "in_memory": broker.config.in_memory,
        "uptime_ms": process_uptime_ms(),
    })
}

/// Every topic, internal ones last.
pub fn topics(broker: &Broker) -> Value {
    let mut all = broker.topics.all();
    all.sort_by(|a, b| (a.internal, &a.name).cmp(&(b.internal, &b.name)));
    let rows: Vec<Value> = all
        .iter()
        .map(|t| {
            let (mut messages, mut bytes) = (0i64, 0u64);
            for p in &t.partitions {
                let log = p.log();
                messages += log.high_watermark() - log.log_start_offset();
                bytes += log.size_in_bytes();
            }
            json!({
                "name": &*t.name,
                "internal": t.internal,
                "partitions": t.partitions.len(),
                "messages": messages,
                "size_bytes": bytes,
            })
        })
        .collect();
    json!({ "topics": rows })
}

/// One topic: partitions and effective configs.
pub fn topic(broker: &Broker, t: &Topic) -> Value {
    let partitions: Vec<Value> = t
        .partitions
        .iter()
        .map(|p| {
            let log = p.log();
            json!({
                "partition": p.index,
                "leader": broker.config.node_id,
                "leader_epoch": p.leader_epoch,
                "log_start_offset": log.log_start_offset(),
                "high_watermark": log.high_watermark(),
                "log_end_offset": log.log_end_offset(),
                "size_bytes": log.size_in_bytes(),
                "segments": log.segment_count(),
                "offline": log.offline().is_some(),
            })
        })
        .collect();
    let config = broker.effective_config();
    let configs: Vec<Value> = TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let (value, set_on_topic) = effective(d.name, &t.configs, &config)
                .unwrap_or_else(|| (d.default.to_string(), false));
            json!({
                "name": d.name,
                "value": (!d.ty.is_sensitive()).then_some(value),
                "source": if set_on_topic { "topic" } else { "broker" },
            })
        })
        .collect();
    json!({
        "name": &*t.name,
        "id": t.id.to_string(),
        "internal": t.internal,
        "partitions": partitions,
        "configs": configs,
    })
}

/// A query's value for `name`.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn number(query: &str, name: &str) -> Result<Option<i64>, Reply> {
    param(query, name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                Reply::error(StatusCode::BAD_REQUEST, format!("{name}={v}: not a number"))
            })
        })
        .transpose()
}

/// A page of messages from one partition.
async fn messages(topic: Arc<Topic>, query: &str) -> Reply {
    let parsed = (|| {
        let partition = number(query, "partition")?.unwrap_or(0);
        let start = match (number(query, "offset")?, number(query, "timestamp")?) {
            (_, Some(ts)) => Start::Timestamp(ts),
            (Some(o), None) => Start::Offset(o),
            (None, None) => Start::Offset(0),
        };
        let limit = number(query, "limit")?.unwrap_or(50);
        Ok((partition, start, limit))
    })();
    let (partition, start, limit) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let Some(p) = i32::try_from(partition)
        .ok()
        .and_then(|i| topic.partition(i))
        .cloned()
    else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            format!("{} has no partition {partition}", topic.name),
        );
    };
    let Ok(_permit) = READS.acquire().await else {
        return Reply::error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    let limit = usize::try_from(limit.clamp(1, browse::RECORDS_MAX as i64)).unwrap_or(1);
    let read = tokio::task::spawn_blocking(move || browse::read_page(&p, start, limit)).await;
    match read {
        Ok(Ok(page)) => ok(page_json(&topic.name, partition, &page)),
        Ok(Err(e)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn field_json(f: &Option<Field>) -> Value {
    match f {
        None => Value::Null,
        Some(f) => json!({
            "size": f.size,
            "truncated": f.bytes.len() < f.size,
            "base64": BASE64.encode(&f.bytes),
        }),
    }
}

fn page_json(topic: &str, partition: i64, page: &Page) -> Value {
    let records: Vec<Value> = page
        .records
        .iter()
        .map(|r| {
            let headers: Vec<Value> = r
                .headers
                .iter()
                .map(|(k, v)| json!({ "key": k, "value": field_json(v) }))
                .collect();
            json!({
                "offset": r.offset,
                "timestamp": r.timestamp,
                "timestamp_type": if r.log_append_time { "LogAppendTime" } else { "CreateTime" },
                "key": field_json(&r.key),
                "value": field_json(&r.value),
                "headers": headers,
            })
        })
        .collect();
    json!({
        "topic": topic,
        "partition": partition,
        "log_start_offset": page.log_start_offset,
        "high_watermark": page.high_watermark,
        "start_offset": page.start_offset,
        "next_offset": page.next_offset,
        "records": records,
    })
}

/// A JSON string or null as bytes; anything else is refused.
fn text_or_null(v: Option<&Value>, what: &str) -> Result<Option<Vec<u8>>, Reply> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_bytes().to_vec())),
        Some(_) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            format!("{what}: a string or null"),
        )),
    }
}

/// The test message of a produce request body.
fn test_record(body: &[u8]) -> Result<(i32, NewRecord), Reply> {
    let bad = |m: String| Reply::error(StatusCode::BAD_REQUEST, m);
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(format!("body: {e}")))?;
    let partition = match v.get("partition") {
        None | Some(Value::Null) => 0,
        Some(p) => p
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| bad("partition: a number".into()))?,
    };
    let mut headers = Vec::new();
    if let Some(list) = v.get("headers").and_then(Value::as_array) {
        for h in list {
            let key = text_or_null(h.get("key"), "header key")?
                .ok_or_else(|| bad("a header needs a key".into()))?;
            headers.push((key, text_or_null(h.get("value"), "header value")?));
        }
    }
    let record = NewRecord {
        key: text_or_null(v.get("key"), "key")?,
        value: text_or_null(v.get("value"), "value")?,
        headers,
        timestamp_ms: now_ms(),
    };
    Ok((partition, record))
}

/// Produces one test record through `Partition::append`, the path Produce takes (validation,
/// the topic's compression, producer state, wake-ups, flush policy).
async fn produce(topic: Arc<Topic>, body: &[u8]) -> Reply {
    if topic.internal {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            format!("Cannot append to internal topic {}", topic.name),
        );
    }
    let (partition, record) = match test_record(body) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let Some(p) = topic.partition(partition) else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            format!("{} has no partition {partition}", topic.name),
        );
    };
    let batch = match build_batch(&[record], &BatchOptions::default()) {
        Ok(b) => b,
        Err(e) => return Reply::error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let appended = match p.append(Bytes::from(batch), Origin::Client, now_ms()).await {
        Ok(a) => a,
        Err(e) => return Reply::error(StatusCode::BAD_REQUEST, e.error_message()),
    };
    if let Some(durable) = appended.durable
        && let Err(e) = durable.wait().await
    {
        return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e);
    }
    ok(json!({
        "topic": &*topic.name,
        "partition": partition,
        "offset": appended.outcome.base_offset,
    }))
}

/// The topics and partitions in a consumer's assignment (`ConsumerProtocolAssignment`: a
/// version, then `[topic: string, partitions: [int32]]`; later versions only append fields).
/// `None` when the bytes are not one.
pub fn assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let out = bytes.get(pos..pos.checked_add(n)?)?;
        pos += n;
        Some(out)
    };
    let count = |b: &[u8]| -> Option<usize> {
        usize::try_from(i32::from_be_bytes(b.try_into().ok()?)).ok()
    };
    take(2)?;
    let topics = count(take(4)?)?;
    let mut out = Vec::new();
    for _ in 0..topics {
        let len = usize::try_from(i16::from_be_bytes(take(2)?.try_into().ok()?)).ok()?;
        let name = String::from_utf8_lossy(take(len)?).into_owned();
        let n = count(take(4)?)?;
        let mut partitions = Vec::new();
        for _ in 0..n {
            partitions.push(i32::from_be_bytes(take(4)?.try_into().ok()?));
        }
        out.push((name, partitions));
    }
    Some(out)
}

/// Groups with members, assignments and lag.
async fn groups(broker: &Arc<Broker>, lag: LagFn) -> Reply {
    let listed = match broker.groups.list_groups(Vec::new(), Vec::new()).await {
        Ok(l) => l,
        Err(code) => {
            return Reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("group coordinator unavailable (error {code})"),
            );
        }
    };
    let mut ids: Vec<String> = listed.iter().map(|g| g.group_id.to_string()).collect();
    ids.sort();
    let described = broker
        .groups
        .describe_groups(ids.clone())
        .await
        .unwrap_or_default();
    let b = broker.clone();
    let rows = tokio::task::spawn_blocking(move || lag(&b))
        .await
        .unwrap_or_default();
    let groups: Vec<Value> = described
        .iter()
        .map(|g| {
            let id = g.group_id.to_string();
            let consumer = g.protocol_type.as_str() == "consumer";
            let members: Vec<Value> = g
                .members
                .iter()
                .map(|m| {
                    let assigned = consumer
                        .then(|| assignment(&m.member_assignment))
                        .flatten()
                        .unwrap_or_default();
                    let assigned: Vec<Value> = assigned
                        .into_iter()
                        .map(
                            |(topic, partitions)| json!({"topic": topic, "partitions": partitions}),
                        )
                        .collect();
                    json!({
                        "member_id": m.member_id.as_str(),
                        "client_id": m.client_id.as_str(),
                        "host": m.client_host.as_str(),
                        "assignment": assigned,
                    })
                })
                .collect();
            let offsets: Vec<Value> = rows
                .iter()
                .filter(|r| r.0 == id)
                .map(|(_, topic, partition, committed, end)| {
                    json!({
                        "topic": topic,
                        "partition": partition,
                        "committed": committed,
                        "end_offset": end,
                        "lag": (end - committed).max(0),
                    })
                })
                .collect();
            let total: i64 = rows
                .iter()
                .filter(|r| r.0 == id)
                .map(|r| (r.4 - r.3).max(0))
                .sum();
            json!({
                "group": id,
                "state": g.group_state.as_str(),
                "protocol_type": g.protocol_type.as_str(),
                "protocol": g.protocol_data.as_str(),
                "members": members,
                "offsets": offsets,
                "lag": total,
            })
        })
        .collect();
    ok(json!({ "groups": groups, "sampled_at_ms": now_ms() }))
}

/// The ACLs, read-only.
pub fn acls(broker: &Broker) -> Value {
    let index = broker.metadata.acls();
    let mut rows: Vec<Value> = index
        .iter()
        .map(|(_, a)| {
            json!({
                "resource_type": a.resource_type.name(),
                "resource_name": a.resource_name,
                "pattern_type": format!("{:?}", a.pattern_type).to_uppercase(),
                "principal": a.principal,
                "host": a.host,
                "operation": format!("{:?}", a.operation).to_uppercase(),
                "permission": format!("{:?}", a.permission).to_uppercase(),
            })
        })
        .collect();
    rows.sort_by_key(|v| v.to_string());
    json!({
        "authorizer": broker.config.authorizer.is_some(),
        "acls": rows,
    })
}

/// How long this process has run, from `/proc` (0 where that cannot be read).
fn process_uptime_ms() -> u64 {
    let read = || -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let after = stat.rsplit_once(')')?.1;
        let start_ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        let system_s: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        // SAFETY: sysconf only reads a constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0)?;
        let started_ms = start_ticks * 1000 / ticks;
        Some(((system_s * 1000.0) as u64).saturating_sub(started_ms))
    };
    read().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 assignment as the Java consumer writes it (user data and nothing else after).
    fn assignment_bytes(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut b = vec![0, 1];
        b.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            b.extend_from_slice(&(t.len() as i16).to_be_bytes());
            b.extend_from_slice(t.as_bytes());
            b.extend_from_slice(&(ps.len() as i32).to_be_bytes());
            for p in *ps {
                b.extend_from_slice(&p.to_be_bytes());
            }
        }
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b
    }

    #[test]
    fn assignments_parse_and_garbage_does_not() {
        let b = assignment_bytes(&[("a", &[0, 2]), ("b", &[])]);
        assert_eq!(
            assignment(&b),
            Some(vec![
                ("a".to_string(), vec![0, 2]),
                ("b".to_string(), vec![])
            ])
        );
        for cut in 0..b.len() - 4 {
            assert_eq!(assignment(&b[..cut]), None, "cut at {cut}");
        }
        // A count the bytes cannot hold ends at the first missing byte.
        let mut huge = vec![0, 0];
        huge.extend_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(assignment(&huge), None);
        assert_eq!(assignment(&[0, 0, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn query_parameters() {
        assert_eq!(param("a=1&offset=5", "offset"), Some("5"));
        assert_eq!(param("offset", "offset"), None);
        assert!(matches!(number("offset=5", "offset"), Ok(Some(5))));
        assert!(matches!(number("offset=", "offset"), Ok(None)));
        assert!(number("offset=x", "offset").is_err());
    }
}
