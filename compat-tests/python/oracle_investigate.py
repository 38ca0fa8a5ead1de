"""Investigations with the differential oracle: questions whose answer is a behaviour over time or
a client's reaction, not one response. Each starts its own real Kafka 4.4.0 (RealKafka) and Vltava
($VLTAVA_BIN), runs the same thing against both and prints what each did.

    python3 oracle_investigate.py delete-records-missing-topic
    python3 oracle_investigate.py static-member-expiry
    python3 oracle_investigate.py all

Not part of the test run (they take tens of seconds and their output is read, not asserted).
"""
from __future__ import annotations

import collections
import json
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from conftest import COMPAT_DIR, Broker, free_port
from oracle_support import OracleClient, mask
from real_kafka import RealKafka

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 10: "FindCoordinator",
             18: "ApiVersions", 19: "CreateTopics", 21: "DeleteRecords", 32: "DescribeConfigs",
             60: "DescribeCluster", 75: "DescribeTopicPartitions"}


class CountingProxy:
    """A TCP proxy in front of a broker that counts requests by (api key, version). The broker
    behind it advertises the proxy's port, so a client's every connection passes through it."""

    def __init__(self, port: int, target: tuple[str, int]):
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[float, int, int]] = []
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target)
            except OSError:  # the broker is not up yet: the client sees a closed connection
                c.close()
                continue
            sent: collections.deque = collections.deque()
            threading.Thread(target=self._client_to_broker, args=(c, u, sent), daemon=True).start()
            threading.Thread(target=self._broker_to_client, args=(u, c, sent), daemon=True).start()

    def _client_to_broker(self, c: socket.socket, u: socket.socket, sent: collections.deque):
        buf = b""
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                u.sendall(data)
                buf += data
                while len(buf) >= 8:
                    size = struct.unpack(">i", buf[:4])[0]
                    if len(buf) < 4 + size:
                        break
                    key, ver = struct.unpack(">hh", buf[4:8])
                    now = time.monotonic()
                    with self.lock:
                        self.requests.append((now, key, ver))
                    sent.append(now)
                    buf = buf[4 + size:]
        except OSError:
            pass
        finally:
            for s in (c, u):
                try:
                    s.close()
                except OSError:
                    pass

    def _broker_to_client(self, a: socket.socket, b: socket.socket, sent: collections.deque):
        """Responses come in request order on a connection: each one closes the oldest request."""
        buf = b""
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
                buf += data
                while len(buf) >= 4:
                    size = struct.unpack(">i", buf[:4])[0]
                    if len(buf) < 4 + size:
                        break
                    buf = buf[4 + size:]
                    if sent:
                        with self.lock:
                            self.latencies.append(time.monotonic() - sent.popleft())
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def timing(self, since: float) -> str:
        """Median / 90th percentile of the gap between requests and of the broker's answer time."""
        with self.lock:
            times = [t for t, _, _ in self.requests if t >= since]
            lat = sorted(self.latencies[-len(times):]) if times else []
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        if not gaps or not lat:
            return "no requests"
        q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))] * 1000
        return (f"gap between requests median {q(gaps, .5):.2f} ms (p90 {q(gaps, .9):.2f}); "
                f"broker answer time median {q(lat, .5):.2f} ms (p90 {q(lat, .9):.2f})")

    def counts(self) -> collections.Counter:
        with self.lock:
            return collections.Counter((API_NAMES.get(k, str(k)), v) for _, k, v in self.requests)

    def close(self):
        self.closed = True
        self.sock.close()


class ProxiedKafka(RealKafka):
    """RealKafka listening on a port of its own and advertising `self.port`, where a
    CountingProxy forwards to it."""

    def __init__(self, work_dir: Path, **kw):
        super().__init__(work_dir, **kw)
        self.listen_port = free_port()

    def settings(self) -> dict:
        s = super().settings()
        s["listeners"] = s["listeners"].replace(f":{self.port},", f":{self.listen_port},")
        return s


