"""How closely a throttled producer keeps to its quota (issue 12: "a producer over its quota is
slowed to within 10% of the quota"). Starts a broker (VLTAVA_BIN, or --bootstrap for one you
run, e.g. a real Kafka), sets producer_byte_rate for one client id with kafka-configs.sh
(compat-tests/kafka/bin), produces 1 KiB records as fast as the broker lets a confluent-kafka
producer for --seconds, and prints the acknowledged payload rate of the second half of the run
next to the quota, with the throttle times librdkafka reported. Not a pass/fail test.

    ~/.cache/vltava/venv/bin/python benches/quota_throttle.py --quota 102400 --seconds 30
"""
import argparse
import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Producer

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quota", type=int, default=102400)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--bootstrap")
    args = ap.parse_args()
    proc = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        port = free_port()
        data = tempfile.mkdtemp(prefix="vltava-quota-bench-")
        binary = os.environ.get("VLTAVA_BIN", str(ROOT / "target/release/vltava"))
        proc = subprocess.Popen([binary, "serve", "--listeners", f"PLAINTEXT://127.0.0.1:{port}",
                                 "--log-dirs", data], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        bootstrap = f"127.0.0.1:{port}"
        time.sleep(1)
    try:
        client_id = f"bench-{uuid.uuid4().hex[:6]}"
        subprocess.run([str(ROOT / "compat-tests/kafka/bin/kafka-configs.sh"), "--bootstrap-server",
                        bootstrap, "--entity-type", "clients", "--entity-name", client_id,
                        "--alter", "--add-config", f"producer_byte_rate={args.quota}"],
                       check=True, capture_output=True)
        throttles = []
        acked = []  # (time, bytes)
        p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5,
                      "batch.size": 16384, "throttle_cb": lambda e: throttles.append(e.throttle_time)})
        topic = f"quota-bench-{uuid.uuid4().hex[:6]}"
        value = b"v" * 1024
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            try:
                p.produce(topic, value, on_delivery=lambda err, m: err is None and
                          acked.append((time.monotonic(), len(m.value()))))
            except BufferError:
                p.poll(0.05)
            p.poll(0)
        p.flush(60)
        half = start + args.seconds / 2
        late = [b for t, b in acked if half <= t <= start + args.seconds]
        rate = sum(late) / (args.seconds / 2)
        print(f"quota {args.quota} B/s: acknowledged payload {rate:.0f} B/s over the second half "
              f"({rate / args.quota:.1%} of the quota); {len(throttles)} throttle reports, "
              f"max {max(throttles, default=0):.3f} s")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
