"""Shared pieces of the consumer-group tests: a Java group member as a process the test can watch
and kill -9, the Java Admin program behind kafka-consumer-groups.sh, and a producer of numbered
records.

Records are "v-<i>" with key "<i>", sent to partition i % partitions, so any set of consumed
values can be checked for losses and duplicates by index.
"""
import json
import subprocess
import threading
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def create_topic(broker, name, partitions):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the result
    a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)


def produce_values(broker, topic, start, end, partitions):
    """Produces v-start .. v-(end-1), value i to partition i % partitions; waits for every ack."""
    errors = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(start, end):
        while True:
            try:
                p.produce(topic, key=str(i).encode(), value=f"v-{i}".encode(), partition=i % partitions,
                          on_delivery=lambda err, msg: err and errors.append(str(err)))
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(60) == 0, "records left unacknowledged"
    assert not errors, errors[:5]


def java_jvm(cp: str, main: str, *args) -> list[str]:
    # Small heap, client compiler only: several consumers plus the broker on a 2-core machine,
    # and a JVM that starts fast.
    return ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp, main,
            *map(str, args)]


def group_admin(cp, broker, *args, timeout=120) -> list[dict]:
    """Runs GroupAdmin; returns its JSON lines."""
    cmd = java_jvm(cp, "GroupAdmin", broker.bootstrap, *args)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f"GroupAdmin {args} exited {res.returncode}\n{res.stdout}\n{res.stderr[-3000:]}"
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


class JavaMember:
    """One GroupConsumer process: its events (with arrival times) and the records it wrote."""

    def __init__(self, cp, broker, topic, group, name, workdir: Path, *props):
        self.name = name
        self.out = workdir / f"{name}.records"
        self.stop_file = Path(str(self.out) + ".stop")
        self.stop_file.unlink(missing_ok=True)
        self.events: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.err_log = workdir / f"{name}.stderr"
        cmd = java_jvm(cp, "GroupConsumer", broker.bootstrap, topic, group, name, self.out, *props)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.err_log, "ab"),
                                     text=True, stdin=subprocess.DEVNULL)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.lock:
                self.events.append((time.monotonic(), line.strip()))

    def lines(self, prefix) -> list[tuple[float, str]]:
        with self.lock:
            return [(t, e[len(prefix):].strip()) for t, e in self.events if e.startswith(prefix)]

    def owned(self) -> set[int] | None:
        """Partitions owned after the last rebalance callback (None before the first)."""
        owned = self.lines("OWNED")
        if not owned:
            return None
        text = owned[-1][1]
        return {int(p) for p in text.split(",")} if text else set()

    def first_join_ms(self) -> int | None:
        v = self.lines("FIRST_JOIN_MS")
        return int(v[0][1]) if v else None

    def generations(self) -> list[int]:
        return [int(e.split()[0]) for _, e in self.lines("ASSIGNED")]

    def records(self) -> list[tuple[int, int, str]]:
        if not self.out.exists():
            return []
        out = []
        for line in self.out.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) == 3:
                out.append((int(parts[0]), int(parts[1]), parts[2]))
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout=60):
        """Clean close: the consumer leaves the group."""
        if not self.alive():
            return
        self.stop_file.touch()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{self.name} did not stop within {timeout}s\n{self.describe()}")
        assert self.lines("CLOSED"), f"{self.name} exited without closing\n{self.describe()}"

    def describe(self) -> str:
        with self.lock:
            events = "\n".join(f"  {e}" for _, e in self.events[-40:])
        err = self.err_log.read_text()[-3000:] if self.err_log.exists() else ""
        return f"--- {self.name} events:\n{events}\n--- {self.name} stderr (tail):\n{err}"


def wait_until(cond, timeout, what, members=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        for m in members:
            if not m.alive() and m.proc.returncode not in (0, -9):
                raise AssertionError(f"{m.name} died ({m.proc.returncode}) waiting for {what}\n{m.describe()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n"
                         + "\n".join(m.describe() for m in members))


def assignment_complete(members, partitions: int, idle_allowed=0) -> bool:
    """True when the members' owned partitions are disjoint and cover 0..partitions-1."""
    owned = [m.owned() for m in members]
    if any(o is None for o in owned):
        return False
    union = set()
    for o in owned:
        if union & o:
            return False
        union |= o
    empty = sum(1 for o in owned if not o)
    return union == set(range(partitions)) and empty <= idle_allowed


def consumed_values(members) -> dict[int, int]:
    """index -> how many times any member wrote it."""
    seen: dict[int, int] = {}
    for m in members:
        for _, _, v in m.records():
            i = int(v.split("-")[1])
            seen[i] = seen.get(i, 0) + 1
    return seen
