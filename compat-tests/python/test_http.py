"""The HTTP listener (`vltava.http.listener`): /health and /ready, bounded request bodies."""
import http.client

from conftest import free_port


def http_broker(broker_factory, **kwargs):
    port = free_port()
    overrides = dict(kwargs.pop("overrides", {}))
    overrides["vltava.http.listener"] = f"127.0.0.1:{port}"
    b = broker_factory(overrides=overrides, **kwargs)
    return b, port


def get(port, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("content-type"), r.read()
    finally:
        c.close()


def test_health_and_ready_answer_once_the_broker_serves(broker_factory):
    _, port = http_broker(broker_factory)
    assert get(port, "/health") == (200, "text/plain; charset=utf-8", b"ok\n")
    assert get(port, "/ready") == (200, "text/plain; charset=utf-8", b"ready\n")
    status, _, body = get(port, "/no-such-page")
    assert status == 404 and b"/no-such-page" in body


def test_request_bodies_are_bounded(broker_factory):
    b, port = http_broker(broker_factory)
    status, _, _ = get(port, "/health", method="POST", body=b"x" * (2 << 20))
    assert status == 413
    # The listener and the broker carry on.
    assert get(port, "/health")[0] == 200
    assert b.running()


# --- /metrics -------------------------------------------------------------------------------

def wait_ready(port, timeout=10.0):
    """The Kafka port accepts connections before the logs are open: wait for /ready."""
    import time
    deadline = time.monotonic() + timeout
    while get(port, "/ready")[0] != 200:
        assert time.monotonic() < deadline, "/ready never answered 200"
        time.sleep(0.05)


def scrape(port):
    """/metrics parsed by the Prometheus project's own text parser: {name: family}."""
    from prometheus_client.parser import text_string_to_metric_families
    status, content_type, body = get(port, "/metrics")
    assert status == 200, body
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(families, name, sample_name=None, **labels):
    """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
    family = families.get(name)
    if family is None:
        return 0
    wanted = sample_name or name
    return sum(s.value for s in family.samples
               if s.name == wanted and all(s.labels.get(k) == v for k, v in labels.items()))


def histogram(families, name, **labels):
    """(count, [(le, cumulative count)]) of one histogram series."""
    family = families[name]
    assert family.type == "histogram"
    count = value(families, name, f"{name}_count", **labels)
    buckets = [(float(s.labels["le"]), s.value) for s in family.samples
               if s.name == f"{name}_bucket" and all(s.labels.get(k) == v for k, v in labels.items())]
    return count, buckets


def test_metrics_parse_and_move_with_traffic(broker_factory, topic):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from groups_support import create_topic

    # An fsync per append, so the fsync histogram moves too.
    b, port = http_broker(broker_factory, overrides={"log.flush.interval.messages": "1"})
    wait_ready(port)
    create_topic(b, topic, 1)
    before = scrape(port)
    assert before["kafka_network_requestmetrics_requests"].type == "counter"

    records, payload = 12, b"v" * 1000
    producer = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for _ in range(records):
        producer.produce(topic, payload)
        assert producer.flush(10) == 0  # one Produce request per record
    group = f"{topic}-group"
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    consumed = []
    while len(consumed) < records:
        m = consumer.poll(10)
        assert m is not None, f"consumed {len(consumed)} of {records}"
        assert m.error() is None, m.error()
        consumed.append(m)
    committed = 5
    consumer.commit(offsets=[TopicPartition(topic, 0, committed)], asynchronous=False)
    after = scrape(port)

    requests = "kafka_network_requestmetrics_requests"
    produced = (value(after, requests, f"{requests}_total", request="Produce")
                - value(before, requests, f"{requests}_total", request="Produce"))
    assert produced >= records
    fetched = (value(after, requests, f"{requests}_total", request="Fetch")
               - value(before, requests, f"{requests}_total", request="Fetch"))
    assert fetched >= 1
    bytes_in = "kafka_server_brokertopicmetrics_bytesin"
    assert value(after, bytes_in, f"{bytes_in}_total", topic=topic) >= records * len(payload)
    assert value(before, bytes_in, f"{bytes_in}_total", topic=topic) == 0
    bytes_out = "kafka_server_brokertopicmetrics_bytesout"
    assert value(after, bytes_out, f"{bytes_out}_total", topic=topic) >= records * len(payload)
    messages_in = "kafka_server_brokertopicmetrics_messagesin"
    assert value(after, messages_in, f"{messages_in}_total", topic=topic) == records

    latency = "kafka_network_requestmetrics_totaltimems"
    count_before, _ = histogram(before, latency, request="Produce")
    count_after, buckets = histogram(after, latency, request="Produce")
    assert count_after - count_before >= records
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), f"buckets are not cumulative: {buckets}"
    assert buckets[-1] == (float("inf"), count_after)

    fsync, _ = histogram(after, "kafka_log_logflushstats_logflushrateandtimems")
    assert fsync >= records

    assert value(after, "kafka_log_log_logendoffset", topic=topic, partition="0") == records
    assert value(after, "kafka_log_log_size", topic=topic, partition="0") > records * len(payload)
    assert value(after, "kafka_server_replicamanager_partitioncount") >= 1
    assert value(after, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert value(after, "kafka_server_socket_server_metrics_connection_count",
                 listener="PLAINTEXT") >= 2

    lag = "kafka_consumergroup_lag"
    assert value(after, lag, group=group, topic=topic, partition="0") == records - committed
    assert value(after, "kafka_consumergroup_current_offset",
                 group=group, topic=topic, partition="0") == committed

    consumer.commit(offsets=[TopicPartition(topic, 0, records)], asynchronous=False)
    caught_up = scrape(port)
    assert value(caught_up, lag, group=group, topic=topic, partition="0") == 0
    consumer.close()


def test_metrics_speak_openmetrics_to_prometheus(broker_factory):
    """Prometheus asks for OpenMetrics; the OpenMetrics parser reads the same families."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    _, port = http_broker(broker_factory)
    wait_ready(port)
    status, content_type, body = get(port, "/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["kafka_network_requestmetrics_requests"].type == "counter"
    assert families["kafka_network_requestmetrics_totaltimems"].type == "histogram"
    assert families["kafka_server_replicamanager_partitioncount"].type == "gauge"
    assert get(port, "/metrics", method="POST")[0] == 404


def test_a_loopback_listener_refuses_other_host_names(broker_factory):
    # DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 sends its own Host header.
    _, port = http_broker(broker_factory)
    status, _, body = get(port, "/health", headers={"Host": "evil.example"})
    assert status == 403 and b"localhost" in body
    assert get(port, "/health", headers={"Host": f"localhost:{port}"})[0] == 200
