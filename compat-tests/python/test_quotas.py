"""Client quotas with Kafka's own tool and a real client: `kafka-configs.sh` sets, describes and
deletes quotas of client ids, users and their defaults (AlterClientQuotas/DescribeClientQuotas),
and confluent-kafka (librdkafka) producing over a low `producer_byte_rate` is told it is
throttled (its `throttle_cb` reports the broker's throttle time). Each scenario runs against
Vltava and against a real Kafka 4.4.0 (the `real_kafka` fixture), which must print the same.
"""
import re
import uuid

import pytest
from confluent_kafka import Producer

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
