"""The security matrix of issue 12: every client (the Java client, confluent-kafka, kcat and
franz-go) over every set-up (SSL, mutual TLS, SASL_PLAINTEXT and SASL_SSL with PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER), each let in and refused.

One broker serves the module, with a listener per set-up:

  PLAINTEXT            no security (set-up and checks)
  SSL                  TLS, no client certificate asked for
  MTLS                 TLS, client certificate required (`listener.name.mtls.ssl.client.auth`)
  SASL_PLAINTEXT       PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
  SASL_SSL             the same over TLS
  SASL_PLAINTEXT_DEV,  OAUTHBEARER with Kafka's unsecured (development) validator, for kcat,
  SASL_SSL_DEV         which can send only unsigned tokens

On SASL_PLAINTEXT and SASL_SSL, OAUTHBEARER is validated as in production: signed tokens (RS256)
checked against a JWKS file (Kafka's OAuthBearerValidatorCallbackHandler), with audience and
issuer.

Each cell: a client with good settings produces records; clients with bad settings (a wrong
password, an unknown user, an untrusted certificate, an unsigned or expired token) are refused,
and the text each client surfaces is checked; then the first client, still connected, produces
more, and everything is read back by offset and payload: the broker kept serving.

The Java cells run in one JVM (compat-tests/java/SecurityMatrix.java); franz-go runs through the
Go driver (compat-tests/go, `sasl`, `tls_ca`, `tls_cert`/`tls_key` in its spec).
"""
import gc
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, KafkaException
from confluent_kafka.admin import (AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)

from conftest import Broker, unique_topic
from test_java import java_cmd, java_cp  # noqa: F401
from test_oauth import JWKS_HANDLER, LOGIN, RsaSigner, b64url
from test_sasl import PLAIN_JAAS
from test_scram import gocompat, refusal as scram_refusal, run_franz  # noqa: F401
from test_tools import kafka_tools  # noqa: F401
from test_tls import CLIENT_SUBJECT, PASSWORD, make_ca, make_cert, pki, to_pkcs12  # noqa: F401

KCAT = shutil.which("kcat")
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
SASL_LISTENERS = ["SASL_PLAINTEXT", "SASL_SSL"]
# Listener name -> security protocol. The _DEV listeners take only OAUTHBEARER with Kafka's
# unsecured (development) validator: kcat's librdkafka 2.0.2 (Debian) has no OIDC login, so
# unsigned tokens are all it can send.
LISTENERS = {"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "MTLS": "SSL",
             "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL",
             "SASL_PLAINTEXT_DEV": "SASL_PLAINTEXT", "SASL_SSL_DEV": "SASL_SSL"}
# The set-ups, as "<listener>" or "<listener>/<mechanism>".
SETUPS = ["SSL", "MTLS"] + [f"{l}/{m}" for l in SASL_LISTENERS for m in MECHANISMS]
PASSWORDS = {"PLAIN": "alice-secret", "SCRAM-SHA-256": "alice-256", "SCRAM-SHA-512": "alice-512"}
ISSUER = "https://idp.test"
BEFORE, AFTER = 10, 5  # records produced before and after the refusals


@dataclass(frozen=True)
class Creds:
    """What a client presents: the CA it trusts, a client certificate, SASL credentials."""
    listener: str
    ca: str = "ca"                  # "ca" (the broker's) or "rogue-ca" (a stranger)
    cert: str | None = None         # "client" or "impostor": a key of Matrix.certs
    mechanism: str | None = None
    user: str = "alice"
    password: str = ""
    token: str = "good"             # OAUTHBEARER: a key of Matrix.tokens
    what: str = "good"              # how it is bad, for messages

    @property
    def tls(self) -> bool:
        return LISTENERS[self.listener] in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.mechanism is not None


