"""kafkajs 2.2.4 (Node): admin (topics, partitions, configs, delete records, group offsets),
producer (keys, headers, default partitioner, gzip, idempotent, acks=0/1), consumer groups
(rebalance, commit, resume, offsets set from outside, delete).

The Node side is compat-tests/node/kjs.js: it performs client calls and prints what kafkajs
returned as JSON lines; every assertion is made here. Group members run as separate Node processes
so a test can start, rebalance and stop them like real services.
"""
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import COMPAT_DIR, unique_topic
from log_checks import CODEC_IDS, default_partition, segment_batches

NODE = shutil.which("node")
NODE_DIR = COMPAT_DIR / "node"
KJS = NODE_DIR / "kjs.js"
# setup.sh installs kafkajs outside the repository; NODE_PATH lets kjs.js find it there.
NODE_MODULES = Path(os.environ.get("VLTAVA_CACHE", Path.home() / ".cache" / "vltava")) / "node" / "node_modules"


@pytest.fixture(scope="module", autouse=True)
def kafkajs_installed():
    if NODE is None or not (NODE_MODULES / "kafkajs" / "package.json").exists():
        pytest.fail("kafkajs is not installed: run `compat-tests/setup.sh node` (needs node and npm)")


def node_env(debug=False) -> dict:
    env = dict(os.environ)
    env["NODE_PATH"] = str(NODE_MODULES)
    # kafkajs 2 prints a banner about its (Java-compatible) default partitioner otherwise.
    env["KAFKAJS_NO_PARTITIONER_WARNING"] = "1"
    env["KJS_LOG"] = "debug" if debug else "error"
    return env


def kjs(cmd: str, broker, spec: dict, timeout=60, debug=False) -> tuple[list[dict], str]:
    """Runs one kjs.js command to completion; returns its JSON lines and its stderr (kafkajs log)."""
    res = subprocess.run(["node", str(KJS), cmd, broker.bootstrap, json.dumps(spec)],
                         capture_output=True, text=True, timeout=timeout, env=node_env(debug),
                         stdin=subprocess.DEVNULL, cwd=NODE_DIR)
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    fatal = [line for line in lines if "fatal" in line]
    assert res.returncode == 0 and not fatal, \
        f"kjs {cmd} exited {res.returncode}: {fatal}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return lines, res.stderr


def admin(broker, *ops, debug=False) -> list[dict]:
    lines, _ = kjs("admin", broker, {"ops": list(ops)}, debug=debug)
    assert [line["op"] for line in lines] == [o["op"] for o in ops], lines
    return lines


def ok(line: dict):
    assert "error" not in line, f"{line['op'] if 'op' in line else line}: {line['error']}"
    return line["ok"]


def request_versions(log: str) -> dict[str, set[int]]:
    """API name -> versions kafkajs sent, from its debug log ("Request Fetch(key: 1, version: 11)")."""
    seen: dict[str, set[int]] = {}
    for line in log.splitlines():
        try:
            msg = json.loads(line).get("message", "")
        except ValueError:
            continue
        if msg.startswith("Request ") and "version: " in msg:
            name = msg[len("Request "):msg.index("(")]
            seen.setdefault(name, set()).add(int(msg.rsplit("version: ", 1)[1].rstrip(")")))
    return seen


def create_topic(broker, topic, partitions):
    [res] = admin(broker, {"op": "createTopics", "topics": [{"topic": topic, "numPartitions": partitions}]})
    assert ok(res) is True


