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
        'user_alice="alice-secret" user_bob="bob-secret" user_carol="carol-secret" '
        'user_dave="dave-secret";')
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


# ---------------------------------------------------------------------------------------------
# The denial matrix for the group-membership, transactional, topic-admin and cluster-level APIs,
# request by request (raw_client: one exact request, every error code of the answer), against
# the same real Kafka and Vltava configured alike. Four principals: alice holds the grants
# (READ/WRITE on topics `x-*`, READ and DELETE on groups `x-*`, WRITE on transactional ids
# `x-*`); carol only WRITE on transactional ids `x-*`, DESCRIBE on group `x-g`, and
# IDEMPOTENT_WRITE, DESCRIBE, DESCRIBE_CONFIGS and ALTER_CONFIGS on the cluster (so the second
# check of a two-step authorization is reached: AddOffsetsToTxn's group, AddPartitionsToTxn's
# topic); dave CREATE, DELETE, ALTER and ALTER_CONFIGS on topics `z-*` and ALTER on the cluster
# (CreateTopics, CreatePartitions, DeleteTopics, DeleteRecords, AlterConfigs,
# IncrementalAlterConfigs, the ACL APIs, AlterUserScramCredentials, AlterPartitionReassignments,
# UpdateFeatures); bob nothing. Kafka's order of checks (KafkaApis, ControllerApis) decides which
# error a partly granted principal sees; the test compares outcomes, so any difference shows, and
# checks a few of Kafka's codes outright so it cannot pass vacuously.

from raw_client import RawClient, error_codes  # noqa: E402

MATRIX_VERSIONS = {
    "JoinGroup": 5, "SyncGroup": 3, "Heartbeat": 3, "LeaveGroup": 3, "OffsetCommit": 7,
    "OffsetFetch": 7, "OffsetDelete": 0, "DescribeGroups": 4, "ListGroups": 3, "DeleteGroups": 2,
    "FindCoordinator": 3, "InitProducerId": 3, "AddPartitionsToTxn": 3, "AddOffsetsToTxn": 3,
    "EndTxn": 3, "TxnOffsetCommit": 3, "DescribeConfigs": 4, "IncrementalAlterConfigs": 1,
    "DescribeLogDirs": 4, "ListPartitionReassignments": 0, "DescribeClientQuotas": 1,
    "DescribeUserScramCredentials": 0, "ElectLeaders": 2, "DescribeProducers": 0,
    "DescribeTransactions": 0, "ListTransactions": 0, "Metadata": 9, "DescribeCluster": 1,
    "CreateTopics": 7, "CreatePartitions": 3, "DeleteTopics": 6, "DeleteRecords": 2,
    "AlterConfigs": 2, "CreateAcls": 3, "DescribeAcls": 3, "DeleteAcls": 3,
    "AlterClientQuotas": 1, "AlterUserScramCredentials": 0, "AlterPartitionReassignments": 0,
    "UpdateFeatures": 1,
}
_MODULES = {
    "consumer.group": "JoinGroup SyncGroup Heartbeat LeaveGroup OffsetCommit OffsetFetch "
                      "OffsetDelete",
    "admin.groups": "DescribeGroups ListGroups DeleteGroups",
    "metadata.find_coordinator": "FindCoordinator",
    "metadata.metadata": "Metadata",
    "producer.transaction": "InitProducerId AddPartitionsToTxn AddOffsetsToTxn EndTxn "
                            "TxnOffsetCommit",
    "admin.configs": "DescribeConfigs IncrementalAlterConfigs AlterConfigs",
    "admin.cluster": "DescribeLogDirs DescribeCluster UpdateFeatures",
    "admin.topics": "ListPartitionReassignments ElectLeaders CreateTopics CreatePartitions "
                    "DeleteTopics DeleteRecords AlterPartitionReassignments",
    "admin.client_quotas": "DescribeClientQuotas AlterClientQuotas",
    "admin.users": "DescribeUserScramCredentials AlterUserScramCredentials",
    "admin.acl": "CreateAcls DescribeAcls DeleteAcls",
    "admin.transactions": "DescribeProducers DescribeTransactions ListTransactions",
}
RETRIABLE = {14, 15, 16, 51}  # COORDINATOR_LOAD_IN_PROGRESS/NOT_AVAILABLE, NOT_COORDINATOR,
#                               CONCURRENT_TRANSACTIONS: a young Kafka's coordinators


