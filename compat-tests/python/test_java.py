"""Java kafka-clients 4.4.0 from Maven Central (what every kafka-*.sh tool is built on), via the programs in
compat-tests/java. setup.sh fetches the jars and compiles the programs; the session fixture
runs it (a no-op when nothing changed)."""
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import COMPAT_DIR, unique_topic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
ROUNDTRIP_COUNT = int(os.environ.get("COMPAT_ROUNDTRIP_COUNT", "100000"))
KILL_COUNT = int(os.environ.get("COMPAT_KILL_COUNT", "300000"))


@pytest.fixture(scope="session")
def java_cp() -> str:
    if shutil.which("java") is None:
        pytest.fail("java not found (Java 17 is required; setup.sh installs it)")
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "java"], capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        pytest.fail(f"setup.sh java failed:\n{res.stdout}\n{res.stderr}")
    return (COMPAT_DIR / "java" / "build" / "classpath").read_text().strip()


def java_cmd(cp: str, main: str, *args) -> list[str]:
    # A modest fixed heap keeps two JVMs plus the broker comfortable on a small CI machine.
    return ["java", "-Xmx1g", "-cp", cp, main, *map(str, args)]


def run_java(cp, main, *args, timeout=300) -> str:
    cmd = java_cmd(cp, main, *args)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{main} did not finish in {timeout}s\nstdout:\n{e.stdout}\n"
                             f"stderr (tail):\n{(e.stderr or '')[-4000:]}") from None
    print(res.stdout)
    assert res.returncode == 0, (f"{main} exited {res.returncode}\nstdout:\n{res.stdout}\n"
                                 f"stderr (tail):\n{res.stderr[-4000:]}")
    return res.stdout


@pytest.mark.slow
@pytest.mark.parametrize("codec", CODECS)
def test_java_roundtrip(broker, java_cp, codec):
    topic = unique_topic(f"java-rt-{codec}")
    out = run_java(java_cp, "RoundTrip", broker.bootstrap, topic, codec, ROUNDTRIP_COUNT, 3)
    assert "RoundTrip OK" in out


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_java_kill9_idempotent_producer(broker_factory, java_cp, tmp_path):
    """kill -9 the broker under a sustained idempotent producer, restart it on the same port and
    data dir: every acknowledged record must be there exactly once, offsets without gaps."""
    broker = broker_factory("kill9-data")  # on disk, not --memory: durability is the point
    topic = unique_topic("java-kill9")
    ack_file = tmp_path / "acks.txt"
    # Paced so the kill lands mid-stream: ~6 s of producing at 50k records/s.
    rate = 50_000
    prod = subprocess.Popen(
        java_cmd(java_cp, "KillProducer", broker.bootstrap, topic, KILL_COUNT, ack_file, 3, rate),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    out_chunks, err_chunks = [], []
    # Drain both pipes so the producer never blocks on a full pipe while it retries noisily.
    threading.Thread(target=lambda: out_chunks.append(prod.stdout.read()), daemon=True).start()
    threading.Thread(target=lambda: err_chunks.append(prod.stderr.read()), daemon=True).start()
    try:
        # Kill once a real amount of data is acknowledged (and ~2 s in), not before the first ack.
        deadline = time.monotonic() + 60
        started = None
        while time.monotonic() < deadline:
            if prod.poll() is not None:
                break
            n = count_lines(ack_file)
            if n > 0 and started is None:
                started = time.monotonic()
            if started is not None and n >= KILL_COUNT // 10 and time.monotonic() - started >= 2:
                break
            time.sleep(0.05)
        acked_at_kill = count_lines(ack_file)
        assert prod.poll() is None, (
            f"producer ended before the kill (exit {prod.returncode}, {acked_at_kill} acked)")
        assert acked_at_kill > 0, "no record was acknowledged within 60 s"
        broker.kill()
        time.sleep(1.0)  # let the producer notice and start retrying
        broker.start()
        try:
            prod.wait(timeout=300)
        except subprocess.TimeoutExpired:
            prod.kill()
            prod.wait(10)
            raise AssertionError(f"producer did not finish within 300 s after the restart; "
                                 f"{count_lines(ack_file)}/{KILL_COUNT} acked")
    finally:
        if prod.poll() is None:
            prod.kill()
            prod.wait(10)
    time.sleep(0.2)  # let the drain threads finish
    out, err = "".join(out_chunks), "".join(err_chunks)
    # Shown with -s (or on failure): evidence that the producer really saw the broker go away.
    warnings = [l for l in err.splitlines() if " WARN " in l or " ERROR " in l]
    print(f"acked before the kill: {acked_at_kill}\n{out}producer warnings: {len(warnings)}\n"
          + "\n".join(warnings[:10]))
    assert prod.returncode == 0, (f"KillProducer exited {prod.returncode} "
                                  f"(acked {acked_at_kill} before the kill)\n{out}\n"
                                  f"stderr (tail):\n{err[-4000:]}")
    verify = run_java(java_cp, "Verify", broker.bootstrap, topic, ack_file, KILL_COUNT)
    assert "Verify OK" in verify

    # And once more after a clean SIGTERM restart: recovery from a cleanly closed log must agree.
    broker.restart()
    verify = run_java(java_cp, "Verify", broker.bootstrap, topic, ack_file, KILL_COUNT)
    assert "Verify OK" in verify
