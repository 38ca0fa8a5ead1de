"""Fault injection (`vltava.fault.injection.enable`, `/v1/faults`, `--fault`): each client family
sees exactly the injected error and recovers — the Java producer retrying through
NOT_LEADER_OR_FOLLOWER, a librdkafka consumer group through NOT_COORDINATOR on its commits,
kafka-python surfacing a non-retriable TOPIC_AUTHORIZATION_FAILED; injected delays hold only
their own connection; dropped connections are reconnected without losing or repeating records;
leaderless partitions and a full disk; the API refused when off or asked from afar."""
import http.client
import json
import logging
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import COMPAT_DIR, Broker, free_port, unique_topic

TIMEOUT = 60


def fault_broker(broker_factory, enable=True, allow_remote=None, http_host="127.0.0.1", **kwargs):
    port = free_port()
    overrides = dict(kwargs.pop("overrides", {}))
    overrides["vltava.http.listener"] = f"{http_host}:{port}"
    if enable is not None:
        overrides["vltava.fault.injection.enable"] = str(enable).lower()
    if allow_remote is not None:
        overrides["vltava.fault.injection.allow.remote"] = str(allow_remote).lower()
    b = broker_factory(overrides=overrides, **kwargs)
    return b, port


def call(port, method, path, body=None, host="127.0.0.1"):
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"content-type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        c.close()


def add_rule(port, rule) -> dict:
    status, body = call(port, "POST", "/v1/faults", rule)
    assert status == 201, (status, body)
    return body


def rule_state(port, rule_id) -> dict:
    status, body = call(port, "GET", f"/v1/faults/{rule_id}")
    assert status == 200, (status, body)
    return body


# ---- the control API ---------------------------------------------------------------------------

