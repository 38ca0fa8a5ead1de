#!/usr/bin/env python3
"""End-to-end load benchmark: real clients (librdkafka's rdkafka_performance, and for one pair of
cases the Java producer's kafka-producer-perf-test) against running brokers, Vltava side by side
with Apache Kafka 4.4.0 (--kafka) and a peer broker (Tansu, or any --peer-bootstrap), one table
row per case.

Run it through ./benches/e2e.sh (which builds and fetches everything first); see BENCHMARKS.md
for the method.

Every case starts fresh brokers (an empty data directory for Vltava and Kafka), warms each up
with one unmeasured produce run, then for each repetition creates a fresh topic on each broker
in turn (Vltava, Kafka, peer, Vltava, Kafka, peer, ... so drift on a noisy machine hits all
alike) and runs the client. It reports the median and the range over the repetitions, and the
broker's CPU-seconds for each run (utime + stime from /proc/<pid>/stat, which sums every thread
of the process, the JVM's included), so throughput can be normalised to MB per broker-CPU-second.

Only the standard library is used: the few admin requests (CreateTopics, Metadata, ApiVersions)
are encoded here by hand, in their oldest non-flexible versions, which every broker answers.
Kafka is started the way compat-tests/python/real_kafka.py starts it (its settings are reused
from there), from the jars `compat-tests/setup.sh kafka` fetches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MB = 1_000_000  # rdkafka_performance's "MB" is 10^6 bytes; so is ours.


# --------------------------------------------------------------------------------------------
# A minimal Kafka admin client: just enough to create topics and ask Metadata.
# --------------------------------------------------------------------------------------------

def _str(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class KafkaConn:
    """One blocking connection speaking request header v1 / response header v0."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.correlation = 0

    def request(self, api_key: int, version: int, body: bytes) -> bytes:
        self.correlation += 1
        header = struct.pack(">hhi", api_key, version, self.correlation) + _str("vltava-bench")
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", self._read(4))[0]
        payload = self._read(size)
        (correlation,) = struct.unpack(">i", payload[:4])
        if correlation != self.correlation:
            raise RuntimeError(f"correlation {correlation} != {self.correlation}")
        return payload[4:]

    def send_only(self, api_key: int, version: int, body: bytes) -> None:
        self.correlation += 1
        header = struct.pack(">hhi", api_key, version, self.correlation) + _str("vltava-bench")
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)

    def read_response(self) -> bytes:
        size = struct.unpack(">i", self._read(4))[0]
        return self._read(size)[4:]

    def _read(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


class Reader:
    def __init__(self, b: bytes):
        self.b, self.at = b, 0

    def take(self, fmt: str):
        v = struct.unpack_from(fmt, self.b, self.at)
        self.at += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.at : self.at + n].decode()
        self.at += n
        return s


def create_topics(conn: KafkaConn, names: list[str], partitions: int) -> dict[str, int]:
    """CreateTopics v2; returns error code per topic (0 = created)."""
    body = struct.pack(">i", len(names))
    for name in names:
        body += _str(name) + struct.pack(">ihii", partitions, 1, 0, 0)
    body += struct.pack(">i?", 60_000, False)
    r = Reader(conn.request(19, 2, body))
    r.take(">i")  # throttle
    out = {}
    for _ in range(r.take(">i")):
        name = r.string()
        out[name] = r.take(">h")
        r.string()
    return out


def metadata(conn: KafkaConn, topics: list[str] | None) -> dict[str, tuple[int, int]]:
    """Metadata v1; returns {topic: (error code, partitions with a leader)}."""
    return metadata_with_brokers(conn, topics)[1]


def metadata_with_brokers(
    conn: KafkaConn, topics: list[str] | None
) -> tuple[list[int], dict[str, tuple[int, int]]]:
    """Metadata v1; returns ([port of each broker listed], {topic: (error code, partitions
    with a leader)})."""
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics)) + b"".join(_str(t) for t in topics)
    r = Reader(conn.request(3, 1, body))
    ports = []
    for _ in range(r.take(">i")):
        r.take(">i")
        r.string()
        ports.append(r.take(">i"))
        r.string()
    r.take(">i")  # controller
    out = {}
    for _ in range(r.take(">i")):
        err = r.take(">h")
        name = r.string()
        r.take(">?")
        led = 0
        for _ in range(r.take(">i")):
            perr, _idx, leader = r.take(">hii")
            for _ in range(2):  # replica and ISR node ids
                count = r.take(">i")
                r.at += 4 * count
            led += perr == 0 and leader >= 0
        out[name] = (err, led)
    return ports, out


