"""The differential oracle: run the same request scenarios against real Kafka and Vltava, mask what
must differ, and compare the answers field by field.

Pieces:
  * `OracleClient` drives the Java program compat-tests/oracle/src/Oracle.java (Kafka's own
    message classes and JSON converters) over stdin/stdout, one JSON job per line.
  * `load_cases` reads compat-tests/oracle/scenarios/*.json and expands matrices.
  * `expand_steps` turns a case's steps (with macros and symbolic versions) into concrete steps.
  * `mask` / `diff` produce a list of `Diff`s; `Differences` is the checked list of known ones
    (compat-tests/oracle/differences.yaml).

See compat-tests/oracle/README.md for the scenario language.
"""
from __future__ import annotations

import copy
import itertools
import json
import re
import subprocess
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ORACLE_DIR = HERE.parent / "oracle"
SCENARIO_DIR = ORACLE_DIR / "scenarios"
DIFFERENCES_FILE = ORACLE_DIR / "differences.yaml"
CLASSPATH_FILE = ORACLE_DIR / "build" / "classpath"

ABSENT = "<absent>"


# ----------------------------------------------------------------------------------------------
# The Java side.

class OracleClient:
    """One long-lived JVM running Oracle.java; jobs run concurrently inside it."""

    def __init__(self, classpath: str | None = None):
        classpath = classpath or CLASSPATH_FILE.read_text().strip()
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-cp", classpath, "Oracle"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)
        self._ids = itertools.count(1)
        self._pending: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.api_ids: dict[str, int] = self._call({"apiNames": True}).result(60)["apiNames"]

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._lock:
                fut = self._pending.pop(msg["id"], None)
            if fut is not None:
                fut.set_result(msg)
        with self._lock:
            for fut in self._pending.values():
                fut.set_exception(RuntimeError("oracle JVM exited:\n" + "".join(self._stderr[-40:])))
            self._pending.clear()

    def _read_err(self):
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _call(self, job: dict) -> Future:
        job = dict(job, id=next(self._ids))
        fut: Future = Future()
        with self._lock:
            self._pending[job["id"]] = fut
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return fut

    def submit(self, bootstrap: str, variables: dict, steps: list) -> Future:
        """Runs steps against one broker; the future gives the list of step results."""
        return self._call({"bootstrap": bootstrap, "vars": variables, "steps": steps})

    def run(self, bootstrap: str, variables: dict, steps: list, timeout: float = 120) -> list:
        msg = self.submit(bootstrap, variables, steps).result(timeout)
        if "fatal" in msg:
            raise RuntimeError(f"oracle failed: {msg['fatal']}")
        return msg["results"]

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def api_ranges(results: list) -> dict[int, tuple[int, int]]:
    """{api key: (min, max)} from an ApiVersions step result."""
    resp = results[0]["response"]
    return {k["apiKey"]: (k["minVersion"], k["maxVersion"]) for k in resp["apiKeys"]}


# ----------------------------------------------------------------------------------------------
# Scenarios.

@dataclass
class Case:
    name: str          # "<file stem>/<case name>" plus "[k=v,...]" for matrix cases
    spec: dict
    params: dict = field(default_factory=dict)


def load_cases(directory: Path = SCENARIO_DIR) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text())
        for spec in doc["cases"]:
            base = f"{path.stem}/{spec['name']}"
            if "variants" in spec:
                # Named parameter sets, e.g. one per client's choice of versions.
                for variant in spec["variants"]:
                    params = {k: v for k, v in variant.items() if k != "label"}
                    cases.append(Case(f"{base}[{variant['label']}]", spec, params))
                continue
            matrix = spec.get("matrix")
            if not matrix:
                cases.append(Case(base, spec))
                continue
            keys = list(matrix)
            for combo in itertools.product(*(matrix[k] for k in keys)):
                params = dict(zip(keys, combo))
                label = ",".join(f"{k}={v}" for k, v in params.items())
                cases.append(Case(f"{base}[{label}]", spec, params))
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate case names: {sorted(dupes)}")
    return cases


