"""confluent-kafka (librdkafka 2.x): producer, assign-based consumer, admin client."""
import time

import pytest
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer,
                             TopicCollection, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from conftest import unique_topic
from helpers import (CODECS, Mismatches, base_timestamp, check_offsets_contiguous, compare,
                     make_record)

N = 3000


def admin_for(broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create_topic(broker, name, partitions=3, **kw):
    # Keep the AdminClient referenced until the future resolves: a collected client destroys
    # its handle and fails the pending request.
    a = admin_for(broker)
    fs = a.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, **kw)], request_timeout=30)
    fs[name].result(30)


def consumer_for(broker, **extra) -> Consumer:
    # The Python wrapper insists on a group.id, but nothing here uses the group: partitions are
    # assigned with explicit offsets and nothing is committed or stored.
    conf = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "compat-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "check.crcs": True,
    }
    conf.update(extra)
    return Consumer(conf)


def produce_all(broker, topic, n, base_ts, **conf):
    """Produce records 0..n-1; returns {index: (partition, offset)} from the delivery reports."""
    errors = []
    acked = {}

    def on_delivery(err, msg, i):
        if err is not None:
            errors.append(f"record {i}: {err}")
        else:
            acked[i] = (msg.partition(), msg.offset())

    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, **conf})
    for i in range(n):
        rec = make_record(i, base_ts)
        while True:
            try:
                p.produce(topic, value=rec.value, key=rec.key, headers=rec.headers,
                          timestamp=rec.timestamp,
                          on_delivery=lambda err, msg, i=i: on_delivery(err, msg, i))
                break
            except BufferError:  # local queue full: let deliveries drain
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(60)
    assert remaining == 0, f"{remaining} messages still undelivered after 60s"
    assert not errors, f"{len(errors)} delivery errors, e.g. {errors[:5]}"
    assert len(acked) == n
    return acked


def consume_all(broker, topic, partitions, expected_total, timeout=60.0, **conf):
    """Read every partition from offset 0 until EOF on all of them; returns the messages."""
    c = consumer_for(broker, **conf)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        msgs, eof = [], set()
        other_errors = []
        deadline = time.monotonic() + timeout
        while (len(eof) < partitions or len(msgs) < expected_total) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                elif m.topic() == topic:
                    raise AssertionError(f"consume error on {m.topic()}-{m.partition()}: {m.error()}")
                else:
                    # Client-level notices (e.g. the unused group's coordinator lookup) are not
                    # what is being tested; keep them for the failure message.
                    other_errors.append(str(m.error()))
                continue
            eof.discard(m.partition())
            msgs.append(m)
        assert len(msgs) == expected_total and len(eof) == partitions, (
            f"consumed {len(msgs)}/{expected_total} records, EOF on {sorted(eof)} of {partitions} "
            f"partitions within {timeout}s; client errors: {other_errors[:5]}")
        return msgs
    finally:
        c.close()


def verify(msgs, acked, base_ts, topic):
    m = Mismatches()
    at = {po: i for i, po in acked.items()}
    check_offsets_contiguous(m, at)
    last = {}
    for msg in msgs:
        where = f"{topic}-{msg.partition()}@{msg.offset()}"
        i = at.get((msg.partition(), msg.offset()))
        if i is None:
            m.add(f"{where}: nothing was acknowledged at this offset")
            continue
        m.check(msg.offset() == last.get(msg.partition(), -1) + 1,
                f"{where}: previous offset on this partition was {last.get(msg.partition())}")
        last[msg.partition()] = msg.offset()
        ts_type, ts = msg.timestamp()
        m.check(ts_type == 1, f"{where}: timestamp type {ts_type}, expected CreateTime (1)")
        compare(m, f"{where} (record {i})", msg.key(), msg.value(), msg.headers(), ts,
                make_record(i, base_ts))
    m.assert_none("confluent-kafka round trip")


@pytest.mark.parametrize("codec", CODECS)
def test_roundtrip_idempotent(broker, topic, codec):
    create_topic(broker, topic, 3)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, N, base_ts, **{"compression.type": codec,
                                                      "enable.idempotence": True})
    verify(consume_all(broker, topic, 3, N), acked, base_ts, topic)


@pytest.mark.parametrize("codec", ["none", "zstd"])
def test_roundtrip_acks1_not_idempotent(broker, topic, codec):
    create_topic(broker, topic, 2)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, N, base_ts, **{"compression.type": codec, "acks": 1,
                                                      "enable.idempotence": False})
    verify(consume_all(broker, topic, 2, N), acked, base_ts, topic)