def wait_for_topic(host: str, port: int, topic: str, partitions: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    conn = KafkaConn(host, port)
    try:
        while time.monotonic() < deadline:
            err, led = metadata(conn, [topic]).get(topic, (-1, 0))
            if err == 0 and led == partitions:
                return
            time.sleep(0.05)
    finally:
        conn.close()
    raise RuntimeError(f"topic {topic} not ready with {partitions} partitions")


# --------------------------------------------------------------------------------------------
# Brokers under test.
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_threads(pid: int) -> dict[str, tuple[str, float, float]]:
    """{tid: (thread name, CPU-seconds, seconds runnable but waiting for a CPU)} from
    /proc/<pid>/task/*/stat and schedstat (names as the kernel keeps them: 15 characters)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                raw = f.read()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                _on_cpu_ns, wait_ns, _ = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
        fields = raw.rsplit(")", 1)[1].split()
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK, wait_ns / 1e9)
    return out


def thread_totals(before: dict, after: dict) -> tuple[float, float]:
    """CPU-seconds and run-queue wait of a process's threads between two proc_threads()."""
    cpu = wait = 0.0
    for tid, (name, c, w) in after.items():
        _, c0, w0 = before.get(tid, (name, 0.0, 0.0))
        cpu += c - c0
        wait += w - w0
    return cpu, wait


def jvm_thread_group(name: str) -> str:
    """JVM thread names (as the kernel truncates them) folded into what they do."""
    if name.startswith(("C1 Compiler", "C2 Compiler")):
        return "jit"
    if name.startswith(("GC Thread", "G1 ")):
        return "gc"
    if name.startswith("kafka-producer"):
        return "sender"
    if name == "java":  # the JVM's main thread keeps the process name
        return "main"
    return "other"


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Broker:
    """A broker process this runner starts and stops."""

    name = "broker"
    start_timeout_s = 30.0

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict | None:
        """The broker's environment (None: the runner's own)."""
        return None

    def prepare(self) -> dict:
        """Fresh state before a start (empty data directory); returns timings of anything it
        ran (not part of the start-up time)."""
        return {}

    def start(self) -> dict:
        """Starts the broker; returns start-up timings in ms: exec -> the port accepts a
        connection -> the first Metadata answer that lists the broker itself."""
        self.port = free_port()
        prep = self.prepare()
        self.log_path = self.workdir / f"{self.name}-{self.port}.log"
        log = open(self.log_path, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env(),
        )
        log.close()

        def alive(what: str) -> None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            if time.perf_counter() - t0 > self.start_timeout_s:
                self.stop()
                raise RuntimeError(f"{self.name}: {what} within {self.start_timeout_s:.0f} s; "
                                   f"see {self.log_path}")

        def pause() -> None:
            # Poll finely while a fast broker may be about to answer, then back off so the
            # polling does not take CPU from a slow starter (a JVM) on this 2-core machine.
            time.sleep(0.0001 if time.perf_counter() - t0 < 0.1 else 0.002)

        while True:
            alive("did not listen")
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                break
            except OSError:
                pause()
        t_accept = time.perf_counter()
        sock.close()
        # A broker may accept connections (the kernel does, once the socket listens) before it
        # serves requests, and may answer Metadata before it knows itself: wait for a Metadata
        # answer that lists this broker.
        while True:
            alive("answered no Metadata listing itself")
            try:
                conn = KafkaConn("127.0.0.1", self.port, timeout_s=self.start_timeout_s)
                try:
                    ports, _ = metadata_with_brokers(conn, None)
                finally:
                    conn.close()
                if self.port in ports:
                    break
            except (OSError, RuntimeError, struct.error):
                pass
            pause()
        t_meta = time.perf_counter()
        return {"accept_ms": (t_accept - t0) * 1e3, "metadata_ms": (t_meta - t0) * 1e3, **prep}

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.cleanup()

    def cleanup(self) -> None:
        pass

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def threads(self) -> dict:
        return proc_threads(self.pid)

    def rss_kib(self) -> int:
        return proc_rss_kib(self.pid)


class Vltava(Broker):
    name = "vltava"

    def __init__(self, workdir: Path, binary: Path, overrides: list[str]):
        super().__init__(workdir)
        self.binary = binary
        self.overrides = overrides
        self.data_dir = workdir / "vltava-data"

    def prepare(self) -> dict:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return {}

    def command(self) -> list[str]:
        cmd = [
            str(self.binary), "serve",
            "--listeners", f"PLAINTEXT://127.0.0.1:{self.port}",
            "--log-dirs", str(self.data_dir),
        ]
        for o in self.overrides:
            cmd += ["--override", o]
        return cmd

    def cleanup(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


# How Kafka's own bin/kafka-server-start.sh and kafka-run-class.sh run the broker JVM (Kafka 4.4):
# a fixed 1 GB heap, G1 with short pauses. compat-tests/kafka/bin/ runs the same main class
# (kafka.Kafka) from the same jars; these variables give it the distribution's JVM flags.
KAFKA_DISTRIBUTION_JVM_OPTS = (
    "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
    "-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
)


class Kafka(Broker):
    """Apache Kafka 4.4.0, one KRaft node in combined mode (broker + controller), started as
    compat-tests/python/real_kafka.py starts it: its settings (Kafka's defaults except what one
    node needs: internal topics with replication factor 1, listeners on free loopback ports, and
    group.initial.rebalance.delay.ms=0), `kafka-storage.sh format --standalone` into an empty
    data directory (timed separately: it is a JVM of its own), then kafka-server-start.sh, which
    execs one JVM (the process whose CPU and RSS are measured)."""

    name = "kafka"
    start_timeout_s = 180.0

    def __init__(self, workdir: Path, heap: str, overrides: list[str]):
        super().__init__(workdir)
        self.heap = heap
        self.overrides = dict(o.split("=", 1) for o in overrides)
        self.data_dir = workdir / "kafka-data"
        self.config_path = workdir / "kafka-server.properties"

    def env(self) -> dict:
        env = dict(os.environ)
        env["KAFKA_HEAP_OPTS"] = self.heap
        env["KAFKA_JVM_PERFORMANCE_OPTS"] = KAFKA_DISTRIBUTION_JVM_OPTS
        return env

    def prepare(self) -> dict:
        real_kafka = _real_kafka()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        rk = real_kafka.RealKafka(self.workdir, heap=self.heap, overrides=self.overrides)
        rk.port, rk.data_dir = self.port, self.data_dir
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in rk.settings().items()))
        t0 = time.perf_counter()
        res = subprocess.run(
            [str(real_kafka.KAFKA_BIN / "kafka-storage.sh"), "format", "--standalone",
             "-t", rk.cluster_id, "-c", str(self.config_path)],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=self.env(),
        )
        if res.returncode != 0:
            raise RuntimeError(f"kafka-storage.sh format failed:\n{res.stdout}\n{res.stderr}")
        return {"format_ms": (time.perf_counter() - t0) * 1e3}

    def command(self) -> list[str]:
        return [str(_real_kafka().KAFKA_BIN / "kafka-server-start.sh"), str(self.config_path)]

    def cleanup(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _real_kafka():
    """compat-tests/python/real_kafka.py, the test suite's Kafka launcher (standard library only)."""
    here = Path(__file__).resolve().parent.parent / "compat-tests" / "python"
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    import real_kafka

    return real_kafka


class Tansu(Broker):
    name = "tansu"

    def __init__(self, workdir: Path, binary: Path):
        super().__init__(workdir)
        self.binary = binary

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(self.binary), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]


class External(Broker):
    """A broker someone else runs: no process to watch, so no CPU or RSS figures."""

    def __init__(self, workdir: Path, bootstrap: str):
        super().__init__(workdir)
        self.name = f"external({bootstrap})"
        host, port = bootstrap.rsplit(":", 1)
        self.host, self.fixed_port = host, int(port)

    def start(self) -> dict:
        self.port = self.fixed_port
        return {}

    def stop(self) -> None:
        pass

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def cpu_seconds(self) -> float:
        return float("nan")

    def threads(self) -> dict:
        return {}

    def rss_kib(self) -> int:
        return 0


# --------------------------------------------------------------------------------------------
# The client.
# --------------------------------------------------------------------------------------------