def test_rules_are_listed_with_their_counts_and_deleted(broker_factory):
    _, port = fault_broker(broker_factory)
    assert call(port, "GET", "/v1/faults") == (200, {"rules": []})
    r1 = add_rule(port, {"api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 3})
    assert r1["error"] == "NOT_LEADER_OR_FOLLOWER" and r1["error_code"] == 6
    assert r1["fired"] == 0 and r1["live"] is True
    r2 = add_rule(port, {"api": 12, "delay_ms": 100, "client_id": "me"})
    assert r2["api"] == "Heartbeat"
    status, listed = call(port, "GET", "/v1/faults")
    assert status == 200 and [r["id"] for r in listed["rules"]] == [r1["id"], r2["id"]]
    assert call(port, "DELETE", f"/v1/faults/{r1['id']}")[0] == 200
    assert call(port, "DELETE", f"/v1/faults/{r1['id']}")[0] == 404
    assert call(port, "DELETE", "/v1/faults") == (200, {"deleted": 1})
    # Refused with a reason: an unknown error, an API without a place for errors, a bad key.
    for bad, why in [
        ({"api": "Produce", "error": "NO_SUCH_ERROR"}, "no Kafka error named"),
        ({"api": "Metadata", "error": 6}, "cannot be injected"),
        ({"api": "Produce", "error": 6, "colour": "red"}, "unknown key"),
        ({"api": "Heartbeat", "error": 16, "topic": "t"}, "name no topic"),
    ]:
        status, body = call(port, "POST", "/v1/faults", bad)
        assert status == 400 and why in body["error"], (bad, status, body)


def test_the_api_is_off_unless_enabled(broker_factory):
    _, port = fault_broker(broker_factory, enable=None)
    status, body = call(port, "GET", "/v1/faults")
    assert status == 404 and "vltava.fault.injection.enable" in body["error"]
    status, _ = call(port, "POST", "/v1/faults", {"api": "Produce", "drop": True})
    assert status == 404


def non_loopback_address():
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for a in out.split():
        if "." in a and not a.startswith("127."):
            return a
    return None


@pytest.mark.parametrize("allow_remote", [False, True])
def test_remote_peers_are_refused_unless_allowed(broker_factory, allow_remote):
    address = non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    _, port = fault_broker(broker_factory, allow_remote=allow_remote, http_host="0.0.0.0")
    assert call(port, "GET", "/v1/faults")[0] == 200  # loopback: always
    status, body = call(port, "GET", "/v1/faults", host=address)
    if allow_remote:
        assert status == 200, body
    else:
        assert status == 403 and "loopback" in body["error"], (status, body)
        status, _ = call(port, "POST", "/v1/faults", {"api": "Produce", "drop": True}, host=address)
        assert status == 403
        assert call(port, "GET", "/v1/faults") == (200, {"rules": []})


def test_fault_flag_needs_the_enable_setting(tmp_path):
    b = Broker(tmp_path / "data")
    cmd = b.command() + ["--fault", "api=Produce,drop=true"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert "vltava.fault.injection.enable=true" in res.stderr


# ---- Java: a producer retrying through NOT_LEADER_OR_FOLLOWER ---------------------------------

@pytest.fixture(scope="module")
def java_cp() -> str:
    if shutil.which("java") is None:
        pytest.fail("java not found (Java 17 is required; setup.sh installs it)")
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "java"], capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        pytest.fail(f"setup.sh java failed:\n{res.stdout}\n{res.stderr}")
    return (COMPAT_DIR / "java" / "build" / "classpath").read_text().strip()


def test_java_producer_retries_through_not_leader(broker_factory, java_cp):
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-java")
    rule = add_rule(port, {"api": "Produce", "topic": topic, "count": 3,
                           "error": "NOT_LEADER_OR_FOLLOWER"})
    count = 20
    res = subprocess.run(["java", "-Xmx512m", "-cp", java_cp, "FaultProducer", b.bootstrap, topic,
                          str(count)], capture_output=True, text=True, timeout=180,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f"stdout:\n{res.stdout}\nstderr:\n{res.stderr[-4000:]}"
    lines = res.stdout.splitlines()
    acks = [tuple(map(int, l.split()[1:])) for l in lines if l.startswith("ack ")]
    assert acks == [(i, i) for i in range(count)], acks  # each record once, in order
    consumed = next(l for l in lines if l.startswith("consumed ")).split(" ", 1)[1].split(",")
    assert consumed == [str(i) for i in range(count)]
    metrics = {l.split()[1]: float(l.split()[2]) for l in lines if l.startswith("metric ")}
    assert metrics["record-retry-total"] == 3.0, metrics
    assert metrics["record-error-total"] == 0.0, metrics
    # The producer's own log names the injected error (Sender warns on each retry).
    assert res.stderr.count("NOT_LEADER_OR_FOLLOWER") >= 3, res.stderr[-4000:]
    state = rule_state(port, rule["id"])
    assert state["fired"] == 3 and state["live"] is False


# ---- librdkafka: a consumer group committing through NOT_COORDINATOR --------------------------

class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_librdkafka_producer_retries_through_not_leader(broker_factory):
    confluent_kafka = pytest.importorskip("confluent_kafka")
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-rdk-prod")
    p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap})
    p.produce(topic, value=b"warm-up")  # the topic exists before the rule
    assert p.flush(TIMEOUT) == 0
    rule = add_rule(port, {"api": "Produce", "topic": topic, "count": 3,
                           "error": "NOT_LEADER_OR_FOLLOWER"})
    results = []
    p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True,
                                  "retry.backoff.ms": 50})
    for i in range(10):
        p.produce(topic, value=str(i).encode(),
                  on_delivery=lambda err, msg: results.append((err, msg.value(), msg.offset())))
    assert p.flush(TIMEOUT) == 0
    # Every record acknowledged once, in order, right after the warm-up record.
    assert results == [(None, str(i).encode(), i + 1) for i in range(10)], results
    state = rule_state(port, rule["id"])
    assert state["fired"] == 3 and state["live"] is False


