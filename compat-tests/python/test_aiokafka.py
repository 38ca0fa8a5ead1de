"""aiokafka (asyncio, pure Python): admin, producer (keys, headers, every codec, idempotent),
assign-mode consumer, consumer groups with rebalance and resume.

aiokafka negotiates a version per request from the broker's ApiVersions answer; the versions it
used are collected from its debug log (`aiokafka.conn`) and checked where they matter.
"""
import asyncio
import logging
import time
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka import codec as aiocodec
from aiokafka import errors as Errors
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import OffsetAndMetadata

from conftest import unique_topic
from log_checks import CODEC_IDS, default_partition, segment_batches

CODEC_AVAILABLE = {"none": True, "gzip": aiocodec.has_gzip(), "snappy": aiocodec.has_snappy(),
                   "lz4": aiocodec.has_lz4(), "zstd": aiocodec.has_zstd()}


def run(coro, timeout=90):
    """Runs one test body on a fresh event loop, bounded so a hang fails instead of stalling."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class RequestVersions(logging.Handler):
    """Collects (request struct class name -> versions) from aiokafka.conn's debug lines
    ("Request to host:port <corr>: ProduceRequest_v8(...)")."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seen: dict[str, set[int]] = defaultdict(set)

    def emit(self, record):
        if record.msg.startswith("Request to") and len(record.args) >= 4:
            req = record.args[3]
            name = type(req).__name__.rsplit("_v", 1)[0]
            self.seen[name].add(getattr(req, "API_VERSION", -1))

    def __enter__(self):
        lg = logging.getLogger("aiokafka.conn")
        self._old = lg.level
        lg.setLevel(logging.DEBUG)
        lg.addHandler(self)
        return self

    def __exit__(self, *exc):
        lg = logging.getLogger("aiokafka.conn")
        lg.removeHandler(self)
        lg.setLevel(self._old)


async def admin_for(broker) -> AIOKafkaAdminClient:
    a = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="compat-aio-admin",
                            request_timeout_ms=10000)
    await a.start()
    return a


async def create_topic(broker, topic, partitions):
    a = await admin_for(broker)
    try:
        resp = await a.create_topics([NewTopic(topic, partitions, 1)])
        assert [(t, code) for t, code, _ in resp.topic_errors] == [(topic, 0)], resp
    finally:
        await a.close()


async def read_all(broker, topic, partitions, want, timeout=30):
    """Assign-mode consumer (no group): every record of every partition from offset 0."""
    c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, client_id="compat-aio-reader",
                         enable_auto_commit=False, auto_offset_reset="earliest", check_crcs=True)
    await c.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        end = await c.end_offsets(tps)
        assert sum(end.values()) == want, f"end offsets {end}, expected {want} records in all"
        out = []
        deadline = time.monotonic() + timeout
        while any([await c.position(tp) < end[tp] for tp in tps]):
            assert time.monotonic() < deadline, f"read {len(out)}/{want} in {timeout}s"
            for recs in (await c.getmany(timeout_ms=500)).values():
                out.extend(recs)
        return out
    finally:
        await c.stop()


# ----------------------------------------------------------------------------------------------
# admin


def test_aiokafka_admin_topics(broker):
    topic = unique_topic("aio-admin")

    async def body():
        a = await admin_for(broker)
        try:
            resp = await a.create_topics([NewTopic(topic, 5, 1)])
            assert [(t, code) for t, code, _ in resp.topic_errors] == [(topic, 0)]
            # An existing topic: error 36, which aiokafka maps to TopicAlreadyExistsError.
            resp = await a.create_topics([NewTopic(topic, 5, 1)])
            [(t, code, msg)] = resp.topic_errors
            assert t == topic and Errors.for_code(code) is Errors.TopicAlreadyExistsError, (code, msg)
            resp = await a.create_topics([NewTopic("bad/name", 1, 1), NewTopic(topic + "-rf", 1, 3)])
            codes = {t: Errors.for_code(code) for t, code, _ in resp.topic_errors}
            assert codes == {"bad/name": Errors.InvalidTopicError,
                             topic + "-rf": Errors.InvalidReplicationFactorError}, resp

            assert topic in await a.list_topics()
            [d] = await a.describe_topics([topic])
            assert (d["topic"], d["error_code"], d["is_internal"]) == (topic, 0, False)
            assert [(p["partition"], p["error_code"], p["leader"], p["replicas"], p["isr"])
                    for p in sorted(d["partitions"], key=lambda p: p["partition"])] == \
                [(p, 0, 1, [1], [1]) for p in range(5)]
            cluster = await a.describe_cluster()
            assert [(b["node_id"], b["host"], b["port"]) for b in cluster["brokers"]] == \
                [(1, "127.0.0.1", broker.port)]
            assert cluster["controller_id"] == 1

            resp = await a.delete_topics([topic])
            assert [(t, code) for t, code in resp.topic_error_codes] == [(topic, 0)]
            assert topic not in await a.list_topics()
            resp = await a.delete_topics([topic])
            [(t, code)] = resp.topic_error_codes
            assert Errors.for_code(code) is Errors.UnknownTopicOrPartitionError
            # Same name again, other partition count.
            resp = await a.create_topics([NewTopic(topic, 2, 1)])
            assert [code for _, code, _ in resp.topic_errors] == [0]
            [d] = await a.describe_topics([topic])
            assert sorted(p["partition"] for p in d["partitions"]) == [0, 1]
        finally:
            await a.close()

    run(body())


