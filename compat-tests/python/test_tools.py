"""Apache Kafka 4.4.0's own command-line tools against the broker, run through the kafka-*.sh
wrappers in compat-tests/kafka/bin (the jars come from Maven Central: `setup.sh kafka`), invoked
the way Kafka's documentation shows. Every test parses what the tool prints and checks the data
(offsets, keys, values, configs, error texts), never just the exit status.

Where the broker lacks something, the test is marked xfail(strict=True) with what the broker did
wrong, and the same invocation runs against a real Kafka 4.4.0 (`real_kafka` fixture) as the
passing reference.

Each JVM start costs ~1 s, so fixtures produce and verify with confluent-kafka (fast) and the JVM
runs only for the tool under test.
"""
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import COMPAT_DIR, Broker, unique_topic

BIN = COMPAT_DIR / "kafka" / "bin"
# Short-lived tools start faster with the serial collector and the C1 compiler only; the perf
# tests measure nothing that is asserted on.
FAST_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"


CDS_OPTS: str = ""  # set by kafka_tools: the class-data archive below, when there is one


@pytest.fixture(scope="session")
def kafka_tools(tmp_path_factory) -> Path:
    global CDS_OPTS
    if shutil.which("java") is None:
        pytest.fail("java not found (Java 17 is required; setup.sh installs it)")
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "kafka"], capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        pytest.fail(f"setup.sh kafka failed:\n{res.stdout}\n{res.stderr}")
    archive = class_data_archive(tmp_path_factory)
    if archive is not None:
        # JVM warnings (a stale archive, say) go to stderr, never into the output the tests parse.
        CDS_OPTS = f"-XX:SharedArchiveFile={archive} -Xshare:auto -Xlog:disable -Xlog:all=warning:stderr"
    return BIN


def class_data_archive(tmp_path_factory) -> Path | None:
    """A JVM class-data-sharing archive of the classes a Kafka tool loads, made once per machine
    (per JDK and jar set) by one training run against a throw-away broker. It halves every tool's
    start-up (~1.6 s -> ~0.8 s here) and changes nothing else: the JVM checks the archive against
    the classpath and ignores it when it does not match."""
    cache = Path(os.environ.get("VLTAVA_CACHE", Path.home() / ".cache" / "vltava")) / "kafka-4.4.0"
    libs = cache / "libs"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    key = hashlib.sha256((java + "\n".join(sorted(os.listdir(libs)))).encode()).hexdigest()[:16]
    path = cache / f"tools-cds-{key}.jsa"
    if path.exists():
        return path
    b = Broker(tmp_path_factory.mktemp("cds-training") / "data").start()
    tmp = path.with_name(path.name + ".tmp")
    try:
        env = dict(os.environ, KAFKA_JVM_PERFORMANCE_OPTS=FAST_JVM, KAFKA_HEAP_OPTS="-Xmx256m",
                   KAFKA_OPTS=f"-XX:ArchiveClassesAtExit={tmp} -Xlog:disable -Xlog:all=error:stderr")
        subprocess.run([str(BIN / "kafka-consumer-groups.sh"), "--bootstrap-server", b.bootstrap,
                        "--describe", "--all-groups"], capture_output=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
        if tmp.exists():
            tmp.rename(path)
    finally:
        b.stop()
        tmp.unlink(missing_ok=True)
    return path if path.exists() else None


@dataclass
class Run:
    cmd: list
    rc: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def __str__(self):
        return (f"$ {' '.join(map(str, self.cmd))}\nexit {self.rc}\n--- stdout ---\n{self.out[-6000:]}"
                f"\n--- stderr ---\n{self.err[-4000:]}")


def tool(name: str, *args, input: str | None = None, timeout: float = 120, ok: bool | None = True) -> Run:
    """Runs compat-tests/kafka/bin/<name>.sh. ok=True: exit 0 required, ok=False: non-zero
    required, ok=None: either."""
    cmd = [str(BIN / f"{name}.sh"), *map(str, args)]
    env = dict(os.environ)
    env.setdefault("KAFKA_JVM_PERFORMANCE_OPTS", FAST_JVM)
    env.setdefault("KAFKA_HEAP_OPTS", "-Xmx256m")
    if CDS_OPTS:
        env["KAFKA_OPTS"] = f"{env.get('KAFKA_OPTS', '')} {CDS_OPTS}".strip()
    try:
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                             env=env, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{name} did not finish in {timeout}s: {cmd}\nstdout:\n{e.stdout}\n"
                             f"stderr:\n{e.stderr}") from None
    run = Run(cmd, res.returncode, res.stdout, res.stderr)
    if ok is True:
        assert run.rc == 0, f"{name} failed\n{run}"
    elif ok is False:
        assert run.rc != 0, f"{name} was expected to fail\n{run}"
    return run


# ---------------------------------------------------------------------------------------------
# Fast helpers (confluent-kafka) for setting up and checking data.

def admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap: str, name: str, partitions: int, **config):
    a = admin(bootstrap)  # keep the client alive until the future resolves
    a.create_topics([NewTopic(name, partitions, 1, config=config)])[name].result(30)