class Versions:
    """Resolves symbolic versions against what both brokers support."""

    def __init__(self, api_ids: dict[str, int], kafka: dict, vltava: dict):
        self.api_ids = api_ids
        self.kafka = kafka
        self.vltava = vltava

    def resolve(self, api: str, version) -> int:
        if isinstance(version, int):
            return version
        key = self.api_ids[api]
        k = self.kafka.get(key)
        v = self.vltava.get(key, k)
        if k is None:
            raise ValueError(f"Kafka does not serve {api}")
        if version == "max":      # newest both serve
            return min(k[1], v[1])
        if version == "min":      # oldest both serve
            return max(k[0], v[0])
        if version == "kafka-max":
            return k[1]
        m = re.fullmatch(r"max-(\d+)", str(version))
        if m:
            return min(k[1], v[1]) - int(m.group(1))
        return int(version)


def _subst_params(obj, params: dict):
    """Matrix parameters: "$v" as a whole string becomes the value, "${v}" inside text."""
    if isinstance(obj, str):
        for k, v in params.items():
            if obj == "$" + k:
                return v
        for k, v in params.items():
            obj = obj.replace("${" + k + "}", str(v))
        return obj
    if isinstance(obj, list):
        return [_subst_params(x, params) for x in obj]
    if isinstance(obj, dict):
        if "$repeat" in obj:
            return obj["$repeat"] * obj["count"]
        return {k: _subst_params(v, params) for k, v in obj.items()}
    return obj


def expand_steps(case: Case, versions: Versions) -> list[dict]:
    steps = _subst_params(copy.deepcopy(case.spec["steps"]), case.params)
    # The shared Kafka has had __consumer_offsets and __transaction_state since the session
    # began (test_oracle's warm-up); give each fresh Vltava the same start (its first
    # FindCoordinator of each kind creates the topic, as Kafka's does).
    warm = {"id": "warm-coordinator", "api": "FindCoordinator", "version": 3,
            "request": {"key": "${uid}-warm", "keyType": 0}, "record": False,
            "until": {"/response/errorCode": 0}, "expect": {"/response/errorCode": 0}}
    out: list[dict] = [warm, dict(warm, id="warm-txn-coordinator",
                                  request={"key": "${uid}-warm", "keyType": 1})]
    # The shared Kafka has handed out producer ids since its warm-up too, so none it hands out
    # now is 0, which is also the message default (e.g. for an unknown transactional id in
    # DescribeTransactions): take Vltava's id 0 the same way.
    out.append({"id": "warm-producer-id", "api": "InitProducerId", "version": 4,
                "request": {"transactionalId": None, "transactionTimeoutMs": 60000},
                "record": False, "until": {"/response/errorCode": 0},
                "expect": {"/response/errorCode": 0}})
    for i, step in enumerate(steps):
        if "createTopic" in step:
            out.extend(_create_topic(step, i, versions))
            continue
        if "produce" in step:
            out.append(_produce(step, i, versions))
            continue
        if "fetch" in step:
            out.append(_fetch(step, i, versions))
            continue
        if "listOffsets" in step:
            out.append(_list_offsets(step, i, versions))
            continue
        if "api" in step:
            step.setdefault("id", f"{i}-{step['api']}")
            if step["api"] != "raw":
                step["version"] = versions.resolve(step["api"], step.get("version", "max"))
        out.append(step)
    return out