def kafka_tool(script: str, *args, timeout: float) -> tuple[int | None, str, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen([str(COMPAT_DIR / "kafka" / "bin" / script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        rc = None
    return rc, out, time.monotonic() - t0


def delete_records_missing_topic(kafka: RealKafka, vltava: Broker, oracle: OracleClient,
                                 proxies: dict):
    """Investigation (c): kafka-delete-records.sh (Admin.deleteRecords) for a topic that does not
    exist. Counts the requests the tool sends to each broker in its first seconds and shows the
    Metadata / DeleteRecords answers each broker gives to the requests it makes."""
    print("== (c) kafka-delete-records.sh for a topic that does not exist")
    topic = f"missing-ox{uuid.uuid4().hex[:8]}"
    spec = Path(tempfile.mkdtemp()) / "offsets.json"
    spec.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "offset": 1}]}))
    for name, proxy in proxies.items():
        before = proxy.counts()
        since = time.monotonic()
        rc, out, took = kafka_tool("kafka-delete-records.sh", "--bootstrap-server",
                                   f"127.0.0.1:{proxy.port}", "--offset-json-file", str(spec),
                                   timeout=15)
        counts = proxy.counts() - before
        total = sum(counts.values())
        print(f"-- {name}: exit {rc if rc is not None else 'none (killed after 15 s)'} after "
              f"{took:.1f}s; {total} requests, {total / took:.0f}/s: "
              + ", ".join(f"{api} v{v}: {n}" for (api, v), n in counts.most_common()))
        print("   " + proxy.timing(since))
        print("   output: " + " | ".join(out.strip().splitlines()[-3:])[:500])
    # The answers themselves, for the requests Admin makes (Metadata v13 by name, auto-create off).
    steps = [{"id": "metadata", "api": "Metadata", "version": 13,
              "request": {"topics": [{"name": topic}], "allowAutoTopicCreation": False}},
             {"id": "delete-records", "api": "DeleteRecords", "version": 2,
              "request": {"topics": [{"name": topic, "partitions": [{"partitionIndex": 0, "offset": 1}]}],
                          "timeoutMs": 30000}}]
    uid = topic.split("-", 1)[1]
    for name, bootstrap in (("kafka", kafka.bootstrap), ("vltava", vltava.bootstrap)):
        res = mask(oracle.run(bootstrap, {"uid": uid}, steps), {"uid": uid}, [])
        for r in res:
            print(f"   {name} {r['step']}: {json.dumps(r.get('response', r))[:700]}")


def static_member_expiry(kafka: RealKafka, vltava: Broker, oracle: OracleClient):
    """Investigation (b): two static members (session timeout 5 s) whose last heartbeats are 150 ms
    apart stop heartbeating without leaving: when does each broker remove each of them?"""
    print("== (b) static members, session timeout 5 s, last heartbeats 150 ms apart, no LeaveGroup")
    join = {"api": "JoinGroup", "version": 9, "request": {
        "groupId": "${group}", "sessionTimeoutMs": 5000, "rebalanceTimeoutMs": 10000, "memberId": "",
        "protocolType": "consumer", "protocols": [{"name": "range", "metadata": "AAEAAAAA"}]}}

    def j(**kw):
        step = json.loads(json.dumps(join))
        step["request"].update({k: v for k, v in kw.items() if k in ("memberId", "groupInstanceId")})
        step.update({k: v for k, v in kw.items() if k not in ("memberId", "groupInstanceId")})
        return step

    sync = lambda who, conn, gen, assignments: {
        "id": f"{who}-sync", "api": "SyncGroup", "version": 5, "conn": conn, "request": {
            "groupId": "${group}", "generationId": gen, "memberId": "${" + who + "}",
            "groupInstanceId": who, "protocolType": "consumer", "protocolName": "range",
            "assignments": assignments}}
    hb = lambda who, conn: {"id": f"{who}-last-heartbeat", "api": "Heartbeat", "version": 4,
                            "conn": conn, "timed": True, "request": {
                                "groupId": "${group}", "generationId": "${gen2}",
                                "memberId": "${" + who + "}", "groupInstanceId": who}}
    steps = [
        # A fresh Kafka answers NOT_COORDINATOR until __consumer_offsets exists.
        {"id": "find", "api": "FindCoordinator", "version": 4, "record": False,
         "request": {"keyType": 0, "coordinatorKeys": ["${group}"]},
         "until": {"/response/coordinators/0/errorCode": 0}, "untilTimeoutMs": 60000},
        # ... and NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS a little longer for group requests.
        j(id="a-join", conn="a", groupInstanceId="a", capture={"a": "/response/memberId", "gen1": "/response/generationId"},
          until={"/response/errorCode": 0}, untilTimeoutMs=60000),
        sync("a", "a", "${gen1}", [{"memberId": "${a}", "assignment": "AAEAAAAAAAAAAA=="}]),
        {"sleep": 150},
        j(id="b-join", conn="b", groupInstanceId="b", **{"async": True}),
        {"sleep": 300},
        j(id="a-rejoin", conn="a", groupInstanceId="a", memberId="${a}", capture={"gen2": "/response/generationId"}),
        {"await": "b-join", "capture": {"b": "/response/memberId"}},
        {"id": "b-sync", "api": "SyncGroup", "version": 5, "conn": "b", "async": True, "request": {
            "groupId": "${group}", "generationId": "${gen2}", "memberId": "${b}", "groupInstanceId": "b",
            "protocolType": "consumer", "protocolName": "range", "assignments": []}},
        sync("a", "a", "${gen2}", [{"memberId": "${a}", "assignment": "AAEAAAAAAAAAAA=="},
                                   {"memberId": "${b}", "assignment": "AAEAAAAAAAAAAQ=="}]),
        {"await": "b-sync"},
        hb("a", "a"),
        {"sleep": 150},
        hb("b", "b"),
        {"close": "a"}, {"close": "b"},
        {"id": "watch", "api": "DescribeGroups", "version": 5, "conn": "watch",
         "request": {"groups": ["${group}"]}, "observeForMs": 16000, "observeEveryMs": 50},
    ]
    print("   (1) both in the group, each heartbeats once more, 150 ms apart, then both go silent")
    show_timelines(kafka, vltava, oracle, steps, ("a-last-heartbeat", "b-last-heartbeat"))
    # (2) b joins 150 ms after a; the rebalance it starts never completes by itself because a
    # goes silent at once (no rejoin), and b goes silent while its JoinGroup waits.
    steps2 = json.loads(json.dumps(steps[:3])) + [
        {"sleep": 150},
        j(id="b-join", conn="b", groupInstanceId="b", timed=True, **{"async": True}),
        {"sleep": 50},
        {"close": "a"},
        {"id": "watch", "api": "DescribeGroups", "version": 5, "conn": "watch",
         "request": {"groups": ["${group}"]}, "observeForMs": 24000, "observeEveryMs": 50},
        {"await": "b-join", "timeoutMs": 30000},
    ]
    steps2[1]["timed"] = True  # a-join
    print("   (2) a joins and syncs; 150 ms later b joins (a rebalance starts); a goes silent "
          "without rejoining; b's JoinGroup waits (times from a's join)")
    show_timelines(kafka, vltava, oracle, steps2, ("a-join", "b-join"))


