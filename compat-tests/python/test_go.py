"""Go clients: franz-go 1.22 (kgo + kadm), IBM/sarama 1.61 (configured as Kafka 4.3.1, its
newest, and as Kafka 2.1.0 for older request versions) and segmentio/kafka-go 0.4.51.

For each client: keyed records with headers across four partitions with every codec the client
has (none/gzip/snappy/lz4/zstd), read back with exact offsets, keys, values, headers, timestamps
and order, and checked in the stored segment files (codec per batch; producer ids and sequences
for idempotent producers); a consumer group of two members that split the partitions and commit,
then a restart that must resume at the committed offsets, then a rejoin; and the admin calls
(create topic with configs, list, describe, describe configs, create partitions, delete records,
list offsets earliest/latest/by timestamp, list/describe groups, fetch group offsets, delete
topic) with Kafka's error codes for the bad cases.

The Go side is compat-tests/go (one binary, built by `setup.sh go`): each run performs client
calls and prints what the client returned as one JSON object; every assertion is made here.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import COMPAT_DIR, unique_topic
from helpers import Mismatches, Rec, base_timestamp, check_offsets_contiguous, compare, make_record
from log_checks import CODEC_IDS, default_partition, segment_batches

CACHE = Path(os.environ.get("VLTAVA_CACHE", Path.home() / ".cache" / "vltava"))
GOCOMPAT = CACHE / "go" / "gocompat"  # setup.sh builds it there

# Kafka error codes the tests expect.
NONE = 0
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_CONFIG = 40
# The newest version of each request in Kafka 2.1.0: sarama configured as 2.1 must send exactly
# these (ApiVersions aside: sarama always opens with v3).
KAFKA_2_1 = {"Produce": 7, "Fetch": 10, "ListOffsets": 4, "Metadata": 7, "OffsetCommit": 6,
             "OffsetFetch": 5, "FindCoordinator": 2, "JoinGroup": 3, "Heartbeat": 2,
             "LeaveGroup": 2, "SyncGroup": 2, "DescribeGroups": 2, "ListGroups": 2,
             "CreateTopics": 3, "DeleteTopics": 3, "DeleteRecords": 1, "InitProducerID": 1,
             "DescribeConfigs": 2, "CreatePartitions": 1}
# DescribeConfigs config_source values
DYNAMIC_TOPIC_CONFIG = 1
DEFAULT_CONFIG = 5


class GoClient:
    """One client configuration: which library, and what it can do."""

    def __init__(self, name, lib, *, version="", idempotent, partitioner, group_protocol,
                 delete_records=True, group_states_listed=True, describe_has_protocol=True,
                 reads_empty_as_null=False, offset_for_time_echoes_query=False):
        self.name = name
        self.lib = lib
        self.version = version          # sarama's configured Kafka version
        self.idempotent = idempotent    # producer runs idempotent (acks=all) in these tests
        self.partitioner = partitioner  # how the client places keyed records
        self.group_protocol = group_protocol
        self.delete_records = delete_records
        self.group_states_listed = group_states_listed
        self.describe_has_protocol = describe_has_protocol
        # kafka-go's reader returns nil for an empty key, value or header value (what it writes
        # is right: other clients read those records back empty).
        self.reads_empty_as_null = reads_empty_as_null
        # kafka-go's ListOffsets replaces each returned timestamp with the one it asked for.
        self.offset_for_time_echoes_query = offset_for_time_echoes_query

    def __repr__(self):
        return self.name

    def group_protocol_for(self, server_side: bool) -> str:
        # franz-go's KIP-848 opt-in (ServerSideBalancer) goes with the range balancer here.
        return "range" if server_side else self.group_protocol


CLIENTS = [
    # kgo's producer is idempotent unless told otherwise; its default balancer is
    # cooperative-sticky; its default partitioner hashes keys with murmur2 like Java's.
    GoClient("franz", "franz", idempotent=True, partitioner="murmur2",
             group_protocol="cooperative-sticky"),
    GoClient("sarama-4.3", "sarama", version="4.3.1", idempotent=True, partitioner="fnv1a",
             group_protocol="range", group_states_listed=False),
    GoClient("sarama-2.1", "sarama", version="2.1.0", idempotent=False, partitioner="fnv1a",
             group_protocol="range", group_states_listed=False),
    # kafka-go: no idempotent producer, no DeleteRecords call; its Writer is given the
    # Murmur2Balancer (its default is round robin, ignoring keys).
    GoClient("kafka-go", "kafkago", idempotent=False, partitioner="murmur2",
             group_protocol="range", delete_records=False, group_states_listed=False,
             describe_has_protocol=False, reads_empty_as_null=True,
             offset_for_time_echoes_query=True),
]
BY_NAME = {c.name: c for c in CLIENTS}


@pytest.fixture(scope="module", autouse=True)
def gocompat_built():
    # Cheap when nothing changed (a hash over the sources); rebuilds after an edit.
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "go"], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=1200)
    if res.returncode != 0 or not GOCOMPAT.exists():
        pytest.fail(f"building the Go driver failed (`compat-tests/setup.sh go`):\n"
                    f"{res.stdout[-3000:]}\n{res.stderr[-5000:]}")


def run_go(client: GoClient, scenario: str, broker, spec: dict, tmp_path, timeout=60) -> dict:
    """Runs one scenario; returns its JSON result. The client's debug log goes to a file shown
    (its tail) when the run fails."""
    spec = {"version": client.version, "debug": True, "timeout_s": timeout - 5, **spec}
    log = tmp_path / f"{client.name}-{scenario}.log"
    with open(log, "w") as err:
        res = subprocess.run([str(GOCOMPAT), client.lib, scenario, broker.bootstrap],
                             input=json.dumps(spec), stdout=subprocess.PIPE, stderr=err,
                             text=True, timeout=timeout)
    try:
        out = json.loads(res.stdout)
    except ValueError:
        out = {"fatal": f"no JSON result: {res.stdout[-2000:]!r}"}
    if res.returncode != 0 or "fatal" in out:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-80:])
        raise AssertionError(f"gocompat {client.lib} {scenario} exited {res.returncode}: "
                             f"{out.get('fatal')}\n--- client log tail ({log}):\n{tail}")
    return out


def h(b):
    return None if b is None else b.hex()


def unh(s):
    return None if s is None else bytes.fromhex(s)


def enc(rec, partition=-1) -> dict:
    return {"p": partition, "k": h(rec.key), "v": h(rec.value),
            "h": [[k, h(v)] for k, v in rec.headers], "ts": rec.timestamp}


def fnv1a_partition(key: bytes, partitions: int) -> int:
    """sarama's default hash partitioner: FNV-1a 32, as int32, % n, negated when negative."""
    x = 0x811C9DC5
    for b in key:
        x = ((x ^ b) * 0x01000193) & 0xFFFFFFFF
    if x >= 1 << 31:
        x -= 1 << 32
    return abs(x) % partitions


