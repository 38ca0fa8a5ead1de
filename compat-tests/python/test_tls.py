"""TLS listeners and several named listeners, with real clients: confluent-kafka (librdkafka
2.x), kcat (librdkafka 2.0.2) and the Java client (Kafka 4.4's console producer and consumer).

The PKI is made here with the openssl CLI (a CA, the broker's certificate for localhost and
127.0.0.1, a client certificate, and a client certificate from a CA the broker does not trust);
keytool turns PEM into the PKCS12 stores Java and the broker's PKCS12 key store use.
"""
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource

from conftest import COMPAT_DIR, Broker, vltava_bin

KCAT = shutil.which("kcat")
PASSWORD = "vltava-secret-1"
CLIENT_SUBJECT = "/C=CZ/O=Vltava/OU=Dev/CN=alice"


def run(*cmd, input=None):
    res = subprocess.run(list(map(str, cmd)), input=input, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}: {res.stderr}"
    return res.stdout


def make_ca(d: Path, name: str) -> tuple[Path, Path]:
    key, pem = d / f"{name}.key", d / f"{name}.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", pem,
        "-days", "2", "-subj", f"/CN={name}")
    return key, pem


def make_cert(d: Path, name: str, subject: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    key, csr, pem, extf = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem", d / f"{name}.ext"
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
    extf.write_text(ext + "\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
        "-out", pem, "-days", "2", "-extfile", extf)
    return key, pem


def to_pkcs12(d: Path, name: str, key: Path, pem: Path) -> Path:
    """A PKCS12 key store as keytool writes it (openssl makes it, keytool re-encodes it)."""
    raw, out = d / f"{name}-openssl.p12", d / f"{name}.p12"
    run("openssl", "pkcs12", "-export", "-inkey", key, "-in", pem, "-name", name, "-out", raw,
        "-passout", f"pass:{PASSWORD}")
    run("keytool", "-importkeystore", "-noprompt", "-srckeystore", raw, "-srcstoretype", "PKCS12",
        "-srcstorepass", PASSWORD, "-destkeystore", out, "-deststoretype", "PKCS12",
        "-deststorepass", PASSWORD)
    return out


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None or shutil.which("keytool") is None:
        pytest.fail("openssl and keytool (Java 17) are needed")
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d, "ca")
    rogue_ca = make_ca(d, "rogue-ca")
    server = make_cert(d, "server", "/CN=localhost", ca,
                       "subjectAltName=DNS:localhost,IP:127.0.0.1")
    client = make_cert(d, "client", CLIENT_SUBJECT, ca, "extendedKeyUsage=clientAuth")
    rogue = make_cert(d, "rogue", "/CN=mallory", rogue_ca, "extendedKeyUsage=clientAuth")
    server_pem_store = d / "server-store.pem"
    server_pem_store.write_text(server[0].read_text() + server[1].read_text())
    truststore = d / "truststore.p12"
    run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", ca[1], "-keystore",
        truststore, "-storetype", "PKCS12", "-storepass", PASSWORD)
    return {
        "dir": d, "ca": ca[1], "server_key": server[0], "server_cert": server[1],
        "server_pem_store": server_pem_store,
        "server_p12": to_pkcs12(d, "server", *server),
        "client_key": client[0], "client_cert": client[1],
        "client_p12": to_pkcs12(d, "client", *client),
        "rogue_key": rogue[0], "rogue_cert": rogue[1],
        "truststore_p12": truststore,
    }


def broker_output(b) -> str:
    """What the broker itself printed (the fixture's own lines, with the command line, left out)."""
    return "".join(l for l in b.log_tail(100_000).splitlines(keepends=True)
                   if not l.startswith("====="))


def pem_listener(pki, **extra) -> dict:
    return {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki["server_pem_store"]), **extra}


def ssl_client(pki, bootstrap, cert=None, key=None, **extra) -> dict:
    conf = {"bootstrap.servers": bootstrap, "security.protocol": "ssl",
            "ssl.ca.location": str(pki["ca"])}
    if cert:
        conf.update({"ssl.certificate.location": str(cert), "ssl.key.location": str(key)})
    conf.update(extra)
    return conf