class Client:
    def __init__(self, perf: Path, workdir: Path, timeout_s: float):
        self.perf = perf
        self.workdir = workdir
        self.timeout_s = timeout_s
        self.runs = 0

    def run(self, args: list[str], program: Path | None = None) -> tuple[str, float]:
        """Runs rdkafka_performance (or `program`); returns its output and its CPU-seconds (all
        its processes: a JVM's threads too). The output is also kept in the work directory
        (client-<n>.txt) for when a run goes wrong."""
        before = os.times()
        p = subprocess.run(
            [str(program or self.perf), *args], capture_output=True, text=True,
            timeout=self.timeout_s, stdin=subprocess.DEVNULL,
        )
        after = os.times()
        cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        self.runs += 1
        out = p.stdout + p.stderr
        (self.workdir / f"client-{self.runs}.txt").write_text(
            " ".join(args) + f"\nexit {p.returncode}\n" + out
        )
        return out, cpu

    def run_sampled(self, args: list[str], program: Path) -> tuple[str, float, dict]:
        """As run(), and also the CPU-seconds of each of the client's threads (sampled every
        0.1 s from /proc while it runs), folded by jvm_thread_group()."""
        import threading

        before = os.times()
        p = subprocess.Popen([str(program), *args], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.append(p.stdout.read()))
        reader.start()
        seen: dict = {}
        deadline = time.monotonic() + self.timeout_s
        while p.poll() is None:
            seen.update(proc_threads(p.pid))
            if time.monotonic() > deadline:
                p.kill()
            time.sleep(0.1)
        reader.join()
        after = os.times()
        cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        groups: dict[str, float] = {}
        for name, c, _ in seen.values():
            g = jvm_thread_group(name)
            groups[g] = groups.get(g, 0.0) + c
        self.runs += 1
        out = "".join(chunks)
        (self.workdir / f"client-{self.runs}.txt").write_text(
            " ".join(map(str, args)) + f"\nexit {p.returncode}\n" + out
        )
        return out, cpu, groups

    def spawn(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [str(self.perf), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )


def parse_produce(out: str) -> dict:
    """The producer's final summary line."""
    last = None
    for line in out.splitlines():
        if " messages produced (" in line:
            last = line
    if last is None:
        raise RuntimeError("no producer summary:\n" + out[-2000:])
    # % N messages produced (B bytes), D delivered (offset O, F failed) in T ms: X msgs/s and Y MB/s
    words = last.replace("(", " ").replace(")", " ").replace(",", " ").split()
    produced = int(words[1])
    delivered = int(words[words.index("delivered") - 1])
    failed = int(words[words.index("failed") - 1])
    ms = int(words[words.index("in") + 1].rstrip("ms:"))
    rate = int(words[words.index("msgs/s") - 1])
    mbps = float(words[words.index("MB/s") - 1])
    return {
        "produced": produced, "delivered": delivered, "failed": failed,
        "elapsed_ms": ms, "msgs_per_s": rate, "mb_per_s": mbps,
    }


def parse_consume(out: str) -> dict:
    last = None
    for line in out.splitlines():
        if " consumed in " in line and "INTERVAL" not in line:
            last = line
    if last is None:
        raise RuntimeError("no consumer summary:\n" + out[-2000:])
    # % N messages (B bytes) consumed in T ms: X msgs/s (Y MB/s)
    words = last.replace("(", " ").replace(")", " ").split()
    return {
        "messages": int(words[1]),
        "bytes": int(words[3]),
        "elapsed_ms": int(words[words.index("in") + 1].rstrip("ms:")),
        "msgs_per_s": int(words[words.index("msgs/s") - 1]),
        "mb_per_s": float(words[words.index("MB/s") - 1]),
    }


def percentiles(path: Path) -> dict:
    values = sorted(int(x) for x in path.read_text().split() if x.strip())
    if not values:
        raise RuntimeError(f"no latency samples in {path}")

    def pct(p: float) -> float:
        return values[min(len(values) - 1, int(p / 100 * len(values)))] / 1000.0

    return {"samples": len(values), "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": values[-1] / 1000}


# --------------------------------------------------------------------------------------------
# Cases.
# --------------------------------------------------------------------------------------------

def parse_java_produce(out: str) -> dict:
    """kafka-producer-perf-test's final summary line, and with --print-metrics the producer's
    own metrics that say what its requests looked like."""
    last = None
    for line in out.splitlines():
        if " records sent, " in line and "th." in line:
            last = line
    if last is None:
        raise RuntimeError("no kafka-producer-perf-test summary:\n" + out[-2000:])
    # N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency,
    # P ms 50th, P ms 95th, P ms 99th, P ms 99.9th.   (its MB is 2^20 bytes)
    words = last.replace("(", " ").replace(")", " ").replace(",", " ").split()
    r = {
        "records": int(words[0]),
        "msgs_per_s": float(words[words.index("records/sec") - 1]),
        "tool_mib_per_s": float(words[words.index("MB/sec") - 1]),
        "avg_latency_ms": float(words[words.index("avg") - 2]),
        "max_latency_ms": float(words[words.index("max") - 2]),
        "p50_latency_ms": float(words[words.index("50th") - 2]),
        "p99_latency_ms": float(words[words.index("99th") - 2]),
    }
    metrics = {}
    for line in out.splitlines():
        # producer-metrics:request-latency-avg:{client-id=perf-producer-client}   : 1.234
        if line.startswith("producer-metrics:") and " : " in line:
            key, value = line.rsplit(" : ", 1)
            name = key.split(":")[1]
            if name in JAVA_PRODUCER_METRICS:
                try:
                    metrics[name] = float(value)
                except ValueError:
                    pass
    r["producer_metrics"] = metrics
    return r


# The Java producer's metrics (--print-metrics) that describe its requests and where it waited.
# Its "-rate" and "-ratio" metrics divide by at least 30 s (two 30 s samples, the first one
# counted whole: Rate.windowSize), longer than a 500,000-record run, so the report uses the
# cumulative totals divided by the run's own time instead.
JAVA_PRODUCER_METRICS = (
    "batch-size-avg", "records-per-request-avg", "request-size-avg", "request-latency-avg",
    "request-latency-max", "request-rate", "record-queue-time-avg", "record-queue-time-max",
    "bufferpool-wait-ratio", "io-ratio", "io-wait-ratio", "select-rate", "record-retry-total",
    "record-error-total", "produce-throttle-time-avg", "outgoing-byte-rate", "request-total",
    "io-wait-time-ns-total", "io-time-ns-total", "bufferpool-wait-time-ns-total",
    "outgoing-byte-total",
)


@dataclass
class Case:
    name: str
    kind: str  # produce | consume | ack_latency | e2e_latency
    record_bytes: int = 1024
    acks: int = 1
    partitions: int = 1
    linger_ms: int = 5
    records: int = 1_000_000
    rate: int = 0
    # Broker settings for this case, given to Vltava (--override) and Kafka (server.properties);
    # Tansu has no equivalent.
    overrides: list[str] = field(default_factory=list)
    # Which load generator: rdkafka_performance, or "java" for Kafka's kafka-producer-perf-test.
    client: str = "rdkafka"
    # Further client settings (rdkafka_performance -X / kafka-producer-perf-test properties).
    client_props: list[str] = field(default_factory=list)
    note: str = ""


def all_cases(scale: float) -> list[Case]:
    def n(x: int) -> int:
        return max(1000, int(x * scale))

    cases = []
    for size, count in ((1024, 1_000_000), (100, 5_000_000)):
        for acks in (1, -1):
            for parts in (1, 6):
                label = "1KiB" if size == 1024 else "100B"
                ack = "all" if acks == -1 else "1"
                cases.append(Case(
                    f"produce {label} acks={ack} p={parts}", "produce", size, acks, parts,
                    records=n(count),
                ))
    for parts in (1, 6):
        cases.append(Case(f"consume 1KiB p={parts}", "consume", 1024, 1, parts, records=n(1_000_000)))
    cases.append(Case("ack latency 100B @1000/s linger=0", "ack_latency", 100, 1, 1, 0,
                      records=n(5_000), rate=1000))
    cases.append(Case("e2e latency 100B @5000/s linger=5", "e2e_latency", 100, 1, 1, 5,
                      records=n(25_000), rate=5000))
    cases.append(Case(
        "produce 1KiB acks=all fsync/ack p=1", "produce", 1024, -1, 1, records=n(500_000),
        overrides=["log.flush.interval.messages=1"],
        note="Vltava and Kafka: fdatasync before every ack (log.flush.interval.messages=1); "
             "Tansu: memory storage, nothing to sync",
    ))
    cases.append(Case(
        "produce 1KiB acks=all fsync/ack p=6", "produce", 1024, -1, 6, records=n(500_000),
        overrides=["log.flush.interval.messages=1"],
        note="as above, 6 partitions: group commit across partitions",
    ))
    # The same load from the two producers: the Java client through Kafka's own perf tool, with
    # its defaults (batch.size 16 KiB, linger.ms 5, 5 requests in flight), and librdkafka (its
    # default batch.size of 1 MB), both acks=all and idempotent, 500,000 x 1 KiB.
    cases.append(Case(
        "java perf-test 1KiB acks=all idempotent p=1", "produce", 1024, -1, 1, records=n(500_000),
        client="java", client_props=["enable.idempotence=true"],
        note="kafka-producer-perf-test.sh --num-records 500000 --record-size 1024 "
             "--throughput -1 --command-property acks=all enable.idempotence=true",
    ))
    cases.append(Case(
        "rdkafka 1KiB acks=all idempotent p=1", "produce", 1024, -1, 1, records=n(500_000),
        client_props=["enable.idempotence=true"],
        note="rdkafka_performance -P -s 1024 -c 500000 -a -1 -X linger.ms=5 "
             "-X enable.idempotence=true",
    ))
    return cases


def machine_busy_fraction(interval_s: float = 0.5) -> float:
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle

    t1, i1 = sample()
    time.sleep(interval_s)
    t2, i2 = sample()
    return 1.0 - (i2 - i1) / max(1, t2 - t1)


def fresh_page_cost_us(mib: int = 32) -> float:
    """Microseconds to first-touch one 4 KiB page of free memory right now. On this VM the
    hypervisor backs guest memory lazily and takes freed pages back (virtio-balloon free page
    reporting), so this swings between ~0.3 and ~20 µs and decides what page-cache writes cost."""
    import mmap

    n = mib << 20
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    view = memoryview(m)
    t0 = time.perf_counter()
    view[::PAGE_SIZE] = b"\1" * (n // PAGE_SIZE)
    spent = time.perf_counter() - t0
    view.release()
    m.close()
    return spent / (n // PAGE_SIZE) * 1e6


def wait_until_quiet(max_wait_s: float, threshold: float = 0.25) -> float:
    """Waits (bounded) for other load on the machine to fade; returns the busy fraction seen."""
    deadline = time.monotonic() + max_wait_s
    busy = machine_busy_fraction()
    while busy > threshold and time.monotonic() < deadline:
        time.sleep(1)
        busy = machine_busy_fraction()
    return busy


class Runner:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.client = Client(args.perf, workdir, args.timeout)
        self.topic_seq = 0

    def brokers(self, case: Case | None) -> list[Broker]:
        overrides = case.overrides if case else []
        out: list[Broker] = []
        if not self.args.no_vltava:
            out.append(Vltava(self.workdir, self.args.vltava, overrides))
        if self.args.kafka:
            out.append(Kafka(self.workdir, self.args.kafka_heap, overrides))
        if self.args.peer_bootstrap:
            out.append(External(self.workdir, self.args.peer_bootstrap))
        elif self.args.tansu:
            out.append(Tansu(self.workdir, self.args.tansu))
        return out

    def fresh_topic(self, broker: Broker, partitions: int) -> str:
        self.topic_seq += 1
        topic = f"bench-{os.getpid()}-{self.topic_seq}"
        host, port = broker.bootstrap.rsplit(":", 1)
        conn = KafkaConn(host, int(port))
        try:
            errs = create_topics(conn, [topic], partitions)
        finally:
            conn.close()
        if errs.get(topic) not in (0, None):
            raise RuntimeError(f"CreateTopics {topic}: error {errs}")
        wait_for_topic(host, int(port), topic, partitions)
        return topic

    def produce_args(self, broker: Broker, topic: str, case: Case, count: int) -> list[str]:
        args = [
            "-P", "-t", topic, "-b", broker.bootstrap, "-s", str(case.record_bytes),
            "-c", str(count), "-a", str(case.acks), "-X", f"linger.ms={case.linger_ms}",
        ]
        for prop in case.client_props:
            args += ["-X", prop]
        return args

    def java_produce_args(self, broker: Broker, topic: str, case: Case) -> list[str]:
        """kafka-producer-perf-test with the Java producer's defaults (batch.size 16384,
        linger.ms 5, max.in.flight.requests.per.connection 5, buffer.memory 32 MiB) except acks
        and the case's properties; --print-metrics for what its requests looked like."""
        return [
            "--bootstrap-server", broker.bootstrap, "--topic", topic,
            "--num-records", str(case.records), "--record-size", str(case.record_bytes),
            "--throughput", "-1",
            "--command-property", f"acks={'all' if case.acks == -1 else case.acks}",
            *case.client_props, "--print-metrics",
        ]

    def warm_up(self, broker: Broker, case: Case) -> None:
        """One unmeasured produce run on a fresh broker, so that the first measured repetition
        does not pay for a JVM's just-in-time compilation (Kafka) or first allocations. The
        Java-producer case warms up with its own client and settings (its requests take other
        paths through the broker: 16 KiB batches, idempotence)."""
        if self.args.warmup_records <= 0:
            return
        topic = self.fresh_topic(broker, case.partitions if case.client == "java" else 1)
        records = max(1000, int(self.args.warmup_records * self.args.scale))
        if case.client == "java":
            # First one record with short timeouts: a broker this client cannot talk to at all
            # (Tansu 0.6.0) costs 30 s here instead of the producer's 120 s delivery timeout per
            # batch (which with 200,000 records runs into the runner's own timeout).
            probe = Case("probe", "produce", case.record_bytes, case.acks, case.partitions,
                         records=1, client="java", client_props=[
                             *case.client_props, "request.timeout.ms=20000",
                             "delivery.timeout.ms=30000", "max.block.ms=30000"])
            out, _ = self.client.run(self.java_produce_args(broker, topic, probe),
                                     program=self.args.java_perf)
            if parse_java_produce(out)["records"] == 0:
                raise RuntimeError("kafka-producer-perf-test delivered nothing (one record, "
                                   f"30 s timeout); see client-{self.client.runs}.txt")
            warm = Case("warm-up", "produce", case.record_bytes, case.acks, case.partitions,
                        records=records, client="java", client_props=case.client_props)
            out, _ = self.client.run(self.java_produce_args(broker, topic, warm),
                                     program=self.args.java_perf)
            if parse_java_produce(out)["records"] == 0:
                raise RuntimeError("kafka-producer-perf-test delivered nothing (warm-up); see "
                                   f"client-{self.client.runs}.txt")
            return
        warm = Case("warm-up", "produce", 1024, 1, 1, records=records)
        self.client.run(self.produce_args(broker, topic, warm, warm.records))

    def run_one(self, broker: Broker, case: Case, rep: int) -> dict:
        topic = self.fresh_topic(broker, case.partitions)
        busy = wait_until_quiet(self.args.quiet_wait)
        result: dict = {
            "rep": rep, "topic": topic, "machine_busy_before": round(busy, 3),
            "fresh_page_us": round(fresh_page_cost_us(), 2),
        }
        if case.kind == "produce" and case.client == "java":
            cpu0 = broker.cpu_seconds()
            threads0 = broker.threads()
            t0 = time.perf_counter()
            out, client_cpu, client_threads = self.client.run_sampled(
                self.java_produce_args(broker, topic, case), self.args.java_perf)
            wall = time.perf_counter() - t0
            cpu = broker.cpu_seconds() - cpu0
            # Where the broker's threads were during the client's run: on a CPU, runnable but
            # waiting for one (this machine's 2 cores are shared with the client), or idle.
            on_cpu, waiting = thread_totals(threads0, broker.threads())
            result.update(client_threads_cpu_s=client_threads, client_wall_s=wall,
                          broker_threads_cpu_s=on_cpu, broker_runqueue_wait_s=waiting)
            r = parse_java_produce(out)
            m = r["producer_metrics"]
            if r["records"] == 0:
                raise RuntimeError(f"kafka-producer-perf-test delivered nothing "
                                   f"(record-error-total {m.get('record-error-total')}); see "
                                   f"client-{self.client.runs}.txt")
            ok = (r["records"] == case.records and m.get("record-error-total", 0) == 0)
            elapsed_s = r["records"] / r["msgs_per_s"]
            r["elapsed_ms"] = elapsed_s * 1000
            r["mb_per_s"] = r["records"] * case.record_bytes / MB / elapsed_s
            result.update(r, ok=ok, broker_cpu_s=cpu, client_cpu_s=client_cpu)
            result["mb_per_broker_cpu_s"] = (
                r["records"] * case.record_bytes / MB / cpu if cpu > 0 else float("nan")
            )
        elif case.kind == "produce":
            cpu0 = broker.cpu_seconds()
            out, client_cpu = self.client.run(self.produce_args(broker, topic, case, case.records))
            cpu = broker.cpu_seconds() - cpu0
            r = parse_produce(out)
            ok = r["delivered"] == case.records and r["failed"] == 0
            result.update(r, ok=ok, broker_cpu_s=cpu, client_cpu_s=client_cpu)
            result["mb_per_broker_cpu_s"] = (
                r["mb_per_s"] * r["elapsed_ms"] / 1000 / cpu if cpu > 0 else float("nan")
            )
        elif case.kind == "consume":
            out, _ = self.client.run(self.produce_args(broker, topic, case, case.records))
            filled = parse_produce(out)
            if filled["delivered"] != case.records:
                raise RuntimeError(f"fill failed: {filled}")
            # One read to pull everything into the page cache, then the measured read. It stops
            # at the record count: waiting for end-of-partition would add a whole
            # fetch.wait.max.ms (500 ms), since an empty fetch long-polls before it answers.
            args = ["-C", "-t", topic, "-b", broker.bootstrap, "-o", "beginning", "-e",
                    "-c", str(case.records)]
            for p in range(case.partitions):
                args += ["-p", str(p)]
            self.client.run(args)
            cpu0 = broker.cpu_seconds()
            out, client_cpu = self.client.run(args)
            cpu = broker.cpu_seconds() - cpu0
            r = parse_consume(out)
            ok = r["messages"] == case.records
            result.update(r, ok=ok, broker_cpu_s=cpu, client_cpu_s=client_cpu)
            result["mb_per_broker_cpu_s"] = r["bytes"] / MB / cpu if cpu > 0 else float("nan")
        elif case.kind == "ack_latency":
            lat = self.workdir / f"lat-{topic}.txt"
            args = self.produce_args(broker, topic, case, case.records) + [
                "-r", str(case.rate), "-l", "-A", str(lat),
            ]
            cpu0 = broker.cpu_seconds()
            out, client_cpu = self.client.run(args)
            cpu = broker.cpu_seconds() - cpu0
            r = parse_produce(out)
            result.update(percentiles(lat), ok=r["delivered"] == case.records,
                          broker_cpu_s=cpu, client_cpu_s=client_cpu)
        elif case.kind == "e2e_latency":
            lat = self.workdir / f"lat-{topic}.txt"
            consumer = self.client.spawn([
                "-C", "-t", topic, "-b", broker.bootstrap, "-p", "0", "-o", "end",
                "-c", str(case.records), "-l", "-A", str(lat), "-q",
            ])
            time.sleep(1.5)  # let the consumer connect and reach the log end
            cpu0 = broker.cpu_seconds()
            out, client_cpu = self.client.run(
                self.produce_args(broker, topic, case, case.records)
                + ["-r", str(case.rate), "-l"]
            )
            try:
                consumer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                consumer.kill()
                consumer.wait()
            cpu = broker.cpu_seconds() - cpu0
            r = parse_produce(out)
            p = percentiles(lat)
            result.update(p, ok=r["delivered"] == case.records and p["samples"] == case.records,
                          broker_cpu_s=cpu, client_cpu_s=client_cpu)
        return result

    def run_case(self, case: Case) -> dict:
        print(f"# {case.name}", file=sys.stderr, flush=True)
        if case.client == "java" and not self.args.java_perf:
            print("  skipped: no --java-perf (kafka-producer-perf-test.sh)", file=sys.stderr)
            return {"case": case.__dict__, "runs": {}, "skipped": "no --java-perf"}
        brokers = self.brokers(case)
        runs: dict[str, list[dict]] = {b.name: [] for b in brokers}
        started = []
        try:
            for b in brokers:
                # A peer that does not start (or warm up) is reported, not fatal to the run.
                try:
                    b.start()
                    started.append(b)
                    self.warm_up(b, case)
                except Exception as e:
                    if b in started:
                        started.remove(b)
                        b.stop()
                    if isinstance(b, Vltava):
                        raise
                    runs[b.name].append({"rep": 0, "ok": False, "error": f"start or warm-up: {e}"[:500]})
                    print(f"  {b.name}: {e}", file=sys.stderr, flush=True)
            brokers = started
            given_up: set[str] = set()
            for rep in range(self.args.reps):
                for b in brokers:
                    if b.name in given_up:
                        continue
                    try:
                        r = self.run_one(b, case, rep)
                    except Exception as e:  # a failing peer must not sink the whole run
                        r = {"rep": rep, "ok": False, "error": str(e)[:500]}
                        if "delivered nothing" in r["error"]:
                            # This client cannot talk to this broker at all (each attempt waits
                            # out the producer's delivery timeout): not asked again.
                            given_up.add(b.name)
                    runs[b.name].append(r)
                    print(f"  {b.name} rep {rep}: {summary_of(case, r)}", file=sys.stderr, flush=True)
        finally:
            for b in started:
                b.stop()
        return {"case": case.__dict__, "runs": runs}

    def startup(self) -> dict:
        # What spawning any process costs this runner (fork/exec from Python, until it exits).
        spawn = []
        for _ in range(self.args.startup_reps):
            t0 = time.perf_counter()
            subprocess.run(["true"], check=True)
            spawn.append((time.perf_counter() - t0) * 1e3)
        out: dict = {"_spawn_true_ms": statistics.median(spawn)}
        for b in self.brokers(None):
            if isinstance(b, External):
                continue
            samples = []
            for _ in range(self.args.startup_reps):
                try:
                    t = b.start()
                except Exception as e:
                    b.stop()
                    print(f"# startup {b.name}: {e}", file=sys.stderr, flush=True)
                    break
                t["ready_ms"] = ready_line_ms(b)
                t["idle_rss_kib"] = b.rss_kib()
                b.stop()
                samples.append(t)
            if not samples:
                continue
            out[b.name] = samples
            print(f"# startup {b.name}: {samples[len(samples) // 2]}", file=sys.stderr, flush=True)
        return out

    def footprint(self) -> dict:
        out = {}
        for b in self.brokers(None):
            if isinstance(b, External):
                continue
            try:
                b.start()
                out[b.name] = measure_footprint(b, self.args.partitions_total, self.args.connections)
            except Exception as e:
                out[b.name] = {"error": str(e)[:500]}
            finally:
                b.stop()
            print(f"# footprint {b.name}: {out[b.name]}", file=sys.stderr, flush=True)
        return out


def ready_line_ms(b: Broker) -> float | None:
    """Vltava's own 'broker ready ... (X ms)' figure, measured from main() inside the process."""
    if b.log_path is None or not isinstance(b, Vltava):
        return None
    for line in b.log_path.read_text(errors="replace").splitlines():
        if "broker ready" in line and " ms)" in line:
            return float(line.rsplit("(", 1)[1].split(",")[-1].strip().split()[0])
    return None


def measure_footprint(b: Broker, partitions_total: int, connections: int) -> dict:
    time.sleep(1.0)
    idle = b.rss_kib()
    host, port = b.bootstrap.rsplit(":", 1)

    # Idle connections: each sends ApiVersions v0 and reads the answer, then stays open.
    conns = []
    for _ in range(connections):
        c = KafkaConn(host, int(port))
        c.send_only(18, 0, b"")
        conns.append(c)
    for c in conns:
        c.read_response()
    time.sleep(1.0)
    with_conns = b.rss_kib()
    for c in conns:
        c.close()
    time.sleep(1.0)
    before_parts = b.rss_kib()

    # Partitions: 100-partition topics, 10 topics per CreateTopics request.
    per_topic = 100
    topics = [f"footprint-{i}" for i in range(partitions_total // per_topic)]
    admin = KafkaConn(host, int(port), timeout_s=300)
    t0 = time.perf_counter()
    errors = {}
    for i in range(0, len(topics), 10):
        errors.update(create_topics(admin, topics[i : i + 10], per_topic))
    create_s = time.perf_counter() - t0
    admin.close()
    failed = {t: e for t, e in errors.items() if e != 0}
    # A broker may answer CreateTopics before it has made the partitions' logs (Kafka's
    # controller commits the topics, the broker then creates the logs as it applies the
    # metadata): wait until its open files stop changing (3 s alike, at most 300 s).
    t_settle = time.perf_counter()
    history = []
    while time.perf_counter() - t_settle < 300:
        time.sleep(1.0)
        history.append(len(os.listdir(f"/proc/{b.pid}/fd")))
        if len(history) >= 3 and len(set(history[-3:])) == 1:
            break
    settle_s = time.perf_counter() - t_settle
    with_parts = b.rss_kib()
    open_fds = len(os.listdir(f"/proc/{b.pid}/fd"))
    created = (len(topics) - len(failed)) * per_topic
    return {
        "idle_rss_kib": idle,
        "connections": connections,
        "rss_with_connections_kib": with_conns,
        "kib_per_connection": (with_conns - idle) / connections,
        "partitions": partitions_total,
        "partition_create_s": create_s,
        "settle_s": settle_s,
        "partition_create_errors": len(failed),
        "rss_with_partitions_kib": with_parts,
        "partitions_created": created,
        "kib_per_partition": (with_parts - before_parts) / max(1, created),
        "open_fds": open_fds,
        "fd_limit": fd_limit(b.pid),
    }


def fd_limit(pid: int) -> int:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return 0


def machine_ceilings(workdir: Path, mib: int) -> dict:
    """What this VM gives any broker: fresh page-cache writes and first touches of memory."""
    buf = b"\0" * (1 << 20)
    path = workdir / "ceiling.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    c0 = os.times()
    t0 = time.perf_counter()
    for _ in range(mib):
        os.write(fd, buf)
    write_s = time.perf_counter() - t0
    c1 = os.times()
    write_cpu_s = (c1.user - c0.user) + (c1.system - c0.system)
    # fdatasync of 1 MiB appends, as acks=all with flush.messages=1 does for a ~1 MB batch.
    syncs = 64
    os.fdatasync(fd)  # the 1 GiB above must not count against the first measured sync
    t0 = time.perf_counter()
    for _ in range(syncs):
        os.write(fd, buf)
        os.fdatasync(fd)
    sync_ms = (time.perf_counter() - t0) / syncs * 1e3
    os.close(fd)
    os.unlink(path)
    import mmap

    n = mib << 20
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    view = memoryview(m)
    t0 = time.perf_counter()
    # Writing one byte per page through a strided slice keeps the Python overhead negligible.
    view[::PAGE_SIZE] = b"\1" * (n // PAGE_SIZE)
    touch_s = time.perf_counter() - t0
    view.release()
    m.close()
    return {
        "page_cache_write_mb_per_s": n / MB / write_s,
        "page_cache_write_cpu_s_per_gb": write_cpu_s / (n / 1e9),
        "write_and_fdatasync_1mib_ms": sync_ms,
        "first_touch_mb_per_s": n / MB / touch_s,
        "first_touch_us_per_page": touch_s / (n // PAGE_SIZE) * 1e6,
        "mib": mib,
    }


# --------------------------------------------------------------------------------------------
# Reporting.
# --------------------------------------------------------------------------------------------

def summary_of(case: Case, r: dict) -> str:
    if "error" in r:
        return "ERROR " + r["error"][:200]
    flag = "" if r.get("ok") else " (INCOMPLETE)"
    if case.kind in ("produce", "consume"):
        return (f"{r['mb_per_s']:.1f} MB/s {r['msgs_per_s']} msg/s, broker {r['broker_cpu_s']:.2f} "
                f"CPU-s, {r['mb_per_broker_cpu_s']:.0f} MB/CPU-s, busy {r['machine_busy_before']}, "
                f"fresh page {r['fresh_page_us']} µs{flag}")
    return f"p50 {r['p50_ms']:.3f} ms p99 {r['p99_ms']:.3f} ms ({r['samples']} samples){flag}"


def med_range(values: list[float], fmt: str) -> str:
    if not values:
        return "n/a"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def metric_values(case: dict, runs: list[dict]) -> dict[str, list[float]]:
    good = [r for r in runs if r.get("ok")]
    kind = case["kind"]
    if kind in ("produce", "consume"):
        return {
            "mb_per_s": [r["mb_per_s"] for r in good],
            "msgs_per_s": [r["msgs_per_s"] for r in good],
            "mb_per_cpu_s": [r["mb_per_broker_cpu_s"] for r in good],
            "cpu_s": [r["broker_cpu_s"] for r in good],
        }
    return {
        "p50_ms": [r["p50_ms"] for r in good],
        "p99_ms": [r["p99_ms"] for r in good],
    }


def format_cell(kind: str, v: dict[str, list[float]]) -> str:
    if kind in ("produce", "consume"):
        if not v["mb_per_s"]:
            return "failed"
        return (f"{med_range(v['mb_per_s'], '{:.0f}')} MB/s · "
                f"{statistics.median(v['msgs_per_s']) / 1e6:.2f} M rec/s")
    if not v["p50_ms"]:
        return "failed"
    return f"p50 {med_range(v['p50_ms'], '{:.2f}')} · p99 {med_range(v['p99_ms'], '{:.2f}')} ms"


def format_cpu(kind: str, v: dict[str, list[float]]) -> str:
    if kind in ("produce", "consume") and v["mb_per_cpu_s"]:
        return f"{statistics.median(v['cpu_s']):.2f} CPU-s · {statistics.median(v['mb_per_cpu_s']):.0f} MB/CPU-s"
    return ""


def ratio(kind: str, a: dict, b: dict) -> str:
    try:
        if kind in ("produce", "consume"):
            return f"{statistics.median(a['mb_per_s']) / statistics.median(b['mb_per_s']):.2f}×"
        return (f"p50 {statistics.median(b['p50_ms']) / statistics.median(a['p50_ms']):.2f}× · "
                f"p99 {statistics.median(b['p99_ms']) / statistics.median(a['p99_ms']):.2f}×")
    except (statistics.StatisticsError, ZeroDivisionError):
        return "n/a"


def broker_names(results: dict) -> list[str]:
    """The brokers of a run in table order: the first is the one the others are compared to."""
    names = []
    for c in results["cases"]:
        for n in c["runs"]:
            if n not in names:
                names.append(n)
    for n in results.get("startup", {}):
        if not n.startswith("_") and n not in names:
            names.append(n)
    return names


def report(results: dict) -> str:
    lines = []
    cases = results["cases"]
    names = broker_names(results)
    main, peers = names[0], names[1:]
    head = ["case"]
    for n in names:
        head += [n, f"{n} broker CPU"]
    head += [f"{main} ÷ {p}" for p in peers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for c in cases:
        kind = c["case"]["kind"]
        if c.get("skipped"):
            lines.append("| " + " | ".join([c["case"]["name"], f"skipped: {c['skipped']}"]
                                           + [""] * (len(head) - 2)) + " |")
            continue
        values = {n: metric_values(c["case"], c["runs"].get(n, [])) for n in names}
        row = [c["case"]["name"]]
        for n in names:
            row += [format_cell(kind, values[n]), format_cpu(kind, values[n])]
        row += [ratio(kind, values[main], values[p]) for p in peers]
        lines.append("| " + " | ".join(row) + " |")
    failures = []
    for c in cases:
        for n in names:
            errors = [r["error"] for r in c["runs"].get(n, []) if r.get("error")]
            if errors:
                failures.append(f"- {c['case']['name']}, {n}: {len(errors)} failed "
                                f"repetition(s): {errors[0][:300]}")
    if failures:
        lines.append("")
        lines.extend(failures)
    lines.append("")
    lines.append(f"Throughput: median (min–max) over repetitions, MB = 10^6 bytes of record values; "
                 f"{main} ÷ peer is the ratio of the medians for throughput, peer ÷ {main} for "
                 f"latency (> 1 means {main} is better).")

    java = [c for c in cases if c["case"].get("client") == "java" and not c.get("skipped")]
    if java:
        lines.append("")
        lines.append("| Java producer (kafka-producer-perf-test --print-metrics), median of runs | "
                     + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        rows = [
            ("request-latency-avg (ms, send → response, as the client sees it)", "request-latency-avg", "{:.2f}"),
            ("request-latency-max (ms)", "request-latency-max", "{:.0f}"),
            ("request-total", "request-total", "{:.0f}"),
            ("request-size-avg (bytes)", "request-size-avg", "{:.0f}"),
            ("batch-size-avg (bytes)", "batch-size-avg", "{:.0f}"),
            ("records-per-request-avg", "records-per-request-avg", "{:.1f}"),
            ("record-queue-time-avg (ms in the accumulator)", "record-queue-time-avg", "{:.1f}"),
            ("produce-throttle-time-avg (ms)", "produce-throttle-time-avg", "{:.0f}"),
            ("record-retry-total / record-error-total", None, None),
        ]
        for c in java:
            for label, key, fmt in rows:
                cells = []
                for n in names:
                    good = [r for r in c["runs"].get(n, []) if r.get("ok")]
                    if key is None:
                        cells.append(" / ".join(
                            f"{max((r['producer_metrics'].get(k, 0) for r in good), default=0):.0f}"
                            for k in ("record-retry-total", "record-error-total")) if good else "")
                        continue
                    v = [r["producer_metrics"][key] for r in good if key in r["producer_metrics"]]
                    cells.append(fmt.format(statistics.median(v)) if v else "")
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            def med_cells(fn, fmt="{:.2f}"):
                cells = []
                for n in names:
                    v = []
                    for r in c["runs"].get(n, []):
                        if r.get("ok"):
                            try:
                                v.append(fn(r))
                            except (KeyError, ZeroDivisionError, TypeError):
                                pass
                    cells.append(fmt.format(statistics.median(v)) if v else "")
                return " | ".join(cells)

            def per_s(r, key):  # a cumulative total over the tool's own run time
                return r["producer_metrics"][key] / (r["elapsed_ms"] / 1000)

            lines.append("| produce requests per second (request-total ÷ the tool's run time) | "
                         + med_cells(lambda r: per_s(r, "request-total"), "{:.0f}") + " |")
            lines.append("| requests in flight on average (the above × request-latency-avg; the "
                         "producer allows 5) | " + med_cells(
                             lambda r: per_s(r, "request-total")
                             * r["producer_metrics"]["request-latency-avg"] / 1000) + " |")
            lines.append("| sender thread waiting in select (io-wait-time-ns-total ÷ run time) | "
                         + med_cells(lambda r: per_s(r, "io-wait-time-ns-total") / 1e9) + " |")
            lines.append("| main thread blocked in send() on a full buffer "
                         "(bufferpool-wait-time-ns-total ÷ run time) | "
                         + med_cells(lambda r: per_s(r, "bufferpool-wait-time-ns-total") / 1e9)
                         + " |")
            lines.append("| client CPU-s (the whole JVM, start-up included) | "
                         + med_cells(lambda r: r["client_cpu_s"]) + " |")
            for group, label in (("jit", "JIT compiler threads"), ("main", "main thread (makes "
                                 "the records, send())"), ("sender", "sender thread (requests, "
                                 "responses, callbacks)"), ("gc", "garbage collector")):
                lines.append(f"| … of which {label} | "
                             + med_cells(lambda r, g=group: r["client_threads_cpu_s"][g]) + " |")
            on_cpu = med_cells(lambda r: r["broker_threads_cpu_s"]).split(" | ")
            waiting = med_cells(lambda r: r["broker_runqueue_wait_s"]).split(" | ")
            wall = med_cells(lambda r: r["client_wall_s"], "{:.1f}").split(" | ")
            lines.append("| broker threads: CPU-s on a CPU · s waiting for a CPU · wall s of the "
                         "client run (JVM start included) | "
                         + " | ".join(" · ".join(x) if x[0] else "" for x in zip(on_cpu, waiting, wall))
                         + " |")
            lines.append("| broker CPU-µs per produce request | " + med_cells(
                lambda r: r["broker_cpu_s"] / r["producer_metrics"]["request-total"] * 1e6,
                "{:.0f}") + " |")
    if results.get("startup"):
        lines.append("")
        lines.append("| start-up (median of runs) | exec → port accepting | exec → first Metadata answered | own ready line | idle RSS | |")
        lines.append("|---|---|---|---|---|---|")
        for name, samples in results["startup"].items():
            if name.startswith("_"):
                continue
            acc = statistics.median(s["accept_ms"] for s in samples)
            meta = statistics.median(s["metadata_ms"] for s in samples)
            ready = [s["ready_ms"] for s in samples if s.get("ready_ms") is not None]
            rss = statistics.median(s["idle_rss_kib"] for s in samples)
            fmt = [s["format_ms"] for s in samples if s.get("format_ms") is not None]
            lines.append(f"| {name} ({len(samples)} starts) | {acc:.2f} ms | {meta:.2f} ms | "
                         f"{(f'{statistics.median(ready):.2f} ms' if ready else 'n/a')} | {rss / 1024:.1f} MiB |"
                         + (f" storage format before each start (not included): "
                            f"{statistics.median(fmt) / 1000:.2f} s |" if fmt else " |"))
    if results.get("startup", {}).get("_spawn_true_ms") is not None:
        lines.append(f"\nFor scale: spawning `true` and waiting for it takes "
                     f"{results['startup']['_spawn_true_ms']:.2f} ms from this runner; the ready line is "
                     f"the broker's own clock from main() to listening.")
    if results.get("footprint"):
        lines.append("")
        lines.append("| memory | idle RSS | with idle connections | per connection | with partitions | per partition | time to create them | open fds with them |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, f in results["footprint"].items():
            if "error" in f:
                lines.append(f"| {name} | error: {f['error'][:80]} | | | | | | |")
                continue
            lines.append(
                f"| {name} | {f['idle_rss_kib'] / 1024:.1f} MiB | {f['connections']}: "
                f"{f['rss_with_connections_kib'] / 1024:.1f} MiB | {f['kib_per_connection']:.1f} KiB | "
                f"{f['partitions']}: {f['rss_with_partitions_kib'] / 1024:.1f} MiB | "
                f"{f['kib_per_partition']:.1f} KiB | {f['partition_create_s']:.2f} s"
                + (f" (+ {f['settle_s']:.0f} s until its open files stopped changing)"
                   if f.get("settle_s", 0) > 3.5 else "")
                + (f" (only {f['partitions_created']} created: {f['partition_create_errors']} "
                   f"CreateTopics errors)" if f["partition_create_errors"] else "")
                + f" | {f['open_fds']} (limit {f['fd_limit']}) |")
    if results.get("machine"):
        m = results["machine"]
        lines.append("")
        lines.append(f"Machine ceilings (same run, {m['mib']} MiB): fresh page-cache write "
                     f"{m['page_cache_write_mb_per_s']:.0f} MB/s costing "
                     f"{m['page_cache_write_cpu_s_per_gb']:.2f} CPU-s per GB; 1 MiB write + fdatasync "
                     f"{m['write_and_fdatasync_1mib_ms']:.2f} ms; first touch of anonymous memory "
                     f"{m['first_touch_mb_per_s']:.0f} MB/s ({m['first_touch_us_per_page']:.1f} µs per 4 KiB page).")
    return "\n".join(lines)


def targets(results: dict) -> str:
    """The issue's targets, each marked met / not met from this run's medians."""
    by_name = {c["case"]["name"]: c for c in results["cases"]}
    names = broker_names(results)
    main = names[0]
    # The consume target is against Tansu (or whatever peer ran in its place), not Kafka.
    others = [n for n in names[1:] if n != "kafka"]
    peer = others[0] if others else None

    def med(case: str, metric: str, who: str = main) -> float | None:
        c = by_name.get(case)
        if not c or who not in c["runs"]:
            return None
        v = metric_values(c["case"], c["runs"][who]).get(metric, [])
        return statistics.median(v) if v else None

    rows = []

    def row(target: str, measured: str, met: bool | None):
        verdict = "n/a" if met is None else ("met" if met else "**not met**")
        rows.append(f"| {target} | {measured} | {verdict} |")

    mbps = med("produce 1KiB acks=1 p=1", "mb_per_s")
    cpu = med("produce 1KiB acks=1 p=1", "mb_per_cpu_s")
    row("produce 1 KiB acks=1 ≥ 700 MB/s", f"{mbps:.0f} MB/s" if mbps else "n/a", mbps and mbps >= 700)
    row("produce 1 KiB acks=1 ≥ 2 GB per broker-CPU-s", f"{cpu / 1000:.2f} GB/CPU-s" if cpu else "n/a",
        cpu and cpu >= 2000)
    rate = med("produce 100B acks=1 p=1", "msgs_per_s")
    row("produce 100 B within 10% of the client's ceiling (~2.3 M rec/s)",
        f"{rate / 1e6:.2f} M rec/s" if rate else "n/a", rate and rate >= 0.9 * 2.3e6)
    if peer:
        a = med("consume 1KiB p=1", "mb_per_s")
        b = med("consume 1KiB p=1", "mb_per_s", peer)
        row(f"consume 1 KiB ≥ 2× {peer}", f"{a:.0f} vs {b:.0f} MB/s" if a and b else "n/a",
            (a / b >= 2) if a and b else None)
    p50 = med("ack latency 100B @1000/s linger=0", "p50_ms")
    row("ack latency p50 < 0.2 ms", f"{p50:.3f} ms" if p50 else "n/a", None if p50 is None else p50 < 0.2)
    e50 = med("e2e latency 100B @5000/s linger=5", "p50_ms")
    e99 = med("e2e latency 100B @5000/s linger=5", "p99_ms")
    row("end-to-end p50 ≤ 7 ms, p99 ≤ 15 ms",
        f"p50 {e50:.2f} ms, p99 {e99:.2f} ms" if e50 else "n/a",
        None if e50 is None or e99 is None else e50 <= 7 and e99 <= 15)
    fs = med("produce 1KiB acks=all fsync/ack p=1", "mb_per_s")
    row("acks=all + fsync per ack ≥ 150 MB/s", f"{fs:.0f} MB/s" if fs else "n/a", fs and fs >= 150)
    st = results.get("startup", {}).get(main)
    if st:
        ready = [s["ready_ms"] for s in st if s.get("ready_ms") is not None]
        meta = statistics.median(s["metadata_ms"] for s in st)
        r = statistics.median(ready) if ready else None
        row("start-up to the ready line < 10 ms (empty data dir)",
            f"ready line {r:.2f} ms; exec → Metadata answered {meta:.2f} ms" if r else f"{meta:.2f} ms",
            (r if r is not None else meta) < 10)
        rss = statistics.median(s["idle_rss_kib"] for s in st) / 1024
        row("idle RSS < 15 MB", f"{rss:.1f} MiB", rss * 1.048576 < 15)
    fp = results.get("footprint", {}).get(main)
    if fp and "error" not in fp:
        short = fp["partitions_created"] < fp["partitions"]
        row(f"RSS with {fp['partitions']} partitions and per idle partition / connection reported",
            f"{fp['kib_per_partition']:.1f} KiB / {fp['kib_per_connection']:.1f} KiB"
            + (f" (only {fp['partitions_created']} partitions could be created: "
               f"{fp['open_fds']} fds open, limit {fp['fd_limit']})" if short else ""),
            not short)
    return "| target | this run | verdict |\n|---|---|---|\n" + "\n".join(rows)


# --------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vltava", type=Path, help="the vltava binary (release build)")
    ap.add_argument("--perf", type=Path, help="rdkafka_performance")
    ap.add_argument("--tansu", type=Path, help="the Tansu binary: run side by side with it")
    ap.add_argument("--peer-bootstrap", help="side by side with an already running broker host:port")
    ap.add_argument("--no-vltava", action="store_true", help="measure only the peer")
    ap.add_argument("--kafka", action=argparse.BooleanOptionalAction, default=False,
                    help="also run Apache Kafka 4.4.0 (jars from compat-tests/setup.sh kafka); "
                         "e2e.sh turns this on unless given --no-kafka")
    ap.add_argument("--kafka-heap", default="-Xms1g -Xmx1g",
                    help="Kafka's KAFKA_HEAP_OPTS (default: the distribution's, -Xms1g -Xmx1g)")
    ap.add_argument("--java-perf", type=Path,
                    help="kafka-producer-perf-test.sh: runs the Java-producer case (skipped without)")
    ap.add_argument("--warmup-records", type=int, default=200_000,
                    help="1 KiB records of one unmeasured produce run per broker and case "
                         "(0: none)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per case (default 3)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply record counts (e.g. 0.2 for a quick run)")
    ap.add_argument("--cases", help="comma-separated substrings: run only matching cases")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--skip-footprint", action="store_true")
    ap.add_argument("--startup-reps", type=int, default=10)
    ap.add_argument("--partitions-total", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=1_000)
    ap.add_argument("--quiet-wait", type=float, default=10.0,
                    help="seconds to wait for other load to fade before each run")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per client run")
    ap.add_argument("--workdir", type=Path, help="scratch directory (default: a temp dir)")
    ap.add_argument("--json", type=Path, help="write all raw results here")
    ap.add_argument("--report", type=Path, metavar="RESULTS_JSON",
                    help="print the tables of an earlier run's results.json and exit")
    args = ap.parse_args()

    if args.report:
        print(report_text(json.loads(args.report.read_text())))
        return 0

    if args.perf is None or (args.vltava is None and not args.no_vltava):
        ap.error("--perf and --vltava (or --no-vltava) are required to run")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vltava-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    runner = Runner(args, workdir)
    results: dict = {
        "machine": {},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "host": {
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
        },
        "args": {k: str(v) for k, v in vars(args).items()},
        "vltava_version": git_describe(),
        "cases": [],
    }
    results["machine"] = machine_ceilings(workdir, 1024)
    print(f"# machine: {results['machine']}", file=sys.stderr, flush=True)

    cases = all_cases(args.scale)
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",")]
        cases = [c for c in cases if any(w in c.name for w in wanted)]
    for case in cases:
        results["cases"].append(runner.run_case(case))
    if not args.skip_startup:
        results["startup"] = runner.startup()
    if not args.skip_footprint:
        results["footprint"] = runner.footprint()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    print(report_text(results))
    return 0


def report_text(results: dict) -> str:
    h = results["host"]
    return (
        f"Machine: {h['nproc']} CPUs ({h['cpu']}), Linux {h['kernel']}; Vltava "
        f"{results.get('vltava_version', '?')}; run {results['started']} – {results['finished']}, "
        f"{results['args'].get('reps')} repetitions per case.\n\n"
        + report(results) + "\n\n" + targets(results)
    )


def git_describe() -> str:
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
            cwd=Path(__file__).resolve().parent, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
