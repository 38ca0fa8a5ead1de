"""The README's shell examples, run exactly as written: a fresh user pastes them into a shell.

Each fenced ``sh`` block is taken from README.md by the heading it stands under (so the README
cannot drift from what is tested) and run by bash. A block that starts a broker in the
foreground (`cargo run --release -- serve …` or `vltava serve …`, as a reader would in a second
terminal) is split there: the lines before it run first, the broker runs in the background
until the rest of the block (and any later blocks that need it) have run, and is then stopped
by its process group. The examples use the README's fixed ports (9092, 9093, 9094, 9644, 8080)
and ./vltava-data in the repository root: a data directory left there by someone is moved aside
for the test and put back afterwards.

The build: with VLTAVA_BIN unset, or naming ./target/release/vltava itself, the blocks run
verbatim (`cargo build --release` is then a no-op after run.sh's build). With VLTAVA_BIN naming
another binary (run.sh's "test an already built broker"), `cargo` on PATH is a stand-in that
takes `build --release` as done and `run --release -- ARGS` as `vltava ARGS`, and
`./target/release/vltava` reads `vltava`, the binary on PATH as after `cargo install --path .`.

Of the Kafka tools block, the first line (`compat-tests/setup.sh kafka`, which run.sh has run
before the suite) is left out. Not run here: the whole-suite command (it is this suite), Docker
(no engine on the test machines), the OAUTHBEARER properties fragment (a config excerpt naming
/etc/vltava/jwks.json, not a command) and the kafka-python fragment (test_faults.py runs it).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
KAFKA_BIN = ROOT / "compat-tests" / "kafka" / "bin"
SERVE = re.compile(r"^(cargo run --release -- serve|vltava serve|\./target/release/vltava serve)\b")


# --- taking the blocks from README.md ---------------------------------------------------------

def section(heading: str) -> str:
    """The README's text under `heading` (a whole line such as "## Metrics"), up to the next
    heading of any level (a `#` line inside a fenced block is no heading)."""
    lines = README.read_text().splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    fenced = False
    for end in range(start, len(lines)):
        if lines[end].lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", lines[end]):
            break
    else:
        end = len(lines)
    return "".join(lines[start:end])


def sh_blocks(heading: str) -> list[str]:
    blocks = []
    for m in re.finditer(r"^( *)```sh\n(.*?)^ *```", section(heading), re.S | re.M):
        indent = len(m.group(1))
        blocks.append("".join(l[indent:] if l[:indent].isspace() else l
                              for l in m.group(2).splitlines(keepends=True)))
    assert blocks, f"README has no sh block under {heading!r}"
    return blocks


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined to theirs; blank lines and whole-line
    comments dropped."""
    cmds, cur = [], ""
    for line in block.splitlines():
        cur += line + "\n"
        if not line.endswith("\\"):
            if cur.strip() and not cur.lstrip().startswith("#"):
                cmds.append(cur)
            cur = ""
    if cur.strip():
        cmds.append(cur)
    return cmds


def split_at_serve(block: str) -> tuple[str, str, str]:
    """(lines before the foreground broker, the broker's command, the lines after it)."""
    cmds = commands(block)
    for i, c in enumerate(cmds):
        if SERVE.match(c.lstrip()) and not c.rstrip().endswith("&"):
            return "".join(cmds[:i]), cmds[i], "".join(cmds[i + 1:])
    raise AssertionError(f"no foreground broker in\n{block}")


# --- running them -----------------------------------------------------------------------------

def built_in_place() -> bool:
    own = ROOT / "target" / "release" / "vltava"
    given = os.environ.get("VLTAVA_BIN")
    return given is None or (own.exists() and Path(given).resolve() == own.resolve())


