"""Consumer groups with confluent-kafka (librdkafka 2.16), kafka-python and kcat -G (librdkafka
2.0), checked through the Java Admin calls behind kafka-consumer-groups.sh: commits with
metadata read back exactly, lag is exact, offsets and metadata survive a broker restart, and
--list / --describe / --reset-offsets / --delete-offsets / --delete behave as on Kafka."""
import shutil
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.structs import OffsetAndMetadata

from conftest import unique_topic
from groups_support import create_topic, group_admin, produce_values
from test_java import java_cp  # noqa: F401  (session fixture: compiles the Java programs)

KCAT = shutil.which("kcat")


def confluent_member(broker, group, client_id, **extra) -> Consumer:
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group, "client.id": client_id,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    conf.update(extra)
    return Consumer(conf)


def drain(consumer: Consumer, want: int, timeout=60) -> dict[int, int]:
    """Polls until `want` records arrived; returns partition -> next offset to read."""
    got = 0
    nxt: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while got < want:
        assert time.monotonic() < deadline, f"only {got}/{want} records within {timeout}s"
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        got += 1
        nxt[msg.partition()] = msg.offset() + 1
    return nxt


def offsets_by_partition(cp, broker, group) -> dict[int, dict]:
    return {r["partition"]: r for r in group_admin(cp, broker, "offsets", group)}


def test_confluent_commit_metadata_reads_back_in_java_and_survives_restart(broker_factory, java_cp):
    broker = broker_factory("restart-data")  # on disk: the restart is the point
    topic = unique_topic("cf-group")
    group = "cf-group"
    create_topic(broker, topic, 3)
    produce_values(broker, topic, 0, 300, 3)
    c = confluent_member(broker, group, "cf-1")
    c.subscribe([topic])
    nxt = drain(c, 300)
    assert nxt == {0: 100, 1: 100, 2: 100}
    commits = [TopicPartition(topic, p, o - 10 * p, metadata=f"cf-meta-{p} ✓") for p, o in nxt.items()]
    result = c.commit(offsets=commits, asynchronous=False)
    assert all(tp.error is None for tp in result)
    # librdkafka reads its own commits back.
    mine = {tp.partition: (tp.offset, tp.metadata) for tp in c.committed([TopicPartition(topic, p) for p in range(3)])}
    assert mine == {p: (100 - 10 * p, f"cf-meta-{p} ✓") for p in range(3)}
    live = group_admin(java_cp, broker, "describe", group)[0]
    assert live["state"] == "Stable" and live["assignor"] == "range"
    assert [m["client"] for m in live["members"]] == ["cf-1"]
    assert sorted(live["members"][0]["assignment"]) == [f"{topic}:{p}" for p in range(3)]
    c.close()

    # confluent-kafka-python hands librdkafka the metadata with its terminating NUL counted in
    # metadata_size, so the NUL is on the wire and a Kafka broker stores it too; librdkafka hides
    # it again on read (a C string). The Java admin sees exactly what was sent.
    expected = {p: {"offset": 100 - 10 * p, "metadata": f"cf-meta-{p} ✓\x00", "end": 100,
                    "lag": 10 * p}
                for p in range(3)}

    def check():
        got = offsets_by_partition(java_cp, broker, group)
        assert {p: {k: r[k] for k in ("offset", "metadata", "end", "lag")} for p, r in got.items()} == expected

    check()
    broker.restart()
    check()
    # A consumer of the same group resumes at the committed offsets (reads exactly the lag).
    c = confluent_member(broker, group, "cf-2")
    c.subscribe([topic])
    nxt = drain(c, 30)
    assert nxt == {1: 100, 2: 100}
    assert c.poll(2.0) is None, "nothing before the committed offsets is read again"
    c.close()
    broker.kill()
    broker.start()
    check_after_kill = offsets_by_partition(java_cp, broker, group)
    assert check_after_kill[0]["metadata"] == "cf-meta-0 ✓\x00"


