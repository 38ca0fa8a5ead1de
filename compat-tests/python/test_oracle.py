"""Differential oracle: every scenario in compat-tests/oracle/scenarios runs against a real Apache
Kafka 4.4.0 broker and against Vltava; the masked answers must agree field by field, except for
the differences listed (each with its reason) in compat-tests/oracle/differences.yaml.

An unlisted difference fails its case. A listed difference that no longer occurs fails
`test_differences_file_is_current` (stale entries would make the list lie).

Real Kafka starts once per session; each case gets a fresh Vltava. Run:
    cd compat-tests/python && VLTAVA_BIN=... python3 -m pytest -q test_oracle.py
"""
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import COMPAT_DIR, Broker
from oracle_support import (Differences, OracleClient, Versions, api_ranges, diff_results,
                            expand_steps, load_cases, mask, yaml_entry)

CASES = load_cases()
# Case name -> its differences, for the staleness check at the end.
RAN: dict[str, list] = {}

SCENARIO_PROBLEMS = ("expectFailed", "untilFailed")

# Settings of the real Kafka (real_kafka.RealKafka.settings with the suite's TEST_OVERRIDES) that
# Vltava has too: each Vltava runs with the same values, so answers that show settings
# (DescribeConfigs values and sources) compare like for like, and a transaction past its timeout
# is aborted as soon on both. Listeners, directories and KRaft's own settings differ by nature
# and stay out.
SHARED_SETTINGS = ("node.id", "num.partitions", "group.initial.rebalance.delay.ms",
                   "transaction.abort.timed.out.transaction.cleanup.interval.ms")


def shared_settings() -> dict:
    from real_kafka import TEST_OVERRIDES, RealKafka
    settings = RealKafka(Path("/nonexistent"), overrides=TEST_OVERRIDES).settings()
    return {k: settings[k] for k in SHARED_SETTINGS}


@pytest.fixture(scope="session")
def oracle():
    subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "oracle"], check=True,
                   stdin=subprocess.DEVNULL)
    client = OracleClient()
    yield client
    client.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(request):
    # The session's real Kafka (conftest.real_kafka); ORACLE_KAFKA_BOOTSTRAP may instead name one
    # already running with RealKafka's settings (saves its start while writing scenarios).
    external = os.environ.get("ORACLE_KAFKA_BOOTSTRAP")
    if external:
        return external
    return request.getfixturevalue("real_kafka").bootstrap


@pytest.fixture(scope="session")
def differences():
    return Differences()


@pytest.fixture(scope="session")
def versions(oracle, kafka_bootstrap, tmp_path_factory):
    probe = [{"id": "av", "api": "ApiVersions", "version": 3,
              "request": {"clientSoftwareName": "oracle", "clientSoftwareVersion": "1"}}]
    kafka = api_ranges(oracle.run(kafka_bootstrap, {"uid": "-"}, probe))
    b = Broker(tmp_path_factory.mktemp("vltava-probe") / "data").start()
    try:
        vltava = api_ranges(oracle.run(b.bootstrap, {"uid": "-"}, probe))
    finally:
        b.stop()
    # The first group request on a fresh Kafka creates __consumer_offsets: wait for it here so
    # no case sees COORDINATOR_NOT_AVAILABLE.
    warm = [{"id": "fc", "api": "FindCoordinator", "version": 3,
             "request": {"key": "ox00000000-warmup", "keyType": 0},
             "until": {"/response/errorCode": 0}, "untilTimeoutMs": 60000,
             "expect": {"/response/errorCode": 0}}]
    # The transaction coordinator too (its topic then shows in all-topics answers, whichever
    # cases ran before).
    warm.append(dict(warm[0], id="fc-txn", request={"key": "ox00000000-warmup", "keyType": 1}))
    # And the producer-id manager (a fresh Kafka answers the first InitProducerId with
    # COORDINATOR_LOAD_IN_PROGRESS while it fetches its first block of ids).
    warm.append({"id": "pid", "api": "InitProducerId", "version": 4,
                 "request": {"transactionalId": None, "transactionTimeoutMs": 60000},
                 "until": {"/response/errorCode": 0}, "untilTimeoutMs": 60000})
    # And every __transaction_state partition serving: for a few seconds after the topic appears
    # Kafka answers transactional ids of some partitions with NOT_COORDINATOR. An unknown id of
    # each partition is TRANSACTIONAL_ID_NOT_FOUND once its partition is loaded.
    ids = txn_ids_per_partition(50)
    warm.append({"id": "txn-loaded", "api": "DescribeTransactions", "version": 0,
                 "request": {"transactionalIds": ids},
                 "until": {f"/response/transactionStates/{i}/errorCode": 105 for i in range(len(ids))},
                 "untilTimeoutMs": 60000})
    res = oracle.run(kafka_bootstrap, {"uid": "-"}, warm)
    for r in res:
        ok = "response" in r and not r.get("untilFailed") and r["response"].get("errorCode", 0) == 0
        assert ok, f"Kafka's coordinators never came up: {res}"
    return Versions(oracle.api_ids, kafka, vltava)