def test_acks0(broker, topic):
    """acks=0 Produce gets no response at all; a broker that answers anyway desyncs the client."""
    create_topic(broker, topic, 1)
    base_ts = base_timestamp()
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 0, "enable.idempotence": False,
                  "linger.ms": 5})
    n = 500
    for i in range(n):
        rec = make_record(i, base_ts)
        p.produce(topic, value=rec.value, key=rec.key, headers=rec.headers, timestamp=rec.timestamp)
    assert p.flush(30) == 0
    msgs = consume_all(broker, topic, 1, n)
    m = Mismatches()
    for j, msg in enumerate(msgs):
        m.check(msg.offset() == j, f"offset {msg.offset()} at position {j}")
        compare(m, f"{topic}-0@{msg.offset()}", msg.key(), msg.value(), msg.headers(),
                msg.timestamp()[1], make_record(j, base_ts))
    m.assert_none("acks=0 round trip")


def test_consume_from_middle_of_batch(broker, topic):
    """Fetch at an offset inside a batch: the broker returns the whole batch, the client skips."""
    create_topic(broker, topic, 1)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, 200, base_ts, **{"linger.ms": 50, "compression.type": "lz4"})
    c = consumer_for(broker)
    try:
        c.assign([TopicPartition(topic, 0, 137)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 63 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m)
        assert [m.offset() for m in got] == list(range(137, 200))
        at = {po: i for i, po in acked.items()}
        mm = Mismatches()
        for msg in got:
            compare(mm, f"@{msg.offset()}", msg.key(), msg.value(), msg.headers(), msg.timestamp()[1],
                    make_record(at[(0, msg.offset())], base_ts))
        mm.assert_none("fetch from the middle of a batch")
    finally:
        c.close()


def test_auto_create_on_produce(broker, topic):
    p = Producer({"bootstrap.servers": broker.bootstrap})
    errs = []
    p.produce(topic, b"v", b"k", on_delivery=lambda err, msg: errs.append(err))
    assert p.flush(30) == 0
    assert errs == [None]
    md = admin_for(broker).list_topics(topic, timeout=10)
    assert topic in md.topics and md.topics[topic].error is None
    assert len(md.topics[topic].partitions) == 1  # num.partitions defaults to 1


def test_watermarks_and_offsets_for_times(broker, topic):
    create_topic(broker, topic, 3)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, 900, base_ts)
    c = consumer_for(broker)
    try:
        for p in range(3):
            n = sum(1 for (pp, _) in acked.values() if pp == p)
            assert c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) == (0, n)
        # For a timestamp, ListOffsets answers the first offset whose timestamp is >= it.
        for probe in (0, 1, 450, 899):
            want = {}
            for i, (p, o) in acked.items():
                if base_ts + i >= base_ts + probe and (p not in want or o < want[p]):
                    want[p] = o
            res = c.offsets_for_times([TopicPartition(topic, p, base_ts + probe) for p in range(3)],
                                      timeout=10)
            got = {tp.partition: tp.offset for tp in res if tp.error is None}
            assert all(tp.error is None for tp in res), [str(tp.error) for tp in res]
            expect = {p: want.get(p, -1) for p in range(3)}  # -1: no such record (end)
            assert got == expect, f"offsets_for_times(base+{probe})"
    finally:
        c.close()


def test_admin_list_offsets(broker, topic):
    create_topic(broker, topic, 2)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, 300, base_ts)
    a = admin_for(broker)
    for p in range(2):
        idx = [i for i, (pp, _) in acked.items() if pp == p]
        tp = TopicPartition(topic, p)
        specs = {"earliest": OffsetSpec.earliest(), "latest": OffsetSpec.latest(),
                 "max_timestamp": OffsetSpec.max_timestamp()}
        res = {name: a.list_offsets({tp: spec}, request_timeout=10)[tp].result(10)
               for name, spec in specs.items()}
        assert res["earliest"].offset == 0
        assert res["latest"].offset == len(idx)
        last_i = max(idx)
        assert res["max_timestamp"].offset == acked[last_i][1]
        assert res["max_timestamp"].timestamp == base_ts + last_i


# ---------------------------------------------------------------- admin


def error_code(fut):
    with pytest.raises(KafkaException) as ei:
        fut.result(30)
    return ei.value.args[0].code()


