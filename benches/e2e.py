#!/usr/bin/env python3
"""End-to-end load benchmark: real client (librdkafka's rdkafka_performance) against a running
broker, optionally side by side with a peer broker, one table row per case.

Run it through ./benches/e2e.sh (which builds everything first); see BENCHMARKS.md for the method.

Every case starts fresh brokers (an empty data directory for Vltava), then for each repetition
creates a fresh topic on each broker in turn (Vltava, peer, Vltava, peer, ... so drift on a noisy
machine hits both alike) and runs the client. It reports the median and the range over the
repetitions, and the broker's CPU-seconds for each run (utime + stime from /proc/<pid>/stat),
so throughput can be normalised to MB per broker-CPU-second.

Only the standard library is used: the few admin requests (CreateTopics, Metadata, ApiVersions)
are encoded here by hand, in their oldest non-flexible versions, which every broker answers.
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
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics)) + b"".join(_str(t) for t in topics)
    r = Reader(conn.request(3, 1, body))
    for _ in range(r.take(">i")):
        r.take(">i")
        r.string()
        r.take(">i")
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
    return out


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


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Broker:
    """A broker process this runner starts and stops."""

    name = "broker"

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

    def prepare(self) -> None:
        """Fresh state before a start (empty data directory)."""

    def start(self) -> dict:
        """Starts the broker; returns start-up timings in ms (exec -> accept -> Metadata)."""
        self.port = free_port()
        self.prepare()
        self.log_path = self.workdir / f"{self.name}-{self.port}.log"
        log = open(self.log_path, "wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                break
            except OSError:
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"{self.name} did not listen within 30 s")
                time.sleep(0.0001)
        t_accept = time.perf_counter()
        sock.close()
        conn = KafkaConn("127.0.0.1", self.port)
        metadata(conn, None)
        t_meta = time.perf_counter()
        conn.close()
        return {"accept_ms": (t_accept - t0) * 1e3, "metadata_ms": (t_meta - t0) * 1e3}

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

    def rss_kib(self) -> int:
        return proc_rss_kib(self.pid)


class Vltava(Broker):
    name = "vltava"

    def __init__(self, workdir: Path, binary: Path, overrides: list[str]):
        super().__init__(workdir)
        self.binary = binary
        self.overrides = overrides
        self.data_dir = workdir / "vltava-data"

    def prepare(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)

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

    def run(self, args: list[str]) -> tuple[str, float]:
        """Runs rdkafka_performance; returns its output and its CPU-seconds. The output is also
        kept in the work directory (client-<n>.txt) for when a run goes wrong."""
        before = os.times()
        p = subprocess.run(
            [str(self.perf), *args], capture_output=True, text=True, timeout=self.timeout_s
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
    vltava_overrides: list[str] = field(default_factory=list)
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
        vltava_overrides=["log.flush.interval.messages=1"],
        note="Vltava: fdatasync before every ack (log.flush.interval.messages=1); "
             "Tansu: memory storage, nothing to sync",
    ))
    cases.append(Case(
        "produce 1KiB acks=all fsync/ack p=6", "produce", 1024, -1, 6, records=n(500_000),
        vltava_overrides=["log.flush.interval.messages=1"],
        note="as above, 6 partitions: group commit across partitions",
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
        overrides = case.vltava_overrides if case else []
        out: list[Broker] = []
        if not self.args.no_vltava:
            out.append(Vltava(self.workdir, self.args.vltava, overrides))
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
        return [
            "-P", "-t", topic, "-b", broker.bootstrap, "-s", str(case.record_bytes),
            "-c", str(count), "-a", str(case.acks), "-X", f"linger.ms={case.linger_ms}",
        ]

    def run_one(self, broker: Broker, case: Case, rep: int) -> dict:
        topic = self.fresh_topic(broker, case.partitions)
        busy = wait_until_quiet(self.args.quiet_wait)
        result: dict = {
            "rep": rep, "topic": topic, "machine_busy_before": round(busy, 3),
            "fresh_page_us": round(fresh_page_cost_us(), 2),
        }
        if case.kind == "produce":
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
        brokers = self.brokers(case)
        print(f"# {case.name}", file=sys.stderr, flush=True)
        runs: dict[str, list[dict]] = {b.name: [] for b in brokers}
        for b in brokers:
            b.start()
        try:
            for rep in range(self.args.reps):
                for b in brokers:
                    try:
                        r = self.run_one(b, case, rep)
                    except Exception as e:  # a failing peer must not sink the whole run
                        r = {"rep": rep, "ok": False, "error": str(e)[:500]}
                    runs[b.name].append(r)
                    print(f"  {b.name} rep {rep}: {summary_of(case, r)}", file=sys.stderr, flush=True)
        finally:
            for b in brokers:
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
                t = b.start()
                t["ready_ms"] = ready_line_ms(b)
                t["idle_rss_kib"] = b.rss_kib()
                b.stop()
                samples.append(t)
            out[b.name] = samples
            print(f"# startup {b.name}: {samples[len(samples) // 2]}", file=sys.stderr, flush=True)
        return out

    def footprint(self) -> dict:
        out = {}
        for b in self.brokers(None):
            if isinstance(b, External):
                continue
            b.start()
            try:
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
    time.sleep(2.0)
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


def report(results: dict) -> str:
    lines = []
    cases = results["cases"]
    names = []
    for c in cases:
        for n in c["runs"]:
            if n not in names:
                names.append(n)
    main, peer = names[0], (names[1] if len(names) > 1 else None)
    head = ["case", main, f"{main} broker CPU"]
    if peer:
        head += [peer, f"{peer} broker CPU", f"{main} advantage"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for c in cases:
        kind = c["case"]["kind"]
        va = metric_values(c["case"], c["runs"][main])
        row = [c["case"]["name"], format_cell(kind, va), format_cpu(kind, va)]
        if peer:
            vb = metric_values(c["case"], c["runs"].get(peer, []))
            row += [format_cell(kind, vb), format_cpu(kind, vb), ratio(kind, va, vb)]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Throughput: median (min–max) over repetitions, MB = 10^6 bytes of record values; "
                 "advantage = Vltava ÷ peer for throughput, peer ÷ Vltava for latency "
                 "(> 1 means Vltava is better).")

    if results.get("startup"):
        lines.append("")
        lines.append("| start-up (median of runs) | exec → port accepting | exec → first Metadata answered | own ready line | idle RSS |")
        lines.append("|---|---|---|---|---|")
        for name, samples in results["startup"].items():
            if name.startswith("_"):
                continue
            acc = statistics.median(s["accept_ms"] for s in samples)
            meta = statistics.median(s["metadata_ms"] for s in samples)
            ready = [s["ready_ms"] for s in samples if s.get("ready_ms") is not None]
            rss = statistics.median(s["idle_rss_kib"] for s in samples)
            lines.append(f"| {name} | {acc:.2f} ms | {meta:.2f} ms | "
                         f"{(f'{statistics.median(ready):.2f} ms' if ready else 'n/a')} | {rss / 1024:.1f} MiB |")
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
    names = []
    for c in results["cases"]:
        for n in c["runs"]:
            if n not in names:
                names.append(n)
    main = names[0]
    peer = names[1] if len(names) > 1 else None

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