def expected_partition(client: GoClient, key: bytes, partitions: int) -> int:
    if client.partitioner == "murmur2":
        return default_partition(key, partitions)
    return fnv1a_partition(key, partitions)


def compare_read(m: Mismatches, where: str, got: dict, want, client: GoClient):
    if client.reads_empty_as_null:
        null = lambda b: None if b == b"" else b  # noqa: E731
        want = Rec(null(want.key), null(want.value), [(k, null(v)) for k, v in want.headers],
                   want.timestamp)
    compare(m, where, unh(got["k"]), unh(got["v"]),
            [(k, unh(v)) for k, v in got["h"]], got["ts"], want)


def check_versions(client: GoClient, versions: dict[str, list[int]]):
    """The request versions the client sent (read off the wire by the Go driver)."""
    if client.name == "sarama-2.1":
        sent = {api: v for api, v in versions.items() if api != "ApiVersions"}
        want = {api: [KAFKA_2_1.get(api)] for api in sent}
        assert sent == want, f"sarama as Kafka 2.1 sent {sent}, Kafka 2.1's versions are {want}"
    if client.name == "sarama-4.3":
        newer = [api for api, v in versions.items() if api in KAFKA_2_1 and max(v) > KAFKA_2_1[api]]
        assert newer, f"sarama as Kafka 4.3 sent only Kafka 2.1's versions: {versions}"


