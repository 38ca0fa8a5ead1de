"""`vltava topic|produce|consume|group`: the command line's own client, checked against real
clients (confluent-kafka wrote and read the same data) and against Apache Kafka itself (the
commands work on the real broker too, since they speak only the wire protocol)."""
import subprocess

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import vltava_bin


def cli(bootstrap: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    cmd = [str(vltava_bin()), *args, "-b", bootstrap]
    res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{cmd} exited {res.returncode}: {res.stderr}"
    return res


KEYS = [f"user-{i}" for i in range(40)]


def partitions_chosen_by_the_java_partitioner(bootstrap: str, topic: str) -> dict[str, int]:
    """Where confluent-kafka's murmur2 partitioner (the Java client's) puts each key."""
    placed: dict[str, int] = {}

    def report(err, msg):
        assert err is None, err
        placed[msg.key().decode()] = msg.partition()

    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for k in KEYS:
        p.produce(topic, key=k, value=b"probe", on_delivery=report)
    assert p.flush(30) == 0
    return placed


def read_all(bootstrap: str, topic: str, partitions: int) -> list[tuple[str, str, int]]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cli-reader",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, idle = [], 0
    while idle < 10:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            continue
        assert m.error() is None, m.error()
        out.append((m.key().decode() if m.key() else None, m.value().decode(), m.partition()))
    c.close()
    return out


def run_topic_produce_consume(bootstrap: str, topic: str):
    res = cli(bootstrap, "topic", "create", topic, "-p", "3", "-c", "cleanup.policy=compact")
    assert res.stdout.strip() == f"created {topic} (3 partitions)"
    listed = cli(bootstrap, "topic", "list").stdout.splitlines()
    assert any(l.split()[:3] == [topic, "3", "no"] for l in listed), listed

    lines = "".join(f"{k}:value-{i}\n" for i, k in enumerate(KEYS))
    res = cli(bootstrap, "produce", topic, "-k", ":", input=lines)
    assert f"produced {len(KEYS)} records to {topic}" in res.stderr

    records = read_all(bootstrap, topic, 3)
    assert sorted((k, v) for k, v, _ in records) == sorted(
        (k, f"value-{i}") for i, k in enumerate(KEYS))
    java = partitions_chosen_by_the_java_partitioner(bootstrap, topic)
    assert {k: p for k, _, p in records} == java, "keys land where the Java partitioner puts them"

    # The CLI's consumer reads what was written (the probes too), with its format.
    out = cli(bootstrap, "consume", topic, "--format", "%k=%v@%p\\n").stdout.splitlines()
    assert len(out) == 2 * len(KEYS)
    assert {l for l in out if "value-" in l} == {
        f"{k}=value-{i}@{java[k]}" for i, k in enumerate(KEYS)}
    first_two = cli(bootstrap, "consume", topic, "-p", str(java[KEYS[0]]), "-n", "2",
                    "--format", "%o\\n").stdout.split()
    assert first_two == ["0", "1"]

    described = cli(bootstrap, "topic", "describe", topic).stdout
    assert "cleanup.policy=compact" in described
    rows = [l.split() for l in described.splitlines() if l.split()[:1] and l.split()[0].isdigit()]
    assert sum(int(r[4]) for r in rows) == 2 * len(KEYS), described
    return java


def test_cli_topics_produce_consume_groups_on_vltava(broker, topic):
    bootstrap = broker.bootstrap
    java = run_topic_produce_consume(bootstrap, topic)

    # A group that committed offsets 5 and 0 on two partitions shows up with its lag.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cli-group",
                  "enable.auto.commit": False})
    p = java[KEYS[0]]
    c.commit(offsets=[TopicPartition(topic, p, 5)], asynchronous=False)
    c.close()
    groups = cli(bootstrap, "group", "list").stdout
    assert any(l.split()[:1] == ["cli-group"] for l in groups.splitlines()), groups
    described = cli(bootstrap, "group", "describe", "cli-group").stdout
    end = sum(1 for k in KEYS if java[k] == p) * 2
    row = next(l.split() for l in described.splitlines() if l.split()[:2] == [topic, str(p)])
    assert row[2:5] == ["5", str(end), str(end - 5)], described

    res = cli(bootstrap, "topic", "delete", topic)
    assert res.stdout.strip() == f"deleted {topic}"
    missing = subprocess.run([str(vltava_bin()), "topic", "describe", "-b", bootstrap, topic],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "UnknownTopicOrPartition" in missing.stderr, missing.stderr


def test_cli_works_against_apache_kafka(real_kafka, topic):
    # The real Kafka is shared by the whole session (the oracle lists every topic): leave none.
    try:
        run_topic_produce_consume(real_kafka.bootstrap, topic)
    finally:
        deleted = subprocess.run(
            [str(vltava_bin()), "topic", "delete", topic, "-b", real_kafka.bootstrap],
            capture_output=True, text=True, timeout=120)
    assert deleted.stdout.strip() == f"deleted {topic}", deleted.stderr