@pytest.fixture
def shell(tmp_path):
    """Runs README text by bash with the environment of a fresh shell: no VLTAVA_* settings,
    `vltava` and the Kafka tools (compat-tests/kafka/bin) on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLTAVA_")}
    bindir = tmp_path / "bin"
    bindir.mkdir()
    if built_in_place():
        vltava = ROOT / "target" / "release" / "vltava"
    else:
        vltava = Path(os.environ["VLTAVA_BIN"]).resolve()
        (bindir / "cargo").write_text(
            "#!/bin/sh\n# stands in for cargo: the broker is built already ($VLTAVA_BIN)\n"
            'case "$1 $2" in\n'
            '"build --release") exit 0 ;;\n'
            '"run --release") shift 2; [ "$1" = "--" ] && shift; exec vltava "$@" ;;\n'
            "esac\n"
            'echo "cargo stand-in: not supported: $*" >&2; exit 2\n')
        (bindir / "cargo").chmod(0o755)
    (bindir / "vltava").symlink_to(vltava)
    env["PATH"] = f"{bindir}:{KAFKA_BIN}:{env['PATH']}"

    def as_run(text: str) -> str:
        return text if built_in_place() else text.replace("./target/release/vltava", "vltava")

    class Shell:
        def run(self, text: str, cwd: Path = ROOT, timeout: float = 120) -> str:
            # In a process group of its own: whatever the text left running in the background
            # (a failed block's `serve &` before its `kill %1`) is stopped with it.
            p = subprocess.Popen(["bash", "-e", "-c", as_run(text)], cwd=cwd, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
            try:
                stdout, stderr = p.communicate(timeout=timeout)
            finally:
                stop_group(p)
            assert p.returncode == 0, f"{text}\nexit {p.returncode}\n{stdout}\n{stderr}"
            return stdout

        @contextmanager
        def broker(self, command: str, cwd: Path = ROOT):
            """The command in the background in its own process group, until the log says
            'broker ready'; stopped (SIGTERM to the group) when the block is left."""
            log = tmp_path / f"broker-{time.monotonic_ns()}.log"
            with open(log, "w") as out:
                p = subprocess.Popen(["bash", "-c", as_run(command)], cwd=cwd, env=env,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
            try:
                deadline = time.monotonic() + 60
                while "broker ready on" not in log.read_text():
                    assert p.poll() is None, f"{command}\nexited {p.returncode}:\n{log.read_text()}"
                    assert time.monotonic() < deadline, f"not ready:\n{log.read_text()}"
                    time.sleep(0.05)
                yield log
            finally:
                stop_group(p)

    return Shell()


def stop_group(p: subprocess.Popen) -> None:
    """SIGTERM to the process group `p` leads (SIGKILL after 15 s), until none of it is left."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            p.poll()                      # reap the leader, so that the group can empty
            try:
                os.killpg(p.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
    p.poll()


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture
def ports():
    def need(*wanted: int):
        busy = [p for p in wanted if not port_is_free(p)]
        assert not busy, f"the README examples need 127.0.0.1:{busy}; something else holds it"
    return need


@pytest.fixture
def scratch():
    """A scratch directory inside the repository (so that `cargo run` finds the package) for
    the examples that write files into the current directory; removed afterwards."""
    target = ROOT / "target"
    made_target = not target.exists()
    made = []

    def make(name: str) -> Path:
        d = target / f"readme-{name}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        made.append(d)
        return d
    yield make
    for d in made:
        shutil.rmtree(d, ignore_errors=True)
    if made_target and target.exists() and not any(target.iterdir()):
        target.rmdir()


@pytest.fixture
def data_dir(tmp_path):
    """./vltava-data in the repository root, as the examples use it; one left there is moved
    aside and put back."""
    data = ROOT / "vltava-data"
    aside = tmp_path / "vltava-data-before"
    if data.exists():
        shutil.move(str(data), aside)
    try:
        yield data
    finally:
        shutil.rmtree(data, ignore_errors=True)
        if aside.exists():
            shutil.move(str(aside), data)


def need_kcat():
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (compat-tests/setup.sh installs it)")


def http(url: str, method: str = "GET", body: bytes | None = None):
    req = urllib.request.Request(url, method=method, data=body)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers.get("content-type", ""), r.read().decode()


# --- the examples -----------------------------------------------------------------------------

def test_first_produce_and_consume_works_as_pasted(shell, ports, data_dir):
    need_kcat()
    ports(9092)
    (block,) = sh_blocks("## A first produce and consume")
    out = shell.run(block, timeout=600)
    lines = [l for l in out.splitlines() if " @ offset " in l]
    assert lines == ["k1 = hello @ offset 0", "k2 = world @ offset 1"], out
    assert "127.0.0.1:9092 is ready" in out
    # `kill %1` stopped the broker: the port is free again and the data stayed.
    assert (data_dir / "greetings-0").is_dir()
    deadline = time.monotonic() + 10
    while not port_is_free(9092):
        assert time.monotonic() < deadline, "the broker still holds 9092 after `kill %1`"
        time.sleep(0.05)


def test_the_broker_command_and_the_command_line_client(shell, ports, data_dir):
    ports(9092)
    serve = sh_blocks("## The two commands")[0]
    (cli,) = sh_blocks("### The command line's own client")
    with shell.broker(serve) as log:
        assert "PLAINTEXT://127.0.0.1:9092" in log.read_text()
        assert (data_dir / "meta.properties").is_file()
        out = shell.run(cli)
    lines = out.splitlines()
    assert "created orders (3 partitions)" in lines, out
    assert re.search(r"^orders +3 +no$", out, re.M), out          # topic list
    assert "topic orders, 3 partitions" in lines and "configs: cleanup.policy=compact" in lines
    # Java's partitioner puts k1 on partition 2 and k2 on 0 of 3.
    assert sorted(l for l in lines if " @ " in l) == ["k1=v1 @ 2/0", "k2=v2 @ 0/0"], out
    assert "group my-group: Dead, 0 members" in lines, out     # no such group: described as Kafka does
    assert lines[-1] == "deleted orders", out


def test_metrics(shell, ports):
    ports(9092, 9644)
    (block,) = sh_blocks("## Metrics")
    # "With the HTTP listener on (… `--http-listener 127.0.0.1:9644`…)"; a group with a
    # committed offset, so that the example's grep has a line to find.
    assert "--http-listener\n127.0.0.1:9644" in section("## Metrics")
    with shell.broker("vltava serve --memory --http-listener 127.0.0.1:9644"):
        shell.run("vltava topic create orders -p 1\n"
                  "printf 'a\\nb\\nc\\n' | vltava produce orders\n")
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": "127.0.0.1:9092", "group.id": "readme-app"})
        try:
            c.commit(offsets=[TopicPartition("orders", 0, 1)], asynchronous=False)
        finally:
            c.close()
        out = shell.run(block)
        _, _, everything = http("http://127.0.0.1:9644/metrics")
    assert 'kafka_consumergroup_lag{group="readme-app",topic="orders",partition="0"} 2' in out, out
    assert all(l.startswith("kafka_consumergroup_lag") or l.startswith("#") for l in out.splitlines())
    assert "kafka_network_requestmetrics_requests_total{" in everything


def test_web_console(shell, ports, data_dir):
    ports(9092, 8080)
    (block,) = sh_blocks("## Web console")
    before, serve, after = split_at_serve(block)
    assert not before.strip() and not after.strip()
    assert "# then open http://127.0.0.1:8080/" in block
    with shell.broker(serve):
        status, ctype, page = http("http://127.0.0.1:8080/")
        _, _, overview = http("http://127.0.0.1:8080/api/overview")
    assert status == 200 and ctype.startswith("text/html"), (status, ctype)
    assert "<title>Vltava console</title>" in page
    assert json.loads(overview)


def test_fault_injection(shell, ports):
    need_kcat()
    ports(9092, 9644)
    blocks = sh_blocks("## Fault injection")
    before, serve, after = split_at_serve(blocks[0])
    assert not before.strip()
    curls = commands(after)
    assert len(curls) == 4, curls
    with shell.broker(serve):
        # The --fault rule (Produce fails 3 times with NOT_LEADER_OR_FOLLOWER): a producer
        # retries through it, so the list shows it fired 3 times.
        shell.run("printf 'x\\n' | kcat -P -b 127.0.0.1:9092 -t orders")
        added = json.loads(shell.run(curls[0]))
        listed = json.loads(shell.run(curls[1]))
        shell.run(curls[2])
        after_one = json.loads(shell.run(curls[1]))
        shell.run(curls[3])
        after_all = json.loads(shell.run(curls[1]))
        # The per-language examples: each adds a rule.
        for b in blocks[1:]:
            shell.run(b)
        per_language = json.loads(shell.run(curls[1]))
    assert added == {"id": 2, "api": "Fetch", "topic": "orders", "delay_ms": 2000, "count": 1,
                     "fired": 0, "live": True}, added
    rule1 = {"id": 1, "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "error_code": 6,
             "count": 3, "fired": 3, "live": False}
    assert listed == {"rules": [rule1, added]}, listed
    assert after_one == {"rules": [rule1]}, after_one
    assert after_all == {"rules": []}, after_all
    assert [(r["api"], r["error"], r["count"], r["live"]) for r in per_language["rules"]] == [
        ("Produce", "NOT_LEADER_OR_FOLLOWER", 3, True),
        ("OffsetCommit", "NOT_COORDINATOR", 2, True),
        ("Produce", "TOPIC_AUTHORIZATION_FAILED", 1, True),
    ], per_language


def kcat_brokers(out: str, address: str) -> None:
    assert " 1 brokers:" in out and f"broker 1 at {address}" in out, out


def test_tls_listener(shell, ports, scratch):
    need_kcat()
    ports(9092, 9093)
    (block,) = sh_blocks("## TLS and listeners")
    before, serve, after = split_at_serve(block)
    # The certificates are made in the current directory: a scratch one (./vltava-data there).
    cwd = scratch("tls")
    shell.run(before, cwd=cwd)
    assert (cwd / "broker-store.pem").is_file()
    with shell.broker(serve, cwd=cwd) as log:
        assert "SSL://127.0.0.1:9093" in log.read_text()
        out = shell.run(after, cwd=cwd)
    kcat_brokers(out, "127.0.0.1:9093")


def test_sasl_plain(shell, ports, data_dir):
    need_kcat()
    ports(9094)
    (block,) = sh_blocks("## SASL")
    before, serve, after = split_at_serve(block)
    assert not before.strip()
    with shell.broker(serve):
        out = shell.run(after)
    kcat_brokers(out, "127.0.0.1:9094")


def test_sasl_oauthbearer_unsecured(shell, ports, data_dir):
    need_kcat()
    ports(9094)
    (block,) = sh_blocks("### OAUTHBEARER")
    before, serve, after = split_at_serve(block)
    assert not before.strip()
    with shell.broker(serve):
        out = shell.run(after)
    kcat_brokers(out, "127.0.0.1:9094")


def need_kafka_tools():
    if not (Path.home() / ".cache" / "vltava" / "kafka-4.4.0" / "libs").is_dir():
        pytest.fail("Apache Kafka's tools are not installed (compat-tests/setup.sh kafka)")


def test_sasl_scram(shell, ports, data_dir):
    need_kcat()
    need_kafka_tools()
    ports(9092, 9094)
    (block,) = sh_blocks("### SASL/SCRAM")
    before, serve, after = split_at_serve(block)
    assert not before.strip()
    with shell.broker(serve):
        out = shell.run(after, timeout=180)
    assert "Completed updating config for user alice." in out, out
    kcat_brokers(out, "127.0.0.1:9094")


def test_acls(shell, ports, scratch):
    need_kafka_tools()
    ports(9094)
    (block,) = sh_blocks("## ACLs")
    before, serve, after = split_at_serve(block)
    # admin.properties is written in the current directory: a scratch one (./vltava-data there).
    cwd = scratch("acls")
    shell.run(before, cwd=cwd)
    with shell.broker(serve, cwd=cwd):
        out = shell.run(after, cwd=cwd, timeout=180)
    current = out[out.index("Current ACLs"):]
    assert "ResourcePattern(resourceType=GROUP, name=orders-app, patternType=LITERAL)" in current
    assert "ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)" in current
    for op in ("READ", "DESCRIBE"):
        assert f"(principal=User:alice, host=*, operation={op}, permissionType=ALLOW)" in current


def test_official_kafka_tools(shell, ports, data_dir):
    """The block's first line installs the tools (`compat-tests/setup.sh kafka`); run.sh has run
    setup.sh before the suite, so the test runs the lines after it, against the broker of "The
    two commands" (127.0.0.1:9092, ./vltava-data in the repository root)."""
    need_kafka_tools()
    ports(9092)
    (block,) = sh_blocks("## Apache Kafka as the yardstick")
    setup, *tools = commands(block)
    assert setup == "compat-tests/setup.sh kafka\n", setup
    serve = sh_blocks("## The two commands")[0]
    with shell.broker(serve):
        out = shell.run("".join(tools), timeout=180)
    assert "Created topic t." in out, out
    # Java's partitioner puts k1 on partition 2 of 3: the dump shows the record.
    assert "Dumping vltava-data/t-2/00000000000000000000.log" in out, out
    assert re.search(r"offset: 0 .*key: k1 payload: hello", out), out