@pytest.mark.xfail(strict=False, reason="seen once under heavy machine load: after the injected "
                   "NOT_COORDINATOR librdkafka's retried commit met UNKNOWN_MEMBER_ID and then "
                   "ASSIGNMENT_LOST; not yet investigated (passes on an idle machine)")
def test_librdkafka_consumer_commits_through_not_coordinator(broker_factory):
    confluent_kafka = pytest.importorskip("confluent_kafka")
    b, port = fault_broker(broker_factory, name="coord")
    topic = unique_topic("fault-rdk")
    group = unique_topic("fault-rdk-group")
    p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap})
    for i in range(10):
        p.produce(topic, value=str(i).encode())
    assert p.flush(TIMEOUT) == 0

    log = logging.getLogger(f"rdkafka-{group}")
    log.setLevel(logging.DEBUG)
    captured = Captured()
    log.addHandler(captured)
    c = confluent_kafka.Consumer({
        "bootstrap.servers": b.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "debug": "cgrp", "logger": log,
    })
    try:
        c.subscribe([topic])
        got = []
        deadline = time.time() + TIMEOUT
        while len(got) < 10 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value().decode())
        assert got == [str(i) for i in range(10)]
        # The coordinator "moves": the next two commits are answered NOT_COORDINATOR.
        rule = add_rule(port, {"api": "OffsetCommit", "error": "NOT_COORDINATOR", "count": 2})
        errors = []
        committed = None
        deadline = time.time() + TIMEOUT
        while committed is None and time.time() < deadline:
            try:
                committed = c.commit(asynchronous=False)
            except confluent_kafka.KafkaException as e:
                errors.append(e.args[0].code())
                c.poll(0.2)
        assert committed is not None, errors
        assert all(e == confluent_kafka.KafkaError.NOT_COORDINATOR for e in errors), errors
        assert [(t.topic, t.partition, t.offset, t.error) for t in committed] == \
            [(topic, 0, 10, None)]
        state = rule_state(port, rule["id"])
        assert state["fired"] == 2 and state["live"] is False
        # librdkafka saw exactly the injected error and went looking for the coordinator again
        # (its log lines reach the logger from poll()).
        for _ in range(4):
            c.poll(0.25)
        seen = "\n".join(captured.lines)
        assert "NOT_COORDINATOR" in seen or "Not coordinator" in seen, seen[-4000:]
        assert [t.offset for t in c.committed([confluent_kafka.TopicPartition(topic, 0)],
                                              timeout=TIMEOUT)] == [10]
    finally:
        c.close()


# ---- kafka-python: a non-retriable error surfaces as exactly that error ------------------------

def test_kafka_python_sees_topic_authorization_failed_then_sends(broker_factory):
    kafka = pytest.importorskip("kafka")
    from kafka.errors import TopicAuthorizationFailedError
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-kp")
    admin = kafka.KafkaAdminClient(bootstrap_servers=b.bootstrap)
    admin.create_topics([kafka.admin.NewTopic(topic, 1, 1)])
    admin.close()
    rule = add_rule(port, {"api": "Produce", "topic": topic, "error": "TOPIC_AUTHORIZATION_FAILED"})
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, retries=5)
    try:
        with pytest.raises(TopicAuthorizationFailedError) as raised:
            p.send(topic, b"refused").get(timeout=TIMEOUT)
        assert raised.value.errno == 29
    finally:
        p.close()
    # kafka-python 3 treats an authorization error as fatal to that producer (it aborts its
    # batches); the application recovers with a new one once the rule is spent.
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, retries=5)
    try:
        md = p.send(topic, b"accepted").get(timeout=TIMEOUT)
        assert md.offset == 0  # the refused record was never written
    finally:
        p.close()
    assert rule_state(port, rule["id"])["fired"] == 1
    c = kafka.KafkaConsumer(topic, bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                            consumer_timeout_ms=3000)
    try:
        assert [m.value for m in c] == [b"accepted"]
    finally:
        c.close()


# ---- delays and dropped connections ------------------------------------------------------------