def good_creds(setup: str) -> Creds:
    listener, _, mechanism = setup.partition("/")
    if listener == "MTLS":
        return Creds(listener, cert="client")
    if not mechanism:
        return Creds(listener)
    return Creds(listener, mechanism=mechanism, password=PASSWORDS.get(mechanism, ""))


def bad_creds(setup: str) -> list[Creds]:
    """The refused variants of a set-up."""
    good = good_creds(setup)
    if good.listener == "SSL":
        return [replace(good, ca="rogue-ca", what="broker certificate not trusted by the client")]
    if good.listener == "MTLS":
        # A certificate from an unrelated CA is never even sent: the broker's CertificateRequest
        # names the CAs it trusts, and OpenSSL, Java and Go then send no certificate. The
        # impostor's CA has the trusted CA's name but another key, so its certificate is sent
        # and the broker has to reject its signature.
        return [replace(good, cert=None, what="no client certificate"),
                replace(good, cert="impostor", what="client certificate not signed by a trusted CA")]
    if good.mechanism == "OAUTHBEARER":
        return [replace(good, token="unsigned", what="unsigned token"),
                replace(good, token="expired", what="expired token"),
                replace(good, token="stranger", what="token signed by a key not in the JWKS")]
    return [replace(good, password="wrong-secret", what="wrong password"),
            replace(good, user="mallory", what="unknown user")]


def sasl_refusal_text(mechanism: str) -> str:
    """The message of SASL_AUTHENTICATION_FAILED, as Kafka words it per mechanism."""
    if mechanism == "PLAIN":
        return "Authentication failed: Invalid username or password"
    if mechanism == "OAUTHBEARER":
        return '{"status":"invalid_token"}'
    return scram_refusal(mechanism)


# ---------------------------------------------------------------------------------------------
# The broker, the PKI, the tokens


@dataclass
class Matrix:
    broker: Broker
    pki: dict
    certs: dict = field(default_factory=dict)  # name -> {"cert", "key", "p12"} client certificates
    tokens: dict = field(default_factory=dict)  # name -> JWT
    token_files: dict = field(default_factory=dict)  # name -> Path (for the Java client)

    def bootstrap(self, listener: str) -> str:
        return self.broker.bootstrap if listener == "PLAINTEXT" else self.broker.bootstrap_of(listener)

    def ca_file(self, c: Creds) -> Path:
        """The PEM of the CA the client trusts: the broker's, or one that did not sign it."""
        return self.pki["ca"] if c.ca == "ca" else self.pki["dir"] / "rogue-ca.pem"

    def truststore(self, c: Creds) -> Path:
        """The same as a PKCS12 trust store (for the Java client)."""
        return self.pki["truststore_p12"] if c.ca == "ca" else self.pki["rogue_truststore_p12"]


def unsigned_token(sub: str) -> str:
    now = int(time.time())
    header = b64url(json.dumps({"alg": "none"}).encode())
    body = b64url(json.dumps({"sub": sub, "aud": "kafka", "iss": ISSUER, "iat": now,
                              "exp": now + 3600}).encode())
    return f"{header}.{body}."


