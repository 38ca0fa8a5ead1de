"""Client quotas with Kafka's own tool and a real client: `kafka-configs.sh` sets, describes and
deletes quotas of client ids, users and their defaults (AlterClientQuotas/DescribeClientQuotas),
and confluent-kafka (librdkafka) producing over a low `producer_byte_rate` is told it is
throttled (its `throttle_cb` reports the broker's throttle time). Each scenario runs against
Vltava and against a real Kafka 4.4.0 (the `real_kafka` fixture), which must print the same.
"""
import re
import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.producer.produce import ProduceRequest, ProduceResponse
from kafka.record.memory_records import MemoryRecordsBuilder

from raw_client import RawClient
from test_tools import kafka_tools, tool  # noqa: F401

QUOTA_LINE = re.compile(r"^Quota configs for (?P<entity>.+) are (?P<values>.*)$")


def quotas(out: str) -> dict[str, dict[str, float]]:
    """{entity text: {key: value}} from `kafka-configs --describe` of client quotas."""
    found = {}
    for m in map(QUOTA_LINE.match, out.splitlines()):
        if m:
            found[m["entity"]] = {k: float(v) for k, v in
                                  (p.split("=", 1) for p in m["values"].split(", ") if p)}
    return found


def target_bootstrap(request, target: str) -> str:
    return (request.getfixturevalue("broker") if target == "vltava"
            else request.getfixturevalue("real_kafka")).bootstrap


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_kafka_configs_client_quotas(request, kafka_tools, target):  # noqa: F811
    bs = ("kafka-configs", "--bootstrap-server", target_bootstrap(request, target))
    c1 = f"c1-{uuid.uuid4().hex[:8]}"
    client = (*bs, "--entity-type", "clients", "--entity-name", c1)
    default_client = (*bs, "--entity-type", "clients", "--entity-default")

    r = tool(*client, "--alter", "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048")
    assert r.lines == [f"Completed updating config for client {c1}."], r
    r = tool(*client, "--describe")
    assert quotas(r.out) == {f"client-id '{c1}'": {"producer_byte_rate": 1024.0,
                                                   "consumer_byte_rate": 2048.0}}, r

    r = tool(*default_client, "--alter", "--add-config", "request_percentage=50")
    assert r.lines == ["Completed updating default config for clients in the cluster."], r
    r = tool(*default_client, "--describe")
    assert quotas(r.out) == {"the default client-id": {"request_percentage": 50.0}}, r

    # Every client-id entity.
    got = quotas(tool(*bs, "--entity-type", "clients", "--describe").out)
    assert got[f"client-id '{c1}'"] == {"producer_byte_rate": 1024.0, "consumer_byte_rate": 2048.0}
    assert got["the default client-id"] == {"request_percentage": 50.0}

    r = tool(*client, "--alter", "--delete-config", "producer_byte_rate")
    assert r.lines == [f"Completed updating config for client {c1}."], r
    assert quotas(tool(*client, "--describe").out) == {
        f"client-id '{c1}'": {"consumer_byte_rate": 2048.0}}

    tool(*client, "--alter", "--delete-config", "consumer_byte_rate")
    tool(*default_client, "--alter", "--delete-config", "request_percentage")
    assert quotas(tool(*client, "--describe").out) == {}
    assert quotas(tool(*default_client, "--describe").out) == {}

    # An unknown key is refused by the broker (the tool passes quota keys through).
    r = tool(*client, "--alter", "--add-config", "producer_byte_rate=1.5", ok=False)
    assert "producer_byte_rate cannot be a fractional value." in r.out + r.err, r


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_kafka_configs_user_and_client_quotas(request, kafka_tools, target):  # noqa: F811
    bs = ("kafka-configs", "--bootstrap-server", target_bootstrap(request, target))
    alice = f"alice-{uuid.uuid4().hex[:8]}"
    both = (*bs, "--entity-type", "users", "--entity-name", alice,
            "--entity-type", "clients", "--entity-name", "c1")
    r = tool(*both, "--alter", "--add-config", "producer_byte_rate=4096")
    # The tool names only the user here (its own text, the same against Kafka).
    assert r.lines == [f"Completed updating config for user {alice}."], r
    r = tool(*both, "--describe")
    assert quotas(r.out) == {f"user-principal '{alice}', client-id 'c1'":
                             {"producer_byte_rate": 4096.0}}, r
    r = tool(*bs, "--entity-type", "users", "--entity-default", "--alter",
             "--add-config", "consumer_byte_rate=1000")
    assert r.lines == ["Completed updating default config for users in the cluster."], r
    tool(*both, "--alter", "--delete-config", "producer_byte_rate")
    tool(*bs, "--entity-type", "users", "--entity-default", "--alter",
         "--delete-config", "consumer_byte_rate")
    assert quotas(tool(*both, "--describe").out) == {}


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_confluent_producer_over_quota_is_throttled(request, kafka_tools, target):  # noqa: F811
    bootstrap = target_bootstrap(request, target)
    client_id = f"throttled-{uuid.uuid4().hex[:8]}"
    topic = f"quota-{uuid.uuid4().hex[:8]}"
    tool("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "clients",
         "--entity-name", client_id, "--alter", "--add-config", "producer_byte_rate=4096")
    events = []
    p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 0,
                  "throttle_cb": lambda e: events.append(e.throttle_time)})
    delivered = []
    value = b"q" * 8192
    # 4 KiB/s measured over Kafka's 10 s window: about 40 KiB pass, then the broker throttles.
    for i in range(12):
        p.produce(topic, value, on_delivery=lambda err, msg: delivered.append(err))
        p.flush(60)
        if events:
            break
    deadline_polls = 20
    while not events and deadline_polls:
        p.poll(0.5)
        deadline_polls -= 1
    assert delivered and all(e is None for e in delivered), delivered
    assert events, f"no throttle reported after {len(delivered)} records of 8 KiB"
    assert all(t > 0 for t in events), events


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_kafka_configs_user_quotas(request, kafka_tools, target):  # noqa: F811
    bs = ("kafka-configs", "--bootstrap-server", target_bootstrap(request, target))
    bob = f"bob-{uuid.uuid4().hex[:8]}"
    user = (*bs, "--entity-type", "users", "--entity-name", bob)
    r = tool(*user, "--alter", "--add-config", "producer_byte_rate=1024,request_percentage=25.5")
    assert r.lines == [f"Completed updating config for user {bob}."], r
    r = tool(*user, "--describe")
    assert quotas(r.out) == {f"user-principal '{bob}'": {"producer_byte_rate": 1024.0,
                                                         "request_percentage": 25.5}}, r
    tool(*user, "--alter", "--delete-config", "producer_byte_rate,request_percentage")
    assert quotas(tool(*user, "--describe").out) == {}