def _create_topic(step: dict, i: int, versions: Versions) -> list[dict]:
    spec = step["createTopic"]
    name = spec.get("name", "${topic}")
    partitions = spec.get("partitions", 1)
    configs = [{"name": k, "value": str(v)} for k, v in spec.get("configs", {}).items()]
    sid = step.get("id", f"{i}-createTopic")
    ready = {"/response/topics/0/errorCode": 0}
    for p in range(partitions):
        ready[f"/response/topics/0/partitions/{p}/leaderId"] = {"$ge": 0}
    serving = {f"/response/topics/0/partitions/{p}/errorCode": 0 for p in range(partitions)}
    return [
        {"id": sid, "api": "CreateTopics", "version": versions.resolve("CreateTopics", "max"),
         "request": {"topics": [{"name": name, "numPartitions": partitions,
                                 "replicationFactor": 1, "configs": configs}],
                     "timeoutMs": 30000},
         "record": step.get("record", False),
         # The topic id of ${topic} is ${tid} (Fetch v13+ needs it).
         "capture": step.get("capture", {"tid": "/response/topics/0/topicId"} if name == "${topic}" else {}),
         "expect": {"/response/topics/0/errorCode": 0}},
        {"id": sid + "-ready", "api": "Metadata", "version": versions.resolve("Metadata", "max"),
         "request": {"topics": [{"name": name}], "allowAutoTopicCreation": False},
         "record": False, "until": ready, "expect": ready},
        # Kafka's metadata cache can name the leader a moment before the partition takes
        # requests: wait until every partition answers ListOffsets.
        {"id": sid + "-serving", "api": "ListOffsets", "version": versions.resolve("ListOffsets", "max"),
         "request": {"replicaId": -1, "topics": [{"name": name, "partitions": [
             {"partitionIndex": p, "timestamp": -1} for p in range(partitions)]}]},
         "record": False, "until": serving, "expect": serving},
    ]


def _produce(step: dict, i: int, versions: Versions) -> dict:
    spec = step["produce"]
    out = {k: v for k, v in step.items() if k != "produce"}
    out.setdefault("id", f"{i}-produce")
    out["api"] = "Produce"
    out["version"] = versions.resolve("Produce", spec.get("version", "max"))
    out["request"] = {
        "acks": spec.get("acks", -1), "timeoutMs": spec.get("timeoutMs", 30000),
        "transactionalId": spec.get("transactionalId"),
        "topicData": [{"name": spec.get("topic", "${topic}"),
                       "partitionData": [{"index": spec.get("partition", 0),
                                          "records": {"$batches": spec["batches"]}}]}],
    }
    if "record" not in out:
        out["record"] = spec.get("record", True)
    if not out["record"] and "expect" not in out and out["request"]["acks"] != 0:
        # A setup produce must succeed: if it fails on either side, the result is shown.
        out["expect"] = {"/response/responses/0/partitionResponses/0/errorCode": 0}
    return out


def _fetch(step: dict, i: int, versions: Versions) -> dict:
    """{"fetch": {"partitions": [{"partition", "offset", "maxBytes", "currentLeaderEpoch",
    "lastFetchedEpoch"}], "topic", "topicId", "version", "maxBytes", "maxWaitMs", "minBytes",
    "isolationLevel", "sessionId", "sessionEpoch"}}: one topic, a consumer's defaults."""
    spec = step["fetch"]
    out = {k: v for k, v in step.items() if k != "fetch"}
    out.setdefault("id", f"{i}-fetch")
    out["api"] = "Fetch"
    out["version"] = versions.resolve("Fetch", spec.get("version", "max"))
    parts = [{"partition": p.get("partition", 0), "fetchOffset": p.get("offset", 0),
              "partitionMaxBytes": p.get("maxBytes", 1048576),
              "currentLeaderEpoch": p.get("currentLeaderEpoch", -1),
              "lastFetchedEpoch": p.get("lastFetchedEpoch", -1), "logStartOffset": -1}
             for p in spec.get("partitions", [{}])]
    topic = {"topic": spec.get("topic", "${topic}"), "partitions": parts}
    if "topicId" in spec or out["version"] >= 13:
        topic["topicId"] = spec.get("topicId", "${tid}")
    out["request"] = {
        "replicaId": -1, "maxWaitMs": spec.get("maxWaitMs", 0), "minBytes": spec.get("minBytes", 0),
        "maxBytes": spec.get("maxBytes", 52428800), "isolationLevel": spec.get("isolationLevel", 0),
        "sessionId": spec.get("sessionId", 0), "sessionEpoch": spec.get("sessionEpoch", -1),
        "topics": spec.get("topics", [topic]),
    }
    return out