async def wait_until_async(probe, want, timeout, what):
    deadline = time.monotonic() + timeout
    while (got := await probe()) != want:
        assert time.monotonic() < deadline, f"{what}: {got} != {want} after {timeout}s"
        await asyncio.sleep(0.05)


def test_aiokafka_admin_partitions_configs_delete_records_and_acks0(broker):
    topic = unique_topic("aio-admin2")

    async def body():
        a = await admin_for(broker)
        try:
            resp = await a.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "5555"})])
            assert [code for _, code, _ in resp.topic_errors] == [0]
            # acks=0: no response at all, yet the records land, in order, before the acks=1 one.
            p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks=0)
            await p.start()
            try:
                for i in range(5):
                    await p.send(topic, f"zero-{i}".encode(), partition=0)
                await p.flush()
            finally:
                await p.stop()
            # Unacknowledged: wait until they are visible before another connection writes.
            c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
            await c.start()
            try:
                tp0 = TopicPartition(topic, 0)
                await wait_until_async(lambda: c.end_offsets([tp0]), {tp0: 5}, 10, "acks=0 records")
            finally:
                await c.stop()
            p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks=1)
            await p.start()
            try:
                md = await p.send_and_wait(topic, b"one", partition=0)
            finally:
                await p.stop()
            assert (md.partition, md.offset) == (0, 5)

            await a.create_partitions({topic: NewPartitions(4)})
            with pytest.raises(Errors.InvalidPartitionsError):
                await a.create_partitions({topic: NewPartitions(3)})
            [d] = await a.describe_topics([topic])
            assert sorted(p["partition"] for p in d["partitions"]) == [0, 1, 2, 3]

            low = await a.delete_records({TopicPartition(topic, 0): RecordsToDelete(2)})
            assert low == {TopicPartition(topic, 0): 2}
            with pytest.raises(Errors.OffsetOutOfRangeError):
                await a.delete_records({TopicPartition(topic, 0): RecordsToDelete(99)})

            def entries(resps):
                [resp] = resps
                [(err, _msg, rtype, name, cfgs)] = [tuple(r) for r in resp.resources]
                assert err == 0, resp
                return {c[0]: (c[1], c[3]) for c in cfgs}  # name -> (value, source)

            res = ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": None})
            assert entries(await a.describe_configs([res])) == {"retention.ms": ("5555", 1)}
            [alter] = await a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "777"})])
            assert [tuple(r)[0] for r in alter.resources] == [0]
            assert entries(await a.describe_configs([res])) == {"retention.ms": ("777", 1)}
            brk = ConfigResource(ConfigResourceType.BROKER, "1", {"log.retention.hours": None})
            assert entries(await a.describe_configs([brk])) == {"log.retention.hours": ("168", 5)}
        finally:
            await a.close()
        # The consumer sees the new log start offset, and reads on from there.
        records = []
        c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, auto_offset_reset="earliest")
        await c.start()
        try:
            tp = TopicPartition(topic, 0)
            assert await c.beginning_offsets([tp]) == {tp: 2}
            c.assign([tp])
            await c.seek_to_beginning(tp)
            deadline = time.monotonic() + 10
            while len(records) < 4 and time.monotonic() < deadline:
                records += (await c.getmany(tp, timeout_ms=500)).get(tp, [])
        finally:
            await c.stop()
        assert [(r.offset, r.value) for r in records] == \
            [(2, b"zero-2"), (3, b"zero-3"), (4, b"zero-4"), (5, b"one")]

    run(body())