def test_lag_is_exact_for_a_live_two_member_group(broker, java_cp):
    topic = unique_topic("cf-lag")
    group = "cf-lag-group"
    create_topic(broker, topic, 4)
    produce_values(broker, topic, 0, 400, 4)
    a = confluent_member(broker, group, "lag-a")
    b = confluent_member(broker, group, "lag-b")
    stop = threading.Event()

    def keep_polling(c):
        while not stop.is_set():
            c.poll(0.2)

    a.subscribe([topic])
    b.subscribe([topic])
    try:
        deadline = time.monotonic() + 60
        while True:
            a.poll(0.2)
            b.poll(0.2)
            if len(a.assignment()) == 2 and len(b.assignment()) == 2:
                break
            assert time.monotonic() < deadline, "the two members never split the partitions"
        # Commit exact positions (not what was read) for each member's partitions.
        for c in (a, b):
            offs = [TopicPartition(topic, tp.partition, 10 * (tp.partition + 1)) for tp in c.assignment()]
            c.commit(offsets=offs, asynchronous=False)
        threads = [threading.Thread(target=keep_polling, args=(c,), daemon=True) for c in (a, b)]
        for t in threads:
            t.start()
        rows = group_admin(java_cp, broker, "offsets", group)
        assert [(r["partition"], r["offset"], r["end"], r["lag"]) for r in rows] == \
            [(p, 10 * (p + 1), 100, 100 - 10 * (p + 1)) for p in range(4)]
        owners = {r["partition"]: r["client"] for r in rows}
        assert sorted(owners.values()) == ["lag-a", "lag-a", "lag-b", "lag-b"]
        described = group_admin(java_cp, broker, "describe", group)[0]
        assert described["state"] == "Stable"
        assert sorted(m["client"] for m in described["members"]) == ["lag-a", "lag-b"]
        assert all(len(m["assignment"]) == 2 for m in described["members"])
        # Resetting an active group is refused (the broker answers UNKNOWN_MEMBER_ID).
        err = group_admin(java_cp, broker, "reset", group, topic, "earliest")
        assert err and err[0].get("error") == "UnknownMemberIdException", err
        err = group_admin(java_cp, broker, "delete", group)
        assert err and err[0].get("error") == "GroupNotEmptyException", err
    finally:
        stop.set()
        time.sleep(0.3)
        a.close()
        b.close()


def test_kafka_python_group_consumer_commits_metadata(broker, java_cp):
    topic = unique_topic("kp-group")
    create_topic(broker, topic, 2)
    produce_values(broker, topic, 0, 100, 2)
    # Negotiated (flexible versions), and pinned to the request versions of Kafka 2.0 and 0.11
    # (JoinGroup v3/v2, OffsetCommit v4/v3, OffsetFetch v4/v3, ...).
    for group, pinned in (("kp-new", None), ("kp-2.0", (2, 0)), ("kp-0.11", (0, 11))):
        extra = {"api_version": pinned} if pinned else {}
        c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                          client_id=f"{group}-client", auto_offset_reset="earliest",
                          enable_auto_commit=False, session_timeout_ms=6000,
                          heartbeat_interval_ms=500, **extra)
        got = 0
        deadline = time.monotonic() + 60
        while got < 100:
            assert time.monotonic() < deadline, f"{group}: {got}/100 records"
            for _, records in c.poll(timeout_ms=500).items():
                got += len(records)
        c.commit({KpTopicPartition(topic, 0): OffsetAndMetadata(50, f"{group} meta 0", -1),
                  KpTopicPartition(topic, 1): OffsetAndMetadata(42, "", -1)})
        assert c.committed(KpTopicPartition(topic, 0)) == 50
        c.close()
        rows = offsets_by_partition(java_cp, broker, group)
        assert (rows[0]["offset"], rows[0]["metadata"], rows[0]["lag"]) == (50, f"{group} meta 0", 0)
        assert (rows[1]["offset"], rows[1]["metadata"], rows[1]["lag"]) == (42, "", 8)


