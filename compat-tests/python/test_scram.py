"""SASL/SCRAM with the official tool and real clients: users made with kafka-configs.sh
(AlterUserScramCredentials), described with it, then used by confluent-kafka (librdkafka 2.x),
kcat (librdkafka 2.0.2) and the Java console tools over SASL_PLAINTEXT and SASL_SSL with
SCRAM-SHA-256 and SCRAM-SHA-512; wrong passwords and unknown users refused with Kafka's error
while an authenticated client keeps producing; credentials kept across a restart."""
import json
import os
import shutil
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from test_sasl import PLAIN_JAAS, sasl_client
from test_tls import consume_confluent, expected, pem_listener, pki, produce_confluent  # noqa: F401
from conftest import COMPAT_DIR
from test_tools import kafka_tools, tool  # noqa: F401

KCAT = shutil.which("kcat")
MECHANISMS = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"


def refusal(mechanism: str) -> str:
    return ("Authentication failed during authentication due to invalid credentials with SASL "
            f"mechanism {mechanism}")


def scram_broker(broker_factory, listener="SASL_PLAINTEXT", **extra):
    prefix = f"listener.name.{listener.lower()}."
    overrides = {prefix + "sasl.enabled.mechanisms": MECHANISMS,
                 prefix + "plain.sasl.jaas.config": PLAIN_JAAS, **extra}
    return broker_factory(listeners=[listener], overrides=overrides)


def add_user(b, user: str, config: str):
    """kafka-configs.sh --alter --add-config over the PLAINTEXT listener."""
    return tool("kafka-configs", "--bootstrap-server", b.bootstrap, "--alter", "--add-config",
                config, "--entity-type", "users", "--entity-name", user)