def err_code(step: dict):
    return step["err"]["code"] if "err" in step else NONE


# ----------------------------------------------------------------------------------------------
# produce / consume


CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 40
PARTITIONS = 4


@pytest.mark.parametrize("client", CLIENTS, ids=str)
def test_go_produce_consume_all_codecs(broker, tmp_path, client):
    topic = unique_topic(f"go-rt-{client.name}")
    run_go(client, "create", broker, {"topic": topic, "partitions": PARTITIONS}, tmp_path)
    base = base_timestamp()
    want = [make_record(i, base) for i in range(PER_CODEC * len(CODECS))]
    chunks = [{"codec": c, "records": [enc(r) for r in want[n * PER_CODEC:(n + 1) * PER_CODEC]]}
              for n, c in enumerate(CODECS)]
    produced = run_go(client, "produce", broker,
                      {"topic": topic, "chunks": chunks, "idempotent": client.idempotent,
                       "acks": "all" if client.idempotent else "leader"}, tmp_path)

    m = Mismatches()
    at: dict[tuple[int, int], int] = {}   # (partition, offset) -> record index
    codec_of: dict[int, str] = {}         # record index -> codec it was produced with
    for n, ch in enumerate(produced["chunks"]):
        assert ch["codec"] == CODECS[n]
        for a in ch["acks"]:
            i = n * PER_CODEC + a["i"]
            codec_of[i] = ch["codec"]
            if a.get("err"):
                m.add(f"record {i}: produce error {a['err']}")
                continue
            at[(a["p"], a["o"])] = i
    m.assert_none("produce acknowledgements")
    assert len(at) == len(want), "two records acknowledged at the same offset"
    check_offsets_contiguous(m, at)
    by_p: dict[int, list[int]] = {}
    for (p, o), i in sorted(at.items()):
        by_p.setdefault(p, []).append(i)
    assert len(by_p) == PARTITIONS, f"records landed in partitions {sorted(by_p)} only"
    for p, idx in by_p.items():
        m.check(idx == sorted(idx), f"partition {p}: records stored out of produce order: {idx[:20]}")
    for (p, _), i in at.items():
        if want[i].key is not None:
            exp = expected_partition(client, want[i].key, PARTITIONS)
            m.check(p == exp, f"record {i} key {want[i].key!r}: partition {p}, "
                              f"{client.partitioner} says {exp}")
    m.assert_none("placement and offsets")

    read = run_go(client, "consume", broker, {"topic": topic}, tmp_path)
    assert read["end_offsets"] == {str(p): len(v) for p, v in by_p.items()}
    seen: dict[tuple[int, int], dict] = {}
    last: dict[int, int] = {}
    for r in read["records"]:
        key = (r["p"], r["o"])
        m.check(key not in seen, f"{key} delivered twice")
        m.check(r["o"] > last.get(r["p"], -1), f"partition {r['p']}: offset {r['o']} after {last.get(r['p'])}")
        last[r["p"]] = r["o"]
        seen[key] = r
    m.check(set(seen) == set(at), f"read {len(seen)} records, produced {len(at)}; "
                                  f"missing {sorted(set(at) - set(seen))[:10]}, "
                                  f"extra {sorted(set(seen) - set(at))[:10]}")
    for key, r in seen.items():
        if key in at:
            compare_read(m, f"record {at[key]} at {key}", r, want[at[key]], client)
    m.assert_none("records read back")

    # The stored batches: the client's codec, one codec per batch, and for idempotent producers
    # one producer id per producer (a new one per codec here) with sequences that start at 0 and
    # run on without gaps in every partition.
    pids: dict[str, set] = {}
    for p in range(PARTITIONS):
        next_seq: dict[int, int] = {}
        stored = 0
        for b in segment_batches(broker.data_dir, topic, p):
            idx = [at[(p, o)] for o in range(b.base_offset, b.base_offset + b.records)]
            codecs = {codec_of[i] for i in idx}
            stored += b.records
            if len(codecs) != 1:
                m.add(f"partition {p} batch at {b.base_offset}: records of several producers {codecs}")
                continue
            [codec] = codecs
            m.check(b.codec == CODEC_IDS[codec],
                    f"partition {p} batch at {b.base_offset}: codec id {b.codec}, produced as {codec}")
            pids.setdefault(codec, set()).add(b.producer_id)
            if client.idempotent:
                m.check(b.producer_id >= 0 and b.producer_epoch >= 0,
                        f"partition {p} batch at {b.base_offset}: producer id {b.producer_id}")
                m.check(b.base_sequence == next_seq.get(b.producer_id, 0),
                        f"partition {p} batch at {b.base_offset}: sequence {b.base_sequence}, "
                        f"expected {next_seq.get(b.producer_id, 0)}")
                next_seq[b.producer_id] = b.base_sequence + b.records
            else:
                # (sarama writes base sequence 0 rather than -1 without a producer id; Kafka
                # accepts both, so only the producer id is checked.)
                m.check(b.producer_id == -1,
                        f"partition {p} batch at {b.base_offset}: producer id {b.producer_id} "
                        f"from a non-idempotent producer")
        m.check(stored == len(by_p[p]), f"partition {p}: {stored} records stored, {len(by_p[p])} acked")
    if client.idempotent:
        m.check(all(len(v) == 1 for v in pids.values()) and len(set.union(*pids.values())) == len(CODECS),
                f"expected one distinct producer id per producer: {pids}")
    m.assert_none("stored batches")

    versions = produced["requests"]
    if client.idempotent:
        assert "InitProducerID" in versions, versions
    else:
        assert "InitProducerID" not in versions, versions
    check_versions(client, versions)
    check_versions(client, read["requests"])