class KjsMember:
    """A kafkajs group member (kjs.js consume) running in its own Node process."""

    def __init__(self, broker, topics, group, client_id, workdir: Path, **spec):
        self.name = client_id
        self.events: list[dict] = []
        self.lock = threading.Lock()
        self.err_path = workdir / f"{client_id}.stderr"
        full = {"topics": topics, "groupId": group, "clientId": client_id, **spec}
        with open(self.err_path, "ab") as err:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                ["node", str(KJS), "consume", broker.bootstrap, json.dumps(full)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                text=True, env=node_env(debug=True), cwd=NODE_DIR)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self.lock:
                    self.events.append(json.loads(line))

    def of(self, kind) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e.get("event") == kind]

    def records(self) -> list[dict]:
        return self.of("record")

    def assignment(self, topic) -> set[int] | None:
        """Partitions of `topic` from the last join (None before the first join)."""
        joins = self.of("joined")
        return set(joins[-1]["assignment"].get(topic, [])) if joins else None

    def committed(self) -> dict[int, int]:
        """partition -> highest offset this member committed."""
        out: dict[int, int] = {}
        for e in self.of("committed"):
            out[e["partition"]] = max(out.get(e["partition"], 0), e["offset"])
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout=30):
        """Clean shutdown: kafkajs disconnects, which sends LeaveGroup."""
        if self.alive():
            try:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"{self.name} did not stop within {timeout}s\n{self.describe()}")
        assert self.of("closed"), f"{self.name} exited without a clean close\n{self.describe()}"

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)

    def describe(self) -> str:
        with self.lock:
            events = [e for e in self.events if e.get("event") != "record"][-30:]
        log = self.err_path.read_text(errors="replace") if self.err_path.exists() else ""
        errors = [line for line in log.splitlines() if '"level":"ERROR"' in line or '"level":"WARN"' in line]
        return (f"--- {self.name} events (records omitted):\n  "
                + "\n  ".join(json.dumps(e) for e in events)
                + f"\n--- {self.name} kafkajs warnings/errors (last 20 of {len(errors)}):\n  "
                + "\n  ".join(errors[-20:]))


