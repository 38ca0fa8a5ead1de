"""SASL/OAUTHBEARER with real clients: confluent-kafka (librdkafka 2.16) with unsecured JWTs and
with an oauth_cb returning RS256 tokens signed here (openssl) and checked by the broker against a
JWKS file; kcat (librdkafka 2.0.2) with unsecured JWTs; the Java client (the official
kafka-producer-perf-test) with Kafka's OAuthBearerLoginModule, re-authenticating (KIP-368) many
times while it produces."""
import base64
import json
import re
import shutil
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from test_tls import consume_confluent, expected, produce_confluent
from test_tools import kafka_tools, tool, watermarks  # noqa: F401

KCAT = shutil.which("kcat")
OPENSSL = shutil.which("openssl")
LOGIN = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
JWKS_HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
PREFIX = "listener.name.sasl_plaintext.oauthbearer."


def oauth_broker(broker_factory, **extra):
    overrides = {"listener.name.sasl_plaintext.sasl.enabled.mechanisms": "OAUTHBEARER",
                 PREFIX + "sasl.jaas.config": f"{LOGIN} required;", **extra}
    return broker_factory(listeners=["SASL_PLAINTEXT"], overrides=overrides)


def unsecured_client(b, principal="alice", **extra) -> dict:
    return {"bootstrap.servers": b.bootstrap_of("SASL_PLAINTEXT"),
            "security.protocol": "sasl_plaintext", "sasl.mechanism": "OAUTHBEARER",
            "enable.sasl.oauthbearer.unsecure.jwt": True,
            "sasl.oauthbearer.config": f"principal={principal}", **extra}


