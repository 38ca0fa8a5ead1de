//! `/metrics`: the broker's metrics in the Prometheus exposition format, names as the Kafka
//! JMX exporter gives them where Kafka has a counterpart (README "Metrics" lists them).
//!
//! A scrape reads, without stopping any request: the network's request and connection
//! counters (`crate::metrics`), the log's stats (`crate::log::stats`: fsync latency,
//! retention, cleaner, per-partition traffic), each partition's offsets and size (a short hold
//! of its log lock each), and the group coordinator's committed offsets (one read operation on
//! its thread, for the lag). The text is written by `prometheus-client` at scrape time only;
//! nothing on the request path touches it.

use bytes::Bytes;
use http::StatusCode;
use kafka_protocol::messages::ApiKey;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::lag::{PartitionLag, groups_snapshot, lag_from};
use super::{HttpRequest, HttpResponse, HttpState, respond, text};
use crate::broker::Broker;
use crate::log::stats::{HistogramSnapshot, LATENCY_BOUNDS_US, read};

/// What Prometheus asks for (its scrapes send `Accept: application/openmetrics-text`): the
/// format `prometheus-client` writes.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Prometheus's classic text format, for everyone else (curl, the text parsers).
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition formats served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    /// Text format 0.0.4: OpenMetrics as written, except that a counter's HELP and TYPE lines
    /// name its `_total` samples (0.0.4 parsers match families by exact name) and there is
    /// no `# EOF`.
    PrometheusText,
}

/// Serves `/metrics`: 503 until the broker is ready. OpenMetrics when the client accepts it,
/// the classic text format otherwise.
pub async fn serve(state: &HttpState, req: &HttpRequest) -> HttpResponse {
    let Some(broker) = state.broker().cloned() else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: recovering logs\n".into(),
        );
    };
    let format = match req.headers().get(http::header::ACCEPT) {
        Some(accept)
            if accept
                .as_bytes()
                .windows(19)
                .any(|w| w == b"application/openmet") =>
        {
            Format::OpenMetrics
        }
        _ => Format::PrometheusText,
    };
    // Reading the group coordinator waits on its thread: off the async workers.
    match tokio::task::spawn_blocking(move || render(&broker, format)).await {
        Ok(Ok(body)) => {
            let content_type = match format {
                Format::OpenMetrics => OPENMETRICS,
                Format::PrometheusText => PROMETHEUS_TEXT,
            };
            respond(StatusCode::OK, content_type, Bytes::from(body))
        }
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// The whole exposition. Blocks briefly on the group coordinator.
pub fn render(broker: &Broker, format: Format) -> Result<String, std::fmt::Error> {
    encode(gather(broker), format)
}

fn encode(scrape: Scrape, format: Format) -> Result<String, std::fmt::Error> {
    let counters: Vec<&'static str> = scrape
        .families
        .iter()
        .filter(|f| matches!(f.values, Values::Counter(_)))
        .map(|f| f.name)
        .collect();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    if format == Format::OpenMetrics {
        return Ok(out);
    }
    let renamed = |line: &str| -> Option<String> {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ')?;
            return counters
                .contains(&name)
                .then(|| format!("# HELP {name}_total {help}"));
        }
        let name = line.strip_prefix("# TYPE ")?.strip_suffix(" counter")?;
        counters
            .contains(&name)
            .then(|| format!("# TYPE {name}_total counter"))
    };
    let mut text = String::with_capacity(out.len() + 16 * counters.len());
    for line in out.lines().filter(|l| *l != "# EOF") {
        text.push_str(renamed(line).as_deref().unwrap_or(line));
        text.push('\n');
    }
    Ok(text)
}

/// A label set: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;

#[derive(Debug)]
enum Values {
    Counter(Vec<(Labels, u64)>),
    Gauge(Vec<(Labels, i64)>),
    /// Latency histograms in milliseconds.
    HistogramMs(Vec<(Labels, HistogramSnapshot)>),
}

/// One metric family, read and ready to encode.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    values: Values,
}

/// Everything one scrape read.
#[derive(Debug, Default)]
struct Scrape {
    families: Vec<Family>,
}

impl Scrape {
    fn counter(&mut self, name: &'static str, help: &'static str, v: Vec<(Labels, u64)>) {
        self.families.push(Family {
            name,
            help,
            values: Values::Counter(v),
        });
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, v: Vec<(Labels, i64)>) {
        self.families.push(Family {
            name,
            help,
            values: Values::Gauge(v),
        });
    }

    fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        v: Vec<(Labels, HistogramSnapshot)>,
    ) {
        self.families.push(Family {
            name,
            help,
            values: Values::HistogramMs(v),
        });
    }
}

fn label(name: &'static str, value: impl ToString) -> (&'static str, String) {
    (name, value.to_string())
}

fn api_name(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(api) => format!("{api:?}"),
        Err(_) => key.to_string(),
    }
}

/// Reads the broker's state into metric families.
fn gather(broker: &Broker) -> Scrape {
    let mut s = Scrape::default();
    requests(broker, &mut s);
    network(broker, &mut s);
    partitions(broker, &mut s);
    groups(broker, &mut s);
    log_activity(broker, &mut s);
    s
}

fn requests(broker: &Broker, s: &mut Scrape) {
    let counts = broker.metrics.requests.counts();
    let by_version = |errors: bool| -> Vec<(Labels, u64)> {
        counts
            .iter()
            .map(|c| {
                let labels = vec![
                    label("request", api_name(c.api_key)),
                    label("version", c.version),
                ];
                (labels, if errors { c.errors } else { c.requests })
            })
            .collect()
    };
    s.counter(
        "kafka_network_requestmetrics_requests",
        "Requests served, per API and version (Kafka's RequestsPerSec).",
        by_version(false),
    );
    s.counter(
        "kafka_network_requestmetrics_errors",
        "Requests whose response carried an error code or that closed the connection, per API and version.",
        by_version(true),
    );
    let mut keys: Vec<i16> = counts.iter().map(|c| c.api_key).collect();
    keys.dedup();
    let latency = keys
        .into_iter()
        .filter_map(|k| {
            let h = broker.metrics.requests.latency(k)?;
            Some((vec![label("request", api_name(k))], h))
        })
        .collect();
    s.histogram(
        "kafka_network_requestmetrics_totaltimems",
        "Time from a request's last byte read to its response written, in milliseconds (Kafka's TotalTimeMs).",
        latency,
    );
}

fn network(broker: &Broker, s: &mut Scrape) {
    let listeners = broker.metrics.connections.counts();
    s.gauge(
        "kafka_server_socket_server_metrics_connection_count",
        "Open client connections, per listener.",
        listeners
            .iter()
            .map(|l| (vec![label("listener", &l.listener)], l.open))
            .collect(),
    );
    s.counter(
        "kafka_server_socket_server_metrics_connection_creation",
        "Client connections accepted, per listener.",
        listeners
            .iter()
            .map(|l| (vec![label("listener", &l.listener)], l.accepted))
            .collect(),
    );
    if let Some((used, total)) = broker.metrics.request_memory() {
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        s.gauge(
            "kafka_network_socketserver_memorypoolused",
            "Bytes of requests held in memory (queued.max.request.bytes budget in use).",
            vec![(vec![], clamp(used))],
        );
        s.gauge(
            "kafka_network_socketserver_memorypoolavailable",
            "Bytes of the request-memory budget free.",
            vec![(vec![], clamp(total.saturating_sub(used)))],
        );
    }
}