# ---------------------------------------------------------------------------------------------
# A sustained producer over its quota is held to it (issue 12: "slowed to within 10% of the
# quota, and its responses carry throttle times").
#
# How the rate is measured, the same for both brokers: Kafka limits Produce *request* bytes
# (header and body) over its sampled window — `quota.window.num` samples of
# `quota.window.size.seconds`, measured over at least num - 1 windows — and each request that
# takes the rate over the quota is throttled until it is back at the quota. A producer that
# always has data does not run evenly under that window: it bursts a window's worth, is
# throttled, and bursts again when the sample holding the burst expires (with Kafka's defaults
# the cycle is 11 s, see benches/quota_throttle.py). So the brokers run with 2 samples of 1 s
# (a 2 s cycle, several in a 10 s run), the producer is a raw client sending one request at a
# time whatever the throttle (the broker's muting alone holds it back), and the rate is the
# request bytes sent between two moments the broker has just let the client go (the end of a
# throttle), after the start-up allowance: there the broker's own measure is at the quota.

WINDOW_OVERRIDES = {"quota.window.num": "2", "quota.window.size.seconds": "1"}
SUSTAINED_QUOTA = 200_000
SUSTAINED_SECONDS = 10.0


@pytest.fixture(scope="module")
def short_window_kafka(tmp_path_factory):
    from real_kafka import TEST_OVERRIDES, RealKafka
    k = RealKafka(tmp_path_factory.mktemp("real-kafka-quota"),
                  overrides={**TEST_OVERRIDES, **WINDOW_OVERRIDES})
    try:
        k.start()
    except RuntimeError as e:
        pytest.fail(f"real Kafka did not start: {e}")
    yield k
    k.stop()