# ----------------------------------------------------------------------------------------------
# producer

def keyed(i):
    key = f"user-{i % 23}".encode()
    value = f"v-{i} ✓".encode() + bytes(range(i % 50))  # binary tail
    headers = [("trace", f"t-{i}".encode())]
    if i % 3 == 0:
        headers += [("dup", b"first"), ("dup", b"second")]  # repeated key, order kept
    if i % 7 == 0:
        headers.append(("empty", b""))
    return key, value, headers, 1_700_000_000_000 + i


def test_aiokafka_keyed_messages_headers_and_default_partitioner(broker):
    topic = unique_topic("aio-keyed")
    parts, n = 4, 300

    async def body():
        await create_topic(broker, topic, parts)
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, client_id="compat-aio", acks="all",
                             linger_ms=5)
        await p.start()
        try:
            futs = []
            for i in range(n):
                key, value, headers, ts = keyed(i)
                futs.append(await p.send(topic, value=value, key=key, headers=headers, timestamp_ms=ts))
            acked = [await f for f in futs]
        finally:
            await p.stop()
        # The Java-compatible murmur2 placement, over the partition count the broker reported.
        for i, md in enumerate(acked):
            assert md.partition == default_partition(keyed(i)[0], parts), (i, md)
        assert {md.partition for md in acked} == set(range(parts))
        by_po = {(md.partition, md.offset): i for i, md in enumerate(acked)}
        for q in range(parts):
            offs = sorted(o for (pp, o) in by_po if pp == q)
            assert offs == list(range(len(offs))), f"partition {q}: acked offsets {offs[:5]}..."
            # Send order is kept within a partition.
            idx = [by_po[(q, o)] for o in offs]
            assert idx == sorted(idx)

        records = await read_all(broker, topic, parts, n)
        assert len(records) == n
        key_parts = defaultdict(set)
        for r in records:
            i = by_po.get((r.partition, r.offset))
            assert i is not None, f"unexpected record at {r.partition}@{r.offset}"
            key, value, headers, ts = keyed(i)
            assert (r.key, r.value, list(r.headers), r.timestamp, r.timestamp_type) == \
                (key, value, headers, ts, 0), (i, r)
            key_parts[r.key].add(r.partition)
        assert all(len(s) == 1 for s in key_parts.values()), "a key on two partitions"

        # ListOffsets: earliest, latest, and by timestamp (first record at or after T+100).
        c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        await c.start()
        try:
            tps = [TopicPartition(topic, q) for q in range(parts)]
            counts = {tp: sum(1 for md in acked if md.partition == tp.partition) for tp in tps}
            assert await c.beginning_offsets(tps) == {tp: 0 for tp in tps}
            assert await c.end_offsets(tps) == counts
            probe = 1_700_000_000_000 + 100
            found = await c.offsets_for_times({tp: probe for tp in tps})
            for tp in tps:
                first = min((md.offset, i) for i, md in enumerate(acked)
                            if md.partition == tp.partition and i >= 100)
                assert (found[tp].offset, found[tp].timestamp) == (first[0], 1_700_000_000_000 + first[1]), \
                    (tp, found[tp], first)
        finally:
            await c.stop()

    run(body())


@pytest.mark.parametrize("codec", list(CODEC_IDS))
def test_aiokafka_compression(broker, codec):
    if not CODEC_AVAILABLE[codec]:
        pytest.skip(f"aiokafka has no {codec} codec here (pip install cramjam; setup.sh does)")
    topic = unique_topic(f"aio-{codec}")
    n = 600

    async def body():
        await create_topic(broker, topic, 2)
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, max_batch_size=32768,
                             compression_type=None if codec == "none" else codec)
        await p.start()
        try:
            futs = [await p.send(topic, key=f"k{i}".encode(), value=(f"{i}:" + "abcabc" * (i % 40)).encode(),
                                 headers=[("i", str(i).encode())], partition=i % 2)
                    for i in range(n)]
            acked = [await f for f in futs]
        finally:
            await p.stop()
        records = await read_all(broker, topic, 2, n)
        got = sorted(int(dict(r.headers)["i"]) for r in records)
        assert got == list(range(n))
        for r in records:
            i = int(r.key[1:])
            assert (r.partition, r.offset) == (acked[i].partition, acked[i].offset)
            assert r.value == (f"{i}:" + "abcabc" * (i % 40)).encode()
        for q in range(2):
            batches = segment_batches(broker.data_dir, topic, q)
            assert {b.codec for b in batches} == {CODEC_IDS[codec]}, (q, batches[:3])
            assert sum(b.records for b in batches) == n // 2
            if codec != "none":
                assert len(batches) < n // 2, "batching expected with linger_ms=20"

    run(body())


