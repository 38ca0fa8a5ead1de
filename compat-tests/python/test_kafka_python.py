"""kafka-python (pure Python): producer, group-less consumer, admin, metadata.

kafka-python 3.x negotiates up to flexible versions; pinning api_version makes it skip the
negotiation and use the request versions of that Kafka release, which is how the old,
non-flexible encodings (Produce v3/v6, Fetch v5/v8, Metadata v4/v6, ...) get exercised.
"""
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as Errors

from helpers import (CODECS, Mismatches, base_timestamp, check_offsets_contiguous, compare,
                     make_record)

N = 2000


def producer_for(broker, **conf) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="compat-kp", **conf)


def consumer_for(broker, **conf) -> KafkaConsumer:
    # group_id=None: no coordinator involved; partitions are assigned and positioned by hand.
    return KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id="compat-kp",
                         group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", check_crcs=True, **conf)


def admin_for(broker, **conf) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="compat-kp", **conf)


def produce_all(broker, topic, n, base_ts, **conf):
    p = producer_for(broker, linger_ms=5, **conf)
    try:
        futures = []
        for i in range(n):
            rec = make_record(i, base_ts, null_header_values=False)
            futures.append(p.send(topic, value=rec.value, key=rec.key, headers=rec.headers,
                                  timestamp_ms=rec.timestamp))
        p.flush(60)
        acked = {}
        for i, f in enumerate(futures):
            md = f.get(timeout=60)
            acked[i] = (md.partition, md.offset)
        return acked
    finally:
        p.close(timeout=10)


def consume_all(broker, topic, partitions, expected_total, timeout=60.0, **conf):
    c = consumer_for(broker, **conf)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        assert sum(end.values()) == expected_total, f"end_offsets {end}, expected {expected_total} records"
        msgs = []
        deadline = time.monotonic() + timeout
        while any(c.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                msgs.extend(recs)
        assert len(msgs) == expected_total, f"consumed {len(msgs)}/{expected_total} in {timeout}s"
        return msgs
    finally:
        c.close()


def verify(msgs, acked, base_ts, topic):
    m = Mismatches()
    at = {po: i for i, po in acked.items()}
    check_offsets_contiguous(m, at)
    last = {}
    for r in msgs:
        where = f"{topic}-{r.partition}@{r.offset}"
        i = at.get((r.partition, r.offset))
        if i is None:
            m.add(f"{where}: nothing was acknowledged at this offset")
            continue
        m.check(r.offset == last.get(r.partition, -1) + 1,
                f"{where}: previous offset on this partition was {last.get(r.partition)}")
        last[r.partition] = r.offset
        m.check(r.timestamp_type == 0, f"{where}: timestamp type {r.timestamp_type}, expected CreateTime (0)")
        compare(m, f"{where} (record {i})", r.key, r.value, r.headers, r.timestamp,
                make_record(i, base_ts, null_header_values=False))
    m.assert_none("kafka-python round trip")


def create_topic(broker, topic, partitions, **admin_conf):
    a = admin_for(broker, **admin_conf)
    try:
        a.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}})
    finally:
        a.close()


@pytest.mark.parametrize("codec", CODECS)
def test_roundtrip(broker, topic, codec):
    create_topic(broker, topic, 3)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, N, base_ts,
                        compression_type=None if codec == "none" else codec)
    verify(consume_all(broker, topic, 3, N), acked, base_ts, topic)


@pytest.mark.parametrize("api_version", [(0, 11), (1, 0), (2, 0), (2, 8)],
                         ids=lambda v: "kafka-%d.%d" % v)
def test_roundtrip_pinned_old_versions(broker, topic, api_version):
    """No ApiVersions negotiation: requests in the versions that Kafka release spoke."""
    create_topic(broker, topic, 2, api_version=api_version)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, 500, base_ts, compression_type="gzip",
                        api_version=api_version)
    verify(consume_all(broker, topic, 2, 500, api_version=api_version), acked, base_ts, topic)


