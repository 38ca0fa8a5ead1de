"""kcat (Debian's, built on librdkafka 2.0.2): old librdkafka is strict about ApiVersions and only
turns compression on when the broker's advertised Produce versions satisfy it."""
import json
import shutil
import subprocess
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

KCAT = shutil.which("kcat")
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat not installed (run setup.sh)")


def create_topic(broker, topic, partitions):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the result
    a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(30)


def kcat(broker, *args, input: str | None = None, timeout: float = 60) -> str:
    cmd = [KCAT, "-b", broker.bootstrap, "-m", "15", *args]
    try:
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(cmd)} did not finish in {timeout}s; "
                             f"stdout={e.stdout!r:.300} stderr={e.stderr!r:.1000}") from None
    assert res.returncode == 0, f"{' '.join(cmd)} exited {res.returncode}: {res.stderr}"
    return res.stdout


def produce(broker, topic, lines, *extra):
    kcat(broker, "-P", "-t", topic, *extra, input="".join(l + "\n" for l in lines))


def consume(broker, topic, fmt, *extra) -> str:
    return kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-f", fmt, *extra)


def test_produce_consume_exact(broker, topic):
    produce(broker, topic, ["k1:v1", "k2:hello world", "k3:", ":no key?"], "-K:", "-H", "h=v")
    out = consume(broker, topic, "%k|%s|%h|%o|%p\n")
    assert out == ("k1|v1|h=v|0|0\n"
                   "k2|hello world|h=v|1|0\n"
                   "k3||h=v|2|0\n"
                   "|no key?|h=v|3|0\n")


def test_headers_order_and_duplicates(broker, topic):
    produce(broker, topic, ["a:1", "b:2"], "-K:", "-H", "x=1", "-H", "y=2", "-H", "x=3", "-H", "e=")
    out = consume(broker, topic, "%k=%s [%h]\n")
    assert out == "a=1 [x=1,y=2,x=3,e=]\nb=2 [x=1,y=2,x=3,e=]\n"


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches(broker, topic, codec):
    n = 2000
    lines = [f"key-{i % 37}:value-{i}-" + "abc" * (i % 50) for i in range(n)]
    extra = [] if codec == "none" else ["-z", codec]
    produce(broker, topic, lines, "-K:", *extra)
    out = consume(broker, topic, "%k:%s|%o\n").splitlines()
    assert len(out) == n, f"consumed {len(out)} of {n}"
    assert out == [f"{l}|{i}" for i, l in enumerate(lines)]


def test_timestamps_are_kept(broker, topic):
    before = int(time.time() * 1000)
    produce(broker, topic, ["a", "b", "c"])
    after = int(time.time() * 1000)
    ts = [int(x) for x in consume(broker, topic, "%T\n").split()]
    assert len(ts) == 3
    # librdkafka stamps CreateTime at produce(); the broker must store it, not its own clock.
    assert all(before - 1000 <= t <= after + 1000 for t in ts), (before, ts, after)
    assert ts == sorted(ts)


def test_offsets_start_positions(broker, topic):
    produce(broker, topic, [f"m{i}" for i in range(10)])
    # Absolute offset inside the batch: the broker returns the whole batch, the client skips.
    assert kcat(broker, "-C", "-t", topic, "-o", "5", "-e", "-f", "%o:%s\n") == \
        "".join(f"{i}:m{i}\n" for i in range(5, 10))
    # Relative to the end (ListOffsets latest).
    assert kcat(broker, "-C", "-t", topic, "-o", "-3", "-e", "-f", "%o:%s\n") == \
        "".join(f"{i}:m{i}\n" for i in range(7, 10))
    # Message count limit.
    assert kcat(broker, "-C", "-t", topic, "-o", "beginning", "-c", "2", "-f", "%s\n") == "m0\nm1\n"
    # Start at "end" with -e: nothing to read, exits cleanly.
    assert kcat(broker, "-C", "-t", topic, "-o", "end", "-e", "-f", "%s\n") == ""


def test_start_by_timestamp(broker, topic):
    produce(broker, topic, ["early1", "early2"])
    time.sleep(0.05)
    mark = int(time.time() * 1000)
    time.sleep(0.05)
    produce(broker, topic, ["late1", "late2"])
    # s@ts uses ListOffsets with a timestamp.
    assert kcat(broker, "-C", "-t", topic, "-o", f"s@{mark}", "-e", "-f", "%s\n") == "late1\nlate2\n"
    out = kcat(broker, "-Q", "-t", f"{topic}:0:{mark}")
    assert f"{topic} [0] offset 2" in out, out


def test_explicit_partitions(broker, topic):
    create_topic(broker, topic, 3)
    produce(broker, topic, ["p2-a", "p2-b"], "-p", "2")
    produce(broker, topic, ["p0-a"], "-p", "0")
    assert kcat(broker, "-C", "-t", topic, "-p", "2", "-o", "beginning", "-e", "-f", "%p:%o:%s\n") == \
        "2:0:p2-a\n2:1:p2-b\n"
    all_out = sorted(consume(broker, topic, "%p:%o:%s\n").splitlines())
    assert all_out == ["0:0:p0-a", "2:0:p2-a", "2:1:p2-b"]


def test_empty_topic_exits(broker, topic):
    create_topic(broker, topic, 2)
    assert consume(broker, topic, "%s\n") == ""


def test_metadata_listing(broker, topic):
    create_topic(broker, topic, 3)

    md = json.loads(kcat(broker, "-L", "-J"))
    assert [(b["id"], b["name"]) for b in md["brokers"]] == [(1, f"127.0.0.1:{broker.port}")]
    topics = {t["topic"]: t for t in md["topics"]}
    assert topic in topics
    parts = sorted(topics[topic]["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == [0, 1, 2]
    for p in parts:
        assert p["leader"] == 1
        assert [r["id"] for r in p["replicas"]] == [1]
        assert [r["id"] for r in p["isrs"]] == [1]
        assert "error" not in p or not p["error"]

    # The plain text listing, for one topic.
    text = kcat(broker, "-L", "-t", topic)
    assert f"broker 1 at 127.0.0.1:{broker.port}" in text
    assert f'topic "{topic}" with 3 partitions:' in text
    for i in range(3):
        assert f"partition {i}, leader 1, replicas: 1, isrs: 1" in text