def signed_claims(sub="alice", lifetime=3600) -> dict:
    now = int(time.time())
    return {"sub": sub, "aud": "kafka", "iss": ISSUER, "iat": now - 600, "exp": now + lifetime}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, pki):  # noqa: F811
    d = tmp_path_factory.mktemp("secmatrix")
    signer = RsaSigner(d, "k1")
    stranger = RsaSigner(d, "k1-stranger")
    stranger.kid = "k1"  # claims to be k1, signed with another key
    jwks = d / "jwks.json"
    jwks.write_text(json.dumps({"keys": [signer.jwk]}))
    overrides = {
        "listener.security.protocol.map": ",".join(f"{l}:{p}" for l, p in LISTENERS.items()),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki["server_pem_store"]),
        "listener.name.mtls.ssl.client.auth": "required",
        "listener.name.mtls.ssl.truststore.location": str(pki["ca"]),
        "sasl.oauthbearer.jwks.endpoint.url": f"file://{jwks}",
        "sasl.oauthbearer.expected.audience": "kafka",
        "sasl.oauthbearer.expected.issuer": ISSUER,
    }
    for l in SASL_LISTENERS:
        prefix = f"listener.name.{l.lower()}."
        overrides.update({
            prefix + "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            prefix + "plain.sasl.jaas.config": PLAIN_JAAS,
            prefix + "oauthbearer.sasl.jaas.config": f"{LOGIN} required;",
            prefix + "oauthbearer.sasl.server.callback.handler.class": JWKS_HANDLER,
        })
    for l in SASL_LISTENERS:
        prefix = f"listener.name.{l.lower()}_dev."
        overrides.update({prefix + "sasl.enabled.mechanisms": "OAUTHBEARER",
                          prefix + "oauthbearer.sasl.jaas.config": f"{LOGIN} required;"})
    b = Broker(d / "data", listeners=[l for l in LISTENERS if l != "PLAINTEXT"],
               overrides=overrides)
    b.start()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for mechanism, enum in (("SCRAM-SHA-256", ScramMechanism.SCRAM_SHA_256),
                            ("SCRAM-SHA-512", ScramMechanism.SCRAM_SHA_512)):
        up = UserScramCredentialUpsertion("alice", ScramCredentialInfo(enum, 4096),
                                          PASSWORDS[mechanism].encode())
        for f in admin.alter_user_scram_credentials([up]).values():
            f.result(30)

    m = Matrix(b, pki)
    impostor_ca = make_ca(d, "ca")  # /CN=ca, as the broker's CA, with another key
    impostor = make_cert(d, "impostor", CLIENT_SUBJECT, impostor_ca, "extendedKeyUsage=clientAuth")
    m.certs = {
        "client": {"cert": pki["client_cert"], "key": pki["client_key"], "p12": pki["client_p12"]},
        "impostor": {"cert": impostor[1], "key": impostor[0],
                     "p12": to_pkcs12(d, "impostor", *impostor)},
    }
    rogue_store = d / "rogue-truststore.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file",
                    str(pki["dir"] / "rogue-ca.pem"), "-keystore", str(rogue_store),
                    "-storetype", "PKCS12", "-storepass", PASSWORD], check=True,
                   capture_output=True)
    m.pki = {**pki, "rogue_truststore_p12": rogue_store}
    m.tokens = {
        "good": signer.token(signed_claims()),
        "expired": signer.token(signed_claims(lifetime=-600)),
        "stranger": stranger.token(signed_claims()),
        "unsigned": unsigned_token("alice"),
    }
    for name, tok in m.tokens.items():
        m.token_files[name] = d / f"{name}.jwt"
        m.token_files[name].write_text(tok)
    try:
        yield m
    finally:
        b.stop()


@pytest.fixture
def b(request, matrix):
    """Attaches the module's broker to the test, so a failure report carries its log."""
    request.node._vltava_brokers = [matrix.broker]
    return matrix


def cell_topic(client: str, setup: str) -> str:
    return unique_topic(f"sec-{client}-{setup.replace('/', '-').lower()}")


def check_data(got: list[tuple[int, str]], setup: str, tag: str):
    """The records of a cell, read back: BEFORE then AFTER records at offsets 0.. in order."""
    want = [(i, f"{tag}-before-{i}") for i in range(BEFORE)] + \
        [(BEFORE + i, f"{tag}-after-{i}") for i in range(AFTER)]
    assert got == want, (setup, got)


# ---------------------------------------------------------------------------------------------
# confluent-kafka (librdkafka 2.16)

