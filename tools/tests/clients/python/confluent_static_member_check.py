"""confluent-kafka static membership (KIP-345) against a Brook broker: a member with a
`group.instance.id` that restarts within the session timeout gets its partitions back
with no rebalance; the other member is never revoked.

Usage: confluent_static_member_check.py BOOTSTRAP TOPIC
"""
import sys
import time

from confluent_kafka import Consumer

from confluent_setup import create_topic

bootstrap, topic = sys.argv[1], sys.argv[2]
group = f"group-{topic}"
create_topic(bootstrap, topic, 6)

events = {"a": [], "b": []}


def member(name):
    def on_assign(_, partitions):
        events[name].append(("assign", sorted(p.partition for p in partitions)))

    def on_revoke(_, partitions):
        events[name].append(("revoke", sorted(p.partition for p in partitions)))

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.instance.id": f"instance-{name}",
                  "session.timeout.ms": 30000, "heartbeat.interval.ms": 500, "auto.offset.reset": "earliest"})
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    return c


def poll_until(consumers, condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline and not condition():
        for c in consumers:
            c.poll(0.1)
    return condition()


def assigned(name):
    assigns = [parts for kind, parts in events[name] if kind == "assign"]
    return assigns[-1] if assigns else None


a, b = member("a"), member("b")
assert poll_until([a, b], lambda: assigned("a") and assigned("b") and
                  len(assigned("a")) + len(assigned("b")) == 6, 40), f"no shared assignment: {events}"
# Let the group settle (a rebalance in flight would muddle the check below).
poll_until([a, b], lambda: False, 3)
before_a, before_b = assigned("a"), assigned("b")
events_a = len(events["a"])

b.close()  # a static member sends no LeaveGroup
events["b"] = []
b = member("b")
assert poll_until([a, b], lambda: assigned("b") is not None, 20), "the restarted member got nothing"
poll_until([a, b], lambda: False, 3)
assert assigned("b") == before_b, f"b came back with {assigned('b')}, had {before_b}"
assert events["a"][events_a:] == [], f"a saw a rebalance: {events['a'][events_a:]}"
a.close()
b.close()
print(f"confluent-kafka static member ok: a kept {before_a}, b got {before_b} back with no rebalance")