fn partitions(broker: &Broker, s: &mut Scrape) {
    let mut bytes_in = Vec::new();
    let mut messages_in = Vec::new();
    let mut bytes_out = Vec::new();
    let mut size = Vec::new();
    let mut segments = Vec::new();
    let mut end = Vec::new();
    let mut start = Vec::new();
    let (mut count, mut offline) = (0i64, 0i64);
    let mut topics = broker.topics.all();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &topics {
        let (mut t_in, mut t_msgs, mut t_out) = (0u64, 0u64, 0u64);
        for p in &t.partitions {
            count += 1;
            t_in += read(&p.traffic.bytes_in);
            t_msgs += read(&p.traffic.messages_in);
            t_out += read(&p.traffic.bytes_out);
            let labels = || vec![label("topic", &t.name), label("partition", p.index)];
            let log = p.log();
            if log.offline().is_some() {
                offline += 1;
            }
            size.push((
                labels(),
                i64::try_from(log.size_in_bytes()).unwrap_or(i64::MAX),
            ));
            segments.push((labels(), log.segment_count() as i64));
            end.push((labels(), log.log_end_offset()));
            start.push((labels(), log.log_start_offset()));
        }
        bytes_in.push((vec![label("topic", &t.name)], t_in));
        messages_in.push((vec![label("topic", &t.name)], t_msgs));
        bytes_out.push((vec![label("topic", &t.name)], t_out));
    }
    s.counter(
        "kafka_server_brokertopicmetrics_bytesin",
        "Bytes appended to the topic (produced, and the coordinators' own records), as received.",
        bytes_in,
    );
    s.counter(
        "kafka_server_brokertopicmetrics_messagesin",
        "Records appended to the topic.",
        messages_in,
    );
    s.counter(
        "kafka_server_brokertopicmetrics_bytesout",
        "Record bytes Fetch responses carried from the topic.",
        bytes_out,
    );
    s.gauge(
        "kafka_log_log_size",
        "Bytes of the partition's segments.",
        size,
    );
    s.gauge(
        "kafka_log_log_numlogsegments",
        "Segments of the partition.",
        segments,
    );
    s.gauge(
        "kafka_log_log_logendoffset",
        "The partition's log end offset.",
        end,
    );
    s.gauge(
        "kafka_log_log_logstartoffset",
        "The partition's log start offset.",
        start,
    );
    s.gauge(
        "kafka_server_replicamanager_partitioncount",
        "Partitions on this broker.",
        vec![(vec![], count)],
    );
    s.gauge(
        "kafka_server_replicamanager_leadercount",
        "Partitions this broker leads (all of them: a single node).",
        vec![(vec![], count)],
    );
    s.gauge(
        "kafka_server_replicamanager_underreplicatedpartitions",
        "Partitions with fewer in-sync replicas than replicas (0: a single node, one replica each).",
        vec![(vec![], 0)],
    );
    s.gauge(
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "Partitions whose log is offline (damage or a storage error).",
        vec![(vec![], offline)],
    );
}

fn groups(broker: &Broker, s: &mut Scrape) {
    let lag_labels = |l: &PartitionLag| {
        vec![
            label("group", &l.group),
            label("topic", &l.topic),
            label("partition", l.partition),
        ]
    };
    // One read of the coordinator: the lag and the group counts describe the same moment.
    let Some(snapshot) = groups_snapshot(broker) else {
        return;
    };
    let lags = lag_from(broker, snapshot.committed);
    s.gauge(
        "kafka_consumergroup_lag",
        "The partition's high watermark minus the group's committed offset.",
        lags.iter().map(|l| (lag_labels(l), l.lag)).collect(),
    );
    s.gauge(
        "kafka_consumergroup_current_offset",
        "The group's committed offset for the partition.",
        lags.iter().map(|l| (lag_labels(l), l.committed)).collect(),
    );
    let state = |name: &str| snapshot.states.get(name).copied().unwrap_or(0) as i64;
    let total: i64 = snapshot.states.values().map(|n| *n as i64).sum();
    s.gauge(
        "kafka_coordinator_group_groupmetadatamanager_numgroups",
        "Consumer groups.",
        vec![(vec![], total)],
    );
    for (name, help, kafka_state) in [
        (
            "kafka_coordinator_group_groupmetadatamanager_numgroupsstable",
            "Groups in state Stable.",
            "Stable",
        ),
        (
            "kafka_coordinator_group_groupmetadatamanager_numgroupspreparingrebalance",
            "Groups in state PreparingRebalance.",
            "PreparingRebalance",
        ),
        (
            "kafka_coordinator_group_groupmetadatamanager_numgroupscompletingrebalance",
            "Groups in state CompletingRebalance.",
            "CompletingRebalance",
        ),
        (
            "kafka_coordinator_group_groupmetadatamanager_numgroupsempty",
            "Groups in state Empty.",
            "Empty",
        ),
        (
            "kafka_coordinator_group_groupmetadatamanager_numgroupsdead",
            "Groups in state Dead.",
            "Dead",
        ),
    ] {
        s.gauge(name, help, vec![(vec![], state(kafka_state))]);
    }
}

