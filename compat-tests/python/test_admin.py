"""The admin surface with real clients: the Java Admin programs in compat-tests/java (what
kafka-topics.sh, kafka-configs.sh and the other tools do; retention and compaction) and
confluent-kafka's AdminClient (librdkafka): create_partitions, describe_configs, alter_configs,
incremental_alter_configs, delete_records, describe_cluster — plus durability across restarts."""
import time

import pytest
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewPartitions, NewTopic, OffsetSpec,
                                   ResourceType)

from conftest import unique_topic
from test_java import java_cp, run_java  # noqa: F401  (java_cp is a fixture)

# Background threads at test speed (Kafka's defaults are minutes).
FAST = {"log.retention.check.interval.ms": 200, "log.cleaner.backoff.ms": 200}
T = 30


def admin_for(broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(a: AdminClient, topic: str, partitions=1, config=None):
    fs = a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                   config=config or {})], request_timeout=T)
    fs[topic].result(T)


def describe(a: AdminClient, restype, name) -> dict:
    r = ConfigResource(restype, name)
    return a.describe_configs([r])[r].result(T)


def produce(broker, topic, n, partition=0, key=b"k"):
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(n):
        p.produce(topic, key=key, value=f"v{i}".encode(), partition=partition)
    assert p.flush(T) == 0


def earliest(a: AdminClient, topic, partition=0) -> int:
    tp = TopicPartition(topic, partition)
    return a.list_offsets({tp: OffsetSpec.earliest()})[tp].result(T).offset


def test_java_admin_topics_and_configs(broker, java_cp):  # noqa: F811
    out = run_java(java_cp, "AdminTopicsConfigs", broker.bootstrap, unique_topic("jadmin"), timeout=180)
    assert "AdminTopicsConfigs OK" in out


def test_java_retention(broker_factory, java_cp):  # noqa: F811
    broker = broker_factory(overrides=FAST)
    out = run_java(java_cp, "AdminRetention", broker.bootstrap, unique_topic("jret"), "retention",
                   timeout=180)
    assert "AdminRetention OK" in out


@pytest.mark.slow
def test_java_compaction_100k_records_1000_keys(broker_factory, java_cp):  # noqa: F811
    broker = broker_factory(overrides=FAST)
    out = run_java(java_cp, "AdminRetention", broker.bootstrap, unique_topic("jcmp"), "compact",
                   timeout=300)
    assert "AdminRetention OK" in out


def test_confluent_create_partitions(broker, topic):
    a = admin_for(broker)
    create(a, topic, 2)
    a.create_partitions([NewPartitions(topic, 5)])[topic].result(T)
    md = a.list_topics(topic, timeout=T)
    assert len(md.topics[topic].partitions) == 5
    produce(broker, topic, 3, partition=4)
    # Not an increase: INVALID_PARTITIONS.
    with pytest.raises(KafkaException) as e:
        a.create_partitions([NewPartitions(topic, 3)])[topic].result(T)
    assert e.value.args[0].code() == 37
    with pytest.raises(KafkaException) as e:
        a.create_partitions([NewPartitions(topic + "-missing", 3)])[topic + "-missing"].result(T)
    assert e.value.args[0].code() == 3
    # validate_only changes nothing.
    a.create_partitions([NewPartitions(topic, 9)], validate_only=True)[topic].result(T)
    assert len(a.list_topics(topic, timeout=T).topics[topic].partitions) == 5


def test_confluent_describe_configs(broker, topic):
    a = admin_for(broker)
    create(a, topic, 1, {"retention.ms": "123456", "cleanup.policy": "compact"})
    configs = describe(a, ResourceType.TOPIC, topic)
    assert len(configs) >= 33
    assert configs["retention.ms"].value == "123456"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["cleanup.policy"].value == "compact"
    assert configs["segment.bytes"].value == "1073741824"
    assert configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["segment.bytes"].is_default
    assert not configs["segment.bytes"].is_read_only
    broker_cfg = describe(a, ResourceType.BROKER, "1")
    assert len(broker_cfg) > 200
    assert broker_cfg["log.retention.hours"].value == "168"
    assert broker_cfg["log.retention.hours"].is_read_only
    assert broker_cfg["ssl.keystore.password"].is_sensitive
    assert broker_cfg["ssl.keystore.password"].value is None
    with pytest.raises(KafkaException) as e:
        describe(a, ResourceType.TOPIC, topic + "-missing")
    assert e.value.args[0].code() == 3


