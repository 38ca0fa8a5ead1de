"""SASL listeners with real clients: confluent-kafka (librdkafka 2.x) and kcat (librdkafka 2.0.2)
over SASL_PLAINTEXT and SASL_SSL with PLAIN; users from the listener's JAAS config."""
import shutil
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from test_tls import consume_confluent, expected, pem_listener, pki, produce_confluent  # noqa: F401

KCAT = shutil.which("kcat")
PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" user_admin="admin-secret" '
              'user_alice="alice-secret";')


def sasl_client(bootstrap: str, user: str, password: str, protocol: str = "sasl_plaintext",
                mechanism: str = "PLAIN", **extra) -> dict:
    return {"bootstrap.servers": bootstrap, "security.protocol": protocol,
            "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password,
            **extra}


def plain_broker(broker_factory, listeners=("SASL_PLAINTEXT",), **extra):
    overrides = {"listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS, **extra}
    return broker_factory(listeners=list(listeners), overrides=overrides)


def test_confluent_plain_produce_and_consume(broker_factory, topic):
    b = plain_broker(broker_factory)
    conf = sasl_client(b.bootstrap_of("SASL_PLAINTEXT"), "alice", "alice-secret")
    assert produce_confluent(conf, topic, 40, "sasl-plain") == list(range(40))
    assert consume_confluent(conf, topic, 40) == expected(40, "sasl-plain")
    # Another user of the same JAAS config reads the same data.
    admin = sasl_client(b.bootstrap_of("SASL_PLAINTEXT"), "admin", "admin-secret")
    assert consume_confluent(admin, topic, 40) == expected(40, "sasl-plain")
    # The PLAINTEXT listener of the same broker needs no authentication.
    assert consume_confluent({"bootstrap.servers": b.bootstrap}, topic, 40) == expected(40, "sasl-plain")


def test_wrong_password_is_refused_and_others_keep_being_served(broker_factory, topic):
    b = plain_broker(broker_factory)
    good = sasl_client(b.bootstrap_of("SASL_PLAINTEXT"), "alice", "alice-secret")
    assert produce_confluent(good, topic, 5, "before") == list(range(5))

    for user, password in [("alice", "wrong-secret"), ("mallory", "alice-secret")]:
        errors = []
        admin = AdminClient(sasl_client(b.bootstrap_of("SASL_PLAINTEXT"), user, password,
                                        error_cb=errors.append))
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=5)
        deadline = time.monotonic() + 10
        while not errors and time.monotonic() < deadline:
            admin.poll(0.2)
        auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        assert auth, errors
        assert "Authentication failed: Invalid username or password" in auth[0].str()

    # The broker still serves the authenticated client, and its data is intact.
    assert produce_confluent(good, topic, 5, "after") == list(range(5, 10))
    got = consume_confluent(good, topic, 10)
    assert [v for _, _, v in got] == [f"before-{i}".encode() for i in range(5)] + \
        [f"after-{i}".encode() for i in range(5)]
    assert b.running()


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed")
def test_kcat_plain(broker_factory, topic):
    b = plain_broker(broker_factory)
    args = ["-b", b.bootstrap_of("SASL_PLAINTEXT"), "-X", "security.protocol=sasl_plaintext",
            "-X", "sasl.mechanism=PLAIN", "-X", "sasl.username=alice"]
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
    assert "Invalid username or password" in res.stderr


def test_confluent_plain_over_sasl_ssl(broker_factory, pki, topic):
    b = broker_factory(listeners=["SASL_SSL"], overrides={
        "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
        **{f"listener.name.sasl_ssl.{k}": v for k, v in pem_listener(pki).items()},
    })
    conf = sasl_client(b.bootstrap_of("SASL_SSL"), "alice", "alice-secret", protocol="sasl_ssl",
                       **{"ssl.ca.location": str(pki["ca"])})
    assert produce_confluent(conf, topic, 30, "sasl-ssl") == list(range(30))
    assert consume_confluent(conf, topic, 30) == expected(30, "sasl-ssl")
    errors = []
    bad = AdminClient({**conf, "sasl.password": "wrong", "error_cb": errors.append})
    with pytest.raises(KafkaException):
        bad.list_topics(timeout=5)
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        bad.poll(0.2)
    assert any("Invalid username or password" in e.str() for e in errors), errors