@pytest.mark.skipif(KCAT is None, reason="kcat not installed (run setup.sh)")
def test_kcat_balanced_consumer_commits(broker, java_cp):
    topic = unique_topic("kcat-group")
    create_topic(broker, topic, 3)
    produce_values(broker, topic, 0, 90, 3)
    base = [KCAT, "-b", broker.bootstrap, "-G", "kcat-group", topic, "-X", "auto.offset.reset=earliest", "-q"]
    res = subprocess.run(base + ["-c", "90", "-f", "%p %o %s\n"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    values = sorted(int(line.split()[2].split("-")[1]) for line in res.stdout.splitlines())
    assert values == list(range(90))
    # kcat commits what it consumed (auto-commit, flushed on close).
    rows = offsets_by_partition(java_cp, broker, "kcat-group")
    assert [(r["offset"], r["lag"]) for _, r in sorted(rows.items())] == [(30, 0)] * 3
    # A second kcat in the group starts where the first stopped.
    produce_values(broker, topic, 90, 93, 3)
    res = subprocess.run(base + ["-c", "3", "-f", "%s\n"], capture_output=True, text=True, timeout=60)
    assert sorted(res.stdout.split()) == ["v-90", "v-91", "v-92"]


def test_consumer_groups_tool_operations(broker, java_cp):
    """--list, --reset-offsets (every mode), --delete-offsets and --delete on an inactive group."""
    topic = unique_topic("cg-tool")
    other = unique_topic("cg-other")
    group = "cg-tool-group"
    create_topic(broker, topic, 2)
    create_topic(broker, other, 1)
    produce_values(broker, topic, 0, 100, 2)
    time.sleep(0.05)
    before_second_half = int(time.time() * 1000)
    time.sleep(0.05)
    produce_values(broker, topic, 100, 200, 2)
    c = confluent_member(broker, group, "tool")
    c.subscribe([topic, other])
    drain(c, 200)
    c.commit(asynchronous=False)
    c.close()

    listed = {g["group"]: g for g in group_admin(java_cp, broker, "list")}
    assert listed[group]["state"] == "Empty" and listed[group]["protocol"] == "consumer"
    assert listed[group]["type"] == "Classic"

    def offsets():
        return {r["partition"]: r["offset"] for r in group_admin(java_cp, broker, "offsets", group)
                if r["topic"] == topic}

    assert offsets() == {0: 100, 1: 100}
    group_admin(java_cp, broker, "reset", group, topic, "earliest")
    assert offsets() == {0: 0, 1: 0}
    group_admin(java_cp, broker, "reset", group, topic, "offset:30")
    assert offsets() == {0: 30, 1: 30}
    group_admin(java_cp, broker, "reset", group, topic, "shift:-5")
    assert offsets() == {0: 25, 1: 25}
    group_admin(java_cp, broker, "reset", group, topic, "shift:1000")
    assert offsets() == {0: 100, 1: 100}
    group_admin(java_cp, broker, "reset", group, topic, f"datetime:{before_second_half}")
    assert offsets() == {0: 50, 1: 50}, "the second half starts at record 100 = offset 50"
    group_admin(java_cp, broker, "reset", group, topic, "latest")
    assert offsets() == {0: 100, 1: 100}
    group_admin(java_cp, broker, "commit", group, topic, "1", "7", "set by admin")
    row = [r for r in group_admin(java_cp, broker, "offsets", group) if r["partition"] == 1 and r["topic"] == topic]
    assert (row[0]["offset"], row[0]["metadata"]) == (7, "set by admin")

    deleted = group_admin(java_cp, broker, "delete-offsets", group, other)
    assert deleted == [{"partition": 0, "error": None}]
    topics = {r["topic"] for r in group_admin(java_cp, broker, "offsets", group)}
    assert topics == {topic}

    assert group_admin(java_cp, broker, "delete", group) == [{"deleted": group}]
    assert group not in {g["group"] for g in group_admin(java_cp, broker, "list")}
    err = group_admin(java_cp, broker, "delete", group)
    assert err[0].get("error") == "GroupIdNotFoundException", err
    err = group_admin(java_cp, broker, "describe", "never-existed")
    assert err[0].get("state") == "Dead" or err[0].get("error") == "GroupIdNotFoundException", err
