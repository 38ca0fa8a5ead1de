"""Broker process behaviour seen from a client: clean SIGTERM shutdown, data surviving restarts,
--memory mode."""
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def produce(bootstrap, topic, values):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    errs = []
    for v in values:
        p.produce(topic, v, on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(30) == 0
    assert errs == [None] * len(values), errs


def read_values(bootstrap, topic, expected_count, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-unused",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        vals, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF and len(vals) >= expected_count:
                    break
                continue
            vals.append(m.value())
        return vals
    finally:
        c.close()


def test_sigterm_exits_cleanly_and_data_survives(broker, topic):
    values = [f"v{i}".encode() for i in range(1000)]
    produce(broker.bootstrap, topic, values)
    status = broker.stop()
    assert status == 0, f"broker exited with {status} on SIGTERM"
    broker.start()
    assert read_values(broker.bootstrap, topic, 1000) == values
    # Appending after recovery continues the offsets.
    produce(broker.bootstrap, topic, [b"after-restart"])
    assert read_values(broker.bootstrap, topic, 1001) == values + [b"after-restart"]


def test_kill9_restart_keeps_acknowledged_data(broker, topic):
    values = [f"v{i}".encode() for i in range(500)]
    produce(broker.bootstrap, topic, values)
    broker.kill()
    broker.start()
    assert read_values(broker.bootstrap, topic, 500) == values


def test_memory_mode(broker_factory, topic):
    b = broker_factory("mem", memory=True)
    values = [f"m{i}".encode() for i in range(200)]
    produce(b.bootstrap, topic, values)
    assert read_values(b.bootstrap, topic, 200) == values
    # No log segments on disk in memory mode.
    segments = [p for p in b.data_dir.rglob("*.log") if p.is_file()]
    assert not segments, segments