# ----------------------------------------------------------------------------------------------
# consumer group

GROUP_CASES = [pytest.param(c, False, id=c.name) for c in CLIENTS] + [
    # franz-go uses KIP-848 only when asked to (ServerSideBalancer) and the broker advertises
    # ConsumerGroupHeartbeat v1; Vltava does not, so the classic protocol must be used.
    pytest.param(BY_NAME["franz"], True, id="franz-kip848-opt-in"),
]


def member_parts(report: dict) -> list[int]:
    return report["assignments"][-1] if report["assignments"] else []


@pytest.mark.parametrize("client,server_side", GROUP_CASES)
def test_go_consumer_group_split_commit_restart(broker, tmp_path, client, server_side):
    """Two members split four partitions and commit; after both leave, a new member resumes at
    the committed offsets (nothing lost, nothing read twice); a second new member then joins.
    Every client uses the classic protocol (JoinGroup/SyncGroup): franz-go picks KIP-848 only
    when asked (ServerSideBalancer) and the broker advertises ConsumerGroupHeartbeat v1, which
    Vltava does not, so even the opted-in run must fall back."""
    topic = unique_topic(f"go-grp-{client.name}")
    group = unique_topic(f"go-group-{client.name}")
    run_go(client, "create", broker, {"topic": topic, "partitions": PARTITIONS}, tmp_path)
    base = base_timestamp()
    per_batch = 30
    want = [make_record(i, base) for i in range(4 * per_batch)]
    batches = [[enc(r) for r in want[b * per_batch:(b + 1) * per_batch]] for b in range(4)]
    res = run_go(client, "group", broker,
                 {"topic": topic, "group": group, "partitions": PARTITIONS, "batches": batches,
                  "idempotent": client.idempotent, "acks": "all" if client.idempotent else "leader",
                  "server_side_balancer": server_side}, tmp_path, timeout=90)
    phases = {ph["name"]: ph for ph in res["phases"]}
    assert list(phases) == ["solo", "pair", "restart", "rejoin"], list(phases)
    everyone = list(range(PARTITIONS))
    m = Mismatches()

    def batch_offsets(n: int, ph: dict) -> dict[tuple[int, int], int]:
        at = {}
        for a in ph["acks"]:
            if a.get("err"):
                m.add(f"{ph['name']}: record {a['i']} produce error {a['err']}")
            at[(a["p"], a["o"])] = n * per_batch + a["i"]
        grown = {int(p): ph["end_after"][p] - ph["end_before"].get(p, 0) for p in ph["end_after"]}
        counts = {p: sum(1 for (q, _) in at if q == p) for p in everyone}
        m.check(grown == counts, f"{ph['name']}: end offsets grew by {grown}, acks per partition {counts}")
        return at

    def check_reads(ph: dict, at: dict, owners: dict[str, list[int]] | None):
        """The phase's members together read exactly the phase's batch, each record once, in
        offset order per partition, each member only from its own partitions."""
        got: dict[tuple[int, int], str] = {}
        for name, rep in ph["members"].items():
            last: dict[int, int] = {}
            for r in rep["records"]:
                key = (r["p"], r["o"])
                if key in got:
                    m.add(f"{ph['name']}: {key} delivered twice ({got[key]} and {name})")
                got[key] = name
                m.check(r["o"] > last.get(r["p"], -1),
                        f"{ph['name']}: {name} read partition {r['p']} offset {r['o']} after {last.get(r['p'])}")
                last[r["p"]] = r["o"]
                if owners is not None:
                    m.check(r["p"] in owners[name],
                            f"{ph['name']}: {name} read partition {r['p']}, assigned {owners[name]}")
                if key in at:
                    compare_read(m, f"{ph['name']}: {name} record {at[key]} at {key}", r, want[at[key]],
                                 client)
        missing = sorted(set(at) - set(got))
        extra = sorted(set(got) - set(at))
        m.check(not missing, f"{ph['name']}: lost {len(missing)} records: {missing[:10]}")
        m.check(not extra, f"{ph['name']}: {len(extra)} records from outside the batch "
                           f"(re-delivered below the committed offsets?): {extra[:10]}")

    def check_split(ph: dict, a: str, b: str) -> dict[str, list[int]]:
        pa, pb = member_parts(ph["members"][a]), member_parts(ph["members"][b])
        m.check(bool(pa) and bool(pb) and not set(pa) & set(pb) and sorted(pa + pb) == everyone,
                f"{ph['name']}: {a} holds {pa}, {b} holds {pb}: not a split of {everyone}")
        return {a: pa, b: pb}

    def check_offsets(what: str, fetched: dict, end_after: dict):
        assert fetched.get("err") is None, f"{what}: offset fetch failed: {fetched}"
        got = {p: v["offset"] for p, v in fetched["partitions"].items() if v.get("err") is None}
        m.check(got == end_after, f"{what}: committed offsets {got}, expected the end offsets {end_after}")

    def check_described(what: str, d: dict, state: str, owners: dict[str, list[int]] | None):
        assert d.get("err") is None, f"{what}: describe failed: {d}"
        m.check(d["state"] == state, f"{what}: group state {d['state']!r}, expected {state!r}")
        if client.describe_has_protocol:
            m.check(d["protocol_type"] == "consumer", f"{what}: protocol type {d['protocol_type']!r}")
            if state == "Stable":
                m.check(d["protocol"] == client.group_protocol_for(server_side),
                        f"{what}: protocol {d['protocol']!r}")
        if owners is None:
            m.check(d["members"] == [], f"{what}: members {d['members']}")
            return
        described = {mb["client_id"].rsplit("-", 1)[-1]: mb["assignment"] for mb in d["members"]}
        m.check(described == owners, f"{what}: described assignments {described}, members hold {owners}")

    # solo: m1 alone holds every partition and reads batch 0
    solo = phases["solo"]
    at0 = batch_offsets(0, solo)
    m.check(member_parts(solo["members"]["m1"]) == everyone,
            f"solo: m1 assignments {solo['members']['m1']['assignments']}")
    check_reads(solo, at0, None)

    # pair: m2 joins, they split the partitions, each reads its share of batch 1, both commit
    pair = phases["pair"]
    at1 = batch_offsets(1, pair)
    owners = check_split(pair, "m1", "m2")
    check_reads(pair, at1, owners)
    adm = pair["admin"]
    check_described("pair: describe", adm["describe"], "Stable", owners)
    check_offsets("pair", adm["offsets"], pair["end_after"])
    listed = {g["group"]: g for g in adm["list"]}
    m.check(group in listed, f"pair: {group} not in ListGroups {sorted(listed)}")
    if group in listed:
        m.check(listed[group]["protocol_type"] == "consumer", f"pair: listed {listed[group]}")
        if client.group_states_listed:
            m.check(listed[group]["state"] == "Stable", f"pair: listed {listed[group]}")

    # restart: both gone, batch 2 produced, m3 joins and must start at the committed offsets
    restart = phases["restart"]
    at2 = batch_offsets(2, restart)
    check_described("after m1 and m2 left", restart["admin"]["describe"], "Empty", None)
    check_offsets("after m1 and m2 left", restart["admin"]["offsets"], pair["end_after"])
    m.check(member_parts(restart["members"]["m3"]) == everyone,
            f"restart: m3 assignments {restart['members']['m3']['assignments']}")
    check_reads(restart, at2, None)

    # rejoin: m4 joins m3, they split, read batch 3 and commit
    rejoin = phases["rejoin"]
    at3 = batch_offsets(3, rejoin)
    owners = check_split(rejoin, "m3", "m4")
    check_reads(rejoin, at3, owners)
    check_described("rejoin: describe", rejoin["admin"]["describe"], "Stable", owners)
    check_offsets("rejoin", rejoin["admin"]["offsets"], rejoin["end_after"])
    check_described("after close", res["after_close"]["describe"], "Empty", None)
    check_offsets("after close", res["after_close"]["offsets"], rejoin["end_after"])
    m.assert_none(f"{client.name} consumer group")

    versions = res["requests"]
    assert "JoinGroup" in versions and "SyncGroup" in versions, versions
    assert "ConsumerGroupHeartbeat" not in versions, versions
    check_versions(client, versions)