def test_a_delay_holds_only_its_own_connection(broker_factory):
    confluent_kafka = pytest.importorskip("confluent_kafka")
    b, port = fault_broker(broker_factory)
    slow, fast = unique_topic("fault-slow"), unique_topic("fault-fast")
    for t in (slow, fast):  # create both before the rule, so only the Produce is held
        p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap})
        p.produce(t, value=b"warm-up")
        assert p.flush(TIMEOUT) == 0
    rule = add_rule(port, {"api": "Produce", "topic": slow, "delay_ms": 2000})
    done = {}

    def send(topic, key):
        p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
        t0 = time.monotonic()
        p.produce(topic, value=key.encode(),
                  on_delivery=lambda err, msg: done.__setitem__(key, (err, msg.offset(),
                                                                     time.monotonic() - t0)))
        p.flush(TIMEOUT)

    t = threading.Thread(target=send, args=(slow, "slow"))
    t.start()
    time.sleep(0.3)
    send(fast, "fast")
    t.join()
    assert done["fast"][0] is None and done["fast"][1] == 1
    assert done["fast"][2] < 1.5, done  # another connection is not held up
    assert done["slow"][0] is None and done["slow"][1] == 1
    assert done["slow"][2] >= 1.9, done
    assert rule_state(port, rule["id"])["fired"] == 1


def test_a_dropped_connection_is_retried_without_duplicates(broker_factory):
    confluent_kafka = pytest.importorskip("confluent_kafka")
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-drop")
    p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap})
    p.produce(topic, value=b"first")
    assert p.flush(TIMEOUT) == 0
    rule = add_rule(port, {"api": "Produce", "topic": topic, "drop": True, "count": 2})
    results = []
    p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True,
                                  "reconnect.backoff.ms": 50})
    for i in range(5):
        p.produce(topic, value=str(i).encode(),
                  on_delivery=lambda err, msg: results.append((err, msg.value(), msg.offset())))
    assert p.flush(TIMEOUT) == 0
    assert [(e, v) for e, v, _ in results] == [(None, str(i).encode()) for i in range(5)]
    assert [o for _, _, o in results] == list(range(1, 6))
    assert rule_state(port, rule["id"])["fired"] == 2
    c = confluent_kafka.Consumer({"bootstrap.servers": b.bootstrap, "group.id": topic,
                                  "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        got = []
        deadline = time.time() + TIMEOUT
        while len(got) < 6 and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value())
        assert got == [b"first"] + [str(i).encode() for i in range(5)]
        assert c.poll(1.0) is None
    finally:
        c.close()


# ---- a leaderless partition, a full disk, a slow fsync ------------------------------------------

def test_a_leaderless_partition_holds_produce_until_its_leader_returns(broker_factory):
    confluent_kafka = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-leader")
    p = confluent_kafka.Producer({"bootstrap.servers": b.bootstrap})
    p.produce(topic, value=b"before")
    assert p.flush(TIMEOUT) == 0
    rule = add_rule(port, {"topic": topic, "partition": 0, "leader_unavailable_ms": 2000})
    t0 = time.monotonic()
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(topic, timeout=10)
    part = md.topics[topic].partitions[0]
    assert part.leader == -1
    assert part.error is not None and part.error.code() == confluent_kafka.KafkaError.LEADER_NOT_AVAILABLE
    done = []
    p.produce(topic, value=b"during",
              on_delivery=lambda err, msg: done.append((err, msg.offset(), time.monotonic() - t0)))
    assert p.flush(TIMEOUT) == 0
    assert done[0][0] is None and done[0][1] == 1, done
    assert done[0][2] >= 1.5, done  # held until the leader came back
    state = rule_state(port, rule["id"])
    assert state["fired"] >= 1 and state["live"] is False
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(topic, timeout=10)
    assert md.topics[topic].partitions[0].leader == 1


def test_kafka_python_sees_not_leader_while_the_leader_is_away(broker_factory):
    kafka = pytest.importorskip("kafka")
    from kafka.errors import NotLeaderForPartitionError
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-leader-kp")
    admin = kafka.KafkaAdminClient(bootstrap_servers=b.bootstrap)
    admin.create_topics([kafka.admin.NewTopic(topic, 1, 1)])
    admin.close()
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, retries=0)
    try:
        p.send(topic, b"warm-up").get(timeout=TIMEOUT)  # metadata known before the leader goes
        add_rule(port, {"topic": topic, "leader_unavailable_ms": 1500})
        with pytest.raises(NotLeaderForPartitionError):
            p.send(topic, b"refused").get(timeout=TIMEOUT)
        time.sleep(1.6)
        assert p.send(topic, b"accepted").get(timeout=TIMEOUT).offset == 1
    finally:
        p.close()