def txn_ids_per_partition(partitions: int) -> list[str]:
    """One transactional id for each __transaction_state partition (Kafka's partitionFor: the
    absolute value of Java's String.hashCode modulo the partition count)."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        tid = f"ox00000000-warmup-{i}"
        h = 0
        for ch in tid:
            h = (31 * h + ord(ch)) & 0xFFFFFFFF
        h = h - (1 << 32) if h >= 1 << 31 else h
        found.setdefault(0 if h == -(1 << 31) else abs(h) % partitions, tid)
        i += 1
    return list(found.values())


def case_vars() -> dict:
    uid = "ox" + uuid.uuid4().hex[:8]
    return {"uid": uid, "topic": f"t-{uid}", "topic2": f"t2-{uid}", "group": f"g-{uid}",
            "missing": f"missing-{uid}", "txn": f"txn-{uid}"}


def scenario_problems(results: list) -> list:
    bad = []
    for r in results:
        err = r.get("error", "")
        if any(r.get(k) for k in SCENARIO_PROBLEMS) or err.startswith(("step failed", "cannot build")):
            bad.append(r)
    return bad


@pytest.fixture
def fresh_vltava(request, tmp_path):
    """A Vltava of its own for one case, started with `overrides`; killed (-9) afterwards: its
    data directory is thrown away, and a graceful stop per case would dominate the run time."""
    brokers = []
    request.node._vltava_brokers = brokers  # conftest attaches their logs to failures

    def make(overrides: dict) -> Broker:
        b = Broker(tmp_path / "data", overrides=overrides)
        brokers.append(b)
        return b.start()

    yield make
    for b in brokers:
        b.kill()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, oracle, kafka_bootstrap, versions, differences, fresh_vltava):
    vltava = fresh_vltava({**shared_settings(), **case.spec.get("vltavaOverrides", {})})
    variables = case_vars()
    steps = expand_steps(case, versions)
    fk = oracle.submit(kafka_bootstrap, variables, steps)
    fv = oracle.submit(vltava.bootstrap, variables, steps)
    kafka, theirs = fk.result(180), fv.result(180)
    for side, msg in (("kafka", kafka), ("vltava", theirs)):
        if "fatal" in msg:
            pytest.fail(f"oracle failed on {side}: {msg['fatal']}", pytrace=False)
    problems = scenario_problems(kafka["results"])
    if problems:
        pytest.fail("the scenario does not work against real Kafka (fix the scenario):\n"
                    + "\n".join(str(p)[:2000] for p in problems), pytrace=False)
    extra = case.spec.get("mask", [])
    patterns = case.spec.get("maskText", [])
    unordered = case.spec.get("unordered", [])
    mk = mask(kafka["results"], variables, extra, patterns, unordered)
    mv = mask(theirs["results"], variables, extra, patterns, unordered)
    if os.environ.get("ORACLE_TRACE_DIR"):
        # While writing scenarios: both sides' masked answers, to read side by side.
        d = Path(os.environ["ORACLE_TRACE_DIR"])
        d.mkdir(parents=True, exist_ok=True)
        stem = case.name.replace("/", "__")
        (d / f"{stem}.kafka.json").write_text(json.dumps(mk, indent=1))
        (d / f"{stem}.vltava.json").write_text(json.dumps(mv, indent=1))
    within = {s["id"] for s in steps if s.get("apiVersionsWithin")}
    diffs = diff_results(mk, mv, within)
    RAN[case.name] = diffs
    unexplained = differences.explain(case.name, diffs)
    if unexplained and os.environ.get("ORACLE_DUMP"):
        # While writing scenarios: collect every unlisted difference as a ready entry.
        with open(os.environ["ORACLE_DUMP"], "a") as f:
            f.write("\n".join(yaml_entry(case.name, d) for d in unexplained) + "\n")
    if unexplained:
        pytest.fail(
            f"{len(unexplained)} unlisted difference(s) between Kafka 4.4.0 and Vltava in "
            f"{case.name} (fix Vltava, or list them in compat-tests/oracle/differences.yaml):\n  "
            + "\n  ".join(str(d) for d in unexplained)
            + "\n\nas entries:\n" + "\n".join(yaml_entry(case.name, d) for d in unexplained),
            pytrace=False)


def test_differences_file_is_current(differences):
    """Every listed difference still occurs (checked only for entries whose cases all ran)."""
    if not RAN:
        pytest.skip("no oracle case ran")
    names = [c.name for c in CASES]
    stale = []
    for e in differences.entries:
        covered = [n for n in names if e.covers_case(n)]
        if not covered:
            stale.append(f"{e.describe()}: its case pattern matches no case")
        elif all(n in RAN for n in covered) and e.hits == 0:
            stale.append(f"{e.describe()}: no longer occurs (reason was: {e.reason})")
    if stale:
        pytest.fail("stale entries in compat-tests/oracle/differences.yaml (remove them):\n  "
                    + "\n  ".join(stale), pytrace=False)