# ----------------------------------------------------------------------------------------------
# admin


@pytest.mark.parametrize("client", CLIENTS, ids=str)
def test_go_admin(broker, tmp_path, client):
    topic = unique_topic(f"go-adm-{client.name}")
    absent = unique_topic("go-never-created")
    base = base_timestamp()
    res = run_go(client, "admin", broker, {"topic": topic, "absent": absent, "base_ts": base}, tmp_path)
    steps = {s["step"]: s for s in res["steps"]}
    m = Mismatches()

    def code(name, want):
        m.check(name in steps, f"step {name} missing")
        if name in steps:
            m.check(err_code(steps[name]) == want,
                    f"{name}: error code {err_code(steps[name])}, expected {want}: {steps[name].get('err')}")

    def ok(name):
        code(name, NONE)
        return steps.get(name, {}).get("ok")

    ok("create")
    code("create_again", TOPIC_ALREADY_EXISTS)
    code("create_bad_name", INVALID_TOPIC_EXCEPTION)
    code("create_bad_config", INVALID_CONFIG)

    listed = ok("list") or {}
    m.check(listed.get(topic) == 3, f"list: {topic} -> {listed.get(topic)}")
    m.check(absent not in listed and absent + "-cfg" not in listed and "bad name!" not in listed,
            f"list: topics that must not exist: {sorted(listed)}")
    parts = (ok("describe") or {}).get("partitions", [])
    m.check([p["p"] for p in parts] == [0, 1, 2], f"describe: {parts}")
    for p in parts:
        m.check(p["leader"] >= 0 and p["replicas"] == [p["leader"]] and p["isr"] == [p["leader"]],
                f"describe: partition {p}")
    code("describe_absent", UNKNOWN_TOPIC_OR_PARTITION)

    configs = ok("configs") or {}
    for name, value in [("retention.ms", "3600000"), ("max.message.bytes", "200000"),
                        ("cleanup.policy", "delete")]:
        c = configs.get(name)
        m.check(c is not None and c["value"] == value and c["source"] == DYNAMIC_TOPIC_CONFIG,
                f"configs: {name} = {c}, expected {value} set on the topic")
    seg = configs.get("segment.bytes")
    m.check(seg is not None and seg["value"] == "1073741824" and seg["source"] == DEFAULT_CONFIG,
            f"configs: segment.bytes = {seg}, expected Kafka's default")
    m.check(len(configs) >= 25, f"configs: only {len(configs)} returned: {sorted(configs)}")
    code("configs_absent", UNKNOWN_TOPIC_OR_PARTITION)

    ok("create_partitions")
    parts = (ok("describe_after_partitions") or {}).get("partitions", [])
    m.check([p["p"] for p in parts] == [0, 1, 2, 3, 4], f"describe after create partitions: {parts}")
    code("create_partitions_fewer", INVALID_PARTITIONS)
    code("create_partitions_absent", UNKNOWN_TOPIC_OR_PARTITION)

    acks = ok("produce") or []
    m.check([(a["p"], a["o"], a.get("err")) for a in acks] == [(0, i, None) for i in range(10)],
            f"produce: {acks}")

    def offsets(name):
        out = ok(name) or {}
        m.check(sorted(out) == ["0", "1", "2", "3", "4"], f"{name}: partitions {sorted(out)}")
        for p, v in out.items():
            m.check(v.get("err") is None, f"{name}: partition {p}: {v}")
        return out

    early = offsets("offsets_earliest")
    m.check({p: v["offset"] for p, v in early.items()} == {str(p): 0 for p in range(5)}, f"earliest: {early}")
    late = offsets("offsets_latest")
    m.check({p: v["offset"] for p, v in late.items()} == {"0": 10, **{str(p): 0 for p in range(1, 5)}},
            f"latest: {late}")
    # records are at base + i*1000: the first at or after base+3500 is offset 4
    ts = offsets("offsets_ts")
    found_ts = base + 3500 if client.offset_for_time_echoes_query else base + 4000
    m.check((ts["0"]["offset"], ts["0"]["timestamp"]) == (4, found_ts), f"by timestamp: {ts['0']}")
    future = offsets("offsets_ts_future")
    # Kafka answers -1 (no such offset) for a timestamp after every record; kadm reports the end
    # offset instead (documented), the others pass -1 through.
    m.check(future["0"]["offset"] == (10 if client.lib == "franz" else -1), f"timestamp after the end: {future['0']}")
    if client.lib == "franz":
        raw = ok("raw_offsets_ts") or {}
        m.check((raw.get("offset"), raw.get("timestamp"), raw.get("code")) == (4, base + 4000, 0), f"raw: {raw}")
        raw = ok("raw_offsets_ts_future") or {}
        m.check((raw.get("offset"), raw.get("timestamp"), raw.get("code")) == (-1, -1, 0), f"raw future: {raw}")

    if client.delete_records:
        deleted = ok("delete_records")
        if client.lib == "franz":
            m.check(deleted == {"low_watermark": 4}, f"delete records: {deleted}")
        early = offsets("offsets_earliest_after_delete")
        m.check(early["0"]["offset"] == 4, f"earliest after delete records: {early['0']}")
        code("delete_records_beyond", OFFSET_OUT_OF_RANGE)
        code("delete_records_absent", UNKNOWN_TOPIC_OR_PARTITION)
    else:
        m.check("delete_records" not in steps, "kafka-go has no DeleteRecords call")

    # DescribeGroups up to v5 (all Vltava offers) answers an unknown group with state "Dead",
    # no members and no error (v6 would say GROUP_ID_NOT_FOUND).
    dead = ok("describe_group_absent")
    m.check(dead == {"state": "Dead", "members": 0, "err": None}, f"describe unknown group: {dead}")

    ok("delete")
    code("delete_again", UNKNOWN_TOPIC_OR_PARTITION)
    listed = ok("list_after_delete") or {}
    m.check(topic not in listed, f"list after delete: {sorted(listed)}")
    m.assert_none(f"{client.name} admin")

    versions = res["requests"]
    for api in ["CreateTopics", "Metadata", "DescribeConfigs", "CreatePartitions", "ListOffsets",
                "DeleteTopics"]:
        assert api in versions, (api, versions)
    check_versions(client, versions)