def produce(bootstrap: str, topic: str, records, **conf):
    """records: iterable of (partition, key, value, timestamp_ms or None). Returns the acks
    [(partition, offset, key, value)] in send order."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    acks = []

    def cb(err, msg):
        assert err is None, err
        acks.append((msg.partition(), msg.offset(), msg.key(), msg.value()))

    for part, key, value, ts in records:
        kw = {"timestamp": ts} if ts is not None else {}
        p.produce(topic, value=value, key=key, partition=part, on_delivery=cb, **kw)
        p.poll(0)
    assert p.flush(30) == 0
    return acks


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    finally:
        c.close()
    return {tp.partition: tp.offset for tp in got if tp.offset >= 0}


def watermarks(bootstrap: str, topic: str, partitions: int) -> dict[int, tuple[int, int]]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks-probe"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30) for p in range(partitions)}
    finally:
        c.close()


def table(out: str, header_first: str) -> list[dict]:
    """Whitespace-aligned tables (kafka-consumer-groups): rows after the header line whose first
    column is `header_first`, up to the next blank line, as dicts keyed by the header."""
    rows, header = [], None
    for line in out.splitlines():
        cols = line.split()
        if header is None:
            if cols and cols[0] == header_first:
                header = cols
            continue
        if not cols:
            if rows:
                header = None
            continue
        if cols[0] == header_first:
            header = cols
            continue
        rows.append(dict(zip(header, cols)))
    return rows


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# ---------------------------------------------------------------------------------------------
# kafka-topics.sh


def parse_describe(out: str) -> dict:
    """kafka-topics --describe: {topic: {"PartitionCount": .., "Configs": {...}, "partitions": {p: {...}}}}"""
    topics: dict = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        fields = dict(re.findall(r"(\w+): ?([^\t]*)", line))
        if line.startswith("Topic:") and "PartitionCount" in fields:
            configs = fields.get("Configs", "").strip()
            topics[fields["Topic"]] = {
                "TopicId": fields["TopicId"], "PartitionCount": int(fields["PartitionCount"]),
                "ReplicationFactor": int(fields["ReplicationFactor"]),
                "Configs": dict(kv.split("=", 1) for kv in configs.split(",")) if configs else {},
                "partitions": {}}
        elif line.startswith("\tTopic:"):
            topics[fields["Topic"]]["partitions"][int(fields["Partition"])] = {
                "Leader": fields["Leader"], "Replicas": fields["Replicas"], "Isr": fields["Isr"]}
    return topics


def test_kafka_topics(broker, kafka_tools):
    bs = ("--bootstrap-server", broker.bootstrap)
    t = unique_topic("tools-topics")

    r = tool("kafka-topics", *bs, "--create", "--topic", t, "--partitions", 3,
             "--config", "retention.ms=3600000", "--config", "cleanup.policy=compact")
    assert r.lines == [f"Created topic {t}."], r

    r = tool("kafka-topics", *bs, "--list")
    assert t in r.lines, r

    d = parse_describe(tool("kafka-topics", *bs, "--describe", "--topic", t).out)
    assert set(d) == {t}
    assert d[t]["PartitionCount"] == 3 and d[t]["ReplicationFactor"] == 1
    # Kafka 4.4 (KRaft) also lists min.insync.replicas=1, which its controller writes onto every
    # new topic; only the configs given at creation are checked here.
    assert {k: v for k, v in d[t]["Configs"].items() if k != "min.insync.replicas"} == {
        "retention.ms": "3600000", "cleanup.policy": "compact"}, d
    assert d[t]["partitions"] == {p: {"Leader": "1", "Replicas": "1", "Isr": "1"} for p in range(3)}
    topic_id = d[t]["TopicId"]

    # Errors, with Kafka's texts.
    r = tool("kafka-topics", *bs, "--create", "--topic", t, "--partitions", 1, ok=False)
    assert f"Error while executing topic command : Topic '{t}' already exists." in r.out, r
    r = tool("kafka-topics", *bs, "--create", "--topic", t + "-rf", "--replication-factor", 3, ok=False)
    assert ("Error while executing topic command : Unable to replicate the partition 3 time(s): "
            "The target replication factor of 3 cannot be reached because only 1 broker(s) are "
            "registered") in r.out, r
    r = tool("kafka-topics", *bs, "--create", "--topic", t + "-cfg", "--config", "retention.ms=soon", ok=False)
    assert "Invalid value soon for configuration retention.ms" in r.out, r
    r = tool("kafka-topics", *bs, "--alter", "--topic", t, "--partitions", 2, ok=False)
    assert (f"Error while executing topic command : The topic {t} currently has 3 partition(s); "
            f"2 would not be an increase.") in r.out, r

    tool("kafka-topics", *bs, "--alter", "--topic", t, "--partitions", 5)
    d = parse_describe(tool("kafka-topics", *bs, "--describe", "--topic", t).out)
    assert d[t]["PartitionCount"] == 5 and sorted(d[t]["partitions"]) == [0, 1, 2, 3, 4], d
    assert d[t]["TopicId"] == topic_id

    # --topics-with-overrides: the topic line only, configs included.
    r = tool("kafka-topics", *bs, "--describe", "--topics-with-overrides")
    d = parse_describe(r.out)
    assert t in d and d[t]["partitions"] == {}, r

    tool("kafka-topics", *bs, "--delete", "--topic", t)
    assert t not in tool("kafka-topics", *bs, "--list").lines
    r = tool("kafka-topics", *bs, "--describe", "--topic", t, ok=False)
    assert f"Topic '{t}' does not exist as expected" in r.out, r
    for name in (t + "-rf", t + "-cfg"):
        assert name not in tool("kafka-topics", *bs, "--list").lines


# ---------------------------------------------------------------------------------------------
# kafka-console-producer.sh / kafka-console-consumer.sh

CONSOLE_LINE = re.compile(
    r"^CreateTime:(?P<ts>-?\d+)\tPartition:(?P<p>\d+)\tOffset:(?P<o>\d+)\t(?P<h>[^\t]*)\t(?P<k>[^\t]*)\t(?P<v>.*)$")


def console_records(out: str) -> list[dict]:
    recs = []
    for line in out.splitlines():
        m = CONSOLE_LINE.match(line)
        if m:
            recs.append({"ts": int(m["ts"]), "p": int(m["p"]), "o": int(m["o"]), "h": m["h"],
                         "k": m["k"], "v": m["v"]})
    return recs


def test_console_producer_and_consumer(broker, kafka_tools):
    bs = ("--bootstrap-server", broker.bootstrap)
    t = unique_topic("tools-console")
    group = f"g-{t}"
    create_topic(broker.bootstrap, t, 3)
    keyed = [(f"key-{i % 4}", f"value {i} with spaces") for i in range(20)]
    before = int(time.time() * 1000)
    tool("kafka-console-producer", *bs, "--topic", t,
         "--reader-property", "parse.key=true", "--reader-property", "key.separator=|",
         input="".join(f"{k}|{v}\n" for k, v in keyed))
    # Headers: "h1:v1,h2:v2<TAB>key|value" with the default header separators.
    tool("kafka-console-producer", *bs, "--topic", t,
         "--reader-property", "parse.key=true", "--reader-property", "key.separator=|",
         "--reader-property", "parse.headers=true",
         input="trace:abc,src:tools\tkey-h|with headers\nonly:one\tkey-h|second\n")
    after = int(time.time() * 1000)

    fmt = []
    for prop in ("print.key", "print.headers", "print.offset", "print.partition", "print.timestamp"):
        fmt += ["--formatter-property", f"{prop}=true"]
    r = tool("kafka-console-consumer", *bs, "--topic", t, "--from-beginning", "--group", group,
             "--max-messages", 22, "--timeout-ms", 60000, *fmt)
    recs = console_records(r.out)
    assert len(recs) == 22, r
    assert "Processed a total of 22 messages" in r.err, r
    got = sorted((x["k"], x["v"]) for x in recs if x["h"] == "NO_HEADERS")
    assert got == sorted(keyed), r
    with_h = sorted((x["h"], x["k"], x["v"]) for x in recs if x["h"] != "NO_HEADERS")
    assert with_h == [("only:one", "key-h", "second"), ("trace:abc,src:tools", "key-h", "with headers")]
    # Same key, same partition; offsets per partition 0..n-1; timestamps from this run.
    by_key: dict = {}
    for x in recs:
        by_key.setdefault(x["k"], set()).add(x["p"])
        assert before - 1000 <= x["ts"] <= after + 1000, x
    assert all(len(ps) == 1 for ps in by_key.values()), by_key
    per_p: dict = {}
    for x in recs:
        per_p.setdefault(x["p"], []).append(x["o"])
    assert {p: sorted(o) for p, o in per_p.items()} == {p: list(range(len(o))) for p, o in per_p.items()}
    ends = watermarks(broker.bootstrap, t, 3)

    # The group committed everything it printed (on close).
    assert committed(broker.bootstrap, group, t, 3) == {p: hi for p, (lo, hi) in ends.items() if hi > 0}

    # Resume in the same group: only the new records, no --from-beginning needed.
    tool("kafka-console-producer", *bs, "--topic", t, "--reader-property", "parse.key=true",
         "--reader-property", "key.separator=|", input="key-1|late one\nkey-2|late two\n")
    r = tool("kafka-console-consumer", *bs, "--topic", t, "--group", group, "--max-messages", 2,
             "--timeout-ms", 60000, *fmt)
    recs2 = console_records(r.out)
    assert sorted((x["k"], x["v"]) for x in recs2) == [("key-1", "late one"), ("key-2", "late two")], r
    for x in recs2:
        assert x["o"] == ends[x["p"]][1] + sum(1 for y in recs2 if y["p"] == x["p"] and y["o"] < x["o"])

    # Without a group and without --from-beginning nothing old is printed; --partition/--offset
    # reads from an exact position.
    p0 = min(p for p in per_p)
    r = tool("kafka-console-consumer", *bs, "--topic", t, "--partition", p0, "--offset", 1,
             "--max-messages", 1, "--timeout-ms", 60000, *fmt)
    one = console_records(r.out)
    assert len(one) == 1 and one[0]["p"] == p0 and one[0]["o"] == 1, r
    want = [x for x in recs if x["p"] == p0 and x["o"] == 1][0]
    assert (one[0]["k"], one[0]["v"]) == (want["k"], want["v"])


# ---------------------------------------------------------------------------------------------
# kafka-consumer-groups.sh


@pytest.fixture
def group_setup(broker):
    """Topic with 3 partitions x 10 records; record i of every partition is timestamped
    (10 - i) hours ago. Group `idle` (no members) committed 3/5/10."""
    t = unique_topic("tools-groups")
    create_topic(broker.bootstrap, t, 3)
    now = datetime.now(timezone.utc)
    stamps = [ms(now) - (10 - i) * 3600_000 for i in range(10)]
    produce(broker.bootstrap, t, [(p, f"k{p}-{i}".encode(), f"v{p}-{i}".encode(), stamps[i])
                                  for p in range(3) for i in range(10)])
    idle = f"idle-{t}"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": idle, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(t, 0, 3), TopicPartition(t, 1, 5), TopicPartition(t, 2, 10)],
             asynchronous=False)
    c.close()
    return {"topic": t, "idle": idle, "stamps": stamps, "now": now}


def test_consumer_groups_list_and_describe(broker, kafka_tools, group_setup):
    bs = ("--bootstrap-server", broker.bootstrap)
    t, idle = group_setup["topic"], group_setup["idle"]
    live = f"live-{t}"
    member = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": live, "client.id": "live-client",
                       "enable.auto.commit": False, "auto.offset.reset": "earliest",
                       "partition.assignment.strategy": "range"})
    member.subscribe([t])
    try:
        deadline = time.monotonic() + 30
        while not member.assignment():
            assert time.monotonic() < deadline, "the live member got no assignment"
            member.poll(0.2)

        r = tool("kafka-consumer-groups", *bs, "--list")
        assert {idle, live} <= set(r.lines), r
        r = tool("kafka-consumer-groups", *bs, "--list", "--state")
        states = {row["GROUP"]: row["STATE"] for row in table(r.out, "GROUP")}
        assert states[idle] == "Empty" and states[live] == "Stable", r

        r = tool("kafka-consumer-groups", *bs, "--describe", "--group", idle)
        assert f"Consumer group '{idle}' has no active members." in r.out + r.err, r
        rows = {int(x["PARTITION"]): x for x in table(r.out, "GROUP")}
        assert {p: (x["CURRENT-OFFSET"], x["LOG-END-OFFSET"], x["LAG"], x["CONSUMER-ID"])
                for p, x in rows.items()} == {0: ("3", "10", "7", "-"), 1: ("5", "10", "5", "-"),
                                               2: ("10", "10", "0", "-")}, r

        # The live group: one member, all three partitions, nothing committed yet (lag "-").
        r = tool("kafka-consumer-groups", *bs, "--describe", "--group", live)
        rows = table(r.out, "GROUP")
        assert sorted(int(x["PARTITION"]) for x in rows) == [0, 1, 2], r
        assert {x["CLIENT-ID"] for x in rows} == {"live-client"}
        assert all(x["CURRENT-OFFSET"] == "-" and x["LOG-END-OFFSET"] == "10" for x in rows), r
        r = tool("kafka-consumer-groups", *bs, "--describe", "--group", live, "--members")
        rows = table(r.out, "GROUP")
        assert len(rows) == 1 and rows[0]["CLIENT-ID"] == "live-client" and rows[0]["#PARTITIONS"] == "3", r
        r = tool("kafka-consumer-groups", *bs, "--describe", "--group", live, "--members", "--verbose")
        assert re.search(rf"{re.escape(t)}\(0,1,2\)|{re.escape(t)}:0,1,2", r.out), r
        r = tool("kafka-consumer-groups", *bs, "--describe", "--group", live, "--state")
        rows = table(r.out, "GROUP")
        assert len(rows) == 1, r
        # COORDINATOR (ID) is two columns: "127.0.0.1:port" and "(1)".
        assert re.search(rf"^{re.escape(live)}\s+127\.0\.0\.1:{broker.port}\s+\(1\)\s+range\s+Stable\s+1\s*$",
                         r.out, re.M), r

        # A live group cannot be reset or deleted; Kafka's messages.
        r = tool("kafka-consumer-groups", *bs, "--group", live, "--reset-offsets", "--topic", t,
                 "--to-earliest", "--execute", ok=None)
        assert (f"Assignments can only be reset if the group '{live}' is inactive, but the current "
                f"state is Stable.") in r.out + r.err, r
        r = tool("kafka-consumer-groups", *bs, "--delete", "--group", live, ok=None)
        assert f"Group '{live}' could not be deleted due to:" in r.out + r.err, r
        assert "GroupNotEmptyException: The group is not empty." in r.out + r.err, r
    finally:
        member.close()


def reset_rows(r: Run) -> dict[int, int]:
    return {int(x["PARTITION"]): int(x["NEW-OFFSET"]) for x in table(r.out, "GROUP")}


def test_consumer_groups_reset_offsets(broker, kafka_tools, group_setup, tmp_path):
    bs = ("--bootstrap-server", broker.bootstrap)
    t, g = group_setup["topic"], group_setup["idle"]
    base = ("kafka-consumer-groups", *bs, "--group", g, "--reset-offsets")

    def now_committed():
        return committed(broker.bootstrap, g, t, 3)

    assert now_committed() == {0: 3, 1: 5, 2: 10}
    # --dry-run (the default) shows the plan and changes nothing.
    assert reset_rows(tool(*base, "--topic", t, "--to-earliest", "--dry-run")) == {0: 0, 1: 0, 2: 0}
    assert now_committed() == {0: 3, 1: 5, 2: 10}

    cases = [
        (("--topic", t, "--to-earliest"), {0: 0, 1: 0, 2: 0}),
        (("--topic", t, "--to-latest"), {0: 10, 1: 10, 2: 10}),
        (("--topic", t, "--to-offset", 4), {0: 4, 1: 4, 2: 4}),
        (("--topic", t, "--shift-by", -3), {0: 1, 1: 1, 2: 1}),
        (("--all-topics", "--shift-by", 100), {0: 10, 1: 10, 2: 10}),   # clamped to the end
        (("--topic", f"{t}:1", "--to-offset", 7), {1: 7}),              # one partition only
        (("--topic", t, "--to-current"), {0: 10, 1: 7, 2: 10}),
    ]
    for args, want in cases:
        r = tool(*base, *args, "--execute")
        assert reset_rows(r) == want, f"{args}\n{r}"
        cur = now_committed()
        assert {p: cur[p] for p in want} == want, f"{args}: committed {cur}"

    # Time-based: record i is (10 - i) hours old. 7.5 h ago -> first record at or after it is 3.
    stamp = group_setup["now"].timestamp() - 7.5 * 3600
    when = datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    r = tool(*base, "--topic", t, "--to-datetime", when, "--execute")
    assert reset_rows(r) == {0: 3, 1: 3, 2: 3}, r
    assert now_committed() == {0: 3, 1: 3, 2: 3}
    r = tool(*base, "--topic", t, "--by-duration", "PT5H30M", "--execute")
    assert reset_rows(r) == {0: 5, 1: 5, 2: 5}, r
    assert now_committed() == {0: 5, 1: 5, 2: 5}

    # --export writes a CSV plan; --from-file applies one.
    r = tool(*base, "--topic", t, "--to-offset", 2, "--dry-run", "--export")
    plan = sorted(tuple(row) for row in csv.reader(io.StringIO(r.out)) if row)
    assert plan == [(t, "0", "2"), (t, "1", "2"), (t, "2", "2")], r
    assert now_committed() == {0: 5, 1: 5, 2: 5}
    f = tmp_path / "plan.csv"
    f.write_text(f"{t},0,1\n{t},1,6\n{t},2,9\n")
    r = tool(*base, "--from-file", f, "--execute")
    assert reset_rows(r) == {0: 1, 1: 6, 2: 9}, r
    assert now_committed() == {0: 1, 1: 6, 2: 9}

    # --delete-offsets for one partition, then --delete for the whole group.
    r = tool("kafka-consumer-groups", *bs, "--group", g, "--delete-offsets", "--topic", f"{t}:2")
    assert f"Request succeeded for deleting offsets from group {g}." in r.out, r
    assert re.search(rf"^{re.escape(t)}\s+2\s+Successful\s*$", r.out, re.M), r
    assert now_committed() == {0: 1, 1: 6}
    r = tool("kafka-consumer-groups", *bs, "--delete", "--group", g)
    assert f"Deletion of requested consumer groups ('{g}') was successful." in r.out, r
    assert g not in tool("kafka-consumer-groups", *bs, "--list").lines
    assert now_committed() == {}
    r = tool("kafka-consumer-groups", *bs, "--delete", "--group", g, ok=None)
    assert (f"Group '{g}' could not be deleted due to: org.apache.kafka.common.errors."
            f"GroupIdNotFoundException: The group id does not exist.") in r.out + r.err, r


# ---------------------------------------------------------------------------------------------
# kafka-configs.sh

CONFIG_LINE = re.compile(r"^  (?P<k>[^=\s]+)=(?P<v>\S*) sensitive=(?P<s>\w+) synonyms=\{(?P<syn>.*)\}$")


def configs(out: str) -> dict[str, tuple[str, str]]:
    """{key: (value, synonyms text)} from kafka-configs --describe."""
    return {m["k"]: (m["v"], m["syn"]) for m in map(CONFIG_LINE.match, out.splitlines()) if m}


def test_kafka_configs(broker, kafka_tools):
    bs = ("--bootstrap-server", broker.bootstrap)
    t = unique_topic("tools-configs")
    create_topic(broker.bootstrap, t, 1, **{"retention.ms": "86400000"})
    topic = ("kafka-configs", *bs, "--entity-type", "topics", "--entity-name", t)

    r = tool(*topic, "--describe")
    assert f"Dynamic configs for topic {t} are:" in r.out
    assert configs(r.out)["retention.ms"] == ("86400000", "DYNAMIC_TOPIC_CONFIG:retention.ms=86400000"), r

    r = tool(*topic, "--alter", "--add-config", "max.message.bytes=20000,cleanup.policy=[compact,delete]")
    assert r.lines == [f"Completed updating config for topic {t}."], r
    r = tool(*topic, "--alter", "--delete-config", "retention.ms")
    got = configs(tool(*topic, "--describe").out)
    assert {k: v for k, (v, _) in got.items() if k != "min.insync.replicas"} == {
        "max.message.bytes": "20000", "cleanup.policy": "compact,delete"}, got
    assert got["max.message.bytes"][1] == ("DYNAMIC_TOPIC_CONFIG:max.message.bytes=20000, "
                                           "DEFAULT_CONFIG:message.max.bytes=1048588")

    # --all: every topic config with its effective value and source.
    r = tool(*topic, "--describe", "--all")
    allc = configs(r.out)
    assert allc["max.message.bytes"][0] == "20000"
    # No synonym listed for retention.ms's default: Kafka 4.4 prints "synonyms={}" too.
    assert allc["retention.ms"] == ("604800000", ""), r
    assert allc["segment.bytes"][0] == "1073741824" and allc["compression.type"][0] == "producer", r

    # Errors from the broker, with Kafka's texts.
    r = tool(*topic, "--alter", "--add-config", "no.such.config=1", ok=False)
    assert "InvalidConfigurationException: Unknown topic config name: no.such.config" in r.out + r.err, r
    r = tool(*topic, "--alter", "--add-config", "retention.ms=abc", ok=False)
    assert ("InvalidConfigurationException: Invalid value abc for configuration retention.ms: "
            "Not a number of type LONG") in r.out + r.err, r

    # Brokers: per-broker and cluster-wide defaults.
    b1 = ("kafka-configs", *bs, "--entity-type", "brokers", "--entity-name", "1")
    dflt = ("kafka-configs", *bs, "--entity-type", "brokers", "--entity-default")
    r = tool(*b1, "--alter", "--add-config", "log.cleaner.threads=2")
    assert r.lines == ["Completed updating config for broker 1."], r
    r = tool(*b1, "--describe")
    assert "Dynamic configs for broker 1 are:" in r.out
    assert configs(r.out)["log.cleaner.threads"] == (
        "2", "DYNAMIC_BROKER_CONFIG:log.cleaner.threads=2, DEFAULT_CONFIG:log.cleaner.threads=1"), r
    r = tool(*dflt, "--alter", "--add-config", "log.retention.ms=7200000")
    assert r.lines == ["Completed updating default config for brokers in the cluster."], r
    r = tool(*dflt, "--describe")
    assert "Default configs for brokers in the cluster are:" in r.out
    assert configs(r.out)["log.retention.ms"] == (
        "7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7200000"), r
    # The cluster default now shows through on a topic without its own retention.ms.
    allc = configs(tool(*topic, "--describe", "--all").out)
    assert allc["retention.ms"][0] == "7200000", allc["retention.ms"]
    tool(*b1, "--alter", "--delete-config", "log.cleaner.threads")
    tool(*dflt, "--alter", "--delete-config", "log.retention.ms")
    assert "log.cleaner.threads" not in configs(tool(*b1, "--describe").out)
    assert "log.retention.ms" not in configs(tool(*dflt, "--describe").out)


# ---------------------------------------------------------------------------------------------
# kafka-get-offsets.sh, kafka-delete-records.sh, kafka-log-dirs.sh


def get_offsets(out: str) -> dict[int, int]:
    res = {}
    for line in out.splitlines():
        m = re.match(r"^(.+):(\d+):(-?\d+)$", line)
        if m:
            res[int(m[2])] = int(m[3])
    return res


def test_get_offsets_and_delete_records(broker, kafka_tools, tmp_path):
    bs = ("--bootstrap-server", broker.bootstrap)
    t = unique_topic("tools-offsets")
    create_topic(broker.bootstrap, t, 2)
    base = int(time.time() * 1000) - 3600_000
    # Partition 0: 10 records, timestamps base+0..9 s, except offset 6, the newest of all.
    ts0 = [base + i * 1000 for i in range(10)]
    ts0[6] = base + 50_000
    recs = [(0, b"k", f"v{i}".encode(), ts0[i]) for i in range(10)]
    recs += [(1, b"k", f"w{i}".encode(), base + i * 1000) for i in range(4)]
    produce(broker.bootstrap, t, recs)

    assert get_offsets(tool("kafka-get-offsets", *bs, "--topic", t, "--time", -1).out) == {0: 10, 1: 4}
    assert get_offsets(tool("kafka-get-offsets", *bs, "--topic", t, "--time", -2).out) == {0: 0, 1: 0}
    assert get_offsets(tool("kafka-get-offsets", *bs, "--topic", t, "--time", -3).out) == {0: 6, 1: 3}
    r = tool("kafka-get-offsets", *bs, "--topic", t, "--time", base + 3500)
    # First offset whose timestamp is >= the given time; none (no line) past the newest record.
    got = get_offsets(r.out)
    assert got.get(0) == 4, r
    assert 1 not in got or got[1] == -1, r
    assert get_offsets(tool("kafka-get-offsets", *bs, "--topic-partitions", f"{t}:1", "--time", -1).out) == {1: 4}

    # kafka-delete-records: move partition 0's start to 4; an offset past the end is refused.
    spec = tmp_path / "delete.json"
    spec.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": t, "partition": 0, "offset": 4}]}))
    r = tool("kafka-delete-records", *bs, "--offset-json-file", spec)
    assert f"partition: {t}-0\tlow_watermark: 4" in r.lines, r
    spec.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": t, "partition": 1, "offset": 100}]}))
    r = tool("kafka-delete-records", *bs, "--offset-json-file", spec)
    assert (f"partition: {t}-1\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: "
            f"The requested offset is not within the range of offsets maintained by the server.") in r.lines, r
    assert get_offsets(tool("kafka-get-offsets", *bs, "--topic", t, "--time", -2).out) == {0: 4, 1: 0}
    assert watermarks(broker.bootstrap, t, 2) == {0: (4, 10), 1: (0, 4)}

    # kafka-log-dirs: one log dir, both partitions, sizes equal to the segment files on disk.
    r = tool("kafka-log-dirs", *bs, "--describe", "--topic-list", t)
    doc = json.loads([l for l in r.lines if l.startswith("{")][0])
    assert [b["broker"] for b in doc["brokers"]] == [1]
    dirs = doc["brokers"][0]["logDirs"]
    assert len(dirs) == 1 and dirs[0]["error"] is None
    assert Path(dirs[0]["logDir"]).resolve() == broker.data_dir.resolve(), dirs
    parts = {x["partition"]: x for x in dirs[0]["partitions"]}
    assert set(parts) == {f"{t}-0", f"{t}-1"}
    for name, x in parts.items():
        on_disk = sum(f.stat().st_size for f in (broker.data_dir / name).glob("*.log"))
        assert x["size"] == on_disk and x["offsetLag"] == 0 and x["isFuture"] is False, (x, on_disk)


# ---------------------------------------------------------------------------------------------
# kafka-leader-election.sh, kafka-features.sh, kafka-metadata-quorum.sh, kafka-transactions.sh,
# kafka-acls.sh, kafka-reassign-partitions.sh, kafka-broker-api-versions.sh


def test_leader_election(broker, kafka_tools):
    bs = ("--bootstrap-server", broker.bootstrap)
    t = unique_topic("tools-election")
    create_topic(broker.bootstrap, t, 2)
    for kind in ("preferred", "unclean"):
        r = tool("kafka-leader-election", *bs, "--election-type", kind, "--topic", t, "--partition", 1)
        assert r.lines == [f"Valid replica already elected for partitions {t}-1"], r
    # All partitions, every leader already preferred: nothing to say (Kafka prints nothing either).
    r = tool("kafka-leader-election", *bs, "--election-type", "preferred", "--all-topic-partitions")
    assert r.out.strip() == "", r
    r = tool("kafka-leader-election", *bs, "--election-type", "preferred", "--topic", "no-such-topic",
             "--partition", 0, ok=False)
    assert ("Error completing leader election (PREFERRED) for partition: no-such-topic-0: "
            "org.apache.kafka.common.errors.UnknownTopicOrPartitionException") in r.out, r
    assert "1 replica(s) could not be elected" in r.out + r.err, r


FEATURE_LINE = re.compile(r"^Feature: (\S+)\s+SupportedMinVersion: (\S+)\s+SupportedMaxVersion: (\S+)\s+"
                          r"FinalizedVersionLevel: (\S+)\s+Epoch: (\S+)")


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_features_describe(request, kafka_tools, target):
    bootstrap = (request.getfixturevalue("broker") if target == "vltava"
                 else request.getfixturevalue("real_kafka")).bootstrap
    r = tool("kafka-features", "--bootstrap-server", bootstrap, "describe")
    feats = {m[1]: m.groups()[1:] for m in map(FEATURE_LINE.match, r.lines) if m}
    assert "metadata.version" in feats, r
    lo, hi, finalized, epoch = feats["metadata.version"]
    assert re.fullmatch(r"\d+\.\d+-IV\d+", finalized), feats
    assert lo == "3.3-IV3" and finalized == hi == "4.4-IV2", feats


@pytest.mark.parametrize("target", [
    pytest.param("vltava", marks=pytest.mark.xfail(strict=True, reason=(
        "DescribeQuorum (api key 55) is not advertised in ApiVersions; "
        "kafka-metadata-quorum fails with UnsupportedVersionException: The node does not "
        "support DESCRIBE_QUORUM"))),
    "kafka"])
def test_metadata_quorum_describe(request, kafka_tools, target):
    b = request.getfixturevalue("broker") if target == "vltava" else request.getfixturevalue("real_kafka")
    r = tool("kafka-metadata-quorum", "--bootstrap-server", b.bootstrap, "describe", "--status", ok=None)
    fields = dict(re.findall(r"^(\w+):\s+(.*)$", r.out, re.M))
    assert fields.get("LeaderId") == "1" and "ClusterId" in fields, r
    assert json.loads(fields["CurrentVoters"])[0]["id"] == 1, r


@pytest.mark.parametrize("target", ["vltava", "kafka"])
def test_transactions_list(request, kafka_tools, target):
    b = request.getfixturevalue("broker") if target == "vltava" else request.getfixturevalue("real_kafka")
    r = tool("kafka-transactions", "--bootstrap-server", b.bootstrap, "list", ok=None)
    # Columns are padded to the longest value (the session's Kafka may know other transactions).
    header = [c.strip() for c in r.lines[0].split("\t")] if r.lines else []
    assert r.rc == 0 and header[:4] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"], r


def test_acls_reassignments_and_api_versions(broker, kafka_tools):
    bs = ("--bootstrap-server", broker.bootstrap)
    # No authorizer: Kafka without one answers SECURITY_DISABLED, and so does Vltava.
    r = tool("kafka-acls", *bs, "--list", ok=False)
    assert "SecurityDisabledException: No Authorizer is configured on the broker" in r.out + r.err, r
    r = tool("kafka-reassign-partitions", *bs, "--list")
    assert r.lines == ["No partition reassignments found."], r
    # kafka-broker-api-versions: every API with its range and the version this client uses.
    r = tool("kafka-broker-api-versions", *bs)
    apis = dict(re.findall(r"^\s+(\w+)\(\d+\): (.+?),?$", r.out, re.M))
    assert re.match(r"0 to 1[0-9] \[usable: 1[0-9]\]", apis["Produce"]), r
    assert re.match(r"4 to 18 \[usable: 1[0-9]\]", apis["Fetch"]), r
    assert apis["DescribeQuorum"] == "UNSUPPORTED", r


# ---------------------------------------------------------------------------------------------
# Perf tests, verifiable producer/consumer, end-to-end latency


def test_producer_and_consumer_perf_test(broker, kafka_tools):
    t = unique_topic("tools-perf")
    create_topic(broker.bootstrap, t, 3)
    n, size = 30000, 100
    r = tool("kafka-producer-perf-test", "--topic", t, "--num-records", n, "--record-size", size,
             "--throughput", -1, "--bootstrap-server", broker.bootstrap,
             "--command-property", "acks=all", "compression.type=lz4")
    final = [l for l in r.lines if re.match(rf"^{n} records sent, ", l)]
    assert len(final) == 1, r
    m = re.search(r"records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency", final[0])
    assert m, final
    assert sum(hi for lo, hi in watermarks(broker.bootstrap, t, 3).values()) == n

    r = tool("kafka-consumer-perf-test", "--bootstrap-server", broker.bootstrap, "--topic", t,
             "--num-records", n, "--timeout", 60000)
    header_i = next(i for i, l in enumerate(r.lines) if l.startswith("start.time, end.time"))
    header = [h.strip() for h in r.lines[header_i].split(",")]
    row = dict(zip(header, (v.strip() for v in r.lines[header_i + 1].split(","))))
    assert int(row["data.consumed.in.nMsg"]) == n, r
    assert float(row["data.consumed.in.MB"]) == pytest.approx(n * size / 1024 / 1024, abs=0.0001), r


def events(out: str) -> list[dict]:
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def test_verifiable_producer_and_consumer(broker, kafka_tools):
    t = unique_topic("tools-verifiable")
    create_topic(broker.bootstrap, t, 3)
    n = 600
    r = tool("kafka-verifiable-producer", "--bootstrap-server", broker.bootstrap, "--topic", t,
             "--max-messages", n, "--acks", -1, "--repeating-keys", 7, "--value-prefix", 42)
    ev = events(r.out)
    acked = [e for e in ev if e["name"] == "producer_send_success"]
    assert not [e for e in ev if e["name"] == "producer_send_error"], r
    assert ev[-1]["name"] == "tool_data" and ev[-1]["sent"] == n and ev[-1]["acked"] == n, ev[-1]
    assert len(acked) == n
    assert sorted(int(e["value"].split(".")[1]) for e in acked) == list(range(n))
    per_p: dict = {}
    for e in acked:
        per_p.setdefault(e["partition"], []).append(e["offset"])
    for p, offs in per_p.items():
        assert sorted(offs) == list(range(len(offs))), (p, offs[:10])

    r = tool("kafka-verifiable-consumer", "--bootstrap-server", broker.bootstrap, "--topic", t,
             "--group-id", f"g-{t}", "--max-messages", n, "--reset-policy", "earliest", "--verbose")
    ev = events(r.out)
    data = [e for e in ev if e["name"] == "record_data"]
    got = sorted((e["partition"], e["offset"], e["key"], e["value"]) for e in data)
    want = sorted((e["partition"], e["offset"], e["key"], e["value"]) for e in acked)
    assert got == want, f"consumed {len(got)} records, acked {len(want)}; first differences: " \
                        f"{sorted(set(got) ^ set(want))[:5]}"
    commits = [e for e in ev if e["name"] == "offsets_committed"]
    assert commits and all(e["success"] for e in commits), commits
    last = {}
    for e in commits:
        for o in e["offsets"]:
            last[o["partition"]] = o["offset"]
    assert last == {p: len(offs) for p, offs in per_p.items()}, last
    assert committed(broker.bootstrap, f"g-{t}", t, 3) == last


def test_end_to_end_latency(broker, kafka_tools):
    t = unique_topic("tools-e2e")
    create_topic(broker.bootstrap, t, 1)
    n = 300
    # The tool checks every value it reads back against what it sent and fails otherwise.
    r = tool("kafka-e2e-latency", "--bootstrap-server", broker.bootstrap, "--topic", t,
             "--num-records", n, "--producer-acks", "all", "--record-size", 200)
    avg = re.search(r"^Avg latency: ([\d.]+) ms$", r.out, re.M)
    pct = re.search(r"^Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)$", r.out, re.M)
    assert avg and pct, r
    assert int(pct[1]) <= int(pct[2]) <= int(pct[3]), r
    assert watermarks(broker.bootstrap, t, 1) == {0: (0, n)}


# ---------------------------------------------------------------------------------------------
# kafka-dump-log.sh on the broker's own segment files

BATCH_LINE = re.compile(r"^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .* position: (\d+) "
                        r"CreateTime: (-?\d+) size: (\d+) magic: (\d+) compresscodec: (\w+) crc: (\d+) isvalid: (\w+)$")
RECORD_LINE = re.compile(r"^\| offset: (\d+) CreateTime: (-?\d+) keySize: (-?\d+) valueSize: (-?\d+) "
                         r"sequence: (-?\d+) headerKeys: \[(.*)\] key: (.*) payload: (.*)$")


def test_dump_log_reads_vltava_segments(broker, kafka_tools):
    t = unique_topic("tools-dump")
    create_topic(broker.bootstrap, t, 2)
    base = int(time.time() * 1000) - 3600_000
    n = 400
    val = lambda p, i: f"value-{p}-{i}-" + "x" * (60 + i % 50)  # noqa: E731
    produce(broker.bootstrap, t, [(0, f"key-{i}".encode(), val(0, i).encode(), base + i) for i in range(n)],
            **{"batch.num.messages": 20})
    produce(broker.bootstrap, t, [(1, f"key-{i}".encode(), val(1, i).encode(), base + i) for i in range(n)],
            **{"batch.num.messages": 20, "compression.type": "lz4"})
    assert broker.stop() == 0, broker.log_tail()  # a clean stop: indexes trimmed and flushed

    for p, codec in ((0, "none"), (1, "lz4")):
        d = broker.data_dir / f"{t}-{p}"
        seg = d / "00000000000000000000"
        r = tool("kafka-dump-log", "--files", f"{seg}.log", "--deep-iteration", "--print-data-log")
        batches = [m.groups() for m in map(BATCH_LINE.match, r.lines) if m]
        records = [m.groups() for m in map(RECORD_LINE.match, r.lines) if m]
        assert len(records) == n, r
        for i, rec in enumerate(records):
            assert (int(rec[0]), int(rec[1]), rec[6], rec[7]) == (i, base + i, f"key-{i}", val(p, i)), rec
        # Batches tile the offsets and the file; every CRC checks out.
        assert len(batches) > 1
        nxt, pos = 0, 0
        for b in batches:
            base_off, last_off, count, position, _, size, magic, cc, _, valid = b
            assert (int(base_off), int(position), magic, cc, valid) == (nxt, pos, "2", codec, "true"), b
            assert int(last_off) - int(base_off) + 1 == int(count)
            nxt, pos = int(last_off) + 1, pos + int(size)
        assert nxt == n and pos == (d / "00000000000000000000.log").stat().st_size

        r = tool("kafka-dump-log", "--files", f"{seg}.index,{seg}.timeindex", "--index-sanity-check")
        assert f"{seg}.index passed sanity check." in r.lines or f"{seg}.index is empty." in r.lines, r
        assert f"{seg}.timeindex passed sanity check." in r.lines, r

        r = tool("kafka-dump-log", "--files", f"{seg}.index", "--verify-index-only")
        assert "Index mismatch" not in r.out and "Non-consecutive" not in r.out, r
        r = tool("kafka-dump-log", "--files", f"{seg}.index,{seg}.timeindex")
        idx = [(int(a), int(b)) for a, b in re.findall(r"^offset: (\d+) position: (\d+)$", r.out, re.M)]
        tidx = [(int(a), int(b)) for a, b in re.findall(r"^timestamp: (-?\d+) offset: (\d+)$", r.out, re.M)]
        assert "Index mismatch" not in r.out and "Found timestamp mismatch" not in r.out, r
        # Sparse entries about every 4096 bytes (log.index.interval.bytes), each at the start of
        # a batch that holds its offset.
        size = (d / "00000000000000000000.log").stat().st_size
        biggest = max(int(b[5]) for b in batches)
        assert len(idx) >= max(1, size // (4096 + biggest)), (size, biggest, r)
        starts = {int(b[3]): (int(b[0]), int(b[1])) for b in batches}
        for off, position in idx:
            assert position in starts and starts[position][0] <= off <= starts[position][1], (off, position)
        assert idx == sorted(idx) and tidx == sorted(tidx) and tidx, r
        for ts, off in tidx:
            assert ts == base + off, (ts, off)  # timestamps grow with offsets here