def api(name: str):
    import importlib
    module = next(m for m, names in _MODULES.items() if name in names.split())
    m = importlib.import_module(f"kafka.protocol.{module}")
    return getattr(m, f"{name}Request"), getattr(m, f"{name}Response")


UNSUPPORTED = "unsupported"  # the outcome of an API the broker does not advertise (`optional`)


def call(c: RawClient, name: str, retry: bool = False, optional: bool = False, **fields):
    """One request of the matrix's version; with `retry`, again while a coordinator is still
    loading (only for calls that are expected to succeed). With `optional`, an API the broker
    does not advertise gives UNSUPPORTED instead of failing the test."""
    version = MATRIX_VERSIONS[name]
    lo, hi = c.versions.get(api(name)[0].API_KEY, (0, -1))
    if optional and hi < 0:
        return UNSUPPORTED
    assert lo <= version <= hi, f"{name} v{version} not in the broker's {lo}-{hi}"
    deadline = time.monotonic() + 60
    while True:
        r = c.call(*api(name), version, **fields)
        if not retry or not set(error_codes(r)) & RETRIABLE or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def matrix_scenario(sasl: str) -> dict:
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType,
                                       ResourcePatternType, ResourceType)
    admin_conf = sasl_client(sasl, "admin", "admin-secret")
    for t in ("x-topic", "y-topic", "z-topic", "z-del"):
        create_topic(admin_conf, t)
    allow = AclPermissionType.ALLOW
    prefixed, literal = ResourcePatternType.PREFIXED, ResourcePatternType.LITERAL
    grants = [AclBinding(ResourceType.TOPIC, "x-", prefixed, "User:alice", "*", op, allow)
              for op in (AclOperation.READ, AclOperation.WRITE)]
    grants += [AclBinding(ResourceType.GROUP, "x-", prefixed, "User:alice", "*", op, allow)
               for op in (AclOperation.READ, AclOperation.DELETE)]
    grants.append(AclBinding(ResourceType.GROUP, "x-g", literal, "User:carol", "*",
                             AclOperation.DESCRIBE, allow))
    grants += [AclBinding(ResourceType.TRANSACTIONAL_ID, "x-", prefixed, user, "*",
                          AclOperation.WRITE, allow) for user in ("User:alice", "User:carol")]
    grants += [AclBinding(ResourceType.BROKER, "kafka-cluster", literal, "User:carol", "*", op,
                          allow)
               for op in (AclOperation.IDEMPOTENT_WRITE, AclOperation.DESCRIBE,
                          AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS)]
    # dave: the topic-admin operations on topics `z-*` and ALTER on the cluster.
    grants += [AclBinding(ResourceType.TOPIC, "z-", prefixed, "User:dave", "*", op, allow)
               for op in (AclOperation.CREATE, AclOperation.DELETE, AclOperation.ALTER,
                          AclOperation.ALTER_CONFIGS)]
    grants.append(AclBinding(ResourceType.BROKER, "kafka-cluster", literal, "User:dave", "*",
                             AclOperation.ALTER, allow))
    a = AdminClient(admin_conf)
    for f in a.create_acls(grants).values():
        f.result(timeout=30)
    time.sleep(2)  # Kafka's authorizer learns new ACLs from its metadata log asynchronously

    admin = RawClient(sasl, "admin", "admin-secret")
    alice = RawClient(sasl, "alice", "alice-secret")
    bob = RawClient(sasl, "bob", "bob-secret")
    carol = RawClient(sasl, "carol", "carol-secret")
    dave = RawClient(sasl, "dave", "dave-secret")
    # Warm Kafka's coordinators up as the super user, so that only authorization differs below.
    call(admin, "FindCoordinator", retry=True, key="x-warm", key_type=0)
    call(admin, "FindCoordinator", retry=True, key="x-warm", key_type=1)
    warm = call(admin, "InitProducerId", retry=True, transactional_id="x-warm",
                transaction_timeout_ms=60000, producer_id=-1, producer_epoch=-1)
    assert warm.error_code == 0, warm
    node = call(admin, "Metadata", topics=[], allow_auto_topic_creation=False,
                include_topic_authorized_operations=False).brokers[0].node_id

    out = {}

    def record(label, r, codes=None):
        out[label] = r if r is UNSUPPORTED else error_codes(r) if codes is None else codes

    # --- Group membership: alice runs a generation of group x-g; bob and carol try each step.
    join = dict(group_id="x-g", session_timeout_ms=30000, rebalance_timeout_ms=30000,
                group_instance_id=None, protocol_type="consumer",
                protocols=[{"name": "range", "metadata": b""}])
    for who, c in (("bob", bob), ("carol", carol)):
        record(f"{who} JoinGroup", call(c, "JoinGroup", member_id="", **join))
    first = call(alice, "JoinGroup", retry=True, member_id="", **join)
    out["alice JoinGroup (first)"] = error_codes(first)  # MEMBER_ID_REQUIRED
    joined = call(alice, "JoinGroup", retry=True, member_id=first.member_id, **join)
    record("alice JoinGroup", joined)
    member, generation = joined.member_id, joined.generation_id
    sync = dict(group_id="x-g", generation_id=generation, member_id=member,
                group_instance_id=None, assignments=[{"member_id": member, "assignment": b""}])
    record("bob SyncGroup", call(bob, "SyncGroup", **sync))
    record("alice SyncGroup", call(alice, "SyncGroup", **sync))
    beat = dict(group_id="x-g", generation_id=generation, member_id=member,
                group_instance_id=None)
    record("bob Heartbeat", call(bob, "Heartbeat", **beat))
    record("alice Heartbeat", call(alice, "Heartbeat", **beat))

    def commit(topic):
        return dict(group_id="x-g", generation_id_or_member_epoch=generation, member_id=member,
                    group_instance_id=None, topics=[{"name": topic, "partitions": [
                        {"partition_index": 0, "committed_offset": 0,
                         "committed_leader_epoch": -1, "committed_metadata": ""}]}])
    for who, c in (("bob", bob), ("carol", carol), ("alice", alice)):
        record(f"{who} OffsetCommit", call(c, "OffsetCommit", **commit("x-topic")))
    record("alice OffsetCommit y-topic", call(alice, "OffsetCommit", **commit("y-topic")))
    for who, c in (("bob", bob), ("carol", carol), ("alice", alice)):
        record(f"{who} OffsetFetch", call(c, "OffsetFetch", group_id="x-g", require_stable=False,
                                          topics=[{"name": "x-topic", "partition_indexes": [0]}]))
    record("alice OffsetFetch y-topic", call(
        alice, "OffsetFetch", group_id="x-g", require_stable=False,
        topics=[{"name": "y-topic", "partition_indexes": [0]}]))
    for who, c in (("bob", bob), ("carol", carol), ("alice", alice)):
        record(f"{who} DescribeGroups", call(c, "DescribeGroups", groups=["x-g"],
                                             include_authorized_operations=False))
    for who, c in (("bob", bob), ("carol", carol), ("alice", alice)):
        r = call(c, "ListGroups")
        record(f"{who} ListGroups", r, error_codes(r) + [
            "x-g" in {g.group_id for g in r.groups}])
    leave = dict(group_id="x-g", members=[{"member_id": member, "group_instance_id": None}])
    record("bob LeaveGroup", call(bob, "LeaveGroup", **leave))
    record("alice LeaveGroup", call(alice, "LeaveGroup", **leave))

    def offset_delete(topic):
        return dict(group_id="x-g", topics=[{"name": topic, "partitions": [
            {"partition_index": 0}]}])
    record("bob OffsetDelete", call(bob, "OffsetDelete", **offset_delete("x-topic")))
    record("alice OffsetDelete y-topic", call(alice, "OffsetDelete", **offset_delete("y-topic")))
    record("alice OffsetDelete", call(alice, "OffsetDelete", **offset_delete("x-topic")))
    record("bob DeleteGroups", call(bob, "DeleteGroups", groups_names=["x-g"]))
    record("alice DeleteGroups", call(alice, "DeleteGroups", groups_names=["x-g"]))

    # --- Transactions: alice runs one on x-txn; carol's stops at the topic or group check.
    for who, c in (("bob", bob), ("alice", alice)):
        record(f"{who} FindCoordinator txn", call(c, "FindCoordinator", key="x-txn", key_type=1))
    record("bob FindCoordinator group", call(bob, "FindCoordinator", key="x-g", key_type=0))
    init = dict(transaction_timeout_ms=60000, producer_id=-1, producer_epoch=-1)
    record("bob InitProducerId txn", call(bob, "InitProducerId", transactional_id="x-txn", **init))
    txn = {}
    for who, c, tid in (("alice", alice, "x-txn"), ("carol", carol, "x-carol")):
        r = call(c, "InitProducerId", retry=True, transactional_id=tid, **init)
        record(f"{who} InitProducerId txn", r)
        txn[who] = dict(transactional_id=tid, producer_id=r.producer_id,
                        producer_epoch=r.producer_epoch)
    for who, c in (("bob", bob), ("carol", carol), ("alice", alice)):
        record(f"{who} InitProducerId idempotent",
               call(c, "InitProducerId", retry=True, transactional_id=None, **init))

    def add_partitions(t, topic):
        return dict(v3_and_below_transactional_id=t["transactional_id"],
                    v3_and_below_producer_id=t["producer_id"],
                    v3_and_below_producer_epoch=t["producer_epoch"],
                    v3_and_below_topics=[{"name": topic, "partitions": [0]}])
    record("bob AddPartitionsToTxn", call(bob, "AddPartitionsToTxn",
                                          **add_partitions(txn["alice"], "x-topic")))
    record("carol AddPartitionsToTxn", call(carol, "AddPartitionsToTxn",
                                            **add_partitions(txn["carol"], "x-topic")))
    record("alice AddPartitionsToTxn", call(alice, "AddPartitionsToTxn", retry=True,
                                            **add_partitions(txn["alice"], "x-topic")))
    record("bob AddOffsetsToTxn", call(bob, "AddOffsetsToTxn", group_id="x-g2", **txn["alice"]))
    record("carol AddOffsetsToTxn", call(carol, "AddOffsetsToTxn", group_id="x-g2",
                                         **txn["carol"]))
    record("alice AddOffsetsToTxn", call(alice, "AddOffsetsToTxn", retry=True, group_id="x-g2",
                                         **txn["alice"]))

    def txn_commit(t, topic):
        return dict(group_id="x-g2", generation_id=-1, member_id="", group_instance_id=None,
                    topics=[{"name": topic, "partitions": [
                        {"partition_index": 0, "committed_offset": 0,
                         "committed_leader_epoch": -1, "committed_metadata": ""}]}], **t)
    record("bob TxnOffsetCommit", call(bob, "TxnOffsetCommit",
                                       **txn_commit(txn["alice"], "x-topic")))
    record("carol TxnOffsetCommit", call(carol, "TxnOffsetCommit",
                                         **txn_commit(txn["carol"], "x-topic")))
    record("alice TxnOffsetCommit y-topic", call(alice, "TxnOffsetCommit",
                                                 **txn_commit(txn["alice"], "y-topic")))
    record("alice TxnOffsetCommit", call(alice, "TxnOffsetCommit", retry=True,
                                         **txn_commit(txn["alice"], "x-topic")))
    for who, c in (("bob", bob), ("alice", alice)):
        record(f"{who} DescribeTransactions", call(c, "DescribeTransactions",
                                                   transactional_ids=["x-txn"]))
        r = call(c, "ListTransactions", state_filters=[], producer_id_filters=[])
        record(f"{who} ListTransactions", r, error_codes(r) + [
            "x-txn" in {s.transactional_id for s in r.transaction_states}])
        record(f"{who} DescribeProducers", call(c, "DescribeProducers", topics=[
            {"name": "x-topic", "partition_indexes": [0]}]))
    record("bob EndTxn", call(bob, "EndTxn", committed=True, **txn["alice"]))
    record("alice EndTxn", call(alice, "EndTxn", retry=True, committed=True, **txn["alice"]))

    # --- Cluster-level: bob has nothing, carol DESCRIBE, DESCRIBE_CONFIGS and ALTER_CONFIGS.
    for who, c in (("bob", bob), ("carol", carol)):
        record(f"{who} DescribeConfigs broker", call(
            c, "DescribeConfigs", include_synonyms=False, include_documentation=False,
            resources=[{"resource_type": 4, "resource_name": str(node),
                        "configuration_keys": ["log.retention.ms"]}]))
        record(f"{who} IncrementalAlterConfigs broker", call(
            c, "IncrementalAlterConfigs", validate_only=True, resources=[
                {"resource_type": 4, "resource_name": str(node), "configs": [
                    {"name": "log.cleaner.threads", "config_operation": 0, "value": "1"}]}]))
        record(f"{who} DescribeCluster", call(c, "DescribeCluster",
                                              include_cluster_authorized_operations=False,
                                              endpoint_type=1))
        r = call(c, "DescribeLogDirs", topics=None)
        record(f"{who} DescribeLogDirs", r, [r.error_code])
        record(f"{who} ListPartitionReassignments", call(c, "ListPartitionReassignments",
                                                         timeout_ms=10000, topics=None))
        record(f"{who} DescribeClientQuotas", call(c, "DescribeClientQuotas", components=[],
                                                   strict=False))
        # Named users: a refused describe-all (users null) makes Kafka 4.4 fail with a
        # NullPointerException and send no answer at all.
        record(f"{who} DescribeUserScramCredentials", call(c, "DescribeUserScramCredentials",
                                                           users=[{"name": "alice"}]))
        record(f"{who} ElectLeaders", call(c, "ElectLeaders", election_type=0, timeout_ms=10000,
                                           topic_partitions=[{"topic": "x-topic",
                                                              "partitions": [0]}]))
    # ALTER on the cluster: only the super user (one broker: no election is needed).
    record("admin ElectLeaders", call(admin, "ElectLeaders", election_type=0, timeout_ms=10000,
                                      topic_partitions=[{"topic": "x-topic", "partitions": [0]}]))

    # --- Topic administration: bob nothing, alice READ/WRITE on `x-*` (no admin operation),
    # dave CREATE, DELETE, ALTER and ALTER_CONFIGS on `z-*`.
    def create_topics(name):
        return dict(timeout_ms=10000, validate_only=False, topics=[
            {"name": name, "num_partitions": 1, "replication_factor": 1, "assignments": [],
             "configs": []}])
    for who, c, name in (("bob", bob, "z-new-bob"), ("alice", alice, "x-new"),
                         ("bob", bob, "z-topic"), ("dave", dave, "z-topic"),
                         ("dave", dave, "z-new")):
        r = call(c, "CreateTopics", **create_topics(name))
        t = r.topics[0]
        record(f"{who} CreateTopics {name}", r, error_codes(r) + [
            t.num_partitions, t.replication_factor, bool(t.configs)])

    def create_partitions(name):
        return dict(timeout_ms=10000, validate_only=False, topics=[
            {"name": name, "count": 2, "assignments": None}])
    for who, c, name in (("bob", bob, "z-topic"), ("alice", alice, "x-topic"),
                         ("bob", bob, "z-missing"), ("dave", dave, "z-missing"),
                         ("dave", dave, "z-topic")):
        record(f"{who} CreatePartitions {name}",
               call(c, "CreatePartitions", **create_partitions(name)))

    def delete_records(name):
        return dict(timeout_ms=10000, topics=[
            {"name": name, "partitions": [{"partition_index": 0, "offset": 0}]}])
    for who, c, name in (("bob", bob, "z-topic"), ("alice", alice, "x-topic"),
                         ("dave", dave, "z-topic")):
        r = call(c, "DeleteRecords", **delete_records(name))
        record(f"{who} DeleteRecords {name}", r, error_codes(r) + [
            p.low_watermark for t in r.topics for p in t.partitions])

    def alter_configs(rtype, name, key, value):
        return dict(validate_only=True, resources=[
            {"resource_type": rtype, "resource_name": name,
             "configs": [{"name": key, "value": value}]}])
    for who, c, name in (("bob", bob, "z-topic"), ("alice", alice, "x-topic"),
                         ("carol", carol, "z-topic"), ("dave", dave, "z-topic")):
        record(f"{who} AlterConfigs topic {name}",
               call(c, "AlterConfigs", **alter_configs(2, name, "retention.ms", "3600000")))
        record(f"{who} IncrementalAlterConfigs topic {name}", call(
            c, "IncrementalAlterConfigs", validate_only=True, resources=[
                {"resource_type": 2, "resource_name": name, "configs": [
                    {"name": "retention.ms", "config_operation": 0, "value": "3600000"}]}]))
    for who, c in (("bob", bob), ("dave", dave), ("carol", carol)):
        record(f"{who} AlterConfigs broker", call(
            c, "AlterConfigs", **alter_configs(4, str(node), "log.cleaner.threads", "1")))

    def delete_topics(name):
        return dict(timeout_ms=10000, topics=[{"name": name, "topic_id": None}])
    for who, c, name in (("bob", bob, "z-del"), ("alice", alice, "x-topic"),
                         ("bob", bob, "z-gone"), ("dave", dave, "z-gone"),
                         ("dave", dave, "z-del")):
        record(f"{who} DeleteTopics {name}", call(c, "DeleteTopics", **delete_topics(name)))

    # DescribeLogDirs of one topic: DESCRIBE on the cluster (carol), as a whole.
    for who, c in (("bob", bob), ("carol", carol)):
        r = call(c, "DescribeLogDirs", topics=[{"topic": "x-topic", "partitions": [0]}])
        record(f"{who} DescribeLogDirs x-topic", r, error_codes(r) + [sorted(
            (t.name, p.partition_index) for d in r.results for t in d.topics
            for p in t.partitions)])

    # --- Cluster ALTER: ACLs, reassignments, features, SCRAM credentials (dave), and
    # ALTER_CONFIGS for client quotas (carol).
    creation = {"resource_type": 2, "resource_name": "q-topic", "resource_pattern_type": 3,
                "principal": "User:nobody", "host": "*", "operation": 3, "permission_type": 3}
    for who, c in (("bob", bob), ("carol", carol), ("dave", dave)):
        record(f"{who} CreateAcls", call(c, "CreateAcls", creations=[creation]))
    for who, c in (("bob", bob), ("alice", alice), ("carol", carol)):
        r = call(c, "DescribeAcls", resource_type_filter=1, resource_name_filter=None,
                 pattern_type_filter=1, principal_filter="User:carol", host_filter=None,
                 operation=1, permission_type=1)
        record(f"{who} DescribeAcls", r, error_codes(r) + [sorted(
            (res.resource_type, res.resource_name, res.pattern_type, a.operation)
            for res in r.resources for a in res.acls)])
    deletion = {"resource_type_filter": 2, "resource_name_filter": "q-topic",
                "pattern_type_filter": 3, "principal_filter": "User:nobody", "host_filter": None,
                "operation": 3, "permission_type": 3}
    for who, c in (("bob", bob), ("carol", carol), ("dave", dave)):
        r = call(c, "DeleteAcls", filters=[deletion])
        record(f"{who} DeleteAcls", r, error_codes(r) + [
            len(f.matching_acls) for f in r.filter_results])
    quota = dict(validate_only=True, entries=[
        {"entity": [{"entity_type": "user", "entity_name": "alice"}],
         "ops": [{"key": "producer_byte_rate", "value": 1048576.0, "remove": False}]}])
    for who, c in (("bob", bob), ("dave", dave), ("carol", carol)):
        record(f"{who} AlterClientQuotas", call(c, "AlterClientQuotas", **quota))
    upsert = {"name": "erin", "mechanism": 1, "iterations": 4096, "salt": b"s" * 16,
              "salted_password": b"p" * 32}
    for who, c in (("bob", bob), ("carol", carol), ("dave", dave)):
        record(f"{who} AlterUserScramCredentials", call(
            c, "AlterUserScramCredentials", deletions=[], upsertions=[upsert]))
    for who, c in (("bob", bob), ("carol", carol), ("dave", dave)):
        record(f"{who} AlterPartitionReassignments", call(
            c, "AlterPartitionReassignments", optional=True, timeout_ms=10000, topics=[
                {"name": "x-topic", "partitions": [{"partition_index": 0,
                                                    "replicas": [node]}]}]))
        record(f"{who} UpdateFeatures", call(
            c, "UpdateFeatures", optional=True, timeout_ms=10000, validate_only=True,
            feature_updates=[{"feature": "group.version", "max_version_level": 1,
                              "upgrade_type": 1}]))
    for c in (admin, alice, bob, carol, dave):
        c.close()
    return out


