"""Transactions with real clients: the Java producer and consumer (kafka-clients 4.4.0, which uses
transaction version 2, and 3.9.2 / 2.8.2, which use version 1: AddPartitionsToTxn and
AddOffsetsToTxn), confluent-kafka (librdkafka), and kafka-transactions.sh.

compat-tests/java/old/Transactions.java checks what it reads and prints it; the tests re-check
the printed data (keys, counts, offsets) and read back through a second client where it matters."""
import re
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from conftest import COMPAT_DIR, unique_topic
from test_old_clients import old_clients  # noqa: F401  (the session fixture)
from test_tools import create_topic, kafka_tools, tool  # noqa: F401

JAVA = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
# Fast timeout aborts, so the timeout case takes seconds.
TXN_SETTINGS = {"transaction.abort.timed.out.transaction.cleanup.interval.ms": "500"}


@pytest.fixture
def txn_broker(broker_factory):
    return broker_factory(overrides=TXN_SETTINGS)


def run(old_clients, version, *args, timeout=240):  # noqa: F811
    cmd = [*JAVA, "-cp", old_clients[version], "Transactions", *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    out = res.stdout
    assert f"VERSION {version}" in out, out
    assert res.returncode == 0 and "\nOK" in out, (
        f"Transactions {args[0]} ({version}) exited {res.returncode}\nstdout:\n{out}\n"
        f"stderr (tail):\n{res.stderr[-4000:]}")
    return out


@pytest.mark.parametrize("version", ["4.4.0", "3.9.2", "2.8.2"])
def test_commit_abort_and_read_committed(txn_broker, old_clients, version):  # noqa: F811
    topic = unique_topic(f"txn-basic-{version.replace('.', '')}")
    out = run(old_clients, version, "basic", txn_broker.bootstrap, topic)
    committed = re.findall(r"^COMMITTED (\d+)/(\d+):(\S+)=(\S+)$", out, re.M)
    keys = sorted(k for _, _, k, _ in committed)
    assert keys == sorted([f"c1-{i}" for i in range(10)] + [f"c2-{i}" for i in range(10)])
    # Three transactions of 5 records per partition, each closed by a marker: offsets 0-4 (c1),
    # marker 5, 6-10 (aborted), marker 11, 12-16 (c2), marker 17: the log end is 18.
    for p in (0, 1):
        offsets = sorted(int(o) for part, o, _, _ in committed if int(part) == p)
        assert offsets == [0, 1, 2, 3, 4, 12, 13, 14, 15, 16], (p, offsets)
    ends = re.findall(r"^END (\S+) (\d) (\d+) position (\d+)$", out, re.M)
    assert sorted(ends) == sorted([(iso, str(p), "18", "18") for iso in ("read_committed", "read_uncommitted")
                                   for p in (0, 1)]), ends
    assert "UNCOMMITTED_COUNT 30" in out

    # librdkafka agrees on what a read_committed consumer sees.
    c = Consumer({"bootstrap.servers": txn_broker.bootstrap, "group.id": f"g-{topic}",
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 20 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.key().decode())
    c.close()
    assert sorted(got) == keys


@pytest.mark.parametrize("version", ["4.4.0", "2.8.2"])
def test_a_new_producer_fences_the_old_and_aborts_its_transaction(txn_broker, old_clients, version):  # noqa: F811
    topic = unique_topic(f"txn-fence-{version.replace('.', '')}")
    out = run(old_clients, version, "fence", txn_broker.bootstrap, topic)
    assert re.search(r"^FENCED (ProducerFencedException|InvalidProducerEpochException)$", out, re.M), out
    assert "KEYS new\n" in out


def test_a_transaction_past_its_timeout_is_aborted(txn_broker, old_clients):  # noqa: F811
    topic = unique_topic("txn-timeout")
    out = run(old_clients, "4.4.0", "timeout", txn_broker.bootstrap, topic)
    # The coordinator's abort bumped the epoch; the client's commit (EndTxn v5, transaction
    # version 2) comes with the epoch before, which reads as a retry of the other end: Kafka
    # 4.4.0 answers INVALID_TXN_STATE (this program against a real Kafka 4.4.0 prints the same;
    # the oracle's transactions/timeout-v2 case compares the requests).
    assert re.search(r"^TIMEOUT_OUTCOME InvalidTxnStateException", out, re.M), out
    # The abort marker makes the partition stable again: read_committed reaches the end.
    assert re.search(r"^END read_committed 0 2 position 2$", out, re.M), out


def produce_inputs(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(n):
        p.produce(topic, value=str(i).encode(), partition=i % 3)
    assert p.flush(30) == 0


def committed_count(bootstrap, topic) -> int:
    """Records a read_committed consumer can read from `topic` partition 0 right now."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe", "isolation.level": "read_committed",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    except KafkaException:
        return 0
    finally:
        c.close()
    return high


class EosApp:
    """Transactions.java eos as a background process, its output drained."""

    def __init__(self, cp, *args):
        self.proc = subprocess.Popen([*JAVA, "-cp", cp, "Transactions", "eos", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL)
        self.out, self.err = [], []
        threading.Thread(target=lambda: self.out.append(self.proc.stdout.read()), daemon=True).start()
        threading.Thread(target=lambda: self.err.append(self.proc.stderr.read()), daemon=True).start()

    def wait_for_output(self, bootstrap, topic, at_least, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if committed_count(bootstrap, topic) >= at_least:
                return
            time.sleep(0.2)

    def finish(self, timeout=300):
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        time.sleep(0.2)
        return "".join(self.out), "".join(self.err)


@pytest.mark.parametrize("version", ["4.4.0", "3.9.2"])
def test_consume_transform_produce_exactly_once_across_kills(broker_factory, old_clients, version):  # noqa: F811
    """A sendOffsetsToTransaction loop. The application is killed -9 mid-stream and started again
    (the new instance fences the old one's open transaction), then the broker is killed -9 and
    restarted. Every input appears exactly once in the read_committed output, and the group's
    offsets cover the whole input."""
    b = broker_factory(overrides=TXN_SETTINGS)
    n = 3000
    tin, tout = unique_topic("eos-in"), unique_topic("eos-out")
    group = f"g-{tin}"
    create_topic(b.bootstrap, tin, 3)
    create_topic(b.bootstrap, tout, 1)
    produce_inputs(b.bootstrap, tin, n)
    cp = old_clients[version]
    args = (b.bootstrap, tin, tout, group, n)
    app = EosApp(cp, *args)
    app.wait_for_output(b.bootstrap, tout, 200)
    assert app.proc.poll() is None, "the application finished before the kill"
    app.proc.kill()  # kill -9 of the application, a transaction possibly open
    app.finish(10)
    app = EosApp(cp, *args)
    app.wait_for_output(b.bootstrap, tout, committed_count(b.bootstrap, tout) + 200)
    if app.proc.poll() is None:
        b.kill()
        time.sleep(1.0)
        b.start()
    out, err = app.finish()
    print(out[-3000:])
    assert app.proc.returncode == 0 and "\nOK" in out, f"exit {app.proc.returncode}\n{out[-4000:]}\n{err[-4000:]}"
    assert f"OUT_COUNT {n} DISTINCT {n}" in out
    offsets = dict(re.findall(r"^GROUP_OFFSET (\S+) (\d+)$", out, re.M))
    assert sum(map(int, offsets.values())) == n, offsets

    # The committed output, read through librdkafka: each input exactly once, doubled.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "check", "isolation.level": "read_committed",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(tout, 0)])
    values = {}
    deadline = time.monotonic() + 30
    while len(values) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            k = int(m.key())
            assert k not in values, f"input {k} twice in the committed output"
            values[k] = int(m.value())
    c.close()
    assert values == {i: 2 * i for i in range(n)}


def test_broker_kill_with_a_transaction_open(broker_factory):
    """kill -9 of the broker while a transaction is open: after the restart the coordinator still
    knows it and aborts it at its timeout; read_committed never sees its records and reaches the
    end of the log once it is aborted. A committed transaction before it stays visible."""
    b = broker_factory(overrides=TXN_SETTINGS)
    topic = unique_topic("txn-kill")
    create_topic(b.bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": f"tx-{topic}",
                  "transaction.timeout.ms": 4000})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, key=b"committed", value=b"v", partition=0)
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce(topic, key=b"open", value=b"v", partition=0)
    assert p.flush(30) == 0
    b.kill()
    b.start()
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "w", "isolation.level": "read_committed",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    # committed 0, marker 1, open 2: the LSO stays at 2 while the transaction is open...
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1] == 2
    # ...until the coordinator aborts it (timeout 4 s, checked every 0.5 s): marker 3, LSO 4.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1] == 4:
            break
        time.sleep(0.2)
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 4)
    c.assign([TopicPartition(topic, 0, 0)])
    keys = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(keys) < 2:
        m = c.poll(0.3)
        if m is not None and not m.error():
            keys.append(m.key())
    c.close()
    assert keys == [b"committed"]
    p2 = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": f"tx-{topic}"})
    p2.init_transactions(30)  # the same id starts again after the abort


def test_confluent_kafka_transactions(txn_broker):
    topic = unique_topic("txn-librdkafka")
    create_topic(txn_broker.bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": txn_broker.bootstrap, "transactional.id": f"tx-{topic}"})
    p.init_transactions(30)
    for outcome, keys in (("commit", ["k1", "k2"]), ("abort", ["x1"]), ("commit", ["k3"])):
        p.begin_transaction()
        for k in keys:
            p.produce(topic, key=k.encode(), value=b"v", partition=0)
        # Delivered before the end (librdkafka drops unsent records on abort).
        assert p.flush(30) == 0
        if outcome == "commit":
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    c = Consumer({"bootstrap.servers": txn_broker.bootstrap, "group.id": f"g-{topic}",
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0)])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 3 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append((m.key().decode(), m.offset()))
    c.close()
    # k1 0, k2 1, marker 2, x1 3 (aborted), marker 4, k3 5, marker 6.
    assert got == [("k1", 0), ("k2", 1), ("k3", 5)]
    low, high = Consumer({"bootstrap.servers": txn_broker.bootstrap, "group.id": "w",
                          "isolation.level": "read_committed"}).get_watermark_offsets(
        TopicPartition(topic, 0), timeout=10)
    assert (low, high) == (0, 7)


def test_kafka_transactions_tool(txn_broker, kafka_tools):
    """kafka-transactions.sh list / describe / describe-producers against an open transaction,
    then find-hanging and abort."""
    topic = unique_topic("txn-tool")
    create_topic(txn_broker.bootstrap, topic, 1)
    txn_id = f"tx-{topic}"
    p = Producer({"bootstrap.servers": txn_broker.bootstrap, "transactional.id": txn_id})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, key=b"open", value=b"v", partition=0)
    assert p.flush(30) == 0
    bs = ("--bootstrap-server", txn_broker.bootstrap)

    r = tool("kafka-transactions", *bs, "list")
    rows = [l.split() for l in r.lines[1:]]
    assert [txn_id, "1"] == [rows[0][0], rows[0][1]] and rows[0][3] == "Ongoing", r
    r = tool("kafka-transactions", *bs, "list", "--transactional-id-pattern", "tx-txn-tool.*")
    assert [l.split()[0] for l in r.lines[1:]] == [txn_id], r
    r = tool("kafka-transactions", *bs, "list", "--transactional-id-pattern", "other.*")
    assert r.lines[1:] == [], r
    r = tool("kafka-transactions", *bs, "describe", "--transactional-id", txn_id)
    header, row = r.lines[0].split("\t"), r.lines[1].split("\t")
    d = dict(zip([h.strip() for h in header], [x.strip() for x in row]))
    assert d["TransactionalId"] == txn_id and d["TransactionState"] == "Ongoing", d
    assert d["TopicPartitions"] == f"{topic}-0", d
    pid = d["ProducerId"]
    r = tool("kafka-transactions", *bs, "describe-producers", "--topic", topic, "--partition", "0")
    prow = dict(zip([h.strip() for h in r.lines[0].split("\t")], [x.strip() for x in r.lines[1].split("\t")]))
    assert prow["ProducerId"] == pid and prow["CurrentTransactionStartOffset"] == "0", prow
    r = tool("kafka-transactions", *bs, "find-hanging", "--broker-id", "1")
    # An open transaction the coordinator knows is not hanging.
    assert "No hanging transactions found" in r.out or len(r.lines) == 1, r

    # Abort it from the tool, as an operator would a hanging one.
    r = tool("kafka-transactions", *bs, "abort", "--topic", topic, "--partition", "0",
             "--start-offset", "0")
    c = Consumer({"bootstrap.servers": txn_broker.bootstrap, "group.id": "w",
                  "isolation.level": "read_committed"})
    low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    assert high == 2, (low, high)  # the record and the abort marker: stable again


def test_kafka_streams_exactly_once_v2(txn_broker, tmp_path):
    """Kafka Streams 4.4 with processing.guarantee=exactly_once_v2: a stateless step and a count
    through a repartition topic and a changelog. Every input once in the output, the final counts
    exact."""
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "streams"], capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stdout + res.stderr
    cp = (COMPAT_DIR / "java" / "streams" / "build" / "classpath").read_text().strip()
    n = 2000
    tin, tout, counts = unique_topic("streams-in"), unique_topic("streams-out"), unique_topic("streams-counts")
    create_topic(txn_broker.bootstrap, tin, 3)
    create_topic(txn_broker.bootstrap, tout, 1)
    create_topic(txn_broker.bootstrap, counts, 1)
    p = Producer({"bootstrap.servers": txn_broker.bootstrap, "acks": "all"})
    for i in range(n):
        p.produce(tin, key=f"k{i}".encode(), value=str(i).encode(), partition=i % 3)
    assert p.flush(30) == 0
    cmd = ["java", "-Xmx512m", "-cp", cp, "StreamsEos", txn_broker.bootstrap, tin, tout, counts,
           f"app-{tin}", str(n), str(tmp_path / "state")]
    # Killed -9 twice once some output is committed, then left to finish.
    for kill in (300, 900):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if committed_count(txn_broker.bootstrap, tout) >= kill:
                break
            time.sleep(0.1)
        proc.kill()
        proc.wait(10)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    out = res.stdout
    assert res.returncode == 0 and f"DONE {n}" in out, f"{out[-3000:]}\n{res.stderr[-4000:]}"
    pairs = re.findall(r"^OUT k(\d+) (\d+)$", out, re.M)
    assert sorted(int(k) for k, _ in pairs) == list(range(n)), "each input exactly once"
    assert all(int(v) == 2 * int(k) for k, v in pairs)
    got = dict(re.findall(r"^COUNT (\w+) (\d+)$", out, re.M))
    assert got == {"even": str(n // 2), "odd": str(n // 2)}, got


def test_dump_log_reads_the_txnindex_and_the_markers(txn_broker, kafka_tools):
    """kafka-dump-log reads Vltava's .txnindex (the aborted transaction) and the control batches
    in the .log: the on-disk format of transactions is Kafka's."""
    topic = unique_topic("txn-dump")
    create_topic(txn_broker.bootstrap, topic, 1)
    p = Producer({"bootstrap.servers": txn_broker.bootstrap, "transactional.id": f"tx-{topic}"})
    p.init_transactions(30)
    for outcome in ("abort", "commit"):
        p.begin_transaction()
        p.produce(topic, key=outcome.encode(), value=b"v", partition=0)
        assert p.flush(30) == 0
        (p.commit_transaction if outcome == "commit" else p.abort_transaction)(30)
    part = txn_broker.data_dir / f"{topic}-0"
    r = tool("kafka-dump-log", "--files", str(part / "00000000000000000000.txnindex"))
    entries = re.findall(r"producerId: (\d+) firstOffset: (\d+) lastOffset: (\d+) lastStableOffset: (\d+)", r.out)
    assert len(entries) == 1, r
    pid, first, last, _ = entries[0]
    assert (first, last) == ("0", "1"), r  # the aborted record at 0, its marker at 1
    r = tool("kafka-dump-log", "--files", str(part / "00000000000000000000.log"), "--deep-iteration")
    markers = re.findall(r"endTxnMarker: (ABORT|COMMIT) coordinatorEpoch: (\d+)", r.out)
    assert markers == [("ABORT", "0"), ("COMMIT", "0")], r.out
    assert re.search(rf"producerId: {pid} producerEpoch: \d+ .*isTransactional: true", r.out), r.out