def confluent_conf(m: Matrix, c: Creds) -> dict:
    conf = {"bootstrap.servers": m.bootstrap(c.listener),
            "security.protocol": LISTENERS[c.listener].lower()}
    if c.tls:
        conf["ssl.ca.location"] = str(m.ca_file(c))
    if c.cert:
        conf["ssl.certificate.location"] = str(m.certs[c.cert]["cert"])
        conf["ssl.key.location"] = str(m.certs[c.cert]["key"])
    if c.mechanism == "OAUTHBEARER":
        token = m.tokens[c.token]
        # librdkafka will not send a token it knows has expired: it is told a later expiry, so
        # the expired token reaches the broker.
        conf.update({"sasl.mechanism": "OAUTHBEARER",
                     "oauth_cb": lambda _cfg: (token, time.time() + 3600)})
    elif c.sasl:
        conf.update({"sasl.mechanism": c.mechanism, "sasl.username": c.user,
                     "sasl.password": c.password})
    return conf


def confluent_errors(conf: dict) -> list[str]:
    """Everything librdkafka reports when a client with these settings lists topics."""
    errors = []
    admin = AdminClient({**conf, "error_cb": errors.append, "reconnect.backoff.ms": 2000,
                         "reconnect.backoff.max.ms": 5000})
    # The client connects to the bootstrap server on its own; the error comes through error_cb.
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        admin.poll(0.1)
    if not errors:
        try:
            admin.list_topics(timeout=2)
            errors.append("let in: list_topics succeeded")
        except KafkaException:
            pass
    del admin  # no more reconnection attempts
    gc.collect()
    return [e if isinstance(e, str) else f"{e.name()}: {e.str()}" for e in errors]


CONFLUENT_TLS_REFUSALS = {
    "broker certificate not trusted by the client": "certificate verify failed",
    "no client certificate": "tlsv13 alert certificate required: SSL alert number 116",
    # The alert Kafka (JSSE) sends for any certificate its trust store does not vouch for.
    "client certificate not signed by a trusted CA":
        "alert certificate unknown: SSL alert number 46",  # "sslv3 "/"ssl/tls ": OpenSSL's age
}