# Where Vltava is known to answer otherwise than Kafka 4.4: left out of the comparison above and
# checked (strict xfail) below, so a fix shows as an XPASS. Label → the reason.
_NO_REASSIGN = ("Vltava does not implement AlterPartitionReassignments (key 45, not in its "
                "ApiVersions); Kafka 4.4 checks ALTER on the cluster")
_NO_FEATURES = ("Vltava does not implement UpdateFeatures (key 57, not in its ApiVersions); "
                "Kafka 4.4 checks ALTER on the cluster")
KNOWN_DIFFERENCES = {
    **{f"{who} AlterPartitionReassignments": _NO_REASSIGN for who in ("bob", "carol", "dave")},
    **{f"{who} UpdateFeatures": _NO_FEATURES for who in ("bob", "carol", "dave")},
}
_MATRIX = {}  # (vltava, kafka) outcomes of the run above, for the known differences


def test_group_txn_and_cluster_denials_match_real_kafka(secured_kafka, broker_factory):
    vltava = broker_factory(listeners=["SASL_PLAINTEXT"], overrides={
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": SUPER_USERS,
    })
    theirs = matrix_scenario(secured_kafka)
    ours = matrix_scenario(vltava.bootstrap_of("SASL_PLAINTEXT"))
    _MATRIX.update({k: (ours.get(k), theirs.get(k)) for k in theirs.keys() | ours.keys()})
    differ = {k: (ours.get(k), theirs.get(k)) for k in theirs.keys() | ours.keys()
              if ours.get(k) != theirs.get(k) and k not in KNOWN_DIFFERENCES}
    assert not differ, f"(vltava, kafka) where they differ: {differ}\nkafka: {theirs}"
    # The matrix does tell granted from refused, with Kafka's codes.
    assert theirs["bob JoinGroup"] == [30] and theirs["alice JoinGroup"] == [0]
    assert theirs["bob InitProducerId txn"] == [53] and theirs["alice InitProducerId txn"] == [0]
    assert theirs["bob InitProducerId idempotent"] == [31]
    assert theirs["carol InitProducerId idempotent"] == [0]
    assert theirs["carol AddOffsetsToTxn"] == [30] and theirs["alice EndTxn"] == [0]
    assert theirs["bob DescribeConfigs broker"] == [31]
    assert theirs["bob CreatePartitions z-topic"] == [29]
    assert theirs["dave CreatePartitions z-topic"] == [0]
    assert theirs["dave CreatePartitions z-missing"] == [3]
    assert theirs["bob DeleteTopics z-gone"] == [29] and theirs["dave DeleteTopics z-del"] == [0]
    assert theirs["bob AlterConfigs broker"] == [31] and theirs["carol AlterConfigs broker"] == [0]
    assert theirs["carol CreateAcls"] == [31] and theirs["dave CreateAcls"] == [0]
    assert theirs["dave AlterClientQuotas"] == [31] and theirs["carol AlterClientQuotas"] == [0]
    assert theirs["dave AlterUserScramCredentials"] == [0]


@pytest.mark.parametrize("label", sorted(KNOWN_DIFFERENCES))
def test_known_difference(label):
    if label not in _MATRIX:
        pytest.skip("the matrix did not run")
    ours, theirs = _MATRIX[label]
    if ours != theirs:
        pytest.xfail(f"{KNOWN_DIFFERENCES[label]} (vltava {ours}, kafka {theirs})")