def test_roundtrip_acks1_and_acks0(broker, topic):
    create_topic(broker, topic, 1)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, 300, base_ts, acks=1, enable_idempotence=False)
    # acks=0: no responses at all; the records must still land, after the acks=1 ones.
    p = producer_for(broker, acks=0, enable_idempotence=False)
    for i in range(300, 600):
        rec = make_record(i, base_ts, null_header_values=False)
        p.send(topic, value=rec.value, key=rec.key, headers=rec.headers, timestamp_ms=rec.timestamp)
    p.flush(30)
    p.close(timeout=10)
    acked.update({i: (0, i) for i in range(300, 600)})
    verify(consume_all(broker, topic, 1, 600), acked, base_ts, topic)


def test_metadata_and_partitions_for_topic(broker, topic):
    create_topic(broker, topic, 5)
    c = consumer_for(broker)
    try:
        assert c.partitions_for_topic(topic) == {0, 1, 2, 3, 4}
        assert topic in c.topics()
        # Unknown topic: kafka-python answers an empty set, and the lookup must not create it.
        assert c.partitions_for_topic("no-such-topic-" + topic) == set()
        assert "no-such-topic-" + topic not in c.topics()
    finally:
        c.close()
    p = producer_for(broker)
    try:
        assert p.partitions_for(topic) == {0, 1, 2, 3, 4}
    finally:
        p.close(timeout=10)
    a = admin_for(broker)
    try:
        assert topic in a.list_topics()
        [d] = a.describe_topics([topic])
        assert d["error_code"] == 0
        parts = sorted(d["partitions"], key=lambda p: p["partition_index"])
        assert [p["partition_index"] for p in parts] == [0, 1, 2, 3, 4]
        for p in parts:
            assert (p["leader_id"], p["replica_nodes"], p["isr_nodes"]) == (1, [1], [1])
        # DescribeCluster is not implemented; kafka-python then falls back to Metadata.
        cluster = a.describe_cluster()
        assert [b.get("broker_id", b.get("node_id")) for b in cluster["brokers"]] == [1]
        assert cluster["brokers"][0]["port"] == broker.port
        assert cluster["controller_id"] == 1
    finally:
        a.close()


def test_offsets_lookup(broker, topic):
    create_topic(broker, topic, 2)
    base_ts = base_timestamp()
    acked = produce_all(broker, topic, 400, base_ts)
    c = consumer_for(broker)
    try:
        tps = [TopicPartition(topic, p) for p in range(2)]
        counts = {tp: sum(1 for (p, _) in acked.values() if p == tp.partition) for tp in tps}
        assert c.beginning_offsets(tps) == {tp: 0 for tp in tps}
        assert c.end_offsets(tps) == counts
        probe = 123
        res = c.offsets_for_times({tp: base_ts + probe for tp in tps})
        for tp in tps:
            cands = sorted((o, i) for i, (p, o) in acked.items() if p == tp.partition and i >= probe)
            if cands:
                assert res[tp] is not None and res[tp].offset == cands[0][0]
                assert res[tp].timestamp == base_ts + cands[0][1]
            else:
                assert res[tp] is None
    finally:
        c.close()


def test_admin_errors(broker, topic):
    a = admin_for(broker)
    try:
        a.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}})
        with pytest.raises(Errors.TopicAlreadyExistsError):
            a.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}})
        with pytest.raises(Errors.InvalidTopicError):
            a.create_topics({"no spaces allowed": {"num_partitions": 1, "replication_factor": 1}})
        with pytest.raises(Errors.InvalidReplicationFactorError):
            a.create_topics({topic + "-rf3": {"num_partitions": 1, "replication_factor": 3}})
        a.delete_topics([topic])
        deadline = time.monotonic() + 10
        while topic in a.list_topics() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert topic not in a.list_topics()
        with pytest.raises(Errors.UnknownTopicOrPartitionError):
            a.delete_topics([topic])
    finally:
        a.close()
