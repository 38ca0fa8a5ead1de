"""The web console (`src/console/`, on `vltava.http.listener`) end to end in headless Chromium.

confluent-kafka creates a topic, produces JSON records with keys and headers, and commits a
group's offset part-way; compat-tests/node/console_e2e.js (playwright-core driving Debian's
chromium) then checks the overview, topics, message browser, produce and groups pages and saves
a screenshot of each under target/console-screenshots/; finally a confluent-kafka consumer reads
the record produced through the console.
"""
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import COMPAT_DIR, free_port, unique_topic

NODE = shutil.which("node")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# setup.sh installs playwright-core with kafkajs, outside the repository.
NODE_MODULES = Path(os.environ.get("VLTAVA_CACHE", Path.home() / ".cache" / "vltava")) / "node" / "node_modules"
SCREENSHOTS = COMPAT_DIR.parent / "target" / "console-screenshots"
MESSAGES = 10
COMMITTED = 4
MEMBER_CLIENT_ID = "console-e2e-member"


@pytest.fixture(scope="module", autouse=True)
def browser_installed():
    if NODE is None or not (NODE_MODULES / "playwright-core" / "package.json").exists():
        pytest.fail("playwright-core is not installed: run `compat-tests/setup.sh node`")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `compat-tests/setup.sh node` (installs Debian's chromium)")


def test_console_pages_in_a_browser(broker_factory):
    http_port = free_port()
    b = broker_factory(overrides={"vltava.http.listener": f"127.0.0.1:{http_port}"})
    topic = unique_topic("console")
    group = unique_topic("console-readers")

    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    p = Producer({"bootstrap.servers": b.bootstrap, "compression.type": "lz4", "linger.ms": 50})
    for i in range(MESSAGES):
        p.produce(topic, key=f"key-{i}", value=json.dumps({"n": i, "tags": ["a", "b"]}),
                  headers=[("source", b"python")])
    assert p.flush(30) == 0

    # A group that has read part of the topic: committed offset 4, so lag 6 (7 after the
    # console's own record), with one member that has partition 0 assigned.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, COMMITTED)], asynchronous=False)
    c.close()
    # A member of the group, subscribed and polling (never committing) while the browser looks.
    member = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                       "client.id": MEMBER_CLIENT_ID, "enable.auto.commit": False})
    member.subscribe([topic])
    stop = threading.Event()
    deadline = time.monotonic() + 30
    while not member.assignment() and time.monotonic() < deadline:
        member.poll(0.2)
    assert member.assignment(), "the group member got no assignment"

    def keep_polling():
        while not stop.is_set():
            member.poll(0.2)

    poller = threading.Thread(target=keep_polling, daemon=True)
    poller.start()
    env = dict(os.environ, NODE_PATH=str(NODE_MODULES), CONSOLE_URL=f"http://127.0.0.1:{http_port}",
               TOPIC=topic, GROUP=group, MESSAGES=str(MESSAGES), COMMITTED=str(COMMITTED),
               MEMBER_CLIENT_ID=MEMBER_CLIENT_ID, SCREENSHOTS=str(SCREENSHOTS), CHROMIUM=CHROMIUM)
    try:
        run = subprocess.run([NODE, str(COMPAT_DIR / "node" / "console_e2e.js")], env=env,
                             capture_output=True, text=True, timeout=180)
    finally:
        stop.set()
        poller.join(10)
        member.close()
    assert run.returncode == 0, f"browser test failed:\n{run.stdout}\n{run.stderr}"
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    shots = [line["screenshot"] for line in lines if "screenshot" in line]
    assert lines[-1].get("done") is True
    for shot in shots:
        assert Path(shot).stat().st_size > 0
        print(f"console screenshot: {shot}")

    # The record produced through the console, as a real consumer reads it.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "console-check",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, MESSAGES)])
    msg = c.poll(15)
    c.close()
    assert msg is not None and msg.error() is None
    assert (msg.offset(), msg.key(), msg.value()) == (MESSAGES, b"from-console", b'{"console": true}')
    assert msg.headers() == [("origin", b"browser")]