def test_aiokafka_topic_compression_type_recompresses(broker):
    """compression.type on the topic (not `producer`): Kafka's log holds the topic's codec,
    whatever the producer sent; consumers still read the same records."""
    topic = unique_topic("aio-topic-codec")
    n = 50

    async def body():
        a = await admin_for(broker)
        try:
            resp = await a.create_topics([NewTopic(topic, 1, 1, topic_configs={"compression.type": "gzip"})])
            assert [code for _, code, _ in resp.topic_errors] == [0], resp
            [desc] = await a.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic, {"compression.type": None})])
            [res] = desc.resources
            assert [(c[0], c[1]) for c in tuple(res)[4]] == [("compression.type", "gzip")]
        finally:
            await a.close()
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)  # no compression
        await p.start()
        try:
            futs = [await p.send(topic, f"hello hello hello {i}".encode()) for i in range(n)]
            for f in futs:
                await f
        finally:
            await p.stop()
        records = await read_all(broker, topic, 1, n)
        assert [r.value for r in records] == [f"hello hello hello {i}".encode() for i in range(n)]
        batches = segment_batches(broker.data_dir, topic, 0)
        assert {b.codec for b in batches} == {CODEC_IDS["gzip"]}, batches

    run(body())


def test_aiokafka_idempotent_producer(broker):
    topic = unique_topic("aio-idem")
    n = 900

    async def body():
        await create_topic(broker, topic, 3)
        with RequestVersions() as versions:
            p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True,
                                 acks="all", linger_ms=2, max_batch_size=4096, compression_type="gzip")
            await p.start()
            try:
                # Three rounds: sequences must continue across requests and batches.
                acked = []
                for rnd in range(3):
                    futs = [await p.send(topic, key=str(i).encode(), value=f"v-{i}".encode())
                            for i in range(rnd * n // 3, (rnd + 1) * n // 3)]
                    acked += [await f for f in futs]
            finally:
                await p.stop()
        assert versions.seen.get("InitProducerIdRequest"), f"no InitProducerId: {dict(versions.seen)}"
        records = await read_all(broker, topic, 3, n)
        assert sorted(int(r.value[2:]) for r in records) == list(range(n)), "each record exactly once"
        # aiokafka has no public accessor for its producer id: take it from the stored batches,
        # where it must be one valid id and epoch for all of them.
        stored = {q: segment_batches(broker.data_dir, topic, q) for q in range(3)}
        ids = {(b.producer_id, b.producer_epoch) for bs in stored.values() for b in bs}
        assert len(ids) == 1, ids
        [(pid, epoch)] = ids
        assert pid >= 0 and epoch >= 0, ids
        for q, batches in stored.items():
            offs = sorted(md.offset for md in acked if md.partition == q)
            assert offs == list(range(len(offs)))
            assert len(batches) >= 3, f"partition {q}: one batch or more per round expected, got {len(batches)}"
            assert sum(b.records for b in batches) == len(offs)
            for b in batches:
                # One producer, fresh topic: the sequence of a batch's first record is its offset.
                assert b.base_sequence == b.base_offset, b
                assert b.codec == CODEC_IDS["gzip"]

    run(body())


# ----------------------------------------------------------------------------------------------
# consumer groups


class Tracker(ConsumerRebalanceListener):
    def __init__(self):
        self.assigned: list[set[int]] = []

    async def on_partitions_revoked(self, revoked):
        pass

    async def on_partitions_assigned(self, assigned):
        self.assigned.append({tp.partition for tp in assigned})


class Member:
    """One aiokafka group member, polled by a task; records what it read and what it committed."""

    def __init__(self, broker, topic, group, client_id):
        self.name = client_id
        self.topic = topic
        self.tracker = Tracker()
        self.records = []
        self.committed: dict[int, int] = {}
        self.error = None
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, group_id=group, client_id=client_id,
            enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=6000,
            heartbeat_interval_ms=300, max_poll_interval_ms=30000, metadata_max_age_ms=5000,
            check_crcs=True)
        self.task = None

    async def start(self):
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=self.tracker)
        self.task = asyncio.create_task(self._loop())
        return self

    async def _loop(self):
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=200)
                if not batch:
                    continue
                offsets = {}
                for tp, recs in batch.items():
                    self.records.extend(recs)
                    offsets[tp] = recs[-1].offset + 1
                # Commit exactly what was read; an error here is a test failure.
                await self.consumer.commit({tp: OffsetAndMetadata(o, f"{self.name}") for tp, o in offsets.items()})
                for tp, o in offsets.items():
                    self.committed[tp.partition] = o
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - surfaced by the test
            self.error = e

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def values(self) -> list[int]:
        return sorted(int(r.value[2:]) for r in self.records)

    async def stop(self):
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        await self.consumer.stop()  # leaves the group


