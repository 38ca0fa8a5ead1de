"""ACLs with the official kafka-acls.sh and real clients over SASL_PLAINTEXT/PLAIN.

The broker runs Kafka's StandardAuthorizer semantics (`authorizer.class.name`), `User:admin` is
a super user, alice gets grants through kafka-acls.sh, bob none. Every check reads what the tool
printed or what the client got (records, error codes), never just an exit status.
"""
import os
import re
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import COMPAT_DIR
from test_sasl import sasl_client

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret" user_bob="bob-secret";')
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


@pytest.fixture(scope="module")
def kafka_bin():
    bin_dir = COMPAT_DIR / "kafka" / "bin"
    if not (bin_dir / "kafka-acls.sh").exists():
        pytest.fail("the Kafka tools are not installed (setup.sh kafka)")
    return bin_dir


@pytest.fixture
def secured(broker_factory):
    return broker_factory(listeners=["SASL_PLAINTEXT"], overrides={
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
    })


def props_for(tmp_path, user: str):
    path = tmp_path / f"{user}.properties"
    path.write_text("\n".join([
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=PLAIN",
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{user}-secret";',
    ]) + "\n")
    return path


def run(kafka_bin, script, *args, input=None, timeout=120):
    env = {**os.environ, "KAFKA_HEAP_OPTS": "-Xmx256m",
           "KAFKA_JVM_PERFORMANCE_OPTS": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"}
    return subprocess.run([str(kafka_bin / f"{script}.sh"), *map(str, args)], input=input,
                          capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=None if input is not None else subprocess.DEVNULL)


def acls(kafka_bin, b, props, *args):
    res = run(kafka_bin, "kafka-acls", "--bootstrap-server", b.bootstrap_of("SASL_PLAINTEXT"),
              "--command-config", props, *args)
    assert res.returncode == 0, f"{args}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def listed(out: str) -> set[tuple[str, str, str, str]]:
    """(principal, host, operation, permissionType) of every ACL kafka-acls --list printed."""
    return set(re.findall(r"\(principal=(\S+), host=(\S+), operation=(\S+), permissionType=(\S+)\)",
                          out))


def create_topic(conf: dict, name: str):
    client = AdminClient(conf)  # kept alive until the future resolves
    client.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)


def produce_error(conf: dict, topic: str) -> KafkaError | None:
    """The delivery error of one record (None when delivered)."""
    outcome = []
    p = Producer({**conf, "enable.idempotence": False, "message.timeout.ms": 10000})
    p.produce(topic, b"v", on_delivery=lambda err, msg: outcome.append(err))
    p.flush(20)
    assert outcome, "no delivery report"
    return outcome[0]