fn log_activity(broker: &Broker, s: &mut Scrape) {
    let services = &broker.metadata.services;
    let flush = services.flusher.stats();
    s.histogram(
        "kafka_log_logflushstats_logflushrateandtimems",
        "Time to fsync a partition's dirty files, in milliseconds (the group-commit flusher).",
        vec![(vec![], flush.fsync.snapshot())],
    );
    let one = |v: u64| vec![(Labels::new(), v)];
    s.counter(
        "vltava_log_flush_failures",
        "fsyncs that failed.",
        one(read(&flush.failures)),
    );
    let m = services.log_manager.stats();
    for (name, help, value) in [
        (
            "vltava_log_retention_checks",
            "Retention checks of a partition (one per partition per log.retention.check.interval.ms).",
            &m.retention_checks,
        ),
        (
            "vltava_log_retention_segments_deleted",
            "Segments deleted by retention (retention.ms, retention.bytes, log start offset).",
            &m.retention_segments_deleted,
        ),
        (
            "vltava_log_retention_failures",
            "Retention checks that failed.",
            &m.retention_failures,
        ),
        (
            "vltava_log_cleaner_runs",
            "Cleaner passes that compacted a log.",
            &m.cleaner_runs,
        ),
        (
            "vltava_log_cleaner_records_read",
            "Records the cleaner read.",
            &m.cleaner_records_read,
        ),
        (
            "vltava_log_cleaner_records_removed",
            "Records the cleaner removed (superseded keys, expired tombstones).",
            &m.cleaner_records_removed,
        ),
        (
            "vltava_log_cleaner_failures",
            "Cleaner passes that failed.",
            &m.cleaner_failures,
        ),
    ] {
        s.counter(name, help, one(read(value)));
    }
}

impl prometheus_client::collector::Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            let kind = match f.values {
                Values::Counter(_) => MetricType::Counter,
                Values::Gauge(_) => MetricType::Gauge,
                Values::HistogramMs(_) => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            match &f.values {
                Values::Counter(samples) => {
                    for (labels, v) in samples {
                        with_labels(&mut metric, labels, |m| {
                            m.encode_counter::<NoLabelSet, _, u64>(v, None)
                        })?;
                    }
                }
                Values::Gauge(samples) => {
                    for (labels, v) in samples {
                        with_labels(&mut metric, labels, |m| m.encode_gauge(v))?;
                    }
                }
                Values::HistogramMs(samples) => {
                    for (labels, h) in samples {
                        let buckets = histogram_buckets_ms(h);
                        let sum_ms = h.sum_us as f64 / 1000.0;
                        with_labels(&mut metric, labels, |m| {
                            m.encode_histogram::<NoLabelSet>(sum_ms, h.count, &buckets, None)
                        })?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Encodes one sample, with its labels when it has any (`name{} 1` is legal but noisy).
fn with_labels(
    metric: &mut MetricEncoder<'_>,
    labels: &Labels,
    encode: impl FnOnce(&mut MetricEncoder<'_>) -> Result<(), std::fmt::Error>,
) -> Result<(), std::fmt::Error> {
    if labels.is_empty() {
        encode(metric)
    } else {
        encode(&mut metric.encode_family(labels)?)
    }
}

/// (upper bound in ms, observations in that bucket); the last bound is +Inf (`f64::MAX` to
/// the encoder).
fn histogram_buckets_ms(h: &HistogramSnapshot) -> Vec<(f64, u64)> {
    LATENCY_BOUNDS_US
        .iter()
        .map(|us| *us as f64 / 1000.0)
        .chain(std::iter::once(f64::MAX))
        .zip(h.buckets.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::stats::LatencyHistogram;

    fn sample() -> Scrape {
        let mut s = Scrape::default();
        s.counter(
            "x_requests",
            "Requests.",
            vec![(vec![label("request", "Produce")], 3)],
        );
        s.gauge("x_partitions", "Partitions.", vec![(vec![], 7)]);
        let h = LatencyHistogram::new();
        h.record(std::time::Duration::from_micros(200));
        h.record(std::time::Duration::from_secs(20));
        s.histogram("x_time_ms", "Time.", vec![(vec![], h.snapshot())]);
        s
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let text = encode(sample(), Format::PrometheusText).unwrap();
        assert!(
            text.contains("# HELP x_requests_total Requests.\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE x_requests_total counter\n"), "{text}");
        assert!(
            text.contains("x_requests_total{request=\"Produce\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE x_partitions gauge\nx_partitions 7\n"),
            "{text}"
        );
        assert!(text.contains("x_time_ms_count 2\n"), "{text}");
        assert!(text.contains("x_time_ms_bucket{le=\"0.25\"} 1\n"), "{text}");
        assert!(
            text.contains("x_time_ms_bucket{le=\"10000.0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("x_time_ms_bucket{le=\"+Inf\"} 2\n"), "{text}");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_is_the_crate_s_own_output() {
        let text = encode(sample(), Format::OpenMetrics).unwrap();
        assert!(text.contains("# TYPE x_requests counter\n"), "{text}");
        assert!(
            text.contains("x_requests_total{request=\"Produce\"} 3\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
