"""Older Java clients (kafka-clients 2.8.2, 3.0.2, 3.9.2, and 4.4.0 as the baseline) from Maven
Central: produce, consume, commit half, resume in a second group member, commit the rest.

compat-tests/java/old/OldClientCheck.java is compiled once per client version by
`setup.sh clients` (against that version's jars, so an API it lacks fails the build). The program
checks what it reads and prints it; this test re-checks the printed data and then reads the
group's commits and the records back through confluent-kafka, a different client."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from conftest import COMPAT_DIR, unique_topic

CACHE = Path(os.environ.get("VLTAVA_CACHE", Path.home() / ".cache" / "vltava"))
VERSIONS = ["2.8.2", "3.0.2", "3.9.2", "4.4.0"]
COUNT = 300  # 100 per partition
PARTITIONS = 3


@pytest.fixture(scope="session")
def old_clients() -> dict:
    if shutil.which("java") is None:
        pytest.fail("java not found (Java 17 is required; setup.sh installs it)")
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "clients"], capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        pytest.fail(f"setup.sh clients failed:\n{res.stdout}\n{res.stderr}")
    return {v: f"{CACHE}/kafka-clients-{v}/classes:{CACHE}/kafka-clients-{v}/libs/*"
            for v in VERSIONS}


def parse(out: str) -> dict:
    """Lines 'TAG p rest...' -> {TAG: {p: [rest...]}}; VERSION/OK/FAIL kept as lists."""
    got: dict = {"FAIL": [], "OK": False}
    for line in out.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "VERSION":
            got["VERSION"] = rest
        elif tag == "OK":
            got["OK"] = True
        elif tag == "FAIL":
            got["FAIL"].append(rest)
        elif tag in ("PRODUCED", "READ1", "COMMITTED", "READ2", "FINAL"):
            p, _, data = rest.partition(" ")
            got.setdefault(tag, {})[int(p)] = data.split(" ")
    return got


@pytest.mark.parametrize("codec", ["none", "lz4"])
@pytest.mark.parametrize("version", VERSIONS)
def test_old_java_client_produce_consume_commit_resume(broker, old_clients, version, codec):
    topic = unique_topic(f"old-{version.replace('.', '')}-{codec}")
    group = f"g-{topic}"
    cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           "-cp", old_clients[version], "OldClientCheck", broker.bootstrap, topic, group,
           str(COUNT), codec]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    got = parse(res.stdout)
    assert got.get("VERSION") == version, f"wrong client on the classpath: {got.get('VERSION')}"
    assert res.returncode == 0 and got["OK"], (
        f"OldClientCheck ({version}) exited {res.returncode}\nfailures: {got['FAIL']}\n"
        f"stdout:\n{res.stdout}\nstderr (tail):\n{res.stderr[-3000:]}")

    per_p = COUNT // PARTITIONS
    half = per_p // 2
    meta = f"old-client-{version}"
    for p in range(PARTITIONS):
        assert got["PRODUCED"][p] == [",".join(str(o) for o in range(per_p))], f"p{p} acked offsets"
        assert got["READ1"][p] == ["0", str(per_p - 1), str(per_p)], f"p{p} first read"
        assert got["COMMITTED"][p] == [str(half), meta], f"p{p} committed half"
        assert got["READ2"][p] == [str(half), str(per_p - 1), str(per_p - half)], f"p{p} resumed read"
        assert got["FINAL"][p] == [str(per_p)], f"p{p} final commit"

    # The same group's commits and the records, through librdkafka.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        committed = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
        assert {tp.partition: tp.offset for tp in committed} == {
            p: per_p for p in range(PARTITIONS)}, committed
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        seen = {}
        while len(seen) < COUNT:
            m = c.poll(10)
            assert m is not None, f"only {len(seen)} of {COUNT} records read back"
            assert m.error() is None, m.error()
            i = int(m.key().decode()[2:])
            assert (m.partition(), m.offset()) == (i % PARTITIONS, i // PARTITIONS), i
            assert m.value() == f"v-{i}-{version}".encode()
            assert m.headers() == [("idx", str(i).encode())]
            seen[i] = True
    finally:
        c.close()