def test_confluent_alter_configs_replaces(broker, topic):
    a = admin_for(broker)
    create(a, topic, 1, {"retention.ms": "1000000", "segment.ms": "3600000"})
    r = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.bytes": "999999"})
    a.alter_configs([r])[r].result(T)
    configs = describe(a, ResourceType.TOPIC, topic)
    assert configs["retention.bytes"].value == "999999"
    assert configs["retention.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    # The legacy API replaces the whole set: the other overrides are gone.
    assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["segment.ms"].value == "604800000"
    bad = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "never"})
    with pytest.raises(KafkaException) as e:
        a.alter_configs([bad])[bad].result(T)
    assert e.value.args[0].code() == 40


def test_confluent_incremental_alter_configs(broker, topic):
    a = admin_for(broker)
    create(a, topic, 1)
    r = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "5000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ])
    a.incremental_alter_configs([r])[r].result(T)
    configs = describe(a, ResourceType.TOPIC, topic)
    assert configs["retention.ms"].value == "5000"
    assert configs["cleanup.policy"].value == "delete,compact"
    r = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SUBTRACT),
    ])
    a.incremental_alter_configs([r])[r].result(T)
    configs = describe(a, ResourceType.TOPIC, topic)
    assert configs["retention.ms"].value == "604800000"
    assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["cleanup.policy"].value == "compact"
    # Unknown config: INVALID_CONFIG; a cluster-wide broker default reaches the topic.
    bad = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.msx", "1", incremental_operation=AlterConfigOpType.SET)])
    with pytest.raises(KafkaException) as e:
        a.incremental_alter_configs([bad])[bad].result(T)
    assert e.value.args[0].code() == 40
    # A dynamic broker config reaches the topic (librdkafka refuses the "" cluster-default
    # resource name client-side, so this is the per-broker level).
    b = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[
        ConfigEntry("log.retention.ms", "7777777", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([b])[b].result(T)
    configs = describe(a, ResourceType.TOPIC, topic)
    assert configs["retention.ms"].value == "7777777"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value


def test_confluent_describe_cluster(broker):
    a = admin_for(broker)
    c = a.describe_cluster(request_timeout=T).result(T)
    assert c.cluster_id
    assert c.controller.id == 1
    assert [n.id for n in c.nodes] == [1]
    assert c.nodes[0].port == broker.port


def test_confluent_delete_records_durable_across_restart(broker_factory, topic):
    broker = broker_factory()
    a = admin_for(broker)
    create(a, topic, 2)
    produce(broker, topic, 50, partition=0)
    produce(broker, topic, 10, partition=1)
    tps = [TopicPartition(topic, 0, 20), TopicPartition(topic, 1, -1)]  # -1: the high watermark
    fs = a.delete_records(tps)
    lows = {tp.partition: f.result(T).low_watermark for tp, f in fs.items()}
    assert lows == {0: 20, 1: 10}
    assert earliest(a, topic, 0) == 20
    # Past the end: OFFSET_OUT_OF_RANGE.
    tp = TopicPartition(topic, 0, 500)
    with pytest.raises(KafkaException) as e:
        a.delete_records([tp])[tp].result(T)
    assert e.value.args[0].code() == 1
    del a
    broker.restart()
    a = admin_for(broker)
    assert earliest(a, topic, 0) == 20
    assert earliest(a, topic, 1) == 10
    # A consumer reading from the beginning starts at the new log start.
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "compat-unused",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, -2)])
    offsets = []
    deadline = time.time() + T
    while time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            break  # partition EOF
        offsets.append(m.offset())
    c.close()
    assert offsets == list(range(20, 50))


def test_configs_survive_restart(broker_factory, topic):
    broker = broker_factory()
    a = admin_for(broker)
    create(a, topic, 1)
    r = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "86400000", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([r])[r].result(T)
    b = ConfigResource(ResourceType.BROKER, "1", incremental_configs=[
        ConfigEntry("log.cleaner.backoff.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([b])[b].result(T)
    a.create_partitions([NewPartitions(topic, 3)])[topic].result(T)
    del a
    broker.restart()
    a = admin_for(broker)
    configs = describe(a, ResourceType.TOPIC, topic)
    assert configs["retention.ms"].value == "86400000"
    assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    broker_cfg = describe(a, ResourceType.BROKER, "1")
    assert broker_cfg["log.cleaner.backoff.ms"].value == "1000"
    assert broker_cfg["log.cleaner.backoff.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
    assert len(a.list_topics(topic, timeout=T).topics[topic].partitions) == 3
