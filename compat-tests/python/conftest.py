"""Shared fixtures: every test gets its own Vltava broker on a free port with a fresh data dir.

The broker binary comes from $VLTAVA_BIN, default ../../target/release/vltava relative to this
file (run.sh builds it). A fresh broker per test keeps failures from leaking into later tests; the
broker starts in milliseconds, so this costs little.
"""
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
COMPAT_DIR = HERE.parent
DEFAULT_BIN = (HERE / "../../target/release/vltava").resolve()
READY_TEXT = "broker ready"
START_TIMEOUT = 30.0


def vltava_bin() -> Path:
    return Path(os.environ.get("VLTAVA_BIN", str(DEFAULT_BIN)))


def free_port() -> int:
    # Bind to port 0 and release it: the kernel hands out ports incrementally, so the tiny window
    # before the broker binds it is not a practical race on a test machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Broker:
    """One broker process. Can be killed (-9) and restarted on the same port and data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, memory: bool = False,
                 overrides: dict | None = None, listeners: list[str] | None = None):
        """`listeners`: names of listeners to add after the PLAINTEXT one (which readiness and
        `bootstrap` use), each on its own free port: `listeners=["SSL", "CLIENT"]` (a custom
        name needs `listener.security.protocol.map` in `overrides`); see `bootstrap_of`."""
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.listener_ports = {name: free_port() for name in (listeners or [])}
        self.memory = memory
        self.overrides = dict(overrides or {})
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-broker.log"
        self._log_lines: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.starts = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def bootstrap_of(self, listener: str) -> str:
        """The address of an extra listener (see `listeners` in the constructor)."""
        return f"127.0.0.1:{self.listener_ports[listener]}"

    def command(self) -> list[str]:
        listeners = ",".join([f"PLAINTEXT://127.0.0.1:{self.port}"] +
                             [f"{n}://127.0.0.1:{p}" for n, p in self.listener_ports.items()])
        cmd = [str(vltava_bin()), "serve",
               "--listeners", listeners,
               "--log-dirs", str(self.data_dir)]
        if self.memory:
            cmd.append("--memory")
        for k, v in self.overrides.items():
            cmd += ["--override", f"{k}={v}"]
        return cmd

    def start(self, timeout: float = START_TIMEOUT) -> "Broker":
        binary = vltava_bin()
        if not binary.exists():
            pytest.fail(f"broker binary {binary} not found: build it with `cargo build --release` "
                        f"in the repository root, or set VLTAVA_BIN")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._ready.clear()
        self.starts += 1
        with self._lock:
            self._log_lines.append(f"===== start #{self.starts}: {' '.join(self.command())}\n")
        # The broker reads VLTAVA_* environment variables as settings (VLTAVA_LOG_DIRS ->
        # log.dirs), so the suite's own VLTAVA_BIN must not leak into it; VLTAVA_LOG (the log
        # filter) is worth passing through for debugging.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("VLTAVA_") or k == "VLTAVA_LOG"}
        env["NO_COLOR"] = "1"
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env)
        # Drain the broker's output continuously (a full pipe would stall the broker) and watch
        # for the readiness line.
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the pump collect the last words
                pytest.fail(f"broker exited with status {self.proc.returncode} before "
                            f"'{READY_TEXT}'\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"broker did not print '{READY_TEXT}' within {timeout}s\n{self.log_tail()}")
        # Ready must mean accepting connections.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        return self

    def _pump(self, proc: subprocess.Popen):
        with open(self.log_path, "a", encoding="utf-8", errors="replace") as f:
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace")
                f.write(line)
                f.flush()
                with self._lock:
                    self._log_lines.append(line)
                if READY_TEXT in line:
                    self._ready.set()

    def log_tail(self, n: int = 60) -> str:
        with self._lock:
            lines = self._log_lines[-n:]
        return "----- broker log (last %d lines, full log %s) -----\n%s" % (
            len(lines), self.log_path, "".join(lines))

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """kill -9: no chance to flush or clean up."""
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                with self._lock:
                    self._log_lines.append(f"===== did not exit within {timeout}s of SIGTERM; killed\n")
        return self.proc.returncode

    def restart(self):
        self.stop()
        self.start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Attach the broker's log to failed tests: most failures are only explainable with it.
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_vltava_brokers", []):
            if b.starts == 0:
                continue
            rep.sections.append((f"vltava broker log ({b.bootstrap})", b.log_tail(200)))


@pytest.fixture
def broker_factory(request, tmp_path):
    """Start brokers with custom settings: broker_factory(memory=..., overrides={...})."""
    brokers: list[Broker] = []
    request.node._vltava_brokers = brokers

    def make(name: str = "data", **kwargs) -> Broker:
        b = Broker(tmp_path / name, **kwargs)
        brokers.append(b)
        return b.start()

    yield make
    for b in brokers:
        b.stop()


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


@pytest.fixture
def topic(request) -> str:
    return unique_topic(request.node.originalname.replace("_", "-")[:40])


@pytest.fixture(scope="session")
def real_kafka(tmp_path_factory):
    """A real Apache Kafka 4.4.0 broker (python/real_kafka.py: RealKafka, with .bootstrap,
    .log_path, .start(), .stop()), one per session, started the first time a test asks for it
    (~3-5 s) and stopped when the session ends. Tests share it: use unique topic and group names."""
    from real_kafka import TEST_OVERRIDES, RealKafka
    k = RealKafka(tmp_path_factory.mktemp("real-kafka"), overrides=TEST_OVERRIDES)
    try:
        k.start()
    except RuntimeError as e:
        pytest.fail(f"real Kafka did not start: {e}")
    yield k
    k.stop()
