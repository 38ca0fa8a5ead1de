"""A real Apache Kafka 4.4.0 broker for the tests to compare against.

    from real_kafka import RealKafka
    k = RealKafka(some_empty_dir)   # nothing runs yet
    k.start()                       # format storage, start kafka.Kafka, wait for a Metadata answer
    k.bootstrap                     # "127.0.0.1:<port>"
    k.log_path                      # the broker's own log (stdout + stderr)
    k.stop()                        # SIGTERM (controlled shutdown), SIGKILL after 30 s

In pytest, ask for the session-scoped fixture `real_kafka` (conftest.py) instead: it starts one
broker the first time a test asks for it and stops it when the session ends; tests that do not
ask never pay for it.

One KRaft node in combined mode (broker + controller), formatted with `kafka-storage.sh format
--standalone`, listening on free ports of 127.0.0.1 only, with settings for one node (internal
topics with replication factor 1) and `group.initial.rebalance.delay.ms=0`, as Vltava defaults
to. The jars come from `compat-tests/setup.sh kafka` (Maven Central, cached under
~/.cache/vltava/kafka-4.4.0/libs); the JVM runs through compat-tests/kafka/bin/, exactly as the
wrappers run it. Measured on the 2-core test machine: see README ("Apache Kafka as the yardstick").
"""
import base64
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

COMPAT_DIR = Path(__file__).resolve().parent.parent
KAFKA_BIN = COMPAT_DIR / "kafka" / "bin"
KAFKA_VERSION = "4.4.0"

# What the test suite's Kafka (conftest's session fixture `real_kafka`) sets on top of
# RealKafka.settings(): timed-out transactions are looked for every second instead of Kafka's
# default 10 s, so a scenario can wait for one to be aborted (the oracle's transactions/timeout
# case; test_oracle gives every Vltava the same value). The benchmarks do not use it.
TEST_OVERRIDES = {"transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metadata_brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """One Metadata v1 request (no topics) on a fresh connection; returns the broker list
    [(node_id, host, port)]. Raises OSError/ValueError when nothing sensible comes back."""
    client_id = b"real-kafka-probe"
    # Request header v1: api_key 3 (Metadata), version 1, correlation id, client id; body: an
    # empty topic array (0 topics: brokers only).
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(s, 4))[0]
        resp = _recv_exact(s, size)
    corr, n = struct.unpack_from(">ii", resp, 0)
    if corr != 7:
        raise ValueError(f"correlation id {corr} in the Metadata response, sent 7")
    pos, brokers = 8, []
    for _ in range(n):
        node, hlen = struct.unpack_from(">ih", resp, pos)
        pos += 6
        bhost = resp[pos:pos + hlen].decode()
        pos += hlen
        bport, rlen = struct.unpack_from(">ih", resp, pos)
        pos += 6 + max(rlen, 0)
        brokers.append((node, bhost, bport))
    return brokers


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        buf += chunk
    return buf


def _cluster_id() -> str:
    # 16 random bytes, URL-safe base64 without padding, as Kafka's own; like Kafka, never one that
    # starts with '-' (a command line would read it as an option).
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class RealKafka:
    """One Kafka 4.4.0 KRaft node (broker + controller) in `work_dir`. See the module docstring."""

    def __init__(self, work_dir: Path, heap: str = "-Xmx512m -Xms512m",
                 overrides: dict | None = None):
        self.work_dir = Path(work_dir)
        self.heap = heap
        self.overrides = dict(overrides or {})
        self.port = _free_port()
        self.controller_port = _free_port()
        self.data_dir = self.work_dir / "data"
        self.config_path = self.work_dir / "server.properties"
        self.log_path = self.work_dir / "kafka.log"
        self.cluster_id = _cluster_id()
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None  # JVM start to first Metadata answer

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def settings(self) -> dict:
        s = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        s.update(self.overrides)
        return s

    def _env(self) -> dict:
        env = dict(os.environ)
        env["KAFKA_HEAP_OPTS"] = self.heap
        return env

    def _run_tool(self, script: str, *args, timeout: float = 120) -> str:
        res = subprocess.run([str(KAFKA_BIN / script), *map(str, args)], capture_output=True,
                             text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=self._env())
        if res.returncode != 0:
            raise RuntimeError(f"{script} {' '.join(map(str, args))} exited {res.returncode}\n"
                               f"{res.stdout}\n{res.stderr}")
        return res.stdout

    def ensure_jars(self):
        res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "kafka"], capture_output=True,
                             text=True, timeout=1800, stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise RuntimeError(f"setup.sh kafka failed:\n{res.stdout}\n{res.stderr}")

    def start(self, timeout: float = 120.0) -> "RealKafka":
        self.ensure_jars()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in self.settings().items()))
        if not (self.data_dir / "meta.properties").exists():
            self._run_tool("kafka-storage.sh", "format", "--standalone", "-t", self.cluster_id,
                           "-c", self.config_path)
        log = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([str(KAFKA_BIN / "kafka-server-start.sh"), str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=self._env(), start_new_session=True)
        log.close()
        deadline = t0 + timeout
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Kafka exited with status {self.proc.returncode} while starting\n"
                                   f"{self.log_tail()}")
            try:
                brokers = metadata_brokers("127.0.0.1", self.port)
                if any(p == self.port for _, _, p in brokers):
                    self.startup_seconds = time.monotonic() - t0
                    return self
                last_err = f"broker list {brokers}"
            except (OSError, ValueError, struct.error) as e:
                last_err = repr(e)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Kafka did not answer Metadata within {timeout}s ({last_err})\n{self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self) -> int | None:
        """Resident memory of the broker's JVM (VmRSS), or None when it is not running."""
        if not self.running():
            return None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (Kafka's controlled shutdown), SIGKILL if it takes longer than `timeout`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-n:]
        except FileNotFoundError:
            lines = []
        return f"----- Kafka log (last {len(lines)} lines, full log {self.log_path}) -----\n" + "\n".join(lines)


if __name__ == "__main__":
    # python3 real_kafka.py: start one, print start-up time and idle RSS, stop it.
    import tempfile
    with tempfile.TemporaryDirectory(prefix="real-kafka-") as d:
        k = RealKafka(Path(d))
        t = time.monotonic()
        k.start()
        print(f"bootstrap {k.bootstrap}; JVM start to first Metadata answer {k.startup_seconds:.2f}s "
              f"(format + start {time.monotonic() - t:.2f}s)")
        for wait in (5, 15):
            time.sleep(wait)
            print(f"idle RSS after +{wait}s: {k.rss_kib() / 1024:.0f} MiB")
        t = time.monotonic()
        status = k.stop()
        print(f"stopped with status {status} in {time.monotonic() - t:.2f}s")