def test_admin_create_list_delete(broker, topic):
    a = admin_for(broker)
    fs = a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    assert fs[topic].result(30) is None

    md = a.list_topics(timeout=10)
    assert topic in md.topics
    assert list(md.brokers) == [1]
    b = md.brokers[1]
    assert (b.host, b.port) == ("127.0.0.1", broker.port)
    t = md.topics[topic]
    assert t.error is None
    assert sorted(t.partitions) == [0, 1, 2]
    for pm in t.partitions.values():
        assert pm.error is None
        assert (pm.leader, list(pm.replicas), list(pm.isrs)) == (1, [1], [1])

    # Already exists.
    fs = a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    assert error_code(fs[topic]) == KafkaError.TOPIC_ALREADY_EXISTS

    fs = a.delete_topics([topic], operation_timeout=30)
    assert fs[topic].result(30) is None
    deadline = time.monotonic() + 10
    while topic in a.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.2)
    assert topic not in a.list_topics(timeout=10).topics

    # Deleting again: it is gone.
    fs = a.delete_topics([topic], operation_timeout=30)
    assert error_code(fs[topic]) == KafkaError.UNKNOWN_TOPIC_OR_PART


@pytest.mark.parametrize("name", ["bad name", "bad/name", "..", ".", "x" * 250, "caf\u00e9"])
def test_admin_create_invalid_name(broker, name):
    a = admin_for(broker)
    fs = a.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    assert error_code(fs[name]) == KafkaError.TOPIC_EXCEPTION  # INVALID_TOPIC_EXCEPTION (17)


def test_admin_create_bad_replication_and_partitions(broker, topic):
    a = admin_for(broker)
    fs = a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)])
    assert error_code(fs[topic]) == KafkaError.INVALID_REPLICATION_FACTOR
    fs = a.create_topics([NewTopic(topic, num_partitions=0, replication_factor=1)])
    assert error_code(fs[topic]) == KafkaError.INVALID_PARTITIONS
    # None of the failed attempts may leave a topic behind.
    assert topic not in a.list_topics(timeout=10).topics


def test_admin_create_validate_only(broker, topic):
    a = admin_for(broker)
    fs = a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)], validate_only=True)
    assert fs[topic].result(30) is None
    assert topic not in a.list_topics(timeout=10).topics
    # validate_only still reports errors.
    fs = a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)], validate_only=True)
    assert error_code(fs[topic]) == KafkaError.INVALID_REPLICATION_FACTOR


def test_admin_create_with_broker_defaults(broker_factory):
    """num_partitions/replication_factor -1 take the broker's defaults (num.partitions override)."""
    b = broker_factory(overrides={"num.partitions": 4})
    name = unique_topic("defaults")
    a = admin_for(b)
    fs = a.create_topics([NewTopic(name)])  # -1 / -1
    assert fs[name].result(30) is None
    assert len(a.list_topics(name, timeout=10).topics[name].partitions) == 4


def test_delete_and_recreate(broker, topic):
    """A recreated topic is a new topic: new id, offsets from 0, none of the old records."""
    a = admin_for(broker)
    create_topic(broker, topic, 1)
    old_id = a.describe_topics(TopicCollection([topic]))[topic].result(10).topic_id
    base_ts = base_timestamp()
    produce_all(broker, topic, 100, base_ts)
    a.delete_topics([topic], operation_timeout=30)[topic].result(30)
    deadline = time.monotonic() + 10
    while True:
        try:
            create_topic(broker, topic, 1)
            break
        except KafkaException as e:
            # Kafka may briefly answer TOPIC_ALREADY_EXISTS while a deletion completes.
            if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    new_id = a.describe_topics(TopicCollection([topic]))[topic].result(10).topic_id
    assert str(new_id) != str(old_id)
    acked = produce_all(broker, topic, 10, base_ts)
    assert sorted(o for (_, o) in acked.values()) == list(range(10))
    verify(consume_all(broker, topic, 1, 10), acked, base_ts, topic)


# ---------------------------------------------------------------- broker behaviours clients rely on


def test_fetch_long_poll_wakes_on_append(broker, topic):
    """A consumer parked in a long-poll Fetch must get a new record as soon as it is appended,
    not when fetch.wait.max.ms runs out."""
    create_topic(broker, topic, 1)
    wait_ms = 5000
    c = consumer_for(broker, **{"fetch.wait.max.ms": wait_ms, "fetch.min.bytes": 1,
                                "enable.partition.eof": False})
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1, "linger.ms": 0})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        # Get the consumer connected and into its first long poll.
        assert c.poll(1.5) is None
        latencies = []
        for round_ in range(3):
            sent = []
            p.produce(topic, f"wake-{round_}".encode(),
                      on_delivery=lambda err, msg: sent.append((err, time.monotonic())))
            p.flush(10)
            assert sent and sent[0][0] is None, sent
            m = c.poll(wait_ms / 1000 + 5)
            got_at = time.monotonic()
            assert m is not None and not m.error() and m.value() == f"wake-{round_}".encode(), m
            latencies.append(got_at - sent[0][1])
            time.sleep(1.0)  # back into a long poll before the next round
        # Without wake-up each latency would be spread over 0..5 s; three under 1.5 s by luck is
        # unlikely, and a healthy broker needs a few milliseconds.
        print(f"wake-up latencies: {latencies}")
        assert max(latencies) < 1.5, f"record reached the waiting consumer after {latencies} s"
    finally:
        c.close()