@pytest.mark.parametrize("setup", SETUPS)
def test_confluent(b, setup):
    topic = cell_topic("confluent", setup)
    good = confluent_conf(b, good_creds(setup))
    p = Producer({**good, "linger.ms": 2})
    offsets = []

    def produce(tag, n):
        for i in range(n):
            p.produce(topic, partition=0, key=f"k{i}".encode(), value=f"{tag}-{i}".encode(),
                      on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
        assert p.flush(60) == 0

    produce("confluent-before", BEFORE)
    for bad in bad_creds(setup):
        errors = confluent_errors(confluent_conf(b, bad))
        want = (sasl_refusal_text(bad.mechanism) if bad.sasl
                else CONFLUENT_TLS_REFUSALS[bad.what])
        assert any(want in e for e in errors), (bad.what, errors)
        if bad.sasl:
            assert any(e.startswith("_AUTHENTICATION") for e in errors), (bad.what, errors)
    produce("confluent-after", AFTER)  # the same producer, its connection kept
    assert offsets == [(None, i) for i in range(BEFORE + AFTER)], offsets

    c = Consumer({**good, "group.id": f"g-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got, deadline = [], time.monotonic() + 30
    try:
        while len(got) < BEFORE + AFTER and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append((msg.offset(), msg.value().decode()))
    finally:
        c.close()
    check_data(got, setup, "confluent")


# ---------------------------------------------------------------------------------------------
# kcat 1.7.1 (librdkafka 2.0.2)

def kcat_args(m: Matrix, c: Creds) -> list[str]:
    args = ["-b", m.bootstrap(c.listener), "-X",
            f"security.protocol={LISTENERS[c.listener].lower()}"]
    if c.tls:
        args += ["-X", f"ssl.ca.location={m.ca_file(c)}"]
    if c.cert:
        args += ["-X", f"ssl.certificate.location={m.certs[c.cert]['cert']}",
                 "-X", f"ssl.key.location={m.certs[c.cert]['key']}"]
    if c.mechanism == "OAUTHBEARER":
        args += ["-X", "sasl.mechanism=OAUTHBEARER"]
        # librdkafka's own unsecured JWT (alg none): Debian's librdkafka 2.0.2 is built without
        # libcurl, so it has no OIDC login ("sasl.oauthbearer.method" not supported in this
        # build), and kcat cannot hand it a token of its own.
        assert c.token == "unsigned", c
        args += ["-X", "enable.sasl.oauthbearer.unsecure.jwt=true",
                 "-X", f"sasl.oauthbearer.config=principal={c.user}"]
    elif c.sasl:
        args += ["-X", f"sasl.mechanism={c.mechanism}", "-X", f"sasl.username={c.user}",
                 "-X", f"sasl.password={c.password}"]
    return args


def kcat(*args, input=None, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([KCAT, *args], input=input, capture_output=True, text=True,
                          timeout=timeout)


KCAT_TLS_REFUSALS = CONFLUENT_TLS_REFUSALS


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed")
@pytest.mark.parametrize("setup", SETUPS)
def test_kcat(b, setup):
    topic = cell_topic("kcat", setup)
    good_c, bads = good_creds(setup), bad_creds(setup)
    if good_c.mechanism == "OAUTHBEARER":
        # kcat sends only unsigned tokens (see kcat_args): let in by the development validator,
        # refused by the listener that checks signatures.
        good_c = replace(good_c, listener=good_c.listener + "_DEV", token="unsigned")
        bads = [c for c in bads if c.token == "unsigned"]
    good = kcat_args(b, good_c)

    def produce(tag, n):
        lines = "".join(f"k{i}:{tag}-{i}\n" for i in range(n))
        res = kcat(*good, "-P", "-t", topic, "-p", "0", "-K:", input=lines)
        assert res.returncode == 0, res.stderr

    produce("kcat-before", BEFORE)
    for bad in bads:
        res = kcat(*kcat_args(b, bad), "-L", "-m", "2")
        assert res.returncode != 0, (bad.what, res.stdout)
        want = (sasl_refusal_text(bad.mechanism) if bad.sasl else KCAT_TLS_REFUSALS[bad.what])
        assert want in res.stderr, (bad.what, res.stderr)
    produce("kcat-after", AFTER)
    res = kcat(*good, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%o %s\\n")
    assert res.returncode == 0, res.stderr
    got = [(int(o), v) for o, v in (line.split(" ", 1) for line in res.stdout.splitlines())]
    check_data(got, setup, "kcat")


# ---------------------------------------------------------------------------------------------
# Java kafka-clients 4.4.0: every cell in one JVM

def java_props(m: Matrix, c: Creds) -> str:
    lines = [f"bootstrap.servers={m.bootstrap(c.listener)}",
             f"security.protocol={LISTENERS[c.listener]}"]
    if c.tls:
        lines += [f"ssl.truststore.location={m.truststore(c)}", "ssl.truststore.type=PKCS12",
                  f"ssl.truststore.password={PASSWORD}"]
    if c.cert:
        lines += [f"ssl.keystore.location={m.certs[c.cert]['p12']}",
                  "ssl.keystore.type=PKCS12", f"ssl.keystore.password={PASSWORD}",
                  f"ssl.key.password={PASSWORD}"]
    if c.mechanism == "OAUTHBEARER":
        lines.append("sasl.mechanism=OAUTHBEARER")
        if c.token == "unsigned":
            # Kafka's own unsecured login (alg none tokens).
            lines.append(f'sasl.jaas.config={LOGIN} required unsecuredLoginStringClaim_sub="{c.user}";')
        else:
            # Kafka's OAuthBearerLoginCallbackHandler with a file token endpoint (KIP-768).
            lines += [f"sasl.jaas.config={LOGIN} required;",
                      "sasl.login.callback.handler.class=org.apache.kafka.common.security."
                      "oauthbearer.OAuthBearerLoginCallbackHandler",
                      f"sasl.oauthbearer.token.endpoint.url=file://{m.token_files[c.token]}"]
    elif c.sasl:
        module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if c.mechanism == "PLAIN"
                  else "org.apache.kafka.common.security.scram.ScramLoginModule")
        lines += [f"sasl.mechanism={c.mechanism}",
                  f'sasl.jaas.config={module} required username="{c.user}" password="{c.password}";']
    return "\n".join(lines) + "\n"


def oauth_jars(kafka_tools) -> list[str]:
    """kafka-clients' optional dependencies for OAUTHBEARER logins with a token endpoint
    (Jackson for the token, jose4j), from the Kafka distribution of setup.sh kafka, which ships
    them beside kafka-clients as an application would."""
    libs = Path(os.environ.get("VLTAVA_CACHE", Path.home() / ".cache" / "vltava")) / "kafka-4.4.0" / "libs"
    jars = [j for j in sorted(libs.glob("*.jar"))
            if j.name.startswith(("jackson-databind-", "jackson-core-", "jackson-annotations-",
                                  "jose4j-"))]
    assert len(jars) == 4, jars
    return [str(j) for j in jars]


@pytest.fixture(scope="module")
def java_results(matrix, java_cp, kafka_tools, tmp_path_factory):  # noqa: F811
    """Runs every Java cell in one JVM; returns {setup: [(event, rest)]} and the output."""
    d = tmp_path_factory.mktemp("java-cells")
    rows, topics = [], {}
    for n, setup in enumerate(SETUPS):
        name = setup.replace("/", "-")
        topics[setup] = cell_topic("java", setup)
        good = d / f"{n}-good.properties"
        good.write_text(java_props(matrix, good_creds(setup)))
        bads = []
        for i, bad in enumerate(bad_creds(setup)):
            path = d / f"{n}-bad{i}.properties"
            path.write_text(java_props(matrix, bad))
            bads.append(str(path))
        rows.append("\t".join([name, topics[setup], str(good), ",".join(bads)]))
    cells = d / "cells.tsv"
    cells.write_text("\n".join(rows) + "\n")
    # Kafka 4 reads OAuth token files only from allowed URLs.
    allowed = ",".join(f"file://{p}" for p in matrix.token_files.values())
    cmd = java_cmd(":".join([java_cp, *oauth_jars(kafka_tools)]), "SecurityMatrix", cells)
    cmd[1:1] = [f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={allowed}",
                "-Dorg.apache.kafka.sasl.oauthbearer.allowed.files=" +
                ",".join(str(p) for p in matrix.token_files.values())]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    results = {s: [] for s in SETUPS}
    by_name = {s.replace("/", "-"): s for s in SETUPS}
    for line in res.stdout.splitlines():
        if line.startswith("CELL "):
            _, name, event, rest = (line.split(" ", 3) + [""])[:4]
            results[by_name[name]].append((event, rest))
    return results, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr[-6000:]}"


JAVA_TLS_REFUSALS = {
    "broker certificate not trusted by the client":
        "org.apache.kafka.common.errors.SslAuthenticationException: SSL handshake failed",
    # TLS 1.3: the client has finished its handshake when the broker's alert arrives.
    "no client certificate":
        "org.apache.kafka.common.errors.SslAuthenticationException: Failed to process "
        "post-handshake messages <- javax.net.ssl.SSLHandshakeException: Received fatal alert: "
        "certificate_required",
    "client certificate not signed by a trusted CA":
        "org.apache.kafka.common.errors.SslAuthenticationException: Failed to process "
        "post-handshake messages <- javax.net.ssl.SSLHandshakeException: Received fatal alert: "
        "certificate_unknown",
}


@pytest.mark.parametrize("setup", SETUPS)
def test_java(b, java_results, setup):
    results, output = java_results
    events = results[setup]
    failed = [r for e, r in events if e == "FAILED"]
    assert not failed, f"{failed}\n{output}"
    produced = [r for e, r in events if e == "PRODUCED"]
    after = [r for e, r in events if e == "AFTER"]
    assert produced == [",".join(map(str, range(BEFORE)))], output
    assert after == [",".join(map(str, range(BEFORE, BEFORE + AFTER)))], output
    refused = [r.split(" ", 1)[1] for e, r in events if e == "REFUSED"]
    bads = bad_creds(setup)
    assert len(refused) == len(bads), output
    for bad, got in zip(bads, refused):
        if bad.sasl:
            want = ("org.apache.kafka.common.errors.SaslAuthenticationException: " +
                    sasl_refusal_text(bad.mechanism))
        else:
            want = JAVA_TLS_REFUSALS[bad.what]
        assert got.startswith(want), (bad.what, got)
    got = [(int(o), v) for o, v in (r.split(":", 1) for e, r in events if e == "READ")]
    check_data(got, setup, setup.replace("/", "-"))


# ---------------------------------------------------------------------------------------------
# franz-go (compat-tests/go)

def franz_spec(m: Matrix, c: Creds) -> dict:
    spec = {}
    if c.tls:
        spec["tls_ca"] = str(m.ca_file(c))
    if c.cert:
        spec["tls_cert"] = str(m.certs[c.cert]["cert"])
        spec["tls_key"] = str(m.certs[c.cert]["key"])
    if c.mechanism == "OAUTHBEARER":
        spec["sasl"] = {"mechanism": "OAUTHBEARER", "token": m.tokens[c.token]}
    elif c.sasl:
        spec["sasl"] = {"mechanism": c.mechanism, "user": c.user, "password": c.password}
    return spec


FRANZ_TLS_REFUSALS = {
    "broker certificate not trusted by the client": "x509: certificate signed by unknown authority",
    "no client certificate": "remote error: tls: certificate required",
    "client certificate not signed by a trusted CA": "remote error: tls: unknown certificate",
}


@pytest.mark.parametrize("setup", SETUPS)
def test_franz_go(b, gocompat, tmp_path, setup):  # noqa: F811
    topic = cell_topic("franz", setup)
    admin = AdminClient({"bootstrap.servers": b.broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    good = franz_spec(b, good_creds(setup))
    bootstrap = b.bootstrap(good_creds(setup).listener)

    def produce(tag, n):
        recs = [{"p": 0, "k": f"k{i}".encode().hex(), "v": f"{tag}-{i}".encode().hex(), "h": [],
                 "ts": 1_700_000_000_000 + i} for i in range(n)]
        out = run_franz(gocompat, "produce", bootstrap, {"topic": topic, "idempotent": True,
                        "chunks": [{"codec": "none", "records": recs}], **good}, tmp_path)
        assert "fatal" not in out, out
        return [(a["o"], a.get("err")) for a in out["chunks"][0]["acks"]]

    assert produce("franz-before", BEFORE) == [(i, None) for i in range(BEFORE)]
    for bad in bad_creds(setup):
        out = run_franz(gocompat, "consume", bootstrap,
                        {"topic": topic, "timeout_s": 15, **franz_spec(b, bad)}, tmp_path)
        assert "fatal" in out, (bad.what, out)
        if bad.sasl:
            assert "SASL_AUTHENTICATION_FAILED" in out["fatal"], (bad.what, out["fatal"])
            assert sasl_refusal_text(bad.mechanism) in out["fatal"], (bad.what, out["fatal"])
        else:
            assert FRANZ_TLS_REFUSALS[bad.what] in out["fatal"], (bad.what, out["fatal"])
    assert produce("franz-after", AFTER) == [(BEFORE + i, None) for i in range(AFTER)]
    out = run_franz(gocompat, "consume", bootstrap, {"topic": topic, **good}, tmp_path)
    assert "fatal" not in out, out
    got = [(r["o"], bytes.fromhex(r["v"]).decode()) for r in out["records"]]
    check_data(got, setup, "franz")