def test_a_full_disk_fails_produce_with_kafka_storage_error(broker_factory):
    kafka = pytest.importorskip("kafka")
    from kafka.errors import KafkaStorageError
    b, port = fault_broker(broker_factory)
    topic = unique_topic("fault-disk")
    admin = kafka.KafkaAdminClient(bootstrap_servers=b.bootstrap)
    admin.create_topics([kafka.admin.NewTopic(topic, 1, 1)])
    admin.close()
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, retries=0)
    try:
        assert p.send(topic, b"0").get(timeout=TIMEOUT).offset == 0
        add_rule(port, {"disk_full_ms": 1500})
        with pytest.raises(KafkaStorageError):
            p.send(topic, b"refused").get(timeout=TIMEOUT)
        time.sleep(1.6)
        # The partition stayed online: the next append lands right after the first.
        assert p.send(topic, b"1").get(timeout=TIMEOUT).offset == 1
    finally:
        p.close()
    c = kafka.KafkaConsumer(topic, bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                            consumer_timeout_ms=3000)
    try:
        assert [m.value for m in c] == [b"0", b"1"]
    finally:
        c.close()


def test_a_slow_fsync_holds_acks_all_produce(broker_factory):
    kafka = pytest.importorskip("kafka")
    b, port = fault_broker(broker_factory, overrides={"log.flush.interval.messages": "1"})
    topic = unique_topic("fault-fsync")
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    try:
        p.send(topic, b"warm-up").get(timeout=TIMEOUT)
        t0 = time.monotonic()
        p.send(topic, b"quick").get(timeout=TIMEOUT)
        quick = time.monotonic() - t0
        add_rule(port, {"fsync_delay_ms": 800, "duration_ms": 5000})
        t0 = time.monotonic()
        assert p.send(topic, b"slow").get(timeout=TIMEOUT).offset == 2
        slow = time.monotonic() - t0
    finally:
        p.close()
    assert quick < 0.5 and slow >= 0.75, (quick, slow)


def test_fault_flags_start_live(request, tmp_path):
    kafka = pytest.importorskip("kafka")
    from kafka.errors import TopicAuthorizationFailedError
    http_port = free_port()
    b = Broker(tmp_path / "data", overrides={"vltava.fault.injection.enable": "true",
                                             "vltava.http.listener": f"127.0.0.1:{http_port}"})
    command = b.command
    b.command = lambda: command() + [
        "--fault", "api=Produce,error=TOPIC_AUTHORIZATION_FAILED,topic=flagged",
        "--fault", "api=Heartbeat,delay_ms=10,count=5"]
    request.node._vltava_brokers = [b]
    b.start()
    try:
        status, listed = call(http_port, "GET", "/v1/faults")
        assert status == 200
        assert [(r["api"], r["count"]) for r in listed["rules"]] == [("Produce", 1), ("Heartbeat", 5)]
        p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap)
        try:
            with pytest.raises(TopicAuthorizationFailedError):
                p.send("flagged", b"x").get(timeout=TIMEOUT)
        finally:
            p.close()
        assert call(http_port, "GET", "/v1/faults")[1]["rules"][0]["fired"] == 1
    finally:
        b.stop()