def wait_for(cond, timeout, what, members=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        for m in members:
            crash = m.of("crash")
            if crash or not m.alive():
                raise AssertionError(f"{m.name} crashed or exited while waiting for {what}\n{m.describe()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n"
                         + "\n".join(m.describe() for m in members))


def consume_all(broker, topic, want: int, tmp_path, group=None) -> list[dict]:
    """Reads `want` records with a throw-away group member (no commits); returns them."""
    m = KjsMember(broker, [topic], group or unique_topic("kjs-read"), "kjs-reader", tmp_path, commit=False)
    try:
        wait_for(lambda: len(m.records()) >= want, 60, f"{want} records", [m])
        time.sleep(0.3)  # anything beyond `want` would be a duplicate: give it a moment to show
    finally:
        m.stop()
    return m.records()


# ----------------------------------------------------------------------------------------------
# admin


def test_kafkajs_admin_topics(broker):
    topic = unique_topic("kjs-admin")
    absent = unique_topic("kjs-never-created")
    r = admin(
        broker,
        {"op": "createTopics", "topics": [{"topic": topic, "numPartitions": 5}]},
        # kafkajs resolves createTopics with false when the broker answers TOPIC_ALREADY_EXISTS
        # for every topic ...
        {"op": "createTopics", "topics": [{"topic": topic, "numPartitions": 5}]},
        # ... and rejects with every per-topic error when any other error comes with it.
        {"op": "createTopics", "topics": [{"topic": topic, "numPartitions": 1},
                                          {"topic": "no spaces allowed", "numPartitions": 1}]},
        {"op": "listTopics"},
        {"op": "fetchTopicMetadata", "topics": [topic]},
        {"op": "describeCluster"},
        {"op": "fetchTopicOffsets", "topic": topic},
        {"op": "deleteTopics", "topics": [topic]},
        {"op": "listTopics"},
        {"op": "deleteTopics", "topics": [absent]},
        # Recreated with another partition count: metadata must show the new topic.
        {"op": "createTopics", "topics": [{"topic": topic, "numPartitions": 2}]},
        {"op": "fetchTopicMetadata", "topics": [topic]},
        debug=True,
    )
    assert ok(r[0]) is True
    assert ok(r[1]) is False, "an existing topic: kafkajs reports TOPIC_ALREADY_EXISTS as false"
    err = r[2]["error"]
    assert err["name"] == "KafkaJSAggregateError", err
    assert sorted((e["type"], e["code"]) for e in err["errors"]) == \
        [("INVALID_TOPIC_EXCEPTION", 17), ("TOPIC_ALREADY_EXISTS", 36)], err
    assert topic in ok(r[3])
    [md] = ok(r[4])["topics"]
    assert md["name"] == topic
    assert [(p["partitionId"], p["partitionErrorCode"], p["leader"], p["replicas"], p["isr"])
            for p in sorted(md["partitions"], key=lambda p: p["partitionId"])] == \
        [(p, 0, 1, [1], [1]) for p in range(5)]
    cluster = ok(r[5])
    assert cluster["brokers"] == [{"nodeId": 1, "host": "127.0.0.1", "port": broker.port}]
    assert cluster["controller"] == 1 and cluster["clusterId"]
    assert sorted((o["partition"], o["low"], o["high"]) for o in ok(r[6])) == \
        [(p, "0", "0") for p in range(5)]
    assert ok(r[7]) is True
    assert topic not in ok(r[8])
    err = r[9]["error"]
    assert err["name"] == "KafkaJSNumberOfRetriesExceeded", err
    assert (err["cause"]["type"], err["cause"]["code"]) == ("UNKNOWN_TOPIC_OR_PARTITION", 3), err
    assert ok(r[10]) is True
    [md] = ok(r[11])["topics"]
    assert sorted(p["partitionId"] for p in md["partitions"]) == [0, 1]


def test_kafkajs_admin_partitions_configs_delete_records_and_acks0(broker):
    topic = unique_topic("kjs-admin2")
    r = admin(broker, {"op": "createTopics", "topics": [{
        "topic": topic, "numPartitions": 2, "configEntries": [{"name": "retention.ms", "value": "123456"}]}]})
    assert ok(r[0]) is True
    # acks=0 gets no response at all; kafkajs resolves the send with no metadata. The records
    # must land anyway, in order, before the acks=1 ones.
    lines, _ = kjs("produce", broker, {"topic": topic, "acks": 0, "sends": [
        [{"key": "k", "value": f"zero-{i}", "partition": 0} for i in range(5)]]})
    assert ok(lines[0]) == []
    # Nothing acknowledges them, so wait until they are visible (another connection could
    # otherwise overtake them).
    deadline = time.monotonic() + 10
    while True:
        [offs] = admin(broker, {"op": "fetchTopicOffsets", "topic": topic})
        if {o["partition"]: o["high"] for o in ok(offs)}.get(0) == "5":
            break
        assert time.monotonic() < deadline, f"acks=0 records never became visible: {offs}"
        time.sleep(0.1)
    lines, _ = kjs("produce", broker, {"topic": topic, "acks": 1, "sends": [
        [{"key": "k", "value": "one", "partition": 0}]]})
    assert ok(lines[0]) == [{"partition": 0, "errorCode": 0, "baseOffset": "5"}]
    r = admin(
        broker,
        {"op": "createPartitions", "topicPartitions": [{"topic": topic, "count": 4}]},
        {"op": "createPartitions", "topicPartitions": [{"topic": topic, "count": 3}]},
        {"op": "fetchTopicMetadata", "topics": [topic]},
        {"op": "deleteTopicRecords", "topic": topic, "partitions": [{"partition": 0, "offset": "2"}]},
        {"op": "fetchTopicOffsets", "topic": topic},
        {"op": "deleteTopicRecords", "topic": topic, "partitions": [{"partition": 0, "offset": "99"}]},
        {"op": "describeConfigs", "resources": [{"type": 2, "name": topic,
                                                 "configNames": ["retention.ms", "cleanup.policy"]}]},
        {"op": "alterConfigs", "resources": [{"type": 2, "name": topic,
                                              "configEntries": [{"name": "retention.ms", "value": "999"}]}]},
        {"op": "describeConfigs", "resources": [{"type": 2, "name": topic, "configNames": ["retention.ms"]}]},
    )
    assert ok(r[0]) is True
    assert (r[1]["error"]["type"], r[1]["error"]["code"]) == ("INVALID_PARTITIONS", 37), r[1]
    assert sorted(p["partitionId"] for p in ok(r[2])["topics"][0]["partitions"]) == [0, 1, 2, 3]
    assert ok(r[3]) is True
    assert sorted((o["partition"], o["low"], o["high"]) for o in ok(r[4])) == \
        [(0, "2", "6"), (1, "0", "0"), (2, "0", "0"), (3, "0", "0")]
    [bad] = r[5]["error"]["cause"]["partitions"]
    assert (bad["partition"], bad["error"]["type"], bad["error"]["code"]) == (0, "OFFSET_OUT_OF_RANGE", 1), r[5]
    [res] = ok(r[6])["resources"]
    entries = {e["configName"]: e for e in res["configEntries"]}
    assert (res["errorCode"], set(entries)) == (0, {"retention.ms", "cleanup.policy"})
    assert (entries["retention.ms"]["configValue"], entries["retention.ms"]["isDefault"],
            entries["retention.ms"]["configSource"]) == ("123456", False, 1)  # 1: DYNAMIC_TOPIC_CONFIG
    assert (entries["cleanup.policy"]["configValue"], entries["cleanup.policy"]["isDefault"]) == ("delete", True)
    assert [x["errorCode"] for x in ok(r[7])["resources"]] == [0]
    [res] = ok(r[8])["resources"]
    assert [(e["configName"], e["configValue"]) for e in res["configEntries"]] == [("retention.ms", "999")]


# ----------------------------------------------------------------------------------------------
# producer

PARTITIONS = 4


def keyed_message(i: int) -> dict:
    m = {"key": f"user-{i % 23}", "value": f"v-{i} ✓ žluťoučký", "timestamp": 1_700_000_000_000 + i,
         "headers": {"trace": f"t-{i}"}}
    if i % 3 == 0:
        m["headers"]["dup"] = [f"a{i}", f"b{i}"]  # the same header key twice, in order
    if i % 7 == 0:
        m["headers"]["empty"] = ""
    return m


def expected_headers(i: int) -> dict:
    h = {"trace": f"t-{i}"}
    if i % 3 == 0:
        h["dup"] = [f"a{i}", f"b{i}"]
    if i % 7 == 0:
        h["empty"] = ""
    return h


def test_kafkajs_keyed_messages_headers_and_default_partitioner(broker, tmp_path):
    topic = unique_topic("kjs-keyed")
    create_topic(broker, topic, PARTITIONS)
    n, per_send = 200, 50
    sends = [[keyed_message(i) for i in range(s, s + per_send)] for s in range(0, n, per_send)]
    lines, log = kjs("produce", broker, {"topic": topic, "sends": sends}, debug=True)

    # Where kafkajs put each record, per the Java-compatible murmur2 partitioner; the broker's
    # metadata must have told it there are 4 partitions.
    placement = [default_partition(f"user-{i % 23}".encode(), PARTITIONS) for i in range(n)]
    assert set(placement) == set(range(PARTITIONS)), "23 keys should use all 4 partitions"
    # Each send's acknowledgement: one entry per partition it touched, with the base offset the
    # broker assigned (a fresh topic: the count of earlier records on that partition).
    before = {p: 0 for p in range(PARTITIONS)}
    for s, line in enumerate(lines):
        assert line["send"] == s
        acks = ok(line)
        idx = range(s * per_send, (s + 1) * per_send)
        touched = {placement[i] for i in idx}
        assert sorted(a["partition"] for a in acks) == sorted(touched), (s, acks)
        for a in acks:
            assert a["errorCode"] == 0
            assert int(a["baseOffset"]) == before[a["partition"]], (s, a, before)
        for i in idx:
            before[placement[i]] += 1
    assert request_versions(log).get("Produce"), "no Produce request in the kafkajs debug log"

    records = consume_all(broker, topic, n, tmp_path)
    assert len(records) == n, f"{len(records)} records consumed, {n} produced (duplicates?)"
    by_value = {}
    for r in records:
        i = int(r["value"].split(" ")[0][2:])
        assert i not in by_value, f"record {i} delivered twice"
        by_value[i] = r
    assert sorted(by_value) == list(range(n))
    key_partitions: dict[str, set[int]] = {}
    for i, r in sorted(by_value.items()):
        want = keyed_message(i)
        assert (r["key"], r["value"], r["timestamp"]) == (want["key"], want["value"], want["timestamp"]), r
        assert r["headers"] == expected_headers(i), (i, r["headers"])
        assert r["partition"] == placement[i], (i, r["partition"], placement[i])
        key_partitions.setdefault(r["key"], set()).add(r["partition"])
    # ListOffsets by timestamp: the first record at or after T+100 on each partition.
    [by_ts] = admin(broker, {"op": "fetchTopicOffsetsByTimestamp", "topic": topic,
                             "timestamp": 1_700_000_000_000 + 100})
    want = {p: min(r["offset"] for i, r in by_value.items() if r["partition"] == p and i >= 100)
            for p in range(PARTITIONS)}
    assert {o["partition"]: int(o["offset"]) for o in ok(by_ts)} == want
    assert all(len(ps) == 1 for ps in key_partitions.values()), \
        {k: ps for k, ps in key_partitions.items() if len(ps) > 1}
    # Per partition: offsets 0..k-1 in send order.
    for p in range(PARTITIONS):
        mine = sorted((r["offset"], i) for i, r in by_value.items() if r["partition"] == p)
        assert [o for o, _ in mine] == list(range(len(mine))), f"partition {p} offsets"
        assert [i for _, i in mine] == sorted(i for _, i in mine), f"partition {p}: not in send order"


def test_kafkajs_edge_records_and_message_too_large(broker, tmp_path):
    topic = unique_topic("kjs-edge")
    create_topic(broker, topic, 1)
    sends = [
        # Over the default max.message.bytes (1048588): the broker refuses the batch.
        [{"key": "big", "valueRepeat": {"char": "x", "count": 1_100_000}}],
        [{"key": None, "value": None},  # tombstone without a key
         {"key": "", "value": ""},  # empty, not null
         {"key": "bin", "value": "v", "headersHex": {"bin": "00ff01fe", "nul": ""}}],
    ]
    lines, _ = kjs("produce", broker, {"topic": topic, "sends": sends})
    err = lines[0]["error"]
    assert (err["type"], err["code"]) == ("MESSAGE_TOO_LARGE", 10), err
    assert ok(lines[1]) == [{"partition": 0, "errorCode": 0, "baseOffset": "0"}], "the refused batch took no offsets"
    records = sorted(consume_all(broker, topic, 3, tmp_path), key=lambda r: r["offset"])
    assert [(r["offset"], r["key"], r["value"]) for r in records] == \
        [(0, None, None), (1, "", ""), (2, "bin", "v")]
    assert records[2]["headersHex"] == {"bin": "00ff01fe", "nul": ""}
    assert records[0]["headersHex"] == {} and records[1]["headersHex"] == {}


@pytest.mark.parametrize("compression,idempotent", [("none", True), ("gzip", False), ("gzip", True)],
                         ids=["idempotent", "gzip", "gzip-idempotent"])
def test_kafkajs_gzip_and_idempotent_producer(broker, tmp_path, compression, idempotent):
    topic = unique_topic("kjs-codec")
    create_topic(broker, topic, 3)
    n, per_send = 240, 40
    value = lambda i: f"v-{i} " + "compressible text " * (i % 10)  # noqa: E731
    sends = [[{"key": f"k{i % 9}", "value": value(i), "headers": {"i": str(i)}}
              for i in range(s, s + per_send)] for s in range(0, n, per_send)]
    spec = {"topic": topic, "sends": sends, "idempotent": idempotent,
            "compression": None if compression == "none" else compression.upper()}
    lines, log = kjs("produce", broker, spec, debug=True)
    for line in lines:
        assert all(a["errorCode"] == 0 for a in ok(line)), line
    versions = request_versions(log)
    if idempotent:
        assert versions.get("InitProducerId"), f"idempotent producer sent no InitProducerId: {versions}"

    records = consume_all(broker, topic, n, tmp_path)
    seen = sorted(int(r["headers"]["i"]) for r in records)
    assert seen == list(range(n)), "every record exactly once"
    for r in records:
        i = int(r["headers"]["i"])
        assert (r["key"], r["value"]) == (f"k{i % 9}", value(i))
        if idempotent:
            assert r["producerId"] >= 0 and r["producerEpoch"] >= 0, r
            # One producer on a fresh topic: a batch's first sequence equals its first offset.
            assert r["firstSequence"] == r["firstOffset"], r
        else:
            # kafkajs writes base sequence 0 (not -1) in non-idempotent batches; Kafka accepts
            # that, so only the producer id says "not idempotent".
            assert r["producerId"] == -1, r
    assert len({r["producerId"] for r in records}) == 1

    # What the broker stored: the client's codec, one producer id, contiguous sequences.
    for p in range(3):
        batches = segment_batches(broker.data_dir, topic, p)
        assert batches, f"partition {p} is empty"
        assert {b.codec for b in batches} == {CODEC_IDS[compression]}, (p, batches)
        assert {b.magic for b in batches} == {2}
        expect_offset = 0
        for b in batches:
            assert b.base_offset == expect_offset, (p, b)
            if idempotent:
                assert b.base_sequence == b.base_offset and b.producer_id == records[0]["producerId"], (p, b)
            else:
                assert b.producer_id == -1, (p, b)
            expect_offset += b.last_offset_delta + 1
        assert expect_offset == sum(1 for r in records if r["partition"] == p)


# ----------------------------------------------------------------------------------------------
# consumer groups


def produce_numbered(broker, topic, start, end, partitions):
    """Records v-start..v-(end-1), value i to partition i % partitions, key str(i)."""
    msgs = [{"key": str(i), "value": f"v-{i}", "partition": i % partitions, "headers": {"n": str(i)}}
            for i in range(start, end)]
    lines, _ = kjs("produce", broker, {"topic": topic, "sends": [msgs]})
    for line in lines:
        ok(line)


def numbers(records) -> list[int]:
    return sorted(int(r["value"][2:]) for r in records)


def test_kafkajs_consumer_group_rebalance_commit_and_resume(broker, tmp_path):
    topic = unique_topic("kjs-group")
    group = unique_topic("kjs-group")
    parts = 4
    create_topic(broker, topic, parts)
    produce_numbered(broker, topic, 0, 200, parts)
    members = []
    try:
        # 1. One member reads everything from the beginning and commits per batch.
        a = KjsMember(broker, [topic], group, "kjs-a", tmp_path)
        members.append(a)
        wait_for(lambda: a.committed() == {p: 50 for p in range(parts)}, 60,
                 "member a to consume and commit all 200", members)
        assert a.assignment(topic) == set(range(parts))
        assert numbers(a.records()) == list(range(200))
        for r in a.records():
            i = int(r["value"][2:])
            assert (r["key"], r["headers"], r["partition"]) == (str(i), {"n": str(i)}, i % parts), r

        [off] = admin(broker, {"op": "fetchOffsets", "groupId": group, "topics": [topic]})
        [t] = ok(off)
        assert t["topic"] == topic
        assert sorted((p["partition"], p["offset"]) for p in t["partitions"]) == \
            [(p, "50") for p in range(parts)]

        # 2. A second member joins: a rebalance splits the partitions between the two.
        b = KjsMember(broker, [topic], group, "kjs-b", tmp_path)
        members.append(b)

        def split():
            pa, pb = a.assignment(topic), b.assignment(topic)
            return pa is not None and pb is not None and len(pa) == 2 and len(pb) == 2 \
                and pa | pb == set(range(parts))
        wait_for(split, 60, "a rebalance that splits 4 partitions 2/2", members)
        assert len(a.of("joined")) >= 2, "member a never rejoined"
        # Everything was committed, so b re-reads nothing.
        time.sleep(0.5)
        assert b.records() == [], f"b re-read committed records: {numbers(b.records())[:10]}"

        [desc] = admin(broker, {"op": "describeGroups", "groupIds": [group]})
        [g] = ok(desc)
        assert (g["groupId"], g["errorCode"], g["state"], g["protocolType"]) == \
            (group, 0, "Stable", "consumer"), g
        assert g["protocol"] == a.of("joined")[-1]["groupProtocol"]
        assert sorted(m["clientId"] for m in g["members"]) == ["kjs-a", "kjs-b"]
        by_client = {m["clientId"]: m for m in g["members"]}
        for m, name in ((a, "kjs-a"), (b, "kjs-b")):
            d = by_client[name]
            assert d["memberId"] == m.of("joined")[-1]["memberId"]
            assert d["subscription"] == [topic]
            assert set(d["assignment"][topic]) == m.assignment(topic)

        # 3. New records go to whichever member owns their partition, exactly once.
        produce_numbered(broker, topic, 200, 300, parts)
        wait_for(lambda: len(a.records()) + len(b.records()) >= 300, 60, "records 200..299", members)
        time.sleep(0.3)
        new_a = [r for r in a.records() if int(r["value"][2:]) >= 200]
        new_b = b.records()
        assert numbers(new_a + new_b) == list(range(200, 300))
        assert {r["partition"] for r in new_a} == a.assignment(topic)
        assert {r["partition"] for r in new_b} == b.assignment(topic)
        wait_for(lambda: all(max(a.committed().get(p, 0), b.committed().get(p, 0)) == 75
                             for p in range(parts)),
                 30, "commits of offset 75 on every partition", members)

        # 4. Both leave. A restarted member resumes at the committed offsets: it reads exactly the
        #    records produced while the group was empty.
        b.stop()
        a.stop()
        [desc, off] = admin(broker, {"op": "describeGroups", "groupIds": [group]},
                            {"op": "fetchOffsets", "groupId": group, "topics": [topic]})
        [g] = ok(desc)
        assert (g["state"], g["members"]) == ("Empty", []), g
        assert sorted((p["partition"], p["offset"]) for p in ok(off)[0]["partitions"]) == \
            [(p, "75") for p in range(parts)]
        produce_numbered(broker, topic, 300, 320, parts)
        c = KjsMember(broker, [topic], group, "kjs-c", tmp_path)
        members.append(c)
        wait_for(lambda: c.committed() == {p: 80 for p in range(parts)}, 60,
                 "the restarted member to read and commit 300..319", [c])
        time.sleep(0.3)
        assert numbers(c.records()) == list(range(300, 320)), "no re-delivery of committed records"
        assert min(r["offset"] for r in c.records()) == 75
        c.stop()
        [groups] = admin(broker, {"op": "listGroups"})
        listed = {g["groupId"]: g for g in ok(groups)["groups"]}
        assert listed[group]["protocolType"] == "consumer"

        # 5. Admin offset tools on the empty group. setOffsets joins the group with a throw-away
        #    member, seeks and commits (it then idles ~5 s inside kafkajs before it returns).
        r = admin(broker,
                  {"op": "setOffsets", "groupId": group, "topic": topic,
                   "partitions": [{"partition": 0, "offset": "10"}, {"partition": 1, "offset": "20"}]},
                  {"op": "fetchOffsets", "groupId": group, "topics": [topic]})
        assert ok(r[0]) is True
        assert sorted((p["partition"], p["offset"]) for p in ok(r[1])[0]["partitions"]) == \
            [(0, "10"), (1, "20"), (2, "80"), (3, "80")]
        # A member started now resumes there, in the middle of a batch (each partition's first 50
        # records went in one produce request): the broker returns whole batches, the client skips.
        d = KjsMember(broker, [topic], group, "kjs-d", tmp_path)
        members.append(d)
        wait_for(lambda: d.committed() == {0: 80, 1: 80}, 60, "kjs-d to re-read from 10 and 20", [d])
        time.sleep(0.3)
        got = sorted((r["partition"], r["offset"]) for r in d.records())
        assert got == [(0, o) for o in range(10, 80)] + [(1, o) for o in range(20, 80)]
        d.stop()

        r = admin(broker,
                  {"op": "deleteGroups", "groupIds": [group]},
                  {"op": "deleteGroups", "groupIds": [group]},
                  {"op": "listGroups"},
                  {"op": "fetchOffsets", "groupId": group, "topics": [topic]})
        assert ok(r[0]) == [{"groupId": group, "errorCode": 0}]
        err = r[1]["error"]
        assert [(g["groupId"], g["errorCode"], g["error"]["type"]) for g in err["groups"]] == \
            [(group, 69, "GROUP_ID_NOT_FOUND")], err
        assert group not in {g["groupId"] for g in ok(r[2])["groups"]}
        assert sorted((p["partition"], p["offset"]) for p in ok(r[3])[0]["partitions"]) == \
            [(p, "-1") for p in range(parts)], "a deleted group has no committed offsets"

        # The versions kafkajs 2.2.4 picked from our ApiVersions answer (it pins these
        # non-flexible versions when the broker offers them).
        versions = request_versions(a.err_path.read_text())
        want = {"ApiVersions": {2}, "GroupCoordinator": {2}, "JoinGroup": {5}, "SyncGroup": {3},
                "Heartbeat": {3}, "OffsetCommit": {5}, "OffsetFetch": {4}, "LeaveGroup": {3},
                "Fetch": {11}, "ListOffsets": {3}, "Metadata": {6}}
        assert {k: versions.get(k, set()) for k in want} == want, f"request versions: {versions}"
    finally:
        for m in members:
            m.kill()