def test_kafka_acls_add_list_remove_and_the_clients_it_governs(secured, kafka_bin, tmp_path):
    b = secured
    admin_props = props_for(tmp_path, "admin")
    sasl = b.bootstrap_of("SASL_PLAINTEXT")
    admin = sasl_client(sasl, "admin", "admin-secret")
    alice = sasl_client(sasl, "alice", "alice-secret")
    bob = sasl_client(sasl, "bob", "bob-secret")
    create_topic(admin, "orders")

    out = acls(kafka_bin, b, admin_props, "--add", "--allow-principal", "User:alice",
               "--operation", "Read", "--operation", "Write", "--topic", "orders")
    assert "ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)" in out
    out = acls(kafka_bin, b, admin_props, "--list", "--topic", "orders")
    assert listed(out) == {("User:alice", "*", "READ", "ALLOW"), ("User:alice", "*", "WRITE", "ALLOW")}

    # alice writes; bob is refused with Kafka's error.
    assert produce_error(alice, "orders") is None
    err = produce_error(bob, "orders")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    # bob sees no topics in metadata; alice sees hers.
    assert "orders" not in AdminClient(bob).list_topics(timeout=10).topics
    assert "orders" in AdminClient(alice).list_topics(timeout=10).topics

    # Prefixed patterns and the --consumer convenience (READ+DESCRIBE on topics, READ on group).
    acls(kafka_bin, b, admin_props, "--add", "--allow-principal", "User:alice", "--consumer",
         "--topic", "ord", "--group", "team-", "--resource-pattern-type", "prefixed")
    out = acls(kafka_bin, b, admin_props, "--list", "--topic", "ord",
               "--resource-pattern-type", "prefixed")
    assert listed(out) == {("User:alice", "*", "READ", "ALLOW"), ("User:alice", "*", "DESCRIBE", "ALLOW")}
    out = acls(kafka_bin, b, admin_props, "--list", "--group", "team-",
               "--resource-pattern-type", "prefixed")
    assert listed(out) == {("User:alice", "*", "READ", "ALLOW")}

    # alice consumes in a group under the prefix; bob's group is refused.
    c = Consumer({**alice, "group.id": "team-1", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    got = None
    for _ in range(30):
        m = c.poll(1)
        if m is not None and m.error() is None:
            got = m.value()
            break
    c.close()
    assert got == b"v"
    c = Consumer({**bob, "group.id": "team-1", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    errors = []
    for _ in range(15):
        m = c.poll(1)
        if m is not None and m.error() is not None:
            errors.append(m.error())
            break
    c.close()
    assert any(e.code() in (KafkaError.GROUP_AUTHORIZATION_FAILED,
                            KafkaError.TOPIC_AUTHORIZATION_FAILED) for e in errors), errors

    # --producer: WRITE, DESCRIBE, CREATE on the topic (IDEMPOTENT_WRITE is implied by WRITE).
    acls(kafka_bin, b, admin_props, "--add", "--allow-principal", "User:bob", "--producer",
         "--topic", "bob-topic")
    out = acls(kafka_bin, b, admin_props, "--list", "--topic", "bob-topic")
    assert listed(out) == {("User:bob", "*", "WRITE", "ALLOW"), ("User:bob", "*", "DESCRIBE", "ALLOW"),
                           ("User:bob", "*", "CREATE", "ALLOW")}
    create_topic(bob, "bob-topic")
    assert produce_error(bob, "bob-topic") is None

    # --remove --force takes them away, and bob is refused again.
    acls(kafka_bin, b, admin_props, "--remove", "--force", "--topic", "bob-topic")
    assert listed(acls(kafka_bin, b, admin_props, "--list", "--topic", "bob-topic")) == set()
    err = produce_error(bob, "bob-topic")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err

    # Only the super user may manage ACLs.
    res = run(kafka_bin, "kafka-acls", "--bootstrap-server", sasl, "--command-config",
              props_for(tmp_path, "bob"), "--list")
    assert "ClusterAuthorizationException" in res.stdout + res.stderr, res.stdout + res.stderr


def test_java_client_allowed_and_refused(secured, kafka_bin, tmp_path):
    b = secured
    sasl = b.bootstrap_of("SASL_PLAINTEXT")
    admin = sasl_client(sasl, "admin", "admin-secret")
    create_topic(admin, "java-t")
    acls(kafka_bin, b, props_for(tmp_path, "admin"), "--add", "--allow-principal", "User:alice",
         "--producer", "--topic", "java-t")
    lines = "\n".join(f"java-{i}" for i in range(5)) + "\n"
    ok = run(kafka_bin, "kafka-console-producer", "--bootstrap-server", sasl, "--topic", "java-t",
             "--command-config", props_for(tmp_path, "alice"), input=lines)
    assert ok.returncode == 0, ok.stderr
    refused = run(kafka_bin, "kafka-console-producer", "--bootstrap-server", sasl, "--topic",
                  "java-t", "--command-config", props_for(tmp_path, "bob"), input=lines)
    text = refused.stdout + refused.stderr
    assert "AuthorizationException" in text, text
    # What alice wrote is there, and only that.
    c = Consumer({**admin, "group.id": "check", "auto.offset.reset": "earliest"})
    c.subscribe(["java-t"])
    values = []
    for _ in range(30):
        m = c.poll(1)
        if m is not None and m.error() is None:
            values.append(m.value())
        if len(values) == 5:
            break
    c.close()
    assert values == [f"java-{i}".encode() for i in range(5)]


# ---------------------------------------------------------------------------------------------
# The same scenario against a real Kafka 4.4 with StandardAuthorizer and a SASL_PLAINTEXT/PLAIN
# listener (the oracle), and against Vltava configured alike: the outcomes must be equal.

SUPER_USERS = "User:admin;User:ANONYMOUS"  # ANONYMOUS: Kafka's own controller/broker listeners


@pytest.fixture(scope="module")
def secured_kafka(tmp_path_factory):
    from real_kafka import RealKafka, _free_port
    sasl_port = _free_port()
    k = RealKafka(tmp_path_factory.mktemp("real-kafka-acls"))
    k.overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{k.port},CONTROLLER://127.0.0.1:{k.controller_port},"
                     f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{k.port},"
                                f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "listener.security.protocol.map":
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": SUPER_USERS,
    }
    try:
        k.start()
    except RuntimeError as e:
        pytest.fail(f"real Kafka did not start: {e}")
    yield f"127.0.0.1:{sasl_port}"
    k.stop()


def scenario(sasl: str) -> dict:
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                       AclPermissionType, ResourcePatternType, ResourceType)
    admin = sasl_client(sasl, "admin", "admin-secret")
    alice = sasl_client(sasl, "alice", "alice-secret")
    bob = sasl_client(sasl, "bob", "bob-secret")
    create_topic(admin, "m-topic")
    a = AdminClient(admin)
    grants = [AclBinding(ResourceType.TOPIC, "m-", ResourcePatternType.PREFIXED, "User:alice", "*",
                         op, AclPermissionType.ALLOW)
              for op in (AclOperation.WRITE, AclOperation.READ)]
    grants.append(AclBinding(ResourceType.GROUP, "m-group", ResourcePatternType.LITERAL,
                             "User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW))
    for f in a.create_acls(grants).values():
        f.result(timeout=30)
    time.sleep(2)  # Kafka's authorizer learns new ACLs from its metadata log asynchronously
    # A fresh Kafka answers NOT_COORDINATOR until __consumer_offsets is created and loaded; wait
    # for its group coordinator (as the admin) so only authorization differs below.
    deadline = time.monotonic() + 60
    while True:
        w = Consumer({**admin, "group.id": "m-warm-up", "enable.auto.commit": False})
        try:
            w.commit(offsets=[TopicPartition("m-topic", 0, 0)], asynchronous=False)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        finally:
            w.close()

    def code(err):
        return None if err is None else err.code()

    def refused(call):
        try:
            call()
            return None
        except KafkaException as e:
            return e.args[0].code()

    out = {}
    for name, conf in (("alice", alice), ("bob", bob)):
        out[f"{name} produce"] = code(produce_error(conf, "m-topic"))
        out[f"{name} sees topic"] = "m-topic" in AdminClient(conf).list_topics(timeout=10).topics
        client = AdminClient(conf)
        out[f"{name} describe acls"] = refused(
            lambda: client.describe_acls(AclBindingFilter(
                ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                AclPermissionType.ANY)).result(timeout=10))
        out[f"{name} create topic"] = refused(
            lambda: client.create_topics([NewTopic(f"m-{name}-new", 1, 1)])
            [f"m-{name}-new"].result(timeout=10))
        c = Consumer({**conf, "group.id": "m-group", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        c.assign([TopicPartition("m-topic", 0)])
        got, error = None, None
        for _ in range(20):
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                error = m.error().code()
                break
            got = m.value()
            break
        out[f"{name} fetch"] = got if error is None else error
        try:
            c.commit(offsets=[TopicPartition("m-topic", 0, 1)], asynchronous=False)
            out[f"{name} commit"] = None
        except KafkaException as e:
            out[f"{name} commit"] = e.args[0].code()
        c.close()
    return out


def test_denials_match_real_kafka(secured_kafka, broker_factory):
    vltava = broker_factory(listeners=["SASL_PLAINTEXT"], overrides={
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": SUPER_USERS,
    })
    ours = scenario(vltava.bootstrap_of("SASL_PLAINTEXT"))
    theirs = scenario(secured_kafka)
    assert ours == theirs
    # And the scenario does tell allowed from refused.
    assert theirs["alice produce"] is None and theirs["bob produce"] == KafkaError.TOPIC_AUTHORIZATION_FAILED