def produce_confluent(conf: dict, topic: str, n: int, tag: str) -> list[int]:
    """Produces n keyed records and returns their offsets, in order."""
    p = Producer({**conf, "linger.ms": 5})
    offsets = []

    def done(err, msg):
        assert err is None, err
        offsets.append(msg.offset())

    for i in range(n):
        p.produce(topic, key=f"k{i}".encode(), value=f"{tag}-{i}".encode(), on_delivery=done)
    assert p.flush(60) == 0
    return offsets


def consume_confluent(conf: dict, topic: str, n: int) -> list[tuple[int, bytes, bytes]]:
    c = Consumer({**conf, "group.id": f"g-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            got.append((m.offset(), m.key(), m.value()))
        c.commit(asynchronous=False)
    finally:
        c.close()
    return got


def expected(n: int, tag: str):
    return [(i, f"k{i}".encode(), f"{tag}-{i}".encode()) for i in range(n)]


def test_confluent_over_ssl_without_client_certificate(broker_factory, pki, topic):
    b = broker_factory(listeners=["SSL"], overrides=pem_listener(pki))
    conf = ssl_client(pki, b.bootstrap_of("SSL"))
    assert produce_confluent(conf, topic, 50, "plain-tls") == list(range(50))
    # A partition of 50 small records comes back through the copy path (no sendfile on TLS).
    assert consume_confluent(conf, topic, 50) == expected(50, "plain-tls")
    # The same data read over the PLAINTEXT listener of the same broker.
    assert consume_confluent({"bootstrap.servers": b.bootstrap}, topic, 50) == expected(50, "plain-tls")

    # Larger fetches (~12 MB in many batches) through the TLS copy path, byte for byte.
    big = topic + "-big"
    p = Producer({**conf, "linger.ms": 20, "batch.size": 1_000_000})
    values = [(f"{i:06d}-" * 500).encode() for i in range(3000)]  # 3,500 bytes each
    for i, v in enumerate(values):
        p.produce(big, key=str(i).encode(), value=v)
    assert p.flush(120) == 0
    got = consume_confluent({**conf, "fetch.max.bytes": 4_000_000}, big, 3000)
    assert [(o, k, v) for o, k, v in got] == [(i, str(i).encode(), v) for i, v in enumerate(values)]


def test_client_certificate_required_pkcs12_keystore(broker_factory, pki, topic):
    """PKCS12 key store written by keytool, trust store given in config as PEM, client
    certificates required: a trusted client works, an untrusted one is refused, and the broker
    keeps serving."""
    b = broker_factory(listeners=["SSL"], overrides={
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(pki["server_p12"]),
        "ssl.keystore.password": PASSWORD,
        "ssl.key.password": PASSWORD,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.certificates": pki["ca"].read_text(),
        "ssl.client.auth": "required",
    })
    good = ssl_client(pki, b.bootstrap_of("SSL"), pki["client_cert"], pki["client_key"])
    assert produce_confluent(good, topic, 20, "mtls") == list(range(20))

    # No certificate at all, then a certificate from a CA the broker does not trust.
    for cert, key in ((None, None), (pki["rogue_cert"], pki["rogue_key"])):
        bad = Producer(ssl_client(pki, b.bootstrap_of("SSL"), cert, key,
                                  **{"message.timeout.ms": 4000, "retries": 0}))
        errors = []
        bad.produce(topic, value=b"must not arrive",
                    on_delivery=lambda err, msg: errors.append(err))
        bad.flush(30)
        del bad  # stop its reconnect attempts
        assert len(errors) == 1 and errors[0] is not None, errors
    assert "TLS handshake on listener SSL failed" in b.log_tail(400)

    # The broker still serves the trusted client and the PLAINTEXT listener; nothing of the
    # refused producers arrived.
    assert produce_confluent(good, topic, 5, "after") == list(range(20, 25))
    got = consume_confluent({"bootstrap.servers": b.bootstrap}, topic, 25)
    assert got == expected(20, "mtls") + [(20 + i, f"k{i}".encode(), f"after-{i}".encode())
                                          for i in range(5)]
    assert PASSWORD not in broker_output(b)


@pytest.mark.skipif(KCAT is None, reason="kcat not installed")
def test_kcat_over_ssl_with_pem_in_config_and_listener_prefix(broker_factory, pki, topic):
    """Kafka's PEM-in-config keys under the listener prefix of a custom listener name."""
    prefix = "listener.name.secure."
    b = broker_factory(listeners=["SECURE"], overrides={
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SECURE:SSL",
        prefix + "ssl.keystore.type": "PEM",
        prefix + "ssl.keystore.certificate.chain": pki["server_cert"].read_text(),
        prefix + "ssl.keystore.key": pki["server_key"].read_text(),
        prefix + "ssl.truststore.type": "PEM",
        prefix + "ssl.truststore.location": str(pki["ca"]),
        prefix + "ssl.client.auth": "requested",
    })
    base = [KCAT, "-b", b.bootstrap_of("SECURE"), "-m", "15", "-X", "security.protocol=ssl",
            "-X", f"ssl.ca.location={pki['ca']}"]
    with_cert = base + ["-X", f"ssl.certificate.location={pki['client_cert']}",
                        "-X", f"ssl.key.location={pki['client_key']}"]
    lines = [f"k{i}:value {i}" for i in range(30)]
    # requested: without a certificate the producer is let in, with one the consumer is.
    run(*base, "-P", "-t", topic, "-K:", input="".join(l + "\n" for l in lines))
    out = run(*with_cert, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %k=%s\n")
    assert out.splitlines() == [f"{i} k{i}=value {i}" for i in range(30)]
    meta = run(*base, "-L", "-t", topic)
    assert f"broker 1 at 127.0.0.1:{b.listener_ports['SECURE']}" in meta, meta


@pytest.fixture(scope="module")
def kafka_bin() -> Path:
    if shutil.which("java") is None:
        pytest.fail("java not found (Java 17 is required; setup.sh installs it)")
    res = subprocess.run(["bash", str(COMPAT_DIR / "setup.sh"), "kafka"], capture_output=True,
                         text=True, timeout=1800, stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        pytest.fail(f"setup.sh kafka failed:\n{res.stdout}\n{res.stderr}")
    return COMPAT_DIR / "kafka" / "bin"


def test_java_console_tools_over_ssl_with_client_certificates(broker_factory, pki, kafka_bin,
                                                              tmp_path, topic):
    b = broker_factory(listeners=["SSL"], overrides=pem_listener(pki, **{
        "ssl.truststore.location": str(pki["ca"]),
        "ssl.client.auth": "required",
    }))
    props = tmp_path / "client-ssl.properties"
    props.write_text("\n".join([
        "security.protocol=SSL",
        f"ssl.truststore.location={pki['truststore_p12']}",
        "ssl.truststore.type=PKCS12",
        f"ssl.truststore.password={PASSWORD}",
        f"ssl.keystore.location={pki['client_p12']}",
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.password={PASSWORD}",
        f"ssl.key.password={PASSWORD}",
    ]) + "\n")
    env_opts = {"KAFKA_HEAP_OPTS": "-Xmx256m"}
    import os
    env = {**os.environ, **env_opts}
    lines = [f"java-{i}" for i in range(25)]
    res = subprocess.run([kafka_bin / "kafka-console-producer.sh", "--bootstrap-server",
                          b.bootstrap_of("SSL"), "--topic", topic, "--command-config", props],
                         input="\n".join(lines) + "\n", capture_output=True, text=True,
                         timeout=180, env=env)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([kafka_bin / "kafka-console-consumer.sh", "--bootstrap-server",
                          b.bootstrap_of("SSL"), "--topic", topic, "--from-beginning",
                          "--max-messages", "25", "--command-config", props,
                          "--formatter-property", "print.offset=true",
                          "--timeout-ms", "60000"],
                         capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stderr
    got = [l for l in res.stdout.splitlines() if l.strip()]
    assert got == [f"Offset:{i}\tjava-{i}" for i in range(25)], res.stdout


def test_each_listener_advertises_its_own_address(request, tmp_path, pki, topic):
    """PLAINTEXT, SSL and a custom PLAINTEXT-mapped name side by side, each with its own
    advertised address: Metadata, DescribeCluster and FindCoordinator (a group commit) answer
    every client with the listener it came in on."""
    b = Broker(tmp_path / "data", listeners=["SSL", "INTERNAL"], overrides=pem_listener(pki))
    ports = {"PLAINTEXT": b.port, **b.listener_ports}
    # Advertise different host names per listener (both resolve here; the SSL certificate
    # carries both), so a wrong match would show.
    advertised = {"PLAINTEXT": f"localhost:{ports['PLAINTEXT']}",
                  "SSL": f"127.0.0.1:{ports['SSL']}",
                  "INTERNAL": f"127.0.0.1:{ports['INTERNAL']}"}
    b.overrides.update({
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,INTERNAL:PLAINTEXT",
        "advertised.listeners": ",".join(f"{n}://{a}" for n, a in advertised.items()),
    })
    request.node._vltava_brokers = [b]
    b.start()
    try:
        check_listeners(b, pki, advertised, topic)
    finally:
        b.stop()


def check_listeners(b, pki, advertised, topic):
    confs = {
        "PLAINTEXT": {"bootstrap.servers": b.bootstrap},
        "SSL": ssl_client(pki, b.bootstrap_of("SSL")),
        "INTERNAL": {"bootstrap.servers": b.bootstrap_of("INTERNAL")},
    }
    for name, conf in confs.items():
        admin = AdminClient(conf)
        md = admin.list_topics(timeout=30)
        brokers = {(x.host, x.port) for x in md.brokers.values()}
        host, port = advertised[name].split(":")
        assert brokers == {(host, int(port))}, (name, brokers)
        cluster = admin.describe_cluster(request_timeout=30).result(30)
        assert [(n.host, n.port) for n in cluster.nodes] == [(host, int(port))], name
    # Produce through one listener, consume with a group (FindCoordinator) through each.
    assert produce_confluent(confs["INTERNAL"], topic, 10, "sides") == list(range(10))
    for name, conf in confs.items():
        assert consume_confluent(conf, topic, 10) == expected(10, "sides"), name


def test_secrets_are_sensitive_in_describe_configs(broker_factory, pki):
    b = broker_factory(listeners=["SSL"], overrides={
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(pki["server_p12"]),
        "listener.name.ssl.ssl.keystore.password": PASSWORD,
        "ssl.key.password": PASSWORD,
    })
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    entries = admin.describe_configs([res])[res].result(30)
    for name in ("ssl.key.password", "listener.name.ssl.ssl.keystore.password"):
        assert entries[name].is_sensitive, name
        assert entries[name].value is None, name
    assert entries["ssl.keystore.location"].value == str(pki["server_p12"])
    assert not entries["ssl.keystore.location"].is_sensitive
    assert PASSWORD not in broker_output(b)


@pytest.mark.parametrize("listeners, overrides, message", [
    ("PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0", {}, "has no JAAS config"),
    ("PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0", {}, "needs a key store"),
    ("PLAINTEXT://127.0.0.1:0,CUSTOM://127.0.0.1:0", {}, "no security protocol for listener CUSTOM"),
    ("PLAINTEXT://127.0.0.1:0", {"advertised.listeners": "SSL://h:1"}, "SSL is not one of the listeners"),
    ("PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
     {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": "/nonexistent/ks.p12",
      "ssl.keystore.password": PASSWORD}, "cannot read ssl.keystore.location"),
])
def test_bad_listener_settings_stop_start_up(tmp_path, listeners, overrides, message):
    cmd = [str(vltava_bin()), "serve", "--memory", "--listeners", listeners,
           "--log-dirs", str(tmp_path / "d")]
    for k, v in overrides.items():
        cmd += ["--override", f"{k}={v}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
    assert PASSWORD not in res.stderr