async def wait_until(cond, timeout, what, members=()):
    deadline = time.monotonic() + timeout
    while not cond():
        for m in members:
            if m.error:
                raise AssertionError(f"{m.name} failed while waiting for {what}: {m.error!r}")
        if time.monotonic() > deadline:
            state = {m.name: (m.assignment(), len(m.records), m.committed) for m in members}
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {state}")
        await asyncio.sleep(0.05)


async def produce_numbered(broker, topic, start, end, parts):
    p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    await p.start()
    try:
        futs = [await p.send(topic, key=str(i).encode(), value=f"v-{i}".encode(), partition=i % parts)
                for i in range(start, end)]
        for f in futs:
            await f
    finally:
        await p.stop()


def test_aiokafka_edge_records_message_too_large_and_out_of_range_commit(broker):
    topic = unique_topic("aio-edge")
    group = unique_topic("aio-edge")

    async def body():
        await create_topic(broker, topic, 1)
        tp = TopicPartition(topic, 0)
        # max_request_size raised so the client sends it and the broker is the one to refuse.
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=4 << 20, acks="all")
        await p.start()
        try:
            with pytest.raises(Errors.MessageSizeTooLargeError):
                await p.send_and_wait(topic, b"x" * 1_100_000, key=b"big", partition=0)
            mds = [await p.send_and_wait(topic, v, key=k, headers=h, partition=0) for k, v, h in [
                (b"tomb", None, []), (b"", b"", []), (b"bin", b"v", [("bin", b"\x00\xff\x01"), ("nul", b"")])]]
        finally:
            await p.stop()
        assert [md.offset for md in mds] == [0, 1, 2], "the refused batch took no offsets"
        records = await read_all(broker, topic, 1, 3)
        assert [(r.offset, r.key, r.value, list(r.headers)) for r in records] == [
            (0, b"tomb", None, []), (1, b"", b"", []), (2, b"bin", b"v", [("bin", b"\x00\xff\x01"), ("nul", b"")])]

        # A committed offset past the end: the group member's fetch gets OFFSET_OUT_OF_RANGE and
        # auto_offset_reset=earliest starts it over at 0.
        setter = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
        await setter.start()
        try:
            setter.assign([tp])
            await setter.commit({tp: OffsetAndMetadata(1000, "")})
            assert await setter.committed(tp) == 1000
        finally:
            await setter.stop()
        m = await Member(broker, topic, group, "aio-oor").start()
        try:
            await wait_until(lambda: m.committed == {0: 3}, 30, "a reset to earliest and a re-read", [m])
            assert [r.offset for r in m.records] == [0, 1, 2]
        finally:
            await m.stop()

    run(body())