def _list_offsets(step: dict, i: int, versions: Versions) -> dict:
    """{"listOffsets": {"timestamp" | "partitions": [{"partition", "timestamp",
    "currentLeaderEpoch"}], "topic", "version", "isolationLevel"}}."""
    spec = step["listOffsets"]
    out = {k: v for k, v in step.items() if k != "listOffsets"}
    out.setdefault("id", f"{i}-listOffsets")
    out["api"] = "ListOffsets"
    out["version"] = versions.resolve("ListOffsets", spec.get("version", "max"))
    parts = spec.get("partitions", [{"partition": 0, "timestamp": spec.get("timestamp", -1)}])
    out["request"] = {
        "replicaId": spec.get("replicaId", -1), "isolationLevel": spec.get("isolationLevel", 0),
        "topics": [{"name": spec.get("topic", "${topic}"), "partitions": [
            {"partitionIndex": p.get("partition", 0), "timestamp": p["timestamp"],
             "currentLeaderEpoch": p.get("currentLeaderEpoch", -1)} for p in parts]}],
    }
    return out


# ----------------------------------------------------------------------------------------------
# Masking: what must differ between two brokers.

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA"

# Field name -> replacement, applied everywhere in every response.
ALWAYS_MASKED = {
    "clusterId": "<clusterId>",
    "throttleTimeMs": "<throttleTimeMs>",
    "port": "<port>",
}


def _mask_value(key: str, value, api: str):
    if key in ALWAYS_MASKED and value is not None:
        return ALWAYS_MASKED[key]
    if key == "topicId" and value not in (None, ZERO_UUID):
        return "<topicId>"
    if key == "sessionId" and api == "Fetch" and value not in (None, 0):
        return "<fetchSessionId>"
    return value


# Case-unique names all carry the case's uid, "ox" + 8 hex digits (see test_oracle.case_vars).
UID_RE = re.compile(r"ox[0-9a-f]{8}")


def _foreign(item, uid: str) -> bool:
    if not isinstance(item, dict):
        return False
    for key in ("name", "topic", "topicName", "groupId", "transactionalId"):
        v = item.get(key)
        if isinstance(v, str) and UID_RE.search(v) and uid not in v:
            return True
    return False


def mask(results: list, variables: dict, extra: list[str], patterns: list[str] = (),
         unordered: list[str] = ()) -> list:
    """A masked deep copy: case-unique names back to their placeholders, ids and times masked.
    `extra`: field paths (globs) masked whole; `patterns`: regular expressions masked inside
    every string (e.g. the current time inside an error message); `unordered`: field paths
    (globs) of lists whose order means nothing (sorted)."""
    uid = variables["uid"]
    extra_res = [_glob(p) for p in extra]
    unordered_res = [_glob(p) for p in unordered]
    text_res = [re.compile(p) for p in patterns]
    # Generated ids (member ids) are numbered in order of first appearance, so two members stay
    # distinguishable and line up between the brokers.
    uuids: dict[str, str] = {}
    # Producer ids too: each broker hands out its own, but where one id shows up again (the
    # producer of an aborted transaction, a re-initialised producer) it must on both sides.
    pids: dict[int, str] = {}

    def number(m: re.Match) -> str:
        return uuids.setdefault(m.group(0), f"<uuid{len(uuids) + 1}>")

    def walk(obj, api, path):
        if isinstance(obj, str):
            s = obj.replace(uid, "${uid}")
            for r in text_res:
                s = r.sub("<masked>", s)
            return UUID_RE.sub(number, s)
        if isinstance(obj, list):
            # Real Kafka is shared by every case: drop other cases' topics, groups and
            # transactional ids from all-topics, all-groups and all-transactions answers.
            obj = [x for x in obj if not _foreign(x, uid)]
            out = [walk(x, api, f"{path}[{i}]") for i, x in enumerate(obj)]
            if any(r.fullmatch(path) for r in unordered_res):
                out.sort(key=lambda x: json.dumps(x, sort_keys=True))
            return out
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                p = f"{path}.{k}" if path else k
                v = _mask_value(k, v, api)
                if k == "producerId" and type(v) is int and v > 0:
                    v = pids.setdefault(v, f"<pid{len(pids) + 1}>")
                if any(r.fullmatch(p) for r in extra_res):
                    v = "<masked>"
                out[k] = walk(v, api, p)
            return out
        return obj

    masked = []
    for r in results:
        api = r.get("api", "")
        masked.append({k: (walk(v, api, "") if k == "response" else walk(v, api, k))
                       for k, v in r.items()})
    return masked


