"""Consumer groups with the Java client (kafka-clients 4.3, the classic protocol that every
kafka-console-consumer and Spring app uses): several consumer processes in one group share a
topic's partitions, rebalance when one joins or is killed -9, and lose nothing; two groups each get
every record; a restarted static member keeps its partitions without a rebalance.

Session timeouts are the broker's minimum (6 s) so a killed member is noticed quickly; the
first-join measurement uses Java's defaults."""
import time

import pytest

from conftest import unique_topic
from groups_support import (JavaMember, assignment_complete, consumed_values, create_topic,
                            group_admin, produce_values, wait_until)
from test_java import java_cp  # noqa: F401  (session fixture: compiles the Java programs)

SESSION_MS = 6000
FAST = [f"session.timeout.ms={SESSION_MS}", "heartbeat.interval.ms=1000"]


@pytest.fixture
def members():
    started: list[JavaMember] = []
    yield started
    for m in started:
        if m.alive():
            m.proc.kill()
            m.proc.wait(10)


def test_first_join_with_java_defaults(broker, java_cp, tmp_path, members):
    """A lone member with Java's defaults gets every partition on its first join. How long that
    took is printed, not asserted (timing must not decide a test on a shared machine)."""
    topic = unique_topic("first-join")
    create_topic(broker, topic, 3)
    m = JavaMember(java_cp, broker, topic, "first-join-group", "solo", tmp_path)
    members.append(m)
    wait_until(lambda: m.owned() == {0, 1, 2}, 60, "the first assignment", [m])
    ms = m.first_join_ms()
    print(f"FIRST JOIN with Java defaults: {ms} ms (subscribe -> onPartitionsAssigned)")
    assert ms is not None, "the member reported its first assignment"
    m.stop()


@pytest.mark.slow
def test_members_share_partitions_rebalance_and_survive_kill9(broker, java_cp, tmp_path, members):
    topic = unique_topic("group-split")
    group = "split-group"
    create_topic(broker, topic, 6)
    produce_values(broker, topic, 0, 3000, 6)

    first = [JavaMember(java_cp, broker, topic, group, f"c{i}", tmp_path, *FAST) for i in (1, 2, 3)]
    members.extend(first)
    wait_until(lambda: assignment_complete(first, 6) and all(len(m.owned()) == 2 for m in first),
               60, "three members with two partitions each", first)
    wait_until(lambda: set(consumed_values(first)) == set(range(3000)), 60, "the first 3000 records", first)

    # A fourth member joins: partitions move, nobody is left out (6 over 4).
    fourth = JavaMember(java_cp, broker, topic, group, "c4", tmp_path, *FAST)
    members.append(fourth)
    everyone = first + [fourth]
    wait_until(lambda: assignment_complete(everyone, 6) and all(m.owned() for m in everyone),
               60, "four members sharing six partitions", everyone)
    described = group_admin(java_cp, broker, "describe", group)[0]
    assert described["state"] == "Stable"
    assert described["assignor"] == "range"
    assert sorted(m["client"] for m in described["members"]) == ["c1", "c2", "c3", "c4"]
    assert sorted(p for m in described["members"] for p in m["assignment"]) == \
        sorted(f"{topic}:{p}" for p in range(6))
    for m in described["members"]:
        assert m["host"] == "/127.0.0.1"

    produce_values(broker, topic, 3000, 6000, 6)
    wait_until(lambda: set(consumed_values(everyone)) == set(range(6000)), 60, "records 3000-5999",
               everyone)

    # kill -9 a member: its partitions move to the others within about a session timeout.
    victim = first[1]
    victim_partitions = victim.owned()
    assert victim_partitions
    survivors = [m for m in everyone if m is not victim]
    produce_values(broker, topic, 6000, 7500, 6)  # some of these are read but never committed
    victim.kill9()
    killed_at = time.monotonic()
    wait_until(lambda: assignment_complete(survivors, 6), SESSION_MS / 1000 + 20,
               "the killed member's partitions to move", survivors)
    moved_after = time.monotonic() - killed_at
    print(f"partitions of the killed member moved after {moved_after:.1f} s "
          f"(session.timeout.ms={SESSION_MS})")
    assert moved_after < SESSION_MS / 1000 + 6, f"took {moved_after:.1f} s"
    assert moved_after > SESSION_MS / 1000 - 1.5, "moved before the session could have expired?"

    produce_values(broker, topic, 7500, 9000, 6)
    wait_until(lambda: set(consumed_values(everyone)) == set(range(9000)), 60, "every record",
               everyone)
    for m in survivors:
        m.stop()

    # No loss; repeats only where the killed member had read past its last commit.
    seen = consumed_values(everyone)
    assert set(seen) == set(range(9000))
    repeated = sorted(i for i, n in seen.items() if n > 1)
    outside = [i for i in repeated if i % 6 not in victim_partitions]
    print(f"{len(repeated)} records consumed twice, all from the killed member's partitions "
          f"{sorted(victim_partitions)}")
    assert not outside, f"records repeated outside the killed member's partitions: {outside[:20]}"

    # With everyone gone the group is Empty and its committed offsets are the log end.
    lag = group_admin(java_cp, broker, "offsets", group)
    assert [r["partition"] for r in lag] == list(range(6))
    assert all(r["offset"] == r["end"] == 1500 and r["lag"] == 0 for r in lag), lag
    assert group_admin(java_cp, broker, "describe", group)[0]["state"] == "Empty"