def record_batch(count: int, size: int) -> bytes:
    b = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=10 ** 7)
    now_ms = int(time.time() * 1000)
    for _ in range(count):
        b.append(timestamp=now_ms, key=None, value=b"q" * size)
    b.close()
    return bytes(b.buffer())


def sustained_produce(bootstrap: str, client_id: str, topic: str, seconds: float) -> list:
    """Produce v9 requests of 15 records of 1 KiB back to back for `seconds`; returns
    [(sent, answered, request bytes, throttle_time_ms)], times from the start."""
    records = record_batch(15, 1024)
    log = []
    with RawClient(bootstrap, client_id=client_id) as c:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            sent = time.monotonic() - start
            r = c.call(ProduceRequest, ProduceResponse, 9, transactional_id=None, acks=1,
                       timeout_ms=10000, topic_data=[{"name": topic, "partition_data": [
                           {"index": 0, "records": records}]}])
            errors = [p.error_code for t in r.responses for p in t.partition_responses]
            assert errors == [0], r
            log.append((sent, time.monotonic() - start, c.last_request_bytes, r.throttle_time_ms))
    return log


def rate_between_throttle_ends(log: list, after: float) -> tuple[float, float]:
    """Request bytes per second between the first throttle ending after `after` and the last
    one, and the span measured."""
    ends = [(answered + throttle_ms / 1000, i) for i, (_, answered, _, throttle_ms)
            in enumerate(log) if throttle_ms > 0 and answered >= after]
    assert len(ends) >= 2, f"too few throttled responses after {after} s: {log}"
    (t_a, i_a), (t_b, i_b) = ends[0], ends[-1]
    sent = sum(size for _, _, size, _ in log[i_a + 1:i_b + 1])
    return sent / (t_b - t_a), t_b - t_a


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_sustained_producer_is_held_to_its_quota(request, broker_factory, kafka_tools,  # noqa: F811
                                                 target):
    if target == "vltava":
        bootstrap = broker_factory(overrides=WINDOW_OVERRIDES).bootstrap
    else:
        bootstrap = request.getfixturevalue("short_window_kafka").bootstrap
    client_id = f"sustained-{uuid.uuid4().hex[:8]}"
    topic = f"quota-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    tool("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "clients",
         "--entity-name", client_id, "--alter", "--add-config",
         f"producer_byte_rate={SUSTAINED_QUOTA}")
    time.sleep(1)  # Kafka applies the quota record from its metadata log asynchronously

    log = sustained_produce(bootstrap, client_id, topic, SUSTAINED_SECONDS)
    throttled = [t for *_, t in log if t > 0]
    # Throttle times are in the responses, and they are what holds the producer back.
    assert len(throttled) > len(log) / 4, log
    assert max(throttled) <= 3000, throttled
    # After the start-up allowance (one window), measured over about 8 s of whole throttles.
    rate, span = rate_between_throttle_ends(log, after=2.0)
    assert span >= SUSTAINED_SECONDS - 4, (span, log)
    assert abs(rate / SUSTAINED_QUOTA - 1) <= 0.10, (rate, log)
    # And by the wall clock from 2 s to the end of the run.
    wall = sum(size for sent, _, size, _ in log if sent >= 2.0) / (SUSTAINED_SECONDS - 2.0)
    assert abs(wall / SUSTAINED_QUOTA - 1) <= 0.10, (wall, log)