def show_timelines(kafka, vltava, oracle, steps, marks):
    runs = {}
    for name, bootstrap in (("kafka", kafka.bootstrap), ("vltava", vltava.bootstrap)):
        uid = "ox" + uuid.uuid4().hex[:8]
        runs[name] = oracle.submit(bootstrap, {"uid": uid, "group": f"g-{uid}"}, steps)
    for name, fut in runs.items():
        msg = fut.result(120)
        if "fatal" in msg:
            print(f"-- {name}: oracle failed: {msg['fatal']}")
            continue
        res = {r["step"]: r for r in msg["results"]}
        bad = [r for r in msg["results"] if r.get("error") or
               (r.get("response", {}).get("errorCode") not in (None, 0))]
        t_a = res[marks[0]]["atMs"]
        t_b = res[marks[1]]["atMs"]
        print(f"-- {name}: {marks[0]} at {t_a} ms, {marks[1]} at {t_b} ms (case clock); "
              f"errors: {[(r['step'], r.get('error') or r['response'].get('errorCode')) for r in bad] or 'none'}")
        for obs in res["watch"]["observations"]:
            g = obs["response"]["groups"][0]
            members = sorted(m.get("groupInstanceId") or m["memberId"] for m in g["members"])
            print(f"   +{obs['atMs'] - t_a:6d} ms after {marks[0]} (+{obs['atMs'] - t_b:6d} after {marks[1]}): "
                  f"state {g['groupState']:<20} members {members}")


def main(which: str):
    subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "oracle", "kafka"], check=True,
                   stdin=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="oracle-investigate-"))
    # Session timeouts of 5 s need the minimum lowered on both (Kafka and Vltava default: 6 s).
    settings = {"group.min.session.timeout.ms": "1000"}
    kafka = ProxiedKafka(work / "kafka", overrides=settings)
    vltava = Broker(work / "vltava", overrides={**settings, "num.partitions": "1"})
    vproxy_port = free_port()
    vltava.overrides["advertised.listeners"] = f"PLAINTEXT://127.0.0.1:{vproxy_port}"
    proxies = {"kafka": CountingProxy(kafka.port, ("127.0.0.1", kafka.listen_port)),
               "vltava": CountingProxy(vproxy_port, ("127.0.0.1", vltava.port))}
    kafka.start()
    vltava.start()
    oracle = OracleClient()
    try:
        if which in ("delete-records-missing-topic", "all"):
            delete_records_missing_topic(kafka, vltava, oracle, proxies)
        if which in ("static-member-expiry", "all"):
            static_member_expiry(kafka, vltava, oracle)
    finally:
        oracle.close()
        vltava.stop()
        kafka.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all")