@pytest.mark.slow
def test_two_groups_each_get_everything_and_extra_members_idle(broker, java_cp, tmp_path, members):
    topic = unique_topic("pubsub")
    create_topic(broker, topic, 2)
    a = [JavaMember(java_cp, broker, topic, "pubsub-a", f"a{i}", tmp_path, *FAST) for i in range(3)]
    b = [JavaMember(java_cp, broker, topic, "pubsub-b", "b0", tmp_path, *FAST)]
    members.extend(a + b)
    wait_until(lambda: assignment_complete(a, 2, idle_allowed=1), 60, "group a assigned", a)
    wait_until(lambda: assignment_complete(b, 2), 60, "group b assigned", b)
    idle = [m for m in a if not m.owned()]
    assert len(idle) == 1, "three members, two partitions: one member idles"

    produce_values(broker, topic, 0, 2000, 2)
    wait_until(lambda: set(consumed_values(a)) == set(range(2000)), 60, "group a has everything", a)
    wait_until(lambda: set(consumed_values(b)) == set(range(2000)), 60, "group b has everything", b)
    for m in a + b:
        m.stop()
    for group_members in (a, b):
        seen = consumed_values(group_members)
        assert all(n == 1 for n in seen.values()), "each group reads each record once"
    assert not idle[0].records(), "the idle member got nothing"


@pytest.mark.slow
def test_cooperative_rebalancing_moves_only_what_it_must(broker, java_cp, tmp_path, members):
    topic = unique_topic("coop")
    create_topic(broker, topic, 4)
    coop = FAST + ["partition.assignment.strategy="
                   "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"]
    produce_values(broker, topic, 0, 2000, 4)
    m1 = JavaMember(java_cp, broker, topic, "coop-group", "k1", tmp_path, *coop)
    members.append(m1)
    wait_until(lambda: m1.owned() == {0, 1, 2, 3}, 60, "k1 owns everything", [m1])
    m2 = JavaMember(java_cp, broker, topic, "coop-group", "k2", tmp_path, *coop)
    members.append(m2)
    wait_until(lambda: assignment_complete([m1, m2], 4) and len(m2.owned()) == 2, 60,
               "an incremental hand-over", [m1, m2])
    # Incremental: k1 revoked exactly the two partitions k2 took, and never gave up the rest.
    revoked = [set(map(int, e.split(","))) for _, e in m1.lines("REVOKED") if e]
    assert revoked and set().union(*revoked) == m2.owned(), (revoked, m2.owned())
    described = group_admin(java_cp, broker, "describe", "coop-group")[0]
    assert described["assignor"] == "cooperative-sticky"
    produce_values(broker, topic, 2000, 4000, 4)
    wait_until(lambda: set(consumed_values([m1, m2])) == set(range(4000)), 60, "every record",
               [m1, m2])
    m1.stop()
    m2.stop()


@pytest.mark.slow
def test_restarted_static_member_keeps_its_partitions_without_rebalance(broker, java_cp, tmp_path,
                                                                        members):
    topic = unique_topic("static")
    create_topic(broker, topic, 4)
    props = [f"session.timeout.ms=30000", "heartbeat.interval.ms=1000"]
    s1 = JavaMember(java_cp, broker, topic, "static-group", "s1", tmp_path, *props,
                    "group.instance.id=instance-1")
    s2 = JavaMember(java_cp, broker, topic, "static-group", "s2", tmp_path, *props,
                    "group.instance.id=instance-2")
    members.extend([s1, s2])
    wait_until(lambda: assignment_complete([s1, s2], 4) and s1.owned() and s2.owned(), 60,
               "both static members assigned", [s1, s2])
    before = s1.owned()
    generation = s1.generations()[-1]
    s2_assignments = len(s2.lines("ASSIGNED"))
    ids_before = {m["instance"]: m["id"] for m in group_admin(java_cp, broker, "describe",
                                                              "static-group")[0]["members"]}

    s1.kill9()
    again = JavaMember(java_cp, broker, topic, "static-group", "s1-again", tmp_path, *props,
                       "group.instance.id=instance-1")
    members.append(again)
    wait_until(lambda: again.owned() is not None, 60, "the restarted member's assignment", [again])
    assert again.owned() == before, "same partitions as before the restart"
    assert again.generations() == [generation], "no new generation"
    time.sleep(2)  # a rebalance would reach s2 through its next heartbeat
    assert len(s2.lines("ASSIGNED")) == s2_assignments, "s2 saw no rebalance"
    described = group_admin(java_cp, broker, "describe", "static-group")[0]
    ids_after = {m["instance"]: m["id"] for m in described["members"]}
    assert described["state"] == "Stable"
    assert ids_after["instance-2"] == ids_before["instance-2"]
    assert ids_after["instance-1"] != ids_before["instance-1"], "a new member id for the restart"
    produce_values(broker, topic, 0, 400, 4)
    wait_until(lambda: set(consumed_values([again, s2])) == set(range(400)), 60, "records", [again, s2])
    again.stop()
    s2.stop()