def auth_errors(conf: dict) -> list:
    """Connects with conf and returns the authentication errors librdkafka reports."""
    errors = []
    admin = AdminClient({**conf, "error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        admin.poll(0.2)
    return [e for e in errors if e.code() == KafkaError._AUTHENTICATION]


def test_confluent_unsecured_jwt(broker_factory, topic):
    b = oauth_broker(broker_factory)
    conf = unsecured_client(b)
    assert produce_confluent(conf, topic, 30, "oauth") == list(range(30))
    assert consume_confluent(conf, topic, 30) == expected(30, "oauth")


def test_confluent_unsecured_jwt_missing_required_scope(broker_factory, topic):
    b = oauth_broker(broker_factory, **{
        PREFIX + "sasl.jaas.config": f'{LOGIN} required unsecuredValidatorRequiredScope="kafka";'})
    good = unsecured_client(b, **{"sasl.oauthbearer.config": "principal=alice scope=kafka,other"})
    assert produce_confluent(good, topic, 5, "scoped") == list(range(5))
    auth = auth_errors(unsecured_client(b, **{"sasl.oauthbearer.config": "principal=alice scope=other"}))
    assert auth, "expected an authentication failure"
    assert '{"status":"insufficient_scope", "scope":"[kafka]"}' in auth[0].str()
    assert consume_confluent(good, topic, 5) == expected(5, "scoped")


# ---- signed tokens: an RSA key made with openssl, its JWKS in a file ----

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RsaSigner:
    def __init__(self, directory, name="key"):
        self.key = directory / f"{name}.pem"
        subprocess.run([OPENSSL, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", str(self.key)], check=True, capture_output=True)
        modulus = subprocess.run([OPENSSL, "rsa", "-in", str(self.key), "-noout", "-modulus"],
                                 check=True, capture_output=True, text=True).stdout
        n = bytes.fromhex(modulus.strip().split("=", 1)[1])
        self.jwk = {"kty": "RSA", "kid": name, "use": "sig", "alg": "RS256",
                    "n": b64url(n), "e": b64url((65537).to_bytes(3, "big"))}
        self.kid = name

    def token(self, claims: dict) -> str:
        header = b64url(json.dumps({"alg": "RS256", "kid": self.kid, "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        signing_input = f"{header}.{body}".encode()
        sig = subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input, check=True, capture_output=True).stdout
        return f"{header}.{body}.{b64url(sig)}"


def claims(sub="svc", aud="kafka", lifetime=300) -> dict:
    now = int(time.time())
    return {"sub": sub, "aud": aud, "iss": "https://idp.test", "iat": now, "exp": now + lifetime}


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_confluent_oauth_cb_with_signed_tokens_and_jwks_file(broker_factory, topic, tmp_path):
    signer = RsaSigner(tmp_path, "k1")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [signer.jwk]}))
    b = oauth_broker(broker_factory, **{
        PREFIX + "sasl.server.callback.handler.class": JWKS_HANDLER,
        "sasl.oauthbearer.jwks.endpoint.url": f"file://{jwks}",
        "sasl.oauthbearer.expected.audience": "kafka",
        "sasl.oauthbearer.expected.issuer": "https://idp.test"})

    def client(make_claims, **extra):
        def oauth_cb(_config):
            c = make_claims()
            # librdkafka will not send a token it knows has expired: tell it a later expiry,
            # so the expired token reaches the broker.
            return signer.token(c), max(float(c["exp"]), time.time() + 60)
        return {"bootstrap.servers": b.bootstrap_of("SASL_PLAINTEXT"),
                "security.protocol": "sasl_plaintext", "sasl.mechanism": "OAUTHBEARER",
                "oauth_cb": oauth_cb, **extra}

    good = client(claims)
    assert produce_confluent(good, topic, 25, "signed") == list(range(25))
    assert consume_confluent(good, topic, 25) == expected(25, "signed")

    # Wrong audience, expired, and signed by a key the JWKS does not have: refused with
    # Kafka's invalid_token; the broker goes on serving the good client.
    stranger = RsaSigner(tmp_path, "k1-stranger")
    stranger.kid = "k1"
    for bad in [lambda: claims(aud="elsewhere"), lambda: claims(lifetime=-120)]:
        auth = auth_errors(client(bad))
        assert auth and '{"status":"invalid_token"}' in auth[0].str(), auth

    def stranger_cb(_config):
        c = claims()
        return stranger.token(c), float(c["exp"])
    auth = auth_errors({**good, "oauth_cb": stranger_cb})
    assert auth and '{"status":"invalid_token"}' in auth[0].str(), auth
    assert consume_confluent(good, topic, 25) == expected(25, "signed")

    # Any subject the IdP signs for is accepted.
    assert produce_confluent(client(lambda: claims(sub="other-svc")), topic, 1, "x") == [25]


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed")
def test_kcat_unsecured_jwt(broker_factory, topic):
    b = oauth_broker(broker_factory)
    args = ["-b", b.bootstrap_of("SASL_PLAINTEXT"), "-X", "security.protocol=sasl_plaintext",
            "-X", "sasl.mechanism=OAUTHBEARER", "-X", "enable.sasl.oauthbearer.unsecure.jwt=true",
            "-X", "sasl.oauthbearer.config=principal=alice"]
    lines = "\n".join(f"kcat-{i}" for i in range(10)) + "\n"
    res = subprocess.run([KCAT, *args, "-P", "-t", topic], input=lines, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([KCAT, *args, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o:%s\n"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"{i}:kcat-{i}" for i in range(10)]


def test_java_producer_reauthenticates_while_producing(broker_factory, kafka_tools, tmp_path):  # noqa: F811
    """The Java producer (kafka-producer-perf-test) with Kafka's unsecured login module and a
    2 s session: it re-authenticates every ~2 s on its connections while producing for ~12 s;
    every record arrives and the broker logged the re-authentications."""
    b = oauth_broker(broker_factory, **{PREFIX + "connections.max.reauth.ms": "2000"})
    props = tmp_path / "producer.properties"
    props.write_text("security.protocol=SASL_PLAINTEXT\n"
                     "sasl.mechanism=OAUTHBEARER\n"
                     f'sasl.jaas.config={LOGIN} required unsecuredLoginStringClaim_sub="alice";\n'
                     "acks=all\n")
    topic = "java-reauth"
    n = 3000
    r = tool("kafka-producer-perf-test", "--topic", topic, "--num-records", n, "--record-size", 100,
             "--throughput", 250, "--bootstrap-server", b.bootstrap_of("SASL_PLAINTEXT"),
             "--command-config", props, timeout=180)
    assert [l for l in r.lines if re.match(rf"^{n} records sent, ", l)], r
    assert watermarks(b.bootstrap, topic, 1) == {0: (0, n)}
    log = open(b.log_path, encoding="utf-8", errors="replace").read()
    reauths = re.findall(r"SASL re-authentication of User:alice succeeded", log)
    assert len(reauths) >= 4, log[-3000:]
    assert "expired without re-authentication" not in log