# ----------------------------------------------------------------------------------------------
# Comparison.

@dataclass
class Diff:
    step: str
    path: str
    kafka: object
    vltava: object

    def __str__(self):
        return f"{self.step}: {self.path}\n      kafka:  {_short(self.kafka)}\n      vltava: {_short(self.vltava)}"


def _short(v, limit=300):
    s = v if isinstance(v, str) and v == ABSENT else json.dumps(v)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"


LIST_KEYS = ["name", "apiKey", "partitionIndex", "index", "partition", "topic", "topicName",
             "resourceName", "memberId", "groupId", "groupInstanceId", "key", "nodeId",
             "brokerId", "logDir", "transactionalId", "user", "mechanism"]


def _list_key(a: list, b: list):
    """The field that identifies the elements of two lists of structs, if any."""
    items = a + b
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    for key in LIST_KEYS:
        if all(key in x and isinstance(x[key], (str, int)) for x in items):
            return key
    return None


def _keyed(items: list, key: str) -> dict:
    """Elements by identity; a repeated identity gets "#2", "#3", ... (e.g. a duplicated topic)."""
    out: dict = {}
    for x in items:
        label = str(x[key])
        n = 1
        while label in out:
            n += 1
            label = f"{x[key]}#{n}"
        out[label] = x
    return out


def diff_values(k, v, path: str, out: list, step: str):
    if isinstance(k, dict) and isinstance(v, dict):
        for key in list(k) + [x for x in v if x not in k]:
            p = f"{path}.{key}" if path else key
            diff_values(k.get(key, ABSENT), v.get(key, ABSENT), p, out, step)
        return
    if isinstance(k, list) and isinstance(v, list):
        key = _list_key(k, v)
        if key is None:
            for i in range(max(len(k), len(v))):
                diff_values(k[i] if i < len(k) else ABSENT, v[i] if i < len(v) else ABSENT,
                            f"{path}[{i}]", out, step)
            return
        km = _keyed(k, key)
        vm = _keyed(v, key)
        for name in list(km) + [n for n in vm if n not in km]:
            diff_values(km.get(name, ABSENT), vm.get(name, ABSENT), f"{path}[{key}={name}]",
                        out, step)
        return
    if k != v or type(k) is not type(v) and not (isinstance(k, (int, float)) and isinstance(v, (int, float))):
        out.append(Diff(step, path or "<response>", k, v))


def diff_api_versions(k: dict, v: dict, step: str, out: list):
    """ApiVersions: every range Vltava advertises must lie within Kafka's; the rest compares."""
    kr = {x["apiKey"]: x for x in k.get("apiKeys", [])}
    for x in v.get("apiKeys", []):
        key = x["apiKey"]
        want = kr.get(key)
        path = f"apiKeys[apiKey={key}]"
        if want is None:
            out.append(Diff(step, path, ABSENT, x))
        elif x["minVersion"] < want["minVersion"] or x["maxVersion"] > want["maxVersion"]:
            out.append(Diff(step, path + ".range", [want["minVersion"], want["maxVersion"]],
                            [x["minVersion"], x["maxVersion"]]))
    rest_k = {a: b for a, b in k.items() if a != "apiKeys"}
    rest_v = {a: b for a, b in v.items() if a != "apiKeys"}
    diff_values(rest_k, rest_v, "", out, step)


def diff_results(kafka: list, vltava: list, within: set[str] = frozenset()) -> list[Diff]:
    out: list[Diff] = []
    km = {r["step"]: r for r in kafka}
    vm = {r["step"]: r for r in vltava}
    for step in list(km) + [s for s in vm if s not in km]:
        k = km.get(step, {"missing": True})
        v = vm.get(step, {"missing": True})
        if step in within and "response" in k and "response" in v:
            diff_api_versions(k["response"], v["response"], step, out)
            k = {a: b for a, b in k.items() if a != "response"}
            v = {a: b for a, b in v.items() if a != "response"}
        top_k = {a: b for a, b in k.items() if a != "response"}
        top_v = {a: b for a, b in v.items() if a != "response"}
        before = len(out)
        diff_values(top_k, top_v, "", out, step)
        for d in out[before:]:
            d.path = "<" + d.path + ">"
        if "response" in k or "response" in v:
            diff_values(k.get("response", ABSENT), v.get("response", ABSENT), "", out, step)
    return out