def test_aiokafka_consumer_group_rebalance_commit_and_resume(broker):
    topic = unique_topic("aio-group")
    group = unique_topic("aio-group")
    parts = 4

    async def body():
        await create_topic(broker, topic, parts)
        await produce_numbered(broker, topic, 0, 200, parts)
        admin = await admin_for(broker)
        members = []
        try:
            with RequestVersions() as versions:
                a = await Member(broker, topic, group, "aio-a").start()
                members.append(a)
                await wait_until(lambda: a.committed == {p: 50 for p in range(parts)}, 30,
                                 "a to read and commit all 200", members)
                assert a.values() == list(range(200))
                assert all(r.key == str(int(r.value[2:])).encode() and r.partition == int(r.value[2:]) % parts
                           for r in a.records)
                offs = await admin.list_consumer_group_offsets(group)
                assert {tp.partition: (om.offset, om.metadata) for tp, om in offs.items()
                        if tp.topic == topic} == {p: (50, "aio-a") for p in range(parts)}

                # Second member: a rebalance splits the partitions.
                b = await Member(broker, topic, group, "aio-b").start()
                members.append(b)
                await wait_until(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2
                                 and a.assignment() | b.assignment() == set(range(parts)), 30,
                                 "the partitions to split 2/2", members)
                assert len(a.tracker.assigned) >= 2 and a.tracker.assigned[-1] == a.assignment()
                await asyncio.sleep(0.5)
                assert b.records == [], f"b re-read committed records {b.values()[:10]}"

                [resp] = await admin.describe_consumer_groups([group])
                [(err, gid, state, ptype, protocol, gmembers)] = [tuple(g) for g in resp.groups]
                assert (err, gid, state, ptype) == (0, group, "Stable", "consumer")
                assert protocol in ("roundrobin", "range", "sticky"), protocol
                assert sorted(m[1] for m in gmembers) == ["aio-a", "aio-b"], gmembers
                assert (group, "consumer") in await admin.list_consumer_groups()

                await produce_numbered(broker, topic, 200, 300, parts)
                await wait_until(lambda: len(a.records) + len(b.records) >= 300, 30, "records 200..299", members)
                await asyncio.sleep(0.3)
                new_a = [r for r in a.records if int(r.value[2:]) >= 200]
                assert sorted([int(r.value[2:]) for r in new_a] + b.values()) == list(range(200, 300))
                assert {r.partition for r in new_a} == a.assignment()
                assert {r.partition for r in b.records} == b.assignment()
                await wait_until(lambda: all(max(a.committed.get(p, 0), b.committed.get(p, 0)) == 75
                                             for p in range(parts)), 30, "commits at 75", members)

                # Both leave; a restarted member resumes at the committed offsets.
                await b.stop()
                await a.stop()
                members.clear()
                [resp] = await admin.describe_consumer_groups([group])
                assert [(g[2], list(g[5])) for g in resp.groups] == [("Empty", [])]
                offs = await admin.list_consumer_group_offsets(group)
                assert {tp.partition: om.offset for tp, om in offs.items()} == {p: 75 for p in range(parts)}
                await produce_numbered(broker, topic, 300, 320, parts)
                c = await Member(broker, topic, group, "aio-c").start()
                members.append(c)
                await wait_until(lambda: c.committed == {p: 80 for p in range(parts)}, 30,
                                 "c to read and commit 300..319", members)
                await asyncio.sleep(0.3)
                assert c.values() == list(range(300, 320)), "no re-delivery of committed records"
                assert min(r.offset for r in c.records) == 75
                # Committed offsets as the group's own consumer sees them.
                for q in range(parts):
                    assert await c.consumer.committed(TopicPartition(topic, q)) == 80
                await c.stop()
                members.clear()

                # Offsets set from outside the group (a manually assigned consumer: OffsetCommit
                # with generation -1), then a member resumes in the middle of a batch.
                setter = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group,
                                          enable_auto_commit=False)
                await setter.start()
                try:
                    setter.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
                    await setter.commit({TopicPartition(topic, 0): OffsetAndMetadata(10, "set"),
                                         TopicPartition(topic, 1): OffsetAndMetadata(20, "")})
                finally:
                    await setter.stop()
                offs = await admin.list_consumer_group_offsets(group)
                assert {tp.partition: (om.offset, om.metadata) for tp, om in offs.items()} == \
                    {0: (10, "set"), 1: (20, ""), 2: (80, "aio-c"), 3: (80, "aio-c")}
                d = await Member(broker, topic, group, "aio-d").start()
                members.append(d)
                await wait_until(lambda: d.committed == {0: 80, 1: 80}, 30, "d to re-read from 10 and 20", members)
                await asyncio.sleep(0.3)
                assert sorted((r.partition, r.offset) for r in d.records) == \
                    [(0, o) for o in range(10, 80)] + [(1, o) for o in range(20, 80)]
            seen = {k: sorted(v) for k, v in versions.seen.items()}
            for api in ("JoinGroupRequest", "SyncGroupRequest", "HeartbeatRequest", "OffsetCommitRequest",
                        "OffsetFetchRequest", "LeaveGroupRequest", "FetchRequest"):
                assert seen.get(api), f"aiokafka sent no {api}: {seen}"
        finally:
            for m in members:
                await m.stop()
            await admin.close()

    run(body(), timeout=120)