def auth_errors(conf: dict) -> list:
    """What a client with these settings is told when it tries to list topics."""
    errors = []
    admin = AdminClient({**conf, "error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        admin.poll(0.2)
    return [e for e in errors if e.code() == KafkaError._AUTHENTICATION]


def test_kafka_configs_creates_users_that_clients_log_in_with(broker_factory, kafka_tools, topic):
    b = scram_broker(broker_factory)
    add_user(b, "alice", "SCRAM-SHA-256=[iterations=8192,password=alice-secret]")
    add_user(b, "alice", "SCRAM-SHA-512=[password=alice-512]")
    add_user(b, "bob", "SCRAM-SHA-512=[iterations=4096,password=bob-secret]")
    # As Kafka 4.4's controller: one user twice in a request (both mechanisms in one
    # --add-config) is DUPLICATE_RESOURCE.
    run = tool("kafka-configs", "--bootstrap-server", b.bootstrap, "--alter", "--add-config",
               "SCRAM-SHA-256=[password=x1],SCRAM-SHA-512=[password=x2]", "--entity-type", "users",
               "--entity-name", "carol", ok=False)
    assert "A user credential cannot be altered twice in the same request" in run.out + run.err, run

    sasl = b.bootstrap_of("SASL_PLAINTEXT")
    alice256 = sasl_client(sasl, "alice", "alice-secret", mechanism="SCRAM-SHA-256")
    alice512 = sasl_client(sasl, "alice", "alice-512", mechanism="SCRAM-SHA-512")
    bob = sasl_client(sasl, "bob", "bob-secret", mechanism="SCRAM-SHA-512")
    assert produce_confluent(alice256, topic, 20, "scram") == list(range(20))
    assert consume_confluent(alice512, topic, 20) == expected(20, "scram")
    assert consume_confluent(bob, topic, 20) == expected(20, "scram")

    # Refusals: wrong password, the other mechanism's password, a mechanism without a
    # credential, an unknown user — Kafka's message each time; alice keeps producing.
    for conf, mechanism in [
        ({**alice256, "sasl.password": "wrong"}, "SCRAM-SHA-256"),
        ({**alice256, "sasl.password": "alice-512"}, "SCRAM-SHA-256"),
        ({**bob, "sasl.mechanism": "SCRAM-SHA-256"}, "SCRAM-SHA-256"),
        ({**bob, "sasl.username": "mallory"}, "SCRAM-SHA-512"),
    ]:
        errors = auth_errors(conf)
        assert errors and refusal(mechanism) in errors[0].str(), errors
    assert produce_confluent(alice256, topic, 5, "after") == list(range(20, 25))

    # --delete-config removes one mechanism: that login stops working, the other still does.
    tool("kafka-configs", "--bootstrap-server", b.bootstrap, "--alter", "--delete-config",
         "SCRAM-SHA-512", "--entity-type", "users", "--entity-name", "alice")
    errors = auth_errors(alice512)
    assert errors and refusal("SCRAM-SHA-512") in errors[0].str(), errors
    assert consume_confluent(alice256, topic, 25)[:20] == expected(20, "scram")

    # Kept across a restart.
    b.restart()
    assert consume_confluent(bob, topic, 25)[:20] == expected(20, "scram")
    assert b.running()


def test_kafka_configs_describe_users(broker_factory, kafka_tools):
    b = scram_broker(broker_factory)
    add_user(b, "alice", "SCRAM-SHA-256=[iterations=8192,password=alice-secret]")
    add_user(b, "alice", "SCRAM-SHA-512=[password=alice-512]")
    run = tool("kafka-configs", "--bootstrap-server", b.bootstrap, "--describe",
               "--entity-type", "users", "--entity-name", "alice", ok=None)
    assert run.rc == 0, run
    assert ("SCRAM credential configs for user-principal 'alice' are "
            "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096") in run.out, run
    # Every user, when none is named.
    add_user(b, "bob", "SCRAM-SHA-512=[iterations=5000,password=bob-secret]")
    run = tool("kafka-configs", "--bootstrap-server", b.bootstrap, "--describe",
               "--entity-type", "users")
    assert ("SCRAM credential configs for user-principal 'bob' are "
            "SCRAM-SHA-512=iterations=5000") in run.out, run
    assert "user-principal 'alice'" in run.out, run


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_confluent_scram_over_sasl_ssl(broker_factory, kafka_tools, pki, topic, mechanism):
    b = scram_broker(broker_factory, "SASL_SSL",
                     **{f"listener.name.sasl_ssl.{k}": v for k, v in pem_listener(pki).items()})
    add_user(b, "alice", f"{mechanism}=[password=alice-secret]")
    conf = sasl_client(b.bootstrap_of("SASL_SSL"), "alice", "alice-secret", protocol="sasl_ssl",
                       mechanism=mechanism, **{"ssl.ca.location": str(pki["ca"])})
    assert produce_confluent(conf, topic, 30, "scram-ssl") == list(range(30))
    assert consume_confluent(conf, topic, 30) == expected(30, "scram-ssl")
    errors = auth_errors({**conf, "sasl.password": "wrong"})
    assert errors and refusal(mechanism) in errors[0].str(), errors


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed")
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_kcat_scram(broker_factory, kafka_tools, topic, mechanism):
    b = scram_broker(broker_factory)
    add_user(b, "alice", f"{mechanism}=[password=alice-secret]")
    args = ["-b", b.bootstrap_of("SASL_PLAINTEXT"), "-X", "security.protocol=sasl_plaintext",
            "-X", f"sasl.mechanism={mechanism}", "-X", "sasl.username=alice"]
    lines = "\n".join(f"kcat-{i}" for i in range(10)) + "\n"
    res = subprocess.run([KCAT, *args, "-X", "sasl.password=alice-secret", "-P", "-t", topic],
                         input=lines, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([KCAT, *args, "-X", "sasl.password=alice-secret", "-C", "-t", topic,
                          "-o", "beginning", "-c", "10", "-f", "%o:%s\\n", "-e"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"{i}:kcat-{i}" for i in range(10)]
    res = subprocess.run([KCAT, *args, "-X", "sasl.password=nope", "-L", "-m", "5"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "invalid credentials" in res.stderr, res.stderr


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_java_console_tools_over_sasl_plaintext(broker_factory, kafka_tools, tmp_path, topic,
                                                mechanism):
    b = scram_broker(broker_factory)
    if mechanism == "PLAIN":
        module = "org.apache.kafka.common.security.plain.PlainLoginModule"
    else:
        module = "org.apache.kafka.common.security.scram.ScramLoginModule"
        add_user(b, "alice", f"{mechanism}=[password=alice-secret]")
    props = tmp_path / "client-sasl.properties"

    def write_props(password):
        props.write_text("\n".join([
            "security.protocol=SASL_PLAINTEXT",
            f"sasl.mechanism={mechanism}",
            f'sasl.jaas.config={module} required username="alice" password="{password}";',
        ]) + "\n")

    write_props("alice-secret")
    lines = [f"java-{i}" for i in range(25)]
    tool("kafka-console-producer", "--bootstrap-server", b.bootstrap_of("SASL_PLAINTEXT"),
         "--topic", topic, "--command-config", props, input="\n".join(lines) + "\n", timeout=180)
    run = tool("kafka-console-consumer", "--bootstrap-server", b.bootstrap_of("SASL_PLAINTEXT"),
               "--topic", topic, "--from-beginning", "--max-messages", "25",
               "--command-config", props, "--formatter-property", "print.offset=true",
               "--timeout-ms", "60000", timeout=180)
    got = [l for l in run.out.splitlines() if l.strip()]
    assert got == [f"Offset:{i}\tjava-{i}" for i in range(25)], run
    # A wrong password: the Java client reports Kafka's message and gives up.
    write_props("wrong")
    run = tool("kafka-topics", "--bootstrap-server", b.bootstrap_of("SASL_PLAINTEXT"), "--list",
               "--command-config", props, timeout=120, ok=False)
    expected_text = ("Invalid username or password" if mechanism == "PLAIN"
                     else refusal(mechanism))
    assert expected_text in run.out + run.err, run


# ---------------------------------------------------------------------------------------------
# Go: franz-go (compat-tests/go, `sasl` and `tls_ca` in its spec). The driver is built into this
# session's temporary directory, so the shared one (`setup.sh go`) is never raced.

@pytest.fixture(scope="module")
def gocompat(tmp_path_factory):
    go = shutil.which("go") or "/usr/local/go/bin/go"
    out = tmp_path_factory.mktemp("gocompat") / "gocompat"
    res = subprocess.run([go, "build", "-trimpath", "-o", str(out), "."], cwd=COMPAT_DIR / "go",
                         env={**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false"},
                         capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        pytest.fail(f"building the Go driver failed:\n{res.stderr[-4000:]}")
    return out


def run_franz(gocompat, scenario: str, bootstrap: str, spec: dict, tmp_path) -> dict:
    spec = {"debug": False, "timeout_s": 40, **spec}
    log = tmp_path / f"franz-{scenario}.log"
    with open(log, "w") as err:
        res = subprocess.run([str(gocompat), "franz", scenario, bootstrap], input=json.dumps(spec),
                             stdout=subprocess.PIPE, stderr=err, text=True, timeout=60)
    try:
        out = json.loads(res.stdout)
    except ValueError:
        out = {"fatal": f"no JSON result: {res.stdout[-2000:]!r}"}
    out["_log"] = log.read_text(errors="replace")
    return out


def go_records(n: int, prefix: str) -> list:
    return [{"p": 0, "k": f"k{i}".encode().hex(), "v": f"{prefix}-{i}".encode().hex(), "h": [],
             "ts": 1_700_000_000_000 + i} for i in range(n)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "SSL"])
def test_franz_go(broker_factory, kafka_tools, gocompat, pki, tmp_path, mechanism):
    from conftest import unique_topic
    topic = unique_topic("franz-" + mechanism.lower())
    if mechanism == "SSL":
        b = broker_factory(listeners=["SSL"], overrides=pem_listener(pki))
        bootstrap = b.bootstrap_of("SSL")
        security = {"tls_ca": str(pki["ca"])}
    else:
        b = scram_broker(broker_factory)
        bootstrap = b.bootstrap_of("SASL_PLAINTEXT")
        password = "alice-secret"
        if mechanism != "PLAIN":
            add_user(b, "alice", f"{mechanism}=[password={password}]")
        security = {"sasl": {"mechanism": mechanism, "user": "alice", "password": password}}
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    from confluent_kafka.admin import NewTopic
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    recs = go_records(15, "go")
    out = run_franz(gocompat, "produce", bootstrap, {"topic": topic, "idempotent": True,
                    "chunks": [{"codec": "none", "records": recs}], **security}, tmp_path)
    assert "fatal" not in out, out
    acks = out["chunks"][0]["acks"]
    assert [(a["o"], a.get("err")) for a in acks] == [(i, None) for i in range(15)], acks
    out = run_franz(gocompat, "consume", bootstrap, {"topic": topic, **security}, tmp_path)
    assert "fatal" not in out, out
    assert [bytes.fromhex(r["v"]).decode() for r in out["records"]] == \
        [f"go-{i}" for i in range(15)]
    if mechanism == "SSL":
        return
    # A wrong password: franz-go reports Kafka's error and gets nothing.
    bad = {"sasl": {**security["sasl"], "password": "wrong"}}
    out = run_franz(gocompat, "consume", bootstrap, {"topic": topic, "timeout_s": 15, **bad},
                    tmp_path)
    assert "fatal" in out, out
    text = out["fatal"] + out["_log"]
    assert "SASL_AUTHENTICATION_FAILED" in text, text[-3000:]
    assert b.running()