def test_offset_out_of_range_resets(broker, topic):
    """Fetching past the end answers OFFSET_OUT_OF_RANGE; the client then applies its reset
    policy (earliest here) and reads from 0."""
    create_topic(broker, topic, 1)
    acked = produce_all(broker, topic, 20, base_timestamp())
    c = consumer_for(broker, **{"auto.offset.reset": "earliest", "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, 0, 1000)])
        got, deadline = [], time.monotonic() + 30
        while len(got) < 20 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.offset())
        assert got == list(range(20)) == sorted(o for (_, o) in acked.values())
    finally:
        c.close()


def test_fetch_returns_oversized_batch(broker, topic):
    """Fetch size limits smaller than one batch must still return that batch (KIP-74), or the
    consumer is stuck forever."""
    create_topic(broker, topic, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20, "compression.type": "none"})
    values = [bytes([65 + i]) * 50_000 for i in range(20)]
    for v in values:
        p.produce(topic, v)
    assert p.flush(30) == 0
    # librdkafka's smallest allowed settings (fetch.max.bytes >= message.max.bytes >= 1000).
    c = consumer_for(broker, **{"fetch.max.bytes": 1024, "message.max.bytes": 1000,
                                "max.partition.fetch.bytes": 1024,
                                "receive.message.max.bytes": 2_000_000})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got, deadline = [], time.monotonic() + 30
        while len(got) < 20 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        assert len(got) == 20 and got == values, f"got {len(got)} of 20 records"
    finally:
        c.close()


def test_topic_max_message_bytes(broker, topic):
    """A batch over the topic's max.message.bytes is refused with MESSAGE_TOO_LARGE and leaves
    nothing behind; smaller records on the same topic still go through."""
    a = admin_for(broker)
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                              config={"max.message.bytes": "10000"})])[topic].result(30)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1, "enable.idempotence": False,
                  "linger.ms": 0, "compression.type": "none", "message.send.max.retries": 0})
    results = []
    p.produce(topic, b"x" * 20_000, on_delivery=lambda err, msg: results.append(err))
    p.flush(30)
    assert len(results) == 1 and results[0] is not None, results
    assert results[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, str(results[0])
    results.clear()
    p.produce(topic, b"small", on_delivery=lambda err, msg: results.append((err, msg.offset())))
    p.flush(30)
    assert results == [(None, 0)], results


def test_create_topic_invalid_config(broker, topic):
    a = admin_for(broker)
    fs = a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                                   config={"max.message.bytes": "not-a-number"})])
    assert error_code(fs[topic]) == KafkaError.INVALID_CONFIG
    assert topic not in a.list_topics(timeout=10).topics


def metadata_for(bootstrap, topic, allow_auto_create: bool):
    """Metadata request for one topic with allow_auto_topic_creation as given."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-unused",
                  "allow.auto.create.topics": allow_auto_create})
    try:
        return c.list_topics(topic, timeout=10).topics[topic]
    finally:
        c.close()


def test_metadata_allow_auto_topic_creation_flag(broker, topic):
    t = metadata_for(broker.bootstrap, topic, allow_auto_create=False)
    assert t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, t.error
    assert topic not in admin_for(broker).list_topics(timeout=10).topics
    t = metadata_for(broker.bootstrap, topic, allow_auto_create=True)
    # Kafka may answer LEADER_NOT_AVAILABLE while a new topic settles; either way it now exists.
    assert t.error is None or t.error.code() == KafkaError.LEADER_NOT_AVAILABLE, t.error
    md = admin_for(broker).list_topics(topic, timeout=10)
    assert md.topics[topic].error is None and len(md.topics[topic].partitions) == 1


def test_auto_create_disabled_by_override(broker_factory):
    b = broker_factory(overrides={"auto.create.topics.enable": "false"})
    name = unique_topic("no-autocreate")
    t = metadata_for(b.bootstrap, name, allow_auto_create=True)
    assert t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, t.error
    assert name not in admin_for(b).list_topics(timeout=10).topics