# ----------------------------------------------------------------------------------------------
# The checked list of known differences.

def _glob(pattern) -> re.Pattern:
    """Only `*` is special (any run of characters); brackets and dots are literal. A list of
    patterns matches what any of them matches."""
    patterns = pattern if isinstance(pattern, list) else [pattern]
    return re.compile("|".join("(?:" + ".*".join(re.escape(p) for p in pat.split("*")) + ")"
                               for pat in patterns), re.S)


def _value_matches(want, got) -> bool:
    """Exact, except that a string with * in it is a pattern for a string."""
    if isinstance(want, str) and "*" in want and isinstance(got, str):
        return bool(_glob(want).fullmatch(got))
    return want == got and type(want) is type(got) or (
        isinstance(want, (int, float)) and isinstance(got, (int, float))
        and not isinstance(want, bool) and not isinstance(got, bool) and want == got)


@dataclass
class Entry:
    index: int
    case: str
    step: str
    path: str
    reason: str
    values: dict
    case_re: re.Pattern
    step_re: re.Pattern
    path_re: re.Pattern
    hits: int = 0

    def covers_case(self, case: str) -> bool:
        return bool(self.case_re.fullmatch(case))

    def matches(self, case: str, d: Diff) -> bool:
        if not (self.case_re.fullmatch(case) and self.step_re.fullmatch(d.step)
                and self.path_re.fullmatch(d.path)):
            return False
        for side in ("kafka", "vltava"):
            if side in self.values and not _value_matches(self.values[side], getattr(d, side)):
                return False
        return True

    def describe(self) -> str:
        vals = "".join(f" {k}={json.dumps(v)}" for k, v in self.values.items())
        return f"entry #{self.index} case={self.case!r} step={self.step!r} path={self.path!r}{vals}"


class Differences:
    def __init__(self, path: Path = DIFFERENCES_FILE):
        raw = yaml.safe_load(path.read_text()) or []
        self.entries: list[Entry] = []
        for i, e in enumerate(raw, 1):
            unknown = set(e) - {"case", "step", "path", "kafka", "vltava", "reason"}
            if unknown or "case" not in e or "path" not in e or not e.get("reason"):
                raise ValueError(f"{path}: entry #{i} needs case, path and reason "
                                 f"(unknown keys: {sorted(unknown)}): {e}")
            values = {k: e[k] for k in ("kafka", "vltava") if k in e}
            step = e.get("step", "*")
            self.entries.append(Entry(i, e["case"], step, e["path"], e["reason"], values,
                                      _glob(e["case"]), _glob(step), _glob(e["path"])))

    def explain(self, case: str, diffs: list[Diff]) -> list[Diff]:
        """Counts hits; returns the differences no entry explains."""
        unexplained = []
        for d in diffs:
            hit = [e for e in self.entries if e.matches(case, d)]
            for e in hit:
                e.hits += 1
            if not hit:
                unexplained.append(d)
        return unexplained


def yaml_entry(case: str, d: Diff) -> str:
    """A ready-to-edit entry for an unexplained difference (shown in failure messages)."""
    def val(v):
        return json.dumps(v) if not (isinstance(v, str) and v == ABSENT) else json.dumps(ABSENT)
    lines = [f"- case: {json.dumps(case)}", f"  step: {json.dumps(d.step)}",
             f"  path: {json.dumps(d.path)}"]
    if len(val(d.kafka)) < 200 and len(val(d.vltava)) < 200:
        lines += [f"  kafka: {val(d.kafka)}", f"  vltava: {val(d.vltava)}"]
    lines.append("  reason: \"BUG: ...\"")
    return "\n".join(lines)
